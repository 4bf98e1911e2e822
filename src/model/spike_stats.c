#include "model/spike_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void snn_spike_counts(const uint8_t *spikes, int64_t trials, int64_t T, int64_t n, int64_t *counts) {
    memset(counts, 0, (size_t)n * sizeof *counts);
    for (int64_t r = 0; r < trials * T; r++) {
        const uint8_t *row = spikes + r * n;
        for (int64_t j = 0; j < n; j++) counts[j] += row[j];
    }
}

void snn_spike_cv(const uint8_t *spikes, int64_t trials, int64_t T, int64_t n, double *cv) {
    /* running ISI moments per neuron, one trial at a time */
    int64_t *last = malloc((size_t)n * sizeof *last), *cnt = malloc((size_t)n * sizeof *cnt);
    double *s1 = malloc((size_t)n * sizeof *s1), *s2 = malloc((size_t)n * sizeof *s2);
    double *acc = calloc((size_t)n, sizeof *acc);
    int64_t *nacc = calloc((size_t)n, sizeof *nacc);
    if (!last || !cnt || !s1 || !s2 || !acc || !nacc) {
        for (int64_t j = 0; j < n; j++) cv[j] = NAN;
        goto done;
    }
    for (int64_t b = 0; b < trials; b++) {
        for (int64_t j = 0; j < n; j++) {
            last[j] = -1;
            cnt[j] = 0;
            s1[j] = s2[j] = 0;
        }
        for (int64_t t = 0; t < T; t++) {
            const uint8_t *row = spikes + (b * T + t) * n;
            for (int64_t j = 0; j < n; j++) {
                if (!row[j]) continue;
                if (last[j] >= 0) {
                    double isi = (double)(t - last[j]);
                    s1[j] += isi;
                    s2[j] += isi * isi;
                }
                last[j] = t;
                cnt[j]++;
            }
        }
        for (int64_t j = 0; j < n; j++) {
            if (cnt[j] < 3) continue;
            double k = (double)(cnt[j] - 1), mean = s1[j] / k;
            double var = (s2[j] - k * mean * mean) / (k - 1);
            acc[j] += sqrt(var > 0 ? var : 0) / mean;
            nacc[j]++;
        }
    }
    for (int64_t j = 0; j < n; j++) cv[j] = nacc[j] ? acc[j] / (double)nacc[j] : NAN;
done:
    free(last);
    free(cnt);
    free(s1);
    free(s2);
    free(acc);
    free(nacc);
}

void snn_type_summarise(const int32_t *type_of, int64_t n, int type, const double *rates, const double *cv,
                        snn_type_summary *out) {
    memset(out, 0, sizeof *out);
    double rs = 0, rs2 = 0, cs = 0, cs2 = 0;
    int64_t active = 0;
    for (int64_t j = 0; j < n; j++) {
        if (type_of[j] != type) continue;
        out->n_neurons++;
        rs += rates[j];
        rs2 += rates[j] * rates[j];
        if (rates[j] > 0) active++;
        else out->n_silent++;
        if (cv && !isnan(cv[j])) {
            out->n_cv++;
            cs += cv[j];
            cs2 += cv[j] * cv[j];
        }
    }
    int64_t m = out->n_neurons;
    out->rate_mean = m ? rs / (double)m : NAN;
    out->rate_std = m > 1 ? sqrt(fmax(0, (rs2 - rs * rs / (double)m) / (double)(m - 1))) : 0;
    out->fraction_active = m ? (double)active / (double)m : NAN;
    int64_t k = out->n_cv;
    out->cv_mean = k ? cs / (double)k : NAN;
    out->cv_std = k > 1 ? sqrt(fmax(0, (cs2 - cs * cs / (double)k) / (double)(k - 1))) : (k ? 0 : NAN);
}
