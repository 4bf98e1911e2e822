#include "model/connectome.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* ---------------------------------------------------------------------------------------------- */
/* scratch                                                                                          */

void snn_graph_work_free(snn_graph_work *w) {
    if (w == NULL) return;
    free(w->is);
    free(w->it);
    free(w->a);
    free(w->b);
    free(w->out);
    free(w->in);
    free(w->bad);
    free(w->hkeys);
    free(w->hstamp);
    memset(w, 0, sizeof *w);
}

void snn_edges_free(snn_edges *e) {
    if (e == NULL) return;
    free(e->pre);
    free(e->post);
    memset(e, 0, sizeof *e);
}

/* Room for `more` edges (capacity doubles, contents kept). */
static int edges_reserve(snn_edges *e, int64_t more, snn_error *err) {
    if (e->n + more <= e->cap) return SNN_OK;
    int64_t cap = e->cap > 0 ? e->cap : 1024;
    while (cap < e->n + more) cap *= 2;
    int32_t *a = realloc(e->pre, (size_t)cap * sizeof *a);
    if (a == NULL) return snn_fail(err, SNN_ERUN, "out of memory: %lld connectome edges", (long long)cap);
    e->pre = a;
    int32_t *b = realloc(e->post, (size_t)cap * sizeof *b);
    if (b == NULL) return snn_fail(err, SNN_ERUN, "out of memory: %lld connectome edges", (long long)cap);
    e->post = b;
    e->cap = cap;
    return SNN_OK;
}

static void edges_add(snn_edges *e, int64_t pre, int64_t post) {
    e->pre[e->n] = (int32_t)pre;
    e->post[e->n] = (int32_t)post;
    e->n++;
}

/* Grows two buffers sharing one capacity to at least need (contents are not kept). */
static int grow_pair(int64_t **p1, int64_t **p2, int64_t *cap, int64_t need, const char *what,
                     snn_error *err) {
    if (need <= *cap) return SNN_OK;
    int64_t n = *cap > 0 ? *cap : 64;
    while (n < need) n *= 2;
    int64_t *x = snn_calloc((size_t)n, sizeof *x, what, err);
    int64_t *y = x ? snn_calloc((size_t)n, sizeof *y, what, err) : NULL;
    if (y == NULL) {
        free(x);
        return SNN_ERUN;
    }
    free(*p1);
    free(*p2);
    *p1 = x;
    *p2 = y;
    *cap = n;
    return SNN_OK;
}

static int work_reserve(snn_graph_work *w, int64_t n_s, int64_t n_t, int64_t n_e, snn_error *err) {
    if (grow_pair(&w->is, &w->a, &w->cap_s, n_s, "connectome source stubs", err) ||
        grow_pair(&w->it, &w->b, &w->cap_t, n_t, "connectome target stubs", err) ||
        grow_pair(&w->out, &w->in, &w->cap_e, n_e, "connectome edges", err))
        return SNN_ERUN;
    if (2 * n_e > w->cap_bad) {
        int64_t *bad = snn_calloc((size_t)(2 * n_e), sizeof *bad, "connectome repair list", err);
        if (bad == NULL) return SNN_ERUN;
        free(w->bad);
        w->bad = bad;
        w->cap_bad = 2 * n_e;
    }
    int64_t hcap = 16;
    while (hcap < 2 * n_e) hcap *= 2;
    if (hcap > w->hcap) {
        int64_t *keys = snn_calloc((size_t)hcap, sizeof *keys, "connectome duplicate table", err);
        uint32_t *stamps =
            keys ? snn_calloc((size_t)hcap, sizeof *stamps, "connectome duplicate table", err) : NULL;
        if (stamps == NULL) {
            free(keys);
            return SNN_ERUN;
        }
        free(w->hkeys);
        free(w->hstamp);
        w->hkeys = keys;
        w->hstamp = stamps;
        w->hcap = hcap;
        w->stamp = 0;
    }
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* cell types                                                                                       */

int snn_cell_types_assign(snn_nprandom *rng, int64_t n, int n_types, const double *proportion,
                          int num_assemblies, const char *layer, int64_t *types, snn_error *err) {
    if (n_types < 1 || n_types > SNN_MAX_TYPES)
        return snn_fail(err, SNN_EINPUT, "%s: %d cell types, expected 1 to %d", layer, n_types,
                        SNN_MAX_TYPES);
    if (n < 0) return snn_fail(err, SNN_EINPUT, "%s: num_neurons = %" PRId64 " is negative", layer, n);
    double sum = 0.0;
    for (int i = 0; i < n_types; i++) {
        if (!(proportion[i] >= 0.0 && proportion[i] <= 1.0))
            return snn_fail(err, SNN_EINPUT, "%s: proportion[%d] = %g is outside [0, 1]", layer, i,
                            proportion[i]);
        sum += proportion[i];
    }
    if (fabs(sum - 1.0) > 1e-6)
        return snn_fail(err, SNN_EINPUT, "%s: cell type proportions sum to %.9g, expected 1", layer,
                        sum);
    int64_t count[SNN_MAX_TYPES], taken = 0;
    for (int i = 0; i < n_types - 1; i++) {
        count[i] = (int64_t)rint((double)n * proportion[i]); /* round half to even, as numpy */
        taken += count[i];
    }
    count[n_types - 1] = n - taken;
    if (count[n_types - 1] < 0)
        return snn_fail(err, SNN_EINPUT,
                        "%s: rounded cell type counts exceed num_neurons = %" PRId64, layer, n);

    if (num_assemblies <= 0) {
        int64_t pos = 0;
        for (int i = 0; i < n_types; i++)
            for (int64_t k = 0; k < count[i]; k++) types[pos++] = i;
        snn_np_shuffle_i64(rng, types, (size_t)n);
        return SNN_OK;
    }
    if (num_assemblies > n)
        return snn_fail(err, SNN_EINPUT, "%s: num_assemblies = %d exceeds num_neurons = %" PRId64,
                        layer, num_assemblies, n);
    const int64_t A = num_assemblies, S = n / A, n_used = S * A;
    /* the reference counts types over the unshuffled base array truncated to n_used, so the
     * truncation comes out of the last types */
    int64_t per_asm[SNN_MAX_TYPES], start = 0, filled = 0;
    for (int i = 0; i < n_types; i++) {
        int64_t in_used = count[i];
        if (start + in_used > n_used) in_used = n_used - start > 0 ? n_used - start : 0;
        start += count[i];
        per_asm[i] = in_used / A;
        filled += per_asm[i];
    }
    const int64_t pad = S - filled; /* type 0 pads each assembly */
    for (int64_t a = 0; a < A; a++) {
        int64_t pos = a * S;
        for (int i = 0; i < n_types; i++)
            for (int64_t k = 0; k < per_asm[i]; k++) types[pos++] = i;
        while (pos < (a + 1) * S) types[pos++] = 0;
        snn_np_shuffle_i64(rng, types + a * S, (size_t)S);
    }
    /* tail (not in the reference): the counts each type has left */
    int64_t pos = n_used;
    for (int i = 0; i < n_types && pos < n; i++) {
        int64_t left = count[i] - per_asm[i] * A - (i == 0 ? pad * A : 0);
        for (int64_t k = 0; k < left && pos < n; k++) types[pos++] = i;
    }
    while (pos < n) types[pos++] = 0;
    snn_np_shuffle_i64(rng, types + n_used, (size_t)(n - n_used));
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* configuration model                                                                              */

static const char *type_name(const char (*names)[SNN_NAME_MAX], int t, char *buf, size_t size) {
    if (names != NULL) return names[t];
    snprintf(buf, size, "type %d", t);
    return buf;
}

/* Appends to bad[] the positions whose (out, in) pair equals an earlier one, in ascending order. */
static int64_t find_duplicates(snn_graph_work *w, int64_t n_e, int64_t key_stride, int64_t nbad) {
    const int64_t *out = w->out, *in = w->in;
    int64_t *bad = w->bad, *keys = w->hkeys;
    uint32_t *stamps = w->hstamp;
    if (++w->stamp == 0) {
        memset(stamps, 0, (size_t)w->hcap * sizeof *stamps);
        w->stamp = 1;
    }
    const uint32_t stamp = w->stamp;
    const uint64_t mask = (uint64_t)w->hcap - 1;
    int shift = 64;
    for (int64_t c = w->hcap; c > 1; c >>= 1) shift--;
    for (int64_t e = 0; e < n_e; e++) {
        const int64_t key = out[e] * key_stride + in[e];
        uint64_t h = ((uint64_t)key * 0x9E3779B97F4A7C15ull) >> shift;
        for (;;) {
            if (stamps[h] != stamp) {
                stamps[h] = stamp;
                keys[h] = key;
                break;
            }
            if (keys[h] == key) {
                bad[nbad++] = e;
                break;
            }
            h = (h + 1) & mask;
        }
    }
    return nbad;
}

/* One type block: n_s sources at w->is, n_t targets at w->it, n_e edges of which at most allowed
 * distinct pairs exist; key_stride bounds the target positions (for the duplicate keys). */
static int config_block(snn_nprandom *rng, int64_t n_s, int64_t n_t, int64_t n_e, int64_t allowed,
                        int64_t key_stride, int allow_self_loops, snn_graph_work *w, snn_edges *edges,
                        int64_t src0, int64_t tgt0, const char *where, const char *src_name,
                        const char *tgt_name, snn_error *err) {
    int64_t *a = w->a, *b = w->b, *out = w->out, *in = w->in, *bad = w->bad;
    memcpy(a, w->is, (size_t)n_s * sizeof *a);
    memcpy(b, w->it, (size_t)n_t * sizeof *b);
    snn_np_shuffle_i64(rng, a, (size_t)n_s);
    snn_np_shuffle_i64(rng, b, (size_t)n_t);
    /* tile: stub e of the sources is a[e mod n_s], so the first n_e mod n_s of a get one more */
    for (int64_t e = 0, k = 0; e < n_e; e++) {
        out[e] = a[k];
        if (++k == n_s) k = 0;
    }
    for (int64_t e = 0, k = 0; e < n_e; e++) {
        in[e] = b[k];
        if (++k == n_t) k = 0;
    }
    snn_np_shuffle_i64(rng, out, (size_t)n_e);
    snn_np_shuffle_i64(rng, in, (size_t)n_e);

    /* A pass that does not lower the best count of bad stubs so far is stalled; the stall ends the
     * block once it has lasted SNN_CONFIG_STALL_PASSES passes and SNN_CONFIG_STALL_WORK stub visits
     * (small blocks may wander for thousands of passes before they finish, as in the reference). */
    int64_t best = INT64_MAX, stalled = 0, stalled_work = 0;
    for (;;) {
        int64_t nbad = 0;
        if (!allow_self_loops)
            for (int64_t e = 0; e < n_e; e++)
                if (out[e] == in[e]) bad[nbad++] = e;
        nbad = find_duplicates(w, n_e, key_stride, nbad);
        if (nbad == 0) break;
        if (nbad < best) {
            best = nbad;
            stalled = 0;
            stalled_work = 0;
        } else {
            stalled++;
            stalled_work += n_e + nbad;
        }
        /* with one stub pair no swap can change anything */
        const int hopeless = n_e == 1 || (stalled >= SNN_CONFIG_STALL_PASSES &&
                                          stalled_work >= SNN_CONFIG_STALL_WORK);
        if (hopeless && n_e == allowed) {
            /* every allowed pair is an edge: the result is unique, only the reference's (endless)
             * search for it differs */
            if (edges_reserve(edges, allowed, err)) return SNN_ERUN;
            for (int64_t x = 0; x < n_s; x++)
                for (int64_t y = 0; y < n_t; y++)
                    if (allow_self_loops || w->is[x] != w->it[y]) edges_add(edges, src0 + w->is[x], tgt0 + w->it[y]);
            return SNN_OK;
        }
        if (hopeless)
            return snn_fail(err, SNN_EINPUT,
                            "%s: block %s -> %s: cannot place %" PRId64 " edges among %" PRId64
                            " sources and %" PRId64 " targets without %s (the configuration model's "
                            "repair stopped making progress: %" PRId64 " bad stubs left); lower this "
                            "block's connection probability (dense blocks, roughly above 0.5, "
                            "may never settle)",
                            where, src_name, tgt_name, n_e, n_s, n_t,
                            allow_self_loops ? "duplicates" : "duplicates or self-loops", nbad);
        /* sequential swaps: a later swap sees the result of the earlier ones */
        for (int64_t k = 0; k < nbad; k++) {
            const int64_t e = bad[k], r = snn_np_randint(rng, 0, n_e);
            const int64_t t = in[e];
            in[e] = in[r];
            in[r] = t;
        }
    }
    if (edges_reserve(edges, n_e, err)) return SNN_ERUN;
    for (int64_t e = 0; e < n_e; e++) edges_add(edges, src0 + out[e], tgt0 + in[e]);
    return SNN_OK;
}

int snn_configuration_graph(snn_nprandom *rng, const int64_t *src, int64_t n_s, int n_src_types,
                            const int64_t *tgt, int64_t n_t, int n_tgt_types,
                            const double conn[SNN_MAX_TYPES][SNN_MAX_TYPES], int allow_self_loops,
                            snn_edges *edges, int64_t src0, int64_t tgt0, const snn_graph_names *names,
                            snn_graph_work *work, snn_error *err) {
    const char *where = names && names->where ? names->where : "connectome";
    const char(*src_names)[SNN_NAME_MAX] = names ? names->src : NULL;
    const char(*tgt_names)[SNN_NAME_MAX] = names ? names->tgt : NULL;
    for (int64_t i = 0; i < n_s; i++)
        if (src[i] < 0 || src[i] >= n_src_types)
            return snn_fail(err, SNN_EINPUT, "%s: source cell type %" PRId64 " is not below %d",
                            where, src[i], n_src_types);
    for (int64_t j = 0; j < n_t; j++)
        if (tgt[j] < 0 || tgt[j] >= n_tgt_types)
            return snn_fail(err, SNN_EINPUT, "%s: target cell type %" PRId64 " is not below %d",
                            where, tgt[j], n_tgt_types);
    char sbuf[32], tbuf[32];
    for (int s = 0; s < n_src_types; s++) {
        for (int t = 0; t < n_tgt_types; t++) {
            const double p = conn[s][t];
            if (p == 0.0) continue;
            const char *sn = type_name(src_names, s, sbuf, sizeof sbuf);
            const char *tn = type_name(tgt_names, t, tbuf, sizeof tbuf);
            if (!(p > 0.0 && p <= 1.0))
                return snn_fail(err, SNN_EINPUT,
                                "%s: block %s -> %s: connection probability %g is outside [0, 1]",
                                where, sn, tn, p);
            int64_t ns = 0, nt = 0;
            if (work_reserve(work, n_s, n_t, 0, err)) return SNN_ERUN;
            for (int64_t i = 0; i < n_s; i++)
                if (src[i] == s) work->is[ns++] = i;
            for (int64_t j = 0; j < n_t; j++)
                if (tgt[j] == t) work->it[nt++] = j;
            if (ns == 0 || nt == 0) continue;
            const int64_t n_e = (int64_t)rint(p * (double)ns * (double)nt);
            /* pairs the reference's self-loop test forbids: equal local positions */
            int64_t forbidden = 0;
            if (!allow_self_loops) {
                for (int64_t x = 0, y = 0; x < ns && y < nt;) {
                    if (work->is[x] == work->it[y]) {
                        forbidden++;
                        x++;
                        y++;
                    } else if (work->is[x] < work->it[y]) {
                        x++;
                    } else {
                        y++;
                    }
                }
            }
            if (n_e > ns * nt - forbidden)
                return snn_fail(err, SNN_EINPUT,
                                "%s: block %s -> %s needs %" PRId64 " edges but only %" PRId64
                                " pairs are allowed (%" PRId64 " sources x %" PRId64
                                " targets%s); lower the connection probability or use more neurons",
                                where, sn, tn, n_e, ns * nt - forbidden, ns, nt,
                                forbidden ? ", no self-loops" : "");
            if (work_reserve(work, n_s, n_t, n_e, err)) return SNN_ERUN;
            int rc = config_block(rng, ns, nt, n_e, ns * nt - forbidden, n_t, allow_self_loops, work, edges, src0,
                                  tgt0, where, sn, tn, err);
            if (rc) return rc;
        }
    }
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* assemblies                                                                                       */

int snn_assembly_graph(snn_nprandom *rng, const int64_t *types, int64_t n, int n_types,
                       int num_assemblies, const double within[SNN_MAX_TYPES][SNN_MAX_TYPES],
                       const double between[SNN_MAX_TYPES][SNN_MAX_TYPES],
                       const char (*type_names)[SNN_NAME_MAX], const char *layer, snn_edges *edges,
                       int32_t *assembly_ids, snn_graph_work *work, snn_error *err) {
    char where[512];
    snn_graph_names names = {where, type_names, type_names};
    if (num_assemblies < 0)
        return snn_fail(err, SNN_EINPUT, "%s: num_assemblies = %d is negative", layer, num_assemblies);
    if (num_assemblies == 0) {
        if (within == NULL && between == NULL)
            return snn_fail(err, SNN_EINPUT, "%s: conn_within is required", layer);
        for (int64_t i = 0; i < n; i++) assembly_ids[i] = -1;
        snprintf(where, sizeof where, "%s connectome", layer);
        return snn_configuration_graph(rng, types, n, n_types, types, n, n_types,
                                       within ? within : between, 0, edges, 0, 0, &names, work, err);
    }
    if (num_assemblies > n)
        return snn_fail(err, SNN_EINPUT, "%s: num_assemblies = %d exceeds num_neurons = %" PRId64,
                        layer, num_assemblies, n);
    const int64_t A = num_assemblies, S = n / A, n_used = S * A, R = n - n_used;
    if (within == NULL)
        return snn_fail(err, SNN_EINPUT, "%s: conn_within is required with assemblies", layer);
    if (between == NULL && (A > 1 || R > 0))
        return snn_fail(err, SNN_EINPUT, "%s: conn_between is required with more than one assembly",
                        layer);
    for (int64_t i = 0; i < n; i++) assembly_ids[i] = i < n_used ? (int32_t)(i / S) : -1;
    int rc;
    for (int64_t a = 0; a < A; a++) {
        snprintf(where, sizeof where, "%s connectome, assembly %" PRId64 " -> %" PRId64, layer, a, a);
        rc = snn_configuration_graph(rng, types + a * S, S, n_types, types + a * S, S, n_types, within,
                                     0, edges, a * S, a * S, &names, work, err);
        if (rc) return rc;
    }
    for (int64_t as = 0; as < A; as++) {
        for (int64_t at = 0; at < A; at++) {
            if (as == at) continue;
            snprintf(where, sizeof where, "%s connectome, assembly %" PRId64 " -> %" PRId64, layer,
                     as, at);
            /* the reference forbids local position pairs k -> k here too (quirk kept for the stream) */
            rc = snn_configuration_graph(rng, types + as * S, S, n_types, types + at * S, S, n_types,
                                         between, 0, edges, as * S, at * S, &names, work, err);
            if (rc) return rc;
        }
    }
    if (R > 0) {
        const int64_t *tail = types + n_used;
        snprintf(where, sizeof where, "%s connectome, tail neurons %" PRId64 "..%" PRId64 " -> tail",
                 layer, n_used, n - 1);
        rc = snn_configuration_graph(rng, tail, R, n_types, tail, R, n_types, between, 0,
                                     edges, n_used, n_used, &names, work, err);
        if (rc) return rc;
        for (int64_t a = 0; a < A; a++) {
            snprintf(where, sizeof where, "%s connectome, assembly %" PRId64 " -> tail", layer, a);
            rc = snn_configuration_graph(rng, types + a * S, S, n_types, tail, R, n_types, between, 1,
                                         edges, a * S, n_used, &names, work, err);
            if (rc) return rc;
            snprintf(where, sizeof where, "%s connectome, tail -> assembly %" PRId64, layer, a);
            rc = snn_configuration_graph(rng, tail, R, n_types, types + a * S, S, n_types, between, 1,
                                         edges, n_used, a * S, &names, work, err);
            if (rc) return rc;
        }
    }
    return SNN_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* weights                                                                                          */

void snn_lognormal_params(double mean, double variance, double *mu, double *sigma) {
    const double m = mean > DBL_EPSILON ? mean : DBL_EPSILON;
    double r = variance / (m * m);
    if (!(r > 0.0)) r = 0.0;
    const double s2 = log(1.0 + r);
    *mu = log(m) - s2 / 2.0;
    *sigma = sqrt(s2);
}

void snn_lognormal_weights(snn_nprandom *rng, snn_sparse *m, const int64_t *src, const int64_t *tgt,
                           const double w_mean[SNN_MAX_TYPES][SNN_MAX_TYPES],
                           const double w_var[SNN_MAX_TYPES][SNN_MAX_TYPES], double *w64) {
    double mu[SNN_MAX_TYPES][SNN_MAX_TYPES], sigma[SNN_MAX_TYPES][SNN_MAX_TYPES];
    for (int s = 0; s < SNN_MAX_TYPES; s++)
        for (int t = 0; t < SNN_MAX_TYPES; t++)
            snn_lognormal_params(w_mean[s][t], w_var[s][t], &mu[s][t], &sigma[s][t]);
    /* every grid entry consumes a normal, edge or not, to keep the reference's stream; the entries
     * between two synapses are skipped without computing them */
    for (int64_t i = 0; i < m->n_rows; i++) {
        const double *mu_row = mu[src[i]], *sigma_row = sigma[src[i]];
        int64_t j = 0;
        for (int64_t e = m->row[i]; e < m->row[i + 1]; e++) {
            const int64_t c = m->col[e];
            snn_np_skip_standard_normals(rng, (uint64_t)(c - j));
            const double z = snn_np_standard_normal(rng);
            const double x = exp(mu_row[tgt[c]] + sigma_row[tgt[c]] * z);
            m->w[e] = (float)x;
            if (w64) w64[e] = x;
            j = c + 1;
        }
        snn_np_skip_standard_normals(rng, (uint64_t)(m->n_cols - j));
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* the whole connectome                                                                             */

static int check_layer(const snn_params *p, const snn_layer_params *l, const char *table, int recurrent,
                       snn_error *err) {
    const char *file = p->path[0] ? p->path : "parameters";
    if (!l->has_proportion)
        return snn_fail(err, SNN_EINPUT,
                        "%s: [%s.cell_types] proportion: required to generate a connectome", file,
                        table);
    if (!l->has_topology)
        return snn_fail(err, SNN_EINPUT, "%s: [%s.topology]: required to generate a connectome",
                        file, table);
    if (!l->has_weights)
        return snn_fail(err, SNN_EINPUT, "%s: [%s.weights]: required to generate a connectome", file,
                        table);
    if (l->num_neurons < (recurrent ? 1 : 0))
        return snn_fail(err, SNN_EINPUT, "%s: [%s.topology] num_neurons: %" PRId64 " is too small",
                        file, table, l->num_neurons);
    if (recurrent) {
        if (l->num_assemblies > 0 && !l->has_conn_within)
            return snn_fail(err, SNN_EINPUT, "%s: [%s.topology] conn_within: required with assemblies",
                            file, table);
        if (!l->has_conn_within && !l->has_conn_between)
            return snn_fail(err, SNN_EINPUT, "%s: [%s.topology] conn_within: required", file, table);
        if (l->num_assemblies > 0 && !l->has_conn_between &&
            (l->num_assemblies > 1 || l->num_neurons % l->num_assemblies != 0))
            return snn_fail(err, SNN_EINPUT,
                            "%s: [%s.topology] conn_between: required with more than one assembly",
                            file, table);
    } else if (!l->has_conn_inputs) {
        return snn_fail(err, SNN_EINPUT, "%s: [%s.topology] conn_inputs: required", file, table);
    }
    return SNN_OK;
}

int snn_connectome_generate_rng(const snn_params *p, int balanced_types, snn_nprandom *rng,
                                snn_structure *out, snn_error *err) {
    memset(out, 0, sizeof *out);
    const snn_layer_params *rec = &p->rec, *ff = &p->ff;
    int rc = check_layer(p, rec, "recurrent", 1, err);
    if (rc == SNN_OK) rc = check_layer(p, ff, "feedforward", 0, err);
    if (rc) return rc;
    const char *file = p->path[0] ? p->path : "parameters";
    char rec_label[4200], ff_label[4200];
    snprintf(rec_label, sizeof rec_label, "%s: [recurrent]", file);
    snprintf(ff_label, sizeof ff_label, "%s: [feedforward]", file);

    const int64_t n = rec->num_neurons, n_in = ff->num_neurons;
    if (n > INT32_MAX || n_in > INT32_MAX)
        return snn_fail(err, SNN_EINPUT, "%s: at most %d neurons and inputs per layer", file, INT32_MAX);
    out->n = n;
    out->n_in = n_in;
    out->n_types = rec->n_types;
    out->n_ff_types = ff->n_types;
    out->cell_types = snn_calloc((size_t)n, sizeof(int64_t), "cell types", err);
    out->ff_cell_types = out->cell_types ? snn_calloc((size_t)n_in, sizeof(int64_t), "input cell types", err) : NULL;
    out->assembly_ids = out->ff_cell_types ? snn_calloc((size_t)n, sizeof(int32_t), "assembly ids", err) : NULL;
    if (out->assembly_ids == NULL) {
        snn_structure_free(out);
        return SNN_ERUN;
    }

    snn_graph_work work;
    memset(&work, 0, sizeof work);
    snn_edges edges = {0};
    const int A = rec->num_assemblies;
    char where[4300];
    snn_graph_names ff_names = {where, ff->type_names, rec->type_names};
    snprintf(where, sizeof where, "%s connectome", ff_label);
    rc = snn_cell_types_assign(rng, n, rec->n_types, rec->proportion, balanced_types ? A : 0,
                               rec_label, out->cell_types, err);
    if (rc == SNN_OK)
        rc = snn_assembly_graph(rng, out->cell_types, n, rec->n_types, A,
                                rec->has_conn_within ? rec->conn_within : NULL,
                                rec->has_conn_between ? rec->conn_between : NULL, rec->type_names,
                                rec_label, &edges, out->assembly_ids, &work, err);
    if (rc == SNN_OK)
        rc = snn_sparse_from_edges(&out->rec, n, n, edges.n, edges.pre, edges.post, NULL, rec_label, err);
    edges.n = 0;
    if (rc == SNN_OK) {
        snn_lognormal_weights(rng, &out->rec, out->cell_types, out->cell_types, rec->w_mu, rec->w_sigma, NULL);
        rc = snn_cell_types_assign(rng, n_in, ff->n_types, ff->proportion, 0, ff_label,
                                   out->ff_cell_types, err);
    }
    if (rc == SNN_OK)
        rc = snn_configuration_graph(rng, out->ff_cell_types, n_in, ff->n_types, out->cell_types, n,
                                     rec->n_types, ff->conn_inputs, 1, &edges, 0, 0, &ff_names,
                                     &work, err);
    if (rc == SNN_OK)
        rc = snn_sparse_from_edges(&out->ff, n_in, n, edges.n, edges.pre, edges.post, NULL, ff_label, err);
    if (rc == SNN_OK)
        snn_lognormal_weights(rng, &out->ff, out->ff_cell_types, out->cell_types, ff->w_mu, ff->w_sigma, NULL);
    snn_edges_free(&edges);
    snn_graph_work_free(&work);
    if (rc) snn_structure_free(out);
    return rc;
}

int snn_connectome_generate(const snn_params *p, int balanced_types, snn_structure *out,
                            snn_error *err) {
    if (p->sim.seed > 0xffffffffu) {
        memset(out, 0, sizeof *out);
        return snn_fail(err, SNN_EINPUT,
                        "%s: [simulation] seed: %" PRIu64 " is too large; connectome generation uses "
                        "numpy's legacy generator, which takes seeds 0 to 4294967295",
                        p->path[0] ? p->path : "parameters", p->sim.seed);
    }
    snn_nprandom rng;
    snn_np_seed(&rng, (uint32_t)p->sim.seed);
    return snn_connectome_generate_rng(p, balanced_types, &rng, out, err);
}
