#include "train/fit_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int snn_sym_eigen(int n, const double *A, double *eval, double *V) {
    double *a = malloc((size_t)n * (size_t)n * sizeof(double) + 1);
    if (!a) return -1;
    memcpy(a, A, (size_t)n * (size_t)n * sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) V[i * n + j] = i == j;
    int sweep = 0;
    for (; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                if (i != j) off += a[i * n + j] * a[i * n + j];
                else diag += a[i * n + j] * a[i * n + j];
            }
        if (off <= 1e-30 * diag || off == 0) break;
        for (int p = 0; p < n - 1; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (apq == 0) continue;
                /* the rotation that zeroes a[p][q] (Numerical Recipes' stable form) */
                double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) {
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) {
                    double vkp = V[k * n + p], vkq = V[k * n + q];
                    V[k * n + p] = c * vkp - s * vkq;
                    V[k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < n; i++) eval[i] = a[i * n + i];
    /* ascending, vectors along (selection sort: n is small) */
    for (int i = 0; i < n; i++) {
        int m = i;
        for (int j = i + 1; j < n; j++)
            if (eval[j] < eval[m]) m = j;
        if (m == i) continue;
        double t = eval[i];
        eval[i] = eval[m];
        eval[m] = t;
        for (int k = 0; k < n; k++) {
            t = V[k * n + i];
            V[k * n + i] = V[k * n + m];
            V[k * n + m] = t;
        }
    }
    /* a sign convention, so that the same matrix always gives the same vectors: the largest component
     * of each is positive */
    for (int i = 0; i < n; i++) {
        int m = 0;
        for (int k = 1; k < n; k++)
            if (fabs(V[k * n + i]) > fabs(V[m * n + i])) m = k;
        if (V[m * n + i] < 0)
            for (int k = 0; k < n; k++) V[k * n + i] = -V[k * n + i];
    }
    free(a);
    return sweep;
}

int snn_standard_errors(int n, const double *H, double *se, double *eval, double *V) {
    double *ev = eval ? eval : malloc((size_t)n * sizeof(double) + 1);
    double *vv = V ? V : malloc((size_t)n * (size_t)n * sizeof(double) + 1);
    if (!ev || !vv) {
        for (int i = 0; i < n; i++) se[i] = NAN;
        if (!eval) free(ev);
        if (!V) free(vv);
        return n;
    }
    snn_sym_eigen(n, H, ev, vv);
    double top = n > 0 ? fabs(ev[n - 1]) : 0;
    int zero = 0;
    for (int i = 0; i < n; i++) se[i] = 0;
    for (int k = 0; k < n; k++) {
        int null = !(ev[k] > 1e-12 * top);
        zero += null;
        for (int i = 0; i < n; i++) {
            double c = vv[i * n + k];
            if (null) {
                if (fabs(c) > 1e-9) se[i] = INFINITY;
            } else {
                se[i] += c * c / ev[k];
            }
        }
    }
    for (int i = 0; i < n; i++) se[i] = sqrt(se[i]);
    if (!eval) free(ev);
    if (!V) free(vv);
    return zero;
}
