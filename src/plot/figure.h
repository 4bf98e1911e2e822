/* A small figure layer over PLplot and cairo, enough for the reference's dashboards
 * (reference/figures.md section 10).
 *
 * Why this split: PLplot draws the axes boxes, tick marks, grids, lines and filled polygons, clipped
 * to the panel; it renders into a cairo image surface we own (the `extcairo` device), so the PNG is
 * written by cairo_surface_write_to_png, which returns a status instead of exiting the process as
 * PLplot's own file drivers do on a bad path. Text, heatmap images and raster dots are drawn with
 * cairo directly: text then has exact pixel sizes, any rotation and measurable extents (legends,
 * boxes), and images are blitted with nearest-neighbour scaling in one call.
 *
 * PLplot keeps global state and is not thread-safe, so a figure holds a process-wide mutex from
 * snn_fig_begin to snn_fig_end: only one figure is drawn at a time.
 *
 * Coordinates: panel and figure positions are fractions of the figure, origin at the bottom left.
 * Data coordinates are those of the current panel's window; on a log axis pass the data as they are
 * (positive values), the layer takes log10. Values that are not finite are skipped. */
#ifndef SNNFIT_PLOT_FIGURE_H
#define SNNFIT_PLOT_FIGURE_H

#include <stdint.h>

#include "core/error.h"

typedef struct snn_fig snn_fig;

typedef struct snn_color {
    uint8_t r, g, b;
    double a;  /* opacity 0..1 */
} snn_color;

#define SNN_COLOR(r, g, b) ((snn_color){(r), (g), (b), 1.0})
#define SNN_COLOR_A(r, g, b, a) ((snn_color){(r), (g), (b), (a)})
#define SNN_BLACK SNN_COLOR(0, 0, 0)
#define SNN_GREY SNN_COLOR(128, 128, 128)
#define SNN_WHITE SNN_COLOR(255, 255, 255)

/* Parses "#RRGGBB"; black for anything else. */
snn_color snn_color_hex(const char *hex);
snn_color snn_color_alpha(snn_color c, double a);

/* Cell type t's colour in every figure: red, blue (the reference's excitatory and inhibitory), then
 * tab10 from its first colour. */
snn_color snn_color_cell_type(int t);

/* Qualitative tables: tab10 and tab20 (matplotlib), Set1. Index taken modulo the table size. */
snn_color snn_color_tab10(int i);
snn_color snn_color_tab20(int i);
snn_color snn_color_set1(int i);

typedef enum snn_cmap { SNN_CMAP_VIRIDIS, SNN_CMAP_GREENS, SNN_CMAP_BWR } snn_cmap;
/* Colour of a colormap at u in [0, 1] (clipped). */
snn_color snn_cmap_at(snn_cmap cm, double u);

typedef enum snn_line_style { SNN_SOLID = 1, SNN_DASHED = 2, SNN_DOTTED = 3 } snn_line_style;

enum {
    SNN_AX_LOGX = 1, SNN_AX_LOGY = 2,         /* snn_fig_panel: log10 axes */
    SNN_AX_NO_XLABELS = 4, SNN_AX_NO_YLABELS = 8,  /* snn_fig_axes: ticks without numbers */
    SNN_AX_NO_XTICKS = 16, SNN_AX_NO_YTICKS = 32,  /* no tick marks or numbers at all */
    SNN_AX_GRID_X = 64, SNN_AX_GRID_Y = 128,
    SNN_AX_GRID = 64 | 128,
    SNN_AX_YRIGHT = 256,                          /* y numbers on the right (colour bars) */
    SNN_AX_INT_Y = 512                            /* y ticks on whole numbers only (counts) */
};

/* Text alignment: horizontal (left/centre/right) | vertical (baseline is not offered: top/middle/bottom
 * of the ink box of a capital letter). */
enum { SNN_LEFT = 0, SNN_CENTER = 1, SNN_RIGHT = 2, SNN_TOP = 0, SNN_MIDDLE = 4, SNN_BOTTOM = 8 };

/* Starts a width x height pixel figure on a white background (takes the plotting mutex; every
 * successful begin must be paired with snn_fig_end). font_px is the base text size in pixels (the
 * tick labels); titles and labels scale from it. */
snn_fig *snn_fig_begin(int width, int height, double font_px, snn_error *err);
/* Writes the PNG: to a temporary file beside png, renamed into place. The figure stays valid. */
int snn_fig_save(snn_fig *f, const char *png, snn_error *err);
/* Ends PLplot, frees everything, releases the mutex. NULL is accepted. */
void snn_fig_end(snn_fig *f);

int snn_fig_width(const snn_fig *f);
int snn_fig_height(const snn_fig *f);
double snn_fig_font(const snn_fig *f);

/* Makes a new current panel at figure fractions [x0, x1] x [y0, y1] with data window
 * [xmin, xmax] x [ymin, ymax] (flags: SNN_AX_LOGX / SNN_AX_LOGY; log limits must be > 0). A
 * degenerate or non-finite range is widened so that drawing never fails. */
void snn_fig_panel(snn_fig *f, double x0, double x1, double y0, double y1, double xmin, double xmax, double ymin,
                   double ymax, int flags);
/* Changes the current panel's window (e.g. after autoscaling). */
void snn_fig_window(snn_fig *f, double xmin, double xmax, double ymin, double ymax);
/* Panel rectangle in figure fractions. */
void snn_fig_panel_rect(const snn_fig *f, double *x0, double *x1, double *y0, double *y1);

/* Box, automatic "nice" ticks with numbers (log axes: decades), optional grid (SNN_AX_* flags). */
void snn_fig_axes(snn_fig *f, int flags);
/* Explicit ticks: n positions (data coordinates) with labels (NULL: no labels); rotate in degrees
 * (labels then right-aligned at the tick, as matplotlib's rotation=45, ha='right'); colors (NULL: black)
 * and bold per label. Draws tick marks too. */
void snn_fig_xticks(snn_fig *f, int n, const double *pos, const char *const *labels, double rotate,
                    const snn_color *colors, int bold);
void snn_fig_yticks(snn_fig *f, int n, const double *pos, const char *const *labels, const snn_color *colors,
                    int bold);
/* Only the frame of the panel. */
void snn_fig_box(snn_fig *f);

void snn_fig_title(snn_fig *f, const char *text, double scale, int bold, snn_color color);
void snn_fig_xlabel(snn_fig *f, const char *text);
/* x label lowered by extra base-font heights (below rotated tick labels). */
void snn_fig_xlabel_offset(snn_fig *f, const char *text, double extra);
void snn_fig_ylabel(snn_fig *f, const char *text);
/* y label at gap_px pixels left of the panel (beside category tick labels of known width). */
void snn_fig_ylabel_at(snn_fig *f, const char *text, double gap_px);
/* Width in pixels of text at scale x base font. */
double snn_fig_text_width(snn_fig *f, const char *text, double scale, int bold);
/* Label on the right side (colour bars), rotated 270 degrees. */
void snn_fig_ylabel_right(snn_fig *f, const char *text);

/* Text at panel fractions (fx, fy), size = scale x base font, align = SNN_LEFT|SNN_TOP etc; a box
 * (white, grey edge) behind it when boxed. */
void snn_fig_text(snn_fig *f, double fx, double fy, const char *text, double scale, snn_color color, int align,
                  int boxed);
/* Text at figure fractions. */
void snn_fig_figtext(snn_fig *f, double fx, double fy, const char *text, double scale, int bold, int align);
/* Text at data coordinates (no clipping). */
void snn_fig_datatext(snn_fig *f, double x, double y, const char *text, double scale, snn_color color, int align,
                      int bold);

/* Polyline in data coordinates; a non-finite point breaks the line. width in pixels. */
void snn_fig_line(snn_fig *f, int64_t n, const double *x, const double *y, snn_color c, double width,
                  snn_line_style style);
void snn_fig_hline(snn_fig *f, double y, snn_color c, double width, snn_line_style style);
void snn_fig_vline(snn_fig *f, double x, snn_color c, double width, snn_line_style style);
/* Segment from (x0, y0) to (x1, y1). */
void snn_fig_segment(snn_fig *f, double x0, double y0, double x1, double y1, snn_color c, double width);
/* Round dots of radius r pixels (raster plots, scatter), clipped to the panel. */
void snn_fig_dots(snn_fig *f, int64_t n, const double *x, const double *y, snn_color c, double r);
/* Filled polygon (clipped). */
void snn_fig_fill(snn_fig *f, int n, const double *x, const double *y, snn_color c);
/* Rectangle [x0, x1] x [y0, y1]: fill, optional edge (edge.a == 0: none), optional diagonal hatch. */
void snn_fig_rect(snn_fig *f, double x0, double x1, double y0, double y1, snn_color fill, snn_color edge,
                  int hatch);
/* Histogram bars: nb bins with edges[nb + 1] and heights[nb]; zero-height bins are not drawn. */
void snn_fig_bars(snn_fig *f, int nb, const double *edges, const double *heights, snn_color fill, snn_color edge);
/* Band between lo and hi (filled polygon). */
void snn_fig_band(snn_fig *f, int64_t n, const double *x, const double *lo, const double *hi, snn_color c);
/* Vertical error bars y +- e with caps (cap_px half-width in pixels), and a marker of radius r. */
void snn_fig_errorbars(snn_fig *f, int n, const double *x, const double *y, const double *e, snn_color c,
                       double cap_px, double r);

/* Heatmap of rows x cols values (row-major, data[row * cols + col]) filling the panel: row 0 at the
 * top (as imshow), nearest-neighbour; values outside [vmin, vmax] clipped; NaN white. */
void snn_fig_heatmap(snn_fig *f, int64_t rows, int64_t cols, const double *data, double vmin, double vmax,
                     snn_cmap cm);
/* Vertical colour bar at figure fractions [x0, x1] x [y0, y1] with n ticks (labels NULL: numbers) and a
 * label on its right. Leaves the colour bar as the current panel. */
void snn_fig_colorbar(snn_fig *f, double x0, double x1, double y0, double y1, snn_cmap cm, double vmin,
                      double vmax, int n, const double *ticks, const char *const *labels, const char *label);

/* Pie chart filling the panel's largest centred circle: n wedges from 90 degrees counter-clockwise,
 * each labelled outside with labels[i] and inside with inner[i] (white bold; NULL to skip). */
void snn_fig_pie(snn_fig *f, int n, const double *values, const snn_color *colors, const char *const *labels,
                 const char *const *inner);

/* Legends. Entry kinds: a line sample, a filled patch, a dot, or text alone. */
typedef enum snn_legend_kind { SNN_LEG_LINE, SNN_LEG_PATCH, SNN_LEG_HATCH, SNN_LEG_DOT, SNN_LEG_NONE } snn_legend_kind;
typedef struct snn_legend_entry {
    snn_legend_kind kind;
    snn_color color;
    snn_line_style style;
    const char *text;
} snn_legend_entry;
/* Legend placement flags, or'ed with the alignment: BEST puts the legend where the least of what is
 * already drawn lies under it (draw the data first); ROW lays the entries out side by side; ABOVE puts
 * one row outside the panel, above its top edge, at the horizontal alignment (beside a centred
 * title). */
enum { SNN_LEGEND_BEST = 16, SNN_LEGEND_ROW = 32, SNN_LEGEND_ABOVE = 64 };
/* Legend in a corner of the panel (align: SNN_RIGHT|SNN_TOP etc., or SNN_LEGEND_BEST), text scale x
 * base font. */
void snn_fig_legend(snn_fig *f, int n, const snn_legend_entry *e, int align, double scale);
/* For a histogram (nb bins: edges[nb + 1], heights[nb]) in the current panel: the smallest y-window top
 * >= ymax at which the legend fits in a top corner (left or right) clear of every bar under it; set it
 * with snn_fig_window before drawing, then place the legend with SNN_LEGEND_BEST. */
double snn_fig_legend_headroom(snn_fig *f, int n, const snn_legend_entry *e, double scale, int nb, const double *edges,
                               const double *heights, double ymax);

/* Nice axis ticks covering [lo, hi]: at most max_n ticks, step 1/2/5 x 10^k; returns the count. */
int snn_nice_ticks(double lo, double hi, int max_n, double *ticks, int cap);

#endif
