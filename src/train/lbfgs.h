/* L-BFGS with a strong-Wolfe line search (Nocedal & Wright, Numerical Optimization, algorithms 7.4, 3.5
 * and 3.6), for full-batch fits of a few to a few hundred thousand parameters.
 *
 * The state is plain arrays (the point, its loss and gradient, the last m curvature pairs s = x' - x,
 * y = g' - g), so a checkpoint of it continues exactly. One iteration: the direction d = -H g by the
 * two-loop recursion with H0 = (s.y / y.y) I from the newest pair (d = -g when there is no pair or when
 * d is not a descent direction, which also clears the history); a line search along d for a step t with
 *   f(x + t d) <= f(x) + c1 t g.d   and   |g(x + t d).d| <= c2 |g.d|      (c1 = 1e-4, c2 = 0.9),
 * bracketing by extrapolation (at most 10x per trial) and zooming by safeguarded cubic interpolation,
 * at most `max_evals` evaluations; a pair is kept only when s.y > 0. The first step of the first
 * iteration moves the largest component by `first_step` (the gradient's scale is the loss's, which is
 * arbitrary); later ones start at t = 1. A non-finite loss counts as +infinity (the search backs off).
 * If no step lowers the loss, the point stays and the iteration reports no progress. */
#ifndef SNNFIT_TRAIN_LBFGS_H
#define SNNFIT_TRAIN_LBFGS_H

#include <stdint.h>

#include "core/error.h"

/* f and g (n) at x; a non-zero return aborts the iteration with that status (err filled). */
typedef int (*snn_lbfgs_fn)(void *ctx, const double *x, double *f, double *g, snn_error *err);

typedef enum snn_lbfgs_status {
    SNN_LBFGS_RUNNING = 0,
    SNN_LBFGS_GRADIENT = 1,     /* max |g| <= gradient tolerance */
    SNN_LBFGS_CHANGE = 2,       /* relative decrease of the loss <= change tolerance */
    SNN_LBFGS_NO_PROGRESS = 3   /* the line search found no lower loss along the direction */
} snn_lbfgs_status;

typedef struct snn_lbfgs {
    int64_t n;
    int m;                 /* pairs kept */
    int64_t pairs;         /* pairs stored (<= m) */
    int64_t newest;        /* slot of the newest pair */
    double *s, *y;         /* [m][n] */
    double *rho;           /* [m] 1 / (s.y) */
    double *x, *g;         /* the current point and its gradient */
    double f;              /* its loss */
    int64_t iterations;    /* iterations done */
    int64_t evaluations;   /* loss-and-gradient evaluations, the start's included */
    int status;            /* snn_lbfgs_status after the last iteration */
    /* settings */
    double c1, c2, first_step;
    int max_evals;
    /* the last iteration, for reports */
    double last_step;      /* t */
    int last_evals;        /* evaluations of its line search */
    /* scratch */
    double *d, *xt, *gt, *xb, *gb, *al;
} snn_lbfgs;

/* n parameters, m pairs; settings at their defaults (c1 1e-4, c2 0.9, first_step 0.1, max_evals 25). */
int snn_lbfgs_init(snn_lbfgs *lb, int64_t n, int m, snn_error *err);
void snn_lbfgs_free(snn_lbfgs *lb);

/* Evaluates the starting point x0. */
int snn_lbfgs_start(snn_lbfgs *lb, const double *x0, snn_lbfgs_fn fn, void *ctx, snn_error *err);

/* One iteration from the current point. Afterwards lb->status says whether to stop: max |g| <= gtol
 * (absolute), (f_before - f_after) <= ftol max(|f_before|, |f_after|), or no progress. */
int snn_lbfgs_iterate(snn_lbfgs *lb, snn_lbfgs_fn fn, void *ctx, double gtol, double ftol, snn_error *err);

/* "gradient tolerance reached", ... */
const char *snn_lbfgs_status_text(int status);

#endif
