/* File-system helpers. Every output file is written to a temporary name beside its final path and
 * renamed into place, so that a crash or a full disk never leaves a half-written file behind. */
#ifndef SNNFIT_CORE_FSUTIL_H
#define SNNFIT_CORE_FSUTIL_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

#define SNN_PATH_MAX 4096

/* Creates path and its missing parents (like mkdir -p). */
int snn_mkdirs(const char *path, snn_error *err);

int snn_path_exists(const char *path);
int snn_is_dir(const char *path);

/* Joins a and b with one '/', into out (size n). Returns SNN_EINPUT if the result does not fit. */
int snn_path_join(char *out, size_t n, const char *a, const char *b, snn_error *err);

/* Temporary name for final: "<dir>/.<base>.tmp.<pid>". */
void snn_tmp_name(const char *final_path, char *out, size_t n);

/* Atomic file writing: open a temporary file beside final_path; after writing, commit (flush, fsync,
 * check for write errors such as a full disk, rename) or abort (close and remove the temporary). */
typedef struct snn_atomic_file {
    FILE *fp;
    char tmp[SNN_PATH_MAX];
    char final_path[SNN_PATH_MAX];
} snn_atomic_file;

int snn_atomic_open(snn_atomic_file *af, const char *final_path, snn_error *err);
int snn_atomic_commit(snn_atomic_file *af, snn_error *err);
void snn_atomic_abort(snn_atomic_file *af);

/* Writes a whole buffer atomically. */
int snn_write_file_atomic(const char *path, const void *data, size_t len, snn_error *err);

/* Writes a whole buffer straight to path (no temporary name, no fsync; the file is removed if the
 * write fails). Only for files inside a folder that is itself written under a temporary name and
 * renamed into place when complete (the chunk files of a zarr store): renames within one folder
 * serialise on its lock, which made thousands of chunk renames the bottleneck of stage 3. */
int snn_write_file_direct(const char *path, const void *data, size_t len, snn_error *err);

/* SNN_OK if path is a regular file (symbolic links followed); else SNN_EINPUT "<path>: not a regular
 * file (a folder)" or "cannot open". Never blocks on a FIFO. */
int snn_check_regular_file(const char *path, snn_error *err);

/* Reads a whole regular file into a NUL-terminated malloc'd buffer (caller frees); *len gets its size.
 * A FIFO, a folder or a device is refused (SNN_EINPUT) without waiting on it. */
int snn_read_file(const char *path, char **data, size_t *len, snn_error *err);

/* Copies a file (atomically at the destination). */
int snn_copy_file(const char *src, const char *dst, snn_error *err);

/* Renames a directory into place, replacing an existing one (used for stores written under a
 * temporary name). */
int snn_replace_dir(const char *tmp_dir, const char *final_dir, snn_error *err);

/* Removes a file or a directory tree; missing paths are not an error. */
int snn_remove_tree(const char *path);

#endif
