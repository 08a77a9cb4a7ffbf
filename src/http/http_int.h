/* http: private layouts shared by the server files (http_daemon.c: start,
 * stop; http_server.c: routing, access handler; http_req.c: accessors and
 * answers; http_guard.c: CORS and the DNS-rebinding host check;
 * http_watch.c: disconnect watcher).
 *
 * Locking: one mutex per server (srv->mu) guards every request's state, the
 * request list and the watcher registrations. It is held only for short
 * copies and MHD suspend/resume calls, never while user callbacks (handler,
 * body_fn, on_gone) run. Lock order: a response's MHD mutex (held by MHD
 * around our content reader), then srv->mu, then MHD's daemon mutexes
 * (taken by suspend/resume). So responses are created, queued and destroyed
 * outside srv->mu.
 *
 * Lifetime of a request: refs counts the holders. MHD holds one from the
 * first access-handler call to the completion notification; the user holds
 * one from the handler call to the final answer (http_respond* or
 * http_stream_end); callbacks hold a temporary one while they run. The
 * request is freed under srv->mu when refs drops to 0. */
#ifndef HTTP_INT_H
#define HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/http.h"

#define HTTP_STREAM_MAX_BUFFERED ((size_t)8 << 20)

struct http_kv {
    char *name;
    char *value;
};

struct http_kvlist {
    struct http_kv *v;
    size_t n, cap;
};

struct http_route_int {
    char *method;
    char *pattern;
    char **segs;    /* pattern split on '/' */
    size_t n_segs;
    http_handler_fn handler;
    void *ctx;
    size_t max_body;
    http_body_fn body_fn;
};

struct http_req {
    http_server *srv;
    struct MHD_Connection *conn; /* NULL once MHD is done with the request */
    uint64_t id;                 /* for the watcher: never reused */
    struct http_req *prev, *next;
    int refs;
    uint64_t t_start;

    char *method, *path, *peer;
    bool is_head;
    struct http_kvlist headers, query, params, resp_headers;
    const struct http_route_int *route;

    /* body */
    char *body;
    size_t body_len, body_cap, max_body;
    bool body_too_large;
    int body_err;

    /* an answer decided by the server itself (404, 405, 403, 204, 413) */
    int early_status;
    const char *early_body;
    bool early_cors_preflight;

    /* CORS: the origin to echo back ("" = not a CORS request) */
    char *cors_origin;

    /* state */
    bool handler_called, in_handler, answered, queued, stream_ended;
    bool user_ref; /* the user still holds the request (handler .. final answer) */
    bool suspended, mhd_done, watched, gone_notified;
    atomic_bool gone;
    int status;
    char *ctype;
    char *ans_body; /* whole answer, until queued */
    size_t ans_len;
    bool is_stream;

    /* stream bytes not yet handed to MHD: buf[head, head + len) */
    char *sbuf;
    size_t shead, slen, scap, max_buffered;

    void *user;
    http_gone_fn on_gone;
    void *gone_user;
    bool gone_running;     /* on_gone is executing (on gone_thread) */
    pthread_t gone_thread;
};

struct http_server {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* signalled when a request is freed */
    struct http_route_int *routes;
    size_t n_routes;
    size_t max_body;
    bool log_requests;
    bool loopback;              /* host check active */
    bool stopping;
    int port;
    int listen_fd;
    char **origins;             /* normalised OLLAMA_ORIGINS + defaults */
    size_t n_origins;
    bool allow_all_origins;
    char **local_ips;           /* addresses of local interfaces (text) */
    size_t n_local_ips;
    char hostname[256];
    struct http_req *reqs;      /* live requests */
    uint64_t next_id;
    /* disconnect watcher */
    int ep_fd, wake_fd;
    pthread_t watch_thread;
    bool watch_started;
};

/* http_server.c */
char **http_split_path(const char *path, size_t *n);
void http_free_segs(char **v, size_t n);
enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_data_size,
                               void **con_cls);
void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode toe);

/* http_req.c */
void http_kv_add(struct http_kvlist *l, const char *name, const char *value);
const char *http_kv_get(const struct http_kvlist *l, const char *name, bool nocase);
void http_kv_free(struct http_kvlist *l);
/* Drops one reference (srv->mu held); frees the request at 0. */
void http_req_unref_locked(http_req *req);
/* Resumes the connection if we suspended it (srv->mu held). */
void http_req_resume_locked(http_req *req);
/* Builds the MHD response for the stored answer (srv->mu NOT held: see above). */
struct MHD_Response *http_req_make_response(http_req *req);

/* http_guard.c */
/* 0 if the request may go on; else the status to answer (403), with the
 * CORS decision stored in req (cors_origin, early preflight 204). */
int http_guard_check(http_server *s, http_req *req);
int http_guard_init(http_server *s, const char *origins);
void http_guard_free(http_server *s);
/* Adds the CORS headers for req's origin to resp. */
void http_guard_headers(const http_req *req, struct MHD_Response *resp);

/* http_watch.c */
int http_watch_start(http_server *s);
void http_watch_stop(http_server *s);
/* Watches the request's socket for the peer closing (srv->mu held). */
void http_watch_add(http_req *req);
void http_watch_del(http_req *req);

#endif
