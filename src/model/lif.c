#include "model/lif.h"

#include <string.h>

#include "core/mem.h"

int snn_state_alloc(snn_state *st, const snn_network *net, int n_trials, snn_error *err) {
    memset(st, 0, sizeof *st);
    st->n_trials = n_trials;
    st->n = net->n;
    st->n_cols = net->n_cols;
    st->n_groups = net->n_groups;
    size_t tn = (size_t)n_trials * (size_t)net->n;
    st->v = snn_calloc_aligned(tn, sizeof(snn_real), "membrane potentials", err);
    st->ref = snn_calloc_aligned(tn, sizeof(int32_t), "refractory counters", err);
    st->g = snn_calloc_aligned(tn * 2 * (size_t)(net->n_cols ? net->n_cols : 1), sizeof(snn_real),
                               "conductances", err);
    st->drive = snn_calloc_aligned(tn * (size_t)(net->n_groups ? net->n_groups : 1), sizeof(snn_real),
                                   "synaptic drive", err);
    st->isyn = snn_calloc_aligned(tn, sizeof(snn_real), "synaptic currents", err);
    st->spk = snn_calloc_aligned(tn, sizeof(int32_t), "spike lists", err);
    if (!st->v || !st->ref || !st->g || !st->drive || !st->isyn || !st->spk) {
        snn_state_free(st);
        return SNN_ERUN;
    }
    snn_state_reset(st, net);
    return SNN_OK;
}

void snn_state_free(snn_state *st) {
    snn_free(st->v);
    snn_free(st->ref);
    snn_free(st->g);
    snn_free(st->drive);
    snn_free(st->isyn);
    snn_free(st->spk);
    memset(st, 0, sizeof *st);
}

void snn_state_reset_trial(snn_state *st, const snn_network *net, int b) {
    int64_t n = st->n;
    memcpy(st->v + (size_t)b * n, net->u_reset, (size_t)n * sizeof(snn_real));
    memset(st->ref + (size_t)b * n, 0, (size_t)n * sizeof(int32_t));
    memset(st->g + (size_t)b * 2 * st->n_cols * n, 0, (size_t)2 * st->n_cols * n * sizeof(snn_real));
    memset(st->drive + (size_t)b * st->n_groups * n, 0, (size_t)st->n_groups * n * sizeof(snn_real));
}

void snn_state_reset(snn_state *st, const snn_network *net) {
    for (int b = 0; b < st->n_trials; b++) snn_state_reset_trial(st, net, b);
}

void snn_state_copy_trial(const snn_state *a, int src, snn_state *b, int dst) {
    int64_t n = a->n;
    size_t gsz = (size_t)2 * a->n_cols * n;
    memcpy(b->v + (size_t)dst * n, a->v + (size_t)src * n, (size_t)n * sizeof(snn_real));
    memcpy(b->ref + (size_t)dst * n, a->ref + (size_t)src * n, (size_t)n * sizeof(int32_t));
    memcpy(b->g + dst * gsz, a->g + src * gsz, gsz * sizeof(snn_real));
}

/* Currents of step 2 for the recorded neurons, from the state before the update. */
static void track_before(const snn_network *net, const snn_track *tr, int64_t row, const snn_real *v,
                         const snn_real *g) {
    int S = net->n_cols;
    int64_t n = net->n;
    for (int q = 0; q < tr->n_neurons; q++) {
        int64_t j = tr->neurons ? tr->neurons[q] : q;
        if (tr->i_syn) {
            float *out = tr->i_syn + ((size_t)row * tr->n_neurons + q) * S;
            for (int s = 0; s < S; s++)
                out[s] = (float)((g[(size_t)s * n + j] + g[(size_t)(S + s) * n + j]) * (v[j] - net->e_syn[s]));
        }
        if (tr->i_leak)
            tr->i_leak[(size_t)row * tr->n_neurons + q] =
                (float)((v[j] - net->e_l[j]) * net->leak_factor[j] * net->c_over_dt[j]);
    }
}

static void track_after(const snn_network *net, const snn_track *tr, int64_t row, const snn_real *v,
                        const snn_real *g) {
    int S = net->n_cols;
    int64_t n = net->n;
    for (int q = 0; q < tr->n_neurons; q++) {
        int64_t j = tr->neurons ? tr->neurons[q] : q;
        if (tr->v) tr->v[(size_t)row * tr->n_neurons + q] = (float)v[j];
        if (tr->g) {
            float *out = tr->g + ((size_t)row * tr->n_neurons + q) * 2 * S;
            for (int c = 0; c < 2; c++)
                for (int s = 0; s < S; s++) out[c * S + s] = (float)g[(size_t)(c * S + s) * n + j];
        }
    }
    if (tr->v_sum)
        for (int64_t j = 0; j < n; j++) {
            tr->v_sum[j] += (double)v[j];
            tr->v_sumsq[j] += (double)v[j] * (double)v[j];
        }
    if (tr->g_sum)
        for (int s = 0; s < S; s++) {
            double *acc = tr->g_sum + (size_t)s * n;
            const snn_real *g0 = g + (size_t)s * n, *g1 = g + (size_t)(S + s) * n;
            for (int64_t j = 0; j < n; j++) acc[j] += (double)g0[j] + (double)g1[j];
        }
}

void snn_forward_trial(const snn_network *net, snn_state *st, int b, int64_t T, const uint8_t *in,
                       uint8_t *out, snn_track *tr) {
    const int64_t n = net->n, n_in = net->n_in;
    const int S = net->n_cols, K = net->n_groups, n_types = net->n_types;
    snn_real *restrict v = st->v + (size_t)b * n;
    int32_t *restrict ref = st->ref + (size_t)b * n;
    snn_real *restrict g = st->g + (size_t)b * 2 * S * n;
    snn_real *restrict drive = st->drive + (size_t)b * K * n;
    snn_real *restrict isyn = st->isyn + (size_t)b * n;
    int32_t *restrict spk = st->spk + (size_t)b * n;
    const snn_real *restrict theta = net->theta, *restrict u_reset = net->u_reset, *restrict e_l = net->e_l;
    const snn_real *restrict leak = net->leak_factor, *restrict dtc = net->dt_over_c;
    const int32_t *restrict ref_steps = net->ref_steps;

    for (int64_t t = 0; t < T; t++) {
        uint8_t *restrict o = out + (size_t)t * n;
        const uint8_t *x = in ? in + (size_t)t * n_in : NULL;
        if (tr) track_before(net, tr, tr->row0 + t, v, g);

        /* 1. spikes from the previous voltage */
        for (int64_t j = 0; j < n; j++) o[j] = v[j] - theta[j] > 0;

        /* 2. synaptic current from the previous v and G */
        for (int64_t j = 0; j < n; j++) isyn[j] = 0;
        for (int s = 0; s < S; s++) {
            const snn_real *restrict g0 = g + (size_t)s * n, *restrict g1 = g + (size_t)(S + s) * n;
            const snn_real e = net->e_syn[s];
            for (int64_t j = 0; j < n; j++) isyn[j] += (g0[j] + g1[j]) * (v[j] - e);
        }

        /* 3. voltage update, reset, refractory hold */
        for (int64_t j = 0; j < n; j++) {
            snn_real vt = v[j] - isyn[j] * dtc[j] - (v[j] - e_l[j]) * leak[j];
            int32_t r = ref[j];
            snn_real vn = (o[j] || r > 0) ? u_reset[j] : vt;
            r = r > 0 ? r - 1 : 0;
            ref[j] = o[j] ? ref_steps[j] : r;
            v[j] = vn;
        }

        /* 4. decay */
        for (int c = 0; c < 2; c++)
            for (int s = 0; s < S; s++) {
                snn_real *restrict gg = g + (size_t)(c * S + s) * n;
                const snn_real a = net->alpha[c][s];
                for (int64_t j = 0; j < n; j++) gg[j] *= a;
            }

        /* 5-6. spike events: sum w_eff per (presynaptic group, target) */
        int active[SNN_MAX_GROUPS] = {0};
        int nspk = 0;
        for (int64_t j = 0; j < n; j++) {
            spk[nspk] = (int32_t)j;
            nspk += o[j];
        }
        for (int q = 0; q < nspk; q++) {
            int32_t i = spk[q];
            int k = net->type[i];
            if (net->group_ncols[k] == 0) continue;
            active[k] = 1;
            snn_real *restrict d = drive + (size_t)k * n;
            const int32_t *restrict col = net->rec.col;
            const snn_real *restrict w = net->rec.w_eff;
            for (int64_t e = net->rec.row[i]; e < net->rec.row[i + 1]; e++) d[col[e]] += w[e];
        }
        if (x)
            for (int64_t m = 0; m < n_in; m++) {
                if (!x[m]) continue;
                int k = n_types + net->ff_type[m];
                if (net->group_ncols[k] == 0) continue;
                active[k] = 1;
                snn_real *restrict d = drive + (size_t)k * n;
                const int32_t *restrict col = net->ff.col;
                const snn_real *restrict w = net->ff.w_eff;
                for (int64_t e = net->ff.row[m]; e < net->ff.row[m + 1]; e++) d[col[e]] += w[e];
            }

        /* 7. spread the drive over the group's columns, clamp (only driven columns can leave their
         * bounds: decay keeps each component inside [g_scale0, 0] or [0, g_scale1]) */
        for (int k = 0; k < K; k++) {
            if (!active[k]) continue;
            snn_real *restrict d = drive + (size_t)k * n;
            const int nc = net->group_ncols[k];
            for (int q = 0; q < nc; q++) {
                int s = net->group_cols[k][q];
                for (int c = 0; c < 2; c++) {
                    snn_real *restrict gg = g + (size_t)(c * S + s) * n;
                    const snn_real sc = net->g_scale[c][s];
                    const snn_real lo = c == 0 ? sc : 0, hi = c == 0 ? 0 : sc;
                    if (q == nc - 1 && c == 1) {
                        /* the last use of the drive also clears it for the next step */
                        for (int64_t j = 0; j < n; j++) {
                            snn_real y = gg[j] + d[j] * sc;
                            y = y < lo ? lo : y;
                            gg[j] = y > hi ? hi : y;
                            d[j] = 0;
                        }
                    } else {
                        for (int64_t j = 0; j < n; j++) {
                            snn_real y = gg[j] + d[j] * sc;
                            y = y < lo ? lo : y;
                            gg[j] = y > hi ? hi : y;
                        }
                    }
                }
            }
        }
        if (tr) track_after(net, tr, tr->row0 + t, v, g);
    }
}

void snn_forward_chunk(const snn_network *net, snn_state *st, int64_t T, const uint8_t *in_spikes,
                       uint8_t *out_spikes, snn_track *tracks, int n_tracks) {
    const int64_t n = net->n, n_in = net->n_in;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < st->n_trials; b++) {
        snn_track *tr = NULL;
        for (int q = 0; q < n_tracks; q++)
            if (tracks[q].trial == b) tr = &tracks[q];
        snn_forward_trial(net, st, b, T, in_spikes ? in_spikes + (size_t)b * T * n_in : NULL,
                  out_spikes + (size_t)b * T * n, tr);
    }
}
