/* training_metrics.csv: Python repr formatting against Python itself (tests/py/repr_oracle.py), rows
 * read back by Python's csv module + float() (tests/py/metrics_check.py), resume truncation and its
 * errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "io/metrics.h"
#include "testutil.h"

static double from_bits(uint64_t b) {
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static uint64_t to_bits(double x) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static char *slurp(const char *path) {
    snn_error err = {0};
    char *data = NULL;
    size_t len;
    if (snn_read_file(path, &data, &len, &err)) fail_msg("%s", err.msg);
    return data;
}

static void test_repr_known_values(void **state) {
    (void)state;
    static const struct {
        double x;
        const char *s;
    } cases[] = {
        {1e16, "1e+16"},
        {1e-05, "1e-05"},
        {0.0001, "0.0001"},
        {123456789012345.0, "123456789012345.0"},
        {2.0, "2.0"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
        {0.1, "0.1"},
        {0.30000000000000004, "0.30000000000000004"},
        {(double)0.4f, "0.4000000059604645"},
        {1e15, "1000000000000000.0"},
        {9999999999999998.0, "9999999999999998.0"},
        {1.5e16, "1.5e+16"},
        {-1.25e-7, "-1.25e-07"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {1e100, "1e+100"},
        {0.00012345, "0.00012345"},
        {123.456, "123.456"},
        {-42.0, "-42.0"},
        {INFINITY, "inf"},
        {-INFINITY, "-inf"},
        {NAN, "nan"},
        {-NAN, "nan"},
        /* a power of two where the correctly rounded shortest candidate does not read back but the
         * next one up does (lopsided rounding interval) */
        {0x1p-1017, "7.120236347223045e-307"},
        {0x1p-1022, "2.2250738585072014e-308"},
        {9007199254740992.0, "9007199254740992.0"},
        {0x1p+60, "1.152921504606847e+18"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snn_format_repr(cases[i].x, buf, sizeof buf);
        if (strcmp(buf, cases[i].s) != 0)
            fail_msg("repr(%.17g): got '%s', expected '%s'", cases[i].x, buf, cases[i].s);
    }
}

/* Every value of the oracle formats exactly as Python's repr, and the lopsided power-of-two case, for
 * which the plain "shortest %.*e that reads back" search gives a digit too many, occurs among them. */
static void test_repr_against_python(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/repr.txt", dir);
    assert_int_equal(tu_python("repr_oracle.py", "%s", path), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[128], want[64], buf[32];
    uint64_t bits;
    int n = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        assert_int_equal(sscanf(line, "%" SCNx64 " %63s", &bits, want), 2);
        snn_format_repr(from_bits(bits), buf, sizeof buf);
        if (strcmp(buf, want) != 0 && bad++ < 10)
            print_error("bits %016" PRIx64 ": got '%s', Python '%s'\n", bits, buf, want);
        n++;
    }
    fclose(f);
    tu_rmtree(dir);
    assert_int_equal(bad, 0);
    assert_true(n > 30000);
}

/* A short buffer gets a truncated, NUL-terminated string. */
static void test_repr_small_buffer(void **state) {
    (void)state;
    char buf[5];
    snn_format_repr(0.30000000000000004, buf, sizeof buf);
    assert_string_equal(buf, "0.30");
}

/* includes a name that Python's csv module must quote */
static const char *const NAMES[] = {"total_loss",         "firing_rate/mean/E",
                                    "cv/std/I",           "scaling_factors/recurrent/E_to_I/value",
                                    "odd, \"quoted\" name", "seconds_per_iteration"};
#define NCOLS 6

/* Values of every kind for row r, column c; missing on a pattern. */
static double cell_value(int r, int c, uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    double u = (double)(*s >> 11) / 9007199254740992.0;
    switch ((r + c) % 7) {
    case 0: return (double)(float)(u * 10.0);  /* float32-derived */
    case 1: return u * pow(10.0, (double)((int)(*s % 60) - 30));
    case 2: return -u * 1e-6;
    case 3: return floor(u * 1e6);
    case 4: return r == 2 ? NAN : (r == 3 ? INFINITY : (r == 4 ? -INFINITY : u));
    case 5: return r == 5 ? -0.0 : 1e16 * (1 + floor(u * 10));
    default: return u;
    }
}

static void write_rows(snn_metrics *m, FILE *expect, int from, int to, uint64_t *seed) {
    snn_error err = {0};
    for (int r = from; r <= to; r++) {
        double v[NCOLS];
        uint8_t present[NCOLS];
        if (expect) fprintf(expect, "%d", r);
        for (int c = 0; c < NCOLS; c++) {
            v[c] = cell_value(r, c, seed);
            present[c] = (r * 3 + c) % 5 != 1;
            if (!expect) continue;
            /* a statistic that does not exist (NaN) is an empty field, like a missing value */
            if (present[c] && !(isnan(v[c]) && snn_metrics_is_statistic(NAMES[c])))
                fprintf(expect, " %016" PRIx64, to_bits(v[c]));
            else
                fprintf(expect, " -");
        }
        if (expect) fprintf(expect, "\n");
        if (snn_metrics_row(m, r, v, present, &err)) fail_msg("%s", err.msg);
    }
}

static void test_rows_round_trip_through_python_csv(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char csv[600], exp[600];
    snprintf(csv, sizeof csv, "%s/training_metrics.csv", dir);
    snprintf(exp, sizeof exp, "%s/expected.txt", dir);
    FILE *e = fopen(exp, "w");
    assert_non_null(e);
    for (int c = 0; c < NCOLS; c++) fprintf(e, "%s%s", c ? "\t" : "", NAMES[c]);
    fprintf(e, "\n");
    snn_error err = {0};
    snn_metrics m;
    assert_int_equal(snn_metrics_open(&m, csv, NCOLS, NAMES, &err), SNN_OK);
    uint64_t seed = 12345;
    write_rows(&m, e, 1, 60, &seed);
    /* every row is on disk as soon as it is written, before close */
    fclose(e);
    assert_int_equal(tu_python("metrics_check.py", "%s %s", csv, exp), 0);
    /* present == NULL: all cells present */
    double all[NCOLS] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(snn_metrics_row(&m, 61, all, NULL, &err), SNN_OK);
    /* NaN: empty in the statistics columns (a CV of a window without 3 spikes), "nan" in a loss */
    double undefined[NCOLS] = {NAN, NAN, NAN, NAN, 5, 6};
    assert_int_equal(snn_metrics_row(&m, 62, undefined, NULL, &err), SNN_OK);
    snn_metrics_close(&m);
    snn_metrics_close(&m); /* a second close does no harm */
    char *text = slurp(csv);
    assert_non_null(strstr(text, "\n61,1.0,2.0,3.0,4.0,5.0,6.0\n"));
    assert_non_null(strstr(text, "\n62,nan,,,nan,5.0,6.0\n"));
    assert_memory_equal(text, "epoch,total_loss,firing_rate/mean/E,", 36);
    free(text);
    tu_rmtree(dir);
}

static void write_run(const char *path, int rows, uint64_t seed) {
    snn_error err = {0};
    snn_metrics m;
    if (snn_metrics_open(&m, path, NCOLS, NAMES, &err)) fail_msg("%s", err.msg);
    write_rows(&m, NULL, 1, rows, &seed);
    snn_metrics_close(&m);
}

/* An interrupted run (rows past the checkpoint and a half-written row) resumed at the checkpoint ends
 * with exactly the file of an uninterrupted run. */
static void test_resume_truncates_to_checkpoint(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/interrupted.csv", dir);
    snprintf(b, sizeof b, "%s/uninterrupted.csv", dir);
    write_run(b, 9, 777);

    /* the interrupted run: rows 1..6 with the same values, then a torn row 7 */
    write_run(a, 6, 777);
    FILE *f = fopen(a, "ab");
    fputs("7,0.123,4", f);
    fclose(f);

    snn_error err = {0};
    snn_metrics m;
    assert_int_equal(snn_metrics_open_resume(&m, a, NCOLS, NAMES, 4, &err), SNN_OK);
    /* rows 5, 6 and the torn row are gone at once, before anything is appended */
    char *text = slurp(a);
    assert_non_null(strstr(text, "\n4,"));
    assert_null(strstr(text, "\n5,"));
    assert_null(strstr(text, "\n7,"));
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);
    /* continue from the checkpoint: the same values as the uninterrupted run's rows 5..9 */
    uint64_t seed = 777;
    for (int r = 1; r <= 4; r++)
        for (int c = 0; c < NCOLS; c++) (void)cell_value(r, c, &seed);
    write_rows(&m, NULL, 5, 9, &seed);
    snn_metrics_close(&m);
    char *ta = slurp(a), *tb = slurp(b);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);

    /* resuming past the last row keeps every complete row and drops only a torn tail */
    f = fopen(a, "ab");
    fputs("10,1.5", f);
    fclose(f);
    assert_int_equal(snn_metrics_open_resume(&m, a, NCOLS, NAMES, 100, &err), SNN_OK);
    snn_metrics_close(&m);
    ta = slurp(a);
    tb = slurp(b);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);

    /* resuming at epoch 0 keeps the header only */
    assert_int_equal(snn_metrics_open_resume(&m, a, NCOLS, NAMES, 0, &err), SNN_OK);
    snn_metrics_close(&m);
    ta = slurp(a);
    assert_string_equal(strchr(ta, '\n'), "\n");
    free(ta);
    /* no temporary files left behind */
    assert_int_equal(tu_system("test $(ls -A %s | wc -l) -eq 2", dir), 0);
    tu_rmtree(dir);
}

static void test_resume_errors(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char a[600], missing[600];
    snprintf(a, sizeof a, "%s/training_metrics.csv", dir);
    snprintf(missing, sizeof missing, "%s/nothing.csv", dir);
    write_run(a, 3, 5);
    char *before = slurp(a);
    snn_error err = {0};
    snn_metrics m;

    /* a renamed column */
    const char *other[NCOLS];
    memcpy(other, NAMES, sizeof other);
    other[2] = "cv/std/E";
    assert_int_equal(snn_metrics_open_resume(&m, a, NCOLS, other, 2, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, a));
    assert_non_null(strstr(err.msg, "header"));
    assert_non_null(strstr(err.msg, "cv/std/E"));
    snn_metrics_close(&m);
    /* one column fewer (a prefix of the header must not pass) */
    snn_error_clear(&err);
    assert_int_equal(snn_metrics_open_resume(&m, a, NCOLS - 1, NAMES, 2, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, a));
    snn_metrics_close(&m);
    /* the file is untouched by a failed resume */
    char *after = slurp(a);
    assert_string_equal(before, after);
    free(after);

    /* missing file */
    snn_error_clear(&err);
    assert_int_equal(snn_metrics_open_resume(&m, missing, NCOLS, NAMES, 2, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, missing));
    assert_null(m.fp);
    assert_int_equal(snn_path_exists(missing), 0);

    /* a complete line that is not a row */
    FILE *f = fopen(a, "ab");
    fputs("garbage,1\n", f);
    fclose(f);
    snn_error_clear(&err);
    assert_int_equal(snn_metrics_open_resume(&m, a, NCOLS, NAMES, 10, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "line 5"));
    snn_metrics_close(&m);

    /* writing to a closed logger is an error, not a crash */
    double v[NCOLS] = {0};
    snn_error_clear(&err);
    assert_int_equal(snn_metrics_row(&m, 1, v, NULL, &err), SNN_ERUN);

    /* open replaces an existing file */
    assert_int_equal(snn_metrics_open(&m, a, 1, NAMES, &err), SNN_OK);
    snn_metrics_close(&m);
    after = slurp(a);
    assert_string_equal(after, "epoch,total_loss\n");
    free(after);
    free(before);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repr_known_values),
        cmocka_unit_test(test_repr_against_python),
        cmocka_unit_test(test_repr_small_buffer),
        cmocka_unit_test(test_rows_round_trip_through_python_csv),
        cmocka_unit_test(test_resume_truncates_to_checkpoint),
        cmocka_unit_test(test_resume_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
