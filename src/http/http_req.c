/* http_req: request accessors and the answers (whole bodies and chunked
 * streams) that handlers give from any thread.
 *
 * An answer is stored under srv->mu and the connection, if suspended, is
 * resumed; MHD then calls the access handler (whole answer, stream start) or
 * the content reader (stream bytes) on its own thread, which hands the
 * stored bytes over. The reader suspends the connection when the queue is
 * empty and the stream not ended, so an idle stream costs no CPU. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/om.h"
#include "http/http_int.h"

/* ---- small key/value lists ---- */

void http_kv_add(struct http_kvlist *l, const char *name, const char *value)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = om_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n].name = om_xstrdup(name);
    l->v[l->n].value = om_xstrdup(value);
    l->n++;
}

const char *http_kv_get(const struct http_kvlist *l, const char *name, bool nocase)
{
    for (size_t i = 0; i < l->n; i++)
        if (nocase ? strcasecmp(l->v[i].name, name) == 0 : strcmp(l->v[i].name, name) == 0)
            return l->v[i].value;
    return NULL;
}

void http_kv_free(struct http_kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].value);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* ---- lifetime ---- */

static void req_free(http_req *req)
{
    http_server *s = req->srv;
    if (req->prev)
        req->prev->next = req->next;
    else
        s->reqs = req->next;
    if (req->next)
        req->next->prev = req->prev;
    pthread_cond_broadcast(&s->cv);
    free(req->method);
    free(req->path);
    free(req->peer);
    http_kv_free(&req->headers);
    http_kv_free(&req->query);
    http_kv_free(&req->params);
    http_kv_free(&req->resp_headers);
    free(req->body);
    free(req->cors_origin);
    free(req->ctype);
    free(req->ans_body);
    free(req->sbuf);
    free(req);
}

void http_req_unref_locked(http_req *req)
{
    if (--req->refs == 0)
        req_free(req);
}

void http_req_resume_locked(http_req *req)
{
    if (req->suspended && !req->mhd_done && req->conn) {
        req->suspended = false;
        MHD_resume_connection(req->conn);
    }
}

/* ---- accessors ---- */

const char *http_req_method(const http_req *req)
{
    return req->method;
}

const char *http_req_path(const http_req *req)
{
    return req->path;
}

const char *http_req_param(const http_req *req, const char *name)
{
    return http_kv_get(&req->params, name, false);
}

const char *http_req_query(const http_req *req, const char *name)
{
    return http_kv_get(&req->query, name, false);
}

const char *http_req_header(const http_req *req, const char *name)
{
    return http_kv_get(&req->headers, name, true);
}

const char *http_req_body(const http_req *req, size_t *len)
{
    if (len)
        *len = req->body ? req->body_len : 0;
    return req->body ? req->body : "";
}

int http_req_body_error(const http_req *req)
{
    return req->body_err;
}

void http_req_set_user(http_req *req, void *user)
{
    req->user = user;
}

void *http_req_user(const http_req *req)
{
    return req->user;
}

void http_req_on_gone(http_req *req, http_gone_fn fn, void *user)
{
    http_server *s = req->srv;
    pthread_mutex_lock(&s->mu);
    /* a callback being delivered on another thread finishes first, so that
     * after (NULL) returns the old user pointer is never used again */
    while (req->gone_running && !pthread_equal(req->gone_thread, pthread_self()))
        pthread_cond_wait(&s->cv, &s->mu);
    req->on_gone = fn;
    req->gone_user = user;
    /* the client may have left already: tell at once (on this thread) */
    bool now = fn && req->mhd_done && atomic_load(&req->gone) && !req->gone_notified;
    if (now) {
        req->gone_notified = true;
        req->gone_running = true;
        req->gone_thread = pthread_self();
        req->refs++;
    }
    pthread_mutex_unlock(&s->mu);
    if (now) {
        fn(req, user);
        pthread_mutex_lock(&s->mu);
        req->gone_running = false;
        pthread_cond_broadcast(&s->cv);
        http_req_unref_locked(req);
        pthread_mutex_unlock(&s->mu);
    }
}

bool http_req_gone(const http_req *req)
{
    return atomic_load(&req->gone);
}

const char *http_req_peer(const http_req *req)
{
    return req->peer;
}

/* ---- answers ---- */

void http_add_header(http_req *req, const char *name, const char *value)
{
    pthread_mutex_lock(&req->srv->mu);
    http_kv_add(&req->resp_headers, name, value);
    pthread_mutex_unlock(&req->srv->mu);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_req *req = cls;
    http_server *s = req->srv;
    ssize_t ret;
    pthread_mutex_lock(&s->mu);
    if (req->slen) {
        size_t n = OM_MIN(req->slen, max);
        memcpy(buf, req->sbuf + req->shead, n);
        req->shead += n;
        req->slen -= n;
        if (req->slen == 0)
            req->shead = 0;
        ret = (ssize_t)n;
    } else if (req->stream_ended) {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (atomic_load(&req->gone) || s->stopping || !req->conn) {
        ret = MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        MHD_suspend_connection(req->conn);
        req->suspended = true;
        ret = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return ret;
}

struct MHD_Response *http_req_make_response(http_req *req)
{
    struct MHD_Response *r;
    if (req->is_stream && !req->is_head) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_reader, req,
                                              NULL);
    } else {
        r = MHD_create_response_from_buffer(req->ans_len, req->ans_body ? req->ans_body : "",
                                            req->ans_body ? MHD_RESPMEM_MUST_FREE
                                                          : MHD_RESPMEM_PERSISTENT);
        req->ans_body = NULL; /* MHD owns it now */
    }
    MHD_add_response_header(r, "Content-Type", req->ctype);
    for (size_t i = 0; i < req->resp_headers.n; i++)
        MHD_add_response_header(r, req->resp_headers.v[i].name, req->resp_headers.v[i].value);
    http_guard_headers(req, r);
    return r;
}

/* Stores the answer and wakes the connection (srv->mu held). */
static int answer_locked(http_req *req, int status, const char *content_type, bool stream)
{
    if (req->answered)
        return OM_EINVAL;
    req->answered = true;
    req->is_stream = stream;
    req->status = status;
    req->ctype = om_xstrdup(content_type ? content_type : "text/plain; charset=utf-8");
    /* in the handler: the access handler queues it when the handler returns */
    if (!req->in_handler)
        http_req_resume_locked(req);
    return atomic_load(&req->gone) || req->mhd_done ? OM_EIO : 0;
}

int http_respond(http_req *req, int status, const char *content_type, const void *body,
                 size_t len)
{
    http_server *s = req->srv;
    pthread_mutex_lock(&s->mu);
    if (req->answered) {
        pthread_mutex_unlock(&s->mu);
        om_log(OM_LOG_ERROR, "http", "%s %s: answered twice", req->method, req->path);
        return OM_EINVAL;
    }
    if (len && !req->is_head) {
        req->ans_body = om_xmalloc(len);
        memcpy(req->ans_body, body, len);
        req->ans_len = len;
    } else if (len) {
        /* HEAD: keep the length for Content-Length, MHD sends no body */
        req->ans_body = om_xcalloc(1, len);
        req->ans_len = len;
    }
    int rc = answer_locked(req, status, content_type, false);
    req->user_ref = false;
    http_req_unref_locked(req); /* the user's */
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = (p[0] & 0xe0) == 0xc0   ? 2
               : (p[0] & 0xf0) == 0xe0 ? 3
               : (p[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (!n || (n == 2 && p[0] < 0xc2) || (n == 4 && p[0] > 0xf4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    uint32_t cp = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (p[i] & 0x3f);
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* msg with invalid UTF-8 replaced by U+FFFD, as Go's encoder does (malloc'd). */
static char *utf8_clean(const char *msg)
{
    size_t len = strlen(msg);
    char *out = om_xmalloc(len * 3 + 1), *o = out;
    const unsigned char *p = (const unsigned char *)msg;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n) {
            memcpy(o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        }
    }
    *o = 0;
    return out;
}

int http_respond_error(http_req *req, int status, const char *msg)
{
    char *clean = utf8_clean(msg ? msg : "");
    json_t *o = json_pack("{s:s}", "error", clean);
    free(clean);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    int rc;
    if (txt) {
        rc = http_respond(req, status, "application/json; charset=utf-8", txt, strlen(txt));
        free(txt);
    } else {
        static const char fallback[] = "{\"error\":\"internal error\"}";
        rc = http_respond(req, status, "application/json; charset=utf-8", fallback,
                          sizeof(fallback) - 1);
    }
    return rc;
}

int http_stream_begin(http_req *req, int status, const char *content_type)
{
    http_server *s = req->srv;
    pthread_mutex_lock(&s->mu);
    int rc = answer_locked(req, status, content_type, true);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int http_stream_write(http_req *req, const void *data, size_t len)
{
    http_server *s = req->srv;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (!req->answered || !req->is_stream || req->stream_ended) {
        rc = OM_EINVAL;
    } else if (atomic_load(&req->gone) || req->mhd_done) {
        rc = OM_EIO;
    } else if (req->is_head || len == 0) {
        rc = 0;
    } else if (req->slen && len > req->max_buffered - OM_MIN(req->slen, req->max_buffered)) {
        rc = OM_EAGAIN;
    } else {
        if (req->shead + req->slen + len > req->scap) {
            if (req->shead) {
                memmove(req->sbuf, req->sbuf + req->shead, req->slen);
                req->shead = 0;
            }
            if (req->slen + len > req->scap) {
                size_t cap = req->scap ? req->scap : 4096;
                while (cap < req->slen + len)
                    cap *= 2;
                req->sbuf = om_xrealloc(req->sbuf, cap);
                req->scap = cap;
            }
        }
        memcpy(req->sbuf + req->shead + req->slen, data, len);
        req->slen += len;
        if (req->queued)
            http_req_resume_locked(req);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void http_stream_end(http_req *req)
{
    http_server *s = req->srv;
    pthread_mutex_lock(&s->mu);
    if (!req->user_ref) {
        pthread_mutex_unlock(&s->mu);
        om_log(OM_LOG_ERROR, "http", "%s %s: stream ended twice", req->method, req->path);
        return;
    }
    if (!req->answered) {
        /* ended without a begin: answer with an empty 200 rather than leak */
        req->answered = true;
        req->is_stream = false;
        req->status = 200;
        req->ctype = om_xstrdup("text/plain; charset=utf-8");
        if (!req->in_handler)
            http_req_resume_locked(req);
    }
    req->stream_ended = true;
    req->user_ref = false;
    if (req->queued || !req->in_handler)
        http_req_resume_locked(req);
    http_req_unref_locked(req); /* the user's */
    pthread_mutex_unlock(&s->mu);
}
