/* cluster: private layout of a clu, shared by clu_node.c (identity, join,
 * Raft commands), clu_view.c (heartbeats, status, routing, leader duties)
 * and clu_rec.c (the reconciler). */
#ifndef CLU_INT_H
#define CLU_INT_H

#include <pthread.h>

#include "cluster/clu.h"
#include "cluster/craft.h"
#include "cluster/cstate.h"
#include "cluster/route.h"

#define CLU_MAX_PEERS 64
#define CLU_DOWN_NS (2500LL * 1000000)     /* no report for this long: down */
#define CLU_LOST_NS (10000LL * 1000000)    /* a voter down this long is replaced */
#define CLU_TICK_MS 1000                   /* heartbeat period */
#define CLU_MAX_VOTERS 5

/* What this gateway knows of one member from its reports. */
struct clu_peer {
    char id[17];
    json_t *report;        /* the last report (NULL: none yet) */
    int64_t last_ns;       /* monotonic time of that report */
    int64_t down_since_ns; /* monotonic; 0 while up */
    double ttft_ms;        /* < 0: not measured */
};

struct clu {
    char data_dir[1024];
    char api_addr[300];
    char raft_addr[300];
    char name[300];
    char token[128];
    char version[64];
    uint64_t id;
    char id_hex[17];
    struct store_root *store;
    pthread_mutex_t *store_mu; /* the server's store lock, or NULL */
    sched *sched;
    craft *raft;
    cstate *st;

    pthread_mutex_t mu; /* everything below */
    struct clu_peer peers[CLU_MAX_PEERS];
    int n_peers;
    struct route_state rr;
    json_t *transfers; /* [{"digest","total","done"}] running fetches */
    json_t *seen;      /* {full name: true}: catalog names this node has seen */
    json_t *held;      /* [full names] held completely here (refreshed by the reconciler) */
    uint64_t seq;

    pthread_t hb_thread, rec_thread;
    bool threads;
    bool register_local; /* a new member: put its local models into the catalog */
    _Atomic bool left;   /* left the cluster: serves as a single node */
    volatile int stop;
    unsigned kick; /* under wait_mu: bumped to end every clu_wait early */
    pthread_mutex_t wait_mu;
    pthread_cond_t wait_cv;
};

/* ---- clu_node.c ---- */
/* http://<addr><path> POSTed with the token; *resp a new reference or NULL. */
int clu_post(clu *c, const char *addr, const char *path, const json_t *body, int timeout_ms,
             int *status, json_t **resp, char *err, size_t errlen);
/* api_addr of node id from the nodes table, or "" */
void clu_node_addr(clu *c, const char *id, char *out, size_t cap);
/* Sleeps up to ms unless the clu is stopping (returns true then) or is
 * kicked (clu_kick: something changed that the threads should act on now —
 * a new held list to report, a peer that now holds a model). */
bool clu_wait(clu *c, int ms);
void clu_kick(clu *c);

/* ---- clu_view.c ---- */
int clu_view_start(clu *c);
struct clu_peer *clu_peer_get(clu *c, const char *id, bool create); /* under c->mu */
bool clu_peer_up(const clu *c, const struct clu_peer *p, int64_t now);
/* One heartbeat: report to every member, leader duties. */
void clu_tick(clu *c);

/* ---- clu_rec.c ---- */
void *clu_rec_main(void *arg);
/* Registers local models the catalog lacks (on init/join). */
void clu_rec_register_local(clu *c);
/* Full names held completely here (a new reference). */
json_t *clu_rec_held(clu *c);

#endif
