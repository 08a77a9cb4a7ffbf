/* http_watch: notices clients that hang up while their answer is pending.
 *
 * MHD does not watch suspended connections, so a request waiting for a
 * model load (or a stream with nothing to send yet) would never learn that
 * its client left. This thread keeps its own epoll set with EPOLLRDHUP on
 * the socket of every request whose handler has run. When the peer closes,
 * it marks the request gone, resumes the connection and runs on_gone (on
 * this thread); MHD then calls the access handler or the content reader,
 * which end the request with an error.
 *
 * Registrations are removed under srv->mu in the completion callback, while
 * the socket is still open, so a reused descriptor is never confused with an
 * old one; events carry the request id, looked up under srv->mu, so an event
 * read just before the removal finds nothing. */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/om.h"
#include "http/http_int.h"

static void *watch_main(void *arg)
{
    http_server *s = arg;
    struct epoll_event ev[64];
    for (;;) {
        int n = epoll_wait(s->ep_fd, ev, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            om_log(OM_LOG_ERROR, "http", "watcher: epoll_wait failed (%d)", errno);
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u64 == 0)
                return NULL; /* wake_fd: stop */
            http_req *hit = NULL;
            http_gone_fn fn = NULL;
            void *fn_user = NULL;
            pthread_mutex_lock(&s->mu);
            for (http_req *r = s->reqs; r; r = r->next) {
                if (r->id != ev[i].data.u64)
                    continue;
                if (!r->mhd_done) {
                    http_watch_del(r);
                    atomic_store(&r->gone, true);
                    http_req_resume_locked(r);
                    /* tell the user now: it may answer before MHD gets to
                     * the connection, and then would never hear of it */
                    if (r->user_ref && r->on_gone && !r->gone_notified) {
                        r->gone_notified = true;
                        fn = r->on_gone;
                        fn_user = r->gone_user;
                        hit = r;
                        r->gone_running = true;
                        r->gone_thread = pthread_self();
                        r->refs++;
                    }
                }
                break;
            }
            pthread_mutex_unlock(&s->mu);
            if (hit) {
                fn(hit, fn_user);
                pthread_mutex_lock(&s->mu);
                hit->gone_running = false;
                pthread_cond_broadcast(&s->cv);
                http_req_unref_locked(hit);
                pthread_mutex_unlock(&s->mu);
            }
        }
    }
}

int http_watch_start(http_server *s)
{
    s->ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep_fd < 0)
        return -errno;
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd < 0) {
        int e = -errno;
        close(s->ep_fd);
        s->ep_fd = -1;
        return e;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    int rc = epoll_ctl(s->ep_fd, EPOLL_CTL_ADD, s->wake_fd, &ev) == 0
                 ? pthread_create(&s->watch_thread, NULL, watch_main, s)
                 : errno;
    if (rc != 0) {
        close(s->wake_fd);
        close(s->ep_fd);
        s->wake_fd = s->ep_fd = -1;
        return -rc;
    }
    s->watch_started = true;
    return 0;
}

void http_watch_stop(http_server *s)
{
    if (s->watch_started) {
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof(one)) != sizeof(one))
            om_log(OM_LOG_WARN, "http", "watcher: wake failed (%d)", errno);
        pthread_join(s->watch_thread, NULL);
        s->watch_started = false;
    }
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    if (s->ep_fd >= 0)
        close(s->ep_fd);
    s->wake_fd = s->ep_fd = -1;
}

void http_watch_add(http_req *req)
{
    if (req->watched || req->mhd_done || !req->conn || req->srv->ep_fd < 0)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    struct epoll_event ev = {.events = EPOLLRDHUP, .data.u64 = req->id};
    if (epoll_ctl(req->srv->ep_fd, EPOLL_CTL_ADD, ci->connect_fd, &ev) == 0)
        req->watched = true;
}

void http_watch_del(http_req *req)
{
    if (!req->watched || !req->conn)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        epoll_ctl(req->srv->ep_fd, EPOLL_CTL_DEL, ci->connect_fd, NULL);
    req->watched = false;
}
