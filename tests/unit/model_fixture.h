/* Loading the model fixtures written by tools/make_fixtures.py (shared by the model tests). */
#ifndef SNNFIT_TEST_MODEL_FIXTURE_H
#define SNNFIT_TEST_MODEL_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npz.h"
#include "model/structure.h"
#include "testutil.h"

typedef struct fixture {
    snn_layer_params rec, ff;
    snn_structure s;
    double dt;
    int64_t B, T, n, n_in, v_stride, n_vsteps;
    uint8_t *inputs, *spikes;
    float *voltages, *final_g;
    double *final_v;
} fixture;

static void read_or_fail(snn_npz *z, const char *key, snn_dtype dt, snn_array *a) {
    snn_error err = {0};
    int rc = snn_npz_read(z, key, a, &err);
    if (rc) fail_msg("%s", err.msg);
    if (a->dtype != dt) {
        snn_array b = *a;
        b.dtype = dt;
        b.data = malloc(snn_array_count(a) * snn_dtype_size(dt) + 1);
        snn_dtype_convert(a->data, a->dtype, b.data, dt, snn_array_count(a));
        snn_array_free(a);
        *a = b;
    }
}

/* The network part of a fixture (dt, physiology, synapses, weights, types). */
static void load_network_fixture(snn_npz *z, fixture *f) {
    memset(f, 0, sizeof *f);
    snn_error err = {0};
    snn_array a;
    read_or_fail(z, "dt", SNN_F64, &a);
    f->dt = *(double *)a.data;
    snn_array_free(&a);
    snn_array phys, syn_rec, syn_ff, ct, fft, w, conn, wff, connff;
    read_or_fail(z, "physiology", SNN_F64, &phys);
    read_or_fail(z, "syn_rec", SNN_F64, &syn_rec);
    read_or_fail(z, "syn_ff", SNN_F64, &syn_ff);
    read_or_fail(z, "cell_types", SNN_I64, &ct);
    read_or_fail(z, "ff_types", SNN_I64, &fft);
    read_or_fail(z, "W", SNN_F32, &w);
    read_or_fail(z, "conn", SNN_BOOL, &conn);
    read_or_fail(z, "W_ff", SNN_F32, &wff);
    read_or_fail(z, "conn_ff", SNN_BOOL, &connff);
    f->n = w.shape[0];
    f->n_in = wff.shape[0];
    assert_int_equal(snn_structure_from_dense(&f->s, f->n, f->n_in, w.data, conn.data, wff.data, connff.data, &err),
                     SNN_OK);
    memcpy(f->s.cell_types, ct.data, (size_t)f->n * sizeof(int64_t));
    memcpy(f->s.ff_cell_types, fft.data, (size_t)f->n_in * sizeof(int64_t));

    const double *ph = phys.data;
    f->rec.n_types = (int)phys.shape[0];
    for (int t = 0; t < f->rec.n_types; t++) {
        snprintf(f->rec.type_names[t], SNN_NAME_MAX, "type%d", t);
        snn_physiology *p = &f->rec.physiology[t];
        p->tau_mem = ph[6 * t + 0];
        p->theta = ph[6 * t + 1];
        p->U_reset = ph[6 * t + 2];
        p->E_L = ph[6 * t + 3];
        p->g_L = ph[6 * t + 4];
        p->tau_ref = ph[6 * t + 5];
    }
    f->ff.n_types = 1;
    snn_array *syns[2] = {&syn_rec, &syn_ff};
    snn_layer_params *layers[2] = {&f->rec, &f->ff};
    for (int l = 0; l < 2; l++) {
        const double *sp = syns[l]->data;
        layers[l]->n_synapses = (int)syns[l]->shape[0];
        for (int q = 0; q < layers[l]->n_synapses; q++) {
            snn_synapse_param *y = &layers[l]->synapses[q];
            snprintf(y->name, SNN_NAME_MAX, "syn%d", q);
            y->owner = (int)sp[5 * q + 0];
            y->tau_rise = sp[5 * q + 1];
            y->tau_decay = sp[5 * q + 2];
            y->E_syn = sp[5 * q + 3];
            y->g_bar = sp[5 * q + 4];
        }
    }
    snn_array *tmp[] = {&phys, &syn_rec, &syn_ff, &ct, &fft, &w, &conn, &wff, &connff};
    for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++) snn_array_free(tmp[i]);
}

/* The reference gradients of a gradient fixture: with respect to the factors (sf, sf_ff; returns 1) or,
 * in a weights case, to every synapse (w, w_ff with their lengths; returns 0). The others stay as they
 * are. */
static __attribute__((unused)) int read_ref_grads(snn_npz *z, double **sf, double **sf_ff, double **w, int64_t *n_w,
                                                  double **w_ff, int64_t *n_w_ff) {
    snn_array a;
    if (snn_npz_has(z, "grad_sf")) {
        read_or_fail(z, "grad_sf", SNN_F64, &a);
        *sf = a.data;
        read_or_fail(z, "grad_sf_ff", SNN_F64, &a);
        *sf_ff = a.data;
        return 1;
    }
    read_or_fail(z, "grad_w", SNN_F64, &a);
    *w = a.data;
    *n_w = a.shape[0];
    read_or_fail(z, "grad_w_ff", SNN_F64, &a);
    *w_ff = a.data;
    *n_w_ff = a.shape[0];
    return 0;
}

/* max |x - y| / max |y| over a vector */
static __attribute__((unused)) double rel_err(const double *x, const double *y, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num = fmax(num, fabs(x[i] - y[i]));
        den = fmax(den, fabs(y[i]));
    }
    return den > 0 ? num / den : num;
}

/* A forward fixture: the network plus inputs, spikes, strided voltages and the final state. */
static __attribute__((unused)) void load_fixture(const char *name, fixture *f) {
    snn_error err = {0};
    snn_npz *z = snn_npz_open(tu_src(name), &err);
    if (!z) fail_msg("%s", err.msg);
    load_network_fixture(z, f);
    snn_array in, spk, volt, fv, fg, vs;
    read_or_fail(z, "inputs", SNN_BOOL, &in);
    read_or_fail(z, "spikes", SNN_BOOL, &spk);
    read_or_fail(z, "voltages", SNN_F32, &volt);
    read_or_fail(z, "final_v", SNN_F64, &fv);
    read_or_fail(z, "final_g", SNN_F32, &fg);
    read_or_fail(z, "v_stride", SNN_I64, &vs);
    f->B = in.shape[0];
    f->T = in.shape[1];
    f->v_stride = *(int64_t *)vs.data;
    f->n_vsteps = volt.shape[1];
    f->inputs = in.data;
    f->spikes = spk.data;
    f->voltages = volt.data;
    f->final_v = fv.data;
    f->final_g = fg.data;
    snn_array_free(&vs);
    snn_npz_free(z);
}

static __attribute__((unused)) void free_fixture(fixture *f) {
    snn_structure_free(&f->s);
    free(f->inputs);
    free(f->spikes);
    free(f->voltages);
    free(f->final_v);
    free(f->final_g);
}

#endif
