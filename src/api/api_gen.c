/* api: /api/generate and /api/chat — request checks in Ollama's order and
 * with its messages and status codes (server/routes.go GenerateHandler,
 * ChatHandler), the load/unload special cases, and submission to the
 * scheduler. The prompt is built later, on the scheduler thread, once the
 * model's tokenizer is loaded (api_gen_run.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_gen_int.h"
#include "cluster/route.h"
#include "base/om.h"
#include "prompt/prompt.h"
#include "store/models.h"

/* Model params overlaid by request options, both typed. */
static int merge_options(const json_t *model_params, const json_t *req_opts, json_t **out,
                         char *err, size_t errlen)
{
    json_t *merged = json_object();
    if (model_params) {
        json_t *typed = NULL;
        if (store_options_check(model_params, &typed, err, errlen) == 0) {
            json_object_update(merged, typed);
            json_decref(typed);
        }
    }
    if (req_opts && !json_is_null(req_opts)) {
        if (!json_is_object(req_opts)) {
            json_decref(merged);
            return om_err(err, errlen, OM_EINVAL, "options must be an object");
        }
        json_t *typed = NULL;
        int rc = store_options_check(req_opts, &typed, err, errlen);
        if (rc) {
            json_decref(merged);
            return rc;
        }
        json_object_update(merged, typed);
        json_decref(typed);
    }
    *out = merged;
    return 0;
}

/* think: bool or one of the levels. */
static int parse_think(const json_t *v, int *think, char *level, size_t cap, char *err,
                       size_t errlen)
{
    *think = -1;
    level[0] = 0;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *think = json_is_true(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (s && (!strcmp(s, "low") || !strcmp(s, "medium") || !strcmp(s, "high") ||
              !strcmp(s, "max"))) {
        *think = 1;
        snprintf(level, cap, "%s", s);
        return 0;
    }
    if (s && (!strcmp(s, "true") || !strcmp(s, "false"))) {
        *think = !strcmp(s, "true");
        return 0;
    }
    return om_err(err, errlen, OM_EINVAL,
                  "invalid think value: must be a boolean or \"low\", \"medium\", \"high\" or "
                  "\"max\"");
}

static bool field_type_ok(const json_t *body, const char *key, json_type t)
{
    const json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return true;
    if (t == JSON_TRUE)
        return json_is_boolean(v);
    if (t == JSON_INTEGER)
        return json_is_number(v);
    return json_typeof(v) == t;
}

/* Go-decoder-like type checks for the fields we read. */
static int check_types(const json_t *body, enum api_gen_kind kind, char *err, size_t errlen)
{
    static const struct {
        const char *key;
        json_type t;
        int kinds; /* 1 generate, 2 chat */
    } f[] = {
        {"model", JSON_STRING, 3},  {"prompt", JSON_STRING, 1},   {"suffix", JSON_STRING, 1},
        {"system", JSON_STRING, 1}, {"template", JSON_STRING, 1}, {"raw", JSON_TRUE, 1},
        {"stream", JSON_TRUE, 3},   {"context", JSON_ARRAY, 1},   {"messages", JSON_ARRAY, 2},
        {"tools", JSON_ARRAY, 2},   {"logprobs", JSON_TRUE, 3},   {"top_logprobs", JSON_INTEGER, 3},
        {"truncate", JSON_TRUE, 3}, {"shift", JSON_TRUE, 3},      {"images", JSON_ARRAY, 1},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!(f[i].kinds & (kind == API_GEN_GENERATE ? 1 : 2)))
            continue;
        if (!field_type_ok(body, f[i].key, f[i].t))
            return om_err(err, errlen, OM_EINVAL,
                          "json: cannot unmarshal %s into Go struct field of type %s",
                          f[i].key, f[i].t == JSON_STRING ? "string"
                                    : f[i].t == JSON_TRUE ? "bool"
                                    : f[i].t == JSON_ARRAY ? "array" : "number");
    }
    return 0;
}

/* Chat messages as the template sees them: the request's checked (images
 * refused: no vision here), roles lower-cased, content "" when absent; then
 * the model's SYSTEM and MESSAGEs merged in as Ollama does
 * (prompt_chat_messages). */
static int chat_messages(const json_t *req_msgs, const struct store_model *m, json_t **out,
                         char *err, size_t errlen)
{
    json_t *msgs = json_array(); /* the request's, checked and normalised */
    size_t i;
    json_t *v;
    json_array_foreach(req_msgs, i, v) {
        if (!json_is_object(v)) {
            json_decref(msgs);
            return om_err(err, errlen, OM_EINVAL, "messages[%zu] must be an object", i);
        }
        const json_t *role = json_object_get(v, "role");
        const json_t *content = json_object_get(v, "content");
        if (!json_is_string(role)) {
            json_decref(msgs);
            return om_err(err, errlen, OM_EINVAL, "messages[%zu].role must be a string", i);
        }
        if (content && !json_is_null(content) && !json_is_string(content)) {
            json_decref(msgs);
            return om_err(err, errlen, OM_EINVAL,
                          "json: cannot unmarshal %s into Go struct field Message.messages.content "
                          "of type string", json_is_array(content) ? "array" : "value");
        }
        const json_t *imgs = json_object_get(v, "images");
        if (json_is_array(imgs) && json_array_size(imgs) > 0) {
            json_decref(msgs);
            return om_err(err, errlen, OM_EUNSUPPORTED,
                          "images are not supported: this server has no vision models");
        }
        json_t *c = json_deep_copy(v);
        char r[32];
        snprintf(r, sizeof r, "%s", json_string_value(role));
        for (char *p = r; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        json_object_set_new(c, "role", json_string(r));
        if (!json_is_string(json_object_get(c, "content")))
            json_object_set_new(c, "content", json_string(""));
        json_array_append_new(msgs, c);
    }
    *out = prompt_chat_messages(m->system, m->messages, msgs);
    json_decref(msgs);
    return 0;
}

static void respond_status(struct api_gen *g, int status, const char *msg)
{
    api_out_error(&g->out, status, msg);
}

/* Load-only and unload replies (a single object even when streaming). */
json_t *api_gen_special_reply(struct api_gen *g, const char *reason)
{
    char ts[64];
    api_time_utc(api_now_ns(), ts, sizeof ts);
    json_t *r = json_pack("{s:s,s:s}", "model", g->model_name, "created_at", ts);
    if (g->kind == API_GEN_CHAT)
        json_object_set_new(r, "message", json_pack("{s:s,s:s}", "role", "assistant", "content", ""));
    else
        json_object_set_new(r, "response", json_string(""));
    json_object_set_new(r, "done", json_true());
    json_object_set_new(r, "done_reason", json_string(reason));
    return r;
}

static void gen_gone(http_req *req, void *user)
{
    (void)req;
    struct api_gen *g = user;
    pthread_mutex_lock(&g->mu);
    g->gone = true;
    if (!g->done && g->job)
        sched_job_cancel(g->job);
    pthread_mutex_unlock(&g->mu);
}

/* Fills the scheduler's view of the model from the request. */
static int model_spec(struct api_gen *g, const json_t *body, struct sched_model *sm, char *err,
                      size_t errlen)
{
    memset(sm, 0, sizeof *sm);
    sm->path = g->m->model_path;
    sm->digest = g->m->digest;
    sm->num_ctx = (int32_t)api_option_int(g->options, "num_ctx", g->srv->env.context_length);
    sm->num_batch = (int32_t)api_option_int(g->options, "num_batch", 0);
    sm->num_thread = (int32_t)api_option_int(g->options, "num_thread", 0);
    sm->embedding = false;
    sm->prefix_hash = route_body_prefix_hash(body); /* reported for prefix_affinity */
    return api_keep_alive(json_object_get(body, "keep_alive"), &sm->keep_alive_ns,
                          &sm->keep_alive_set, err, errlen);
}

void api_gen_run(struct api_server *s, http_req *req, enum api_gen_kind kind, json_t *body,
                 struct api_out *out)
{
    char err[1400];
    struct api_gen *g = om_xcalloc(1, sizeof *g);
    g->srv = s;
    g->req = req;
    g->kind = kind;
    g->out = *out;
    g->t_start = om_time_ns();
    g->body = json_incref(body);
    g->think = -1;
    pthread_mutex_init(&g->mu, NULL);
    int status = 400;

    if (check_types(body, kind, err, sizeof err))
        goto fail;
    const char *name = api_model_field(body);
    if (!name || !*name) {
        if (kind == API_GEN_CHAT) {
            snprintf(err, sizeof err, "model is required");
        } else {
            status = 404;
            snprintf(err, sizeof err, "model '' not found");
        }
        goto fail;
    }
    g->model_name = om_xstrdup(name);
    struct store_name sn;
    if (store_name_parse(name, &sn)) {
        snprintf(err, sizeof err, "invalid model name");
        goto fail;
    }
    int rc = store_model_get(s->store, name, &g->m, err, sizeof err);
    if (rc == OM_ENOTFOUND) {
        status = 404;
        snprintf(err, sizeof err, "model '%s' not found", name);
        goto fail;
    }
    if (rc) {
        status = 500;
        goto fail;
    }
    if (!g->m->model_path) {
        snprintf(err, sizeof err, "model '%s' has no weights", name);
        goto fail;
    }
    g->mi = api_minfo_get(s, g->m->model_path, err, sizeof err);
    if (!g->mi) {
        status = 500;
        goto fail;
    }
    json_t *caps = api_capabilities(s, g->m);
    char full[1024];
    store_name_full(&g->m->name, full, sizeof full);
    if (!api_has_capability(caps, "completion")) {
        json_decref(caps);
        snprintf(err, sizeof err, "\"%s\" does not support %s", name,
                 kind == API_GEN_CHAT ? "chat" : "generate");
        goto fail;
    }
    if (merge_options(g->m->params, json_object_get(body, "options"), &g->options, err,
                      sizeof err)) {
        json_decref(caps);
        goto fail;
    }
    if (parse_think(json_object_get(body, "think"), &g->think, g->think_level,
                    sizeof g->think_level, err, sizeof err)) {
        json_decref(caps);
        goto fail;
    }
    bool can_think = api_has_capability(caps, "thinking");
    if (g->think == 1 && !can_think) {
        json_decref(caps);
        snprintf(err, sizeof err, "\"%s\" does not support thinking", name);
        goto fail;
    }
    if (g->think == -1 && can_think)
        g->think = 1;
    g->format = json_object_get(body, "format");
    if (g->format && (json_is_null(g->format) ||
                      (json_is_string(g->format) && !*json_string_value(g->format))))
        g->format = NULL;
    if (g->format && !json_is_object(g->format) &&
        !(json_is_string(g->format) && !strcmp(json_string_value(g->format), "json"))) {
        json_decref(caps);
        snprintf(err, sizeof err,
                 "invalid format: expected \"json\" or a valid JSON Schema object");
        goto fail;
    }
    if (g->format && g->think == 1 && json_object_get(body, "think") == NULL)
        g->think = 0; /* structured output: answer directly (see docs/api.md) */
    g->logprobs = json_is_true(json_object_get(body, "logprobs"));
    json_int_t tl = json_integer_value(json_object_get(body, "top_logprobs"));
    if (tl < 0 || tl > 20) {
        json_decref(caps);
        snprintf(err, sizeof err, "top_logprobs must be between 0 and 20");
        goto fail;
    }
    g->top_logprobs = (int)tl;
    const json_t *tr = json_object_get(body, "truncate");
    g->truncate = !json_is_false(tr);
    g->shift = !json_is_false(json_object_get(body, "shift"));
    g->debug_render = json_is_true(json_object_get(body, "_debug_render_only"));

    bool empty;
    if (kind == API_GEN_GENERATE) {
        g->prompt = json_string_value(json_object_get(body, "prompt"));
        g->suffix = json_string_value(json_object_get(body, "suffix"));
        g->system = json_string_value(json_object_get(body, "system"));
        g->template_src = json_string_value(json_object_get(body, "template"));
        g->context = json_object_get(body, "context");
        g->raw = json_is_true(json_object_get(body, "raw"));
        if (g->raw && (g->template_src || g->system || g->context)) {
            json_decref(caps);
            snprintf(err, sizeof err, "raw mode does not support template, system, or context");
            goto fail;
        }
        const json_t *imgs = json_object_get(body, "images");
        if (json_array_size(imgs) > 0) {
            json_decref(caps);
            snprintf(err, sizeof err, "images are not supported: this server has no vision models");
            goto fail;
        }
        if (g->suffix && *g->suffix && !api_has_capability(caps, "insert")) {
            json_decref(caps);
            snprintf(err, sizeof err, "%s does not support insert", full);
            goto fail;
        }
        if (!g->template_src)
            g->template_src = g->m->template_text;
        empty = !g->prompt || !*g->prompt;
    } else {
        const json_t *msgs = json_object_get(body, "messages");
        g->tools = json_object_get(body, "tools");
        if (g->tools && json_array_size(g->tools) == 0)
            g->tools = NULL;
        if (g->tools && !api_has_capability(caps, "tools")) {
            json_decref(caps);
            snprintf(err, sizeof err, "%s does not support tools", full);
            goto fail;
        }
        empty = json_array_size(msgs) == 0;
        if (!empty && chat_messages(msgs, g->m, &g->messages, err, sizeof err)) {
            json_decref(caps);
            goto fail;
        }
        /* Ollama strips earlier turns' reasoning for these families */
        if (g->messages && (!strncmp(g->mi->arch, "qwen3", 5) || strstr(name, "deepseek-r1"))) {
            json_t *f = prompt_filter_think(g->messages);
            if (f) {
                json_decref(g->messages);
                g->messages = f;
            }
        }
        g->template_src = g->m->template_text;
    }
    json_decref(caps);

    struct sched_model sm;
    char display[600];
    store_name_display(&g->m->name, display, sizeof display);
    if (model_spec(g, body, &sm, err, sizeof err))
        goto fail;
    sm.name = display;
    g->forwarded = api_gen_is_forwarded(s, req);
    if (api_gen_resume_parse(g, body, sm.num_ctx, err, sizeof err))
        goto fail;

    if (empty && sm.keep_alive_set && sm.keep_alive_ns == 0) {
        sched_unload(s->sched, g->m->model_path);
        api_out_final(&g->out, api_gen_special_reply(g, "unload"));
        api_gen_free(g);
        return;
    }
    const struct sched_job_cb cb = {
        .prepare = empty ? NULL : api_gen_prepare,
        .on_piece = empty ? NULL : api_gen_piece,
        .on_done = api_gen_done,
        .ud = g,
    };
    http_req_on_gone(req, gen_gone, g);
    pthread_mutex_lock(&g->mu);
    rc = api_submit(s, empty ? SCHED_LOAD : SCHED_GENERATE, &sm, &cb, &g->job);
    pthread_mutex_unlock(&g->mu);
    if (rc == OM_EBUSY) {
        http_req_on_gone(req, NULL, NULL);
        status = 503;
        snprintf(err, sizeof err,
                 "server busy, please try again.  maximum pending requests exceeded");
        goto fail;
    }
    if (rc) {
        http_req_on_gone(req, NULL, NULL);
        status = rc == OM_ECANCELED ? 503 : 500;
        snprintf(err, sizeof err, "%s",
                 rc == OM_ECANCELED ? "server is shutting down" : om_strerror(rc));
        goto fail;
    }
    return;
fail:
    respond_status(g, status, err);
    api_gen_free(g);
}
