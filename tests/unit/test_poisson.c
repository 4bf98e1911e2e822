#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "inputs/poisson.h"
#include "testutil.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The word of input k at (trial, step), straight from the single-block generator. */
static uint32_t word_of(snn_rng r, uint32_t trial, uint64_t step, int64_t k) {
    uint32_t w[4];
    snn_rng_block(r, trial, step, (uint32_t)(k / 4), w);
    return w[k % 4];
}

/* Every path of the batched fill gives snn_rng_block's words, for any start and any length. */
static void test_fill_matches_block(void **state) {
    (void)state;
    const snn_rng r = snn_rng_make(20240607, SNN_RNG_POISSON);
    const size_t lengths[] = {0, 1, 2, 3, 4, 5, 7, 31, 63, 64, 65, 127, 128, 129, 1500, 2049};
    const uint32_t firsts[] = {0, 1, 13, 0xFFFFFF00u};
    const uint64_t steps[] = {0, 99999, ((uint64_t)7 << 32) + 5};
    uint32_t got[2100 + 8], want[2100 + 8];
    int paths_run = 0;
    for (int path = SNN_RNG_PATH_PORTABLE; path <= SNN_RNG_PATH_AVX512; path++) {
        if (!snn_rng_fill_path_supported(path)) continue;
        paths_run++;
        for (size_t a = 0; a < sizeof lengths / sizeof *lengths; a++)
            for (size_t b = 0; b < sizeof firsts / sizeof *firsts; b++)
                for (size_t c = 0; c < sizeof steps / sizeof *steps; c++) {
                    size_t n = lengths[a];
                    memset(got, 0xAB, sizeof got);
                    memset(want, 0xAB, sizeof want);
                    for (size_t i = 0; 4 * i < n; i++) {
                        uint32_t w[4];
                        snn_rng_block(r, 77, steps[c], firsts[b] + (uint32_t)i, w);
                        for (size_t j = 0; j < 4 && 4 * i + j < n; j++) want[4 * i + j] = w[j];
                    }
                    snn_rng_fill_u32_path(path, r, 77, steps[c], firsts[b], n, got);
                    /* including the guard words after n: nothing written past the end */
                    assert_memory_equal(got, want, (n + 8) * sizeof *got);
                }
    }
    assert_true(paths_run >= 1);
    /* the dispatching entry point too */
    snn_rng_fill_u32(r, 3, 12345, 0, 1500, got);
    for (int64_t k = 0; k < 1500; k++) assert_int_equal(got[k], word_of(r, 3, 12345, k));
    printf("    fill paths checked: %d (best: %d)\n", paths_run, snn_rng_fill_best_path());
}

/* Fixed rates: spike (t, k) == (word < snn_bernoulli_threshold(rate * (dt / 1000))), including the
 * edges p = 0 (never), p >= 1 (always) and rates whose threshold is an exact integer. */
static void test_fixed_rates_match_definition(void **state) {
    (void)state;
    const int64_t N = 1031; /* not a multiple of 4 nor of the tile */
    const double dt = 0.5;
    double *rates = malloc((size_t)N * sizeof *rates);
    for (int64_t k = 0; k < N; k++) rates[k] = (double)((k * 7919) % 4001) * 0.25; /* 0 .. 1000 Hz */
    rates[5] = 0.0;
    rates[6] = 2000.0;  /* p = 1: always */
    rates[7] = 5000.0;  /* p > 1: always */
    rates[8] = 1000.0;  /* p = 0.5: threshold exactly 2^31 */
    snn_poisson ps;
    snn_error err = {0};
    assert_int_equal(snn_poisson_init_rates(&ps, N, rates, dt, 5, SNN_RNG_POISSON, &err), SNN_OK);
    const int64_t T = 40, step0 = 1000;
    uint8_t *sp = malloc((size_t)(T * N));
    assert_int_equal(snn_poisson_draw_rates(&ps, 9, step0, T, sp, &err), SNN_OK);
    snn_rng r = snn_rng_make(5, SNN_RNG_POISSON);
    int64_t total = 0;
    for (int64_t s = 0; s < T; s++)
        for (int64_t k = 0; k < N; k++) {
            uint32_t w = word_of(r, 9, (uint64_t)(step0 + s), k);
            int want = (uint64_t)w < snn_bernoulli_threshold(rates[k] * (dt / 1000.0));
            assert_int_equal(sp[s * N + k], want);
            total += sp[s * N + k];
        }
    for (int64_t s = 0; s < T; s++) {
        assert_int_equal(sp[s * N + 5], 0);
        assert_int_equal(sp[s * N + 6], 1);
        assert_int_equal(sp[s * N + 7], 1);
    }
    assert_true(total > 0);
    /* another purpose is another stream */
    snn_poisson aux;
    assert_int_equal(snn_poisson_init_rates(&aux, N, rates, dt, 5, SNN_RNG_POISSON_AUX, &err), SNN_OK);
    uint8_t *sp2 = malloc((size_t)(T * N));
    assert_int_equal(snn_poisson_draw_rates(&aux, 9, step0, T, sp2, &err), SNN_OK);
    assert_memory_not_equal(sp, sp2, (size_t)(T * N));
    snn_poisson_free(&aux);
    snn_poisson_free(&ps);
    free(sp);
    free(sp2);
    free(rates);
}

/* Homogeneous empirical rates within a few standard errors of the target. */
static void test_fixed_rates_statistics(void **state) {
    (void)state;
    const int64_t N = 1500;
    const int64_t T = tu_sanitized() ? 1000 : 10000;
    const double dt = 1.0;
    double rates[1500];
    for (int64_t k = 0; k < N; k++) rates[k] = k < 750 ? 6.0 : 36.0;
    snn_poisson ps;
    snn_error err = {0};
    assert_int_equal(snn_poisson_init_rates(&ps, N, rates, dt, 43, SNN_RNG_POISSON, &err), SNN_OK);
    uint8_t *sp = malloc((size_t)(T * N));
    assert_int_equal(snn_poisson_draw_rates(&ps, 0, 0, T, sp, &err), SNN_OK);
    for (int g = 0; g < 2; g++) {
        double p = rates[g * 750] * dt / 1000.0;
        double n = 750.0 * (double)T, mean = n * p, sd = sqrt(n * p * (1 - p));
        int64_t count = 0;
        for (int64_t s = 0; s < T; s++)
            for (int64_t k = g * 750; k < (g + 1) * 750; k++) count += sp[s * N + k];
        assert_true(fabs((double)count - mean) < 4.5 * sd);
    }
    /* no lag-1 correlation between consecutive steps of one input (independent counters) */
    double both = 0, n11 = 0;
    for (int64_t s = 1; s < T; s++)
        for (int64_t k = 750; k < N; k++) {
            both += 1;
            n11 += sp[s * N + k] & sp[(s - 1) * N + k];
        }
    double p = 0.036, sd = sqrt(both * p * p * (1 - p * p));
    assert_true(fabs(n11 - both * p * p) < 4.5 * sd);
    snn_poisson_free(&ps);
    free(sp);
}

/* Smooth, non-trivial mixing weights that sum to 1 (as the OU softmax gives). */
static void make_weights(int64_t T, int P, int64_t step0, float *w) {
    for (int64_t s = 0; s < T; s++) {
        double e[64], sum = 0;
        for (int p = 0; p < P; p++) {
            e[p] = exp(3.0 * sin(0.01 * (double)(step0 + s) * (p + 1) + p));
            sum += e[p];
        }
        for (int p = 0; p < P; p++) w[s * P + p] = (float)(e[p] / sum);
    }
}

/* Patterns in the shape of the odour ones: a per-type down rate, some inputs up in each pattern. */
static void make_patterns(int64_t N, int P, double *pat) {
    for (int p = 0; p < P; p++)
        for (int64_t k = 0; k < N; k++) {
            int up = ((k * 31 + p * 17) % 10) == 0;
            pat[p * N + k] = up ? 36.0 : (k % 3 == 0 ? 2.6666666666666665 : 1.0);
        }
}

/* The mixture equals the straightforward definition spike for spike, and its rates are right. */
static void test_mixture_matches_definition_and_rates(void **state) {
    (void)state;
    const int64_t N = 1500;
    const int P = 5;
    const int64_t T = tu_sanitized() ? 400 : 4000;
    const double dt = 1.0;
    double *pat = malloc((size_t)(P * N) * sizeof *pat);
    make_patterns(N, P, pat);
    float *w = malloc((size_t)(T * P) * sizeof *w);
    make_weights(T, P, 0, w);
    snn_poisson ps;
    snn_error err = {0};
    assert_int_equal(snn_poisson_init_mixture(&ps, N, P, pat, dt, 11, SNN_RNG_POISSON, &err), SNN_OK);
    /* about 10 % of (pattern, input) pairs deviate from the input's minimum */
    int64_t entries = snn_poisson_mixture_entries(&ps);
    assert_true(entries > P * N / 20 && entries < P * N / 5);
    uint8_t *sp = malloc((size_t)(T * N));
    assert_int_equal(snn_poisson_draw_mixture(&ps, 4, 0, T, w, sp, &err), SNN_OK);

    snn_rng r = snn_rng_make(11, SNN_RNG_POISSON);
    double mean = 0, var = 0, count = 0;
    for (int64_t s = 0; s < T; s++)
        for (int64_t k = 0; k < N; k++) {
            double base = pat[k];
            for (int p = 1; p < P; p++) base = fmin(base, pat[p * N + k]);
            double rate = base, plain = 0;
            for (int p = 0; p < P; p++) {
                rate += (double)w[s * P + p] * (pat[p * N + k] - base);
                plain += (double)w[s * P + p] * pat[p * N + k];
            }
            assert_true(fabs(rate - plain) < 1e-5 * (1 + plain));
            double prob = rate * (dt / 1000.0);
            if (s < 200) {
                uint32_t word = word_of(r, 4, (uint64_t)s, k);
                assert_int_equal(sp[s * N + k], (uint64_t)word < snn_bernoulli_threshold(prob));
            }
            mean += prob;
            var += prob * (1 - prob);
            count += sp[s * N + k];
        }
    assert_true(fabs(count - mean) < 4.5 * sqrt(var));
    snn_poisson_free(&ps);
    free(sp);
    free(w);
    free(pat);
}

/* Equal patterns: the mixture is the fixed-rate generator, whatever the weights. */
static void test_mixture_of_equal_patterns_is_fixed(void **state) {
    (void)state;
    const int64_t N = 700, T = 50;
    const int P = 3;
    double rates[700], pat[3 * 700];
    for (int64_t k = 0; k < N; k++) rates[k] = 10.0 + (double)(k % 50);
    for (int p = 0; p < P; p++) memcpy(pat + p * N, rates, sizeof rates);
    float w[50 * 3];
    make_weights(T, P, 0, w);
    snn_poisson a, b;
    snn_error err = {0};
    assert_int_equal(snn_poisson_init_rates(&a, N, rates, 1.0, 8, SNN_RNG_POISSON, &err), SNN_OK);
    assert_int_equal(snn_poisson_init_mixture(&b, N, P, pat, 1.0, 8, SNN_RNG_POISSON, &err), SNN_OK);
    assert_int_equal(snn_poisson_mixture_entries(&b), 0);
    uint8_t sa[50 * 700], sb[50 * 700];
    assert_int_equal(snn_poisson_draw_rates(&a, 2, 17, T, sa, &err), SNN_OK);
    assert_int_equal(snn_poisson_draw_mixture(&b, 2, 17, T, w, sb, &err), SNN_OK);
    assert_memory_equal(sa, sb, sizeof sa);
    snn_poisson_free(&a);
    snn_poisson_free(&b);
}

/* Same (seed, trial, step, input) -> same draw, whatever the chunking and the number of threads. */
static void test_chunking_and_threads(void **state) {
    (void)state;
    const int64_t N = 1500, T = tu_sanitized() ? 60 : 300;
    const int P = 4, n_trials = 12;
    double *pat = malloc((size_t)(P * N) * sizeof *pat);
    make_patterns(N, P, pat);
    float *w = malloc((size_t)(T * P) * sizeof *w);
    make_weights(T, P, 0, w);
    snn_poisson ps;
    snn_error err = {0};
    assert_int_equal(snn_poisson_init_mixture(&ps, N, P, pat, 1.0, 99, SNN_RNG_POISSON, &err), SNN_OK);
    size_t per = (size_t)(T * N);
    uint8_t *serial = malloc(per * (size_t)n_trials), *chunked = malloc(per * (size_t)n_trials);
    omp_set_num_threads(1);
    for (int tr = 0; tr < n_trials; tr++)
        assert_int_equal(snn_poisson_draw_mixture(&ps, (uint32_t)tr, 0, T, w, serial + per * (size_t)tr,
                                                  &err),
                         SNN_OK);
    omp_set_num_threads(2);
    int fails = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : fails)
    for (int tr = n_trials - 1; tr >= 0; tr--) {
        snn_error e2 = {0};
        for (int64_t s0 = 0; s0 < T; s0 += 7) {
            int64_t n = T - s0 < 7 ? T - s0 : 7;
            fails += snn_poisson_draw_mixture(&ps, (uint32_t)tr, s0, n, w + s0 * P,
                                              chunked + per * (size_t)tr + (size_t)(s0 * N), &e2) != SNN_OK;
        }
    }
    assert_int_equal(fails, 0);
    assert_memory_equal(serial, chunked, per * (size_t)n_trials);
    /* different trials are different realisations */
    assert_memory_not_equal(serial, serial + per, per);
    snn_poisson_free(&ps);
    free(serial);
    free(chunked);
    free(w);
    free(pat);
}

static void test_errors(void **state) {
    (void)state;
    snn_poisson ps;
    snn_error err = {0};
    double bad[3] = {1.0, -2.0, 3.0};
    assert_int_equal(snn_poisson_init_rates(&ps, 3, bad, 1.0, 1, SNN_RNG_POISSON, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "rate 1"));
    snn_error_clear(&err);
    bad[1] = NAN;
    assert_int_equal(snn_poisson_init_mixture(&ps, 3, 1, bad, 1.0, 1, SNN_RNG_POISSON, &err), SNN_EINPUT);
    snn_error_clear(&err);
    double good[3] = {1, 2, 3};
    assert_int_equal(snn_poisson_init_rates(&ps, 3, good, 0.0, 1, SNN_RNG_POISSON, &err), SNN_EINPUT);
    snn_error_clear(&err);
    assert_int_equal(snn_poisson_init_rates(&ps, 3, good, 1.0, 1, SNN_RNG_POISSON, &err), SNN_OK);
    uint8_t sp[3];
    float w[1] = {1};
    assert_int_equal(snn_poisson_draw_mixture(&ps, 0, 0, 1, w, sp, &err), SNN_EINPUT);
    snn_poisson_free(&ps);
}

/* Throughput on the stage-3 shape (1500 inputs, 20 patterns). Prints draws per second; asserts only
 * a bound 10x looser than the target (750 M draws well under 5 s), outside the sanitizer build. */
static void test_throughput(void **state) {
    (void)state;
    const int64_t N = 1500, T = tu_sanitized() ? 200 : 20000;
    const int P = 20;
    snn_rng r = snn_rng_make(1, SNN_RNG_POISSON);
    uint32_t words[1500];
    uint32_t acc = 0;
    for (int path = SNN_RNG_PATH_PORTABLE; path <= SNN_RNG_PATH_AVX512; path++) {
        if (!snn_rng_fill_path_supported(path)) continue;
        double t0 = now_s();
        for (int64_t s = 0; s < T; s++) {
            snn_rng_fill_u32_path(path, r, 0, (uint64_t)s, 0, (size_t)N, words);
            acc ^= words[s % N];
        }
        double el = now_s() - t0;
        printf("    fill path %d: %.0f M words/s\n", path, (double)(T * N) / el / 1e6);
    }
    double *pat = malloc((size_t)(P * N) * sizeof *pat);
    for (int p = 0; p < P; p++)
        for (int64_t k = 0; k < N; k++) pat[p * N + k] = ((k * 7 + p * 13) % 10 == 0) ? 36.0 : 2.6666666666666665;
    float *w = malloc((size_t)(T * P) * sizeof *w);
    make_weights(T, P, 0, w);
    uint8_t *sp = malloc((size_t)(T * N));
    snn_poisson ps;
    snn_error err = {0};
    assert_int_equal(snn_poisson_init_mixture(&ps, N, P, pat, 1.0, 3, SNN_RNG_POISSON, &err), SNN_OK);
    double t0 = now_s();
    assert_int_equal(snn_poisson_draw_mixture(&ps, 0, 0, T, w, sp, &err), SNN_OK);
    double el_mix = now_s() - t0;
    snn_poisson fixed;
    assert_int_equal(snn_poisson_init_rates(&fixed, N, pat, 1.0, 3, SNN_RNG_POISSON, &err), SNN_OK);
    t0 = now_s();
    assert_int_equal(snn_poisson_draw_rates(&fixed, 0, 0, T, sp, &err), SNN_OK);
    double el_fixed = now_s() - t0;
    double draws = (double)(T * N);
    printf("    mixture (20 patterns): %.0f M draws/s, 750 M draws in %.2f s (one core)\n",
           draws / el_mix / 1e6, 750e6 * el_mix / draws);
    printf("    fixed rates:           %.0f M draws/s, 750 M draws in %.2f s (one core)\n",
           draws / el_fixed / 1e6, 750e6 * el_fixed / draws);
    int64_t spikes = 0;
    for (int64_t i = 0; i < T * N; i++) spikes += sp[i];
    assert_true(spikes > 0 && acc != 1);
    if (!tu_sanitized()) assert_true(750e6 * el_mix / draws < 50.0);
    snn_poisson_free(&ps);
    snn_poisson_free(&fixed);
    free(pat);
    free(w);
    free(sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_matches_block),
        cmocka_unit_test(test_fixed_rates_match_definition),
        cmocka_unit_test(test_fixed_rates_statistics),
        cmocka_unit_test(test_mixture_matches_definition_and_rates),
        cmocka_unit_test(test_mixture_of_equal_patterns_is_fixed),
        cmocka_unit_test(test_chunking_and_threads),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_throughput),
    };
    return cmocka_run_group_tests_name("poisson", tests, NULL, NULL);
}
