/* svgchart: see svgchart.h. */
#include "lib/svgchart/svgchart.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Okabe-Ito: blue, sky blue, vermillion, orange, bluish green, reddish purple */
static const char *const SC_PALETTE[SVGCHART_MAX_SERIES] = {"#0072B2", "#56B4E9", "#D55E00",
                                                            "#E69F00", "#009E73", "#CC79A7"};
#define SC_POS "#0072B2"
#define SC_NEG "#D55E00"
#define SC_GRID "#DDDDDD"
#define SC_AXIS "#444444"
#define SC_TEXT "#222222"
#define SC_CHAR_W 6.6 /* estimated width of one character at font-size 12 */

/* ---- text ---------------------------------------------------------------------------------- */

/* Decodes one UTF-8 sequence at s; *cp = U+FFFD and length 1 when invalid. */
static size_t sc_utf8(const unsigned char *s, uint32_t *cp) {
    size_t n = s[0] < 0x80             ? 1
               : (s[0] & 0xE0) == 0xC0 ? 2
               : (s[0] & 0xF0) == 0xE0 ? 3
               : (s[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    uint32_t c = n == 1 ? s[0] : n == 2 ? s[0] & 0x1Fu : n == 3 ? s[0] & 0x0Fu : s[0] & 0x07u;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) n = 0;
        if (!n) break;
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (n == 0 || c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) || c == 0xFFFE ||
        c == 0xFFFF) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = c;
    return n;
}

/* Characters of s as drawn (control characters dropped). */
static size_t sc_len(const char *s) {
    size_t n = 0;
    uint32_t cp;
    for (const unsigned char *p = (const unsigned char *)s; *p; p += sc_utf8(p, &cp))
        n += !(cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r');
    return n;
}

/* Appends s XML-escaped; at most max characters (0 = all), the last one "..." when cut. */
static void sc_esc(strbuf_t *b, const char *s, size_t max) {
    if (!s) return;
    size_t total = sc_len(s), n = 0;
    int cut = max && total > max;
    uint32_t cp;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = sc_utf8(p, &cp);
        if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') {
            p += k;
            continue;
        }
        if (cut && n == max - 1) {
            strbuf_puts(b, "\xE2\x80\xA6"); /* U+2026 */
            return;
        }
        n++;
        if (cp == '&')
            strbuf_puts(b, "&amp;");
        else if (cp == '<')
            strbuf_puts(b, "&lt;");
        else if (cp == '>')
            strbuf_puts(b, "&gt;");
        else if (cp == '"')
            strbuf_puts(b, "&quot;");
        else if (cp == '\'')
            strbuf_puts(b, "&#39;");
        else if (cp < 0x20)
            strbuf_puts(b, " ");
        else if (cp == 0xFFFD && k == 1)
            strbuf_puts(b, "\xEF\xBF\xBD");
        else
            strbuf_putn(b, (const char *)p, k);
        p += k;
    }
}

/* ---- numbers ------------------------------------------------------------------------------- */

/* v with exactly dec decimals (0..4), '.' as the separator, by integer arithmetic. */
static const char *sc_num(char buf[48], double v, int dec) {
    static const double p10[] = {1, 10, 100, 1000, 10000};
    long long s = llround(v * p10[dec]);
    unsigned long long u = s < 0 ? 0ULL - (unsigned long long)s : (unsigned long long)s;
    unsigned long long p = (unsigned long long)p10[dec];
    if (dec)
        snprintf(buf, 48, "%s%llu.%0*llu", s < 0 ? "-" : "", u / p, dec, u % p);
    else
        snprintf(buf, 48, "%s%llu", s < 0 ? "-" : "", u);
    return buf;
}

/* A coordinate: one decimal, without ".0". */
static void sc_px(strbuf_t *b, double v) {
    char buf[48];
    sc_num(buf, v, 1);
    size_t n = strlen(buf);
    if (n > 2 && strcmp(buf + n - 2, ".0") == 0) buf[n - 2] = 0;
    strbuf_puts(b, strcmp(buf, "-0") == 0 ? "0" : buf);
}

static int sc_missing(double v) {
    return !isfinite(v);
}

/* A value axis: ticks lo, lo+step, ... hi. */
typedef struct sc_axis {
    double lo, hi, step;
    int n, dec; /* n steps, dec decimals of the tick labels */
} sc_axis_t;

static void sc_axis(sc_axis_t *a, double vmin, double vmax, int decimals) {
    static const double p10n[] = {1, 0.1, 0.01, 0.001, 0.0001};
    double min_step = p10n[decimals], lo = vmin < 0 ? vmin : 0, hi = vmax > 0 ? vmax : 0;
    if (hi - lo <= 0) hi = lo + 4 * min_step;
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    if (step < min_step) step = min_step;
    a->step = step;
    a->lo = floor(lo / step + 1e-9) * step;
    a->hi = ceil(hi / step - 1e-9) * step;
    a->n = (int)llround((a->hi - a->lo) / step);
    if (a->n < 1) a->n = 1, a->hi = a->lo + step;
    int d = (int)ceil(-log10(step) - 1e-9);
    a->dec = d < 0 ? 0 : d > decimals ? decimals : d;
}

static double sc_tick(const sc_axis_t *a, int i) {
    return a->lo + a->step * i;
}

/* ---- document ------------------------------------------------------------------------------ */

typedef struct sc_doc {
    strbuf_t *b;
    const svgchart_meta_t *m;
    const char *id, *missing;
    int w, h;
} sc_doc_t;

static int sc_check_meta(const svgchart_meta_t *m, err_t *e) {
    if (!m || !m->title || !*m->title) return err_invalid(e, "title", "title is required");
    if (!m->desc || !*m->desc) return err_invalid(e, "desc", "desc is required");
    if (m->id) {
        size_t n = strlen(m->id);
        int ok = n >= 1 && n <= 32 && ((m->id[0] | 0x20) >= 'a' && (m->id[0] | 0x20) <= 'z');
        for (size_t i = 0; ok && i < n; i++) {
            char c = m->id[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        }
        if (!ok) return err_invalid(e, "id", "id must be a letter then letters, digits, _ or -");
    }
    if (m->decimals < 0 || m->decimals > 4)
        return err_invalid(e, "decimals", "decimals must be between 0 and 4");
    if ((m->width && (m->width < 200 || m->width > 4000)) ||
        (m->height && (m->height < 200 || m->height > 4000)))
        return err_invalid(e, "width", "width and height must be between 200 and 4000");
    return 0;
}

static int sc_check_values(const double *v, size_t n, int allow_negative, err_t *e) {
    for (size_t i = 0; i < n; i++) {
        if (sc_missing(v[i])) continue;
        if (fabs(v[i]) > SVGCHART_MAX_VALUE)
            return err_invalid(e, "values", "values must be within +-10^14");
        if (!allow_negative && v[i] < 0)
            return err_invalid(e, "values", "values must not be negative");
    }
    return 0;
}

static int sc_check_labels(const char *const *l, size_t n, const char *field, err_t *e) {
    for (size_t i = 0; i < n; i++)
        if (!l || !l[i]) return err_invalid(e, field, "%s[%zu] is missing", field, i);
    return 0;
}

static void sc_attr_px(strbuf_t *b, const char *name, double v) {
    strbuf_printf(b, " %s=\"", name);
    sc_px(b, v);
    strbuf_puts(b, "\"");
}

static void sc_open(sc_doc_t *d, const svgchart_meta_t *m, strbuf_t *b, int w, int h) {
    d->b = b, d->m = m, d->w = m->width ? m->width : w, d->h = m->height ? m->height : h;
    d->id = m->id ? m->id : "chart";
    d->missing = m->missing_label ? m->missing_label : "no data";
    strbuf_printf(b,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
                  "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
                  "aria-labelledby=\"%s-title %s-desc\" font-family=\"Arial, Helvetica, "
                  "sans-serif\" font-size=\"12\">\n<title id=\"%s-title\">",
                  d->w, d->h, d->w, d->h, d->id, d->id, d->id);
    sc_esc(b, m->title, 0);
    strbuf_printf(b, "</title>\n<desc id=\"%s-desc\">", d->id);
    sc_esc(b, m->desc, 0);
    strbuf_printf(b,
                  "</desc>\n<rect width=\"%d\" height=\"%d\" fill=\"#FFFFFF\"/>\n"
                  "<text x=\"16\" y=\"26\" font-size=\"16\" font-weight=\"bold\" fill=\"" SC_TEXT
                  "\">",
                  d->w, d->h);
    sc_esc(b, m->title, 0);
    strbuf_puts(b, "</text>\n");
}

static void sc_close(sc_doc_t *d) {
    strbuf_puts(d->b, "</svg>\n");
}

/* <text> at (x, y) with anchor "start", "middle" or "end", colour fill and extra attributes
 * (NULL = none), s shortened to max characters (0 = whole). */
static void sc_text_fill(strbuf_t *b, double x, double y, const char *anchor, const char *extra,
                         const char *fill, const char *s, size_t max) {
    strbuf_puts(b, "<text");
    sc_attr_px(b, "x", x);
    sc_attr_px(b, "y", y);
    strbuf_printf(b, " text-anchor=\"%s\" fill=\"%s\"%s%s>", anchor, fill, extra ? " " : "",
                  extra ? extra : "");
    sc_esc(b, s, max);
    strbuf_puts(b, "</text>\n");
}

/* sc_text_fill in the text colour. */
static void sc_text(strbuf_t *b, double x, double y, const char *anchor, const char *extra,
                    const char *s, size_t max) {
    sc_text_fill(b, x, y, anchor, extra, SC_TEXT, s, max);
}

/* "<title>label: value unit</title>" */
static void sc_title(sc_doc_t *d, const char *a, const char *bname, double v) {
    char num[48];
    strbuf_puts(d->b, "<title>");
    sc_esc(d->b, a, 0);
    if (bname) {
        strbuf_puts(d->b, ", ");
        sc_esc(d->b, bname, 0);
    }
    strbuf_puts(d->b, ": ");
    if (sc_missing(v)) {
        sc_esc(d->b, d->missing, 0);
    } else {
        strbuf_puts(d->b, sc_num(num, v, d->m->decimals));
        if (d->m->value_label) {
            strbuf_puts(d->b, " ");
            sc_esc(d->b, d->m->value_label, 0);
        }
    }
    strbuf_puts(d->b, "</title>");
}

static void sc_rect(strbuf_t *b, double x, double y, double w, double h) {
    strbuf_puts(b, "<rect");
    sc_attr_px(b, "x", x);
    sc_attr_px(b, "y", y);
    sc_attr_px(b, "width", w);
    sc_attr_px(b, "height", h);
}

/* <line> with stroke and extra attributes (NULL = none). */
static void sc_line(strbuf_t *b, double x1, double y1, double x2, double y2, const char *stroke,
                    const char *extra) {
    strbuf_puts(b, "<line");
    sc_attr_px(b, "x1", x1);
    sc_attr_px(b, "y1", y1);
    sc_attr_px(b, "x2", x2);
    sc_attr_px(b, "y2", y2);
    strbuf_printf(b, " stroke=\"%s\"%s%s/>\n", stroke, extra ? " " : "", extra ? extra : "");
}

/* A legend entry at (*x, *y): a swatch (or a line sample, dashed like its series) and the name;
 * advances *x, or wraps to the next line when the entry would pass the right edge. */
static void sc_legend_entry(sc_doc_t *d, double *x, double *y, const char *colour, int line,
                            int dashed, const char *name) {
    size_t n = sc_len(name);
    double sw = line ? 22 : 16;
    double w = sw + SC_CHAR_W * (double)(n > SVGCHART_MAX_LABEL ? SVGCHART_MAX_LABEL : n) + 18;
    if (*x > 16 && *x + w > d->w - 8) *x = 16, *y += 18;
    if (line) {
        sc_line(d->b, *x, *y - 4, *x + 18, *y - 4, colour,
                dashed ? "stroke-width=\"2.5\" stroke-dasharray=\"6 3\"" : "stroke-width=\"2.5\"");
    } else {
        sc_rect(d->b, *x, *y - 10, 12, 12);
        strbuf_printf(d->b, " fill=\"%s\"/>\n", colour);
    }
    sc_text(d->b, *x + sw, *y, "start", NULL, name, SVGCHART_MAX_LABEL);
    *x += w;
}

/* The horizontal gridlines and tick labels of a vertical value axis. */
static void sc_value_axis_y(sc_doc_t *d, const sc_axis_t *a, double x0, double x1, double y0,
                            double y1) {
    char num[48];
    strbuf_puts(d->b, "<g class=\"axis\">\n");
    for (int i = 0; i <= a->n; i++) {
        double v = sc_tick(a, i), y = y1 - (v - a->lo) / (a->hi - a->lo) * (y1 - y0);
        sc_line(d->b, x0, y, x1, y, fabs(v) < a->step / 2 ? SC_AXIS : SC_GRID, NULL);
        sc_text(d->b, x0 - 6, y + 4, "end", NULL, sc_num(num, v, a->dec), 0);
    }
    if (d->m->value_label) {
        double ym = (y0 + y1) / 2;
        strbuf_puts(d->b, "<text x=\"18\"");
        sc_attr_px(d->b, "y", ym);
        strbuf_puts(d->b, " transform=\"rotate(-90 18 ");
        sc_px(d->b, ym);
        strbuf_puts(d->b, ")\" text-anchor=\"middle\" fill=\"" SC_TEXT "\">");
        sc_esc(d->b, d->m->value_label, SVGCHART_MAX_LABEL);
        strbuf_puts(d->b, "</text>\n");
    }
    strbuf_puts(d->b, "</g>\n");
}

static void sc_no_data(sc_doc_t *d) {
    sc_text(d->b, d->w / 2.0, d->h / 2.0, "middle", "font-size=\"14\"", "No data", 0);
}

/* ---- (a) series over categories ------------------------------------------------------------ */

static void sc_series_bars(sc_doc_t *d, const sc_axis_t *a, const char *const *cat, size_t n_cat,
                           const svgchart_series_t *s, size_t n_s, double x0, double x1, double y0,
                           double y1) {
    double band = (x1 - x0) / (double)n_cat, bw = band * 0.8 / (double)n_s;
    double scale = (y1 - y0) / (a->hi - a->lo), yz = y1 - (0 - a->lo) * scale;
    for (size_t k = 0; k < n_s; k++) {
        strbuf_printf(d->b, "<g class=\"series\" fill=\"%s\">\n", SC_PALETTE[k]);
        for (size_t i = 0; i < n_cat; i++) {
            double v = s[k].values[i];
            if (sc_missing(v)) continue;
            double x = x0 + band * (double)i + band * 0.1 + bw * (double)k;
            double yv = y1 - (v - a->lo) * scale;
            sc_rect(d->b, x, v >= 0 ? yv : yz, bw, fabs(yz - yv));
            strbuf_puts(d->b, ">");
            sc_title(d, cat[i], s[k].name, v);
            strbuf_puts(d->b, "</rect>\n");
        }
        strbuf_puts(d->b, "</g>\n");
    }
}

static void sc_series_lines(sc_doc_t *d, const sc_axis_t *a, size_t n_cat, const char *const *cat,
                            const svgchart_series_t *s, size_t n_s, double x0, double x1, double y0,
                            double y1) {
    double band = (x1 - x0) / (double)n_cat, scale = (y1 - y0) / (a->hi - a->lo);
    for (size_t k = 0; k < n_s; k++) {
        strbuf_printf(d->b,
                      "<g class=\"series\">\n<path fill=\"none\" stroke=\"%s\" "
                      "stroke-width=\"2.5\"%s d=\"",
                      SC_PALETTE[k], k % 2 ? " stroke-dasharray=\"6 3\"" : "");
        int pen = 0;
        for (size_t i = 0; i < n_cat; i++) {
            double v = s[k].values[i];
            if (sc_missing(v)) {
                pen = 0;
                continue;
            }
            strbuf_puts(d->b, pen ? " L" : (i ? " M" : "M"));
            sc_px(d->b, x0 + band * ((double)i + 0.5));
            strbuf_puts(d->b, " ");
            sc_px(d->b, y1 - (v - a->lo) * scale);
            pen = 1;
        }
        strbuf_printf(d->b, "\"/>\n<g fill=\"%s\">\n", SC_PALETTE[k]);
        for (size_t i = 0; i < n_cat; i++) {
            double v = s[k].values[i];
            if (sc_missing(v)) continue;
            strbuf_puts(d->b, "<circle");
            sc_attr_px(d->b, "cx", x0 + band * ((double)i + 0.5));
            sc_attr_px(d->b, "cy", y1 - (v - a->lo) * scale);
            strbuf_puts(d->b, " r=\"3.5\">");
            sc_title(d, cat[i], s[k].name, v);
            strbuf_puts(d->b, "</circle>\n");
        }
        strbuf_puts(d->b, "</g>\n</g>\n");
    }
}

/* Category labels under the plot, every k-th when they would overlap. */
static void sc_category_labels(sc_doc_t *d, const char *const *cat, size_t n_cat, double x0,
                               double x1, double y) {
    double band = (x1 - x0) / (double)n_cat, widest = 0;
    for (size_t i = 0; i < n_cat; i++) {
        size_t n = sc_len(cat[i]);
        double w = SC_CHAR_W * (double)(n > 12 ? 12 : n);
        if (w > widest) widest = w;
    }
    size_t every = (size_t)ceil((widest + 6) / band);
    if (every < 1) every = 1;
    strbuf_puts(d->b, "<g class=\"categories\">\n");
    for (size_t i = 0; i < n_cat; i += every)
        sc_text(d->b, x0 + band * ((double)i + 0.5), y, "middle", NULL, cat[i], 12);
    strbuf_puts(d->b, "</g>\n");
}

int svgchart_series(strbuf_t *b, const svgchart_meta_t *m, const char *const *categories,
                    size_t n_cat, const svgchart_series_t *series, size_t n_series, int style,
                    err_t *e) {
    if (sc_check_meta(m, e) < 0) return -1;
    if (n_cat < 1 || n_cat > SVGCHART_MAX_CATEGORIES)
        return err_invalid(e, "categories", "between 1 and %d categories", SVGCHART_MAX_CATEGORIES);
    if (sc_check_labels(categories, n_cat, "categories", e) < 0) return -1;
    if (!series || n_series < 1 || n_series > SVGCHART_MAX_SERIES)
        return err_invalid(e, "series", "between 1 and %d series", SVGCHART_MAX_SERIES);
    if (style != SVGCHART_BARS && style != SVGCHART_LINES)
        return err_invalid(e, "style", "style must be bars or lines");
    double vmin = 0, vmax = 0;
    int any = 0;
    for (size_t k = 0; k < n_series; k++) {
        if (!series[k].name || !series[k].values)
            return err_invalid(e, "series", "series[%zu] needs a name and values", k);
        if (sc_check_values(series[k].values, n_cat, 1, e) < 0) return -1;
        for (size_t i = 0; i < n_cat; i++) {
            double v = series[k].values[i];
            if (sc_missing(v)) continue;
            any = 1;
            vmin = v < vmin ? v : vmin;
            vmax = v > vmax ? v : vmax;
        }
    }
    sc_doc_t d;
    sc_open(&d, m, b, 760, 400);
    sc_axis_t a;
    sc_axis(&a, vmin, vmax, m->decimals);
    double x0 = 72, x1 = d.w - 16, y0 = 48, y1 = d.h - 72;
    sc_value_axis_y(&d, &a, x0, x1, y0, y1);
    if (style == SVGCHART_BARS)
        sc_series_bars(&d, &a, categories, n_cat, series, n_series, x0, x1, y0, y1);
    else
        sc_series_lines(&d, &a, n_cat, categories, series, n_series, x0, x1, y0, y1);
    sc_category_labels(&d, categories, n_cat, x0, x1, y1 + 18);
    strbuf_puts(b, "<g class=\"legend\">\n");
    double lx = x0, ly = d.h - 30;
    for (size_t k = 0; k < n_series; k++)
        sc_legend_entry(&d, &lx, &ly, SC_PALETTE[k], style == SVGCHART_LINES, (int)(k % 2),
                        series[k].name);
    strbuf_puts(b, "</g>\n");
    if (!any) sc_no_data(&d);
    sc_close(&d);
    return 0;
}

/* ---- (b) diverging bars -------------------------------------------------------------------- */

int svgchart_diverging(strbuf_t *b, const svgchart_meta_t *m, const char *const *labels,
                       const double *values, size_t n, err_t *e) {
    if (sc_check_meta(m, e) < 0) return -1;
    if (n > SVGCHART_MAX_BARS)
        return err_invalid(e, "labels", "at most %d bars", SVGCHART_MAX_BARS);
    if (sc_check_labels(labels, n, "labels", e) < 0) return -1;
    if (n && !values) return err_invalid(e, "values", "values are required");
    if (sc_check_values(values, n, 1, e) < 0) return -1;
    double vmin = 0, vmax = 0;
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (sc_missing(values[i])) continue;
        any = 1;
        vmin = values[i] < vmin ? values[i] : vmin;
        vmax = values[i] > vmax ? values[i] : vmax;
    }
    sc_doc_t d;
    int rows = n ? (int)n : 1;
    sc_open(&d, m, b, 760, 64 + rows * 24 + 64);
    sc_axis_t a;
    sc_axis(&a, vmin, vmax, m->decimals);
    double x0 = 16 + SC_CHAR_W * SVGCHART_MAX_LABEL + 8 + 56, x1 = d.w - 64;
    double y0 = 64, y1 = d.h - 64, row = (y1 - y0) / rows;
    double scale = (x1 - x0) / (a.hi - a.lo), xz = x0 + (0 - a.lo) * scale;
    char num[48];
    /* vertical gridlines, tick labels on top, the zero axis */
    strbuf_puts(b, "<g class=\"axis\">\n");
    for (int i = 0; i <= a.n; i++) {
        double v = sc_tick(&a, i), x = x0 + (v - a.lo) * scale;
        sc_line(b, x, y0 - 4, x, y1, fabs(v) < a.step / 2 ? SC_AXIS : SC_GRID, NULL);
        sc_text(b, x, y0 - 8, "middle", NULL, sc_num(num, v, a.dec), 0);
    }
    if (m->value_label) sc_text(b, (x0 + x1) / 2, y1 + 20, "middle", NULL, m->value_label, 0);
    strbuf_puts(b, "</g>\n<g class=\"bars\">\n");
    for (size_t i = 0; i < n; i++) {
        double v = values[i], yc = y0 + row * ((double)i + 0.5), bh = row * 0.7;
        sc_text(b, x0 - 64, yc + 4, "end", NULL, labels[i], SVGCHART_MAX_LABEL);
        if (sc_missing(v)) {
            sc_text(b, xz + 4, yc + 4, "start", "fill-opacity=\"0.7\"", d.missing, 0);
            continue;
        }
        double xv = x0 + (v - a.lo) * scale;
        sc_rect(b, v >= 0 ? xz : xv, yc - bh / 2, fabs(xv - xz), bh);
        strbuf_printf(b, " fill=\"%s\">", v >= 0 ? SC_POS : SC_NEG);
        sc_title(&d, labels[i], NULL, v);
        strbuf_puts(b, "</rect>\n");
        sc_text(b, v >= 0 ? xv + 4 : xv - 4, yc + 4, v >= 0 ? "start" : "end", NULL,
                sc_num(num, v, m->decimals), 0);
    }
    strbuf_puts(b, "</g>\n<g class=\"legend\">\n");
    double lx = 16, ly = d.h - 16;
    sc_legend_entry(&d, &lx, &ly, SC_POS, 0, 0, m->positive_label ? m->positive_label : "Positive");
    sc_legend_entry(&d, &lx, &ly, SC_NEG, 0, 0, m->negative_label ? m->negative_label : "Negative");
    strbuf_puts(b, "</g>\n");
    if (!any) sc_no_data(&d);
    sc_close(&d);
    return 0;
}

/* ---- (c) heatmap --------------------------------------------------------------------------- */

/* Class colour i of n: from #EEF5FB to Okabe-Ito blue #0072B2, in integer steps. */
static void sc_shade(char out[8], int i, int n, int *dark) {
    static const int from[3] = {0xEE, 0xF5, 0xFB}, to[3] = {0x00, 0x72, 0xB2};
    int c[3];
    for (int k = 0; k < 3; k++)
        c[k] = from[k] + (to[k] - from[k]) * i / (n > 1 ? n - 1 : 1);
    snprintf(out, 8, "#%02X%02X%02X", c[0], c[1], c[2]);
    *dark = (2126 * c[0] + 7152 * c[1] + 722 * c[2]) / 10000 < 120;
}

static int sc_class(const sc_axis_t *a, double v) {
    int i = (int)floor((v - a->lo) / a->step + 1e-9);
    return i < 0 ? 0 : i >= a->n ? a->n - 1 : i;
}

static void sc_heat_legend(sc_doc_t *d, const sc_axis_t *a, double x, double y, int any_missing) {
    char col[8], lo[48], hi[48];
    int dark;
    strbuf_puts(d->b, "<g class=\"legend\">\n");
    for (int i = 0; i < a->n; i++) {
        sc_shade(col, i, a->n, &dark);
        char label[100];
        snprintf(label, sizeof label, "%s\xE2\x80\x93%s", sc_num(lo, sc_tick(a, i), a->dec),
                 sc_num(hi, sc_tick(a, i + 1), a->dec));
        sc_legend_entry(d, &x, &y, col, 0, 0, label);
    }
    if (any_missing) {
        if (x + 40 > d->w - 8) x = 16, y += 18;
        sc_rect(d->b, x, y - 10, 12, 12);
        strbuf_printf(d->b, " fill=\"url(#%s-hatch)\" stroke=\"#999999\"/>\n", d->id);
        sc_text(d->b, x + 16, y, "start", NULL, d->missing, SVGCHART_MAX_LABEL);
    }
    strbuf_puts(d->b, "</g>\n");
}

static void sc_heat_cell(sc_doc_t *d, const sc_axis_t *a, double x, double y, double cw, double ch,
                         const char *row, const char *colname, double v) {
    char col[8], num[48];
    int dark = 0;
    sc_rect(d->b, x, y, cw - 2, ch - 2);
    if (sc_missing(v)) {
        strbuf_printf(d->b, " fill=\"url(#%s-hatch)\" stroke=\"#999999\">", d->id);
    } else {
        sc_shade(col, sc_class(a, v), a->n, &dark);
        strbuf_printf(d->b, " fill=\"%s\">", col);
    }
    sc_title(d, row, colname, v);
    strbuf_puts(d->b, "</rect>\n");
    if (cw < 24) return; /* too narrow for a number: the <title> carries it */
    sc_text_fill(d->b, x + (cw - 2) / 2, y + ch / 2 + 3, "middle", NULL, dark ? "#FFFFFF" : SC_TEXT,
                 sc_missing(v) ? d->missing : sc_num(num, v, d->m->decimals), 8);
}

int svgchart_heatmap(strbuf_t *b, const svgchart_meta_t *m, const char *const *row_labels,
                     size_t rows, const char *const *col_labels, size_t cols, const double *values,
                     err_t *e) {
    if (sc_check_meta(m, e) < 0) return -1;
    if (rows < 1 || rows > SVGCHART_MAX_GRID)
        return err_invalid(e, "rows", "between 1 and %d rows", SVGCHART_MAX_GRID);
    if (cols < 1 || cols > SVGCHART_MAX_GRID)
        return err_invalid(e, "cols", "between 1 and %d columns", SVGCHART_MAX_GRID);
    if (sc_check_labels(row_labels, rows, "rows", e) < 0 ||
        sc_check_labels(col_labels, cols, "cols", e) < 0)
        return -1;
    if (!values) return err_invalid(e, "values", "values are required");
    if (sc_check_values(values, rows * cols, 0, e) < 0) return -1;
    double vmax = 0;
    int any = 0, missing = 0;
    for (size_t i = 0; i < rows * cols; i++) {
        if (sc_missing(values[i])) {
            missing = 1;
            continue;
        }
        any = 1;
        vmax = values[i] > vmax ? values[i] : vmax;
    }
    double lw = 16 + SC_CHAR_W * 12 + 8;
    int w = (int)lw + (int)cols * 52 + 16, h = 72 + (int)rows * 30 + 56;
    sc_doc_t d;
    sc_open(&d, m, b, w < 480 ? 480 : w, h);
    sc_axis_t a;
    sc_axis(&a, 0, vmax, m->decimals);
    double x0 = lw, y0 = 72, cw = (d.w - 16 - x0) / (double)cols, ch = (d.h - 56 - y0) / rows;
    strbuf_printf(b,
                  "<defs><pattern id=\"%s-hatch\" width=\"6\" height=\"6\" "
                  "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
                  "<rect width=\"6\" height=\"6\" fill=\"#FFFFFF\"/>"
                  "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#BBBBBB\" "
                  "stroke-width=\"2\"/></pattern></defs>\n<g class=\"columns\">\n",
                  d.id);
    for (size_t c = 0; c < cols; c++)
        sc_text(b, x0 + cw * ((double)c + 0.5), y0 - 8, "middle", NULL, col_labels[c],
                cw < 40 ? 3 : 8);
    strbuf_puts(b, "</g>\n<g class=\"cells\">\n");
    for (size_t r = 0; r < rows; r++) {
        double y = y0 + ch * (double)r;
        sc_text(b, x0 - 8, y + ch / 2 + 3, "end", NULL, row_labels[r], 12);
        for (size_t c = 0; c < cols; c++)
            sc_heat_cell(&d, &a, x0 + cw * (double)c, y, cw, ch, row_labels[r], col_labels[c],
                         values[r * cols + c]);
    }
    strbuf_puts(b, "</g>\n");
    sc_heat_legend(&d, &a, 16, d.h - 34, missing);
    if (!any) sc_no_data(&d);
    sc_close(&d);
    return 0;
}
