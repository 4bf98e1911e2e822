/* The stage-4 (student training) sections of a parameter file; private to io/params.c, which loads
 * the layers and calls these around them (the schedule first, the objective once the cell-type
 * names are known). Both fill p->sim and p->train as io/params.h documents. */
#ifndef SNNFIT_IO_PARAMS_TRAIN_H
#define SNNFIT_IO_PARAMS_TRAIN_H

#include "io/params.h"
#include "io/params_read.h"

/* [simulation] and [training]: seed, chunk_size, dt, how long, intervals, optimisable. */
int snn_params_train_schedule(const snn_pr *r, const toml_value *root, snn_params *p);

/* [targets], [hyperparameters], [scaling_factors], [wandb]; needs p->rec and p->ff loaded. */
int snn_params_train_objective(const snn_pr *r, const toml_value *root, snn_params *p);

#endif
