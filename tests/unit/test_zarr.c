/* Zarr stores: the C format-2 writer against python3-zarr 2.13, the reader against python-written
 * format-2 arrays (every codec, '/' separator, fill values with missing chunks, big-endian) and a
 * format-3 teacher store laid out as zarr-python 3 writes it, error messages for broken stores, and
 * chunk writing from several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/sha256.h"
#include "io/zarr.h"
#include "testutil.h"

static char g_dir[512];   /* scratch for this test binary */
static char g_v2[600], g_v2exp[600], g_v3[600], g_v3exp[600];

static int setup(void **state) {
    (void)state;
    const char *d = tu_tmpdir();
    if (d == NULL) return -1;
    snprintf(g_dir, sizeof g_dir, "%s", d);
    snprintf(g_v2, sizeof g_v2, "%s/py_v2.zarr", g_dir);
    snprintf(g_v2exp, sizeof g_v2exp, "%s/py_v2_expected", g_dir);
    snprintf(g_v3, sizeof g_v3, "%s/py_v3.zarr", g_dir);
    snprintf(g_v3exp, sizeof g_v3exp, "%s/py_v3_expected", g_dir);
    if (tu_python("zarr_write_v2.py", "%s %s >/dev/null", g_v2, g_v2exp) != 0) return -1;
    if (tu_python("zarr_write_v3.py", "%s %s >/dev/null", g_v3, g_v3exp) != 0) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(g_dir);
    return 0;
}

/* ---- helpers (independent of the code under test) ---- */

static size_t count_of(const int64_t *shape, int nd) {
    size_t n = 1;
    for (int d = 0; d < nd; d++) n *= (size_t)shape[d];
    return n;
}

/* Element-by-element slicing of a C-ordered array: the oracle for region reads. */
static void slice_ref(const uint8_t *full, const int64_t *shape, int nd, const int64_t *start, const int64_t *count,
                      size_t isz, uint8_t *out) {
    size_t n = count_of(count, nd);
    int64_t idx[SNN_MAX_NDIM] = {0};
    for (size_t k = 0; k < n; k++) {
        size_t flat = 0;
        for (int d = 0; d < nd; d++) flat = flat * (size_t)shape[d] + (size_t)(start[d] + idx[d]);
        memcpy(out + k * isz, full + flat * isz, isz);
        for (int d = nd - 1; d >= 0; d--) {
            if (++idx[d] < count[d]) break;
            idx[d] = 0;
        }
    }
}

static uint8_t *read_bin(const char *dir, const char *name, size_t expect_bytes) {
    char p[700];
    snprintf(p, sizeof p, "%s/%s.bin", dir, name);
    char *data = NULL;
    size_t len = 0;
    snn_error err = {0};
    assert_int_equal(snn_read_file(p, &data, &len, &err), SNN_OK);
    assert_int_equal(len, expect_bytes);
    return (uint8_t *)data;
}

static uint32_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* Reads the whole array and `nregions` random hyper-rectangles, comparing each with the expected
 * contents. Most random regions cross chunk boundaries. */
static void check_array(snn_zarr_array *a, const uint8_t *expect, int nregions, uint64_t seed) {
    int nd = snn_zarr_ndim(a);
    const int64_t *shape = snn_zarr_shape(a);
    size_t isz = snn_dtype_size(snn_zarr_dtype(a)), n = count_of(shape, nd);
    snn_error err = {0};
    uint8_t *got = malloc(n * isz + 1), *ref = malloc(n * isz + 1);
    int64_t zero[SNN_MAX_NDIM] = {0}, start[SNN_MAX_NDIM], count[SNN_MAX_NDIM];
    memset(got, 0xAB, n * isz);
    assert_int_equal(snn_zarr_read_region(a, zero, shape, got, &err), SNN_OK);
    assert_memory_equal(got, expect, n * isz);
    for (int r = 0; r < nregions; r++) {
        for (int d = 0; d < nd; d++) {
            start[d] = (int64_t)(lcg(&seed) % (uint32_t)shape[d]);
            count[d] = 1 + (int64_t)(lcg(&seed) % (uint32_t)(shape[d] - start[d]));
        }
        size_t m = count_of(count, nd);
        memset(got, 0xCD, m * isz);
        assert_int_equal(snn_zarr_read_region(a, start, count, got, &err), SNN_OK);
        slice_ref(expect, shape, nd, start, count, isz, ref);
        assert_memory_equal(got, ref, m * isz);
    }
    free(got);
    free(ref);
}

static void write_all_chunks(snn_zarr_writer *w, const uint8_t *data, int nd, const int64_t *shape,
                             const int64_t *chunks, size_t isz) {
    int64_t grid[SNN_MAX_NDIM], ci[SNN_MAX_NDIM] = {0}, start[SNN_MAX_NDIM], ext[SNN_MAX_NDIM];
    size_t nchunks = 1;
    for (int d = 0; d < nd; d++) {
        grid[d] = (shape[d] + chunks[d] - 1) / chunks[d];
        nchunks *= (size_t)grid[d];
    }
    uint8_t *buf = malloc(count_of(chunks, nd) * isz);
    snn_error err = {0};
    for (size_t c = 0; c < nchunks; c++) {
        for (int d = 0; d < nd; d++) {
            start[d] = ci[d] * chunks[d];
            ext[d] = shape[d] - start[d] < chunks[d] ? shape[d] - start[d] : chunks[d];
        }
        slice_ref(data, shape, nd, start, ext, isz, buf);
        assert_int_equal(snn_zarr_write_chunk(w, ci, buf, &err), SNN_OK);
        for (int d = nd - 1; d >= 0; d--) {
            if (++ci[d] < grid[d]) break;
            ci[d] = 0;
        }
    }
    free(buf);
}

/* The deterministic patterns that tests/py/zarr_check_c_written.py recomputes. */
static void *make_pattern(char kind, const int64_t *shape, int nd) {
    size_t n = count_of(shape, nd);
    if (kind == 'b') {
        uint8_t *v = malloc(n);
        for (int64_t b = 0; b < shape[0]; b++)
            for (int64_t t = 0; t < shape[1]; t++)
                for (int64_t j = 0; j < shape[2]; j++)
                    v[(b * shape[1] + t) * shape[2] + j] = (b * 131 + t * 7 + j * 3) % 5 == 0;
        return v;
    }
    if (kind == 'f') {
        float *v = malloc(n * sizeof *v);
        for (size_t k = 0; k < n; k++) v[k] = (float)(k % 1000) / 3.0f - 100.0f;
        return v;
    }
    double *v = malloc(n * sizeof *v);
    for (size_t k = 0; k < n; k++) v[k] = (double)k / 7.0 - 1e6;
    return v;
}

/* ---- tests ---- */

static void test_c_writer_read_by_python(void **state) {
    (void)state;
    char store[700];
    snprintf(store, sizeof store, "%s/c_written.zarr", g_dir);
    snn_error err = {0};
    assert_int_equal(snn_zarr_create_group(store, "{\"dt\": 0.1, \"label\": \"\xc2\xb5s test\"}", &err), SNN_OK);
    const struct {
        char kind;
        snn_dtype t;
        int nd;
        int64_t shape[3], chunks[3];
    } specs[3] = {{'b', SNN_BOOL, 3, {5, 23, 17}, {2, 10, 8}},
                  {'f', SNN_F32, 2, {13, 9}, {4, 4}},
                  {'d', SNN_F64, 2, {7, 11}, {3, 5}}};
    const char *codec_names[3] = {"blosc", "zlib", "raw"};
    const snn_zarr_codec codecs[3] = {SNN_ZARR_BLOSC_LZ4, SNN_ZARR_ZLIB, SNN_ZARR_RAW};
    for (int s = 0; s < 3; s++) {
        void *data = make_pattern(specs[s].kind, specs[s].shape, specs[s].nd);
        for (int c = 0; c < 3; c++) {
            char name[32];
            snprintf(name, sizeof name, "%c_%s", specs[s].kind, codec_names[c]);
            snn_zarr_writer *w = snn_zarr_create_array(store, name, specs[s].t, specs[s].nd, specs[s].shape,
                                                       specs[s].chunks, codecs[c], &err);
            assert_non_null(w);
            write_all_chunks(w, data, specs[s].nd, specs[s].shape, specs[s].chunks, snn_dtype_size(specs[s].t));
            snn_zarr_writer_free(w);
        }
        free(data);
    }
    assert_int_equal(tu_python("zarr_check_c_written.py", "%s", store), 0);

    /* and the C reader reads back what it wrote */
    snn_zarr_group *g = snn_zarr_open_group(store, &err);
    assert_non_null(g);
    assert_int_equal(snn_zarr_format(g), 2);
    double dt = 0;
    assert_int_equal(snn_zarr_attr_double(g, "dt", &dt, &err), SNN_OK);
    assert_true(dt == 0.1);
    for (int s = 0; s < 3; s++) {
        void *data = make_pattern(specs[s].kind, specs[s].shape, specs[s].nd);
        for (int c = 0; c < 3; c++) {
            char name[32];
            snprintf(name, sizeof name, "%c_%s", specs[s].kind, codec_names[c]);
            snn_zarr_array *a = snn_zarr_open_array(g, name, &err);
            assert_non_null(a);
            assert_int_equal(snn_zarr_dtype(a), specs[s].t);
            assert_memory_equal(snn_zarr_chunks(a), specs[s].chunks, (size_t)specs[s].nd * sizeof(int64_t));
            check_array(a, data, 30, 11 + (uint64_t)s);
            snn_zarr_array_free(a);
        }
        free(data);
    }
    snn_zarr_group_free(g);
}

static void test_reads_python_v2(void **state) {
    (void)state;
    const struct {
        const char *name;
        snn_dtype t;
        int nd;
        int64_t shape[3], chunks[3];
    } arrays[] = {
        {"lz4", SNN_F32, 2, {30, 41}, {7, 9}},
        {"zstd_bitshuffle", SNN_F64, 3, {4, 25, 13}, {3, 6, 5}},
        {"blosc_zlib_noshuffle", SNN_I32, 2, {17, 19}, {5, 8}},
        {"blosclz_bool", SNN_BOOL, 3, {6, 40, 9}, {4, 16, 5}},
        {"lz4hc_u8", SNN_U8, 2, {50, 3}, {11, 2}},
        {"zlib", SNN_I16, 2, {20, 33}, {6, 10}},
        {"gzip", SNN_U16, 2, {15, 14}, {4, 5}},
        {"zstd", SNN_F32, 2, {12, 31}, {5, 8}},
        {"none", SNN_BOOL, 3, {4, 30, 11}, {4, 7, 11}},
        {"slash", SNN_I64, 2, {9, 10}, {4, 3}},
        {"bigendian", SNN_F64, 2, {10, 12}, {4, 5}},
        {"bigendian_zlib", SNN_U32, 2, {10, 7}, {3, 3}},
        {"fill", SNN_F32, 2, {30, 20}, {7, 6}},
        {"fill_nan", SNN_F64, 2, {10, 10}, {4, 4}},
        {"fill_true", SNN_BOOL, 3, {3, 25, 4}, {3, 10, 4}},
    };
    snn_error err = {0};
    snn_zarr_group *g = snn_zarr_open_group(g_v2, &err);
    assert_non_null(g);
    assert_int_equal(snn_zarr_format(g), 2);
    double dt = 0;
    assert_int_equal(snn_zarr_attr_double(g, "dt", &dt, &err), SNN_OK);
    assert_true(dt == 0.25);
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        snn_zarr_array *a = snn_zarr_open_array(g, arrays[i].name, &err);
        if (a == NULL) fail_msg("%s: %s", arrays[i].name, err.msg);
        assert_int_equal(snn_zarr_dtype(a), arrays[i].t);
        assert_int_equal(snn_zarr_ndim(a), arrays[i].nd);
        assert_memory_equal(snn_zarr_shape(a), arrays[i].shape, (size_t)arrays[i].nd * sizeof(int64_t));
        assert_memory_equal(snn_zarr_chunks(a), arrays[i].chunks, (size_t)arrays[i].nd * sizeof(int64_t));
        size_t bytes = count_of(arrays[i].shape, arrays[i].nd) * snn_dtype_size(arrays[i].t);
        uint8_t *expect = read_bin(g_v2exp, arrays[i].name, bytes);
        check_array(a, expect, 60, 1000 + i);
        free(expect);
        snn_zarr_array_free(a);
    }

    /* the unwritten chunks of the fill arrays hold their fill values */
    snn_zarr_array *a = snn_zarr_open_array(g, "fill", &err);
    float f[6];
    int64_t st[2] = {8, 7}, ct[2] = {1, 6};
    assert_int_equal(snn_zarr_read_region(a, st, ct, f, &err), SNN_OK);
    for (int k = 0; k < 6; k++) assert_true(f[k] == -2.5f);
    snn_zarr_array_free(a);
    a = snn_zarr_open_array(g, "fill_nan", &err);
    double x[2];
    int64_t st2[2] = {3, 3}, ct2[2] = {1, 2};
    assert_int_equal(snn_zarr_read_region(a, st2, ct2, x, &err), SNN_OK);
    assert_true(x[0] == 1.5);
    assert_true(isnan(x[1]));
    snn_zarr_array_free(a);
    a = snn_zarr_open_array(g, "fill_true", &err);
    uint8_t b[4];
    int64_t st3[3] = {2, 17, 0}, ct3[3] = {1, 1, 4};
    assert_int_equal(snn_zarr_read_region(a, st3, ct3, b, &err), SNN_OK);
    for (int k = 0; k < 4; k++) assert_int_equal(b[k], 1);
    snn_array whole;
    assert_int_equal(snn_zarr_read_array(a, &whole, &err), SNN_OK);
    assert_int_equal(whole.ndim, 3);
    assert_int_equal(whole.shape[1], 25);
    assert_int_equal(((uint8_t *)whole.data)[(2 * 25 + 17) * 4 + 3], 1);
    snn_array_free(&whole);
    snn_zarr_array_free(a);
    snn_zarr_group_free(g);
}

static void test_reads_v3_teacher_store(void **state) {
    (void)state;
    const int64_t B = 3, L = 10, T = 40, N = 13, NIN = 7, P = 3;
    const struct {
        const char *name;
        snn_dtype t;
        int64_t shape[3], chunks[3];
        int nd;
    } arrays[] = {
        {"output_spikes", SNN_BOOL, {B, T, N}, {B, L, N}, 3},
        {"input_spikes", SNN_BOOL, {B, T, NIN}, {B, L, NIN}, 3},
        {"ou_process_weights", SNN_F32, {B, T, P}, {B, L, P}, 3},
        {"odourant_patterns", SNN_F64, {P, NIN}, {2, 4}, 2},
        {"alt_dot_gzip", SNN_F32, {5, 6}, {2, 4}, 2},
    };
    snn_error err = {0};
    snn_zarr_group *g = snn_zarr_open_group(g_v3, &err);
    if (g == NULL) fail_msg("%s", err.msg);
    assert_int_equal(snn_zarr_format(g), 3);
    double dt = 0;
    assert_int_equal(snn_zarr_attr_double(g, "dt", &dt, &err), SNN_OK);
    assert_true(dt == 0.5);
    assert_int_equal(snn_zarr_has_array(g, "output_spikes"), 1);
    assert_int_equal(snn_zarr_has_array(g, "rates"), 0);
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        snn_zarr_array *a = snn_zarr_open_array(g, arrays[i].name, &err);
        if (a == NULL) fail_msg("%s: %s", arrays[i].name, err.msg);
        assert_int_equal(snn_zarr_dtype(a), arrays[i].t);
        assert_int_equal(snn_zarr_ndim(a), arrays[i].nd);
        assert_memory_equal(snn_zarr_shape(a), arrays[i].shape, (size_t)arrays[i].nd * sizeof(int64_t));
        assert_memory_equal(snn_zarr_chunks(a), arrays[i].chunks, (size_t)arrays[i].nd * sizeof(int64_t));
        size_t bytes = count_of(arrays[i].shape, arrays[i].nd) * snn_dtype_size(arrays[i].t);
        uint8_t *expect = read_bin(g_v3exp, arrays[i].name, bytes);
        check_array(a, expect, 60, 77 + i);
        free(expect);
        snn_zarr_array_free(a);
    }

    /* stage 4's access: all trials, windows of Ls steps (Ls != L), all neurons; the missing chunk
     * c/0/2/0 reads as false */
    snn_zarr_array *a = snn_zarr_open_array(g, "output_spikes", &err);
    uint8_t *expect = read_bin(g_v3exp, "output_spikes", (size_t)(B * T * N));
    const int64_t Ls = 7;
    uint8_t *win = malloc((size_t)(B * Ls * N)), *ref = malloc((size_t)(B * Ls * N));
    int spikes_in_missing = 0;
    for (int64_t k = 0; k < T / Ls; k++) {
        int64_t st[3] = {0, k * Ls, 0}, ct[3] = {B, Ls, N};
        assert_int_equal(snn_zarr_read_region(a, st, ct, win, &err), SNN_OK);
        slice_ref(expect, (int64_t[]){B, T, N}, 3, st, ct, 1, ref);
        assert_memory_equal(win, ref, (size_t)(B * Ls * N));
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < Ls; t++)
                for (int64_t j = 0; j < N; j++) {
                    int64_t gt = k * Ls + t;
                    if (gt >= 2 * L && gt < 3 * L) spikes_in_missing += win[(b * Ls + t) * N + j];
                }
    }
    assert_int_equal(spikes_in_missing, 0);
    char p[700];
    snprintf(p, sizeof p, "%s/output_spikes/c/0/2/0", g_v3);
    assert_false(snn_path_exists(p));
    free(win);
    free(ref);
    free(expect);
    snn_zarr_array_free(a);
    snn_zarr_group_free(g);
}

/* Windows along time over a store written by the C writer, with window lengths that do not divide
 * the chunk length: exercises the decoded-chunk cache across calls. */
static void test_time_windows_across_chunks(void **state) {
    (void)state;
    const int64_t B = 4, T = tu_sanitized() ? 300 : 1000, N = tu_sanitized() ? 60 : 300, L = 100;
    char store[700];
    snprintf(store, sizeof store, "%s/windows.zarr", g_dir);
    snn_error err = {0};
    assert_int_equal(snn_zarr_create_group(store, "{\"dt\": 1.0}", &err), SNN_OK);
    int64_t shape[3] = {B, T, N}, chunks[3] = {B, L, N};
    uint8_t *data = malloc((size_t)(B * T * N));
    uint64_t s = 5;
    for (int64_t k = 0; k < B * T * N; k++) data[k] = lcg(&s) % 13 == 0;
    snn_zarr_writer *w = snn_zarr_create_array(store, "output_spikes", SNN_BOOL, 3, shape, chunks,
                                               SNN_ZARR_BLOSC_LZ4, &err);
    assert_non_null(w);
    write_all_chunks(w, data, 3, shape, chunks, 1);
    snn_zarr_writer_free(w);
    snn_zarr_group *g = snn_zarr_open_group(store, &err);
    snn_zarr_array *a = snn_zarr_open_array(g, "output_spikes", &err);
    assert_non_null(a);
    const int64_t lens[3] = {64, 100, 250};
    uint8_t *win = malloc((size_t)(B * 250 * N)), *ref = malloc((size_t)(B * 250 * N));
    for (int li = 0; li < 3; li++) {
        int64_t Ls = lens[li];
        for (int pass = 0; pass < 2; pass++) /* wraps from the last window back to the first */
            for (int64_t k = 0; k < T / Ls; k++) {
                int64_t st[3] = {0, k * Ls, 0}, ct[3] = {B, Ls, N};
                assert_int_equal(snn_zarr_read_region(a, st, ct, win, &err), SNN_OK);
                slice_ref(data, shape, 3, st, ct, 1, ref);
                assert_memory_equal(win, ref, (size_t)(B * Ls * N));
            }
    }
    free(win);
    free(ref);
    free(data);
    snn_zarr_array_free(a);
    snn_zarr_group_free(g);
}

static void expect_msg(const snn_error *err, const char *a, const char *b, const char *c) {
    if (err->code == SNN_OK) fail_msg("expected an error mentioning %s / %s / %s", a, b, c ? c : "");
    if (strstr(err->msg, a) == NULL || strstr(err->msg, b) == NULL || (c && strstr(err->msg, c) == NULL))
        fail_msg("message \"%s\" does not mention \"%s\", \"%s\", \"%s\"", err->msg, a, b, c ? c : "");
}

static void flip_byte(const char *path, long off) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    fputc(c ^ 0x5A, f);
    fclose(f);
}

static void read_fails(snn_zarr_group *g, const char *name, const char *key, const char *why) {
    snn_error err = {0};
    snn_zarr_array *a = snn_zarr_open_array(g, name, &err);
    if (a == NULL) fail_msg("%s", err.msg);
    size_t n = count_of(snn_zarr_shape(a), snn_zarr_ndim(a)) * snn_dtype_size(snn_zarr_dtype(a));
    void *buf = malloc(n);
    int64_t zero[SNN_MAX_NDIM] = {0};
    int rc = snn_zarr_read_region(a, zero, snn_zarr_shape(a), buf, &err);
    assert_int_not_equal(rc, SNN_OK);
    assert_int_equal(rc, err.code);
    char store_path[700];
    snprintf(store_path, sizeof store_path, "%s", g_dir);
    expect_msg(&err, store_path, name, key);
    if (strstr(err.msg, why) == NULL) fail_msg("message \"%s\" does not say \"%s\"", err.msg, why);
    free(buf);
    snn_zarr_array_free(a);
}

static void open_fails(snn_zarr_group *g, const char *name, const char *why) {
    snn_error err = {0};
    snn_zarr_array *a = snn_zarr_open_array(g, name, &err);
    assert_null(a);
    assert_int_equal(err.code, SNN_EINPUT);
    expect_msg(&err, g_dir, name, why);
}

static void write_text(const char *store, const char *name, const char *file, const char *text) {
    char p[800];
    snprintf(p, sizeof p, "%s/%s", store, name);
    snn_error err = {0};
    assert_int_equal(snn_mkdirs(p, &err), SNN_OK);
    snprintf(p, sizeof p, "%s/%s/%s", store, name, file);
    assert_int_equal(tu_write(p, text), 0);
}

static void test_errors_name_store_array_chunk(void **state) {
    (void)state;
    char store[700], p[800];
    snprintf(store, sizeof store, "%s/broken.zarr", g_dir);
    snn_error err = {0};
    assert_int_equal(snn_zarr_create_group(store, NULL, &err), SNN_OK);
    int64_t shape[2] = {10, 10}, chunks[2] = {4, 4};
    float v[100];
    for (int k = 0; k < 100; k++) v[k] = (float)k * 1.5f;
    const char *names[3] = {"blosc_a", "zlib_a", "raw_a"};
    const snn_zarr_codec codecs[3] = {SNN_ZARR_BLOSC_LZ4, SNN_ZARR_ZLIB, SNN_ZARR_RAW};
    for (int c = 0; c < 3; c++) {
        snn_zarr_writer *w = snn_zarr_create_array(store, names[c], SNN_F32, 2, shape, chunks, codecs[c], &err);
        assert_non_null(w);
        write_all_chunks(w, (uint8_t *)v, 2, shape, chunks, 4);
        snn_zarr_writer_free(w);
    }
    /* a chunk index outside the grid is refused by the writer */
    snn_zarr_writer *w = snn_zarr_create_array(store, "tmp_a", SNN_F32, 2, shape, chunks, SNN_ZARR_RAW, &err);
    assert_int_equal(snn_zarr_write_chunk(w, (int64_t[]){3, 0}, v, &err), SNN_EINPUT);
    expect_msg(&err, "tmp_a", "out of range", NULL);
    snn_error_clear(&err);
    snn_zarr_writer_free(w);
    /* attributes that are not a JSON object are refused */
    snprintf(p, sizeof p, "%s/bad_attrs.zarr", g_dir);
    assert_int_equal(snn_zarr_create_group(p, "[1, 2]", &err), SNN_EINPUT);
    expect_msg(&err, "bad_attrs.zarr", "JSON object", NULL);
    snn_error_clear(&err);

    /* truncated blosc chunk */
    snprintf(p, sizeof p, "%s/blosc_a/1.1", store);
    assert_int_equal(truncate(p, 20), 0);
    /* blosc chunk whose header claims a different decompressed size */
    snprintf(p, sizeof p, "%s/blosc_a/2.0", store);
    flip_byte(p, 5);
    /* zlib chunk with a flipped byte in the deflate stream */
    snprintf(p, sizeof p, "%s/zlib_a/0.1", store);
    flip_byte(p, 6);
    /* uncompressed chunk of the wrong size */
    snprintf(p, sizeof p, "%s/raw_a/2.2", store);
    assert_int_equal(truncate(p, 60), 0);

    snn_zarr_group *g = snn_zarr_open_group(store, &err);
    assert_non_null(g);
    read_fails(g, "blosc_a", "chunk 1.1", "truncated");
    /* the chunk is not cached after a failure; reading around it still works */
    snn_zarr_array *a = snn_zarr_open_array(g, "blosc_a", &err);
    float got[16];
    int64_t st[2] = {0, 0}, ct[2] = {4, 4};
    assert_int_equal(snn_zarr_read_region(a, st, ct, got, &err), SNN_OK);
    assert_true(got[5] == v[11]);
    snn_zarr_array_free(a);
    snprintf(p, sizeof p, "%s/blosc_a/1.1", store);
    unlink(p); /* a missing chunk is fill, not an error */
    read_fails(g, "blosc_a", "chunk 2.0", "decompresses to");
    read_fails(g, "zlib_a", "chunk 0.1", "zlib");
    read_fails(g, "raw_a", "chunk 2.2", "60 bytes, expected 64");

    /* metadata problems */
    snprintf(p, sizeof p, "%s/ghost", store);
    assert_int_equal(mkdir(p, 0777), 0);
    open_fails(g, "ghost", "missing .zarray");
    open_fails(g, "nothing", "has no array");
    const char *meta_tail = "\"chunks\": [4], \"dtype\": \"<f4\", \"fill_value\": 0.0, \"shape\": [8], "
                            "\"zarr_format\": 2}";
    char text[1024];
    snprintf(text, sizeof text, "{\"compressor\": null, \"filters\": [{\"id\": \"delta\", \"dtype\": \"<f4\"}], "
                                "\"order\": \"C\", %s", meta_tail);
    write_text(store, "filtered", ".zarray", text);
    open_fails(g, "filtered", "delta");
    snprintf(text, sizeof text, "{\"compressor\": null, \"filters\": null, \"order\": \"F\", %s", meta_tail);
    write_text(store, "fortran", ".zarray", text);
    open_fails(g, "fortran", "order F");
    snprintf(text, sizeof text, "{\"compressor\": {\"id\": \"lzma\"}, \"filters\": null, \"order\": \"C\", %s",
             meta_tail);
    write_text(store, "lzma", ".zarray", text);
    open_fails(g, "lzma", "compressor 'lzma'");
    write_text(store, "badjson", ".zarray", "{\"zarr_format\": 2, \"shape\": [");
    open_fails(g, "badjson", "not valid JSON");
    write_text(store, "complex", ".zarray",
               "{\"chunks\": [4], \"compressor\": null, \"dtype\": \"<c8\", \"fill_value\": 0.0, \"filters\": null, "
               "\"order\": \"C\", \"shape\": [8], \"zarr_format\": 2}");
    open_fails(g, "complex", "unsupported dtype <c8");

    /* region outside the array */
    a = snn_zarr_open_array(g, "raw_a", &err);
    assert_int_equal(snn_zarr_read_region(a, (int64_t[]){8, 0}, (int64_t[]){3, 1}, got, &err), SNN_EINPUT);
    expect_msg(&err, "raw_a", "outside dimension 0", NULL);
    snn_error_clear(&err);
    snn_zarr_array_free(a);
    /* missing attribute */
    double dt;
    assert_int_equal(snn_zarr_attr_double(g, "dt", &dt, &err), SNN_EINPUT);
    expect_msg(&err, store, "'dt' is missing", NULL);
    snn_error_clear(&err);
    snn_zarr_group_free(g);

    /* groups: not a zarr store at all, broken group metadata */
    snprintf(p, sizeof p, "%s/not_a_store", g_dir);
    assert_int_equal(mkdir(p, 0777), 0);
    assert_null(snn_zarr_open_group(p, &err));
    expect_msg(&err, p, "not a zarr group", NULL);
    snn_error_clear(&err);
    snprintf(p, sizeof p, "%s/not_a_store/.zgroup", g_dir);
    assert_int_equal(tu_write(p, "{\"zarr_format\": "), 0);
    snprintf(p, sizeof p, "%s/not_a_store", g_dir);
    assert_null(snn_zarr_open_group(p, &err));
    expect_msg(&err, p, ".zgroup", "not valid JSON");
    snn_error_clear(&err);
    snprintf(p, sizeof p, "%s/does_not_exist", g_dir);
    assert_null(snn_zarr_open_group(p, &err));
    expect_msg(&err, p, "no such directory", NULL);
    snn_error_clear(&err);
}

static void test_errors_format3(void **state) {
    (void)state;
    char store[700], p[800];
    snprintf(store, sizeof store, "%s/broken_v3.zarr", g_dir);
    assert_int_equal(tu_system("cp -r '%s' '%s'", g_v3, store), 0);
    snprintf(p, sizeof p, "%s/output_spikes/c/0/1/0", store);
    flip_byte(p, 0); /* zstd magic number */
    snprintf(p, sizeof p, "%s/input_spikes/c/0/3/0", store);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size / 2), 0);
    const char *arr_tail = "\"shape\": [8], \"data_type\": \"float32\", \"chunk_grid\": {\"name\": \"regular\", "
                           "\"configuration\": {\"chunk_shape\": [4]}}, \"chunk_key_encoding\": {\"name\": "
                           "\"default\", \"configuration\": {\"separator\": \"/\"}}, \"fill_value\": 0.0, "
                           "\"zarr_format\": 3, \"node_type\": \"array\"}";
    char text[1024];
    snprintf(text, sizeof text, "{\"codecs\": [{\"name\": \"transpose\", \"configuration\": {\"order\": [0]}}, "
                                "{\"name\": \"bytes\", \"configuration\": {\"endian\": \"little\"}}], %s", arr_tail);
    write_text(store, "transposed", "zarr.json", text);
    snprintf(text, sizeof text, "{\"codecs\": [{\"name\": \"sharding_indexed\", \"configuration\": {}}], %s", arr_tail);
    write_text(store, "sharded", "zarr.json", text);
    snprintf(text, sizeof text, "{\"codecs\": [{\"name\": \"bytes\"}, {\"name\": \"zstd\"}, {\"name\": \"crc32c\"}], %s",
             arr_tail);
    write_text(store, "checksummed", "zarr.json", text);
    write_text(store, "half", "zarr.json", "{\"zarr_format\": 3, \"node_type\": ");

    snn_error err = {0};
    snn_zarr_group *g = snn_zarr_open_group(store, &err);
    assert_non_null(g);
    read_fails(g, "output_spikes", "chunk c/0/1/0", "zstd");
    read_fails(g, "input_spikes", "chunk c/0/3/0", "zstd");
    open_fails(g, "transposed", "transpose");
    open_fails(g, "sharded", "sharding_indexed");
    open_fails(g, "checksummed", "crc32c");
    open_fails(g, "half", "not valid JSON");
    open_fails(g, "ghost", "has no array");
    snn_zarr_group_free(g);
}

/* Chunks of one array written from two OpenMP threads give the same files as a serial write. */
static void test_parallel_chunk_writes(void **state) {
    (void)state;
    const int64_t B = 3, T = 390, N = 50, L = 40;
    int64_t shape[3] = {B, T, N}, chunks[3] = {B, L, N};
    const int nchunks = (int)((T + L - 1) / L);
    uint8_t *data = malloc((size_t)(B * T * N));
    uint64_t s = 99;
    for (int64_t k = 0; k < B * T * N; k++) data[k] = lcg(&s) % 7 == 0;
    /* per-chunk input buffers as the teacher stage hands them over: (B, L', N) */
    uint8_t **bufs = malloc(sizeof *bufs * (size_t)nchunks);
    for (int c = 0; c < nchunks; c++) {
        int64_t st[3] = {0, c * L, 0}, ct[3] = {B, T - c * L < L ? T - c * L : L, N};
        bufs[c] = malloc((size_t)(B * L * N));
        slice_ref(data, shape, 3, st, ct, 1, bufs[c]);
    }
    char serial[700], parallel[700];
    snprintf(serial, sizeof serial, "%s/serial.zarr", g_dir);
    snprintf(parallel, sizeof parallel, "%s/parallel.zarr", g_dir);
    snn_error err = {0};
    for (int pass = 0; pass < 2; pass++) {
        const char *store = pass ? parallel : serial;
        assert_int_equal(snn_zarr_create_group(store, "{}", &err), SNN_OK);
        snn_zarr_writer *w = snn_zarr_create_array(store, "x", SNN_BOOL, 3, shape, chunks, SNN_ZARR_BLOSC_LZ4, &err);
        assert_non_null(w);
        int failures = 0;
#pragma omp parallel for num_threads(pass ? 2 : 1) schedule(dynamic, 1) reduction(+ : failures)
        for (int c = 0; c < nchunks; c++) {
            snn_error e = {0};
            int64_t idx[3] = {0, c, 0};
            failures += snn_zarr_write_chunk(w, idx, bufs[c], &e) != SNN_OK;
        }
        assert_int_equal(failures, 0);
        snn_zarr_writer_free(w);
    }
    for (int c = 0; c < nchunks; c++) {
        char a[800], b[800];
        snprintf(a, sizeof a, "%s/x/0.%d.0", serial, c);
        snprintf(b, sizeof b, "%s/x/0.%d.0", parallel, c);
        char *da, *db;
        size_t la, lb;
        assert_int_equal(snn_read_file(a, &da, &la, &err), SNN_OK);
        assert_int_equal(snn_read_file(b, &db, &lb, &err), SNN_OK);
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
        free(da);
        free(db);
    }
    snn_zarr_group *g = snn_zarr_open_group(parallel, &err);
    snn_zarr_array *a = snn_zarr_open_array(g, "x", &err);
    assert_non_null(a);
    check_array(a, data, 20, 3);
    snn_zarr_array_free(a);
    snn_zarr_group_free(g);
    for (int c = 0; c < nchunks; c++) free(bufs[c]);
    free(bufs);
    free(data);
}

/* Issue 11: a float64 fill value is converted into the array's (unaligned) fill slot without UB
 * (faults 4); every chunk is checked up front (fault 6): a missing chunk of a store that must be whole,
 * a '/' separator that does not match the files, a truncated chunk, a chunk shape that disagrees with
 * the metadata, a FIFO in place of a chunk or of the metadata (refused, never waited on); and the
 * identity of a store changes with its chunks. */
static void test_hostile_stores(void **state) {
    (void)state;
    char store[700], p[800];
    snprintf(store, sizeof store, "%s/hostile.zarr", g_dir);
    snn_error err = {0};
    assert_int_equal(snn_zarr_create_group(store, "{\"dt\": 1.0}", &err), SNN_OK);
    int64_t shape[2] = {6, 10}, chunks[2] = {3, 4};
    double v[60];
    for (int k = 0; k < 60; k++) v[k] = k + 0.25;
    snn_zarr_writer *w = snn_zarr_create_array(store, "a", SNN_F64, 2, shape, chunks, SNN_ZARR_BLOSC_LZ4, &err);
    assert_non_null(w);
    write_all_chunks(w, (uint8_t *)v, 2, shape, chunks, 8);
    snn_zarr_writer_free(w);
    /* integer fill for a float64 array, float fill for an int64 one: both converted into the slot */
    write_text(store, "f8fill", ".zarray",
               "{\"chunks\": [4], \"compressor\": null, \"dtype\": \"<f8\", \"fill_value\": 2, \"filters\": null, "
               "\"order\": \"C\", \"shape\": [8], \"zarr_format\": 2}");
    write_text(store, "i8fill", ".zarray",
               "{\"chunks\": [4], \"compressor\": null, \"dtype\": \"<i8\", \"fill_value\": 7.0, \"filters\": null, "
               "\"order\": \"C\", \"shape\": [8], \"zarr_format\": 2}");

    snn_zarr_group *g = snn_zarr_open_group(store, &err);
    assert_non_null(g);
    /* the fill value of a float64 array with no chunk written */
    snn_zarr_array *a = snn_zarr_open_array(g, "f8fill", &err);
    assert_non_null(a);
    double got[8];
    assert_int_equal(snn_zarr_read_region(a, (int64_t[]){0}, (int64_t[]){8}, got, &err), SNN_OK);
    for (int k = 0; k < 8; k++) assert_true(got[k] == 2.0);
    snn_zarr_array *ai = snn_zarr_open_array(g, "i8fill", &err);
    assert_non_null(ai);
    int64_t goti[8];
    assert_int_equal(snn_zarr_read_region(ai, (int64_t[]){0}, (int64_t[]){8}, goti, &err), SNN_OK);
    for (int k = 0; k < 8; k++) assert_int_equal(goti[k], 7);
    snn_zarr_array_free(ai);
    /* ... which is what a format-2 store whose chunks must all exist refuses */
    assert_int_equal(snn_zarr_check_chunks(a, 1, NULL, &err), SNN_EINPUT);
    expect_msg(&err, "f8fill", "chunk 0 is missing", NULL);
    snn_error_clear(&err);
    assert_int_equal(snn_zarr_read_region(a, (int64_t[]){0}, (int64_t[]){8}, got, &err), SNN_EINPUT);
    expect_msg(&err, "f8fill", "chunk 0 is missing", NULL);
    snn_error_clear(&err);
    snn_zarr_array_free(a);

    /* a whole store passes, and its identity is stable */
    a = snn_zarr_open_array(g, "a", &err);
    assert_non_null(a);
    snn_sha256 h1, h2;
    uint8_t d1[32], d2[32];
    snn_sha256_init(&h1);
    assert_int_equal(snn_zarr_group_identity(g, &h1, &err), SNN_OK);
    assert_int_equal(snn_zarr_check_chunks(a, 1, &h1, &err), SNN_OK);
    snn_sha256_final(&h1, d1);
    snn_sha256_init(&h2);
    assert_int_equal(snn_zarr_group_identity(g, &h2, &err), SNN_OK);
    assert_int_equal(snn_zarr_check_chunks(a, 1, &h2, &err), SNN_OK);
    snn_sha256_final(&h2, d2);
    assert_memory_equal(d1, d2, 32);
    snn_zarr_array_free(a);

    /* a chunk whose blosc header is intact but whose blocks are not: the header check passes, decoding
     * every chunk up front finds it */
    int64_t bshape[2] = {40, 64}, bchunks[2] = {20, 32}; /* large enough for blosc to compress */
    double *bv = malloc(40 * 64 * sizeof *bv);
    for (int k = 0; k < 40 * 64; k++) bv[k] = k % 7;
    w = snn_zarr_create_array(store, "body", SNN_F64, 2, bshape, bchunks, SNN_ZARR_BLOSC_LZ4, &err);
    assert_non_null(w);
    write_all_chunks(w, (uint8_t *)bv, 2, bshape, bchunks, 8);
    snn_zarr_writer_free(w);
    free(bv);
    snprintf(p, sizeof p, "%s/body/1.1", store);
    assert_int_equal(tu_system("%s -c \"import sys; b = bytearray(open(sys.argv[1], 'rb').read()); "
                               "b[16:] = bytes(len(b) - 16); open(sys.argv[1], 'wb').write(b)\" '%s'",
                               SNNFIT_PYTHON, p),
                     0);
    a = snn_zarr_open_array(g, "body", &err);
    assert_non_null(a);
    assert_int_equal(snn_zarr_check_chunks(a, 1, NULL, &err), SNN_OK);
    assert_int_equal(snn_zarr_decode_all(a, &err), SNN_EINPUT);
    expect_msg(&err, "array body", "chunk 1.1", "corrupt");
    snn_error_clear(&err);
    snn_zarr_array_free(a);
    a = snn_zarr_open_array(g, "a", &err);
    assert_int_equal(snn_zarr_decode_all(a, &err), SNN_OK);
    snn_zarr_array_free(a);

    /* a truncated chunk (its blosc header no longer matches the file) changes the identity and fails */
    snprintf(p, sizeof p, "%s/a/1.2", store);
    assert_int_equal(truncate(p, 30), 0);
    a = snn_zarr_open_array(g, "a", &err);
    snn_sha256_init(&h2);
    assert_int_equal(snn_zarr_check_chunks(a, 0, &h2, &err), SNN_EINPUT);
    expect_msg(&err, "hostile.zarr", "chunk 1.2", "truncated");
    snn_error_clear(&err);
    snn_zarr_array_free(a);
    /* a missing chunk: fill when allowed, an error naming the chunk when the store must be whole */
    unlink(p);
    a = snn_zarr_open_array(g, "a", &err);
    assert_int_equal(snn_zarr_check_chunks(a, 0, NULL, &err), SNN_OK);
    assert_int_equal(snn_zarr_check_chunks(a, 1, NULL, &err), SNN_EINPUT);
    expect_msg(&err, "array a", "chunk 1.2 is missing", NULL);
    snn_error_clear(&err);
    snn_zarr_array_free(a);
    /* a FIFO in place of a chunk is refused at once, when checked and when read */
    assert_int_equal(mkfifo(p, 0666), 0);
    a = snn_zarr_open_array(g, "a", &err);
    assert_int_equal(snn_zarr_check_chunks(a, 1, NULL, &err), SNN_EINPUT);
    expect_msg(&err, "array a", "chunk 1.2", "not a regular file");
    snn_error_clear(&err);
    double all[60];
    assert_int_equal(snn_zarr_read_region(a, (int64_t[]){0, 0}, shape, all, &err), SNN_EINPUT);
    expect_msg(&err, "array a", "chunk 1.2", "not a regular file");
    snn_error_clear(&err);
    snn_zarr_array_free(a);
    unlink(p);

    /* metadata that disagrees with the chunks: another chunk shape, another separator */
    snprintf(p, sizeof p, "%s/a/.zarray", store);
    char *meta = NULL;
    size_t len = 0;
    assert_int_equal(snn_read_file(p, &meta, &len, &err), SNN_OK);
    char *c = strstr(meta, "\"chunks\"");
    assert_non_null(c);
    char edited[4096];
    snprintf(edited, sizeof edited, "%s", meta);
    char *q = strstr(edited, "        4\n") ? strstr(edited, "        4\n") : NULL;
    assert_non_null(q);
    q[8] = '5'; /* chunks [3, 5]: 120 bytes per chunk where the files hold 96 */
    write_text(store, "shape5", ".zarray", edited);
    assert_int_equal(tu_system("cp '%s/a/0.0' '%s/shape5/0.0'", store, store), 0);
    a = snn_zarr_open_array(g, "shape5", &err);
    assert_non_null(a);
    assert_int_equal(snn_zarr_check_chunks(a, 0, NULL, &err), SNN_EINPUT);
    expect_msg(&err, "shape5", "chunk 0.0", "decompresses to 96 bytes, expected 120");
    snn_error_clear(&err);
    snn_zarr_array_free(a);
    snprintf(edited, sizeof edited, "%s", meta);
    q = strstr(edited, "\"dimension_separator\": \".\"");
    assert_non_null(q);
    q[strlen("\"dimension_separator\": \"")] = '/';
    write_text(store, "a", ".zarray", edited);
    a = snn_zarr_open_array(g, "a", &err);
    assert_non_null(a);
    assert_int_equal(snn_zarr_check_chunks(a, 1, NULL, &err), SNN_EINPUT);
    expect_msg(&err, "chunk 0/0 is missing", "dimension_separator", NULL);
    snn_error_clear(&err);
    snn_zarr_array_free(a);
    free(meta);
    /* a FIFO as array metadata */
    snprintf(p, sizeof p, "%s/fifo_meta", store);
    assert_int_equal(mkdir(p, 0777), 0);
    snprintf(p, sizeof p, "%s/fifo_meta/.zarray", store);
    assert_int_equal(mkfifo(p, 0666), 0);
    open_fails(g, "fifo_meta", "not a regular file");
    snn_zarr_group_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_stores),
        cmocka_unit_test(test_c_writer_read_by_python),
        cmocka_unit_test(test_reads_python_v2),
        cmocka_unit_test(test_reads_v3_teacher_store),
        cmocka_unit_test(test_time_windows_across_chunks),
        cmocka_unit_test(test_errors_name_store_array_chunk),
        cmocka_unit_test(test_errors_format3),
        cmocka_unit_test(test_parallel_chunk_writes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
