#include "train/forced_fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/par.h"

static int64_t n_sf(const snn_trainer *tr) { return (int64_t)tr->n_types * tr->n_types; }
static int64_t n_sf_ff(const snn_trainer *tr) { return (int64_t)tr->n_ff * tr->n_types; }

int snn_fit_init(snn_trainer *tr, snn_error *err) {
    const snn_train_params *tp = &tr->p->train;
    snn_network *net = tr->net;
    const int64_t T_data = tr->n_chunks * tr->L;
    tr->fit_steps = tp->has_fit_steps && tp->fit_steps < T_data ? tp->fit_steps : T_data;
    tr->burn_steps = (int64_t)ceil(tp->burn_in / net->dt - 1e-9);
    if (tr->burn_steps < 0) tr->burn_steps = 0;
    /* the events hold a chunk (Adam) or the fit data (L-BFGS, and the final report of either) */
    const int64_t T_ev = tr->fit_steps > tr->L ? tr->fit_steps : tr->L;
    /* this rank's trials (all of them on one rank) */
    int rc = snn_forced_state_alloc(&tr->fst, net, tr->Bl, err);
    if (!rc) rc = snn_forced_state_alloc(&tr->fst_eval, net, tr->Bl, err);
    if (!rc) rc = snn_forced_work_alloc(&tr->fw, net, tr->Bl, tr->lbfgs ? tr->fit_steps : tr->L, tr->train_w, err);
    if (!rc) rc = snn_events_alloc(&tr->ev_t, tr->Bl, T_ev, net->n, err);
    if (!rc) rc = snn_events_alloc(&tr->ev_i, tr->Bl, T_ev, net->n_in, err);
    if (rc) return rc;
    const size_t n_gn = (size_t)tr->n_types * net->n_groups * net->n_groups;
    tr->gn = snn_calloc(n_gn + 1, sizeof(double), "curvature", err);
    tr->fit_chain = snn_calloc(sizeof(snn_forced_sums) + n_gn * sizeof(double), 1, "teacher-forcing sums", err);
    if (!tr->gn || !tr->fit_chain) return SNN_ERUN;
    if (tr->lbfgs) {
        tr->opt_index = snn_calloc((size_t)tr->n_params + 1, sizeof(int64_t), "L-BFGS parameters", err);
        if (!tr->opt_index) return SNN_ERUN;
        tr->n_opt = 0;
        if (tr->train_w) {
            for (int64_t a = 0; a < tr->n_params; a++) tr->opt_index[tr->n_opt++] = a;
        } else {
            if (tr->train_sf)
                for (int64_t a = 0; a < n_sf(tr); a++) tr->opt_index[tr->n_opt++] = a;
            if (tr->train_sf_ff)
                for (int64_t a = 0; a < n_sf_ff(tr); a++) tr->opt_index[tr->n_opt++] = n_sf(tr) + a;
        }
        rc = snn_lbfgs_init(&tr->lb, tr->n_opt, (int)tp->lbfgs_history, err);
    }
    return rc;
}

void snn_fit_free(snn_trainer *tr) {
    snn_forced_state_free(&tr->fst);
    snn_forced_state_free(&tr->fst_eval);
    snn_forced_work_free(&tr->fw);
    snn_events_free(&tr->ev_t);
    snn_events_free(&tr->ev_i);
    snn_free(tr->gn);
    snn_free(tr->fit_chain);
    snn_free(tr->opt_index);
    if (tr->lbfgs) snn_lbfgs_free(&tr->lb);
}

/* Appends the first `steps` steps of a chunk buffer [B][L][n] to the events. */
static int append_steps(snn_events *ev, const uint8_t *x, int B, int64_t L, int64_t steps, int64_t n, uint8_t *tmp,
                        snn_error *err) {
    if (steps == L) return snn_events_append(ev, x, L, err);
    for (int b = 0; b < B; b++) memcpy(tmp + (size_t)b * steps * n, x + (size_t)b * L * n, (size_t)(steps * n));
    return snn_events_append(ev, tmp, steps, err);
}

static int load_span(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, int64_t steps, snn_error *err) {
    const int64_t L = tr->L, n = tr->net->n, n_in = tr->net->n_in;
    snn_events_clear(&tr->ev_t);
    snn_events_clear(&tr->ev_i);
    uint8_t *tmp = malloc((size_t)tr->Bl * (size_t)L * (size_t)(n > n_in ? n : n_in) + 1);
    if (!tmp) return snn_fail(err, SNN_ERUN, "out of memory reading the teacher data");
    int rc = SNN_OK;
    for (int64_t c = 0; !rc && c * L < steps; c++) {
        const int64_t len = steps - c * L < L ? steps - c * L : L;
        rc = read_chunk(ctx, c, tr->b0, tr->Bl, tr->in, tr->target, err);
        if (!rc) rc = append_steps(&tr->ev_t, tr->target, tr->Bl, L, len, n, tmp, err);
        if (!rc) rc = append_steps(&tr->ev_i, tr->in, tr->Bl, L, len, n_in, tmp, err);
    }
    free(tmp);
    return rc;
}

int snn_fit_load(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, snn_error *err) {
    if (tr->fit_loaded) return SNN_OK;
    int rc = load_span(tr, read_chunk, ctx, tr->fit_steps, err);
    tr->fit_loaded = !rc;
    return rc;
}

double snn_fit_total(const snn_trainer *tr, const snn_forced_sums *sums, double losses[SNN_N_LOSSES]) {
    const double *w = tr->p->train.loss_weight;
    memset(losses, 0, SNN_N_LOSSES * sizeof(double));
    losses[SNN_LOSS_SPIKE_TIME] = sums->count > 0 ? sums->loss / (double)sums->count : 0.0;
    if (w[SNN_LOSS_WEIGHT_RATIO] > 0 && !tr->train_w)
        losses[SNN_LOSS_WEIGHT_RATIO] = snn_weight_ratio_loss(tr->params, tr->params + n_sf(tr), tr->n_types, tr->n_ff, 0,
                                                              tr->p->train.target_weight_ratio, 1.0, NULL, NULL);
    double total = 0;
    for (int k = 0; k < SNN_N_LOSSES; k++)
        if (w[k] > 0) total += w[k] * losses[k];
    return total;
}

/* The gradient of the weighted loss with respect to the parameters (SF and SF_FF themselves, or the
 * log-weights) from a run's sums and weight gradients, into grad (n_params). */
static void param_gradient(const snn_trainer *tr, const snn_forced_sums *sums, double *grad) {
    const double *w = tr->p->train.loss_weight;
    const snn_network *net = tr->net;
    const double scale = sums->count > 0 ? w[SNN_LOSS_SPIKE_TIME] / (double)sums->count : 0.0;
    memset(grad, 0, (size_t)tr->n_params * sizeof(double));
    if (tr->train_w) {
        /* theta = log w: dL/dtheta = dL/dw w */
        for (int64_t e = 0; e < net->rec.nnz; e++) grad[e] = scale * tr->gw[e] * (double)net->rec.w[e];
        for (int64_t e = 0; e < net->ff.nnz; e++) grad[net->rec.nnz + e] = scale * tr->gw_ff[e] * (double)net->ff.w[e];
        return;
    }
    if (tr->train_sf)
        for (int64_t a = 0; a < n_sf(tr); a++) grad[a] = scale * sums->g_sf[a];
    if (tr->train_sf_ff)
        for (int64_t a = 0; a < n_sf_ff(tr); a++) grad[n_sf(tr) + a] = scale * sums->g_sf_ff[a];
    if (w[SNN_LOSS_WEIGHT_RATIO] > 0) {
        double g_sf[SNN_MAX_TYPES * SNN_MAX_TYPES] = {0}, g_ff[SNN_MAX_TYPES * SNN_MAX_TYPES] = {0};
        snn_weight_ratio_loss(tr->params, tr->params + n_sf(tr), tr->n_types, tr->n_ff, 0, tr->p->train.target_weight_ratio,
                              w[SNN_LOSS_WEIGHT_RATIO], g_sf, g_ff);
        if (tr->train_sf)
            for (int64_t a = 0; a < n_sf(tr); a++) grad[a] += g_sf[a];
        if (tr->train_sf_ff)
            for (int64_t a = 0; a < n_sf_ff(tr); a++) grad[n_sf(tr) + a] += g_ff[a];
    }
}

static snn_forced_opts opts(const snn_trainer *tr, int64_t t_first, int grad) {
    const snn_train_params *tp = &tr->p->train;
    snn_forced_opts o = {.loss = (snn_spike_loss)tp->spike_time_loss,
                         .delta = tr->delta_override > 0 ? tr->delta_override : tp->spike_time_delta,
                         .t_first = t_first,
                         .burn_in = tr->burn_steps,
                         .sens = grad && !tr->train_w,
                         .gn = 0,
                         .weights = grad && tr->train_w};
    return o;
}

static void add_sums(snn_forced_sums *acc, const snn_forced_sums *s) {
    acc->loss += s->loss;
    acc->count += s->count;
    for (int l = 0; l < SNN_MAX_TYPES; l++) {
        acc->neuron_steps[l] += s->neuron_steps[l];
        acc->teacher_spikes[l] += s->teacher_spikes[l];
        acc->reproduced[l] += s->reproduced[l];
        acc->extra[l] += s->extra[l];
    }
}

/* The forced run of this rank's trials on the events from state st, and its sums over every trial of the
 * job into *sums (and gn, with o->gn): the same bits as one process's snn_forced_run over all trials.
 * The ranks' blocks are added in trial order, each rank continuing the sums where the previous rank's
 * trials left them (snn_par_chain_in/out), and every rank gets the totals. Collective (every rank calls
 * it with the same options); nothing in it can fail. */
static void run_all(snn_trainer *tr, snn_forced_state *st, int64_t T, const snn_forced_opts *o, snn_forced_sums *sums,
                    double *gw, double *gw_ff, double *gn) {
    const snn_network *net = tr->net;
    const int gn_on = o->sens && !o->weights && o->gn && gn;
    const size_t gn_bytes = gn_on ? (size_t)tr->n_types * net->n_groups * net->n_groups * sizeof(double) : 0;
    snn_forced_run_parts(net, st, &tr->ev_t, &tr->ev_i, 0, T, o, gw, gw_ff, &tr->fw);
    memset(sums, 0, sizeof *sums);
    if (gn_on) memset(gn, 0, gn_bytes);
    const int many = snn_par_size() > 1;
    unsigned char *buf = tr->fit_chain;
    const size_t bytes = sizeof *sums + gn_bytes;
    if (many) {
        snn_par_chain_in(buf, bytes);
        if (snn_par_rank() > 0) {
            memcpy(sums, buf, sizeof *sums);
            if (gn_on) memcpy(gn, buf + sizeof *sums, gn_bytes);
        }
    }
    snn_forced_sums_add(net, &tr->fw, st->B, T, o, sums, gn_on ? gn : NULL);
    if (many) {
        memcpy(buf, sums, sizeof *sums);
        if (gn_on) memcpy(buf + sizeof *sums, gn, gn_bytes);
        snn_par_chain_out(buf, bytes);
        memcpy(sums, buf, sizeof *sums);
        if (gn_on) memcpy(gn, buf + sizeof *sums, gn_bytes);
    }
    if (gn_on) snn_forced_gn_mirror(net, gn);
}

int snn_fit_chunk(snn_trainer *tr, int64_t chunk, double losses[SNN_N_LOSSES], double *total, snn_error *err) {
    snn_network *net = tr->net;
    snn_events_clear(&tr->ev_t);
    snn_events_clear(&tr->ev_i);
    tr->fit_loaded = 0;
    /* the buffers are sized for the chunk: appending cannot fail but for memory */
    int rc = snn_events_append(&tr->ev_t, tr->target, tr->L, err);
    if (!rc) rc = snn_events_append(&tr->ev_i, tr->in, tr->L, err);
    rc = snn_par_sync(rc, err);
    if (rc) return rc;
    snn_forced_opts o = opts(tr, chunk * tr->L, 1);
    if (tr->train_w) {
        memset(tr->gw, 0, (size_t)net->rec.nnz * sizeof(double));
        memset(tr->gw_ff, 0, (size_t)net->ff.nnz * sizeof(double));
    }
    snn_forced_sums sums;
    run_all(tr, &tr->fst, tr->L, &o, &sums, tr->gw, tr->gw_ff, NULL);
    add_sums(&tr->win_sums, &sums);
    tr->win_count++;
    param_gradient(tr, &sums, tr->grad_it);
    for (int64_t a = 0; a < tr->n_params; a++) tr->grad_acc[a] += tr->grad_it[a];
    *total = snn_fit_total(tr, &sums, losses);
    return SNN_OK;
}

int snn_fit_eval_chunks(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, int64_t n, double *total,
                        snn_error *err) {
    snn_forced_state_reset(&tr->fst_eval, tr->net);
    snn_forced_sums acc;
    memset(&acc, 0, sizeof acc);
    for (int64_t c = 0; c < n; c++) {
        snn_events_clear(&tr->ev_t);
        snn_events_clear(&tr->ev_i);
        tr->fit_loaded = 0;
        int rc = read_chunk(ctx, c, tr->b0, tr->Bl, tr->in, tr->target, err);
        if (!rc) rc = snn_events_append(&tr->ev_t, tr->target, tr->L, err);
        if (!rc) rc = snn_events_append(&tr->ev_i, tr->in, tr->L, err);
        rc = snn_par_sync(rc, err);
        if (rc) return rc;
        snn_forced_opts o = opts(tr, c * tr->L, 0);
        snn_forced_sums s;
        run_all(tr, &tr->fst_eval, tr->L, &o, &s, NULL, NULL, NULL);
        add_sums(&acc, &s);
    }
    double losses[SNN_N_LOSSES];
    *total = snn_fit_total(tr, &acc, losses);
    return SNN_OK;
}

void snn_fit_x_from_params(const snn_trainer *tr, const double *params, double *x) {
    for (int64_t i = 0; i < tr->n_opt; i++) {
        double p = params[tr->opt_index[i]];
        x[i] = tr->train_w ? p : log(p);
    }
}

void snn_fit_params_from_x(snn_trainer *tr, const double *x, double *params) {
    for (int64_t i = 0; i < tr->n_opt; i++) params[tr->opt_index[i]] = tr->train_w ? x[i] : exp(x[i]);
}

int snn_fit_objective(void *ctx, const double *x, double *f, double *g, snn_error *err) {
    snn_trainer *tr = ctx;
    (void)err;
    snn_network *net = tr->net;
    snn_fit_params_from_x(tr, x, tr->params);
    snn_trainer_apply_params(tr, tr->params);
    snn_forced_state_reset(&tr->fst, net);
    snn_forced_opts o = opts(tr, 0, 1);
    if (tr->train_w) {
        memset(tr->gw, 0, (size_t)net->rec.nnz * sizeof(double));
        memset(tr->gw_ff, 0, (size_t)net->ff.nnz * sizeof(double));
    }
    snn_forced_sums sums;
    run_all(tr, &tr->fst, tr->fit_steps, &o, &sums, tr->gw, tr->gw_ff, NULL);
    double losses[SNN_N_LOSSES];
    *f = snn_fit_total(tr, &sums, losses);
    param_gradient(tr, &sums, tr->grad_it);
    /* to the log of the factors (weights mode: the parameters are log-weights already) */
    for (int64_t i = 0; i < tr->n_opt; i++) {
        int64_t a = tr->opt_index[i];
        g[i] = tr->train_w ? tr->grad_it[a] : tr->grad_it[a] * tr->params[a];
    }
    tr->eval_sums = sums;
    tr->eval_sums_f = *f;
    return SNN_OK;
}

int snn_fit_evaluate(snn_trainer *tr, snn_forced_sums *sums, double *loss, double *gn, snn_error *err) {
    (void)err;
    snn_forced_state_reset(&tr->fst_eval, tr->net);
    snn_forced_opts o = opts(tr, 0, gn != NULL && !tr->train_w);
    o.weights = 0;
    o.gn = o.sens;
    run_all(tr, &tr->fst_eval, tr->fit_steps, &o, sums, NULL, NULL, gn);
    double losses[SNN_N_LOSSES];
    *loss = snn_fit_total(tr, sums, losses);
    return SNN_OK;
}
