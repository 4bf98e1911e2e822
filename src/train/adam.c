#include "train/adam.h"

#include <math.h>
#include <stddef.h>

#include "core/mem.h"

int snn_adam_init(snn_adam *a, int64_t n, double lr, snn_error *err) {
    a->n = 0;
    a->m = a->v = NULL;
    a->lr = lr;
    a->beta1 = 0.9;
    a->beta2 = 0.999;
    a->eps = 1e-8;
    a->step = 0;
    if (n < 0) return snn_fail(err, SNN_EINPUT, "Adam: parameter count must be >= 0, got %lld", (long long)n);
    if (!(lr >= 0.0) || isinf(lr))
        return snn_fail(err, SNN_EINPUT, "Adam: learning rate must be a finite number >= 0, got %g", lr);
    a->m = snn_calloc_aligned((size_t)n, sizeof(double), "Adam first moments", err);
    if (a->m == NULL) return SNN_ERUN;
    a->v = snn_calloc_aligned((size_t)n, sizeof(double), "Adam second moments", err);
    if (a->v == NULL) {
        snn_free(a->m);
        a->m = NULL;
        return SNN_ERUN;
    }
    a->n = n;
    return SNN_OK;
}

void snn_adam_free(snn_adam *a) {
    if (a == NULL) return;
    snn_free(a->m);
    snn_free(a->v);
    a->m = a->v = NULL;
    a->n = 0;
}

/* Operation for operation as torch 1.13's _single_tensor_adam on a CPU with FMA, so that the
 * trajectories agree with torch to the last bit rather than to a tolerance. Its vectorised kernels
 * compute
 *   exp_avg.mul_(b1).add_(g, alpha=1-b1)            -> fma(g, 1-b1, m*b1)
 *   exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2)  -> fma((1-b2)*g, g, v*b2)
 *   denom = sqrt(v) / sqrt(bias_correction2) + eps  (true division, no reciprocal)
 *   param.addcdiv_(m, denom, value=-step_size)      -> p + ((-step_size)*m) / denom
 * (established element by element against torch.optim.Adam; tests/fixtures/adam). fma() is exact
 * by the C standard, so the result is the same with or without hardware FMA and with any flags. */
void snn_adam_step(snn_adam *a, double *params, const double *g) {
    a->step++;
    const double b1 = a->beta1, b2 = a->beta2, eps = a->eps;
    const double one_minus_b1 = 1.0 - b1, one_minus_b2 = 1.0 - b2;
    /* Python's float ** float is libm pow, as here. */
    const double bias_correction1 = 1.0 - pow(b1, (double)a->step);
    const double bias_correction2 = 1.0 - pow(b2, (double)a->step);
    const double neg_step_size = -(a->lr / bias_correction1);
    const double bias_correction2_sqrt = sqrt(bias_correction2);
    double *restrict m = a->m, *restrict v = a->v;
    for (int64_t i = 0; i < a->n; i++) {
        const double gi = g[i];
        m[i] = fma(gi, one_minus_b1, m[i] * b1);
        v[i] = fma(one_minus_b2 * gi, gi, v[i] * b2);
        const double denom = sqrt(v[i]) / bias_correction2_sqrt + eps;
        params[i] = params[i] + (neg_step_size * m[i]) / denom;
    }
}

/* Pairwise summation over blocks whose boundaries depend on n only: the result is reproducible
 * (no dependence on threads or alignment) and its rounding error grows like log n rather than n,
 * which matters for the millions of connection weights of a full connectome. */
#define NORM_BLOCK 256

static double sum_squares(const double *g, int64_t n) {
    if (n <= NORM_BLOCK) {
        double s[4] = {0.0, 0.0, 0.0, 0.0};
        int64_t i = 0;
        for (; i + 4 <= n; i += 4) {
            s[0] += g[i] * g[i];
            s[1] += g[i + 1] * g[i + 1];
            s[2] += g[i + 2] * g[i + 2];
            s[3] += g[i + 3] * g[i + 3];
        }
        for (; i < n; i++) s[0] += g[i] * g[i];
        return (s[0] + s[1]) + (s[2] + s[3]);
    }
    int64_t half = n / 2;
    return sum_squares(g, half) + sum_squares(g + half, n - half);
}

double snn_grad_norm(const double *g, int64_t n) {
    if (n <= 0) return 0.0;
    return sqrt(sum_squares(g, n));
}

double snn_grad_clip(double *g, int64_t n, double clip) {
    const double norm = snn_grad_norm(g, n);
    double factor = clip / (norm + 1e-6);
    /* torch.clamp(coef, max=1) keeps a NaN coefficient (a NaN gradient poisons every entry, as in
     * torch), hence the comparison rather than fmin, which would drop the NaN. */
    if (factor > 1.0) factor = 1.0;
    /* Multiplying by exactly 1 changes nothing, so the copy can be skipped. */
    if (factor != 1.0)
        for (int64_t i = 0; i < n; i++) g[i] *= factor;
    return factor;
}
