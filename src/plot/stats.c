#include "plot/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double snn_percentile(double *x, int64_t n, double q) {
    if (n <= 0) return NAN;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    double pos = q / 100.0 * (double)(n - 1);
    int64_t i = (int64_t)floor(pos);
    if (i < 0) return x[0];
    if (i >= n - 1) return x[n - 1];
    double t = pos - (double)i;
    return x[i] + t * (x[i + 1] - x[i]);
}

double snn_nice_limit(double *x, int64_t n) {
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) x[k++] = x[i];
    double v = snn_percentile(x, k, 98.0);
    if (!(v > 0)) return 1.0;
    double m = pow(10.0, floor(log10(v))), r = v / m;
    return m * (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10);
}

void snn_population_rate(const uint8_t *spikes, int64_t T, int64_t n, const int64_t *idx, int64_t n_idx, double dt,
                         double window_ms, double *out) {
    if (T <= 0) return;
    double *c = calloc((size_t)T + 1, sizeof *c);
    if (!c) {
        for (int64_t t = 0; t < T; t++) out[t] = NAN;
        return;
    }
    /* prefix sums of the per-step population count: c[t + 1] - c[a] = sum over steps a..t */
    for (int64_t t = 0; t < T; t++) {
        int64_t s = 0;
        const uint8_t *row = spikes + t * n;
        for (int64_t k = 0; k < n_idx; k++) s += row[idx[k]];
        c[t + 1] = c[t] + (double)s;
    }
    int64_t K = (int64_t)llround(window_ms / dt);
    if (K < 1) K = 1;
    int64_t before = K / 2, after = (K - 1) / 2;  /* ceil((K-1)/2) and floor((K-1)/2) */
    double scale = n_idx > 0 ? 1.0 / (window_ms / 1000.0) / (double)n_idx : 0;
    for (int64_t t = 0; t < T; t++) {
        int64_t a = t - before < 0 ? 0 : t - before, b = t + after >= T ? T - 1 : t + after;
        out[t] = (c[b + 1] - c[a]) * scale;
    }
    free(c);
}

int snn_spike_times(const uint8_t *spikes, int64_t T, int64_t n, int64_t **times, int64_t **start) {
    int64_t *cnt = calloc((size_t)n + 1, sizeof *cnt), total = 0;
    if (!cnt) return -1;
    for (int64_t t = 0; t < T; t++) {
        const uint8_t *row = spikes + t * n;
        for (int64_t j = 0; j < n; j++) cnt[j + 1] += row[j] != 0;
    }
    for (int64_t j = 0; j < n; j++) cnt[j + 1] += cnt[j];
    total = cnt[n];
    int64_t *tm = malloc((size_t)(total ? total : 1) * sizeof *tm), *fill = malloc((size_t)(n ? n : 1) * sizeof *fill);
    if (!tm || !fill) {
        free(cnt);
        free(tm);
        free(fill);
        return -1;
    }
    memcpy(fill, cnt, (size_t)n * sizeof *fill);
    for (int64_t t = 0; t < T; t++) {
        const uint8_t *row = spikes + t * n;
        for (int64_t j = 0; j < n; j++)
            if (row[j]) tm[fill[j]++] = t;
    }
    free(fill);
    *times = tm;
    *start = cnt;
    return 0;
}

double snn_fano_factor(const int64_t *times, int64_t ns, int64_t T, int64_t w) {
    if (w < 1) return NAN;
    int64_t W = T / w;
    if (W <= 1) return NAN;
    /* counts of the windows that hold spikes, walking the sorted steps; empty windows add 0 */
    double sum = 0, sumsq = 0;
    int64_t i = 0;
    while (i < ns) {
        int64_t k = times[i] / w;
        if (k >= W) break;
        double c = 0;
        while (i < ns && times[i] / w == k) c += 1, i++;
        sum += c;
        sumsq += c * c;
    }
    double mean = sum / (double)W;
    if (mean == 0) return NAN;
    double var = (sumsq - (double)W * mean * mean) / (double)(W - 1);
    return (var < 0 ? 0 : var) / mean;
}

double snn_isi_cv(const int64_t *times, int64_t ns) {
    if (ns < 3) return NAN;
    double m = (double)(times[ns - 1] - times[0]) / (double)(ns - 1), ss = 0;
    for (int64_t i = 1; i < ns; i++) {
        double d = (double)(times[i] - times[i - 1]) - m;
        ss += d * d;
    }
    return m > 0 ? sqrt(ss / (double)(ns - 2)) / m : NAN;
}

void snn_kde(const double *x, int64_t n, double bw_factor, const double *y, int m, double *density) {
    for (int i = 0; i < m; i++) density[i] = 0;
    if (n <= 0) return;
    double mean = 0, lo = x[0], hi = x[0];
    for (int64_t i = 0; i < n; i++) {
        mean += x[i];
        lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
    }
    mean /= (double)n;
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    double sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0, h = bw_factor * sd;
    if (!(h > 0)) {
        for (int i = 0; i < m; i++) density[i] = fabs(y[i] - mean) <= 1e-12 * fmax(1, fabs(mean)) ? 1 : 0;
        return;
    }
    double norm = 1.0 / ((double)n * h * sqrt(2 * M_PI));
    if (n <= 4096) {
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int64_t k = 0; k < n; k++) {
                double u = (y[i] - x[k]) / h;
                s += exp(-0.5 * u * u);
            }
            density[i] = s * norm;
        }
        return;
    }
    /* binned: the bins are much narrower than the kernel (h >= 0.5 sd), so the error is negligible */
    enum { NB = 4096 };
    double *cnt = calloc(NB, sizeof *cnt);
    if (!cnt) return;
    double span = hi > lo ? hi - lo : 1, bw = span / NB;
    for (int64_t k = 0; k < n; k++) {
        int64_t b = (int64_t)((x[k] - lo) / bw);
        if (b >= NB) b = NB - 1;
        if (b < 0) b = 0;
        cnt[b] += 1;
    }
    for (int i = 0; i < m; i++) {
        double s = 0;
        for (int b = 0; b < NB; b++) {
            if (cnt[b] == 0) continue;
            double u = (y[i] - (lo + (b + 0.5) * bw)) / h;
            if (fabs(u) < 40) s += cnt[b] * exp(-0.5 * u * u);
        }
        density[i] = s * norm;
    }
    free(cnt);
}
