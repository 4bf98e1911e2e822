#include "inputs/poisson.h"

#include <math.h>
#include <string.h>

#include "core/mem.h"

/* The draw loops are compiled for AVX-512 and AVX2 too, chosen at run time. Besides wider vectors this
 * matters because the batched RNG runs in AVX registers: legacy-SSE code right after it (the sparse
 * rate updates) ran 2-3x slower from the SSE/AVX transitions. Results are the same on every path: the
 * arithmetic is the same IEEE operations, never contracted to FMA (ISO C mode: -ffp-contract=off),
 * which the tests check against a plain reference. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SNN_DRAW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SNN_DRAW_CLONES
#endif

/* The comparison. With x = p * 2^32 (exact: a power-of-two scaling) and an integer word w,
 *     w < snn_bernoulli_threshold(p) = floor(x)   <=>   w + 1 <= floor(x)   <=>   w + 1 <= x,
 * and the right-hand form needs no clamping: x <= 0 or NaN never fires, x >= 2^32 always does. So a
 * spike is (double)w + 1 <= rate * scale, with scale = (dt / 1000) * 2^32, a branch-free loop. The
 * word goes to double through int32 (which SSE/AVX convert directly) plus 2^31. */
static inline double word_plus_one(uint32_t w) {
    return (double)(int32_t)(w ^ 0x80000000u) + 2147483649.0;
}

static int check_rates(const double *r, int64_t n, const char *what, snn_error *err) {
    for (int64_t i = 0; i < n; i++)
        if (!(isfinite(r[i]) && r[i] >= 0))
            return snn_fail(err, SNN_EINPUT, "%s: rate %lld is %g, expected a finite rate >= 0 Hz", what,
                            (long long)i, r[i]);
    return SNN_OK;
}

static int init_common(snn_poisson *ps, int64_t n_inputs, double dt, uint64_t seed, uint32_t purpose,
                       snn_error *err) {
    memset(ps, 0, sizeof *ps);
    if (n_inputs < 0 || (uint64_t)n_inputs > (uint64_t)UINT32_MAX)
        return snn_fail(err, SNN_EINPUT, "Poisson inputs: bad number of inputs %lld", (long long)n_inputs);
    if (!(isfinite(dt) && dt > 0)) return snn_fail(err, SNN_EINPUT, "Poisson inputs: dt must be > 0");
    ps->n_inputs = n_inputs;
    ps->dt = dt;
    ps->scale = (dt / 1000.0) * 4294967296.0;
    ps->rng = snn_rng_make(seed, purpose);
    ps->n_tiles = (n_inputs + SNN_POISSON_TILE - 1) / SNN_POISSON_TILE;
    return SNN_OK;
}

int snn_poisson_init_rates(snn_poisson *ps, int64_t n_inputs, const double *rates_hz, double dt,
                           uint64_t seed, uint32_t purpose, snn_error *err) {
    int rc = init_common(ps, n_inputs, dt, seed, purpose, err);
    if (rc == SNN_OK) rc = check_rates(rates_hz, n_inputs, "Poisson inputs", err);
    if (rc != SNN_OK) return rc;
    ps->fixed_scaled = snn_calloc((size_t)(n_inputs > 0 ? n_inputs : 1), sizeof(double),
                                  "Poisson input rates", err);
    if (ps->fixed_scaled == NULL) return SNN_ERUN;
    for (int64_t k = 0; k < n_inputs; k++) ps->fixed_scaled[k] = rates_hz[k] * ps->scale;
    return SNN_OK;
}

int snn_poisson_init_mixture(snn_poisson *ps, int64_t n_inputs, int n_patterns, const double *patterns,
                             double dt, uint64_t seed, uint32_t purpose, snn_error *err) {
    int rc = init_common(ps, n_inputs, dt, seed, purpose, err);
    if (rc != SNN_OK) return rc;
    if (n_patterns < 1) return snn_fail(err, SNN_EINPUT, "Poisson inputs: need at least one pattern");
    rc = check_rates(patterns, (int64_t)n_patterns * n_inputs, "odour patterns", err);
    if (rc != SNN_OK) return rc;
    const int P = n_patterns;
    const size_t N = (size_t)n_inputs;
    ps->n_patterns = P;
    ps->base = snn_calloc(N > 0 ? N : 1, sizeof *ps->base, "Poisson base rates", err);
    ps->offsets = snn_calloc((size_t)ps->n_tiles * (size_t)P + 1, sizeof *ps->offsets,
                             "Poisson pattern offsets", err);
    if (ps->base == NULL || ps->offsets == NULL) goto oom;
    int64_t n_entries = 0;
    for (size_t k = 0; k < N; k++) {
        double b = patterns[k];
        for (int p = 1; p < P; p++) b = fmin(b, patterns[(size_t)p * N + k]);
        ps->base[k] = b;
        for (int p = 0; p < P; p++) n_entries += patterns[(size_t)p * N + k] != b;
    }
    ps->local_index = snn_calloc((size_t)(n_entries > 0 ? n_entries : 1), sizeof *ps->local_index,
                                 "Poisson pattern entries", err);
    ps->delta = snn_calloc((size_t)(n_entries > 0 ? n_entries : 1), sizeof *ps->delta,
                           "Poisson pattern entries", err);
    if (ps->local_index == NULL || ps->delta == NULL) goto oom;
    /* grouped by tile, then pattern, then input: the order in which a step adds them up */
    int64_t e = 0;
    for (int64_t t = 0; t < ps->n_tiles; t++) {
        const int64_t k0 = t * SNN_POISSON_TILE;
        const int64_t k1 = k0 + SNN_POISSON_TILE < n_inputs ? k0 + SNN_POISSON_TILE : n_inputs;
        for (int p = 0; p < P; p++) {
            ps->offsets[t * P + p] = e;
            for (int64_t k = k0; k < k1; k++) {
                double v = patterns[(size_t)p * N + (size_t)k];
                if (v == ps->base[k]) continue;
                ps->local_index[e] = (uint16_t)(k - k0);
                ps->delta[e] = v - ps->base[k];
                e++;
            }
        }
    }
    ps->offsets[ps->n_tiles * P] = e;
    return SNN_OK;
oom:
    snn_poisson_free(ps);
    return SNN_ERUN;
}

int64_t snn_poisson_mixture_entries(const snn_poisson *ps) {
    return ps->offsets != NULL ? ps->offsets[ps->n_tiles * ps->n_patterns] : 0;
}

/* One tile of one step: spikes[i] = word i fires against threshold x[i] (see word_plus_one). */
static void compare_tile(const uint32_t *restrict words, const double *restrict x, int64_t n,
                         uint8_t *restrict spikes) {
    for (int64_t i = 0; i < n; i++) spikes[i] = (uint8_t)(word_plus_one(words[i]) <= x[i]);
}

SNN_DRAW_CLONES
int snn_poisson_draw_rates(const snn_poisson *ps, uint32_t trial, int64_t step0, int64_t n_steps,
                           uint8_t *spikes, snn_error *err) {
    if (ps->fixed_scaled == NULL)
        return snn_fail(err, SNN_EINPUT, "Poisson inputs: not a fixed-rate generator");
    if (step0 < 0 || n_steps < 0) return snn_fail(err, SNN_EINPUT, "Poisson inputs: negative step");
    const int64_t N = ps->n_inputs;
    uint32_t words[SNN_POISSON_TILE];
    for (int64_t s = 0; s < n_steps; s++) {
        const uint64_t t = (uint64_t)(step0 + s);
        uint8_t *row = spikes + (size_t)s * (size_t)N;
        for (int64_t k0 = 0; k0 < N; k0 += SNN_POISSON_TILE) {
            const int64_t n = N - k0 < SNN_POISSON_TILE ? N - k0 : SNN_POISSON_TILE;
            snn_rng_fill_u32(ps->rng, trial, t, (uint32_t)(k0 / 4), (size_t)n, words);
            compare_tile(words, ps->fixed_scaled + k0, n, row + k0);
        }
    }
    return SNN_OK;
}

SNN_DRAW_CLONES
int snn_poisson_draw_mixture(const snn_poisson *ps, uint32_t trial, int64_t step0, int64_t n_steps,
                             const float *weights, uint8_t *spikes, snn_error *err) {
    if (ps->base == NULL)
        return snn_fail(err, SNN_EINPUT, "Poisson inputs: not a pattern-mixture generator");
    if (step0 < 0 || n_steps < 0) return snn_fail(err, SNN_EINPUT, "Poisson inputs: negative step");
    const int64_t N = ps->n_inputs;
    const int P = ps->n_patterns;
    const double scale = ps->scale;
    uint32_t words[SNN_POISSON_TILE];
    double x[SNN_POISSON_TILE];
    for (int64_t s = 0; s < n_steps; s++) {
        const uint64_t t = (uint64_t)(step0 + s);
        const float *w = weights + (size_t)s * (size_t)P;
        uint8_t *row = spikes + (size_t)s * (size_t)N;
        for (int64_t tile = 0; tile < ps->n_tiles; tile++) {
            const int64_t k0 = tile * SNN_POISSON_TILE;
            const int64_t n = N - k0 < SNN_POISSON_TILE ? N - k0 : SNN_POISSON_TILE;
            snn_rng_fill_u32(ps->rng, trial, t, (uint32_t)(k0 / 4), (size_t)n, words);
            memcpy(x, ps->base + k0, (size_t)n * sizeof *x);
            const int64_t *off = ps->offsets + tile * P;
            for (int p = 0; p < P; p++) {
                const double wp = (double)w[p];
                for (int64_t e = off[p]; e < off[p + 1]; e++) x[ps->local_index[e]] += wp * ps->delta[e];
            }
            for (int64_t i = 0; i < n; i++) x[i] *= scale;
            compare_tile(words, x, n, row + k0);
        }
    }
    return SNN_OK;
}

void snn_poisson_free(snn_poisson *ps) {
    if (ps == NULL) return;
    snn_free(ps->fixed_scaled);
    snn_free(ps->base);
    snn_free(ps->offsets);
    snn_free(ps->local_index);
    snn_free(ps->delta);
    ps->fixed_scaled = ps->base = ps->delta = NULL;
    ps->offsets = NULL;
    ps->local_index = NULL;
}
