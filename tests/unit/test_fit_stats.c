/* Standard errors from curvature (train/fit_stats.c): the Jacobi eigen-decomposition reconstructs its
 * matrix and finds known eigenvalues; standard errors of a diagonal and of a correlated curvature match
 * the inverse; an unconstrained direction gives infinite standard errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "train/fit_stats.h"

static void test_eigen_known(void **state) {
    (void)state;
    /* A = Q diag(1, 2, 5) Q^T with Q a rotation about two axes */
    const double c1 = cos(0.3), s1 = sin(0.3), c2 = cos(1.1), s2 = sin(1.1);
    double R1[9] = {c1, -s1, 0, s1, c1, 0, 0, 0, 1}, R2[9] = {1, 0, 0, 0, c2, -s2, 0, s2, c2}, Q[9] = {0}, A[9] = {0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) Q[i * 3 + j] += R1[i * 3 + k] * R2[k * 3 + j];
    const double d[3] = {5, 1, 2};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) A[i * 3 + j] += Q[i * 3 + k] * d[k] * Q[j * 3 + k];
    double ev[3], V[9];
    snn_sym_eigen(3, A, ev, V);
    assert_true(fabs(ev[0] - 1) < 1e-12 && fabs(ev[1] - 2) < 1e-12 && fabs(ev[2] - 5) < 1e-12);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double r = 0, o = 0;
            for (int k = 0; k < 3; k++) {
                r += V[i * 3 + k] * ev[k] * V[j * 3 + k];
                o += V[k * 3 + i] * V[k * 3 + j];
            }
            assert_true(fabs(r - A[i * 3 + j]) < 1e-12); /* reconstruction */
            assert_true(fabs(o - (i == j)) < 1e-12);     /* orthonormal */
        }
}

static void test_standard_errors(void **state) {
    (void)state;
    double H[4] = {4, 0, 0, 100}, se[2];
    assert_int_equal(snn_standard_errors(2, H, se, NULL, NULL), 0);
    assert_true(fabs(se[0] - 0.5) < 1e-14 && fabs(se[1] - 0.1) < 1e-14);
    /* correlated: H = [[2, 1], [1, 2]], H^-1 = [[2, -1], [-1, 2]] / 3 */
    double G[4] = {2, 1, 1, 2}, ev[2], V[4];
    assert_int_equal(snn_standard_errors(2, G, se, ev, V), 0);
    assert_true(fabs(se[0] - sqrt(2.0 / 3.0)) < 1e-14 && fabs(se[1] - sqrt(2.0 / 3.0)) < 1e-14);
    /* the sloppiest direction is (1, -1) / sqrt 2 with eigenvalue 1 */
    assert_true(fabs(ev[0] - 1) < 1e-14);
    assert_true(fabs(fabs(V[0]) - sqrt(0.5)) < 1e-12 && fabs(V[0] + V[2]) < 1e-12);
    /* an unconstrained direction */
    double Z[4] = {1, 1, 1, 1};
    assert_int_equal(snn_standard_errors(2, Z, se, NULL, NULL), 1);
    assert_true(isinf(se[0]) && isinf(se[1]));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_eigen_known), cmocka_unit_test(test_standard_errors)};
    return cmocka_run_group_tests_name("fit_stats", tests, NULL, NULL);
}
