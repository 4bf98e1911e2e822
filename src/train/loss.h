/* The training losses of SPEC section 7.3 as forward/backward pairs over flat arrays.
 *
 * Shapes: spikes are 0/1 bytes [B][T][N] (B trials, T steps of one chunk, N neurons); gradients with
 * respect to spikes are ADDED into ds, a float [B][T][N] buffer, multiplied by `scale` (the caller
 * passes the loss weight times its normalisation). "mean" is over trials, neurons and time as each
 * loss says. dt is in ms, rates in Hz; T_s = T * dt / 1000 is the chunk duration in seconds.
 *
 *  van Rossum: y[t] = k y[t-1] + o[t] per (trial, neuron), k = exp(-dt / tau), for the student and the
 *    teacher; with a rise/decay pair, y = (y_decay - y_rise) / norm_peak(tau_rise, tau_decay) (kernel of
 *    peak 1). The filter state carries across chunks (snn_vr_reset at the data wrap).
 *    L = mean_{b,t,j} (y_s - y_t)^2. Gradient: the anti-causal filter (same kernel) of 2 (y_s - y_t) / (B T N),
 *    truncated at the chunk end (the state entering the next chunk is a constant). The state entering a
 *    chunk decays one step before the chunk's first spike is added (chunk 2's y[0] = k y_prev + o[0]).
 *  firing rate: r_j = sum_{b,t} o / (B T_s); L = mean_j (r_j - r*_j)^2 / (r*_j + 1 Hz).
 *  silent penalty: r_bj = sum_t o / T_s; L = mean_{b,j} exp(-alpha_j r_bj).
 *  CV (logged only, no gradient): per (trial, neuron) with >= 3 spikes, CV = std(ISI, n-1) / mean(ISI);
 *    L = mean over valid (b, j) of (CV - target)^2, target per neuron, or (when NULL) the teacher's CV
 *    of the same (trial, neuron), pairs where either is undefined (or the target is NaN) left out; 0 if
 *    no pair is valid (also when both target and teacher are NULL).
 *  membrane variance: per (b, j) over the chunk's voltages after each step, m = mean, sd = std (n-1),
 *    ratio = sd / (theta_j - m + 1e-8); L = mean_{b,j} (ratio - target_j)^2. Its gradient with respect to
 *    v[b][t][j], times scale, is a[b,j] v + c[b,j] (scale is folded into a and c); the forward computes
 *    the coefficients from running sums so that the voltages need not be stored. Where sd == 0 (or
 *    T < 2, taken as sd = 0) the sd term has no derivative and the gradient is 0.
 *  weight ratio: R = mean_l SF[exc][l] / (mean(SF_FF) + 1e-8); L = (R - target)^2; gradient to SF, SF_FF.
 * All loss values are returned in double. */
#ifndef SNNFIT_TRAIN_LOSS_H
#define SNNFIT_TRAIN_LOSS_H

#include <stdint.h>

#include "core/error.h"

/* ---- van Rossum ---- */
typedef struct snn_vr {
    int two_exp;                 /* difference of exponentials */
    double k_decay, k_rise;      /* per-step decays (k_rise unused for one exponential) */
    double norm;                 /* 1, or 1 / norm_peak for the difference of exponentials */
    int64_t n_states;            /* B * N */
    double *ys_d, *ys_r;         /* student filter states (rise unused for one exponential) */
    double *yt_d, *yt_r;         /* teacher filter states */
} snn_vr;

/* tau (ms) for one exponential; with two_exp, tau_rise < tau_decay (ms) instead. */
int snn_vr_init(snn_vr *vr, double dt, double tau, int two_exp, double tau_rise, double tau_decay, int64_t B,
                int64_t N, snn_error *err);
void snn_vr_free(snn_vr *vr);
void snn_vr_reset(snn_vr *vr);
/* Filters the chunk, advances the states, writes e = y_s - y_t into e [B][T][N] (for the backward),
 * returns the loss (NaN if B * N does not match the states or T < 1). */
double snn_vr_forward(snn_vr *vr, const uint8_t *s, const uint8_t *target, int64_t B, int64_t T, int64_t N,
                      float *e);
/* The same for a block of B trials: each trial's sum of squared differences into part[0..B) (the loss is
 * their sum in trial order over all trials, / (B_total T N)). */
void snn_vr_forward_parts(snn_vr *vr, const uint8_t *s, const uint8_t *target, int64_t B, int64_t T, int64_t N,
                          float *e, double *part);
/* Turns e (from the forward) in place into scale * dL/ds (it overwrites e; it does not add). */
void snn_vr_backward(const snn_vr *vr, float *e, int64_t B, int64_t T, int64_t N, double scale);

/* ---- van Rossum, streaming: the reverse pass without a dense e buffer ----
 * The forward keeps the filter states every K steps (K such that the backward recurrence
 * y[t-1] = (y[t] - o[t]) / k amplifies rounding by at most e^5), and the reverse pass, step by step from
 * the chunk's end, recomputes e[t] and runs the anti-causal filter. Same loss and gradient as
 * snn_vr_forward / snn_vr_backward (to rounding), at O(B N) memory instead of O(B T N). */
typedef struct snn_vr_stream {
    int64_t B, N, Tmax, K, n_ckpt, T;
    int n_comp;
    double *ckpt;   /* [n_ckpt][train][component][B*N], train 0 student, 1 teacher; at steps T-1, T-1-K, ... */
    double *cur;    /* [train][component][B*N] the reverse pass's filter values */
    double *z;      /* [component][B*N] anti-causal filter states */
    double coef;    /* scale * 2 * norm / (B T N) */
} snn_vr_stream;

int snn_vr_stream_alloc(snn_vr_stream *s, const snn_vr *vr, int64_t B, int64_t N, int64_t Tmax, snn_error *err);
void snn_vr_stream_free(snn_vr_stream *s);
/* Like snn_vr_forward (advances vr's states, returns the loss) but keeps checkpoints instead of e. */
double snn_vr_forward_stream(snn_vr *vr, snn_vr_stream *s, const uint8_t *o, const uint8_t *target, int64_t B,
                             int64_t T, int64_t N, double scale);
/* Step t of trial b of the reverse pass, called for t = T-1, T-2, ..., 0 in order (trials independent):
 * adds scale * dL/ds[b][t][:] into ds (N). o_t / target_t: the spikes of trial b at step t. */
/* The same for B of B_total trials (a block of them): the trials' sums of squared differences into
 * part[0..B) (the loss is their sum in trial order over all B_total trials, / (B_total T N)); the
 * gradient's scale counts B_total trials. */
void snn_vr_forward_stream_parts(snn_vr *vr, snn_vr_stream *s, const uint8_t *o, const uint8_t *target, int64_t B,
                                 int64_t B_total, int64_t T, int64_t N, double scale, double *part);
void snn_vr_reverse_step(snn_vr_stream *s, const snn_vr *vr, int64_t b, int64_t t, const uint8_t *o_t,
                         const uint8_t *target_t, float *ds);

/* ---- firing rate ---- */
/* rates_out (N, required): the student's pooled rates; target (N). */
double snn_rate_loss_forward(const uint8_t *s, int64_t B, int64_t T, int64_t N, double dt, const double *target,
                             double *rates_out);
void snn_rate_loss_backward(const double *rates, const double *target, int64_t B, int64_t T, int64_t N, double dt,
                            double scale, float *ds);
/* The same gradient as a per-neuron constant (it does not depend on trial or step): coef (N). */
void snn_rate_loss_grad_coef(const double *rates, const double *target, int64_t B, int64_t T, int64_t N, double dt,
                             double scale, double *coef);
/* The pooled rates of a spike array (e.g. the teacher's, as targets). */
void snn_pooled_rates(const uint8_t *s, int64_t B, int64_t T, int64_t N, double dt, double *rates_out);
/* The pooled rates from spike counts summed over B trials and T steps (the same bits as
 * snn_pooled_rates), and the loss of given rates. */
void snn_rates_from_counts(const int64_t *counts, int64_t B, int64_t T, int64_t N, double dt, double *rates_out);
double snn_rate_loss_value(const double *rates, const double *target, int64_t N);

/* ---- silent-neuron penalty ---- */
/* r_out (B * N, required): per-trial rates. alpha (N). */
double snn_silent_loss_forward(const uint8_t *s, int64_t B, int64_t T, int64_t N, double dt, const double *alpha,
                               double *r_out);
void snn_silent_loss_backward(const double *r, const double *alpha, int64_t B, int64_t T, int64_t N, double dt,
                              double scale, float *ds);

/* The same gradient as a per-(trial, neuron) constant: coef (B * N). */
void snn_silent_loss_grad_coef(const double *r, const double *alpha, int64_t B, int64_t T, int64_t N, double dt,
                               double scale, double *coef);
/* Blocks of B of B_total trials: each trial's sum over neurons into part[0..B) (the loss is their sum in
 * trial order / (B_total N)), and the coefficients with the normalisation of B_total trials. */
void snn_silent_loss_parts(const uint8_t *s, int64_t B, int64_t T, int64_t N, double dt, const double *alpha,
                           double *r_out, double *part);
void snn_silent_loss_grad_coef_block(const double *r, const double *alpha, int64_t B, int64_t B_total, int64_t T,
                                     int64_t N, double dt, double scale, double *coef);

/* ---- CV (logged only) ---- */
double snn_cv_loss(const uint8_t *s, const uint8_t *teacher, const double *target, int64_t B, int64_t T,
                   int64_t N);
/* Continues the CV loss's sum and count over B more trials (in trial, then neuron order): the loss
 * of trials split into blocks is sum / n_valid after every block in turn (0 if n_valid is 0). */
void snn_cv_loss_acc(const uint8_t *s, const uint8_t *teacher, const double *target, int64_t B, int64_t T, int64_t N,
                     double *sum, int64_t *n_valid);
/* The CV of every (trial, neuron) of one chunk, NaN below 3 spikes. cv (B * N). */
void snn_cv_values(const uint8_t *s, int64_t B, int64_t T, int64_t N, double *cv);

/* ---- membrane variance ---- */
/* vsum, vsumsq (B * N): sums of v and v^2 over the chunk's T voltages; theta, target (N). coef (2 * B * N,
 * may be NULL for the value only): a then c, scale included. Returns the unscaled loss. */
double snn_memvar_loss_forward(const double *vsum, const double *vsumsq, int64_t B, int64_t T, int64_t N,
                               const double *theta, const double *target, double scale, double *coef);

/* Continues the loss's sum over B more trials of B_total (coefficients scaled for B_total trials): the
 * loss of trials split into blocks is sum / (B_total N) after every block in turn. */
void snn_memvar_loss_acc(const double *vsum, const double *vsumsq, int64_t B, int64_t B_total, int64_t T, int64_t N,
                         const double *theta, const double *target, double scale, double *coef, double *sum);

/* ---- weight ratio ---- */
/* sf (n_types x n_types), sf_ff (n_ff x n_types); adds scale * gradient into g_sf (row exc_type only) /
 * g_sf_ff (every entry); either may be NULL. Returns the unscaled loss; NaN if exc_type is out of range. */
double snn_weight_ratio_loss(const double *sf, const double *sf_ff, int n_types, int n_ff, int exc_type,
                             double target, double scale, double *g_sf, double *g_sf_ff);

#endif
