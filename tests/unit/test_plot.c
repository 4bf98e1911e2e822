/* Plotting: the statistics behind the dashboards (known values), the figure layer (a PNG that decodes,
 * has the asked size, and shows a known colour where a panel was filled; errors instead of exits), and
 * the three dashboards on a small synthetic network (decodable, right size, not blank, a known panel
 * colour). */
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

#include "core/fsutil.h"
#include "io/npz.h"
#include "config/params.h"
#include "model/structure.h"
#include "plot/dashboards.h"
#include "plot/figure.h"
#include "plot/stats.h"
#include "testutil.h"

/* ---------------------------------------------------------------- statistics */

static void test_population_rate_same_alignment(void **state) {
    (void)state;
    /* one neuron, one spike at step 10; K = 4: numpy 'same' puts it at steps 8..11 (2 before, 1 after) */
    uint8_t sp[20] = {0};
    sp[10] = 1;
    int64_t idx[1] = {0};
    double out[20];
    snn_population_rate(sp, 20, 1, idx, 1, 1.0, 4.0, out);
    for (int t = 0; t < 20; t++) assert_true(fabs(out[t] - ((t >= 9 && t <= 12) ? 250.0 : 0.0)) < 1e-9);
    /* K = 5: 2 before, 2 after */
    snn_population_rate(sp, 20, 1, idx, 1, 1.0, 5.0, out);
    for (int t = 0; t < 20; t++) assert_true(fabs(out[t] - ((t >= 8 && t <= 12) ? 200.0 : 0.0)) < 1e-9);
}

static void test_fano_cv_percentile(void **state) {
    (void)state;
    /* windows of 10 steps over T = 40 (4 windows) with counts 1, 3, 0, 2: mean 1.5, var(ddof 1) 5/3 */
    int64_t times[6] = {0, 10, 11, 12, 30, 35};
    assert_true(fabs(snn_fano_factor(times, 6, 40, 10) - (5.0 / 3.0) / 1.5) < 1e-12);
    assert_true(isnan(snn_fano_factor(times, 6, 15, 10)));  /* one window */
    assert_true(isnan(snn_fano_factor(times, 0, 40, 10)));  /* mean 0 */
    /* regular train: CV 0; fewer than 3 spikes: NaN; ISIs 1, 3: std(ddof 1) sqrt(2) / mean 2 */
    int64_t reg[4] = {0, 5, 10, 15}, two[2] = {0, 4}, irr[3] = {0, 1, 4};
    assert_true(fabs(snn_isi_cv(reg, 4)) < 1e-12);
    assert_true(isnan(snn_isi_cv(two, 2)));
    assert_true(fabs(snn_isi_cv(irr, 3) - sqrt(2.0) / 2.0) < 1e-12);
    double x[5] = {5, 1, 4, 2, 3};
    assert_true(fabs(snn_percentile(x, 5, 50) - 3) < 1e-12);
    double y[4] = {1, 2, 3, 4};
    assert_true(fabs(snn_percentile(y, 4, 25) - 1.75) < 1e-12);  /* numpy linear interpolation */
    double z[3] = {0.3, 0.31, 0.32};
    assert_true(fabs(snn_nice_limit(z, 3) - 0.5) < 1e-12);
    double w[2] = {0, 0};
    assert_true(snn_nice_limit(w, 2) == 1.0);
    uint8_t sp[3 * 2] = {1, 0, 0, 1, 1, 1};  /* [T=3][n=2] */
    int64_t *tm, *st;
    assert_int_equal(snn_spike_times(sp, 3, 2, &tm, &st), 0);
    assert_int_equal(st[1] - st[0], 2);
    assert_int_equal(tm[st[0]], 0);
    assert_int_equal(tm[st[0] + 1], 2);
    assert_int_equal(st[2] - st[1], 2);
    free(tm);
    free(st);
}

/* ---------------------------------------------------------------- PNG checks */

typedef struct png_info {
    int w, h;
    double variance;  /* of the grey level over all pixels */
} png_info;

static int png_load(const char *path, png_info *out, cairo_surface_t **keep) {
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return -1;
    }
    cairo_surface_flush(s);
    out->w = cairo_image_surface_get_width(s);
    out->h = cairo_image_surface_get_height(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    double sum = 0, ss = 0;
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++) {
            uint32_t p = *(const uint32_t *)(const void *)(d + y * stride + 4 * x);
            double g = (((p >> 16) & 255) + ((p >> 8) & 255) + (p & 255)) / 3.0;
            sum += g, ss += g * g;
        }
    double n = (double)out->w * out->h;
    out->variance = ss / n - (sum / n) * (sum / n);
    if (keep) *keep = s;
    else cairo_surface_destroy(s);
    return 0;
}

static void pixel(cairo_surface_t *s, int x, int y, int *r, int *g, int *b) {
    const unsigned char *d = cairo_image_surface_get_data(s);
    uint32_t p = *(const uint32_t *)(const void *)(d + y * cairo_image_surface_get_stride(s) + 4 * x);
    *r = (p >> 16) & 255, *g = (p >> 8) & 255, *b = p & 255;
}

static void test_figure_png(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    char png[600];
    snprintf(png, sizeof png, "%s/fig.png", dir);
    snn_error err = {0};
    snn_fig *f = snn_fig_begin(400, 300, 12, &err);
    assert_non_null(f);
    snn_fig_panel(f, 0.2, 0.8, 0.2, 0.8, 0, 10, 0, 1, 0);
    snn_fig_axes(f, SNN_AX_GRID);
    snn_fig_rect(f, 0, 10, 0, 1, SNN_COLOR(0, 0, 255), SNN_COLOR_A(0, 0, 0, 0), 0);
    double x[3] = {0, 5, 10}, y[3] = {0, 1, 0};
    snn_fig_line(f, 3, x, y, SNN_COLOR(255, 0, 0), 2, SNN_SOLID);
    snn_fig_title(f, "µ × τ", 1.2, 1, SNN_BLACK);
    snn_fig_xlabel(f, "Time (s)");
    snn_fig_ylabel(f, "Rate (Hz)");
    assert_int_equal(snn_fig_save(f, png, &err), 0);
    /* a folder that does not exist: an error naming the file, not an exit */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/missing/fig.png", dir);
    assert_int_not_equal(snn_fig_save(f, bad, &err), 0);
    assert_non_null(strstr(err.msg, "missing/fig.png"));
    snn_fig_end(f);

    png_info pi;
    cairo_surface_t *s;
    assert_int_equal(png_load(png, &pi, &s), 0);
    assert_int_equal(pi.w, 400);
    assert_int_equal(pi.h, 300);
    assert_true(pi.variance > 100);
    int r, g, b;
    pixel(s, 120, 200, &r, &g, &b);  /* inside the panel, below the line: the blue fill */
    assert_true(r < 20 && g < 20 && b > 235);
    pixel(s, 3, 3, &r, &g, &b);  /* the corner stays white */
    assert_true(r == 255 && g == 255 && b == 255);
    cairo_surface_destroy(s);
    /* no temporary left beside the PNG */
    char cmd[800];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    assert_int_equal(tu_system("%s", cmd), 0);
    tu_rmtree(dir);
}

/* ---------------------------------------------------------------- dashboards */

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* A 60-neuron network (48 excitatory, 12 inhibitory, 2 assemblies), 20 inputs, dense recurrent
 * weights of 1 from excitatory rows, and 3 s of random spikes with traces. */
static void make_inputs(const char *dir, const snn_params *p, snn_structure *s, char *traces) {
    snn_error err = {0};
    int64_t N = 60, M = 20, T = 3000;
    uint32_t seed = 7;
    float *wr = calloc((size_t)(N * N), sizeof *wr), *wf = calloc((size_t)(M * N), sizeof *wf);
    assert_true(wr && wf);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++)
            if (i != j) wr[i * N + j] = i < 48 ? 1.0f : 0.5f;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            if (lcg(&seed) % 4 == 0) wf[i * N + j] = (float)(lcg(&seed) % 1000) / 1000.0f + 0.01f;
    assert_int_equal(snn_structure_from_dense(s, N, M, wr, NULL, wf, NULL, &err), 0);
    free(wr);
    free(wf);
    for (int64_t j = 0; j < N; j++) {
        s->cell_types[j] = j < 48 ? 0 : 1;
        s->assembly_ids[j] = j < 48 ? (int32_t)(j / 24) : -1;
    }
    int S = p->rec.n_synapses + p->ff.n_synapses;
    uint8_t *out = calloc((size_t)(T * N), 1), *in = calloc((size_t)(T * M), 1);
    float *v = calloc((size_t)T, 4), *isyn = calloc((size_t)(T * S), 4), *leak = calloc((size_t)T, 4),
          *g = calloc((size_t)(T * 2 * S), 4), *ou = calloc((size_t)(T * 2), 4);
    uint8_t *names = calloc((size_t)S, 64);
    assert_true(out && in && v && isyn && leak && g && ou && names);
    for (int64_t t = 0; t < T; t++) {
        for (int64_t j = 0; j < N; j++) out[t * N + j] = lcg(&seed) % 1000 < (j < 48 ? 5u + (uint32_t)j / 8 : 30u);
        for (int64_t m = 0; m < M; m++) in[t * M + m] = lcg(&seed) % 1000 < 6;
        v[t] = (float)(-60 + 15 * sin(t * 0.05));
        for (int c = 0; c < S; c++) {
            g[(t * 2 + 0) * S + c] = -(float)(1 + sin(t * 0.01 + c));
            g[(t * 2 + 1) * S + c] = (float)(2 + 2 * sin(t * 0.01 + c));
            isyn[t * S + c] = (float)(c == 2 ? 30 : -20) * (float)(1 + sin(t * 0.02));
        }
        leak[t] = (float)(5 * cos(t * 0.03));
        ou[t * 2] = (float)(0.5 + 0.4 * sin(t * 0.002)), ou[t * 2 + 1] = 1 - ou[t * 2];
    }
    for (int c = 0; c < p->rec.n_synapses; c++) strcpy((char *)names + 64 * c, p->rec.synapses[c].name);
    for (int c = 0; c < p->ff.n_synapses; c++)
        strcpy((char *)names + 64 * (p->rec.n_synapses + c), p->ff.synapses[c].name);
    sprintf(traces, "%s/traces.npz", dir);
    snn_npz_writer *w = snn_npz_create(traces, 1, &err);
    assert_non_null(w);
    int64_t tn[2] = {T, N}, tm[2] = {T, M}, t1[1] = {T}, ts[2] = {T, S}, t2s[3] = {T, 2, S}, nm[2] = {S, 64},
            to[2] = {T, 2};
    assert_int_equal(snn_npz_add_scalar_f64(w, "dt", 1.0, &err), 0);
    assert_int_equal(snn_npz_add(w, "output_spikes", SNN_BOOL, 2, tn, out, &err), 0);
    assert_int_equal(snn_npz_add(w, "input_spikes", SNN_BOOL, 2, tm, in, &err), 0);
    assert_int_equal(snn_npz_add_scalar_i64(w, "selected_neuron", 3, &err), 0);
    assert_int_equal(snn_npz_add(w, "voltage", SNN_F32, 1, t1, v, &err), 0);
    assert_int_equal(snn_npz_add(w, "synaptic_currents", SNN_F32, 2, ts, isyn, &err), 0);
    assert_int_equal(snn_npz_add(w, "leak_current", SNN_F32, 1, t1, leak, &err), 0);
    assert_int_equal(snn_npz_add(w, "conductances", SNN_F32, 3, t2s, g, &err), 0);
    assert_int_equal(snn_npz_add(w, "synapse_names", SNN_U8, 2, nm, names, &err), 0);
    assert_int_equal(snn_npz_add(w, "ou_process_weights", SNN_F32, 2, to, ou, &err), 0);
    assert_int_equal(snn_npz_close(w, &err), 0);
    free(out), free(in), free(v), free(isyn), free(leak), free(g), free(ou), free(names);
}

static void test_dashboards(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    snn_error err = {0};
    snn_params *p = calloc(1, sizeof *p);
    assert_non_null(p);
    assert_int_equal(snn_params_load(tu_src("parameters/demo-teacher.toml"), SNN_STAGE_TEACHER, p, &err), 0);
    snn_structure s = {0};
    char traces[600], figs[700], png[800];
    make_inputs(dir, p, &s, traces);
    assert_int_equal(snn_plot_dashboards(dir, traces, &s, p, 1, &err), 0);
    snprintf(figs, sizeof figs, "%s/figures", dir);

    static const struct {
        const char *name;
        int w, h;
    } want[3] = {{"connectivity_dashboard.png", 2400, 1600},
                 {"activity_dashboard.png", 2400, 1600},
                 {"assembly_activity_dashboard.png", 2400, 900}};
    for (int i = 0; i < 3; i++) {
        snprintf(png, sizeof png, "%s/%s", figs, want[i].name);
        png_info pi;
        cairo_surface_t *img;
        assert_int_equal(png_load(png, &pi, &img), 0);
        assert_int_equal(pi.w, want[i].w);
        assert_int_equal(pi.h, want[i].h);
        assert_true(pi.variance > 200);  /* a blank white page has 0 */
        if (i == 0) {
            /* the signed recurrent matrix shows rows 0..5 (10 % of 60), all excitatory with weight 1:
             * pure red off the diagonal (bwr at +1). Its panel spans x 0.0675..0.3775, y 0.06..0.62. */
            int r, g, b;
            pixel(img, (int)(0.36 * 2400), (int)((1 - 0.58) * 1600), &r, &g, &b);
            assert_true(r > 240 && g < 15 && b < 15);
        }
        if (i == 2) {
            /* OU weights: one trace is tab20 colour 0 (#1f77b4) somewhere in the right panel */
            int found = 0;
            for (int y = 110; y < 800 && !found; y++)
                for (int x = 1340; x < 2360 && !found; x++) {
                    int r, g, b;
                    pixel(img, x, y, &r, &g, &b);
                    found = abs(r - 0x1f) < 40 && abs(g - 0x77) < 40 && abs(b - 0xb4) < 40;
                }
            assert_true(found);
        }
        cairo_surface_destroy(img);
    }
    /* a traces file that is not there: an input error naming it */
    snprintf(png, sizeof png, "%s/x.png", figs);
    assert_int_not_equal(snn_plot_activity(png, "/nonexistent/traces.npz", &s, p, &err), 0);
    assert_non_null(strstr(err.msg, "/nonexistent/traces.npz"));
    assert_false(snn_path_exists(png));
    snn_structure_free(&s);
    free(p);
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_population_rate_same_alignment),
        cmocka_unit_test(test_fano_cv_percentile),
        cmocka_unit_test(test_figure_png),
        cmocka_unit_test(test_dashboards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
