#include "plot/analysis_figures.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/figure.h"

/* cell types named in a correlogram's legend */
#define SNN_MAX_LEGEND_TYPES 8

/* The reference saves these figures at 150 dpi with matplotlib's 10 pt text (21 px at 150 dpi); a
 * little smaller keeps its long titles inside their panels. */
#define ANA_FONT 19.0

int64_t snn_analysis_window_steps(int64_t T, double dt) {
    int64_t w = (int64_t)(SNN_ANALYSIS_WINDOW_MS / dt + 0.5);
    if (w < 1) w = 1;
    if (2 * w > T) w = T / 2;
    return w;
}

void snn_windowed_rates(const uint8_t *spikes, int64_t T, int64_t n, int64_t w, double dt, double *out) {
    int64_t W = w > 0 ? T / w : 0;
    double secs = (double)w * dt / 1000.0;
    for (int64_t k = 0; k < W; k++) {
        double *o = out + k * n;
        for (int64_t i = 0; i < n; i++) o[i] = 0;
        for (int64_t t = k * w; t < (k + 1) * w; t++) {
            const uint8_t *s = spikes + t * n;
            for (int64_t i = 0; i < n; i++) o[i] += s[i];
        }
        for (int64_t i = 0; i < n; i++) o[i] /= secs;
    }
}

double snn_pearson(const double *a, const double *b, int64_t n) {
    if (n < 2) return NAN;
    double ma = 0, mb = 0;
    for (int64_t k = 0; k < n; k++) ma += a[k], mb += b[k];
    ma /= (double)n, mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (int64_t k = 0; k < n; k++) {
        double x = a[k] - ma, y = b[k] - mb;
        sab += x * y, saa += x * x, sbb += y * y;
    }
    if (saa <= 0 || sbb <= 0) return NAN;
    double r = sab / sqrt(saa * sbb);
    /* rounding may step just outside [-1, 1] for identical vectors */
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

static int save_and_end(snn_fig *f, const char *png, snn_error *err) {
    int rc = snn_fig_save(f, png, err);
    snn_fig_end(f);
    return rc;
}

/* ---------------------------------------------------------------- F4 / F6 */

static void draw_scatter(snn_fig *f, const snn_rate_scatter *p, double x0, double x1, double y0, double y1) {
    double m = 0;
    for (int64_t k = 0; k < p->n_points; k++) {
        if (isfinite(p->a[k]) && p->a[k] > m) m = p->a[k];
        if (isfinite(p->b[k]) && p->b[k] > m) m = p->b[k];
    }
    /* all silent: a unit range rather than a degenerate one */
    if (m <= 0) m = 1;
    snn_fig_panel(f, x0, x1, y0, y1, -0.05 * m, 1.05 * m, -0.05 * m, 1.05 * m, 0);
    snn_fig_axes(f, SNN_AX_GRID);
    double ux[2] = {0, m}, uy[2] = {0, m};
    snn_fig_line(f, 2, ux, uy, SNN_COLOR_A(0, 0, 0, 0.5), 2.0, SNN_DASHED);
    /* dots coloured by cell type as in the dashboards, strong enough to see; more transparent when
     * there are many, so that dense clouds still show their density */
    double alpha = p->n_points <= 2000 ? 0.65 : p->n_points <= 20000 ? 0.4 : 0.25;
    double radius = p->n_points <= 2000 ? 4.5 : 3.5;
    snn_legend_entry le[SNN_MAX_LEGEND_TYPES + 2];
    char lab[SNN_MAX_LEGEND_TYPES][96];
    int nle = 0;
    if (p->cell_type && p->n_cells > 0 && p->n_types > 0) {
        double *xa = malloc((size_t)(p->n_points + 1) * sizeof *xa);
        double *xb = malloc((size_t)(p->n_points + 1) * sizeof *xb);
        for (int t = 0; xa && xb && t < p->n_types; t++) {
            int64_t k = 0, cells = 0;
            for (int64_t i = 0; i < p->n_points; i++)
                if (p->cell_type[i % p->n_cells] == t) xa[k] = p->a[i], xb[k] = p->b[i], k++;
            for (int64_t j = 0; j < p->n_cells; j++) cells += p->cell_type[j] == t;
            snn_fig_dots(f, k, xa, xb, snn_color_alpha(snn_color_cell_type(t), alpha), radius);
            if (t < SNN_MAX_LEGEND_TYPES && cells > 0) {
                char name[64];
                snprintf(name, sizeof name, "%s", p->type_names && p->type_names[t] ? p->type_names[t] : "type");
                if (name[0] >= 'a' && name[0] <= 'z') name[0] = (char)(name[0] - 32);
                snprintf(lab[nle], sizeof lab[0], "%s (%lld cells)", name, (long long)cells);
                le[nle] = (snn_legend_entry){SNN_LEG_DOT, snn_color_cell_type(t), SNN_SOLID, lab[nle]};
                nle++;
            }
        }
        free(xa);
        free(xb);
    } else {
        snn_fig_dots(f, p->n_points, p->a, p->b, snn_color_alpha(snn_color_hex("#4682B4"), alpha), radius);
    }
    char buf[512];
    if (isfinite(p->r)) snprintf(buf, sizeof buf, "%s (r=%.3f)", p->title, p->r);
    else snprintf(buf, sizeof buf, "%s (r=nan)", p->title);
    snn_fig_title(f, buf, 1.1, 0, SNN_BLACK);
    snn_fig_xlabel(f, p->xlabel);
    snn_fig_ylabel(f, p->ylabel);
    /* the reference's stats box (lost there when the panel is copied), which shows the window in force,
     * as the legend's last line: one box, placed where the dots are not */
    le[nle++] = (snn_legend_entry){SNN_LEG_LINE, SNN_COLOR_A(0, 0, 0, 0.5), SNN_DASHED, "Unity"};
    snprintf(buf, sizeof buf, "%lld windows of %.2f s, %lld cells: %lld points", (long long)p->n_windows, p->window_s,
             (long long)p->n_cells, (long long)p->n_points);
    le[nle++] = (snn_legend_entry){SNN_LEG_NONE, SNN_BLACK, SNN_SOLID, buf};
    snn_fig_legend(f, nle, le, SNN_LEGEND_BEST, 0.85);
}

int snn_plot_rate_correlogram(const char *png, int width, int height, int equal_aspect,
                              const snn_rate_scatter panels[2], snn_error *err) {
    snn_fig *f = snn_fig_begin(width, height, ANA_FONT, err);
    if (!f) return err && err->code ? err->code : SNN_ERUN;
    /* margins in pixels: tick numbers and the y label on the left, the title above, the x label below */
    double left = 7.0 * ANA_FONT, top = 3.2 * ANA_FONT, bottom = 5.0 * ANA_FONT, right = 1.5 * ANA_FONT;
    double W = width, H = height, half = W / 2;
    for (int q = 0; q < 2; q++) {
        double px0 = q * half + left, px1 = (q + 1) * half - right, py0 = bottom, py1 = H - top;
        if (equal_aspect) {
            /* square panels, centred in their half */
            double side = fmin(px1 - px0, py1 - py0), cx = (px0 + px1) / 2, cy = (py0 + py1) / 2;
            px0 = cx - side / 2, px1 = cx + side / 2, py0 = cy - side / 2, py1 = cy + side / 2;
        }
        draw_scatter(f, &panels[q], px0 / W, px1 / W, py0 / H, py1 / H);
    }
    return save_and_end(f, png, err);
}

/* ---------------------------------------------------------------- F5 */

int snn_plot_raster_comparison(const char *png, const uint8_t *target, const uint8_t *trained, int64_t T, int64_t n,
                               double dt, snn_error *err) {
    int64_t k = n < 10 ? n : 10;
    double *x = malloc((size_t)(T > 0 ? T : 1) * sizeof *x), *y = malloc((size_t)(T > 0 ? T : 1) * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return snn_fail(err, SNN_ERUN, "%s: out of memory drawing the raster", png);
    }
    snn_fig *f = snn_fig_begin(2100, 1200, ANA_FONT, err);
    if (!f) {
        free(x);
        free(y);
        return err && err->code ? err->code : SNN_ERUN;
    }
    double tmax = (double)T * dt / 1000.0 + 0.01;
    snn_fig_panel(f, 0.055, 0.985, 0.075, 0.935, 0, tmax, -0.5, 2.0 * (double)(k > 0 ? k : 1) - 0.5, 0);
    snn_fig_axes(f, SNN_AX_NO_YTICKS);
    const snn_color red = snn_color_hex("#FF0000"), blue = snn_color_hex("#0000FF");
    for (int64_t i = 0; i < k; i++)
        for (int which = 0; which < 2; which++) {
            const uint8_t *s = which ? trained : target;
            int64_t m = 0;
            for (int64_t t = 0; t < T; t++)
                if (s[t * n + i]) x[m] = (double)t * dt / 1000.0, y[m] = (double)(2 * i + which), m++;
            /* the reference's 1 pt^2 dots are hard to see on a 2100-px figure: 2 px radius */
            snn_fig_dots(f, m, x, y, which ? blue : red, 2.0);
        }
    double pos[10];
    char lab[10][8];
    const char *labp[10];
    for (int64_t i = 0; i < k; i++) {
        pos[i] = 2.0 * (double)i + 0.5;
        snprintf(lab[i], sizeof lab[i], "%lld", (long long)i);
        labp[i] = lab[i];
    }
    snn_fig_yticks(f, (int)k, pos, labp, NULL, 0);
    snn_legend_entry le[2] = {{SNN_LEG_PATCH, red, SNN_SOLID, "Target"}, {SNN_LEG_PATCH, blue, SNN_SOLID, "Trained"}};
    snn_fig_legend(f, 2, le, SNN_RIGHT | SNN_LEGEND_ABOVE, 0.9);
    snn_fig_title(f, "Spike Raster: Target vs Trained (First 10 Neurons, Interleaved)", 1.15, 0, SNN_BLACK);
    snn_fig_xlabel(f, "Time (s)");
    snn_fig_ylabel_at(f, "Neuron ID", 2.0 * ANA_FONT);
    free(x);
    free(y);
    return save_and_end(f, png, err);
}

/* ---------------------------------------------------------------- F7 */

int snn_plot_input_rate_histogram(const char *png, const double *rates, int64_t n, int n_patterns, snn_error *err) {
    enum { NB = 30 };
    double lo = INFINITY, hi = -INFINITY, mean = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = fmin(lo, rates[i]), hi = fmax(hi, rates[i]);
        mean += rates[i];
    }
    if (n > 0) mean /= (double)n;
    else lo = 0, hi = 1;
    /* numpy widens an empty range by 0.5 on each side */
    if (hi <= lo) lo -= 0.5, hi += 0.5;
    double edges[NB + 1], dens[NB] = {0}, width = (hi - lo) / NB, dmax = 0;
    for (int b = 0; b <= NB; b++) edges[b] = lo + (hi - lo) * b / NB;
    for (int64_t i = 0; i < n; i++) {
        int b = (int)((rates[i] - lo) / (hi - lo) * NB);
        /* the last bin is closed, as numpy's */
        if (b >= NB) b = NB - 1;
        if (b < 0) b = 0;
        dens[b] += 1;
    }
    for (int b = 0; b < NB; b++) {
        dens[b] = n > 0 ? dens[b] / ((double)n * width) : 0;
        dmax = fmax(dmax, dens[b]);
    }
    snn_fig *f = snn_fig_begin(1200, 900, ANA_FONT, err);
    if (!f) return err && err->code ? err->code : SNN_ERUN;
    double pad = 0.05 * (hi - lo);
    snn_color red = SNN_COLOR_A(255, 0, 0, 0.7);
    char buf[128];
    snprintf(buf, sizeof buf, "Mean = %.2f Hz", mean);
    snn_legend_entry le[1] = {{SNN_LEG_LINE, red, SNN_DASHED, buf}};
    snn_fig_panel(f, 0.11, 0.97, 0.1, 0.85, lo - pad, hi + pad, 0, dmax > 0 ? dmax * 1.05 : 1, 0);
    double top = snn_fig_legend_headroom(f, 1, le, 0.9, NB, edges, dens, dmax > 0 ? dmax * 1.05 : 1);
    snn_fig_window(f, lo - pad, hi + pad, 0, top);
    snn_fig_axes(f, SNN_AX_GRID_Y);
    snn_fig_bars(f, NB, edges, dens, snn_color_alpha(snn_color_hex("#1F77B4"), 0.7), SNN_BLACK);
    snn_fig_vline(f, mean, red, 3.0, SNN_DASHED);
    snn_fig_legend(f, 1, le, SNN_LEGEND_BEST, 0.9);
    snn_fig_text(f, 0.5, 1.075, "Input Neuron Firing Rate Distribution", 1.15, SNN_BLACK, SNN_CENTER | SNN_BOTTOM, 0);
    snprintf(buf, sizeof buf, "(%lld neurons \xc3\x97 %d patterns)", (long long)n, n_patterns);
    snn_fig_text(f, 0.5, 1.02, buf, 1.15, SNN_BLACK, SNN_CENTER | SNN_BOTTOM, 0);
    snn_fig_xlabel(f, "Firing Rate (Hz)");
    /* the reference says "Fraction (Density)" over a density */
    snn_fig_ylabel(f, "Density");
    return save_and_end(f, png, err);
}
