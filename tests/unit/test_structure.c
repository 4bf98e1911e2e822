#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "io/npz.h"
#include "model/structure.h"
#include "testutil.h"

/* The pattern of tests/py/npz_structure.py (keep in sync). */
enum { N = 6, N_IN = 4 };

static float pat_w(int i, int j) {
    if (i == j || (7 * i + 3 * j) % 5 == 0) return 0.0f;
    return (float)(0.1 * (1 + (i + 2 * j) % 4));
}
static int pat_conn(int i, int j) { return pat_w(i, j) != 0 || (i == 0 && j == 5); }
static float pat_wff(int k, int j) { return (k + j) % 3 == 0 ? 0.0f : (float)(0.05 * (1 + (k * j) % 3)); }
static const int32_t k_asm[N] = {0, 0, 1, 1, -1, -1};
static const double k_sf[4] = {1.5, 0.5, 2.0, 0.25};
static const double k_sf_ff[6] = {0.125, 0.25, 0.375, 0.5, 0.625, 0.75};

/* The pattern as a structure (conn: with the zero-weight synapse [0][5]). */
static void make_pattern(snn_structure *s, int with_conn, int with_asm) {
    float w[N * N], w_ff[N_IN * N];
    uint8_t conn[N * N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            w[i * N + j] = pat_w(i, j);
            conn[i * N + j] = (uint8_t)pat_conn(i, j);
        }
    for (int k = 0; k < N_IN; k++)
        for (int j = 0; j < N; j++) w_ff[k * N + j] = pat_wff(k, j);
    snn_error err = {0};
    assert_int_equal(snn_structure_from_dense(s, N, N_IN, w, with_conn ? conn : NULL, w_ff, NULL, &err), SNN_OK);
    for (int i = 0; i < N; i++) {
        s->cell_types[i] = i % 2;
        s->assembly_ids[i] = with_asm ? k_asm[i] : -1;
    }
    for (int k = 0; k < N_IN; k++) s->ff_cell_types[k] = k % 3;
}

/* derived_conn: the file had no connectivity, so conn[0][5] (a zero-weight synapse) is absent. */
static void assert_pattern(const snn_structure *s, int derived_conn, int with_asm) {
    assert_int_equal(s->n, N);
    assert_int_equal(s->n_in, N_IN);
    float w[N * N] = {0}, w_ff[N_IN * N] = {0};
    uint8_t conn[N * N] = {0}, conn_ff[N_IN * N] = {0};
    snn_sparse_to_dense(&s->rec, conn, w);
    snn_sparse_to_dense(&s->ff, conn_ff, w_ff);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            assert_true(w[i * N + j] == pat_w(i, j));
            assert_int_equal(conn[i * N + j], derived_conn ? pat_w(i, j) != 0 : pat_conn(i, j));
        }
        assert_int_equal(s->cell_types[i], i % 2);
        assert_int_equal(s->assembly_ids[i], with_asm ? k_asm[i] : -1);
    }
    for (int k = 0; k < N_IN; k++) {
        for (int j = 0; j < N; j++) {
            assert_true(w_ff[k * N + j] == pat_wff(k, j));
            assert_int_equal(conn_ff[k * N + j], pat_wff(k, j) != 0);
        }
        assert_int_equal(s->ff_cell_types[k], k % 3);
    }
}

static void test_alloc(void **state) {
    (void)state;
    snn_structure s;
    snn_error err = {0};
    assert_int_equal(snn_structure_alloc(&s, 3, 2, 0, 0, &err), SNN_OK);
    for (int i = 0; i < 3; i++) assert_int_equal(s.assembly_ids[i], -1);
    for (int i = 0; i <= 3; i++) assert_int_equal(s.rec.row[i], 0);
    assert_int_equal(s.rec.nnz + s.ff.nnz, 0);
    assert_int_equal(s.has_scaling_factors, 0);
    snn_structure_free(&s);
    assert_null(s.rec.row);
    assert_int_equal(snn_structure_alloc(&s, -1, 2, 0, 0, &err), SNN_EINPUT);
    assert_int_equal(snn_structure_alloc(&s, INT64_C(1) << 40, 2, 0, 0, &err), SNN_EINPUT);
    /* a 2^31-neuron structure is refused before anything is allocated (column indices are int32) */
    assert_int_equal(snn_structure_alloc(&s, INT64_C(1) << 31, 0, 0, 0, &err), SNN_EINPUT);
}

static void test_save_load_roundtrip(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/network_structure.npz", dir);
    snn_structure s;
    snn_error err = {0};
    make_pattern(&s, 1, 1);
    s.has_scaling_factors = 1;
    s.n_types = 2;
    s.n_ff_types = 3;
    s.sf = malloc(sizeof k_sf);
    s.sf_ff = malloc(sizeof k_sf_ff);
    memcpy(s.sf, k_sf, sizeof k_sf);
    memcpy(s.sf_ff, k_sf_ff, sizeof k_sf_ff);
    assert_int_equal(snn_structure_save(path, &s, &err), SNN_OK);
    snn_structure_free(&s);

    /* numpy sees exactly the reference's keys and dtypes */
    assert_int_equal(tu_python("npz_structure.py", "check %s", path), 0);
    /* stored, like np.savez: the weights' bytes appear verbatim in the file */
    char *buf;
    size_t len;
    assert_int_equal(snn_read_file(path, &buf, &len, &err), SNN_OK);
    float row1[N];
    for (int j = 0; j < N; j++) row1[j] = pat_w(1, j);
    int found = 0;
    for (size_t off = 0; off + sizeof row1 <= len && !found; off++) found = memcmp(buf + off, row1, sizeof row1) == 0;
    assert_true(found);
    free(buf);

    assert_int_equal(snn_structure_load(path, 0, 0, &s, &err), SNN_OK);
    assert_pattern(&s, 0, 1);
    assert_int_equal(s.has_scaling_factors, 1);
    assert_int_equal(s.n_types, 2);
    assert_int_equal(s.n_ff_types, 3);
    assert_memory_equal(s.sf, k_sf, sizeof k_sf);
    assert_memory_equal(s.sf_ff, k_sf_ff, sizeof k_sf_ff);
    snn_structure_free(&s);
    /* explicit type counts are used as given (sf shapes then follow them) */
    assert_int_equal(snn_structure_load(path, 2, 3, &s, &err), SNN_OK);
    assert_int_equal(s.n_types, 2);
    snn_structure_free(&s);
    assert_int_equal(snn_structure_load(path, 3, 3, &s, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "array 'recurrent_scaling_factors': expected shape (3, 3), got (2, 2)"));
    assert_null(s.rec.row);

    /* without scaling factors, the zero-weight synapse or assembly ids */
    snn_error_clear(&err);
    make_pattern(&s, 0, 1);
    free(s.assembly_ids);
    s.assembly_ids = NULL;
    assert_int_equal(snn_structure_save(path, &s, &err), SNN_OK);
    snn_structure_free(&s);
    assert_int_equal(snn_structure_load(path, 2, 3, &s, &err), SNN_OK);
    assert_pattern(&s, 1, 0);
    assert_int_equal(s.has_scaling_factors, 0);
    assert_null(s.sf);
    snn_npz *z = snn_npz_open(path, &err);
    assert_int_equal(snn_npz_count(z), 7);
    assert_false(snn_npz_has(z, "recurrent_scaling_factors"));
    snn_npz_free(z);
    snn_structure_free(&s);
    tu_rmtree(dir);
}

static void test_load_python_files(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    assert_int_equal(tu_python("npz_structure.py", "write %s", dir), 0);
    char path[600];
    snn_structure s;
    snn_error err = {0};

    snprintf(path, sizeof path, "%s/ok_full.npz", dir);
    assert_int_equal(snn_structure_load(path, 2, 3, &s, &err), SNN_OK);
    assert_pattern(&s, 0, 1);
    assert_int_equal(s.has_scaling_factors, 1);
    assert_memory_equal(s.sf_ff, k_sf_ff, sizeof k_sf_ff);
    snn_structure_free(&s);
    /* float64 'weights' (old name), int32/uint8 indices, no connectivity, no assembly ids, deflated */
    snprintf(path, sizeof path, "%s/ok_old_name.npz", dir);
    assert_int_equal(snn_structure_load(path, 0, 0, &s, &err), SNN_OK);
    assert_pattern(&s, 1, 0);
    assert_int_equal(s.n_types, 2);
    assert_int_equal(s.n_ff_types, 3);
    snn_structure_free(&s);
    snprintf(path, sizeof path, "%s/ok_int_conn.npz", dir);
    assert_int_equal(snn_structure_load(path, 2, 3, &s, &err), SNN_OK);
    assert_pattern(&s, 0, 1);
    snn_structure_free(&s);
    assert_int_equal(err.code, SNN_OK);

    static const struct {
        const char *file;
        int n_types, n_ff_types;
        const char *msg[3];
    } bad[] = {
        {"no_recurrent", 0, 0, {"missing array 'recurrent_weights' (or its old name 'weights')"}},
        {"no_ff", 0, 0, {"missing array 'feedforward_weights'"}},
        {"no_types", 0, 0, {"missing array 'cell_type_indices'"}},
        {"no_ff_types", 0, 0, {"missing array 'feedforward_cell_type_indices'"}},
        {"int_weights", 0, 0, {"array 'recurrent_weights': has dtype int64, expected float32 or float64"}},
        {"float_types", 0, 0, {"array 'cell_type_indices': has dtype float64, expected an integer"}},
        {"float_conn", 0, 0, {"array 'recurrent_connectivity': has dtype float32, expected a bool array (or integers 0/1)"}},
        {"conn_not_01", 0, 0, {"array 'feedforward_connectivity': value 2 at [0, 1] is not 0 or 1"}},
        {"nonsquare", 0, 0, {"array 'recurrent_weights': expected a square N x N matrix, got shape (6, 5)"}},
        {"ff_n", 0, 0, {"array 'feedforward_weights' has shape (4, 5), i.e. N = 5, but 'recurrent_weights' has N = 6"}},
        {"types_len", 0, 0, {"array 'cell_type_indices' has 5 entries but 'recurrent_weights' has N = 6"}},
        {"ff_types_len",
         0,
         0,
         {"array 'feedforward_cell_type_indices' has 3 entries but 'feedforward_weights' has N_in = 4"}},
        {"asm_len", 0, 0, {"array 'assembly_ids' has 4 entries but 'recurrent_weights' has N = 6"}},
        {"conn_shape",
         0,
         0,
         {"array 'recurrent_connectivity' has shape (6, 5) but 'recurrent_weights' has shape (6, 6)"}},
        {"nan_weight", 0, 0, {"array 'recurrent_weights': entry [2, 3] = nan; weights must be finite and >= 0"}},
        {"inf_ff_weight", 0, 0, {"array 'feedforward_weights': entry [1, 0] = inf"}},
        {"neg_weight", 0, 0, {"array 'recurrent_weights': entry [4, 1] = -0.5; weights must be finite and >= 0"}},
        {"weight_no_conn",
         0,
         0,
         {"array 'recurrent_weights': entry [1, 1] = 0.25 but 'recurrent_connectivity'[1, 1] is false"}},
        {"ff_weight_no_conn",
         0,
         0,
         {"array 'feedforward_weights': entry [3, 2] = 0.05", "'feedforward_connectivity'[3, 2] is false"}},
        {"type_range",
         2,
         3,
         {"array 'cell_type_indices': entry [3] = 2 is out of range: there are 2 recurrent cell types (indices 0..1)"}},
        {"neg_type", 0, 0, {"array 'feedforward_cell_type_indices': entry [2] = -1; type indices must be >= 0"}},
        {"asm_bad", 0, 0, {"array 'assembly_ids': entry [5] = -2; ids must be >= 0, or -1 for none"}},
        {"sf_shape", 0, 0, {"array 'recurrent_scaling_factors': expected shape (2, 2), got (2, 3)"}},
        {"sf_alone", 0, 0, {"has 'recurrent_scaling_factors' but not 'feedforward_scaling_factors'"}},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(path, sizeof path, "%s/%s.npz", dir, bad[k].file);
        snn_error_clear(&err);
        int rc = snn_structure_load(path, bad[k].n_types, bad[k].n_ff_types, &s, &err);
        if (rc != SNN_EINPUT) fail_msg("%s: rc %d (%s)", bad[k].file, rc, err.msg);
        assert_null(s.rec.row);
        assert_null(s.cell_types);
        if (strncmp(err.msg, path, strlen(path)) != 0) fail_msg("%s: message lacks the path: %s", bad[k].file, err.msg);
        for (int m = 0; m < 3 && bad[k].msg[m]; m++)
            if (strstr(err.msg, bad[k].msg[m]) == NULL)
                fail_msg("%s: message \"%s\" lacks \"%s\"", bad[k].file, err.msg, bad[k].msg[m]);
    }
    /* the type bound is only checked when given */
    snprintf(path, sizeof path, "%s/type_range.npz", dir);
    snn_error_clear(&err);
    assert_int_equal(snn_structure_load(path, 0, 0, &s, &err), SNN_OK);
    assert_int_equal(s.n_types, 3);
    snn_structure_free(&s);

    snn_error_clear(&err);
    snprintf(path, sizeof path, "%s/absent.npz", dir);
    assert_int_equal(snn_structure_load(path, 0, 0, &s, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, path));
    tu_rmtree(dir);
}

/* A sparse matrix file with the pattern's other arrays; mutate() may alter the CSR arrays first. */
typedef struct sparse_arrays {
    float data[N * N];
    int64_t indices[N * N], indptr[N + 1], shape[2];
    int64_t nnz;
} sparse_arrays;

static void write_sparse(const char *path, const sparse_arrays *a, const char *fmt, int add_conn, int add_dense) {
    snn_structure s;
    make_pattern(&s, 1, 1);
    snn_error err = {0};
    snn_npz_writer *w = snn_npz_create(path, 0, &err);
    assert_non_null(w);
    const int64_t nnz[1] = {a->nnz}, ptr[1] = {N + 1}, two[1] = {2}, n1[1] = {N}, nin[1] = {N_IN};
    assert_int_equal(snn_npz_add(w, "recurrent_weights_data", SNN_F32, 1, nnz, a->data, &err), SNN_OK);
    assert_int_equal(snn_npz_add(w, "recurrent_weights_indices", SNN_I64, 1, nnz, a->indices, &err), SNN_OK);
    assert_int_equal(snn_npz_add(w, "recurrent_weights_indptr", SNN_I64, 1, ptr, a->indptr, &err), SNN_OK);
    assert_int_equal(snn_npz_add(w, "recurrent_weights_shape", SNN_I64, 1, two, a->shape, &err), SNN_OK);
    if (fmt) assert_int_equal(snn_npz_add_bytes(w, "recurrent_weights_format", fmt, &err), SNN_OK);
    float wff[N_IN * N];
    uint8_t conn[N * N] = {0};
    for (int k = 0; k < N_IN; k++)
        for (int j = 0; j < N; j++) wff[k * N + j] = pat_wff(k, j);
    const int64_t sff[2] = {N_IN, N}, snn[2] = {N, N};
    assert_int_equal(snn_npz_add(w, "feedforward_weights", SNN_F32, 2, sff, wff, &err), SNN_OK);
    if (add_conn) assert_int_equal(snn_npz_add(w, "recurrent_connectivity", SNN_BOOL, 2, snn, conn, &err), SNN_OK);
    if (add_dense) {
        float wd[N * N] = {0};
        assert_int_equal(snn_npz_add(w, "recurrent_weights", SNN_F32, 2, snn, wd, &err), SNN_OK);
    }
    assert_int_equal(snn_npz_add(w, "cell_type_indices", SNN_I64, 1, n1, s.cell_types, &err), SNN_OK);
    assert_int_equal(snn_npz_add(w, "feedforward_cell_type_indices", SNN_I64, 1, nin, s.ff_cell_types, &err), SNN_OK);
    assert_int_equal(snn_npz_add(w, "assembly_ids", SNN_I32, 1, n1, s.assembly_ids, &err), SNN_OK);
    assert_int_equal(snn_npz_close(w, &err), SNN_OK);
    snn_structure_free(&s);
}

/* The pattern's recurrent matrix as CSR, each row's entries in reverse column order (scipy allows
 * unsorted indices; the reader sorts them). */
static void pattern_csr(sparse_arrays *a) {
    memset(a, 0, sizeof *a);
    a->shape[0] = a->shape[1] = N;
    for (int i = 0; i < N; i++) {
        for (int j = N - 1; j >= 0; j--)
            if (pat_conn(i, j)) {
                a->data[a->nnz] = pat_w(i, j);
                a->indices[a->nnz++] = j;
            }
        a->indptr[i + 1] = a->nnz;
    }
}

static void test_sparse_files(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char path[600], path2[600];
    snn_error err = {0};
    snn_structure s, t;
    /* written sparse, read back: the same network, the zero-weight synapse kept */
    snprintf(path, sizeof path, "%s/sparse.npz", dir);
    make_pattern(&s, 1, 1);
    assert_int_equal(snn_structure_save_as(path, &s, SNN_NET_SPARSE, &err), SNN_OK);
    snn_structure_free(&s);
    assert_int_equal(snn_structure_load(path, 2, 3, &t, &err), SNN_OK);
    assert_pattern(&t, 0, 1);
    assert_true(snn_sparse_find(&t.rec, 0, 5) >= 0 && t.rec.w[snn_sparse_find(&t.rec, 0, 5)] == 0.0f);
    assert_int_equal(snn_sparse_find(&t.rec, 0, 0), -1);
    snn_npz *z = snn_npz_open(path, &err);
    assert_false(snn_npz_has(z, "recurrent_weights") || snn_npz_has(z, "recurrent_connectivity"));
    char fmt[8];
    assert_int_equal(snn_npz_read_bytes(z, "feedforward_weights_format", fmt, sizeof fmt, &err), SNN_OK);
    assert_string_equal(fmt, "csr");
    snn_npz_free(z);
    /* written dense again: the bytes of the dense file written directly */
    snprintf(path2, sizeof path2, "%s/dense.npz", dir);
    assert_int_equal(snn_structure_save_as(path2, &t, SNN_NET_DENSE, &err), SNN_OK);
    snn_structure_free(&t);
    make_pattern(&s, 1, 1);
    snprintf(path, sizeof path, "%s/dense0.npz", dir);
    assert_int_equal(snn_structure_save(path, &s, &err), SNN_OK); /* auto: dense at this size */
    assert_int_equal(snn_structure_auto_format(&s), SNN_NET_DENSE);
    snn_structure_free(&s);
    char *b1, *b2;
    size_t l1, l2;
    assert_int_equal(snn_read_file(path, &b1, &l1, &err), SNN_OK);
    assert_int_equal(snn_read_file(path2, &b2, &l2, &err), SNN_OK);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    free(b1);
    free(b2);

    /* files from elsewhere: int64 indices, unsorted rows, a missing format */
    sparse_arrays a;
    pattern_csr(&a);
    snprintf(path, sizeof path, "%s/mixed.npz", dir);
    write_sparse(path, &a, NULL, 0, 0);
    assert_int_equal(snn_structure_load(path, 2, 3, &t, &err), SNN_OK);
    assert_pattern(&t, 0, 1);
    snn_structure_free(&t);

    static const struct {
        const char *fmt;
        int conn, dense, what;
        const char *msg;
    } bad[] = {
        {"csc", 0, 0, 0, "array 'recurrent_weights_format' is 'csc'; sparse weights must be CSR"},
        {"csr", 1, 0, 0, "has 'recurrent_connectivity' beside sparse 'recurrent_weights'"},
        {"csr", 0, 1, 0, "holds 'recurrent_weights' both dense and sparse"},
        {"csr", 0, 0, 1, "the synapse [2, 5] is stored twice"},
        {"csr", 0, 0, 2, "array 'recurrent_weights_indices': entry 0 (row 0) = 6 is not a column below 6"},
        {"csr", 0, 0, 3, "array 'recurrent_weights_data': entry 1 ([0, 4]) = -1; weights must be finite and >= 0"},
        {"csr", 0, 0, 4, "array 'recurrent_weights_indptr' decreases at row 1"},
        {"csr", 0, 0, 5, "array 'recurrent_weights_indptr' must start at 0 and end at the number of entries"},
        {"csr", 0, 0, 6, "array 'recurrent_weights_indptr': expected shape (7,), got (6,)"},
        {"csr", 0, 0, 7, "array 'recurrent_weights': expected a square N x N matrix, got shape (6, 5)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        pattern_csr(&a);
        int64_t r2 = a.indptr[2];
        switch (bad[k].what) {
        case 1: a.indices[r2 + 1] = a.indices[r2]; break;  /* row 2: its first column twice */
        case 2: a.indices[0] = N; break;
        case 3: a.data[1] = -1; break;
        case 4: a.indptr[2] = a.indptr[1] - 1; break;
        case 5: a.indptr[N] = a.nnz - 1; break;
        case 6: break;
        case 7: a.shape[1] = N - 1; break;
        }
        snprintf(path, sizeof path, "%s/bad%zu.npz", dir, k);
        if (bad[k].what == 6) {
            /* an indptr one entry short: written by hand */
            snn_structure p;
            make_pattern(&p, 1, 1);
            snn_npz_writer *w = snn_npz_create(path, 0, &err);
            const int64_t nnz[1] = {a.nnz}, ptr[1] = {N}, two[1] = {2}, n1[1] = {N}, nin[1] = {N_IN}, sff[2] = {N_IN, N};
            float wff[N_IN * N] = {0};
            snn_npz_add(w, "recurrent_weights_data", SNN_F32, 1, nnz, a.data, &err);
            snn_npz_add(w, "recurrent_weights_indices", SNN_I64, 1, nnz, a.indices, &err);
            snn_npz_add(w, "recurrent_weights_indptr", SNN_I64, 1, ptr, a.indptr, &err);
            snn_npz_add(w, "recurrent_weights_shape", SNN_I64, 1, two, a.shape, &err);
            snn_npz_add(w, "feedforward_weights", SNN_F32, 2, sff, wff, &err);
            snn_npz_add(w, "cell_type_indices", SNN_I64, 1, n1, p.cell_types, &err);
            snn_npz_add(w, "feedforward_cell_type_indices", SNN_I64, 1, nin, p.ff_cell_types, &err);
            assert_int_equal(snn_npz_close(w, &err), SNN_OK);
            snn_structure_free(&p);
        } else {
            write_sparse(path, &a, bad[k].fmt, bad[k].conn, bad[k].dense);
        }
        snn_error_clear(&err);
        int rc = snn_structure_load(path, 2, 3, &t, &err);
        if (rc != SNN_EINPUT) fail_msg("case %zu: rc %d (%s)", k, rc, err.msg);
        assert_null(t.rec.row);
        if (strstr(err.msg, bad[k].msg) == NULL || strncmp(err.msg, path, strlen(path)) != 0)
            fail_msg("case %zu: message \"%s\" lacks \"%s\" or the path", k, err.msg, bad[k].msg);
    }
    tu_rmtree(dir);
}

/* Edges in any order become sorted rows; a pair given twice is refused. */
static void test_sparse_from_edges(void **state) {
    (void)state;
    const int32_t pre[5] = {2, 0, 2, 1, 0}, post[5] = {1, 2, 0, 1, 0};
    const float w[5] = {1, 2, 3, 4, 5};
    snn_sparse m;
    snn_error err = {0};
    assert_int_equal(snn_sparse_from_edges(&m, 3, 3, 5, pre, post, w, "test", &err), SNN_OK);
    const int64_t row[4] = {0, 2, 3, 5};
    const int32_t col[5] = {0, 2, 1, 0, 1};
    const float ws[5] = {5, 2, 4, 3, 1};
    assert_memory_equal(m.row, row, sizeof row);
    assert_memory_equal(m.col, col, sizeof col);
    assert_memory_equal(m.w, ws, sizeof ws);
    snn_sparse_free(&m);
    const int32_t pre2[3] = {1, 0, 1}, post2[3] = {2, 0, 2};
    assert_int_equal(snn_sparse_from_edges(&m, 2, 3, 3, pre2, post2, NULL, "test", &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "test: the synapse [1, 2] is stored twice"));
    assert_null(m.row);
    /* a long row takes the merge sort */
    enum { L = 1000 };
    int32_t *p3 = malloc(L * sizeof *p3), *q3 = malloc(L * sizeof *q3);
    for (int k = 0; k < L; k++) p3[k] = 0, q3[k] = (k * 617) % L;
    assert_int_equal(snn_sparse_from_edges(&m, 1, L, L, p3, q3, NULL, "test", &err), SNN_OK);
    for (int k = 0; k < L; k++) assert_int_equal(m.col[k], k);
    snn_sparse_free(&m);
    free(p3);
    free(q3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc),
        cmocka_unit_test(test_save_load_roundtrip),
        cmocka_unit_test(test_load_python_files),
        cmocka_unit_test(test_sparse_files),
        cmocka_unit_test(test_sparse_from_edges),
    };
    return cmocka_run_group_tests_name("structure", tests, NULL, NULL);
}
