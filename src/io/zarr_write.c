/* Zarr format-2 writer (see io/zarr.h). Each chunk is encoded in the calling thread with buffers of
 * its own, so different chunks of one array can be written from several threads at once. */
#include <blosc.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "io/zarr.h"
#include "io/zarr_codec.h"

struct snn_zarr_writer {
    char group[SNN_PATH_MAX];
    char name[256];
    char dir[SNN_PATH_MAX];
    snn_dtype dtype;
    size_t isz;
    int ndim;
    int64_t shape[SNN_MAX_NDIM];
    int64_t chunks[SNN_MAX_NDIM];
    int64_t grid[SNN_MAX_NDIM];
    snn_zarr_codec codec;
    size_t chunk_bytes;
    int threads;
};

void snn_zarr_writer_set_threads(snn_zarr_writer *w, int threads) { w->threads = threads > 1 ? threads : 1; }

/* zarr's own layout (sorted keys, indent 4, ASCII: python3-zarr 2.13 decodes metadata as ASCII). */
static int write_json(const char *path, json_t *j, snn_error *err) {
    char *text = json_dumps(j, JSON_INDENT(4) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (text == NULL) return snn_fail(err, SNN_ERUN, "%s: cannot serialise JSON metadata", path);
    size_t len = strlen(text);
    char *buf = malloc(len + 2);
    if (buf == NULL) {
        free(text);
        return snn_fail(err, SNN_ERUN, "out of memory writing %s", path);
    }
    memcpy(buf, text, len);
    buf[len] = '\n';
    free(text);
    int rc = snn_write_file_atomic(path, buf, len + 1, err);
    free(buf);
    return rc;
}

int snn_zarr_create_group(const char *path, const char *attrs_json, snn_error *err) {
    json_error_t jerr;
    json_t *attrs = json_loads(attrs_json ? attrs_json : "{}", 0, &jerr);
    if (attrs == NULL)
        return snn_fail(err, SNN_EINPUT, "zarr store %s: attributes are not valid JSON (line %d column %d: %s)", path,
                        jerr.line, jerr.column, jerr.text);
    if (!json_is_object(attrs)) {
        json_decref(attrs);
        return snn_fail(err, SNN_EINPUT, "zarr store %s: attributes must be a JSON object", path);
    }
    char p[SNN_PATH_MAX];
    int rc = snn_mkdirs(path, err);
    if (!rc) rc = snn_path_join(p, sizeof p, path, ".zgroup", err);
    if (!rc) {
        json_t *g = json_pack("{s:i}", "zarr_format", 2);
        rc = write_json(p, g, err);
        json_decref(g);
    }
    if (!rc) rc = snn_path_join(p, sizeof p, path, ".zattrs", err);
    if (!rc) rc = write_json(p, attrs, err);
    json_decref(attrs);
    return rc;
}

static json_t *int_list(const int64_t *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer((json_int_t)v[i]));
    return a;
}

static json_t *compressor_json(snn_zarr_codec codec) {
    switch (codec) {
    case SNN_ZARR_BLOSC_LZ4:
        return json_pack("{s:i, s:i, s:s, s:s, s:i}", "blocksize", 0, "clevel", 5, "cname", "lz4", "id", "blosc",
                         "shuffle", 1);
    case SNN_ZARR_ZLIB: return json_pack("{s:s, s:i}", "id", "zlib", "level", 1);
    case SNN_ZARR_RAW: return json_null();
    }
    return json_null();
}

static json_t *zero_fill_json(snn_dtype t) {
    if (t == SNN_BOOL) return json_false();
    if (snn_dtype_is_float(t)) return json_real(0.0);
    return json_integer(0);
}

/* Checks the arguments and fills a writer; touches no file. */
static snn_zarr_writer *writer_new(const char *group_path, const char *name, snn_dtype dtype, int ndim,
                                   const int64_t *shape, const int64_t *chunks, snn_zarr_codec codec,
                                   snn_error *err) {
    if ((int)dtype < 0 || dtype >= SNN_DTYPE_COUNT) {
        snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: unknown dtype %d", group_path, name, (int)dtype);
        return NULL;
    }
    if (codec != SNN_ZARR_BLOSC_LZ4 && codec != SNN_ZARR_ZLIB && codec != SNN_ZARR_RAW) {
        snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: unknown codec %d", group_path, name, (int)codec);
        return NULL;
    }
    if (ndim < 0 || ndim > SNN_MAX_NDIM) {
        snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: %d dimensions (at most %d supported)", group_path, name,
                 ndim, SNN_MAX_NDIM);
        return NULL;
    }
    size_t isz = snn_dtype_size(dtype), bytes = isz;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || chunks[d] < 1) {
            snn_fail(err, SNN_EINPUT,
                     "zarr store %s, array %s: dimension %d has shape %lld and chunk %lld (expected shape >= 0, "
                     "chunk >= 1)",
                     group_path, name, d, (long long)shape[d], (long long)chunks[d]);
            return NULL;
        }
        if ((uint64_t)chunks[d] > SIZE_MAX / bytes) {
            snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk shape too large", group_path, name);
            return NULL;
        }
        bytes *= (size_t)chunks[d];
    }
    if (codec == SNN_ZARR_BLOSC_LZ4 && bytes > (size_t)BLOSC_MAX_BUFFERSIZE) {
        snn_fail(err, SNN_EINPUT,
                 "zarr store %s, array %s: chunks of %zu bytes exceed blosc's limit of %d bytes; use smaller chunks",
                 group_path, name, bytes, BLOSC_MAX_BUFFERSIZE);
        return NULL;
    }
    snn_zarr_writer *w = snn_calloc(1, sizeof *w, "zarr writer", err);
    if (w == NULL) return NULL;
    if (strlen(group_path) >= sizeof w->group || strlen(name) >= sizeof w->name ||
        snn_path_join(w->dir, sizeof w->dir, group_path, name, err)) {
        snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: path too long", group_path, name);
        free(w);
        return NULL;
    }
    strcpy(w->group, group_path);
    strcpy(w->name, name);
    w->dtype = dtype;
    w->isz = isz;
    w->ndim = ndim;
    w->codec = codec;
    w->chunk_bytes = bytes;
    for (int d = 0; d < ndim; d++) {
        w->shape[d] = shape[d];
        w->chunks[d] = chunks[d];
        w->grid[d] = (shape[d] + chunks[d] - 1) / chunks[d];
    }
    return w;
}

snn_zarr_writer *snn_zarr_attach_array(const char *group_path, const char *name, snn_dtype dtype, int ndim,
                                       const int64_t *shape, const int64_t *chunks, snn_zarr_codec codec,
                                       snn_error *err) {
    return writer_new(group_path, name, dtype, ndim, shape, chunks, codec, err);
}

snn_zarr_writer *snn_zarr_create_array(const char *group_path, const char *name, snn_dtype dtype, int ndim,
                                       const int64_t *shape, const int64_t *chunks, snn_zarr_codec codec,
                                       snn_error *err) {
    snn_zarr_writer *w = writer_new(group_path, name, dtype, ndim, shape, chunks, codec, err);
    if (w == NULL) return NULL;
    char p[SNN_PATH_MAX];
    int rc = snn_mkdirs(w->dir, err);
    if (!rc) rc = snn_path_join(p, sizeof p, w->dir, ".zarray", err);
    if (!rc) {
        json_t *m = json_object();
        json_object_set_new(m, "chunks", int_list(chunks, ndim));
        json_object_set_new(m, "compressor", compressor_json(codec));
        json_object_set_new(m, "dtype", json_string(snn_dtype_descr(dtype)));
        json_object_set_new(m, "fill_value", zero_fill_json(dtype));
        json_object_set_new(m, "filters", json_null());
        json_object_set_new(m, "order", json_string("C"));
        json_object_set_new(m, "shape", int_list(shape, ndim));
        json_object_set_new(m, "zarr_format", json_integer(2));
        json_object_set_new(m, "dimension_separator", json_string("."));
        rc = write_json(p, m, err);
        json_decref(m);
    }
    if (rc) {
        free(w);
        return NULL;
    }
    return w;
}

int snn_zarr_write_chunk(snn_zarr_writer *w, const int64_t *idx, const void *data, snn_error *err) {
    char key[SNN_MAX_NDIM * 21 + 2] = "0";
    size_t klen = 0;
    int64_t ext[SNN_MAX_NDIM], zero[SNN_MAX_NDIM] = {0};
    int full = 1;
    for (int d = 0; d < w->ndim; d++) {
        if (idx[d] < 0 || idx[d] >= w->grid[d])
            return snn_fail(err, SNN_EINPUT,
                            "zarr store %s, array %s: chunk index %lld out of range in dimension %d (grid has %lld "
                            "chunks)",
                            w->group, w->name, (long long)idx[d], d, (long long)w->grid[d]);
        int64_t left = w->shape[d] - idx[d] * w->chunks[d];
        ext[d] = left < w->chunks[d] ? left : w->chunks[d];
        if (ext[d] != w->chunks[d]) full = 0;
        klen += (size_t)snprintf(key + klen, sizeof key - klen, "%s%lld", d ? "." : "", (long long)idx[d]);
    }
    char path[SNN_PATH_MAX];
    int rc = snn_path_join(path, sizeof path, w->dir, key, err);
    if (rc) return rc;

    /* Interior chunks are encoded straight from the caller's buffer; only edge chunks need a padded copy. */
    const uint8_t *src = data;
    uint8_t *padded = NULL, *out = NULL;
    if (!full) {
        padded = snn_calloc(w->chunk_bytes, 1, "a padded zarr edge chunk", err);
        if (padded == NULL) return SNN_ERUN;
        snn_zarr_box_copy(padded, w->chunks, zero, data, ext, zero, ext, w->ndim, w->isz);
        src = padded;
    }
    size_t out_len = 0;
    if (w->codec == SNN_ZARR_BLOSC_LZ4) {
        size_t cap = w->chunk_bytes + BLOSC_MAX_OVERHEAD;
        out = malloc(cap);
        if (out == NULL) {
            rc = snn_fail(err, SNN_ERUN, "out of memory: could not allocate %zu bytes to compress a zarr chunk", cap);
        } else {
            int n = blosc_compress_ctx(5, BLOSC_SHUFFLE, w->isz, w->chunk_bytes, src, out, cap, "lz4", 0,
                                       w->threads > 1 ? w->threads : 1);
            if (n <= 0)
                rc = snn_fail(err, SNN_ERUN, "zarr store %s, array %s: chunk %s: blosc compression failed (code %d)",
                              w->group, w->name, key, n);
            out_len = (size_t)(n > 0 ? n : 0);
        }
    } else if (w->codec == SNN_ZARR_ZLIB) {
        uLongf cap = compressBound((uLong)w->chunk_bytes);
        out = malloc(cap);
        if (out == NULL) {
            rc = snn_fail(err, SNN_ERUN, "out of memory: could not allocate %lu bytes to compress a zarr chunk",
                          (unsigned long)cap);
        } else {
            int z = compress2(out, &cap, src, (uLong)w->chunk_bytes, 1);
            if (z != Z_OK)
                rc = snn_fail(err, SNN_ERUN, "zarr store %s, array %s: chunk %s: zlib compression failed (%s)",
                              w->group, w->name, key, zError(z));
            out_len = (size_t)cap;
        }
    }
    if (!rc) {
        if (w->codec == SNN_ZARR_RAW)
            rc = snn_write_file_direct(path, src, w->chunk_bytes, err);
        else
            rc = snn_write_file_direct(path, out, out_len, err);
    }
    free(out);
    free(padded);
    return rc;
}

void snn_zarr_writer_free(snn_zarr_writer *w) { free(w); }
