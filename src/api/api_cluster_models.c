/* api: the model routes of a cluster member — what makes /api/tags, /api/ps,
 * /api/show, create, pull, copy and delete answer for the whole cluster
 * (docs/cluster.md "Models across the cluster").
 *
 * A request a gateway forwards (X-OllamaMax-Forwarded with the token) is
 * answered from this node alone, so a cluster-wide answer never recurses. */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_int.h"
#include "base/om.h"
#include "cluster/chttp.h"
#include "cluster/clu.h"
#include "store/models.h"

bool api_forwarded(struct api_server *s, http_req *req)
{
    const char *h = http_req_header(req, "X-OllamaMax-Forwarded");
    if (h && api_cluster_token_ok(s, h))
        return true;
    const char *auth = http_req_header(req, "Authorization");
    return auth && !strncmp(auth, "Bearer ", 7) && api_cluster_token_ok(s, auth + 7);
}

static clu *member(struct api_server *s)
{
    return s->cluster && !clu_left(s->cluster) ? s->cluster : NULL;
}

void api_cluster_register(struct api_server *s, const char *name)
{
    clu *c = member(s);
    struct store_name sn;
    if (!c || store_name_parse(name, &sn))
        return;
    char *bytes = NULL;
    size_t len = 0;
    if (store_manifest_read(s->store, &sn, &bytes, &len, NULL, NULL))
        return;
    char full[1200], err[512];
    store_name_full(&sn, full, sizeof full);
    if (clu_model_put(c, full, bytes, err, sizeof err))
        om_log(OM_LOG_WARN, "api", "%s is not in the cluster catalog: %s", full, err);
    free(bytes);
}

int api_cluster_unregister(struct api_server *s, const char *name)
{
    clu *c = member(s);
    struct store_name sn;
    if (!c || store_name_parse(name, &sn))
        return OM_ENOTFOUND;
    char full[1200], err[512];
    store_name_full(&sn, full, sizeof full);
    /* a model this node just put into the catalog may show here a moment
     * later (seen under load): look again for up to 2 s before saying no */
    bool known = false;
    for (int tries = 0; !known && tries < 20; tries++) {
        if (tries)
            usleep(100 * 1000);
        json_t *models = clu_models(c);
        size_t i;
        json_t *m;
        json_array_foreach(models, i, m) {
            const char *n = json_string_value(json_object_get(m, "name"));
            known = known || (n && !strcasecmp(n, full));
        }
        json_decref(models);
    }
    if (!known)
        return OM_ENOTFOUND;
    int rc = clu_model_del(c, full, err, sizeof err);
    if (rc)
        om_log(OM_LOG_WARN, "api", "removing %s from the cluster catalog: %s", full, err);
    return rc;
}

/* /api/tags: catalog models this node does not hold yet. */
void api_cluster_tags_extra(struct api_server *s, json_t *list)
{
    clu *c = member(s);
    if (!c)
        return;
    json_t *models = clu_models(c);
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        const char *full = json_string_value(json_object_get(m, "name"));
        struct store_name sn;
        if (!full || store_name_parse(full, &sn))
            continue;
        char display[1200];
        store_name_display(&sn, display, sizeof display);
        bool have = false;
        size_t k;
        json_t *e;
        json_array_foreach(list, k, e) {
            const char *n = json_string_value(json_object_get(e, "name"));
            have = have || (n && !strcasecmp(n, display));
        }
        if (have)
            continue;
        const char *exact = json_string_value(json_object_get(m, "text"));
        char *text = exact ? strdup(exact) : json_dumps(json_object_get(m, "manifest"), JSON_COMPACT);
        uint64_t size = 0;
        unsigned char d[SHA256_DIGEST_LENGTH];
        char hex[2 * SHA256_DIGEST_LENGTH + 1];
        SHA256((const unsigned char *)text, strlen(text), d);
        for (int b = 0; b < SHA256_DIGEST_LENGTH; b++)
            sprintf(hex + 2 * b, "%02x", d[b]);
        store_manifest_size(text, strlen(text), &size);
        free(text);
        char mod[64];
        api_time_local(json_integer_value(json_object_get(m, "updated_ns")), mod, sizeof mod);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:I,s:s,s:{s:s}}", "name", display,
                                              "model", display, "modified_at", mod, "size",
                                              (json_int_t)size, "digest", hex, "details",
                                              "format", "gguf"));
    }
    json_decref(models);
}

/* /api/ps: this node's entries get node and node_id; the up peers' own
 * entries are added with theirs. */
void api_cluster_ps_extra(struct api_server *s, http_req *req, json_t *list)
{
    clu *c = member(s);
    if (!c || api_forwarded(s, req))
        return;
    json_t *st = clu_status_json(c);
    const char *self = clu_self_id(c);
    const char *self_name = self;
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(st, "nodes"), i, n) {
        if (!strcmp(json_string_value(json_object_get(n, "id")), self))
            self_name = json_string_value(json_object_get(n, "name"));
    }
    json_t *e;
    json_array_foreach(list, i, e) {
        json_object_set_new(e, "node", json_string(self_name));
        json_object_set_new(e, "node_id", json_string(self));
    }
    json_t *peers = clu_peers_up(c);
    json_array_foreach(peers, i, n) {
        const char *addr = json_string_value(json_object_get(n, "api_addr"));
        char url[400];
        snprintf(url, sizeof url, "http://%s/api/ps", addr);
        int status = 0;
        json_t *resp = NULL;
        char err[256];
        /* the token in Authorization: the peer answers for itself alone */
        if (chttp_get_json(url, clu_token(c), 1500, &status, &resp, err, sizeof err) == 0 &&
            status == 200) {
            size_t k;
            json_t *pe;
            json_array_foreach(json_object_get(resp, "models"), k, pe) {
                if (!json_is_object(pe))
                    continue;
                json_t *copy = json_deep_copy(pe);
                json_object_set(copy, "node", json_object_get(n, "name"));
                json_object_set(copy, "node_id", json_object_get(n, "id"));
                json_array_append_new(list, copy);
            }
        }
        json_decref(resp);
    }
    json_decref(peers);
    json_decref(st);
}

/* /api/show of a model this node does not hold: asked of a node that does.
 * true when answered. */
bool api_cluster_show_remote(struct api_server *s, http_req *req, const json_t *body,
                             const char *name)
{
    clu *c = member(s);
    struct store_name sn;
    if (!c || api_forwarded(s, req) || store_name_parse(name, &sn))
        return false;
    char full[1200];
    store_name_full(&sn, full, sizeof full);
    struct clu_target t[8];
    int n = clu_route(c, full, 0, t, 8);
    for (int i = 0; i < n; i++) {
        if (t[i].self)
            continue;
        char url[400], err[256];
        snprintf(url, sizeof url, "http://%s/api/show", t[i].api_addr);
        int status = 0;
        json_t *resp = NULL;
        if (chttp_post_json(url, clu_token(c), body, 5000, &status, &resp, err, sizeof err) == 0 &&
            status == 200 && resp) {
            api_respond_json(req, 200, resp);
            return true;
        }
        json_decref(resp);
    }
    return false;
}

int api_cluster_copy(struct api_server *s, const char *src, const char *dst)
{
    clu *c = member(s);
    struct store_name a, b;
    if (!c || store_name_parse(src, &a) || store_name_parse(dst, &b))
        return OM_ENOTFOUND;
    char fa[1200], fb[1200], err[512];
    store_name_full(&a, fa, sizeof fa);
    store_name_full(&b, fb, sizeof fb);
    json_t *models = clu_models(c);
    const char *text = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (n && !strcasecmp(n, fa))
            text = json_string_value(json_object_get(m, "text"));
    }
    int rc = text ? clu_model_put(c, fb, text, err, sizeof err) : OM_ENOTFOUND;
    if (rc && rc != OM_ENOTFOUND)
        om_log(OM_LOG_WARN, "api", "copy %s to %s in the cluster catalog: %s", fa, fb, err);
    json_decref(models);
    return rc;
}
