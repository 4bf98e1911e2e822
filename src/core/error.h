/* Status codes and error messages shared by every layer.
 *
 * A function that can fail returns SNN_OK (0) or a non-zero status and fills an snn_error with a
 * one-line message that names the file and the key/array and what was expected. The CLI prints the
 * message once and exits with the status: SNN_EINPUT (2) for bad input or usage, SNN_ERUN (1) for a run
 * that failed (I/O error, out of memory, interrupted). Library code never calls exit(). */
#ifndef SNNFIT_CORE_ERROR_H
#define SNNFIT_CORE_ERROR_H

#include <stddef.h>

enum { SNN_OK = 0, SNN_ERUN = 1, SNN_EINPUT = 2 };

typedef struct snn_error {
    int code;
    char msg[2048];
} snn_error;

/* Records the message (printf format) and returns code, so that `return snn_fail(err, ...)` works.
 * err may be NULL. A message already recorded is kept (the first error is the one reported). */
int snn_fail(snn_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Clears err (code 0, empty message). */
void snn_error_clear(snn_error *err);

#endif
