/* The statistics of the analysis commands (reference/figures.md 2.7): the window rule (10 s, or half a
 * shorter run), windowed rates (window-major, trailing steps dropped, Hz) and Pearson r (numpy's
 * corrcoef on known vectors, NaN for a constant vector); the three analysis figures are written, have
 * their planned sizes and are not blank. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cairo.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "plot/analysis_figures.h"

static void test_window_rule(void **state) {
    (void)state;
    assert_int_equal(snn_analysis_window_steps(20000, 1.0), 10000);
    assert_int_equal(snn_analysis_window_steps(50000, 1.0), 10000);
    /* the reference's 5 s compare run: its 10 s window does not fit; half the run does */
    assert_int_equal(snn_analysis_window_steps(5000, 1.0), 2500);
    assert_int_equal(snn_analysis_window_steps(4001, 1.0), 2000);
    assert_int_equal(snn_analysis_window_steps(40000, 0.5), 20000);
    assert_int_equal(snn_analysis_window_steps(1, 1.0), 0);
}

static void test_windowed_rates(void **state) {
    (void)state;
    /* T = 7 steps of 1 ms, 2 neurons, windows of 3 steps: 2 windows, step 6 dropped */
    uint8_t sp[7 * 2] = {1, 0, 1, 1, 0, 0, /* window 0 */ 0, 1, 0, 1, 1, 1, /* window 1 */ 1, 1};
    double out[4];
    snn_windowed_rates(sp, 7, 2, 3, 1.0, out);
    double want[4] = {2 / 0.003, 1 / 0.003, 1 / 0.003, 3 / 0.003};
    for (int k = 0; k < 4; k++) assert_true(fabs(out[k] - want[k]) < 1e-9);
}

static void test_pearson(void **state) {
    (void)state;
    double a[5] = {1, 2, 3, 4, 5}, b[5] = {2, 4, 5, 4, 5}, c[5] = {3, 3, 3, 3, 3}, d[5] = {5, 4, 3, 2, 1};
    /* numpy.corrcoef([1,2,3,4,5], [2,4,5,4,5])[0,1] */
    assert_true(fabs(snn_pearson(a, b, 5) - 0.7745966692414834) < 1e-12);
    assert_true(snn_pearson(a, a, 5) == 1.0);
    assert_true(fabs(snn_pearson(a, d, 5) + 1.0) < 1e-15);
    assert_true(isnan(snn_pearson(a, c, 5)));
    assert_true(isnan(snn_pearson(a, b, 1)));
}

static void check_png(const char *path, int w, int h) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    assert_int_equal(cairo_image_surface_get_width(s), w);
    assert_int_equal(cairo_image_surface_get_height(s), h);
    /* not blank: some pixels are not white */
    cairo_surface_flush(s);
    const unsigned char *px = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    long dark = 0;
    for (int y = 0; y < h; y += 2)
        for (int x = 0; x < w; x += 2) {
            const unsigned char *p = px + y * stride + 4 * x;
            dark += p[0] < 200 || p[1] < 200 || p[2] < 200;
        }
    assert_true(dark > 100);
    cairo_surface_destroy(s);
}

static void test_figures(void **state) {
    (void)state;
    char dir[200], path[512];
    const char *tmp = tu_tmpdir();
    assert_non_null(tmp);
    snprintf(dir, sizeof dir, "%s", tmp);
    enum { T = 400, N = 12 };
    uint8_t *a = calloc(T * N, 1), *b = calloc(T * N, 1);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < N; j++) {
            a[t * N + j] = (t * 7 + j * 13) % (5 + j) == 0;
            b[t * N + j] = (t * 5 + j * 11) % (5 + j) == 0;
        }
    double ra[2 * N], rb[2 * N];
    snn_windowed_rates(a, T, N, 200, 1.0, ra);
    snn_windowed_rates(b, T, N, 200, 1.0, rb);
    snn_error err = {0};
    /* one panel coloured by cell type, one in a single colour */
    int64_t types[N];
    for (int j = 0; j < N; j++) types[j] = j % 4 == 0;
    const char *names[2] = {"excitatory", "inhibitory"};
    snn_rate_scatter p[2] = {{ra, rb, 2 * N, snn_pearson(ra, rb, 2 * N), "A vs B", "A (Hz)", "B (Hz)", 2, N, 0.2,
                              types, 2, names},
                             {ra, ra, 2 * N, 1.0, "A vs A", "A (Hz)", "A (Hz)", 2, N, 0.2, NULL, 0, NULL}};
    snprintf(path, sizeof path, "%s/corr.png", dir);
    assert_int_equal(snn_plot_rate_correlogram(path, 2100, 1050, 1, p, &err), 0);
    check_png(path, 2100, 1050);
    remove(path);
    snprintf(path, sizeof path, "%s/raster.png", dir);
    assert_int_equal(snn_plot_raster_comparison(path, a, b, T, N, 1.0, &err), 0);
    check_png(path, 2100, 1200);
    remove(path);
    double rates[6] = {2.5, 2.5, 2.5, 36, 2.5, 2.5};
    snprintf(path, sizeof path, "%s/hist.png", dir);
    assert_int_equal(snn_plot_input_rate_histogram(path, rates, 6, 1, &err), 0);
    check_png(path, 1200, 900);
    remove(path);
    /* a bad path is an error naming it, not an exit */
    snprintf(path, sizeof path, "%s/missing/hist.png", dir);
    assert_int_not_equal(snn_plot_input_rate_histogram(path, rates, 6, 1, &err), 0);
    assert_non_null(strstr(err.msg, "missing/hist.png"));
    free(a);
    free(b);
    remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_rule),
        cmocka_unit_test(test_windowed_rates),
        cmocka_unit_test(test_pearson),
        cmocka_unit_test(test_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
