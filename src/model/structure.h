/* The network structure: the fixed connectome with its weights, as stored in
 * network_structure.npz (SPEC section 2). Dense, [pre][post] row-major, exactly the file's layout;
 * the simulator builds its sparse rows from it (model/network.h).
 *
 * Loading accepts `weights` as an old name for `recurrent_weights`, any integer dtype for the index
 * arrays, a missing connectivity array (derived as weights != 0), missing assembly_ids (all -1), and
 * both stored and deflated archives. It rejects, naming the file and the array: missing keys, wrong
 * dtypes or shapes, N = 0, N or N_in that disagree between arrays, NaN/inf or negative weights or
 * scaling factors, a weight where the connectivity says there is no synapse, type indices out of
 * range. */
#ifndef SNNFIT_MODEL_STRUCTURE_H
#define SNNFIT_MODEL_STRUCTURE_H

#include <stdint.h>

#include "core/error.h"

typedef struct snn_structure {
    int64_t n;          /* recurrent neurons N */
    int64_t n_in;       /* feedforward inputs N_in */
    float *w;           /* N x N, W[pre][post] >= 0, 0 where no synapse */
    float *w_ff;        /* N_in x N */
    uint8_t *conn;      /* N x N, 0/1 */
    uint8_t *conn_ff;   /* N_in x N, 0/1 */
    int64_t *cell_types;     /* N, index into the recurrent cell type names */
    int64_t *ff_cell_types;  /* N_in, index into the feedforward cell type names */
    int32_t *assembly_ids;   /* N, -1 for none */
    /* learned scaling factors, present in stage outputs (w then holds effective weights) */
    int has_scaling_factors;
    int n_types, n_ff_types;
    double *sf;         /* n_types x n_types, [pre type][post type] */
    double *sf_ff;      /* n_ff_types x n_types */
} snn_structure;

/* Allocates zeroed arrays for n neurons and n_in inputs (assembly ids set to -1). */
int snn_structure_alloc(snn_structure *s, int64_t n, int64_t n_in, snn_error *err);
void snn_structure_free(snn_structure *s);

/* Loads network_structure.npz. n_types / n_ff_types (> 0) bound the type indices; pass 0 to skip
 * that check. */
int snn_structure_load(const char *path, int n_types, int n_ff_types, snn_structure *s, snn_error *err);

/* N and N_in from the headers of the weight arrays alone, without reading them: for the memory
 * estimate of a run before its network is loaded. */
int snn_structure_peek(const char *path, int64_t *n, int64_t *n_in, snn_error *err);

/* Saves with the reference's keys (recurrent_weights f4, feedforward_weights f4,
 * recurrent_connectivity b1, feedforward_connectivity b1, cell_type_indices i8,
 * feedforward_cell_type_indices i8, assembly_ids i4) plus recurrent_scaling_factors and
 * feedforward_scaling_factors (f8) when has_scaling_factors. Atomic. */
int snn_structure_save(const char *path, const snn_structure *s, snn_error *err);

#endif
