#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/nprandom.h"
#include "core/sha256.h"
#include "model/connectome.h"
#include "testutil.h"
#include "tu_sha256.h"

static void sha16(const void *data, size_t len, const char *expected) {
    char hex[17];
    tu_sha256_hex16(data, len, hex);
    assert_string_equal(hex, expected);
}

static void free_structure(snn_structure *s) { snn_structure_free(s); }

/* The first 16 hex digits of the SHA-256 of m as a dense matrix (the reference's golden hashes are of
 * its dense arrays), row by row: the connectivity (conn = 1) or the float32 weights. */
static void sha16_dense(const snn_sparse *m, int conn, const char *expected) {
    const size_t es = conn ? 1 : sizeof(float);
    uint8_t *row = malloc((size_t)m->n_cols * es + 1);
    assert_non_null(row);
    snn_sha256 c;
    snn_sha256_init(&c);
    for (int64_t i = 0; i < m->n_rows; i++) {
        memset(row, 0, (size_t)m->n_cols * es);
        for (int64_t e = m->row[i]; e < m->row[i + 1]; e++) {
            if (conn) row[m->col[e]] = 1;
            else memcpy(row + (size_t)m->col[e] * es, &m->w[e], es);
        }
        snn_sha256_update(&c, row, (size_t)m->n_cols * es);
    }
    free(row);
    uint8_t d[32];
    char hex[65];
    snn_sha256_final(&c, d);
    snn_sha256_to_hex(d, hex);
    hex[16] = '\0';
    assert_string_equal(hex, expected);
}

/* Small matrices as dense arrays, for checks written over the grid. */
typedef struct dense {
    uint8_t *conn, *conn_ff;
    float *w, *w_ff;
} dense;

static dense densify(const snn_structure *s) {
    dense d;
    d.conn = calloc((size_t)(s->n * s->n) + 1, 1);
    d.w = calloc((size_t)(s->n * s->n) + 1, sizeof(float));
    d.conn_ff = calloc((size_t)(s->n_in * s->n) + 1, 1);
    d.w_ff = calloc((size_t)(s->n_in * s->n) + 1, sizeof(float));
    assert_true(d.conn && d.w && d.conn_ff && d.w_ff);
    snn_sparse_to_dense(&s->rec, d.conn, d.w);
    snn_sparse_to_dense(&s->ff, d.conn_ff, d.w_ff);
    return d;
}

static void dense_free(dense *d) {
    free(d->conn);
    free(d->w);
    free(d->conn_ff);
    free(d->w_ff);
}

/* A generator's edges as a dense rows x cols adjacency (each edge once). */
static uint8_t *edges_adj(const snn_edges *e, int64_t rows, int64_t cols) {
    uint8_t *a = calloc((size_t)(rows * cols) + 1, 1);
    assert_non_null(a);
    for (int64_t k = 0; k < e->n; k++) {
        assert_int_equal(a[e->pre[k] * cols + e->post[k]], 0);
        a[e->pre[k] * cols + e->post[k]] = 1;
    }
    return a;
}

/* Log-normal weights over a dense adjacency, returned dense (w, and w64 when given). */
static void weights_dense(snn_nprandom *rng, const uint8_t *adj, int64_t rows, int64_t cols, const int64_t *src,
                          const int64_t *tgt, const double mu[SNN_MAX_TYPES][SNN_MAX_TYPES],
                          const double var[SNN_MAX_TYPES][SNN_MAX_TYPES], float *w, double *w64) {
    snn_sparse m;
    snn_error err = {0};
    assert_int_equal(snn_sparse_from_dense(&m, rows, cols, adj, NULL, &err), SNN_OK);
    double *x = calloc((size_t)m.nnz + 1, sizeof *x);
    assert_non_null(x);
    snn_lognormal_weights(rng, &m, src, tgt, mu, var, x);
    snn_sparse_to_dense(&m, NULL, w);
    if (w64)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t e = m.row[i]; e < m.row[i + 1]; e++) w64[i * cols + m.col[e]] = x[e];
    free(x);
    snn_sparse_free(&m);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill_2x2(double m[SNN_MAX_TYPES][SNN_MAX_TYPES], double a, double b, double c, double d) {
    m[0][0] = a;
    m[0][1] = b;
    m[1][0] = c;
    m[1][1] = d;
}

/* The stage-1 parameters with the toy (Appendix B) or shipped (section 3.1) sizes; synapse and
 * physiology values are plausible but play no part in the connectome. */
static void make_params(snn_params *p, int64_t n, int assemblies, int64_t n_in) {
    memset(p, 0, sizeof *p);
    strcpy(p->path, "toy.toml");
    p->stage = SNN_STAGE_CONNECTOME;
    p->sim.dt = 1.0;
    p->sim.has_duration = 1;
    p->sim.duration = 1000.0;
    p->sim.seed = 43;
    p->sim.chunk_size = 1000;

    snn_layer_params *r = &p->rec;
    r->n_types = 2;
    strcpy(r->type_names[0], "excitatory");
    strcpy(r->type_names[1], "inhibitory");
    r->has_proportion = 1;
    r->proportion[0] = 0.8;
    r->proportion[1] = 0.2;
    r->has_physiology = 1;
    for (int t = 0; t < 2; t++) {
        r->physiology[t] = (snn_physiology){t ? 50.0 : 85.0, t ? -45.0 : -38.0, -60.0, -60.0,
                                            t ? 0.9 : 1.35, 8.0};
    }
    r->n_synapses = 3;
    r->synapses[0] = (snn_synapse_param){"AMPA", 0, 0.1, 5.0, 0.0, 0.4177};
    r->synapses[1] = (snn_synapse_param){"NMDA", 0, 10.0, 70.0, 0.0, 0.0448};
    r->synapses[2] = (snn_synapse_param){"GABA_A", 1, 1.0, 6.0, -70.0, 0.8139};
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
    f->n_synapses = 2;
    f->synapses[0] = (snn_synapse_param){"AMPA", 0, 0.1, 5.0, 0.0, 0.4177};
    f->synapses[1] = (snn_synapse_param){"NMDA", 0, 10.0, 70.0, 0.0, 0.0448};
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
    f->has_activity = 1;
    f->firing_rate[0] = 6.0;
}

/* The stage-2 (homeostatic-plasticity.toml) weight parameters. */
static void make_stage2_weights(snn_params *p) {
    fill_2x2(p->rec.w_mu, 0.1, 0.05, 0.2, 0.19);
    p->ff.w_mu[0][0] = 0.05;
    p->ff.w_mu[0][1] = 0.02;
}

static int64_t count_ones(const uint8_t *a, size_t n) {
    int64_t c = 0;
    for (size_t i = 0; i < n; i++) c += a[i];
    return c;
}

static void test_sha256_known_answers(void **state) {
    (void)state;
    sha16("abc", 3, "ba7816bf8f01cfea");
    sha16("", 0, "e3b0c44298fc1c14");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes: 2 blocks */
    sha16(two, strlen(two), "248d6a61d20638b8");
}

/* Appendix B, toy stage-1 run, replayed step by step through the lower-level functions. */
static void test_toy_stage1_steps(void **state) {
    (void)state;
    snn_params p;
    make_params(&p, 200, 4, 60);
    const int64_t n = 200, n_in = 60;
    snn_nprandom rng;
    snn_np_seed(&rng, 43);
    snn_error err;
    snn_error_clear(&err);
    snn_graph_work work;
    memset(&work, 0, sizeof work);

    int64_t cti[200], ffi[60];
    assert_int_equal(snn_cell_types_assign(&rng, n, 2, p.rec.proportion, 0, "rec", cti, &err), SNN_OK);
    const int64_t first20[20] = {0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0};
    for (int i = 0; i < 20; i++) assert_int_equal(cti[i], first20[i]);
    sha16(cti, sizeof cti, "c77d2932df75acd3");
    const int64_t e_per_asm[4] = {38, 40, 40, 42};
    for (int a = 0; a < 4; a++) {
        int64_t e = 0;
        for (int i = 0; i < 50; i++) e += cti[a * 50 + i] == 0;
        assert_int_equal(e, e_per_asm[a]);
    }

    int32_t asm_ids[200];
    snn_edges edges = {0};
    assert_int_equal(snn_assembly_graph(&rng, cti, n, 2, 4, p.rec.conn_within, p.rec.conn_between,
                                        p.rec.type_names, "rec", &edges, asm_ids, &work, &err),
                     SNN_OK);
    uint8_t *adj = edges_adj(&edges, n, n);
    snn_edges_free(&edges);
    assert_int_equal(count_ones(adj, (size_t)(n * n)), 3818);
    sha16(adj, (size_t)(n * n), "070842be3c85547e");
    const int64_t outdeg[10] = {16, 18, 17, 17, 19, 25, 25, 18, 18, 17};
    for (int i = 0; i < 10; i++) assert_int_equal(count_ones(adj + i * n, (size_t)n), outdeg[i]);
    for (int i = 0; i < 200; i++) assert_int_equal(asm_ids[i], i / 50);

    float *w = calloc((size_t)(n * n), sizeof *w);
    double *w64 = calloc((size_t)(n * n), sizeof *w64);
    weights_dense(&rng, adj, n, n, cti, cti, p.rec.w_mu, p.rec.w_sigma, w, w64);
    double sum = 0.0;
    for (int64_t k = 0; k < n * n; k++) sum += w64[k];
    assert_float_equal(sum, 1515.71147388123, 1515.71147388123 * 1e-12);
    sha16(w, (size_t)(n * n) * sizeof *w, "fa442d3d7f22aef5");
    assert_true(w64[1] == 0.58421083337250523);
    assert_true(w64[9] == 0.4823742877910403);
    assert_true(w64[10] == 0.85858435840887959);

    assert_int_equal(snn_cell_types_assign(&rng, n_in, 1, p.ff.proportion, 0, "ff", ffi, &err), SNN_OK);
    for (int i = 0; i < 60; i++) assert_int_equal(ffi[i], 0);
    assert_int_equal(snn_configuration_graph(&rng, ffi, n_in, 1, cti, n, 2, p.ff.conn_inputs, 1,
                                             &edges, 0, 0, NULL, &work, &err),
                     SNN_OK);
    uint8_t *adj_ff = edges_adj(&edges, n_in, n);
    snn_edges_free(&edges);
    assert_int_equal(count_ones(adj_ff, (size_t)(n_in * n)), 600);
    sha16(adj_ff, (size_t)(n_in * n), "95dec9901ac0e195");
    float *w_ff = calloc((size_t)(n_in * n), sizeof *w_ff);
    double *w_ff64 = calloc((size_t)(n_in * n), sizeof *w_ff64);
    weights_dense(&rng, adj_ff, n_in, n, ffi, cti, p.ff.w_mu, p.ff.w_sigma, w_ff, w_ff64);
    sum = 0.0;
    for (int64_t k = 0; k < n_in * n; k++) sum += w_ff64[k];
    assert_float_equal(sum, 256.337042052965, 256.337042052965 * 1e-12);
    sha16(w_ff, (size_t)(n_in * n) * sizeof *w_ff, "ed653e4c465ebf01");
    assert_true(snn_np_random(&rng) == 0.071131655340476052);

    snn_graph_work_free(&work);
    free(adj);
    free(w);
    free(w64);
    free(adj_ff);
    free(w_ff);
    free(w_ff64);
}

/* The same run through the public entry point. */
static void test_toy_stage1_generate(void **state) {
    (void)state;
    snn_params p;
    make_params(&p, 200, 4, 60);
    snn_structure s;
    snn_error err;
    snn_error_clear(&err);
    snn_nprandom rng;
    snn_np_seed(&rng, 43);
    assert_int_equal(snn_connectome_generate_rng(&p, 0, &rng, &s, &err), SNN_OK);
    assert_int_equal(s.n, 200);
    assert_int_equal(s.n_in, 60);
    sha16(s.cell_types, 200 * sizeof(int64_t), "c77d2932df75acd3");
    sha16_dense(&s.rec, 1, "070842be3c85547e");
    sha16_dense(&s.rec, 0, "fa442d3d7f22aef5");
    sha16_dense(&s.ff, 1, "95dec9901ac0e195");
    sha16_dense(&s.ff, 0, "ed653e4c465ebf01");
    for (int i = 0; i < 60; i++) assert_int_equal(s.ff_cell_types[i], 0);
    for (int i = 0; i < 200; i++) assert_int_equal(s.assembly_ids[i], i / 50);
    assert_true(snn_np_random(&rng) == 0.071131655340476052);
    assert_int_equal(s.has_scaling_factors, 0);
    free_structure(&s);

    /* the seeding entry point gives the same network */
    assert_int_equal(snn_connectome_generate(&p, 0, &s, &err), SNN_OK);
    sha16_dense(&s.rec, 0, "fa442d3d7f22aef5");
    free_structure(&s);
}

/* Appendix B, balanced assignment (fresh seed 43, N = 200, A = 4). */
static void test_balanced_assignment(void **state) {
    (void)state;
    snn_nprandom rng;
    snn_np_seed(&rng, 43);
    snn_error err;
    snn_error_clear(&err);
    const double prop[2] = {0.8, 0.2};
    int64_t cti[200];
    assert_int_equal(snn_cell_types_assign(&rng, 200, 2, prop, 4, "rec", cti, &err), SNN_OK);
    const int64_t first20[20] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 20; i++) assert_int_equal(cti[i], first20[i]);
    for (int a = 0; a < 4; a++) {
        int64_t e = 0;
        for (int i = 0; i < 50; i++) e += cti[a * 50 + i] == 0;
        assert_int_equal(e, 40);
    }
}

/* Checks one type block of the adjacency: exactly round-half-even(p |Is| |It|) edges, every source's
 * out-degree and every target's in-degree floor or ceil of the mean. */
static void check_block(const uint8_t *adj, int64_t ld, const int64_t *types_s, int64_t s0, int64_t ns_all,
                        const int64_t *types_t, int64_t t0, int64_t nt_all, int s, int t, double p) {
    int64_t is[6000], it[6000], ns = 0, nt = 0;
    for (int64_t i = s0; i < s0 + ns_all; i++)
        if (types_s[i] == s) is[ns++] = i;
    for (int64_t j = t0; j < t0 + nt_all; j++)
        if (types_t[j] == t) it[nt++] = j;
    const int64_t expect = (int64_t)rint(p * (double)ns * (double)nt);
    int64_t edges = 0;
    for (int64_t x = 0; x < ns; x++) {
        int64_t deg = 0;
        for (int64_t y = 0; y < nt; y++) deg += adj[is[x] * ld + it[y]];
        assert_true(deg == expect / ns || deg == (expect + ns - 1) / ns);
        edges += deg;
    }
    assert_int_equal(edges, expect);
    for (int64_t y = 0; y < nt; y++) {
        int64_t deg = 0;
        for (int64_t x = 0; x < ns; x++) deg += adj[is[x] * ld + it[y]];
        assert_true(deg == expect / nt || deg == (expect + nt - 1) / nt);
    }
}

static void test_block_properties(void **state) {
    (void)state;
    snn_params p;
    make_params(&p, 400, 5, 90);
    p.sim.seed = 7;
    snn_structure s;
    snn_error err;
    snn_error_clear(&err);
    assert_int_equal(snn_connectome_generate(&p, 0, &s, &err), SNN_OK);
    dense d = densify(&s);
    const int64_t n = 400, S = 80;
    int64_t n_exc = 0;
    for (int i = 0; i < n; i++) n_exc += s.cell_types[i] == 0;
    assert_int_equal(n_exc, 320);
    for (int64_t a = 0; a < 5; a++)
        for (int64_t b = 0; b < 5; b++)
            for (int st = 0; st < 2; st++)
                for (int tt = 0; tt < 2; tt++)
                    check_block(d.conn, n, s.cell_types, a * S, S, s.cell_types, b * S, S, st, tt,
                                a == b ? p.rec.conn_within[st][tt] : p.rec.conn_between[st][tt]);
    /* no self-loops; the reference's between-assembly exclusion of a*S + k -> b*S + k */
    for (int64_t a = 0; a < 5; a++)
        for (int64_t b = 0; b < 5; b++)
            for (int64_t k = 0; k < S; k++) assert_int_equal(d.conn[(a * S + k) * n + b * S + k], 0);
    for (int tt = 0; tt < 2; tt++)
        check_block(d.conn_ff, n, s.ff_cell_types, 0, 90, s.cell_types, 0, n, 0, tt,
                    p.ff.conn_inputs[0][tt]);
    /* weights exactly where the connectivity is, positive */
    for (int64_t k = 0; k < n * n; k++) assert_true((d.w[k] > 0.0f) == (d.conn[k] == 1));
    for (int64_t k = 0; k < 90 * n; k++) assert_true((d.w_ff[k] > 0.0f) == (d.conn_ff[k] == 1));
    dense_free(&d);
    free_structure(&s);

    /* balanced: exactly 64 E + 16 I per assembly, blocks still exact */
    assert_int_equal(snn_connectome_generate(&p, 1, &s, &err), SNN_OK);
    d = densify(&s);
    for (int64_t a = 0; a < 5; a++) {
        int64_t e = 0;
        for (int64_t i = 0; i < S; i++) e += s.cell_types[a * S + i] == 0;
        assert_int_equal(e, 64);
        for (int st = 0; st < 2; st++)
            for (int tt = 0; tt < 2; tt++)
                check_block(d.conn, n, s.cell_types, a * S, S, s.cell_types, a * S, S, st, tt,
                            p.rec.conn_within[st][tt]);
    }
    dense_free(&d);
    free_structure(&s);
}

/* Log-normal weights in "linear" space: the block's weights have mean w_mu and variance w_sigma. */
static void test_lognormal_moments(void **state) {
    (void)state;
    double mu, sigma;
    snn_lognormal_params(0.4, 0.1, &mu, &sigma);
    assert_float_equal(mu, -1.1590, 5e-5);
    assert_float_equal(sigma, 0.6968, 5e-5);
    snn_lognormal_params(0.05, 0.1, &mu, &sigma);
    assert_float_equal(mu, -4.8525, 5e-5);
    assert_float_equal(sigma, 1.9271, 5e-5);
    snn_lognormal_params(-1.0, 0.0, &mu, &sigma); /* clamped mean, zero variance */
    assert_float_equal(mu, log(2.220446049250313e-16), 1e-12);
    assert_true(sigma == 0.0);

    const int64_t n = tu_sanitized() ? 200 : 600;
    uint8_t *adj = malloc((size_t)(n * n));
    memset(adj, 1, (size_t)(n * n));
    int64_t *types = calloc((size_t)n, sizeof *types);
    for (int64_t i = n / 2; i < n; i++) types[i] = 1;
    float *w = calloc((size_t)(n * n), sizeof *w);
    double m[SNN_MAX_TYPES][SNN_MAX_TYPES] = {{0}}, v[SNN_MAX_TYPES][SNN_MAX_TYPES] = {{0}};
    fill_2x2(m, 0.4, 0.2, 1.0, 2.0);
    fill_2x2(v, 0.1, 0.01, 0.5, 0.2);
    snn_nprandom rng;
    snn_np_seed(&rng, 5);
    weights_dense(&rng, adj, n, n, types, types, m, v, w, NULL);
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < 2; t++) {
            double sum = 0.0, sq = 0.0, cnt = 0.0;
            for (int64_t i = s * n / 2; i < (s + 1) * n / 2; i++)
                for (int64_t j = t * n / 2; j < (t + 1) * n / 2; j++) {
                    sum += w[i * n + j];
                    sq += (double)w[i * n + j] * w[i * n + j];
                    cnt += 1.0;
                }
            const double mean = sum / cnt, var = sq / cnt - mean * mean;
            assert_float_equal(mean, m[s][t], 0.03 * m[s][t]);
            assert_float_equal(var, v[s][t], 0.2 * v[s][t]);
        }
    free(adj);
    free(types);
    free(w);
}

/* Blocks that cannot be built are input errors naming the block, never a hang. */
static void test_impossible_blocks(void **state) {
    (void)state;
    snn_error err;
    snn_nprandom rng;
    snn_graph_work work;
    memset(&work, 0, sizeof work);
    const char names[2][SNN_NAME_MAX] = {"excitatory", "inhibitory"};
    snn_graph_names gn = {"recurrent connectome, assembly 3 -> 3", names, names};
    double conn[SNN_MAX_TYPES][SNN_MAX_TYPES] = {{0}};
    const int64_t two[2] = {0, 0};
    snn_edges ed = {0};
    /* one edge among two same-type neurons: numpy seeds 1 and 3 draw the self-loop stub pair, which
     * the reference's repair loop can never fix */
    conn[0][0] = 0.2;
    for (uint32_t seed = 1; seed <= 3; seed += 2) {
        snn_error_clear(&err);
        ed.n = 0;
        snn_np_seed(&rng, seed);
        const double t0 = now_s();
        assert_int_equal(snn_configuration_graph(&rng, two, 2, 2, two, 2, 2, conn, 0, &ed, 0, 0, &gn,
                                                 &work, &err),
                         SNN_EINPUT);
        assert_true(now_s() - t0 < 10.0); /* "not a hang", with room for a loaded machine */
        assert_non_null(strstr(err.msg, "assembly 3 -> 3"));
        assert_non_null(strstr(err.msg, "excitatory -> excitatory"));
    }
    /* seed 2 succeeds: a single off-diagonal edge */
    snn_error_clear(&err);
    ed.n = 0;
    snn_np_seed(&rng, 2);
    assert_int_equal(
        snn_configuration_graph(&rng, two, 2, 2, two, 2, 2, conn, 0, &ed, 0, 0, &gn, &work, &err), SNN_OK);
    uint8_t *adj = edges_adj(&ed, 2, 2);
    assert_int_equal(adj[0] + adj[1] + adj[2] + adj[3], 1);
    assert_int_equal(adj[0] + adj[3], 0);
    free(adj);

    /* more edges than allowed pairs, detected up front */
    conn[0][0] = 1.0;
    snn_error_clear(&err);
    snn_np_seed(&rng, 1);
    assert_int_equal(
        snn_configuration_graph(&rng, two, 2, 2, two, 2, 2, conn, 0, &ed, 0, 0, &gn, &work, &err),
        SNN_EINPUT);
    snn_edges_free(&ed);
    assert_non_null(strstr(err.msg, "needs 4 edges but only 2 pairs"));
    assert_non_null(strstr(err.msg, "excitatory -> excitatory"));
    snn_graph_work_free(&work);

    /* through the entry point: one neuron per assembly, so the between block's only pair is the
     * excluded k -> k pair */
    snn_params p;
    make_params(&p, 2, 2, 4);
    p.rec.proportion[0] = 1.0;
    p.rec.proportion[1] = 0.0;
    fill_2x2(p.rec.conn_within, 0.0, 0.0, 0.0, 0.0);
    fill_2x2(p.rec.conn_between, 1.0, 0.0, 0.0, 0.0);
    snn_structure s;
    snn_error_clear(&err);
    assert_int_equal(snn_connectome_generate(&p, 0, &s, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "toy.toml"));
    assert_non_null(strstr(err.msg, "assembly 0 -> 1"));
    assert_non_null(strstr(err.msg, "excitatory -> excitatory"));
    assert_null(s.rec.row);

    /* a complete block (every allowed pair) is filled even where the random repair stalls */
    make_params(&p, 40, 2, 10);
    p.ff.conn_inputs[0][0] = p.ff.conn_inputs[0][1] = 1.0;
    snn_error_clear(&err);
    int rc = snn_connectome_generate(&p, 0, &s, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, SNN_OK);
    assert_int_equal(s.ff.nnz, 400);
    free_structure(&s);

    /* a feasible block too dense for the repair: an error after the stall cap, not a hang */
    make_params(&p, 40, 2, 10);
    p.ff.conn_inputs[0][0] = 0.99;
    snn_error_clear(&err);
    const double t0 = now_s();
    assert_int_equal(snn_connectome_generate(&p, 0, &s, &err), SNN_EINPUT);
    assert_true(now_s() - t0 < (tu_sanitized() ? 120.0 : 20.0)); /* not a hang, on a loaded machine too */
    assert_non_null(strstr(err.msg, "[feedforward] connectome: block mitral -> excitatory"));
    assert_null(s.rec.row);
}

/* A dense block that wanders for thousands of repair passes before it settles (as in the reference)
 * must not be cut off: N = 300, A = 4 with I -> E at 0.6 (21 I x 54 E, 680 edges, seed 43 needs about
 * 2500 passes). */
static void test_slow_block_finishes(void **state) {
    (void)state;
    snn_params p;
    make_params(&p, 300, 4, 40);
    fill_2x2(p.rec.conn_within, 0.4, 0.4, 0.6, 0.4);
    fill_2x2(p.rec.conn_between, 0.15, 0.15, 0.15, 0.15);
    snn_structure s;
    snn_error err;
    snn_error_clear(&err);
    int rc = snn_connectome_generate(&p, 0, &s, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, SNN_OK);
    dense d = densify(&s);
    for (int64_t a = 0; a < 4; a++)
        for (int st = 0; st < 2; st++)
            for (int tt = 0; tt < 2; tt++)
                check_block(d.conn, 300, s.cell_types, a * 75, 75, s.cell_types, a * 75, 75, st, tt,
                            p.rec.conn_within[st][tt]);
    dense_free(&d);
    free_structure(&s);
}

/* N not divisible by A: full-size output, tail neurons in assembly -1 and connected. */
static void test_tail_neurons(void **state) {
    (void)state;
    snn_params p;
    make_params(&p, 203, 4, 30);
    snn_error err;
    for (int balanced = 0; balanced <= 1; balanced++) {
        snn_structure s;
        snn_error_clear(&err);
        assert_int_equal(snn_connectome_generate(&p, balanced, &s, &err), SNN_OK);
        dense d = densify(&s);
        const int64_t n = 203;
        assert_int_equal(s.n, n);
        for (int64_t i = 0; i < n; i++) assert_int_equal(s.assembly_ids[i], i < 200 ? i / 50 : -1);
        int64_t n_exc = 0;
        for (int64_t i = 0; i < n; i++) n_exc += s.cell_types[i] == 0;
        if (!balanced) {
            assert_int_equal(n_exc, 162); /* round(203 * 0.8) */
        } else {
            /* the reference's balancing over the first 200: 162 E + 38 I give 40 E + 9 I per
             * assembly and type 0 pads the 50th slot; the tail gets what is left: 3 of the 5 I */
            for (int64_t a = 0; a < 4; a++) {
                int64_t e = 0;
                for (int64_t i = 0; i < 50; i++) e += s.cell_types[a * 50 + i] == 0;
                assert_int_equal(e, 41);
            }
            for (int64_t i = 200; i < n; i++) assert_int_equal(s.cell_types[i], 1);
        }
        for (int64_t i = 0; i < n; i++) assert_int_equal(d.conn[i * n + i], 0);
        int64_t tail_out = 0, tail_in = 0;
        for (int64_t i = 200; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                tail_out += d.conn[i * n + j];
                tail_in += d.conn[j * n + i];
            }
        assert_true(tail_out > 0);
        assert_true(tail_in > 0);
        /* the assembly blocks are exact as before; tail blocks use conn_between */
        for (int st = 0; st < 2; st++)
            for (int tt = 0; tt < 2; tt++) {
                check_block(d.conn, n, s.cell_types, 0, 50, s.cell_types, 0, 50, st, tt,
                            p.rec.conn_within[st][tt]);
                check_block(d.conn, n, s.cell_types, 200, 3, s.cell_types, 50, 50, st, tt,
                            p.rec.conn_between[st][tt]);
                check_block(d.conn, n, s.cell_types, 100, 50, s.cell_types, 200, 3, st, tt,
                            p.rec.conn_between[st][tt]);
            }
        for (int64_t k = 0; k < n * n; k++) assert_true((d.w[k] > 0.0f) == (d.conn[k] == 1));
        dense_free(&d);
        free_structure(&s);
    }
}

/* No assemblies: one block with conn_within, every neuron in assembly -1. */
static void test_no_assemblies(void **state) {
    (void)state;
    snn_params p;
    make_params(&p, 150, 0, 20);
    snn_structure s;
    snn_error err;
    snn_error_clear(&err);
    assert_int_equal(snn_connectome_generate(&p, 1, &s, &err), SNN_OK);
    dense d = densify(&s);
    for (int i = 0; i < 150; i++) assert_int_equal(s.assembly_ids[i], -1);
    for (int st = 0; st < 2; st++)
        for (int tt = 0; tt < 2; tt++)
            check_block(d.conn, 150, s.cell_types, 0, 150, s.cell_types, 0, 150, st, tt,
                        p.rec.conn_within[st][tt]);
    for (int i = 0; i < 150; i++) assert_int_equal(d.conn[i * 150 + i], 0);
    dense_free(&d);
    free_structure(&s);
}

/* Parameter problems are input errors naming the file and table. */
static void test_bad_parameters(void **state) {
    (void)state;
    snn_params p;
    snn_structure s;
    snn_error err;

    make_params(&p, 100, 4, 20);
    p.sim.seed = 4294967296ull;
    snn_error_clear(&err);
    assert_int_equal(snn_connectome_generate(&p, 0, &s, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "seed"));
    assert_null(s.rec.row);

    make_params(&p, 100, 4, 20);
    p.rec.has_weights = 0;
    snn_error_clear(&err);
    assert_int_equal(snn_connectome_generate(&p, 0, &s, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "toy.toml: [recurrent.weights]"));

    make_params(&p, 100, 4, 20);
    p.ff.has_proportion = 0;
    snn_error_clear(&err);
    assert_int_equal(snn_connectome_generate(&p, 0, &s, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "[feedforward.cell_types] proportion"));

    make_params(&p, 100, 4, 20);
    p.rec.proportion[1] = 0.3;
    snn_error_clear(&err);
    assert_int_equal(snn_connectome_generate(&p, 0, &s, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "sum to 1.1"));

    make_params(&p, 3, 4, 20);
    snn_error_clear(&err);
    assert_int_equal(snn_connectome_generate(&p, 0, &s, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "num_assemblies = 4 exceeds num_neurons = 3"));
    assert_null(s.rec.row);
}

/* Appendix B full-size columns: stage 1 (conductance-based-Dp.toml) and stage 2 (balanced types,
 * homeostatic-plasticity.toml weights), seed 43, N = 5000, A = 20, N_in = 1500. */
typedef struct {
    const char *cti_sha;
    int64_t e_in_asm0;
    int64_t edges;
    const char *adj_sha, *w_sha;
    double first_w[3];
    int64_t ff_edges;
    const char *ff_sha, *w_ff_sha;
    double next_random;
} full_golden;

static void check_full(int balanced, const full_golden *g) {
    snn_params p;
    make_params(&p, 5000, 20, 1500);
    if (balanced) make_stage2_weights(&p);
    snn_structure s;
    snn_error err;
    snn_error_clear(&err);
    snn_nprandom rng;
    snn_np_seed(&rng, 43);
    const double t0 = now_s();
    int rc = snn_connectome_generate_rng(&p, balanced, &rng, &s, &err);
    const double t1 = now_s();
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, SNN_OK);
    fprintf(stderr, "full-size stage %d connectome: %.2f s, peak RSS %.0f MiB\n", balanced ? 2 : 1,
            t1 - t0, (double)snn_peak_rss_bytes() / 1048576.0);
    sha16(s.cell_types, 5000 * sizeof(int64_t), g->cti_sha);
    int64_t e0 = 0, n_e = 0;
    for (int i = 0; i < 250; i++) e0 += s.cell_types[i] == 0;
    for (int i = 0; i < 5000; i++) n_e += s.cell_types[i] == 0;
    assert_int_equal(e0, g->e_in_asm0);
    assert_int_equal(n_e, 4000);
    assert_int_equal(s.rec.nnz, g->edges);
    sha16_dense(&s.rec, 1, g->adj_sha);
    sha16_dense(&s.rec, 0, g->w_sha);
    for (int k = 0; k < 3; k++) assert_true(s.rec.w[k] == (float)g->first_w[k]);
    assert_int_equal(s.ff.nnz, g->ff_edges);
    sha16_dense(&s.ff, 1, g->ff_sha);
    sha16_dense(&s.ff, 0, g->w_ff_sha);
    assert_true(snn_np_random(&rng) == g->next_random);
    for (int i = 0; i < 5000; i++) assert_int_equal(s.assembly_ids[i], i / 250);
    free_structure(&s);
}

static void test_full_size_stage1(void **state) {
    (void)state;
    if (tu_sanitized()) skip();
    const full_golden g = {"6fc3a04b5c531556", 203, 1477366, "1d90ce203b4fe403", "b56d4441ae312f5d",
                           {0.11480376110135558, 0.12105330272688684, 0.26183838844325158},
                           375000, "b86c938660d26bb8", "0213f0aef5d4c705", 0.588753392966335};
    check_full(0, &g);
}

static void test_full_size_stage2(void **state) {
    (void)state;
    if (tu_sanitized()) skip();
    const full_golden g = {"b44a28701e45ba13", 200, 1477500, "0b80acca37a149c9", "204d7c8596599b07",
                           {0.14809352130136977, 0.0051872407940715994, 0.31044792595724691},
                           375000, "dcaac28baf55608a", "5d578cb3ad4d0b0a", 0.8241957262469336};
    check_full(1, &g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_answers),
        cmocka_unit_test(test_toy_stage1_steps),
        cmocka_unit_test(test_toy_stage1_generate),
        cmocka_unit_test(test_balanced_assignment),
        cmocka_unit_test(test_block_properties),
        cmocka_unit_test(test_lognormal_moments),
        cmocka_unit_test(test_impossible_blocks),
        cmocka_unit_test(test_slow_block_finishes),
        cmocka_unit_test(test_tail_neurons),
        cmocka_unit_test(test_no_assemblies),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_full_size_stage1),
        cmocka_unit_test(test_full_size_stage2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
