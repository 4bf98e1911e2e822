#include "plot/dashboards.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/nprandom.h"
#include "io/npz.h"
#include "plot/figure.h"
#include "plot/stats.h"

/* Base text size of a 2400-pixel-wide dashboard: the reference's 10 pt on a 24-inch figure would be
 * 14 px; a little larger reads better when the PNG is viewed scaled down. */
#define DASH_W 2400
#define DASH_H 1600
#define DASH_FONT 17.0

/* ---------------------------------------------------------------- names and colours */

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}

/* Python's str.capitalize: first letter upper, the rest lower. */
static void capitalize(char *out, size_t n, const char *in) {
    snprintf(out, n, "%s", in);
    for (char *p = out; *p; p++) *p = (char)(p == out ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
}

/* cell-type colours of histograms, PSTH and rasters (figures.md section 0) */
static snn_color type_color(int t) { return snn_color_cell_type(t); }

/* assembly k and odourant k: tab10 while there are at most 10 (ten distinct colours); beyond, tab20
 * with its ten strong colours first and its ten pale ones after (tab20's own order pairs each strong
 * colour with its pale twin, which side by side are hard to tell apart) */
static snn_color assembly_color(int k, int n) {
    if (n <= 10) return snn_color_tab10(k);
    return snn_color_tab20((k % 20) < 10 ? 2 * (k % 20) : 2 * (k % 20 - 10) + 1);
}

/* connectivity colours matched by name */
static snn_color pie_color(const char *name, int feedforward) {
    snn_color c = feedforward ? snn_color_hex("#00AA00")
                  : (contains_ci(name, "exc")) ? snn_color_hex("#FF0000")
                  : (contains_ci(name, "inh")) ? snn_color_hex("#0000FF")
                                               : snn_color_hex("#888888");
    return snn_color_alpha(c, 0.6);
}
static snn_color name_color(const char *name, int feedforward) {
    if (feedforward || contains_ci(name, "mitral")) return snn_color_hex("#00AA00");
    if (contains_ci(name, "excit")) return snn_color_hex("#DD0000");
    if (contains_ci(name, "inhib")) return snn_color_hex("#0000DD");
    return SNN_GREY;
}

/* inhibitory synapse kinds by name, as the reference's GABA_A / GABA_B groups */
static int is_inhibitory_synapse(const char *name) { return contains_ci(name, "GABA"); }

static int save_and_end(snn_fig *f, const char *png, snn_error *err) {
    int rc = snn_fig_save(f, png, err);
    snn_fig_end(f);
    return rc;
}

/* ================================================================ F1: connectivity */

typedef struct source_type {
    char name[SNN_NAME_MAX];
    int ff;      /* feedforward layer */
    int type;    /* index in its layer */
} source_type;

/* percentile without sorting the whole array: quickselect on a copy (floats, millions of weights) */
static float select_k(float *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float piv = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < piv) i++;
            while (a[j] > piv) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j], a[j] = t;
                i++, j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}
static double percentile_f(float *a, int64_t n, double q) {
    if (n <= 0) return NAN;
    double pos = q / 100.0 * (double)(n - 1);
    int64_t i = (int64_t)floor(pos);
    double lo = select_k(a, n, i);
    if (i + 1 >= n) return lo;
    /* after selection everything above index i is >= a[i]: the next order statistic is their minimum */
    float hi = a[i + 1];
    for (int64_t k = i + 2; k < n; k++)
        if (a[k] < hi) hi = a[k];
    return lo + (pos - (double)i) * ((double)hi - lo);
}

/* the first of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k at or above v (1 for v <= 0) */
static double nice_above(double v) {
    if (!(v > 0) || !isfinite(v)) return 1;
    static const double ladder[] = {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10};
    double m = pow(10, floor(log10(v))), r = v / m;
    int i = 0;
    while (ladder[i] < r * (1 - 1e-9)) i++;
    return m * ladder[i];
}

/* heatmap colour limit: a round number just above the 95th percentile of the shown nonzero weights, so
 * that the typical weight is a clear colour whatever the scale (learned factors move effective weights
 * far from the reference's fixed [0, 1]); the few larger weights saturate. */
static double weight_limit(const double *v, int64_t n) {
    float *nz = malloc((size_t)(n ? n : 1) * sizeof *nz);
    int64_t k = 0;
    if (!nz) return 1;
    for (int64_t i = 0; i < n; i++)
        if (v[i] != 0 && isfinite(v[i])) nz[k++] = (float)fabs(v[i]);
    double p = percentile_f(nz, k, 95.0);
    free(nz);
    return nice_above(p);
}

/* colour-bar ticks of [0, vmax] or [-vmax, vmax]: round numbers, at most 7 */
static int fmt_limit_ticks(double vmax, int signed_, double *ticks, char labels[8][32]) {
    int n = snn_nice_ticks(signed_ ? -vmax : 0, vmax, signed_ ? 7 : 5, ticks, 8);
    for (int i = 0; i < n; i++) snprintf(labels[i], 32, "%s%.3g", signed_ && ticks[i] > 0 ? "+" : "", ticks[i]);
    return n;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Each neuron's assembly as a dense index: the k-th smallest distinct id is assembly k (stage 3's odour
 * pattern k), -1 for none. Ids may be sparse (0, 7, 2147483647), so they are never used as indices or
 * counts themselves. *n_asm gets the number of assemblies. NULL when out of memory. */
static int32_t *dense_assemblies(const int32_t *ids, int64_t n, int *n_asm) {
    int32_t *sorted = malloc((size_t)(n > 0 ? n : 1) * sizeof *sorted), *dense = malloc((size_t)(n > 0 ? n : 1) * sizeof *dense);
    if (!sorted || !dense) {
        free(sorted), free(dense);
        return NULL;
    }
    int64_t m = 0;
    for (int64_t j = 0; j < n; j++)
        if (ids[j] >= 0) sorted[m++] = ids[j];
    qsort(sorted, (size_t)m, sizeof *sorted, cmp_i32);
    int64_t u = 0;
    for (int64_t k = 0; k < m; k++)
        if (u == 0 || sorted[k] != sorted[u - 1]) sorted[u++] = sorted[k];
    for (int64_t j = 0; j < n; j++) {
        const int32_t *hit = ids[j] >= 0 ? bsearch(&ids[j], sorted, (size_t)u, sizeof *sorted, cmp_i32) : NULL;
        dense[j] = hit ? (int32_t)(hit - sorted) : -1;
    }
    free(sorted);
    *n_asm = (int)u;
    return dense;
}

int snn_plot_connectivity(const char *png, const snn_structure *s, const snn_params *p, snn_error *err) {
    int64_t N = s->n, M = s->n_in;
    int nt = p->rec.n_types, nf = p->ff.n_types, ns = nf + nt;
    if (nt < 1 || ns > 2 * SNN_MAX_TYPES) return snn_fail(err, SNN_EINPUT, "%s: no cell types to plot", png);
    source_type src[2 * SNN_MAX_TYPES];
    for (int a = 0; a < nf; a++) src[a] = (source_type){.ff = 1, .type = a}, snprintf(src[a].name, SNN_NAME_MAX, "%s", p->ff.type_names[a]);
    for (int a = 0; a < nt; a++)
        src[nf + a] = (source_type){.ff = 0, .type = a}, snprintf(src[nf + a].name, SNN_NAME_MAX, "%s", p->rec.type_names[a]);

    /* --- statistics (figures.md 2.12) over all rows: in-degree, in-strength, weight pools --- */
    int64_t n_post[SNN_MAX_TYPES] = {0};
    for (int64_t j = 0; j < N; j++)
        if (s->cell_types[j] >= 0 && s->cell_types[j] < nt) n_post[s->cell_types[j]]++;
    double *strength = calloc((size_t)ns * (size_t)(N ? N : 1), sizeof *strength);  /* [source][post] */
    double *indeg = calloc((size_t)ns, sizeof *indeg);
    int64_t *n_w = calloc((size_t)ns, sizeof *n_w);
    if (!strength || !indeg || !n_w) {
        free(strength), free(indeg), free(n_w);
        return snn_fail(err, SNN_ERUN, "out of memory for the connectivity statistics");
    }
    /* from the sparse rows: an absent entry adds 0 to a strength and counts nowhere */
    for (int pass = 0; pass < 2; pass++) {
        const snn_sparse *m = pass ? &s->rec : &s->ff;
        const int64_t *ty = pass ? s->cell_types : s->ff_cell_types;
        int64_t rows = pass ? N : M;
        for (int64_t i = 0; i < rows; i++) {
            int a = (pass ? nf : 0) + (int)ty[i];
            double *acc = strength + (size_t)a * (size_t)N;
            int64_t deg = 0, pos = 0;
            for (int64_t e = m->row[i]; e < m->row[i + 1]; e++) {
                acc[m->col[e]] += m->w[e];
                deg += m->w[e] != 0;
                pos += m->w[e] > 0;
            }
            indeg[a] += (double)deg;
            n_w[a] += pos;
        }
    }
    for (int a = 0; a < ns; a++) indeg[a] = N ? indeg[a] / (double)N : 0;
    double mean_m[2 * SNN_MAX_TYPES][SNN_MAX_TYPES], std_m[2 * SNN_MAX_TYPES][SNN_MAX_TYPES];
    double max_mean = 0, max_std = 0;
    for (int a = 0; a < ns; a++)
        for (int t = 0; t < nt; t++) {
            double sum = 0, ss = 0;
            const double *acc = strength + (size_t)a * (size_t)N;
            for (int64_t j = 0; j < N; j++)
                if (s->cell_types[j] == t) sum += acc[j];
            double m = n_post[t] ? sum / (double)n_post[t] : NAN;
            for (int64_t j = 0; j < N; j++)
                if (s->cell_types[j] == t) ss += (acc[j] - m) * (acc[j] - m);
            mean_m[a][t] = m;
            std_m[a][t] = n_post[t] ? sqrt(ss / (double)n_post[t]) : NAN;
            if (isfinite(m)) max_mean = fmax(max_mean, m);
            if (isfinite(std_m[a][t])) max_std = fmax(max_std, std_m[a][t]);
        }
    free(strength);
    /* weight pools per source type (float: the Dp network has millions of synapses) */
    int64_t total_w = 0;
    for (int a = 0; a < ns; a++) total_w += n_w[a];
    float *pool = malloc((size_t)(total_w ? total_w : 1) * sizeof *pool);
    int64_t *off = calloc((size_t)ns + 1, sizeof *off);
    if (!pool || !off) {
        free(pool), free(off), free(indeg), free(n_w);
        return snn_fail(err, SNN_ERUN, "out of memory for the weight distributions");
    }
    for (int a = 0; a < ns; a++) off[a + 1] = off[a] + n_w[a];
    {
        int64_t *fill = calloc((size_t)ns, sizeof *fill);
        for (int pass = 0; fill && pass < 2; pass++) {
            const snn_sparse *m = pass ? &s->rec : &s->ff;
            const int64_t *ty = pass ? s->cell_types : s->ff_cell_types;
            int64_t rows = pass ? N : M;
            for (int64_t i = 0; i < rows; i++) {
                int a = (pass ? nf : 0) + (int)ty[i];
                for (int64_t e = m->row[i]; e < m->row[i + 1]; e++)
                    if (m->w[e] > 0) pool[off[a] + fill[a]++] = m->w[e];
            }
        }
        free(fill);
    }

    snn_fig *f = snn_fig_begin(DASH_W, DASH_H, DASH_FONT, err);
    if (!f) {
        free(pool), free(off), free(indeg), free(n_w);
        return err ? err->code : SNN_ERUN;
    }
    char buf[512];
    const char *eff = s->has_scaling_factors ? " (effective weights: learned scaling factors applied)" : "";
    snprintf(buf, sizeof buf, "Connectivity: %lld neurons, %lld inputs%s", (long long)N, (long long)M, eff);
    snn_fig_figtext(f, 0.5, 0.985, buf, 1.35, 1, SNN_CENTER | SNN_TOP);

    /* --- top left: feedforward heatmap, first 10 % of inputs x 10 % of neurons --- */
    int64_t fm = M / 10 > 0 ? M / 10 : M, fn = N / 10 > 0 ? N / 10 : N;
    if (fn > 1000) fn = 1000;  /* a large network shows a corner of the matrix: more cells than pixels otherwise */
    if (fm > 1000) fm = 1000;
    int64_t rn;
    int n_asm = 0;
    int64_t asm0 = 0;
    int32_t *dense = dense_assemblies(s->assembly_ids, N, &n_asm);
    if (!dense) {
        snn_fig_end(f);
        free(pool), free(off), free(indeg), free(n_w);
        return snn_fail(err, SNN_ERUN, "out of memory for the assembly ids");
    }
    for (int64_t j = 0; j < N; j++) asm0 += dense[j] == 0;
    free(dense);
    if (n_asm >= 2 && asm0 > 0) rn = 2 * asm0 < N ? 2 * asm0 : N;
    else rn = N / 10 > 0 ? N / 10 : N;
    if (rn > 1000) rn = 1000;  /* beyond ~1000 rows a heatmap has more cells than pixels */
    double *img = malloc((size_t)((fm * fn > rn * rn ? fm * fn : rn * rn) + 1) * sizeof *img);
    if (!img) {
        snn_fig_end(f);
        free(pool), free(off), free(indeg), free(n_w);
        return snn_fail(err, SNN_ERUN, "out of memory for the connectivity heatmaps");
    }
    memset(img, 0, (size_t)(fm * fn) * sizeof *img);
    for (int64_t i = 0; i < fm; i++)
        for (int64_t e = s->ff.row[i]; e < s->ff.row[i + 1] && s->ff.col[e] < fn; e++)
            img[i * fn + s->ff.col[e]] = s->ff.w[e];
    double vff = weight_limit(img, fm * fn), ticks[8];
    char tl[8][32];
    const char *tlp[8];
    for (int i = 0; i < 8; i++) tlp[i] = tl[i];
    snn_fig_panel(f, 0.055, 0.415, 0.715, 0.905, 0, 1, 0, 1, 0);
    snn_fig_heatmap(f, fm, fn, img, 0, vff, SNN_CMAP_GREENS);
    snn_fig_box(f);
    snprintf(buf, sizeof buf, "Feedforward Connectivity Matrix (%lld/%lld %s cells × %lld/%lld cells)", (long long)fm,
             (long long)M, nf == 1 ? p->ff.type_names[0] : "input", (long long)fn, (long long)N);
    snn_fig_title(f, buf, 1.05, 0, SNN_BLACK);
    snn_fig_xlabel_offset(f, "Postsynaptic Cells", -1.4);
    snn_fig_ylabel(f, "Presynaptic Input Cells");
    int nticks = fmt_limit_ticks(vff, 0, ticks, tl);
    snn_fig_colorbar(f, 0.422, 0.432, 0.715, 0.905, SNN_CMAP_GREENS, 0, vff, nticks, ticks, tlp, "Weight (× g_bar)");
    snn_fig_figtext(f, 0.235, 0.935, "Weighted Connectomes", 1.2, 1, SNN_CENTER | SNN_BOTTOM);

    /* --- bottom left: signed recurrent weights, rows presynaptic (+ from type 0, - otherwise) --- */
    memset(img, 0, (size_t)(rn * rn) * sizeof *img);
    for (int64_t i = 0; i < rn; i++) {
        double sg = s->cell_types[i] == 0 ? 1.0 : -1.0;
        for (int64_t e = s->rec.row[i]; e < s->rec.row[i + 1] && s->rec.col[e] < rn; e++)
            img[i * rn + s->rec.col[e]] = sg * s->rec.w[e];
    }
    double vrec = weight_limit(img, rn * rn);
    /* square: the panel's pixel width equals its height */
    double hh = 0.56, ww = hh * DASH_H / DASH_W, x0 = 0.235 - ww / 2 - 0.01;
    snn_fig_panel(f, x0, x0 + ww, 0.06, 0.06 + hh, 0, 1, 0, 1, 0);
    snn_fig_heatmap(f, rn, rn, img, -vrec, vrec, SNN_CMAP_BWR);
    snn_fig_box(f);
    if (n_asm >= 2 && asm0 > 0 && rn == 2 * asm0)
        snprintf(buf, sizeof buf, "Weighted Connectivity Matrix (showing 2/%d assemblies)", n_asm);
    else
        snprintf(buf, sizeof buf, "Weighted Connectivity Matrix (showing %lld/%lld cells)", (long long)rn, (long long)N);
    snn_fig_title(f, buf, 1.05, 0, SNN_BLACK);
    snn_fig_xlabel_offset(f, "Postsynaptic Cells", -1.4);
    snn_fig_ylabel(f, "Presynaptic Cells (+ excitatory, − inhibitory)");
    nticks = fmt_limit_ticks(vrec, 1, ticks, tl);
    snn_fig_colorbar(f, x0 + ww + 0.012, x0 + ww + 0.022, 0.06 + hh * 0.25, 0.06 + hh * 0.75, SNN_CMAP_BWR, -vrec,
                     vrec, nticks, ticks, tlp, "Weight (× g_bar)");
    free(img);

    /* --- right top left: pie of mean in-degree per source type --- */
    double vals[2 * SNN_MAX_TYPES];
    snn_color cols[2 * SNN_MAX_TYPES];
    char inner_s[2 * SNN_MAX_TYPES][32];
    const char *names[2 * SNN_MAX_TYPES], *inner[2 * SNN_MAX_TYPES];
    for (int a = 0; a < ns; a++) {
        vals[a] = indeg[a];
        cols[a] = pie_color(src[a].name, src[a].ff);
        snprintf(inner_s[a], 32, "%.0f", indeg[a]);
        names[a] = src[a].name;
        inner[a] = inner_s[a];
    }
    snn_fig_panel(f, 0.53, 0.73, 0.56, 0.91, 0, 1, 0, 1, 0);
    snn_fig_pie(f, ns, vals, cols, names, inner);
    snn_fig_title(f, "Mean Synapse Input Counts", 1.1, 1, SNN_BLACK);

    /* --- right top right: violins of the nonzero weights per source type, on a log axis: log-normal
     * weights are symmetric there, every violin fits whole (min to max) and types whose weights differ
     * by a factor (learned scaling factors) stay readable side by side --- */
    {
        double lmin = INFINITY, lmax = -INFINITY;
        for (int64_t k = 0; k < total_w; k++)
            if (pool[k] > 0) lmin = fmin(lmin, log10(pool[k])), lmax = fmax(lmax, log10(pool[k]));
        if (!(lmax >= lmin)) lmin = -1, lmax = 0;
        double lpad = fmax(0.05, 0.06 * (lmax - lmin));
        snn_fig_panel(f, 0.79, 0.975, 0.56, 0.91, -0.6, ns - 0.4, pow(10, lmin - lpad), pow(10, lmax + lpad),
                      SNN_AX_LOGY);
        snn_fig_axes(f, SNN_AX_NO_XTICKS | SNN_AX_GRID_Y);
        enum { KP = 120 };
        for (int a = 0; a < ns; a++) {
            int64_t n = n_w[a];
            if (n == 0) continue;
            double *x = malloc((size_t)n * sizeof *x);
            if (!x) continue;
            double mn = INFINITY, mx = -INFINITY, mean = 0;
            for (int64_t k = 0; k < n; k++) {
                mean += pool[off[a] + k];
                x[k] = log10(pool[off[a] + k]);
                mn = fmin(mn, x[k]), mx = fmax(mx, x[k]);
            }
            mean /= (double)n;
            double y[KP], d[KP], px[2 * KP], py[2 * KP], dmax = 0;
            for (int i = 0; i < KP; i++) y[i] = mn + (mx - mn) * i / (KP - 1.0);
            snn_kde(x, n, 0.5, y, KP, d);
            for (int i = 0; i < KP; i++) dmax = fmax(dmax, d[i]);
            for (int i = 0; i < KP; i++) {
                double h = dmax > 0 ? 0.35 * d[i] / dmax : 0;
                px[i] = a - h, py[i] = pow(10, y[i]);
                px[2 * KP - 1 - i] = a + h, py[2 * KP - 1 - i] = pow(10, y[i]);
            }
            snn_fig_fill(f, 2 * KP, px, py, snn_color_alpha(name_color(src[a].name, src[a].ff), 0.6));
            snn_fig_line(f, 2 * KP, px, py, name_color(src[a].name, src[a].ff), 1.0, SNN_SOLID);
            snn_fig_segment(f, a - 0.2, mean, a + 0.2, mean, SNN_BLACK, 2.0);
            free(x);
        }
        double pos[2 * SNN_MAX_TYPES];
        snn_color tc[2 * SNN_MAX_TYPES];
        for (int a = 0; a < ns; a++) pos[a] = a, tc[a] = name_color(src[a].name, src[a].ff);
        snn_fig_xticks(f, ns, pos, names, 0, tc, 1);
        snn_fig_title(f, "Weight Distribution by Input Type", 1.1, 1, SNN_BLACK);
        snn_fig_ylabel(f, "Weight (× g_bar; bar: mean)");
    }

    /* --- right bottom: mean and std of the total input per (source, target) type pair --- */
    for (int which = 0; which < 2; which++) {
        double m[2 * SNN_MAX_TYPES * SNN_MAX_TYPES];
        for (int a = 0; a < ns; a++)
            for (int t = 0; t < nt; t++) m[a * nt + t] = which ? std_m[a][t] : mean_m[a][t];
        double vmax = nice_above(which ? max_std : max_mean);
        double px0 = which ? 0.80 : 0.575, px1 = px0 + 0.125;
        snn_fig_panel(f, px0, px1, 0.14, 0.46, -0.5, nt - 0.5, -0.5, ns - 0.5, 0);
        snn_fig_heatmap(f, ns, nt, m, 0, vmax, SNN_CMAP_VIRIDIS);
        snn_fig_box(f);
        /* each cell's number on it, black on the light end of viridis, white on the dark */
        for (int a = 0; a < ns; a++)
            for (int t = 0; t < nt; t++) {
                double v = m[a * nt + t];
                if (!isfinite(v)) continue;
                char num[32];
                snprintf(num, sizeof num, "%.3g", v);
                snn_fig_datatext(f, t, ns - 1 - a, num, 0.95, v / vmax > 0.6 ? SNN_BLACK : SNN_WHITE,
                                 SNN_CENTER | SNN_MIDDLE, 1);
            }
        double xpos[SNN_MAX_TYPES], ypos[2 * SNN_MAX_TYPES];
        const char *xn[SNN_MAX_TYPES];
        snn_color xc[SNN_MAX_TYPES], yc[2 * SNN_MAX_TYPES];
        for (int t = 0; t < nt; t++) xpos[t] = t, xn[t] = p->rec.type_names[t], xc[t] = name_color(xn[t], 0);
        /* row a of the image is drawn at the top: y = ns - 1 - a */
        for (int a = 0; a < ns; a++) ypos[a] = ns - 1 - a, yc[a] = name_color(src[a].name, src[a].ff);
        snn_fig_xticks(f, nt, xpos, xn, 45, xc, 1);
        if (!which) {
            snn_fig_yticks(f, ns, ypos, names, yc, 1);
            double wmax = 0;
            for (int a = 0; a < ns; a++) wmax = fmax(wmax, snn_fig_text_width(f, names[a], 1, 1));
            snn_fig_ylabel_at(f, "Presynaptic Cell Type", wmax + 1.2 * DASH_FONT);
        }
        snn_fig_title(f, which ? "Std of Total Input per Neuron" : "Mean Total Input per Neuron", 1.1, 1, SNN_BLACK);
        /* below the 45-degree names: their vertical extent is width / sqrt(2) */
        double wmax = 0;
        for (int t = 0; t < nt; t++) wmax = fmax(wmax, snn_fig_text_width(f, xn[t], 1, 1));
        snn_fig_xlabel_offset(f, "Postsynaptic (Recurrent) Cell Type", wmax / sqrt(2.0) / DASH_FONT);
        /* the total input of a neuron from a source type: the sum of its weights from that type */
        snn_fig_colorbar(f, px1 + 0.008, px1 + 0.016, 0.14, 0.46, SNN_CMAP_VIRIDIS, 0, vmax, 0, NULL, NULL,
                         which ? "Std over neurons of Σ weights (× g_bar)" : "Σ weights onto a neuron (× g_bar)");
    }
    free(pool), free(off), free(indeg), free(n_w);
    return save_and_end(f, png, err);
}

/* ================================================================ traces */

typedef struct traces {
    double dt;
    int64_t T, n, n_in, S, sel;
    snn_array out, in, v, isyn, ileak, g, names, ouw;
    int has_ouw;
    char syn[2 * SNN_MAX_SYNAPSES][SNN_NAME_MAX];
} traces;

static void traces_free(traces *t) {
    snn_array_free(&t->out);
    snn_array_free(&t->in);
    snn_array_free(&t->v);
    snn_array_free(&t->isyn);
    snn_array_free(&t->ileak);
    snn_array_free(&t->g);
    snn_array_free(&t->names);
    snn_array_free(&t->ouw);
}

static int traces_load(const char *path, const snn_structure *s, int want_ou, traces *t, snn_error *err) {
    memset(t, 0, sizeof *t);
    snn_npz *z = snn_npz_open(path, err);
    if (!z) return err ? err->code : SNN_EINPUT;
    snn_array a = {0};
    int rc = snn_npz_read_as(z, "dt", SNN_F64, 0, NULL, &a, err);
    if (!rc) t->dt = *(double *)a.data;
    snn_array_free(&a);
    if (!rc) rc = snn_npz_read_as(z, "selected_neuron", SNN_I64, 0, NULL, &a, err);
    if (!rc) t->sel = *(int64_t *)a.data;
    snn_array_free(&a);
    int64_t e_out[2] = {-1, s->n};
    if (!rc) rc = snn_npz_read_as(z, "output_spikes", SNN_BOOL, 2, e_out, &t->out, err);
    if (!rc) {
        t->T = t->out.shape[0], t->n = s->n, t->n_in = s->n_in;
        int64_t e_in[2] = {t->T, s->n_in}, e_t[1] = {t->T}, e_ts[2] = {t->T, -1};
        rc = snn_npz_read_as(z, "input_spikes", SNN_BOOL, 2, e_in, &t->in, err);
        if (!rc) rc = snn_npz_read_as(z, "voltage", SNN_F32, 1, e_t, &t->v, err);
        if (!rc) rc = snn_npz_read_as(z, "synaptic_currents", SNN_F32, 2, e_ts, &t->isyn, err);
        if (!rc) {
            t->S = t->isyn.shape[1];
            int64_t e_leak[1] = {t->T}, e_g[3] = {t->T, 2, t->S}, e_nm[2] = {t->S, 64};
            rc = snn_npz_read_as(z, "leak_current", SNN_F32, 1, e_leak, &t->ileak, err);
            if (!rc) rc = snn_npz_read_as(z, "conductances", SNN_F32, 3, e_g, &t->g, err);
            if (!rc) rc = snn_npz_read_as(z, "synapse_names", SNN_U8, 2, e_nm, &t->names, err);
        }
        if (!rc && want_ou && snn_npz_has(z, "ou_process_weights")) {
            int64_t e_ou[2] = {t->T, -1};
            rc = snn_npz_read_as(z, "ou_process_weights", SNN_F32, 2, e_ou, &t->ouw, err);
            t->has_ouw = !rc;
        }
    }
    snn_npz_free(z);
    if (!rc && !(t->dt > 0)) rc = snn_fail(err, SNN_EINPUT, "%s: dt must be > 0", path);
    if (!rc && (t->sel < 0 || t->sel >= s->n))
        rc = snn_fail(err, SNN_EINPUT, "%s: selected_neuron %lld is outside 0..%lld", path, (long long)t->sel,
                      (long long)s->n - 1);
    if (!rc && t->S > 2 * SNN_MAX_SYNAPSES)
        rc = snn_fail(err, SNN_EINPUT, "%s: %lld synapse columns, at most %d supported", path, (long long)t->S,
                      2 * SNN_MAX_SYNAPSES);
    if (!rc && t->T < 1) rc = snn_fail(err, SNN_EINPUT, "%s: no time steps recorded", path);
    for (int64_t k = 0; !rc && k < t->S; k++) {
        memcpy(t->syn[k], (uint8_t *)t->names.data + 64 * k, SNN_NAME_MAX - 1);
        t->syn[k][SNN_NAME_MAX - 1] = 0;
    }
    if (rc) traces_free(t);
    return rc;
}

/* ================================================================ F2: activity */

/* the layout of the right column: row r (0 top) of 4, type t of nt */
static void right_cell(int r, int t, int nt, double *x0, double *x1, double *y0, double *y1) {
    double left = 0.665, right = 0.985, gap = 0.045, w = (right - left - gap * (nt - 1)) / nt;
    *x0 = left + t * (w + gap);
    *x1 = *x0 + w;
    double top = 0.9, rowh = 0.2175, h = 0.118;
    *y1 = top - r * rowh;
    *y0 = *y1 - h;
}

static void row_title(snn_fig *f, int r, const char *text) {
    double x0, x1, y0, y1;
    right_cell(r, 0, 1, &x0, &x1, &y0, &y1);
    snn_fig_figtext(f, (x0 + x1) / 2, y1 + 0.033, text, 1.2, 1, SNN_CENTER | SNN_BOTTOM);
}

static double time_of(const traces *t, int64_t k) { return (double)k * t->dt / 1000.0; }

typedef struct act {
    const traces *tr;
    const snn_structure *s;
    const snn_params *p;
    int nt;
    int64_t *times, *start;          /* spike steps per neuron */
    int64_t *idx[SNN_MAX_TYPES];     /* neurons of each type */
    int64_t n_of[SNN_MAX_TYPES];
} act;

static void draw_raster(snn_fig *f, act *A) {
    const traces *t = A->tr;
    int64_t N = t->n, M = t->n_in;
    int64_t n_in = M + N > 0 ? (int64_t)(20.0 * (double)M / (double)(M + N)) : 0;
    if (n_in < 1) n_in = 1;
    if (n_in > M) n_in = M;
    int64_t n_out = 20 - n_in < N ? 20 - n_in : N;
    /* the reference samples with numpy's global generator re-seeded to 42 (choice without
     * replacement = the first k of a permutation): the same neurons here, shown in blocks from the
     * bottom (inputs, then each cell type, each in index order) labelled on the y axis */
    snn_nprandom r;
    snn_np_seed(&r, 42);
    int64_t *perm_in = malloc((size_t)(M ? M : 1) * sizeof *perm_in), *perm = malloc((size_t)(N ? N : 1) * sizeof *perm);
    double tmax = time_of(t, t->T) + 0.01;
    snn_fig_panel(f, 0.05, 0.615, 0.815, 0.935, 0, tmax, -0.5, (double)(n_in + n_out) - 0.5, 0);
    snn_fig_axes(f, SNN_AX_NO_YTICKS);
    if (perm_in && perm) {
        for (int64_t i = 0; i < M; i++) perm_in[i] = i;
        for (int64_t i = 0; i < N; i++) perm[i] = i;
        snn_np_shuffle_i64(&r, perm_in, (size_t)M);
        snn_np_shuffle_i64(&r, perm, (size_t)N);
        /* the sample, sorted by (type, index) for the recurrent rows and by index for the inputs */
        for (int64_t a = 1; a < n_in; a++)
            for (int64_t b = a; b > 0 && perm_in[b - 1] > perm_in[b]; b--) {
                int64_t x = perm_in[b];
                perm_in[b] = perm_in[b - 1], perm_in[b - 1] = x;
            }
        const int64_t *ct = A->s->cell_types;
        for (int64_t a = 1; a < n_out; a++)
            for (int64_t b = a; b > 0 && (ct[perm[b - 1]] > ct[perm[b]] ||
                                          (ct[perm[b - 1]] == ct[perm[b]] && perm[b - 1] > perm[b])); b--) {
                int64_t x = perm[b];
                perm[b] = perm[b - 1], perm[b - 1] = x;
            }
        const uint8_t *in = t->in.data, *out = t->out.data;
        double *xs = malloc((size_t)t->T * sizeof *xs), *ys = malloc((size_t)t->T * sizeof *ys);
        for (int64_t row = 0; xs && ys && row < n_in + n_out; row++) {
            int64_t k = 0, j = row < n_in ? perm_in[row] : perm[row - n_in];
            const uint8_t *src = row < n_in ? in : out;
            int64_t stride = row < n_in ? M : N;
            for (int64_t s = 0; s < t->T; s++)
                if (src[s * stride + j]) xs[k] = time_of(t, s), ys[k] = (double)row, k++;
            snn_color c = row < n_in ? snn_color_hex("#808080") : type_color((int)ct[j]);
            snn_fig_dots(f, k, xs, ys, c, 1.8);
        }
        free(xs);
        free(ys);
        /* blocks: tick marks between them, the block's name (in its colour) and size at its middle */
        double pos[1 + SNN_MAX_TYPES], cut[1 + SNN_MAX_TYPES];
        char lab[1 + SNN_MAX_TYPES][SNN_NAME_MAX + 16];
        const char *lp[1 + SNN_MAX_TYPES];
        snn_color lc[1 + SNN_MAX_TYPES];
        int nb = 0, nc = 0;
        for (int64_t row = 0; row < n_in + n_out;) {
            int64_t end = row + 1;
            int block = row < n_in ? -1 : (int)ct[perm[row - n_in]];
            while (end < n_in + n_out && (end < n_in ? -1 : (int)ct[perm[end - n_in]]) == block) end++;
            pos[nb] = 0.5 * (double)(row + end - 1);
            if (block < 0)
                capitalize(lab[nb], sizeof lab[0], A->p->ff.n_types == 1 ? A->p->ff.type_names[0] : "inputs");
            else capitalize(lab[nb], sizeof lab[0], A->p->rec.type_names[block]);
            lc[nb] = block < 0 ? snn_color_hex("#606060") : type_color(block);
            lp[nb] = lab[nb];
            nb++;
            if (end < n_in + n_out) cut[nc++] = (double)end - 0.5;
            row = end;
            if (nb > SNN_MAX_TYPES) break;
        }
        snn_fig_yticks(f, nc, cut, NULL, NULL, 0);
        /* labels only where a block is tall enough for one (two rows and more, or apart from the next) */
        double rowpx = (0.935 - 0.815) * DASH_H / (double)(n_in + n_out);
        for (int b = 0; b < nb; b++) {
            int room = 1;
            if (b > 0 && fabs(pos[b] - pos[b - 1]) * rowpx < 1.1 * DASH_FONT) room = 0;
            if (room) snn_fig_yticks(f, 1, &pos[b], &lp[b], &lc[b], 1);
        }
    }
    free(perm_in);
    free(perm);
    char title[128];
    snprintf(title, sizeof title, "Network Spike Trains (%lld sampled inputs and %lld neurons)", (long long)n_in,
             (long long)n_out);
    snn_fig_title(f, title, 1.1, 0, SNN_BLACK);
    snn_fig_xlabel(f, "Time (s)");
}

static int draw_psth(snn_fig *f, act *A) {
    const traces *t = A->tr;
    int64_t T = t->T;
    double *x = malloc((size_t)T * sizeof *x), *rate = malloc((size_t)T * sizeof *rate) ,
           *rates[SNN_MAX_TYPES + 1] = {0};
    int64_t *all_in = malloc((size_t)(t->n_in ? t->n_in : 1) * sizeof *all_in);
    int ok = x && rate && all_in;
    for (int k = 0; ok && k <= A->nt; k++) ok = (rates[k] = malloc((size_t)T * sizeof(double))) != NULL;
    double ymax = 0;
    if (ok) {
        for (int64_t k = 0; k < T; k++) x[k] = time_of(t, k);
        for (int k = 0; k < A->nt; k++)
            snn_population_rate(t->out.data, T, t->n, A->idx[k], A->n_of[k], t->dt, 50.0, rates[k]);
        for (int64_t m = 0; m < t->n_in; m++) all_in[m] = m;
        snn_population_rate(t->in.data, T, t->n_in, all_in, t->n_in, t->dt, 50.0, rates[A->nt]);
        for (int k = 0; k <= A->nt; k++)
            for (int64_t s = 0; s < T; s++) ymax = fmax(ymax, rates[k][s]);
    }
    /* headroom above the highest rate for the legend's row */
    snn_fig_panel(f, 0.05, 0.615, 0.64, 0.76, 0, time_of(t, T - 1) + 0.01, 0, ymax > 0 ? ymax * 1.35 : 1, 0);
    snn_fig_axes(f, SNN_AX_GRID);
    snn_legend_entry le[SNN_MAX_TYPES + 1];
    char lab[SNN_MAX_TYPES + 1][96];
    if (ok) {
        for (int k = 0; k < A->nt; k++) {
            char cap[SNN_NAME_MAX];
            capitalize(cap, sizeof cap, A->p->rec.type_names[k]);
            snprintf(lab[k], sizeof lab[k], "%s (n=%lld)", cap, (long long)A->n_of[k]);
            snn_fig_line(f, T, x, rates[k], snn_color_alpha(type_color(k), 0.6), 1.2, SNN_SOLID);
            le[k] = (snn_legend_entry){SNN_LEG_LINE, type_color(k), SNN_SOLID, lab[k]};
        }
        snprintf(lab[A->nt], sizeof lab[0], "Feedforward (n=%lld)", (long long)t->n_in);
        snn_fig_line(f, T, x, rates[A->nt], snn_color_alpha(SNN_GREY, 0.6), 1.2, SNN_SOLID);
        le[A->nt] = (snn_legend_entry){SNN_LEG_LINE, SNN_GREY, SNN_SOLID, lab[A->nt]};
        snn_fig_legend(f, A->nt + 1, le, SNN_LEGEND_BEST | SNN_LEGEND_ROW, 0.8);
    }
    snn_fig_title(f, "Population Activity (50 ms box-car)", 1.1, 0, SNN_BLACK);
    snn_fig_xlabel(f, "Time (s)");
    snn_fig_ylabel(f, "Firing Rate (Hz)");
    free(x), free(rate), free(all_in);
    for (int k = 0; k <= A->nt; k++) free(rates[k]);
    return ok ? 0 : -1;
}

static void draw_voltage(snn_fig *f, act *A) {
    const traces *t = A->tr;
    int64_t T = t->T, j = t->sel;
    int ty = (int)A->s->cell_types[j];
    const snn_physiology *ph = &A->p->rec.physiology[ty];
    double *x = malloc((size_t)T * sizeof *x), *v = malloc((size_t)T * sizeof *v);
    double lo = fmin(-100, ph->U_reset - 5), hi = fmax(0, ph->theta + 5);
    snn_fig_panel(f, 0.05, 0.615, 0.465, 0.585, 0, time_of(t, T) + 0.01, lo, hi, 0);
    snn_fig_axes(f, SNN_AX_GRID);
    if (x && v) {
        const float *vf = t->v.data;
        for (int64_t k = 0; k < T; k++) x[k] = time_of(t, k), v[k] = vf[k];
        snn_fig_line(f, T, x, v, SNN_BLACK, 0.8, SNN_SOLID);
        const uint8_t *out = t->out.data;
        for (int64_t k = 0; k < T; k++)
            if (out[k * t->n + j]) snn_fig_segment(f, x[k], ph->theta, x[k], 0, SNN_COLOR_A(0, 0, 0, 0.7), 0.8);
    }
    snn_fig_hline(f, ph->theta, SNN_COLOR_A(255, 0, 0, 0.6), 1.2, SNN_DASHED);
    snn_fig_hline(f, ph->U_reset, SNN_COLOR_A(0, 0, 255, 0.6), 1.2, SNN_DASHED);
    char cap[SNN_NAME_MAX], buf[256], th[64], rs[64];
    capitalize(cap, sizeof cap, A->p->rec.type_names[ty]);
    snprintf(buf, sizeof buf, "Membrane Potential (neuron %lld, %s)", (long long)j, cap);
    snprintf(th, sizeof th, "Threshold (%g mV)", ph->theta);
    snprintf(rs, sizeof rs, "Reset (%g mV)", ph->U_reset);
    snn_legend_entry le[2] = {{SNN_LEG_LINE, SNN_COLOR(255, 0, 0), SNN_DASHED, th},
                              {SNN_LEG_LINE, SNN_COLOR(0, 0, 255), SNN_DASHED, rs}};
    snn_fig_legend(f, 2, le, SNN_LEGEND_BEST, 0.8);
    snn_fig_title(f, buf, 1.1, 0, SNN_BLACK);
    snn_fig_xlabel(f, "Time (s)");
    snn_fig_ylabel(f, "Voltage (mV)");
    free(x), free(v);
}

/* conductances and currents: the last 10 % of the run */
static void draw_conductances_currents(snn_fig *f, act *A) {
    const traces *t = A->tr;
    int64_t T = t->T, S = t->S, n_rec = A->p->rec.n_synapses;
    int64_t t0 = T - T / 10 > 0 && T >= 10 ? T - T / 10 : 0, L = T - t0;
    if (n_rec > S) n_rec = S;
    double *x = malloc((size_t)L * sizeof *x), *y = malloc((size_t)L * sizeof *y), *pool = malloc((size_t)(L * S + 1) * sizeof *pool);
    double *ex = malloc((size_t)L * sizeof *ex), *ih = malloc((size_t)L * sizeof *ih), *tot = malloc((size_t)L * sizeof *tot);
    if (!x || !y || !pool || !ex || !ih || !tot) goto out;
    const float *g = t->g.data, *isyn = t->isyn.data, *ileak = t->ileak.data;
    for (int64_t k = 0; k < L; k++) x[k] = time_of(t, t0 + k);
    /* group of each column: 0 recurrent excitatory, 1 recurrent inhibitory, 2 feedforward */
    int grp[2 * SNN_MAX_SYNAPSES];
    for (int64_t s = 0; s < S; s++) grp[s] = s >= n_rec ? 2 : is_inhibitory_synapse(t->syn[s]) ? 1 : 0;
    /* Set1 colour by the alphabetical rank of the synapse name (reference: AMPA, GABA_A, NMDA) */
    int colour[2 * SNN_MAX_SYNAPSES];
    for (int64_t s = 0; s < S; s++) {
        int rank = 0;
        for (int64_t q = 0; q < S; q++) {
            int earlier = 0;
            for (int64_t r = 0; r < q; r++) earlier |= !strcmp(t->syn[r], t->syn[q]);
            if (!earlier && strcmp(t->syn[q], t->syn[s]) < 0) rank++;
        }
        colour[s] = rank;
    }
    /* one shared scale as the reference, but from the largest trace: the reference's 98th percentile
     * over all traces together is set by the small ones and clips the GABA trace */
    int64_t np = 0;
    double gtop = 0;
    for (int64_t s = 0; s < S; s++) {
        for (int64_t k = 0; k < L; k++) pool[k] = (double)g[((t0 + k) * 2 + 0) * S + s] + g[((t0 + k) * 2 + 1) * S + s];
        gtop = fmax(gtop, snn_percentile(pool, L, 99.5));
    }
    pool[0] = gtop;
    double glim = snn_nice_limit(pool, 1);
    static const char *grp_name[3] = {"Excitatory", "Inhibitory", "Feedforward"};
    double top = 0.375, h = 0.052, gap = 0.008;
    snn_legend_entry le[2 * SNN_MAX_SYNAPSES];
    int nle = 0;
    for (int gi = 0; gi < 3; gi++) {
        double y1 = top - gi * (h + gap);
        snn_fig_panel(f, 0.05, 0.615, y1 - h, y1, x[0], x[L - 1] + 0.01, 0, glim, 0);
        snn_fig_axes(f, SNN_AX_GRID | SNN_AX_NO_YTICKS | (gi < 2 ? SNN_AX_NO_XLABELS : 0));
        /* stacked axes: no number at the top edge, where it would collide with the next axes' zero */
        double yp[3] = {0, glim / 2, glim};
        char l0[32], l1[32];
        snprintf(l0, sizeof l0, "0");
        snprintf(l1, sizeof l1, "%g", glim / 2);
        const char *yl[3] = {l0, l1, NULL};
        snn_fig_yticks(f, 3, yp, yl, NULL, 0);
        for (int64_t s = 0; s < S; s++) {
            if (grp[s] != gi) continue;
            for (int64_t k = 0; k < L; k++) y[k] = (double)g[((t0 + k) * 2 + 0) * S + s] + g[((t0 + k) * 2 + 1) * S + s];
            snn_color c = snn_color_set1(colour[s]);
            snn_fig_line(f, L, x, y, snn_color_alpha(c, 0.8), 1.2, SNN_SOLID);
            int seen = 0;
            for (int q = 0; q < nle; q++) seen |= !strcmp(le[q].text, t->syn[s]);
            if (!seen) le[nle++] = (snn_legend_entry){SNN_LEG_LINE, c, SNN_SOLID, t->syn[s]};
        }
        snn_fig_text(f, 0.008, 0.93, grp_name[gi], 0.85, SNN_BLACK, SNN_LEFT | SNN_TOP, 1);
        if (gi == 0) snn_fig_title(f, "Conductance (last 10 % of the run)", 1.1, 0, SNN_BLACK);
        if (gi == 1) snn_fig_ylabel(f, "Conductance (nS)");
        if (gi == 2) snn_fig_xlabel(f, "Time (s)");
    }
    /* the legend in one row above the top axes, beside the title, clear of the traces */
    snn_fig_panel(f, 0.05, 0.615, top - h, top, x[0], x[L - 1] + 0.01, 0, glim, 0);
    snn_fig_legend(f, nle, le, SNN_RIGHT | SNN_LEGEND_ABOVE, 0.8);

    /* currents: depolarising positive (the simulator's currents are positive when hyperpolarising) */
    double mean_total = 0;
    for (int64_t k = 0; k < T; k++) {
        double sum = ileak[k];
        for (int64_t s = 0; s < S; s++) sum += isyn[k * S + s];
        mean_total += -sum;
    }
    mean_total /= (double)T;
    np = 0;
    for (int64_t k = 0; k < L; k++) {
        double e = 0, i = ileak[t0 + k];
        for (int64_t s = 0; s < S; s++) {
            if (grp[s] == 1 || (grp[s] == 2 && is_inhibitory_synapse(t->syn[s]))) i += isyn[(t0 + k) * S + s];
            else e += isyn[(t0 + k) * S + s];
        }
        ex[k] = -e, ih[k] = -i, tot[k] = -(e + i);
        pool[np++] = fabs(ex[k]);
        pool[np++] = fabs(ih[k]);
    }
    double ilim = snn_nice_limit(pool, np);
    snn_fig_panel(f, 0.05, 0.615, 0.045, 0.145, x[0], time_of(t, T) + 0.01, -ilim, ilim, 0);
    snn_fig_axes(f, SNN_AX_GRID);
    snn_fig_hline(f, 0, SNN_COLOR_A(0, 0, 0, 0.3), 1.0, SNN_SOLID);
    snn_fig_line(f, L, x, ex, SNN_COLOR_A(255, 0, 0, 0.7), 1.0, SNN_SOLID);
    snn_fig_line(f, L, x, ih, SNN_COLOR_A(0, 0, 255, 0.7), 1.0, SNN_SOLID);
    snn_fig_line(f, L, x, tot, SNN_COLOR_A(128, 128, 128, 0.7), 1.0, SNN_SOLID);
    char buf[96];
    snprintf(buf, sizeof buf, "last 10 %% of the run; mean over the whole run = %.2f pA", mean_total);
    snn_fig_text(f, 0.01, 0.9, buf, 0.85, SNN_BLACK, SNN_LEFT | SNN_TOP, 1);
    snn_legend_entry lc[3] = {{SNN_LEG_LINE, SNN_COLOR(255, 0, 0), SNN_SOLID, "Excitatory"},
                              {SNN_LEG_LINE, SNN_COLOR(0, 0, 255), SNN_SOLID, "Inhibitory + Leak"},
                              {SNN_LEG_LINE, SNN_GREY, SNN_SOLID, "Total"}};
    snn_fig_legend(f, 3, lc, SNN_RIGHT | SNN_LEGEND_ABOVE, 0.8);
    snn_fig_title(f, "Input Current (depolarising > 0)", 1.1, 0, SNN_BLACK);
    snn_fig_xlabel(f, "Time (s)");
    snn_fig_ylabel(f, "Current (pA)");
out:
    free(x), free(y), free(pool), free(ex), free(ih), free(tot);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void type_title(snn_fig *f, act *A, int k) {
    char cap[SNN_NAME_MAX];
    capitalize(cap, sizeof cap, A->p->rec.type_names[k]);
    snn_fig_title(f, cap, 1.05, 1, type_color(k));
}

static void hist_counts(const double *v, int64_t n, const double *edges, int nb, double *cnt, int log_bins) {
    for (int b = 0; b < nb; b++) cnt[b] = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = v[i];
        if (!isfinite(x) || x < edges[0] || x > edges[nb]) continue;
        int b;
        if (log_bins) b = (int)floor((log10(x) - log10(edges[0])) / (log10(edges[nb]) - log10(edges[0])) * nb);
        else b = (int)floor((x - edges[0]) / (edges[nb] - edges[0]) * nb);
        if (b >= nb) b = nb - 1;  /* numpy: the last bin is closed */
        if (b < 0) b = 0;
        /* correct the float estimate against the exact edges */
        while (b > 0 && x < edges[b]) b--;
        while (b < nb - 1 && x >= edges[b + 1]) b++;
        cnt[b] += 1;
    }
}

static void draw_right_column(snn_fig *f, act *A) {
    const traces *t = A->tr;
    int nt = A->nt;
    int64_t N = t->n, T = t->T;
    double secs = (double)T * t->dt / 1000.0;
    double *rate = malloc((size_t)N * sizeof *rate), *cv = malloc((size_t)N * sizeof *cv);
    int64_t total_spikes = A->start[N];
    double *isi = malloc((size_t)(total_spikes + 1) * sizeof *isi);
    if (!rate || !cv || !isi) goto out;
    for (int64_t j = 0; j < N; j++) {
        int64_t ns = A->start[j + 1] - A->start[j];
        rate[j] = (double)ns / secs;
        cv[j] = snn_isi_cv(A->times + A->start[j], ns);
    }
    /* R0: rates on shared log bins between the smallest and largest nonzero rate of all types */
    double rmin = INFINITY, rmax = 0;
    for (int64_t j = 0; j < N; j++)
        if (rate[j] > 0) rmin = fmin(rmin, rate[j]), rmax = fmax(rmax, rate[j]);
    if (!(rmax > 0)) rmin = 0.1, rmax = 10;
    if (rmax <= rmin) rmin /= 1.5, rmax *= 1.5;
    double edges[51], cnt[50];
    for (int b = 0; b < 30; b++) edges[b] = pow(10, log10(rmin) + (log10(rmax) - log10(rmin)) * b / 29.0);
    row_title(f, 0, "Firing Rate Distribution");
    for (int k = 0; k < nt; k++) {
        double x0, x1, y0, y1;
        right_cell(0, k, nt, &x0, &x1, &y0, &y1);
        double *v = malloc((size_t)(A->n_of[k] + 1) * sizeof *v);
        if (!v) continue;
        int64_t nv = 0, silent = 0;
        double mean = 0;
        for (int64_t q = 0; q < A->n_of[k]; q++) {
            double r = rate[A->idx[k][q]];
            if (r > 0) v[nv++] = r, mean += r;
            else silent++;
        }
        /* the dashed line: the mean of the active cells (a log axis has no 0); the legend also gives the
         * population mean, silent cells included */
        double mean_all = A->n_of[k] ? mean / (double)A->n_of[k] : NAN;
        mean = nv ? mean / (double)nv : NAN;
        hist_counts(v, nv, edges, 29, cnt, 1);
        double cmax = silent;
        for (int b = 0; b < 29; b++) cmax = fmax(cmax, cnt[b]);
        char l1[64], l2[64], l3[64], l4[64];
        snprintf(l1, sizeof l1, "n=%lld", (long long)A->n_of[k]);
        snprintf(l2, sizeof l2, "Mean of active: %.2f Hz", mean);
        snprintf(l4, sizeof l4, "Mean of all: %.2f Hz", mean_all);
        snprintf(l3, sizeof l3, "Silent: %lld", (long long)silent);
        snn_legend_entry le[4] = {{SNN_LEG_NONE, SNN_BLACK, SNN_SOLID, l1},
                                  {SNN_LEG_LINE, SNN_GREY, SNN_DASHED, l2},
                                  {SNN_LEG_NONE, SNN_BLACK, SNN_SOLID, l4},
                                  {SNN_LEG_HATCH, snn_color_alpha(type_color(k), 0.6), SNN_SOLID, l3}};
        if (nv > 0) {
            /* room right of the last bar (it would touch the frame) and left of the first for the
             * silent bar; above the bars for the legend */
            snn_fig_panel(f, x0, x1, y0, y1, 0.5 * rmin, 1.25 * rmax, 0, cmax > 0 ? cmax * 1.1 : 1, SNN_AX_LOGX);
            double sil_e[3] = {0.55 * rmin, 0.65 * rmin, edges[0]}, sil_h[2] = {(double)silent, 0};
            double top = snn_fig_legend_headroom(f, 4, le, 0.75, 29, edges, cnt, cmax > 0 ? cmax * 1.1 : 1);
            top = snn_fig_legend_headroom(f, 4, le, 0.75, 2, sil_e, sil_h, top);
            snn_fig_window(f, 0.5 * rmin, 1.25 * rmax, 0, top);
            snn_fig_axes(f, SNN_AX_GRID | SNN_AX_INT_Y);
            snn_fig_bars(f, 29, edges, cnt, snn_color_alpha(type_color(k), 0.6), SNN_BLACK);
            snn_fig_vline(f, mean, SNN_COLOR_A(128, 128, 128, 0.6), 2.0, SNN_DASHED);
            if (silent > 0) {
                snn_fig_rect(f, 0.55 * rmin, 0.65 * rmin, 0, (double)silent, snn_color_alpha(type_color(k), 0.6),
                             type_color(k), 1);
                snn_fig_datatext(f, 0.6 * rmin, 0, "0", 0.8, SNN_BLACK, SNN_CENTER | SNN_TOP, 0);
            }
        } else {
            snn_fig_panel(f, x0, x1, y0, y1, 0, 1, 0, silent > 0 ? silent * 1.1 : 1, 0);
            snn_fig_axes(f, SNN_AX_GRID);
            snn_fig_text(f, 0.5, 0.5, "all neurons silent", 0.9, SNN_GREY, SNN_CENTER | SNN_MIDDLE, 0);
        }
        snn_fig_legend(f, 4, le, SNN_LEGEND_BEST, 0.75);
        type_title(f, A, k);
        snn_fig_xlabel(f, "Firing Rate (Hz)");
        if (k == 0) snn_fig_ylabel(f, "Count");
        free(v);
    }

    /* R1: CV, 50 shared linear bins */
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t j = 0; j < N; j++)
        if (isfinite(cv[j])) lo = fmin(lo, cv[j]), hi = fmax(hi, cv[j]);
    int any_cv = isfinite(lo);
    double e0 = any_cv ? fmax(0, lo - 0.05 * (hi - lo)) : 0, e1 = any_cv ? hi + 0.05 * (hi - lo) : 2;
    if (e1 <= e0) e1 = e0 + 1;
    for (int b = 0; b <= 50; b++) edges[b] = e0 + (e1 - e0) * b / 50.0;
    row_title(f, 1, "Coefficient of Variation");
    for (int k = 0; k < nt; k++) {
        double x0, x1, y0, y1;
        right_cell(1, k, nt, &x0, &x1, &y0, &y1);
        double *v = malloc((size_t)(A->n_of[k] + 1) * sizeof *v);
        if (!v) continue;
        int64_t nv = 0;
        double mean = 0;
        for (int64_t q = 0; q < A->n_of[k]; q++)
            if (isfinite(cv[A->idx[k][q]])) v[nv++] = cv[A->idx[k][q]], mean += v[nv - 1];
        mean = nv ? mean / (double)nv : NAN;
        hist_counts(v, nv, edges, 50, cnt, 0);
        double cmax = 0;
        for (int b = 0; b < 50; b++) cmax = fmax(cmax, cnt[b]);
        char l1[64], l2[64];
        snprintf(l1, sizeof l1, "n=%lld", (long long)nv);
        snprintf(l2, sizeof l2, "Mean: %.2f", mean);
        snn_legend_entry le[2] = {{SNN_LEG_PATCH, snn_color_alpha(type_color(k), 0.6), SNN_SOLID, l1},
                                  {SNN_LEG_LINE, SNN_GREY, SNN_DASHED, l2}};
        snn_fig_panel(f, x0, x1, y0, y1, e0, e1, 0, cmax > 0 ? cmax * 1.1 : 1, 0);
        if (nv > 0) snn_fig_window(f, e0, e1, 0, snn_fig_legend_headroom(f, 2, le, 0.75, 50, edges, cnt, cmax * 1.1));
        snn_fig_axes(f, SNN_AX_GRID_Y | SNN_AX_INT_Y);
        if (nv > 0) {
            snn_fig_bars(f, 50, edges, cnt, snn_color_alpha(type_color(k), 0.6), SNN_BLACK);
            snn_fig_vline(f, mean, SNN_COLOR_A(128, 128, 128, 0.6), 2.0, SNN_DASHED);
            snn_fig_legend(f, 2, le, SNN_LEGEND_BEST, 0.75);
        } else {
            snn_fig_text(f, 0.5, 0.5, "No valid CV values (< 3 spikes)", 0.9, SNN_GREY, SNN_CENTER | SNN_MIDDLE, 0);
        }
        type_title(f, A, k);
        snn_fig_xlabel(f, "Coefficient of Variation (CV)");
        if (k == 0) snn_fig_ylabel(f, "Count");
        free(v);
    }

    /* R2: ISIs in seconds, 50 bins up to the 99.5th percentile of all ISIs */
    int64_t n_isi = 0, type_off[SNN_MAX_TYPES + 1] = {0};
    for (int k = 0; k < nt; k++) {
        for (int64_t q = 0; q < A->n_of[k]; q++) {
            int64_t j = A->idx[k][q], ns = A->start[j + 1] - A->start[j];
            for (int64_t i = 1; i < ns; i++)
                isi[n_isi++] = (double)(A->times[A->start[j] + i] - A->times[A->start[j] + i - 1]) * t->dt / 1000.0;
        }
        type_off[k + 1] = n_isi;
    }
    double xlim = 1;
    if (n_isi > 0) {
        double *cp = malloc((size_t)n_isi * sizeof *cp);
        if (cp) {
            memcpy(cp, isi, (size_t)n_isi * sizeof *cp);
            xlim = snn_percentile(cp, n_isi, 99.5);
            free(cp);
        }
        if (!(xlim > 0)) xlim = t->dt / 1000.0;
    }
    for (int b = 0; b <= 50; b++) edges[b] = xlim * b / 50.0;
    row_title(f, 2, "Inter-Spike Interval");
    for (int k = 0; k < nt; k++) {
        double x0, x1, y0, y1;
        right_cell(2, k, nt, &x0, &x1, &y0, &y1);
        int64_t nv = type_off[k + 1] - type_off[k];
        const double *v = isi + type_off[k];
        double mean = 0;
        for (int64_t i = 0; i < nv; i++) mean += v[i];
        mean = nv ? mean / (double)nv : NAN;
        hist_counts(v, nv, edges, 50, cnt, 0);
        double cmax = 0;
        for (int b = 0; b < 50; b++) cmax = fmax(cmax, cnt[b]);
        char l1[64], l2[64];
        snprintf(l1, sizeof l1, "n=%lld", (long long)nv);
        snprintf(l2, sizeof l2, "Mean: %.4f s", mean);
        snn_legend_entry le[2] = {{SNN_LEG_PATCH, snn_color_alpha(type_color(k), 0.6), SNN_SOLID, l1},
                                  {SNN_LEG_LINE, SNN_GREY, SNN_DASHED, l2}};
        snn_fig_panel(f, x0, x1, y0, y1, 0, xlim, 0, cmax > 0 ? cmax * 1.1 : 1, 0);
        if (nv > 0) snn_fig_window(f, 0, xlim, 0, snn_fig_legend_headroom(f, 2, le, 0.75, 50, edges, cnt, cmax * 1.1));
        snn_fig_axes(f, SNN_AX_GRID_Y | SNN_AX_INT_Y);
        if (nv > 0) {
            snn_fig_bars(f, 50, edges, cnt, snn_color_alpha(type_color(k), 0.6), SNN_BLACK);
            snn_fig_vline(f, mean, SNN_COLOR_A(128, 128, 128, 0.6), 2.0, SNN_DASHED);
            snn_fig_legend(f, 2, le, SNN_LEGEND_BEST, 0.75);
        } else {
            snn_fig_text(f, 0.5, 0.5, "No ISIs found", 0.9, SNN_GREY, SNN_CENTER | SNN_MIDDLE, 0);
        }
        type_title(f, A, k);
        snn_fig_xlabel(f, "Inter-Spike Interval (s)");
        if (k == 0) snn_fig_ylabel(f, "Count");
    }

    /* R3: Fano factor against window size; one shared y range */
    static const int64_t wins[20] = {1, 1, 2, 2, 4, 6, 8, 12, 18, 26, 37, 54, 78, 112, 162, 233, 335, 483, 695, 1000};
    double fm[SNN_MAX_TYPES][20], fs[SNN_MAX_TYPES][20], ylo = INFINITY, yhi = -INFINITY;
    int valid[SNN_MAX_TYPES] = {0};
    double *ff = malloc((size_t)(N + 1) * sizeof *ff);
    for (int k = 0; ff && k < nt; k++)
        for (int w = 0; w < 20; w++) {
            int64_t nv = 0;
            double m = 0, ss = 0;
            for (int64_t q = 0; q < A->n_of[k]; q++) {
                int64_t j = A->idx[k][q];
                double v = snn_fano_factor(A->times + A->start[j], A->start[j + 1] - A->start[j], T, wins[w]);
                if (isfinite(v)) ff[nv++] = v, m += v;
            }
            m = nv ? m / (double)nv : NAN;
            for (int64_t i = 0; i < nv; i++) ss += (ff[i] - m) * (ff[i] - m);
            fm[k][w] = m;
            fs[k][w] = nv ? sqrt(ss / (double)nv) : NAN;
            if (nv) {
                valid[k] = 1;
                ylo = fmin(ylo, m - fs[k][w]), yhi = fmax(yhi, m + fs[k][w]);
            }
        }
    free(ff);
    if (!isfinite(ylo)) ylo = 0, yhi = 2;
    ylo = fmin(ylo, 1), yhi = fmax(yhi, 1);
    double pad = 0.05 * (yhi - ylo);
    row_title(f, 3, "Fano Factor");
    double xw[20];
    for (int w = 0; w < 20; w++) xw[w] = (double)wins[w] * t->dt / 1000.0;
    for (int k = 0; k < nt; k++) {
        double x0, x1, y0, y1;
        right_cell(3, k, nt, &x0, &x1, &y0, &y1);
        snn_fig_panel(f, x0, x1, y0, y1, xw[0] / 1.5, xw[19] * 1.5, ylo - pad, yhi + pad, SNN_AX_LOGX);
        snn_fig_axes(f, SNN_AX_GRID);
        if (valid[k]) {
            double lo_b[20], hi_b[20];
            for (int w = 0; w < 20; w++) lo_b[w] = fm[k][w] - fs[k][w], hi_b[w] = fm[k][w] + fs[k][w];
            snn_fig_band(f, 20, xw, lo_b, hi_b, snn_color_alpha(type_color(k), 0.2));
            snn_fig_line(f, 20, xw, fm[k], snn_color_alpha(type_color(k), 0.8), 2.0, SNN_DASHED);
            snn_fig_errorbars(f, 20, xw, fm[k], fs[k], SNN_COLOR_A(0, 0, 0, 0.6), 4, 3.5);
            snn_fig_hline(f, 1, SNN_COLOR_A(0, 0, 0, 0.7), 1.5, SNN_SOLID);
        } else {
            snn_fig_text(f, 0.5, 0.5, "No spikes detected", 0.9, SNN_GREY, SNN_CENTER | SNN_MIDDLE, 0);
        }
        type_title(f, A, k);
        snn_fig_xlabel(f, "Window Size (s)");
        if (k == 0) snn_fig_ylabel(f, "Mean Fano Factor");
    }
out:
    free(rate), free(cv), free(isi);
    (void)cmp_d;
}

static int act_init(act *A, const traces *t, const snn_structure *s, const snn_params *p, snn_error *err) {
    memset(A, 0, sizeof *A);
    A->tr = t, A->s = s, A->p = p;
    A->nt = p->rec.n_types;
    if (A->nt < 1 || A->nt > SNN_MAX_TYPES) return snn_fail(err, SNN_EINPUT, "no recurrent cell types to plot");
    if (snn_spike_times(t->out.data, t->T, t->n, &A->times, &A->start))
        return snn_fail(err, SNN_ERUN, "out of memory for the spike statistics");
    for (int k = 0; k < A->nt; k++) {
        A->idx[k] = malloc((size_t)(t->n + 1) * sizeof(int64_t));
        if (!A->idx[k]) return snn_fail(err, SNN_ERUN, "out of memory for the spike statistics");
    }
    for (int64_t j = 0; j < t->n; j++) {
        int64_t k = s->cell_types[j];
        if (k >= 0 && k < A->nt) A->idx[k][A->n_of[k]++] = j;
    }
    return SNN_OK;
}

static void act_free(act *A) {
    free(A->times);
    free(A->start);
    for (int k = 0; k < SNN_MAX_TYPES; k++) free(A->idx[k]);
}

int snn_plot_activity(const char *png, const char *traces_npz, const snn_structure *s, const snn_params *p,
                      snn_error *err) {
    traces t;
    int rc = traces_load(traces_npz, s, 0, &t, err);
    if (rc) return rc;
    act A;
    rc = act_init(&A, &t, s, p, err);
    snn_fig *f = rc ? NULL : snn_fig_begin(DASH_W, DASH_H, DASH_FONT, err);
    if (f) {
        char buf[256];
        snprintf(buf, sizeof buf, "Activity: trial 0, %.2f s (%lld steps of %g ms), %lld neurons", time_of(&t, t.T),
                 (long long)t.T, t.dt, (long long)t.n);
        snn_fig_figtext(f, 0.5, 0.985, buf, 1.35, 1, SNN_CENTER | SNN_TOP);
        draw_raster(f, &A);
        draw_psth(f, &A);
        draw_voltage(f, &A);
        draw_conductances_currents(f, &A);
        draw_right_column(f, &A);
        rc = save_and_end(f, png, err);
    } else if (!rc) {
        rc = err ? err->code : SNN_ERUN;
    }
    act_free(&A);
    traces_free(&t);
    return rc;
}

/* ================================================================ F3: assembly activity */

int snn_plot_assembly_activity(const char *png, const char *traces_npz, const snn_structure *s,
                               const snn_params *p, snn_error *err) {
    traces t;
    int rc = traces_load(traces_npz, s, 1, &t, err);
    if (rc) return rc;
    int n_asm = 0;
    int32_t *dense = dense_assemblies(s->assembly_ids, t.n, &n_asm);
    int64_t T = t.T;
    double *x = malloc((size_t)T * sizeof *x), *y = malloc((size_t)T * sizeof *y);
    int64_t *idx = malloc((size_t)(t.n + 1) * sizeof *idx);
    double **rates = calloc((size_t)(n_asm ? n_asm : 1), sizeof *rates);
    snn_fig *f = NULL;
    if (!dense || !x || !y || !idx || !rates) {
        rc = snn_fail(err, SNN_ERUN, "out of memory for the assembly dashboard");
        goto done;
    }
    for (int64_t k = 0; k < T; k++) x[k] = time_of(&t, k);
    double ymax = 0;
    for (int a = 0; a < n_asm; a++) {
        /* excitatory (type 0) neurons of the assembly, 200 ms box-car (figures.md 2.6) */
        int64_t m = 0;
        for (int64_t j = 0; j < t.n; j++)
            if (dense[j] == a && s->cell_types[j] == 0) idx[m++] = j;
        if (m == 0) continue;
        rates[a] = malloc((size_t)T * sizeof(double));
        if (!rates[a]) continue;
        snn_population_rate(t.out.data, T, t.n, idx, m, t.dt, 200.0, rates[a]);
        for (int64_t k = 0; k < T; k++) ymax = fmax(ymax, rates[a][k]);
    }
    f = snn_fig_begin(DASH_W, 900, DASH_FONT, err);
    if (!f) {
        rc = err ? err->code : SNN_ERUN;
        goto done;
    }
    char buf[256];
    char cap[SNN_NAME_MAX];
    capitalize(cap, sizeof cap, p->rec.n_types > 0 ? p->rec.type_names[0] : "excitatory");
    snprintf(buf, sizeof buf, "Assemblies and odour mixing: trial 0, %.2f s; colour k = assembly k = odourant k",
             time_of(&t, T));
    snn_fig_figtext(f, 0.5, 0.975, buf, 1.3, 1, SNN_CENTER | SNN_TOP);
    snn_fig_panel(f, 0.055, 0.485, 0.12, 0.84, 0, time_of(&t, T - 1) + 0.01, 0, ymax > 0 ? ymax * 1.05 : 1, 0);
    snn_fig_axes(f, SNN_AX_GRID);
    int drawn = 0;
    for (int a = 0; a < n_asm; a++)
        if (rates[a])
            snn_fig_line(f, T, x, rates[a], snn_color_alpha(assembly_color(a, n_asm), 0.8), 1.5, SNN_SOLID), drawn++;
    if (!drawn) snn_fig_text(f, 0.5, 0.5, "no assemblies in this network", 1.0, SNN_GREY, SNN_CENTER | SNN_MIDDLE, 0);
    /* a legend while it stays small; with many assemblies the shared colours carry the pairing */
    snn_legend_entry le[10];
    char lab[10][32];
    if (drawn && n_asm <= 10) {
        for (int a = 0; a < n_asm; a++) {
            snprintf(lab[a], sizeof lab[a], "Assembly %d", a);
            le[a] = (snn_legend_entry){SNN_LEG_LINE, assembly_color(a, n_asm), SNN_SOLID, lab[a]};
        }
        snn_fig_legend(f, n_asm, le, SNN_LEGEND_BEST, 0.8);
    }
    snprintf(buf, sizeof buf, "Assembly Population Activity (%s cells, 200 ms box-car)", cap);
    snn_fig_title(f, buf, 1.1, 0, SNN_BLACK);
    snn_fig_xlabel(f, "Time (s)");
    snn_fig_ylabel(f, "Firing Rate (Hz)");

    snn_fig_panel(f, 0.555, 0.985, 0.12, 0.84, 0, time_of(&t, T - 1) + 0.01, 0, 1, 0);
    snn_fig_axes(f, SNN_AX_GRID);
    if (t.has_ouw) {
        int64_t P = t.ouw.shape[1];
        const float *w = t.ouw.data;
        for (int64_t q = 0; q < P; q++) {
            for (int64_t k = 0; k < T; k++) y[k] = w[k * P + q];
            snn_fig_line(f, T, x, y, snn_color_alpha(assembly_color((int)q, (int)P), 0.8), 1.5, SNN_SOLID);
        }
        if (P <= 10) {
            for (int64_t q = 0; q < P; q++) {
                snprintf(lab[q], sizeof lab[q], "Odourant %lld", (long long)q);
                le[q] = (snn_legend_entry){SNN_LEG_LINE, assembly_color((int)q, (int)P), SNN_SOLID, lab[q]};
            }
            snn_fig_legend(f, (int)P, le, SNN_LEGEND_BEST, 0.8);
        }
    } else {
        snn_fig_text(f, 0.5, 0.5, "no OU mixing weights recorded", 1.0, SNN_GREY, SNN_CENTER | SNN_MIDDLE, 0);
    }
    snn_fig_title(f, "OU Process Weights (Odourant Mixing)", 1.1, 0, SNN_BLACK);
    snn_fig_xlabel(f, "Time (s)");
    snn_fig_ylabel(f, "Normalized Weight");
    rc = snn_fig_save(f, png, err);
done:
    snn_fig_end(f);
    for (int a = 0; rates && a < n_asm; a++) free(rates[a]);
    free(rates), free(x), free(y), free(idx), free(dense);
    traces_free(&t);
    return rc;
}

/* ================================================================ all of a stage */

int snn_plot_dashboards(const char *dir, const char *traces_npz, const snn_structure *s, const snn_params *p,
                        int assembly, snn_error *err) {
    char figs[SNN_PATH_MAX], path[SNN_PATH_MAX];
    int rc = snn_path_join(figs, sizeof figs, dir, "figures", err);
    if (!rc) rc = snn_mkdirs(figs, err);
    if (!rc) rc = snn_path_join(path, sizeof path, figs, "connectivity_dashboard.png", err);
    if (!rc) rc = snn_plot_connectivity(path, s, p, err);
    if (!rc) rc = snn_path_join(path, sizeof path, figs, "activity_dashboard.png", err);
    if (!rc) rc = snn_plot_activity(path, traces_npz, s, p, err);
    if (!rc && assembly) rc = snn_path_join(path, sizeof path, figs, "assembly_activity_dashboard.png", err);
    if (!rc && assembly) rc = snn_plot_assembly_activity(path, traces_npz, s, p, err);
    if (!rc) printf("✓ Saved dashboard plots to %s\n", figs);
    return rc;
}

int snn_plot_state_dir(const char *dir, const snn_params *p, snn_error *err) {
    char spath[SNN_PATH_MAX], tpath[SNN_PATH_MAX];
    int rc = snn_path_join(spath, sizeof spath, dir, "network_structure.npz", err);
    if (!rc) rc = snn_path_join(tpath, sizeof tpath, dir, "dashboard_traces.npz", err);
    if (rc) return rc;
    snn_structure s = {0};
    rc = snn_structure_load(spath, p->rec.n_types, p->ff.n_types, &s, err);
    if (!rc) rc = snn_plot_dashboards(dir, tpath, &s, p, 0, err);
    snn_structure_free(&s);
    return rc;
}
