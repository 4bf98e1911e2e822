/* numpy's legacy RandomState (MT19937), reproduced bit for bit.
 *
 * The structural randomness of the reference pipeline (cell types, connectome graphs, log-normal
 * weights, perturbation factors) comes from numpy's global legacy generator; this port produces the
 * same stream for the same integer seed, so the same parameter file gives the same network as the
 * Python pipeline. numpy guarantees the legacy stream never changes. Bit-exact log-normal values also
 * assume glibc's exp/log/sqrt, as numpy uses them.
 *
 * The whole state lives in snn_nprandom (plain data: copy it to save, copy it back to restore), so a
 * checkpoint can store it and a resumed run continues the identical stream. Not thread-safe per
 * instance; use one instance per stream. */
#ifndef SNNFIT_CORE_NPRANDOM_H
#define SNNFIT_CORE_NPRANDOM_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SNN_NP_STATE_LEN 624

typedef struct snn_nprandom {
    uint32_t key[SNN_NP_STATE_LEN];
    int pos;          /* next word of key to temper; SNN_NP_STATE_LEN = regenerate first */
    int has_gauss;    /* the second normal of the last polar pair is cached */
    double gauss;
} snn_nprandom;

/* np.random.seed(seed) for an integer 0 <= seed < 2^32 (numpy rejects larger seeds too). */
void snn_np_seed(snn_nprandom *r, uint32_t seed);

/* Checks a saved state before it is restored (pos in 0..624, has_gauss 0/1, finite gauss): SNN_OK or
 * SNN_EINPUT naming the bad field; what is the name used in the message (e.g. a checkpoint file). */
int snn_np_state_check(const snn_nprandom *r, const char *what, snn_error *err);

/* Next raw 32-bit MT19937 output (tempered). */
uint32_t snn_np_next_u32(snn_nprandom *r);

/* random(): a double in [0, 1) with 53 random bits (two 32-bit draws). */
double snn_np_random(snn_nprandom *r);

/* Uniform integer in [0, max] by masked rejection (numpy's random_interval, used by shuffle); draws
 * nothing when max == 0. */
uint64_t snn_np_interval(snn_nprandom *r, uint64_t max);

/* randint(low, high): uniform in [low, high), legacy masked method; requires low < high. Draws
 * nothing when high - low == 1. */
int64_t snn_np_randint(snn_nprandom *r, int64_t low, int64_t high);

/* shuffle(x) of a 1-D int64 array in place (Fisher-Yates from the end). */
void snn_np_shuffle_i64(snn_nprandom *r, int64_t *x, size_t n);

/* standard_normal(): polar Box-Muller; each pair's first value is cached for the next call. */
double snn_np_standard_normal(snn_nprandom *r);

/* Advances the stream exactly as k calls of snn_np_standard_normal would (the cached value
 * included), without computing the values it skips: the reference draws one normal per entry of a
 * dense weight grid, and a sparse network skips the entries without a synapse. */
void snn_np_skip_standard_normals(snn_nprandom *r, uint64_t k);

/* normal(loc, scale) = loc + scale * standard_normal(). */
double snn_np_normal(snn_nprandom *r, double loc, double scale);

/* lognormal(mean, sigma) = exp(mean + sigma * standard_normal()); sigma = 0 still draws. */
double snn_np_lognormal(snn_nprandom *r, double mean, double sigma);

#endif
