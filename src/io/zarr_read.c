/* Zarr reader for formats 2 and 3 (see io/zarr.h). An array handle keeps the last decoded chunk, so
 * that consecutive windows which share a chunk (stage 4 reading windows of a length other than the
 * store's chunk length) decode it once. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "io/zarr.h"
#include "io/zarr_codec.h"

struct snn_zarr_group {
    char path[SNN_PATH_MAX];
    int format;
    json_t *attrs;
};

struct snn_zarr_array {
    char store[SNN_PATH_MAX];
    char name[256];
    char dir[SNN_PATH_MAX];
    int format;
    snn_dtype dtype;
    size_t isz;
    int big_endian;
    int ndim;
    int64_t shape[SNN_MAX_NDIM];
    int64_t chunks[SNN_MAX_NDIM];
    int64_t grid[SNN_MAX_NDIM];
    snn_zarr_comp comp;
    uint8_t fill[8];
    const char *key_prefix; /* "c" for the format-3 default encoding, "" otherwise */
    char sep;
    size_t chunk_bytes;
    uint8_t *chunk;     /* decoded chunk (full chunk shape), allocated on first use */
    int64_t cached;     /* linear grid index of the chunk in `chunk`, or -1 */
    int cached_missing; /* the cached chunk has no file: all fill value */
    uint8_t *raw;       /* the chunk file's bytes */
    size_t raw_cap;
    int strict;         /* a missing chunk file is an error, not fill (snn_zarr_check_chunks) */
};

/* ---- JSON metadata ---- */

static json_t *load_json(const char *path, const char *store, const char *what, snn_error *err) {
    char *text = NULL;
    size_t len = 0;
    snn_error e2 = {0};
    /* through snn_read_file: a FIFO or a folder in place of a metadata file is refused, not waited on */
    if (snn_read_file(path, &text, &len, &e2) != SNN_OK) {
        snn_fail(err, SNN_EINPUT, "zarr store %s: %s", store, e2.msg);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr);
    free(text);
    if (j == NULL) {
        snn_fail(err, SNN_EINPUT, "zarr store %s: %s %s is not valid JSON (line %d column %d: %s)", store, what, path,
                 jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        snn_fail(err, SNN_EINPUT, "zarr store %s: %s %s is not a JSON object", store, what, path);
        json_decref(j);
        return NULL;
    }
    return j;
}

static int format_is(json_t *meta, int want) {
    json_t *f = json_object_get(meta, "zarr_format");
    return json_is_integer(f) && json_integer_value(f) == want;
}

/* ---- groups ---- */

snn_zarr_group *snn_zarr_open_group(const char *path, snn_error *err) {
    if (!snn_is_dir(path)) {
        snn_fail(err, SNN_EINPUT, "zarr store %s: no such directory", path);
        return NULL;
    }
    if (strlen(path) >= SNN_PATH_MAX - 300) {
        snn_fail(err, SNN_EINPUT, "zarr store %s: path too long", path);
        return NULL;
    }
    snn_zarr_group *g = snn_calloc(1, sizeof *g, "zarr group", err);
    if (g == NULL) return NULL;
    strcpy(g->path, path);
    char p2[SNN_PATH_MAX], p3[SNN_PATH_MAX], pa[SNN_PATH_MAX];
    snprintf(p2, sizeof p2, "%s/.zgroup", path);
    snprintf(p3, sizeof p3, "%s/zarr.json", path);
    if (snn_path_exists(p2)) {
        json_t *m = load_json(p2, path, "group metadata", err);
        if (m == NULL) goto fail;
        int ok = format_is(m, 2);
        json_decref(m);
        if (!ok) {
            snn_fail(err, SNN_EINPUT, "zarr store %s: %s does not say \"zarr_format\": 2", path, p2);
            goto fail;
        }
        g->format = 2;
        snprintf(pa, sizeof pa, "%s/.zattrs", path);
        if (snn_path_exists(pa)) {
            g->attrs = load_json(pa, path, "attributes", err);
            if (g->attrs == NULL) goto fail;
        } else {
            g->attrs = json_object();
        }
    } else if (snn_path_exists(p3)) {
        json_t *m = load_json(p3, path, "group metadata", err);
        if (m == NULL) goto fail;
        json_t *nt = json_object_get(m, "node_type");
        if (!format_is(m, 3) || !json_is_string(nt) || strcmp(json_string_value(nt), "group") != 0) {
            snn_fail(err, SNN_EINPUT, "zarr store %s: %s is not format-3 group metadata (expected \"zarr_format\": 3, "
                                      "\"node_type\": \"group\")",
                     path, p3);
            json_decref(m);
            goto fail;
        }
        g->format = 3;
        json_t *at = json_object_get(m, "attributes");
        if (at != NULL && !json_is_object(at) && !json_is_null(at)) {
            snn_fail(err, SNN_EINPUT, "zarr store %s: \"attributes\" in %s is not a JSON object", path, p3);
            json_decref(m);
            goto fail;
        }
        g->attrs = json_is_object(at) ? json_incref(at) : json_object();
        json_decref(m);
    } else {
        snprintf(pa, sizeof pa, "%s/.zarray", path);
        if (snn_path_exists(pa))
            snn_fail(err, SNN_EINPUT, "zarr store %s: is a zarr array, expected a group", path);
        else
            snn_fail(err, SNN_EINPUT,
                     "zarr store %s: not a zarr group (neither .zgroup (format 2) nor zarr.json (format 3) found)",
                     path);
        goto fail;
    }
    return g;
fail:
    snn_zarr_group_free(g);
    return NULL;
}

void snn_zarr_group_free(snn_zarr_group *g) {
    if (g == NULL) return;
    json_decref(g->attrs);
    free(g);
}

int snn_zarr_format(const snn_zarr_group *g) { return g->format; }

int snn_zarr_attr_double(const snn_zarr_group *g, const char *key, double *out, snn_error *err) {
    json_t *v = json_object_get(g->attrs, key);
    if (v == NULL) return snn_fail(err, SNN_EINPUT, "zarr store %s: group attribute '%s' is missing", g->path, key);
    if (!json_is_number(v))
        return snn_fail(err, SNN_EINPUT, "zarr store %s: group attribute '%s' is not a number", g->path, key);
    *out = json_number_value(v);
    return SNN_OK;
}

int snn_zarr_has_array(const snn_zarr_group *g, const char *name) {
    char p[SNN_PATH_MAX];
    if (snprintf(p, sizeof p, "%s/%s/%s", g->path, name, g->format == 2 ? ".zarray" : "zarr.json") >= (int)sizeof p)
        return 0;
    return snn_path_exists(p);
}

/* ---- array metadata ---- */

#define BAD(...) snn_fail(err, SNN_EINPUT, __VA_ARGS__)

static int parse_int_list(snn_zarr_array *a, json_t *v, const char *key, int64_t *out, int *n, int64_t min,
                          snn_error *err) {
    if (!json_is_array(v))
        return BAD("zarr store %s, array %s: metadata \"%s\" is not a list of integers", a->store, a->name, key);
    size_t len = json_array_size(v);
    if (len > SNN_MAX_NDIM)
        return BAD("zarr store %s, array %s: \"%s\" has %zu dimensions (at most %d supported)", a->store, a->name,
                     key, len, SNN_MAX_NDIM);
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_integer(e) || json_integer_value(e) < min)
            return BAD("zarr store %s, array %s: \"%s\"[%zu] is not an integer >= %lld", a->store, a->name, key,
                         i, (long long)min);
        out[i] = (int64_t)json_integer_value(e);
    }
    *n = (int)len;
    return SNN_OK;
}

/* The fill item, converted through an aligned buffer: a->fill sits at any offset in the struct, and
 * the conversion stores a whole double or int64. */
static void put_fill(snn_zarr_array *a, const void *v, snn_dtype from) {
    union {
        double d;
        int64_t i;
        uint8_t b[8];
    } item;
    memset(&item, 0, sizeof item);
    snn_dtype_convert(v, from, item.b, a->dtype, 1);
    memcpy(a->fill, item.b, sizeof a->fill);
}

static int set_fill(snn_zarr_array *a, json_t *fv, snn_error *err) {
    memset(a->fill, 0, sizeof a->fill);
    if (fv == NULL || json_is_null(fv)) return SNN_OK;
    if (json_is_boolean(fv) || json_is_integer(fv)) {
        int64_t v = json_is_boolean(fv) ? json_is_true(fv) : (int64_t)json_integer_value(fv);
        put_fill(a, &v, SNN_I64);
        return SNN_OK;
    }
    if (json_is_real(fv)) {
        double v = json_real_value(fv);
        put_fill(a, &v, SNN_F64);
        return SNN_OK;
    }
    if (json_is_string(fv) && snn_dtype_is_float(a->dtype)) {
        const char *s = json_string_value(fv);
        double v;
        if (strcmp(s, "NaN") == 0) {
            v = NAN;
        } else if (strcmp(s, "Infinity") == 0) {
            v = INFINITY;
        } else if (strcmp(s, "-Infinity") == 0) {
            v = -INFINITY;
        } else if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) && strlen(s) == 2 + 2 * a->isz) {
            /* format 3 writes special floats as their bit pattern, e.g. "0x7fc00000" */
            uint64_t bits = strtoull(s + 2, NULL, 16);
            if (a->isz == 4) {
                uint32_t b32 = (uint32_t)bits;
                memcpy(a->fill, &b32, 4);
            } else {
                memcpy(a->fill, &bits, 8);
            }
            return SNN_OK;
        } else {
            return BAD("zarr store %s, array %s: fill_value \"%s\" is not a number", a->store, a->name, s);
        }
        put_fill(a, &v, SNN_F64);
        return SNN_OK;
    }
    return BAD("zarr store %s, array %s: unsupported fill_value for a %s array", a->store, a->name,
                 snn_dtype_name(a->dtype));
}

static int parse_v2(snn_zarr_array *a, json_t *m, snn_error *err) {
    if (!format_is(m, 2))
        return BAD("zarr store %s, array %s: .zarray does not say \"zarr_format\": 2", a->store, a->name);
    int n1 = 0, n2 = 0;
    if (parse_int_list(a, json_object_get(m, "shape"), "shape", a->shape, &n1, 0, err)) return SNN_EINPUT;
    if (parse_int_list(a, json_object_get(m, "chunks"), "chunks", a->chunks, &n2, 1, err)) return SNN_EINPUT;
    if (n1 != n2)
        return BAD("zarr store %s, array %s: shape has %d dimensions but chunks has %d", a->store, a->name, n1, n2);
    a->ndim = n1;
    json_t *dt = json_object_get(m, "dtype");
    if (!json_is_string(dt) || snn_dtype_parse(json_string_value(dt), &a->dtype, &a->big_endian) != 0)
        return BAD("zarr store %s, array %s: unsupported dtype %s (expected bool, (u)int8..64, float32 or float64)",
                     a->store, a->name, json_is_string(dt) ? json_string_value(dt) : "(not a string)");
    a->isz = snn_dtype_size(a->dtype);
    json_t *comp = json_object_get(m, "compressor");
    if (comp == NULL || json_is_null(comp)) {
        a->comp = SNN_ZC_NONE;
    } else {
        json_t *id = json_object_get(comp, "id");
        const char *s = json_is_string(id) ? json_string_value(id) : "";
        if (strcmp(s, "blosc") == 0)
            a->comp = SNN_ZC_BLOSC;
        else if (strcmp(s, "zlib") == 0)
            a->comp = SNN_ZC_ZLIB;
        else if (strcmp(s, "gzip") == 0)
            a->comp = SNN_ZC_GZIP;
        else if (strcmp(s, "zstd") == 0)
            a->comp = SNN_ZC_ZSTD;
        else
            return BAD("zarr store %s, array %s: compressor '%s' is not supported (expected blosc, zlib, gzip, "
                            "zstd or null)",
                         a->store, a->name, s);
    }
    json_t *filters = json_object_get(m, "filters");
    if (filters != NULL && !json_is_null(filters) && !(json_is_array(filters) && json_array_size(filters) == 0)) {
        json_t *f0 = json_is_array(filters) ? json_array_get(filters, 0) : NULL;
        json_t *id = f0 ? json_object_get(f0, "id") : NULL;
        return BAD("zarr store %s, array %s: filters are not supported (found '%s'; expected \"filters\": null)",
                     a->store, a->name, json_is_string(id) ? json_string_value(id) : "?");
    }
    json_t *order = json_object_get(m, "order");
    if (order != NULL && !(json_is_string(order) && strcmp(json_string_value(order), "C") == 0))
        return BAD("zarr store %s, array %s: order %s is not supported (expected \"C\")", a->store, a->name,
                     json_is_string(order) ? json_string_value(order) : "?");
    json_t *ds = json_object_get(m, "dimension_separator");
    a->sep = '.';
    if (ds != NULL && !json_is_null(ds)) {
        const char *s = json_is_string(ds) ? json_string_value(ds) : "";
        if (strcmp(s, ".") != 0 && strcmp(s, "/") != 0)
            return BAD("zarr store %s, array %s: dimension_separator '%s' (expected \".\" or \"/\")", a->store,
                         a->name, s);
        a->sep = s[0];
    }
    a->key_prefix = "";
    return set_fill(a, json_object_get(m, "fill_value"), err);
}

static const char *codec_name(json_t *c) {
    json_t *n = json_is_object(c) ? json_object_get(c, "name") : NULL;
    return json_is_string(n) ? json_string_value(n) : NULL;
}

static int parse_v3_codecs(snn_zarr_array *a, json_t *codecs, snn_error *err) {
    if (!json_is_array(codecs) || json_array_size(codecs) == 0)
        return BAD("zarr store %s, array %s: zarr.json \"codecs\" is not a non-empty list", a->store, a->name);
    size_t n = json_array_size(codecs), i = 0;
    const char *name = codec_name(json_array_get(codecs, 0));
    if (name && strcmp(name, "transpose") == 0)
        return BAD("zarr store %s, array %s: the 'transpose' codec is not supported (rewrite the array in C order "
                        "without transpose)",
                     a->store, a->name);
    if (name && strcmp(name, "sharding_indexed") == 0)
        return BAD("zarr store %s, array %s: sharded arrays (codec 'sharding_indexed') are not supported; rewrite "
                        "the store without shards",
                     a->store, a->name);
    if (name == NULL || strcmp(name, "bytes") != 0)
        return BAD("zarr store %s, array %s: codec '%s' is not supported (expected 'bytes' first)", a->store,
                     a->name, name ? name : "?");
    json_t *conf = json_object_get(json_array_get(codecs, 0), "configuration");
    json_t *endian = json_is_object(conf) ? json_object_get(conf, "endian") : NULL;
    if (endian != NULL && !json_is_null(endian)) {
        const char *e = json_is_string(endian) ? json_string_value(endian) : "";
        if (strcmp(e, "big") == 0)
            a->big_endian = a->isz > 1;
        else if (strcmp(e, "little") != 0)
            return BAD("zarr store %s, array %s: bytes codec endian '%s' (expected little or big)", a->store,
                         a->name, e);
    }
    i = 1;
    a->comp = SNN_ZC_NONE;
    if (i < n) {
        name = codec_name(json_array_get(codecs, i));
        if (name && strcmp(name, "zstd") == 0)
            a->comp = SNN_ZC_ZSTD;
        else if (name && strcmp(name, "gzip") == 0)
            a->comp = SNN_ZC_GZIP;
        else if (name && strcmp(name, "blosc") == 0)
            a->comp = SNN_ZC_BLOSC;
        else
            return BAD("zarr store %s, array %s: codec '%s' is not supported (expected zstd, gzip or blosc after "
                            "bytes)",
                         a->store, a->name, name ? name : "?");
        i++;
    }
    if (i < n)
        return BAD("zarr store %s, array %s: codec '%s' after '%s' is not supported (at most one compressor)",
                     a->store, a->name, codec_name(json_array_get(codecs, i)) ? codec_name(json_array_get(codecs, i))
                                                                               : "?",
                     snn_zarr_comp_name(a->comp));
    return SNN_OK;
}

static int parse_v3(snn_zarr_array *a, json_t *m, snn_error *err) {
    json_t *nt = json_object_get(m, "node_type");
    if (!format_is(m, 3) || !json_is_string(nt) || strcmp(json_string_value(nt), "array") != 0)
        return BAD("zarr store %s, array %s: zarr.json is not format-3 array metadata (expected \"zarr_format\": "
                        "3, \"node_type\": \"array\")",
                     a->store, a->name);
    int n1 = 0, n2 = 0;
    if (parse_int_list(a, json_object_get(m, "shape"), "shape", a->shape, &n1, 0, err)) return SNN_EINPUT;
    json_t *dt = json_object_get(m, "data_type");
    const char *dts = json_is_string(dt) ? json_string_value(dt) : "(not a string)";
    int found = 0;
    for (int t = 0; t < SNN_DTYPE_COUNT; t++) {
        if (strcmp(dts, snn_dtype_name((snn_dtype)t)) == 0) {
            a->dtype = (snn_dtype)t;
            found = 1;
        }
    }
    if (!found)
        return BAD("zarr store %s, array %s: unsupported data_type %s (expected bool, (u)int8..64, float32 or "
                        "float64)",
                     a->store, a->name, dts);
    a->isz = snn_dtype_size(a->dtype);
    json_t *grid = json_object_get(m, "chunk_grid");
    const char *gname = codec_name(grid);
    if (gname == NULL || strcmp(gname, "regular") != 0)
        return BAD("zarr store %s, array %s: chunk_grid '%s' is not supported (expected regular)", a->store,
                     a->name, gname ? gname : "?");
    json_t *gconf = json_object_get(grid, "configuration");
    if (parse_int_list(a, json_is_object(gconf) ? json_object_get(gconf, "chunk_shape") : NULL, "chunk_shape",
                       a->chunks, &n2, 1, err))
        return SNN_EINPUT;
    if (n1 != n2)
        return BAD("zarr store %s, array %s: shape has %d dimensions but chunk_shape has %d", a->store, a->name,
                     n1, n2);
    a->ndim = n1;
    json_t *enc = json_object_get(m, "chunk_key_encoding");
    const char *ename = enc ? codec_name(enc) : "default";
    json_t *econf = enc ? json_object_get(enc, "configuration") : NULL;
    json_t *sep = json_is_object(econf) ? json_object_get(econf, "separator") : NULL;
    if (ename && strcmp(ename, "default") == 0) {
        a->key_prefix = "c";
        a->sep = '/';
    } else if (ename && strcmp(ename, "v2") == 0) {
        a->key_prefix = "";
        a->sep = '.';
    } else {
        return BAD("zarr store %s, array %s: chunk_key_encoding '%s' is not supported (expected default or v2)",
                     a->store, a->name, ename ? ename : "?");
    }
    if (sep != NULL) {
        const char *s = json_is_string(sep) ? json_string_value(sep) : "";
        if (strcmp(s, ".") != 0 && strcmp(s, "/") != 0)
            return BAD("zarr store %s, array %s: chunk key separator '%s' (expected \".\" or \"/\")", a->store,
                         a->name, s);
        a->sep = s[0];
    }
    json_t *st = json_object_get(m, "storage_transformers");
    if (st != NULL && !json_is_null(st) && !(json_is_array(st) && json_array_size(st) == 0))
        return BAD("zarr store %s, array %s: storage transformers are not supported", a->store, a->name);
    if (parse_v3_codecs(a, json_object_get(m, "codecs"), err)) return SNN_EINPUT;
    return set_fill(a, json_object_get(m, "fill_value"), err);
}

snn_zarr_array *snn_zarr_open_array(const snn_zarr_group *g, const char *name, snn_error *err) {
    if (strlen(name) >= 256 || strlen(g->path) + strlen(name) + 32 >= SNN_PATH_MAX) {
        snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: name too long", g->path, name);
        return NULL;
    }
    snn_zarr_array *a = snn_calloc(1, sizeof *a, "zarr array", err);
    if (a == NULL) return NULL;
    strcpy(a->store, g->path);
    strcpy(a->name, name);
    if (snprintf(a->dir, sizeof a->dir, "%s/%s", g->path, name) >= (int)sizeof a->dir) {
        snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: path too long", g->path, name);
        goto fail;
    }
    a->format = g->format;
    a->cached = -1;
    char mp[SNN_PATH_MAX];
    const char *meta_name = g->format == 2 ? ".zarray" : "zarr.json";
    if (snprintf(mp, sizeof mp, "%s/%s", a->dir, meta_name) >= (int)sizeof mp) {
        snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: path too long", g->path, name);
        goto fail;
    }
    if (!snn_path_exists(mp)) {
        if (!snn_is_dir(a->dir))
            snn_fail(err, SNN_EINPUT, "zarr store %s: has no array '%s'", g->path, name);
        else
            snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: missing %s (not a format-%d zarr array)", g->path, name,
                     meta_name, g->format);
        goto fail;
    }
    json_t *m = load_json(mp, g->path, "array metadata", err);
    if (m == NULL) goto fail;
    int rc = g->format == 2 ? parse_v2(a, m, err) : parse_v3(a, m, err);
    json_decref(m);
    if (rc) goto fail;
    size_t bytes = a->isz;
    for (int d = 0; d < a->ndim; d++) {
        if ((uint64_t)a->chunks[d] > SIZE_MAX / 2 / bytes) {
            snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk shape too large", a->store, a->name);
            goto fail;
        }
        bytes *= (size_t)a->chunks[d];
        a->grid[d] = (a->shape[d] + a->chunks[d] - 1) / a->chunks[d];
    }
    a->chunk_bytes = bytes;
    return a;
fail:
    snn_zarr_array_free(a);
    return NULL;
}

void snn_zarr_array_free(snn_zarr_array *a) {
    if (a == NULL) return;
    free(a->chunk);
    free(a->raw);
    free(a);
}

snn_dtype snn_zarr_dtype(const snn_zarr_array *a) { return a->dtype; }
int snn_zarr_ndim(const snn_zarr_array *a) { return a->ndim; }
const int64_t *snn_zarr_shape(const snn_zarr_array *a) { return a->shape; }
const int64_t *snn_zarr_chunks(const snn_zarr_array *a) { return a->chunks; }

/* ---- chunks ---- */

static void chunk_key(const snn_zarr_array *a, const int64_t *ci, char *key, size_t n) {
    size_t k = (size_t)snprintf(key, n, "%s", a->key_prefix);
    if (a->ndim == 0 && a->key_prefix[0] == '\0') snprintf(key, n, "0");
    for (int d = 0; d < a->ndim && k < n; d++) {
        int first = d == 0 && a->key_prefix[0] == '\0';
        k += (size_t)snprintf(key + k, n - k, "%s%lld", first ? "" : (a->sep == '/' ? "/" : "."), (long long)ci[d]);
    }
}

/* Reads a chunk file into a->raw. Returns SNN_OK with *missing = 1 when the file does not exist. */
static int read_chunk_file(snn_zarr_array *a, const char *path, const char *key, size_t *len, int *missing,
                           snn_error *err) {
    *missing = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO must not block the open */
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            *missing = 1;
            return SNN_OK;
        }
        return snn_fail(err, SNN_ERUN, "zarr store %s, array %s: chunk %s: cannot open: %s", a->store, a->name, key,
                        strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk %s: not a regular file", a->store, a->name,
                        key);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    size_t size = (size_t)st.st_size;
    if (size > a->raw_cap) {
        free(a->raw);
        a->raw_cap = 0;
        a->raw = malloc(size ? size : 1);
        if (a->raw == NULL) {
            close(fd);
            return snn_fail(err, SNN_ERUN, "out of memory: could not allocate %zu bytes for chunk %s of %s/%s", size,
                            key, a->store, a->name);
        }
        a->raw_cap = size;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, a->raw + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            return snn_fail(err, SNN_ERUN, "zarr store %s, array %s: chunk %s: read error: %s", a->store, a->name, key,
                            r < 0 ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    *len = size;
    return SNN_OK;
}

/* Makes the chunk at grid index ci current in a->chunk; *data is NULL when the chunk is all fill. */
static int load_chunk(snn_zarr_array *a, const int64_t *ci, const uint8_t **data, snn_error *err) {
    int64_t lin = 0;
    for (int d = 0; d < a->ndim; d++) lin = lin * a->grid[d] + ci[d];
    if (a->cached == lin) {
        *data = a->cached_missing ? NULL : a->chunk;
        return SNN_OK;
    }
    char key[SNN_MAX_NDIM * 21 + 4], path[SNN_PATH_MAX];
    chunk_key(a, ci, key, sizeof key);
    if (snprintf(path, sizeof path, "%s/%s", a->dir, key) >= (int)sizeof path)
        return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk %s: path too long", a->store, a->name, key);
    size_t len = 0;
    int missing = 0;
    int rc = read_chunk_file(a, path, key, &len, &missing, err);
    if (rc) return rc;
    if (missing && a->strict)
        return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk %s is missing", a->store, a->name, key);
    if (missing) {
        a->cached = lin;
        a->cached_missing = 1;
        *data = NULL;
        return SNN_OK;
    }
    if (a->chunk == NULL) {
        a->chunk = malloc(a->chunk_bytes ? a->chunk_bytes : 1);
        if (a->chunk == NULL)
            return snn_fail(err, SNN_ERUN, "out of memory: could not allocate %zu bytes for a chunk of %s/%s",
                            a->chunk_bytes, a->store, a->name);
    }
    a->cached = -1;
    char why[256];
    if (snn_zarr_decode(a->comp, a->raw, len, a->chunk, a->chunk_bytes, why, sizeof why) != 0)
        return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk %s: %s", a->store, a->name, key, why);
    if (a->big_endian) snn_zarr_byteswap(a->chunk, a->chunk_bytes / a->isz, a->isz);
    a->cached = lin;
    a->cached_missing = 0;
    *data = a->chunk;
    return SNN_OK;
}

int snn_zarr_read_region(snn_zarr_array *a, const int64_t *start, const int64_t *count, void *out,
                         snn_error *err) {
    int nd = a->ndim;
    for (int d = 0; d < nd; d++) {
        if (start[d] < 0 || count[d] < 0 || start[d] > a->shape[d] || count[d] > a->shape[d] - start[d])
            return snn_fail(err, SNN_EINPUT,
                            "zarr store %s, array %s: region [%lld, %lld) outside dimension %d of size %lld", a->store,
                            a->name, (long long)start[d], (long long)(start[d] + count[d]), d, (long long)a->shape[d]);
        if (count[d] == 0) return SNN_OK;
    }
    int64_t clo[SNN_MAX_NDIM], chi[SNN_MAX_NDIM], ci[SNN_MAX_NDIM];
    for (int d = 0; d < nd; d++) {
        clo[d] = start[d] / a->chunks[d];
        chi[d] = (start[d] + count[d] - 1) / a->chunks[d];
        ci[d] = clo[d];
    }
    for (;;) {
        int64_t ext[SNN_MAX_NDIM], coff[SNN_MAX_NDIM], ooff[SNN_MAX_NDIM];
        for (int d = 0; d < nd; d++) {
            int64_t c0 = ci[d] * a->chunks[d];
            int64_t lo = start[d] > c0 ? start[d] : c0;
            int64_t hi = start[d] + count[d] < c0 + a->chunks[d] ? start[d] + count[d] : c0 + a->chunks[d];
            ext[d] = hi - lo;
            coff[d] = lo - c0;
            ooff[d] = lo - start[d];
        }
        const uint8_t *data = NULL;
        int rc = load_chunk(a, ci, &data, err);
        if (rc) return rc;
        if (data)
            snn_zarr_box_copy(out, count, ooff, data, a->chunks, coff, ext, nd, a->isz);
        else
            snn_zarr_box_fill(out, count, ooff, ext, nd, a->fill, a->isz);
        int d = nd - 1;
        while (d >= 0 && ci[d] == chi[d]) {
            ci[d] = clo[d];
            d--;
        }
        if (d < 0) break;
        ci[d]++;
    }
    return SNN_OK;
}

int snn_zarr_read_array(snn_zarr_array *a, snn_array *out, snn_error *err) {
    memset(out, 0, sizeof *out);
    size_t n = 1;
    int64_t zero[SNN_MAX_NDIM] = {0};
    for (int d = 0; d < a->ndim; d++) {
        if (a->shape[d] > 0 && n > SIZE_MAX / a->isz / (size_t)a->shape[d])
            return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: too large to read whole", a->store, a->name);
        n *= (size_t)a->shape[d];
        out->shape[d] = a->shape[d];
    }
    char what[512];
    if (snprintf(what, sizeof what, "array %s of zarr store %s", a->name, a->store) >= (int)sizeof what)
        what[sizeof what - 1] = '\0';
    void *buf = snn_calloc(n, a->isz, what, err);
    if (buf == NULL) return SNN_ERUN;
    int rc = snn_zarr_read_region(a, zero, a->shape, buf, err);
    if (rc) {
        free(buf);
        return rc;
    }
    out->dtype = a->dtype;
    out->ndim = a->ndim;
    out->data = buf;
    return SNN_OK;
}

/* ---- checking a store before it is used ---- */

static int hash_file(const char *path, const char *store, snn_sha256 *id, snn_error *err) {
    char *text = NULL;
    size_t len = 0;
    snn_error e2 = {0};
    if (snn_read_file(path, &text, &len, &e2) != SNN_OK) return snn_fail(err, SNN_EINPUT, "zarr store %s: %s", store, e2.msg);
    snn_sha256_update(id, path + strlen(store), strlen(path) - strlen(store) + 1);
    snn_sha256_update(id, text, len);
    free(text);
    return SNN_OK;
}

int snn_zarr_group_identity(const snn_zarr_group *g, snn_sha256 *id, snn_error *err) {
    static const char *const files[] = {"/.zgroup", "/.zattrs", "/zarr.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[SNN_PATH_MAX];
        if (snprintf(p, sizeof p, "%s%s", g->path, files[i]) >= (int)sizeof p || !snn_path_exists(p)) continue;
        int rc = hash_file(p, g->path, id, err);
        if (rc) return rc;
    }
    return SNN_OK;
}

int snn_zarr_check_chunks(snn_zarr_array *a, int require_all, snn_sha256 *id, snn_error *err) {
    if (id) {
        char mp[SNN_PATH_MAX];
        if (snprintf(mp, sizeof mp, "%s/%s", a->dir, a->format == 2 ? ".zarray" : "zarr.json") >= (int)sizeof mp)
            return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: path too long", a->store, a->name);
        int rc = hash_file(mp, a->store, id, err);
        if (rc) return rc;
    }
    a->strict = require_all;
    int64_t ci[SNN_MAX_NDIM] = {0};
    for (int d = 0; d < a->ndim; d++)
        if (a->grid[d] == 0) return SNN_OK; /* an empty array has no chunks */
    for (;;) {
        char key[SNN_MAX_NDIM * 21 + 4], path[SNN_PATH_MAX];
        chunk_key(a, ci, key, sizeof key);
        if (snprintf(path, sizeof path, "%s/%s", a->dir, key) >= (int)sizeof path)
            return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk %s: path too long", a->store, a->name, key);
        int fd = open(path, O_RDONLY | O_NONBLOCK);
        int64_t size = -1;
        if (fd < 0) {
            if (errno != ENOENT && errno != ENOTDIR)
                return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk %s: cannot open: %s", a->store,
                                a->name, key, strerror(errno));
            if (require_all)
                return snn_fail(err, SNN_EINPUT,
                                "zarr store %s, array %s: chunk %s is missing (a format-2 teacher store has every "
                                "chunk; the store is incomplete%s)",
                                a->store, a->name, key,
                                a->sep == '/' ? ", or its dimension_separator \"/\" does not match its files" : "");
        } else {
            struct stat st;
            if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk %s: not a regular file", a->store,
                                a->name, key);
            }
            size = (int64_t)st.st_size;
            uint8_t head[32], tail[4] = {0, 0, 0, 0};
            ssize_t nh = pread(fd, head, sizeof head, 0);
            ssize_t nt = size >= 4 ? pread(fd, tail, 4, (off_t)(size - 4)) : 0;
            close(fd);
            if (nh < 0 || nt < 0)
                return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk %s: read error: %s", a->store,
                                a->name, key, strerror(errno));
            char why[256];
            if (snn_zarr_check_header(a->comp, head, (size_t)nh, tail, (size_t)size, a->chunk_bytes, why,
                                      sizeof why) != 0)
                return snn_fail(err, SNN_EINPUT, "zarr store %s, array %s: chunk %s: %s", a->store, a->name, key, why);
        }
        if (id) {
            snn_sha256_update(id, key, strlen(key) + 1);
            snn_sha256_update(id, &size, sizeof size);
        }
        int d = a->ndim - 1;
        while (d >= 0 && ci[d] == a->grid[d] - 1) {
            ci[d] = 0;
            d--;
        }
        if (d < 0) break;
        ci[d]++;
    }
    return SNN_OK;
}

int snn_zarr_decode_all(snn_zarr_array *a, snn_error *err) {
    int64_t ci[SNN_MAX_NDIM] = {0};
    for (int d = 0; d < a->ndim; d++)
        if (a->grid[d] == 0) return SNN_OK;
    for (;;) {
        const uint8_t *data;
        int rc = load_chunk(a, ci, &data, err);
        if (rc) return rc;
        int d = a->ndim - 1;
        while (d >= 0 && ci[d] == a->grid[d] - 1) {
            ci[d] = 0;
            d--;
        }
        if (d < 0) break;
        ci[d]++;
    }
    return SNN_OK;
}
