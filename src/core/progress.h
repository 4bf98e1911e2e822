/* A progress bar on stderr for loops longer than about a second. It draws only when stderr is a
 * terminal and the run is not --quiet, at most ten times a second, and erases itself when done, so
 * that stdout (the console text) stays clean and logs never fill with bar frames. */
#ifndef SNNFIT_CORE_PROGRESS_H
#define SNNFIT_CORE_PROGRESS_H

#include <stdint.h>

typedef struct snn_progress {
    char label[64];
    int64_t total;
    int64_t done;
    int enabled;
    double t_start;
    double t_last_draw;
    char postfix[160];
} snn_progress;

void snn_progress_start(snn_progress *p, const char *label, int64_t total, int quiet);
/* Sets the number of finished units (and an optional text shown after the bar, may be NULL). */
void snn_progress_update(snn_progress *p, int64_t done, const char *postfix);
/* Erases the bar (call before printing console text mid-loop, and at the end). */
void snn_progress_clear(snn_progress *p);
void snn_progress_finish(snn_progress *p);

/* Monotonic seconds. */
double snn_now(void);

#endif
