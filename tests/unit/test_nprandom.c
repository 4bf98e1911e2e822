#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nprandom.h"
#include "testutil.h"

/* Appendix A test vectors (seed 43), each sequence from a fresh seed. */
static void test_appendix_a_vectors(void **state) {
    (void)state;
    snn_nprandom r;
    snn_np_seed(&r, 43);
    assert_int_equal(r.key[0], 43u);
    assert_int_equal(r.key[1], 625218552u);
    assert_int_equal(r.key[2], 1314101466u);
    assert_int_equal(r.key[3], 902136170u);
    assert_int_equal(r.pos, 624);

    const double rnd[3] = {0.11505457, 0.60906654, 0.13339096};
    for (int i = 0; i < 3; i++) assert_float_equal(snn_np_random(&r), rnd[i], 5e-9);

    snn_np_seed(&r, 43);
    int64_t x[10];
    for (int i = 0; i < 10; i++) x[i] = i;
    snn_np_shuffle_i64(&r, x, 10);
    const int64_t shuffled[10] = {3, 9, 6, 8, 2, 5, 1, 7, 0, 4};
    for (int i = 0; i < 10; i++) assert_int_equal(x[i], shuffled[i]);

    snn_np_seed(&r, 43);
    const double ln[3] = {1.29356235, 0.40313595, 0.68488584};
    for (int i = 0; i < 3; i++) assert_float_equal(snn_np_lognormal(&r, 0.0, 1.0), ln[i], 5e-9);

    snn_np_seed(&r, 43);
    const int64_t ri[5] = {4, 0, 1, 5, 2};
    for (int i = 0; i < 5; i++) assert_int_equal(snn_np_randint(&r, 0, 7), ri[i]);
}

/* Copying the struct saves the whole stream position, including a cached normal. */
static void test_save_restore(void **state) {
    (void)state;
    snn_nprandom r, saved;
    snn_np_seed(&r, 7);
    for (int i = 0; i < 1000; i++) (void)snn_np_random(&r);
    (void)snn_np_standard_normal(&r); /* leaves the pair's second value cached */
    assert_int_equal(r.has_gauss, 1);
    saved = r;
    double a[5];
    for (int i = 0; i < 5; i++) a[i] = snn_np_standard_normal(&r);
    r = saved;
    for (int i = 0; i < 5; i++) assert_true(snn_np_standard_normal(&r) == a[i]);

    snn_error err;
    snn_error_clear(&err);
    assert_int_equal(snn_np_state_check(&saved, "ckpt", &err), SNN_OK);
    saved.pos = 625;
    assert_int_equal(snn_np_state_check(&saved, "ckpt.npz", &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "ckpt.npz"));
    assert_non_null(strstr(err.msg, "625"));
    saved.pos = 3;
    saved.has_gauss = 2;
    snn_error_clear(&err);
    assert_int_equal(snn_np_state_check(&saved, "ckpt", &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "has_gauss"));
}

/* The masked rejection: interval(5) uses mask 7 and rejects 6 and 7, so the draws are a
 * subsequence of (u32 & 7). */
static void test_interval_is_masked_rejection(void **state) {
    (void)state;
    snn_nprandom a, b;
    snn_np_seed(&a, 99);
    snn_np_seed(&b, 99);
    for (int i = 0; i < 200; i++) {
        uint64_t v = snn_np_interval(&a, 5);
        uint32_t w;
        while ((w = snn_np_next_u32(&b) & 7u) > 5u) {
        }
        assert_int_equal(v, w);
    }
    /* max == 0 and randint over one value draw nothing */
    assert_int_equal(snn_np_interval(&a, 0), 0);
    assert_int_equal(snn_np_randint(&a, 9, 10), 9);
    assert_int_equal(snn_np_next_u32(&a), snn_np_next_u32(&b));
}

/* ---- cross-check against numpy itself ---- */

typedef struct {
    char name[32];
    int n;
    char tok[32][48];
} vline;

static int read_vline(FILE *f, vline *v) {
    if (fscanf(f, "%31s %d", v->name, &v->n) != 2) return 0;
    assert_true(v->n <= 32);
    for (int i = 0; i < v->n; i++) assert_int_equal(fscanf(f, "%47s", v->tok[i]), 1);
    return 1;
}

static void expect_line(FILE *f, vline *v, const char *name, int n) {
    assert_true(read_vline(f, v));
    assert_string_equal(v->name, name);
    assert_int_equal(v->n, n);
}

static int64_t tok_i(const vline *v, int i) { return strtoll(v->tok[i], NULL, 10); }
static uint64_t tok_u(const vline *v, int i) { return strtoull(v->tok[i], NULL, 10); }
static double tok_d(const vline *v, int i) { return strtod(v->tok[i], NULL); }

/* Skipping k normals leaves the generator exactly where k draws leave it (the cached second value
 * of a pair included), across block boundaries of the state and for odd and even k. */
static void test_skip_normals(void **state) {
    (void)state;
    static const uint64_t ks[] = {0, 1, 2, 3, 4, 5, 7, 64, 155, 156, 157, 311, 312, 313, 1000, 4097, 100001};
    for (uint32_t seed = 0; seed < 6; seed++)
        for (size_t q = 0; q < sizeof ks / sizeof *ks; q++)
            for (int pre = 0; pre < 3; pre++) {
                snn_nprandom a, b;
                snn_np_seed(&a, seed);
                /* start anywhere in the state and with or without a cached normal */
                for (int i = 0; i < pre; i++) (void)snn_np_standard_normal(&a);
                for (uint32_t i = 0; i < seed * 37; i++) (void)snn_np_next_u32(&a);
                b = a;
                for (uint64_t i = 0; i < ks[q]; i++) (void)snn_np_standard_normal(&a);
                snn_np_skip_standard_normals(&b, ks[q]);
                assert_int_equal(a.pos, b.pos);
                assert_int_equal(a.has_gauss, b.has_gauss);
                assert_true(a.gauss == b.gauss);
                assert_memory_equal(a.key, b.key, sizeof a.key);
                for (int i = 0; i < 5; i++) assert_true(snn_np_standard_normal(&a) == snn_np_standard_normal(&b));
            }
}

static void test_matches_numpy(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/vectors.txt", dir);
    static const uint32_t seeds[] = {0, 1, 43, 12345, 4294967295u};
    const int n_seeds = (int)(sizeof seeds / sizeof seeds[0]);
    assert_int_equal(tu_python("nprandom_vectors.py", "%s 0 1 43 12345 4294967295", path), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    vline v;
    for (int s = 0; s < n_seeds; s++) {
        snn_nprandom r;
        snn_np_seed(&r, seeds[s]);
        expect_line(f, &v, "key", 5);
        const int kidx[5] = {0, 1, 2, 3, 623};
        for (int i = 0; i < 5; i++) assert_int_equal(r.key[kidx[i]], tok_u(&v, i));

        expect_line(f, &v, "random", 5);
        for (int i = 0; i < 5; i++) assert_true(snn_np_random(&r) == tok_d(&v, i));

        expect_line(f, &v, "shuffle", 20);
        int64_t x[20];
        for (int i = 0; i < 20; i++) x[i] = i;
        snn_np_shuffle_i64(&r, x, 20);
        for (int i = 0; i < 20; i++) assert_int_equal(x[i], tok_i(&v, i));

        expect_line(f, &v, "shuffle_slice", 7);
        int64_t y[7];
        for (int i = 0; i < 7; i++) y[i] = i;
        snn_np_shuffle_i64(&r, y + 2, 4);
        for (int i = 0; i < 7; i++) assert_int_equal(y[i], tok_i(&v, i));

        expect_line(f, &v, "randint7", 5);
        for (int i = 0; i < 5; i++) assert_int_equal(snn_np_randint(&r, 0, 7), tok_i(&v, i));
        expect_line(f, &v, "randint_big", 3);
        for (int i = 0; i < 3; i++) assert_int_equal(snn_np_randint(&r, -5, 1000003), tok_i(&v, i));
        expect_line(f, &v, "randint_one", 2);
        for (int i = 0; i < 2; i++) assert_int_equal(snn_np_randint(&r, 3, 4), tok_i(&v, i));
        expect_line(f, &v, "u32", 3);
        for (int i = 0; i < 3; i++) assert_int_equal(snn_np_next_u32(&r), tok_u(&v, i));

        expect_line(f, &v, "normal", 5);
        for (int i = 0; i < 5; i++) assert_true(snn_np_standard_normal(&r) == tok_d(&v, i));
        expect_line(f, &v, "lognormal", 3);
        for (int i = 0; i < 3; i++) assert_true(snn_np_lognormal(&r, 0.3, 0.7) == tok_d(&v, i));
        expect_line(f, &v, "lognormal_arr", 4);
        const double mu[4] = {-1.0, 0.5, 2.0, 0.0}, sg[4] = {0.25, 1.5, 0.0, 0.1};
        for (int i = 0; i < 4; i++) assert_true(snn_np_lognormal(&r, mu[i], sg[i]) == tok_d(&v, i));
        expect_line(f, &v, "after", 1);
        assert_true(snn_np_random(&r) == tok_d(&v, 0));

        expect_line(f, &v, "state", 4);
        assert_int_equal(r.pos, tok_i(&v, 0));
        assert_int_equal(r.has_gauss, tok_i(&v, 1));
        assert_int_equal(r.key[0], tok_u(&v, 2));
        assert_int_equal(r.key[311], tok_u(&v, 3));
        expect_line(f, &v, "gauss", 1);
        assert_true(r.gauss == tok_d(&v, 0));
    }
    assert_false(read_vline(f, &v));
    fclose(f);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appendix_a_vectors),
        cmocka_unit_test(test_save_restore),
        cmocka_unit_test(test_interval_is_masked_rejection),
        cmocka_unit_test(test_matches_numpy),
        cmocka_unit_test(test_skip_normals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
