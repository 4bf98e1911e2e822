/* MPI ranks (see core/par.h). Without SNNFIT_MPI, or outside an MPI job, every function is the
 * single-process case and this file makes no MPI call. */
#include "core/par.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef SNNFIT_MPI
#include <mpi.h>
#endif

static int g_rank, g_size = 1;
static int g_failed;      /* a sync failed: no more collectives */
static int g_failed_rc;
static double g_comm;     /* seconds inside MPI calls */

int snn_par_rank(void) { return g_rank; }
int snn_par_size(void) { return g_size; }
double snn_par_comm_seconds(void) { return g_comm; }

void snn_par_block(int64_t n, int r, int k, int64_t *first, int64_t *end) {
    if (k < 1) k = 1;
    *first = (n * r + k - 1) / k;
    *end = (n * (r + 1) + k - 1) / k;
}

#ifdef SNNFIT_MPI

static int g_active; /* MPI_Init was called by snn_par_init */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Completes a non-blocking operation without spinning: MPI's blocking calls busy-poll, so a rank
 * waiting at a sync while rank 0 draws figures would burn a core that rank 0 (or another job) could
 * use. Poll for a millisecond, then test every millisecond. */
static void wait_for(MPI_Request *req) {
    int done = 0;
    const double t0 = now();
    for (;;) {
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done) return;
        if (now() - t0 > 1e-3) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
}

/* Largest message: MPI counts are ints. */
#define PAR_MSG_MAX ((size_t)1 << 30)

int snn_par_built_in(void) { return 1; }

const char *snn_par_library(char *buf, size_t n) {
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len); /* may be called before MPI_Init */
    v[len < (int)sizeof v ? len : (int)sizeof v - 1] = '\0';
    char *nl = strchr(v, '\n');
    if (nl) *nl = '\0';
    char *comma = strchr(v, ',');
    if (comma) *comma = '\0';
    snprintf(buf, n, "%s", v);
    return buf;
}

/* Launched by an MPI launcher? mpirun (Open MPI), PMIx (Open MPI 5, srun --mpi=pmix), PMI (MPICH's
 * hydra, srun --mpi=pmi2). SNNFIT_MPI=0 forbids joining (the processes a sweep starts inherit their
 * rank's environment but are jobs of their own), SNNFIT_MPI=1 forces it (a singleton job). */
static int launched_by_mpi(void) {
    const char *force = getenv("SNNFIT_MPI");
    if (force && *force) return strcmp(force, "0") != 0;
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE");
}

void snn_par_init(int *argc, char ***argv) {
    if (!launched_by_mpi()) return;
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    g_active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_rank > 0 && !freopen("/dev/null", "w", stdout)) {
        /* without /dev/null the rank writes its console as rank 0 does: untidy, not wrong */
    }
}

void snn_par_finalize(void) {
    if (!g_active) return;
    fflush(stdout);
    MPI_Finalize();
    g_active = 0;
}

typedef struct par_status {
    int code;
    char msg[sizeof(((snn_error *)0)->msg)];
} par_status;

int snn_par_sync(int rc, snn_error *err) {
    if (!g_active || g_size == 1) return rc;
    if (g_failed) return g_failed_rc;
    double t0 = now();
    int mine = rc ? g_rank : g_size, first = g_size;
    MPI_Request req;
    MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    wait_for(&req);
    if (first == g_size) {
        g_comm += now() - t0;
        return SNN_OK;
    }
    static par_status st; /* 2 KB: not on the stack of every caller */
    memset(&st, 0, sizeof st);
    if (g_rank == first) {
        st.code = rc;
        if (err && err->msg[0]) snprintf(st.msg, sizeof st.msg, "%s", err->msg);
        else snprintf(st.msg, sizeof st.msg, "failed");
    }
    MPI_Ibcast(&st, (int)sizeof st, MPI_BYTE, first, MPI_COMM_WORLD, &req);
    wait_for(&req);
    g_comm += now() - t0;
    g_failed = 1;
    g_failed_rc = st.code;
    if (err && g_rank != first) {
        err->code = st.code;
        snprintf(err->msg, sizeof err->msg, "%.1900s (on MPI rank %d of %d)", st.msg, first, g_size);
    }
    return st.code;
}

int snn_par_finish(int rc, snn_error *err) {
    if (g_failed) return g_failed_rc;
    return snn_par_sync(rc, err);
}

void snn_par_abort(int code, const char *msg) {
    fflush(stdout);
    if (g_active && g_size > 1) {
        fprintf(stderr, "error: %s (on MPI rank %d of %d; stopping every rank)\n", msg, g_rank, g_size);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
    fprintf(stderr, "error: %s\n", msg);
    fflush(stderr);
    exit(code);
}

void snn_par_allreduce_sum_i64(int64_t *data, int64_t n) {
    if (!g_active || g_size == 1) return;
    double t0 = now();
    for (int64_t done = 0; done < n;) {
        int64_t c = n - done < (int64_t)(PAR_MSG_MAX / 8) ? n - done : (int64_t)(PAR_MSG_MAX / 8);
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, data + done, (int)c, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD, &req);
        wait_for(&req);
        done += c;
    }
    g_comm += now() - t0;
}

double snn_par_allreduce_max_f64(double v) {
    if (!g_active || g_size == 1) return v;
    double t0 = now(), out = v;
    MPI_Request req;
    MPI_Iallreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD, &req);
    wait_for(&req);
    g_comm += now() - t0;
    return out;
}

void snn_par_bcast(void *data, size_t bytes, int root) {
    if (!g_active || g_size == 1) return;
    double t0 = now();
    for (size_t done = 0; done < bytes;) {
        size_t c = bytes - done < PAR_MSG_MAX ? bytes - done : PAR_MSG_MAX;
        MPI_Request req;
        MPI_Ibcast((char *)data + done, (int)c, MPI_BYTE, root, MPI_COMM_WORLD, &req);
        wait_for(&req);
        done += c;
    }
    g_comm += now() - t0;
}

void snn_par_send(const void *data, size_t bytes, int dest) {
    if (!g_active || g_size == 1) return;
    double t0 = now();
    for (size_t done = 0; done < bytes;) {
        size_t c = bytes - done < PAR_MSG_MAX ? bytes - done : PAR_MSG_MAX;
        MPI_Request req;
        MPI_Isend((const char *)data + done, (int)c, MPI_BYTE, dest, 0, MPI_COMM_WORLD, &req);
        wait_for(&req);
        done += c;
    }
    g_comm += now() - t0;
}

void snn_par_recv(void *data, size_t bytes, int src) {
    if (!g_active || g_size == 1) return;
    double t0 = now();
    for (size_t done = 0; done < bytes;) {
        size_t c = bytes - done < PAR_MSG_MAX ? bytes - done : PAR_MSG_MAX;
        MPI_Request req;
        MPI_Irecv((char *)data + done, (int)c, MPI_BYTE, src, 0, MPI_COMM_WORLD, &req);
        wait_for(&req);
        done += c;
    }
    g_comm += now() - t0;
}

void snn_par_barrier(void) {
    if (!g_active || g_size == 1) return;
    double t0 = now();
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    wait_for(&req);
    g_comm += now() - t0;
}

#else /* without MPI: one process */

int snn_par_built_in(void) { return 0; }
const char *snn_par_library(char *buf, size_t n) {
    snprintf(buf, n, "not built in");
    return buf;
}
void snn_par_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
}
void snn_par_finalize(void) {}
int snn_par_sync(int rc, snn_error *err) {
    (void)err;
    return rc;
}
int snn_par_finish(int rc, snn_error *err) {
    (void)err;
    return g_failed ? g_failed_rc : rc;
}
void snn_par_abort(int code, const char *msg) {
    fflush(stdout);
    fprintf(stderr, "error: %s\n", msg);
    fflush(stderr);
    exit(code);
}
void snn_par_allreduce_sum_i64(int64_t *data, int64_t n) {
    (void)data;
    (void)n;
}
double snn_par_allreduce_max_f64(double v) { return v; }
void snn_par_bcast(void *data, size_t bytes, int root) {
    (void)data;
    (void)bytes;
    (void)root;
}
void snn_par_send(const void *data, size_t bytes, int dest) {
    (void)data;
    (void)bytes;
    (void)dest;
}
void snn_par_recv(void *data, size_t bytes, int src) {
    (void)data;
    (void)bytes;
    (void)src;
}
void snn_par_barrier(void) {}

#endif

/* Built on the functions above, so the same in both builds (they do nothing on one rank). */
void snn_par_allgather_blocks(void *data, int64_t n_units, size_t unit_bytes) {
    const int k = snn_par_size();
    for (int r = 0; r < k; r++) {
        int64_t first, end;
        snn_par_block(n_units, r, k, &first, &end);
        if (end > first) snn_par_bcast((char *)data + (size_t)first * unit_bytes, (size_t)(end - first) * unit_bytes, r);
    }
}

void snn_par_chain_in(void *data, size_t bytes) {
    if (snn_par_rank() > 0) snn_par_recv(data, bytes, snn_par_rank() - 1);
}

void snn_par_chain_out(void *data, size_t bytes) {
    const int r = snn_par_rank(), k = snn_par_size();
    if (r + 1 < k) snn_par_send(data, bytes, r + 1);
    snn_par_bcast(data, bytes, k - 1);
}
