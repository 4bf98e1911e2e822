/* The conductance-based LIF network simulated forward, event-driven (SPEC section 4).
 *
 * State per trial: v[n], refractory counters[n], conductances G[2][S][n] (component-major so that the
 * per-neuron update loops run over contiguous arrays). All trials advance together: a chunk of T steps
 * runs each trial independently (OpenMP over trials), so results do not depend on the thread count.
 * One step, per trial, in the reference order: spike from the previous v (v - theta > 0); currents from
 * the previous v and G; voltage update, reset and refractory hold; G *= alpha; spikes of recurrent
 * neurons and of inputs at this step add w_eff * g_scale to G of their targets; clamp. State carries
 * over between calls (chunks); snn_state_reset returns trials to v = U_reset, G = 0, no refractory.
 *
 * Tracking (for figures) records, for one trial each, v after the update, the currents of step 2
 * (pA; positive = hyperpolarising, the reference's sign), the leak current, and G after the clamp, for
 * a list of neurons; optionally the running sum over steps of G0 + G1 per column for every neuron. */
#ifndef SNNFIT_MODEL_LIF_H
#define SNNFIT_MODEL_LIF_H

#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "model/network.h"

typedef struct snn_state {
    int n_trials;
    int64_t n;
    int n_cols;
    int n_groups;
    snn_real *v;       /* [trials][n] */
    int32_t *ref;      /* [trials][n] steps of refractory hold left */
    snn_real *g;       /* [trials][2][S][n] */
    /* scratch, one slice per trial so that trials run in parallel */
    snn_real *drive;   /* [trials][groups][n] */
    snn_real *isyn;    /* [trials][n] */
    int32_t *spk;      /* [trials][n] */
} snn_state;

int snn_state_alloc(snn_state *st, const snn_network *net, int n_trials, snn_error *err);
void snn_state_free(snn_state *st);
/* All trials to the initial state (v = U_reset, G = 0, no refractory hold). */
void snn_state_reset(snn_state *st, const snn_network *net);
void snn_state_reset_trial(snn_state *st, const snn_network *net, int trial);
/* Copies trial src of a into trial dst of b (same network). */
void snn_state_copy_trial(const snn_state *a, int src, snn_state *b, int dst);

typedef struct snn_track {
    int trial;               /* which trial this record follows */
    int n_neurons;           /* how many neurons are recorded */
    const int64_t *neurons;  /* their indices (NULL: neurons 0 .. n_neurons-1) */
    int64_t row0;            /* the first chunk step is written at this row of the buffers */
    /* each may be NULL; rows are time steps */
    float *v;                /* [rows][n_neurons] */
    float *i_syn;            /* [rows][n_neurons][S] */
    float *i_leak;           /* [rows][n_neurons] */
    float *g;                /* [rows][n_neurons][2][S] */
    double *g_sum;           /* [S][n]: adds G0 + G1 after the clamp, every step, every neuron */
    double *v_sum, *v_sumsq; /* [n]: add v and v^2 after the update, every step, every neuron */
} snn_track;

/* Advances every trial by T steps. in_spikes: [trials][T][n_in] 0/1 (may be NULL: no input);
 * out_spikes: [trials][T][n] 0/1 (required). tracks: n_tracks records (trials must differ). */
void snn_forward_chunk(const snn_network *net, snn_state *st, int64_t T, const uint8_t *in_spikes,
                       uint8_t *out_spikes, snn_track *tracks, int n_tracks);

/* Advances one trial b by T steps (what snn_forward_chunk does for each trial; for callers that
 * schedule trials themselves). in: [T][n_in] (may be NULL), out: [T][n], track may be NULL. */
void snn_forward_trial(const snn_network *net, snn_state *st, int b, int64_t T, const uint8_t *in,
                       uint8_t *out, snn_track *track);

#endif
