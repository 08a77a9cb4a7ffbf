/* cluster/cstate: the replicated state machine — an in-memory SQLite
 * database changed only by JSON commands from the Raft log.
 *
 * Determinism: every replica applies the same commands in the same order and
 * must end with the same database, so apply never reads a clock or anything
 * local: timestamps come from the command ("ts", set by the proposer's
 * builder; without it, one more than the largest stored timestamp). Every
 * check that can reject a command depends only on the command and the
 * current database, so all replicas reject the same commands. A command runs
 * in one transaction: rejected means rolled back, nothing changed.
 * Statements are parameterized; no text from a command reaches SQL text. */
#include "cluster/cstate_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/om.h"

static const char SCHEMA[] =
    "CREATE TABLE nodes(id TEXT PRIMARY KEY, name TEXT NOT NULL, api_addr TEXT NOT NULL,"
    " raft_addr TEXT NOT NULL, drained INTEGER NOT NULL DEFAULT 0, added_ns INTEGER NOT NULL);"
    "CREATE TABLE models(name TEXT PRIMARY KEY, manifest TEXT NOT NULL, digest TEXT NOT NULL,"
    " size INTEGER NOT NULL, updated_ns INTEGER NOT NULL);"
    "CREATE TABLE placements(model TEXT NOT NULL, node TEXT NOT NULL, PRIMARY KEY(model, node));"
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);";

const char *cstate_setting_default(const char *key)
{
    if (strcmp(key, "routing") == 0)
        return "least_loaded";
    if (strcmp(key, "replication") == 0)
        return "0";
    return NULL;
}

int cstate_open(cstate **out, char *err, size_t errlen)
{
    *out = NULL;
    sqlite3 *db = NULL;
    int rv = sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rv != SQLITE_OK) {
        om_err(err, errlen, OM_EIO, "cstate: sqlite open: %s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rv));
        sqlite3_close(db);
        return OM_EIO;
    }
    char *msg = NULL;
    if (sqlite3_exec(db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        om_err(err, errlen, OM_EIO, "cstate: schema: %s", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return OM_EIO;
    }
    cstate *st = om_xcalloc(1, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
    st->db = db;
    *out = st;
    return 0;
}

void cstate_close(cstate *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

uint64_t cstate_version(cstate *st)
{
    pthread_mutex_lock(&st->mu);
    uint64_t v = st->version;
    pthread_mutex_unlock(&st->mu);
    return v;
}

/* ---- validation helpers ---- */

/* A JSON string field: present, no NUL inside, 1..max bytes. */
static const char *get_str(json_t *cmd, const char *key, size_t max, char *err, size_t errlen)
{
    json_t *v = json_object_get(cmd, key);
    if (!json_is_string(v)) {
        om_err(err, errlen, OM_EINVAL, "field \"%s\" must be a string", key);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n > max || strlen(s) != n) {
        om_err(err, errlen, OM_EINVAL, "field \"%s\" must be 1..%zu bytes without NUL", key, max);
        return NULL;
    }
    return s;
}

static bool id_valid(const char *s)
{
    uint64_t id;
    return cstate_id_parse(s, &id) == 0;
}

static bool digest_valid(const char *s)
{
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
        return false;
    for (int i = 7; i < 71; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* A manifest layer/config: {"digest": "sha256:<hex>", "size": n >= 0, ...}. */
static int check_blob_ref(json_t *o, const char *what, size_t idx, json_int_t *size, char *err, size_t errlen)
{
    json_t *d = json_object_get(o, "digest"), *z = json_object_get(o, "size");
    if (!json_is_object(o) || !json_is_string(d) || !digest_valid(json_string_value(d)) ||
        !json_is_integer(z) || json_integer_value(z) < 0)
        return om_err(err, errlen, OM_EINVAL,
                      "manifest %s[%zu] needs \"digest\" (sha256:<64 lowercase hex>) and \"size\" >= 0",
                      what, idx);
    *size = json_integer_value(z);
    return 0;
}

/* Timestamp for the command: its "ts" or, without one, one past the largest stored. */
static int cmd_ts(cstate *st, json_t *cmd, int64_t *ts, char *err, size_t errlen)
{
    json_t *v = json_object_get(cmd, "ts");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return om_err(err, errlen, OM_EINVAL, "field \"ts\" must be a non-negative integer");
        *ts = json_integer_value(v);
        return 0;
    }
    sqlite3_stmt *s = NULL;
    *ts = 1;
    if (sqlite3_prepare_v2(st->db, "SELECT max(m) FROM (SELECT max(added_ns) AS m FROM nodes"
                           " UNION ALL SELECT max(updated_ns) FROM models)", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *ts = sqlite3_column_int64(s, 0) + 1;
    sqlite3_finalize(s);
    return 0;
}

/* Runs one parameterized statement; args are "s" (text) or "i" (int64). */
static int exec_stmt(cstate *st, const char *sql, const char *types, ...)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return OM_EIO;
    va_list ap;
    va_start(ap, types);
    for (int i = 0; types[i]; i++) {
        if (types[i] == 's')
            sqlite3_bind_text(s, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
    }
    va_end(ap);
    int rv = sqlite3_step(s);
    sqlite3_finalize(s);
    return rv == SQLITE_DONE || rv == SQLITE_ROW ? 0 : OM_EIO;
}

/* 1 when the query with one text parameter yields a row. */
static int exists(cstate *st, const char *sql, const char *arg)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(s, 1, arg, -1, SQLITE_TRANSIENT);
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return found;
}

#define TRY(x) do { int rc_ = (x); if (rc_ != 0) return rc_; } while (0)

/* ---- the commands (inside a transaction; errors roll back) ---- */

static int op_node_put(cstate *st, json_t *cmd, char *err, size_t errlen)
{
    const char *id, *name, *api, *raft;
    if (!(id = get_str(cmd, "id", 16, err, errlen)) || !(name = get_str(cmd, "name", CSTATE_MAX_FIELD, err, errlen)) ||
        !(api = get_str(cmd, "api_addr", CSTATE_MAX_FIELD, err, errlen)) ||
        !(raft = get_str(cmd, "raft_addr", CSTATE_MAX_FIELD, err, errlen)))
        return OM_EINVAL;
    if (!id_valid(id))
        return om_err(err, errlen, OM_EINVAL, "node id \"%s\" is not 16 lower-case hex digits (non-zero)", id);
    int64_t ts;
    TRY(cmd_ts(st, cmd, &ts, err, errlen));
    return exec_stmt(st, "INSERT INTO nodes(id, name, api_addr, raft_addr, drained, added_ns)"
                     " VALUES(?1, ?2, ?3, ?4, 0, ?5) ON CONFLICT(id) DO UPDATE SET"
                     " name = excluded.name, api_addr = excluded.api_addr, raft_addr = excluded.raft_addr",
                     "ssssi", id, name, api, raft, ts);
}

static int op_node_del(cstate *st, json_t *cmd, char *err, size_t errlen)
{
    const char *id = get_str(cmd, "id", 16, err, errlen);
    if (!id)
        return OM_EINVAL;
    if (!id_valid(id))
        return om_err(err, errlen, OM_EINVAL, "node id \"%s\" is not 16 lower-case hex digits (non-zero)", id);
    TRY(exec_stmt(st, "DELETE FROM placements WHERE node = ?1", "s", id));
    return exec_stmt(st, "DELETE FROM nodes WHERE id = ?1", "s", id);
}

static int op_node_drain(cstate *st, json_t *cmd, char *err, size_t errlen)
{
    const char *id = get_str(cmd, "id", 16, err, errlen);
    if (!id)
        return OM_EINVAL;
    json_t *d = json_object_get(cmd, "drain");
    if (!json_is_boolean(d))
        return om_err(err, errlen, OM_EINVAL, "field \"drain\" must be a boolean");
    if (!exists(st, "SELECT 1 FROM nodes WHERE id = ?1", id))
        return om_err(err, errlen, OM_ENOTFOUND, "node \"%s\" is not a member", id);
    return exec_stmt(st, "UPDATE nodes SET drained = ?2 WHERE id = ?1", "si", id, (int64_t)json_is_true(d));
}

static int op_model_put(cstate *st, json_t *cmd, char *err, size_t errlen)
{
    const char *name = get_str(cmd, "name", CSTATE_MAX_MODEL_NAME, err, errlen);
    if (!name)
        return OM_EINVAL;
    json_t *m = json_object_get(cmd, "manifest");
    json_t *layers = json_object_get(m, "layers");
    if (!json_is_object(m) || !json_is_array(layers))
        return om_err(err, errlen, OM_EINVAL, "model \"%s\": \"manifest\" must be an object with a \"layers\" array", name);
    if (json_array_size(layers) > CSTATE_MAX_LAYERS)
        return om_err(err, errlen, OM_EINVAL, "model \"%s\": more than %d layers", name, CSTATE_MAX_LAYERS);
    json_int_t total = 0, sz;
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l) {
        TRY(check_blob_ref(l, "layers", i, &sz, err, errlen));
        if (sz > INT64_MAX - total)
            return om_err(err, errlen, OM_EINVAL, "model \"%s\": total size overflows", name);
        total += sz;
    }
    json_t *cfg = json_object_get(m, "config");
    if (cfg) {
        TRY(check_blob_ref(cfg, "config", 0, &sz, err, errlen));
        if (sz > INT64_MAX - total)
            return om_err(err, errlen, OM_EINVAL, "model \"%s\": total size overflows", name);
        total += sz;
    }
    /* "text": the manifest's exact bytes as the proposer stores them (so every
     * node writes the same file and shows the same digest); it must be the
     * same document as "manifest". Without it, canonical JSON. */
    char *text = NULL;
    json_t *tv = json_object_get(cmd, "text");
    if (tv) {
        json_t *parsed = json_is_string(tv) ? json_loads(json_string_value(tv), 0, NULL) : NULL;
        bool same = parsed && json_equal(parsed, m);
        json_decref(parsed);
        if (!same)
            return om_err(err, errlen, OM_EINVAL, "model \"%s\": \"text\" is not the manifest", name);
        text = strdup(json_string_value(tv));
    } else {
        text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    }
    if (!text)
        return om_err(err, errlen, OM_EINVAL, "model \"%s\": manifest cannot be serialized", name);
    char digest[72];
    json_t *dv = json_object_get(cmd, "digest");
    if (dv) {
        if (!json_is_string(dv) || !digest_valid(json_string_value(dv))) {
            free(text);
            return om_err(err, errlen, OM_EINVAL, "model \"%s\": \"digest\" must be sha256:<64 lowercase hex>", name);
        }
        snprintf(digest, sizeof digest, "%s", json_string_value(dv));
    } else {
        unsigned char md[32];
        unsigned mdlen = 0;
        EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
        memcpy(digest, "sha256:", 7);
        for (int k = 0; k < 32; k++)
            snprintf(digest + 7 + 2 * k, 3, "%02x", md[k]);
    }
    int64_t ts;
    int rc = cmd_ts(st, cmd, &ts, err, errlen);
    if (rc == 0)
        rc = exec_stmt(st, "INSERT INTO models(name, manifest, digest, size, updated_ns) VALUES(?1, ?2, ?3, ?4, ?5)"
                       " ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest, digest = excluded.digest,"
                       " size = excluded.size, updated_ns = excluded.updated_ns",
                       "sssii", name, text, digest, (int64_t)total, ts);
    free(text);
    return rc;
}

static int op_model_del(cstate *st, json_t *cmd, char *err, size_t errlen)
{
    const char *name = get_str(cmd, "name", CSTATE_MAX_MODEL_NAME, err, errlen);
    if (!name)
        return OM_EINVAL;
    TRY(exec_stmt(st, "DELETE FROM placements WHERE model = ?1", "s", name));
    return exec_stmt(st, "DELETE FROM models WHERE name = ?1", "s", name);
}

static int op_placement_set(cstate *st, json_t *cmd, char *err, size_t errlen)
{
    const char *model = get_str(cmd, "model", CSTATE_MAX_MODEL_NAME, err, errlen);
    if (!model)
        return OM_EINVAL;
    json_t *nodes = json_object_get(cmd, "nodes");
    if (!json_is_array(nodes) || json_array_size(nodes) > CSTATE_MAX_PLACEMENT)
        return om_err(err, errlen, OM_EINVAL, "field \"nodes\" must be an array of at most %d node ids",
                      CSTATE_MAX_PLACEMENT);
    if (!exists(st, "SELECT 1 FROM models WHERE name = ?1", model))
        return om_err(err, errlen, OM_ENOTFOUND, "model \"%s\" is not in the catalog", model);
    size_t i;
    json_t *v;
    json_array_foreach(nodes, i, v) {
        const char *id = json_string_value(v);
        if (!id || !id_valid(id))
            return om_err(err, errlen, OM_EINVAL, "nodes[%zu] is not a node id (16 lower-case hex digits)", i);
        if (!exists(st, "SELECT 1 FROM nodes WHERE id = ?1", id))
            return om_err(err, errlen, OM_ENOTFOUND, "nodes[%zu]: node \"%s\" is not a member", i, id);
    }
    TRY(exec_stmt(st, "DELETE FROM placements WHERE model = ?1", "s", model));
    json_array_foreach(nodes, i, v)
        TRY(exec_stmt(st, "INSERT OR IGNORE INTO placements(model, node) VALUES(?1, ?2)", "ss",
                      model, json_string_value(v)));
    return 0;
}

static int op_setting_put(cstate *st, json_t *cmd, char *err, size_t errlen)
{
    const char *key = get_str(cmd, "key", CSTATE_MAX_FIELD, err, errlen);
    if (!key)
        return OM_EINVAL;
    const char *val = get_str(cmd, "value", CSTATE_MAX_FIELD, err, errlen);
    if (!val)
        return OM_EINVAL;
    if (strcmp(key, "routing") == 0) {
        static const char *const ok[] = { "least_loaded", "round_robin", "prefix_affinity", "latency" };
        bool found = false;
        for (size_t k = 0; k < OM_ARRAY_LEN(ok); k++)
            found |= strcmp(val, ok[k]) == 0;
        if (!found)
            return om_err(err, errlen, OM_EINVAL,
                          "routing \"%s\" is not one of least_loaded, round_robin, prefix_affinity, latency", val);
    } else if (strcmp(key, "replication") == 0) {
        size_t n = strlen(val);
        bool digits = n > 0 && n <= 4;
        for (size_t k = 0; k < n && digits; k++)
            digits = val[k] >= '0' && val[k] <= '9';
        if (!digits || atoi(val) > CSTATE_MAX_REPLICATION || (n > 1 && val[0] == '0'))
            return om_err(err, errlen, OM_EINVAL,
                          "replication \"%s\" is not an integer 0..%d (0 = every node)", val, CSTATE_MAX_REPLICATION);
    } else {
        return om_err(err, errlen, OM_EINVAL, "unknown setting \"%s\" (routing, replication)", key);
    }
    return exec_stmt(st, "INSERT INTO settings(key, value) VALUES(?1, ?2)"
                     " ON CONFLICT(key) DO UPDATE SET value = excluded.value", "ss", key, val);
}

static const struct {
    const char *op;
    int (*fn)(cstate *, json_t *, char *, size_t);
} OPS[] = {
    { "node_put", op_node_put },       { "node_del", op_node_del },
    { "node_drain", op_node_drain },   { "model_put", op_model_put },
    { "model_del", op_model_del },     { "placement_set", op_placement_set },
    { "setting_put", op_setting_put },
};

static int run_cmd(cstate *st, const void *buf, size_t len, bool keep, char *err, size_t errlen);

int cstate_apply(cstate *st, const void *buf, size_t len, char *err, size_t errlen)
{
    return run_cmd(st, buf, len, true, err, errlen);
}

int cstate_check(cstate *st, const void *buf, size_t len, char *err, size_t errlen)
{
    return run_cmd(st, buf, len, false, err, errlen);
}

/* Parses and runs one command in a transaction; commits it (keep) or rolls
 * it back (a dry run). */
static int run_cmd(cstate *st, const void *buf, size_t len, bool keep, char *err, size_t errlen)
{
    if (len > CSTATE_MAX_CMD)
        return om_err(err, errlen, OM_EINVAL, "command of %zu bytes exceeds %u", len, CSTATE_MAX_CMD);
    json_error_t jerr;
    json_t *cmd = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!cmd)
        return om_err(err, errlen, OM_EFORMAT, "command is not JSON: %s (offset %d)", jerr.text, jerr.position);
    const char *op = json_string_value(json_object_get(cmd, "op"));
    int (*fn)(cstate *, json_t *, char *, size_t) = NULL;
    for (size_t i = 0; op && i < OM_ARRAY_LEN(OPS); i++)
        if (strcmp(op, OPS[i].op) == 0)
            fn = OPS[i].fn;
    if (!json_is_object(cmd) || !fn) {
        int rc = om_err(err, errlen, OM_EINVAL, "command has no known \"op\" (got %s)", op ? op : "none");
        json_decref(cmd);
        return rc;
    }
    pthread_mutex_lock(&st->mu);
    int rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : OM_EIO;
    if (rc == 0) {
        rc = fn(st, cmd, err, errlen);
        if (rc == OM_EIO)
            om_err(err, errlen, OM_EIO, "%s: sqlite: %s", op, sqlite3_errmsg(st->db));
        if (rc == 0 && keep && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            rc = om_err(err, errlen, OM_EIO, "%s: commit: %s", op, sqlite3_errmsg(st->db));
        if (rc != 0 || !keep)
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        else
            st->version++;
    } else {
        om_err(err, errlen, OM_EIO, "begin: %s", sqlite3_errmsg(st->db));
    }
    pthread_mutex_unlock(&st->mu);
    json_decref(cmd);
    return rc;
}

/* ---- snapshot / restore ---- */

int cstate_snapshot(cstate *st, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    pthread_mutex_lock(&st->mu);
    sqlite3_int64 n = 0;
    unsigned char *img = sqlite3_serialize(st->db, "main", &n, 0);
    pthread_mutex_unlock(&st->mu);
    if (!img)
        return OM_EIO;
    unsigned char *out = om_xmalloc(CSTATE_SNAP_HDR + (size_t)n);
    memset(out, 0, CSTATE_SNAP_HDR);
    memcpy(out, CSTATE_SNAP_MAGIC, 8);
    memcpy(out + CSTATE_SNAP_HDR, img, (size_t)n);
    sqlite3_free(img);
    *buf = out;
    *len = CSTATE_SNAP_HDR + (size_t)n;
    return 0;
}

int cstate_restore(cstate *st, const void *buf, size_t len)
{
    if (len <= CSTATE_SNAP_HDR || memcmp(buf, CSTATE_SNAP_MAGIC, 8) != 0) {
        om_log(OM_LOG_ERROR, "cstate", "snapshot of %zu bytes has no cstate header", len);
        return OM_EFORMAT;
    }
    size_t n = len - CSTATE_SNAP_HDR;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return OM_EIO;
    }
    unsigned char *img = sqlite3_malloc64(n);
    if (!img) {
        sqlite3_close(db);
        return OM_ENOMEM;
    }
    memcpy(img, (const unsigned char *)buf + CSTATE_SNAP_HDR, n);
    int rv = sqlite3_deserialize(db, "main", img, (sqlite3_int64)n, (sqlite3_int64)n,
                                 SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE);
    /* The image must be a database with our four tables. */
    sqlite3_stmt *s = NULL;
    int ok = rv == SQLITE_OK &&
             sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM nodes), (SELECT count(*) FROM models),"
                                " (SELECT count(*) FROM placements), (SELECT count(*) FROM settings)",
                                -1, &s, NULL) == SQLITE_OK &&
             sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    if (ok) {
        char *r = NULL;
        s = NULL;
        ok = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) == SQLITE_OK &&
             sqlite3_step(s) == SQLITE_ROW && (r = (char *)sqlite3_column_text(s, 0)) && strcmp(r, "ok") == 0;
        sqlite3_finalize(s);
    }
    if (!ok) {
        om_log(OM_LOG_ERROR, "cstate", "snapshot of %zu bytes is not a cstate database: %s", len, sqlite3_errmsg(db));
        sqlite3_close(db);
        return OM_EFORMAT;
    }
    pthread_mutex_lock(&st->mu);
    sqlite3 *old = st->db;
    st->db = db;
    st->version++;
    pthread_mutex_unlock(&st->mu);
    sqlite3_close(old);
    return 0;
}

/* ---- craft glue ---- */

static int fsm_apply(void *user, const void *buf, size_t len)
{
    char err[256];
    int rc = cstate_apply(user, buf, len, err, sizeof err);
    if (rc != 0)
        om_log(OM_LOG_WARN, "cstate", "command rejected: %s", err);
    return rc;
}

static int fsm_snapshot(void *user, void **buf, size_t *len) { return cstate_snapshot(user, buf, len); }
static int fsm_restore(void *user, const void *buf, size_t len) { return cstate_restore(user, buf, len); }

struct craft_fsm cstate_fsm(cstate *st)
{
    return (struct craft_fsm){ .apply = fsm_apply, .snapshot = fsm_snapshot, .restore = fsm_restore, .user = st };
}
