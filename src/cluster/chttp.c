/* cluster: the node-to-node HTTP client on libcurl (see chttp.h).
 *
 * JSON calls use one easy handle with curl_easy_perform and a bounded answer
 * buffer. The streaming POST drives its easy handle through a private multi
 * handle polled every CHTTP_POLL_MS, so that a cancel flag set from another
 * thread and a stalled peer (no byte for stall_ms) are noticed within that
 * interval, not only when libcurl's once-a-second progress callback runs. */
#include "cluster/chttp.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

#define CHTTP_POLL_MS 50

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_ok;

static void g_init(void)
{
    g_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* Growable byte buffer with a hard cap. */
struct buf {
    char *p;
    size_t len, cap, max;
    bool over;
};

static bool buf_add(struct buf *b, const char *d, size_t n)
{
    if (n > b->max - b->len) {
        b->over = true;
        return false;
    }
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 1024;
        while (c < b->len + n + 1)
            c *= 2;
        b->p = om_xrealloc(b->p, c);
        b->cap = c;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = 0;
    return true;
}

static size_t body_write(char *d, size_t sz, size_t nm, void *ud)
{
    struct buf *b = ud;
    size_t n = sz * nm;
    return buf_add(b, d, n) ? n : 0;
}

/* Header list: JSON content type, no 100-continue, the bearer token and the
 * caller's extras. */
static struct curl_slist *make_headers(const char *token, chttp_headers extra, bool json_body)
{
    struct curl_slist *h = NULL;
    if (json_body)
        h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (token && *token) {
        size_t n = strlen(token) + 32;
        char *a = om_xmalloc(n);
        snprintf(a, n, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, a);
        free(a);
    }
    for (size_t i = 0; extra && extra[i]; i++)
        h = curl_slist_append(h, extra[i]);
    return h;
}

static CURL *new_handle(const char *url, struct curl_slist *hdrs)
{
    pthread_once(&g_once, g_init);
    if (!g_ok)
        return NULL;
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CHTTP_CONNECT_MS);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    /* a proxy from the environment must not sit between two nodes */
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    return h;
}

static int json_call(const char *method, const char *url, const char *token,
                     chttp_headers extra, const json_t *body, long timeout_ms, int *status,
                     json_t **resp, char *err, size_t errlen)
{
    if (status)
        *status = 0;
    if (resp)
        *resp = NULL;
    if (!url || !status || !resp)
        return om_err(err, errlen, OM_EINVAL, "chttp: url, status and resp are required");
    if (err && errlen)
        err[0] = 0;
    bool post = !strcmp(method, "POST");
    char *payload = NULL;
    if (post) {
        payload = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : om_xstrdup("{}");
        if (!payload)
            return om_err(err, errlen, OM_EINVAL, "chttp: %s: body cannot be encoded", url);
    }
    struct curl_slist *hdrs = make_headers(token, extra, post);
    CURL *h = new_handle(url, hdrs);
    if (!h) {
        free(payload);
        curl_slist_free_all(hdrs);
        return om_err(err, errlen, OM_EIO, "chttp: %s: libcurl unavailable", url);
    }
    struct buf b = {.max = CHTTP_MAX_BODY};
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 30000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    if (post) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    }
    CURLcode cc = curl_easy_perform(h);
    int rc = 0;
    if (cc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        *status = (int)code;
        if (b.len > 0) {
            json_error_t je;
            *resp = json_loadb(b.p, b.len, JSON_DECODE_ANY, &je);
            if (!*resp)
                om_err(err, errlen, 0, "chttp: %s: answer (status %ld) is not JSON: %s", url,
                       code, je.text);
        }
    } else if (b.over) {
        rc = om_err(err, errlen, OM_ENOMEM, "chttp: %s: answer larger than %u bytes", url,
                    CHTTP_MAX_BODY);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = om_err(err, errlen, OM_ETIMEDOUT, "chttp: %s: %s", url,
                    cerr[0] ? cerr : curl_easy_strerror(cc));
    } else {
        rc = om_err(err, errlen, OM_EIO, "chttp: %s: %s", url,
                    cerr[0] ? cerr : curl_easy_strerror(cc));
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    free(payload);
    free(b.p);
    return rc;
}

int chttp_post_json(const char *url, const char *token, const json_t *body, long timeout_ms,
                    int *status, json_t **resp, char *err, size_t errlen)
{
    return json_call("POST", url, token, NULL, body, timeout_ms, status, resp, err, errlen);
}

int chttp_post_json_h(const char *url, const char *token, chttp_headers headers,
                      const json_t *body, long timeout_ms, int *status, json_t **resp,
                      char *err, size_t errlen)
{
    return json_call("POST", url, token, headers, body, timeout_ms, status, resp, err, errlen);
}

int chttp_get_json(const char *url, const char *token, long timeout_ms, int *status,
                   json_t **resp, char *err, size_t errlen)
{
    return json_call("GET", url, token, NULL, NULL, timeout_ms, status, resp, err, errlen);
}

/* ---- streaming ---- */

struct strm {
    CURL *h;
    chttp_line_fn fn;
    void *ud;
    struct buf line;     /* the incomplete line so far */
    struct buf errbody;  /* non-2xx answer */
    int status;          /* 0 until the first body byte */
    bool done;           /* the callback said final */
    bool aborted;        /* the callback returned < 0 */
    bool too_long;
    size_t n_lines, n_bytes;
    uint64_t last_byte_ns;
};

/* Hands line[0..n) to the callback; returns false to stop the transfer. */
static bool deliver(struct strm *s, char *p, size_t n)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n == 0)
        return true;
    char keep = p[n];
    p[n] = 0;
    s->n_lines++;
    int r = s->fn(s->ud, p, n);
    p[n] = keep;
    if (r == 1) {
        s->done = true;
        return false;
    }
    if (r < 0) {
        s->aborted = true;
        return false;
    }
    return true;
}

static size_t strm_write(char *d, size_t sz, size_t nm, void *ud)
{
    struct strm *s = ud;
    size_t n = sz * nm;
    s->last_byte_ns = om_time_ns();
    s->n_bytes += n;
    if (!s->status) {
        long code = 0;
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
        s->status = code > 0 ? (int)code : 200;
    }
    if (s->status < 200 || s->status >= 300)
        return buf_add(&s->errbody, d, n) ? n : 0;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(d + i, '\n', n - i);
        size_t part = nl ? (size_t)(nl - (d + i)) : n - i;
        if (!buf_add(&s->line, d + i, part)) {
            s->too_long = true;
            return 0;
        }
        i += part;
        if (!nl)
            break;
        i++; /* the newline */
        bool go = deliver(s, s->line.p, s->line.len);
        s->line.len = 0;
        if (!go)
            return 0;
    }
    return n;
}

const char *chttp_end_name(enum chttp_end e)
{
    switch (e) {
    case CHTTP_END_DONE: return "done";
    case CHTTP_END_EOF: return "eof";
    case CHTTP_END_BROKEN: return "broken";
    case CHTTP_END_STALLED: return "stalled";
    case CHTTP_END_CONNECT: return "connect";
    case CHTTP_END_HTTP_ERROR: return "http error";
    case CHTTP_END_CANCELLED: return "cancelled";
    case CHTTP_END_ABORTED: return "aborted";
    }
    return "?";
}

void chttp_stream_result_clear(struct chttp_stream_result *res)
{
    if (!res)
        return;
    free(res->error_body);
    res->error_body = NULL;
}

static bool is_connect_error(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
           cc == CURLE_COULDNT_RESOLVE_PROXY;
}

int chttp_post_stream(const char *url, const char *body, size_t len,
                      const struct chttp_stream_opts *opts, chttp_line_fn fn, void *ud,
                      struct chttp_stream_result *res)
{
    if (!res)
        return OM_EINVAL;
    memset(res, 0, sizeof *res);
    res->end = CHTTP_END_CONNECT;
    if (!url || !fn || (!body && len)) {
        snprintf(res->err, sizeof res->err, "chttp: url and callback are required");
        return OM_EINVAL;
    }
    struct chttp_stream_opts o = opts ? *opts : (struct chttp_stream_opts){0};
    long stall_ms = o.stall_ms > 0 ? o.stall_ms : 30000;
    struct curl_slist *hdrs = make_headers(o.token, o.headers, true);
    struct strm s = {.fn = fn, .ud = ud, .line = {.max = CHTTP_MAX_LINE},
                     .errbody = {.max = CHTTP_MAX_BODY}};
    s.h = new_handle(url, hdrs);
    CURLM *m = s.h ? curl_multi_init() : NULL;
    if (!m) {
        if (s.h)
            curl_easy_cleanup(s.h);
        curl_slist_free_all(hdrs);
        snprintf(res->err, sizeof res->err, "chttp: %s: libcurl unavailable", url);
        return 0;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(s.h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, strm_write);
    curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(s.h, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(s.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (o.total_ms > 0)
        curl_easy_setopt(s.h, CURLOPT_TIMEOUT_MS, o.total_ms);
    curl_multi_add_handle(m, s.h);

    uint64_t t0 = om_time_ns();
    s.last_byte_ns = t0;
    bool cancelled = false, stalled = false;
    int running = 1;
    CURLcode cc = CURLE_OK;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (!running)
            break;
        if ((o.cancel && atomic_load(o.cancel)) || (o.poll && o.poll(o.poll_ud))) {
            cancelled = true;
            break;
        }
        long bound = s.n_bytes == 0 && o.first_byte_ms > 0 ? o.first_byte_ms : stall_ms;
        if ((om_time_ns() - s.last_byte_ns) / 1000000u > (uint64_t)bound) {
            stalled = true;
            break;
        }
        curl_multi_poll(m, NULL, 0, CHTTP_POLL_MS, NULL);
    }
    int nmsg;
    CURLMsg *msg;
    bool got = false;
    while ((msg = curl_multi_info_read(m, &nmsg)))
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == s.h) {
            cc = msg->data.result;
            got = true;
        }
    if (!got && !cancelled && !stalled)
        cc = CURLE_RECV_ERROR;
    long code = 0;
    curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &code);
    res->status = s.status ? s.status : (int)code;
    res->n_lines = s.n_lines;
    res->n_bytes = s.n_bytes;
    if (cerr[0])
        snprintf(res->err, sizeof res->err, "%s", cerr);
    else if (cc != CURLE_OK)
        snprintf(res->err, sizeof res->err, "%s", curl_easy_strerror(cc));

    if (s.done) {
        res->end = CHTTP_END_DONE;
    } else if (s.aborted) {
        res->end = CHTTP_END_ABORTED;
    } else if (cancelled) {
        res->end = CHTTP_END_CANCELLED;
        snprintf(res->err, sizeof res->err, "cancelled");
    } else if (stalled) {
        res->end = s.n_bytes == 0 && res->status == 0 ? CHTTP_END_CONNECT : CHTTP_END_STALLED;
        snprintf(res->err, sizeof res->err, "no data for %ld ms",
                 s.n_bytes == 0 && o.first_byte_ms > 0 ? o.first_byte_ms : stall_ms);
    } else if (res->status && (res->status < 200 || res->status >= 300) &&
               (cc == CURLE_OK || s.errbody.over)) {
        res->end = CHTTP_END_HTTP_ERROR;
        if (s.errbody.len) {
            res->error_body = s.errbody.p;
            s.errbody.p = NULL;
        }
    } else if (s.too_long) {
        res->end = CHTTP_END_BROKEN;
        snprintf(res->err, sizeof res->err, "line longer than %u bytes", CHTTP_MAX_LINE);
    } else if (cc == CURLE_OK) {
        /* a complete answer: a last line without its newline still counts */
        if (s.line.len > 0 && !deliver(&s, s.line.p, s.line.len) && s.aborted)
            res->end = CHTTP_END_ABORTED;
        else
            res->end = s.done ? CHTTP_END_DONE : CHTTP_END_EOF;
        res->n_lines = s.n_lines;
    } else if (is_connect_error(cc) ||
               (cc == CURLE_OPERATION_TIMEDOUT && res->status == 0 && s.n_bytes == 0)) {
        res->end = CHTTP_END_CONNECT;
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        res->end = CHTTP_END_STALLED;
    } else {
        res->end = CHTTP_END_BROKEN;
    }
    curl_multi_remove_handle(m, s.h);
    curl_multi_cleanup(m);
    curl_easy_cleanup(s.h);
    curl_slist_free_all(hdrs);
    free(s.line.p);
    free(s.errbody.p);
    return 0;
}
