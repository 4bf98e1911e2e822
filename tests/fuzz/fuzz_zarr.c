/* libFuzzer target: zarr metadata and chunk decoding (make fuzz). The first byte chooses:
 *  - even: the rest is split at the first NUL into array metadata (.zarray, or zarr.json when the
 *    second byte is odd) and one chunk file; the store is opened, its chunks checked and, when small,
 *    read whole;
 *  - odd: the rest is one chunk for snn_zarr_decode and snn_zarr_check_header, with the codec and the
 *    decoded size taken from the next three bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "io/zarr.h"
#include "io/zarr_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_store[256];

static void put(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void metadata_case(const uint8_t *data, size_t size) {
    if (size < 1) return;
    int v3 = data[0] & 1;
    data++, size--;
    const uint8_t *nul = memchr(data, 0, size);
    size_t mlen = nul ? (size_t)(nul - data) : size;
    const uint8_t *chunk = nul ? nul + 1 : data + size;
    size_t clen = nul ? size - mlen - 1 : 0;
    if (!g_store[0]) snprintf(g_store, sizeof g_store, "/dev/shm/snnfit-fuzz-zarr-%ld", (long)getpid());
    char p[512];
    snn_remove_tree(g_store);
    mkdir(g_store, 0777);
    snprintf(p, sizeof p, "%s/a", g_store);
    mkdir(p, 0777);
    if (v3) {
        snprintf(p, sizeof p, "%s/zarr.json", g_store);
        const char *grp = "{\"zarr_format\": 3, \"node_type\": \"group\", \"attributes\": {\"dt\": 1.0}}";
        put(p, grp, strlen(grp));
        snprintf(p, sizeof p, "%s/a/zarr.json", g_store);
        put(p, data, mlen);
        snprintf(p, sizeof p, "%s/a/c", g_store);
        mkdir(p, 0777);
        snprintf(p, sizeof p, "%s/a/c/0", g_store);
        put(p, chunk, clen);
    } else {
        snprintf(p, sizeof p, "%s/.zgroup", g_store);
        put(p, "{\"zarr_format\": 2}", 18);
        snprintf(p, sizeof p, "%s/.zattrs", g_store);
        put(p, "{\"dt\": 1.0}", 11);
        snprintf(p, sizeof p, "%s/a/.zarray", g_store);
        put(p, data, mlen);
        snprintf(p, sizeof p, "%s/a/0", g_store);
        put(p, chunk, clen);
        snprintf(p, sizeof p, "%s/a/0.0", g_store);
        put(p, chunk, clen);
    }
    snn_error err = {0};
    snn_zarr_group *g = snn_zarr_open_group(g_store, &err);
    if (!g) abort(); /* the group metadata above is valid */
    snn_zarr_array *a = snn_zarr_open_array(g, "a", &err);
    if (!a) {
        if (err.code != SNN_EINPUT || !err.msg[0]) abort();
        snn_zarr_group_free(g);
        return;
    }
    double elems = 1, chunks = 1;
    for (int d = 0; d < snn_zarr_ndim(a); d++) {
        elems *= (double)snn_zarr_shape(a)[d];
        chunks *= snn_zarr_shape(a)[d] ? ((double)snn_zarr_shape(a)[d] / (double)snn_zarr_chunks(a)[d] + 1) : 0;
    }
    /* only stores a real run could hold: the grid is walked chunk by chunk, the array read whole */
    if (chunks <= 4096) {
        snn_sha256 id;
        snn_sha256_init(&id);
        snn_error e = {0};
        int rc = snn_zarr_check_chunks(a, 0, &id, &e);
        if (rc != SNN_OK && !e.msg[0]) abort();
    }
    if (elems * (double)snn_dtype_size(snn_zarr_dtype(a)) <= 1 << 24 && chunks <= 4096) {
        snn_array arr;
        snn_error e = {0};
        int rc = snn_zarr_read_array(a, &arr, &e);
        if (rc == SNN_OK) snn_array_free(&arr);
        else if (!e.msg[0]) abort();
    }
    snn_zarr_array_free(a);
    snn_zarr_group_free(g);
}

static void chunk_case(const uint8_t *data, size_t size) {
    if (size < 3) return;
    snn_zarr_comp c = (snn_zarr_comp)(data[0] % 5);
    size_t dst_len = ((size_t)data[1] | (size_t)data[2] << 8) * 4 + 1;
    data += 3, size -= 3;
    uint8_t *dst = malloc(dst_len);
    if (!dst) return;
    char why[256];
    why[0] = '\0';
    if (snn_zarr_decode(c, data, size, dst, dst_len, why, sizeof why) != 0 && !why[0]) abort();
    uint8_t tail[4] = {0, 0, 0, 0};
    if (size >= 4) memcpy(tail, data + size - 4, 4);
    why[0] = '\0';
    if (snn_zarr_check_header(c, data, size < 32 ? size : 32, tail, size, dst_len, why, sizeof why) != 0 && !why[0])
        abort();
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (data[0] & 1) chunk_case(data + 1, size - 1);
    else metadata_case(data + 1, size - 1);
    return 0;
}
