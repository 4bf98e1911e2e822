#include "train/trainer.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "core/par.h"
#include "core/progress.h"
#include "io/npz.h"
#include "model/spike_stats.h"
#include "train/forced_fit.h"

static volatile sig_atomic_t g_stop_requested = 0;
void snn_trainer_request_stop(void) { g_stop_requested = 1; }

static const char *const k_loss_names[SNN_N_LOSSES] = {"van_rossum",        "firing_rate",  "silent_penalty", "cv",
                                                       "membrane_variance", "weight_ratio", "spike_time"};
static const char *const k_loss_titles[SNN_N_LOSSES] = {"Van Rossum Loss",        "FR Loss",
                                                        "Silent Penalty Loss",    "CV Loss",
                                                        "Membrane Variance Loss", "Weight Ratio Loss",
                                                        "Spike-time Loss"};

static int64_t n_sf(const snn_trainer *tr) { return (int64_t)tr->n_types * tr->n_types; }
static int64_t n_sf_ff(const snn_trainer *tr) { return (int64_t)tr->n_ff * tr->n_types; }

void snn_trainer_apply_params(snn_trainer *tr, const double *params) {
    snn_network *net = tr->net;
    if (tr->train_w) {
        for (int64_t e = 0; e < net->rec.nnz; e++) net->rec.w[e] = (float)exp(params[e]);
        for (int64_t e = 0; e < net->ff.nnz; e++) net->ff.w[e] = (float)exp(params[net->rec.nnz + e]);
        snn_network_set_scaling(net, NULL, NULL);
    } else {
        snn_network_set_scaling(net, params, params + n_sf(tr));
    }
}

int snn_trainer_check_ranks(const snn_params *p, int B, snn_error *err) {
    const snn_train_params *tp = &p->train;
    const int n_ranks = snn_par_size();
    if (n_ranks == 1) return SNN_OK;
    const char *why = NULL;
    if (tp->optimisable == SNN_OPT_WEIGHTS)
        why = "training the weights themselves ([training] optimisable = \"weights\") runs on one rank only (its "
              "per-synapse sums over trials are taken in groups of trials that a split would change)";
    else if (B < n_ranks)
        why = "more MPI ranks than trials: every rank needs at least one trial";
    if (!why) return SNN_OK;
    return snn_fail(err, SNN_EINPUT, "%s: %s (%d trials, %d MPI ranks); run it without mpirun or with -np 1", p->path,
                    why, B, n_ranks);
}

int snn_trainer_init(snn_trainer *tr, const snn_params *p, snn_network *net, int B, int64_t L, int64_t n_chunks,
                     int64_t iterations, const char *out_dir, const char *input_path, snn_error *err) {
    memset(tr, 0, sizeof *tr);
    const snn_train_params *tp = &p->train;
    tr->p = p;
    tr->net = net;
    tr->B = B;
    /* this rank's trials */
    const int n_ranks = snn_par_size();
    {
        int64_t first = 0, end = B;
        snn_par_block(B, snn_par_rank(), n_ranks, &first, &end);
        tr->b0 = first;
        tr->Bl = (int)(end - first);
    }
    int rc0 = snn_trainer_check_ranks(p, B, err);
    if (rc0) return rc0;
    const int Bl = tr->Bl;
    tr->L = L;
    tr->n_chunks = n_chunks;
    tr->iterations = iterations;
    tr->n_types = net->n_types;
    tr->n_ff = net->n_ff_types;
    tr->train_w = tp->optimisable == SNN_OPT_WEIGHTS;
    tr->train_sf = tp->optimisable == SNN_OPT_SCALING_FACTORS || tp->optimisable == SNN_OPT_SCALING_FACTORS_RECURRENT;
    tr->train_sf_ff =
        tp->optimisable == SNN_OPT_SCALING_FACTORS || tp->optimisable == SNN_OPT_SCALING_FACTORS_FEEDFORWARD;
    tr->forced = p->stage == SNN_STAGE_TRAIN && tp->method == SNN_METHOD_TEACHER_FORCED;
    tr->lbfgs = tr->forced && tp->optimiser == SNN_OPTIMISER_LBFGS;
    /* the best checkpoint of a stage-4 Adam run is chosen on a fixed evaluation, not on whichever chunks
     * the last accumulation window trained on */
    tr->eval_chunks = 0;
    if (p->stage == SNN_STAGE_TRAIN && !tr->lbfgs) {
        int64_t e = tp->eval_chunks > 0 ? tp->eval_chunks : tp->accumulation_interval;
        tr->eval_chunks = e < n_chunks ? e : n_chunks;
    }
    tr->eval_loss = NAN;
    tr->best_loss = INFINITY;
    snprintf(tr->out_dir, sizeof tr->out_dir, "%s", out_dir);
    snprintf(tr->input_path, sizeof tr->input_path, "%s", input_path ? input_path : "");
    const int64_t n = net->n, n_in = net->n_in;
    tr->n_params = tr->train_w ? net->rec.nnz + net->ff.nnz : n_sf(tr) + n_sf_ff(tr);
    size_t np = (size_t)tr->n_params;
    tr->params = snn_calloc(np + 1, sizeof(double), "parameters", err);
    tr->grad_acc = snn_calloc(np + 1, sizeof(double), "accumulated gradients", err);
    tr->grad_it = snn_calloc(np + 1, sizeof(double), "gradients", err);
    tr->last_grad = snn_calloc(np + 1, sizeof(double), "gradient snapshot", err);
    tr->best_params = snn_calloc(np + 1, sizeof(double), "best parameters", err);
    tr->window_total = snn_calloc((size_t)tp->accumulation_interval, sizeof(double), "loss window", err);
    tr->log_losses = snn_calloc(SNN_N_LOSSES + 1, sizeof(double), "loss sums", err);
    /* plot_size chunks of trial 0: checked, since plot_size comes from the parameter file */
    size_t stats_bytes = 0;
    const int64_t stats_dims[3] = {tp->plot_size, L, n};
    if (snn_size_product(stats_dims, 3, 1, &stats_bytes, "statistics window ([training] plot_size)", err)) {
        snn_trainer_free(tr);
        return SNN_EINPUT;
    }
    tr->stats_win = snn_calloc(stats_bytes, 1, "statistics window", err);
    size_t bln = (size_t)Bl * (size_t)L * (size_t)n;
    tr->in = snn_calloc((size_t)Bl * (size_t)L * (size_t)(n_in ? n_in : 1), 1, "input spikes", err);
    tr->target = snn_calloc(bln, 1, "teacher spikes", err);
    tr->out = snn_calloc(bln, 1, "student spikes", err);
    tr->c_fr = snn_calloc((size_t)n, sizeof(double), "firing-rate gradients", err);
    tr->c_sil = snn_calloc((size_t)Bl * n, sizeof(double), "silent-penalty gradients", err);
    tr->vcoef = snn_calloc(2 * (size_t)Bl * n, sizeof(double), "voltage-loss coefficients", err);
    tr->vsum = snn_calloc((size_t)Bl * n, sizeof(double), "voltage sums", err);
    tr->vsumsq = snn_calloc((size_t)Bl * n, sizeof(double), "voltage sums", err);
    tr->rates = snn_calloc((size_t)n, sizeof(double), "rates", err);
    tr->rates_target = snn_calloc((size_t)n, sizeof(double), "target rates", err);
    tr->r_trial = snn_calloc((size_t)Bl * n, sizeof(double), "per-trial rates", err);
    tr->parts = snn_calloc((size_t)B * (size_t)(net->n_groups + 1) * (size_t)net->n_types + 1, sizeof(double),
                           "per-trial sums", err);
    tr->counts = snn_calloc((size_t)n + 1, sizeof(int64_t), "spike counts", err);
    if (n_ranks > 1 && snn_par_rank() == 0) {
        /* v, four van Rossum filters and the conductances of every trial */
        const size_t bn = (size_t)B * (size_t)n;
        tr->full_state = snn_calloc(5 * bn * sizeof(double) + bn * sizeof(int32_t) +
                                        bn * 2 * (size_t)net->n_cols * sizeof(snn_real) + 1, 1, "checkpoint states", err);
        if (!tr->full_state) {
            snn_trainer_free(tr);
            return SNN_ERUN;
        }
    }
    tr->alpha_n = snn_calloc((size_t)n, sizeof(double), "silent-penalty strengths", err);
    tr->theta_n = snn_calloc((size_t)n, sizeof(double), "thresholds", err);
    tr->ratio_n = snn_calloc((size_t)n, sizeof(double), "threshold ratios", err);
    tr->cv_target_n = snn_calloc((size_t)n, sizeof(double), "target CVs", err);
    if (tr->train_w) {
        tr->gw = snn_calloc((size_t)net->rec.nnz + 1, sizeof(double), "weight gradients", err);
        tr->gw_ff = snn_calloc((size_t)net->ff.nnz + 1, sizeof(double), "weight gradients", err);
    }
    if (!tr->params || !tr->grad_acc || !tr->grad_it || !tr->last_grad || !tr->best_params || !tr->window_total ||
        !tr->log_losses || !tr->stats_win || !tr->in || !tr->target || !tr->out || !tr->c_fr || !tr->c_sil || !tr->vcoef ||
        !tr->vsum || !tr->vsumsq || !tr->rates || !tr->rates_target || !tr->r_trial || !tr->alpha_n ||
        !tr->theta_n || !tr->ratio_n || !tr->cv_target_n || !tr->parts || !tr->counts || (tr->train_w && (!tr->gw || !tr->gw_ff))) {
        snn_trainer_free(tr);
        return SNN_ERUN;
    }
    for (int64_t j = 0; j < n; j++) {
        int t = net->type[j];
        tr->alpha_n[j] = tp->alpha[t];
        tr->theta_n[j] = net->theta[j];
        tr->ratio_n[j] = tp->threshold_ratio[t];
        tr->cv_target_n[j] = tp->target_cv[t];
        if (tp->has_target_rates) tr->rates_target[j] = tp->target_rate[t];
    }
    if (tr->train_w) {
        for (int64_t e = 0; e < net->rec.nnz; e++) tr->params[e] = log(net->rec.w[e] > 0 ? net->rec.w[e] : 1e-8);
        for (int64_t e = 0; e < net->ff.nnz; e++)
            tr->params[net->rec.nnz + e] = log(net->ff.w[e] > 0 ? net->ff.w[e] : 1e-8);
    } else {
        for (int a = 0; a < tr->n_types; a++)
            for (int b = 0; b < tr->n_types; b++) tr->params[a * tr->n_types + b] = net->sf[a][b];
        for (int a = 0; a < tr->n_ff; a++)
            for (int b = 0; b < tr->n_types; b++) tr->params[n_sf(tr) + a * tr->n_types + b] = net->sf_ff[a][b];
    }
    snn_trainer_apply_params(tr, tr->params);
    memcpy(tr->best_params, tr->params, np * sizeof(double));
    int rc = snn_adam_init(&tr->adam, tr->n_params, tp->learning_rate, err);
    if (!rc) rc = snn_state_alloc(&tr->st, net, Bl, err);
    if (!rc && !tr->forced) rc = snn_tape_alloc(&tr->tape, net, Bl, L, err);
    if (!rc && !tr->forced) rc = snn_backward_work_alloc(&tr->bw, net, Bl, err);
    tr->vr_on = tp->loss_weight[SNN_LOSS_VAN_ROSSUM] > 0;
    if (!rc && tr->vr_on)
        rc = snn_vr_init(&tr->vr, net->dt, tp->van_rossum_tau, tp->has_van_rossum_rise_decay, tp->van_rossum_tau_rise,
                         tp->van_rossum_tau_decay, Bl, n, err);
    if (!rc && tr->vr_on) rc = snn_vr_stream_alloc(&tr->vrs, &tr->vr, Bl, n, L, err);
    if (!rc && tr->eval_chunks > 0 && !tr->forced) {
        rc = snn_state_alloc(&tr->st_eval, net, Bl, err);
        if (!rc && tr->vr_on)
            rc = snn_vr_init(&tr->vr_eval, net->dt, tp->van_rossum_tau, tp->has_van_rossum_rise_decay,
                             tp->van_rossum_tau_rise, tp->van_rossum_tau_decay, Bl, n, err);
        if (!rc && tr->vr_on) {
            tr->vr_e = snn_calloc(bln, sizeof(float), "van Rossum evaluation", err);
            if (!tr->vr_e) rc = SNN_ERUN;
        }
    }
    if (!rc && tr->forced) rc = snn_fit_init(tr, err);
    if (rc) snn_trainer_free(tr);
    return rc;
}

void snn_trainer_free(snn_trainer *tr) {
    if (tr->metrics_open) snn_metrics_close(&tr->metrics);
    double *dbl[] = {tr->params, tr->grad_acc, tr->grad_it, tr->last_grad, tr->best_params, tr->window_total,
                     tr->log_losses, tr->vcoef, tr->vsum, tr->vsumsq, tr->rates, tr->rates_target, tr->r_trial,
                     tr->alpha_n, tr->theta_n, tr->ratio_n, tr->cv_target_n, tr->gw, tr->gw_ff, tr->c_fr, tr->c_sil,
                     tr->parts, tr->full_state};
    snn_free(tr->counts);
    for (size_t i = 0; i < sizeof dbl / sizeof *dbl; i++) snn_free(dbl[i]);
    snn_free(tr->stats_win);
    snn_free(tr->in);
    snn_free(tr->target);
    snn_free(tr->out);
    snn_adam_free(&tr->adam);
    snn_state_free(&tr->st);
    snn_tape_free(&tr->tape);
    snn_backward_work_free(&tr->bw);
    if (tr->vr_on) {
        snn_vr_free(&tr->vr);
        snn_vr_stream_free(&tr->vrs);
    }
    snn_state_free(&tr->st_eval);
    if (tr->vr_on && tr->vr_eval.ys_d) snn_vr_free(&tr->vr_eval);
    snn_free(tr->vr_e);
    if (tr->forced) snn_fit_free(tr);
    memset(tr, 0, sizeof *tr);
}

/* ---- metrics ---- */

typedef struct columns {
    int n;
    char names[512][160];
} columns;

static void add_col(columns *c, const char *fmt, const char *a, const char *b) {
    if (c->n < 512) snprintf(c->names[c->n++], 160, fmt, a, b);
}

static void metric_columns(const snn_trainer *tr, columns *c) {
    const snn_params *p = tr->p;
    c->n = 0;
    add_col(c, "total_loss%s%s", "", "");
    for (int k = 0; k < SNN_N_LOSSES; k++)
        if (p->train.loss_weight[k] > 0) add_col(c, "%s_loss%s", k_loss_names[k], "");
    if (tr->eval_chunks > 0) add_col(c, "eval_loss%s%s", "", "");
    for (int t = 0; t < tr->n_types && !tr->forced; t++) {
        const char *tn = p->rec.type_names[t];
        add_col(c, "firing_rate/mean/%s%s", tn, "");
        add_col(c, "firing_rate/std/%s%s", tn, "");
        add_col(c, "cv/mean/%s%s", tn, "");
        add_col(c, "cv/std/%s%s", tn, "");
        add_col(c, "fraction_active/%s%s", tn, "");
    }
    /* a forced student has no spikes of its own to take rates from: how well its v reproduces the
     * teacher's spikes (v > theta at the teacher's spike steps, and elsewhere) */
    for (int t = 0; t < tr->n_types && tr->forced; t++) {
        add_col(c, "spike_time/reproduced/%s%s", p->rec.type_names[t], "");
        add_col(c, "spike_time/extra_rate/%s%s", p->rec.type_names[t], "");
    }
    if (tr->lbfgs) {
        add_col(c, "lbfgs/evaluations%s%s", "", "");
        add_col(c, "lbfgs/step%s%s", "", "");
    }
    if (!tr->train_w) {
        for (int a = 0; a < tr->n_types; a++)
            for (int b = 0; b < tr->n_types; b++) {
                add_col(c, "scaling_factors/recurrent/%s_to_%s/value", p->rec.type_names[a], p->rec.type_names[b]);
                if (tr->has_target_sf)
                    add_col(c, "scaling_factors/recurrent/%s_to_%s/target", p->rec.type_names[a], p->rec.type_names[b]);
            }
        for (int a = 0; a < tr->n_ff; a++)
            for (int b = 0; b < tr->n_types; b++) {
                add_col(c, "scaling_factors/feedforward/%s_to_%s/value", p->ff.type_names[a], p->rec.type_names[b]);
                if (tr->has_target_sf_ff)
                    add_col(c, "scaling_factors/feedforward/%s_to_%s/target", p->ff.type_names[a], p->rec.type_names[b]);
            }
        if (tr->train_sf)
            for (int a = 0; a < tr->n_types; a++)
                for (int b = 0; b < tr->n_types; b++)
                    add_col(c, "gradients/scaling_factors/recurrent/%s_to_%s", p->rec.type_names[a], p->rec.type_names[b]);
        if (tr->train_sf_ff)
            for (int a = 0; a < tr->n_ff; a++)
                for (int b = 0; b < tr->n_types; b++)
                    add_col(c, "gradients/scaling_factors/feedforward/%s_to_%s", p->ff.type_names[a], p->rec.type_names[b]);
    }
}

/* Trial 0's spikes of the statistics window in time order; returns the number of steps. */
static int64_t stats_window(const snn_trainer *tr, uint8_t *buf) {
    const int64_t P = tr->p->train.plot_size, chunk = tr->L * tr->net->n;
    int64_t filled = tr->stats_filled < P ? tr->stats_filled : P;
    int64_t first = tr->stats_filled - filled;
    for (int64_t q = 0; q < filled; q++)
        memcpy(buf + q * chunk, tr->stats_win + ((first + q) % P) * chunk, (size_t)chunk);
    return filled * tr->L;
}

typedef struct row_stats {
    double mean_rate, mean_cv, active;
} row_stats;

static void forced_row_stats(snn_trainer *tr, row_stats *rs, double *v, uint8_t *present, int *qp);
static int finish_row(snn_trainer *tr, double *v, uint8_t *present, int q, snn_error *err);

static int log_row(snn_trainer *tr, row_stats *rs, snn_error *err) {
    const snn_params *p = tr->p;
    const int64_t n = tr->net->n;
    double v[512];
    uint8_t present[512];
    memset(present, 1, sizeof present);
    int q = 0;
    int64_t count = tr->log_count ? tr->log_count : 1;
    v[q++] = tr->log_losses[SNN_N_LOSSES] / (double)count;
    for (int k = 0; k < SNN_N_LOSSES; k++)
        if (p->train.loss_weight[k] > 0) v[q++] = tr->log_losses[k] / (double)count;
    if (tr->eval_chunks > 0) {
        present[q] = (uint8_t)!isnan(tr->eval_loss);
        v[q++] = tr->eval_loss;
    }
    if (tr->forced) {
        forced_row_stats(tr, rs, v, present, &q);
        return finish_row(tr, v, present, q, err);
    }
    uint8_t *win = malloc((size_t)(p->train.plot_size * tr->L * n) + 1);
    double *rates = malloc((size_t)n * sizeof *rates), *cv = malloc((size_t)n * sizeof *cv);
    int64_t *counts = malloc((size_t)n * sizeof *counts);
    if (!win || !rates || !cv || !counts) {
        free(win);
        free(rates);
        free(cv);
        free(counts);
        return snn_fail(err, SNN_ERUN, "out of memory computing statistics");
    }
    int64_t Tw = stats_window(tr, win);
    snn_spike_counts(win, 1, Tw, n, counts);
    double secs = (double)Tw * tr->net->dt / 1000.0;
    for (int64_t j = 0; j < n; j++) rates[j] = secs > 0 ? (double)counts[j] / secs : 0;
    snn_cv_values(win, 1, Tw, n, cv);
    double all_rate = 0, all_cv = 0, all_active = 0;
    int64_t n_cv = 0;
    for (int64_t j = 0; j < n; j++) {
        all_rate += rates[j];
        all_active += rates[j] > 0;
        if (!isnan(cv[j])) {
            all_cv += cv[j];
            n_cv++;
        }
    }
    rs->mean_rate = all_rate / (double)n;
    rs->mean_cv = n_cv ? all_cv / (double)n_cv : NAN;
    rs->active = all_active / (double)n;
    for (int t = 0; t < tr->n_types; t++) {
        /* population statistics with ddof 0 (the reference's trainer statistics) */
        double s = 0, s2 = 0, cs = 0, cs2 = 0;
        int64_t m = 0, mc = 0, act = 0;
        for (int64_t j = 0; j < n; j++) {
            if (tr->net->type[j] != t) continue;
            m++;
            s += rates[j];
            s2 += rates[j] * rates[j];
            act += rates[j] > 0;
            if (!isnan(cv[j])) {
                mc++;
                cs += cv[j];
                cs2 += cv[j] * cv[j];
            }
        }
        double mean = m ? s / (double)m : NAN, cmean = mc ? cs / (double)mc : NAN;
        v[q++] = mean;
        v[q++] = m ? sqrt(fmax(0, s2 / (double)m - mean * mean)) : NAN;
        v[q++] = cmean;
        v[q++] = mc ? sqrt(fmax(0, cs2 / (double)mc - cmean * cmean)) : NAN;
        v[q++] = m ? (double)act / (double)m : NAN;
    }
    free(win);
    free(rates);
    free(cv);
    free(counts);
    return finish_row(tr, v, present, q, err);
}

/* The spike-reproduction columns of a forced run from the log window's counts. */
static void forced_row_stats(snn_trainer *tr, row_stats *rs, double *v, uint8_t *present, int *qp) {
    const snn_forced_sums *s = &tr->win_sums;
    int q = *qp;
    int64_t tsp = 0, rep = 0, ext = 0, ns = 0;
    for (int t = 0; t < tr->n_types; t++) {
        tsp += s->teacher_spikes[t];
        rep += s->reproduced[t];
        ext += s->extra[t];
        ns += s->neuron_steps[t];
        present[q] = s->teacher_spikes[t] > 0;
        v[q++] = s->teacher_spikes[t] > 0 ? (double)s->reproduced[t] / (double)s->teacher_spikes[t] : NAN;
        present[q] = s->neuron_steps[t] > 0;
        v[q++] = s->neuron_steps[t] > 0 ? (double)s->extra[t] / ((double)s->neuron_steps[t] * tr->net->dt / 1000.0) : NAN;
    }
    rs->mean_rate = tsp > 0 ? (double)rep / (double)tsp : NAN; /* reproduced fraction */
    rs->mean_cv = ns > 0 ? (double)ext / ((double)ns * tr->net->dt / 1000.0) : NAN; /* extra rate */
    rs->active = NAN;
    if (tr->lbfgs) {
        v[q++] = (double)tr->lb.last_evals;
        v[q++] = tr->lb.last_step;
    }
    *qp = q;
}

static int finish_row(snn_trainer *tr, double *v, uint8_t *present, int q, snn_error *err) {
    columns c;
    metric_columns(tr, &c);
    if (!tr->train_w) {
        for (int a = 0; a < tr->n_types * tr->n_types; a++) {
            v[q++] = tr->params[a];
            if (tr->has_target_sf) v[q++] = tr->target_sf[a];
        }
        for (int a = 0; a < tr->n_ff * tr->n_types; a++) {
            v[q++] = tr->params[n_sf(tr) + a];
            if (tr->has_target_sf_ff) v[q++] = tr->target_sf_ff[a];
        }
        if (tr->train_sf)
            for (int a = 0; a < tr->n_types * tr->n_types; a++) {
                present[q] = (uint8_t)tr->has_last_grad;
                v[q++] = tr->last_grad[a];
            }
        if (tr->train_sf_ff)
            for (int a = 0; a < tr->n_ff * tr->n_types; a++) {
                present[q] = (uint8_t)tr->has_last_grad;
                v[q++] = tr->last_grad[n_sf(tr) + a];
            }
    }
    int rc = snn_metrics_row(&tr->metrics, tr->iteration, v, present, err);
    if (!rc && tr->hooks.on_row) {
        const char *names[512];
        for (int i = 0; i < c.n; i++) names[i] = c.names[i];
        rc = tr->hooks.on_row(tr->hooks.ctx, tr->iteration, c.n, names, v, present, err);
    }
    return rc;
}

/* ---- losses over the ranks' trials (core/par.h; each is one process's arithmetic, the same bits) ---- */

/* The sum in trial order of one partial sum per trial: this rank's are in tr->parts[b0 ..]. */
static double trial_sum(snn_trainer *tr) {
    snn_par_allgather_blocks(tr->parts, tr->B, sizeof(double));
    double total = 0;
    for (int64_t b = 0; b < tr->B; b++) total += tr->parts[b];
    return total;
}

/* Pooled rates of the spikes s of this rank's trials over every rank's. */
static void pooled_rates(snn_trainer *tr, const uint8_t *s, double *rates) {
    const int64_t n = tr->net->n;
    snn_spike_counts(s, tr->Bl, tr->L, n, tr->counts);
    snn_par_allreduce_sum_i64(tr->counts, n);
    snn_rates_from_counts(tr->counts, tr->B, tr->L, n, tr->net->dt, rates);
}

static double rate_loss(snn_trainer *tr, double scale, double *coef) {
    const snn_train_params *tp = &tr->p->train;
    const int64_t n = tr->net->n;
    if (!tp->has_target_rates) pooled_rates(tr, tr->target, tr->rates_target);
    pooled_rates(tr, tr->out, tr->rates);
    if (coef) snn_rate_loss_grad_coef(tr->rates, tr->rates_target, tr->B, tr->L, n, tr->net->dt, scale, coef);
    return snn_rate_loss_value(tr->rates, tr->rates_target, n);
}

static double silent_loss(snn_trainer *tr, double scale, double *coef) {
    const int64_t n = tr->net->n;
    snn_silent_loss_parts(tr->out, tr->Bl, tr->L, n, tr->net->dt, tr->alpha_n, tr->r_trial, tr->parts + tr->b0);
    if (coef) snn_silent_loss_grad_coef_block(tr->r_trial, tr->alpha_n, tr->Bl, tr->B, tr->L, n, tr->net->dt, scale, coef);
    return trial_sum(tr) / ((double)tr->B * (double)n);
}

/* one process's single accumulator over (trial, neuron), carried from rank to rank */
typedef struct chain_sum {
    double sum;
    int64_t count;
} chain_sum;

static double cv_loss(snn_trainer *tr) {
    chain_sum c = {0, 0};
    snn_par_chain_in(&c, sizeof c);
    snn_cv_loss_acc(tr->out, tr->target, tr->p->train.has_target_cvs ? tr->cv_target_n : NULL, tr->Bl, tr->L,
                    tr->net->n, &c.sum, &c.count);
    snn_par_chain_out(&c, sizeof c);
    return c.count ? c.sum / (double)c.count : 0.0;
}

static double memvar_loss(snn_trainer *tr, double scale, double *coef) {
    chain_sum c = {0, 0};
    snn_par_chain_in(&c, sizeof c);
    snn_memvar_loss_acc(tr->vsum, tr->vsumsq, tr->Bl, tr->B, tr->L, tr->net->n, tr->theta_n, tr->ratio_n, scale, coef,
                        &c.sum);
    snn_par_chain_out(&c, sizeof c);
    return c.sum / (double)((int64_t)tr->B * tr->net->n);
}

/* ---- one iteration ---- */

/* dL/ds at step t of trial b for the reverse pass */
static void trainer_fill(void *ctx, int b, int64_t t, float *ds) {
    snn_trainer *tr = ctx;
    const int64_t n = tr->net->n, L = tr->L;
    const double *w = tr->p->train.loss_weight;
    const double *cf = tr->c_fr, *cs = tr->c_sil + (size_t)b * n;
    const int fr = w[SNN_LOSS_FIRING_RATE] > 0, sil = w[SNN_LOSS_SILENT_PENALTY] > 0;
    for (int64_t j = 0; j < n; j++) ds[j] = (float)((fr ? cf[j] : 0.0) + (sil ? cs[j] : 0.0));
    if (tr->vr_on)
        snn_vr_reverse_step(&tr->vrs, &tr->vr, b, t, tr->out + ((size_t)b * L + t) * n,
                            tr->target + ((size_t)b * L + t) * n, ds);
}

static double iteration(snn_trainer *tr, double losses[SNN_N_LOSSES]) {
    const snn_params *p = tr->p;
    const snn_train_params *tp = &p->train;
    snn_network *net = tr->net;
    const int B = tr->Bl; /* this rank's trials (tr->B over every rank) */
    const int64_t L = tr->L, n = net->n;
    const double *w = tp->loss_weight;
    snn_forward_chunk_taped(net, &tr->st, L, tr->in, tr->out, NULL, 0, &tr->tape);
    memset(losses, 0, SNN_N_LOSSES * sizeof(double));
    /* the spike losses' gradients are not stored per step: the rate and silence terms are constants
     * in time, and the van Rossum term is recomputed step by step in the reverse pass (trainer_fill) */
    if (tr->vr_on) {
        snn_vr_forward_stream_parts(&tr->vr, &tr->vrs, tr->out, tr->target, B, tr->B, L, n, w[SNN_LOSS_VAN_ROSSUM],
                                    tr->parts + tr->b0);
        losses[SNN_LOSS_VAN_ROSSUM] = trial_sum(tr) / ((double)tr->B * (double)L * (double)n);
    }
    if (w[SNN_LOSS_FIRING_RATE] > 0) losses[SNN_LOSS_FIRING_RATE] = rate_loss(tr, w[SNN_LOSS_FIRING_RATE], tr->c_fr);
    if (w[SNN_LOSS_SILENT_PENALTY] > 0)
        losses[SNN_LOSS_SILENT_PENALTY] = silent_loss(tr, w[SNN_LOSS_SILENT_PENALTY], tr->c_sil);
    if (w[SNN_LOSS_CV] > 0) losses[SNN_LOSS_CV] = cv_loss(tr);
    const double *vcoef = NULL;
    if (w[SNN_LOSS_MEMBRANE_VARIANCE] > 0) {
        /* sums over the chunk's voltages after each step, read off the tape (slot t+1 holds v after
         * step t, except for neurons that spiked at t, whose v after the step is U_reset) */
#pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++) {
            double *s1 = tr->vsum + (size_t)b * n, *s2 = tr->vsumsq + (size_t)b * n;
            for (int64_t j = 0; j < n; j++) s1[j] = s2[j] = 0;
            for (int64_t t = 0; t < L; t++) {
                const uint16_t *fl = snn_tape_flags(&tr->tape, b, t);
                const snn_real *tv = snn_tape_v(&tr->tape, b, t + 1);
                for (int64_t j = 0; j < n; j++) {
                    double v = (fl[j] & 1) ? (double)net->u_reset[j] : (double)net->theta[j] + (double)tv[j];
                    s1[j] += v;
                    s2[j] += v * v;
                }
            }
        }
        losses[SNN_LOSS_MEMBRANE_VARIANCE] = memvar_loss(tr, w[SNN_LOSS_MEMBRANE_VARIANCE], tr->vcoef);
        vcoef = tr->vcoef;
    }
    memset(tr->grad_it, 0, (size_t)tr->n_params * sizeof(double));
    snn_grads grads = {0};
    if (tr->train_w) {
        memset(tr->gw, 0, (size_t)net->rec.nnz * sizeof(double));
        memset(tr->gw_ff, 0, (size_t)net->ff.nnz * sizeof(double));
        grads.w = tr->gw;
        grads.w_ff = tr->gw_ff;
    } else {
        if (tr->train_sf) grads.sf = tr->grad_it;
        if (tr->train_sf_ff) grads.sf_ff = tr->grad_it + n_sf(tr);
    }
    snn_spike_grad_source src = {trainer_fill, tr};
    snn_backward_opts bo = {.surrogate_cutoff = tp->surrogate_cutoff};
    snn_backward_chunk_opts(net, &tr->tape, L, tr->in, &src, vcoef, tp->surrgrad_scale, &grads, &tr->bw, &bo);
    if (!tr->train_w) {
        /* the scaling-factor gradients again, over every rank's trials in trial order (on one rank the
         * same sums as the reverse pass's) */
        const size_t per = (size_t)net->n_groups * (size_t)net->n_types;
        memcpy(tr->parts + (size_t)tr->b0 * per, tr->bw.g_trial, (size_t)B * per * sizeof(double));
        snn_par_allgather_blocks(tr->parts, tr->B, per * sizeof(double));
        memset(tr->grad_it, 0, (size_t)tr->n_params * sizeof(double));
        snn_grads_add_trials(net, tr->parts, tr->B, &grads);
    }
    if (tr->train_w) {
        /* theta = log w: dL/dtheta = dL/dw * w */
        for (int64_t e = 0; e < net->rec.nnz; e++) tr->grad_it[e] = tr->gw[e] * (double)net->rec.w[e];
        for (int64_t e = 0; e < net->ff.nnz; e++)
            tr->grad_it[net->rec.nnz + e] = tr->gw_ff[e] * (double)net->ff.w[e];
    } else if (w[SNN_LOSS_WEIGHT_RATIO] > 0) {
        double g_sf[SNN_MAX_TYPES * SNN_MAX_TYPES] = {0}, g_ff[SNN_MAX_TYPES * SNN_MAX_TYPES] = {0};
        losses[SNN_LOSS_WEIGHT_RATIO] =
            snn_weight_ratio_loss(tr->params, tr->params + n_sf(tr), tr->n_types, tr->n_ff, 0, tp->target_weight_ratio,
                                  w[SNN_LOSS_WEIGHT_RATIO], g_sf, g_ff);
        if (tr->train_sf)
            for (int64_t a = 0; a < n_sf(tr); a++) tr->grad_it[a] += g_sf[a];
        if (tr->train_sf_ff)
            for (int64_t a = 0; a < n_sf_ff(tr); a++) tr->grad_it[n_sf(tr) + a] += g_ff[a];
    }
    double total = 0;
    for (int k = 0; k < SNN_N_LOSSES; k++)
        if (w[k] > 0) total += w[k] * losses[k];
    for (int64_t a = 0; a < tr->n_params; a++) tr->grad_acc[a] += tr->grad_it[a];
    return total;
}

static void print_block(const snn_trainer *tr, const row_stats *rs, double secs_per_it) {
    const snn_params *p = tr->p;
    int64_t count = tr->log_count ? tr->log_count : 1;
    printf("\nEpoch %lld/%lld:\n", (long long)tr->iteration, (long long)tr->iterations);
    for (int k = 0; k < SNN_N_LOSSES; k++)
        if (p->train.loss_weight[k] > 0) printf("  %s: %.6f\n", k_loss_titles[k], tr->log_losses[k] / (double)count);
    printf("  Total Loss: %.6f\n", tr->log_losses[SNN_N_LOSSES] / (double)count);
    if (tr->eval_chunks > 0 && !isnan(tr->eval_loss)) printf("  Evaluation Loss: %.6f\n", tr->eval_loss);
    if (tr->forced) {
        /* forced_row_stats put the reproduced fraction and the extra rate there */
        printf("  Teacher spikes reproduced: %.1f%%\n", 100.0 * rs->mean_rate);
        printf("  Extra spikes: %.3f Hz per neuron\n", rs->mean_cv);
        if (tr->lbfgs)
            printf("  L-BFGS: %d evaluations, step %.3g\n", tr->lb.last_evals, tr->lb.last_step);
    } else {
        printf("  Mean FR: %.2f Hz\n", rs->mean_rate);
        printf("  Mean CV: %.2f\n", rs->mean_cv);
        printf("  Active fraction: %.2f\n", rs->active);
    }
    if (!tr->train_w) {
        printf("  Scaling factors:");
        for (int64_t a = 0; a < n_sf(tr) + n_sf_ff(tr); a++) printf(" %.4f", tr->params[a]);
        printf("\n");
    }
    printf("  Seconds per epoch: %.3f\n", secs_per_it);
    fflush(stdout);
}

static int checkpoint_path(const snn_trainer *tr, const char *name, char *out, size_t n, snn_error *err) {
    char dir[SNN_PATH_MAX];
    int rc = snn_path_join(dir, sizeof dir, tr->out_dir, "checkpoints", err);
    if (!rc) rc = snn_mkdirs(dir, err);
    if (!rc) rc = snn_path_join(out, n, dir, name, err);
    return rc;
}

int snn_trainer_finished(const snn_trainer *tr) { return tr->iteration >= tr->iterations || tr->converged; }

/* The total loss of the current parameters on chunks 0 .. eval_chunks-1 from the initial state, values
 * only (closed loop: a separate state and van Rossum filter; the CV loss counts as it does in training). */
static int closed_loop_eval(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, double *total, snn_error *err) {
    const snn_train_params *tp = &tr->p->train;
    snn_network *net = tr->net;
    const int B = tr->Bl; /* this rank's trials */
    const int64_t L = tr->L, n = net->n, E = tr->eval_chunks;
    const double *w = tp->loss_weight;
    double sums[SNN_N_LOSSES] = {0};
    snn_state_reset(&tr->st_eval, net);
    if (tr->vr_on) snn_vr_reset(&tr->vr_eval);
    snn_track tracks[64];
    const int memvar = w[SNN_LOSS_MEMBRANE_VARIANCE] > 0 && tr->B <= 64;
    for (int64_t c = 0; c < E; c++) {
        int rc = read_chunk(ctx, c, tr->b0, B, tr->in, tr->target, err);
        rc = snn_par_sync(rc, err);
        if (rc) return rc;
        if (memvar) {
            memset(tr->vsum, 0, (size_t)B * n * sizeof(double));
            memset(tr->vsumsq, 0, (size_t)B * n * sizeof(double));
            for (int b = 0; b < B; b++)
                tracks[b] = (snn_track){.trial = b, .v_sum = tr->vsum + (size_t)b * n, .v_sumsq = tr->vsumsq + (size_t)b * n};
        }
        snn_forward_chunk(net, &tr->st_eval, L, tr->in, tr->out, memvar ? tracks : NULL, memvar ? B : 0);
        if (tr->vr_on) {
            snn_vr_forward_parts(&tr->vr_eval, tr->out, tr->target, B, L, n, tr->vr_e, tr->parts + tr->b0);
            sums[SNN_LOSS_VAN_ROSSUM] += trial_sum(tr) / ((double)tr->B * (double)L * (double)n);
        }
        if (w[SNN_LOSS_FIRING_RATE] > 0) sums[SNN_LOSS_FIRING_RATE] += rate_loss(tr, 0.0, NULL);
        if (w[SNN_LOSS_SILENT_PENALTY] > 0) sums[SNN_LOSS_SILENT_PENALTY] += silent_loss(tr, 0.0, NULL);
        if (w[SNN_LOSS_CV] > 0) sums[SNN_LOSS_CV] += cv_loss(tr);
        if (memvar) sums[SNN_LOSS_MEMBRANE_VARIANCE] += memvar_loss(tr, 0.0, NULL);
    }
    double t = 0;
    for (int k = 0; k < SNN_N_LOSSES; k++)
        if (w[k] > 0 && k != SNN_LOSS_WEIGHT_RATIO) t += w[k] * sums[k] / (double)E;
    if (w[SNN_LOSS_WEIGHT_RATIO] > 0 && !tr->train_w)
        t += w[SNN_LOSS_WEIGHT_RATIO] * snn_weight_ratio_loss(tr->params, tr->params + n_sf(tr), tr->n_types, tr->n_ff, 0,
                                                              tp->target_weight_ratio, 1.0, NULL, NULL);
    *total = t;
    return SNN_OK;
}

typedef struct run_paths {
    char latest[SNN_PATH_MAX], best[SNN_PATH_MAX];
} run_paths;

/* One Adam iteration (closed loop or forced, chunk k mod n_chunks); every accumulation_interval
 * iterations the optimiser step, the fixed evaluation (stage 4) and the best checkpoint. */
static int adam_iteration(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, snn_progress *bar,
                          const run_paths *rp, double *total_out, snn_error *err) {
    const snn_train_params *tp = &tr->p->train;
    const int64_t n = tr->net->n, k = tr->iteration, chunk = k % tr->n_chunks;
    if (chunk == 0 && k > 0) {
        /* the data wraps: replay the teacher from its initial state */
        snn_state_reset(&tr->st, tr->net);
        if (tr->vr_on) snn_vr_reset(&tr->vr);
        if (tr->forced) snn_forced_state_reset(&tr->fst, tr->net);
    }
    int rc = read_chunk(ctx, chunk, tr->b0, tr->Bl, tr->in, tr->target, err);
    rc = snn_par_sync(rc, err);
    if (rc) return rc;
    double losses[SNN_N_LOSSES];
    double total = 0;
    if (tr->forced) {
        rc = snn_fit_chunk(tr, chunk, losses, &total, err);
        if (rc) return rc;
    } else {
        total = iteration(tr, losses);
    }
    for (int q = 0; q < SNN_N_LOSSES; q++) tr->log_losses[q] += losses[q];
    tr->log_losses[SNN_N_LOSSES] += total;
    tr->log_count++;
    tr->window_total[tr->acc_count] = total;
    tr->acc_count++;
    if (!tr->forced) {
        int64_t P = tp->plot_size;
        memcpy(tr->stats_win + (tr->stats_filled % P) * tr->L * n, tr->out, (size_t)(tr->L * n));
        tr->stats_filled++;
    }
    tr->iteration = k + 1;
    *total_out = total;
    if (tr->acc_count < tp->accumulation_interval) return SNN_OK;
    double mean = 0;
    for (int64_t q = 0; q < tr->acc_count; q++) mean += tr->window_total[q];
    mean /= (double)tr->acc_count;
    int is_best = 0;
    if (tr->eval_chunks == 0) {
        /* stage 2: the window's mean, for the parameters that produced it */
        is_best = mean < tr->best_loss;
        if (is_best) {
            tr->best_loss = mean;
            memcpy(tr->best_params, tr->params, (size_t)tr->n_params * sizeof(double));
        }
    }
    for (int64_t a = 0; a < tr->n_params; a++) tr->grad_acc[a] /= (double)tr->acc_count;
    if (tp->has_grad_norm_clip) snn_grad_clip(tr->grad_acc, tr->n_params, tp->grad_norm_clip);
    memcpy(tr->last_grad, tr->grad_acc, (size_t)tr->n_params * sizeof(double));
    tr->has_last_grad = 1;
    snn_adam_step(&tr->adam, tr->params, tr->grad_acc);
    snn_trainer_apply_params(tr, tr->params);
    memset(tr->grad_acc, 0, (size_t)tr->n_params * sizeof(double));
    tr->acc_count = 0;
    if (tr->eval_chunks > 0) {
        /* stage 4: the new parameters on the same chunks every time */
        rc = tr->forced ? snn_fit_eval_chunks(tr, read_chunk, ctx, tr->eval_chunks, &tr->eval_loss, err)
                        : closed_loop_eval(tr, read_chunk, ctx, &tr->eval_loss, err);
        if (rc) return rc;
        mean = tr->eval_loss;
        is_best = mean < tr->best_loss;
        if (is_best) {
            tr->best_loss = mean;
            memcpy(tr->best_params, tr->params, (size_t)tr->n_params * sizeof(double));
        }
    }
    if (is_best) {
        rc = snn_trainer_save(tr, rp->best, err);
        if (rc) return rc;
        snn_progress_clear(bar);
        printf("  ✓ New best model saved (%s: %.6f)\n", tr->eval_chunks > 0 ? "evaluation loss" : "loss", mean);
        fflush(stdout);
    }
    return SNN_OK;
}

/* One L-BFGS iteration over the fit data (the first call evaluates the starting point). */
static int lbfgs_iteration(snn_trainer *tr, snn_progress *bar, const run_paths *rp, double *total_out, snn_error *err) {
    const snn_train_params *tp = &tr->p->train;
    snn_lbfgs *lb = &tr->lb;
    double *x = lb->d; /* scratch of the L-BFGS state, free between iterations */
    int rc;
    tr->eval_sums_f = INFINITY;
    if (!tr->lbfgs_started) {
        snn_fit_x_from_params(tr, tr->params, x);
        rc = snn_lbfgs_start(lb, x, snn_fit_objective, tr, err);
        if (rc) return rc;
        tr->lbfgs_started = 1;
        tr->acc_sums = tr->eval_sums;
        snn_progress_clear(bar);
        printf("  L-BFGS start: loss %.8g, %lld parameters over %d trials x %lld steps\n", lb->f, (long long)tr->n_opt,
               tr->B, (long long)tr->fit_steps);
        fflush(stdout);
        tr->eval_sums_f = INFINITY;
    }
    /* the gradient tolerance is relative to the loss (whose scale depends on the data) */
    rc = snn_lbfgs_iterate(lb, snn_fit_objective, tr, tp->gradient_tolerance * fabs(lb->f), tp->change_tolerance, err);
    if (rc) return rc;
    tr->iteration++;
    snn_fit_params_from_x(tr, lb->x, tr->params);
    snn_trainer_apply_params(tr, tr->params);
    if (tr->eval_sums_f == lb->f) tr->acc_sums = tr->eval_sums; /* else: no step was taken, counts unchanged */
    tr->win_sums = tr->acc_sums;
    tr->win_count = 1;
    double losses[SNN_N_LOSSES];
    double total = snn_fit_total(tr, &tr->acc_sums, losses);
    for (int q = 0; q < SNN_N_LOSSES; q++) tr->log_losses[q] += losses[q];
    tr->log_losses[SNN_N_LOSSES] += total;
    tr->log_count++;
    /* the gradient columns: d loss / d SF at the accepted point */
    memset(tr->last_grad, 0, (size_t)tr->n_params * sizeof(double));
    for (int64_t i = 0; i < tr->n_opt; i++) {
        int64_t a = tr->opt_index[i];
        tr->last_grad[a] = tr->train_w ? lb->g[i] : lb->g[i] / tr->params[a];
    }
    tr->has_last_grad = 1;
    if (lb->status != SNN_LBFGS_RUNNING) tr->converged = 1;
    *total_out = total;
    if (total < tr->best_loss) {
        tr->best_loss = total;
        memcpy(tr->best_params, tr->params, (size_t)tr->n_params * sizeof(double));
        rc = snn_trainer_save(tr, rp->best, err);
        if (rc) return rc;
        snn_progress_clear(bar);
        printf("  ✓ New best model saved (loss: %.8g)\n", total);
        fflush(stdout);
    }
    if (tr->converged) {
        snn_progress_clear(bar);
        printf("  L-BFGS stopped after %lld iterations (%lld evaluations): %s\n", (long long)tr->iteration,
               (long long)lb->evaluations, snn_lbfgs_status_text(lb->status));
        fflush(stdout);
    }
    return SNN_OK;
}

int snn_trainer_run(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, int64_t stop_after, int *stopped,
                    snn_error *err) {
    const snn_params *p = tr->p;
    const snn_train_params *tp = &p->train;
    *stopped = 0;
    columns c;
    metric_columns(tr, &c);
    const char *names[512];
    for (int i = 0; i < c.n; i++) names[i] = c.names[i];
    char mpath[SNN_PATH_MAX];
    run_paths rp;
    int rc = snn_path_join(mpath, sizeof mpath, tr->out_dir, "training_metrics.csv", err);
    if (!rc) rc = checkpoint_path(tr, "checkpoint_latest.npz", rp.latest, sizeof rp.latest, err);
    if (!rc) rc = checkpoint_path(tr, "checkpoint_best.npz", rp.best, sizeof rp.best, err);
    if (!rc && tr->lbfgs) rc = snn_fit_load(tr, read_chunk, ctx, err);
    /* only rank 0 writes the metrics */
    const int rank0 = snn_par_rank() == 0;
    if (!rc && rank0) {
        if (tr->iteration == 0) rc = snn_metrics_open(&tr->metrics, mpath, c.n, names, err);
        else rc = snn_metrics_open_resume(&tr->metrics, mpath, c.n, names, tr->iteration, err);
        tr->metrics_open = !rc;
    }
    rc = snn_par_sync(rc, err);
    if (rc) return rc;
    const double comm0 = snn_par_comm_seconds();
    if (tr->p->train.surrogate_cutoff > 0)
        printf("Reverse pass: surrogate cutoff %g, an approximation (the gradient through a spike whose surrogate "
               "is below %g of its peak is dropped; 0 gives the exact gradient)\n",
               tr->p->train.surrogate_cutoff, tr->p->train.surrogate_cutoff);
    printf("\nStarting training from epoch %lld...\n", (long long)tr->iteration);
    fflush(stdout);
    snn_progress bar;
    snn_progress_start(&bar, "Training", tr->iterations, tr->quiet);
    int64_t done_here = 0;
    double t_run = 0, t_since_plot = 0;
    /* L-BFGS: every iteration is a row (an iteration is a pass over all the data) */
    const int64_t log_interval = tr->lbfgs ? 1 : tp->log_interval;
    while (!snn_trainer_finished(tr)) {
        double t0 = snn_now(), total = 0;
        rc = tr->lbfgs ? lbfgs_iteration(tr, &bar, &rp, &total, err)
                       : adam_iteration(tr, read_chunk, ctx, &bar, &rp, &total, err);
        if (rc) break;
        tr->t_window += snn_now() - t0;
        t_run += snn_now() - t0;
        t_since_plot += snn_now() - t0;
        if (tr->iteration % log_interval == 0 || (tr->lbfgs && tr->converged)) {
            row_stats rs = {0, 0, 0};
            if (rank0) rc = log_row(tr, &rs, err);
            if (rc) break;
            snn_progress_clear(&bar);
            print_block(tr, &rs, tr->t_window / (double)(tr->log_count ? tr->log_count : 1));
            memset(tr->log_losses, 0, (SNN_N_LOSSES + 1) * sizeof(double));
            tr->log_count = 0;
            tr->t_window = 0;
            memset(&tr->win_sums, 0, sizeof tr->win_sums);
            tr->win_count = 0;
        }
        if (tr->hooks.on_plot && tr->iteration % tp->plot_interval == 0) {
            snn_progress_clear(&bar);
            double tp0 = snn_now();
            rc = tr->hooks.on_plot(tr->hooks.ctx, tr, tr->iteration, err);
            if (rc) break;
            double t_plot = snn_now() - tp0;
            /* the cost of the figures next to the training time since the last ones */
            printf("  Plots took %.2f s, %.1f%% of the %.2f s of training since the last plots\n", t_plot,
                   t_since_plot > 0 ? 100.0 * t_plot / t_since_plot : 0.0, t_since_plot);
            fflush(stdout);
            t_since_plot = 0;
        }
        done_here++;
        /* every rank stops where any rank was asked to (a signal may reach some ranks only) */
        rc = snn_par_sync(rc, err);
        if (rc) break;
        int stop = snn_par_allreduce_max_f64(g_stop_requested || (stop_after > 0 && done_here >= stop_after)) > 0;
        if (tr->iteration % tp->checkpoint_interval == 0 || snn_trainer_finished(tr) || stop) {
            rc = snn_trainer_save(tr, rp.latest, err);
            if (rc) break;
            snn_progress_clear(&bar);
            printf("  ✓ Checkpoint saved (epoch %lld) to %s\n", (long long)tr->iteration, rp.latest);
            fflush(stdout);
            if (tr->hooks.on_checkpoint) {
                rc = tr->hooks.on_checkpoint(tr->hooks.ctx, tr, tr->iteration, err);
                if (rc) break;
            }
        }
        char post[96];
        snprintf(post, sizeof post, "Total=%.4f", total);
        snn_progress_update(&bar, tr->iteration, post);
        if (stop && !snn_trainer_finished(tr)) {
            *stopped = 1;
            break;
        }
    }
    snn_progress_finish(&bar);
    if (tr->metrics_open) snn_metrics_close(&tr->metrics);
    tr->metrics_open = 0;
    rc = snn_par_sync(rc, err);
    const double comm = snn_par_comm_seconds() - comm0;
    if (!rc && done_here > 0) {
        if (tr->lbfgs) {
            printf("Timing: %.3f s per epoch over %lld epochs (L-BFGS, %lld loss-and-gradient evaluations of %d "
                   "trials x %lld steps), peak memory %.1f MiB\n",
                   t_run / (double)done_here, (long long)done_here, (long long)tr->lb.evaluations, tr->B,
                   (long long)tr->fit_steps, (double)snn_peak_rss_bytes() / 1048576.0);
        } else {
            /* what the reverse pass keeps per trial-step: the tape */
            double per_ts = (double)(tr->tape.n * (2 * sizeof(snn_real) + sizeof(uint16_t))) / 1048576.0;
            printf("Timing: %.3f s per epoch over %lld epochs (%.0f trial-steps/s), peak memory %.1f MiB, "
                   "BPTT memory %.4f MiB per trial-step\n",
                   t_run / (double)done_here, (long long)done_here,
                   (double)done_here * (double)tr->B * (double)tr->L / t_run, (double)snn_peak_rss_bytes() / 1048576.0,
                   per_ts);
        }
        if (snn_par_size() > 1)
            printf("MPI: %d ranks, rank 0's trials %lld-%lld; rank 0 in MPI calls (waits and exchanges) %.4f s per "
                   "epoch\n",
                   snn_par_size(), (long long)tr->b0, (long long)(tr->b0 + tr->Bl - 1), comm / (double)done_here);
    }
    return rc;
}

/* ---- checkpoints ---- */

/* 2: the run record (seed, parameters_sha256, data_sha256), final_state_written, the spike-time loss in
 * log_loss_sums (8 entries), eval_loss, the method, and the teacher-forced and L-BFGS state */
#define CKPT_VERSION 2

/* The forced counts of a log window or of L-BFGS's accepted point as int64 [5][n_types]: teacher
 * spikes, reproduced, extra, neuron-steps, and (row 4, entry 0) the loss's element count. */
static void counts_pack(const snn_forced_sums *s, int nt, int64_t *out) {
    for (int l = 0; l < nt; l++) {
        out[l] = s->teacher_spikes[l];
        out[nt + l] = s->reproduced[l];
        out[2 * nt + l] = s->extra[l];
        out[3 * nt + l] = s->neuron_steps[l];
        out[4 * nt + l] = l == 0 ? s->count : 0;
    }
}

static void counts_unpack(const int64_t *in, int nt, snn_forced_sums *s) {
    for (int l = 0; l < nt; l++) {
        s->teacher_spikes[l] = in[l];
        s->reproduced[l] = in[nt + l];
        s->extra[l] = in[2 * nt + l];
        s->neuron_steps[l] = in[3 * nt + l];
    }
    s->count = in[4 * nt];
}

/* The teacher-forced and L-BFGS part of a checkpoint. */
static int save_forced(snn_npz_writer *w, const snn_trainer *tr, snn_error *err) {
    const int nt = tr->n_types;
    int64_t cnt[5 * SNN_MAX_TYPES], sh1[1], sh2[2] = {5, nt};
    counts_pack(&tr->win_sums, nt, cnt);
    int rc = snn_npz_add(w, "forced_window_counts", SNN_I64, 2, sh2, cnt, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "forced_window_chunks", tr->win_count, err);
    if (rc || !tr->lbfgs) return rc;
    const snn_lbfgs *lb = &tr->lb;
    counts_pack(&tr->acc_sums, nt, cnt);
    rc = snn_npz_add(w, "lbfgs_accepted_counts", SNN_I64, 2, sh2, cnt, err);
    if (!rc) rc = snn_npz_add_scalar_f64(w, "lbfgs_accepted_loss_sum", tr->acc_sums.loss, err);
    sh1[0] = tr->n_opt;
    if (!rc) rc = snn_npz_add(w, "lbfgs_x", SNN_F64, 1, sh1, lb->x, err);
    if (!rc) rc = snn_npz_add(w, "lbfgs_gradient", SNN_F64, 1, sh1, lb->g, err);
    if (!rc) rc = snn_npz_add_scalar_f64(w, "lbfgs_loss", lb->f, err);
    int64_t shm[2] = {lb->m, tr->n_opt};
    if (!rc) rc = snn_npz_add(w, "lbfgs_s", SNN_F64, 2, shm, lb->s, err);
    if (!rc) rc = snn_npz_add(w, "lbfgs_y", SNN_F64, 2, shm, lb->y, err);
    sh1[0] = lb->m;
    if (!rc) rc = snn_npz_add(w, "lbfgs_rho", SNN_F64, 1, sh1, lb->rho, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "lbfgs_pairs", lb->pairs, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "lbfgs_newest", lb->newest, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "lbfgs_iterations", lb->iterations, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "lbfgs_evaluations", lb->evaluations, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "lbfgs_status", lb->status, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "lbfgs_last_evaluations", lb->last_evals, err);
    if (!rc) rc = snn_npz_add_scalar_f64(w, "lbfgs_last_step", lb->last_step, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "lbfgs_started", tr->lbfgs_started, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "converged", tr->converged, err);
    return rc;
}

/* Every trial's state in trial order: on one rank the trainer's own arrays; on several, rank 0 gathers
 * the ranks' blocks into full_state. */
typedef struct ckpt_state {
    const double *v;
    const int32_t *ref;
    const snn_real *g;
    const double *vr[4]; /* student decay, teacher decay, student rise, teacher rise */
} ckpt_state;

static void gather_rows(void *full, const void *mine, size_t row_bytes, const snn_trainer *tr) {
    const int rank = snn_par_rank(), k = snn_par_size();
    if (rank != 0) {
        snn_par_send(mine, (size_t)tr->Bl * row_bytes, 0);
        return;
    }
    memcpy(full, mine, (size_t)tr->Bl * row_bytes);
    for (int r = 1; r < k; r++) {
        int64_t first, end;
        snn_par_block(tr->B, r, k, &first, &end);
        snn_par_recv((char *)full + (size_t)first * row_bytes, (size_t)(end - first) * row_bytes, r);
    }
}

static void gather_state(const snn_trainer *tr, ckpt_state *cs) {
    const size_t n = (size_t)tr->net->n, S2 = 2 * (size_t)tr->net->n_cols, bn = (size_t)tr->B * n;
    const double *vr[4] = {tr->vr.ys_d, tr->vr.yt_d, tr->vr.ys_r, tr->vr.yt_r};
    cs->v = tr->forced ? tr->fst.v : tr->st.v;
    cs->ref = tr->forced ? tr->fst.ref : tr->st.ref;
    cs->g = tr->forced ? tr->fst.g : tr->st.g;
    for (int q = 0; q < 4; q++) cs->vr[q] = tr->vr_on ? vr[q] : NULL;
    if (snn_par_size() == 1) return;
    char *base = (char *)tr->full_state;
    double *fv = (double *)base, *fvr = fv + bn;
    int32_t *fref = (int32_t *)(fvr + 4 * bn);
    snn_real *fg = (snn_real *)(fref + bn);
    gather_rows(fv, cs->v, n * sizeof(double), tr);
    gather_rows(fref, cs->ref, n * sizeof(int32_t), tr);
    gather_rows(fg, cs->g, S2 * n * sizeof(snn_real), tr);
    for (int q = 0; q < 4; q++)
        if (cs->vr[q]) gather_rows(fvr + (size_t)q * bn, cs->vr[q], n * sizeof(double), tr);
    if (snn_par_rank() != 0) return;
    cs->v = fv;
    cs->ref = fref;
    cs->g = fg;
    for (int q = 0; q < 4; q++)
        if (cs->vr[q]) cs->vr[q] = fvr + (size_t)q * bn;
}

static int save_file(const snn_trainer *tr, const char *path, const ckpt_state *cs, snn_error *err);

int snn_trainer_save(const snn_trainer *tr, const char *path, snn_error *err) {
    /* a rank that failed is at its next sync: this one tells the others */
    int rc = snn_par_sync(SNN_OK, err);
    if (rc) return rc;
    ckpt_state cs;
    gather_state(tr, &cs);
    if (snn_par_rank() == 0) rc = save_file(tr, path, &cs, err);
    return snn_par_sync(rc, err);
}

static int save_file(const snn_trainer *tr, const char *path, const ckpt_state *cs, snn_error *err) {
    const snn_network *net = tr->net;
    const int64_t B = tr->B, n = net->n, S = net->n_cols, np = tr->n_params;
    snn_npz_writer *w = snn_npz_create(path, 0, err);
    if (!w) return err && err->code ? err->code : SNN_ERUN;
    int64_t sh1[1], sh2[2], sh3[3];
    int rc = snn_npz_add_scalar_i64(w, "format_version", CKPT_VERSION, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "epoch", tr->iteration, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "iterations", tr->iterations, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "optimisable", tr->p->train.optimisable, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "method", tr->forced ? 1 + tr->lbfgs : 0, err);
    if (!rc) rc = snn_npz_add_scalar_f64(w, "eval_loss", tr->eval_loss, err);
    sh1[0] = np;
    if (!rc) rc = snn_npz_add(w, "parameters", SNN_F64, 1, sh1, tr->params, err);
    if (!rc) rc = snn_npz_add(w, "best_parameters", SNN_F64, 1, sh1, tr->best_params, err);
    if (!rc) rc = snn_npz_add(w, "adam_exp_avg", SNN_F64, 1, sh1, tr->adam.m, err);
    if (!rc) rc = snn_npz_add(w, "adam_exp_avg_sq", SNN_F64, 1, sh1, tr->adam.v, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "adam_step", tr->adam.step, err);
    if (!rc) rc = snn_npz_add(w, "accumulated_gradient", SNN_F64, 1, sh1, tr->grad_acc, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "accumulated_iterations", tr->acc_count, err);
    if (!rc) rc = snn_npz_add(w, "last_gradient", SNN_F64, 1, sh1, tr->last_grad, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "has_last_gradient", tr->has_last_grad, err);
    if (!rc) rc = snn_npz_add_scalar_f64(w, "best_loss", tr->best_loss, err);
    sh1[0] = tr->p->train.accumulation_interval;
    if (!rc) rc = snn_npz_add(w, "window_total_losses", SNN_F64, 1, sh1, tr->window_total, err);
    sh1[0] = SNN_N_LOSSES + 1;
    if (!rc) rc = snn_npz_add(w, "log_loss_sums", SNN_F64, 1, sh1, tr->log_losses, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "log_count", tr->log_count, err);
    sh2[0] = B;
    sh2[1] = n;
    /* the network state the next chunk continues from (the forced student's with teacher forcing) */
    if (!rc) rc = snn_npz_add(w, "state_v", SNN_F64, 2, sh2, cs->v, err);
    if (!rc) rc = snn_npz_add(w, "state_refractory", SNN_I32, 2, sh2, cs->ref, err);
    sh3[0] = B;
    sh3[1] = 2 * S;
    sh3[2] = n;
    if (!rc) rc = snn_npz_add(w, "state_g", sizeof(snn_real) == 8 ? SNN_F64 : SNN_F32, 3, sh3, cs->g, err);
    if (!rc && tr->forced) rc = save_forced(w, tr, err);
    if (!rc && tr->vr_on) {
        rc = snn_npz_add(w, "van_rossum_student_decay", SNN_F64, 2, sh2, cs->vr[0], err);
        if (!rc) rc = snn_npz_add(w, "van_rossum_teacher_decay", SNN_F64, 2, sh2, cs->vr[1], err);
        if (!rc && tr->vr.two_exp) rc = snn_npz_add(w, "van_rossum_student_rise", SNN_F64, 2, sh2, cs->vr[2], err);
        if (!rc && tr->vr.two_exp) rc = snn_npz_add(w, "van_rossum_teacher_rise", SNN_F64, 2, sh2, cs->vr[3], err);
    }
    sh2[0] = tr->p->train.plot_size * tr->L;
    sh2[1] = n;
    if (!rc) rc = snn_npz_add(w, "statistics_window", SNN_BOOL, 2, sh2, tr->stats_win, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "statistics_chunks", tr->stats_filled, err);
    sh1[0] = (int64_t)strlen(tr->input_path);
    if (!rc) rc = snn_npz_add(w, "input_path", SNN_U8, 1, sh1, tr->input_path, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "seed", (int64_t)tr->record.seed, err);
    sh1[0] = 64;
    if (!rc) rc = snn_npz_add(w, "parameters_sha256", SNN_U8, 1, sh1, tr->record.parameters_sha256, err);
    if (!rc) rc = snn_npz_add(w, "data_sha256", SNN_U8, 1, sh1, tr->record.data_sha256, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "final_state_written", tr->final_state_written, err);
    /* only when uploading to W&B: the id depends on the output folder, and checkpoints of the same run in
     * two folders should otherwise be identical */
    sh1[0] = (int64_t)strlen(tr->run_id);
    if (!rc && tr->run_id[0]) rc = snn_npz_add(w, "wandb_run_id", SNN_U8, 1, sh1, tr->run_id, err);
    if (!rc && !tr->train_w) {
        /* for people reading the checkpoint with numpy */
        int64_t s2[2] = {tr->n_types, tr->n_types}, f2[2] = {tr->n_ff, tr->n_types};
        rc = snn_npz_add(w, "recurrent_scaling_factors", SNN_F64, 2, s2, tr->params, err);
        if (!rc) rc = snn_npz_add(w, "feedforward_scaling_factors", SNN_F64, 2, f2, tr->params + n_sf(tr), err);
    }
    if (rc) {
        snn_npz_abort(w);
        return rc;
    }
    return snn_npz_close(w, err);
}

static int read_exact(snn_npz *z, const char *key, snn_dtype dt, int ndim, const int64_t *shape, void *dst,
                      size_t bytes, snn_error *err) {
    snn_array a = {0};
    int rc = snn_npz_read_as(z, key, dt, ndim, shape, &a, err);
    if (rc) return rc;
    memcpy(dst, a.data, bytes);
    snn_array_free(&a);
    return SNN_OK;
}

/* Rows b0 .. b0+nb-1 of an array of shape [B][...] (this rank's trials). */
static int read_rows(snn_npz *z, const char *key, snn_dtype dt, int ndim, const int64_t *shape, void *dst,
                     size_t row_bytes, int64_t b0, int64_t nb, snn_error *err) {
    snn_array a = {0};
    int rc = snn_npz_read_as(z, key, dt, ndim, shape, &a, err);
    if (rc) return rc;
    memcpy(dst, (const char *)a.data + (size_t)b0 * row_bytes, (size_t)nb * row_bytes);
    snn_array_free(&a);
    return SNN_OK;
}

static int read_i64(snn_npz *z, const char *key, int64_t *out, snn_error *err) {
    return read_exact(z, key, SNN_I64, 0, NULL, out, sizeof *out, err);
}

/* A corrupt value: the file, the array, the entry and what was expected. */
static int bad_entry(const char *path, const char *key, int64_t i, double v, const char *want, snn_error *err) {
    return snn_fail(err, SNN_EINPUT, "%s: array '%s': entry %lld is %g; expected %s (a corrupt checkpoint)", path, key,
                    (long long)i, v, want);
}

/* Every entry finite (and >= 0 with nonneg). */
static int check_finite(const char *path, const char *key, const double *a, int64_t n, int nonneg, snn_error *err) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(a[i]) || (nonneg && a[i] < 0))
            return bad_entry(path, key, i, a[i], nonneg ? "a finite number >= 0" : "a finite number", err);
    return SNN_OK;
}

static int check_finite_real(const char *path, const char *key, const snn_real *a, int64_t n, snn_error *err) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return bad_entry(path, key, i, (double)a[i], "a finite number", err);
    return SNN_OK;
}

static int check_range(const char *path, const char *key, int64_t v, int64_t lo, int64_t hi, const char *what,
                       snn_error *err) {
    if (v >= lo && v <= hi) return SNN_OK;
    return snn_fail(err, SNN_EINPUT, "%s: array '%s' is %lld; expected %lld..%lld (%s; a corrupt checkpoint)", path, key,
                    (long long)v, (long long)lo, (long long)hi, what);
}

/* A byte string of the checkpoint (no NUL, shorter than cap) into out. */
static int read_text(snn_npz *z, const char *key, char *out, size_t cap, snn_error *err) {
    snn_array a = {0};
    int rc = snn_npz_read_as(z, key, SNN_U8, 1, (int64_t[]){-1}, &a, err);
    if (rc) return rc;
    size_t len = (size_t)a.shape[0];
    if (len >= cap || memchr(a.data, 0, len)) {
        snn_array_free(&a);
        return snn_fail(err, SNN_EINPUT, "%s: array '%s' is not a text of at most %zu bytes (a corrupt checkpoint)",
                        snn_npz_path(z), key, cap - 1);
    }
    memcpy(out, a.data, len);
    out[len] = '\0';
    snn_array_free(&a);
    return SNN_OK;
}

static int check_values(snn_trainer *tr, const char *path, int64_t filled, int64_t hl, snn_error *err) {
    const snn_train_params *tp = &tr->p->train;
    const snn_network *net = tr->net;
    const int64_t B = tr->Bl, n = net->n, S = net->n_cols, np = tr->n_params; /* this rank's trials */
    int rc = check_range(path, "epoch", tr->iteration, 0, tr->iterations, "epochs done of the run's total", err);
    /* one Adam step per accumulation window */
    if (!rc) rc = check_range(path, "adam_step", tr->adam.step, 0, tr->iteration, "at most one step per epoch", err);
    if (!rc)
        rc = check_range(path, "accumulated_iterations", tr->acc_count, 0, tp->accumulation_interval - 1,
                         "epochs in the current accumulation window", err);
    if (!rc) rc = check_range(path, "has_last_gradient", hl, 0, 1, "a flag", err);
    if (!rc) rc = check_range(path, "log_count", tr->log_count, 0, tp->log_interval - 1, "epochs in the log window", err);
    if (!rc) rc = check_range(path, "statistics_chunks", filled, 0, tr->iteration, "chunks kept so far", err);
    if (!rc) rc = check_range(path, "final_state_written", tr->final_state_written, 0, 1, "a flag", err);
    /* the parameters: log-weights may be any number; scaling factors multiply weights that are >= 0 */
    const int nonneg = !tr->train_w;
    if (!rc) rc = check_finite(path, "parameters", tr->params, np, nonneg, err);
    if (!rc) rc = check_finite(path, "best_parameters", tr->best_params, np, nonneg, err);
    if (!rc) rc = check_finite(path, "adam_exp_avg", tr->adam.m, np, 0, err);
    if (!rc) rc = check_finite(path, "adam_exp_avg_sq", tr->adam.v, np, 1, err);
    if (!rc) rc = check_finite(path, "accumulated_gradient", tr->grad_acc, np, 0, err);
    if (!rc) rc = check_finite(path, "last_gradient", tr->last_grad, np, 0, err);
    if (!rc && (isnan(tr->best_loss) || tr->best_loss < 0))
        rc = bad_entry(path, "best_loss", 0, tr->best_loss, "a loss >= 0 (or inf before the first step)", err);
    if (!rc) rc = check_finite(path, "window_total_losses", tr->window_total, tp->accumulation_interval, 1, err);
    if (!rc) rc = check_finite(path, "log_loss_sums", tr->log_losses, SNN_N_LOSSES + 1, 1, err);
    if (!rc) rc = check_finite(path, "state_v", tr->st.v, B * n, 0, err);
    for (int64_t b = 0; !rc && b < B; b++)
        for (int64_t j = 0; !rc && j < n; j++) {
            int32_t r = tr->st.ref[b * n + j];
            if (r < 0 || r > net->ref_steps[j])
                rc = snn_fail(err, SNN_EINPUT,
                              "%s: array 'state_refractory': entry [%lld, %lld] is %d; expected 0..%d (the neuron's "
                              "refractory steps; a corrupt checkpoint)",
                              path, (long long)b, (long long)j, r, net->ref_steps[j]);
        }
    if (!rc) rc = check_finite_real(path, "state_g", tr->st.g, B * 2 * S * n, err);
    if (!rc && tr->vr_on) {
        rc = check_finite(path, "van_rossum_student_decay", tr->vr.ys_d, B * n, 0, err);
        if (!rc) rc = check_finite(path, "van_rossum_teacher_decay", tr->vr.yt_d, B * n, 0, err);
        if (!rc && tr->vr.two_exp) rc = check_finite(path, "van_rossum_student_rise", tr->vr.ys_r, B * n, 0, err);
        if (!rc && tr->vr.two_exp) rc = check_finite(path, "van_rossum_teacher_rise", tr->vr.yt_r, B * n, 0, err);
    }
    return rc;
}

static int load_forced(snn_npz *z, snn_trainer *tr, snn_error *err) {
    const int nt = tr->n_types;
    int64_t cnt[5 * SNN_MAX_TYPES], s2[2] = {5, nt}, v = 0;
    size_t cb = (size_t)(5 * nt) * sizeof(int64_t);
    int rc = read_exact(z, "forced_window_counts", SNN_I64, 2, s2, cnt, cb, err);
    if (!rc) counts_unpack(cnt, nt, &tr->win_sums);
    if (!rc) rc = read_i64(z, "forced_window_chunks", &tr->win_count, err);
    if (rc || !tr->lbfgs) return rc;
    snn_lbfgs *lb = &tr->lb;
    rc = read_exact(z, "lbfgs_accepted_counts", SNN_I64, 2, s2, cnt, cb, err);
    if (!rc) counts_unpack(cnt, nt, &tr->acc_sums);
    if (!rc) rc = read_exact(z, "lbfgs_accepted_loss_sum", SNN_F64, 0, NULL, &tr->acc_sums.loss, sizeof(double), err);
    int64_t s1[1] = {tr->n_opt}, sm[2] = {lb->m, tr->n_opt}, sr[1] = {lb->m};
    size_t xb = (size_t)tr->n_opt * sizeof(double), mb = (size_t)lb->m * xb;
    if (!rc) rc = read_exact(z, "lbfgs_x", SNN_F64, 1, s1, lb->x, xb, err);
    if (!rc) rc = read_exact(z, "lbfgs_gradient", SNN_F64, 1, s1, lb->g, xb, err);
    if (!rc) rc = read_exact(z, "lbfgs_loss", SNN_F64, 0, NULL, &lb->f, sizeof(double), err);
    if (!rc) rc = read_exact(z, "lbfgs_s", SNN_F64, 2, sm, lb->s, mb, err);
    if (!rc) rc = read_exact(z, "lbfgs_y", SNN_F64, 2, sm, lb->y, mb, err);
    if (!rc) rc = read_exact(z, "lbfgs_rho", SNN_F64, 1, sr, lb->rho, (size_t)lb->m * sizeof(double), err);
    if (!rc) rc = read_i64(z, "lbfgs_pairs", &lb->pairs, err);
    if (!rc) rc = read_i64(z, "lbfgs_newest", &lb->newest, err);
    if (!rc) rc = read_i64(z, "lbfgs_iterations", &lb->iterations, err);
    if (!rc) rc = read_i64(z, "lbfgs_evaluations", &lb->evaluations, err);
    if (!rc) rc = read_i64(z, "lbfgs_status", &v, err);
    lb->status = (int)v;
    if (!rc) rc = read_i64(z, "lbfgs_last_evaluations", &v, err);
    lb->last_evals = (int)v;
    if (!rc) rc = read_exact(z, "lbfgs_last_step", SNN_F64, 0, NULL, &lb->last_step, sizeof(double), err);
    if (!rc) rc = read_i64(z, "lbfgs_started", &v, err);
    tr->lbfgs_started = (int)v;
    if (!rc) rc = read_i64(z, "converged", &v, err);
    tr->converged = (int)v;
    if (!rc && (lb->pairs < 0 || lb->pairs > lb->m || lb->newest < 0 || lb->newest >= lb->m))
        rc = snn_fail(err, SNN_EINPUT, "%s: inconsistent L-BFGS state (pairs %lld, newest %lld, history %d)", "checkpoint",
                      (long long)lb->pairs, (long long)lb->newest, lb->m);
    return rc;
}

int snn_trainer_load(snn_trainer *tr, const char *path, snn_error *err) {
    snn_npz *z = snn_npz_open(path, err);
    if (!z) return SNN_EINPUT;
    const snn_network *net = tr->net;
    const int64_t B = tr->B, n = net->n, S = net->n_cols, np = tr->n_params;
    int64_t version = 0, opt = 0, filled = 0;
    int rc = read_i64(z, "format_version", &version, err);
    if (!rc && version != CKPT_VERSION)
        rc = snn_fail(err, SNN_EINPUT,
                      "%s: checkpoint format %lld is not supported (expected %d%s)", path, (long long)version,
                      CKPT_VERSION,
                      version == 1 ? "; format 1, of an older snnfit, does not record what the run depends on: start "
                                     "the run again"
                                   : "");
    if (!rc) rc = read_i64(z, "optimisable", &opt, err);
    if (!rc && opt != tr->p->train.optimisable)
        rc = snn_fail(err, SNN_EINPUT, "%s: array 'optimisable': the checkpoint trained a different quantity", path);
    int64_t method = 0;
    if (!rc && version >= 2) rc = read_i64(z, "method", &method, err);
    if (!rc && method != (tr->forced ? 1 + tr->lbfgs : 0))
        rc = snn_fail(err, SNN_EINPUT, "%s: array 'method': the checkpoint used another fitting method or optimiser",
                      path);
    if (!rc && version >= 2) rc = read_exact(z, "eval_loss", SNN_F64, 0, NULL, &tr->eval_loss, sizeof(double), err);
    if (!rc) rc = read_i64(z, "epoch", &tr->iteration, err);
    int64_t s1[1] = {np};
    size_t pb = (size_t)np * sizeof(double);
    if (!rc) rc = read_exact(z, "parameters", SNN_F64, 1, s1, tr->params, pb, err);
    if (!rc) rc = read_exact(z, "best_parameters", SNN_F64, 1, s1, tr->best_params, pb, err);
    if (!rc) rc = read_exact(z, "adam_exp_avg", SNN_F64, 1, s1, tr->adam.m, pb, err);
    if (!rc) rc = read_exact(z, "adam_exp_avg_sq", SNN_F64, 1, s1, tr->adam.v, pb, err);
    if (!rc) rc = read_i64(z, "adam_step", &tr->adam.step, err);
    if (!rc) rc = read_exact(z, "accumulated_gradient", SNN_F64, 1, s1, tr->grad_acc, pb, err);
    if (!rc) rc = read_i64(z, "accumulated_iterations", &tr->acc_count, err);
    if (!rc) rc = read_exact(z, "last_gradient", SNN_F64, 1, s1, tr->last_grad, pb, err);
    int64_t hl = 0;
    if (!rc) rc = read_i64(z, "has_last_gradient", &hl, err);
    tr->has_last_grad = hl == 1;
    if (!rc) rc = read_exact(z, "best_loss", SNN_F64, 0, NULL, &tr->best_loss, sizeof(double), err);
    int64_t sw[1] = {tr->p->train.accumulation_interval};
    if (!rc) rc = read_exact(z, "window_total_losses", SNN_F64, 1, sw, tr->window_total, (size_t)sw[0] * sizeof(double), err);
    /* version 1 had no spike-time loss: its sums are those of the losses before it, then the total */
    const int64_t n_old = version == 1 ? SNN_LOSS_SPIKE_TIME : SNN_N_LOSSES;
    int64_t sl[1] = {n_old + 1};
    if (!rc) rc = read_exact(z, "log_loss_sums", SNN_F64, 1, sl, tr->log_losses, (size_t)sl[0] * sizeof(double), err);
    if (!rc && version == 1) {
        tr->log_losses[SNN_N_LOSSES] = tr->log_losses[n_old];
        for (int64_t k = n_old; k < SNN_N_LOSSES; k++) tr->log_losses[k] = 0;
    }
    if (!rc) rc = read_i64(z, "log_count", &tr->log_count, err);
    int64_t s2[2] = {B, n}, s3[3] = {B, 2 * S, n};
    snn_dtype rd = sizeof(snn_real) == 8 ? SNN_F64 : SNN_F32;
    double *sv = tr->forced ? tr->fst.v : tr->st.v;
    int32_t *sr = tr->forced ? tr->fst.ref : tr->st.ref;
    snn_real *sg = tr->forced ? tr->fst.g : tr->st.g;
    /* every trial's state is in the file (whatever number of ranks wrote it): this rank's block */
    const int64_t b0 = tr->b0, nb = tr->Bl;
    const size_t vb = (size_t)n * sizeof(double);
    if (!rc) rc = read_rows(z, "state_v", SNN_F64, 2, s2, sv, vb, b0, nb, err);
    if (!rc) rc = read_rows(z, "state_refractory", SNN_I32, 2, s2, sr, (size_t)n * sizeof(int32_t), b0, nb, err);
    if (!rc) rc = read_rows(z, "state_g", rd, 3, s3, sg, (size_t)(2 * S * n) * sizeof(snn_real), b0, nb, err);
    if (!rc && tr->forced) rc = load_forced(z, tr, err);
    if (!rc && tr->vr_on) {
        rc = read_rows(z, "van_rossum_student_decay", SNN_F64, 2, s2, tr->vr.ys_d, vb, b0, nb, err);
        if (!rc) rc = read_rows(z, "van_rossum_teacher_decay", SNN_F64, 2, s2, tr->vr.yt_d, vb, b0, nb, err);
        if (!rc && tr->vr.two_exp) rc = read_rows(z, "van_rossum_student_rise", SNN_F64, 2, s2, tr->vr.ys_r, vb, b0, nb, err);
        if (!rc && tr->vr.two_exp) rc = read_rows(z, "van_rossum_teacher_rise", SNN_F64, 2, s2, tr->vr.yt_r, vb, b0, nb, err);
    }
    int64_t sw2[2] = {tr->p->train.plot_size * tr->L, n};
    if (!rc)
        rc = read_exact(z, "statistics_window", SNN_BOOL, 2, sw2, tr->stats_win, (size_t)(sw2[0] * n), err);
    if (!rc) rc = read_i64(z, "statistics_chunks", &filled, err);
    if (!rc && snn_npz_has(z, "wandb_run_id")) rc = read_text(z, "wandb_run_id", tr->run_id, sizeof tr->run_id, err);
    char input[sizeof tr->input_path];
    if (!rc) rc = read_text(z, "input_path", input, sizeof input, err);
    int64_t seed = 0, fin = 0;
    if (!rc) rc = read_i64(z, "seed", &seed, err);
    if (!rc) rc = read_text(z, "parameters_sha256", tr->loaded.parameters_sha256, 65, err);
    if (!rc) rc = read_text(z, "data_sha256", tr->loaded.data_sha256, 65, err);
    if (!rc) rc = read_i64(z, "final_state_written", &fin, err);
    tr->loaded.seed = (uint64_t)seed;
    tr->final_state_written = (int)(fin == 0 || fin == 1 ? fin : -1);
    tr->stats_filled = filled;
    if (!rc) rc = check_values(tr, path, filled, hl, err);
    snn_npz_free(z);
    if (!rc) snn_trainer_apply_params(tr, tr->params);
    return rc;
}
