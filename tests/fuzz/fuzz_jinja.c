/* fuzz: libFuzzer target for the Jinja renderer and chat-template detection.
 * Built by `make fuzz` (clang, ASan+UBSan). The input is a template source;
 * it is parsed, rendered as a chat template over a fixed conversation with
 * tools, reasoning and a tool call, and handed to detect_template /
 * detect_family. Invariants: a refused template leaves *out NULL and a
 * message in err; an accepted render is NUL-terminated, its length matches,
 * and it stays under JINJA_MAX_OUTPUT; detection returns 0 or OM_ENOTFOUND
 * and, on success, names a built-in.
 *
 * Run: build-fuzz/fuzz_jinja -max_len=4096 -timeout=10 NEW_DIR tests/data/templates */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/detect.h"
#include "prompt/jinja.h"

static json_t *g_msgs, *g_tools, *g_extra;

static void init(void)
{
    json_error_t je;
    g_msgs = json_loads(
        "[{\"role\":\"system\",\"content\":\"sys\"},"
        "{\"role\":\"user\",\"content\":\"What is the weather in Paris?\"},"
        "{\"role\":\"assistant\",\"content\":\"\",\"reasoning_content\":\"think\","
        "\"tool_calls\":[{\"id\":\"call12345\",\"type\":\"function\",\"function\":"
        "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\",\"n\":[1,2.5,null,true]}}}]},"
        "{\"role\":\"tool\",\"content\":\"{\\\"temp\\\": 21}\",\"tool_call_id\":\"call12345\"},"
        "{\"role\":\"assistant\",\"content\":\"<think>x</think>It is 21 \\u00b0C.\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"more\"},{\"type\":\"image\"}]}]",
        0, &je);
    g_tools = json_loads("[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                         "\"description\":\"Get the weather\",\"parameters\":{\"type\":\"object\","
                         "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}]",
                         0, &je);
    g_extra = json_loads("{\"enable_thinking\":false,\"date_string\":\"26 Nov 2026\"}", 0, &je);
    if (!g_msgs || !g_tools || !g_extra)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_msgs)
        init();
    const char *src = (const char *)data;
    char err[256];
    struct jinja *t = (struct jinja *)1;
    int rc = jinja_parse(src, size, &t, err, sizeof(err));
    if (rc) {
        if (t || !err[0])
            abort();
    } else {
        for (int pass = 0; pass < 2; pass++) {
            char *out = (char *)1;
            size_t len = 0;
            err[0] = 0;
            rc = jinja_render_chat(t, g_msgs, pass ? g_tools : NULL, pass == 0, "<s>", "</s>",
                                   pass ? g_extra : NULL, &out, &len, err, sizeof(err));
            if (rc) {
                if (out || !err[0])
                    abort();
            } else {
                if (!out || strlen(out) > len || len > JINJA_MAX_OUTPUT || out[len] != 0)
                    abort();
                free(out);
            }
        }
        jinja_free(t);
    }
    struct detect_result r;
    rc = detect_template(src, size, &r);
    if (rc != 0 && rc != OM_ENOTFOUND)
        abort();
    if (rc == 0 && detect_builtin(r.name) == NULL)
        abort();
    rc = detect_family(src, size, &r);
    if (rc == 0 && detect_builtin(r.name) == NULL)
        abort();
    return 0;
}
