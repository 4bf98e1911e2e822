/* snnfit homeostatic P.toml [-i IN] -o OUT (stage 2, SPEC section 7.8) and the resume of its folders.
 *
 * The network: -i IN (a network_structure.npz, or a folder holding one directly or in inputs/), or
 * without -i the connectome generated from the parameter file's topology and weights with cell types
 * balanced per assembly (the reference's stage-2 generator, bit for bit). Either way it is saved as
 * OUT/inputs/network_structure.npz, which is what a resume reads, so a run folder is self-contained.
 *
 * The trainer of stage 4 with fixed targets ([targets] firing_rate, alpha, threshold_ratio, cv,
 * weight_ratio) and no teacher: the inputs of every iteration are homogeneous Poisson spikes at the
 * [feedforward.activity] rate of each input's type, a pure function of (seed, trial, global step,
 * input), so a resumed run draws exactly the inputs the uninterrupted run would have. The run is one
 * long simulation: iteration k is chunk k (n_chunks = iterations), so the trainer never wraps and
 * never resets the network state. initial_state/ and final_state/ (from the best parameters) hold
 * the effective weights and the learned scaling factors (applied as SF[type pre][type post], the
 * simulator's convention; the reference's final state transposes them) and the traces of a 10 s run
 * of one trial on Poisson input, with their dashboards (figures/); the same input realisation is
 * used for both, so that they differ only by what was learned. final_state/network_structure.npz is
 * stage 3's input. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/mem.h"
#include "core/par.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "inputs/poisson.h"
#include "io/npz.h"
#include "model/connectome.h"
#include "plot/dashboards.h"
#include "stages/stage.h"
#include "stages/train_hooks.h"
#include "stages/trained_state.h"
#include "train/trainer.h"

/* The chunk reader's context: one fixed-rate generator for every trial. */
typedef struct poisson_source {
    snn_poisson ps;
    int B;
    int64_t L, n_in;
} poisson_source;

/* Chunk c of trials b0 .. b0+nb-1: global steps [c L, (c + 1) L). The trainer's target buffer stays as it was
 * allocated (zeros): no stage-2 loss reads teacher spikes (the loader refuses van Rossum weights, and
 * the rate and CV targets are fixed). */
static int read_poisson_chunk(void *ctx, int64_t c, int64_t b0, int64_t nb, uint8_t *inputs, uint8_t *targets,
                              snn_error *err) {
    poisson_source *src = ctx;
    (void)targets;
    if (src->n_in == 0) return SNN_OK;
    for (int64_t b = 0; b < nb; b++) {
        int rc = snn_poisson_draw_rates(&src->ps, (uint32_t)(b0 + b), c * src->L, src->L,
                                        inputs + (size_t)b * (size_t)(src->L * src->n_in), err);
        if (rc) return rc;
    }
    return SNN_OK;
}

/* -i IN: the file itself, or IN/network_structure.npz, or IN/inputs/network_structure.npz. */
static int find_structure(const char *input, char *out, size_t n, snn_error *err) {
    if (!snn_is_dir(input)) {
        if (!snn_path_exists(input))
            return snn_fail(err, SNN_EINPUT, "%s: no such file or folder (expected network_structure.npz or a folder "
                                             "holding it)", input);
        if ((size_t)snprintf(out, n, "%s", input) >= n) return snn_fail(err, SNN_EINPUT, "%s: path too long", input);
        return SNN_OK;
    }
    static const char *const cands[] = {"network_structure.npz", "inputs/network_structure.npz"};
    for (int i = 0; i < 2; i++) {
        int rc = snn_path_join(out, n, input, cands[i], err);
        if (rc) return rc;
        if (snn_path_exists(out)) return SNN_OK;
    }
    return snn_fail(err, SNN_EINPUT, "%s: no network_structure.npz (or inputs/network_structure.npz) in this folder",
                    input);
}

/* Rates of each cell type over a run of one trial from the initial state on inputs [steps][n_in]. */
static int type_rates(const snn_network *net, const uint8_t *inputs, int64_t steps, int64_t chunk, double *rates,
                      snn_error *err) {
    snn_state st = {0};
    uint8_t *out = snn_calloc((size_t)(chunk * net->n), 1, "output spikes", err);
    int64_t counts[SNN_MAX_TYPES] = {0}, members[SNN_MAX_TYPES] = {0};
    int rc = out ? snn_state_alloc(&st, net, 1, err) : SNN_ERUN;
    for (int64_t t0 = 0; !rc && t0 < steps; t0 += chunk) {
        int64_t L = steps - t0 < chunk ? steps - t0 : chunk;
        snn_forward_chunk(net, &st, L, inputs + t0 * net->n_in, out, NULL, 0);
        for (int64_t k = 0; k < L * net->n; k++) counts[net->type[k % net->n]] += out[k];
    }
    for (int64_t j = 0; j < net->n; j++) members[net->type[j]]++;
    double secs = (double)steps * net->dt / 1000.0;
    for (int t = 0; t < net->n_types; t++)
        rates[t] = members[t] && secs > 0 ? (double)counts[t] / ((double)members[t] * secs) : NAN;
    snn_state_free(&st);
    snn_free(out);
    return rc;
}

static void print_rates(const char *when, const snn_params *p, const double *rates, double secs) {
    printf("Mean firing rates %s (%.1f s, trial 0):", when, secs);
    for (int t = 0; t < p->rec.n_types; t++)
        printf("%s %s %.3f Hz (target %.3f Hz)", t ? "," : "", p->rec.type_names[t], rates[t],
               p->train.target_rate[t]);
    printf("\n");
}

static void print_targets(const snn_params *p) {
    const snn_train_params *tp = &p->train;
    printf("\n===================================\nHOMEOSTATIC TARGETS\n===================================\n");
    for (int t = 0; t < p->rec.n_types; t++)
        printf("%-12s firing rate %.3f Hz, CV %.3f, alpha %g, threshold ratio %g\n", p->rec.type_names[t],
               tp->target_rate[t], tp->target_cv[t], tp->alpha[t], tp->threshold_ratio[t]);
    printf("weight ratio (mean SF[%s][:] / mean SF_FF): %g\n", p->rec.type_names[0], tp->target_weight_ratio);
    printf("loss weights:");
    static const char *const names[SNN_N_LOSSES] = {"van_rossum", "firing_rate", "silent_penalty", "cv",
                                                    "membrane_variance", "weight_ratio"};
    for (int k = 1; k <= SNN_LOSS_WEIGHT_RATIO; k++) printf(" %s %g", names[k], tp->loss_weight[k]);
    printf("\n===================================\n");
}

/* initial_state/ or final_state/ with its dashboards (figures/), written whole or not at all. */
static int save_state(const char *out, const char *name, const snn_params *p, const snn_structure *s,
                      const snn_network *net, const uint8_t *inputs, int64_t steps, snn_error *err) {
    return snn_save_state_dir(out, name, p, s, net, inputs, steps, s->assembly_ids, err);
}

/* The checkpoint's input_path (what the run was started with), so that a resumed run writes the
 * same checkpoints as the uninterrupted one. */
static int checkpoint_input_path(const char *ckpt, char *out, size_t n, snn_error *err) {
    snn_npz *z = snn_npz_open(ckpt, err);
    if (!z) return SNN_EINPUT;
    snn_array a = {0};
    int rc = snn_npz_read_as(z, "input_path", SNN_U8, 1, (int64_t[]){-1}, &a, err);
    snn_npz_free(z);
    if (rc) return rc;
    size_t len = (size_t)a.shape[0] < n - 1 ? (size_t)a.shape[0] : n - 1;
    memcpy(out, a.data, len);
    out[len] = '\0';
    snn_array_free(&a);
    return SNN_OK;
}

static int run(const snn_stage_opts *o, const char *params_path, const char *input, const char *checkpoint,
               snn_error *err) {
    snn_params *p = calloc(1, sizeof *p);
    if (!p) return snn_fail(err, SNN_ERUN, "out of memory");
    snn_structure s = {0};
    snn_network net = {0};
    poisson_source src = {0};
    snn_train_hooks hooks = {0};
    int hooks_open = 0, final_written = 0;
    snn_poisson aux = {0};
    snn_trainer tr;
    int have_tr = 0;
    uint8_t *probe = NULL;
    double *rates_in = NULL;
    char spath[SNN_PATH_MAX], path[SNN_PATH_MAX];
    snn_run_record record = {0};
    int rc = snn_params_load(params_path, SNN_STAGE_HOMEOSTATIC, p, err);
    if (rc) goto done;
    const int nt = p->rec.n_types, nff = p->ff.n_types;
    const snn_train_params *tp = &p->train;
    const int64_t iterations = tp->iterations, L = p->sim.chunk_size;
    const int B = (int)p->sim.batch_size;
    int generated = 0;

    /* the network, read and checked before the output folder is touched */
    if (checkpoint) {
        rc = snn_path_join(spath, sizeof spath, o->output, "inputs/network_structure.npz", err);
        if (!rc && !snn_path_exists(spath))
            rc = snn_fail(err, SNN_EINPUT, "%s: missing; a stage-2 run folder keeps its network there", spath);
    } else if (input && *input) {
        rc = find_structure(input, spath, sizeof spath, err);
    } else if (p->rec.has_topology && p->ff.has_topology) {
        snn_mem_net z;
        snn_mem_net_of(p, NULL, &z);
        snn_mem_estimate est;
        snn_mem_init(&est);
        snn_est_structure(&est, &z);
        rc = snn_stage_check_memory(o, &est, params_path, err);
    }
    if (rc) goto done;
    if (checkpoint || (input && *input)) {
        rc = snn_stage_check_structure_memory(o, spath, err);
    } else {
        /* (without the tables the generator refuses the file, naming the missing one) */
        if (p->rec.has_topology && p->ff.has_topology) {
            printf("Generating connectome: %lld neurons", (long long)p->rec.num_neurons);
            if (p->rec.num_assemblies > 0) printf(" in %d assemblies", p->rec.num_assemblies);
            printf(", %lld inputs, cell types balanced per assembly...\n", (long long)p->ff.num_neurons);
            fflush(stdout);
        }
        rc = snn_connectome_generate(p, 1, &s, err);
        generated = 1;
    }
    if (rc) goto done;
    if (!generated) rc = snn_structure_load(spath, nt, nff, &s, err);
    if (!rc) {
        snn_mem_net z;
        snn_mem_estimate est;
        snn_mem_net_of(p, &s, &z);
        snn_est_train(p, &z, B, p->sim.dt, 0, 0, &est);
        rc = snn_stage_check_memory(o, &est, params_path, err);
    }
    if (!rc) rc = snn_network_build(&net, &p->rec, &p->ff, &s, p->sim.dt, err);
    if (rc) goto done;
    rates_in = snn_calloc((size_t)(s.n_in + 1), sizeof(double), "input rates", err);
    if (!rates_in) {
        rc = SNN_ERUN;
        goto done;
    }
    for (int64_t m = 0; m < s.n_in; m++) rates_in[m] = p->ff.firing_rate[s.ff_cell_types[m]];
    src.B = B;
    src.L = L;
    src.n_in = s.n_in;
    rc = snn_poisson_init_rates(&src.ps, s.n_in, rates_in, p->sim.dt, p->sim.seed, SNN_RNG_POISSON, err);
    if (!rc) rc = snn_poisson_init_rates(&aux, s.n_in, rates_in, p->sim.dt, p->sim.seed, SNN_RNG_POISSON_AUX, err);
    if (rc) goto done;

    rc = snn_trainer_check_ranks(p, B, err);
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
        if (!rc) rc = snn_stage_copy_params(o, err);
        if (!rc) rc = snn_path_join(path, sizeof path, o->output, "inputs", err);
        if (!rc) rc = snn_mkdirs(path, err);
        if (!rc) rc = snn_path_join(path, sizeof path, o->output, "inputs/network_structure.npz", err);
        /* from memory, not a file copy: -i may point into the folder --overwrite just removed */
        if (!rc) rc = snn_structure_save(path, &s, err);
        if (rc) goto done;
        printf("Using seed: %llu\n", (unsigned long long)p->sim.seed);
        if (tp->mixed_precision_given) printf("Note: mixed_precision is a GPU option; ignored.\n");
        if (generated)
            printf("✓ Network (%lld neurons, %lld inputs) generated and saved to %s\n", (long long)s.n,
                   (long long)s.n_in, path);
        else
            printf("✓ Network (%lld neurons, %lld inputs) from %s, saved to %s\n", (long long)s.n,
                   (long long)s.n_in, spath, path);
        if (s.has_scaling_factors)
            printf("Note: %s holds effective weights (learned scaling factors applied); the factors trained here "
                   "multiply them\n", spath);
    }
    {
        double sf0[SNN_MAX_TYPES * SNN_MAX_TYPES], sff0[SNN_MAX_TYPES * SNN_MAX_TYPES];
        for (int a = 0; a < nt; a++)
            for (int b = 0; b < nt; b++) sf0[a * nt + b] = tp->sf_init[a][b];
        for (int a = 0; a < nff; a++)
            for (int b = 0; b < nt; b++) sff0[a * nt + b] = tp->sf_ff_init[a][b];
        snn_network_set_scaling(&net, sf0, sff0);
        if (!checkpoint) {
            print_targets(p);
            printf("\n");
            snn_print_matrix("Initial recurrent scaling factors:", sf0, nt, nt);
            printf("\n");
            snn_print_matrix("Initial feedforward scaling factors:", sff0, nff, nt);
            printf("\n");
            snn_stage_print_refractory(p);
        }
    }
    /* the 10 s runs of initial_state/ and final_state/: one realisation of the input, drawn once */
    const int64_t probe_steps = (int64_t)(10000.0 / p->sim.dt + 0.5); /* at most SNN_MAX_STEPS: the loader */
    probe = snn_calloc((size_t)probe_steps, (size_t)s.n_in + 1, "inference input spikes", err);
    if (!probe) {
        rc = SNN_ERUN;
        goto done;
    }
    if (s.n_in) rc = snn_poisson_draw_rates(&aux, 0, 0, probe_steps, probe, err);
    if (rc) goto done;
    const double probe_secs = (double)probe_steps * p->sim.dt / 1000.0;
    double rates[SNN_MAX_TYPES];
    if (!checkpoint && rank0) {
        printf("\n============================================================\nSAVING INITIAL STATE AND RUNNING "
               "INFERENCE\n============================================================\n");
        rc = save_state(o->output, "initial_state", p, &s, &net, probe, probe_steps, err);
        if (!rc) rc = type_rates(&net, probe, probe_steps, L, rates, err);
        if (rc) goto done;
        print_rates("with the initial weights", p, rates, probe_secs);
        printf("============================================================\n");
    }
    if ((rc = snn_par_sync(rc, err))) goto done;

    char input_record[SNN_PATH_MAX] = "";
    if (checkpoint) rc = checkpoint_input_path(checkpoint, input_record, sizeof input_record, err);
    else if (input && snn_stage_resolve_path(input, input_record, sizeof input_record))
        rc = snn_fail(err, SNN_EINPUT, "%s: path too long", input);
    if (rc) goto done;
    /* what the run depends on: its parameters and its network (inputs/network_structure.npz) */
    {
        char net_path[SNN_PATH_MAX], net_sha[65];
        rc = snn_path_join(net_path, sizeof net_path, o->output, "inputs/network_structure.npz", err);
        if (!rc) rc = snn_sha256_file(net_path, net_sha, err);
        if (!rc) rc = snn_stage_run_record(&record, p->sim.seed, params_path, net_sha, err);
        if (rc) goto done;
    }
    /* n_chunks = iterations: one continuous run, never wrapped (nor reset) by the trainer */
    rc = snn_trainer_init(&tr, p, &net, B, L, iterations, iterations, o->output, input_record, err);
    if (rc) goto done;
    have_tr = 1;
    tr.quiet = o->quiet;
    {
        const snn_mem_sizes z = snn_stage_mem_sizes(&net);
        snn_stage_print_memory(&net, 1, snn_mem_train(&z, B, L, tr.n_params, p->train.plot_size * L,
                                                      (int64_t)(10000.0 / p->sim.dt + 0.5)));
    }
    tr.record = record;
    if (checkpoint) {
        rc = snn_trainer_load(&tr, checkpoint, err);
        if (!rc) rc = snn_stage_check_record(&tr, checkpoint, params_path, "network", spath, err);
        if (rc) goto done;
        printf("✓ Resumed from %s at epoch %lld (best loss %.6f)\n", checkpoint, (long long)tr.iteration,
               tr.best_loss);
    }
    /* the metrics' other writers (TensorBoard, W&B) and the figures are rank 0's */
    if (rank0) {
        int64_t pc = p->train.plot_size < iterations ? p->train.plot_size : iterations;
        uint8_t *fig_in = malloc((size_t)(pc * L) * (size_t)src.n_in + 1);
        if (!fig_in) {
            rc = snn_fail(err, SNN_ERUN, "out of memory for the epoch figures' inputs");
            goto done;
        }
        for (int64_t c = 0; !rc && c < pc && src.n_in; c++)
            rc = snn_poisson_draw_rates(&src.ps, 0, c * L, L, fig_in + c * L * src.n_in, err);
        if (rc) {
            free(fig_in);
            goto done;
        }
        rc = snn_train_hooks_open(&hooks, &tr, o->output, p, &s, s.assembly_ids, fig_in, pc * L, o->no_wandb,
                                  checkpoint != NULL, err);
        hooks_open = 1;
        if (rc) goto done;
    }
    if ((rc = snn_par_sync(rc, err))) goto done;
    if (snn_par_size() > 1)
        printf("MPI: %d ranks, each training on a block of the %d trials (rank 0: trials %lld-%lld)\n", snn_par_size(), B,
               (long long)tr.b0, (long long)(tr.b0 + tr.Bl - 1));
    /* from here on the run can be resumed: everything before the first chunk is written */
    if (!checkpoint && (rc = snn_stage_first_checkpoint(&tr, err))) goto done;
    printf("Chunk size: %lld timesteps (%.1fs)\nTotal chunks: %lld (%.1fs)\nBatch size: %d\n"
           "Chunks per update: %lld\nLog interval: %lld\nCheckpoint interval: %lld\n",
           (long long)L, (double)L * p->sim.dt / 1000.0, (long long)iterations,
           (double)(iterations * L) * p->sim.dt / 1000.0, B, (long long)tp->accumulation_interval,
           (long long)tp->log_interval, (long long)tp->checkpoint_interval);
    fflush(stdout);
    int save_final = 0;
    rc = snn_stage_run_trainer(&tr, read_poisson_chunk, &src, o->stop_after, "epoch", o->output, &save_final, err);
    if (rc || !save_final) goto done;
    snn_trainer_apply_params(&tr, tr.best_params);
    if (rank0) rc = save_state(o->output, "final_state", p, &s, &net, probe, probe_steps, err);
    if (!rc) rc = snn_stage_mark_finished(&tr, err);
    final_written = !rc;
    if (!rc && rank0) rc = type_rates(&net, probe, probe_steps, L, rates, err);
    if (rc) goto done;
    if (!tr.train_w) {
        snn_print_matrix("Learned recurrent scaling factors (best):", tr.best_params, nt, nt);
        snn_print_matrix("Learned feedforward scaling factors (best):", tr.best_params + nt * nt, nff, nt);
    }
    print_rates("with the learned weights", p, rates, probe_secs);
    printf("✓ Final state (stage 3's input): %s\n", path);
done:
    if (hooks_open) snn_train_hooks_close(&hooks, have_tr ? tr.iteration : 0, final_written);
    if (have_tr) snn_trainer_free(&tr);
    snn_poisson_free(&src.ps);
    snn_poisson_free(&aux);
    snn_free(probe);
    snn_free(rates_in);
    snn_network_free(&net);
    snn_structure_free(&s);
    free(p);
    return rc;
}

int snn_stage_homeostatic(const snn_stage_opts *o, snn_error *err) {
    int rc = snn_stage_check_io(o, err);
    if (rc) return rc;
    return run(o, o->params_path, o->input, NULL, err);
}

int snn_stage_homeostatic_resume(const snn_stage_opts *o, snn_error *err) {
    char params[SNN_PATH_MAX], ckpt[SNN_PATH_MAX];
    int rc = snn_path_join(params, sizeof params, o->output, "parameters.toml", err);
    if (!rc) rc = snn_path_join(ckpt, sizeof ckpt, o->output, "checkpoints/checkpoint_latest.npz", err);
    if (rc) return rc;
    if (!snn_is_dir(o->output)) return snn_fail(err, SNN_EINPUT, "%s: no such run folder", o->output);
    /* rank 0 holds the folder's lock and clears what an interrupted run left (the others write nothing) */
    if (snn_par_rank() == 0 && (rc = snn_stage_begin_resume(o->output, err))) return rc;
    if (!snn_path_exists(ckpt))
        return snn_fail(err, SNN_EINPUT, "%s: no checkpoint to resume from (checkpoints/checkpoint_latest.npz is missing)",
                        o->output);
    if (!snn_path_exists(params)) return snn_fail(err, SNN_EINPUT, "%s: parameters.toml is missing", o->output);
    return run(o, params, NULL, ckpt, err);
}
