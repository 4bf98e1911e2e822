/* Process parallelism over MPI ranks: the only interface to MPI (only core/par.c includes mpi.h).
 *
 * Built with MPI (compile definition SNNFIT_MPI) and started by an MPI launcher (mpirun, srun with
 * PMI), snn_par_init joins the job; otherwise, or with SNNFIT_MPI=0 in the environment, every
 * function below is the single-process case (rank 0 of 1: syncs return their argument, reductions
 * and broadcasts leave the data as they are) and no MPI call is made.
 *
 * Error protocol (how an error on one rank stops every rank with its message and exit status):
 *  - Every collective is either a status sync (snn_par_sync) or a data exchange that comes right after
 *    a successful sync, with nothing that can fail in between. So a rank that fails skips ahead to
 *    its next sync, where every other rank arrives too, with the same number of syncs behind it.
 *  - snn_par_sync agrees on a status: the first failing rank's code and message are every rank's.
 *    After a failed sync no collective is made any more (the ranks return to main, which ends).
 *  - snn_par_finish is main's last sync, after the command returned on every rank.
 *  - A rank that cannot reach its next sync calls snn_par_abort: it prints its message and ends the
 *    whole job with the code (MPI_Abort; mpirun exits with that code).
 * Data collectives report no status: MPI's own errors are fatal to the job (MPI_ERRORS_ARE_FATAL).
 * Only the calling (main) thread may call these functions (MPI_THREAD_FUNNELED). A rank waiting in
 * any of them sleeps between polls (MPI's blocking calls would keep a core busy). */
#ifndef SNNFIT_CORE_PAR_H
#define SNNFIT_CORE_PAR_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Joins the MPI job when launched by an MPI launcher (see above). Ranks other than 0 get stdout
 * redirected to /dev/null: only rank 0 writes the console. Call once, first thing in main. */
void snn_par_init(int *argc, char ***argv);
/* Leaves the MPI job (no-op without one). */
void snn_par_finalize(void);

int snn_par_rank(void);
int snn_par_size(void);
/* 1 if this binary was built with MPI. */
int snn_par_built_in(void);
/* "Open MPI v4.1.4, ..." (first line of the library's version), or "not built in". */
const char *snn_par_library(char *buf, size_t n);

/* The contiguous block [*first, *end) of n units that rank r of k owns: units ceil(n*r/k) ..
 * ceil(n*(r+1)/k) - 1, so blocks differ in size by at most one, the larger ones first, and rank 0
 * owns unit 0 whenever n > 0. */
void snn_par_block(int64_t n, int r, int k, int64_t *first, int64_t *end);

/* Status sync: every rank passes its status rc (with its message in err); returns the status of the
 * lowest failing rank on every rank (0 if none), and copies that rank's message, with the rank named,
 * into err on the other ranks. */
int snn_par_sync(int rc, snn_error *err);
/* main's last sync: as snn_par_sync, unless a sync has already failed (then returns that status
 * without a collective: the other ranks are on their way out too). */
int snn_par_finish(int rc, snn_error *err);
/* Prints "error: <msg>" naming the rank to stderr and ends every rank of the job with exit status
 * code (MPI_Abort). Without an MPI job, prints the message and exits the process with code. */
void snn_par_abort(int code, const char *msg) __attribute__((noreturn));

/* Data exchanges (only right after a successful sync). Sizes are in bytes or elements of any size:
 * large transfers are split into messages MPI's int counts can describe. */
void snn_par_allreduce_sum_i64(int64_t *data, int64_t n); /* in place, exact */
double snn_par_allreduce_max_f64(double v);
void snn_par_bcast(void *data, size_t bytes, int root);
void snn_par_send(const void *data, size_t bytes, int dest);
void snn_par_recv(void *data, size_t bytes, int src);
void snn_par_barrier(void);
/* In place: rank r holds units snn_par_block(n_units, r, K) of data (unit_bytes each); afterwards
 * every rank holds all n_units, in unit order (one broadcast per rank). */
void snn_par_allgather_blocks(void *data, int64_t n_units, size_t unit_bytes);
/* A running sum carried from rank to rank (an exact reproduction of one process's loop over units in
 * order): snn_par_chain_in waits for rank r-1's values (rank 0: leaves them as they are), the rank adds
 * its units, snn_par_chain_out passes them to rank r+1 and then gives every rank the last rank's. */
void snn_par_chain_in(void *data, size_t bytes);
void snn_par_chain_out(void *data, size_t bytes);

/* Seconds this rank spent inside MPI calls (waiting for other ranks included). */
double snn_par_comm_seconds(void);

#endif
