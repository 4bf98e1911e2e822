/* config/toml_write.h: every TOML document of the test corpus and every shipped parameter file reads
 * back to the same tree after writing; the shipped files load to the same parameters; overrides
 * replace, add and create; paths through values are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/params.h"
#include "config/toml.h"
#include "config/toml_write.h"
#include "testutil.h"

static int is_tab(const toml_value *v) {
    if (v->type == TOML_TABLE) return 1;
    if (v->type != TOML_ARRAY || v->n == 0) return 0;
    for (size_t i = 0; i < v->n; i++)
        if (v->items[i]->type != TOML_TABLE) return 0;
    return 1;
}

/* Deep equality, key order included; floats bit for bit (NaN equals NaN). */
static int same(const toml_value *a, const toml_value *b, char *where, size_t n) {
    if (a->type != b->type) {
        snprintf(where, n, "type %s vs %s", toml_type_name(a->type), toml_type_name(b->type));
        return 0;
    }
    switch (a->type) {
    case TOML_STRING: return !strcmp(a->str, b->str) || (snprintf(where, n, "'%s' vs '%s'", a->str, b->str), 0);
    case TOML_INT: return a->i == b->i || (snprintf(where, n, "%lld vs %lld", (long long)a->i, (long long)b->i), 0);
    case TOML_FLOAT:
        return (isnan(a->f) && isnan(b->f)) || !memcmp(&a->f, &b->f, sizeof a->f) ||
               (snprintf(where, n, "%.17g vs %.17g", a->f, b->f), 0);
    case TOML_BOOL: return a->b == b->b;
    case TOML_ARRAY:
        if (a->n != b->n) return snprintf(where, n, "array lengths %zu vs %zu", a->n, b->n), 0;
        for (size_t i = 0; i < a->n; i++)
            if (!same(a->items[i], b->items[i], where, n)) return 0;
        return 1;
    case TOML_TABLE:
        /* the same keys; plain values in the same order, sub-tables in the same order (the writer puts
         * a table's plain values before its sub-tables) */
        if (a->nkeys != b->nkeys) return snprintf(where, n, "tables of %zu vs %zu keys", a->nkeys, b->nkeys), 0;
        for (int tables = 0; tables < 2; tables++) {
            size_t j = 0;
            for (size_t i = 0; i < a->nkeys; i++) {
                if (is_tab(a->vals[i]) != tables) continue;
                while (j < b->nkeys && is_tab(b->vals[j]) != tables) j++;
                if (j == b->nkeys) return snprintf(where, n, "key '%s' missing", a->keys[i]), 0;
                if (strcmp(a->keys[i], b->keys[j]))
                    return snprintf(where, n, "key '%s' vs '%s'", a->keys[i], b->keys[j]), 0;
                if (!same(a->vals[i], b->vals[j], where, n)) return 0;
                j++;
            }
        }
        return 1;
    }
    return 0;
}

static void roundtrip_file(const char *path) {
    snn_error err = {0};
    toml_value *a = toml_parse_file(path, &err);
    assert_non_null(a);
    char *text = toml_write(a, NULL, NULL, 0, &err);
    assert_non_null(text);
    toml_value *b = toml_parse_string(text, path, &err);
    if (!b) fail_msg("%s: the written text does not parse: %s\n%s", path, err.msg, text);
    char where[512] = "";
    if (!same(a, b, where, sizeof where)) fail_msg("%s: differs after writing: %s\n%s", path, where, text);
    toml_free(a);
    toml_free(b);
    free(text);
}

static void roundtrip_dir(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".toml")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        roundtrip_file(path);
        n++;
    }
    closedir(d);
    assert_true(n > 0);
}

static void test_corpus_roundtrip(void **state) {
    (void)state;
    roundtrip_dir(tu_src("tests/fixtures/toml"));
    roundtrip_dir(tu_src("tests/fixtures/reference-params"));
    roundtrip_dir(tu_src("parameters"));
    roundtrip_dir(tu_src("experiments"));
}

/* Bytes after the end of a name are whatever the loader's buffers held: cleared before comparing. */
static void clear_tail(char *s, size_t n) {
    size_t len = strnlen(s, n);
    memset(s + len, 0, n - len);
}

static void normalise(snn_params *p) {
    memset(p->path, 0, sizeof p->path);
    snn_layer_params *layers[2] = {&p->rec, &p->ff};
    for (int l = 0; l < 2; l++) {
        for (int t = 0; t < SNN_MAX_TYPES; t++) clear_tail(layers[l]->type_names[t], SNN_NAME_MAX);
        for (int q = 0; q < SNN_MAX_SYNAPSES; q++) clear_tail(layers[l]->synapses[q].name, SNN_NAME_MAX);
    }
    clear_tail(p->wandb.project, sizeof p->wandb.project);
    clear_tail(p->wandb.entity, sizeof p->wandb.entity);
    clear_tail(p->wandb.notes, sizeof p->wandb.notes);
    for (int t = 0; t < SNN_MAX_WANDB_TAGS; t++) clear_tail(p->wandb.tags[t], SNN_NAME_MAX);
}

/* the written file loads to exactly the parameters of the original */
static void test_params_load_the_same(void **state) {
    (void)state;
    static const struct {
        const char *file;
        snn_stage stage;
    } cases[] = {{"parameters/connectome.toml", SNN_STAGE_CONNECTOME},
                 {"parameters/demo-teacher.toml", SNN_STAGE_TEACHER},
                 {"parameters/demo-teacher.toml", SNN_STAGE_SIMULATE},
                 {"parameters/homeostatic-plasticity.toml", SNN_STAGE_HOMEOSTATIC},
                 {"parameters/fitting-activity.toml", SNN_STAGE_TRAIN},
                 {"tests/fixtures/reference-params/train-student.toml", SNN_STAGE_TRAIN}};
    snn_params *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snn_error err = {0};
        const char *path = tu_src(cases[i].file);
        memset(a, 0, sizeof *a);
        memset(b, 0, sizeof *b);
        if (snn_params_load(path, cases[i].stage, a, &err)) fail_msg("%s", err.msg);
        toml_value *t = toml_parse_file(path, &err);
        assert_non_null(t);
        char *text = toml_write(t, NULL, NULL, 0, &err);
        assert_non_null(text);
        if (snn_params_load_string(text, path, cases[i].stage, b, &err)) fail_msg("%s", err.msg);
        normalise(a);
        normalise(b);
        if (memcmp(a, b, sizeof *a)) {
            size_t at = 0;
            while (((unsigned char *)a)[at] == ((unsigned char *)b)[at]) at++;
            fail_msg("%s: loads to other parameters after writing (first difference at byte %zu of %zu)",
                     cases[i].file, at, sizeof *a);
        }
        toml_free(t);
        free(text);
    }
    free(a);
    free(b);
}

static toml_value *parse(const char *text) {
    snn_error err = {0};
    toml_value *v = toml_parse_string(text, "test", &err);
    if (!v) fail_msg("%s", err.msg);
    return v;
}

static void test_overrides(void **state) {
    (void)state;
    toml_value *base = parse("top = 1\n[simulation]\nseed = 43\ndt = 1.0\n[recurrent.topology]\nnum_assemblies = 4\n"
                             "[[data.inputs]]\npath = \"a\"\n");
    toml_value *vals = parse("seed = 7\nn = 20\nf = 0.1\nnew = \"x y\"\nm = [[1, 2], [3, 4]]\nt = {a = 1.5, b = true}\n");
    toml_override ov[] = {
        {"simulation.seed", toml_get(vals, "seed")},               /* replaced */
        {"recurrent.topology.num_assemblies", toml_get(vals, "n")}, /* replaced, deeper */
        {"simulation.extra", toml_get(vals, "f")},                  /* added to an existing table */
        {"odours.mitral.name", toml_get(vals, "new")},              /* two new tables */
        {"recurrent.weights.w_mu", toml_get(vals, "m")},            /* a new table inside an existing one */
        {"targets.rates", toml_get(vals, "t")},                     /* an inline table value */
    };
    snn_error err = {0};
    char *text = toml_write(base, NULL, ov, 6, &err);
    if (!text) fail_msg("%s", err.msg);
    toml_value *w = parse(text);
    toml_value *expect = parse("top = 1\n[simulation]\nseed = 7\ndt = 1.0\nextra = 0.1\n"
                               "[recurrent.topology]\nnum_assemblies = 20\n[recurrent.weights]\nw_mu = [[1, 2], [3, 4]]\n"
                               "[[data.inputs]]\npath = \"a\"\n[odours.mitral]\nname = \"x y\"\n"
                               "[targets]\nrates = {a = 1.5, b = true}\n");
    char where[512] = "";
    if (!same(expect, w, where, sizeof where)) fail_msg("overrides: %s\n%s", where, text);
    free(text);
    toml_free(w);
    toml_free(expect);

    /* through a value, or into an array of tables: refused with the path named */
    toml_override bad1[] = {{"simulation.seed.x", toml_get(vals, "n")}};
    assert_null(toml_write(base, NULL, bad1, 1, &err));
    assert_non_null(strstr(err.msg, "simulation.seed.x"));
    snn_error e2 = {0};
    toml_override bad2[] = {{"data.inputs.path", toml_get(vals, "new")}};
    assert_null(toml_write(base, NULL, bad2, 1, &e2));
    assert_non_null(strstr(e2.msg, "array of tables"));

    /* a table written under a header of its own */
    snn_error e3 = {0};
    char *sub = toml_write(toml_get(base, "recurrent"), "recurrent", NULL, 0, &e3);
    assert_non_null(sub);
    toml_value *ws = parse(sub);
    toml_value *es = parse("[recurrent.topology]\nnum_assemblies = 4\n");
    if (!same(es, ws, where, sizeof where)) fail_msg("header: %s\n%s", where, sub);
    free(sub);
    toml_free(ws);
    toml_free(es);
    toml_free(base);
    toml_free(vals);
}

static void test_value_text(void **state) {
    (void)state;
    toml_value *v = parse("a = 0.1\nb = 2.0\nc = 1e-5\nd = -inf\ne = nan\nf = 123456789012\ng = \"q\\\"\\\\\\n\\u0001é\"\n"
                          "h = [1, [2.5, \"x\"]]\ni = -0.0\n");
    static const struct {
        const char *key, *text;
    } cases[] = {{"a", "0.1"},   {"b", "2.0"},          {"c", "1e-05"},
                 {"d", "-inf"},  {"e", "nan"},          {"f", "123456789012"},
                 {"g", "\"q\\\"\\\\\\n\\u0001é\""}, {"h", "[1, [2.5, \"x\"]]"}, {"i", "-0.0"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *t = toml_write_value(toml_get(v, cases[i].key));
        assert_non_null(t);
        if (strcmp(t, cases[i].text)) fail_msg("%s: wrote '%s', expected '%s'", cases[i].key, t, cases[i].text);
        free(t);
    }
    /* keys that are not bare are quoted */
    toml_value *k = parse("\"a b\" = 1\n\"x.y\" = 2\nok_key-1 = 3\n");
    snn_error err = {0};
    char *text = toml_write(k, NULL, NULL, 0, &err);
    assert_non_null(text);
    assert_string_equal(text, "\"a b\" = 1\n\"x.y\" = 2\nok_key-1 = 3\n");
    free(text);
    toml_free(k);
    toml_free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_roundtrip),
        cmocka_unit_test(test_params_load_the_same),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_value_text),
    };
    return cmocka_run_group_tests_name("toml_write", tests, NULL, NULL);
}
