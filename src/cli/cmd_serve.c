/* cli: `ollamamax serve` — runs one node's Ollama-compatible server until
 * SIGINT or SIGTERM. Configuration is Ollama's environment (api_env_load). */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "base/om.h"
#include "cli/cli.h"
#include "cli/cli_server.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ollamamax serve [--cluster-init | --join HOST:PORT --token TOKEN]\n"
            "                       [--data DIR] [--raft-addr HOST:PORT]\n\n"
            "Start the Ollama-compatible server (same API, port and model store as ollama).\n"
            "With --cluster-init or --join the node is a member of a cluster\n"
            "(docs/cluster.md); a node restarted from its data dir rejoins by itself.\n\n"
            "Flags:\n"
            "  --cluster-init            bootstrap a one-node cluster; prints the join token\n"
            "  --join HOST:PORT          join through any member (its API address)\n"
            "  --token TOKEN             the cluster token (with --join)\n"
            "  --data DIR                the node's data dir (default ~/.ollamamax)\n"
            "  --raft-addr HOST:PORT     Raft address (default: API host, port + 1)\n\n"
            "Environment variables:\n"
            "  OLLAMA_HOST               IP address and port to bind (default 127.0.0.1:11434)\n"
            "  OLLAMA_MODELS             path to the models directory (default ~/.ollama/models)\n"
            "  OLLAMA_KEEP_ALIVE         how long models stay loaded (default \"5m\")\n"
            "  OLLAMA_NUM_PARALLEL       parallel sequences per model (default 8)\n"
            "  OLLAMA_MAX_LOADED_MODELS  models loaded at once (default 3)\n"
            "  OLLAMA_MAX_QUEUE          requests waiting before 503 (default 512)\n"
            "  OLLAMA_CONTEXT_LENGTH     default context length (default 4096)\n"
            "  OLLAMA_ORIGINS            extra allowed CORS origins (comma-separated)\n"
            "  OLLAMA_LOAD_TIMEOUT       how long a load may take (default \"5m\")\n"
            "  OLLAMA_NOPRUNE            do not prune unused blobs at start-up\n"
            "  OLLAMA_DEBUG              debug logging (1) or trace (2)\n"
            "  OLLAMAMAX_JOIN, OLLAMAMAX_CLUSTER_TOKEN, OLLAMAMAX_DATA, OLLAMAMAX_RAFT_ADDR\n"
            "                            the cluster flags above, as variables\n");
}

int cli_cmd_serve(int argc, char **argv)
{
    char err[512];
    struct api_env env;
    if (api_env_load(&env, err, sizeof err)) {
        fprintf(stderr, "Error: %s\n", err);
        return 1;
    }
    static const struct {
        const char *flag;
        size_t off, cap;
    } vals[] = {
        {"--join", offsetof(struct api_env, join), sizeof env.join},
        {"--token", offsetof(struct api_env, cluster_token), sizeof env.cluster_token},
        {"--data", offsetof(struct api_env, data_dir), sizeof env.data_dir},
        {"--raft-addr", offsetof(struct api_env, raft_addr), sizeof env.raft_addr},
    };
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--cluster-init")) {
            env.cluster_init = true;
            continue;
        }
        size_t k = 0;
        while (k < sizeof vals / sizeof vals[0] && strcmp(argv[i], vals[k].flag))
            k++;
        if (k < sizeof vals / sizeof vals[0]) {
            if (i + 1 >= argc || strlen(argv[i + 1]) >= vals[k].cap) {
                fprintf(stderr, "Error: %s needs a value\n", argv[i]);
                return 2;
            }
            snprintf((char *)&env + vals[k].off, vals[k].cap, "%s", argv[++i]);
            continue;
        }
        fprintf(stderr, "Error: unknown flag: %s\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (env.cluster_init && env.join[0]) {
        fprintf(stderr, "Error: --cluster-init and --join exclude each other\n");
        return 2;
    }
    om_log_set(NULL, NULL, env.debug ? OM_LOG_DEBUG : OM_LOG_INFO);
    /* block the stop signals in every thread; this one waits for them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct api_server *s = NULL;
    if (api_server_start(&env, &s, err, sizeof err)) {
        fprintf(stderr, "Error: %s\n", err);
        return 1;
    }
    fprintf(stderr, "Listening on %s:%d (version %s)\n", env.host, api_server_port(s),
            API_VERSION);
    const char *token = api_server_cluster_token(s);
    if (env.cluster_init && token)
        fprintf(stderr, "Cluster token: %s\n(join with: ollamamax serve --join %s:%d --token %s)\n",
                token, env.host, api_server_port(s), token);
    fflush(stderr);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "Shutting down (signal %d)\n", sig);
    api_server_stop(s);
    return 0;
}
