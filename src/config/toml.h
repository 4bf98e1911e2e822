/* A TOML 1.0 reader (the subset the shipped and reference parameter files use).
 *
 * Accepts: [tables], [a.b.c] nested headers, [[arrays.of.tables]], dotted keys (a.b = 1) inside any
 * table, bare and quoted keys, basic and literal strings (one-line and multi-line) with escapes,
 * integers (decimal, with _ separators, hex/oct/bin), floats (fraction, exponent, inf, nan),
 * booleans, arrays (nested, multi-line, mixed with comments, trailing commas), inline tables, and
 * comments. Rejects with a message naming the file and line: dates/times (not used by snnfit),
 * duplicate keys, redefinition of tables, malformed values, and anything else outside TOML 1.0, and
 * (limits of this reader, far beyond any parameter file) arrays and inline tables nested more than
 * TOML_MAX_NESTING levels deep and keys of more than 64 dotted parts.
 *
 * The document is a tree of toml_value nodes; tables keep their keys in file order (synapse numbering
 * depends on it). Every node records the line where it was defined. The `used` flag is for schema
 * readers: they mark what they consume and then report every unmarked key as unknown. */
#ifndef SNNFIT_CONFIG_TOML_H
#define SNNFIT_CONFIG_TOML_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define TOML_MAX_NESTING 64

typedef enum toml_type { TOML_TABLE, TOML_ARRAY, TOML_STRING, TOML_INT, TOML_FLOAT, TOML_BOOL } toml_type;

typedef struct toml_value toml_value;
struct toml_value {
    toml_type type;
    int line;  /* 1-based line of the key (or header) that defined this value */
    int used;  /* set by schema readers */
    /* TOML_STRING */
    char *str;
    /* TOML_INT */
    int64_t i;
    /* TOML_FLOAT */
    double f;
    /* TOML_BOOL */
    int b;
    /* TOML_ARRAY: items[0..n) */
    size_t n;
    toml_value **items;
    /* TOML_TABLE: keys[0..nkeys) with vals[0..nkeys), in file order */
    size_t nkeys;
    char **keys;
    toml_value **vals;
};

/* Parses a file. On error returns NULL and fills err ("<path>:<line>: <what is wrong>"), SNN_EINPUT. */
toml_value *toml_parse_file(const char *path, snn_error *err);

/* Parses text; name is used in messages in place of a path. */
toml_value *toml_parse_string(const char *text, const char *name, snn_error *err);

void toml_free(toml_value *root);

/* The value of key in a table (not dotted: one level), or NULL. */
toml_value *toml_get(const toml_value *table, const char *key);

/* "table", "array", "string", "integer", "float", "boolean". */
const char *toml_type_name(toml_type t);

#endif
