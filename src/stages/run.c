/* snnfit run EXPERIMENT.toml [--overwrite]: a tracked run of one stage.
 *
 * The experiment file names the stage (or, as the reference's experiment files do, the reference's
 * script for it: scripts/fitting_activity/train_student.py is stage train), its parameter file, the
 * output folder, the input files or folders (linked or copied into OUT/inputs/), an optional central
 * log and a [wandb] table. The
 * runner checks all of it and hashes the parameters and every input file before the output folder
 * is touched (bad input: status 2, nothing written), then creates OUT, copies the parameters
 * (OUT/parameters.toml) and the experiment file (OUT/experiment.toml, verbatim), links or copies the
 * inputs, writes metadata.json with status "running", runs the stage in this process with
 * -i OUT/inputs (when there are inputs) and -o OUT, and rewrites metadata.json with the outcome. It
 * then writes README.md, log.err on failure, and appends the metadata as one JSON line to log_file.
 * The exit status is the stage's.
 *
 * Decisions (the reference's runner differs; reference/model-and-training.md section 8):
 *  - Relative paths in the experiment file resolve against the folder of the experiment file, not
 *    the current directory or a repository root, so an experiment file means the same wherever it
 *    is run from. A reference experiment file (one with `script`) is the exception: its paths are
 *    relative to the reference's repository root, taken as the nearest folder at or above the
 *    experiment file that holds its parameters_file (else the current folder). Paths are normalised
 *    lexically ("a/../b" is "b") after joining.
 *  - An existing output folder is refused (status 2) unless --overwrite; an empty one is used as is,
 *    as the stages do. There is no interactive prompt (the reference's is bug 25).
 *  - With --overwrite the old folder is removed, but never when it contains the experiment file,
 *    the parameters, an input or the central log (nor when it is "/"): that would destroy the run's
 *    own inputs. An output folder inside an input folder is refused too (a copy would recurse).
 *  - The stage receives the ORIGINAL parameter file (its messages then name the file the user
 *    edits), as the reference does; the hash recorded is of those bytes, and OUT/parameters.toml is
 *    a copy of them.
 *  - Input hashes are of the sources as given, taken before the stage runs; a folder is walked in
 *    byte order of its names, following symbolic links, and each regular file is listed with its
 *    path under OUT/ ("inputs/<name>/<path in the folder>"), its size and SHA-256.
 *  - [wandb] is recorded in metadata.json. When it has `enabled`, it is the training stages' W&B
 *    setting for this run, in place of their parameter file's [wandb], as in the reference (they read
 *    it from OUT/experiment.toml, so `snnfit resume OUT` keeps it); `enabled = false` turns uploading
 *    off (as --no-wandb).
 *  - log_file is optional (no central log without it); when given it must lie outside the output
 *    folder (it is shared by many runs).
 *  - A training stage that returns without a final state (it was interrupted, saved a checkpoint and
 *    exited 0) is recorded as status "interrupted", exit status 0; `snnfit resume OUT` continues it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/sha256.h"
#include "config/params_read.h"
#include "config/toml.h"
#include "stages/stage.h"

#define ARRLEN(a) ((int)(sizeof(a) / sizeof *(a)))
#define MAX_INPUTS 64
#define MAX_DEPTH 32

typedef struct stage_entry {
    const char *name;
    int (*fn)(const snn_stage_opts *o, snn_error *err);
    const char *results; /* README: where this stage puts its results */
    int trains;          /* writes final_state/ when it finishes */
} stage_entry;

static const stage_entry k_stages[] = {
    {"connectome", snn_stage_connectome,
     "`network_structure.npz` (the connectome: the input of stage 2, 3 or `simulate`), "
     "`network_statistics.csv`, `figures/` (connectivity and activity dashboards)",
     0},
    {"homeostatic", snn_stage_homeostatic,
     "`final_state/network_structure.npz` (the trained network with effective weights: the input of "
     "stage 3), `initial_state/`, `checkpoints/`, `training_metrics.csv`, `tensorboard/`, `figures/`",
     1},
    {"teacher", snn_stage_teacher,
     "`results/spike_data.zarr` (the teacher activity: with `inputs/network_structure.npz`, the input "
     "of stage 4), `figures/` (dashboards)",
     0},
    {"train", snn_stage_train,
     "`final_state/` (the trained student), `initial_state/`, `checkpoints/`, `training_metrics.csv`, "
     "`tensorboard/`, `figures/`",
     1},
    {"simulate", snn_stage_simulate, "`simulation.npz` (spikes and tracked traces)", 0},
};

/* The reference's experiment files name a script instead of a stage. Its four stage scripts map to the
 * stages; its other scripts have no stage of their own, and the message says what to run instead. */
static const struct {
    const char *folder, *file, *stage;
} k_scripts[] = {
    {"network_inference", "generate_connectome.py", "connectome"},
    {"homeostatic_plasticity", "backprop_hp.py", "homeostatic"},
    {"fitting_activity", "generate_teacher_activity.py", "teacher"},
    {"fitting_activity", "train_student.py", "train"},
};
static const struct {
    const char *file, *instead;
} k_other_scripts[] = {
    {"load_connectome.py", "it reloads a stage-1 network; give that network to the next stage with [[data.inputs]]"},
    {"feedback_hp.py", "it is a placeholder in the reference; use scripts/homeostatic_plasticity/backprop_hp.py"},
    {"make_best_state.py", "stage 2 writes final_state/ from its best checkpoint itself"},
    {"resume_training.py", "continue a run with `snnfit resume OUT`"},
    {"resume_backprop_hp.py", "continue a run with `snnfit resume OUT`"},
    {"plot_trained_network_vs_target.py", "run `snnfit compare EXP OUT TEACHER.toml`"},
    {"plot_odourants.py", "run `snnfit odourants EXP`"},
    {"train_single_neuron.py", "snnfit has no single-neuron training"},
    {"simulate_Dp.py", "it is the reference template's example, which does not exist; use `snnfit simulate`"},
};

typedef struct run_input {
    char given[SNN_PATH_MAX]; /* as written in the experiment file */
    char src[SNN_PATH_MAX];   /* absolute, normalised */
    char name[256];           /* its basename: OUT/inputs/<name> */
    int copy;                 /* strategy: copy (1) or symlink (0) */
    int is_dir;
    json_t *files;            /* [{path, bytes, sha256}], sorted by path */
    char sha256[65];          /* the file's, or the folder's manifest hash (input_hash) */
} run_input;

typedef struct experiment {
    char file[SNN_PATH_MAX]; /* absolute path of the experiment file */
    char dir[SNN_PATH_MAX];  /* its folder */
    char base[SNN_PATH_MAX]; /* the base of relative paths: dir, or the reference's repository root */
    const stage_entry *stage;
    char script[SNN_PATH_MAX]; /* the reference's `script`, when the file names one instead of `stage` */
    char params_given[SNN_PATH_MAX], params[SNN_PATH_MAX];
    char out_given[SNN_PATH_MAX], out[SNN_PATH_MAX];
    int has_log;
    char log_given[SNN_PATH_MAX], log[SNN_PATH_MAX];
    char description[4096];
    int n_inputs;
    run_input inputs[MAX_INPUTS];
    json_t *wandb;     /* the [wandb] table, or NULL */
    int wandb_off;     /* [wandb] enabled = false */
} experiment;

/* ---------------------------------------------------------------------------------------------- */
/* TOML to JSON, for the [wandb] table recorded in metadata.json */

static json_t *toml_to_json(const toml_value *v) {
    switch (v->type) {
    case TOML_TABLE: {
        json_t *o = json_object();
        for (size_t k = 0; k < v->nkeys; k++) json_object_set_new(o, v->keys[k], toml_to_json(v->vals[k]));
        return o;
    }
    case TOML_ARRAY: {
        json_t *a = json_array();
        for (size_t k = 0; k < v->n; k++) json_array_append_new(a, toml_to_json(v->items[k]));
        return a;
    }
    case TOML_STRING: {
        json_t *s = json_string(v->str); /* NULL for invalid UTF-8 */
        return s ? s : json_null();
    }
    case TOML_INT: return json_integer((json_int_t)v->i);
    case TOML_FLOAT: {
        json_t *f = json_real(v->f); /* NULL for NaN and infinities, which JSON cannot hold */
        return f ? f : json_null();
    }
    case TOML_BOOL: return json_boolean(v->b);
    }
    return json_null();
}

/* ---------------------------------------------------------------------------------------------- */
/* the experiment file */

/* The stage of a reference script path ("scripts/fitting_activity/train_student.py", an absolute path
 * ending so, or the file name alone), into stage; else an error naming the line. */
static int script_stage(const snn_pr *r, int line, const char *script, char *stage, size_t n) {
    const char *file = strrchr(script, '/') ? strrchr(script, '/') + 1 : script;
    char folder[SNN_PATH_MAX] = "";
    if (file != script) {
        size_t len = (size_t)(file - 1 - script);
        const char *start = script;
        for (const char *q = script; q < file - 1; q++)
            if (*q == '/') start = q + 1;
        len = (size_t)(file - 1 - start);
        snprintf(folder, sizeof folder, "%.*s", (int)len, start);
    }
    for (int i = 0; i < ARRLEN(k_scripts); i++)
        if (!strcmp(file, k_scripts[i].file) && (!folder[0] || !strcmp(folder, k_scripts[i].folder))) {
            snprintf(stage, n, "%s", k_scripts[i].stage);
            return SNN_OK;
        }
    for (int i = 0; i < ARRLEN(k_other_scripts); i++)
        if (!strcmp(file, k_other_scripts[i].file))
            return snn_pr_fail(r, line, "", "script", "'%s' has no snnfit stage: %s", script,
                               k_other_scripts[i].instead);
    return snn_pr_fail(r, line, "", "script",
                       "unknown script '%s': the reference's stage scripts are "
                       "scripts/network_inference/generate_connectome.py (stage connectome), "
                       "scripts/homeostatic_plasticity/backprop_hp.py (homeostatic), "
                       "scripts/fitting_activity/generate_teacher_activity.py (teacher) and "
                       "scripts/fitting_activity/train_student.py (train); or give stage = \"...\"",
                       script);
}

/* The reference's repository root for an experiment file in folder dir: the nearest folder at or above
 * dir that holds parameters_file (a relative path), as the reference's files live in workspace/ or
 * parameters/ and name "parameters/..."; else the current folder (where the reference's runner is
 * started). */
static void reference_root(const char *dir, const char *params, char *out, size_t n) {
    char cur[SNN_PATH_MAX];
    snprintf(cur, sizeof cur, "%s", dir);
    if (params[0] && params[0] != '/') {
        for (;;) {
            char cand[SNN_PATH_MAX * 2];
            snprintf(cand, sizeof cand, "%s/%s", strcmp(cur, "/") ? cur : "", params);
            if (snn_path_exists(cand)) {
                snprintf(out, n, "%s", cur);
                return;
            }
            char *slash = strrchr(cur, '/');
            if (!slash || slash == cur) {
                if (!strcmp(cur, "/")) break;
                strcpy(cur, "/");
                continue;
            }
            *slash = '\0';
        }
    }
    char cwd[SNN_PATH_MAX];
    if (getcwd(cwd, sizeof cwd)) snprintf(out, n, "%s", cwd);
    else snprintf(out, n, "%s", dir);
}

static int load_experiment(const char *path, experiment *ex, snn_error *err) {
    if (path == NULL || !*path) return snn_fail(err, SNN_EINPUT, "no experiment file given");
    char real[PATH_MAX];
    if (!realpath(path, real)) return snn_fail(err, SNN_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (snn_is_dir(real)) return snn_fail(err, SNN_EINPUT, "%s: is a folder, not an experiment file", path);
    snprintf(ex->file, sizeof ex->file, "%s", real);
    snprintf(ex->dir, sizeof ex->dir, "%s", real);
    *strrchr(ex->dir, '/') = '\0';
    if (!ex->dir[0]) strcpy(ex->dir, "/");

    toml_value *root = toml_parse_file(path, err);
    if (!root) return SNN_EINPUT;
    snn_pr r = {.file = path, .err = err};
    int rc;
    static const char *const keys[] = {"stage", "script", "parameters_file", "output_dir", "description",
                                       "log_file", "data", "wandb"};
    if ((rc = snn_pr_check_keys(&r, root, "", keys, ARRLEN(keys)))) goto done;

    char stage[64] = "";
    int has_stage = 0, has_script = 0;
    if ((rc = snn_pr_str(&r, root, "", "stage", 0, stage, sizeof stage, &has_stage))) goto done;
    if ((rc = snn_pr_str(&r, root, "", "script", 0, ex->script, sizeof ex->script, &has_script))) goto done;
    if (has_stage == has_script) {
        rc = has_stage ? snn_pr_fail(&r, toml_get(root, "script")->line, "", "script",
                                     "give either stage or script (the reference's name for it), not both")
                       : snn_pr_fail(&r, 0, "", "stage", "missing required key 'stage' (or the reference's 'script')");
        goto done;
    }
    if (has_script && (rc = script_stage(&r, toml_get(root, "script")->line, ex->script, stage, sizeof stage)))
        goto done;
    const char *names[ARRLEN(k_stages)];
    for (int i = 0; i < ARRLEN(k_stages); i++) {
        names[i] = k_stages[i].name;
        if (!strcmp(stage, k_stages[i].name)) ex->stage = &k_stages[i];
    }
    if (!ex->stage) {
        const char *near = snn_pr_closest(stage, names, ARRLEN(k_stages));
        char hint[128];
        if (near) snprintf(hint, sizeof hint, "did you mean '%s'?", near);
        else snprintf(hint, sizeof hint, "one of connectome, homeostatic, teacher, train, simulate");
        rc = snn_pr_fail(&r, toml_get(root, "stage")->line, "", "stage", "unknown stage '%s' (%s)", stage, hint);
        goto done;
    }

    /* the base of relative paths: the experiment file's folder; for a reference experiment file (one
     * with `script`), the reference's repository root, which its runner resolves them against */
    char base[SNN_PATH_MAX];
    snprintf(base, sizeof base, "%s", ex->dir);
    if (has_script) {
        char given[SNN_PATH_MAX];
        int has_params = 0;
        if ((rc = snn_pr_str(&r, root, "", "parameters_file", 0, given, sizeof given, &has_params))) goto done;
        reference_root(ex->dir, has_params ? given : "", base, sizeof base);
    }
    snprintf(ex->base, sizeof ex->base, "%s", base);
    struct {
        const char *key;
        int required;
        char *given, *resolved;
        int *has;
    } paths[] = {{"parameters_file", 1, ex->params_given, ex->params, NULL},
                 {"output_dir", 1, ex->out_given, ex->out, NULL},
                 {"log_file", 0, ex->log_given, ex->log, &ex->has_log}};
    for (int i = 0; i < ARRLEN(paths); i++) {
        int has = 0;
        if ((rc = snn_pr_str(&r, root, "", paths[i].key, paths[i].required, paths[i].given, SNN_PATH_MAX, &has)))
            goto done;
        if (paths[i].has) *paths[i].has = has;
        if (!has) continue;
        int line = toml_get(root, paths[i].key)->line;
        if (!paths[i].given[0]) {
            rc = snn_pr_fail(&r, line, "", paths[i].key, "is empty");
            goto done;
        }
        if (snn_stage_lexical_path(base, paths[i].given, paths[i].resolved, SNN_PATH_MAX)) {
            rc = snn_pr_fail(&r, line, "", paths[i].key, "path too long");
            goto done;
        }
    }
    if ((rc = snn_pr_str(&r, root, "", "description", 0, ex->description, sizeof ex->description, NULL))) goto done;

    const toml_value *data, *wandb;
    if ((rc = snn_pr_table(&r, root, "", "data", 0, &data))) goto done;
    if (data) {
        static const char *const dkeys[] = {"inputs"};
        if ((rc = snn_pr_check_keys(&r, data, "data", dkeys, 1))) goto done;
        toml_value *list = toml_get(data, "inputs");
        if (list) {
            list->used = 1;
            if (list->type != TOML_ARRAY) {
                rc = snn_pr_fail(&r, list->line, "data", "inputs",
                                 "expected a list of tables ([[data.inputs]] with path and strategy)");
                goto done;
            }
            if (list->n > MAX_INPUTS) {
                rc = snn_pr_fail(&r, list->line, "data", "inputs", "at most %d inputs are supported (got %zu)",
                                 MAX_INPUTS, list->n);
                goto done;
            }
            for (size_t k = 0; k < list->n; k++) {
                const toml_value *e = list->items[k];
                char tpath[64];
                snprintf(tpath, sizeof tpath, "data.inputs[%zu]", k);
                if (e->type != TOML_TABLE) {
                    rc = snn_pr_fail(&r, e->line, "data", "inputs",
                                     "entry %zu: expected a table with path and strategy", k);
                    goto done;
                }
                static const char *const ikeys[] = {"path", "strategy"};
                if ((rc = snn_pr_check_keys(&r, e, tpath, ikeys, 2))) goto done;
                run_input *in = &ex->inputs[ex->n_inputs++];
                char strategy[32];
                if ((rc = snn_pr_str(&r, e, tpath, "path", 1, in->given, sizeof in->given, NULL))) goto done;
                if ((rc = snn_pr_str(&r, e, tpath, "strategy", 1, strategy, sizeof strategy, NULL))) goto done;
                if (strcmp(strategy, "symlink") && strcmp(strategy, "copy")) {
                    rc = snn_pr_fail(&r, toml_get(e, "strategy")->line, tpath, "strategy",
                                     "expected \"symlink\" or \"copy\", got \"%s\"", strategy);
                    goto done;
                }
                in->copy = !strcmp(strategy, "copy");
                int line = toml_get(e, "path")->line;
                if (!in->given[0] || snn_stage_lexical_path(base, in->given, in->src, sizeof in->src)) {
                    rc = snn_pr_fail(&r, line, tpath, "path", "empty or too long");
                    goto done;
                }
                const char *base = strrchr(in->src, '/') + 1;
                if (!*base || strlen(base) >= sizeof in->name) {
                    rc = snn_pr_fail(&r, line, tpath, "path", "'%s' has no usable file name", in->given);
                    goto done;
                }
                snprintf(in->name, sizeof in->name, "%s", base);
                for (int j = 0; j + 1 < ex->n_inputs; j++)
                    if (!strcmp(ex->inputs[j].name, in->name)) {
                        rc = snn_pr_fail(&r, line, tpath, "path",
                                         "'%s' and input %d ('%s') have the same name '%s': both would be "
                                         "inputs/%s",
                                         in->given, j, ex->inputs[j].given, in->name, in->name);
                        goto done;
                    }
                struct stat st;
                if (stat(in->src, &st) != 0) {
                    rc = snn_pr_fail(&r, line, tpath, "path", "%s: %s", in->src, strerror(errno));
                    goto done;
                }
                in->is_dir = S_ISDIR(st.st_mode);
                if (!in->is_dir && !S_ISREG(st.st_mode)) {
                    rc = snn_pr_fail(&r, line, tpath, "path", "%s is neither a file nor a folder", in->src);
                    goto done;
                }
            }
        }
    }
    if ((rc = snn_pr_table(&r, root, "", "wandb", 0, &wandb))) goto done;
    if (wandb) {
        static const char *const wkeys[] = {"enabled", "project", "entity", "tags", "notes"};
        if ((rc = snn_pr_check_keys(&r, wandb, "wandb", wkeys, ARRLEN(wkeys)))) goto done;
        int enabled = 1, has = 0;
        if ((rc = snn_pr_bool(&r, wandb, "wandb", "enabled", 0, &enabled, &has))) goto done;
        ex->wandb_off = has && !enabled;
        ex->wandb = toml_to_json(wandb);
    }

    struct stat st;
    int bad = stat(ex->params, &st) != 0 ? errno : 0;
    if (bad || !S_ISREG(st.st_mode)) {
        rc = snn_pr_fail(&r, toml_get(root, "parameters_file")->line, "", "parameters_file", "%s: %s", ex->params,
                         bad ? strerror(bad) : "not a regular file");
        goto done;
    }
done:
    toml_free(root);
    return rc;
}

/* The output folder must not hold (or be) anything the run reads, nor lie inside an input (the check
 * every command makes, stages/common.c). */
static int check_output(const experiment *ex, const char *path, snn_error *err) {
    if (!strcmp(ex->out, "/")) return snn_fail(err, SNN_EINPUT, "%s: output_dir is the root folder", path);
    snn_stage_input keep[MAX_INPUTS + 3];
    int nk = 0;
    keep[nk++] = (snn_stage_input){"the experiment file", ex->file};
    keep[nk++] = (snn_stage_input){"parameters_file", ex->params};
    if (ex->has_log) keep[nk++] = (snn_stage_input){"log_file (a log shared by many runs)", ex->log};
    for (int i = 0; i < ex->n_inputs; i++) keep[nk++] = (snn_stage_input){"an input", ex->inputs[i].src};
    return snn_stage_check_inputs(path, ex->out, keep, nk, err);
}

/* ---------------------------------------------------------------------------------------------- */
/* walking folders (hashing and copying) */

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static int skip_dot(const struct dirent *e) { return strcmp(e->d_name, ".") && strcmp(e->d_name, ".."); }

/* Appends {path, bytes, sha256} for the file src, or for every file under the folder src, with
 * paths rel(/...). */
static int hash_tree(const char *src, const char *rel, int depth, json_t *files, snn_error *err) {
    struct stat st;
    if (stat(src, &st) != 0) return snn_fail(err, SNN_EINPUT, "%s: %s", src, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        char hex[65];
        int rc = snn_sha256_file(src, hex, err);
        if (rc) return rc;
        json_t *f = json_object();
        json_object_set_new(f, "path", json_string(rel));
        json_object_set_new(f, "bytes", json_integer((json_int_t)st.st_size));
        json_object_set_new(f, "sha256", json_string(hex));
        json_array_append_new(files, f);
        return SNN_OK;
    }
    if (!S_ISDIR(st.st_mode)) return SNN_OK; /* sockets, devices: not data */
    if (depth > MAX_DEPTH)
        return snn_fail(err, SNN_EINPUT, "%s: folders nested deeper than %d (a symbolic-link loop?)", src, MAX_DEPTH);
    struct dirent **list = NULL;
    int n = scandir(src, &list, skip_dot, by_name);
    if (n < 0) return snn_fail(err, SNN_EINPUT, "%s: cannot list: %s", src, strerror(errno));
    int rc = SNN_OK;
    for (int i = 0; i < n; i++) {
        char cs[SNN_PATH_MAX], cr[SNN_PATH_MAX];
        if (!rc) rc = snn_path_join(cs, sizeof cs, src, list[i]->d_name, err);
        if (!rc) rc = snn_path_join(cr, sizeof cr, rel, list[i]->d_name, err);
        if (!rc) rc = hash_tree(cs, cr, depth + 1, files, err);
        free(list[i]);
    }
    free(list);
    return rc;
}

static int copy_tree(const char *src, const char *dst, int depth, snn_error *err) {
    if (!snn_is_dir(src)) return snn_copy_file(src, dst, err);
    if (depth > MAX_DEPTH)
        return snn_fail(err, SNN_EINPUT, "%s: folders nested deeper than %d (a symbolic-link loop?)", src, MAX_DEPTH);
    int rc = snn_mkdirs(dst, err);
    if (rc) return rc;
    struct dirent **list = NULL;
    int n = scandir(src, &list, skip_dot, by_name);
    if (n < 0) return snn_fail(err, SNN_ERUN, "%s: cannot list: %s", src, strerror(errno));
    for (int i = 0; i < n; i++) {
        char cs[SNN_PATH_MAX], cd[SNN_PATH_MAX];
        if (!rc) rc = snn_path_join(cs, sizeof cs, src, list[i]->d_name, err);
        if (!rc) rc = snn_path_join(cd, sizeof cd, dst, list[i]->d_name, err);
        if (!rc) rc = copy_tree(cs, cd, depth + 1, err);
        free(list[i]);
    }
    free(list);
    return rc;
}

static int by_path(const void *a, const void *b) {
    const char *pa = json_string_value(json_object_get(*(json_t *const *)a, "path"));
    const char *pb = json_string_value(json_object_get(*(json_t *const *)b, "path"));
    return strcmp(pa, pb);
}

/* Sorts files by path bytes and returns the input's own hash: the file's for a file; for a folder
 * the SHA-256 of its manifest, the lines "<sha256>  <path in the folder>\n" in that order, which is
 * what `cd DIR && find -L . -type f | cut -c3- | LC_ALL=C sort | xargs sha256sum | sha256sum` gives,
 * so one value identifies the whole folder and can be checked without snnfit. */
static int input_hash(run_input *in, char hex[65], snn_error *err) {
    size_t n = json_array_size(in->files);
    if (!in->is_dir) {
        snprintf(hex, 65, "%s", json_string_value(json_object_get(json_array_get(in->files, 0), "sha256")));
        return SNN_OK;
    }
    json_t **items = malloc((n + 1) * sizeof *items);
    if (!items) return snn_fail(err, SNN_ERUN, "out of memory");
    for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(in->files, i));
    qsort(items, n, sizeof *items, by_path);
    json_array_clear(in->files);
    snn_sha256 c;
    snn_sha256_init(&c);
    char prefix[SNN_PATH_MAX];
    size_t plen = (size_t)snprintf(prefix, sizeof prefix, "inputs/%s/", in->name);
    for (size_t i = 0; i < n; i++) {
        const char *path = json_string_value(json_object_get(items[i], "path"));
        const char *h = json_string_value(json_object_get(items[i], "sha256"));
        snn_sha256_update(&c, h, strlen(h));
        snn_sha256_update(&c, "  ", 2);
        snn_sha256_update(&c, path + plen, strlen(path + plen));
        snn_sha256_update(&c, "\n", 1);
        json_array_append_new(in->files, items[i]);
    }
    free(items);
    uint8_t d[32];
    snn_sha256_final(&c, d);
    snn_sha256_to_hex(d, hex);
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* metadata, README, logs */

static void iso_time(const struct timespec *ts, char *out, size_t n) {
    struct tm tm;
    localtime_r(&ts->tv_sec, &tm);
    char base[32], zone[16];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof zone, "%z", &tm);
    /* +hhmm -> +hh:mm (ISO 8601 extended format, which Python's datetime.fromisoformat reads) */
    snprintf(out, n, "%s.%06ld%.3s:%.2s", base, ts->tv_nsec / 1000, zone, zone + 3);
}

/* The command line, each argument shell-quoted where it needs to be. */
static char *command_line(const snn_stage_opts *o, const char *fallback) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    if (o->argv && o->argc > 0) {
        for (int i = 0; i < o->argc; i++) {
            const char *a = i == 0 ? "snnfit" : o->argv[i];
            int plain = *a != '\0';
            for (const char *c = a; *c && plain; c++)
                plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%", *c) != NULL;
            if (i) fputc(' ', f);
            if (plain) {
                fputs(a, f);
            } else {
                fputc('\'', f);
                for (const char *c = a; *c; c++) {
                    if (*c == '\'') fputs("'\\''", f);
                    else fputc(*c, f);
                }
                fputc('\'', f);
            }
        }
    } else {
        fprintf(f, "snnfit run %s", fallback);
    }
    fclose(f);
    return buf;
}

static int write_json(const char *path, json_t *j, snn_error *err) {
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (!text) return snn_fail(err, SNN_ERUN, "%s: out of memory formatting the metadata", path);
    size_t n = strlen(text);
    char *withnl = malloc(n + 2);
    if (!withnl) {
        free(text);
        return snn_fail(err, SNN_ERUN, "%s: out of memory", path);
    }
    memcpy(withnl, text, n);
    withnl[n] = '\n';
    int rc = snn_write_file_atomic(path, withnl, n + 1, err);
    free(withnl);
    free(text);
    return rc;
}

/* One line appended with a single write(): lines of concurrent runs do not interleave. */
static int append_log(const char *path, json_t *meta, snn_error *err) {
    char dir[SNN_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        int rc = snn_mkdirs(dir, err);
        if (rc) return rc;
    }
    char *text = json_dumps(meta, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (!text) return snn_fail(err, SNN_ERUN, "%s: out of memory formatting the log line", path);
    size_t n = strlen(text);
    text[n] = '\n'; /* over the NUL: the write below has the length */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0666);
    int rc = SNN_OK;
    if (fd < 0) {
        rc = snn_fail(err, SNN_ERUN, "%s: cannot open the log file: %s", path, strerror(errno));
    } else {
        ssize_t w = write(fd, text, n + 1);
        if (w != (ssize_t)(n + 1) || fsync(fd) != 0)
            rc = snn_fail(err, SNN_ERUN, "%s: cannot append to the log file: %s", path, strerror(errno));
        if (close(fd) != 0 && !rc) rc = snn_fail(err, SNN_ERUN, "%s: write failed: %s", path, strerror(errno));
    }
    free(text);
    return rc;
}

static const char *jstr(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static int write_readme(const experiment *ex, json_t *meta, snn_error *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return snn_fail(err, SNN_ERUN, "out of memory writing README.md");
    const char *status = jstr(meta, "status");
    const char *mark = !strcmp(status, "completed") ? "✓" : !strcmp(status, "interrupted") ? "…" : "✗";
    char up[32];
    size_t k = 0;
    for (; status[k] && k + 1 < sizeof up; k++) up[k] = (char)(status[k] >= 'a' && status[k] <= 'z' ? status[k] - 32 : status[k]);
    up[k] = '\0';
    fprintf(f, "# Experiment run - %s %s\n\n", mark, up);
    fprintf(f, "## Description\n\n%s\n\n", ex->description[0] ? ex->description : "(none)");
    fprintf(f, "## Execution\n\n| | |\n|---|---|\n");
    fprintf(f, "| Status | %s |\n| Stage | `%s`", status, ex->stage->name);
    if (ex->script[0]) fprintf(f, " (the reference's `%s`)", ex->script);
    fprintf(f, " |\n| Command | `%s` |\n", jstr(meta, "command"));
    fprintf(f, "| Experiment file | `%s` (copied here as `experiment.toml`) |\n", ex->file);
    fprintf(f, "| snnfit | %s (git commit %s) |\n| Host | %s |\n", jstr(meta, "snnfit_version"),
            jstr(meta, "git_commit"), jstr(meta, "host"));
    fprintf(f, "| Start | %s |\n| End | %s |\n| Duration | %.2f s |\n\n", jstr(meta, "start_time"),
            jstr(meta, "end_time"), json_number_value(json_object_get(meta, "duration_seconds")));
    if (!strcmp(status, "failed")) {
        fprintf(f, "## Error\n\nExit status %lld:\n\n```\n%s\n```\n\nThe message is also in `log.err`.\n\n",
                (long long)json_integer_value(json_object_get(meta, "exit_status")), jstr(meta, "error"));
    } else if (!strcmp(status, "interrupted")) {
        fprintf(f, "## Interrupted\n\nThe stage stopped before its last iteration and saved a checkpoint; "
                   "continue it with `snnfit resume %s`.\n\n", ex->out);
    }
    fprintf(f, "## Parameters\n\n`%s`, SHA-256 `%s`; copied here as `parameters.toml`.\n\n", ex->params,
            jstr(meta, "parameters_sha256"));
    fprintf(f, "## Inputs\n\n");
    if (!ex->n_inputs) fprintf(f, "None.\n\n");
    for (int i = 0; i < ex->n_inputs; i++) {
        const run_input *in = &ex->inputs[i];
        size_t nf = json_array_size(in->files);
        fprintf(f, "- `inputs/%s%s`: %s `%s`; SHA-256 `%s`", in->name, in->is_dir ? "/" : "",
                in->copy ? "a copy of" : "a symbolic link to", in->src, in->sha256);
        /* a teacher store has thousands of chunk files: their hashes are in metadata.json */
        if (in->is_dir)
            fprintf(f, " (of the folder's manifest: %zu file%s, each with its hash in `metadata.json`)", nf,
                    nf == 1 ? "" : "s");
        fprintf(f, "\n");
    }
    if (ex->n_inputs) fprintf(f, "\n");
    fprintf(f, "## Results\n\nIn `%s`: %s.\n\n", ex->out, ex->stage->results);
    fprintf(f, "## Files in this folder\n\n");
    struct dirent **list = NULL;
    int n = scandir(ex->out, &list, skip_dot, by_name);
    for (int i = 0; i < n; i++) {
        char p[SNN_PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", ex->out, list[i]->d_name);
        fprintf(f, "- `%s%s`\n", list[i]->d_name, snn_is_dir(p) ? "/" : "");
        free(list[i]);
    }
    free(list);
    fprintf(f, "- `README.md` (this file), `metadata.json` (everything above, machine-readable)%s\n\n",
            !strcmp(status, "failed") ? ", `log.err`" : "");
    fprintf(f, "## Reproduce\n\nWith snnfit built from git commit %s: `snnfit run %s --overwrite` "
               "(relative paths in it resolve against %s).\n",
            jstr(meta, "git_commit"), ex->file, ex->script[0] ? ex->base : "its own folder");
    if (fclose(f) != 0) {
        free(buf);
        return snn_fail(err, SNN_ERUN, "out of memory writing README.md");
    }
    char path[SNN_PATH_MAX];
    int rc = snn_path_join(path, sizeof path, ex->out, "README.md", err);
    if (!rc) rc = snn_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------------------------------------- */

static double seconds_between(const struct timespec *a, const struct timespec *b) {
    return (double)(b->tv_sec - a->tv_sec) + 1e-9 * (double)(b->tv_nsec - a->tv_nsec);
}

/* OUT/inputs/<name> for every input. */
static int place_inputs(const experiment *ex, const char *idir, snn_error *err) {
    int rc = snn_mkdirs(idir, err);
    for (int i = 0; !rc && i < ex->n_inputs; i++) {
        const run_input *in = &ex->inputs[i];
        char dst[SNN_PATH_MAX];
        if ((rc = snn_path_join(dst, sizeof dst, idir, in->name, err))) break;
        if (in->copy) {
            rc = copy_tree(in->src, dst, 0, err);
        } else if (symlink(in->src, dst) != 0) {
            rc = snn_fail(err, SNN_ERUN, "%s: cannot create a symbolic link to %s: %s", dst, in->src, strerror(errno));
        }
        if (!rc) printf("  ✓ %s: inputs/%s%s\n", in->copy ? "Copied" : "Linked", in->name, in->is_dir ? "/" : "");
    }
    return rc;
}

int snn_stage_run(const snn_stage_opts *o, snn_error *err) {
    const char *path = o->input;
    experiment *ex = calloc(1, sizeof *ex);
    if (!ex) return snn_fail(err, SNN_ERUN, "out of memory");
    json_t *meta = NULL;
    char *cmd = NULL;
    int rc = load_experiment(path, ex, err);
    if (!rc) rc = check_output(ex, path, err);
    if (rc) goto done;

    /* hashes first: an unreadable input is bad input, reported before the output folder is touched */
    char params_hash[65];
    if ((rc = snn_sha256_file(ex->params, params_hash, err))) goto done;
    for (int i = 0; i < ex->n_inputs; i++) {
        char rel[SNN_PATH_MAX];
        ex->inputs[i].files = json_array();
        snprintf(rel, sizeof rel, "inputs/%s", ex->inputs[i].name);
        if ((rc = hash_tree(ex->inputs[i].src, rel, 0, ex->inputs[i].files, err))) goto done;
        if ((rc = input_hash(&ex->inputs[i], ex->inputs[i].sha256, err))) goto done;
    }

    if (snn_path_exists(ex->out)) {
        if (!snn_is_dir(ex->out)) {
            rc = snn_fail(err, SNN_EINPUT, "%s: output_dir %s exists and is not a folder", path, ex->out);
            goto done;
        }
        DIR *d = opendir(ex->out);
        int empty = 1;
        for (struct dirent *e; d && (e = readdir(d)) != NULL;) empty &= !skip_dot(e);
        if (d) closedir(d);
        if (!empty) {
            if (!o->overwrite) {
                rc = snn_fail(err, SNN_EINPUT,
                              "%s: output_dir %s exists and is not empty (use --overwrite to replace it)", path,
                              ex->out);
                goto done;
            }
            /* never remove a folder another run is writing in */
            if ((rc = snn_stage_lock(ex->out, err))) goto done;
            snn_stage_unlock();
            if (snn_remove_tree(ex->out) != 0) {
                rc = snn_fail(err, SNN_ERUN, "%s: cannot remove the old output folder: %s", ex->out, strerror(errno));
                goto done;
            }
        }
    }

    printf("============================================================\nExperiment: %s\n", ex->file);
    printf("Stage: %s", ex->stage->name);
    if (ex->script[0]) printf(" (script %s)", ex->script);
    printf("\nParameters: %s\nOutput: %s\nDescription: %s\n", ex->params, ex->out,
           ex->description[0] ? ex->description : "N/A");
    if (ex->wandb_off) printf("W&B: off for this run ([wandb] enabled = false in the experiment file)\n");
    printf("============================================================\n");

    struct timespec t0_wall, t0;
    clock_gettime(CLOCK_REALTIME, &t0_wall);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char start[64], host[256] = "unknown", cwd[SNN_PATH_MAX] = "";
    iso_time(&t0_wall, start, sizeof start);
    if (gethostname(host, sizeof host) != 0) strcpy(host, "unknown");
    host[sizeof host - 1] = '\0';
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    cmd = command_line(o, path);

    meta = json_object();
    json_object_set_new(meta, "snnfit_version", json_string(SNNFIT_VERSION));
    json_object_set_new(meta, "git_commit", json_string(SNNFIT_GIT_COMMIT));
    json_object_set_new(meta, "command", cmd ? json_string(cmd) : json_null());
    json_object_set_new(meta, "working_directory", json_string(cwd));
    json_object_set_new(meta, "host", json_string(host));
    json_object_set_new(meta, "experiment_file", json_string(ex->file));
    json_object_set_new(meta, "stage", json_string(ex->stage->name));
    if (ex->script[0]) json_object_set_new(meta, "script", json_string(ex->script));
    json_object_set_new(meta, "description", json_string(ex->description));
    json_object_set_new(meta, "parameters_file", json_string(ex->params));
    json_object_set_new(meta, "parameters_sha256", json_string(params_hash));
    json_object_set_new(meta, "output_dir", json_string(ex->out));
    json_object_set_new(meta, "log_file", ex->has_log ? json_string(ex->log) : json_null());
    json_t *inputs = json_array();
    for (int i = 0; i < ex->n_inputs; i++) {
        const run_input *in = &ex->inputs[i];
        json_t *e = json_object();
        char dst[SNN_PATH_MAX];
        snprintf(dst, sizeof dst, "inputs/%s", in->name);
        json_object_set_new(e, "path", json_string(in->given));
        json_object_set_new(e, "source", json_string(in->src));
        json_object_set_new(e, "strategy", json_string(in->copy ? "copy" : "symlink"));
        json_object_set_new(e, "destination", json_string(dst));
        json_object_set_new(e, "kind", json_string(in->is_dir ? "folder" : "file"));
        json_object_set_new(e, "sha256", json_string(in->sha256));
        json_object_set(e, "files", in->files);
        json_array_append_new(inputs, e);
    }
    json_object_set_new(meta, "inputs", inputs);
    json_object_set_new(meta, "wandb", ex->wandb ? json_incref(ex->wandb) : json_null());
    json_object_set_new(meta, "start_time", json_string(start));
    json_object_set_new(meta, "status", json_string("running"));

    /* from here on every failure is the run's: recorded in metadata.json, README.md and log.err */
    char mpath[SNN_PATH_MAX], idir[SNN_PATH_MAX], dst[SNN_PATH_MAX];
    snn_error serr = {0};
    int src = snn_mkdirs(ex->out, &serr);
    if (!src) src = snn_stage_lock(ex->out, &serr);
    if (!src) src = snn_path_join(mpath, sizeof mpath, ex->out, "metadata.json", &serr);
    if (!src) src = snn_path_join(idir, sizeof idir, ex->out, "inputs", &serr);
    if (!src) src = snn_path_join(dst, sizeof dst, ex->out, "parameters.toml", &serr);
    if (!src) src = snn_copy_file(ex->params, dst, &serr);
    if (!src) src = snn_path_join(dst, sizeof dst, ex->out, "experiment.toml", &serr);
    if (!src) src = snn_copy_file(ex->file, dst, &serr);
    if (!src && ex->n_inputs) {
        printf("Setting up input data...\n");
        src = place_inputs(ex, idir, &serr);
    }
    if (!src) src = write_json(mpath, meta, &serr);
    if (!src) {
        printf("✓ Saved initial metadata to %s\nRunning stage '%s'...\n\n", mpath, ex->stage->name);
        fflush(stdout);
        snn_stage_opts so = {0};
        so.params_path = ex->params;
        so.input = ex->n_inputs ? idir : NULL;
        so.output = ex->out;
        so.quiet = o->quiet;
        so.no_wandb = o->no_wandb || ex->wandb_off;
        so.max_memory = o->max_memory;
        so.keep_existing = 1; /* OUT holds inputs/, parameters.toml and metadata.json already */
        src = ex->stage->fn(&so, &serr);
        fflush(stdout);
    }
    if (src && !serr.msg[0]) snn_fail(&serr, src, "the stage failed without a message");

    struct timespec t1_wall, t1;
    clock_gettime(CLOCK_REALTIME, &t1_wall);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char end[64];
    iso_time(&t1_wall, end, sizeof end);
    const char *status = src ? "failed" : "completed";
    if (!src && ex->stage->trains) {
        char fs[SNN_PATH_MAX + 64];
        snprintf(fs, sizeof fs, "%s/final_state/network_structure.npz", ex->out);
        if (!snn_path_exists(fs)) status = "interrupted";
    }
    int exit_status = src == SNN_OK ? 0 : src == SNN_EINPUT ? 2 : 1;
    json_object_set_new(meta, "end_time", json_string(end));
    /* to the microsecond, which is all a wall clock says */
    json_object_set_new(meta, "duration_seconds", json_real(round(seconds_between(&t0, &t1) * 1e6) / 1e6));
    json_object_set_new(meta, "status", json_string(status));
    json_object_set_new(meta, "exit_status", json_integer(exit_status));
    if (src) {
        json_object_set_new(meta, "error", json_string(serr.msg));
        json_object_set_new(meta, "error_file", json_string("log.err"));
    }

    /* the bookkeeping goes on after a failure of its own: each piece that can be written is */
    snn_error berr = {0};
    int brc = SNN_OK;
    if (snn_is_dir(ex->out)) {
        if (src) {
            char lpath[SNN_PATH_MAX], text[sizeof serr.msg + 128];
            int n = snprintf(text, sizeof text, "error: %s\nexit status: %d\n", serr.msg, exit_status);
            if (!snn_path_join(lpath, sizeof lpath, ex->out, "log.err", &berr))
                brc |= snn_write_file_atomic(lpath, text, (size_t)n, &berr);
        }
        brc |= write_json(mpath, meta, &berr);
        brc |= write_readme(ex, meta, &berr);
    }
    if (ex->has_log) brc |= append_log(ex->log, meta, &berr);

    printf("\n============================================================\n");
    if (src) {
        printf("✗ Experiment failed (exit status %d) after %.2f s; error log: %s/log.err\n", exit_status,
               seconds_between(&t0, &t1), ex->out);
    } else if (!strcmp(status, "interrupted")) {
        printf("Experiment interrupted after %.2f s; continue with: snnfit resume %s\n", seconds_between(&t0, &t1),
               ex->out);
    } else {
        printf("✓ Experiment completed in %.2f s: %s\n", seconds_between(&t0, &t1), ex->out);
    }
    if (ex->has_log && !brc) printf("✓ Logged to %s\n", ex->log);
    printf("============================================================\n");
    fflush(stdout);
    if (src) {
        rc = snn_fail(err, src, "%s", serr.msg);
    } else if (brc) {
        rc = snn_fail(err, SNN_ERUN, "%s", berr.msg);
    }
done:
    free(cmd);
    json_decref(meta);
    for (int i = 0; i < ex->n_inputs; i++) json_decref(ex->inputs[i].files);
    json_decref(ex->wandb);
    free(ex);
    return rc;
}
