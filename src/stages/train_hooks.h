/* What the training stages (2 and 4) attach to the trainer's hooks: figures/epoch_XXXX/ at every plot
 * interval, TensorBoard events (every metrics row as scalars, every figure as an image, the parameters
 * as text) in OUT/tensorboard/, and the W&B upload of that folder at every checkpoint (SPEC section 9).
 * TensorBoard files carry wall-clock times; they are the one output that differs between an
 * interrupted-and-resumed run and an uninterrupted one (as are W&B's logs). */
#ifndef SNNFIT_STAGES_TRAIN_HOOKS_H
#define SNNFIT_STAGES_TRAIN_HOOKS_H

#include <stdint.h>

#include "core/error.h"
#include "io/events.h"
#include "config/params.h"
#include "model/structure.h"
#include "stages/wandb.h"
#include "train/trainer.h"

typedef struct snn_train_hooks {
    const char *out;
    const snn_params *p;
    const snn_structure *s;        /* the student's structure (raw weights; the network holds the factors) */
    const int32_t *assembly_ids;   /* for the traced neuron, or NULL */
    uint8_t *inputs;               /* trial 0's inputs of the epoch figures (owned) */
    int64_t steps;
    snn_tb *tb;
    snn_wandb wb;
    int wb_open;
} snn_train_hooks;

/* Opens the loggers and installs the hooks on tr (after snn_trainer_init, after loading a checkpoint).
 * inputs (malloc'd, owned from now on) are trial 0's inputs for the epoch figures. resumed: the trainer
 * was loaded from a checkpoint (tr->run_id then holds the W&B run id). */
int snn_train_hooks_open(snn_train_hooks *h, snn_trainer *tr, const char *out, const snn_params *p,
                         const snn_structure *s, const int32_t *assembly_ids, uint8_t *inputs, int64_t steps,
                         int no_wandb, int resumed, snn_error *err);
/* Runs the trainer to its last iteration with SIGINT/SIGTERM turned into a clean stop (a checkpoint,
 * then the "continue with: snnfit resume" line), restoring the default handlers afterwards. unit names
 * an iteration in the messages ("chunk", "epoch"). *save_final = 1 when the caller should now write
 * final_state/ (training completed in this call, or finished earlier without the final state marked
 * written); 0 when the run stopped or was already complete. */
int snn_stage_run_trainer(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, int64_t stop_after,
                          const char *unit, const char *out, int *save_final, snn_error *err);

/* After the run (finished or stopped): final figures into TensorBoard, last upload, close. */
void snn_train_hooks_close(snn_train_hooks *h, int64_t step, int final_state_written);

/* The record of what a run depends on (train/trainer.h): the seed, the SHA-256 of the parameter file,
 * and data_id, the stage's identity of its data. */
int snn_stage_run_record(snn_run_record *r, uint64_t seed, const char *params_path, const char *data_id,
                         snn_error *err);
/* After snn_trainer_load: the checkpoint's record (tr->loaded) must equal the run's (tr->record), else
 * SNN_EINPUT naming what changed: the parameter file (params_path), the seed, or the data (data_what,
 * at data_path). A resume never continues a run with other parameters or other data. */
int snn_stage_check_record(const snn_trainer *tr, const char *ckpt, const char *params_path, const char *data_what,
                           const char *data_path, snn_error *err);
/* The checkpoint at epoch 0 of a new run (checkpoints/checkpoint_latest.npz), written once everything
 * before the first epoch is: from then on `resume` continues the run. */
int snn_stage_first_checkpoint(snn_trainer *tr, snn_error *err);
/* Marks the run finished, last: final_state_written = 1 in checkpoint_latest.npz, after final_state/
 * is in place. A run killed before this writes its final state again on resume. */
int snn_stage_mark_finished(snn_trainer *tr, snn_error *err);

#endif
