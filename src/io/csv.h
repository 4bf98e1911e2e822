/* Reading delimited text tables (CSV or TSV) record by record, for `snnfit import`.
 *
 * The first record is the header (column names; a UTF-8 byte-order mark is dropped). Fields may be
 * quoted with "..." ("" inside is a quote, and a quoted field may span lines); unquoted fields are
 * trimmed of surrounding spaces. Blank lines are skipped. Each record knows the line where it starts,
 * so that every message can say "<file>:<line>". Files of any size: one record in memory at a time. */
#ifndef SNNFIT_IO_CSV_H
#define SNNFIT_IO_CSV_H

#include <stdint.h>

#include "core/error.h"

typedef struct snn_csv snn_csv;

/* Opens path and reads its header. delim: ',' or '\t', or 0 to take a tab if the header line holds
 * one and a comma otherwise. */
snn_csv *snn_csv_open(const char *path, char delim, snn_error *err);
void snn_csv_close(snn_csv *c);

/* Reads the next record: 1, or 0 at the end of the file, or SNN_EINPUT negated (an unterminated
 * quote, named with file and line). */
int snn_csv_next(snn_csv *c, snn_error *err);

int snn_csv_nfields(const snn_csv *c);
const char *snn_csv_field(const snn_csv *c, int i);  /* "" past the last field */
int64_t snn_csv_line(const snn_csv *c);              /* the line the current record starts on */
const char *snn_csv_path(const snn_csv *c);

/* The header: number of columns, and the index of a column by name (-1 if absent). */
int snn_csv_ncolumns(const snn_csv *c);
int snn_csv_column(const snn_csv *c, const char *name);
const char *snn_csv_column_name(const snn_csv *c, int i);

#endif
