#include "io/npz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "io/npy.h"

/* ======================================================================== writing */

struct snn_npz_writer {
    zip_t *zip;
    int compress;
    size_t count;
    time_t mtime;
    char tmp[SNN_PATH_MAX];
    char final_path[SNN_PATH_MAX];
};

/* libzip turns an mtime into DOS date/time through localtime(), so a fixed time_t would give different
 * bytes in different time zones. Asking mktime for 1980-01-01 00:00 local time (the DOS epoch, which is
 * also what np.savez writes) gives the same DOS stamp everywhere, hence reproducible archives. */
static time_t dos_epoch_local(void) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = 80;
    tm.tm_mon = 0;
    tm.tm_mday = 1;
    tm.tm_hour = 12; /* noon: a DST switch cannot push it into 1979 */
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    return t == (time_t)-1 ? (time_t)315576000 : t;
}

snn_npz_writer *snn_npz_create(const char *path, int compress, snn_error *err) {
    if (strlen(path) >= SNN_PATH_MAX - 64) {
        snn_fail(err, SNN_EINPUT, "%s: path too long", path);
        return NULL;
    }
    snn_npz_writer *w = snn_calloc(1, sizeof *w, "an npz writer", err);
    if (w == NULL) return NULL;
    w->compress = compress;
    w->mtime = dos_epoch_local();
    strcpy(w->final_path, path);
    snn_tmp_name(path, w->tmp, sizeof w->tmp);
    /* Creating the temporary now reports an unwritable directory at once rather than at close, after
     * all the arrays have been built; libzip later replaces it and keeps its permissions. */
    FILE *f = fopen(w->tmp, "wb");
    if (f == NULL) {
        snn_fail(err, SNN_ERUN, "%s: cannot open for writing: %s", path, strerror(errno));
        free(w);
        return NULL;
    }
    fclose(f);
    int code = 0;
    w->zip = zip_open(w->tmp, ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (w->zip == NULL) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, code);
        snn_fail(err, SNN_ERUN, "%s: cannot create archive: %s", path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        unlink(w->tmp);
        free(w);
        return NULL;
    }
    return w;
}

/* Adds a prepared .npy image (libzip owns buf from the call on). */
static int add_image(snn_npz_writer *w, const char *key, zip_source_t *src, snn_error *err) {
    char name[1008];
    snprintf(name, sizeof name, "%s.npy", key);
    zip_int64_t idx = zip_file_add(w->zip, name, src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
        int dup = zip_error_code_zip(zip_get_error(w->zip)) == ZIP_ER_EXISTS;
        zip_source_free(src);
        if (dup) return snn_fail(err, SNN_EINPUT, "%s: array '%s' added twice", w->final_path, key);
        return snn_fail(err, SNN_ERUN, "%s: array '%s': %s", w->final_path, key, zip_strerror(w->zip));
    }
    const zip_int32_t method = w->compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
    if (zip_set_file_compression(w->zip, (zip_uint64_t)idx, method, w->compress ? 1 : 0) != 0 ||
        zip_file_set_mtime(w->zip, (zip_uint64_t)idx, w->mtime, 0) != 0)
        return snn_fail(err, SNN_ERUN, "%s: array '%s': %s", w->final_path, key, zip_strerror(w->zip));
    w->count++;
    return SNN_OK;
}

static int check_key(const snn_npz_writer *w, const char *key, snn_error *err) {
    size_t klen = key ? strlen(key) : 0;
    if (klen == 0 || klen > 1000)
        return snn_fail(err, SNN_EINPUT, "%s: invalid array name (empty or longer than 1000 characters)",
                        w->final_path);
    return SNN_OK;
}

int snn_npz_add(snn_npz_writer *w, const char *key, snn_dtype dtype, int ndim, const int64_t *shape,
                const void *data, snn_error *err) {
    int rc = check_key(w, key, err);
    if (rc) return rc;
    void *buf;
    size_t len;
    rc = snn_npy_encode(dtype, ndim, shape, data, &buf, &len, err);
    if (rc) return rc;
    /* libzip reads the source only at zip_close; it owns buf from here on (freep = 1), so the caller's
     * array may be freed as soon as we return. */
    zip_source_t *src = zip_source_buffer(w->zip, buf, len, 1);
    if (src == NULL) {
        free(buf);
        return snn_fail(err, SNN_ERUN, "%s: array '%s': %s", w->final_path, key, zip_strerror(w->zip));
    }
    return add_image(w, key, src, err);
}

int snn_npz_add_scalar_f64(snn_npz_writer *w, const char *key, double v, snn_error *err) {
    return snn_npz_add(w, key, SNN_F64, 0, NULL, &v, err);
}

int snn_npz_add_scalar_i64(snn_npz_writer *w, const char *key, int64_t v, snn_error *err) {
    return snn_npz_add(w, key, SNN_I64, 0, NULL, &v, err);
}

int snn_npz_add_bytes(snn_npz_writer *w, const char *key, const char *text, snn_error *err) {
    int rc = check_key(w, key, err);
    if (rc) return rc;
    void *buf;
    size_t len;
    if ((rc = snn_npy_encode_bytes(text, &buf, &len, err))) return rc;
    zip_source_t *src = zip_source_buffer(w->zip, buf, len, 1);
    if (src == NULL) {
        free(buf);
        return snn_fail(err, SNN_ERUN, "%s: array '%s': %s", w->final_path, key, zip_strerror(w->zip));
    }
    return add_image(w, key, src, err);
}

/* A member whose data a callback produces while libzip writes the archive (at snn_npz_close): the
 * header, then the elements in slices of GEN_SLICE, regenerated from any offset libzip seeks to. */
#define GEN_SLICE ((size_t)1 << 20)

typedef struct gen_source {
    unsigned char *hdr;
    size_t hdr_len;
    uint64_t data_len, pos;  /* pos: byte offset into header + data */
    size_t esize;
    snn_npz_fill_fn fill;
    void *ctx;
    unsigned char *slice;    /* GEN_SLICE bytes: elements [slice_first, slice_first + slice_count) */
    uint64_t slice_first;
    size_t slice_count;
    zip_error_t error;
} gen_source;

static zip_int64_t gen_read(gen_source *g, unsigned char *out, zip_uint64_t len) {
    zip_uint64_t total = g->hdr_len + g->data_len, done = 0;
    while (done < len && g->pos < total) {
        if (g->pos < g->hdr_len) {
            size_t k = (size_t)(g->hdr_len - g->pos);
            if (k > len - done) k = (size_t)(len - done);
            memcpy(out + done, g->hdr + g->pos, k);
            g->pos += k;
            done += k;
            continue;
        }
        uint64_t off = g->pos - g->hdr_len, elem = off / g->esize;
        if (g->slice_count == 0 || elem < g->slice_first || elem >= g->slice_first + g->slice_count) {
            uint64_t left = g->data_len / g->esize - elem, per = GEN_SLICE / g->esize;
            g->slice_first = elem;
            g->slice_count = (size_t)(left < per ? left : per);
            g->fill(g->ctx, g->slice_first, g->slice_count, g->slice);
        }
        uint64_t in_slice = off - g->slice_first * g->esize;
        size_t k = (size_t)(g->slice_count * g->esize - in_slice);
        if (k > len - done) k = (size_t)(len - done);
        memcpy(out + done, g->slice + in_slice, k);
        g->pos += k;
        done += k;
    }
    return (zip_int64_t)done;
}

static zip_int64_t gen_callback(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd) {
    gen_source *g = ud;
    switch (cmd) {
    case ZIP_SOURCE_OPEN: g->pos = 0; return 0;
    case ZIP_SOURCE_READ: return gen_read(g, data, len);
    case ZIP_SOURCE_CLOSE: return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;
        zip_stat_init(st);
        st->size = g->hdr_len + g->data_len;
        st->comp_size = st->size;
        st->comp_method = ZIP_CM_STORE;
        st->encryption_method = ZIP_EM_NONE;
        st->valid |= ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
        return sizeof *st;
    }
    case ZIP_SOURCE_SEEK: {
        zip_int64_t to = zip_source_seek_compute_offset(g->pos, g->hdr_len + g->data_len, data, len, &g->error);
        if (to < 0) return -1;
        g->pos = (uint64_t)to;
        return 0;
    }
    case ZIP_SOURCE_TELL: return (zip_int64_t)g->pos;
    case ZIP_SOURCE_ERROR: return zip_error_to_data(&g->error, data, len);
    case ZIP_SOURCE_FREE:
        free(g->hdr);
        free(g->slice);
        zip_error_fini(&g->error);
        free(g);
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                              ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    default: zip_error_set(&g->error, ZIP_ER_OPNOTSUPP, 0); return -1;
    }
}

int snn_npz_add_generated(snn_npz_writer *w, const char *key, snn_dtype dtype, int ndim, const int64_t *shape,
                          snn_npz_fill_fn fill, void *ctx, snn_error *err) {
    int rc = check_key(w, key, err);
    if (rc) return rc;
    gen_source *g = snn_calloc(1, sizeof *g, "an npz member", err);
    if (g == NULL) return SNN_ERUN;
    size_t dlen;
    if ((rc = snn_npy_header(dtype, ndim, shape, &g->hdr, &g->hdr_len, &dlen, err))) {
        free(g);
        return rc;
    }
    g->data_len = dlen;
    g->esize = snn_dtype_size(dtype);
    g->fill = fill;
    g->ctx = ctx;
    zip_error_init(&g->error);
    g->slice = snn_calloc(GEN_SLICE, 1, "an npz member slice", err);
    zip_source_t *src = g->slice ? zip_source_function(w->zip, gen_callback, g) : NULL;
    if (src == NULL) {
        int had_slice = g->slice != NULL;
        free(g->hdr);
        free(g->slice);
        free(g);
        return had_slice ? snn_fail(err, SNN_ERUN, "%s: array '%s': %s", w->final_path, key, zip_strerror(w->zip))
                         : SNN_ERUN;
    }
    return add_image(w, key, src, err);
}

/* libzip deletes an archive that has no entries instead of writing one; np.savez() with no arrays
 * writes a bare end-of-central-directory record, so do the same. */
static int write_empty_zip(const char *tmp) {
    static const unsigned char eocd[22] = {0x50, 0x4b, 0x05, 0x06};
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) return -1;
    int bad = fwrite(eocd, 1, sizeof eocd, f) != sizeof eocd;
    if (fclose(f) != 0) bad = 1;
    return bad ? -1 : 0;
}

static void free_writer(snn_npz_writer *w) { free(w); }

int snn_npz_close(snn_npz_writer *w, snn_error *err) {
    if (w == NULL) return snn_fail(err, SNN_ERUN, "snn_npz_close: no writer");
    if (w->count == 0) {
        zip_discard(w->zip);
        if (write_empty_zip(w->tmp) != 0) {
            int saved = errno;
            unlink(w->tmp);
            snn_fail(err, SNN_ERUN, "%s: write failed: %s", w->final_path, strerror(saved ? saved : EIO));
            free_writer(w);
            return SNN_ERUN;
        }
    } else if (zip_close(w->zip) != 0) {
        /* zip_close leaves the handle open on failure and removes only its own temporary */
        snn_fail(err, SNN_ERUN, "%s: cannot write the archive (disk full?): %s", w->final_path,
                 zip_strerror(w->zip));
        zip_discard(w->zip);
        unlink(w->tmp);
        free_writer(w);
        return SNN_ERUN;
    }
    w->zip = NULL;
    /* libzip does not fsync; without it a crash right after the rename could leave an empty file */
    int fd = open(w->tmp, O_RDONLY);
    int bad = fd < 0 || fsync(fd) != 0;
    int saved = errno;
    if (fd >= 0) close(fd);
    if (bad) {
        unlink(w->tmp);
        snn_fail(err, SNN_ERUN, "%s: write failed: %s", w->final_path, strerror(saved ? saved : EIO));
        free_writer(w);
        return SNN_ERUN;
    }
    if (rename(w->tmp, w->final_path) != 0) {
        saved = errno;
        unlink(w->tmp);
        snn_fail(err, SNN_ERUN, "%s: cannot rename into place: %s", w->final_path, strerror(saved));
        free_writer(w);
        return SNN_ERUN;
    }
    free_writer(w);
    return SNN_OK;
}

void snn_npz_abort(snn_npz_writer *w) {
    if (w == NULL) return;
    if (w->zip) zip_discard(w->zip);
    unlink(w->tmp);
    free_writer(w);
}

/* ======================================================================== reading */

struct snn_npz {
    zip_t *zip;
    char *path;
    size_t count;
    char **keys;
    zip_uint64_t *index;
};

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

snn_npz *snn_npz_open(const char *path, snn_error *err) {
    /* libzip would block on a FIFO and read a device forever */
    if (snn_check_regular_file(path, err) != SNN_OK) return NULL;
    int code = 0;
    zip_t *zip = zip_open(path, ZIP_RDONLY, &code);
    if (zip == NULL) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, code);
        if (code == ZIP_ER_NOENT || code == ZIP_ER_OPEN || code == ZIP_ER_READ)
            snn_fail(err, SNN_EINPUT, "%s: cannot open: %s", path, zip_error_strerror(&ze));
        else
            snn_fail(err, SNN_EINPUT, "%s: not a readable .npz archive (not a zip file, or truncated): %s", path,
                     zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return NULL;
    }
    snn_npz *z = snn_calloc(1, sizeof *z, "an npz reader", err);
    if (z == NULL) {
        zip_discard(zip);
        return NULL;
    }
    z->zip = zip;
    z->path = strdup(path);
    zip_int64_t n = zip_get_num_entries(zip, 0);
    if (n < 0) n = 0;
    z->keys = snn_calloc((size_t)n + 1, sizeof *z->keys, "npz member names", err);
    z->index = snn_calloc((size_t)n + 1, sizeof *z->index, "npz member indices", err);
    if (z->path == NULL || z->keys == NULL || z->index == NULL) {
        snn_fail(err, SNN_ERUN, "out of memory opening %s", path);
        snn_npz_free(z);
        return NULL;
    }
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(zip, (zip_uint64_t)i, ZIP_FL_ENC_GUESS);
        if (name == NULL || ends_with(name, "/")) continue;
        size_t len = strlen(name);
        if (ends_with(name, ".npy")) len -= 4;
        char *key = snn_calloc(len + 1, 1, "an npz member name", err);
        if (key == NULL) {
            snn_npz_free(z);
            return NULL;
        }
        memcpy(key, name, len);
        key[len] = '\0';
        /* two members of one name (or "w" and "w.npy"): numpy reads the last, a first-match reader the
         * first; which array the file means is ambiguous, so it is refused */
        for (size_t j = 0; j < z->count; j++)
            if (strcmp(z->keys[j], key) == 0) {
                snn_fail(err, SNN_EINPUT, "%s: array '%s' is stored twice in the archive (a corrupt or edited file)",
                         path, key);
                free(key);
                snn_npz_free(z);
                return NULL;
            }
        z->keys[z->count] = key;
        z->index[z->count] = (zip_uint64_t)i;
        z->count++;
    }
    return z;
}

void snn_npz_free(snn_npz *z) {
    if (z == NULL) return;
    if (z->zip) zip_discard(z->zip);
    if (z->keys)
        for (size_t i = 0; i < z->count; i++) free(z->keys[i]);
    free(z->keys);
    free(z->index);
    free(z->path);
    free(z);
}

const char *snn_npz_path(const snn_npz *z) { return z->path; }
size_t snn_npz_count(const snn_npz *z) { return z->count; }
const char *snn_npz_key(const snn_npz *z, size_t i) { return i < z->count ? z->keys[i] : NULL; }

static long find_key(const snn_npz *z, const char *key) {
    for (size_t i = 0; i < z->count; i++)
        if (strcmp(z->keys[i], key) == 0) return (long)i;
    return -1;
}

int snn_npz_has(const snn_npz *z, const char *key) { return find_key(z, key) >= 0; }

typedef struct zip_stream {
    zip_file_t *f;
    const char *what;
} zip_stream;

static int64_t zip_stream_read(void *ctx, void *buf, size_t n, snn_error *err) {
    zip_stream *s = ctx;
    zip_int64_t r = zip_fread(s->f, buf, n);
    if (r < 0)
        return -snn_fail(err, SNN_EINPUT, "%s: corrupt or truncated data: %s", s->what, zip_file_strerror(s->f));
    return r;
}

static void what_str(const snn_npz *z, const char *key, char *out, size_t n) {
    snprintf(out, n, "%s: array '%s'", z->path, key);
}

int snn_npz_read(snn_npz *z, const char *key, snn_array *out, snn_error *err) {
    memset(out, 0, sizeof *out);
    long k = find_key(z, key);
    if (k < 0) {
        char list[512] = "";
        size_t p = 0;
        for (size_t i = 0; i < z->count && p < sizeof list - 8; i++) {
            int wrote = snprintf(list + p, sizeof list - p, "%s'%s'", i ? ", " : "", z->keys[i]);
            p += wrote > 0 ? (size_t)wrote : 0;
        }
        if (p >= sizeof list - 8) strcpy(list + sizeof list - 8, ", ...");
        return snn_fail(err, SNN_EINPUT, "%s: missing array '%s' (the archive holds %s)", z->path, key,
                        z->count ? list : "no arrays");
    }
    char what[1200];
    what_str(z, key, what, sizeof what);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z->zip, z->index[k], 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return snn_fail(err, SNN_EINPUT, "%s: cannot read its size: %s", what, zip_strerror(z->zip));
    zip_file_t *f = zip_fopen_index(z->zip, z->index[k], 0);
    if (f == NULL) return snn_fail(err, SNN_EINPUT, "%s: cannot open: %s", what, zip_strerror(z->zip));
    zip_stream s = {f, what};
    int rc = snn_npy_read_stream(zip_stream_read, &s, st.size, what, out, err);
    zip_fclose(f);
    return rc;
}

int snn_npz_peek(snn_npz *z, const char *key, snn_array *out, snn_error *err) {
    memset(out, 0, sizeof *out);
    long k = find_key(z, key);
    if (k < 0) return snn_fail(err, SNN_EINPUT, "%s: missing array '%s'", z->path, key);
    char what[1200];
    what_str(z, key, what, sizeof what);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z->zip, z->index[k], 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return snn_fail(err, SNN_EINPUT, "%s: cannot read its size: %s", what, zip_strerror(z->zip));
    zip_file_t *f = zip_fopen_index(z->zip, z->index[k], 0);
    if (f == NULL) return snn_fail(err, SNN_EINPUT, "%s: cannot open: %s", what, zip_strerror(z->zip));
    zip_stream s = {f, what};
    int rc = snn_npy_read_stream_header(zip_stream_read, &s, st.size, what, out, err);
    zip_fclose(f);
    return rc;
}

/* Narrowing integer conversions must not wrap silently: an index array stored as int64 with a value
 * beyond int32, or a 0/1 mask holding a 2, is bad input, not something to reinterpret. */
static int int_limits(snn_dtype t, int64_t *lo, uint64_t *hi) {
    switch (t) {
    case SNN_BOOL: *lo = 0; *hi = 1; return 0;
    case SNN_I8: *lo = INT8_MIN; *hi = INT8_MAX; return 0;
    case SNN_U8: *lo = 0; *hi = UINT8_MAX; return 0;
    case SNN_I16: *lo = INT16_MIN; *hi = INT16_MAX; return 0;
    case SNN_U16: *lo = 0; *hi = UINT16_MAX; return 0;
    case SNN_I32: *lo = INT32_MIN; *hi = INT32_MAX; return 0;
    case SNN_U32: *lo = 0; *hi = UINT32_MAX; return 0;
    case SNN_I64: *lo = INT64_MIN; *hi = INT64_MAX; return 0;
    case SNN_U64: *lo = 0; *hi = UINT64_MAX; return 0;
    default: return -1;
    }
}

static void index_str(const snn_array *a, size_t flat, char *out, size_t n) {
    int64_t idx[SNN_MAX_NDIM];
    for (int d = a->ndim - 1; d >= 0; d--) {
        idx[d] = a->shape[d] ? (int64_t)(flat % (size_t)a->shape[d]) : 0;
        flat = a->shape[d] ? flat / (size_t)a->shape[d] : 0;
    }
    size_t p = 0;
    out[0] = '\0';
    for (int d = 0; d < a->ndim && p < n; d++) {
        int wrote = snprintf(out + p, n - p, "%s%lld", d ? ", " : "[", (long long)idx[d]);
        p += wrote > 0 ? (size_t)wrote : 0;
    }
    if (p < n) snprintf(out + p, n - p, "]");
}

static int check_int_range(const snn_array *a, snn_dtype want, const char *what, snn_error *err) {
    int64_t lo;
    uint64_t hi;
    if (int_limits(want, &lo, &hi) != 0) return SNN_OK;
    size_t n = snn_array_count(a);
    for (size_t i = 0; i < n; i++) {
        if (a->dtype == SNN_U64) {
            uint64_t u = ((const uint64_t *)a->data)[i];
            if (u > hi) {
                char idx[160];
                index_str(a, i, idx, sizeof idx);
                return snn_fail(err, SNN_EINPUT, "%s: value %llu at %s does not fit in %s", what,
                                (unsigned long long)u, idx, snn_dtype_name(want));
            }
            continue;
        }
        int64_t v;
        snn_dtype_convert((const char *)a->data + i * snn_dtype_size(a->dtype), a->dtype, &v, SNN_I64, 1);
        if (v < lo || (v >= 0 && (uint64_t)v > hi)) {
            char idx[160];
            index_str(a, i, idx, sizeof idx);
            if (want == SNN_BOOL)
                return snn_fail(err, SNN_EINPUT, "%s: value %lld at %s is not 0 or 1 (expected a bool mask)", what,
                                (long long)v, idx);
            return snn_fail(err, SNN_EINPUT, "%s: value %lld at %s does not fit in %s", what, (long long)v, idx,
                            snn_dtype_name(want));
        }
    }
    return SNN_OK;
}

int snn_npz_read_as(snn_npz *z, const char *key, snn_dtype want, int ndim, const int64_t *expected,
                    snn_array *out, snn_error *err) {
    snn_array raw;
    /* the shape from the header first: a member of the wrong shape is refused before its data are
     * allocated (a corrupt header may claim gigabytes) */
    int rc = snn_npz_peek(z, key, &raw, err);
    if (rc == SNN_OK) {
        int ok = raw.ndim == ndim;
        for (int d = 0; ok && d < ndim; d++)
            if (expected && expected[d] >= 0 && expected[d] != raw.shape[d]) ok = 0;
        if (ok) rc = snn_npz_read(z, key, &raw, err);
    }
    if (rc) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    char what[1200];
    what_str(z, key, what, sizeof what);
    int shape_ok = raw.ndim == ndim;
    for (int d = 0; shape_ok && d < ndim; d++)
        if (expected && expected[d] >= 0 && expected[d] != raw.shape[d]) shape_ok = 0;
    if (!shape_ok) {
        char want_s[200], got_s[200];
        int64_t any[SNN_MAX_NDIM];
        for (int d = 0; d < ndim && d < SNN_MAX_NDIM; d++) any[d] = -1;
        snn_npy_shape_str(ndim < SNN_MAX_NDIM ? ndim : SNN_MAX_NDIM, expected ? expected : any, want_s,
                          sizeof want_s);
        snn_npy_shape_str(raw.ndim, raw.shape, got_s, sizeof got_s);
        snn_array_free(&raw);
        memset(out, 0, sizeof *out);
        return snn_fail(err, SNN_EINPUT, "%s: expected shape %s, got %s", what, want_s, got_s);
    }
    if (!snn_dtype_is_float(want) && snn_dtype_is_float(raw.dtype)) {
        if (want == SNN_BOOL)
            snn_fail(err, SNN_EINPUT, "%s: has dtype %s, expected a bool array (or integers 0/1)", what,
                     snn_dtype_name(raw.dtype));
        else
            snn_fail(err, SNN_EINPUT, "%s: has dtype %s, expected an integer array (%s)", what,
                     snn_dtype_name(raw.dtype), snn_dtype_name(want));
        snn_array_free(&raw);
        memset(out, 0, sizeof *out);
        return SNN_EINPUT;
    }
    if (raw.dtype == want) {
        *out = raw;
        return SNN_OK;
    }
    if (!snn_dtype_is_float(want) && (rc = check_int_range(&raw, want, what, err)) != SNN_OK) {
        snn_array_free(&raw);
        memset(out, 0, sizeof *out);
        return rc;
    }
    size_t n = snn_array_count(&raw);
    void *conv = snn_calloc(n ? n : 1, snn_dtype_size(want), what, err);
    if (conv == NULL) {
        snn_array_free(&raw);
        memset(out, 0, sizeof *out);
        return SNN_ERUN;
    }
    snn_dtype_convert(raw.data, raw.dtype, conv, want, n);
    snn_array_free(&raw);
    *out = raw;
    out->dtype = want;
    out->data = conv;
    return SNN_OK;
}

/* ---- piecewise reading of one member ---- */

struct snn_npz_stream {
    zip_file_t *f;
    snn_npy_info info;
    uint64_t left;  /* elements not yet read */
    char what[1200];
};

snn_npz_stream *snn_npz_stream_open(snn_npz *z, const char *key, snn_array *shape_out, snn_error *err) {
    memset(shape_out, 0, sizeof *shape_out);
    long k = find_key(z, key);
    if (k < 0) {
        snn_fail(err, SNN_EINPUT, "%s: missing array '%s'", z->path, key);
        return NULL;
    }
    snn_npz_stream *s = snn_calloc(1, sizeof *s, "an npz stream", err);
    if (s == NULL) return NULL;
    what_str(z, key, s->what, sizeof s->what);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z->zip, z->index[k], 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
        snn_fail(err, SNN_EINPUT, "%s: cannot read its size: %s", s->what, zip_strerror(z->zip));
        free(s);
        return NULL;
    }
    s->f = zip_fopen_index(z->zip, z->index[k], 0);
    if (s->f == NULL) {
        snn_fail(err, SNN_EINPUT, "%s: cannot open: %s", s->what, zip_strerror(z->zip));
        free(s);
        return NULL;
    }
    zip_stream zs = {s->f, s->what};
    if (snn_npy_read_header(zip_stream_read, &zs, st.size, s->what, &s->info, err) != SNN_OK) {
        snn_npz_stream_close(s);
        return NULL;
    }
    s->left = s->info.count;
    shape_out->dtype = s->info.dtype;
    shape_out->ndim = s->info.ndim;
    memcpy(shape_out->shape, s->info.shape, sizeof s->info.shape);
    return s;
}

int snn_npz_stream_read(snn_npz_stream *s, void *buf, size_t count, snn_error *err) {
    if (count > s->left) return snn_fail(err, SNN_ERUN, "%s: read past the end of the array", s->what);
    size_t esize = snn_dtype_size(s->info.dtype), want = count * esize, got = 0;
    while (got < want) {
        zip_int64_t r = zip_fread(s->f, (char *)buf + got, want - got);
        if (r < 0)
            return snn_fail(err, SNN_EINPUT, "%s: corrupt or truncated data: %s", s->what, zip_file_strerror(s->f));
        if (r == 0) return snn_fail(err, SNN_EINPUT, "%s: truncated data", s->what);
        got += (size_t)r;
    }
    snn_npy_fix_elements(&s->info, buf, count);
    s->left -= count;
    return SNN_OK;
}

int snn_npz_stream_end(snn_npz_stream *s, snn_error *err) {
    if (s->left != 0) return snn_fail(err, SNN_ERUN, "%s: not read to the end", s->what);
    unsigned char extra;
    zip_int64_t r = zip_fread(s->f, &extra, 1);
    if (r < 0) return snn_fail(err, SNN_EINPUT, "%s: corrupt or truncated data: %s", s->what, zip_file_strerror(s->f));
    if (r > 0) return snn_fail(err, SNN_EINPUT, "%s: holds more data than its shape needs", s->what);
    return SNN_OK;
}

void snn_npz_stream_close(snn_npz_stream *s) {
    if (s == NULL) return;
    if (s->f) zip_fclose(s->f);
    free(s);
}

int snn_npz_read_bytes(snn_npz *z, const char *key, char *out, size_t n, snn_error *err) {
    long k = find_key(z, key);
    if (k < 0) return snn_fail(err, SNN_EINPUT, "%s: missing array '%s'", z->path, key);
    char what[1200];
    what_str(z, key, what, sizeof what);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z->zip, z->index[k], 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || st.size > 65536)
        return snn_fail(err, SNN_EINPUT, "%s: expected a short bytes scalar", what);
    unsigned char buf[65536];
    zip_file_t *f = zip_fopen_index(z->zip, z->index[k], 0);
    if (f == NULL) return snn_fail(err, SNN_EINPUT, "%s: cannot open: %s", what, zip_strerror(z->zip));
    zip_int64_t r = zip_fread(f, buf, st.size);
    zip_fclose(f);
    if (r < 0 || (zip_uint64_t)r != st.size) return snn_fail(err, SNN_EINPUT, "%s: corrupt or truncated data", what);
    return snn_npy_decode_bytes(buf, (size_t)r, what, out, n, err);
}
