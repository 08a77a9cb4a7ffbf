/* http_server: the libmicrohttpd daemon (internal epoll thread pool with
 * suspend/resume), the routing table and the access handler.
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
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/om.h"
#include "http/http_int.h"

static const char BODY_404[] = "404 page not found";
static const char BODY_405[] = "405 method not allowed";
static const char BODY_413[] = "{\"error\":\"request body too large\"}";

/* ---- routing ---- */

static char **split_path(const char *path, size_t *n)
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

static void free_segs(char **v, size_t n)
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
    char **segs = split_path(req->path, &n);
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
    free_segs(segs, n);
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
        http_watch_add(req);
    }
    enum MHD_Result ret = MHD_YES;
    if (atomic_load(&req->gone) || s->stopping) {
        ret = MHD_NO;
    } else if (req->answered && !req->queued) {
        struct MHD_Response *r = http_req_make_response(req);
        req->queued = true;
        ret = MHD_queue_response(req->conn, (unsigned)req->status, r);
        MHD_destroy_response(r);
    } else if (!req->answered) {
        MHD_suspend_connection(req->conn);
        req->suspended = true;
    }
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
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

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
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

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = 0;
    om_log(OM_LOG_DEBUG, "http", "mhd: %s", buf);
}

/* ---- start / stop ---- */

static int open_listener(const struct http_config *cfg, http_server *s, bool *v6, char *err,
                         size_t errlen)
{
    const char *host = cfg->host && cfg->host[0] ? cfg->host : "127.0.0.1";
    char hbuf[256];
    snprintf(hbuf, sizeof(hbuf), "%s", host);
    size_t hl = strlen(hbuf);
    if (hl >= 2 && hbuf[0] == '[' && hbuf[hl - 1] == ']') {
        memmove(hbuf, hbuf + 1, hl - 2);
        hbuf[hl - 2] = 0;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", cfg->port);
    if (cfg->port < 0 || cfg->port > 65535)
        return om_err(err, errlen, OM_EINVAL, "listen %s:%d: invalid port", host, cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(hbuf, port, &hints, &ai);
    if (g != 0 || !ai)
        return om_err(err, errlen, OM_EINVAL, "listen %s:%d: %s", host, cfg->port,
                      gai_strerror(g));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int e = errno;
        freeaddrinfo(ai);
        return om_err(err, errlen, OM_EIO, "listen %s:%d: %s", host, cfg->port, strerror(e));
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    *v6 = ai->ai_family == AF_INET6;
    if (*v6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ai->ai_addr;
        int only = IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ? 0 : 1; /* "::" = dual stack */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof(only));
        s->loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    } else {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)ai->ai_addr;
        s->loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
        int e = errno;
        close(fd);
        freeaddrinfo(ai);
        return om_err(err, errlen, OM_EIO, "listen %s:%d: %s", host, cfg->port, strerror(e));
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    s->listen_fd = fd;
    return 0;
}

static void free_routes(http_server *s)
{
    for (size_t i = 0; i < s->n_routes; i++) {
        free(s->routes[i].method);
        free(s->routes[i].pattern);
        free_segs(s->routes[i].segs, s->routes[i].n_segs);
    }
    free(s->routes);
}

static void server_free(http_server *s)
{
    free_routes(s);
    http_guard_free(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

int http_server_start(const struct http_config *cfg, const struct http_route *routes,
                      size_t n_routes, http_server **out, char *err, size_t errlen)
{
    *out = NULL;
    for (size_t i = 0; i < n_routes; i++)
        if (!routes[i].method || !routes[i].pattern || routes[i].pattern[0] != '/' ||
            !routes[i].handler)
            return om_err(err, errlen, OM_EINVAL, "route %zu: method, pattern (\"/...\") and "
                          "handler are required", i);
    http_server *s = om_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->listen_fd = s->ep_fd = s->wake_fd = -1;
    s->max_body = cfg->max_body ? cfg->max_body : (size_t)32 << 20;
    s->log_requests = cfg->log_requests;
    s->routes = om_xcalloc(n_routes ? n_routes : 1, sizeof(*s->routes));
    s->n_routes = n_routes;
    for (size_t i = 0; i < n_routes; i++) {
        struct http_route_int *r = &s->routes[i];
        r->method = om_xstrdup(routes[i].method);
        r->pattern = om_xstrdup(routes[i].pattern);
        r->segs = split_path(r->pattern, &r->n_segs);
        r->handler = routes[i].handler;
        r->ctx = routes[i].ctx;
        r->max_body = routes[i].max_body;
        r->body_fn = routes[i].body_fn;
    }
    bool v6 = false;
    int rc = open_listener(cfg, s, &v6, err, errlen);
    if (rc == 0)
        rc = http_guard_init(s, cfg->origins);
    if (rc == 0 && (rc = http_watch_start(s)) != 0)
        om_err(err, errlen, rc, "http: disconnect watcher: %s", om_strerror(rc));
    if (rc != 0) {
        if (s->listen_fd >= 0)
            close(s->listen_fd);
        server_free(s);
        return rc;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (cfg->log_requests)
        flags |= MHD_USE_ERROR_LOG;
    unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads : 2;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
                            MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
                            MHD_OPTION_THREAD_POOL_SIZE, threads,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                            MHD_OPTION_END);
    if (!s->d) {
        http_watch_stop(s);
        close(s->listen_fd);
        server_free(s);
        return om_err(err, errlen, OM_EIO, "listen %s:%d: cannot start the HTTP daemon",
                      cfg->host ? cfg->host : "127.0.0.1", cfg->port);
    }
    *out = s;
    return 0;
}

int http_server_port(const http_server *s)
{
    return s ? s->port : 0;
}

void http_server_stop(http_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    for (http_req *r = s->reqs; r; r = r->next) {
        if (!r->mhd_done && r->handler_called)
            atomic_store(&r->gone, true);
        http_req_resume_locked(r);
    }
    pthread_mutex_unlock(&s->mu);
    /* every connection is closed here; completion callbacks run on_gone */
    MHD_stop_daemon(s->d);
    close(s->listen_fd);
    http_watch_stop(s);
    /* give well-behaved users (on_gone -> end the request) a moment */
    pthread_mutex_lock(&s->mu);
    uint64_t deadline = om_time_ns() + 2000000000ull;
    while (s->reqs && om_time_ns() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    while (s->reqs) {
        om_log(OM_LOG_WARN, "http", "stop: request %s %s was never ended", s->reqs->method,
               s->reqs->path);
        s->reqs->refs = 1;
        http_req_unref_locked(s->reqs);
    }
    pthread_mutex_unlock(&s->mu);
    server_free(s);
}
