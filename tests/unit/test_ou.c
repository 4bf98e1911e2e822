#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inputs/ou.h"
#include "testutil.h"

/* The first recorded row is the uniform mixture (all activations 1); every row sums to 1. */
static void test_first_row_uniform_and_rows_sum_to_one(void **state) {
    (void)state;
    const int P = 20, T = 500;
    snn_ou ou;
    snn_error err = {0};
    assert_int_equal(snn_ou_init(&ou, P, 3, 1.0, 700e3, 0.2, 5.0, 43, &err), SNN_OK);
    float *w = malloc((size_t)(T * P) * sizeof *w);
    for (int tr = 0; tr < 3; tr++) {
        assert_int_equal(snn_ou_advance(&ou, tr, 0, T, w, &err), SNN_OK);
        for (int p = 0; p < P; p++) assert_true(w[p] == (float)(1.0 / P));
        for (int t = 0; t < T; t++) {
            double sum = 0;
            for (int p = 0; p < P; p++) {
                assert_true(w[t * P + p] > 0 && w[t * P + p] < 1);
                sum += w[t * P + p];
            }
            assert_true(fabs(sum - 1.0) < 1e-5);
        }
        /* the mixture moved away from uniform by the end */
        assert_true(w[(T - 1) * P] != w[(T - 1) * P + 1]);
        assert_int_equal(snn_ou_position(&ou, tr), T);
    }
    snn_ou_free(&ou);
    free(w);
}

/* Softmax of the recorded state: log-ratios of the weights are activation differences / temperature. */
static void test_weights_are_softmax_of_state(void **state) {
    (void)state;
    const int P = 5;
    snn_ou ou;
    snn_error err = {0};
    assert_int_equal(snn_ou_init(&ou, P, 1, 1.0, 50.0, 0.5, 1.0, 7, &err), SNN_OK);
    float w[5];
    for (int t = 0; t < 300; t++) {
        double a[5];
        memcpy(a, snn_ou_state(&ou, 0), sizeof a);
        assert_int_equal(snn_ou_advance(&ou, 0, t, 1, w, &err), SNN_OK);
        for (int p = 1; p < P; p++)
            assert_true(fabs(log((double)w[p] / w[0]) - (a[p] - a[0]) / 0.5) < 1e-5);
    }
    snn_ou_free(&ou);
}

/* One trial's path does not depend on how it is cut into calls; different trials differ; the same
 * seed reproduces; a restored checkpoint continues exactly. */
static void test_chunking_trials_and_restore(void **state) {
    (void)state;
    const int P = 7, T = 1000;
    snn_ou a, b, c;
    snn_error err = {0};
    assert_int_equal(snn_ou_init(&a, P, 2, 1.0, 200.0, 0.2, 3.0, 99, &err), SNN_OK);
    assert_int_equal(snn_ou_init(&b, P, 2, 1.0, 200.0, 0.2, 3.0, 99, &err), SNN_OK);
    float *wa = malloc((size_t)(T * P) * sizeof *wa), *wb = malloc((size_t)(T * P) * sizeof *wb);
    float *w1 = malloc((size_t)(T * P) * sizeof *w1);
    assert_int_equal(snn_ou_advance(&a, 1, 0, T, wa, &err), SNN_OK);
    for (int k = 0; k < 10; k++) assert_int_equal(snn_ou_advance(&b, 1, k * 100, 100, wb + k * 100 * P, &err), SNN_OK);
    assert_memory_equal(wa, wb, (size_t)(T * P) * sizeof *wa);
    assert_memory_equal(snn_ou_state(&a, 1), snn_ou_state(&b, 1), (size_t)P * sizeof(double));
    /* trial 0 is another trajectory, not a continuation of trial 1 */
    assert_int_equal(snn_ou_advance(&a, 0, 0, T, w1, &err), SNN_OK);
    assert_memory_not_equal(wa + P, w1 + P, (size_t)(T - 1) * P * sizeof *wa);
    /* out-of-order calls are refused */
    assert_int_equal(snn_ou_advance(&a, 0, 0, 1, w1, &err), SNN_EINPUT);
    snn_error_clear(&err);
    assert_int_equal(snn_ou_advance(&a, 5, 0, 1, w1, &err), SNN_EINPUT);
    snn_error_clear(&err);
    /* checkpoint at step 400 of trial 1, restored into a fresh process */
    assert_int_equal(snn_ou_init(&c, P, 2, 1.0, 200.0, 0.2, 3.0, 99, &err), SNN_OK);
    snn_ou_free(&b);
    assert_int_equal(snn_ou_init(&b, P, 2, 1.0, 200.0, 0.2, 3.0, 99, &err), SNN_OK);
    assert_int_equal(snn_ou_advance(&b, 1, 0, 400, wb, &err), SNN_OK);
    assert_int_equal(snn_ou_restore(&c, 1, snn_ou_position(&b, 1), snn_ou_state(&b, 1), &err), SNN_OK);
    assert_int_equal(snn_ou_advance(&c, 1, 400, T - 400, wb + 400 * P, &err), SNN_OK);
    assert_memory_equal(wa, wb, (size_t)(T * P) * sizeof *wa);
    snn_ou_free(&a);
    snn_ou_free(&b);
    snn_ou_free(&c);
    free(wa);
    free(wb);
    free(w1);
}

/* Trials computed concurrently, in any order, give the serial result. */
static void test_threads(void **state) {
    (void)state;
    const int P = 20, T = tu_sanitized() ? 200 : 2000, n_trials = 8;
    snn_ou s, p;
    snn_error err = {0};
    assert_int_equal(snn_ou_init(&s, P, n_trials, 1.0, 700e3, 0.2, 5.0, 43, &err), SNN_OK);
    assert_int_equal(snn_ou_init(&p, P, n_trials, 1.0, 700e3, 0.2, 5.0, 43, &err), SNN_OK);
    size_t per = (size_t)T * (size_t)P;
    float *ws = malloc(per * n_trials * sizeof *ws), *wp = malloc(per * n_trials * sizeof *wp);
    for (int tr = 0; tr < n_trials; tr++) assert_int_equal(snn_ou_advance(&s, tr, 0, T, ws + per * tr, &err), SNN_OK);
    int fails = 0;
    omp_set_num_threads(2);
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : fails)
    for (int tr = n_trials - 1; tr >= 0; tr--) {
        snn_error e = {0};
        for (int t0 = 0; t0 < T; t0 += 37) {
            int n = T - t0 < 37 ? T - t0 : 37;
            fails += snn_ou_advance(&p, tr, t0, n, wp + per * tr + (size_t)t0 * P, &e) != SNN_OK;
        }
    }
    assert_int_equal(fails, 0);
    assert_memory_equal(ws, wp, per * n_trials * sizeof *ws);
    snn_ou_free(&s);
    snn_ou_free(&p);
    free(ws);
    free(wp);
}

/* Stationary statistics over a long run with a short tau: mean 0, variance sigma^2 / (1 - dt/(2 tau)),
 * lag-1 autocorrelation 1 - dt/tau. Tolerances: 5 standard errors of an AR(1) series of this length. */
static void test_stationary_statistics(void **state) {
    (void)state;
    const int P = 8, n_trials = 4;
    const int T = tu_sanitized() ? 5000 : 40000, burn = 200;
    const double dt = 1.0, tau = 5.0, sigma = 2.0, rho = 1.0 - dt / tau;
    snn_ou ou;
    snn_error err = {0};
    assert_int_equal(snn_ou_init(&ou, P, n_trials, dt, tau, 0.2, sigma, 2024, &err), SNN_OK);
    float w[8];
    double s1 = 0, s2 = 0, lag = 0, n = 0;
    for (int tr = 0; tr < n_trials; tr++) {
        double prev[8];
        for (int t = 0; t < T; t++) {
            assert_int_equal(snn_ou_advance(&ou, tr, t, 1, w, &err), SNN_OK);
            const double *a = snn_ou_state(&ou, tr);
            if (t >= burn) {
                for (int p = 0; p < P; p++) {
                    s1 += a[p];
                    s2 += a[p] * a[p];
                    lag += a[p] * prev[p];
                }
                n += P;
            }
            memcpy(prev, a, sizeof prev);
        }
    }
    const double var_expected = sigma * sigma / (1.0 - dt / (2.0 * tau));
    const double mean = s1 / n, var = s2 / n - mean * mean, r1 = (lag / n - mean * mean) / var;
    const double se_mean = sqrt(var_expected * (1 + rho) / (1 - rho) / n);
    const double se_var_rel = sqrt(2.0 * (1 + rho * rho) / (1 - rho * rho) / n);
    const double se_r1 = sqrt((1 - rho * rho) / n);
    assert_true(fabs(mean) < 5 * se_mean);
    assert_true(fabs(var / var_expected - 1.0) < 5 * se_var_rel);
    assert_true(fabs(r1 - rho) < 5 * se_r1);
    /* the tolerance is tight enough to tell sigma from the reference docstring's sqrt(dt) scaling */
    assert_true(5 * se_var_rel < 0.2);
    snn_ou_free(&ou);
}

static void test_bad_parameters(void **state) {
    (void)state;
    snn_ou ou;
    snn_error err = {0};
    assert_int_equal(snn_ou_init(&ou, 0, 1, 1.0, 1.0, 1.0, 1.0, 1, &err), SNN_EINPUT);
    snn_error_clear(&err);
    assert_int_equal(snn_ou_init(&ou, 2, 1, 1.0, 0.0, 1.0, 1.0, 1, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "tau"));
    snn_error_clear(&err);
    assert_int_equal(snn_ou_init(&ou, 2, 1, 1.0, 1.0, -1.0, 1.0, 1, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "temperature"));
    snn_error_clear(&err);
    assert_int_equal(snn_ou_init(&ou, 2, 1, 1.0, 1.0, 1.0, NAN, 1, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "sigma"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_row_uniform_and_rows_sum_to_one),
        cmocka_unit_test(test_weights_are_softmax_of_state),
        cmocka_unit_test(test_chunking_trials_and_restore),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_stationary_statistics),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests_name("ou", tests, NULL, NULL);
}
