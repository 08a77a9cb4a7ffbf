/* tests/cluster: peer-to-peer blob transfer — cxfer_fetch (cluster/cxfer.h)
 * against in-process HTTP servers that serve their own temp stores through
 * api_peer_blob (api/api_peer.h): one and several peers, resume after a
 * cancel, a corrupted copy (410), a peer dying mid-transfer, missing blobs,
 * compression, range errors and hostile peers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http_test_util.h"

#include "api/api_peer.h"
#include "cluster/cxfer.h"
#include "store/models.h"

#define TOKEN "omx-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

enum { MODE_NORMAL, MODE_SLOW, MODE_OVERLONG, MODE_BADRANGE, MODE_FLIP, MODE_HANG, MODE_BADZSTD };

struct peer {
    http_server *http;
    struct store_root *store;
    char dir[128];
    struct api_peer_stats stats;
    int mode;
    struct cxfer_peer addr;
    _Atomic int hits;
};

/* Log lines (warnings and errors) of the library, kept for assertions. */
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_log[65536];

static void log_sink(enum om_log_level lvl, const char *module, const char *msg, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&g_log_mu);
    size_t n = strlen(g_log);
    if (getenv("CXFER_TEST_LOG"))
        fprintf(stderr, "[%d %s] %s\n", (int)lvl, module, msg);
    if (n + strlen(msg) + 2 >= sizeof g_log)
        n = g_log[0] = 0; /* full: start over (assertions look at recent lines) */
    if (n + strlen(msg) + 2 < sizeof g_log)
        snprintf(g_log + n, sizeof g_log - n, "%s\n", msg);
    pthread_mutex_unlock(&g_log_mu);
}

/* Whether one log line holds both a and b. */
static bool log_has(const char *a, const char *b)
{
    pthread_mutex_lock(&g_log_mu);
    bool found = false;
    for (const char *p = g_log; *p && !found;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)OM_MIN(n, sizeof line - 1), p);
        found = strstr(line, a) && strstr(line, b);
        p += n + (nl ? 1 : 0);
    }
    pthread_mutex_unlock(&g_log_mu);
    return found;
}

static void h_blob(http_req *req, void *ctx)
{
    struct peer *p = ctx;
    const char *auth = http_req_header(req, "Authorization");
    if (!auth || strcmp(auth, "Bearer " TOKEN) != 0) {
        http_respond_error(req, 403, "cluster token rejected");
        return;
    }
    atomic_fetch_add(&p->hits, 1);
    if (p->mode == MODE_SLOW)
        sleep_ms(15);
    if (p->mode == MODE_HANG) { /* a peer that accepts and then says nothing */
        for (int i = 0; i < 500 && !http_req_gone(req); i++)
            sleep_ms(10);
        http_respond_error(req, 500, "too late");
        return;
    }
    if (p->mode == MODE_NORMAL || p->mode == MODE_SLOW) {
        api_peer_blob_ex(req, p->store, http_req_param(req, "digest"), &p->stats);
        return;
    }
    /* hostile peers: read the asked range themselves and lie about it */
    char *data = NULL;
    size_t len = 0;
    if (store_blob_read(p->store, http_req_param(req, "digest"), (size_t)64 << 20, &data, &len)) {
        http_respond_error(req, 404, "blob not found");
        return;
    }
    long long a = 0, b = (long long)len - 1;
    const char *r = http_req_header(req, "Range");
    if (r)
        sscanf(r, "bytes=%lld-%lld", &a, &b);
    char cr[128];
    snprintf(cr, sizeof cr, "bytes %lld-%lld/%zu", a, b, len);
    size_t n = (size_t)(b - a + 1);
    if (p->mode == MODE_OVERLONG)
        n += 100; /* more than asked, still within the blob */
    if (p->mode == MODE_BADRANGE)
        snprintf(cr, sizeof cr, "bytes %lld-%lld/%zu", a, b, len + 1);
    if (p->mode == MODE_FLIP)
        data[a] ^= 0x5a; /* right length, wrong bytes */
    if ((size_t)a + n > len)
        n = len - (size_t)a;
    if (p->mode == MODE_BADZSTD)
        http_add_header(req, "Content-Encoding", "zstd"); /* raw bytes are no zstd frame */
    http_add_header(req, "Content-Range", cr);
    http_respond(req, 206, "application/octet-stream", data + a, n);
    free(data);
}

static void peer_start(struct peer *p, int mode)
{
    memset(p, 0, sizeof *p);
    p->mode = mode;
    snprintf(p->dir, sizeof p->dir, "/tmp/om_test_cxfer_XXXXXX");
    assert_non_null(mkdtemp(p->dir));
    char err[256];
    assert_int_equal(store_open(p->dir, &p->store, err, sizeof err), 0);
    struct http_route routes[] = {{"GET", "/api/cluster/blob/:digest", h_blob, p, 0, NULL}};
    p->http = http_test_start(NULL, NULL, routes, 1);
    snprintf(p->addr.api_addr, sizeof p->addr.api_addr, "127.0.0.1:%d",
             http_server_port(p->http));
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void peer_stop_http(struct peer *p)
{
    if (p->http) {
        http_server_stop(p->http);
        p->http = NULL;
    }
}

static void peer_free(struct peer *p)
{
    peer_stop_http(p);
    assert_int_equal(api_peer_drain(5000), 0);
    store_close(p->store);
    nftw(p->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Deterministic random bytes. */
static char *rand_blob(size_t n, uint64_t seed)
{
    char *b = om_xmalloc(n);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        b[i] = (char)(s >> 24);
    }
    return b;
}

static char *text_blob(size_t n)
{
    char *b = om_xmalloc(n);
    static const char w[] = "the quick brown fox jumps over the lazy dog; tokenizer.ggml.tokens ";
    for (size_t i = 0; i < n; i++)
        b[i] = w[(i * 7 + i / 97) % (sizeof w - 1)];
    return b;
}

static void put(struct peer *p, const char *data, size_t n, char digest[72])
{
    assert_int_equal(store_blob_put_bytes(p->store, data, n, digest), 0);
}

/* The fetched blob equals data, and no partial or state file is left. */
static void check_blob(struct peer *dst, const char *digest, const char *data, size_t n)
{
    char *got = NULL;
    size_t len = 0;
    assert_int_equal(store_blob_read(dst->store, digest, n + 1, &got, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(got, data, n);
    free(got);
    char path[4200], aux[4300];
    assert_int_equal(store_blob_path(dst->store, digest, path, sizeof path), 0);
    const char *sfx[] = {"-xfer", "-xfer.state", "-xfer.prev"};
    for (int i = 0; i < 3; i++) {
        snprintf(aux, sizeof aux, "%s%s", path, sfx[i]);
        assert_int_not_equal(access(aux, F_OK), 0);
    }
}

static bool file_exists_suffix(struct peer *p, const char *digest, const char *sfx)
{
    char path[4200], aux[4300];
    assert_int_equal(store_blob_path(p->store, digest, path, sizeof path), 0);
    snprintf(aux, sizeof aux, "%s%s", path, sfx);
    return access(aux, F_OK) == 0;
}

struct prog {
    struct cxfer_progress last;
    int calls;
    volatile int *cancel;
    int64_t cancel_at;
};

static void on_prog(void *user, const struct cxfer_progress *p)
{
    struct prog *g = user;
    g->last = *p;
    g->calls++;
    assert_true(p->done >= 0 && p->done <= p->total);
    if (g->cancel && p->done >= g->cancel_at)
        *g->cancel = 1;
}

static size_t blob_size(void)
{
    return quick_mode() ? ((size_t)1 << 20) + 12345 : ((size_t)4 << 20) + 12345;
}

/* ---- tests ---- */

static void test_one_peer(void **state)
{
    (void)state;
    struct peer a, dst;
    peer_start(&a, MODE_NORMAL);
    peer_start(&dst, MODE_NORMAL);
    size_t n = blob_size();
    char *data = rand_blob(n, 1), digest[72], err[512] = "";
    put(&a, data, n, digest);
    struct prog g = {0};
    struct cxfer_opts o = {.token = TOKEN, .chunk = 256 << 10, .progress = on_prog, .user = &g};
    int rc = cxfer_fetch(dst.store, digest, (int64_t)n, &a.addr, 1, &o, err, sizeof err);
    assert_int_equal(rc, 0);
    check_blob(&dst, digest, data, n);
    assert_true(g.calls >= 1);
    assert_int_equal(g.last.done, (int64_t)n);
    assert_int_equal(g.last.total, (int64_t)n);
    assert_int_equal(g.last.bytes_from_peer[0], (int64_t)n);
    assert_int_equal(g.last.peers_used, 1);
    /* a second call finds it there and fetches nothing */
    int hits = atomic_load(&a.hits);
    assert_int_equal(cxfer_fetch(dst.store, digest, (int64_t)n, &a.addr, 1, &o, err, sizeof err), 0);
    assert_int_equal(atomic_load(&a.hits), hits);
    /* a wrong token is refused by the peer: nothing fetched */
    struct cxfer_opts bad = o;
    bad.token = "omx-wrong";
    char d2[72];
    char *small = rand_blob(1000, 2);
    put(&a, small, 1000, d2);
    rc = cxfer_fetch(dst.store, d2, 1000, &a.addr, 1, &bad, err, sizeof err);
    assert_int_equal(rc, OM_EIO);
    assert_non_null(strstr(err, "403"));
    assert_false(store_blob_exists(dst.store, d2));
    assert_false(file_exists_suffix(&dst, d2, "-xfer"));
    free(small);
    /* the empty blob */
    char d0[72];
    put(&a, "", 0, d0);
    assert_int_equal(cxfer_fetch(dst.store, d0, 0, &a.addr, 1, &o, err, sizeof err), 0);
    check_blob(&dst, d0, "", 0);
    free(data);
    peer_free(&a);
    peer_free(&dst);
}

static void test_three_peers(void **state)
{
    (void)state;
    struct peer p[3], dst;
    size_t n = blob_size();
    char *data = rand_blob(n, 3), digest[72], err[512] = "";
    struct cxfer_peer addrs[3];
    for (int i = 0; i < 3; i++) {
        peer_start(&p[i], MODE_SLOW); /* each answer takes a moment: all peers get work */
        put(&p[i], data, n, digest);
        addrs[i] = p[i].addr;
    }
    peer_start(&dst, MODE_NORMAL);
    struct prog g = {0};
    struct cxfer_opts o = {.token = TOKEN, .chunk = 64 << 10, .max_parallel = 6,
                           .progress = on_prog, .user = &g};
    assert_int_equal(cxfer_fetch(dst.store, digest, (int64_t)n, addrs, 3, &o, err, sizeof err), 0);
    check_blob(&dst, digest, data, n);
    int64_t sum = 0;
    for (int i = 0; i < 3; i++) {
        assert_true(g.last.bytes_from_peer[i] > 0);
        sum += g.last.bytes_from_peer[i];
    }
    assert_int_equal(sum, (int64_t)n);
    assert_int_equal(g.last.peers_used, 3);
    assert_int_equal(g.last.wire_bytes, (int64_t)n);
    free(data);
    for (int i = 0; i < 3; i++)
        peer_free(&p[i]);
    peer_free(&dst);
}

static void test_resume_after_cancel(void **state)
{
    (void)state;
    struct peer a, dst;
    peer_start(&a, MODE_SLOW);
    peer_start(&dst, MODE_NORMAL);
    size_t n = blob_size();
    char *data = rand_blob(n, 4), digest[72], err[512] = "";
    put(&a, data, n, digest);
    volatile int cancel = 0;
    struct prog g = {.cancel = &cancel, .cancel_at = (int64_t)n / 2};
    struct cxfer_opts o = {.token = TOKEN, .chunk = 32 << 10, .max_parallel = 2,
                           .cancel = &cancel, .progress = on_prog, .user = &g};
    int rc = cxfer_fetch(dst.store, digest, (int64_t)n, &a.addr, 1, &o, err, sizeof err);
    assert_int_equal(rc, OM_ECANCELED);
    assert_false(store_blob_exists(dst.store, digest));
    assert_true(file_exists_suffix(&dst, digest, "-xfer"));
    assert_true(file_exists_suffix(&dst, digest, "-xfer.state"));
    /* requests sent before the cancel may still reach the server's handler:
     * wait until it has been quiet for a while */
    for (int hits = -1, i = 0; i < 50 && hits != atomic_load(&a.hits); i++) {
        hits = atomic_load(&a.hits);
        sleep_ms(150);
        assert_int_equal(api_peer_drain(5000), 0);
    }
    int64_t served1 = atomic_load(&a.stats.blob_bytes);
    assert_true(served1 >= (int64_t)n / 2 && served1 < (int64_t)n);

    cancel = 0;
    struct prog g2 = {0};
    o.cancel = NULL;
    o.user = &g2;
    o.chunk = 1 << 20; /* ignored: the state file keeps its chunk size */
    rc = cxfer_fetch(dst.store, digest, (int64_t)n, &a.addr, 1, &o, err, sizeof err);
    assert_int_equal(rc, 0);
    check_blob(&dst, digest, data, n);
    assert_int_equal(api_peer_drain(5000), 0);
    int64_t served2 = atomic_load(&a.stats.blob_bytes) - served1;
    assert_true(g2.last.resumed >= (int64_t)n / 2);
    /* the second call fetched exactly the chunks that were not recorded */
    assert_int_equal(served2, (int64_t)n - g2.last.resumed);
    assert_int_equal(g2.last.bytes_from_peer[0], (int64_t)n - g2.last.resumed);
    free(data);
    peer_free(&a);
    peer_free(&dst);
}

static int count_corrupt(struct peer *p)
{
    char d[300];
    snprintf(d, sizeof d, "%s/blobs", p->dir);
    DIR *dir = opendir(d);
    int k = 0;
    struct dirent *e;
    while (dir && (e = readdir(dir)))
        k += strstr(e->d_name, "-corrupt-") != NULL;
    if (dir)
        closedir(dir);
    return k;
}

static void test_corrupted_peer(void **state)
{
    (void)state;
    struct peer a, b, dst;
    peer_start(&a, MODE_NORMAL);
    peer_start(&b, MODE_NORMAL);
    peer_start(&dst, MODE_NORMAL);
    size_t n = blob_size();
    char *data = rand_blob(n, 5), digest[72], err[512] = "";
    put(&a, data, n, digest);
    put(&b, data, n, digest);
    /* flip a byte of a's copy behind the store's back */
    char path[4200];
    assert_int_equal(store_blob_path(a.store, digest, path, sizeof path), 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, (off_t)n / 3), 1);
    close(fd);
    /* a direct request sees 410 and the copy is moved away */
    char u[600];
    snprintf(u, sizeof u, "http://%s/api/cluster/blob/%s", a.addr.api_addr, digest);
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " TOKEN);
    struct cresp r = http_do("GET", u, NULL, h);
    assert_int_equal(r.status, 410);
    assert_non_null(strstr(r.body, "blob failed verification"));
    cresp_free(&r);
    assert_int_equal(api_peer_drain(5000), 0);
    assert_false(store_blob_exists(a.store, digest));
    assert_int_equal(count_corrupt(&a), 1);
    assert_int_equal(atomic_load(&a.stats.verify_fail), 1);
    assert_true(log_has(digest, "failed verification"));
    /* put the bad copy back: now the fetch meets it */
    int fd2 = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd2 >= 0);
    assert_int_equal(pwrite(fd2, data, n, 0), (ssize_t)n);
    assert_int_equal(pwrite(fd2, "Y", 1, 7), 1);
    close(fd2);
    struct prog g = {0};
    struct cxfer_peer addrs[2] = {a.addr, b.addr};
    struct cxfer_opts o = {.token = TOKEN, .chunk = 128 << 10, .progress = on_prog, .user = &g};
    assert_int_equal(cxfer_fetch(dst.store, digest, (int64_t)n, addrs, 2, &o, err, sizeof err), 0);
    check_blob(&dst, digest, data, n);
    assert_int_equal(g.last.bytes_from_peer[0], 0);
    assert_int_equal(g.last.bytes_from_peer[1], (int64_t)n);
    assert_int_equal(api_peer_drain(5000), 0);
    assert_false(store_blob_exists(a.store, digest));
    assert_int_equal(count_corrupt(&a), 2);
    assert_int_equal(atomic_load(&a.stats.verify_fail), 2);
    /* b's good copy was checked once, then served from the cache */
    assert_int_equal(atomic_load(&b.stats.verify_fail), 0);
    curl_slist_free_all(h);
    free(data);
    peer_free(&a);
    peer_free(&b);
    peer_free(&dst);
}

struct killer {
    struct peer *victim;
    int64_t after;
    _Atomic int killed;
    uint64_t killed_ns;
};

static void *killer_main(void *arg)
{
    struct killer *k = arg;
    for (int i = 0; i < 2000 && atomic_load(&k->victim->stats.blob_bytes) < k->after; i++)
        sleep_ms(2);
    peer_stop_http(k->victim);
    k->killed_ns = om_time_ns();
    atomic_store(&k->killed, 1);
    return NULL;
}

static void test_peer_dies(void **state)
{
    (void)state;
    struct peer a, b, dst;
    peer_start(&a, MODE_SLOW);
    peer_start(&b, MODE_SLOW);
    peer_start(&dst, MODE_NORMAL);
    size_t n = blob_size();
    char *data = rand_blob(n, 6), digest[72], err[512] = "";
    put(&a, data, n, digest);
    put(&b, data, n, digest);
    struct killer k = {.victim = &b, .after = 64 << 10};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, killer_main, &k), 0);
    struct prog g = {0};
    struct cxfer_peer addrs[2] = {a.addr, b.addr};
    struct cxfer_opts o = {.token = TOKEN, .chunk = 32 << 10, .max_parallel = 4,
                           .progress = on_prog, .user = &g};
    int rc = cxfer_fetch(dst.store, digest, (int64_t)n, addrs, 2, &o, err, sizeof err);
    uint64_t t_end = om_time_ns();
    pthread_join(th, NULL);
    assert_int_equal(rc, 0);
    check_blob(&dst, digest, data, n);
    assert_int_equal(atomic_load(&k.killed), 1);
    /* b served some bytes (its own count: what the fetcher finished from it before the
     * kill depends on timing), then died while the fetch went on without it */
    assert_true(atomic_load(&b.stats.blob_bytes) > 0);
    assert_true(g.last.bytes_from_peer[0] > 0);
    assert_true(k.killed_ns < t_end);
    assert_true(log_has(b.addr.api_addr, "dropped"));
    free(data);
    peer_free(&a);
    peer_free(&b);
    peer_free(&dst);
}

static void test_all_missing(void **state)
{
    (void)state;
    struct peer a, b, dst;
    peer_start(&a, MODE_NORMAL);
    peer_start(&b, MODE_NORMAL);
    peer_start(&dst, MODE_NORMAL);
    char *data = rand_blob(5000, 7), digest[72], err[512] = "";
    put(&dst, data, 5000, digest); /* only to learn a digest nobody else has */
    char path[4200];
    assert_int_equal(store_blob_path(dst.store, digest, path, sizeof path), 0);
    unlink(path);
    struct cxfer_peer addrs[2] = {a.addr, b.addr};
    struct cxfer_opts o = {.token = TOKEN, .chunk = 1024};
    int rc = cxfer_fetch(dst.store, digest, 5000, addrs, 2, &o, err, sizeof err);
    assert_int_equal(rc, OM_ENOTFOUND);
    assert_non_null(strstr(err, digest));
    assert_non_null(strstr(err, "404"));
    assert_false(store_blob_exists(dst.store, digest));
    assert_false(file_exists_suffix(&dst, digest, "-xfer"));
    assert_false(file_exists_suffix(&dst, digest, "-xfer.state"));
    /* nobody listening */
    peer_stop_http(&a);
    rc = cxfer_fetch(dst.store, digest, 5000, addrs, 1, &o, err, sizeof err);
    assert_int_equal(rc, OM_EIO);
    assert_non_null(strstr(err, a.addr.api_addr));
    /* no peers, bad inputs */
    assert_int_equal(cxfer_fetch(dst.store, digest, 5000, addrs, 0, &o, err, sizeof err),
                     OM_ENOTFOUND);
    assert_int_equal(cxfer_fetch(dst.store, "sha256:xyz", 5000, addrs, 1, &o, err, sizeof err),
                     OM_EINVAL);
    assert_int_equal(cxfer_fetch(dst.store, digest, -1, addrs, 1, &o, err, sizeof err), OM_EINVAL);
    struct cxfer_peer evil = {"127.0.0.1:1/../../x?"};
    assert_int_equal(cxfer_fetch(dst.store, digest, 5000, &evil, 1, &o, err, sizeof err),
                     OM_EINVAL);
    free(data);
    peer_free(&a);
    peer_free(&b);
    peer_free(&dst);
}

static void test_compression(void **state)
{
    (void)state;
    struct peer a, dst;
    peer_start(&a, MODE_NORMAL);
    peer_start(&dst, MODE_NORMAL);
    size_t n = blob_size();
    char *text = text_blob(n), *rnd = rand_blob(n, 8), dt[72], dr[72], err[512] = "";
    put(&a, text, n, dt);
    put(&a, rnd, n, dr);
    struct prog g = {0};
    struct cxfer_opts o = {.token = TOKEN, .chunk = 256 << 10, .compress = true,
                           .progress = on_prog, .user = &g};
    assert_int_equal(cxfer_fetch(dst.store, dt, (int64_t)n, &a.addr, 1, &o, err, sizeof err), 0);
    check_blob(&dst, dt, text, n);
    assert_int_equal(api_peer_drain(5000), 0);
    int64_t wire = atomic_load(&a.stats.body_bytes);
    assert_true(wire < (int64_t)n / 4);
    assert_int_equal(g.last.wire_bytes, wire);
    assert_int_equal(atomic_load(&a.stats.blob_bytes), (int64_t)n);
    int64_t nz = atomic_load(&a.stats.compressed);
    assert_true(nz >= 1);

    struct prog g2 = {0};
    o.user = &g2;
    assert_int_equal(cxfer_fetch(dst.store, dr, (int64_t)n, &a.addr, 1, &o, err, sizeof err), 0);
    check_blob(&dst, dr, rnd, n);
    assert_int_equal(api_peer_drain(5000), 0);
    assert_int_equal(atomic_load(&a.stats.compressed), nz); /* random bytes went raw */
    assert_int_equal(g2.last.wire_bytes, (int64_t)n);
    assert_int_equal(atomic_load(&a.stats.body_bytes) - wire, (int64_t)n);
    free(text);
    free(rnd);
    peer_free(&a);
    peer_free(&dst);
}

static struct cresp get_range(struct peer *p, const char *digest, const char *range,
                              const char *method)
{
    char u[600], rh[200];
    snprintf(u, sizeof u, "http://%s/api/cluster/blob/%s", p->addr.api_addr, digest);
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " TOKEN);
    if (range) {
        snprintf(rh, sizeof rh, "Range: %s", range);
        h = curl_slist_append(h, rh);
    }
    struct cresp r = http_do(method, u, NULL, h);
    curl_slist_free_all(h);
    return r;
}

static void test_ranges(void **state)
{
    (void)state;
    struct peer a;
    peer_start(&a, MODE_NORMAL);
    size_t n = 100000;
    char *data = rand_blob(n, 9), digest[72];
    put(&a, data, n, digest);
    struct cresp r = get_range(&a, digest, NULL, "GET");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, n);
    assert_memory_equal(r.body, data, n);
    cresp_free(&r);
    struct { const char *range; size_t off, len; } ok[] = {
        {"bytes=10-19", 10, 10}, {"bytes=99990-", 99990, 10}, {"bytes=-5", n - 5, 5},
        {"bytes=99999-200000", 99999, 1}, /* the end is clamped */
    };
    for (size_t i = 0; i < OM_ARRAY_LEN(ok); i++) {
        r = get_range(&a, digest, ok[i].range, "GET");
        assert_int_equal(r.status, 206);
        assert_int_equal(r.len, ok[i].len);
        assert_memory_equal(r.body, data + ok[i].off, ok[i].len);
        char cr[80];
        snprintf(cr, sizeof cr, "Content-Range: bytes %zu-%zu/100000", ok[i].off,
                 ok[i].off + ok[i].len - 1);
        assert_true(cresp_has_header(&r, cr));
        cresp_free(&r);
    }
    const char *bad[] = {"bytes=100000-", "bytes=5-2", "bytes=0-1,5-6", "bytes=abc",
                         "items=0-1", "bytes=-0", "bytes=99999999999999999999-"};
    for (size_t i = 0; i < OM_ARRAY_LEN(bad); i++) {
        r = get_range(&a, digest, bad[i], "GET");
        assert_int_equal(r.status, 416);
        assert_true(cresp_has_header(&r, "Content-Range: bytes */100000"));
        cresp_free(&r);
    }
    r = get_range(&a, "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                  NULL, "GET");
    assert_int_equal(r.status, 404);
    cresp_free(&r);
    r = get_range(&a, "sha256:zz", NULL, "GET");
    assert_int_equal(r.status, 400);
    cresp_free(&r);
    r = get_range(&a, digest, NULL, "HEAD");
    assert_int_equal(r.status, 200);
    assert_true(cresp_has_header(&r, "X-Blob-Size: 100000"));
    cresp_free(&r);
    free(data);
    peer_free(&a);
}

static void test_hostile(void **state)
{
    (void)state;
    struct peer h, hb, hz, dst;
    peer_start(&h, MODE_OVERLONG);
    peer_start(&hb, MODE_BADRANGE);
    peer_start(&hz, MODE_BADZSTD);
    peer_start(&dst, MODE_NORMAL);
    size_t n = 300000;
    char *data = rand_blob(n, 10), digest[72], err[512] = "";
    put(&h, data, n, digest);
    put(&hb, data, n, digest);
    put(&hz, data, n, digest);
    struct cxfer_opts o = {.token = TOKEN, .chunk = 64 << 10};
    int rc = cxfer_fetch(dst.store, digest, (int64_t)n, &h.addr, 1, &o, err, sizeof err);
    assert_int_equal(rc, OM_EIO);
    assert_non_null(strstr(err, "more bytes than asked"));
    assert_non_null(strstr(err, digest));
    assert_false(store_blob_exists(dst.store, digest));
    rc = cxfer_fetch(dst.store, digest, (int64_t)n, &hb.addr, 1, &o, err, sizeof err);
    assert_int_equal(rc, OM_EIO);
    assert_non_null(strstr(err, "Content-Range"));
    assert_false(store_blob_exists(dst.store, digest));
    /* zstd that we did not ask for, then zstd that is not zstd */
    rc = cxfer_fetch(dst.store, digest, (int64_t)n, &hz.addr, 1, &o, err, sizeof err);
    assert_int_equal(rc, OM_EIO);
    assert_non_null(strstr(err, "unexpected Content-Encoding"));
    o.compress = true;
    rc = cxfer_fetch(dst.store, digest, (int64_t)n, &hz.addr, 1, &o, err, sizeof err);
    assert_int_equal(rc, OM_EIO);
    assert_non_null(strstr(err, "bad zstd data"));
    assert_false(store_blob_exists(dst.store, digest));
    o.compress = false;
    /* a size claim that does not match what peers have is never believed */
    rc = cxfer_fetch(dst.store, digest, (int64_t)n + 7, &h.addr, 1, &o, err, sizeof err);
    assert_int_not_equal(rc, 0);
    assert_false(store_blob_exists(dst.store, digest));
    free(data);
    peer_free(&h);
    peer_free(&hb);
    peer_free(&hz);
    peer_free(&dst);
}

/* A peer serving the right lengths with wrong bytes, next to a good one: the
 * sha256 check fails, the refetch and the chunk comparison find the liar, and
 * the blob is assembled from the good peer's bytes. */
static void test_lying_peer(void **state)
{
    (void)state;
    struct peer bad, good, dst;
    peer_start(&bad, MODE_FLIP);
    peer_start(&good, MODE_SLOW);
    peer_start(&dst, MODE_NORMAL);
    size_t n = 200000;
    char *data = rand_blob(n, 11), digest[72], err[512] = "";
    put(&bad, data, n, digest);
    put(&good, data, n, digest);
    struct cxfer_peer addrs[2] = {bad.addr, good.addr};
    struct cxfer_opts o = {.token = TOKEN, .chunk = 16 << 10, .max_parallel = 4};
    int rc = cxfer_fetch(dst.store, digest, (int64_t)n, addrs, 2, &o, err, sizeof err);
    assert_int_equal(rc, 0);
    check_blob(&dst, digest, data, n);
    assert_true(log_has("served bytes that do not match", bad.addr.api_addr));
    /* only the liar: twice a mismatch, nothing to assemble from */
    char d2[72];
    char *d2data = rand_blob(n, 12);
    put(&bad, d2data, n, d2);
    rc = cxfer_fetch(dst.store, d2, (int64_t)n, &bad.addr, 1, &o, err, sizeof err);
    assert_int_equal(rc, OM_EFORMAT);
    assert_non_null(strstr(err, d2));
    assert_false(store_blob_exists(dst.store, d2));
    assert_false(file_exists_suffix(&dst, d2, "-xfer"));
    assert_false(file_exists_suffix(&dst, d2, "-xfer.prev"));
    free(d2data);
    free(data);
    peer_free(&bad);
    peer_free(&good);
    peer_free(&dst);
}

/* A peer that never answers is given up after the first-byte timeout and
 * its chunks go to the other peer. */
static void test_stalled_peer(void **state)
{
    (void)state;
    struct peer hang, good, dst;
    peer_start(&hang, MODE_HANG);
    peer_start(&good, MODE_NORMAL);
    peer_start(&dst, MODE_NORMAL);
    size_t n = 500000;
    char *data = rand_blob(n, 14), digest[72], err[512] = "";
    put(&hang, data, n, digest);
    put(&good, data, n, digest);
    struct prog g = {0};
    struct cxfer_peer addrs[2] = {hang.addr, good.addr};
    struct cxfer_opts o = {.token = TOKEN, .chunk = 64 << 10, .first_byte_timeout_ms = 1000,
                           .progress = on_prog, .user = &g};
    uint64_t t0 = om_time_ns();
    assert_int_equal(cxfer_fetch(dst.store, digest, (int64_t)n, addrs, 2, &o, err, sizeof err), 0);
    assert_true(om_time_ns() - t0 < 4000000000ull); /* did not wait for the hanging answers */
    check_blob(&dst, digest, data, n);
    assert_int_equal(g.last.bytes_from_peer[0], 0);
    assert_int_equal(g.last.bytes_from_peer[1], (int64_t)n);
    assert_true(log_has(hang.addr.api_addr, "no answer in time"));
    free(data);
    peer_free(&hang);
    peer_free(&good);
    peer_free(&dst);
}

/* Two fetches of one blob into one store at once: the second is refused. */
static void test_busy(void **state)
{
    (void)state;
    struct peer a, dst;
    peer_start(&a, MODE_SLOW);
    peer_start(&dst, MODE_NORMAL);
    size_t n = 300000;
    char *data = rand_blob(n, 13), digest[72], err[512] = "";
    put(&a, data, n, digest);
    struct cxfer_opts o = {.token = TOKEN, .chunk = 16 << 10, .max_parallel = 1};
    /* hold the lock by hand, as a concurrent fetch would */
    char path[4200], st[4300];
    assert_int_equal(store_blob_path(dst.store, digest, path, sizeof path), 0);
    snprintf(st, sizeof st, "%s-xfer.state", path);
    int fd = open(st, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    char prev[4300], part[4300];
    snprintf(prev, sizeof prev, "%s-xfer.prev", path);
    snprintf(part, sizeof part, "%s-xfer", path);
    int pf = open(prev, O_RDWR | O_CREAT, 0644), qf = open(part, O_RDWR | O_CREAT, 0644);
    assert_true(pf >= 0 && qf >= 0);
    close(pf);
    close(qf);
    int rc = cxfer_fetch(dst.store, digest, (int64_t)n, &a.addr, 1, &o, err, sizeof err);
    assert_int_equal(rc, OM_EBUSY);
    /* the running fetch's files are left alone */
    assert_int_equal(access(prev, F_OK), 0);
    assert_int_equal(access(part, F_OK), 0);
    assert_int_equal(access(st, F_OK), 0);
    assert_false(store_blob_exists(dst.store, digest));
    close(fd);
    assert_int_equal(cxfer_fetch(dst.store, digest, (int64_t)n, &a.addr, 1, &o, err, sizeof err), 0);
    check_blob(&dst, digest, data, n);
    free(data);
    peer_free(&a);
    peer_free(&dst);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    om_log_set(log_sink, NULL, OM_LOG_WARN); /* the failures here are expected: kept, not shown */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_peer),        cmocka_unit_test(test_three_peers),
        cmocka_unit_test(test_resume_after_cancel), cmocka_unit_test(test_corrupted_peer),
        cmocka_unit_test(test_peer_dies),       cmocka_unit_test(test_all_missing),
        cmocka_unit_test(test_compression),     cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_hostile),         cmocka_unit_test(test_lying_peer),
        cmocka_unit_test(test_stalled_peer),    cmocka_unit_test(test_busy),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
