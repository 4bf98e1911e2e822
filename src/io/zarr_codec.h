/* Internal helpers shared by the zarr writer and reader (not for other modules): chunk decompression
 * with exact size checks, copying and filling hyper-rectangles between C-ordered buffers, and byte
 * swapping. Decoding never writes past dst_len and never reads past src_len, so a corrupt or
 * truncated chunk file becomes an error message (in `why`), not a crash. */
#ifndef SNNFIT_IO_ZARR_CODEC_H
#define SNNFIT_IO_ZARR_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef enum snn_zarr_comp {
    SNN_ZC_NONE, SNN_ZC_BLOSC, SNN_ZC_ZLIB, SNN_ZC_GZIP, SNN_ZC_ZSTD
} snn_zarr_comp;

const char *snn_zarr_comp_name(snn_zarr_comp c);

/* Decodes src into exactly dst_len bytes. Returns 0, or -1 with a reason in why (size why_n). */
int snn_zarr_decode(snn_zarr_comp c, const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_len,
                    char *why, size_t why_n);

/* Checks a chunk file without decoding it, from its first head_len bytes (up to 32), its last 4 bytes
 * and its size: blosc's header must declare dst_len decoded and file_len compressed bytes, a zstd frame
 * header dst_len (when it says), a gzip member a gzip magic and a size trailer of dst_len (mod 2^32), a
 * zlib stream a valid header, and an uncompressed chunk must be dst_len bytes. Returns 0, or -1 with a
 * reason in why. */
int snn_zarr_check_header(snn_zarr_comp c, const uint8_t *head, size_t head_len, const uint8_t tail[4],
                          size_t file_len, size_t dst_len, char *why, size_t why_n);

/* Copies the box of extent ext from src (shape sshape, at soff) into dst (shape dshape, at doff).
 * Trailing dimensions covered whole in both buffers are merged into one memcpy run. */
void snn_zarr_box_copy(uint8_t *dst, const int64_t *dshape, const int64_t *doff, const uint8_t *src,
                       const int64_t *sshape, const int64_t *soff, const int64_t *ext, int ndim, size_t isz);

/* Sets every element of the box of extent ext at doff in dst (shape dshape) to the item `fill`. */
void snn_zarr_box_fill(uint8_t *dst, const int64_t *dshape, const int64_t *doff, const int64_t *ext, int ndim,
                       const uint8_t *fill, size_t isz);

/* Reverses the byte order of n items of size isz in place. */
void snn_zarr_byteswap(uint8_t *buf, size_t n, size_t isz);

#endif
