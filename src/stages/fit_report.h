/* The report of a stage-4 fit (SPEC section 7.8a), written after final_state/ with the best parameters
 * in the trainer's network:
 *  - teacher forcing, scaling-factor modes: the standard error of each trained factor from the
 *    Gauss-Newton curvature of the summed spike-time loss in log space, and the sloppiest direction;
 *    the fraction of the teacher's spikes the forced student reproduces and its extra spikes;
 *  - either method: a closed-loop run of the fitted network from the initial state on the teacher's
 *    inputs (the fit's steps of every trial, or all of them for closed loop), against the teacher's
 *    spikes: per cell type the mean rates, mean CVs and the Pearson r of rates in 500 ms windows;
 *  - the factors against their targets when known.
 * Printed, and written to final_state/fit_report.json and final_state/fit_report.csv (factor, value,
 * target, standard_error, standard_error_log, log_error). */
#ifndef SNNFIT_STAGES_FIT_REPORT_H
#define SNNFIT_STAGES_FIT_REPORT_H

#include "core/error.h"
#include "train/trainer.h"

/* Length of the closed-loop comparison's windows. */
#define SNN_FIT_REPORT_WINDOW_MS 500.0

/* out: the run's folder (final_state/ exists). initial: the student's starting parameters (n_params).
 * Collective on several MPI ranks (every rank calls it after a successful status sync): the
 * teacher-forced evaluation and the bias check's refit go over every rank's trials with the same bits
 * as one process; the closed-loop comparison (every trial, read by rank 0 itself), the console and the
 * files are rank 0's, and the other ranks return at once, to wait for it at their next status sync. */
int snn_fit_report(snn_trainer *tr, snn_chunk_reader read_chunk, void *ctx, const double *initial, const char *out,
                   snn_error *err);

#endif
