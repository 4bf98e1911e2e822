#include "core/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int mul_overflows(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}

static void *oom(size_t bytes, const char *what, snn_error *err) {
    snn_fail(err, SNN_ERUN, "out of memory: could not allocate %zu bytes (%.1f MiB) for %s", bytes,
             (double)bytes / 1048576.0, what ? what : "a buffer");
    return NULL;
}

void *snn_calloc(size_t count, size_t size, const char *what, snn_error *err) {
    size_t bytes;
    if (mul_overflows(count, size, &bytes)) return oom(SIZE_MAX, what, err);
    void *p = calloc(bytes ? bytes : 1, 1);
    if (p == NULL) return oom(bytes, what, err);
    return p;
}

void *snn_calloc_aligned(size_t count, size_t size, const char *what, snn_error *err) {
    size_t bytes;
    if (mul_overflows(count, size, &bytes)) return oom(SIZE_MAX, what, err);
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (p == NULL) return oom(bytes, what, err);
    memset(p, 0, rounded);
    return p;
}

void snn_free(void *p) { free(p); }

size_t snn_peak_rss_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = (size_t)strtoull(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb * 1024;
}

size_t snn_mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "MemAvailable:", 13) == 0) {
            kb = (size_t)strtoull(line + 13, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb * 1024;
}
