/* test_mustache: lib/mustache against every file of the official Mustache spec in
 * ../shared/notification/mustache-spec/ (each test's data, partials and template rendered in the
 * spec's mode, compared with its expected output; a file that does not load fails), then the
 * strict mode the notification service uses: a missing variable or partial is an error naming
 * it, present values (also false, 0, null) render, malformed templates are refused. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mustache/mustache.h"
#include "test.h"

#define SPEC_DIR "../shared/notification/mustache-spec"

static int spec_files, spec_tests;

static void run_file(const char *path) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    CHECK(root != NULL);
    if (!root) {
        fprintf(stdout, "#   %s: %s\n", path, je.text);
        return;
    }
    spec_files++;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(root, "tests"), i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *tmpl = json_string_value(json_object_get(t, "template"));
        const char *expected = json_string_value(json_object_get(t, "expected"));
        char *out = NULL, err[256];
        int rc = mustache_render(tmpl, json_object_get(t, "data"), json_object_get(t, "partials"),
                                 0, &out, err, sizeof err);
        spec_tests++;
        if (rc != 0 || !expected || strcmp(out, expected) != 0) {
            fprintf(stdout, "#   %s / %s: got \"%s\" (%s), expected \"%s\"\n", path, name,
                    out ? out : "", rc ? err : "ok", expected ? expected : "?");
            test_current_failed_ = 1;
            test_failed_checks_++;
        }
        free(out);
    }
    json_decref(root);
}

static void test_spec(void) {
    DIR *d = opendir(SPEC_DIR);
    REQUIRE(d != NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", SPEC_DIR, de->d_name);
        run_file(path);
    }
    closedir(d);
    fprintf(stdout, "#   %d spec files, %d tests\n", spec_files, spec_tests);
    CHECK(spec_files >= 6);
    CHECK(spec_tests >= 100);
}

static int render(const char *tmpl, const char *data, int flags, char **out, char *err) {
    json_t *j = json_loads(data, 0, NULL);
    int rc = mustache_render(tmpl, j, NULL, flags, out, err, 256);
    json_decref(j);
    return rc;
}

static void test_strict(void) {
    char *out = NULL, err[256];
    CHECK_EQ_INT(render("Hi {{member.name}}!", "{\"member\":{}}", MUSTACHE_STRICT, &out, err), -1);
    CHECK(out == NULL);
    CHECK(strstr(err, "missing variable \"member.name\"") != NULL);
    CHECK_EQ_INT(render("Hi {{{x}}}", "{}", MUSTACHE_STRICT, &out, err), -1);
    CHECK_EQ_INT(render("{{> footer}}", "{}", MUSTACHE_STRICT, &out, err), -1);
    CHECK(strstr(err, "missing partial \"footer\"") != NULL);
    /* present values render, whatever they are; a missing section name is just false */
    REQUIRE(render("{{a}}|{{b}}|{{c}}|{{#d}}x{{/d}}{{^d}}y{{/d}}",
                   "{\"a\":false,\"b\":0,\"c\":null}", MUSTACHE_STRICT, &out, err) == 0);
    CHECK_STR(out, "false|0||y");
    free(out);
    REQUIRE(render("{{x}} {{{x}}}", "{\"x\":\"<a href='x'>&</a>\"}", MUSTACHE_STRICT, &out, err) ==
            0);
    CHECK_STR(out, "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt; <a href='x'>&</a>");
    free(out);
    /* Markdown escaping: punctuation backslashed, raw stays raw; no escaping for plain text */
    REQUIRE(render("{{x}}|{{{x}}}", "{\"x\":\"[a](b) *c*\"}", MUSTACHE_ESCAPE_MARKDOWN, &out,
                   err) == 0);
    CHECK_STR(out, "\\[a\\]\\(b\\) \\*c\\*|[a](b) *c*");
    free(out);
    REQUIRE(render("{{x}}", "{\"x\":\"<b>\"}", MUSTACHE_NO_ESCAPE, &out, err) == 0);
    CHECK_STR(out, "<b>");
    free(out);
    /* the spec's mode: missing is blank */
    REQUIRE(render("[{{nope}}]", "{}", 0, &out, err) == 0);
    CHECK_STR(out, "[]");
    free(out);
}

static void test_malformed(void) {
    static const char *const bad[] = {"{{#a}}x",        "{{/a}}",    "{{#a}}{{/b}}", "{{x",
                                      "{{=<% %>=}}<%x", "{{= a =}}", "{{}}",         NULL};
    for (int i = 0; bad[i]; i++) {
        char *out = NULL, err[256] = "";
        CHECK_EQ_INT(render(bad[i], "{\"a\":true}", 0, &out, err), -1);
        CHECK(err[0] != '\0');
        free(out);
    }
}

int main(void) {
    RUN(test_spec);
    RUN(test_strict);
    RUN(test_malformed);
    TEST_DONE();
}
