/* cluster: the node-to-node HTTP client (libcurl easy handles, one per call)
 * — JSON request/answer calls for join/propose/report, and a streaming POST
 * that hands every complete NDJSON line to a callback as it arrives (the
 * gateway's proxied generate/chat). Every call carries
 * `Authorization: Bearer <token>` when a token is given. Nothing here knows
 * the API or HTTP server layers (docs/cluster.md "Parts and files").
 *
 * Threads: every function may be called from any thread at the same time
 * (each call has its own handle); a stream may be cancelled from another
 * thread through its chttp_cancel flag. */
#ifndef CHTTP_H
#define CHTTP_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Longest NDJSON line a stream accepts (a longer one breaks the stream). */
#define CHTTP_MAX_LINE (8u << 20)
/* Longest whole answer chttp_post_json/chttp_get_json keep. */
#define CHTTP_MAX_BODY (64u << 20)
/* Connect timeout of every call. */
#define CHTTP_CONNECT_MS 1000

/* Extra request headers, "Name: value" each; NULL-terminated array or NULL. */
typedef const char *const *chttp_headers;

/* POSTs body (compact JSON, borrowed; NULL sends {}) to url ("http://host:port/path")
 * with Content-Type application/json. timeout_ms bounds the whole call (0 = 30 s).
 * On a completed exchange returns 0 with *status (any HTTP status) and *resp:
 * the answer parsed as JSON (new reference; NULL when the body is empty or not
 * JSON). err then holds the transport or decode message if any. Returns
 * OM_EIO (connection refused/reset, DNS), OM_ETIMEDOUT, OM_ENOMEM (answer
 * larger than CHTTP_MAX_BODY) or OM_EINVAL (bad arguments) with err naming the
 * url; *status is 0 and *resp NULL then. token may be NULL or "". */
int chttp_post_json(const char *url, const char *token, const json_t *body, long timeout_ms,
                    int *status, json_t **resp, char *err, size_t errlen);
/* Same with extra headers. */
int chttp_post_json_h(const char *url, const char *token, chttp_headers headers,
                      const json_t *body, long timeout_ms, int *status, json_t **resp,
                      char *err, size_t errlen);
/* GET url; same answer handling as chttp_post_json. */
int chttp_get_json(const char *url, const char *token, long timeout_ms, int *status,
                   json_t **resp, char *err, size_t errlen);

/* ---- streaming POST ---- */

/* Called for each complete line (without its '\n'; a trailing '\r' removed;
 * empty lines skipped) of a 2xx answer, on the calling thread, as it
 * arrives. line is NUL-terminated and valid during the call only. Return 0
 * to go on, 1 when this line was the final one (the stream then ends
 * CHTTP_END_DONE once the server closes or at once), or a negative value to
 * abort (CHTTP_END_ABORTED). */
typedef int (*chttp_line_fn)(void *ud, const char *line, size_t len);

enum chttp_end {
    CHTTP_END_DONE = 0,     /* the callback returned 1 for a line (the final chunk) */
    CHTTP_END_EOF,          /* the server closed cleanly without a final line */
    CHTTP_END_BROKEN,       /* connection failed/reset, or a line over CHTTP_MAX_LINE */
    CHTTP_END_STALLED,      /* no byte for stall_ms */
    CHTTP_END_CONNECT,      /* could not connect (nothing was sent or received) */
    CHTTP_END_HTTP_ERROR,   /* non-2xx status: status and error_body are set */
    CHTTP_END_CANCELLED,    /* the cancel flag was set */
    CHTTP_END_ABORTED,      /* the callback returned < 0 */
};

struct chttp_stream_opts {
    const char *token;          /* Bearer token, NULL/"" = none */
    chttp_headers headers;      /* extra headers or NULL */
    long stall_ms;              /* no byte for this long breaks the stream; 0 = 30 s */
    long total_ms;              /* whole-call bound; 0 = none */
    atomic_bool *cancel;        /* set from any thread to stop at once; may be NULL */
    long first_byte_ms;         /* bound before the first body byte (the peer may be loading a
                                   model); 0 = stall_ms */
    /* Called about every 50 ms on the calling thread while the stream runs;
     * non-zero cancels it (CHTTP_END_CANCELLED). May be NULL. */
    int (*poll)(void *ud);
    void *poll_ud;
};

struct chttp_stream_result {
    enum chttp_end end;
    int status;                 /* HTTP status (0 when none came) */
    char *error_body;           /* CHTTP_END_HTTP_ERROR: the answer body (malloc'd,
                                   NUL-terminated, at most CHTTP_MAX_BODY) or NULL */
    size_t n_lines;             /* lines handed to the callback */
    size_t n_bytes;             /* body bytes received */
    char err[256];              /* transport message (curl's) when any */
};

/* POSTs body (len bytes, Content-Type application/json) to url and streams the
 * answer's lines to fn. Returns when the stream ends, however it ends: the
 * result says how (free with chttp_stream_result_clear). Returns 0, or
 * OM_EINVAL for bad arguments (nothing sent). */
int chttp_post_stream(const char *url, const char *body, size_t len,
                      const struct chttp_stream_opts *opts, chttp_line_fn fn, void *ud,
                      struct chttp_stream_result *res);
void chttp_stream_result_clear(struct chttp_stream_result *res);
/* Short name of an end state ("done", "eof", "broken", …). */
const char *chttp_end_name(enum chttp_end e);

#endif
