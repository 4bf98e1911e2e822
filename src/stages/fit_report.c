#include "stages/fit_report.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "core/par.h"
#include "io/metrics.h"
#include "plot/analysis_figures.h"
#include "train/fit_stats.h"
#include "train/forced_fit.h"

static json_t *num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

/* ---------------------------------------------------------------- closed-loop comparison */

typedef struct isi_acc {
    int64_t *last;   /* [B][n] step of the last spike, -1 */
    int64_t *cnt;    /* [B][n] intervals */
    double *s1, *s2; /* [B][n] sums of intervals and squares */
} isi_acc;

typedef struct cl_stats {
    double rate_t[SNN_MAX_TYPES], rate_s[SNN_MAX_TYPES], cv_t[SNN_MAX_TYPES], cv_s[SNN_MAX_TYPES];
    double r[SNN_MAX_TYPES], r_all;
    double window_ms;
    int64_t steps;
} cl_stats;

static int isi_alloc(isi_acc *a, size_t bn, snn_error *err) {
    a->last = snn_calloc(bn, sizeof(int64_t), "interval statistics", err);
    a->cnt = snn_calloc(bn, sizeof(int64_t), "interval statistics", err);
    a->s1 = snn_calloc(bn, sizeof(double), "interval statistics", err);
    a->s2 = snn_calloc(bn, sizeof(double), "interval statistics", err);
    if (!a->last || !a->cnt || !a->s1 || !a->s2) return SNN_ERUN;
    for (size_t k = 0; k < bn; k++) a->last[k] = -1;
    return SNN_OK;
}

static void isi_free(isi_acc *a) {
    snn_free(a->last);
    snn_free(a->cnt);
    snn_free(a->s1);
    snn_free(a->s2);
}

/* Adds steps [t0, t0 + len) of spikes x [B][L][n] (chunk layout) to the window counts and intervals.
 * Spikes are rare: 32 bytes at a time are skipped while they are all zero. Trials are independent
 * (each owns its counts and intervals), so they run in parallel with the same sums. */
static void accumulate(const uint8_t *x, int B, int64_t L, int64_t len, int64_t n, int64_t t0, int64_t w, int64_t W,
                       int32_t *counts, isi_acc *a) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++)
        for (int64_t t = 0; t < len; t++) {
            const uint8_t *row = x + ((size_t)b * L + t) * n;
            const int64_t tt = t0 + t, win = tt / w;
            for (int64_t j0 = 0; j0 < n; j0 += 32) {
                const int64_t e = j0 + 32 < n ? j0 + 32 : n;
                if (e - j0 == 32) {
                    uint64_t word[4];
                    memcpy(word, row + j0, 32);
                    if (!(word[0] | word[1] | word[2] | word[3])) continue;
                }
                for (int64_t j = j0; j < e; j++) {
                    if (!row[j]) continue;
                    if (win < W) counts[((size_t)b * W + win) * n + j]++;
                    size_t k = (size_t)b * n + j;
                    if (a->last[k] >= 0) {
                        double d = (double)(tt - a->last[k]);
                        a->cnt[k]++;
                        a->s1[k] += d;
                        a->s2[k] += d * d;
                    }
                    a->last[k] = tt;
                }
            }
        }
}

/* The fitted network run freely from the initial state on the teacher's inputs over `steps` steps of
 * every trial, against the teacher's spikes. */
static int closed_loop(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, int64_t steps, cl_stats *cs,
                       snn_error *err) {
    const snn_network *net = tr->net;
    const int B = tr->B, nt = tr->n_types;
    const int64_t L = tr->L, n = net->n, bn = (int64_t)B * n;
    const double dt = net->dt;
    int64_t w = (int64_t)(SNN_FIT_REPORT_WINDOW_MS / dt + 0.5);
    if (w < 1) w = 1;
    if (w > steps) w = steps;
    const int64_t W = steps / w;
    cs->window_ms = (double)w * dt;
    cs->steps = steps;
    snn_state st = {0};
    isi_acc at = {0}, as = {0};
    /* every trial: the trainer's buffers hold only this rank's on several MPI ranks (rank 0 runs this) */
    const size_t bln = (size_t)bn * (size_t)L;
    const int own = tr->Bl < B; /* its own buffers only then: they are large */
    uint8_t *in = own ? snn_calloc((size_t)B * (size_t)L * (size_t)(net->n_in ? net->n_in : 1), 1, "input spikes", err)
                      : tr->in;
    uint8_t *target = own ? snn_calloc(bln + 1, 1, "teacher spikes", err) : tr->target;
    uint8_t *out = own ? snn_calloc(bln + 1, 1, "spikes", err) : tr->out;
    int32_t *ct = snn_calloc((size_t)(bn * W) + 1, sizeof(int32_t), "window counts", err);
    int32_t *cst = snn_calloc((size_t)(bn * W) + 1, sizeof(int32_t), "window counts", err);
    double *ra = snn_calloc((size_t)(bn * W) + 1, sizeof(double), "windowed rates", err);
    double *rb = snn_calloc((size_t)(bn * W) + 1, sizeof(double), "windowed rates", err);
    int rc = (!ct || !cst || !ra || !rb || !in || !target || !out) ? SNN_ERUN : SNN_OK;
    if (!rc) rc = isi_alloc(&at, (size_t)bn, err);
    if (!rc) rc = isi_alloc(&as, (size_t)bn, err);
    if (!rc) rc = snn_state_alloc(&st, net, B, err);
    for (int64_t c = 0; !rc && c * L < steps; c++) {
        const int64_t len = steps - c * L < L ? steps - c * L : L;
        rc = read_chunk(ctx, c, 0, B, in, target, err);
        if (rc) break;
        snn_forward_chunk(net, &st, L, in, out, NULL, 0);
        accumulate(target, B, L, len, n, c * L, w, W, ct, &at);
        accumulate(out, B, L, len, n, c * L, w, W, cst, &as);
    }
    if (!rc) {
        const double secs = (double)steps * dt / 1000.0, wsec = (double)w * dt / 1000.0;
        for (int l = 0; l < nt; l++) {
            double st_sum = 0, ss_sum = 0, cvt = 0, cvs = 0;
            int64_t m = 0, nct = 0, ncs = 0, q = 0;
            for (int b = 0; b < B; b++)
                for (int64_t j = 0; j < n; j++) {
                    if (net->type[j] != l) continue;
                    size_t k = (size_t)b * n + j;
                    m++;
                    int64_t nt_sp = 0, ns_sp = 0;
                    for (int64_t u = 0; u < W; u++) {
                        nt_sp += ct[((size_t)b * W + u) * n + j];
                        ns_sp += cst[((size_t)b * W + u) * n + j];
                        ra[q] = ct[((size_t)b * W + u) * n + j] / wsec;
                        rb[q++] = cst[((size_t)b * W + u) * n + j] / wsec;
                    }
                    (void)nt_sp;
                    (void)ns_sp;
                    st_sum += (double)(at.cnt[k] + (at.last[k] >= 0));
                    ss_sum += (double)(as.cnt[k] + (as.last[k] >= 0));
                    /* CV of the intervals (n - 1), neurons with >= 3 spikes in a trial */
                    if (at.cnt[k] >= 2) {
                        double mu = at.s1[k] / (double)at.cnt[k];
                        double var = (at.s2[k] - (double)at.cnt[k] * mu * mu) / (double)(at.cnt[k] - 1);
                        cvt += sqrt(fmax(var, 0)) / mu;
                        nct++;
                    }
                    if (as.cnt[k] >= 2) {
                        double mu = as.s1[k] / (double)as.cnt[k];
                        double var = (as.s2[k] - (double)as.cnt[k] * mu * mu) / (double)(as.cnt[k] - 1);
                        cvs += sqrt(fmax(var, 0)) / mu;
                        ncs++;
                    }
                }
            cs->rate_t[l] = m ? st_sum / ((double)m * secs) : NAN;
            cs->rate_s[l] = m ? ss_sum / ((double)m * secs) : NAN;
            cs->cv_t[l] = nct ? cvt / (double)nct : NAN;
            cs->cv_s[l] = ncs ? cvs / (double)ncs : NAN;
            cs->r[l] = q > 1 ? snn_pearson(ra, rb, q) : NAN;
        }
        /* all types together (inflated by the rate differences between types; the per-type r is the
         * reading to trust) */
        int64_t q = 0;
        for (int64_t k = 0; k < bn * W; k++) {
            ra[q] = ct[k] / wsec;
            rb[q++] = cst[k] / wsec;
        }
        cs->r_all = q > 1 ? snn_pearson(ra, rb, q) : NAN;
    }
    snn_state_free(&st);
    isi_free(&at);
    isi_free(&as);
    snn_free(ct);
    snn_free(cst);
    snn_free(ra);
    snn_free(rb);
    if (own) {
        snn_free(in);
        snn_free(target);
        snn_free(out);
    }
    return rc;
}

/* ---------------------------------------------------------------- the bias check */

/* The spike-time loss's optimum is biased away from the teacher's parameters by an amount that grows
 * like delta^2 (measured: docs/training.md). A second L-BFGS fit from the fitted point at delta / 2
 * has about a quarter of the bias, so the difference between the two estimates it:
 * bias(delta) = 4/3 (log p(delta) - log p(delta / 2)). half[i] gets the refit's factors. */
static int refit_half_delta(snn_trainer *tr, double *half, int64_t *iterations, snn_error *err) {
    const snn_train_params *tp = &tr->p->train;
    snn_lbfgs lb;
    int rc = snn_lbfgs_init(&lb, tr->n_opt, (int)tp->lbfgs_history, err);
    if ((rc = snn_par_sync(rc, err))) return rc;
    double *keep = malloc((size_t)tr->n_params * sizeof(double) + 1);
    rc = snn_par_sync(keep ? SNN_OK : snn_fail(err, SNN_ERUN, "out of memory for the bias check"), err);
    if (rc) {
        free(keep);
        snn_lbfgs_free(&lb);
        return rc;
    }
    memcpy(keep, tr->params, (size_t)tr->n_params * sizeof(double));
    tr->delta_override = tp->spike_time_delta / 2;
    snn_fit_x_from_params(tr, tr->params, lb.d);
    rc = snn_lbfgs_start(&lb, lb.d, snn_fit_objective, tr, err);
    /* the fit starts at the optimum of a nearby loss: a few iterations, capped like the fit */
    const int64_t cap = tr->iterations < 30 ? tr->iterations : 30;
    int64_t it = 0;
    while (!rc && it < cap && lb.status == SNN_LBFGS_RUNNING) {
        rc = snn_lbfgs_iterate(&lb, snn_fit_objective, tr, tp->gradient_tolerance * fabs(lb.f), tp->change_tolerance, err);
        it++;
    }
    if (!rc) {
        memcpy(half, tr->params, (size_t)tr->n_params * sizeof(double));
        snn_fit_params_from_x(tr, lb.x, half);
    }
    *iterations = it;
    tr->delta_override = 0;
    memcpy(tr->params, keep, (size_t)tr->n_params * sizeof(double));
    snn_trainer_apply_params(tr, tr->params);
    free(keep);
    snn_lbfgs_free(&lb);
    return rc;
}

/* ---------------------------------------------------------------- the report */

static void factor_name(const snn_trainer *tr, int64_t a, char *buf, size_t nb) {
    const snn_params *p = tr->p;
    const int nt = tr->n_types;
    if (a < (int64_t)nt * nt)
        snprintf(buf, nb, "recurrent/%s_to_%s", p->rec.type_names[a / nt], p->rec.type_names[a % nt]);
    else
        snprintf(buf, nb, "feedforward/%s_to_%s", p->ff.type_names[(a - nt * nt) / nt], p->rec.type_names[(a - nt * nt) % nt]);
}

int snn_fit_report(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, const double *initial, const char *out,
                   snn_error *err) {
    const snn_params *p = tr->p;
    const snn_train_params *tp = &p->train;
    const snn_network *net = tr->net;
    const int nt = tr->n_types, K = net->n_groups;
    const int64_t nsf = (int64_t)nt * nt, np = tr->train_w ? 0 : tr->n_params;
    int rc = SNN_OK;
    /* which factors were trained */
    int64_t idx[2 * SNN_MAX_TYPES * SNN_MAX_TYPES];
    int n_tr = 0;
    for (int64_t a = 0; a < np; a++)
        if ((a < nsf && tr->train_sf) || (a >= nsf && tr->train_sf_ff)) idx[n_tr++] = a;
    double se[2 * SNN_MAX_TYPES * SNN_MAX_TYPES];
    for (int i = 0; i < 2 * SNN_MAX_TYPES * SNN_MAX_TYPES; i++) se[i] = NAN;
    double *H = NULL, *eval = NULL, *V = NULL;
    int zero = 0;
    snn_forced_sums sums;
    memset(&sums, 0, sizeof sums);
    double loss = NAN;
    const int64_t data_steps = tr->n_chunks * tr->L;
    int64_t span = tp->has_fit_steps && tp->fit_steps < data_steps ? tp->fit_steps : data_steps;
    if (tr->forced) {
        span = tr->fit_steps;
        rc = snn_fit_load(tr, read_chunk, ctx, err);
        if ((rc = snn_par_sync(rc, err))) return rc;
        rc = snn_fit_evaluate(tr, &sums, &loss, n_tr > 0 ? tr->gn : NULL, err);
        if (rc) return rc;
        if (n_tr > 0) {
            H = calloc((size_t)n_tr * n_tr, sizeof(double));
            eval = calloc((size_t)n_tr, sizeof(double));
            V = calloc((size_t)n_tr * n_tr, sizeof(double));
            rc = !H || !eval || !V ? snn_fail(err, SNN_ERUN, "out of memory for the curvature") : SNN_OK;
        }
        /* the bias check below is collective: every rank goes on, or none */
        if ((rc = snn_par_sync(rc, err))) {
            free(H);
            free(eval);
            free(V);
            return rc;
        }
        if (n_tr > 0) {
            /* the Gauss-Newton matrix of the summed spike-time loss in log space: a neuron's v depends on
             * its own type's factors only, so the matrix is block diagonal over the postsynaptic type */
            for (int i = 0; i < n_tr; i++)
                for (int j = 0; j < n_tr; j++) {
                    int64_t a = idx[i], b = idx[j];
                    int ka = a < nsf ? (int)(a / nt) : nt + (int)((a - nsf) / nt);
                    int kb = b < nsf ? (int)(b / nt) : nt + (int)((b - nsf) / nt);
                    int la = (int)((a < nsf ? a : a - nsf) % nt), lb = (int)((b < nsf ? b : b - nsf) % nt);
                    double h = la == lb ? tr->gn[((size_t)la * K + ka) * K + kb] : 0.0;
                    H[i * n_tr + j] = h * tr->params[a] * tr->params[b];
                }
            zero = snn_standard_errors(n_tr, H, se, eval, V);
        }
    }
    double half[2 * SNN_MAX_TYPES * SNN_MAX_TYPES], bias[2 * SNN_MAX_TYPES * SNN_MAX_TYPES];
    int64_t half_its = 0;
    const int bias_check = tr->lbfgs && n_tr > 0;
    if (bias_check) {
        printf("\nBias check: refitting at spike_time_delta = %g mV from the fitted factors...\n", tp->spike_time_delta / 2);
        fflush(stdout);
        rc = refit_half_delta(tr, half, &half_its, err);
        if (rc) {
            free(H);
            free(eval);
            free(V);
            return rc;
        }
        for (int i = 0; i < n_tr; i++) bias[i] = 4.0 / 3.0 * log(tr->params[idx[i]] / half[idx[i]]);
    }
    /* the closed-loop run over every trial and the files are rank 0's; the other ranks wait for it at
     * their next status sync */
    if (snn_par_rank() != 0) {
        free(H);
        free(eval);
        free(V);
        return SNN_OK;
    }
    cl_stats cs;
    memset(&cs, 0, sizeof cs);
    rc = closed_loop(tr, read_chunk, ctx, span, &cs, err);
    if (rc) {
        free(H);
        free(eval);
        free(V);
        return rc;
    }

    /* console */
    printf("\n============================================================\nFIT REPORT\n"
           "============================================================\n");
    double err0 = 0, err1 = 0, err2 = 0;
    int n_t = 0;
    if (np > 0) {
        if (bias_check)
            printf("  %-42s %9s %9s %10s %10s %10s %10s %9s\n", "factor", "value", "target", "log error", "SE (log)",
                   "bias (log)", "total (log)", "debiased");
        else
            printf("  %-42s %9s %9s %10s %10s\n", "factor", "value", "target", "log error", "SE (log)");
        for (int i = 0; i < n_tr; i++) {
            int64_t a = idx[i];
            char name[160];
            factor_name(tr, a, name, sizeof name);
            int has_t = a < nsf ? tr->has_target_sf : tr->has_target_sf_ff;
            double tgt = has_t ? (a < nsf ? tr->target_sf[a] : tr->target_sf_ff[a - nsf]) : NAN;
            double le = has_t ? log(tr->params[a] / tgt) : NAN;
            if (has_t) {
                err0 += fabs(log(initial[a] / tgt));
                err1 += fabs(le);
                if (bias_check) err2 += fabs((4 * log(half[a]) - log(tr->params[a])) / 3 - log(tgt));
                n_t++;
            }
            if (bias_check)
                printf("  %-42s %9.4f %9.4f %+10.4f %10.4f %+10.4f %10.4f %9.4f\n", name, tr->params[a], tgt, le, se[i],
                       bias[i], sqrt(se[i] * se[i] + bias[i] * bias[i]), exp((4 * log(half[a]) - log(tr->params[a])) / 3));
            else
                printf("  %-42s %9.4f %9.4f %+10.4f %10.4f\n", name, tr->params[a], tgt, le, se[i]);
        }
        if (n_t > 0)
            printf("  mean |log(SF/target)|: %.4f at the start -> %.4f fitted%s", err0 / n_t, err1 / n_t,
                   bias_check ? "" : "\n");
        if (n_t > 0 && bias_check) printf(", %.4f debiased\n", err2 / n_t);
    }
    if (tr->forced && n_tr > 0) {
        int m = 0;
        printf("  Sloppiest direction (standard error %.4g in log space along it):", eval[0] > 0 ? 1 / sqrt(eval[0]) : INFINITY);
        for (int i = 0; i < n_tr; i++)
            if (fabs(V[i * n_tr + 0]) >= 0.1) {
                char name[160];
                factor_name(tr, idx[i], name, sizeof name);
                printf("%s %+.2f %s", m++ ? "," : "", V[i * n_tr + 0], name);
            }
        printf("\n");
        if (zero) printf("  %d direction(s) the data do not constrain: infinite standard errors there\n", zero);
        printf("  SE: from the curvature of the summed spike-time loss read as a likelihood (the precision with which\n"
               "  the data pin the loss's optimum); bias: the optimum's offset from the truth that delta causes, from a\n"
               "  refit at delta/2 (%lld iterations); total = sqrt(SE^2 + bias^2), the uncertainty to quote;\n"
               "  debiased: the value with the bias removed (Richardson extrapolation from delta and delta/2)\n",
               (long long)half_its);
    }
    if (tr->forced) {
        int64_t tsp = 0, rep = 0, ext = 0, ns = 0;
        for (int l = 0; l < nt; l++) {
            tsp += sums.teacher_spikes[l];
            rep += sums.reproduced[l];
            ext += sums.extra[l];
            ns += sums.neuron_steps[l];
        }
        printf("  Forced replay (%d trials x %lld steps): spike-time loss %.6g, %.1f%% of the teacher's %lld spikes "
               "reproduced at the same step, %.4f Hz extra per neuron\n",
               tr->B, (long long)tr->fit_steps, sums.count ? sums.loss / (double)sums.count : NAN,
               tsp ? 100.0 * (double)rep / (double)tsp : NAN, (long long)tsp,
               ns ? (double)ext / ((double)ns * net->dt / 1000.0) : NAN);
    }
    printf("  Closed loop on the teacher's inputs (%d trials x %.1f s, %.0f ms windows):\n", tr->B,
           (double)span * net->dt / 1000.0, cs.window_ms);
    for (int l = 0; l < nt; l++)
        printf("    %-12s rate %.3f Hz (teacher %.3f), CV %.2f (teacher %.2f), windowed-rate r = %.3f\n",
               p->rec.type_names[l], cs.rate_s[l], cs.rate_t[l], cs.cv_s[l], cs.cv_t[l], cs.r[l]);
    fflush(stdout);

    /* files */
    json_t *j = json_object();
    static const char *const methods[] = {"closed_loop", "teacher_forced"}, *const opts[] = {"adam", "lbfgs"};
    static const char *const modes[] = {"scaling_factors", "scaling_factors_recurrent", "scaling_factors_feedforward",
                                        "weights"};
    json_object_set_new(j, "method", json_string(methods[tr->forced]));
    json_object_set_new(j, "optimiser", json_string(opts[tr->lbfgs]));
    json_object_set_new(j, "optimisable", json_string(modes[tp->optimisable]));
    json_object_set_new(j, "epochs", json_integer(tr->iteration));
    if (tr->lbfgs) {
        json_object_set_new(j, "evaluations", json_integer(tr->lb.evaluations));
        json_object_set_new(j, "stopped_by", json_string(tr->converged ? snn_lbfgs_status_text(tr->lb.status)
                                                                       : "the iteration cap (epochs)"));
    }
    json_object_set_new(j, "best_loss", num(tr->best_loss));
    json_t *fac = json_array();
    char path[SNN_PATH_MAX];
    /* the CSV grows with the factors (up to 2 x 16 x 16 of them) */
    char *csv = NULL;
    size_t csv_len = 0;
    FILE *csvf = open_memstream(&csv, &csv_len);
    if (csvf)
        fprintf(csvf, "factor,value,target,standard_error,standard_error_log,log_error,delta_bias_log,"
                      "standard_error_total_log\n");
    for (int i = 0; i < n_tr; i++) {
        int64_t a = idx[i];
        char name[160], t_s[40] = "", se_s[40] = "", sel_s[40] = "", le_s[40] = "", v_s[40];
        factor_name(tr, a, name, sizeof name);
        int has_t = a < nsf ? tr->has_target_sf : tr->has_target_sf_ff;
        double tgt = has_t ? (a < nsf ? tr->target_sf[a] : tr->target_sf_ff[a - nsf]) : NAN;
        json_t *f = json_object();
        json_object_set_new(f, "name", json_string(name));
        json_object_set_new(f, "initial", num(initial[a]));
        json_object_set_new(f, "value", num(tr->params[a]));
        json_object_set_new(f, "target", has_t ? num(tgt) : json_null());
        json_object_set_new(f, "log_error", has_t ? num(log(tr->params[a] / tgt)) : json_null());
        json_object_set_new(f, "standard_error_log", num(se[i]));
        json_object_set_new(f, "standard_error", num(se[i] * tr->params[a]));
        if (bias_check) {
            json_object_set_new(f, "value_half_delta", num(half[a]));
            json_object_set_new(f, "delta_bias_log", num(bias[i]));
            json_object_set_new(f, "standard_error_total_log", num(sqrt(se[i] * se[i] + bias[i] * bias[i])));
            /* Richardson: the bias removed, (4 log p(delta/2) - log p(delta)) / 3 */
            json_object_set_new(f, "debiased_value", num(exp((4 * log(half[a]) - log(tr->params[a])) / 3)));
        }
        json_array_append_new(fac, f);
        snn_format_repr(tr->params[a], v_s, sizeof v_s);
        if (has_t) snn_format_repr(tgt, t_s, sizeof t_s);
        if (has_t) snn_format_repr(log(tr->params[a] / tgt), le_s, sizeof le_s);
        if (!isnan(se[i])) snn_format_repr(se[i] * tr->params[a], se_s, sizeof se_s);
        if (!isnan(se[i])) snn_format_repr(se[i], sel_s, sizeof sel_s);
        char b_s[40] = "", tot_s[40] = "";
        if (bias_check) snn_format_repr(bias[i], b_s, sizeof b_s);
        if (bias_check && !isnan(se[i])) snn_format_repr(sqrt(se[i] * se[i] + bias[i] * bias[i]), tot_s, sizeof tot_s);
        if (csvf) fprintf(csvf, "%s,%s,%s,%s,%s,%s,%s,%s\n", name, v_s, t_s, se_s, sel_s, le_s, b_s, tot_s);
    }
    json_object_set_new(j, "factors", fac);
    json_object_set_new(j, "mean_abs_log_error", n_t ? num(err1 / n_t) : json_null());
    json_object_set_new(j, "mean_abs_log_error_initial", n_t ? num(err0 / n_t) : json_null());
    if (bias_check) json_object_set_new(j, "mean_abs_log_error_debiased", n_t ? num(err2 / n_t) : json_null());
    if (tr->forced) {
        json_t *fj = json_object();
        json_object_set_new(fj, "trials", json_integer(tr->B));
        json_object_set_new(fj, "steps", json_integer(tr->fit_steps));
        json_object_set_new(fj, "burn_in_steps", json_integer(tr->burn_steps));
        json_object_set_new(fj, "spike_time_delta_mv", num(tp->spike_time_delta));
        json_object_set_new(fj, "spike_time_loss", json_string(tp->spike_time_loss ? "squared_hinge" : "cross_entropy"));
        json_object_set_new(fj, "spike_time_loss_mean", num(sums.count ? sums.loss / (double)sums.count : NAN));
        json_object_set_new(fj, "elements", json_integer(sums.count));
        json_t *rep = json_object(), *ext = json_object();
        for (int l = 0; l < nt; l++) {
            json_object_set_new(rep, p->rec.type_names[l],
                                num(sums.teacher_spikes[l] ? (double)sums.reproduced[l] / (double)sums.teacher_spikes[l] : NAN));
            json_object_set_new(ext, p->rec.type_names[l],
                                num(sums.neuron_steps[l] ? (double)sums.extra[l] / ((double)sums.neuron_steps[l] * net->dt / 1000.0)
                                                         : NAN));
        }
        json_object_set_new(fj, "reproduced_fraction", rep);
        json_object_set_new(fj, "extra_rate_hz", ext);
        json_object_set_new(j, "forced_replay", fj);
        if (n_tr > 0) {
            json_t *sd = json_object(), *comp = json_object();
            json_object_set_new(sd, "eigenvalue", num(eval[0]));
            json_object_set_new(sd, "standard_error_log", num(eval[0] > 0 ? 1 / sqrt(eval[0]) : INFINITY));
            for (int i = 0; i < n_tr; i++) {
                char name[160];
                factor_name(tr, idx[i], name, sizeof name);
                json_object_set_new(comp, name, num(V[i * n_tr + 0]));
            }
            json_object_set_new(sd, "components", comp);
            json_object_set_new(j, "sloppiest_direction", sd);
            json_t *evs = json_array();
            for (int i = 0; i < n_tr; i++) json_array_append_new(evs, num(eval[i]));
            json_object_set_new(j, "curvature_eigenvalues", evs);
            json_object_set_new(j, "standard_errors_from",
                                json_string("standard_error_log: the Gauss-Newton curvature of the summed spike-time "
                                            "loss in log space, read as a likelihood; delta_bias_log: 4/3 x the change "
                                            "of the log factor in a refit at delta/2 (the bias grows like delta^2); "
                                            "standard_error_total_log combines them (see docs/training.md)"));
            if (bias_check) json_object_set_new(j, "bias_check_iterations", json_integer(half_its));
        }
    }
    json_t *cj = json_object(), *types = json_object();
    json_object_set_new(cj, "trials", json_integer(tr->B));
    json_object_set_new(cj, "steps", json_integer(cs.steps));
    json_object_set_new(cj, "window_ms", num(cs.window_ms));
    for (int l = 0; l < nt; l++) {
        json_t *t = json_object();
        json_object_set_new(t, "rate_hz", num(cs.rate_s[l]));
        json_object_set_new(t, "rate_hz_teacher", num(cs.rate_t[l]));
        json_object_set_new(t, "cv", num(cs.cv_s[l]));
        json_object_set_new(t, "cv_teacher", num(cs.cv_t[l]));
        json_object_set_new(t, "pearson_r", num(cs.r[l]));
        json_object_set_new(types, p->rec.type_names[l], t);
    }
    json_object_set_new(cj, "types", types);
    json_object_set_new(cj, "pearson_r_all_types", num(cs.r_all));
    json_object_set_new(j, "closed_loop", cj);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!text) rc = snn_fail(err, SNN_ERUN, "out of memory writing the fit report");
    if (!rc) rc = snn_path_join(path, sizeof path, out, "final_state/fit_report.json", err);
    if (!rc) {
        size_t len = strlen(text);
        text[len] = '\n';
        rc = snn_write_file_atomic(path, text, len + 1, err);
    }
    free(text);
    if (!rc) rc = snn_path_join(path, sizeof path, out, "final_state/fit_report.csv", err);
    if ((!csvf || fclose(csvf) != 0) && !rc) rc = snn_fail(err, SNN_ERUN, "out of memory writing the fit report");
    if (!rc && np > 0) rc = snn_write_file_atomic(path, csv, csv_len, err);
    free(csv);
    if (!rc) printf("  ✓ Saved: %s/final_state/fit_report.json%s\n", out, np > 0 ? " and fit_report.csv" : "");
    free(H);
    free(eval);
    free(V);
    return rc;
}
