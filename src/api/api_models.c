/* api: the model-management routes — /, /api/version, /api/tags, /api/ps,
 * /api/show, /api/copy, /api/delete and /api/blobs/:digest — answered from
 * the store and the scheduler with Ollama's shapes, messages and codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/om.h"
#include "store/models.h"

void api_h_root(http_req *req, void *ctx)
{
    (void)ctx;
    const char *msg = "Ollama is running";
    http_respond(req, 200, "text/plain; charset=utf-8", msg, strlen(msg));
}

void api_h_version(http_req *req, void *ctx)
{
    (void)ctx;
    api_respond_json(req, 200, json_pack("{s:s}", "version", API_VERSION));
}

/* One /api/tags entry for a stored model. */
static json_t *tags_entry(struct api_server *s, const struct store_model *m)
{
    char display[700], mod[64];
    store_name_display(&m->name, display, sizeof display);
    api_time_local(m->mtime_ns, mod, sizeof mod);
    json_t *e = json_pack("{s:s,s:s,s:s,s:I,s:s}", "name", display, "model", display, "modified_at",
                          mod, "size", (json_int_t)m->size, "digest", m->digest);
    json_object_set_new(e, "details", store_model_details(m));
    json_object_set_new(e, "capabilities", api_capabilities(s, m));
    return e;
}

struct list_ctx {
    struct api_server *s;
    json_t *arr;
};

static int list_cb(void *ud, const struct store_name *n, const char *manifest, size_t len,
                   const char *digest_hex, int64_t mtime_ns)
{
    (void)manifest;
    (void)len;
    (void)digest_hex;
    (void)mtime_ns;
    struct list_ctx *c = ud;
    char full[1100], err[256];
    store_name_full(n, full, sizeof full);
    struct store_model *m = NULL;
    if (store_model_get(c->s->store, full, &m, err, sizeof err) == 0) {
        json_t *e = tags_entry(c->s, m);
        json_object_set_new(e, "_mtime", json_integer(m->mtime_ns));
        json_array_append_new(c->arr, e);
        store_model_free(m);
    }
    return 0;
}

static int by_mtime_desc(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "_mtime"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "_mtime"));
    return x < y ? 1 : x > y ? -1 : 0;
}

json_t *api_tags_json(struct api_server *s)
{
    struct list_ctx c = {s, json_array()};
    store_list(s->store, list_cb, &c);
    size_t n = json_array_size(c.arr);
    json_t **v = om_xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(c.arr, i));
    qsort(v, n, sizeof *v, by_mtime_desc);
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++) {
        json_object_del(v[i], "_mtime");
        json_array_append_new(sorted, v[i]);
    }
    free(v);
    json_decref(c.arr);
    api_cluster_tags_extra(s, sorted);
    return json_pack("{s:o}", "models", sorted);
}

void api_h_tags(http_req *req, void *ctx)
{
    api_respond_json(req, 200, api_tags_json(ctx));
}

void api_h_ps(http_req *req, void *ctx)
{
    struct api_server *s = ctx;
    struct sched_loaded loaded[64];
    int n = sched_list(s->sched, loaded, 64);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        char exp[64];
        int64_t t = loaded[i].expires_at_ns;
        if (t == INT64_MAX)
            t = api_now_ns() + 100LL * 365 * 24 * 3600 * 1000000000LL; /* "forever" */
        api_time_local(t, exp, sizeof exp);
        json_t *e = json_pack("{s:s,s:s,s:I,s:s,s:s,s:I,s:i}", "name", loaded[i].name, "model",
                              loaded[i].name, "size", (json_int_t)loaded[i].size, "digest",
                              loaded[i].digest, "expires_at", exp, "size_vram", (json_int_t)0,
                              "context_length", (int)loaded[i].n_ctx);
        struct store_model *m = NULL;
        char err[256];
        if (store_model_get(s->store, loaded[i].name, &m, err, sizeof err) == 0) {
            json_t *d = store_model_details(m);
            json_object_set_new(d, "parent_model", json_string(""));
            json_object_set_new(e, "details", d);
            store_model_free(m);
        }
        json_array_append_new(arr, e);
    }
    api_cluster_ps_extra(s, req, arr);
    api_respond_json(req, 200, json_pack("{s:o}", "models", arr));
}

void api_h_show(http_req *req, void *ctx)
{
    struct api_server *s = ctx;
    json_t *body = api_body_json(req);
    if (!body)
        return;
    const char *name = api_model_field(body);
    char err[512];
    struct store_model *m = NULL;
    struct store_name sn;
    if (!name || !*name || store_name_parse(name, &sn)) {
        json_decref(body);
        http_respond_error(req, 400, "invalid model name");
        return;
    }
    int rc = store_model_get(s->store, name, &m, err, sizeof err);
    if (rc == OM_ENOTFOUND && api_cluster_show_remote(s, req, body, name)) {
        json_decref(body);
        return;
    }
    if (rc) {
        char display[700], msg[800];
        store_name_display(&sn, display, sizeof display);
        snprintf(msg, sizeof msg, "model '%s' not found", display);
        http_respond_error(req, rc == OM_ENOTFOUND ? 404 : 500, rc == OM_ENOTFOUND ? msg : err);
        json_decref(body);
        return;
    }
    bool verbose = json_is_true(json_object_get(body, "verbose"));
    json_t *r = json_object();
    json_t *lic = json_array();
    size_t total = 0;
    for (int i = 0; i < m->n_licenses; i++)
        total += strlen(m->licenses[i]) + 1;
    if (m->n_licenses > 0) {
        char *l = om_xmalloc(total + 1);
        l[0] = 0;
        for (int i = 0; i < m->n_licenses; i++) {
            if (i)
                strcat(l, "\n");
            strcat(l, m->licenses[i]);
        }
        json_object_set_new(r, "license", json_string(l));
        free(l);
    }
    json_decref(lic);
    char *mf = store_show_modelfile(m);
    json_object_set_new(r, "modelfile", json_string(mf ? mf : ""));
    free(mf);
    json_t *params = m->params ? json_deep_copy(m->params) : json_object();
    const json_t *ropts = json_object_get(body, "options");
    if (json_is_object(ropts))
        json_object_update(params, (json_t *)ropts);
    char *pt = store_show_parameters(params);
    if (pt && *pt)
        json_object_set_new(r, "parameters", json_string(pt));
    free(pt);
    json_decref(params);
    json_object_set_new(r, "template", json_string(m->template_text ? m->template_text : ""));
    const char *sys = json_string_value(json_object_get(body, "system"));
    if (sys || m->system)
        json_object_set_new(r, "system", json_string(sys ? sys : m->system));
    json_object_set_new(r, "details", store_model_details(m));
    if (m->messages)
        json_object_set(r, "messages", m->messages);
    json_t *info = m->model_path ? store_model_info(m->model_path, verbose, err, sizeof err) : NULL;
    json_object_set_new(r, "model_info", info ? info : json_object());
    json_object_set_new(r, "capabilities", api_capabilities(s, m));
    char mod[64];
    api_time_local(m->mtime_ns, mod, sizeof mod);
    json_object_set_new(r, "modified_at", json_string(mod));
    store_model_free(m);
    json_decref(body);
    api_respond_json(req, 200, r);
}

/* Ollama answers copy and delete with an empty 200 or an error object. */
static void respond_empty_or_error(http_req *req, int status, const char *msg)
{
    if (status == 200)
        http_respond(req, 200, "text/plain; charset=utf-8", "", 0);
    else
        http_respond_error(req, status, msg);
}

void api_h_copy(http_req *req, void *ctx)
{
    struct api_server *s = ctx;
    json_t *body = api_body_json(req);
    if (!body)
        return;
    const char *src = json_string_value(json_object_get(body, "source"));
    const char *dst = json_string_value(json_object_get(body, "destination"));
    struct store_name a, b;
    char msg[1200];
    int status = 200;
    if (!src || store_name_parse(src, &a)) {
        snprintf(msg, sizeof msg, "source \"%s\" is invalid", src ? src : "");
        status = 400;
    } else if (!dst || store_name_parse(dst, &b)) {
        snprintf(msg, sizeof msg, "destination \"%s\" is invalid", dst ? dst : "");
        status = 400;
    } else {
        pthread_mutex_lock(&s->store_mu);
        int rc = store_copy(s->store, &a, &b);
        pthread_mutex_unlock(&s->store_mu);
        if (rc == 0)
            api_cluster_register(s, dst);
        else if (rc == OM_ENOTFOUND && api_cluster_copy(s, src, dst) == 0)
            rc = 0; /* the source is elsewhere in the cluster */
        if (rc == OM_ENOTFOUND) {
            snprintf(msg, sizeof msg, "model \"%s\" not found", src);
            status = 404;
        } else if (rc) {
            snprintf(msg, sizeof msg, "copy: %s", om_strerror(rc));
            status = 500;
        }
    }
    json_decref(body);
    respond_empty_or_error(req, status, msg);
}

void api_h_delete(http_req *req, void *ctx)
{
    struct api_server *s = ctx;
    json_t *body = api_body_json(req);
    if (!body)
        return;
    const char *name = api_model_field(body);
    struct store_name n;
    char msg[1200];
    int status = 200;
    if (!name || store_name_parse(name, &n)) {
        snprintf(msg, sizeof msg, "name \"%s\" is invalid", name ? name : "");
        status = 400;
    } else {
        struct store_model *m = NULL;
        char err[256];
        pthread_mutex_lock(&s->mu);
        if (s->sched && store_model_get(s->store, name, &m, err, sizeof err) == 0 &&
            m->model_path)
            sched_unload(s->sched, m->model_path);
        pthread_mutex_unlock(&s->mu);
        store_model_free(m);
        pthread_mutex_lock(&s->store_mu);
        int rc = store_delete(s->store, &n, !s->env.noprune);
        pthread_mutex_unlock(&s->store_mu);
        /* a cluster deletes everywhere: also a model this node does not hold */
        if ((rc == 0 || rc == OM_ENOTFOUND) && api_cluster_unregister(s, name) == 0)
            rc = 0;
        if (rc == OM_ENOTFOUND) {
            snprintf(msg, sizeof msg, "model '%s' not found", name);
            status = 404;
        } else if (rc) {
            snprintf(msg, sizeof msg, "delete: %s", om_strerror(rc));
            status = 500;
        }
    }
    json_decref(body);
    respond_empty_or_error(req, status, msg);
}

void api_h_blob_head(http_req *req, void *ctx)
{
    struct api_server *s = ctx;
    const char *d = http_req_param(req, "digest");
    char canon[72], msg[200];
    if (!d || store_digest_canon(d, canon)) {
        http_respond_error(req, 400, "invalid digest format");
        return;
    }
    if (store_blob_exists(s->store, canon)) {
        http_respond(req, 200, "text/plain; charset=utf-8", "", 0);
        return;
    }
    snprintf(msg, sizeof msg, "blob \"%s\" not found", canon);
    http_respond_error(req, 404, msg);
}

/* Upload state, kept in the request's user pointer. */
struct blob_up {
    struct store_blob_writer *w;
    int rc;
};

int api_h_blob_body(http_req *req, const char *data, size_t len, void *ctx)
{
    struct api_server *s = ctx;
    struct blob_up *u = http_req_user(req);
    if (!u) {
        u = om_xcalloc(1, sizeof *u);
        http_req_set_user(req, u);
        u->rc = store_blob_begin(s->store, &u->w);
    }
    if (u->rc)
        return u->rc;
    u->rc = store_blob_write(u->w, data, len);
    return u->rc;
}

void api_h_blob_post(http_req *req, void *ctx)
{
    struct api_server *s = ctx;
    struct blob_up *u = http_req_user(req);
    http_req_set_user(req, NULL);
    const char *d = http_req_param(req, "digest");
    char canon[72], err[300];
    if (!d || store_digest_canon(d, canon)) {
        if (u)
            store_blob_abort(u->w);
        free(u);
        http_respond_error(req, 400, "invalid digest format");
        return;
    }
    bool existed = store_blob_exists(s->store, canon);
    int rc = u ? u->rc : 0;
    if (!u) { /* empty body: body_fn was never called */
        u = om_xcalloc(1, sizeof *u);
        rc = u->rc = store_blob_begin(s->store, &u->w);
    }
    if (rc || http_req_body_error(req)) {
        store_blob_abort(u->w);
        free(u);
        snprintf(err, sizeof err, "upload failed: %s", om_strerror(rc ? rc : http_req_body_error(req)));
        http_respond_error(req, 500, err);
        return;
    }
    rc = store_blob_commit(u->w, canon, NULL, err, sizeof err);
    free(u);
    if (rc) {
        http_respond_error(req, rc == OM_EINVAL ? 400 : 500, err);
        return;
    }
    http_respond(req, existed ? 200 : 201, "text/plain; charset=utf-8", "", 0);
}
