/* Statistics of spike trains used by the console, the CSV files and the dashboards
 * (reference/figures.md section 2): per-neuron rates and ISI coefficients of variation, and their
 * summaries per cell type. Spike arrays are 0/1 bytes, [trial][step][neuron]. */
#ifndef SNNFIT_MODEL_SPIKE_STATS_H
#define SNNFIT_MODEL_SPIKE_STATS_H

#include <stdint.h>

/* Spike counts per neuron over all trials and steps (counts: n). */
void snn_spike_counts(const uint8_t *spikes, int64_t trials, int64_t T, int64_t n, int64_t *counts);

/* CV of the inter-spike intervals of each (trial, neuron), pooled per neuron as the mean over the
 * trials where it is defined (>= 3 spikes; std with n-1); NaN when no trial has 3 spikes. cv: n. */
void snn_spike_cv(const uint8_t *spikes, int64_t trials, int64_t T, int64_t n, double *cv);

typedef struct snn_type_summary {
    int64_t n_neurons;
    double rate_mean, rate_std;    /* Hz over the type's neurons, silent ones included; std ddof 1 */
    int64_t n_silent;
    double fraction_active;
    double cv_mean, cv_std;        /* over the type's neurons with a defined CV; std ddof 1; NaN if none */
    int64_t n_cv;
} snn_type_summary;

/* Summary for the neurons of type `type` (type_of: n). rates in Hz (n), cv (n, NaN = undefined). */
void snn_type_summarise(const int32_t *type_of, int64_t n, int type, const double *rates, const double *cv,
                        snn_type_summary *out);

#endif
