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
    st->v = snn_calloc_aligned(tn, sizeof(double), "membrane potentials", err);
    st->ref = snn_calloc_aligned(tn, sizeof(int32_t), "refractory counters", err);
    st->g = snn_calloc_aligned(tn * 2 * (size_t)(net->n_cols ? net->n_cols : 1), sizeof(snn_real),
                               "conductances", err);
    st->drive = snn_calloc_aligned(tn * (size_t)(net->n_groups ? net->n_groups : 1), sizeof(snn_real),
                                   "synaptic drive", err);
    st->isyn = snn_calloc_aligned(tn, sizeof(snn_real), "synaptic currents", err);
    st->vf = snn_calloc_aligned(tn, sizeof(snn_real), "membrane potentials", err);
    st->spk = snn_calloc_aligned(tn, sizeof(int32_t), "spike lists", err);
    if (!st->v || !st->ref || !st->g || !st->drive || !st->isyn || !st->vf || !st->spk) {
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
    snn_free(st->vf);
    snn_free(st->spk);
    memset(st, 0, sizeof *st);
}

void snn_state_reset_trial(snn_state *st, const snn_network *net, int b) {
    int64_t n = st->n;
    for (int64_t j = 0; j < n; j++) st->v[(size_t)b * n + j] = net->u_reset[j];
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
    memcpy(b->v + (size_t)dst * n, a->v + (size_t)src * n, (size_t)n * sizeof(double));
    memcpy(b->ref + (size_t)dst * n, a->ref + (size_t)src * n, (size_t)n * sizeof(int32_t));
    memcpy(b->g + dst * gsz, a->g + src * gsz, gsz * sizeof(snn_real));
}

/* Currents of step 2 for the recorded neurons, from the state before the update. */
static void track_before(const snn_network *net, const snn_track *tr, int64_t row, const double *v,
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

static void track_after(const snn_network *net, const snn_track *tr, int64_t row, const double *v,
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

/* One trial over T steps. `taped` is a compile-time constant in each caller, so the recording adds no
 * branch to the loops of an untaped run. */
static inline __attribute__((always_inline)) void run_trial(const snn_network *net, snn_state *st, int b, int64_t T,
                                                             const uint8_t *in, uint8_t *out, snn_track *tr,
                                                             snn_tape *tape, const int taped) {
    const int64_t n = net->n, n_in = net->n_in;
    const int S = net->n_cols, K = net->n_groups, n_types = net->n_types;
    double *restrict v = st->v + (size_t)b * n;
    int32_t *restrict ref = st->ref + (size_t)b * n;
    snn_real *restrict g = st->g + (size_t)b * 2 * S * n;
    snn_real *restrict drive = st->drive + (size_t)b * K * n;
    snn_real *restrict isyn = st->isyn + (size_t)b * n;
    snn_real *restrict vf = st->vf + (size_t)b * n;
    int32_t *restrict spk = st->spk + (size_t)b * n;
    const snn_real *restrict theta = net->theta, *restrict u_reset = net->u_reset, *restrict e_l = net->e_l;
    const snn_real *restrict leak = net->leak_factor, *restrict dtc = net->dt_over_c;
    const int32_t *restrict ref_steps = net->ref_steps;
    const uint16_t all_in_bounds = (uint16_t)(((1u << (2 * S)) - 1u) << SNN_TAPE_CLAMP_SHIFT);

    for (int64_t t = 0; t < T; t++) {
        uint8_t *restrict o = out + (size_t)t * n;
        const uint8_t *x = in ? in + (size_t)t * n_in : NULL;
        snn_real *restrict tv = NULL, *restrict tv_next = NULL, *restrict tgs = NULL;
        uint16_t *restrict tfl = NULL;
        if (taped) {
            tv = snn_tape_v(tape, b, t);
            tv_next = snn_tape_v(tape, b, t + 1);
            tgs = snn_tape_gsum(tape, b, t);
            tfl = snn_tape_flags(tape, b, t);
            /* v - theta before the step; the slot of a neuron that spiked at t-1 already holds that
             * step's pre-reset value (its v here is U_reset, which the backward knows) */
            if (t == 0)
                for (int64_t j = 0; j < n; j++) tv[j] = (snn_real)(v[j] - theta[j]);
        }
        if (tr) track_before(net, tr, tr->row0 + t, v, g);

        /* 1. spikes from the previous voltage */
        for (int64_t j = 0; j < n; j++) {
            o[j] = v[j] - theta[j] > 0;
            vf[j] = (snn_real)v[j];
        }

        /* 2. synaptic current from the previous v and G */
        for (int64_t j = 0; j < n; j++) isyn[j] = 0;
        if (taped)
            for (int64_t j = 0; j < n; j++) tgs[j] = 0;
        for (int s = 0; s < S; s++) {
            const snn_real *restrict g0 = g + (size_t)s * n, *restrict g1 = g + (size_t)(S + s) * n;
            /* the current in float (its rounding is that of G); v itself accumulates in double */
            const snn_real e = net->e_syn[s];
            for (int64_t j = 0; j < n; j++) isyn[j] += (g0[j] + g1[j]) * (vf[j] - e);
            if (taped)
                for (int64_t j = 0; j < n; j++) tgs[j] += g0[j] + g1[j];
        }

        /* 3. voltage update, reset, refractory hold */
        for (int64_t j = 0; j < n; j++) {
            double vt = v[j] - (double)(isyn[j] * dtc[j]) - (v[j] - e_l[j]) * leak[j];
            int32_t r = ref[j];
            double vn = (o[j] || r > 0) ? (double)u_reset[j] : vt;
            if (taped) {
                tfl[j] = (uint16_t)(o[j] | (r > 0) << 1) | all_in_bounds;
                tv_next[j] = (snn_real)((o[j] ? vt : vn) - theta[j]);
            }
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
                    const int last = q == nc - 1 && c == 1;
                    if (taped) {
                        const uint16_t bit = (uint16_t)(1u << (SNN_TAPE_CLAMP_SHIFT + c * S + s));
                        for (int64_t j = 0; j < n; j++) {
                            snn_real y = gg[j] + d[j] * sc;
                            /* the clamp passes gradient where the pre-clamp value is within bounds */
                            tfl[j] &= (uint16_t)~((y < lo || y > hi) ? bit : 0);
                            y = y < lo ? lo : y;
                            gg[j] = y > hi ? hi : y;
                        }
                        if (last)
                            for (int64_t j = 0; j < n; j++) d[j] = 0;
                    } else if (last) {
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

void snn_forward_trial(const snn_network *net, snn_state *st, int b, int64_t T, const uint8_t *in,
                       uint8_t *out, snn_track *tr) {
    run_trial(net, st, b, T, in, out, tr, NULL, 0);
}

void snn_forward_trial_taped(const snn_network *net, snn_state *st, int b, int64_t T, const uint8_t *in,
                             uint8_t *out, snn_track *tr, snn_tape *tape) {
    run_trial(net, st, b, T, in, out, tr, tape, 1);
}

void snn_forward_chunk_taped(const snn_network *net, snn_state *st, int64_t T, const uint8_t *in_spikes,
                             uint8_t *out_spikes, snn_track *tracks, int n_tracks, snn_tape *tape) {
    const int64_t n = net->n, n_in = net->n_in;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < st->n_trials; b++) {
        snn_track *tr = NULL;
        for (int q = 0; q < n_tracks; q++)
            if (tracks[q].trial == b) tr = &tracks[q];
        const uint8_t *in = in_spikes ? in_spikes + (size_t)b * T * n_in : NULL;
        if (tape) snn_forward_trial_taped(net, st, b, T, in, out_spikes + (size_t)b * T * n, tr, tape);
        else snn_forward_trial(net, st, b, T, in, out_spikes + (size_t)b * T * n, tr);
    }
}

void snn_forward_chunk(const snn_network *net, snn_state *st, int64_t T, const uint8_t *in_spikes,
                       uint8_t *out_spikes, snn_track *tracks, int n_tracks) {
    snn_forward_chunk_taped(net, st, T, in_spikes, out_spikes, tracks, n_tracks, NULL);
}

int snn_tape_alloc(snn_tape *tape, const snn_network *net, int n_trials, int64_t T, snn_error *err) {
    memset(tape, 0, sizeof *tape);
    if (net->n_cols > SNN_TAPE_MAX_COLUMNS)
        return snn_fail(err, SNN_EINPUT, "training supports at most %d synapse types (the network has %d)",
                        SNN_TAPE_MAX_COLUMNS, net->n_cols);
    tape->n_trials = n_trials;
    tape->n = net->n;
    tape->T = T;
    size_t rows = (size_t)n_trials * (size_t)T * (size_t)net->n;
    tape->v = snn_calloc_aligned(rows + (size_t)n_trials * (size_t)net->n, sizeof(snn_real), "the BPTT tape (voltages)", err);
    tape->gsum = snn_calloc_aligned(rows, sizeof(snn_real), "the BPTT tape (conductance sums)", err);
    tape->flags = snn_calloc_aligned(rows, sizeof(uint16_t), "the BPTT tape (spike and clamp bits)", err);
    if (!tape->v || !tape->gsum || !tape->flags) {
        snn_tape_free(tape);
        return SNN_ERUN;
    }
    return SNN_OK;
}

void snn_tape_free(snn_tape *tape) {
    snn_free(tape->v);
    snn_free(tape->gsum);
    snn_free(tape->flags);
    memset(tape, 0, sizeof *tape);
}

int snn_backward_work_alloc(snn_backward_work *w, const snn_network *net, int B, snn_error *err) {
    memset(w, 0, sizeof *w);
    w->n_trials = B;
    w->n = net->n;
    w->n_in = net->n_in;
    size_t n = (size_t)net->n, S = (size_t)net->n_cols, K = (size_t)(net->n_groups ? net->n_groups : 1);
    w->vbar = snn_calloc_aligned((size_t)B * n, sizeof(snn_real), "BPTT voltage adjoints", err);
    w->gbar = snn_calloc_aligned((size_t)B * 2 * S * n + 1, sizeof(snn_real), "BPTT conductance adjoints", err);
    w->a = snn_calloc_aligned((size_t)B * K * n, sizeof(snn_real), "BPTT drive adjoints", err);
    w->at = snn_calloc_aligned(K * n * (size_t)B, sizeof(snn_real), "BPTT drive adjoints", err);
    w->sbar = snn_calloc_aligned(n * (size_t)B, sizeof(snn_real), "BPTT spike adjoints", err);
    w->tmp = snn_calloc_aligned((size_t)B * n, sizeof(snn_real), "BPTT scratch", err);
    w->ds = snn_calloc_aligned((size_t)B * n, sizeof(float), "BPTT spike gradients", err);
    w->spk_t = snn_calloc_aligned(n * (size_t)B, 1, "BPTT spikes", err);
    w->in_t = snn_calloc_aligned((size_t)(net->n_in ? net->n_in : 1) * (size_t)B, 1, "BPTT inputs", err);
    w->g_trial = snn_calloc_aligned((size_t)B * K * (size_t)net->n_types, sizeof(double), "BPTT gradients", err);
    if (!w->vbar || !w->gbar || !w->a || !w->at || !w->sbar || !w->tmp || !w->ds || !w->spk_t || !w->in_t ||
        !w->g_trial) {
        snn_backward_work_free(w);
        return SNN_ERUN;
    }
    return SNN_OK;
}

void snn_backward_work_free(snn_backward_work *w) {
    snn_free(w->vbar);
    snn_free(w->gbar);
    snn_free(w->a);
    snn_free(w->at);
    snn_free(w->sbar);
    snn_free(w->tmp);
    snn_free(w->ds);
    snn_free(w->spk_t);
    snn_free(w->in_t);
    snn_free(w->g_trial);
    memset(w, 0, sizeof *w);
}

/* Phase A of a reverse step for trial b: the clamp mask, the adjoint of each group's drive (both
 * layouts), the event-driven scaling-factor gradients, and the decay adjoint. */
static void backward_drive(const snn_network *net, const snn_tape *tape, int b, int64_t t, int64_t T,
                           const uint8_t *in_spikes, int want_sf, int want_sf_ff, int want_w,
                           snn_backward_work *w) {
    const int64_t n = net->n, n_in = net->n_in;
    const int S = net->n_cols, K = net->n_groups, B = w->n_trials, nt = net->n_types;
    const uint16_t *restrict fl = snn_tape_flags(tape, b, t);
    snn_real *restrict gbar = w->gbar + (size_t)b * 2 * S * n;
    snn_real *restrict a_all = w->a + (size_t)b * K * n;
    for (int c = 0; c < 2; c++)
        for (int s = 0; s < S; s++) {
            snn_real *restrict gg = gbar + (size_t)(c * S + s) * n;
            const int sh = SNN_TAPE_CLAMP_SHIFT + c * S + s;
            for (int64_t j = 0; j < n; j++) gg[j] = ((fl[j] >> sh) & 1) ? gg[j] : 0;
        }
    for (int k = 0; k < K; k++) {
        snn_real *restrict a = a_all + (size_t)k * n;
        for (int64_t j = 0; j < n; j++) a[j] = 0;
        for (int q = 0; q < net->group_ncols[k]; q++) {
            int s = net->group_cols[k][q];
            const snn_real *restrict g0 = gbar + (size_t)s * n, *restrict g1 = gbar + (size_t)(S + s) * n;
            const snn_real sc0 = net->g_scale[0][s], sc1 = net->g_scale[1][s];
            for (int64_t j = 0; j < n; j++) a[j] += g0[j] * sc0 + g1[j] * sc1;
        }
        snn_real *restrict at = w->at + (size_t)k * n * B;
        for (int64_t j = 0; j < n; j++) at[(size_t)j * B + b] = a[j];
    }
    if (want_w) {
        for (int64_t i = 0; i < n; i++) w->spk_t[(size_t)i * B + b] = fl[i] & 1;
        const uint8_t *x = in_spikes ? in_spikes + ((size_t)b * T + t) * n_in : NULL;
        for (int64_t m = 0; m < n_in; m++) w->in_t[(size_t)m * B + b] = x ? x[m] : 0;
    }
    double *gt = w->g_trial + (size_t)b * K * nt;
    if (want_sf)
        for (int64_t i = 0; i < n; i++) {
            if (!(fl[i] & 1)) continue;
            int k = net->type[i];
            const snn_real *a = a_all + (size_t)k * n;
            double *gk = gt + (size_t)k * nt;
            for (int64_t e = net->rec.row[i]; e < net->rec.row[i + 1]; e++) {
                int32_t j = net->rec.col[e];
                gk[net->type[j]] += (double)net->rec.w[e] * (double)a[j];
            }
        }
    if (want_sf_ff && in_spikes) {
        const uint8_t *x = in_spikes + ((size_t)b * T + t) * n_in;
        for (int64_t m = 0; m < n_in; m++) {
            if (!x[m]) continue;
            int k = nt + net->ff_type[m];
            const snn_real *a = a_all + (size_t)k * n;
            double *gk = gt + (size_t)k * nt;
            for (int64_t e = net->ff.row[m]; e < net->ff.row[m + 1]; e++) {
                int32_t j = net->ff.col[e];
                gk[net->type[j]] += (double)net->ff.w[e] * (double)a[j];
            }
        }
    }
    for (int c = 0; c < 2; c++)
        for (int s = 0; s < S; s++) {
            snn_real *restrict gg = gbar + (size_t)(c * S + s) * n;
            const snn_real al = net->alpha[c][s];
            for (int64_t j = 0; j < n; j++) gg[j] *= al;
        }
}

/* Phase B for source rows [lo, hi): the transposed product over all trials, and per-synapse weight
 * gradients in weights mode. */
static void backward_product(const snn_network *net, int64_t i, snn_backward_work *w, double *gw) {
    const int B = w->n_trials;
    const int64_t n = net->n;
    snn_real *restrict sb = w->sbar + (size_t)i * B;
    for (int b = 0; b < B; b++) sb[b] = 0;
    int k = net->type[i];
    if (net->group_ncols[k] == 0) return;
    const snn_real *restrict at = w->at + (size_t)k * n * B;
    const uint8_t *restrict spk = w->spk_t + (size_t)i * B;
    for (int64_t e = net->rec.row[i]; e < net->rec.row[i + 1]; e++) {
        const snn_real *restrict aj = at + (size_t)net->rec.col[e] * B;
        const snn_real we = net->rec.w_eff[e];
        for (int b = 0; b < B; b++) sb[b] += we * aj[b];
        if (gw) {
            double acc = 0;
            for (int b = 0; b < B; b++) acc += spk[b] ? (double)aj[b] : 0.0;
            gw[e] += acc * net->sf[k][net->type[net->rec.col[e]]];
        }
    }
}

static void backward_product_ff(const snn_network *net, int64_t m, snn_backward_work *w, double *gw) {
    const int B = w->n_trials;
    const int64_t n = net->n;
    int k = net->n_types + net->ff_type[m];
    if (net->group_ncols[k] == 0) return;
    const snn_real *restrict at = w->at + (size_t)k * n * B;
    const uint8_t *restrict x = w->in_t + (size_t)m * B;
    for (int64_t e = net->ff.row[m]; e < net->ff.row[m + 1]; e++) {
        const snn_real *restrict aj = at + (size_t)net->ff.col[e] * B;
        double acc = 0;
        for (int b = 0; b < B; b++) acc += x[b] ? (double)aj[b] : 0.0;
        gw[e] += acc * net->sf_ff[net->ff_type[m]][net->type[net->ff.col[e]]];
    }
}

/* Phase C for trial b: the voltage step and the spike's surrogate. */
static void backward_voltage(const snn_network *net, const snn_tape *tape, int b, int64_t t,
                             const snn_spike_grad_source *ds, const double *vcoef, double scale,
                             snn_backward_work *w) {
    const int64_t n = net->n;
    const int S = net->n_cols, B = w->n_trials;
    const uint16_t *restrict fl = snn_tape_flags(tape, b, t);
    const uint16_t *restrict fl_prev = t > 0 ? snn_tape_flags(tape, b, t - 1) : NULL;
    const snn_real *restrict tv = snn_tape_v(tape, b, t), *restrict tv_next = snn_tape_v(tape, b, t + 1);
    const snn_real *restrict gs = snn_tape_gsum(tape, b, t);
    float *restrict dsb = w->ds + (size_t)b * n;
    ds->fill(ds->ctx, b, t, dsb);
    snn_real *restrict vbar = w->vbar + (size_t)b * n;
    snn_real *restrict vtb = w->tmp + (size_t)b * n;
    snn_real *restrict gbar = w->gbar + (size_t)b * 2 * S * n;
    const snn_real *restrict theta = net->theta, *restrict u_reset = net->u_reset;
    const snn_real *restrict leak = net->leak_factor, *restrict dtc = net->dt_over_c;
    const snn_real sc = (snn_real)scale;
    for (int64_t j = 0; j < n; j++) {
        const int spiked = fl[j] & 1, held = (fl[j] >> 1) & 1;
        const int reset_before = fl_prev ? (fl_prev[j] & 1) : 0;
        const snn_real u = reset_before ? u_reset[j] - theta[j] : tv[j];  /* v_prev - theta */
        snn_real sb = w->sbar[(size_t)j * B + b] + dsb[j];
        /* d v_new / d s = -v~ whether or not the neuron spiked (only the reset term U_reset * s is
         * detached); the slot of step t+1 holds v~ (v after the step unless it spiked) */
        sb -= held ? 0 : vbar[j] * (theta[j] + tv_next[j]);
        const snn_real vt = (spiked | held) ? 0 : vbar[j];
        snn_real su = sc * (u < 0 ? -u : u) + 1;
        snn_real vp = vt * (1 - leak[j] - dtc[j] * gs[j]) + sb / (su * su);
        vtb[j] = vt * dtc[j];
        vbar[j] = vp;
    }
    for (int s = 0; s < S; s++) {
        snn_real *restrict g0 = gbar + (size_t)s * n, *restrict g1 = gbar + (size_t)(S + s) * n;
        const snn_real e = net->e_syn[s];
        for (int64_t j = 0; j < n; j++) {
            const int reset_before = fl_prev ? (fl_prev[j] & 1) : 0;
            const snn_real v_prev = reset_before ? u_reset[j] : theta[j] + tv[j];
            const snn_real d = -vtb[j] * (v_prev - e);
            g0[j] += d;
            g1[j] += d;
        }
    }
    if (vcoef && t > 0) {
        /* the voltage loss on v after step t-1, which is v before step t */
        const double *ca = vcoef + (size_t)b * n, *cc = vcoef + (size_t)(w->n_trials + b) * n;
        for (int64_t j = 0; j < n; j++) {
            const int reset_before = fl_prev ? (fl_prev[j] & 1) : 0;
            const double v_prev = reset_before ? (double)u_reset[j] : (double)theta[j] + (double)tv[j];
            vbar[j] += (snn_real)(ca[j] * v_prev + cc[j]);
        }
    }
}

void snn_backward_chunk(const snn_network *net, const snn_tape *tape, int64_t T, const uint8_t *in_spikes,
                        const snn_spike_grad_source *ds, const double *vcoef, double surrgrad_scale,
                        snn_grads *grads, snn_backward_work *w) {
    const int64_t n = net->n, n_in = net->n_in;
    const int S = net->n_cols, K = net->n_groups, B = w->n_trials, nt = net->n_types;
    memset(w->vbar, 0, (size_t)B * n * sizeof(snn_real));
    memset(w->gbar, 0, (size_t)B * 2 * S * n * sizeof(snn_real));
    memset(w->g_trial, 0, (size_t)B * K * nt * sizeof(double));
    const int want_w = grads->w != NULL || grads->w_ff != NULL;
    /* three barriers per step: worth it only when a step has enough work (serial otherwise; the result
     * is the same either way) */
#pragma omp parallel if ((int64_t)B * n >= 32768)
    {
        /* the voltage loss on the chunk's last voltage (v after step T-1) */
        if (vcoef) {
#pragma omp for schedule(static)
            for (int b = 0; b < B; b++) {
                const uint16_t *fl = snn_tape_flags(tape, b, T - 1);
                const snn_real *tv = snn_tape_v(tape, b, T);
                const double *ca = vcoef + (size_t)b * n, *cc = vcoef + (size_t)(B + b) * n;
                for (int64_t j = 0; j < n; j++) {
                    double v_last = (fl[j] & 1) ? (double)net->u_reset[j] : (double)net->theta[j] + (double)tv[j];
                    w->vbar[(size_t)b * n + j] = (snn_real)(ca[j] * v_last + cc[j]);
                }
            }
        }
        for (int64_t t = T - 1; t >= 0; t--) {
#pragma omp for schedule(static)
            for (int b = 0; b < B; b++)
                backward_drive(net, tape, b, t, T, in_spikes, grads->sf != NULL, grads->sf_ff != NULL, want_w, w);
#pragma omp for schedule(static, 16)
            for (int64_t i = 0; i < n; i++) backward_product(net, i, w, grads->w);
            if (grads->w_ff) {
#pragma omp for schedule(static, 16)
                for (int64_t m = 0; m < n_in; m++) backward_product_ff(net, m, w, grads->w_ff);
            }
#pragma omp for schedule(static)
            for (int b = 0; b < B; b++) backward_voltage(net, tape, b, t, ds, vcoef, surrgrad_scale, w);
        }
    }
    /* reduce the per-trial scaling-factor gradients in trial order */
    for (int b = 0; b < B; b++) {
        const double *gt = w->g_trial + (size_t)b * K * nt;
        if (grads->sf)
            for (int k = 0; k < nt; k++)
                for (int l = 0; l < nt; l++) grads->sf[k * nt + l] += gt[(size_t)k * nt + l];
        if (grads->sf_ff)
            for (int k = 0; k < net->n_ff_types; k++)
                for (int l = 0; l < nt; l++) grads->sf_ff[k * nt + l] += gt[(size_t)(nt + k) * nt + l];
    }
}

void snn_spike_grad_array_fill(void *ctx, int b, int64_t t, float *ds) {
    const snn_spike_grad_array *a = ctx;
    memcpy(ds, a->ds + ((size_t)b * (size_t)a->T + (size_t)t) * (size_t)a->n, (size_t)a->n * sizeof(float));
}
