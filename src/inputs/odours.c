#include "inputs/odours.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

typedef struct drive_entry {
    float drive;
    int64_t input;
} drive_entry;

/* Highest drive first; equal drives by lower input index; NaN (only from NaN weights) last. */
static int cmp_drive_desc(const void *pa, const void *pb) {
    const drive_entry *a = pa, *b = pb;
    int a_nan = isnan(a->drive), b_nan = isnan(b->drive);
    if (a_nan != b_nan) return a_nan - b_nan;
    if (!a_nan) {
        if (a->drive > b->drive) return -1;
        if (a->drive < b->drive) return 1;
    }
    return (a->input > b->input) - (a->input < b->input);
}

static int cmp_i32(const void *pa, const void *pb) {
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

static const char *type_label(const char *const *names, int c, char *buf, size_t len) {
    if (names != NULL && names[c] != NULL) return names[c];
    snprintf(buf, len, "%d", c);
    return buf;
}

static int check_odour_params(int n_ff_types, const snn_odour_params *const *odours,
                              const char *const *names, snn_error *err) {
    for (int c = 0; c < n_ff_types; c++) {
        char buf[32];
        const char *name = type_label(names, c, buf, sizeof buf);
        const snn_odour_params *o = odours != NULL ? odours[c] : NULL;
        if (o == NULL)
            return snn_fail(err, SNN_EINPUT,
                            "[odours.%s]: no odour parameters for feedforward type '%s'", name, name);
        if (!isfinite(o->baseline_rate) || o->baseline_rate < 0 || !isfinite(o->modulation_rate) ||
            !(o->modulation_fraction >= 0 && o->modulation_fraction <= 1))
            return snn_fail(err, SNN_EINPUT,
                            "[odours.%s]: expected finite rates, baseline_rate >= 0 and "
                            "modulation_fraction in [0, 1]",
                            name);
    }
    return SNN_OK;
}

int snn_odour_baseline(int64_t n_inputs, const int64_t *ff_type, int n_ff_types,
                       const snn_odour_params *const *odours, const char *const *ff_type_names,
                       double *rates_out, snn_error *err) {
    if (n_inputs < 0 || (n_inputs > 0 && (ff_type == NULL || rates_out == NULL)) || n_ff_types < 0)
        return snn_fail(err, SNN_EINPUT, "odour baseline: bad sizes or missing arrays");
    int rc = check_odour_params(n_ff_types, odours, ff_type_names, err);
    if (rc != SNN_OK) return rc;
    for (int64_t k = 0; k < n_inputs; k++) {
        int64_t c = ff_type[k];
        rates_out[k] = (c >= 0 && c < n_ff_types) ? odours[c]->baseline_rate : 0.0;
    }
    return SNN_OK;
}

/* Distinct non-negative assembly ids, ascending, into a fresh array. */
static int distinct_assemblies(const int32_t *assembly, int64_t n, int32_t **ids_out, int *n_ids_out,
                               snn_error *err) {
    int32_t *ids = snn_calloc((size_t)(n > 0 ? n : 1), sizeof *ids, "assembly ids", err);
    if (ids == NULL) return SNN_ERUN;
    int64_t m = 0;
    for (int64_t j = 0; j < n; j++)
        if (assembly[j] >= 0) ids[m++] = assembly[j];
    qsort(ids, (size_t)m, sizeof *ids, cmp_i32);
    int64_t u = 0;
    for (int64_t i = 0; i < m; i++)
        if (u == 0 || ids[i] != ids[u - 1]) ids[u++] = ids[i];
    if (u == 0) {
        snn_free(ids);
        return snn_fail(err, SNN_EINPUT, "no assemblies found in assembly_ids");
    }
    *ids_out = ids;
    *n_ids_out = (int)u;
    return SNN_OK;
}

/* S[p][k] as the reference sums it (see the header): running float32 sums in ascending neuron order. */
static void assembly_drive(const snn_odour_network *net, const int *pattern_of, int n_patterns,
                           float *drive /* P x N_in */) {
    const int64_t N_in = net->n_inputs;
    memset(drive, 0, (size_t)n_patterns * (size_t)N_in * sizeof *drive);
    /* the weights absent from the sparse rows are zeros, which leave a float32 sum unchanged */
    const snn_sparse *ff = net->ff;
    for (int64_t k = 0; k < N_in; k++)
        for (int64_t e = ff->row[k]; e < ff->row[k + 1]; e++) {
            const int64_t j = ff->col[e];
            if (pattern_of[j] >= 0) drive[(size_t)pattern_of[j] * (size_t)N_in + (size_t)k] += ff->w[e];
        }
}

int snn_odour_patterns(const snn_odour_network *net, double **patterns_out, int32_t **assembly_ids_out,
                       int *n_patterns_out, snn_error *err) {
    if (net == NULL || patterns_out == NULL || assembly_ids_out == NULL || n_patterns_out == NULL)
        return snn_fail(err, SNN_EINPUT, "odour patterns: missing argument");
    const int64_t N = net->n_neurons, N_in = net->n_inputs;
    if (N <= 0 || N_in < 0 || net->n_ff_types < 0 || net->assembly == NULL || net->cell_type == NULL ||
        (N_in > 0 && (net->ff == NULL || net->ff_type == NULL || net->ff->n_rows != N_in || net->ff->n_cols != N)))
        return snn_fail(err, SNN_EINPUT, "odour patterns: bad sizes or missing arrays");

    int rc = check_odour_params(net->n_ff_types, net->odours, net->ff_type_names, err);
    if (rc != SNN_OK) return rc;
    int32_t *ids = NULL;
    int P = 0;
    rc = distinct_assemblies(net->assembly, N, &ids, &P, err);
    if (rc != SNN_OK) return rc;

    double *rates = snn_calloc((size_t)P * (size_t)(N_in > 0 ? N_in : 1), sizeof *rates,
                               "odour patterns", err);
    float *drive = snn_calloc((size_t)P * (size_t)(N_in > 0 ? N_in : 1), sizeof *drive,
                              "assembly drive", err);
    int *pattern_of = snn_calloc((size_t)N, sizeof *pattern_of, "neuron pattern index", err);
    drive_entry *order = snn_calloc((size_t)(N_in > 0 ? N_in : 1), sizeof *order, "odour ranking", err);
    if (rates == NULL || drive == NULL || pattern_of == NULL || order == NULL) {
        rc = SNN_ERUN;
        goto done;
    }

    for (int64_t j = 0; j < N; j++) {
        pattern_of[j] = -1;
        if (net->assembly[j] < 0 || net->cell_type[j] != net->target_type) continue;
        const int32_t *hit = bsearch(&net->assembly[j], ids, (size_t)P, sizeof *ids, cmp_i32);
        pattern_of[j] = (int)(hit - ids);
    }
    assembly_drive(net, pattern_of, P, drive);

    for (int c = 0; c < net->n_ff_types; c++) {
        const snn_odour_params *o = net->odours[c];
        int64_t n = 0;
        for (int64_t k = 0; k < N_in; k++) n += net->ff_type[k] == c;
        if (n == 0) continue;
        const double up = o->baseline_rate + o->modulation_rate;
        const int64_t n_up = (int64_t)((double)n * o->modulation_fraction);
        const int64_t n_down = n - n_up;
        double down = n_down > 0 ? ((double)n * o->baseline_rate - (double)n_up * up) / (double)n_down
                                 : o->baseline_rate;
        /* A negative probability never spikes anyway; clamping keeps the stored rates meaningful, at
         * the price of a population mean above baseline_rate for such parameters. */
        if (down < 0) down = 0;
        for (int p = 0; p < P; p++) {
            const float *s = drive + (size_t)p * (size_t)N_in;
            int64_t m = 0;
            for (int64_t k = 0; k < N_in; k++)
                if (net->ff_type[k] == c) order[m++] = (drive_entry){s[k], k};
            qsort(order, (size_t)m, sizeof *order, cmp_drive_desc);
            double *row = rates + (size_t)p * (size_t)N_in;
            for (int64_t i = 0; i < m; i++) row[order[i].input] = i < n_up ? up : down;
        }
    }

done:
    snn_free(drive);
    snn_free(pattern_of);
    snn_free(order);
    if (rc != SNN_OK) {
        snn_free(rates);
        snn_free(ids);
        return rc;
    }
    *patterns_out = rates;
    *assembly_ids_out = ids;
    *n_patterns_out = P;
    return SNN_OK;
}
