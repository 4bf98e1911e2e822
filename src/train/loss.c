#include "train/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "model/network.h"

/* Neurons are processed in blocks of JB so that per-neuron scratch (accumulators, backward filter
 * states, spike statistics) lives on the stack: no allocation per call, and the inner loop over j stays
 * a plain contiguous loop the compiler vectorises. */
#define JB 512
/* Trials whose partial sums are kept at once (the loss is their sum in trial order, whatever the number
 * of threads). */
#define BGROUP 64
/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 65536

static double chunk_seconds(int64_t T, double dt) { return (double)T * dt / 1000.0; }

/* ------------------------------------------------------------------------------------------------ */
/* van Rossum                                                                                       */

int snn_vr_init(snn_vr *vr, double dt, double tau, int two_exp, double tau_rise, double tau_decay, int64_t B,
                int64_t N, snn_error *err) {
    memset(vr, 0, sizeof *vr);
    if (!(dt > 0.0) || !isfinite(dt)) return snn_fail(err, SNN_EINPUT, "van Rossum loss: dt must be > 0 (got %g)", dt);
    if (B < 1 || N < 1)
        return snn_fail(err, SNN_EINPUT, "van Rossum loss: need at least one trial and one neuron (got %lld x %lld)",
                        (long long)B, (long long)N);
    if (two_exp) {
        if (!(tau_rise > 0.0) || !(tau_decay > tau_rise) || !isfinite(tau_decay))
            return snn_fail(err, SNN_EINPUT,
                            "van Rossum loss: need 0 < van_rossum_tau_rise < van_rossum_tau_decay (got %g, %g)",
                            tau_rise, tau_decay);
        vr->k_decay = exp(-dt / tau_decay);
        vr->k_rise = exp(-dt / tau_rise);
        vr->norm = 1.0 / snn_norm_peak(tau_rise, tau_decay);
    } else {
        if (!(tau > 0.0) || !isfinite(tau))
            return snn_fail(err, SNN_EINPUT, "van Rossum loss: van_rossum_tau must be > 0 (got %g)", tau);
        vr->k_decay = exp(-dt / tau);
        vr->k_rise = 0.0;
        vr->norm = 1.0;
    }
    vr->two_exp = two_exp ? 1 : 0;
    vr->n_states = B * N;
    size_t n = (size_t)vr->n_states;
    vr->ys_d = snn_calloc_aligned(n, sizeof(double), "van Rossum filter states", err);
    vr->yt_d = vr->ys_d ? snn_calloc_aligned(n, sizeof(double), "van Rossum filter states", err) : NULL;
    if (vr->yt_d && vr->two_exp) {
        vr->ys_r = snn_calloc_aligned(n, sizeof(double), "van Rossum filter states", err);
        vr->yt_r = vr->ys_r ? snn_calloc_aligned(n, sizeof(double), "van Rossum filter states", err) : NULL;
    }
    if (!vr->yt_d || (vr->two_exp && !vr->yt_r)) {
        snn_vr_free(vr);
        return SNN_ERUN;
    }
    return SNN_OK;
}

void snn_vr_free(snn_vr *vr) {
    snn_free(vr->ys_d);
    snn_free(vr->ys_r);
    snn_free(vr->yt_d);
    snn_free(vr->yt_r);
    vr->ys_d = vr->ys_r = vr->yt_d = vr->yt_r = NULL;
    vr->n_states = 0;
}

void snn_vr_reset(snn_vr *vr) {
    size_t bytes = (size_t)vr->n_states * sizeof(double);
    if (vr->ys_d) memset(vr->ys_d, 0, bytes);
    if (vr->yt_d) memset(vr->yt_d, 0, bytes);
    if (vr->ys_r) memset(vr->ys_r, 0, bytes);
    if (vr->yt_r) memset(vr->yt_r, 0, bytes);
}

/* One step of one block of neurons. The row kernels take every array as a restrict parameter so that
 * the compiler vectorises them without run-time alias checks. */
static inline void vr_row1(int64_t n, double k, double *restrict ys, double *restrict yt,
                           const uint8_t *restrict os, const uint8_t *restrict ot, float *restrict e,
                           double *restrict acc) {
    for (int64_t i = 0; i < n; i++) {
        const double a = k * ys[i] + (double)os[i];
        const double c = k * yt[i] + (double)ot[i];
        ys[i] = a;
        yt[i] = c;
        const double d = a - c;
        e[i] = (float)d;
        acc[i] += d * d;
    }
}

static inline void vr_row2(int64_t n, double kd, double kr, double norm, double *restrict ysd,
                           double *restrict ysr, double *restrict ytd, double *restrict ytr,
                           const uint8_t *restrict os, const uint8_t *restrict ot, float *restrict e,
                           double *restrict acc) {
    for (int64_t i = 0; i < n; i++) {
        const double o = (double)os[i], p = (double)ot[i];
        const double a = kd * ysd[i] + o, ar = kr * ysr[i] + o;
        const double c = kd * ytd[i] + p, cr = kr * ytr[i] + p;
        ysd[i] = a;
        ysr[i] = ar;
        ytd[i] = c;
        ytr[i] = cr;
        const double d = norm * ((a - ar) - (c - cr));
        e[i] = (float)d;
        acc[i] += d * d;
    }
}

/* One trial of the forward; returns its sum of squared differences (in j-block, then j order). */
static double vr_forward_trial(snn_vr *vr, const uint8_t *s, const uint8_t *tg, int64_t b, int64_t T, int64_t N,
                               float *e) {
    double total = 0.0;
    for (int64_t j0 = 0; j0 < N; j0 += JB) {
        const int64_t nj = (N - j0 < JB) ? N - j0 : JB;
        const int64_t off = b * N + j0;
        double acc[JB];
        for (int64_t i = 0; i < nj; i++) acc[i] = 0.0;
        for (int64_t t = 0; t < T; t++) {
            const int64_t row = (b * T + t) * N + j0;
            if (!vr->two_exp)
                vr_row1(nj, vr->k_decay, vr->ys_d + off, vr->yt_d + off, s + row, tg + row, e + row, acc);
            else
                vr_row2(nj, vr->k_decay, vr->k_rise, vr->norm, vr->ys_d + off, vr->ys_r + off, vr->yt_d + off,
                        vr->yt_r + off, s + row, tg + row, e + row, acc);
        }
        for (int64_t i = 0; i < nj; i++) total += acc[i];
    }
    return total;
}

double snn_vr_forward(snn_vr *vr, const uint8_t *s, const uint8_t *target, int64_t B, int64_t T, int64_t N,
                      float *e) {
    if (B * N != vr->n_states || T < 1) return NAN;
    double total = 0.0;
    const int par = B * T * N >= PAR_MIN;
    for (int64_t b0 = 0; b0 < B; b0 += BGROUP) {
        const int64_t nb = (B - b0 < BGROUP) ? B - b0 : BGROUP;
        double part[BGROUP];
#pragma omp parallel for schedule(static) if (par)
        for (int64_t i = 0; i < nb; i++) part[i] = vr_forward_trial(vr, s, target, b0 + i, T, N, e);
        for (int64_t i = 0; i < nb; i++) total += part[i];
    }
    return total / ((double)B * (double)T * (double)N);
}

void snn_vr_forward_parts(snn_vr *vr, const uint8_t *s, const uint8_t *target, int64_t B, int64_t T, int64_t N,
                          float *e, double *part) {
    const int par = B * T * N >= PAR_MIN;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t b = 0; b < B; b++) part[b] = vr_forward_trial(vr, s, target, b, T, N, e);
}

/* dL/ds[t'] = c sum_{t >= t'} e[t] kernel(t - t'): run backwards in time, g[t] = k g[t+1] + e[t]. The sum
 * stops at the chunk end because later chunks see this chunk only through a detached state. */
static inline void vr_back_row1(int64_t n, double k, double c, double *restrict g, float *restrict e) {
    for (int64_t i = 0; i < n; i++) {
        g[i] = k * g[i] + (double)e[i];
        e[i] = (float)(c * g[i]);
    }
}

static inline void vr_back_row2(int64_t n, double kd, double kr, double c, double *restrict gd,
                                double *restrict gr, float *restrict e) {
    for (int64_t i = 0; i < n; i++) {
        const double x = (double)e[i];
        gd[i] = kd * gd[i] + x;
        gr[i] = kr * gr[i] + x;
        e[i] = (float)(c * (gd[i] - gr[i]));
    }
}

static void vr_backward_trial(const snn_vr *vr, float *e, int64_t b, int64_t T, int64_t N, double c) {
    for (int64_t j0 = 0; j0 < N; j0 += JB) {
        const int64_t nj = (N - j0 < JB) ? N - j0 : JB;
        double gd[JB], gr[JB];
        for (int64_t i = 0; i < nj; i++) gd[i] = gr[i] = 0.0;
        for (int64_t t = T - 1; t >= 0; t--) {
            float *et = e + (b * T + t) * N + j0;
            if (!vr->two_exp)
                vr_back_row1(nj, vr->k_decay, c, gd, et);
            else
                vr_back_row2(nj, vr->k_decay, vr->k_rise, c, gd, gr, et);
        }
    }
}

void snn_vr_backward(const snn_vr *vr, float *e, int64_t B, int64_t T, int64_t N, double scale) {
    /* y = norm (y_decay - y_rise): the kernel's taps carry the factor norm. */
    const double c = 2.0 * scale * vr->norm / ((double)B * (double)T * (double)N);
    const int par = B * T * N >= PAR_MIN;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t b = 0; b < B; b++) vr_backward_trial(vr, e, b, T, N, c);
}

/* ------------------------------------------------------------------------------------------------ */
/* firing rate                                                                                      */

void snn_pooled_rates(const uint8_t *s, int64_t B, int64_t T, int64_t N, double dt, double *rates_out) {
    const double inv = 1.0 / ((double)B * chunk_seconds(T, dt));
    /* neuron blocks in parallel; the counts are integers, exact in any order */
#pragma omp parallel for schedule(static) if (B * T * N >= 1 << 20)
    for (int64_t j0 = 0; j0 < N; j0 += JB) {
        const int64_t nj = (N - j0 < JB) ? N - j0 : JB;
        int32_t cnt[JB] = {0};
        for (int64_t bt = 0; bt < B * T; bt++) {
            const uint8_t *restrict row = s + bt * N + j0;
            for (int64_t i = 0; i < nj; i++) cnt[i] += row[i];
        }
        for (int64_t i = 0; i < nj; i++) rates_out[j0 + i] = (double)cnt[i] * inv;
    }
}

void snn_rates_from_counts(const int64_t *counts, int64_t B, int64_t T, int64_t N, double dt, double *rates_out) {
    /* the same arithmetic as snn_pooled_rates */
    const double inv = 1.0 / ((double)B * chunk_seconds(T, dt));
    for (int64_t j = 0; j < N; j++) rates_out[j] = (double)counts[j] * inv;
}

double snn_rate_loss_forward(const uint8_t *s, int64_t B, int64_t T, int64_t N, double dt, const double *target,
                             double *rates_out) {
    snn_pooled_rates(s, B, T, N, dt, rates_out);
    return snn_rate_loss_value(rates_out, target, N);
}

double snn_rate_loss_value(const double *rates_out, const double *target, int64_t N) {
    double sum = 0.0;
    for (int64_t j = 0; j < N; j++) {
        double d = rates_out[j] - target[j];
        sum += d * d / (target[j] + 1.0);
    }
    return sum / (double)N;
}

void snn_rate_loss_backward(const double *rates, const double *target, int64_t B, int64_t T, int64_t N, double dt,
                            double scale, float *ds) {
    const double c = 2.0 * scale / ((double)N * (double)B * chunk_seconds(T, dt));
    for (int64_t j0 = 0; j0 < N; j0 += JB) {
        const int64_t nj = (N - j0 < JB) ? N - j0 : JB;
        float g[JB];
        for (int64_t i = 0; i < nj; i++)
            g[i] = (float)(c * (rates[j0 + i] - target[j0 + i]) / (target[j0 + i] + 1.0));
        for (int64_t bt = 0; bt < B * T; bt++) {
            float *restrict row = ds + bt * N + j0;
            for (int64_t i = 0; i < nj; i++) row[i] += g[i];
        }
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* silent-neuron penalty                                                                            */

double snn_silent_loss_forward(const uint8_t *s, int64_t B, int64_t T, int64_t N, double dt, const double *alpha,
                               double *r_out) {
    double *part = malloc((size_t)B * sizeof *part);
    if (!part) return NAN;
    snn_silent_loss_parts(s, B, T, N, dt, alpha, r_out, part);
    /* partial sums added in trial order: the same result for any thread count */
    double sum = 0.0;
    for (int64_t b = 0; b < B; b++) sum += part[b];
    free(part);
    return sum / ((double)B * (double)N);
}

void snn_silent_loss_parts(const uint8_t *s, int64_t B, int64_t T, int64_t N, double dt, const double *alpha,
                           double *r_out, double *part) {
    const double inv = 1.0 / chunk_seconds(T, dt);
#pragma omp parallel for schedule(static) if (B * T * N >= 1 << 20)
    for (int64_t b = 0; b < B; b++) {
        double *restrict r = r_out + b * N;
        for (int64_t j = 0; j < N; j++) r[j] = 0.0;
        for (int64_t t = 0; t < T; t++) {
            const uint8_t *restrict row = s + (b * T + t) * N;
            for (int64_t j = 0; j < N; j++) r[j] += (double)row[j];
        }
        double ps = 0.0;
        for (int64_t j = 0; j < N; j++) {
            r[j] *= inv;
            ps += exp(-alpha[j] * r[j]);
        }
        part[b] = ps;
    }
}

void snn_silent_loss_backward(const double *r, const double *alpha, int64_t B, int64_t T, int64_t N, double dt,
                              double scale, float *ds) {
    const double c = -scale / ((double)B * (double)N * chunk_seconds(T, dt));
    for (int64_t b = 0; b < B; b++) {
        for (int64_t j0 = 0; j0 < N; j0 += JB) {
            const int64_t nj = (N - j0 < JB) ? N - j0 : JB;
            float g[JB];
            for (int64_t i = 0; i < nj; i++) {
                const double a = alpha[j0 + i];
                g[i] = (float)(c * a * exp(-a * r[b * N + j0 + i]));
            }
            for (int64_t t = 0; t < T; t++) {
                float *restrict row = ds + (b * T + t) * N + j0;
                for (int64_t i = 0; i < nj; i++) row[i] += g[i];
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* CV                                                                                               */

/* CVs of trial b, neurons j0 .. j0+nj-1, into cv[0 .. nj-1] (NaN below 3 spikes). ISIs are integers
 * (in steps), so their sums are exact and var = (m Q - S^2) / (m (m - 1)) has no cancellation; the unit
 * cancels in std / mean. */
static void cv_block(const uint8_t *s, int64_t b, int64_t T, int64_t N, int64_t j0, int64_t nj, double *cv) {
    int64_t last[JB], count[JB], sum[JB], sumsq[JB];
    for (int64_t i = 0; i < nj; i++) last[i] = count[i] = sum[i] = sumsq[i] = 0;
    for (int64_t t = 0; t < T; t++) {
        const uint8_t *row = s + (b * T + t) * N + j0;
        for (int64_t i = 0; i < nj; i++) {
            if (!row[i]) continue;
            if (count[i] > 0) {
                int64_t isi = t - last[i];
                sum[i] += isi;
                sumsq[i] += isi * isi;
            }
            last[i] = t;
            count[i]++;
        }
    }
    for (int64_t i = 0; i < nj; i++) {
        if (count[i] < 3) {
            cv[i] = NAN;
            continue;
        }
        const double m = (double)(count[i] - 1);
        const double num = (double)((count[i] - 1) * sumsq[i] - sum[i] * sum[i]);
        cv[i] = sqrt(num / (m * (m - 1.0))) * m / (double)sum[i];
    }
}

void snn_cv_values(const uint8_t *s, int64_t B, int64_t T, int64_t N, double *cv) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t j0 = 0; j0 < N; j0 += JB) cv_block(s, b, T, N, j0, (N - j0 < JB) ? N - j0 : JB, cv + b * N + j0);
}

double snn_cv_loss(const uint8_t *s, const uint8_t *teacher, const double *target, int64_t B, int64_t T,
                   int64_t N) {
    if (target == NULL && teacher == NULL) return 0.0;
    double sum = 0.0;
    int64_t n_valid = 0;
    snn_cv_loss_acc(s, teacher, target, B, T, N, &sum, &n_valid);
    return n_valid ? sum / (double)n_valid : 0.0;
}

void snn_cv_loss_acc(const uint8_t *s, const uint8_t *teacher, const double *target, int64_t B, int64_t T, int64_t N,
                     double *sum_io, int64_t *n_valid_io) {
    if (target == NULL && teacher == NULL) return;
    double sum = *sum_io;
    int64_t n_valid = *n_valid_io;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t j0 = 0; j0 < N; j0 += JB) {
            const int64_t nj = (N - j0 < JB) ? N - j0 : JB;
            double cs[JB], ct[JB];
            cv_block(s, b, T, N, j0, nj, cs);
            if (target == NULL) cv_block(teacher, b, T, N, j0, nj, ct);
            for (int64_t i = 0; i < nj; i++) {
                const double d = cs[i] - (target ? target[j0 + i] : ct[i]);
                if (!isfinite(d)) continue;
                sum += d * d;
                n_valid++;
            }
        }
    }
    *sum_io = sum;
    *n_valid_io = n_valid;
}

/* ------------------------------------------------------------------------------------------------ */
/* membrane variance                                                                                */

/* With D = theta - m + 1e-8, ratio = sd / D and g = scale dL/dratio = scale 2 (ratio - target) / (B N):
 *   d ratio / d v_t = (v_t - m) / ((T - 1) sd D) + sd / (T D^2)
 * (the sd term's dependence on m drops out because sum_t (v_t - m) = 0), so the scaled gradient is
 * a v_t + c with a = g / ((T - 1) sd D) and c = -a m + g sd / (T D^2). At sd = 0 the sd term has no
 * derivative; it gets none (a = 0), and the m term is then 0 as well. */
double snn_memvar_loss_forward(const double *vsum, const double *vsumsq, int64_t B, int64_t T, int64_t N,
                               const double *theta, const double *target, double scale, double *coef) {
    double sum = 0.0;
    snn_memvar_loss_acc(vsum, vsumsq, B, B, T, N, theta, target, scale, coef, &sum);
    return sum / (double)(B * N);
}

void snn_memvar_loss_acc(const double *vsum, const double *vsumsq, int64_t B, int64_t B_total, int64_t T, int64_t N,
                         const double *theta, const double *target, double scale, double *coef, double *sum_io) {
    const int64_t BN = B * N, BN_total = B_total * N;
    const double Td = (double)T;
    double sum = *sum_io;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t j = 0; j < N; j++) {
            const int64_t k = b * N + j;
            const double m = vsum[k] / Td;
            double var = T > 1 ? (vsumsq[k] - vsum[k] * m) / (Td - 1.0) : 0.0;
            const double sd = var > 0.0 ? sqrt(var) : 0.0;
            const double D = theta[j] - m + 1e-8;
            const double ratio = sd / D;
            const double d = ratio - target[j];
            sum += d * d;
            if (coef) {
                const double g = scale * 2.0 * d / (double)BN_total;
                const double a = sd > 0.0 ? g / ((Td - 1.0) * sd * D) : 0.0;
                coef[k] = a;
                coef[BN + k] = -a * m + g * sd / (Td * D * D);
            }
        }
    }
    *sum_io = sum;
}

/* ------------------------------------------------------------------------------------------------ */
/* weight ratio                                                                                     */

double snn_weight_ratio_loss(const double *sf, const double *sf_ff, int n_types, int n_ff, int exc_type,
                             double target, double scale, double *g_sf, double *g_sf_ff) {
    if (n_types < 1 || n_ff < 1 || exc_type < 0 || exc_type >= n_types) return NAN;
    const double *row = sf + (int64_t)exc_type * n_types;
    double rec = 0.0, ff = 0.0;
    for (int l = 0; l < n_types; l++) rec += row[l];
    rec /= (double)n_types;
    const int64_t n_all = (int64_t)n_ff * n_types;
    for (int64_t i = 0; i < n_all; i++) ff += sf_ff[i];
    ff /= (double)n_all;
    const double den = ff + 1e-8;
    const double R = rec / den;
    const double g = scale * 2.0 * (R - target);
    if (g_sf)
        for (int l = 0; l < n_types; l++) g_sf[(int64_t)exc_type * n_types + l] += g / ((double)n_types * den);
    if (g_sf_ff)
        for (int64_t i = 0; i < n_all; i++) g_sf_ff[i] += -g * rec / (den * den * (double)n_all);
    return (R - target) * (R - target);
}

/* ------------------------------------------------------------------------------------------------ */
/* van Rossum, streaming reverse                                                                    */

int snn_vr_stream_alloc(snn_vr_stream *s, const snn_vr *vr, int64_t B, int64_t N, int64_t Tmax, snn_error *err) {
    memset(s, 0, sizeof *s);
    s->B = B;
    s->N = N;
    s->Tmax = Tmax;
    s->n_comp = vr->two_exp ? 2 : 1;
    /* the backward recurrence divides by k each step: restart it from a stored state every K steps so
     * that rounding grows by at most e^5 */
    double kmin = vr->two_exp ? vr->k_rise : vr->k_decay;
    double steps = kmin > 0 && kmin < 1 ? 5.0 / -log(kmin) : (double)Tmax;
    s->K = steps >= (double)Tmax ? Tmax : (steps < 1 ? 1 : (int64_t)steps);
    s->n_ckpt = (Tmax + s->K - 1) / s->K;
    size_t bn = (size_t)(B * N), nc = (size_t)s->n_comp;
    s->ckpt = snn_calloc_aligned((size_t)s->n_ckpt * 2 * nc * bn, sizeof(double), "van Rossum checkpoints", err);
    s->cur = snn_calloc_aligned(2 * nc * bn, sizeof(double), "van Rossum reverse states", err);
    s->z = snn_calloc_aligned(nc * bn, sizeof(double), "van Rossum adjoints", err);
    if (!s->ckpt || !s->cur || !s->z) {
        snn_vr_stream_free(s);
        return SNN_ERUN;
    }
    return SNN_OK;
}

void snn_vr_stream_free(snn_vr_stream *s) {
    snn_free(s->ckpt);
    snn_free(s->cur);
    snn_free(s->z);
    memset(s, 0, sizeof *s);
}

/* state arrays of one (train, component): train 0 student, 1 teacher; component 0 decay, 1 rise */
static inline double *vrs_slot(double *base, const snn_vr_stream *s, int train, int comp, int64_t b) {
    return base + (((size_t)train * (size_t)s->n_comp + (size_t)comp) * (size_t)(s->B * s->N)) + (size_t)(b * s->N);
}

double snn_vr_forward_stream(snn_vr *vr, snn_vr_stream *s, const uint8_t *o, const uint8_t *target, int64_t B,
                             int64_t T, int64_t N, double scale) {
    double *acc = malloc((size_t)B * sizeof *acc);
    if (!acc) return NAN;
    snn_vr_forward_stream_parts(vr, s, o, target, B, B, T, N, scale, acc);
    double total = 0;
    for (int64_t b = 0; b < B; b++) total += acc[b];
    free(acc);
    return total / ((double)B * (double)T * (double)N);
}

void snn_vr_forward_stream_parts(snn_vr *vr, snn_vr_stream *s, const uint8_t *o, const uint8_t *target, int64_t B,
                                 int64_t B_total, int64_t T, int64_t N, double scale, double *acc) {
    s->T = T;
    s->coef = scale * 2.0 * vr->norm / ((double)B_total * (double)T * (double)N);
    const size_t ck = 2 * (size_t)s->n_comp * (size_t)(B * N);
#pragma omp parallel for schedule(static) if (B * N * T >= 65536)
    for (int64_t b = 0; b < B; b++) {
        double *ysd = vr->ys_d + b * N, *ytd = vr->yt_d + b * N;
        double *ysr = vr->two_exp ? vr->ys_r + b * N : NULL, *ytr = vr->two_exp ? vr->yt_r + b * N : NULL;
        double sum = 0;
        for (int64_t t = 0; t < T; t++) {
            const uint8_t *restrict os = o + (b * T + t) * N, *restrict ot = target + (b * T + t) * N;
            if (vr->two_exp) {
                const double kd = vr->k_decay, kr = vr->k_rise, nm = vr->norm;
                for (int64_t j = 0; j < N; j++) {
                    ysd[j] = kd * ysd[j] + os[j];
                    ysr[j] = kr * ysr[j] + os[j];
                    ytd[j] = kd * ytd[j] + ot[j];
                    ytr[j] = kr * ytr[j] + ot[j];
                    double e = nm * ((ysd[j] - ysr[j]) - (ytd[j] - ytr[j]));
                    sum += e * e;
                }
            } else {
                const double k = vr->k_decay;
                for (int64_t j = 0; j < N; j++) {
                    ysd[j] = k * ysd[j] + os[j];
                    ytd[j] = k * ytd[j] + ot[j];
                    double e = ysd[j] - ytd[j];
                    sum += e * e;
                }
            }
            if ((T - 1 - t) % s->K == 0) {
                double *base = s->ckpt + (size_t)((T - 1 - t) / s->K) * ck;
                memcpy(vrs_slot(base, s, 0, 0, b), ysd, (size_t)N * sizeof(double));
                memcpy(vrs_slot(base, s, 1, 0, b), ytd, (size_t)N * sizeof(double));
                if (vr->two_exp) {
                    memcpy(vrs_slot(base, s, 0, 1, b), ysr, (size_t)N * sizeof(double));
                    memcpy(vrs_slot(base, s, 1, 1, b), ytr, (size_t)N * sizeof(double));
                }
            }
        }
        acc[b] = sum;
    }
}

void snn_vr_reverse_step(snn_vr_stream *s, const snn_vr *vr, int64_t b, int64_t t, const uint8_t *o_t,
                         const uint8_t *target_t, float *ds) {
    const int64_t N = s->N, T = s->T;
    const size_t ck = 2 * (size_t)s->n_comp * (size_t)(s->B * N);
    double *zd = s->z + b * N, *zr = vr->two_exp ? s->z + (size_t)(s->B * N) + b * N : NULL;
    double *ysd = vrs_slot(s->cur, s, 0, 0, b), *ytd = vrs_slot(s->cur, s, 1, 0, b);
    double *ysr = vr->two_exp ? vrs_slot(s->cur, s, 0, 1, b) : NULL, *ytr = vr->two_exp ? vrs_slot(s->cur, s, 1, 1, b) : NULL;
    if (t == T - 1) {
        memset(zd, 0, (size_t)N * sizeof(double));
        if (zr) memset(zr, 0, (size_t)N * sizeof(double));
    }
    if ((T - 1 - t) % s->K == 0) {
        const double *base = s->ckpt + (size_t)((T - 1 - t) / s->K) * ck;
        memcpy(ysd, vrs_slot((double *)base, s, 0, 0, b), (size_t)N * sizeof(double));
        memcpy(ytd, vrs_slot((double *)base, s, 1, 0, b), (size_t)N * sizeof(double));
        if (vr->two_exp) {
            memcpy(ysr, vrs_slot((double *)base, s, 0, 1, b), (size_t)N * sizeof(double));
            memcpy(ytr, vrs_slot((double *)base, s, 1, 1, b), (size_t)N * sizeof(double));
        }
    }
    const double c = s->coef;
    if (vr->two_exp) {
        const double kd = vr->k_decay, kr = vr->k_rise, nm = vr->norm, ikd = 1.0 / kd, ikr = 1.0 / kr;
        for (int64_t j = 0; j < N; j++) {
            double e = nm * ((ysd[j] - ysr[j]) - (ytd[j] - ytr[j]));
            zd[j] = e + kd * zd[j];
            zr[j] = e + kr * zr[j];
            ds[j] += (float)(c * (zd[j] - zr[j]));
            /* the filter values of step t-1 */
            ysd[j] = (ysd[j] - o_t[j]) * ikd;
            ysr[j] = (ysr[j] - o_t[j]) * ikr;
            ytd[j] = (ytd[j] - target_t[j]) * ikd;
            ytr[j] = (ytr[j] - target_t[j]) * ikr;
        }
    } else {
        const double k = vr->k_decay, ik = 1.0 / k;
        for (int64_t j = 0; j < N; j++) {
            double e = ysd[j] - ytd[j];
            zd[j] = e + k * zd[j];
            ds[j] += (float)(c * zd[j]);
            ysd[j] = (ysd[j] - o_t[j]) * ik;
            ytd[j] = (ytd[j] - target_t[j]) * ik;
        }
    }
}

void snn_rate_loss_grad_coef(const double *rates, const double *target, int64_t B, int64_t T, int64_t N, double dt,
                             double scale, double *coef) {
    const double c = 2.0 * scale / ((double)N * (double)B * chunk_seconds(T, dt));
    for (int64_t j = 0; j < N; j++) coef[j] = c * (rates[j] - target[j]) / (target[j] + 1.0);
}

void snn_silent_loss_grad_coef(const double *r, const double *alpha, int64_t B, int64_t T, int64_t N, double dt,
                               double scale, double *coef) {
    snn_silent_loss_grad_coef_block(r, alpha, B, B, T, N, dt, scale, coef);
}

void snn_silent_loss_grad_coef_block(const double *r, const double *alpha, int64_t B, int64_t B_total, int64_t T,
                                     int64_t N, double dt, double scale, double *coef) {
    const double c = -scale / ((double)B_total * (double)N * chunk_seconds(T, dt));
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < N; j++) coef[b * N + j] = c * alpha[j] * exp(-alpha[j] * r[b * N + j]);
}
