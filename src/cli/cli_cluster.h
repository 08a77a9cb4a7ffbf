/* cli: `ollamamax cluster …`, the operator's client of /api/cluster/... at
 * OLLAMA_HOST (docs/cluster.md "HTTP endpoints"). cmd_cluster.c holds the
 * verbs and their HTTP calls; cmd_cluster_fmt.c the pure parts (tables,
 * node matching, argument checks) so tests/unit/cli/test_cluster_fmt.c can
 * compile them alone with client_fmt.c and client_table.c. */
#ifndef CLI_CLUSTER_H
#define CLI_CLUSTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* The node table of `cluster status` and `cluster nodes`: a header row
 * NAME ID ADDRESS STATE ROLE MODELS LOADED ACTIVE QUEUED and one row per
 * element of `nodes` (a JSON array of docs/cluster.md node objects,
 * borrowed), in the layout of `list`/`ps` (client_fmt.h's table, 30-column
 * wrap). ID is the first 12 hex digits; missing fields print "-"; model
 * lists show the names that fit in 30 columns, then "+N more". Names are
 * never cut: like `list`, a long name without spaces widens its column.
 * Non-object elements are skipped. Writes to f. */
void cli_cluster_print_nodes(json_t *nodes, FILE *f);

/* The settings block ("Routing:", "Replication:", then any other key in
 * the object's order), values that are strings or numbers. */
void cli_cluster_print_settings(json_t *settings, FILE *f);

/* The whole `cluster status` view of a GET /api/cluster/status reply
 * (borrowed): leader (name and id), term, this node, the settings, a blank
 * line and the node table. */
void cli_cluster_print_status(json_t *status, FILE *f);

/* Finds the node that `key` names in `nodes` (array, borrowed): an exact id
 * (case-insensitive), else an exact name, else a unique id prefix (at least
 * one hex digit). Returns 0 and *node (borrowed from nodes); OM_ENOTFOUND
 * when nothing matches, OM_EINVAL when a prefix matches several nodes or
 * key is empty; err then says which. */
int cli_cluster_match(json_t *nodes, const char *key, json_t **node, char *err, size_t errlen);

/* Splits "KEY=VALUE" for `cluster set`: KEY is 1..63 characters of
 * [a-z0-9_], VALUE 1..255 bytes without control characters. Writes the
 * NUL-terminated parts into key[0..kn) and val[0..vn). Returns 0, or
 * OM_EINVAL with err saying what is wrong. */
int cli_cluster_parse_set(const char *arg, char *key, size_t kn, char *val, size_t vn, char *err,
                          size_t errlen);

/* The verbs this command knows, for usage checks: returns the number of
 * positional arguments the verb takes (0 or 1), or -1 for an unknown verb. */
int cli_cluster_verb_args(const char *verb);

/* `ollamamax cluster VERB [ARG] [--json]`; argv[0] is "cluster". Returns the
 * exit status: 0, 1 for errors (the server's {"error"} text as
 * "Error: …"), 2 for bad usage. */
int cli_cmd_cluster(int argc, char **argv);

#endif
