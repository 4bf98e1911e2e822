/* The statistics the dashboards show, as reference/figures.md section 2 defines them (per-neuron
 * spike trains of one trial, [step][neuron] 0/1 bytes): percentiles, the "nice" axis limit, box-car
 * population rates, Fano factors, inter-spike intervals and a Gaussian kernel density estimate.
 * Rates and CVs per neuron come from model/spike_stats.h. */
#ifndef SNNFIT_PLOT_STATS_H
#define SNNFIT_PLOT_STATS_H

#include <stdint.h>

/* numpy's default (linear) percentile of n values, q in [0, 100]; sorts x in place. NaN if n == 0. */
double snn_percentile(double *x, int64_t n, double q);

/* The reference's axis limit (figures.md section 0): v = 98th percentile of x (n values, NaNs
 * ignored; x is reordered); 1 if v <= 0; else the first of 1, 2, 5, 10 x 10^floor(log10 v) >= v. */
double snn_nice_limit(double *x, int64_t n);

/* Population rate in Hz (figures.md 2.5): the summed spikes of the neurons in idx (n_idx of them) at
 * each step, box-car summed over K = round(window_ms / dt) steps in numpy's 'same' alignment (zeros
 * outside), divided by window_ms / 1000 and n_idx. spikes: [T][n]; out: T. */
void snn_population_rate(const uint8_t *spikes, int64_t T, int64_t n, const int64_t *idx, int64_t n_idx, double dt,
                         double window_ms, double *out);

/* Spike steps of every neuron from spikes [T][n] in one pass: times holds neuron j's steps at
 * times[start[j]] .. times[start[j + 1] - 1] (start: n + 1 entries; both malloc'd, caller frees).
 * Returns 0, or -1 when out of memory. */
int snn_spike_times(const uint8_t *spikes, int64_t T, int64_t n, int64_t **times, int64_t **start);

/* Fano factor of one spike train given by its sorted spike steps (figures.md 2.3), windows of w steps:
 * var(ddof 1) / mean of the counts in W = floor(T / w) windows (trailing steps dropped); NaN when
 * W <= 1 or the mean count is 0. */
double snn_fano_factor(const int64_t *times, int64_t ns, int64_t T, int64_t w);

/* CV of the inter-spike intervals (std ddof 1 / mean, figures.md 2.2) of sorted spike steps; NaN with
 * fewer than 3 spikes. */
double snn_isi_cv(const int64_t *times, int64_t ns);

/* Gaussian kernel density of x (n values) at m points y, kernel sigma = bw_factor x std(x, ddof 1)
 * (matplotlib's violin KDE with a scalar bandwidth factor). Binned (4096 bins) when n is large, so that
 * millions of weights stay fast. A zero std gives a spike at the value. */
void snn_kde(const double *x, int64_t n, double bw_factor, const double *y, int m, double *density);

#endif
