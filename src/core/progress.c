#include "core/progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double snn_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void snn_progress_start(snn_progress *p, const char *label, int64_t total, int quiet) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total > 0 ? total : 1;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->t_start = snn_now();
}

static void draw(snn_progress *p) {
    double el = snn_now() - p->t_start;
    double frac = (double)p->done / (double)p->total;
    if (frac > 1) frac = 1;
    int width = 30, fill = (int)(frac * width + 0.5);
    char bar[40];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '-';
    bar[width] = '\0';
    double eta = frac > 0 ? el * (1 - frac) / frac : 0;
    fprintf(stderr, "\r%s [%s] %lld/%lld %.0fs<%.0fs %s\033[K", p->label, bar, (long long)p->done,
            (long long)p->total, el, eta, p->postfix);
    fflush(stderr);
    p->t_last_draw = snn_now();
}

void snn_progress_update(snn_progress *p, int64_t done, const char *postfix) {
    p->done = done;
    if (postfix) snprintf(p->postfix, sizeof p->postfix, "%s", postfix);
    if (!p->enabled) return;
    if (snn_now() - p->t_last_draw < 0.1 && done < p->total) return;
    draw(p);
}

void snn_progress_clear(snn_progress *p) {
    if (!p->enabled) return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    p->t_last_draw = 0;
}

void snn_progress_finish(snn_progress *p) {
    snn_progress_clear(p);
    p->enabled = 0;
}
