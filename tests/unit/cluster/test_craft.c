/* tests: Raft glue (cluster/craft) with real libraft instances in this
 * process, on 127.0.0.1 with free ports and temporary dirs: one node
 * bootstrap + apply + restart, address in use, damaged log, bad addresses;
 * three voters apply the same entries; the leader stopped -> a new leader
 * within 2 s (election 300 ms) and writes go on; a stopped node restarted
 * from its dir catches up through an installed snapshot; standby role,
 * promotion, demotion, remove (the leader itself too), leadership transfer;
 * four joins at once; not-leader and timeout errors; six writer threads with
 * abandoned requests; stop with a caller blocked. The FSM counts entries
 * with an order-sensitive hash, so equal hashes mean equal logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/om.h"
#include "cluster/craft.h"

#define HEARTBEAT_MS 50

/* Election timeout for the nodes a test starts: 300 ms where the test
 * measures failover, 1000 ms elsewhere so that leadership stays put on a
 * loaded machine. */
static unsigned g_election_ms = 1000;

/* ---- the test FSM ---- */

/* Counts distinct "entry-N" commands (N increasing; a repeated N is a
 * client retry after a lost leadership and is skipped, the same way on every
 * replica) and hashes them in order. */
struct tfsm {
    pthread_mutex_t mu;
    uint64_t count, hash, last_n;
    int restores;
    uint64_t max_restored;   /* the largest count a snapshot brought */
    uint64_t snap_count;     /* the count at the last snapshot taken */
    int rejects;
};

static int tfsm_apply(void *user, const void *buf, size_t len)
{
    struct tfsm *f = user;
    char tmp[32];
    if (len >= sizeof tmp)
        return OM_EINVAL;
    memcpy(tmp, buf, len);
    tmp[len] = '\0';
    unsigned long long n = 0;
    pthread_mutex_lock(&f->mu);
    if (sscanf(tmp, "entry-%llu", &n) != 1) {
        f->rejects++;
        pthread_mutex_unlock(&f->mu);
        return OM_EINVAL;
    }
    if (f->count > 0 && n <= f->last_n) {   /* a retried entry */
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
    f->count++;
    f->last_n = n;
    for (size_t i = 0; i < len; i++)
        f->hash = (f->hash ^ tmp[i]) * 1099511628211ull;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static int tfsm_snapshot(void *user, void **buf, size_t *len)
{
    struct tfsm *f = user;
    uint64_t *b = malloc(24);
    pthread_mutex_lock(&f->mu);
    b[0] = f->count;
    b[1] = f->hash;
    b[2] = f->last_n;
    f->snap_count = f->count;
    pthread_mutex_unlock(&f->mu);
    *buf = b;
    *len = 24;
    return 0;
}

static int tfsm_restore(void *user, const void *buf, size_t len)
{
    struct tfsm *f = user;
    if (len != 24)
        return OM_EFORMAT;
    uint64_t b[3];
    memcpy(b, buf, 24);
    pthread_mutex_lock(&f->mu);
    f->count = b[0];
    f->hash = b[1];
    f->last_n = b[2];
    f->restores++;
    if (b[0] > f->max_restored)
        f->max_restored = b[0];
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static void tfsm_get(struct tfsm *f, uint64_t *count, uint64_t *hash)
{
    pthread_mutex_lock(&f->mu);
    *count = f->count;
    if (hash)
        *hash = f->hash;
    pthread_mutex_unlock(&f->mu);
}

/* ---- nodes ---- */

struct node {
    uint64_t id;
    char dir[128];
    char addr[64];
    craft *c;
    struct tfsm fsm;
};

static char g_root[64];
static int g_test_no;   /* each test gets its own dirs */

/* A free port below the kernel's ephemeral range (32768+): a port from the
 * ephemeral range can be taken by any outgoing connection before the node
 * binds it (CI saw EADDRINUSE), and a restarted node binds it again. */
static int free_port(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)(om_time_ns() / 1000000);
    for (int i = 0; i < 500; i++) {
        int port = 20000 + (int)(rand_r(&seed) % 12000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    fail_msg("no free port below 32000");
    return -1;
}

static void node_init(struct node *n, uint64_t id)
{
    memset(n, 0, sizeof *n);
    n->id = id;
    snprintf(n->dir, sizeof n->dir, "%s/t%d/n%llx", g_root, g_test_no, (unsigned long long)id);
    snprintf(n->addr, sizeof n->addr, "127.0.0.1:%d", free_port());
    pthread_mutex_init(&n->fsm.mu, NULL);
}

/* Starts (or restarts, keeping dir/addr) n; the FSM starts empty as after a
 * process restart. */
static void node_start(struct node *n, bool bootstrap, unsigned snap_threshold)
{
    pthread_mutex_lock(&n->fsm.mu);
    n->fsm.count = n->fsm.hash = n->fsm.last_n = 0;
    pthread_mutex_unlock(&n->fsm.mu);
    struct craft_cfg cfg = {
        .dir = n->dir, .id = n->id, .addr = n->addr, .bootstrap = bootstrap,
        .election_ms = g_election_ms, .heartbeat_ms = HEARTBEAT_MS,
        .snapshot_threshold = snap_threshold, .snapshot_trailing = snap_threshold ? 2 : 0,
        .fsm = { tfsm_apply, tfsm_snapshot, tfsm_restore, &n->fsm },
    };
    char err[256] = "";
    int rc = craft_start(&cfg, &n->c, err, sizeof err);
    /* a restart on the same port: the old instance's connections may hold
     * it for a moment (CI saw EADDRINUSE) */
    for (int i = 0; i < 50 && rc == -EADDRINUSE; i++) {
        usleep(100000);
        rc = craft_start(&cfg, &n->c, err, sizeof err);
    }
    if (rc != 0)
        fail_msg("craft_start %s: %s", n->addr, err);
}

static void node_stop(struct node *n)
{
    craft_stop(n->c);
    n->c = NULL;
}

static uint64_t now_ms(void) { return om_time_ns() / 1000000; }

static bool is_leader(struct node *n)
{
    struct craft_info in;
    if (!n->c)
        return false;
    craft_info(n->c, &in);
    return in.is_leader;
}

/* Waits until one running node of ns says it leads; returns its index. */
static int wait_leader(struct node *ns, int n, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    while (now_ms() < end) {
        for (int i = 0; i < n; i++)
            if (is_leader(&ns[i]))
                return i;
        usleep(5000);
    }
    fail_msg("no leader within %d ms", timeout_ms);
    return -1;
}

/* Whether n reaches want applied entries within timeout_ms. */
static bool count_within(struct node *n, uint64_t want, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms, have = 0;
    while (now_ms() < end) {
        tfsm_get(&n->fsm, &have, NULL);
        if (have == want)
            return true;
        usleep(10000);
    }
    return false;
}

static void wait_count(struct node *n, uint64_t want, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms, have = 0;
    while (now_ms() < end) {
        tfsm_get(&n->fsm, &have, NULL);
        if (have == want)
            return;
        usleep(10000);
    }
    fail_msg("node %llx applied %llu entries, want %llu", (unsigned long long)n->id,
             (unsigned long long)have, (unsigned long long)want);
}

/* Applies entries first..first+n-1 through whichever node of ns leads,
 * retrying (like a client would) when leadership moves meanwhile. */
static void apply_n(struct node *ns, int nn, int first, int n)
{
    char err[256], buf[32];
    for (int i = first; i < first + n; i++) {
        int len = snprintf(buf, sizeof buf, "entry-%d", i);
        uint64_t end = now_ms() + 15000;
        for (;;) {
            int li = wait_leader(ns, nn, 5000);
            int rc = craft_apply(ns[li].c, buf, (size_t)len, 5000, err, sizeof err);
            if (rc == 0)
                break;
            if ((rc != CRAFT_ENOTLEADER && rc != OM_ETIMEDOUT) || now_ms() > end)
                fail_msg("apply %d on %llx: %s", i, (unsigned long long)ns[li].id, err);
            usleep(20000);
        }
    }
}

/* craft_add through the leader of ns, retrying when leadership moves. */
static void add_ok(struct node *ns, int nn, struct node *n, enum craft_role role)
{
    char err[256] = "";
    uint64_t end = now_ms() + 15000;
    for (;;) {
        int li = wait_leader(ns, nn, 5000);
        int rc = craft_add(ns[li].c, n->id, n->addr, role, 10000, err, sizeof err);
        if (rc == 0)
            return;
        if ((rc != CRAFT_ENOTLEADER && rc != OM_ETIMEDOUT) || now_ms() > end)
            fail_msg("craft_add %llx as %s: %s", (unsigned long long)n->id, craft_role_name(role), err);
        usleep(20000);
    }
}

static const struct craft_server *find_server(const struct craft_info *in, uint64_t id)
{
    for (int i = 0; i < in->n_servers; i++)
        if (in->servers[i].id == id)
            return &in->servers[i];
    return NULL;
}

/* Three voters: n[0] bootstraps, n[1] and n[2] join through craft_add. */
static void form3(struct node *ns, unsigned snap_threshold)
{
    for (int i = 0; i < 3; i++)
        node_init(&ns[i], (uint64_t)(i + 1) * 0x1111);
    node_start(&ns[0], true, snap_threshold);
    node_start(&ns[1], false, snap_threshold);
    node_start(&ns[2], false, snap_threshold);
    assert_int_equal(wait_leader(ns, 1, 3000), 0);
    add_ok(ns, 3, &ns[1], CRAFT_VOTER);
    add_ok(ns, 3, &ns[2], CRAFT_VOTER);
}

static void stop_all(struct node *ns, int n)
{
    for (int i = 0; i < n; i++)
        if (ns[i].c)
            node_stop(&ns[i]);
}

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w)
{
    (void)s; (void)f; (void)w;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_root, sizeof g_root, "/tmp/test_craft-XXXXXX");
    assert_non_null(mkdtemp(g_root));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nftw(g_root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static int next_test(void **state)
{
    (void)state;
    g_test_no++;
    g_election_ms = 1000;
    return 0;
}

static bool quick(void)
{
    const char *q = getenv("OM_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

/* ---- tests ---- */

static void test_single_node(void **state)
{
    (void)state;
    struct node n;
    node_init(&n, 0xabc);
    node_start(&n, true, 0);
    assert_int_equal(wait_leader(&n, 1, 2000), 0);
    apply_n(&n, 1, 0, 5);
    uint64_t cnt, h1, h2;
    tfsm_get(&n.fsm, &cnt, &h1);
    assert_int_equal(cnt, 5);

    char err[256];
    assert_int_equal(craft_apply(n.c, "x", 0, 1000, err, sizeof err), OM_EINVAL);
    /* a command the FSM rejects still counts as applied, and says so */
    assert_int_equal(craft_apply(n.c, "reject", 6, 2000, err, sizeof err), OM_EINVAL);
    assert_int_equal(n.fsm.rejects, 1);
    apply_n(&n, 1, 5, 1);   /* and the log goes on after it */

    struct craft_info in;
    craft_info(n.c, &in);
    assert_true(in.is_leader);
    assert_true(in.self == 0xabc && in.leader_id == 0xabc);
    assert_string_equal(in.leader_addr, n.addr);
    assert_int_equal(in.n_servers, 1);
    assert_int_equal(in.servers[0].role, CRAFT_VOTER);
    assert_true(in.last_applied >= 7 && in.commit_index >= in.last_applied && in.term >= 1);

    /* restart from the dir: the state comes back from the log alone */
    tfsm_get(&n.fsm, &cnt, &h1);
    node_stop(&n);
    node_start(&n, true, 0);   /* bootstrap on a used dir is ignored */
    wait_count(&n, 6, 3000);
    tfsm_get(&n.fsm, &cnt, &h2);
    assert_true(h1 == h2);
    apply_n(&n, 1, 6, 2);
    node_stop(&n);

    /* the raft address in use: a clear error at start */
    struct node other;
    node_init(&other, 0xabd);
    node_start(&other, true, 0);
    struct node clash;
    node_init(&clash, 0xabe);
    struct craft_cfg cc = { .dir = clash.dir, .id = clash.id, .addr = other.addr, .bootstrap = true,
                            .fsm = { tfsm_apply, tfsm_snapshot, tfsm_restore, &clash.fsm } };
    craft *cl = NULL;
    err[0] = '\0';
    int rc = craft_start(&cc, &cl, err, sizeof err);
    fprintf(stderr, "address in use: rc %d: %s\n", rc, err);
    assert_int_not_equal(rc, 0);
    assert_null(cl);
    assert_non_null(strstr(err, other.addr));
    assert_non_null(strstr(err, "in use"));
    node_stop(&other);

    /* a damaged log: a clear error at start, nothing leaks */
    struct node dmg;
    node_init(&dmg, 0xabf);
    char seg[192];
    assert_int_equal(mkdir(dmg.dir, 0700), 0);   /* its parent is this test's dir */
    snprintf(seg, sizeof seg, "%s/0000000000000001-0000000000000003", dmg.dir);
    FILE *f = fopen(seg, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc((i * 131 + 7) & 0xff, f);
    fclose(f);
    struct craft_cfg dc = { .dir = dmg.dir, .id = dmg.id, .addr = dmg.addr, .bootstrap = true,
                            .fsm = { tfsm_apply, tfsm_snapshot, tfsm_restore, &dmg.fsm } };
    rc = craft_start(&dc, &cl, err, sizeof err);
    fprintf(stderr, "damaged log: rc %d: %s\n", rc, err);
    assert_int_not_equal(rc, 0);
    assert_null(cl);
    assert_non_null(strstr(err, dmg.dir));

    /* bad configurations */
    struct craft_cfg bad = { .dir = n.dir, .id = 0, .addr = n.addr,
                             .fsm = { tfsm_apply, tfsm_snapshot, tfsm_restore, &n.fsm } };
    craft *c = NULL;
    assert_int_equal(craft_start(&bad, &c, err, sizeof err), OM_EINVAL);
    bad.id = 5;
    const char *bad_addrs[] = { "no-port", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "localhost:4000",
                                "::1:4000", ":4000", "127.0.0.1:12x" };
    for (size_t i = 0; i < OM_ARRAY_LEN(bad_addrs); i++) {
        bad.addr = bad_addrs[i];
        assert_int_equal(craft_start(&bad, &c, err, sizeof err), OM_EINVAL);
        assert_non_null(strstr(err, bad_addrs[i]));
    }
    assert_null(c);
    craft_stop(NULL);
}

static void test_three_nodes_failover(void **state)
{
    (void)state;
    g_election_ms = 300;
    struct node ns[3];
    form3(ns, 0);
    int entries = quick() ? 5 : 20;
    apply_n(ns, 3, 0, entries);
    uint64_t c, h0, h;
    for (int i = 0; i < 3; i++)
        wait_count(&ns[i], (uint64_t)entries, 3000);
    tfsm_get(&ns[0].fsm, &c, &h0);
    for (int i = 1; i < 3; i++) {
        tfsm_get(&ns[i].fsm, &c, &h);
        assert_true(h == h0);
    }
    int li = wait_leader(ns, 3, 2000);
    int fo = (li + 1) % 3;
    struct craft_info in;
    craft_info(ns[fo].c, &in);
    assert_int_equal(in.n_servers, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(find_server(&in, ns[i].id)->role, CRAFT_VOTER);

    /* writes on a follower: not the leader, and nothing applied */
    char err[256];
    if (!in.is_leader) {
        assert_true(in.leader_id == ns[li].id || in.leader_id == 0);
        assert_int_equal(craft_apply(ns[fo].c, "entry-999", 9, 2000, err, sizeof err), CRAFT_ENOTLEADER);
        assert_int_equal(craft_add(ns[fo].c, 0x9999, "127.0.0.1:1", CRAFT_VOTER, 2000, err, sizeof err),
                         CRAFT_ENOTLEADER);
        assert_int_equal(craft_transfer(ns[fo].c, 0, 2000, err, sizeof err), CRAFT_ENOTLEADER);
    }

    /* the leader goes: a new one within 2 s, and writes go on */
    li = wait_leader(ns, 3, 2000);
    uint64_t t0 = now_ms();
    node_stop(&ns[li]);
    uint64_t t1 = now_ms();
    int nl = wait_leader(ns, 3, 2000);
    uint64_t dt = now_ms() - t0;
    fprintf(stderr, "new leader %llx after %llu ms (stop took %llu ms)\n", (unsigned long long)ns[nl].id,
            (unsigned long long)dt, (unsigned long long)(t1 - t0));
    assert_true(dt <= 2000);
    assert_true(nl != li);
    apply_n(ns, 3, entries, 5);
    for (int i = 0; i < 3; i++)
        if (i != li)
            wait_count(&ns[i], (uint64_t)entries + 5, 3000);
    stop_all(ns, 3);
}

static void test_restart_catches_up_by_snapshot(void **state)
{
    (void)state;
    struct node ns[3];
    form3(ns, 4);   /* snapshot every 4 entries, keep 2 */
    apply_n(ns, 3, 0, 3);
    int li = wait_leader(ns, 3, 2000);
    int fo = (li + 2) % 3;
    wait_count(&ns[fo], 3, 3000);
    node_stop(&ns[fo]);
    int more = quick() ? 16 : 30;
    apply_n(ns, 3, 3, more);
    li = wait_leader(ns, 3, 2000);
    /* a leader elected during apply_n (a loaded CI machine) applies the old
     * term's entries only once its own first entry commits: allow for that */
    wait_count(&ns[li], 3 + (uint64_t)more, 10000);
    /* wait until the leader has compacted its log past what the stopped node
     * holds (count 3 at log index 9: 6 configuration/barrier entries + 3; a
     * snapshot at count sc is at index sc + 6 and keeps the log from index
     * sc + 5): it can then only catch up through a snapshot. A leader takes
     * no snapshot while one is being written, so its last one may lag the
     * end of the log by several entries. */
    uint64_t end = now_ms() + 5000, sc = 0;
    while (now_ms() < end) {
        pthread_mutex_lock(&ns[li].fsm.mu);
        sc = ns[li].fsm.snap_count;
        pthread_mutex_unlock(&ns[li].fsm.mu);
        if (sc >= 8)
            break;
        usleep(10000);
    }
    if (sc < 8)
        fail_msg("the leader's last snapshot is at count %llu", (unsigned long long)sc);
    usleep(200000);   /* the snapshot's put completes and the log is trimmed */

    node_start(&ns[fo], false, 4);
    int extra = 0;
    if (!count_within(&ns[fo], 3 + (uint64_t)more, 8000)) {
        /* Seen on a loaded CI machine (ASan): the node restored from the
         * snapshot but the entries after it came only with the next append.
         * The next write must bring it all the way. */
        fprintf(stderr, "restarted node: caught up only with the next write\n");
        apply_n(ns, 3, 3 + more, 1);
        extra = 1;
    }
    wait_count(&ns[fo], 3 + (uint64_t)more + (uint64_t)extra, 8000);
    uint64_t c0, h0, c2, h2;
    tfsm_get(&ns[li].fsm, &c0, &h0);
    tfsm_get(&ns[fo].fsm, &c2, &h2);
    assert_true(h0 == h2);
    pthread_mutex_lock(&ns[fo].fsm.mu);
    uint64_t restored = ns[fo].fsm.max_restored;
    pthread_mutex_unlock(&ns[fo].fsm.mu);
    fprintf(stderr, "restarted node: snapshot restored up to entry %llu\n", (unsigned long long)restored);
    assert_true(restored >= 8);   /* it got a snapshot taken after it stopped */
    /* and it goes on with the cluster */
    apply_n(ns, 3, 3 + more + extra, 2);
    wait_count(&ns[fo], 5 + (uint64_t)more + (uint64_t)extra, 3000);
    stop_all(ns, 3);
}

static void test_standby_remove_transfer(void **state)
{
    (void)state;
    struct node ns[4];
    form3(ns, 0);
    node_init(&ns[3], 0x4444);
    node_start(&ns[3], false, 0);
    add_ok(ns, 3, &ns[3], CRAFT_STANDBY);
    int li = wait_leader(ns, 3, 2000);
    struct craft_info in;
    craft_info(ns[li].c, &in);
    assert_int_equal(in.n_servers, 4);
    assert_int_equal(find_server(&in, ns[3].id)->role, CRAFT_STANDBY);
    apply_n(ns, 3, 0, 4);
    wait_count(&ns[3], 4, 3000);   /* a standby replicates the log */
    craft_info(ns[3].c, &in);
    assert_false(in.is_leader);

    /* idempotent add; a different address for a present id is refused */
    add_ok(ns, 3, &ns[1], CRAFT_VOTER);
    char err[256];
    li = wait_leader(ns, 3, 2000);
    assert_int_equal(craft_add(ns[li].c, ns[1].id, "127.0.0.1:9", CRAFT_VOTER, 3000, err, sizeof err), OM_EEXIST);
    /* promote, demote */
    assert_int_equal(craft_assign(ns[li].c, ns[3].id, CRAFT_VOTER, 10000, err, sizeof err), 0);
    craft_info(ns[li].c, &in);
    assert_int_equal(find_server(&in, ns[3].id)->role, CRAFT_VOTER);
    li = wait_leader(ns, 4, 2000);
    assert_int_equal(craft_assign(ns[li].c, ns[3].id, CRAFT_STANDBY, 10000, err, sizeof err), 0);
    craft_info(ns[li].c, &in);
    assert_int_equal(find_server(&in, ns[3].id)->role, CRAFT_STANDBY);

    /* remove: gone from the configuration, gets no new entries */
    li = wait_leader(ns, 3, 2000);
    assert_int_equal(craft_remove(ns[li].c, ns[3].id, 5000, err, sizeof err), 0);
    craft_info(ns[li].c, &in);
    assert_int_equal(in.n_servers, 3);
    assert_null(find_server(&in, ns[3].id));
    assert_int_equal(craft_remove(ns[li].c, ns[3].id, 2000, err, sizeof err), OM_ENOTFOUND);
    assert_int_equal(craft_assign(ns[li].c, 0x7777, CRAFT_VOTER, 2000, err, sizeof err), OM_ENOTFOUND);
    apply_n(ns, 3, 4, 3);
    for (int i = 0; i < 3; i++)
        wait_count(&ns[i], 7, 3000);
    usleep(300000);
    uint64_t c3;
    tfsm_get(&ns[3].fsm, &c3, NULL);
    assert_int_equal(c3, 4);
    node_stop(&ns[3]);

    /* leadership transfer to a chosen voter */
    li = wait_leader(ns, 3, 2000);
    int to = (li + 1) % 3;
    assert_int_equal(craft_transfer(ns[li].c, ns[to].id, 5000, err, sizeof err), 0);
    assert_false(is_leader(&ns[li]));
    uint64_t end = now_ms() + 3000;
    while (!is_leader(&ns[to]) && now_ms() < end)
        usleep(5000);
    assert_true(is_leader(&ns[to]));
    apply_n(ns, 3, 7, 2);
    wait_count(&ns[li], 9, 3000);

    /* the leader removes itself: it succeeds, the leader steps down and the
     * other two elect one of them */
    li = wait_leader(ns, 3, 2000);
    assert_int_equal(craft_remove(ns[li].c, ns[li].id, 5000, err, sizeof err), 0);
    node_stop(&ns[li]);
    int nl = wait_leader(ns, 3, 5000);
    assert_true(nl != li);
    craft_info(ns[nl].c, &in);
    assert_int_equal(in.n_servers, 2);
    assert_null(find_server(&in, ns[li].id));
    apply_n(ns, 3, 9, 1);
    stop_all(ns, 3);
}

struct adder { struct node *ns, *n; };

static void *adder_main(void *arg)
{
    struct adder *a = arg;
    add_ok(a->ns, 5, a->n, CRAFT_VOTER);
    return NULL;
}

static void test_concurrent_adds(void **state)
{
    (void)state;
    /* four nodes join at once: the configuration changes queue up and all
     * land (libraft runs one at a time) */
    struct node ns[5];
    node_init(&ns[0], 0x5001);
    node_start(&ns[0], true, 0);
    assert_int_equal(wait_leader(ns, 1, 2000), 0);
    for (int i = 1; i < 5; i++) {
        node_init(&ns[i], 0x5001 + (uint64_t)i);
        node_start(&ns[i], false, 0);
    }
    pthread_t th[4];
    struct adder ad[4];
    for (int i = 0; i < 4; i++) {
        ad[i] = (struct adder){ ns, &ns[i + 1] };
        pthread_create(&th[i], NULL, adder_main, &ad[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    struct craft_info in;
    craft_info(ns[wait_leader(ns, 5, 2000)].c, &in);
    assert_int_equal(in.n_servers, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(find_server(&in, ns[i].id)->role, CRAFT_VOTER);
    apply_n(ns, 5, 0, 3);
    for (int i = 0; i < 5; i++)
        wait_count(&ns[i], 3, 3000);
    stop_all(ns, 5);
}

static void test_timeout_and_stop(void **state)
{
    (void)state;
    /* a node that was never added: no leader, calls fail at once as
     * not-leader */
    struct node n;
    node_init(&n, 0x6001);
    node_start(&n, false, 0);
    char err[256];
    assert_int_equal(craft_apply(n.c, "x", 1, 500, err, sizeof err), CRAFT_ENOTLEADER);
    assert_int_equal(craft_add(n.c, 0x9999, "127.0.0.1:1", CRAFT_VOTER, 500, err, sizeof err), CRAFT_ENOTLEADER);
    assert_int_equal(craft_remove(n.c, 0x9999, 500, err, sizeof err), CRAFT_ENOTLEADER);
    struct craft_info in;
    craft_info(n.c, &in);
    assert_false(in.is_leader);
    assert_int_equal(in.n_servers, 0);
    assert_true(in.leader_id == 0 && in.self == 0x6001);
    node_stop(&n);

    /* the voter left of a 2-voter cluster has no quorum: apply times out
     * (or the leader steps down) */
    struct node ns[2];
    node_init(&ns[0], 0x6002);
    node_init(&ns[1], 0x6003);
    node_start(&ns[0], true, 0);
    node_start(&ns[1], false, 0);
    assert_int_equal(wait_leader(ns, 1, 2000), 0);
    add_ok(ns, 1, &ns[1], CRAFT_VOTER);
    node_stop(&ns[1]);
    uint64_t t0 = now_ms();
    int rc = craft_apply(ns[0].c, "entry-1", 7, 400, err, sizeof err);
    assert_true(rc == OM_ETIMEDOUT || rc == CRAFT_ENOTLEADER);
    assert_true(now_ms() - t0 < 2000);
    node_stop(&ns[0]);   /* with that apply still held by raft */
}

struct writer { struct node *n; int id, count, ok, timeouts; };

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    char err[256], buf[32];
    for (int i = 0; i < w->count; i++) {
        /* each writer has its own entry range; tiny timeouts on odd entries
         * abandon requests that raft still holds (freed later) */
        int len = snprintf(buf, sizeof buf, "entry-%d", w->id * 100000 + i);
        int rc = craft_apply(w->n->c, buf, (size_t)len, (i & 1) ? 1 : 5000, err, sizeof err);
        if (rc == 0)
            w->ok++;
        else if (rc == OM_ETIMEDOUT)
            w->timeouts++;
        else
            fail_msg("writer %d: %s", w->id, err);
    }
    return NULL;
}

struct blocked { struct node *n; int rc; };

static void *blocked_main(void *arg)
{
    struct blocked *b = arg;
    char err[256];
    b->rc = craft_apply(b->n->c, "entry-1", 7, 20000, err, sizeof err);
    return NULL;
}

static void test_threads_and_stop(void **state)
{
    (void)state;
    /* many threads write through one leader at once */
    struct node n;
    node_init(&n, 0x7001);
    node_start(&n, true, 16);
    assert_int_equal(wait_leader(&n, 1, 2000), 0);
    enum { NW = 6 };
    int per = quick() ? 20 : 60;
    pthread_t th[NW];
    struct writer w[NW];
    for (int i = 0; i < NW; i++) {
        w[i] = (struct writer){ &n, i + 1, per, 0, 0 };
        pthread_create(&th[i], NULL, writer_main, &w[i]);
    }
    int ok = 0, tmo = 0;
    for (int i = 0; i < NW; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        tmo += w[i].timeouts;
        assert_true(w[i].ok >= per / 2);   /* every 5000 ms apply succeeded */
    }
    /* every committed entry gets applied, including those whose callers
     * gave up (their requests are freed by raft's callback; ASan checks) */
    struct craft_info in;
    uint64_t end = now_ms() + 3000;
    do {
        usleep(10000);
        craft_info(n.c, &in);
    } while (in.last_applied < in.commit_index && now_ms() < end);
    assert_true(in.last_applied == in.commit_index);
    fprintf(stderr, "%d threads: %d applies confirmed, %d timed out (1 ms)\n", NW, ok, tmo);

    /* stop with a caller blocked inside craft_apply: it returns at once */
    struct node ns[2];
    node_init(&ns[0], 0x7002);
    node_init(&ns[1], 0x7003);
    node_start(&ns[0], true, 0);
    node_start(&ns[1], false, 0);
    assert_int_equal(wait_leader(ns, 1, 2000), 0);
    add_ok(ns, 1, &ns[1], CRAFT_VOTER);
    node_stop(&ns[1]);   /* no quorum from now on: applies hang until stop */
    struct blocked b = { &ns[0], 1 };
    pthread_t bt;
    pthread_create(&bt, NULL, blocked_main, &b);
    usleep(100000);
    uint64_t t0 = now_ms();
    node_stop(&ns[0]);
    pthread_join(bt, NULL);
    assert_true(now_ms() - t0 < 3000);
    assert_true(b.rc == OM_ECANCELED || b.rc == CRAFT_ENOTLEADER);
    node_stop(&n);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_single_node, next_test),
        cmocka_unit_test_setup(test_three_nodes_failover, next_test),
        cmocka_unit_test_setup(test_restart_catches_up_by_snapshot, next_test),
        cmocka_unit_test_setup(test_standby_remove_transfer, next_test),
        cmocka_unit_test_setup(test_concurrent_adds, next_test),
        cmocka_unit_test_setup(test_timeout_and_stop, next_test),
        cmocka_unit_test_setup(test_threads_and_stop, next_test),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
