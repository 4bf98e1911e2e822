/* The forward pass against the independent float64 PyTorch model (tools/reference_model.py,
 * fixtures written by tools/make_fixtures.py): identical spike trains and voltages within 1e-3 mV,
 * with the reference's model (tau_ref = 0) and with an 8 ms refractory period. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npz.h"
#include "model/lif.h"
#include "model/network.h"
#include "model/structure.h"
#include "testutil.h"

typedef struct fixture {
    snn_layer_params rec, ff;
    snn_structure s;
    double dt;
    int64_t B, T, n, n_in, v_stride, n_vsteps;
    uint8_t *inputs, *spikes;
    float *voltages, *final_g;
    double *final_v;
} fixture;

static void read_or_fail(snn_npz *z, const char *key, snn_dtype dt, snn_array *a) {
    snn_error err = {0};
    int rc = snn_npz_read(z, key, a, &err);
    if (rc) fail_msg("%s", err.msg);
    if (a->dtype != dt) {
        snn_array b = *a;
        b.dtype = dt;
        b.data = malloc(snn_array_count(a) * snn_dtype_size(dt) + 1);
        snn_dtype_convert(a->data, a->dtype, b.data, dt, snn_array_count(a));
        snn_array_free(a);
        *a = b;
    }
}

static void load_fixture(const char *name, fixture *f) {
    memset(f, 0, sizeof *f);
    snn_error err = {0};
    snn_npz *z = snn_npz_open(tu_src(name), &err);
    if (!z) fail_msg("%s", err.msg);
    snn_array a;
    read_or_fail(z, "dt", SNN_F64, &a);
    f->dt = *(double *)a.data;
    snn_array_free(&a);
    snn_array phys, syn_rec, syn_ff, ct, fft, w, conn, wff, connff;
    read_or_fail(z, "physiology", SNN_F64, &phys);
    read_or_fail(z, "syn_rec", SNN_F64, &syn_rec);
    read_or_fail(z, "syn_ff", SNN_F64, &syn_ff);
    read_or_fail(z, "cell_types", SNN_I64, &ct);
    read_or_fail(z, "ff_types", SNN_I64, &fft);
    read_or_fail(z, "W", SNN_F32, &w);
    read_or_fail(z, "conn", SNN_BOOL, &conn);
    read_or_fail(z, "W_ff", SNN_F32, &wff);
    read_or_fail(z, "conn_ff", SNN_BOOL, &connff);
    f->n = w.shape[0];
    f->n_in = wff.shape[0];
    assert_int_equal(snn_structure_alloc(&f->s, f->n, f->n_in, &err), SNN_OK);
    memcpy(f->s.w, w.data, (size_t)f->n * f->n * sizeof(float));
    memcpy(f->s.conn, conn.data, (size_t)f->n * f->n);
    memcpy(f->s.w_ff, wff.data, (size_t)f->n_in * f->n * sizeof(float));
    memcpy(f->s.conn_ff, connff.data, (size_t)f->n_in * f->n);
    memcpy(f->s.cell_types, ct.data, (size_t)f->n * sizeof(int64_t));
    memcpy(f->s.ff_cell_types, fft.data, (size_t)f->n_in * sizeof(int64_t));

    const double *ph = phys.data;
    f->rec.n_types = (int)phys.shape[0];
    for (int t = 0; t < f->rec.n_types; t++) {
        snprintf(f->rec.type_names[t], SNN_NAME_MAX, "type%d", t);
        snn_physiology *p = &f->rec.physiology[t];
        p->tau_mem = ph[6 * t + 0];
        p->theta = ph[6 * t + 1];
        p->U_reset = ph[6 * t + 2];
        p->E_L = ph[6 * t + 3];
        p->g_L = ph[6 * t + 4];
        p->tau_ref = ph[6 * t + 5];
    }
    f->ff.n_types = 1;
    snn_array *syns[2] = {&syn_rec, &syn_ff};
    snn_layer_params *layers[2] = {&f->rec, &f->ff};
    for (int l = 0; l < 2; l++) {
        const double *sp = syns[l]->data;
        layers[l]->n_synapses = (int)syns[l]->shape[0];
        for (int q = 0; q < layers[l]->n_synapses; q++) {
            snn_synapse_param *y = &layers[l]->synapses[q];
            snprintf(y->name, SNN_NAME_MAX, "syn%d", q);
            y->owner = (int)sp[5 * q + 0];
            y->tau_rise = sp[5 * q + 1];
            y->tau_decay = sp[5 * q + 2];
            y->E_syn = sp[5 * q + 3];
            y->g_bar = sp[5 * q + 4];
        }
    }
    snn_array in, spk, volt, fv, fg, vs;
    read_or_fail(z, "inputs", SNN_BOOL, &in);
    read_or_fail(z, "spikes", SNN_BOOL, &spk);
    read_or_fail(z, "voltages", SNN_F32, &volt);
    read_or_fail(z, "final_v", SNN_F64, &fv);
    read_or_fail(z, "final_g", SNN_F32, &fg);
    read_or_fail(z, "v_stride", SNN_I64, &vs);
    f->B = in.shape[0];
    f->T = in.shape[1];
    f->v_stride = *(int64_t *)vs.data;
    f->n_vsteps = volt.shape[1];
    f->inputs = in.data;
    f->spikes = spk.data;
    f->voltages = volt.data;
    f->final_v = fv.data;
    f->final_g = fg.data;
    snn_array_free(&vs);
    snn_array *tmp[] = {&phys, &syn_rec, &syn_ff, &ct, &fft, &w, &conn, &wff, &connff};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) snn_array_free(tmp[i]);
    snn_npz_free(z);
}

static void free_fixture(fixture *f) {
    snn_structure_free(&f->s);
    free(f->inputs);
    free(f->spikes);
    free(f->voltages);
    free(f->final_v);
    free(f->final_g);
}

/* Runs the fixture's inputs through the C simulator in chunks of `chunk` steps and compares. */
static void check_against_reference(const char *name, int64_t chunk, int threads) {
    fixture f;
    load_fixture(name, &f);
    snn_error err = {0};
    snn_network net;
    assert_int_equal(snn_network_build(&net, &f.rec, &f.ff, &f.s, f.dt, &err), SNN_OK);
    snn_state st;
    assert_int_equal(snn_state_alloc(&st, &net, (int)f.B, &err), SNN_OK);
    uint8_t *out = calloc((size_t)(f.B * f.T * f.n), 1);
    uint8_t *out_chunk = calloc((size_t)(f.B * chunk * f.n), 1);
    uint8_t *in_chunk = calloc((size_t)(f.B * chunk * f.n_in), 1);
    float *v = calloc((size_t)(f.B * f.T * f.n), sizeof(float));
    snn_track tracks[16];
    omp_set_num_threads(threads);
    for (int64_t t0 = 0; t0 < f.T; t0 += chunk) {
        int64_t L = f.T - t0 < chunk ? f.T - t0 : chunk;
        for (int64_t b = 0; b < f.B; b++) {
            memcpy(in_chunk + (size_t)(b * L * f.n_in), f.inputs + (size_t)((b * f.T + t0) * f.n_in),
                   (size_t)(L * f.n_in));
            tracks[b] = (snn_track){.trial = (int)b, .n_neurons = (int)f.n, .row0 = t0,
                                    .v = v + (size_t)(b * f.T * f.n)};
        }
        snn_forward_chunk(&net, &st, L, in_chunk, out_chunk, tracks, (int)f.B);
        for (int64_t b = 0; b < f.B; b++)
            memcpy(out + (size_t)((b * f.T + t0) * f.n), out_chunk + (size_t)(b * L * f.n), (size_t)(L * f.n));
    }
    long spikes = 0, mismatched = 0;
    for (int64_t i = 0; i < f.B * f.T * f.n; i++) {
        spikes += f.spikes[i];
        mismatched += f.spikes[i] != out[i];
    }
    print_message("%s: %ld reference spikes, %ld mismatched\n", name, spikes, mismatched);
    assert_true(spikes > 1000);
    assert_int_equal(mismatched, 0);
    double max_dv = 0;
    for (int64_t b = 0; b < f.B; b++)
        for (int64_t q = 0; q < f.n_vsteps; q++) {
            int64_t t = (q + 1) * f.v_stride - 1;
            for (int64_t j = 0; j < f.n; j++) {
                double d = fabs(v[(b * f.T + t) * f.n + j] - f.voltages[(b * f.n_vsteps + q) * f.n + j]);
                if (d > max_dv) max_dv = d;
            }
        }
    int S = net.n_cols;
    double max_dg = 0;
    for (int64_t b = 0; b < f.B; b++)
        for (int64_t j = 0; j < f.n; j++) {
            double d = fabs(st.v[b * f.n + j] - f.final_v[b * f.n + j]);
            if (d > max_dv) max_dv = d;
            for (int c = 0; c < 2; c++)
                for (int s = 0; s < S; s++) {
                    double mine = st.g[((b * 2 + c) * S + s) * f.n + j];
                    double ref = f.final_g[((b * f.n + j) * 2 + c) * S + s];
                    if (fabs(mine - ref) > max_dg) max_dg = fabs(mine - ref);
                }
        }
    print_message("%s: max |dv| = %.3g mV, max |dG| = %.3g nS\n", name, max_dv, max_dg);
    assert_true(max_dv < 1e-3);
    assert_true(max_dg < 1e-3);
    free(out);
    free(out_chunk);
    free(in_chunk);
    free(v);
    snn_state_free(&st);
    snn_network_free(&net);
    free_fixture(&f);
}

static void test_reference_model_no_refractory(void **state) {
    (void)state;
    check_against_reference("tests/fixtures/model/forward_ref0.npz", 400, 2);
}

static void test_refractory_8ms(void **state) {
    (void)state;
    check_against_reference("tests/fixtures/model/forward_ref8.npz", 400, 2);
}

/* State carries over between chunks, whatever their length, and threads do not matter. */
static void test_chunked_and_single_thread(void **state) {
    (void)state;
    check_against_reference("tests/fixtures/model/forward_ref8.npz", 37, 1);
    check_against_reference("tests/fixtures/model/forward_ref0.npz", 100, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_model_no_refractory),
        cmocka_unit_test(test_refractory_8ms),
        cmocka_unit_test(test_chunked_and_single_thread),
    };
    return cmocka_run_group_tests_name("lif", tests, NULL, NULL);
}
