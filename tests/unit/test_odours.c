#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/nprandom.h"
#include "inputs/odours.h"
#include "model/connectome.h"
#include "testutil.h"
#include "tu_sha256.h"

/* ---- a small hand-made network, checked against the numpy oracle ------------------------------ */

enum { HN = 160, HN_IN = 90 };

typedef struct hand_net {
    float w_ff[HN_IN * HN];
    int64_t ffi[HN_IN], cti[HN];
    int32_t asm_ids[HN];
} hand_net;

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Neurons: every fifth inhibitory (type 1); assemblies 0, 2, 5, 7 (gaps on purpose) of 40 neurons,
 * every 13th neuron in none. Inputs: type k % 3 (type 2 has no odour params and stays at 0). Inputs
 * below 45 reach half the neurons; inputs from 45 on reach inhibitory neurons only, so their drive
 * to the excitatory target type is exactly 0: a block of ties. */
static void make_hand_net(hand_net *h) {
    static const int32_t ids[4] = {0, 2, 5, 7};
    uint32_t s = 12345;
    for (int j = 0; j < HN; j++) {
        h->cti[j] = j % 5 == 4;
        h->asm_ids[j] = j % 13 == 0 ? -1 : ids[j / 40];
    }
    for (int k = 0; k < HN_IN; k++) {
        h->ffi[k] = k % 3;
        for (int j = 0; j < HN; j++) {
            int connected = (lcg(&s) % 2 == 0) && (k < 45 || h->cti[j] == 1);
            /* weights with few significant bits make ties between sums likely too */
            h->w_ff[k * HN + j] = connected ? (float)(1 + lcg(&s) % 8) * 0.125f : 0.0f;
        }
    }
}

static int run_oracle(const hand_net *h, const snn_odour_params *o, int n_types, double *expected,
                      int n_patterns) {
    const char *dir = tu_tmpdir();
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/meta.txt", dir);
    f = fopen(path, "w");
    fprintf(f, "%d %d 0\n", HN_IN, HN);
    for (int c = 0; c < n_types; c++)
        fprintf(f, "%.17g %.17g %.17g\n", o[c].baseline_rate, o[c].modulation_rate, o[c].modulation_fraction);
    fclose(f);
    struct {
        const char *name;
        const void *data;
        size_t bytes;
    } files[] = {{"w_ff.f32", h->w_ff, sizeof h->w_ff},
                 {"ffi.i64", h->ffi, sizeof h->ffi},
                 {"cti.i64", h->cti, sizeof h->cti},
                 {"asm.i32", h->asm_ids, sizeof h->asm_ids}};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        f = fopen(path, "wb");
        fwrite(files[i].data, 1, files[i].bytes, f);
        fclose(f);
    }
    int rc = tu_python("odour_oracle.py", "%s", dir);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/expected.f64", dir);
        f = fopen(path, "rb");
        size_t got = fread(expected, sizeof *expected, (size_t)n_patterns * HN_IN, f);
        fclose(f);
        if (got != (size_t)n_patterns * HN_IN) rc = -1;
    }
    tu_rmtree(dir);
    return rc;
}

static int compute(const hand_net *h, const snn_odour_params *o, int n_types, double **rates,
                   int32_t **ids, int *P, snn_error *err) {
    const snn_odour_params *ptrs[4] = {&o[0], &o[1], NULL, NULL};
    const char *names[4] = {"mitral", "tufted", NULL, NULL};
    snn_sparse ff;
    if (snn_sparse_from_dense(&ff, HN_IN, HN, NULL, h->w_ff, err)) return SNN_ERUN;
    snn_odour_network net = {HN_IN, HN, &ff, h->ffi, h->cti, h->asm_ids, 0, n_types, ptrs, names};
    int rc = snn_odour_patterns(&net, rates, ids, P, err);
    snn_sparse_free(&ff);
    return rc;
}

static void check_against_oracle(const snn_odour_params *o, double *rates_out_copy) {
    hand_net *h = malloc(sizeof *h);
    make_hand_net(h);
    double *rates = NULL;
    int32_t *ids = NULL;
    int P = 0;
    snn_error err = {0};
    assert_int_equal(compute(h, o, 2, &rates, &ids, &P, &err), SNN_OK);
    assert_int_equal(P, 4);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 2);
    assert_int_equal(ids[2], 5);
    assert_int_equal(ids[3], 7);
    double expected[4 * HN_IN];
    assert_int_equal(run_oracle(h, o, 2, expected, 4), 0);
    assert_memory_equal(rates, expected, sizeof expected);
    memcpy(rates_out_copy, rates, sizeof expected);
    snn_free(rates);
    snn_free(ids);
    free(h);
}

/* Ordinary parameters: equal to the oracle, exactly n_up inputs at b + m per pattern and type, the
 * rest at one down rate, population mean b, inputs of a type without params at 0. */
static void test_hand_network_matches_oracle(void **state) {
    (void)state;
    const snn_odour_params o[2] = {{6.0, 30.0, 0.1}, {4.0, 10.0, 0.25}};
    double rates[4 * HN_IN];
    check_against_oracle(o, rates);
    for (int p = 0; p < 4; p++) {
        for (int c = 0; c < 2; c++) {
            const double b = o[c].baseline_rate, up = b + o[c].modulation_rate;
            const int n = 30, n_up = (int)(n * o[c].modulation_fraction);
            const double down = (n * b - n_up * up) / (n - n_up);
            int ups = 0;
            double sum = 0;
            for (int k = c; k < HN_IN; k += 3) {
                double r = rates[p * HN_IN + k];
                assert_true(r == up || r == down);
                ups += r == up;
                sum += r;
                /* the modulated inputs are among the connected ones */
                if (r == up) assert_true(k < 45);
            }
            assert_int_equal(ups, n_up);
            assert_true(fabs(sum / n - b) < 1e-12);
        }
        for (int k = 2; k < HN_IN; k += 3) assert_true(rates[p * HN_IN + k] == 0.0);
    }
    /* patterns differ between assemblies */
    assert_memory_not_equal(rates, rates + HN_IN, HN_IN * sizeof(double));
}

/* n_up cuts into the zero-drive ties and the down rate would be negative: ties go to the lower
 * input index, the down rate is clamped to 0. */
static void test_ties_and_clamp(void **state) {
    (void)state;
    const snn_odour_params o[2] = {{6.0, 30.0, 0.7}, {4.0, 10.0, 0.5}};
    double rates[4 * HN_IN];
    check_against_oracle(o, rates);
    for (int p = 0; p < 4; p++) {
        /* type 0: 15 connected inputs (k < 45) + the 6 lowest zero-drive ones: 45, 48, ..., 60 */
        for (int k = 0; k < HN_IN; k += 3) assert_true(rates[p * HN_IN + k] == (k <= 60 ? 36.0 : 0.0));
        /* type 1: n_up = 15 = the connected ones exactly */
        for (int k = 1; k < HN_IN; k += 3) assert_true(rates[p * HN_IN + k] == (k < 45 ? 14.0 : 0.0));
    }
}

static void test_errors_and_baseline(void **state) {
    (void)state;
    hand_net *h = malloc(sizeof *h);
    make_hand_net(h);
    const snn_odour_params o[2] = {{6.0, 30.0, 0.1}, {4.0, 10.0, 0.25}};
    double *rates = NULL;
    int32_t *ids = NULL;
    int P = 0;
    snn_error err = {0};
    /* type 2 exists in ff_type but asking for 3 types without params for it is an error */
    assert_int_equal(compute(h, o, 3, &rates, &ids, &P, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "feedforward type '2'"));
    assert_null(rates);
    snn_error_clear(&err);
    for (int j = 0; j < HN; j++) h->asm_ids[j] = -1;
    assert_int_equal(compute(h, o, 2, &rates, &ids, &P, &err), SNN_EINPUT);
    assert_string_equal(err.msg, "no assemblies found in assembly_ids");
    snn_error_clear(&err);
    const snn_odour_params *ptrs[2] = {&o[0], &o[1]};
    double base[HN_IN];
    assert_int_equal(snn_odour_baseline(HN_IN, h->ffi, 2, ptrs, NULL, base, &err), SNN_OK);
    for (int k = 0; k < HN_IN; k++) assert_true(base[k] == (k % 3 == 0 ? 6.0 : k % 3 == 1 ? 4.0 : 0.0));
    const snn_odour_params *missing[2] = {&o[0], NULL};
    const char *names[2] = {"mitral", "tufted"};
    assert_int_equal(snn_odour_baseline(HN_IN, h->ffi, 2, missing, names, base, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "'tufted'"));
    free(h);
}

/* ---- the Appendix B connectomes ------------------------------------------------------------- */

static void fill_2x2(double m[SNN_MAX_TYPES][SNN_MAX_TYPES], double a, double b, double c, double d) {
    m[0][0] = a;
    m[0][1] = b;
    m[1][0] = c;
    m[1][1] = d;
}

/* The stage-1 parameters of Appendix B (only what the connectome generator reads). */
static void make_params(snn_params *p, int64_t n, int assemblies, int64_t n_in) {
    memset(p, 0, sizeof *p);
    strcpy(p->path, "toy.toml");
    p->stage = SNN_STAGE_CONNECTOME;
    p->sim.dt = 1.0;
    p->sim.seed = 43;
    p->sim.chunk_size = 1000;
    snn_layer_params *r = &p->rec;
    r->n_types = 2;
    strcpy(r->type_names[0], "excitatory");
    strcpy(r->type_names[1], "inhibitory");
    r->has_proportion = 1;
    r->proportion[0] = 0.8;
    r->proportion[1] = 0.2;
    r->has_topology = 1;
    r->num_neurons = n;
    r->num_assemblies = assemblies;
    r->has_conn_within = r->has_conn_between = 1;
    fill_2x2(r->conn_within, 0.2, 0.2, 0.4, 0.2);
    fill_2x2(r->conn_between, 0.05, 0.05, 0.05, 0.05);
    r->has_weights = 1;
    fill_2x2(r->w_mu, 0.4, 0.4, 0.4, 0.4);
    fill_2x2(r->w_sigma, 0.1, 0.1, 0.1, 0.1);
    snn_layer_params *f = &p->ff;
    f->n_types = 1;
    strcpy(f->type_names[0], "mitral");
    f->has_proportion = 1;
    f->proportion[0] = 1.0;
    f->has_topology = 1;
    f->num_neurons = n_in;
    f->has_conn_inputs = 1;
    f->conn_inputs[0][0] = 0.05;
    f->conn_inputs[0][1] = 0.05;
    f->has_weights = 1;
    f->w_mu[0][0] = 0.5;
    f->w_mu[0][1] = 0.2;
    f->w_sigma[0][0] = 0.1;
    f->w_sigma[0][1] = 0.1;
}

static void patterns_of(const snn_structure *s, double **rates, int *P) {
    static const snn_odour_params mitral = {6.0, 30.0, 0.1};
    const snn_odour_params *ptrs[1] = {&mitral};
    snn_odour_network net = {s->n_in, s->n, &s->ff, s->ff_cell_types, s->cell_types, s->assembly_ids,
                             0, 1, ptrs, NULL};
    int32_t *ids = NULL;
    snn_error err = {0};
    assert_int_equal(snn_odour_patterns(&net, rates, &ids, P, &err), SNN_OK);
    for (int p = 0; p < *P; p++) assert_int_equal(ids[p], p);
    snn_free(ids);
}

/* Appendix B toy run: pattern 0 up-modulated inputs [8, 16, 26, 34, 55, 56], down 2.6666666666666665. */
static void test_appendix_b_toy(void **state) {
    (void)state;
    snn_params p;
    make_params(&p, 200, 4, 60);
    snn_structure s;
    snn_error err = {0};
    assert_int_equal(snn_connectome_generate(&p, 0, &s, &err), SNN_OK);
    double *rates = NULL;
    int P = 0;
    patterns_of(&s, &rates, &P);
    assert_int_equal(P, 4);
    const int want[6] = {8, 16, 26, 34, 55, 56};
    int n_up = 0;
    for (int k = 0; k < 60; k++) {
        if (rates[k] == 36.0) {
            assert_true(n_up < 6);
            assert_int_equal(k, want[n_up]);
            n_up++;
        } else {
            assert_true(rates[k] == 2.6666666666666665);
        }
    }
    assert_int_equal(n_up, 6);
    snn_free(rates);
    snn_structure_free(&s);
}

/* Appendix B full size: sha of the float64 patterns and pattern 0's first up-modulated inputs, for
 * stage 1 and stage 2 (balanced types, homeostatic-plasticity weights). The hashes assume the drives
 * are summed in numpy's order, so that near-ties at the cut fall the same way. */
static void check_full(int balanced, const char *sha, const int first_up[8]) {
    snn_params p;
    make_params(&p, 5000, 20, 1500);
    if (balanced) {
        fill_2x2(p.rec.w_mu, 0.1, 0.05, 0.2, 0.19);
        p.ff.w_mu[0][0] = 0.05;
        p.ff.w_mu[0][1] = 0.02;
    }
    snn_structure s;
    snn_error err = {0};
    assert_int_equal(snn_connectome_generate(&p, balanced, &s, &err), SNN_OK);
    double *rates = NULL;
    int P = 0;
    patterns_of(&s, &rates, &P);
    assert_int_equal(P, 20);
    char hex[17];
    tu_sha256_hex16(rates, (size_t)P * 1500 * sizeof *rates, hex);
    assert_string_equal(hex, sha);
    int found = 0;
    for (int k = 0; k < 1500 && found < 8; k++)
        if (rates[k] == 36.0) assert_int_equal(k, first_up[found++]);
    assert_int_equal(found, 8);
    for (int q = 0; q < P; q++) {
        int ups = 0;
        double sum = 0;
        for (int k = 0; k < 1500; k++) {
            ups += rates[q * 1500 + k] == 36.0;
            sum += rates[q * 1500 + k];
        }
        assert_int_equal(ups, 150);
        assert_true(fabs(sum / 1500 - 6.0) < 1e-12);
    }
    snn_free(rates);
    snn_structure_free(&s);
}

static void test_appendix_b_full_size(void **state) {
    (void)state;
    if (tu_sanitized()) skip();
    const int stage1[8] = {1, 10, 29, 30, 45, 53, 91, 103};
    const int stage2[8] = {3, 4, 7, 40, 56, 60, 62, 86};
    check_full(0, "b1cf25c73110b658", stage1);
    check_full(1, "a9758fffa68610df", stage2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_network_matches_oracle),
        cmocka_unit_test(test_ties_and_clamp),
        cmocka_unit_test(test_errors_and_baseline),
        cmocka_unit_test(test_appendix_b_toy),
        cmocka_unit_test(test_appendix_b_full_size),
    };
    return cmocka_run_group_tests_name("odours", tests, NULL, NULL);
}
