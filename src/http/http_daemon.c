/* http_daemon: starting and stopping the server: our own listening socket
 * (so that bind errors are reported precisely, and "::" is dual-stack),
 * the MHD daemon on it (internal epoll thread pool, suspend/resume), the
 * copied routing table, and the orderly stop: mark pending requests gone,
 * resume every suspended connection, stop MHD (its completion callbacks run
 * on_gone), then give users a moment to end their requests. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/om.h"
#include "http/http_int.h"

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
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1"; /* one address, the one clients try first */
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
        http_free_segs(s->routes[i].segs, s->routes[i].n_segs);
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
        r->segs = http_split_path(r->pattern, &r->n_segs);
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
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, http_on_access, s,
                            MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
                            MHD_OPTION_THREAD_POOL_SIZE, threads,
                            MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, s,
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
