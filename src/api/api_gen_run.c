/* api: the scheduler side of generate/chat — building the prompt once the
 * model's tokenizer is loaded (Go TEMPLATE through prompt_chat, or the GGUF's
 * Jinja chat_template when the model has no TEMPLATE), the sampling options,
 * stop strings and grammar; then turning generated text into Ollama chunks
 * (thinking split, tool calls, logprobs) and the final metrics chunk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_gen_int.h"
#include "base/om.h"
#include "engine/tok.h"
#include "prompt/gram.h"
#include "prompt/jinja.h"
#include "prompt/parse.h"
#include "prompt/prompt.h"
#include "prompt/tmpl.h"
#include "store/models.h"

int64_t api_option_int(const json_t *opts, const char *key, int64_t def)
{
    const json_t *v = json_object_get(opts, key);
    return json_is_number(v) ? (int64_t)json_number_value(v) : def;
}

static void opt_f(const json_t *o, const char *k, float *dst)
{
    const json_t *v = json_object_get(o, k);
    if (json_is_number(v))
        *dst = (float)json_number_value(v);
}

void api_options_sampling(const json_t *o, struct smp_params *p)
{
    *p = smp_params_default();
    opt_f(o, "temperature", &p->temperature);
    opt_f(o, "top_p", &p->top_p);
    opt_f(o, "min_p", &p->min_p);
    opt_f(o, "typical_p", &p->typical_p);
    opt_f(o, "repeat_penalty", &p->repeat_penalty);
    opt_f(o, "presence_penalty", &p->presence_penalty);
    opt_f(o, "frequency_penalty", &p->frequency_penalty);
    p->top_k = (int32_t)api_option_int(o, "top_k", p->top_k);
    p->repeat_last_n = (int32_t)api_option_int(o, "repeat_last_n", p->repeat_last_n);
    p->seed = api_option_int(o, "seed", p->seed);
}

struct count_ctx {
    const struct tok_vocab *v;
};

static int count_tokens(void *ud, const char *text, size_t len)
{
    struct count_ctx *c = ud;
    size_t n = 0;
    int rc = tok_encode(c->v, text, len, 1, 1, NULL, 0, &n);
    if (rc && rc != OM_ERANGE)
        return rc;
    return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}

/* Native messages → Hugging Face's chat-template message shape. */
static json_t *hf_messages(const json_t *msgs)
{
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        json_t *h = json_object();
        json_object_set(h, "role", json_object_get(m, "role"));
        json_object_set(h, "content", json_object_get(m, "content"));
        const json_t *th = json_object_get(m, "thinking");
        if (json_is_string(th) && *json_string_value(th))
            json_object_set(h, "reasoning_content", (json_t *)th);
        const json_t *tn = json_object_get(m, "tool_name");
        if (json_is_string(tn))
            json_object_set(h, "name", (json_t *)tn);
        const json_t *tid = json_object_get(m, "tool_call_id");
        if (json_is_string(tid))
            json_object_set(h, "tool_call_id", (json_t *)tid);
        const json_t *calls = json_object_get(m, "tool_calls");
        if (json_array_size(calls) > 0) {
            json_t *hc = json_array();
            size_t j;
            json_t *c;
            json_array_foreach(calls, j, c) {
                const json_t *fn = json_object_get(c, "function");
                json_t *e = json_pack("{s:s,s:{s:O?,s:O?}}", "type", "function", "function", "name",
                                      json_object_get(fn, "name"), "arguments",
                                      json_object_get(fn, "arguments"));
                if (json_is_string(json_object_get(c, "id")))
                    json_object_set(e, "id", json_object_get(c, "id"));
                if (e)
                    json_array_append_new(hc, e);
            }
            json_object_set_new(h, "tool_calls", hc);
        }
        json_array_append_new(out, h);
    }
    return out;
}

static char *render_jinja(struct api_gen *g, const json_t *msgs, const struct tok_vocab *v,
                          int32_t n_ctx, char *err, size_t errlen)
{
    struct jinja *j = NULL;
    if (jinja_parse(g->mi->chat_template, strlen(g->mi->chat_template), &j, err, errlen))
        return NULL;
    size_t eos_len = 0;
    const char *eos = tok_eos(v) >= 0 ? tok_piece(v, tok_eos(v), 1, &eos_len) : "";
    json_t *extra = json_object();
    if (g->think >= 0)
        json_object_set_new(extra, "enable_thinking", json_boolean(g->think == 1));
    json_t *hm = hf_messages(msgs);
    char *out = NULL;
    struct count_ctx cc = {v};
    for (;;) {
        free(out);
        out = NULL;
        size_t len = 0;
        /* bos_token is left empty: the tokenizer adds BOS as the vocabulary says */
        if (jinja_render_chat(j, hm, g->tools, true, "", eos, extra, &out, &len, err, errlen))
            break;
        if (!g->truncate || n_ctx <= 0 || count_tokens(&cc, out, len) <= n_ctx)
            break;
        /* drop the oldest non-system message, keeping the last one */
        size_t i, n = json_array_size(hm);
        bool dropped = false;
        for (i = 0; i + 1 < n; i++) {
            const char *r = json_string_value(json_object_get(json_array_get(hm, i), "role"));
            if (r && strcmp(r, "system")) {
                json_array_remove(hm, i);
                dropped = true;
                break;
            }
        }
        if (!dropped)
            break;
    }
    json_decref(hm);
    json_decref(extra);
    jinja_free(j);
    return out;
}

/* Tool-call prefix for a model rendered through its Jinja template. */
static const char *jinja_tool_prefix(const char *tpl)
{
    if (strstr(tpl, "<tool_call>"))
        return "<tool_call>";
    if (strstr(tpl, "[TOOL_CALLS]"))
        return "[TOOL_CALLS]";
    if (strstr(tpl, "<|python_tag|>"))
        return "<|python_tag|>";
    return "{";
}

/* Renders the request's prompt text (malloc'd) and sets up the output parser. */
static char *build_prompt(struct api_gen *g, const struct sched_model_info *info, char *err,
                          size_t errlen)
{
    const struct tok_vocab *v = info->vocab;
    bool raw = g->kind == API_GEN_GENERATE && g->raw;
    json_t *msgs = NULL;
    if (raw)
        msgs = NULL;
    else if (g->kind == API_GEN_GENERATE)
        msgs = prompt_generate_messages(g->system, g->m->system, g->m->messages,
                                        json_array_size(g->context) > 0, g->prompt);
    else
        msgs = json_incref(g->messages);
    char *text = NULL;
    struct tmpl *t = NULL;
    char *think_open = NULL, *think_close = NULL, *tool_prefix = NULL;
    bool jinja = !raw && !g->template_src && g->mi->chat_template && !g->suffix;
    if (raw) {
        text = om_xstrdup(g->prompt);
    } else if (jinja) {
        text = render_jinja(g, msgs, v, info->n_ctx, err, errlen);
        if (g->tools)
            tool_prefix = om_xstrdup(jinja_tool_prefix(g->mi->chat_template));
    } else {
        const char *src = g->template_src ? g->template_src : "{{ .Prompt }}";
        if (tmpl_parse(src, strlen(src), &t, err, errlen) == 0) {
            struct count_ctx cc = {v};
            /* generate renders .Tools as [] (Ollama passes an empty list) */
            json_t *no_tools = g->kind == API_GEN_GENERATE ? json_array() : NULL;
            struct prompt_chat_in in = {
                .tmpl = t, .messages = msgs, .tools = no_tools ? no_tools : g->tools,
                .suffix = g->suffix,
                .think = g->think, .think_level = g->think_level[0] ? g->think_level : NULL,
                .truncate = g->truncate, .num_ctx = info->n_ctx,
                .count_tokens = count_tokens, .count_ud = &cc,
            };
            size_t len;
            if (prompt_chat(&in, &text, &len, NULL, err, errlen))
                text = NULL;
            json_decref(no_tools);
            if (tmpl_think_tags(t, &think_open, &think_close) != 0) {
                free(think_open); /* "" when not found: the parser's defaults apply */
                free(think_close);
                think_open = think_close = NULL;
            }
            if (g->tools)
                tmpl_tool_prefix(t, &tool_prefix); /* "{" when the template shows none */
        }
    }
    json_decref(msgs);
    if (text && g->kind == API_GEN_GENERATE && json_array_size(g->context) > 0) {
        /* the deprecated context: the previous exchange's tokens, as text */
        size_t n = json_array_size(g->context), cap = n * tok_max_piece_len(v) + 1, len = 0;
        int32_t *ids = om_xmalloc(n * sizeof *ids);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            json_int_t id = json_integer_value(json_array_get(g->context, i));
            if (id >= 0 && id < tok_n_vocab(v))
                ids[k++] = (int32_t)id;
        }
        char *prev = om_xmalloc(cap + strlen(text) + 1);
        if (tok_decode(v, ids, k, 0, prev, cap, &len) == 0) {
            strcpy(prev + len, text);
            free(text);
            text = prev;
        } else {
            free(prev);
        }
        free(ids);
    }
    if (text) {
        struct parse_cfg pc = {
            .think_open = think_open, .think_close = think_close,
            .think_enabled = g->think == 1, .tool_prefix = tool_prefix, .tools = g->tools,
        };
        pc.think_open_at_start =
            g->think == 1 && parse_prompt_opens_think(text, strlen(text), think_open);
        if (parse_new(&pc, &g->parser)) {
            free(text);
            text = NULL;
            om_err(err, errlen, OM_EINVAL, "could not set up the output parser");
        }
    }
    free(think_open);
    free(think_close);
    free(tool_prefix);
    tmpl_free(t);
    return text;
}

int api_gen_prepare(void *ud, const struct sched_model_info *info, struct sched_prompt *out,
                    char *err, size_t errlen)
{
    struct api_gen *g = ud;
    g->vocab = info->vocab;
    char *text = build_prompt(g, info, err, errlen);
    if (!text)
        return OM_EINVAL;
    if (g->debug_render) { /* answered in api_gen_done; nothing is decoded */
        g->debug_text = text;
        return om_err(err, errlen, OM_ECANCELED, "rendered only");
    }
    size_t len = strlen(text), n = 0;
    int rc = tok_encode(info->vocab, text, len, 1, 1, NULL, 0, &n);
    if (rc && rc != OM_ERANGE) {
        free(text);
        return om_err(err, errlen, rc, "tokenize: %s", om_strerror(rc));
    }
    int32_t *toks = malloc((n ? n : 1) * sizeof *toks);
    if (!toks || tok_encode(info->vocab, text, len, 1, 1, toks, n, &n)) {
        free(toks);
        free(text);
        return om_err(err, errlen, OM_ENOMEM, "tokenize failed");
    }
    free(text);
    int32_t num_keep = (int32_t)api_option_int(g->options, "num_keep", 4);
    if (num_keep < 0)
        num_keep = 0;
    g->n_prompt = (int32_t)n;
    if (g->n_resume > 0) { /* a resumed stream: what was generated follows the prompt */
        rc = api_gen_resume_replay(g, info->vocab, json_object_get(g->options, "stop"), err,
                                   errlen);
        if (rc || g->n_resume >= (size_t)info->n_ctx) {
            free(toks);
            return rc ? rc : om_err(err, errlen, OM_EINVAL,
                                    "_om_resume has %zu tokens, the context only %d",
                                    g->n_resume, (int)info->n_ctx);
        }
        toks = om_xrealloc(toks, (n + g->n_resume) * sizeof *toks);
        memcpy(toks + n, g->resume, g->n_resume * sizeof *toks);
        n += g->n_resume;
    }
    if ((int64_t)n >= info->n_ctx) {
        if (!g->truncate) {
            free(toks);
            return om_err(err, errlen, OM_EINVAL,
                          "the input length exceeds the context length (%zu > %d)", n,
                          (int)info->n_ctx);
        }
        /* keep num_keep tokens, drop from after them (Ollama's runner) */
        size_t keep = (size_t)num_keep < n ? (size_t)num_keep : 0;
        size_t target = (size_t)info->n_ctx - 1 - (size_t)info->n_ctx / 4;
        if (target <= keep)
            target = keep + 1;
        if (target - keep < g->n_resume) {
            free(toks);
            return om_err(err, errlen, OM_EINVAL,
                          "the resumed stream does not fit the context (%d)", (int)info->n_ctx);
        }
        size_t discard = n - target;
        memmove(toks + keep, toks + keep + discard, (n - keep - discard) * sizeof *toks);
        n = target;
    }
    out->tokens = toks;
    out->n_tokens = (int32_t)n;
    api_options_sampling(g->options, &out->sampling);
    out->num_predict = (int32_t)api_option_int(g->options, "num_predict", -1);
    out->num_keep = num_keep;
    out->shift = g->shift;
    const json_t *stop = json_object_get(g->options, "stop");
    size_t ns = json_array_size(stop);
    if (ns > 0) {
        out->stop = om_xcalloc(ns, sizeof *out->stop);
        for (size_t i = 0; i < ns; i++) {
            const char *s = json_string_value(json_array_get(stop, i));
            if (s)
                out->stop[out->n_stop++] = om_xstrdup(s);
        }
    }
    if (g->format) {
        char gerr[256] = "empty format";
        struct gram *gr = NULL;
        char *fmt = json_dumps(g->format, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = fmt ? gram_new_format(fmt, strlen(fmt), &gr, gerr, sizeof gerr) : OM_EINVAL;
        free(fmt);
        if (rc || !gr)
            return om_err(err, errlen, OM_EINVAL, "invalid format: %s", gerr);
        out->grammar = gr;
    }
    out->logprobs = g->logprobs || g->top_logprobs > 0;
    out->top_logprobs = g->top_logprobs;
    out->return_tokens = g->kind == API_GEN_GENERATE && !g->raw;
    out->n_resume = (int32_t)g->n_resume;
    out->every_token = g->forwarded;
    return 0;
}

static json_t *bytes_array(const char *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer((unsigned char)s[i]));
    return a;
}

static json_t *logprob_entry(const struct tok_vocab *v, int32_t id, float lp)
{
    size_t n = 0;
    const char *s = tok_piece(v, id, 0, &n);
    json_t *e = json_object();
    json_object_set_new(e, "token", json_stringn_nocheck(s, n));
    json_object_set_new(e, "logprob", json_real(lp));
    json_object_set_new(e, "bytes", bytes_array(s, n));
    return e;
}

static json_t *new_chunk(struct api_gen *g)
{
    char ts[64];
    api_time_utc(api_now_ns(), ts, sizeof ts);
    json_t *c = json_pack("{s:s,s:s}", "model", g->model_name, "created_at", ts);
    if (g->kind == API_GEN_CHAT)
        json_object_set_new(c, "message", json_pack("{s:s,s:s}", "role", "assistant", "content", ""));
    else
        json_object_set_new(c, "response", json_string(""));
    return c;
}

/* Puts parser output into a chunk; returns whether it carries anything. */
static bool fill_chunk(struct api_gen *g, json_t *c, struct parse_out *po)
{
    json_t *dst = g->kind == API_GEN_CHAT ? json_object_get(c, "message") : c;
    bool any = false;
    if (po->content_len) {
        json_object_set_new(dst, g->kind == API_GEN_CHAT ? "content" : "response",
                            json_stringn_nocheck(po->content, po->content_len));
        any = true;
    }
    if (po->thinking_len) {
        json_object_set_new(dst, "thinking", json_stringn_nocheck(po->thinking, po->thinking_len));
        any = true;
    }
    if (po->tool_calls && json_array_size(po->tool_calls) > 0) {
        json_object_set(dst, "tool_calls", po->tool_calls);
        any = true;
    }
    return any;
}

int api_gen_piece(void *ud, const char *text, size_t len, const struct sched_piece *info)
{
    struct api_gen *g = ud;
    if (g->forwarded && info)
        api_gen_tokens_push(g, info->token);
    struct parse_out po = {0};
    parse_feed(g->parser, text, len, &po);
    json_t *c = new_chunk(g);
    bool any = fill_chunk(g, c, &po);
    parse_out_clear(&po);
    if (info && (g->logprobs || g->top_logprobs > 0) && g->vocab) {
        json_t *e = logprob_entry(g->vocab, info->token, info->logprob);
        if (info->n_top > 0) {
            json_t *top = json_array();
            for (int i = 0; i < info->n_top; i++)
                json_array_append_new(top, logprob_entry(g->vocab, info->top[i].id,
                                                         info->top[i].logprob));
            json_object_set_new(e, "top_logprobs", top);
        }
        json_object_set_new(c, "logprobs", json_pack("[o]", e));
        any = true;
    }
    if (!any) {
        json_decref(c);
        return http_req_gone(g->req) ? 1 : 0;
    }
    json_object_set_new(c, "done", json_false());
    api_gen_tokens_attach(g, c);
    return api_out_chunk(&g->out, c) ? 1 : 0;
}

static void set_ns(json_t *c, const char *k, int64_t v)
{
    if (v > 0)
        json_object_set_new(c, k, json_integer(v));
}

void api_gen_done(void *ud, const struct sched_result *res)
{
    struct api_gen *g = ud;
    pthread_mutex_lock(&g->mu);
    g->done = true;
    pthread_mutex_unlock(&g->mu);
    http_req_on_gone(g->req, NULL, NULL);
    if (res->rc == 0 && g->parser) {
        struct parse_out po = {0};
        parse_finish(g->parser, &po);
        json_t *c = new_chunk(g);
        if (fill_chunk(g, c, &po)) {
            json_object_set_new(c, "done", json_false());
            api_gen_tokens_attach(g, c);
            api_out_chunk(&g->out, c);
        } else {
            json_decref(c);
        }
        parse_out_clear(&po);
    }
    if (g->debug_text) {
        json_t *c = new_chunk(g);
        json_object_set_new(c, "done", json_true());
        json_object_set_new(c, "_debug_info",
                            json_pack("{s:s}", "rendered_template", g->debug_text));
        api_out_final(&g->out, c);
    } else if (res->rc) {
        int status = res->rc == OM_EINVAL ? 400 : res->rc == OM_ECANCELED ? 499 : 500;
        api_out_error(&g->out, status, res->error ? res->error : om_strerror(res->rc));
    } else if (res->reason == SCHED_DONE_LOAD) {
        api_out_final(&g->out, api_gen_special_reply(g, "load"));
    } else {
        json_t *c = new_chunk(g);
        json_object_set_new(c, "done", json_true());
        json_object_set_new(c, "done_reason",
                            json_string(res->reason == SCHED_DONE_LENGTH ? "length" : "stop"));
        if (res->tokens && res->n_tokens > 0) {
            json_t *ctx = json_array();
            for (int32_t i = 0; i < res->n_tokens; i++)
                json_array_append_new(ctx, json_integer(res->tokens[i]));
            json_object_set_new(c, "context", ctx);
        }
        set_ns(c, "total_duration", (int64_t)(om_time_ns() - g->t_start));
        set_ns(c, "load_duration", res->load_ns);
        /* resumed: the original prompt's count (eval_count has the resumed tokens) */
        set_ns(c, "prompt_eval_count", g->n_resume ? g->n_prompt : res->prompt_eval_count);
        set_ns(c, "prompt_eval_duration", res->prompt_eval_ns);
        set_ns(c, "eval_count", res->eval_count);
        set_ns(c, "eval_duration", res->eval_ns);
        api_gen_tokens_attach(g, c);
        api_out_final(&g->out, c);
    }
    api_gen_free(g);
}

void api_gen_free(struct api_gen *g)
{
    if (!g)
        return;
    if (g->job)
        sched_job_release(g->job);
    api_out_free(&g->out);
    parse_free(g->parser);
    store_model_free(g->m);
    json_decref(g->options);
    json_decref(g->messages);
    json_decref(g->body);
    free(g->model_name);
    free(g->debug_text);
    free(g->resume);
    free(g->pend);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
