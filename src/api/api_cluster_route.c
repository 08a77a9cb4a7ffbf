/* api: where a generate/chat/embed request runs on a cluster member — the
 * routing hook in front of api_gen_run and api_embed_run. The node that
 * receives a request (the gateway) orders the nodes with clu_route (the
 * cluster's strategy, the request's prefix hash) and hands the list to the
 * proxy (api_proxy.h), which runs it here when this node comes first and
 * fails over along the list otherwise. A forwarded request, a single node and
 * a model the catalog does not know run here as before. */
#include <string.h>

#include "api/api_int.h"
#include "api/api_proxy.h"
#include "cluster/clu.h"
#include "cluster/route.h"
#include "store/models.h"

#define MAX_TARGETS 16

static void observe(void *ud, const char *target_id, int64_t ttft_ns, bool ok)
{
    (void)ok;
    if (ttft_ns >= 0)
        clu_note_ttft(ud, target_id, (double)ttft_ns / 1e6);
}

static bool alive(void *ud, const char *target_id)
{
    return clu_node_up(ud, target_id);
}

/* The ordered targets for body's model; 0 when this node should just run it. */
static int targets_for(struct api_server *s, http_req *req, const json_t *body,
                       struct api_target *t, struct api_proxy_opts *o)
{
    clu *c = s->cluster;
    if (!c || clu_left(c) || api_forwarded(s, req))
        return 0;
    const char *name = api_model_field(body);
    struct store_name sn;
    if (!name || store_name_parse(name, &sn))
        return 0;
    char full[1200];
    store_name_full(&sn, full, sizeof full);
    struct clu_target ct[MAX_TARGETS];
    int n = clu_route(c, full, route_body_prefix_hash(body), ct, MAX_TARGETS);
    if (n <= 0 || (n == 1 && ct[0].self))
        return 0;
    for (int i = 0; i < n; i++) {
        memcpy(t[i].id, ct[i].id, sizeof t[i].id);
        memcpy(t[i].api_addr, ct[i].api_addr, sizeof t[i].api_addr);
    }
    *o = (struct api_proxy_opts){
        .self_id = clu_self_id(c),
        .local_gen = api_gen_run,
        .local_embed = api_embed_run,
        .observe = observe,
        .alive = alive,
        .ud = c,
    };
    return n;
}

void api_route_gen(struct api_server *s, http_req *req, enum api_gen_kind kind, json_t *body,
                   struct api_out *out)
{
    struct api_target t[MAX_TARGETS];
    struct api_proxy_opts o;
    int n = targets_for(s, req, body, t, &o);
    if (n == 0)
        api_gen_run(s, req, kind, body, out);
    else
        api_proxy_gen(s, req, kind, body, out, t, n, &o);
}

void api_route_embed(struct api_server *s, http_req *req, json_t *body, bool legacy,
                     const json_t *oai_req)
{
    struct api_target t[MAX_TARGETS];
    struct api_proxy_opts o;
    int n = targets_for(s, req, body, t, &o);
    if (n == 0)
        api_embed_run(s, req, body, legacy, oai_req);
    else
        api_proxy_embed(s, req, body, legacy, oai_req, t, n, &o);
}
