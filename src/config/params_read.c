#include "config/params_read.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/limits.h"

static int fail_va(const snn_pr *r, int line, const char *fmt, va_list ap) {
    char what[1536];
    vsnprintf(what, sizeof what, fmt, ap);
    if (line > 0) return snn_fail(r->err, SNN_EINPUT, "%s:%d: %s", r->file, line, what);
    return snn_fail(r->err, SNN_EINPUT, "%s: %s", r->file, what);
}

static int failf(const snn_pr *r, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(const snn_pr *r, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = fail_va(r, line, fmt, ap);
    va_end(ap);
    return rc;
}

int snn_pr_fail(const snn_pr *r, int line, const char *tpath, const char *key, const char *fmt, ...) {
    char what[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (tpath && *tpath) return failf(r, line, "[%s] %s: %s", tpath, key, what);
    return failf(r, line, "%s: %s", key, what);
}

void snn_pr_join(char *out, size_t cap, const char *tpath, const char *key) {
    if (tpath && *tpath)
        snprintf(out, cap, "%s.%s", tpath, key);
    else
        snprintf(out, cap, "%s", key);
}

/* Levenshtein distance, case-insensitive (U_reset vs u_reset is a typo, not a different key). */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return (size_t)-1;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

const char *snn_pr_closest(const char *key, const char *const *cands, int n) {
    const char *best = NULL;
    size_t bd = (size_t)-1;
    for (int i = 0; i < n; i++) {
        size_t d = edit_distance(key, cands[i]);
        if (d < bd) {
            bd = d;
            best = cands[i];
        }
    }
    size_t len = strlen(key);
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return best && bd <= limit ? best : NULL;
}

static void list_text(char *out, size_t cap, const char *const *names, int n) {
    out[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < n && used + 1 < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

static int unknown(const snn_pr *r, const toml_value *t, size_t k, const char *tpath, const char *const *cands,
                   int n, const char *what) {
    const char *key = t->keys[k];
    int line = t->vals[k]->line;
    const char *near = snn_pr_closest(key, cands, n);
    char hint[700];
    if (near)
        snprintf(hint, sizeof hint, "did you mean '%s'?", near);
    else {
        char list[600];
        list_text(list, sizeof list, cands, n);
        snprintf(hint, sizeof hint, "%s: %s", n ? "expected one of" : "nothing is expected here", list);
    }
    char where[300] = "";
    if (tpath && *tpath) snprintf(where, sizeof where, "[%s] ", tpath);
    if (what) return failf(r, line, "%sunknown key '%s': it must be %s (%s)", where, key, what, hint);
    return failf(r, line, "%sunknown key '%s' (%s)", where, key, hint);
}

int snn_pr_check_keys(const snn_pr *r, const toml_value *t, const char *tpath, const char *const *allowed, int n) {
    for (size_t k = 0; k < t->nkeys; k++) {
        int ok = 0;
        for (int i = 0; i < n && !ok; i++) ok = strcmp(t->keys[k], allowed[i]) == 0;
        if (!ok) return unknown(r, t, k, tpath, allowed, n, NULL);
    }
    return SNN_OK;
}

int snn_pr_check_names(const snn_pr *r, const toml_value *t, const char *tpath, const char *const *names, int n,
                       const char *what) {
    for (size_t k = 0; k < t->nkeys; k++) {
        int ok = 0;
        for (int i = 0; i < n && !ok; i++) ok = strcmp(t->keys[k], names[i]) == 0;
        if (!ok) return unknown(r, t, k, tpath, names, n, what);
    }
    return SNN_OK;
}

static int missing_key(const snn_pr *r, const toml_value *t, const char *tpath, const char *key) {
    if (tpath && *tpath) return failf(r, t->line, "[%s] is missing required key '%s'", tpath, key);
    return failf(r, t->line, "missing required key '%s'", key);
}

static const char *a_type(toml_type t) {
    switch (t) {
    case TOML_TABLE: return "a table";
    case TOML_ARRAY: return "an array";
    case TOML_STRING: return "a string";
    case TOML_INT: return "an integer";
    case TOML_FLOAT: return "a float";
    case TOML_BOOL: return "a boolean";
    }
    return "a value";
}

/* The value of key, or NULL (with *rc = SNN_OK when absent and optional). */
static toml_value *lookup(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                          int *has, int *rc) {
    *rc = SNN_OK;
    if (has) *has = 0;
    toml_value *v = toml_get(t, key);
    if (!v) {
        if (required) *rc = missing_key(r, t, tpath, key);
        return NULL;
    }
    v->used = 1;
    if (has) *has = 1;
    return v;
}

int snn_pr_table(const snn_pr *r, const toml_value *parent, const char *ppath, const char *key, int required,
                 const toml_value **out) {
    *out = NULL;
    char path[512];
    snn_pr_join(path, sizeof path, ppath, key);
    toml_value *v = toml_get(parent, key);
    if (!v) {
        if (!required) return SNN_OK;
        if (ppath && *ppath) return failf(r, parent->line, "[%s] is missing required table [%s]", ppath, path);
        return failf(r, 0, "missing required table [%s]", path);
    }
    v->used = 1;
    if (v->type != TOML_TABLE) return snn_pr_fail(r, v->line, ppath, key, "expected a table, got %s", a_type(v->type));
    *out = v;
    return SNN_OK;
}

/* Number check shared by scalars and list entries; `label` is the key or "key[i]". */
static int num_of(const snn_pr *r, const toml_value *v, const char *tpath, const char *label, snn_dom dom,
                  double *out) {
    double x;
    if (v->type == TOML_INT)
        x = (double)v->i;
    else if (v->type == TOML_FLOAT)
        x = v->f;
    else
        return snn_pr_fail(r, v->line, tpath, label, "expected a number, got %s", a_type(v->type));
    if (!isfinite(x)) return snn_pr_fail(r, v->line, tpath, label, "expected a finite number, got %g", x);
    if (fabs(x) > SNN_MAX_MAGNITUDE)
        return snn_pr_fail(r, v->line, tpath, label, "%g is out of range (numbers are at most %g in size)", x,
                           SNN_MAX_MAGNITUDE);
    switch (dom) {
    case SNN_DOM_ANY: break;
    case SNN_DOM_POS:
        if (!(x > 0)) return snn_pr_fail(r, v->line, tpath, label, "must be > 0 (got %g)", x);
        break;
    case SNN_DOM_NONNEG:
        if (!(x >= 0)) return snn_pr_fail(r, v->line, tpath, label, "must be >= 0 (got %g)", x);
        break;
    case SNN_DOM_PROB:
        if (!(x >= 0 && x <= 1))
            return snn_pr_fail(r, v->line, tpath, label, "must be a probability in [0, 1] (got %g)", x);
        break;
    case SNN_DOM_RATE:
    case SNN_DOM_WEIGHT:
    case SNN_DOM_FACTOR: {
        const double max = dom == SNN_DOM_RATE ? SNN_MAX_RATE_HZ : SNN_MAX_WEIGHT;
        if (dom == SNN_DOM_FACTOR && !(x > 0)) return snn_pr_fail(r, v->line, tpath, label, "must be > 0 (got %g)", x);
        if (!(x >= 0)) return snn_pr_fail(r, v->line, tpath, label, "must be >= 0 (got %g)", x);
        if (x > max)
            return snn_pr_fail(r, v->line, tpath, label, "must be at most %g%s (got %g)", max,
                               dom == SNN_DOM_RATE ? " Hz" : "", x);
        break;
    }
    }
    *out = x;
    return SNN_OK;
}

static int int_of(const snn_pr *r, const toml_value *v, const char *tpath, const char *label, int64_t min,
                  int64_t max, int64_t *out) {
    int64_t x;
    if (v->type == TOML_INT) {
        x = v->i;
    } else if (v->type == TOML_FLOAT) {
        if (!isfinite(v->f) || v->f != floor(v->f) || fabs(v->f) >= 9.2e18)
            return snn_pr_fail(r, v->line, tpath, label, "expected an integer, got %g", v->f);
        x = (int64_t)v->f;
    } else {
        return snn_pr_fail(r, v->line, tpath, label, "expected an integer, got %s", a_type(v->type));
    }
    if (x < min) return snn_pr_fail(r, v->line, tpath, label, "must be >= %lld (got %lld)", (long long)min, (long long)x);
    if (x > max) return snn_pr_fail(r, v->line, tpath, label, "must be <= %lld (got %lld)", (long long)max, (long long)x);
    *out = x;
    return SNN_OK;
}

int snn_pr_num(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required, snn_dom dom,
               double *out, int *has) {
    int rc;
    toml_value *v = lookup(r, t, tpath, key, required, has, &rc);
    if (!v) return rc;
    return num_of(r, v, tpath, key, dom, out);
}

int snn_pr_int(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
               int64_t min, int64_t max, int64_t *out, int *has) {
    int rc;
    toml_value *v = lookup(r, t, tpath, key, required, has, &rc);
    if (!v) return rc;
    return int_of(r, v, tpath, key, min, max, out);
}

int snn_pr_bool(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required, int *out,
                int *has) {
    int rc;
    toml_value *v = lookup(r, t, tpath, key, required, has, &rc);
    if (!v) return rc;
    if (v->type != TOML_BOOL) return snn_pr_fail(r, v->line, tpath, key, "expected true or false, got %s", a_type(v->type));
    *out = v->b;
    return SNN_OK;
}

int snn_pr_str(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required, char *out,
               size_t cap, int *has) {
    int rc;
    toml_value *v = lookup(r, t, tpath, key, required, has, &rc);
    if (!v) return rc;
    if (v->type != TOML_STRING) return snn_pr_fail(r, v->line, tpath, key, "expected a string, got %s", a_type(v->type));
    if (strlen(v->str) >= cap)
        return snn_pr_fail(r, v->line, tpath, key, "string longer than %zu characters", cap - 1);
    memcpy(out, v->str, strlen(v->str) + 1);
    return SNN_OK;
}

static toml_value *lookup_list(const snn_pr *r, const toml_value *t, const char *tpath, const char *key,
                               int required, int max, int *has, int *rc) {
    toml_value *v = lookup(r, t, tpath, key, required, has, rc);
    if (!v) return NULL;
    if (v->type != TOML_ARRAY) {
        *rc = snn_pr_fail(r, v->line, tpath, key, "expected a list, got %s", a_type(v->type));
        return NULL;
    }
    if (v->n > (size_t)max) {
        *rc = snn_pr_fail(r, v->line, tpath, key, "at most %d entries are supported (got %zu)", max, v->n);
        return NULL;
    }
    return v;
}

int snn_pr_num_list(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                    snn_dom dom, double *out, int max, int *n, int *has) {
    int rc;
    toml_value *v = lookup_list(r, t, tpath, key, required, max, has, &rc);
    if (!v) return rc;
    for (size_t i = 0; i < v->n; i++) {
        char label[300];
        snprintf(label, sizeof label, "%s[%zu]", key, i);
        if ((rc = num_of(r, v->items[i], tpath, label, dom, &out[i]))) return rc;
    }
    *n = (int)v->n;
    return SNN_OK;
}

int snn_pr_int_list(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                    int64_t min, int64_t max_value, int64_t *out, int max, int *n, int *has) {
    int rc;
    toml_value *v = lookup_list(r, t, tpath, key, required, max, has, &rc);
    if (!v) return rc;
    for (size_t i = 0; i < v->n; i++) {
        char label[300];
        snprintf(label, sizeof label, "%s[%zu]", key, i);
        if ((rc = int_of(r, v->items[i], tpath, label, min, max_value, &out[i]))) return rc;
    }
    *n = (int)v->n;
    return SNN_OK;
}

int snn_pr_str_list(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                    char *out, size_t cap, int max, int *n, int *has) {
    int rc;
    toml_value *v = lookup_list(r, t, tpath, key, required, max, has, &rc);
    if (!v) return rc;
    for (size_t i = 0; i < v->n; i++) {
        toml_value *it = v->items[i];
        if (it->type != TOML_STRING)
            return snn_pr_fail(r, it->line, tpath, key, "entry %zu: expected a string, got %s", i, a_type(it->type));
        size_t len = strlen(it->str);
        if (len == 0) return snn_pr_fail(r, it->line, tpath, key, "entry %zu is an empty name", i);
        if (len >= cap)
            return snn_pr_fail(r, it->line, tpath, key, "'%s' is longer than %zu characters", it->str, cap - 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(v->items[j]->str, it->str) == 0)
                return snn_pr_fail(r, it->line, tpath, key, "'%s' appears twice", it->str);
        memcpy(out + i * cap, it->str, len + 1);
    }
    *n = (int)v->n;
    return SNN_OK;
}

int snn_pr_per_type(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                    snn_dom dom, const char *const *names, int n, const char *what, double *out, int *has) {
    int rc;
    toml_value *v = lookup(r, t, tpath, key, required, has, &rc);
    if (!v) return rc;
    if (v->type == TOML_INT || v->type == TOML_FLOAT) {
        double x;
        if ((rc = num_of(r, v, tpath, key, dom, &x))) return rc;
        for (int i = 0; i < n; i++) out[i] = x;
        return SNN_OK;
    }
    if (v->type != TOML_TABLE)
        return snn_pr_fail(r, v->line, tpath, key, "expected a number (for every cell type) or a table keyed by cell type, got %s",
                           a_type(v->type));
    char path[512];
    snn_pr_join(path, sizeof path, tpath, key);
    if ((rc = snn_pr_check_names(r, v, path, names, n, what))) return rc;
    for (int i = 0; i < n; i++)
        if ((rc = snn_pr_num(r, v, path, names[i], 1, dom, &out[i], NULL))) return rc;
    return SNN_OK;
}

int snn_pr_matrix(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                  snn_dom dom, int rows, const char *const *row_names, int cols, const char *const *col_names,
                  double *out, int stride, int *has) {
    int rc;
    toml_value *v = lookup(r, t, tpath, key, required, has, &rc);
    if (!v) return rc;
    char rl[600], cl[600];
    list_text(rl, sizeof rl, row_names, rows);
    list_text(cl, sizeof cl, col_names, cols);
    int bad = v->type != TOML_ARRAY || v->n != (size_t)rows;
    for (size_t i = 0; !bad && i < v->n; i++)
        bad = v->items[i]->type != TOML_ARRAY || v->items[i]->n != (size_t)cols;
    if (bad) {
        char got[100];
        if (v->type != TOML_ARRAY)
            snprintf(got, sizeof got, "%s", a_type(v->type));
        else if (v->n != (size_t)rows)
            snprintf(got, sizeof got, "%zu rows", v->n);
        else {
            size_t i = 0;
            while (v->items[i]->type == TOML_ARRAY && v->items[i]->n == (size_t)cols) i++;
            if (v->items[i]->type != TOML_ARRAY)
                snprintf(got, sizeof got, "row %zu is %s", i, a_type(v->items[i]->type));
            else
                snprintf(got, sizeof got, "row %zu has %zu entries", i, v->items[i]->n);
        }
        return snn_pr_fail(r, v->line, tpath, key,
                           "expected a %d x %d matrix (rows: %s; columns: %s), got %s", rows, cols, rl, cl, got);
    }
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            char label[300];
            snprintf(label, sizeof label, "%s[%d][%d] (%s -> %s)", key, i, j, row_names[i], col_names[j]);
            if ((rc = num_of(r, v->items[i]->items[j], tpath, label, dom, &out[i * stride + j]))) return rc;
        }
    return SNN_OK;
}
