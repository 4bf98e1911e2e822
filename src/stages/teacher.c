/* snnfit teacher P.toml -i IN -o OUT (stage 3, SPEC section 5): odour patterns from the network's
 * feedforward weights, an independent OU mixing trajectory per trial, inhomogeneous Poisson inputs,
 * the network simulated chunk by chunk for all trials, everything streamed into
 * OUT/results/spike_data.zarr (written under a temporary name and renamed when complete). The last
 * plot_size chunks of trial 0 are replayed for the dashboard traces (results/dashboard_traces.npz).
 *
 * A network without learned scaling factors (a stage-1 network, not tuned by stage 2) is noted at the
 * start; when its rates then come out runaway (the first, excitatory, type above RUNAWAY_E_HZ or any
 * type above RUNAWAY_HZ) a warning says so and points to stage 2: such a teacher hardly responds to
 * the odours, and a student trained on it learns little.
 *
 * On several MPI ranks (core/par.h) each rank simulates a contiguous block of whole store chunks of
 * trials (TRIALS_PER_CHUNK trials each) and writes those chunks itself; rank 0 creates the store's
 * metadata, computes the OU weights of every trial (their array has one chunk over all trials; the
 * OU draws of a trial depend on (seed, trial, step) only), writes the console, the dashboards and the
 * rest, and renames the store into place once every rank has finished. Spike counts are integers,
 * summed exactly. Every byte written is the same for any number of ranks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "core/par.h"
#include "core/progress.h"
#include "inputs/odours.h"
#include "inputs/ou.h"
#include "inputs/poisson.h"
#include "io/zarr.h"
#include "model/spike_stats.h"
#include "plot/dashboards.h"
#include "stages/stage.h"
#include "stages/traces.h"

#define TRIALS_PER_CHUNK 5
#define RUNAWAY_E_HZ 10.0
#define RUNAWAY_HZ 50.0

typedef struct teacher_run {
    snn_params *p;
    snn_structure s;
    snn_network net;
    snn_state st, window_start;
    snn_ou ou;
    snn_poisson ps;
    double *patterns;
    int32_t *pattern_ids;
    int n_patterns;
    uint8_t *in[2], *out[2];   /* two chunks (one simulated, one written): [B][L][N_in], [B][L][N] */
    float *ouw[2];             /* [B][L][P] */
    int32_t *trial_counts;     /* [B][N] spike counts */
    uint8_t *win_in;           /* trial 0 over the plot window: [T_w][N_in] */
    float *win_ouw;            /* [T_w][P] */
    int64_t *counts;           /* spike counts per neuron, all trials */
    snn_zarr_writer *z_out, *z_in, *z_ou, *z_pat;
} teacher_run;

/* restrict: a uint8_t pointer may alias anything, which would keep this loop scalar */
static void add_counts(int32_t *restrict counts, const uint8_t *restrict spikes, int64_t T, int64_t n) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < n; j++) counts[j] += spikes[t * n + j];
}

/* CPU seconds of this process, all threads */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void teacher_free(teacher_run *r) {
    snn_zarr_writer_free(r->z_out);
    snn_zarr_writer_free(r->z_in);
    snn_zarr_writer_free(r->z_ou);
    snn_zarr_writer_free(r->z_pat);
    snn_free(r->patterns);
    snn_free(r->pattern_ids);
    snn_ou_free(&r->ou);
    snn_poisson_free(&r->ps);
    snn_state_free(&r->st);
    snn_state_free(&r->window_start);
    snn_network_free(&r->net);
    snn_structure_free(&r->s);
    for (int i = 0; i < 2; i++) {
        free(r->in[i]);
        free(r->out[i]);
        free(r->ouw[i]);
    }
    free(r->trial_counts);
    free(r->win_in);
    free(r->win_ouw);
    free(r->counts);
    free(r->p);
}

int snn_stage_teacher(const snn_stage_opts *o, snn_error *err) {
    teacher_run r = {0};
    r.p = calloc(1, sizeof *r.p);
    if (!r.p) return snn_par_sync(snn_fail(err, SNN_ERUN, "out of memory"), err);
    snn_params *p = r.p;
    const int rank = snn_par_rank(), n_ranks = snn_par_size();
    char spath[SNN_PATH_MAX], results[SNN_PATH_MAX], store[SNN_PATH_MAX], tmp_store[SNN_PATH_MAX] = "";
    int64_t n = 0, n_in = 0, L = 0, B = 0, n_chunks = 0, T = 0, tc = 1, n_tc = 0, k0 = 0, k1 = 0, b0 = 0, b1 = 0;
    int64_t plot_chunks = 0, first_plot_chunk = 0, T_w = 0;
    int P = 0;
    /* Phase 1, every rank: parameters, network, odour patterns, this rank's buffers (nothing written) */
    int rc = snn_stage_check_io(o, err);
    if (!rc) rc = snn_params_load(o->params_path, SNN_STAGE_TEACHER, p, err);
    if (!rc) rc = snn_stage_structure_path(o->input, spath, sizeof spath, err);
    if (!rc) rc = snn_stage_check_structure_memory(o, spath, err);
    if (!rc) rc = snn_stage_load_network(p, spath, &r.s, &r.net, err);
    if (!rc) {
        n = r.s.n, n_in = r.s.n_in, L = p->sim.chunk_size, B = p->sim.batch_size;
        n_chunks = snn_params_num_chunks(&p->sim), T = n_chunks * L;
        if (n_chunks < 1)
            rc = snn_fail(err, SNN_EINPUT,
                          "%s: [simulation] duration %g ms is shorter than one chunk (%lld steps of %g ms)",
                          o->params_path, p->sim.duration, (long long)L, p->sim.dt);
    }
    if (!rc) {
        const snn_odour_params *odp[SNN_MAX_TYPES];
        const char *ffn[SNN_MAX_TYPES];
        for (int t = 0; t < p->ff.n_types; t++) {
            odp[t] = &p->odours[t];
            ffn[t] = p->ff.type_names[t];
        }
        snn_odour_network on = {.n_inputs = n_in, .n_neurons = n, .ff = &r.s.ff, .ff_type = r.s.ff_cell_types,
                                .cell_type = r.s.cell_types, .assembly = r.s.assembly_ids, .target_type = 0,
                                .n_ff_types = p->ff.n_types, .odours = odp, .ff_type_names = ffn};
        rc = snn_odour_patterns(&on, &r.patterns, &r.pattern_ids, &r.n_patterns, err);
        if (rc && err && rc == SNN_EINPUT) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            snprintf(err->msg, sizeof err->msg, "%.1000s: %.1000s", spath, m);
        }
    }
    if (!rc) {
        P = r.n_patterns;
        snn_mem_net z;
        snn_mem_estimate est;
        snn_mem_net_of(p, &r.s, &z);
        snn_est_teacher(p, &z, P, &est);
        rc = snn_stage_check_memory(o, &est, o->params_path, err);
    }
    if (!rc) {
        /* Spike chunks hold TRIALS_PER_CHUNK trials so that a time window is compressed by several threads
         * at once (one Blosc thread per chunk: Blosc's own threads make the bytes depend on timing); a rank
         * owns whole chunks of trials, [b0, b1). */
        tc = B < TRIALS_PER_CHUNK ? B : TRIALS_PER_CHUNK, n_tc = (B + tc - 1) / tc;
        snn_par_block(n_tc, rank, n_ranks, &k0, &k1);
        b0 = k0 * tc, b1 = k1 * tc < B ? k1 * tc : B;
        rc = snn_ou_init(&r.ou, P, (int)B, p->sim.dt, p->ou_tau, p->ou_temperature, p->ou_sigma, p->sim.seed, err);
    }
    const int64_t nb = b1 - b0, nb1 = nb > 0 ? nb : 1;
    if (!rc) rc = snn_poisson_init_mixture(&r.ps, n_in, P, r.patterns, p->sim.dt, p->sim.seed, SNN_RNG_POISSON, err);
    if (!rc) rc = snn_state_alloc(&r.st, &r.net, (int)nb1, err);
    if (!rc) rc = snn_state_alloc(&r.window_start, &r.net, 1, err);
    if (!rc) {
        plot_chunks = p->sim.plot_size < n_chunks ? p->sim.plot_size : n_chunks;
        first_plot_chunk = n_chunks - plot_chunks, T_w = plot_chunks * L;
        for (int i = 0; i < 2; i++) {
            r.in[i] = snn_calloc((size_t)(nb1 * L * n_in + 1), 1, "input spikes of a chunk", err);
            r.out[i] = snn_calloc((size_t)(nb1 * L * n), 1, "output spikes of a chunk", err);
            r.ouw[i] = snn_calloc((size_t)(B * L * P), sizeof(float), "OU weights of a chunk", err);
        }
        r.trial_counts = snn_calloc((size_t)(nb1 * n), sizeof(int32_t), "spike counts", err);
        r.win_in = snn_calloc((size_t)(T_w * n_in + 1), 1, "plotted input spikes", err);
        r.win_ouw = snn_calloc((size_t)(T_w * P + 1), sizeof(float), "plotted OU weights", err);
        r.counts = snn_calloc((size_t)n, sizeof(int64_t), "spike counts", err);
        if (!r.in[0] || !r.out[0] || !r.ouw[0] || !r.in[1] || !r.out[1] || !r.ouw[1] || !r.trial_counts ||
            !r.win_in || !r.win_ouw || !r.counts)
            rc = SNN_ERUN;
    }
    rc = snn_par_sync(rc, err);
    if (rc) goto done;
    {
        const snn_mem_sizes z = snn_stage_mem_sizes(&r.net);
        snn_stage_print_memory(&r.net, 0, snn_mem_teacher(&z, nb1, L, P, T_w));
    }

    /* Phase 2, rank 0: the output folder and the store's metadata; the other ranks then attach */
    snn_path_join(results, sizeof results, o->output, "results", NULL);
    snn_path_join(store, sizeof store, results, "spike_data.zarr", NULL);
    int64_t sh_out[3] = {B, T, n}, ch_out[3] = {tc, L, n}, sh_in[3] = {B, T, n_in}, ch_in[3] = {tc, L, n_in};
    int64_t sh_ou[3] = {B, T, P}, ch_ou[3] = {B, L, P}, sh_pat[2] = {P, n_in};
    if (rank == 0) {
        rc = snn_stage_prepare_output(o, err);
        if (!rc) {
            printf("Using seed: %llu\n", (unsigned long long)p->sim.seed);
            printf("✓ Loaded network with %lld neurons and %lld inputs from %s\n", (long long)n, (long long)n_in,
                   spath);
            printf("✓ Generated %d odour patterns (one per assembly)\n", P);
            if (!r.s.has_scaling_factors)
                printf("Note: %s has no learned scaling factors:\n"
                       "      a network not tuned by stage 2 (the usual teacher is a stage-2 run's final_state/)\n",
                       spath);
            snn_stage_print_refractory(p);
            rc = snn_mkdirs(results, err);
        }
        if (!rc) {
            snn_path_join(tmp_store, sizeof tmp_store, results, ".spike_data.zarr.tmp", NULL);
            char attrs[128];
            snprintf(attrs, sizeof attrs, "{\"dt\": %.17g}", p->sim.dt);
            rc = snn_zarr_create_group(tmp_store, attrs, err);
        }
        if (!rc) {
            r.z_out = snn_zarr_create_array(tmp_store, "output_spikes", SNN_BOOL, 3, sh_out, ch_out, SNN_ZARR_BLOSC_LZ4, err);
            if (r.z_out) r.z_in = snn_zarr_create_array(tmp_store, "input_spikes", SNN_BOOL, 3, sh_in, ch_in, SNN_ZARR_BLOSC_LZ4, err);
            if (r.z_in) r.z_ou = snn_zarr_create_array(tmp_store, "ou_process_weights", SNN_F32, 3, sh_ou, ch_ou, SNN_ZARR_BLOSC_LZ4, err);
            if (r.z_ou) r.z_pat = snn_zarr_create_array(tmp_store, "odourant_patterns", SNN_F64, 2, sh_pat, sh_pat, SNN_ZARR_BLOSC_LZ4, err);
            if (!r.z_pat) rc = err && err->code ? err->code : SNN_ERUN;
        }
        int64_t zero2[2] = {0, 0};
        if (!rc) rc = snn_zarr_write_chunk(r.z_pat, zero2, r.patterns, err);
    }
    rc = snn_par_sync(rc, err);
    if (rc) goto done;
    if (rank > 0) {
        snn_path_join(tmp_store, sizeof tmp_store, results, ".spike_data.zarr.tmp", NULL);
        r.z_out = snn_zarr_attach_array(tmp_store, "output_spikes", SNN_BOOL, 3, sh_out, ch_out, SNN_ZARR_BLOSC_LZ4, err);
        if (r.z_out) r.z_in = snn_zarr_attach_array(tmp_store, "input_spikes", SNN_BOOL, 3, sh_in, ch_in, SNN_ZARR_BLOSC_LZ4, err);
        if (!r.z_in) rc = err && err->code ? err->code : SNN_ERUN;
    }

    /* Phase 3, every rank: its trials */
    printf("\nRunning %lld trials x %.2f s (%lld chunks of %lld steps, dt %g ms), each trial with its own OU "
           "trajectory...\n", (long long)B, (double)T * p->sim.dt / 1000.0, (long long)n_chunks, (long long)L, p->sim.dt);
    if (n_ranks > 1)
        printf("MPI: %d ranks, each simulating whole store chunks of %lld trials (rank 0: trials %lld-%lld)\n",
               n_ranks, (long long)tc, (long long)b0, (long long)b1 - 1);
    fflush(stdout);
    snn_progress bar;
    snn_progress_start(&bar, "Teacher", n_chunks, o->quiet);
    double t_start = snn_now(), cpu_start = cpu_seconds();
    /* Chunk c is simulated while chunk c-1 is compressed and written: both are OpenMP tasks of one
     * parallel region, each trial and each zarr chunk a task, so neither leaves a core idle. Every
     * task computes the same bytes whatever thread runs it. Rank 0 also advances the OU process of the
     * trials it does not simulate, for the OU array's chunks. */
    int fail = rc != SNN_OK;
    snn_error ferr = {0};
    const int64_t n_lk = k1 - k0, n_wr = 2 * n_lk + (rank == 0);
    for (int64_t c = 0; c <= n_chunks && !fail; c++) {
        const int cur = (int)(c & 1), prev = cur ^ 1;
        if (c == first_plot_chunk && rank == 0) snn_state_copy_trial(&r.st, 0, &r.window_start, 0);
#pragma omp parallel
#pragma omp single
        {
            if (c > 0)
                for (int64_t q = 0; q < n_wr; q++) {
#pragma omp task firstprivate(q)
                    {
                        snn_error e2 = {0};
                        int64_t k = q % (n_lk ? n_lk : 1), idx[3] = {q < 2 * n_lk ? k0 + k : 0, c - 1, 0};
                        int r2;
                        if (q < n_lk) r2 = snn_zarr_write_chunk(r.z_out, idx, r.out[prev] + k * tc * L * n, &e2);
                        else if (q < 2 * n_lk)
                            r2 = snn_zarr_write_chunk(r.z_in, idx, r.in[prev] + k * tc * L * n_in, &e2);
                        else r2 = snn_zarr_write_chunk(r.z_ou, idx, r.ouw[prev], &e2);
                        if (r2) {
#pragma omp critical
                            if (!ferr.code) ferr = e2;
#pragma omp atomic write
                            fail = 1;
                        }
                    }
                }
            if (c < n_chunks)
                for (int64_t b = rank == 0 ? 0 : b0; b < (rank == 0 ? B : b1); b++) {
#pragma omp task firstprivate(b)
                    {
                        snn_error e2 = {0};
                        float *w = r.ouw[cur] + b * L * P;
                        int r2 = snn_ou_advance(&r.ou, (int)b, c * L, L, w, &e2);
                        if (!r2 && b >= b0 && b < b1) {
                            const int64_t s = b - b0; /* the trial's slot in this rank's state and buffers */
                            uint8_t *x = r.in[cur] + s * L * n_in, *y = r.out[cur] + s * L * n;
                            r2 = snn_poisson_draw_mixture(&r.ps, (uint32_t)b, c * L, L, w, x, &e2);
                            if (!r2) {
                                snn_forward_trial(&r.net, &r.st, (int)s, L, x, y, NULL);
                                add_counts(r.trial_counts + s * n, y, L, n);
                            }
                        }
                        if (r2) {
#pragma omp critical
                            if (!ferr.code) ferr = e2;
#pragma omp atomic write
                            fail = 1;
                        }
                    }
                }
        }
        if (rank == 0 && c < n_chunks && c >= first_plot_chunk) {
            int64_t off = (c - first_plot_chunk) * L;
            memcpy(r.win_in + off * n_in, r.in[cur], (size_t)(L * n_in));
            memcpy(r.win_ouw + off * P, r.ouw[cur], (size_t)(L * P) * sizeof(float));
        }
        snn_progress_update(&bar, c < n_chunks ? c + 1 : n_chunks, NULL);
    }
    if (fail && !rc) {
        if (err) *err = ferr;
        rc = ferr.code ? ferr.code : SNN_ERUN;
    }
    for (int64_t s = 0; s < nb; s++)
        for (int64_t j = 0; j < n; j++) r.counts[j] += r.trial_counts[s * n + j];
    snn_progress_finish(&bar);
    /* every rank's chunks are written (or one failed) before rank 0 renames the store */
    double cpu = cpu_seconds() - cpu_start;
    double t_wait = snn_par_comm_seconds();
    rc = snn_par_sync(rc, err);
    if (rc) goto done;
    t_wait = snn_par_comm_seconds() - t_wait;
    double t_data = snn_par_comm_seconds();
    snn_par_allreduce_sum_i64(r.counts, n);
    t_data = snn_par_comm_seconds() - t_data;
    t_wait = snn_par_allreduce_max_f64(t_wait);
    t_data = snn_par_allreduce_max_f64(t_data);
    const double cpu_max = snn_par_allreduce_max_f64(cpu);
    double wall_sim = snn_now() - t_start;
    snn_zarr_writer_free(r.z_out);
    snn_zarr_writer_free(r.z_in);
    snn_zarr_writer_free(r.z_ou);
    snn_zarr_writer_free(r.z_pat);
    r.z_out = r.z_in = r.z_ou = r.z_pat = NULL;
    if (rank > 0) goto done; /* Phase 4 is rank 0's */

    rc = snn_replace_dir(tmp_store, store, err);
    if (rc) goto done;

    printf("✓ Network simulation completed\n");
    printf("✓ All data saved to %s\n", store);
    printf("  - output_spikes: (%lld, %lld, %lld) bool\n", (long long)B, (long long)T, (long long)n);
    printf("  - input_spikes: (%lld, %lld, %lld) bool\n", (long long)B, (long long)T, (long long)n_in);
    printf("  - ou_process_weights: (%lld, %lld, %d) float32\n", (long long)B, (long long)T, P);
    printf("  - odourant_patterns: (%d, %lld) float64\n", P, (long long)n_in);
    double secs = (double)B * (double)T * p->sim.dt / 1000.0;
    double *rates = malloc((size_t)n * sizeof *rates);
    if (!rates) {
        rc = snn_fail(err, SNN_ERUN, "out of memory");
        goto done;
    }
    for (int64_t j = 0; j < n; j++) rates[j] = (double)r.counts[j] / secs;
    printf("Teacher firing rates (all trials):\n");
    int runaway = 0;
    for (int t = 0; t < p->rec.n_types; t++) {
        snn_type_summary ts;
        snn_type_summarise(r.net.type, n, t, rates, NULL, &ts);
        printf("  %-12s %.2f +- %.2f Hz, %lld of %lld silent\n", p->rec.type_names[t], ts.rate_mean, ts.rate_std,
               (long long)ts.n_silent, (long long)ts.n_neurons);
        runaway |= ts.rate_mean > (t == 0 ? RUNAWAY_E_HZ : RUNAWAY_HZ);
    }
    free(rates);
    if (runaway && !r.s.has_scaling_factors)
        printf("Warning: these rates look like runaway activity of an untuned network: its recurrent\n"
               "  excitation is not held in check, and its responses to the odours are swamped. Tune it with\n"
               "  stage 2 first (snnfit homeostatic STAGE2.toml -i %s -o HP), then run the teacher on\n"
               "  HP/final_state.\n", spath);

    char tpath[SNN_PATH_MAX];
    snn_path_join(tpath, sizeof tpath, results, "dashboard_traces.npz", NULL);
    snn_trace_extra extra[2] = {
        {"ou_process_weights", SNN_F32, 2, {T_w, P}, r.win_ouw},
        {"odourant_patterns", SNN_F64, 2, {P, n_in}, r.patterns},
    };
    rc = snn_traces_write(tpath, &r.net, &r.window_start, 0, r.win_in, T_w, p->rec.type_names, r.s.assembly_ids,
                          extra, 2, err);
    if (rc) goto done;
    printf("✓ Dashboard traces (trial 0, last %lld chunks) saved to %s\n", (long long)plot_chunks, tpath);
    rc = snn_plot_dashboards(o->output, tpath, &r.s, p, 1, err);
    if (rc) goto done;
    rc = snn_stage_copy_params(o, err);
    if (rc) goto done;
    /* the network beside its activity, so that the folder alone feeds stage 4 and odourants */
    char inputs_dir[SNN_PATH_MAX], net_copy[SNN_PATH_MAX];
    snn_path_join(inputs_dir, sizeof inputs_dir, o->output, "inputs", NULL);
    rc = snn_mkdirs(inputs_dir, err);
    if (!rc) rc = snn_path_join(net_copy, sizeof net_copy, inputs_dir, "network_structure.npz", err);
    /* written, not copied: the folder then holds the same bytes whether IN was dense or sparse */
    if (!rc) rc = snn_structure_save(net_copy, &r.s, err);
    if (rc) goto done;
    printf("Timing: %.3f s for %lld trial-steps (%.0f trial-steps/s), peak memory %.1f MiB\n", wall_sim,
           (long long)(B * T), (double)B * (double)T / wall_sim, (double)snn_peak_rss_bytes() / 1048576.0);
    /* CPU time says what the wall time would be on cores of its own (a shared machine stretches the
     * wall time, not the CPU time) */
    printf("CPU time of the simulation: %.3f s (the busiest rank's)\n", cpu_max);
    if (n_ranks > 1)
        printf("MPI timing: %d ranks; waiting for the slowest rank at the end %.4f s, exchanging the spike counts "
               "%.4f s (most on one rank)\n", n_ranks, t_wait, t_data);
done:
    if (rc && rank == 0 && tmp_store[0] && snn_path_exists(tmp_store)) snn_remove_tree(tmp_store);
    teacher_free(&r);
    return rc;
}
