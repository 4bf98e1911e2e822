/* What the two training stages (stage 2, homeostatic; stage 4, train) write around the trainer:
 * initial_state/ and final_state/ (the network with its effective weights and scaling factors, and
 * the traces of a 10 s run of one trial) and the console's matrices. Shared so that both stages'
 * folders have the same layout, which stage 3 and the analysis commands read. */
#ifndef SNNFIT_STAGES_TRAINED_STATE_H
#define SNNFIT_STAGES_TRAINED_STATE_H

#include <stdint.h>

#include "core/error.h"
#include "config/params.h"
#include "model/network.h"
#include "model/structure.h"

/* s with the network's effective weights and scaling factors, in memory (free with
 * snn_effective_structure_free; the other arrays are shared with s). */
int snn_effective_structure(const snn_structure *s, const snn_network *net, snn_structure *e, snn_error *err);
void snn_effective_structure_free(snn_structure *e);

/* figures/epoch_XXXX/ at a plot interval: the connectivity dashboard of the current effective weights and
 * the activity dashboard of trial 0 run from the initial state over inputs [steps][n_in]. */
int snn_epoch_figures(const char *out, int64_t epoch, const snn_params *p, const snn_structure *s,
                      const snn_network *net, const uint8_t *inputs, int64_t steps, const int32_t *assembly_ids,
                      snn_error *err);

/* Saves s with the network's effective weights (w * SF[type pre][type post], as the simulator uses
 * them) and its scaling factors (recurrent_scaling_factors, feedforward_scaling_factors), so the file
 * serves directly as a teacher or student structure (SPEC section 2). */
int snn_save_effective_structure(const char *path, const snn_structure *s, const snn_network *net, snn_error *err);

/* <out>/<name>/: network_structure.npz (effective, as above), dashboard_traces.npz, a run of one trial
 * from the initial state over inputs [steps][n_in], and their dashboards (figures/); assembly_ids (may
 * be NULL) restricts the traced neuron as the dashboards do. The folder is written whole under a
 * temporary name and renamed into place (replacing an older one), so it is either complete or absent.
 * Prints one line saying what was saved. */
int snn_save_state_dir(const char *out, const char *name, const snn_params *p, const snn_structure *s,
                       const snn_network *net, const uint8_t *inputs, int64_t steps, const int32_t *assembly_ids,
                       snn_error *err);

/* "title" then the rows x cols matrix m in numpy's print layout with 8 decimals. */
void snn_print_matrix(const char *title, const double *m, int rows, int cols);

#endif
