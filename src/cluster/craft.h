/* cluster/craft: Raft consensus for the cluster, glue over libraft 0.15
 * (raft_uv + raft_uv_tcp). Each craft instance owns one libuv loop thread on
 * which every raft_* call and every FSM callback runs; the blocking calls
 * below may be made from any other thread: they queue a request, wake the
 * loop with uv_async_send and wait on a condition variable with a timeout.
 * Several instances may live in one process (tests do this).
 *
 * The program must ignore SIGPIPE (raft_uv_tcp writes to dead peers);
 * craft_start does signal(SIGPIPE, SIG_IGN) itself when it is still SIG_DFL.
 * Log entries and snapshots are framed (u64 length + bytes + padding to 8:
 * libraft 0.15's segment format needs 8-byte multiples); the FSM sees only
 * the bytes given to craft_apply. */
#ifndef CRAFT_H
#define CRAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "This node is not the leader": distinct from every OM_E* code and -errno.
 * craft_info().leader_id/leader_addr say where the leader is (0/"" if none
 * is known). */
#define CRAFT_ENOTLEADER (-4101)

typedef struct craft craft;

enum craft_role { CRAFT_VOTER = 0, CRAFT_STANDBY = 1, CRAFT_SPARE = 2 };

/* The replicated state machine. Called on the loop thread only, in log order;
 * keep them short. */
struct craft_fsm {
    /* 0 or an error; an entry whose apply fails still counts as applied (the
     * FSM must then have changed nothing, identically on every replica). */
    int (*apply)(void *user, const void *buf, size_t len);
    /* *buf is malloc'd by the FSM; craft frees it. */
    int (*snapshot)(void *user, void **buf, size_t *len);
    /* buf is borrowed for the duration of the call. Replaces the whole state. */
    int (*restore)(void *user, const void *buf, size_t len);
    void *user;
};

struct craft_cfg {
    const char *dir;          /* raft data dir (created if missing) */
    uint64_t id;              /* != 0 */
    const char *addr;         /* "IPv4:port": raft bind and advertised address */
    bool bootstrap;           /* a one-node cluster of itself, only if dir is pristine */
    unsigned election_ms;     /* 0 = 1000 */
    unsigned heartbeat_ms;    /* 0 = 100 */
    unsigned snapshot_threshold, snapshot_trailing; /* 0 = 1024 / 128 */
    struct craft_fsm fsm;
};

/* Starts the loop thread, opens (or creates) cfg->dir and starts raft. With
 * bootstrap, a pristine dir gets a configuration of this node alone as a
 * voter; a dir with state just restarts as it was. A node without bootstrap
 * and without state waits to be added by a leader (craft_add). cfg strings
 * are copied. Returns 0 and *out, or a negative code with err filled. */
int craft_start(const struct craft_cfg *cfg, craft **out, char *err, size_t errlen);

/* Closes raft, stops and joins the loop thread, frees c. NULL is a no-op.
 * Pending blocking calls from other threads return OM_ECANCELED (they must
 * not start after craft_stop began). A leader does not hand over first: the
 * others elect a new one after their election timeout, as after a crash;
 * call craft_transfer before for a quick planned hand-over. */
void craft_stop(craft *c);

/* Appends a copy of buf to the log and waits until it is committed and
 * applied locally. Returns 0 (rc of fsm.apply is returned when negative, so
 * the caller learns that its command was rejected by the FSM), CRAFT_ENOTLEADER,
 * OM_ETIMEDOUT (the entry may still commit later), OM_ECANCELED on stop,
 * OM_EIO for other raft errors. */
int craft_apply(craft *c, const void *buf, size_t len, int timeout_ms, char *err, size_t errlen);

/* Leader only. Adds server id at addr (as a spare first, then assigned to
 * role; a voter is caught up before it votes); one configuration change runs
 * at a time, others queue and retry. Idempotent: a server already present is
 * only (re)assigned to role; present at another address: OM_EEXIST.
 * Returns 0 when the configuration holds the server in that role,
 * CRAFT_ENOTLEADER, OM_ETIMEDOUT, or OM_EIO (e.g. the new server could not
 * be reached to catch up). */
int craft_add(craft *c, uint64_t id, const char *addr, enum craft_role role, int timeout_ms,
              char *err, size_t errlen);
int craft_assign(craft *c, uint64_t id, enum craft_role role, int timeout_ms, char *err, size_t errlen);
/* Removes a server from the configuration (the leader itself too: it steps
 * down once the change commits); OM_ENOTFOUND when it is absent. */
int craft_remove(craft *c, uint64_t id, int timeout_ms, char *err, size_t errlen);
/* Leader only: hands leadership to voter `to` (0 = the most up-to-date voter)
 * and waits until this node is no longer leader. */
int craft_transfer(craft *c, uint64_t to, int timeout_ms, char *err, size_t errlen);

struct craft_server { uint64_t id; char addr[64]; enum craft_role role; };
struct craft_info {
    uint64_t self, leader_id;
    char leader_addr[64];
    uint64_t term, commit_index, last_applied;
    bool is_leader;
    int n_servers;
    struct craft_server servers[64];  /* the current configuration (first 64) */
};
/* A consistent copy of the node's view, from any thread (refreshed on the
 * loop thread after every event and every ~50 ms). */
void craft_info(craft *c, struct craft_info *out);

/* Names a craft_role: "voter", "standby", "spare". */
const char *craft_role_name(enum craft_role r);

#endif
