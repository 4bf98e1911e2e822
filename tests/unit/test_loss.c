/* The losses of src/train/loss.c against float64 PyTorch autograd (the .npz files of tests/fixtures/loss,
 * written by tools/make_loss_fixtures.py) and against properties that need no reference: identical trains cost
 * nothing, a reset filter behaves like a fresh one, the student's own rates as targets give zero. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "io/npz.h"
#include "testutil.h"
#include "train/loss.h"

#define FB 3
#define FT 50
#define FN 7
#define FBTN (FB * FT * FN)

static snn_npz *open_fixture(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/loss/%s", name);
    snn_error err;
    snn_error_clear(&err);
    snn_npz *z = snn_npz_open(tu_src(rel), &err);
    if (!z) fail_msg("%s", err.msg);
    return z;
}

/* Reads key converted to `want`; ndim/shape checked; returns malloc'd data. */
static void *read_arr(snn_npz *z, const char *key, snn_dtype want, int ndim, const int64_t *shape) {
    snn_error err;
    snn_error_clear(&err);
    snn_array a;
    if (snn_npz_read_as(z, key, want, ndim, shape, &a, &err) != 0) fail_msg("%s", err.msg);
    return a.data;
}

static double read_scalar(snn_npz *z, const char *key) {
    double *p = read_arr(z, key, SNN_F64, 0, NULL);
    double v = *p;
    free(p);
    return v;
}

static const int64_t SHAPE_BTN[3] = {FB, FT, FN};
static const int64_t SHAPE_N[1] = {FN};
static const int64_t SHAPE_BN[2] = {FB, FN};

static void assert_rel(double got, double want, double rel, const char *what) {
    double tol = rel * fabs(want);
    if (!(fabs(got - want) <= tol)) fail_msg("%s: got %.17g, want %.17g (rel %.3g)", what, got, want, rel);
}

/* Element-wise |got - want| <= tol_rel * max|want| (float gradients: errors scale with the largest). */
static void assert_close_f(const float *got, const double *want, int64_t n, double tol_rel, const char *what) {
    double mx = 0.0;
    for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs(want[i]));
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= tol_rel * mx))
            fail_msg("%s[%lld]: got %.9g, want %.9g (max %.3g)", what, (long long)i, (double)got[i], want[i], mx);
}

/* ---- van Rossum ---- */

static int vr_from_fixture(snn_npz *z, snn_vr *vr, int64_t B, int64_t N) {
    snn_error err;
    snn_error_clear(&err);
    int rc = snn_vr_init(vr, read_scalar(z, "dt"), read_scalar(z, "tau"), (int)read_scalar(z, "two_exp"),
                         read_scalar(z, "tau_rise"), read_scalar(z, "tau_decay"), B, N, &err);
    if (rc) fail_msg("%s", err.msg);
    return rc;
}

static void check_vr_fixture(const char *name) {
    snn_npz *z = open_fixture(name);
    snn_vr vr;
    vr_from_fixture(z, &vr, FB, FN);
    const double scale = 3.75;
    float *e = malloc(FBTN * sizeof *e);
    for (int c = 1; c <= 2; c++) {
        char ks[8], kt[8], kl[8], kg[8];
        snprintf(ks, sizeof ks, "s%d", c);
        snprintf(kt, sizeof kt, "t%d", c);
        snprintf(kl, sizeof kl, "loss%d", c);
        snprintf(kg, sizeof kg, "grad%d", c);
        uint8_t *s = read_arr(z, ks, SNN_U8, 3, SHAPE_BTN);
        uint8_t *t = read_arr(z, kt, SNN_U8, 3, SHAPE_BTN);
        double *g = read_arr(z, kg, SNN_F64, 3, SHAPE_BTN);
        double loss = snn_vr_forward(&vr, s, t, FB, FT, FN, e);
        assert_rel(loss, read_scalar(z, kl), 1e-12, kl);
        snn_vr_backward(&vr, e, FB, FT, FN, scale);
        for (int64_t i = 0; i < FBTN; i++) g[i] *= scale;
        assert_close_f(e, g, FBTN, 2e-6, kg);
        free(s);
        free(t);
        free(g);
    }
    free(e);
    snn_vr_free(&vr);
    snn_npz_free(z);
}

static void test_vr_exp_against_torch(void **state) {
    (void)state;
    check_vr_fixture("vr_exp.npz");
}

static void test_vr_2exp_against_torch(void **state) {
    (void)state;
    check_vr_fixture("vr_2exp.npz");
}

/* After snn_vr_reset, chunk 2 gives exactly what a fresh filter gives, and not the carried result. */
static void check_vr_reset(const char *name) {
    snn_npz *z = open_fixture(name);
    uint8_t *s1 = read_arr(z, "s1", SNN_U8, 3, SHAPE_BTN), *t1 = read_arr(z, "t1", SNN_U8, 3, SHAPE_BTN);
    uint8_t *s2 = read_arr(z, "s2", SNN_U8, 3, SHAPE_BTN), *t2 = read_arr(z, "t2", SNN_U8, 3, SHAPE_BTN);
    snn_vr used, fresh;
    vr_from_fixture(z, &used, FB, FN);
    vr_from_fixture(z, &fresh, FB, FN);
    float *e1 = malloc(FBTN * sizeof *e1), *e2 = malloc(FBTN * sizeof *e2);
    snn_vr_forward(&used, s1, t1, FB, FT, FN, e1);
    snn_vr_reset(&used);
    double l_used = snn_vr_forward(&used, s2, t2, FB, FT, FN, e1);
    double l_fresh = snn_vr_forward(&fresh, s2, t2, FB, FT, FN, e2);
    assert_true(l_used == l_fresh);
    assert_true(fabs(l_fresh - read_scalar(z, "loss2")) > 1e-6);  /* the carried state matters */
    snn_vr_backward(&used, e1, FB, FT, FN, 1.0);
    snn_vr_backward(&fresh, e2, FB, FT, FN, 1.0);
    assert_memory_equal(e1, e2, FBTN * sizeof *e1);
    for (int64_t i = 0; i < used.n_states; i++) {
        assert_true(used.ys_d[i] == fresh.ys_d[i]);
        assert_true(used.yt_d[i] == fresh.yt_d[i]);
    }
    free(e1);
    free(e2);
    free(s1);
    free(t1);
    free(s2);
    free(t2);
    snn_vr_free(&used);
    snn_vr_free(&fresh);
    snn_npz_free(z);
}

static void test_vr_reset(void **state) {
    (void)state;
    check_vr_reset("vr_exp.npz");
    check_vr_reset("vr_2exp.npz");
}

/* Identical trains: loss 0 and gradient 0, in every chunk, for both kernels. */
static void test_vr_identical_is_zero(void **state) {
    (void)state;
    snn_npz *z = open_fixture("vr_exp.npz");
    uint8_t *s1 = read_arr(z, "s1", SNN_U8, 3, SHAPE_BTN), *s2 = read_arr(z, "s2", SNN_U8, 3, SHAPE_BTN);
    float *e = malloc(FBTN * sizeof *e);
    for (int two = 0; two <= 1; two++) {
        snn_vr vr;
        snn_error err;
        snn_error_clear(&err);
        assert_int_equal(snn_vr_init(&vr, 0.5, 10.0, two, 1.0, 20.0, FB, FN, &err), 0);
        const uint8_t *chunks[2] = {s1, s2};
        for (int c = 0; c < 2; c++) {
            assert_true(snn_vr_forward(&vr, chunks[c], chunks[c], FB, FT, FN, e) == 0.0);
            snn_vr_backward(&vr, e, FB, FT, FN, 5.0);
            for (int64_t i = 0; i < FBTN; i++) assert_true(e[i] == 0.0f);
        }
        snn_vr_free(&vr);
    }
    free(e);
    free(s1);
    free(s2);
    snn_npz_free(z);
}

/* Many neurons (several blocks of the implementation) and the parallel path, against a plain double
 * implementation of the same recursion and its adjoint. */
static void test_vr_large_against_naive(void **state) {
    (void)state;
    const int64_t B = 3, T = 40, N = 1100, n = B * T * N;
    uint8_t *s = malloc((size_t)n), *t = malloc((size_t)n);
    uint64_t x = 88172645463325252ull;
    for (int64_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        s[i] = (x & 0xff) < 20;
        t[i] = ((x >> 8) & 0xff) < 25;
    }
    float *e = malloc((size_t)n * sizeof *e);
    double *ref = malloc((size_t)n * sizeof *ref), *g = malloc((size_t)n * sizeof *g);
    for (int two = 0; two <= 1; two++) {
        const double dt = 0.25, tau = 6.0, tr = 1.5, td = 9.0;
        snn_vr vr;
        snn_error err;
        snn_error_clear(&err);
        assert_int_equal(snn_vr_init(&vr, dt, tau, two, tr, td, B, N, &err), 0);
        const double kd = two ? exp(-dt / td) : exp(-dt / tau), kr = exp(-dt / tr);
        const double rr = tr / td, norm = two ? 1.0 / (pow(rr, rr / (1 - rr)) - pow(rr, 1 / (1 - rr))) : 1.0;
        double loss_ref = 0.0;
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < N; j++) {
                double a = 0, ar = 0, c = 0, cr = 0;
                for (int64_t k = 0; k < T; k++) {
                    int64_t i = (b * T + k) * N + j;
                    a = kd * a + s[i], ar = kr * ar + s[i], c = kd * c + t[i], cr = kr * cr + t[i];
                    ref[i] = two ? norm * ((a - ar) - (c - cr)) : a - c;
                    loss_ref += ref[i] * ref[i];
                }
                double gd = 0, gr = 0;
                for (int64_t k = T - 1; k >= 0; k--) {
                    int64_t i = (b * T + k) * N + j;
                    gd = kd * gd + ref[i], gr = kr * gr + ref[i];
                    g[i] = 2.0 * norm * (two ? gd - gr : gd) / (double)n;
                }
            }
        loss_ref /= (double)n;
        const double loss = snn_vr_forward(&vr, s, t, B, T, N, e);
        assert_rel(loss, loss_ref, 1e-12, "large loss");
        snn_vr_backward(&vr, e, B, T, N, 1.0);
        assert_close_f(e, g, n, 2e-6, "large grad");
        /* the same bits with one thread as with several */
        float *e1 = malloc((size_t)n * sizeof *e1);
        const int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        snn_vr_reset(&vr);
        assert_true(snn_vr_forward(&vr, s, t, B, T, N, e1) == loss);
        snn_vr_backward(&vr, e1, B, T, N, 1.0);
        omp_set_num_threads(threads);
        assert_memory_equal(e, e1, (size_t)n * sizeof *e);
        free(e1);
        snn_vr_free(&vr);
    }
    free(s);
    free(t);
    free(e);
    free(ref);
    free(g);
}

static void test_vr_init_errors(void **state) {
    (void)state;
    snn_vr vr;
    snn_error err;
    snn_error_clear(&err);
    assert_int_equal(snn_vr_init(&vr, 0.5, 10.0, 1, 20.0, 5.0, 2, 3, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "tau_rise"));
    snn_vr_free(&vr);
    snn_error_clear(&err);
    assert_int_equal(snn_vr_init(&vr, 0.5, 0.0, 0, 0.0, 0.0, 2, 3, &err), SNN_EINPUT);
    snn_vr_free(&vr);
    snn_error_clear(&err);
    assert_int_equal(snn_vr_init(&vr, 0.0, 10.0, 0, 0.0, 0.0, 2, 3, &err), SNN_EINPUT);
    snn_vr_free(&vr);
    /* a mismatched batch is refused, not read out of bounds */
    assert_int_equal(snn_vr_init(&vr, 0.5, 10.0, 0, 0.0, 0.0, 2, 3, &err), 0);
    uint8_t s[4 * 5 * 3] = {0};
    float e[4 * 5 * 3];
    assert_true(isnan(snn_vr_forward(&vr, s, s, 4, 5, 3, e)));
    snn_vr_free(&vr);
}

/* ---- firing rate and silent penalty ---- */

static void test_rate_against_torch(void **state) {
    (void)state;
    snn_npz *z = open_fixture("rate_silent.npz");
    uint8_t *s = read_arr(z, "s", SNN_U8, 3, SHAPE_BTN), *teacher = read_arr(z, "teacher", SNN_U8, 3, SHAPE_BTN);
    double *target = read_arr(z, "target", SNN_F64, 1, SHAPE_N);
    double *rates_want = read_arr(z, "rates", SNN_F64, 1, SHAPE_N);
    double *trates_want = read_arr(z, "teacher_rates", SNN_F64, 1, SHAPE_N);
    double *g = read_arr(z, "rate_grad", SNN_F64, 3, SHAPE_BTN);
    double *gt = read_arr(z, "rate_grad_teacher", SNN_F64, 3, SHAPE_BTN);
    const double dt = read_scalar(z, "dt"), scale = 0.3;
    double rates[FN], trates[FN];
    float ds[FBTN];
    double want[FBTN];

    double loss = snn_rate_loss_forward(s, FB, FT, FN, dt, target, rates);
    assert_rel(loss, read_scalar(z, "rate_loss"), 1e-12, "rate loss");
    for (int j = 0; j < FN; j++) assert_rel(rates[j], rates_want[j], 1e-14, "rates");
    /* the backward adds */
    for (int64_t i = 0; i < FBTN; i++) ds[i] = (float)(i % 5) * 0.25f, want[i] = (i % 5) * 0.25 + scale * g[i];
    snn_rate_loss_backward(rates, target, FB, FT, FN, dt, scale, ds);
    assert_close_f(ds, want, FBTN, 1e-6, "rate grad");

    snn_pooled_rates(teacher, FB, FT, FN, dt, trates);
    for (int j = 0; j < FN; j++) assert_rel(trates[j], trates_want[j], 1e-14, "teacher rates");
    loss = snn_rate_loss_forward(s, FB, FT, FN, dt, trates, rates);
    assert_rel(loss, read_scalar(z, "rate_loss_teacher"), 1e-12, "rate loss vs teacher");
    memset(ds, 0, sizeof ds);
    for (int64_t i = 0; i < FBTN; i++) want[i] = scale * gt[i];
    snn_rate_loss_backward(rates, trates, FB, FT, FN, dt, scale, ds);
    assert_close_f(ds, want, FBTN, 1e-6, "rate grad vs teacher");

    /* the teacher's own rates as the target: zero loss, zero gradient */
    loss = snn_rate_loss_forward(teacher, FB, FT, FN, dt, trates, rates);
    assert_true(loss == 0.0);
    memset(ds, 0, sizeof ds);
    snn_rate_loss_backward(rates, trates, FB, FT, FN, dt, scale, ds);
    for (int64_t i = 0; i < FBTN; i++) assert_true(ds[i] == 0.0f);

    free(s);
    free(teacher);
    free(target);
    free(rates_want);
    free(trates_want);
    free(g);
    free(gt);
    snn_npz_free(z);
}

static void test_silent_against_torch(void **state) {
    (void)state;
    snn_npz *z = open_fixture("rate_silent.npz");
    uint8_t *s = read_arr(z, "s", SNN_U8, 3, SHAPE_BTN);
    double *alpha = read_arr(z, "alpha", SNN_F64, 1, SHAPE_N);
    double *r_want = read_arr(z, "silent_r", SNN_F64, 2, SHAPE_BN);
    double *g = read_arr(z, "silent_grad", SNN_F64, 3, SHAPE_BTN);
    const double dt = read_scalar(z, "dt"), scale = 2.5;
    double r[FB * FN];
    float ds[FBTN];
    double want[FBTN];
    double loss = snn_silent_loss_forward(s, FB, FT, FN, dt, alpha, r);
    assert_rel(loss, read_scalar(z, "silent_loss"), 1e-12, "silent loss");
    for (int i = 0; i < FB * FN; i++) assert_rel(r[i], r_want[i], 1e-14, "silent rates");
    for (int64_t i = 0; i < FBTN; i++) ds[i] = -1.0f, want[i] = -1.0 + scale * g[i];
    snn_silent_loss_backward(r, alpha, FB, FT, FN, dt, scale, ds);
    assert_close_f(ds, want, FBTN, 1e-6, "silent grad");
    free(s);
    free(alpha);
    free(r_want);
    free(g);
    snn_npz_free(z);
}

/* ---- CV ---- */

static void test_cv_against_numpy(void **state) {
    (void)state;
    snn_npz *z = open_fixture("cv.npz");
    uint8_t *s = read_arr(z, "s", SNN_U8, 3, SHAPE_BTN), *teacher = read_arr(z, "teacher", SNN_U8, 3, SHAPE_BTN);
    double *target = read_arr(z, "target", SNN_F64, 1, SHAPE_N);
    double *cs_want = read_arr(z, "cv_s", SNN_F64, 2, SHAPE_BN), *ct_want = read_arr(z, "cv_t", SNN_F64, 2, SHAPE_BN);
    double cs[FB * FN], ct[FB * FN];
    snn_cv_values(s, FB, FT, FN, cs);
    snn_cv_values(teacher, FB, FT, FN, ct);
    int n_nan = 0;
    for (int i = 0; i < FB * FN; i++) {
        assert_int_equal(isnan(cs[i]) != 0, isnan(cs_want[i]) != 0);
        assert_int_equal(isnan(ct[i]) != 0, isnan(ct_want[i]) != 0);
        n_nan += (isnan(cs[i]) ? 1 : 0) + (isnan(ct[i]) ? 1 : 0);
        if (!isnan(cs[i])) assert_rel(cs[i], cs_want[i], 1e-13, "cv student");
        if (!isnan(ct[i])) assert_rel(ct[i], ct_want[i], 1e-13, "cv teacher");
    }
    assert_true(n_nan >= 3);  /* the fixture has undefined cases on both sides */
    assert_rel(snn_cv_loss(s, teacher, target, FB, FT, FN), read_scalar(z, "loss_target"), 1e-12, "cv loss target");
    assert_rel(snn_cv_loss(s, teacher, NULL, FB, FT, FN), read_scalar(z, "loss_teacher"), 1e-12, "cv loss teacher");
    assert_rel(snn_cv_loss(s, NULL, target, FB, FT, FN), read_scalar(z, "loss_target"), 1e-12, "cv loss no teacher");
    /* no valid pair: 0 */
    uint8_t silent[FBTN] = {0};
    assert_true(snn_cv_loss(silent, teacher, NULL, FB, FT, FN) == 0.0);
    assert_true(snn_cv_loss(s, silent, NULL, FB, FT, FN) == 0.0);
    assert_true(snn_cv_loss(s, NULL, NULL, FB, FT, FN) == 0.0);
    /* a regular train has CV 0; ISIs do not run across trials */
    memset(silent, 0, sizeof silent);
    for (int t = 2; t < FT; t += 6) silent[(1 * FT + t) * FN + 4] = 1;
    silent[(0 * FT + FT - 1) * FN + 4] = 1;
    silent[(2 * FT + 0) * FN + 4] = 1;
    snn_cv_values(silent, FB, FT, FN, cs);
    assert_true(cs[1 * FN + 4] == 0.0);
    assert_true(isnan(cs[0 * FN + 4]) && isnan(cs[2 * FN + 4]));
    free(s);
    free(teacher);
    free(target);
    free(cs_want);
    free(ct_want);
    snn_npz_free(z);
}

/* ---- membrane variance ---- */

static void test_memvar_against_torch(void **state) {
    (void)state;
    snn_npz *z = open_fixture("memvar.npz");
    double *v = read_arr(z, "v", SNN_F64, 3, SHAPE_BTN), *g = read_arr(z, "grad", SNN_F64, 3, SHAPE_BTN);
    double *theta = read_arr(z, "theta", SNN_F64, 1, SHAPE_N), *target = read_arr(z, "target", SNN_F64, 1, SHAPE_N);
    double vsum[FB * FN] = {0}, vsumsq[FB * FN] = {0}, coef[2 * FB * FN];
    for (int b = 0; b < FB; b++)
        for (int t = 0; t < FT; t++)
            for (int j = 0; j < FN; j++) {
                double x = v[(b * FT + t) * FN + j];
                vsum[b * FN + j] += x;
                vsumsq[b * FN + j] += x * x;
            }
    const double scale = 7.5;
    double loss = snn_memvar_loss_forward(vsum, vsumsq, FB, FT, FN, theta, target, scale, coef);
    assert_rel(loss, read_scalar(z, "loss"), 1e-11, "memvar loss");
    assert_true(snn_memvar_loss_forward(vsum, vsumsq, FB, FT, FN, theta, target, scale, NULL) == loss);
    double mx = 0.0;
    for (int64_t i = 0; i < FBTN; i++) mx = fmax(mx, fabs(scale * g[i]));
    for (int b = 0; b < FB; b++)
        for (int t = 0; t < FT; t++)
            for (int j = 0; j < FN; j++) {
                int64_t i = (b * FT + t) * FN + j;
                double got = coef[b * FN + j] * v[i] + coef[FB * FN + b * FN + j];
                if (!(fabs(got - scale * g[i]) <= 1e-9 * mx))
                    fail_msg("memvar grad [%d][%d][%d]: got %.17g want %.17g", b, t, j, got, scale * g[i]);
            }
    /* constant voltages: sd = 0, the loss is target^2 and the gradient is 0 (not NaN) */
    for (int i = 0; i < FB * FN; i++) vsum[i] = -60.0 * FT, vsumsq[i] = 3600.0 * FT;
    loss = snn_memvar_loss_forward(vsum, vsumsq, FB, FT, FN, theta, target, scale, coef);
    double want = 0.0;
    for (int j = 0; j < FN; j++) want += target[j] * target[j];
    assert_rel(loss, want / FN, 1e-12, "memvar constant");
    for (int i = 0; i < 2 * FB * FN; i++) assert_true(coef[i] == 0.0);
    free(v);
    free(g);
    free(theta);
    free(target);
    snn_npz_free(z);
}

/* ---- weight ratio ---- */

static void test_weight_ratio_against_torch(void **state) {
    (void)state;
    snn_npz *z = open_fixture("weight_ratio.npz");
    const int64_t s33[2] = {3, 3}, s23[2] = {2, 3};
    double *sf = read_arr(z, "sf", SNN_F64, 2, s33), *sf_ff = read_arr(z, "sf_ff", SNN_F64, 2, s23);
    double *g_sf = read_arr(z, "g_sf", SNN_F64, 2, s33), *g_ff = read_arr(z, "g_sf_ff", SNN_F64, 2, s23);
    const int exc = (int)read_scalar(z, "exc_type");
    const double target = read_scalar(z, "target"), scale = 0.5;
    double gs[9], gf[6];
    for (int i = 0; i < 9; i++) gs[i] = 1.0;
    for (int i = 0; i < 6; i++) gf[i] = -1.0;
    double loss = snn_weight_ratio_loss(sf, sf_ff, 3, 2, exc, target, scale, gs, gf);
    assert_rel(loss, read_scalar(z, "loss"), 1e-12, "weight ratio loss");
    for (int i = 0; i < 9; i++) {
        if (g_sf[i] == 0.0) assert_true(gs[i] == 1.0);  /* rows other than exc_type untouched */
        else assert_rel(gs[i] - 1.0, scale * g_sf[i], 1e-12, "g_sf");
    }
    for (int i = 0; i < 6; i++) assert_rel(gf[i] + 1.0, scale * g_ff[i], 1e-12, "g_sf_ff");
    assert_true(snn_weight_ratio_loss(sf, sf_ff, 3, 2, exc, target, scale, NULL, NULL) == loss);
    assert_true(isnan(snn_weight_ratio_loss(sf, sf_ff, 3, 2, 3, target, scale, NULL, NULL)));
    free(sf);
    free(sf_ff);
    free(g_sf);
    free(g_ff);
    snn_npz_free(z);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vr_exp_against_torch),
        cmocka_unit_test(test_vr_2exp_against_torch),
        cmocka_unit_test(test_vr_reset),
        cmocka_unit_test(test_vr_identical_is_zero),
        cmocka_unit_test(test_vr_large_against_naive),
        cmocka_unit_test(test_vr_init_errors),
        cmocka_unit_test(test_rate_against_torch),
        cmocka_unit_test(test_silent_against_torch),
        cmocka_unit_test(test_cv_against_numpy),
        cmocka_unit_test(test_memvar_against_torch),
        cmocka_unit_test(test_weight_ratio_against_torch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
