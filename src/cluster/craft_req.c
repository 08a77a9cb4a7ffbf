/* cluster/craft: blocking calls from other threads (apply, add, assign,
 * remove, transfer) handed to the loop thread (craft_int.h describes the
 * hand-over), and their execution there.
 *
 * Configuration changes: libraft runs one at a time (RAFT_CANTCHANGE
 * otherwise). Ours wait in a FIFO; the head is re-evaluated against the
 * current configuration each time it gets its turn, so "add as voter" becomes
 * raft_add (spare) and then raft_assign, and a server already present is only
 * assigned. A RAFT_CANTCHANGE (a change not yet committed, ours or a previous
 * leader's) leaves the head in place for the next tick. */
#include "cluster/craft_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"

#define CRAFT_MAX_BUF (64u << 20)
#define CRAFT_MAX_STEPS 6

static void creq_unref_locked(struct creq *q)
{
    if (--q->refs == 0) {
        raft_free(q->buf);
        free(q);
    }
}

void creq_finish(craft *c, struct creq *q, int rc, const char *fmt, ...)
{
    /* the caller may read craft_info as soon as it wakes: make it current */
    craft_refresh_info(c);
    pthread_mutex_lock(&c->mu);
    q->done = true;
    q->rc = rc;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(q->err, sizeof q->err, fmt, ap);
        va_end(ap);
    }
    pthread_cond_broadcast(&c->cv);
    creq_unref_locked(q);
    pthread_mutex_unlock(&c->mu);
}

static bool creq_abandoned(craft *c, struct creq *q)
{
    pthread_mutex_lock(&c->mu);
    bool a = q->refs == 1;
    pthread_mutex_unlock(&c->mu);
    return a;
}

/* ---- apply ---- */

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct creq *q = req->data;
    craft *cc = q->c;
    cc->n_raft_applies--;
    if (status != 0 && cc->raft_closing) {
        creq_finish(cc, q, OM_ECANCELED, "craft stopped before the command was applied");
        return;
    }
    if (status != 0) {
        creq_finish(cc, q, craft_map_raft_rc(status), "raft apply: %s", raft_strerror(status));
        return;
    }
    int rc = (int)(intptr_t)result;
    if (rc < 0)
        creq_finish(cc, q, rc, "the state machine rejected the command: %s", om_strerror(rc));
    else
        creq_finish(cc, q, 0, NULL);
}

static void do_apply(craft *c, struct creq *q)
{
    if (raft_state(&c->raft) != RAFT_LEADER) {
        creq_finish(c, q, CRAFT_ENOTLEADER, "not the leader");
        return;
    }
    struct raft_buffer b = { .base = q->buf, .len = q->len };
    q->apply.data = q;
    int rv = raft_apply(&c->raft, &q->apply, &b, 1, apply_cb);
    if (rv != 0) {        /* the buffer is still ours: freed with q */
        creq_finish(c, q, craft_map_raft_rc(rv), "raft_apply: %s", raft_strerror(rv));
        return;
    }
    q->buf = NULL;        /* raft owns it now */
    c->n_raft_applies++;
}

/* ---- configuration changes ---- */

static const struct raft_server *conf_get(craft *c, uint64_t id)
{
    for (unsigned i = 0; i < c->raft.configuration.n; i++)
        if (c->raft.configuration.servers[i].id == id)
            return &c->raft.configuration.servers[i];
    return NULL;
}

static void change_cb(struct raft_change *req, int status)
{
    struct creq *q = req->data;
    craft *c = q->c;
    c->change_cur = NULL;
    if (c->raft_closing) {
        creq_finish(c, q, OM_ECANCELED, "craft is stopping");
    } else if (status != 0 && status != RAFT_CANTCHANGE) {
        creq_finish(c, q, craft_map_raft_rc(status), "configuration change for %016llx: %s",
                    (unsigned long long)q->id, raft_strerror(status));
    } else {
        /* re-evaluate (an add may still need its assign); on CANTCHANGE the
         * tick retries it */
        q->next = c->changes;
        c->changes = q;
        if (!c->changes_tail)
            c->changes_tail = q;
    }
    if (!c->raft_closing)
        creq_pump_changes(c);
}

/* Decides the next step for the head request. Returns true when the head was
 * finished or submitted (the pump may go on), false to wait for a tick. */
static bool change_step(craft *c, struct creq *q)
{
    const struct raft_server *s = conf_get(c, q->id);
    /* After a committed step the goal may hold although this node no longer
     * leads (a leader that removed or demoted itself steps down). */
    if (q->steps > 0 && (q->kind == CREQ_REMOVE ? !s : s && s->role == q->role)) {
        creq_finish(c, q, 0, NULL);
        return true;
    }
    if (raft_state(&c->raft) != RAFT_LEADER) {
        creq_finish(c, q, CRAFT_ENOTLEADER, "not the leader");
        return true;
    }
    int rv = 0;
    const char *what = "";
    q->change.data = q;
    switch (q->kind) {
    case CREQ_ADD:
        if (s && strcmp(s->address, q->addr) != 0) {
            creq_finish(c, q, OM_EEXIST, "server %016llx is already in the configuration at %s, not %s",
                        (unsigned long long)q->id, s->address, q->addr);
            return true;
        }
        if (!s) {
            what = "raft_add";
            rv = raft_add(&c->raft, &q->change, q->id, q->addr, change_cb);
            break;
        }
        /* present: only its role may differ */
        __attribute__((fallthrough));
    case CREQ_ASSIGN:
        if (!s) {
            creq_finish(c, q, OM_ENOTFOUND, "server %016llx is not in the configuration",
                        (unsigned long long)q->id);
            return true;
        }
        if (s->role == q->role) {
            creq_finish(c, q, 0, NULL);
            return true;
        }
        what = "raft_assign";
        rv = raft_assign(&c->raft, &q->change, q->id, q->role, change_cb);
        break;
    case CREQ_REMOVE:
        if (!s) {
            if (q->steps > 0)   /* our raft_remove committed */
                creq_finish(c, q, 0, NULL);
            else
                creq_finish(c, q, OM_ENOTFOUND, "server %016llx is not in the configuration",
                            (unsigned long long)q->id);
            return true;
        }
        what = "raft_remove";
        rv = raft_remove(&c->raft, &q->change, q->id, change_cb);
        break;
    default:
        creq_finish(c, q, OM_EINVAL, "bad request kind");
        return true;
    }
    if (rv == RAFT_CANTCHANGE)
        return false;
    if (rv != 0) {
        creq_finish(c, q, craft_map_raft_rc(rv), "%s %016llx: %s", what, (unsigned long long)q->id,
                    raft_strerror(rv));
        return true;
    }
    if (++q->steps > CRAFT_MAX_STEPS)
        om_log(OM_LOG_WARN, "craft", "configuration change for %016llx took %d steps",
               (unsigned long long)q->id, q->steps);
    c->change_cur = q;
    return true;
}

void creq_pump_changes(craft *c)
{
    while (!c->change_cur && c->changes && !c->raft_closing) {
        struct creq *q = c->changes;
        if (creq_abandoned(c, q) || om_time_ns() > q->deadline_ns) {
            c->changes = q->next;
            if (!c->changes)
                c->changes_tail = NULL;
            creq_finish(c, q, OM_ETIMEDOUT, "configuration change timed out");
            continue;
        }
        if (q->steps >= CRAFT_MAX_STEPS) {
            c->changes = q->next;
            if (!c->changes)
                c->changes_tail = NULL;
            creq_finish(c, q, OM_EIO, "configuration change for %016llx did not settle",
                        (unsigned long long)q->id);
            continue;
        }
        c->changes = q->next;
        if (!c->changes)
            c->changes_tail = NULL;
        if (!change_step(c, q)) {   /* RAFT_CANTCHANGE: keep at the head */
            q->next = c->changes;
            c->changes = q;
            if (!c->changes_tail)
                c->changes_tail = q;
            return;
        }
    }
}

/* ---- transfer ---- */

static void transfer_cb(struct raft_transfer *req)
{
    struct creq *q = req->data;
    craft *c = q->c;
    c->transfer_cur = NULL;
    if (raft_state(&c->raft) != RAFT_LEADER && !c->raft_closing)
        creq_finish(c, q, 0, NULL);
    else if (c->raft_closing)
        creq_finish(c, q, OM_ECANCELED, "stopped");
    else
        creq_finish(c, q, OM_ETIMEDOUT, "leadership transfer to %016llx did not complete",
                    (unsigned long long)q->id);
}

static void do_transfer(craft *c, struct creq *q)
{
    if (raft_state(&c->raft) != RAFT_LEADER) {
        creq_finish(c, q, CRAFT_ENOTLEADER, "not the leader");
        return;
    }
    if (c->transfer_cur) {
        creq_finish(c, q, OM_EBUSY, "a leadership transfer is already running");
        return;
    }
    q->transfer.data = q;
    int rv = raft_transfer(&c->raft, &q->transfer, q->id, transfer_cb);
    if (rv != 0) {
        creq_finish(c, q, craft_map_raft_rc(rv), "raft_transfer to %016llx: %s",
                    (unsigned long long)q->id, raft_strerror(rv));
        return;
    }
    c->transfer_cur = q;
}

/* ---- loop side: intake ---- */

void creq_drain(craft *c)
{
    pthread_mutex_lock(&c->mu);
    struct creq *q = c->incoming;
    c->incoming = c->incoming_tail = NULL;
    pthread_mutex_unlock(&c->mu);
    while (q) {
        struct creq *next = q->next;
        q->next = NULL;
        if (!c->raft_inited || c->raft_closing) {
            creq_finish(c, q, OM_ECANCELED, "craft is stopping");
        } else if (creq_abandoned(c, q)) {
            creq_finish(c, q, OM_ETIMEDOUT, "timed out before it started");
        } else if (q->kind == CREQ_APPLY) {
            do_apply(c, q);
        } else if (q->kind == CREQ_TRANSFER) {
            do_transfer(c, q);
        } else {
            if (c->changes_tail)
                c->changes_tail->next = q;
            else
                c->changes = q;
            c->changes_tail = q;
        }
        q = next;
    }
    creq_pump_changes(c);
}

void creq_cancel_queued(craft *c, int rc)
{
    struct creq *q = c->changes;
    c->changes = c->changes_tail = NULL;
    while (q) {
        struct creq *next = q->next;
        creq_finish(c, q, rc, "craft is stopping");
        q = next;
    }
    pthread_mutex_lock(&c->mu);
    q = c->incoming;
    c->incoming = c->incoming_tail = NULL;
    pthread_mutex_unlock(&c->mu);
    while (q) {
        struct creq *next = q->next;
        creq_finish(c, q, rc, "craft is stopping");
        q = next;
    }
}

void creq_cancel_held(craft *c)
{
    if (c->change_cur) {
        struct creq *q = c->change_cur;
        c->change_cur = NULL;
        creq_finish(c, q, OM_ECANCELED, "craft stopped");
    }
    if (c->transfer_cur) {
        struct creq *q = c->transfer_cur;
        c->transfer_cur = NULL;
        creq_finish(c, q, OM_ECANCELED, "craft stopped");
    }
    if (c->n_raft_applies > 0)
        om_log(OM_LOG_WARN, "craft", "%d applies never called back at close", c->n_raft_applies);
}

/* ---- caller side ---- */

static int submit_and_wait(craft *c, struct creq *q, int timeout_ms, char *err, size_t errlen)
{
    q->c = c;
    if (timeout_ms <= 0)
        timeout_ms = 1;
    q->deadline_ns = om_time_ns() + (uint64_t)timeout_ms * 1000000ull;
    q->refs = 2;
    pthread_mutex_lock(&c->mu);
    if (c->stopping || c->stopped) {
        pthread_mutex_unlock(&c->mu);
        raft_free(q->buf);
        free(q);
        return om_err(err, errlen, OM_ECANCELED, "craft is stopping");
    }
    if (pthread_equal(pthread_self(), c->thread)) {
        pthread_mutex_unlock(&c->mu);
        raft_free(q->buf);
        free(q);
        return om_err(err, errlen, OM_EINVAL, "craft: blocking call on the loop thread");
    }
    if (c->incoming_tail)
        c->incoming_tail->next = q;
    else
        c->incoming = q;
    c->incoming_tail = q;
    c->n_callers++;
    uv_async_send(&c->async);   /* under mu: the handle is alive while !stopping */

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t abs_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
                      (uint64_t)timeout_ms * 1000000ull;
    ts.tv_sec = (time_t)(abs_ns / 1000000000ull);
    ts.tv_nsec = (long)(abs_ns % 1000000000ull);
    while (!q->done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0 && !q->done)
            break;
    }
    int rc;
    if (q->done) {
        rc = q->rc;
        if (rc != 0)
            om_err(err, errlen, rc, "%s", q->err[0] ? q->err : om_strerror(rc));
    } else {
        rc = om_err(err, errlen, OM_ETIMEDOUT, "no answer from the raft loop within %d ms", timeout_ms);
    }
    creq_unref_locked(q);
    c->n_callers--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static struct creq *creq_new(enum creq_kind kind, uint64_t id)
{
    struct creq *q = om_xcalloc(1, sizeof *q);
    q->kind = kind;
    q->id = id;
    return q;
}

static int role_to_raft(enum craft_role r)
{
    return r == CRAFT_VOTER ? RAFT_VOTER : r == CRAFT_STANDBY ? RAFT_STANDBY : RAFT_SPARE;
}

int craft_apply(craft *c, const void *buf, size_t len, int timeout_ms, char *err, size_t errlen)
{
    if (!c || !buf || len == 0)
        return om_err(err, errlen, OM_EINVAL, "craft_apply: empty command");
    if (len > CRAFT_MAX_BUF)
        return om_err(err, errlen, OM_ENOMEM, "craft_apply: command of %zu bytes exceeds %u",
                      len, CRAFT_MAX_BUF);
    struct creq *q = creq_new(CREQ_APPLY, 0);
    q->len = craft_frame_len(len);
    q->buf = raft_malloc(q->len);
    if (!q->buf) {
        free(q);
        return om_err(err, errlen, OM_ENOMEM, "craft_apply: out of memory for %zu bytes", len);
    }
    craft_frame(q->buf, buf, len);
    return submit_and_wait(c, q, timeout_ms, err, errlen);
}

int craft_add(craft *c, uint64_t id, const char *addr, enum craft_role role, int timeout_ms,
              char *err, size_t errlen)
{
    if (!c || id == 0 || !addr || !*addr || strlen(addr) >= 64)
        return om_err(err, errlen, OM_EINVAL, "craft_add: a non-zero id and an address are required");
    struct creq *q = creq_new(CREQ_ADD, id);
    snprintf(q->addr, sizeof q->addr, "%s", addr);
    q->role = role_to_raft(role);
    return submit_and_wait(c, q, timeout_ms, err, errlen);
}

int craft_assign(craft *c, uint64_t id, enum craft_role role, int timeout_ms, char *err, size_t errlen)
{
    if (!c || id == 0)
        return om_err(err, errlen, OM_EINVAL, "craft_assign: a non-zero id is required");
    struct creq *q = creq_new(CREQ_ASSIGN, id);
    q->role = role_to_raft(role);
    return submit_and_wait(c, q, timeout_ms, err, errlen);
}

int craft_remove(craft *c, uint64_t id, int timeout_ms, char *err, size_t errlen)
{
    if (!c || id == 0)
        return om_err(err, errlen, OM_EINVAL, "craft_remove: a non-zero id is required");
    return submit_and_wait(c, creq_new(CREQ_REMOVE, id), timeout_ms, err, errlen);
}

int craft_transfer(craft *c, uint64_t to, int timeout_ms, char *err, size_t errlen)
{
    if (!c)
        return om_err(err, errlen, OM_EINVAL, "craft_transfer: no craft");
    return submit_and_wait(c, creq_new(CREQ_TRANSFER, to), timeout_ms, err, errlen);
}
