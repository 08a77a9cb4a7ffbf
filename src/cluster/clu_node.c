/* cluster: the node's identity and membership — cluster.json in the data
 * dir, bootstrap (--cluster-init), join through any member, restart as the
 * member recorded, leave — and the Raft commands (proposals, the leader's side
 * of a join, drain, settings, the model catalog).
 *
 * Invariants: cluster.json is written (atomically) only once this node is in
 * the Raft configuration, so a failed join leaves the data dir as it was; the
 * nodes table gets a member before Raft adds it, so every Raft server has a
 * row (a failed add leaves a row that the next join of that id rewrites). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/om.h"
#include "cluster/chttp.h"
#include "cluster/clu_int.h"
#include "store/models.h"

#define CLU_PROPOSE_MS 8000

bool clu_wait(clu *c, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->wait_mu);
    unsigned k0 = c->kick;
    while (!c->stop && c->kick == k0 &&
           pthread_cond_timedwait(&c->wait_cv, &c->wait_mu, &ts) == 0)
        ;
    bool stop = c->stop;
    pthread_mutex_unlock(&c->wait_mu);
    return stop;
}

int clu_post(clu *c, const char *addr, const char *path, const json_t *body, int timeout_ms,
             int *status, json_t **resp, char *err, size_t errlen)
{
    char url[600];
    snprintf(url, sizeof url, "http://%s%s", addr, path);
    return chttp_post_json(url, c->token, body, timeout_ms, status, resp, err, errlen);
}

void clu_node_addr(clu *c, const char *id, char *out, size_t cap)
{
    out[0] = 0;
    json_t *n = cstate_node(c->st, id);
    const char *a = n ? json_string_value(json_object_get(n, "api_addr")) : NULL;
    if (a)
        snprintf(out, cap, "%s", a);
    json_decref(n);
}

/* ---- cluster.json ---- */

static void path_in(const clu *c, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", c->data_dir, name);
}

static int mkdir_p(const char *dir)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0700) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0700) && errno != EEXIST)
        return -errno;
    return 0;
}

static int identity_save(clu *c, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", c->id_hex, "name", c->name, "token",
                          c->token, "api_addr", c->api_addr, "raft_addr", c->raft_addr);
    char path[1100], tmp[1200];
    path_in(c, "cluster.json", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int rc = 0;
    if (fd < 0) {
        rc = -errno;
    } else {
        char *s = json_dumps(o, JSON_INDENT(2));
        size_t n = strlen(s);
        if (write(fd, s, n) != (ssize_t)n || fsync(fd))
            rc = -errno ? -errno : OM_EIO;
        free(s);
        close(fd);
        if (!rc && rename(tmp, path))
            rc = -errno;
    }
    json_decref(o);
    if (rc)
        return om_err(err, errlen, rc, "cannot write %s: %s", path, om_strerror(rc));
    return 0;
}

/* 1: loaded; 0: no cluster.json; < 0: unreadable or invalid */
static int identity_load(clu *c, char *err, size_t errlen)
{
    char path[1100];
    path_in(c, "cluster.json", path, sizeof path);
    if (access(path, F_OK))
        return 0;
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o)
        return om_err(err, errlen, OM_EFORMAT, "%s: %s", path, je.text);
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *tok = json_string_value(json_object_get(o, "token"));
    const char *raft = json_string_value(json_object_get(o, "raft_addr"));
    int rc = 0;
    if (!id || cstate_id_parse(id, &c->id) || !name || !tok || !raft ||
        strlen(tok) >= sizeof c->token || strlen(name) >= sizeof c->name ||
        strlen(raft) >= sizeof c->raft_addr) {
        rc = om_err(err, errlen, OM_EFORMAT, "%s: missing or invalid id/name/token/raft_addr",
                    path);
    } else {
        cstate_id_fmt(c->id, c->id_hex);
        snprintf(c->name, sizeof c->name, "%s", name);
        snprintf(c->token, sizeof c->token, "%s", tok);
        snprintf(c->raft_addr, sizeof c->raft_addr, "%s", raft);
        rc = 1;
    }
    json_decref(o);
    return rc;
}

static void random_hex(char *out, size_t nbytes)
{
    unsigned char b[64];
    if (nbytes > sizeof b)
        nbytes = sizeof b;
    if (RAND_bytes(b, (int)nbytes) != 1)
        abort(); /* no entropy: nothing safe to do */
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void new_identity(clu *c)
{
    char hex[17];
    do {
        random_hex(hex, 8);
    } while (cstate_id_parse(hex, &c->id) || c->id == 0);
    cstate_id_fmt(c->id, c->id_hex);
}

/* ---- start / stop ---- */

static int raft_start(clu *c, bool bootstrap, char *err, size_t errlen)
{
    char dir[1100];
    path_in(c, "raft", dir, sizeof dir);
    int rc = mkdir_p(dir);
    if (rc)
        return om_err(err, errlen, rc, "cannot create %s: %s", dir, om_strerror(rc));
    struct craft_cfg rc_cfg = {
        .dir = dir,
        .id = c->id,
        .addr = c->raft_addr,
        .bootstrap = bootstrap,
        .election_ms = 500,
        .heartbeat_ms = 50,
        .snapshot_threshold = 256,
        .snapshot_trailing = 64,
        .fsm = cstate_fsm(c->st),
    };
    rc = craft_start(&rc_cfg, &c->raft, err, errlen);
    /* a restart right after a stop: the old process's connections may hold
     * the Raft port for a moment (a port truly in use fails after 3 s) */
    for (int i = 0; i < 30 && rc == -EADDRINUSE; i++) {
        usleep(100 * 1000);
        rc = craft_start(&rc_cfg, &c->raft, err, errlen);
    }
    return rc;
}

/* Waits for a leader to be known (any node); true when one is. */
static bool wait_leader(clu *c, int ms)
{
    for (int waited = 0; waited < ms; waited += 20) {
        struct craft_info ri;
        craft_info(c->raft, &ri);
        if (ri.leader_id)
            return true;
        usleep(20 * 1000);
    }
    return false;
}

#define JOIN_TRY_NS (30LL * 1000000000) /* a join waits this long for a leader */

/* Asks member to add this node. A refused token ends it at once; an
 * unreachable member or a cluster between leaders (503) is asked again
 * until JOIN_TRY_NS has passed. */
static int join_cluster(clu *c, const char *member, char *err, size_t errlen)
{
    json_t *body = json_pack("{s:s,s:s,s:s,s:s}", "id", c->id_hex, "name", c->name, "api_addr",
                             c->api_addr, "raft_addr", c->raft_addr);
    int64_t deadline = (int64_t)om_time_ns() + JOIN_TRY_NS;
    int rc;
    for (int attempt = 0;; attempt++) {
        int status = 0;
        json_t *resp = NULL;
        char e[512];
        rc = clu_post(c, member, "/api/cluster/join", body, 20000, &status, &resp, e, sizeof e);
        bool retry = rc != 0 || status >= 500;
        if (rc) {
            rc = om_err(err, errlen, rc, "cannot join through %s: %s", member, e);
        } else if (status != 200) {
            const char *msg = json_string_value(json_object_get(resp, "error"));
            rc = om_err(err, errlen, status == 403 ? OM_EINVAL : OM_EIO,
                        "join through %s refused: %s", member, msg ? msg : "unexpected answer");
        }
        json_decref(resp);
        if (rc == 0 || !retry || (int64_t)om_time_ns() > deadline)
            break;
        om_log(OM_LOG_INFO, "cluster", "join attempt %d: %s; trying again", attempt + 1, err);
        usleep(300 * 1000);
    }
    json_decref(body);
    return rc;
}

/* Removes the Raft dir (plain files only). */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[1400];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int clu_start(const struct clu_cfg *cfg, clu **out, char *err, size_t errlen)
{
    *out = NULL;
    clu *c = om_xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->wait_mu, NULL);
    pthread_condattr_t ca; /* clu_wait's deadlines are CLOCK_MONOTONIC */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wait_cv, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(c->data_dir, sizeof c->data_dir, "%s", cfg->data_dir);
    snprintf(c->api_addr, sizeof c->api_addr, "%s:%d",
             strcmp(cfg->api_host, "0.0.0.0") ? cfg->api_host : "127.0.0.1", cfg->api_port);
    snprintf(c->version, sizeof c->version, "%s", cfg->version ? cfg->version : "");
    c->store = cfg->store;
    c->store_mu = cfg->store_mu;
    c->sched = cfg->sched;
    c->transfers = json_array();
    c->seen = json_object();
    c->held = json_array();
    int rc = identity_load(c, err, errlen);
    bool restart = rc == 1;
    if (rc < 0)
        goto fail;
    if (!restart && !cfg->init && !(cfg->join && *cfg->join)) {
        clu_stop(c); /* a single node */
        return 0;
    }
    if (!restart) {
        new_identity(c);
        char host[256];
        if (gethostname(host, sizeof host))
            snprintf(host, sizeof host, "node");
        host[sizeof host - 1] = 0;
        snprintf(c->name, sizeof c->name, "%.200s:%d", host, cfg->api_port);
        if (cfg->raft_addr && *cfg->raft_addr)
            snprintf(c->raft_addr, sizeof c->raft_addr, "%s", cfg->raft_addr);
        else
            snprintf(c->raft_addr, sizeof c->raft_addr, "%s:%d",
                     strcmp(cfg->api_host, "0.0.0.0") ? cfg->api_host : "127.0.0.1",
                     cfg->api_port + 1);
        if (cfg->init) {
            snprintf(c->token, sizeof c->token, "omx-");
            random_hex(c->token + 4, 32);
        } else {
            if (!cfg->token || !*cfg->token) {
                rc = om_err(err, errlen, OM_EINVAL,
                            "joining a cluster needs its token (--token or "
                            "OLLAMAMAX_CLUSTER_TOKEN)");
                goto fail;
            }
            if (strlen(cfg->token) >= sizeof c->token) {
                rc = om_err(err, errlen, OM_EINVAL, "cluster token too long");
                goto fail;
            }
            snprintf(c->token, sizeof c->token, "%s", cfg->token);
        }
    }
    if ((rc = mkdir_p(c->data_dir))) {
        rc = om_err(err, errlen, rc, "cannot create %s: %s", c->data_dir, om_strerror(rc));
        goto fail;
    }
    if ((rc = cstate_open(&c->st, err, errlen)))
        goto fail;
    if ((rc = raft_start(c, !restart && cfg->init, err, errlen)))
        goto fail;
    if (!restart && cfg->init) {
        if (!wait_leader(c, 10000)) {
            rc = om_err(err, errlen, OM_ETIMEDOUT, "the new cluster elected no leader");
            goto fail_raft;
        }
        char *cmd = cstate_cmd_node_put(c->id_hex, c->name, c->api_addr, c->raft_addr);
        rc = clu_propose(c, cmd, err, errlen);
        free(cmd);
        if (rc)
            goto fail_raft;
    } else if (!restart) {
        if ((rc = join_cluster(c, cfg->join, err, errlen)))
            goto fail_raft;
    }
    if (!restart && (rc = identity_save(c, err, errlen)))
        goto fail_raft;
    if (!restart)
        c->register_local = true;
    if ((rc = clu_view_start(c))) {
        rc = om_err(err, errlen, rc, "cannot start the cluster threads");
        goto fail;
    }
    om_log(OM_LOG_INFO, "cluster", "node %s (%s) api %s raft %s%s", c->id_hex, c->name,
           c->api_addr, c->raft_addr, restart ? " (restarted)" : "");
    *out = c;
    return 0;
fail_raft:
    if (!restart) {
        /* a failed bootstrap or join leaves the data dir as it was */
        craft_stop(c->raft);
        c->raft = NULL;
        char dir[1100];
        path_in(c, "raft", dir, sizeof dir);
        rm_tree(dir);
    }
fail:
    clu_stop(c);
    return rc;
}

void clu_kick(clu *c)
{
    pthread_mutex_lock(&c->wait_mu);
    c->kick++;
    pthread_cond_broadcast(&c->wait_cv);
    pthread_mutex_unlock(&c->wait_mu);
}

void clu_halt(clu *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->wait_mu);
    c->stop = 1;
    pthread_cond_broadcast(&c->wait_cv);
    pthread_mutex_unlock(&c->wait_mu);
    if (c->threads) {
        pthread_join(c->hb_thread, NULL);
        pthread_join(c->rec_thread, NULL);
        c->threads = false;
    }
}

void clu_stop(clu *c)
{
    if (!c)
        return;
    clu_halt(c);
    craft_stop(c->raft);
    cstate_close(c->st);
    for (int i = 0; i < c->n_peers; i++)
        json_decref(c->peers[i].report);
    json_decref(c->transfers);
    json_decref(c->seen);
    json_decref(c->held);
    pthread_cond_destroy(&c->wait_cv);
    pthread_mutex_destroy(&c->wait_mu);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const char *clu_token(const clu *c) { return c->token; }
const char *clu_self_id(const clu *c) { return c->id_hex; }

/* ---- commands ---- */

int clu_propose(clu *c, const char *cmd, char *err, size_t errlen)
{
    int64_t deadline = (int64_t)om_time_ns() + (int64_t)CLU_PROPOSE_MS * 1000000;
    char e[512] = "no leader";
    int rc = OM_ETIMEDOUT;
    /* a command every replica would reject is refused here with the reason
     * (a dry run on this replica; it may lag a moment, so look again) */
    for (int tries = 0; cstate_check(c->st, cmd, strlen(cmd), e, sizeof e); tries++) {
        if (tries >= 10)
            return om_err(err, errlen, OM_EINVAL, "%s", e);
        usleep(100 * 1000);
    }
    while ((int64_t)om_time_ns() < deadline && !c->stop) {
        struct craft_info ri;
        craft_info(c->raft, &ri);
        if (ri.is_leader) {
            rc = craft_apply(c->raft, cmd, strlen(cmd), CLU_PROPOSE_MS, e, sizeof e);
            if (rc != CRAFT_ENOTLEADER)
                break;
        } else if (ri.leader_id) {
            char lid[17], addr[300];
            cstate_id_fmt(ri.leader_id, lid);
            clu_node_addr(c, lid, addr, sizeof addr);
            uint64_t v0 = cstate_version(c->st);
            if (*addr) {
                json_error_t je;
                json_t *body = json_loads(cmd, 0, &je);
                int status = 0;
                json_t *resp = NULL;
                rc = body ? clu_post(c, addr, "/api/cluster/propose", body, CLU_PROPOSE_MS,
                                     &status, &resp, e, sizeof e)
                          : OM_EINVAL;
                json_decref(body);
                if (!rc && status == 200) {
                    /* read your writes: wait until this node applied it too */
                    json_int_t idx = json_integer_value(json_object_get(resp, "index"));
                    json_decref(resp);
                    /* the applied index alone proved not enough (seen: index
                     * reached, the row not yet readable): also wait for the
                     * state's version to move past what it was before */
                    for (int w = 0; w < 200; w++) {
                        struct craft_info li;
                        craft_info(c->raft, &li);
                        if ((json_int_t)li.last_applied >= idx && cstate_version(c->st) > v0)
                            break;
                        usleep(10 * 1000);
                    }
                    break;
                }
                if (!rc) {
                    const char *m = json_string_value(json_object_get(resp, "error"));
                    snprintf(e, sizeof e, "%s", m ? m : "leader refused the command");
                    rc = status == 400 ? OM_EINVAL : OM_EIO;
                }
                json_decref(resp);
                if (rc == OM_EINVAL)
                    break;
            }
        }
        usleep(50 * 1000);
    }
    if (rc) {
        static const char pre[] = "cluster write failed: ";
        const char *why = strncmp(e, pre, sizeof pre - 1) ? e : e + sizeof pre - 1;
        return om_err(err, errlen, rc, "%s%s", pre, why);
    }
    return 0;
}

static int count_voters(const struct craft_info *ri)
{
    int n = 0;
    for (int i = 0; i < ri->n_servers; i++)
        n += ri->servers[i].role == CRAFT_VOTER;
    return n;
}

static bool addr_ok(const char *a)
{
    if (!a || !*a || strlen(a) >= 256)
        return false;
    const char *colon = strrchr(a, ':');
    return colon && colon != a && atoi(colon + 1) > 0 && atoi(colon + 1) < 65536;
}

int clu_join_handle(clu *c, const json_t *req, json_t **resp, char *err, size_t errlen)
{
    *resp = NULL;
    const char *id = json_string_value(json_object_get(req, "id"));
    const char *name = json_string_value(json_object_get(req, "name"));
    const char *api = json_string_value(json_object_get(req, "api_addr"));
    const char *raft = json_string_value(json_object_get(req, "raft_addr"));
    uint64_t nid = 0;
    if (!id || cstate_id_parse(id, &nid) || !nid || !name || !*name || strlen(name) > 255 ||
        !addr_ok(api) || !addr_ok(raft) || strlen(raft) >= 64)
        return om_err(err, errlen, OM_EINVAL, "join: id, name, api_addr and raft_addr required");
    struct craft_info ri;
    craft_info(c->raft, &ri);
    if (!ri.is_leader) {
        char lid[17], addr[300];
        if (!ri.leader_id)
            return om_err(err, errlen, OM_EAGAIN, "join: the cluster has no leader now");
        cstate_id_fmt(ri.leader_id, lid);
        clu_node_addr(c, lid, addr, sizeof addr);
        if (!*addr)
            return om_err(err, errlen, OM_EAGAIN, "join: the leader's address is unknown");
        int status = 0;
        char e[512];
        int rc = clu_post(c, addr, "/api/cluster/join", req, 20000, &status, resp, e, sizeof e);
        if (rc)
            return om_err(err, errlen, rc, "join: leader %s: %s", addr, e);
        if (status != 200) {
            const char *m = json_string_value(json_object_get(*resp, "error"));
            rc = om_err(err, errlen, OM_EIO, "join: %s", m ? m : "leader refused");
            json_decref(*resp);
            *resp = NULL;
        }
        return rc;
    }
    char *cmd = cstate_cmd_node_put(id, name, api, raft);
    int rc = clu_propose(c, cmd, err, errlen);
    free(cmd);
    if (rc)
        return rc;
    enum craft_role role = count_voters(&ri) < CLU_MAX_VOTERS ? CRAFT_VOTER : CRAFT_STANDBY;
    for (int i = 0; i < ri.n_servers; i++)
        if (ri.servers[i].id == nid && ri.servers[i].role == CRAFT_VOTER)
            role = CRAFT_VOTER; /* a rejoining voter stays one */
    if ((rc = craft_add(c->raft, nid, raft, role, 15000, err, errlen)))
        return rc;
    om_log(OM_LOG_INFO, "cluster", "node %s (%s) joined as %s", id, name, craft_role_name(role));
    *resp = json_pack("{s:s,s:o}", "leader", c->id_hex, "nodes", cstate_nodes(c->st));
    return 0;
}

/* Finds a member by id, id prefix (≥ 4 digits) or name. */
static json_t *find_node(clu *c, const char *key)
{
    json_t *n = cstate_node(c->st, key);
    if (n)
        return n;
    size_t kl = strlen(key);
    if (kl < 4)
        return NULL;
    json_t *all = cstate_nodes(c->st), *hit = NULL, *v;
    size_t i;
    int matches = 0;
    json_array_foreach(all, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        if (id && !strncmp(id, key, kl)) {
            matches++;
            hit = v;
        }
    }
    json_t *res = matches == 1 ? json_incref(hit) : NULL;
    json_decref(all);
    return res;
}

int clu_drain(clu *c, const char *node, bool drain, char *id_out, char *err, size_t errlen)
{
    json_t *n = find_node(c, node);
    if (!n)
        return om_err(err, errlen, OM_ENOTFOUND, "node \"%s\" not found", node);
    const char *id = json_string_value(json_object_get(n, "id"));
    snprintf(id_out, 17, "%s", id ? id : "");
    char *cmd = cstate_cmd_node_drain(id_out, drain);
    int rc = clu_propose(c, cmd, err, errlen);
    free(cmd);
    json_decref(n);
    return rc;
}

int clu_leave(clu *c, char *err, size_t errlen)
{
    struct craft_info ri;
    craft_info(c->raft, &ri);
    int rc = 0;
    if (ri.is_leader && ri.n_servers > 1) {
        /* hand leadership over first: a leader cannot remove itself cleanly */
        if ((rc = craft_transfer(c->raft, 0, 5000, err, errlen)))
            return rc;
        for (int i = 0; i < 100; i++) {
            craft_info(c->raft, &ri);
            if (!ri.is_leader && ri.leader_id)
                break;
            usleep(20 * 1000);
        }
    }
    char *cmd = cstate_cmd_node_del(c->id_hex);
    rc = clu_propose(c, cmd, err, errlen);
    free(cmd);
    if (rc)
        return rc;
    if (ri.n_servers > 1) {
        char lid[17], addr[300];
        cstate_id_fmt(ri.leader_id, lid);
        clu_node_addr(c, lid, addr, sizeof addr);
        json_t *body = json_pack("{s:s}", "id", c->id_hex), *resp = NULL;
        int status = 0;
        rc = *addr ? clu_post(c, addr, "/api/cluster/remove", body, 15000, &status, &resp, err,
                              errlen)
                   : OM_EAGAIN;
        json_decref(body);
        if (!rc && status != 200) {
            const char *m = json_string_value(json_object_get(resp, "error"));
            rc = om_err(err, errlen, OM_EIO, "leave: %s", m ? m : "the leader refused");
        } else if (rc == OM_EAGAIN) {
            om_err(err, errlen, rc, "leave: the leader's address is unknown");
        }
        json_decref(resp);
        if (rc)
            return rc;
    }
    char path[1100];
    path_in(c, "cluster.json", path, sizeof path);
    unlink(path);
    c->left = true; /* from now on a single node: no routing, reports or fetches */
    om_log(OM_LOG_INFO, "cluster", "node %s left the cluster", c->id_hex);
    return 0;
}

int clu_remove_handle(clu *c, const char *id, char *err, size_t errlen)
{
    uint64_t nid = 0;
    if (!id || cstate_id_parse(id, &nid) || !nid)
        return om_err(err, errlen, OM_EINVAL, "remove: invalid id");
    return craft_remove(c->raft, nid, 15000, err, errlen);
}

int clu_setting_put(clu *c, const char *key, const char *value, char *err, size_t errlen)
{
    char *cmd = cstate_cmd_setting_put(key, value);
    if (!cmd)
        return om_err(err, errlen, OM_EINVAL, "invalid setting %s=%s", key, value);
    int rc = clu_propose(c, cmd, err, errlen);
    free(cmd);
    return rc;
}

json_t *clu_settings(clu *c) { return cstate_settings(c->st); }

uint64_t clu_applied(clu *c)
{
    struct craft_info ri;
    craft_info(c->raft, &ri);
    return ri.last_applied;
}

int clu_model_put(clu *c, const char *full_name, const char *manifest, char *err,
                  size_t errlen)
{
    char *cmd = cstate_cmd_model_put_text(full_name, manifest);
    if (!cmd)
        return om_err(err, errlen, OM_EINVAL, "invalid catalog entry for %s", full_name);
    int rc = clu_propose(c, cmd, err, errlen);
    free(cmd);
    return rc;
}

int clu_model_del(clu *c, const char *full_name, char *err, size_t errlen)
{
    char *cmd = cstate_cmd_model_del(full_name);
    if (!cmd)
        return om_err(err, errlen, OM_EINVAL, "invalid model name %s", full_name);
    int rc = clu_propose(c, cmd, err, errlen);
    free(cmd);
    return rc;
}

json_t *clu_models(clu *c) { return cstate_models(c->st); }
