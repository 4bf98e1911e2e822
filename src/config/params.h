/* Parameter files: the schemas of every command, loaded from TOML into plain structs and validated
 * before any work starts.
 *
 * One struct (snn_params) holds every section a command may use; each loader fills the sections of
 * its command and says, through the has_* flags, which optional ones were given. A loader rejects
 * (SNN_EINPUT, message "<file>:<line>: [<table>] <key>: <what was expected>"):
 *  - a key its command does not know, naming the closest known key ("did you mean ..."),
 *  - a wrong type (integers are accepted for floats; integral floats for integers),
 *  - a missing required key or table, a matrix of the wrong shape, a list of the wrong length,
 *  - proportions that do not sum to 1 (tolerance 1e-6), tau_rise == tau_decay, dt <= 0, and other
 *    values outside their domain (probabilities outside [0, 1], non-positive time constants, ...).
 * Both the shipped files (parameters/) and the reference project's files load unchanged.
 *
 * Conventions: type-pair matrices are [source type][target type]; synapses are numbered walking the
 * [<layer>.synapses.<type>] tables in file order and, inside each, its `names` in order; each synapse
 * records the index of the cell type that owns it (its presynaptic type). A cell type may own no
 * synapses (its spikes then act on nothing).
 *
 * Which keys each command takes:
 *  - connectome: [simulation] dt, duration, seed, chunk_size (optimisable accepted, ignored);
 *    [recurrent] cell_types (names, proportion), topology, weights, physiology.<type>, synapses.<type>;
 *    [feedforward] cell_types (names, proportion), topology (num_neurons, conn_inputs), weights,
 *    activity.<type> (firing_rate), synapses.<type>. All required.
 *  - teacher: [simulation] also batch_size and plot_size (all required); the layers need only
 *    cell_types (proportion optional), physiology and synapses; [odours] with tau, temperature, sigma
 *    (or these three at the top level, not both) and one [odours.<feedforward type>] per type.
 *  - simulate: everything either of the above takes, so both files work; topology, weights,
 *    activity and odours are optional, batch_size defaults to 1 (has_batch_size then 0), plus
 *    [tracking] trials (default [0]) and neurons (default all, n_neurons = 0).
 *  - train (stage 4): [simulation] seed, chunk_size, dt (optional: it must then equal the teacher
 *    data's, has_dt), and the seed's spellings epochs, accumulation_interval, checkpoint_interval,
 *    log_interval, plot_interval, plot_size; [training] (the reference's spellings, optional) epochs,
 *    chunks_per_update, log_interval, checkpoint_interval, plot_interval, plot_size, mixed_precision,
 *    weight_perturbation_variance, grad_norm_clip, optimisable; [targets] firing_rates (or
 *    firing_rate), cvs (or cv), alpha, threshold_ratio (each one number or a table keyed by every
 *    recurrent type), weight_ratio; [hyperparameters] learning_rate (required), surrgrad_scale,
 *    van_rossum_tau or van_rossum_tau_rise + van_rossum_tau_decay, loss_weight.<loss>;
 *    [scaling_factors] recurrent, feedforward; [wandb]; the layers as for teacher. A setting written
 *    in both spellings is an error naming both keys; exactly one of the two `epochs` is required;
 *    all loss weights 0 (or only cv, which has no gradient) is an error.
 *  - homeostatic (stage 2; the reference's homeostatic-plasticity.toml): [simulation] dt, duration,
 *    seed, chunk_size (all required; optimisable accepted, ignored: the reference never read it):
 *    the run has num_chunks = int(duration / (chunk_size * dt)) iterations (train.iterations,
 *    has_iterations), at least one; [training] batch_size (required: the trials, stored in
 *    sim.batch_size), chunks_per_update, log_interval, checkpoint_interval, plot_interval, plot_size,
 *    mixed_precision, grad_norm_clip, optimisable (optional, the stage-4 defaults; optimisable
 *    defaults to scaling_factors, where the reference fails for want of anything to train);
 *    [targets] firing_rate (or firing_rates; required: there is no teacher, so has_target_rates is
 *    always 1), cv (or cvs; default 1 for every type, has_target_cvs always 1), alpha,
 *    threshold_ratio, weight_ratio; [hyperparameters] learning_rate (required), surrgrad_scale
 *    (default 200, the reference's stage-2 value), loss_weight.{firing_rate, cv, silent_penalty,
 *    membrane_variance, weight_ratio} (van_rossum* keys are refused: no teacher spikes);
 *    [scaling_factors] (initial factors, default ones) and [wandb] as in stage 4; the layers as for
 *    connectome, but [<layer>.topology], [<layer>.weights] and the proportions are optional (only
 *    needed to generate the connectome, which the stage checks) while [feedforward.activity] (the
 *    Poisson input rates) is required. The reference's check num_chunks % checkpoint_interval == 0
 *    is not kept: the trainer also checkpoints at the last iteration, so any interval works.
 * [recurrent.topology]: num_assemblies absent or 0 means no assemblies; conn_between is then
 * optional and conn_within applies to every pair of neurons. neurons_per_assembly is accepted and
 * ignored (the reference never read it). `w_sigma` is a linear-space VARIANCE, not a deviation. */
#ifndef SNNFIT_CONFIG_PARAMS_H
#define SNNFIT_CONFIG_PARAMS_H

#include "core/error.h"
#include "config/params_types.h"

/* Loads and validates a parameter file for a command. Returns SNN_OK or SNN_EINPUT. */
int snn_params_load(const char *path, snn_stage stage, snn_params *out, snn_error *err);

/* Which training stage a parameter file is for, from its layout alone (for `snnfit resume`, which
 * finds only the run's parameters.toml): a [simulation] table with `duration` is stage 2's
 * (SNN_STAGE_HOMEOSTATIC; it requires the key), anything else stage 4's (SNN_STAGE_TRAIN; its loader
 * rejects `duration`). SNN_EINPUT if the file does not parse. */
int snn_params_training_stage(const char *path, snn_stage *out, snn_error *err);

/* Stage 4, once its iterations are known from the teacher data ([training] epochs counts passes over
 * it): an accumulation window longer than the run, which would never take an optimiser step, is
 * refused (SNN_EINPUT naming the file). The loader checks this itself when the iterations are given. */
int snn_params_train_accumulation_check(const snn_params *p, int64_t iterations, snn_error *err);

/* The same, from text (name stands for the path in messages); used by tests. */
int snn_params_load_string(const char *text, const char *name, snn_stage stage, snn_params *out,
                           snn_error *err);

/* Every key path a stage's parameter files accept, in file-schema order, walking the same key tables
 * the loader checks against (so the list cannot drift from the code): "simulation.dt",
 * "recurrent.physiology.<type>.tau_mem", "hyperparameters.loss_weight.van_rossum", top-level keys
 * as themselves ("tau"). Per-cell-type tables appear once with "<type>" for the type name; keys whose
 * value may be a number or a table keyed by cell type (targets.firing_rates, ...) appear as leaves.
 * Used by the test that keeps docs/parameters.md complete. */
void snn_params_schema_keys(snn_stage stage, snn_params_key_cb cb, void *ctx);

#endif
