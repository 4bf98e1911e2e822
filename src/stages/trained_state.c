#include "stages/trained_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "model/lif.h"
#include "stages/traces.h"

int snn_save_effective_structure(const char *path, const snn_structure *s, const snn_network *net, snn_error *err) {
    snn_structure e = *s;
    int64_t n = s->n, n_in = s->n_in;
    e.w = malloc((size_t)(n * n) * sizeof(float));
    e.w_ff = malloc((size_t)(n_in * n + 1) * sizeof(float));
    double sf[SNN_MAX_TYPES * SNN_MAX_TYPES], sf_ff[SNN_MAX_TYPES * SNN_MAX_TYPES];
    if (!e.w || !e.w_ff) {
        free(e.w);
        free(e.w_ff);
        return snn_fail(err, SNN_ERUN, "out of memory saving %s", path);
    }
    memset(e.w, 0, (size_t)(n * n) * sizeof(float));
    memset(e.w_ff, 0, (size_t)(n_in * n) * sizeof(float));
    /* the network's own effective weights: exactly what the simulator multiplies with */
    for (int64_t i = 0; i < n; i++)
        for (int64_t q = net->rec.row[i]; q < net->rec.row[i + 1]; q++)
            e.w[i * n + net->rec.col[q]] = (float)net->rec.w_eff[q];
    for (int64_t m = 0; m < n_in; m++)
        for (int64_t q = net->ff.row[m]; q < net->ff.row[m + 1]; q++)
            e.w_ff[m * n + net->ff.col[q]] = (float)net->ff.w_eff[q];
    for (int a = 0; a < net->n_types; a++)
        for (int b = 0; b < net->n_types; b++) sf[a * net->n_types + b] = net->sf[a][b];
    for (int a = 0; a < net->n_ff_types; a++)
        for (int b = 0; b < net->n_types; b++) sf_ff[a * net->n_types + b] = net->sf_ff[a][b];
    e.has_scaling_factors = 1;
    e.n_types = net->n_types;
    e.n_ff_types = net->n_ff_types;
    e.sf = sf;
    e.sf_ff = sf_ff;
    int rc = snn_structure_save(path, &e, err);
    free(e.w);
    free(e.w_ff);
    return rc;
}

int snn_save_state_dir(const char *out, const char *name, const snn_params *p, const snn_structure *s,
                       const snn_network *net, const uint8_t *inputs, int64_t steps, const int32_t *assembly_ids,
                       snn_error *err) {
    char dir[SNN_PATH_MAX], path[SNN_PATH_MAX];
    int rc = snn_path_join(dir, sizeof dir, out, name, err);
    if (!rc) rc = snn_mkdirs(dir, err);
    if (!rc) rc = snn_path_join(path, sizeof path, dir, "network_structure.npz", err);
    if (!rc) rc = snn_save_effective_structure(path, s, net, err);
    if (rc) return rc;
    snn_state start = {0};
    rc = snn_state_alloc(&start, net, 1, err);
    if (!rc) rc = snn_path_join(path, sizeof path, dir, "dashboard_traces.npz", err);
    if (!rc) rc = snn_traces_write(path, net, &start, 0, inputs, steps, p->rec.type_names, assembly_ids, NULL, 0, err);
    if (!rc)
        printf("✓ %s: network_structure.npz and a %.1f s run of trial 0 saved to %s\n", name,
               (double)steps * net->dt / 1000.0, dir);
    snn_state_free(&start);
    return rc;
}

void snn_print_matrix(const char *title, const double *m, int rows, int cols) {
    printf("%s\n[", title);
    for (int a = 0; a < rows; a++) {
        printf("%s[", a ? " " : "");
        for (int b = 0; b < cols; b++) printf("%s%.8f", b ? " " : "", m[a * cols + b]);
        printf("]%s", a + 1 < rows ? "\n" : "");
    }
    printf("]\n");
}
