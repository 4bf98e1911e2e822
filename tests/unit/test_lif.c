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

#include "model_fixture.h"

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
