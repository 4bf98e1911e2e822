/* Odour firing-rate patterns: one input-rate pattern per assembly (reference generate_odour_firing_rates,
 * inputs-and-data.md section 5). No random numbers are used.
 *
 * For assembly U[p] (the distinct assembly ids >= 0, ascending) the drive of input k is
 * S[p][k] = sum of W_ff[k][j] over the neurons j of that assembly whose cell type is target_type, summed
 * in float32 from 0 in ascending j. That is numpy's order for the reference's W_ff[:, mask].sum(axis=1):
 * boolean indexing returns a Fortran-ordered copy, so the reduction is a running sum, not numpy's
 * pairwise one (checked against numpy 1.24). Near-ties at the cut then fall the same way. Within each feedforward type c (n inputs, odour params b, m, f): the n_up =
 * (int)(n * f) inputs of highest drive get b + m, the others (n*b - n_up*(b+m)) / (n - n_up) (b when
 * n_up == n). Inputs whose type lies outside [0, n_ff_types) keep rate 0.
 *
 * Deliberate differences from the reference: (1) equal drives are ordered by lower input index first
 * (numpy's argsort leaves that order unspecified); (2) a negative down rate (when f*(b+m) > b) is clamped
 * to 0 (the reference stores the negative value, which never spikes either), so then the population mean
 * of that type exceeds b. */
#ifndef SNNFIT_INPUTS_ODOURS_H
#define SNNFIT_INPUTS_ODOURS_H

#include <stdint.h>

#include "core/error.h"
#include "config/params.h"
#include "model/structure.h"

typedef struct snn_odour_network {
    int64_t n_inputs;           /* N_in */
    int64_t n_neurons;          /* N */
    const snn_sparse *ff;       /* N_in x N feedforward weights, [input][neuron] */
    const int64_t *ff_type;     /* N_in: feedforward type of each input */
    const int64_t *cell_type;   /* N: recurrent cell type of each neuron */
    const int32_t *assembly;    /* N: assembly id, -1 = none */
    int64_t target_type;        /* recurrent type whose drive counts (stage 3: 0, excitatory) */
    int n_ff_types;
    /* per feedforward type: its odour params, NULL when the parameter file has none */
    const snn_odour_params *const *odours;
    /* per feedforward type, for messages; may be NULL */
    const char *const *ff_type_names;
} snn_odour_network;

/* Computes the P x N_in patterns (Hz, row p = assembly (*assembly_ids_out)[p]). On success
 * *patterns_out (P * N_in doubles) and *assembly_ids_out (P ints) are allocated with core/mem.h
 * (free with snn_free) and *n_patterns_out = P. Errors: SNN_EINPUT "no assemblies found in
 * assembly_ids", a feedforward type without odour params, bad sizes; SNN_ERUN out of memory. */
int snn_odour_patterns(const snn_odour_network *net, double **patterns_out, int32_t **assembly_ids_out,
                       int *n_patterns_out, snn_error *err);

/* One pattern with every input at its type's baseline rate (0 outside [0, n_ff_types)), written to
 * rates_out (N_in doubles). Errors as above for missing odour params. */
int snn_odour_baseline(int64_t n_inputs, const int64_t *ff_type, int n_ff_types,
                       const snn_odour_params *const *odours, const char *const *ff_type_names,
                       double *rates_out, snn_error *err);

#endif
