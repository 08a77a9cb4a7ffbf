/* oai_conv: native answers -> OpenAI chat.completion(.chunk) and
 * text_completion objects, as Ollama's ChatWriter / CompleteWriter do it.
 *
 * Stream invariants (chat): every chunk carries the id and the `created` of
 * the first native chunk; the first emitted delta has role "assistant"; a
 * native chunk with thinking and content/tool calls becomes a reasoning-only
 * chunk then a content/tool-calls chunk (logprobs stay on the first); the
 * metrics-only done trailer emits nothing (unless nothing was emitted yet);
 * the finish chunk (empty delta) comes from oai_conv_finish, then the usage
 * chunk. finish_reason "stop" becomes "tool_calls" once a tool call was sent.
 * Every chunk fed is also accumulated for the stream:false answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/oai_int.h"
#include "base/om.h"

struct sbuf {
    char *s;
    size_t len, cap;
};

static void sbuf_add(struct sbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (!n)
        return;
    if (b->len + n + 1 > b->cap) {
        b->cap = OM_MAX(b->cap * 2, b->len + n + 1);
        b->s = om_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

struct oai_conv {
    enum oai_kind kind;
    char id[32];
    bool stream, include_usage;
    char *req_model;
    char enc[OAI_ENCODING_MAX];
    int64_t created;
    bool created_set, first_sent, tool_call_sent;
    /* accumulated */
    struct sbuf content, thinking;
    json_t *tool_calls, *logprobs, *embed;
    char *model, *role, *done_reason;
    bool done;
    json_int_t prompt_n, eval_n;
};

struct oai_conv *oai_conv_new(enum oai_kind kind, const json_t *req)
{
    struct oai_conv *c = om_xcalloc(1, sizeof(*c));
    c->kind = kind;
    snprintf(c->id, sizeof(c->id), "%s-%d", kind == OAI_CHAT ? "chatcmpl" : "cmpl",
             oai_rand_id());
    c->stream = kind != OAI_EMBED && json_is_true(json_object_get(req, "stream"));
    c->include_usage =
        json_is_true(json_object_get(json_object_get(req, "stream_options"), "include_usage"));
    const char *m = json_string_value(json_object_get(req, "model"));
    c->req_model = om_xstrdup(m ? m : "");
    const char *enc = json_string_value(json_object_get(req, "encoding_format"));
    snprintf(c->enc, sizeof(c->enc), "%s", enc && strcasecmp(enc, "base64") == 0 ? "base64"
                                                                                 : "float");
    c->tool_calls = json_array();
    c->logprobs = json_array();
    return c;
}

void oai_conv_free(struct oai_conv *c)
{
    if (!c)
        return;
    free(c->req_model);
    free(c->content.s);
    free(c->thinking.s);
    json_decref(c->tool_calls);
    json_decref(c->logprobs);
    json_decref(c->embed);
    free(c->model);
    free(c->role);
    free(c->done_reason);
    free(c);
}

bool oai_conv_stream(const struct oai_conv *c)
{
    return c->stream;
}

const char *oai_conv_id(const struct oai_conv *c)
{
    return c->id;
}

static void set_str(char **dst, const char *v)
{
    if (v) {
        free(*dst);
        *dst = om_xstrdup(v);
    }
}

static const char *model_of(const struct oai_conv *c)
{
    return c->model ? c->model : c->req_model;
}

json_t *oai_tool_calls_from_native(const json_t *native)
{
    json_t *out = json_array();
    size_t i;
    json_t *tc;
    json_array_foreach(native, i, tc) {
        json_t *fn = json_object_get(tc, "function");
        const char *id = json_string_value(json_object_get(tc, "id"));
        const char *name = json_string_value(json_object_get(fn, "name"));
        json_t *args = json_object_get(fn, "arguments");
        char *a = args ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_array_append_new(
            out, json_pack("{s:s,s:I,s:s,s:{s:s,s:s}}", "id", id ? id : "", "index",
                           json_integer_value(json_object_get(fn, "index")), "type", "function",
                           "function", "name", name ? name : "", "arguments", a ? a : "null"));
        free(a);
    }
    return out;
}

static json_t *chunk_base(struct oai_conv *c, const char *object)
{
    return json_pack("{s:s,s:s,s:I,s:s,s:s}", "id", c->id, "object", object, "created",
                     (json_int_t)c->created, "model", model_of(c), "system_fingerprint",
                     "fp_ollama");
}

static json_t *finish_value(const char *reason)
{
    return reason && *reason ? json_string(reason) : json_null();
}

/* Takes the common fields of a native chunk into the accumulators. */
static void absorb(struct oai_conv *c, const json_t *n)
{
    if (!c->created_set) {
        int64_t t;
        c->created = oai_parse_time(json_string_value(json_object_get(n, "created_at")), &t)
                         ? t
                         : (int64_t)time(NULL);
        c->created_set = true;
    }
    set_str(&c->model, json_string_value(json_object_get(n, "model")));
    json_t *lp = json_object_get(n, "logprobs");
    if (json_is_array(lp))
        json_array_extend(c->logprobs, lp);
    if (json_is_true(json_object_get(n, "done"))) {
        c->done = true;
        set_str(&c->done_reason, json_string_value(json_object_get(n, "done_reason")));
        c->prompt_n = json_integer_value(json_object_get(n, "prompt_eval_count"));
        c->eval_n = json_integer_value(json_object_get(n, "eval_count"));
    }
}

static json_t *chat_chunk(struct oai_conv *c, bool role, const char *content,
                          const char *reasoning, const json_t *tcs, const json_t *lp)
{
    json_t *ch = chunk_base(c, "chat.completion.chunk");
    json_t *delta = json_object();
    if (role)
        json_object_set_new(delta, "role", json_string("assistant"));
    if (content)
        json_object_set_new(delta, "content", json_string(content));
    if (reasoning && *reasoning)
        json_object_set_new(delta, "reasoning", json_string(reasoning));
    if (json_array_size(tcs)) {
        json_object_set_new(delta, "tool_calls", oai_tool_calls_from_native(tcs));
        c->tool_call_sent = true;
    }
    json_t *choice = json_pack("{s:i,s:o,s:n}", "index", 0, "delta", delta, "finish_reason");
    if (json_array_size(lp))
        json_object_set_new(choice, "logprobs", json_pack("{s:O}", "content", lp));
    json_object_set_new(ch, "choices", json_pack("[o]", choice));
    return ch;
}

static void chat_events(struct oai_conv *c, const json_t *n, json_t *ev)
{
    json_t *msg = json_object_get(n, "message");
    const char *content = json_string_value(json_object_get(msg, "content"));
    const char *thinking = json_string_value(json_object_get(msg, "thinking"));
    json_t *tcs = json_object_get(msg, "tool_calls");
    json_t *lp = json_object_get(n, "logprobs");
    content = content ? content : "";
    thinking = thinking ? thinking : "";
    set_str(&c->role, json_string_value(json_object_get(msg, "role")));
    sbuf_add(&c->content, content);
    sbuf_add(&c->thinking, thinking);
    if (json_is_array(tcs))
        json_array_extend(c->tool_calls, tcs);
    if (!c->stream)
        return;
    bool trailer = json_is_true(json_object_get(n, "done")) && c->first_sent && !*content &&
                   !*thinking && !json_array_size(tcs) && !json_array_size(lp);
    if (trailer)
        return;
    bool role = !c->first_sent;
    if (*thinking && (*content || json_array_size(tcs))) {
        json_array_append_new(ev, chat_chunk(c, role, NULL, thinking, NULL, lp));
        json_array_append_new(ev, chat_chunk(c, false, content, NULL, tcs, NULL));
    } else {
        json_array_append_new(ev, chat_chunk(c, role, content, thinking, tcs, lp));
    }
    c->first_sent = true;
}

static json_t *completion_chunk(struct oai_conv *c, const char *text, const char *reason,
                                const json_t *lp)
{
    json_t *choice = json_pack("{s:s,s:i,s:o}", "text", text, "index", 0, "finish_reason",
                               finish_value(reason));
    if (json_array_size(lp))
        json_object_set_new(choice, "logprobs", json_pack("{s:O}", "content", lp));
    json_t *ch = json_pack("{s:s,s:s,s:I,s:[o],s:s,s:s}", "id", c->id, "object",
                           "text_completion", "created", (json_int_t)c->created, "choices",
                           choice, "model", model_of(c), "system_fingerprint", "fp_ollama");
    return ch;
}

static json_t *usage(const struct oai_conv *c)
{
    json_int_t total; /* saturating: counts come from the native chunk */
    if (__builtin_add_overflow(c->prompt_n, c->eval_n, &total))
        total = c->prompt_n > 0 ? INT64_MAX : INT64_MIN;
    return json_pack("{s:I,s:I,s:I}", "prompt_tokens", c->prompt_n, "completion_tokens",
                     c->eval_n, "total_tokens", total);
}

int oai_conv_chunk(struct oai_conv *c, const json_t *n, json_t **out_events)
{
    *out_events = NULL;
    if (!json_is_object(n) || json_object_get(n, "error"))
        return OM_EINVAL;
    json_t *ev = json_array();
    absorb(c, n);
    if (c->kind == OAI_CHAT) {
        chat_events(c, n, ev);
    } else if (c->kind == OAI_COMPLETION) {
        const char *text = json_string_value(json_object_get(n, "response"));
        sbuf_add(&c->content, text);
        if (c->stream) {
            const char *reason = json_is_true(json_object_get(n, "done"))
                                     ? json_string_value(json_object_get(n, "done_reason"))
                                     : NULL;
            json_t *ch = completion_chunk(c, text ? text : "", reason,
                                          json_object_get(n, "logprobs"));
            if (c->include_usage)
                json_object_set_new(ch, "usage", json_pack("{s:i,s:i,s:i}", "prompt_tokens", 0,
                                                           "completion_tokens", 0,
                                                           "total_tokens", 0));
            json_array_append_new(ev, ch);
        }
    } else {
        json_decref(c->embed);
        c->embed = json_deep_copy(n);
    }
    *out_events = ev;
    return 0;
}

int oai_conv_finish(struct oai_conv *c, json_t **out_events)
{
    json_t *ev = json_array();
    *out_events = ev;
    if (!c->created_set) {
        c->created = (int64_t)time(NULL);
        c->created_set = true;
    }
    if (c->kind == OAI_CHAT) {
        const char *reason = c->done_reason && *c->done_reason ? c->done_reason : "stop";
        if (strcmp(reason, "stop") == 0 && c->tool_call_sent)
            reason = "tool_calls";
        json_t *ch = chunk_base(c, "chat.completion.chunk");
        json_object_set_new(ch, "choices",
                            json_pack("[{s:i,s:{},s:s}]", "index", 0, "delta", "finish_reason",
                                      reason));
        json_array_append_new(ev, ch);
        if (c->include_usage) {
            ch = chunk_base(c, "chat.completion.chunk");
            json_object_set_new(ch, "choices", json_array());
            json_object_set_new(ch, "usage", usage(c));
            json_array_append_new(ev, ch);
        }
    } else if (c->kind == OAI_COMPLETION && c->include_usage) {
        json_t *ch = json_pack("{s:s,s:s,s:I,s:[],s:s,s:s}", "id", c->id, "object",
                               "text_completion", "created", (json_int_t)c->created, "choices",
                               "model", model_of(c), "system_fingerprint", "fp_ollama");
        json_object_set_new(ch, "usage", usage(c));
        json_array_append_new(ev, ch);
    }
    return 0;
}

int oai_conv_response(struct oai_conv *c, json_t **resp)
{
    *resp = NULL;
    if (c->kind == OAI_EMBED) {
        *resp = oai_embed_response(c->embed, c->enc, c->req_model);
        return 0;
    }
    if (!c->created_set) {
        c->created = (int64_t)time(NULL);
        c->created_set = true;
    }
    const char *content = c->content.s ? c->content.s : "";
    if (c->kind == OAI_COMPLETION) {
        json_t *r = completion_chunk(c, content, c->done_reason, c->logprobs);
        /* key order of Ollama's Completion: choices after system_fingerprint */
        json_t *choices = json_incref(json_object_get(r, "choices"));
        json_object_del(r, "choices");
        json_object_set_new(r, "choices", choices);
        json_object_set_new(r, "usage", usage(c));
        *resp = r;
        return 0;
    }
    json_t *tcs = oai_tool_calls_from_native(c->tool_calls);
    const char *reason = c->done_reason;
    if (reason && strcmp(reason, "stop") == 0 && json_array_size(tcs))
        reason = "tool_calls";
    json_t *msg = json_pack("{s:s,s:s}", "role", c->role ? c->role : "assistant", "content",
                            content);
    if (c->thinking.len)
        json_object_set_new(msg, "reasoning", json_string(c->thinking.s));
    if (json_array_size(tcs))
        json_object_set(msg, "tool_calls", tcs);
    json_decref(tcs);
    json_t *choice = json_pack("{s:i,s:o,s:o}", "index", 0, "message", msg, "finish_reason",
                               finish_value(reason));
    if (json_array_size(c->logprobs))
        json_object_set_new(choice, "logprobs", json_pack("{s:O}", "content", c->logprobs));
    json_t *r = json_pack("{s:s,s:s,s:I,s:s,s:s,s:[o],s:o}", "id", c->id, "object",
                          "chat.completion", "created", (json_int_t)c->created, "model",
                          model_of(c), "system_fingerprint", "fp_ollama", "choices", choice,
                          "usage", usage(c));
    *resp = r;
    return 0;
}
