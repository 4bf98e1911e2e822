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
 * tracked_neurons, synapse_names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "core/progress.h"
#include "inputs/poisson.h"
#include "io/npz.h"
#include "io/zarr.h"
#include "model/spike_stats.h"
#include "stages/stage.h"

/* The memory of reading recorded inputs of `shape` whole, checked before they are read. */
static int check_recorded_memory(const snn_stage_opts *o, const char *path, int ndim, const int64_t *shape,
                                 snn_error *err) {
    snn_mem_estimate e;
    snn_mem_init(&e);
    double count = 1;
    for (int d = 0; d < ndim; d++) count *= (double)shape[d];
    snn_mem_add(&e, "recorded inputs", count, 1, 0);
    return snn_stage_check_memory(o, &e, path, err);
}

/* Loads recorded input spikes (trials, T, N_in) from an npz or a zarr store into *in. */
static int load_recorded_inputs(const snn_stage_opts *o, const char *path, int64_t n_in, double dt, snn_array *in,
                                snn_error *err) {
    if (snn_is_dir(path)) {
        snn_zarr_group *g = snn_zarr_open_group(path, err);
        if (!g) return SNN_EINPUT;
        double store_dt = 0;
        int rc = snn_zarr_attr_double(g, "dt", &store_dt, err);
        if (!rc && fabs(store_dt - dt) > 1e-9 * fabs(dt))
            rc = snn_fail(err, SNN_EINPUT, "%s: attribute 'dt' is %g ms but the parameters say dt = %g ms", path,
                          store_dt, dt);
        snn_zarr_array *a = rc ? NULL : snn_zarr_open_array(g, "input_spikes", err);
        if (!rc && !a) rc = SNN_EINPUT;
        if (!rc && (snn_zarr_ndim(a) != 3 || snn_zarr_shape(a)[2] != n_in))
            rc = snn_fail(err, SNN_EINPUT, "%s: array 'input_spikes' must have shape (trials, T, %lld)", path,
                          (long long)n_in);
        if (!rc && snn_zarr_dtype(a) != SNN_BOOL && snn_zarr_dtype(a) != SNN_U8)
            rc = snn_fail(err, SNN_EINPUT, "%s: array 'input_spikes' must be bool", path);
        /* a teacher store (format 2) has every chunk: a missing one is damage, not silence */
        if (!rc) rc = snn_zarr_check_chunks(a, snn_zarr_format(g) == 2, NULL, err);
        if (!rc) rc = check_recorded_memory(o, path, snn_zarr_ndim(a), snn_zarr_shape(a), err);
        if (!rc) rc = snn_zarr_read_array(a, in, err);
        snn_zarr_array_free(a);
        snn_zarr_group_free(g);
        return rc;
    }
    snn_npz *z = snn_npz_open(path, err);
    if (!z) return SNN_EINPUT;
    int64_t shape[3] = {-1, -1, n_in};
    snn_array head;
    int rc = snn_npz_peek(z, "input_spikes", &head, err);
    if (!rc) rc = check_recorded_memory(o, path, head.ndim, head.shape, err);
    if (!rc) rc = snn_npz_read_as(z, "input_spikes", SNN_BOOL, 3, shape, in, err);
    snn_npz_free(z);
    return rc;
}

int snn_stage_simulate(const snn_stage_opts *o, snn_error *err) {
    snn_params *p = calloc(1, sizeof *p);
    if (!p) return snn_fail(err, SNN_ERUN, "out of memory");
    snn_structure s = {0};
    snn_network net = {0};
    snn_state st = {0};
    snn_array rec_in = {0};
    snn_poisson ps = {0};
    uint8_t *in = NULL, *out = NULL, *in_chunk = NULL, *out_chunk = NULL;
    float *tv = NULL, *ti = NULL, *tl = NULL, *tg = NULL;
    uint8_t *names = NULL;
    char spath[SNN_PATH_MAX], source[SNN_PATH_MAX] = "";
    int rc = snn_stage_check_io(o, err);
    if (!rc) rc = snn_params_load(o->params_path, SNN_STAGE_SIMULATE, p, err);
    if (!rc) rc = snn_stage_structure_path(o->input, spath, sizeof spath, err);
    if (!rc) rc = snn_stage_check_structure_memory(o, spath, err);
    if (!rc) rc = snn_stage_load_network(p, spath, &s, &net, err);
    if (rc) goto done;
    const int64_t n = s.n, n_in = s.n_in;
    const int S = net.n_cols;
    int64_t T = (int64_t)(p->sim.duration / p->sim.dt + 1e-9), B = p->sim.batch_size;

    if (o->inputs_file) snprintf(source, sizeof source, "%s", o->inputs_file);
    else if (snn_is_dir(o->input)) {
        char cand[SNN_PATH_MAX];
        snn_path_join(cand, sizeof cand, o->input, "spike_data.zarr", NULL);
        if (!snn_is_dir(cand)) snn_path_join(cand, sizeof cand, o->input, "results/spike_data.zarr", NULL);
        if (snn_is_dir(cand)) snprintf(source, sizeof source, "%s", cand);
    }
    if (source[0]) {
        const snn_stage_input rin = {"the recorded inputs", source};
        rc = snn_stage_check_inputs(NULL, o->output, &rin, 1, err);
        if (!rc) rc = load_recorded_inputs(o, source, n_in, p->sim.dt, &rec_in, err);
        if (rc) goto done;
        if (!p->sim.has_batch_size || B > rec_in.shape[0]) B = rec_in.shape[0];
        if (T > rec_in.shape[1]) T = rec_in.shape[1];
    } else if (!p->ff.has_activity) {
        rc = snn_fail(err, SNN_EINPUT,
                      "%s: no recorded inputs (--inputs, IN/spike_data.zarr) and no [feedforward.activity] rates "
                      "for Poisson inputs", o->params_path);
        goto done;
    }
    if (T < 1) {
        rc = snn_fail(err, SNN_EINPUT, "%s: [simulation] duration gives no time step", o->params_path);
        goto done;
    }
    const snn_tracking_params *tp = &p->tracking;
    int k_tr = tp->n_trials;
    int64_t m_tr = tp->n_neurons ? tp->n_neurons : n;
    for (int q = 0; q < k_tr; q++)
        if (tp->trials[q] >= B) {
            rc = snn_fail(err, SNN_EINPUT, "%s: [tracking] trials: trial %lld does not exist (%lld trials)",
                          o->params_path, (long long)tp->trials[q], (long long)B);
            goto done;
        }
    for (int q = 0; q < tp->n_neurons; q++)
        if (tp->neurons[q] >= n) {
            rc = snn_fail(err, SNN_EINPUT, "%s: [tracking] neurons: neuron %lld does not exist (%lld neurons)",
                          o->params_path, (long long)tp->neurons[q], (long long)n);
            goto done;
        }
    {
        snn_mem_net z;
        snn_mem_estimate est;
        snn_mem_net_of(p, &s, &z);
        snn_mem_simulate(p, &z, B, T, rec_in.shape[0], rec_in.shape[1], &est);
        if ((rc = snn_stage_check_memory(o, &est, o->params_path, err))) goto done;
    }
    rc = snn_stage_prepare_output(o, err);
    if (rc) goto done;

    /* sizes bounded by the loader's limits and the memory estimate above */
    in = snn_calloc((size_t)(B * T), (size_t)n_in + 1, "input spikes", err);
    out = snn_calloc((size_t)(B * T), (size_t)n, "output spikes", err);
    int64_t L = p->sim.chunk_size;
    in_chunk = snn_calloc((size_t)(B * L), (size_t)n_in + 1, "input chunk", err);
    out_chunk = snn_calloc((size_t)(B * L), (size_t)n, "output chunk", err);
    size_t rows = (size_t)k_tr * (size_t)T * (size_t)m_tr;
    tv = snn_calloc(rows + 1, sizeof(float), "tracked voltages", err);
    ti = snn_calloc(rows * S + 1, sizeof(float), "tracked currents", err);
    tl = snn_calloc(rows + 1, sizeof(float), "tracked leak currents", err);
    tg = snn_calloc(rows * 2 * S + 1, sizeof(float), "tracked conductances", err);
    names = snn_calloc((size_t)(S ? S : 1), 64, "synapse names", err);
    if (!in || !out || !in_chunk || !out_chunk || !tv || !ti || !tl || !tg || !names) {
        rc = SNN_ERUN;
        goto done;
    }
    if (source[0]) {
        int64_t Tr = rec_in.shape[1];
        for (int64_t b = 0; b < B; b++)
            memcpy(in + b * T * n_in, (uint8_t *)rec_in.data + b * Tr * n_in, (size_t)(T * n_in));
        printf("Inputs: %lld trials x %lld steps recorded in %s\n", (long long)B, (long long)T, source);
    } else {
        double *rates = malloc((size_t)(n_in ? n_in : 1) * sizeof *rates);
        if (!rates) {
            rc = snn_fail(err, SNN_ERUN, "out of memory");
            goto done;
        }
        for (int64_t m = 0; m < n_in; m++) rates[m] = p->ff.firing_rate[s.ff_cell_types[m]];
        rc = snn_poisson_init_rates(&ps, n_in, rates, p->sim.dt, p->sim.seed, SNN_RNG_POISSON, err);
        free(rates);
        for (int64_t b = 0; !rc && b < B; b++) rc = snn_poisson_draw_rates(&ps, (uint32_t)b, 0, T, in + b * T * n_in, err);
        if (rc) goto done;
        printf("Inputs: Poisson at the [feedforward.activity] rates, %lld trials x %lld steps (seed %llu)\n",
               (long long)B, (long long)T, (unsigned long long)p->sim.seed);
    }
    snn_stage_print_refractory(p);
    rc = snn_state_alloc(&st, &net, (int)B, err);
    if (rc) goto done;
    snn_track tracks[SNN_MAX_TRACKED];
    snn_progress bar;
    snn_progress_start(&bar, "Simulating", T, o->quiet);
    for (int64_t t0 = 0; t0 < T; t0 += L) {
        int64_t len = T - t0 < L ? T - t0 : L;
        for (int64_t b = 0; b < B; b++) memcpy(in_chunk + b * len * n_in, in + (b * T + t0) * n_in, (size_t)(len * n_in));
        for (int q = 0; q < k_tr; q++) {
            size_t base = (size_t)q * T * m_tr;
            tracks[q] = (snn_track){.trial = (int)tp->trials[q], .n_neurons = (int)m_tr,
                                    .neurons = tp->n_neurons ? tp->neurons : NULL, .row0 = t0,
                                    .v = tv + base, .i_syn = ti + base * S, .i_leak = tl + base,
                                    .g = tg + base * 2 * S};
        }
        snn_forward_chunk(&net, &st, len, n_in ? in_chunk : NULL, out_chunk, tracks, k_tr);
        for (int64_t b = 0; b < B; b++) memcpy(out + (b * T + t0) * n, out_chunk + b * len * n, (size_t)(len * n));
        snn_progress_update(&bar, t0 + len, NULL);
    }
    snn_progress_finish(&bar);

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
    int64_t *neurons = malloc((size_t)m_tr * sizeof *neurons);
    if (!neurons) {
        snn_npz_abort(w);
        rc = snn_fail(err, SNN_ERUN, "out of memory");
        goto done;
    }
    for (int64_t q = 0; q < m_tr; q++) neurons[q] = tp->n_neurons ? tp->neurons[q] : q;
    int64_t sh_o[3] = {B, T, n}, sh_i[3] = {B, T, n_in}, sh_v[3] = {k_tr, T, m_tr}, sh_c[4] = {k_tr, T, m_tr, S},
            sh_g[5] = {k_tr, T, m_tr, 2, S}, sh_k[1] = {k_tr}, sh_m[1] = {m_tr}, sh_n[2] = {S, 64};
    rc = snn_npz_add_scalar_f64(w, "dt", p->sim.dt, err);
    if (!rc) rc = snn_npz_add(w, "output_spikes", SNN_BOOL, 3, sh_o, out, err);
    if (!rc) rc = snn_npz_add(w, "input_spikes", SNN_BOOL, 3, sh_i, in, err);
    if (!rc) rc = snn_npz_add(w, "tracked_trials", SNN_I64, 1, sh_k, tp->trials, err);
    if (!rc) rc = snn_npz_add(w, "tracked_neurons", SNN_I64, 1, sh_m, neurons, err);
    if (!rc) rc = snn_npz_add(w, "voltages", SNN_F32, 3, sh_v, tv, err);
    if (!rc) rc = snn_npz_add(w, "synaptic_currents", SNN_F32, 4, sh_c, ti, err);
    if (!rc) rc = snn_npz_add(w, "leak_currents", SNN_F32, 3, sh_v, tl, err);
    if (!rc) rc = snn_npz_add(w, "conductances", SNN_F32, 5, sh_g, tg, err);
    if (!rc) rc = snn_npz_add(w, "synapse_names", SNN_U8, 2, sh_n, names, err);
    free(neurons);
    if (rc) snn_npz_abort(w);
    else rc = snn_npz_close(w, err);
    if (!rc) rc = snn_stage_copy_params(o, err);
    if (!rc) printf("✓ Spikes and tracked traces saved to %s\n", path);
done:
    snn_poisson_free(&ps);
    snn_array_free(&rec_in);
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
    free(p);
    return rc;
}
