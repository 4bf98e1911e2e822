/* NumPy .npy and .npz files.
 *
 * Writer: an .npz is a ZIP archive of "<key>.npy" members (NumPy format 1.0 headers, data 64-byte
 * aligned), stored (np.savez) or deflated (np.savez_compressed); written under a temporary name and
 * renamed on close, so a crash or a full disk never leaves a half-written archive.
 * Reader: accepts archives written by np.savez and np.savez_compressed (ZIP64 extras included) and by
 * this writer; every failure names the file and the array (missing key, unsupported dtype, Fortran
 * order, truncated or corrupt data, wrong shape). Refuses a path that is not a regular file (a FIFO
 * would block) and an archive holding two members of one name (numpy would read the last). */
#ifndef SNNFIT_IO_NPZ_H
#define SNNFIT_IO_NPZ_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/dtype.h"

/* ---- writing ---- */
typedef struct snn_npz_writer snn_npz_writer;

/* compress: 0 = stored, 1 = deflate at level 1. The compressed archives hold spike arrays that are mostly
 * zeros: level 1 makes them ~1.5x the size of level 6's (about 1% of the raw bytes either way) in a third
 * of the time (a Dp-scale dashboard_traces.npz: 1.5 s -> 0.2-0.6 s to write). */
snn_npz_writer *snn_npz_create(const char *path, int compress, snn_error *err);
/* Adds one array; data is copied (or fully consumed) before returning, so the caller may free it. */
int snn_npz_add(snn_npz_writer *w, const char *key, snn_dtype dtype, int ndim, const int64_t *shape,
                const void *data, snn_error *err);
/* Shorthands. */
int snn_npz_add_scalar_f64(snn_npz_writer *w, const char *key, double v, snn_error *err);
int snn_npz_add_scalar_i64(snn_npz_writer *w, const char *key, int64_t v, snn_error *err);
/* A bytes scalar (np.array(b"csr"), dtype |S<len>), as scipy.sparse.save_npz stores the format. */
int snn_npz_add_bytes(snn_npz_writer *w, const char *key, const char *text, snn_error *err);
/* Adds an array whose data fill() produces while the archive is written (at snn_npz_close, so ctx
 * must stay valid until then): fill(ctx, first, count, buf) writes elements [first, first + count)
 * in C order. The archive's bytes are the same as with snn_npz_add of the whole array, which then
 * never has to exist in memory (a dense N x N matrix from sparse rows). */
typedef void (*snn_npz_fill_fn)(void *ctx, uint64_t first, size_t count, void *buf);
int snn_npz_add_generated(snn_npz_writer *w, const char *key, snn_dtype dtype, int ndim, const int64_t *shape,
                          snn_npz_fill_fn fill, void *ctx, snn_error *err);
/* Writes the archive and renames it into place; frees w in every case. */
int snn_npz_close(snn_npz_writer *w, snn_error *err);
/* Discards everything; frees w. */
void snn_npz_abort(snn_npz_writer *w);

/* ---- reading ---- */
typedef struct snn_npz snn_npz;

snn_npz *snn_npz_open(const char *path, snn_error *err);
void snn_npz_free(snn_npz *z);
const char *snn_npz_path(const snn_npz *z);
int snn_npz_has(const snn_npz *z, const char *key);
size_t snn_npz_count(const snn_npz *z);
const char *snn_npz_key(const snn_npz *z, size_t i);  /* without ".npy" */

/* The dtype and shape of an array from its .npy header alone (out->data stays NULL), with the same
 * checks of the header against the member's size as a read: for sizing a run before reading it. */
int snn_npz_peek(snn_npz *z, const char *key, snn_array *out, snn_error *err);

/* Reads an array as stored (out->data malloc'd; free with snn_array_free). */
int snn_npz_read(snn_npz *z, const char *key, snn_array *out, snn_error *err);

/* Reads an array converted to `want` and checks its shape: ndim must match and every expected[d] >= 0
 * must equal shape[d] (-1 accepts any size). Conversion rules: any integer or bool type is accepted
 * for an integer or bool `want`; float32/float64 (and integers) for a float `want`; a float array
 * is refused for an integer/bool `want`. Narrowing integer conversions are range-checked (a value that
 * does not fit in `want` is an error, never wrapped), and an integer array read as bool must hold only
 * 0/1. Message examples:
 *   "net.npz: array 'recurrent_weights': expected shape (200, 200), got (200, 199)". */
int snn_npz_read_as(snn_npz *z, const char *key, snn_dtype want, int ndim, const int64_t *expected,
                    snn_array *out, snn_error *err);

/* Piecewise reading of one array, so that a dense N x N matrix can be read row block by row block:
 * open gives its dtype and shape (shape_out->data stays NULL); read fills count elements as stored
 * (little-endian, bools 0/1); end checks that the member holds nothing more (and libzip its CRC). */
typedef struct snn_npz_stream snn_npz_stream;
snn_npz_stream *snn_npz_stream_open(snn_npz *z, const char *key, snn_array *shape_out, snn_error *err);
int snn_npz_stream_read(snn_npz_stream *s, void *buf, size_t count, snn_error *err);
int snn_npz_stream_end(snn_npz_stream *s, snn_error *err);
void snn_npz_stream_close(snn_npz_stream *s);

/* Reads a bytes scalar written by snn_npz_add_bytes (or numpy) into out (n bytes, NUL-terminated). */
int snn_npz_read_bytes(snn_npz *z, const char *key, char *out, size_t n, snn_error *err);

/* ---- single .npy files ---- */
int snn_npy_write(const char *path, snn_dtype dtype, int ndim, const int64_t *shape, const void *data,
                  snn_error *err);
int snn_npy_read(const char *path, snn_array *out, snn_error *err);

/* Encodes/decodes a .npy image in memory (used by both of the above and by tests). */
int snn_npy_encode(snn_dtype dtype, int ndim, const int64_t *shape, const void *data, void **buf,
                   size_t *len, snn_error *err);
int snn_npy_decode(const void *buf, size_t len, const char *what, snn_array *out, snn_error *err);

#endif
