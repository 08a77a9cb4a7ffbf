/* api: the output side of generate and chat — one code path produces
 * Ollama's streaming chunks, and this file delivers them as the client asked:
 *
 *   NDJSON  one JSON object per line (native default), status 200 sent with
 *           the first chunk, an error after that is a last {"error"} line;
 *   ONCE    native stream:false — text, thinking, tool calls and logprobs are
 *           accumulated and returned in the final object;
 *   OAI     /v1 shapes through the OpenAI converter, as SSE ("data: …",
 *           ending with "data: [DONE]") or one object.
 *
 * Nothing is sent before the first chunk, so errors found while loading the
 * model or building the prompt still get their real status code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/oai.h"
#include "base/om.h"

void api_out_init(struct api_out *o, http_req *req, enum api_out_mode mode, bool oai_stream,
                  struct oai_conv *conv)
{
    memset(o, 0, sizeof *o);
    o->req = req;
    o->mode = mode;
    o->oai_stream = oai_stream;
    o->conv = conv;
}

void api_out_free(struct api_out *o)
{
    json_decref(o->acc_text);
    json_decref(o->acc_thinking);
    json_decref(o->acc_calls);
    json_decref(o->acc_logprobs);
    if (o->conv)
        oai_conv_free(o->conv);
    if (o->resp)
        oai_resp_free(o->resp);
    o->resp = NULL;
    o->acc_text = o->acc_thinking = o->acc_calls = o->acc_logprobs = NULL;
    o->conv = NULL;
}

static int write_line(struct api_out *o, json_t *v, const char *prefix, const char *suffix)
{
    char *s = json_dumps(v, JSON_COMPACT);
    if (!s)
        return OM_EINVAL;
    size_t n = strlen(s), np = strlen(prefix), ns = strlen(suffix);
    char *buf = om_xmalloc(np + n + ns);
    memcpy(buf, prefix, np);
    memcpy(buf + np, s, n);
    memcpy(buf + np + n, suffix, ns);
    int rc = http_stream_write(o->req, buf, np + n + ns);
    free(buf);
    free(s);
    return rc;
}

static int start(struct api_out *o)
{
    if (o->started)
        return 0;
    o->started = true;
    bool sse = o->mode == API_OUT_OAI || o->mode == API_OUT_OAI_RESP;
    const char *ct = sse ? "text/event-stream" : "application/x-ndjson";
    if (sse) {
        http_add_header(o->req, "Cache-Control", "no-cache");
    }
    return http_stream_begin(o->req, 200, ct);
}

static void acc_str(json_t **acc, const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s || !*s)
        return;
    if (!*acc) {
        *acc = json_string(s);
        return;
    }
    size_t a = json_string_length(*acc), b = json_string_length(v);
    char *buf = om_xmalloc(a + b + 1);
    memcpy(buf, json_string_value(*acc), a);
    memcpy(buf + a, s, b);
    buf[a + b] = 0;
    json_string_setn_nocheck(*acc, buf, a + b);
    free(buf);
}

static void acc_arr(json_t **acc, const json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return;
    if (!*acc)
        *acc = json_array();
    json_array_extend(*acc, (json_t *)v);
}

/* Collects what a native chunk carries (generate: response/thinking at top
 * level; chat: inside message). */
static void accumulate(struct api_out *o, const json_t *chunk)
{
    const json_t *msg = json_object_get(chunk, "message");
    const json_t *src = msg ? msg : chunk;
    acc_str(&o->acc_text, json_object_get(src, msg ? "content" : "response"));
    acc_str(&o->acc_thinking, json_object_get(src, "thinking"));
    acc_arr(&o->acc_calls, json_object_get(src, "tool_calls"));
    acc_arr(&o->acc_logprobs, json_object_get(chunk, "logprobs"));
}

static int oai_events(struct api_out *o, json_t *events)
{
    int rc = 0;
    size_t i;
    json_t *ev;
    if (!o->oai_stream || !events)
        return 0;
    if ((rc = start(o)))
        return rc;
    json_array_foreach(events, i, ev) {
        if ((rc = write_line(o, ev, "data: ", "\n\n")))
            break;
    }
    return rc;
}

/* /v1/responses: [{event, data}] as named SSE events. */
static int resp_events(struct api_out *o, json_t *events)
{
    int rc = 0;
    size_t i;
    json_t *ev;
    if (!o->oai_stream || json_array_size(events) == 0)
        return 0;
    if ((rc = start(o)))
        return rc;
    json_array_foreach(events, i, ev) {
        size_t len = 0;
        char *s = oai_sse_format_event(json_string_value(json_object_get(ev, "event")),
                                       json_object_get(ev, "data"), &len);
        if (!s)
            continue;
        rc = http_stream_write(o->req, s, len);
        free(s);
        if (rc)
            break;
    }
    return rc;
}

static void observe_first(struct api_out *o, bool ok)
{
    if (!o->observe)
        return;
    o->observe(o->observe_ud, o->observe_id, (int64_t)(om_time_ns() - (uint64_t)o->observe_t0),
               ok);
    o->observe = NULL;
}

int api_out_chunk(struct api_out *o, json_t *chunk)
{
    int rc = 0;
    observe_first(o, true);
    if (o->ended) {
        json_decref(chunk);
        return OM_EIO;
    }
    switch (o->mode) {
    case API_OUT_NDJSON:
        if (!(rc = start(o)))
            rc = write_line(o, chunk, "", "\n");
        break;
    case API_OUT_ONCE:
        accumulate(o, chunk);
        rc = http_req_gone(o->req) ? OM_EIO : 0;
        break;
    case API_OUT_OAI: {
        json_t *events = NULL;
        rc = oai_conv_chunk(o->conv, chunk, &events);
        if (!rc)
            rc = oai_events(o, events);
        json_decref(events);
        if (!rc && !o->oai_stream && http_req_gone(o->req))
            rc = OM_EIO;
        break;
    }
    case API_OUT_OAI_RESP: {
        json_t *events = NULL;
        rc = oai_resp_chunk(o->resp, chunk, &events);
        if (!rc)
            rc = resp_events(o, events);
        json_decref(events);
        if (!rc && !o->oai_stream && http_req_gone(o->req))
            rc = OM_EIO;
        break;
    }
    }
    json_decref(chunk);
    return rc;
}

static void set_once_fields(struct api_out *o, json_t *chunk)
{
    json_t *msg = json_object_get(chunk, "message");
    json_t *dst = msg ? msg : chunk;
    const char *key = msg ? "content" : "response";
    json_object_set_new(dst, key, o->acc_text ? json_copy(o->acc_text) : json_string(""));
    if (o->acc_thinking)
        json_object_set(dst, "thinking", o->acc_thinking);
    if (o->acc_calls)
        json_object_set(dst, "tool_calls", o->acc_calls);
    if (o->acc_logprobs)
        json_object_set(chunk, "logprobs", o->acc_logprobs);
}

void api_out_final(struct api_out *o, json_t *chunk)
{
    observe_first(o, true);
    if (o->ended) {
        json_decref(chunk);
        return;
    }
    switch (o->mode) {
    case API_OUT_NDJSON:
        if (!start(o))
            write_line(o, chunk, "", "\n");
        http_stream_end(o->req);
        break;
    case API_OUT_ONCE:
        accumulate(o, chunk);
        set_once_fields(o, chunk);
        api_respond_json(o->req, 200, json_incref(chunk));
        break;
    case API_OUT_OAI: {
        json_t *events = NULL;
        oai_conv_chunk(o->conv, chunk, &events);
        if (o->oai_stream) {
            oai_events(o, events);
            json_decref(events);
            events = NULL;
            oai_conv_finish(o->conv, &events);
            oai_events(o, events);
            if (!start(o))
                http_stream_write(o->req, "data: [DONE]\n\n", 14);
            http_stream_end(o->req);
        } else {
            json_t *resp = NULL;
            if (oai_conv_response(o->conv, &resp) == 0 && resp)
                api_respond_json(o->req, 200, resp);
            else
                api_respond_json(o->req, 500, oai_error(500, "could not build the response"));
        }
        json_decref(events);
        break;
    }
    case API_OUT_OAI_RESP: {
        json_t *events = NULL;
        oai_resp_chunk(o->resp, chunk, &events);
        if (o->oai_stream) {
            resp_events(o, events);
            if (!o->started)
                start(o);
            http_stream_end(o->req);
        } else {
            json_t *resp = NULL;
            if (oai_resp_response(o->resp, &resp) == 0 && resp)
                api_respond_json(o->req, 200, resp);
            else
                api_respond_json(o->req, 500, oai_error(500, "could not build the response"));
        }
        json_decref(events);
        break;
    }
    }
    json_decref(chunk);
    o->ended = true;
}

void api_out_error(struct api_out *o, int status, const char *msg)
{
    if (o->ended)
        return;
    o->ended = true;
    if (o->mode == API_OUT_OAI_RESP && o->started) {
        json_t *e = oai_error(status, msg);
        size_t len = 0;
        char *s = oai_sse_format_event("error", json_object_get(e, "error"), &len);
        if (s)
            http_stream_write(o->req, s, len);
        free(s);
        json_decref(e);
        http_stream_end(o->req);
        return;
    }
    if (o->mode == API_OUT_OAI || o->mode == API_OUT_OAI_RESP) {
        json_t *e = oai_error(status, msg);
        if (o->started) {
            write_line(o, e, "data: ", "\n\n");
            http_stream_end(o->req);
            json_decref(e);
        } else {
            api_respond_json(o->req, status, e);
        }
        return;
    }
    if (o->started) {
        json_t *e = json_pack("{s:s}", "error", msg);
        write_line(o, e, "", "\n");
        json_decref(e);
        http_stream_end(o->req);
    } else {
        http_respond_error(o->req, status, msg);
    }
}
