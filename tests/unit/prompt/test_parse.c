/* tests: prompt/parse — thinking/content split and tool calls for the model
 * families' output styles. Every case is run whole, in pieces of every size
 * from 1 byte up, and split in two at every byte boundary: the result must
 * be the same each time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/parse.h"

static const char *TOOLS =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{}}}]";

struct result {
    char content[4096], thinking[4096];
    json_t *calls;
};

static void collect(struct result *r, struct parse_out *o)
{
    if (o->content) {
        assert_int_equal(strlen(o->content), o->content_len);
        strncat(r->content, o->content, sizeof(r->content) - strlen(r->content) - 1);
    }
    if (o->thinking)
        strncat(r->thinking, o->thinking, sizeof(r->thinking) - strlen(r->thinking) - 1);
    if (o->tool_calls) {
        assert_true(json_array_size(o->tool_calls) > 0);
        json_array_extend(r->calls, o->tool_calls);
    }
    parse_out_clear(o);
}

/* Feeds text split at the given cut points (sorted, may be empty). */
static void run_cuts(const struct parse_cfg *cfg, const char *text, const size_t *cuts,
                     size_t ncuts, struct result *r)
{
    struct parse *p;
    assert_int_equal(parse_new(cfg, &p), 0);
    memset(r, 0, sizeof(*r));
    r->calls = json_array();
    struct parse_out o;
    size_t n = strlen(text), at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        assert_int_equal(parse_feed(p, text + at, end - at, &o), 0);
        collect(r, &o);
        at = end;
    }
    assert_int_equal(parse_finish(p, &o), 0);
    collect(r, &o);
    assert_int_equal(parse_tool_count(p), (int)json_array_size(r->calls));
    parse_free(p);
}

static void same(const struct result *a, const struct result *b, const char *text, size_t cut)
{
    if (strcmp(a->content, b->content) || strcmp(a->thinking, b->thinking) ||
        json_array_size(a->calls) != json_array_size(b->calls))
        fprintf(stderr, "split at %zu of [%s]: content [%s] vs [%s], thinking [%s] vs [%s]\n", cut,
                text, a->content, b->content, a->thinking, b->thinking);
    assert_string_equal(a->content, b->content);
    assert_string_equal(a->thinking, b->thinking);
    assert_int_equal(json_array_size(a->calls), json_array_size(b->calls));
    for (size_t i = 0; i < json_array_size(a->calls); i++) {
        const json_t *fa = json_object_get(json_array_get(a->calls, i), "function");
        const json_t *fb = json_object_get(json_array_get(b->calls, i), "function");
        assert_true(json_equal((json_t *)fa, (json_t *)fb));
    }
}

/* Runs text every way, checks the expectations; calls_json is the expected
 * list of {"name","arguments"} (NULL: none). */
static void check(const struct parse_cfg *cfg, const char *text, const char *want_content,
                  const char *want_thinking, const char *calls_json)
{
    struct result whole, part;
    run_cuts(cfg, text, NULL, 0, &whole);
    if (strcmp(whole.content, want_content) || strcmp(whole.thinking, want_thinking))
        fprintf(stderr, "[%s]: content [%s] thinking [%s]\n", text, whole.content, whole.thinking);
    assert_string_equal(whole.content, want_content);
    assert_string_equal(whole.thinking, want_thinking);
    json_t *want = calls_json ? json_loads(calls_json, 0, NULL) : json_array();
    assert_non_null(want);
    assert_int_equal(json_array_size(whole.calls), json_array_size(want));
    regex_t re;
    assert_int_equal(regcomp(&re, "^call_[a-z0-9]{8}$", REG_EXTENDED | REG_NOSUB), 0);
    for (size_t i = 0; i < json_array_size(want); i++) {
        const json_t *c = json_array_get(whole.calls, i), *w = json_array_get(want, i);
        const json_t *f = json_object_get(c, "function");
        assert_int_equal(regexec(&re, json_string_value(json_object_get(c, "id")), 0, NULL, 0), 0);
        assert_int_equal(json_integer_value(json_object_get(f, "index")), (json_int_t)i);
        assert_string_equal(json_string_value(json_object_get(f, "name")),
                            json_string_value(json_object_get(w, "name")));
        assert_true(json_equal(json_object_get(f, "arguments"), json_object_get(w, "arguments")));
    }
    regfree(&re);
    json_decref(want);
    size_t n = strlen(text);
    for (size_t cut = 1; cut < n; cut++) { /* two pieces */
        run_cuts(cfg, text, &cut, 1, &part);
        same(&whole, &part, text, cut);
        json_decref(part.calls);
    }
    size_t *cuts = om_xmalloc((n + 1) * sizeof(size_t));
    for (size_t k = 1; k <= n; k++) { /* pieces of k bytes */
        size_t nc = 0;
        for (size_t at = k; at < n; at += k)
            cuts[nc++] = at;
        run_cuts(cfg, text, cuts, nc, &part);
        same(&whole, &part, text, k);
        json_decref(part.calls);
    }
    free(cuts);
    json_decref(whole.calls);
}

static void test_thinking(void **s)
{
    (void)s;
    struct parse_cfg c = {.think_enabled = true};
    check(&c, "<think>Let me think.</think>\n\nThe answer is 4.", "The answer is 4.",
          "Let me think.", NULL);
    check(&c, "  \n<think>\n a </think>b", "b", "a ", NULL);
    check(&c, "Hello <think>x</think>", "Hello <think>x</think>", "", NULL); /* not at start */
    check(&c, "<thinking>no</thinking>", "<thinking>no</thinking>", "", NULL);
    check(&c, "<think>unfinished </thi", "", "unfinished </thi", NULL);
    check(&c, "<thi", "<thi", "", NULL);
    check(&c, "", "", "", NULL);
    /* DeepSeek-R1 / Qwen3: the prompt ends with the opening tag */
    struct parse_cfg r1 = {.think_enabled = true, .think_open_at_start = true};
    check(&r1, "\nOkay, 2+2.\n</think>\n\n**4**", "**4**", "Okay, 2+2.\n", NULL);
    check(&r1, "a<</think>b</think>", "b</think>", "a<", NULL);
    /* other tags from the template */
    struct parse_cfg o = {.think_open = "<|begin_of_thought|>", .think_close = "<|end_of_thought|>",
                          .think_enabled = true};
    check(&o, "<|begin_of_thought|>hmm<|end_of_thought|>ok", "ok", "hmm", NULL);
    /* think disabled: no split, but an empty block is dropped */
    struct parse_cfg off = {.think_enabled = false};
    check(&off, "<think>\n\n</think>\n\nHi there", "Hi there", "", NULL);
    check(&off, "<think></think>Hi", "Hi", "", NULL);
    check(&off, "<think>real thought</think>x", "<think>real thought</think>x", "", NULL);
    check(&off, "Plain answer.", "Plain answer.", "", NULL);
    check(&off, "  <thin", "  <thin", "", NULL);
}

static void test_qwen_tools(void **s)
{
    (void)s;
    json_t *tools = json_loads(TOOLS, 0, NULL);
    struct parse_cfg c = {.tool_prefix = "<tool_call>", .tools = tools};
    check(&c,
          "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
          "", "", "[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}]");
    check(&c,
          "Let me check.\n<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n"
          "</tool_call>\n<tool_call>\n{\"name\":\"get_time\",\"arguments\":{\"tz\":\"CET\"}}\n</tool_call>",
          "Let me check.\n", "",
          "[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}},"
          "{\"name\":\"get_time\",\"arguments\":{\"tz\":\"CET\"}}]");
    /* text after the calls is content again */
    check(&c, "<tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call>\nDone.", "Done.", "",
          "[{\"name\":\"get_time\",\"arguments\":{}}]");
    /* looks like the prefix but is not */
    check(&c, "A <tool_table> here", "A <tool_table> here", "", NULL);
    check(&c, "ends with <tool_c", "ends with <tool_c", "", NULL);
    /* malformed JSON, unknown tool, no JSON: released as content */
    check(&c, "<tool_call>{\"name\": \"get_weather\", \"arguments\": {bad}}</tool_call> ok",
          "<tool_call>{\"name\": \"get_weather\", \"arguments\": {bad}}</tool_call> ok", "", NULL);
    check(&c, "<tool_call>{\"name\":\"rm_rf\",\"arguments\":{}}</tool_call>",
          "<tool_call>{\"name\":\"rm_rf\",\"arguments\":{}}</tool_call>", "", NULL);
    check(&c, "<tool_call> sure! </tool_call>", "<tool_call> sure! </tool_call>", "", NULL);
    check(&c, "<tool_call>{\"name\": \"get_w", "<tool_call>{\"name\": \"get_w", "", NULL);
    /* arguments as a JSON string, a string with braces inside */
    check(&c, "<tool_call>{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"}{\\\"}\"}",
          "", "", "[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"}{\"}}]");
    /* JSON in a code fence inside the tags */
    check(&c, "<tool_call>\n```json\n{\"name\":\"get_time\",\"arguments\":{}}\n```\n</tool_call>", "", "",
          "[{\"name\":\"get_time\",\"arguments\":{}}]");
    check(&c, "<tool_call>``", "<tool_call>``", "", NULL);
    /* a closing tag cut by the stop sequence */
    check(&c, "<tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_", "", "",
          "[{\"name\":\"get_time\",\"arguments\":{}}]");
    /* Qwen3: thinking, then a call */
    struct parse_cfg q3 = {.think_enabled = true, .tool_prefix = "<tool_call>", .tools = tools};
    check(&q3,
          "<think>\nThe user wants weather.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", "
          "\"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
          "", "The user wants weather.\n",
          "[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}]");
    /* no tools in the request: any name */
    struct parse_cfg any = {.tool_prefix = "<tool_call>"};
    check(&any, "<tool_call>{\"name\":\"whatever\",\"arguments\":{\"a\":[1]}}</tool_call>", "", "",
          "[{\"name\":\"whatever\",\"arguments\":{\"a\":[1]}}]");
    json_decref(tools);
}

static void test_llama_mistral(void **s)
{
    (void)s;
    json_t *tools = json_loads(TOOLS, 0, NULL);
    struct parse_cfg brace = {.tool_prefix = "{", .tools = tools};
    check(&brace, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}", "", "",
          "[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Rome\"}}]");
    check(&brace, "\n{\"name\":\"get_time\",\"parameters\":{}}", "", "",
          "[{\"name\":\"get_time\",\"arguments\":{}}]");
    /* JSON content that is not a call, text with braces later */
    check(&brace, "{\"answer\": 42}", "{\"answer\": 42}", "", NULL);
    check(&brace, "The set {1,2} {\"name\":\"get_time\",\"parameters\":{}}",
          "The set {1,2} {\"name\":\"get_time\",\"parameters\":{}}", "", NULL);
    check(&brace, "{\"name\":\"get_time\",\"parameters\":{}} and more", "and more", "",
          "[{\"name\":\"get_time\",\"arguments\":{}}]");
    struct parse_cfg py = {.tool_prefix = "<|python_tag|>", .tools = tools};
    check(&py, "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}", "",
          "", "[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Rome\"}}]");
    check(&py, "{\"name\": \"get_time\", \"parameters\": {}}", "", "",
          "[{\"name\":\"get_time\",\"arguments\":{}}]");
    check(&py, "Sure. {\"name\": \"get_time\"}", "Sure. {\"name\": \"get_time\"}", "", NULL);
    check(&py, "<|python_tag|>brave_search.call(query=\"x\")",
          "<|python_tag|>brave_search.call(query=\"x\")", "", NULL);
    struct parse_cfg mi = {.tool_prefix = "[TOOL_CALLS]", .tools = tools};
    check(&mi,
          "[TOOL_CALLS] [{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Nice\"}},"
          "{\"name\":\"get_time\",\"arguments\":{}}]",
          "", "",
          "[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Nice\"}},"
          "{\"name\":\"get_time\",\"arguments\":{}}]");
    /* one bad element: the whole array stays content */
    check(&mi, "[TOOL_CALLS][{\"name\":\"get_time\",\"arguments\":{}},{\"nom\":1}]",
          "[TOOL_CALLS][{\"name\":\"get_time\",\"arguments\":{}},{\"nom\":1}]", "", NULL);
    /* Mistral Small 3.2 / Magistral: name[ARGS]{...}, several in a row */
    check(&mi,
          "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Nice\"}[TOOL_CALLS]get_time[CALL_ID]a1B2c3[ARGS]{}",
          "", "",
          "[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Nice\"}},"
          "{\"name\":\"get_time\",\"arguments\":{}}]");
    check(&mi, "[TOOL_CALLS]unknown[ARGS]{}", "[TOOL_CALLS]unknown[ARGS]{}", "", NULL);
    check(&mi, "[TOOL_CALLS]get_time[ARGS]{\"a\":", "[TOOL_CALLS]get_time[ARGS]{\"a\":", "", NULL);
    check(&mi, "[TOOL_CALLS]get_time and text", "[TOOL_CALLS]get_time and text", "", NULL);
    /* OpenAI-style function object */
    check(&mi, "[TOOL_CALLS][{\"type\":\"function\",\"function\":{\"name\":\"get_time\","
               "\"arguments\":\"{}\"}}]",
          "", "", "[{\"name\":\"get_time\",\"arguments\":{}}]");
    json_decref(tools);
}

/* Random texts built from tag and JSON fragments: the result must not
 * depend on how the text is cut into pieces. */
static void test_random_splits(void **s)
{
    (void)s;
    static const char *frag[] = {"<think>", "</think>", "<tool_call>", "</tool_call>", "{", "}", "[",
                                 "]", "\"name\"", "\"arguments\"", ":", ",", "\"get_time\"", "{}",
                                 " ", "\n", "x", "<", "</", "[TOOL_CALLS]", "[ARGS]", "get_time",
                                 "\"", "\\", "<|python_tag|>", "<thi", "<tool"};
    json_t *tools = json_loads(TOOLS, 0, NULL);
    const struct parse_cfg cfgs[] = {
        {.think_enabled = true, .tool_prefix = "<tool_call>", .tools = tools},
        {.think_enabled = true, .think_open_at_start = true, .tool_prefix = "{", .tools = tools},
        {.think_enabled = false, .tool_prefix = "[TOOL_CALLS]", .tools = tools},
        {.think_enabled = false, .tool_prefix = "<|python_tag|>"},
        {.think_enabled = true},
    };
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int rounds = getenv("OM_TEST_QUICK") ? 300 : 3000;
    char text[512];
    for (int it = 0; it < rounds; it++) {
        size_t n = 0;
        int nf = 1 + (int)(x % 24);
        for (int i = 0; i < nf; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *f = frag[x % (sizeof(frag) / sizeof(frag[0]))];
            size_t l = strlen(f);
            if (n + l >= sizeof(text))
                break;
            memcpy(text + n, f, l);
            n += l;
        }
        text[n] = 0;
        const struct parse_cfg *cfg = &cfgs[it % (sizeof(cfgs) / sizeof(cfgs[0]))];
        struct result whole, part;
        run_cuts(cfg, text, NULL, 0, &whole);
        size_t cuts[8], nc = 0;
        for (size_t k = 0; k < 8 && n > 1; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t c = 1 + x % (n - 1);
            if (nc == 0 || c > cuts[nc - 1])
                cuts[nc++] = c;
        }
        run_cuts(cfg, text, cuts, nc, &part);
        same(&whole, &part, text, nc);
        /* nothing is invented: released text is at most what was fed */
        assert_true(strlen(whole.content) + strlen(whole.thinking) <= n);
        json_decref(part.calls);
        json_decref(whole.calls);
    }
    json_decref(tools);
}

static void test_api(void **s)
{
    (void)s;
    struct parse *p;
    struct parse_cfg bad = {.think_open = ""};
    assert_int_equal(parse_new(&bad, &p), OM_EINVAL);
    assert_int_equal(parse_new(NULL, &p), OM_EINVAL);
    json_t *notarr = json_object();
    struct parse_cfg bad2 = {.tool_prefix = "<tool_call>", .tools = notarr};
    assert_int_equal(parse_new(&bad2, &p), OM_EINVAL);
    json_decref(notarr);
    parse_free(NULL);
    parse_out_clear(NULL);
    const char *pr = "<|im_start|>assistant\n<think>\n";
    assert_true(parse_prompt_opens_think(pr, strlen(pr), NULL));
    assert_false(parse_prompt_opens_think(pr, strlen(pr) - 3, NULL));
    assert_true(parse_prompt_opens_think("x<|thought|> ", 13, "<|thought|>"));
    assert_false(parse_prompt_opens_think("", 0, NULL));
    /* a flood of blanks while undecided is bounded */
    struct parse_cfg c = {.think_enabled = true, .tool_prefix = "{"};
    assert_int_equal(parse_new(&c, &p), 0);
    char *blanks = om_xmalloc(1 << 16);
    memset(blanks, ' ', 1 << 16);
    struct parse_out o;
    size_t got = 0;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(parse_feed(p, blanks, 1 << 16, &o), 0);
        got += o.content_len;
        parse_out_clear(&o);
    }
    assert_true(got > 0);
    assert_int_equal(parse_finish(p, &o), 0);
    got += o.content_len;
    parse_out_clear(&o);
    assert_int_equal(got, (size_t)40 << 16);
    parse_free(p);
    free(blanks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thinking),
        cmocka_unit_test(test_qwen_tools),
        cmocka_unit_test(test_llama_mistral),
        cmocka_unit_test(test_random_splits),
        cmocka_unit_test(test_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
