/* cluster/craft: private layout shared by craft.c (loop thread, lifecycle,
 * FSM glue, info cache) and craft_req.c (requests handed from other threads
 * to the loop: apply, configuration changes, leadership transfer).
 *
 * Hand-over protocol: a caller allocates a creq with refs = 2 (caller and
 * loop), pushes it on c->incoming under c->mu and wakes the loop with
 * uv_async_send. The loop finishes it exactly once (creq_finish: sets done and
 * rc, broadcasts c->cv, drops the loop's ref). The caller waits on c->cv until
 * done or its deadline, then drops its own ref; whoever drops the last ref
 * frees. A caller that gave up leaves refs == 1, which the loop uses to skip
 * work nobody waits for (only before the work was handed to raft: a request
 * raft holds must stay alive until raft's callback). */
#ifndef CRAFT_INT_H
#define CRAFT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "cluster/craft.h"

enum creq_kind { CREQ_APPLY, CREQ_ADD, CREQ_ASSIGN, CREQ_REMOVE, CREQ_TRANSFER };

struct creq {
    struct creq *next;
    craft *c;          /* c->incoming (under mu) or c->changes (loop only) */
    enum creq_kind kind;
    uint64_t id;                /* ADD/ASSIGN/REMOVE/TRANSFER target */
    char addr[64];              /* ADD */
    int role;                   /* ADD/ASSIGN: RAFT_VOTER/STANDBY/SPARE */
    void *buf;                  /* APPLY: raft_malloc'd copy; owned here until raft_apply takes it */
    size_t len;
    uint64_t deadline_ns;       /* om_time_ns() clock */
    /* under c->mu */
    int refs;
    bool done;
    int rc;
    char err[224];
    /* loop thread only */
    int steps;                  /* configuration changes submitted for this request */
    struct raft_apply apply;
    struct raft_change change;
    struct raft_transfer transfer;
};

struct craft {
    /* configuration (copies) */
    char *dir, *addr;
    uint64_t id;
    bool bootstrap;
    unsigned election_ms, heartbeat_ms, snap_threshold, snap_trailing;
    struct craft_fsm fsm;

    /* loop thread and its handles */
    pthread_t thread;
    bool thread_started;
    uv_loop_t loop;
    uv_async_t async;
    uv_timer_t tick;
    uv_check_t check;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft raft;
    struct raft_fsm rfsm;
    bool raft_inited, raft_closing;
    bool was_leader;
    bool barrier_busy;
    uint64_t barrier_req_term; /* term of the barrier in flight */
    uint64_t barrier_ok_term;  /* term whose barrier committed (0: none yet) */
    struct raft_barrier barrier;
    bool transfer_busy;
    struct creq *changes, *changes_tail;   /* loop-only FIFO; at most one in raft */
    struct creq *change_cur;               /* the one raft holds (or NULL) */
    struct creq *transfer_cur;
    int n_raft_applies;                    /* applies raft still holds */

    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct creq *incoming, *incoming_tail;
    bool stopping;       /* craft_stop called: new calls fail */
    bool stopped;        /* loop ended: every request finished */
    int n_callers;       /* threads inside a blocking call */
    int start_rc;        /* set by the loop thread once raft started (or failed) */
    bool start_done;
    char start_err[256];
    struct craft_info info;
};

/* craft_req.c */
/* Loop thread: takes c->incoming and dispatches it. */
void creq_drain(craft *c);
/* Loop thread: retries queued configuration changes, drops abandoned ones. */
void creq_pump_changes(craft *c);
/* Loop thread: finishes every request that is not held by raft with rc. */
void creq_cancel_queued(craft *c, int rc);
/* Loop thread, after uv_run ended: finishes what raft never called back. */
void creq_cancel_held(craft *c);
/* Loop thread: sets rc/err, wakes the caller, drops the loop's reference. */
void creq_finish(craft *c, struct creq *q, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* craft.c */
/* Entry and snapshot framing. libraft 0.15's disk format needs every entry's
 * length to be a multiple of 8 (uv_segment.c asserts it, and release builds
 * silently write a log they cannot read back), so a payload travels as
 * u64 little-endian length, the bytes, zero padding to 8. */
size_t craft_frame_len(size_t len);
void craft_frame(void *dst, const void *src, size_t len);
/* Returns the payload of a framed buffer or NULL when it is malformed. */
const void *craft_unframe(const void *buf, size_t len, size_t *plen);

/* Loop thread: copies raft's view into c->info under c->mu. */
void craft_refresh_info(craft *c);
/* Maps a raft_* status to our codes (CRAFT_ENOTLEADER, OM_E*). */
int craft_map_raft_rc(int rv);

#endif
