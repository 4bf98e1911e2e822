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

#include "core/fsutil.h"
#include "config/toml.h"
#include "testutil.h"

/* ---- tagged JSON dump, read by tests/py/toml_oracle.py ---- */

static void dump_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

static void dump(FILE *f, const toml_value *v) {
    switch (v->type) {
    case TOML_TABLE:
        fputs("{\"t\":\"table\",\"v\":[", f);
        for (size_t i = 0; i < v->nkeys; i++) {
            fputs(i ? ",[" : "[", f);
            dump_str(f, v->keys[i]);
            fputc(',', f);
            dump(f, v->vals[i]);
            fputc(']', f);
        }
        fputs("]}", f);
        break;
    case TOML_ARRAY:
        fputs("{\"t\":\"array\",\"v\":[", f);
        for (size_t i = 0; i < v->n; i++) {
            if (i) fputc(',', f);
            dump(f, v->items[i]);
        }
        fputs("]}", f);
        break;
    case TOML_STRING:
        fputs("{\"t\":\"string\",\"v\":", f);
        dump_str(f, v->str);
        fputc('}', f);
        break;
    case TOML_INT: fprintf(f, "{\"t\":\"integer\",\"v\":\"%lld\"}", (long long)v->i); break;
    case TOML_FLOAT:
        if (isnan(v->f))
            fprintf(f, "{\"t\":\"float\",\"v\":\"%snan\"}", signbit(v->f) ? "-" : "");
        else
            fprintf(f, "{\"t\":\"float\",\"v\":\"%.17g\"}", v->f);
        break;
    case TOML_BOOL: fprintf(f, "{\"t\":\"boolean\",\"v\":\"%s\"}", v->b ? "true" : "false"); break;
    }
}

static int dump_file(const char *path, const toml_value *v) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    dump(f, v);
    return fclose(f);
}

static int list_corpus(char names[][256], int max) {
    DIR *d = opendir(tu_src("tests/fixtures/toml"));
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".toml") == 0) snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

/* Every corpus document parses to exactly what tomllib reads (values, types, key order). */
static void test_corpus_matches_tomllib(void **state) {
    (void)state;
    static char names[64][256];
    int n = list_corpus(names, 64);
    assert_true(n >= 9);
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    static char args[16384];
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        char src[2048], out[2048];
        snprintf(src, sizeof src, "%.1000s/%.255s", tu_src("tests/fixtures/toml"), names[i]);
        snprintf(out, sizeof out, "%.1000s/%.255s.json", dir, names[i]);
        snn_error err = {0};
        toml_value *root = toml_parse_file(src, &err);
        if (!root) fail_msg("%s: %s", names[i], err.msg);
        assert_int_equal(dump_file(out, root), 0);
        toml_free(root);
        used += (size_t)snprintf(args + used, sizeof args - used, " '%s' '%s'", src, out);
        assert_true(used < sizeof args);
    }
    assert_int_equal(tu_python("toml_oracle.py", "%s", args), 0);
    tu_rmtree(dir);
}

/* The oracle itself notices a wrong tree (so the test above can fail). */
static void test_oracle_detects_differences(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char doc[600], out[600];
    snprintf(doc, sizeof doc, "%s/d.toml", dir);
    snprintf(out, sizeof out, "%s/d.json", dir);
    const char *variants[] = {"a = 1.0\nb = 2\n", "a = 1\nb = 2\n", "b = 2\na = 1\n", "a = 1\nb = 3\n",
                              "a = 1\n[b]\n"};
    assert_int_equal(tu_write(doc, "a = 1\nb = 2\n"), 0);
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        snn_error err = {0};
        toml_value *root = toml_parse_string(variants[i], "v", &err);
        assert_non_null(root);
        assert_int_equal(dump_file(out, root), 0);
        toml_free(root);
        int rc = tu_python("toml_oracle.py", "'%s' '%s' 2>/dev/null", doc, out);
        if (i == 1)
            assert_int_equal(rc, 0);
        else
            assert_int_not_equal(rc, 0);
    }
    tu_rmtree(dir);
}

/* Values, types, lines and file order seen through the C API. */
static void test_api_values_and_lines(void **state) {
    (void)state;
    const char *text =
        "# header comment\n"                        /* 1 */
        "top = 'x'\n"                               /* 2 */
        "\n"                                        /* 3 */
        "[recurrent.topology]\n"                    /* 4 */
        "num_neurons = 5_000\n"                     /* 5 */
        "conn_within = [\n"                         /* 6 */
        "    [0.2, 0.2],\n"                         /* 7 */
        "    [0.4, 0.2],  # I row\n"                /* 8 */
        "]\n"                                       /* 9 */
        "[recurrent.cell_types]\n"                  /* 10 */
        "names = [\"excitatory\", \"inhibitory\",]\n" /* 11 */
        "[recurrent]\n"                             /* 12 */
        "x.y = -1e-3\n"                             /* 13 */
        "flag = true\n";                            /* 14 */
    snn_error err = {0};
    toml_value *root = toml_parse_string(text, "api.toml", &err);
    assert_non_null(root);
    assert_int_equal(root->nkeys, 2);
    assert_string_equal(root->keys[0], "top");
    assert_string_equal(root->keys[1], "recurrent");
    toml_value *rec = toml_get(root, "recurrent");
    assert_int_equal(rec->type, TOML_TABLE);
    assert_int_equal(rec->line, 12); /* the explicit header, not the first mention */
    assert_int_equal(rec->nkeys, 4);
    assert_string_equal(rec->keys[0], "topology");
    assert_string_equal(rec->keys[1], "cell_types");
    assert_string_equal(rec->keys[2], "x");
    assert_string_equal(rec->keys[3], "flag");
    toml_value *topo = toml_get(rec, "topology");
    assert_int_equal(topo->line, 4);
    toml_value *nn = toml_get(topo, "num_neurons");
    assert_int_equal(nn->type, TOML_INT);
    assert_int_equal(nn->i, 5000);
    assert_int_equal(nn->line, 5);
    toml_value *cw = toml_get(topo, "conn_within");
    assert_int_equal(cw->type, TOML_ARRAY);
    assert_int_equal(cw->line, 6);
    assert_int_equal(cw->n, 2);
    assert_int_equal(cw->items[1]->line, 8);
    assert_int_equal(cw->items[1]->n, 2);
    assert_int_equal(cw->items[1]->items[0]->type, TOML_FLOAT);
    assert_true(cw->items[1]->items[0]->f == 0.4);
    toml_value *names = toml_get(toml_get(rec, "cell_types"), "names");
    assert_int_equal(names->n, 2);
    assert_string_equal(names->items[1]->str, "inhibitory");
    toml_value *y = toml_get(toml_get(rec, "x"), "y");
    assert_int_equal(y->type, TOML_FLOAT);
    assert_true(y->f == -1e-3);
    assert_int_equal(y->line, 13);
    assert_int_equal(toml_get(rec, "flag")->b, 1);
    assert_null(toml_get(rec, "missing"));
    assert_null(toml_get(nn, "x")); /* not a table */
    assert_string_equal(toml_type_name(TOML_INT), "integer");
    assert_string_equal(toml_type_name(TOML_FLOAT), "float");
    assert_string_equal(toml_type_name(TOML_TABLE), "table");
    toml_free(root);
}

typedef struct bad_case {
    const char *text;
    int line;
    const char *what; /* a substring the message must contain */
} bad_case;

/* Each malformed document is rejected with "<name>:<line>: <what>". */
static void test_errors_name_line_and_problem(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"a = 1\nb = 2\na = 3\n", 3, "duplicate key 'a'"},
        {"[t]\nx.y = 1\nx.y = 2\n", 3, "duplicate key 'x.y'"},
        {"[t]\nx = 1\n\n[t]\n", 4, "table [t] is defined twice"},
        {"[a.b]\nx = 1\n[a]\nb = 2\n", 4, "duplicate key 'b'"},
        {"a = 1\n[a]\n", 2, "'a' is already defined as an integer"},
        {"a = {x = 1}\n[a.b]\n", 2, "inline table"},
        {"a = [1]\n[[a]]\n", 2, "array of tables"},
        {"[fruit]\napple.color = 'red'\n[fruit.apple]\n", 3, "defined twice"},
        {"[x.a]\nq = 1\n[x]\na.b = 1\n", 4, "cannot add keys to table 'a'"},
        {"x = 1\ny = \n", 2, "expected a value"},
        {"x = tru\n", 1, "bad value tru"},
        {"x = 01\n", 1, "leading zeros"},
        {"x = 1__0\n", 1, "bad value 1__0"},
        {"x = 1.\n", 1, "digit must follow the decimal point"},
        {"x = .5\n", 1, "bad value .5"},
        {"x = 1e\n", 1, "exponent"},
        {"x = -0x10\n", 1, "take no sign"},
        {"x = 0xG1\n", 1, "bad integer"},
        {"x = 9223372036854775808\n", 1, "does not fit in 64 bits"},
        {"\n\nd = 1979-05-27\n", 3, "dates and times are not supported"},
        {"d = 1979-05-27T07:32:00Z\n", 1, "dates and times are not supported"},
        {"t = 07:32:00\n", 1, "dates and times are not supported"},
        {"s = \"abc\n", 1, "unterminated string"},
        {"a = 1\ns = \"\"\"abc\n\n", 2, "unterminated multi-line string (opened on line 2)"},
        {"s = 'abc\n", 1, "unterminated string"},
        {"s = \"bad \\q escape\"\n", 1, "bad escape sequence '\\q'"},
        {"s = \"\\uD800\"\n", 1, "not a Unicode scalar value"},
        {"s = \"\\u12\"\n", 1, "hex digits"},
        {"a = [1, 2,\n 3\n", 1, "unterminated array (opened on line 1)"},
        {"x = 0\na = [\n  1,\n  2\n  3\n]\n", 5, "expected ',' or ']'"},
        {"a = [1,,2]\n", 1, "found ','"},
        {"a = {x = 1,}\n", 1, "trailing comma in an inline table"},
        {"a = {x = 1\n}\n", 1, "unterminated inline table"},
        {"a = {x = 1, x = 2}\n", 1, "duplicate key 'x' in the inline table"},
        {"a = 1 b = 2\n", 1, "expected the end of the line after a value, found 'b'"},
        {"[t] x = 1\n", 1, "expected the end of the line after a table header"},
        {"[t\nx = 1\n", 1, "to close the table header"},
        {"key\n", 1, "expected '=' after key 'key'"},
        {"= 1\n", 1, "expected a key before '='"},
        {"a$b = 1\n", 1, "expected '=' after key 'a', found '$'"},
        {"x = 1\n$b = 1\n", 2, "bad character '$' in a key"},
        {"\"\"\"k\"\"\" = 1\n", 1, "multi-line string cannot be a key"},
        {"a = 1\n\n\nx = \"a\x01" "b\"\n", 4, "control character 0x01"},
        {"a = 1\r\nb = 2\rc = 3\n", 2, "carriage return"},
        {"a = \"\xff\"\n", 1, "invalid UTF-8"},
        {"a = True\n", 1, "bad value True"},
        {"[[a]]\n[a]\n", 2, "cannot define table [a]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snn_error err = {0};
        toml_value *root = toml_parse_string(cases[i].text, "bad.toml", &err);
        if (root) fail_msg("case %zu was accepted: %s", i, cases[i].text);
        assert_int_equal(err.code, SNN_EINPUT);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "bad.toml:%d: ", cases[i].line);
        if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, cases[i].what))
            fail_msg("case %zu: message '%s' lacks '%s' or '%s'", i, err.msg, prefix, cases[i].what);
    }
}

/* Documents at the edge of what is allowed are accepted (each is a rule the parser could get wrong). */
static void test_edge_cases_accepted(void **state) {
    (void)state;
    snn_error err = {0};
    toml_value *r = toml_parse_string("\xEF\xBB\xBF" "a = 1", "bom", &err);
    assert_non_null(r);
    assert_int_equal(toml_get(r, "a")->i, 1); /* BOM skipped, no trailing newline needed */
    toml_free(r);
    r = toml_parse_string("", "empty", &err);
    assert_non_null(r);
    assert_int_equal(r->nkeys, 0);
    toml_free(r);
    r = toml_parse_string("a = \"\"\"x\"\"\"\"\"\n", "q", &err); /* two quotes before the closing delimiter */
    assert_non_null(r);
    assert_string_equal(toml_get(r, "a")->str, "x\"\"");
    toml_free(r);
    r = toml_parse_string("e = 1E+2\nf = -0.0\ng = 0x_1\n", "x", &err);
    assert_null(r); /* underscore must sit between digits */
    assert_non_null(strstr(err.msg, "x:3: bad integer"));
    snn_error_clear(&err);
    r = toml_parse_string("s = \"\\u00e9\\U0001F600\"\n", "u", &err);
    assert_non_null(r);
    assert_string_equal(toml_get(r, "s")->str, "\xc3\xa9\xf0\x9f\x98\x80");
    toml_free(r);
    /* multi-line value keeps the line of its key; the next key's line counts the newlines inside */
    r = toml_parse_string("a = \"\"\"\n1\n2\n\"\"\"\nb = [\n1,\n]\nc = 3\n", "l", &err);
    assert_non_null(r);
    assert_int_equal(toml_get(r, "a")->line, 1);
    assert_int_equal(toml_get(r, "b")->line, 5);
    assert_int_equal(toml_get(r, "c")->line, 8);
    toml_free(r);
}

static void test_missing_file(void **state) {
    (void)state;
    snn_error err = {0};
    assert_null(toml_parse_file("/nonexistent/dir/params.toml", &err));
    assert_int_equal(err.code, SNN_EINPUT);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/params.toml"));
}

/* Every prefix of every corpus document is parsed or rejected cleanly (no crash, leak or UB under
 * the sanitizers); the full documents are accepted. */
static void test_truncated_documents(void **state) {
    (void)state;
    static char names[64][256];
    int n = list_corpus(names, 64);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        char src[2048];
        snprintf(src, sizeof src, "%.1000s/%.255s", tu_src("tests/fixtures/toml"), names[i]);
        char *data = NULL;
        size_t len = 0;
        snn_error err = {0};
        assert_int_equal(snn_read_file(src, &data, &len, &err), SNN_OK);
        int rejected = 0;
        for (size_t cut = 0; cut <= len; cut++) {
            char saved = data[cut];
            data[cut] = '\0';
            snn_error e = {0};
            toml_value *r = toml_parse_string(data, "cut", &e);
            if (!r) {
                rejected++;
                assert_int_equal(e.code, SNN_EINPUT);
                assert_true(strncmp(e.msg, "cut:", 4) == 0);
            }
            toml_free(r);
            data[cut] = saved;
            if (cut == len) assert_non_null(r);
        }
        assert_true(rejected > 0); /* some prefix ends inside a string, array or header */
        free(data);
    }
}

/* Issue 11, fault 3: the parser recurses once per nesting level, so deep nesting must be refused
 * (naming the line) before it exhausts the stack; 64 levels are still accepted, and so are (not
 * recursive) long dotted keys up to their own limit. */
static char *repeat3(const char *head, const char *open, int n, const char *mid, const char *close, const char *tail) {
    size_t lo = strlen(open), lc = strlen(close);
    char *s = malloc(strlen(head) + (size_t)n * (lo + lc) + strlen(mid) + strlen(tail) + 1);
    assert_non_null(s);
    char *q = s;
    q += sprintf(q, "%s", head);
    for (int i = 0; i < n; i++) q += sprintf(q, "%s", open);
    q += sprintf(q, "%s", mid);
    for (int i = 0; i < n; i++) q += sprintf(q, "%s", close);
    sprintf(q, "%s", tail);
    return s;
}

static void test_nesting_limit(void **state) {
    (void)state;
    struct {
        const char *head, *open, *mid, *close;
        int n, ok;
    } cases[] = {
        {"[t]\nx = ", "{a = ", "1", "}", 10000, 0},
        {"\n\nx = ", "[", "", "]", 1000000, 0},
        {"x = ", "[", "1", "]", TOML_MAX_NESTING + 1, 0},
        {"x = ", "[", "1", "]", TOML_MAX_NESTING, 1},
        {"x = ", "{a = ", "1", "}", TOML_MAX_NESTING, 1},
        {"x = [", "{a = [", "1", "]}", TOML_MAX_NESTING, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = repeat3(cases[i].head, cases[i].open, cases[i].n, cases[i].mid, cases[i].close, "\n");
        snn_error err = {0};
        toml_value *r = toml_parse_string(text, "deep.toml", &err);
        if (cases[i].ok) {
            assert_non_null(r);
        } else {
            assert_null(r);
            assert_int_equal(err.code, SNN_EINPUT);
            /* the line of the value: 2 for the first case, 3 for the second, 1 otherwise */
            char want[64];
            snprintf(want, sizeof want, "deep.toml:%d: ", i == 0 ? 2 : i == 1 ? 3 : 1);
            assert_non_null(strstr(err.msg, want));
            assert_non_null(strstr(err.msg, "nested more than 64 levels"));
        }
        toml_free(r);
        free(text);
    }
    /* a dotted key is read in a loop, not recursively: 64 parts are fine, 65 refused */
    char *key = repeat3("", "a.", 63, "b = 1", "", "\n");
    snn_error err = {0};
    toml_value *r = toml_parse_string(key, "dots.toml", &err);
    assert_non_null(r);
    toml_free(r);
    free(key);
    key = repeat3("", "a.", 64, "b = 1", "", "\n");
    assert_null(toml_parse_string(key, "dots.toml", &err));
    assert_non_null(strstr(err.msg, "dots.toml:1: "));
    free(key);
}

/* A FIFO or a folder given as a TOML file is refused at once (issue 11, fault 6). */
static void test_not_a_regular_file(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char fifo[1024];
    snprintf(fifo, sizeof fifo, "%s/p.toml", dir);
    assert_int_equal(tu_system("mkfifo '%s'", fifo), 0);
    snn_error err = {0};
    assert_null(toml_parse_file(fifo, &err));
    assert_non_null(strstr(err.msg, "not a regular file"));
    snn_error_clear(&err);
    assert_null(toml_parse_file(dir, &err));
    assert_non_null(strstr(err.msg, "not a regular file (a folder)"));
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_not_a_regular_file),
        cmocka_unit_test(test_corpus_matches_tomllib),
        cmocka_unit_test(test_oracle_detects_differences),
        cmocka_unit_test(test_api_values_and_lines),
        cmocka_unit_test(test_errors_name_line_and_problem),
        cmocka_unit_test(test_edge_cases_accepted),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_truncated_documents),
    };
    return cmocka_run_group_tests_name("toml", tests, NULL, NULL);
}
