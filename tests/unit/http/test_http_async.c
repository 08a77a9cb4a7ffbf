/* Unit tests for http/ (answers given later): deferred answers from other
 * threads, chunked streams arriving in pieces, clients that vanish
 * mid-stream or while their answer is pending (on_gone, OM_EIO), 100+
 * concurrent streams, keep-alive across deferred answers and streams, and
 * stopping the server with requests pending. All against 127.0.0.1 with
 * libcurl as the client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_test_util.h"

/* ---- handlers ---- */

static void h_hello(http_req *req, void *ctx)
{
    (void)ctx;
    http_add_header(req, "X-Test", "yes");
    http_respond(req, 200, NULL, "hello", 5);
}

/* answers from other threads */
static atomic_int g_threads; /* helper threads still running */

static void *deferred_main(void *arg)
{
    http_req *req = arg;
    sleep_ms(30);
    http_respond_error(req, 418, "later \"quoted\"");
    atomic_fetch_sub(&g_threads, 1);
    return NULL;
}

static void spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    atomic_fetch_add(&g_threads, 1);
    assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
    pthread_detach(t);
}

static void wait_threads(void)
{
    for (int i = 0; i < 500 && atomic_load(&g_threads) > 0; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&g_threads), 0);
}

static void h_deferred(http_req *req, void *ctx)
{
    (void)ctx;
    spawn(deferred_main, req);
}

struct stream_job {
    http_req *req;
    int pieces, gap_ms;
};

static void *stream_main(void *arg)
{
    struct stream_job *j = arg;
    sleep_ms(5);
    int rc = http_stream_begin(j->req, 200, "application/x-ndjson");
    for (int i = 0; i < j->pieces && rc == 0; i++) {
        char line[64];
        snprintf(line, sizeof(line), "{\"i\":%d}\n", i);
        rc = http_stream_write(j->req, line, strlen(line));
        if (j->gap_ms)
            sleep_ms(j->gap_ms);
    }
    http_stream_end(j->req);
    free(j);
    atomic_fetch_sub(&g_threads, 1);
    return NULL;
}

static void h_stream(http_req *req, void *ctx)
{
    (void)ctx;
    struct stream_job *j = om_xcalloc(1, sizeof(*j));
    j->req = req;
    const char *n = http_req_query(req, "n"), *gap = http_req_query(req, "gap");
    j->pieces = n ? atoi(n) : 5;
    j->gap_ms = gap ? atoi(gap) : 0;
    spawn(stream_main, j);
}

/* a stream that goes on until the client leaves */
static atomic_int g_gone_calls, g_eio_seen;

static void on_gone_count(http_req *req, void *user)
{
    (void)req, (void)user;
    atomic_fetch_add(&g_gone_calls, 1);
}

static void *forever_main(void *arg)
{
    http_req *req = arg;
    http_stream_begin(req, 200, "text/event-stream");
    for (int i = 0; i < 2000; i++) {
        int rc = http_stream_write(req, "data: {\"x\":1}\n\n", 15);
        if (rc == OM_EIO) {
            if (http_req_gone(req))
                atomic_fetch_add(&g_eio_seen, 1);
            break;
        }
        sleep_ms(5);
    }
    http_stream_end(req);
    atomic_fetch_sub(&g_threads, 1);
    return NULL;
}

static void h_forever(http_req *req, void *ctx)
{
    (void)ctx;
    http_req_on_gone(req, on_gone_count, NULL);
    spawn(forever_main, req);
}

/* never answered until the client leaves: the watcher must notice */
static void *pending_main(void *arg)
{
    http_req *req = arg;
    for (int i = 0; i < 300 && !http_req_gone(req); i++)
        sleep_ms(10);
    if (http_respond(req, 200, NULL, "late", 4) == OM_EIO)
        atomic_fetch_add(&g_eio_seen, 1);
    atomic_fetch_sub(&g_threads, 1);
    return NULL;
}

static void h_pending(http_req *req, void *ctx)
{
    (void)ctx;
    http_req_on_gone(req, on_gone_count, NULL);
    spawn(pending_main, req);
}

/* on_gone(NULL) waits for a callback running on another thread */
static atomic_int g_slow_cb_done, g_waited_ok;

static void on_gone_slow(http_req *req, void *user)
{
    (void)req, (void)user;
    sleep_ms(100);
    atomic_store(&g_slow_cb_done, 1);
}

static void *slowgone_main(void *arg)
{
    http_req *req = arg;
    for (int i = 0; i < 300 && !http_req_gone(req); i++)
        sleep_ms(5);
    http_req_on_gone(req, NULL, NULL);
    if (http_req_gone(req) && atomic_load(&g_slow_cb_done) == 1)
        atomic_store(&g_waited_ok, 1);
    http_respond(req, 200, NULL, "x", 1);
    atomic_fetch_sub(&g_threads, 1);
    return NULL;
}

static void h_slowgone(http_req *req, void *ctx)
{
    (void)ctx;
    http_req_on_gone(req, on_gone_slow, NULL);
    spawn(slowgone_main, req);
}

static const struct http_route g_routes[] = {
    {"GET", "/hello", h_hello, NULL, 0, NULL},
    {"GET", "/deferred", h_deferred, NULL, 0, NULL},
    {"GET", "/stream", h_stream, NULL, 0, NULL},
    {"GET", "/forever", h_forever, NULL, 0, NULL},
    {"GET", "/pending", h_pending, NULL, 0, NULL},
    {"GET", "/slowgone", h_slowgone, NULL, 0, NULL},
};

static http_server *start(const char *host, const char *origins)
{
    return http_test_start(host, origins, g_routes, OM_ARRAY_LEN(g_routes));
}

/* ---- tests ---- */

static void test_deferred_and_stream(void **state)
{
    (void)state;
    http_server *s = start(NULL, NULL);
    struct cresp r = http_do("GET", url(s, "/deferred"), NULL, NULL);
    assert_int_equal(r.status, 418);
    assert_string_equal(r.body, "{\"error\":\"later \\\"quoted\\\"\"}");
    assert_true(cresp_has_header(&r, "Content-Type: application/json; charset=utf-8"));
    cresp_free(&r);

    r = http_do("GET", url(s, "/stream?n=6&gap=40"), NULL, NULL);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body,
                        "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n{\"i\":4}\n{\"i\":5}\n");
    assert_true(cresp_has_header(&r, "Transfer-Encoding: chunked"));
    assert_true(cresp_has_header(&r, "Content-Type: application/x-ndjson"));
    /* the pieces came as they were written, not all at the end */
    assert_true(r.n_pieces >= 3);
    assert_true(r.t_last - r.t_first >= 120000000ull);
    cresp_free(&r);

    /* an empty stream and a stream on HEAD */
    r = http_do("GET", url(s, "/stream?n=0"), NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    cresp_free(&r);
    r = http_do("HEAD", url(s, "/stream?n=3"), NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    cresp_free(&r);
    wait_threads();
    http_server_stop(s);
}

static void test_client_gone(void **state)
{
    (void)state;
    http_server *s = start(NULL, NULL);
    atomic_store(&g_gone_calls, 0);
    atomic_store(&g_eio_seen, 0);
    /* mid-stream: curl aborts after the first bytes */
    struct cresp r = {0};
    r.abort_after = 1;
    CURL *c = curl_easy_init();
    curl_setup(c, &r, "GET", url(s, "/forever"), NULL, NULL);
    assert_int_equal(curl_easy_perform(c), CURLE_WRITE_ERROR);
    curl_easy_cleanup(c);
    cresp_free(&r);
    wait_threads();
    assert_int_equal(atomic_load(&g_gone_calls), 1);
    assert_int_equal(atomic_load(&g_eio_seen), 1);

    /* before any answer: the client times out while the request is pending */
    c = curl_easy_init();
    curl_setup(c, &r, "GET", url(s, "/pending"), NULL, NULL);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 150L);
    uint64_t t0 = om_time_ns();
    assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(c);
    cresp_free(&r);
    wait_threads();
    assert_true(om_time_ns() - t0 < 2500000000ull); /* noticed, not waited out (3 s) */
    assert_int_equal(atomic_load(&g_gone_calls), 2);
    assert_int_equal(atomic_load(&g_eio_seen), 2);

    /* clearing the callback waits until a running one has returned */
    c = curl_easy_init();
    curl_setup(c, &r, "GET", url(s, "/slowgone"), NULL, NULL);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 100L);
    assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(c);
    cresp_free(&r);
    wait_threads();
    assert_int_equal(atomic_load(&g_slow_cb_done), 1);
    assert_int_equal(atomic_load(&g_waited_ok), 1);

    /* the server is still fine */
    r = http_do("GET", url(s, "/hello"), NULL, NULL);
    assert_int_equal(r.status, 200);
    cresp_free(&r);
    http_server_stop(s);
}

static void test_many_streams(void **state)
{
    (void)state;
    http_server *s = start(NULL, NULL);
    enum { N = 120 };
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    struct cresp *r = om_xcalloc(N, sizeof(*r));
    CURL *h[N];
    for (int i = 0; i < N; i++) {
        h[i] = curl_easy_init();
        curl_setup(h[i], &r[i], "GET", url(s, "/stream?n=10&gap=10"), NULL, NULL);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    uint64_t t0 = om_time_ns();
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
        assert_true(om_time_ns() - t0 < 15000000000ull);
    }
    const char *want = "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n{\"i\":3}\n{\"i\":4}\n{\"i\":5}\n"
                       "{\"i\":6}\n{\"i\":7}\n{\"i\":8}\n{\"i\":9}\n";
    for (int i = 0; i < N; i++) {
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &r[i].status);
        assert_int_equal(r[i].status, 200);
        assert_string_equal(r[i].body, want);
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
        cresp_free(&r[i]);
    }
    free(r);
    curl_multi_cleanup(m);
    wait_threads();
    http_server_stop(s);
}

static void test_keepalive(void **state)
{
    (void)state;
    http_server *s = start(NULL, NULL);
    CURL *c = curl_easy_init();
    const char *paths[] = {"/hello", "/deferred", "/stream?n=2", "/hello"};
    for (size_t i = 0; i < OM_ARRAY_LEN(paths); i++) {
        struct cresp r = {0};
        curl_setup(c, &r, "GET", url(s, paths[i]), NULL, NULL);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        long nc = -1;
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nc);
        assert_int_equal(nc, i == 0 ? 1 : 0); /* the same connection every time */
        assert_false(cresp_has_header(&r, "Connection: close"));
        cresp_free(&r);
    }
    curl_easy_cleanup(c);
    wait_threads();
    http_server_stop(s);
}

/* a client that does not read: writes are refused past the buffer cap */
static atomic_llong g_flood_bytes;
static atomic_int g_flood_eagain, g_flood_eio;

static void *flood_main(void *arg)
{
    http_req *req = arg;
    static char chunk[64 * 1024];
    memset(chunk, 'z', sizeof(chunk));
    http_stream_begin(req, 200, "application/octet-stream");
    int rc = 0;
    for (int i = 0; i < 2048; i++) { /* at most 128 MiB */
        rc = http_stream_write(req, chunk, sizeof(chunk));
        if (rc != 0)
            break;
        atomic_fetch_add(&g_flood_bytes, (long long)sizeof(chunk));
    }
    if (rc == OM_EAGAIN) {
        atomic_store(&g_flood_eagain, 1);
        /* stays refused while the client does not read; EIO once it leaves
         * (a write may still be taken while the server drains its buffer
         * into the socket before it sees the reset, so keep writing) */
        for (int i = 0; i < 400 && rc != OM_EIO; i++) {
            sleep_ms(5);
            rc = http_stream_write(req, chunk, sizeof(chunk));
        }
        if (rc == OM_EIO)
            atomic_store(&g_flood_eio, 1);
    }
    http_stream_end(req);
    atomic_fetch_sub(&g_threads, 1);
    return NULL;
}

static void h_flood(http_req *req, void *ctx)
{
    (void)ctx;
    spawn(flood_main, req);
}

static void test_slow_reader(void **state)
{
    (void)state;
    struct http_route routes[] = {{"GET", "/flood", h_flood, NULL, 0, NULL}};
    http_server *s = http_test_start(NULL, NULL, routes, 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)http_server_port(s))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    const char rq[] = "GET /flood HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(send(fd, rq, sizeof(rq) - 1, 0), (ssize_t)sizeof(rq) - 1);
    for (int i = 0; i < 400 && !atomic_load(&g_flood_eagain); i++)
        sleep_ms(5);
    assert_int_equal(atomic_load(&g_flood_eagain), 1);
    /* 8 MiB of ours plus what the kernel buffers on loopback */
    long long got = atomic_load(&g_flood_bytes);
    assert_true(got >= (8ll << 20) - (64 << 10));
    assert_true(got < (48ll << 20));
    close(fd);
    wait_threads();
    assert_int_equal(atomic_load(&g_flood_eio), 1);
    http_server_stop(s);
}

/* stop with requests in every state: pending, streaming, idle stream */
static void on_gone_end(http_req *req, void *user)
{
    (void)user;
    atomic_fetch_add(&g_gone_calls, 1);
    http_stream_end(req);
}

static void h_hold(http_req *req, void *ctx)
{
    (void)ctx;
    http_req_on_gone(req, on_gone_end, NULL);
    if (http_req_query(req, "begin")) {
        http_stream_begin(req, 200, "application/x-ndjson");
        http_stream_write(req, "{}\n", 3);
    }
}

static void *multi_main(void *arg)
{
    CURLM *m = arg;
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    return NULL;
}

static void test_stop_pending(void **state)
{
    (void)state;
    atomic_store(&g_gone_calls, 0);
    struct http_route routes[] = {{"GET", "/hold", h_hold, NULL, 0, NULL}};
    struct http_config cfg = {.port = 0};
    http_server *s = NULL;
    char err[256];
    assert_int_equal(http_server_start(&cfg, routes, 1, &s, err, sizeof(err)), 0);
    enum { N = 8 };
    CURLM *m = curl_multi_init();
    CURL *h[N];
    struct cresp r[N];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < N; i++) {
        h[i] = curl_easy_init();
        curl_setup(h[i], &r[i], "GET", url(s, i % 2 ? "/hold?begin=1" : "/hold"), NULL, NULL);
        curl_multi_add_handle(m, h[i]);
    }
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, multi_main, m), 0);
    sleep_ms(300); /* all requests reach their handlers */
    uint64_t t0 = om_time_ns();
    http_server_stop(s);
    assert_true(om_time_ns() - t0 < 1500000000ull);
    assert_int_equal(atomic_load(&g_gone_calls), N);
    pthread_join(t, NULL); /* the clients see their connections close */
    for (int i = 0; i < N; i++) {
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
        cresp_free(&r[i]);
    }
    curl_multi_cleanup(m);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deferred_and_stream),
        cmocka_unit_test(test_client_gone),
        cmocka_unit_test(test_many_streams),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_slow_reader),
        cmocka_unit_test(test_stop_pending),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
