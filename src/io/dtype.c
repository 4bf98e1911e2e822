#include "io/dtype.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *descr;
    const char *name;
    size_t size;
} k_types[SNN_DTYPE_COUNT] = {
    [SNN_BOOL] = {"|b1", "bool", 1},   [SNN_I8] = {"|i1", "int8", 1},     [SNN_U8] = {"|u1", "uint8", 1},
    [SNN_I16] = {"<i2", "int16", 2},   [SNN_U16] = {"<u2", "uint16", 2},  [SNN_I32] = {"<i4", "int32", 4},
    [SNN_U32] = {"<u4", "uint32", 4},  [SNN_I64] = {"<i8", "int64", 8},   [SNN_U64] = {"<u8", "uint64", 8},
    [SNN_F32] = {"<f4", "float32", 4}, [SNN_F64] = {"<f8", "float64", 8},
};

size_t snn_dtype_size(snn_dtype t) { return k_types[t].size; }
const char *snn_dtype_descr(snn_dtype t) { return k_types[t].descr; }
const char *snn_dtype_name(snn_dtype t) { return k_types[t].name; }

int snn_dtype_parse(const char *descr, snn_dtype *out, int *big_endian) {
    if (descr == NULL || strlen(descr) < 3) return -1;
    char order = descr[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') return -1;
    for (int t = 0; t < SNN_DTYPE_COUNT; t++) {
        if (strcmp(descr + 1, k_types[t].descr + 1) == 0) {
            if (order == '>' && k_types[t].size == 1) order = '|';
            *out = (snn_dtype)t;
            if (big_endian) *big_endian = (order == '>');
            return 0;
        }
    }
    return -1;
}

int snn_dtype_is_int(snn_dtype t) { return t != SNN_F32 && t != SNN_F64; }
int snn_dtype_is_float(snn_dtype t) { return t == SNN_F32 || t == SNN_F64; }

static double get_as_double(const void *p, snn_dtype t, size_t i) {
    switch (t) {
    case SNN_BOOL: return ((const uint8_t *)p)[i] != 0;
    case SNN_I8: return ((const int8_t *)p)[i];
    case SNN_U8: return ((const uint8_t *)p)[i];
    case SNN_I16: return ((const int16_t *)p)[i];
    case SNN_U16: return ((const uint16_t *)p)[i];
    case SNN_I32: return ((const int32_t *)p)[i];
    case SNN_U32: return ((const uint32_t *)p)[i];
    case SNN_I64: return (double)((const int64_t *)p)[i];
    case SNN_U64: return (double)((const uint64_t *)p)[i];
    case SNN_F32: return ((const float *)p)[i];
    case SNN_F64: return ((const double *)p)[i];
    default: return 0;
    }
}

static int64_t get_as_int(const void *p, snn_dtype t, size_t i) {
    switch (t) {
    case SNN_I64: return ((const int64_t *)p)[i];
    case SNN_U64: return (int64_t)((const uint64_t *)p)[i];
    default: {
        /* a float outside int64 (or NaN) has no integer value; converting it would be undefined */
        double d = get_as_double(p, t, i);
        if (!(d >= -9.2e18 && d <= 9.2e18)) return 0;
        return (int64_t)d;
    }
    }
}

void snn_dtype_convert(const void *src, snn_dtype st, void *dst, snn_dtype dt, size_t n) {
    if (st == dt) {
        memcpy(dst, src, n * snn_dtype_size(st));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case SNN_BOOL: ((uint8_t *)dst)[i] = get_as_double(src, st, i) != 0; break;
        case SNN_I8: ((int8_t *)dst)[i] = (int8_t)get_as_int(src, st, i); break;
        case SNN_U8: ((uint8_t *)dst)[i] = (uint8_t)get_as_int(src, st, i); break;
        case SNN_I16: ((int16_t *)dst)[i] = (int16_t)get_as_int(src, st, i); break;
        case SNN_U16: ((uint16_t *)dst)[i] = (uint16_t)get_as_int(src, st, i); break;
        case SNN_I32: ((int32_t *)dst)[i] = (int32_t)get_as_int(src, st, i); break;
        case SNN_U32: ((uint32_t *)dst)[i] = (uint32_t)get_as_int(src, st, i); break;
        case SNN_I64: ((int64_t *)dst)[i] = get_as_int(src, st, i); break;
        case SNN_U64: ((uint64_t *)dst)[i] = (uint64_t)get_as_int(src, st, i); break;
        case SNN_F32: ((float *)dst)[i] = (float)get_as_double(src, st, i); break;
        case SNN_F64: ((double *)dst)[i] = get_as_double(src, st, i); break;
        default: break;
        }
    }
}

size_t snn_array_count(const snn_array *a) {
    size_t n = 1;
    for (int d = 0; d < a->ndim; d++) n *= (size_t)a->shape[d];
    return n;
}

void snn_array_free(snn_array *a) {
    if (a == NULL) return;
    free(a->data);
    a->data = NULL;
}
