/* oai_chat: /v1/chat/completions bodies -> /api/chat bodies, as Ollama's
 * openai.FromChatRequest: messages (string or part-array content, images as
 * data URIs, audio, assistant tool calls whose string arguments must parse
 * to an object, tool results named by tool_call_id), options with the
 * temperature/top_p defaults of 1.0, response_format -> format, reasoning
 * effort -> think, logprobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/oai_int.h"
#include "base/om.h"

static const char *const IMAGE_PREFIXES[] = {"data:image/jpeg;base64,", "data:image/jpg;base64,",
                                             "data:image/png;base64,", "data:image/webp;base64,",
                                             "data:;base64,"};

int oai_image_from_url(const char *url, json_t **b64, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
        return om_err(err, errlen, OM_EINVAL, "image URLs are not currently supported, please "
                      "use base64 encoded data instead");
    for (size_t i = 0; i < OM_ARRAY_LEN(IMAGE_PREFIXES); i++) {
        size_t n = strlen(IMAGE_PREFIXES[i]);
        if (strncmp(url, IMAGE_PREFIXES[i], n) == 0) {
            if (oai_b64_check(url + n, NULL) != 0)
                break;
            *b64 = json_string(url + n);
            return 0;
        }
    }
    return om_err(err, errlen, OM_EINVAL, "invalid image input");
}

/* assistant tool_calls (arguments as a JSON string) -> native tool calls */
static int tool_calls_to_native(const json_t *tcs, json_t **out, char *err, size_t errlen)
{
    *out = json_array();
    size_t i;
    json_t *tc;
    json_array_foreach(tcs, i, tc) {
        if (!json_is_object(tc))
            return oai_type_err(err, errlen, tc, "Message.messages.tool_calls", "openai.ToolCall");
        const char *id, *name, *args;
        json_t *fn = json_object_get(tc, "function"), *idx;
        int rc;
        if ((rc = oai_get_str(tc, "id", "ToolCall.messages.tool_calls", &id, err, errlen)) < 0 ||
            (rc = oai_get_num(tc, "index", "ToolCall.messages.tool_calls", true, &idx, err,
                              errlen)) < 0)
            return rc;
        if (fn && !json_is_null(fn) && !json_is_object(fn))
            return oai_type_err(err, errlen, fn, "ToolCall.messages.tool_calls.function",
                                "struct { Name string \"json:\\\"name\\\"\"; Arguments string "
                                "\"json:\\\"arguments\\\"\" }");
        if ((rc = oai_get_str(fn, "name", "ToolCall.messages.tool_calls.function", &name, err,
                              errlen)) < 0 ||
            (rc = oai_get_str(fn, "arguments", "ToolCall.messages.tool_calls.function", &args, err,
                              errlen)) < 0)
            return rc;
        json_t *a = args ? json_loads(args, JSON_DECODE_ANY, NULL) : NULL;
        if (!json_is_object(a)) {
            json_decref(a);
            return om_err(err, errlen, OM_EINVAL, "invalid tool call arguments");
        }
        json_t *nt = json_object();
        if (id && *id)
            json_object_set_new(nt, "id", json_string(id));
        json_object_set_new(nt, "function", json_pack("{s:i,s:s,s:o}", "index", 0, "name",
                                                      name ? name : "", "arguments", a));
        json_array_append_new(*out, nt);
    }
    return 0;
}

static const char *name_from_tool_call_id(const json_t *msgs, const char *id)
{
    for (size_t i = json_array_size(msgs); i-- > 0;) {
        json_t *tcs = json_object_get(json_array_get(msgs, i), "tool_calls");
        size_t k;
        json_t *tc;
        json_array_foreach(tcs, k, tc) {
            const char *tid = json_string_value(json_object_get(tc, "id"));
            if (tid && strcmp(tid, id) == 0) {
                const char *n =
                    json_string_value(json_object_get(json_object_get(tc, "function"), "name"));
                return n ? n : "";
            }
        }
    }
    return "";
}

static json_t *native_msg(const char *role, const char *content)
{
    return json_pack("{s:s,s:s}", "role", role, "content", content ? content : "");
}

static void set_str_nonempty(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

/* One part of an array content -> a native message; 0 or OM_EINVAL. */
static int content_part(const json_t *part, const char *role, json_t *out, char *err,
                        size_t errlen)
{
    const char *type = json_string_value(json_object_get(part, "type"));
    if (!json_is_object(part) || !type)
        return om_err(err, errlen, OM_EINVAL, "invalid message format");
    if (strcmp(type, "text") == 0) {
        const char *text = json_string_value(json_object_get(part, "text"));
        if (!text)
            return om_err(err, errlen, OM_EINVAL, "invalid message format");
        json_array_append_new(out, native_msg(role, text));
        return 0;
    }
    json_t *img = NULL;
    if (strcmp(type, "image_url") == 0) {
        json_t *iu = json_object_get(part, "image_url");
        const char *url = json_is_object(iu) ? json_string_value(json_object_get(iu, "url"))
                                             : json_string_value(iu);
        if (!url)
            return om_err(err, errlen, OM_EINVAL, "invalid message format");
        int rc = oai_image_from_url(url, &img, err, errlen);
        if (rc)
            return rc;
    } else if (strcmp(type, "input_audio") == 0) {
        json_t *ia = json_object_get(part, "input_audio");
        if (!json_is_object(ia))
            return om_err(err, errlen, OM_EINVAL, "invalid input_audio format");
        const char *data = json_string_value(json_object_get(ia, "data"));
        if (!data)
            return om_err(err, errlen, OM_EINVAL, "invalid input_audio format: missing data");
        if (oai_b64_check(data, NULL) != 0)
            return om_err(err, errlen, OM_EINVAL, "invalid input_audio base64 data: illegal "
                          "base64 data");
        img = json_string(data);
    } else {
        return om_err(err, errlen, OM_EINVAL, "invalid message format");
    }
    json_t *m = native_msg(role, "");
    json_object_set_new(m, "images", json_pack("[o]", img));
    json_array_append_new(out, m);
    return 0;
}

static int chat_message(const json_t *msgs, const json_t *msg, json_t *out, char *err,
                        size_t errlen)
{
    static const char st[] = "Message.messages";
    if (json_is_null(msg)) /* Go decodes null into an empty message */
        return om_err(err, errlen, OM_EINVAL, "invalid message content type: <nil>");
    if (!json_is_object(msg))
        return oai_type_err(err, errlen, msg, "ChatCompletionRequest.messages", "openai.Message");
    const char *role, *reasoning, *name, *tcid;
    int rc;
    if ((rc = oai_get_str(msg, "role", st, &role, err, errlen)) < 0 ||
        (rc = oai_get_str(msg, "reasoning", st, &reasoning, err, errlen)) < 0 ||
        (rc = oai_get_str(msg, "name", st, &name, err, errlen)) < 0 ||
        (rc = oai_get_str(msg, "tool_call_id", st, &tcid, err, errlen)) < 0)
        return rc;
    role = role ? role : "";
    json_t *tcs = json_object_get(msg, "tool_calls");
    if (json_is_null(tcs))
        tcs = NULL;
    if (tcs && !json_is_array(tcs))
        return oai_type_err(err, errlen, tcs, "Message.messages.tool_calls", "[]openai.ToolCall");
    const char *tool_name = NULL;
    if (strcasecmp(role, "tool") == 0) {
        tool_name = name;
        if ((!tool_name || !*tool_name) && tcid && *tcid)
            tool_name = name_from_tool_call_id(msgs, tcid);
    }
    json_t *ntc = NULL;
    if (tcs && (rc = tool_calls_to_native(tcs, &ntc, err, errlen)) != 0) {
        json_decref(ntc);
        return rc;
    }
    json_t *content = json_object_get(msg, "content");
    json_t *last = NULL;
    if (json_is_string(content)) {
        last = native_msg(role, json_string_value(content));
        json_array_append_new(out, last);
    } else if (json_is_array(content)) {
        size_t i, before = json_array_size(out);
        json_t *part;
        json_array_foreach(content, i, part) {
            if ((rc = content_part(part, role, out, err, errlen)) != 0) {
                json_decref(ntc);
                return rc;
            }
        }
        if (json_array_size(tcs) == 0) {
            json_decref(ntc);
            return 0;
        }
        if (json_array_size(out) == before)
            json_array_append_new(out, native_msg(role, ""));
        last = json_array_get(out, json_array_size(out) - 1);
    } else {
        if (!tcs) {
            const char *k = content ? oai_json_kind(content) : "<nil>";
            if (content && json_is_null(content))
                k = "<nil>";
            else if (json_is_number(content))
                k = "float64";
            else if (json_is_object(content))
                k = "map[string]interface {}";
            return om_err(err, errlen, OM_EINVAL, "invalid message content type: %s", k);
        }
        last = native_msg(role, "");
        json_array_append_new(out, last);
        tool_name = NULL; /* Ollama drops it on this path */
    }
    set_str_nonempty(last, "thinking", reasoning);
    if (json_array_size(ntc))
        json_object_set(last, "tool_calls", ntc);
    set_str_nonempty(last, "tool_name", tool_name);
    set_str_nonempty(last, "tool_call_id", tcid);
    json_decref(ntc);
    return 0;
}

/* tool_choice, which Ollama ignores, narrows the tools the model sees:
 * "none" hides them all, {"type":"function","function":{"name":X}} keeps
 * only X; "auto", "required" and anything else keep every tool (nothing can
 * force a call). Returns a new reference. */
static json_t *tools_for_choice(json_t *tools, const json_t *choice)
{
    const char *mode = json_string_value(choice);
    if (mode && strcmp(mode, "none") == 0)
        return json_array();
    const char *want =
        json_string_value(json_object_get(json_object_get(choice, "function"), "name"));
    if (!want)
        return json_incref(tools);
    json_t *kept = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *name =
            json_string_value(json_object_get(json_object_get(t, "function"), "name"));
        if (name && strcmp(name, want) == 0)
            json_array_append(kept, t);
    }
    if (json_array_size(kept) == 0) { /* unknown name: leave the tools alone */
        json_decref(kept);
        return json_incref(tools);
    }
    return kept;
}

int oai_think_from_effort(const char *e, json_t **think, char *err, size_t errlen)
{
    *think = NULL;
    if (!e || !*e)
        return 0;
    if (strcmp(e, "none") == 0)
        *think = json_false();
    else if (strcmp(e, "minimal") == 0)
        *think = json_string("low");
    else if (!strcmp(e, "low") || !strcmp(e, "medium") || !strcmp(e, "high") || !strcmp(e, "max"))
        *think = json_string(e);
    else if (!strcmp(e, "xhigh") || !strcmp(e, "ultra"))
        *think = json_string("max");
    else
        return om_err(err, errlen, OM_EINVAL, "invalid reasoning value: \"%s\" (must be "
                      "\"minimal\", \"low\", \"medium\", \"high\", \"xhigh\", \"ultra\", "
                      "\"max\", or \"none\")", e);
    return 0;
}

static int chat_build(const json_t *req, json_t *n, char *err, size_t errlen)
{
    static const char st[] = "ChatCompletionRequest";
    const char *model;
    int rc;
    if ((rc = oai_get_str(req, "model", st, &model, err, errlen)) < 0)
        return rc;
    json_object_set_new(n, "model", json_string(model ? model : ""));
    json_t *msgs = json_object_get(req, "messages");
    if (msgs && !json_is_null(msgs) && !json_is_array(msgs))
        return oai_type_err(err, errlen, msgs, "ChatCompletionRequest.messages",
                            "[]openai.Message");
    if (json_array_size(msgs) == 0)
        return om_err(err, errlen, OM_EINVAL, "[] is too short - 'messages'");
    json_t *out = json_array();
    json_object_set_new(n, "messages", out);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
        if ((rc = chat_message(msgs, m, out, err, errlen)) != 0)
            return rc;

    json_t *opt = json_object();
    json_object_set_new(n, "options", opt);
    json_t *stop = json_object_get(req, "stop");
    if (json_is_string(stop)) {
        json_object_set_new(opt, "stop", json_pack("[O]", stop));
    } else if (json_is_array(stop)) {
        json_t *s = json_array(), *e;
        json_array_foreach(stop, i, e)
            if (json_is_string(e))
                json_array_append(s, e);
        /* Go sends a nil list (null) here, which keeps the model's stops */
        if (json_array_size(s))
            json_object_set_new(opt, "stop", s);
        else
            json_decref(s);
    }
    if ((rc = oai_common_options(req, st, opt, err, errlen)) != 0)
        return rc;
    json_t *v;
    if ((rc = oai_get_num(req, "frequency_penalty", st, false, &v, err, errlen)) < 0)
        return rc;
    if (rc)
        json_object_set(opt, "frequency_penalty", v);
    if ((rc = oai_get_num(req, "presence_penalty", st, false, &v, err, errlen)) < 0)
        return rc;
    if (rc)
        json_object_set(opt, "presence_penalty", v);
    if ((rc = oai_get_num(req, "top_p", st, false, &v, err, errlen)) < 0)
        return rc;
    json_object_set_new(opt, "top_p", rc ? json_real(json_number_value(v)) : json_real(1.0));

    bool stream = false;
    if ((rc = oai_get_bool(req, "stream", st, &stream, err, errlen)) < 0)
        return rc;
    json_object_set_new(n, "stream", json_boolean(stream));

    json_t *rf = json_object_get(req, "response_format");
    if (json_is_object(rf)) {
        const char *t = json_string_value(json_object_get(rf, "type"));
        char tl[32] = "";
        if (t) {
            while (*t == ' ' || *t == '\t' || *t == '\n')
                t++;
            snprintf(tl, sizeof(tl), "%s", t);
            for (char *c = tl; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
            for (size_t k = strlen(tl); k && (tl[k - 1] == ' ' || tl[k - 1] == '\n'); k--)
                tl[k - 1] = 0;
        }
        json_t *js = json_object_get(rf, "json_schema");
        if (strcmp(tl, "json_object") == 0)
            json_object_set_new(n, "format", json_string("json"));
        else if (strcmp(tl, "json_schema") == 0 && json_is_object(js) &&
                 json_object_get(js, "schema"))
            json_object_set(n, "format", json_object_get(js, "schema"));
    }
    json_t *tools = json_object_get(req, "tools");
    if (tools && !json_is_null(tools)) {
        if (!json_is_array(tools))
            return oai_type_err(err, errlen, tools, "ChatCompletionRequest.tools", "api.Tools");
        json_t *kept = tools_for_choice(tools, json_object_get(req, "tool_choice"));
        if (json_array_size(kept))
            json_object_set(n, "tools", kept);
        json_decref(kept);
    }
    const char *effort = NULL;
    json_t *reasoning = json_object_get(req, "reasoning");
    if (json_is_object(reasoning)) {
        rc = oai_get_str(reasoning, "effort", "Reasoning.reasoning", &effort, err, errlen);
        if (rc < 0)
            return rc;
    } else if ((rc = oai_get_str(req, "reasoning_effort", st, &effort, err, errlen)) < 0) {
        return rc;
    }
    json_t *think;
    if ((rc = oai_think_from_effort(effort, &think, err, errlen)) != 0)
        return rc;
    if (think)
        json_object_set_new(n, "think", think);
    bool lp = false;
    if ((rc = oai_get_bool(req, "logprobs", st, &lp, err, errlen)) < 0)
        return rc;
    if (lp)
        json_object_set_new(n, "logprobs", json_true());
    if ((rc = oai_get_num(req, "top_logprobs", st, true, &v, err, errlen)) < 0)
        return rc;
    if (rc && json_integer_value(v) != 0)
        json_object_set(n, "top_logprobs", v);
    bool dbg = false;
    if ((rc = oai_get_bool(req, "_debug_render_only", st, &dbg, err, errlen)) < 0)
        return rc;
    if (dbg)
        json_object_set_new(n, "_debug_render_only", json_true());
    return 0;
}

int oai_chat_to_native(const json_t *req, json_t **native, char *err, size_t errlen)
{
    *native = NULL;
    if (!json_is_object(req))
        return om_err(err, errlen, OM_EINVAL, "json: cannot unmarshal %s into Go value of type "
                      "openai.ChatCompletionRequest", req ? oai_json_kind(req) : "null");
    json_t *n = json_object();
    int rc = chat_build(req, n, err, errlen);
    if (rc) {
        json_decref(n);
        return rc;
    }
    *native = n;
    return 0;
}
