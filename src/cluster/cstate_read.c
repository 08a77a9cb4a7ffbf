/* cluster/cstate: reads of the replicated state as jansson values, from any
 * thread (under the state's mutex; each call sees one committed state). */
#include "cluster/cstate_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

static const char NODE_COLS[] = "SELECT id, name, api_addr, raft_addr, drained, added_ns FROM nodes";

static json_t *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return json_stringn(t ? (const char *)t : "", (size_t)sqlite3_column_bytes(s, i));
}

static json_t *node_row(sqlite3_stmt *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", col_text(s, 0));
    json_object_set_new(o, "name", col_text(s, 1));
    json_object_set_new(o, "api_addr", col_text(s, 2));
    json_object_set_new(o, "raft_addr", col_text(s, 3));
    json_object_set_new(o, "drained", json_boolean(sqlite3_column_int64(s, 4) != 0));
    json_object_set_new(o, "added_ns", json_integer(sqlite3_column_int64(s, 5)));
    return o;
}

static json_t *model_row(sqlite3_stmt *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", col_text(s, 0));
    const char *m = (const char *)sqlite3_column_text(s, 1);
    json_t *man = m ? json_loads(m, 0, NULL) : NULL;
    json_object_set_new(o, "manifest", man ? man : json_object());
    json_object_set_new(o, "text", col_text(s, 1)); /* the exact bytes */
    json_object_set_new(o, "digest", col_text(s, 2));
    json_object_set_new(o, "size", json_integer(sqlite3_column_int64(s, 3)));
    json_object_set_new(o, "updated_ns", json_integer(sqlite3_column_int64(s, 4)));
    return o;
}

/* Runs sql with up to one text parameter; appends row(s) of each row to arr,
 * or (arr NULL) returns the first row's value. */
static json_t *query(cstate *st, const char *sql, const char *arg, json_t *(*row)(sqlite3_stmt *), json_t *arr)
{
    json_t *first = NULL;
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK) {
        if (arg)
            sqlite3_bind_text(s, 1, arg, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(s) == SQLITE_ROW) {
            if (!arr) {
                first = row(s);
                break;
            }
            json_array_append_new(arr, row(s));
        }
    } else {
        om_log(OM_LOG_ERROR, "cstate", "query failed: %s", sqlite3_errmsg(st->db));
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->mu);
    return arr ? arr : first;
}

json_t *cstate_nodes(cstate *st)
{
    char sql[160];
    snprintf(sql, sizeof sql, "%s ORDER BY added_ns, id", NODE_COLS);
    return query(st, sql, NULL, node_row, json_array());
}

json_t *cstate_node(cstate *st, const char *id_or_name)
{
    if (!id_or_name)
        return NULL;
    char sql[200];
    snprintf(sql, sizeof sql, "%s WHERE id = ?1", NODE_COLS);
    json_t *n = query(st, sql, id_or_name, node_row, NULL);
    if (n)
        return n;
    /* names need not be unique: the most recently added wins */
    snprintf(sql, sizeof sql, "%s WHERE name = ?1 ORDER BY added_ns DESC, id DESC LIMIT 1", NODE_COLS);
    return query(st, sql, id_or_name, node_row, NULL);
}

json_t *cstate_models(cstate *st)
{
    return query(st, "SELECT name, manifest, digest, size, updated_ns FROM models ORDER BY name", NULL,
                 model_row, json_array());
}

json_t *cstate_model(cstate *st, const char *name)
{
    if (!name)
        return NULL;
    return query(st, "SELECT name, manifest, digest, size, updated_ns FROM models WHERE name = ?1", name,
                 model_row, NULL);
}

static json_t *text0(sqlite3_stmt *s) { return col_text(s, 0); }

json_t *cstate_placements(cstate *st, const char *model)
{
    if (model)
        return query(st, "SELECT node FROM placements WHERE model = ?1 ORDER BY node", model, text0, json_array());
    json_t *out = json_object();
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT model, node FROM placements ORDER BY model, node", -1, &s, NULL) ==
        SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *m = (const char *)sqlite3_column_text(s, 0);
            json_t *arr = json_object_get(out, m);
            if (!arr) {
                arr = json_array();
                json_object_set_new(out, m, arr);
            }
            json_array_append_new(arr, col_text(s, 1));
        }
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->mu);
    return out;
}

static json_t *kv_row(sqlite3_stmt *s)
{
    return json_pack("[o,o]", col_text(s, 0), col_text(s, 1));
}

json_t *cstate_settings(cstate *st)
{
    json_t *out = json_pack("{s:s,s:s}", "routing", cstate_setting_default("routing"), "replication",
                            cstate_setting_default("replication"));
    json_t *rows = query(st, "SELECT key, value FROM settings ORDER BY key", NULL, kv_row, json_array());
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
        json_object_set(out, json_string_value(json_array_get(r, 0)), json_array_get(r, 1));
    json_decref(rows);
    return out;
}

char *cstate_setting(cstate *st, const char *key)
{
    if (!key)
        return NULL;
    json_t *v = query(st, "SELECT value FROM settings WHERE key = ?1", key, text0, NULL);
    char *out = NULL;
    if (v)
        out = om_xstrdup(json_string_value(v));
    else if (cstate_setting_default(key))
        out = om_xstrdup(cstate_setting_default(key));
    json_decref(v);
    return out;
}
