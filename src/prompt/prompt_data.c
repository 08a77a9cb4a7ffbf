/* prompt: native Ollama chat messages and tools turned into the Go values
 * Ollama's templates see (template/template.go templateMessage,
 * templateTool...).
 *
 * Structs carry TMPL_GO_TYPE_KEY so that tmpl_exec treats them as Go
 * structs (missing field = error, json tags on marshal); values of Go type
 * `any` decoded from JSON (arguments, enum, items, $defs) have their
 * integers turned into reals, since encoding/json decodes every number into
 * float64. Roles are lower-cased as api.Message's UnmarshalJSON does. */
#include "prompt/prompt_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/om.h"

json_t *prompt_go_any(const json_t *j, int depth)
{
    if (!j || depth > 256)
        return json_null();
    switch (json_typeof(j)) {
    case JSON_INTEGER:
        return json_real((double)json_integer_value(j));
    case JSON_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(j); i++)
            json_array_append_new(a, prompt_go_any(json_array_get(j, i), depth + 1));
        return a;
    }
    case JSON_OBJECT: {
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            if (k[0] != '\x01') /* interpreter metadata cannot come from outside */
                json_object_set_new(o, k, prompt_go_any(v, depth + 1));
        }
        return o;
    }
    default:
        return json_deep_copy(j);
    }
}

static json_t *go_struct(const char *type)
{
    json_t *o = json_object();
    json_object_set_new(o, TMPL_GO_TYPE_KEY, json_string(type));
    return o;
}

static int bad(char *err, size_t errlen, const char *where, int idx, const char *field,
               const char *what)
{
    return om_err(err, errlen, OM_EINVAL, "%s[%d].%s: %s", where, idx, field, what);
}

/* Optional string field: absent/null -> "". */
static int opt_str(const json_t *o, const char *key, const char **out, const char *where, int idx,
                   char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    *out = "";
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(err, errlen, where, idx, key, "expected a string");
    *out = json_string_value(v);
    return 0;
}

int prompt_msg_fields(const json_t *m, int idx, struct prompt_msg *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(m))
        return om_err(err, errlen, OM_EINVAL, "messages[%d]: expected an object", idx);
    if (opt_str(m, "role", &out->role_raw, "messages", idx, err, errlen) < 0 ||
        opt_str(m, "content", &out->content, "messages", idx, err, errlen) < 0 ||
        opt_str(m, "thinking", &out->thinking, "messages", idx, err, errlen) < 0 ||
        opt_str(m, "tool_name", &out->tool_name, "messages", idx, err, errlen) < 0 ||
        opt_str(m, "tool_call_id", &out->tool_call_id, "messages", idx, err, errlen) < 0)
        return OM_EINVAL;
    size_t rl = strlen(out->role_raw);
    if (rl >= sizeof(out->role))
        return bad(err, errlen, "messages", idx, "role", "too long");
    for (size_t i = 0; i <= rl; i++)
        out->role[i] = (char)tolower((unsigned char)out->role_raw[i]);
    json_t *tc = json_object_get(m, "tool_calls");
    if (tc && !json_is_null(tc)) {
        if (!json_is_array(tc))
            return bad(err, errlen, "messages", idx, "tool_calls", "expected an array");
        size_t i;
        json_t *c;
        json_array_foreach(tc, i, c) {
            json_t *fn = json_object_get(c, "function");
            if (!json_is_object(c) || (fn && !json_is_object(fn)))
                return bad(err, errlen, "messages", idx, "tool_calls", "expected {function:{...}}");
            json_t *id = json_object_get(c, "id"), *nm = json_object_get(fn, "name");
            json_t *ix = json_object_get(fn, "index"), *args = json_object_get(fn, "arguments");
            if ((id && !json_is_string(id) && !json_is_null(id)) ||
                (nm && !json_is_string(nm) && !json_is_null(nm)) ||
                (ix && !json_is_integer(ix) && !json_is_null(ix)) ||
                (args && !json_is_object(args) && !json_is_null(args)))
                return bad(err, errlen, "messages", idx, "tool_calls",
                           "bad id, function.name, function.index or function.arguments");
        }
        out->tool_calls = tc;
    }
    return 0;
}

json_t *prompt_tmpl_message(const struct prompt_msg *m, const char *content)
{
    json_t *o = go_struct("Message");
    json_object_set_new(o, "Role", json_string(m->role));
    json_object_set_new(o, "Content", json_string(content));
    json_object_set_new(o, "Thinking", json_string(m->thinking));
    json_object_set_new(o, "Images", json_array());
    json_object_set_new(o, TMPL_NIL_SLICE_KEY "Images", json_true());
    json_t *calls = json_array();
    if (json_array_size(m->tool_calls) > 0) {
        size_t i;
        json_t *c;
        json_array_foreach(m->tool_calls, i, c) {
            json_t *fn = json_object_get(c, "function");
            json_t *tc = go_struct("ToolCall");
            const char *id = json_string_value(json_object_get(c, "id"));
            json_object_set_new(tc, "ID", json_string(id ? id : ""));
            json_t *f = go_struct("ToolCallFunction");
            json_object_set_new(f, "Index",
                                json_integer(json_integer_value(json_object_get(fn, "index"))));
            const char *name = json_string_value(json_object_get(fn, "name"));
            json_object_set_new(f, "Name", json_string(name ? name : ""));
            json_t *args = json_object_get(fn, "arguments");
            json_object_set_new(f, "Arguments",
                                json_is_object(args) ? prompt_go_any(args, 0) : json_object());
            json_object_set_new(tc, "Function", f);
            json_array_append_new(calls, tc);
        }
    }
    json_object_set_new(o, "ToolCalls", calls);
    if (json_array_size(calls) == 0)
        json_object_set_new(o, TMPL_NIL_SLICE_KEY "ToolCalls", json_true());
    json_object_set_new(o, "ToolName", json_string(m->tool_name));
    json_object_set_new(o, "ToolCallID", json_string(m->tool_call_id));
    return o;
}

static json_t *str_or(const json_t *v)
{
    return json_string(json_is_string(v) ? json_string_value(v) : "");
}

static json_t *any_or_null(const json_t *v) { return v ? prompt_go_any(v, 0) : json_null(); }

/* Go nil slices are stored as [] so that they print "[]" as fmt does; the
 * fields holding them are omitempty (or untagged and never marshalled). */
static json_t *string_list(const json_t *v)
{
    if (!json_is_array(v))
        return json_array();
    json_t *a = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (json_is_string(e))
            json_array_append_new(a, json_string(json_string_value(e)));
    }
    return a;
}

static json_t *tool_property(const json_t *p, int depth);

/* *ToolPropertiesMap / templateProperties: name -> ToolProperty. */
static json_t *property_map(const json_t *props, int depth)
{
    if (!json_is_object(props))
        return json_null();
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)props, k, v) {
        if (k[0] != '\x01')
            json_object_set_new(o, k, tool_property(v, depth + 1));
    }
    return o;
}

static json_t *tool_property(const json_t *p, int depth)
{
    json_t *o = go_struct("ToolProperty");
    if (!json_is_object(p) || depth > 64)
        p = NULL;
    json_t *any = p ? json_object_get(p, "anyOf") : NULL;
    if (json_is_array(any)) {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(any); i++)
            json_array_append_new(a, tool_property(json_array_get(any, i), depth + 1));
        json_object_set_new(o, "AnyOf", a);
    } else {
        json_object_set_new(o, "AnyOf", json_array());
    }
    /* PropertyType: one type prints and marshals as a string */
    json_t *t = p ? json_object_get(p, "type") : NULL;
    if (json_is_string(t))
        json_object_set_new(o, "Type", json_string(json_string_value(t)));
    else if (json_is_array(t) && json_array_size(t) == 1)
        json_object_set_new(o, "Type", str_or(json_array_get(t, 0)));
    else if (json_is_array(t) && json_array_size(t) > 1)
        json_object_set_new(o, "Type", string_list(t));
    else
        json_object_set_new(o, "Type", json_string(""));
    json_object_set_new(o, "Items", any_or_null(p ? json_object_get(p, "items") : NULL));
    json_object_set_new(o, "Description", str_or(p ? json_object_get(p, "description") : NULL));
    json_t *en = p ? json_object_get(p, "enum") : NULL;
    json_object_set_new(o, "Enum", json_is_array(en) ? prompt_go_any(en, 0) : json_array());
    json_object_set_new(o, "Properties",
                        property_map(p ? json_object_get(p, "properties") : NULL, depth));
    json_object_set_new(o, "Required", string_list(p ? json_object_get(p, "required") : NULL));
    return o;
}

int prompt_tmpl_tools(const json_t *tools, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!tools || json_is_null(tools)) {
        *out = json_null();
        return 0;
    }
    if (!json_is_array(tools))
        return om_err(err, errlen, OM_EINVAL, "tools: expected an array");
    json_t *arr = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *fn = json_object_get(t, "function");
        if (!json_is_object(t) || (fn && !json_is_object(fn))) {
            json_decref(arr);
            return om_err(err, errlen, OM_EINVAL, "tools[%zu]: expected {type, function:{...}}", i);
        }
        json_t *params = json_object_get(fn, "parameters");
        if (params && !json_is_object(params) && !json_is_null(params)) {
            json_decref(arr);
            return om_err(err, errlen, OM_EINVAL,
                          "tools[%zu].function.parameters: expected an object", i);
        }
        json_t *tool = go_struct("Tool");
        json_object_set_new(tool, "Type", str_or(json_object_get(t, "type")));
        json_object_set_new(tool, "Items", any_or_null(json_object_get(t, "items")));
        json_t *f = go_struct("ToolFunction");
        json_object_set_new(f, "Name", str_or(json_object_get(fn, "name")));
        json_object_set_new(f, "Description", str_or(json_object_get(fn, "description")));
        json_t *p = go_struct("ToolParams");
        json_object_set_new(p, "Type", str_or(json_object_get(params, "type")));
        json_object_set_new(p, "Defs", any_or_null(json_object_get(params, "$defs")));
        json_object_set_new(p, "Items", any_or_null(json_object_get(params, "items")));
        json_object_set_new(p, "Required", string_list(json_object_get(params, "required")));
        json_object_set_new(p, "Properties",
                            property_map(json_object_get(params, "properties"), 0));
        json_object_set_new(f, "Parameters", p);
        json_object_set_new(tool, "Function", f);
        json_array_append_new(arr, tool);
    }
    *out = arr;
    return 0;
}

json_t *prompt_chat_messages(const char *model_system, const json_t *model_messages,
                             const json_t *req_messages)
{
    json_t *a = json_array();
    json_t *first = json_array_get(req_messages, 0);
    const char *role = json_string_value(json_object_get(first, "role"));
    if (model_system && model_system[0] && !(role && strcasecmp(role, "system") == 0))
        json_array_append_new(a, json_pack("{s:s,s:s}", "role", "system", "content", model_system));
    size_t i;
    json_t *m;
    if (json_is_array(model_messages))
        json_array_foreach(model_messages, i, m) json_array_append(a, m);
    if (json_is_array(req_messages))
        json_array_foreach(req_messages, i, m) json_array_append(a, m);
    return a;
}

static const char *skip_space(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return s;
}

/* Content left after one pass of Ollama's thinking parser on the whole
 * string with <think> / </think>. NULL: unchanged. */
static char *strip_think(const char *c)
{
    static const char open[] = "<think>", close[] = "</think>";
    const char *t = skip_space(c);
    if (strncmp(t, open, sizeof(open) - 1) == 0) {
        const char *after = skip_space(t + sizeof(open) - 1);
        const char *end = strstr(after, close);
        if (!end)
            return om_xstrdup("");
        return om_xstrdup(skip_space(end + sizeof(close) - 1));
    }
    if (strncmp(open, t, strlen(t)) == 0) /* blank or a partial "<think>" */
        return om_xstrdup("");
    return NULL;
}

json_t *prompt_filter_think(const json_t *messages)
{
    if (!json_is_array(messages))
        return NULL;
    size_t n = json_array_size(messages), last_user = 0;
    bool have_user = false;
    for (size_t i = 0; i < n; i++) {
        const char *r = json_string_value(json_object_get(json_array_get(messages, i), "role"));
        if (r && strcasecmp(r, "user") == 0) {
            last_user = i;
            have_user = true;
        }
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        const char *r = json_string_value(json_object_get(m, "role"));
        const char *c = json_string_value(json_object_get(m, "content"));
        char *s = have_user && i < last_user && r && strcasecmp(r, "assistant") == 0 && c
                      ? strip_think(c)
                      : NULL;
        if (!s) {
            json_array_append(a, m);
            continue;
        }
        json_t *copy = json_copy(m);
        json_object_set_new(copy, "content", json_string(s));
        free(s);
        json_array_append_new(a, copy);
    }
    return a;
}
