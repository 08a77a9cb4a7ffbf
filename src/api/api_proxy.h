/* api: the gateway — serving generate/chat/embed requests through other
 * nodes of the cluster (docs/cluster.md "Internal generation protocol",
 * "Routing"). The caller (the routing hook in the generate/chat/embed path)
 * has already ordered the nodes; the proxy tries them in that order, turns
 * the serving node's NDJSON lines back into chunks for the client's own
 * output mode (native NDJSON, stream:false, OpenAI), and when a stream breaks
 * before its final chunk re-issues the request to the next node with
 * "_om_resume" so that the client sees one uninterrupted stream. */
#ifndef API_PROXY_H
#define API_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api_int.h"

/* One node to try. */
struct api_target {
    char id[17];          /* node id (16 hex digits) */
    char api_addr[256];   /* "host:port" of its API */
};

/* Runs a native generate/chat body here, without routing (api_gen_run's
 * shape; it takes over out). */
typedef void (*api_proxy_local_gen_fn)(struct api_server *s, http_req *req,
                                       enum api_gen_kind kind, json_t *body,
                                       struct api_out *out);
/* Runs a native /api/embed (legacy: /api/embeddings) body here, without
 * routing (api_embed_run's shape). */
typedef void (*api_proxy_local_embed_fn)(struct api_server *s, http_req *req, json_t *body,
                                         bool legacy, const json_t *oai_req);

struct api_proxy_opts {
    const char *self_id;                    /* this node's id, or NULL */
    api_proxy_local_gen_fn local_gen;       /* NULL: this node too is reached over HTTP */
    api_proxy_local_embed_fn local_embed;
    /* After each attempt on a remote target: the time to its first line in ns
     * (-1 when none came) and whether the answer completed there (for the
     * latency strategy). May be NULL; any thread. */
    void (*observe)(void *ud, const char *target_id, int64_t ttft_ns, bool ok);
    /* Asked about every 0.5 s while a target streams: false (e.g. the node was
     * marked down) breaks that stream at once and fails over. May be NULL. */
    bool (*alive)(void *ud, const char *target_id);
    void *ud;
    long stall_ms;        /* no byte for this long = broken; 0: env
                             OLLAMAMAX_PROXY_STALL_MS or 10000 */
    long first_byte_ms;   /* before the first byte (model load); 0: 300000 */
};

/* Serves a native generate/chat body (borrowed) through the targets, in
 * order (targets[0] first; the rest are the failover order; copied, n >= 1).
 * POSTs the body to http://<api_addr>/api/<generate|chat> with stream:true
 * forced, the bearer token and X-OllamaMax-Forwarded (s->cl_token), and
 * turns each line into a chunk for out (taken over) after removing
 * _om_tokens. A stream that breaks before its final chunk is re-issued to the
 * next target with _om_resume (all ids received so far); a target that fails
 * before sending anything is skipped. The final chunk's total_duration is the
 * gateway's wall time. An error answer (4xx {"error"}) before anything was
 * sent is passed to the client as is; when every target failed the client
 * gets 502 (or an error line once streaming). A body carrying _om_resume is
 * refused (400). A target equal to opts->self_id with local_gen set is run
 * with local_gen when nothing was sent yet. The work runs on its own thread:
 * the call returns at once. The client leaving cancels the upstream
 * transfer. */
void api_proxy_gen(struct api_server *s, http_req *req, enum api_gen_kind kind, json_t *body,
                   struct api_out *out, const struct api_target *targets, int n,
                   const struct api_proxy_opts *opts);

/* Same for an /api/embed (legacy: /api/embeddings) body: one JSON answer,
 * failover = the next target; with oai_req (borrowed) the answer is turned
 * into OpenAI's shape as api_embed_run does. */
void api_proxy_embed(struct api_server *s, http_req *req, json_t *body, bool legacy,
                     const json_t *oai_req, const struct api_target *targets, int n,
                     const struct api_proxy_opts *opts);

/* Whether req is a request another node's gateway forwarded here (the
 * X-OllamaMax-Forwarded header equals the cluster token): such a request is
 * served here and never proxied again. */
bool api_proxy_is_forwarded(const struct api_server *s, http_req *req);

#endif
