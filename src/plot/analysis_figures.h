/* The figures and statistics of the analysis commands `snnfit compare` and `snnfit odourants`
 * (reference/figures.md sections 2.7, 3.4-3.7):
 *  F4/F6 windowed-rate correlograms: two panels, each a scatter of the windowed rates of one run
 *        against another (one dot per window and neuron), a dashed unity line and Pearson r;
 *  F5    the interleaved raster of neurons 0-9 (target and trained);
 *  F7    the density histogram of the odour-1 input rates.
 * Sizes: the reference's inches at its 150 dpi (docs/decisions.md "Analysis commands"). */
#ifndef SNNFIT_PLOT_ANALYSIS_FIGURES_H
#define SNNFIT_PLOT_ANALYSIS_FIGURES_H

#include <stdint.h>

#include "core/error.h"

/* The reference's window, 10 s (figures.md 2.7). */
#define SNN_ANALYSIS_WINDOW_MS 10000.0

/* The window in steps for a run of T steps: the reference's 10 s, shortened to T / 2 steps when the
 * run is shorter than two such windows, so that there are always at least two windows (the reference
 * raises an error when a 10 s window does not fit). 0 when T < 2 (no two windows fit at all). */
int64_t snn_analysis_window_steps(int64_t T, double dt);

/* Windowed rates (figures.md 2.7): W = T / w windows (trailing steps dropped), out[k * n + i] = spikes
 * of neuron i in window k / (w * dt / 1000) Hz, window-major then neuron (W * n values). spikes: [T][n]. */
void snn_windowed_rates(const uint8_t *spikes, int64_t T, int64_t n, int64_t w, double dt, double *out);

/* Pearson correlation of two vectors of n values (two-pass, in double); NaN when either is constant or
 * n < 2, as numpy's corrcoef. */
double snn_pearson(const double *a, const double *b, int64_t n);

/* One panel of a correlogram: points (a[k], b[k]), k < n_points, with its title (r is appended as
 * " (r=0.xxx)"), axis labels, and the numbers of its stats box. */
typedef struct snn_rate_scatter {
    const double *a, *b;
    int64_t n_points;
    double r;
    const char *title, *xlabel, *ylabel;
    int64_t n_windows, n_cells;
    double window_s;
    /* optional: the cell type of each of the n_cells neurons (point k is neuron k % n_cells) and the
     * types' names, to colour the points by type (NULL: one colour) */
    const int64_t *cell_type;
    int n_types;
    const char *const *type_names;
} snn_rate_scatter;

/* Two panels side by side, width x height pixels; square panels when equal_aspect (F4), else panels
 * filling the figure (F6). */
int snn_plot_rate_correlogram(const char *png, int width, int height, int equal_aspect,
                              const snn_rate_scatter panels[2], snn_error *err);

/* F5: rows 2i (target, red) and 2i + 1 (trained, blue) for neurons i < min(10, n); spikes [T][n]. */
int snn_plot_raster_comparison(const char *png, const uint8_t *target, const uint8_t *trained, int64_t T, int64_t n,
                               double dt, snn_error *err);

/* F7: histogram of n rates (Hz), 30 bins over [min, max], density, with the mean as a dashed line;
 * n_patterns goes into the title "(N neurons × P patterns)". */
int snn_plot_input_rate_histogram(const char *png, const double *rates, int64_t n, int n_patterns, snn_error *err);

#endif
