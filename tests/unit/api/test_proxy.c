/* tests/api: the gateway (api_proxy_gen / api_proxy_embed) between a client
 * and scripted serving nodes, all in process: the gateway is an http_server
 * whose handlers call the proxy with a minimal api_server; each node is an
 * http_server that streams tokens "w0 " … "w19 " with their ids in
 * _om_tokens, starting after the ids in _om_resume, and can break its stream
 * (end without the final chunk), stall, refuse (4xx/5xx) or be absent.
 * Checked: the client's text is exactly the uninterrupted text through one or
 * two failovers, the next node gets the ids received so far, _om_tokens never
 * reaches the client, stream:false and OpenAI SSE work through a failover,
 * 4xx errors pass as they are, 5xx and dead nodes are skipped, everything
 * failing gives 502, a client leaving cancels the upstream stream, the local
 * target runs in place, and embed requests fail over. The real-process
 * failover (serve killed mid-stream) is in tests/js/test_cluster*.mjs. */
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
#include "api/api_int.h"
#include "api/api_proxy.h"
#include "api/oai.h"

#define TOTAL 20

enum mode { SERVE, ERR4, ERR5, EMBED };

struct node {
    http_server *h;
    enum mode mode;
    int break_after;   /* > 0: end the stream after this many chunks, no final */
    int stall_after;   /* > 0: after this many chunks send nothing for 5 s */
    int per_chunk;     /* ids per chunk (1 or 2) */
    int err_after;     /* > 0: after this many chunks an {"error": err_msg} line */
    const char *err_msg;
    int delay_ms;      /* between chunks */
    atomic_int calls;
    atomic_int gone;
    pthread_mutex_t mu;
    json_t *last_body;
    char last_fwd[64];
    char last_auth[80];
};

static struct node g_nodes[3];
static struct api_server g_srv;
static http_server *g_gw;
static struct api_target g_t[4];
static int g_nt;
static struct api_proxy_opts g_opts;
static atomic_int g_local;

/* ---- the scripted node ---- */

struct strm {
    struct node *nd;
    http_req *req;
    bool chat;
    int from;
};

static void node_gone(http_req *req, void *u)
{
    (void)req;
    atomic_fetch_add(&((struct node *)u)->gone, 1);
}

static json_t *chunk(bool chat, const char *text)
{
    json_t *c = json_pack("{s:s,s:s}", "model", "m", "created_at", "2026-01-01T00:00:00Z");
    if (chat)
        json_object_set_new(c, "message", json_pack("{s:s,s:s}", "role", "assistant", "content",
                                                    text));
    else
        json_object_set_new(c, "response", json_string(text));
    return c;
}

static int send_line(http_req *r, json_t *c)
{
    char *s = json_dumps(c, JSON_COMPACT);
    size_t n = strlen(s);
    s = om_xrealloc(s, n + 2);
    s[n] = '\n';
    int rc = http_stream_write(r, s, n + 1);
    free(s);
    json_decref(c);
    return rc;
}

static void *node_stream(void *arg)
{
    struct strm *st = arg;
    struct node *nd = st->nd;
    http_req *r = st->req;
    http_req_on_gone(r, node_gone, nd);
    http_stream_begin(r, 200, "application/x-ndjson");
    int sent = 0, i = st->from;
    bool broke = false;
    while (i < TOTAL) {
        if (nd->delay_ms)
            sleep_ms(nd->delay_ms);
        if (nd->break_after && sent == nd->break_after) {
            broke = true;
            break;
        }
        if (nd->err_after && sent == nd->err_after) {
            send_line(r, json_pack("{s:s}", "error", nd->err_msg));
            broke = true;
            break;
        }
        if (nd->stall_after && sent == nd->stall_after) {
            for (int k = 0; k < 250 && !http_req_gone(r); k++)
                sleep_ms(20);
            broke = true;
            break;
        }
        char text[64] = "";
        json_t *ids = json_array();
        for (int k = 0; k < nd->per_chunk && i < TOTAL; k++, i++) {
            size_t l = strlen(text);
            snprintf(text + l, sizeof text - l, "w%d ", i);
            json_array_append_new(ids, json_integer(1000 + i));
        }
        json_t *c = chunk(st->chat, text);
        json_object_set_new(c, "done", json_false());
        json_object_set_new(c, "_om_tokens", ids);
        if (send_line(r, c))
            break;
        sent++;
    }
    if (!broke && !http_req_gone(r)) {
        json_t *c = chunk(st->chat, "");
        json_object_set_new(c, "done", json_true());
        json_object_set_new(c, "done_reason", json_string("length"));
        json_object_set_new(c, "eval_count", json_integer(TOTAL));
        json_object_set_new(c, "prompt_eval_count", json_integer(5));
        json_object_set_new(c, "total_duration", json_integer(1));
        json_object_set_new(c, "_om_tokens", json_array());
        send_line(r, c);
    }
    http_req_on_gone(r, NULL, NULL);
    http_stream_end(r);
    free(st);
    return NULL;
}

static void node_h(http_req *req, void *ctx)
{
    struct node *nd = ctx;
    atomic_fetch_add(&nd->calls, 1);
    size_t len = 0;
    const char *b = http_req_body(req, &len);
    json_t *body = json_loadb(b, len, 0, NULL);
    const char *fwd = http_req_header(req, "X-OllamaMax-Forwarded");
    const char *auth = http_req_header(req, "Authorization");
    pthread_mutex_lock(&nd->mu);
    json_decref(nd->last_body);
    nd->last_body = json_incref(body);
    snprintf(nd->last_fwd, sizeof nd->last_fwd, "%s", fwd ? fwd : "");
    snprintf(nd->last_auth, sizeof nd->last_auth, "%s", auth ? auth : "");
    pthread_mutex_unlock(&nd->mu);
    if (nd->mode == ERR4 || nd->mode == ERR5) {
        json_decref(body);
        http_respond_error(req, nd->mode == ERR4 ? 404 : 503,
                           nd->mode == ERR4 ? "model 'm' not found" : "server busy");
        return;
    }
    if (nd->mode == EMBED) {
        json_decref(body);
        const char *a = "{\"model\":\"m\",\"embeddings\":[[0.6,0.8]],\"prompt_eval_count\":2}";
        http_respond(req, 200, "application/json", a, strlen(a));
        return;
    }
    struct strm *st = om_xcalloc(1, sizeof *st);
    st->nd = nd;
    st->req = req;
    st->chat = strstr(http_req_path(req), "chat") != NULL;
    st->from = (int)json_array_size(json_object_get(json_object_get(body, "_om_resume"),
                                                    "tokens"));
    json_decref(body);
    pthread_t th;
    pthread_create(&th, NULL, node_stream, st);
    pthread_detach(th);
}

/* ---- the gateway ---- */

static void gw_gen(http_req *req, enum api_gen_kind kind)
{
    json_t *body = api_body_json(req);
    if (!body)
        return;
    struct api_out out;
    api_out_init(&out, req,
                 json_is_false(json_object_get(body, "stream")) ? API_OUT_ONCE : API_OUT_NDJSON,
                 false, NULL);
    api_proxy_gen(&g_srv, req, kind, body, &out, g_t, g_nt, &g_opts);
    json_decref(body);
}

static void gw_generate(http_req *req, void *ctx)
{
    (void)ctx;
    gw_gen(req, API_GEN_GENERATE);
}

static void gw_chat(http_req *req, void *ctx)
{
    (void)ctx;
    gw_gen(req, API_GEN_CHAT);
}

static void gw_v1_chat(http_req *req, void *ctx)
{
    (void)ctx;
    json_t *body = api_body_json(req), *native = NULL;
    char err[256];
    assert_int_equal(oai_chat_to_native(body, &native, err, sizeof err), 0);
    struct api_out out;
    api_out_init(&out, req, API_OUT_OAI, json_is_true(json_object_get(body, "stream")),
                 oai_conv_new(OAI_CHAT, body));
    api_proxy_gen(&g_srv, req, API_GEN_CHAT, native, &out, g_t, g_nt, &g_opts);
    json_decref(native);
    json_decref(body);
}

static void gw_embed(http_req *req, void *ctx)
{
    (void)ctx;
    json_t *body = api_body_json(req);
    api_proxy_embed(&g_srv, req, body, false, NULL, g_t, g_nt, &g_opts);
    json_decref(body);
}

static void local_gen(struct api_server *s, http_req *req, enum api_gen_kind kind, json_t *body,
                      struct api_out *out)
{
    (void)s;
    (void)req;
    (void)kind;
    (void)body;
    atomic_fetch_add(&g_local, 1);
    struct api_out o = *out;
    api_out_final(&o, json_pack("{s:s,s:b}", "response", "local", "done", 1));
    api_out_free(&o);
}

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

/* Targets by letter: A B C = nodes 0..2, D = dead, S = this node. */
static void targets(const char *spec)
{
    g_nt = 0;
    for (const char *p = spec; *p; p++) {
        struct api_target *t = &g_t[g_nt++];
        snprintf(t->id, sizeof t->id, "%016x", (unsigned)(*p));
        if (*p >= 'A' && *p <= 'C')
            snprintf(t->api_addr, sizeof t->api_addr, "127.0.0.1:%d",
                     http_server_port(g_nodes[*p - 'A'].h));
        else
            snprintf(t->api_addr, sizeof t->api_addr, "127.0.0.1:%d", dead_port());
    }
}

static void reset_nodes(void)
{
    for (int i = 0; i < 3; i++) {
        struct node *nd = &g_nodes[i];
        nd->mode = SERVE;
        nd->break_after = nd->stall_after = nd->delay_ms = nd->err_after = 0;
        nd->per_chunk = 1;
        atomic_store(&nd->calls, 0);
        atomic_store(&nd->gone, 0);
        json_decref(nd->last_body);
        nd->last_body = NULL;
        nd->last_fwd[0] = 0;
    }
    memset(&g_opts, 0, sizeof g_opts);
    g_opts.stall_ms = 300;
    atomic_store(&g_local, 0);
}

static int setup(void **state)
{
    (void)state;
    pthread_mutex_init(&g_srv.mu, NULL);
    pthread_cond_init(&g_srv.bg_cv, NULL);
    snprintf(g_srv.cl_token, sizeof g_srv.cl_token, "t1");
    for (int i = 0; i < 3; i++) {
        pthread_mutex_init(&g_nodes[i].mu, NULL);
        const struct http_route r[] = {
            {"POST", "/api/generate", node_h, &g_nodes[i], 0, NULL},
            {"POST", "/api/chat", node_h, &g_nodes[i], 0, NULL},
            {"POST", "/api/embed", node_h, &g_nodes[i], 0, NULL},
        };
        g_nodes[i].h = http_test_start(NULL, NULL, r, OM_ARRAY_LEN(r));
    }
    const struct http_route gr[] = {
        {"POST", "/api/generate", gw_generate, NULL, 0, NULL},
        {"POST", "/api/chat", gw_chat, NULL, 0, NULL},
        {"POST", "/v1/chat/completions", gw_v1_chat, NULL, 0, NULL},
        {"POST", "/api/embed", gw_embed, NULL, 0, NULL},
    };
    g_gw = http_test_start(NULL, NULL, gr, OM_ARRAY_LEN(gr));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* proxies still running finish before the servers go */
    pthread_mutex_lock(&g_srv.mu);
    g_srv.stopping = true;
    while (g_srv.n_bg > 0)
        pthread_cond_wait(&g_srv.bg_cv, &g_srv.mu);
    pthread_mutex_unlock(&g_srv.mu);
    http_server_stop(g_gw);
    for (int i = 0; i < 3; i++) {
        http_server_stop(g_nodes[i].h);
        json_decref(g_nodes[i].last_body);
    }
    return 0;
}

static const char *full_text(void)
{
    static char t[512];
    t[0] = 0;
    for (int i = 0; i < TOTAL; i++) {
        size_t l = strlen(t);
        snprintf(t + l, sizeof t - l, "w%d ", i);
    }
    return t;
}

/* NDJSON answer → concatenated text; checks the shape of every line. */
static char *ndjson_text(const struct cresp *r, bool chat, json_t **final)
{
    char *out = om_xcalloc(1, r->len + 1);
    *final = NULL;
    char *copy = om_xstrdup(r->body ? r->body : "");
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_t *c = json_loads(l, 0, NULL);
        assert_non_null(c);
        assert_null(json_object_get(c, "_om_tokens"));
        assert_null(json_object_get(c, "error"));
        const json_t *src = chat ? json_object_get(c, "message") : c;
        const char *s = json_string_value(json_object_get(src, chat ? "content" : "response"));
        if (s)
            strcat(out, s);
        if (json_is_true(json_object_get(c, "done"))) {
            assert_null(*final);
            *final = c;
        } else {
            json_decref(c);
        }
    }
    free(copy);
    assert_non_null(*final);
    return out;
}

static json_t *resume_of(struct node *nd)
{
    return json_object_get(json_object_get(nd->last_body, "_om_resume"), "tokens");
}

static void check_resume(struct node *nd, int k)
{
    const json_t *a = resume_of(nd);
    assert_int_equal(json_array_size(a), k);
    for (int i = 0; i < k; i++)
        assert_int_equal(json_integer_value(json_array_get(a, (size_t)i)), 1000 + i);
    assert_true(json_is_true(json_object_get(nd->last_body, "stream")));
    assert_string_equal(nd->last_fwd, "t1");
    assert_string_equal(nd->last_auth, "Bearer t1");
}

static void test_failover_generate(void **state)
{
    (void)state;
    reset_nodes();
    g_nodes[0].break_after = 7;
    targets("DAB");
    struct cresp r = http_do("POST", url(g_gw, "/api/generate"),
                             "{\"model\":\"m\",\"prompt\":\"hi\",\"stream\":true}", NULL);
    assert_int_equal(r.status, 200);
    json_t *final;
    char *text = ndjson_text(&r, false, &final);
    assert_string_equal(text, full_text());
    assert_int_equal(json_integer_value(json_object_get(final, "eval_count")), TOTAL);
    assert_true(json_integer_value(json_object_get(final, "total_duration")) > 1000);
    assert_int_equal(atomic_load(&g_nodes[0].calls), 1);
    assert_int_equal(atomic_load(&g_nodes[1].calls), 1);
    assert_null(resume_of(&g_nodes[0])); /* the dead node sent nothing: A starts afresh */
    check_resume(&g_nodes[1], 7);
    free(text);
    json_decref(final);
    cresp_free(&r);
}

static void test_failover_twice_held_ids(void **state)
{
    (void)state;
    reset_nodes();
    for (int i = 0; i < 3; i++)
        g_nodes[i].per_chunk = 2; /* two ids per chunk (text held back, then released) */
    g_nodes[0].break_after = 3;
    g_nodes[1].stall_after = 2; /* then nothing: the stall bound (300 ms) breaks it */
    targets("ABC");
    uint64_t t0 = om_time_ns();
    struct cresp r = http_do("POST", url(g_gw, "/api/chat"),
                             "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                             NULL);
    assert_int_equal(r.status, 200);
    assert_true((om_time_ns() - t0) / 1000000u < 3000); /* the stall bound, not the 5 s */
    json_t *final;
    char *text = ndjson_text(&r, true, &final);
    assert_string_equal(text, full_text());
    check_resume(&g_nodes[1], 6);
    check_resume(&g_nodes[2], 10);
    free(text);
    json_decref(final);
    cresp_free(&r);
}

static void test_once_and_openai(void **state)
{
    (void)state;
    reset_nodes();
    g_nodes[0].break_after = 4;
    targets("AB");
    struct cresp r = http_do("POST", url(g_gw, "/api/chat"),
                             "{\"model\":\"m\",\"stream\":false,\"messages\":[]}", NULL);
    assert_int_equal(r.status, 200);
    json_t *o = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "message"),
                                                          "content")),
                        full_text());
    assert_null(json_object_get(o, "_om_tokens"));
    json_decref(o);
    cresp_free(&r);

    reset_nodes();
    g_nodes[0].break_after = 9;
    r = http_do("POST", url(g_gw, "/v1/chat/completions"),
                "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                NULL);
    assert_int_equal(r.status, 200);
    char text[512] = "";
    int n_done = 0;
    for (char *save = NULL, *l = strtok_r(r.body, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        assert_true(!strncmp(l, "data: ", 6));
        if (!strcmp(l, "data: [DONE]")) {
            n_done++;
            continue;
        }
        json_t *e = json_loads(l + 6, 0, NULL);
        assert_non_null(e);
        const char *d = json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(e, "choices"), 0), "delta"), "content"));
        if (d)
            strcat(text, d);
        json_decref(e);
    }
    assert_int_equal(n_done, 1);
    assert_string_equal(text, full_text());
    check_resume(&g_nodes[1], 9);
    cresp_free(&r);
}

static void test_errors(void **state)
{
    (void)state;
    /* a 4xx passes as it is; the next node is not asked */
    reset_nodes();
    g_nodes[0].mode = ERR4;
    targets("AB");
    struct cresp r = http_do("POST", url(g_gw, "/api/generate"), "{\"model\":\"m\"}", NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"error\":\"model 'm' not found\"}");
    assert_int_equal(atomic_load(&g_nodes[1].calls), 0);
    cresp_free(&r);

    /* 5xx: next node */
    reset_nodes();
    g_nodes[0].mode = ERR5;
    targets("AB");
    r = http_do("POST", url(g_gw, "/api/generate"), "{\"model\":\"m\"}", NULL);
    assert_int_equal(r.status, 200);
    json_t *final;
    char *text = ndjson_text(&r, false, &final);
    assert_string_equal(text, full_text());
    assert_null(resume_of(&g_nodes[1]));
    free(text);
    json_decref(final);
    cresp_free(&r);

    /* nobody: 502 */
    reset_nodes();
    targets("DD");
    r = http_do("POST", url(g_gw, "/api/generate"), "{\"model\":\"m\"}", NULL);
    assert_int_equal(r.status, 502);
    assert_non_null(strstr(r.body, "no node could serve the request"));
    cresp_free(&r);

    /* broken mid-stream with no node left: an error line after the text */
    reset_nodes();
    g_nodes[0].break_after = 3;
    targets("AD");
    r = http_do("POST", url(g_gw, "/api/generate"), "{\"model\":\"m\"}", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "w2 "));
    assert_non_null(strstr(r.body, "{\"error\":\"no node could serve the request"));
    cresp_free(&r);

    /* an error line from a node going away: failover; any other: passed on */
    reset_nodes();
    g_nodes[0].err_after = 5;
    g_nodes[0].err_msg = "the model was unloaded";
    targets("AB");
    r = http_do("POST", url(g_gw, "/api/generate"), "{\"model\":\"m\"}", NULL);
    text = ndjson_text(&r, false, &final);
    assert_string_equal(text, full_text());
    check_resume(&g_nodes[1], 5);
    free(text);
    json_decref(final);
    cresp_free(&r);
    reset_nodes();
    g_nodes[0].err_after = 5;
    g_nodes[0].err_msg = "no token satisfies the grammar";
    targets("AB");
    r = http_do("POST", url(g_gw, "/api/generate"), "{\"model\":\"m\"}", NULL);
    assert_non_null(strstr(r.body, "w4 "));
    assert_non_null(strstr(r.body, "{\"error\":\"no token satisfies the grammar\"}"));
    assert_int_equal(atomic_load(&g_nodes[1].calls), 0);
    cresp_free(&r);

    /* a client's _om_resume is refused */
    reset_nodes();
    targets("A");
    r = http_do("POST", url(g_gw, "/api/generate"),
                "{\"model\":\"m\",\"_om_resume\":{\"tokens\":[1]}}", NULL);
    assert_int_equal(r.status, 400);
    assert_int_equal(atomic_load(&g_nodes[0].calls), 0);
    cresp_free(&r);
}

static void test_client_gone(void **state)
{
    (void)state;
    reset_nodes();
    g_nodes[0].delay_ms = 200; /* the whole stream would take 4 s */
    targets("A");
    struct cresp r = {0};
    r.abort_after = 1;
    CURL *c = curl_easy_init();
    curl_setup(c, &r, "POST", url(g_gw, "/api/generate"), "{\"model\":\"m\"}", NULL);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    uint64_t t0 = om_time_ns();
    while (atomic_load(&g_nodes[0].gone) == 0 && (om_time_ns() - t0) / 1000000u < 3000)
        sleep_ms(10);
    assert_int_equal(atomic_load(&g_nodes[0].gone), 1); /* upstream cancelled */
    cresp_free(&r);
}

static void test_local_target(void **state)
{
    (void)state;
    reset_nodes();
    g_opts.local_gen = local_gen;
    g_opts.self_id = "0000000000000053"; /* 'S' */
    targets("SA");
    struct cresp r = http_do("POST", url(g_gw, "/api/generate"), "{\"model\":\"m\"}", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"local\""));
    assert_int_equal(atomic_load(&g_local), 1);
    assert_int_equal(atomic_load(&g_nodes[0].calls), 0);
    cresp_free(&r);
    /* after a node that failed before sending anything */
    targets("DS");
    r = http_do("POST", url(g_gw, "/api/generate"), "{\"model\":\"m\"}", NULL);
    assert_non_null(strstr(r.body, "\"local\""));
    assert_int_equal(atomic_load(&g_local), 2);
    cresp_free(&r);
}

static void test_embed(void **state)
{
    (void)state;
    reset_nodes();
    g_nodes[0].mode = ERR5;
    g_nodes[1].mode = EMBED;
    targets("DAB");
    struct cresp r = http_do("POST", url(g_gw, "/api/embed"), "{\"model\":\"m\",\"input\":\"x\"}",
                             NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"embeddings\""));
    assert_string_equal(g_nodes[1].last_fwd, "t1");
    cresp_free(&r);
    g_nodes[0].mode = ERR4;
    targets("AB");
    r = http_do("POST", url(g_gw, "/api/embed"), "{\"model\":\"m\",\"input\":\"x\"}", NULL);
    assert_int_equal(r.status, 404);
    cresp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_generate),
        cmocka_unit_test(test_failover_twice_held_ids),
        cmocka_unit_test(test_once_and_openai),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_client_gone),
        cmocka_unit_test(test_local_target),
        cmocka_unit_test(test_embed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
