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
#ifndef SNNFIT_IO_PARAMS_H
#define SNNFIT_IO_PARAMS_H

#include <stdint.h>

#include "core/error.h"

#define SNN_MAX_TYPES 16
#define SNN_MAX_SYNAPSES 32
#define SNN_NAME_MAX 64

typedef struct snn_physiology {
    double tau_mem;  /* ms */
    double theta;    /* mV, spike threshold */
    double U_reset;  /* mV, reset (and initial) potential */
    double E_L;      /* mV, leak reversal */
    double g_L;      /* nS, leak conductance (C_m = tau_mem * g_L, pF) */
    double tau_ref;  /* ms, refractory period (0 reproduces the reference, which ignores it) */
} snn_physiology;

typedef struct snn_synapse_param {
    char name[SNN_NAME_MAX];
    int owner;          /* index of the presynaptic cell type in its layer's type names */
    double tau_rise;    /* ms */
    double tau_decay;   /* ms */
    double E_syn;       /* mV */
    double g_bar;       /* nS, peak conductance of one unit-weight spike */
} snn_synapse_param;

/* [recurrent] or [feedforward] */
typedef struct snn_layer_params {
    int n_types;
    char type_names[SNN_MAX_TYPES][SNN_NAME_MAX];
    int has_proportion;
    double proportion[SNN_MAX_TYPES];
    /* [recurrent.physiology.<type>], one per type (recurrent layer only) */
    int has_physiology;
    snn_physiology physiology[SNN_MAX_TYPES];
    /* [<layer>.synapses.<type>] */
    int n_synapses;
    snn_synapse_param synapses[SNN_MAX_SYNAPSES];
    /* [<layer>.topology] */
    int has_topology;
    int64_t num_neurons;
    int num_assemblies;                                   /* 0 = none */
    int has_conn_within, has_conn_between, has_conn_inputs;
    double conn_within[SNN_MAX_TYPES][SNN_MAX_TYPES];     /* recurrent: [src type][tgt type] */
    double conn_between[SNN_MAX_TYPES][SNN_MAX_TYPES];
    double conn_inputs[SNN_MAX_TYPES][SNN_MAX_TYPES];     /* feedforward: [ff type][recurrent type] */
    /* [<layer>.weights]: linear mean and linear VARIANCE of the log-normal weights per type pair */
    int has_weights;
    double w_mu[SNN_MAX_TYPES][SNN_MAX_TYPES];
    double w_sigma[SNN_MAX_TYPES][SNN_MAX_TYPES];
    /* [feedforward.activity.<type>] firing_rate (Hz) */
    int has_activity;
    double firing_rate[SNN_MAX_TYPES];
} snn_layer_params;

/* [odours.<feedforward type>] */
typedef struct snn_odour_params {
    double baseline_rate;        /* Hz */
    double modulation_rate;      /* Hz added to the up-modulated inputs */
    double modulation_fraction;  /* fraction of inputs up-modulated per pattern */
} snn_odour_params;

/* [simulation] */
typedef struct snn_sim_params {
    int has_dt;           /* always 1 except in stage 4, where dt comes from the teacher data */
    double dt;            /* ms, > 0 */
    int has_duration;
    double duration;      /* ms */
    uint64_t seed;
    int64_t chunk_size;   /* time steps per chunk, > 0 */
    int has_batch_size;
    int64_t batch_size;   /* trials */
    int has_plot_size;
    int64_t plot_size;    /* chunks kept for the dashboards */
} snn_sim_params;

/* [tracking] (simulate): which trials and neurons have v, currents and conductances recorded */
#define SNN_MAX_TRACKED 64
typedef struct snn_tracking_params {
    int n_trials;
    int64_t trials[SNN_MAX_TRACKED];
    int n_neurons;                     /* 0 = all neurons */
    int64_t neurons[SNN_MAX_TRACKED];
} snn_tracking_params;

typedef enum snn_stage {
    SNN_STAGE_CONNECTOME,  /* stage 1 */
    SNN_STAGE_TEACHER,     /* stage 3 */
    SNN_STAGE_SIMULATE,    /* plain forward run */
    SNN_STAGE_TRAIN,       /* stage 4: student training */
    SNN_STAGE_HOMEOSTATIC  /* stage 2: homeostatic plasticity (fixed targets, Poisson input) */
} snn_stage;

/* Optimisable quantities ([training] optimisable) */
typedef enum snn_optimisable {
    SNN_OPT_SCALING_FACTORS = 0,        /* SF and SF_FF (default) */
    SNN_OPT_SCALING_FACTORS_RECURRENT,  /* SF only */
    SNN_OPT_SCALING_FACTORS_FEEDFORWARD,/* SF_FF only */
    SNN_OPT_WEIGHTS                     /* every existing synapse, as a log-weight */
} snn_optimisable;

/* Losses, in the order they are reported */
enum { SNN_LOSS_VAN_ROSSUM, SNN_LOSS_FIRING_RATE, SNN_LOSS_SILENT_PENALTY, SNN_LOSS_CV,
       SNN_LOSS_MEMBRANE_VARIANCE, SNN_LOSS_WEIGHT_RATIO, SNN_N_LOSSES };

/* Stage 4 (student training). Both spellings of the keys map here:
 *   seed (fitting-activity.toml)       reference (train-student.toml)
 *   [simulation] epochs (iterations)   [training] epochs (passes over the teacher data)
 *   [simulation] accumulation_interval [training] chunks_per_update
 *   [simulation] checkpoint_interval   [training] checkpoint_interval */
typedef struct snn_train_params {
    /* how long: exactly one of these is given */
    int has_iterations;
    int64_t iterations;            /* [simulation] epochs: total iterations (one chunk each) */
    int has_passes;
    int64_t passes;                /* [training] epochs: passes over the teacher data */
    int64_t accumulation_interval; /* iterations per optimiser step (default 1) */
    int64_t log_interval;          /* default: accumulation_interval */
    int64_t plot_interval;         /* default: accumulation_interval */
    int64_t checkpoint_interval;   /* default: 50 */
    int64_t plot_size;             /* chunks of trial 0 kept for statistics and figures (default 1) */
    double weight_perturbation_variance;  /* log-space variance of the perturbation (default 0) */
    int has_grad_norm_clip;
    double grad_norm_clip;
    snn_optimisable optimisable;
    int mixed_precision_given;     /* accepted and ignored (GPU only) with a notice */
    /* [hyperparameters] */
    double surrgrad_scale;         /* default 500 */
    double learning_rate;          /* required */
    double van_rossum_tau;         /* ms, exponential kernel (default 10 if no rise/decay pair) */
    int has_van_rossum_rise_decay;
    double van_rossum_tau_rise, van_rossum_tau_decay;  /* ms, difference-of-exponentials kernel */
    double loss_weight[SNN_N_LOSSES];                  /* 0 = off */
    /* [targets]: per recurrent cell type (one number for all, or a table keyed by type name) */
    int has_target_rates;
    double target_rate[SNN_MAX_TYPES];      /* Hz (firing_rates); absent: the teacher's rates */
    int has_target_cvs;
    double target_cv[SNN_MAX_TYPES];        /* (cvs); absent: the teacher's CVs */
    double alpha[SNN_MAX_TYPES];            /* silent penalty strength (default 0.01) */
    double threshold_ratio[SNN_MAX_TYPES];  /* membrane variance target (default 0.8) */
    double target_weight_ratio;             /* [targets] weight_ratio (default 2) */
    /* [scaling_factors]: the student's initial factors (default all ones) */
    double sf_init[SNN_MAX_TYPES][SNN_MAX_TYPES];     /* [pre type][post type] */
    double sf_ff_init[SNN_MAX_TYPES][SNN_MAX_TYPES];  /* [ff type][post type] */
} snn_train_params;

/* [wandb] (stage 4): experiment-tracking settings, stored for the logger */
#define SNN_MAX_WANDB_TAGS 16
typedef struct snn_wandb_params {
    int enabled;                   /* default 0 */
    char project[128], entity[128];
    char notes[1024];
    int n_tags;
    char tags[SNN_MAX_WANDB_TAGS][SNN_NAME_MAX];
} snn_wandb_params;

typedef struct snn_params {
    char path[4096];          /* the file it was loaded from */
    snn_stage stage;
    snn_sim_params sim;
    snn_layer_params rec;
    snn_layer_params ff;
    /* stage 3: OU process over odour patterns ([odours] tau, temperature, sigma, or top level) */
    int has_odours;
    snn_odour_params odours[SNN_MAX_TYPES];  /* indexed by feedforward type */
    double ou_tau;           /* ms */
    double ou_temperature;
    double ou_sigma;
    int has_tracking;
    snn_tracking_params tracking;
    /* stage 4 */
    snn_train_params train;
    int has_wandb;
    snn_wandb_params wandb;
} snn_params;

/* "connectome", "teacher", "simulate", "train", "homeostatic". */
const char *snn_stage_name(snn_stage stage);

/* Index of a cell type in a layer's type_names, or -1. */
int snn_params_type_index(const snn_layer_params *layer, const char *name);

/* Number of whole chunks in the run, int(duration / (chunk_size * dt)) as the reference computes it
 * (truncated); 0 when duration is absent. */
int64_t snn_params_num_chunks(const snn_sim_params *sim);

/* Loads and validates a parameter file for a command. Returns SNN_OK or SNN_EINPUT. */
int snn_params_load(const char *path, snn_stage stage, snn_params *out, snn_error *err);

/* Which training stage a parameter file is for, from its layout alone (for `snnfit resume`, which
 * finds only the run's parameters.toml): a [simulation] table with `duration` is stage 2's
 * (SNN_STAGE_HOMEOSTATIC; it requires the key), anything else stage 4's (SNN_STAGE_TRAIN; its loader
 * rejects `duration`). SNN_EINPUT if the file does not parse. */
int snn_params_training_stage(const char *path, snn_stage *out, snn_error *err);

/* The same, from text (name stands for the path in messages); used by tests. */
int snn_params_load_string(const char *text, const char *name, snn_stage stage, snn_params *out,
                           snn_error *err);

/* Every key path a stage's parameter files accept, in file-schema order, walking the same key tables
 * the loader checks against (so the list cannot drift from the code): "simulation.dt",
 * "recurrent.physiology.<type>.tau_mem", "hyperparameters.loss_weight.van_rossum", top-level keys
 * as themselves ("tau"). Per-cell-type tables appear once with "<type>" for the type name; keys whose
 * value may be a number or a table keyed by cell type (targets.firing_rates, ...) appear as leaves.
 * Used by the test that keeps docs/parameters.md complete. */
typedef void (*snn_params_key_cb)(const char *path, void *ctx);
void snn_params_schema_keys(snn_stage stage, snn_params_key_cb cb, void *ctx);

#endif
