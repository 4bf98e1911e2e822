/* snnfit-engine-bench: times the simulator's engine alone (no input generation, no file output), on
 * a network and the recorded input spikes of a stage-3 store. For `make bench` and `make bench-brian2`.
 *
 *   snnfit-engine-bench PARAMS.toml NETWORK STORE [--trials B] [--steps T] [--repeats R]
 *                       [--backward] [--surrogate-cutoff X] [--spikes FILE]
 *
 * PARAMS.toml gives the physiology and synapses (a stage-3 parameter file), NETWORK a folder with
 * network_structure.npz, STORE a spike_data.zarr (its input_spikes, trials 0..B-1, steps 0..T-1).
 * Forward: every repeat starts from the initial state and runs B trials x T steps in chunks of 100
 * steps; prints the minimum and median time per trial-step, the rates per cell type and a hash of the
 * output spikes (equal hashes: identical spikes). --spikes writes the output spikes as raw bytes
 * [B][T][n]. --backward also times the training pair: the taped forward and the reverse pass over
 * one chunk of T steps (scaling-factor gradients, a fixed pseudo-random dL/ds), and prints the
 * gradients. The thread count is OpenMP's (OMP_NUM_THREADS). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/progress.h"
#include "io/zarr.h"
#include "model/lif.h"
#include "stages/stage.h"

/* CPU time of the whole process (all threads): on a shared machine, time slices lost to other
 * processes do not count, which wall time would */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void usage(void) {
    fprintf(stderr, "usage: snnfit-engine-bench PARAMS.toml NETWORK STORE [--trials B] [--steps T] [--repeats R] "
                    "[--backward] [--surrogate-cutoff X] [--spikes FILE]\n");
}

/* dL/ds: a fixed pseudo-random value per trial, step and neuron (timing only) */
static void fill_ds(void *ctx, int b, int64_t t, float *ds) {
    const int64_t n = *(const int64_t *)ctx;
    for (int64_t j = 0; j < n; j++) {
        uint32_t x = (uint32_t)(b * 2654435761u) ^ (uint32_t)(t * 40503u) ^ (uint32_t)(j * 2246822519u);
        x ^= x >> 15;
        x *= 2246822519u;
        x ^= x >> 13;
        ds[j] = ((float)(x & 0xffff) / 65536.0f - 0.5f) * 1e-3f;
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        usage();
        return 2;
    }
    const char *params_path = argv[1], *network = argv[2], *store = argv[3], *spikes_path = NULL;
    int64_t B = 1, T = 1000;
    int repeats = 3, backward = 0;
    double cutoff = 0;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--trials") && i + 1 < argc) B = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) T = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--backward")) backward = 1;
        else if (!strcmp(argv[i], "--surrogate-cutoff") && i + 1 < argc) cutoff = atof(argv[++i]);
        else if (!strcmp(argv[i], "--spikes") && i + 1 < argc) spikes_path = argv[++i];
        else {
            usage();
            return 2;
        }
    }
    if (B < 1 || T < 1 || repeats < 1) {
        usage();
        return 2;
    }
    snn_error err = {0};
    snn_params *p = calloc(1, sizeof *p);
    snn_structure s = {0};
    snn_network net = {0};
    char spath[4096];
    int rc = p ? snn_params_load(params_path, SNN_STAGE_TEACHER, p, &err) : snn_fail(&err, SNN_ERUN, "out of memory");
    if (!rc) rc = snn_stage_structure_path(network, spath, sizeof spath, &err);
    if (!rc) rc = snn_stage_load_network(p, spath, &s, &net, &err);
    if (rc) {
        fprintf(stderr, "Error: %s\n", err.msg);
        return rc;
    }
    const int64_t n = net.n, n_in = net.n_in, L = T < 100 ? T : 100;
    uint8_t *in = malloc((size_t)(B * T * n_in) + 1), *out = malloc((size_t)(B * T * n));
    uint8_t *in_c = malloc((size_t)(B * L * n_in) + 1), *out_c = malloc((size_t)(B * L * n));
    snn_zarr_group *g = snn_zarr_open_group(store, &err);
    snn_zarr_array *a = g ? snn_zarr_open_array(g, "input_spikes", &err) : NULL;
    if (!a || !in || !out || !in_c || !out_c) {
        fprintf(stderr, "Error: %s\n", err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    const int64_t *sh = snn_zarr_shape(a);
    if (sh[0] < B || sh[1] < T || sh[2] != n_in) {
        fprintf(stderr, "Error: %s: input_spikes has shape (%lld, %lld, %lld); need (>= %lld, >= %lld, %lld)\n", store,
                (long long)sh[0], (long long)sh[1], (long long)sh[2], (long long)B, (long long)T, (long long)n_in);
        return 2;
    }
    int64_t start[3] = {0, 0, 0}, count[3] = {B, T, n_in};
    if (snn_zarr_read_region(a, start, count, in, &err)) {
        fprintf(stderr, "Error: %s\n", err.msg);
        return 1;
    }
    snn_zarr_array_free(a);
    snn_zarr_group_free(g);

    snn_state st;
    if (snn_state_alloc(&st, &net, (int)B, &err)) {
        fprintf(stderr, "Error: %s\n", err.msg);
        return 1;
    }
    printf("engine bench: %lld neurons, %lld inputs, %lld + %lld synapses; %lld trials x %lld steps, %d threads\n",
           (long long)n, (long long)n_in, (long long)net.rec.nnz, (long long)net.ff.nnz, (long long)B, (long long)T,
           omp_get_max_threads());
    double *secs = calloc((size_t)repeats, sizeof *secs), *cpu = calloc((size_t)repeats, sizeof *cpu);
    for (int r = 0; r < repeats; r++) {
        snn_state_reset(&st, &net);
        double t0 = snn_now(), c0 = cpu_now();
        for (int64_t c0 = 0; c0 < T; c0 += L) {
            int64_t len = T - c0 < L ? T - c0 : L;
            for (int64_t b = 0; b < B; b++)
                memcpy(in_c + b * len * n_in, in + (b * T + c0) * n_in, (size_t)(len * n_in));
            snn_forward_chunk(&net, &st, len, in_c, out_c, NULL, 0);
            for (int64_t b = 0; b < B; b++) memcpy(out + (b * T + c0) * n, out_c + b * len * n, (size_t)(len * n));
        }
        secs[r] = snn_now() - t0;
        cpu[r] = cpu_now() - c0;
    }
    qsort(secs, (size_t)repeats, sizeof *secs, cmp_double);
    qsort(cpu, (size_t)repeats, sizeof *cpu, cmp_double);
    double per = 1e6 / (double)(B * T);
    printf("forward: %.2f us per trial-step (min of %d), median %.2f; CPU time %.2f us (min), median %.2f\n",
           secs[0] * per, repeats, secs[repeats / 2] * per, cpu[0] * per, cpu[repeats / 2] * per);
    for (int k = 0; k < net.n_types; k++) {
        int64_t cnt = 0, nk = 0;
        for (int64_t j = 0; j < n; j++)
            if (net.type[j] == k) nk++;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++)
                for (int64_t j = 0; j < n; j++) cnt += net.type[j] == k && out[(b * T + t) * n + j];
        printf("rate %s: %.4f Hz\n", p->rec.type_names[k], (double)cnt / ((double)nk * (double)(B * T) * net.dt / 1000.0));
    }
    printf("spike hash: %016llx\n", (unsigned long long)fnv1a(out, (size_t)(B * T * n)));
    if (spikes_path) {
        FILE *f = fopen(spikes_path, "wb");
        if (!f || fwrite(out, 1, (size_t)(B * T * n), f) != (size_t)(B * T * n) || fclose(f)) {
            fprintf(stderr, "Error: cannot write %s\n", spikes_path);
            return 1;
        }
    }

    if (backward) {
        snn_tape tape;
        snn_backward_work w;
        if (snn_tape_alloc(&tape, &net, (int)B, T, &err) || snn_backward_work_alloc(&w, &net, (int)B, &err)) {
            fprintf(stderr, "Error: %s\n", err.msg);
            return 1;
        }
        const int nt = net.n_types, nf = net.n_ff_types;
        double gsf[SNN_MAX_TYPES * SNN_MAX_TYPES], gff[SNN_MAX_TYPES * SNN_MAX_TYPES];
        double *fw = calloc((size_t)repeats, sizeof *fw), *bw = calloc((size_t)repeats, sizeof *bw);
        double *fc = calloc((size_t)repeats, sizeof *fc), *bc = calloc((size_t)repeats, sizeof *bc);
        int64_t nn = n;
        snn_spike_grad_source src = {fill_ds, &nn};
        for (int r = 0; r < repeats; r++) {
            snn_state_reset(&st, &net);
            double t0 = snn_now(), c0 = cpu_now();
            snn_forward_chunk_taped(&net, &st, T, in, out, NULL, 0, &tape);
            double t1 = snn_now(), c1 = cpu_now();
            memset(gsf, 0, sizeof gsf);
            memset(gff, 0, sizeof gff);
            snn_grads gr = {.sf = gsf, .sf_ff = gff};
            snn_backward_opts bo = {.surrogate_cutoff = cutoff};
            snn_backward_chunk_opts(&net, &tape, T, in, &src, NULL, 500.0, &gr, &w, &bo);
            double t2 = snn_now(), c2 = cpu_now();
            fw[r] = t1 - t0;
            bw[r] = t2 - t1;
            fc[r] = c1 - c0;
            bc[r] = c2 - c1;
        }
        /* how many trials have a neuron near threshold at a step: what a surrogate cutoff could skip
         * (the surrogate 1/(500|u| + 1)^2 is >= c when |u| <= (c^-1/2 - 1) / 500) */
        const double cuts[3] = {1e-6, 1e-4, 1e-2};
        for (int q = 0; q < 3; q++) {
            const double umax = (1.0 / sqrt(cuts[q]) - 1.0) / 500.0;
            int64_t rows = 0, pairs = 0;
            for (int64_t t = 0; t < T; t++)
                for (int64_t j = 0; j < n; j++) {
                    int64_t c = 0;
                    for (int64_t b = 0; b < B; b++) {
                        const uint16_t *fl = snn_tape_flags(&tape, (int)b, t);
                        const uint16_t *fp = t > 0 ? snn_tape_flags(&tape, (int)b, t - 1) : NULL;
                        double u = (fp && (fp[j] & 1)) ? (double)(net.u_reset[j] - net.theta[j])
                                                       : (double)snn_tape_v(&tape, (int)b, t)[j];
                        (void)fl;
                        c += fabs(u) <= umax;
                    }
                    rows += c > 0;
                    pairs += c;
                }
            printf("surrogate >= %g of its peak (|v - theta| <= %.3g mV): %.2f%% of neuron-steps in some trial, "
                   "%.2f%% of neuron-trial-steps\n", cuts[q], umax, 100.0 * (double)rows / (double)(T * n),
                   100.0 * (double)pairs / (double)(T * n * B));
        }
        qsort(fw, (size_t)repeats, sizeof *fw, cmp_double);
        qsort(bw, (size_t)repeats, sizeof *bw, cmp_double);
        qsort(fc, (size_t)repeats, sizeof *fc, cmp_double);
        qsort(bc, (size_t)repeats, sizeof *bc, cmp_double);
        printf("taped forward: %.2f us per trial-step (min of %d), median %.2f; CPU time %.2f us (min), median %.2f\n",
               fw[0] * per, repeats, fw[repeats / 2] * per, fc[0] * per, fc[repeats / 2] * per);
        printf("reverse pass: %.2f us per trial-step (min of %d), median %.2f; CPU time %.2f us (min), median %.2f\n",
               bw[0] * per, repeats, bw[repeats / 2] * per, bc[0] * per, bc[repeats / 2] * per);
        printf("dL/dSF:");
        for (int q = 0; q < nt * nt; q++) printf(" %.9e", gsf[q]);
        printf("\ndL/dSF_ff:");
        for (int q = 0; q < nf * nt; q++) printf(" %.9e", gff[q]);
        printf("\n");
        free(fw);
        free(bw);
        free(fc);
        free(bc);
        snn_tape_free(&tape);
        snn_backward_work_free(&w);
    }
    free(secs);
    free(cpu);
    snn_state_free(&st);
    free(in);
    free(out);
    free(in_c);
    free(out_c);
    snn_network_free(&net);
    snn_structure_free(&s);
    free(p);
    return 0;
}
