/* api: private layout shared by the handler files. */
#ifndef API_INT_H
#define API_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "http/http.h"
#include "sched/sched.h"

struct store_root;
struct store_model;
struct oai_conv;
struct oai_resp;
struct api_prog;

/* Facts about one model file, read once from its GGUF header and kept for
 * the server's life (one entry per distinct blob path). */
struct api_minfo {
    struct api_minfo *next;
    char *path;
    char *arch;
    char *chat_template;  /* tokenizer.chat_template or NULL */
    bool embedding;       /* has <arch>.pooling_type or is an encoder */
    bool jinja_tools;     /* the chat_template reads `tools` */
    bool jinja_think;     /* the chat_template knows thinking */
    int64_t n_ctx_train;
};

struct api_server {
    struct api_env env;
    struct store_root *store;
    sched *sched;
    http_server *http;
    pthread_mutex_t mu;
    pthread_mutex_t store_mu; /* serializes create/copy/delete/pull on the store */
    struct api_minfo *minfo;
    /* background jobs (create, pull, push) still running: stop waits */
    int n_bg;
    pthread_cond_t bg_cv;
    struct api_prog *progs;   /* running create/pull/push (api_create.c) */
    bool stopping;
    /* cluster (docs/cluster.md): NULL on a single node */
    struct clu *cluster;
    volatile bool cluster_starting; /* clu_start is running (the HTTP server already is) */
    /* the cluster token that node-to-node calls carry ("" = none): a request
     * with X-OllamaMax-Forwarded equal to it is served here, never proxied */
    char cl_token[128];
};

/* ---- api_util.c ---- */
/* Parses the body as a JSON object. On failure answers 400 (missing body,
 * decoder message, not an object) and returns NULL. */
json_t *api_body_json(http_req *req);
/* Answers with a JSON value (taken) and status. */
int api_respond_json(http_req *req, int status, json_t *v);
/* "model" or else "name" as a string, or NULL. */
const char *api_model_field(const json_t *body);
/* RFC 3339 UTC time with nanoseconds, trailing zeros trimmed. */
void api_time_utc(int64_t unix_ns, char *buf, size_t cap);
/* RFC 3339 in local time with offset (file mtimes). */
void api_time_local(int64_t unix_ns, char *buf, size_t cap);
int64_t api_now_ns(void); /* CLOCK_REALTIME */
/* keep_alive from a request value (number of seconds, or a duration
 * string). Returns 0 and sets *ns and *set, OM_EINVAL with err otherwise. */
int api_keep_alive(const json_t *v, int64_t *ns, bool *set, char *err, size_t errlen);
/* The model's facts (cached); NULL with err when the GGUF cannot be read. */
const struct api_minfo *api_minfo_get(struct api_server *s, const char *path, char *err,
                                      size_t errlen);
/* Capabilities of a stored model as Ollama names them, as a JSON array. */
json_t *api_capabilities(struct api_server *s, const struct store_model *m);
bool api_has_capability(const json_t *caps, const char *cap);
/* Cancels running pulls and pushes (server stop). */
void api_create_cancel_all(struct api_server *s);
/* Submits a job unless the server is stopping (then OM_ECANCELED). */
int api_submit(struct api_server *s, enum sched_kind kind, const struct sched_model *m,
               const struct sched_job_cb *cb, sched_job **out);
/* Background work accounting (api_server_stop waits for these). */
bool api_bg_enter(struct api_server *s);
void api_bg_leave(struct api_server *s);

/* ---- api_out.c: where generate/chat chunks go ---- */
enum api_out_mode {
    API_OUT_NDJSON,   /* native stream */
    API_OUT_ONCE,     /* native stream:false: one object at the end */
    API_OUT_OAI,      /* OpenAI shapes through struct oai_conv (SSE or one object) */
    API_OUT_OAI_RESP, /* /v1/responses through struct oai_resp (named SSE events or one object) */
};
struct api_out {
    http_req *req;
    enum api_out_mode mode;
    bool oai_stream;
    struct oai_conv *conv;
    struct oai_resp *resp;
    bool started;     /* response headers sent */
    bool ended;
    /* API_OUT_ONCE accumulators */
    json_t *acc_text;      /* generate: response; chat: message.content (string) */
    json_t *acc_thinking;
    json_t *acc_calls;     /* array */
    json_t *acc_logprobs;  /* array */
    /* optional: told the time from observe_t0 to the first chunk (a gateway
     * measuring the node it runs on, for latency routing); once */
    void (*observe)(void *ud, const char *id, int64_t ttft_ns, bool ok);
    void *observe_ud;
    char observe_id[17];
    int64_t observe_t0; /* om_time_ns */
};
void api_out_init(struct api_out *o, http_req *req, enum api_out_mode mode, bool oai_stream,
                  struct oai_conv *conv);
/* A streaming chunk (taken). Returns 0, or OM_EIO once the client is gone. */
int api_out_chunk(struct api_out *o, json_t *chunk);
/* The last chunk (taken): done:true with metrics. Ends the response. */
void api_out_final(struct api_out *o, json_t *chunk);
/* An error: a status + body before anything was sent, else an error line.
 * Ends the response. */
void api_out_error(struct api_out *o, int status, const char *msg);
void api_out_free(struct api_out *o);

/* ---- route groups ---- */
void api_h_root(http_req *req, void *ctx);
void api_h_version(http_req *req, void *ctx);
void api_h_tags(http_req *req, void *ctx);
void api_h_ps(http_req *req, void *ctx);
void api_h_show(http_req *req, void *ctx);
void api_h_copy(http_req *req, void *ctx);
void api_h_delete(http_req *req, void *ctx);
void api_h_blob_head(http_req *req, void *ctx);
void api_h_blob_post(http_req *req, void *ctx);
int api_h_blob_body(http_req *req, const char *data, size_t len, void *ctx);
void api_h_generate(http_req *req, void *ctx);
void api_h_chat(http_req *req, void *ctx);
void api_h_embed(http_req *req, void *ctx);
void api_h_embeddings(http_req *req, void *ctx);
void api_h_create(http_req *req, void *ctx);
void api_h_pull(http_req *req, void *ctx);
void api_h_push(http_req *req, void *ctx);
void api_h_v1_chat(http_req *req, void *ctx);
void api_h_v1_completions(http_req *req, void *ctx);
void api_h_v1_embeddings(http_req *req, void *ctx);
void api_h_v1_responses(http_req *req, void *ctx);
void api_h_v1_models(http_req *req, void *ctx);
void api_h_v1_model(http_req *req, void *ctx);

/* ---- api_cluster.c: /api/cluster routes (docs/cluster.md) ---- */
void api_h_cluster_status(http_req *req, void *ctx);
void api_h_cluster_nodes(http_req *req, void *ctx);
void api_h_cluster_drain(http_req *req, void *ctx);  /* and undrain */
void api_h_cluster_leave(http_req *req, void *ctx);
void api_h_cluster_token(http_req *req, void *ctx);
void api_h_cluster_settings(http_req *req, void *ctx);
void api_h_cluster_join(http_req *req, void *ctx);
void api_h_cluster_propose(http_req *req, void *ctx);
void api_h_cluster_remove(http_req *req, void *ctx);
void api_h_cluster_report(http_req *req, void *ctx);
void api_h_cluster_blob(http_req *req, void *ctx);
/* given equals the cluster token (constant time); false when there is none */
bool api_cluster_token_ok(struct api_server *s, const char *given);
/* ---- api_cluster_models.c ---- */
/* The request came from a member (X-OllamaMax-Forwarded or Authorization:
 * Bearer with the token): answer for this node alone. */
bool api_forwarded(struct api_server *s, http_req *req);
/* After a local create/pull/copy: the model into the cluster catalog. */
void api_cluster_register(struct api_server *s, const char *name);
/* After a local delete (or when the model is only elsewhere): out of the
 * catalog. 0, or OM_ENOTFOUND when the catalog does not have it. */
int api_cluster_unregister(struct api_server *s, const char *name);
/* A copy of a catalog model this node does not hold: a catalog entry under
 * dst with the source's manifest (the nodes fetch it). 0, OM_ENOTFOUND. */
int api_cluster_copy(struct api_server *s, const char *src, const char *dst);
void api_cluster_tags_extra(struct api_server *s, json_t *list);
void api_cluster_ps_extra(struct api_server *s, http_req *req, json_t *list);
bool api_cluster_show_remote(struct api_server *s, http_req *req, const json_t *body,
                             const char *name);

/* ---- api_gen.c: the generate/chat engine shared by native and /v1 ---- */
enum api_gen_kind { API_GEN_GENERATE, API_GEN_CHAT };
/* Runs a native generate/chat request body (borrowed) and answers through
 * out (which the call takes over). Used by /api and /v1. */
void api_gen_run(struct api_server *s, http_req *req, enum api_gen_kind kind, json_t *body,
                 struct api_out *out);
/* Runs a native /api/embed body; with oai set, answers in OpenAI's shape
 * (encoding_format as given). */
void api_embed_run(struct api_server *s, http_req *req, json_t *body, bool legacy,
                   const json_t *oai_req);

/* ---- api_cluster_route.c ---- */
/* api_gen_run / api_embed_run behind the cluster's routing: on a member the
 * request may run on (and fail over between) other nodes; otherwise here. */
void api_route_gen(struct api_server *s, http_req *req, enum api_gen_kind kind, json_t *body,
                   struct api_out *out);
void api_route_embed(struct api_server *s, http_req *req, json_t *body, bool legacy,
                     const json_t *oai_req);

/* The native /api/tags list (used by /v1/models too). */
json_t *api_tags_json(struct api_server *s);

#endif
