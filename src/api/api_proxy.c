/* api: the gateway (api_proxy.h) — a generate/chat request served through
 * other nodes with mid-stream failover, and embed requests with retry.
 *
 * One thread per proxied request drives the upstream transfers one after the
 * other (chttp_post_stream): the lines of the serving node become chunks for
 * the client's api_out as they arrive, the token ids each chunk carries
 * (_om_tokens) are kept, and when the stream breaks before the final chunk
 * the same body plus "_om_resume": {"tokens": ids} goes to the next target.
 * The serving node replays those tokens and continues, so the client's text
 * has neither gaps nor repeats (docs/cluster.md). */
#include "api/api_proxy.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_gen_int.h"
#include "api/oai.h"
#include "base/om.h"
#include "cluster/chttp.h"

#define PXY_STALL_MS 10000L
#define PXY_FIRST_BYTE_MS 300000L
#define PXY_ALIVE_EVERY_NS 500000000ull
#define PXY_MAX_IDS (1u << 22)

struct pxy {
    struct api_server *s;
    http_req *req;
    enum api_gen_kind kind;
    bool embed, legacy;
    json_t *orig;          /* the client's body (for a local run) */
    json_t *oai_req;       /* embed: the /v1 request or NULL */
    json_t *fwd;           /* the body sent upstream */
    struct api_out out;
    bool out_taken;        /* handed to a local run */
    struct api_target *t;
    int n;
    struct api_proxy_opts o;
    char self_id[17];
    atomic_bool gone;
    uint64_t t0;
    json_int_t *ids;       /* every token id received, in order */
    size_t n_ids, cap_ids;
    bool sent;             /* a chunk went to out */
    bool finished;         /* the client's answer is complete */
    char last_err[512];
    /* the current attempt */
    int cur;
    size_t lines;
    uint64_t t_start, t_first, t_alive;
    bool client_left;      /* api_out refused a chunk */
    bool target_dead;      /* opts.alive said no */
    bool bad_line;
};

bool api_proxy_is_forwarded(const struct api_server *s, http_req *req)
{
    return api_gen_is_forwarded(s, req);
}

static void pxy_gone(http_req *req, void *user)
{
    (void)req;
    struct pxy *p = user;
    atomic_store(&p->gone, true);
}

static bool stopping(struct pxy *p)
{
    if (atomic_load(&p->gone))
        return true;
    pthread_mutex_lock(&p->s->mu);
    bool st = p->s->stopping;
    pthread_mutex_unlock(&p->s->mu);
    return st;
}

static void pxy_free(struct pxy *p)
{
    if (!p->out_taken)
        api_out_free(&p->out);
    json_decref(p->orig);
    json_decref(p->oai_req);
    json_decref(p->fwd);
    free(p->t);
    free(p->ids);
    free(p);
}

/* The client's answer, after the disconnect callback is gone for good. */
static void finish_final(struct pxy *p, json_t *chunk)
{
    http_req_on_gone(p->req, NULL, NULL);
    p->finished = true;
    api_out_final(&p->out, chunk);
}

static void finish_error(struct pxy *p, int status, const char *msg)
{
    http_req_on_gone(p->req, NULL, NULL);
    p->finished = true;
    api_out_error(&p->out, status, msg);
}

static bool add_ids(struct pxy *p, const json_t *a)
{
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || p->n_ids >= PXY_MAX_IDS)
            return false;
        if (p->n_ids == p->cap_ids) {
            p->cap_ids = p->cap_ids ? 2 * p->cap_ids : 64;
            p->ids = om_xrealloc(p->ids, p->cap_ids * sizeof *p->ids);
        }
        p->ids[p->n_ids++] = json_integer_value(v);
    }
    return true;
}

/* A mid-stream error line that says the serving node is going away (its jobs
 * cancelled, its models unloaded at shutdown): another node may continue.
 * Other errors (sampling, grammar) would repeat there and pass as they are. */
static bool error_is_transient(const char *msg)
{
    return strstr(msg, "cancel") || strstr(msg, "shutting down") || strstr(msg, "busy") ||
           strstr(msg, "unloaded");
}

/* One upstream line. */
static int on_line(void *ud, const char *line, size_t len)
{
    struct pxy *p = ud;
    uint64_t now = om_time_ns();
    if (p->lines++ == 0)
        p->t_first = now;
    json_error_t je;
    json_t *c = json_loadb(line, len, 0, &je);
    if (!json_is_object(c)) {
        json_decref(c);
        snprintf(p->last_err, sizeof p->last_err, "%s: bad line: %s", p->t[p->cur].id, je.text);
        p->bad_line = true;
        return -1;
    }
    const char *emsg = json_string_value(json_object_get(c, "error"));
    if (emsg) {
        snprintf(p->last_err, sizeof p->last_err, "%s: %s", p->t[p->cur].id, emsg);
        if (error_is_transient(emsg)) {
            json_decref(c);
            p->bad_line = true;
            return -1;
        }
        finish_error(p, 500, emsg);
        json_decref(c);
        return 1;
    }
    const json_t *toks = json_object_get(c, "_om_tokens");
    if (toks && (!json_is_array(toks) || !add_ids(p, toks))) {
        json_decref(c);
        snprintf(p->last_err, sizeof p->last_err, "%s: bad _om_tokens", p->t[p->cur].id);
        p->bad_line = true;
        return -1;
    }
    json_object_del(c, "_om_tokens");
    if (json_is_true(json_object_get(c, "done"))) {
        json_object_set_new(c, "total_duration", json_integer((json_int_t)(now - p->t0)));
        finish_final(p, c);
        return 1;
    }
    p->sent = true;
    if (api_out_chunk(&p->out, c)) {
        p->client_left = true;
        return -1;
    }
    return 0;
}

static int on_poll(void *ud)
{
    struct pxy *p = ud;
    if (stopping(p))
        return 1;
    uint64_t now = om_time_ns();
    if (p->o.alive && now - p->t_alive >= PXY_ALIVE_EVERY_NS) {
        p->t_alive = now;
        if (!p->o.alive(p->o.ud, p->t[p->cur].id)) {
            p->target_dead = true;
            return 1;
        }
    }
    return 0;
}

/* The body for the next attempt (new reference). */
static json_t *attempt_body(struct pxy *p)
{
    if (p->n_ids == 0 && !p->sent)
        return json_incref(p->fwd);
    json_t *b = json_copy(p->fwd);
    json_t *a = json_array();
    for (size_t i = 0; i < p->n_ids; i++)
        json_array_append_new(a, json_integer(p->ids[i]));
    json_object_set_new(b, "_om_resume", json_pack("{s:o}", "tokens", a));
    return b;
}

static long env_ms(const char *name, long def)
{
    const char *v = getenv(name);
    char *end = NULL;
    long x = v ? strtol(v, &end, 10) : 0;
    return v && end && !*end && x > 0 ? x : def;
}

static bool is_self(const struct pxy *p, const struct api_target *t)
{
    return p->self_id[0] && !strcmp(p->self_id, t->id);
}

/* The message of an error answer body ({"error": "…"} or its text). */
static void error_text(const char *body, char *out, size_t cap)
{
    json_t *j = body ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
    const char *m = json_string_value(json_object_get(j, "error"));
    snprintf(out, cap, "%s", m ? m : body && *body ? body : "error");
    json_decref(j);
}

static void run_gen(struct pxy *p)
{
    char tok_hdr[200];
    snprintf(tok_hdr, sizeof tok_hdr, "%s: %s", API_FWD_HEADER, p->s->cl_token);
    const char *hdrs[] = {tok_hdr, NULL};
    const char *path = p->kind == API_GEN_CHAT ? "/api/chat" : "/api/generate";
    for (p->cur = 0; p->cur < p->n && !p->finished; p->cur++) {
        if (stopping(p))
            break;
        const struct api_target *t = &p->t[p->cur];
        if (is_self(p, t) && p->o.local_gen && !p->sent && p->n_ids == 0) {
            http_req_on_gone(p->req, NULL, NULL);
            p->out_taken = true;
            p->finished = true;
            if (p->o.observe) {
                p->out.observe = p->o.observe;
                p->out.observe_ud = p->o.ud;
                snprintf(p->out.observe_id, sizeof p->out.observe_id, "%s", t->id);
                p->out.observe_t0 = (int64_t)om_time_ns();
            }
            p->o.local_gen(p->s, p->req, p->kind, p->orig, &p->out);
            return;
        }
        json_t *b = attempt_body(p);
        char *text = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        if (!text) {
            snprintf(p->last_err, sizeof p->last_err, "the request cannot be encoded");
            break;
        }
        char url[320];
        snprintf(url, sizeof url, "http://%s%s", t->api_addr, path);
        struct chttp_stream_opts so = {
            .token = p->s->cl_token, .headers = hdrs,
            .stall_ms = p->o.stall_ms, .first_byte_ms = p->o.first_byte_ms,
            .poll = on_poll, .poll_ud = p,
        };
        p->lines = 0;
        p->t_start = p->t_alive = om_time_ns();
        p->t_first = 0;
        p->client_left = p->target_dead = p->bad_line = false;
        struct chttp_stream_result r;
        chttp_post_stream(url, text, strlen(text), &so, on_line, p, &r);
        free(text);
        if (p->o.observe)
            p->o.observe(p->o.ud, t->id,
                         p->t_first ? (int64_t)(p->t_first - p->t_start) : -1, p->finished);
        if (r.end == CHTTP_END_HTTP_ERROR) {
            char msg[400];
            error_text(r.error_body, msg, sizeof msg);
            snprintf(p->last_err, sizeof p->last_err, "%s: %d %s", t->id, r.status, msg);
            if (!p->sent && r.status >= 400 && r.status < 500 && r.status != 408 &&
                r.status != 429)
                finish_error(p, r.status, msg);
        } else if (!p->finished && !p->bad_line) {
            snprintf(p->last_err, sizeof p->last_err, "%s: stream %s%s%s", t->id,
                     chttp_end_name(r.end), r.err[0] ? ": " : "", r.err);
        }
        chttp_stream_result_clear(&r);
        if (!p->finished && p->sent)
            om_log(OM_LOG_INFO, "api", "proxy: %s after %zu tokens; resuming on the next node",
                   p->last_err, p->n_ids);
        if (p->client_left || (r.end == CHTTP_END_CANCELLED && !p->target_dead))
            break;
    }
    if (p->finished)
        return;
    if (stopping(p)) {
        finish_error(p, atomic_load(&p->gone) ? 499 : 503,
                     atomic_load(&p->gone) ? "client gone" : "server is shutting down");
        return;
    }
    char msg[700];
    snprintf(msg, sizeof msg, "no node could serve the request (%s)",
             p->last_err[0] ? p->last_err : "no target");
    finish_error(p, 502, msg);
}

static void embed_respond(struct pxy *p, int status, json_t *ans)
{
    p->finished = true;
    if (!p->oai_req) {
        api_respond_json(p->req, status, ans);
        return;
    }
    if (status == 200) {
        const char *fmt = json_string_value(json_object_get(p->oai_req, "encoding_format"));
        const char *model = json_string_value(json_object_get(p->orig, "model"));
        json_t *o = oai_embed_response(ans, fmt ? fmt : "float", model ? model : "");
        json_decref(ans);
        api_respond_json(p->req, 200, o);
        return;
    }
    const char *m = json_string_value(json_object_get(ans, "error"));
    json_t *e = oai_error(status, m ? m : "error");
    json_decref(ans);
    api_respond_json(p->req, status, e);
}

/* The answer of an embed is one JSON document (one line). */
static int embed_line(void *ud, const char *line, size_t len)
{
    json_t **ans = ud;
    if (*ans)
        return -1; /* more than one document */
    *ans = json_loadb(line, len, 0, NULL);
    return *ans ? 0 : -1;
}

/* POSTs the embed body like chttp_post_json_h, but as a stream so that the
 * target's liveness is polled while it works (a hung node fails over once
 * it is marked down instead of after the first-byte bound). */
static int embed_call(struct pxy *p, const char *url, chttp_headers hdrs, int *status,
                      json_t **ans, char *err, size_t errlen)
{
    char *text = json_dumps(p->orig, JSON_COMPACT);
    if (!text)
        return om_err(err, errlen, OM_EINVAL, "the request cannot be encoded");
    struct chttp_stream_opts so = {
        .token = p->s->cl_token, .headers = hdrs, .stall_ms = p->o.stall_ms,
        .first_byte_ms = p->o.first_byte_ms > 0 ? p->o.first_byte_ms : PXY_FIRST_BYTE_MS,
        .poll = on_poll, .poll_ud = p,
    };
    p->t_start = p->t_alive = om_time_ns();
    p->target_dead = false;
    struct chttp_stream_result r;
    chttp_post_stream(url, text, strlen(text), &so, embed_line, ans, &r);
    free(text);
    int rc = 0;
    *status = r.status;
    if (r.end == CHTTP_END_HTTP_ERROR) {
        json_decref(*ans);
        *ans = r.error_body ? json_loads(r.error_body, 0, NULL) : NULL;
    } else if (r.end != CHTTP_END_EOF && r.end != CHTTP_END_DONE) {
        rc = om_err(err, errlen, OM_EIO, "%s%s%s", chttp_end_name(r.end), r.err[0] ? ": " : "",
                    r.err);
        json_decref(*ans);
        *ans = NULL;
    }
    chttp_stream_result_clear(&r);
    return rc;
}

static void run_embed(struct pxy *p)
{
    char tok_hdr[200];
    snprintf(tok_hdr, sizeof tok_hdr, "%s: %s", API_FWD_HEADER, p->s->cl_token);
    const char *hdrs[] = {tok_hdr, NULL};
    const char *path = p->legacy ? "/api/embeddings" : "/api/embed";
    for (p->cur = 0; p->cur < p->n && !p->finished; p->cur++) {
        if (stopping(p))
            break;
        const struct api_target *t = &p->t[p->cur];
        if (is_self(p, t) && p->o.local_embed) {
            p->finished = true;
            p->o.local_embed(p->s, p->req, p->orig, p->legacy, p->oai_req);
            return;
        }
        char url[320], err[400] = "";
        snprintf(url, sizeof url, "http://%s%s", t->api_addr, path);
        int status = 0;
        json_t *ans = NULL;
        uint64_t t1 = om_time_ns();
        int rc = embed_call(p, url, hdrs, &status, &ans, err, sizeof err);
        bool ok = rc == 0 && status == 200 && json_is_object(ans);
        if (p->o.observe)
            p->o.observe(p->o.ud, t->id, rc == 0 ? (int64_t)(om_time_ns() - t1) : -1, ok);
        if (ok || (rc == 0 && status >= 400 && status < 500 && status != 408 && status != 429 &&
                   json_is_string(json_object_get(ans, "error")))) {
            embed_respond(p, status, ans);
            return;
        }
        const char *em = json_string_value(json_object_get(ans, "error"));
        snprintf(p->last_err, sizeof p->last_err, "%s: %.400s", t->id,
                 rc ? err : em ? em : "bad answer");
        if (rc == 0 && status >= 500 && p->cur == p->n - 1 && json_is_object(ans)) {
            embed_respond(p, status, ans);
            return;
        }
        json_decref(ans);
    }
    char msg[700];
    snprintf(msg, sizeof msg, "no node could serve the request (%s)",
             p->last_err[0] ? p->last_err : "no target");
    embed_respond(p, stopping(p) ? 503 : 502, json_pack("{s:s}", "error", msg));
}

static void *pxy_main(void *arg)
{
    struct pxy *p = arg;
    struct api_server *s = p->s;
    if (p->embed)
        run_embed(p);
    else
        run_gen(p);
    pxy_free(p);
    api_bg_leave(s);
    return NULL;
}

static struct pxy *pxy_new(struct api_server *s, http_req *req, json_t *body,
                           const struct api_target *targets, int n,
                           const struct api_proxy_opts *opts)
{
    struct pxy *p = om_xcalloc(1, sizeof *p);
    p->s = s;
    p->req = req;
    p->orig = json_incref(body);
    p->t0 = om_time_ns();
    p->n = n > 0 ? n : 0;
    p->t = om_xcalloc(p->n ? (size_t)p->n : 1, sizeof *p->t);
    for (int i = 0; i < p->n; i++)
        p->t[i] = targets[i];
    if (opts)
        p->o = *opts;
    if (p->o.self_id)
        snprintf(p->self_id, sizeof p->self_id, "%s", p->o.self_id);
    p->o.self_id = NULL;
    if (p->o.stall_ms <= 0)
        p->o.stall_ms = env_ms("OLLAMAMAX_PROXY_STALL_MS", PXY_STALL_MS);
    if (p->o.first_byte_ms <= 0)
        p->o.first_byte_ms = PXY_FIRST_BYTE_MS;
    atomic_init(&p->gone, false);
    return p;
}

/* Starts p's thread; false (p freed, nothing answered) when it cannot run. */
static bool pxy_start(struct pxy *p)
{
    if (!api_bg_enter(p->s))
        return false;
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &at, pxy_main, p);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        api_bg_leave(p->s);
        return false;
    }
    return true;
}

void api_proxy_gen(struct api_server *s, http_req *req, enum api_gen_kind kind, json_t *body,
                   struct api_out *out, const struct api_target *targets, int n,
                   const struct api_proxy_opts *opts)
{
    struct api_out o = *out;
    if (json_object_get(body, "_om_resume")) {
        api_out_error(&o, 400, "_om_resume is only accepted from a node of this cluster");
        api_out_free(&o);
        return;
    }
    if (!targets || n < 1) {
        api_out_error(&o, 502, "no node could serve the request (no target)");
        api_out_free(&o);
        return;
    }
    struct pxy *p = pxy_new(s, req, body, targets, n, opts);
    p->kind = kind;
    p->out = o;
    /* the first target is this node: no thread, no HTTP */
    if (is_self(p, &p->t[0]) && p->o.local_gen) {
        p->out_taken = true;
        if (p->o.observe) { /* the latency strategy measures this node too */
            p->out.observe = p->o.observe;
            p->out.observe_ud = p->o.ud;
            snprintf(p->out.observe_id, sizeof p->out.observe_id, "%s", p->t[0].id);
            p->out.observe_t0 = (int64_t)om_time_ns();
        }
        p->o.local_gen(s, req, kind, body, &p->out);
        pxy_free(p);
        return;
    }
    p->fwd = json_deep_copy(body);
    json_object_set_new(p->fwd, "stream", json_true());
    http_req_on_gone(req, pxy_gone, p);
    if (!pxy_start(p)) {
        http_req_on_gone(req, NULL, NULL);
        api_out_error(&p->out, 503, "server is shutting down");
        pxy_free(p);
    }
}

void api_proxy_embed(struct api_server *s, http_req *req, json_t *body, bool legacy,
                     const json_t *oai_req, const struct api_target *targets, int n,
                     const struct api_proxy_opts *opts)
{
    if (!targets || n < 1) {
        const char *msg = "no node could serve the request (no target)";
        if (oai_req)
            api_respond_json(req, 502, oai_error(502, msg));
        else
            http_respond_error(req, 502, msg);
        return;
    }
    struct pxy *p = pxy_new(s, req, body, targets, n, opts);
    p->embed = true;
    p->legacy = legacy;
    p->oai_req = oai_req ? json_incref((json_t *)oai_req) : NULL;
    if (is_self(p, &p->t[0]) && p->o.local_embed) {
        p->o.local_embed(s, req, body, legacy, oai_req);
        pxy_free(p);
        return;
    }
    if (!pxy_start(p)) {
        if (oai_req)
            api_respond_json(req, 503, oai_error(503, "server is shutting down"));
        else
            http_respond_error(req, 503, "server is shutting down");
        pxy_free(p);
    }
}
