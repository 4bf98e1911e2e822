/* TensorBoard event-file writer: hand-encoded protobuf in TFRecord framing (see events.h). */
#include "io/events.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"

/* ---- CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t snn_crc32c(const void *data, size_t n) {
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    uint32_t c = ~0u;
    while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

uint32_t snn_crc32c_masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

/* ---- a growable protobuf encoding buffer ---- */

typedef struct pb {
    uint8_t *d;
    size_t n, cap;
    size_t failed;  /* size that could not be allocated (0: none): reported once, at the end */
} pb;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static void pb_put(pb *b, const void *src, size_t n) {
    if (b->failed) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *d = realloc(b->d, cap);
        if (d == NULL) {
            b->failed = cap;
            return;
        }
        b->d = d;
        b->cap = cap;
    }
    if (n) memcpy(b->d + b->n, src, n);
    b->n += n;
}

static void pb_varint(pb *b, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t x = v & 0x7f;
        v >>= 7;
        tmp[n++] = x | (v ? 0x80 : 0);
    } while (v);
    pb_put(b, tmp, n);
}

static void pb_key(pb *b, int field, int wt) { pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wt); }

/* Little-endian whatever the host, as protobuf's fixed64/fixed32 are. */
static void pb_fixed(pb *b, uint64_t v, int nbytes) {
    uint8_t tmp[8];
    for (int i = 0; i < nbytes; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    pb_put(b, tmp, (size_t)nbytes);
}

static void pb_uint(pb *b, int field, uint64_t v) {
    pb_key(b, field, WT_VARINT);
    pb_varint(b, v);
}

static void pb_double(pb *b, int field, double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    pb_key(b, field, WT_I64);
    pb_fixed(b, u, 8);
}

static void pb_float(pb *b, int field, float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    pb_key(b, field, WT_I32);
    pb_fixed(b, u, 4);
}

static void pb_bytes(pb *b, int field, const void *data, size_t n) {
    pb_key(b, field, WT_LEN);
    pb_varint(b, n);
    pb_put(b, data, n);
}

static void pb_str(pb *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* A nested message: its encoding, length-prefixed. Also propagates an allocation failure. */
static void pb_msg(pb *b, int field, const pb *sub) {
    if (sub->failed && !b->failed) b->failed = sub->failed;
    pb_bytes(b, field, sub->d, sub->n);
}

static void pb_free(pb *b) {
    free(b->d);
    memset(b, 0, sizeof *b);
}

/* Field numbers of the published protos (tensorboard/compat/proto/{event,summary,tensor}.proto). */
enum {
    EVENT_WALL_TIME = 1, EVENT_STEP = 2, EVENT_FILE_VERSION = 3, EVENT_SUMMARY = 5, EVENT_SESSION_LOG = 7,
    SESSIONLOG_STATUS = 1, SESSIONLOG_START = 1,
    SUMMARY_VALUE = 1,
    VALUE_TAG = 1, VALUE_SIMPLE = 2, VALUE_IMAGE = 4, VALUE_TENSOR = 8, VALUE_METADATA = 9,
    IMAGE_HEIGHT = 1, IMAGE_WIDTH = 2, IMAGE_COLORSPACE = 3, IMAGE_ENCODED = 4,
    METADATA_PLUGIN_DATA = 1, METADATA_DATA_CLASS = 4, DATA_CLASS_TENSOR = 2,
    PLUGIN_NAME = 1,
    TENSOR_DTYPE = 1, TENSOR_SHAPE = 2, TENSOR_STRING_VAL = 8, DT_STRING = 7
};

/* ---- the writer ---- */

struct snn_tb {
    FILE *fp;
    char path[SNN_PATH_MAX];
    pthread_mutex_t mu;
};

const char *snn_tb_path(const snn_tb *tb) { return tb->path; }

/* Seconds since the epoch from the real-time clock: the one wall-clock dependence of the outputs
 * (events.h says why it is allowed). */
static double wall_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One TFRecord: uint64 length, masked CRC32C of those 8 bytes, the data, masked CRC32C of the data
 * (all little-endian). Flushed so that readers see whole records while the run goes on. */
static int write_record(snn_tb *tb, const uint8_t *data, size_t n, snn_error *err) {
    uint8_t head[12], tail[4];
    uint64_t len = n;
    for (int i = 0; i < 8; i++) head[i] = (uint8_t)(len >> (8 * i));
    uint32_t lc = snn_crc32c_masked(snn_crc32c(head, 8));
    uint32_t dc = snn_crc32c_masked(snn_crc32c(data, n));
    for (int i = 0; i < 4; i++) {
        head[8 + i] = (uint8_t)(lc >> (8 * i));
        tail[i] = (uint8_t)(dc >> (8 * i));
    }
    if (fwrite(head, 1, sizeof head, tb->fp) != sizeof head || fwrite(data, 1, n, tb->fp) != n ||
        fwrite(tail, 1, sizeof tail, tb->fp) != sizeof tail || fflush(tb->fp) != 0) {
        int e = errno;
        clearerr(tb->fp);
        return snn_fail(err, SNN_ERUN, "%s: cannot write TensorBoard event: %s", tb->path, strerror(e));
    }
    return SNN_OK;
}

/* Event{wall_time, step, <what_field> = payload} as one record. what_field is a message (summary,
 * session_log) or a string (file_version); both are length-delimited. */
static int write_event(snn_tb *tb, int64_t step, int what_field, const pb *payload, snn_error *err) {
    pb ev = {0};
    pb_double(&ev, EVENT_WALL_TIME, wall_time());
    /* fields in number order and proto3 defaults (step 0) left out: the canonical encoding, what
     * protobuf itself writes (the tests check byte equality after a decode and re-encode) */
    if (step != 0) pb_uint(&ev, EVENT_STEP, (uint64_t)step);
    pb_msg(&ev, what_field, payload);
    int rc;
    if (ev.failed)
        rc = snn_fail(err, SNN_ERUN, "out of memory: could not allocate %zu bytes for a TensorBoard event",
                      ev.failed);
    else {
        pthread_mutex_lock(&tb->mu);
        rc = write_record(tb, ev.d, ev.n, err);
        pthread_mutex_unlock(&tb->mu);
    }
    pb_free(&ev);
    return rc;
}

snn_tb *snn_tb_open(const char *dir, snn_error *err) {
    if (snn_mkdirs(dir, err)) return NULL;
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == '/') *c = '_';
    snn_tb *tb = calloc(1, sizeof *tb);
    if (tb == NULL) {
        snn_fail(err, SNN_ERUN, "out of memory: could not allocate %zu bytes for a TensorBoard writer",
                 sizeof *tb);
        return NULL;
    }
    /* TensorBoard's own name (events.out.tfevents.<seconds>.<host>); O_EXCL never reuses a file a
     * previous run (resumed within the same second) wrote, a suffix makes the name unique instead.
     * O_CLOEXEC keeps the file out of the wandb child processes. */
    long long secs = (long long)time(NULL);
    int fd = -1;
    for (int k = 0; k < 1000 && fd < 0; k++) {
        int w = k == 0 ? snprintf(tb->path, sizeof tb->path, "%s/events.out.tfevents.%lld.%s", dir, secs, host)
                       : snprintf(tb->path, sizeof tb->path, "%s/events.out.tfevents.%lld.%s.%d", dir, secs,
                                  host, k);
        if (w < 0 || (size_t)w >= sizeof tb->path) {
            free(tb);
            snn_fail(err, SNN_EINPUT, "%s: path too long for a TensorBoard event file", dir);
            return NULL;
        }
        fd = open(tb->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        snn_fail(err, SNN_ERUN, "%s: cannot create TensorBoard event file: %s", tb->path, strerror(errno));
        free(tb);
        return NULL;
    }
    tb->fp = fdopen(fd, "wb");
    if (tb->fp == NULL) {
        snn_fail(err, SNN_ERUN, "%s: cannot open: %s", tb->path, strerror(errno));
        close(fd);
        free(tb);
        return NULL;
    }
    pthread_mutex_init(&tb->mu, NULL);
    pb ver = {0};
    pb_put(&ver, "brain.Event:2", 13);
    int rc = write_event(tb, 0, EVENT_FILE_VERSION, &ver, err);
    pb_free(&ver);
    if (rc) {
        snn_tb_close(tb);
        return NULL;
    }
    return tb;
}

void snn_tb_close(snn_tb *tb) {
    if (tb == NULL) return;
    if (tb->fp) fclose(tb->fp);
    pthread_mutex_destroy(&tb->mu);
    free(tb);
}

int snn_tb_session_start(snn_tb *tb, int64_t step, snn_error *err) {
    pb sl = {0};
    pb_uint(&sl, SESSIONLOG_STATUS, SESSIONLOG_START);
    int rc = write_event(tb, step, EVENT_SESSION_LOG, &sl, err);
    pb_free(&sl);
    return rc;
}

/* An empty tag would not survive protobuf's decode/re-encode (proto3 drops empty strings) and names
 * nothing in TensorBoard. */
static int check_tag(const snn_tb *tb, const char *tag, snn_error *err) {
    if (tag == NULL || tag[0] == '\0') return snn_fail(err, SNN_EINPUT, "%s: empty TensorBoard tag", tb->path);
    return SNN_OK;
}

/* Writes Event{step, summary{value}} for one encoded Summary.Value. */
static int write_value(snn_tb *tb, int64_t step, const pb *value, snn_error *err) {
    pb sum = {0};
    pb_msg(&sum, SUMMARY_VALUE, value);
    int rc = write_event(tb, step, EVENT_SUMMARY, &sum, err);
    pb_free(&sum);
    return rc;
}

int snn_tb_scalars(snn_tb *tb, int64_t step, int n, const char *const *tags, const double *values,
                   const uint8_t *present, snn_error *err) {
    pb sum = {0};
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (present && !present[i]) continue;
        if (check_tag(tb, tags[i], err)) {
            pb_free(&sum);
            return SNN_EINPUT;
        }
        pb v = {0};
        pb_str(&v, VALUE_TAG, tags[i]);
        pb_float(&v, VALUE_SIMPLE, (float)values[i]);
        pb_msg(&sum, SUMMARY_VALUE, &v);
        pb_free(&v);
        count++;
    }
    int rc = count ? write_event(tb, step, EVENT_SUMMARY, &sum, err) : SNN_OK;
    pb_free(&sum);
    return rc;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int snn_tb_image_png(snn_tb *tb, int64_t step, const char *tag, const char *png_path, snn_error *err) {
    if (check_tag(tb, tag, err)) return SNN_EINPUT;
    char *data = NULL;
    size_t len = 0;
    int rc0 = snn_read_file(png_path, &data, &len, err);
    if (rc0) return rc0;
    const uint8_t *u = (const uint8_t *)data;
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    /* signature (8), IHDR length (4) = 13, "IHDR", width, height, bit depth, colour type */
    if (len < 8 + 8 + 13 || memcmp(u, sig, 8) != 0 || be32(u + 8) != 13 || memcmp(u + 12, "IHDR", 4) != 0) {
        free(data);
        return snn_fail(err, SNN_EINPUT, "%s: not a PNG file (no PNG signature and IHDR chunk)", png_path);
    }
    uint32_t width = be32(u + 16), height = be32(u + 20);
    /* PNG colour type -> Summary.Image colorspace (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA); palette
     * images count as RGB. TensorBoard decodes the PNG itself, this is informational. */
    int colorspace;
    switch (u[25]) {
    case 0: colorspace = 1; break;
    case 4: colorspace = 2; break;
    case 6: colorspace = 4; break;
    default: colorspace = 3; break;
    }
    pb img = {0}, v = {0};
    pb_uint(&img, IMAGE_HEIGHT, height);
    pb_uint(&img, IMAGE_WIDTH, width);
    pb_uint(&img, IMAGE_COLORSPACE, (uint64_t)colorspace);
    pb_bytes(&img, IMAGE_ENCODED, data, len);
    free(data);
    pb_str(&v, VALUE_TAG, tag);
    pb_msg(&v, VALUE_IMAGE, &img);
    pb_free(&img);
    int rc = write_value(tb, step, &v, err);
    pb_free(&v);
    return rc;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int snn_tb_image_dir(snn_tb *tb, int64_t step, const char *dir, const char *tag_prefix, snn_error *err) {
    DIR *d = opendir(dir);
    if (d == NULL) return snn_fail(err, SNN_ERUN, "%s: cannot list figures: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = SNN_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        /* skip hidden files: the figure layer's temporaries (.<name>.tmp.<pid>) are not figures */
        if (e->d_name[0] == '.' || l <= 4 || strcmp(e->d_name + l - 4, ".png") != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, cap * sizeof *names);
            if (nn == NULL) {
                rc = snn_fail(err, SNN_ERUN, "out of memory listing %s", dir);
                break;
            }
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (names[n] == NULL) {
            rc = snn_fail(err, SNN_ERUN, "out of memory listing %s", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc && n) qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n && !rc; i++) {
        char path[SNN_PATH_MAX], tag[1024];
        size_t stem = strlen(names[i]) - 4;
        int w = (tag_prefix && *tag_prefix)
                    ? snprintf(tag, sizeof tag, "%s/%.*s", tag_prefix, (int)stem, names[i])
                    : snprintf(tag, sizeof tag, "%.*s", (int)stem, names[i]);
        if (w < 0 || (size_t)w >= sizeof tag) {
            rc = snn_fail(err, SNN_EINPUT, "%s/%s: figure name too long for a tag", dir, names[i]);
            break;
        }
        rc = snn_path_join(path, sizeof path, dir, names[i], err);
        if (!rc) rc = snn_tb_image_png(tb, step, tag, path, err);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int snn_tb_text(snn_tb *tb, int64_t step, const char *tag, const char *text, snn_error *err) {
    if (check_tag(tb, tag, err)) return SNN_EINPUT;
    pb plugin = {0}, meta = {0}, shape = {0}, tensor = {0}, v = {0};
    pb_str(&plugin, PLUGIN_NAME, "text");
    pb_msg(&meta, METADATA_PLUGIN_DATA, &plugin);
    pb_uint(&meta, METADATA_DATA_CLASS, DATA_CLASS_TENSOR);
    pb_uint(&tensor, TENSOR_DTYPE, DT_STRING);
    pb_msg(&tensor, TENSOR_SHAPE, &shape);  /* no dims: a scalar string, as tf.summary.text writes */
    pb_str(&tensor, TENSOR_STRING_VAL, text);
    pb_str(&v, VALUE_TAG, tag);
    pb_msg(&v, VALUE_TENSOR, &tensor);
    pb_msg(&v, VALUE_METADATA, &meta);
    int rc = write_value(tb, step, &v, err);
    pb_free(&plugin);
    pb_free(&meta);
    pb_free(&shape);
    pb_free(&tensor);
    pb_free(&v);
    return rc;
}

int snn_tb_text_file(snn_tb *tb, int64_t step, const char *tag, const char *path, snn_error *err) {
    char *data = NULL;
    size_t len = 0;
    int rc0 = snn_read_file(path, &data, &len, err);
    if (rc0) return rc0;
    /* A Markdown fence must be longer than any backtick run inside it. */
    size_t longest = 0, run = 0;
    for (size_t i = 0; i < len; i++) {
        run = data[i] == '`' ? run + 1 : 0;
        if (run > longest) longest = run;
    }
    size_t fence = longest >= 3 ? longest + 1 : 3;
    size_t cap = 2 * fence + len + 16;
    char *md = malloc(cap);
    if (md == NULL) {
        free(data);
        return snn_fail(err, SNN_ERUN, "out of memory: could not allocate %zu bytes for %s", cap, path);
    }
    size_t k = 0;
    memset(md + k, '`', fence);
    k += fence;
    md[k++] = '\n';
    memcpy(md + k, data, len);
    k += len;
    if (len && data[len - 1] != '\n') md[k++] = '\n';
    memset(md + k, '`', fence);
    k += fence;
    md[k++] = '\n';
    md[k] = '\0';
    free(data);
    int rc = snn_tb_text(tb, step, tag, md, err);
    free(md);
    return rc;
}
