/* training_metrics.csv (SPEC section 7.5): a header written once with every column known at the start,
 * LF line endings, one row per log interval. Numbers are written as Python's repr would (shortest
 * string that reads back to the same double; exponent form when the exponent is < -4 or >= 16, with at
 * least two exponent digits; '.0' on integral values; nan, inf, -inf); a missing value is empty. The
 * first column is the integer `epoch`.
 *
 * A statistic that does not exist in a window is also written empty: a NaN in a column whose name
 * starts with `cv/`, `firing_rate/` or `fraction_active/` (a CV needs a neuron with 3 spikes in the
 * window; a rate needs a neuron of the type). A NaN anywhere else (a loss) stays `nan`: it means the
 * run diverged. CSV readers (pandas, numpy.genfromtxt) read an empty field as NaN.
 *
 * Resuming: snn_metrics_open_resume keeps the header and the rows whose epoch is <= the checkpoint's
 * and drops the rest (rows written after the checkpoint by a run that was then interrupted), so a
 * resumed run ends with exactly the file an uninterrupted run writes. */
#ifndef SNNFIT_IO_METRICS_H
#define SNNFIT_IO_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

typedef struct snn_metrics {
    char path[4096];
    int n_cols;          /* columns after `epoch` */
    char **names;
    FILE *fp;
} snn_metrics;

/* Creates the file (replacing any) with the header "epoch,<names...>". */
int snn_metrics_open(snn_metrics *m, const char *path, int n_cols, const char *const *names, snn_error *err);
/* Opens an existing file for appending after a checkpoint at `epoch`: the header must equal the
 * given columns (else SNN_EINPUT naming the file), rows with a larger epoch are dropped. */
int snn_metrics_open_resume(snn_metrics *m, const char *path, int n_cols, const char *const *names,
                            int64_t epoch, snn_error *err);
/* Appends a row; values[i] is NAN-with-missing flag: pass present[i] = 0 for an empty cell (present may
 * be NULL: all present). Flushed to disk before returning. */
int snn_metrics_row(snn_metrics *m, int64_t epoch, const double *values, const uint8_t *present, snn_error *err);
void snn_metrics_close(snn_metrics *m);

/* 1 when column `name` holds a statistic that may not exist in a window (its NaN is written empty). */
int snn_metrics_is_statistic(const char *name);

/* Python repr of a double into buf (>= 32 bytes). */
void snn_format_repr(double x, char *buf, size_t n);

#endif
