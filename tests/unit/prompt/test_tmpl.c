/* Unit tests for the Go text/template interpreter (prompt/tmpl.h): the
 * behaviour that the Go-checked table (test_tmpl_go.c) cannot show —
 * features of the Go version Ollama builds with, Go int/float kinds, the
 * struct conventions of Ollama's template data, Ollama's functions, parse
 * and execution errors with positions, API edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"
#include "prompt/tmpl.h"

/* Parses and executes; returns the output (caller frees) or NULL with err. */
static char *render(const char *src, const json_t *data, char *err, size_t errlen, int *rc)
{
    struct tmpl *t = NULL;
    char *out = NULL;
    size_t n = 0;
    *rc = tmpl_parse(src, strlen(src), &t, err, errlen);
    if (*rc == 0) {
        *rc = tmpl_exec(t, data, &out, &n, err, errlen);
        if (*rc == 0)
            assert_int_equal(strlen(out), n);
    }
    tmpl_free(t);
    return out;
}

static void expect(const char *tmpl, const char *data_json, const char *want)
{
    json_t *d = data_json ? json_loads(data_json, 0, NULL) : NULL;
    char err[512] = "";
    int rc;
    char *out = render(tmpl, d, err, sizeof err, &rc);
    if (rc != 0 || strcmp(out, want) != 0)
        printf("template %s\n  want %s\n  got  %s (%s)\n", tmpl, want, out ? out : "-", err);
    assert_int_equal(rc, 0);
    assert_string_equal(out, want);
    free(out);
    json_decref(d);
}

static void expect_err(const char *tmpl, const char *data_json, int want_rc, const char *want)
{
    json_t *d = data_json ? json_loads(data_json, 0, NULL) : NULL;
    char err[512] = "";
    int rc;
    char *out = render(tmpl, d, err, sizeof err, &rc);
    if (rc != want_rc || !strstr(err, want))
        printf("template %.60s\n  want rc %d, error containing %s\n  got rc %d: %s\n", tmpl,
               want_rc, want, rc, err);
    assert_null(out);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(err, want));
    json_decref(d);
}

/* Behaviour of the Go version Ollama builds with (newer than the Go that
 * made the table): else-with, range over an integer, \b and \f in json. */
static void test_newer_go(void **state)
{
    (void)state;
    expect("{{with .E}}x{{else with .N}}{{.}}{{end}}", "{\"E\":\"\",\"N\":\"n\"}", "n");
    expect("{{range 3}}{{.}}{{end}}|{{range $i := 2}}{{$i}}{{end}}|{{range 0}}x{{else}}none{{end}}",
           NULL, "012|01|none");
    expect("{{json \"\\b\\f\\u2028\"}}", NULL, "\"\\b\\f\\u2028\"");
    expect_err("{{range $i, $c := 3}}{{end}}", NULL, OM_EFORMAT,
               "can't use 3 to iterate over more than one variable");
}

/* break and continue inside a range's else list (Go's panics are caught
 * per range: break there ends only the list, continue reaches the
 * enclosing range); printf of composites applies the verb element-wise. */
static void test_break_in_else(void **state)
{
    (void)state;
    expect("{{range .L}}<{{.}}{{range $.E}}{{else}}{{break}}x{{end}}>{{end}}",
           "{\"L\":[1,2],\"E\":[]}", "<1><2>");
    expect("{{range .L}}<{{.}}{{range $.E}}{{else}}{{continue}}x{{end}}>{{end}}",
           "{\"L\":[1,2],\"E\":[]}", "<1<2");
    expect("{{printf \"%4s|%03d\" .M .L}}", "{\"M\":{\"k\":null},\"L\":[\"a\",1]}",
           "map[   k:<nil>]|[%!d(string=00a) 001]");
}

/* JSON integers are Go ints, reals float64: Ollama's .Function.Index is an
 * int, so comparing it with 0 works, and with 0.0 is an error as in Go. */
static void test_int_kinds(void **state)
{
    (void)state;
    expect("{{eq .I 0}} {{lt .I 1}} {{printf \"%d/%v/%T\" .I .F .F}} {{.F}}",
           "{\"I\":0,\"F\":2.0}", "true true 0/2/float64 2");
    expect_err("{{eq .I 0.0}}", "{\"I\":0}", OM_EFORMAT,
               "error calling eq: incompatible types for comparison");
    expect("{{index .L 1}} {{slice .L 1}} {{len .L}}", "{\"L\":[10,20,30]}", "20 [20 30] 3");
}

/* Objects marked as Ollama structs: missing fields are errors, json uses
 * the struct tags, "Tool" prints as JSON; Arguments print as JSON. */
static void test_go_structs(void **state)
{
    (void)state;
    const char *tool = "{\"Tools\":[{\"\\u0001T\":\"Tool\",\"Type\":\"function\",\"Items\":null,"
                       "\"Function\":{\"\\u0001T\":\"ToolFunction\",\"Name\":\"f\","
                       "\"Description\":\"\",\"Parameters\":{\"\\u0001T\":\"ToolParams\","
                       "\"Type\":\"object\",\"Defs\":null,\"Items\":null,\"Required\":[],"
                       "\"Properties\":{\"b\":{\"\\u0001T\":\"ToolProperty\",\"AnyOf\":[],"
                       "\"Type\":\"string\",\"Items\":null,\"Description\":\"B\",\"Enum\":[],"
                       "\"Properties\":null,\"Required\":[]},\"a\":{\"\\u0001T\":"
                       "\"ToolProperty\",\"AnyOf\":[],\"Type\":[\"integer\",\"null\"],"
                       "\"Items\":null,\"Description\":\"\",\"Enum\":[],\"Properties\":null,"
                       "\"Required\":[]}}}}}],\"Args\":{\"Arguments\":{\"z\":1,\"a\":\"<\"}}}";
    const char *want_tool = "{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":"
                            "\"\",\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":"
                            "{\"type\":[\"integer\",\"null\"]},\"b\":{\"type\":\"string\","
                            "\"description\":\"B\"}}}}}";
    char want[1024];
    snprintf(want, sizeof want, "[%s]|%s|[%s]", want_tool, want_tool, want_tool);
    expect("{{.Tools}}|{{range .Tools}}{{.}}{{end}}|{{json .Tools}}", tool, want);
    expect("{{range .Tools}}{{range $k, $v := .Function.Parameters.Properties}}{{$k}}={{$v.Type}}:"
           "{{toTypeScriptType $v}};{{end}}{{end}}",
           tool, "a=[integer null]:number | null;b=string:string;");
    expect("{{.Args.Arguments}} {{json .Args.Arguments}} {{toTypeScriptType .Args}}", tool,
           "{\"a\":\"\\u003c\",\"z\":1} {\"a\":\"\\u003c\",\"z\":1} any");
    expect_err("{{range .Tools}}{{.Nope}}{{end}}", tool, OM_EFORMAT,
               "can't evaluate field Nope in type template.templateTool");
    expect_err("{{range .Tools}}{{len .}}{{end}}", tool, OM_EFORMAT, "len of type template.templateTool");
}

static void test_functions_misc(void **state)
{
    (void)state;
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    char want[64];
    snprintf(want, sizeof want, "%s|%s", today, today);
    json_t *d = NULL;
    char err[256];
    int rc;
    char *out = render("{{currentDate}}|{{currentDate \"2006\"}}|{{yesterdayDate}}", d, err,
                       sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(strncmp(out, want, strlen(want)), 0);
    assert_int_equal(strlen(out), 32);
    free(out);
    expect("{{html \"<a&'\\\">\"}} {{js \"a'b<\\n\"}} {{urlquery \"a b/c?d=é\"}}", NULL,
           "&lt;a&amp;&#39;&#34;&gt; a\\'b\\u003C\\u000A a+b%2Fc%3Fd%3D%C3%A9");
    expect("{{printf \"%q|%8.3f|%-6d|%+.1e|%x|%c|%U|%%|%s\" \"a\\\"b\" 3.14159 42 12345.0 \"hi\" "
           "9731 9731 .S}}",
           "{\"S\":\"str\"}", "\"a\\\"b\"|   3.142|42    |+1.2e+04|6869|☃|U+2603|%|str");
}

/* Parse errors name line and column. */
static void test_parse_errors(void **state)
{
    (void)state;
    expect_err("line1\n  {{ .A | | }}", NULL, OM_EFORMAT,
               "template: :2:10: unexpected \"|\" in command");
    expect_err("{{ if .A }}x", NULL, OM_EFORMAT, "unexpected EOF");
    expect_err("a\nb\n{{ foo }}", NULL, OM_EFORMAT, "template: :3:3: function \"foo\" not defined");
    expect_err("{{ $x }}", NULL, OM_EFORMAT, "undefined variable \"$x\"");
    expect_err("{{ end }}", NULL, OM_EFORMAT, "unexpected {{end}}");
    expect_err("{{ .A ", NULL, OM_EFORMAT, "unclosed action");
    expect_err("{{/* x", NULL, OM_EFORMAT, "unclosed comment");
    expect_err("{{ continue }}", NULL, OM_EFORMAT, "{{continue}} outside {{range}}");
    /* execution errors carry Go's "executing" context */
    expect_err("ab\ncd {{ index .L 3 }}", "{\"L\":[1]}", OM_EFORMAT,
               "template: :2:6: executing \"\" at <index .L 3>: error calling index: index out "
               "of range: 3");
}

static void test_null_args(void **state)
{
    (void)state;
    char *out = (char *)1;
    char err[64];
    assert_int_equal(tmpl_exec(NULL, NULL, &out, NULL, err, sizeof err), OM_EINVAL);
    assert_null(out);
    tmpl_free(NULL);
    struct tmpl *t;
    assert_int_equal(tmpl_parse("", 0, &t, err, sizeof err), 0);
    assert_int_equal(tmpl_exec(t, NULL, &out, NULL, err, sizeof err), 0);
    assert_string_equal(out, "");
    free(out);
    /* the source need not be NUL-terminated */
    tmpl_free(t);
    assert_int_equal(tmpl_parse("{{ .A }}GARBAGE{{", 8, &t, err, sizeof err), 0);
    json_t *d = json_pack("{s:s}", "A", "ok");
    assert_int_equal(tmpl_exec(t, d, &out, NULL, err, sizeof err), 0);
    assert_string_equal(out, "ok");
    free(out);
    json_decref(d);
    tmpl_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newer_go),      cmocka_unit_test(test_break_in_else),
        cmocka_unit_test(test_int_kinds),     cmocka_unit_test(test_go_structs),
        cmocka_unit_test(test_functions_misc), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_null_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
