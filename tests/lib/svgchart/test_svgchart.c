/* test_svgchart: lib/svgchart's three charts parsed with libxml2 (well-formed XML, the SVG
 * namespace, role="img" and aria-labelledby naming the <title> and <desc>), carrying every plotted
 * number (a <title> per bar/point/cell), nice axis ticks, XML escaping of hostile and non-ASCII
 * labels (also invalid UTF-8 and control characters), byte-identical output on repeat and under
 * a locale with a decimal comma, missing values shown with their label, and input errors naming
 * the field. */
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/svgchart/svgchart.h"
#include "test.h"

static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const double IN_NOW[12] = {42, 38, 51, 60, 75, 90, 120, 118, 80, 64, 40, 47};
static const double IN_LAST[12] = {30, 35, 44, 58, 70, 85, 101, 99, 77, 60, 41, 39};
static const double OUT_NOW[12] = {12, 15, 22, 30, 41, 55, 70, 66, 40, 25, 14, 18};
static const double OUT_LAST[12] = {10, 11, 20, 28, 39, 50, 64, 60, 38, 22, 13, 0};

static void quiet(void *ctx, const char *msg, ...) {
    (void)ctx, (void)msg;
}

/* Parses svg; NULL when it is not well-formed XML. */
static xmlDocPtr parse(const char *svg) {
    xmlSetGenericErrorFunc(NULL, quiet);
    return xmlReadMemory(svg, (int)strlen(svg), "chart.svg", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOERROR);
}

static int xpath_count(xmlDocPtr doc, const char *expr) {
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST "http://www.w3.org/2000/svg");
    xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    int n = r && r->nodesetval ? r->nodesetval->nodeNr : -1;
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    return n;
}

/* The text of the first node matching expr ("" when none); caller frees. */
static char *xpath_text(xmlDocPtr doc, const char *expr) {
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, BAD_CAST "s", BAD_CAST "http://www.w3.org/2000/svg");
    xmlXPathObjectPtr r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    char *s = NULL;
    if (r && r->nodesetval && r->nodesetval->nodeNr > 0) {
        xmlChar *c = xmlNodeGetContent(r->nodesetval->nodeTab[0]);
        s = strdup((const char *)c);
        xmlFree(c);
    }
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    return s ? s : strdup("");
}

/* The accessibility contract every chart keeps. */
static void check_a11y(xmlDocPtr doc, const char *id, const char *title) {
    char want[128], expr[256];
    snprintf(want, sizeof want, "%s-title %s-desc", id, id);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    CHECK(root && strcmp((const char *)root->name, "svg") == 0);
    CHECK(root && root->ns &&
          strcmp((const char *)root->ns->href, "http://www.w3.org/2000/svg") == 0);
    xmlChar *role = xmlGetProp(root, BAD_CAST "role"),
            *lab = xmlGetProp(root, BAD_CAST "aria-labelledby");
    CHECK(role && strcmp((const char *)role, "img") == 0);
    CHECK(lab && strcmp((const char *)lab, want) == 0);
    xmlFree(role);
    xmlFree(lab);
    snprintf(expr, sizeof expr, "/s:svg/s:title[@id='%s-title']", id);
    char *t = xpath_text(doc, expr);
    CHECK_STR(t, title);
    free(t);
    snprintf(expr, sizeof expr, "/s:svg/s:desc[@id='%s-desc']", id);
    CHECK_EQ_INT(xpath_count(doc, expr), 1);
}

static char *render_monthly(int style) {
    svgchart_series_t s[4] = {{"Visits in 2026", IN_NOW},
                              {"Visits in 2025", IN_LAST},
                              {"Visits out 2026", OUT_NOW},
                              {"Visits out 2025", OUT_LAST}};
    svgchart_meta_t m = {.title = "Visits per month",
                         .desc = "Visits in and out per month, 2026 against 2025.",
                         .id = "visits",
                         .value_label = "visits"};
    strbuf_t b = {0};
    err_t e;
    if (svgchart_series(&b, &m, MONTHS, 12, s, 4, style, &e) < 0) {
        fprintf(stdout, "#   %s\n", e.message);
        strbuf_free(&b);
        return NULL;
    }
    return strbuf_take(&b);
}

static void test_monthly_bars(void) {
    char *svg = render_monthly(SVGCHART_BARS);
    REQUIRE(svg);
    xmlDocPtr doc = parse(svg);
    CHECK(doc != NULL);
    if (doc) {
        check_a11y(doc, "visits", "Visits per month");
        CHECK_EQ_INT(xpath_count(doc, "//s:rect[s:title]"), 48); /* every bar carries its number */
        char *t = xpath_text(doc, "//s:rect/s:title");
        CHECK_STR(t, "Jan, Visits in 2026: 42 visits");
        free(t);
        xmlFreeDoc(doc);
    }
    CHECK(strstr(svg, "<title>Jul, Visits in 2026: 120 visits</title>") != NULL);
    CHECK(strstr(svg, "<title>Dec, Visits out 2025: 0 visits</title>") != NULL);
    /* nice ticks: 0, 20, ... 120 */
    CHECK(strstr(svg, ">120</text>") != NULL && strstr(svg, ">20</text>") != NULL);
    CHECK(strstr(svg, ">140</text>") == NULL && strstr(svg, ">25</text>") == NULL);
    /* Okabe-Ito, legend entries */
    CHECK(strstr(svg, "#0072B2") && strstr(svg, "#56B4E9") && strstr(svg, "#D55E00") &&
          strstr(svg, "#E69F00"));
    CHECK(strstr(svg, ">Visits out 2025</text>") != NULL);
    free(svg);
}

static void test_monthly_lines(void) {
    char *svg = render_monthly(SVGCHART_LINES);
    REQUIRE(svg);
    xmlDocPtr doc = parse(svg);
    CHECK(doc != NULL);
    if (doc) {
        check_a11y(doc, "visits", "Visits per month");
        CHECK_EQ_INT(xpath_count(doc, "//s:circle[s:title]"), 48);
        CHECK_EQ_INT(xpath_count(doc, "//s:path[@stroke-dasharray]"), 2); /* last year dashed */
        xmlFreeDoc(doc);
    }
    CHECK(strstr(svg, "<title>Aug, Visits out 2026: 66 visits</title>") != NULL);
    free(svg);
}

static void test_repeat_and_locale(void) {
    char *a = render_monthly(SVGCHART_BARS), *b = render_monthly(SVGCHART_BARS);
    REQUIRE(a && b);
    CHECK(strcmp(a, b) == 0);
    /* a decimal-comma locale changes nothing (when the box has one) */
    const char *locs[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8", NULL};
    for (const char **l = locs; *l; l++) {
        if (!setlocale(LC_ALL, *l)) continue;
        char *c = render_monthly(SVGCHART_BARS);
        CHECK(c && strcmp(a, c) == 0);
        free(c);
    }
    setlocale(LC_ALL, "C");
    free(a);
    free(b);
}

static void test_diverging_escaping(void) {
    const char *labels[] = {
        "Club <A> & \"B\"",     "Z\xC3\xBCrich Caf\xC3\xA9 \xE2\x80\x93 Lakeside",
        "Bad\xFF utf8\x01 ctl", "A very long partner name that goes on and on and on",
        "Quiet partner",        "Suppressed"};
    double values[] = {12, -7.5, 0, 3, -25, NAN};
    svgchart_meta_t m = {.title = "Balance per partner <net>",
                         .desc = "Visits in minus visits out & more.",
                         .value_label = "visits",
                         .missing_label = "<11",
                         .decimals = 1,
                         .positive_label = "More visitors in",
                         .negative_label = "More members out"};
    strbuf_t b = {0};
    err_t e;
    REQUIRE(svgchart_diverging(&b, &m, labels, values, 6, &e) == 0);
    char *svg = strbuf_take(&b);
    REQUIRE(svg);
    xmlDocPtr doc = parse(svg);
    CHECK(doc != NULL);
    if (doc) {
        check_a11y(doc, "chart", "Balance per partner <net>");
        CHECK_EQ_INT(xpath_count(doc, "//s:rect[s:title]"), 5);
        char *t = xpath_text(doc, "//s:rect/s:title");
        CHECK_STR(t, "Club <A> & \"B\": 12.0 visits"); /* decoded back exactly */
        free(t);
        t = xpath_text(doc, "(//s:rect/s:title)[2]");
        CHECK_STR(t, "Z\xC3\xBCrich Caf\xC3\xA9 \xE2\x80\x93 Lakeside: -7.5 visits");
        free(t);
        t = xpath_text(doc, "(//s:rect/s:title)[3]");
        CHECK_STR(t, "Bad\xEF\xBF\xBD utf8 ctl: 0.0 visits"); /* U+FFFD, control dropped */
        free(t);
        xmlFreeDoc(doc);
    }
    CHECK(strstr(svg, "Club &lt;A&gt; &amp; &quot;B&quot;") != NULL);
    CHECK(strstr(svg, "<title>A very long partner name that goes on and on and on: 3.0 visits") !=
          NULL);
    CHECK(strstr(svg, ">A very long partner name th\xE2\x80\xA6</text>") != NULL);
    CHECK(strstr(svg, ">&lt;11</text>") != NULL);                       /* the missing value */
    CHECK(strstr(svg, ">-25.0</text>") && strstr(svg, ">12.0</text>")); /* value labels */
    CHECK(strstr(svg, "fill=\"#D55E00\"") && strstr(svg, "fill=\"#0072B2\""));
    CHECK(strstr(svg, ">More members out</text>") != NULL);
    free(svg);
}

static void test_heatmap(void) {
    static const char *const days[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    double v[12 * 7];
    for (int r = 0; r < 12; r++)
        for (int c = 0; c < 7; c++)
            v[r * 7 + c] = (double)((r * 7 + c) * 37 % 97);
    v[5] = NAN; /* a suppressed cell */
    svgchart_meta_t m = {.title = "Seasonality",
                         .desc = "Visits by month and weekday.",
                         .id = "season",
                         .value_label = "visits",
                         .missing_label = "<11"};
    strbuf_t b = {0};
    err_t e;
    REQUIRE(svgchart_heatmap(&b, &m, MONTHS, 12, days, 7, v, &e) == 0);
    char *svg = strbuf_take(&b);
    REQUIRE(svg);
    xmlDocPtr doc = parse(svg);
    CHECK(doc != NULL);
    if (doc) {
        check_a11y(doc, "season", "Seasonality");
        CHECK_EQ_INT(xpath_count(doc, "//s:g[@class='cells']/s:rect[s:title]"), 84);
        CHECK_EQ_INT(xpath_count(doc, "//s:pattern[@id='season-hatch']"), 1);
        xmlFreeDoc(doc);
    }
    char want[64];
    for (int i = 0; i < 84; i++) {
        if (i == 5) continue;
        snprintf(want, sizeof want, "<title>%s, %s: %d visits</title>", MONTHS[i / 7], days[i % 7],
                 (int)v[i]);
        CHECK(strstr(svg, want) != NULL);
    }
    CHECK(strstr(svg, "<title>Jan, Sat: &lt;11</title>") != NULL);
    CHECK(strstr(svg, "fill=\"#0072B2\"") != NULL); /* the darkest class is Okabe-Ito blue */
    free(svg);
}

static void test_no_data_and_ticks(void) {
    double zeros[12] = {0};
    svgchart_series_t s = {"Visits", zeros};
    svgchart_meta_t m = {.title = "Empty", .desc = "Nothing yet."};
    strbuf_t b = {0};
    err_t e;
    REQUIRE(svgchart_series(&b, &m, MONTHS, 12, &s, 1, SVGCHART_BARS, &e) == 0);
    char *svg = strbuf_take(&b);
    xmlDocPtr doc = parse(svg);
    CHECK(doc != NULL);
    xmlFreeDoc(doc);
    CHECK(strstr(svg, ">0.5</text>") == NULL); /* counts never get fractional ticks */
    free(svg);
    b = (strbuf_t){0};
    REQUIRE(svgchart_diverging(&b, &m, NULL, NULL, 0, &e) == 0);
    svg = strbuf_take(&b);
    doc = parse(svg);
    CHECK(doc != NULL);
    xmlFreeDoc(doc);
    CHECK(strstr(svg, ">No data</text>") != NULL);
    free(svg);
    double small[3] = {1, 3, 2};
    s.values = small;
    b = (strbuf_t){0};
    REQUIRE(svgchart_series(&b, &m, MONTHS, 3, &s, 1, SVGCHART_LINES, &e) == 0);
    svg = strbuf_take(&b);
    CHECK(strstr(svg, ">3</text>") != NULL && strstr(svg, ">1.5</text>") == NULL);
    free(svg);
}

static void test_errors(void) {
    svgchart_series_t s = {"Visits", IN_NOW};
    svgchart_meta_t m = {.title = "T", .desc = "D"};
    strbuf_t b = {0};
    err_t e;
    svgchart_meta_t bad = m;
    bad.title = NULL;
    CHECK_EQ_INT(svgchart_series(&b, &bad, MONTHS, 12, &s, 1, 0, &e), -1);
    CHECK_STR(e.field, "title");
    bad = m;
    bad.id = "x\"><script>";
    CHECK_EQ_INT(svgchart_series(&b, &bad, MONTHS, 12, &s, 1, 0, &e), -1);
    CHECK_STR(e.field, "id");
    bad = m;
    bad.decimals = 5;
    CHECK_EQ_INT(svgchart_series(&b, &bad, MONTHS, 12, &s, 1, 0, &e), -1);
    CHECK_STR(e.field, "decimals");
    CHECK_EQ_INT(svgchart_series(&b, &m, MONTHS, 0, &s, 1, 0, &e), -1);
    CHECK_STR(e.field, "categories");
    CHECK_EQ_INT(svgchart_series(&b, &m, MONTHS, 12, &s, 7, 0, &e), -1);
    CHECK_STR(e.field, "series");
    double huge[1] = {1e15}, neg[1] = {-1};
    const char *one[1] = {"a"};
    CHECK_EQ_INT(svgchart_diverging(&b, &m, one, huge, 1, &e), -1);
    CHECK_STR(e.field, "values");
    CHECK_EQ_INT(svgchart_heatmap(&b, &m, one, 1, one, 1, neg, &e), -1);
    CHECK_STR(e.field, "values");
    CHECK_EQ_INT(svgchart_heatmap(&b, &m, one, 0, one, 1, neg, &e), -1);
    CHECK_STR(e.field, "rows");
    CHECK_EQ_INT(e.status, 422);
    strbuf_free(&b);
}

int main(void) {
    RUN(test_monthly_bars);
    RUN(test_monthly_lines);
    RUN(test_repeat_and_locale);
    RUN(test_diverging_escaping);
    RUN(test_heatmap);
    RUN(test_no_data_and_ticks);
    RUN(test_errors);
    xmlCleanupParser();
    TEST_DONE();
}
