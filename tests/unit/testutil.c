#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fsutil.h"

#ifndef SNNFIT_SOURCE_DIR
#define SNNFIT_SOURCE_DIR "."
#endif
#ifndef SNNFIT_PYTHON
#define SNNFIT_PYTHON "/usr/bin/python3"
#endif

const char *tu_tmpdir(void) {
    static char slots[8][512];
    static int next = 0;
    char *buf = slots[next++ % 8];
    const char *base = getenv("TMPDIR");
    snprintf(buf, 512, "%s/snnfit-test-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(buf) == NULL) return NULL;
    return buf;
}

void tu_rmtree(const char *path) { snn_remove_tree(path); }

int tu_system(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc == -1) return -1;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int tu_python(const char *script, const char *args_fmt, ...) {
    char args[6144];
    va_list ap;
    va_start(ap, args_fmt);
    vsnprintf(args, sizeof args, args_fmt, ap);
    va_end(ap);
    return tu_system("%s %s/tests/py/%s %s", SNNFIT_PYTHON, SNNFIT_SOURCE_DIR, script, args);
}

int tu_sanitized(void) {
    const char *s = getenv("SNNFIT_SANITIZED");
    return s && *s && strcmp(s, "0") != 0;
}

const char *tu_src(const char *rel) {
    static char slots[8][1024];
    static int next = 0;
    char *buf = slots[next++ % 8];
    snprintf(buf, 1024, "%s/%s", SNNFIT_SOURCE_DIR, rel);
    return buf;
}

int tu_write(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}
