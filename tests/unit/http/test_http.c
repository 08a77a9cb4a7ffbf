/* Unit tests for http/ (synchronous answers): routing with :params and
 * query arguments, the fixed 404/405 bodies, HEAD, body caps (413) and
 * streamed uploads, CORS, the DNS-rebinding host check, the request log,
 * IPv6 and start errors. All against 127.0.0.1 with libcurl as the client;
 * answers given later, streams and vanishing clients are in
 * test_http_async.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http/http_test_util.h"

/* ---- handlers ---- */

static void h_hello(http_req *req, void *ctx)
{
    (void)ctx;
    http_add_header(req, "X-Test", "yes");
    http_respond(req, 200, NULL, "hello", 5);
}

static void h_item(http_req *req, void *ctx)
{
    (void)ctx;
    char buf[256];
    const char *q = http_req_query(req, "q");
    snprintf(buf, sizeof(buf), "id=%s q=%s ua=%s", http_req_param(req, "id"), q ? q : "-",
             http_req_header(req, "user-agent") ? "set" : "none");
    http_respond(req, 200, "text/plain", buf, strlen(buf));
}

static void h_echo(http_req *req, void *ctx)
{
    (void)ctx;
    size_t len;
    const char *b = http_req_body(req, &len);
    http_respond(req, 201, "application/octet-stream", b, len);
}

struct upload_state {
    uint64_t bytes;
    uint64_t sum;
    int calls;
};

static int body_count(http_req *req, const char *data, size_t len, void *ctx)
{
    (void)ctx;
    struct upload_state *u = http_req_user(req);
    if (!u) {
        u = om_xcalloc(1, sizeof(*u));
        http_req_set_user(req, u);
    }
    for (size_t i = 0; i < len; i++)
        u->sum = u->sum * 31 + (unsigned char)data[i];
    u->bytes += len;
    u->calls++;
    return 0;
}

static void h_upload(http_req *req, void *ctx)
{
    (void)ctx;
    struct upload_state *u = http_req_user(req);
    char buf[128];
    snprintf(buf, sizeof(buf), "%llu %llu", (unsigned long long)(u ? u->bytes : 0),
             (unsigned long long)(u ? u->sum : 0));
    free(u);
    http_respond(req, 200, NULL, buf, strlen(buf));
}

static void h_badutf8(http_req *req, void *ctx)
{
    (void)ctx;
    http_respond_error(req, 400, "model 'a\xff" "b\xc3' \xc3\xa9 not found");
}

static int body_refuse(http_req *req, const char *data, size_t len, void *ctx)
{
    (void)req, (void)data, (void)len, (void)ctx;
    return OM_EFORMAT;
}

static void h_refused(http_req *req, void *ctx)
{
    (void)ctx;
    http_respond_error(req, 400, om_strerror(http_req_body_error(req)));
}

static const struct http_route g_routes[] = {
    {"GET", "/", h_hello, NULL, 0, NULL},
    {"GET", "/hello", h_hello, NULL, 0, NULL},
    {"GET", "/api/items/:id", h_item, NULL, 0, NULL},
    {"POST", "/echo", h_echo, NULL, 0, NULL},
    {"POST", "/small", h_echo, NULL, 1000, NULL},
    {"POST", "/upload/:digest", h_upload, NULL, 0, body_count},
    {"POST", "/refuse", h_refused, NULL, 0, body_refuse},
    {"GET", "/badutf8", h_badutf8, NULL, 0, NULL},
};

static http_server *start(const char *host, const char *origins)
{
    return http_test_start(host, origins, g_routes, OM_ARRAY_LEN(g_routes));
}

/* ---- tests ---- */

static void test_routing(void **state)
{
    (void)state;
    http_server *s = start(NULL, NULL);
    struct cresp r = http_do("GET", url(s, "/hello"), NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    assert_true(cresp_has_header(&r, "X-Test: yes"));
    assert_true(cresp_has_header(&r, "Content-Type: text/plain; charset=utf-8"));
    cresp_free(&r);

    r = http_do("GET", url(s, "/api/items/a%20b?q=x%26y&z=1"), NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "id=a b q=x&y ua=none");
    cresp_free(&r);

    r = http_do("GET", url(s, "/"), NULL, NULL);
    assert_int_equal(r.status, 200);
    cresp_free(&r);
    r = http_do("HEAD", url(s, "/"), NULL, NULL);
    assert_int_equal(r.status, 200);
    cresp_free(&r);

    r = http_do("GET", url(s, "/nope"), NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "404 page not found");
    cresp_free(&r);
    r = http_do("GET", url(s, "/api/items/1/2"), NULL, NULL);
    assert_int_equal(r.status, 404);
    cresp_free(&r);

    r = http_do("POST", url(s, "/hello"), "x", NULL);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.body, "405 method not allowed");
    cresp_free(&r);
    r = http_do("DELETE", url(s, "/echo"), NULL, NULL);
    assert_int_equal(r.status, 405);
    cresp_free(&r);

    /* HEAD on a GET route: headers (with the length), no body */
    r = http_do("HEAD", url(s, "/hello"), NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_true(cresp_has_header(&r, "Content-Length: 5"));
    assert_true(cresp_has_header(&r, "X-Test: yes"));
    cresp_free(&r);
    r = http_do("HEAD", url(s, "/echo"), NULL, NULL);
    assert_int_equal(r.status, 405);
    cresp_free(&r);
    http_server_stop(s);
}

static void test_bodies(void **state)
{
    (void)state;
    http_server *s = start(NULL, NULL);
    struct cresp r = http_do("POST", url(s, "/echo"), "{\"a\":1}", NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "{\"a\":1}");
    cresp_free(&r);

    char big[2001];
    memset(big, 'x', 2000);
    big[2000] = 0;
    r = http_do("POST", url(s, "/small"), big, NULL);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body, "{\"error\":\"request body too large\"}");
    cresp_free(&r);
    big[1000] = 0; /* exactly the cap is fine */
    r = http_do("POST", url(s, "/small"), big, NULL);
    assert_int_equal(r.status, 201);
    assert_int_equal(r.len, 1000);
    cresp_free(&r);

    /* chunked body (no Content-Length) over the cap: read, dropped, 413 */
    struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    big[1000] = 'x';
    r = http_do("POST", url(s, "/small"), big, h);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body, "{\"error\":\"request body too large\"}");
    cresp_free(&r);
    curl_slist_free_all(h);

    /* invalid UTF-8 in an error message becomes U+FFFD, as in Go */
    r = http_do("GET", url(s, "/badutf8"), NULL, NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":\"model 'a\xef\xbf\xbd" "b\xef\xbf\xbd' \xc3\xa9 "
                                "not found\"}");
    cresp_free(&r);

    /* body_fn that refuses: the handler still runs and sees the error */
    r = http_do("POST", url(s, "/refuse"), "abc", NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":\"malformed input\"}");
    cresp_free(&r);
    http_server_stop(s);
}

struct gen_body {
    uint64_t left, sent, sum;
};

static size_t gen_read(char *buf, size_t sz, size_t n, void *ud)
{
    struct gen_body *g = ud;
    size_t len = OM_MIN((uint64_t)sz * n, g->left);
    for (size_t i = 0; i < len; i++) {
        buf[i] = (char)((g->sent + i) * 7 % 251);
        g->sum = g->sum * 31 + (unsigned char)buf[i];
    }
    g->left -= len;
    g->sent += len;
    return len;
}

static void test_upload_stream(void **state)
{
    (void)state;
    http_server *s = start(NULL, NULL);
    uint64_t total = quick_mode() ? (8u << 20) : (50u << 20);
    struct gen_body g = {.left = total};
    struct cresp r = {0};
    CURL *c = curl_easy_init();
    curl_setup(c, &r, "POST", url(s, "/upload/sha256-abc"), NULL, NULL);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, gen_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &g);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    assert_int_equal(r.status, 200);
    char want[128];
    snprintf(want, sizeof(want), "%llu %llu", (unsigned long long)total,
             (unsigned long long)g.sum);
    assert_string_equal(r.body, want);
    cresp_free(&r);
    /* far above the default 32 MiB buffered cap: body_fn routes are uncapped */
    http_server_stop(s);
}

static void test_cors(void **state)
{
    (void)state;
    http_server *s = start(NULL, "https://example.com, chrome-extension://*");
    struct curl_slist *h = curl_slist_append(NULL, "Origin: http://localhost:3000");
    h = curl_slist_append(h, "Access-Control-Request-Method: POST");
    struct cresp r = http_do("OPTIONS", url(s, "/api/chat"), NULL, h);
    assert_int_equal(r.status, 204);
    assert_true(cresp_has_header(&r, "Access-Control-Allow-Origin: http://localhost:3000"));
    assert_true(cresp_has_header(&r, "Access-Control-Allow-Methods: GET,POST,PUT,PATCH,DELETE,"
                                     "HEAD,OPTIONS"));
    assert_non_null(strstr(r.hdrs, "X-Stainless-Retry-Count"));
    assert_non_null(strstr(r.hdrs, "Authorization,Content-Type"));
    cresp_free(&r);
    curl_slist_free_all(h);

    const char *ok[] = {"Origin: https://example.com", "Origin: chrome-extension://abc",
                        "Origin: app://x", "Origin: tauri://localhost",
                        "Origin: https://127.0.0.1:8080", "Origin: vscode-webview://z"};
    for (size_t i = 0; i < OM_ARRAY_LEN(ok); i++) {
        h = curl_slist_append(NULL, ok[i]);
        r = http_do("GET", url(s, "/hello"), NULL, h);
        assert_int_equal(r.status, 200);
        char want[128];
        snprintf(want, sizeof(want), "Access-Control-Allow-Origin: %s", ok[i] + 8);
        assert_true(cresp_has_header(&r, want));
        assert_true(cresp_has_header(&r, "Vary: Origin"));
        cresp_free(&r);
        curl_slist_free_all(h);
    }
    const char *bad[] = {"Origin: https://evil.com", "Origin: http://localhost.evil.com",
                         "Origin: moz-extension://q"};
    for (size_t i = 0; i < OM_ARRAY_LEN(bad); i++) {
        h = curl_slist_append(NULL, bad[i]);
        r = http_do("GET", url(s, "/hello"), NULL, h);
        assert_int_equal(r.status, 403);
        assert_int_equal(r.len, 0);
        cresp_free(&r);
        curl_slist_free_all(h);
    }
    /* no Origin: no CORS headers; plain OPTIONS: 204 */
    r = http_do("GET", url(s, "/hello"), NULL, NULL);
    assert_false(cresp_has_header(&r, "Access-Control-Allow-Origin"));
    cresp_free(&r);
    r = http_do("OPTIONS", url(s, "/hello"), NULL, NULL);
    assert_int_equal(r.status, 204);
    cresp_free(&r);
    http_server_stop(s);
}

static void test_host_check(void **state)
{
    (void)state;
    http_server *s = start("127.0.0.1", NULL);
    struct {
        const char *host;
        long status;
    } cases[] = {
        {"Host: localhost:11434", 200}, {"Host: 127.0.0.1", 200},
        {"Host: 192.168.1.5:80", 200},  {"Host: foo.localhost", 200},
        {"Host: box.local", 200},       {"Host: [::1]:11434", 200},
        {"Host: evil.com", 403},        {"Host: 8.8.8.8", 403},
        {"Host: localhost.evil.com", 403},
    };
    for (size_t i = 0; i < OM_ARRAY_LEN(cases); i++) {
        struct curl_slist *h = curl_slist_append(NULL, cases[i].host);
        struct cresp r = http_do("GET", url(s, "/hello"), NULL, h);
        if (r.status != cases[i].status)
            fail_msg("%s: got %ld", cases[i].host, r.status);
        cresp_free(&r);
        curl_slist_free_all(h);
    }
    struct curl_slist *h = curl_slist_append(NULL, "Host: evil.com");
    struct cresp r = http_do("OPTIONS", url(s, "/hello"), NULL, h);
    assert_int_equal(r.status, 403);
    cresp_free(&r);
    http_server_stop(s);

    /* not on loopback: no host check */
    s = start("0.0.0.0", NULL);
    r = http_do("GET", url(s, "/hello"), NULL, h);
    assert_int_equal(r.status, 200);
    cresp_free(&r);
    http_server_stop(s);
    curl_slist_free_all(h);
}

/* raw bytes to the server; returns what came back before it closed or
 * 300 ms of silence (malloc'd) */
static char *raw_exchange(const http_server *s, const char *data, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)http_server_port(s))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may refuse early and close */
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    size_t cap = 1 << 16, got = 0;
    char *buf = om_xmalloc(cap + 1);
    struct timeval tv = {0, 300000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (;;) {
        ssize_t n = recv(fd, buf + got, cap - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == cap)
            break;
    }
    buf[got] = 0;
    close(fd);
    return buf;
}

static void test_bad_input(void **state)
{
    (void)state;
    http_server *s = start(NULL, NULL);
    char *big = om_xmalloc(300 * 1024);
    int k = snprintf(big, 300 * 1024, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + k, 'a', 250 * 1024);
    memcpy(big + k + 250 * 1024, "\r\n\r\n", 5);
    struct {
        const char *data;
        size_t len;
        const char *want; /* substring of the reply, or NULL for "anything" */
    } cases[] = {
        {"GARBAGE\r\n\r\n", 0, NULL},
        {"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n"
         "GET /api/items/9 HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, "id=9"},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", 0, NULL},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nabc", 0, NULL},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nab\r\n", 0,
         NULL},
        {"POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 0,
         NULL},
        {big, (size_t)k + 250 * 1024 + 4, NULL},
        {"GET /hello HTTP/1.1\r\nHost: x\r\n", 0, NULL}, /* headers never end */
    };
    for (size_t i = 0; i < OM_ARRAY_LEN(cases); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].data);
        char *reply = raw_exchange(s, cases[i].data, len);
        if (cases[i].want && !strstr(reply, cases[i].want))
            fail_msg("case %zu: no '%s' in:\n%s", i, cases[i].want, reply);
        if (i == 1) /* pipelined: both answered, in order */
            assert_non_null(strstr(strstr(reply, "hello"), "id=9"));
        free(reply);
        /* and the server is still fine */
        struct cresp r = http_do("GET", url(s, "/hello"), NULL, NULL);
        assert_int_equal(r.status, 200);
        cresp_free(&r);
    }
    free(big);
    http_server_stop(s);
}

static char g_log[4096];
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_sink(enum om_log_level lvl, const char *module, const char *msg, void *ud)
{
    (void)lvl, (void)ud;
    pthread_mutex_lock(&g_log_mu);
    size_t n = strlen(g_log);
    snprintf(g_log + n, sizeof(g_log) - n, "%s: %s\n", module, msg);
    pthread_mutex_unlock(&g_log_mu);
}

static void test_request_log(void **state)
{
    (void)state;
    om_log_set(log_sink, NULL, OM_LOG_DEBUG);
    struct http_config cfg = {.port = 0, .log_requests = true};
    http_server *s = NULL;
    char err[256];
    assert_int_equal(http_server_start(&cfg, g_routes, OM_ARRAY_LEN(g_routes), &s, err,
                                       sizeof(err)), 0);
    struct cresp r = http_do("GET", url(s, "/api/items/7"), NULL, NULL);
    assert_int_equal(r.status, 200);
    cresp_free(&r);
    r = http_do("GET", url(s, "/nothing"), NULL, NULL);
    cresp_free(&r);
    http_server_stop(s);
    om_log_set(NULL, NULL, OM_LOG_WARN);
    assert_non_null(strstr(g_log, "http: GET /api/items/7 200 "));
    assert_non_null(strstr(g_log, "http: GET /nothing 404 "));
}

static void test_ipv6_and_errors(void **state)
{
    (void)state;
    struct http_config cfg = {.host = "::1", .port = 0};
    http_server *s = NULL;
    char err[256];
    if (http_server_start(&cfg, g_routes, OM_ARRAY_LEN(g_routes), &s, err, sizeof(err)) == 0) {
        char u[128];
        snprintf(u, sizeof(u), "http://[::1]:%d/hello", http_server_port(s));
        struct cresp r = http_do("GET", u, NULL, NULL);
        assert_int_equal(r.status, 200);
        cresp_free(&r);
        /* the port is taken now */
        struct http_config c2 = {.host = "::1", .port = http_server_port(s)};
        http_server *s2 = NULL;
        assert_int_equal(http_server_start(&c2, g_routes, 1, &s2, err, sizeof(err)), OM_EIO);
        assert_non_null(strstr(err, "Address already in use"));
        assert_null(s2);
        http_server_stop(s);
    } else {
        print_message("no IPv6 loopback here (%s); skipping that part\n", err);
    }
    /* "::" listens on both families */
    cfg.host = "::";
    if (http_server_start(&cfg, g_routes, OM_ARRAY_LEN(g_routes), &s, err, sizeof(err)) == 0) {
        char u[128];
        snprintf(u, sizeof(u), "http://127.0.0.1:%d/hello", http_server_port(s));
        struct cresp r = http_do("GET", u, NULL, NULL);
        assert_int_equal(r.status, 200);
        cresp_free(&r);
        http_server_stop(s);
    }
    struct http_route bad = {"GET", "nopath", h_hello, NULL, 0, NULL};
    struct http_config c3 = {0};
    assert_int_equal(http_server_start(&c3, &bad, 1, &s, err, sizeof(err)), OM_EINVAL);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_upload_stream),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_host_check),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_request_log),
        cmocka_unit_test(test_ipv6_and_errors),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
