/* The activity traces the dashboards draw (reference/figures.md sections 2.8 and 3.2), kept in an npz
 * beside a stage's results until the figures are drawn from it.
 *
 * One trial is replayed from a saved state over its recorded input spikes (the simulator is
 * deterministic, so the replay reproduces the run exactly): a first pass sums every neuron's
 * conductances, a neuron is chosen as the reference does (an excitatory neuron, of assembly 0 when
 * assemblies are given, that spiked and received both excitatory and inhibitory recurrent conductance;
 * the upper median by spike count, ties broken by index), and a second pass records its voltage,
 * currents and conductances. Keys written: dt, output_spikes (T, N) bool, input_spikes (T, N_in) bool,
 * selected_neuron, voltage (T) f4, synaptic_currents (T, S) f4, leak_current (T) f4,
 * conductances (T, 2, S) f4, synapse_names (S, fixed-width bytes as uint8 rows), plus any extra
 * arrays the caller adds (e.g. ou_process_weights). */
#ifndef SNNFIT_STAGES_TRACES_H
#define SNNFIT_STAGES_TRACES_H

#include <stdint.h>

#include "core/error.h"
#include "io/npz.h"
#include "model/lif.h"
#include "model/network.h"

typedef struct snn_trace_extra {
    const char *key;
    snn_dtype dtype;
    int ndim;
    int64_t shape[4];
    const void *data;
} snn_trace_extra;

/* Replays trial `trial` of `start` over inputs [T][n_in] and writes the traces to path.
 * type_names: the recurrent cell type names; assembly_ids may be NULL (no assembly restriction). */
int snn_traces_write(const char *path, const snn_network *net, const snn_state *start, int trial,
                     const uint8_t *inputs, int64_t T, const char type_names[][64], const int32_t *assembly_ids,
                     const snn_trace_extra *extras, int n_extras, snn_error *err);

/* The neuron choice alone (exposed for tests): spikes [T][n], g_sum [S][n] summed conductances. */
int64_t snn_traces_select_neuron(const snn_network *net, const uint8_t *spikes, int64_t T, const double *g_sum,
                                 const char type_names[][64], const int32_t *assembly_ids);

#endif
