/* api: the Ollama-compatible HTTP API of one node — the native /api routes
 * and the OpenAI-compatible /v1 routes — on top of the HTTP server (http/),
 * the scheduler (sched/), the model store (store/) and prompt building
 * (prompt/). One api_server is one `ollamamax serve`.
 *
 * Configuration comes from Ollama's environment variables (api_env_load),
 * parsed as Ollama parses them (envconfig/config.go). */
#ifndef API_H
#define API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_VERSION "0.32.0" /* the Ollama API surface we implement (ollama v0.32, Aug 2026) */

struct api_env {
    char host[256];          /* OLLAMA_HOST host part ("127.0.0.1") */
    int port;                /* OLLAMA_HOST port (11434) */
    char models[1024];       /* OLLAMA_MODELS (~/.ollama/models) */
    char key_dir[1024];      /* where id_ed25519 lives (~/.ollama) */
    int64_t keep_alive_ns;   /* OLLAMA_KEEP_ALIVE (5m); < 0 forever */
    int num_parallel;        /* OLLAMA_NUM_PARALLEL (0 = scheduler default) */
    int max_loaded;          /* OLLAMA_MAX_LOADED_MODELS (0 = 3) */
    int max_queue;           /* OLLAMA_MAX_QUEUE (512) */
    char origins[1024];      /* OLLAMA_ORIGINS */
    int context_length;      /* OLLAMA_CONTEXT_LENGTH (0 = 4096) */
    int debug;               /* OLLAMA_DEBUG: 0, 1, 2 */
    bool noprune;            /* OLLAMA_NOPRUNE */
    int64_t load_timeout_ns; /* OLLAMA_LOAD_TIMEOUT (5m); <= 0 none */
    /* cluster (docs/cluster.md); `serve` flags override these */
    char data_dir[1024];     /* OLLAMAMAX_DATA (~/.ollamamax) */
    char join[256];          /* OLLAMAMAX_JOIN: a member's API HOST:PORT, or "" */
    char cluster_token[128]; /* OLLAMAMAX_CLUSTER_TOKEN, or "" */
    char raft_addr[256];     /* OLLAMAMAX_RAFT_ADDR, or "" = API host, port + 1 */
    bool cluster_init;       /* serve --cluster-init (no variable) */
};

/* Reads the environment. Returns 0, or OM_EINVAL with err naming the
 * variable and value that could not be parsed. */
int api_env_load(struct api_env *env, char *err, size_t errlen);

/* Parses an OLLAMA_HOST value ("[scheme://]host[:port][/path]") into host and
 * port with Ollama's defaults (127.0.0.1, 11434; http → 80, https → 443 when
 * no port is given). Returns 0 or OM_EINVAL. */
int api_parse_host(const char *s, char *host, size_t hostcap, int *port);

/* Parses a Go duration string ("5m", "1h30m", "300ms", "-1m", "0", "1.5h")
 * into nanoseconds. A bare number without unit is rejected (OM_EINVAL) except
 * "0". */
int api_parse_duration(const char *s, int64_t *ns);

struct api_server;
/* Opens the store (pruning it unless noprune), creates the registry key if
 * missing, starts the scheduler and the HTTP server. Returns 0 and gives
 * *out, or an error with err saying why (e.g. the port is in use). */
int api_server_start(const struct api_env *env, struct api_server **out, char *err,
                     size_t errlen);
int api_server_port(const struct api_server *s);
/* The cluster token when this node is a cluster member, else NULL. */
const char *api_server_cluster_token(const struct api_server *s);
/* Stops accepting, cancels running requests, unloads models, frees. */
void api_server_stop(struct api_server *s);

#endif
