/* `ollamamax cluster` without a server: the node table and status view
 * drawn from /api/cluster/status JSON in the shape of docs/cluster.md
 * (several nodes, up/draining/down, missing and mistyped fields, long
 * names), the NODE argument of drain/undrain (id, name, id prefix,
 * ambiguity), KEY=VALUE of `set`, and the command's usage errors and exit
 * statuses. The cli sources are compiled in here, as test_client_fmt.c
 * does, since the test links omcore only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../../src/cli/client_fmt.c"
#include "../../../src/cli/client_table.c"
#include "../../../src/cli/cli_util.c"
#include "../../../src/cli/client.c"
#include "../../../src/cli/cmd_cluster_fmt.c"
#include "../../../src/cli/cmd_cluster.c"

#include <unistd.h>

/* docs/cluster.md's status sample, grown to four nodes: the leader with
 * five models (the cell must shorten), a draining standby with a long name
 * without spaces, a down voter missing its counters, and a name with
 * spaces (wraps like `list`'s long cells). */
static const char *SAMPLE =
    "{\"cluster\": true, \"self\": \"9f0c1122334455aa\", \"leader\": \"1a2b3c4d5e6f7788\","
    " \"term\": 3,"
    " \"nodes\": ["
    "  {\"id\": \"1a2b3c4d5e6f7788\", \"name\": \"alpha:11434\", \"api_addr\": \"127.0.0.1:11434\","
    "   \"raft_addr\": \"127.0.0.1:11435\", \"state\": \"up\", \"role\": \"voter\","
    "   \"models\": [\"stories:latest\", \"a:1\", \"b:2\", \"c:3\", \"d:4\"],"
    "   \"loaded\": [\"stories:latest\"], \"active\": 1, \"queued\": 0, \"cores\": 2,"
    "   \"ram_total\": 25769803776, \"ram_free\": 1234, \"tokens_per_s\": 31.2,"
    "   \"last_seen_ms\": 412,"
    "   \"transfers\": [{\"digest\": \"sha256:abcdef0123456789\", \"total\": 1000, \"done\": 500}]},"
    "  {\"id\": \"9f0c1122334455aa\","
    "   \"name\": \"beta-with-a-very-long-host-name.example.internal:11434\","
    "   \"api_addr\": \"10.0.0.2:11434\", \"state\": \"draining\", \"role\": \"standby\","
    "   \"models\": [], \"loaded\": [], \"active\": 0, \"queued\": 2},"
    "  {\"id\": \"9f0d000000000001\", \"name\": \"gamma:11434\", \"api_addr\": \"10.0.0.3:11434\","
    "   \"state\": \"down\", \"role\": \"voter\", \"models\": \"not-a-list\", \"active\": \"x\"},"
    "  {\"id\": \"0000aaaa0000bbbb\", \"name\": \"delta node in the lab rack number seven\","
    "   \"api_addr\": \"10.0.0.4:11434\", \"state\": \"up\", \"role\": \"spare\","
    "   \"models\": [\"stories:latest\"], \"loaded\": [], \"active\": 0, \"queued\": 0},"
    "  \"not an object\"],"
    " \"settings\": {\"routing\": \"least_loaded\", \"replication\": \"0\"}}";

static json_t *sample(void)
{
    json_error_t je;
    json_t *j = json_loads(SAMPLE, 0, &je);
    if (!j)
        fail_msg("sample JSON: %s", je.text);
    return j;
}

/* Runs fn(arg) with f = a temporary file; returns what was written (freed by
 * the caller). */
static char *capture(void (*fn)(json_t *, FILE *), json_t *arg)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fn(arg, f);
    long len = ftell(f);
    assert_true(len >= 0);
    rewind(f);
    char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = 0;
    fclose(f);
    return buf;
}

/* The n-th line (0-based) of text into out; returns 0 when absent. */
static int line_of(const char *text, int n, char *out, size_t cap)
{
    const char *p = text;
    for (int i = 0; i < n; i++) {
        p = strchr(p, '\n');
        if (!p)
            return 0;
        p++;
    }
    const char *e = strchr(p, '\n');
    if (!e)
        return 0;
    size_t k = (size_t)(e - p) < cap - 1 ? (size_t)(e - p) : cap - 1;
    memcpy(out, p, k);
    out[k] = 0;
    return 1;
}

/* Column where `word` starts in line, -1 when absent. */
static int col(const char *line, const char *word)
{
    const char *p = strstr(line, word);
    return p ? (int)(p - line) : -1;
}

static void test_node_table(void **st)
{
    (void)st;
    json_t *j = sample();
    char *out = capture(cli_cluster_print_nodes, json_object_get(j, "nodes"));
    char h[600], r[600];
    assert_true(line_of(out, 0, h, sizeof h));
    /* header: the nine columns in order, separated like `list` (>= 4 spaces),
     * the last one followed by a single space */
    const char *cols[] = {"NAME", "ID", "ADDRESS", "STATE", "ROLE", "MODELS", "LOADED", "ACTIVE",
                          "QUEUED"};
    int last = -1;
    for (size_t i = 0; i < 9; i++) {
        int c = col(h + (last < 0 ? 0 : last), cols[i]);
        assert_true(c >= 0);
        last = (last < 0 ? 0 : last) + c;
    }
    assert_true(strlen(h) > 2 && !strcmp(h + strlen(h) - 7, "QUEUED "));
    int c_id = col(h, "ID "), c_addr = col(h, "ADDRESS"), c_state = col(h, "STATE"),
        c_models = col(h, "MODELS"), c_active = col(h, "ACTIVE");
    /* the long name without spaces is shown whole and sets NAME's width:
     * ID starts 4 columns after it */
    assert_int_equal(c_id, (int)strlen("beta-with-a-very-long-host-name.example.internal:11434") + 4);

    /* row 1: the leader; id cut to 12 digits; five models shortened to
     * what fits 30 columns */
    assert_true(line_of(out, 1, r, sizeof r));
    assert_int_equal(strncmp(r, "alpha:11434 ", 12), 0);
    assert_int_equal(strncmp(r + c_id, "1a2b3c4d5e6f    ", 16), 0);
    assert_int_equal(strncmp(r + c_addr, "127.0.0.1:11434 ", 16), 0);
    assert_int_equal(strncmp(r + c_state, "up ", 3), 0);
    assert_int_equal(strncmp(r + c_models, "stories:latest, a:1 +3 more ", 28), 0);
    assert_int_equal(strncmp(r + c_active, "1 ", 2), 0);
    assert_null(strstr(r, "1a2b3c4d5e6f7")); /* never more than 12 digits */

    /* row 2: draining standby, empty lists as "-", queued 2 */
    assert_true(line_of(out, 2, r, sizeof r));
    assert_int_equal(strncmp(r, "beta-with-a-very-long-host-name.example.internal:11434    ", 58), 0);
    assert_int_equal(strncmp(r + c_state, "draining    standby    -", 24), 0);
    assert_int_equal(strncmp(r + c_active, "0         2", 11), 0);

    /* row 3: down, mistyped/missing fields print "-" */
    assert_true(line_of(out, 3, r, sizeof r));
    assert_int_equal(strncmp(r, "gamma:11434 ", 12), 0);
    assert_int_equal(strncmp(r + c_state, "down ", 5), 0);
    assert_int_equal(strncmp(r + c_models, "- ", 2), 0);
    assert_int_equal(strncmp(r + c_active, "-         -", 11), 0);

    /* row 4: a name with spaces wraps at 30 columns onto a second line,
     * as `list` wraps its cells; the other cells stay on the first line */
    assert_true(line_of(out, 4, r, sizeof r));
    assert_int_equal(strncmp(r, "delta node in the lab rack ", 27), 0);
    assert_int_equal(strncmp(r + c_state, "up ", 3), 0);
    assert_true(line_of(out, 5, r, sizeof r));
    assert_int_equal(strncmp(r, "number seven ", 13), 0);
    for (int i = 13; i < c_id; i++)
        assert_int_equal(r[i], ' ');

    /* the non-object element adds no row */
    assert_false(line_of(out, 6, r, sizeof r));
    free(out);

    /* a reply without nodes prints the header alone */
    json_t *empty = json_array();
    out = capture(cli_cluster_print_nodes, empty);
    assert_true(line_of(out, 0, h, sizeof h));
    assert_int_equal(strncmp(h, "NAME    ID    ADDRESS    STATE", 30), 0);
    assert_false(line_of(out, 1, r, sizeof r));
    free(out);
    out = capture(cli_cluster_print_nodes, NULL);
    assert_int_equal(strncmp(out, "NAME    ", 8), 0);
    free(out);
    json_decref(empty);
    json_decref(j);
}

static void test_status_view(void **st)
{
    (void)st;
    json_t *j = sample();
    char *out = capture(cli_cluster_print_status, j);
    char l[600];
    assert_true(line_of(out, 0, l, sizeof l));
    assert_string_equal(l, "Leader:       alpha:11434 (1a2b3c4d5e6f)");
    assert_true(line_of(out, 1, l, sizeof l));
    assert_string_equal(l, "Term:         3");
    assert_true(line_of(out, 2, l, sizeof l));
    assert_string_equal(
        l, "This node:    beta-with-a-very-long-host-name.example.internal:11434 (9f0c11223344)");
    assert_true(line_of(out, 3, l, sizeof l));
    assert_string_equal(l, "Routing:      least_loaded");
    assert_true(line_of(out, 4, l, sizeof l));
    assert_string_equal(l, "Replication:  0 (every node)");
    assert_true(line_of(out, 5, l, sizeof l));
    assert_string_equal(l, "");
    assert_true(line_of(out, 6, l, sizeof l));
    assert_int_equal(strncmp(l, "NAME ", 5), 0);
    /* the transfer in progress is listed after the table */
    const char *tr = strstr(out, "\nTransfers:\n");
    assert_non_null(tr);
    assert_non_null(strstr(tr, "  alpha:11434  abcdef012345   50%  500 B/1 KB\n"));
    free(out);

    /* no leader elected, a numeric replication and an extra setting */
    json_object_set_new(j, "leader", json_null());
    json_object_set_new(json_object_get(j, "settings"), "replication", json_integer(2));
    json_object_set_new(json_object_get(j, "settings"), "routing", json_string("round_robin"));
    json_object_set_new(json_object_get(j, "settings"), "max_spare", json_string("3"));
    json_object_del(j, "self");
    out = capture(cli_cluster_print_status, j);
    assert_true(line_of(out, 0, l, sizeof l));
    assert_string_equal(l, "Leader:       none (no leader elected)");
    assert_null(strstr(out, "This node:"));
    assert_non_null(strstr(out, "\nRouting:      round_robin\n"));
    assert_non_null(strstr(out, "\nReplication:  2\n"));
    assert_non_null(strstr(out, "\nmax_spare:    3\n"));
    free(out);

    /* a leader id no node carries prints as the bare short id */
    json_object_set_new(j, "leader", json_string("77778888aaaabbbb"));
    out = capture(cli_cluster_print_status, j);
    assert_true(line_of(out, 0, l, sizeof l));
    assert_string_equal(l, "Leader:       77778888aaaa");
    free(out);
    json_decref(j);
}

static const char *match_name(json_t *nodes, const char *key, int want_rc)
{
    json_t *n = NULL;
    char err[300] = "";
    int rc = cli_cluster_match(nodes, key, &n, err, sizeof err);
    if (rc != want_rc)
        fail_msg("match \"%s\": rc %d, want %d (%s)", key, rc, want_rc, err);
    if (rc) {
        assert_null(n);
        assert_true(err[0]);
        return NULL;
    }
    return json_string_value(json_object_get(n, "name"));
}

static void test_match(void **st)
{
    (void)st;
    json_t *j = sample();
    json_t *nodes = json_object_get(j, "nodes");
    assert_string_equal(match_name(nodes, "1a2b3c4d5e6f7788", 0), "alpha:11434");
    assert_string_equal(match_name(nodes, "1A2B3C4D5E6F7788", 0), "alpha:11434");
    assert_string_equal(match_name(nodes, "gamma:11434", 0), "gamma:11434");
    assert_string_equal(match_name(nodes, "delta node in the lab rack number seven", 0),
                        "delta node in the lab rack number seven");
    assert_string_equal(match_name(nodes, "1a", 0), "alpha:11434"); /* unique prefix */
    assert_string_equal(match_name(nodes, "9f0d", 0), "gamma:11434");
    assert_string_equal(match_name(nodes, "9F0C", 0),
                        "beta-with-a-very-long-host-name.example.internal:11434");
    match_name(nodes, "9f", OM_EINVAL);          /* two ids start with 9f */
    match_name(nodes, "9f0", OM_EINVAL);
    match_name(nodes, "ffff", OM_ENOTFOUND);     /* hex, but no such id */
    match_name(nodes, "alpha", OM_ENOTFOUND);    /* names match whole only */
    match_name(nodes, "gamma:1143", OM_ENOTFOUND);
    match_name(nodes, "", OM_EINVAL);
    match_name(nodes, "1a2b3c4d5e6f77889", OM_ENOTFOUND); /* longer than the id */
    json_t *n = NULL;
    char err[200];
    assert_int_equal(cli_cluster_match(nodes, "9f", &n, err, sizeof err), OM_EINVAL);
    assert_non_null(strstr(err, "matches 2 nodes"));
    assert_int_equal(cli_cluster_match(nodes, "zz", &n, err, sizeof err), OM_ENOTFOUND);
    assert_non_null(strstr(err, "unknown node \"zz\""));
    /* an exact name wins over an id prefix that looks the same */
    json_array_append_new(nodes, json_pack("{s:s,s:s}", "id", "abcd000000000001", "name", "1a"));
    assert_string_equal(match_name(nodes, "1a", 0), "1a");
    /* no array at all */
    assert_int_equal(cli_cluster_match(NULL, "1a", &n, err, sizeof err), OM_ENOTFOUND);
    json_decref(j);
}

static void set_ok(const char *arg, const char *k, const char *v)
{
    char key[64], val[256], err[300] = "";
    if (cli_cluster_parse_set(arg, key, sizeof key, val, sizeof val, err, sizeof err))
        fail_msg("set %s: %s", arg, err);
    assert_string_equal(key, k);
    assert_string_equal(val, v);
}

static void set_bad(const char *arg)
{
    char key[64] = "k", val[256] = "v", err[300] = "";
    assert_int_equal(cli_cluster_parse_set(arg, key, sizeof key, val, sizeof val, err, sizeof err),
                     OM_EINVAL);
    assert_true(err[0]);
    assert_string_equal(key, "k"); /* nothing written on failure */
    assert_string_equal(val, "v");
}

static void test_parse_set(void **st)
{
    (void)st;
    set_ok("routing=prefix_affinity", "routing", "prefix_affinity");
    set_ok("replication=2", "replication", "2");
    set_ok("routing=a=b", "routing", "a=b");
    set_bad("routing");
    set_bad("=round_robin");
    set_bad("routing=");
    set_bad("Routing=round_robin");
    set_bad("rou ting=x");
    set_bad("routing=a\nb");
    char long_key[80];
    memset(long_key, 'a', 64);
    snprintf(long_key + 64, sizeof long_key - 64, "=1");
    set_bad(long_key);
    char long_val[300] = "routing=";
    memset(long_val + 8, 'x', 256);
    long_val[264] = 0;
    set_bad(long_val);
}

static void usage_of(json_t *unused, FILE *f)
{
    (void)unused;
    usage(f);
}

/* Runs cli_cmd_cluster with stdout and stderr sent to files; returns the
 * exit status and what stderr got (first bytes) in err. */
static int run_cmd(char *err, size_t errlen, int argc, ...)
{
    char *argv[12];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc && i < 11; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    FILE *fo = tmpfile(), *fe = tmpfile();
    assert_non_null(fo);
    assert_non_null(fe);
    dup2(fileno(fo), 1);
    dup2(fileno(fe), 2);
    int rc = cli_cmd_cluster(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    rewind(fe);
    size_t n = fread(err, 1, errlen - 1, fe);
    err[n] = 0;
    fclose(fo);
    fclose(fe);
    return rc;
}

static void test_usage(void **st)
{
    (void)st;
    char e[4096];
    assert_int_equal(run_cmd(e, sizeof e, 1, "cluster"), 2);
    assert_non_null(strstr(e, "Usage:"));
    assert_int_equal(run_cmd(e, sizeof e, 2, "cluster", "bogus"), 2);
    assert_non_null(strstr(e, "Error: unknown cluster command \"bogus\""));
    assert_int_equal(run_cmd(e, sizeof e, 2, "cluster", "drain"), 2);
    assert_non_null(strstr(e, "accepts 1 arg(s), received 0"));
    assert_int_equal(run_cmd(e, sizeof e, 3, "cluster", "status", "extra"), 2);
    assert_int_equal(run_cmd(e, sizeof e, 4, "cluster", "drain", "a", "b"), 2);
    assert_int_equal(run_cmd(e, sizeof e, 5, "cluster", "drain", "a", "b", "c"), 2);
    assert_int_equal(run_cmd(e, sizeof e, 3, "cluster", "status", "--bogus"), 2);
    assert_non_null(strstr(e, "unknown flag: --bogus"));
    assert_int_equal(run_cmd(e, sizeof e, 3, "cluster", "set", "routing"), 2);
    assert_non_null(strstr(e, "is not KEY=VALUE"));
    assert_int_equal(run_cmd(e, sizeof e, 3, "cluster", "--json", "nope"), 2);
    /* help goes to stdout with status 0 and names every verb and serve's flags */
    assert_int_equal(run_cmd(e, sizeof e, 2, "cluster", "--help"), 0);
    assert_string_equal(e, "");
    assert_int_equal(run_cmd(e, sizeof e, 3, "cluster", "nodes", "-h"), 0);
    for (int v = 0; v < 7; v++) {
        static const char *verbs[] = {"status", "nodes", "drain", "undrain", "leave", "token", "set"};
        assert_true(cli_cluster_verb_args(verbs[v]) >= 0);
    }
    assert_int_equal(cli_cluster_verb_args("drain"), 1);
    assert_int_equal(cli_cluster_verb_args("set"), 1);
    assert_int_equal(cli_cluster_verb_args("status"), 0);
    assert_int_equal(cli_cluster_verb_args("Status"), -1);
    assert_int_equal(cli_cluster_verb_args(""), -1);
    /* the help text itself */
    char *buf = capture(usage_of, NULL);
    const char *want[] = {"status", "nodes", "drain NODE", "undrain NODE", "leave", "token",
                          "set KEY=VALUE", "--json", "--cluster-init", "--join HOST:PORT",
                          "--token TOKEN", "--data DIR", "--raft-addr HOST:PORT",
                          "OLLAMAMAX_JOIN", "OLLAMAMAX_CLUSTER_TOKEN", "OLLAMAMAX_DATA",
                          "OLLAMAMAX_RAFT_ADDR", "OLLAMA_HOST"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(buf, want[i]))
            fail_msg("help text lacks %s", want[i]);
    free(buf);
}

/* No server listening: the transport's error, status 1. */
static void test_unreachable(void **st)
{
    (void)st;
    /* port 1 is privileged: nothing of ours listens there */
    setenv("OLLAMA_HOST", "127.0.0.1:1", 1);
    char e[4096];
    assert_int_equal(run_cmd(e, sizeof e, 2, "cluster", "status"), 1);
    assert_int_equal(strncmp(e, "Error: ", 7), 0);
    assert_int_equal(run_cmd(e, sizeof e, 3, "cluster", "drain", "x"), 1);
    assert_int_equal(strncmp(e, "Error: ", 7), 0);
    assert_int_equal(run_cmd(e, sizeof e, 3, "cluster", "token", "--json"), 1);
    unsetenv("OLLAMA_HOST");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_table), cmocka_unit_test(test_status_view),
        cmocka_unit_test(test_match),      cmocka_unit_test(test_parse_set),
        cmocka_unit_test(test_usage),      cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
