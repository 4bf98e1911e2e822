/* snnfit simulate P.toml -i IN -o OUT [--inputs FILE]: a plain forward run of a network.
 *
 * Network: IN (a folder with network_structure.npz, or the npz itself). Inputs, first found of:
 * --inputs FILE (an npz with `input_spikes` (trials, T, N_in), or a teacher spike_data.zarr store),
 * IN/spike_data.zarr, IN/results/spike_data.zarr, else homogeneous Poisson input at the
 * [feedforward.activity] rates for [simulation] batch_size trials. Length: [simulation] duration
 * (capped at the length of recorded inputs); trials: the recorded ones, or batch_size if smaller.
 * Output OUT/simulation.npz: output_spikes and input_spikes (trials, T, N / N_in) bool, dt, and for
 * the [tracking] trials and neurons: voltages (k, T, m), synaptic_currents (k, T, m, S),
 * leak_currents (k, T, m), conductances (k, T, m, 2, S) (float32; pA and nS), tracked_trials,
 * tracked_neurons, synapse_names.
 *
 * Tracked neurons: those listed, all with neurons = "all", else the first SNN_TRACKED_PER_TYPE of each
 * cell type (tracking every neuron of a Dp network costs 68 bytes per neuron and step: 3.4 GB per
 * trial-second). A run whose spikes and traces would not fit in the memory available is refused with
 * its size before anything is written.
 *
 * On several MPI ranks (core/par.h) each rank simulates a contiguous block of trials (reading only
 * those trials of a recorded store) and sends its spikes, inputs and tracked traces to rank 0, which
 * writes simulation.npz exactly as one process does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "core/par.h"
#include "core/progress.h"
#include "inputs/poisson.h"
#include "io/npz.h"
#include "io/zarr.h"
#include "model/spike_stats.h"
#include "stages/stage.h"

/* Recorded input spikes (trials, T, N_in): a zarr store is opened and read trial block by trial
 * block; an npz is read whole. */
typedef struct recorded {
    snn_zarr_group *g;
    snn_zarr_array *a;
    snn_array npz;
    int64_t shape[3];
} recorded;

static void recorded_close(recorded *rec) {
    snn_zarr_array_free(rec->a);
    snn_zarr_group_free(rec->g);
    snn_array_free(&rec->npz);
    memset(rec, 0, sizeof *rec);
}

static int recorded_open(const char *path, int64_t n_in, double dt, recorded *rec, snn_error *err) {
    if (snn_is_dir(path)) {
        rec->g = snn_zarr_open_group(path, err);
        if (!rec->g) return SNN_EINPUT;
        double store_dt = 0;
        int rc = snn_zarr_attr_double(rec->g, "dt", &store_dt, err);
        if (!rc && fabs(store_dt - dt) > 1e-9 * fabs(dt))
            rc = snn_fail(err, SNN_EINPUT, "%s: attribute 'dt' is %g ms but the parameters say dt = %g ms", path,
                          store_dt, dt);
        if (!rc) rec->a = snn_zarr_open_array(rec->g, "input_spikes", err);
        if (!rc && !rec->a) rc = SNN_EINPUT;
        if (!rc && (snn_zarr_ndim(rec->a) != 3 || snn_zarr_shape(rec->a)[2] != n_in))
            rc = snn_fail(err, SNN_EINPUT, "%s: array 'input_spikes' must have shape (trials, T, %lld)", path,
                          (long long)n_in);
        if (!rc && snn_zarr_dtype(rec->a) != SNN_BOOL && snn_zarr_dtype(rec->a) != SNN_U8)
            rc = snn_fail(err, SNN_EINPUT, "%s: array 'input_spikes' must be bool", path);
        /* a teacher store (format 2) has every chunk: a missing one is damage, not silence */
        if (!rc) rc = snn_zarr_check_chunks(rec->a, snn_zarr_format(rec->g) == 2, NULL, err);
        if (!rc) memcpy(rec->shape, snn_zarr_shape(rec->a), sizeof rec->shape);
        return rc;
    }
    snn_npz *z = snn_npz_open(path, err);
    if (!z) return SNN_EINPUT;
    int64_t shape[3] = {-1, -1, n_in};
    int rc = snn_npz_read_as(z, "input_spikes", SNN_BOOL, 3, shape, &rec->npz, err);
    snn_npz_free(z);
    if (!rc) memcpy(rec->shape, rec->npz.shape, sizeof rec->shape);
    return rc;
}

/* Trials [b0, b0 + nb), steps [0, T) into dst[nb][T][N_in]. */
static int recorded_read(recorded *rec, int64_t b0, int64_t nb, int64_t T, uint8_t *dst, snn_error *err) {
    const int64_t n_in = rec->shape[2];
    if (nb < 1) return SNN_OK;
    if (rec->a) {
        int64_t start[3] = {b0, 0, 0}, count[3] = {nb, T, n_in};
        return snn_zarr_read_region(rec->a, start, count, dst, err);
    }
    const int64_t Tr = rec->shape[1];
    for (int64_t b = 0; b < nb; b++)
        memcpy(dst + b * T * n_in, (uint8_t *)rec->npz.data + (b0 + b) * Tr * n_in, (size_t)(T * n_in));
    return SNN_OK;
}

int snn_stage_simulate(const snn_stage_opts *o, snn_error *err) {
    snn_params *p = calloc(1, sizeof *p);
    if (!p) return snn_par_sync(snn_fail(err, SNN_ERUN, "out of memory"), err);
    const int rank = snn_par_rank(), n_ranks = snn_par_size();
    snn_structure s = {0};
    snn_network net = {0};
    snn_state st = {0};
    recorded rec = {0};
    snn_poisson ps = {0};
    uint8_t *in = NULL, *out = NULL, *in_chunk = NULL, *out_chunk = NULL;
    float *tv = NULL, *ti = NULL, *tl = NULL, *tg = NULL;
    uint8_t *names = NULL;
    int64_t *tracked = NULL;
    char spath[SNN_PATH_MAX], source[SNN_PATH_MAX] = "";
    int64_t n = 0, n_in = 0, T = 0, B = 0, b0 = 0, b1 = 0, L = 1, m_tr = 0;
    int S = 0, k_tr = 0;
    const snn_tracking_params *tp = &p->tracking;
    /* Phase 1, every rank: parameters, network, this rank's inputs and buffers (nothing written) */
    int rc = snn_stage_check_io(o, err);
    if (!rc) rc = snn_params_load(o->params_path, SNN_STAGE_SIMULATE, p, err);
    if (!rc) rc = snn_stage_structure_path(o->input, spath, sizeof spath, err);
    if (!rc) rc = snn_stage_check_structure_memory(o, spath, err);
    if (!rc) rc = snn_stage_load_network(p, spath, &s, &net, err);
    if (!rc) {
        n = s.n, n_in = s.n_in, S = net.n_cols;
        T = (int64_t)(p->sim.duration / p->sim.dt + 1e-9), B = p->sim.batch_size, L = p->sim.chunk_size;
        if (o->inputs_file) snprintf(source, sizeof source, "%s", o->inputs_file);
        else if (snn_is_dir(o->input)) {
            char cand[SNN_PATH_MAX];
            snn_path_join(cand, sizeof cand, o->input, "spike_data.zarr", NULL);
            if (!snn_is_dir(cand)) snn_path_join(cand, sizeof cand, o->input, "results/spike_data.zarr", NULL);
            if (snn_is_dir(cand)) snprintf(source, sizeof source, "%s", cand);
        }
        if (source[0]) {
            rc = recorded_open(source, n_in, p->sim.dt, &rec, err);
            if (!rc) {
                if (!p->sim.has_batch_size || B > rec.shape[0]) B = rec.shape[0];
                if (T > rec.shape[1]) T = rec.shape[1];
            }
        } else if (!p->ff.has_activity) {
            rc = snn_fail(err, SNN_EINPUT,
                          "%s: no recorded inputs (--inputs, IN/spike_data.zarr) and no [feedforward.activity] rates "
                          "for Poisson inputs", o->params_path);
        }
    }
    if (!rc && T < 1) rc = snn_fail(err, SNN_EINPUT, "%s: [simulation] duration gives no time step", o->params_path);
    if (!rc) {
        k_tr = tp->n_trials;
        m_tr = tp->all_neurons ? n : tp->n_neurons;
        tracked = snn_calloc((size_t)(m_tr > 0 ? m_tr : SNN_MAX_TRACKED), sizeof *tracked, "tracked neurons", err);
        if (!tracked) rc = SNN_ERUN;
    }
    if (!rc) {
        if (tp->all_neurons) {
            for (int64_t q = 0; q < n; q++) tracked[q] = q;
        } else if (tp->n_neurons) {
            memcpy(tracked, tp->neurons, (size_t)m_tr * sizeof *tracked);
        } else { /* the default: the first few neurons of each cell type, in index order */
            int64_t taken[SNN_MAX_TYPES] = {0};
            for (int64_t j = 0; j < n && m_tr < SNN_MAX_TRACKED; j++) {
                int64_t ty = s.cell_types[j];
                if (ty >= 0 && ty < SNN_MAX_TYPES && taken[ty] < SNN_TRACKED_PER_TYPE) taken[ty]++, tracked[m_tr++] = j;
            }
        }
        for (int q = 0; !rc && q < k_tr; q++)
            if (tp->trials[q] >= B)
                rc = snn_fail(err, SNN_EINPUT, "%s: [tracking] trials: trial %lld does not exist (%lld trials)",
                              o->params_path, (long long)tp->trials[q], (long long)B);
        for (int q = 0; !rc && q < tp->n_neurons; q++)
            if (tp->neurons[q] >= n)
                rc = snn_fail(err, SNN_EINPUT, "%s: [tracking] neurons: neuron %lld does not exist (%lld neurons)",
                              o->params_path, (long long)tp->neurons[q], (long long)n);
    }
    if (!rc) {
        /* the spikes (in, out and a chunk of each) and per tracked neuron-step v, I_leak, S currents
         * and 2 S conductances in float32 (rank 0 holds every trial's spikes in the end) */
        double spikes = ((double)T + (double)L) * (double)B * (double)(n + n_in);
        double traces = (double)k_tr * (double)T * (double)m_tr * (2.0 + 3.0 * S) * sizeof(float);
        double avail = o->max_memory ? (double)o->max_memory : (double)snn_mem_available_bytes();
        if (avail > 0 && spikes + traces > avail)
            rc = snn_fail(err, SNN_EINPUT,
                          "%s: the run needs %.2f GB, more than the %.2f GB of memory %s: %.2f GB of "
                          "spikes (%lld trials x %lld steps) and %.2f GB of [tracking] traces (%lld neuron%s x "
                          "%d trial%s x %lld steps x v, leak, %d currents and %d conductances in float32); track "
                          "fewer neurons (absent: the first %d of each cell type) or trials, or shorten "
                          "[simulation] duration",
                          o->params_path, (spikes + traces) / 1e9, avail / 1e9,
                          o->max_memory ? "that --max-memory allows" : "available", spikes / 1e9, (long long)B,
                          (long long)T, traces / 1e9, (long long)m_tr, m_tr == 1 ? "" : "s", k_tr,
                          k_tr == 1 ? "" : "s", (long long)T, S, 2 * S, SNN_TRACKED_PER_TYPE);
    }
    snn_par_block(B, rank, n_ranks, &b0, &b1);
    /* rank 0 holds every trial's spikes in the end (it writes them), the others only their own */
    const int64_t nb = b1 - b0, held = rank == 0 ? B : nb, held1 = held > 0 ? held : 1;
    int mine_tracked = rank == 0;
    for (int q = 0; q < k_tr; q++) mine_tracked |= tp->trials[q] >= b0 && tp->trials[q] < b1;
    const size_t rows = mine_tracked ? (size_t)k_tr * (size_t)T * (size_t)m_tr : 0;
    if (!rc) {
        in = snn_calloc((size_t)(held1 * T * n_in + 1), 1, "input spikes", err);
        out = snn_calloc((size_t)(held1 * T * n), 1, "output spikes", err);
        in_chunk = snn_calloc((size_t)((nb > 0 ? nb : 1) * L * n_in + 1), 1, "input chunk", err);
        out_chunk = snn_calloc((size_t)((nb > 0 ? nb : 1) * L * n), 1, "output chunk", err);
        tv = snn_calloc(rows + 1, sizeof(float), "tracked voltages", err);
        ti = snn_calloc(rows * S + 1, sizeof(float), "tracked currents", err);
        tl = snn_calloc(rows + 1, sizeof(float), "tracked leak currents", err);
        tg = snn_calloc(rows * 2 * S + 1, sizeof(float), "tracked conductances", err);
        names = snn_calloc((size_t)(S ? S : 1), 64, "synapse names", err);
        if (!in || !out || !in_chunk || !out_chunk || !tv || !ti || !tl || !tg || !names) rc = SNN_ERUN;
    }
    if (!rc && source[0]) rc = recorded_read(&rec, b0, nb, T, in, err);
    if (!rc && !source[0]) {
        double *rates = malloc((size_t)(n_in ? n_in : 1) * sizeof *rates);
        if (!rates) rc = snn_fail(err, SNN_ERUN, "out of memory");
        for (int64_t m = 0; !rc && m < n_in; m++) rates[m] = p->ff.firing_rate[s.ff_cell_types[m]];
        if (!rc) rc = snn_poisson_init_rates(&ps, n_in, rates, p->sim.dt, p->sim.seed, SNN_RNG_POISSON, err);
        free(rates);
        for (int64_t b = b0; !rc && b < b1; b++)
            rc = snn_poisson_draw_rates(&ps, (uint32_t)b, 0, T, in + (b - b0) * T * n_in, err);
    }
    if (!rc) rc = snn_state_alloc(&st, &net, (int)(nb > 0 ? nb : 1), err);
    rc = snn_par_sync(rc, err);
    if (rc) goto done;
    /* Phase 2, rank 0: the output folder */
    if (rank == 0) rc = snn_stage_prepare_output(o, err);
    rc = snn_par_sync(rc, err);
    if (rc) goto done;
    if (source[0])
        printf("Inputs: %lld trials x %lld steps recorded in %s\n", (long long)B, (long long)T, source);
    else
        printf("Inputs: Poisson at the [feedforward.activity] rates, %lld trials x %lld steps (seed %llu)\n",
               (long long)B, (long long)T, (unsigned long long)p->sim.seed);
    printf("Tracking %s%lld neuron%s", tp->all_neurons ? "all " : "", (long long)m_tr, m_tr == 1 ? "" : "s");
    if (!tp->all_neurons) {
        printf(" (");
        for (int64_t q = 0; q < m_tr && q < 12; q++) printf("%s%lld", q ? ", " : "", (long long)tracked[q]);
        if (m_tr > 12) printf(", ...");
        if (!tp->n_neurons) printf(": the first %d of each cell type", SNN_TRACKED_PER_TYPE);
        printf(")");
    }
    printf(" in %d trial%s\n", k_tr, k_tr == 1 ? "" : "s");
    if (n_ranks > 1) printf("MPI: %d ranks, %lld trials each at most\n", n_ranks, (long long)((B + n_ranks - 1) / n_ranks));
    snn_stage_print_refractory(p);
    {
        const snn_mem_sizes z = snn_stage_mem_sizes(&net);
        snn_stage_print_memory(&net, 0, snn_mem_simulate(&z, nb > 0 ? nb : 1, T));
    }

    /* Phase 3, every rank: its trials */
    snn_track tracks[SNN_MAX_TRACKED];
    int n_tracks = 0;
    snn_progress bar;
    snn_progress_start(&bar, "Simulating", T, o->quiet);
    for (int64_t t0 = 0; nb > 0 && t0 < T; t0 += L) {
        int64_t len = T - t0 < L ? T - t0 : L;
        for (int64_t b = 0; b < nb; b++) memcpy(in_chunk + b * len * n_in, in + (b * T + t0) * n_in, (size_t)(len * n_in));
        n_tracks = 0;
        for (int q = 0; q < k_tr; q++) {
            if (tp->trials[q] < b0 || tp->trials[q] >= b1) continue;
            size_t base = (size_t)q * T * m_tr;
            tracks[n_tracks++] = (snn_track){.trial = (int)(tp->trials[q] - b0), .n_neurons = (int)m_tr,
                                             .neurons = tp->all_neurons ? NULL : tracked, .row0 = t0,
                                             .v = tv + base, .i_syn = ti + base * S, .i_leak = tl + base,
                                             .g = tg + base * 2 * S};
        }
        snn_forward_chunk(&net, &st, len, n_in ? in_chunk : NULL, out_chunk, tracks, n_tracks);
        for (int64_t b = 0; b < nb; b++) memcpy(out + (b * T + t0) * n, out_chunk + b * len * n, (size_t)(len * n));
        snn_progress_update(&bar, t0 + len, NULL);
    }
    snn_progress_finish(&bar);
    /* every rank has its trials: they go to rank 0, rank by rank, trial blocks in order */
    rc = snn_par_sync(rc, err);
    if (rc) goto done;
    const size_t row_bytes = (size_t)T * (size_t)m_tr * sizeof(float);
    for (int r = 1; r < n_ranks; r++) {
        if (rank != 0 && rank != r) continue;
        int64_t c0, c1;
        snn_par_block(B, r, n_ranks, &c0, &c1);
        uint8_t *o_at = rank == 0 ? out + c0 * T * n : out, *i_at = rank == 0 ? in + c0 * T * n_in : in;
        if (rank == 0) {
            snn_par_recv(o_at, (size_t)((c1 - c0) * T * n), r);
            snn_par_recv(i_at, (size_t)((c1 - c0) * T * n_in), r);
        } else {
            snn_par_send(o_at, (size_t)((c1 - c0) * T * n), 0);
            snn_par_send(i_at, (size_t)((c1 - c0) * T * n_in), 0);
        }
        for (int q = 0; q < k_tr; q++) {
            if (tp->trials[q] < c0 || tp->trials[q] >= c1) continue;
            size_t base = (size_t)q * T * m_tr;
            float *parts[4] = {tv + base, ti + base * S, tl + base, tg + base * 2 * S};
            size_t bytes[4] = {row_bytes, row_bytes * S, row_bytes, row_bytes * 2 * S};
            for (int k = 0; k < 4; k++) {
                if (rank == 0) snn_par_recv(parts[k], bytes[k], r);
                else snn_par_send(parts[k], bytes[k], 0);
            }
        }
    }
    if (rank > 0) goto done; /* Phase 4 is rank 0's */

    int64_t *counts = malloc((size_t)n * sizeof *counts);
    double *rates = malloc((size_t)n * sizeof *rates);
    if (!counts || !rates) {
        free(counts);
        free(rates);
        rc = snn_fail(err, SNN_ERUN, "out of memory");
        goto done;
    }
    snn_spike_counts(out, B, T, n, counts);
    for (int64_t j = 0; j < n; j++) rates[j] = (double)counts[j] / ((double)B * (double)T * p->sim.dt / 1000.0);
    for (int t = 0; t < p->rec.n_types; t++) {
        snn_type_summary ts;
        snn_type_summarise(net.type, n, t, rates, NULL, &ts);
        printf("  %-12s %.2f +- %.2f Hz, %lld of %lld silent\n", p->rec.type_names[t], ts.rate_mean, ts.rate_std,
               (long long)ts.n_silent, (long long)ts.n_neurons);
    }
    free(counts);
    free(rates);

    char path[SNN_PATH_MAX];
    snn_path_join(path, sizeof path, o->output, "simulation.npz", NULL);
    snn_npz_writer *w = snn_npz_create(path, 1, err);
    if (!w) {
        rc = err->code ? err->code : SNN_ERUN;
        goto done;
    }
    for (int q = 0; q < S; q++) memcpy(names + 64 * q, net.col_name[q], strlen(net.col_name[q]));
    int64_t sh_o[3] = {B, T, n}, sh_i[3] = {B, T, n_in}, sh_v[3] = {k_tr, T, m_tr}, sh_c[4] = {k_tr, T, m_tr, S},
            sh_g[5] = {k_tr, T, m_tr, 2, S}, sh_k[1] = {k_tr}, sh_m[1] = {m_tr}, sh_n[2] = {S, 64};
    rc = snn_npz_add_scalar_f64(w, "dt", p->sim.dt, err);
    if (!rc) rc = snn_npz_add(w, "output_spikes", SNN_BOOL, 3, sh_o, out, err);
    if (!rc) rc = snn_npz_add(w, "input_spikes", SNN_BOOL, 3, sh_i, in, err);
    if (!rc) rc = snn_npz_add(w, "tracked_trials", SNN_I64, 1, sh_k, tp->trials, err);
    if (!rc) rc = snn_npz_add(w, "tracked_neurons", SNN_I64, 1, sh_m, tracked, err);
    if (!rc) rc = snn_npz_add(w, "voltages", SNN_F32, 3, sh_v, tv, err);
    if (!rc) rc = snn_npz_add(w, "synaptic_currents", SNN_F32, 4, sh_c, ti, err);
    if (!rc) rc = snn_npz_add(w, "leak_currents", SNN_F32, 3, sh_v, tl, err);
    if (!rc) rc = snn_npz_add(w, "conductances", SNN_F32, 5, sh_g, tg, err);
    if (!rc) rc = snn_npz_add(w, "synapse_names", SNN_U8, 2, sh_n, names, err);
    if (rc) snn_npz_abort(w);
    else rc = snn_npz_close(w, err);
    if (!rc) rc = snn_stage_copy_params(o, err);
    if (!rc) printf("✓ Spikes and tracked traces saved to %s\n", path);
done:
    snn_poisson_free(&ps);
    recorded_close(&rec);
    snn_state_free(&st);
    snn_network_free(&net);
    snn_structure_free(&s);
    free(in);
    free(out);
    free(in_chunk);
    free(out_chunk);
    free(tv);
    free(ti);
    free(tl);
    free(tg);
    free(names);
    free(tracked);
    free(p);
    return rc;
}
