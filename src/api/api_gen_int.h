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
};

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
