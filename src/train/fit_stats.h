/* Standard errors of fitted parameters from the curvature of the loss (SPEC section 7.8a).
 *
 * With H the Hessian (or its Gauss-Newton approximation) of a summed negative log-likelihood in the
 * parameters (here the logs of the scaling factors), the asymptotic covariance is H^-1: the standard
 * error of parameter i is sqrt((H^-1)_ii), and the direction the data constrain least (the "sloppiest")
 * is the eigenvector of H's smallest eigenvalue, with standard error 1 / sqrt(lambda_min) along it.
 * Eigenvalues that are not positive (a direction the data do not constrain at all) make the standard
 * errors of the parameters in that direction infinite. */
#ifndef SNNFIT_TRAIN_FIT_STATS_H
#define SNNFIT_TRAIN_FIT_STATS_H

/* Eigen-decomposition of the symmetric n x n matrix A (row-major) by cyclic Jacobi rotations:
 * eigenvalues ascending into eval (n), the matching unit eigenvectors as the columns of V (n x n,
 * row-major). Returns the number of sweeps (at most 100). */
int snn_sym_eigen(int n, const double *A, double *eval, double *V);

/* Standard errors se (n) from H (n x n), with eval / V (may be NULL) receiving its eigen-decomposition.
 * Eigenvalues <= 1e-12 x the largest count as zero: the parameters with a component in their
 * eigenvectors get an infinite standard error. Returns how many eigenvalues counted as zero. */
int snn_standard_errors(int n, const double *H, double *se, double *eval, double *V);

#endif
