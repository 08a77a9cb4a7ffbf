/* oai_resp_req: /v1/responses request bodies -> /api/chat bodies, as
 * Ollama's openai.FromResponsesRequest.
 *
 * Input items become chat messages in order. A reasoning item's
 * encrypted_content is held and given as thinking to the next assistant
 * message (or to a trailing assistant message of its own). A function_call
 * joins the preceding assistant message, or opens one; an assistant message
 * replayed between a function_call and its function_call_output is folded
 * into the message holding that call, so that the tool result follows the
 * call it answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/oai_int.h"
#include "base/om.h"

struct sbuf {
    char *s;
    size_t len;
};

static void sbuf_add(struct sbuf *b, const char *t)
{
    size_t n = strlen(t);
    b->s = om_xrealloc(b->s, b->len + n + 1);
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
}

/* Content parts (or a string) -> text and images; 0 or OM_EINVAL. */
static int convert_content(const json_t *content, const char *where, struct sbuf *text,
                           json_t *images, char *err, size_t errlen)
{
    if (!content || json_is_null(content))
        return 0;
    if (json_is_string(content)) {
        sbuf_add(text, json_string_value(content));
        return 0;
    }
    if (!json_is_array(content))
        return om_err(err, errlen, OM_EINVAL, "%s must be a string or array: json: cannot "
                      "unmarshal %s into Go value of type []json.RawMessage", where,
                      oai_json_kind(content));
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        const char *type = json_string_value(json_object_get(part, "type"));
        type = type ? type : "";
        if (!strcmp(type, "input_text") || !strcmp(type, "output_text")) {
            const char *t = json_string_value(json_object_get(part, "text"));
            sbuf_add(text, t ? t : "");
        } else if (!strcmp(type, "input_image")) {
            const char *url = json_string_value(json_object_get(part, "image_url"));
            if (!url || !*url)
                continue; /* file_id images are not supported */
            json_t *img;
            int rc = oai_image_from_url(url, &img, err, errlen);
            if (rc)
                return rc;
            json_array_append_new(images, img);
        } else if (!strcmp(type, "input_file")) {
            return om_err(err, errlen, OM_EINVAL, "file inputs are not currently supported");
        } else {
            return om_err(err, errlen, OM_EINVAL, "%s[%zu]: unknown content type: %s",
                          strcmp(where, "output") == 0 ? "output" : "content", i, type);
        }
    }
    return 0;
}

static json_t *new_msg(const char *role, const struct sbuf *text, json_t *images)
{
    json_t *m = json_pack("{s:s,s:s}", "role", role, "content", text->s ? text->s : "");
    if (json_array_size(images))
        json_object_set(m, "images", images);
    return m;
}

static void set_thinking(json_t *msg, char **pending)
{
    if (*pending && **pending) {
        json_object_set_new(msg, "thinking", json_string(*pending));
        free(*pending);
        *pending = NULL;
    }
}

/* Does the assistant message last hold a tool call with this id? */
static bool holds_call(const json_t *last, const char *call_id)
{
    size_t i;
    json_t *tc;
    json_array_foreach(json_object_get(last, "tool_calls"), i, tc) {
        const char *id = json_string_value(json_object_get(tc, "id"));
        if (id && strcmp(id, call_id) == 0)
            return true;
    }
    return false;
}

static int input_message(const json_t *items, size_t i, const json_t *item, json_t *msgs,
                         char **pending, char *err, size_t errlen)
{
    const char *role = json_string_value(json_object_get(item, "role"));
    role = role ? role : "";
    struct sbuf text = {0};
    json_t *images = json_array();
    char where[64];
    snprintf(where, sizeof(where), "input[%zu]: content", i);
    int rc = convert_content(json_object_get(item, "content"), where, &text, images, err,
                             errlen);
    if (rc == OM_EINVAL && strncmp(err, "content[", 8) == 0) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "input[%zu]: %s", i, err);
        snprintf(err, errlen, "%s", tmp);
    }
    if (rc) {
        free(text.s);
        json_decref(images);
        return rc;
    }
    bool assistant = strcmp(role, "assistant") == 0;
    json_t *next = json_array_get(items, i + 1);
    const char *next_type = json_string_value(json_object_get(next, "type"));
    const char *out_call = next_type && strcmp(next_type, "function_call_output") == 0
                               ? json_string_value(json_object_get(next, "call_id"))
                               : NULL;
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    const char *last_role = json_string_value(json_object_get(last, "role"));
    if (assistant && out_call && *out_call && last_role && !strcmp(last_role, "assistant") &&
        holds_call(last, out_call)) {
        const char *lc = json_string_value(json_object_get(last, "content"));
        struct sbuf merged = {0};
        sbuf_add(&merged, lc ? lc : "");
        if (merged.len && text.len)
            sbuf_add(&merged, "\n");
        sbuf_add(&merged, text.s ? text.s : "");
        json_object_set_new(last, "content", json_string(merged.s));
        free(merged.s);
        if (json_array_size(images)) {
            json_t *li = json_object_get(last, "images");
            if (!li)
                json_object_set(last, "images", images);
            else
                json_array_extend(li, images);
        }
        set_thinking(last, pending);
    } else {
        json_t *m = new_msg(role, &text, images);
        if (assistant)
            set_thinking(m, pending);
        json_array_append_new(msgs, m);
    }
    free(text.s);
    json_decref(images);
    return 0;
}

static int function_call(const json_t *item, json_t *msgs, char **pending, char *err,
                         size_t errlen)
{
    const char *args = json_string_value(json_object_get(item, "arguments"));
    json_t *a;
    if (args && *args) {
        json_error_t je;
        a = json_loads(args, JSON_DECODE_ANY, &je);
        if (!json_is_object(a)) {
            json_decref(a);
            return om_err(err, errlen, OM_EINVAL, "failed to parse function call arguments: %s",
                          a ? "arguments must be a JSON object" : je.text);
        }
    } else {
        a = json_object();
    }
    const char *call_id = json_string_value(json_object_get(item, "call_id"));
    const char *name = json_string_value(json_object_get(item, "name"));
    json_t *tc = json_object();
    if (call_id && *call_id)
        json_object_set_new(tc, "id", json_string(call_id));
    json_object_set_new(tc, "function", json_pack("{s:i,s:s,s:o}", "index", 0, "name",
                                                  name ? name : "", "arguments", a));
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    const char *last_role = json_string_value(json_object_get(last, "role"));
    if (!last_role || strcmp(last_role, "assistant") != 0) {
        last = json_pack("{s:s,s:s}", "role", "assistant", "content", "");
        json_array_append_new(msgs, last);
    }
    json_t *tcs = json_object_get(last, "tool_calls");
    if (!tcs) {
        tcs = json_array();
        json_object_set_new(last, "tool_calls", tcs);
    }
    json_array_append_new(tcs, tc);
    set_thinking(last, pending);
    return 0;
}

static int function_call_output(size_t i, const json_t *item, json_t *msgs, char *err,
                                size_t errlen)
{
    struct sbuf text = {0};
    json_t *images = json_array();
    char where[64];
    snprintf(where, sizeof(where), "output");
    int rc = convert_content(json_object_get(item, "output"), where, &text, images, err, errlen);
    if (rc) {
        if (strncmp(err, "output", 6) == 0) {
            char tmp[256];
            snprintf(tmp, sizeof(tmp), "input[%zu]: %s", i, err);
            snprintf(err, errlen, "%s", tmp);
        }
        free(text.s);
        json_decref(images);
        return rc;
    }
    json_t *m = new_msg("tool", &text, images);
    const char *call_id = json_string_value(json_object_get(item, "call_id"));
    if (call_id && *call_id)
        json_object_set_new(m, "tool_call_id", json_string(call_id));
    json_array_append_new(msgs, m);
    free(text.s);
    json_decref(images);
    return 0;
}

static int input_items(const json_t *items, json_t *msgs, char *err, size_t errlen)
{
    char *pending = NULL;
    int rc = 0;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        const char *type = json_string_value(json_object_get(item, "type"));
        const char *role = json_string_value(json_object_get(item, "role"));
        if ((!type || !*type) && role && *role)
            type = "message";
        if (!type || !*type) {
            rc = om_err(err, errlen, OM_EINVAL, "input[%zu]: input item missing required "
                        "'type' field", i);
        } else if (!strcmp(type, "message")) {
            rc = input_message(items, i, item, msgs, &pending, err, errlen);
        } else if (!strcmp(type, "function_call")) {
            rc = function_call(item, msgs, &pending, err, errlen);
        } else if (!strcmp(type, "function_call_output")) {
            rc = function_call_output(i, item, msgs, err, errlen);
        } else if (!strcmp(type, "reasoning")) {
            const char *enc = json_string_value(json_object_get(item, "encrypted_content"));
            free(pending);
            pending = om_xstrdup(enc ? enc : "");
        } else if (strcmp(type, "web_search_call") != 0) {
            rc = om_err(err, errlen, OM_EINVAL, "input[%zu]: unknown input item type: \"%s\"",
                        i, type);
        }
        if (rc)
            break;
    }
    if (!rc && pending && *pending)
        json_array_append_new(msgs, json_pack("{s:s,s:s,s:s}", "role", "assistant", "content",
                                              "", "thinking", pending));
    free(pending);
    return rc;
}

/* A function tool, or a namespace's members as "ns.name" functions. */
static void add_tools(const json_t *t, const char *prefix, json_t *out)
{
    const char *type = json_string_value(json_object_get(t, "type"));
    const char *name = json_string_value(json_object_get(t, "name"));
    type = type ? type : "";
    name = name ? name : "";
    if (!strcmp(type, "web_search"))
        return; /* runs on ollama.com: not available here */
    if (!strcmp(type, "namespace")) {
        char p[256];
        snprintf(p, sizeof(p), "%s%s%s", prefix, name, *name ? "." : "");
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(t, "tools"), i, m)
            add_tools(m, p, out);
        return;
    }
    char full[512];
    size_t pl = strlen(prefix);
    if (pl && strncmp(name, prefix, pl) != 0)
        snprintf(full, sizeof(full), "%s%s", prefix, name);
    else
        snprintf(full, sizeof(full), "%s", name);
    const char *desc = json_string_value(json_object_get(t, "description"));
    json_t *fn = json_pack("{s:s,s:s}", "name", full, "description", desc ? desc : "");
    json_t *params = json_object_get(t, "parameters");
    if (json_is_object(params))
        json_object_set(fn, "parameters", params);
    json_array_append_new(out, json_pack("{s:s,s:o}", "type", type, "function", fn));
}

static int responses_build(const json_t *req, json_t *n, char *err, size_t errlen)
{
    static const char st[] = "ResponsesRequest";
    const char *model, *instructions;
    int rc;
    if ((rc = oai_get_str(req, "model", st, &model, err, errlen)) < 0 ||
        (rc = oai_get_str(req, "instructions", st, &instructions, err, errlen)) < 0)
        return rc;
    json_object_set_new(n, "model", json_string(model ? model : ""));
    json_t *msgs = json_array();
    json_object_set_new(n, "messages", msgs);
    if (instructions && *instructions)
        json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content",
                                              instructions));
    json_t *input = json_object_get(req, "input");
    if (json_is_string(input)) {
        if (json_string_length(input))
            json_array_append_new(msgs, json_pack("{s:s,s:O}", "role", "user", "content",
                                                  input));
    } else if (json_is_array(input)) {
        if ((rc = input_items(input, msgs, err, errlen)) != 0)
            return rc;
    } else if (input && !json_is_null(input)) {
        return om_err(err, errlen, OM_EINVAL, "input must be a string or array: json: cannot "
                      "unmarshal %s into Go value of type []json.RawMessage",
                      oai_json_kind(input));
    }
    json_t *opt = json_object(), *v;
    json_object_set_new(n, "options", opt);
    if ((rc = oai_get_num(req, "temperature", st, false, &v, err, errlen)) < 0)
        return rc;
    json_object_set_new(opt, "temperature", json_real(rc ? json_number_value(v) : 1.0));
    if ((rc = oai_get_num(req, "top_p", st, false, &v, err, errlen)) < 0)
        return rc;
    if (rc)
        json_object_set_new(opt, "top_p", json_real(json_number_value(v)));
    if ((rc = oai_get_num(req, "max_output_tokens", st, true, &v, err, errlen)) < 0)
        return rc;
    if (rc)
        json_object_set(opt, "num_predict", v);
    const char *effort = NULL;
    json_t *reasoning = json_object_get(req, "reasoning");
    if (json_is_object(reasoning) &&
        (rc = oai_get_str(reasoning, "effort", "ResponsesReasoning.reasoning", &effort, err,
                          errlen)) < 0)
        return rc;
    json_t *think;
    if ((rc = oai_think_from_effort(effort, &think, err, errlen)) != 0)
        return rc;
    if (think)
        json_object_set_new(n, "think", think);
    json_t *tools = json_object_get(req, "tools");
    if (tools && !json_is_null(tools) && !json_is_array(tools))
        return oai_type_err(err, errlen, tools, "ResponsesRequest.tools",
                            "[]openai.ResponsesTool");
    json_t *nt = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
        add_tools(t, "", nt);
    if (json_array_size(nt))
        json_object_set(n, "tools", nt);
    json_decref(nt);
    json_t *fmt = json_object_get(json_object_get(req, "text"), "format");
    const char *ftype = json_string_value(json_object_get(fmt, "type"));
    if (ftype && !strcmp(ftype, "json_schema") && json_object_get(fmt, "schema") &&
        !json_is_null(json_object_get(fmt, "schema")))
        json_object_set(n, "format", json_object_get(fmt, "schema"));
    bool stream = false;
    if ((rc = oai_get_bool(req, "stream", st, &stream, err, errlen)) < 0)
        return rc;
    json_object_set_new(n, "stream", json_boolean(stream));
    return 0;
}

int oai_responses_to_native(const json_t *req, json_t **native, char *err, size_t errlen)
{
    *native = NULL;
    if (!json_is_object(req))
        return om_err(err, errlen, OM_EINVAL, "json: cannot unmarshal %s into Go value of type "
                      "openai.ResponsesRequest", req ? oai_json_kind(req) : "null");
    json_t *n = json_object();
    int rc = responses_build(req, n, err, errlen);
    if (rc) {
        json_decref(n);
        return rc;
    }
    *native = n;
    return 0;
}
