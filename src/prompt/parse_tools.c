/* prompt: tool calls from JSON text, for the output parser (parse.c).
 *
 * Models write calls in a few JSON shapes: Qwen and Hermes
 * {"name":..,"arguments":{..}}, Llama 3.x {"name":..,"parameters":{..}},
 * Mistral an array of the former, some models the OpenAI form
 * {"function":{"name":..,"arguments":"{..}"}} with arguments as a string.
 * All become Ollama's {"id":"call_xxxxxxxx","function":{"index":n,
 * "name":..,"arguments":{..}}}. A call whose name is not one of the request's
 * tools is not a call (the text stays content), as in Ollama. */
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/parse_int.h"

void parse_buf_add(struct parse_buf *b, const char *s, size_t n)
{
    if (!n)
        return;
    if (b->n + n + 1 > b->cap) {
        b->cap = OM_MAX(b->cap * 2, b->n + n + 1);
        b->p = om_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void parse_buf_drop(struct parse_buf *b, size_t k)
{
    if (k >= b->n) {
        b->n = 0;
    } else {
        memmove(b->p, b->p + k, b->n - k);
        b->n -= k;
    }
    if (b->p)
        b->p[b->n] = 0;
}

void parse_buf_free(struct parse_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

size_t parse_json_end(const char *s, size_t n)
{
    size_t depth = 0;
    bool str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                str = false;
            continue;
        }
        if (c == '"') {
            str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return i + 1;
        }
    }
    return 0;
}

static bool name_known(const json_t *tools, const char *name)
{
    if (!json_is_array(tools) || json_array_size(tools) == 0)
        return true;
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t)
    {
        const json_t *f = json_object_get(t, "function");
        const json_t *nm = json_object_get(f ? f : t, "name");
        if (json_is_string(nm) && strcmp(json_string_value(nm), name) == 0)
            return true;
    }
    return false;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* One call object -> Ollama's form (new reference), or NULL. */
static json_t *one_call(const json_t *o, const json_t *tools, int index, uint64_t *rng)
{
    if (!json_is_object(o))
        return NULL;
    const json_t *f = json_object_get(o, "function");
    if (json_is_object(f) && !json_object_get(o, "name"))
        o = f;
    const json_t *name = json_object_get(o, "name");
    if (!json_is_string(name) || !json_string_length(name) || !name_known(tools, json_string_value(name)))
        return NULL;
    const json_t *a = json_object_get(o, "arguments");
    if (!a)
        a = json_object_get(o, "parameters");
    json_t *args;
    if (!a || json_is_null(a)) {
        args = json_object();
    } else if (json_is_string(a)) {
        args = json_loads(json_string_value(a), 0, NULL);
        if (!json_is_object(args)) {
            json_decref(args);
            return NULL;
        }
    } else if (json_is_object(a)) {
        args = json_deep_copy(a);
    } else {
        return NULL;
    }
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    char id[16] = "call_";
    uint64_t r = next_rand(rng);
    for (int i = 0; i < 8; i++, r /= 36)
        id[5 + i] = al[r % 36];
    id[13] = 0;
    return json_pack("{s:s,s:{s:i,s:s,s:o}}", "id", id, "function", "index", index, "name",
                     json_string_value(name), "arguments", args);
}

bool parse_tool_calls(const char *text, size_t n, const json_t *tools, int *index,
                      uint64_t *rng, json_t *calls)
{
    json_t *v = json_loadb(text, n, 0, NULL);
    if (!v)
        return false;
    json_t *got = json_array();
    bool ok = true;
    int idx = *index;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        ok = json_array_size(v) > 0;
        json_array_foreach(v, i, e)
        {
            json_t *c = ok ? one_call(e, tools, idx, rng) : NULL;
            if (!c) {
                ok = false;
                break;
            }
            json_array_append_new(got, c);
            idx++;
        }
    } else {
        json_t *c = one_call(v, tools, idx, rng);
        if (c) {
            json_array_append_new(got, c);
            idx++;
        } else {
            ok = false;
        }
    }
    if (ok) {
        json_array_extend(calls, got);
        *index = idx;
    }
    json_decref(got);
    json_decref(v);
    return ok;
}

bool parse_tool_call_named(const char *name, size_t nlen, const char *args, size_t alen,
                           const json_t *tools, int *index, uint64_t *rng, json_t *calls)
{
    json_t *a = json_loadb(args, alen, 0, NULL);
    json_t *nm = json_stringn(name, nlen);
    bool ok = false;
    if (json_is_object(a) && nm) {
        json_t *o = json_pack("{s:o,s:O}", "name", nm, "arguments", a);
        nm = NULL;
        json_t *c = one_call(o, tools, *index, rng);
        json_decref(o);
        if (c) {
            json_array_append_new(calls, c);
            (*index)++;
            ok = true;
        }
    }
    json_decref(nm);
    json_decref(a);
    return ok;
}
