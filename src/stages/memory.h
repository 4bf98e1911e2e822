/* The memory a run needs, estimated from its parameters and input sizes before it starts, and checked
 * against the command's --max-memory (default: the memory the machine has available). A run that would
 * not fit is refused with exit status 2, the numbers (needed vs allowed) and its largest parts, before
 * any output exists, instead of failing with "out of memory" halfway (docs/decisions.md, "Memory").
 *
 * One function per command. Each sums the buffers the command keeps for its whole run (the "resident"
 * parts) and adds the largest of the buffers it holds only for a while (a structure being saved, the
 * traces of a figure, a checkpoint being encoded). The estimate counts the arrays the code allocates,
 * with the network's synapses in sparse rows (an upper bound from the connection probabilities when the
 * network is still to be generated), plus SNN_MEM_FIXED for the program, its libraries and the figures;
 * it is meant to be within a few tens of percent of the peak resident size, and above it. */
#ifndef SNNFIT_STAGES_MEMORY_H
#define SNNFIT_STAGES_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "config/params.h"

/* the program, its libraries and one figure being drawn (a 2400 x 1600 image and PLplot's buffers) */
#define SNN_MEM_FIXED (48.0 * 1024 * 1024)

#define SNN_MEM_MAX_PARTS 24

typedef struct snn_mem_part {
    const char *what;
    double bytes;
    int transient; /* held for a while only: the largest of these counts */
} snn_mem_part;

typedef struct snn_mem_estimate {
    int n;
    snn_mem_part part[SNN_MEM_MAX_PARTS];
} snn_mem_estimate;

/* What every estimate needs to know of the network. */
typedef struct snn_mem_net {
    int64_t n, n_in;     /* neurons, inputs */
    double nnz, nnz_ff;  /* recurrent and feedforward synapses (or an upper bound) */
    int n_cols;          /* synapse columns S (recurrent and feedforward synapse types) */
    int n_groups;        /* presynaptic groups (recurrent and feedforward cell types) */
    int n_types;         /* recurrent cell types */
} snn_mem_net;

void snn_mem_init(snn_mem_estimate *e);
/* count x elem bytes (doubles: a product never overflows here, it only grows past any limit). */
void snn_mem_add(snn_mem_estimate *e, const char *what, double count, double elem, int transient);
/* Resident parts plus the largest transient part plus SNN_MEM_FIXED. */
double snn_mem_total(const snn_mem_estimate *e);

/* Network sizes of a loaded structure (synapses counted) or, with s NULL, of the structure p describes
 * (stage 1: n and n_in from the topology, synapses bounded by the largest connection probabilities). */
struct snn_structure;
void snn_mem_net_of(const snn_params *p, const struct snn_structure *s, snn_mem_net *z);

/* Loading (or generating) a structure of z's sizes: sparse rows, 8 bytes per synapse. */
void snn_est_structure(snn_mem_estimate *e, const snn_mem_net *z);

/* The commands (simulate sizes its spikes and [tracking] traces itself, in stages/simulate.c, for a
 * message that says what to track less of). trials: what the run simulates (stages 2 and 4: the trials,
 * chunk_size steps at a time). */
void snn_est_connectome(const snn_params *p, snn_mem_estimate *e);
void snn_est_teacher(const snn_params *p, const snn_mem_net *z, int n_patterns, snn_mem_estimate *e);
/* Stage 4: teacher data of `trials` trials read in zarr chunks of zchunk_trials x zchunk_steps; dt the
 * teacher's. Stage 2 (homeostatic): zchunk_* 0, dt from p. */
void snn_est_train(const snn_params *p, const snn_mem_net *z, int64_t trials, double dt, int64_t zchunk_trials,
                   int64_t zchunk_steps, snn_mem_estimate *e);
/* compare and odourants: nets networks run for `steps` steps in `trials` trials, windows of rates. */
void snn_est_analysis(const snn_mem_net *z, int nets, int64_t trials, int64_t steps, int64_t windows,
                      snn_mem_estimate *e);

/* SNN_OK when the total fits in `allowed` bytes (0: no limit); else SNN_EINPUT, one line: "<where>: this
 * run needs about 37.1 GiB of memory (recurrent network structure 24.0 GiB, ...), more than --max-memory
 * allows (22.3 GiB: the memory available)". explicit: --max-memory was given (else the default). */
int snn_mem_check(const snn_mem_estimate *e, uint64_t allowed, int explicit, const char *where, snn_error *err);

#endif
