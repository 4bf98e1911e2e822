#include "model/memory.h"

#include "core/real.h"

#define R ((uint64_t)sizeof(snn_real))

uint64_t snn_mem_network_per_synapse(void) { return 4 + 4 + R; }

uint64_t snn_mem_structure(const snn_mem_sizes *z) {
    /* rows (8 per neuron or input + 1), types (8 each), assembly ids (4 per neuron) */
    return SNN_MEM_STRUCTURE_PER_SYNAPSE * (uint64_t)(z->nnz + z->nnz_ff) + 8 * (uint64_t)(z->n + z->n_in + 2) +
           8 * (uint64_t)(z->n + z->n_in) + 4 * (uint64_t)z->n;
}

uint64_t snn_mem_network(const snn_mem_sizes *z) {
    /* per neuron: type, 6 constants, refractory steps; per input: type */
    return snn_mem_network_per_synapse() * (uint64_t)(z->nnz + z->nnz_ff) + 8 * (uint64_t)(z->n + z->n_in + 2) +
           (uint64_t)z->n * (4 + 6 * R + 4) + 4 * (uint64_t)z->n_in;
}

uint64_t snn_mem_state_per_neuron_trial(const snn_mem_sizes *z) {
    /* v (double), refractory, G[2][S], drive[K], isyn, vf, spike list */
    return 8 + 4 + 2 * R * (uint64_t)z->n_cols + R * (uint64_t)z->n_groups + R + R + 4;
}

uint64_t snn_mem_backward_per_neuron_trial(const snn_mem_sizes *z) {
    /* vbar, gbar[2S], a[K], at[K], sbar, tmp, ds (float), spikes (byte) */
    return R + 2 * R * (uint64_t)z->n_cols + 2 * R * (uint64_t)z->n_groups + R + R + 4 + 1;
}

uint64_t snn_mem_tape_per_neuron_step(void) { return 2 * R + 2; }

static uint64_t net_and_structure(const snn_mem_sizes *z) { return snn_mem_structure(z) + snn_mem_network(z); }

uint64_t snn_mem_teacher(const snn_mem_sizes *z, int64_t B, int64_t L, int64_t P, int64_t Tw) {
    const uint64_t n = (uint64_t)z->n, ni = (uint64_t)z->n_in, b = (uint64_t)B, l = (uint64_t)L;
    uint64_t m = net_and_structure(z);
    m += (b + 1) * n * snn_mem_state_per_neuron_trial(z);   /* the trials and the window's start */
    m += 2 * b * l * (n + ni + 4 * (uint64_t)P);             /* two chunks of spikes and OU weights */
    m += b * n * 4 + n * 8 + (uint64_t)P * ni * 8;           /* spike counts, odour patterns */
    m += (uint64_t)Tw * (ni + 4 * (uint64_t)P);              /* the dashboard window's inputs */
    m += (uint64_t)Tw * n;                                   /* its replay's spikes (traces) */
    m += 2 * 5 * l * n;                                      /* zarr chunks of 5 trials and their compression */
    return m;
}

uint64_t snn_mem_simulate(const snn_mem_sizes *z, int64_t B, int64_t T) {
    const uint64_t n = (uint64_t)z->n, ni = (uint64_t)z->n_in, b = (uint64_t)B, t = (uint64_t)T;
    return net_and_structure(z) + b * n * snn_mem_state_per_neuron_trial(z) + b * t * (n + ni);
}

uint64_t snn_mem_train(const snn_mem_sizes *z, int64_t B, int64_t L, int64_t n_params, int64_t plot_steps,
                       int64_t traces_steps) {
    const uint64_t n = (uint64_t)z->n, ni = (uint64_t)z->n_in, b = (uint64_t)B, l = (uint64_t)L;
    uint64_t m = net_and_structure(z);
    m += b * n * (snn_mem_state_per_neuron_trial(z) + snn_mem_backward_per_neuron_trial(z));
    m += b * (l + 1) * n * snn_mem_tape_per_neuron_step();   /* the tape (one more row of v) */
    m += b * ni + b * (uint64_t)z->n_groups * (uint64_t)z->n_types * 8;
    m += (uint64_t)n_params * 8 * 7;                          /* params, gradients x3, best, Adam m and v */
    if (n_params > (int64_t)z->n_types * z->n_types * 4)     /* weights mode: the per-synapse gradients */
        m += 8 * (uint64_t)(z->nnz + z->nnz_ff);
    m += b * l * (ni + 2 * n) * 2;                            /* inputs, targets and outputs; the reader's copy */
    m += (uint64_t)plot_steps * n;                            /* the statistics window */
    m += n * 8 * (8 + 6 * b);                                 /* per-neuron and per-trial loss terms */
    m += (uint64_t)traces_steps * (n + ni) + n * snn_mem_state_per_neuron_trial(z); /* state traces */
    m += net_and_structure(z) / 2;                            /* the effective weights written with each state */
    return m;
}
