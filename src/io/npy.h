/* The .npy format itself, shared by the .npy file functions and the .npz reader/writer (npz.h is the
 * public interface; this header only exposes the pieces npz.c needs).
 *
 * A .npy image is read as a stream whose total length is known up front (a zip member's size, a
 * file's size), so that a header promising more or less data than the stream holds is reported before
 * anything is allocated, and so that the data can be read straight into its final buffer without an
 * intermediate copy of the whole image. */
#ifndef SNNFIT_IO_NPY_H
#define SNNFIT_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/dtype.h"

/* Reads up to n bytes into buf. Returns the number read (fewer than n only at the end of the stream),
 * or a negative status (-SNN_EINPUT, -SNN_ERUN) after recording a message with snn_fail. */
typedef int64_t (*snn_npy_read_fn)(void *ctx, void *buf, size_t n, snn_error *err);

/* Reads a whole .npy image of `total` bytes from rd. `what` prefixes every message: the file for a
 * .npy ("x.npy"), the file and the array for an .npz member ("x.npz: array 'w'"). After the data the
 * stream must be at its end; one more read is made to check it (which is what makes libzip verify the
 * member's CRC). Big-endian arrays are converted to little-endian; bool values are normalised to 0/1. */
int snn_npy_read_stream(snn_npy_read_fn rd, void *ctx, uint64_t total, const char *what, snn_array *out,
                        snn_error *err);

/* What a .npy header says, and the element count its shape implies. */
typedef struct snn_npy_info {
    snn_dtype dtype;
    int big_endian;
    int ndim;
    int64_t shape[SNN_MAX_NDIM];
    uint64_t count;
} snn_npy_info;

/* Reads and checks the header of a .npy image of `total` bytes (the same checks as
 * snn_npy_read_stream: the data must be exactly count elements); the stream is left at the data, which
 * the caller reads piecewise (snn_npz_stream_* does) and passes through snn_npy_fix_elements. */
int snn_npy_read_header(snn_npy_read_fn rd, void *ctx, uint64_t total, const char *what, snn_npy_info *out,
                        snn_error *err);
/* Byte-swaps big-endian elements and normalises bools to 0/1, in place. */
void snn_npy_fix_elements(const snn_npy_info *info, void *data, size_t count);
/* The header alone: out gets dtype, ndim and shape (no data; out->data NULL) after the same checks of
 * the header against `total` as a full read. The stream is left after the header. */
int snn_npy_read_stream_header(snn_npy_read_fn rd, void *ctx, uint64_t total, const char *what, snn_array *out,
                               snn_error *err);

/* Builds the header (magic, version, length, dict, padding) so that the data starts 64-byte aligned.
 * *hdr is malloc'd. Format 1.0 unless the dict needs more than 65535 bytes. */
int snn_npy_header(snn_dtype dtype, int ndim, const int64_t *shape, unsigned char **hdr, size_t *hdr_len,
                   size_t *data_len, snn_error *err);

/* A NumPy bytes scalar (dtype |S<len>, shape ()) holding text, as np.array(b"csr") saves. */
int snn_npy_encode_bytes(const char *text, void **buf, size_t *len, snn_error *err);

/* Decodes such a scalar (its whole .npy image) into out (n bytes, NUL-terminated). */
int snn_npy_decode_bytes(const void *buf, size_t len, const char *what, char *out, size_t n, snn_error *err);

/* Formats a shape as NumPy prints it: "()", "(5,)", "(3, 4)"; -1 entries print as "*". */
void snn_npy_shape_str(int ndim, const int64_t *shape, char *out, size_t n);

#endif
