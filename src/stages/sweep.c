/* snnfit sweep SWEEP.toml -o OUT [--jobs N]: a grid search over parameters (docs/sweeps.md).
 *
 * A sweep file is an experiment file of `snnfit run` (stage, parameters_file, description, log_file,
 * [[data.inputs]], [wandb]; output_dir is ignored in favour of -o) plus a [sweep] table: combine =
 * "product" (every combination, the first axis slowest) or "zip" (the i-th value of every axis),
 * [sweep.axes] mapping dotted parameter keys to lists of values, and heatmap = "<summary column>".
 *
 * Before anything is written (bad input: status 2): the file and its keys, the stage, the inputs;
 * every axis key is a key of the stage's parameter schema; every point's parameter file (the base file
 * with the point's values set) loads with the stage's own loader; point names are distinct; the
 * heatmap column exists. Then:
 *  - OUT/sweep.toml (a copy of the sweep file), OUT/configs/<name>/{parameters,experiment}.toml (the
 *    point's files), and every point a tracked run, `snnfit run OUT/configs/<name>/experiment.toml`,
 *    started as a process of its own (a crash is the point's failure, not the sweep's) with its
 *    console in OUT/logs/<name>.log and its run folder OUT/points/<name>/;
 *  - a point whose metadata.json says completed, for the same parameter bytes (parameters_sha256),
 *    is skipped: running a sweep again runs only what is missing, failed, or changed;
 *  - --jobs N runs N points at once, each with OMP_NUM_THREADS = max(1, C / N) (C: OMP_NUM_THREADS
 *    of the sweep if set, else the CPUs it may run on);
 *  - the points are shared round-robin (point i to slot i mod S) by the ranks of mpirun and the
 *    tasks of a Slurm job array (SLURM_ARRAY_TASK_ID, _MIN, _STEP, _COUNT), both at once if need be;
 *  - OUT/summary.csv gets a row per point (axis values, status, outcome), written by rank 0 after
 *    every rank finished, or by each array task under a lock; with two product axes also
 *    OUT/summary_heatmap.png of one column.
 * The exit status is 1 when a point of this process (of any rank, under mpirun) failed. */
#define _GNU_SOURCE /* sched_getaffinity: the CPUs this process may run on */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/params.h"
#include "config/params_read.h"
#include "config/toml.h"
#include "config/toml_write.h"
#include "core/fsutil.h"
#include "core/par.h"
#include "core/sha256.h"
#include "plot/figure.h"
#include "stages/stage.h"

extern char **environ;

#define ARRLEN(a) ((int)(sizeof(a) / sizeof *(a)))
#define MAX_AXES 8
#define MAX_POINTS 100000
#define MAX_INPUTS 64
#define NAME_MAX_LEN 200
#define COL_LEN 160

typedef struct axis {
    char key[256];             /* dotted parameter key */
    char label[256];           /* in point names: the last part of the key, or the key if ambiguous */
    const toml_value *values;  /* the list in the sweep file */
    int line;
} axis;

typedef struct point {
    int idx[MAX_AXES];         /* index into each axis's values */
    char name[NAME_MAX_LEN + 64];
    char *params_text;         /* the point's parameter file */
    char params_sha[65];
} point;

typedef struct sweep_input {
    char src[SNN_PATH_MAX];
    int copy;
} sweep_input;

typedef struct sweep {
    char file[SNN_PATH_MAX], dir[SNN_PATH_MAX];
    toml_value *root, *base;
    char stage_name[32];
    snn_stage stage;
    char params[SNN_PATH_MAX];
    char description[4096];
    int has_log;
    char log[SNN_PATH_MAX];
    int n_inputs;
    sweep_input inputs[MAX_INPUTS];
    const toml_value *wandb;
    int zip;
    int n_axes;
    axis axes[MAX_AXES];
    int n_points;
    point *points;
    char heatmap[COL_LEN];
    int n_out;                 /* outcome columns */
    char (*out_cols)[COL_LEN];
    snn_params *p;             /* scratch for loading points; holds point 0's at the end */
} sweep;

static const struct {
    const char *name;
    snn_stage stage;
} k_stages[] = {{"connectome", SNN_STAGE_CONNECTOME},
                {"homeostatic", SNN_STAGE_HOMEOSTATIC},
                {"teacher", SNN_STAGE_TEACHER},
                {"train", SNN_STAGE_TRAIN},
                {"simulate", SNN_STAGE_SIMULATE}};

/* ---------------------------------------------------------------------------------------------- */
/* reading the sweep file */

typedef struct key_list {
    int n, cap;
    char **keys;
} key_list;

static void collect_key(const char *path, void *ctx) {
    key_list *l = ctx;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 128;
        char **k = realloc(l->keys, (size_t)cap * sizeof *k);
        if (!k) return;
        l->keys = k, l->cap = cap;
    }
    l->keys[l->n] = strdup(path);
    if (l->keys[l->n]) l->n++;
}

/* key matches a schema path, "<type>" matching any one part; a per-type key (a number or a table
 * keyed by cell type) may also be given for one type: schema path + one part */
static int key_matches(const char *key, const char *schema) {
    const char *k = key, *s = schema;
    while (*s) {
        const char *ke = strchr(k, '.'), *se = strchr(s, '.');
        size_t kl = ke ? (size_t)(ke - k) : strlen(k), sl = se ? (size_t)(se - s) : strlen(s);
        if (!kl) return 0;
        if (!(sl == 6 && !strncmp(s, "<type>", 6)) && (kl != sl || strncmp(k, s, kl))) return 0;
        k += kl, s += sl;
        if (*s == '.') s++;
        if (*k == '.') k++;
        else if (*s) return 0;
    }
    if (!*k) return 1;
    return strchr(k, '.') == NULL && *k; /* one more part */
}

static int add_axis(sweep *sw, snn_pr *r, const char *key, const toml_value *v) {
    if (sw->n_axes == MAX_AXES)
        return snn_pr_fail(r, v->line, "sweep.axes", key, "at most %d axes are supported", MAX_AXES);
    if (v->type != TOML_ARRAY || v->n == 0)
        return snn_pr_fail(r, v->line, "sweep.axes", key, "expected a non-empty list of values, got %s",
                           v->type == TOML_ARRAY ? "an empty list" : toml_type_name(v->type));
    if (strlen(key) >= sizeof sw->axes[0].key) return snn_pr_fail(r, v->line, "sweep.axes", key, "key too long");
    for (int a = 0; a < sw->n_axes; a++)
        if (!strcmp(sw->axes[a].key, key))
            return snn_pr_fail(r, v->line, "sweep.axes", key, "given twice (also on line %d)", sw->axes[a].line);
    axis *ax = &sw->axes[sw->n_axes++];
    snprintf(ax->key, sizeof ax->key, "%s", key);
    ax->values = v;
    ax->line = v->line;
    return SNN_OK;
}

/* [sweep.axes]: "a.b.c" = [...] (a quoted dotted key) or a.b.c = [...] (nested tables): both name
 * the parameter a.b.c */
static int walk_axes(sweep *sw, snn_pr *r, const toml_value *t, const char *prefix) {
    for (size_t k = 0; k < t->nkeys; k++) {
        char key[512];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", t->keys[k]);
        const toml_value *v = t->vals[k];
        int rc = v->type == TOML_TABLE ? walk_axes(sw, r, v, key) : add_axis(sw, r, key, v);
        if (rc) return rc;
    }
    return SNN_OK;
}

static int load_sweep_file(sweep *sw, const char *path, snn_error *err) {
    char real[PATH_MAX];
    if (!path || !*path) return snn_fail(err, SNN_EINPUT, "no sweep file given");
    if (!realpath(path, real)) return snn_fail(err, SNN_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (snn_is_dir(real)) return snn_fail(err, SNN_EINPUT, "%s: is a folder, not a sweep file", path);
    snprintf(sw->file, sizeof sw->file, "%s", real);
    snprintf(sw->dir, sizeof sw->dir, "%s", real);
    *strrchr(sw->dir, '/') = '\0';
    if (!sw->dir[0]) strcpy(sw->dir, "/");
    sw->root = toml_parse_file(path, err);
    if (!sw->root) return SNN_EINPUT;
    snn_pr r = {.file = path, .err = err};
    const toml_value *root = sw->root;
    static const char *const keys[] = {"stage", "script", "parameters_file", "output_dir", "description",
                                       "log_file", "data", "wandb", "sweep"};
    int rc = snn_pr_check_keys(&r, root, "", keys, ARRLEN(keys));
    if (rc) return rc;

    /* the stage (`script` is accepted as another name for it) */
    int has_stage = 0, has_script = 0;
    char script[32];
    if ((rc = snn_pr_str(&r, root, "", "stage", 0, sw->stage_name, sizeof sw->stage_name, &has_stage))) return rc;
    if ((rc = snn_pr_str(&r, root, "", "script", 0, script, sizeof script, &has_script))) return rc;
    if (has_stage && has_script)
        return snn_pr_fail(&r, toml_get(root, "script")->line, "", "script", "give either stage or script, not both");
    if (has_script) snprintf(sw->stage_name, sizeof sw->stage_name, "%s", script);
    if (!has_stage && !has_script) return snn_pr_fail(&r, 1, "", "stage", "is missing (the stage each point runs)");
    int found = 0;
    const char *names[ARRLEN(k_stages)];
    for (int i = 0; i < ARRLEN(k_stages); i++) {
        names[i] = k_stages[i].name;
        if (!strcmp(sw->stage_name, k_stages[i].name)) sw->stage = k_stages[i].stage, found = 1;
    }
    if (!found) {
        const char *near = snn_pr_closest(sw->stage_name, names, ARRLEN(k_stages));
        return snn_pr_fail(&r, toml_get(root, has_stage ? "stage" : "script")->line, "", has_stage ? "stage" : "script",
                           "unknown stage '%s' (%s%s%s)", sw->stage_name, near ? "did you mean '" : "one of connectome, homeostatic, teacher, train, simulate",
                           near ? near : "", near ? "'?" : "");
    }

    /* paths, as `snnfit run` resolves them: against the sweep file's folder, lexically */
    char given[SNN_PATH_MAX];
    if ((rc = snn_pr_str(&r, root, "", "parameters_file", 1, given, sizeof given, NULL))) return rc;
    if (!given[0] || snn_stage_lexical_path(sw->dir, given, sw->params, sizeof sw->params))
        return snn_pr_fail(&r, toml_get(root, "parameters_file")->line, "", "parameters_file", "empty or too long");
    char ignored[SNN_PATH_MAX];
    if ((rc = snn_pr_str(&r, root, "", "output_dir", 0, ignored, sizeof ignored, NULL))) return rc;
    if ((rc = snn_pr_str(&r, root, "", "description", 0, sw->description, sizeof sw->description, NULL))) return rc;
    if ((rc = snn_pr_str(&r, root, "", "log_file", 0, given, sizeof given, &sw->has_log))) return rc;
    if (sw->has_log && (!given[0] || snn_stage_lexical_path(sw->dir, given, sw->log, sizeof sw->log)))
        return snn_pr_fail(&r, toml_get(root, "log_file")->line, "", "log_file", "empty or too long");

    /* inputs: checked here (they must exist); `snnfit run` checks the rest for each point */
    const toml_value *data;
    if ((rc = snn_pr_table(&r, root, "", "data", 0, &data))) return rc;
    if (data) {
        static const char *const dkeys[] = {"inputs"};
        if ((rc = snn_pr_check_keys(&r, data, "data", dkeys, 1))) return rc;
        toml_value *list = toml_get(data, "inputs");
        if (list) {
            list->used = 1;
            if (list->type != TOML_ARRAY || list->n > MAX_INPUTS)
                return snn_pr_fail(&r, list->line, "data", "inputs",
                                   "expected a list of at most %d tables ([[data.inputs]] with path and strategy)",
                                   MAX_INPUTS);
            for (size_t k = 0; k < list->n; k++) {
                const toml_value *e = list->items[k];
                char tpath[64], strategy[32];
                snprintf(tpath, sizeof tpath, "data.inputs[%zu]", k);
                if (e->type != TOML_TABLE)
                    return snn_pr_fail(&r, e->line, "data", "inputs", "entry %zu: expected a table with path and strategy", k);
                static const char *const ikeys[] = {"path", "strategy"};
                if ((rc = snn_pr_check_keys(&r, e, tpath, ikeys, 2))) return rc;
                sweep_input *in = &sw->inputs[sw->n_inputs++];
                if ((rc = snn_pr_str(&r, e, tpath, "path", 1, given, sizeof given, NULL))) return rc;
                if ((rc = snn_pr_str(&r, e, tpath, "strategy", 1, strategy, sizeof strategy, NULL))) return rc;
                if (strcmp(strategy, "symlink") && strcmp(strategy, "copy"))
                    return snn_pr_fail(&r, toml_get(e, "strategy")->line, tpath, "strategy",
                                       "expected \"symlink\" or \"copy\", got \"%s\"", strategy);
                in->copy = !strcmp(strategy, "copy");
                if (!given[0] || snn_stage_lexical_path(sw->dir, given, in->src, sizeof in->src))
                    return snn_pr_fail(&r, toml_get(e, "path")->line, tpath, "path", "empty or too long");
                if (!snn_path_exists(in->src))
                    return snn_pr_fail(&r, toml_get(e, "path")->line, tpath, "path", "%s: no such file or folder",
                                       in->src);
            }
        }
    }
    const toml_value *wandb;
    if ((rc = snn_pr_table(&r, root, "", "wandb", 0, &wandb))) return rc;
    sw->wandb = wandb;

    /* [sweep] */
    const toml_value *st;
    if ((rc = snn_pr_table(&r, root, "", "sweep", 1, &st))) return rc;
    static const char *const skeys[] = {"combine", "axes", "heatmap"};
    if ((rc = snn_pr_check_keys(&r, st, "sweep", skeys, ARRLEN(skeys)))) return rc;
    char combine[32] = "product";
    if ((rc = snn_pr_str(&r, st, "sweep", "combine", 0, combine, sizeof combine, NULL))) return rc;
    if (strcmp(combine, "product") && strcmp(combine, "zip"))
        return snn_pr_fail(&r, toml_get(st, "combine")->line, "sweep", "combine",
                           "expected \"product\" or \"zip\", got \"%s\"", combine);
    sw->zip = !strcmp(combine, "zip");
    if ((rc = snn_pr_str(&r, st, "sweep", "heatmap", 0, sw->heatmap, sizeof sw->heatmap, NULL))) return rc;
    const toml_value *axes;
    if ((rc = snn_pr_table(&r, st, "sweep", "axes", 1, &axes))) return rc;
    ((toml_value *)axes)->used = 1;
    if ((rc = walk_axes(sw, &r, axes, ""))) return rc;
    if (sw->n_axes == 0) return snn_pr_fail(&r, axes->line, "sweep", "axes", "no axes: give at least one key = [values]");

    /* every axis key is a parameter of the stage */
    key_list schema = {0};
    snn_params_schema_keys(sw->stage, collect_key, &schema);
    for (int a = 0; a < sw->n_axes && !rc; a++) {
        int ok = 0;
        for (int i = 0; i < schema.n && !ok; i++) ok = key_matches(sw->axes[a].key, schema.keys[i]);
        if (!ok) {
            const char *near = snn_pr_closest(sw->axes[a].key, (const char *const *)schema.keys, schema.n);
            rc = snn_pr_fail(&r, sw->axes[a].line, "sweep.axes", sw->axes[a].key,
                             "not a parameter of stage '%s'%s%s%s (docs/parameters.md lists them)", sw->stage_name,
                             near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        }
    }
    for (int i = 0; i < schema.n; i++) free(schema.keys[i]);
    free(schema.keys);
    if (rc) return rc;

    /* labels in point names: the last part of the key, unless two axes share it */
    for (int a = 0; a < sw->n_axes; a++) {
        const char *dot = strrchr(sw->axes[a].key, '.');
        snprintf(sw->axes[a].label, sizeof sw->axes[a].label, "%s", dot ? dot + 1 : sw->axes[a].key);
    }
    for (int a = 0; a < sw->n_axes; a++)
        for (int b = 0; b < sw->n_axes; b++)
            if (a != b && !strcmp(strrchr(sw->axes[a].key, '.') ? strrchr(sw->axes[a].key, '.') + 1 : sw->axes[a].key,
                                  strrchr(sw->axes[b].key, '.') ? strrchr(sw->axes[b].key, '.') + 1 : sw->axes[b].key))
                memcpy(sw->axes[a].label, sw->axes[a].key, strlen(sw->axes[a].key) + 1); /* both 256 bytes */

    /* the points */
    if (sw->zip) {
        for (int a = 1; a < sw->n_axes; a++)
            if (sw->axes[a].values->n != sw->axes[0].values->n)
                return snn_pr_fail(&r, sw->axes[a].line, "sweep.axes", sw->axes[a].key,
                                   "has %zu values but '%s' has %zu: zip needs lists of one length", sw->axes[a].values->n,
                                   sw->axes[0].key, sw->axes[0].values->n);
        sw->n_points = (int)sw->axes[0].values->n;
    } else {
        double total = 1;
        for (int a = 0; a < sw->n_axes; a++) total *= (double)sw->axes[a].values->n;
        if (total > MAX_POINTS)
            return snn_pr_fail(&r, axes->line, "sweep", "axes", "%.0f points: at most %d are supported", total, MAX_POINTS);
        sw->n_points = (int)total;
    }
    if (sw->n_points > MAX_POINTS)
        return snn_pr_fail(&r, axes->line, "sweep", "axes", "%d points: at most %d are supported", sw->n_points, MAX_POINTS);
    sw->points = calloc((size_t)sw->n_points, sizeof *sw->points);
    if (!sw->points) return snn_fail(err, SNN_ERUN, "out of memory");
    for (int i = 0; i < sw->n_points; i++) {
        int rest = i;
        for (int a = sw->n_axes - 1; a >= 0; a--) {
            int n = (int)sw->axes[a].values->n;
            sw->points[i].idx[a] = sw->zip ? i : rest % n;
            if (!sw->zip) rest /= n;
        }
    }
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* point names and parameter files */

/* A value in a point name: numbers and booleans as written, strings when made of A-Z a-z 0-9 . + -;
 * anything else (other characters, lists, tables, long values) is cut to what is safe and gets
 * "~" and 8 hex digits of the hash of its exact text, so that different values never share a name. */
static void value_label(const toml_value *v, char *out, size_t n) {
    char *text = v->type == TOML_STRING ? strdup(v->str) : toml_write_value(v);
    if (!text) {
        snprintf(out, n, "value");
        return;
    }
    int lossy = v->type == TOML_ARRAY || v->type == TOML_TABLE || strlen(text) > 40 || !text[0];
    size_t k = 0;
    for (const char *c = text; *c && k + 1 < n && k < 40; c++) {
        int ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                 *c == '+' || *c == '-';
        if (!ok) lossy = 1;
        if (ok) out[k++] = *c;
        else if (k && out[k - 1] != '-') out[k++] = '-';
    }
    while (k && out[k - 1] == '-' && lossy) k--;
    out[k] = '\0';
    if (lossy) {
        char *exact = toml_write_value(v), hex[65];
        snn_sha256_hex(exact ? exact : text, strlen(exact ? exact : text), hex);
        free(exact);
        size_t len = strlen(out);
        snprintf(out + len, n - len, "~%.8s", hex);
    }
    free(text);
}

static int make_names(sweep *sw, snn_error *err) {
    for (int i = 0; i < sw->n_points; i++) {
        point *pt = &sw->points[i];
        char name[4096] = "";
        size_t used = 0;
        for (int a = 0; a < sw->n_axes; a++) {
            char v[128];
            value_label(sw->axes[a].values->items[pt->idx[a]], v, sizeof v);
            used += (size_t)snprintf(name + used, sizeof name - used, "%s%s=%s", a ? "_" : "", sw->axes[a].label, v);
            if (used >= sizeof name) used = sizeof name - 1;
        }
        for (char *c = name; *c; c++)
            if (*c == '/') *c = '-'; /* a key never holds one; a label could in a quoted key */
        if (strlen(name) > NAME_MAX_LEN) {
            char hex[65];
            snn_sha256_hex(name, strlen(name), hex);
            snprintf(pt->name, sizeof pt->name, "%.*s~%.8s", NAME_MAX_LEN - 10, name, hex);
        } else {
            snprintf(pt->name, sizeof pt->name, "%.*s", NAME_MAX_LEN, name);
        }
    }
    for (int i = 0; i < sw->n_points; i++)
        for (int j = i + 1; j < sw->n_points; j++)
            if (!strcmp(sw->points[i].name, sw->points[j].name))
                return snn_fail(err, SNN_EINPUT,
                                "%s: points %d and %d are the same point '%s' (a value is repeated in an axis)",
                                sw->file, i, j, sw->points[i].name);
    return SNN_OK;
}

/* "key = value, key = value" of a point */
static void point_values(const sweep *sw, const point *pt, char *out, size_t n) {
    size_t used = 0;
    out[0] = '\0';
    for (int a = 0; a < sw->n_axes && used < n; a++) {
        char *v = toml_write_value(sw->axes[a].values->items[pt->idx[a]]);
        used += (size_t)snprintf(out + used, n - used, "%s%s = %s", a ? ", " : "", sw->axes[a].key, v ? v : "?");
        free(v);
    }
}

static int make_params(sweep *sw, snn_error *err) {
    snn_error perr = {0};
    sw->base = toml_parse_file(sw->params, &perr);
    if (!sw->base)
        return snn_fail(err, SNN_EINPUT, "%s: parameters_file: %s", sw->file, perr.msg);
    sw->p = calloc(1, sizeof *sw->p);
    if (!sw->p) return snn_fail(err, SNN_ERUN, "out of memory");
    for (int i = sw->n_points - 1; i >= 0; i--) { /* backwards: sw->p ends as point 0's */
        point *pt = &sw->points[i];
        toml_override ov[MAX_AXES];
        for (int a = 0; a < sw->n_axes; a++) ov[a] = (toml_override){sw->axes[a].key, sw->axes[a].values->items[pt->idx[a]]};
        char *body = toml_write(sw->base, NULL, ov, sw->n_axes, &perr);
        if (!body) return snn_fail(err, SNN_EINPUT, "%s: point %s: %s", sw->file, pt->name, perr.msg);
        char values[2048];
        point_values(sw, pt, values, sizeof values);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f) {
            free(body);
            return snn_fail(err, SNN_ERUN, "out of memory");
        }
        fprintf(f, "# Written by `snnfit sweep %s`: point %s, the parameters of\n# %s\n# with %s\n\n", sw->file, pt->name,
                sw->params, values);
        fputs(body, f);
        free(body);
        if (fclose(f) != 0) return snn_fail(err, SNN_ERUN, "out of memory");
        pt->params_text = text;
        snn_sha256_hex(text, strlen(text), pt->params_sha);
        char label[3000];
        snprintf(label, sizeof label, "%.1000s (point %.300s: %.1000s)", sw->params, pt->name, values);
        memset(sw->p, 0, sizeof *sw->p);
        if (snn_params_load_string(text, label, sw->stage, sw->p, &perr))
            return snn_fail(err, SNN_EINPUT, "%s: %s", sw->file, perr.msg);
    }
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* summary columns */

static int add_col(sweep *sw, int *cap, const char *fmt, const char *a, const char *b, const char *c) {
    if (sw->n_out == *cap) {
        int nc = *cap ? 2 * *cap : 32;
        char (*cols)[COL_LEN] = realloc(sw->out_cols, (size_t)nc * sizeof *cols);
        if (!cols) return -1;
        sw->out_cols = cols, *cap = nc;
    }
    snprintf(sw->out_cols[sw->n_out++], COL_LEN, fmt, a, b, c);
    return 0;
}

/* The outcome columns of the stage, named from point 0's cell types. */
static int make_columns(sweep *sw, snn_error *err) {
    const snn_params *p = sw->p;
    int cap = 0, bad = 0;
    if (sw->stage == SNN_STAGE_CONNECTOME) {
        for (int t = 0; t < p->rec.n_types; t++) {
            const char *tn = p->rec.type_names[t];
            bad |= add_col(sw, &cap, "rate_hz/%s%s%s", tn, "", "");
            bad |= add_col(sw, &cap, "rate_std_hz/%s%s%s", tn, "", "");
            bad |= add_col(sw, &cap, "silent/%s%s%s", tn, "", "");
            bad |= add_col(sw, &cap, "cv/%s%s%s", tn, "", "");
        }
        for (int a = 0; a < p->rec.n_types; a++)
            for (int b = 0; b < p->rec.n_types; b++)
                bad |= add_col(sw, &cap, "density/recurrent/%s_to_%s%s", p->rec.type_names[a], p->rec.type_names[b], "");
        for (int a = 0; a < p->ff.n_types; a++)
            for (int b = 0; b < p->rec.n_types; b++)
                bad |= add_col(sw, &cap, "density/feedforward/%s_to_%s%s", p->ff.type_names[a], p->rec.type_names[b], "");
        if (!sw->heatmap[0] && p->rec.n_types) snprintf(sw->heatmap, sizeof sw->heatmap, "rate_hz/%s", p->rec.type_names[0]);
    } else if (sw->stage == SNN_STAGE_HOMEOSTATIC) {
        bad |= add_col(sw, &cap, "total_loss%s%s%s", "", "", "");
        bad |= add_col(sw, &cap, "rate_error%s%s%s", "", "", "");
        for (int t = 0; t < p->rec.n_types; t++) {
            const char *tn = p->rec.type_names[t];
            bad |= add_col(sw, &cap, "rate_hz/%s%s%s", tn, "", "");
            bad |= add_col(sw, &cap, "rate_target_hz/%s%s%s", tn, "", "");
            bad |= add_col(sw, &cap, "cv/%s%s%s", tn, "", "");
        }
        if (!sw->heatmap[0]) snprintf(sw->heatmap, sizeof sw->heatmap, "rate_error");
    } else if (sw->stage == SNN_STAGE_TRAIN) {
        bad |= add_col(sw, &cap, "final_loss%s%s%s", "", "", "");
        bad |= add_col(sw, &cap, "factor_error%s%s%s", "", "", "");
        bad |= add_col(sw, &cap, "closed_loop_r%s%s%s", "", "", "");
        for (int a = 0; a < p->rec.n_types; a++)
            for (int b = 0; b < p->rec.n_types; b++)
                bad |= add_col(sw, &cap, "factor_error/recurrent/%s_to_%s%s", p->rec.type_names[a], p->rec.type_names[b], "");
        for (int a = 0; a < p->ff.n_types; a++)
            for (int b = 0; b < p->rec.n_types; b++)
                bad |= add_col(sw, &cap, "factor_error/feedforward/%s_to_%s%s", p->ff.type_names[a], p->rec.type_names[b], "");
        if (!sw->heatmap[0]) snprintf(sw->heatmap, sizeof sw->heatmap, "factor_error");
    } else if (!sw->heatmap[0]) {
        snprintf(sw->heatmap, sizeof sw->heatmap, "duration_seconds");
    }
    if (bad) return snn_fail(err, SNN_ERUN, "out of memory");
    if (!strcmp(sw->heatmap, "duration_seconds") || !strcmp(sw->heatmap, "exit_status")) return SNN_OK;
    for (int c = 0; c < sw->n_out; c++)
        if (!strcmp(sw->out_cols[c], sw->heatmap)) return SNN_OK;
    char list[2048] = "duration_seconds, exit_status";
    size_t used = strlen(list);
    for (int c = 0; c < sw->n_out && used < sizeof list; c++)
        used += (size_t)snprintf(list + used, sizeof list - used, ", %s", sw->out_cols[c]);
    const toml_value *st = toml_get(sw->root, "sweep");
    return snn_fail(err, SNN_EINPUT, "%s:%d: [sweep] heatmap: '%s' is not a column of the summary of stage '%s' (%s)",
                    sw->file, toml_get(st, "heatmap")->line, sw->heatmap, sw->stage_name, list);
}

/* ---------------------------------------------------------------------------------------------- */
/* a point's files and its run */

static void point_path(char *out, size_t n, const char *root, const char *sub, const char *name, const char *file) {
    snprintf(out, n, "%s/%s/%s%s%s", root, sub, name, file ? "/" : "", file ? file : "");
}

/* The point's experiment file: the sweep file's experiment part with absolute paths. */
static char *experiment_text(const sweep *sw, const point *pt, const char *out, snn_error *err) {
    char *buf = NULL, path[SNN_PATH_MAX * 2], values[2048];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snn_fail(err, SNN_ERUN, "out of memory");
        return NULL;
    }
    point_values(sw, pt, values, sizeof values);
    fprintf(f, "# Written by `snnfit sweep %s`: point %s\n", sw->file, pt->name);
    fprintf(f, "stage = ");
    toml_fput_string(f, sw->stage_name);
    point_path(path, sizeof path, out, "configs", pt->name, "parameters.toml");
    fprintf(f, "\nparameters_file = ");
    toml_fput_string(f, path);
    point_path(path, sizeof path, out, "points", pt->name, NULL);
    fprintf(f, "\noutput_dir = ");
    toml_fput_string(f, path);
    char desc[sizeof sw->description + 4096];
    snprintf(desc, sizeof desc, "%s%ssweep point %s (%s)", sw->description, sw->description[0] ? "; " : "", pt->name,
             values);
    fprintf(f, "\ndescription = ");
    toml_fput_string(f, desc);
    fputc('\n', f);
    if (sw->has_log) {
        fprintf(f, "log_file = ");
        toml_fput_string(f, sw->log);
        fputc('\n', f);
    }
    for (int i = 0; i < sw->n_inputs; i++) {
        fprintf(f, "\n[[data.inputs]]\npath = ");
        toml_fput_string(f, sw->inputs[i].src);
        fprintf(f, "\nstrategy = \"%s\"\n", sw->inputs[i].copy ? "copy" : "symlink");
    }
    if (sw->wandb) {
        char *w = toml_write(sw->wandb, "wandb", NULL, 0, err);
        if (!w) {
            fclose(f);
            free(buf);
            return NULL;
        }
        fputs(w, f);
        free(w);
    }
    if (fclose(f) != 0) {
        free(buf);
        snn_fail(err, SNN_ERUN, "out of memory");
        return NULL;
    }
    return buf;
}

static json_t *read_metadata(const char *out, const char *name) {
    char path[SNN_PATH_MAX * 2];
    point_path(path, sizeof path, out, "points", name, "metadata.json");
    return json_load_file(path, 0, NULL);
}

static const char *jstr(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Skipped: completed before, with the same parameter bytes. */
static int point_done(const char *out, const point *pt) {
    json_t *m = read_metadata(out, pt->name);
    int done = m && !strcmp(jstr(m, "status"), "completed") && !strcmp(jstr(m, "parameters_sha256"), pt->params_sha);
    json_decref(m);
    return done;
}

/* The last line of a file that says something (the error of a failed run), into out. */
static void last_line(const char *path, char *out, size_t n) {
    out[0] = '\0';
    char *text = NULL;
    size_t len = 0;
    if (snn_read_file(path, &text, &len, NULL)) return;
    char *end = text + len;
    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) end--;
    *end = '\0';
    char *start = strrchr(text, '\n');
    snprintf(out, n, "%s", start ? start + 1 : text);
    free(text);
}

typedef struct job {
    pid_t pid;
    int point;
    double t0;
} job;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int start_point(const sweep *sw, int i, const char *out, const char *exe, char **envp, const snn_stage_opts *o,
                       pid_t *pid, snn_error *err) {
    const point *pt = &sw->points[i];
    char dir[SNN_PATH_MAX * 2], path[SNN_PATH_MAX * 2], exp[SNN_PATH_MAX * 2], log[SNN_PATH_MAX * 2];
    point_path(dir, sizeof dir, out, "configs", pt->name, NULL);
    int rc = snn_mkdirs(dir, err);
    point_path(path, sizeof path, out, "configs", pt->name, "parameters.toml");
    if (!rc) rc = snn_write_file_atomic(path, pt->params_text, strlen(pt->params_text), err);
    char *text = rc ? NULL : experiment_text(sw, pt, out, err);
    if (!rc && !text) rc = SNN_ERUN;
    point_path(exp, sizeof exp, out, "configs", pt->name, "experiment.toml");
    if (!rc) rc = snn_write_file_atomic(exp, text, strlen(text), err);
    free(text);
    if (rc) return rc;
    point_path(log, sizeof log, out, "logs", pt->name, NULL);
    strcat(log, ".log");
    point_path(path, sizeof path, out, "points", pt->name, NULL);
    int exists = snn_path_exists(path);
    if (exists) {
        /* the old outcome must not stand for this run's if this run cannot record its own */
        point_path(path, sizeof path, out, "points", pt->name, "metadata.json");
        unlink(path);
    }
    char *argv[8];
    int argc = 0;
    argv[argc++] = (char *)exe;
    argv[argc++] = "run";
    argv[argc++] = exp;
    argv[argc++] = "--quiet";
    if (exists) argv[argc++] = "--overwrite"; /* failed, interrupted or changed: run it again */
    if (o->no_wandb) argv[argc++] = "--no-wandb";
    argv[argc] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int e = posix_spawn(pid, exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (e) return snn_fail(err, SNN_ERUN, "cannot start %s for point %s: %s", exe, pt->name, strerror(e));
    return SNN_OK;
}

/* After the process of a point ended: the point's status; a run that could not record its own
 * outcome (killed, or refused before writing anything) is recorded here. */
static int finish_point(const sweep *sw, int i, const char *out, int wstatus, double secs, char *msg, size_t n) {
    const point *pt = &sw->points[i];
    int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + (WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0);
    char log[SNN_PATH_MAX * 2], line[1024];
    point_path(log, sizeof log, out, "logs", pt->name, NULL);
    strcat(log, ".log");
    json_t *m = read_metadata(out, pt->name);
    const char *status = m ? jstr(m, "status") : "";
    if (m && strcmp(status, "running")) {
        if (!strcmp(status, "interrupted"))
            snprintf(msg, n, "interrupted: the run stopped early with a checkpoint (a sweep run again starts it anew)");
        else
            snprintf(msg, n, "%s", !strcmp(status, "failed") ? jstr(m, "error") : status);
        int ok = !strcmp(status, "completed");
        json_decref(m);
        return ok ? 0 : code ? code : 1;
    }
    last_line(log, line, sizeof line);
    if (WIFSIGNALED(wstatus))
        snprintf(msg, n, "the run was killed by signal %d after %.1f s (its console: logs/%s.log)", WTERMSIG(wstatus), secs,
                 pt->name);
    else
        snprintf(msg, n, "%s", line[0] ? line : "the run ended without recording its outcome");
    if (!m) m = json_object();
    json_object_set_new(m, "status", json_string("failed"));
    json_object_set_new(m, "exit_status", json_integer(code ? code : 1));
    json_object_set_new(m, "error", json_string(msg));
    json_object_set_new(m, "parameters_sha256", json_string(pt->params_sha));
    if (!json_object_get(m, "duration_seconds")) json_object_set_new(m, "duration_seconds", json_real(round(secs * 1e3) / 1e3));
    char dir[SNN_PATH_MAX * 2], path[SNN_PATH_MAX * 2];
    point_path(dir, sizeof dir, out, "points", pt->name, NULL);
    point_path(path, sizeof path, out, "points", pt->name, "metadata.json");
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text && !snn_mkdirs(dir, NULL)) snn_write_file_atomic(path, text, strlen(text), NULL);
    free(text);
    json_decref(m);
    return code ? code : 1;
}

/* Threads per job: max(1, C / jobs), C = OMP_NUM_THREADS if set, else the CPUs this process may use. */
static int threads_per_job(int jobs) {
    int total = 0;
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && *env) total = atoi(env);
    if (total < 1) {
        cpu_set_t set;
        total = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    }
    int t = total / (jobs > 0 ? jobs : 1);
    return t < 1 ? 1 : t;
}

/* The environment of a point's process: OMP_NUM_THREADS set, and SNNFIT_MPI=0 so that a run started
 * by an MPI rank is a job of its own, not a member of the rank's job. */
static char **job_environment(int threads) {
    int n = 0;
    while (environ[n]) n++;
    char **env = calloc((size_t)n + 3, sizeof *env);
    if (!env) return NULL;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (strncmp(environ[i], "OMP_NUM_THREADS=", 16) && strncmp(environ[i], "SNNFIT_MPI=", 11)) env[k++] = environ[i];
    static char omp[64];
    snprintf(omp, sizeof omp, "OMP_NUM_THREADS=%d", threads);
    env[k++] = omp;
    env[k++] = "SNNFIT_MPI=0";
    env[k] = NULL;
    return env;
}

/* Runs this process's points, --jobs at a time. *n_failed gets the failures. */
static int run_points(const sweep *sw, const int *mine, int n_mine, const char *out, const snn_stage_opts *o,
                      int *n_failed, snn_error *err) {
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return snn_fail(err, SNN_ERUN, "cannot find the snnfit executable (/proc/self/exe): %s", strerror(errno));
    exe[len] = '\0';
    int jobs = o->jobs > 0 ? o->jobs : 1, threads = threads_per_job(jobs);
    char **envp = job_environment(threads);
    job *running = calloc((size_t)jobs, sizeof *running);
    if (!envp || !running) {
        free(envp);
        free(running);
        return snn_fail(err, SNN_ERUN, "out of memory");
    }
    printf("Running %d point%s, %d at a time, %d thread%s each\n", n_mine, n_mine == 1 ? "" : "s", jobs, threads,
           threads == 1 ? "" : "s");
    fflush(stdout);
    int next = 0, active = 0, done = 0, rc = SNN_OK;
    *n_failed = 0;
    while ((next < n_mine && !rc) || active > 0) {
        while (next < n_mine && active < jobs && !rc) {
            int i = mine[next++];
            pid_t pid;
            rc = start_point(sw, i, out, exe, envp, o, &pid, err);
            if (rc) break;
            for (int s = 0; s < jobs; s++)
                if (running[s].pid == 0) {
                    running[s] = (job){pid, i, now_s()};
                    break;
                }
            active++;
        }
        if (active == 0) break;
        int wstatus = 0;
        pid_t pid = waitpid(-1, &wstatus, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            rc = snn_fail(err, SNN_ERUN, "waiting for the points' processes: %s", strerror(errno));
            break;
        }
        for (int s = 0; s < jobs; s++) {
            if (running[s].pid != pid) continue;
            int i = running[s].point;
            double secs = now_s() - running[s].t0;
            char msg[1024];
            int code = finish_point(sw, i, out, wstatus, secs, msg, sizeof msg);
            done++;
            if (code) {
                (*n_failed)++;
                printf("[%d/%d] %s: FAILED (exit status %d) after %.1f s: %s\n", done, n_mine, sw->points[i].name, code,
                       secs, msg);
            } else {
                printf("[%d/%d] %s: completed in %.1f s\n", done, n_mine, sw->points[i].name, secs);
            }
            fflush(stdout);
            running[s].pid = 0;
            active--;
        }
    }
    free(envp);
    free(running);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- */
/* the summary */

typedef struct csv {
    int n_cols, n_rows;
    char **head;
    char ***rows;
    char *text;
} csv;

static void csv_free(csv *c) {
    for (int r = 0; r < c->n_rows; r++) free(c->rows[r]);
    free(c->rows);
    free(c->head);
    free(c->text);
    memset(c, 0, sizeof *c);
}

/* Splits a line on commas in place (the files read here hold no quoted fields). */
static char **split(char *line, int *n) {
    int cap = 16, k = 0;
    char **f = malloc((size_t)cap * sizeof *f);
    if (!f) return NULL;
    for (char *s = line;;) {
        if (k == cap) {
            char **g = realloc(f, (size_t)(cap *= 2) * sizeof *g);
            if (!g) {
                free(f);
                return NULL;
            }
            f = g;
        }
        f[k++] = s;
        char *c = strchr(s, ',');
        if (!c) break;
        *c = '\0';
        s = c + 1;
    }
    *n = k;
    return f;
}

static int csv_read(const char *path, csv *c) {
    memset(c, 0, sizeof *c);
    size_t len;
    if (snn_read_file(path, &c->text, &len, NULL)) return -1;
    char *save = NULL;
    for (char *line = strtok_r(c->text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        int n = 0;
        char **f = split(line, &n);
        if (!f) break;
        if (!c->head) {
            c->head = f, c->n_cols = n;
            continue;
        }
        char ***rows = realloc(c->rows, (size_t)(c->n_rows + 1) * sizeof *rows);
        if (!rows) {
            free(f);
            break;
        }
        c->rows = rows;
        /* short rows are padded so that every column can be asked for */
        if (n < c->n_cols) {
            char **g = realloc(f, (size_t)c->n_cols * sizeof *g);
            if (!g) {
                free(f);
                break;
            }
            f = g;
            for (int k = n; k < c->n_cols; k++) f[k] = "";
        }
        c->rows[c->n_rows++] = f;
    }
    return c->head ? 0 : -1;
}

static int csv_col(const csv *c, const char *name) {
    for (int k = 0; k < c->n_cols; k++)
        if (!strcmp(c->head[k], name)) return k;
    return -1;
}

/* Sets the cell of column `name` (value text) in the row being built. */
static void set_cell(const sweep *sw, char **cells, const char *name, const char *value) {
    for (int c = 0; c < sw->n_out; c++)
        if (!strcmp(sw->out_cols[c], name)) {
            free(cells[c]);
            cells[c] = strdup(value);
        }
}

static void set_num(const sweep *sw, char **cells, const char *name, double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.6g", v);
    if (isfinite(v)) set_cell(sw, cells, name, buf);
}

/* The outcome of a point from its own files (what is missing stays empty). */
static void point_outcome(const sweep *sw, const char *run, char **cells) {
    char path[SNN_PATH_MAX * 2];
    csv c;
    if (sw->stage == SNN_STAGE_CONNECTOME) {
        snprintf(path, sizeof path, "%s/activity_statistics.csv", run);
        if (!csv_read(path, &c)) {
            int name = csv_col(&c, "cell_type_name"), rate = csv_col(&c, "mean_firing_rate_hz"),
                sd = csv_col(&c, "std_firing_rate_hz"), silent = csv_col(&c, "n_silent_cells"), cv = csv_col(&c, "mean_cv");
            for (int r = 0; name >= 0 && r < c.n_rows; r++) {
                char col[COL_LEN];
                const char *tn = c.rows[r][name];
                if (rate >= 0) snprintf(col, sizeof col, "rate_hz/%s", tn), set_cell(sw, cells, col, c.rows[r][rate]);
                if (sd >= 0) snprintf(col, sizeof col, "rate_std_hz/%s", tn), set_cell(sw, cells, col, c.rows[r][sd]);
                if (silent >= 0) snprintf(col, sizeof col, "silent/%s", tn), set_cell(sw, cells, col, c.rows[r][silent]);
                if (cv >= 0) snprintf(col, sizeof col, "cv/%s", tn), set_cell(sw, cells, col, c.rows[r][cv]);
            }
            csv_free(&c);
        }
        snprintf(path, sizeof path, "%s/network_statistics.csv", run);
        if (!csv_read(path, &c)) {
            int layer = csv_col(&c, "layer"), src = csv_col(&c, "source_type"), tgt = csv_col(&c, "target_type"),
                dens = csv_col(&c, "density");
            for (int r = 0; layer >= 0 && src >= 0 && tgt >= 0 && dens >= 0 && r < c.n_rows; r++) {
                char col[COL_LEN];
                snprintf(col, sizeof col, "density/%s/%s_to_%s", c.rows[r][layer], c.rows[r][src], c.rows[r][tgt]);
                set_cell(sw, cells, col, c.rows[r][dens]);
            }
            csv_free(&c);
        }
        return;
    }
    if (sw->stage != SNN_STAGE_HOMEOSTATIC && sw->stage != SNN_STAGE_TRAIN) return;
    snprintf(path, sizeof path, "%s/training_metrics.csv", run);
    if (!csv_read(path, &c)) {
        if (c.n_rows > 0) {
            char **last = c.rows[c.n_rows - 1];
            int tl = csv_col(&c, "total_loss");
            if (sw->stage == SNN_STAGE_HOMEOSTATIC) {
                /* rates against the targets of the point's own parameter file */
                snn_params *p = calloc(1, sizeof *p);
                char ppath[SNN_PATH_MAX * 2];
                snprintf(ppath, sizeof ppath, "%s/parameters.toml", run);
                int have_p = p && !snn_params_load(ppath, SNN_STAGE_HOMEOSTATIC, p, NULL);
                if (tl >= 0) set_cell(sw, cells, "total_loss", last[tl]);
                double err_sum = 0;
                int err_n = 0;
                for (int t = 0; have_p && t < p->rec.n_types; t++) {
                    char col[COL_LEN];
                    const char *tn = p->rec.type_names[t];
                    snprintf(col, sizeof col, "firing_rate/mean/%s", tn);
                    int k = csv_col(&c, col);
                    snprintf(col, sizeof col, "rate_target_hz/%s", tn);
                    set_num(sw, cells, col, p->train.target_rate[t]);
                    if (k >= 0 && last[k][0]) {
                        snprintf(col, sizeof col, "rate_hz/%s", tn);
                        set_cell(sw, cells, col, last[k]);
                        double rate = strtod(last[k], NULL), target = p->train.target_rate[t];
                        if (target > 0) err_sum += fabs(rate - target) / target, err_n++;
                    }
                    snprintf(col, sizeof col, "cv/mean/%s", tn);
                    k = csv_col(&c, col);
                    snprintf(col, sizeof col, "cv/%s", tn);
                    if (k >= 0) set_cell(sw, cells, col, last[k]);
                }
                if (err_n) set_num(sw, cells, "rate_error", err_sum / err_n);
                free(p);
            } else {
                if (tl >= 0) set_cell(sw, cells, "final_loss", last[tl]);
                /* factor errors: |log(SF / target)| for every pair with both columns */
                double sum = 0;
                int n = 0;
                for (int k = 0; k < c.n_cols; k++) {
                    const char *h = c.head[k];
                    size_t hl = strlen(h);
                    if (strncmp(h, "scaling_factors/", 16) || hl < 6 || strcmp(h + hl - 6, "/value")) continue;
                    char tcol[COL_LEN], pair[COL_LEN], col[COL_LEN + 16];
                    snprintf(tcol, sizeof tcol, "%.*s/target", (int)(hl - 6), h);
                    snprintf(pair, sizeof pair, "%.*s", (int)(hl - 6 - 16), h + 16);
                    int kt = csv_col(&c, tcol);
                    if (kt < 0 || !last[k][0] || !last[kt][0]) continue;
                    double v = strtod(last[k], NULL), t = strtod(last[kt], NULL);
                    if (!(v > 0) || !(t > 0)) continue;
                    double e = fabs(log(v / t));
                    snprintf(col, sizeof col, "factor_error/%s", pair);
                    set_num(sw, cells, col, e);
                    sum += e, n++;
                }
                if (n) set_num(sw, cells, "factor_error", sum / n);
            }
        }
        csv_free(&c);
    }
    if (sw->stage == SNN_STAGE_TRAIN) {
        /* the closed-loop r over all types from the fit report (null there when it was undefined) */
        snprintf(path, sizeof path, "%s/final_state/fit_report.json", run);
        json_t *rep = json_load_file(path, 0, NULL);
        json_t *r = json_object_get(json_object_get(rep, "closed_loop"), "pearson_r_all_types");
        if (json_is_number(r)) set_num(sw, cells, "closed_loop_r", json_number_value(r));
        json_decref(rep);
    }
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void put_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *c = s; *c; c++) {
        if (*c == '"') fputc('"', f);
        fputc(*c == '\n' || *c == '\r' ? ' ' : *c, f);
    }
    fputc('"', f);
}

/* The axis value as a summary cell: strings as they are, anything else as TOML. */
static char *axis_cell(const toml_value *v) { return v->type == TOML_STRING ? strdup(v->str) : toml_write_value(v); }

static int draw_heatmap(const sweep *sw, double *vals, const char *png, snn_error *err);

/* Writes OUT/summary.csv (and the heatmap) from every point's files. *n_failed_all: points failed. */
static int write_summary(const sweep *sw, const char *out, int *n_failed_all, snn_error *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return snn_fail(err, SNN_ERUN, "out of memory");
    int hm = -2; /* the heatmap column: -1 duration, -3 exit status, >= 0 an outcome column */
    if (!strcmp(sw->heatmap, "duration_seconds")) hm = -1;
    else if (!strcmp(sw->heatmap, "exit_status")) hm = -3;
    for (int c = 0; c < sw->n_out; c++)
        if (!strcmp(sw->out_cols[c], sw->heatmap)) hm = c;
    double *hv = calloc((size_t)sw->n_points, sizeof *hv);
    char **cells = calloc((size_t)sw->n_out + 1, sizeof *cells);
    if (!hv || !cells) {
        fclose(f);
        free(buf);
        free(hv);
        free(cells);
        return snn_fail(err, SNN_ERUN, "out of memory");
    }
    fputs("point", f);
    for (int a = 0; a < sw->n_axes; a++) fputc(',', f), put_field(f, sw->axes[a].key);
    fputs(",status,exit_status,duration_seconds", f);
    for (int c = 0; c < sw->n_out; c++) fputc(',', f), put_field(f, sw->out_cols[c]);
    fputs(",error\n", f);
    *n_failed_all = 0;
    for (int i = 0; i < sw->n_points; i++) {
        const point *pt = &sw->points[i];
        char run[SNN_PATH_MAX * 2];
        point_path(run, sizeof run, out, "points", pt->name, NULL);
        json_t *m = read_metadata(out, pt->name);
        const char *status = m ? jstr(m, "status") : "pending";
        /* a run recorded for other parameters is not this point's (yet) */
        if (m && strcmp(jstr(m, "parameters_sha256"), pt->params_sha)) status = "pending";
        int current = m && strcmp(status, "pending");
        *n_failed_all += !strcmp(status, "failed");
        put_field(f, pt->name);
        for (int a = 0; a < sw->n_axes; a++) {
            char *v = axis_cell(sw->axes[a].values->items[pt->idx[a]]);
            fputc(',', f);
            put_field(f, v ? v : "");
            free(v);
        }
        fprintf(f, ",%s,", status);
        json_t *es = json_object_get(m, "exit_status"), *ds = json_object_get(m, "duration_seconds");
        if (current && json_is_integer(es)) fprintf(f, "%lld", (long long)json_integer_value(es));
        fputc(',', f);
        if (current && json_is_number(ds)) fprintf(f, "%.6g", json_number_value(ds));
        for (int c = 0; c < sw->n_out; c++) cells[c] = NULL;
        if (current) point_outcome(sw, run, cells);
        for (int c = 0; c < sw->n_out; c++) {
            fputc(',', f);
            put_field(f, cells[c] ? cells[c] : "");
        }
        fputc(',', f);
        put_field(f, current ? jstr(m, "error") : "");
        fputc('\n', f);
        hv[i] = NAN;
        if (hm >= 0 && cells[hm] && cells[hm][0]) hv[i] = strtod(cells[hm], NULL);
        else if (hm == -1 && current && json_is_number(ds)) hv[i] = json_number_value(ds);
        else if (hm == -3 && current && json_is_integer(es)) hv[i] = (double)json_integer_value(es);
        for (int c = 0; c < sw->n_out; c++) free(cells[c]);
        json_decref(m);
    }
    free(cells);
    int rc = SNN_OK;
    if (fclose(f) != 0) rc = snn_fail(err, SNN_ERUN, "out of memory");
    char path[SNN_PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/summary.csv", out);
    if (!rc) rc = snn_write_file_atomic(path, buf, len, err);
    free(buf);
    if (!rc) printf("Summary: %s\n", path);
    if (!rc && sw->n_axes == 2 && !sw->zip) {
        snprintf(path, sizeof path, "%s/summary_heatmap.png", out);
        rc = draw_heatmap(sw, hv, path, err);
        if (!rc) printf("Heatmap of %s: %s\n", sw->heatmap, path);
    }
    free(hv);
    return rc;
}

static int draw_heatmap(const sweep *sw, double *vals, const char *png, snn_error *err) {
    const int rows = (int)sw->axes[0].values->n, cols = (int)sw->axes[1].values->n;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < rows * cols; i++)
        if (isfinite(vals[i])) lo = fmin(lo, vals[i]), hi = fmax(hi, vals[i]);
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-12 * fmax(1, fabs(hi))) lo -= 0.5, hi += 0.5;
    char **labels = calloc((size_t)(cols + rows), sizeof *labels);
    double *pos = malloc(sizeof(double) * (size_t)(cols + rows));
    if (!labels || !pos) {
        free(labels);
        free(pos);
        return snn_fail(err, SNN_ERUN, "out of memory drawing the heatmap");
    }
    size_t ylen = 1, xlen = 1;
    for (int c = 0; c < cols; c++) {
        pos[c] = c, labels[c] = axis_cell(sw->axes[1].values->items[c]);
        if (labels[c] && strlen(labels[c]) > xlen) xlen = strlen(labels[c]);
    }
    for (int r = 0; r < rows; r++) {
        pos[cols + r] = rows - 1 - r, labels[cols + r] = axis_cell(sw->axes[0].values->items[r]);
        if (labels[cols + r] && strlen(labels[cols + r]) > ylen) ylen = strlen(labels[cols + r]);
    }
    /* pixel layout: cells of 100 x 60, room for the tick labels, the axis names and the colour bar */
    const double font = 16;
    const int rotate = cols > 6 || xlen > 8;
    const int pw = 100 * (cols < 20 ? cols : 20) > 240 ? 100 * (cols < 20 ? cols : 20) : 240;
    const int ph = 60 * (rows < 20 ? rows : 20) > 180 ? 60 * (rows < 20 ? rows : 20) : 180;
    const int left = 70 + (int)(0.6 * font * (double)(ylen < 24 ? ylen : 24));
    const int bottom = 70 + (rotate ? (int)(0.45 * font * (double)(xlen < 24 ? xlen : 24)) : 0);
    const int right = 130, top = 60;
    int W = left + pw + right, H = bottom + ph + top;
    const int title_px = (int)(0.75 * font * 1.2 * (double)strlen(sw->heatmap)) + 40;
    if (W < title_px) W = title_px;
    snn_fig *f = snn_fig_begin(W, H, font, err);
    if (!f) {
        for (int i = 0; i < cols + rows; i++) free(labels[i]);
        free(labels);
        free(pos);
        return err && err->code ? err->code : SNN_ERUN;
    }
    double x0 = (double)left / W, x1 = (double)(left + pw) / W, y0 = (double)bottom / H, y1 = (double)(bottom + ph) / H;
    snn_fig_panel(f, x0, x1, y0, y1, -0.5, cols - 0.5, -0.5, rows - 0.5, 0);
    snn_fig_heatmap(f, rows, cols, vals, lo, hi, SNN_CMAP_VIRIDIS);
    snn_fig_box(f);
    snn_fig_xticks(f, cols, pos, (const char *const *)labels, rotate ? 45 : 0, NULL, 0);
    snn_fig_yticks(f, rows, pos + cols, (const char *const *)(labels + cols), NULL, 0);
    /* the value in every cell, when they are few enough to read; a blank cell has no value */
    if (rows * cols <= 144)
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                double v = vals[r * cols + c], u = (v - lo) / (hi - lo);
                char t[32];
                if (!isfinite(v)) continue;
                snprintf(t, sizeof t, "%.3g", v);
                snn_fig_datatext(f, c, rows - 1 - r, t, 0.9, u < 0.6 ? SNN_WHITE : SNN_BLACK, SNN_CENTER | SNN_MIDDLE, 0);
            }
    for (int i = 0; i < cols + rows; i++) free(labels[i]);
    free(labels);
    free(pos);
    snn_fig_xlabel_offset(f, sw->axes[1].key, rotate ? 0.45 * (double)(xlen < 24 ? xlen : 24) : 0);
    snn_fig_ylabel_at(f, sw->axes[0].key, 0.6 * font * (double)(ylen < 24 ? ylen : 24) + 20);
    snn_fig_figtext(f, 0.5, 1 - 15.0 / H, sw->heatmap, 1.2, 1, SNN_CENTER | SNN_TOP);
    snn_fig_colorbar(f, x1 + 20.0 / W, x1 + 40.0 / W, y0, y1, SNN_CMAP_VIRIDIS, lo, hi, 0, NULL, NULL, "");
    int rc = snn_fig_save(f, png, err);
    snn_fig_end(f);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- */

/* This process's share of the points: slot `slot` of `n_slots` (MPI ranks x Slurm array tasks). */
static int share(int *slot, int *n_slots, int *array_task, snn_error *err) {
    int task = 0, n_tasks = 1;
    const char *id = getenv("SLURM_ARRAY_TASK_ID");
    *array_task = id != NULL;
    if (id) {
        const char *cnt = getenv("SLURM_ARRAY_TASK_COUNT"), *mn = getenv("SLURM_ARRAY_TASK_MIN"),
                   *mx = getenv("SLURM_ARRAY_TASK_MAX"), *stp = getenv("SLURM_ARRAY_TASK_STEP");
        long i = atol(id), lo = mn ? atol(mn) : 0, step = stp && atol(stp) > 0 ? atol(stp) : 1;
        long count = cnt ? atol(cnt) : mx ? (atol(mx) - lo) / step + 1 : 0;
        if (count < 1 || i < lo || (i - lo) / step >= count)
            return snn_fail(err, SNN_EINPUT,
                            "SLURM_ARRAY_TASK_ID=%s but the array's range is unknown (SLURM_ARRAY_TASK_COUNT or "
                            "SLURM_ARRAY_TASK_MAX, with SLURM_ARRAY_TASK_MIN) or does not contain it", id);
        task = (int)((i - lo) / step), n_tasks = (int)count;
    }
    *slot = task * snn_par_size() + snn_par_rank();
    *n_slots = n_tasks * snn_par_size();
    return SNN_OK;
}

/* a folder that holds only dot files (temporary files of other tasks) counts as empty */
static int only_dot_files(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 1;
    int empty = 1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.') empty = 0;
    closedir(d);
    return empty;
}

static void sweep_free(sweep *sw) {
    for (int i = 0; sw->points && i < sw->n_points; i++) free(sw->points[i].params_text);
    free(sw->points);
    free(sw->out_cols);
    free(sw->p);
    toml_free(sw->base);
    toml_free(sw->root);
    free(sw);
}

int snn_stage_sweep(const snn_stage_opts *o, snn_error *err) {
    sweep *sw = calloc(1, sizeof *sw);
    if (!sw) return snn_par_sync(snn_fail(err, SNN_ERUN, "out of memory"), err);
    int *mine = NULL, slot = 0, n_slots = 1, array_task = 0, n_mine = 0, n_failed = 0;
    char out[SNN_PATH_MAX];
    /* Phase 1, every rank: everything is checked before anything is written */
    int rc = SNN_OK;
    if (o->overwrite)
        rc = snn_fail(err, SNN_EINPUT,
                      "sweep takes no --overwrite: running a sweep again skips its completed points and runs the rest "
                      "(remove %s to start from nothing)", o->output);
    if (!rc && o->input)
        rc = snn_fail(err, SNN_EINPUT, "sweep takes no -i: the points' inputs are the sweep file's [[data.inputs]]");
    if (!rc && (!o->output || !*o->output)) rc = snn_fail(err, SNN_EINPUT, "no output folder given (-o OUT)");
    if (!rc) {
        char cwd[SNN_PATH_MAX];
        if (o->output[0] == '/') snprintf(cwd, sizeof cwd, "/");
        else if (!getcwd(cwd, sizeof cwd)) rc = snn_fail(err, SNN_ERUN, "cannot read the current folder: %s", strerror(errno));
        if (!rc && snn_stage_lexical_path(cwd, o->output, out, sizeof out))
            rc = snn_fail(err, SNN_EINPUT, "%s: path too long", o->output);
    }
    if (!rc) rc = load_sweep_file(sw, o->params_path, err);
    if (!rc) rc = make_names(sw, err);
    if (!rc) rc = make_params(sw, err);
    if (!rc) rc = make_columns(sw, err);
    if (!rc) rc = share(&slot, &n_slots, &array_task, err);
    if (!rc && snn_path_exists(out) && !snn_is_dir(out))
        rc = snn_fail(err, SNN_EINPUT, "%s: exists and is not a folder", out);
    if (!rc && snn_is_dir(out) && !only_dot_files(out)) {
        char marker[SNN_PATH_MAX + 16];
        snprintf(marker, sizeof marker, "%s/sweep.toml", out);
        if (!snn_path_exists(marker))
            rc = snn_fail(err, SNN_EINPUT,
                          "%s: the folder exists, is not empty and holds no sweep (no sweep.toml): choose another -o",
                          out);
    }
    rc = snn_par_sync(rc, err);
    if (rc) goto done;

    printf("Sweep: %s\nStage: %s, parameters %s\nOutput: %s\n%d point%s (%s of", sw->file, sw->stage_name, sw->params,
           out, sw->n_points, sw->n_points == 1 ? "" : "s", sw->zip ? "zip" : "product");
    for (int a = 0; a < sw->n_axes; a++)
        printf("%s %s (%zu)", a ? "," : "", sw->axes[a].key, sw->axes[a].values->n);
    printf(")\n");
    if (n_slots > 1)
        printf("Shared by %d processes (%d MPI rank%s x %d array task%s); this is slot %d\n", n_slots, snn_par_size(),
               snn_par_size() == 1 ? "" : "s", n_slots / snn_par_size(), n_slots / snn_par_size() == 1 ? "" : "s", slot);

    /* Phase 2: the folders and the copy of the sweep file (rank 0, or every array task: the same bytes) */
    if (snn_par_rank() == 0) {
        /* sweep.toml first: a folder with anything else in it is a sweep's for the other array tasks */
        char path[SNN_PATH_MAX + 32];
        rc = snn_mkdirs(out, err);
        snprintf(path, sizeof path, "%s/sweep.toml", out);
        if (!rc) rc = snn_copy_file(sw->file, path, err);
        const char *subs[] = {"/points", "/configs", "/logs"};
        for (int s = 0; s < 3 && !rc; s++) {
            snprintf(path, sizeof path, "%s%s", out, subs[s]);
            rc = snn_mkdirs(path, err);
        }
    }
    rc = snn_par_sync(rc, err);
    if (rc) goto done;

    /* Phase 3: this process's points */
    mine = calloc((size_t)sw->n_points + 1, sizeof *mine);
    if (!mine) rc = snn_fail(err, SNN_ERUN, "out of memory");
    int n_skipped = 0;
    for (int i = slot; !rc && i < sw->n_points; i += n_slots) {
        if (point_done(out, &sw->points[i])) n_skipped++;
        else mine[n_mine++] = i;
    }
    if (!rc && n_skipped)
        printf("Skipping %d point%s completed before (same parameters)\n", n_skipped, n_skipped == 1 ? "" : "s");
    if (!rc && n_mine) rc = run_points(sw, mine, n_mine, out, o, &n_failed, err);
    /* every rank's points are done before rank 0 writes the summary */
    rc = snn_par_sync(rc, err);
    if (rc) goto done;
    int n_failed_all = 0;
    if (snn_par_rank() == 0) {
        /* array tasks write one after the other, each from every point's files as they stand */
        char lock[SNN_PATH_MAX + 32];
        snprintf(lock, sizeof lock, "%s/.summary.lock", out);
        int fd = array_task ? open(lock, O_RDWR | O_CREAT, 0666) : -1;
        if (fd >= 0) flock(fd, LOCK_EX);
        rc = write_summary(sw, out, &n_failed_all, err);
        if (fd >= 0) close(fd);
    }
    if (!rc && n_failed)
        rc = snn_fail(err, SNN_ERUN, "%d of %d point%s run here failed: see %s/summary.csv and %s/logs/", n_failed, n_mine,
                      n_mine == 1 ? "" : "s", out, out);
    if (!rc && !n_failed) printf("✓ %d point%s run here, %d skipped%s\n", n_mine, n_mine == 1 ? "" : "s", n_skipped,
                                 n_failed_all ? " (failed points of other processes are in the summary)" : "");
done:
    free(mine);
    sweep_free(sw);
    return rc;
}
