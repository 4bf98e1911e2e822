/* Typed reading of parameter tables from a TOML tree, with the error messages every schema shares.
 *
 * Each getter reads one key of one table, checks its type and domain, and on failure fills err with
 * "<file>:<line>: [<table>] <key>: <what was expected>" (SNN_EINPUT); a missing required key reads
 * "<file>:<line of the table>: [<table>] is missing required key '<key>'". Integers are accepted
 * where floats are expected, integral floats where integers are; NaN and infinities never are.
 * Getters mark what they read as used. Used by the schema loaders of every command (config/params.c
 * and the training-stage loaders), which name tables by their dotted path ("recurrent.topology";
 * "" is the top level). */
#ifndef SNNFIT_CONFIG_PARAMS_READ_H
#define SNNFIT_CONFIG_PARAMS_READ_H

#include <stdint.h>

#include "core/error.h"
#include "config/toml.h"

typedef struct snn_pr {
    const char *file; /* name used in messages */
    snn_error *err;
} snn_pr;

/* Domains of numbers. Every number is also at most SNN_MAX_MAGNITUDE (config/limits.h) in size. */
typedef enum snn_dom {
    SNN_DOM_ANY,     /* any finite number */
    SNN_DOM_POS,     /* > 0 */
    SNN_DOM_NONNEG,  /* >= 0 */
    SNN_DOM_PROB,    /* in [0, 1] */
    SNN_DOM_RATE,    /* a firing rate: in [0, SNN_MAX_RATE_HZ] */
    SNN_DOM_WEIGHT,  /* a mean weight: in [0, SNN_MAX_WEIGHT] */
    SNN_DOM_FACTOR   /* a scaling factor: in (0, SNN_MAX_WEIGHT] */
} snn_dom;

/* A failure about key of table tpath at line: "<file>:<line>: [<tpath>] <key>: <message>". */
int snn_pr_fail(const snn_pr *r, int line, const char *tpath, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Rejects every key of t not in allowed[0..n), naming the closest allowed key ("did you mean"). */
int snn_pr_check_keys(const snn_pr *r, const toml_value *t, const char *tpath, const char *const *allowed, int n);

/* The same for tables keyed by names (cell types): `what` says what the keys must be, e.g.
 * "a recurrent cell type". */
int snn_pr_check_names(const snn_pr *r, const toml_value *t, const char *tpath, const char *const *names, int n,
                       const char *what);

/* The closest of cands[0..n) to key by edit distance, or NULL if none is close. */
const char *snn_pr_closest(const char *key, const char *const *cands, int n);

/* Sub-table key of parent (path ppath). *out = NULL when absent and not required. */
int snn_pr_table(const snn_pr *r, const toml_value *parent, const char *ppath, const char *key, int required,
                 const toml_value **out);

/* Scalars. *has (may be NULL) says whether the key was present; absent optional keys leave *out. */
int snn_pr_num(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required, snn_dom dom,
               double *out, int *has);
int snn_pr_int(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
               int64_t min, int64_t max, int64_t *out, int *has);
int snn_pr_bool(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required, int *out,
                int *has);
/* A string copied into out (size cap). */
int snn_pr_str(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required, char *out,
               size_t cap, int *has);

/* Lists: *n gets the length, at most max ("at most <max> entries" otherwise). */
int snn_pr_num_list(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                    snn_dom dom, double *out, int max, int *n, int *has);
int snn_pr_int_list(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                    int64_t min, int64_t max_value, int64_t *out, int max, int *n, int *has);
/* Strings: each non-empty and shorter than cap; duplicates rejected. */
int snn_pr_str_list(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                    char *out, size_t cap, int max, int *n, int *has);

/* A per-cell-type quantity: one number for every type, or a table keyed by type name that names
 * every type of names[0..n) exactly once (what: e.g. "a recurrent cell type", for the unknown-key
 * message). out gets n values; absent optional keys leave it. */
int snn_pr_per_type(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                    snn_dom dom, const char *const *names, int n, const char *what, double *out, int *has);

/* A rows x cols matrix (list of rows) stored into out with row stride `stride` doubles. The
 * message for a wrong shape names the row and column labels (e.g. the cell type names). */
int snn_pr_matrix(const snn_pr *r, const toml_value *t, const char *tpath, const char *key, int required,
                  snn_dom dom, int rows, const char *const *row_names, int cols, const char *const *col_names,
                  double *out, int stride, int *has);

/* "[a.b]" style path of child key under tpath, into out. */
void snn_pr_join(char *out, size_t cap, const char *tpath, const char *key);

#endif
