/* api: embeddings — /api/embed (batch, L2-normalised, optional dimensions),
 * the legacy /api/embeddings (one vector, not normalised) and the body of
 * /v1/embeddings. Each input is one scheduler job; the answer is sent when
 * the last one is done, in input order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_gen_int.h"
#include "api/oai.h"
#include "base/om.h"
#include "engine/tok.h"
#include "store/models.h"

struct embed_req;

struct embed_item {
    struct embed_req *er;
    const char *text;
    sched_job *job;
    float *vec;
    float norm;       /* L2 norm before the engine normalised vec */
    int32_t n;
    int32_t n_tokens;
};

struct embed_req {
    struct api_server *s;
    http_req *req;
    json_t *body;
    json_t *oai_req;   /* /v1 request (for the response shape) or NULL */
    bool legacy;
    bool truncate;
    bool load_only;   /* empty input: load the model, answer with no vectors */
    int64_t dimensions;
    char *model_name;
    pthread_mutex_t mu;
    size_t n_items, n_done;
    struct embed_item *items;
    int rc;
    char err[512];
    int status;
    int64_t t_start, load_ns;
    bool gone;
};

static void embed_free(struct embed_req *er)
{
    for (size_t i = 0; i < er->n_items; i++) {
        if (er->items[i].job)
            sched_job_release(er->items[i].job);
        free(er->items[i].vec);
    }
    free(er->items);
    json_decref(er->body);
    json_decref(er->oai_req);
    free(er->model_name);
    pthread_mutex_destroy(&er->mu);
    free(er);
}

static int embed_prepare(void *ud, const struct sched_model_info *info, struct sched_prompt *out,
                         char *err, size_t errlen)
{
    struct embed_item *it = ud;
    size_t len = strlen(it->text), n = 0;
    int rc = tok_encode(info->vocab, it->text, len, 1, 1, NULL, 0, &n);
    if (rc && rc != OM_ERANGE)
        return om_err(err, errlen, rc, "tokenize: %s", om_strerror(rc));
    int32_t *t = malloc((n ? n : 1) * sizeof *t);
    if (!t || tok_encode(info->vocab, it->text, len, 1, 1, t, n, &n)) {
        free(t);
        return om_err(err, errlen, OM_ENOMEM, "tokenize failed");
    }
    if ((int64_t)n > info->n_ctx) {
        if (!it->er->truncate) {
            free(t);
            return om_err(err, errlen, OM_EINVAL, "the input length exceeds the context length");
        }
        /* keep the head; re-add EOS/SEP when the vocabulary appends one */
        int32_t last = t[n - 1];
        n = (size_t)info->n_ctx;
        if (tok_add_eos(info->vocab) || tok_vocab_kind(info->vocab) == TOK_KIND_WPM)
            t[n - 1] = last;
    }
    if (n == 0) {
        free(t);
        return om_err(err, errlen, OM_EINVAL, "input is empty after tokenization");
    }
    out->tokens = t;
    out->n_tokens = (int32_t)n;
    out->sampling = smp_params_default();
    out->num_predict = 0;
    return 0;
}

static void normalise(float *v, int32_t n)
{
    double ss = 0;
    for (int32_t i = 0; i < n; i++)
        ss += (double)v[i] * v[i];
    if (ss <= 0)
        return;
    double inv = 1.0 / sqrt(ss);
    for (int32_t i = 0; i < n; i++)
        v[i] = (float)(v[i] * inv);
}

static void embed_finish(struct embed_req *er)
{
    if (er->rc) {
        if (er->oai_req)
            api_respond_json(er->req, er->status, oai_error(er->status, er->err));
        else
            http_respond_error(er->req, er->status, er->err);
        return;
    }
    json_t *r = json_object();
    int64_t total_tokens = 0;
    if (er->legacy) {
        json_t *v = json_array();
        if (!er->load_only && er->n_items == 1) /* raw, as Ollama's legacy endpoint */
            for (int32_t k = 0; k < er->items[0].n; k++)
                json_array_append_new(v, json_real(er->items[0].vec[k] * er->items[0].norm));
        json_object_set_new(r, "embedding", v);
        api_respond_json(er->req, 200, r);
        return;
    }
    json_t *embs = json_array();
    for (size_t i = 0; i < er->n_items && !er->load_only; i++) {
        struct embed_item *it = &er->items[i];
        int32_t n = it->n;
        normalise(it->vec, n);
        if (er->dimensions > 0 && er->dimensions < n) {
            n = (int32_t)er->dimensions;
            normalise(it->vec, n);
        }
        json_t *v = json_array();
        for (int32_t k = 0; k < n; k++)
            json_array_append_new(v, json_real(it->vec[k]));
        json_array_append_new(embs, v);
        total_tokens += it->n_tokens;
    }
    json_object_set_new(r, "model", json_string(er->model_name));
    json_object_set_new(r, "embeddings", embs);
    json_object_set_new(r, "total_duration", json_integer((json_int_t)(om_time_ns() - er->t_start)));
    if (er->load_ns > 0)
        json_object_set_new(r, "load_duration", json_integer(er->load_ns));
    json_object_set_new(r, "prompt_eval_count", json_integer(total_tokens));
    if (er->oai_req) {
        const char *fmt = json_string_value(json_object_get(er->oai_req, "encoding_format"));
        json_t *o = oai_embed_response(r, fmt ? fmt : "float", er->model_name);
        json_decref(r);
        api_respond_json(er->req, 200, o);
        return;
    }
    api_respond_json(er->req, 200, r);
}

static void embed_done(void *ud, const struct sched_result *res)
{
    struct embed_item *it = ud;
    struct embed_req *er = it->er;
    pthread_mutex_lock(&er->mu);
    if (res->rc && !er->rc) {
        er->rc = res->rc;
        er->status = res->rc == OM_EINVAL ? 400 : 500;
        snprintf(er->err, sizeof er->err, "%s", res->error ? res->error : om_strerror(res->rc));
    } else if (!res->rc && res->embedding && res->n_embd > 0) {
        it->vec = om_xmalloc((size_t)res->n_embd * sizeof *it->vec);
        memcpy(it->vec, res->embedding, (size_t)res->n_embd * sizeof *it->vec);
        it->n = res->n_embd;
        it->norm = res->embd_norm;
        it->n_tokens = res->prompt_eval_count;
        for (int32_t k = 0; k < it->n; k++)
            if (!isfinite(it->vec[k]) && !er->rc) {
                er->rc = OM_ERANGE;
                er->status = 500;
                snprintf(er->err, sizeof er->err, "the embedding contains NaN or Inf values");
            }
    }
    if (res->load_ns > er->load_ns)
        er->load_ns = res->load_ns;
    bool last = ++er->n_done == er->n_items;
    pthread_mutex_unlock(&er->mu);
    if (last) {
        http_req_on_gone(er->req, NULL, NULL);
        embed_finish(er);
        embed_free(er);
    }
}

static void embed_gone(http_req *req, void *user)
{
    (void)req;
    struct embed_req *er = user;
    pthread_mutex_lock(&er->mu);
    er->gone = true;
    for (size_t i = 0; i < er->n_items; i++)
        if (er->items[i].job)
            sched_job_cancel(er->items[i].job);
    pthread_mutex_unlock(&er->mu);
}

static void embed_error(struct embed_req *er, int status, const char *msg)
{
    if (er->oai_req)
        api_respond_json(er->req, status, oai_error(status, msg));
    else
        http_respond_error(er->req, status, msg);
    embed_free(er);
}

void api_embed_run(struct api_server *s, http_req *req, json_t *body, bool legacy,
                   const json_t *oai_req)
{
    char err[512];
    struct embed_req *er = om_xcalloc(1, sizeof *er);
    er->s = s;
    er->req = req;
    er->body = json_incref(body);
    er->oai_req = oai_req ? json_incref((json_t *)oai_req) : NULL;
    er->legacy = legacy;
    er->t_start = (int64_t)om_time_ns();
    pthread_mutex_init(&er->mu, NULL);
    const char *name = api_model_field(body);
    if (!name || !*name) {
        embed_error(er, 404, "model '' not found");
        return;
    }
    er->model_name = om_xstrdup(name);
    struct store_model *m = NULL;
    int rc = store_model_get(s->store, name, &m, err, sizeof err);
    if (rc) {
        char msg[700];
        snprintf(msg, sizeof msg, "model \"%s\" not found, try pulling it first", name);
        embed_error(er, rc == OM_ENOTFOUND ? 404 : rc == OM_EINVAL ? 400 : 500,
                    rc == OM_ENOTFOUND ? msg : err);
        return;
    }
    const json_t *input = json_object_get(body, legacy ? "prompt" : "input");
    const json_t *tr = json_object_get(body, "truncate");
    er->truncate = !json_is_false(tr);
    er->dimensions = json_integer_value(json_object_get(body, "dimensions"));
    size_t n = 0;
    if (json_is_string(input)) {
        n = *json_string_value(input) ? 1 : 0;
    } else if (json_is_array(input)) {
        size_t i;
        json_t *v;
        json_array_foreach(input, i, v) {
            if (!json_is_string(v)) {
                store_model_free(m);
                embed_error(er, 400, "invalid input type");
                return;
            }
        }
        n = json_array_size(input);
    } else if (input && !json_is_null(input)) {
        store_model_free(m);
        embed_error(er, 400, "invalid input type");
        return;
    }
    json_t *opts = NULL;
    const json_t *ropts = json_object_get(body, "options");
    if (ropts && !json_is_null(ropts) &&
        (!json_is_object(ropts) || store_options_check(ropts, &opts, err, sizeof err))) {
        store_model_free(m);
        embed_error(er, 400, json_is_object(ropts) ? err : "options must be an object");
        return;
    }
    char display[700];
    store_name_display(&m->name, display, sizeof display);
    struct sched_model sm = {
        .name = display,
        .path = m->model_path,
        .digest = m->digest,
        .num_ctx = (int32_t)api_option_int(opts, "num_ctx", s->env.context_length),
        .num_batch = (int32_t)api_option_int(opts, "num_batch", 0),
        .num_thread = (int32_t)api_option_int(opts, "num_thread", 0),
        .embedding = true,
    };
    json_decref(opts);
    if (api_keep_alive(json_object_get(body, "keep_alive"), &sm.keep_alive_ns, &sm.keep_alive_set,
                       err, sizeof err)) {
        store_model_free(m);
        embed_error(er, 400, err);
        return;
    }
    if (!m->model_path) {
        store_model_free(m);
        embed_error(er, 400, "model has no weights");
        return;
    }
    er->n_items = n;
    er->items = om_xcalloc(n ? n : 1, sizeof *er->items);
    if (n == 0) { /* load the model, answer with no vectors */
        er->n_items = 1;
        er->load_only = true;
        er->items[0].er = er;
        er->items[0].text = "";
    }
    for (size_t i = 0; i < n; i++) {
        er->items[i].er = er;
        er->items[i].text = json_is_string(input) ? json_string_value(input)
                                                  : json_string_value(json_array_get(input, i));
    }
    http_req_on_gone(req, embed_gone, er);
    pthread_mutex_lock(&er->mu);
    for (size_t i = 0; i < er->n_items; i++) {
        struct sched_job_cb cb = {.prepare = n ? embed_prepare : NULL, .on_done = embed_done,
                                  .ud = &er->items[i]};
        rc = api_submit(s, n ? SCHED_EMBED : SCHED_LOAD, &sm, &cb, &er->items[i].job);
        if (rc) {
            /* the jobs already queued finish; this one and later ones count as done */
            if (!er->rc) {
                er->rc = rc;
                er->status = rc == OM_EBUSY ? 503 : 500;
                snprintf(er->err, sizeof er->err, "%s",
                         rc == OM_EBUSY ? "server busy, please try again.  maximum pending "
                                          "requests exceeded" : om_strerror(rc));
            }
            er->n_done += er->n_items - i;
            for (size_t k = 0; k < i; k++)
                sched_job_cancel(er->items[k].job);
            break;
        }
    }
    bool finish_now = er->n_done == er->n_items;
    pthread_mutex_unlock(&er->mu);
    store_model_free(m);
    if (finish_now) {
        http_req_on_gone(req, NULL, NULL);
        embed_finish(er);
        embed_free(er);
    }
}

void api_h_embed(http_req *req, void *ctx)
{
    json_t *body = api_body_json(req);
    if (!body)
        return;
    api_route_embed(ctx, req, body, false, NULL);
    json_decref(body);
}

void api_h_embeddings(http_req *req, void *ctx)
{
    json_t *body = api_body_json(req);
    if (!body)
        return;
    api_route_embed(ctx, req, body, true, NULL);
    json_decref(body);
}
