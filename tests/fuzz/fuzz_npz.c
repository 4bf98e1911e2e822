/* libFuzzer target: .npy decoding in memory and .npz archives through libzip (make fuzz). The input is
 * decoded as a .npy image and, written to a file, opened as an .npz whose every member is peeked at,
 * read, and read converted to each dtype. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/npz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_path[256];

static void check(int rc, const snn_error *e) {
    if (rc != SNN_OK && (!e->msg[0] || (rc != SNN_EINPUT && rc != SNN_ERUN))) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    snn_array a;
    snn_error err = {0};
    check(snn_npy_decode(data, size, "fuzz.npy", &a, &err), &err);
    snn_array_free(&a);

    if (!g_path[0]) snprintf(g_path, sizeof g_path, "/dev/shm/snnfit-fuzz-npz-%ld.npz", (long)getpid());
    FILE *f = fopen(g_path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    snn_error_clear(&err);
    snn_npz *z = snn_npz_open(g_path, &err);
    if (!z) {
        if (!err.msg[0]) abort();
        return 0;
    }
    for (size_t i = 0; i < snn_npz_count(z) && i < 16; i++) {
        const char *key = snn_npz_key(z, i);
        snn_error e = {0};
        int rc = snn_npz_peek(z, key, &a, &e);
        check(rc, &e);
        if (rc != SNN_OK) continue;
        /* a member may claim gigabytes that deflate from a few bytes: a real allocation, not a bug, but
         * beyond the fuzzer's memory limit */
        double bytes = (double)snn_dtype_size(a.dtype);
        for (int d = 0; d < a.ndim; d++) bytes *= (double)a.shape[d];
        if (bytes > 64.0 * 1024 * 1024) continue;
        snn_error_clear(&e);
        if (snn_npz_read(z, key, &a, &e) == SNN_OK) {
            snn_array_free(&a);
            for (int t = 0; t < SNN_DTYPE_COUNT; t++) {
                snn_error e2 = {0};
                int64_t any[SNN_MAX_NDIM] = {-1, -1, -1, -1, -1, -1, -1, -1};
                int rc = snn_npz_read_as(z, key, (snn_dtype)t, a.ndim, any, &a, &e2);
                check(rc, &e2);
                if (rc == SNN_OK) snn_array_free(&a);
            }
        } else {
            check(SNN_EINPUT, &e);
        }
    }
    snn_npz_free(z);
    return 0;
}
