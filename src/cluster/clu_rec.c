/* cluster: the reconciler — makes this node's model store agree with the
 * replicated catalog. About once a second it:
 *   - puts the local models of a new member into the catalog (once);
 *   - for every catalog model this node must hold (replication 0: every
 *     node; else the placements), fetches the missing blobs from the up
 *     peers that hold the model (cxfer: chunked, several peers at once,
 *     resumable, sha256-verified), or pulls it from its registry when no peer
 *     has it, then writes the manifest;
 *   - deletes local models that left the catalog (deleted on another node);
 *   - re-hashes held blobs whose size, mtime or inode changed since they were
 *     last verified, and removes a corrupted one (the next pass refetches it);
 *   - on the leader, writes placements for a replication factor N > 0
 *     (rendezvous hashing of model and node id: stable when nodes come and go).
 * The list of models held completely goes into this node's reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/om.h"
#include "cluster/clu_int.h"
#include "cluster/cxfer.h"
#include "store/models.h"
#include "store/registry.h"

struct rec_progress {
    clu *c;
    char digest[80];
    clu_pull_fn fn; /* a pull's own progress, or NULL */
    void *ud;
};

static void set_transfer(clu *c, const char *digest, int64_t total, int64_t done, bool end)
{
    pthread_mutex_lock(&c->mu);
    size_t i;
    json_t *t = NULL;
    json_array_foreach(c->transfers, i, t) {
        if (!strcmp(json_string_value(json_object_get(t, "digest")), digest))
            break;
    }
    if (end) {
        if (i < json_array_size(c->transfers))
            json_array_remove(c->transfers, i);
    } else if (i < json_array_size(c->transfers)) {
        json_object_set_new(t, "done", json_integer(done));
    } else {
        json_array_append_new(c->transfers, json_pack("{s:s,s:I,s:I}", "digest", digest, "total",
                                                      (json_int_t)total, "done",
                                                      (json_int_t)done));
    }
    pthread_mutex_unlock(&c->mu);
}

static void on_progress(void *user, const struct cxfer_progress *p)
{
    struct rec_progress *rp = user;
    set_transfer(rp->c, rp->digest, p->total, p->done, false);
    if (rp->fn)
        rp->fn(rp->ud, rp->digest, p->total, p->done);
}

/* Up peers (not us) whose reports say they hold name. */
static int peers_holding(clu *c, const char *name, struct cxfer_peer *out, int cap)
{
    json_t *up = clu_peers_up(c);
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(up, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        const char *addr = json_string_value(json_object_get(v, "api_addr"));
        bool holds = false;
        pthread_mutex_lock(&c->mu);
        struct clu_peer *p = clu_peer_get(c, id, false);
        if (p && p->report) {
            size_t k;
            json_t *m;
            json_array_foreach(json_object_get(p->report, "models"), k, m) {
                if (!strcmp(json_string_value(m), name))
                    holds = true;
            }
        }
        pthread_mutex_unlock(&c->mu);
        if (holds && addr && n < cap)
            snprintf(out[n++].api_addr, sizeof out->api_addr, "%s", addr);
    }
    json_decref(up);
    return n;
}

/* The digests and sizes a manifest names (config + layers). */
static int manifest_blobs(const json_t *m, const char **digests, int64_t *sizes, int cap)
{
    int n = 0;
    const json_t *cfg = json_object_get(m, "config");
    if (json_is_string(json_object_get(cfg, "digest")) && n < cap) {
        digests[n] = json_string_value(json_object_get(cfg, "digest"));
        sizes[n++] = json_integer_value(json_object_get(cfg, "size"));
    }
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(m, "layers"), i, l) {
        if (json_is_string(json_object_get(l, "digest")) && n < cap) {
            digests[n] = json_string_value(json_object_get(l, "digest"));
            sizes[n++] = json_integer_value(json_object_get(l, "size"));
        }
    }
    return n;
}

static bool local_matches(clu *c, const struct store_name *sn, const json_t *manifest)
{
    char *bytes = NULL;
    size_t len = 0;
    if (store_manifest_read(c->store, sn, &bytes, &len, NULL, NULL))
        return false;
    json_t *local = json_loadb(bytes, len, 0, NULL);
    free(bytes);
    bool same = local && json_equal(local, manifest);
    json_decref(local);
    return same;
}

static bool is_loopback_host(const char *host)
{
    return !strncmp(host, "127.", 4) || !strncmp(host, "localhost", 9) || !strncmp(host, "[::1]", 5);
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Brings one catalog model here. 0 when held completely. */
/* Registry attempts per model: after a failure the next waits REG_RETRY_NS. */
#define REG_RETRY_NS (30LL * 1000000000)
#define REG_GRACE_NS (10LL * 1000000000) /* peers get this long to report a new model */
static json_t *g_reg_next; /* {name: earliest next try (om_time_ns)} — the reconciler's own */

static int fetch_model(clu *c, const char *name, const json_t *manifest,
                       const char *text_bytes, int64_t updated_ns, clu_pull_fn fn, void *ud,
                       volatile int *cancel)
{
    struct store_name sn;
    if (store_name_parse(name, &sn))
        return OM_EINVAL;
    const char *digests[512];
    int64_t sizes[512];
    int nb = manifest_blobs(manifest, digests, sizes, 512);
    bool complete = true;
    for (int i = 0; i < nb; i++)
        complete = complete && store_blob_exists(c->store, digests[i]);
    if (complete && local_matches(c, &sn, manifest))
        return 0;
    char err[1024];
    int rc = 0;
    struct cxfer_peer peers[CXFER_MAX_PEERS];
    int np = peers_holding(c, name, peers, CXFER_MAX_PEERS);
    if (fn && np == 0 && !complete)
        return OM_ENOTFOUND; /* a pull: the caller goes to the registry itself */
    if (!complete && np == 0) {
        /* nobody here has it: from the registry of its name, once the members
         * had time to report it, and not more often than REG_RETRY_NS */
        int64_t now = (int64_t)om_time_ns();
        if (!g_reg_next)
            g_reg_next = json_object();
        json_t *next = json_object_get(g_reg_next, name);
        if (wall_ns() - updated_ns < REG_GRACE_NS || (next && now < json_integer_value(next)))
            return OM_EAGAIN;
        json_object_set_new(g_reg_next, name, json_integer(now + REG_RETRY_NS));
        struct reg_opts ro = {.insecure = is_loopback_host(sn.host), .no_prune = 1};
        rc = reg_pull(c->store, name, &ro, NULL, NULL, &c->stop, err, sizeof err);
        if (rc)
            om_log(OM_LOG_DEBUG, "cluster", "%s: no peer holds it; registry: %s", name, err);
        return rc;
    }
    for (int i = 0; i < nb && !rc && !c->stop; i++) {
        if (store_blob_exists(c->store, digests[i]))
            continue;
        struct rec_progress rp = {.c = c, .fn = fn, .ud = ud};
        snprintf(rp.digest, sizeof rp.digest, "%s", digests[i]);
        struct cxfer_opts o = {.token = c->token,
                               .compress = true,
                               .cancel = cancel ? cancel : &c->stop,
                               .progress = on_progress,
                               .user = &rp,
                               .connect_timeout_ms = 1000,
                               .stall_timeout_ms = 5000,
                               .first_byte_timeout_ms = 60000};
        set_transfer(c, digests[i], sizes[i], 0, false);
        rc = cxfer_fetch(c->store, digests[i], sizes[i], peers, np, &o, err, sizeof err);
        set_transfer(c, digests[i], 0, 0, true);
        if (rc)
            om_log(OM_LOG_WARN, "cluster", "%s: fetching %s from peers: %s", name, digests[i],
                   err);
        else
            om_log(OM_LOG_INFO, "cluster", "%s: %s fetched from %d peer(s)", name, digests[i],
                   np);
    }
    if (rc)
        return rc;
    char *text = text_bytes ? strdup(text_bytes) : json_dumps(manifest, JSON_COMPACT);
    rc = store_manifest_write(c->store, &sn, text, strlen(text));
    free(text);
    if (rc)
        om_log(OM_LOG_WARN, "cluster", "%s: writing the manifest: %s", name, om_strerror(rc));
    return rc;
}

/* ---- scrub ---- */

struct verified {
    char digest[80];
    int64_t size, mtime_ns, ino;
};
static struct verified *g_ver; /* the reconciler thread's own (one clu per process) */
static int g_nver;

static void scrub_blob(clu *c, const char *digest)
{
    char path[1400];
    struct stat st;
    if (store_blob_path(c->store, digest, path, sizeof path) || stat(path, &st))
        return;
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    int k;
    for (k = 0; k < g_nver; k++)
        if (!strcmp(g_ver[k].digest, digest))
            break;
    if (k < g_nver && g_ver[k].size == st.st_size && g_ver[k].mtime_ns == mt &&
        g_ver[k].ino == (int64_t)st.st_ino)
        return;
    char got[72], want[72];
    if (store_file_digest(path, got) || store_digest_canon(digest, want))
        return;
    if (strcmp(got, want)) {
        char bad[1500];
        snprintf(bad, sizeof bad, "%s.corrupt", path);
        rename(path, bad);
        unlink(bad);
        om_log(OM_LOG_WARN, "cluster", "blob %s failed its sha256 check: removed, refetching",
               digest);
        return;
    }
    if (k == g_nver) {
        g_ver = om_xrealloc(g_ver, (size_t)(g_nver + 1) * sizeof *g_ver);
        g_nver++;
    }
    snprintf(g_ver[k].digest, sizeof g_ver[k].digest, "%s", digest);
    g_ver[k].size = st.st_size;
    g_ver[k].mtime_ns = mt;
    g_ver[k].ino = (int64_t)st.st_ino;
}

/* ---- placements (leader) ---- */

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static uint64_t score(const char *model, const char *id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = model; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return mix(h);
}

static void leader_place(clu *c, const json_t *models, int rep)
{
    json_t *nodes = cstate_nodes(c->st);
    int nn = (int)json_array_size(nodes);
    if (nn == 0) {
        json_decref(nodes);
        return;
    }
    int want = rep < nn ? rep : nn;
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *ids[64];
        uint64_t sc[64];
        int k = 0;
        for (int j = 0; j < nn && j < 64; j++) {
            const char *id = json_string_value(json_object_get(json_array_get(nodes, (size_t)j),
                                                               "id"));
            uint64_t s = score(name, id);
            int pos = k++;
            while (pos > 0 && sc[pos - 1] < s) {
                sc[pos] = sc[pos - 1];
                ids[pos] = ids[pos - 1];
                pos--;
            }
            sc[pos] = s;
            ids[pos] = id;
        }
        json_t *cur = cstate_placements(c->st, name);
        bool same = (int)json_array_size(cur) == want;
        for (int j = 0; same && j < want; j++) {
            bool found = false;
            size_t q;
            json_t *v;
            json_array_foreach(cur, q, v) found = found || !strcmp(json_string_value(v), ids[j]);
            same = found;
        }
        json_decref(cur);
        if (same)
            continue;
        char *cmd = cstate_cmd_placement_set(name, ids, want);
        char err[256];
        if (cmd && clu_propose(c, cmd, err, sizeof err))
            om_log(OM_LOG_WARN, "cluster", "placing %s: %s", name, err);
        free(cmd);
    }
    json_decref(nodes);
}

/* ---- local models ---- */

struct local_list {
    json_t *names; /* {full name: manifest text} */
};

static int list_cb(void *ud, const struct store_name *n, const char *manifest, size_t len,
                   const char *digest_hex, int64_t mtime_ns)
{
    (void)digest_hex;
    (void)mtime_ns;
    struct local_list *l = ud;
    char full[1200];
    store_name_full(n, full, sizeof full);
    json_object_set_new(l->names, full, json_stringn(manifest, len));
    return 0;
}

static json_t *local_models(clu *c)
{
    struct local_list l = {.names = json_object()};
    store_list(c->store, list_cb, &l);
    return l.names;
}

void clu_rec_register_local(clu *c)
{
    json_t *local = local_models(c);
    const char *name;
    json_t *v;
    int failed = 0;
    json_object_foreach(local, name, v) {
        json_t *have = cstate_model(c->st, name);
        if (have) {
            json_decref(have);
            continue;
        }
        char err[512];
        if (clu_model_put(c, name, json_string_value(v), err, sizeof err)) {
            om_log(OM_LOG_WARN, "cluster", "registering local model %s: %s", name, err);
            failed++;
        }
    }
    json_decref(local);
    if (!failed)
        c->register_local = false;
}

json_t *clu_rec_held(clu *c)
{
    pthread_mutex_lock(&c->mu);
    json_t *h = json_deep_copy(c->held);
    pthread_mutex_unlock(&c->mu);
    return h;
}

static void rec_pass(clu *c)
{
    if (c->register_local)
        clu_rec_register_local(c);
    json_t *models = cstate_models(c->st);
    json_t *settings = cstate_settings(c->st);
    const char *rep_s = json_string_value(json_object_get(settings, "replication"));
    int rep = rep_s ? atoi(rep_s) : 0;
    struct craft_info ri;
    craft_info(c->raft, &ri);
    if (ri.is_leader && rep > 0)
        leader_place(c, models, rep);
    json_t *held = json_array();
    json_t *in_catalog = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        const json_t *manifest = json_object_get(m, "manifest");
        if (!name || !json_is_object(manifest))
            continue;
        json_object_set_new(in_catalog, name, json_true());
        pthread_mutex_lock(&c->mu);
        json_object_set_new(c->seen, name, json_true());
        pthread_mutex_unlock(&c->mu);
        bool hold = rep == 0;
        if (!hold) {
            json_t *pl = cstate_placements(c->st, name);
            size_t q;
            json_t *v;
            json_array_foreach(pl, q, v) hold = hold || !strcmp(json_string_value(v), c->id_hex);
            json_decref(pl);
        }
        struct store_name sn;
        bool local = !store_name_parse(name, &sn) && local_matches(c, &sn, manifest);
        if (hold || local) {
            const char *digests[512];
            int64_t sizes[512];
            int nb = manifest_blobs(manifest, digests, sizes, 512);
            for (int b = 0; b < nb; b++)
                scrub_blob(c, digests[b]);
        }
        if (hold && !c->stop)
            fetch_model(c, name, manifest, json_string_value(json_object_get(m, "text")),
                        json_integer_value(json_object_get(m, "updated_ns")), NULL, NULL, NULL);
        bool complete = !store_name_parse(name, &sn) && local_matches(c, &sn, manifest);
        if (complete) {
            const char *digests[512];
            int64_t sizes[512];
            int nb = manifest_blobs(manifest, digests, sizes, 512);
            for (int b = 0; b < nb; b++)
                complete = complete && store_blob_exists(c->store, digests[b]);
        }
        if (complete)
            json_array_append_new(held, json_string(name));
    }
    /* models deleted elsewhere: seen in the catalog before, gone now */
    json_t *local = local_models(c);
    const char *name;
    json_t *v;
    json_object_foreach(local, name, v) {
        pthread_mutex_lock(&c->mu);
        bool seen = json_object_get(c->seen, name) != NULL;
        pthread_mutex_unlock(&c->mu);
        struct store_name sn;
        if (!seen || json_object_get(in_catalog, name) || store_name_parse(name, &sn))
            continue;
        json_t *now = cstate_model(c->st, name); /* committed since the pass began? */
        if (now) {
            json_decref(now);
            continue;
        }
        if (c->store_mu)
            pthread_mutex_lock(c->store_mu);
        int rc = store_delete(c->store, &sn, true);
        if (c->store_mu)
            pthread_mutex_unlock(c->store_mu);
        om_log(OM_LOG_INFO, "cluster", "%s deleted from the cluster: removed here (%s)", name,
               rc ? om_strerror(rc) : "ok");
        pthread_mutex_lock(&c->mu);
        json_object_del(c->seen, name);
        pthread_mutex_unlock(&c->mu);
    }
    json_decref(local);
    pthread_mutex_lock(&c->mu);
    bool changed = !json_equal(c->held, held);
    json_decref(c->held);
    c->held = held;
    pthread_mutex_unlock(&c->mu);
    if (changed)
        clu_kick(c); /* report the new list now */
    json_decref(in_catalog);
    json_decref(models);
    json_decref(settings);
}

void *clu_rec_main(void *arg)
{
    clu *c = arg;
    uint64_t last = 0;
    unsigned kick = 0;
    int idle = 0;
    while (!c->stop) {
        uint64_t v = cstate_version(c->st);
        pthread_mutex_lock(&c->wait_mu);
        unsigned k = c->kick;
        pthread_mutex_unlock(&c->wait_mu);
        /* a full pass on every catalog change, every kick, and every 2 s */
        if (!c->left && (v != last || k != kick || ++idle >= 8)) {
            last = v;
            kick = k;
            idle = 0;
            rec_pass(c);
        }
        if (clu_wait(c, 250))
            break;
    }
    free(g_ver);
    g_ver = NULL;
    g_nver = 0;
    json_decref(g_reg_next);
    g_reg_next = NULL;
    return NULL;
}

int clu_pull(clu *c, const char *full_name, clu_pull_fn fn, void *ud, volatile int *cancel,
             char *err, size_t errlen)
{
    if (c->left)
        return OM_ENOTFOUND;
    json_t *m = cstate_model(c->st, full_name);
    if (!m)
        return OM_ENOTFOUND;
    int rc = fetch_model(c, full_name, json_object_get(m, "manifest"),
                         json_string_value(json_object_get(m, "text")), 0, fn, ud, cancel);
    json_decref(m);
    if (rc && rc != OM_ENOTFOUND)
        om_err(err, errlen, rc, "fetching %s from the cluster: %s", full_name, om_strerror(rc));
    return rc;
}
