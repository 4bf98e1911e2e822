/* Teacher forcing (model/forced.c) against torch autograd (tools/make_fixtures.py forced, float64): the
 * spike-time loss, its gradient with respect to the scaling factors (forward mode) and to every synapse
 * (reverse), the Gauss-Newton matrix, the counts of reproduced and extra spikes and the final voltages,
 * with an 8 ms refractory period and with none, the cross-entropy and the squared hinge, and thousands
 * of clamped conductances. Gradients within 2e-3 of the largest (float32 state) and 1e-6 in the float64
 * build. Also: a student at the teacher's own parameters replays the free-running model exactly; the
 * two gradient methods agree; chunked runs carry the state; threads do not change a bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>

#include "model/forced.h"
#include "model/lif.h"
#include "model/network.h"
#include "model_fixture.h"

#define TOL (sizeof(snn_real) == 8 ? 1e-6 : 2e-3)

typedef struct forced_case {
    fixture f;
    double sf[4], sf_ff[2], delta, loss;
    int64_t kind, burn_in, count, counts[6], T;
    uint8_t *teacher;
    double *final_v, *grad_sf, *grad_sf_ff, *gn, *grad_w, *grad_w_ff;
    int64_t n_w, n_w_ff;
} forced_case;

static double scalar(snn_npz *z, const char *key) {
    snn_array a;
    read_or_fail(z, key, SNN_F64, &a);
    double v = *(double *)a.data;
    snn_array_free(&a);
    return v;
}

static void load_case(const char *name, forced_case *c) {
    memset(c, 0, sizeof *c);
    snn_error err = {0};
    snn_npz *z = snn_npz_open(tu_src(name), &err);
    if (!z) fail_msg("%s", err.msg);
    load_network_fixture(z, &c->f);
    snn_array a, in, te;
    read_or_fail(z, "sf", SNN_F64, &a);
    memcpy(c->sf, a.data, sizeof c->sf);
    snn_array_free(&a);
    read_or_fail(z, "sf_ff", SNN_F64, &a);
    memcpy(c->sf_ff, a.data, sizeof c->sf_ff);
    snn_array_free(&a);
    c->delta = scalar(z, "delta");
    c->loss = scalar(z, "loss");
    c->kind = (int64_t)scalar(z, "kind");
    c->burn_in = (int64_t)scalar(z, "burn_in");
    c->count = (int64_t)scalar(z, "count");
    read_or_fail(z, "counts", SNN_I64, &a);
    memcpy(c->counts, a.data, sizeof c->counts);
    snn_array_free(&a);
    read_or_fail(z, "inputs", SNN_BOOL, &in);
    read_or_fail(z, "teacher", SNN_BOOL, &te);
    c->f.B = in.shape[0];
    c->T = in.shape[1];
    c->f.inputs = in.data;
    c->teacher = te.data;
    read_or_fail(z, "final_v", SNN_F64, &a);
    c->final_v = a.data;
    if (read_ref_grads(z, &c->grad_sf, &c->grad_sf_ff, &c->grad_w, &c->n_w, &c->grad_w_ff, &c->n_w_ff)) {
        read_or_fail(z, "gn", SNN_F64, &a);
        c->gn = a.data;
    }
    snn_npz_free(z);
}

static void free_case(forced_case *c) {
    snn_structure_free(&c->f.s);
    free(c->f.inputs);
    free(c->teacher);
    free(c->final_v);
    free(c->grad_sf);
    free(c->grad_sf_ff);
    free(c->gn);
    free(c->grad_w);
    free(c->grad_w_ff);
}

typedef struct run_out {
    snn_forced_sums sums;
    double gn[2 * 3 * 3];
    double *gw, *gw_ff;
    double *v;
} run_out;

/* Runs the case with the given gradient, over the whole span or in chunks of `chunk` steps. */
static void run(forced_case *c, snn_network *net, int weights, int threads, int64_t chunk, run_out *r) {
    snn_error err = {0};
    const int B = (int)c->f.B;
    const int64_t T = c->T, n = c->f.n, n_in = c->f.n_in;
    omp_set_num_threads(threads);
    snn_events te, in;
    assert_int_equal(snn_events_alloc(&te, B, T, n, &err), SNN_OK);
    assert_int_equal(snn_events_alloc(&in, B, T, n_in, &err), SNN_OK);
    /* appended in pieces, as the trainer reads chunks */
    uint8_t *buf = malloc((size_t)(B * 50 * (n > n_in ? n : n_in)));
    for (int64_t t0 = 0; t0 < T; t0 += 50) {
        int64_t L = T - t0 < 50 ? T - t0 : 50;
        for (int b = 0; b < B; b++) memcpy(buf + b * L * n, c->teacher + (b * T + t0) * n, (size_t)(L * n));
        assert_int_equal(snn_events_append(&te, buf, L, &err), SNN_OK);
        for (int b = 0; b < B; b++) memcpy(buf + b * L * n_in, c->f.inputs + (b * T + t0) * n_in, (size_t)(L * n_in));
        assert_int_equal(snn_events_append(&in, buf, L, &err), SNN_OK);
    }
    free(buf);
    snn_forced_state st;
    assert_int_equal(snn_forced_state_alloc(&st, net, B, &err), SNN_OK);
    snn_forced_work w;
    assert_int_equal(snn_forced_work_alloc(&w, net, B, chunk, weights, &err), SNN_OK);
    memset(r, 0, sizeof *r);
    r->gw = calloc((size_t)net->rec.nnz + 1, sizeof(double));
    r->gw_ff = calloc((size_t)net->ff.nnz + 1, sizeof(double));
    for (int64_t t0 = 0; t0 < T; t0 += chunk) {
        int64_t L = T - t0 < chunk ? T - t0 : chunk;
        snn_forced_opts o = {.loss = (snn_spike_loss)c->kind, .delta = c->delta, .t_first = t0,
                             .burn_in = c->burn_in, .sens = !weights, .gn = !weights, .weights = weights};
        snn_forced_sums s;
        double gn[18];
        snn_forced_run(net, &st, &te, &in, t0, L, &o, &s, r->gw, r->gw_ff, gn, &w);
        r->sums.loss += s.loss;
        r->sums.count += s.count;
        for (int l = 0; l < 2; l++) {
            r->sums.teacher_spikes[l] += s.teacher_spikes[l];
            r->sums.reproduced[l] += s.reproduced[l];
            r->sums.extra[l] += s.extra[l];
        }
        for (int k = 0; k < 4; k++) r->sums.g_sf[k] += s.g_sf[k];
        for (int k = 0; k < 2; k++) r->sums.g_sf_ff[k] += s.g_sf_ff[k];
        if (!weights)
            for (int k = 0; k < 18; k++) r->gn[k] += gn[k];
    }
    r->v = malloc((size_t)(B * n) * sizeof(double));
    memcpy(r->v, st.v, (size_t)(B * n) * sizeof(double));
    snn_forced_work_free(&w);
    snn_forced_state_free(&st);
    snn_events_free(&te);
    snn_events_free(&in);
}

static void free_out(run_out *r) {
    free(r->gw);
    free(r->gw_ff);
    free(r->v);
}

static void build(forced_case *c, snn_network *net) {
    snn_error err = {0};
    assert_int_equal(snn_network_build(net, &c->f.rec, &c->f.ff, &c->f.s, c->f.dt, &err), SNN_OK);
    snn_network_set_scaling(net, c->sf, c->sf_ff);
}

static void check_common(const char *name, forced_case *c, run_out *r) {
    const int64_t B = c->f.B, n = c->f.n;
    double le = fabs(r->sums.loss - c->loss) / fabs(c->loss);
    print_message("%s: loss C %.10g torch %.10g (rel %.2e) over %lld elements\n", name, r->sums.loss, c->loss, le,
                  (long long)r->sums.count);
    assert_true(le < TOL);
    assert_int_equal(r->sums.count, c->count);
    for (int l = 0; l < 2; l++) {
        assert_int_equal(r->sums.teacher_spikes[l], c->counts[3 * l + 0]);
        assert_int_equal(r->sums.reproduced[l], c->counts[3 * l + 1]);
        assert_int_equal(r->sums.extra[l], c->counts[3 * l + 2]);
    }
    double max_dv = 0;
    for (int64_t k = 0; k < B * n; k++) max_dv = fmax(max_dv, fabs(r->v[k] - c->final_v[k]));
    print_message("%s: final v within %.2e mV; reproduced %lld + %lld of %lld + %lld teacher spikes\n", name, max_dv,
                  (long long)r->sums.reproduced[0], (long long)r->sums.reproduced[1],
                  (long long)r->sums.teacher_spikes[0], (long long)r->sums.teacher_spikes[1]);
    assert_true(max_dv < (sizeof(snn_real) == 8 ? 1e-9 : 1e-3));
}

static void scaling_factor_case(const char *name, int threads) {
    forced_case c;
    load_case(name, &c);
    snn_network net;
    build(&c, &net);
    run_out r;
    run(&c, &net, 0, threads, c.T, &r);
    check_common(name, &c, &r);
    double e1 = rel_err(r.sums.g_sf, c.grad_sf, 4), e2 = rel_err(r.sums.g_sf_ff, c.grad_sf_ff, 2);
    print_message("%s: dL/dSF C [%.6g %.6g %.6g %.6g] torch [%.6g %.6g %.6g %.6g] rel %.2e; SF_FF rel %.2e\n", name,
                  r.sums.g_sf[0], r.sums.g_sf[1], r.sums.g_sf[2], r.sums.g_sf[3], c.grad_sf[0], c.grad_sf[1],
                  c.grad_sf[2], c.grad_sf[3], e1, e2);
    for (int k = 0; k < 4; k++) assert_true(fabs(r.sums.g_sf[k] - c.grad_sf[k]) <= TOL * fabs(c.grad_sf[k]) + 1e-9);
    for (int k = 0; k < 2; k++)
        assert_true(fabs(r.sums.g_sf_ff[k] - c.grad_sf_ff[k]) <= TOL * fabs(c.grad_sf_ff[k]) + 1e-9);
    double eg = rel_err(r.gn, c.gn, 18);
    print_message("%s: Gauss-Newton matrix rel %.2e (largest entry %.4g)\n", name, eg, c.gn[0]);
    assert_true(eg < TOL);
    free_out(&r);
    snn_network_free(&net);
    free_case(&c);
}

static void test_sf_refractory_cross_entropy(void **state) {
    (void)state;
    scaling_factor_case("tests/fixtures/model/forced_sf_ref8.npz", 2);
}

static void test_sf_no_refractory_squared_hinge(void **state) {
    (void)state;
    scaling_factor_case("tests/fixtures/model/forced_sf_ref0_hinge.npz", 2);
}

static void test_weights(void **state) {
    (void)state;
    const char *name = "tests/fixtures/model/forced_w_ref8.npz";
    forced_case c;
    load_case(name, &c);
    snn_network net;
    build(&c, &net);
    assert_int_equal(c.n_w, net.rec.nnz);
    assert_int_equal(c.n_w_ff, net.ff.nnz);
    run_out r;
    run(&c, &net, 1, 2, c.T, &r);
    check_common(name, &c, &r);
    double e1 = rel_err(r.gw, c.grad_w, c.n_w), e2 = rel_err(r.gw_ff, c.grad_w_ff, c.n_w_ff);
    long nonzero = 0;
    for (int64_t k = 0; k < c.n_w; k++) nonzero += c.grad_w[k] != 0;
    print_message("%s: dL/dw of %lld synapses (%ld nonzero) rel %.2e, feedforward rel %.2e\n", name,
                  (long long)c.n_w, nonzero, e1, e2);
    assert_true(nonzero > 1000);
    assert_true(e1 < TOL);
    assert_true(e2 < TOL);
    free_out(&r);
    snn_network_free(&net);
    free_case(&c);
}

/* The scaling-factor gradient by the reverse pass (sum over a type pair's synapses of dL/dw w / SF)
 * equals the forward-mode one. */
static void test_two_gradient_methods_agree(void **state) {
    (void)state;
    forced_case c;
    load_case("tests/fixtures/model/forced_sf_ref8.npz", &c);
    snn_network net;
    build(&c, &net);
    run_out fwd, rev;
    run(&c, &net, 0, 2, c.T, &fwd);
    run(&c, &net, 1, 2, c.T, &rev);
    double g[4] = {0}, gf[2] = {0};
    for (int64_t i = 0; i < net.n; i++)
        for (int64_t e = net.rec.row[i]; e < net.rec.row[i + 1]; e++) {
            int k = net.type[i], l = net.type[net.rec.col[e]];
            g[k * 2 + l] += rev.gw[e] * net.rec.w[e] / net.sf[k][l];
        }
    for (int64_t m = 0; m < net.n_in; m++)
        for (int64_t e = net.ff.row[m]; e < net.ff.row[m + 1]; e++)
            gf[net.type[net.ff.col[e]]] += rev.gw_ff[e] * net.ff.w[e] / net.sf_ff[0][net.type[net.ff.col[e]]];
    double e1 = rel_err(g, fwd.sums.g_sf, 4), e2 = rel_err(gf, fwd.sums.g_sf_ff, 2);
    print_message("reverse vs forward mode: SF rel %.2e, SF_FF rel %.2e\n", e1, e2);
    assert_true(e1 < (sizeof(snn_real) == 8 ? 1e-9 : 1e-4));
    assert_true(e2 < (sizeof(snn_real) == 8 ? 1e-9 : 1e-4));
    assert_true(fwd.sums.loss == rev.sums.loss);
    free_out(&fwd);
    free_out(&rev);
    snn_network_free(&net);
    free_case(&c);
}

/* Chunks carry the state: the loss, the counts and the final state of a run in chunks of 37 steps are
 * those of one run over the span (the gradient is the chunks' truncated one, not compared). */
static void test_chunks_carry_state(void **state) {
    (void)state;
    forced_case c;
    load_case("tests/fixtures/model/forced_sf_ref8.npz", &c);
    snn_network net;
    build(&c, &net);
    run_out whole, parts;
    run(&c, &net, 0, 2, c.T, &whole);
    run(&c, &net, 0, 2, 37, &parts);
    assert_true(fabs(whole.sums.loss - parts.sums.loss) <= 1e-12 * whole.sums.loss);
    assert_int_equal(whole.sums.count, parts.sums.count);
    assert_int_equal(whole.sums.reproduced[0], parts.sums.reproduced[0]);
    assert_int_equal(whole.sums.extra[1], parts.sums.extra[1]);
    assert_memory_equal(whole.v, parts.v, (size_t)(c.f.B * c.f.n) * sizeof(double));
    free_out(&whole);
    free_out(&parts);
    snn_network_free(&net);
    free_case(&c);
}

static void test_thread_count_does_not_matter(void **state) {
    (void)state;
    for (int weights = 0; weights < 2; weights++) {
        forced_case c;
        load_case(weights ? "tests/fixtures/model/forced_w_ref8.npz" : "tests/fixtures/model/forced_sf_ref8.npz", &c);
        snn_network net;
        build(&c, &net);
        run_out a, b;
        run(&c, &net, weights, 1, c.T, &a);
        run(&c, &net, weights, 2, c.T, &b);
        assert_memory_equal(&a.sums, &b.sums, sizeof a.sums);
        assert_memory_equal(a.gn, b.gn, sizeof a.gn);
        assert_memory_equal(a.gw, b.gw, (size_t)net.rec.nnz * sizeof(double));
        assert_memory_equal(a.gw_ff, b.gw_ff, (size_t)net.ff.nnz * sizeof(double));
        free_out(&a);
        free_out(&b);
        snn_network_free(&net);
        free_case(&c);
    }
}

/* A student with the teacher's parameters, forced by the teacher's own spikes (from the free-running
 * simulator), has the teacher's voltages: it reproduces every spike, adds none, and ends in the
 * teacher's state. */
static void test_identity_with_free_run(void **state) {
    (void)state;
    forced_case c;
    load_case("tests/fixtures/model/forced_sf_ref8.npz", &c);
    snn_error err = {0};
    snn_network net;
    assert_int_equal(snn_network_build(&net, &c.f.rec, &c.f.ff, &c.f.s, c.f.dt, &err), SNN_OK);
    const int B = (int)c.f.B;
    const int64_t T = c.T, n = c.f.n;
    snn_state st;
    assert_int_equal(snn_state_alloc(&st, &net, B, &err), SNN_OK);
    uint8_t *spikes = calloc((size_t)(B * T * n), 1);
    snn_forward_chunk(&net, &st, T, c.f.inputs, spikes, NULL, 0);
    /* the student is forced by these spikes (the free-running C teacher's) */
    memcpy(c.teacher, spikes, (size_t)(B * T * n));
    c.burn_in = 0;
    run_out r;
    run(&c, &net, 0, 2, T, &r);
    long total = 0;
    for (int64_t k = 0; k < B * T * n; k++) total += spikes[k];
    double max_dv = 0;
    for (int64_t k = 0; k < B * n; k++) max_dv = fmax(max_dv, fabs(r.v[k] - st.v[k]));
    print_message("identity: %ld teacher spikes, reproduced %lld, extra %lld, final |dv| %.3g mV (%s)\n", total,
                  (long long)(r.sums.reproduced[0] + r.sums.reproduced[1]),
                  (long long)(r.sums.extra[0] + r.sums.extra[1]), max_dv, max_dv == 0 ? "bit-identical" : "not bit-identical");
    assert_true(total > 1000);
    assert_int_equal(r.sums.reproduced[0] + r.sums.reproduced[1], total);
    assert_int_equal(r.sums.extra[0] + r.sums.extra[1], 0);
    /* the same arithmetic as the simulator's step: bit-identical today; a tolerance in case the
     * simulator's summation order changes */
    assert_true(max_dv <= 1e-6);
    free(spikes);
    free_out(&r);
    snn_state_free(&st);
    snn_network_free(&net);
    free_case(&c);
}

/* The vectorised exp/log1p of the loss against libm over the whole range of z. */
static void test_loss_element(void **state) {
    (void)state;
    double worst = 0;
    for (double z = -800; z <= 800; z += 0.37) {
        for (int s = 0; s < 2; s++) {
            double l, dl, d2;
            snn_spike_loss_eval(SNN_SPIKE_LOSS_CROSS_ENTROPY, z, s, &l, &dl, &d2);
            /* softplus(z) - s z = softplus(+-z); sigmoid(z) - s = -+sigmoid(-+z) */
            double y = s ? -z : z, el = y > 0 ? y + log1p(exp(-y)) : log1p(exp(y));
            double sy = y >= 0 ? 1 / (1 + exp(-y)) : exp(y) / (1 + exp(y)), sig = s ? 1 - sy : sy;
            double e2 = exp(-fabs(z)) / ((1 + exp(-fabs(z))) * (1 + exp(-fabs(z))));
            if (fabs(z) > 700) continue; /* exp(-700) and below are taken as exp(-700) */
            worst = fmax(worst, fabs(l - el) / fmax(fabs(el), 1e-300));
            double edl = s ? -sy : sy;
            (void)sig;
            worst = fmax(worst, fabs(dl - edl) / fmax(fabs(edl), 1e-300));
            if (e2 > 1e-290) worst = fmax(worst, fabs(d2 - e2) / e2);
            snn_spike_loss_eval(SNN_SPIKE_LOSS_SQUARED_HINGE, z, s, &l, &dl, &d2);
            double yy = 2.0 * s - 1, m = fmax(0, 1 - yy * z);
            assert_true(l == m * m && dl == -2 * yy * m && d2 == (m > 0 ? 2.0 : 0.0));
        }
    }
    print_message("cross-entropy, sigmoid and curvature within %.2e of libm (relative)\n", worst);
    assert_true(worst < 2e-14);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_element),
        cmocka_unit_test(test_sf_refractory_cross_entropy),
        cmocka_unit_test(test_sf_no_refractory_squared_hinge),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_two_gradient_methods_agree),
        cmocka_unit_test(test_chunks_carry_state),
        cmocka_unit_test(test_thread_count_does_not_matter),
        cmocka_unit_test(test_identity_with_free_run),
    };
    return cmocka_run_group_tests_name("forced", tests, NULL, NULL);
}
