/* cluster/cstate: the cluster's replicated state machine, an in-memory SQLite
 * database (tables nodes, models, placements, settings; docs/cluster.md
 * "Replicated state"). Commands are JSON objects with "op"; they are applied
 * with parameterized statements only, in one transaction each, and an
 * invalid command changes nothing (deterministically, so every replica
 * rejects it the same way). Node ids are 16 lower-case hex digits.
 *
 * Beyond docs/cluster.md's fields: node_put and model_put may carry "ts"
 * (wall-clock ns, stamped by the builders below) that becomes added_ns /
 * updated_ns, so every replica stores the proposer's time (apply reads no
 * clock); model_put may carry "digest" (sha256:<hex>, else the sha256 of
 * the manifest's canonical JSON). Checks: ids 16 lower-case hex, not 0;
 * names/addresses 1..255 bytes (model names 1..512); a manifest is an object
 * with a "layers" array of {"digest","size"}; placement_set needs a model in
 * the catalog and member nodes; node_drain needs a member; settings routing
 * in least_loaded|round_robin|prefix_affinity|latency, replication 0..1000.
 * node_del / model_del of an absent entry succeed (idempotent).
 *
 * Threads: apply/snapshot/restore run on craft's loop thread, reads from any
 * thread; one mutex guards the connection. */
#ifndef CSTATE_H
#define CSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cluster/craft.h"

typedef struct cstate cstate;

/* Opens an empty state (settings at their defaults). */
int cstate_open(cstate **out, char *err, size_t errlen);
void cstate_close(cstate *st);   /* NULL is a no-op */

/* Applies one command (the FSM apply). Returns 0, or OM_EINVAL / OM_EFORMAT
 * with err naming the field when the command is invalid (nothing changed),
 * OM_EIO on an SQLite failure (rolled back). Bumps the version on success. */
int cstate_apply(cstate *st, const void *buf, size_t len, char *err, size_t errlen);
/* A dry run of cstate_apply against this replica (rolled back, version
 * unchanged): 0, or the error apply would give, with the reason in err. Lets
 * an API answer 400 with the exact reason before proposing; advisory only
 * (the leader's state may differ from this replica's). */
int cstate_check(cstate *st, const void *buf, size_t len, char *err, size_t errlen);
/* Serializes the whole database: *buf malloc'd, caller frees. */
int cstate_snapshot(cstate *st, void **buf, size_t *len);
/* Replaces the whole state by a snapshot (copied); on a bad snapshot the
 * state is unchanged and OM_EFORMAT returned. Bumps the version. */
int cstate_restore(cstate *st, const void *buf, size_t len);

/* The FSM callbacks for craft (apply/snapshot/restore above). */
struct craft_fsm cstate_fsm(cstate *st);

/* Reads, from any thread; each returns a new jansson reference (caller
 * decrefs) or NULL where said. */
/* [{"id","name","api_addr","raft_addr","drained":bool,"added_ns"}] by added_ns */
json_t *cstate_nodes(cstate *st);
/* one node by id or name, or NULL */
json_t *cstate_node(cstate *st, const char *id_or_name);
/* [{"name","manifest":{…},"digest","size","updated_ns"}] by name */
json_t *cstate_models(cstate *st);
json_t *cstate_model(cstate *st, const char *name);      /* or NULL */
/* array of node ids for one model; model NULL: {"model":[ids],…} */
json_t *cstate_placements(cstate *st, const char *model);
/* {"routing":"least_loaded","replication":"0", …} with the defaults filled in */
json_t *cstate_settings(cstate *st);
/* One setting's value (malloc'd, caller frees); the default for known keys
 * without a row, NULL for an unknown key. */
char *cstate_setting(cstate *st, const char *key);

/* Bumped by every applied (valid) command and every restore. */
uint64_t cstate_version(cstate *st);

/* Command builders: malloc'd JSON strings (caller frees), NULL only when an
 * argument is NULL. Validation happens at apply time. */
char *cstate_cmd_node_put(const char *id, const char *name, const char *api_addr, const char *raft_addr);
char *cstate_cmd_node_del(const char *id);
char *cstate_cmd_node_drain(const char *id, bool drain);
char *cstate_cmd_model_put(const char *name, const json_t *manifest);
/* model_put with the manifest's exact bytes (they must parse to an object);
 * every replica stores text verbatim and reads give it back as "text". */
char *cstate_cmd_model_put_text(const char *name, const char *text);
char *cstate_cmd_model_del(const char *name);
char *cstate_cmd_placement_set(const char *model, const char *const *ids, int n);
char *cstate_cmd_setting_put(const char *key, const char *value);

/* Formats a node id as 16 lower-case hex digits into out[17]; parses one
 * back (exactly 16 hex digits, not 0) returning 0 or OM_EINVAL. */
void cstate_id_fmt(uint64_t id, char out[17]);
int cstate_id_parse(const char *s, uint64_t *id);

#endif
