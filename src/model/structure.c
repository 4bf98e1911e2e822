#include "model/structure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "io/npz.h"

static int sizes_ok(int64_t a, int64_t b) { return a >= 0 && b >= 0 && (a == 0 || (uint64_t)b <= SIZE_MAX / 8 / (uint64_t)a); }

int snn_structure_alloc(snn_structure *s, int64_t n, int64_t n_in, snn_error *err) {
    memset(s, 0, sizeof *s);
    if (n < 0 || n_in < 0 || !sizes_ok(n, n) || !sizes_ok(n_in, n))
        return snn_fail(err, SNN_EINPUT, "invalid network size N = %lld, N_in = %lld", (long long)n, (long long)n_in);
    s->n = n;
    s->n_in = n_in;
    size_t nn = (size_t)n * (size_t)n, fn = (size_t)n_in * (size_t)n;
    s->w = snn_calloc(nn, sizeof *s->w, "recurrent weights", err);
    s->w_ff = snn_calloc(fn, sizeof *s->w_ff, "feedforward weights", err);
    s->conn = snn_calloc(nn, 1, "recurrent connectivity", err);
    s->conn_ff = snn_calloc(fn, 1, "feedforward connectivity", err);
    s->cell_types = snn_calloc((size_t)n, sizeof *s->cell_types, "cell type indices", err);
    s->ff_cell_types = snn_calloc((size_t)n_in, sizeof *s->ff_cell_types, "feedforward cell type indices", err);
    s->assembly_ids = snn_calloc((size_t)n, sizeof *s->assembly_ids, "assembly ids", err);
    if (!s->w || !s->w_ff || !s->conn || !s->conn_ff || !s->cell_types || !s->ff_cell_types || !s->assembly_ids) {
        snn_structure_free(s);
        return SNN_ERUN;
    }
    for (int64_t i = 0; i < n; i++) s->assembly_ids[i] = -1;
    return SNN_OK;
}

void snn_structure_free(snn_structure *s) {
    if (s == NULL) return;
    free(s->w);
    free(s->w_ff);
    free(s->conn);
    free(s->conn_ff);
    free(s->cell_types);
    free(s->ff_cell_types);
    free(s->assembly_ids);
    free(s->sf);
    free(s->sf_ff);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- loading */

static double fval(const snn_array *a, size_t i) {
    return a->dtype == SNN_F32 ? (double)((const float *)a->data)[i] : ((const double *)a->data)[i];
}

/* Weights: float32 or float64, two-dimensional. Integers are refused on purpose: an integer weight
 * matrix is almost certainly a connectivity mask saved under the wrong name. */
static int read_weights(snn_npz *z, const char *key, snn_array *a, snn_error *err) {
    int rc = snn_npz_read(z, key, a, err);
    if (rc) return rc;
    const char *path = snn_npz_path(z);
    if (!snn_dtype_is_float(a->dtype))
        return snn_fail(err, SNN_EINPUT, "%s: array '%s': has dtype %s, expected float32 or float64", path, key,
                        snn_dtype_name(a->dtype));
    if (a->ndim != 2)
        return snn_fail(err, SNN_EINPUT, "%s: array '%s': expected a 2-d matrix, got %d dimensions", path, key,
                        a->ndim);
    return SNN_OK;
}

/* Connectivity: bool, or integers that are all 0/1 (read_as refuses floats and other values). */
static int read_conn(snn_npz *z, const char *key, const char *wkey, int64_t rows, int64_t cols, snn_array *a,
                     snn_error *err) {
    const int64_t any[2] = {-1, -1};
    int rc = snn_npz_read_as(z, key, SNN_BOOL, 2, any, a, err);
    if (rc) return rc;
    if (a->shape[0] != rows || a->shape[1] != cols)
        return snn_fail(err, SNN_EINPUT,
                        "%s: array '%s' has shape (%lld, %lld) but '%s' has shape (%lld, %lld); they must match",
                        snn_npz_path(z), key, (long long)a->shape[0], (long long)a->shape[1], wkey, (long long)rows,
                        (long long)cols);
    return SNN_OK;
}

static int check_weights(const char *path, const char *key, const snn_array *w, const uint8_t *conn,
                         const char *conn_key, snn_error *err) {
    size_t cols = (size_t)w->shape[1], n = snn_array_count(w);
    for (size_t i = 0; i < n; i++) {
        double v = fval(w, i);
        if (!isfinite(v) || v < 0)
            return snn_fail(err, SNN_EINPUT, "%s: array '%s': entry [%zu, %zu] = %g; weights must be finite and >= 0",
                            path, key, i / cols, i % cols, v);
        if (conn && !conn[i] && v != 0)
            return snn_fail(err, SNN_EINPUT,
                            "%s: array '%s': entry [%zu, %zu] = %g but '%s'[%zu, %zu] is false (no synapse there)",
                            path, key, i / cols, i % cols, v, conn_key, i / cols, i % cols);
    }
    return SNN_OK;
}

/* Takes over a's buffer when it already holds float32, otherwise converts into a new one. */
static float *take_f32(snn_array *a, const char *what, snn_error *err) {
    size_t n = snn_array_count(a);
    if (a->dtype == SNN_F32) {
        float *p = a->data;
        a->data = NULL;
        return p;
    }
    float *p = snn_calloc(n ? n : 1, sizeof *p, what, err);
    if (p) snn_dtype_convert(a->data, a->dtype, p, SNN_F32, n);
    return p;
}

static uint8_t *derive_conn(const float *w, size_t n, const char *what, snn_error *err) {
    uint8_t *c = snn_calloc(n ? n : 1, 1, what, err);
    if (c)
        for (size_t i = 0; i < n; i++) c[i] = w[i] != 0;
    return c;
}

/* Type indices: any integer dtype, one entry per neuron, 0 <= t < n_types when n_types > 0. */
static int read_types(snn_npz *z, const char *key, int64_t len, const char *len_key, const char *len_name,
                      int n_types, const char *kind, snn_array *a, int64_t *max_out, snn_error *err) {
    const int64_t any[1] = {-1};
    const char *path = snn_npz_path(z);
    int rc = snn_npz_read_as(z, key, SNN_I64, 1, any, a, err);
    if (rc) return rc;
    if (a->shape[0] != len)
        return snn_fail(err, SNN_EINPUT, "%s: array '%s' has %lld entries but '%s' has %s = %lld", path, key,
                        (long long)a->shape[0], len_key, len_name, (long long)len);
    const int64_t *t = a->data;
    int64_t mx = -1;
    for (int64_t i = 0; i < len; i++) {
        if (t[i] < 0)
            return snn_fail(err, SNN_EINPUT, "%s: array '%s': entry [%lld] = %lld; type indices must be >= 0", path,
                            key, (long long)i, (long long)t[i]);
        if (n_types > 0 && t[i] >= n_types)
            return snn_fail(err, SNN_EINPUT,
                            "%s: array '%s': entry [%lld] = %lld is out of range: there are %d %s cell types "
                            "(indices 0..%d)",
                            path, key, (long long)i, (long long)t[i], n_types, kind, n_types - 1);
        if (t[i] > mx) mx = t[i];
    }
    if (mx >= 1000000)
        return snn_fail(err, SNN_EINPUT, "%s: array '%s': type index %lld is implausibly large", path, key,
                        (long long)mx);
    *max_out = mx;
    return SNN_OK;
}

static int read_sf(snn_npz *z, const char *key, int64_t rows, int64_t cols, double **out, snn_error *err) {
    const int64_t shape[2] = {rows, cols};
    snn_array a;
    int rc = snn_npz_read_as(z, key, SNN_F64, 2, shape, &a, err);
    if (rc) return rc;
    const double *v = a.data;
    for (size_t i = 0, n = snn_array_count(&a); i < n; i++) {
        /* the weights beside them are effective weights, w x SF, which must be >= 0 */
        if (!isfinite(v[i]) || v[i] < 0) {
            snn_fail(err, SNN_EINPUT, "%s: array '%s': entry [%zu, %zu] = %g; scaling factors must be finite and >= 0",
                     snn_npz_path(z), key, i / (size_t)cols, i % (size_t)cols, v[i]);
            snn_array_free(&a);
            return SNN_EINPUT;
        }
    }
    *out = a.data;
    return SNN_OK;
}

typedef struct load_arrays {
    snn_array w, w_ff, conn, conn_ff, types, ff_types, asm_ids;
} load_arrays;

static void free_arrays(load_arrays *a) {
    snn_array_free(&a->w);
    snn_array_free(&a->w_ff);
    snn_array_free(&a->conn);
    snn_array_free(&a->conn_ff);
    snn_array_free(&a->types);
    snn_array_free(&a->ff_types);
    snn_array_free(&a->asm_ids);
}

static int load_into(snn_npz *z, int n_types, int n_ff_types, snn_structure *s, load_arrays *a, snn_error *err) {
    const char *path = snn_npz_path(z);
    const char *wkey = snn_npz_has(z, "recurrent_weights") ? "recurrent_weights"
                       : snn_npz_has(z, "weights")         ? "weights"
                                                           : NULL;
    if (wkey == NULL)
        return snn_fail(err, SNN_EINPUT, "%s: missing array 'recurrent_weights' (or its old name 'weights')", path);
    int rc = read_weights(z, wkey, &a->w, err);
    if (rc) return rc;
    if (a->w.shape[0] != a->w.shape[1])
        return snn_fail(err, SNN_EINPUT, "%s: array '%s': expected a square N x N matrix, got shape (%lld, %lld)",
                        path, wkey, (long long)a->w.shape[0], (long long)a->w.shape[1]);
    const int64_t n = a->w.shape[0];
    if (n == 0)
        return snn_fail(err, SNN_EINPUT, "%s: array '%s' has shape (0, 0): the network has no neurons (N = 0)", path,
                        wkey);
    if ((rc = read_weights(z, "feedforward_weights", &a->w_ff, err))) return rc;
    if (a->w_ff.shape[1] != n)
        return snn_fail(err, SNN_EINPUT,
                        "%s: array 'feedforward_weights' has shape (%lld, %lld), i.e. N = %lld, but '%s' has N = %lld",
                        path, (long long)a->w_ff.shape[0], (long long)a->w_ff.shape[1], (long long)a->w_ff.shape[1],
                        wkey, (long long)n);
    const int64_t n_in = a->w_ff.shape[0];

    int64_t max_t, max_ff;
    if ((rc = read_types(z, "cell_type_indices", n, wkey, "N", n_types, "recurrent", &a->types, &max_t, err)))
        return rc;
    if ((rc = read_types(z, "feedforward_cell_type_indices", n_in, "feedforward_weights", "N_in", n_ff_types,
                         "feedforward", &a->ff_types, &max_ff, err)))
        return rc;

    int has_conn = snn_npz_has(z, "recurrent_connectivity"), has_conn_ff = snn_npz_has(z, "feedforward_connectivity");
    if (has_conn && (rc = read_conn(z, "recurrent_connectivity", wkey, n, n, &a->conn, err))) return rc;
    if (has_conn_ff && (rc = read_conn(z, "feedforward_connectivity", "feedforward_weights", n_in, n, &a->conn_ff, err)))
        return rc;
    if ((rc = check_weights(path, wkey, &a->w, has_conn ? a->conn.data : NULL, "recurrent_connectivity", err)))
        return rc;
    if ((rc = check_weights(path, "feedforward_weights", &a->w_ff, has_conn_ff ? a->conn_ff.data : NULL,
                            "feedforward_connectivity", err)))
        return rc;

    if (snn_npz_has(z, "assembly_ids")) {
        const int64_t any[1] = {-1};
        if ((rc = snn_npz_read_as(z, "assembly_ids", SNN_I32, 1, any, &a->asm_ids, err))) return rc;
        if (a->asm_ids.shape[0] != n)
            return snn_fail(err, SNN_EINPUT, "%s: array 'assembly_ids' has %lld entries but '%s' has N = %lld", path,
                            (long long)a->asm_ids.shape[0], wkey, (long long)n);
        const int32_t *ids = a->asm_ids.data;
        for (int64_t i = 0; i < n; i++)
            if (ids[i] < -1)
                return snn_fail(err, SNN_EINPUT,
                                "%s: array 'assembly_ids': entry [%lld] = %d; ids must be >= 0, or -1 for none", path,
                                (long long)i, ids[i]);
    }

    /* Everything is valid: move it into s (allocating only what cannot be taken over). */
    s->n = n;
    s->n_in = n_in;
    s->n_types = n_types > 0 ? n_types : (int)(max_t + 1);
    s->n_ff_types = n_ff_types > 0 ? n_ff_types : (int)(max_ff + 1);
    if (!(s->w = take_f32(&a->w, "recurrent weights", err))) return SNN_ERUN;
    if (!(s->w_ff = take_f32(&a->w_ff, "feedforward weights", err))) return SNN_ERUN;
    if (has_conn) {
        s->conn = a->conn.data;
        a->conn.data = NULL;
    } else if (!(s->conn = derive_conn(s->w, (size_t)n * (size_t)n, "recurrent connectivity", err))) {
        return SNN_ERUN;
    }
    if (has_conn_ff) {
        s->conn_ff = a->conn_ff.data;
        a->conn_ff.data = NULL;
    } else if (!(s->conn_ff = derive_conn(s->w_ff, (size_t)n_in * (size_t)n, "feedforward connectivity", err))) {
        return SNN_ERUN;
    }
    s->cell_types = a->types.data;
    a->types.data = NULL;
    s->ff_cell_types = a->ff_types.data;
    a->ff_types.data = NULL;
    if (a->asm_ids.data) {
        s->assembly_ids = a->asm_ids.data;
        a->asm_ids.data = NULL;
    } else {
        if (!(s->assembly_ids = snn_calloc(n ? (size_t)n : 1, sizeof *s->assembly_ids, "assembly ids", err)))
            return SNN_ERUN;
        for (int64_t i = 0; i < n; i++) s->assembly_ids[i] = -1;
    }

    int has_sf = snn_npz_has(z, "recurrent_scaling_factors"), has_sf_ff = snn_npz_has(z, "feedforward_scaling_factors");
    if (has_sf != has_sf_ff)
        return snn_fail(err, SNN_EINPUT, "%s: has '%s' but not '%s'; scaling factors come in pairs", path,
                        has_sf ? "recurrent_scaling_factors" : "feedforward_scaling_factors",
                        has_sf ? "feedforward_scaling_factors" : "recurrent_scaling_factors");
    if (has_sf) {
        if ((rc = read_sf(z, "recurrent_scaling_factors", s->n_types, s->n_types, &s->sf, err))) return rc;
        if ((rc = read_sf(z, "feedforward_scaling_factors", s->n_ff_types, s->n_types, &s->sf_ff, err))) return rc;
        s->has_scaling_factors = 1;
    }
    return SNN_OK;
}

int snn_structure_load(const char *path, int n_types, int n_ff_types, snn_structure *s, snn_error *err) {
    memset(s, 0, sizeof *s);
    snn_npz *z = snn_npz_open(path, err);
    if (z == NULL) return err && err->code ? err->code : SNN_EINPUT;
    load_arrays a;
    memset(&a, 0, sizeof a);
    int rc = load_into(z, n_types, n_ff_types, s, &a, err);
    free_arrays(&a);
    snn_npz_free(z);
    if (rc) snn_structure_free(s);
    return rc;
}

int snn_structure_peek(const char *path, int64_t *n, int64_t *n_in, snn_error *err) {
    snn_npz *z = snn_npz_open(path, err);
    if (z == NULL) return err && err->code ? err->code : SNN_EINPUT;
    const char *wkey = snn_npz_has(z, "recurrent_weights") ? "recurrent_weights" : "weights";
    snn_array w, wf;
    int rc = snn_npz_peek(z, wkey, &w, err);
    if (!rc) rc = snn_npz_peek(z, "feedforward_weights", &wf, err);
    snn_npz_free(z);
    if (rc) return rc;
    /* shapes that are not N x N and N_in x N are reported by the load, naming the array */
    *n = w.ndim == 2 ? w.shape[0] : 0;
    *n_in = wf.ndim == 2 ? wf.shape[0] : 0;
    return SNN_OK;
}

/* ---------------------------------------------------------------- saving */

int snn_structure_save(const char *path, const snn_structure *s, snn_error *err) {
    if (s->w == NULL || s->w_ff == NULL || s->cell_types == NULL || s->ff_cell_types == NULL)
        return snn_fail(err, SNN_ERUN, "%s: cannot save an incomplete network structure", path);
    if (s->has_scaling_factors && (s->sf == NULL || s->sf_ff == NULL || s->n_types <= 0 || s->n_ff_types <= 0))
        return snn_fail(err, SNN_ERUN, "%s: scaling factors flagged but missing", path);
    const size_t nn = (size_t)s->n * (size_t)s->n, fn = (size_t)s->n_in * (size_t)s->n;
    /* numpy bools must be exactly 0/1 bytes; derive or normalise the masks and ids into scratch space */
    uint8_t *conn = snn_calloc(nn ? nn : 1, 1, "recurrent connectivity", err);
    uint8_t *conn_ff = snn_calloc(fn ? fn : 1, 1, "feedforward connectivity", err);
    int32_t *ids = snn_calloc(s->n ? (size_t)s->n : 1, sizeof *ids, "assembly ids", err);
    int rc = SNN_ERUN;
    snn_npz_writer *w = NULL;
    if (conn == NULL || conn_ff == NULL || ids == NULL) goto done;
    for (size_t i = 0; i < nn; i++) conn[i] = s->conn ? s->conn[i] != 0 : s->w[i] != 0;
    for (size_t i = 0; i < fn; i++) conn_ff[i] = s->conn_ff ? s->conn_ff[i] != 0 : s->w_ff[i] != 0;
    for (int64_t i = 0; i < s->n; i++) ids[i] = s->assembly_ids ? s->assembly_ids[i] : -1;

    w = snn_npz_create(path, 0, err);
    if (w == NULL) goto done;
    const int64_t shape_nn[2] = {s->n, s->n}, shape_fn[2] = {s->n_in, s->n}, shape_n[1] = {s->n},
                  shape_in[1] = {s->n_in};
    if ((rc = snn_npz_add(w, "recurrent_weights", SNN_F32, 2, shape_nn, s->w, err)) ||
        (rc = snn_npz_add(w, "feedforward_weights", SNN_F32, 2, shape_fn, s->w_ff, err)) ||
        (rc = snn_npz_add(w, "recurrent_connectivity", SNN_BOOL, 2, shape_nn, conn, err)) ||
        (rc = snn_npz_add(w, "feedforward_connectivity", SNN_BOOL, 2, shape_fn, conn_ff, err)) ||
        (rc = snn_npz_add(w, "cell_type_indices", SNN_I64, 1, shape_n, s->cell_types, err)) ||
        (rc = snn_npz_add(w, "feedforward_cell_type_indices", SNN_I64, 1, shape_in, s->ff_cell_types, err)) ||
        (rc = snn_npz_add(w, "assembly_ids", SNN_I32, 1, shape_n, ids, err)))
        goto done;
    if (s->has_scaling_factors) {
        const int64_t shape_sf[2] = {s->n_types, s->n_types}, shape_sf_ff[2] = {s->n_ff_types, s->n_types};
        if ((rc = snn_npz_add(w, "recurrent_scaling_factors", SNN_F64, 2, shape_sf, s->sf, err)) ||
            (rc = snn_npz_add(w, "feedforward_scaling_factors", SNN_F64, 2, shape_sf_ff, s->sf_ff, err)))
            goto done;
    }
    rc = snn_npz_close(w, err);
    w = NULL;
done:
    if (w) snn_npz_abort(w);
    free(conn);
    free(conn_ff);
    free(ids);
    return rc;
}
