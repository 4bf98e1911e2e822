/* TOML 1.0 reader. The redefinition rules follow Python's tomllib (the project's test oracle): a table
 * may be declared by a [header] once; tables made by dotted keys are closed to headers once their
 * section ends; inline tables and literal arrays are frozen. Those flags live in a private wrapper
 * around each public node, so toml.h stays plain data. */
#include "config/toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

enum {
    F_EXPLICIT = 1, /* declared by a [header] or [[header]], or by dotted keys of a finished section */
    F_FROZEN = 2,   /* inline table / literal array (and all inside them): never extended */
    F_AOT = 4       /* array created by [[header]] */
};

typedef struct node {
    toml_value v; /* first member: a toml_value* to it is a node* */
    int flags;
} node;

typedef struct parser {
    const char *src;
    size_t len, pos;
    int line;
    const char *name;
    snn_error *err;
    int failed;
    int depth;       /* arrays and inline tables open around the value being parsed */
    toml_value *root;
    toml_value *cur; /* table that key/value lines go into */
    /* tables made by dotted keys in the current section; marked F_EXPLICIT at the next header */
    toml_value **pending;
    size_t npending, cappending;
} parser;

static int perr(parser *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, int line, const char *fmt, ...) {
    if (p->failed) return -1;
    p->failed = 1;
    char what[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snn_fail(p->err, SNN_EINPUT, "%s:%d: %s", p->name, line, what);
    return -1;
}

static int oom(parser *p) { return perr(p, p->line, "out of memory while reading the TOML document"); }

/* ---------------------------------------------------------------------------------------------- */
/* nodes */

static toml_value *new_node(parser *p, toml_type t, int line, int flags) {
    node *n = calloc(1, sizeof *n);
    if (!n) {
        oom(p);
        return NULL;
    }
    n->v.type = t;
    n->v.line = line;
    n->flags = flags;
    return &n->v;
}

static int *flags_of(toml_value *v) { return &((node *)v)->flags; }

void toml_free(toml_value *v) {
    if (!v) return;
    free(v->str);
    for (size_t i = 0; i < v->n; i++) toml_free(v->items[i]);
    free(v->items);
    for (size_t i = 0; i < v->nkeys; i++) {
        free(v->keys[i]);
        toml_free(v->vals[i]);
    }
    free(v->keys);
    free(v->vals);
    free((node *)v);
}

toml_value *toml_get(const toml_value *table, const char *key) {
    if (!table || table->type != TOML_TABLE || !key) return NULL;
    for (size_t i = 0; i < table->nkeys; i++)
        if (strcmp(table->keys[i], key) == 0) return table->vals[i];
    return NULL;
}

const char *toml_type_name(toml_type t) {
    switch (t) {
    case TOML_TABLE: return "table";
    case TOML_ARRAY: return "array";
    case TOML_STRING: return "string";
    case TOML_INT: return "integer";
    case TOML_FLOAT: return "float";
    case TOML_BOOL: return "boolean";
    }
    return "value";
}

/* "an integer", "a string", "an inline table", ... for messages about what a name already is. */
static const char *what_it_is(toml_value *v) {
    switch (v->type) {
    case TOML_TABLE: return (*flags_of(v) & F_FROZEN) ? "an inline table" : "a table";
    case TOML_ARRAY: return (*flags_of(v) & F_AOT) ? "an array of tables" : "an array";
    case TOML_STRING: return "a string";
    case TOML_INT: return "an integer";
    case TOML_FLOAT: return "a float";
    case TOML_BOOL: return "a boolean";
    }
    return "a value";
}

/* Takes ownership of key and val (frees both on failure). */
static int table_put(parser *p, toml_value *t, char *key, toml_value *val) {
    if (t->nkeys % 8 == 0) {
        char **k = realloc(t->keys, (t->nkeys + 8) * sizeof *k);
        if (k) t->keys = k;
        toml_value **vs = k ? realloc(t->vals, (t->nkeys + 8) * sizeof *vs) : NULL;
        if (vs) t->vals = vs;
        if (!k || !vs) {
            free(key);
            toml_free(val);
            return oom(p);
        }
    }
    t->keys[t->nkeys] = key;
    t->vals[t->nkeys] = val;
    t->nkeys++;
    return 0;
}

/* A new node of type t put under key in table tbl; NULL (the error set) when memory runs out. */
static toml_value *put_new(parser *p, toml_value *tbl, const char *key, toml_type t, int line, int flags) {
    toml_value *c = new_node(p, t, line, flags);
    if (!c) return NULL;
    char *kc = strdup(key);
    if (!kc) {
        toml_free(c);
        return oom(p), NULL;
    }
    return table_put(p, tbl, kc, c) ? NULL : c;
}

static int array_push(parser *p, toml_value *a, toml_value *val) {
    if (a->n % 8 == 0) {
        toml_value **it = realloc(a->items, (a->n + 8) * sizeof *it);
        if (!it) {
            toml_free(val);
            return oom(p);
        }
        a->items = it;
    }
    a->items[a->n++] = val;
    return 0;
}

static int add_pending(parser *p, toml_value *t) {
    if (p->npending == p->cappending) {
        size_t c = p->cappending ? 2 * p->cappending : 16;
        toml_value **n = realloc(p->pending, c * sizeof *n);
        if (!n) return oom(p);
        p->pending = n;
        p->cappending = c;
    }
    p->pending[p->npending++] = t;
    return 0;
}

static void finish_section(parser *p) {
    for (size_t i = 0; i < p->npending; i++) *flags_of(p->pending[i]) |= F_EXPLICIT;
    p->npending = 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* lexing helpers */

static int peek(const parser *p) { return p->pos < p->len ? (unsigned char)p->src[p->pos] : -1; }
static int peek_at(const parser *p, size_t k) {
    return p->pos + k < p->len ? (unsigned char)p->src[p->pos + k] : -1;
}
static int at_newline(const parser *p) {
    return peek(p) == '\n' || (peek(p) == '\r' && peek_at(p, 1) == '\n');
}

static void skip_ws(parser *p) {
    while (peek(p) == ' ' || peek(p) == '\t') p->pos++;
}

static int skip_comment(parser *p) {
    if (peek(p) != '#') return 0;
    while (p->pos < p->len && !at_newline(p)) {
        int c = peek(p);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return perr(p, p->line, "control character 0x%02x in a comment", c);
        p->pos++;
    }
    return 0;
}

static void eat_newline(parser *p) {
    if (peek(p) == '\r') p->pos++;
    p->pos++;
    p->line++;
}

/* Whitespace, newlines and comments (inside arrays and between statements). */
static int skip_ws_nl(parser *p) {
    for (;;) {
        skip_ws(p);
        if (peek(p) == '#') {
            if (skip_comment(p)) return -1;
        } else if (at_newline(p)) {
            eat_newline(p);
        } else if (peek(p) == '\r') {
            return perr(p, p->line, "carriage return not followed by a newline");
        } else {
            return 0;
        }
    }
}

/* After a statement: optional comment, then end of line or end of file. */
static int end_of_line(parser *p, const char *after) {
    skip_ws(p);
    if (skip_comment(p)) return -1;
    if (p->pos >= p->len) return 0;
    if (at_newline(p)) {
        eat_newline(p);
        return 0;
    }
    int c = peek(p);
    if (c == '\r') return perr(p, p->line, "carriage return not followed by a newline");
    if (c >= 0x20 && c < 0x7f) return perr(p, p->line, "expected the end of the line after %s, found '%c'", after, c);
    return perr(p, p->line, "expected the end of the line after %s, found byte 0x%02x", after, c);
}

/* ---------------------------------------------------------------------------------------------- */
/* strings */

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static int sb_putc(parser *p, sbuf *b, char c) {
    if (b->n + 2 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 32;
        char *s = realloc(b->s, cap);
        if (!s) return oom(p);
        b->s = s;
        b->cap = cap;
    }
    b->s[b->n++] = c;
    b->s[b->n] = '\0';
    return 0;
}

static int sb_utf8(parser *p, sbuf *b, unsigned long cp) {
    char out[4];
    int k;
    if (cp < 0x80) {
        out[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    for (int i = 0; i < k; i++)
        if (sb_putc(p, b, out[i])) return -1;
    return 0;
}

static int is_hex(int c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int hex_val(int c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

static int parse_escape(parser *p, sbuf *b) {
    int line = p->line;
    p->pos++; /* backslash */
    int c = peek(p);
    p->pos++;
    switch (c) {
    case 'b': return sb_putc(p, b, '\b');
    case 't': return sb_putc(p, b, '\t');
    case 'n': return sb_putc(p, b, '\n');
    case 'f': return sb_putc(p, b, '\f');
    case 'r': return sb_putc(p, b, '\r');
    case '"': return sb_putc(p, b, '"');
    case '\\': return sb_putc(p, b, '\\');
    case 'u':
    case 'U': {
        int nd = c == 'u' ? 4 : 8;
        unsigned long cp = 0;
        for (int i = 0; i < nd; i++) {
            int h = peek(p);
            if (!is_hex(h)) return perr(p, line, "bad escape \\%c: expected %d hex digits", c, nd);
            cp = cp * 16 + (unsigned long)hex_val(h);
            p->pos++;
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return perr(p, line, "bad escape \\%c%0*lX: not a Unicode scalar value", c, nd, cp);
        if (cp == 0) return perr(p, line, "strings containing NUL (\\u0000) are not supported");
        return sb_utf8(p, b, cp);
    }
    default:
        if (c >= 0x20 && c < 0x7f) return perr(p, line, "bad escape sequence '\\%c' in a string", c);
        return perr(p, line, "bad escape sequence in a string");
    }
}

/* The opening quote(s) are at p->pos. */
static char *parse_string(parser *p) {
    int line = p->line;
    char q = p->src[p->pos];
    int multi = peek_at(p, 1) == q && peek_at(p, 2) == q;
    int literal = q == '\'';
    sbuf b = {0};
    if (sb_putc(p, &b, 'x')) return NULL; /* ensure an allocated, NUL-terminated buffer */
    b.n = 0;
    b.s[0] = '\0';
    p->pos += multi ? 3 : 1;
    if (multi && at_newline(p)) eat_newline(p); /* a newline right after the opening is trimmed */
    for (;;) {
        int c = peek(p);
        if (c < 0) {
            perr(p, line, "unterminated %sstring (opened on line %d)", multi ? "multi-line " : "", line);
            goto fail;
        }
        if (c == q) {
            if (!multi) {
                p->pos++;
                return b.s;
            }
            if (peek_at(p, 1) == q && peek_at(p, 2) == q) {
                /* up to two quotes may sit right before the closing delimiter */
                int extra = 0;
                while (extra < 2 && peek_at(p, 3 + (size_t)extra) == q) extra++;
                for (int i = 0; i < extra; i++)
                    if (sb_putc(p, &b, q)) goto fail;
                p->pos += 3 + (size_t)extra;
                return b.s;
            }
            if (sb_putc(p, &b, q)) goto fail;
            p->pos++;
            continue;
        }
        if (at_newline(p)) {
            if (!multi) {
                perr(p, line, "unterminated string (a one-line string cannot hold a newline)");
                goto fail;
            }
            if (sb_putc(p, &b, '\n')) goto fail;
            eat_newline(p);
            continue;
        }
        if (c == '\\' && !literal) {
            if (multi) {
                /* line-ending backslash: drop it and all whitespace and newlines after it */
                size_t k = 1;
                while (peek_at(p, k) == ' ' || peek_at(p, k) == '\t') k++;
                if (peek_at(p, k) == '\n' || (peek_at(p, k) == '\r' && peek_at(p, k + 1) == '\n')) {
                    p->pos += k;
                    for (;;) {
                        if (at_newline(p))
                            eat_newline(p);
                        else if (peek(p) == ' ' || peek(p) == '\t')
                            p->pos++;
                        else
                            break;
                    }
                    continue;
                }
            }
            if (parse_escape(p, &b)) goto fail;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            perr(p, p->line, "control character 0x%02x in a string (write it as an escape)", c);
            goto fail;
        }
        if (sb_putc(p, &b, (char)c)) goto fail;
        p->pos++;
    }
fail:
    free(b.s);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* keys */

typedef struct keypath {
    char *parts[64];
    int n;
} keypath;

static void keypath_free(keypath *k) {
    for (int i = 0; i < k->n; i++) free(k->parts[i]);
    k->n = 0;
}

static int is_bare(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int parse_key_parts(parser *p, keypath *k) {
    for (;;) {
        skip_ws(p);
        int c = peek(p);
        char *part = NULL;
        if (c == '"' || c == '\'') {
            if (peek_at(p, 1) == c && peek_at(p, 2) == c)
                return perr(p, p->line, "a multi-line string cannot be a key");
            part = parse_string(p);
            if (!part) return -1;
        } else if (is_bare(c)) {
            size_t s = p->pos;
            while (is_bare(peek(p))) p->pos++;
            part = malloc(p->pos - s + 1);
            if (!part) return oom(p);
            memcpy(part, p->src + s, p->pos - s);
            part[p->pos - s] = '\0';
        } else if (c < 0 || c == '\n' || c == '\r') {
            return perr(p, p->line, "expected a key, found the end of the line");
        } else if (c == '=') {
            return perr(p, p->line, "expected a key before '='");
        } else if (c >= 0x20 && c < 0x7f) {
            return perr(p, p->line, "bad character '%c' in a key (bare keys are A-Z a-z 0-9 _ -; quote others)", c);
        } else {
            return perr(p, p->line, "bad byte 0x%02x in a key (bare keys are A-Z a-z 0-9 _ -; quote others)", c);
        }
        if (k->n == 64) {
            free(part);
            return perr(p, p->line, "key has too many dotted parts");
        }
        k->parts[k->n++] = part;
        skip_ws(p);
        if (peek(p) != '.') return 0;
        p->pos++;
    }
}

/* On failure k holds nothing. */
static int parse_key(parser *p, keypath *k) {
    k->n = 0;
    if (parse_key_parts(p, k) == 0) return 0;
    keypath_free(k);
    return -1;
}

/* "a.b.c" of the first n parts, for messages. */
static void key_text(const keypath *k, int n, char *out, size_t cap) {
    out[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < n && used + 1 < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i ? "." : "", k->parts[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* values */

static toml_value *parse_value(parser *p);

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Copies the digits of s[0..n) without underscores, requiring each '_' to sit between two digits
 * that pass ok(). Returns 0 on success. */
static int strip_underscores(const char *s, size_t n, char *out, int (*ok)(int)) {
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_') {
            if (i == 0 || i + 1 >= n || !ok((unsigned char)s[i - 1]) || !ok((unsigned char)s[i + 1])) return -1;
            continue;
        }
        out[j++] = s[i];
    }
    out[j] = '\0';
    return 0;
}

static int is_oct(int c) { return c >= '0' && c <= '7'; }
static int is_bin(int c) { return c == '0' || c == '1'; }

/* A decimal digit run with optional single underscores between digits; returns its length or 0. */
static size_t digit_run(const char *s, size_t n) {
    size_t i = 0;
    if (i >= n || !is_digit((unsigned char)s[i])) return 0;
    while (i < n) {
        if (is_digit((unsigned char)s[i])) {
            i++;
        } else if (s[i] == '_' && i + 1 < n && is_digit((unsigned char)s[i + 1])) {
            i += 2;
        } else {
            break;
        }
    }
    return i;
}

static toml_value *parse_scalar_token(parser *p) {
    int line = p->line;
    size_t s = p->pos;
    /* a token runs to the next delimiter; a date-time's space separator is caught by the date check */
    while (p->pos < p->len) {
        int c = peek(p);
        if (c == ' ' || c == '\t' || c == ',' || c == ']' || c == '}' || c == '#' || c == '\n' || c == '\r') break;
        p->pos++;
    }
    size_t n = p->pos - s;
    const char *t = p->src + s;
    char tok[128];
    if (n == 0) {
        int c = peek(p);
        if (c < 0 || c == '\n' || c == '\r' || c == '#') return perr(p, line, "expected a value, found the end of the line"), NULL;
        return perr(p, line, "expected a value, found '%c'", c), NULL;
    }
    snprintf(tok, sizeof tok, "%.*s%s", (int)(n < 60 ? n : 60), t, n < 60 ? "" : "...");

    if (n == 4 && memcmp(t, "true", 4) == 0) {
        toml_value *v = new_node(p, TOML_BOOL, line, F_FROZEN);
        if (v) v->b = 1;
        return v;
    }
    if (n == 5 && memcmp(t, "false", 5) == 0) return new_node(p, TOML_BOOL, line, F_FROZEN);

    /* dates and times: dddd-dd-dd... or dd:dd... */
    if ((n >= 10 && is_digit(t[0]) && is_digit(t[1]) && is_digit(t[2]) && is_digit(t[3]) && t[4] == '-' &&
         is_digit(t[5]) && is_digit(t[6]) && t[7] == '-') ||
        (n >= 5 && is_digit(t[0]) && is_digit(t[1]) && t[2] == ':' && is_digit(t[3]) && is_digit(t[4])))
        return perr(p, line, "dates and times are not supported (value %s)", tok), NULL;

    size_t i = 0;
    int neg = 0, signed_ = 0;
    if (t[0] == '+' || t[0] == '-') {
        neg = t[0] == '-';
        signed_ = 1;
        i = 1;
    }
    const char *u = t + i;
    size_t un = n - i;
    if ((un == 3 && memcmp(u, "inf", 3) == 0) || (un == 3 && memcmp(u, "nan", 3) == 0)) {
        toml_value *v = new_node(p, TOML_FLOAT, line, F_FROZEN);
        if (v) v->f = u[0] == 'i' ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
        return v;
    }

    char buf[512];
    if (n >= sizeof buf) return perr(p, line, "number too long: %s", tok), NULL;

    if (un >= 2 && u[0] == '0' && (u[1] == 'x' || u[1] == 'o' || u[1] == 'b')) {
        if (signed_) return perr(p, line, "bad number %s: hex, octal and binary integers take no sign", tok), NULL;
        int base = u[1] == 'x' ? 16 : u[1] == 'o' ? 8 : 2;
        int (*ok)(int) = base == 16 ? is_hex : base == 8 ? is_oct : is_bin;
        if (un == 2 || strip_underscores(u + 2, un - 2, buf, ok))
            return perr(p, line, "bad integer %s", tok), NULL;
        for (const char *c = buf; *c; c++)
            if (!ok((unsigned char)*c)) return perr(p, line, "bad integer %s", tok), NULL;
        errno = 0;
        unsigned long long x = strtoull(buf, NULL, base);
        if (errno == ERANGE || x > (unsigned long long)INT64_MAX)
            return perr(p, line, "integer %s does not fit in 64 bits", tok), NULL;
        toml_value *v = new_node(p, TOML_INT, line, F_FROZEN);
        if (v) v->i = (int64_t)x;
        return v;
    }

    /* decimal integer or float: int-part [frac] [exp] */
    size_t ip = digit_run(u, un);
    if (ip == 0) return perr(p, line, "bad value %s (expected a number, string, boolean, array or table)", tok), NULL;
    if (u[0] == '0' && ip > 1) return perr(p, line, "bad number %s: leading zeros are not allowed", tok), NULL;
    size_t k = ip;
    int is_float = 0;
    if (k < un && u[k] == '.') {
        size_t fr = digit_run(u + k + 1, un - k - 1);
        if (fr == 0) return perr(p, line, "bad float %s: a digit must follow the decimal point", tok), NULL;
        k += 1 + fr;
        is_float = 1;
    }
    if (k < un && (u[k] == 'e' || u[k] == 'E')) {
        size_t e = k + 1;
        if (e < un && (u[e] == '+' || u[e] == '-')) e++;
        size_t ex = digit_run(u + e, un - e);
        if (ex == 0) return perr(p, line, "bad float %s: the exponent needs digits", tok), NULL;
        k = e + ex;
        is_float = 1;
    }
    if (k != un) return perr(p, line, "bad value %s", tok), NULL;
    size_t j = 0;
    for (size_t c = 0; c < n; c++)
        if (t[c] != '_') buf[j++] = t[c];
    buf[j] = '\0';
    if (is_float) {
        toml_value *v = new_node(p, TOML_FLOAT, line, F_FROZEN);
        if (v) v->f = strtod(buf, NULL); /* overflow gives +-inf, as in tomllib */
        return v;
    }
    errno = 0;
    long long x = strtoll(buf, NULL, 10);
    if (errno == ERANGE) return perr(p, line, "integer %s does not fit in 64 bits", tok), NULL;
    toml_value *v = new_node(p, TOML_INT, line, F_FROZEN);
    if (v) v->i = (int64_t)x;
    return v;
}

static toml_value *parse_array(parser *p) {
    int line = p->line;
    toml_value *a = new_node(p, TOML_ARRAY, line, F_FROZEN);
    if (!a) return NULL;
    p->pos++; /* [ */
    for (;;) {
        if (skip_ws_nl(p)) goto fail;
        if (peek(p) < 0) {
            perr(p, line, "unterminated array (opened on line %d)", line);
            goto fail;
        }
        if (peek(p) == ']') {
            p->pos++;
            return a;
        }
        if (peek(p) == ',') {
            perr(p, p->line, "expected a value in the array, found ','");
            goto fail;
        }
        toml_value *item = parse_value(p);
        if (!item || array_push(p, a, item)) goto fail;
        if (skip_ws_nl(p)) goto fail;
        int c = peek(p);
        if (c == ',') {
            p->pos++;
        } else if (c == ']') {
            p->pos++;
            return a;
        } else if (c < 0) {
            perr(p, line, "unterminated array (opened on line %d)", line);
            goto fail;
        } else {
            perr(p, p->line, "expected ',' or ']' in the array opened on line %d, found '%c'", line, c);
            goto fail;
        }
    }
fail:
    toml_free(a);
    return NULL;
}

/* Walks/creates the tables of k->parts[0..n-1) under t for a dotted key; returns the parent of the
 * last part. Tables created here are pending (closed to headers when the section ends) unless
 * inside an inline table, where they are frozen like the rest. */
static toml_value *dotted_parent(parser *p, toml_value *t, const keypath *k, int line, int in_inline) {
    for (int i = 0; i + 1 < k->n; i++) {
        toml_value *c = toml_get(t, k->parts[i]);
        char kt[512];
        key_text(k, i + 1, kt, sizeof kt);
        if (!c) {
            c = put_new(p, t, k->parts[i], TOML_TABLE, line, in_inline ? F_FROZEN : 0);
            if (!c) return NULL;
            if (!in_inline && add_pending(p, c)) return NULL;
        } else if (c->type != TOML_TABLE) {
            return perr(p, line, "cannot define '%s': '%s' is already defined as %s on line %d",
                        k->parts[k->n - 1], kt, what_it_is(c), c->line),
                   NULL;
        } else if (!in_inline && (*flags_of(c) & (F_EXPLICIT | F_FROZEN))) {
            return perr(p, line, "cannot add keys to table '%s' with a dotted key: it was defined on line %d", kt,
                        c->line),
                   NULL;
        }
        t = c;
    }
    return t;
}

static toml_value *parse_inline_table(parser *p) {
    int line = p->line;
    toml_value *t = new_node(p, TOML_TABLE, line, F_FROZEN);
    if (!t) return NULL;
    p->pos++; /* { */
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        return t;
    }
    for (;;) {
        keypath k;
        int kline = p->line;
        if (parse_key(p, &k)) goto fail;
        if (peek(p) != '=') {
            keypath_free(&k);
            perr(p, kline, "expected '=' after a key in the inline table");
            goto fail;
        }
        p->pos++;
        skip_ws(p);
        toml_value *parent = dotted_parent(p, t, &k, kline, 1);
        if (!parent) {
            keypath_free(&k);
            goto fail;
        }
        if (toml_get(parent, k.parts[k.n - 1])) {
            char kt[512];
            key_text(&k, k.n, kt, sizeof kt);
            perr(p, kline, "duplicate key '%s' in the inline table", kt);
            keypath_free(&k);
            goto fail;
        }
        toml_value *v = parse_value(p);
        if (!v) {
            keypath_free(&k);
            goto fail;
        }
        v->line = kline;
        char *last = k.parts[--k.n];
        keypath_free(&k);
        if (table_put(p, parent, last, v)) goto fail;
        skip_ws(p);
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            skip_ws(p);
            if (peek(p) == '}') {
                perr(p, p->line, "trailing comma in an inline table (not allowed in TOML)");
                goto fail;
            }
            continue;
        }
        if (c == '}') {
            p->pos++;
            return t;
        }
        if (c < 0 || c == '\n' || c == '\r')
            perr(p, line, "unterminated inline table (inline tables must end on the line they start)");
        else
            perr(p, p->line, "expected ',' or '}' in the inline table, found '%c'", c);
        goto fail;
    }
fail:
    toml_free(t);
    return NULL;
}

static toml_value *parse_value(parser *p) {
    int c = peek(p);
    if (c == '"' || c == '\'') {
        int line = p->line;
        char *s = parse_string(p);
        if (!s) return NULL;
        toml_value *v = new_node(p, TOML_STRING, line, F_FROZEN);
        if (!v) {
            free(s);
            return NULL;
        }
        v->str = s;
        return v;
    }
    if (c == '[' || c == '{') {
        /* the parser recurses once per level: a limit keeps a hostile file from exhausting the stack */
        if (p->depth >= TOML_MAX_NESTING)
            return perr(p, p->line, "arrays and inline tables nested more than %d levels deep", TOML_MAX_NESTING),
                   NULL;
        p->depth++;
        toml_value *v = c == '[' ? parse_array(p) : parse_inline_table(p);
        p->depth--;
        return v;
    }
    return parse_scalar_token(p);
}

/* ---------------------------------------------------------------------------------------------- */
/* statements */

static int parse_keyval(parser *p) {
    keypath k;
    int line = p->line;
    if (parse_key(p, &k)) return -1;
    if (peek(p) != '=') {
        char kt[512];
        key_text(&k, k.n, kt, sizeof kt);
        keypath_free(&k);
        if (at_newline(p) || peek(p) < 0 || peek(p) == '#') return perr(p, line, "expected '=' after key '%s'", kt);
        return perr(p, line, "expected '=' after key '%s', found '%c'", kt, peek(p));
    }
    p->pos++;
    skip_ws(p);
    toml_value *parent = dotted_parent(p, p->cur, &k, line, 0);
    if (!parent) {
        keypath_free(&k);
        return -1;
    }
    toml_value *old = toml_get(parent, k.parts[k.n - 1]);
    if (old) {
        char kt[512];
        key_text(&k, k.n, kt, sizeof kt);
        keypath_free(&k);
        return perr(p, line, "duplicate key '%s' (first defined on line %d)", kt, old->line);
    }
    toml_value *v = parse_value(p);
    if (!v) {
        keypath_free(&k);
        return -1;
    }
    v->line = line;
    char *last = k.parts[--k.n];
    keypath_free(&k);
    if (table_put(p, parent, last, v)) return -1;
    return end_of_line(p, "a value");
}

static int parse_header(parser *p) {
    int line = p->line;
    int aot = peek_at(p, 1) == '[';
    p->pos += aot ? 2 : 1;
    keypath k;
    if (parse_key(p, &k)) return -1;
    char kt[512];
    key_text(&k, k.n, kt, sizeof kt);
    if (peek(p) != ']' || (aot && peek_at(p, 1) != ']')) {
        keypath_free(&k);
        return perr(p, line, "expected '%s' to close the table header [%s%s", aot ? "]]" : "]", aot ? "[" : "", kt);
    }
    p->pos += aot ? 2 : 1;
    finish_section(p);

    toml_value *t = p->root;
    for (int i = 0; i + 1 < k.n; i++) {
        toml_value *c = toml_get(t, k.parts[i]);
        char pt[512];
        key_text(&k, i + 1, pt, sizeof pt);
        if (!c) {
            c = put_new(p, t, k.parts[i], TOML_TABLE, line, 0);
            if (!c) {
                keypath_free(&k);
                return -1;
            }
        } else if (c->type == TOML_ARRAY && (*flags_of(c) & F_AOT) && c->n > 0) {
            c = c->items[c->n - 1];
        } else if (c->type != TOML_TABLE || (*flags_of(c) & F_FROZEN)) {
            keypath_free(&k);
            return perr(p, line, "cannot define table [%s]: '%s' is already defined as %s on line %d", kt, pt,
                        what_it_is(c), c->line);
        }
        t = c;
    }
    const char *last = k.parts[k.n - 1];
    toml_value *c = toml_get(t, last);
    if (aot) {
        if (c && (c->type != TOML_ARRAY || !(*flags_of(c) & F_AOT))) {
            keypath_free(&k);
            return perr(p, line, "cannot define array of tables [[%s]]: '%s' is already defined as %s on line %d",
                        kt, kt, what_it_is(c), c->line);
        }
        if (!c) {
            c = put_new(p, t, last, TOML_ARRAY, line, F_AOT);
            if (!c) {
                keypath_free(&k);
                return -1;
            }
        }
        toml_value *elem = new_node(p, TOML_TABLE, line, F_EXPLICIT);
        if (!elem || array_push(p, c, elem)) {
            keypath_free(&k);
            return -1;
        }
        p->cur = elem;
    } else {
        if (c) {
            if (c->type != TOML_TABLE || (*flags_of(c) & (F_EXPLICIT | F_FROZEN))) {
                keypath_free(&k);
                if (c->type == TOML_TABLE)
                    return perr(p, line, "table [%s] is defined twice (first on line %d)", kt, c->line);
                return perr(p, line, "cannot define table [%s]: '%s' is already defined as %s on line %d", kt, kt,
                            what_it_is(c), c->line);
            }
            c->line = line; /* the header is where a reader looks for it */
            *flags_of(c) |= F_EXPLICIT;
        } else {
            c = put_new(p, t, last, TOML_TABLE, line, F_EXPLICIT);
            if (!c) {
                keypath_free(&k);
                return -1;
            }
        }
        p->cur = c;
    }
    keypath_free(&k);
    return end_of_line(p, "a table header");
}

/* Rejects malformed UTF-8 up front so that no later step sees it. */
static int check_utf8(parser *p) {
    const unsigned char *s = (const unsigned char *)p->src;
    int line = 1;
    for (size_t i = 0; i < p->len;) {
        unsigned c = s[i];
        if (c == '\n') line++;
        if (c == 0) return perr(p, line, "NUL byte in the file");
        if (c < 0x80) {
            i++;
            continue;
        }
        int n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || i + (size_t)n >= p->len) return perr(p, line, "invalid UTF-8");
        unsigned long cp = c & (n == 1 ? 0x1f : n == 2 ? 0x0f : 0x07);
        for (int j = 1; j <= n; j++) {
            if ((s[i + (size_t)j] & 0xc0) != 0x80) return perr(p, line, "invalid UTF-8");
            cp = (cp << 6) | (s[i + (size_t)j] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return perr(p, line, "invalid UTF-8");
        i += (size_t)n + 1;
    }
    return 0;
}

static toml_value *parse_text(const char *text, size_t len, const char *name, snn_error *err) {
    parser p = {.src = text, .len = len, .line = 1, .name = name ? name : "<toml>", .err = err};
    if (check_utf8(&p)) return NULL;
    p.root = new_node(&p, TOML_TABLE, 0, F_EXPLICIT);
    if (!p.root) return NULL;
    p.cur = p.root;
    /* a UTF-8 byte-order mark is allowed at the start */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3;
    for (;;) {
        if (skip_ws_nl(&p)) break;
        int c = peek(&p);
        if (c < 0) break;
        if (c == '[') {
            if (parse_header(&p)) break;
        } else {
            if (parse_keyval(&p)) break;
        }
    }
    free(p.pending);
    if (p.failed) {
        toml_free(p.root);
        return NULL;
    }
    return p.root;
}

toml_value *toml_parse_string(const char *text, const char *name, snn_error *err) {
    if (!text) {
        snn_fail(err, SNN_EINPUT, "%s: no text to parse", name ? name : "<toml>");
        return NULL;
    }
    return parse_text(text, strlen(text), name, err);
}

toml_value *toml_parse_file(const char *path, snn_error *err) {
    char *data = NULL;
    size_t len = 0;
    snn_error e2 = {0};
    if (snn_read_file(path, &data, &len, &e2) != SNN_OK) {
        snn_fail(err, SNN_EINPUT, "%s", e2.msg);
        return NULL;
    }
    toml_value *root = parse_text(data, len, path, err);
    free(data);
    return root;
}
