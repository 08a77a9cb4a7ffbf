/* api: the long-running model operations — /api/create, /api/pull and
 * /api/push. Each runs on its own thread and reports Ollama's progress
 * objects: streamed as NDJSON (default) or, with stream:false, only the last
 * one. An error before any progress was sent gets its status code; after,
 * it is a final {"error"} line. A client that leaves cancels a pull or push
 * (partial downloads stay for a later resume). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "cluster/clu.h"
#include "base/om.h"
#include "prompt/detect.h"
#include "store/models.h"
#include "store/registry.h"

enum prog_kind { PROG_CREATE, PROG_PULL, PROG_PUSH };

struct api_prog {
    struct api_prog *next;
    struct api_server *s;
    http_req *req;
    enum prog_kind kind;
    json_t *body;
    bool stream;
    bool started;
    json_t *last;
    volatile int cancel;
    char err[1024];
};

static void prog_unlink(struct api_server *s, struct api_prog *p)
{
    pthread_mutex_lock(&s->mu);
    for (struct api_prog **pp = &s->progs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&s->mu);
}

void api_create_cancel_all(struct api_server *s)
{
    pthread_mutex_lock(&s->mu);
    for (struct api_prog *p = s->progs; p; p = p->next)
        p->cancel = 1;
    pthread_mutex_unlock(&s->mu);
}

static void prog_gone(http_req *req, void *user)
{
    (void)req;
    struct api_prog *p = user;
    p->cancel = 1;
}

static void prog_status(void *ud, const json_t *st)
{
    struct api_prog *p = ud;
    if (p->stream) {
        if (!p->started) {
            p->started = true;
            http_stream_begin(p->req, 200, "application/x-ndjson");
        }
        char *s = json_dumps(st, JSON_COMPACT);
        if (s) {
            size_t n = strlen(s);
            s[n] = '\n';
            http_stream_write(p->req, s, n + 1);
            s[n] = 0;
            free(s);
        }
    }
    json_decref(p->last);
    p->last = json_deep_copy(st);
}

static int detect_hook(void *ud, const char *jinja, char **name, char **go_template,
                       json_t **params)
{
    (void)ud;
    struct detect_result r;
    if (detect_template(jinja, strlen(jinja), &r))
        return -1;
    *name = om_xstrdup(r.name);
    *go_template = om_xstrdup(r.go_template);
    json_t *stops = json_array();
    for (int i = 0; i < r.n_stops; i++)
        json_array_append_new(stops, json_string(r.stops[i]));
    *params = json_pack("{s:o}", "stop", stops);
    return 0;
}

static void reg_options(struct api_prog *p, struct reg_opts *o)
{
    memset(o, 0, sizeof *o);
    o->insecure = json_is_true(json_object_get(p->body, "insecure"));
    o->key_dir = p->s->env.key_dir;
    o->no_prune = p->s->env.noprune;
}

static int status_of(int rc)
{
    switch (rc) {
    case OM_EINVAL:
    case OM_EFORMAT:      /* a hostile or broken file */
    case OM_EUNSUPPORTED: /* adapters, safetensors… */
        return 400;
    case OM_ENOTFOUND: return 404;
    default: return 500;
    }
}

static void status_line(struct api_prog *p, const char *text);

struct peer_pull {
    struct api_prog *p;
    bool began; /* "pulling manifest" said */
};

/* Ollama's status for a blob being fetched ("pulling <first 12 hex>"). */
static void peer_progress(void *ud, const char *digest, int64_t total, int64_t done)
{
    struct peer_pull *pp = ud;
    if (!pp->began) {
        pp->began = true;
        status_line(pp->p, "pulling manifest");
    }
    const char *hex = strchr(digest, ':') ? strchr(digest, ':') + 1 : digest;
    char status[64];
    snprintf(status, sizeof status, "pulling %.12s", hex);
    json_t *st = json_pack("{s:s,s:s,s:I,s:I}", "status", status, "digest", digest, "total",
                           (json_int_t)total, "completed", (json_int_t)done);
    prog_status(pp->p, st);
    json_decref(st);
}

static void status_line(struct api_prog *p, const char *text)
{
    json_t *st = json_pack("{s:s}", "status", text);
    prog_status(p, st);
    json_decref(st);
}

static int run_pull(struct api_prog *p, const char *name)
{
    struct reg_opts o;
    reg_options(p, &o);
    struct store_name sn;
    if (p->s->cluster && !clu_left(p->s->cluster) && store_name_parse(name, &sn) == 0) {
        /* a model of the cluster comes from its peers, not the registry */
        char full[1200];
        store_name_full(&sn, full, sizeof full);
        struct peer_pull pp = {.p = p};
        int rc = clu_pull(p->s->cluster, full, peer_progress, &pp, &p->cancel, p->err,
                          sizeof p->err);
        if (rc == 0) {
            if (!pp.began)
                status_line(p, "pulling manifest");
            status_line(p, "verifying sha256 digest");
            status_line(p, "writing manifest");
            status_line(p, "success");
            return 0;
        }
        if (rc != OM_ENOTFOUND)
            return rc;
    }
    return reg_pull(p->s->store, name, &o, prog_status, p, &p->cancel, p->err, sizeof p->err);
}

static int run(struct api_prog *p)
{
    const char *name = api_model_field(p->body);
    struct store_name sn;
    if (!name || !*name || store_name_parse(name, &sn))
        return om_err(p->err, sizeof p->err, OM_EINVAL, "invalid model name");
    switch (p->kind) {
    case PROG_PULL:
        return run_pull(p, name);
    case PROG_PUSH: {
        struct reg_opts o;
        reg_options(p, &o);
        return reg_push(p->s->store, name, &o, prog_status, p, &p->cancel, p->err, sizeof p->err);
    }
    case PROG_CREATE: {
        struct store_create_hooks hooks = {.detect = detect_hook};
        pthread_mutex_lock(&p->s->store_mu);
        int rc = store_create(p->s->store, p->body, &hooks, prog_status, p, p->err, sizeof p->err);
        const char *from = json_string_value(json_object_get(p->body, "from"));
        if (rc == OM_ENOTFOUND && from && *from) {
            /* Ollama pulls a missing base model, then creates */
            struct api_prog sub = *p;
            sub.last = NULL;
            rc = run_pull(&sub, from);
            p->started = sub.started;
            json_decref(sub.last);
            if (rc == 0)
                rc = store_create(p->s->store, p->body, &hooks, prog_status, p, p->err,
                                  sizeof p->err);
            else
                snprintf(p->err, sizeof p->err, "%s", sub.err);
        }
        pthread_mutex_unlock(&p->s->store_mu);
        return rc;
    }
    }
    return OM_EINVAL;
}

static void *prog_thread(void *arg)
{
    struct api_prog *p = arg;
    int rc = run(p);
    if (rc == 0 && p->kind != PROG_PUSH)
        api_cluster_register(p->s, api_model_field(p->body));
    http_req_on_gone(p->req, NULL, NULL);
    if (rc) {
        if (!p->err[0])
            snprintf(p->err, sizeof p->err, "%s", om_strerror(rc));
        if (p->started) {
            json_t *e = json_pack("{s:s}", "error", p->err);
            char *s = json_dumps(e, JSON_COMPACT);
            json_decref(e);
            if (s) {
                http_stream_write(p->req, s, strlen(s));
                http_stream_write(p->req, "\n", 1);
                free(s);
            }
            http_stream_end(p->req);
        } else {
            http_respond_error(p->req, status_of(rc), p->err);
        }
    } else if (p->stream) {
        if (!p->started)
            http_stream_begin(p->req, 200, "application/x-ndjson");
        http_stream_end(p->req);
    } else {
        api_respond_json(p->req, 200, p->last ? json_incref(p->last)
                                              : json_pack("{s:s}", "status", "success"));
    }
    struct api_server *s = p->s;
    prog_unlink(s, p);
    json_decref(p->last);
    json_decref(p->body);
    free(p);
    api_bg_leave(s);
    return NULL;
}

static void start(http_req *req, struct api_server *s, enum prog_kind kind)
{
    json_t *body = api_body_json(req);
    if (!body)
        return;
    if (kind == PROG_CREATE) {
        const char *name = api_model_field(body);
        struct store_name sn;
        if (!name || !*name || store_name_parse(name, &sn)) {
            json_decref(body);
            http_respond_error(req, 400, "invalid model name");
            return;
        }
        if (!json_object_get(body, "from") && !json_object_get(body, "files")) {
            json_decref(body);
            http_respond_error(req, 400, "neither 'from' or 'files' was specified");
            return;
        }
    }
    if (!api_bg_enter(s)) {
        json_decref(body);
        http_respond_error(req, 503, "server is shutting down");
        return;
    }
    struct api_prog *p = om_xcalloc(1, sizeof *p);
    p->s = s;
    p->req = req;
    p->kind = kind;
    p->body = body;
    p->stream = !json_is_false(json_object_get(body, "stream"));
    http_req_on_gone(req, prog_gone, p);
    pthread_mutex_lock(&s->mu);
    p->next = s->progs;
    s->progs = p;
    pthread_mutex_unlock(&s->mu);
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, prog_thread, p)) {
        http_req_on_gone(req, NULL, NULL);
        prog_unlink(s, p);
        json_decref(body);
        free(p);
        api_bg_leave(s);
        http_respond_error(req, 500, "could not start a thread");
    }
    pthread_attr_destroy(&at);
}

void api_h_create(http_req *req, void *ctx)
{
    start(req, ctx, PROG_CREATE);
}

void api_h_pull(http_req *req, void *ctx)
{
    start(req, ctx, PROG_PULL);
}

void api_h_push(http_req *req, void *ctx)
{
    start(req, ctx, PROG_PUSH);
}
