/* docs/parameters.md documents every key every stage accepts, and nothing else: the key paths come
 * from snn_params_schema_keys, which walks the loaders' own key tables, so a key added to a loader
 * without a line in the reference (or a documented stage that no longer accepts a key) fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "config/params.h"
#include "config/toml.h"
#include "testutil.h"

#define N_STAGES 5
#define MAX_ROWS 512
#define MAX_KEYS 512

typedef struct row {
    char path[160];
    int stages[N_STAGES]; /* listed in the row's stages cell */
    int line;
} row;

typedef struct doc {
    row rows[MAX_ROWS];
    int n;
} doc;

static int stage_index(const char *name) {
    for (int s = 0; s < N_STAGES; s++)
        if (!strcmp(name, snn_stage_name((snn_stage)s))) return s;
    return -1;
}

/* The rows "| `path` | stage, stage | ..." of the tables whose header starts "| key | stages |". */
static void parse_doc(doc *d) {
    char *text = NULL;
    snn_error err = {0};
    assert_int_equal(snn_read_file(tu_src("docs/parameters.md"), &text, NULL, &err), SNN_OK);
    d->n = 0;
    int in_table = 0, lineno = 0;
    for (char *save = NULL, *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        lineno++; /* blank lines are skipped by strtok_r; the number is only a hint in messages */
        if (ln[0] != '|') {
            in_table = 0;
            continue;
        }
        if (!strncmp(ln, "| key | stages |", 16)) {
            in_table = 1;
            continue;
        }
        if (!in_table || strncmp(ln, "| `", 3) != 0) continue;
        char *p = ln + 3, *end = strchr(p, '`');
        assert_non_null(end);
        assert_true(d->n < MAX_ROWS);
        row *r = &d->rows[d->n++];
        memset(r, 0, sizeof *r);
        r->line = lineno;
        assert_true((size_t)(end - p) < sizeof r->path);
        memcpy(r->path, p, (size_t)(end - p));
        char *cell = strchr(end, '|');
        assert_non_null(cell);
        cell++;
        char *cell_end = strchr(cell, '|');
        assert_non_null(cell_end);
        *cell_end = '\0';
        for (char *s2 = NULL, *tok = strtok_r(cell, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2)) {
            while (*tok == ' ') tok++;
            size_t len = strlen(tok);
            while (len && tok[len - 1] == ' ') tok[--len] = '\0';
            int s = stage_index(tok);
            if (s < 0) fail_msg("docs/parameters.md: `%s`: '%s' is not a stage name", r->path, tok);
            r->stages[s] = 1;
        }
        for (int i = 0; i + 1 < d->n; i++)
            if (!strcmp(d->rows[i].path, r->path)) fail_msg("docs/parameters.md: `%s` has two rows", r->path);
    }
    free(text);
}

typedef struct keys {
    char paths[MAX_KEYS][160];
    int n;
} keys;

static void collect(const char *path, void *ctx) {
    keys *k = ctx;
    assert_true(k->n < MAX_KEYS);
    assert_true(strlen(path) < sizeof k->paths[0]);
    strcpy(k->paths[k->n++], path);
}

static int has_key(const keys *k, const char *path) {
    for (int i = 0; i < k->n; i++)
        if (!strcmp(k->paths[i], path)) return 1;
    return 0;
}

static void test_every_key_is_documented(void **state) {
    (void)state;
    doc *d = calloc(1, sizeof *d);
    keys *k = calloc(1, sizeof *k);
    parse_doc(d);
    assert_true(d->n > 50);
    int missing = 0;
    for (int s = 0; s < N_STAGES; s++) {
        k->n = 0;
        snn_params_schema_keys((snn_stage)s, collect, k);
        assert_true(k->n > 10);
        for (int i = 0; i < k->n; i++) {
            const row *r = NULL;
            for (int j = 0; j < d->n && !r; j++)
                if (!strcmp(d->rows[j].path, k->paths[i])) r = &d->rows[j];
            if (!r) {
                print_error("docs/parameters.md has no row for `%s` (accepted by %s)\n", k->paths[i],
                            snn_stage_name((snn_stage)s));
                missing++;
            } else if (!r->stages[s]) {
                print_error("docs/parameters.md: `%s` is accepted by %s, which its row does not list\n", k->paths[i],
                            snn_stage_name((snn_stage)s));
                missing++;
            }
        }
    }
    assert_int_equal(missing, 0);
    free(d);
    free(k);
}

static void test_no_stale_entries(void **state) {
    (void)state;
    doc *d = calloc(1, sizeof *d);
    keys *k = calloc(N_STAGES, sizeof *k);
    parse_doc(d);
    for (int s = 0; s < N_STAGES; s++) snn_params_schema_keys((snn_stage)s, collect, &k[s]);
    int stale = 0;
    for (int j = 0; j < d->n; j++)
        for (int s = 0; s < N_STAGES; s++)
            if (d->rows[j].stages[s] && !has_key(&k[s], d->rows[j].path)) {
                print_error("docs/parameters.md: `%s` lists %s, which does not accept it\n", d->rows[j].path,
                            snn_stage_name((snn_stage)s));
                stale++;
            }
    assert_int_equal(stale, 0);
    free(d);
    free(k);
}

/* The walker lists what the loader accepts: every key of the shipped and reference parameter files
 * that load for a stage is in that stage's list (type names replaced by <type>). */
static void check_tree(const toml_value *t, const char *prefix, const keys *k, const char *file) {
    for (size_t i = 0; i < t->nkeys; i++) {
        char path[300];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", t->keys[i]);
        if (has_key(k, path)) continue;
        const toml_value *v = t->vals[i];
        if (v->type != TOML_TABLE) fail_msg("%s: `%s` loads but is not in the schema list", file, path);
        /* a per-type table (physiology.<type>, odours.<type>, ...) or an ordinary sub-table */
        char typed[300];
        snprintf(typed, sizeof typed, "%s%s<type>", prefix, *prefix ? "." : "");
        int per_type = 0;
        for (int j = 0; j < k->n && !per_type; j++)
            per_type = !strncmp(k->paths[j], typed, strlen(typed)) && k->paths[j][strlen(typed)] == '.';
        check_tree(v, per_type ? typed : path, k, file);
    }
}

static void test_shipped_files_keys_are_listed(void **state) {
    (void)state;
    static const struct {
        const char *file;
        snn_stage stage;
    } files[] = {
        {"parameters/connectome.toml", SNN_STAGE_CONNECTOME},
        {"parameters/demo-connectome.toml", SNN_STAGE_CONNECTOME},
        {"parameters/homeostatic-plasticity.toml", SNN_STAGE_HOMEOSTATIC},
        {"parameters/demo-homeostatic.toml", SNN_STAGE_HOMEOSTATIC},
        {"parameters/generate-teacher-activity.toml", SNN_STAGE_TEACHER},
        {"parameters/demo-teacher.toml", SNN_STAGE_TEACHER},
        {"parameters/generate-teacher-activity.toml", SNN_STAGE_SIMULATE},
        {"parameters/fitting-activity.toml", SNN_STAGE_TRAIN},
        {"parameters/demo-train.toml", SNN_STAGE_TRAIN},
        {"parameters/demo-train-closed-loop.toml", SNN_STAGE_TRAIN},
        {"tests/fixtures/reference-params/conductance-based-Dp.toml", SNN_STAGE_CONNECTOME},
        {"tests/fixtures/reference-params/homeostatic-plasticity.toml", SNN_STAGE_HOMEOSTATIC},
        {"tests/fixtures/reference-params/generate-teacher-activity.toml", SNN_STAGE_TEACHER},
        {"tests/fixtures/reference-params/train-student.toml", SNN_STAGE_TRAIN},
    };
    keys *k = calloc(1, sizeof *k);
    snn_params *p = calloc(1, sizeof *p);
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        const char *path = tu_src(files[f].file);
        snn_error err = {0};
        if (snn_params_load(path, files[f].stage, p, &err) != SNN_OK)
            fail_msg("%s does not load for %s: %s", files[f].file, snn_stage_name(files[f].stage), err.msg);
        toml_value *root = toml_parse_file(path, &err);
        assert_non_null(root);
        k->n = 0;
        snn_params_schema_keys(files[f].stage, collect, k);
        check_tree(root, "", k, files[f].file);
        toml_free(root);
    }
    free(p);
    free(k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_is_documented),
        cmocka_unit_test(test_no_stale_entries),
        cmocka_unit_test(test_shipped_files_keys_are_listed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
