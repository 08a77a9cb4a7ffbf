/* tests/cluster: chttp, the node-to-node HTTP client, against a local
 * http_server and a raw TCP peer — JSON calls (status, token header, bad
 * JSON, refused connection), and the streaming POST: lines as they arrive
 * (split across writes), the final line, clean EOF without it, a reset
 * connection, a stalled peer, an HTTP error with its body, a line over the
 * bound, cancellation from another thread and through the poll callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../http/http_test_util.h"
#include "cluster/chttp.h"

/* ---- the peer ---- */

static void h_echo(http_req *req, void *ctx)
{
    (void)ctx;
    size_t len = 0;
    const char *b = http_req_body(req, &len);
    const char *auth = http_req_header(req, "Authorization");
    const char *x = http_req_header(req, "X-Test");
    json_t *in = json_loadb(b, len, 0, NULL);
    json_t *o = json_pack("{s:o?,s:s?,s:s?,s:s}", "body", in, "auth", auth, "x", x, "method",
                          http_req_method(req));
    char *s = json_dumps(o, JSON_COMPACT);
    http_respond(req, 200, "application/json", s, strlen(s));
    free(s);
    json_decref(o);
}

static void h_notjson(http_req *req, void *ctx)
{
    (void)ctx;
    http_respond(req, 500, "text/plain", "oops", 4);
}

static void h_err(http_req *req, void *ctx)
{
    (void)ctx;
    http_respond_error(req, 404, "model 'x' not found");
}

/* Streams lines from a thread: mode from the path. */
struct job {
    http_req *req;
    char mode[32];
};

static atomic_int g_gone;

static void on_gone(http_req *req, void *u)
{
    (void)req;
    (void)u;
    atomic_fetch_add(&g_gone, 1);
}

static void *stream_thread(void *arg)
{
    struct job *j = arg;
    http_req *r = j->req;
    http_req_on_gone(r, on_gone, NULL);
    http_stream_begin(r, 200, "application/x-ndjson");
    if (!strcmp(j->mode, "long")) {
        /* one write (an empty queue always takes it): a line, then one too long */
        size_t n = CHTTP_MAX_LINE + 100;
        char *big = om_xmalloc(n + 9);
        memcpy(big, "{\"a\":1}\n", 8);
        memset(big + 8, 'a', n);
        big[n + 8] = '\n';
        http_stream_write(r, big, n + 9);
        free(big);
    } else if (!strcmp(j->mode, "slow")) { /* one line per 50 ms, for 10 s */
        for (int i = 0; i < 200 && !http_req_gone(r); i++) {
            char l[64];
            int n = snprintf(l, sizeof l, "{\"i\":%d}\n", i);
            http_stream_write(r, l, (size_t)n);
            sleep_ms(50);
        }
    } else {
        /* 5 lines, the third split across writes and CRLF-ended */
        for (int i = 0; i < 5; i++) {
            char l[64];
            int n = snprintf(l, sizeof l, "{\"i\":%d}\n\n", i);
            if (i == 2) {
                http_stream_write(r, "{\"i\"", 4);
                sleep_ms(20);
                http_stream_write(r, ":2}\r\n", 5);
            } else {
                http_stream_write(r, l, (size_t)n);
            }
            sleep_ms(5);
        }
        if (!strcmp(j->mode, "done"))
            http_stream_write(r, "{\"done\":true}\n", 14);
        if (!strcmp(j->mode, "stall"))
            sleep_ms(1500);
    }
    http_req_on_gone(r, NULL, NULL);
    http_stream_end(r);
    free(j);
    return NULL;
}

static void h_stream(http_req *req, void *ctx)
{
    (void)ctx;
    struct job *j = om_xcalloc(1, sizeof *j);
    j->req = req;
    const char *m = http_req_param(req, "mode");
    snprintf(j->mode, sizeof j->mode, "%s", m ? m : "done");
    pthread_t th;
    pthread_create(&th, NULL, stream_thread, j);
    pthread_detach(th);
}

static http_server *g_srv;

static int setup(void **state)
{
    (void)state;
    static const struct http_route routes[] = {
        {"POST", "/echo", h_echo, NULL, 0, NULL},
        {"GET", "/echo", h_echo, NULL, 0, NULL},
        {"POST", "/notjson", h_notjson, NULL, 0, NULL},
        {"POST", "/err", h_err, NULL, 0, NULL},
        {"POST", "/stream/:mode", h_stream, NULL, 0, NULL},
    };
    g_srv = http_test_start(NULL, NULL, routes, OM_ARRAY_LEN(routes));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(g_srv);
    return 0;
}

/* A port with nothing listening. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- JSON calls ---- */

static void test_json_calls(void **state)
{
    (void)state;
    char err[512];
    int status = -1;
    json_t *resp = NULL;
    json_t *body = json_pack("{s:s,s:i}", "op", "node_put", "n", 7);
    const char *hdrs[] = {"X-Test: yes", NULL};
    assert_int_equal(chttp_post_json_h(url(g_srv, "/echo"), "omx-abc", hdrs, body, 5000, &status,
                                       &resp, err, sizeof err), 0);
    assert_int_equal(status, 200);
    assert_non_null(resp);
    assert_string_equal(json_string_value(json_object_get(resp, "auth")), "Bearer omx-abc");
    assert_string_equal(json_string_value(json_object_get(resp, "x")), "yes");
    assert_true(json_equal(json_object_get(resp, "body"), body));
    json_decref(resp);
    json_decref(body);

    /* no token: no Authorization header; NULL body sends {} */
    assert_int_equal(chttp_post_json(url(g_srv, "/echo"), NULL, NULL, 0, &status, &resp, err,
                                     sizeof err), 0);
    assert_null(json_string_value(json_object_get(resp, "auth")));
    assert_int_equal(json_object_size(json_object_get(resp, "body")), 0);
    json_decref(resp);

    assert_int_equal(chttp_get_json(url(g_srv, "/echo"), "t", 0, &status, &resp, err, sizeof err),
                     0);
    assert_string_equal(json_string_value(json_object_get(resp, "method")), "GET");
    json_decref(resp);

    /* an error status is a completed exchange */
    assert_int_equal(chttp_post_json(url(g_srv, "/err"), "t", NULL, 0, &status, &resp, err,
                                     sizeof err), 0);
    assert_int_equal(status, 404);
    assert_string_equal(json_string_value(json_object_get(resp, "error")), "model 'x' not found");
    json_decref(resp);

    /* not JSON: resp NULL, err says so */
    assert_int_equal(chttp_post_json(url(g_srv, "/notjson"), "t", NULL, 0, &status, &resp, err,
                                     sizeof err), 0);
    assert_int_equal(status, 500);
    assert_null(resp);
    assert_non_null(strstr(err, "not JSON"));

    /* nobody listening */
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", dead_port());
    assert_int_equal(chttp_post_json(u, "t", NULL, 0, &status, &resp, err, sizeof err), OM_EIO);
    assert_int_equal(status, 0);
    assert_null(resp);
    assert_non_null(strstr(err, u));
    assert_int_equal(chttp_post_json(NULL, "t", NULL, 0, &status, &resp, err, sizeof err),
                     OM_EINVAL);
}

/* ---- streams ---- */

struct lines {
    int n;
    int final_at;  /* return 1 for this line index (-1 never) */
    int abort_at;
    char got[16][64];
    atomic_bool *cancel_at_3;
};

static int on_line(void *ud, const char *line, size_t len)
{
    struct lines *l = ud;
    assert_int_equal(strlen(line), len);
    if (l->n < 16)
        snprintf(l->got[l->n], sizeof l->got[0], "%s", line);
    int i = l->n++;
    if (l->cancel_at_3 && i == 3)
        atomic_store(l->cancel_at_3, true);
    if (i == l->final_at)
        return 1;
    if (i == l->abort_at)
        return -1;
    if (strstr(line, "\"done\""))
        return 1;
    return 0;
}

static void stream(const char *path, const struct chttp_stream_opts *o, struct lines *l,
                   struct chttp_stream_result *r)
{
    if (!l->final_at && !l->abort_at)
        l->final_at = l->abort_at = -1;
    assert_int_equal(chttp_post_stream(url(g_srv, path), "{}", 2, o, on_line, l, r), 0);
}

static void test_stream_done_eof(void **state)
{
    (void)state;
    struct chttp_stream_result r;
    struct lines l = {0};
    struct chttp_stream_opts o = {.token = "t"};
    stream("/stream/done", &o, &l, &r);
    assert_int_equal(r.end, CHTTP_END_DONE);
    assert_int_equal(r.status, 200);
    assert_int_equal(l.n, 6);
    assert_int_equal(r.n_lines, 6);
    for (int i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof want, "{\"i\":%d}", i);
        assert_string_equal(l.got[i], want); /* empty lines skipped, CR removed, split joined */
    }
    chttp_stream_result_clear(&r);

    struct lines l2 = {0};
    stream("/stream/eof", &o, &l2, &r);
    assert_int_equal(r.end, CHTTP_END_EOF);
    assert_int_equal(l2.n, 5);
    chttp_stream_result_clear(&r);

    /* the callback's own verdicts */
    struct lines l3 = {.final_at = 1, .abort_at = -1};
    stream("/stream/eof", &o, &l3, &r);
    assert_int_equal(r.end, CHTTP_END_DONE);
    assert_int_equal(l3.n, 2);
    chttp_stream_result_clear(&r);
    struct lines l4 = {.final_at = -1, .abort_at = 0};
    stream("/stream/eof", &o, &l4, &r);
    assert_int_equal(r.end, CHTTP_END_ABORTED);
    assert_int_equal(l4.n, 1);
    chttp_stream_result_clear(&r);
}

static void test_stream_errors(void **state)
{
    (void)state;
    struct chttp_stream_result r;
    struct chttp_stream_opts o = {.token = "t", .stall_ms = 300};
    /* stalled: lines, then nothing for 1.5 s */
    struct lines l = {0};
    uint64_t t0 = om_time_ns();
    stream("/stream/stall", &o, &l, &r);
    uint64_t ms = (om_time_ns() - t0) / 1000000u;
    assert_int_equal(r.end, CHTTP_END_STALLED);
    assert_int_equal(l.n, 5);
    assert_true(ms >= 300 && ms < 1400);
    chttp_stream_result_clear(&r);

    /* HTTP error with its body */
    struct lines l2 = {0};
    stream("/err", &o, &l2, &r);
    assert_int_equal(r.end, CHTTP_END_HTTP_ERROR);
    assert_int_equal(r.status, 404);
    assert_int_equal(l2.n, 0);
    assert_non_null(r.error_body);
    assert_non_null(strstr(r.error_body, "model 'x' not found"));
    chttp_stream_result_clear(&r);

    /* a line over the bound */
    struct lines l3 = {0};
    stream("/stream/long", &o, &l3, &r);
    assert_int_equal(r.end, CHTTP_END_BROKEN);
    assert_int_equal(l3.n, 1);
    chttp_stream_result_clear(&r);

    /* nobody listening: connect, quickly */
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", dead_port());
    struct lines l4 = {.final_at = -1, .abort_at = -1};
    t0 = om_time_ns();
    assert_int_equal(chttp_post_stream(u, "{}", 2, &o, on_line, &l4, &r), 0);
    assert_int_equal(r.end, CHTTP_END_CONNECT);
    assert_true((om_time_ns() - t0) / 1000000u < 1500);
    chttp_stream_result_clear(&r);
    assert_int_equal(chttp_post_stream(u, "{}", 2, &o, NULL, &l4, &r), OM_EINVAL);
}

/* A raw peer: answers with a chunked 200, one line, then closes the socket
 * in the middle of the body. */
static void *raw_peer(void *arg)
{
    int lfd = *(int *)arg;
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf); /* the request (small) */
    (void)n;
    const char *a = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n8\r\n{\"i\":0}\n\r\n20\r\n{\"i\":1,";
    ssize_t w = write(fd, a, strlen(a));
    (void)w;
    sleep_ms(50);
    close(fd);
    return NULL;
}

static void test_stream_reset(void **state)
{
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t sl = sizeof a;
    getsockname(lfd, (struct sockaddr *)&a, &sl);
    listen(lfd, 4);
    pthread_t th;
    pthread_create(&th, NULL, raw_peer, &lfd);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/api/generate", ntohs(a.sin_port));
    struct lines l = {.final_at = -1, .abort_at = -1};
    struct chttp_stream_result r;
    assert_int_equal(chttp_post_stream(u, "{}", 2, NULL, on_line, &l, &r), 0);
    pthread_join(th, NULL);
    close(lfd);
    assert_int_equal(r.end, CHTTP_END_BROKEN);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.got[0], "{\"i\":0}");
    chttp_stream_result_clear(&r);
}

struct canceller {
    atomic_bool *flag;
    int ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    sleep_ms(c->ms);
    atomic_store(c->flag, true);
    return NULL;
}

static int g_polls;
static int poll_stop(void *ud)
{
    (void)ud;
    return ++g_polls >= 6;
}

static void test_stream_cancel(void **state)
{
    (void)state;
    atomic_bool flag;
    atomic_init(&flag, false);
    struct canceller c = {&flag, 200};
    pthread_t th;
    atomic_store(&g_gone, 0);
    pthread_create(&th, NULL, cancel_later, &c);
    struct chttp_stream_opts o = {.token = "t", .cancel = &flag};
    struct lines l = {0};
    struct chttp_stream_result r;
    uint64_t t0 = om_time_ns();
    stream("/stream/slow", &o, &l, &r);
    uint64_t ms = (om_time_ns() - t0) / 1000000u;
    pthread_join(th, NULL);
    assert_int_equal(r.end, CHTTP_END_CANCELLED);
    assert_true(ms >= 200 && ms < 800);
    assert_true(l.n >= 1 && l.n < 16);
    chttp_stream_result_clear(&r);
    /* the peer sees its client leave */
    for (int i = 0; i < 100 && atomic_load(&g_gone) == 0; i++)
        sleep_ms(20);
    assert_int_equal(atomic_load(&g_gone), 1);

    /* through the poll callback */
    struct chttp_stream_opts o2 = {.poll = poll_stop};
    struct lines l2 = {0};
    g_polls = 0;
    t0 = om_time_ns();
    stream("/stream/slow", &o2, &l2, &r);
    assert_int_equal(r.end, CHTTP_END_CANCELLED);
    assert_true((om_time_ns() - t0) / 1000000u < 1500);
    chttp_stream_result_clear(&r);
    assert_string_equal(chttp_end_name(CHTTP_END_STALLED), "stalled");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_calls),
        cmocka_unit_test(test_stream_done_eof),
        cmocka_unit_test(test_stream_errors),
        cmocka_unit_test(test_stream_reset),
        cmocka_unit_test(test_stream_cancel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
