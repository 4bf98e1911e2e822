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
    SNN_STAGE_SIMULATE     /* plain forward run */
} snn_stage;

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
} snn_params;

/* "connectome", "teacher", "simulate". */
const char *snn_stage_name(snn_stage stage);

/* Index of a cell type in a layer's type_names, or -1. */
int snn_params_type_index(const snn_layer_params *layer, const char *name);

/* Number of whole chunks in the run, int(duration / (chunk_size * dt)) as the reference computes it
 * (truncated); 0 when duration is absent. */
int64_t snn_params_num_chunks(const snn_sim_params *sim);

/* Loads and validates a parameter file for a command. Returns SNN_OK or SNN_EINPUT. */
int snn_params_load(const char *path, snn_stage stage, snn_params *out, snn_error *err);

/* The same, from text (name stands for the path in messages); used by tests. */
int snn_params_load_string(const char *text, const char *name, snn_stage stage, snn_params *out,
                           snn_error *err);

#endif
