/* tests: the replicated state machine (cluster/cstate) — every command
 * applied and read back, invalid commands rejected with nothing changed,
 * snapshot -> restore into a fresh state reads identically, the same command
 * sequence gives identical replicas, and hostile-looking names stored
 * verbatim (parameterized statements). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "cluster/cstate.h"

#define ID1 "00000000000000a1"
#define ID2 "00000000000000b2"
#define ID3 "00000000000000c3"
#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static cstate *open_st(void)
{
    cstate *st = NULL;
    char err[256];
    assert_int_equal(cstate_open(&st, err, sizeof err), 0);
    return st;
}

/* Applies a command string; returns its rc. */
static int ap(cstate *st, const char *cmd)
{
    char err[256] = "";
    int rc = cstate_apply(st, cmd, strlen(cmd), err, sizeof err);
    if (rc != 0)
        assert_true(err[0] != '\0');   /* a rejection always says why */
    return rc;
}

/* Applies a builder's result (and frees it); must succeed. */
static void ap_ok(cstate *st, char *cmd)
{
    assert_non_null(cmd);
    char err[256] = "";
    int rc = cstate_apply(st, cmd, strlen(cmd), err, sizeof err);
    if (rc != 0)
        fail_msg("command %s rejected: %s", cmd, err);
    free(cmd);
}

/* Everything a reader can see, as one string (caller frees). */
static char *dump_all(cstate *st)
{
    json_t *all = json_pack("{s:o,s:o,s:o,s:o}", "nodes", cstate_nodes(st), "models", cstate_models(st),
                            "placements", cstate_placements(st, NULL), "settings", cstate_settings(st));
    char *s = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all);
    return s;
}

static json_t *manifest(const char *d1, json_int_t s1, const char *d2, json_int_t s2)
{
    return json_pack("{s:i,s:{s:s,s:I},s:[{s:s,s:s,s:I}]}", "schemaVersion", 2, "config", "digest", d2, "size",
                     s2, "layers", "mediaType", "application/vnd.ollama.image.model", "digest", d1, "size", s1);
}

/* A populated state: 3 nodes, 2 models, placements, settings. */
static void populate(cstate *st)
{
    ap_ok(st, cstate_cmd_node_put(ID1, "host:11434", "127.0.0.1:11434", "127.0.0.1:11435"));
    ap_ok(st, cstate_cmd_node_put(ID2, "host:11436", "127.0.0.1:11436", "127.0.0.1:11437"));
    ap_ok(st, cstate_cmd_node_put(ID3, "host:11438", "127.0.0.1:11438", "127.0.0.1:11439"));
    json_t *m = manifest(D1, 1000, D2, 24);
    ap_ok(st, cstate_cmd_model_put("registry.ollama.ai/library/stories:latest", m));
    ap_ok(st, cstate_cmd_model_put("registry.ollama.ai/library/other:7b", m));
    json_decref(m);
    const char *ids[] = { ID2, ID1 };
    ap_ok(st, cstate_cmd_placement_set("registry.ollama.ai/library/stories:latest", ids, 2));
    ap_ok(st, cstate_cmd_node_drain(ID3, true));
    ap_ok(st, cstate_cmd_setting_put("routing", "prefix_affinity"));
    ap_ok(st, cstate_cmd_setting_put("replication", "2"));
}

static void test_defaults_and_ids(void **state)
{
    (void)state;
    cstate *st = open_st();
    json_t *s = cstate_settings(st);
    assert_string_equal(json_string_value(json_object_get(s, "routing")), "least_loaded");
    assert_string_equal(json_string_value(json_object_get(s, "replication")), "0");
    json_decref(s);
    char *v = cstate_setting(st, "routing");
    assert_string_equal(v, "least_loaded");
    free(v);
    assert_null(cstate_setting(st, "nope"));
    json_t *n = cstate_nodes(st);
    assert_int_equal(json_array_size(n), 0);
    json_decref(n);
    assert_int_equal(cstate_version(st), 0);

    char buf[17];
    cstate_id_fmt(0x9f0c00000000abcdull, buf);
    assert_string_equal(buf, "9f0c00000000abcd");
    uint64_t id = 0;
    assert_int_equal(cstate_id_parse(buf, &id), 0);
    assert_true(id == 0x9f0c00000000abcdull);
    assert_int_equal(cstate_id_parse("9F0C00000000ABCD", &id), OM_EINVAL);
    assert_int_equal(cstate_id_parse("0000000000000000", &id), OM_EINVAL);
    assert_int_equal(cstate_id_parse("abc", &id), OM_EINVAL);
    assert_int_equal(cstate_id_parse("00000000000000a1x", &id), OM_EINVAL);
    cstate_close(st);
}

static void test_commands(void **state)
{
    (void)state;
    cstate *st = open_st();
    populate(st);
    assert_int_equal(cstate_version(st), 9);

    json_t *nodes = cstate_nodes(st);
    assert_int_equal(json_array_size(nodes), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 0), "id")), ID1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 2), "id")), ID3);
    assert_true(json_is_true(json_object_get(json_array_get(nodes, 2), "drained")));
    assert_true(json_is_false(json_object_get(json_array_get(nodes, 0), "drained")));
    json_int_t added1 = json_integer_value(json_object_get(json_array_get(nodes, 0), "added_ns"));
    assert_true(added1 > 0);
    json_decref(nodes);

    /* update keeps added_ns and the drain flag; lookup by id and by name */
    ap_ok(st, cstate_cmd_node_put(ID3, "renamed", "10.0.0.3:11434", "10.0.0.3:11435"));
    json_t *n3 = cstate_node(st, "renamed");
    assert_non_null(n3);
    assert_string_equal(json_string_value(json_object_get(n3, "id")), ID3);
    assert_string_equal(json_string_value(json_object_get(n3, "api_addr")), "10.0.0.3:11434");
    assert_true(json_is_true(json_object_get(n3, "drained")));
    json_decref(n3);
    json_t *n1 = cstate_node(st, ID1);
    assert_int_equal(json_integer_value(json_object_get(n1, "added_ns")), added1);
    json_decref(n1);
    assert_null(cstate_node(st, "nobody"));
    ap_ok(st, cstate_cmd_node_drain(ID3, false));
    n3 = cstate_node(st, ID3);
    assert_true(json_is_false(json_object_get(n3, "drained")));
    json_decref(n3);

    /* models: digest of the manifest, size = layers + config */
    json_t *ms = cstate_models(st);
    assert_int_equal(json_array_size(ms), 2);
    json_t *m0 = json_array_get(ms, 0);   /* ordered by name: other < stories */
    assert_string_equal(json_string_value(json_object_get(m0, "name")), "registry.ollama.ai/library/other:7b");
    assert_int_equal(json_integer_value(json_object_get(m0, "size")), 1024);
    const char *dg = json_string_value(json_object_get(m0, "digest"));
    assert_int_equal(strlen(dg), 71);
    assert_memory_equal(dg, "sha256:", 7);
    json_t *layers = json_object_get(json_object_get(m0, "manifest"), "layers");
    assert_int_equal(json_array_size(layers), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(layers, 0), "digest")), D1);
    json_decref(ms);

    /* placements (sorted ids), node_del and model_del drop theirs */
    json_t *p = cstate_placements(st, "registry.ollama.ai/library/stories:latest");
    assert_int_equal(json_array_size(p), 2);
    assert_string_equal(json_string_value(json_array_get(p, 0)), ID1);
    json_decref(p);
    ap_ok(st, cstate_cmd_node_del(ID1));
    p = cstate_placements(st, "registry.ollama.ai/library/stories:latest");
    assert_int_equal(json_array_size(p), 1);
    assert_string_equal(json_string_value(json_array_get(p, 0)), ID2);
    json_decref(p);
    assert_null(cstate_node(st, ID1));
    ap_ok(st, cstate_cmd_model_del("registry.ollama.ai/library/stories:latest"));
    assert_null(cstate_model(st, "registry.ollama.ai/library/stories:latest"));
    p = cstate_placements(st, NULL);
    assert_int_equal(json_object_size(p), 0);
    json_decref(p);
    /* an empty placement set is valid */
    ap_ok(st, cstate_cmd_placement_set("registry.ollama.ai/library/other:7b", NULL, 0));

    json_t *s = cstate_settings(st);
    assert_string_equal(json_string_value(json_object_get(s, "routing")), "prefix_affinity");
    assert_string_equal(json_string_value(json_object_get(s, "replication")), "2");
    json_decref(s);
    cstate_close(st);
}

static void test_invalid_changes_nothing(void **state)
{
    (void)state;
    cstate *st = open_st();
    populate(st);
    char *before = dump_all(st);
    uint64_t v0 = cstate_version(st);
    char longname[600];
    memset(longname, 'a', 513);
    longname[513] = '\0';
    char cmd_long[800];
    snprintf(cmd_long, sizeof cmd_long, "{\"op\":\"model_del\",\"name\":\"%s\"}", longname);
    const char *bad[] = {
        "not json",
        "[1,2]",
        "{}",
        "{\"op\":\"drop_everything\"}",
        "{\"op\":42}",
        "{\"op\":\"node_put\",\"id\":\"00000000000000A1\",\"name\":\"x\",\"api_addr\":\"a\",\"raft_addr\":\"b\"}",
        "{\"op\":\"node_put\",\"id\":\"0000000000000000\",\"name\":\"x\",\"api_addr\":\"a\",\"raft_addr\":\"b\"}",
        "{\"op\":\"node_put\",\"id\":\"a1\",\"name\":\"x\",\"api_addr\":\"a\",\"raft_addr\":\"b\"}",
        "{\"op\":\"node_put\",\"id\":\"00000000000000d4\",\"name\":\"x\",\"api_addr\":\"a\"}",
        "{\"op\":\"node_put\",\"id\":\"00000000000000d4\",\"name\":\"\",\"api_addr\":\"a\",\"raft_addr\":\"b\"}",
        "{\"op\":\"node_put\",\"id\":\"00000000000000d4\",\"name\":\"a\\u0000b\",\"api_addr\":\"a\",\"raft_addr\":\"b\"}",
        "{\"op\":\"node_put\",\"id\":\"00000000000000d4\",\"name\":\"x\",\"api_addr\":\"a\",\"raft_addr\":\"b\",\"ts\":-5}",
        "{\"op\":\"node_put\",\"op\":\"node_del\",\"id\":\"" ID2 "\"}",
        "{\"op\":\"node_drain\",\"id\":\"" ID1 "\"}",
        "{\"op\":\"node_drain\",\"id\":\"00000000000000d4\",\"drain\":true}",
        "{\"op\":\"node_del\",\"id\":7}",
        "{\"op\":\"model_put\",\"name\":\"m\",\"manifest\":[]}",
        "{\"op\":\"model_put\",\"name\":\"m\",\"manifest\":{\"config\":{}}}",
        "{\"op\":\"model_put\",\"name\":\"\",\"manifest\":{\"layers\":[]}}",
        "{\"op\":\"model_put\",\"name\":\"m\",\"manifest\":{\"layers\":[{\"digest\":\"sha256:xyz\",\"size\":1}]}}",
        "{\"op\":\"model_put\",\"name\":\"m\",\"manifest\":{\"layers\":[{\"digest\":\"" D1 "\",\"size\":-1}]}}",
        "{\"op\":\"model_put\",\"name\":\"m\",\"manifest\":{\"layers\":[],\"config\":{\"digest\":\"" D1 "\"}}}",
        cmd_long,
        "{\"op\":\"placement_set\",\"model\":\"registry.ollama.ai/library/stories:latest\",\"nodes\":[\"00000000000000d4\"]}",
        "{\"op\":\"placement_set\",\"model\":\"registry.ollama.ai/library/stories:latest\",\"nodes\":[\"" ID1 "\",\"zz\"]}",
        "{\"op\":\"placement_set\",\"model\":\"no-such-model\",\"nodes\":[\"" ID1 "\"]}",
        "{\"op\":\"placement_set\",\"model\":\"registry.ollama.ai/library/stories:latest\",\"nodes\":\"" ID1 "\"}",
        "{\"op\":\"setting_put\",\"key\":\"routing\",\"value\":\"fastest\"}",
        "{\"op\":\"setting_put\",\"key\":\"routing\",\"value\":1}",
        "{\"op\":\"setting_put\",\"key\":\"replication\",\"value\":\"-1\"}",
        "{\"op\":\"setting_put\",\"key\":\"replication\",\"value\":\"1001\"}",
        "{\"op\":\"setting_put\",\"key\":\"replication\",\"value\":\"01\"}",
        "{\"op\":\"setting_put\",\"key\":\"replication\",\"value\":\"2x\"}",
        "{\"op\":\"setting_put\",\"key\":\"replication\",\"value\":\"\"}",
        "{\"op\":\"setting_put\",\"key\":\"color\",\"value\":\"blue\"}",
    };
    for (size_t i = 0; i < OM_ARRAY_LEN(bad); i++) {
        char cerr[256] = "";
        if (cstate_check(st, bad[i], strlen(bad[i]), cerr, sizeof cerr) == 0 || !cerr[0])
            fail_msg("the dry run accepted invalid command %zu: %s", i, bad[i]);
        if (ap(st, bad[i]) == 0)
            fail_msg("accepted invalid command %zu: %s", i, bad[i]);
        char *after = dump_all(st);
        if (strcmp(before, after) != 0)
            fail_msg("invalid command %zu changed the state: %s", i, bad[i]);
        free(after);
    }
    assert_int_equal(cstate_version(st), v0);
    /* a dry run of a valid command passes and changes nothing */
    const char *good = "{\"op\":\"setting_put\",\"key\":\"routing\",\"value\":\"latency\"}";
    char cerr[256];
    assert_int_equal(cstate_check(st, good, strlen(good), cerr, sizeof cerr), 0);
    char *after = dump_all(st);
    assert_string_equal(before, after);
    free(after);
    assert_int_equal(cstate_version(st), v0);
    /* limits that pass */
    assert_int_equal(ap(st, "{\"op\":\"setting_put\",\"key\":\"replication\",\"value\":\"1000\"}"), 0);
    assert_int_equal(ap(st, "{\"op\":\"setting_put\",\"key\":\"replication\",\"value\":\"0\"}"), 0);
    longname[512] = '\0';
    snprintf(cmd_long, sizeof cmd_long, "{\"op\":\"model_put\",\"name\":\"%s\",\"manifest\":{\"layers\":[]}}",
             longname);
    assert_int_equal(ap(st, cmd_long), 0);
    assert_int_equal(cstate_version(st), v0 + 3);
    free(before);
    cstate_close(st);
}

static void test_snapshot_restore(void **state)
{
    (void)state;
    cstate *a = open_st(), *b = open_st();
    populate(a);
    ap_ok(b, cstate_cmd_setting_put("routing", "latency"));   /* b has other state, replaced wholesale */
    void *snap = NULL;
    size_t len = 0;
    assert_int_equal(cstate_snapshot(a, &snap, &len), 0);
    assert_true(len > 16);
    uint64_t vb = cstate_version(b);
    assert_int_equal(cstate_restore(b, snap, len), 0);
    assert_true(cstate_version(b) > vb);
    char *da = dump_all(a), *db = dump_all(b);
    assert_string_equal(da, db);

    /* the restored state keeps working, identically on both */
    ap_ok(a, cstate_cmd_node_del(ID2));
    ap_ok(b, cstate_cmd_node_del(ID2));
    free(da);
    free(db);
    da = dump_all(a);
    db = dump_all(b);
    assert_string_equal(da, db);

    /* the restored database grows past its image (many pages of rows) */
    for (int i = 1; i <= 300; i++) {
        char id[17], name[64];
        cstate_id_fmt(0x1000 + (uint64_t)i, id);
        snprintf(name, sizeof name, "node-%d-with-a-longer-name-to-fill-pages", i);
        ap_ok(b, cstate_cmd_node_put(id, name, "10.1.1.1:11434", "10.1.1.1:11435"));
    }
    json_t *many = cstate_nodes(b);
    assert_int_equal(json_array_size(many), 302);
    json_decref(many);
    free(db);
    db = dump_all(b);

    /* bad snapshots: rejected, state unchanged */
    unsigned char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    assert_int_equal(cstate_restore(b, junk, sizeof junk), OM_EFORMAT);
    memcpy(junk, "OMCSTATE", 8);
    assert_int_equal(cstate_restore(b, junk, sizeof junk), OM_EFORMAT);
    assert_int_equal(cstate_restore(b, snap, 10), OM_EFORMAT);
    ((unsigned char *)snap)[len / 2] ^= 0xff;   /* a damaged page */
    int rc = cstate_restore(b, snap, len);
    char *db2 = dump_all(b);
    if (rc != 0)
        assert_string_equal(db, db2);
    free(db2);
    free(da);
    free(db);
    free(snap);
    cstate_close(a);
    cstate_close(b);
}

static void test_replicas_equal(void **state)
{
    (void)state;
    /* the same commands (with their timestamps, as they travel in the log) */
    const char *log[] = {
        "{\"op\":\"node_put\",\"id\":\"" ID1 "\",\"name\":\"a\",\"api_addr\":\"x:1\",\"raft_addr\":\"x:2\"}",
        "{\"op\":\"node_put\",\"id\":\"" ID2 "\",\"name\":\"b\",\"api_addr\":\"y:1\",\"raft_addr\":\"y:2\"}",
        "{\"op\":\"setting_put\",\"key\":\"routing\",\"value\":\"bogus\"}",
        "{\"op\":\"model_put\",\"name\":\"m\",\"manifest\":{\"layers\":[]}}",
        "{\"op\":\"placement_set\",\"model\":\"m\",\"nodes\":[\"" ID2 "\"]}",
    };
    cstate *a = open_st(), *b = open_st();
    for (size_t i = 0; i < OM_ARRAY_LEN(log); i++)
        assert_int_equal(ap(a, log[i]), ap(b, log[i]));
    char *da = dump_all(a), *db = dump_all(b);
    assert_string_equal(da, db);
    /* without "ts" the order still follows the log */
    json_t *n = cstate_nodes(a);
    assert_string_equal(json_string_value(json_object_get(json_array_get(n, 0), "id")), ID1);
    assert_true(json_integer_value(json_object_get(json_array_get(n, 1), "added_ns")) >
                json_integer_value(json_object_get(json_array_get(n, 0), "added_ns")));
    json_decref(n);
    free(da);
    free(db);
    cstate_close(a);
    cstate_close(b);
}

static void test_injection_verbatim(void **state)
{
    (void)state;
    cstate *st = open_st();
    const char *evil_node = "Robert'); DROP TABLE nodes;--";
    const char *evil_model = "x\" OR 1=1; DELETE FROM models WHERE '1'='1";
    ap_ok(st, cstate_cmd_node_put(ID1, evil_node, "127.0.0.1:1'--", "127.0.0.1:2"));
    json_t *m = manifest(D1, 5, D2, 6);
    ap_ok(st, cstate_cmd_model_put(evil_model, m));
    ap_ok(st, cstate_cmd_model_put("plain", m));
    json_decref(m);
    const char *ids[] = { ID1 };
    ap_ok(st, cstate_cmd_placement_set(evil_model, ids, 1));
    ap_ok(st, cstate_cmd_model_del("' OR '1'='1"));   /* deletes nothing: no such name */

    json_t *n = cstate_node(st, evil_node);
    assert_non_null(n);
    assert_string_equal(json_string_value(json_object_get(n, "name")), evil_node);
    assert_string_equal(json_string_value(json_object_get(n, "api_addr")), "127.0.0.1:1'--");
    json_decref(n);
    json_t *ms = cstate_models(st);
    assert_int_equal(json_array_size(ms), 2);
    json_decref(ms);
    json_t *mm = cstate_model(st, evil_model);
    assert_non_null(mm);
    assert_string_equal(json_string_value(json_object_get(mm, "name")), evil_model);
    json_decref(mm);
    json_t *p = cstate_placements(st, NULL);
    assert_non_null(json_object_get(p, evil_model));
    json_decref(p);
    cstate_close(st);
}

/* model_put with the manifest's exact bytes: stored verbatim (digest of those
 * bytes); text that is not the same document is refused, nothing changes. */
static void test_manifest_text(void **state)
{
    (void)state;
    cstate *st = NULL;
    char err[256];
    assert_int_equal(cstate_open(&st, err, sizeof err), 0);
    json_t *m = manifest(D1, 1000, D2, 24);
    char *compact = json_dumps(m, JSON_COMPACT);
    char *spaced = json_dumps(m, JSON_INDENT(3)); /* Ollama's bytes need not be canonical */
    ap_ok(st, cstate_cmd_model_put_text("registry.ollama.ai/library/t:latest", spaced));
    json_t *row = cstate_model(st, "registry.ollama.ai/library/t:latest");
    assert_non_null(row);
    assert_string_equal(json_string_value(json_object_get(row, "text")), spaced);
    assert_true(json_equal(json_object_get(row, "manifest"), m));
    json_decref(row);
    uint64_t v = cstate_version(st);
    /* a text that names other layers than the manifest: refused */
    json_t *other = manifest(D2, 5, D1, 6);
    json_t *cmd = json_pack("{s:s,s:s,s:O,s:s}", "op", "model_put", "name",
                            "registry.ollama.ai/library/u:latest", "manifest", other, "text", compact);
    char *bad = json_dumps(cmd, JSON_COMPACT);
    json_decref(cmd);
    assert_int_not_equal(ap(st, bad), 0);
    assert_int_equal(cstate_version(st), v);
    assert_null(cstate_model(st, "registry.ollama.ai/library/u:latest"));
    assert_null(cstate_cmd_model_put_text("x", "not json"));
    free(bad);
    json_decref(other);
    free(compact);
    free(spaced);
    json_decref(m);
    cstate_close(st);
}

static void test_fsm_callbacks(void **state)
{
    (void)state;
    cstate *st = open_st();
    struct craft_fsm f = cstate_fsm(st);
    assert_ptr_equal(f.user, st);
    char *cmd = cstate_cmd_setting_put("routing", "round_robin");
    assert_int_equal(f.apply(f.user, cmd, strlen(cmd)), 0);
    free(cmd);
    assert_int_not_equal(f.apply(f.user, "{\"op\":\"x\"}", 10), 0);
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(f.snapshot(f.user, &buf, &len), 0);
    cstate *st2 = open_st();
    struct craft_fsm f2 = cstate_fsm(st2);
    assert_int_equal(f2.restore(f2.user, buf, len), 0);
    char *v = cstate_setting(st2, "routing");
    assert_string_equal(v, "round_robin");
    free(v);
    free(buf);
    cstate_close(st);
    cstate_close(st2);
}

int main(void)
{
    om_log_set(NULL, NULL, OM_LOG_ERROR + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_ids),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_invalid_changes_nothing),
        cmocka_unit_test(test_snapshot_restore),
        cmocka_unit_test(test_replicas_equal),
        cmocka_unit_test(test_injection_verbatim),
        cmocka_unit_test(test_manifest_text),
        cmocka_unit_test(test_fsm_callbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
