/* The network structure: the fixed connectome with its weights, as stored in network_structure.npz
 * (SPEC section 2). Held as compressed sparse rows by presynaptic neuron, so that nothing here is
 * ever N x N: a network costs 8 bytes per synapse (column index, float32 weight) plus 8 per row.
 * A synapse is a stored entry; a stored entry of weight 0 is a synapse (training may grow it), as a
 * connected pair of weight 0 is in a dense file.
 *
 * Files (docs/file-formats.md): each of the two weight matrices may be dense (the reference's
 * `recurrent_weights` N x N float and `recurrent_connectivity` bool, read row block by row block) or
 * sparse (scipy.sparse's CSR layout under the matrix's name: `recurrent_weights_data`, `_indices`,
 * `_indptr`, `_shape`, `_format`). Loading accepts `weights` as an old name for `recurrent_weights`,
 * any integer dtype for the index arrays, a missing connectivity array (derived as weights != 0),
 * missing assembly_ids (all -1), both stored and deflated archives, and unsorted column indices in a
 * sparse row. It rejects, naming the file and the array: missing keys, wrong dtypes or shapes, N = 0, N
 * or N_in that disagree between arrays, NaN/inf or negative weights or scaling factors, a weight where the connectivity says
 * there is no synapse, a column stored twice in a sparse row, type indices out of range. */
#ifndef SNNFIT_MODEL_STRUCTURE_H
#define SNNFIT_MODEL_STRUCTURE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Sparse rows: for source i, targets col[row[i] .. row[i+1]) strictly ascending, weights w (>= 0). */
typedef struct snn_sparse {
    int64_t n_rows, n_cols, nnz;
    int64_t *row;  /* n_rows + 1 */
    int32_t *col;  /* nnz */
    float *w;      /* nnz */
} snn_sparse;

typedef struct snn_structure {
    int64_t n;          /* recurrent neurons N */
    int64_t n_in;       /* feedforward inputs N_in */
    snn_sparse rec;     /* N rows (presynaptic) x N */
    snn_sparse ff;      /* N_in rows x N */
    int64_t *cell_types;     /* N, index into the recurrent cell type names */
    int64_t *ff_cell_types;  /* N_in, index into the feedforward cell type names */
    int32_t *assembly_ids;   /* N, -1 for none */
    /* learned scaling factors, present in stage outputs (the weights then are effective weights) */
    int has_scaling_factors;
    int n_types, n_ff_types;
    double *sf;         /* n_types x n_types, [pre type][post type] */
    double *sf_ff;      /* n_ff_types x n_types */
} snn_structure;

/* ---- sparse rows ---- */

/* Allocates rows x cols with room for nnz entries: row all 0 (every row empty), col and w zeroed;
 * m->nnz = nnz (the caller fills row, col and w). Sizes are checked (cols < 2^31). */
int snn_sparse_alloc(snn_sparse *m, int64_t rows, int64_t cols, int64_t nnz, const char *what, snn_error *err);
void snn_sparse_free(snn_sparse *m);
/* Index of entry (i, j), or -1 when (i, j) is not a synapse (binary search in row i). */
int64_t snn_sparse_find(const snn_sparse *m, int64_t i, int64_t j);
/* From edges (pre[e], post[e], weight w[e]; w may be NULL for zeros) in any order: rows by counting
 * sort, columns ascending within a row (the edges' order kept between equal pairs). A pair given twice
 * is SNN_EINPUT naming it (what names the matrix). */
int snn_sparse_from_edges(snn_sparse *m, int64_t rows, int64_t cols, int64_t nnz, const int32_t *pre,
                          const int32_t *post, const float *w, const char *what, snn_error *err);
/* From a dense rows x cols matrix (small matrices: tests, fixtures): entries where conn != 0, or
 * where w != 0 when conn is NULL. */
int snn_sparse_from_dense(snn_sparse *m, int64_t rows, int64_t cols, const uint8_t *conn, const float *w,
                          snn_error *err);
/* Scatters into dense rows x cols arrays (either may be NULL), which the caller zeroed. */
void snn_sparse_to_dense(const snn_sparse *m, uint8_t *conn, float *w);

/* ---- structures ---- */

/* Allocates n neurons and n_in inputs with nnz_rec and nnz_ff synapse slots (see snn_sparse_alloc),
 * types 0, assembly ids -1, no scaling factors. */
int snn_structure_alloc(snn_structure *s, int64_t n, int64_t n_in, int64_t nnz_rec, int64_t nnz_ff,
                        snn_error *err);
/* A structure from dense arrays (small networks: tests); conn / conn_ff may be NULL (w != 0). Types
 * 0, assembly ids -1. */
int snn_structure_from_dense(snn_structure *s, int64_t n, int64_t n_in, const float *w, const uint8_t *conn,
                             const float *w_ff, const uint8_t *conn_ff, snn_error *err);
void snn_structure_free(snn_structure *s);

/* Loads network_structure.npz. n_types / n_ff_types (> 0) bound the type indices; pass 0 to skip
 * that check. */
int snn_structure_load(const char *path, int n_types, int n_ff_types, snn_structure *s, snn_error *err);

/* How a network file is written. AUTO: dense (the reference's format) unless the two dense matrices
 * would take more than SNN_DENSE_FILE_LIMIT bytes and the sparse file is smaller. */
typedef enum snn_net_format { SNN_NET_AUTO, SNN_NET_DENSE, SNN_NET_SPARSE } snn_net_format;
#define SNN_DENSE_FILE_LIMIT ((uint64_t)256 << 20)

/* Bytes of the weight and connectivity arrays in the dense and in the sparse file. */
uint64_t snn_structure_dense_bytes(const snn_structure *s);
uint64_t snn_structure_sparse_bytes(const snn_structure *s);
/* The format AUTO picks for s (DENSE or SPARSE). */
snn_net_format snn_structure_auto_format(const snn_structure *s);

/* Dense: the reference's keys (recurrent_weights f4, feedforward_weights f4, recurrent_connectivity
 * b1, feedforward_connectivity b1) generated row by row from the sparse rows, so the file is
 * byte-identical to one saved from dense arrays and no N x N buffer exists. Sparse: per matrix
 * `<name>_data` f4, `_indices` i4, `_indptr` i8, `_shape` i8 (2), `_format` b"csr". Both: plus
 * cell_type_indices i8, feedforward_cell_type_indices i8, assembly_ids i4, and
 * recurrent_scaling_factors and feedforward_scaling_factors (f8) when has_scaling_factors. Atomic. */
int snn_structure_save_as(const char *path, const snn_structure *s, snn_net_format format, snn_error *err);
/* snn_structure_save_as(path, s, SNN_NET_AUTO, err): every network file a command writes. */
/* N, N_in and the synapses of the two matrices from the array headers alone, without reading the
 * weights: for the memory estimate of a run before its network is loaded. A sparse matrix's count is
 * exact; a dense one's is rows x cols (an upper bound). */
int snn_structure_peek(const char *path, int64_t *n, int64_t *n_in, int64_t *nnz, int64_t *nnz_ff, snn_error *err);

/* Saves with the reference's keys (recurrent_weights f4, feedforward_weights f4,
 * recurrent_connectivity b1, feedforward_connectivity b1, cell_type_indices i8,
 * feedforward_cell_type_indices i8, assembly_ids i4) plus recurrent_scaling_factors and
 * feedforward_scaling_factors (f8) when has_scaling_factors. Atomic. */
int snn_structure_save(const char *path, const snn_structure *s, snn_error *err);

#endif
