/* http: the HTTP/1.1 server (libmicrohttpd, epoll thread pool with
 * suspend/resume), its routing table, and responses that may be given later
 * and from any thread: whole bodies, or streams (NDJSON, SSE) written piece
 * by piece.
 *
 * Life of a request: MHD reads the headers, the router picks the route
 * (404 "404 page not found" for an unknown path, 405 "405 method not allowed"
 * for a known path with another method; OPTIONS preflights and CORS headers
 * are answered here, after the host check of Ollama's DNS-rebinding guard),
 * the body is read up to the route's max_body (413 with {"error":"request
 * body too large"} past it) or handed piece by piece to the route's body_fn,
 * then the route's handler runs on an MHD thread. The handler must not block
 * for long: it either answers at once (http_respond*), or keeps the request
 * and answers later from any thread. Exactly one answer is given per request:
 * one http_respond* call, or http_stream_begin + writes + http_stream_end.
 * After that answer the request is freed by the server: do not touch it.
 *
 * A client that goes away is noticed while a response is pending or
 * streaming: http_req_gone() turns true, the on_gone callback (if set) runs
 * once on a server thread (an MHD thread, or the disconnect watcher that
 * notices a client leaving while its answer is pending), and later writes
 * return OM_EIO. The request must still be ended (http_respond or
 * http_stream_end) to be freed. */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_server http_server;
typedef struct http_req http_req;

/* Handler for a complete request. Runs on an MHD thread. */
typedef void (*http_handler_fn)(http_req *req, void *ctx);
/* Streaming request body: called for each piece as it arrives (len > 0),
 * before the handler. Return 0 to go on, or a negative OM_E* to stop reading:
 * the handler then still runs and sees http_req_body_error() != 0. */
typedef int (*http_body_fn)(http_req *req, const char *data, size_t len, void *ctx);
/* Called once when the client disconnects before the answer was complete. */
typedef void (*http_gone_fn)(http_req *req, void *user);

struct http_route {
    const char *method;  /* "GET", "POST", "HEAD", "DELETE"…; GET routes also answer HEAD */
    const char *pattern; /* "/api/chat"; a segment ":name" matches one path segment
                            ("/api/blobs/:digest", "/v1/models/:model") */
    http_handler_fn handler;
    void *ctx;
    size_t max_body;     /* 0: the server default (http_config.max_body); a larger
                            announced Content-Length is refused before it is sent */
    http_body_fn body_fn; /* non-NULL: the body is streamed to it, not buffered
                             (and not capped: multi-GB blob uploads) */
};

struct http_config {
    const char *host;    /* "127.0.0.1", "0.0.0.0", "::" …; NULL = 127.0.0.1 */
    int port;            /* 0 = any free port (see http_server_port) */
    int threads;         /* MHD thread pool size; 0 = 2 */
    size_t max_body;     /* default cap on buffered bodies; 0 = 32 MiB */
    const char *origins; /* OLLAMA_ORIGINS (comma list, wildcards); NULL = none extra */
    bool log_requests;   /* one log line per request (OLLAMA_DEBUG) */
};

/* Starts listening. routes[] is copied. Returns 0 and gives *out, or
 * OM_EIO / OM_EINVAL with err saying why (e.g. "listen 127.0.0.1:11434:
 * Address already in use"). */
int http_server_start(const struct http_config *cfg, const struct http_route *routes,
                      size_t n_routes, http_server **out, char *err, size_t errlen);
/* The bound port (useful when cfg.port was 0). */
int http_server_port(const http_server *s);
/* Ends every pending request (clients see the connection close), stops the
 * daemon and frees the server. Handlers' pending requests are told via
 * on_gone first; they must not be used after this returns. */
void http_server_stop(http_server *s);

/* ---- request accessors (valid until the answer is complete) ---- */
const char *http_req_method(const http_req *req);
const char *http_req_path(const http_req *req);           /* without the query */
/* Value of a ":name" path segment (percent-decoded), or NULL. */
const char *http_req_param(const http_req *req, const char *name);
/* Query-string argument, or NULL. */
const char *http_req_query(const http_req *req, const char *name);
/* Request header (case-insensitive name), or NULL. */
const char *http_req_header(const http_req *req, const char *name);
/* Buffered body (NUL-terminated for convenience; len excludes the NUL).
 * Empty for body_fn routes. */
const char *http_req_body(const http_req *req, size_t *len);
/* The error a body_fn returned, or 0. */
int http_req_body_error(const http_req *req);
/* Per-request user pointer (free for the handler and body_fn to use). */
void http_req_set_user(http_req *req, void *user);
void *http_req_user(const http_req *req);
/* Sets the disconnect callback (call before answering later). If the
 * callback is running on another thread, waits for it to return first: once
 * http_req_on_gone(req, NULL, NULL) returns, the old callback and its user
 * pointer are never used again. If the client already left, fn runs at once
 * on the calling thread. */
void http_req_on_gone(http_req *req, http_gone_fn fn, void *user);
/* True once the client has gone away. Thread-safe. */
bool http_req_gone(const http_req *req);
/* The client's address as text ("127.0.0.1:53422"). */
const char *http_req_peer(const http_req *req);

/* ---- answers (any thread; exactly one per request) ---- */
/* Extra response header for the answer about to be given (call before
 * http_respond / http_stream_begin). Copies both strings. */
void http_add_header(http_req *req, const char *name, const char *value);
/* Whole body (copied). content_type NULL = "text/plain; charset=utf-8".
 * HEAD requests get the headers only. Returns 0, or OM_EIO if the client left. */
int http_respond(http_req *req, int status, const char *content_type, const void *body,
                 size_t len);
/* {"error": msg} as application/json; charset=utf-8. */
int http_respond_error(http_req *req, int status, const char *msg);

/* Starts a chunked response (Transfer-Encoding: chunked). Returns 0, or
 * OM_EIO when the client already left (the request must still be ended with
 * http_stream_end). */
int http_stream_begin(http_req *req, int status, const char *content_type);
/* Queues bytes; they are sent as soon as MHD can. Never blocks on the client
 * beyond `max_buffered` (http_stream_begin uses 8 MiB): past it the write
 * fails with OM_EAGAIN so that a slow reader cannot grow memory without
 * bound (a single write into an empty queue is always taken). Returns 0,
 * OM_EIO (client gone) or OM_EAGAIN. On a HEAD request only the headers
 * go out; the request then counts as gone (on_gone, OM_EIO). */
int http_stream_write(http_req *req, const void *data, size_t len);
/* Ends the stream after the queued bytes are sent (or at once if the client
 * left) and frees the request once MHD is done with it. Without a
 * http_stream_begin it answers an empty 200 (so it always ends a request). */
void http_stream_end(http_req *req);

#endif
