/* Synthetic connectome generation (stage 1 and the stage-2 initial network), reproducing the
 * reference's numpy-driven generator bit for bit: the same parameter file and seed give the same cell
 * types, adjacency and weights (float64 draws cast to float32) as the Python pipeline.
 *
 * Algorithm and random-number order (reference/inputs-and-data.md section 4): one numpy legacy
 * MT19937 seeded with [simulation] seed draws, in order,
 *   1. recurrent cell types (global shuffle, or balanced per assembly),
 *   2. the recurrent configuration-model graph: within-assembly blocks (a ascending), then the
 *      between-assembly blocks (a_s, a_t) row-major skipping a_s == a_t; inside each block the type
 *      pairs row-major [source type][target type],
 *   3. one log-normal per entry of the dense N x N grid in C order (edge or not),
 *   4. feedforward cell types (global shuffle, drawn even for a single type),
 *   5. the feedforward configuration graph (duplicates repaired, no self-loop test),
 *   6. one log-normal per entry of the dense N_in x N grid.
 * The reference's quirks that shape the stream are kept: between-assembly blocks forbid the pairs
 * (a_s*S + k -> a_t*S + k) (its self-loop test compares local positions), the duplicate/self-loop
 * repair swaps with randint, and weights use the "linear" parameters (w_mu = mean, w_sigma =
 * VARIANCE of the weights).
 *
 * Deliberate differences:
 *  - An impossible block (more edges than allowed pairs, or a repair that stops making progress
 *    (see the cap below), e.g. a single stub pair that is a self-loop, or a block too dense for the
 *    random repair) is SNN_EINPUT naming the block (layer, source and target type, assembly pair);
 *    the reference loops forever. A complete block (edges = allowed pairs, e.g. p = 1 feedforward)
 *    whose repair stalls is filled with every allowed pair (the only possible result); the stream
 *    then differs from the reference's, which would not terminate in practice.
 *  - N not divisible by A (S = N / A, n_used = S * A, R = N - n_used tail neurons): the output still
 *    covers all N neurons and the tail neurons get assembly -1. Cell types: unbalanced - the global shuffle covers all
 *    N (as the reference); balanced - assemblies as the reference, then the tail gets the counts each
 *    type still has left (ascending types, truncated to R), shuffled. Connections: after the reference's
 *    blocks (and before the weights) the tail is wired with conn_between as one more pseudo-assembly:
 *    tail -> tail (no self-loops), then for a = 0..A-1: a -> tail, tail -> a (no pair excluded). With
 *    N % A == 0 nothing of this draws, so the stream equals the reference's.
 *  - num_assemblies = 0: the layer is one block with conn_within (conn_between if only it is given),
 *    assembly ids all -1, and balanced types fall back to the global shuffle (the reference crashes).
 * Kept on purpose (part of the stream): balanced types count over the unshuffled, truncated base
 * array and type 0 pads each assembly, so e.g. N = 203, A = 4 gives 41 E + 9 I per assembly.
 *  - A seed must be in [0, 2^32 - 1], as numpy's legacy seeding requires. */
#ifndef SNNFIT_MODEL_CONNECTOME_H
#define SNNFIT_MODEL_CONNECTOME_H

#include <stdint.h>

#include "core/error.h"
#include "core/nprandom.h"
#include "config/params.h"
#include "model/structure.h"

/* Repair cap. A repair pass that does not lower the best count of bad stubs (self-loops and
 * duplicates) so far is stalled; a stall of at least SNN_CONFIG_STALL_PASSES passes and
 * SNN_CONFIG_STALL_WORK stub visits (passes x edges) ends the block: an error, or for a complete
 * block (edges = allowed pairs) every allowed pair filled in, its only possible result. Blocks of
 * density above about 0.5 settle at an equilibrium of bad stubs and never finish in the reference. */
#define SNN_CONFIG_STALL_PASSES 100
#define SNN_CONFIG_STALL_WORK 50000000

/* Generates the connectome of p->rec / p->ff (topology and weights sections must be present):
 * balanced_types = 0: recurrent cell types shuffled globally (stage 1), 1: balanced per assembly
 * (stage 2). Seeds a numpy-compatible MT19937 with p->sim.seed and draws in the reference order.
 * On success out holds freshly allocated arrays (free with snn_structure_free, or free() each array);
 * has_scaling_factors = 0. On failure out is left empty (all pointers NULL). */
int snn_connectome_generate(const snn_params *p, int balanced_types, snn_structure *out, snn_error *err);

/* The same, drawing from rng as it stands (the caller seeds it); rng is left after the last draw. */
int snn_connectome_generate_rng(const snn_params *p, int balanced_types, snn_nprandom *rng,
                                snn_structure *out, snn_error *err);

/* Names used in the messages about a block: where (e.g. "recurrent, assembly 0 -> 1") and the type
 * names of the two sides (NULL: "type <index>"). */
typedef struct snn_graph_names {
    const char *where;
    const char (*src)[SNN_NAME_MAX];
    const char (*tgt)[SNN_NAME_MAX];
} snn_graph_names;

/* Scratch buffers reused across blocks; start zeroed, release with snn_graph_work_free. */
typedef struct snn_graph_work {
    int64_t *is, *it, *a, *b, *out, *in, *bad;
    int64_t cap_s, cap_t, cap_e, cap_bad;
    int64_t *hkeys;
    uint32_t *hstamp;
    uint32_t stamp;
    int64_t hcap;
} snn_graph_work;

void snn_graph_work_free(snn_graph_work *w);

/* Edges appended by the graph generators (global source and target indices). */
typedef struct snn_edges {
    int64_t n, cap;
    int32_t *pre, *post;
} snn_edges;

void snn_edges_free(snn_edges *e);

/* Cell types of n neurons from proportions (sum 1 within 1e-6): counts round-half-even(n * p[i]) for
 * i < T-1, the last type takes the rest. num_assemblies = 0: the ascending base array shuffled as a
 * whole; > 0: balanced per assembly (each type's count / A per assembly, type 0 pads, each assembly's
 * slice shuffled; tail as described above). layer names the parameter table in messages. */
int snn_cell_types_assign(snn_nprandom *rng, int64_t n, int n_types, const double *proportion,
                          int num_assemblies, const char *layer, int64_t *types, snn_error *err);

/* The reference's sparse_graph_generator (configuration model) on the source types src[n_s] and
 * target types tgt[n_t]: for each type pair with conn > 0, exactly round-half-even(p*|Is|*|It|)
 * distinct edges (i local source position, j local target position), appended to edges as
 * (src0 + i, tgt0 + j) in the order the reference would set them; with allow_self_loops = 0, no edge
 * i == j (local positions). */
int snn_configuration_graph(snn_nprandom *rng, const int64_t *src, int64_t n_s, int n_src_types,
                            const int64_t *tgt, int64_t n_t, int n_tgt_types,
                            const double conn[SNN_MAX_TYPES][SNN_MAX_TYPES], int allow_self_loops,
                            snn_edges *edges, int64_t src0, int64_t tgt0, const snn_graph_names *names,
                            snn_graph_work *work, snn_error *err);

/* The reference's assembly_generator with the configuration model on one layer of n neurons
 * (types[n] < n_types): appends the layer's edges to edges and fills assembly_ids[n]; A =
 * num_assemblies (0: one block, see above). layer names the layer in messages. */
int snn_assembly_graph(snn_nprandom *rng, const int64_t *types, int64_t n, int n_types,
                       int num_assemblies, const double within[SNN_MAX_TYPES][SNN_MAX_TYPES],
                       const double between[SNN_MAX_TYPES][SNN_MAX_TYPES],
                       const char (*type_names)[SNN_NAME_MAX], const char *layer, snn_edges *edges,
                       int32_t *assembly_ids, snn_graph_work *work, snn_error *err);

/* Log-normal parameters from the linear mean and variance: m = max(mean, DBL_EPSILON),
 * s2 = log(1 + max(variance / m^2, 0)), mu = log(m) - s2 / 2, sigma = sqrt(s2). */
void snn_lognormal_params(double mean, double variance, double *mu, double *sigma);

/* The reference's assign_weights_lognormal in "linear" space: one lognormal draw per entry of the
 * rows x cols grid of m in C order, of which the synapses of m keep theirs: m->w[e] = (float)draw
 * (the others are skipped without being computed, so the time is that of rows x cols draws but the
 * memory only m's). w64 (nnz, may be NULL) receives the float64 values. Types must be below
 * SNN_MAX_TYPES. */
void snn_lognormal_weights(snn_nprandom *rng, snn_sparse *m, const int64_t *src, const int64_t *tgt,
                           const double w_mean[SNN_MAX_TYPES][SNN_MAX_TYPES],
                           const double w_var[SNN_MAX_TYPES][SNN_MAX_TYPES], double *w64);

#endif
