/* TOML text from a tree (see config/toml_write.h). */
#include "config/toml_write.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

void toml_fput_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\f': fputs("\\f", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*c < 0x20 || *c == 0x7f) fprintf(f, "\\u%04x", *c);
            else fputc(*c, f);
        }
    }
    fputc('"', f);
}

static int is_bare(const char *k) {
    if (!*k) return 0;
    for (const char *c = k; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-'))
            return 0;
    return 1;
}

void toml_fput_key(FILE *f, const char *key) {
    if (is_bare(key)) fputs(key, f);
    else toml_fput_string(f, key);
}

/* The shortest %g form that reads back to x, made to look like a TOML float. */
static void put_float(FILE *f, double x) {
    if (isnan(x)) {
        fputs("nan", f);
        return;
    }
    if (isinf(x)) {
        fputs(x < 0 ? "-inf" : "inf", f);
        return;
    }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    fputs(buf, f);
    if (!strpbrk(buf, ".en")) fputs(".0", f); /* "2" would read back as an integer */
}

static int is_table_array(const toml_value *v) {
    if (v->type != TOML_ARRAY || v->n == 0) return 0;
    for (size_t i = 0; i < v->n; i++)
        if (v->items[i]->type != TOML_TABLE) return 0;
    return 1;
}

static void put_value(FILE *f, const toml_value *v) {
    switch (v->type) {
    case TOML_STRING: toml_fput_string(f, v->str ? v->str : ""); break;
    case TOML_INT: fprintf(f, "%lld", (long long)v->i); break;
    case TOML_FLOAT: put_float(f, v->f); break;
    case TOML_BOOL: fputs(v->b ? "true" : "false", f); break;
    case TOML_ARRAY:
        fputc('[', f);
        for (size_t i = 0; i < v->n; i++) {
            if (i) fputs(", ", f);
            put_value(f, v->items[i]);
        }
        fputc(']', f);
        break;
    case TOML_TABLE:
        fputc('{', f);
        for (size_t i = 0; i < v->nkeys; i++) {
            fputs(i ? ", " : "", f);
            toml_fput_key(f, v->keys[i]);
            fputs(" = ", f);
            put_value(f, v->vals[i]);
        }
        fputc('}', f);
        break;
    }
}

char *toml_write_value(const toml_value *v) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    put_value(f, v);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---------------------------------------------------------------------------------------------- */
/* tables with overrides */

typedef struct ov_path {
    int n;
    char *parts[MAX_DEPTH];
    const toml_value *value;
} ov_path;

typedef struct writer {
    FILE *f;
    ov_path *ov;
    int n_ov;
    snn_error *err;
    int failed;
    /* the header path of the table being written */
    int depth;
    const char *path[MAX_DEPTH];
} writer;

/* override i sits at path + key (exactly) */
static int ov_at(const writer *w, int i, const char *key) {
    const ov_path *o = &w->ov[i];
    if (o->n != w->depth + 1) return 0;
    for (int d = 0; d < w->depth; d++)
        if (strcmp(o->parts[d], w->path[d])) return 0;
    return !strcmp(o->parts[w->depth], key);
}

/* override i goes through path + key to something deeper */
static int ov_through(const writer *w, int i, const char *key) {
    const ov_path *o = &w->ov[i];
    if (o->n <= w->depth + 1) return 0;
    for (int d = 0; d < w->depth; d++)
        if (strcmp(o->parts[d], w->path[d])) return 0;
    return !strcmp(o->parts[w->depth], key);
}

/* override i lies below the current path */
static int ov_below(const writer *w, int i) {
    const ov_path *o = &w->ov[i];
    if (o->n <= w->depth) return 0;
    for (int d = 0; d < w->depth; d++)
        if (strcmp(o->parts[d], w->path[d])) return 0;
    return 1;
}

static void put_header(writer *w, int array) {
    fputs(array ? "\n[[" : "\n[", w->f);
    for (int d = 0; d < w->depth; d++) {
        if (d) fputc('.', w->f);
        toml_fput_key(w->f, w->path[d]);
    }
    fputs(array ? "]]\n" : "]\n", w->f);
}

static int fail_path(writer *w, int i, const char *why) {
    if (!w->failed) {
        char p[1024] = "";
        size_t used = 0;
        for (int d = 0; d < w->ov[i].n && used < sizeof p; d++)
            used += (size_t)snprintf(p + used, sizeof p - used, "%s%s", d ? "." : "", w->ov[i].parts[d]);
        snn_fail(w->err, SNN_EINPUT, "cannot set '%s': %s", p, why);
    }
    w->failed = 1;
    return -1;
}

static void write_table(writer *w, const toml_value *t);

static void write_child(writer *w, const char *key, const toml_value *t, int array) {
    if (w->depth >= MAX_DEPTH) {
        if (!w->failed) snn_fail(w->err, SNN_EINPUT, "tables nested more than %d deep", MAX_DEPTH);
        w->failed = 1;
        return;
    }
    w->path[w->depth++] = key;
    put_header(w, array);
    write_table(w, t);
    w->depth--;
}

/* t may be NULL: a table that only overrides create */
static void write_table(writer *w, const toml_value *t) {
    size_t nk = t ? t->nkeys : 0;
    /* plain values: the table's own (replaced where overridden), then added ones */
    for (size_t k = 0; k < nk; k++) {
        const toml_value *v = t->vals[k];
        const toml_value *use = NULL;
        for (int i = 0; i < w->n_ov; i++)
            if (ov_at(w, i, t->keys[k])) use = w->ov[i].value;
        if (!use && (v->type == TOML_TABLE || is_table_array(v))) continue;
        if (!use) use = v;
        toml_fput_key(w->f, t->keys[k]);
        fputs(" = ", w->f);
        put_value(w->f, use);
        fputc('\n', w->f);
    }
    for (int i = 0; i < w->n_ov; i++) {
        if (!ov_below(w, i) || w->ov[i].n != w->depth + 1) continue;
        const char *key = w->ov[i].parts[w->depth];
        if (t && toml_get(t, key)) continue;
        int first = 1; /* the last of several overrides of one key wins, written once */
        for (int j = i + 1; j < w->n_ov; j++)
            if (ov_at(w, j, key)) first = 0;
        if (!first) continue;
        toml_fput_key(w->f, key);
        fputs(" = ", w->f);
        put_value(w->f, w->ov[i].value);
        fputc('\n', w->f);
    }
    /* sub-tables and arrays of tables, in file order */
    for (size_t k = 0; k < nk && !w->failed; k++) {
        const toml_value *v = t->vals[k];
        int replaced = 0;
        for (int i = 0; i < w->n_ov; i++) replaced |= ov_at(w, i, t->keys[k]);
        for (int i = 0; i < w->n_ov; i++)
            if (ov_through(w, i, t->keys[k])) {
                if (replaced) fail_path(w, i, "a shorter path of the same sweep replaces the table it lies in");
                else if (is_table_array(v)) fail_path(w, i, "it lies inside an array of tables");
                else if (v->type != TOML_TABLE) fail_path(w, i, "its parent is a value, not a table");
            }
        if (replaced || w->failed) continue;
        if (v->type == TOML_TABLE) write_child(w, t->keys[k], v, 0);
        else if (is_table_array(v))
            for (size_t j = 0; j < v->n && !w->failed; j++) write_child(w, t->keys[k], v->items[j], 1);
    }
    /* tables that only overrides create, in the order of the overrides */
    for (int i = 0; i < w->n_ov && !w->failed; i++) {
        if (!ov_below(w, i) || w->ov[i].n <= w->depth + 1) continue;
        const char *key = w->ov[i].parts[w->depth];
        if (t && toml_get(t, key)) continue;
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= ov_through(w, j, key);
        if (!seen) write_child(w, key, NULL, 0);
    }
}

char *toml_write(const toml_value *t, const char *header, const toml_override *ov, int n_ov, snn_error *err) {
    if (!t || t->type != TOML_TABLE) {
        snn_fail(err, SNN_EINPUT, "not a table");
        return NULL;
    }
    writer w = {.n_ov = n_ov, .err = err};
    w.ov = calloc((size_t)(n_ov > 0 ? n_ov : 1), sizeof *w.ov);
    char *hcopy = header && *header ? strdup(header) : NULL;
    char *copies = NULL;
    size_t total = 1;
    for (int i = 0; i < n_ov; i++) total += strlen(ov[i].path) + 1;
    copies = malloc(total);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = NULL;
    if (!w.ov || !copies || (header && *header && !hcopy)) {
        snn_fail(err, SNN_ERUN, "out of memory writing TOML");
        goto fail;
    }
    char *at = copies;
    for (int i = 0; i < n_ov; i++) {
        size_t plen = strlen(ov[i].path);
        strcpy(at, ov[i].path);
        w.ov[i].value = ov[i].value;
        for (char *save = NULL, *tok = strtok_r(at, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
            if (w.ov[i].n == MAX_DEPTH) {
                snn_fail(err, SNN_EINPUT, "cannot set '%s': more than %d levels", ov[i].path, MAX_DEPTH);
                goto fail;
            }
            w.ov[i].parts[w.ov[i].n++] = tok;
        }
        if (w.ov[i].n == 0) {
            snn_fail(err, SNN_EINPUT, "cannot set an empty key path");
            goto fail;
        }
        at += plen + 1;
    }
    f = open_memstream(&buf, &len);
    if (!f) {
        snn_fail(err, SNN_ERUN, "out of memory writing TOML");
        goto fail;
    }
    w.f = f;
    if (hcopy) {
        /* the header's own parts are the path of everything below; overrides are relative to t, so
         * they get the same prefix */
        for (char *save = NULL, *tok = strtok_r(hcopy, ".", &save); tok && w.depth < MAX_DEPTH;
             tok = strtok_r(NULL, ".", &save))
            w.path[w.depth++] = tok;
        for (int i = 0; i < n_ov; i++) {
            if (w.ov[i].n + w.depth > MAX_DEPTH) {
                snn_fail(err, SNN_EINPUT, "cannot set '%s': more than %d levels", ov[i].path, MAX_DEPTH);
                goto fail;
            }
            memmove(w.ov[i].parts + w.depth, w.ov[i].parts, (size_t)w.ov[i].n * sizeof(char *));
            for (int d = 0; d < w.depth; d++) w.ov[i].parts[d] = (char *)w.path[d];
            w.ov[i].n += w.depth;
        }
        put_header(&w, 0);
    }
    write_table(&w, t);
    if (fclose(f) != 0) {
        f = NULL;
        snn_fail(err, SNN_ERUN, "out of memory writing TOML");
        goto fail;
    }
    f = NULL;
    if (w.failed) goto fail;
    free(w.ov);
    free(copies);
    free(hcopy);
    return buf;
fail:
    if (f) fclose(f);
    free(buf);
    free(w.ov);
    free(copies);
    free(hcopy);
    return NULL;
}
