/* cluster/cstate: builders of FSM command JSON (so no caller writes one by
 * hand) and node-id formatting. Builders stamp "ts" (wall clock, ns) on the
 * commands that record a time; apply uses it so that every replica stores
 * the proposer's time. Validation happens at apply time, on every replica. */
#include "cluster/cstate_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/om.h"

static json_int_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (json_int_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Takes o; returns its compact text (malloc'd) or NULL. */
static char *dump(json_t *o)
{
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

char *cstate_cmd_node_put(const char *id, const char *name, const char *api_addr, const char *raft_addr)
{
    if (!id || !name || !api_addr || !raft_addr)
        return NULL;
    return dump(json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "op", "node_put", "id", id, "name", name, "api_addr",
                          api_addr, "raft_addr", raft_addr, "ts", wall_ns()));
}

char *cstate_cmd_node_del(const char *id)
{
    if (!id)
        return NULL;
    return dump(json_pack("{s:s,s:s}", "op", "node_del", "id", id));
}

char *cstate_cmd_node_drain(const char *id, bool drain)
{
    if (!id)
        return NULL;
    return dump(json_pack("{s:s,s:s,s:b}", "op", "node_drain", "id", id, "drain", drain));
}

char *cstate_cmd_model_put(const char *name, const json_t *manifest)
{
    if (!name || !manifest)
        return NULL;
    /* json_pack "O" increfs; the const is only about not changing it */
    return dump(json_pack("{s:s,s:s,s:O,s:I}", "op", "model_put", "name", name, "manifest", (json_t *)manifest,
                          "ts", wall_ns()));
}

char *cstate_cmd_model_put_text(const char *name, const char *text)
{
    json_t *m = text ? json_loads(text, 0, NULL) : NULL;
    if (!name || !json_is_object(m)) {
        json_decref(m);
        return NULL;
    }
    return dump(json_pack("{s:s,s:s,s:o,s:s,s:I}", "op", "model_put", "name", name, "manifest", m,
                          "text", text, "ts", wall_ns()));
}

char *cstate_cmd_model_del(const char *name)
{
    if (!name)
        return NULL;
    return dump(json_pack("{s:s,s:s}", "op", "model_del", "name", name));
}

char *cstate_cmd_placement_set(const char *model, const char *const *ids, int n)
{
    if (!model || n < 0 || (n > 0 && !ids))
        return NULL;
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        if (!ids[i]) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, json_string(ids[i]));
    }
    return dump(json_pack("{s:s,s:s,s:o}", "op", "placement_set", "model", model, "nodes", arr));
}

char *cstate_cmd_setting_put(const char *key, const char *value)
{
    if (!key || !value)
        return NULL;
    return dump(json_pack("{s:s,s:s,s:s}", "op", "setting_put", "key", key, "value", value));
}

void cstate_id_fmt(uint64_t id, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)id);
}

int cstate_id_parse(const char *s, uint64_t *id)
{
    if (!s || strlen(s) != 16)
        return OM_EINVAL;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char ch = s[i];
        int d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else
            return OM_EINVAL;
        v = v << 4 | (uint64_t)d;
    }
    if (v == 0)
        return OM_EINVAL;
    *id = v;
    return 0;
}
