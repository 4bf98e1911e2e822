#include "model/network.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

double snn_norm_peak(double tau_rise, double tau_decay) {
    double rr = tau_rise / tau_decay;
    return pow(rr, rr / (1.0 - rr)) - pow(rr, 1.0 / (1.0 - rr));
}

static void csr_free(snn_csr *m) {
    snn_free(m->row);
    snn_free(m->col);
    snn_free(m->w);
    snn_free(m->w_eff);
    memset(m, 0, sizeof *m);
}

/* The structure's sparse rows -> the simulator's (the same entries, plus room for w_eff). */
static int csr_from_sparse(snn_csr *m, const snn_sparse *src, const char *what, snn_error *err) {
    memset(m, 0, sizeof *m);
    m->n_rows = src->n_rows;
    m->nnz = src->nnz;
    m->row = snn_calloc((size_t)src->n_rows + 1, sizeof *m->row, what, err);
    m->col = snn_calloc((size_t)src->nnz, sizeof *m->col, what, err);
    m->w = snn_calloc((size_t)src->nnz, sizeof *m->w, what, err);
    m->w_eff = snn_calloc_aligned((size_t)src->nnz, sizeof *m->w_eff, what, err);
    if (!m->row || !m->col || !m->w || !m->w_eff) {
        csr_free(m);
        return SNN_ERUN;
    }
    memcpy(m->row, src->row, ((size_t)src->n_rows + 1) * sizeof *m->row);
    if (src->nnz) {
        memcpy(m->col, src->col, (size_t)src->nnz * sizeof *m->col);
        memcpy(m->w, src->w, (size_t)src->nnz * sizeof *m->w);
    }
    return SNN_OK;
}

/* Returns whether every effective weight is >= 0. */
static int refresh_eff(snn_csr *m, const int32_t *src_type, const int32_t *dst_type,
                       const double sf[SNN_MAX_TYPES][SNN_MAX_TYPES]) {
    int nonneg = 1;
    for (int64_t i = 0; i < m->n_rows; i++) {
        const double *row_sf = sf[src_type[i]];
        for (int64_t e = m->row[i]; e < m->row[i + 1]; e++) {
            m->w_eff[e] = (snn_real)((double)m->w[e] * row_sf[dst_type[m->col[e]]]);
            nonneg &= m->w_eff[e] >= 0;
        }
    }
    return nonneg;
}

void snn_network_set_scaling(snn_network *net, const double *sf, const double *sf_ff) {
    if (sf)
        for (int a = 0; a < net->n_types; a++)
            for (int b = 0; b < net->n_types; b++) net->sf[a][b] = sf[a * net->n_types + b];
    if (sf_ff)
        for (int a = 0; a < net->n_ff_types; a++)
            for (int b = 0; b < net->n_types; b++) net->sf_ff[a][b] = sf_ff[a * net->n_types + b];
    int nonneg = refresh_eff(&net->rec, net->type, net->type, net->sf);
    nonneg &= refresh_eff(&net->ff, net->ff_type, net->type, net->sf_ff);
    net->w_nonneg = nonneg;
}

static int add_columns(snn_network *net, const snn_layer_params *layer, int group_offset, snn_error *err) {
    for (int q = 0; q < layer->n_synapses; q++) {
        const snn_synapse_param *sp = &layer->synapses[q];
        int s = net->n_cols;
        if (s >= SNN_MAX_COLUMNS)
            return snn_fail(err, SNN_EINPUT, "too many synapse types (at most %d)", SNN_MAX_COLUMNS);
        if (!(sp->tau_rise > 0) || !(sp->tau_decay > 0) || sp->tau_rise == sp->tau_decay)
            return snn_fail(err, SNN_EINPUT, "synapse '%s': tau_rise and tau_decay must be positive and differ",
                            sp->name);
        double np = snn_norm_peak(sp->tau_rise, sp->tau_decay);
        int k = group_offset + sp->owner;
        net->e_syn[s] = (snn_real)sp->E_syn;
        net->alpha[0][s] = (snn_real)exp(-net->dt / sp->tau_rise);
        net->alpha[1][s] = (snn_real)exp(-net->dt / sp->tau_decay);
        net->g_scale[0][s] = (snn_real)(-sp->g_bar / np);
        net->g_scale[1][s] = (snn_real)(sp->g_bar / np);
        snprintf(net->col_name[s], SNN_NAME_MAX, "%s", sp->name);
        net->col_group[s] = k;
        net->group_cols[k][net->group_ncols[k]++] = s;
        net->n_cols++;
    }
    return SNN_OK;
}

int snn_network_build(snn_network *net, const snn_layer_params *rec, const snn_layer_params *ff,
                      const snn_structure *s, double dt, snn_error *err) {
    memset(net, 0, sizeof *net);
    if (!(dt > 0)) return snn_fail(err, SNN_EINPUT, "dt must be > 0 (got %g)", dt);
    net->n = s->n;
    net->n_in = s->n_in;
    net->n_types = rec->n_types;
    net->n_ff_types = ff->n_types;
    net->n_groups = rec->n_types + ff->n_types;
    net->dt = dt;
    int64_t n = s->n, n_in = s->n_in;
    for (int64_t j = 0; j < n; j++)
        if (s->cell_types[j] < 0 || s->cell_types[j] >= rec->n_types)
            return snn_fail(err, SNN_EINPUT, "cell_type_indices[%lld] = %lld is not a recurrent cell type (0..%d)",
                            (long long)j, (long long)s->cell_types[j], rec->n_types - 1);
    for (int64_t m = 0; m < n_in; m++)
        if (s->ff_cell_types[m] < 0 || s->ff_cell_types[m] >= ff->n_types)
            return snn_fail(err, SNN_EINPUT,
                            "feedforward_cell_type_indices[%lld] = %lld is not a feedforward cell type (0..%d)",
                            (long long)m, (long long)s->ff_cell_types[m], ff->n_types - 1);

    int rc = add_columns(net, rec, 0, err);
    if (rc) return rc;
    net->n_cols_rec = net->n_cols;
    rc = add_columns(net, ff, rec->n_types, err);
    if (rc) return rc;

    int ok = 1;
    net->type = snn_calloc((size_t)n, sizeof *net->type, "cell types", err);
    net->ff_type = snn_calloc((size_t)(n_in ? n_in : 1), sizeof *net->ff_type, "input types", err);
    net->theta = snn_calloc_aligned((size_t)n, sizeof(snn_real), "thresholds", err);
    net->u_reset = snn_calloc_aligned((size_t)n, sizeof(snn_real), "reset potentials", err);
    net->e_l = snn_calloc_aligned((size_t)n, sizeof(snn_real), "leak reversal potentials", err);
    net->leak_factor = snn_calloc_aligned((size_t)n, sizeof(snn_real), "leak factors", err);
    net->dt_over_c = snn_calloc_aligned((size_t)n, sizeof(snn_real), "capacitances", err);
    net->c_over_dt = snn_calloc_aligned((size_t)n, sizeof(snn_real), "capacitances", err);
    net->ref_steps = snn_calloc_aligned((size_t)n, sizeof(int32_t), "refractory periods", err);
    net->theta_d = snn_calloc_aligned((size_t)n, sizeof(double), "thresholds", err);
    net->u_reset_d = snn_calloc_aligned((size_t)n, sizeof(double), "reset potentials", err);
    net->e_l_d = snn_calloc_aligned((size_t)n, sizeof(double), "leak reversal potentials", err);
    net->leak_d = snn_calloc_aligned((size_t)n, sizeof(double), "leak factors", err);
    ok = net->type && net->ff_type && net->theta && net->u_reset && net->e_l && net->leak_factor &&
         net->dt_over_c && net->c_over_dt && net->ref_steps && net->theta_d && net->u_reset_d && net->e_l_d &&
         net->leak_d;
    if (!ok) {
        snn_network_free(net);
        return SNN_ERUN;
    }
    for (int64_t j = 0; j < n; j++) {
        int t = (int)s->cell_types[j];
        const snn_physiology *ph = &rec->physiology[t];
        double c_m = ph->tau_mem * ph->g_L;
        net->type[j] = t;
        net->theta[j] = (snn_real)ph->theta;
        net->u_reset[j] = (snn_real)ph->U_reset;
        net->e_l[j] = (snn_real)ph->E_L;
        net->leak_factor[j] = (snn_real)(1.0 - exp(-dt / ph->tau_mem));
        net->dt_over_c[j] = (snn_real)(dt / c_m);
        net->c_over_dt[j] = (snn_real)(c_m / dt);
        net->ref_steps[j] = (int32_t)lround(ph->tau_ref / dt);
        net->theta_d[j] = (double)net->theta[j];
        net->u_reset_d[j] = (double)net->u_reset[j];
        net->e_l_d[j] = (double)net->e_l[j];
        net->leak_d[j] = (double)net->leak_factor[j];
        if (net->ref_steps[j] > 0) net->refractory_in_force = 1;
    }
    for (int64_t m = 0; m < n_in; m++) net->ff_type[m] = (int32_t)s->ff_cell_types[m];

    rc = csr_from_sparse(&net->rec, &s->rec, "recurrent synapses", err);
    if (!rc) rc = csr_from_sparse(&net->ff, &s->ff, "feedforward synapses", err);
    if (rc) {
        snn_network_free(net);
        return rc;
    }
    for (int a = 0; a < SNN_MAX_TYPES; a++)
        for (int b = 0; b < SNN_MAX_TYPES; b++) net->sf[a][b] = net->sf_ff[a][b] = 1.0;
    snn_network_set_scaling(net, NULL, NULL);
    return SNN_OK;
}

void snn_network_free(snn_network *net) {
    snn_free(net->type);
    snn_free(net->ff_type);
    snn_free(net->theta);
    snn_free(net->u_reset);
    snn_free(net->e_l);
    snn_free(net->leak_factor);
    snn_free(net->dt_over_c);
    snn_free(net->c_over_dt);
    snn_free(net->ref_steps);
    snn_free(net->theta_d);
    snn_free(net->u_reset_d);
    snn_free(net->e_l_d);
    snn_free(net->leak_d);
    csr_free(&net->rec);
    csr_free(&net->ff);
    memset(net, 0, sizeof *net);
}
