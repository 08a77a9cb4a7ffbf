/* tests: the routing strategies (src/cluster/route.c) — each strategy's
 * order, candidates (holders, else placed; down and drained excluded), the
 * round-robin rotation, prefix_affinity's stability, bounded load and
 * has_prefix, latency's ordering, the prefix hashes (text and request body)
 * and the EWMA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/om.h"
#include "cluster/route.h"

static struct route_node node(const char *id)
{
    struct route_node n;
    memset(&n, 0, sizeof(n));
    snprintf(n.id, sizeof(n.id), "%s", id);
    n.up = true;
    n.holds = true;
    n.parallel = 4;
    n.ram_free = 1 << 30;
    n.ttft_ewma_ms = -1;
    return n;
}

/* A node id as cluster.c makes them: 16 hex digits. */
static struct route_node hexnode(uint64_t v)
{
    char id[17];
    snprintf(id, sizeof(id), "%016llx", (unsigned long long)v);
    return node(id);
}

static void test_parse_names(void **state)
{
    (void)state;
    const char *names[] = {"least_loaded", "round_robin", "prefix_affinity", "latency"};
    for (int i = 0; i < 4; i++) {
        enum route_strategy s = ROUTE_LATENCY;
        assert_int_equal(route_strategy_parse(names[i], &s), 0);
        assert_int_equal((int)s, i);
        assert_string_equal(route_strategy_name(s), names[i]);
    }
    enum route_strategy s = ROUTE_ROUND_ROBIN;
    assert_int_equal(route_strategy_parse("fastest", &s), OM_EINVAL);
    assert_int_equal(route_strategy_parse("", &s), OM_EINVAL);
    assert_int_equal(route_strategy_parse("Least_Loaded", &s), OM_EINVAL);
    assert_int_equal(route_strategy_parse(NULL, &s), OM_EINVAL);
    assert_int_equal((int)s, ROUTE_ROUND_ROBIN);
    assert_string_equal(route_strategy_name((enum route_strategy)99), "least_loaded");
}

static void test_least_loaded(void **state)
{
    (void)state;
    struct route_node n[4] = {node("a"), node("b"), node("c"), node("d")};
    n[0].active = 3;                 /* loaded, load 3/4 */
    n[0].loaded = true;
    n[1].active = 1;                 /* not loaded, load 1/4 */
    n[2].active = 1;                 /* loaded, load 1/4 */
    n[2].loaded = true;
    n[3].queued = 1;                 /* not loaded, 1/4 but more RAM */
    n[3].ram_free = 2ll << 30;
    int idx[4];
    assert_int_equal(route_order(ROUTE_LEAST_LOADED, n, 4, 0, NULL, idx), 4);
    assert_int_equal(idx[0], 2);     /* loaded, least loaded */
    assert_int_equal(idx[1], 0);     /* loaded */
    assert_int_equal(idx[2], 3);     /* not loaded, equal load, more RAM */
    assert_int_equal(idx[3], 1);

    /* load is relative to parallel */
    struct route_node m[2] = {node("x"), node("y")};
    m[0].active = 4;
    m[0].parallel = 16;              /* 0.25 */
    m[1].active = 2;
    m[1].parallel = 4;               /* 0.5 */
    assert_int_equal(route_order(ROUTE_LEAST_LOADED, m, 2, 0, NULL, idx), 2);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 1);
}

static void test_candidates(void **state)
{
    (void)state;
    struct route_node n[5] = {node("a"), node("b"), node("c"), node("d"), node("e")};
    n[0].up = false;                 /* down */
    n[1].drained = true;             /* drained */
    n[2].holds = false;              /* up, does not hold */
    n[2].placed = true;
    n[0].active = n[1].active = 0;
    n[3].active = 2;
    int idx[5];
    for (int s = ROUTE_LEAST_LOADED; s <= ROUTE_LATENCY; s++) {
        int k = route_order((enum route_strategy)s, n, 5, 0x1234, NULL, idx);
        assert_int_equal(k, 2);
        /* d and e are the candidates, in some order */
        assert_true((idx[0] == 3 && idx[1] == 4) || (idx[0] == 4 && idx[1] == 3));
        /* the tail: c (up, placed), then the drained and the down one */
        assert_int_equal(idx[2], 2);
        assert_true((idx[3] == 0 && idx[4] == 1) || (idx[3] == 1 && idx[4] == 0));
    }

    /* nobody holds the model: the placed, usable nodes are the candidates */
    for (int i = 0; i < 5; i++)
        n[i].holds = false;
    n[3].placed = true;
    n[1].placed = true;              /* drained: still not usable */
    assert_int_equal(route_order(ROUTE_LEAST_LOADED, n, 5, 0, NULL, idx), 2);
    assert_int_equal(idx[0], 2);     /* c: load 0 */
    assert_int_equal(idx[1], 3);     /* d: load 2 */

    /* nothing usable */
    for (int i = 0; i < 5; i++) {
        n[i].up = i % 2 == 0 ? false : true;
        n[i].drained = i % 2 == 1;
    }
    for (int s = ROUTE_LEAST_LOADED; s <= ROUTE_LATENCY; s++) {
        for (int i = 0; i < 5; i++)
            idx[i] = -1;
        assert_int_equal(route_order((enum route_strategy)s, n, 5, 7, NULL, idx), 0);
        int seen = 0;
        for (int i = 0; i < 5; i++) /* still a permutation: the failover order */
            seen |= 1 << idx[i];
        assert_int_equal(seen, 31);
    }
    assert_int_equal(route_order(ROUTE_LEAST_LOADED, n, 0, 0, NULL, idx), 0);
    assert_int_equal(route_order(ROUTE_LEAST_LOADED, n, -1, 0, NULL, idx), OM_EINVAL);
    assert_int_equal(route_order(ROUTE_LEAST_LOADED, NULL, 2, 0, NULL, idx), OM_EINVAL);
    assert_int_equal(route_order(ROUTE_LEAST_LOADED, n, ROUTE_MAX_NODES + 1, 0, NULL, idx),
                     OM_EINVAL);
}

static void test_round_robin(void **state)
{
    (void)state;
    struct route_node n[4] = {node("c"), node("a"), node("b"), node("z")};
    n[3].drained = true;
    struct route_state st = {0};
    int idx[4], count[4] = {0};
    int prev = -1;
    for (int i = 0; i < 30; i++) {
        assert_int_equal(route_order(ROUTE_ROUND_ROBIN, n, 4, 0, &st, idx), 3);
        assert_int_not_equal(idx[0], prev); /* never the same node twice in a row */
        assert_int_equal(idx[3], 3);        /* the drained node is last */
        prev = idx[0];
        count[idx[0]]++;
        /* the other candidates follow in the same cyclic order */
        const int cyc[3] = {1, 2, 0}; /* a, b, c */
        int p = 0;
        while (cyc[p] != idx[0])
            p++;
        assert_int_equal(idx[1], cyc[(p + 1) % 3]);
        assert_int_equal(idx[2], cyc[(p + 2) % 3]);
    }
    assert_int_equal(st.rr_counter, 30);
    assert_int_equal(count[0], 10);
    assert_int_equal(count[1], 10);
    assert_int_equal(count[2], 10);
    assert_int_equal(count[3], 0);
}

/* The first usable node for key h among nodes. */
static int first_for(const struct route_node *n, int k, uint64_t h)
{
    int idx[ROUTE_MAX_NODES];
    assert_true(route_order(ROUTE_PREFIX_AFFINITY, n, k, h, NULL, idx) > 0);
    return idx[0];
}

static void test_affinity_stable(void **state)
{
    (void)state;
    struct route_node n[4] = {hexnode(0x9f0c11aa22bb33ccull), hexnode(0x1a2b3c4d5e6f7081ull),
                              hexnode(0x0123456789abcdefull), hexnode(0xfedcba9876543210ull)};
    int per3[3] = {0}, unchanged = 0, total = 1000;
    for (int i = 0; i < total; i++) {
        char text[64];
        int len = snprintf(text, sizeof(text), "conversation %d: You are a helpful assistant", i);
        uint64_t h = route_prefix_hash(text, (size_t)len);
        int a = first_for(n, 3, h);
        assert_int_equal(first_for(n, 3, h), a); /* same key, same node */
        per3[a]++;
        /* a fourth node, listed first (order of the array must not matter) */
        struct route_node m[4] = {n[3], n[0], n[1], n[2]};
        int b = first_for(m, 4, h);
        int b_orig = b == 0 ? 3 : b - 1;
        if (b_orig == a)
            unchanged++;
        else
            assert_int_equal(b_orig, 3); /* a key only ever moves to the new node */
    }
    for (int i = 0; i < 3; i++) /* spread: each node gets a fair share */
        assert_true(per3[i] > total / 3 / 2);
    printf("prefix_affinity 3->4 nodes: %d of %d keys kept their node; spread %d/%d/%d\n",
           unchanged, total, per3[0], per3[1], per3[2]);
    assert_true(unchanged >= total * 6 / 10);
    assert_true(unchanged < total); /* the new node takes some keys */
}

/* The ring is part of the protocol too: two gateways must pick the same node. */
static void test_affinity_pinned(void **state)
{
    (void)state;
    struct route_node n[3] = {node("1111111111111111"), node("2222222222222222"),
                              node("3333333333333333")};
    const char *want[8] = {"120", "102", "102", "021", "120", "120", "201", "102"};
    for (int k = 0; k < 8; k++) {
        char t[8];
        int len = snprintf(t, sizeof(t), "k%d", k);
        int idx[3];
        assert_int_equal(route_order(ROUTE_PREFIX_AFFINITY, n, 3, route_prefix_hash(t, (size_t)len),
                                     NULL, idx), 3);
        char got[4] = {(char)('0' + idx[0]), (char)('0' + idx[1]), (char)('0' + idx[2]), 0};
        assert_string_equal(got, want[k]);
    }
}

static void test_affinity_bounded_load(void **state)
{
    (void)state;
    struct route_node n[3] = {hexnode(0xaaaa000000000001ull), hexnode(0xbbbb000000000002ull),
                              hexnode(0xcccc000000000003ull)};
    uint64_t h = route_prefix_hash("system prompt", 13);
    int home = first_for(n, 3, h);
    int idx[3];
    /* average (9 + 0 + 0) / 3 = 3, bound ceil(3.75) + 1 = 5: 9 > 5, spill over */
    n[home].active = 6;
    n[home].queued = 3;
    assert_int_equal(route_order(ROUTE_PREFIX_AFFINITY, n, 3, h, NULL, idx), 3);
    assert_int_not_equal(idx[0], home);
    assert_int_equal(idx[2], home); /* overloaded: last of the candidates */
    /* the spill goes to the next node on the ring: the same one every time */
    int next = idx[0];
    for (int i = 0; i < 5; i++) {
        route_order(ROUTE_PREFIX_AFFINITY, n, 3, h, NULL, idx);
        assert_int_equal(idx[0], next);
    }
    n[home].active = 3;
    n[home].queued = 0; /* avg 1, bound ceil(1.25) + 1 = 3: 3 is not over it */
    assert_int_equal(first_for(n, 3, h), home);
    n[home].active = 4; /* avg 4/3, bound ceil(1.67) + 1 = 3: 4 is over */
    assert_int_not_equal(first_for(n, 3, h), home);
    /* everyone equally busy: nobody is skipped */
    for (int i = 0; i < 3; i++)
        n[i].active = 20;
    assert_int_equal(first_for(n, 3, h), home);
}

static void test_affinity_has_prefix(void **state)
{
    (void)state;
    struct route_node n[3] = {hexnode(0x1111111111111111ull), hexnode(0x2222222222222222ull),
                              hexnode(0x3333333333333333ull)};
    uint64_t h = route_prefix_hash("shared prefix", 13);
    int home = first_for(n, 3, h);
    int other = (home + 1) % 3;
    n[other].has_prefix = true;
    assert_int_equal(first_for(n, 3, h), other); /* the node holding the prefix wins */
    /* ... unless it is overloaded: then the ring decides again */
    n[other].active = 10;
    assert_int_equal(first_for(n, 3, h), home);
    /* without a prefix hash, prefix_affinity orders as least_loaded */
    int idx[3];
    n[home].active = 2;
    assert_int_equal(route_order(ROUTE_PREFIX_AFFINITY, n, 3, 0, NULL, idx), 3);
    assert_int_equal(idx[0], 3 - home - other);
    assert_int_equal(idx[2], other);
}

static void test_latency(void **state)
{
    (void)state;
    struct route_node n[4] = {node("a"), node("b"), node("c"), node("d")};
    n[0].ttft_ewma_ms = 50;
    n[1].ttft_ewma_ms = 20;
    n[2].ttft_ewma_ms = -1; /* not measured: first */
    n[3].ttft_ewma_ms = 35;
    int idx[4];
    struct route_state st = {0};
    assert_int_equal(route_order(ROUTE_LATENCY, n, 4, 0, &st, idx), 4);
    assert_int_equal(idx[0], 2);
    assert_int_equal(idx[1], 1);
    assert_int_equal(idx[2], 3);
    assert_int_equal(idx[3], 0);
    /* equals rotate */
    n[2].ttft_ewma_ms = 20.2;
    n[0].ttft_ewma_ms = 20.7;
    int firsts[4] = {0};
    for (int i = 0; i < 30; i++) {
        route_order(ROUTE_LATENCY, n, 4, 0, &st, idx);
        firsts[idx[0]]++;
        assert_int_equal(idx[3], 3); /* 35 ms: always last */
    }
    assert_int_equal(firsts[0], 10);
    assert_int_equal(firsts[1], 10);
    assert_int_equal(firsts[2], 10);
}

static void test_prefix_hash(void **state)
{
    (void)state;
    char a[3000], b[3000];
    for (int i = 0; i < 3000; i++)
        a[i] = b[i] = (char)('a' + i % 26);
    b[2000] = '#'; /* differs after the first 1024 bytes: same hash */
    assert_true(route_prefix_hash(a, 3000) == route_prefix_hash(b, 3000));
    assert_true(route_prefix_hash(a, 3000) == route_prefix_hash(a, 1024));
    assert_true(route_prefix_hash(a, 1023) != route_prefix_hash(a, 1024));
    b[1000] = '#';
    assert_true(route_prefix_hash(a, 3000) != route_prefix_hash(b, 3000));
    assert_true(route_prefix_hash(NULL, 0) != 0);
    assert_true(route_prefix_hash("", 0) == route_prefix_hash(NULL, 0));
    /* pinned: every node (and every version in a rolling upgrade) must compute the same
     * value, since peers report these hashes and gateways compare them */
    assert_true(route_prefix_hash("hello", 5) == 0x3aff9cfcce477975ull);
    assert_true(route_prefix_hash(NULL, 0) == 0xefd01f60ba992926ull);
    assert_true(route_prefix_hash("hello", 5) == route_prefix_hash("hello world", 5));
    uint64_t h1 = route_prefix_hash("hello", 5), h2 = route_prefix_hash("hellp", 5);
    int diff = __builtin_popcountll(h1 ^ h2);
    assert_true(diff > 10 && diff < 54); /* one bit in, many bits out */
}

static uint64_t body_hash(const char *text)
{
    json_error_t je;
    json_t *b = json_loads(text, JSON_DECODE_ANY, &je);
    if (!b)
        fail_msg("test JSON does not parse: %s: %s", text, je.text);
    uint64_t h = route_body_prefix_hash(b);
    json_decref(b);
    return h;
}

static void test_body_hash(void **state)
{
    (void)state;
    /* every turn of a conversation keeps its first turn's key */
    uint64_t t1 = body_hash("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                            "{\"role\":\"user\",\"content\":\"Why is the sky blue?\"}]}");
    uint64_t t2 = body_hash("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                            "{\"role\":\"user\",\"content\":\"Why is the sky blue?\"},"
                            "{\"role\":\"assistant\",\"content\":\"Rayleigh scattering.\"},"
                            "{\"role\":\"user\",\"content\":\"And sunsets?\"}],\"stream\":false}");
    assert_true(t1 != 0);
    assert_true(t1 == t2);
    assert_true(t1 == route_prefix_hash("system\nBe brief.\nuser\nWhy is the sky blue?\n", 43));
    /* another conversation, or another system prompt: another key */
    assert_true(t1 != body_hash("{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                                "{\"role\":\"user\",\"content\":\"Why is grass green?\"}]}"));
    assert_true(t1 != body_hash("{\"messages\":[{\"role\":\"system\",\"content\":\"Be long.\"},"
                                "{\"role\":\"user\",\"content\":\"Why is the sky blue?\"}]}"));
    /* OpenAI content parts and the responses API give the same key */
    assert_true(t1 == body_hash("{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                                "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                                "\"text\":\"Why is the sky blue?\"}]}]}"));
    assert_true(t1 == body_hash("{\"instructions\":\"Be brief.\",\"input\":\"Why is the sky blue?\"}"));
    assert_true(t1 == body_hash("{\"instructions\":\"Be brief.\",\"input\":[{\"role\":\"user\","
                                "\"content\":\"Why is the sky blue?\"}]}"));
    /* generate: the raw prompt's own hash, after the system prompt when given */
    assert_true(body_hash("{\"prompt\":\"Once upon a time\"}") ==
                route_prefix_hash("Once upon a time", 16));
    assert_true(body_hash("{\"system\":\"S\",\"prompt\":\"P\"}") == route_prefix_hash("system\nS\nP", 10));
    /* generate with context: the first 64 ids */
    char c1[1024], c2[1024];
    size_t n1 = 0, n2 = 0;
    n1 += (size_t)snprintf(c1, sizeof(c1), "{\"prompt\":\"more\",\"context\":[");
    n2 += (size_t)snprintf(c2, sizeof(c2), "{\"prompt\":\"other\",\"context\":[");
    for (int i = 0; i < 80; i++) {
        n1 += (size_t)snprintf(c1 + n1, sizeof(c1) - n1, "%s%d", i ? "," : "", 1000 + i);
        if (i < 70)
            n2 += (size_t)snprintf(c2 + n2, sizeof(c2) - n2, "%s%d", i ? "," : "", 1000 + i);
    }
    snprintf(c1 + n1, sizeof(c1) - n1, "]}");
    snprintf(c2 + n2, sizeof(c2) - n2, "]}");
    assert_true(body_hash(c1) != 0);
    assert_true(body_hash(c1) == body_hash(c2));
    assert_true(body_hash(c1) != body_hash("{\"prompt\":\"more\",\"context\":[1000,1001]}"));
    /* only the first 1024 bytes count */
    char big[4096];
    int nb = snprintf(big, sizeof(big), "{\"messages\":[{\"role\":\"user\",\"content\":\"");
    memset(big + nb, 'x', 2000);
    snprintf(big + nb + 2000, sizeof(big) - (size_t)nb - 2000, "\"}]}");
    uint64_t hb = body_hash(big);
    big[nb + 1500] = 'y';
    assert_true(hb == body_hash(big));
    big[nb + 500] = 'y';
    assert_true(hb != body_hash(big));
    /* nothing to key on, or odd shapes: 0, no crash */
    assert_true(body_hash("{}") == 0);
    assert_true(body_hash("[]") == 0);
    assert_true(body_hash("{\"prompt\":\"\"}") == 0);
    assert_true(body_hash("{\"prompt\":5,\"messages\":7}") == 0);
    assert_true(body_hash("{\"messages\":[1,null,{\"role\":3,\"content\":{}}]}") != 0);
    assert_true(route_body_prefix_hash(NULL) == 0);
}

static void test_ewma(void **state)
{
    (void)state;
    assert_true(route_ewma(-1, 100) == 100);
    double v = route_ewma(100, 200);
    assert_true(fabs(v - (100 + ROUTE_EWMA_ALPHA * 100)) < 1e-9);
    assert_true(route_ewma(100, -5) == 100);
    assert_true(route_ewma(100, NAN) == 100);
    assert_true(route_ewma(-1, INFINITY) == -1);
    for (int i = 0; i < 100; i++)
        v = route_ewma(v, 10);
    assert_true(fabs(v - 10) < 0.01); /* converges */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_least_loaded),
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_affinity_stable),
        cmocka_unit_test(test_affinity_pinned),
        cmocka_unit_test(test_affinity_bounded_load),
        cmocka_unit_test(test_affinity_has_prefix),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_prefix_hash),
        cmocka_unit_test(test_body_hash),
        cmocka_unit_test(test_ewma),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
