#include "stages/traces.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static int name_in(const char *name, const char *const *set, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(name, set[i])) return 1;
    return 0;
}

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && (p[i] | 32) == (needle[i] | 32)) i++;
        if (i == n) return 1;
    }
    return 0;
}

typedef struct cand {
    int64_t count, index;
} cand;

static int cmp_cand(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int64_t snn_traces_select_neuron(const snn_network *net, const uint8_t *spikes, int64_t T, const double *g_sum,
                                 const char type_names[][64], const int32_t *assembly_ids) {
    static const char *const exc[] = {"AMPA", "NMDA"}, *const inh[] = {"GABA_A", "GABA_B"};
    int64_t n = net->n, first_exc = -1, nc = 0;
    cand *c = malloc((size_t)n * sizeof *c);
    if (!c) return 0;
    for (int64_t j = 0; j < n; j++) {
        if (!contains_ci(type_names[net->type[j]], "excit")) continue;
        if (first_exc < 0) first_exc = j;
        if (assembly_ids && assembly_ids[j] != 0) continue;
        int64_t count = 0;
        for (int64_t t = 0; t < T; t++) count += spikes[t * n + j];
        double ge = 0, gi = 0;
        for (int s = 0; s < net->n_cols_rec; s++) {
            if (name_in(net->col_name[s], exc, 2)) ge += g_sum[(size_t)s * n + j];
            if (name_in(net->col_name[s], inh, 2)) gi += g_sum[(size_t)s * n + j];
        }
        if (count > 0 && ge > 0 && gi > 0) c[nc++] = (cand){count, j};
    }
    int64_t chosen = first_exc >= 0 ? first_exc : 0;
    if (nc > 0) {
        qsort(c, (size_t)nc, sizeof *c, cmp_cand);
        chosen = c[nc / 2].index;
    }
    free(c);
    return chosen;
}

int snn_traces_write(const char *path, const snn_network *net, const snn_state *start, int trial,
                     const uint8_t *inputs, int64_t T, const char type_names[][64], const int32_t *assembly_ids,
                     const snn_trace_extra *extras, int n_extras, snn_error *err) {
    int64_t n = net->n, n_in = net->n_in;
    int S = net->n_cols;
    int rc = SNN_OK;
    snn_state st = {0};
    uint8_t *spikes = snn_calloc((size_t)(T * n), 1, "trace spikes", err);
    double *g_sum = snn_calloc((size_t)S * n, sizeof(double), "trace conductance sums", err);
    float *v = snn_calloc((size_t)T, sizeof(float), "trace voltage", err);
    float *isyn = snn_calloc((size_t)(T * S), sizeof(float), "trace currents", err);
    float *ileak = snn_calloc((size_t)T, sizeof(float), "trace leak current", err);
    float *g = snn_calloc((size_t)(T * 2 * S), sizeof(float), "trace conductances", err);
    uint8_t *names = snn_calloc((size_t)(S ? S : 1), 64, "synapse names", err);
    if (!spikes || !g_sum || !v || !isyn || !ileak || !g || !names) {
        rc = SNN_ERUN;
        goto done;
    }
    rc = snn_state_alloc(&st, net, 1, err);
    if (rc) goto done;

    snn_state_copy_trial(start, trial, &st, 0);
    snn_track sum_track = {.trial = 0, .n_neurons = 0, .g_sum = g_sum};
    snn_forward_chunk(net, &st, T, inputs, spikes, &sum_track, 1);
    int64_t chosen = snn_traces_select_neuron(net, spikes, T, g_sum, type_names, assembly_ids);

    snn_state_copy_trial(start, trial, &st, 0);
    snn_track one = {.trial = 0, .n_neurons = 1, .neurons = &chosen, .v = v, .i_syn = isyn, .i_leak = ileak, .g = g};
    snn_forward_chunk(net, &st, T, inputs, spikes, &one, 1);
    for (int s = 0; s < S; s++) memcpy(names + 64 * s, net->col_name[s], strlen(net->col_name[s]));

    snn_npz_writer *w = snn_npz_create(path, 1, err);
    if (!w) {
        rc = err ? err->code : SNN_ERUN;
        goto done;
    }
    int64_t sh_tn[2] = {T, n}, sh_tin[2] = {T, n_in}, sh_t[1] = {T}, sh_ts[2] = {T, S}, sh_t2s[3] = {T, 2, S},
            sh_names[2] = {S, 64};
    rc = snn_npz_add_scalar_f64(w, "dt", net->dt, err);
    if (!rc) rc = snn_npz_add(w, "output_spikes", SNN_BOOL, 2, sh_tn, spikes, err);
    if (!rc) rc = snn_npz_add(w, "input_spikes", SNN_BOOL, 2, sh_tin, inputs, err);
    if (!rc) rc = snn_npz_add_scalar_i64(w, "selected_neuron", chosen, err);
    if (!rc) rc = snn_npz_add(w, "voltage", SNN_F32, 1, sh_t, v, err);
    if (!rc) rc = snn_npz_add(w, "synaptic_currents", SNN_F32, 2, sh_ts, isyn, err);
    if (!rc) rc = snn_npz_add(w, "leak_current", SNN_F32, 1, sh_t, ileak, err);
    if (!rc) rc = snn_npz_add(w, "conductances", SNN_F32, 3, sh_t2s, g, err);
    if (!rc) rc = snn_npz_add(w, "synapse_names", SNN_U8, 2, sh_names, names, err);
    for (int q = 0; !rc && q < n_extras; q++)
        rc = snn_npz_add(w, extras[q].key, extras[q].dtype, extras[q].ndim, extras[q].shape, extras[q].data, err);
    if (rc) snn_npz_abort(w);
    else rc = snn_npz_close(w, err);
done:
    snn_state_free(&st);
    free(spikes);
    free(g_sum);
    free(v);
    free(isyn);
    free(ileak);
    free(g);
    free(names);
    return rc;
}
