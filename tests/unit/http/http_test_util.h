/* Helpers for the http tests: a libcurl client against 127.0.0.1 and a few
 * thread utilities. Header-only (static inline functions) so that each test
 * file stays one executable. Include after cmocka.h. */
#ifndef HTTP_TEST_UTIL_H
#define HTTP_TEST_UTIL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"
#include "http/http.h"

struct cresp {
    long status;
    char *body;
    size_t len;
    char *hdrs;
    size_t hlen;
    long num_connects;
    CURLcode cc;
    int n_pieces;          /* write callbacks */
    uint64_t t_first, t_last; /* ns of the first/last body piece */
    size_t abort_after;    /* >0: abort the transfer once this many bytes came */
};

static inline size_t cresp_write(char *p, size_t sz, size_t n, void *ud)
{
    struct cresp *r = ud;
    size_t len = sz * n;
    r->body = om_xrealloc(r->body, r->len + len + 1);
    memcpy(r->body + r->len, p, len);
    r->len += len;
    r->body[r->len] = 0;
    uint64_t t = om_time_ns();
    if (!r->n_pieces)
        r->t_first = t;
    r->t_last = t;
    r->n_pieces++;
    if (r->abort_after && r->len >= r->abort_after)
        return 0; /* makes curl abort and close the connection */
    return len;
}

static inline size_t cresp_header(char *p, size_t sz, size_t n, void *ud)
{
    struct cresp *r = ud;
    size_t len = sz * n;
    r->hdrs = om_xrealloc(r->hdrs, r->hlen + len + 1);
    memcpy(r->hdrs + r->hlen, p, len);
    r->hlen += len;
    r->hdrs[r->hlen] = 0;
    return len;
}

static inline void cresp_free(struct cresp *r)
{
    free(r->body);
    free(r->hdrs);
    memset(r, 0, sizeof(*r));
}

/* Case-insensitive search for "Name: value" among the response headers. */
static inline bool cresp_has_header(const struct cresp *r, const char *line)
{
    if (!r->hdrs)
        return false;
    size_t n = strlen(line);
    for (const char *p = r->hdrs; *p; p++)
        if (strncasecmp(p, line, n) == 0)
            return true;
    return false;
}

static inline void curl_setup(CURL *c, struct cresp *r, const char *method, const char *url,
                       const char *body, struct curl_slist *hdrs)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cresp_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, cresp_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
}

/* One request on a fresh handle. */
static inline struct cresp http_do(const char *method, const char *url, const char *body,
                            struct curl_slist *hdrs)
{
    struct cresp r = {0};
    CURL *c = curl_easy_init();
    curl_setup(c, &r, method, url, body, hdrs);
    r.cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    return r;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline bool quick_mode(void)
{
    const char *q = getenv("OM_TEST_QUICK");
    return q && q[0] == '1';
}

/* Starts a server on host (NULL = 127.0.0.1), any free port. */
static inline http_server *http_test_start(const char *host, const char *origins,
                                           const struct http_route *routes, size_t n)
{
    struct http_config cfg = {.host = host, .port = 0, .threads = 2, .origins = origins};
    http_server *s = NULL;
    char err[256];
    int rc = http_server_start(&cfg, routes, n, &s, err, sizeof(err));
    if (rc)
        fail_msg("start: %s", err);
    assert_true(http_server_port(s) > 0);
    return s;
}

/* "http://127.0.0.1:<port><path>" in one of four rotating buffers. */
static inline char *url(const http_server *s, const char *path)
{
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 512, "http://127.0.0.1:%d%s", http_server_port(s), path);
    return b;
}

#endif
