#define _GNU_SOURCE /* memmem */
#include "io/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "io/npz.h"

/* A real header is a few hundred bytes; anything this long is a corrupt length field, and refusing it
 * keeps a flipped byte from turning into a multi-gigabyte allocation. */
#define NPY_MAX_HEADER_LEN (1u << 20)
/* Data is read in slices so that no single libzip/stdio call has to move more than this. */
#define NPY_READ_SLICE ((size_t)1 << 26)

static const char k_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

void snn_npy_shape_str(int ndim, const int64_t *shape, char *out, size_t n) {
    size_t p = 0;
    if (n == 0) return;
    out[0] = '\0';
#define APPEND(...)                                                                                  \
    do {                                                                                             \
        if (p < n) {                                                                                 \
            int w_ = snprintf(out + p, n - p, __VA_ARGS__);                                          \
            p += w_ > 0 ? (size_t)w_ : 0;                                                            \
        }                                                                                            \
    } while (0)
    APPEND("(");
    for (int d = 0; d < ndim; d++) {
        if (d > 0) APPEND(", ");
        if (shape[d] < 0)
            APPEND("*");
        else
            APPEND("%lld", (long long)shape[d]);
    }
    if (ndim == 1) APPEND(",");
    APPEND(")");
#undef APPEND
}

/* ---- header parsing ---- */

typedef struct npy_info {
    snn_dtype dtype;
    int big_endian;
    int fortran;
    int ndim;
    int64_t shape[SNN_MAX_NDIM];
} npy_info;

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int accept(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A Python string literal without escapes (all that NumPy writes for keys and descriptors). */
static int parse_str(cursor *c, char *out, size_t n) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || k + 1 >= n) return -1;
        out[k++] = *c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    out[k] = '\0';
    return 0;
}

static int parse_word(cursor *c, const char *word) {
    skip_ws(c);
    size_t len = strlen(word);
    if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0) return 0;
    c->p += len;
    return 1;
}

static int malformed(const char *what, const char *why, const char *h, size_t hlen, snn_error *err) {
    /* the header is text when intact; show its start so the user can see what is wrong */
    char snip[81];
    size_t k = 0;
    for (size_t i = 0; i < hlen && k < sizeof snip - 1; i++) snip[k++] = (h[i] >= 32 && h[i] < 127) ? h[i] : '?';
    snip[k] = '\0';
    return snn_fail(err, SNN_EINPUT, "%s: malformed .npy header (%s): \"%s\"", what, why, snip);
}

static int parse_shape(cursor *c, npy_info *info) {
    if (!accept(c, '(')) return -1;
    info->ndim = 0;
    for (;;) {
        if (accept(c, ')')) return 0;
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return -2;
            v = v * 10 + (*c->p++ - '0');
        }
        if (c->p < c->end && (*c->p == 'L' || *c->p == 'l')) c->p++; /* Python 2 long literals */
        if (info->ndim >= SNN_MAX_NDIM) return -3;
        info->shape[info->ndim++] = v;
        if (accept(c, ')')) return 0;
        if (!accept(c, ',')) return -1;
    }
}

static int parse_header(const char *h, size_t hlen, const char *what, npy_info *info, snn_error *err) {
    cursor c = {h, h + hlen};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    char descr[64] = "";
    memset(info, 0, sizeof *info);
    if (!accept(&c, '{')) return malformed(what, "expected '{'", h, hlen, err);
    for (;;) {
        if (accept(&c, '}')) break;
        char key[32];
        if (parse_str(&c, key, sizeof key) != 0) return malformed(what, "expected a quoted key", h, hlen, err);
        if (!accept(&c, ':')) return malformed(what, "expected ':'", h, hlen, err);
        if (strcmp(key, "descr") == 0) {
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[')
                return snn_fail(err, SNN_EINPUT,
                                "%s: has a structured dtype; only plain bool, integer and float arrays are supported",
                                what);
            if (parse_str(&c, descr, sizeof descr) != 0)
                return malformed(what, "bad 'descr' value", h, hlen, err);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(&c, "True"))
                info->fortran = 1;
            else if (parse_word(&c, "False"))
                info->fortran = 0;
            else
                return malformed(what, "bad 'fortran_order' value", h, hlen, err);
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            int rc = parse_shape(&c, info);
            if (rc == -3)
                return snn_fail(err, SNN_EINPUT, "%s: has more than %d dimensions", what, SNN_MAX_NDIM);
            if (rc != 0) return malformed(what, "bad 'shape' value", h, hlen, err);
            have_shape = 1;
        } else {
            return malformed(what, "unexpected key", h, hlen, err);
        }
        if (accept(&c, '}')) break;
        if (!accept(&c, ',')) return malformed(what, "expected ',' or '}'", h, hlen, err);
    }
    if (!have_descr || !have_fortran || !have_shape)
        return malformed(what, "missing 'descr', 'fortran_order' or 'shape'", h, hlen, err);
    if (snn_dtype_parse(descr, &info->dtype, &info->big_endian) != 0)
        return snn_fail(err, SNN_EINPUT,
                        "%s: unsupported dtype '%s' (expected bool, int8..int64, uint8..uint64, float32 or float64)",
                        what, descr);
    if (info->fortran && info->ndim > 1)
        return snn_fail(err, SNN_EINPUT, "%s is Fortran-ordered; save it with C order", what);
    return SNN_OK;
}

/* ---- stream reading ---- */

static int read_exact(snn_npy_read_fn rd, void *ctx, void *buf, size_t n, const char *what, const char *part,
                      snn_error *err) {
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < NPY_READ_SLICE ? n - got : NPY_READ_SLICE;
        int64_t r = rd(ctx, (char *)buf + got, want, err);
        if (r < 0) return (int)-r;
        if (r == 0) break;
        got += (size_t)r;
    }
    if (got < n)
        return snn_fail(err, SNN_EINPUT, "%s: truncated: the %s ends after %zu of %zu bytes", what, part, got, n);
    return SNN_OK;
}

static void byteswap(void *data, size_t count, size_t size) {
    unsigned char *p = data;
    for (size_t i = 0; i < count; i++, p += size) {
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
    }
}

int snn_npy_read_header(snn_npy_read_fn rd, void *ctx, uint64_t total, const char *what, snn_npy_info *out,
                        snn_error *err) {
    memset(out, 0, sizeof *out);
    unsigned char pre[12];
    if (total < 10)
        return snn_fail(err, SNN_EINPUT, "%s: not a .npy array (only %llu bytes, shorter than a .npy header)", what,
                        (unsigned long long)total);
    int rc = read_exact(rd, ctx, pre, 8, what, "header", err);
    if (rc) return rc;
    if (memcmp(pre, k_magic, sizeof k_magic) != 0)
        return snn_fail(err, SNN_EINPUT, "%s: not a .npy array (bad magic bytes)", what);
    uint64_t prefix, hlen;
    if (pre[6] == 1) {
        prefix = 10;
        if ((rc = read_exact(rd, ctx, pre + 8, 2, what, "header", err))) return rc;
        hlen = (uint64_t)pre[8] | ((uint64_t)pre[9] << 8);
    } else if (pre[6] == 2 || pre[6] == 3) {
        prefix = 12;
        if (total < 12) return snn_fail(err, SNN_EINPUT, "%s: truncated inside the .npy header", what);
        if ((rc = read_exact(rd, ctx, pre + 8, 4, what, "header", err))) return rc;
        hlen = (uint64_t)pre[8] | ((uint64_t)pre[9] << 8) | ((uint64_t)pre[10] << 16) | ((uint64_t)pre[11] << 24);
    } else {
        return snn_fail(err, SNN_EINPUT, "%s: unsupported .npy format version %d.%d (expected 1.0, 2.0 or 3.0)",
                        what, pre[6], pre[7]);
    }
    if (hlen > NPY_MAX_HEADER_LEN)
        return snn_fail(err, SNN_EINPUT, "%s: corrupt .npy header (claims %llu bytes)", what,
                        (unsigned long long)hlen);
    if (hlen > total - prefix)
        return snn_fail(err, SNN_EINPUT, "%s: truncated: the .npy header needs %llu bytes, only %llu present", what,
                        (unsigned long long)hlen, (unsigned long long)(total - prefix));
    char *h = snn_calloc((size_t)hlen + 1, 1, "a .npy header", err);
    if (h == NULL) return SNN_ERUN;
    rc = read_exact(rd, ctx, h, (size_t)hlen, what, "header", err);
    npy_info info;
    if (rc == SNN_OK) rc = parse_header(h, (size_t)hlen, what, &info, err);
    free(h);
    if (rc) return rc;

    size_t esize = snn_dtype_size(info.dtype);
    uint64_t count = 1;
    int overflow = 0;
    for (int d = 0; d < info.ndim; d++) {
        uint64_t s = (uint64_t)info.shape[d];
        if (s != 0 && count > UINT64_MAX / s) overflow = 1;
        count *= s;
    }
    uint64_t avail = total - prefix - hlen;
    char shp[160];
    snn_npy_shape_str(info.ndim, info.shape, shp, sizeof shp);
    if (overflow || count > UINT64_MAX / esize || count * esize > avail)
        return snn_fail(err, SNN_EINPUT,
                        "%s: truncated: shape %s of %s needs %s%llu bytes of data, only %llu present", what, shp,
                        snn_dtype_name(info.dtype), overflow ? "more than " : "",
                        (unsigned long long)(overflow ? UINT64_MAX : count * esize), (unsigned long long)avail);
    uint64_t nbytes = count * esize;
    if (avail != nbytes)
        return snn_fail(err, SNN_EINPUT, "%s: holds %llu bytes of data but shape %s of %s needs %llu", what,
                        (unsigned long long)avail, shp, snn_dtype_name(info.dtype), (unsigned long long)nbytes);
    out->dtype = info.dtype;
    out->big_endian = info.big_endian;
    out->ndim = info.ndim;
    memcpy(out->shape, info.shape, sizeof info.shape);
    out->count = count;
    return SNN_OK;
}

void snn_npy_fix_elements(const snn_npy_info *info, void *data, size_t count) {
    size_t esize = snn_dtype_size(info->dtype);
    if (info->big_endian && esize > 1) byteswap(data, count, esize);
    if (info->dtype == SNN_BOOL) {
        unsigned char *b = data;
        for (size_t i = 0; i < count; i++) b[i] = b[i] != 0;
    }
}

int snn_npy_read_stream_header(snn_npy_read_fn rd, void *ctx, uint64_t total, const char *what, snn_array *out,
                               snn_error *err) {
    memset(out, 0, sizeof *out);
    snn_npy_info info;
    int rc = snn_npy_read_header(rd, ctx, total, what, &info, err);
    if (rc) return rc;
    out->dtype = info.dtype;
    out->ndim = info.ndim;
    memcpy(out->shape, info.shape, sizeof info.shape);
    return SNN_OK;
}

int snn_npy_read_stream(snn_npy_read_fn rd, void *ctx, uint64_t total, const char *what, snn_array *out,
                        snn_error *err) {
    memset(out, 0, sizeof *out);
    snn_npy_info info;
    int rc = snn_npy_read_header(rd, ctx, total, what, &info, err);
    if (rc) return rc;
    size_t esize = snn_dtype_size(info.dtype);
    uint64_t count = info.count, nbytes = count * esize;
    char shp[160];
    snn_npy_shape_str(info.ndim, info.shape, shp, sizeof shp);
    if (nbytes > SIZE_MAX)
        return snn_fail(err, SNN_ERUN, "%s: %llu bytes do not fit in memory on this platform", what,
                        (unsigned long long)nbytes);

    void *data = snn_calloc((size_t)count ? (size_t)count : 1, esize, what, err);
    if (data == NULL) return SNN_ERUN;
    rc = read_exact(rd, ctx, data, (size_t)nbytes, what, "data", err);
    if (rc == SNN_OK) {
        unsigned char extra;
        int64_t r = rd(ctx, &extra, 1, err);
        if (r < 0)
            rc = (int)-r;
        else if (r > 0)
            rc = snn_fail(err, SNN_EINPUT, "%s: holds more data than its shape %s of %s needs", what, shp,
                          snn_dtype_name(info.dtype));
    }
    if (rc) {
        free(data);
        return rc;
    }
    snn_npy_fix_elements(&info, data, (size_t)count);
    out->dtype = info.dtype;
    out->ndim = info.ndim;
    memcpy(out->shape, info.shape, sizeof info.shape);
    out->data = data;
    return SNN_OK;
}

/* ---- header writing ---- */

static int header_image(const char *descr, int ndim, const int64_t *shape, unsigned char **hdr, size_t *hdr_len,
                        snn_error *err);

int snn_npy_header(snn_dtype dtype, int ndim, const int64_t *shape, unsigned char **hdr, size_t *hdr_len,
                   size_t *data_len, snn_error *err) {
    *hdr = NULL;
    if ((int)dtype < 0 || dtype >= SNN_DTYPE_COUNT)
        return snn_fail(err, SNN_EINPUT, "cannot write an array of unknown dtype %d", (int)dtype);
    if (ndim < 0 || ndim > SNN_MAX_NDIM)
        return snn_fail(err, SNN_EINPUT, "cannot write an array with %d dimensions (0..%d supported)", ndim,
                        SNN_MAX_NDIM);
    size_t count = 1, esize = snn_dtype_size(dtype);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return snn_fail(err, SNN_EINPUT, "cannot write an array with negative dimension %lld",
                            (long long)shape[d]);
        if (shape[d] != 0 && count > SIZE_MAX / (uint64_t)shape[d])
            return snn_fail(err, SNN_EINPUT, "array too large to write");
        count *= (size_t)shape[d];
    }
    if (count > SIZE_MAX / esize) return snn_fail(err, SNN_EINPUT, "array too large to write");
    int rc = header_image(snn_dtype_descr(dtype), ndim, shape, hdr, hdr_len, err);
    if (rc == SNN_OK) *data_len = count * esize;
    return rc;
}

/* The header bytes for a descriptor and shape, padded so that the data starts 64-byte aligned. */
static int header_image(const char *descr, int ndim, const int64_t *shape, unsigned char **hdr, size_t *hdr_len,
                        snn_error *err) {
    char shp[256], dict[512];
    snn_npy_shape_str(ndim, shape, shp, sizeof shp);
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shp);
    size_t prefix = 10;
    size_t hlen = (size_t)n + 1;
    hlen += (64 - (prefix + hlen) % 64) % 64;
    if (hlen > 65535) { /* cannot happen with SNN_MAX_NDIM dims, but the format defines it */
        prefix = 12;
        hlen = (size_t)n + 1;
        hlen += (64 - (prefix + hlen) % 64) % 64;
    }
    unsigned char *b = snn_calloc(prefix + hlen, 1, "a .npy header", err);
    if (b == NULL) return SNN_ERUN;
    memcpy(b, k_magic, sizeof k_magic);
    b[6] = prefix == 10 ? 1 : 2;
    b[7] = 0;
    b[8] = (unsigned char)(hlen & 0xff);
    b[9] = (unsigned char)((hlen >> 8) & 0xff);
    if (prefix == 12) {
        b[10] = (unsigned char)((hlen >> 16) & 0xff);
        b[11] = (unsigned char)((hlen >> 24) & 0xff);
    }
    memcpy(b + prefix, dict, (size_t)n);
    memset(b + prefix + n, ' ', hlen - (size_t)n - 1);
    b[prefix + hlen - 1] = '\n';
    *hdr = b;
    *hdr_len = prefix + hlen;
    return SNN_OK;
}

int snn_npy_encode_bytes(const char *text, void **buf, size_t *len, snn_error *err) {
    *buf = NULL;
    size_t k = strlen(text);
    if (k == 0 || k > 1000) return snn_fail(err, SNN_EINPUT, "cannot write a bytes scalar of %zu characters", k);
    char descr[32];
    snprintf(descr, sizeof descr, "|S%zu", k);
    unsigned char *hdr;
    size_t hlen;
    int rc = header_image(descr, 0, NULL, &hdr, &hlen, err);
    if (rc) return rc;
    unsigned char *b = snn_calloc(hlen + k, 1, "a .npy image", err);
    if (b == NULL) {
        free(hdr);
        return SNN_ERUN;
    }
    memcpy(b, hdr, hlen);
    memcpy(b + hlen, text, k);
    free(hdr);
    *buf = b;
    *len = hlen + k;
    return SNN_OK;
}

int snn_npy_encode(snn_dtype dtype, int ndim, const int64_t *shape, const void *data, void **buf, size_t *len,
                   snn_error *err) {
    *buf = NULL;
    unsigned char *hdr;
    size_t hlen, dlen;
    int rc = snn_npy_header(dtype, ndim, shape, &hdr, &hlen, &dlen, err);
    if (rc) return rc;
    if (dlen > SIZE_MAX - hlen) {
        free(hdr);
        return snn_fail(err, SNN_EINPUT, "array too large to encode");
    }
    unsigned char *b = snn_calloc(hlen + dlen, 1, "a .npy image", err);
    if (b == NULL) {
        free(hdr);
        return SNN_ERUN;
    }
    memcpy(b, hdr, hlen);
    if (dlen) memcpy(b + hlen, data, dlen);
    free(hdr);
    *buf = b;
    *len = hlen + dlen;
    return SNN_OK;
}

int snn_npy_decode_bytes(const void *buf, size_t len, const char *what, char *out, size_t n, snn_error *err) {
    const unsigned char *b = buf;
    if (len < 10 || memcmp(b, k_magic, sizeof k_magic) != 0 || b[6] != 1)
        return snn_fail(err, SNN_EINPUT, "%s: not a .npy bytes scalar", what);
    size_t hlen = (size_t)b[8] | ((size_t)b[9] << 8);
    if (10 + hlen > len) return snn_fail(err, SNN_EINPUT, "%s: truncated .npy header", what);
    const char *h = (const char *)b + 10, *d = memmem(h, hlen, "'descr': '|S", 12);
    if (d == NULL || memmem(h, hlen, "'shape': ()", 11) == NULL)
        return snn_fail(err, SNN_EINPUT, "%s: expected a bytes scalar (dtype |S<n>, shape ())", what);
    size_t k = (size_t)strtoul(d + 12, NULL, 10);
    if (k == 0 || 10 + hlen + k != len || k >= n)
        return snn_fail(err, SNN_EINPUT, "%s: bytes scalar of unexpected length", what);
    memcpy(out, b + 10 + hlen, k);
    out[k] = '\0';
    return SNN_OK;
}

/* ---- in-memory and file streams ---- */

typedef struct mem_stream {
    const unsigned char *p;
    size_t left;
} mem_stream;

static int64_t mem_read(void *ctx, void *buf, size_t n, snn_error *err) {
    (void)err;
    mem_stream *m = ctx;
    size_t k = n < m->left ? n : m->left;
    memcpy(buf, m->p, k);
    m->p += k;
    m->left -= k;
    return (int64_t)k;
}

int snn_npy_decode(const void *buf, size_t len, const char *what, snn_array *out, snn_error *err) {
    mem_stream m = {buf, len};
    return snn_npy_read_stream(mem_read, &m, len, what ? what : "npy buffer", out, err);
}

typedef struct file_stream {
    FILE *f;
    const char *path;
} file_stream;

static int64_t file_read(void *ctx, void *buf, size_t n, snn_error *err) {
    file_stream *s = ctx;
    size_t k = fread(buf, 1, n, s->f);
    if (k < n && ferror(s->f)) return -snn_fail(err, SNN_ERUN, "%s: read error: %s", s->path, strerror(errno));
    return (int64_t)k;
}

int snn_npy_read(const char *path, snn_array *out, snn_error *err) {
    memset(out, 0, sizeof *out);
    if (snn_check_regular_file(path, err) != SNN_OK) return SNN_EINPUT; /* fopen would block on a FIFO */
    FILE *f = fopen(path, "rb");
    if (f == NULL) return snn_fail(err, SNN_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return snn_fail(err, SNN_EINPUT, "%s: not a regular file", path);
    }
    file_stream s = {f, path};
    int rc = snn_npy_read_stream(file_read, &s, (uint64_t)st.st_size, path, out, err);
    fclose(f);
    return rc;
}

int snn_npy_write(const char *path, snn_dtype dtype, int ndim, const int64_t *shape, const void *data,
                  snn_error *err) {
    unsigned char *hdr;
    size_t hlen, dlen;
    int rc = snn_npy_header(dtype, ndim, shape, &hdr, &hlen, &dlen, err);
    if (rc) return rc;
    snn_atomic_file af;
    rc = snn_atomic_open(&af, path, err);
    if (rc) {
        free(hdr);
        return rc;
    }
    int bad = fwrite(hdr, 1, hlen, af.fp) != hlen || (dlen && fwrite(data, 1, dlen, af.fp) != dlen);
    free(hdr);
    if (bad) {
        int saved = errno;
        snn_atomic_abort(&af);
        return snn_fail(err, SNN_ERUN, "%s: write failed (disk full?): %s", path, strerror(saved ? saved : EIO));
    }
    return snn_atomic_commit(&af, err);
}
