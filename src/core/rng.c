#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

snn_rng snn_rng_make(uint64_t seed, uint32_t purpose) {
    uint64_t k = splitmix64(splitmix64(seed) ^ ((uint64_t)purpose * 0xD1B54A32D192ED03ull));
    snn_rng r = {{(uint32_t)k, (uint32_t)(k >> 32)}};
    return r;
}

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void snn_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(0xD2511F53u, c0, &hi0, &lo0);
        mulhilo(0xCD9E8D57u, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void snn_rng_block(snn_rng r, uint32_t trial, uint64_t step, uint32_t index, uint32_t out[4]) {
    const uint32_t ctr[4] = {index, (uint32_t)step, (uint32_t)(step >> 32), trial};
    snn_philox4x32_10(ctr, r.key, out);
}

void snn_rng_normal2(snn_rng r, uint32_t trial, uint64_t step, uint32_t index, double out[2]) {
    uint32_t w[4];
    snn_rng_block(r, trial, step, index, w);
    /* 53-bit uniforms from two words each; u1 in (0, 1] so that log(u1) is finite */
    double u1 = ((double)(((uint64_t)w[0] << 21) ^ (w[1] >> 11)) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(((uint64_t)w[2] << 21) ^ (w[3] >> 11)) * (1.0 / 9007199254740992.0);
    double rad = sqrt(-2.0 * log(u1));
    double ang = 6.283185307179586476925286766559 * u2;
    out[0] = rad * cos(ang);
    out[1] = rad * sin(ang);
}
