/* Unit tests for Ollama's prompt building (prompt/prompt.h): collation,
 * the legacy System/Prompt/Response path, the implicit {{ .Response }},
 * think variables, fill-in-middle, truncation (with a len/4 token counter
 * as the input function), input validation, the generate message list, and
 * the AST facts (tool-call prefix, thinking tags, the cut after .Response)
 * on small templates that isolate each rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/prompt.h"

static struct tmpl *parse(const char *src)
{
    struct tmpl *t = NULL;
    char err[256];
    int rc = tmpl_parse(src, strlen(src), &t, err, sizeof err);
    if (rc)
        printf("parse %s: %s\n", src, err);
    assert_int_equal(rc, 0);
    return t;
}

static int count_quarter(void *ud, const char *text, size_t len)
{
    (void)text;
    int *calls = ud;
    if (calls)
        (*calls)++;
    return (int)(len / 4);
}

static int count_fail(void *ud, const char *text, size_t len)
{
    (void)ud, (void)text, (void)len;
    return OM_EIO;
}

/* Renders msgs_json with src (NULL: default template); returns the prompt. */
static char *chat(const char *src, const char *msgs_json, int think, const char *level,
                  const char *suffix, int *rc_out, char *err, size_t errlen)
{
    struct tmpl *t = src ? parse(src) : NULL;
    json_t *msgs = json_loads(msgs_json, 0, NULL);
    assert_non_null(msgs);
    struct prompt_chat_in in = {.tmpl = t, .messages = msgs, .think = think, .think_level = level,
                                .suffix = suffix};
    char *out = NULL;
    int rc = prompt_chat(&in, &out, NULL, NULL, err, errlen);
    json_decref(msgs);
    tmpl_free(t);
    if (rc_out)
        *rc_out = rc;
    else if (rc)
        printf("prompt_chat: %s\n", err);
    return out;
}

static void expect_chat(const char *src, const char *msgs_json, int think, const char *level,
                        const char *suffix, const char *want)
{
    char err[256];
    char *out = chat(src, msgs_json, think, level, suffix, NULL, err, sizeof err);
    assert_non_null(out);
    if (strcmp(out, want) != 0)
        printf("template %s\n  want %s\n  got  %s\n", src ? src : "(default)", want, out);
    assert_string_equal(out, want);
    free(out);
}

static const char *const conv =
    "[{\"role\":\"system\",\"content\":\"S1\"},{\"role\":\"system\",\"content\":\"S2\"},"
    "{\"role\":\"USER\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"},"
    "{\"role\":\"assistant\",\"content\":\"c\",\"thinking\":\"t\"},"
    "{\"role\":\"assistant\",\"content\":\"d\",\"thinking\":\"u\"},"
    "{\"role\":\"tool\",\"content\":\"r1\",\"tool_name\":\"f\"},"
    "{\"role\":\"tool\",\"content\":\"r2\",\"tool_call_id\":\"call_1\"},"
    "{\"role\":\"user\",\"content\":\"e\"}]";

static void test_collate(void **state)
{
    (void)state;
    /* systems joined for .System and merged in .Messages; consecutive same
     * roles merged (first message's other fields kept), tool kept apart;
     * roles lower-cased */
    expect_chat("{{ .System }}|{{ range .Messages }}[{{ .Role }}:{{ .Content }}:{{ .Thinking }}:"
                "{{ .ToolName }}:{{ .ToolCallID }}]{{ end }}",
                conv, -1, NULL, NULL,
                "S1\n\nS2|[system:S1\n\nS2:::][user:a\n\nb:::][assistant:c\n\nd:t::]"
                "[tool:r1::f:][tool:r2:::call_1][user:e:::]");
}

static void test_legacy(void **state)
{
    (void)state;
    const char *t = "{{ if .System }}S:{{ .System }} {{ end }}U:{{ .Prompt }} A:{{ .Response }}|";
    /* turn by turn; the last turn is cut after .Response */
    expect_chat(
        t,
        "[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"u1\"},"
        "{\"role\":\"assistant\",\"content\":\"a1\"},{\"role\":\"user\",\"content\":\"u2\"}]",
        -1, NULL, NULL, "S:s U:u1 A:a1|U:u2 A:");
    /* a final assistant message is a prefill: the reply continues it */
    expect_chat(
        t, "[{\"role\":\"user\",\"content\":\"u1\"},{\"role\":\"assistant\",\"content\":\"a1\"}]",
        -1, NULL, NULL, "U:u1 A:a1");
    /* a system message after a user starts a new turn; tool messages are ignored */
    expect_chat(t,
                "[{\"role\":\"user\",\"content\":\"u1\"},{\"role\":\"system\",\"content\":\"s2\"},"
                "{\"role\":\"tool\",\"content\":\"x\"},{\"role\":\"user\",\"content\":\"u2\"}]",
                -1, NULL, NULL, "U:u1 A:|S:s2 U:u2 A:");
    /* the cut last turn runs without missingkey=zero, as in Ollama: a chain
     * through a missing key is quietly empty there, an error before */
    expect_chat("{{ .Prompt }}{{ .X.Y }}|{{ .Response }}",
                "[{\"role\":\"user\",\"content\":\"u\"}]", -1, NULL, NULL, "u<no value>|");
    char err[256];
    int rc;
    char *out = chat("{{ .Prompt }}{{ .X.Y }}|{{ .Response }}",
                     "[{\"role\":\"user\",\"content\":\"u1\"},{\"role\":\"assistant\","
                     "\"content\":\"a\"},{\"role\":\"user\",\"content\":\"u2\"}]",
                     -1, NULL, NULL, &rc, err, sizeof err);
    assert_null(out);
    assert_int_equal(rc, OM_EFORMAT);
    assert_non_null(strstr(err, "nil pointer evaluating interface {}.Y"));
    /* a pipeline after .Response loses its later commands: the action goes */
    expect_chat("P{{ .Prompt }}{{ .Response | printf \"%s!\" }}tail",
                "[{\"role\":\"user\",\"content\":\"u\"}]", -1, NULL, NULL, "Pu");
}

static void test_implicit_response(void **state)
{
    (void)state;
    const char *msgs = "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":"
                       "\"b\"},{\"role\":\"user\",\"content\":\"c\"}]";
    /* default template {{ .Prompt }} gets {{ .Response }}: "ab" then "c" */
    expect_chat(NULL, msgs, -1, NULL, NULL, "abc");
    expect_chat("<{{ .Prompt }}>", msgs, -1, NULL, NULL, "<a>b<c>");
    /* with .Response present, nothing is appended */
    expect_chat("<{{ .Prompt }}|{{ .Response }}>", msgs, -1, NULL, NULL, "<a|b><c|");
    struct tmpl *t = parse("x{{ .A }}");
    struct tmpl *w = tmpl_with_response(t);
    assert_true(tmpl_uses(w, "Response"));
    assert_false(tmpl_uses(t, "Response"));
    tmpl_free(w);
    tmpl_free(t);
}

static void test_think_vars(void **state)
{
    (void)state;
    const char *t =
        "{{ .Think }}|{{ .ThinkLevel }}|{{ .IsThinkSet }}{{ range .Messages }}{{ end }}";
    const char *m = "[{\"role\":\"user\",\"content\":\"q\"}]";
    expect_chat(t, m, -1, NULL, NULL, "false||false");
    expect_chat(t, m, 1, NULL, NULL, "true|medium|true");
    expect_chat(t, m, 0, NULL, NULL, "false||true");
    expect_chat(t, m, -1, "high", NULL, "true|high|true");
    expect_chat(t, m, -1, "max", NULL, "true|max|true");
    char err[128];
    int rc;
    char *out = chat(t, m, -1, "extreme", NULL, &rc, err, sizeof err);
    assert_null(out);
    assert_int_equal(rc, OM_EINVAL);
    assert_non_null(strstr(err, "extreme"));
    /* legacy templates see them too */
    expect_chat("{{ .Prompt }}/{{ .ThinkLevel }}", m, 1, NULL, NULL, "q/medium");
}

/* Go nil slices: .Tools without tools in a chat is templateTools(nil)
 * ("null" printed and marshalled, length 0); empty tools are "[]". */
static void test_nil_slices(void **state)
{
    (void)state;
    const char *t = "{{ .Tools }}|{{ json .Tools }}|{{ len .Tools }}|{{ if .Tools }}y{{ else }}n"
                    "{{ end }}{{ range .Messages }}/{{ .ToolCalls }}{{ json .Images }}{{ end }}";
    expect_chat(t, "[{\"role\":\"user\",\"content\":\"a\"}]", -1, NULL, NULL,
                "null|null|0|n/[]null");
    struct tmpl *tp = parse(t);
    json_t *msgs = json_loads("[{\"role\":\"user\",\"content\":\"a\"}]", 0, NULL);
    json_t *tools = json_array();
    struct prompt_chat_in in = {.tmpl = tp, .messages = msgs, .tools = tools, .think = -1};
    char *out, err[128];
    assert_int_equal(prompt_chat(&in, &out, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(out, "[]|[]|0|n/[]null");
    free(out);
    json_decref(tools);
    json_decref(msgs);
    tmpl_free(tp);
}

/* .String on Ollama's Stringer types calls the method (JSON). */
static void test_string_method(void **state)
{
    (void)state;
    struct tmpl *tp =
        parse("{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Arguments.String }}"
              "{{ end }}{{ end }}|{{ .Tools.String }}");
    json_t *msgs = json_loads("[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":"
                              "\"f\",\"arguments\":{\"b\":1,\"a\":\"x\"}}}]}]", 0, NULL);
    json_t *tools = json_loads("[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", 0, NULL);
    struct prompt_chat_in in = {.tmpl = tp, .messages = msgs, .tools = tools, .think = -1};
    char *out, err[128];
    assert_int_equal(prompt_chat(&in, &out, NULL, NULL, err, sizeof err), 0);
    assert_string_equal(out,
                        "{\"a\":\"x\",\"b\":1}|[{\"type\":\"function\",\"function\":{\"name\":"
                        "\"f\",\"description\":\"\",\"parameters\":{\"type\":\"\",\"properties\":"
                        "null}}}]");
    free(out);
    json_decref(tools);
    json_decref(msgs);
    tmpl_free(tp);
    /* Ollama rejects {{template}} calls without a pipeline */
    tp = parse("{{define \"x\"}}{{template \"x\"}}{{end}}{{template \"x\"}}");
    assert_int_equal(tmpl_check_ollama(tp, err, sizeof err), OM_EFORMAT);
    assert_string_equal(err, "undefined template specified");
    tmpl_free(tp);
    tp = parse("{{define \"x\"}}x{{end}}{{template \"x\" .}}");
    assert_int_equal(tmpl_check_ollama(tp, err, sizeof err), 0);
    tmpl_free(tp);
}

static void test_fim(void **state)
{
    (void)state;
    const char *t = "{{ if .Suffix }}<PRE>{{ .Prompt }}<SUF>{{ .Suffix }}<MID>{{ else }}"
                    "{{ .System }}{{ .Prompt }}{{ end }}";
    expect_chat(t,
                "[{\"role\":\"system\",\"content\":\"sys\"},{\"role\":\"user\",\"content\":\"p\"}]",
                -1, NULL, "s", "<PRE>p<SUF>s<MID>");
    /* an empty prompt is not fill-in-middle */
    expect_chat(t, "[{\"role\":\"user\",\"content\":\"\"}]", -1, NULL, "s", "");
    expect_chat(t, "[{\"role\":\"user\",\"content\":\"p\"}]", -1, NULL, "", "p");
}

static const char *const trunc_tmpl = "{{ range .Messages }}[{{ .Role }}:{{ .Content }}]{{ end }}";

static char *truncated(const char *msgs_json, bool truncate, int32_t num_ctx, int *dropped,
                       int *calls)
{
    struct tmpl *t = parse(trunc_tmpl);
    json_t *msgs = json_loads(msgs_json, 0, NULL);
    assert_non_null(msgs);
    struct prompt_chat_in in = {.tmpl = t, .messages = msgs, .think = -1, .truncate = truncate,
                                .num_ctx = num_ctx, .count_tokens = count_quarter,
                                .count_ud = calls};
    char *out = NULL, err[128];
    size_t len;
    assert_int_equal(prompt_chat(&in, &out, &len, dropped, err, sizeof err), 0);
    assert_int_equal(len, strlen(out));
    json_decref(msgs);
    tmpl_free(t);
    return out;
}

static void test_truncate(void **state)
{
    (void)state;
    /* rendered pieces: [system:SYS] 12, four turns of 43 bytes, [user:hi] 9:
     * 193 bytes = 48 "tokens" in full; from message 2: 150/37, 3: 107/26,
     * 4: 64/16, 5: 21/5 */
    const char *m = "[{\"role\":\"system\",\"content\":\"SYS\"},"
                    "{\"role\":\"user\",\"content\":\"u1uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\"},"
                    "{\"role\":\"assistant\",\"content\":\"a1aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
                    "{\"role\":\"user\",\"content\":\"u2uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\"},"
                    "{\"role\":\"assistant\",\"content\":\"a2aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
                    "{\"role\":\"user\",\"content\":\"hi\"}]";
    int dropped = -1, calls = 0;
    char *out = truncated(m, true, 30, &dropped, &calls);
    assert_string_equal(out, "[system:SYS][user:u2uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu]"
                             "[assistant:a2aaaaaaaaaaaaaaaaaaaaaaaaaaaaa][user:hi]");
    assert_int_equal(dropped, 2);
    assert_int_equal(calls, 4); /* i = 0, 1, 2, 3 */
    free(out);
    /* everything fits: nothing dropped, one count */
    calls = 0;
    out = truncated(m, true, 48, &dropped, &calls);
    assert_int_equal(strlen(out), 193);
    assert_int_equal(dropped, 0);
    assert_int_equal(calls, 1);
    free(out);
    /* nothing fits: system messages and the last message are kept anyway */
    out = truncated(m, true, 4, &dropped, NULL);
    assert_string_equal(out, "[system:SYS][user:hi]");
    assert_int_equal(dropped, 4);
    free(out);
    /* truncate off: the full prompt, whatever its size */
    calls = 0;
    out = truncated(m, false, 4, &dropped, &calls);
    assert_int_equal(strlen(out), 193);
    assert_int_equal(dropped, 0);
    assert_int_equal(calls, 0);
    free(out);
    /* a system message in the middle moves before the kept messages */
    out =
        truncated("[{\"role\":\"user\",\"content\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"},"
                  "{\"role\":\"system\",\"content\":\"S\"},"
                  "{\"role\":\"assistant\",\"content\":\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"},"
                  "{\"role\":\"user\",\"content\":\"z\"}]",
                  true, 5, &dropped, NULL);
    assert_string_equal(out, "[system:S][user:z]");
    assert_int_equal(dropped, 2);
    free(out);
}

static void test_truncate_count_error(void **state)
{
    (void)state;
    struct tmpl *t = parse(trunc_tmpl);
    json_t *msgs = json_loads("[{\"role\":\"user\",\"content\":\"a\"}]", 0, NULL);
    struct prompt_chat_in in = {.tmpl = t, .messages = msgs, .think = -1, .truncate = true,
                                .num_ctx = 10, .count_tokens = count_fail};
    char *out = (char *)1, err[128];
    int dropped = 7;
    assert_int_equal(prompt_chat(&in, &out, NULL, &dropped, err, sizeof err), OM_EIO);
    assert_null(out);
    assert_int_equal(dropped, 0);
    json_decref(msgs);
    tmpl_free(t);
}

static void expect_invalid(const char *msgs_json, const char *tools_json, const char *want)
{
    struct tmpl *t = parse(trunc_tmpl);
    json_t *msgs = json_loads(msgs_json, 0, NULL);
    json_t *tools = tools_json ? json_loads(tools_json, 0, NULL) : NULL;
    struct prompt_chat_in in = {.tmpl = t, .messages = msgs, .tools = tools, .think = -1};
    char *out = (char *)1, err[256] = "";
    assert_int_equal(prompt_chat(&in, &out, NULL, NULL, err, sizeof err), OM_EINVAL);
    assert_null(out);
    if (!strstr(err, want))
        printf("want %s, got %s\n", want, err);
    assert_non_null(strstr(err, want));
    json_decref(msgs);
    json_decref(tools);
    tmpl_free(t);
}

static void test_validation(void **state)
{
    (void)state;
    expect_invalid("{\"role\":\"user\"}", NULL, "messages: expected an array");
    expect_invalid("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":5}]",
                   NULL, "messages[1].content");
    expect_invalid("[3]", NULL, "messages[0]");
    expect_invalid("[{\"role\":\"assistant\",\"tool_calls\":{}}]", NULL, "messages[0].tool_calls");
    expect_invalid(
        "[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"arguments\":\"{}\"}}]}]", NULL,
        "messages[0].tool_calls");
    expect_invalid("[{\"role\":\"user\",\"content\":\"a\"}]", "{}", "tools: expected an array");
    expect_invalid("[{\"role\":\"user\",\"content\":\"a\"}]", "[{\"function\":{\"parameters\":3}}]",
                   "tools[0].function.parameters");
    /* null content and missing fields are fine (zero values) */
    expect_chat(trunc_tmpl, "[{\"role\":\"user\",\"content\":null},{}]", -1, NULL, NULL,
                "[user:][:]");
}

static void test_generate_messages(void **state)
{
    (void)state;
    json_t *model = json_loads("[{\"role\":\"user\",\"content\":\"mu\"},"
                               "{\"role\":\"assistant\",\"content\":\"ma\"}]", 0, NULL);
    json_t *m = prompt_generate_messages("req", "model sys", model, false, "hello");
    char *s = json_dumps(m, JSON_COMPACT);
    assert_string_equal(s, "[{\"role\":\"system\",\"content\":\"req\"},{\"role\":\"user\","
                           "\"content\":\"mu\"},{\"role\":\"assistant\",\"content\":\"ma\"},"
                           "{\"role\":\"user\",\"content\":\"hello\"}]");
    free(s);
    json_decref(m);
    m = prompt_generate_messages(NULL, "model sys", model, true, "hello");
    s = json_dumps(m, JSON_COMPACT);
    assert_string_equal(s, "[{\"role\":\"system\",\"content\":\"model sys\"},{\"role\":\"user\","
                           "\"content\":\"hello\"}]");
    free(s);
    json_decref(m);
    m = prompt_generate_messages("", NULL, NULL, false, NULL);
    s = json_dumps(m, JSON_COMPACT);
    assert_string_equal(s, "[{\"role\":\"user\",\"content\":\"\"}]");
    free(s);
    json_decref(m);
    json_decref(model);
}

static void expect_json(json_t *got, const char *want)
{
    char *s = json_dumps(got, JSON_COMPACT);
    if (strcmp(s, want) != 0)
        printf("want %s\ngot  %s\n", want, s);
    assert_string_equal(s, want);
    free(s);
    json_decref(got);
}

static void test_chat_messages(void **state)
{
    (void)state;
    json_t *model = json_loads("[{\"role\":\"user\",\"content\":\"mu\"}]", 0, NULL);
    json_t *req = json_loads("[{\"role\":\"user\",\"content\":\"q\"}]", 0, NULL);
    json_t *req_sys = json_loads("[{\"role\":\"System\",\"content\":\"mine\"}]", 0, NULL);
    expect_json(prompt_chat_messages("ms", model, req),
                "[{\"role\":\"system\",\"content\":\"ms\"},{\"role\":\"user\",\"content\":"
                "\"mu\"},{\"role\":\"user\",\"content\":\"q\"}]");
    /* a request system message replaces the model's */
    expect_json(prompt_chat_messages("ms", NULL, req_sys),
                "[{\"role\":\"System\",\"content\":\"mine\"}]");
    expect_json(prompt_chat_messages("", model, req),
                "[{\"role\":\"user\",\"content\":\"mu\"},{\"role\":\"user\",\"content\":"
                "\"q\"}]");
    json_decref(model);
    json_decref(req);
    json_decref(req_sys);
}

static void test_filter_think(void **state)
{
    (void)state;
    json_t *m = json_loads(
        "[{\"role\":\"user\",\"content\":\"1\"},"
        "{\"role\":\"assistant\",\"content\":\" <think> a </think>\\n\\n answer\"},"
        "{\"role\":\"assistant\",\"content\":\"<think>never closed\"},"
        "{\"role\":\"assistant\",\"content\":\"plain <think>x</think>\"},"
        "{\"role\":\"assistant\",\"content\":\"<thi\"},"
        "{\"role\":\"user\",\"content\":\"<think>u</think>2\"},"
        "{\"role\":\"assistant\",\"content\":\"<think>kept</think>last\"}]",
        0, NULL);
    assert_non_null(m);
    expect_json(prompt_filter_think(m),
                "[{\"role\":\"user\",\"content\":\"1\"},{\"role\":\"assistant\",\"content\":"
                "\"answer\"},{\"role\":\"assistant\",\"content\":\"\"},{\"role\":\"assistant\","
                "\"content\":\"plain <think>x</think>\"},{\"role\":\"assistant\",\"content\":\"\"},"
                "{\"role\":\"user\",\"content\":\"<think>u</think>2\"},{\"role\":\"assistant\","
                "\"content\":\"<think>kept</think>last\"}]");
    /* the input is untouched */
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "content")),
                        " <think> a </think>\n\n answer");
    json_decref(m);
    assert_null(prompt_filter_think(NULL));
}

static void expect_prefix(const char *src, int want_rc, const char *want)
{
    struct tmpl *t = parse(src);
    char *p = NULL;
    assert_int_equal(tmpl_tool_prefix(t, &p), want_rc);
    if (strcmp(p, want) != 0)
        printf("template %s: want prefix %s got %s\n", src, want, p);
    assert_string_equal(p, want);
    free(p);
    tmpl_free(t);
}

static void test_tool_prefix(void **state)
{
    (void)state;
    /* blank text is skipped; a range body is searched */
    expect_prefix("{{ if .ToolCalls }}  \n {{ range .ToolCalls }}<call>{{ .Function.Name }}"
                  "{{ end }}{{ end }}", 0, "<call>");
    /* an action before any text stops the search */
    expect_prefix("{{ if .ToolCalls }}{{ .X }}<tc>{{ end }}", OM_ENOTFOUND, "{");
    /* nested else-if chains, \r\n, cut before '{', trimmed */
    expect_prefix("{{ range .Messages }}{{ if eq .Role \"assistant\" }}{{ if .Content }}x"
                  "{{ else if .ToolCalls }}\r\n[TC] {\"a\"{{ end }}{{ end }}{{ end }}",
                  0, "[TC]");
    /* .ToolCalls as a direct command argument counts; inside parentheses not */
    expect_prefix("{{ if and .ToolCalls .X }}<a>{{ end }}", 0, "<a>");
    expect_prefix("{{ if (.ToolCalls) }}<a>{{ end }}", OM_ENOTFOUND, "{");
    expect_prefix("{{ if .M.ToolCalls }}<b>{{ end }}", 0, "<b>");
    expect_prefix("no tools here", OM_ENOTFOUND, "{");
}

static void expect_tags(const char *src, int want_rc, const char *open, const char *close)
{
    struct tmpl *t = parse(src);
    char *o = NULL, *c = NULL;
    assert_int_equal(tmpl_think_tags(t, &o, &c), want_rc);
    assert_string_equal(o, open);
    assert_string_equal(c, close);
    free(o);
    free(c);
    tmpl_free(t);
}

static void test_think_tags(void **state)
{
    (void)state;
    expect_tags("{{ range .Messages }}{{ if .Thinking }} <seed:think>\n{{ .Thinking }}\n"
                "</seed:think> {{ end }}{{ .Content }}{{ end }}",
                0, "<seed:think>", "</seed:think>");
    /* the nearest list must start and end with text */
    expect_tags("{{ range .Messages }}{{ .Thinking }}{{ end }}", OM_ENOTFOUND, "", "");
    /* only a range over .Messages (as a field) counts */
    expect_tags("{{ range $.Messages }}<t>{{ .Thinking }}</t>{{ end }}", OM_ENOTFOUND, "", "");
    expect_tags("{{ range .Other }}<t>{{ .Thinking }}</t>{{ end }}", OM_ENOTFOUND, "", "");
}

static void test_cut_response(void **state)
{
    (void)state;
    struct tmpl *t = parse("a{{ if .X }}b{{ .Response }}c{{ else }}d{{ end }}e");
    struct tmpl *c = tmpl_cut_response(t);
    json_t *d = json_pack("{s:b,s:s}", "X", 1, "Response", "R");
    char *out, err[128];
    assert_int_equal(tmpl_exec(c, d, &out, NULL, err, sizeof err), 0);
    assert_string_equal(out, "abR");
    free(out);
    json_object_set_new(d, "X", json_false());
    assert_int_equal(tmpl_exec(c, d, &out, NULL, err, sizeof err), 0);
    assert_string_equal(out, "a");
    free(out);
    /* the original is untouched */
    assert_int_equal(tmpl_exec(t, d, &out, NULL, err, sizeof err), 0);
    assert_string_equal(out, "ade");
    free(out);
    json_decref(d);
    tmpl_free(c);
    tmpl_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collate),         cmocka_unit_test(test_legacy),
        cmocka_unit_test(test_implicit_response), cmocka_unit_test(test_think_vars),
        cmocka_unit_test(test_fim),             cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_truncate_count_error), cmocka_unit_test(test_validation),
        cmocka_unit_test(test_generate_messages), cmocka_unit_test(test_tool_prefix),
        cmocka_unit_test(test_think_tags),      cmocka_unit_test(test_cut_response),
        cmocka_unit_test(test_chat_messages),   cmocka_unit_test(test_filter_think),
        cmocka_unit_test(test_nil_slices),      cmocka_unit_test(test_string_method),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
