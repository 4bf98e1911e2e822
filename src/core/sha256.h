/* SHA-256 (FIPS 180-4), for the content hashes the experiment runner records in metadata.json
 * (parameters and input files), so that a run can later be matched to the exact bytes it read.
 * Streaming: files are hashed in fixed-size pieces, never read whole (teacher stores can be large). */
#ifndef SNNFIT_CORE_SHA256_H
#define SNNFIT_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct snn_sha256 {
    uint32_t h[8];
    uint8_t block[64];
    size_t fill;     /* bytes waiting in block */
    uint64_t bytes;  /* total message length so far */
} snn_sha256;

void snn_sha256_init(snn_sha256 *c);
void snn_sha256_update(snn_sha256 *c, const void *data, size_t len);
/* Finishes the digest (32 bytes into out); c must be re-initialised before reuse. */
void snn_sha256_final(snn_sha256 *c, uint8_t out[32]);

/* Lowercase hex of a 32-byte digest into hex (65 bytes, NUL-terminated). */
void snn_sha256_to_hex(const uint8_t digest[32], char hex[65]);

/* Hex digest of a buffer. */
void snn_sha256_hex(const void *data, size_t len, char hex[65]);

/* Hex digest of a file's contents (symbolic links followed). SNN_EINPUT if it cannot be opened,
 * SNN_ERUN on a read error. */
int snn_sha256_file(const char *path, char hex[65], snn_error *err);

#endif
