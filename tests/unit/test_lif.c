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

/* One trial split across threads (fewer trials than threads): spikes, voltages, the state and the
 * BPTT tape are bit for bit those of the same trial run whole on one thread, whatever the number of
 * parts (3 parts of this 240-neuron network have unequal sizes), and the spikes are the reference's. */
static void test_trial_split_across_threads(void **state) {
    (void)state;
    fixture f;
    load_fixture("tests/fixtures/model/forward_ref8.npz", &f);
    snn_error err = {0};
    snn_network net;
    assert_int_equal(snn_network_build(&net, &f.rec, &f.ff, &f.s, f.dt, &err), SNN_OK);
    const int64_t n = f.n, n_in = f.n_in, T = f.T, chunk = 53;
    const int threads[3] = {1, 2, 3};
    uint8_t *out[3];
    float *v[3];
    snn_state st[3];
    snn_tape tape[3];
    int64_t total = 0;
    for (int64_t b = 0; b < f.B; b++) {
        for (int q = 0; q < 3; q++) {
            out[q] = calloc((size_t)(T * n), 1);
            v[q] = calloc((size_t)(T * n), sizeof(float));
            omp_set_num_threads(threads[q]);
            assert_int_equal(snn_state_alloc(&st[q], &net, 1, &err), SNN_OK);
            assert_int_equal(snn_tape_alloc(&tape[q], &net, 1, chunk, &err), SNN_OK);
            st[q].split_min_neurons = 0;  /* split even this small network */
            for (int64_t t0 = 0; t0 < T; t0 += chunk) {
                int64_t L = T - t0 < chunk ? T - t0 : chunk;
                snn_track tr = {.trial = 0, .n_neurons = (int)n, .row0 = t0, .v = v[q]};
                /* every other chunk taped: both paths split */
                if ((t0 / chunk) % 2)
                    snn_forward_chunk_taped(&net, &st[q], L, f.inputs + (size_t)((b * T + t0) * n_in), out[q] + t0 * n,
                                            &tr, 1, &tape[q]);
                else
                    snn_forward_chunk(&net, &st[q], L, f.inputs + (size_t)((b * T + t0) * n_in), out[q] + t0 * n, &tr, 1);
            }
        }
        assert_true(st[1].n_parts == 2 && st[2].n_parts == 3);
        for (int q = 1; q < 3; q++) {
            assert_memory_equal(out[q], out[0], (size_t)(T * n));
            assert_memory_equal(v[q], v[0], (size_t)(T * n) * sizeof(float));
            assert_memory_equal(st[q].v, st[0].v, (size_t)n * sizeof(double));
            assert_memory_equal(st[q].ref, st[0].ref, (size_t)n * sizeof(int32_t));
            assert_memory_equal(st[q].g, st[0].g, (size_t)(2 * net.n_cols * n) * sizeof(snn_real));
            assert_memory_equal(tape[q].v, tape[0].v, (size_t)((chunk + 1) * n) * sizeof(snn_real));
            assert_memory_equal(tape[q].gsum, tape[0].gsum, (size_t)(chunk * n) * sizeof(snn_real));
            assert_memory_equal(tape[q].flags, tape[0].flags, (size_t)(chunk * n) * sizeof(uint16_t));
        }
        long mismatched = 0;
        for (int64_t k = 0; k < T * n; k++) {
            mismatched += out[0][k] != f.spikes[(size_t)(b * T * n + k)];
            total += out[0][k];
        }
        assert_int_equal(mismatched, 0);
        for (int q = 0; q < 3; q++) {
            free(out[q]);
            free(v[q]);
            snn_state_free(&st[q]);
            snn_tape_free(&tape[q]);
        }
    }
    print_message("split trials: %lld spikes, identical for 1, 2 and 3 parts\n", (long long)total);
    assert_true(total > 1000);
    snn_network_free(&net);
    free_fixture(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_model_no_refractory),
        cmocka_unit_test(test_refractory_8ms),
        cmocka_unit_test(test_chunked_and_single_thread),
        cmocka_unit_test(test_trial_split_across_threads),
    };
    return cmocka_run_group_tests_name("lif", tests, NULL, NULL);
}
