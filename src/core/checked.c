#include "core/checked.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int snn_mul_overflows(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 1;
    *out = a * b;
    return 0;
}

int snn_size_product(const int64_t *dims, int n, size_t elem, size_t *out, const char *what, snn_error *err) {
    size_t p = elem;
    int overflow = 0;
    for (int d = 0; d < n; d++) {
        if (dims[d] < 0)
            return snn_fail(err, SNN_EINPUT, "%s: negative size %lld", what ? what : "a buffer", (long long)dims[d]);
        if (!overflow && snn_mul_overflows(p, (size_t)dims[d], &p)) overflow = 1;
    }
    if (!overflow) {
        *out = p;
        return SNN_OK;
    }
    char text[256];
    size_t used = 0;
    text[0] = '\0';
    for (int d = 0; d < n && used < sizeof text; d++) {
        int w = snprintf(text + used, sizeof text - used, "%lld x ", (long long)dims[d]);
        used += w > 0 ? (size_t)w : 0;
    }
    return snn_fail(err, SNN_EINPUT, "%s: %s%zu bytes does not fit in memory", what ? what : "a buffer", text, elem);
}

int snn_i64_mul_overflows(int64_t a, int64_t b, int64_t *out) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return 1;
    *out = r;
    return 0;
}

int snn_parse_i64(const char *s, int64_t *out) {
    if (s == NULL) return -1;
    const char *p = s;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (!isdigit((unsigned char)*p)) return -1;
    uint64_t v = 0;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p)) return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return -1;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return -1;
        *out = (int64_t)v;
    }
    return 0;
}

int snn_parse_bytes(const char *s, uint64_t *out) {
    if (s == NULL || !isdigit((unsigned char)*s)) return -1;
    /* digits, at most one '.', then the unit */
    const char *p = s;
    double whole = 0, frac = 0, scale = 1;
    int dot = 0, digits = 0;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            digits++;
            if (digits > 19) return -1;
            if (dot) {
                scale /= 10;
                frac += scale * (*p - '0');
            } else {
                whole = whole * 10 + (*p - '0');
            }
        } else if (*p == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    double mult = 1;
    const char *u = p;
    if (*u) {
        switch (toupper((unsigned char)*u)) {
        case 'K': mult = 1024.0; break;
        case 'M': mult = 1024.0 * 1024.0; break;
        case 'G': mult = 1024.0 * 1024.0 * 1024.0; break;
        case 'T': mult = 1024.0 * 1024.0 * 1024.0 * 1024.0; break;
        case 'B': mult = 1; u--; break; /* "100B": no unit letter, the B follows the number */
        default: return -1;
        }
        u++;
        if (*u && strcasecmp(u, "B") != 0 && strcasecmp(u, "iB") != 0) return -1;
        if (mult == 1 && *u && strcasecmp(u, "B") != 0) return -1;
    }
    double v = (whole + frac) * mult;
    if (!(v < 9.2e18)) return -1;
    *out = (uint64_t)v;
    return 0;
}

void snn_format_bytes(double bytes, char *out, size_t n) {
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (!(bytes >= 1024)) {
        snprintf(out, n, "%.0f bytes", bytes > 0 ? bytes : 0);
        return;
    }
    int u = -1;
    while (bytes >= 1024 && u < 5) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, n, "%.1f %s", bytes, units[u]);
}
