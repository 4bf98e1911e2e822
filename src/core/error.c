#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

int snn_fail(snn_error *err, int code, const char *fmt, ...) {
    if (err == NULL || err->code != SNN_OK) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void snn_error_clear(snn_error *err) {
    if (err == NULL) return;
    err->code = SNN_OK;
    err->msg[0] = '\0';
}
