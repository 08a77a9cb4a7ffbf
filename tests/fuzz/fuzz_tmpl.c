/* fuzz: libFuzzer target for the Go template interpreter and Ollama's
 * prompt building. The input is a template source. It is parsed; when it
 * parses, it is executed on a fixed data object (maps, arrays, numbers,
 * Ollama struct markers), its AST facts are taken (tmpl_uses,
 * tmpl_tool_prefix, tmpl_think_tags, the .Response cut and append), and it
 * renders a fixed tool-calling conversation through prompt_chat with
 * truncation. Invariants: every call returns 0 or a negative code with an
 * error message, outputs are NUL-terminated at the reported length and
 * within TMPL_MAX_OUTPUT, and execution is deterministic. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/prompt.h"

static json_t *g_data, *g_msgs, *g_tools;

static const char data_json[] =
    "{\"S\":\"str <&>\",\"N\":3,\"F\":2.5,\"B\":true,\"Z\":null,\"L\":[1,\"a\",[2],{\"k\":1}],"
    "\"M\":{\"b\":1,\"a\":{\"c\":[1,2]}},\"E\":[],\"Messages\":[{\"\\u0001T\":\"Message\","
    "\"Role\":\"user\",\"Content\":\"hi\",\"Thinking\":\"\",\"ToolCalls\":[],\"ToolName\":\"\"}]}";
static const char msgs_json[] =
    "[{\"role\":\"system\",\"content\":\"sys\"},{\"role\":\"user\",\"content\":\"weather?\"},"
    "{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"hmm\",\"tool_calls\":[{\"id\":\"c1\","
    "\"function\":{\"index\":0,\"name\":\"w\",\"arguments\":{\"city\":\"Paris\",\"n\":2}}}]},"
    "{\"role\":\"tool\",\"content\":\"sunny\",\"tool_name\":\"w\"},"
    "{\"role\":\"user\",\"content\":\"thanks\"}]";
static const char tools_json[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"w\",\"description\":\"d\",\"parameters\":"
    "{\"type\":\"object\",\"required\":[\"city\"],\"properties\":{\"city\":{\"type\":\"string\"},"
    "\"n\":{\"type\":[\"integer\",\"null\"],\"enum\":[1,2]}}}}}]";

static int count_bytes(void *ud, const char *text, size_t len)
{
    (void)ud, (void)text;
    return (int)(len / 3);
}

static void check_out(int rc, const char *out, size_t len, const char *err)
{
    if (rc == 0) {
        if (!out || out[len] != 0 || len > TMPL_MAX_OUTPUT)
            abort();
    } else if (out || rc >= 0 || !err[0]) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_data) {
        g_data = json_loads(data_json, 0, NULL);
        g_msgs = json_loads(msgs_json, 0, NULL);
        g_tools = json_loads(tools_json, 0, NULL);
        if (!g_data || !g_msgs || !g_tools)
            abort();
    }
    struct tmpl *t = NULL;
    char err[512] = "";
    int rc = tmpl_parse((const char *)data, size, &t, err, sizeof err);
    if (rc != 0) {
        if (t || rc >= 0 || !err[0])
            abort();
        return 0;
    }
    char *out = NULL, *out2 = NULL;
    size_t len = 0, len2 = 0;
    err[0] = 0;
    rc = tmpl_exec(t, g_data, &out, &len, err, sizeof err);
    check_out(rc, out, len, err);
    char err2[512] = "";
    int rc2 = tmpl_exec(t, g_data, &out2, &len2, err2, sizeof err2);
    if (rc2 != rc || (rc == 0 && (len2 != len || memcmp(out, out2, len) != 0)))
        if (!strstr((const char *)data, "Date")) /* currentDate may tick over */
            abort();
    free(out);
    free(out2);

    (void)tmpl_uses(t, "Messages");
    (void)tmpl_uses(t, ".Response");
    char *p = NULL, *o = NULL, *c = NULL;
    tmpl_tool_prefix(t, &p);
    tmpl_think_tags(t, &o, &c);
    if (!p || !o || !c)
        abort();
    free(p);
    free(o);
    free(c);

    struct prompt_chat_in in = {.tmpl = t, .messages = g_msgs, .tools = g_tools, .think = 1,
                                .truncate = true, .num_ctx = 40, .count_tokens = count_bytes};
    int dropped = -1;
    out = NULL;
    err[0] = 0;
    rc = prompt_chat(&in, &out, &len, &dropped, err, sizeof err);
    check_out(rc, out, len, err);
    if (rc == 0 && (dropped < 0 || dropped > 4))
        abort();
    free(out);
    in.suffix = "tail";
    out = NULL;
    err[0] = 0;
    rc = prompt_chat(&in, &out, &len, NULL, err, sizeof err);
    check_out(rc, out, len, err);
    free(out);
    tmpl_free(t);
    return 0;
}
