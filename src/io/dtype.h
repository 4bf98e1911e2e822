/* Element types of arrays in files (npy/npz, zarr) and their NumPy descriptors. Arrays on disk are
 * little-endian and C-ordered; bool is one byte holding 0 or 1. */
#ifndef SNNFIT_IO_DTYPE_H
#define SNNFIT_IO_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum snn_dtype {
    SNN_BOOL, SNN_I8, SNN_U8, SNN_I16, SNN_U16, SNN_I32, SNN_U32, SNN_I64, SNN_U64, SNN_F32, SNN_F64,
    SNN_DTYPE_COUNT
} snn_dtype;

#define SNN_MAX_NDIM 8

size_t snn_dtype_size(snn_dtype t);
/* NumPy descriptor ("|b1", "<f4", ...). */
const char *snn_dtype_descr(snn_dtype t);
/* Human name for messages ("bool", "float32", ...). */
const char *snn_dtype_name(snn_dtype t);
/* Parses a NumPy descriptor (accepts '<', '|' and '=' byte orders, and '>' for multi-byte types,
 * reported through *big_endian). Returns 0 on success, -1 for an unsupported descriptor. */
int snn_dtype_parse(const char *descr, snn_dtype *out, int *big_endian);
int snn_dtype_is_int(snn_dtype t);
int snn_dtype_is_float(snn_dtype t);

/* Converts n elements between numeric types (bool counts as integer 0/1; a float without an int64 value,
 * NaN or beyond +-9.2e18, converts to integer 0). */
void snn_dtype_convert(const void *src, snn_dtype st, void *dst, snn_dtype dt, size_t n);

/* A dense array held in memory (C order). */
typedef struct snn_array {
    snn_dtype dtype;
    int ndim;
    int64_t shape[SNN_MAX_NDIM];
    void *data;
} snn_array;

size_t snn_array_count(const snn_array *a);  /* number of elements */
void snn_array_free(snn_array *a);

#endif
