/* Writing a TOML tree (config/toml.h) back to text, with values replaced or added by dotted key path
 * (how `snnfit sweep` makes each point's parameter file from the base file).
 *
 * The text is TOML 1.0 that toml.c reads back to the same tree: a table's plain values first (in
 * file order), then its sub-tables as [a.b] headers and arrays of tables as [[a.b]] (in file order,
 * which keeps the order of e.g. synapse tables); every other array, and every override value, is
 * written inline. Keys are bare when they can be, else quoted. Floats are written with the fewest
 * digits that read back to the same double ("0.1", "1e-05", "2.0", inf, nan). Comments and the
 * original layout are not kept, nor the order between a plain value and a sub-table of one table
 * (the order among a table's plain values, and among its sub-tables, is kept: synapse numbering
 * depends on the order of the synapse tables). */
#ifndef SNNFIT_CONFIG_TOML_WRITE_H
#define SNNFIT_CONFIG_TOML_WRITE_H

#include <stdio.h>

#include "core/error.h"
#include "config/toml.h"

typedef struct toml_override {
    const char *path;          /* dotted key path below the table written, e.g. "simulation.seed" */
    const toml_value *value;   /* written in place of the tree's value (added when the key is absent) */
} toml_override;

/* The table t as TOML text (malloc'd, NUL-terminated; the caller frees it). header: NULL for a
 * document root; else t is written as the table [header] (with its sub-tables as [header.x]).
 * Missing tables on an override's path are created. Returns NULL and fills err (SNN_EINPUT) when an
 * override's path runs through a value that is not a table, or into an array of tables. */
char *toml_write(const toml_value *t, const char *header, const toml_override *ov, int n_ov, snn_error *err);

/* One value as inline TOML ("1.5", "\"a b\"", "[1, 2]", "{x = 1}"); malloc'd, NULL when out of memory. */
char *toml_write_value(const toml_value *v);

/* Writes s as a TOML basic string ("..." with escapes). */
void toml_fput_string(FILE *f, const char *s);

/* Writes a key: bare if it is made of A-Z a-z 0-9 _ -, else quoted. */
void toml_fput_key(FILE *f, const char *key);

#endif
