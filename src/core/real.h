/* The floating-point type of the simulator's state and hot loops: float32 by default (as the
 * reference), float64 with -DSNNFIT_DOUBLE=ON (used to check gradients against float64 oracles). */
#ifndef SNNFIT_CORE_REAL_H
#define SNNFIT_CORE_REAL_H

#ifdef SNNFIT_DOUBLE
typedef double snn_real;
#define SNN_REAL_NPY "<f8"
#else
typedef float snn_real;
#define SNN_REAL_NPY "<f4"
#endif

#endif
