/* oai_resp: native /api/chat answers -> Responses API objects and SSE
 * events, as Ollama's openai.ToResponse and ResponsesStreamConverter.
 *
 * Stream invariants: the first chunk opens with response.created and
 * response.in_progress; every event carries "type" (its name) and a
 * sequence_number counting from 0; thinking opens a reasoning item (with
 * its summary part, which Ollama leaves out but the SDKs' accumulators
 * need) that is closed (text done, part done, item done) before anything
 * else is emitted;
 * tool calls become complete function_call items at once (added, arguments
 * delta and done, item done) and stop further text; text opens a message
 * item with one output_text part, closed before any later item; every item
 * has its own output_index, in emission order; the done chunk closes the
 * open items and ends with response.completed carrying the whole output
 * (in output_index order) and the usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/oai_int.h"
#include "base/om.h"

struct sbuf {
    char *s;
    size_t len;
};

static void sbuf_add(struct sbuf *b, const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (!n)
        return;
    b->s = om_xrealloc(b->s, b->len + n + 1);
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
}

static void sbuf_clear(struct sbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = 0;
}

static const char *sbuf_str(const struct sbuf *b)
{
    return b->s ? b->s : "";
}

struct oai_resp {
    char resp_id[32], item_id[32], rs_id[32];
    bool stream;
    json_t *req;
    int64_t created;
    bool created_set;
    /* stream state */
    bool first_write, content_started, tool_calls_sent, reasoning_started;
    int output_index, seq;
    struct sbuf text, thinking;
    json_t *completed_items;
    /* whole answer */
    struct sbuf all_content, all_thinking;
    json_t *all_tool_calls;
    json_int_t prompt_n, eval_n;
};

static int rand_big(void)
{
    return oai_rand_id() * 1000 + oai_rand_id();
}

struct oai_resp *oai_resp_new(const json_t *oai_req)
{
    struct oai_resp *r = om_xcalloc(1, sizeof(*r));
    snprintf(r->resp_id, sizeof(r->resp_id), "resp_%d", rand_big());
    snprintf(r->item_id, sizeof(r->item_id), "msg_%d", rand_big());
    r->req = json_is_object(oai_req) ? json_deep_copy(oai_req) : json_object();
    r->stream = json_is_true(json_object_get(r->req, "stream"));
    r->first_write = true;
    r->completed_items = json_array();
    r->all_tool_calls = json_array();
    return r;
}

void oai_resp_free(struct oai_resp *r)
{
    if (!r)
        return;
    json_decref(r->req);
    sbuf_clear(&r->text);
    sbuf_clear(&r->thinking);
    json_decref(r->completed_items);
    sbuf_clear(&r->all_content);
    sbuf_clear(&r->all_thinking);
    json_decref(r->all_tool_calls);
    free(r);
}

bool oai_resp_stream(const struct oai_resp *r)
{
    return r->stream;
}

char *oai_sse_format_event(const char *name, const json_t *data, size_t *len)
{
    char *j = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!j)
        j = om_xstrdup("{}");
    size_t n = strlen(name) + strlen(j) + sizeof("event: \ndata: \n\n");
    char *out = om_xmalloc(n);
    int k = snprintf(out, n, "event: %s\ndata: %s\n\n", name, j);
    free(j);
    if (len)
        *len = (size_t)k;
    return out;
}

/* ---- the response object (echoing the request) ---- */

static json_t *or_null(json_t *v)
{
    return v ? json_incref(v) : json_null();
}

static json_t *response_object(struct oai_resp *r, const char *status, json_t *output,
                               json_t *usage, bool streamed)
{
    const json_t *q = r->req;
    const char *instr = json_string_value(json_object_get(q, "instructions"));
    const char *trunc = json_string_value(json_object_get(q, "truncation"));
    json_t *tools = json_array(), *t;
    size_t i;
    json_array_foreach(json_object_get(q, "tools"), i, t) {
        json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:o}", "type", or_null(json_object_get(t, "type")),
                              "name", or_null(json_object_get(t, "name")), "description",
                              or_null(json_object_get(t, "description")), "strict",
                              or_null(json_object_get(t, "strict")), "parameters",
                              or_null(json_object_get(t, "parameters")));
        json_array_append_new(tools, o);
    }
    json_t *fmt = json_object_get(json_object_get(q, "text"), "format");
    json_t *text_format = json_object();
    const char *ftype = json_string_value(json_object_get(fmt, "type"));
    json_object_set_new(text_format, "type", json_string(ftype ? ftype : "text"));
    if (json_is_object(fmt)) {
        static const char *const keys[] = {"name", "schema", "strict"};
        for (size_t k = 0; k < OM_ARRAY_LEN(keys); k++) {
            json_t *v = json_object_get(fmt, keys[k]);
            if (v && !json_is_null(v) && !(json_is_string(v) && !json_string_length(v)))
                json_object_set(text_format, keys[k], v);
        }
    }
    json_t *rq = json_object_get(q, "reasoning");
    const char *effort = json_string_value(json_object_get(rq, "effort"));
    const char *summary = json_string_value(json_object_get(rq, "summary"));
    json_t *reasoning = json_null();
    if ((effort && *effort) || (summary && *summary)) {
        json_decref(reasoning);
        reasoning = json_object();
        if (effort && *effort)
            json_object_set_new(reasoning, "effort", json_string(effort));
        else if (streamed)
            json_object_set_new(reasoning, "effort", json_null());
        if (summary && *summary)
            json_object_set_new(reasoning, "summary", json_string(summary));
        else if (streamed)
            json_object_set_new(reasoning, "summary", json_null());
    }
    json_t *top_p = json_object_get(q, "top_p"), *temp = json_object_get(q, "temperature");
    json_t *mot = json_object_get(q, "max_output_tokens");
    int64_t created = streamed || !r->created_set ? (int64_t)time(NULL) : r->created;
    return json_pack(
        "{s:s,s:s,s:I,s:n,s:s,s:n,s:o,s:n,s:o,s:o,s:n,s:o,s:s,s:s,s:b,s:{s:o},s:f,s:i,s:i,s:i,"
        "s:f,s:o,s:o,s:o,s:n,s:b,s:b,s:s,s:{},s:n,s:n}",
        "id", r->resp_id, "object", "response", "created_at", (json_int_t)created,
        "completed_at", "status", status, "incomplete_details", "model",
        or_null(json_object_get(q, "model")), "previous_response_id", "instructions",
        instr && *instr ? json_string(instr) : json_null(), "output", output, "error", "tools",
        tools, "tool_choice", "auto", "truncation", trunc ? trunc : "disabled",
        "parallel_tool_calls", 1, "text", "format", text_format, "top_p",
        json_is_number(top_p) ? json_number_value(top_p) : 1.0, "presence_penalty", 0,
        "frequency_penalty", 0, "top_logprobs", 0, "temperature",
        json_is_number(temp) ? json_number_value(temp) : 1.0, "reasoning", reasoning, "usage",
        usage ? usage : json_null(), "max_output_tokens", json_is_integer(mot) ? json_incref(mot)
                                                                                : json_null(),
        "max_tool_calls", "store", 0, "background",
        json_is_true(json_object_get(q, "background")), "service_tier", "default", "metadata",
        "safety_identifier", "prompt_cache_key");
}

static json_t *usage_object(const struct oai_resp *r)
{
    json_int_t total; /* saturating: counts come from the native chunk */
    if (__builtin_add_overflow(r->prompt_n, r->eval_n, &total))
        total = r->prompt_n > 0 ? INT64_MAX : INT64_MIN;
    return json_pack("{s:I,s:I,s:I,s:{s:i},s:{s:i}}", "input_tokens", r->prompt_n,
                     "output_tokens", r->eval_n, "total_tokens", total,
                     "input_tokens_details", "cached_tokens", 0, "output_tokens_details",
                     "reasoning_tokens", 0);
}

static json_t *message_item(const char *id, const char *status, const char *text)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:[],s:[]}]}", "id", id, "type", "message",
                     "status", status, "role", "assistant", "content", "type", "output_text",
                     "text", text, "annotations", "logprobs");
}

static json_t *output_text_part(const char *text)
{
    return json_pack("{s:s,s:s,s:[],s:[]}", "type", "output_text", "text", text, "annotations",
                     "logprobs");
}

/* ---- stream events ---- */

/* Appends {"event": type, "data": data + type + sequence_number}. */
static void emit(struct oai_resp *r, json_t *ev, const char *type, json_t *data)
{
    json_object_set_new(data, "type", json_string(type));
    json_object_set_new(data, "sequence_number", json_integer(r->seq++));
    json_array_append_new(ev, json_pack("{s:s,s:o}", "event", type, "data", data));
}

static void finish_reasoning(struct oai_resp *r, json_t *ev)
{
    if (!r->reasoning_started)
        return;
    const char *th = sbuf_str(&r->thinking);
    json_t *item = json_pack("{s:s,s:s,s:[{s:s,s:s}],s:s}", "id", r->rs_id, "type", "reasoning",
                             "summary", "type", "summary_text", "text", th, "encrypted_content",
                             th);
    json_array_append(r->completed_items, item);
    emit(r, ev, "response.reasoning_summary_text.done",
         json_pack("{s:s,s:i,s:i,s:s}", "item_id", r->rs_id, "output_index", r->output_index,
                   "summary_index", 0, "text", th));
    emit(r, ev, "response.reasoning_summary_part.done",
         json_pack("{s:s,s:i,s:i,s:{s:s,s:s}}", "item_id", r->rs_id, "output_index",
                   r->output_index, "summary_index", 0, "part", "type", "summary_text", "text",
                   th));
    emit(r, ev, "response.output_item.done",
         json_pack("{s:i,s:o}", "output_index", r->output_index, "item", item));
    sbuf_clear(&r->thinking);
    r->reasoning_started = false;
    r->output_index++;
}

/* Closes the open message item (text done, part done, item done) so that a
 * later item gets its own output index; the next text opens a new message.
 * Ollama only does this around web searches: its plain path puts a tool
 * call after text at the message's index, which the SDKs' accumulators
 * reject ("missing content at index 0"). */
static void finish_message(struct oai_resp *r, json_t *ev)
{
    if (!r->content_started)
        return;
    const char *text = sbuf_str(&r->text);
    json_t *item = message_item(r->item_id, "completed", text);
    json_array_append(r->completed_items, item);
    emit(r, ev, "response.output_text.done",
         json_pack("{s:s,s:i,s:i,s:s,s:[]}", "item_id", r->item_id, "output_index",
                   r->output_index, "content_index", 0, "text", text, "logprobs"));
    emit(r, ev, "response.content_part.done",
         json_pack("{s:s,s:i,s:i,s:o}", "item_id", r->item_id, "output_index", r->output_index,
                   "content_index", 0, "part", output_text_part(text)));
    emit(r, ev, "response.output_item.done",
         json_pack("{s:i,s:o}", "output_index", r->output_index, "item", item));
    sbuf_clear(&r->text);
    r->content_started = false;
    r->output_index++;
    snprintf(r->item_id, sizeof(r->item_id), "msg_%s_%d", r->resp_id + 5, r->output_index);
}

static void stream_thinking(struct oai_resp *r, json_t *ev, const char *th)
{
    finish_message(r, ev);
    if (!r->reasoning_started) {
        r->reasoning_started = true;
        snprintf(r->rs_id, sizeof(r->rs_id), "rs_%d", rand_big());
        emit(r, ev, "response.output_item.added",
             json_pack("{s:i,s:{s:s,s:s,s:[]}}", "output_index", r->output_index, "item", "id",
                       r->rs_id, "type", "reasoning", "summary"));
        /* not sent by Ollama, but the SDKs' accumulators need the part */
        emit(r, ev, "response.reasoning_summary_part.added",
             json_pack("{s:s,s:i,s:i,s:{s:s,s:s}}", "item_id", r->rs_id, "output_index",
                       r->output_index, "summary_index", 0, "part", "type", "summary_text",
                       "text", ""));
    }
    sbuf_add(&r->thinking, th);
    emit(r, ev, "response.reasoning_summary_text.delta",
         json_pack("{s:s,s:i,s:i,s:s}", "item_id", r->rs_id, "output_index", r->output_index,
                   "summary_index", 0, "delta", th));
}

static void stream_tool_calls(struct oai_resp *r, json_t *ev, const json_t *native_tcs)
{
    finish_reasoning(r, ev);
    finish_message(r, ev);
    json_t *tcs = oai_tool_calls_from_native(native_tcs);
    size_t i;
    json_t *tc;
    json_array_foreach(tcs, i, tc) {
        int idx = r->output_index + (int)i;
        char id[48];
        snprintf(id, sizeof(id), "fc_%d_%zu", rand_big(), i);
        json_t *fn = json_object_get(tc, "function");
        const char *call_id = json_string_value(json_object_get(tc, "id"));
        const char *name = json_string_value(json_object_get(fn, "name"));
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        json_t *item = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", id, "type", "function_call",
                                 "status", "completed", "call_id", call_id, "name", name,
                                 "arguments", args);
        json_array_append(r->completed_items, item);
        emit(r, ev, "response.output_item.added",
             json_pack("{s:i,s:{s:s,s:s,s:s,s:s,s:s,s:s}}", "output_index", idx, "item", "id",
                       id, "type", "function_call", "status", "in_progress", "call_id", call_id,
                       "name", name, "arguments", ""));
        emit(r, ev, "response.function_call_arguments.delta",
             json_pack("{s:s,s:i,s:s}", "item_id", id, "output_index", idx, "delta", args));
        emit(r, ev, "response.function_call_arguments.done",
             json_pack("{s:s,s:i,s:s}", "item_id", id, "output_index", idx, "arguments", args));
        emit(r, ev, "response.output_item.done",
             json_pack("{s:i,s:o}", "output_index", idx, "item", item));
    }
    r->output_index += (int)json_array_size(tcs);
    json_decref(tcs);
    r->tool_calls_sent = true;
}

static void stream_text(struct oai_resp *r, json_t *ev, const char *text)
{
    finish_reasoning(r, ev);
    if (!r->content_started) {
        r->content_started = true;
        emit(r, ev, "response.output_item.added",
             json_pack("{s:i,s:{s:s,s:s,s:s,s:s,s:[]}}", "output_index", r->output_index,
                       "item", "id", r->item_id, "type", "message", "status", "in_progress",
                       "role", "assistant", "content"));
        emit(r, ev, "response.content_part.added",
             json_pack("{s:s,s:i,s:i,s:o}", "item_id", r->item_id, "output_index",
                       r->output_index, "content_index", 0, "part", output_text_part("")));
    }
    sbuf_add(&r->text, text);
    emit(r, ev, "response.output_text.delta",
         json_pack("{s:s,s:i,s:i,s:s,s:[]}", "item_id", r->item_id, "output_index",
                   r->output_index, "content_index", 0, "delta", text, "logprobs"));
}

static void stream_done(struct oai_resp *r, json_t *ev)
{
    finish_reasoning(r, ev);
    finish_message(r, ev);
    json_t *resp = response_object(r, "completed", json_deep_copy(r->completed_items),
                                   usage_object(r), true);
    json_object_set_new(resp, "completed_at", json_integer((json_int_t)time(NULL)));
    emit(r, ev, "response.completed", json_pack("{s:o}", "response", resp));
}

int oai_resp_chunk(struct oai_resp *r, const json_t *n, json_t **out_events)
{
    *out_events = NULL;
    if (!json_is_object(n) || json_object_get(n, "error"))
        return OM_EINVAL;
    json_t *ev = json_array();
    json_t *msg = json_object_get(n, "message");
    const char *content = json_string_value(json_object_get(msg, "content"));
    const char *thinking = json_string_value(json_object_get(msg, "thinking"));
    json_t *tcs = json_object_get(msg, "tool_calls");
    bool done = json_is_true(json_object_get(n, "done"));
    if (!r->created_set) {
        int64_t t;
        r->created = oai_parse_time(json_string_value(json_object_get(n, "created_at")), &t)
                         ? t
                         : (int64_t)time(NULL);
        r->created_set = true;
    }
    sbuf_add(&r->all_content, content);
    sbuf_add(&r->all_thinking, thinking);
    if (json_is_array(tcs))
        json_array_extend(r->all_tool_calls, tcs);
    if (done) {
        r->prompt_n = json_integer_value(json_object_get(n, "prompt_eval_count"));
        r->eval_n = json_integer_value(json_object_get(n, "eval_count"));
    }
    if (r->stream) {
        if (r->first_write) {
            r->first_write = false;
            emit(r, ev, "response.created",
                 json_pack("{s:o}", "response",
                           response_object(r, "in_progress", json_array(), NULL, true)));
            emit(r, ev, "response.in_progress",
                 json_pack("{s:o}", "response",
                           response_object(r, "in_progress", json_array(), NULL, true)));
        }
        if (thinking && *thinking)
            stream_thinking(r, ev, thinking);
        if (json_array_size(tcs))
            stream_tool_calls(r, ev, tcs);
        else if (!r->tool_calls_sent && content && *content)
            stream_text(r, ev, content);
        if (done)
            stream_done(r, ev);
    }
    *out_events = ev;
    return 0;
}

int oai_resp_response(struct oai_resp *r, json_t **resp)
{
    json_t *output = json_array();
    if (r->all_thinking.len) {
        char id[48];
        snprintf(id, sizeof(id), "rs_%s", r->resp_id);
        json_array_append_new(
            output, json_pack("{s:s,s:s,s:[{s:s,s:s}],s:s}", "id", id, "type", "reasoning",
                              "summary", "type", "summary_text", "text", r->all_thinking.s,
                              "encrypted_content", r->all_thinking.s));
    }
    if (json_array_size(r->all_tool_calls)) {
        json_t *tcs = oai_tool_calls_from_native(r->all_tool_calls), *tc;
        size_t i;
        json_array_foreach(tcs, i, tc) {
            char id[64];
            snprintf(id, sizeof(id), "fc_%s_%zu", r->resp_id, i);
            json_t *fn = json_object_get(tc, "function");
            json_t *item = json_pack("{s:s,s:s,s:s}", "id", id, "type", "function_call",
                                     "status", "completed");
            const char *call_id = json_string_value(json_object_get(tc, "id"));
            const char *args = json_string_value(json_object_get(fn, "arguments"));
            if (call_id && *call_id)
                json_object_set_new(item, "call_id", json_string(call_id));
            json_object_set(item, "name", json_object_get(fn, "name"));
            if (args && *args)
                json_object_set_new(item, "arguments", json_string(args));
            json_array_append_new(output, item);
        }
        json_decref(tcs);
    } else {
        json_array_append_new(output,
                              message_item(r->item_id, "completed", sbuf_str(&r->all_content)));
    }
    json_t *o = response_object(r, "completed", output, usage_object(r), false);
    json_object_set_new(o, "completed_at", json_integer((json_int_t)time(NULL)));
    *resp = o;
    return 0;
}
