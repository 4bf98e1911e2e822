/* What a run keeps in memory, as functions of its sizes, in bytes: the figures the console prints
 * ("bytes per neuron per trial", "per synapse") and the up-front estimates a stage can compare with
 * the memory it may use. Each per-item size is the sum of the allocations that item makes (model/
 * structure.c, model/network.c, model/lif.c, train/trainer.c, stages/teacher.c), so that the figures
 * and the allocations change together (tests/e2e/sparse.sh compares an estimate with a measured peak).
 * Nothing here scales with N x N: a network costs per synapse and per neuron. */
#ifndef SNNFIT_MODEL_MEMORY_H
#define SNNFIT_MODEL_MEMORY_H

#include <stdint.h>

typedef struct snn_mem_sizes {
    int64_t n, n_in;         /* recurrent neurons, inputs */
    int64_t nnz, nnz_ff;     /* recurrent and feedforward synapses */
    int n_cols;              /* synapse columns S (recurrent + feedforward synapse types) */
    int n_groups;            /* presynaptic types K (recurrent + feedforward cell types) */
    int n_types;             /* recurrent cell types */
} snn_mem_sizes;

/* Per synapse: the structure's sparse rows (column index, float32 weight) and the simulator's
 * (column index, raw and effective weight). */
#define SNN_MEM_STRUCTURE_PER_SYNAPSE 8
uint64_t snn_mem_network_per_synapse(void);
/* The structure and the simulator's network, all of it (per synapse, per neuron, per input). */
uint64_t snn_mem_structure(const snn_mem_sizes *z);
uint64_t snn_mem_network(const snn_mem_sizes *z);

/* Per neuron and trial: the simulation state (v, refractory counter, conductances of every column,
 * drives of every group, scratch), and in training the reverse pass's work arrays. Per neuron,
 * trial and time step of a chunk: the BPTT tape (v - theta, conductance sum, flags). */
uint64_t snn_mem_state_per_neuron_trial(const snn_mem_sizes *z);
uint64_t snn_mem_backward_per_neuron_trial(const snn_mem_sizes *z);
uint64_t snn_mem_tape_per_neuron_step(void);

/* Whole runs (structure + network + everything the stage allocates, not the C library's overhead):
 * stage 3 with B trials, chunks of L steps, P odour patterns and a dashboard window of Tw steps;
 * `simulate` with B trials over T steps (its spikes are kept whole); stage 4 with B trials, chunks of
 * L steps, n_params trained parameters (weights mode: nnz + nnz_ff), statistics over plot_steps and
 * the 10 s traces of the initial and final states (traces_steps). */
uint64_t snn_mem_teacher(const snn_mem_sizes *z, int64_t B, int64_t L, int64_t P, int64_t Tw);
uint64_t snn_mem_simulate(const snn_mem_sizes *z, int64_t B, int64_t T);
uint64_t snn_mem_train(const snn_mem_sizes *z, int64_t B, int64_t L, int64_t n_params, int64_t plot_steps,
                       int64_t traces_steps);

#endif
