#include "inputs/ou.h"

#include <math.h>
#include <string.h>

#include "core/mem.h"

int snn_ou_init(snn_ou *ou, int n_patterns, int n_trials, double dt, double tau, double temperature,
                double sigma, uint64_t seed, snn_error *err) {
    memset(ou, 0, sizeof *ou);
    if (n_patterns < 1) return snn_fail(err, SNN_EINPUT, "OU process: need at least one pattern");
    if (n_trials < 1) return snn_fail(err, SNN_EINPUT, "OU process: need at least one trial");
    if (!(isfinite(dt) && dt > 0)) return snn_fail(err, SNN_EINPUT, "OU process: dt must be > 0");
    if (!(isfinite(tau) && tau > 0)) return snn_fail(err, SNN_EINPUT, "[odours] tau: expected > 0");
    if (!(isfinite(temperature) && temperature > 0))
        return snn_fail(err, SNN_EINPUT, "[odours] temperature: expected > 0");
    if (!(isfinite(sigma) && sigma >= 0)) return snn_fail(err, SNN_EINPUT, "[odours] sigma: expected >= 0");
    size_t cells = (size_t)n_trials * (size_t)n_patterns;
    ou->state = snn_calloc(cells, sizeof *ou->state, "OU activations", err);
    ou->scratch = snn_calloc(cells, sizeof *ou->scratch, "OU scratch", err);
    ou->next_step = snn_calloc((size_t)n_trials, sizeof *ou->next_step, "OU positions", err);
    if (ou->state == NULL || ou->scratch == NULL || ou->next_step == NULL) {
        snn_ou_free(ou);
        return SNN_ERUN;
    }
    ou->n_patterns = n_patterns;
    ou->n_trials = n_trials;
    ou->dt = dt;
    ou->tau = tau;
    ou->temperature = temperature;
    ou->sigma = sigma;
    ou->rng = snn_rng_make(seed, SNN_RNG_OU);
    for (size_t i = 0; i < cells; i++) ou->state[i] = 1.0;
    return SNN_OK;
}

int snn_ou_advance(snn_ou *ou, int trial, int64_t step0, int64_t n_steps, float *weights_out,
                   snn_error *err) {
    if (trial < 0 || trial >= ou->n_trials)
        return snn_fail(err, SNN_EINPUT, "OU process: trial %d out of range [0, %d)", trial, ou->n_trials);
    if (step0 != ou->next_step[trial] || n_steps < 0)
        return snn_fail(err, SNN_EINPUT,
                        "OU process: trial %d stands at step %lld, asked for steps from %lld", trial,
                        (long long)ou->next_step[trial], (long long)step0);
    const int P = ou->n_patterns;
    double *a = ou->state + (size_t)trial * (size_t)P;
    double *e = ou->scratch + (size_t)trial * (size_t)P;
    const double inv_t = 1.0 / ou->temperature;
    const double drift = ou->dt / ou->tau;
    const double diffusion = ou->sigma * sqrt(2.0 * ou->dt / ou->tau);
    for (int64_t s = 0; s < n_steps; s++) {
        const uint64_t t = (uint64_t)(step0 + s);
        /* softmax of the pre-update state, shifted by its maximum so that exp never overflows */
        double amax = a[0];
        for (int p = 1; p < P; p++) amax = a[p] > amax ? a[p] : amax;
        double sum = 0;
        for (int p = 0; p < P; p++) {
            e[p] = exp((a[p] - amax) * inv_t);
            sum += e[p];
        }
        float *w = weights_out + (size_t)s * (size_t)P;
        const double inv_sum = 1.0 / sum;
        for (int p = 0; p < P; p++) w[p] = (float)(e[p] * inv_sum);
        for (int p = 0; p < P; p += 2) {
            double z[2];
            snn_rng_normal2(ou->rng, (uint32_t)trial, t, (uint32_t)(p / 2), z);
            a[p] += -a[p] * drift + diffusion * z[0];
            if (p + 1 < P) a[p + 1] += -a[p + 1] * drift + diffusion * z[1];
        }
    }
    ou->next_step[trial] = step0 + n_steps;
    return SNN_OK;
}

const double *snn_ou_state(const snn_ou *ou, int trial) {
    return ou->state + (size_t)trial * (size_t)ou->n_patterns;
}

int64_t snn_ou_position(const snn_ou *ou, int trial) { return ou->next_step[trial]; }

int snn_ou_restore(snn_ou *ou, int trial, int64_t step, const double *activations, snn_error *err) {
    if (trial < 0 || trial >= ou->n_trials || step < 0)
        return snn_fail(err, SNN_EINPUT, "OU process: cannot restore trial %d at step %lld", trial,
                        (long long)step);
    for (int p = 0; p < ou->n_patterns; p++) {
        if (!isfinite(activations[p]))
            return snn_fail(err, SNN_EINPUT, "OU process: saved activation %d of trial %d is not finite",
                            p, trial);
    }
    memcpy(ou->state + (size_t)trial * (size_t)ou->n_patterns, activations,
           (size_t)ou->n_patterns * sizeof *activations);
    ou->next_step[trial] = step;
    return SNN_OK;
}

void snn_ou_free(snn_ou *ou) {
    if (ou == NULL) return;
    snn_free(ou->state);
    snn_free(ou->scratch);
    snn_free(ou->next_step);
    ou->state = ou->scratch = NULL;
    ou->next_step = NULL;
}
