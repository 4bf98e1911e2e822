/* The training loop of SPEC section 7 (stage 4; stage 2 later): forward the chunk for all trials with
 * the tape, losses, reverse pass, gradient accumulation over `accumulation_interval` iterations, global
 * norm clipping, Adam; metrics rows, console blocks and checkpoints at their intervals.
 *
 * Parameters are one flat double vector: [SF (n_types^2) | SF_FF (n_ff_types x n_types)] in the
 * scaling-factor modes (the untrained part gets no gradient and never moves), or
 * [log w (recurrent synapses, CSR order) | log w_ff] in weights mode (w = exp(theta), SF fixed).
 * Everything a run needs to continue exactly is in the trainer and saved in its checkpoints: an
 * interrupted run resumed from any checkpoint ends bit-identical to the uninterrupted run.
 * Data: iteration k uses chunk k mod n_chunks of the teacher data; at every wrap to chunk 0 the network
 * state and the loss filters are reset (SPEC section 6).
 *
 * On K MPI ranks (core/par.h; scaling factors, closed loop or teacher forced) each rank holds the trials
 * of its block (snn_par_block) and every per-trial buffer is sized for them; the losses and gradients
 * are combined so that every rank gets the same bits as one process: per-trial partial sums gathered to
 * every rank and added in trial order, spike counts summed exactly, and the sums that one process takes
 * over (trial, neuron) in one accumulator (the CV and membrane-variance losses, every teacher-forced
 * sum) carried from rank to rank. With L-BFGS every rank so runs the same line search.
 * Every rank then takes the same optimiser step. snn_trainer_run, snn_trainer_save and snn_trainer_load
 * are collective (every rank calls them); only rank 0 writes files (metrics, checkpoints, which hold
 * every trial's state in trial order, gathered from the ranks). */
#ifndef SNNFIT_TRAIN_TRAINER_H
#define SNNFIT_TRAIN_TRAINER_H

#include <stdint.h>

#include "core/error.h"
#include "io/metrics.h"
#include "config/params.h"
#include "model/forced.h"
#include "model/lif.h"
#include "model/network.h"
#include "train/adam.h"
#include "train/lbfgs.h"
#include "train/loss.h"

/* Reads chunk c of trials b0 .. b0+nb-1 of the teacher data: inputs [nb][L][N_in] and target spikes
 * [nb][L][N]. */
typedef int (*snn_chunk_reader)(void *ctx, int64_t c, int64_t b0, int64_t nb, uint8_t *inputs, uint8_t *targets,
                                snn_error *err);

struct snn_trainer;

/* What a run depends on, recorded in every checkpoint so that a resume can check it is continuing the
 * same run: the seed, the SHA-256 of the parameter file, and an identity of the data it trains on (the
 * teacher store and network in stage 4, the network in stage 2) as the stage computes it. */
typedef struct snn_run_record {
    uint64_t seed;
    char parameters_sha256[65];
    char data_sha256[65];
} snn_run_record;

/* Callbacks of the stage around the trainer (each may be NULL): logging backends and figures.
 * on_row: after each metrics row (the CSV's columns after `epoch`, with presence flags);
 * on_plot: every plot_interval epochs, to draw figures/epoch_XXXX/;
 * on_checkpoint: after each save of checkpoint_latest.npz. A non-zero return stops the run. */
typedef struct snn_trainer_hooks {
    void *ctx;
    int (*on_row)(void *ctx, int64_t epoch, int n, const char *const *names, const double *values,
                  const uint8_t *present, snn_error *err);
    int (*on_plot)(void *ctx, struct snn_trainer *tr, int64_t epoch, snn_error *err);
    int (*on_checkpoint)(void *ctx, struct snn_trainer *tr, int64_t epoch, snn_error *err);
} snn_trainer_hooks;

typedef struct snn_trainer {
    snn_trainer_hooks hooks;
    const snn_params *p;
    snn_network *net;
    int B;                      /* trials of the run */
    int Bl;                     /* this rank's: trials b0 .. b0+Bl-1 (all B on one rank) */
    int64_t b0;
    double *parts;              /* [B][K][n_types] per-trial partial sums, gathered from the ranks */
    int64_t *counts;            /* [N] spike counts over the ranks' trials */
    double *full_state;         /* rank 0 of several: every trial's state for a checkpoint */
    int64_t L, n_chunks, iterations;
    int n_types, n_ff;
    int train_sf, train_sf_ff, train_w;
    int64_t n_params;
    double *params, *grad_acc, *grad_it, *last_grad, *best_params;
    int64_t acc_count;
    int has_last_grad;
    snn_adam adam;
    /* the run's state */
    int64_t iteration;          /* iterations done */
    double best_loss;
    double *window_total;       /* accumulation window: total loss per iteration */
    double *log_losses;         /* log window: [log_interval][SNN_N_LOSSES + 1] (total last) */
    int64_t log_count;
    snn_state st;
    snn_vr vr;
    int vr_on;
    uint8_t *stats_win;         /* trial 0's spikes of the last plot_size chunks (ring of chunks) */
    int64_t stats_filled;
    /* targets of the scaling factors (1 / perturbation), for the metrics */
    int has_target_sf, has_target_sf_ff;
    double target_sf[SNN_MAX_TYPES * SNN_MAX_TYPES], target_sf_ff[SNN_MAX_TYPES * SNN_MAX_TYPES];
    /* work buffers */
    snn_tape tape;
    snn_backward_work bw;
    uint8_t *in, *target, *out;
    double *c_fr, *c_sil;       /* time-constant spike-gradient terms: firing rate (N), silence (B*N) */
    snn_vr_stream vrs;          /* the van Rossum loss's reverse pass */
    double *vcoef, *vsum, *vsumsq;
    double *rates, *rates_target, *r_trial, *alpha_n, *theta_n, *ratio_n, *cv_target_n;
    double *gw, *gw_ff;
    double *log_w_base;         /* weights mode: nothing; kept NULL */
    /* output */
    char out_dir[4096];
    char input_path[4096];
    snn_metrics metrics;
    int metrics_open;
    int quiet;
    double t_window;            /* seconds spent in the current log window */
    char run_id[65];            /* the W&B run id, kept in the checkpoints so a resumed run appends */
    snn_run_record record;      /* written into every checkpoint (set by the stage before saving) */
    snn_run_record loaded;      /* read from the checkpoint by snn_trainer_load */
    int final_state_written;    /* final_state/ is complete: the run is finished (saved in checkpoints) */
    /* fixed evaluation that picks the best checkpoint (stage 4, Adam): the first eval_chunks chunks of
     * the data from the initial state, after every optimiser step */
    int64_t eval_chunks;
    double eval_loss;           /* of the current parameters (NAN before the first) */
    snn_state st_eval;
    snn_vr vr_eval;
    float *vr_e;                /* [B][L][N] the van Rossum evaluation's difference buffer */
    /* teacher forcing (method = teacher_forced; train/forced_fit.c) */
    int forced, lbfgs;
    snn_forced_state fst;       /* the forced student (Adam: carried chunk to chunk, reset at the wrap) */
    snn_forced_state fst_eval;
    snn_forced_work fw;
    snn_events ev_t, ev_i;      /* teacher spikes and inputs: the current chunk (Adam) or the fit data */
    int64_t fit_steps;          /* steps of each trial in the full-batch fit */
    int64_t burn_steps;         /* burn_in in steps */
    int fit_loaded;             /* ev_t / ev_i hold the fit data */
    snn_forced_sums win_sums;   /* counts of the current log window */
    int64_t win_count;
    snn_lbfgs lb;               /* L-BFGS over the log of the trained factors (or the log-weights) */
    int64_t n_opt;              /* parameters L-BFGS moves */
    int64_t *opt_index;         /* their indices in params */
    int lbfgs_started, converged;
    snn_forced_sums eval_sums;  /* the counts of the last objective evaluation */
    double eval_sums_f;         /* and its loss */
    snn_forced_sums acc_sums;   /* the counts of the point L-BFGS accepted */
    double *gn;                 /* [n_types][K][K] Gauss-Newton matrix of the last evaluation with it */
    void *fit_chain;            /* the forced sums (and gn) passed from rank to rank */
    double delta_override;      /* > 0: the spike-time loss's delta instead of the parameter file's (the
                                 * fit report's refit at half the delta) */
} snn_trainer;

/* The run has nothing left to do: the iteration cap, or L-BFGS stopped by a tolerance. */
int snn_trainer_finished(const snn_trainer *tr);

/* SNN_EINPUT (with the reason) if the run cannot be trained on this job's MPI ranks: the weights mode
 * runs on one rank only, and every rank needs a trial. Stages call it before
 * they write anything; snn_trainer_init checks it too. */
int snn_trainer_check_ranks(const snn_params *p, int B, snn_error *err);

/* Sets up a trainer for network net (its current weights and scaling factors are the starting point)
 * and B trials of teacher data in n_chunks chunks of L steps. With method = teacher_forced and L-BFGS,
 * each iteration is one L-BFGS iteration over the first fit_steps steps of every trial (all of them by
 * default), read through the chunk reader at the start of the run. */
int snn_trainer_init(snn_trainer *tr, const snn_params *p, snn_network *net, int B, int64_t L, int64_t n_chunks,
                     int64_t iterations, const char *out_dir, const char *input_path, snn_error *err);
void snn_trainer_free(snn_trainer *tr);

/* Trains until `iterations` (or stop_after iterations of this call, if > 0), writing metrics,
 * console blocks and checkpoints; returns SNN_OK. *stopped is set when it stopped early (interrupt or
 * stop_after) after saving the latest checkpoint. */
int snn_trainer_run(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, int64_t stop_after, int *stopped,
                    snn_error *err);

/* Checkpoints (npz), collective: every rank calls them after its last successful status sync; rank 0
 * writes (the states of every rank's trials, in trial order), every rank loads its block. Loading restores everything the run needs; the file must belong to a run of the
 * same shape (parameters, trials, neurons), else SNN_EINPUT naming the file and the array. Every value
 * is checked before it is used: counters within their ranges (epoch, Adam's step, the accumulation,
 * log and statistics windows, refractory counters within each neuron's period), parameters, moments,
 * gradients, losses and the network state finite (parameters >= 0 in the scaling-factor modes, Adam's
 * second moments and the losses >= 0, best_loss not NaN), the record (tr->loaded) and the input path
 * present; a checkpoint of an older format is refused. */
int snn_trainer_save(const snn_trainer *tr, const char *path, snn_error *err);
int snn_trainer_load(snn_trainer *tr, const char *path, snn_error *err);

/* Puts parameters into the network (refreshing its effective weights). */
void snn_trainer_apply_params(snn_trainer *tr, const double *params);

/* Requests a clean stop at the end of the current iteration (signal handlers call it). */
void snn_trainer_request_stop(void);

#endif
