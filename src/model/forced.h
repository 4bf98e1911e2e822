/* Teacher forcing (SPEC section 7.8a): the student network replayed on the teacher's recorded spikes.
 *
 * Every student neuron receives the teacher's recurrent spikes (and the teacher's input spikes) as its
 * synaptic input, and its reset and refractory hold are triggered by the teacher's spike of that neuron.
 * One step t runs the model's step (SPEC section 4) with the spike s_j(t) taken from the teacher instead
 * of from v_j > theta_j: currents from the state before the step, voltage update, reset or hold, decay,
 * delivery of the teacher's spikes and inputs of step t, clamp. At the teacher's parameters the student's
 * v is the teacher's v (the same arithmetic as the free-running model); elsewhere it is a smooth function
 * of the parameters, with no gradient flowing between neurons.
 *
 * The loss of step t compares the voltage that decides the spike of step t (v before the step, u = v -
 * theta) with the teacher's spike s (0/1), z = u / delta:
 *   cross_entropy   l = softplus(z) - s z        (binary cross-entropy of sigmoid(z) against s)
 *   squared_hinge   l = max(0, 1 - y z)^2,  y = 2 s - 1
 * summed over (trial, step, neuron) for steps at or after `burn_in` (global step index); the caller
 * divides by `count` for the mean. The student's own spike is u > 0; the sums count the teacher's spikes,
 * those the student reproduces at the same step, and its extra ones, per postsynaptic type.
 *
 * Gradients (of the sum):
 *  - scaling factors (`sens`): forward-mode sensitivities. Column s of neuron j depends on one factor,
 *    SF[group of s][type of j] (recurrent groups, then feedforward ones), so dG/dSF has G's shape and
 *    dv/dSF one value per (group, neuron); about twice the work of the forward pass, no tape, any span.
 *    With `gn`, also the Gauss-Newton matrix sum l''(z) / delta^2 (dv/dSF)(dv/dSF)^T, which is block
 *    diagonal over the postsynaptic type (a neuron's v depends on its own type's factors only).
 *  - per-synapse raw weights (`weights`): the span is taped (14 bytes per neuron and step) and each
 *    neuron's adjoint runs backward through its own v, G and clamp; d/dw of a synapse is the adjoint of
 *    its target's drive summed over its source's spikes, times the synapse's scaling factor.
 * Rules as in the model's gradient semantics: a reset or refractory step passes no gradient through v;
 * the clamp passes gradient where the pre-clamp value lies within its bounds (inclusive); the state
 * entering the span is a constant (the caller resets it to the initial state for an exact gradient).
 *
 * Parallel over (trial, block of neurons) pairs (weights mode: over blocks, trials in order). Every
 * per-neuron quantity is independent of the blocking, and every sum has a fixed order, so results do
 * not depend on the thread count. */
#ifndef SNNFIT_MODEL_FORCED_H
#define SNNFIT_MODEL_FORCED_H

#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "model/network.h"

/* Sparse spikes of B trials over T steps: trial b's events at step t are idx[b][off[b*(T+1)+t] ..
 * off[b*(T+1)+t+1]), ascending. */
typedef struct snn_events {
    int B;
    int64_t T, n;      /* trials, steps, units (neurons or inputs) */
    int64_t filled;    /* steps appended so far */
    int64_t *off;      /* [B][T + 1] */
    int32_t **idx;     /* B arrays */
    int64_t *cap;      /* capacity of each */
} snn_events;

int snn_events_alloc(snn_events *ev, int B, int64_t T, int64_t n, snn_error *err);
void snn_events_free(snn_events *ev);
/* Forgets the events (keeps the memory). */
void snn_events_clear(snn_events *ev);
/* Appends L steps of every trial from dense 0/1 bytes x [B][L][n] (ev->filled + L <= T). */
int snn_events_append(snn_events *ev, const uint8_t *x, int64_t L, snn_error *err);
/* Total events of all trials. */
int64_t snn_events_count(const snn_events *ev);

/* The forced student's state: v [B][n] (double, as the model's), refractory steps left [B][n],
 * conductances [B][2][S][n]. */
typedef struct snn_forced_state {
    int B;
    int64_t n;
    int S;
    double *v;
    int32_t *ref;
    snn_real *g;
} snn_forced_state;

int snn_forced_state_alloc(snn_forced_state *st, const snn_network *net, int B, snn_error *err);
void snn_forced_state_free(snn_forced_state *st);
/* Every trial to the initial state (v = U_reset, G = 0, no hold). */
void snn_forced_state_reset(snn_forced_state *st, const snn_network *net);

typedef enum snn_spike_loss { SNN_SPIKE_LOSS_CROSS_ENTROPY = 0, SNN_SPIKE_LOSS_SQUARED_HINGE = 1 } snn_spike_loss;

/* The per-element loss of z = u / delta against s, its derivative dl/dz and its Gauss-Newton weight
 * d2l/dz2 (for the cross-entropy sigmoid(z)(1 - sigmoid(z)); for the hinge 2 where the margin is
 * violated). Exposed for tests. */
void snn_spike_loss_eval(snn_spike_loss kind, double z, int s, double *l, double *dl, double *d2);

typedef struct snn_forced_opts {
    snn_spike_loss loss;
    double delta;        /* mV */
    int64_t t_first;     /* global step index of the span's first step */
    int64_t burn_in;     /* global steps before this are left out of the loss and the counts */
    int sens;            /* scaling-factor gradients (forward mode) */
    int gn;              /* with sens: the Gauss-Newton matrix */
    int weights;         /* per-synapse raw-weight gradients (reverse, taped) */
} snn_forced_opts;

typedef struct snn_forced_sums {
    double loss;                                   /* sum of l over the counted elements */
    int64_t count;                                 /* counted (trial, step, neuron) elements */
    int64_t neuron_steps[SNN_MAX_TYPES];           /* counted elements per postsynaptic type */
    int64_t teacher_spikes[SNN_MAX_TYPES];         /* the teacher's spikes in the counted steps */
    int64_t reproduced[SNN_MAX_TYPES];             /* ... that the student has at the same step */
    int64_t extra[SNN_MAX_TYPES];                  /* the student's spikes where the teacher has none */
    double g_sf[SNN_MAX_TYPES * SNN_MAX_TYPES];    /* d loss / d SF [pre type][post type] (sens) */
    double g_sf_ff[SNN_MAX_TYPES * SNN_MAX_TYPES]; /* d loss / d SF_FF [ff type][post type] (sens) */
} snn_forced_sums;

/* Scratch of a run: per-thread slots sized for a block of neurons and a span of up to T_max steps
 * (the tape only with weights), and per-(trial, neuron) partial sums. */
typedef struct snn_forced_work {
    int B, n_slots, n_blocks, weights;
    int64_t n, T_max, block;
    int64_t *brow, *bff;    /* [n_blocks + 1][rows]: where each block's targets start in each CSR row */
    snn_real *sfn;          /* [K][n] SF[group][type j] of each neuron (the run's factors) */
    double *lsum;           /* [B][n] */
    double *gacc;           /* [B][K][n] */
    double *gnacc;          /* [B][K][K][n] */
    int64_t *cnt;           /* [B][3][n]: teacher spikes, reproduced, extra */
    void *slots;            /* n_slots thread scratch areas */
} snn_forced_work;

int snn_forced_work_alloc(snn_forced_work *w, const snn_network *net, int B, int64_t T_max, int weights,
                          snn_error *err);
void snn_forced_work_free(snn_forced_work *w);

/* Runs steps [s0, s0 + T) of the events (teacher: neuron spikes; inputs: input spikes, or NULL) on the
 * state (advanced in place), T <= w->T_max. Fills *out (sums over this span only); with o->weights adds
 * d loss / d w into gw (rec.nnz) and gw_ff (ff.nnz); with o->gn fills gn [n_types][K][K] (K =
 * net->n_groups; row and column k: SF[k][l] for k < n_types, SF_FF[k - n_types][l] otherwise). */
void snn_forced_run(const snn_network *net, snn_forced_state *st, const snn_events *teacher,
                    const snn_events *inputs, int64_t s0, int64_t T, const snn_forced_opts *o, snn_forced_sums *out,
                    double *gw, double *gw_ff, double *gn, snn_forced_work *w);

/* snn_forced_run in its parts, for a run whose trials are split over processes (each holds a block in
 * its state and work): the run itself (the per-(trial, neuron) partial sums stay in w), then its sums
 * ADDED to *out and gn (which the caller zeroes, or carries over from the previous block's trials: the
 * sums go trial by trial, neuron by neuron, so blocks added in trial order give the same bits as one
 * run over every trial; gn gets its upper triangle [l][k1][k2 >= k1] only), then snn_forced_gn_mirror
 * once at the end. */
void snn_forced_run_parts(const snn_network *net, snn_forced_state *st, const snn_events *teacher,
                          const snn_events *inputs, int64_t s0, int64_t T, const snn_forced_opts *o, double *gw,
                          double *gw_ff, snn_forced_work *w);
void snn_forced_sums_add(const snn_network *net, const snn_forced_work *w, int B, int64_t T, const snn_forced_opts *o,
                         snn_forced_sums *out, double *gn);
void snn_forced_gn_mirror(const snn_network *net, double *gn);

#endif
