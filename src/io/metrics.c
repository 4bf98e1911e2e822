#include "io/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/mem.h"

/* ---- Python repr of a double ---- */

static const uint64_t POW10[18] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull};

/* Does digits * 10^exp10 read back (strtod, correctly rounded) as x? */
static int reads_back(uint64_t digits, int exp10, double x) {
    char s[48];
    snprintf(s, sizeof s, "%" PRIu64 "e%d", digits, exp10);
    return strtod(s, NULL) == x;
}

/* Shortest decimal digits D (no trailing zeros) and exponent E with D * 10^E reading back as x > 0,
 * the one nearest to x among those of that length: what Python's repr (dtoa mode 0) picks.
 * For each length P, glibc's "%.*e" gives the correctly rounded P-digit decimal. When it does not
 * read back, a neighbour still may: at a power of two the rounding interval of x reaches twice as
 * far above as below, so the nearest P-digit decimal can fall just outside below while the next one
 * up lies inside. */
static void shortest_digits(double x, uint64_t *digits, int *exp10) {
    for (int p = 1; p <= 17; p++) {
        char s[64];
        snprintf(s, sizeof s, "%.*e", p - 1, x);
        /* s = "d.ddd...e[+-]XX" */
        uint64_t d = 0;
        const char *c = s;
        for (; *c && *c != 'e'; c++)
            if (*c >= '0' && *c <= '9') d = d * 10 + (uint64_t)(*c - '0');
        int e = (int)strtol(c + 1, NULL, 10) - (p - 1);
        uint64_t cand[3];
        int cexp[3], nc = 0;
        cand[nc] = d;
        cexp[nc++] = e;
        cand[nc] = d + 1;
        cexp[nc++] = e;
        if (d > POW10[p - 1]) {
            cand[nc] = d - 1;
            cexp[nc++] = e;
        } else {
            /* d = 10^(p-1): the next P-digit decimal below has a finer spacing */
            cand[nc] = POW10[p] - 1;
            cexp[nc++] = e - 1;
        }
        for (int k = 0; k < nc; k++) {
            if (reads_back(cand[k], cexp[k], x)) {
                uint64_t dd = cand[k];
                int ee = cexp[k];
                while (dd != 0 && dd % 10 == 0) {
                    dd /= 10;
                    ee++;
                }
                *digits = dd;
                *exp10 = ee;
                return;
            }
        }
    }
    /* unreachable for finite x: 17 correctly rounded digits always read back */
    *digits = 0;
    *exp10 = 0;
}

void snn_format_repr(double x, char *buf, size_t n) {
    if (n == 0) return;
    if (isnan(x)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, n, x < 0 ? "-inf" : "inf");
        return;
    }
    const char *sign = signbit(x) ? "-" : "";
    if (x == 0.0) {
        snprintf(buf, n, "%s0.0", sign);
        return;
    }
    uint64_t d;
    int e;
    shortest_digits(fabs(x), &d, &e);
    char ds[24];
    int nd = snprintf(ds, sizeof ds, "%" PRIu64, d);
    /* value = 0.ds * 10^decpt; Python switches to exponent form when decpt <= -4 or decpt > 16,
     * i.e. scientific exponent < -4 or >= 16 */
    int decpt = e + nd;
    char out[64];
    if (decpt <= -4 || decpt > 16) {
        int sci = decpt - 1;
        if (nd == 1)
            snprintf(out, sizeof out, "%s%ce%c%02d", sign, ds[0], sci < 0 ? '-' : '+', abs(sci));
        else
            snprintf(out, sizeof out, "%s%c.%se%c%02d", sign, ds[0], ds + 1, sci < 0 ? '-' : '+', abs(sci));
    } else if (decpt <= 0) {
        snprintf(out, sizeof out, "%s0.%.*s%s", sign, -decpt, "0000", ds);
    } else if (decpt >= nd) {
        snprintf(out, sizeof out, "%s%s%.*s.0", sign, ds, decpt - nd, "0000000000000000");
    } else {
        snprintf(out, sizeof out, "%s%.*s.%s", sign, decpt, ds, ds + decpt);
    }
    snprintf(buf, n, "%s", out);
}

/* ---- the CSV file ---- */

/* Python's csv module with QUOTE_MINIMAL quotes a field holding the delimiter, the quote character
 * or a line break, doubling inner quotes. */
static size_t csv_field_len(const char *s) {
    size_t len = 0;
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    for (const char *c = s; *c; c++) len += (*c == '"') ? 2 : 1;
    return len + (quote ? 2 : 0);
}

static char *csv_put_field(char *out, const char *s) {
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote) *out++ = '"';
    for (const char *c = s; *c; c++) {
        if (*c == '"') *out++ = '"';
        *out++ = *c;
    }
    if (quote) *out++ = '"';
    return out;
}

/* "epoch,<names...>\n", malloc'd. */
static char *build_header(int n_cols, const char *const *names, size_t *len, snn_error *err) {
    size_t total = strlen("epoch") + 2;
    for (int i = 0; i < n_cols; i++) total += 1 + csv_field_len(names[i]);
    char *h = snn_calloc(total, 1, "the metrics header", err);
    if (h == NULL) return NULL;
    char *p = h;
    memcpy(p, "epoch", 5);
    p += 5;
    for (int i = 0; i < n_cols; i++) {
        *p++ = ',';
        p = csv_put_field(p, names[i]);
    }
    *p++ = '\n';
    *p = '\0';
    *len = (size_t)(p - h);
    return h;
}

static void free_names(snn_metrics *m) {
    if (m->names) {
        for (int i = 0; i < m->n_cols; i++) free(m->names[i]);
        free(m->names);
    }
    m->names = NULL;
}

/* Fills everything but fp. */
static int setup(snn_metrics *m, const char *path, int n_cols, const char *const *names, snn_error *err) {
    memset(m, 0, sizeof *m);
    if (strlen(path) >= sizeof m->path) return snn_fail(err, SNN_EINPUT, "%s: path too long", path);
    if (n_cols < 0 || (n_cols > 0 && names == NULL))
        return snn_fail(err, SNN_EINPUT, "%s: invalid metrics columns (%d)", path, n_cols);
    for (int i = 0; i < n_cols; i++)
        if (names[i] == NULL || names[i][0] == '\0')
            return snn_fail(err, SNN_EINPUT, "%s: metrics column %d has no name", path, i + 1);
    strcpy(m->path, path);
    m->names = snn_calloc((size_t)n_cols + 1, sizeof *m->names, "metrics column names", err);
    if (m->names == NULL) return SNN_ERUN;
    m->n_cols = n_cols;
    for (int i = 0; i < n_cols; i++) {
        size_t l = strlen(names[i]);
        m->names[i] = snn_calloc(l + 1, 1, "a metrics column name", err);
        if (m->names[i] == NULL) {
            free_names(m);
            return SNN_ERUN;
        }
        memcpy(m->names[i], names[i], l);
    }
    return SNN_OK;
}

/* Writes `data` as the whole file under a temporary name and renames it into place, then opens the
 * file for appending: the file on disk is always either the old one or the complete new one. */
static int replace_and_append(snn_metrics *m, const char *data, size_t len, snn_error *err) {
    int rc = snn_write_file_atomic(m->path, data, len, err);
    if (rc) return rc;
    m->fp = fopen(m->path, "ab");
    if (m->fp == NULL)
        return snn_fail(err, SNN_ERUN, "%s: cannot open for appending: %s", m->path, strerror(errno));
    return SNN_OK;
}

int snn_metrics_open(snn_metrics *m, const char *path, int n_cols, const char *const *names, snn_error *err) {
    int rc = setup(m, path, n_cols, names, err);
    if (rc) return rc;
    size_t hlen;
    char *header = build_header(n_cols, names, &hlen, err);
    if (header == NULL) rc = SNN_ERUN;
    if (!rc) rc = replace_and_append(m, header, hlen, err);
    free(header);
    if (rc) snn_metrics_close(m);
    return rc;
}

/* The epoch at the start of a row: an optionally signed decimal integer followed by ',' or the end
 * of the line. */
static int parse_epoch(const char *line, const char *end, int64_t *epoch) {
    const char *c = line;
    int neg = 0;
    if (c < end && (*c == '-' || *c == '+')) neg = *c++ == '-';
    if (c == end || *c < '0' || *c > '9') return -1;
    int64_t v = 0;
    for (; c < end && *c >= '0' && *c <= '9'; c++) {
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*c - '0');
    }
    if (c != end && *c != ',') return -1;
    *epoch = neg ? -v : v;
    return 0;
}

int snn_metrics_open_resume(snn_metrics *m, const char *path, int n_cols, const char *const *names,
                            int64_t epoch, snn_error *err) {
    int rc = setup(m, path, n_cols, names, err);
    if (rc) return rc;
    char *data = NULL, *header = NULL;
    size_t len = 0, hlen = 0;
    if (!snn_path_exists(path)) {
        rc = snn_fail(err, SNN_EINPUT,
                      "%s: metrics file not found (a resumed run appends to the file of the run it continues)",
                      path);
        goto done;
    }
    rc = snn_read_file(path, &data, &len, err);
    if (rc) goto done;
    header = build_header(n_cols, names, &hlen, err);
    if (header == NULL) {
        rc = SNN_ERUN;
        goto done;
    }
    if (len < hlen || memcmp(data, header, hlen) != 0) {
        const char *nl = memchr(data, '\n', len);
        int found = (int)(nl ? (size_t)(nl - data) : len);
        rc = snn_fail(err, SNN_EINPUT,
                      "%s: header does not match this run's metrics columns: expected '%.*s', found '%.*s'", path,
                      (int)(hlen - 1 > 900 ? 900 : hlen - 1), header, found > 900 ? 900 : found, data);
        goto done;
    }
    /* Keep complete rows up to the checkpoint's epoch. A last line without its LF is the remains of
     * a row being written when the run died, so it goes with the rows after the checkpoint. */
    size_t keep = hlen, pos = hlen;
    int line_no = 1;
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        line_no++;
        if (nl == NULL) break;
        int64_t e;
        if (parse_epoch(line, nl, &e) != 0) {
            rc = snn_fail(err, SNN_EINPUT,
                          "%s: line %d: expected a row starting with an integer epoch, found '%.*s'", path,
                          line_no, (int)((nl - line) > 200 ? 200 : (nl - line)), line);
            goto done;
        }
        if (e > epoch) break;
        pos = (size_t)(nl - data) + 1;
        keep = pos;
    }
    rc = replace_and_append(m, data, keep, err);
done:
    free(data);
    free(header);
    if (rc) snn_metrics_close(m);
    return rc;
}

int snn_metrics_is_statistic(const char *name) {
    static const char *const prefixes[] = {"cv/", "firing_rate/", "fraction_active/"};
    for (size_t k = 0; k < sizeof prefixes / sizeof *prefixes; k++)
        if (!strncmp(name, prefixes[k], strlen(prefixes[k]))) return 1;
    return 0;
}

int snn_metrics_row(snn_metrics *m, int64_t epoch, const double *values, const uint8_t *present, snn_error *err) {
    if (m->fp == NULL) return snn_fail(err, SNN_ERUN, "%s: metrics file is not open", m->path);
    /* one buffer and one write per row, so that the row reaches the file whole or (on a crash) as a
     * tail without LF, which a resume drops */
    size_t cap = 24 + (size_t)m->n_cols * 32;
    char *row = snn_calloc(cap, 1, "a metrics row", err);
    if (row == NULL) return SNN_ERUN;
    size_t len = (size_t)snprintf(row, cap, "%" PRId64, epoch);
    for (int i = 0; i < m->n_cols; i++) {
        row[len++] = ',';
        if ((present == NULL || present[i]) && !(isnan(values[i]) && snn_metrics_is_statistic(m->names[i]))) {
            snn_format_repr(values[i], row + len, cap - len);
            len += strlen(row + len);
        }
    }
    row[len++] = '\n';
    int bad = fwrite(row, 1, len, m->fp) != len;
    if (fflush(m->fp) != 0) bad = 1;
    free(row);
    if (bad) return snn_fail(err, SNN_ERUN, "%s: write failed (disk full?): %s", m->path, strerror(errno));
    return SNN_OK;
}

void snn_metrics_close(snn_metrics *m) {
    if (m == NULL) return;
    if (m->fp) fclose(m->fp);
    m->fp = NULL;
    free_names(m);
    m->n_cols = 0;
}
