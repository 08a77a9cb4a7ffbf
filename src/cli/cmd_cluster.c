/* cli: `ollamamax cluster status|nodes|drain NODE|undrain NODE|leave|token|
 * set KEY=VALUE [--json]` — a client of /api/cluster/... on the server at
 * OLLAMA_HOST, through the same transport as `list`/`ps` (client.c). Tables
 * and argument checks are in cmd_cluster_fmt.c. With --json the server's
 * reply is printed as JSON (2-space indent) instead of a table. Errors are
 * the server's {"error"} text as "Error: …" with status 1; bad usage is
 * status 2. */
#include "cli/cli_cluster.h"

#include "base/om.h"
#include "cli/cli_util.h"
#include "cli/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "Usage:\n"
            "  ollamamax cluster COMMAND [ARG] [--json]\n"
            "\n"
            "Operate the cluster through the server at OLLAMA_HOST (default 127.0.0.1:11434).\n"
            "\n"
            "Commands:\n"
            "  status          leader, term, settings and the node table\n"
            "  nodes           the node table\n"
            "  drain NODE      send no new requests to NODE; its running streams finish\n"
            "  undrain NODE    let NODE take requests again\n"
            "  leave           the node at OLLAMA_HOST leaves the cluster\n"
            "  token           print the join token (answered to loopback clients only)\n"
            "  set KEY=VALUE   change a cluster setting:\n"
            "                    routing=least_loaded|round_robin|prefix_affinity|latency\n"
            "                    replication=N (copies of each model; 0 = every node)\n"
            "\n"
            "NODE is a node id, a unique prefix of one, or a node name (host:port).\n"
            "\n"
            "Flags:\n"
            "  --json          print the server's JSON reply instead of a table\n"
            "  -h, --help      show this help\n"
            "\n"
            "Forming a cluster (flags of `ollamamax serve`, or their environment variables):\n"
            "  --cluster-init          bootstrap a one-node cluster in the data dir; prints\n"
            "                          the join token\n"
            "  --join HOST:PORT        join through any member's API address   OLLAMAMAX_JOIN\n"
            "  --token TOKEN           the cluster token (needed with --join)  "
            "OLLAMAMAX_CLUSTER_TOKEN\n"
            "  --data DIR              the node's data dir (~/.ollamamax)      OLLAMAMAX_DATA\n"
            "  --raft-addr HOST:PORT   Raft bind address (API port + 1)       "
            "OLLAMAMAX_RAFT_ADDR\n"
            "\n"
            "Example:\n"
            "  node A: ollamamax serve --cluster-init\n"
            "  node B: ollamamax serve --join A:11434 --token omx-...\n");
}

static void print_json(json_t *j)
{
    if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) == 0)
        fputc('\n', stdout);
}

/* One call whose reply must be a JSON object; returns 0 or prints the error
 * and returns the exit status 1. */
static int call(struct cli_client *c, const char *method, const char *path, json_t *body,
                json_t **reply)
{
    if (cli_client_call(c, method, path, body, reply))
        return cli_client_fail(c);
    if (!json_is_object(*reply)) {
        json_decref(*reply);
        *reply = NULL;
        snprintf(c->err, sizeof c->err, "the server's reply to %s %s is not a JSON object",
                 method, path);
        return cli_client_fail(c);
    }
    return 0;
}

static int do_drain(struct cli_client *c, const char *key, int drain, int json)
{
    json_t *list = NULL, *node = NULL, *reply = NULL;
    if (call(c, "GET", "/api/cluster/nodes", NULL, &list))
        return 1;
    char err[300];
    if (cli_cluster_match(json_object_get(list, "nodes"), key, &node, err, sizeof err)) {
        cli_error("%s", err);
        json_decref(list);
        return 1;
    }
    const char *id = json_string_value(json_object_get(node, "id"));
    const char *name = json_string_value(json_object_get(node, "name"));
    json_t *body = json_pack("{s:s}", "node", id ? id : key);
    int rc = call(c, "POST", drain ? "/api/cluster/drain" : "/api/cluster/undrain", body, &reply);
    json_decref(body);
    if (!rc) {
        if (json) {
            print_json(reply);
        } else {
            const char *state = json_string_value(json_object_get(reply, "state"));
            printf("node %s %s\n", name && *name ? name : id ? id : key,
                   state ? state : drain ? "draining" : "up");
        }
    }
    json_decref(reply);
    json_decref(list);
    return rc;
}

static int do_leave(struct cli_client *c, int json)
{
    /* the name for the message; a server that cannot answer this will say
     * why on the leave call itself */
    char name[300] = "";
    json_t *st = NULL, *reply = NULL;
    if (!json && !cli_client_call(c, "GET", "/api/cluster/status", NULL, &st) && st) {
        const char *self = json_string_value(json_object_get(st, "self"));
        json_t *node = NULL;
        char err[300];
        if (self && !cli_cluster_match(json_object_get(st, "nodes"), self, &node, err, sizeof err))
            snprintf(name, sizeof name, "%s",
                     json_string_value(json_object_get(node, "name"))
                         ? json_string_value(json_object_get(node, "name"))
                         : self);
    }
    json_decref(st);
    json_t *body = json_object();
    int rc = call(c, "POST", "/api/cluster/leave", body, &reply);
    json_decref(body);
    if (!rc) {
        if (json) {
            print_json(reply);
        } else {
            const char *id = json_string_value(json_object_get(reply, "node"));
            printf("node %s left the cluster\n", *name ? name : id ? id : c->base);
        }
    }
    json_decref(reply);
    return rc;
}

static int do_set(struct cli_client *c, const char *arg, int json)
{
    char key[64], val[256], err[300];
    if (cli_cluster_parse_set(arg, key, sizeof key, val, sizeof val, err, sizeof err)) {
        cli_error("%s", err);
        return 2;
    }
    json_t *body = json_pack("{s:s,s:s}", "key", key, "value", val), *reply = NULL;
    int rc = call(c, "POST", "/api/cluster/settings", body, &reply);
    json_decref(body);
    if (!rc) {
        if (json)
            print_json(reply);
        else
            cli_cluster_print_settings(reply, stdout);
    }
    json_decref(reply);
    return rc;
}

int cli_cmd_cluster(int argc, char **argv)
{
    int json = 0, help = 0;
    const struct cli_opt opts[] = {
        {"--json", NULL, CLI_FLAG, &json, 0, 0},
        {"--help", "-h", CLI_FLAG, &help, 0, 0},
    };
    char *pos[3];
    int np = 0;
    if (cli_client_args(argc, argv, opts, sizeof opts / sizeof opts[0], pos, 3, &np)) {
        fprintf(stderr, "Run 'ollamamax cluster --help' for usage.\n");
        return 2;
    }
    if (help || (np == 1 && !strcmp(pos[0], "help"))) {
        usage(stdout);
        return 0;
    }
    if (!np) {
        usage(stderr);
        return 2;
    }
    const char *verb = pos[0];
    int want = cli_cluster_verb_args(verb);
    if (want < 0) {
        fprintf(stderr, "Error: unknown cluster command \"%s\"\n\n", verb);
        usage(stderr);
        return 2;
    }
    if (np - 1 != want) {
        fprintf(stderr, "Error: \"ollamamax cluster %s\" accepts %d arg(s), received %d\n", verb,
                want, np - 1);
        return 2;
    }
    struct cli_client c;
    if (cli_client_init(&c))
        return cli_client_fail(&c);
    if (!strcmp(verb, "drain") || !strcmp(verb, "undrain"))
        return do_drain(&c, pos[1], !strcmp(verb, "drain"), json);
    if (!strcmp(verb, "leave"))
        return do_leave(&c, json);
    if (!strcmp(verb, "set"))
        return do_set(&c, pos[1], json);

    /* status, nodes, token: one GET each */
    char path[64];
    snprintf(path, sizeof path, "/api/cluster/%s", verb);
    json_t *reply = NULL;
    if (call(&c, "GET", path, NULL, &reply))
        return 1;
    int rc = 0;
    if (json) {
        print_json(reply);
    } else if (!strcmp(verb, "status")) {
        cli_cluster_print_status(reply, stdout);
    } else if (!strcmp(verb, "nodes")) {
        cli_cluster_print_nodes(json_object_get(reply, "nodes"), stdout);
    } else {
        const char *tok = json_string_value(json_object_get(reply, "token"));
        if (tok && *tok) {
            printf("%s\n", tok);
        } else {
            snprintf(c.err, sizeof c.err, "the server's reply to GET %s has no token", path);
            rc = cli_client_fail(&c);
        }
    }
    json_decref(reply);
    return rc;
}
