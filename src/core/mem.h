/* Checked allocation: every buffer of a run is allocated up front through these, so that an
 * out-of-memory condition becomes an error message saying how much was asked for and for what. */
#ifndef SNNFIT_CORE_MEM_H
#define SNNFIT_CORE_MEM_H

#include <stddef.h>

#include "core/error.h"

/* Zero-filled allocation of count * size bytes (overflow-checked). Returns NULL and fills err with
 * "out of memory: could not allocate N bytes (X MiB) for <what>" on failure. */
void *snn_calloc(size_t count, size_t size, const char *what, snn_error *err);

/* 64-byte aligned, zero-filled allocation for hot arrays; free with snn_free. */
void *snn_calloc_aligned(size_t count, size_t size, const char *what, snn_error *err);

void snn_free(void *p);

/* Peak resident set size of this process in bytes (VmHWM), or 0 if unknown. */
size_t snn_peak_rss_bytes(void);

/* Memory the machine can give a new run without swapping (MemAvailable in /proc/meminfo), in bytes;
 * 0 if unknown. The default of every command's --max-memory. */
size_t snn_mem_available(void);

#endif
