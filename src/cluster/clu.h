/* cluster: one node's membership in an OllamaMax cluster (docs/cluster.md).
 *
 * A clu owns the node's identity (data dir: cluster.json), its Raft instance
 * (craft) with the replicated state (cstate), the heartbeat thread that sends
 * this node's inventory to every member and keeps the view of the others,
 * the leader's duties (standby promotion, placements) and the reconciler that
 * fetches the models this node must hold from its peers (cxfer), or from the
 * registry when no peer has them.
 *
 * The HTTP side lives in api/: api_cluster.c answers the /api/cluster/ routes by calling
 * the functions below. Every function is thread-safe. */
#ifndef CLU_H
#define CLU_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/sched.h"

struct store_root;
typedef struct clu clu;

struct clu_cfg {
    const char *data_dir;   /* node data dir (cluster.json, raft/) */
    const char *api_host;   /* this node's API address as peers reach it */
    int api_port;
    const char *raft_addr;  /* "" = api_host:api_port+1 */
    bool init;              /* --cluster-init */
    const char *join;       /* a member's API "host:port", or "" */
    const char *token;      /* with join */
    struct store_root *store;
    pthread_mutex_t *store_mu; /* held around store deletes, or NULL */
    sched *sched;
    const char *version;    /* user agent for registry fallback pulls */
};

/* Starts the node's cluster part: restarts as the member recorded in the data
 * dir, bootstraps (init), or joins (join + token: contacts the member, which
 * adds this node through the leader; a wrong token is refused with err
 * "cluster token rejected"). *out is NULL (and 0 returned) when the data dir
 * holds no cluster and neither init nor join is asked: a single node. */
int clu_start(const struct clu_cfg *cfg, clu **out, char *err, size_t errlen);
/* Stops the heartbeat and reconciler threads (they use the store and the
 * scheduler); Raft and the read functions keep working until clu_stop. */
void clu_halt(clu *c);
void clu_stop(clu *c); /* clu_halt, then Raft stops and c is freed; NULL: no-op */

const char *clu_token(const clu *c);
const char *clu_self_id(const clu *c); /* 16 hex digits */

/* GET /api/cluster/status as in docs/cluster.md (new reference). */
json_t *clu_status_json(clu *c);

/* Proposes an FSM command (JSON text) and waits until it is committed: on the
 * leader directly, else through the leader's /api/cluster/propose. */
int clu_propose(clu *c, const char *cmd, char *err, size_t errlen);
/* The Raft index applied here (a proposal's answer carries it, so that the
 * node that forwarded it can wait to read its own write). */
uint64_t clu_applied(clu *c);
/* Leader side of a join (a follower forwards it): adds the node to Raft as a
 * voter (fewer than 5 voters) or a standby, and to the nodes table. *resp: a
 * new reference. */
int clu_join_handle(clu *c, const json_t *req, json_t **resp, char *err, size_t errlen);
/* Leader side of a leave: removes node id from the Raft configuration. */
int clu_remove_handle(clu *c, const char *id, char *err, size_t errlen);
/* true once this node left (it then serves as a single node) */
bool clu_left(clu *c);
/* A peer's inventory report (POST /api/cluster/report). */
int clu_report_in(clu *c, const json_t *report, char *err, size_t errlen);

/* drain/undrain by id, id prefix or name; OM_ENOTFOUND when unknown. */
int clu_drain(clu *c, const char *node, bool drain, char *id_out, char *err, size_t errlen);
/* This node leaves: removed from Raft and the nodes table, its cluster state
 * deleted from the data dir; it goes on as a single node. */
int clu_leave(clu *c, char *err, size_t errlen);
int clu_setting_put(clu *c, const char *key, const char *value, char *err, size_t errlen);
json_t *clu_settings(clu *c);

/* The catalog: after a local create/pull/copy registers the model (its
 * manifest bytes as stored); after a local delete removes it. */
int clu_model_put(clu *c, const char *full_name, const char *manifest, char *err, size_t errlen);
int clu_model_del(clu *c, const char *full_name, char *err, size_t errlen);
json_t *clu_models(clu *c); /* [{"name","manifest","text",…}] of the catalog */
/* A pull of a catalog model: its missing blobs from the up peers that hold it
 * (as the reconciler does), fn told each blob's progress. 0 once the model
 * is here; OM_ENOTFOUND when the catalog lacks it or no up peer holds it (the
 * caller then pulls from the registry). */
typedef void (*clu_pull_fn)(void *ud, const char *digest, int64_t total, int64_t done);
int clu_pull(clu *c, const char *full_name, clu_pull_fn fn, void *ud, volatile int *cancel,
             char *err, size_t errlen);

/* Routing: orders the nodes that can serve `full_name` (see docs/cluster.md
 * "Routing"); ids[i] (17 bytes) and addrs[i] (256 bytes) receive them, best
 * first. Returns how many (0: none can). */
struct clu_target {
    char id[17];
    char api_addr[256];
    bool self;
};
int clu_route(clu *c, const char *full_name, uint64_t prefix_hash, struct clu_target *out,
              int cap);
/* Whether node id reports (self: always). */
bool clu_node_up(clu *c, const char *id);
/* The gateway's measured time to first token from node id (latency routing). */
void clu_note_ttft(clu *c, const char *id, double ms);
/* The other up members' reports, for cluster-wide /api/ps: [{"id","name",
 * "api_addr"}] */
json_t *clu_peers_up(clu *c);

#endif
