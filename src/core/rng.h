/* Counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
 *
 * Every draw is a pure function of (seed, purpose, trial, step, index): no generator state is carried
 * from one draw to the next, so results do not depend on the number of threads, on the order in
 * which trials are processed, or on where a run was interrupted and resumed. A stream is the pair
 * (seed, purpose); one call returns four independent 32-bit words for one (trial, step, index). */
#ifndef SNNFIT_CORE_RNG_H
#define SNNFIT_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Purposes keep the streams of different uses apart even when they share a seed. */
enum snn_rng_purpose {
    SNN_RNG_POISSON = 1,     /* input spikes: trial, step, input index / 4 */
    SNN_RNG_OU = 2,          /* OU noise: trial, step, pattern index / 2 */
    SNN_RNG_PERTURB = 3,     /* weight perturbation factors */
    SNN_RNG_POISSON_AUX = 4, /* extra input realisations of the analysis commands */
    SNN_RNG_SAMPLE = 5       /* sampling for figures (raster neurons) */
};

typedef struct snn_rng {
    uint32_t key[2];
} snn_rng;

snn_rng snn_rng_make(uint64_t seed, uint32_t purpose);

/* The raw Philox4x32-10 bijection (exposed for known-answer tests). */
void snn_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Four 32-bit words for counter (trial, step, index). */
void snn_rng_block(snn_rng r, uint32_t trial, uint64_t step, uint32_t index, uint32_t out[4]);

/* Many words at once: out[4*i + j] = word j of snn_rng_block(r, trial, step, first_index + i), for
 * n_words words (the last block may be cut short). Runs several counters side by side (AVX-512 or
 * AVX2 when the CPU has them, chosen at run time); every path gives snn_rng_block's words exactly.
 * first_index + ceil(n_words / 4) must not exceed 2^32. */
void snn_rng_fill_u32(snn_rng r, uint32_t trial, uint64_t step, uint32_t first_index, size_t n_words,
                      uint32_t *out);

/* The code paths of snn_rng_fill_u32, exposed so that tests and benchmarks can run each one. */
enum { SNN_RNG_PATH_PORTABLE = 0, SNN_RNG_PATH_AVX2 = 1, SNN_RNG_PATH_AVX512 = 2 };
int snn_rng_fill_path_supported(int path);
int snn_rng_fill_best_path(void);
/* snn_rng_fill_u32 through one path (the portable one when the CPU lacks it). */
void snn_rng_fill_u32_path(int path, snn_rng r, uint32_t trial, uint64_t step, uint32_t first_index,
                           size_t n_words, uint32_t *out);

/* Uniform in [0, 1) with 32-bit resolution. */
static inline double snn_u32_to_unit(uint32_t x) { return (double)x * (1.0 / 4294967296.0); }

/* Two standard normals (Box-Muller) for counter (trial, step, index). */
void snn_rng_normal2(snn_rng r, uint32_t trial, uint64_t step, uint32_t index, double out[2]);

/* Threshold for a Bernoulli(p) draw with a 32-bit word x: spike iff x < snn_bernoulli_threshold(p).
 * p <= 0 never fires; p >= 1 always fires. */
static inline uint64_t snn_bernoulli_threshold(double p) {
    if (!(p > 0.0)) return 0;
    if (p >= 1.0) return (uint64_t)1 << 32;
    return (uint64_t)(p * 4294967296.0);
}

#endif
