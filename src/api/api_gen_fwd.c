/* api: the serving side of the internal generation protocol
 * (docs/cluster.md "Internal generation protocol") — recognising a request a
 * gateway forwarded (X-OllamaMax-Forwarded equal to the cluster token,
 * compared in constant time), the ids sampled since the previous chunk
 * ("_om_tokens"), and "_om_resume": the tokens an interrupted run already
 * produced, checked, appended to the prompt and replayed through this
 * side's output pipeline (tok_stream, stop strings, thinking/tool parser)
 * with the output discarded, since the client already has it. The
 * scheduler replays its own part (sched_prompt.n_resume). */
#include <stdlib.h>
#include <string.h>

#include "api/api_gen_int.h"
#include "base/om.h"
#include "engine/tok.h"
#include "prompt/parse.h"

/* Most resumed tokens accepted before the context size is known. */
#define API_RESUME_MAX (1 << 20)

static bool ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    volatile unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)a[i] ^ (unsigned char)(lb ? b[i % lb] : 0);
    return d == 0;
}

bool api_gen_is_forwarded(const struct api_server *s, http_req *req)
{
    if (!s->cl_token[0])
        return false;
    const char *h = http_req_header(req, API_FWD_HEADER);
    return h && ct_equal(s->cl_token, h);
}

int api_gen_resume_parse(struct api_gen *g, const json_t *body, int32_t num_ctx, char *err,
                         size_t errlen)
{
    const json_t *r = json_object_get(body, "_om_resume");
    if (!r || json_is_null(r))
        return 0;
    if (!g->forwarded)
        return om_err(err, errlen, OM_EINVAL,
                      "_om_resume is only accepted from a node of this cluster");
    const json_t *toks = json_object_get(r, "tokens");
    if (!json_is_object(r) || !json_is_array(toks))
        return om_err(err, errlen, OM_EINVAL, "_om_resume.tokens must be an array of token ids");
    size_t n = json_array_size(toks);
    size_t max = num_ctx > 0 ? (size_t)num_ctx : API_RESUME_MAX;
    if (n > max || n > API_RESUME_MAX)
        return om_err(err, errlen, OM_EINVAL, "_om_resume has %zu tokens, more than %zu", n,
                      max);
    if (n == 0)
        return 0;
    g->resume = om_xmalloc(n * sizeof *g->resume);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(toks, i);
        json_int_t id = json_integer_value(v);
        if (!json_is_integer(v) || id < 0 || id > INT32_MAX)
            return om_err(err, errlen, OM_EINVAL, "_om_resume.tokens[%zu] is not a token id", i);
        g->resume[i] = (int32_t)id;
    }
    g->n_resume = n;
    return 0;
}

int api_gen_resume_replay(struct api_gen *g, const struct tok_vocab *v, const json_t *stop,
                          char *err, size_t errlen)
{
    if (g->n_resume == 0)
        return 0;
    int32_t nv = tok_n_vocab(v);
    for (size_t i = 0; i < g->n_resume; i++)
        if (g->resume[i] >= nv)
            return om_err(err, errlen, OM_EINVAL,
                          "_om_resume.tokens[%zu] = %d is outside the vocabulary (%d)", i,
                          (int)g->resume[i], (int)nv);
    /* the same text the scheduler emitted for these tokens (sched_slot.c) */
    size_t ns = json_array_size(stop);
    const char **sv = om_xcalloc(ns ? ns : 1, sizeof *sv);
    int n_stop = 0;
    for (size_t i = 0; i < ns; i++) {
        const char *s = json_string_value(json_array_get(stop, i));
        if (s)
            sv[n_stop++] = s;
    }
    struct smp_stop *st = NULL;
    int rc = smp_stop_new(sv, n_stop, &st, err, errlen);
    free(sv);
    if (rc)
        return rc;
    size_t cap = 3 * (tok_max_piece_len(v) + 4) + 64;
    char *buf = om_xmalloc(cap);
    tok_stream ts;
    tok_stream_init(&ts);
    for (size_t i = 0; i < g->n_resume; i++) {
        if (tok_is_eog(v, g->resume[i]))
            continue;
        size_t n = 0, el = 0;
        const char *e = NULL;
        if (tok_stream_push(&ts, v, g->resume[i], 0, buf, cap, &n) != 0)
            continue;
        smp_stop_feed(st, buf, n, &e, &el);
        if (el > 0 && g->parser) {
            struct parse_out po = {0};
            parse_feed(g->parser, e, el, &po);
            parse_out_clear(&po); /* already sent by the interrupted run */
        }
    }
    free(buf);
    smp_stop_free(st);
    return 0;
}

void api_gen_tokens_push(struct api_gen *g, int32_t id)
{
    if (g->n_pend == g->cap_pend) {
        g->cap_pend = g->cap_pend ? g->cap_pend * 2 : 16;
        g->pend = om_xrealloc(g->pend, g->cap_pend * sizeof *g->pend);
    }
    g->pend[g->n_pend++] = id;
}

void api_gen_tokens_attach(struct api_gen *g, json_t *chunk)
{
    if (!g->forwarded)
        return;
    json_t *a = json_array();
    for (size_t i = 0; i < g->n_pend; i++)
        json_array_append_new(a, json_integer(g->pend[i]));
    g->n_pend = 0;
    json_object_set_new(chunk, "_om_tokens", a);
}
