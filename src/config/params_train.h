/* The training sections of a parameter file, stage 4 (student training) and stage 2 (homeostatic
 * plasticity); private to config/params.c, which loads the layers and calls these around them (the
 * schedule first, the objective once the cell-type names are known). They fill p->sim and p->train
 * as config/params.h documents; the objective reads p->stage to know which of the two it loads. */
#ifndef SNNFIT_CONFIG_PARAMS_TRAIN_H
#define SNNFIT_CONFIG_PARAMS_TRAIN_H

#include "config/params_types.h"
#include "config/params_read.h"

/* [simulation] and [training]: seed, chunk_size, dt, how long, intervals, optimisable. */
int snn_params_train_schedule(const snn_pr *r, const toml_value *root, snn_params *p);

/* Stage 2: [simulation] (dt, duration, seed, chunk_size) and [training] (batch_size, intervals, ...). */
int snn_params_homeostatic_schedule(const snn_pr *r, const toml_value *root, snn_params *p);

/* [targets], [hyperparameters], [scaling_factors], [wandb]; needs p->rec and p->ff loaded. */
int snn_params_train_objective(const snn_pr *r, const toml_value *root, snn_params *p);

/* The run's length in time steps, duration / dt, against SNN_MAX_STEPS (config/limits.h), for the
 * [simulation] table t (path tpath) of any stage with a duration; the message names duration and dt. */
int snn_params_check_steps(const snn_pr *r, const toml_value *t, const char *tpath, const snn_sim_params *s);

/* Lists (for snn_params_schema_keys) the key paths of a stage-2 or stage-4 table the schedule and
 * objective loaders own: simulation, training, targets, hyperparameters (with
 * hyperparameters.loss_weight.*), scaling_factors, wandb. Returns 0 for any other table. */
int snn_params_train_schema_table(snn_stage stage, const char *table, snn_params_key_cb cb, void *ctx);

#endif
