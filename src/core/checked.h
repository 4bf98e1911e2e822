/* Checked arithmetic and strict parsing for sizes that come from user input.
 *
 * Every buffer size computed from a parameter file, a network file, a store or a checkpoint goes
 * through snn_size_product, so that a huge value becomes an error naming what was being sized instead
 * of a wrapped product (and a heap overflow). Command-line numbers go through snn_parse_i64 and
 * snn_parse_bytes, which refuse trailing text, signs where none belong and values that do not fit. */
#ifndef SNNFIT_CORE_CHECKED_H
#define SNNFIT_CORE_CHECKED_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* *out = a * b; returns 1 (and leaves *out) when the product does not fit in size_t. */
int snn_mul_overflows(size_t a, size_t b, size_t *out);

/* *out = dims[0] x ... x dims[n-1] x elem bytes. SNN_EINPUT naming `what` when a dimension is negative
 * or the product does not fit in size_t ("<what>: 3000000000 x 3000000000 x 4 bytes does not fit in
 * memory"). */
int snn_size_product(const int64_t *dims, int n, size_t elem, size_t *out, const char *what, snn_error *err);

/* int64 product with overflow check: 0 on success, 1 on overflow. */
int snn_i64_mul_overflows(int64_t a, int64_t b, int64_t *out);

/* A whole decimal integer (optional leading '-', digits only, no spaces or trailing text) that fits in
 * int64: 0 on success, -1 otherwise. */
int snn_parse_i64(const char *s, int64_t *out);

/* A byte count: a non-negative number (integer or decimal) with an optional unit K, M, G or T (powers
 * of 1024), optionally followed by "B" or "iB", case-insensitive: "8G", "512M", "1.5GiB", "1048576".
 * 0 on success, -1 for anything else (including a value beyond 2^63). */
int snn_parse_bytes(const char *s, uint64_t *out);

/* "12.3 GiB", "512.0 MiB", "800 bytes": a byte count for messages. */
void snn_format_bytes(double bytes, char *out, size_t n);

#endif
