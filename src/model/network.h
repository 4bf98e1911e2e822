/* The simulator's view of a network: per-neuron constants, per-synapse-column constants, and the
 * connectome as compressed sparse rows by presynaptic neuron (SPEC sections 2 and 4).
 *
 * Synapse columns: the recurrent synapses (in parameter-file order) then the feedforward ones; S in
 * total. A "drive group" is a presynaptic cell type (recurrent types 0..n_types-1, then feedforward
 * types n_types..n_types+n_ff_types-1) with the columns it owns. A spike of a neuron of group k through
 * a synapse of weight w onto neuron j adds w * SF[k][type j] * g_scale[c][s] to G[j][c][s] for each
 * column s owned by k and c in {0, 1}; the simulator sums w * SF per (group, target) first
 * (the "drive") and spreads it over the group's columns afterwards, which is the same sum.
 *
 * Effective weights w_eff = w * SF[type pre][type post] are kept beside the raw weights so that the
 * forward pass does one multiply-add per synapse event; snn_network_set_scaling refreshes them. */
#ifndef SNNFIT_MODEL_NETWORK_H
#define SNNFIT_MODEL_NETWORK_H

#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "config/params.h"
#include "model/structure.h"

#define SNN_MAX_COLUMNS SNN_MAX_SYNAPSES
#define SNN_MAX_GROUPS (2 * SNN_MAX_TYPES)

/* Sparse rows: for source i, targets col[row[i] .. row[i+1]) with weights w[...] and w_eff[...]. */
typedef struct snn_csr {
    int64_t n_rows;
    int64_t nnz;
    int64_t *row;     /* n_rows + 1 */
    int32_t *col;     /* nnz */
    float *w;         /* nnz, raw weight (file value) */
    snn_real *w_eff;  /* nnz, w * scaling factor of (source type, target type) */
} snn_csr;

typedef struct snn_network {
    int64_t n;               /* recurrent neurons */
    int64_t n_in;            /* feedforward inputs */
    int n_types, n_ff_types;
    int n_cols_rec, n_cols;  /* recurrent synapse columns, all columns (S) */
    int n_groups;            /* n_types + n_ff_types */
    double dt;

    /* per neuron (n) */
    int32_t *type;
    snn_real *theta, *u_reset, *e_l;
    snn_real *leak_factor;   /* 1 - exp(-dt / tau_mem) */
    snn_real *dt_over_c;     /* dt / C_m, C_m = tau_mem * g_L */
    snn_real *c_over_dt;     /* C_m / dt (for reporting the leak current in pA) */
    int32_t *ref_steps;      /* round(tau_ref / dt) */
    /* theta, u_reset, e_l and leak_factor converted to double (the voltage update runs in double) */
    double *theta_d, *u_reset_d, *e_l_d, *leak_d;
    /* per input (n_in) */
    int32_t *ff_type;

    /* per column s */
    snn_real e_syn[SNN_MAX_COLUMNS];
    snn_real alpha[2][SNN_MAX_COLUMNS];    /* decay per step of the rise (0) and decay (1) components */
    snn_real g_scale[2][SNN_MAX_COLUMNS];  /* -g_bar/norm_peak, +g_bar/norm_peak; also the clamp bounds */
    char col_name[SNN_MAX_COLUMNS][SNN_NAME_MAX];
    int col_group[SNN_MAX_COLUMNS];

    /* per group k: the columns it owns */
    int group_ncols[SNN_MAX_GROUPS];
    int group_cols[SNN_MAX_GROUPS][SNN_MAX_COLUMNS];

    snn_csr rec;  /* n rows */
    snn_csr ff;   /* n_in rows */

    /* scaling factors in force (w_eff = w * sf) */
    double sf[SNN_MAX_TYPES][SNN_MAX_TYPES];        /* [pre type][post type] */
    double sf_ff[SNN_MAX_TYPES][SNN_MAX_TYPES];     /* [ff type][post type] */

    int refractory_in_force;  /* some neuron has ref_steps > 0 */
    int w_nonneg;             /* every w_eff >= 0 (set with them; the simulator then skips bounds a
                               * conductance cannot reach) */
} snn_network;

/* Builds the network from the layers' physiology and synapses and a structure. Synapses are taken
 * where the connectivity is true (a connected pair with weight 0 is kept: training may grow it).
 * Scaling factors start at 1 (the structure's weights are used as they are). */
int snn_network_build(snn_network *net, const snn_layer_params *rec, const snn_layer_params *ff,
                      const snn_structure *s, double dt, snn_error *err);

/* Sets the scaling factors (row-major [n_types][n_types] and [n_ff_types][n_types]; NULL keeps the
 * current ones) and refreshes the effective weights. */
void snn_network_set_scaling(snn_network *net, const double *sf, const double *sf_ff);

void snn_network_free(snn_network *net);

/* The peak of exp(-t/tau_decay) - exp(-t/tau_rise), the normalisation of one unit-weight spike. */
double snn_norm_peak(double tau_rise, double tau_decay);

#endif
