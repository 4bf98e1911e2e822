#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/rng.h"
#include "testutil.h"

/* Known-answer vectors of Random123's Philox4x32-10 (kat_vectors). */
static void test_philox_known_answers(void **state) {
    (void)state;
    uint32_t out[4];
    const uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    snn_philox4x32_10(c0, k0, out);
    assert_int_equal(out[0], 0x6627e8d5u);
    assert_int_equal(out[1], 0xe169c58du);
    assert_int_equal(out[2], 0xbc57ac4cu);
    assert_int_equal(out[3], 0x9b00dbd8u);
    const uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    const uint32_t k1[2] = {0xffffffffu, 0xffffffffu};
    snn_philox4x32_10(c1, k1, out);
    assert_int_equal(out[0], 0x408f276du);
    assert_int_equal(out[1], 0x41c83b0eu);
    assert_int_equal(out[2], 0xa20bc7c6u);
    assert_int_equal(out[3], 0x6d5451fdu);
    const uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    const uint32_t k2[2] = {0xa4093822u, 0x299f31d0u};
    snn_philox4x32_10(c2, k2, out);
    assert_int_equal(out[0], 0xd16cfe09u);
    assert_int_equal(out[1], 0x94fdccebu);
    assert_int_equal(out[2], 0x5001e420u);
    assert_int_equal(out[3], 0x24126ea1u);
}

/* Draws depend on every coordinate, and only on them. */
static void test_streams_are_functions_of_coordinates(void **state) {
    (void)state;
    snn_rng a = snn_rng_make(43, SNN_RNG_POISSON), b = snn_rng_make(43, SNN_RNG_POISSON);
    snn_rng c = snn_rng_make(43, SNN_RNG_OU), d = snn_rng_make(44, SNN_RNG_POISSON);
    uint32_t x[4], y[4];
    snn_rng_block(a, 3, 1000, 7, x);
    snn_rng_block(b, 3, 1000, 7, y);
    assert_memory_equal(x, y, sizeof x);
    snn_rng_block(c, 3, 1000, 7, y);
    assert_memory_not_equal(x, y, sizeof x);
    snn_rng_block(d, 3, 1000, 7, y);
    assert_memory_not_equal(x, y, sizeof x);
    snn_rng_block(a, 4, 1000, 7, y);
    assert_memory_not_equal(x, y, sizeof x);
    snn_rng_block(a, 3, 1001, 7, y);
    assert_memory_not_equal(x, y, sizeof x);
    snn_rng_block(a, 3, 1000, 8, y);
    assert_memory_not_equal(x, y, sizeof x);
    snn_rng_block(a, 3, 1000 + ((uint64_t)1 << 32), 7, y);
    assert_memory_not_equal(x, y, sizeof x);
}

/* Moments of the uniform words and of the normals over many counters. */
static void test_moments(void **state) {
    (void)state;
    snn_rng r = snn_rng_make(1, SNN_RNG_OU);
    const int n = 200000;
    double su = 0, su2 = 0, sz = 0, sz2 = 0, sz4 = 0;
    long hits = 0;
    uint64_t thr = snn_bernoulli_threshold(0.006);
    for (int i = 0; i < n; i++) {
        uint32_t w[4];
        snn_rng_block(r, 0, (uint64_t)i, 0, w);
        double u = snn_u32_to_unit(w[0]);
        su += u;
        su2 += u * u;
        hits += (uint64_t)w[1] < thr;
        double z[2];
        snn_rng_normal2(r, 1, (uint64_t)i, 0, z);
        for (int k = 0; k < 2; k++) {
            sz += z[k];
            sz2 += z[k] * z[k];
            sz4 += z[k] * z[k] * z[k] * z[k];
        }
    }
    double mu = su / n, var = su2 / n - mu * mu;
    assert_true(fabs(mu - 0.5) < 0.005);
    assert_true(fabs(var - 1.0 / 12) < 0.002);
    double mz = sz / (2.0 * n), vz = sz2 / (2.0 * n), kz = sz4 / (2.0 * n);
    assert_true(fabs(mz) < 0.01);
    assert_true(fabs(vz - 1.0) < 0.01);
    assert_true(fabs(kz - 3.0) < 0.06);
    /* Bernoulli(0.006): expected 1200 hits, sd ~34.5 */
    assert_true(labs(hits - 1200) < 175);
    assert_true(snn_bernoulli_threshold(0.0) == 0);
    assert_true(snn_bernoulli_threshold(-1.0) == 0);
    assert_true(snn_bernoulli_threshold(1.0) == ((uint64_t)1 << 32));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_known_answers),
        cmocka_unit_test(test_streams_are_functions_of_coordinates),
        cmocka_unit_test(test_moments),
    };
    return cmocka_run_group_tests_name("rng", tests, NULL, NULL);
}
