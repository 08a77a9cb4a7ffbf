/* api: the /api/cluster routes (docs/cluster.md "HTTP endpoints").
 *
 * Public: status, nodes, drain, undrain, leave, token (loopback clients
 * only), settings — what `ollamamax cluster …` calls. Internal, for members
 * only (Authorization: Bearer <cluster token>, compared in constant time):
 * join, propose, remove, report, blob. A node without a cluster answers 409.
 *
 * Anything that waits for a Raft commit (writes, joins) runs on its own
 * thread so the HTTP threads never block on consensus; the answer is given
 * from that thread. */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/api_peer.h"
#include "base/om.h"
#include "cluster/clu.h"

static clu *need_cluster(http_req *req, struct api_server *s)
{
    if (!s->cluster && s->cluster_starting) {
        http_respond_error(req, 503, "the node is still starting its cluster part");
        return NULL;
    }
    if (!s->cluster || clu_left(s->cluster)) {
        http_respond_error(req, 409, "cluster is not enabled on this node");
        return NULL;
    }
    return s->cluster;
}

bool api_cluster_token_ok(struct api_server *s, const char *given)
{
    const char *want = s->cluster ? clu_token(s->cluster) : s->cl_token;
    if (!given || !want || !*want)
        return false;
    size_t n = strlen(want);
    return strlen(given) == n && CRYPTO_memcmp(given, want, n) == 0;
}

/* Internal routes: the cluster and a valid token, else answered. */
static clu *need_member(http_req *req, struct api_server *s)
{
    clu *c = need_cluster(req, s);
    if (!c)
        return NULL;
    const char *auth = http_req_header(req, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) || !api_cluster_token_ok(s, auth + 7)) {
        http_respond_error(req, 403, "cluster token rejected");
        return NULL;
    }
    return c;
}

/* ---- work off the HTTP threads ---- */

typedef void (*slow_fn)(struct api_server *s, clu *c, http_req *req, json_t *body);
struct slow {
    struct api_server *s;
    clu *c;
    http_req *req;
    json_t *body;
    slow_fn fn;
};

static void *slow_main(void *arg)
{
    struct slow *w = arg;
    w->fn(w->s, w->c, w->req, w->body);
    json_decref(w->body);
    api_bg_leave(w->s);
    free(w);
    return NULL;
}

static void run_slow(struct api_server *s, clu *c, http_req *req, json_t *body, slow_fn fn)
{
    if (!api_bg_enter(s)) {
        json_decref(body);
        http_respond_error(req, 503, "server is stopping");
        return;
    }
    struct slow *w = om_xcalloc(1, sizeof *w);
    *w = (struct slow){.s = s, .c = c, .req = req, .body = body, .fn = fn};
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, slow_main, w)) {
        json_decref(body);
        free(w);
        api_bg_leave(s);
        http_respond_error(req, 503, "cannot start a thread");
    }
    pthread_attr_destroy(&a);
}

static int status_of(int rc)
{
    switch (rc) {
    case OM_EINVAL:
    case OM_EFORMAT:
        return 400;
    case OM_ENOTFOUND:
        return 404;
    default:
        return 503;
    }
}

/* ---- public ---- */

void api_h_cluster_status(http_req *req, void *ctx)
{
    clu *c = need_cluster(req, ctx);
    if (c)
        api_respond_json(req, 200, clu_status_json(c));
}

void api_h_cluster_nodes(http_req *req, void *ctx)
{
    clu *c = need_cluster(req, ctx);
    if (!c)
        return;
    json_t *st = clu_status_json(c);
    api_respond_json(req, 200, json_pack("{s:O}", "nodes", json_object_get(st, "nodes")));
    json_decref(st);
}

static void drain_slow(struct api_server *s, clu *c, http_req *req, json_t *body)
{
    (void)s;
    bool drain = !strcmp(http_req_path(req), "/api/cluster/drain");
    const char *node = json_string_value(json_object_get(body, "node"));
    char id[17] = "", err[512];
    int rc = node ? clu_drain(c, node, drain, id, err, sizeof err)
                  : om_err(err, sizeof err, OM_EINVAL, "node is required");
    if (rc)
        http_respond_error(req, status_of(rc), err);
    else
        api_respond_json(req, 200,
                         json_pack("{s:s,s:s}", "node", id, "state", drain ? "draining" : "up"));
}

void api_h_cluster_drain(http_req *req, void *ctx)
{
    clu *c = need_cluster(req, ctx);
    json_t *body = c ? api_body_json(req) : NULL;
    if (body)
        run_slow(ctx, c, req, body, drain_slow);
}

static void leave_slow(struct api_server *s, clu *c, http_req *req, json_t *body)
{
    (void)s;
    (void)body;
    char err[512];
    int rc = clu_leave(c, err, sizeof err);
    if (rc)
        http_respond_error(req, status_of(rc), err);
    else
        api_respond_json(req, 200,
                         json_pack("{s:s,s:b}", "node", clu_self_id(c), "left", 1));
}

void api_h_cluster_leave(http_req *req, void *ctx)
{
    clu *c = need_cluster(req, ctx);
    if (c)
        run_slow(ctx, c, req, json_object(), leave_slow);
}

void api_h_cluster_token(http_req *req, void *ctx)
{
    clu *c = need_cluster(req, ctx);
    if (!c)
        return;
    const char *peer = http_req_peer(req);
    if (!peer || (strncmp(peer, "127.", 4) && strncmp(peer, "[::1]", 5) &&
                  strncmp(peer, "::1", 3))) {
        http_respond_error(req, 403, "the token is only given to local clients");
        return;
    }
    api_respond_json(req, 200, json_pack("{s:s}", "token", clu_token(c)));
}

static void settings_slow(struct api_server *s, clu *c, http_req *req, json_t *body)
{
    (void)s;
    const char *key = json_string_value(json_object_get(body, "key"));
    const json_t *v = json_object_get(body, "value");
    char val[64], err[512];
    if (json_is_integer(v))
        snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v) && json_string_length(v) < sizeof val)
        snprintf(val, sizeof val, "%s", json_string_value(v));
    else
        val[0] = 0;
    int rc = !key || !*val ? om_err(err, sizeof err, OM_EINVAL, "key and value are required")
                           : clu_setting_put(c, key, val, err, sizeof err);
    if (rc) {
        http_respond_error(req, status_of(rc), err);
        return;
    }
    /* committed; this replica may apply it a moment later */
    json_t *out = clu_settings(c);
    json_object_set_new(out, key, json_string(val));
    api_respond_json(req, 200, out);
}

void api_h_cluster_settings(http_req *req, void *ctx)
{
    clu *c = need_cluster(req, ctx);
    if (!c)
        return;
    if (!strcmp(http_req_method(req), "GET")) {
        api_respond_json(req, 200, clu_settings(c));
        return;
    }
    json_t *body = api_body_json(req);
    if (body)
        run_slow(ctx, c, req, body, settings_slow);
}

/* ---- internal ---- */

static void join_slow(struct api_server *s, clu *c, http_req *req, json_t *body)
{
    (void)s;
    json_t *resp = NULL;
    char err[512];
    int rc = clu_join_handle(c, body, &resp, err, sizeof err);
    if (rc)
        http_respond_error(req, status_of(rc), err);
    else
        api_respond_json(req, 200, resp);
}

void api_h_cluster_join(http_req *req, void *ctx)
{
    clu *c = need_member(req, ctx);
    json_t *body = c ? api_body_json(req) : NULL;
    if (body)
        run_slow(ctx, c, req, body, join_slow);
}

static void propose_slow(struct api_server *s, clu *c, http_req *req, json_t *body)
{
    (void)s;
    char *cmd = json_dumps(body, JSON_COMPACT);
    char err[512];
    int rc = clu_propose(c, cmd, err, sizeof err);
    free(cmd);
    if (rc)
        http_respond_error(req, status_of(rc), err);
    else
        api_respond_json(req, 200, json_pack("{s:b,s:I}", "ok", 1, "index",
                                             (json_int_t)clu_applied(c)));
}

void api_h_cluster_propose(http_req *req, void *ctx)
{
    clu *c = need_member(req, ctx);
    json_t *body = c ? api_body_json(req) : NULL;
    if (body)
        run_slow(ctx, c, req, body, propose_slow);
}

static void remove_slow(struct api_server *s, clu *c, http_req *req, json_t *body)
{
    (void)s;
    char err[512];
    int rc = clu_remove_handle(c, json_string_value(json_object_get(body, "id")), err,
                               sizeof err);
    if (rc)
        http_respond_error(req, status_of(rc), err);
    else
        api_respond_json(req, 200, json_pack("{s:b}", "ok", 1));
}

void api_h_cluster_remove(http_req *req, void *ctx)
{
    clu *c = need_member(req, ctx);
    json_t *body = c ? api_body_json(req) : NULL;
    if (body)
        run_slow(ctx, c, req, body, remove_slow);
}

void api_h_cluster_report(http_req *req, void *ctx)
{
    clu *c = need_member(req, ctx);
    json_t *body = c ? api_body_json(req) : NULL;
    if (!body)
        return;
    char err[512];
    int rc = clu_report_in(c, body, err, sizeof err);
    json_decref(body);
    if (rc)
        http_respond_error(req, status_of(rc), err);
    else
        api_respond_json(req, 200, json_object());
}

void api_h_cluster_blob(http_req *req, void *ctx)
{
    struct api_server *s = ctx;
    if (need_member(req, s))
        api_peer_blob(req, s->store, http_req_param(req, "digest"));
}
