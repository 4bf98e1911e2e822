#include "model/lif.h"

#include <omp.h>
#include <string.h>

#include "core/mem.h"

/* Neurons are updated in blocks of this many: the block's slice of every per-neuron array (state,
 * constants, drive, block scratch) stays in L1 while the block's loops run over it. */
#define SNN_BLOCK 256
/* Below this many neurons one trial is never split across threads (a barrier per step costs more
 * than the step). */
#define SNN_SPLIT_MIN_NEURONS 2048

int snn_state_alloc(snn_state *st, const snn_network *net, int n_trials, snn_error *err) {
    memset(st, 0, sizeof *st);
    st->n_trials = n_trials;
    st->n = net->n;
    st->n_cols = net->n_cols;
    st->n_groups = net->n_groups;
    int max_parts = omp_get_max_threads();
    st->max_parts = max_parts < 1 ? 1 : max_parts > SNN_MAX_PARTS ? SNN_MAX_PARTS : max_parts;
    size_t tn = (size_t)n_trials * (size_t)net->n;
    size_t np = (size_t)st->max_parts + 1;
    st->v = snn_calloc_aligned(tn, sizeof(double), "membrane potentials", err);
    st->ref = snn_calloc_aligned(tn, sizeof(int32_t), "refractory counters", err);
    st->g = snn_calloc_aligned(tn * 2 * (size_t)(net->n_cols ? net->n_cols : 1), sizeof(snn_real),
                               "conductances", err);
    st->drive = snn_calloc_aligned(tn * (size_t)(net->n_groups ? net->n_groups : 1), sizeof(snn_real),
                                   "synaptic drive", err);
    st->spk = snn_calloc_aligned(2 * tn + 1, sizeof(int32_t), "spike lists", err);
    st->spk_count = snn_calloc_aligned((size_t)n_trials * 2 * SNN_MAX_PARTS, sizeof(int64_t), "spike counts", err);
    st->next = snn_calloc_aligned(tn + 1, 1, "spikes of the next step", err);
    st->split_rec = snn_calloc(np * (size_t)(net->n + 1), sizeof(int64_t), "partitioned synapse rows", err);
    st->split_ff = snn_calloc(np * (size_t)(net->n_in + 1), sizeof(int64_t), "partitioned synapse rows", err);
    if (!st->v || !st->ref || !st->g || !st->drive || !st->spk || !st->spk_count || !st->next || !st->split_rec || !st->split_ff) {
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
    snn_free(st->spk);
    snn_free(st->spk_count);
    snn_free(st->next);
    snn_free(st->split_rec);
    snn_free(st->split_ff);
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

/* Splits the neurons into P contiguous parts (boundaries on multiples of 64, so that no cache line of
 * a per-neuron array is written by two threads) and, for every synapse row, where each part's
 * targets begin (rows hold their targets in ascending order). */
static void state_partition(snn_state *st, const snn_network *net, int P) {
    const int64_t n = net->n;
    st->n_parts = P;
    for (int p = 0; p <= P; p++) {
        int64_t b = p == P ? n : (n * p / P) / 64 * 64;
        st->part_lo[p] = b;
    }
    const snn_csr *m[2] = {&net->rec, &net->ff};
    int64_t *split[2] = {st->split_rec, st->split_ff};
    for (int q = 0; q < 2; q++) {
        const int64_t rows = m[q]->n_rows;
        for (int64_t i = 0; i < rows; i++) {
            int64_t e = m[q]->row[i];
            for (int p = 0; p <= P; p++) {
                const int64_t bound = st->part_lo[p];
                while (e < m[q]->row[i + 1] && m[q]->col[e] < bound) e++;
                split[q][(size_t)p * (size_t)rows + (size_t)i] = p == P ? m[q]->row[i + 1] : e;
            }
        }
    }
}

/* Currents of step 2 for the recorded neurons in [lo, hi), from the state before the update. */
static void track_before(const snn_network *net, const snn_track *tr, int64_t row, const double *v,
                         const snn_real *g, int64_t lo, int64_t hi) {
    int S = net->n_cols;
    int64_t n = net->n;
    for (int q = 0; q < tr->n_neurons; q++) {
        int64_t j = tr->neurons ? tr->neurons[q] : q;
        if (j < lo || j >= hi) continue;
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
                        const snn_real *g, int64_t lo, int64_t hi) {
    int S = net->n_cols;
    int64_t n = net->n;
    for (int q = 0; q < tr->n_neurons; q++) {
        int64_t j = tr->neurons ? tr->neurons[q] : q;
        if (j < lo || j >= hi) continue;
        if (tr->v) tr->v[(size_t)row * tr->n_neurons + q] = (float)v[j];
        if (tr->g) {
            float *out = tr->g + ((size_t)row * tr->n_neurons + q) * 2 * S;
            for (int c = 0; c < 2; c++)
                for (int s = 0; s < S; s++) out[c * S + s] = (float)g[(size_t)(c * S + s) * n + j];
        }
    }
    if (tr->v_sum)
        for (int64_t j = lo; j < hi; j++) {
            tr->v_sum[j] += (double)v[j];
            tr->v_sumsq[j] += (double)v[j] * (double)v[j];
        }
    if (tr->g_sum)
        for (int s = 0; s < S; s++) {
            double *acc = tr->g_sum + (size_t)s * n;
            const snn_real *g0 = g + (size_t)s * n, *g1 = g + (size_t)(S + s) * n;
            for (int64_t j = lo; j < hi; j++) acc[j] += (double)g0[j] + (double)g1[j];
        }
}

/* Indices of the nonzero bytes of o[lo, hi) into list, ascending; returns their count. Spikes are
 * rare, so eight bytes at a time are skipped while they are all zero. */
static int64_t compact_spikes(const uint8_t *restrict o, int64_t lo, int64_t hi, int32_t *restrict list) {
    int64_t c = 0, j = lo;
    for (; j + 8 <= hi; j += 8) {
        uint64_t word;
        memcpy(&word, o + j, 8);
        if (!word) continue;
        for (int q = 0; q < 8; q++) {
            list[c] = (int32_t)(j + q);
            c += o[j + q] != 0;
        }
    }
    for (; j < hi; j++) {
        list[c] = (int32_t)j;
        c += o[j] != 0;
    }
    return c;
}

/* One synapse column over a block of m neurons: its current from the previous G (added to isyn; the
 * first column starts the sums), then G's update: decay, the drive spread over both components, and
 * the clamp (rise component within [sc0, 0], decay component within [0, sc1]). `clear` zeroes the drive
 * after its group's last column. With non-negative weights (`nonneg`) the drive is >= 0, so the rise
 * component cannot exceed 0 nor the decay component fall below 0, and those two bounds are not
 * tested (the values and clamp bits are the same). All flags are compile-time constants. */
static inline __attribute__((always_inline)) void column_block(
    int64_t m, const snn_real *restrict vf, snn_real *restrict isyn, snn_real *restrict gs, uint16_t *restrict cm,
    snn_real *restrict g0, snn_real *restrict g1, snn_real *restrict d, snn_real e, snn_real a0, snn_real a1,
    snn_real sc0, snn_real sc1, uint16_t bit0, uint16_t bit1, uint16_t all_in_bounds, const int first,
    const int clear, const int nonneg, const int taped) {
    const snn_real zero = 0;
    for (int64_t q = 0; q < m; q++) {
        const snn_real x0 = g0[q], x1 = g1[q], dq = d[q];
        /* the current in float (its rounding is that of G); v itself accumulates in double */
        const snn_real c = (x0 + x1) * (vf[q] - e);
        isyn[q] = (first ? zero : isyn[q]) + c;
        snn_real y0 = x0 * a0 + dq * sc0, y1 = x1 * a1 + dq * sc1;
        if (taped) {
            gs[q] = (first ? zero : gs[q]) + (x0 + x1);
            /* the clamp passes gradient where the pre-clamp value is within bounds */
            const uint16_t out0 = nonneg ? (y0 < sc0) : (y0 < sc0 || y0 > zero);
            const uint16_t out1 = nonneg ? (y1 > sc1) : (y1 < zero || y1 > sc1);
            cm[q] = (first ? all_in_bounds : cm[q]) & (uint16_t)~((out0 ? bit0 : 0) | (out1 ? bit1 : 0));
        }
        y0 = y0 < sc0 ? sc0 : y0;
        if (!nonneg) y0 = y0 > zero ? zero : y0;
        g0[q] = y0;
        if (!nonneg) y1 = y1 < zero ? zero : y1;
        g1[q] = y1 > sc1 ? sc1 : y1;
        if (clear) d[q] = 0;
    }
}

/* Steps 2-7 for the neurons [j0, j1) (at most SNN_BLOCK), given this step's spikes o and the drive of
 * this step's spike events: every column (column_block), then the voltage. A column whose group sent
 * no spike has zero drive, and decay alone keeps a component within its bounds, so updating every
 * column every step gives exactly the values (and clamp bits) of updating only the driven ones.
 * Writes the spikes of the next step (v - theta > 0) into o_next. */
static inline __attribute__((always_inline)) void update_block(
    const snn_network *net, int64_t j0, int64_t j1, double *restrict v, int32_t *restrict ref,
    snn_real *restrict g, snn_real *restrict drive, const uint8_t *restrict o, uint8_t *restrict o_next,
    snn_real *restrict tv_next, snn_real *restrict tgs, uint16_t *restrict tfl, const int nonneg, const int taped) {
    const int64_t n = net->n, m = j1 - j0;
    const int S = net->n_cols;
    const uint16_t all_in_bounds = (uint16_t)(((1u << (2 * S)) - 1u) << SNN_TAPE_CLAMP_SHIFT);
    snn_real vf[SNN_BLOCK] __attribute__((aligned(64)));
    snn_real isyn[SNN_BLOCK] __attribute__((aligned(64)));
    snn_real gs[SNN_BLOCK] __attribute__((aligned(64)));
    uint16_t cm[SNN_BLOCK] __attribute__((aligned(64)));
    int32_t sp[SNN_BLOCK] __attribute__((aligned(64)));
    const double *restrict vb = v + j0;
    const uint8_t *restrict ob = o + j0;
    for (int64_t q = 0; q < m; q++) {
        vf[q] = (snn_real)vb[q];
        sp[q] = ob[q] != 0;
    }
    if (S == 0)
        for (int64_t q = 0; q < m; q++) isyn[q] = 0;
    for (int s = 0; s < S; s++) {
        snn_real *g0 = g + (size_t)s * n + j0, *g1 = g + (size_t)(S + s) * n + j0;
        const int k = net->col_group[s];
        snn_real *d = drive + (size_t)k * n + j0;
        const snn_real e = net->e_syn[s], a0 = net->alpha[0][s], a1 = net->alpha[1][s];
        const snn_real sc0 = net->g_scale[0][s], sc1 = net->g_scale[1][s];
        const uint16_t bit0 = (uint16_t)(1u << (SNN_TAPE_CLAMP_SHIFT + s));
        const uint16_t bit1 = (uint16_t)(1u << (SNN_TAPE_CLAMP_SHIFT + S + s));
        const int first = s == 0, clear = net->group_cols[k][net->group_ncols[k] - 1] == s;
#define SNN_COLUMN(F, C) \
    column_block(m, vf, isyn, gs, cm, g0, g1, d, e, a0, a1, sc0, sc1, bit0, bit1, all_in_bounds, F, C, nonneg, taped)
        if (first && clear) SNN_COLUMN(1, 1);
        else if (first) SNN_COLUMN(1, 0);
        else if (clear) SNN_COLUMN(0, 1);
        else SNN_COLUMN(0, 0);
#undef SNN_COLUMN
    }
    const double *restrict theta = net->theta_d + j0, *restrict u_reset = net->u_reset_d + j0;
    const double *restrict e_l = net->e_l_d + j0, *restrict leak = net->leak_d + j0;
    const snn_real *restrict dtc = net->dt_over_c + j0;
    const int32_t *restrict ref_steps = net->ref_steps + j0;
    double *restrict vw = v + j0;
    int32_t *restrict rb = ref + j0;
    /* int32 spike flags here (not bytes), so that the loop runs 8 neurons at a time */
    for (int64_t q = 0; q < m; q++) {
        const double vj = vw[q];
        const double vt = vj - (double)(isyn[q] * dtc[q]) - (vj - e_l[q]) * leak[q];
        /* every operand loaded unconditionally, so that the selects vectorise */
        const int32_t r = rb[q], rs = ref_steps[q], oq = sp[q], held = r > 0;
        const double ur = u_reset[q], th = theta[q];
        const double vn = (oq | held) ? ur : vt;
        if (taped) {
            tfl[j0 + q] = (uint16_t)(oq | held << 1) | (S ? cm[q] : 0);
            /* v - theta before the next step; a neuron spiking now keeps its pre-reset value */
            tv_next[j0 + q] = (snn_real)((oq ? vt : vn) - th);
            tgs[j0 + q] = S ? gs[q] : 0;
        }
        rb[q] = oq ? rs : r - held;
        vw[q] = vn;
        sp[q] = vn - th > 0;
    }
    uint8_t *restrict onb = o_next + j0;
    for (int64_t q = 0; q < m; q++) onb[q] = (uint8_t)sp[q];
}

/* Adds the spike events of one step into the drive of the targets in part p: lists + part_lo[q] holds
 * the recurrent neurons of part q that spike (ascending, counts[q] of them), x the inputs. Every
 * target sums its events in ascending order of the source, whatever the partition. */
static void deliver(const snn_network *net, const snn_state *st, snn_real *restrict drive, int p, int P,
                    const int32_t *lists, const int64_t *counts, const uint8_t *x) {
    const int64_t n = net->n, n_in = net->n_in;
    const int32_t *restrict col = net->rec.col;
    const snn_real *restrict w = net->rec.w_eff;
    const int64_t *lo_e = P > 1 ? st->split_rec + (size_t)p * (size_t)n : net->rec.row;
    const int64_t *hi_e = P > 1 ? st->split_rec + (size_t)(p + 1) * (size_t)n : net->rec.row + 1;
    for (int q = 0; q < P; q++) {
        const int32_t *list = lists + (P > 1 ? st->part_lo[q] : 0);
        for (int64_t c = 0; c < counts[q]; c++) {
            const int32_t i = list[c];
            const int k = net->type[i];
            if (net->group_ncols[k] == 0) continue;
            snn_real *restrict d = drive + (size_t)k * n;
#pragma GCC unroll 4
            for (int64_t e = lo_e[i]; e < hi_e[i]; e++) d[col[e]] += w[e];
        }
    }
    if (!x) return;
    const int32_t *restrict fcol = net->ff.col;
    const snn_real *restrict fw = net->ff.w_eff;
    const int64_t *flo = P > 1 ? st->split_ff + (size_t)p * (size_t)n_in : net->ff.row;
    const int64_t *fhi = P > 1 ? st->split_ff + (size_t)(p + 1) * (size_t)n_in : net->ff.row + 1;
    for (int64_t m0 = 0; m0 < n_in; m0 += 8) {
        const int64_t m1 = m0 + 8 < n_in ? m0 + 8 : n_in;
        if (m1 - m0 == 8) {
            uint64_t word;
            memcpy(&word, x + m0, 8);
            if (!word) continue;
        }
        for (int64_t m = m0; m < m1; m++) {
            if (!x[m]) continue;
            const int k = net->n_types + net->ff_type[m];
            if (net->group_ncols[k] == 0) continue;
            snn_real *restrict d = drive + (size_t)k * n;
#pragma GCC unroll 4
            for (int64_t e = flo[m]; e < fhi[m]; e++) d[fcol[e]] += fw[e];
        }
    }
}

/* Part p of P of one trial b over T steps: the neurons [part_lo[p], part_lo[p+1]) (all of them when
 * P = 1). With P > 1 the parts run as the threads of one team and meet at one barrier per step: a part
 * delivers the step's spikes to its own targets only and updates its own neurons, so the only data it
 * shares are the spike lists, double-buffered by step parity so that a part may write the next step's
 * list while another still reads this step's. `taped` is a compile-time constant in each caller, so
 * the recording adds no branch to the loops of an untaped run. */
static inline __attribute__((always_inline)) void run_part(const snn_network *net, snn_state *st, int b, int64_t T,
                                                            const uint8_t *in, uint8_t *out, snn_track *tr,
                                                            snn_tape *tape, int p, int P, const int taped) {
    if (T < 1) return;
    const int64_t n = net->n, n_in = net->n_in;
    const int S = net->n_cols, K = net->n_groups;
    const int64_t lo = P > 1 ? st->part_lo[p] : 0, hi = P > 1 ? st->part_lo[p + 1] : n;
    double *v = st->v + (size_t)b * n;
    int32_t *ref = st->ref + (size_t)b * n;
    snn_real *g = st->g + (size_t)b * 2 * S * n;
    snn_real *drive = st->drive + (size_t)b * K * n;
    int32_t *lists = st->spk + (size_t)b * 2 * n;                 /* [2][n] */
    int64_t *counts = st->spk_count + (size_t)b * 2 * SNN_MAX_PARTS;  /* [2][SNN_MAX_PARTS] */
    uint8_t *next = st->next + (size_t)b * n;

    /* 1. the spikes of step 0, from the voltage the state holds */
    for (int64_t j = lo; j < hi; j++) out[j] = v[j] - net->theta[j] > 0;
    counts[p] = compact_spikes(out, lo, hi, lists + lo);
    if (taped) {
        snn_real *tv = snn_tape_v(tape, b, 0);
        for (int64_t j = lo; j < hi; j++) tv[j] = (snn_real)(v[j] - net->theta[j]);
    }
    if (P > 1) {
#pragma omp barrier
    }
    for (int64_t t = 0; t < T; t++) {
        const int cur = (int)(t & 1), nxt = cur ^ 1;
        const uint8_t *o = out + (size_t)t * n;
        uint8_t *o_next = t + 1 < T ? out + (size_t)(t + 1) * n : next;
        if (tr) track_before(net, tr, tr->row0 + t, v, g, lo, hi);
        /* 5-6. this step's spike events (from the previous voltage) into the drive */
        deliver(net, st, drive, p, P, lists + (size_t)cur * n, counts + cur * SNN_MAX_PARTS,
                in ? in + (size_t)t * n_in : NULL);
        /* 2-4, 7 and the next step's spikes, block by block */
        snn_real *tv_next = taped ? snn_tape_v(tape, b, t + 1) : NULL;
        snn_real *tgs = taped ? snn_tape_gsum(tape, b, t) : NULL;
        uint16_t *tfl = taped ? snn_tape_flags(tape, b, t) : NULL;
        for (int64_t j0 = lo; j0 < hi; j0 += SNN_BLOCK)
            if (net->w_nonneg)
                update_block(net, j0, j0 + SNN_BLOCK < hi ? j0 + SNN_BLOCK : hi, v, ref, g, drive, o, o_next,
                             tv_next, tgs, tfl, 1, taped);
            else
                update_block(net, j0, j0 + SNN_BLOCK < hi ? j0 + SNN_BLOCK : hi, v, ref, g, drive, o, o_next,
                             tv_next, tgs, tfl, 0, taped);
        if (tr) track_after(net, tr, tr->row0 + t, v, g, lo, hi);
        if (t + 1 < T) counts[nxt * SNN_MAX_PARTS + p] = compact_spikes(o_next, lo, hi, lists + (size_t)nxt * n + lo);
        if (P > 1) {
#pragma omp barrier
        }
    }
}

void snn_forward_trial(const snn_network *net, snn_state *st, int b, int64_t T, const uint8_t *in,
                       uint8_t *out, snn_track *tr) {
    run_part(net, st, b, T, in, out, tr, NULL, 0, 1, 0);
}

void snn_forward_trial_taped(const snn_network *net, snn_state *st, int b, int64_t T, const uint8_t *in,
                             uint8_t *out, snn_track *tr, snn_tape *tape) {
    run_part(net, st, b, T, in, out, tr, tape, 0, 1, 1);
}

static snn_track *track_of(snn_track *tracks, int n_tracks, int b) {
    for (int q = 0; q < n_tracks; q++)
        if (tracks[q].trial == b) return &tracks[q];
    return NULL;
}

void snn_forward_chunk_taped(const snn_network *net, snn_state *st, int64_t T, const uint8_t *in_spikes,
                             uint8_t *out_spikes, snn_track *tracks, int n_tracks, snn_tape *tape) {
    const int64_t n = net->n, n_in = net->n_in;
    int P = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (P > st->max_parts) P = st->max_parts;
    if (st->n_trials < P && n >= SNN_SPLIT_MIN_NEURONS) {
        /* fewer trials than threads: each trial in turn, its neurons split across the threads */
        if (st->n_parts != P || st->part_net != net || st->part_nnz != net->rec.nnz + net->ff.nnz) {
            state_partition(st, net, P);
            st->part_net = net;
            st->part_nnz = net->rec.nnz + net->ff.nnz;
        }
        for (int b = 0; b < st->n_trials; b++) {
            snn_track *tr = track_of(tracks, n_tracks, b);
            const uint8_t *in = in_spikes ? in_spikes + (size_t)b * T * n_in : NULL;
            uint8_t *out = out_spikes + (size_t)b * T * n;
#pragma omp parallel num_threads(P)
            {
                /* a smaller team than asked for (thread limits) runs the trial whole on one thread */
                if (omp_get_num_threads() == P) {
                    if (tape) run_part(net, st, b, T, in, out, tr, tape, omp_get_thread_num(), P, 1);
                    else run_part(net, st, b, T, in, out, tr, NULL, omp_get_thread_num(), P, 0);
                } else if (omp_get_thread_num() == 0) {
                    if (tape) snn_forward_trial_taped(net, st, b, T, in, out, tr, tape);
                    else snn_forward_trial(net, st, b, T, in, out, tr);
                }
            }
        }
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < st->n_trials; b++) {
        snn_track *tr = track_of(tracks, n_tracks, b);
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
    snn_backward_chunk_opts(net, tape, T, in_spikes, ds, vcoef, surrgrad_scale, grads, w, NULL);
}

void snn_backward_chunk_opts(const snn_network *net, const snn_tape *tape, int64_t T, const uint8_t *in_spikes,
                             const snn_spike_grad_source *ds, const double *vcoef, double surrgrad_scale,
                             snn_grads *grads, snn_backward_work *w, const snn_backward_opts *opts) {
    (void)opts;
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
