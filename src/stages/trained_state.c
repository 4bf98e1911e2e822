#include "stages/trained_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "model/lif.h"
#include "plot/dashboards.h"
#include "stages/traces.h"

int snn_effective_structure(const snn_structure *s, const snn_network *net, snn_structure *e, snn_error *err) {
    *e = *s;
    /* the same sparse rows (shared with s) with the network's effective weights */
    e->rec.w = malloc((size_t)net->rec.nnz * sizeof(float) + 1);
    e->ff.w = malloc((size_t)net->ff.nnz * sizeof(float) + 1);
    e->sf = malloc(SNN_MAX_TYPES * SNN_MAX_TYPES * sizeof(double));
    e->sf_ff = malloc(SNN_MAX_TYPES * SNN_MAX_TYPES * sizeof(double));
    if (!e->rec.w || !e->ff.w || !e->sf || !e->sf_ff) {
        snn_effective_structure_free(e);
        return snn_fail(err, SNN_ERUN, "out of memory building the effective weights");
    }
    /* the network's own effective weights: exactly what the simulator multiplies with */
    for (int64_t q = 0; q < net->rec.nnz; q++) e->rec.w[q] = (float)net->rec.w_eff[q];
    for (int64_t q = 0; q < net->ff.nnz; q++) e->ff.w[q] = (float)net->ff.w_eff[q];
    for (int a = 0; a < net->n_types; a++)
        for (int b = 0; b < net->n_types; b++) e->sf[a * net->n_types + b] = net->sf[a][b];
    for (int a = 0; a < net->n_ff_types; a++)
        for (int b = 0; b < net->n_types; b++) e->sf_ff[a * net->n_types + b] = net->sf_ff[a][b];
    e->has_scaling_factors = 1;
    e->n_types = net->n_types;
    e->n_ff_types = net->n_ff_types;
    return SNN_OK;
}

void snn_effective_structure_free(snn_structure *e) {
    free(e->rec.w);
    free(e->ff.w);
    free(e->sf);
    free(e->sf_ff);
    e->rec.w = e->ff.w = NULL;
    e->sf = e->sf_ff = NULL;
}

int snn_save_effective_structure(const char *path, const snn_structure *s, const snn_network *net, snn_error *err) {
    snn_structure e;
    int rc = snn_effective_structure(s, net, &e, err);
    if (rc) return rc;
    rc = snn_structure_save(path, &e, err);
    snn_effective_structure_free(&e);
    return rc;
}

int snn_epoch_figures(const char *out, int64_t epoch, const snn_params *p, const snn_structure *s,
                      const snn_network *net, const uint8_t *inputs, int64_t steps, const int32_t *assembly_ids,
                      snn_error *err) {
    char dir[SNN_PATH_MAX], name[64], path[SNN_PATH_MAX], traces[SNN_PATH_MAX];
    snprintf(name, sizeof name, "figures/epoch_%04lld", (long long)epoch);
    int rc = snn_path_join(dir, sizeof dir, out, name, err);
    if (!rc) rc = snn_mkdirs(dir, err);
    if (rc) return rc;
    snn_structure e;
    rc = snn_effective_structure(s, net, &e, err);
    if (rc) return rc;
    snn_state start = {0};
    rc = snn_path_join(path, sizeof path, dir, "connectivity_dashboard.png", err);
    if (!rc) rc = snn_plot_connectivity(path, &e, p, err);
    /* the activity of trial 0 over the same inputs every time, from the initial state, with this
     * epoch's parameters: figures of different epochs differ only by what training changed */
    if (!rc) rc = snn_state_alloc(&start, net, 1, err);
    char tname[64];
    snprintf(tname, sizeof tname, ".dashboard_traces.npz.tmp.%ld", (long)getpid());
    if (!rc) rc = snn_path_join(traces, sizeof traces, dir, tname, err);
    if (!rc) rc = snn_traces_write(traces, net, &start, 0, inputs, steps, p->rec.type_names, assembly_ids, NULL, 0, err);
    if (!rc) rc = snn_path_join(path, sizeof path, dir, "activity_dashboard.png", err);
    if (!rc) rc = snn_plot_activity(path, traces, &e, p, err);
    remove(traces);
    snn_state_free(&start);
    snn_effective_structure_free(&e);
    if (!rc) printf("  Saved plots to %s\n", dir);
    return rc;
}

int snn_save_state_dir(const char *out, const char *name, const snn_params *p, const snn_structure *s,
                       const snn_network *net, const uint8_t *inputs, int64_t steps, const int32_t *assembly_ids,
                       snn_error *err) {
    /* written whole under a temporary name, then renamed: a run killed (or out of disk) halfway never
     * leaves a final_state/ that looks complete */
    char dir[SNN_PATH_MAX], tmp[SNN_PATH_MAX], path[SNN_PATH_MAX];
    int rc = snn_path_join(dir, sizeof dir, out, name, err);
    if (rc) return rc;
    snn_tmp_name(dir, tmp, sizeof tmp);
    snn_remove_tree(tmp);
    rc = snn_mkdirs(tmp, err);
    if (!rc) rc = snn_path_join(path, sizeof path, tmp, "network_structure.npz", err);
    if (!rc) rc = snn_save_effective_structure(path, s, net, err);
    snn_state start = {0};
    if (!rc) rc = snn_state_alloc(&start, net, 1, err);
    if (!rc) rc = snn_path_join(path, sizeof path, tmp, "dashboard_traces.npz", err);
    if (!rc) rc = snn_traces_write(path, net, &start, 0, inputs, steps, p->rec.type_names, assembly_ids, NULL, 0, err);
    snn_state_free(&start);
    if (!rc) rc = snn_plot_state_dir(tmp, p, err);
    if (!rc) rc = snn_replace_dir(tmp, dir, err);
    if (rc) {
        snn_remove_tree(tmp);
        return rc;
    }
    printf("✓ %s: network_structure.npz and a %.1f s run of trial 0 saved to %s\n", name,
           (double)steps * net->dt / 1000.0, dir);
    return SNN_OK;
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
