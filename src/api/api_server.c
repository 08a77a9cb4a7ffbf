/* api: one node's server — the route table and the start/stop order.
 *
 * Start: store (pruned unless OLLAMA_NOPRUNE), registry key (created when
 * missing, as `ollama serve` does), scheduler, then the HTTP listener.
 * Stop: refuse new background work, cancel every scheduler job (their
 * responses end while HTTP still runs), wait for create/pull/push threads
 * (pulls and pushes are cancelled), then stop HTTP and free the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/api_peer.h"
#include "base/om.h"
#include "cluster/clu.h"
#include "store/models.h"
#include "store/registry.h"

#define BLOB_MAX ((size_t)1 << 40) /* uploads are streamed to disk */

static const struct {
    const char *method, *pattern;
    http_handler_fn fn;
    http_body_fn body_fn;
} routes[] = {
    {"GET", "/", api_h_root, NULL},
    {"GET", "/api/version", api_h_version, NULL},
    {"POST", "/api/generate", api_h_generate, NULL},
    {"POST", "/api/chat", api_h_chat, NULL},
    {"POST", "/api/embed", api_h_embed, NULL},
    {"POST", "/api/embeddings", api_h_embeddings, NULL},
    {"GET", "/api/tags", api_h_tags, NULL},
    {"GET", "/api/ps", api_h_ps, NULL},
    {"POST", "/api/show", api_h_show, NULL},
    {"POST", "/api/create", api_h_create, NULL},
    {"HEAD", "/api/blobs/:digest", api_h_blob_head, NULL},
    {"POST", "/api/blobs/:digest", api_h_blob_post, api_h_blob_body},
    {"POST", "/api/copy", api_h_copy, NULL},
    {"DELETE", "/api/delete", api_h_delete, NULL},
    {"POST", "/api/pull", api_h_pull, NULL},
    {"POST", "/api/push", api_h_push, NULL},
    {"POST", "/v1/chat/completions", api_h_v1_chat, NULL},
    {"POST", "/v1/completions", api_h_v1_completions, NULL},
    {"POST", "/v1/embeddings", api_h_v1_embeddings, NULL},
    {"POST", "/v1/responses", api_h_v1_responses, NULL},
    {"GET", "/v1/models", api_h_v1_models, NULL},
    {"GET", "/v1/models/:model", api_h_v1_model, NULL},
    {"GET", "/api/cluster/status", api_h_cluster_status, NULL},
    {"GET", "/api/cluster/nodes", api_h_cluster_nodes, NULL},
    {"POST", "/api/cluster/drain", api_h_cluster_drain, NULL},
    {"POST", "/api/cluster/undrain", api_h_cluster_drain, NULL},
    {"POST", "/api/cluster/leave", api_h_cluster_leave, NULL},
    {"GET", "/api/cluster/token", api_h_cluster_token, NULL},
    {"GET", "/api/cluster/settings", api_h_cluster_settings, NULL},
    {"POST", "/api/cluster/settings", api_h_cluster_settings, NULL},
    {"POST", "/api/cluster/join", api_h_cluster_join, NULL},
    {"POST", "/api/cluster/propose", api_h_cluster_propose, NULL},
    {"POST", "/api/cluster/remove", api_h_cluster_remove, NULL},
    {"POST", "/api/cluster/report", api_h_cluster_report, NULL},
    {"GET", "/api/cluster/blob/:digest", api_h_cluster_blob, NULL},
    {"HEAD", "/api/cluster/blob/:digest", api_h_cluster_blob, NULL},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

/* Native generate/chat: NDJSON unless stream is false. */
static void native_gen(http_req *req, void *ctx, enum api_gen_kind kind)
{
    json_t *body = api_body_json(req);
    if (!body)
        return;
    struct api_out out;
    api_out_init(&out, req,
                 json_is_false(json_object_get(body, "stream")) ? API_OUT_ONCE : API_OUT_NDJSON,
                 false, NULL);
    api_route_gen(ctx, req, kind, body, &out);
    json_decref(body);
}

void api_h_generate(http_req *req, void *ctx)
{
    native_gen(req, ctx, API_GEN_GENERATE);
}

void api_h_chat(http_req *req, void *ctx)
{
    native_gen(req, ctx, API_GEN_CHAT);
}

int api_server_start(const struct api_env *env, struct api_server **out, char *err,
                     size_t errlen)
{
    struct api_server *s = om_xcalloc(1, sizeof *s);
    s->env = *env;
    snprintf(s->cl_token, sizeof s->cl_token, "%s", env->cluster_token);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->store_mu, NULL);
    pthread_cond_init(&s->bg_cv, NULL);
    int rc = store_open(env->models, &s->store, err, errlen);
    if (rc)
        goto fail;
    if (!env->noprune && (rc = store_prune(s->store)))
        om_log(OM_LOG_WARN, "api", "pruning %s: %s", env->models, om_strerror(rc));
    struct reg_key *key = NULL;
    char kerr[256];
    if (reg_key_load(env->key_dir, 1, &key, kerr, sizeof kerr) == 0)
        reg_key_free(key);
    else
        om_log(OM_LOG_WARN, "api", "identity key: %s", kerr);

    struct sched_config sc;
    sched_config_default(&sc);
    if (env->num_parallel > 0)
        sc.num_parallel = env->num_parallel;
    if (env->max_loaded > 0)
        sc.max_loaded = env->max_loaded;
    sc.max_queue = env->max_queue;
    sc.keep_alive_ns = env->keep_alive_ns;
    sc.load_timeout_ns = env->load_timeout_ns;
    if ((rc = sched_new(&sc, &s->sched, err, errlen)))
        goto fail;

    struct http_route r[N_ROUTES];
    for (size_t i = 0; i < N_ROUTES; i++) {
        r[i] = (struct http_route){
            .method = routes[i].method, .pattern = routes[i].pattern, .handler = routes[i].fn,
            .ctx = s, .body_fn = routes[i].body_fn,
            .max_body = routes[i].body_fn ? BLOB_MAX : 0,
        };
    }
    struct http_config hc = {
        .host = env->host, .port = env->port, .threads = 2,
        .origins = env->origins[0] ? env->origins : NULL, .log_requests = env->debug > 0,
    };
    if ((rc = http_server_start(&hc, r, N_ROUTES, &s->http, err, errlen)))
        goto fail;
    /* the cluster part last: peers reach this node's API from the start */
    struct clu_cfg cc = {
        .data_dir = env->data_dir, .api_host = env->host, .api_port = http_server_port(s->http),
        .raft_addr = env->raft_addr, .init = env->cluster_init, .join = env->join,
        .token = env->cluster_token, .store = s->store, .store_mu = &s->store_mu,
        .sched = s->sched, .version = API_VERSION,
    };
    s->cluster_starting = true;
    rc = clu_start(&cc, &s->cluster, err, errlen);
    s->cluster_starting = false;
    if (rc)
        goto fail;
    if (s->cluster)
        snprintf(s->cl_token, sizeof s->cl_token, "%s", clu_token(s->cluster));
    *out = s;
    return 0;
fail:
    api_server_stop(s);
    return rc;
}

int api_server_port(const struct api_server *s)
{
    return http_server_port(s->http);
}

const char *api_server_cluster_token(const struct api_server *s)
{
    return s->cluster ? clu_token(s->cluster) : NULL;
}

void api_server_stop(struct api_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_mutex_unlock(&s->mu);
    api_create_cancel_all(s);
    clu_halt(s->cluster); /* its threads use the scheduler and the store */
    if (s->sched)
        sched_free(s->sched); /* no submit can start: stopping is set under mu */
    pthread_mutex_lock(&s->mu);
    s->sched = NULL;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->mu);
    while (s->n_bg > 0)
        pthread_cond_wait(&s->bg_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->http)
        http_server_stop(s->http);
    api_peer_drain(10000);
    clu_stop(s->cluster);
    store_close(s->store);
    while (s->minfo) {
        struct api_minfo *m = s->minfo;
        s->minfo = m->next;
        free(m->path);
        free(m->arch);
        free(m->chat_template);
        free(m);
    }
    pthread_cond_destroy(&s->bg_cv);
    pthread_mutex_destroy(&s->store_mu);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
