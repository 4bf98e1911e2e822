#include "core/nprandom.h"

#include <math.h>

#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

void snn_np_seed(snn_nprandom *r, uint32_t seed) {
    for (int pos = 0; pos < SNN_NP_STATE_LEN; pos++) {
        r->key[pos] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)pos + 1u;
    }
    r->pos = SNN_NP_STATE_LEN;
    r->has_gauss = 0;
    r->gauss = 0.0;
}

int snn_np_state_check(const snn_nprandom *r, const char *what, snn_error *err) {
    if (r->pos < 0 || r->pos > SNN_NP_STATE_LEN)
        return snn_fail(err, SNN_EINPUT, "%s: numpy random state position %d is outside [0, %d]",
                        what, r->pos, SNN_NP_STATE_LEN);
    if (r->has_gauss != 0 && r->has_gauss != 1)
        return snn_fail(err, SNN_EINPUT, "%s: numpy random state has_gauss is %d, expected 0 or 1",
                        what, r->has_gauss);
    if (!isfinite(r->gauss))
        return snn_fail(err, SNN_EINPUT, "%s: numpy random state cached normal is not finite", what);
    return SNN_OK;
}

static void mt_regenerate(snn_nprandom *r) {
    uint32_t *k = r->key;
    int i;
    for (i = 0; i < SNN_NP_STATE_LEN - MT_M; i++) {
        uint32_t y = (k[i] & MT_UPPER) | (k[i + 1] & MT_LOWER);
        k[i] = k[i + MT_M] ^ (y >> 1) ^ (-(y & 1u) & MT_MATRIX_A);
    }
    for (; i < SNN_NP_STATE_LEN - 1; i++) {
        uint32_t y = (k[i] & MT_UPPER) | (k[i + 1] & MT_LOWER);
        k[i] = k[i + (MT_M - SNN_NP_STATE_LEN)] ^ (y >> 1) ^ (-(y & 1u) & MT_MATRIX_A);
    }
    uint32_t y = (k[SNN_NP_STATE_LEN - 1] & MT_UPPER) | (k[0] & MT_LOWER);
    k[SNN_NP_STATE_LEN - 1] = k[MT_M - 1] ^ (y >> 1) ^ (-(y & 1u) & MT_MATRIX_A);
    r->pos = 0;
}

static inline uint32_t temper(uint32_t y) {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint32_t snn_np_next_u32(snn_nprandom *r) {
    if (r->pos >= SNN_NP_STATE_LEN) mt_regenerate(r);
    return temper(r->key[r->pos++]);
}

double snn_np_random(snn_nprandom *r) {
    uint32_t a = snn_np_next_u32(r) >> 5;
    uint32_t b = snn_np_next_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

uint64_t snn_np_interval(snn_nprandom *r, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    uint64_t value;
    if (max <= 0xffffffffu) {
        while ((value = (snn_np_next_u32(r) & mask)) > max) {
        }
    } else {
        /* numpy's 64-bit draw: high word first */
        do {
            uint64_t hi = snn_np_next_u32(r);
            uint64_t lo = snn_np_next_u32(r);
            value = ((hi << 32) | lo) & mask;
        } while (value > max);
    }
    return value;
}

int64_t snn_np_randint(snn_nprandom *r, int64_t low, int64_t high) {
    uint64_t rng = (uint64_t)high - (uint64_t)low - 1u;
    return (int64_t)((uint64_t)low + snn_np_interval(r, rng));
}

void snn_np_shuffle_i64(snn_nprandom *r, int64_t *x, size_t n) {
    for (size_t i = n > 0 ? n - 1 : 0; i >= 1; i--) {
        size_t j = (size_t)snn_np_interval(r, i);
        int64_t t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

double snn_np_standard_normal(snn_nprandom *r) {
    if (r->has_gauss) {
        double g = r->gauss;
        r->has_gauss = 0;
        r->gauss = 0.0;
        return g;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * snn_np_random(r) - 1.0;
        x2 = 2.0 * snn_np_random(r) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    r->gauss = f * x1;
    r->has_gauss = 1;
    return f * x2;
}

/* One polar attempt from four words: is (x1, x2) inside the unit circle (and not the origin)? */
static inline int polar_accepts(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3) {
    const double x1 = 2.0 * (((double)(w0 >> 5) * 67108864.0 + (double)(w1 >> 6)) / 9007199254740992.0) - 1.0;
    const double x2 = 2.0 * (((double)(w2 >> 5) * 67108864.0 + (double)(w3 >> 6)) / 9007199254740992.0) - 1.0;
    const double r2 = x1 * x1 + x2 * x2;
    return r2 < 1.0 && r2 != 0.0;
}

void snn_np_skip_standard_normals(snn_nprandom *r, uint64_t k) {
    if (k > 0 && r->has_gauss) {
        r->has_gauss = 0;
        r->gauss = 0.0;
        k--;
    }
    /* whole pairs: every polar attempt takes four words, and only its acceptance test decides how
     * many attempts a pair needs, so the skip runs over the state words without computing normals */
    uint64_t pairs = k / 2;
    while (pairs > 0) {
        if (r->pos >= SNN_NP_STATE_LEN) mt_regenerate(r);
        int attempts = (SNN_NP_STATE_LEN - r->pos) / 4;
        if (attempts == 0) { /* an attempt that straddles two blocks of the state */
            uint32_t w0 = snn_np_next_u32(r), w1 = snn_np_next_u32(r), w2 = snn_np_next_u32(r), w3 = snn_np_next_u32(r);
            pairs -= (uint64_t)polar_accepts(w0, w1, w2, w3);
            continue;
        }
        const uint32_t *w = r->key + r->pos;
        int a = 0;
        for (; a < attempts && pairs > 0; a++, w += 4)
            pairs -= (uint64_t)polar_accepts(temper(w[0]), temper(w[1]), temper(w[2]), temper(w[3]));
        r->pos += 4 * a;
    }
    if (k & 1) (void)snn_np_standard_normal(r);
}

double snn_np_normal(snn_nprandom *r, double loc, double scale) {
    return loc + scale * snn_np_standard_normal(r);
}

double snn_np_lognormal(snn_nprandom *r, double mean, double sigma) {
    return exp(snn_np_normal(r, mean, sigma));
}
