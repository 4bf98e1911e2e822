/* The reference's dashboards (reference/figures.md section 3), drawn with plot/figure.h:
 *  F1 connectivity dashboard: weight heatmaps (rows presynaptic), mean synapse counts, weight
 *     distributions, mean and std of total input per type pair;
 *  F2 activity dashboard: raster, population rates, the selected neuron's voltage, conductances (nS)
 *     and currents, and per cell type the rate, CV, ISI and Fano-factor distributions;
 *  F3 assembly activity dashboard: assembly population rates and the OU mixing weights.
 * The activity figures read a dashboard_traces.npz as written by stages/traces.h (one trial,
 * contiguous steps, so voltage and spikes line up). Each writes one PNG atomically; errors name the
 * file. Sizes: 2400 x 1600 pixels (F1, F2) and 2400 x 900 (F3), see docs/decisions.md "Figures". */
#ifndef SNNFIT_PLOT_DASHBOARDS_H
#define SNNFIT_PLOT_DASHBOARDS_H

#include "core/error.h"
#include "config/params.h"
#include "model/structure.h"

int snn_plot_connectivity(const char *png, const snn_structure *s, const snn_params *p, snn_error *err);
int snn_plot_activity(const char *png, const char *traces_npz, const snn_structure *s, const snn_params *p,
                      snn_error *err);
int snn_plot_assembly_activity(const char *png, const char *traces_npz, const snn_structure *s,
                               const snn_params *p, snn_error *err);

/* All the dashboards a stage writes into dir/figures/ (created): connectivity, activity (from
 * traces_npz) and, when assembly is set, the assembly activity. Prints one "✓ Saved dashboard plots
 * to <dir>/figures" line. */
int snn_plot_dashboards(const char *dir, const char *traces_npz, const snn_structure *s, const snn_params *p,
                        int assembly, snn_error *err);

/* The dashboards of a saved network state (stage 4 initial_state/ and final_state/): reads
 * dir/network_structure.npz (effective weights, with its scaling factors) and dir/dashboard_traces.npz,
 * writes dir/figures/{connectivity,activity}_dashboard.png. */
int snn_plot_state_dir(const char *dir, const snn_params *p, snn_error *err);

#endif
