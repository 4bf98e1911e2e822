/* Bernoulli ("Poisson") input spikes: input k fires at global step t of a trial with probability
 * p = rate_k(t) * (dt / 1000) (rate in Hz, dt in ms), decided by word k % 4 of the counter block
 * (seed, purpose, trial, t, index k / 4): spike iff word < snn_bernoulli_threshold(p). A spike is thus
 * a pure function of (seed, purpose, trial, t, k, rate): independent of how steps are cut into calls,
 * of which thread draws which trial, and of the other inputs. p <= 0 never fires, p >= 1 always does.
 *
 * Two forms:
 *  - fixed rates: rate_k(t) = rates[k];
 *  - mixture of patterns: rate_k(t) = sum_p w[t][p] * patterns[p][k] with the OU weights w of the
 *    trial (inputs/ou.h). Evaluated as base_k + sum over the patterns p with patterns[p][k] != base_k
 *    of w[t][p] * (patterns[p][k] - base_k), base_k = min_p patterns[p][k], in double; this equals the
 *    plain sum when the weights sum to 1 (they do up to float rounding) and touches only the few
 *    patterns in which an input is modulated.
 * Output: uint8 0/1, [step][input] for one trial and steps step0 .. step0 + n_steps - 1.
 * A generator is read-only after init: trials may be drawn concurrently from one generator. */
#ifndef SNNFIT_INPUTS_POISSON_H
#define SNNFIT_INPUTS_POISSON_H

#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"

/* Inputs are processed in tiles so that the per-step buffers live on the stack (multiple of 4: a
 * tile starts on a counter-block boundary). */
#define SNN_POISSON_TILE 512

typedef struct snn_poisson {
    int64_t n_inputs;
    int n_patterns;           /* 0 for fixed rates */
    double dt;
    double scale;             /* (dt / 1000) * 2^32: rate * scale is p * 2^32 */
    snn_rng rng;
    double *fixed_scaled;     /* fixed rates: rates[k] * scale */
    /* mixture */
    double *base;             /* n_inputs: min over patterns */
    int64_t n_tiles;
    int64_t *offsets;         /* n_tiles * P + 1: entries of (tile, pattern) */
    uint16_t *local_index;    /* input of each entry, relative to its tile */
    double *delta;            /* patterns[p][k] - base[k] of each entry */
} snn_poisson;

/* Fixed rates (n_inputs Hz, finite and >= 0, else SNN_EINPUT). purpose: SNN_RNG_POISSON for the
 * training and teacher inputs, SNN_RNG_POISSON_AUX for extra realisations. */
int snn_poisson_init_rates(snn_poisson *ps, int64_t n_inputs, const double *rates_hz, double dt,
                           uint64_t seed, uint32_t purpose, snn_error *err);

/* Mixture of P patterns (P x n_inputs Hz, row-major, finite and >= 0). */
int snn_poisson_init_mixture(snn_poisson *ps, int64_t n_inputs, int n_patterns, const double *patterns,
                             double dt, uint64_t seed, uint32_t purpose, snn_error *err);

/* Draws of a fixed-rate generator into spikes (n_steps x n_inputs). SNN_EINPUT for a mixture one. */
int snn_poisson_draw_rates(const snn_poisson *ps, uint32_t trial, int64_t step0, int64_t n_steps,
                           uint8_t *spikes, snn_error *err);

/* Draws of a mixture generator; weights: n_steps x P (row s belongs to step step0 + s).
 * SNN_EINPUT for a fixed-rate one. */
int snn_poisson_draw_mixture(const snn_poisson *ps, uint32_t trial, int64_t step0, int64_t n_steps,
                             const float *weights, uint8_t *spikes, snn_error *err);

/* Entries of the sparse deviation list (a measure of the mixture's cost per step). */
int64_t snn_poisson_mixture_entries(const snn_poisson *ps);

void snn_poisson_free(snn_poisson *ps);

#endif
