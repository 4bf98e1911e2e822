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
    /* threads that may share a trial later: as many as OpenMP would use now, or as there are processors */
    int max_parts = omp_get_max_threads() > omp_get_num_procs() ? omp_get_max_threads() : omp_get_num_procs();
    st->max_parts = max_parts < 1 ? 1 : max_parts > SNN_MAX_PARTS ? SNN_MAX_PARTS : max_parts;
    st->split_min_neurons = SNN_SPLIT_MIN_NEURONS;
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

/* The first nonzero byte of x[from, n) (n if none), eight bytes at a time while they are zero. */
static int64_t next_input(const uint8_t *x, int64_t from, int64_t n) {
    int64_t m = from;
    while (m < n && (m & 7)) {
        if (x[m]) return m;
        m++;
    }
    for (; m + 8 <= n; m += 8) {
        uint64_t word;
        memcpy(&word, x + m, 8);
        if (word) break;
    }
    for (; m < n; m++)
        if (x[m]) return m;
    return n;
}

/* The first lines of a synapse row, requested while the previous row is being added: rows start at
 * random places of arrays much larger than the caches, and the hardware prefetcher only follows a row
 * once it has missed on it. */
static inline void prefetch_row(const int32_t *col, const snn_real *w, int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1 && e < e0 + 64; e += 16) {
        __builtin_prefetch(col + e);
        __builtin_prefetch(w + e);
    }
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
            if (c + 1 < counts[q]) prefetch_row(col, w, lo_e[list[c + 1]], hi_e[list[c + 1]]);
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
    for (int64_t m = next_input(x, 0, n_in); m < n_in;) {
        const int64_t m2 = next_input(x, m + 1, n_in);
        if (m2 < n_in) prefetch_row(fcol, fw, flo[m2], fhi[m2]);
        const int k = net->n_types + net->ff_type[m];
        if (net->group_ncols[k] != 0) {
            snn_real *restrict d = drive + (size_t)k * n;
#pragma GCC unroll 4
            for (int64_t e = flo[m]; e < fhi[m]; e++) d[fcol[e]] += fw[e];
        }
        m = m2;
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
    if (st->n_trials < P && P > 1 && n >= st->split_min_neurons) {
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

/* ---- the reverse pass ----
 *
 * Trials are independent in the reverse pass, so they are processed in groups: a group's trials are
 * the lanes of its vector registers in the transposed product, and a group runs on one thread from
 * the chunk's last step to its first without meeting any other (when there are at least as many
 * groups as threads), or, with fewer groups than threads, on the whole team with two barriers per
 * step. Every per-trial result is the same bit for bit whatever the grouping (a lane's sums do not
 * depend on its neighbours), so the scaling-factor gradients do not depend on the thread count; in
 * weights mode the per-synapse sums over trials are taken group by group, and the groups are then
 * fixed by the number of trials alone.
 *
 * One reverse step t of a group runs in two phases:
 *   neuron blocks (every trial of the group): step t+1's voltage part (C) then step t's conductance
 *     part (A), both local to each neuron, so one pass does them back to back;
 *   then, with the drive adjoints of step t complete: per trial, dL/ds of step t and the event-driven
 *     scaling-factor gradients; per source row, the transposed product (B).
 * The product is the bulk of the work: sbar[i][b] = sum_e w_eff[e] at[col[e]][b] over the row's
 * synapses, the group's trials at once in vector registers, the targets taken in tiles whose at rows
 * fit in L2 (with the synapses stored again tile by tile, so that a tile's pass reads them as one
 * stream). Each sum runs over the row's synapses in order, as a single accumulator per lane, so the
 * tiling changes no bit. */

/* One vector register of snn_reals. The product is the one place where a plain loop does not do: GCC
 * vectorises the outer loop over synapses (with gathers) instead of keeping a row's accumulators in
 * registers, so the kernel is written with GCC vector types. */
typedef snn_real snn_vec __attribute__((vector_size(32)));
#define SNN_VLANES ((int64_t)(sizeof(snn_vec) / sizeof(snn_real)))
#define SNN_KERNEL_VECS 8              /* accumulators per pass over a row (of 16 registers) */
/* Most trials in a group: four vectors (128-byte rows of at). Wider groups cost more per trial: 50
 * trials as one group of 7 vectors ran the product about 1.35x slower than as two of 4 (Dp network,
 * one thread, alternating runs; the 2-thread run already had two groups). */
#define SNN_GROUP_TRIALS (4 * SNN_VLANES)
#define SNN_GROUP_MIN_TRIALS 8         /* fewest trials in a group made to give threads work */
#define SNN_PRODUCT_TILE_BYTES 262144  /* at rows of one target tile (half of a 512 KiB L2) */
#define SNN_REVERSE_BLOCK 256           /* neurons per block of the per-neuron phases */
#define SNN_SPARSE_LANES_RATIO 4       /* surrogate cutoff: lane-sparse rows need < 1/4 of the lanes */

static int64_t round_lanes(int64_t b) { return (b + SNN_VLANES - 1) / SNN_VLANES * SNN_VLANES; }

/* Groups for B trials: the fewest of at most SNN_GROUP_TRIALS trials, or more (of at least
 * SNN_GROUP_MIN_TRIALS) to give `threads` threads one each; never more than max_groups. */
static int backward_groups(int B, int threads, int max_groups) {
    int g = (B + SNN_GROUP_TRIALS - 1) / SNN_GROUP_TRIALS;
    const int most = (B + SNN_GROUP_MIN_TRIALS - 1) / SNN_GROUP_MIN_TRIALS;
    if (g < threads) g = threads < most ? threads : most;
    if (g > max_groups) g = max_groups;
    if (g > SNN_MAX_PARTS) g = SNN_MAX_PARTS;
    return g < 1 ? 1 : g;
}

int snn_backward_work_alloc(snn_backward_work *w, const snn_network *net, int B, snn_error *err) {
    memset(w, 0, sizeof *w);
    w->n_trials = B;
    w->n = net->n;
    w->n_in = net->n_in;
    const int g0 = backward_groups(B, 1, B > 0 ? B : 1);
    w->max_groups = backward_groups(B, SNN_MAX_PARTS, B > 0 ? B : 1);
    w->lanes = (int64_t)B + (SNN_VLANES - 1) * w->max_groups;
    w->team_min_work = 32768;
    const int64_t lanes0 = round_lanes((B + g0 - 1) / g0);
    size_t n = (size_t)net->n, S = (size_t)net->n_cols, K = (size_t)(net->n_groups ? net->n_groups : 1);
    w->vbar = snn_calloc_aligned((size_t)B * n, sizeof(snn_real), "BPTT voltage adjoints", err);
    w->gbar = snn_calloc_aligned((size_t)B * 2 * S * n + 1, sizeof(snn_real), "BPTT conductance adjoints", err);
    w->a = snn_calloc_aligned((size_t)B * K * n, sizeof(snn_real), "BPTT drive adjoints", err);
    w->at = snn_calloc_aligned(K * n * (size_t)w->lanes, sizeof(snn_real), "BPTT drive adjoints", err);
    w->sbar = snn_calloc_aligned(n * (size_t)w->lanes, sizeof(snn_real), "BPTT spike adjoints", err);
    w->ds = snn_calloc_aligned((size_t)B * n, sizeof(float), "BPTT spike gradients", err);
    w->spk_t = snn_calloc_aligned(n * (size_t)B, 1, "BPTT spikes", err);
    w->in_t = snn_calloc_aligned((size_t)(net->n_in ? net->n_in : 1) * (size_t)B, 1, "BPTT inputs", err);
    w->g_trial = snn_calloc_aligned((size_t)B * K * (size_t)net->n_types, sizeof(double), "BPTT gradients", err);
    w->tile = SNN_PRODUCT_TILE_BYTES / (lanes0 * (int64_t)sizeof(snn_real)) / 64 * 64;
    if (w->tile < 64) w->tile = 64;
    w->n_tiles = net->n ? (net->n + w->tile - 1) / w->tile : 0;
    w->split = snn_calloc(n * (size_t)(w->n_tiles + 1) + 1, sizeof(int32_t), "BPTT product tiles", err);
    w->bstart = snn_calloc((size_t)w->n_tiles * (n + 1) + 1, sizeof(int64_t), "BPTT product tiles", err);
    w->bcol = snn_calloc((size_t)net->rec.nnz + 1, sizeof(int32_t), "BPTT synapses by tile", err);
    w->bw = snn_calloc_aligned((size_t)net->rec.nnz + 1, sizeof(snn_real), "BPTT synapses by tile", err);
    w->rows = snn_calloc(n + 1, sizeof(int32_t), "BPTT product rows", err);
    w->rows_nnz = snn_calloc(n + 1, sizeof(int64_t), "BPTT product rows", err);
    w->lane_mask = snn_calloc(n * (size_t)w->max_groups + 1, sizeof(uint64_t), "BPTT product lanes", err);
    w->row_lanes = snn_calloc(n * (size_t)w->max_groups + 1, sizeof(int32_t), "BPTT product lanes", err);
    if (!w->vbar || !w->gbar || !w->a || !w->at || !w->sbar || !w->ds || !w->spk_t || !w->in_t || !w->g_trial ||
        !w->split || !w->bstart || !w->bcol || !w->bw || !w->rows || !w->rows_nnz || !w->lane_mask ||
        !w->row_lanes) {
        snn_backward_work_free(w);
        return SNN_ERUN;
    }
    /* source rows grouped by presynaptic type (ascending within a type), with the prefix sums of
     * their lengths, so that threads take shares of equal synapse counts */
    int64_t r = 0;
    for (int k = 0; k < net->n_types; k++) {
        w->group_rows[k] = r;
        for (int64_t i = 0; i < net->n; i++)
            if (net->type[i] == k) {
                w->rows[r] = (int32_t)i;
                w->rows_nnz[r + 1] = w->rows_nnz[r] + (net->rec.row[i + 1] - net->rec.row[i]);
                r++;
            }
    }
    for (int k = net->n_types; k <= SNN_MAX_TYPES; k++) w->group_rows[k] = r;
    /* where each row's synapses enter each target tile (offsets from the row's start; rows hold their
     * targets in ascending order) */
    for (int64_t q = 0; q < r; q++) {
        const int32_t i = w->rows[q];
        const int64_t e0 = net->rec.row[i], e1 = net->rec.row[i + 1];
        int32_t *sp = w->split + (size_t)q * (size_t)(w->n_tiles + 1);
        int64_t e = e0;
        for (int64_t tt = 0; tt <= w->n_tiles; tt++) {
            const int64_t bound = tt * w->tile;
            while (e < e1 && net->rec.col[e] < bound) e++;
            sp[tt] = (int32_t)((tt == w->n_tiles ? e1 : e) - e0);
        }
    }
    /* the synapses again, tile by tile (rows in the grouped order within a tile), so that a pass over a
     * tile reads them as one stream: segment (tile tt, row r) is bcol[bstart[tt][r] .. bstart[tt][r+1]) */
    int64_t pos = 0;
    for (int64_t tt = 0; tt < w->n_tiles; tt++) {
        int64_t *bs = w->bstart + (size_t)tt * (n + 1);
        for (int64_t q = 0; q < r; q++) {
            const int32_t i = w->rows[q];
            const int32_t *sp = w->split + (size_t)q * (size_t)(w->n_tiles + 1);
            bs[q] = pos;
            for (int64_t e = net->rec.row[i] + sp[tt]; e < net->rec.row[i] + sp[tt + 1]; e++) w->bcol[pos++] = net->rec.col[e];
        }
        bs[r] = pos;
    }
    return SNN_OK;
}

void snn_backward_work_free(snn_backward_work *w) {
    snn_free(w->vbar);
    snn_free(w->gbar);
    snn_free(w->a);
    snn_free(w->at);
    snn_free(w->sbar);
    snn_free(w->ds);
    snn_free(w->spk_t);
    snn_free(w->in_t);
    snn_free(w->g_trial);
    snn_free(w->split);
    snn_free(w->bstart);
    snn_free(w->bcol);
    snn_free(w->bw);
    snn_free(w->rows);
    snn_free(w->rows_nnz);
    snn_free(w->lane_mask);
    snn_free(w->row_lanes);
    memset(w, 0, sizeof *w);
}

/* One group of trials [b0, b1) in the reverse pass: its lanes (bp, a multiple of the vector width),
 * its slices of at ([K][n][bp]), sbar ([n][bp]) and of the cutoff's lane masks. */
typedef struct reverse_ctx {
    const snn_network *net;
    const snn_tape *tape;
    int64_t T;
    const uint8_t *in_spikes;
    const snn_spike_grad_source *ds;
    const double *vcoef;
    snn_real scale;
    snn_real inv_cutoff;   /* surrogate cutoff: a lane is kept where (scale |u| + 1)^2 <= this */
    int approx;            /* a surrogate cutoff is in force */
    snn_grads *grads;
    snn_backward_work *w;
    int b0, b1;
    int64_t bp;
    snn_real *at, *sbar;
    uint64_t *lane_mask;
    int32_t *row_lanes;
} reverse_ctx;

/* v - theta before step t for neuron j (the tape holds the pre-reset value of a neuron that spiked at
 * t-1, whose voltage before step t is U_reset) */
static inline snn_real u_before(const snn_network *net, const uint16_t *fl_prev, const snn_real *tv, int64_t j) {
    return (fl_prev && (fl_prev[j] & 1)) ? net->u_reset[j] - net->theta[j] : tv[j];
}

/* Phase C of step t for the neurons [j0, j1) of trial b: the voltage step and the spike's surrogate.
 * dL/ds of the step is in w->ds, the transposed product in the group's sbar. `prev` (t > 0) and
 * `approx` (a surrogate cutoff) are compile-time constants, so that the loop has no branch and
 * vectorises. */
static inline __attribute__((always_inline)) void reverse_voltage_k(const reverse_ctx *c, int b, int64_t t,
                                                                     int64_t j0, int64_t j1, const int prev,
                                                                     const int approx) {
    const snn_network *net = c->net;
    const snn_tape *tape = c->tape;
    snn_backward_work *w = c->w;
    const int64_t n = net->n, bp = c->bp, m = j1 - j0;
    const int S = net->n_cols;
    const uint16_t *restrict fl = snn_tape_flags(tape, b, t) + j0;
    const uint16_t *restrict fl_prev = prev ? snn_tape_flags(tape, b, t - 1) + j0 : NULL;
    const snn_real *restrict tv = snn_tape_v(tape, b, t) + j0, *restrict tv_next = snn_tape_v(tape, b, t + 1) + j0;
    const snn_real *restrict gs = snn_tape_gsum(tape, b, t) + j0;
    const float *restrict dsb = w->ds + (size_t)b * n + j0;
    snn_real *restrict vbar = w->vbar + (size_t)b * n + j0;
    snn_real *restrict gbar = w->gbar + (size_t)b * 2 * S * n;
    const snn_real *restrict theta = net->theta + j0, *restrict u_reset = net->u_reset + j0;
    const snn_real *restrict leak = net->leak_factor + j0, *restrict dtc = net->dt_over_c + j0;
    const snn_real *restrict sbar = c->sbar + (b - c->b0) + (size_t)j0 * bp;
    const snn_real sc = c->scale, inv_cutoff = c->inv_cutoff;
    snn_real vtb[SNN_REVERSE_BLOCK], vprev[SNN_REVERSE_BLOCK], sbl[SNN_REVERSE_BLOCK];
    for (int64_t q = 0; q < m; q++) sbl[q] = sbar[(size_t)q * bp];  /* this trial's lane */
    for (int64_t q = 0; q < m; q++) {
        const int f = fl[q], spiked = f & 1, held = (f >> 1) & 1;
        const int reset_before = prev ? fl_prev[q] & 1 : 0;
        const snn_real th = theta[q], ur = u_reset[q], tvq = tv[q], vb = vbar[q];
        const snn_real u = reset_before ? ur - th : tvq;  /* v_prev - theta */
        const snn_real su = sc * (u < 0 ? -u : u) + 1;
        /* with a surrogate cutoff, the product's term is dropped where the surrogate is below it */
        const snn_real prod = approx ? (su * su <= inv_cutoff ? sbl[q] : 0) : sbl[q];
        snn_real sb = prod + dsb[q];
        /* d v_new / d s = -v~ whether or not the neuron spiked (only the reset term U_reset * s is
         * detached); the slot of step t+1 holds v~ (v after the step unless it spiked) */
        sb -= held ? 0 : vb * (th + tv_next[q]);
        const snn_real vt = (spiked | held) ? 0 : vb;
        const snn_real vp = vt * (1 - leak[q] - dtc[q] * gs[q]) + sb / (su * su);
        vtb[q] = vt * dtc[q];
        vprev[q] = reset_before ? ur : th + tvq;
        vbar[q] = vp;
    }
    for (int s = 0; s < S; s++) {
        snn_real *restrict g0 = gbar + (size_t)s * n + j0, *restrict g1 = gbar + (size_t)(S + s) * n + j0;
        const snn_real e = net->e_syn[s];
        for (int64_t q = 0; q < m; q++) {
            const snn_real d = -vtb[q] * (vprev[q] - e);
            g0[q] += d;
            g1[q] += d;
        }
    }
    if (prev && c->vcoef) {
        /* the voltage loss on v after step t-1, which is v before step t */
        const double *ca = c->vcoef + (size_t)b * n + j0, *cc = c->vcoef + (size_t)(w->n_trials + b) * n + j0;
        for (int64_t q = 0; q < m; q++) {
            const int reset_before = fl_prev[q] & 1;
            const double v_prev = reset_before ? (double)u_reset[q] : (double)theta[q] + (double)tv[q];
            vbar[q] += (snn_real)(ca[q] * v_prev + cc[q]);
        }
    }
}

static void reverse_voltage(const reverse_ctx *c, int b, int64_t t, int64_t j0, int64_t j1) {
    if (t > 0) {
        if (c->approx) reverse_voltage_k(c, b, t, j0, j1, 1, 1);
        else reverse_voltage_k(c, b, t, j0, j1, 1, 0);
    } else {
        if (c->approx) reverse_voltage_k(c, b, t, j0, j1, 0, 1);
        else reverse_voltage_k(c, b, t, j0, j1, 0, 0);
    }
}

/* Phase A of step t for the neurons [j0, j1) of trial b: per column, the clamp mask (the adjoint of a
 * component whose pre-clamp value left its bounds is zero), the column's share of its group's drive
 * adjoint, the decay; the spikes of the step for weights mode. */
static void reverse_drive(const reverse_ctx *c, int b, int64_t t, int64_t j0, int64_t j1) {
    const snn_network *net = c->net;
    snn_backward_work *w = c->w;
    const int64_t n = net->n, m = j1 - j0;
    const int S = net->n_cols, K = net->n_groups, B = w->n_trials;
    const uint16_t *restrict fl = snn_tape_flags(c->tape, b, t) + j0;
    snn_real *restrict gbar = w->gbar + (size_t)b * 2 * S * n + j0;
    for (int k = 0; k < K; k++) {
        snn_real *restrict a = w->a + ((size_t)b * K + k) * n + j0;
        const snn_real zero = 0;
        if (net->group_ncols[k] == 0)
            for (int64_t q = 0; q < m; q++) a[q] = 0;
        for (int cq = 0; cq < net->group_ncols[k]; cq++) {
            const int s = net->group_cols[k][cq];
            snn_real *restrict g0 = gbar + (size_t)s * n, *restrict g1 = gbar + (size_t)(S + s) * n;
            const snn_real sc0 = net->g_scale[0][s], sc1 = net->g_scale[1][s];
            const snn_real al0 = net->alpha[0][s], al1 = net->alpha[1][s];
            const int sh0 = SNN_TAPE_CLAMP_SHIFT + s, sh1 = SNN_TAPE_CLAMP_SHIFT + S + s;
            const int first = cq == 0;
            for (int64_t q = 0; q < m; q++) {
                const snn_real x0 = ((fl[q] >> sh0) & 1) ? g0[q] : 0, x1 = ((fl[q] >> sh1) & 1) ? g1[q] : 0;
                a[q] = (first ? zero : a[q]) + (x0 * sc0 + x1 * sc1);
                g0[q] = x0 * al0;
                g1[q] = x1 * al1;
            }
        }
    }
    if (c->grads->w || c->grads->w_ff)
        for (int64_t q = 0; q < m; q++) w->spk_t[(size_t)(j0 + q) * B + b] = fl[q] & 1;
}

/* The neuron-block phase for [j0, j1) and the group's trials: step t+1's voltage part (when t+1 < T),
 * then step t's drive part (when t >= 0), with the drive adjoints copied into at (trial innermost)
 * and, under a surrogate cutoff, the lanes in which step t's product is needed. */
static void reverse_block(const reverse_ctx *c, int64_t t, int64_t j0, int64_t j1) {
    const snn_network *net = c->net;
    snn_backward_work *w = c->w;
    const int B = w->n_trials, K = net->n_groups;
    const int64_t n = net->n, bp = c->bp;
    for (int b = c->b0; b < c->b1; b++) {
        if (t + 1 < c->T) reverse_voltage(c, b, t + 1, j0, j1);
        else if (c->vcoef) {
            /* the voltage loss on the chunk's last voltage (v after step T-1) */
            const uint16_t *fl = snn_tape_flags(c->tape, b, c->T - 1);
            const snn_real *tv = snn_tape_v(c->tape, b, c->T);
            const double *ca = c->vcoef + (size_t)b * n, *cc = c->vcoef + (size_t)(B + b) * n;
            for (int64_t j = j0; j < j1; j++) {
                double v_last = (fl[j] & 1) ? (double)net->u_reset[j] : (double)net->theta[j] + (double)tv[j];
                w->vbar[(size_t)b * n + j] = (snn_real)(ca[j] * v_last + cc[j]);
            }
        }
        if (t >= 0) reverse_drive(c, b, t, j0, j1);
    }
    if (t < 0) return;
    /* the drive adjoints with the trial innermost (the block's rows of at and slices of a stay in L1) */
    const int nb = c->b1 - c->b0;
    for (int k = 0; k < K; k++) {
        const snn_real *restrict a = w->a + ((size_t)c->b0 * K + k) * n;
        for (int64_t j = j0; j < j1; j++) {
            snn_real *restrict at = c->at + ((size_t)k * n + (size_t)j) * bp;
            for (int q = 0; q < nb; q++) at[q] = a[(size_t)q * K * n + j];
        }
    }
    if (c->approx) {
        const snn_real sc = c->scale;
        for (int64_t j = j0; j < j1; j++) {
            c->lane_mask[j] = 0;
            c->row_lanes[j] = 0;
        }
        for (int b = c->b0; b < c->b1; b++) {
            const uint16_t *fl_prev = t > 0 ? snn_tape_flags(c->tape, b, t - 1) : NULL;
            const snn_real *tv = snn_tape_v(c->tape, b, t);
            for (int64_t j = j0; j < j1; j++) {
                const snn_real u = u_before(net, fl_prev, tv, j);
                const snn_real su = sc * (u < 0 ? -u : u) + 1;
                const int on = su * su <= c->inv_cutoff;
                if (b - c->b0 < 64) c->lane_mask[j] |= (uint64_t)on << (b - c->b0);
                c->row_lanes[j] += on;
            }
        }
    }
}

/* The transposed product for the synapses [e0, e1) of one row into its lanes sb (NV vectors);
 * `first`: the row's first tile (the sums start at zero). */
static inline __attribute__((always_inline)) void product_kernel(const int32_t *restrict col,
                                                                  const snn_real *restrict w, int64_t e0,
                                                                  int64_t e1, const snn_real *restrict at,
                                                                  int64_t bp, snn_real *restrict sb, int first,
                                                                  const int NV) {
    snn_vec acc[SNN_KERNEL_VECS];
    snn_vec *sbv = (snn_vec *)sb;
    const snn_vec zero = {0};
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) acc[v] = first ? zero : sbv[v];
    for (int64_t e = e0; e < e1; e++) {
        const snn_vec wb = w[e] - zero;  /* broadcast (x - 0 is x, signed zeros included) */
        const snn_vec *a = (const snn_vec *)(at + (size_t)col[e] * (size_t)bp);
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) acc[v] += wb * a[v];
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) sbv[v] = acc[v];
}

static void product_segment(const int32_t *col, const snn_real *w, int64_t e0, int64_t e1, const snn_real *at,
                            int64_t bp, snn_real *sb, int first) {
    for (int64_t l0 = 0; l0 < bp; l0 += SNN_KERNEL_VECS * SNN_VLANES) {
        const int64_t nv = (bp - l0 < SNN_KERNEL_VECS * SNN_VLANES ? bp - l0 : SNN_KERNEL_VECS * SNN_VLANES) /
                           SNN_VLANES;
        switch (nv) {
#define SNN_CASE(NV) \
    case NV: product_kernel(col, w, e0, e1, at + l0, bp, sb + l0, first, NV); break;
            SNN_CASE(1) SNN_CASE(2) SNN_CASE(3) SNN_CASE(4) SNN_CASE(5) SNN_CASE(6) SNN_CASE(7) SNN_CASE(8)
#undef SNN_CASE
        }
    }
}

/* Surrogate cutoff, a row needed in few of the group's trials: the product for those lanes only, over
 * the row's synapses in order (the same sums, bit for bit, as the dense kernel's in those lanes). */
static void product_sparse(const snn_network *net, int32_t i, uint64_t mask, const snn_real *at, int64_t bp,
                           snn_real *sb) {
    int32_t lane[64];
    snn_real acc[64];
    int m = 0;
    for (; mask; mask &= mask - 1) lane[m++] = __builtin_ctzll(mask);
    for (int q = 0; q < m; q++) acc[q] = 0;
    const int32_t *restrict col = net->rec.col;
    const snn_real *restrict wef = net->rec.w_eff;
    for (int64_t e = net->rec.row[i]; e < net->rec.row[i + 1]; e++) {
        const snn_real *restrict a = at + (size_t)col[e] * (size_t)bp;
        const snn_real we = wef[e];
        for (int q = 0; q < m; q++) acc[q] += we * a[lane[q]];
    }
    for (int q = 0; q < m; q++) sb[lane[q]] = acc[q];
}

/* Weights mode: the same product, plus each synapse's gradient, the sum over the group's trials of
 * the drive adjoint where the source spiked, times the scaling factor. */
static void product_segment_w(const reverse_ctx *c, int64_t i, int64_t e0, int64_t e1, const snn_real *at,
                              snn_real *sb, int first) {
    const snn_network *net = c->net;
    const int B = c->w->n_trials, nb = c->b1 - c->b0;
    const int64_t bp = c->bp;
    const int k = net->type[i];
    const uint8_t *restrict spk = c->w->spk_t + (size_t)i * B + c->b0;
    if (first)
        for (int b = 0; b < bp; b++) sb[b] = 0;
    for (int64_t e = e0; e < e1; e++) {
        const snn_real *restrict aj = at + (size_t)net->rec.col[e] * bp;
        const snn_real we = net->rec.w_eff[e];
        for (int b = 0; b < nb; b++) sb[b] += we * aj[b];
        double acc = 0;
        for (int b = 0; b < nb; b++) acc += spk[b] ? (double)aj[b] : 0.0;
        c->grads->w[e] += acc * net->sf[k][net->type[net->rec.col[e]]];
    }
}

/* Phase B for part p of P: the rows of an equal share of the synapses, type by type, target tile by
 * target tile. */
static void reverse_product(const reverse_ctx *c, int p, int P) {
    const snn_network *net = c->net;
    snn_backward_work *w = c->w;
    const int64_t n = net->n, bp = c->bp;
    const int64_t total = w->rows_nnz[n];
    /* the share: rows [r0, r1) of the grouped order */
    int64_t r0 = 0, r1 = n;
    if (P > 1) {
        const int64_t lo = total * p / P, hi = total * (p + 1) / P;
        while (r0 < n && w->rows_nnz[r0] < lo) r0++;
        r1 = r0;
        while (r1 < n && w->rows_nnz[r1] < hi) r1++;
        if (p == P - 1) r1 = n;
        if (p == 0) r0 = 0;
    }
    const int64_t nt1 = w->n_tiles + 1;
    /* the lane masks hold 64 lanes (groups have at most 64 trials unless there are over 4096) */
    const int sparse_ok = bp <= 64 && !c->grads->w;
    for (int k = 0; k < net->n_types; k++) {
        const int64_t g0 = w->group_rows[k] > r0 ? w->group_rows[k] : r0;
        const int64_t g1 = w->group_rows[k + 1] < r1 ? w->group_rows[k + 1] : r1;
        if (g0 >= g1) continue;
        const snn_real *at = c->at + (size_t)k * n * bp;
        if (net->group_ncols[k] == 0) {
            for (int64_t r = g0; r < g1; r++) memset(c->sbar + (size_t)w->rows[r] * bp, 0, (size_t)bp * sizeof(snn_real));
            continue;
        }
        for (int64_t tt = 0; tt < w->n_tiles; tt++) {
            const int64_t *bs = w->bstart + (size_t)tt * (n + 1);
            for (int64_t r = g0; r < g1; r++) {
                const int32_t i = w->rows[r];
                snn_real *sb = c->sbar + (size_t)i * bp;
                /* surrogate cutoff: rows needed in no lane are skipped, rows with few lanes needed go
                 * through the lane-sparse loop below (weights mode needs every row for its synapses'
                 * gradients: there the cutoff only drops the product's term) */
                if (c->approx && !c->grads->w &&
                    (c->row_lanes[i] == 0 || (sparse_ok && c->row_lanes[i] * SNN_SPARSE_LANES_RATIO < bp)))
                    continue;
                if (c->grads->w) {
                    const int32_t *sp = w->split + (size_t)r * (size_t)nt1;
                    product_segment_w(c, i, net->rec.row[i] + sp[tt], net->rec.row[i] + sp[tt + 1], at, sb, tt == 0);
                } else if (bs[r + 1] > bs[r] || tt == 0)
                    product_segment(w->bcol, w->bw, bs[r], bs[r + 1], at, bp, sb, tt == 0);
            }
        }
        if (c->approx)
            for (int64_t r = g0; r < g1; r++) {
                const int32_t i = w->rows[r];
                if (!sparse_ok || c->row_lanes[i] == 0 || c->row_lanes[i] * SNN_SPARSE_LANES_RATIO >= bp) continue;
                product_sparse(net, i, c->lane_mask[i], at, bp, c->sbar + (size_t)i * bp);
            }
    }
}

/* Weights mode, feedforward synapses: their gradients (inputs are constants: no product). */
static void reverse_product_ff(const reverse_ctx *c, int64_t m) {
    const snn_network *net = c->net;
    const int B = c->w->n_trials, nb = c->b1 - c->b0;
    const int64_t n = net->n, bp = c->bp;
    int k = net->n_types + net->ff_type[m];
    if (net->group_ncols[k] == 0) return;
    const snn_real *restrict at = c->at + (size_t)k * n * bp;
    const uint8_t *restrict x = c->w->in_t + (size_t)m * B + c->b0;
    for (int64_t e = net->ff.row[m]; e < net->ff.row[m + 1]; e++) {
        const snn_real *restrict aj = at + (size_t)net->ff.col[e] * bp;
        double acc = 0;
        for (int b = 0; b < nb; b++) acc += x[b] ? (double)aj[b] : 0.0;
        c->grads->w_ff[e] += acc * net->sf_ff[net->ff_type[m]][net->type[net->ff.col[e]]];
    }
}

/* Per trial b at step t (phase B, beside the product): dL/ds of the step, the event-driven
 * scaling-factor gradients (over the spiking sources only), the inputs for weights mode. */
static void reverse_trial(const reverse_ctx *c, int b, int64_t t) {
    const snn_network *net = c->net;
    snn_backward_work *w = c->w;
    const int64_t n = net->n, n_in = net->n_in;
    const int K = net->n_groups, B = w->n_trials, nt = net->n_types;
    c->ds->fill(c->ds->ctx, b, t, w->ds + (size_t)b * n);
    const uint16_t *restrict fl = snn_tape_flags(c->tape, b, t);
    const uint8_t *x = c->in_spikes ? c->in_spikes + ((size_t)b * c->T + t) * n_in : NULL;
    if (c->grads->w_ff)
        for (int64_t m = 0; m < n_in; m++) w->in_t[(size_t)m * B + b] = x ? x[m] : 0;
    double *gt = w->g_trial + (size_t)b * K * nt;
    if (c->grads->sf)
        for (int64_t i = 0; i < n; i++) {
            if (!(fl[i] & 1)) continue;
            int k = net->type[i];
            const snn_real *a = w->a + ((size_t)b * K + k) * n;
            double *gk = gt + (size_t)k * nt;
            for (int64_t e = net->rec.row[i]; e < net->rec.row[i + 1]; e++) {
                int32_t j = net->rec.col[e];
                gk[net->type[j]] += (double)net->rec.w[e] * (double)a[j];
            }
        }
    if (c->grads->sf_ff && x)
        for (int64_t m = 0; m < n_in; m++) {
            if (!x[m]) continue;
            int k = nt + net->ff_type[m];
            const snn_real *a = w->a + ((size_t)b * K + k) * n;
            double *gk = gt + (size_t)k * nt;
            for (int64_t e = net->ff.row[m]; e < net->ff.row[m + 1]; e++) {
                int32_t j = net->ff.col[e];
                gk[net->type[j]] += (double)net->ff.w[e] * (double)a[j];
            }
        }
}

/* The whole chunk for one group, as part p of P (P > 1: the threads of a team, meeting at two
 * barriers per step; P = 1: one thread, no barrier). */
static void reverse_group(const reverse_ctx *c, int p, int P) {
    const snn_network *net = c->net;
    const int64_t n = net->n, n_in = net->n_in, T = c->T;
    const int64_t nb = (n + SNN_REVERSE_BLOCK - 1) / SNN_REVERSE_BLOCK;
    const int64_t q0 = nb * p / P, q1 = nb * (p + 1) / P;
    const int nbt = c->b1 - c->b0;
    const int tb0 = c->b0 + nbt * p / P, tb1 = c->b0 + nbt * (p + 1) / P;
    const int64_t m0 = n_in * p / P, m1 = n_in * (p + 1) / P;
    for (int64_t q = q0; q < q1; q++)
        reverse_block(c, T - 1, q * SNN_REVERSE_BLOCK, q + 1 < nb ? (q + 1) * SNN_REVERSE_BLOCK : n);
    if (P > 1) {
#pragma omp barrier
    }
    for (int64_t t = T - 1; t >= 0; t--) {
        for (int b = tb0; b < tb1; b++) reverse_trial(c, b, t);
        reverse_product(c, p, P);
        if (c->grads->w_ff) {
            if (P > 1) {
#pragma omp barrier
            }
            for (int64_t m = m0; m < m1; m++) reverse_product_ff(c, m);
        }
        if (P > 1) {
#pragma omp barrier
        }
        for (int64_t q = q0; q < q1; q++)
            reverse_block(c, t - 1, q * SNN_REVERSE_BLOCK, q + 1 < nb ? (q + 1) * SNN_REVERSE_BLOCK : n);
        if (P > 1) {
#pragma omp barrier
        }
    }
}

void snn_backward_chunk_opts(const snn_network *net, const snn_tape *tape, int64_t T, const uint8_t *in_spikes,
                             const snn_spike_grad_source *ds, const double *vcoef, double surrgrad_scale,
                             snn_grads *grads, snn_backward_work *w, const snn_backward_opts *opts) {
    const int64_t n = net->n;
    const int S = net->n_cols, K = net->n_groups, B = w->n_trials, nt = net->n_types;
    if (T < 1 || B < 1) return;
    memset(w->vbar, 0, (size_t)B * n * sizeof(snn_real));
    memset(w->gbar, 0, (size_t)B * 2 * S * n * sizeof(snn_real));
    memset(w->g_trial, 0, (size_t)B * K * nt * sizeof(double));
    /* the padding lanes of at are never written: zero once, so that the product's padding stays finite */
    memset(w->at, 0, (size_t)(K ? K : 1) * n * w->lanes * sizeof(snn_real));
    const int weights = grads->w != NULL || grads->w_ff != NULL;
    /* the effective weights in the product's tile order (they change with the scaling factors) */
    if (!grads->w) {
        const int64_t nt1 = w->n_tiles + 1, nr = w->group_rows[nt];
        int64_t pos = 0;
        for (int64_t tt = 0; tt < w->n_tiles; tt++)
            for (int64_t r = 0; r < nr; r++) {
                const int32_t i = w->rows[r];
                const int32_t *sp = w->split + (size_t)r * (size_t)nt1;
                const int64_t e1 = net->rec.row[i] + sp[tt + 1];
                for (int64_t e = net->rec.row[i] + sp[tt]; e < e1; e++) w->bw[pos++] = net->rec.w_eff[e];
            }
    }
    const double cutoff = opts ? opts->surrogate_cutoff : 0;
    const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    /* weights mode sums over trials group by group: its groups depend on the trials alone */
    const int G = backward_groups(B, weights ? 1 : threads, w->max_groups);
    reverse_ctx ctx[SNN_MAX_PARTS];
    int64_t lane0 = 0;
    for (int g = 0; g < G; g++) {
        reverse_ctx *c = &ctx[g];
        *c = (reverse_ctx){.net = net, .tape = tape, .T = T, .in_spikes = in_spikes, .ds = ds, .vcoef = vcoef,
                           .scale = (snn_real)surrgrad_scale, .approx = cutoff > 0,
                           .inv_cutoff = cutoff > 0 ? (snn_real)(1.0 / cutoff) : 0, .grads = grads, .w = w,
                           .b0 = (int)((int64_t)B * g / G), .b1 = (int)((int64_t)B * (g + 1) / G)};
        c->bp = round_lanes(c->b1 - c->b0);
        c->at = w->at + (size_t)(K ? K : 1) * (size_t)n * (size_t)lane0;
        c->sbar = w->sbar + (size_t)n * (size_t)lane0;
        c->lane_mask = w->lane_mask + (size_t)n * g;
        c->row_lanes = w->row_lanes + (size_t)n * g;
        lane0 += c->bp;
    }
    if (G >= threads && !weights) {
        /* a group per thread at a time, no barrier */
#pragma omp parallel for schedule(dynamic, 1) if (G > 1)
        for (int g = 0; g < G; g++) reverse_group(&ctx[g], 0, 1);
    } else {
        /* each group in turn on the whole team; two barriers per step are worth it only when a step
         * has enough work (serial otherwise; the result is the same either way) */
        for (int g = 0; g < G; g++) {
#pragma omp parallel if ((int64_t)(ctx[g].b1 - ctx[g].b0) * n >= w->team_min_work)
            reverse_group(&ctx[g], omp_get_thread_num(), omp_get_num_threads());
        }
    }
    snn_grads_add_trials(net, w->g_trial, B, grads);
}

void snn_grads_add_trials(const snn_network *net, const double *g_trial, int64_t B, snn_grads *grads) {
    const int K = net->n_groups, nt = net->n_types;
    /* reduce the per-trial scaling-factor gradients in trial order */
    for (int64_t b = 0; b < B; b++) {
        const double *gt = g_trial + (size_t)b * K * nt;
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
