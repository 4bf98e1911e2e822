/* Ornstein-Uhlenbeck process over odour-pattern activations, mixed by a softmax (reference
 * rate_processes.py, inputs-and-data.md section 6), with one independent trajectory per trial
 * (SPEC section 5; the reference cuts one trajectory into pieces instead).
 *
 * Every trial's activations a (P doubles) start at 1. At global step t the recorded mixture is
 * w[t] = softmax(a / temperature) of the state before the update, then
 *     a <- a - (a / tau) * dt + sigma * sqrt(2 dt / tau) * xi,
 * xi[p] = component p % 2 of snn_rng_normal2(seed, SNN_RNG_OU, trial, t, p / 2). The draw of step t
 * depends only on (seed, trial, t, p), so a trajectory is the same however it is cut into calls and
 * whichever thread computes it. Stationary std of a: sigma / sqrt(1 - dt / (2 tau)).
 *
 * Calls for different trials may run concurrently; calls for one trial must come in step order. */
#ifndef SNNFIT_INPUTS_OU_H
#define SNNFIT_INPUTS_OU_H

#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"

typedef struct snn_ou {
    int n_patterns;       /* P */
    int n_trials;
    double dt, tau, temperature, sigma;
    snn_rng rng;
    double *state;        /* n_trials x P: the activations before step next_step[trial] */
    int64_t *next_step;   /* n_trials: global index of the next step to record */
    double *scratch;      /* n_trials x P, so that concurrent trials never share a buffer */
} snn_ou;

/* Validates (P >= 1, n_trials >= 1, dt, tau, temperature > 0, sigma >= 0, all finite: SNN_EINPUT)
 * and allocates (SNN_ERUN). Every trial starts at step 0 with all activations 1. */
int snn_ou_init(snn_ou *ou, int n_patterns, int n_trials, double dt, double tau, double temperature,
                double sigma, uint64_t seed, snn_error *err);

/* Records steps step0 .. step0 + n_steps - 1 of one trial into weights_out (n_steps x P, row-major,
 * float32 as stored in the teacher data) and advances its state. step0 must be where the trial stands
 * (snn_ou_position); anything else is SNN_EINPUT, as is a trial out of range. */
int snn_ou_advance(snn_ou *ou, int trial, int64_t step0, int64_t n_steps, float *weights_out,
                   snn_error *err);

/* The trial's current activations (P doubles) and the global step they belong to, for checkpoints. */
const double *snn_ou_state(const snn_ou *ou, int trial);
int64_t snn_ou_position(const snn_ou *ou, int trial);

/* Puts a trial back at a saved point (state and position from the two functions above). */
int snn_ou_restore(snn_ou *ou, int trial, int64_t step, const double *activations, snn_error *err);

void snn_ou_free(snn_ou *ou);

#endif
