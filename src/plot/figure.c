#include "plot/figure.h"

#include <cairo.h>
#include <png.h>
#include <math.h>
#include <plplot.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"

#ifndef SNNFIT_PLPLOT_DRVDIR
#define SNNFIT_PLPLOT_DRVDIR ""
#endif

/* PLplot has one global current stream: one figure at a time in the whole process. */
static pthread_mutex_t plot_lock = PTHREAD_MUTEX_INITIALIZER;
/* plexit() calls the exit handler before exit(): jumping out of it is the only way to survive a
 * PLplot error (only armed around plinit, the call that can meet a broken installation). */
static jmp_buf plinit_jump;
static int plinit_armed;

static int plot_exit_handler(PLCHAR_VECTOR msg) {
    (void)msg;
    if (plinit_armed) longjmp(plinit_jump, 1);
    return 1;
}

struct snn_fig {
    int w, h;
    double font;
    cairo_surface_t *surf;
    cairo_t *cr;
    int pl_started;
    /* current panel: figure fractions, window (log10 units on a log axis) */
    double vx0, vx1, vy0, vy1;
    double wx0, wx1, wy0, wy1;
    int logx, logy;
    int int_y;  /* the panel's y axis counts: whole-number ticks */
};

/* ---------------------------------------------------------------- colours */

snn_color snn_color_hex(const char *hex) {
    unsigned r, g, b;
    if (hex && hex[0] == '#' && strlen(hex) == 7 && sscanf(hex + 1, "%2x%2x%2x", &r, &g, &b) == 3)
        return SNN_COLOR(r, g, b);
    return SNN_BLACK;
}

snn_color snn_color_alpha(snn_color c, double a) {
    c.a = a;
    return c;
}

snn_color snn_color_cell_type(int t) {
    if (t == 0) return snn_color_hex("#FF0000");
    if (t == 1) return snn_color_hex("#0000FF");
    return snn_color_tab10(t - 2);
}

snn_color snn_color_tab10(int i) {
    static const char *t[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    return snn_color_hex(t[((i % 10) + 10) % 10]);
}

snn_color snn_color_tab20(int i) {
    static const char *t[20] = {"#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728",
                                "#ff9896", "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2",
                                "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d", "#17becf", "#9edae5"};
    return snn_color_hex(t[((i % 20) + 20) % 20]);
}

snn_color snn_color_set1(int i) {
    static const char *t[9] = {"#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00",
                               "#ffff33", "#a65628", "#f781bf", "#999999"};
    return snn_color_hex(t[((i % 9) + 9) % 9]);
}

/* Colormaps as evenly spaced anchors, linearly interpolated (matplotlib's own tables, subsampled). */
static const unsigned char viridis_anchors[][3] = {
    {68, 1, 84},   {72, 35, 116}, {64, 67, 135}, {52, 94, 141},  {41, 120, 142}, {32, 144, 140},
    {34, 167, 132}, {68, 190, 112}, {121, 209, 81}, {189, 222, 38}, {253, 231, 37}};
static const unsigned char greens_anchors[][3] = {{247, 252, 245}, {229, 245, 224}, {199, 233, 192},
                                                  {161, 217, 155}, {116, 196, 118}, {65, 171, 93},
                                                  {35, 139, 69},   {0, 109, 44},    {0, 68, 27}};
static const unsigned char bwr_anchors[][3] = {{0, 0, 255}, {255, 255, 255}, {255, 0, 0}};

snn_color snn_cmap_at(snn_cmap cm, double u) {
    const unsigned char(*a)[3];
    int n;
    switch (cm) {
    case SNN_CMAP_GREENS: a = greens_anchors, n = 9; break;
    case SNN_CMAP_BWR: a = bwr_anchors, n = 3; break;
    default: a = viridis_anchors, n = 11; break;
    }
    if (!(u >= 0)) u = 0;  /* NaN too */
    if (u > 1) u = 1;
    double p = u * (n - 1);
    int i = (int)p;
    if (i >= n - 1) i = n - 2;
    double t = p - i;
    return SNN_COLOR((uint8_t)lround(a[i][0] + t * (a[i + 1][0] - a[i][0])),
                     (uint8_t)lround(a[i][1] + t * (a[i + 1][1] - a[i][1])),
                     (uint8_t)lround(a[i][2] + t * (a[i + 1][2] - a[i][2])));
}

/* ---------------------------------------------------------------- set-up and output */

snn_fig *snn_fig_begin(int width, int height, double font_px, snn_error *err) {
    if (width < 16 || height < 16 || width > 20000 || height > 20000) {
        snn_fail(err, SNN_EINPUT, "figure size %dx%d pixels is out of range", width, height);
        return NULL;
    }
    /* PLplot exits the process when it finds no driver: look before it does. */
    const char *dir = getenv("PLPLOT_DRV_DIR");
    if (!dir || !*dir) dir = SNNFIT_PLPLOT_DRVDIR;
    char info[SNN_PATH_MAX];
    snprintf(info, sizeof info, "%s/cairo.driver_info", dir);
    if (*dir && !snn_path_exists(info)) {
        snn_fail(err, SNN_ERUN,
                 "cannot draw figures: PLplot's cairo driver is not installed (%s missing; install "
                 "plplot-driver-cairo, or point PLPLOT_DRV_DIR at the folder holding cairo.driver_info)",
                 info);
        return NULL;
    }
    snn_fig *f = calloc(1, sizeof *f);
    if (!f) {
        snn_fail(err, SNN_ERUN, "out of memory for a figure");
        return NULL;
    }
    f->w = width;
    f->h = height;
    f->font = font_px > 0 ? font_px : 16;
    f->surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    if (cairo_surface_status(f->surf) != CAIRO_STATUS_SUCCESS) {
        snn_fail(err, SNN_ERUN, "cannot create a %dx%d image: %s", width, height,
                 cairo_status_to_string(cairo_surface_status(f->surf)));
        cairo_surface_destroy(f->surf);
        free(f);
        return NULL;
    }
    f->cr = cairo_create(f->surf);
    /* extcairo paints no background: the new surface is black */
    cairo_set_source_rgb(f->cr, 1, 1, 1);
    cairo_paint(f->cr);

    pthread_mutex_lock(&plot_lock);
    plsexit(plot_exit_handler);
    plinit_armed = 1;
    if (setjmp(plinit_jump)) {
        plinit_armed = 0;
        pthread_mutex_unlock(&plot_lock);
        cairo_destroy(f->cr);
        cairo_surface_destroy(f->surf);
        free(f);
        snn_fail(err, SNN_ERUN, "cannot draw figures: PLplot failed to start its extcairo device");
        return NULL;
    }
    plsdev("extcairo");
    plspage(0, 0, width, height, 0, 0);
    plscolbg(255, 255, 255);
    plscol0(1, 0, 0, 0);
    plinit();
    plinit_armed = 0;
    f->pl_started = 1;
    pl_cmd(PLESC_DEVINIT, f->cr);
    pladv(0);
    plvpor(0, 1, 0, 1);
    plwind(0, 1, 0, 1);
    f->vx0 = 0, f->vx1 = 1, f->vy0 = 0, f->vy1 = 1;
    f->wx0 = 0, f->wx1 = 1, f->wy0 = 0, f->wy1 = 1;
    return f;
}

/* libpng rather than cairo's PNG writer: cairo compresses at zlib's default level, which made PNG
 * encoding half the cost of a figure; level 1 with the Sub filter is several times faster for ~1.5x the
 * bytes, and figures are drawn during training. Deterministic: same pixels, same bytes. */
static void png_fail(png_structp png, png_const_charp msg) {
    (void)msg;
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

/* Separate function so that nothing is modified between setjmp and a longjmp (see -Wclobbered). */
static int write_png_rows(FILE *fp, const unsigned char *data, int stride, int w, int h, unsigned char *row) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_fail, png_warn);
    if (!png) return -1;
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 1);
    png_set_filter(png, 0, PNG_FILTER_SUB);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) {
        const uint32_t *src = (const uint32_t *)(const void *)(data + (size_t)y * (size_t)stride);
        for (int x = 0; x < w; x++) {
            row[3 * x] = (unsigned char)(src[x] >> 16);
            row[3 * x + 1] = (unsigned char)(src[x] >> 8);
            row[3 * x + 2] = (unsigned char)src[x];
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int snn_fig_save(snn_fig *f, const char *png, snn_error *err) {
    if (!f) return snn_fail(err, SNN_ERUN, "%s: no figure to save", png);
    cairo_surface_flush(f->surf);
    const unsigned char *data = cairo_image_surface_get_data(f->surf);
    int stride = cairo_image_surface_get_stride(f->surf), w = cairo_image_surface_get_width(f->surf),
        h = cairo_image_surface_get_height(f->surf);
    unsigned char *row = malloc((size_t)w * 3 + 1);
    if (!data || !row) {
        free(row);
        return snn_fail(err, SNN_ERUN, "%s: cannot encode the PNG (out of memory)", png);
    }
    snn_atomic_file af;
    int rc = snn_atomic_open(&af, png, err);
    if (rc) {
        free(row);
        return rc;
    }
    int bad = write_png_rows(af.fp, data, stride, w, h, row);
    free(row);
    if (bad) {
        snn_atomic_abort(&af);
        return snn_fail(err, SNN_ERUN, "%s: cannot write the PNG (libpng error, disk full?)", png);
    }
    return snn_atomic_commit(&af, err);
}

void snn_fig_end(snn_fig *f) {
    if (!f) return;
    if (f->pl_started) {
        plend();
        plsexit(NULL);
        pthread_mutex_unlock(&plot_lock);
    }
    cairo_destroy(f->cr);
    cairo_surface_destroy(f->surf);
    free(f);
}

int snn_fig_width(const snn_fig *f) { return f->w; }
int snn_fig_height(const snn_fig *f) { return f->h; }
double snn_fig_font(const snn_fig *f) { return f->font; }

/* ---------------------------------------------------------------- coordinates */

static double tx(const snn_fig *f, double x) { return f->logx ? (x > 0 ? log10(x) : NAN) : x; }
static double ty(const snn_fig *f, double y) { return f->logy ? (y > 0 ? log10(y) : NAN) : y; }

/* data -> pixel (origin top left) */
static double px_of(const snn_fig *f, double x) {
    double u = (tx(f, x) - f->wx0) / (f->wx1 - f->wx0);
    return (f->vx0 + u * (f->vx1 - f->vx0)) * f->w;
}
static double py_of(const snn_fig *f, double y) {
    double v = (ty(f, y) - f->wy0) / (f->wy1 - f->wy0);
    return (1.0 - (f->vy0 + v * (f->vy1 - f->vy0))) * f->h;
}
static double pxl(const snn_fig *f) { return f->vx0 * f->w; }
static double pxr(const snn_fig *f) { return f->vx1 * f->w; }
static double pyt(const snn_fig *f) { return (1 - f->vy1) * f->h; }
static double pyb(const snn_fig *f) { return (1 - f->vy0) * f->h; }

static void fix_range(double *lo, double *hi) {
    if (!isfinite(*lo) || !isfinite(*hi)) *lo = 0, *hi = 1;
    if (*hi < *lo) {
        double t = *lo;
        *lo = *hi, *hi = t;
    }
    if (*hi - *lo <= 1e-12 * fmax(1.0, fabs(*lo))) {
        double d = fabs(*lo) > 0 ? 0.05 * fabs(*lo) : 0.5;
        *lo -= d, *hi += d;
    }
}

static void apply_window(snn_fig *f) {
    plvpor(f->vx0, f->vx1, f->vy0, f->vy1);
    plwind(f->wx0, f->wx1, f->wy0, f->wy1);
}

void snn_fig_panel(snn_fig *f, double x0, double x1, double y0, double y1, double xmin, double xmax, double ymin,
                   double ymax, int flags) {
    f->vx0 = fmax(0, fmin(x0, x1)), f->vx1 = fmin(1, fmax(x0, x1));
    f->vy0 = fmax(0, fmin(y0, y1)), f->vy1 = fmin(1, fmax(y0, y1));
    if (f->vx1 - f->vx0 < 1e-4) f->vx1 = fmin(1, f->vx0 + 1e-4);
    if (f->vy1 - f->vy0 < 1e-4) f->vy1 = fmin(1, f->vy0 + 1e-4);
    f->logx = (flags & SNN_AX_LOGX) != 0;
    f->logy = (flags & SNN_AX_LOGY) != 0;
    f->int_y = 0;
    snn_fig_window(f, xmin, xmax, ymin, ymax);
}

void snn_fig_window(snn_fig *f, double xmin, double xmax, double ymin, double ymax) {
    if (f->logx) {
        xmin = xmin > 0 ? log10(xmin) : NAN;
        xmax = xmax > 0 ? log10(xmax) : NAN;
    }
    if (f->logy) {
        ymin = ymin > 0 ? log10(ymin) : NAN;
        ymax = ymax > 0 ? log10(ymax) : NAN;
    }
    fix_range(&xmin, &xmax);
    fix_range(&ymin, &ymax);
    f->wx0 = xmin, f->wx1 = xmax, f->wy0 = ymin, f->wy1 = ymax;
    apply_window(f);
}

void snn_fig_panel_rect(const snn_fig *f, double *x0, double *x1, double *y0, double *y1) {
    *x0 = f->vx0, *x1 = f->vx1, *y0 = f->vy0, *y1 = f->vy1;
}

/* ---------------------------------------------------------------- direct cairo drawing */

/* PLplot's extcairo device flips the context's matrix; our own drawing uses plain pixels. */
static void raw_begin(snn_fig *f) {
    cairo_save(f->cr);
    cairo_identity_matrix(f->cr);
    cairo_reset_clip(f->cr);
}
static void raw_end(snn_fig *f) { cairo_restore(f->cr); }
static void raw_clip_panel(snn_fig *f) {
    cairo_rectangle(f->cr, pxl(f), pyt(f), pxr(f) - pxl(f), pyb(f) - pyt(f));
    cairo_clip(f->cr);
}
static void raw_color(snn_fig *f, snn_color c) { cairo_set_source_rgba(f->cr, c.r / 255.0, c.g / 255.0, c.b / 255.0, c.a); }

static void raw_font(snn_fig *f, double size, int bold) {
    cairo_select_font_face(f->cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(f->cr, size);
}

/* Text with its anchor at pixel (x, y), rotated by deg (counter-clockwise); caller holds raw_begin. */
static void raw_text(snn_fig *f, double x, double y, double deg, const char *text, double size, int bold,
                     snn_color c, int align) {
    if (!text || !*text) return;
    raw_font(f, size, bold);
    cairo_text_extents_t e;
    cairo_text_extents(f->cr, text, &e);
    double cap = 0.73 * size;
    double dx = (align & 3) == SNN_CENTER ? -e.x_advance / 2 : (align & 3) == SNN_RIGHT ? -e.x_advance : 0;
    double dy = (align & 12) == SNN_MIDDLE ? cap / 2 : (align & 12) == SNN_BOTTOM ? 0 : cap;
    cairo_save(f->cr);
    cairo_translate(f->cr, x, y);
    cairo_rotate(f->cr, -deg * M_PI / 180.0);
    raw_color(f, c);
    cairo_move_to(f->cr, dx, dy);
    cairo_show_text(f->cr, text);
    cairo_restore(f->cr);
}

static double text_width(snn_fig *f, const char *text, double size, int bold) {
    raw_font(f, size, bold);
    cairo_text_extents_t e;
    cairo_text_extents(f->cr, text, &e);
    return e.x_advance;
}

/* ---------------------------------------------------------------- PLplot state helpers */

static void pl_color(snn_color c) {
    plscol0a(15, c.r, c.g, c.b, c.a);
    plcol0(15);
}

static void pl_style(snn_line_style s) {
    /* dash lengths in micrometres of PLplot's device (about 3.5 px per mm here) */
    PLINT mark_d = 3700, space_d = 1600, mark_o = 800, space_o = 1300;
    if (s == SNN_DASHED) plstyl(1, &mark_d, &space_d);
    else if (s == SNN_DOTTED) plstyl(1, &mark_o, &space_o);
    else plstyl(0, NULL, NULL);
}

/* ---------------------------------------------------------------- axes */

/* Ticks k * step in [lo, hi]. */
static int ticks_of_step(double lo, double hi, double step, double *ticks, int cap) {
    int n = 0;
    for (double k = ceil(lo / step - 1e-9); n < cap; k += 1) {
        double t = k * step;
        if (t > hi + 1e-9 * step) break;
        ticks[n++] = fabs(t) < 1e-12 * step ? 0 : t;
    }
    return n;
}

/* The 1-2-5 step that gives the most ticks not above max_n; when that leaves fewer than two (a short
 * range between round numbers), the next finer step, so that an axis always shows at least two
 * numbers. */
int snn_nice_ticks(double lo, double hi, int max_n, double *ticks, int cap) {
    if (!(hi > lo) || max_n < 2) return 0;
    const double mult[3] = {1, 2, 5};
    double range = hi - lo, prev = 0;
    for (int e = (int)floor(log10(range)) - 3; e <= (int)floor(log10(range)) + 1; e++)
        for (int i = 0; i < 3; i++) {
            double step = mult[i] * pow(10, e);
            double count = floor(hi / step + 1e-9) - ceil(lo / step - 1e-9) + 1;
            if (count > max_n) {
                prev = step;
                continue;
            }
            if (count < 2 && prev > 0) step = prev;
            return ticks_of_step(lo, hi, step, ticks, cap);
        }
    return ticks_of_step(lo, hi, range, ticks, cap);
}

/* A tick number: decimals as the step needs; integers up to 10^7 written out, larger and tiny values
 * as 2.5e7 / 1e-5 (no "e+07"). */
static void fmt_tick(char *buf, size_t n, double v, double step) {
    int dec = step > 0 ? (int)fmax(0, -floor(log10(step) + 1e-9)) : 0;
    if (dec > 6) dec = 6;
    if (fabs(v) >= 1e7 || (v != 0 && fabs(v) < 1e-4)) {
        int e = (int)floor(log10(fabs(v)) + 1e-9);
        double m = v / pow(10, e);
        char mant[16];
        snprintf(mant, sizeof mant, "%.2g", m);
        snprintf(buf, n, "%.8se%d", mant, e);
    } else {
        snprintf(buf, n, "%.*f", dec, v);
    }
    if (!strcmp(buf, "-0")) snprintf(buf, n, "0");
}

/* a value on a log axis: as short as it can be written ("0.05", "20", "3e5") */
static void fmt_log_tick(char *buf, size_t n, double v) {
    if (v >= 1e5 || v < 1e-3) fmt_tick(buf, n, v, v);
    else snprintf(buf, n, "%g", v);
}

static double tick_len(const snn_fig *f) { return 0.45 * f->font; }

void snn_fig_box(snn_fig *f) {
    raw_begin(f);
    cairo_set_line_width(f->cr, fmax(1.0, f->font / 14.0));
    raw_color(f, SNN_BLACK);
    cairo_rectangle(f->cr, pxl(f), pyt(f), pxr(f) - pxl(f), pyb(f) - pyt(f));
    cairo_stroke(f->cr);
    raw_end(f);
}

static void grid_line_x(snn_fig *f, double xw) {
    double p = (f->vx0 + (xw - f->wx0) / (f->wx1 - f->wx0) * (f->vx1 - f->vx0)) * f->w;
    cairo_move_to(f->cr, p, pyt(f));
    cairo_line_to(f->cr, p, pyb(f));
}
static void grid_line_y(snn_fig *f, double yw) {
    double p = (1 - (f->vy0 + (yw - f->wy0) / (f->wy1 - f->wy0) * (f->vy1 - f->vy0))) * f->h;
    cairo_move_to(f->cr, pxl(f), p);
    cairo_line_to(f->cr, pxr(f), p);
}

/* The ticks of one axis of the current panel: positions in window units (log10 on a log axis), their
 * numbers, and minor ticks (log axes). */
typedef struct axis_ticks {
    int n, n_minor;
    double pos[32], minor[256];
    char lab[32][32];
} axis_ticks;

/* Linear axes: nice ticks, as many as fit (numbers at least one text height apart on y, the widest
 * number plus a space apart on x). Log axes: the decades, plus 2 and 5 times them when fewer than two
 * decades are in range, plus every integer multiple when that still gives fewer than two; the other
 * multiples are minor ticks. */
static void compute_ticks(snn_fig *f, int yaxis, axis_ticks *a) {
    double lo = yaxis ? f->wy0 : f->wx0, hi = yaxis ? f->wy1 : f->wx1;
    int is_log = yaxis ? f->logy : f->logx;
    double len = yaxis ? pyb(f) - pyt(f) : pxr(f) - pxl(f);
    a->n = a->n_minor = 0;
    if (is_log) {
        static const int sets[3][9] = {{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
        static const int set_n[3] = {1, 3, 9};
        for (int s = 0; s < 3; s++) {
            a->n = a->n_minor = 0;
            for (double k = floor(lo) - 1; k <= ceil(hi); k += 1)
                for (int j = 1; j <= 9; j++) {
                    double v = k + log10((double)j);
                    if (v < lo - 1e-9 || v > hi + 1e-9) continue;
                    int major = 0;
                    for (int q = 0; q < set_n[s]; q++) major |= sets[s][q] == j;
                    if (major && a->n < 32) {
                        a->pos[a->n] = v;
                        fmt_log_tick(a->lab[a->n], sizeof a->lab[0], pow(10, v));
                        a->n++;
                    } else if (!major && a->n_minor < 256) {
                        a->minor[a->n_minor++] = v;
                    }
                }
            if (a->n >= 2) break;
        }
        /* too many numbers for the axis: keep every other one (decades first) */
        double room = yaxis ? 1.6 * f->font : 0;
        if (!yaxis)
            for (int i = 0; i < a->n; i++) room = fmax(room, text_width(f, a->lab[i], f->font, 0) + f->font);
        while (a->n > 2 && a->n * room > len) {
            int k = 0;
            for (int i = 0; i < a->n; i += 2) {
                a->pos[k] = a->pos[i];
                memcpy(a->lab[k], a->lab[i], sizeof a->lab[0]);
                k++;
            }
            a->n = k;
        }
        return;
    }
    int max_n = (int)(len / ((yaxis ? 2.2 : 2.5) * f->font));
    if (max_n > 8) max_n = 8;
    if (max_n < 2) max_n = 2;
    for (; max_n >= 2; max_n--) {
        a->n = snn_nice_ticks(lo, hi, max_n, a->pos, 32);
        double step = a->n > 1 ? a->pos[1] - a->pos[0] : hi - lo;
        double wmax = 0;
        for (int i = 0; i < a->n; i++) {
            fmt_tick(a->lab[i], sizeof a->lab[0], a->pos[i], step);
            if (!yaxis) wmax = fmax(wmax, text_width(f, a->lab[i], f->font, 0));
        }
        double need = yaxis ? 1.6 * f->font : wmax + f->font;
        if (a->n * need <= len || max_n == 2) break;
    }
    if (yaxis && f->int_y && a->n > 1 && a->pos[1] - a->pos[0] < 1) {
        a->n = ticks_of_step(lo, hi, 1, a->pos, 32);
        for (int i = 0; i < a->n; i++) fmt_tick(a->lab[i], sizeof a->lab[0], a->pos[i], 1);
    }
}

void snn_fig_axes(snn_fig *f, int flags) {
    axis_ticks ax, ay;
    f->int_y = (flags & SNN_AX_INT_Y) != 0;
    raw_begin(f);  /* text measurements need the font set on the context */
    compute_ticks(f, 0, &ax);
    compute_ticks(f, 1, &ay);
    /* grid first, under everything the caller draws next */
    cairo_set_line_width(f->cr, fmax(1.0, f->font / 18.0));
    raw_color(f, SNN_COLOR_A(176, 176, 176, 0.6));
    /* minor grid lines of a log axis only while it spans few decades (else they fill the panel) */
    if (flags & SNN_AX_GRID_X) {
        for (int i = 0; i < ax.n; i++) grid_line_x(f, ax.pos[i]);
        for (int i = 0; ax.n < 4 && i < ax.n_minor; i++) grid_line_x(f, ax.minor[i]);
    }
    if (flags & SNN_AX_GRID_Y) {
        for (int i = 0; i < ay.n; i++) grid_line_y(f, ay.pos[i]);
        for (int i = 0; ay.n < 4 && i < ay.n_minor; i++) grid_line_y(f, ay.minor[i]);
    }
    cairo_stroke(f->cr);
    raw_end(f);
    snn_fig_box(f);
    if (!(flags & SNN_AX_NO_XTICKS)) {
        const char *lab[32];
        double pos[32];
        for (int i = 0; i < ax.n; i++) pos[i] = f->logx ? pow(10, ax.pos[i]) : ax.pos[i], lab[i] = ax.lab[i];
        snn_fig_xticks(f, ax.n, pos, (flags & SNN_AX_NO_XLABELS) ? NULL : lab, 0, NULL, 0);
        raw_begin(f);
        cairo_set_line_width(f->cr, fmax(1.0, f->font / 18.0));
        raw_color(f, SNN_BLACK);
        for (int i = 0; i < ax.n_minor; i++) {
            double p = (f->vx0 + (ax.minor[i] - f->wx0) / (f->wx1 - f->wx0) * (f->vx1 - f->vx0)) * f->w;
            cairo_move_to(f->cr, p, pyb(f));
            cairo_line_to(f->cr, p, pyb(f) + 0.55 * tick_len(f));
        }
        cairo_stroke(f->cr);
        raw_end(f);
    }
    if (!(flags & SNN_AX_NO_YTICKS)) {
        const char *lab[32];
        double pos[32];
        for (int i = 0; i < ay.n; i++) pos[i] = f->logy ? pow(10, ay.pos[i]) : ay.pos[i], lab[i] = ay.lab[i];
        if (flags & SNN_AX_YRIGHT) {
            /* colour bars: ticks and numbers on the right edge */
            raw_begin(f);
            cairo_set_line_width(f->cr, fmax(1.0, f->font / 14.0));
            raw_color(f, SNN_BLACK);
            for (int i = 0; i < ay.n; i++) {
                double p = py_of(f, pos[i]);
                cairo_move_to(f->cr, pxr(f), p);
                cairo_line_to(f->cr, pxr(f) + tick_len(f), p);
                cairo_stroke(f->cr);
                if (!(flags & SNN_AX_NO_YLABELS))
                    raw_text(f, pxr(f) + 1.6 * tick_len(f), p, 0, lab[i], f->font, 0, SNN_BLACK,
                             SNN_LEFT | SNN_MIDDLE);
            }
            raw_end(f);
        } else {
            snn_fig_yticks(f, ay.n, pos, (flags & SNN_AX_NO_YLABELS) ? NULL : lab, NULL, 0);
        }
    }
}

void snn_fig_xticks(snn_fig *f, int n, const double *pos, const char *const *labels, double rotate,
                    const snn_color *colors, int bold) {
    raw_begin(f);
    cairo_set_line_width(f->cr, fmax(1.0, f->font / 14.0));
    for (int i = 0; i < n; i++) {
        double p = px_of(f, pos[i]);
        if (!isfinite(p) || p < pxl(f) - 0.5 || p > pxr(f) + 0.5) continue;
        raw_color(f, SNN_BLACK);
        cairo_move_to(f->cr, p, pyb(f));
        cairo_line_to(f->cr, p, pyb(f) + tick_len(f));
        cairo_stroke(f->cr);
        if (!labels || !labels[i]) continue;
        snn_color c = colors ? colors[i] : SNN_BLACK;
        if (rotate != 0)
            raw_text(f, p, pyb(f) + 1.5 * tick_len(f), rotate, labels[i], f->font, bold, c, SNN_RIGHT | SNN_TOP);
        else
            raw_text(f, p, pyb(f) + 1.6 * tick_len(f), 0, labels[i], f->font, bold, c, SNN_CENTER | SNN_TOP);
    }
    raw_end(f);
}

void snn_fig_yticks(snn_fig *f, int n, const double *pos, const char *const *labels, const snn_color *colors,
                    int bold) {
    raw_begin(f);
    cairo_set_line_width(f->cr, fmax(1.0, f->font / 14.0));
    for (int i = 0; i < n; i++) {
        double p = py_of(f, pos[i]);
        if (!isfinite(p) || p < pyt(f) - 0.5 || p > pyb(f) + 0.5) continue;
        raw_color(f, SNN_BLACK);
        cairo_move_to(f->cr, pxl(f), p);
        cairo_line_to(f->cr, pxl(f) - tick_len(f), p);
        cairo_stroke(f->cr);
        if (!labels || !labels[i]) continue;
        raw_text(f, pxl(f) - 1.6 * tick_len(f), p, 0, labels[i], f->font, bold, colors ? colors[i] : SNN_BLACK,
                 SNN_RIGHT | SNN_MIDDLE);
    }
    raw_end(f);
}

void snn_fig_title(snn_fig *f, const char *text, double scale, int bold, snn_color color) {
    raw_begin(f);
    raw_text(f, (pxl(f) + pxr(f)) / 2, pyt(f) - 0.55 * f->font, 0, text, scale * f->font, bold, color,
             SNN_CENTER | SNN_BOTTOM);
    raw_end(f);
}

void snn_fig_xlabel(snn_fig *f, const char *text) { snn_fig_xlabel_offset(f, text, 0); }

void snn_fig_xlabel_offset(snn_fig *f, const char *text, double extra) {
    raw_begin(f);
    raw_text(f, (pxl(f) + pxr(f)) / 2, pyb(f) + (2.2 + extra) * f->font, 0, text, 1.1 * f->font, 0, SNN_BLACK,
             SNN_CENTER | SNN_TOP);
    raw_end(f);
}

/* y label beyond the widest tick number (the numbers snn_fig_axes writes) */
void snn_fig_ylabel(snn_fig *f, const char *text) {
    axis_ticks ay;
    raw_begin(f);
    compute_ticks(f, 1, &ay);
    double wmax = 2 * f->font * 0.6;
    for (int i = 0; i < ay.n; i++) wmax = fmax(wmax, text_width(f, ay.lab[i], f->font, 0));
    raw_text(f, pxl(f) - 1.6 * tick_len(f) - wmax - 0.5 * f->font, (pyt(f) + pyb(f)) / 2, 90, text, 1.1 * f->font, 0,
             SNN_BLACK, SNN_CENTER | SNN_BOTTOM);
    raw_end(f);
}

void snn_fig_ylabel_at(snn_fig *f, const char *text, double gap_px) {
    raw_begin(f);
    raw_text(f, pxl(f) - gap_px, (pyt(f) + pyb(f)) / 2, 90, text, 1.1 * f->font, 0, SNN_BLACK, SNN_CENTER | SNN_BOTTOM);
    raw_end(f);
}

double snn_fig_text_width(snn_fig *f, const char *text, double scale, int bold) {
    raw_begin(f);
    double w = text_width(f, text, scale * f->font, bold);
    raw_end(f);
    return w;
}

void snn_fig_ylabel_right(snn_fig *f, const char *text) {
    axis_ticks ay;
    raw_begin(f);
    compute_ticks(f, 1, &ay);
    double wmax = f->font;
    for (int i = 0; i < ay.n; i++) wmax = fmax(wmax, text_width(f, ay.lab[i], f->font, 0));
    raw_text(f, pxr(f) + 1.6 * tick_len(f) + wmax + 0.6 * f->font, (pyt(f) + pyb(f)) / 2, 270, text, 1.1 * f->font,
             0, SNN_BLACK, SNN_CENTER | SNN_BOTTOM);
    raw_end(f);
}

static void text_at(snn_fig *f, double x, double y, const char *text, double size, snn_color c, int align,
                    int boxed, int bold) {
    raw_begin(f);
    if (boxed) {
        double w = text_width(f, text, size, bold), cap = 0.73 * size, pad = 0.45 * size;
        double x0 = (align & 3) == SNN_CENTER ? x - w / 2 : (align & 3) == SNN_RIGHT ? x - w : x;
        double y0 = (align & 12) == SNN_MIDDLE ? y - cap / 2 : (align & 12) == SNN_BOTTOM ? y - cap : y;
        double bx = x0 - pad, by = y0 - pad, bw = w + 2 * pad, bh = cap + 2 * pad + 0.2 * size, r = 0.3 * size;
        cairo_new_sub_path(f->cr);
        cairo_arc(f->cr, bx + bw - r, by + r, r, -M_PI / 2, 0);
        cairo_arc(f->cr, bx + bw - r, by + bh - r, r, 0, M_PI / 2);
        cairo_arc(f->cr, bx + r, by + bh - r, r, M_PI / 2, M_PI);
        cairo_arc(f->cr, bx + r, by + r, r, M_PI, 1.5 * M_PI);
        cairo_close_path(f->cr);
        raw_color(f, SNN_COLOR_A(255, 255, 255, 0.85));
        cairo_fill_preserve(f->cr);
        raw_color(f, SNN_GREY);
        cairo_set_line_width(f->cr, fmax(1.0, size / 14.0));
        cairo_stroke(f->cr);
    }
    raw_text(f, x, y, 0, text, size, bold, c, align);
    raw_end(f);
}

void snn_fig_text(snn_fig *f, double fx, double fy, const char *text, double scale, snn_color color, int align,
                  int boxed) {
    double x = pxl(f) + fx * (pxr(f) - pxl(f)), y = pyb(f) - fy * (pyb(f) - pyt(f));
    text_at(f, x, y, text, scale * f->font, color, align, boxed, 0);
}

void snn_fig_figtext(snn_fig *f, double fx, double fy, const char *text, double scale, int bold, int align) {
    text_at(f, fx * f->w, (1 - fy) * f->h, text, scale * f->font, SNN_BLACK, align, 0, bold);
}

void snn_fig_datatext(snn_fig *f, double x, double y, const char *text, double scale, snn_color color, int align,
                      int bold) {
    double px = px_of(f, x), py = py_of(f, y);
    if (!isfinite(px) || !isfinite(py)) return;
    text_at(f, px, py, text, scale * f->font, color, align, 0, bold);
}

/* ---------------------------------------------------------------- data */

void snn_fig_line(snn_fig *f, int64_t n, const double *x, const double *y, snn_color c, double width,
                  snn_line_style style) {
    if (n < 2) return;
    PLFLT *bx = malloc((size_t)n * sizeof *bx), *by = malloc((size_t)n * sizeof *by);
    if (!bx || !by) {
        free(bx);
        free(by);
        return;
    }
    pl_color(c);
    plwidth(width);
    pl_style(style);
    int64_t k = 0;
    for (int64_t i = 0; i <= n; i++) {
        double a = i < n ? tx(f, x[i]) : NAN, b = i < n ? ty(f, y[i]) : NAN;
        if (isfinite(a) && isfinite(b)) {
            bx[k] = a, by[k] = b, k++;
            /* PLplot takes PLINT counts */
            if (k < INT32_MAX - 1) continue;
        }
        if (k >= 2) plline((PLINT)k, bx, by);
        if (k > 0 && isfinite(a) && isfinite(b)) {
            bx[0] = bx[k - 1], by[0] = by[k - 1], k = 1;  /* split a very long line, keep it joined */
        } else {
            k = 0;
        }
    }
    pl_style(SNN_SOLID);
    plwidth(1);
    free(bx);
    free(by);
}

void snn_fig_hline(snn_fig *f, double y, snn_color c, double width, snn_line_style style) {
    double xs[2] = {f->logx ? pow(10, f->wx0) : f->wx0, f->logx ? pow(10, f->wx1) : f->wx1}, ys[2] = {y, y};
    snn_fig_line(f, 2, xs, ys, c, width, style);
}

void snn_fig_vline(snn_fig *f, double x, snn_color c, double width, snn_line_style style) {
    double ys[2] = {f->logy ? pow(10, f->wy0) : f->wy0, f->logy ? pow(10, f->wy1) : f->wy1}, xs[2] = {x, x};
    snn_fig_line(f, 2, xs, ys, c, width, style);
}

void snn_fig_segment(snn_fig *f, double x0, double y0, double x1, double y1, snn_color c, double width) {
    double xs[2] = {x0, x1}, ys[2] = {y0, y1};
    snn_fig_line(f, 2, xs, ys, c, width, SNN_SOLID);
}

void snn_fig_dots(snn_fig *f, int64_t n, const double *x, const double *y, snn_color c, double r) {
    raw_begin(f);
    raw_clip_panel(f);
    raw_color(f, c);
    int64_t in_path = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = px_of(f, x[i]), b = py_of(f, y[i]);
        if (!isfinite(a) || !isfinite(b)) continue;
        cairo_new_sub_path(f->cr);
        cairo_arc(f->cr, a, b, r, 0, 2 * M_PI);
        if (++in_path == 4096) {  /* keep the path short: cairo fills long paths slowly */
            cairo_fill(f->cr);
            in_path = 0;
        }
    }
    if (in_path) cairo_fill(f->cr);
    raw_end(f);
}

void snn_fig_fill(snn_fig *f, int n, const double *x, const double *y, snn_color c) {
    if (n < 3) return;
    PLFLT *bx = malloc((size_t)n * sizeof *bx), *by = malloc((size_t)n * sizeof *by);
    int k = 0;
    if (bx && by) {
        for (int i = 0; i < n; i++) {
            double a = tx(f, x[i]), b = ty(f, y[i]);
            if (isfinite(a) && isfinite(b)) bx[k] = a, by[k] = b, k++;
        }
        if (k >= 3) {
            pl_color(c);
            plfill(k, bx, by);
        }
    }
    free(bx);
    free(by);
}

void snn_fig_rect(snn_fig *f, double x0, double x1, double y0, double y1, snn_color fill, snn_color edge,
                  int hatch) {
    double xs[5] = {x0, x0, x1, x1, x0}, ys[5] = {y0, y1, y1, y0, y0};
    if (fill.a > 0) snn_fig_fill(f, 4, xs, ys, fill);
    if (hatch) {
        /* "//" hatching in pixels, clipped to the rectangle */
        double a = px_of(f, x0), b = px_of(f, x1), c0 = py_of(f, y1), d = py_of(f, y0);
        if (isfinite(a) && isfinite(b) && isfinite(c0) && isfinite(d)) {
            raw_begin(f);
            raw_clip_panel(f);
            cairo_rectangle(f->cr, fmin(a, b), fmin(c0, d), fabs(b - a), fabs(d - c0));
            cairo_clip(f->cr);
            raw_color(f, edge.a > 0 ? edge : SNN_BLACK);
            cairo_set_line_width(f->cr, fmax(1.0, f->font / 14.0));
            double h = fabs(d - c0), w = fabs(b - a), sp = 0.5 * f->font;
            for (double s = -h; s < w + h; s += sp) {
                cairo_move_to(f->cr, fmin(a, b) + s, fmax(c0, d));
                cairo_line_to(f->cr, fmin(a, b) + s + h, fmin(c0, d));
            }
            cairo_stroke(f->cr);
            raw_end(f);
        }
    }
    if (edge.a > 0) snn_fig_line(f, 5, xs, ys, edge, 1.0, SNN_SOLID);
}

void snn_fig_bars(snn_fig *f, int nb, const double *edges, const double *heights, snn_color fill, snn_color edge) {
    double base = f->logy ? pow(10, f->wy0) : 0;
    for (int i = 0; i < nb; i++)
        if (heights[i] > 0) snn_fig_rect(f, edges[i], edges[i + 1], base, heights[i], fill, edge, 0);
}

void snn_fig_band(snn_fig *f, int64_t n, const double *x, const double *lo, const double *hi, snn_color c) {
    if (n < 2 || n > (1 << 28)) return;
    double *px = malloc((size_t)(2 * n) * sizeof *px), *py = malloc((size_t)(2 * n) * sizeof *py);
    if (px && py) {
        int k = 0;
        for (int64_t i = 0; i < n; i++)
            if (isfinite(lo[i]) && isfinite(hi[i])) px[k] = x[i], py[k] = hi[i], k++;
        for (int64_t i = n - 1; i >= 0; i--)
            if (isfinite(lo[i]) && isfinite(hi[i])) px[k] = x[i], py[k] = lo[i], k++;
        snn_fig_fill(f, k, px, py, c);
    }
    free(px);
    free(py);
}

void snn_fig_errorbars(snn_fig *f, int n, const double *x, const double *y, const double *e, snn_color c,
                       double cap_px, double r) {
    raw_begin(f);
    raw_clip_panel(f);
    raw_color(f, c);
    cairo_set_line_width(f->cr, fmax(1.0, f->font / 12.0));
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i]) || !isfinite(e[i])) continue;
        double a = px_of(f, x[i]), lo = py_of(f, y[i] - e[i]), hi = py_of(f, y[i] + e[i]);
        if (!isfinite(a)) continue;
        if (!isfinite(lo)) lo = pyb(f);
        if (!isfinite(hi)) hi = pyt(f);
        cairo_move_to(f->cr, a, lo);
        cairo_line_to(f->cr, a, hi);
        cairo_move_to(f->cr, a - cap_px, lo);
        cairo_line_to(f->cr, a + cap_px, lo);
        cairo_move_to(f->cr, a - cap_px, hi);
        cairo_line_to(f->cr, a + cap_px, hi);
        cairo_stroke(f->cr);
    }
    raw_end(f);
    if (r > 0) snn_fig_dots(f, n, x, y, c, r);
}

/* ---------------------------------------------------------------- images */

static void blit(snn_fig *f, cairo_surface_t *img, int64_t cols, int64_t rows) {
    raw_begin(f);
    double x0 = pxl(f), y0 = pyt(f), w = pxr(f) - pxl(f), h = pyb(f) - pyt(f);
    cairo_rectangle(f->cr, x0, y0, w, h);
    cairo_clip(f->cr);
    cairo_translate(f->cr, x0, y0);
    cairo_scale(f->cr, w / (double)cols, h / (double)rows);
    cairo_set_source_surface(f->cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(f->cr), CAIRO_FILTER_NEAREST);
    cairo_pattern_set_extend(cairo_get_source(f->cr), CAIRO_EXTEND_PAD);
    cairo_paint(f->cr);
    raw_end(f);
}

void snn_fig_heatmap(snn_fig *f, int64_t rows, int64_t cols, const double *data, double vmin, double vmax,
                     snn_cmap cm) {
    if (rows < 1 || cols < 1 || rows > 32767 || cols > 32767) return;
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)cols, (int)rows);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return;
    }
    cairo_surface_flush(img);
    unsigned char *d = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    double span = vmax > vmin ? vmax - vmin : 1;
    for (int64_t r = 0; r < rows; r++) {
        uint32_t *row = (uint32_t *)(void *)(d + r * stride);
        for (int64_t c = 0; c < cols; c++) {
            double v = data[r * cols + c];
            snn_color k = isfinite(v) ? snn_cmap_at(cm, (v - vmin) / span) : SNN_WHITE;
            row[c] = ((uint32_t)k.r << 16) | ((uint32_t)k.g << 8) | k.b;
        }
    }
    cairo_surface_mark_dirty(img);
    blit(f, img, cols, rows);
    cairo_surface_destroy(img);
}

void snn_fig_colorbar(snn_fig *f, double x0, double x1, double y0, double y1, snn_cmap cm, double vmin,
                      double vmax, int n, const double *ticks, const char *const *labels, const char *label) {
    snn_fig_panel(f, x0, x1, y0, y1, 0, 1, vmin, vmax, 0);
    double col[256];
    for (int i = 0; i < 256; i++) col[i] = vmin + (vmax - vmin) * (255 - i) / 255.0;  /* row 0 at the top */
    snn_fig_heatmap(f, 256, 1, col, vmin, vmax, cm);
    snn_fig_box(f);
    if (n > 0 && ticks) {
        raw_begin(f);
        cairo_set_line_width(f->cr, fmax(1.0, f->font / 14.0));
        double wmax = 0;
        for (int i = 0; i < n; i++) {
            double p = py_of(f, ticks[i]);
            if (!isfinite(p)) continue;
            raw_color(f, SNN_BLACK);
            cairo_move_to(f->cr, pxr(f), p);
            cairo_line_to(f->cr, pxr(f) + tick_len(f), p);
            cairo_stroke(f->cr);
            char b[64];
            const char *t = labels ? labels[i] : b;
            if (!labels) snprintf(b, sizeof b, "%g", ticks[i]);
            wmax = fmax(wmax, text_width(f, t, f->font, 0));
            raw_text(f, pxr(f) + 1.6 * tick_len(f), p, 0, t, f->font, 0, SNN_BLACK, SNN_LEFT | SNN_MIDDLE);
        }
        if (label && *label)
            raw_text(f, pxr(f) + 1.6 * tick_len(f) + wmax + 0.6 * f->font, (pyt(f) + pyb(f)) / 2, 270, label,
                     1.1 * f->font, 0, SNN_BLACK, SNN_CENTER | SNN_BOTTOM);
        raw_end(f);
    } else {
        snn_fig_axes(f, SNN_AX_NO_XTICKS | SNN_AX_YRIGHT);
        if (label && *label) snn_fig_ylabel_right(f, label);
    }
}

/* ---------------------------------------------------------------- pie */

void snn_fig_pie(snn_fig *f, int n, const double *values, const snn_color *colors, const char *const *labels,
                 const char *const *inner) {
    double total = 0;
    for (int i = 0; i < n; i++)
        if (values[i] > 0 && isfinite(values[i])) total += values[i];
    double cx = (pxl(f) + pxr(f)) / 2, cy = (pyt(f) + pyb(f)) / 2;
    double r = 0.5 * fmin(pxr(f) - pxl(f), pyb(f) - pyt(f)) * 0.78;
    raw_begin(f);
    if (!(total > 0)) {
        raw_text(f, cx, cy, 0, "no inputs", f->font, 0, SNN_GREY, SNN_CENTER | SNN_MIDDLE);
        raw_end(f);
        return;
    }
    /* matplotlib's pie: start at 90 degrees, counter-clockwise; cairo's y axis points down */
    double a0 = -M_PI / 2;
    for (int i = 0; i < n; i++) {
        if (!(values[i] > 0) || !isfinite(values[i])) continue;
        double da = 2 * M_PI * values[i] / total, a1 = a0 - da, mid = a0 - da / 2;
        cairo_move_to(f->cr, cx, cy);
        cairo_arc_negative(f->cr, cx, cy, r, a0, a1);
        cairo_close_path(f->cr);
        raw_color(f, colors[i]);
        cairo_fill_preserve(f->cr);
        raw_color(f, SNN_WHITE);
        cairo_set_line_width(f->cr, fmax(1.0, f->font / 10.0));
        cairo_stroke(f->cr);
        double ca = cos(mid), sa = sin(mid);
        if (labels && labels[i])
            raw_text(f, cx + 1.1 * r * ca, cy + 1.1 * r * sa, 0, labels[i], f->font, 0, SNN_BLACK,
                     (ca > 0.1 ? SNN_LEFT : ca < -0.1 ? SNN_RIGHT : SNN_CENTER) |
                         (sa > 0.3 ? SNN_TOP : sa < -0.3 ? SNN_BOTTOM : SNN_MIDDLE));
        if (inner && inner[i])
            raw_text(f, cx + 0.6 * r * ca, cy + 0.6 * r * sa, 0, inner[i], 0.95 * f->font, 1, SNN_WHITE,
                     SNN_CENTER | SNN_MIDDLE);
        a0 = a1;
    }
    raw_end(f);
}

/* ---------------------------------------------------------------- legend */

/* Pixels of the figure's rectangle [x0, x0 + w) x [y0, y0 + h) that carry ink: anything but the white
 * background and the pale grid lines. */
static int64_t ink_in(snn_fig *f, double x0, double y0, double w, double h) {
    cairo_surface_flush(f->surf);
    const unsigned char *d = cairo_image_surface_get_data(f->surf);
    int stride = cairo_image_surface_get_stride(f->surf);
    int xa = (int)fmax(0, floor(x0)), xb = (int)fmin(f->w, ceil(x0 + w)), ya = (int)fmax(0, floor(y0)),
        yb = (int)fmin(f->h, ceil(y0 + h));
    int64_t ink = 0;
    for (int y = ya; y < yb; y++) {
        const uint32_t *row = (const uint32_t *)(const void *)(d + (size_t)y * (size_t)stride);
        for (int x = xa; x < xb; x++) {
            int r = (row[x] >> 16) & 255, g = (row[x] >> 8) & 255, b = row[x] & 255;
            int lo = r < g ? (r < b ? r : b) : (g < b ? g : b), hi = r > g ? (r > b ? r : b) : (g > b ? g : b);
            ink += 255 - lo > 60 || hi - lo > 25;
        }
    }
    return ink;
}

/* A legend's box in pixels (caller holds raw_begin). */
static void legend_box(snn_fig *f, int n, const snn_legend_entry *e, int in_row, double scale, double *bw, double *bh) {
    double size = scale * f->font, row = 1.45 * size, pad = 0.5 * size, sample = 1.8 * size, gap = 0.5 * size;
    double wmax = 0, wsum = 0;
    int any_sample = 0;
    for (int i = 0; i < n && i < 64; i++) {
        double tw = text_width(f, e[i].text ? e[i].text : "", size, 0);
        wmax = fmax(wmax, tw);
        if (e[i].kind != SNN_LEG_NONE) any_sample = 1;
        wsum += tw + (e[i].kind != SNN_LEG_NONE ? sample + gap : 0) + (i ? size : 0);
    }
    *bw = in_row ? 2 * pad + wsum : 2 * pad + (any_sample ? sample + gap : 0) + wmax;
    *bh = in_row ? 2 * pad + size : 2 * pad + n * row - (row - size);
}

double snn_fig_legend_headroom(snn_fig *f, int n, const snn_legend_entry *e, double scale, int nb, const double *edges,
                               const double *heights, double ymax) {
    if (n <= 0 || f->logy || !(ymax > 0)) return ymax;
    double bw, bh;
    raw_begin(f);
    legend_box(f, n, e, 0, scale, &bw, &bh);
    raw_end(f);
    double off = 0.6 * scale * f->font, ph = pyb(f) - pyt(f);
    /* the part of the panel's height the legend needs at the top, with a little air below it */
    double frac = (bh + off + 0.3 * scale * f->font) / ph;
    if (frac >= 0.8) return ymax;
    double best = INFINITY;
    for (int corner = 0; corner < 2; corner++) {
        double xa = corner ? pxr(f) - off - bw : pxl(f) + off, xb = xa + bw, hmax = 0;
        for (int i = 0; i < nb; i++) {
            double a = px_of(f, edges[i]), b = px_of(f, edges[i + 1]);
            if (!isfinite(a) || !isfinite(b) || fmax(a, b) < xa || fmin(a, b) > xb) continue;
            if (isfinite(heights[i])) hmax = fmax(hmax, heights[i]);
        }
        best = fmin(best, hmax / (1 - frac));
    }
    return fmax(ymax, best);
}

void snn_fig_legend(snn_fig *f, int n, const snn_legend_entry *e, int align, double scale) {
    if (n <= 0) return;
    double size = scale * f->font, row = 1.45 * size, pad = 0.5 * size, sample = 1.8 * size, gap = 0.5 * size;
    int in_row = (align & (SNN_LEGEND_ROW | SNN_LEGEND_ABOVE)) != 0;
    raw_begin(f);
    double wmax = 0, wsum = 0, tw[64];
    int any_sample = 0;
    for (int i = 0; i < n && i < 64; i++) {
        tw[i] = text_width(f, e[i].text ? e[i].text : "", size, 0);
        wmax = fmax(wmax, tw[i]);
        if (e[i].kind != SNN_LEG_NONE) any_sample = 1;
        wsum += tw[i] + (e[i].kind != SNN_LEG_NONE ? sample + gap : 0) + (i ? size : 0);
    }
    if (n > 64) n = 64;
    double sw = any_sample ? sample + gap : 0;
    double bw = in_row ? 2 * pad + wsum : 2 * pad + sw + wmax;
    double bh = in_row ? 2 * pad + size : 2 * pad + n * row - (row - size);
    double off = 0.6 * size, x0, y0;
    /* x0 and y0 of a corner: h 0 left, 1 centre, 2 right; v 0 top, 1 middle, 2 bottom */
#define LEG_X(h) ((h) == 0 ? pxl(f) + off : (h) == 1 ? (pxl(f) + pxr(f) - bw) / 2 : pxr(f) - off - bw)
#define LEG_Y(v) ((v) == 0 ? pyt(f) + off : (v) == 1 ? (pyt(f) + pyb(f) - bh) / 2 : pyb(f) - off - bh)
    if (align & SNN_LEGEND_ABOVE) {
        /* outside the panel, just above its top edge (the title's line, beside a centred title) */
        x0 = (align & 3) == SNN_LEFT ? pxl(f) : (align & 3) == SNN_CENTER ? (pxl(f) + pxr(f) - bw) / 2 : pxr(f) - bw;
        y0 = pyt(f) - 0.3 * f->font - bh;
    } else if (align & SNN_LEGEND_BEST) {
        /* the place with the least ink under it, in matplotlib's order of preference */
        static const int cand[9][2] = {{2, 0}, {0, 0}, {2, 2}, {0, 2}, {2, 1}, {0, 1}, {1, 0}, {1, 2}, {1, 1}};
        int64_t best = -1;
        x0 = LEG_X(2), y0 = LEG_Y(0);
        for (int c = 0; c < 9; c++) {
            double cx = LEG_X(cand[c][0]), cy = LEG_Y(cand[c][1]);
            int64_t ink = ink_in(f, cx, cy, bw, bh);
            if (best < 0 || ink < best) best = ink, x0 = cx, y0 = cy;
            if (best == 0) break;
        }
    } else {
        x0 = LEG_X((align & 3) == SNN_LEFT ? 0 : (align & 3) == SNN_CENTER ? 1 : 2);
        y0 = LEG_Y((align & 12) == SNN_TOP ? 0 : (align & 12) == SNN_MIDDLE ? 1 : 2);
    }
#undef LEG_X
#undef LEG_Y
    if (!(align & SNN_LEGEND_ABOVE)) {
        cairo_rectangle(f->cr, x0, y0, bw, bh);
        raw_color(f, SNN_COLOR_A(255, 255, 255, 0.8));
        cairo_fill_preserve(f->cr);
        raw_color(f, SNN_COLOR(204, 204, 204));
        cairo_set_line_width(f->cr, fmax(1.0, size / 14.0));
        cairo_stroke(f->cr);
    }
    double sx = x0 + pad, cy = y0 + pad + size / 2;
    for (int i = 0; i < n; i++) {
        if (!in_row) sx = x0 + pad, cy = y0 + pad + i * row + size / 2;
        raw_color(f, e[i].color);
        switch (e[i].kind) {
        case SNN_LEG_LINE:
            cairo_set_line_width(f->cr, fmax(1.5, size / 7.0));
            if (e[i].style == SNN_DASHED) {
                double dash[2] = {0.5 * size, 0.25 * size};
                cairo_set_dash(f->cr, dash, 2, 0);
            }
            cairo_move_to(f->cr, sx, cy);
            cairo_line_to(f->cr, sx + sample, cy);
            cairo_stroke(f->cr);
            cairo_set_dash(f->cr, NULL, 0, 0);
            break;
        case SNN_LEG_PATCH:
        case SNN_LEG_HATCH:
            cairo_rectangle(f->cr, sx, cy - 0.4 * size, sample, 0.8 * size);
            cairo_fill(f->cr);
            if (e[i].kind == SNN_LEG_HATCH) {
                cairo_save(f->cr);
                cairo_rectangle(f->cr, sx, cy - 0.4 * size, sample, 0.8 * size);
                cairo_clip(f->cr);
                raw_color(f, SNN_BLACK);
                cairo_set_line_width(f->cr, 1);
                for (double s = -size; s < sample + size; s += 0.35 * size) {
                    cairo_move_to(f->cr, sx + s, cy + 0.4 * size);
                    cairo_line_to(f->cr, sx + s + 0.8 * size, cy - 0.4 * size);
                }
                cairo_stroke(f->cr);
                cairo_restore(f->cr);
            }
            break;
        case SNN_LEG_DOT:
            cairo_arc(f->cr, sx + sample / 2, cy, 0.3 * size, 0, 2 * M_PI);
            cairo_fill(f->cr);
            break;
        case SNN_LEG_NONE: break;
        }
        double tx = in_row ? sx + (e[i].kind != SNN_LEG_NONE ? sample + gap : 0) : sx + sw;
        raw_text(f, tx, cy, 0, e[i].text, size, 0, SNN_BLACK, SNN_LEFT | SNN_MIDDLE);
        if (in_row) sx = tx + tw[i] + size;
    }
    raw_end(f);
}
