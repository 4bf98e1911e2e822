#include "io/zarr_codec.h"

#include <blosc.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "io/dtype.h"

const char *snn_zarr_comp_name(snn_zarr_comp c) {
    switch (c) {
    case SNN_ZC_NONE: return "none";
    case SNN_ZC_BLOSC: return "blosc";
    case SNN_ZC_ZLIB: return "zlib";
    case SNN_ZC_GZIP: return "gzip";
    case SNN_ZC_ZSTD: return "zstd";
    }
    return "?";
}

static int decode_blosc(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, char *why, size_t n) {
    if (src_len < BLOSC_MIN_HEADER_LENGTH) {
        snprintf(why, n, "blosc chunk truncated (%zu bytes, shorter than the 16-byte header)", src_len);
        return -1;
    }
    size_t nbytes = 0, cbytes = 0, blocksize = 0;
    blosc_cbuffer_sizes(src, &nbytes, &cbytes, &blocksize);
    /* The blosc header's own compressed size is what decompression trusts, so a file shorter than it
     * (truncated) must be caught here before blosc reads past the buffer. */
    if (cbytes > src_len) {
        snprintf(why, n, "blosc chunk truncated (header says %zu compressed bytes, file has %zu)", cbytes, src_len);
        return -1;
    }
    if (nbytes != dst_len) {
        snprintf(why, n, "blosc chunk decompresses to %zu bytes, expected %zu", nbytes, dst_len);
        return -1;
    }
    size_t checked = 0;
    if (blosc_cbuffer_validate(src, src_len, &checked) < 0 || checked != dst_len) {
        snprintf(why, n, "blosc chunk header is corrupt");
        return -1;
    }
    int got = blosc_decompress_ctx(src, dst, dst_len, 1);
    if (got < 0 || (size_t)got != dst_len) {
        snprintf(why, n, "blosc decompression failed (code %d; corrupt chunk)", got);
        return -1;
    }
    return 0;
}

static int decode_inflate(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, int window_bits,
                          const char *what, char *why, size_t n) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, window_bits) != Z_OK) {
        snprintf(why, n, "%s: cannot initialise zlib", what);
        return -1;
    }
    const uint8_t *in = src;
    size_t in_left = src_len, out_left = dst_len;
    uint8_t *out = dst;
    int ret;
    /* zlib counts in 32-bit uInt, so feed buffers larger than 4 GiB in pieces. */
    do {
        if (s.avail_in == 0 && in_left > 0) {
            uInt k = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            s.next_in = (Bytef *)in;
            s.avail_in = k;
            in += k;
            in_left -= k;
        }
        if (s.avail_out == 0 && out_left > 0) {
            uInt k = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
            s.next_out = out;
            s.avail_out = k;
            out += k;
            out_left -= k;
        }
        ret = inflate(&s, Z_NO_FLUSH);
    } while (ret == Z_OK);
    size_t total = (size_t)s.total_out;
    inflateEnd(&s);
    if (ret == Z_STREAM_END && total == dst_len) return 0;
    if (ret == Z_STREAM_END)
        snprintf(why, n, "%s chunk decompresses to %zu bytes, expected %zu", what, total, dst_len);
    else if (ret == Z_BUF_ERROR && total == dst_len && in_left == 0 && s.avail_in > 0)
        snprintf(why, n, "%s chunk decompresses to more than the expected %zu bytes", what, dst_len);
    else if (ret == Z_BUF_ERROR)
        snprintf(why, n, "%s chunk truncated (stream ended after %zu of %zu bytes)", what, total, dst_len);
    else
        snprintf(why, n, "%s decompression failed (%s; corrupt chunk)", what, s.msg ? s.msg : zError(ret));
    return -1;
}

/* The frame header of a zstd chunk (src: its first src_len bytes): a frame, of dst_len bytes if it says. */
static int check_zstd_frame(const uint8_t *src, size_t src_len, size_t dst_len, char *why, size_t n) {
    unsigned long long content = ZSTD_getFrameContentSize(src, src_len);
    if (content == ZSTD_CONTENTSIZE_ERROR) {
        snprintf(why, n, "zstd chunk is not a zstd frame (corrupt or truncated chunk)");
        return -1;
    }
    if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != (unsigned long long)dst_len) {
        snprintf(why, n, "zstd chunk decompresses to %llu bytes, expected %zu", content, dst_len);
        return -1;
    }
    return 0;
}

static int decode_zstd(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, char *why, size_t n) {
    if (check_zstd_frame(src, src_len, dst_len, why, n)) return -1;
    size_t got = ZSTD_decompress(dst, dst_len, src, src_len);
    if (ZSTD_isError(got)) {
        snprintf(why, n, "zstd decompression failed (%s; corrupt or truncated chunk)", ZSTD_getErrorName(got));
        return -1;
    }
    if (got != dst_len) {
        snprintf(why, n, "zstd chunk decompresses to %zu bytes, expected %zu", got, dst_len);
        return -1;
    }
    return 0;
}

int snn_zarr_decode(snn_zarr_comp c, const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len, char *why,
                    size_t why_n) {
    switch (c) {
    case SNN_ZC_NONE:
        if (src_len != dst_len) {
            snprintf(why, why_n, "uncompressed chunk has %zu bytes, expected %zu", src_len, dst_len);
            return -1;
        }
        memcpy(dst, src, dst_len);
        return 0;
    case SNN_ZC_BLOSC: return decode_blosc(src, src_len, dst, dst_len, why, why_n);
    case SNN_ZC_ZLIB: return decode_inflate(src, src_len, dst, dst_len, 15, "zlib", why, why_n);
    case SNN_ZC_GZIP: return decode_inflate(src, src_len, dst, dst_len, 15 + 16, "gzip", why, why_n);
    case SNN_ZC_ZSTD: return decode_zstd(src, src_len, dst, dst_len, why, why_n);
    }
    snprintf(why, why_n, "unknown compressor");
    return -1;
}

int snn_zarr_check_header(snn_zarr_comp c, const uint8_t *head, size_t head_len, const uint8_t tail[4],
                          size_t file_len, size_t dst_len, char *why, size_t n) {
    switch (c) {
    case SNN_ZC_NONE:
        if (file_len != dst_len) {
            snprintf(why, n, "uncompressed chunk has %zu bytes, expected %zu", file_len, dst_len);
            return -1;
        }
        return 0;
    case SNN_ZC_BLOSC: {
        if (head_len < BLOSC_MIN_HEADER_LENGTH || file_len < BLOSC_MIN_HEADER_LENGTH) {
            snprintf(why, n, "blosc chunk truncated (%zu bytes, shorter than the 16-byte header)", file_len);
            return -1;
        }
        size_t nbytes = 0, cbytes = 0, blocksize = 0;
        blosc_cbuffer_sizes(head, &nbytes, &cbytes, &blocksize);
        if (cbytes != file_len) {
            snprintf(why, n, "blosc chunk truncated or corrupt (header says %zu compressed bytes, file has %zu)",
                     cbytes, file_len);
            return -1;
        }
        if (nbytes != dst_len) {
            snprintf(why, n, "blosc chunk decompresses to %zu bytes, expected %zu", nbytes, dst_len);
            return -1;
        }
        return 0;
    }
    case SNN_ZC_ZSTD: return check_zstd_frame(head, head_len, dst_len, why, n);
    case SNN_ZC_GZIP: {
        uint32_t isize = (uint32_t)tail[0] | ((uint32_t)tail[1] << 8) | ((uint32_t)tail[2] << 16) |
                         ((uint32_t)tail[3] << 24);
        if (head_len < 10 || file_len < 18 || head[0] != 0x1f || head[1] != 0x8b) {
            snprintf(why, n, "gzip chunk is not a gzip member (corrupt or truncated chunk)");
            return -1;
        }
        if (isize != (uint32_t)dst_len) {
            snprintf(why, n, "gzip chunk decompresses to %u bytes (mod 2^32), expected %zu", isize, dst_len);
            return -1;
        }
        return 0;
    }
    case SNN_ZC_ZLIB:
        if (head_len < 2 || file_len < 6 || (head[0] & 0x0f) != 8 || ((unsigned)head[0] * 256 + head[1]) % 31 != 0) {
            snprintf(why, n, "zlib chunk does not start with a zlib header (corrupt or truncated chunk)");
            return -1;
        }
        return 0;
    }
    snprintf(why, n, "unknown compressor");
    return -1;
}

/* The first dimension r such that every dimension after it is covered whole in both buffers: the
 * box is then a set of contiguous runs of ext[r] * ... * ext[ndim-1] items. */
static int run_start(const int64_t *ashape, const int64_t *bshape, const int64_t *ext, int ndim) {
    int r = ndim - 1;
    while (r > 0 && ext[r] == ashape[r] && ext[r] == bshape[r]) r--;
    return r;
}

static void c_strides(const int64_t *shape, int ndim, int64_t *stride) {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= shape[d];
    }
}

static int box_empty(const int64_t *ext, int ndim) {
    for (int d = 0; d < ndim; d++)
        if (ext[d] <= 0) return 1;
    return 0;
}

void snn_zarr_box_copy(uint8_t *dst, const int64_t *dshape, const int64_t *doff, const uint8_t *src,
                       const int64_t *sshape, const int64_t *soff, const int64_t *ext, int ndim, size_t isz) {
    if (ndim == 0) {
        memcpy(dst, src, isz);
        return;
    }
    if (box_empty(ext, ndim)) return;
    int64_t ds[SNN_MAX_NDIM], ss[SNN_MAX_NDIM], idx[SNN_MAX_NDIM] = {0};
    c_strides(dshape, ndim, ds);
    c_strides(sshape, ndim, ss);
    int r = run_start(dshape, sshape, ext, ndim);
    size_t run = isz;
    int64_t dbase = 0, sbase = 0;
    for (int d = 0; d < ndim; d++) {
        if (d >= r) run *= (size_t)ext[d];
        dbase += doff[d] * ds[d];
        sbase += soff[d] * ss[d];
    }
    for (;;) {
        int64_t dp = dbase, sp = sbase;
        for (int d = 0; d < r; d++) {
            dp += idx[d] * ds[d];
            sp += idx[d] * ss[d];
        }
        memcpy(dst + (size_t)dp * isz, src + (size_t)sp * isz, run);
        int d = r - 1;
        while (d >= 0 && ++idx[d] == ext[d]) idx[d--] = 0;
        if (d < 0) break;
    }
}

void snn_zarr_box_fill(uint8_t *dst, const int64_t *dshape, const int64_t *doff, const int64_t *ext, int ndim,
                       const uint8_t *fill, size_t isz) {
    if (ndim == 0) {
        memcpy(dst, fill, isz);
        return;
    }
    if (box_empty(ext, ndim)) return;
    int zero = 1;
    for (size_t i = 0; i < isz; i++)
        if (fill[i]) zero = 0;
    int64_t ds[SNN_MAX_NDIM], idx[SNN_MAX_NDIM] = {0};
    c_strides(dshape, ndim, ds);
    int r = run_start(dshape, dshape, ext, ndim);
    size_t items = 1;
    int64_t dbase = 0;
    for (int d = 0; d < ndim; d++) {
        if (d >= r) items *= (size_t)ext[d];
        dbase += doff[d] * ds[d];
    }
    for (;;) {
        int64_t dp = dbase;
        for (int d = 0; d < r; d++) dp += idx[d] * ds[d];
        uint8_t *p = dst + (size_t)dp * isz;
        if (zero) {
            memset(p, 0, items * isz);
        } else {
            for (size_t i = 0; i < items; i++) memcpy(p + i * isz, fill, isz);
        }
        int d = r - 1;
        while (d >= 0 && ++idx[d] == ext[d]) idx[d--] = 0;
        if (d < 0) break;
    }
}

void snn_zarr_byteswap(uint8_t *buf, size_t n, size_t isz) {
    if (isz < 2) return;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = buf + i * isz;
        for (size_t a = 0, b = isz - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
    }
}
