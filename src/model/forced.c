#include "model/forced.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* ---------------------------------------------------------------- events */

int snn_events_alloc(snn_events *ev, int B, int64_t T, int64_t n, snn_error *err) {
    memset(ev, 0, sizeof *ev);
    ev->B = B;
    ev->T = T;
    ev->n = n;
    ev->off = snn_calloc((size_t)B * (size_t)(T + 1), sizeof *ev->off, "spike event offsets", err);
    ev->idx = snn_calloc((size_t)B, sizeof *ev->idx, "spike event lists", err);
    ev->cap = snn_calloc((size_t)B, sizeof *ev->cap, "spike event lists", err);
    if (!ev->off || !ev->idx || !ev->cap) {
        snn_events_free(ev);
        return SNN_ERUN;
    }
    return SNN_OK;
}

void snn_events_free(snn_events *ev) {
    if (ev->idx)
        for (int b = 0; b < ev->B; b++) free(ev->idx[b]);
    snn_free(ev->off);
    snn_free(ev->idx);
    snn_free(ev->cap);
    memset(ev, 0, sizeof *ev);
}

void snn_events_clear(snn_events *ev) {
    ev->filled = 0;
    memset(ev->off, 0, (size_t)ev->B * (size_t)(ev->T + 1) * sizeof *ev->off);
}

int snn_events_append(snn_events *ev, const uint8_t *x, int64_t L, snn_error *err) {
    if (ev->filled + L > ev->T)
        return snn_fail(err, SNN_ERUN, "spike events: %lld steps do not fit (%lld of %lld filled)", (long long)L,
                        (long long)ev->filled, (long long)ev->T);
    const int64_t n = ev->n;
    for (int b = 0; b < ev->B; b++) {
        int64_t *off = ev->off + (size_t)b * (size_t)(ev->T + 1);
        const uint8_t *xb = x + (size_t)b * (size_t)L * (size_t)n;
        int64_t add = 0;
        for (int64_t k = 0; k < L * n; k++) add += xb[k] != 0;
        int64_t have = off[ev->filled];
        if (have + add > ev->cap[b]) {
            int64_t cap = ev->cap[b] * 2 > have + add ? ev->cap[b] * 2 : have + add + 1024;
            int32_t *p = realloc(ev->idx[b], (size_t)cap * sizeof *p);
            if (!p)
                return snn_fail(err, SNN_ERUN, "out of memory: could not allocate %.1f MiB for spike events",
                                (double)cap * sizeof *p / 1048576.0);
            ev->idx[b] = p;
            ev->cap[b] = cap;
        }
        int32_t *idx = ev->idx[b];
        int64_t pos = have;
        for (int64_t t = 0; t < L; t++) {
            const uint8_t *row = xb + (size_t)t * (size_t)n;
            for (int64_t j = 0; j < n; j++)
                if (row[j]) idx[pos++] = (int32_t)j;
            off[ev->filled + t + 1] = pos;
        }
    }
    ev->filled += L;
    return SNN_OK;
}

int64_t snn_events_count(const snn_events *ev) {
    int64_t c = 0;
    for (int b = 0; b < ev->B; b++) c += ev->off[(size_t)b * (size_t)(ev->T + 1) + (size_t)ev->filled];
    return c;
}

/* ---------------------------------------------------------------- state */

int snn_forced_state_alloc(snn_forced_state *st, const snn_network *net, int B, snn_error *err) {
    memset(st, 0, sizeof *st);
    st->B = B;
    st->n = net->n;
    st->S = net->n_cols;
    size_t bn = (size_t)B * (size_t)net->n;
    st->v = snn_calloc_aligned(bn, sizeof(double), "forced membrane potentials", err);
    st->ref = snn_calloc_aligned(bn, sizeof(int32_t), "forced refractory counters", err);
    st->g = snn_calloc_aligned(bn * 2 * (size_t)(net->n_cols ? net->n_cols : 1), sizeof(snn_real),
                               "forced conductances", err);
    if (!st->v || !st->ref || !st->g) {
        snn_forced_state_free(st);
        return SNN_ERUN;
    }
    snn_forced_state_reset(st, net);
    return SNN_OK;
}

void snn_forced_state_free(snn_forced_state *st) {
    snn_free(st->v);
    snn_free(st->ref);
    snn_free(st->g);
    memset(st, 0, sizeof *st);
}

void snn_forced_state_reset(snn_forced_state *st, const snn_network *net) {
    const int64_t n = st->n;
    for (int b = 0; b < st->B; b++)
        for (int64_t j = 0; j < n; j++) st->v[(size_t)b * n + j] = net->u_reset[j];
    memset(st->ref, 0, (size_t)st->B * (size_t)n * sizeof(int32_t));
    memset(st->g, 0, (size_t)st->B * 2 * (size_t)st->S * (size_t)n * sizeof(snn_real));
}

/* ---------------------------------------------------------------- the per-element loss */

/* exp(x) for -700 <= x <= 0. Written out so that the loss loop vectorises (libm's exp is a call per
 * element): x = k ln2 + r, |r| <= ln2/2, exp(r) by its Taylor series to degree 11 (truncation below
 * 7e-15 relative), 2^k built in the exponent bits. */
static inline double exp_nonpos(double x) {
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    double t = x * 1.4426950408889634 + shifter;
    double k = t - shifter;
    double r = x - k * 6.93147180369123816490e-01 - k * 1.90821492927058770002e-10;
    double p = 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    /* the low bits of t hold k (two's complement): (k + 1023) << 52 is 2^k */
    bits = (bits + 1023u) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* log(1 + e) for 0 <= e <= 1 as 2 atanh(f) with f = e / (2 + e) <= 1/3 (no rounding of 1 + e, so small e
 * keep their relative precision): the series to f^27 (truncation below 2e-15 relative). */
static inline double log1p_series(double f) {
    double f2 = f * f;
    double p = 1.0 / 27.0;
    p = p * f2 + 1.0 / 25.0;
    p = p * f2 + 1.0 / 23.0;
    p = p * f2 + 1.0 / 21.0;
    p = p * f2 + 1.0 / 19.0;
    p = p * f2 + 1.0 / 17.0;
    p = p * f2 + 1.0 / 15.0;
    p = p * f2 + 1.0 / 13.0;
    p = p * f2 + 1.0 / 11.0;
    p = p * f2 + 1.0 / 9.0;
    p = p * f2 + 1.0 / 7.0;
    p = p * f2 + 1.0 / 5.0;
    p = p * f2 + 1.0 / 3.0;
    p = p * f2 + 1.0;
    return 2.0 * f * p;
}

/* The same for f <= 0.0092 (e <= 0.0183): to f^7. */
static inline double log1p_series_short(double f) {
    double f2 = f * f;
    double p = 1.0 / 7.0;
    p = p * f2 + 1.0 / 5.0;
    p = p * f2 + 1.0 / 3.0;
    p = p * f2 + 1.0;
    return 2.0 * f * p;
}

/* The loops below must vectorise, so these avoid comparisons that GCC turns into branches: |z| by fabs,
 * min and max by bits or halves of sums, and one select by the sign bit. */

/* 1 / d for 2 <= d <= 6: a single-precision division (eight lanes, several times the throughput of a
 * double division, which was the loss's bottleneck) refined by two Newton steps to double precision. */
static inline double recip_2_6(double d) {
    double x = (double)(1.0f / (float)d);
    x = x * (2.0 - d * x);
    return x * (2.0 - d * x);
}

/* min(a, 700) for a >= 0, by the bits of the two non-negative doubles (exp(-700) is 1e-304: nothing a
 * loss notices) */
static inline double min700(double a) {
    const double lim = 700.0;
    uint64_t ab, lb;
    memcpy(&ab, &a, sizeof ab);
    memcpy(&lb, &lim, sizeof lb);
    const uint64_t over = (uint64_t)((int64_t)(lb - ab) >> 63);
    ab = (lb & over) | (ab & ~over);
    memcpy(&a, &ab, sizeof a);
    return a;
}

/* The cross-entropy of one element; `full` selects the log1p series for any |z| (else |z| >= 4, where
 * e = exp(-|z|) <= 0.0183 and f <= 0.0092: the series to f^7 is exact to 1e-17). */
static inline void loss_cross_entropy_t(double z, double s, double *l, double *dl, double *d2, const int full) {
    const double a = min700(fabs(z));
    const double e = exp_nonpos(-a);
    /* one reciprocal for 1 / (1 + e) and e / (2 + e) */
    const double q = recip_2_6((1.0 + e) * (2.0 + e)), inv = (2.0 + e) * q, f = e * (1.0 + e) * q;
    /* softplus(z) - s z = softplus(y) with y = z (s = 0) or -z (s = 1): no cancellation */
    double sg = 1.0 - 2.0 * s, y = z * sg;
    /* sigmoid(y) = num / (1 + e) with num = (y < 0 ? e : 1), selected by y's sign bit */
    uint64_t yb, eb, ob, nb;
    double one = 1.0, num;
    memcpy(&yb, &y, sizeof yb);
    memcpy(&eb, &e, sizeof eb);
    memcpy(&ob, &one, sizeof ob);
    uint64_t mask = (uint64_t)0 - (yb >> 63);
    nb = (eb & mask) | (ob & ~mask);
    memcpy(&num, &nb, sizeof num);
    *l = 0.5 * (y + fabs(y)) + (full ? log1p_series(f) : log1p_series_short(f));
    *dl = sg * num * inv; /* sigmoid(z) - s */
    *d2 = e * inv * inv;  /* sigmoid(z) (1 - sigmoid(z)) */
}

static inline void loss_cross_entropy(double z, double s, double *l, double *dl, double *d2) {
    loss_cross_entropy_t(z, s, l, dl, d2, 1);
}

static inline void loss_squared_hinge(double z, double s, double *l, double *dl, double *d2) {
    double y = 2.0 * s - 1.0, m = 1.0 - y * z, mp = 0.5 * (m + fabs(m));
    *l = mp * mp;
    *dl = -2.0 * y * mp;
    *d2 = mp > 0 ? 2.0 : 0.0;
}

void snn_spike_loss_eval(snn_spike_loss kind, double z, int s, double *l, double *dl, double *d2) {
    if (kind == SNN_SPIKE_LOSS_SQUARED_HINGE) loss_squared_hinge(z, s ? 1.0 : 0.0, l, dl, d2);
    else loss_cross_entropy(z, s ? 1.0 : 0.0, l, dl, d2);
}

/* ---------------------------------------------------------------- work */

#define FORCED_MAX_COLUMNS 7 /* clamp bits 1..2S of the tape's uint16 flags */
#define FL_FREE 1u           /* the step was neither a reset nor a refractory hold */
#define FL_CLAMP_SHIFT 1

typedef struct slot {
    uint8_t *o;          /* [nb] the teacher's spike of the step */
    snn_real *vf;        /* [nb] v in the state's precision, for the currents */
    snn_real *isyn;      /* [nb] */
    snn_real *gsum;      /* [nb] sum over columns of G0 + G1 */
    double *l, *dl, *w2; /* [nb] loss, dl/dv, Gauss-Newton weight */
    snn_real *fr;        /* [nb] 1 where the step is free (no reset, no hold), else 0 */
    snn_real *dv;        /* [K][nb] dv/dSF[k][type j] (the state's precision: its rounding is far below
                          * what the optimiser notices, and float halves the work) */
    snn_real *qk;        /* [K][nb] */
    snn_real *dg;        /* [2S][nb] dG/dSF[group of s][type j] */
    snn_real *draw;      /* [K][nb] drive of raw weights */
    /* tape (weights mode): [T][nb] */
    snn_real *tv, *tdl, *tgs;
    uint16_t *tfl;
    double *vbar;        /* [nb] */
    snn_real *gbar;      /* [2S][nb] */
    snn_real *abar;      /* [K][nb] */
} slot;

static void slot_free(slot *s) {
    void *p[] = {s->o, s->vf, s->isyn, s->gsum, s->l, s->dl, s->w2, s->fr, s->dv, s->qk, s->dg, s->draw,
                 s->tv, s->tdl, s->tgs, s->tfl, s->vbar, s->gbar, s->abar};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) snn_free(p[i]);
}

static int slot_alloc(slot *s, int64_t nb, int K, int S, int64_t T, int weights, snn_error *err) {
    memset(s, 0, sizeof *s);
    size_t b = (size_t)nb, k = (size_t)(K ? K : 1), c = 2 * (size_t)(S ? S : 1);
    const char *what = "teacher-forcing scratch";
    s->o = snn_calloc_aligned(b, 1, what, err);
    s->vf = snn_calloc_aligned(b, sizeof(snn_real), what, err);
    s->isyn = snn_calloc_aligned(b, sizeof(snn_real), what, err);
    s->gsum = snn_calloc_aligned(b, sizeof(snn_real), what, err);
    s->l = snn_calloc_aligned(b, sizeof(double), what, err);
    s->dl = snn_calloc_aligned(b, sizeof(double), what, err);
    s->w2 = snn_calloc_aligned(b, sizeof(double), what, err);
    s->fr = snn_calloc_aligned(b, sizeof(snn_real), what, err);
    s->dv = snn_calloc_aligned(k * b, sizeof(snn_real), what, err);
    s->qk = snn_calloc_aligned(k * b, sizeof(snn_real), what, err);
    s->dg = snn_calloc_aligned(c * b, sizeof(snn_real), what, err);
    s->draw = snn_calloc_aligned(k * b, sizeof(snn_real), what, err);
    int ok = s->o && s->vf && s->isyn && s->gsum && s->l && s->dl && s->w2 && s->fr && s->dv && s->qk && s->dg && s->draw;
    if (ok && weights) {
        const char *tw = "the teacher-forcing tape (weights mode)";
        s->tv = snn_calloc_aligned((size_t)T * b, sizeof(snn_real), tw, err);
        s->tdl = snn_calloc_aligned((size_t)T * b, sizeof(snn_real), tw, err);
        s->tgs = snn_calloc_aligned((size_t)T * b, sizeof(snn_real), tw, err);
        s->tfl = snn_calloc_aligned((size_t)T * b, sizeof(uint16_t), tw, err);
        s->vbar = snn_calloc_aligned(b, sizeof(double), what, err);
        s->gbar = snn_calloc_aligned(c * b, sizeof(snn_real), what, err);
        s->abar = snn_calloc_aligned(k * b, sizeof(snn_real), what, err);
        ok = s->tv && s->tdl && s->tgs && s->tfl && s->vbar && s->gbar && s->abar;
    }
    if (!ok) {
        slot_free(s);
        return SNN_ERUN;
    }
    return SNN_OK;
}

/* Block boundaries of a CSR (targets ascending within a row): out[q * rows + i] = the first edge of
 * row i whose target is >= q * block (q = n_blocks: the row's end). */
static void block_rows(const snn_csr *m, int n_blocks, int64_t block, int64_t *out) {
    const int64_t rows = m->n_rows;
    for (int64_t i = 0; i < rows; i++) {
        int64_t e = m->row[i];
        for (int q = 0; q < n_blocks; q++) {
            while (e < m->row[i + 1] && m->col[e] < (int64_t)q * block) e++;
            out[(size_t)q * (size_t)rows + (size_t)i] = e;
        }
        out[(size_t)n_blocks * (size_t)rows + (size_t)i] = m->row[i + 1];
    }
}

/* Adds the raw weights of the rows of the sources that spiked (ev, nev events) into draw ([K][nb], the
 * block of neurons from j0): source i drives group k0 + type[i]; its row is cut to the block by the
 * block rows br (block_rows). Groups that received something are marked in active. */
static inline void add_raw_drive(const snn_network *net, const snn_csr *m, const int64_t *br, int q, int64_t j0,
                                 int64_t nb, const int32_t *ev, int64_t nev, const int32_t *type, int k0,
                                 snn_real *draw, int *active) {
    const int64_t rows = m->n_rows;
    const int32_t *restrict col = m->col;
    const float *restrict wr = m->w;
    for (int64_t e = 0; e < nev; e++) {
        const int32_t i = ev[e];
        const int k = k0 + type[i];
        if (net->group_ncols[k] == 0) continue;
        active[k] = 1;
        snn_real *restrict d = draw + (size_t)k * nb;
        const int64_t lo = br[(size_t)q * rows + i], hi = br[(size_t)(q + 1) * rows + i];
        for (int64_t x = lo; x < hi; x++) d[col[x] - j0] += (snn_real)wr[x];
    }
}

/* The reverse of add_raw_drive: d/dw of every synapse in the block's part of the rows of the sources
 * that spiked, += the adjoint of its group's drive (abar, [K][nb]) times its factor (sfn, [K][n]). */
static inline void add_weight_grads(const snn_network *net, const snn_csr *m, const int64_t *br, int q, int64_t j0,
                                    int64_t nb, const int32_t *ev, int64_t nev, const int32_t *type, int k0,
                                    const snn_real *abar, const snn_real *sfn, double *gw) {
    const int64_t rows = m->n_rows, n = net->n;
    for (int64_t e = 0; e < nev; e++) {
        const int32_t i = ev[e];
        const int k = k0 + type[i];
        if (net->group_ncols[k] == 0) continue;
        const snn_real *restrict a = abar + (size_t)k * nb;
        const snn_real *restrict f = sfn + (size_t)k * n;
        const int64_t lo = br[(size_t)q * rows + i], hi = br[(size_t)(q + 1) * rows + i];
        for (int64_t x = lo; x < hi; x++) {
            const int32_t j = m->col[x];
            gw[x] += (double)a[j - j0] * (double)f[j];
        }
    }
}

static int csr_sorted(const snn_csr *m) {
    for (int64_t i = 0; i < m->n_rows; i++)
        for (int64_t e = m->row[i] + 1; e < m->row[i + 1]; e++)
            if (m->col[e] <= m->col[e - 1]) return 0;
    return 1;
}

int snn_forced_work_alloc(snn_forced_work *w, const snn_network *net, int B, int64_t T_max, int weights,
                          snn_error *err) {
    memset(w, 0, sizeof *w);
    if (weights && net->n_cols > FORCED_MAX_COLUMNS)
        return snn_fail(err, SNN_EINPUT, "teacher forcing in weights mode supports at most %d synapse types (the network has %d)",
                        FORCED_MAX_COLUMNS, net->n_cols);
    const int64_t n = net->n;
    const int K = net->n_groups, S = net->n_cols;
    int threads = omp_get_max_threads();
    /* blocks of neurons: enough (trial, block) units to keep every thread busy (weights mode runs the
     * trials one after another, so there the blocks alone must); results do not depend on the choice.
     * No more than that: a spike's synapses are split by block, and short pieces of rows cost more than
     * the cache a smaller block saves (measured at Dp scale) */
    int want = weights ? 2 * threads : (2 * threads + B - 1) / (B > 0 ? B : 1);
    if (threads == 1) want = 1;
    int64_t block = n;
    if (want > 1) {
        block = (n + want - 1) / want;
        block = (block + 15) / 16 * 16;
        if (block < 64) block = 64;
    }
    if (block > n) block = n > 0 ? n : 1;
    if (!csr_sorted(&net->rec) || !csr_sorted(&net->ff)) block = n > 0 ? n : 1;
    w->B = B;
    w->n = n;
    w->T_max = T_max;
    w->weights = weights;
    w->block = block;
    w->n_blocks = n > 0 ? (int)((n + block - 1) / block) : 1;
    w->n_slots = threads;
    size_t bn = (size_t)B * (size_t)n, kk = (size_t)(K ? K : 1);
    w->brow = snn_calloc((size_t)(w->n_blocks + 1) * (size_t)(net->rec.n_rows + 1), sizeof(int64_t), "block rows", err);
    w->bff = snn_calloc((size_t)(w->n_blocks + 1) * (size_t)(net->ff.n_rows + 1), sizeof(int64_t), "block rows", err);
    w->sfn = snn_calloc_aligned(kk * (size_t)(n ? n : 1), sizeof(snn_real), "per-neuron scaling factors", err);
    w->lsum = snn_calloc_aligned(bn + 1, sizeof(double), "teacher-forcing loss sums", err);
    w->gacc = snn_calloc_aligned(kk * bn + 1, sizeof(double), "teacher-forcing gradient sums", err);
    w->gnacc = snn_calloc_aligned(kk * kk * bn + 1, sizeof(double), "teacher-forcing curvature sums", err);
    w->cnt = snn_calloc_aligned(3 * bn + 1, sizeof(int64_t), "teacher-forcing spike counts", err);
    w->slots = snn_calloc((size_t)threads, sizeof(slot), "teacher-forcing scratch", err);
    if (!w->brow || !w->bff || !w->sfn || !w->lsum || !w->gacc || !w->gnacc || !w->cnt || !w->slots) {
        snn_forced_work_free(w);
        return SNN_ERUN;
    }
    slot *sl = w->slots;
    for (int i = 0; i < threads; i++)
        if (slot_alloc(&sl[i], block, K, S, T_max, weights, err)) {
            snn_forced_work_free(w);
            return SNN_ERUN;
        }
    block_rows(&net->rec, w->n_blocks, block, w->brow);
    block_rows(&net->ff, w->n_blocks, block, w->bff);
    return SNN_OK;
}

void snn_forced_work_free(snn_forced_work *w) {
    if (w->slots) {
        slot *sl = w->slots;
        for (int i = 0; i < w->n_slots; i++) slot_free(&sl[i]);
    }
    snn_free(w->brow);
    snn_free(w->bff);
    snn_free(w->sfn);
    snn_free(w->lsum);
    snn_free(w->gacc);
    snn_free(w->gnacc);
    snn_free(w->cnt);
    snn_free(w->slots);
    memset(w, 0, sizeof *w);
}

/* ---------------------------------------------------------------- one unit: a trial and a block */

typedef struct run_ctx {
    const snn_network *net;
    snn_forced_state *st;
    const snn_events *teacher, *inputs;
    int64_t s0, T;
    const snn_forced_opts *o;
    snn_forced_work *w;
    double *gw, *gw_ff;
} run_ctx;

static inline void step_events(const snn_events *ev, int b, int64_t t, const int32_t **idx, int64_t *cnt) {
    const int64_t *off = ev->off + (size_t)b * (size_t)(ev->T + 1);
    *idx = ev->idx[b] + off[t];
    *cnt = off[t + 1] - off[t];
}

/* The forward over the span for trial b, neurons [j0, j0 + nb): loss sums, counts, sensitivities (sens)
 * or the tape (weights). */
static void unit_forward(const run_ctx *c, int b, int q, slot *sl) {
    const snn_network *net = c->net;
    const snn_forced_opts *o = c->o;
    snn_forced_work *w = c->w;
    const int64_t n = net->n, j0 = (int64_t)q * w->block;
    const int64_t nb = (j0 + w->block <= n ? w->block : n - j0);
    const int S = net->n_cols, K = net->n_groups, nt = net->n_types;
    const int sens = o->sens, gn = o->sens && o->gn, taped = o->weights;
    const int hinge = o->loss == SNN_SPIKE_LOSS_SQUARED_HINGE;
    const double inv_d = 1.0 / o->delta, inv_d2 = inv_d * inv_d;
    double *restrict v = c->st->v + (size_t)b * n + j0;
    int32_t *restrict ref = c->st->ref + (size_t)b * n + j0;
    snn_real *g = c->st->g + (size_t)b * 2 * S * n + j0;
    const snn_real *restrict theta = net->theta + j0, *restrict u_reset = net->u_reset + j0;
    const snn_real *restrict e_l = net->e_l + j0, *restrict leak = net->leak_factor + j0;
    const snn_real *restrict dtc = net->dt_over_c + j0;
    const int32_t *restrict ref_steps = net->ref_steps + j0;
    const snn_real *sfn = w->sfn;
    double *restrict lsum = w->lsum + (size_t)b * n + j0;
    double *gacc = w->gacc + (size_t)b * K * n + j0;
    double *gnacc = w->gnacc + (size_t)b * K * K * n + j0;
    int64_t *restrict c_tsp = w->cnt + (size_t)b * 3 * n + j0, *restrict c_rep = c_tsp + n, *restrict c_ext = c_tsp + 2 * n;
    uint8_t *restrict os = sl->o;
    snn_real *restrict vf = sl->vf, *restrict isyn = sl->isyn, *restrict gsum = sl->gsum;
    double *restrict lv = sl->l, *restrict dlv = sl->dl, *restrict w2 = sl->w2;
    for (int64_t jj = 0; jj < nb; jj++) lsum[jj] = 0;
    for (int64_t jj = 0; jj < nb; jj++) c_tsp[jj] = c_rep[jj] = c_ext[jj] = 0;
    if (sens) {
        for (size_t k = 0; k < (size_t)K * nb; k++) sl->dv[k] = 0;
        for (size_t k = 0; k < (size_t)2 * S * nb; k++) sl->dg[k] = 0;
        for (int k = 0; k < K; k++)
            for (int64_t jj = 0; jj < nb; jj++) gacc[(size_t)k * n + jj] = 0;
        if (gn)
            for (int k = 0; k < K * K; k++)
                for (int64_t jj = 0; jj < nb; jj++) gnacc[(size_t)k * n + jj] = 0;
    }
    const int64_t *brow = w->brow, *bff = w->bff;
    uint16_t all_in = 0;
    for (int cc = 0; cc < 2 * S; cc++) all_in |= (uint16_t)(1u << (FL_CLAMP_SHIFT + cc));

    for (int64_t t = 0; t < c->T; t++) {
        const int64_t tt = c->s0 + t;
        const int in_loss = o->t_first + t >= o->burn_in;
        /* the teacher's spikes of this block at step tt */
        const int32_t *tsp;
        int64_t ntsp;
        step_events(c->teacher, b, tt, &tsp, &ntsp);
        memset(os, 0, (size_t)nb);
        for (int64_t e = 0; e < ntsp; e++) {
            int64_t j = tsp[e] - j0;
            if (j >= 0 && j < nb) os[j] = 1;
        }

        /* the loss on the voltage that decides this step's spike */
        if (in_loss) {
            if (hinge) {
                for (int64_t jj = 0; jj < nb; jj++) {
                    double l, dz, d2;
                    loss_squared_hinge((v[jj] - (double)theta[jj]) * inv_d, (double)os[jj], &l, &dz, &d2);
                    lv[jj] = l;
                    dlv[jj] = dz * inv_d;
                    w2[jj] = d2 * inv_d2;
                }
            } else {
                /* groups of 8 neurons all far below threshold (z < -36) and not spiking, the common case,
                 * take the short form: with e = exp(z) < 2.4e-16, softplus(z) = e, sigmoid(z) = e and
                 * sigmoid(z)(1 - sigmoid(z)) = e to double precision; groups with every |z| >= 4 a short
                 * log1p series */
                for (int64_t g0 = 0; g0 < nb; g0 += 8) {
                    const int64_t g1 = g0 + 8 < nb ? g0 + 8 : nb;
                    int far = 1, mid = 1;
                    for (int64_t jj = g0; jj < g1; jj++) {
                        const double z = (v[jj] - (double)theta[jj]) * inv_d;
                        far &= (z < -36.0) & (os[jj] == 0);
                        mid &= fabs(z) >= 4.0;
                    }
                    if (mid && !far) {
                        for (int64_t jj = g0; jj < g1; jj++) {
                            double l, dz, d2;
                            loss_cross_entropy_t((v[jj] - (double)theta[jj]) * inv_d, (double)os[jj], &l, &dz, &d2, 0);
                            lv[jj] = l;
                            dlv[jj] = dz * inv_d;
                            w2[jj] = d2 * inv_d2;
                        }
                    } else if (far) {
                        for (int64_t jj = g0; jj < g1; jj++) {
                            const double e = exp_nonpos(-min700(((double)theta[jj] - v[jj]) * inv_d));
                            lv[jj] = e;
                            dlv[jj] = e * inv_d;
                            w2[jj] = e * inv_d2;
                        }
                    } else {
                        for (int64_t jj = g0; jj < g1; jj++) {
                            double l, dz, d2;
                            loss_cross_entropy((v[jj] - (double)theta[jj]) * inv_d, (double)os[jj], &l, &dz, &d2);
                            lv[jj] = l;
                            dlv[jj] = dz * inv_d;
                            w2[jj] = d2 * inv_d2;
                        }
                    }
                }
            }
            for (int64_t jj = 0; jj < nb; jj++) {
                const int64_t sp = v[jj] > (double)theta[jj], tj = os[jj];
                c_tsp[jj] += tj;
                c_rep[jj] += tj & sp;
                c_ext[jj] += (1 - tj) & sp;
            }
            for (int64_t jj = 0; jj < nb; jj++) lsum[jj] += lv[jj];
            if (sens)
                for (int k = 0; k < K; k++) {
                    const snn_real *restrict dv = sl->dv + (size_t)k * nb;
                    double *restrict ga = gacc + (size_t)k * n;
                    for (int64_t jj = 0; jj < nb; jj++) ga[jj] += dlv[jj] * (double)dv[jj];
                }
            if (gn)
                for (int k1 = 0; k1 < K; k1++)
                    for (int k2 = k1; k2 < K; k2++) {
                        const snn_real *restrict d1 = sl->dv + (size_t)k1 * nb, *restrict d2v = sl->dv + (size_t)k2 * nb;
                        double *restrict ga = gnacc + (size_t)(k1 * K + k2) * n;
                        for (int64_t jj = 0; jj < nb; jj++) ga[jj] += w2[jj] * (double)d1[jj] * (double)d2v[jj];
                    }
        } else {
            for (int64_t jj = 0; jj < nb; jj++) dlv[jj] = 0;
        }

        /* currents from the state before the step (the model's arithmetic: the current in the state's
         * precision from a rounded copy of v) */
        for (int64_t jj = 0; jj < nb; jj++) {
            vf[jj] = (snn_real)v[jj];
            isyn[jj] = 0;
            gsum[jj] = 0;
        }
        for (int s = 0; s < S; s++) {
            const snn_real *restrict g0 = g + (size_t)s * n, *restrict g1 = g + (size_t)(S + s) * n;
            const snn_real e = net->e_syn[s];
            for (int64_t jj = 0; jj < nb; jj++) {
                isyn[jj] += (g0[jj] + g1[jj]) * (vf[jj] - e);
                gsum[jj] += g0[jj] + g1[jj];
            }
        }
        if (sens)
            for (int k = 0; k < K; k++) {
                snn_real *restrict qk = sl->qk + (size_t)k * nb;
                for (int64_t jj = 0; jj < nb; jj++) qk[jj] = 0;
                for (int qq = 0; qq < net->group_ncols[k]; qq++) {
                    const int s = net->group_cols[k][qq];
                    const snn_real *restrict d0 = sl->dg + (size_t)s * nb, *restrict d1 = sl->dg + (size_t)(S + s) * nb;
                    const snn_real e = net->e_syn[s];
                    for (int64_t jj = 0; jj < nb; jj++) qk[jj] += (d0[jj] + d1[jj]) * (vf[jj] - e);
                }
            }
        /* free steps: no reset by the teacher's spike, no refractory hold (ref >= 0, so ref > 0 is its
         * negation's sign bit; arithmetic rather than comparisons keeps the loops vectorised) */
        snn_real *restrict fr = sl->fr;
        for (int64_t jj = 0; jj < nb; jj++) {
            const uint32_t held = (uint32_t)os[jj] | ((uint32_t)(-ref[jj]) >> 31);
            fr[jj] = (snn_real)(1u - held);
        }
        if (taped) {
            snn_real *restrict tv = sl->tv + (size_t)t * nb, *restrict tdl = sl->tdl + (size_t)t * nb;
            snn_real *restrict tgs = sl->tgs + (size_t)t * nb;
            uint16_t *restrict tfl = sl->tfl + (size_t)t * nb;
            for (int64_t jj = 0; jj < nb; jj++) {
                tv[jj] = vf[jj];
                tdl[jj] = (snn_real)dlv[jj];
                tgs[jj] = gsum[jj];
                tfl[jj] = (uint16_t)(all_in | (uint16_t)fr[jj]);
            }
        }

        /* voltage update; the teacher's spike resets, a hold keeps U_reset (x 1 + y x 0 is exactly x) */
        if (sens)
            for (int k = 0; k < K; k++) {
                snn_real *restrict dv = sl->dv + (size_t)k * nb;
                const snn_real *restrict qk = sl->qk + (size_t)k * nb;
                for (int64_t jj = 0; jj < nb; jj++) {
                    const snn_real nd = dv[jj] * (1 - leak[jj] - dtc[jj] * gsum[jj]) - dtc[jj] * qk[jj];
                    dv[jj] = nd * fr[jj];
                }
            }
        for (int64_t jj = 0; jj < nb; jj++) {
            double vt = v[jj] - (double)(isyn[jj] * dtc[jj]) - (v[jj] - e_l[jj]) * leak[jj];
            v[jj] = vt * (double)fr[jj] + (double)u_reset[jj] * (1.0 - (double)fr[jj]);
            const int32_t r = ref[jj] - (int32_t)((uint32_t)(-ref[jj]) >> 31); /* max(ref - 1, 0) */
            const int32_t o = os[jj];
            ref[jj] = o * ref_steps[jj] + (1 - o) * r;
        }

        /* decay */
        for (int cc = 0; cc < 2; cc++)
            for (int s = 0; s < S; s++) {
                snn_real *restrict gg = g + (size_t)(cc * S + s) * n;
                const snn_real a = net->alpha[cc][s];
                for (int64_t jj = 0; jj < nb; jj++) gg[jj] *= a;
                if (sens) {
                    snn_real *restrict dg = sl->dg + (size_t)(cc * S + s) * nb;
                    for (int64_t jj = 0; jj < nb; jj++) dg[jj] *= a;
                }
            }

        /* the teacher's spikes and the inputs of this step, raw weights summed per group */
        int active[SNN_MAX_GROUPS] = {0};
        add_raw_drive(net, &net->rec, brow, q, j0, nb, tsp, ntsp, net->type, 0, sl->draw, active);
        if (c->inputs) {
            const int32_t *isp;
            int64_t nis;
            step_events(c->inputs, b, tt, &isp, &nis);
            add_raw_drive(net, &net->ff, bff, q, j0, nb, isp, nis, net->ff_type, nt, sl->draw, active);
        }

        /* spread over the group's columns with the factor, clamp; a value that left its bounds passes no
         * gradient (its sensitivity is 0, its tape bit cleared) */
        uint16_t *restrict tfl = taped ? sl->tfl + (size_t)t * nb : NULL;
        for (int k = 0; k < K; k++) {
            if (!active[k]) continue;
            snn_real *restrict d = sl->draw + (size_t)k * nb;
            const snn_real *restrict f = sfn + (size_t)k * n + j0;
            for (int qq = 0; qq < net->group_ncols[k]; qq++) {
                const int s = net->group_cols[k][qq];
                for (int cc = 0; cc < 2; cc++) {
                    snn_real *restrict gg = g + (size_t)(cc * S + s) * n;
                    snn_real *restrict dg = sl->dg + (size_t)(cc * S + s) * nb;
                    const snn_real sc = net->g_scale[cc][s];
                    const snn_real lo = cc == 0 ? sc : 0, hi = cc == 0 ? 0 : sc;
                    const uint16_t bit = (uint16_t)(1u << (FL_CLAMP_SHIFT + cc * S + s));
                    if (sens) {
                        for (int64_t jj = 0; jj < nb; jj++) {
                            const snn_real y = gg[jj] + (d[jj] * f[jj]) * sc;
                            const snn_real in = (snn_real)((y >= lo) & (y <= hi));
                            const snn_real yc = y < lo ? lo : y;
                            gg[jj] = yc > hi ? hi : yc;
                            dg[jj] = (dg[jj] + d[jj] * sc) * in;
                        }
                    } else if (taped) {
                        for (int64_t jj = 0; jj < nb; jj++) {
                            const snn_real y = gg[jj] + (d[jj] * f[jj]) * sc;
                            tfl[jj] &= (uint16_t)~(bit * (uint16_t)((y < lo) | (y > hi)));
                            const snn_real yc = y < lo ? lo : y;
                            gg[jj] = yc > hi ? hi : yc;
                        }
                    } else {
                        for (int64_t jj = 0; jj < nb; jj++) {
                            const snn_real y = gg[jj] + (d[jj] * f[jj]) * sc;
                            const snn_real yc = y < lo ? lo : y;
                            gg[jj] = yc > hi ? hi : yc;
                        }
                    }
                }
            }
            for (int64_t jj = 0; jj < nb; jj++) d[jj] = 0;
        }
    }
}

/* The reverse pass of a taped unit (weights mode): each neuron's adjoint through its own v, G and clamp;
 * the adjoint of a group's drive times the synapse's factor is added to d/dw of every synapse from a
 * source that spiked at the step. */
static void unit_reverse(const run_ctx *c, int b, int q, slot *sl) {
    const snn_network *net = c->net;
    snn_forced_work *w = c->w;
    const int64_t n = net->n, j0 = (int64_t)q * w->block;
    const int64_t nb = (j0 + w->block <= n ? w->block : n - j0);
    const int S = net->n_cols, K = net->n_groups, nt = net->n_types;
    const snn_real *restrict leak = net->leak_factor + j0, *restrict dtc = net->dt_over_c + j0;
    const int64_t *brow = w->brow, *bff = w->bff;
    double *restrict vbar = sl->vbar;
    snn_real *restrict gbar = sl->gbar;
    for (int64_t jj = 0; jj < nb; jj++) vbar[jj] = 0;
    for (size_t k = 0; k < (size_t)2 * S * nb; k++) gbar[k] = 0;
    for (int64_t t = c->T - 1; t >= 0; t--) {
        const int64_t tt = c->s0 + t;
        const uint16_t *restrict fl = sl->tfl + (size_t)t * nb;
        const snn_real *restrict tv = sl->tv + (size_t)t * nb, *restrict tdl = sl->tdl + (size_t)t * nb;
        const snn_real *restrict tgs = sl->tgs + (size_t)t * nb;
        /* through the clamp of step t: the adjoint of the pre-clamp value */
        for (int cs = 0; cs < 2 * S; cs++) {
            snn_real *restrict gb = gbar + (size_t)cs * nb;
            const int sh = FL_CLAMP_SHIFT + cs;
            for (int64_t jj = 0; jj < nb; jj++) gb[jj] = ((fl[jj] >> sh) & 1) ? gb[jj] : 0;
        }
        /* the adjoint of each group's drive, and the synapses of the sources that spiked at step t */
        for (int k = 0; k < K; k++) {
            snn_real *restrict a = sl->abar + (size_t)k * nb;
            for (int64_t jj = 0; jj < nb; jj++) a[jj] = 0;
            for (int qq = 0; qq < net->group_ncols[k]; qq++) {
                const int s = net->group_cols[k][qq];
                const snn_real *restrict g0 = gbar + (size_t)s * nb, *restrict g1 = gbar + (size_t)(S + s) * nb;
                const snn_real sc0 = net->g_scale[0][s], sc1 = net->g_scale[1][s];
                for (int64_t jj = 0; jj < nb; jj++) a[jj] += g0[jj] * sc0 + g1[jj] * sc1;
            }
        }
        const int32_t *tsp;
        int64_t ntsp;
        step_events(c->teacher, b, tt, &tsp, &ntsp);
        if (c->gw) add_weight_grads(net, &net->rec, brow, q, j0, nb, tsp, ntsp, net->type, 0, sl->abar, w->sfn, c->gw);
        if (c->gw_ff && c->inputs) {
            const int32_t *isp;
            int64_t nis;
            step_events(c->inputs, b, tt, &isp, &nis);
            add_weight_grads(net, &net->ff, bff, q, j0, nb, isp, nis, net->ff_type, nt, sl->abar, w->sfn, c->gw_ff);
        }
        /* through the decay */
        for (int cc = 0; cc < 2; cc++)
            for (int s = 0; s < S; s++) {
                snn_real *restrict gb = gbar + (size_t)(cc * S + s) * nb;
                const snn_real al = net->alpha[cc][s];
                for (int64_t jj = 0; jj < nb; jj++) gb[jj] *= al;
            }
        /* through the voltage update of step t (none on a reset or hold), and the loss of step t */
        for (int s = 0; s < S; s++) {
            snn_real *restrict g0 = gbar + (size_t)s * nb, *restrict g1 = gbar + (size_t)(S + s) * nb;
            const snn_real e = net->e_syn[s];
            for (int64_t jj = 0; jj < nb; jj++) {
                const double vt = (fl[jj] & FL_FREE) ? vbar[jj] : 0.0;
                const snn_real d = (snn_real)(-vt * (double)dtc[jj]) * (tv[jj] - e);
                g0[jj] += d;
                g1[jj] += d;
            }
        }
        for (int64_t jj = 0; jj < nb; jj++) {
            const double vt = (fl[jj] & FL_FREE) ? vbar[jj] : 0.0;
            vbar[jj] = (double)tdl[jj] + vt * (1.0 - (double)leak[jj] - (double)dtc[jj] * (double)tgs[jj]);
        }
    }
}

void snn_forced_run_parts(const snn_network *net, snn_forced_state *st, const snn_events *teacher,
                          const snn_events *inputs, int64_t s0, int64_t T, const snn_forced_opts *o, double *gw,
                          double *gw_ff, snn_forced_work *w) {
    const int64_t n = net->n;
    const int K = net->n_groups, nt = net->n_types, B = st->B, nblk = w->n_blocks;
    snn_forced_opts oo = *o;
    if (oo.weights) oo.sens = 0; /* one gradient method per run */
    run_ctx c = {net, st, teacher, inputs, s0, T, &oo, w, oo.weights ? gw : NULL, oo.weights ? gw_ff : NULL};
    /* the run's factors per neuron and group */
    for (int k = 0; k < K; k++)
        for (int64_t j = 0; j < n; j++)
            w->sfn[(size_t)k * n + j] =
                (snn_real)(k < nt ? net->sf[k][net->type[j]] : net->sf_ff[k - nt][net->type[j]]);
    slot *slots = w->slots;
    if (oo.weights) {
        /* trials in order, so that each synapse's gradient sums in a fixed order; blocks in parallel
         * (a synapse belongs to its target's block) */
        for (int b = 0; b < B; b++) {
#pragma omp parallel for schedule(dynamic, 1)
            for (int q = 0; q < nblk; q++) {
                slot *sl = &slots[omp_get_thread_num()];
                unit_forward(&c, b, q, sl);
                unit_reverse(&c, b, q, sl);
            }
        }
    } else {
#pragma omp parallel for schedule(dynamic, 1)
        for (int u = 0; u < B * nblk; u++) unit_forward(&c, u / nblk, u % nblk, &slots[omp_get_thread_num()]);
    }
}

void snn_forced_sums_add(const snn_network *net, const snn_forced_work *w, int B, int64_t T, const snn_forced_opts *o,
                         snn_forced_sums *out, double *gn) {
    const int64_t n = net->n;
    const int K = net->n_groups, nt = net->n_types;
    const int sens = o->sens && !o->weights;
    /* fixed-order reductions: trials in order, neurons in order within a trial */
    int64_t in_loss = 0;
    for (int64_t t = 0; t < T; t++) in_loss += o->t_first + t >= o->burn_in;
    for (int b = 0; b < B; b++) {
        const double *ls = w->lsum + (size_t)b * n;
        const int64_t *ct = w->cnt + (size_t)b * 3 * n;
        for (int64_t j = 0; j < n; j++) {
            const int l = net->type[j];
            out->loss += ls[j];
            out->neuron_steps[l] += in_loss;
            out->teacher_spikes[l] += ct[j];
            out->reproduced[l] += ct[n + j];
            out->extra[l] += ct[2 * n + j];
        }
    }
    out->count += in_loss * B * n;
    if (sens) {
        for (int b = 0; b < B; b++)
            for (int k = 0; k < K; k++) {
                const double *ga = w->gacc + ((size_t)b * K + k) * n;
                double *dst = k < nt ? out->g_sf + (size_t)k * nt : out->g_sf_ff + (size_t)(k - nt) * nt;
                for (int64_t j = 0; j < n; j++) dst[net->type[j]] += ga[j];
            }
        if (o->gn && gn)
            for (int b = 0; b < B; b++)
                for (int k1 = 0; k1 < K; k1++)
                    for (int k2 = k1; k2 < K; k2++) {
                        const double *ga = w->gnacc + ((size_t)b * K * K + (size_t)(k1 * K + k2)) * n;
                        for (int64_t j = 0; j < n; j++) gn[((size_t)net->type[j] * K + k1) * K + k2] += ga[j];
                    }
    }
}

void snn_forced_gn_mirror(const snn_network *net, double *gn) {
    const int K = net->n_groups, nt = net->n_types;
    for (int l = 0; l < nt; l++)
        for (int k1 = 0; k1 < K; k1++)
            for (int k2 = 0; k2 < k1; k2++) gn[((size_t)l * K + k1) * K + k2] = gn[((size_t)l * K + k2) * K + k1];
}

void snn_forced_run(const snn_network *net, snn_forced_state *st, const snn_events *teacher,
                    const snn_events *inputs, int64_t s0, int64_t T, const snn_forced_opts *o, snn_forced_sums *out,
                    double *gw, double *gw_ff, double *gn, snn_forced_work *w) {
    const int gn_on = o->sens && !o->weights && o->gn && gn;
    snn_forced_run_parts(net, st, teacher, inputs, s0, T, o, gw, gw_ff, w);
    memset(out, 0, sizeof *out);
    if (gn_on) memset(gn, 0, (size_t)net->n_types * net->n_groups * net->n_groups * sizeof(double));
    snn_forced_sums_add(net, w, st->B, T, o, out, gn_on ? gn : NULL);
    if (gn_on) snn_forced_gn_mirror(net, gn);
}
