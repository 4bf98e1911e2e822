/* Adam over a flat vector of parameters (double), with the gradient accumulation and global-norm
 * clipping of SPEC section 7.4: gradients of `accumulation_interval` iterations are summed, then
 * averaged, clipped to a global L2 norm (factor min(1, clip / (norm + 1e-6))), and applied in one
 * bias-corrected Adam step (beta1 0.9, beta2 0.999, eps 1e-8):
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)   (torch's formula) */
#ifndef SNNFIT_TRAIN_ADAM_H
#define SNNFIT_TRAIN_ADAM_H

#include <stdint.h>

#include "core/error.h"

typedef struct snn_adam {
    int64_t n;
    double lr, beta1, beta2, eps;
    int64_t step;   /* steps taken */
    double *m, *v;  /* moments (n) */
} snn_adam;

int snn_adam_init(snn_adam *a, int64_t n, double lr, snn_error *err);
void snn_adam_free(snn_adam *a);
/* One step on params with gradient g (both n). */
void snn_adam_step(snn_adam *a, double *params, const double *g);

/* L2 norm of g (n), summed in a fixed order. */
double snn_grad_norm(const double *g, int64_t n);
/* Scales g so that its norm is at most clip (torch's clip_grad_norm_ rule); returns the factor. */
double snn_grad_clip(double *g, int64_t n, double clip);

#endif
