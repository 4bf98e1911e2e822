#include "train/lbfgs.h"

#include <math.h>
#include <string.h>

#include "core/mem.h"

int snn_lbfgs_init(snn_lbfgs *lb, int64_t n, int m, snn_error *err) {
    memset(lb, 0, sizeof *lb);
    lb->n = n;
    lb->m = m < 1 ? 1 : m;
    lb->c1 = 1e-4;
    lb->c2 = 0.9;
    lb->first_step = 0.1;
    lb->max_evals = 25;
    size_t nn = (size_t)(n > 0 ? n : 1), mm = (size_t)lb->m;
    const char *what = "L-BFGS memory";
    lb->s = snn_calloc(mm * nn, sizeof(double), what, err);
    lb->y = snn_calloc(mm * nn, sizeof(double), what, err);
    lb->rho = snn_calloc(mm, sizeof(double), what, err);
    lb->al = snn_calloc(mm, sizeof(double), what, err);
    lb->x = snn_calloc(nn, sizeof(double), what, err);
    lb->g = snn_calloc(nn, sizeof(double), what, err);
    lb->d = snn_calloc(nn, sizeof(double), what, err);
    lb->xt = snn_calloc(nn, sizeof(double), what, err);
    lb->gt = snn_calloc(nn, sizeof(double), what, err);
    lb->xb = snn_calloc(nn, sizeof(double), what, err);
    lb->gb = snn_calloc(nn, sizeof(double), what, err);
    if (!lb->s || !lb->y || !lb->rho || !lb->al || !lb->x || !lb->g || !lb->d || !lb->xt || !lb->gt || !lb->xb ||
        !lb->gb) {
        snn_lbfgs_free(lb);
        return SNN_ERUN;
    }
    return SNN_OK;
}

void snn_lbfgs_free(snn_lbfgs *lb) {
    double *p[] = {lb->s, lb->y, lb->rho, lb->al, lb->x, lb->g, lb->d, lb->xt, lb->gt, lb->xb, lb->gb};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) snn_free(p[i]);
    memset(lb, 0, sizeof *lb);
}

static double dot(const double *a, const double *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

int snn_lbfgs_start(snn_lbfgs *lb, const double *x0, snn_lbfgs_fn fn, void *ctx, snn_error *err) {
    memcpy(lb->x, x0, (size_t)lb->n * sizeof(double));
    int rc = fn(ctx, lb->x, &lb->f, lb->g, err);
    if (rc) return rc;
    if (!isfinite(lb->f))
        return snn_fail(err, SNN_ERUN, "the loss at the starting point is not finite (%g)", lb->f);
    lb->evaluations = 1;
    lb->iterations = 0;
    lb->pairs = 0;
    lb->status = SNN_LBFGS_RUNNING;
    return SNN_OK;
}

/* d = -H g by the two-loop recursion over the stored pairs (oldest to newest in the second loop). */
static void direction(snn_lbfgs *lb) {
    const int64_t n = lb->n;
    double *d = lb->d;
    for (int64_t i = 0; i < n; i++) d[i] = -lb->g[i];
    if (lb->pairs == 0) return;
    const int m = lb->m;
    for (int64_t q = 0; q < lb->pairs; q++) {
        int64_t slot = ((lb->newest - q) % m + m) % m;
        const double *s = lb->s + (size_t)slot * n, *y = lb->y + (size_t)slot * n;
        double a = lb->rho[slot] * dot(s, d, n);
        lb->al[slot] = a;
        for (int64_t i = 0; i < n; i++) d[i] -= a * y[i];
    }
    const double *sn = lb->s + (size_t)lb->newest * n, *yn = lb->y + (size_t)lb->newest * n;
    double gamma = dot(sn, yn, n) / dot(yn, yn, n);
    for (int64_t i = 0; i < n; i++) d[i] *= gamma;
    for (int64_t q = lb->pairs - 1; q >= 0; q--) {
        int64_t slot = ((lb->newest - q) % m + m) % m;
        const double *s = lb->s + (size_t)slot * n, *y = lb->y + (size_t)slot * n;
        double b = lb->rho[slot] * dot(y, d, n);
        for (int64_t i = 0; i < n; i++) d[i] += (lb->al[slot] - b) * s[i];
    }
}

/* The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), within [lo, hi]; the middle of the
 * interval when the cubic has none or a value is not finite. */
static double cubic_min(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi) {
    if (!isfinite(f1) || !isfinite(f2) || !isfinite(g1) || !isfinite(g2)) return 0.5 * (lo + hi);
    double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
    double d2sq = d1 * d1 - g1 * g2;
    if (d2sq < 0) return 0.5 * (lo + hi);
    double d2 = sqrt(d2sq), t;
    if (x1 <= x2) t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2));
    else t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    if (!isfinite(t)) return 0.5 * (lo + hi);
    return fmin(fmax(t, lo), hi);
}

typedef struct probe {
    double t, f, dg; /* step, loss, directional derivative */
} probe;

/* Evaluates x + t d into xt, gt; a non-finite loss becomes +inf. */
static int eval_at(snn_lbfgs *lb, snn_lbfgs_fn fn, void *ctx, double t, probe *p, int *evals, snn_error *err) {
    const int64_t n = lb->n;
    for (int64_t i = 0; i < n; i++) lb->xt[i] = lb->x[i] + t * lb->d[i];
    double f = 0;
    int rc = fn(ctx, lb->xt, &f, lb->gt, err);
    if (rc) return rc;
    (*evals)++;
    p->t = t;
    p->f = isfinite(f) ? f : INFINITY;
    p->dg = isfinite(f) ? dot(lb->gt, lb->d, n) : INFINITY;
    return SNN_OK;
}

/* Keeps the lowest point seen (xb, gb). */
static void keep_best(snn_lbfgs *lb, const probe *p, probe *best) {
    if (p->f < best->f) {
        *best = *p;
        memcpy(lb->xb, lb->xt, (size_t)lb->n * sizeof(double));
        memcpy(lb->gb, lb->gt, (size_t)lb->n * sizeof(double));
    }
}

/* Strong-Wolfe line search; on return *best holds the accepted point (or the lowest one seen, or t = 0
 * when nothing was lower than f0). */
static int line_search(snn_lbfgs *lb, snn_lbfgs_fn fn, void *ctx, double t0, double f0, double dg0, probe *best,
                       int *evals, snn_error *err) {
    const double c1 = lb->c1, c2 = lb->c2;
    best->t = 0;
    best->f = f0;
    best->dg = dg0;
    probe prev = {0, f0, dg0}, cur;
    double t = t0;
    probe lo, hi;
    int bracketed = 0, rc;
    while (*evals < lb->max_evals) {
        if ((rc = eval_at(lb, fn, ctx, t, &cur, evals, err))) return rc;
        keep_best(lb, &cur, best);
        if (cur.f > f0 + c1 * t * dg0 || (*evals > 1 && cur.f >= prev.f)) {
            lo = prev;
            hi = cur;
            bracketed = 1;
            break;
        }
        if (fabs(cur.dg) <= -c2 * dg0) return SNN_OK; /* strong Wolfe: accepted (it is the best) */
        if (cur.dg >= 0) {
            lo = cur;
            hi = prev;
            bracketed = 1;
            break;
        }
        /* extrapolate: between a little past t and 10 t */
        double tn = cubic_min(prev.t, prev.f, prev.dg, cur.t, cur.f, cur.dg, t + 0.01 * (t - prev.t), 10 * t);
        prev = cur;
        t = tn;
    }
    if (!bracketed) return SNN_OK;
    /* zoom: lo satisfies the sufficient decrease and has the lower loss; the bracket shrinks */
    int insufficient = 0;
    while (*evals < lb->max_evals) {
        double a = fmin(lo.t, hi.t), b = fmax(lo.t, hi.t);
        if ((b - a) * max_abs(lb->d, lb->n) < 1e-12) break;
        t = cubic_min(lo.t, lo.f, lo.dg, hi.t, hi.f, hi.dg, a, b);
        /* safeguard: not too close to the bracket's ends (as torch's implementation) */
        double eps = 0.1 * (b - a);
        if (fmin(b - t, t - a) < eps) {
            if (insufficient || t >= b || t <= a) {
                t = fabs(t - b) < fabs(t - a) ? b - eps : a + eps;
                insufficient = 0;
            } else {
                insufficient = 1;
            }
        } else {
            insufficient = 0;
        }
        if ((rc = eval_at(lb, fn, ctx, t, &cur, evals, err))) return rc;
        keep_best(lb, &cur, best);
        if (cur.f > f0 + c1 * t * dg0 || cur.f >= lo.f) {
            hi = cur;
        } else {
            if (fabs(cur.dg) <= -c2 * dg0) return SNN_OK;
            if (cur.dg * (hi.t - lo.t) >= 0) hi = lo;
            lo = cur;
        }
    }
    return SNN_OK;
}

int snn_lbfgs_iterate(snn_lbfgs *lb, snn_lbfgs_fn fn, void *ctx, double gtol, double ftol, snn_error *err) {
    const int64_t n = lb->n;
    direction(lb);
    double dg0 = dot(lb->g, lb->d, n);
    if (!(dg0 < 0)) {
        /* not a descent direction (numerical trouble in the history): steepest descent, history cleared */
        lb->pairs = 0;
        direction(lb);
        dg0 = dot(lb->g, lb->d, n);
    }
    double t0 = 1.0;
    if (lb->pairs == 0) {
        double gm = max_abs(lb->g, n);
        t0 = gm > 0 ? lb->first_step / gm : 1.0;
    }
    probe best;
    int evals = 0;
    int rc = dg0 < 0 ? line_search(lb, fn, ctx, t0, lb->f, dg0, &best, &evals, err) : SNN_OK;
    if (rc) return rc;
    if (!(dg0 < 0)) best.t = 0;
    lb->iterations++;
    lb->evaluations += evals;
    lb->last_evals = evals;
    lb->last_step = best.t;
    if (best.t == 0 || !(best.f < lb->f)) {
        lb->status = max_abs(lb->g, n) <= gtol ? SNN_LBFGS_GRADIENT : SNN_LBFGS_NO_PROGRESS;
        return SNN_OK;
    }
    /* the new pair s = x' - x, y = g' - g (built in scratch: a rejected pair must not overwrite the
     * oldest one in the ring) */
    double *s = lb->xt, *y = lb->gt;
    for (int64_t i = 0; i < n; i++) {
        s[i] = lb->xb[i] - lb->x[i];
        y[i] = lb->gb[i] - lb->g[i];
    }
    double sy = dot(s, y, n);
    if (sy > 1e-300 * fmax(1.0, dot(y, y, n))) {
        int64_t slot = lb->pairs == 0 ? 0 : (lb->newest + 1) % lb->m;
        memcpy(lb->s + (size_t)slot * n, s, (size_t)n * sizeof(double));
        memcpy(lb->y + (size_t)slot * n, y, (size_t)n * sizeof(double));
        lb->rho[slot] = 1.0 / sy;
        lb->newest = slot;
        if (lb->pairs < lb->m) lb->pairs++;
    }
    double f_old = lb->f;
    memcpy(lb->x, lb->xb, (size_t)n * sizeof(double));
    memcpy(lb->g, lb->gb, (size_t)n * sizeof(double));
    lb->f = best.f;
    if (max_abs(lb->g, n) <= gtol) lb->status = SNN_LBFGS_GRADIENT;
    else if (f_old - lb->f <= ftol * fmax(fabs(f_old), fabs(lb->f))) lb->status = SNN_LBFGS_CHANGE;
    else lb->status = SNN_LBFGS_RUNNING;
    return SNN_OK;
}

const char *snn_lbfgs_status_text(int status) {
    switch (status) {
    case SNN_LBFGS_GRADIENT: return "gradient tolerance reached";
    case SNN_LBFGS_CHANGE: return "relative change of the loss below its tolerance";
    case SNN_LBFGS_NO_PROGRESS: return "no lower loss along the search direction (converged to the loss's precision)";
    default: return "running";
    }
}
