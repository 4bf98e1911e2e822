/* L-BFGS (train/lbfgs.c): the Rosenbrock function in 2 and 10 dimensions, an ill-conditioned quadratic,
 * the strong-Wolfe conditions of every accepted step, a loss that is not finite beyond a wall, a point
 * already at the minimum, and a restart from a copy of the state (a checkpoint) that continues
 * exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/lbfgs.h"

typedef struct counter {
    int64_t n;
    long calls;
} counter;

static int rosenbrock(void *ctx, const double *x, double *f, double *g, snn_error *err) {
    (void)err;
    counter *c = ctx;
    c->calls++;
    double s = 0;
    for (int64_t i = 0; i < c->n; i++) g[i] = 0;
    for (int64_t i = 0; i + 1 < c->n; i++) {
        double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
        s += 100 * a * a + b * b;
        g[i] += -400 * a * x[i] - 2 * b;
        g[i + 1] += 200 * a;
    }
    *f = s;
    return SNN_OK;
}

/* f = sum_i 0.5 c_i (x_i - i)^2 with c_i from 1 to 1000 */
static int quadratic(void *ctx, const double *x, double *f, double *g, snn_error *err) {
    (void)err;
    counter *c = ctx;
    c->calls++;
    double s = 0;
    for (int64_t i = 0; i < c->n; i++) {
        double ci = pow(1000.0, (double)i / (double)(c->n - 1)), d = x[i] - (double)i;
        s += 0.5 * ci * d * d;
        g[i] = ci * d;
    }
    *f = s;
    return SNN_OK;
}

static int run_to_end(snn_lbfgs *lb, snn_lbfgs_fn fn, void *ctx, int max_it, double gtol) {
    snn_error err = {0};
    for (int it = 0; it < max_it; it++) {
        double f0 = lb->f;
        assert_int_equal(snn_lbfgs_iterate(lb, fn, ctx, gtol, 0.0, &err), SNN_OK);
        assert_true(lb->f <= f0); /* the loss never rises */
        if (lb->status != SNN_LBFGS_RUNNING) return it + 1;
    }
    return max_it;
}

static void rosen(int64_t n) {
    snn_error err = {0};
    snn_lbfgs lb;
    counter c = {n, 0};
    assert_int_equal(snn_lbfgs_init(&lb, n, 10, &err), SNN_OK);
    double *x0 = calloc((size_t)n, sizeof(double));
    for (int64_t i = 0; i < n; i++) x0[i] = i % 2 ? 1.0 : -1.2;
    assert_int_equal(snn_lbfgs_start(&lb, x0, rosenbrock, &c, &err), SNN_OK);
    int its = run_to_end(&lb, rosenbrock, &c, 500, 1e-9);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(lb.x[i] - 1));
    print_message("Rosenbrock n=%lld: %d iterations, %lld evaluations, f %.3g, max |x - 1| %.2e (%s)\n", (long long)n,
                  its, (long long)lb.evaluations, lb.f, worst, snn_lbfgs_status_text(lb.status));
    assert_int_equal(lb.status, SNN_LBFGS_GRADIENT);
    assert_true(worst < 1e-6);
    assert_true(its < (n == 2 ? 60 : 120));
    assert_int_equal(lb.evaluations, c.calls);
    free(x0);
    snn_lbfgs_free(&lb);
}

static void test_rosenbrock_2d(void **state) {
    (void)state;
    rosen(2);
}

static void test_rosenbrock_10d(void **state) {
    (void)state;
    rosen(10);
}

static void test_quadratic(void **state) {
    (void)state;
    snn_error err = {0};
    snn_lbfgs lb;
    const int64_t n = 30;
    counter c = {n, 0};
    assert_int_equal(snn_lbfgs_init(&lb, n, 10, &err), SNN_OK);
    double x0[30] = {0};
    assert_int_equal(snn_lbfgs_start(&lb, x0, quadratic, &c, &err), SNN_OK);
    int its = run_to_end(&lb, quadratic, &c, 300, 1e-8);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(lb.x[i] - (double)i));
    print_message("quadratic n=30, condition 1000: %d iterations, %lld evaluations, max error %.2e\n", its,
                  (long long)lb.evaluations, worst);
    assert_int_equal(lb.status, SNN_LBFGS_GRADIENT);
    assert_true(worst < 1e-7);
    /* scipy's L-BFGS-B with 10 pairs takes 283 iterations and 306 evaluations on this problem */
    assert_true(its < 320);
    snn_lbfgs_free(&lb);
}

/* Every accepted step satisfies the strong Wolfe conditions (when the search ended by them). */
static void test_wolfe_conditions(void **state) {
    (void)state;
    snn_error err = {0};
    snn_lbfgs lb;
    counter c = {2, 0};
    assert_int_equal(snn_lbfgs_init(&lb, 2, 5, &err), SNN_OK);
    double x0[2] = {-1.2, 1.0}, g[2], f;
    assert_int_equal(snn_lbfgs_start(&lb, x0, rosenbrock, &c, &err), SNN_OK);
    int checked = 0;
    for (int it = 0; it < 20; it++) {
        double xo[2] = {lb.x[0], lb.x[1]}, go[2] = {lb.g[0], lb.g[1]}, fo = lb.f;
        assert_int_equal(snn_lbfgs_iterate(&lb, rosenbrock, &c, 0, 0, &err), SNN_OK);
        double d[2] = {(lb.x[0] - xo[0]) / lb.last_step, (lb.x[1] - xo[1]) / lb.last_step};
        double dg0 = go[0] * d[0] + go[1] * d[1];
        rosenbrock(&c, lb.x, &f, g, &err);
        double dg = g[0] * d[0] + g[1] * d[1];
        assert_true(dg0 < 0);
        assert_true(lb.f <= fo + 1e-4 * lb.last_step * dg0); /* sufficient decrease */
        if (fabs(dg) <= 0.9 * fabs(dg0)) checked++;          /* curvature */
    }
    print_message("%d of 20 steps met the curvature condition too\n", checked);
    assert_true(checked >= 18);
    snn_lbfgs_free(&lb);
}

/* f = (x - 2)^2 - log(2.5 - x): not finite for x >= 2.5; the first step (first_step 10) lands there */
static int walled(void *ctx, const double *x, double *f, double *g, snn_error *err) {
    (void)err;
    ((counter *)ctx)->calls++;
    *f = x[0] < 2.5 ? (x[0] - 2) * (x[0] - 2) - log(2.5 - x[0]) : NAN;
    g[0] = x[0] < 2.5 ? 2 * (x[0] - 2) + 1 / (2.5 - x[0]) : NAN;
    return SNN_OK;
}

static void test_non_finite_loss(void **state) {
    (void)state;
    snn_error err = {0};
    snn_lbfgs lb;
    counter c = {1, 0};
    assert_int_equal(snn_lbfgs_init(&lb, 1, 5, &err), SNN_OK);
    lb.first_step = 10;
    double x0 = 0;
    assert_int_equal(snn_lbfgs_start(&lb, &x0, walled, &c, &err), SNN_OK);
    run_to_end(&lb, walled, &c, 50, 1e-10);
    /* minimum where 2 (x - 2) + 1 / (2.5 - x) = 0: x = (4.5 - sqrt(0.25 + 2)) / 2 ... */
    double xs = (4.5 - sqrt(0.25 + 2.0)) / 2.0;
    print_message("walled: x %.12f (minimum %.12f), %lld evaluations\n", lb.x[0], xs, (long long)lb.evaluations);
    assert_true(fabs(lb.x[0] - xs) < 1e-8);
    snn_lbfgs_free(&lb);
}

static void test_at_minimum(void **state) {
    (void)state;
    snn_error err = {0};
    snn_lbfgs lb;
    counter c = {2, 0};
    assert_int_equal(snn_lbfgs_init(&lb, 2, 5, &err), SNN_OK);
    double x0[2] = {1, 1};
    assert_int_equal(snn_lbfgs_start(&lb, x0, rosenbrock, &c, &err), SNN_OK);
    assert_int_equal(snn_lbfgs_iterate(&lb, rosenbrock, &c, 0, 0, &err), SNN_OK);
    /* zero gradient: no direction to search, the point stays */
    assert_true(lb.x[0] == 1 && lb.x[1] == 1);
    assert_int_not_equal(lb.status, SNN_LBFGS_RUNNING);
    snn_lbfgs_free(&lb);
}

/* A copy of the state (what a checkpoint holds) continues bit-identically. */
static void test_restart_is_exact(void **state) {
    (void)state;
    snn_error err = {0};
    const int64_t n = 10;
    counter c = {n, 0};
    snn_lbfgs a, b;
    assert_int_equal(snn_lbfgs_init(&a, n, 4, &err), SNN_OK);
    assert_int_equal(snn_lbfgs_init(&b, n, 4, &err), SNN_OK);
    double x0[10];
    for (int i = 0; i < 10; i++) x0[i] = i % 2 ? 1.0 : -1.2;
    assert_int_equal(snn_lbfgs_start(&a, x0, rosenbrock, &c, &err), SNN_OK);
    for (int it = 0; it < 7; it++) assert_int_equal(snn_lbfgs_iterate(&a, rosenbrock, &c, 0, 0, &err), SNN_OK);
    /* the checkpointed fields */
    memcpy(b.s, a.s, (size_t)(4 * n) * sizeof(double));
    memcpy(b.y, a.y, (size_t)(4 * n) * sizeof(double));
    memcpy(b.rho, a.rho, 4 * sizeof(double));
    memcpy(b.x, a.x, (size_t)n * sizeof(double));
    memcpy(b.g, a.g, (size_t)n * sizeof(double));
    b.f = a.f;
    b.pairs = a.pairs;
    b.newest = a.newest;
    b.iterations = a.iterations;
    b.evaluations = a.evaluations;
    b.status = a.status;
    for (int it = 0; it < 10; it++) {
        assert_int_equal(snn_lbfgs_iterate(&a, rosenbrock, &c, 0, 0, &err), SNN_OK);
        assert_int_equal(snn_lbfgs_iterate(&b, rosenbrock, &c, 0, 0, &err), SNN_OK);
        assert_memory_equal(a.x, b.x, (size_t)n * sizeof(double));
        assert_true(a.f == b.f);
    }
    snn_lbfgs_free(&a);
    snn_lbfgs_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rosenbrock_2d),   cmocka_unit_test(test_rosenbrock_10d),
        cmocka_unit_test(test_quadratic),       cmocka_unit_test(test_wolfe_conditions),
        cmocka_unit_test(test_non_finite_loss), cmocka_unit_test(test_at_minimum),
        cmocka_unit_test(test_restart_is_exact),
    };
    return cmocka_run_group_tests_name("lbfgs", tests, NULL, NULL);
}
