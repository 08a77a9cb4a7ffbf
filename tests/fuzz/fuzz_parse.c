/* fuzz: libFuzzer target for the streaming output parser (prompt/parse).
 * Input: byte 0 picks the configuration (bit 0 thinking on, bit 1 output
 * starts inside thinking, bit 2 "[THINK]"/"[/THINK]" tags instead of
 * <think>, bit 3 a tools array, bits 4-6 the tool prefix: none,
 * "<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "{"), byte 1 seeds the
 * piece sizes; the rest is the model's output, fed in pseudo-random pieces
 * (1-17 bytes, sometimes larger), then parse_finish. The same text is also
 * fed in one piece to a second parser. Invariants: every call returns 0;
 * content/thinking are NULL with length 0 or NUL-terminated at their
 * length; content plus thinking never exceed the bytes fed; tool calls are
 * objects with a string function.name and an object of arguments, numbered
 * by function.index; and the split does not change the concatenated
 * content, thinking and call names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/om.h"
#include "prompt/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Log lines are formatted (at every level) but not printed. */
static void quiet_log(enum om_log_level lvl, const char *module, const char *msg, void *ud)
{
    (void)lvl, (void)ud;
    if (strlen(module) + strlen(msg) == (size_t)-1)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    om_log_set(quiet_log, NULL, OM_LOG_DEBUG);
    return 0;
}

static const char *const prefixes[] = {NULL, "<tool_call>", "[TOOL_CALLS]", "<|python_tag|>",
                                       "{"};

struct acc {
    char *content, *thinking, *names;
    size_t nc, nt, nn;
    int calls;
};

static void app(char **b, size_t *n, const char *s, size_t len)
{
    char *p = realloc(*b, *n + len + 1);
    if (!p)
        abort();
    memcpy(p + *n, s, len);
    *n += len;
    p[*n] = 0;
    *b = p;
}

static void take(struct acc *a, struct parse_out *o)
{
    if (o->content) {
        if (o->content[o->content_len] != 0)
            abort();
        app(&a->content, &a->nc, o->content, o->content_len);
    } else if (o->content_len) {
        abort();
    }
    if (o->thinking) {
        if (o->thinking[o->thinking_len] != 0)
            abort();
        app(&a->thinking, &a->nt, o->thinking, o->thinking_len);
    } else if (o->thinking_len) {
        abort();
    }
    if (o->tool_calls) {
        size_t i;
        json_t *c;
        if (!json_is_array(o->tool_calls))
            abort();
        json_array_foreach (o->tool_calls, i, c) {
            json_t *f = json_object_get(c, "function");
            const char *name = json_string_value(json_object_get(f, "name"));
            if (!name || !json_is_object(json_object_get(f, "arguments")) ||
                !json_is_string(json_object_get(c, "id")))
                abort();
            if (json_integer_value(json_object_get(f, "index")) != a->calls)
                abort();
            a->calls++;
            app(&a->names, &a->nn, name, strlen(name));
            app(&a->names, &a->nn, "\n", 1);
        }
    }
    parse_out_clear(o);
    if (o->content || o->thinking || o->tool_calls || o->content_len || o->thinking_len)
        abort();
}

static void run(const struct parse_cfg *cfg, const char *text, size_t n, unsigned seed,
                struct acc *a)
{
    struct parse *p = NULL;
    if (parse_new(cfg, &p) != 0 || !p)
        abort();
    struct parse_out o;
    memset(&o, 0, sizeof(o));
    uint32_t x = seed * 2654435761u + 1u;
    size_t i = 0;
    while (i < n) {
        size_t k = n - i;
        if (seed) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            size_t want = (x & 15) == 0 ? 64 + (x >> 8) % 512 : 1 + (x >> 8) % 17;
            k = want < k ? want : k;
        }
        if (parse_feed(p, text + i, k, &o) != 0)
            abort();
        take(a, &o);
        i += k;
    }
    if (parse_finish(p, &o) != 0)
        abort();
    take(a, &o);
    if (parse_tool_count(p) != a->calls)
        abort();
    parse_free(p);
    if (a->nc + a->nt > n)
        abort();
}

static void acc_free(struct acc *a)
{
    free(a->content);
    free(a->thinking);
    free(a->names);
}

static int same(const char *x, size_t nx, const char *y, size_t ny)
{
    return nx == ny && (nx == 0 || memcmp(x, y, nx) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *tools;
    if (!tools) {
        tools = json_loads(
            "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
            "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}},"
            "{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]",
            0, NULL);
        if (!tools)
            abort();
    }
    if (size < 2)
        return 0;
    unsigned c = data[0], seed = data[1] | 1u;
    struct parse_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.think_enabled = c & 1;
    cfg.think_open_at_start = (c >> 1) & 1;
    if (c & 4) {
        cfg.think_open = "[THINK]";
        cfg.think_close = "[/THINK]";
    }
    cfg.tools = (c & 8) ? tools : NULL;
    cfg.tool_prefix = prefixes[((c >> 4) & 7) % 5];
    const char *text = (const char *)data + 2;
    size_t n = size - 2;

    struct acc a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    run(&cfg, text, n, seed, &a);
    run(&cfg, text, n, 0, &b);
    if (!same(a.content, a.nc, b.content, b.nc) || !same(a.thinking, a.nt, b.thinking, b.nt) ||
        !same(a.names, a.nn, b.names, b.nn))
        abort();
    acc_free(&a);
    acc_free(&b);
    return 0;
}
