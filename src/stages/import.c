/* snnfit import: a network from edge lists (docs/import.md).
 *
 *   snnfit import --edges EDGES.csv --neurons NEURONS.csv --mapping MAP.toml -o OUT [options]
 *
 * The neurons file gives every neuron's id, a cell-type value (mapped to a cell type name by MAP's
 * [cell_types]), and optionally a group (-> assembly id) and whether it is an input neuron. Input
 * neurons become the feedforward layer; the others the recurrent one, both in file order. The edges
 * file gives pre id, post id, a weight or synapse count, and optionally a transmitter or sign per edge
 * (mapped by MAP's [transmitters] to the recurrent cell type whose sign it carries). Every problem is
 * reported with its file and line; all of them are listed before the command fails (exit 2), so one
 * run shows everything to fix. OUT gets network_structure.npz and neuron_ids.csv (the id map). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/params_types.h"
#include "config/toml.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "io/csv.h"
#include "model/structure.h"
#include "stages/stage.h"

enum { DUP_SUM, DUP_KEEP, DUP_REJECT };
enum { SELF_DROP, SELF_KEEP, SELF_REJECT };
#define MAX_LISTED 20   /* problems printed per kind; the rest are counted */
#define CODE_BAD (-2)   /* a neuron whose cell type is in error (reported) */

typedef struct import_opts {
    const char *edges, *neurons, *mapping, *out;
    const char *pre_col, *post_col, *weight_col, *nt_col;
    int nt_col_given;
    const char *id_col, *type_col, *group_col, *input_col;
    char delim;
    int dup, self, signed_weights, format, overwrite, quiet;
    double weight_scale;
} import_opts;

/* ---------------------------------------------------------------- problems */

typedef struct reporter {
    int64_t errors;
    int64_t listed;
} reporter;

static void problem(reporter *r, const char *file, int64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(reporter *r, const char *file, int64_t line, const char *fmt, ...) {
    r->errors++;
    if (r->listed >= 3 * MAX_LISTED) return;
    r->listed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%lld: ", file, (long long)line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* A warning kind: the first MAX_LISTED are printed, all are counted. */
typedef struct warn_kind {
    const char *what;
    int64_t n;
} warn_kind;

static void warn(warn_kind *k, const char *file, int64_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void warn(warn_kind *k, const char *file, int64_t line, const char *fmt, ...) {
    if (k->n++ >= MAX_LISTED) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "warning: %s:%lld: ", file, (long long)line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---------------------------------------------------------------- the mapping */

#define MAX_MAP 4096
typedef struct mapping {
    char rec[SNN_MAX_TYPES][SNN_NAME_MAX], ff[SNN_MAX_TYPES][SNN_NAME_MAX];
    int n_rec, n_ff;
    /* value -> code: rec type t as t, ff type f as SNN_MAX_TYPES + f */
    int n_ct;
    char *ct_key[MAX_MAP];
    int ct_val[MAX_MAP];
    int ct_default;  /* -1: none */
    int n_tr;
    char *tr_key[MAX_MAP];
    int tr_val[MAX_MAP];
    int tr_default;
    int has_tr;
    int n_in;
    char *in_val[MAX_MAP];
} mapping;

static void mapping_free(mapping *m) {
    for (int i = 0; i < m->n_ct; i++) free(m->ct_key[i]);
    for (int i = 0; i < m->n_tr; i++) free(m->tr_key[i]);
    for (int i = 0; i < m->n_in; i++) free(m->in_val[i]);
}

static int name_code(const mapping *m, const char *name, int allow_ff) {
    for (int t = 0; t < m->n_rec; t++)
        if (!strcmp(m->rec[t], name)) return t;
    if (allow_ff)
        for (int f = 0; f < m->n_ff; f++)
            if (!strcmp(m->ff[f], name)) return SNN_MAX_TYPES + f;
    return -1;
}

static int read_names(const char *path, const toml_value *root, const char *table, char (*out)[SNN_NAME_MAX],
                      int *n, int required, snn_error *err) {
    const toml_value *t = toml_get(root, table);
    *n = 0;
    if (!t) return required ? snn_fail(err, SNN_EINPUT, "%s: missing table [%s] with cell_types = [...]", path, table) : 0;
    const toml_value *a = t->type == TOML_TABLE ? toml_get(t, "cell_types") : NULL;
    if (!a || a->type != TOML_ARRAY || a->n == 0 || a->n > SNN_MAX_TYPES)
        return snn_fail(err, SNN_EINPUT, "%s:%d: [%s] cell_types: expected a list of 1 to %d names", path, t->line, table,
                        SNN_MAX_TYPES);
    for (size_t i = 0; i < a->n; i++) {
        const toml_value *v = a->items[i];
        if (v->type != TOML_STRING || !v->str[0] || strlen(v->str) >= SNN_NAME_MAX)
            return snn_fail(err, SNN_EINPUT, "%s:%d: [%s] cell_types: entry %zu is not a name", path, a->line, table, i);
        for (int k = 0; k < *n; k++)
            if (!strcmp(out[k], v->str))
                return snn_fail(err, SNN_EINPUT, "%s:%d: [%s] cell_types: '%s' appears twice", path, a->line, table, v->str);
        snprintf(out[(*n)++], SNN_NAME_MAX, "%s", v->str);
    }
    return SNN_OK;
}

/* A table of value = "cell type name"; "*" is the default for values not listed. */
static int read_map(const char *path, const mapping *m, const toml_value *root, const char *table, int allow_ff,
                    char **keys, int *vals, int *n, int *dflt, int *present, snn_error *err) {
    const toml_value *t = toml_get(root, table);
    *n = 0;
    *dflt = -1;
    if (present) *present = t != NULL;
    if (!t) return SNN_OK;
    if (t->type != TOML_TABLE) return snn_fail(err, SNN_EINPUT, "%s:%d: [%s] must be a table", path, t->line, table);
    if (t->nkeys > MAX_MAP) return snn_fail(err, SNN_EINPUT, "%s:%d: [%s]: at most %d entries", path, t->line, table, MAX_MAP);
    for (size_t i = 0; i < t->nkeys; i++) {
        const toml_value *v = t->vals[i];
        int code = v->type == TOML_STRING ? name_code(m, v->str, allow_ff) : -1;
        if (code < 0)
            return snn_fail(err, SNN_EINPUT, "%s:%d: [%s] %s: expected the name of a %scell type of [recurrent]%s", path,
                            v->line, table, t->keys[i], allow_ff ? "" : "recurrent ",
                            allow_ff ? " or [feedforward]" : "");
        if (!strcmp(t->keys[i], "*")) {
            *dflt = code;
            continue;
        }
        keys[*n] = strdup(t->keys[i]);
        if (!keys[*n]) return snn_fail(err, SNN_ERUN, "out of memory");
        vals[(*n)++] = code;
    }
    return SNN_OK;
}

static int mapping_load(const char *path, mapping *m, snn_error *err) {
    memset(m, 0, sizeof *m);
    toml_value *root = toml_parse_file(path, err);
    if (!root) return SNN_EINPUT;
    static const char *const known[] = {"recurrent", "feedforward", "cell_types", "transmitters", "inputs"};
    int rc = SNN_OK;
    for (size_t i = 0; i < root->nkeys && !rc; i++) {
        int ok = 0;
        for (size_t k = 0; k < sizeof known / sizeof *known; k++) ok |= !strcmp(root->keys[i], known[k]);
        if (!ok)
            rc = snn_fail(err, SNN_EINPUT,
                          "%s:%d: unknown table [%s] (expected recurrent, feedforward, cell_types, transmitters, inputs)",
                          path, root->vals[i]->line, root->keys[i]);
    }
    if (!rc) rc = read_names(path, root, "recurrent", m->rec, &m->n_rec, 1, err);
    if (!rc) rc = read_names(path, root, "feedforward", m->ff, &m->n_ff, 0, err);
    for (int a = 0; !rc && a < m->n_rec; a++)
        for (int b = 0; b < m->n_ff; b++)
            if (!strcmp(m->rec[a], m->ff[b]))
                rc = snn_fail(err, SNN_EINPUT, "%s: '%s' is both a recurrent and a feedforward cell type", path, m->rec[a]);
    if (!rc) rc = read_map(path, m, root, "cell_types", 1, m->ct_key, m->ct_val, &m->n_ct, &m->ct_default, NULL, err);
    if (!rc) rc = read_map(path, m, root, "transmitters", 0, m->tr_key, m->tr_val, &m->n_tr, &m->tr_default, &m->has_tr, err);
    const toml_value *in = rc ? NULL : toml_get(root, "inputs");
    if (in) {
        const toml_value *vals = in->type == TOML_TABLE ? toml_get(in, "values") : NULL;
        if (!vals || vals->type != TOML_ARRAY || vals->n > MAX_MAP)
            rc = snn_fail(err, SNN_EINPUT, "%s:%d: [inputs] values: expected a list of strings", path, in->line);
        for (size_t i = 0; !rc && i < vals->n; i++) {
            if (vals->items[i]->type != TOML_STRING)
                rc = snn_fail(err, SNN_EINPUT, "%s:%d: [inputs] values: entry %zu is not a string", path, vals->line, i);
            else if (!(m->in_val[m->n_in++] = strdup(vals->items[i]->str)))
                rc = snn_fail(err, SNN_ERUN, "out of memory");
        }
    } else if (!rc) {
        static const char *const truthy[] = {"1", "true", "True", "TRUE", "yes", "Yes", "YES"};
        for (size_t i = 0; i < sizeof truthy / sizeof *truthy; i++) m->in_val[m->n_in++] = strdup(truthy[i]);
    }
    toml_free(root);
    if (rc) mapping_free(m);
    return rc;
}

static int lookup(char *const *keys, const int *vals, int n, int dflt, const char *v) {
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], v)) return vals[i];
    return dflt;
}

/* ---------------------------------------------------------------- ids */

/* Open addressing: 64-bit id -> neuron index. */
typedef struct id_map {
    int64_t *keys;
    int32_t *vals;  /* -1 empty */
    uint64_t mask;
} id_map;

static int id_map_init(id_map *h, int64_t n, snn_error *err) {
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)n) cap *= 2;
    h->keys = snn_calloc(cap, sizeof *h->keys, "the id table", err);
    h->vals = snn_calloc(cap, sizeof *h->vals, "the id table", err);
    if (!h->keys || !h->vals) return SNN_ERUN;
    memset(h->vals, 0xff, cap * sizeof *h->vals);
    h->mask = cap - 1;
    return SNN_OK;
}

static void id_map_free(id_map *h) {
    free(h->keys);
    free(h->vals);
}

/* The slot of id: its value, or -1 (and *slot where it would go). */
static int32_t id_find(const id_map *h, int64_t id, uint64_t *slot) {
    uint64_t k = ((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 17 & h->mask;
    while (h->vals[k] >= 0 && h->keys[k] != id) k = (k + 1) & h->mask;
    if (slot) *slot = k;
    return h->vals[k];
}

/* Parses a whole field as a 64-bit integer id. */
static int parse_id(const char *s, int64_t *out) {
    if (!*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) {
        /* ids written as floats by some tools ("720575940621039145.0") are refused: precision is lost */
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_num(const char *s, double *out) {
    if (!*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------- tables */

typedef struct neuron {
    int64_t id, line;
    int code;        /* rec type t, SNN_MAX_TYPES + ff type, -1 (to derive from the edges) or CODE_BAD */
    int input;
    int32_t group;   /* index of its group value, -1 none */
    int32_t index;   /* within its layer */
} neuron;

typedef struct edge {
    int32_t pre, post;  /* neuron indices (file order) */
    int64_t line;
    double w;
    int8_t sign;        /* recurrent type its transmitter/sign implies, -1 none */
} edge;

typedef struct groups {
    char **names;
    int64_t n, cap;
} groups;

static int32_t group_of(groups *g, const char *v, snn_error *err) {
    if (!*v) return -1;
    for (int64_t i = g->n - 1; i >= 0; i--) /* neurons of a group tend to be listed together */
        if (!strcmp(g->names[i], v)) return (int32_t)i;
    if (g->n == g->cap) {
        int64_t cap = g->cap ? 2 * g->cap : 64;
        char **p = realloc(g->names, (size_t)cap * sizeof *p);
        if (!p) return snn_fail(err, SNN_ERUN, "out of memory"), -2;
        g->names = p;
        g->cap = cap;
    }
    if (!(g->names[g->n] = strdup(v))) return snn_fail(err, SNN_ERUN, "out of memory"), -2;
    return (int32_t)g->n++;
}

static int column(const snn_csv *c, const char *name, const char *opt, int *out, snn_error *err) {
    *out = snn_csv_column(c, name);
    if (*out >= 0) return SNN_OK;
    char cols[600] = "";
    size_t p = 0;
    for (int i = 0; i < snn_csv_ncolumns(c) && p < sizeof cols - 40; i++)
        p += (size_t)snprintf(cols + p, sizeof cols - p, "%s'%s'", i ? ", " : "", snn_csv_column_name(c, i));
    return snn_fail(err, SNN_EINPUT, "%s:%lld: no column '%s' (set it with %s); the header has %s", snn_csv_path(c),
                    (long long)snn_csv_line(c), name, opt, cols);
}

typedef struct import_run {
    import_opts o;
    mapping map;
    neuron *nrn;
    int64_t n_nrn, cap_nrn;
    edge *e;
    int64_t n_e, cap_e;
    id_map ids;
    groups grp;
    reporter rep;
    warn_kind w_self, w_to_input, w_sign, w_dup;
    int64_t summed;
} import_run;

static int read_neurons(import_run *r, snn_error *err) {
    const import_opts *o = &r->o;
    snn_csv *c = snn_csv_open(o->neurons, o->delim, err);
    if (!c) return SNN_EINPUT;
    int cid, ctype, cgroup = -1, cinput = -1, rc;
    if ((rc = column(c, o->id_col, "--id-column", &cid, err)) || (rc = column(c, o->type_col, "--type-column", &ctype, err)) ||
        (o->group_col && (rc = column(c, o->group_col, "--group-column", &cgroup, err))) ||
        (o->input_col && (rc = column(c, o->input_col, "--input-column", &cinput, err)))) {
        snn_csv_close(c);
        return rc;
    }
    const char *f = o->neurons;
    const int ncol = snn_csv_ncolumns(c);
    int got;
    while ((got = snn_csv_next(c, err)) > 0) {
        const int64_t line = snn_csv_line(c);
        if (snn_csv_nfields(c) != ncol) {
            problem(&r->rep, f, line, "malformed row: %d fields, the header has %d", snn_csv_nfields(c), ncol);
            continue;
        }
        int64_t id;
        if (parse_id(snn_csv_field(c, cid), &id)) {
            problem(&r->rep, f, line, "malformed row: id '%s' is not a 64-bit integer", snn_csv_field(c, cid));
            continue;
        }
        const char *tv = snn_csv_field(c, ctype);
        int code = -1;
        if (*tv) {
            code = lookup(r->map.ct_key, r->map.ct_val, r->map.n_ct, r->map.ct_default, tv);
            if (code < 0) {
                /* still a neuron: its edges are checked, not reported as unknown ids */
                problem(&r->rep, f, line, "unknown cell type '%s' of neuron %" PRId64 " (not in [cell_types] of %s)", tv,
                        id, o->mapping);
                code = CODE_BAD;
            }
        }
        int input = code >= SNN_MAX_TYPES;
        if (code == CODE_BAD) goto add;
        if (cinput >= 0) {
            const char *iv = snn_csv_field(c, cinput);
            for (int k = 0; k < r->map.n_in && !input; k++) input = !strcmp(iv, r->map.in_val[k]);
        }
        if (input && code >= 0 && code < SNN_MAX_TYPES) {
            /* an input neuron whose value names a recurrent type: the only feedforward type, if one */
            if (r->map.n_ff == 1) {
                code = SNN_MAX_TYPES;
            } else {
                problem(&r->rep, f, line, "input neuron %" PRId64 " has cell type '%s', which is not a feedforward type%s",
                        id, tv, r->map.n_ff ? "" : " ([feedforward] cell_types is missing from the mapping)");
                code = CODE_BAD;
            }
        }
        if (input && code < 0 && r->map.n_ff == 1) code = SNN_MAX_TYPES;
        if (input && code == -1) {
            problem(&r->rep, f, line, "missing cell type of input neuron %" PRId64 "%s", id,
                    r->map.n_ff ? " (there are several feedforward types)" : " ([feedforward] cell_types is missing)");
            code = CODE_BAD;
        }
    add:
        if (r->n_nrn == r->cap_nrn) {
            int64_t cap = r->cap_nrn ? 2 * r->cap_nrn : 1024;
            neuron *p = realloc(r->nrn, (size_t)cap * sizeof *p);
            if (!p) {
                snn_csv_close(c);
                return snn_fail(err, SNN_ERUN, "out of memory reading %s", f);
            }
            r->nrn = p;
            r->cap_nrn = cap;
        }
        int32_t g = cgroup >= 0 && !input ? group_of(&r->grp, snn_csv_field(c, cgroup), err) : -1;
        if (g == -2) {
            snn_csv_close(c);
            return SNN_ERUN;
        }
        r->nrn[r->n_nrn++] = (neuron){.id = id, .line = line, .code = code, .input = input, .group = g};
    }
    snn_csv_close(c);
    if (got < 0) return -got;
    if (r->n_nrn > INT32_MAX) return snn_fail(err, SNN_EINPUT, "%s: more than %d neurons", f, INT32_MAX);
    if ((rc = id_map_init(&r->ids, r->n_nrn, err))) return rc;
    for (int64_t i = 0; i < r->n_nrn; i++) {
        uint64_t slot;
        int32_t prev = id_find(&r->ids, r->nrn[i].id, &slot);
        if (prev >= 0) {
            problem(&r->rep, f, r->nrn[i].line, "duplicate neuron id %" PRId64 " (first on line %lld)", r->nrn[i].id,
                    (long long)r->nrn[prev].line);
            continue;
        }
        r->ids.keys[slot] = r->nrn[i].id;
        r->ids.vals[slot] = (int32_t)i;
    }
    return SNN_OK;
}

static int read_edges(import_run *r, snn_error *err) {
    const import_opts *o = &r->o;
    snn_csv *c = snn_csv_open(o->edges, o->delim, err);
    if (!c) return SNN_EINPUT;
    int cpre, cpost, cw, ctr = -1, rc;
    if ((rc = column(c, o->pre_col, "--pre-column", &cpre, err)) || (rc = column(c, o->post_col, "--post-column", &cpost, err)) ||
        (rc = column(c, o->weight_col, "--weight-column", &cw, err))) {
        snn_csv_close(c);
        return rc;
    }
    ctr = snn_csv_column(c, o->nt_col);
    if (ctr < 0 && o->nt_col_given && (rc = column(c, o->nt_col, "--transmitter-column", &ctr, err))) {
        snn_csv_close(c);
        return rc;
    }
    if (!r->map.has_tr) {
        if (o->nt_col_given && !o->quiet)
            fprintf(stderr, "warning: %s has no [transmitters] table; the column '%s' is not used\n", o->mapping, o->nt_col);
        ctr = -1;
    }
    if (o->signed_weights && !r->map.has_tr) {
        snn_csv_close(c);
        return snn_fail(err, SNN_EINPUT, "%s: --signed-weights needs a [transmitters] table with \"+\" and \"-\"", o->mapping);
    }
    const char *f = o->edges;
    const int ncol = snn_csv_ncolumns(c);
    int got;
    while ((got = snn_csv_next(c, err)) > 0) {
        const int64_t line = snn_csv_line(c);
        if (snn_csv_nfields(c) != ncol) {
            problem(&r->rep, f, line, "malformed row: %d fields, the header has %d", snn_csv_nfields(c), ncol);
            continue;
        }
        int64_t a, b;
        double w;
        const char *fa = snn_csv_field(c, cpre), *fb = snn_csv_field(c, cpost), *fw = snn_csv_field(c, cw);
        if (parse_id(fa, &a) || parse_id(fb, &b)) {
            problem(&r->rep, f, line, "malformed row: id '%s' is not a 64-bit integer", parse_id(fa, &a) ? fa : fb);
            continue;
        }
        if (parse_num(fw, &w)) {
            problem(&r->rep, f, line, "malformed row: weight '%s' is not a finite number", fw);
            continue;
        }
        int sign = -1;
        if (w < 0) {
            if (!o->signed_weights) {
                problem(&r->rep, f, line, "negative weight %s (weights are >= 0; the sign is the presynaptic cell "
                        "type's, or use --signed-weights)", fw);
                continue;
            }
            w = -w;
            sign = lookup(r->map.tr_key, r->map.tr_val, r->map.n_tr, r->map.tr_default, "-");
        } else if (o->signed_weights) {
            sign = lookup(r->map.tr_key, r->map.tr_val, r->map.n_tr, r->map.tr_default, "+");
        }
        int32_t pa = id_find(&r->ids, a, NULL), pb = id_find(&r->ids, b, NULL);
        if (pa < 0 || pb < 0) {
            problem(&r->rep, f, line, "unknown id %" PRId64 " (not in %s)", pa < 0 ? a : b, o->neurons);
            continue;
        }
        if (ctr >= 0 && sign < 0) {
            const char *tv = snn_csv_field(c, ctr);
            if (*tv) {
                sign = lookup(r->map.tr_key, r->map.tr_val, r->map.n_tr, r->map.tr_default, tv);
                if (sign < 0) {
                    problem(&r->rep, f, line, "unknown transmitter '%s' (not in [transmitters] of %s)", tv, o->mapping);
                    continue;
                }
            }
        }
        if (pa == pb) {
            if (o->self == SELF_REJECT) {
                problem(&r->rep, f, line, "self-loop of neuron %" PRId64 " (--self-loops reject)", a);
                continue;
            }
            if (o->self == SELF_DROP) {
                warn(&r->w_self, f, line, "self-loop of neuron %" PRId64 " dropped", a);
                continue;
            }
        }
        if (r->nrn[pb].input) {
            warn(&r->w_to_input, f, line, "edge onto input neuron %" PRId64 " dropped (inputs have no dynamics)", b);
            continue;
        }
        if (r->n_e == r->cap_e) {
            int64_t cap = r->cap_e ? 2 * r->cap_e : 4096;
            edge *p = realloc(r->e, (size_t)cap * sizeof *p);
            if (!p) {
                snn_csv_close(c);
                return snn_fail(err, SNN_ERUN, "out of memory reading %s (%lld edges)", f, (long long)cap);
            }
            r->e = p;
            r->cap_e = cap;
        }
        r->e[r->n_e++] = (edge){.pre = pa, .post = pb, .line = line, .w = w * o->weight_scale, .sign = (int8_t)sign};
    }
    snn_csv_close(c);
    return got < 0 ? -got : SNN_OK;
}

/* Neurons without a cell-type value take the recurrent type their outgoing edges' transmitters say
 * (by summed weight; ties to the lower type); edges that contradict their neuron's type are reported. */
static int settle_types(import_run *r, snn_error *err) {
    const int nt = r->map.n_rec;
    double *votes = snn_calloc((size_t)r->n_nrn * (size_t)nt + 1, sizeof *votes, "transmitter votes", err);
    if (!votes) return SNN_ERUN;
    for (int64_t k = 0; k < r->n_e; k++)
        if (r->e[k].sign >= 0 && r->nrn[r->e[k].pre].code < 0)
            votes[(size_t)r->e[k].pre * (size_t)nt + (size_t)r->e[k].sign] += r->e[k].w > 0 ? r->e[k].w : 1e-300;
    for (int64_t i = 0; i < r->n_nrn; i++) {
        neuron *n = &r->nrn[i];
        if (n->code >= 0 || n->code == CODE_BAD) continue;
        int best = -1;
        for (int t = 0; t < nt; t++)
            if (votes[(size_t)i * (size_t)nt + (size_t)t] > 0 &&
                (best < 0 || votes[(size_t)i * (size_t)nt + (size_t)t] > votes[(size_t)i * (size_t)nt + (size_t)best]))
                best = t;
        if (best < 0)
            problem(&r->rep, r->o.neurons, n->line,
                    "missing cell type of neuron %" PRId64 " (no value, and none of its edges has a transmitter)", n->id);
        n->code = best;
    }
    free(votes);
    for (int64_t k = 0; k < r->n_e; k++) {
        const edge *e = &r->e[k];
        const neuron *n = &r->nrn[e->pre];
        if (e->sign >= 0 && !n->input && n->code >= 0 && n->code != e->sign)
            warn(&r->w_sign, r->o.edges, e->line, "transmitter says %s but neuron %" PRId64 " is %s (its type is kept)",
                 r->map.rec[(int)e->sign], n->id, r->map.rec[n->code]);
    }
    return SNN_OK;
}

/* Sorts the edges by (pre, post), file order kept between equal pairs, and applies the duplicate
 * policy; leaves r->e with one edge per pair. */
static int merge_duplicates(import_run *r, snn_error *err) {
    const int64_t n = r->n_e;
    edge *sorted = snn_calloc((size_t)n + 1, sizeof *sorted, "sorting edges", err);
    int64_t *start = snn_calloc((size_t)r->n_nrn + 1, sizeof *start, "sorting edges", err);
    if (!sorted || !start) {
        free(sorted);
        free(start);
        return SNN_ERUN;
    }
    /* two stable counting sorts: by post, then by pre */
    for (int pass = 0; pass < 2; pass++) {
        memset(start, 0, ((size_t)r->n_nrn + 1) * sizeof *start);
        for (int64_t k = 0; k < n; k++) start[(pass ? r->e[k].pre : r->e[k].post) + 1]++;
        for (int64_t i = 0; i < r->n_nrn; i++) start[i + 1] += start[i];
        for (int64_t k = 0; k < n; k++) sorted[start[pass ? r->e[k].pre : r->e[k].post]++] = r->e[k];
        if (n) memcpy(r->e, sorted, (size_t)n * sizeof *sorted);
    }
    free(sorted);
    free(start);
    int64_t out = 0;
    for (int64_t k = 0; k < n;) {
        int64_t j = k + 1;
        edge first = r->e[k];
        while (j < n && r->e[j].pre == first.pre && r->e[j].post == first.post) {
            const edge *d = &r->e[j];
            if (r->o.dup == DUP_REJECT)
                problem(&r->rep, r->o.edges, d->line, "duplicate edge %" PRId64 " -> %" PRId64 " (first on line %lld)",
                        r->nrn[d->pre].id, r->nrn[d->post].id, (long long)first.line);
            else if (r->o.dup == DUP_KEEP)
                warn(&r->w_dup, r->o.edges, d->line, "duplicate edge %" PRId64 " -> %" PRId64 " ignored (first on line %lld)",
                     r->nrn[d->pre].id, r->nrn[d->post].id, (long long)first.line);
            else {
                first.w += d->w;
                r->summed++;
            }
            j++;
        }
        r->e[out++] = first;
        k = j;
    }
    r->n_e = out;
    return SNN_OK;
}

/* ---------------------------------------------------------------- output */

static int write_ids(const import_run *r, const char *path, snn_error *err) {
    snn_atomic_file af;
    int rc = snn_atomic_open(&af, path, err);
    if (rc) return rc;
    fprintf(af.fp, "layer,index,id,cell_type%s\n", r->o.group_col ? ",assembly,group" : "");
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < r->n_nrn; i++) {
            const neuron *n = &r->nrn[i];
            if (n->input != pass) continue;
            const char *type = pass ? r->map.ff[n->code - SNN_MAX_TYPES] : r->map.rec[n->code];
            fprintf(af.fp, "%s,%d,%" PRId64 ",%s", pass ? "feedforward" : "recurrent", n->index, n->id, type);
            if (r->o.group_col) {
                const char *g = n->group >= 0 ? r->grp.names[n->group] : "";
                int quote = strpbrk(g, ",\"\n") != NULL;
                fprintf(af.fp, ",%d,%s", n->group, quote ? "\"" : "");
                for (const char *p = g; *p; p++) {
                    if (*p == '"') fputc('"', af.fp);
                    fputc(*p, af.fp);
                }
                fprintf(af.fp, "%s", quote ? "\"" : "");
            }
            fputc('\n', af.fp);
        }
    return snn_atomic_commit(&af, err);
}

static int build_and_write(import_run *r, snn_error *err) {
    int64_t n = 0, n_in = 0, nnz = 0, nnz_ff = 0;
    for (int64_t i = 0; i < r->n_nrn; i++) r->nrn[i].index = (int32_t)(r->nrn[i].input ? n_in++ : n++);
    for (int64_t k = 0; k < r->n_e; k++) r->nrn[r->e[k].pre].input ? nnz_ff++ : nnz++;
    if (n == 0) return snn_fail(err, SNN_EINPUT, "%s: no recurrent neurons (every neuron is an input)", r->o.neurons);
    snn_structure s;
    int rc = snn_structure_alloc(&s, n, n_in, 0, 0, err);
    if (rc) return rc;
    snn_sparse_free(&s.rec);
    snn_sparse_free(&s.ff);
    int32_t *pre = malloc((size_t)(nnz + nnz_ff + 1) * sizeof *pre), *post = malloc((size_t)(nnz + nnz_ff + 1) * sizeof *post);
    float *w = malloc((size_t)(nnz + nnz_ff + 1) * sizeof *w);
    if (!pre || !post || !w) {
        rc = snn_fail(err, SNN_ERUN, "out of memory building the network (%lld synapses)", (long long)(nnz + nnz_ff));
        goto done;
    }
    /* the recurrent edges first, then the feedforward ones, each in (pre, post) order */
    int64_t a = 0, b = nnz;
    for (int64_t k = 0; k < r->n_e; k++) {
        const edge *e = &r->e[k];
        int64_t q = r->nrn[e->pre].input ? b++ : a++;
        pre[q] = r->nrn[e->pre].index;
        post[q] = r->nrn[e->post].index;
        w[q] = (float)e->w;
    }
    if ((rc = snn_sparse_from_edges(&s.rec, n, n, nnz, pre, post, w, "recurrent synapses", err)) ||
        (rc = snn_sparse_from_edges(&s.ff, n_in, n, nnz_ff, pre + nnz, post + nnz, w + nnz, "feedforward synapses", err)))
        goto done;
    for (int64_t i = 0; i < r->n_nrn; i++) {
        const neuron *x = &r->nrn[i];
        if (x->input) {
            s.ff_cell_types[x->index] = x->code - SNN_MAX_TYPES;
        } else {
            s.cell_types[x->index] = x->code;
            s.assembly_ids[x->index] = x->group;
        }
    }
    s.n_types = r->map.n_rec;
    s.n_ff_types = r->map.n_ff;
    snn_stage_opts so = {.output = r->o.out, .overwrite = r->o.overwrite};
    char path[SNN_PATH_MAX];
    if ((rc = snn_stage_prepare_output(&so, err)) || (rc = snn_path_join(path, sizeof path, r->o.out, "network_structure.npz", err)))
        goto done;
    snn_net_format fmt = r->o.format == SNN_NET_AUTO ? snn_structure_auto_format(&s) : (snn_net_format)r->o.format;
    if ((rc = snn_structure_save_as(path, &s, fmt, err))) goto done;
    printf("✓ %lld recurrent neurons, %lld inputs; %lld recurrent and %lld feedforward synapses\n", (long long)n,
           (long long)n_in, (long long)nnz, (long long)nnz_ff);
    printf("✓ Network structure saved to %s (%s)\n", path, fmt == SNN_NET_SPARSE ? "sparse" : "dense");
    if ((rc = snn_path_join(path, sizeof path, r->o.out, "neuron_ids.csv", err)) || (rc = write_ids(r, path, err)))
        goto done;
    printf("✓ Id map saved to %s\n", path);
done:
    free(pre);
    free(post);
    free(w);
    snn_structure_free(&s);
    return rc;
}

/* ---------------------------------------------------------------- options */

static int parse_opts(const snn_stage_opts *so, import_opts *o, snn_error *err) {
    *o = (import_opts){.pre_col = "pre_root_id", .post_col = "post_root_id", .weight_col = "syn_count",
                       .nt_col = "nt_type", .id_col = "root_id", .type_col = "nt_type", .weight_scale = 1.0,
                       .format = SNN_NET_AUTO, .dup = DUP_SUM, .self = SELF_DROP};
    o->out = so->output;
    o->overwrite = so->overwrite;
    o->quiet = so->quiet;
    /* the CLI's option table parsed and checked the names; values are checked here */
    for (int i = 0; i < so->n_named; i++) {
        const char *a = so->named[i].name, *v = so->named[i].value;
        if (!strcmp(a, "--signed-weights")) { o->signed_weights = 1; continue; }
        if (v == NULL) return snn_fail(err, SNN_EINPUT, "%s needs a value", a);
        if (!strcmp(a, "--edges")) o->edges = v;
        else if (!strcmp(a, "--neurons")) o->neurons = v;
        else if (!strcmp(a, "--mapping")) o->mapping = v;
        else if (!strcmp(a, "--pre-column")) o->pre_col = v;
        else if (!strcmp(a, "--post-column")) o->post_col = v;
        else if (!strcmp(a, "--weight-column")) o->weight_col = v;
        else if (!strcmp(a, "--transmitter-column")) o->nt_col = v, o->nt_col_given = 1;
        else if (!strcmp(a, "--id-column")) o->id_col = v;
        else if (!strcmp(a, "--type-column")) o->type_col = v;
        else if (!strcmp(a, "--group-column")) o->group_col = v;
        else if (!strcmp(a, "--input-column")) o->input_col = v;
        else if (!strcmp(a, "--duplicates")) {
            o->dup = !strcmp(v, "sum") ? DUP_SUM : !strcmp(v, "keep") ? DUP_KEEP : !strcmp(v, "reject") ? DUP_REJECT : -1;
            if (o->dup < 0) return snn_fail(err, SNN_EINPUT, "--duplicates: expected sum, keep or reject, got '%s'", v);
        } else if (!strcmp(a, "--self-loops")) {
            o->self = !strcmp(v, "drop") ? SELF_DROP : !strcmp(v, "keep") ? SELF_KEEP : !strcmp(v, "reject") ? SELF_REJECT : -1;
            if (o->self < 0) return snn_fail(err, SNN_EINPUT, "--self-loops: expected drop, keep or reject, got '%s'", v);
        } else if (!strcmp(a, "--weight-scale")) {
            if (parse_num(v, &o->weight_scale) || !(o->weight_scale > 0))
                return snn_fail(err, SNN_EINPUT, "--weight-scale: expected a number > 0, got '%s'", v);
        } else if (!strcmp(a, "--delimiter")) {
            if (!strcmp(v, "tab") || !strcmp(v, "\\t") || !strcmp(v, "\t")) o->delim = '\t';
            else if (!strcmp(v, ",")) o->delim = ',';
            else return snn_fail(err, SNN_EINPUT, "--delimiter: expected ',' or 'tab', got '%s'", v);
        } else if (!strcmp(a, "--format")) {
            o->format = !strcmp(v, "auto") ? SNN_NET_AUTO : !strcmp(v, "dense") ? SNN_NET_DENSE : !strcmp(v, "sparse") ? SNN_NET_SPARSE : -1;
            if (o->format < 0) return snn_fail(err, SNN_EINPUT, "--format: expected auto, dense or sparse, got '%s'", v);
        }
    }
    if (!o->edges || !o->neurons || !o->mapping || !o->out)
        return snn_fail(err, SNN_EINPUT, "missing %s (usage: snnfit import --edges EDGES.csv --neurons NEURONS.csv "
                        "--mapping MAP.toml -o OUT)",
                        !o->edges ? "--edges" : !o->neurons ? "--neurons" : !o->mapping ? "--mapping" : "-o OUT");
    return SNN_OK;
}

int snn_stage_import(const snn_stage_opts *so, snn_error *err) {
    import_run *r = calloc(1, sizeof *r);
    if (!r) return snn_fail(err, SNN_ERUN, "out of memory");
    r->w_self.what = "self-loops dropped";
    r->w_to_input.what = "edges onto input neurons dropped";
    r->w_sign.what = "edges whose transmitter contradicts their neuron's cell type";
    r->w_dup.what = "duplicate edges ignored (--duplicates keep)";
    int rc = parse_opts(so, &r->o, err);
    if (!rc) rc = mapping_load(r->o.mapping, &r->map, err);
    if (rc) goto done;
    if (!r->o.quiet) printf("Reading %s ...\n", r->o.neurons);
    if ((rc = read_neurons(r, err))) goto done;
    if (!r->o.quiet) printf("Reading %s ...\n", r->o.edges);
    /* on through the edges even after problems in the neurons, so that one run lists everything */
    if ((rc = read_edges(r, err))) goto done;
    if ((rc = settle_types(r, err))) goto done;
    if ((rc = merge_duplicates(r, err))) goto done;
    warn_kind *kinds[4] = {&r->w_self, &r->w_to_input, &r->w_sign, &r->w_dup};
    for (int k = 0; k < 4; k++)
        if (kinds[k]->n > 0) fprintf(stderr, "warning: %lld %s\n", (long long)kinds[k]->n, kinds[k]->what);
    if (r->rep.errors) {
        rc = snn_fail(err, SNN_EINPUT, "import failed: %lld problem%s in %s and %s (listed above%s)",
                      (long long)r->rep.errors, r->rep.errors > 1 ? "s" : "", r->o.neurons, r->o.edges,
                      r->rep.errors > r->rep.listed ? ", the first ones" : "");
        goto done;
    }
    if (r->summed && !r->o.quiet) printf("Summed %lld duplicate edges into the first of their pair\n", (long long)r->summed);
    rc = build_and_write(r, err);
done:
    mapping_free(&r->map);
    id_map_free(&r->ids);
    for (int64_t i = 0; i < r->grp.n; i++) free(r->grp.names[i]);
    free(r->grp.names);
    free(r->nrn);
    free(r->e);
    free(r);
    return rc;
}
