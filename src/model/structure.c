#include "model/structure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "io/npz.h"

/* ---------------------------------------------------------------- sparse rows */

int snn_sparse_alloc(snn_sparse *m, int64_t rows, int64_t cols, int64_t nnz, const char *what, snn_error *err) {
    memset(m, 0, sizeof *m);
    if (rows < 0 || cols < 0 || nnz < 0 || cols > INT32_MAX || (uint64_t)rows >= SIZE_MAX / 8 ||
        (uint64_t)nnz >= SIZE_MAX / 8)
        return snn_fail(err, SNN_EINPUT, "%s: invalid size (%lld x %lld, %lld synapses)", what, (long long)rows,
                        (long long)cols, (long long)nnz);
    m->n_rows = rows;
    m->n_cols = cols;
    m->nnz = nnz;
    m->row = snn_calloc((size_t)rows + 1, sizeof *m->row, what, err);
    m->col = snn_calloc(nnz ? (size_t)nnz : 1, sizeof *m->col, what, err);
    m->w = snn_calloc(nnz ? (size_t)nnz : 1, sizeof *m->w, what, err);
    if (!m->row || !m->col || !m->w) {
        snn_sparse_free(m);
        return SNN_ERUN;
    }
    return SNN_OK;
}

void snn_sparse_free(snn_sparse *m) {
    free(m->row);
    free(m->col);
    free(m->w);
    memset(m, 0, sizeof *m);
}

int64_t snn_sparse_find(const snn_sparse *m, int64_t i, int64_t j) {
    if (i < 0 || i >= m->n_rows) return -1;
    int64_t lo = m->row[i], hi = m->row[i + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (m->col[mid] < j) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->row[i + 1] && m->col[lo] == j ? lo : -1;
}

/* Sorts row entries by column (stable: insertion sort for short rows, merge sort otherwise). */
typedef struct col_w {
    int32_t col;
    float w;
} col_w;

static void sort_row(col_w *a, int64_t n, col_w *tmp) {
    if (n < 32) {
        for (int64_t i = 1; i < n; i++) {
            col_w x = a[i];
            int64_t k = i;
            while (k > 0 && a[k - 1].col > x.col) {
                a[k] = a[k - 1];
                k--;
            }
            a[k] = x;
        }
        return;
    }
    int64_t h = n / 2;
    sort_row(a, h, tmp);
    sort_row(a + h, n - h, tmp);
    if (a[h - 1].col <= a[h].col) return;
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = a[j].col < a[i].col ? a[j++] : a[i++];
    while (i < h) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, (size_t)n * sizeof *a);
}

/* Sorts each row of m by column; SNN_EINPUT when a row holds a column twice. */
static int sort_rows(snn_sparse *m, const char *what, snn_error *err) {
    int64_t longest = 0;
    int sorted = 1;
    for (int64_t i = 0; i < m->n_rows; i++) {
        int64_t len = m->row[i + 1] - m->row[i];
        if (len > longest) longest = len;
        for (int64_t e = m->row[i] + 1; sorted && e < m->row[i + 1]; e++) sorted = m->col[e - 1] < m->col[e];
    }
    if (!sorted) {
        col_w *buf = snn_calloc((size_t)(2 * longest + 1), sizeof *buf, "sorting sparse rows", err);
        if (buf == NULL) return SNN_ERUN;
        for (int64_t i = 0; i < m->n_rows; i++) {
            int64_t a = m->row[i], len = m->row[i + 1] - a;
            for (int64_t k = 0; k < len; k++) buf[k] = (col_w){m->col[a + k], m->w[a + k]};
            sort_row(buf, len, buf + longest);
            for (int64_t k = 0; k < len; k++) m->col[a + k] = buf[k].col, m->w[a + k] = buf[k].w;
        }
        free(buf);
    }
    for (int64_t i = 0; i < m->n_rows; i++)
        for (int64_t e = m->row[i] + 1; e < m->row[i + 1]; e++)
            if (m->col[e - 1] == m->col[e])
                return snn_fail(err, SNN_EINPUT, "%s: the synapse [%lld, %d] is stored twice", what, (long long)i,
                                m->col[e]);
    return SNN_OK;
}

int snn_sparse_from_edges(snn_sparse *m, int64_t rows, int64_t cols, int64_t nnz, const int32_t *pre,
                          const int32_t *post, const float *w, const char *what, snn_error *err) {
    int rc = snn_sparse_alloc(m, rows, cols, nnz, what, err);
    if (rc) return rc;
    for (int64_t e = 0; e < nnz; e++) {
        if (pre[e] < 0 || pre[e] >= rows || post[e] < 0 || post[e] >= cols) {
            snn_sparse_free(m);
            return snn_fail(err, SNN_EINPUT, "%s: edge %lld (%d -> %d) is outside %lld x %lld", what, (long long)e,
                            pre[e], post[e], (long long)rows, (long long)cols);
        }
        m->row[pre[e] + 1]++;
    }
    for (int64_t i = 0; i < rows; i++) m->row[i + 1] += m->row[i];
    int64_t *next = snn_calloc((size_t)rows + 1, sizeof *next, what, err);
    if (next == NULL) {
        snn_sparse_free(m);
        return SNN_ERUN;
    }
    memcpy(next, m->row, (size_t)rows * sizeof *next);
    for (int64_t e = 0; e < nnz; e++) {
        int64_t k = next[pre[e]]++;
        m->col[k] = post[e];
        m->w[k] = w ? w[e] : 0.0f;
    }
    free(next);
    rc = sort_rows(m, what, err);
    if (rc) snn_sparse_free(m);
    return rc;
}

int snn_sparse_from_dense(snn_sparse *m, int64_t rows, int64_t cols, const uint8_t *conn, const float *w,
                          snn_error *err) {
    int64_t nnz = 0;
    for (int64_t k = 0; k < rows * cols; k++) nnz += conn ? conn[k] != 0 : w[k] != 0;
    int rc = snn_sparse_alloc(m, rows, cols, nnz, "sparse rows", err);
    if (rc) return rc;
    int64_t e = 0;
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < cols; j++) {
            int64_t k = i * cols + j;
            if (conn ? conn[k] != 0 : w[k] != 0) {
                m->col[e] = (int32_t)j;
                m->w[e] = w ? w[k] : 0.0f;
                e++;
            }
        }
        m->row[i + 1] = e;
    }
    return SNN_OK;
}

void snn_sparse_to_dense(const snn_sparse *m, uint8_t *conn, float *w) {
    for (int64_t i = 0; i < m->n_rows; i++)
        for (int64_t e = m->row[i]; e < m->row[i + 1]; e++) {
            size_t k = (size_t)i * (size_t)m->n_cols + (size_t)m->col[e];
            if (conn) conn[k] = 1;
            if (w) w[k] = m->w[e];
        }
}

/* ---------------------------------------------------------------- structures */

int snn_structure_alloc(snn_structure *s, int64_t n, int64_t n_in, int64_t nnz_rec, int64_t nnz_ff,
                        snn_error *err) {
    memset(s, 0, sizeof *s);
    if (n < 0 || n_in < 0 || n > INT32_MAX || n_in > INT32_MAX)
        return snn_fail(err, SNN_EINPUT, "invalid network size N = %lld, N_in = %lld", (long long)n, (long long)n_in);
    s->n = n;
    s->n_in = n_in;
    int rc = snn_sparse_alloc(&s->rec, n, n, nnz_rec, "recurrent synapses", err);
    if (!rc) rc = snn_sparse_alloc(&s->ff, n_in, n, nnz_ff, "feedforward synapses", err);
    if (rc) {
        snn_structure_free(s);
        return rc;
    }
    s->cell_types = snn_calloc(n ? (size_t)n : 1, sizeof *s->cell_types, "cell type indices", err);
    s->ff_cell_types = snn_calloc(n_in ? (size_t)n_in : 1, sizeof *s->ff_cell_types, "feedforward cell type indices", err);
    s->assembly_ids = snn_calloc(n ? (size_t)n : 1, sizeof *s->assembly_ids, "assembly ids", err);
    if (!s->cell_types || !s->ff_cell_types || !s->assembly_ids) {
        snn_structure_free(s);
        return SNN_ERUN;
    }
    for (int64_t i = 0; i < n; i++) s->assembly_ids[i] = -1;
    return SNN_OK;
}

int snn_structure_from_dense(snn_structure *s, int64_t n, int64_t n_in, const float *w, const uint8_t *conn,
                             const float *w_ff, const uint8_t *conn_ff, snn_error *err) {
    int rc = snn_structure_alloc(s, n, n_in, 0, 0, err);
    if (rc) return rc;
    snn_sparse_free(&s->rec);
    snn_sparse_free(&s->ff);
    rc = snn_sparse_from_dense(&s->rec, n, n, conn, w, err);
    if (!rc) rc = snn_sparse_from_dense(&s->ff, n_in, n, conn_ff, w_ff, err);
    if (rc) snn_structure_free(s);
    return rc;
}

void snn_structure_free(snn_structure *s) {
    if (s == NULL) return;
    snn_sparse_free(&s->rec);
    snn_sparse_free(&s->ff);
    free(s->cell_types);
    free(s->ff_cell_types);
    free(s->assembly_ids);
    free(s->sf);
    free(s->sf_ff);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- loading */

/* Appends one entry to a matrix being built row by row (capacity doubles). */
typedef struct grow {
    int64_t cap;
} grow;

static int push_entry(snn_sparse *m, grow *g, int32_t col, float w, const char *what, snn_error *err) {
    if (m->nnz == g->cap) {
        int64_t cap = g->cap ? 2 * g->cap : 1024;
        int32_t *c = realloc(m->col, (size_t)cap * sizeof *c);
        if (c == NULL) return snn_fail(err, SNN_ERUN, "out of memory reading %s (%lld synapses)", what, (long long)cap);
        m->col = c;
        float *x = realloc(m->w, (size_t)cap * sizeof *x);
        if (x == NULL) return snn_fail(err, SNN_ERUN, "out of memory reading %s (%lld synapses)", what, (long long)cap);
        m->w = x;
        g->cap = cap;
    }
    m->col[m->nnz] = col;
    m->w[m->nnz] = w;
    m->nnz++;
    return SNN_OK;
}

/* Elements per block when a dense matrix is streamed: a few MB of whole rows. */
#define DENSE_BLOCK_ELEMS ((int64_t)1 << 21)

/* One weight matrix being read: dense (streams over the weights and the connectivity, if any) or
 * sparse (the CSR arrays, read whole). */
typedef struct mat_in {
    const char *name;      /* the weights key: recurrent_weights, weights, feedforward_weights */
    const char *conn_key;  /* recurrent_connectivity / feedforward_connectivity */
    int sparse;
    int64_t rows, cols;
    snn_npz_stream *ws, *cs;
    snn_array wa, ca;      /* dtype and shape of the dense streams */
} mat_in;

static void mat_close(mat_in *m) {
    snn_npz_stream_close(m->ws);
    snn_npz_stream_close(m->cs);
    m->ws = m->cs = NULL;
}

static int has_sparse(const snn_npz *z, const char *name) {
    char k[128];
    snprintf(k, sizeof k, "%s_indptr", name);
    return snn_npz_has(z, k);
}

/* Opens the weights: dtype float32/float64, two-dimensional; or the sparse shape. Integers are refused
 * on purpose: an integer weight matrix is almost certainly a connectivity mask under the wrong name. */
static int mat_open(snn_npz *z, mat_in *m, snn_error *err) {
    const char *path = snn_npz_path(z);
    m->sparse = has_sparse(z, m->name);
    if (m->sparse && snn_npz_has(z, m->name))
        return snn_fail(err, SNN_EINPUT, "%s: holds '%s' both dense and sparse ('%s_indptr'); keep one", path, m->name,
                        m->name);
    if (m->sparse) {
        char k[128];
        snprintf(k, sizeof k, "%s_format", m->name);
        if (snn_npz_has(z, k)) {
            char fmt[16];
            int rc = snn_npz_read_bytes(z, k, fmt, sizeof fmt, err);
            if (rc) return rc;
            if (strcmp(fmt, "csr"))
                return snn_fail(err, SNN_EINPUT, "%s: array '%s' is '%s'; sparse weights must be CSR (rows = presynaptic)",
                                path, k, fmt);
        }
        snprintf(k, sizeof k, "%s_shape", m->name);
        const int64_t two[1] = {2};
        snn_array sh;
        int rc = snn_npz_read_as(z, k, SNN_I64, 1, two, &sh, err);
        if (rc) return rc;
        m->rows = ((int64_t *)sh.data)[0];
        m->cols = ((int64_t *)sh.data)[1];
        snn_array_free(&sh);
        if (m->rows < 0 || m->cols < 0 || m->rows > INT32_MAX || m->cols > INT32_MAX)
            return snn_fail(err, SNN_EINPUT, "%s: array '%s' = (%lld, %lld) is not a valid matrix shape", path, k,
                            (long long)m->rows, (long long)m->cols);
        if (snn_npz_has(z, m->conn_key))
            return snn_fail(err, SNN_EINPUT,
                            "%s: has '%s' beside sparse '%s'; a sparse matrix's stored entries are the synapses", path,
                            m->conn_key, m->name);
        return SNN_OK;
    }
    m->ws = snn_npz_stream_open(z, m->name, &m->wa, err);
    if (m->ws == NULL) return SNN_EINPUT;
    if (!snn_dtype_is_float(m->wa.dtype))
        return snn_fail(err, SNN_EINPUT, "%s: array '%s': has dtype %s, expected float32 or float64", path, m->name,
                        snn_dtype_name(m->wa.dtype));
    if (m->wa.ndim != 2)
        return snn_fail(err, SNN_EINPUT, "%s: array '%s': expected a 2-d matrix, got %d dimensions", path, m->name,
                        m->wa.ndim);
    m->rows = m->wa.shape[0];
    m->cols = m->wa.shape[1];
    if (m->rows > INT32_MAX || m->cols > INT32_MAX)
        return snn_fail(err, SNN_EINPUT, "%s: array '%s': shape (%lld, %lld) is too large", path, m->name,
                        (long long)m->rows, (long long)m->cols);
    return SNN_OK;
}

/* Connectivity: bool, or integers that are all 0/1 (checked while streaming). */
static int mat_open_conn(snn_npz *z, mat_in *m, snn_error *err) {
    if (m->sparse || !snn_npz_has(z, m->conn_key)) return SNN_OK;
    const char *path = snn_npz_path(z);
    m->cs = snn_npz_stream_open(z, m->conn_key, &m->ca, err);
    if (m->cs == NULL) return SNN_EINPUT;
    if (snn_dtype_is_float(m->ca.dtype))
        return snn_fail(err, SNN_EINPUT, "%s: array '%s': has dtype %s, expected a bool array (or integers 0/1)", path,
                        m->conn_key, snn_dtype_name(m->ca.dtype));
    if (m->ca.ndim != 2)
        return snn_fail(err, SNN_EINPUT, "%s: array '%s': expected shape (*, *), got %d dimensions", path, m->conn_key,
                        m->ca.ndim);
    if (m->ca.shape[0] != m->rows || m->ca.shape[1] != m->cols)
        return snn_fail(err, SNN_EINPUT,
                        "%s: array '%s' has shape (%lld, %lld) but '%s' has shape (%lld, %lld); they must match", path,
                        m->conn_key, (long long)m->ca.shape[0], (long long)m->ca.shape[1], m->name, (long long)m->rows,
                        (long long)m->cols);
    return SNN_OK;
}

static double elem_f(const void *data, snn_dtype t, size_t i) {
    return t == SNN_F32 ? (double)((const float *)data)[i] : ((const double *)data)[i];
}

static int64_t elem_i(const void *data, snn_dtype t, size_t i) {
    int64_t v;
    snn_dtype_convert((const char *)data + i * snn_dtype_size(t), t, &v, SNN_I64, 1);
    return v;
}

/* Streams a dense matrix block by block into out, checking every entry. */
static int mat_read_dense(snn_npz *z, mat_in *m, snn_sparse *out, snn_error *err) {
    const char *path = snn_npz_path(z);
    int rc = snn_sparse_alloc(out, m->rows, m->cols, 0, m->name, err);
    if (rc) return rc;
    const int64_t cols = m->cols;
    int64_t block = cols ? DENSE_BLOCK_ELEMS / cols : 1;
    if (block < 1) block = 1;
    const size_t cap = (size_t)(block * cols);
    void *wb = snn_calloc(cap ? cap : 1, snn_dtype_size(m->wa.dtype), "a block of weights", err);
    void *cb = m->cs ? snn_calloc(cap ? cap : 1, snn_dtype_size(m->ca.dtype), "a block of connectivity", err) : NULL;
    grow g = {0};
    if (wb == NULL || (m->cs && cb == NULL)) {
        free(wb);
        free(cb);
        return SNN_ERUN;
    }
    for (int64_t i0 = 0; i0 < m->rows && !rc; i0 += block) {
        int64_t nr = m->rows - i0 < block ? m->rows - i0 : block;
        size_t cnt = (size_t)(nr * cols);
        rc = snn_npz_stream_read(m->ws, wb, cnt, err);
        if (!rc && m->cs) rc = snn_npz_stream_read(m->cs, cb, cnt, err);
        for (int64_t r = 0; r < nr && !rc; r++) {
            const int64_t i = i0 + r;
            for (int64_t j = 0; j < cols; j++) {
                size_t k = (size_t)(r * cols + j);
                double v = elem_f(wb, m->wa.dtype, k);
                int64_t c = m->cs ? elem_i(cb, m->ca.dtype, k) : (v != 0);
                if (c != 0 && c != 1) {
                    rc = snn_fail(err, SNN_EINPUT, "%s: array '%s': value %lld at [%lld, %lld] is not 0 or 1 (expected a bool mask)",
                                  path, m->conn_key, (long long)c, (long long)i, (long long)j);
                    break;
                }
                if (!isfinite(v) || v < 0) {
                    rc = snn_fail(err, SNN_EINPUT, "%s: array '%s': entry [%lld, %lld] = %g; weights must be finite and >= 0",
                                  path, m->name, (long long)i, (long long)j, v);
                    break;
                }
                if (!c && v != 0) {
                    rc = snn_fail(err, SNN_EINPUT,
                                  "%s: array '%s': entry [%lld, %lld] = %g but '%s'[%lld, %lld] is false (no synapse there)",
                                  path, m->name, (long long)i, (long long)j, v, m->conn_key, (long long)i, (long long)j);
                    break;
                }
                if (c && (rc = push_entry(out, &g, (int32_t)j, (float)v, m->name, err))) break;
            }
            out->row[i + 1] = out->nnz;
        }
    }
    free(wb);
    free(cb);
    if (!rc && out->nnz > 0 && g.cap > out->nnz) { /* give back the doubling's slack */
        int32_t *c = realloc(out->col, (size_t)out->nnz * sizeof *c);
        if (c) out->col = c;
        float *x = realloc(out->w, (size_t)out->nnz * sizeof *x);
        if (x) out->w = x;
    }
    if (!rc) rc = snn_npz_stream_end(m->ws, err);
    if (!rc && m->cs) rc = snn_npz_stream_end(m->cs, err);
    return rc;
}

/* Reads a sparse matrix's CSR arrays and checks them. */
static int mat_read_sparse(snn_npz *z, mat_in *m, snn_sparse *out, snn_error *err) {
    const char *path = snn_npz_path(z);
    char kd[128], ki[128], kp[128];
    snprintf(kd, sizeof kd, "%s_data", m->name);
    snprintf(ki, sizeof ki, "%s_indices", m->name);
    snprintf(kp, sizeof kp, "%s_indptr", m->name);
    const int64_t any[1] = {-1};
    const int64_t rows_p1[1] = {m->rows + 1};
    snn_array d = {0}, ind = {0}, ptr = {0};
    int rc = snn_npz_read_as(z, kp, SNN_I64, 1, rows_p1, &ptr, err);
    if (!rc) rc = snn_npz_read(z, kd, &d, err);
    if (!rc && (!snn_dtype_is_float(d.dtype) || d.ndim != 1))
        rc = snn_fail(err, SNN_EINPUT, "%s: array '%s': has dtype %s and %d dimensions, expected 1-d float32 or float64",
                      path, kd, snn_dtype_name(d.dtype), d.ndim);
    if (!rc) rc = snn_npz_read_as(z, ki, SNN_I64, 1, any, &ind, err);
    const int64_t nnz = d.ndim == 1 ? d.shape[0] : 0;
    if (!rc && ind.shape[0] != nnz)
        rc = snn_fail(err, SNN_EINPUT, "%s: array '%s' has %lld entries but '%s' has %lld", path, ki,
                      (long long)ind.shape[0], kd, (long long)nnz);
    if (!rc) {
        const int64_t *p = ptr.data;
        if (p[0] != 0 || p[m->rows] != nnz)
            rc = snn_fail(err, SNN_EINPUT, "%s: array '%s' must start at 0 and end at the number of entries (%lld)", path,
                          kp, (long long)nnz);
        for (int64_t i = 0; !rc && i < m->rows; i++)
            if (p[i + 1] < p[i])
                rc = snn_fail(err, SNN_EINPUT, "%s: array '%s' decreases at row %lld", path, kp, (long long)i);
    }
    if (!rc) rc = snn_sparse_alloc(out, m->rows, m->cols, nnz, m->name, err);
    if (!rc) {
        memcpy(out->row, ptr.data, (size_t)(m->rows + 1) * sizeof *out->row);
        const int64_t *ix = ind.data;
        for (int64_t i = 0; !rc && i < m->rows; i++)
            for (int64_t e = out->row[i]; e < out->row[i + 1]; e++) {
                double v = elem_f(d.data, d.dtype, (size_t)e);
                if (ix[e] < 0 || ix[e] >= m->cols) {
                    rc = snn_fail(err, SNN_EINPUT, "%s: array '%s': entry %lld (row %lld) = %lld is not a column below %lld",
                                  path, ki, (long long)e, (long long)i, (long long)ix[e], (long long)m->cols);
                    break;
                }
                if (!isfinite(v) || v < 0) {
                    rc = snn_fail(err, SNN_EINPUT, "%s: array '%s': entry %lld ([%lld, %lld]) = %g; weights must be finite and >= 0",
                                  path, kd, (long long)e, (long long)i, (long long)ix[e], v);
                    break;
                }
                out->col[e] = (int32_t)ix[e];
                out->w[e] = (float)v;
            }
    }
    snn_array_free(&d);
    snn_array_free(&ind);
    snn_array_free(&ptr);
    if (!rc) {
        char what[1200];
        snprintf(what, sizeof what, "%s: '%s'", path, m->name);
        rc = sort_rows(out, what, err);
    }
    return rc;
}

static int mat_read(snn_npz *z, mat_in *m, snn_sparse *out, snn_error *err) {
    int rc = m->sparse ? mat_read_sparse(z, m, out, err) : mat_read_dense(z, m, out, err);
    mat_close(m);
    return rc;
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
    mat_in rec, ff;
    snn_array types, ff_types, asm_ids;
} load_arrays;

static void free_arrays(load_arrays *a) {
    mat_close(&a->rec);
    mat_close(&a->ff);
    snn_array_free(&a->types);
    snn_array_free(&a->ff_types);
    snn_array_free(&a->asm_ids);
}

static int load_into(snn_npz *z, int n_types, int n_ff_types, snn_structure *s, load_arrays *a, snn_error *err) {
    const char *path = snn_npz_path(z);
    const char *wkey = snn_npz_has(z, "recurrent_weights") || has_sparse(z, "recurrent_weights") ? "recurrent_weights"
                       : snn_npz_has(z, "weights") || has_sparse(z, "weights")                   ? "weights"
                                                                                                 : NULL;
    if (wkey == NULL)
        return snn_fail(err, SNN_EINPUT, "%s: missing array 'recurrent_weights' (or its old name 'weights')", path);
    a->rec = (mat_in){.name = wkey, .conn_key = "recurrent_connectivity"};
    a->ff = (mat_in){.name = "feedforward_weights", .conn_key = "feedforward_connectivity"};
    if (!snn_npz_has(z, "feedforward_weights") && !has_sparse(z, "feedforward_weights"))
        return snn_fail(err, SNN_EINPUT, "%s: missing array 'feedforward_weights'", path);
    int rc = mat_open(z, &a->rec, err);
    if (rc) return rc;
    if (a->rec.rows != a->rec.cols)
        return snn_fail(err, SNN_EINPUT, "%s: array '%s': expected a square N x N matrix, got shape (%lld, %lld)",
                        path, wkey, (long long)a->rec.rows, (long long)a->rec.cols);
    const int64_t n = a->rec.rows;
    if (n == 0)
        return snn_fail(err, SNN_EINPUT, "%s: array '%s' has shape (0, 0): the network has no neurons (N = 0)", path,
                        wkey);
    if ((rc = mat_open(z, &a->ff, err))) return rc;
    if (a->ff.cols != n)
        return snn_fail(err, SNN_EINPUT,
                        "%s: array 'feedforward_weights' has shape (%lld, %lld), i.e. N = %lld, but '%s' has N = %lld",
                        path, (long long)a->ff.rows, (long long)a->ff.cols, (long long)a->ff.cols, wkey, (long long)n);
    const int64_t n_in = a->ff.rows;

    int64_t max_t, max_ff;
    if ((rc = read_types(z, "cell_type_indices", n, wkey, "N", n_types, "recurrent", &a->types, &max_t, err)))
        return rc;
    if ((rc = read_types(z, "feedforward_cell_type_indices", n_in, "feedforward_weights", "N_in", n_ff_types,
                         "feedforward", &a->ff_types, &max_ff, err)))
        return rc;
    if ((rc = mat_open_conn(z, &a->rec, err)) || (rc = mat_open_conn(z, &a->ff, err))) return rc;
    if ((rc = mat_read(z, &a->rec, &s->rec, err))) return rc;
    if ((rc = mat_read(z, &a->ff, &s->ff, err))) return rc;

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

    /* Everything is valid: move it into s. */
    s->n = n;
    s->n_in = n_in;
    s->n_types = n_types > 0 ? n_types : (int)(max_t + 1);
    s->n_ff_types = n_ff_types > 0 ? n_ff_types : (int)(max_ff + 1);
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
    if (has_sf && n_types <= 0) {
        /* unbounded types: the factors' shape says how many there are (a type may have no neuron) */
        snn_array a;
        const int64_t any[2] = {-1, -1};
        if ((rc = snn_npz_read_as(z, "recurrent_scaling_factors", SNN_F64, 2, any, &a, err))) return rc;
        if (a.shape[0] > s->n_types && a.shape[0] <= 1000000) s->n_types = (int)a.shape[0];
        snn_array_free(&a);
        if ((rc = snn_npz_read_as(z, "feedforward_scaling_factors", SNN_F64, 2, any, &a, err))) return rc;
        if (a.shape[0] > s->n_ff_types && a.shape[0] <= 1000000) s->n_ff_types = (int)a.shape[0];
        snn_array_free(&a);
    }
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

/* One matrix's shape and stored entries from its headers: a sparse matrix's `_shape` (read) and
 * `_data` length; a dense one's shape, its entries bounded by rows x cols. */
static int peek_matrix(snn_npz *z, const char *name, int64_t *rows, int64_t *cols, int64_t *nnz, snn_error *err) {
    *rows = *cols = *nnz = 0;
    snn_array h;
    if (has_sparse(z, name)) {
        char k[128];
        snprintf(k, sizeof k, "%s_shape", name);
        const int64_t two[1] = {2};
        int rc = snn_npz_read_as(z, k, SNN_I64, 1, two, &h, err);
        if (rc) return rc;
        *rows = ((int64_t *)h.data)[0];
        *cols = ((int64_t *)h.data)[1];
        snn_array_free(&h);
        snprintf(k, sizeof k, "%s_data", name);
        if ((rc = snn_npz_peek(z, k, &h, err))) return rc;
        *nnz = h.ndim == 1 ? h.shape[0] : 0;
        return SNN_OK;
    }
    int rc = snn_npz_peek(z, name, &h, err);
    if (rc) return rc;
    /* shapes that are not 2-d are reported by the load, naming the array */
    if (h.ndim == 2) *rows = h.shape[0], *cols = h.shape[1], *nnz = h.shape[0] * h.shape[1];
    return SNN_OK;
}

int snn_structure_peek(const char *path, int64_t *n, int64_t *n_in, int64_t *nnz, int64_t *nnz_ff, snn_error *err) {
    snn_npz *z = snn_npz_open(path, err);
    if (z == NULL) return err && err->code ? err->code : SNN_EINPUT;
    const char *wkey = snn_npz_has(z, "recurrent_weights") || has_sparse(z, "recurrent_weights") ? "recurrent_weights"
                                                                                                 : "weights";
    int64_t r, c, rf, cf;
    int rc = peek_matrix(z, wkey, &r, &c, nnz, err);
    if (!rc) rc = peek_matrix(z, "feedforward_weights", &rf, &cf, nnz_ff, err);
    snn_npz_free(z);
    if (rc) return rc;
    *n = r;
    *n_in = rf;
    return SNN_OK;
}

/* ---------------------------------------------------------------- saving */

uint64_t snn_structure_dense_bytes(const snn_structure *s) {
    return 5 * ((uint64_t)s->n * (uint64_t)s->n + (uint64_t)s->n_in * (uint64_t)s->n);
}

uint64_t snn_structure_sparse_bytes(const snn_structure *s) {
    return 8 * ((uint64_t)s->rec.nnz + (uint64_t)s->ff.nnz) + 8 * ((uint64_t)s->n + (uint64_t)s->n_in + 2);
}

snn_net_format snn_structure_auto_format(const snn_structure *s) {
    uint64_t dense = snn_structure_dense_bytes(s);
    return dense > SNN_DENSE_FILE_LIMIT && snn_structure_sparse_bytes(s) < dense ? SNN_NET_SPARSE : SNN_NET_DENSE;
}

/* The dense matrix of a sparse one, element range by element range (snn_npz_add_generated). */
typedef struct dense_view {
    const snn_sparse *m;
    int conn;  /* 1: the bool connectivity, 0: the float32 weights */
} dense_view;

static void fill_dense(void *ctx, uint64_t first, size_t count, void *buf) {
    const dense_view *v = ctx;
    const snn_sparse *m = v->m;
    memset(buf, 0, count * (v->conn ? 1 : sizeof(float)));
    const uint64_t cols = (uint64_t)m->n_cols, last = first + count;
    if (cols == 0) return;
    for (int64_t i = (int64_t)(first / cols); i < m->n_rows && (uint64_t)i * cols < last; i++) {
        for (int64_t e = m->row[i]; e < m->row[i + 1]; e++) {
            uint64_t k = (uint64_t)i * cols + (uint64_t)m->col[e];
            if (k < first || k >= last) continue;
            if (v->conn) ((uint8_t *)buf)[k - first] = 1;
            else ((float *)buf)[k - first] = m->w[e];
        }
    }
}

static int add_sparse(snn_npz_writer *w, const char *name, const snn_sparse *m, snn_error *err) {
    char k[128];
    const int64_t nnz[1] = {m->nnz}, ptr[1] = {m->n_rows + 1}, two[1] = {2};
    const int64_t shape[2] = {m->n_rows, m->n_cols};
    int rc;
    snprintf(k, sizeof k, "%s_data", name);
    if ((rc = snn_npz_add(w, k, SNN_F32, 1, nnz, m->w, err))) return rc;
    snprintf(k, sizeof k, "%s_indices", name);
    if ((rc = snn_npz_add(w, k, SNN_I32, 1, nnz, m->col, err))) return rc;
    snprintf(k, sizeof k, "%s_indptr", name);
    if ((rc = snn_npz_add(w, k, SNN_I64, 1, ptr, m->row, err))) return rc;
    snprintf(k, sizeof k, "%s_shape", name);
    if ((rc = snn_npz_add(w, k, SNN_I64, 1, two, shape, err))) return rc;
    snprintf(k, sizeof k, "%s_format", name);
    return snn_npz_add_bytes(w, k, "csr", err);
}

int snn_structure_save_as(const char *path, const snn_structure *s, snn_net_format format, snn_error *err) {
    if (s->rec.row == NULL || s->ff.row == NULL || s->cell_types == NULL || s->ff_cell_types == NULL)
        return snn_fail(err, SNN_ERUN, "%s: cannot save an incomplete network structure", path);
    if (s->has_scaling_factors && (s->sf == NULL || s->sf_ff == NULL || s->n_types <= 0 || s->n_ff_types <= 0))
        return snn_fail(err, SNN_ERUN, "%s: scaling factors flagged but missing", path);
    if (format == SNN_NET_AUTO) format = snn_structure_auto_format(s);
    int32_t *ids = snn_calloc(s->n ? (size_t)s->n : 1, sizeof *ids, "assembly ids", err);
    if (ids == NULL) return SNN_ERUN;
    for (int64_t i = 0; i < s->n; i++) ids[i] = s->assembly_ids ? s->assembly_ids[i] : -1;
    int rc = SNN_ERUN;
    snn_npz_writer *w = snn_npz_create(path, 0, err);
    if (w == NULL) goto done;
    /* the views live until snn_npz_close, which is when the dense members are generated */
    dense_view views[4] = {{&s->rec, 0}, {&s->ff, 0}, {&s->rec, 1}, {&s->ff, 1}};
    const int64_t shape_nn[2] = {s->n, s->n}, shape_fn[2] = {s->n_in, s->n}, shape_n[1] = {s->n},
                  shape_in[1] = {s->n_in};
    if (format == SNN_NET_DENSE) {
        if ((rc = snn_npz_add_generated(w, "recurrent_weights", SNN_F32, 2, shape_nn, fill_dense, &views[0], err)) ||
            (rc = snn_npz_add_generated(w, "feedforward_weights", SNN_F32, 2, shape_fn, fill_dense, &views[1], err)) ||
            (rc = snn_npz_add_generated(w, "recurrent_connectivity", SNN_BOOL, 2, shape_nn, fill_dense, &views[2], err)) ||
            (rc = snn_npz_add_generated(w, "feedforward_connectivity", SNN_BOOL, 2, shape_fn, fill_dense, &views[3],
                                        err)))
            goto done;
    } else if ((rc = add_sparse(w, "recurrent_weights", &s->rec, err)) ||
               (rc = add_sparse(w, "feedforward_weights", &s->ff, err))) {
        goto done;
    }
    if ((rc = snn_npz_add(w, "cell_type_indices", SNN_I64, 1, shape_n, s->cell_types, err)) ||
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
    free(ids);
    return rc;
}

int snn_structure_save(const char *path, const snn_structure *s, snn_error *err) {
    return snn_structure_save_as(path, s, SNN_NET_AUTO, err);
}
