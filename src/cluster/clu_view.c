/* cluster: the view of the other members — heartbeats (every node sends its
 * inventory report to every member about once a second), down detection (no
 * report for CLU_DOWN_NS), the status document, routing, and the leader's
 * duties on each tick (promoting a standby when a voter is lost or voters are
 * missing, placements for a replication factor).
 *
 * Soft state only: reports are never written to Raft. A report is trusted
 * for nothing but routing figures, and is checked by cinv_parse first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"
#include "cluster/cinv.h"
#include "cluster/clu_int.h"
#include "store/models.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct clu_peer *clu_peer_get(clu *c, const char *id, bool create)
{
    for (int i = 0; i < c->n_peers; i++)
        if (!strcmp(c->peers[i].id, id))
            return &c->peers[i];
    if (!create || c->n_peers >= CLU_MAX_PEERS)
        return NULL;
    struct clu_peer *p = &c->peers[c->n_peers++];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    p->ttft_ms = -1;
    return p;
}

bool clu_peer_up(const clu *c, const struct clu_peer *p, int64_t now)
{
    if (!strcmp(p->id, c->id_hex))
        return true;
    return p->report && now - p->last_ns <= CLU_DOWN_NS;
}

bool clu_left(clu *c) { return c->left; }

/* ---- reports ---- */

static json_t *own_report(clu *c)
{
    struct cinv v;
    cinv_read(c->sched, &v);
    json_t *r = cinv_json(&v);
    /* loaded: full names, so every node compares the same spelling */
    json_t *loaded = json_array();
    for (int i = 0; i < v.n_loaded; i++) {
        struct store_name n;
        char full[1200];
        if (store_name_parse(v.loaded[i], &n) == 0) {
            store_name_full(&n, full, sizeof full);
            json_array_append_new(loaded, json_string(full));
        }
    }
    json_object_set_new(r, "loaded", loaded);
    pthread_mutex_lock(&c->mu);
    json_object_set_new(r, "id", json_string(c->id_hex));
    json_object_set_new(r, "seq", json_integer((json_int_t)++c->seq));
    json_object_set(r, "models", c->held);
    json_object_set_new(r, "transfers", json_deep_copy(c->transfers));
    pthread_mutex_unlock(&c->mu);
    return r;
}

static bool str_array_ok(const json_t *a, size_t max_n)
{
    if (!json_is_array(a) || json_array_size(a) > max_n)
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) > 1200)
            return false;
    }
    return true;
}

int clu_report_in(clu *c, const json_t *report, char *err, size_t errlen)
{
    struct cinv v;
    if (cinv_parse(report, &v, err, errlen))
        return OM_EFORMAT;
    const char *id = json_string_value(json_object_get(report, "id"));
    uint64_t nid;
    if (!id || cstate_id_parse(id, &nid))
        return om_err(err, errlen, OM_EFORMAT, "report: invalid id");
    const json_t *models = json_object_get(report, "models");
    const json_t *tr = json_object_get(report, "transfers");
    if (!str_array_ok(models, 4096) || !str_array_ok(json_object_get(report, "loaded"), 64) ||
        (tr && (!json_is_array(tr) || json_array_size(tr) > 256)))
        return om_err(err, errlen, OM_EFORMAT, "report: invalid models/loaded/transfers");
    json_t *known = cstate_node(c->st, id);
    if (!known)
        return om_err(err, errlen, OM_ENOTFOUND, "report: node %s is not a member", id);
    json_decref(known);
    pthread_mutex_lock(&c->mu);
    struct clu_peer *p = clu_peer_get(c, id, true);
    bool changed = false;
    if (p) {
        changed = strcmp(id, c->id_hex) &&
                  (!p->report || !json_equal(json_object_get(p->report, "models"), models));
        json_decref(p->report);
        p->report = json_deep_copy(report);
        p->last_ns = mono_ns();
        p->down_since_ns = 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (changed)
        clu_kick(c); /* the reconciler may fetch from this peer now */
    return 0;
}

/* ---- leader duties ---- */

static bool role_of(const struct craft_info *ri, uint64_t id, enum craft_role *role)
{
    for (int i = 0; i < ri->n_servers; i++)
        if (ri->servers[i].id == id) {
            *role = ri->servers[i].role;
            return true;
        }
    return false;
}

/* Promotes an up standby when a voter has been down for CLU_LOST_NS (and
 * demotes that voter), or when there are fewer voters than members allow. */
static void leader_promote(clu *c, const struct craft_info *ri)
{
    int64_t now = mono_ns();
    int voters = 0;
    uint64_t lost = 0, standby = 0;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < ri->n_servers; i++) {
        const struct craft_server *sv = &ri->servers[i];
        char hex[17];
        cstate_id_fmt(sv->id, hex);
        struct clu_peer *p = clu_peer_get(c, hex, false);
        bool up = sv->id == c->id || (p && clu_peer_up(c, p, now));
        if (sv->role == CRAFT_VOTER) {
            voters++;
            if (!up && p && p->report && p->down_since_ns == 0)
                p->down_since_ns = now;
            if (!up && p && p->down_since_ns && now - p->down_since_ns > CLU_LOST_NS)
                lost = sv->id;
        } else if (up && p && p->report && !standby) {
            standby = sv->id;
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (!standby || (!lost && voters >= CLU_MAX_VOTERS))
        return;
    char err[256];
    if (craft_assign(c->raft, standby, CRAFT_VOTER, 5000, err, sizeof err)) {
        om_log(OM_LOG_WARN, "cluster", "promoting a standby failed: %s", err);
        return;
    }
    om_log(OM_LOG_INFO, "cluster", "standby %016llx promoted to voter",
           (unsigned long long)standby);
    if (lost && craft_assign(c->raft, lost, CRAFT_STANDBY, 5000, err, sizeof err) == 0)
        om_log(OM_LOG_INFO, "cluster", "lost voter %016llx demoted to standby",
               (unsigned long long)lost);
}

/* ---- the heartbeat thread ---- */

void clu_tick(clu *c)
{
    if (c->left)
        return;
    json_t *report = own_report(c);
    char err[256];
    clu_report_in(c, report, err, sizeof err); /* our own figures into the view */
    json_t *nodes = cstate_nodes(c->st);
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n) {
        const char *id = json_string_value(json_object_get(n, "id"));
        const char *addr = json_string_value(json_object_get(n, "api_addr"));
        if (!id || !addr || !strcmp(id, c->id_hex) || c->stop)
            continue;
        int status = 0;
        json_t *resp = NULL;
        clu_post(c, addr, "/api/cluster/report", report, 400, &status, &resp, err, sizeof err);
        json_decref(resp);
    }
    json_decref(nodes);
    json_decref(report);
    struct craft_info ri;
    craft_info(c->raft, &ri);
    if (ri.is_leader)
        leader_promote(c, &ri);
}

static void *hb_main(void *arg)
{
    clu *c = arg;
    while (!c->stop) {
        int64_t t0 = mono_ns();
        clu_tick(c);
        int64_t spent_ms = (mono_ns() - t0) / 1000000;
        if (clu_wait(c, spent_ms >= CLU_TICK_MS ? 10 : CLU_TICK_MS - (int)spent_ms))
            break;
    }
    return NULL;
}

int clu_view_start(clu *c)
{
    if (pthread_create(&c->hb_thread, NULL, hb_main, c))
        return OM_EIO;
    if (pthread_create(&c->rec_thread, NULL, clu_rec_main, c)) {
        c->stop = 1;
        pthread_join(c->hb_thread, NULL);
        return OM_EIO;
    }
    c->threads = true;
    return 0;
}

/* ---- status ---- */

static bool array_has(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), s))
            return true;
    }
    return false;
}

/* Full names → display names. */
static json_t *display_names(const json_t *a)
{
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        struct store_name n;
        char d[1200];
        if (json_is_string(v) && !store_name_parse(json_string_value(v), &n)) {
            store_name_display(&n, d, sizeof d);
            json_array_append_new(out, json_string(d));
        }
    }
    return out;
}

static json_t *node_json(clu *c, const json_t *row, const struct craft_info *ri, int64_t now)
{
    const char *id = json_string_value(json_object_get(row, "id"));
    uint64_t nid = 0;
    cstate_id_parse(id ? id : "", &nid);
    enum craft_role role = CRAFT_SPARE;
    bool in_raft = role_of(ri, nid, &role);
    struct clu_peer *p = id ? clu_peer_get(c, id, false) : NULL;
    bool up = p && clu_peer_up(c, p, now);
    const char *state = !up ? "down" : json_is_true(json_object_get(row, "drained")) ? "draining"
                                                                                    : "up";
    const json_t *rep = p ? p->report : NULL;
    json_t *o = json_pack("{s:s?,s:O?,s:O?,s:O?,s:s,s:s}", "id", id, "name",
                          json_object_get(row, "name"), "api_addr",
                          json_object_get(row, "api_addr"), "raft_addr",
                          json_object_get(row, "raft_addr"), "state", state, "role",
                          in_raft ? craft_role_name(role) : "spare");
    json_object_set_new(o, "models", display_names(json_object_get(rep, "models")));
    json_object_set_new(o, "loaded", display_names(json_object_get(rep, "loaded")));
    static const char *nums[] = {"active", "queued", "parallel", "cores", "ram_total",
                                 "ram_free", "tokens_per_s"};
    for (size_t k = 0; k < sizeof nums / sizeof *nums; k++) {
        json_t *v = json_object_get(rep, nums[k]);
        json_object_set_new(o, nums[k], v ? json_deep_copy(v) : json_integer(0));
    }
    json_object_set_new(o, "last_seen_ms",
                        p && p->report ? json_integer((now - p->last_ns) / 1000000)
                                       : json_null());
    json_t *tr = json_object_get(rep, "transfers");
    json_object_set_new(o, "transfers", tr ? json_deep_copy(tr) : json_array());
    if (p && p->ttft_ms >= 0)
        json_object_set_new(o, "ttft_ms", json_real(p->ttft_ms));
    return o;
}

json_t *clu_status_json(clu *c)
{
    struct craft_info ri;
    craft_info(c->raft, &ri);
    char leader[17] = "";
    if (ri.leader_id)
        cstate_id_fmt(ri.leader_id, leader);
    json_t *rows = cstate_nodes(c->st), *nodes = json_array();
    int64_t now = mono_ns();
    size_t i;
    json_t *row;
    pthread_mutex_lock(&c->mu);
    json_array_foreach(rows, i, row) json_array_append_new(nodes, node_json(c, row, &ri, now));
    pthread_mutex_unlock(&c->mu);
    json_decref(rows);
    return json_pack("{s:b,s:s,s:s?,s:I,s:o,s:o}", "cluster", !c->left, "self", c->id_hex,
                     "leader", ri.leader_id ? leader : NULL, "term", (json_int_t)ri.term,
                     "nodes", nodes, "settings", cstate_settings(c->st));
}

/* ---- routing ---- */

int clu_route(clu *c, const char *full_name, uint64_t prefix_hash, struct clu_target *out,
              int cap)
{
    if (c->left)
        return 0;
    json_t *rows = cstate_nodes(c->st);
    json_t *settings = cstate_settings(c->st);
    json_t *placed = cstate_placements(c->st, full_name);
    const char *rep_s = json_string_value(json_object_get(settings, "replication"));
    bool everyone = !rep_s || atoi(rep_s) == 0;
    enum route_strategy strat = ROUTE_LEAST_LOADED;
    route_strategy_parse(json_string_value(json_object_get(settings, "routing")), &strat);
    int n = (int)json_array_size(rows);
    if (n > ROUTE_MAX_NODES)
        n = ROUTE_MAX_NODES;
    struct route_node *rn = om_xcalloc((size_t)n + 1, sizeof *rn);
    int *order = om_xcalloc((size_t)n + 1, sizeof *order);
    char(*addrs)[256] = om_xcalloc((size_t)n + 1, sizeof *addrs);
    int64_t now = mono_ns();
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < n; i++) {
        json_t *row = json_array_get(rows, (size_t)i);
        const char *id = json_string_value(json_object_get(row, "id"));
        const char *addr = json_string_value(json_object_get(row, "api_addr"));
        snprintf(rn[i].id, sizeof rn[i].id, "%s", id ? id : "");
        snprintf(addrs[i], sizeof addrs[i], "%s", addr ? addr : "");
        struct clu_peer *p = clu_peer_get(c, rn[i].id, false);
        rn[i].up = p && clu_peer_up(c, p, now);
        rn[i].drained = json_is_true(json_object_get(row, "drained"));
        rn[i].placed = everyone || array_has(placed, rn[i].id);
        rn[i].ttft_ewma_ms = p ? p->ttft_ms : -1;
        const json_t *rep = p ? p->report : NULL;
        if (!rep)
            continue;
        rn[i].loaded = array_has(json_object_get(rep, "loaded"), full_name);
        rn[i].holds = array_has(json_object_get(rep, "models"), full_name);
        rn[i].active = (int)json_integer_value(json_object_get(rep, "active"));
        rn[i].queued = (int)json_integer_value(json_object_get(rep, "queued"));
        rn[i].parallel = (int)json_integer_value(json_object_get(rep, "parallel"));
        rn[i].ram_free = json_integer_value(json_object_get(rep, "ram_free"));
        if (prefix_hash) {
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)prefix_hash);
            rn[i].has_prefix = array_has(json_object_get(rep, "prefixes"), hex);
        }
    }
    int usable = route_order(strat, rn, n, prefix_hash, &c->rr, order);
    pthread_mutex_unlock(&c->mu);
    int k = 0;
    /* the usable candidates, then as a last resort for failover the drained
     * nodes that hold the model (drain refuses new requests, not rescue) */
    for (int i = 0; i < n && k < cap; i++) {
        const struct route_node *r = &rn[order[i]];
        if (i >= usable && !(usable > 0 && r->up && r->drained && r->holds))
            continue;
        snprintf(out[k].id, sizeof out[k].id, "%s", r->id);
        snprintf(out[k].api_addr, sizeof out[k].api_addr, "%s", addrs[order[i]]);
        out[k].self = !strcmp(r->id, c->id_hex);
        k++;
    }
    free(rn);
    free(order);
    free(addrs);
    json_decref(rows);
    json_decref(settings);
    json_decref(placed);
    return k;
}

void clu_note_ttft(clu *c, const char *id, double ms)
{
    pthread_mutex_lock(&c->mu);
    struct clu_peer *p = clu_peer_get(c, id, false);
    if (p)
        p->ttft_ms = route_ewma(p->ttft_ms, ms);
    pthread_mutex_unlock(&c->mu);
}

json_t *clu_peers_up(clu *c)
{
    json_t *rows = cstate_nodes(c->st), *out = json_array();
    int64_t now = mono_ns();
    size_t i;
    json_t *row;
    pthread_mutex_lock(&c->mu);
    json_array_foreach(rows, i, row) {
        const char *id = json_string_value(json_object_get(row, "id"));
        struct clu_peer *p = id ? clu_peer_get(c, id, false) : NULL;
        if (!p || !strcmp(id, c->id_hex) || !clu_peer_up(c, p, now))
            continue;
        json_array_append_new(out, json_pack("{s:s,s:O?,s:O?}", "id", id, "name",
                                             json_object_get(row, "name"), "api_addr",
                                             json_object_get(row, "api_addr")));
    }
    pthread_mutex_unlock(&c->mu);
    json_decref(rows);
    return out;
}

bool clu_node_up(clu *c, const char *id)
{
    pthread_mutex_lock(&c->mu);
    struct clu_peer *p = clu_peer_get(c, id, false);
    bool up = (p && clu_peer_up(c, p, mono_ns())) || !strcmp(id, c->id_hex);
    pthread_mutex_unlock(&c->mu);
    return up;
}
