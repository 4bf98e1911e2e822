/* Benchmark of a teacher-forced evaluation against a plain forward pass of the same data (issue 8):
 *   bench_forced_eval TEACHER.toml NETWORK.npz SPIKE_DATA.zarr [trials] [steps] [repeats] [variants]
 * reads `trials` x `steps` of the teacher store (default: all), then times, `repeats` times each, with
 * the threads OpenMP gives it:
 *   forward      the free-running simulator (snn_forward_chunk) over the data's inputs
 *   forced       the teacher-forced loss alone
 *   forced+sf    the loss and its scaling-factor gradient (forward-mode sensitivities): one L-BFGS
 *                evaluation
 *   forced+gn    ... and the Gauss-Newton matrix (once, for the standard errors)
 *   forced+w     the loss and the per-synapse weight gradient (weights mode)
 * and prints the median seconds of each and its ratio to the forward pass. `variants` (e.g.
 * "forward,forced+sf") restricts the list (the forward pass always runs: it is the reference). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/params.h"
#include "core/error.h"
#include "core/progress.h"
#include "io/zarr.h"
#include "model/forced.h"
#include "model/lif.h"
#include "model/network.h"
#include "model/structure.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s TEACHER.toml NETWORK.npz SPIKE_DATA.zarr [trials] [steps] [repeats]\n", argv[0]);
        return 2;
    }
    snn_error err = {0};
    static snn_params p;
    snn_structure s = {0};
    snn_network net = {0};
    if (snn_params_load(argv[1], SNN_STAGE_TEACHER, &p, &err) ||
        snn_structure_load(argv[2], p.rec.n_types, p.ff.n_types, &s, &err) ||
        snn_network_build(&net, &p.rec, &p.ff, &s, p.sim.dt, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    snn_zarr_group *g = snn_zarr_open_group(argv[3], &err);
    snn_zarr_array *ai = g ? snn_zarr_open_array(g, "input_spikes", &err) : NULL;
    snn_zarr_array *ao = g ? snn_zarr_open_array(g, "output_spikes", &err) : NULL;
    if (!ai || !ao) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    const int64_t *sh = snn_zarr_shape(ao);
    int B = argc > 4 ? atoi(argv[4]) : (int)sh[0];
    int64_t T = argc > 5 ? atoll(argv[5]) : sh[1];
    int reps = argc > 6 ? atoi(argv[6]) : 3;
    if (B > sh[0]) B = (int)sh[0];
    if (T > sh[1]) T = sh[1];
    const int64_t n = net.n, n_in = net.n_in;
    uint8_t *in = malloc((size_t)B * T * n_in + 1), *te = malloc((size_t)B * T * n), *out = malloc((size_t)B * T * n);
    int64_t st0[3] = {0, 0, 0}, ci[3] = {B, T, n_in}, co[3] = {B, T, n};
    if (!in || !te || !out || snn_zarr_read_region(ai, st0, ci, in, &err) || snn_zarr_read_region(ao, st0, co, te, &err)) {
        fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    snn_events ev_t, ev_i;
    if (snn_events_alloc(&ev_t, B, T, n, &err) || snn_events_alloc(&ev_i, B, T, n_in, &err) ||
        snn_events_append(&ev_t, te, T, &err) || snn_events_append(&ev_i, in, T, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    snn_state st;
    snn_forced_state fs;
    snn_forced_work w_sf, w_w;
    if (snn_state_alloc(&st, &net, B, &err) || snn_forced_state_alloc(&fs, &net, B, &err) ||
        snn_forced_work_alloc(&w_sf, &net, B, T, 0, &err) || snn_forced_work_alloc(&w_w, &net, B, T, 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double *gw = calloc((size_t)net.rec.nnz + 1, sizeof(double)), *gwf = calloc((size_t)net.ff.nnz + 1, sizeof(double));
    double gn[SNN_MAX_TYPES * SNN_MAX_GROUPS * SNN_MAX_GROUPS];
    printf("network %lld neurons, %lld inputs, %lld + %lld synapses; data %d trials x %lld steps; %lld teacher "
           "spikes, %lld input spikes\n",
           (long long)n, (long long)n_in, (long long)net.rec.nnz, (long long)net.ff.nnz, B, (long long)T,
           (long long)snn_events_count(&ev_t), (long long)snn_events_count(&ev_i));
    const char *names[5] = {"forward", "forced", "forced+sf", "forced+gn", "forced+w"};
    double med[5];
    for (int what = 0; what < 5; what++) {
        if (what > 0 && argc > 7 && !strstr(argv[7], names[what])) continue;
        if (what > 0 && argc > 7) {
            /* "forced" must not match "forced+sf" */
            const char *hit = strstr(argv[7], names[what]);
            size_t len = strlen(names[what]);
            int exact = 0;
            while (hit) {
                if ((hit == argv[7] || hit[-1] == ',') && (hit[len] == ',' || hit[len] == '\0')) exact = 1;
                hit = strstr(hit + 1, names[what]);
            }
            if (!exact) continue;
        }
        double times[64];
        for (int r = 0; r < reps && r < 64; r++) {
            double t0 = snn_now();
            if (what == 0) {
                snn_state_reset(&st, &net);
                snn_forward_chunk(&net, &st, T, in, out, NULL, 0);
            } else {
                snn_forced_state_reset(&fs, &net);
                snn_forced_opts o = {.loss = SNN_SPIKE_LOSS_CROSS_ENTROPY, .delta = 0.2, .sens = what == 2 || what == 3,
                                     .gn = what == 3, .weights = what == 4};
                snn_forced_sums sums;
                snn_forced_run(&net, &fs, &ev_t, &ev_i, 0, T, &o, &sums, gw, gwf, gn, what == 4 ? &w_w : &w_sf);
            }
            times[r] = snn_now() - t0;
        }
        med[what] = median(times, reps);
        printf("%-10s %8.3f s  (%.2fx the forward pass; median of %d)\n", names[what], med[what], med[what] / med[0],
               reps);
    }
    return 0;
}
