/* The teacher-forced fit inside the trainer (SPEC section 7.8a; [training] method = "teacher_forced").
 *
 * The objective is loss_weight.spike_time x the mean spike-time loss over (trial, step, neuron) of the
 * student forced by the teacher's spikes (model/forced.h), plus the weight-ratio loss when it has a
 * weight. Two ways to minimise it:
 *  - L-BFGS (default): full batch over the first fit_steps steps of every trial, replayed whole from the
 *    initial state the teacher started in, with the exact gradient; the parameters it moves are the logs
 *    of the trained scaling factors (they stay positive) or the log-weights.
 *  - Adam: chunk by chunk as the closed-loop method, the forced state carried from chunk to chunk and
 *    reset at the data's wrap, the gradient truncated at the chunk's start.
 * The first burn_in ms of every trial are left out of the loss (for data whose initial state is not the
 * model's). */
#ifndef SNNFIT_TRAIN_FORCED_FIT_H
#define SNNFIT_TRAIN_FORCED_FIT_H

#include "train/trainer.h"

/* Allocates the forced state, work and event buffers (from snn_trainer_init). */
int snn_fit_init(snn_trainer *tr, snn_error *err);
void snn_fit_free(snn_trainer *tr);

/* Reads the first fit_steps steps of every trial into the trainer's events (once; a no-op after). */
int snn_fit_load(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, snn_error *err);

/* Adam: one iteration on the chunk in tr->in / tr->target (chunk index `chunk` of the data): the forced
 * run on the carried state, losses, the gradient added to tr->grad_acc, the weighted total in *total.
 *
 * On several MPI ranks each rank holds its block of trials (events, forced states); every function below
 * that evaluates the loss is collective and gives every rank the sums over all trials, with the same bits
 * as one process (the blocks' sums continued rank to rank in trial order). It starts with a status sync
 * where it reads data (snn_fit_chunk, snn_fit_eval_chunks); snn_fit_load does not sync (its caller
 * does). */
int snn_fit_chunk(snn_trainer *tr, int64_t chunk, double losses[SNN_N_LOSSES], double *total, snn_error *err);

/* Adam: the loss of the current parameters on chunks 0 .. n-1 from the initial state (no gradient). */
int snn_fit_eval_chunks(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, int64_t n, double *total,
                        snn_error *err);

/* L-BFGS: x (tr->n_opt) <-> the trainer's parameters. */
void snn_fit_x_from_params(const snn_trainer *tr, const double *params, double *x);
void snn_fit_params_from_x(snn_trainer *tr, const double *x, double *params);

/* The L-BFGS objective (ctx: the trainer): the loss and its gradient with respect to x on the fit data. */
int snn_fit_objective(void *ctx, const double *x, double *f, double *g, snn_error *err);

/* The loss of the network's current parameters on the fit data, its counts and (scaling-factor modes,
 * when gn is not NULL) the Gauss-Newton matrix of the summed spike-time loss in SF space
 * [n_types][K][K] (model/forced.h). */
int snn_fit_evaluate(snn_trainer *tr, snn_forced_sums *sums, double *loss, double *gn, snn_error *err);

/* The weighted total of the spike-time loss (and weight ratio) for sums at the trainer's parameters. */
double snn_fit_total(const snn_trainer *tr, const snn_forced_sums *sums, double losses[SNN_N_LOSSES]);

#endif
