#include "io/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct snn_csv {
    FILE *f;
    char *path;
    char delim;
    int64_t line;        /* lines read so far */
    int64_t rec_line;    /* first line of the current record */
    char *lb;            /* getline's buffer, reused */
    size_t lb_cap;
    char *buf;           /* the raw record (one or more lines) */
    size_t buf_cap;
    char *text;          /* the unquoted fields, NUL-separated */
    size_t text_cap;
    int nf, nf_cap;
    char **fields;
    /* header */
    int ncol;
    char **cols;
};

void snn_csv_close(snn_csv *c) {
    if (c == NULL) return;
    if (c->f) fclose(c->f);
    for (int i = 0; i < c->ncol; i++) free(c->cols[i]);
    free(c->cols);
    free(c->fields);
    free(c->lb);
    free(c->buf);
    free(c->text);
    free(c->path);
    free(c);
}

/* Appends one physical line (without its newline and \r) to the record buffer at *len. Returns 1, or 0
 * at the end of the file. */
static int read_line(snn_csv *c, size_t *len, snn_error *err) {
    ssize_t n = getline(&c->lb, &c->lb_cap, c->f);
    char *line = c->lb;
    if (n < 0) {
        if (ferror(c->f)) return -snn_fail(err, SNN_ERUN, "%s: read error: %s", c->path, strerror(errno));
        return 0;
    }
    c->line++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    if (*len + (size_t)n + 2 > c->buf_cap) {
        size_t nc = (*len + (size_t)n + 2) * 2;
        char *b = realloc(c->buf, nc);
        if (b == NULL) {
            return -snn_fail(err, SNN_ERUN, "%s:%lld: out of memory reading a record", c->path, (long long)c->line);
        }
        c->buf = b;
        c->buf_cap = nc;
    }
    if (*len > 0) c->buf[(*len)++] = '\n'; /* a quoted field spanning lines keeps its newline */
    memcpy(c->buf + *len, line, (size_t)n);
    *len += (size_t)n;
    c->buf[*len] = '\0';
    return 1;
}

static int quotes_open(const char *s, size_t n) {
    int open = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"') open = !open;
    return open;
}

static int is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t') return 0;
    return 1;
}

/* Splits the record buffer into fields. */
static int split(snn_csv *c, size_t len, snn_error *err) {
    if (len + 1 > c->text_cap) {
        char *t = realloc(c->text, len + 1);
        if (t == NULL) return snn_fail(err, SNN_ERUN, "%s: out of memory", c->path);
        c->text = t;
        c->text_cap = len + 1;
    }
    c->nf = 0;
    size_t i = 0, o = 0;
    for (;;) {
        if (c->nf == c->nf_cap) {
            int cap = c->nf_cap ? 2 * c->nf_cap : 16;
            char **f = realloc(c->fields, (size_t)cap * sizeof *f);
            if (f == NULL) return snn_fail(err, SNN_ERUN, "%s: out of memory", c->path);
            c->fields = f;
            c->nf_cap = cap;
        }
        while (i < len && c->buf[i] == ' ') i++;
        char *start = c->text + o;
        if (i < len && c->buf[i] == '"') {
            i++;
            for (;;) {
                if (i >= len)
                    return snn_fail(err, SNN_EINPUT, "%s:%lld: a quoted field is never closed", c->path,
                                    (long long)c->rec_line);
                if (c->buf[i] == '"') {
                    if (i + 1 < len && c->buf[i + 1] == '"') {
                        c->text[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                c->text[o++] = c->buf[i++];
            }
            while (i < len && c->buf[i] == ' ') i++;
            if (i < len && c->buf[i] != c->delim)
                return snn_fail(err, SNN_EINPUT, "%s:%lld: text after a closing quote in field %d", c->path,
                                (long long)c->rec_line, c->nf + 1);
        } else {
            while (i < len && c->buf[i] != c->delim) c->text[o++] = c->buf[i++];
            while (o > 0 && c->text + o > start && c->text[o - 1] == ' ') o--;
        }
        c->text[o++] = '\0';
        c->fields[c->nf++] = start;
        if (i >= len) break;
        i++; /* the delimiter */
    }
    return SNN_OK;
}

int snn_csv_next(snn_csv *c, snn_error *err) {
    size_t len;
    for (;;) {
        len = 0;
        int r = read_line(c, &len, err);
        if (r <= 0) return r < 0 ? r : 0;
        c->rec_line = c->line;
        while (quotes_open(c->buf, len)) {
            r = read_line(c, &len, err);
            if (r < 0) return r;
            if (r == 0) break; /* split reports the open quote */
        }
        if (!is_blank(c->buf)) break;
    }
    int rc = split(c, len, err);
    return rc ? -rc : 1;
}

snn_csv *snn_csv_open(const char *path, char delim, snn_error *err) {
    snn_csv *c = snn_calloc(1, sizeof *c, "a CSV reader", err);
    if (c == NULL) return NULL;
    c->path = strdup(path);
    c->f = fopen(path, "rb");
    if (c->f == NULL || c->path == NULL) {
        snn_fail(err, SNN_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        snn_csv_close(c);
        return NULL;
    }
    size_t len = 0;
    int r = read_line(c, &len, err);
    while (r > 0 && is_blank(c->buf)) {
        len = 0;
        r = read_line(c, &len, err);
    }
    if (r <= 0) {
        if (r == 0) snn_fail(err, SNN_EINPUT, "%s: empty file (expected a header line with column names)", path);
        snn_csv_close(c);
        return NULL;
    }
    c->rec_line = c->line;
    if (len >= 3 && !memcmp(c->buf, "\xEF\xBB\xBF", 3)) {
        memmove(c->buf, c->buf + 3, len - 2);
        len -= 3;
    }
    c->delim = delim ? delim : (memchr(c->buf, '\t', len) ? '\t' : ',');
    if (split(c, len, err)) {
        snn_csv_close(c);
        return NULL;
    }
    c->cols = snn_calloc((size_t)c->nf, sizeof *c->cols, "CSV column names", err);
    if (c->cols == NULL) {
        snn_csv_close(c);
        return NULL;
    }
    for (int i = 0; i < c->nf; i++) {
        c->cols[i] = strdup(c->fields[i]);
        if (c->cols[i] == NULL) {
            snn_fail(err, SNN_ERUN, "%s: out of memory", path);
            snn_csv_close(c);
            return NULL;
        }
        c->ncol = i + 1;
    }
    return c;
}

int snn_csv_nfields(const snn_csv *c) { return c->nf; }
const char *snn_csv_field(const snn_csv *c, int i) { return i >= 0 && i < c->nf ? c->fields[i] : ""; }
int64_t snn_csv_line(const snn_csv *c) { return c->rec_line; }
const char *snn_csv_path(const snn_csv *c) { return c->path; }
int snn_csv_ncolumns(const snn_csv *c) { return c->ncol; }
const char *snn_csv_column_name(const snn_csv *c, int i) { return i >= 0 && i < c->ncol ? c->cols[i] : ""; }

int snn_csv_column(const snn_csv *c, const char *name) {
    for (int i = 0; i < c->ncol; i++)
        if (!strcmp(c->cols[i], name)) return i;
    return -1;
}
