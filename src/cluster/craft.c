/* cluster/craft: libraft 0.15 on its own libuv loop thread — start, stop, the
 * FSM glue and the info cache. Requests from other threads live in
 * craft_req.c.
 *
 * Invariants:
 * - every raft_* call and every FSM callback runs on c->thread;
 * - the FSM wrapper always returns 0 to raft (a nonzero return would stop
 *   libraft 0.15 from applying any later entry); the user's rc travels in
 *   raft's `result` pointer to the apply callback;
 * - a new leader appends a barrier so that entries of earlier terms commit
 *   (and get applied) without waiting for the next write;
 * - io.version is set to 2 after raft_uv_init (0.15 sets 1; see c-deps.md). */
#include "cluster/craft_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/om.h"

#define CRAFT_TICK_MS 50

const char *craft_role_name(enum craft_role r)
{
    switch (r) {
    case CRAFT_VOTER: return "voter";
    case CRAFT_STANDBY: return "standby";
    case CRAFT_SPARE: return "spare";
    }
    return "unknown";
}

int craft_map_raft_rc(int rv)
{
    switch (rv) {
    case 0: return 0;
    case RAFT_NOTLEADER:
    case RAFT_LEADERSHIPLOST: return CRAFT_ENOTLEADER;
    case RAFT_SHUTDOWN:
    case RAFT_CANCELED: return OM_ECANCELED;
    case RAFT_NOMEM: return OM_ENOMEM;
    case RAFT_BADID:
    case RAFT_NOTFOUND: return OM_ENOTFOUND;
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS: return OM_EEXIST;
    case RAFT_BADROLE:
    case RAFT_INVALID:
    case RAFT_MALFORMED: return OM_EINVAL;
    case RAFT_CANTCHANGE:
    case RAFT_BUSY: return OM_EBUSY;
    case RAFT_TOOBIG: return OM_ERANGE;
    default: return OM_EIO;
    }
}

/* ---- framing ---- */

size_t craft_frame_len(size_t len)
{
    return 8 + ((len + 7) & ~(size_t)7);
}

void craft_frame(void *dst, const void *src, size_t len)
{
    unsigned char *d = dst;
    uint64_t n = len;
    for (int i = 0; i < 8; i++)
        d[i] = (unsigned char)(n >> (8 * i));
    if (len)
        memcpy(d + 8, src, len);
    memset(d + 8 + len, 0, craft_frame_len(len) - 8 - len);
}

const void *craft_unframe(const void *buf, size_t len, size_t *plen)
{
    const unsigned char *b = buf;
    if (!b || len < 8)
        return NULL;
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)b[i] << (8 * i);
    if (n > len - 8)
        return NULL;
    *plen = (size_t)n;
    return b + 8;
}

/* ---- FSM glue (loop thread) ---- */

static int fsm_apply(struct raft_fsm *f, const struct raft_buffer *buf, void **result)
{
    craft *c = f->data;
    size_t n = 0;
    const void *p = craft_unframe(buf->base, buf->len, &n);
    int rc;
    if (!p) {
        om_log(OM_LOG_ERROR, "craft", "node %016llx: log entry of %zu bytes is not framed; skipped",
               (unsigned long long)c->id, buf->len);
        rc = OM_EFORMAT;
    } else {
        rc = c->fsm.apply(c->fsm.user, p, n);
    }
    *result = (void *)(intptr_t)rc;
    return 0;
}

static int fsm_snapshot(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    craft *c = f->data;
    void *ubuf = NULL;
    size_t ulen = 0;
    if (c->fsm.snapshot(c->fsm.user, &ubuf, &ulen) != 0) {
        free(ubuf);
        om_log(OM_LOG_WARN, "craft", "node %016llx: FSM snapshot failed; raft retries later",
               (unsigned long long)c->id);
        return RAFT_BUSY;   /* transient for libraft: it retries at the next threshold */
    }
    struct raft_buffer *b = raft_malloc(sizeof *b);
    void *copy = raft_malloc(craft_frame_len(ulen));
    if (!b || !copy) {
        raft_free(b);
        raft_free(copy);
        free(ubuf);
        return RAFT_NOMEM;
    }
    craft_frame(copy, ubuf, ulen);
    free(ubuf);
    b->base = copy;
    b->len = craft_frame_len(ulen);
    *bufs = b;   /* raft frees both (fsm v1, no snapshot_finalize) */
    *n_bufs = 1;
    return 0;
}

static int fsm_restore(struct raft_fsm *f, struct raft_buffer *buf)
{
    craft *c = f->data;
    size_t n = 0;
    const void *p = craft_unframe(buf->base, buf->len, &n);
    int rc = p ? c->fsm.restore(c->fsm.user, p, n) : OM_EFORMAT;
    if (rc != 0) {
        om_log(OM_LOG_ERROR, "craft", "node %016llx: FSM restore of a %zu-byte snapshot failed: %s",
               (unsigned long long)c->id, buf->len, om_strerror(rc));
        return RAFT_MALFORMED;   /* raft keeps (and frees) the buffer */
    }
    raft_free(buf->base);   /* on success the buffer is ours */
    return 0;
}

/* ---- info cache ---- */

static enum craft_role role_from_raft(int r)
{
    return r == RAFT_VOTER ? CRAFT_VOTER : r == RAFT_STANDBY ? CRAFT_STANDBY : CRAFT_SPARE;
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    craft *c = req->data;
    c->barrier_busy = false;
    if (status != 0)
        om_log(OM_LOG_DEBUG, "craft", "leader barrier: %s", raft_strerror(status));
    else
        c->barrier_ok_term = c->barrier_req_term;
}

void craft_refresh_info(craft *c)
{
    if (!c->raft_inited || c->raft_closing)
        return;
    struct raft *r = &c->raft;
    bool leader = raft_state(r) == RAFT_LEADER;
    if (leader && !c->was_leader)
        om_log(OM_LOG_INFO, "craft", "node %016llx is leader (term %llu)",
               (unsigned long long)c->id, (unsigned long long)r->current_term);
    /* until a barrier of this term has committed (one still in flight from
     * an earlier term, or a refused one, is tried again) */
    if (leader && !c->barrier_busy && c->barrier_ok_term != r->current_term) {
        c->barrier.data = c;
        c->barrier_req_term = r->current_term;
        if (raft_barrier(r, &c->barrier, barrier_cb) == 0)
            c->barrier_busy = true;
    }
    c->was_leader = leader;

    raft_id lid = 0;
    const char *laddr = NULL;
    raft_leader(r, &lid, &laddr);
    pthread_mutex_lock(&c->mu);
    struct craft_info *in = &c->info;
    in->self = c->id;
    in->leader_id = lid;
    snprintf(in->leader_addr, sizeof in->leader_addr, "%s", laddr ? laddr : "");
    in->term = r->current_term;
    in->commit_index = r->commit_index;
    in->last_applied = raft_last_applied(r);
    in->is_leader = leader;
    unsigned n = r->configuration.n;
    if (n > OM_ARRAY_LEN(in->servers))
        n = OM_ARRAY_LEN(in->servers);
    in->n_servers = (int)n;
    for (unsigned i = 0; i < n; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        in->servers[i].id = s->id;
        snprintf(in->servers[i].addr, sizeof in->servers[i].addr, "%s", s->address ? s->address : "");
        in->servers[i].role = role_from_raft(s->role);
    }
    pthread_mutex_unlock(&c->mu);
}

void craft_info(craft *c, struct craft_info *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->info;
    pthread_mutex_unlock(&c->mu);
}

/* ---- loop callbacks ---- */

static void handle_closed(uv_handle_t *h) { (void)h; }

/* After raft_close: raft no longer uses io/transport, our handles can go. */
static void raft_closed_cb(struct raft *r)
{
    craft *c = r->data;
    raft_uv_close(&c->io);
    raft_uv_tcp_close(&c->transport);
    uv_close((uv_handle_t *)&c->async, handle_closed);
    uv_close((uv_handle_t *)&c->tick, handle_closed);
    uv_close((uv_handle_t *)&c->check, handle_closed);
}

static void begin_shutdown(craft *c)
{
    if (c->raft_closing)
        return;
    c->raft_closing = true;
    creq_cancel_queued(c, OM_ECANCELED);
    uv_timer_stop(&c->tick);
    raft_close(&c->raft, raft_closed_cb);   /* fails what raft holds, then calls back */
}

static void async_cb(uv_async_t *h)
{
    craft *c = h->data;
    pthread_mutex_lock(&c->mu);
    bool stop = c->stopping;
    pthread_mutex_unlock(&c->mu);
    if (stop) {
        begin_shutdown(c);
        return;
    }
    creq_drain(c);
    craft_refresh_info(c);
}

static void tick_cb(uv_timer_t *h)
{
    craft *c = h->data;
    creq_pump_changes(c);
    craft_refresh_info(c);
}

static void check_cb(uv_check_t *h)
{
    craft_refresh_info(h->data);
}

/* ---- start ---- */

static int mkdir_p(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return OM_EINVAL;
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == '\0') {
            char saved = tmp[i];
            tmp[i] = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -errno;
            tmp[i] = saved;
        }
    }
    return 0;
}

static void start_report(craft *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void start_report(craft *c, int rc, const char *fmt, ...)
{
    pthread_mutex_lock(&c->mu);
    c->start_rc = rc;
    c->start_done = true;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->start_err, sizeof c->start_err, fmt, ap);
        va_end(ap);
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Loop thread body before uv_run: sets up raft. Returns 0 or fills start_err. */
static int loop_setup(craft *c)
{
    int rv;
    uv_async_init(&c->loop, &c->async, async_cb);
    c->async.data = c;
    uv_timer_init(&c->loop, &c->tick);
    c->tick.data = c;
    uv_check_init(&c->loop, &c->check);
    c->check.data = c;

    if ((rv = raft_uv_tcp_init(&c->transport, &c->loop)) != 0) {
        start_report(c, OM_EIO, "raft_uv_tcp_init: %s", raft_strerror(rv));
        return -1;
    }
    if ((rv = raft_uv_init(&c->io, &c->loop, c->dir, &c->transport)) != 0) {
        start_report(c, OM_EIO, "raft dir %s: %s", c->dir, c->io.errmsg);
        raft_uv_tcp_close(&c->transport);
        return -1;
    }
    c->io.version = 2;
    raft_uv_set_connect_retry_delay(&c->io, 200);

    c->rfsm = (struct raft_fsm){ .version = 1, .data = c, .apply = fsm_apply,
                                 .snapshot = fsm_snapshot, .restore = fsm_restore };
    if ((rv = raft_init(&c->raft, &c->io, &c->rfsm, c->id, c->addr)) != 0) {
        start_report(c, OM_EIO, "raft_init: %s", raft_errmsg(&c->raft));
        raft_uv_close(&c->io);
        raft_uv_tcp_close(&c->transport);
        return -1;
    }
    c->raft.data = c;
    c->raft_inited = true;
    raft_set_election_timeout(&c->raft, c->election_ms);
    raft_set_heartbeat_timeout(&c->raft, c->heartbeat_ms);
    raft_set_snapshot_threshold(&c->raft, c->snap_threshold);
    raft_set_snapshot_trailing(&c->raft, c->snap_trailing);
    /* our snapshots are small (the cluster state): a snapshot whose answer
     * was lost is sent again after 2 s, not libraft's default 30 s (seen: a
     * restarted follower stuck at the snapshot's entry until then) */
    raft_set_install_snapshot_timeout(&c->raft, 2000);
    raft_set_pre_vote(&c->raft, true);

    if (c->bootstrap) {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        rv = raft_configuration_add(&conf, c->id, c->addr, RAFT_VOTER);
        if (rv == 0)
            rv = raft_bootstrap(&c->raft, &conf);
        raft_configuration_close(&conf);
        if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
            start_report(c, OM_EIO, "raft_bootstrap in %s: %s", c->dir, raft_strerror(rv));
            return -2;
        }
    }
    if ((rv = raft_start(&c->raft)) != 0) {
        /* libraft leaves the cause in one of three places */
        const char *why = c->transport.errmsg[0] ? c->transport.errmsg
                          : c->io.errmsg[0]      ? c->io.errmsg
                          : raft_errmsg(&c->raft);
        if (!why || !*why)
            why = raft_strerror(rv);
        start_report(c, OM_EIO, "raft_start in %s at %s: %s", c->dir, c->addr, why);
        return -2;
    }
    uv_timer_start(&c->tick, tick_cb, CRAFT_TICK_MS, CRAFT_TICK_MS);
    uv_check_start(&c->check, check_cb);
    craft_refresh_info(c);
    start_report(c, 0, NULL);
    return 0;
}

static void *loop_main(void *arg)
{
    craft *c = arg;
    int s = loop_setup(c);
    if (s == -1) {
        /* raft never initialised: close our own handles */
        uv_close((uv_handle_t *)&c->async, handle_closed);
        uv_close((uv_handle_t *)&c->tick, handle_closed);
        uv_close((uv_handle_t *)&c->check, handle_closed);
    } else if (s == -2) {
        c->raft_closing = true;
        raft_close(&c->raft, raft_closed_cb);
    }
    uv_run(&c->loop, UV_RUN_DEFAULT);
    /* Anything still queued (a request that raced with the shutdown). */
    creq_cancel_queued(c, OM_ECANCELED);
    creq_cancel_held(c);
    if (uv_loop_close(&c->loop) != 0)
        om_log(OM_LOG_WARN, "craft", "node %016llx: loop closed with live handles", (unsigned long long)c->id);
    pthread_mutex_lock(&c->mu);
    c->stopped = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* libraft 0.15 takes IPv4 "a.b.c.d:port" only and reports a failed bind as
 * a bare "I/O error": check both here to say what is wrong. */
static int check_addr(const char *addr, char *err, size_t errlen)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    if (!colon || hl == 0 || hl >= sizeof host || !end || *end || end == colon + 1 || port < 1 || port > 65535)
        return om_err(err, errlen, OM_EINVAL, "raft address '%s' is not IPv4:PORT", addr);
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return om_err(err, errlen, OM_EINVAL, "raft address '%s': '%s' is not an IPv4 address", addr, host);
    sa.sin_port = htons((uint16_t)port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return om_err(err, errlen, -errno, "raft address '%s': socket: %s", addr, strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);   /* as libuv binds */
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        rc = om_err(err, errlen, -errno, "raft address %s: %s", addr, strerror(errno));
    close(fd);
    return rc;
}

static void craft_free(craft *c)
{
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->dir);
    free(c->addr);
    free(c);
}

int craft_start(const struct craft_cfg *cfg, craft **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!cfg || !cfg->dir || !cfg->addr || cfg->id == 0)
        return om_err(err, errlen, OM_EINVAL, "craft_start: dir, addr and a non-zero id are required");
    if (!cfg->fsm.apply || !cfg->fsm.snapshot || !cfg->fsm.restore)
        return om_err(err, errlen, OM_EINVAL, "craft_start: fsm apply, snapshot and restore are required");
    if (strlen(cfg->addr) >= 64)
        return om_err(err, errlen, OM_EINVAL, "craft_start: raft address '%.64s…' is too long", cfg->addr);
    int rc = check_addr(cfg->addr, err, errlen);
    if (rc != 0)
        return rc;
    rc = mkdir_p(cfg->dir);
    if (rc != 0)
        return om_err(err, errlen, rc, "raft dir %s: %s", cfg->dir, om_strerror(rc));

    /* raft_uv_tcp writes to sockets of dead peers: SIGPIPE must not kill us. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);

    craft *c = om_xcalloc(1, sizeof *c);
    c->dir = om_xstrdup(cfg->dir);
    c->addr = om_xstrdup(cfg->addr);
    c->id = cfg->id;
    c->bootstrap = cfg->bootstrap;
    c->election_ms = cfg->election_ms ? cfg->election_ms : 1000;
    c->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 100;
    c->snap_threshold = cfg->snapshot_threshold ? cfg->snapshot_threshold : 1024;
    c->snap_trailing = cfg->snapshot_trailing ? cfg->snapshot_trailing : 128;
    c->fsm = cfg->fsm;
    c->info.self = c->id;

    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);

    if ((rc = uv_loop_init(&c->loop)) != 0) {
        om_err(err, errlen, OM_EIO, "uv_loop_init: %s", uv_strerror(rc));
        craft_free(c);
        return OM_EIO;
    }
    if ((rc = pthread_create(&c->thread, NULL, loop_main, c)) != 0) {
        uv_loop_close(&c->loop);
        craft_free(c);
        return om_err(err, errlen, -rc, "craft: cannot start the loop thread");
    }
    c->thread_started = true;
    pthread_mutex_lock(&c->mu);
    while (!c->start_done)
        pthread_cond_wait(&c->cv, &c->mu);
    rc = c->start_rc;
    pthread_mutex_unlock(&c->mu);
    if (rc != 0) {
        om_err(err, errlen, rc, "%s", c->start_err);
        pthread_join(c->thread, NULL);
        craft_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void craft_stop(craft *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_mutex_unlock(&c->mu);
    uv_async_send(&c->async);
    pthread_join(c->thread, NULL);
    /* Callers still inside a blocking call were woken (their requests are
     * finished); wait until they have left before freeing. */
    pthread_mutex_lock(&c->mu);
    while (c->n_callers > 0)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    craft_free(c);
}
