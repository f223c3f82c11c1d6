/* statement_pdf: see statement_pdf.h. */
#include "services/reciprocal/statement_pdf.h"

#include <hpdf.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/reciprocal/fees.h"

#define PAGE_W 595.0f
#define PAGE_H 842.0f
#define MARGIN 50.0f

typedef struct pdf {
    HPDF_Doc doc;
    HPDF_Page page;
    HPDF_Font font, bold;
    float y;
    const char *cur;
    jmp_buf fail;
} pdf_t;

static void on_error(HPDF_STATUS code, HPDF_STATUS detail, void *ud) {
    (void)code, (void)detail;
    longjmp(((pdf_t *)ud)->fail, 1);
}

/* s with every non-ASCII character as one '?' (UTF-8 continuation bytes dropped). */
static void ascii(const char *s, char *out, size_t cap) {
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && o + 1 < cap; p++) {
        if (*p >= 0x80 && *p < 0xC0) continue;
        out[o++] = *p >= 0x80 || *p < 0x20 ? '?' : (char)*p;
    }
    out[o] = 0;
}

static void new_page(pdf_t *p) {
    p->page = HPDF_AddPage(p->doc);
    HPDF_Page_SetSize(p->page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
    p->y = PAGE_H - MARGIN;
}

static void text(pdf_t *p, float x, HPDF_Font f, float size, const char *s) {
    char a[256];
    ascii(s, a, sizeof a);
    HPDF_Page_BeginText(p->page);
    HPDF_Page_SetFontAndSize(p->page, f, size);
    HPDF_Page_TextOut(p->page, x, p->y, a);
    HPDF_Page_EndText(p->page);
}

/* right-aligned at x */
static void rtext(pdf_t *p, float x, HPDF_Font f, float size, const char *s) {
    char a[256];
    ascii(s, a, sizeof a);
    HPDF_Page_SetFontAndSize(p->page, f, size);
    float w = HPDF_Page_TextWidth(p->page, a);
    text(p, x - w, f, size, a);
}

static void down(pdf_t *p, float dy) {
    p->y -= dy;
    if (p->y < MARGIN) new_page(p);
}

static const char *js(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long long ji(const json_t *o, const char *k) {
    return (long long)json_integer_value(json_object_get(o, k));
}

static void money(pdf_t *p, float x, HPDF_Font f, long long minor) {
    char b[40];
    rtext(p, x, f, 9, fees_format(minor, p->cur, b, sizeof b));
}

/* A club's name and address block at x (from the top y; p->y is left below the lower one). */
static float club_block(pdf_t *p, float x, float top, const char *label, const json_t *clubs,
                        const char *id) {
    const json_t *c = json_object_get(clubs, id);
    const json_t *a = json_object_get(c, "address");
    float y0 = p->y;
    p->y = top;
    text(p, x, p->bold, 9, label);
    p->y -= 13;
    text(p, x, p->bold, 11, c ? js(c, "name") : id);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(a, "lines"), i, l) {
        p->y -= 12;
        text(p, x, p->font, 9, json_string_value(l));
    }
    char line[256];
    snprintf(line, sizeof line, "%s %s", js(a, "postal_code"), js(a, "city"));
    p->y -= 12;
    text(p, x, p->font, 9, line);
    if (json_string_value(json_object_get(a, "region"))) {
        p->y -= 12;
        text(p, x, p->font, 9, js(a, "region"));
    }
    p->y -= 12;
    text(p, x, p->font, 9, js(a, "country"));
    float bottom = p->y;
    p->y = y0;
    return bottom;
}

static void header(pdf_t *p, const json_t *doc, const json_t *clubs) {
    char b[160];
    text(p, MARGIN, p->bold, 16, "Reciprocal statement");
    down(p, 22);
    snprintf(b, sizeof b, "Statement number: %s", js(doc, "number"));
    text(p, MARGIN, p->font, 10, b);
    down(p, 13);
    snprintf(b, sizeof b, "Period: %s (host time zone %s)    Currency: %s    Status: %s",
             js(doc, "period"), js(doc, "host_timezone"), js(doc, "currency"), js(doc, "status"));
    text(p, MARGIN, p->font, 10, b);
    down(p, 13);
    const json_t *ledger = json_object_get(doc, "ledger");
    const char *tx = json_string_value(json_object_get(ledger, "tx_id"));
    snprintf(b, sizeof b, "Ledger transaction: %s",
             tx ? tx : (ledger ? "pending" : "not recorded (recorded at acceptance)"));
    text(p, MARGIN, p->font, 9, b);
    down(p, 12);
    if (json_string_value(json_object_get(doc, "hash"))) {
        snprintf(b, sizeof b, "Statement hash (SHA-256): %s", js(doc, "hash"));
        text(p, MARGIN, p->font, 8, b);
        down(p, 12);
    }
    down(p, 10);
    float top = p->y;
    float b1 = club_block(p, MARGIN, top, "From (host club)", clubs, js(doc, "host_club_id"));
    float b2 = club_block(p, 310, top, "To (home club)", clubs, js(doc, "home_club_id"));
    p->y = (b1 < b2 ? b1 : b2);
    down(p, 24);
}

static void columns(pdf_t *p) {
    text(p, MARGIN, p->bold, 8, "Date");
    text(p, MARGIN + 62, p->bold, 8, "Category");
    text(p, MARGIN + 135, p->bold, 8, "Description");
    rtext(p, 365, p->bold, 8, "Qty");
    rtext(p, 425, p->bold, 8, "Unit");
    rtext(p, 460, p->bold, 8, "Tax %");
    rtext(p, 500, p->bold, 8, "Tax");
    rtext(p, PAGE_W - MARGIN, p->bold, 8, "Total");
    down(p, 12);
}

static void line_row(pdf_t *p, const json_t *l) {
    char b[64];
    snprintf(b, sizeof b, "%.10s", js(l, "at"));
    text(p, MARGIN, p->font, 8, b);
    text(p, MARGIN + 62, p->font, 8, js(l, "category"));
    char d[96];
    snprintf(d, sizeof d, "%s%.52s",
             json_string_value(json_object_get(l, "reverses")) ? "REV " : "", js(l, "description"));
    text(p, MARGIN + 135, p->font, 8, d);
    snprintf(b, sizeof b, "%lld", ji(l, "quantity"));
    rtext(p, 365, p->font, 8, b);
    char u[40];
    rtext(p, 425, p->font, 8, fees_format(ji(l, "unit_amount"), p->cur, u, sizeof u));
    snprintf(b, sizeof b, "%lld.%02lld", ji(l, "tax_rate_bp") / 100, ji(l, "tax_rate_bp") % 100);
    rtext(p, 460, p->font, 8, b);
    rtext(p, 500, p->font, 8, fees_format(ji(l, "tax_amount"), p->cur, u, sizeof u));
    money(p, PAGE_W - MARGIN, p->font, ji(l, "total_amount"));
    down(p, 11);
}

static void body(pdf_t *p, const json_t *doc) {
    const json_t *lines = json_object_get(doc, "lines");
    const char *visit = NULL;
    long long sub = 0;
    char b[160];
    for (size_t i = 0; i <= json_array_size(lines); i++) {
        const json_t *l = json_array_get(lines, i);
        if (visit && (!l || strcmp(visit, js(l, "visit_id")) != 0)) {
            rtext(p, 500, p->bold, 8, "Visit subtotal");
            money(p, PAGE_W - MARGIN, p->bold, sub);
            down(p, 16);
        }
        if (!l) break;
        if (!visit || strcmp(visit, js(l, "visit_id")) != 0) {
            visit = js(l, "visit_id");
            sub = 0;
            snprintf(b, sizeof b, "Visit %s    Member %s", visit, js(l, "member_id"));
            text(p, MARGIN, p->bold, 9, b);
            down(p, 12);
            columns(p);
        }
        sub += ji(l, "total_amount");
        line_row(p, l);
    }
}

static void totals(pdf_t *p, const json_t *doc) {
    char b[96];
    down(p, 8);
    text(p, MARGIN, p->bold, 10, "Totals per tax rate");
    down(p, 14);
    rtext(p, 200, p->bold, 8, "Tax rate");
    rtext(p, 330, p->bold, 8, "Net");
    rtext(p, 430, p->bold, 8, "Tax");
    rtext(p, PAGE_W - MARGIN, p->bold, 8, "Total");
    down(p, 12);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "by_tax_rate"), i, t) {
        snprintf(b, sizeof b, "%lld.%02lld %%", ji(t, "tax_rate_bp") / 100,
                 ji(t, "tax_rate_bp") % 100);
        rtext(p, 200, p->font, 9, b);
        money(p, 330, p->font, ji(t, "net"));
        money(p, 430, p->font, ji(t, "tax"));
        money(p, PAGE_W - MARGIN, p->font, ji(t, "total"));
        down(p, 12);
    }
    const json_t *all = json_object_get(doc, "totals");
    down(p, 6);
    snprintf(b, sizeof b, "Lines: %lld", ji(all, "lines"));
    text(p, MARGIN, p->font, 9, b);
    rtext(p, 200, p->bold, 9, "All rates");
    money(p, 330, p->bold, ji(all, "net"));
    money(p, 430, p->bold, ji(all, "tax"));
    money(p, PAGE_W - MARGIN, p->bold, ji(all, "total"));
    down(p, 18);
    char m[40];
    snprintf(b, sizeof b, "Total due (%s): %s", p->cur,
             fees_format(ji(all, "total"), p->cur, m, sizeof m));
    rtext(p, PAGE_W - MARGIN, p->bold, 12, b);
}

/* The saved document as a string: the header's binary-marker comment made ASCII; NULL when any
 * other byte is not printable ASCII or whitespace. */
static char *take(HPDF_Doc doc, size_t *len) {
    HPDF_UINT32 n = HPDF_GetStreamSize(doc);
    char *buf = malloc((size_t)n + 1);
    if (!buf) return NULL;
    HPDF_UINT32 got = n;
    if (HPDF_ReadFromStream(doc, (HPDF_BYTE *)buf, &got) != HPDF_OK && got != n) {
        free(buf);
        return NULL;
    }
    buf[got] = 0;
    char *nl = memchr(buf, '\n', got);
    for (char *q = nl ? nl + 1 : buf; nl && q < buf + got && *q != '\n'; q++)
        if ((unsigned char)*q >= 0x80) *q = 'A';
    for (size_t i = 0; i < got; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t')) {
            free(buf);
            return NULL;
        }
    }
    *len = got;
    return buf;
}

char *stmt_pdf(const json_t *doc, const json_t *clubs, size_t *len) {
    pdf_t p = {0};
    char *volatile out = NULL;
    p.cur = js(doc, "currency");
    p.doc = HPDF_New(on_error, &p);
    if (!p.doc) return NULL;
    if (setjmp(p.fail) == 0) {
        HPDF_SetCompressionMode(p.doc, HPDF_COMP_NONE);
        HPDF_SetInfoAttr(p.doc, HPDF_INFO_PRODUCER, "Reciprocal Clubs");
        HPDF_SetInfoAttr(p.doc, HPDF_INFO_TITLE, js(doc, "number"));
        p.font = HPDF_GetFont(p.doc, "Helvetica", NULL);
        p.bold = HPDF_GetFont(p.doc, "Helvetica-Bold", NULL);
        new_page(&p);
        header(&p, doc, clubs);
        body(&p, doc);
        totals(&p, doc);
        HPDF_SaveToStream(p.doc);
        out = take(p.doc, len);
    }
    HPDF_Free(p.doc);
    return out;
}
