/* Helpers shared by the cmocka unit tests. Include after <setjmp.h>, <stdarg.h>, <stddef.h>, <cmocka.h>. */
#ifndef SNNFIT_TESTUTIL_H
#define SNNFIT_TESTUTIL_H

#include <stddef.h>

/* A fresh empty directory under $TMPDIR (or /tmp); the path is static storage per call slot. */
const char *tu_tmpdir(void);
/* Removes a directory tree. */
void tu_rmtree(const char *path);
/* Runs a shell command; returns its exit status (or -1). */
int tu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs `/usr/bin/python3 <SNNFIT_SOURCE_DIR>/tests/py/<script> args...`; returns its exit status. */
int tu_python(const char *script, const char *args_fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 if the tests run in the sanitizer build (they then shrink their problem sizes). */
int tu_sanitized(void);
/* Path of a file in the source tree: SNNFIT_SOURCE_DIR/rel (static buffer, rotating over 8 slots). */
const char *tu_src(const char *rel);
/* Writes text to a file; returns 0 on success. */
int tu_write(const char *path, const char *text);

#endif
