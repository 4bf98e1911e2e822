/* Zarr stores: a format-2 writer and a reader for formats 2 and 3.
 *
 * Chunk files are written in place (no temporary name): write a store under a temporary folder
 * name and rename it when complete (core/fsutil.h snn_replace_dir), as stage 3 does.
 * Writer (format 2, what python3-zarr 2.13 and zarr-python 3 both open): a group (.zgroup, .zattrs)
 * with arrays (.zarray, chunk files "i.j.k"), compressed with Blosc (lz4, clevel 5, byte shuffle:
 * zarr's default), zlib, or none. Metadata is written as ASCII JSON. Edge chunks are stored at full
 * chunk shape, padded with the fill value.
 * Reader: format 2 (any chunking, Blosc / zlib / gzip / zstd / no compressor, '.' or '/' dimension
 * separator) and format 3 (zarr.json, "bytes" codec then optional zstd/gzip/blosc, default chunk key
 * encoding "c/i/j/k" or v2 encoding). A missing chunk file means every element has the fill value
 * (unless snn_zarr_check_chunks made it an error). Corrupt or truncated chunks are errors naming the
 * store, the array and the chunk; a chunk that is not a regular file (a FIFO) is refused without
 * blocking, and so is a metadata file that is not. */
#ifndef SNNFIT_IO_ZARR_H
#define SNNFIT_IO_ZARR_H

#include <stdint.h>

#include "core/error.h"
#include "core/sha256.h"
#include "io/dtype.h"

typedef enum snn_zarr_codec { SNN_ZARR_BLOSC_LZ4, SNN_ZARR_ZLIB, SNN_ZARR_RAW } snn_zarr_codec;

/* ---- writing (format 2) ---- */

/* Creates the group folder with .zgroup and .zattrs; attrs_json is a JSON object text ("{}" if NULL). */
int snn_zarr_create_group(const char *path, const char *attrs_json, snn_error *err);

typedef struct snn_zarr_writer snn_zarr_writer;

/* Creates array `name` inside the group: writes .zarray. fill value 0/false. */
snn_zarr_writer *snn_zarr_create_array(const char *group_path, const char *name, snn_dtype dtype, int ndim,
                                       const int64_t *shape, const int64_t *chunks, snn_zarr_codec codec,
                                       snn_error *err);

/* A writer for an array that another process created with snn_zarr_create_array and the same
 * arguments: writes no metadata, only chunks (processes that write disjoint chunks of one store). */
snn_zarr_writer *snn_zarr_attach_array(const char *group_path, const char *name, snn_dtype dtype, int ndim,
                                       const int64_t *shape, const int64_t *chunks, snn_zarr_codec codec,
                                       snn_error *err);

/* Writes the chunk at grid index idx[0..ndim). data holds the chunk's valid region in C order
 * (for edge chunks, the clipped extent); the writer pads to full chunk shape. Thread-safe for
 * different chunks of the same array. */
int snn_zarr_write_chunk(snn_zarr_writer *w, const int64_t *idx, const void *data, snn_error *err);

/* Blosc's own threads for each chunk (default 1). Compressed bytes do not depend on it. Use it when
 * the caller writes one chunk at a time; do not combine it with concurrent writes. */
void snn_zarr_writer_set_threads(snn_zarr_writer *w, int threads);

void snn_zarr_writer_free(snn_zarr_writer *w);

/* ---- reading (format 2 or 3) ---- */

typedef struct snn_zarr_group snn_zarr_group;
typedef struct snn_zarr_array snn_zarr_array;

/* A reader handle (group or array) is used by one thread at a time: an array keeps its last decoded
 * chunk so that consecutive windows sharing a chunk decode it once. Open one handle per thread to read
 * in parallel. */
snn_zarr_group *snn_zarr_open_group(const char *path, snn_error *err);
void snn_zarr_group_free(snn_zarr_group *g);
int snn_zarr_format(const snn_zarr_group *g);  /* 2 or 3 */

/* A numeric group attribute (integer or float). SNN_EINPUT if missing or not a number. */
int snn_zarr_attr_double(const snn_zarr_group *g, const char *key, double *out, snn_error *err);

/* 1 if the group has an array `name` (its metadata file exists), else 0. */
int snn_zarr_has_array(const snn_zarr_group *g, const char *name);

snn_zarr_array *snn_zarr_open_array(const snn_zarr_group *g, const char *name, snn_error *err);
void snn_zarr_array_free(snn_zarr_array *a);
snn_dtype snn_zarr_dtype(const snn_zarr_array *a);
int snn_zarr_ndim(const snn_zarr_array *a);
const int64_t *snn_zarr_shape(const snn_zarr_array *a);
const int64_t *snn_zarr_chunks(const snn_zarr_array *a);

/* Reads the hyper-rectangle [start, start + count) into out (C order, the array's dtype). */
int snn_zarr_read_region(snn_zarr_array *a, const int64_t *start, const int64_t *count, void *out,
                         snn_error *err);

/* Reads the whole array into out (allocated here; release with snn_array_free). */
int snn_zarr_read_array(snn_zarr_array *a, snn_array *out, snn_error *err);

/* Checks every chunk of the array up front, without decoding it: its file is a regular file whose
 * header agrees with the chunk shape (the decoded size blosc, zstd and gzip declare; the size of an
 * uncompressed chunk), and, with require_all, that it exists at all; from then on a missing chunk is
 * an error when read, not fill. A teacher store (format 2, written by stage 3) has every chunk; a
 * format-3 store may leave chunks out (they hold the fill value). With id, the array's metadata and the
 * key and size of every chunk are added to it: a cheap identity of the data. */
int snn_zarr_check_chunks(snn_zarr_array *a, int require_all, snn_sha256 *id, snn_error *err);

/* Reads and decodes every chunk once (a corrupt chunk behind a valid header is found now, naming it,
 * rather than when a run reaches it); the array keeps only its last chunk. */
int snn_zarr_decode_all(snn_zarr_array *a, snn_error *err);

/* Adds the group's metadata files (.zgroup and .zattrs, or zarr.json) to id. */
int snn_zarr_group_identity(const snn_zarr_group *g, snn_sha256 *id, snn_error *err);

#endif
