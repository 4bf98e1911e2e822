/* Adam and global-norm clipping against torch.optim.Adam and torch.nn.utils.clip_grad_norm_ in
 * float64 (fixtures written by tools/make_adam_fixtures.py), plus known answers worked by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npz.h"
#include "train/adam.h"
#include "testutil.h"

static int close_rel(double a, double b, double rel) {
    if (a == b) return 1;
    double scale = fmax(fabs(a), fabs(b));
    return fabs(a - b) <= rel * scale;
}

/* Parameters: relative to max(|p|, lr). Where clipping engages, the norm is summed in a different
 * order than torch's reduction, so the clip factor and with it each update (of size ~lr) may differ
 * in the last bit; a parameter that passes near zero would turn that into a meaningless relative
 * error, hence the floor at the update's scale. */
static int close_param(double a, double b, double lr, double rel) {
    if (a == b) return 1;
    double scale = fmax(fmax(fabs(a), fabs(b)), lr);
    return fabs(a - b) <= rel * scale;
}

static double *read_f64(snn_npz *z, const char *key, int64_t *count) {
    snn_error err = {0};
    snn_array a;
    if (snn_npz_read(z, key, &a, &err)) fail_msg("%s", err.msg);
    if (a.dtype != SNN_F64) fail_msg("%s: expected float64", key);
    if (count) *count = (int64_t)snn_array_count(&a);
    return a.data;
}

typedef struct {
    int64_t steps, exact_params, total_params;
} run_stats;

static run_stats check_fixture(const char *name) {
    snn_error err = {0};
    snn_npz *z = snn_npz_open(tu_src(name), &err);
    if (!z) fail_msg("%s", err.msg);
    int64_t n, ng, nsteps;
    double *lr = read_f64(z, "lr", NULL), *clip = read_f64(z, "clip", NULL);
    double *p0 = read_f64(z, "params0", &n);
    double *grads = read_f64(z, "grads", &ng);
    double *norms = read_f64(z, "norms", &nsteps);
    double *params = read_f64(z, "params", NULL);
    double *m_ref = read_f64(z, "exp_avg", NULL), *v_ref = read_f64(z, "exp_avg_sq", NULL);
    double *clipped = snn_npz_has(z, "clipped") ? read_f64(z, "clipped", NULL) : NULL;
    assert_int_equal(ng, nsteps * n);

    snn_adam a;
    assert_int_equal(snn_adam_init(&a, n, *lr, &err), SNN_OK);
    double *p = malloc((size_t)n * sizeof *p), *g = malloc((size_t)n * sizeof *g);
    memcpy(p, p0, (size_t)n * sizeof *p);
    run_stats st = {nsteps, 0, 0};
    int clipped_steps = 0;
    for (int64_t k = 0; k < nsteps; k++) {
        memcpy(g, grads + k * n, (size_t)n * sizeof *g);
        if (*clip >= 0) {
            double norm = snn_grad_norm(g, n);
            if (!close_rel(norm, norms[k], 1e-13))
                fail_msg("%s step %lld: norm %.17g, torch %.17g", name, (long long)k, norm, norms[k]);
            double f = snn_grad_clip(g, n, *clip);
            if (f < 1.0) clipped_steps++;
            /* the factor is the clip rule itself, not merely something <= 1 */
            assert_true(close_rel(f, fmin(1.0, *clip / (norms[k] + 1e-6)), 1e-13));
            if (clipped)
                for (int64_t i = 0; i < n; i++)
                    if (!close_rel(g[i], clipped[k * n + i], 1e-13))
                        fail_msg("%s step %lld: clipped g[%lld] = %.17g, torch %.17g", name, (long long)k,
                                 (long long)i, g[i], clipped[k * n + i]);
        }
        snn_adam_step(&a, p, g);
        assert_int_equal(a.step, k + 1);
        for (int64_t i = 0; i < n; i++) {
            double want = params[k * n + i];
            if (!close_param(p[i], want, *lr, 1e-12))
                fail_msg("%s step %lld: p[%lld] = %.17g, torch %.17g", name, (long long)k, (long long)i, p[i],
                         want);
            st.exact_params += p[i] == want;
            st.total_params++;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        if (!close_rel(a.m[i], m_ref[i], 1e-12))
            fail_msg("%s: m[%lld] = %.17g, torch %.17g", name, (long long)i, a.m[i], m_ref[i]);
        if (!close_rel(a.v[i], v_ref[i], 1e-12))
            fail_msg("%s: v[%lld] = %.17g, torch %.17g", name, (long long)i, a.v[i], v_ref[i]);
    }
    /* the fixtures are built so that clipping engages on some steps and not on others */
    if (*clip >= 0) {
        assert_true(clipped_steps > 0);
        assert_true(clipped_steps < nsteps);
    }
    snn_adam_free(&a);
    free(p);
    free(g);
    free(lr);
    free(clip);
    free(p0);
    free(grads);
    free(norms);
    free(params);
    free(m_ref);
    free(v_ref);
    free(clipped);
    snn_npz_free(z);
    printf("%s: %lld of %lld parameter values bit-identical to torch\n", name, (long long)st.exact_params,
           (long long)st.total_params);
    return st;
}

static void test_against_torch_with_clipping(void **state) {
    (void)state;
    check_fixture("tests/fixtures/adam/adam_clip.npz");
}

static void test_against_torch_without_clipping(void **state) {
    (void)state;
    run_stats st = check_fixture("tests/fixtures/adam/adam_noclip.npz");
    /* With one tensor and no clipping there is no reduction whose order could differ from torch's,
     * so the update formula alone decides: it must reproduce torch bit for bit. */
    assert_int_equal(st.exact_params, st.total_params);
}

static void test_against_torch_long_vector(void **state) {
    (void)state;
    check_fixture("tests/fixtures/adam/adam_long.npz");
}

/* First step by hand: m = 0.05, v = 2.5e-4, step_size = lr / 0.1, denom = sqrt(v)/sqrt(1e-3) + eps
 * = 0.5 + 1e-8, so p = 1 - 1.0 * 0.05 / (0.5 + 1e-8) (all with lr = 0.1). A second step with the
 * same gradient moves by the same amount (m/sqrt(v) stays |g|/|g| once bias-corrected). */
static void test_first_steps_by_hand(void **state) {
    (void)state;
    snn_error err = {0};
    snn_adam a;
    assert_int_equal(snn_adam_init(&a, 2, 0.1, &err), SNN_OK);
    double p[2] = {1.0, -2.0}, g[2] = {0.5, -4.0};
    snn_adam_step(&a, p, g);
    assert_true(fabs(p[0] - (1.0 - 0.05 / (0.5 + 1e-8))) < 1e-15);
    assert_true(fabs(p[1] - (-2.0 + 0.4 / (4.0 + 1e-8))) < 1e-15);
    assert_true(fabs(a.m[0] - 0.05) < 1e-16);
    assert_true(fabs(a.v[1] - 0.016) < 1e-16);
    snn_adam_step(&a, p, g);
    assert_true(fabs(p[0] - (1.0 - 2 * 0.1)) < 1e-7);
    assert_true(fabs(p[1] - (-2.0 + 2 * 0.1)) < 1e-7);
    assert_int_equal(a.step, 2);
    snn_adam_free(&a);
    snn_adam_free(&a); /* a second free is harmless */
}

static void test_zero_gradient_leaves_params(void **state) {
    (void)state;
    snn_error err = {0};
    snn_adam a;
    assert_int_equal(snn_adam_init(&a, 3, 0.5, &err), SNN_OK);
    double p[3] = {1.0, 0.0, -3.0}, g[3] = {0.0, 0.0, 0.0};
    snn_adam_step(&a, p, g);
    assert_true(p[0] == 1.0 && p[1] == 0.0 && p[2] == -3.0);
    snn_adam_free(&a);
}

static void test_clip_rule(void **state) {
    (void)state;
    double g[2] = {3.0, 4.0};
    assert_true(snn_grad_norm(g, 2) == 5.0);
    /* below the clip: factor exactly 1 and the gradient untouched */
    double f = snn_grad_clip(g, 2, 10.0);
    assert_true(f == 1.0);
    assert_true(g[0] == 3.0 && g[1] == 4.0);
    /* above: factor clip / (norm + 1e-6) */
    f = snn_grad_clip(g, 2, 1.0);
    assert_true(f == 1.0 / (5.0 + 1e-6));
    assert_true(g[0] == 3.0 * f && g[1] == 4.0 * f);
    /* the 1e-6 keeps a norm just at the clip from being scaled up */
    double h[1] = {2.0};
    f = snn_grad_clip(h, 1, 2.0);
    assert_true(f < 1.0 && f > 1.0 - 1e-6);
    /* a NaN gradient gives a NaN factor, as torch.clamp keeps NaN */
    double q[2] = {NAN, 1.0};
    f = snn_grad_clip(q, 2, 1.0);
    assert_true(isnan(f));
    assert_true(isnan(q[1]));
    /* empty vector */
    assert_true(snn_grad_norm(NULL, 0) == 0.0);
}

/* The blocked summation is accurate (compared with a long double sum of exact squares) and depends
 * only on the values, so any permutation-free recomputation gives the same bits. */
static void test_norm_accuracy_and_determinism(void **state) {
    (void)state;
    const int64_t n = 100003;
    double *g = malloc((size_t)n * sizeof *g);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    long double ref = 0.0L;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        g[i] = ((double)(s >> 11) / 9007199254740992.0 - 0.5) * (i % 7 == 0 ? 1e3 : 1.0);
        ref += (long double)g[i] * (long double)g[i];
    }
    double a = snn_grad_norm(g, n), b = snn_grad_norm(g, n);
    assert_true(a == b);
    assert_true(close_rel(a, (double)sqrtl(ref), 1e-15));
    free(g);
}

static void test_init_errors(void **state) {
    (void)state;
    snn_error err = {0};
    snn_adam a;
    assert_int_equal(snn_adam_init(&a, -1, 0.1, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "-1"));
    snn_adam_free(&a);
    snn_error_clear(&err);
    assert_int_equal(snn_adam_init(&a, 4, NAN, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "learning rate"));
    snn_adam_free(&a);
    /* zero parameters is allowed (a run with nothing trainable) */
    snn_error_clear(&err);
    assert_int_equal(snn_adam_init(&a, 0, 0.1, &err), SNN_OK);
    snn_adam_step(&a, NULL, NULL);
    snn_adam_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_torch_with_clipping),
        cmocka_unit_test(test_against_torch_without_clipping),
        cmocka_unit_test(test_against_torch_long_vector),
        cmocka_unit_test(test_first_steps_by_hand),
        cmocka_unit_test(test_zero_gradient_leaves_params),
        cmocka_unit_test(test_clip_rule),
        cmocka_unit_test(test_norm_accuracy_and_determinism),
        cmocka_unit_test(test_init_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
