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

/* The most threads that share one trial (more are not used for it). */
#define SNN_MAX_PARTS 64

typedef struct snn_state {
    int n_trials;
    int64_t n;
    int n_cols;
    int n_groups;
    double *v;         /* [trials][n] (double: the surrogate gradient is steep near threshold, and
                        * float32 rounding of v accumulates to ~1e-5 mV over a chunk) */
    int32_t *ref;      /* [trials][n] steps of refractory hold left */
    snn_real *g;       /* [trials][2][S][n] */
    /* scratch, one slice per trial so that trials run in parallel */
    snn_real *drive;   /* [trials][groups][n] summed w_eff of the step's spike events, per target */
    int32_t *spk;      /* [trials][2][n] spike lists of a step and of the next */
    int64_t *spk_count;  /* [trials][2][SNN_MAX_PARTS] their lengths, per part */
    uint8_t *next;     /* [trials][n] spikes of the step after a chunk's last */
    /* one trial split across threads: part p holds the neurons [part_lo[p], part_lo[p+1]), and
     * split_rec[p][i] (split_ff) is the first synapse of row i whose target lies in part p */
    int max_parts, n_parts;
    int64_t split_min_neurons;   /* smaller networks are never split (set by snn_state_alloc) */
    const snn_network *part_net;
    int64_t part_nnz;
    int64_t part_lo[SNN_MAX_PARTS + 1];
    int64_t *split_rec;  /* [max_parts + 1][n] */
    int64_t *split_ff;   /* [max_parts + 1][n_in] */
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

/* What the backward pass needs of a chunk (SPEC section 13: v, the conductance sum per neuron, spike,
 * refractory and clamp bits), recorded by the taped forward; trial-major so that every trial writes its
 * own region. Per trial and step t:
 *   v[t][j]     v - theta before step t (small near threshold, where float precision matters), except
 *               that when j spiked at step t-1 it holds that step's pre-reset value minus theta (v
 *               before step t is then U_reset, known without storing it); row T holds those of the
 *               last step's spikes;
 *   gsum[t][j]  sum over columns of G0 + G1 before step t;
 *   flags[t][j] bit 0 spike at t, bit 1 refractory hold at t, bit 2 + c*S + s set when the pre-clamp
 *               value of component c of column s lay within its bounds (the clamp passes gradient).
 * 10 bytes per neuron and step. Columns S <= SNN_TAPE_MAX_COLUMNS. */
#define SNN_TAPE_CLAMP_SHIFT 2
#define SNN_TAPE_MAX_COLUMNS 7

typedef struct snn_tape {
    int n_trials;
    int64_t n, T;
    snn_real *v;       /* [trials][T + 1][n] */
    snn_real *gsum;    /* [trials][T][n] */
    uint16_t *flags;   /* [trials][T][n] */
} snn_tape;

int snn_tape_alloc(snn_tape *tape, const snn_network *net, int n_trials, int64_t T, snn_error *err);
void snn_tape_free(snn_tape *tape);
static inline snn_real *snn_tape_v(const snn_tape *tp, int b, int64_t t) {
    return tp->v + ((size_t)b * (size_t)(tp->T + 1) + (size_t)t) * (size_t)tp->n;
}
static inline snn_real *snn_tape_gsum(const snn_tape *tp, int b, int64_t t) {
    return tp->gsum + ((size_t)b * (size_t)tp->T + (size_t)t) * (size_t)tp->n;
}
static inline uint16_t *snn_tape_flags(const snn_tape *tp, int b, int64_t t) {
    return tp->flags + ((size_t)b * (size_t)tp->T + (size_t)t) * (size_t)tp->n;
}

/* Advances every trial by T steps. in_spikes: [trials][T][n_in] 0/1 (may be NULL: no input);
 * out_spikes: [trials][T][n] 0/1 (required). tracks: n_tracks records (trials must differ). */
void snn_forward_chunk(const snn_network *net, snn_state *st, int64_t T, const uint8_t *in_spikes,
                       uint8_t *out_spikes, snn_track *tracks, int n_tracks);

/* The same, recording the tape of this chunk (T <= tape->T). */
void snn_forward_chunk_taped(const snn_network *net, snn_state *st, int64_t T, const uint8_t *in_spikes,
                             uint8_t *out_spikes, snn_track *tracks, int n_tracks, snn_tape *tape);

/* ---- the reverse pass (BPTT through one chunk; SPEC section 4, gradient semantics) ----
 * Given the tape of a chunk, dL/ds for every trial, step and neuron, and optionally the coefficients of
 * a loss on the voltages (dL/dv_t = a v_t + c per trial and neuron, v_t the voltage after step t), it
 * adds dL/dparameters into the buffers given: the surrogate ds/du = 1 / (scale |u| + 1)^2 replaces the
 * spike's derivative; the reset term passes no gradient, the factor (1 - s) does; the clamp passes
 * gradient where the pre-clamp value lay within its bounds; a refractory step passes none through v;
 * input spikes are constants; the state entering the chunk is a constant (truncation).
 * The transposed spike product is one sparse-times-dense product per step over all trials (trial index
 * innermost). Deterministic: every sum has a fixed order whatever the thread count. */
typedef struct snn_grads {
    double *sf;      /* n_types x n_types, or NULL: dL/dSF[pre type][post type] */
    double *sf_ff;   /* n_ff_types x n_types, or NULL */
    double *w;       /* rec.nnz, or NULL: dL/dw (raw weight, per synapse) */
    double *w_ff;    /* ff.nnz, or NULL */
} snn_grads;

typedef struct snn_backward_work {
    int n_trials;
    int64_t n, n_in;
    /* trials are processed in groups (at most max_groups); a group's lanes are its trials padded to
     * whole vector registers, `lanes` of them in all at most */
    int max_groups;
    int64_t lanes;
    int64_t team_min_work;  /* a group shares a team only with at least this many neuron-trials per step
                             * (fewer: one thread; set by snn_backward_work_alloc) */
    snn_real *vbar;    /* [B][n] adjoint of v after the step being processed */
    snn_real *gbar;    /* [B][2S][n] adjoint of G after the step */
    snn_real *a;       /* [B][K][n] dL/d(drive) of each presynaptic group */
    snn_real *at;      /* per group [K][n][its lanes]: the same, trial innermost */
    snn_real *sbar;    /* per group [n][its lanes]: the transposed product */
    float *ds;         /* [B][n] dL/ds of the step being processed */
    uint8_t *spk_t;    /* [n][B] spikes of the step (weights mode) */
    uint8_t *in_t;     /* [n_in][B] inputs of the step (weights mode) */
    double *g_trial;   /* [B][K][n_types] scaling-factor gradient of each trial */
    /* the product's rows, grouped by presynaptic type: rows[group_rows[k] .. group_rows[k+1]), the
     * prefix sums of their synapse counts, where each row enters each tile of `tile` targets
     * (split[r][q], from the row's start) */
    int32_t *rows;
    int64_t *rows_nnz;
    int64_t group_rows[SNN_MAX_TYPES + 1];
    int64_t tile, n_tiles;
    int32_t *split;    /* [n][n_tiles + 1] */
    int64_t *bstart;   /* [n_tiles][n + 1] the synapses again, tile-major: segment (tile q, row r) is */
    int32_t *bcol;     /* bcol[bstart[q][r] .. bstart[q][r+1]), weights bw (refreshed from w_eff by */
    snn_real *bw;      /* every reverse pass) */
    uint64_t *lane_mask;   /* per group [n]: surrogate cutoff, the lanes in which a row is needed */
    int32_t *row_lanes;    /* per group [n]: how many */
} snn_backward_work;

int snn_backward_work_alloc(snn_backward_work *w, const snn_network *net, int n_trials, snn_error *err);
void snn_backward_work_free(snn_backward_work *w);

/* Where dL/ds comes from: fill(ctx, b, t, ds) writes dL/ds[b][t][0..n) into ds. The reverse pass calls
 * it for t = T-1 down to 0, for each trial from one thread, so a source may keep per-trial state that it
 * walks backward in time (the streaming van Rossum loss does). */
typedef struct snn_spike_grad_source {
    void (*fill)(void *ctx, int b, int64_t t, float *ds);
    void *ctx;
} snn_spike_grad_source;

/* A source reading a dense [B][T][n] array. */
typedef struct snn_spike_grad_array {
    const float *ds;
    int64_t T, n;
} snn_spike_grad_array;
void snn_spike_grad_array_fill(void *ctx, int b, int64_t t, float *ds);

/* Options of the reverse pass; all zero (or opts NULL) is the exact pass.
 * surrogate_cutoff (> 0: an approximation, off by default): at a step where a neuron's surrogate
 * derivative is below surrogate_cutoff times its peak (1) in a trial, the adjoint its spike receives
 * through its synapses onto other neurons is taken as zero for that trial, and the transposed product
 * skips it. The loss's own dL/ds still reaches the neuron. */
typedef struct snn_backward_opts {
    double surrogate_cutoff;
} snn_backward_opts;
/* in_spikes [B][T][n_in] (NULL: none), vcoef NULL or [2][B][n] (a then c). */
void snn_backward_chunk_opts(const snn_network *net, const snn_tape *tape, int64_t T, const uint8_t *in_spikes,
                             const snn_spike_grad_source *ds, const double *vcoef, double surrgrad_scale,
                             snn_grads *grads, snn_backward_work *work, const snn_backward_opts *opts);
/* Adds the per-trial scaling-factor gradients g_trial ([B][K][n_types], as in snn_backward_work) into
 * grads->sf / grads->sf_ff (where not NULL) in trial order: what the reverse pass does at its end, for
 * callers that gather the trials of several processes first (the sums are then the same bits). */
void snn_grads_add_trials(const snn_network *net, const double *g_trial, int64_t B, snn_grads *grads);

/* Advances one trial b by T steps (what snn_forward_chunk does for each trial; for callers that
 * schedule trials themselves). in: [T][n_in] (may be NULL), out: [T][n], track may be NULL. */
void snn_forward_trial(const snn_network *net, snn_state *st, int b, int64_t T, const uint8_t *in,
                       uint8_t *out, snn_track *track);
void snn_forward_trial_taped(const snn_network *net, snn_state *st, int b, int64_t T, const uint8_t *in,
                             uint8_t *out, snn_track *track, snn_tape *tape);

#endif
