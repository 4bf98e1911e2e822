/* Checks of core/par.h under mpirun (tests/e2e/mpi.sh runs it with 2 and 3 ranks):
 *   par_check data          the data exchanges and snn_par_block give the expected values on every rank
 *   par_check sync R CODE   rank R fails with CODE at a status sync: every rank gets CODE and rank R's
 *                           message, and exits with CODE
 *   par_check abort R CODE  rank R calls snn_par_abort(CODE) while the others wait in a sync that it
 *                           never reaches: the job must end (not hang) with exit status CODE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/par.h"

static int check_data(void) {
    const int r = snn_par_rank(), k = snn_par_size();
    int bad = 0;
    /* blocks tile [0, n) in rank order, differ by at most one, rank 0 owns unit 0 */
    for (int64_t n = 0; n < 40; n++) {
        int64_t prev_end = 0, lo = n, hi = 0;
        for (int q = 0; q < k; q++) {
            int64_t a, b;
            snn_par_block(n, q, k, &a, &b);
            if (a != prev_end || b < a) bad = 1;
            prev_end = b;
            lo = b - a < lo ? b - a : lo;
            hi = b - a > hi ? b - a : hi;
            if (q == 0 && n > 0 && b < 1) bad = 1;
        }
        if (prev_end != n || hi - lo > 1) bad = 1;
    }
    if (bad) fprintf(stderr, "rank %d: snn_par_block does not tile\n", r);
    /* exact integer sums: rank q contributes q + 1 + i at element i */
    int64_t v[5];
    for (int i = 0; i < 5; i++) v[i] = r + 1 + i;
    snn_par_allreduce_sum_i64(v, 5);
    for (int i = 0; i < 5; i++)
        if (v[i] != (int64_t)k * (k + 1) / 2 + (int64_t)k * i) {
            fprintf(stderr, "rank %d: allreduce element %d is %lld\n", r, i, (long long)v[i]);
            bad = 1;
        }
    if (snn_par_allreduce_max_f64((double)r * 1.5) != (double)(k - 1) * 1.5) {
        fprintf(stderr, "rank %d: allreduce max\n", r);
        bad = 1;
    }
    char text[32] = "";
    if (r == k - 1) snprintf(text, sizeof text, "from the last rank");
    snn_par_bcast(text, sizeof text, k - 1);
    if (strcmp(text, "from the last rank")) {
        fprintf(stderr, "rank %d: bcast gave '%s'\n", r, text);
        bad = 1;
    }
    /* every rank sends rank 0 a buffer of its own pattern */
    unsigned char buf[1000];
    if (r > 0) {
        memset(buf, r, sizeof buf);
        snn_par_send(buf, sizeof buf, 0);
    } else {
        for (int q = 1; q < k; q++) {
            memset(buf, 0, sizeof buf);
            snn_par_recv(buf, sizeof buf, q);
            for (size_t i = 0; i < sizeof buf; i++)
                if (buf[i] != q) {
                    fprintf(stderr, "rank 0: byte %zu from rank %d is %d\n", i, q, buf[i]);
                    bad = 1;
                    break;
                }
        }
    }
    snn_par_barrier();
    snn_error err = {0};
    int rc = snn_par_sync(bad ? snn_fail(&err, SNN_ERUN, "data checks failed") : SNN_OK, &err);
    printf("rank %d of %d: data %s\n", r, k, rc ? "FAILED" : "ok");
    return rc;
}

int main(int argc, char **argv) {
    snn_par_init(&argc, &argv);
    int code = 0;
    if (argc >= 2 && !strcmp(argv[1], "data")) {
        code = check_data();
    } else if (argc >= 4 && !strcmp(argv[1], "sync")) {
        int who = atoi(argv[2]), c = atoi(argv[3]);
        snn_error err = {0};
        int rc = snn_par_rank() == who ? snn_fail(&err, c, "rank %d cannot go on", who) : SNN_OK;
        rc = snn_par_sync(rc, &err);
        /* a second status sync after a failed one makes no collective (it would hang if it did) */
        rc = snn_par_finish(rc, &err);
        fprintf(stderr, "rank %d: status %d: %s\n", snn_par_rank(), rc, err.msg);
        code = rc;
    } else if (argc >= 4 && !strcmp(argv[1], "abort")) {
        int who = atoi(argv[2]), c = atoi(argv[3]);
        if (snn_par_rank() == who) snn_par_abort(c, "this rank stops the job");
        snn_error err = {0};
        snn_par_sync(SNN_OK, &err); /* never completes: rank `who` does not come */
        fprintf(stderr, "rank %d: the sync completed without rank %d\n", snn_par_rank(), who);
        code = 99;
    } else {
        fprintf(stderr, "usage: par_check data | sync RANK CODE | abort RANK CODE\n");
        code = 2;
    }
    snn_par_finalize();
    return code;
}
