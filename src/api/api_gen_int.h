/* api: state of one generate/chat request, shared by api_gen.c (request
 * checks, submission) and api_gen_run.c (prompt building on the scheduler
 * thread, output chunks). */
#ifndef API_GEN_INT_H
#define API_GEN_INT_H

#include "api/api_int.h"
#include "engine/smp.h"

struct parse;
struct tok_vocab;

struct api_gen {
    struct api_server *srv;
    http_req *req;
    enum api_gen_kind kind;
    struct api_out out;
    pthread_mutex_t mu;
    sched_job *job;
    bool done;        /* on_done ran: the response is complete */
    bool gone;        /* the client left */

    /* the request */
    json_t *body;               /* borrowed from the caller until submit, then owned */
    char *model_name;           /* as sent (echoed in "model") */
    struct store_model *m;
    const struct api_minfo *mi;
    json_t *options;            /* model params merged with request options (typed) */
    json_t *messages;           /* chat: what the template sees (model defaults merged) */
    const json_t *tools;        /* chat: request tools (borrowed from body) or NULL */
    const char *prompt;         /* generate */
    const char *suffix;
    const char *system;         /* generate: request system or NULL */
    const char *template_src;   /* generate "template" override or the model's */
    const json_t *context;      /* generate: deprecated context tokens */
    bool raw;
    int think;                  /* -1 unset, 0, 1 */
    char think_level[16];
    const json_t *format;       /* "json" or a schema object, or NULL */
    bool logprobs;
    int top_logprobs;
    bool truncate, shift;
    bool debug_render;          /* _debug_render_only: answer the rendered prompt */
    char *debug_text;           /* the rendered prompt (set by prepare) */
    uint64_t t_start;           /* om_time_ns at arrival */

    /* output */
    const struct tok_vocab *vocab;  /* set in prepare (valid while the job runs) */
    struct parse *parser;
    bool has_tools;

    /* internal generation protocol (api_gen_fwd.c, docs/cluster.md) */
    bool forwarded;             /* a gateway sent it: chunks carry _om_tokens */
    int32_t *resume;            /* _om_resume.tokens, n_resume of them */
    size_t n_resume;
    int32_t n_prompt;           /* the prompt's tokens without the resumed ones */
    int32_t *pend;              /* ids sampled since the last chunk */
    size_t n_pend, cap_pend;
};

/* The header a gateway's proxied request carries (the cluster token). */
#define API_FWD_HEADER "X-OllamaMax-Forwarded"

/* api_gen_fwd.c: the serving side of the internal generation protocol. */
/* Whether req carries X-OllamaMax-Forwarded equal to the (non-empty) cluster
 * token; compared in constant time. */
bool api_gen_is_forwarded(const struct api_server *s, http_req *req);
/* Reads body's _om_resume into g (g->forwarded must be set first): refused
 * (OM_EINVAL, err) when not forwarded, malformed, or longer than num_ctx
 * (<= 0: a fixed bound). Ids are range-checked later (replay). */
int api_gen_resume_parse(struct api_gen *g, const json_t *body, int32_t num_ctx, char *err,
                         size_t errlen);
/* Checks the resumed ids against the vocabulary and runs their text through
 * the stop strings and g->parser, discarding what comes out. */
int api_gen_resume_replay(struct api_gen *g, const struct tok_vocab *v, const json_t *stop,
                          char *err, size_t errlen);
/* Records a sampled id; attach moves the recorded ids into chunk as
 * "_om_tokens" (only for forwarded requests). */
void api_gen_tokens_push(struct api_gen *g, int32_t id);
void api_gen_tokens_attach(struct api_gen *g, json_t *chunk);

/* api_gen_run.c: the scheduler callbacks. */
int api_gen_prepare(void *ud, const struct sched_model_info *info, struct sched_prompt *out,
                    char *err, size_t errlen);
int api_gen_piece(void *ud, const char *text, size_t len, const struct sched_piece *info);
void api_gen_done(void *ud, const struct sched_result *res);
void api_gen_free(struct api_gen *g);
/* The single object answering a load-only or unload request. */
json_t *api_gen_special_reply(struct api_gen *g, const char *reason);

/* Sampling options (typed object, may be NULL) onto sampler params. */
void api_options_sampling(const json_t *opts, struct smp_params *p);
/* Integer option or def. */
int64_t api_option_int(const json_t *opts, const char *key, int64_t def);

#endif
