/* snnfit train P.toml -i IN -o OUT (stage 4, SPEC sections 6 and 7) and snnfit resume OUT.
 *
 * IN holds the teacher's network_structure.npz (or IN/inputs/) and spike_data.zarr (or
 * IN/results/); a stage-3 output folder works as it is. The teacher's weights are perturbed by
 * log-normal factors per trained type pair (numpy's legacy generator seeded with [simulation] seed, in
 * the reference's order, so the targets equal the reference's), the targets 1/P are saved, the student
 * starts from [scaling_factors], and trains on the teacher data chunk by chunk. initial_state/ and
 * final_state/ (from the best checkpoint's parameters) hold network_structure.npz with the effective
 * weights and the scaling factors, and the traces of a 10 s run of trial 0 on the teacher's inputs. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checked.h"
#include "core/fsutil.h"
#include "core/mem.h"
#include "core/nprandom.h"
#include "core/par.h"
#include "core/sha256.h"
#include "config/limits.h"
#include "io/npz.h"
#include "io/zarr.h"
#include "plot/dashboards.h"
#include "stages/fit_report.h"
#include "stages/stage.h"
#include "stages/train_hooks.h"
#include "stages/trained_state.h"
#include "train/trainer.h"

typedef struct teacher_data {
    snn_zarr_group *g;
    snn_zarr_array *in, *out;
    int64_t B, T, n, n_in, L;
    double dt;
    char path[SNN_PATH_MAX];
    char identity[65];  /* SHA-256 of the store's metadata and chunk sizes */
} teacher_data;

static int read_teacher_chunk(void *ctx, int64_t c, int64_t b0, int64_t nb, uint8_t *inputs, uint8_t *targets,
                              snn_error *err) {
    teacher_data *td = ctx;
    int64_t start[3] = {b0, c * td->L, 0}, cnt_in[3] = {nb, td->L, td->n_in}, cnt_out[3] = {nb, td->L, td->n};
    int rc = snn_zarr_read_region(td->in, start, cnt_in, inputs, err);
    if (!rc) rc = snn_zarr_read_region(td->out, start, cnt_out, targets, err);
    return rc;
}

static void teacher_close(teacher_data *td) {
    snn_zarr_array_free(td->in);
    snn_zarr_array_free(td->out);
    snn_zarr_group_free(td->g);
    memset(td, 0, sizeof *td);
}

static int find_in(const char *dir, const char *const *cands, int nc, char *out, size_t n) {
    for (int i = 0; i < nc; i++) {
        snprintf(out, n, "%s/%s", dir, cands[i]);
        if (snn_path_exists(out)) return 1;
    }
    return 0;
}

static int open_teacher(const char *input, const snn_params *p, const snn_structure *s, teacher_data *td,
                        snn_error *err) {
    static const char *const stores[] = {"spike_data.zarr", "results/spike_data.zarr"};
    if (!find_in(input, stores, 2, td->path, sizeof td->path))
        return snn_fail(err, SNN_EINPUT, "%s: no teacher data (spike_data.zarr or results/spike_data.zarr)", input);
    td->g = snn_zarr_open_group(td->path, err);
    if (!td->g) return SNN_EINPUT;
    int rc = snn_zarr_attr_double(td->g, "dt", &td->dt, err);
    if (rc) return rc;
    /* the store's dt sizes everything after it (the 10 s runs of initial_state/ and final_state/) */
    if (!(td->dt > 0) || !isfinite(td->dt) || 10000.0 / td->dt > (double)SNN_MAX_STEPS)
        return snn_fail(err, SNN_EINPUT,
                        "zarr store %s: group attribute 'dt' is %g ms; expected a time step > 0 ms, at least %g ms "
                        "(10 s in at most %lld steps)",
                        td->path, td->dt, 10000.0 / (double)SNN_MAX_STEPS, (long long)SNN_MAX_STEPS);
    if (p->sim.has_dt && fabs(td->dt - p->sim.dt) > 1e-9 * fabs(p->sim.dt))
        return snn_fail(err, SNN_EINPUT, "%s: attribute 'dt' is %g ms but %s says [simulation] dt = %g ms", td->path,
                        td->dt, p->path, p->sim.dt);
    td->in = snn_zarr_open_array(td->g, "input_spikes", err);
    if (!td->in) return SNN_EINPUT;
    td->out = snn_zarr_open_array(td->g, "output_spikes", err);
    if (!td->out) return SNN_EINPUT;
    const int64_t *si = snn_zarr_shape(td->in), *so = snn_zarr_shape(td->out);
    if (snn_zarr_ndim(td->in) != 3 || snn_zarr_ndim(td->out) != 3 || snn_zarr_dtype(td->in) != SNN_BOOL ||
        snn_zarr_dtype(td->out) != SNN_BOOL)
        return snn_fail(err, SNN_EINPUT, "%s: input_spikes and output_spikes must be 3-d bool arrays (trials, T, N)",
                        td->path);
    if (so[2] != s->n)
        return snn_fail(err, SNN_EINPUT, "%s: array 'output_spikes' has N = %lld neurons but the network has %lld",
                        td->path, (long long)so[2], (long long)s->n);
    if (si[2] != s->n_in)
        return snn_fail(err, SNN_EINPUT, "%s: array 'input_spikes' has N_in = %lld inputs but the network has %lld",
                        td->path, (long long)si[2], (long long)s->n_in);
    if (si[0] != so[0] || si[1] != so[1])
        return snn_fail(err, SNN_EINPUT, "%s: arrays 'input_spikes' and 'output_spikes' disagree on trials or steps",
                        td->path);
    td->B = so[0];
    td->T = so[1];
    td->n = s->n;
    td->n_in = s->n_in;
    td->L = p->sim.chunk_size;
    if (td->B < 1 || td->B > SNN_MAX_TRIALS || td->T > SNN_MAX_STEPS)
        return snn_fail(err, SNN_EINPUT,
                        "%s: the teacher data have %lld trials of %lld steps; expected 1..%lld trials of at most %lld "
                        "steps",
                        td->path, (long long)td->B, (long long)td->T, (long long)SNN_MAX_TRIALS, (long long)SNN_MAX_STEPS);
    if (td->L > td->T)
        return snn_fail(err, SNN_EINPUT, "%s: [simulation] chunk_size = %lld steps is longer than the teacher data (%lld steps)",
                        p->path, (long long)td->L, (long long)td->T);
    /* every chunk is checked now, before the output folder exists, rather than when training reaches it;
     * a format-2 store (stage 3's) must have them all. The identity of the data (metadata, chunk names
     * and sizes) goes into the run's record. */
    const int whole = snn_zarr_format(td->g) == 2;
    snn_sha256 id;
    snn_sha256_init(&id);
    rc = snn_zarr_group_identity(td->g, &id, err);
    if (!rc) rc = snn_zarr_check_chunks(td->in, whole, &id, err);
    if (!rc) rc = snn_zarr_check_chunks(td->out, whole, &id, err);
    /* and decoded once: about one pass over the data, which training makes many times */
    if (!rc) rc = snn_zarr_decode_all(td->in, err);
    if (!rc) rc = snn_zarr_decode_all(td->out, err);
    if (rc) return rc;
    uint8_t d[32];
    snn_sha256_final(&id, d);
    snn_sha256_to_hex(d, td->identity);
    return SNN_OK;
}

/* Trial 0's input spikes of the first n_ch chunks of the teacher data (caller frees). */
static uint8_t *trial0_inputs(teacher_data *td, int64_t n_ch, snn_error *err) {
    /* sizes bounded by the limits and the memory estimate checked before the run */
    uint8_t *in = malloc((size_t)(n_ch * td->L) * (size_t)td->n_in + 1);
    uint8_t *cin = malloc((size_t)td->L * (size_t)td->n_in + 1);
    uint8_t *cout = malloc((size_t)td->L * (size_t)td->n + 1);
    int rc = SNN_OK;
    if (!in || !cin || !cout) rc = snn_fail(err, SNN_ERUN, "out of memory reading trial 0's inputs");
    for (int64_t c = 0; !rc && c < n_ch; c++) {
        rc = read_teacher_chunk(td, c, 0, 1, cin, cout, err);
        if (!rc) memcpy(in + c * td->L * td->n_in, cin, (size_t)(td->L * td->n_in));
    }
    free(cin);
    free(cout);
    if (rc) {
        free(in);
        return NULL;
    }
    return in;
}

/* initial_state/ or final_state/: the structure and a 10 s run of trial 0 on the teacher's inputs. */
static int save_state_dir(const char *out, const char *name, const snn_params *p, const snn_structure *s,
                          const snn_network *net, teacher_data *td, snn_error *err) {
    int64_t steps = (int64_t)(10000.0 / td->dt + 0.5);
    int64_t n_ch = (steps + td->L - 1) / td->L;
    if (n_ch > td->T / td->L) n_ch = td->T / td->L;
    steps = steps < n_ch * td->L ? steps : n_ch * td->L;
    uint8_t *in = trial0_inputs(td, n_ch, err);
    if (!in) return err && err->code ? err->code : SNN_ERUN;
    int rc = snn_save_state_dir(out, name, p, s, net, in, steps, NULL, err);
    free(in);
    return rc;
}

/* Perturbs the teacher's weights (SPEC 7.2), fills the targets; returns them for the metrics. */
static int perturb(const snn_params *p, snn_structure *s, int nt, int nff, double *target_sf, double *target_sf_ff,
                   int *has_sf, int *has_sf_ff, const char *out, int write, snn_error *err) {
    const snn_train_params *tp = &p->train;
    snn_nprandom rng;
    snn_np_seed(&rng, (uint32_t)p->sim.seed);
    double sigma = sqrt(tp->weight_perturbation_variance), mu = -tp->weight_perturbation_variance / 2;
    const int64_t n = s->n, n_in = s->n_in;
    char dir[SNN_PATH_MAX], path[SNN_PATH_MAX];
    int rc = snn_path_join(dir, sizeof dir, out, "targets", err);
    /* a resumed run has its targets: they are computed again (the student needs the perturbed
     * weights), never rewritten */
    if (!rc && write) rc = snn_mkdirs(dir, err);
    if (rc) return rc;
    *has_sf = *has_sf_ff = 0;
    if (tp->optimisable == SNN_OPT_WEIGHTS) {
        /* every synapse by its own factor, row-major over the recurrent then the feedforward matrix
         * (the synapses in CSR order are the connected entries in row-major order) */
        snn_structure teacher_copy = *s;
        float *w0 = malloc((size_t)s->rec.nnz * sizeof(float) + 1), *wf0 = malloc((size_t)s->ff.nnz * sizeof(float) + 1);
        if (!w0 || !wf0) {
            free(w0);
            free(wf0);
            return snn_fail(err, SNN_ERUN, "out of memory perturbing the weights");
        }
        memcpy(w0, s->rec.w, (size_t)s->rec.nnz * sizeof(float));
        memcpy(wf0, s->ff.w, (size_t)s->ff.nnz * sizeof(float));
        for (int64_t e = 0; e < s->rec.nnz; e++) s->rec.w[e] = (float)((double)s->rec.w[e] * snn_np_lognormal(&rng, mu, sigma));
        for (int64_t e = 0; e < s->ff.nnz; e++) s->ff.w[e] = (float)((double)s->ff.w[e] * snn_np_lognormal(&rng, mu, sigma));
        teacher_copy.rec.w = w0;
        teacher_copy.ff.w = wf0;
        teacher_copy.has_scaling_factors = 0;
        rc = snn_path_join(path, sizeof path, dir, "target_weights.npz", err);
        if (!rc && write) rc = snn_structure_save(path, &teacher_copy, err);
        free(w0);
        free(wf0);
        return rc;
    }
    int do_rec = tp->optimisable != SNN_OPT_SCALING_FACTORS_FEEDFORWARD;
    int do_ff = tp->optimisable != SNN_OPT_SCALING_FACTORS_RECURRENT;
    double P[SNN_MAX_TYPES * SNN_MAX_TYPES], Pf[SNN_MAX_TYPES * SNN_MAX_TYPES];
    if (do_rec)
        for (int a = 0; a < nt * nt; a++) P[a] = snn_np_lognormal(&rng, mu, sigma);
    if (do_ff)
        for (int a = 0; a < nff * nt; a++) Pf[a] = snn_np_lognormal(&rng, mu, sigma);
    snn_npz_writer *w = NULL;
    rc = snn_path_join(path, sizeof path, dir, "target_scaling_factors.npz", err);
    if (!rc && write) w = snn_npz_create(path, 0, err);
    if (rc || (write && !w)) return rc ? rc : SNN_ERUN;
    int64_t s_rec[2] = {nt, nt}, s_ff[2] = {nff, nt};
    if (do_rec) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t e = s->rec.row[i]; e < s->rec.row[i + 1]; e++)
                s->rec.w[e] = (float)((double)s->rec.w[e] * P[s->cell_types[i] * nt + s->cell_types[s->rec.col[e]]]);
        for (int a = 0; a < nt * nt; a++) target_sf[a] = 1.0 / P[a];
        *has_sf = 1;
        if (w) rc = snn_npz_add(w, "recurrent_scaling_factors", SNN_F64, 2, s_rec, target_sf, err);
    }
    if (!rc && do_ff) {
        for (int64_t m = 0; m < n_in; m++)
            for (int64_t e = s->ff.row[m]; e < s->ff.row[m + 1]; e++)
                s->ff.w[e] = (float)((double)s->ff.w[e] * Pf[s->ff_cell_types[m] * nt + s->cell_types[s->ff.col[e]]]);
        for (int a = 0; a < nff * nt; a++) target_sf_ff[a] = 1.0 / Pf[a];
        *has_sf_ff = 1;
        if (w) rc = snn_npz_add(w, "feedforward_scaling_factors", SNN_F64, 2, s_ff, target_sf_ff, err);
    }
    if (!w) return rc;
    if (rc) {
        snn_npz_abort(w);
        return rc;
    }
    return snn_npz_close(w, err);
}

static int run(const snn_stage_opts *o, const char *params_path, const char *input, const char *checkpoint,
               snn_error *err) {
    snn_params *p = calloc(1, sizeof *p);
    if (!p) return snn_fail(err, SNN_ERUN, "out of memory");
    snn_structure s = {0};
    snn_network net = {0};
    teacher_data td = {0};
    snn_train_hooks hooks = {0};
    int hooks_open = 0, final_written = 0;
    snn_trainer tr;
    int have_tr = 0;
    char spath[SNN_PATH_MAX], input_abs[SNN_PATH_MAX];
    snn_run_record record = {0};
    static const char *const nets[] = {"network_structure.npz", "inputs/network_structure.npz"};
    int rc = snn_params_load(params_path, SNN_STAGE_TRAIN, p, err);
    if (rc) goto done;
    if (input == NULL || !*input) {
        rc = snn_fail(err, SNN_EINPUT, "no input given (-i IN: a folder with network_structure.npz and spike_data.zarr)");
        goto done;
    }
    if (!snn_is_dir(input)) {
        rc = snn_fail(err, SNN_EINPUT, "%s: not a folder (expected network_structure.npz and spike_data.zarr in it)", input);
        goto done;
    }
    /* recorded absolute, so that a resume does not depend on the working directory */
    if (snn_stage_resolve_path(input, input_abs, sizeof input_abs)) {
        rc = snn_fail(err, SNN_EINPUT, "%s: path too long", input);
        goto done;
    }
    if (!find_in(input, nets, 2, spath, sizeof spath)) {
        rc = snn_fail(err, SNN_EINPUT, "%s: no network_structure.npz (or inputs/network_structure.npz)", input);
        goto done;
    }
    rc = snn_stage_check_structure_memory(o, spath, err);
    if (!rc) rc = snn_structure_load(spath, p->rec.n_types, p->ff.n_types, &s, err);
    if (!rc) rc = open_teacher(input, p, &s, &td, err);
    if (rc) goto done;
    p->sim.dt = td.dt;
    const int nt = p->rec.n_types, nff = p->ff.n_types;
    const int64_t n_chunks = td.T / td.L;
    /* an L-BFGS iteration is a pass over the fit data: both spellings of epochs count iterations */
    const int lbfgs = p->train.method == SNN_METHOD_TEACHER_FORCED && p->train.optimiser == SNN_OPTIMISER_LBFGS;
    int64_t iterations = p->train.iterations;
    if (!p->train.has_iterations && lbfgs) iterations = p->train.passes;
    if (!p->train.has_iterations && !lbfgs &&
        (snn_i64_mul_overflows(p->train.passes, n_chunks, &iterations) || iterations > SNN_MAX_ITERATIONS)) {
        rc = snn_fail(err, SNN_EINPUT,
                      "%s: [training] epochs: %lld passes over %lld chunks of teacher data are more than %lld iterations",
                      p->path, (long long)p->train.passes, (long long)n_chunks, (long long)SNN_MAX_ITERATIONS);
        goto done;
    }
    if ((rc = snn_params_train_accumulation_check(p, iterations, err))) goto done;
    if (lbfgs) {
        /* the trainer's fit span and burn-in, checked before anything is written */
        const int64_t span = p->train.has_fit_steps && p->train.fit_steps < n_chunks * td.L ? p->train.fit_steps
                                                                                            : n_chunks * td.L;
        if ((int64_t)ceil(p->train.burn_in / td.dt - 1e-9) >= span) {
            rc = snn_fail(err, SNN_EINPUT,
                          "%s: [training] burn_in = %g ms leaves no step of the fit data (%lld steps of %g ms) in the loss",
                          p->path, p->train.burn_in, (long long)span, td.dt);
            goto done;
        }
    }
    /* what the run depends on: its parameters, its teacher store and the teacher's network */
    {
        char net_sha[65], data[2 * 65 + 1];
        rc = snn_sha256_file(spath, net_sha, err);
        if (rc) goto done;
        snprintf(data, sizeof data, "%s%s", td.identity, net_sha);
        rc = snn_stage_run_record(&record, p->sim.seed, params_path, data, err);
        if (rc) goto done;
    }
    {
        snn_mem_net z;
        snn_mem_estimate est;
        snn_mem_net_of(p, &s, &z);
        snn_est_train(p, &z, td.B, td.dt, snn_zarr_chunks(td.out)[0], snn_zarr_chunks(td.out)[1], &est);
        if ((rc = snn_stage_check_memory(o, &est, params_path, err))) goto done;
    }
    if (checkpoint && !snn_path_exists(checkpoint)) {
        rc = snn_fail(err, SNN_EINPUT, "%s: no checkpoint to resume from", checkpoint);
        goto done;
    }
    if (!rc) rc = snn_trainer_check_ranks(p, (int)td.B, err);
    /* every rank has read and checked its inputs before rank 0 writes the output folder, its inputs and
     * initial_state/; the other ranks then wait at the sync after it (core/par.h) */
    if ((rc = snn_par_sync(rc, err))) goto done;
    const int rank0 = snn_par_rank() == 0;
    if (!checkpoint && rank0) {
        /* a run killed before its first checkpoint is started again by the same command */
        snn_stage_opts o2 = *o;
        if (!o->overwrite && snn_stage_unstarted_run(o)) {
            printf("%s holds this run, stopped before its first checkpoint: starting it again\n", o->output);
            o2.overwrite = 1;
        }
        rc = snn_stage_prepare_output(&o2, err);
        /* parameters.toml first: a folder holding it and no checkpoint is a run that had not started */
        if (!rc) rc = snn_stage_copy_params(o, err);
    }
    if (rc) goto done;

    if (!checkpoint) {
        printf("Using seed: %llu\n", (unsigned long long)p->sim.seed);
        if (p->train.mixed_precision_given) printf("Note: mixed_precision is a GPU option; ignored.\n");
    }
    if (td.T % td.L)
        printf("Warning: total_time (%lld) not divisible by chunk_size (%lld); the last %lld steps are not used\n",
               (long long)td.T, (long long)td.L, (long long)(td.T % td.L));
    printf("✓ Loaded %lld chunks x %lld trials of teacher data from %s (dt %g ms)\n", (long long)n_chunks,
           (long long)td.B, td.path, td.dt);
    double target_sf[SNN_MAX_TYPES * SNN_MAX_TYPES], target_sf_ff[SNN_MAX_TYPES * SNN_MAX_TYPES];
    int has_sf = 0, has_sf_ff = 0;
    rc = perturb(p, &s, nt, nff, target_sf, target_sf_ff, &has_sf, &has_sf_ff, o->output, checkpoint == NULL && rank0,
                 err);
    if (!rc) rc = snn_network_build(&net, &p->rec, &p->ff, &s, td.dt, err);
    if (rc) goto done;
    {
        double sf0[SNN_MAX_TYPES * SNN_MAX_TYPES], sff0[SNN_MAX_TYPES * SNN_MAX_TYPES];
        for (int a = 0; a < nt; a++)
            for (int b = 0; b < nt; b++) sf0[a * nt + b] = p->train.sf_init[a][b];
        for (int a = 0; a < nff; a++)
            for (int b = 0; b < nt; b++) sff0[a * nt + b] = p->train.sf_ff_init[a][b];
        snn_network_set_scaling(&net, sf0, sff0);
        if (!checkpoint && rank0) {
            printf("\n===================================\nINITIAL SCALING FACTORS AND TARGETS\n"
                   "===================================\n");
            snn_print_matrix("Initial recurrent scaling factors:", sf0, nt, nt);
            printf("\n");
            snn_print_matrix("Initial feedforward scaling factors:", sff0, nff, nt);
            if (has_sf) {
                printf("\n");
                snn_print_matrix("Target recurrent scaling factors:", target_sf, nt, nt);
            }
            if (has_sf_ff) {
                printf("\n");
                snn_print_matrix("Target feedforward scaling factors:", target_sf_ff, nff, nt);
            }
            printf("===================================\n\n");
            snn_stage_print_refractory(p);
            /* the teacher's (unperturbed) network, as the reference's runner links it: the target of
             * `snnfit compare` */
            char idir[SNN_PATH_MAX], icopy[SNN_PATH_MAX];
            rc = snn_path_join(idir, sizeof idir, o->output, "inputs", err);
            if (!rc) rc = snn_mkdirs(idir, err);
            if (!rc) rc = snn_path_join(icopy, sizeof icopy, idir, "network_structure.npz", err);
            /* written, not copied, so that a dense and a sparse IN give the same bytes */
            snn_structure orig = {0};
            if (!rc) rc = snn_structure_load(spath, nt, nff, &orig, err);
            if (!rc) rc = snn_structure_save(icopy, &orig, err);
            snn_structure_free(&orig);
            if (!rc) rc = save_state_dir(o->output, "initial_state", p, &s, &net, &td, err);
            if (rc) goto done;
        }
    }
    if ((rc = snn_par_sync(rc, err))) goto done;
    rc = snn_trainer_init(&tr, p, &net, (int)td.B, td.L, n_chunks, iterations, o->output, input_abs, err);
    if (rc) goto done;
    have_tr = 1;
    tr.quiet = o->quiet;
    {
        const snn_mem_sizes z = snn_stage_mem_sizes(&net);
        snn_stage_print_memory(&net, 1, snn_mem_train(&z, td.B, td.L, tr.n_params, p->train.plot_size * td.L,
                                                      (int64_t)(10000.0 / td.dt + 0.5)));
    }
    tr.record = record;

    tr.has_target_sf = has_sf;
    tr.has_target_sf_ff = has_sf_ff;
    memcpy(tr.target_sf, target_sf, sizeof target_sf);
    memcpy(tr.target_sf_ff, target_sf_ff, sizeof target_sf_ff);
    if (checkpoint) {
        rc = snn_trainer_load(&tr, checkpoint, err);
        if (!rc) rc = snn_stage_check_record(&tr, checkpoint, params_path, "teacher data", td.path, err);
        if (rc) goto done;
        printf("✓ Resumed from %s at epoch %lld (best loss %.6f)\n", checkpoint, (long long)tr.iteration, tr.best_loss);
    }
    /* the metrics' other writers (TensorBoard, W&B) and the figures are rank 0's */
    if (rank0) {
        int64_t plot_chunks = p->train.plot_size < n_chunks ? p->train.plot_size : n_chunks;
        uint8_t *fig_in = trial0_inputs(&td, plot_chunks, err);
        if (!fig_in) {
            rc = err && err->code ? err->code : SNN_ERUN;
            goto done;
        }
        rc = snn_train_hooks_open(&hooks, &tr, o->output, p, &s, NULL, fig_in, plot_chunks * td.L, o->no_wandb,
                                  checkpoint != NULL, err);
        hooks_open = 1;
        if (rc) goto done;
    }
    if ((rc = snn_par_sync(rc, err))) goto done;
    if (snn_par_size() > 1)
        printf("MPI: %d ranks, each training on a block of the %lld trials (rank 0: trials %lld-%lld)\n",
               snn_par_size(), (long long)td.B, (long long)tr.b0, (long long)(tr.b0 + tr.Bl - 1));
    /* from here on the run can be resumed: everything before the first epoch is written */
    if (!checkpoint && (rc = snn_stage_first_checkpoint(&tr, err))) goto done;
    if (p->train.method == SNN_METHOD_TEACHER_FORCED)
        printf("Method: teacher forcing (the student driven by the teacher's spikes), spike-time %s loss, delta "
               "%g mV%s\n",
               p->train.spike_time_loss ? "squared-hinge" : "cross-entropy", p->train.spike_time_delta,
               lbfgs ? "; full-batch L-BFGS, one epoch = one iteration" : "; Adam on chunks");
    else
        printf("Method: closed loop (the student runs freely on the teacher's inputs)\n");
    if (lbfgs)
        printf("Fit data: %lld trials x %lld steps (%.1fs each)%s\nL-BFGS iterations at most: %lld\n",
               (long long)td.B, (long long)tr.fit_steps, (double)tr.fit_steps * td.dt / 1000.0,
               tr.burn_steps ? ", burn-in left out of the loss" : "", (long long)iterations);
    else
    printf("Chunk size: %lld timesteps (%.1fs)\nTotal epochs: %lld (%.1fs of teacher data, %lld passes)\n"
           "Batch size: %lld\nAccumulation interval: %lld\nLog interval: %lld\nCheckpoint interval: %lld\n",
           (long long)td.L, (double)td.L * td.dt / 1000.0, (long long)iterations,
           (double)iterations * (double)td.L * td.dt / 1000.0, (long long)((iterations + n_chunks - 1) / n_chunks),
           (long long)td.B, (long long)p->train.accumulation_interval, (long long)p->train.log_interval,
           (long long)p->train.checkpoint_interval);
    fflush(stdout);
    int save_final = 0;
    rc = snn_stage_run_trainer(&tr, read_teacher_chunk, &td, o->stop_after, "epoch", o->output, &save_final, err);
    if (rc || !save_final) goto done;
    memcpy(tr.params, tr.best_params, (size_t)tr.n_params * sizeof(double));
    snn_trainer_apply_params(&tr, tr.best_params);
    /* final_state/ is rank 0's; the fit report is collective (its teacher-forced evaluation and bias
     * check go over every rank's trials; its closed-loop run and its files are rank 0's) */
    if (rank0) rc = save_state_dir(o->output, "final_state", p, &s, &net, &td, err);
    if ((rc = snn_par_sync(rc, err))) goto done;
    if (!tr.train_w) {
        snn_print_matrix("Learned recurrent scaling factors (best):", tr.best_params, nt, nt);
        snn_print_matrix("Learned feedforward scaling factors (best):", tr.best_params + nt * nt, nff, nt);
    }
    {
        double initial[2 * SNN_MAX_TYPES * SNN_MAX_TYPES];
        for (int a = 0; a < nt; a++)
            for (int b = 0; b < nt; b++) initial[a * nt + b] = p->train.sf_init[a][b];
        for (int a = 0; a < nff; a++)
            for (int b = 0; b < nt; b++) initial[nt * nt + a * nt + b] = p->train.sf_ff_init[a][b];
        rc = snn_fit_report(&tr, read_teacher_chunk, &td, initial, o->output, err);
    }
    /* finished only once final_state/ and its fit report are written: a run killed before this point
     * writes them again when resumed */
    if (!rc) rc = snn_stage_mark_finished(&tr, err);
    final_written = !rc;
done:
    if (hooks_open) snn_train_hooks_close(&hooks, have_tr ? tr.iteration : 0, final_written);
    if (have_tr) snn_trainer_free(&tr);
    teacher_close(&td);
    snn_network_free(&net);
    snn_structure_free(&s);
    free(p);
    return rc;
}

int snn_stage_train(const snn_stage_opts *o, snn_error *err) {
    if (o->resume_from) {
        if (!snn_is_dir(o->output))
            return snn_fail(err, SNN_EINPUT, "%s: no such run folder to resume in", o->output);
        /* rank 0 holds the folder's lock (the other ranks write nothing) */
        int rc = snn_par_rank() == 0 ? snn_stage_begin_resume(o->output, err) : SNN_OK;
        if (rc) return rc;
        return run(o, o->params_path, o->input, o->resume_from, err);
    }
    int rc = snn_stage_check_io(o, err);
    if (rc) return rc;
    return run(o, o->params_path, o->input, NULL, err);
}

int snn_stage_resume(const snn_stage_opts *o, snn_error *err) {
    char params[SNN_PATH_MAX], ckpt[SNN_PATH_MAX];
    int rc = snn_path_join(params, sizeof params, o->output, "parameters.toml", err);
    if (!rc) rc = snn_path_join(ckpt, sizeof ckpt, o->output, "checkpoints/checkpoint_latest.npz", err);
    if (rc) return rc;
    if (!snn_is_dir(o->output)) return snn_fail(err, SNN_EINPUT, "%s: no such run folder", o->output);
    if (snn_par_rank() == 0 && (rc = snn_stage_begin_resume(o->output, err))) return rc;
    if (!snn_path_exists(ckpt))
        return snn_fail(err, SNN_EINPUT,
                        "%s: no checkpoint to resume from (checkpoints/checkpoint_latest.npz is missing; a run killed "
                        "before its first checkpoint starts again with the command that started it)",
                        o->output);
    if (!snn_path_exists(params))
        return snn_fail(err, SNN_EINPUT, "%s: parameters.toml is missing", o->output);
    /* a stage-2 (homeostatic) folder continues there */
    snn_stage which;
    if ((rc = snn_params_training_stage(params, &which, err))) return rc;
    if (which == SNN_STAGE_HOMEOSTATIC) return snn_stage_homeostatic_resume(o, err);
    /* the teacher data's folder is recorded in the checkpoint */
    snn_npz *z = snn_npz_open(ckpt, err);
    if (!z) return SNN_EINPUT;
    snn_array a = {0};
    rc = snn_npz_read_as(z, "input_path", SNN_U8, 1, (int64_t[]){-1}, &a, err);
    snn_npz_free(z);
    if (rc) return rc;
    char input[SNN_PATH_MAX];
    size_t len = (size_t)a.shape[0];
    if (len >= sizeof input || memchr(a.data, 0, len)) {
        snn_array_free(&a);
        return snn_fail(err, SNN_EINPUT, "%s: array 'input_path' is not a path (a corrupt checkpoint)", ckpt);
    }
    memcpy(input, a.data, len);
    input[len] = '\0';
    snn_array_free(&a);
    return run(o, params, input, ckpt, err);
}
