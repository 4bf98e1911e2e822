/* The parameter structs every command fills from its TOML file (see config/params.h for the
 * loaders and what each command accepts), and small helpers on them. No parsing here. */
#ifndef SNNFIT_CONFIG_PARAMS_TYPES_H
#define SNNFIT_CONFIG_PARAMS_TYPES_H

#include <stdint.h>

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

/* [output] sparse (connectome): how network_structure.npz is written */
typedef enum snn_output_format {
    SNN_OUTPUT_AUTO,    /* "auto" (default): dense unless the dense matrices would be too large */
    SNN_OUTPUT_DENSE,   /* false */
    SNN_OUTPUT_SPARSE   /* true */
} snn_output_format;

/* [tracking] (simulate): which trials and neurons have v, currents and conductances recorded */
#define SNN_MAX_TRACKED 64
/* neurons of each cell type tracked when [tracking] neurons is absent */
#define SNN_TRACKED_PER_TYPE 5
typedef struct snn_tracking_params {
    int n_trials;
    int64_t trials[SNN_MAX_TRACKED];
    int n_neurons;                     /* 0 = the default: the first SNN_TRACKED_PER_TYPE of each type */
    int64_t neurons[SNN_MAX_TRACKED];
    int all_neurons;                   /* neurons = "all" */
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

/* Losses, in the order they are reported. spike_time is the teacher-forced method's (stage 4). */
enum { SNN_LOSS_VAN_ROSSUM, SNN_LOSS_FIRING_RATE, SNN_LOSS_SILENT_PENALTY, SNN_LOSS_CV,
       SNN_LOSS_MEMBRANE_VARIANCE, SNN_LOSS_WEIGHT_RATIO, SNN_LOSS_SPIKE_TIME, SNN_N_LOSSES };

/* How stage 4 fits ([training] method): the student running freely on the teacher's inputs (the
 * reference's method), or replayed on the teacher's recorded spikes (teacher forcing). */
typedef enum snn_method { SNN_METHOD_CLOSED_LOOP = 0, SNN_METHOD_TEACHER_FORCED = 1 } snn_method;

/* [training] optimiser */
typedef enum snn_optimiser { SNN_OPTIMISER_ADAM = 0, SNN_OPTIMISER_LBFGS = 1 } snn_optimiser;

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
    double surrogate_cutoff;       /* default 0: the exact reverse pass (> 0: the opt-in approximation) */
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
    /* the fitting method (stage 4; stage 2 is always closed loop with Adam) */
    snn_method method;             /* default closed_loop */
    snn_optimiser optimiser;       /* default: lbfgs for teacher_forced, adam for closed_loop */
    int has_fit_steps;
    int64_t fit_steps;             /* steps of each trial the full-batch fit uses (default: all) */
    double burn_in;                /* ms at the start of each trial left out of the spike-time loss (0) */
    int64_t lbfgs_history;         /* curvature pairs L-BFGS keeps (10) */
    double gradient_tolerance;     /* L-BFGS stops when max |dL/dlog p| <= this x L (1e-5) */
    double change_tolerance;       /* ... or when an iteration lowers L by <= this x L (1e-9) */
    int64_t eval_chunks;           /* Adam: chunks of the fixed evaluation that picks the best checkpoint */
    double spike_time_delta;       /* mV, width of the spike-time sigmoid (0.2) */
    int spike_time_loss;           /* snn_spike_loss: 0 cross_entropy, 1 squared_hinge */
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
    snn_output_format output_format;  /* connectome: [output] sparse */
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
 * (truncated); 0 when duration is absent; capped at 4e18 (the loaders refuse far shorter runs). */
int64_t snn_params_num_chunks(const snn_sim_params *sim);

/* Callback of snn_params_schema_keys and the training tables' key lists. */
typedef void (*snn_params_key_cb)(const char *path, void *ctx);

#endif
