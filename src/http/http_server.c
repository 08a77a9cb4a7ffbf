/* http_server: the routing table and the libmicrohttpd access handler and
 * completion callback (the daemon itself is started in http_daemon.c).
 *
 * Access-handler protocol (MHD calls it several times per request):
 *   1st call: build the request, run the guards (CORS, host check) and the
 *             router; an answer decided here (403/404/405/204) is kept and
 *             queued on a later call, because 0.9.75 answers
 *             "Connection: close" to a response queued on the first call.
 *             Only a body announced larger than the cap (Content-Length) is
 *             refused at once with 413, which closes the connection.
 *   upload:   body pieces go to body_fn or the bounded buffer.
 *   final:    run the handler once; if it answered, queue; otherwise suspend
 *             until http_respond/http_stream_begin resumes us (then MHD calls
 *             the final step again and we queue).
 * A request whose client left (or a stopping server) gets MHD_NO, which
 * closes the connection; the completion callback then runs on_gone. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/om.h"
#include "http/http_int.h"

static const char BODY_404[] = "404 page not found";
static const char BODY_405[] = "405 method not allowed";
static const char BODY_413[] = "{\"error\":\"request body too large\"}";

/* ---- routing ---- */

char **http_split_path(const char *path, size_t *n)
{
    size_t cap = 4, k = 0;
    char **v = om_xmalloc(cap * sizeof(*v));
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (k == cap) {
            cap *= 2;
            v = om_xrealloc(v, cap * sizeof(*v));
        }
        v[k] = om_xmalloc(len + 1);
        memcpy(v[k], p, len);
        v[k][len] = 0;
        k++;
        p += len;
    }
    *n = k;
    return v;
}

void http_free_segs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Matches path segments against a route; on success fills params. */
static bool route_match(const struct http_route_int *r, char **segs, size_t n,
                        struct http_kvlist *params)
{
    if (n != r->n_segs)
        return false;
    for (size_t i = 0; i < n; i++)
        if (r->segs[i][0] != ':' && strcmp(r->segs[i], segs[i]) != 0)
            return false;
    if (params)
        for (size_t i = 0; i < n; i++)
            if (r->segs[i][0] == ':')
                http_kv_add(params, r->segs[i] + 1, segs[i]);
    return true;
}

/* Picks the route for req; returns 0, 404 or 405. */
static int route_find(http_server *s, http_req *req)
{
    size_t n;
    char **segs = http_split_path(req->path, &n);
    bool path_known = false;
    const struct http_route_int *hit = NULL;
    /* an explicit HEAD route wins over the GET one */
    for (int pass = 0; pass < 2 && !hit; pass++) {
        for (size_t i = 0; i < s->n_routes && !hit; i++) {
            const struct http_route_int *r = &s->routes[i];
            if (!route_match(r, segs, n, NULL))
                continue;
            path_known = true;
            bool ok = pass == 0 ? strcmp(r->method, req->method) == 0
                                : req->is_head && strcmp(r->method, "GET") == 0;
            if (ok)
                hit = r;
        }
    }
    int rc = 0;
    if (hit) {
        route_match(hit, segs, n, &req->params);
        req->route = hit;
        req->max_body = hit->max_body ? hit->max_body : s->max_body;
    } else {
        rc = path_known ? 405 : 404;
    }
    http_free_segs(segs, n);
    return rc;
}

/* ---- request creation ---- */

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    http_kv_add(cls, key, value ? value : "");
    return MHD_YES;
}

static void format_peer(struct MHD_Connection *conn, char *out, size_t n)
{
    snprintf(out, n, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    char ip[INET6_ADDRSTRLEN];
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(out, n, "%s:%u", ip, ntohs(a->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(out, n, "[%s]:%u", ip, ntohs(a->sin6_port));
    }
}

static http_req *req_new(http_server *s, struct MHD_Connection *conn, const char *url,
                         const char *method)
{
    http_req *req = om_xcalloc(1, sizeof(*req));
    req->srv = s;
    req->conn = conn;
    req->refs = 1; /* MHD's */
    req->t_start = om_time_ns();
    req->method = om_xstrdup(method);
    req->path = om_xstrdup(url);
    req->is_head = strcmp(method, "HEAD") == 0;
    req->max_buffered = HTTP_STREAM_MAX_BUFFERED;
    atomic_init(&req->gone, false);
    char peer[80];
    format_peer(conn, peer, sizeof(peer));
    req->peer = om_xstrdup(peer);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_kv, &req->headers);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_kv, &req->query);
    pthread_mutex_lock(&s->mu);
    req->id = ++s->next_id;
    req->next = s->reqs;
    if (s->reqs)
        s->reqs->prev = req;
    s->reqs = req;
    pthread_mutex_unlock(&s->mu);
    return req;
}

/* First call: guards and routing. Returns MHD_NO only on a queue failure. */
static enum MHD_Result first_call(http_server *s, http_req *req)
{
    int st = http_guard_check(s, req);
    if (st) {
        req->early_status = st;
        req->early_body = "";
        return MHD_YES;
    }
    if (strcmp(req->method, "OPTIONS") == 0) {
        req->early_status = 204;
        req->early_body = "";
        return MHD_YES;
    }
    st = route_find(s, req);
    if (st) {
        req->early_status = st;
        req->early_body = st == 404 ? BODY_404 : BODY_405;
        return MHD_YES;
    }
    const char *cl = http_kv_get(&req->headers, "Content-Length", true);
    if (cl && !req->route->body_fn) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && v > req->max_body) {
            /* refused before the body is sent: MHD closes the connection */
            req->early_status = 413;
            req->early_body = BODY_413;
            struct MHD_Response *r = MHD_create_response_from_buffer(
                sizeof(BODY_413) - 1, (void *)BODY_413, MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
            http_guard_headers(req, r);
            enum MHD_Result q = MHD_queue_response(req->conn, 413, r);
            MHD_destroy_response(r);
            pthread_mutex_lock(&s->mu);
            req->status = 413;
            req->queued = true;
            pthread_mutex_unlock(&s->mu);
            return q;
        }
    }
    return MHD_YES;
}

static void take_body(http_req *req, const char *data, size_t len)
{
    if (req->early_status)
        return; /* refused: the body is read and dropped */
    if (req->route->body_fn) {
        if (req->body_err == 0) {
            int rc = req->route->body_fn(req, data, len, req->route->ctx);
            if (rc < 0)
                req->body_err = rc;
        }
        return;
    }
    if (req->body_too_large)
        return;
    if (len > req->max_body - req->body_len) {
        req->body_too_large = true;
        free(req->body);
        req->body = NULL;
        req->body_len = req->body_cap = 0;
        return;
    }
    if (req->body_len + len + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + len + 1)
            cap *= 2;
        req->body = om_xrealloc(req->body, cap);
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = 0;
}

static enum MHD_Result queue_early(http_req *req)
{
    const char *ct = req->early_status == 413 ? "application/json; charset=utf-8"
                                              : "text/plain; charset=utf-8";
    size_t len = strlen(req->early_body);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)req->early_body, MHD_RESPMEM_PERSISTENT);
    if (len)
        MHD_add_response_header(r, "Content-Type", ct);
    http_guard_headers(req, r);
    enum MHD_Result q = MHD_queue_response(req->conn, (unsigned)req->early_status, r);
    MHD_destroy_response(r);
    pthread_mutex_lock(&req->srv->mu);
    req->status = req->early_status;
    req->queued = true;
    pthread_mutex_unlock(&req->srv->mu);
    return q;
}

/* Final step: handler once, then queue the answer or wait for it. */
static enum MHD_Result final_call(http_server *s, http_req *req)
{
    if (req->early_status)
        return queue_early(req);
    if (req->body_too_large) {
        req->early_status = 413;
        req->early_body = BODY_413;
        return queue_early(req);
    }
    pthread_mutex_lock(&s->mu);
    if (!req->handler_called) {
        req->handler_called = true;
        req->in_handler = true;
        req->refs++; /* the user's */
        req->user_ref = true;
        if (!req->body) {
            req->body = om_xmalloc(1);
            req->body[0] = 0;
        }
        pthread_mutex_unlock(&s->mu);
        req->route->handler(req, req->route->ctx);
        pthread_mutex_lock(&s->mu);
        req->in_handler = false;
        if (!req->answered || req->is_stream) /* an answer may take a while */
            http_watch_add(req);
    }
    enum MHD_Result ret = MHD_YES;
    bool queue = false;
    if (atomic_load(&req->gone) || s->stopping) {
        ret = MHD_NO;
    } else if (req->answered && !req->queued) {
        req->queued = true; /* from here writers only append; the reader picks up */
        queue = true;
    } else if (!req->answered) {
        MHD_suspend_connection(req->conn);
        req->suspended = true;
    }
    pthread_mutex_unlock(&s->mu);
    if (queue) {
        /* outside srv->mu: MHD holds the response's mutex while it calls our
         * content reader (which takes srv->mu), so the queue/destroy calls,
         * which take that mutex too, must not run under srv->mu. The answer
         * is immutable once given, and MHD's reference keeps req alive. */
        struct MHD_Response *r = http_req_make_response(req);
        ret = MHD_queue_response(req->conn, (unsigned)req->status, r);
        MHD_destroy_response(r);
    }
    return ret;
}

enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void)version;
    http_server *s = cls;
    http_req *req = *con_cls;
    if (!req) {
        req = req_new(s, conn, url, method);
        *con_cls = req;
        return first_call(s, req);
    }
    if (req->queued) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        take_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return final_call(s, req);
}

void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    http_server *s = cls;
    http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    pthread_mutex_lock(&s->mu);
    http_watch_del(req);
    req->mhd_done = true;
    req->conn = NULL;
    req->suspended = false;
    bool finished = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    bool user_holds = req->user_ref;
    if (!finished || user_holds)
        atomic_store(&req->gone, true);
    http_gone_fn fn = NULL;
    void *fn_user = NULL;
    if (atomic_load(&req->gone) && user_holds && !req->gone_notified && req->on_gone) {
        req->gone_notified = true;
        fn = req->on_gone;
        fn_user = req->gone_user;
        req->gone_running = true;
        req->gone_thread = pthread_self();
        req->refs++;
    }
    if (s->log_requests)
        om_log(OM_LOG_INFO, "http", "%s %s %d %.3fms %s%s", req->method, req->path,
               req->status, (double)(om_time_ns() - req->t_start) / 1e6, req->peer,
               finished ? "" : " (aborted)");
    pthread_mutex_unlock(&s->mu);
    if (fn) {
        fn(req, fn_user);
        pthread_mutex_lock(&s->mu);
        req->gone_running = false;
        pthread_cond_broadcast(&s->cv);
        http_req_unref_locked(req);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_lock(&s->mu);
    http_req_unref_locked(req); /* MHD's */
    pthread_mutex_unlock(&s->mu);
}
