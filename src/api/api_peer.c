/* api/api_peer: GET /api/cluster/blob/:digest, the blob endpoint that peers
 * fetch chunks from (contract and answers in api_peer.h).
 *
 * The MHD handler does the cheap checks (digest, open, Range) and answers the
 * errors itself; a transfer then runs on a detached thread that owns the open
 * file descriptor: it makes sure the file's sha256 was verified once (the
 * verification cache below), decides on compression from samples of the
 * range, and streams the range in 1 MiB pieces. Everything served comes from
 * the descriptor opened by the handler, so a blob renamed or replaced
 * meanwhile never mixes two files into one answer.
 *
 * Verification cache: one entry per blob path with the (dev, ino, size,
 * mtime) of the version that was checked and its state (being checked,
 * good, or bad: requests that waited for a failed check answer 410 too). A file whose identity changed is checked again. Only one thread
 * checks a given version; the others wait for its result (or take over when
 * the checking thread's client left). */
#include "api/api_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "base/om.h"
#include "store/models.h"

#define PIECE ((size_t)1 << 20)
#define VCACHE_MAX 1024
#define SAMPLE ((size_t)32 << 10) /* one compression sample */

static struct api_peer_stats g_stats;
static _Atomic int g_active;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER; /* verification results, threads ending */

/* Waits on g_cv (g_mu held) for at most ms milliseconds. */
static void wait_locked(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&g_cv, &g_mu, &ts);
}

/* ---- verification cache ---- */

struct vent {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    int state;      /* V_* */
};

enum { V_CHECKING, V_GOOD, V_BAD };

static struct vent g_vc[VCACHE_MAX];
static int g_nvc;

static int64_t st_mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static bool vent_same(const struct vent *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
           e->mtime_ns == st_mtime_ns(st);
}

static struct vent *vc_find(const char *path)
{
    for (int i = 0; i < g_nvc; i++)
        if (strcmp(g_vc[i].path, path) == 0)
            return &g_vc[i];
    return NULL;
}

static void vc_drop(struct vent *e)
{
    free(e->path);
    *e = g_vc[--g_nvc];
}

/* Claims the right to check (path, st): 1 = the caller must check it, 0 = it
 * is known good, OM_EFORMAT = known bad, OM_EIO when the client left while
 * waiting. g_mu held. */
static int vc_claim_locked(const char *path, const struct stat *st, http_req *req)
{
    for (;;) {
        struct vent *e = vc_find(path);
        if (e && !vent_same(e, st) && e->state != V_CHECKING) {
            vc_drop(e); /* another version of the file: forget the old one */
            e = NULL;
        }
        if (e && vent_same(e, st) && e->state != V_CHECKING)
            return e->state == V_GOOD ? 0 : OM_EFORMAT;
        if (!e) {
            for (int i = 0; i < g_nvc && g_nvc == VCACHE_MAX; i++)
                if (g_vc[i].state != V_CHECKING)
                    vc_drop(&g_vc[i]); /* full: make room */
            if (g_nvc < VCACHE_MAX) {
                g_vc[g_nvc++] = (struct vent){.path = om_xstrdup(path), .dev = st->st_dev,
                                              .ino = st->st_ino, .size = st->st_size,
                                              .mtime_ns = st_mtime_ns(st), .state = V_CHECKING};
                return 1;
            }
        }
        /* being checked by another thread (this version or an older one) */
        if (http_req_gone(req))
            return OM_EIO;
        wait_locked(100);
    }
}

/* Ends a claim with the check's result: 0 good, OM_EFORMAT bad, anything
 * else unknown (the entry is removed; the next request checks again). */
static void vc_settle(const char *path, int rc)
{
    pthread_mutex_lock(&g_mu);
    struct vent *e = vc_find(path);
    if (e && e->state == V_CHECKING) {
        if (rc == 0 || rc == OM_EFORMAT)
            e->state = rc == 0 ? V_GOOD : V_BAD;
        else
            vc_drop(e);
    }
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

/* ---- one transfer ---- */

struct job {
    http_req *req;
    struct api_peer_stats *stats;
    char digest[72];
    char path[4200];
    int fd;
    struct stat st;
    int64_t off, len; /* the range served */
    bool ranged, want_zstd;
};

static void count(struct api_peer_stats *st, int64_t body, int64_t blob)
{
    struct api_peer_stats *v[2] = {&g_stats, st};
    for (int i = 0; i < 2; i++) {
        if (!v[i])
            continue;
        atomic_fetch_add(&v[i]->body_bytes, body);
        atomic_fetch_add(&v[i]->blob_bytes, blob);
    }
}

static void count_request(struct api_peer_stats *st)
{
    atomic_fetch_add(&g_stats.requests, 1);
    if (st)
        atomic_fetch_add(&st->requests, 1);
}

static int pread_full(int fd, void *buf, size_t n, int64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, off + (int64_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return OM_EIO; /* the file shrank under us */
        done += (size_t)r;
    }
    return 0;
}

/* sha256 of the whole file behind j->fd against j->digest: 0 good,
 * OM_EFORMAT mismatch, OM_EIO client gone, -errno read error. */
static int job_hash(struct job *j, char *buf)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return OM_EIO;
    }
    int rc = 0;
    for (int64_t off = 0; off < j->st.st_size && !rc; off += (int64_t)PIECE) {
        size_t n = (size_t)OM_MIN((int64_t)PIECE, j->st.st_size - off);
        if (http_req_gone(j->req))
            rc = OM_EIO;
        else if ((rc = pread_full(j->fd, buf, n, off)) == 0)
            EVP_DigestUpdate(md, buf, n);
    }
    unsigned char d[32];
    unsigned int dl = 0;
    if (!rc && EVP_DigestFinal_ex(md, d, &dl) != 1)
        rc = OM_EIO;
    EVP_MD_CTX_free(md);
    if (rc)
        return rc;
    char got[72] = "sha256:";
    for (int i = 0; i < 32; i++)
        snprintf(got + 7 + 2 * i, 3, "%02x", d[i]);
    return strcmp(got, j->digest) == 0 ? 0 : OM_EFORMAT;
}

/* Moves a blob that failed its check out of the way, unless the path holds
 * another file by now. */
static void quarantine(const struct job *j)
{
    struct stat now;
    if (stat(j->path, &now) != 0 || now.st_dev != j->st.st_dev || now.st_ino != j->st.st_ino)
        return;
    char to[4300];
    const char *slash = strrchr(j->path, '/');
    size_t dn = slash ? (size_t)(slash - j->path + 1) : 0;
    snprintf(to, sizeof to, "%.*s.%s-corrupt-%lld-%llu", (int)dn, j->path, j->path + dn,
             (long long)time(NULL), (unsigned long long)j->st.st_ino);
    if (rename(j->path, to) != 0)
        om_log(OM_LOG_ERROR, "cluster", "blob %s failed verification; cannot move it away: %s",
               j->digest, strerror(errno));
    else
        om_log(OM_LOG_ERROR, "cluster",
               "blob %s failed verification (sha256 mismatch): moved to %s; it will be fetched "
               "again", j->digest, to);
}

/* 0 when the file is verified, OM_EFORMAT when it failed (quarantined), other
 * codes when the check could not finish. */
static int job_verify(struct job *j, char *buf)
{
    pthread_mutex_lock(&g_mu);
    int rc = vc_claim_locked(j->path, &j->st, j->req);
    pthread_mutex_unlock(&g_mu);
    if (rc <= 0)
        return rc;
    rc = job_hash(j, buf);
    vc_settle(j->path, rc);
    if (rc == OM_EFORMAT) {
        struct api_peer_stats *v[2] = {&g_stats, j->stats};
        for (int i = 0; i < 2; i++)
            if (v[i])
                atomic_fetch_add(&v[i]->verify_fail, 1);
        quarantine(j);
    }
    return rc;
}

/* Whether zstd pays on this range: up to three samples (start, middle, end)
 * compressed at level 1 must come out at most 90% of their size. */
static bool job_compress_pays(struct job *j, char *buf)
{
    if (j->len < 4096)
        return false;
    size_t cap = ZSTD_compressBound(SAMPLE);
    char *out = om_xmalloc(cap);
    int64_t in = 0, outn = 0;
    int64_t starts[3] = {j->off, j->off + j->len / 2 - (int64_t)SAMPLE / 2, j->off + j->len - (int64_t)SAMPLE};
    int ns = j->len >= 3 * (int64_t)SAMPLE ? 3 : 1;
    for (int i = 0; i < ns; i++) {
        size_t n = (size_t)OM_MIN((int64_t)SAMPLE, j->len);
        if (pread_full(j->fd, buf, n, starts[i]) != 0)
            break;
        size_t c = ZSTD_compress(out, cap, buf, n, 1);
        if (ZSTD_isError(c))
            break;
        in += (int64_t)n;
        outn += (int64_t)c;
    }
    free(out);
    return in > 0 && outn * 10 <= in * 9;
}

/* Queues n bytes, waiting while the client's queue is full. 0, or OM_EIO
 * when the client left. */
static int stream_put(struct job *j, const void *data, size_t n)
{
    for (;;) {
        int rc = http_stream_write(j->req, data, n);
        if (rc != OM_EAGAIN)
            return rc;
        if (http_req_gone(j->req))
            return OM_EIO;
        struct timespec ts = {0, 2 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static int job_send_raw(struct job *j, char *buf)
{
    for (int64_t off = 0; off < j->len;) {
        size_t n = (size_t)OM_MIN((int64_t)PIECE, j->len - off);
        int rc = pread_full(j->fd, buf, n, j->off + off);
        if (!rc)
            rc = stream_put(j, buf, n);
        if (rc)
            return rc;
        count(j->stats, (int64_t)n, (int64_t)n);
        off += (int64_t)n;
    }
    return 0;
}

static int job_send_zstd(struct job *j, char *buf)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    if (!cc)
        return OM_EIO;
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setPledgedSrcSize(cc, (unsigned long long)j->len);
    size_t ocap = ZSTD_CStreamOutSize() * 8;
    char *out = om_xmalloc(ocap);
    int rc = 0;
    for (int64_t off = 0; !rc;) {
        size_t n = (size_t)OM_MIN((int64_t)PIECE, j->len - off);
        if (n && (rc = pread_full(j->fd, buf, n, j->off + off)) != 0)
            break;
        off += (int64_t)n;
        bool last = off >= j->len;
        ZSTD_inBuffer in = {buf, n, 0};
        size_t left;
        do {
            ZSTD_outBuffer o = {out, ocap, 0};
            left = ZSTD_compressStream2(cc, &o, &in, last ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(left)) {
                om_log(OM_LOG_ERROR, "cluster", "zstd: %s", ZSTD_getErrorName(left));
                rc = OM_EIO;
                break;
            }
            if (o.pos && (rc = stream_put(j, out, o.pos)) != 0)
                break;
            count(j->stats, (int64_t)o.pos, 0);
        } while (last ? left != 0 : in.pos < in.size);
        if (!rc)
            count(j->stats, 0, (int64_t)n);
        if (last)
            break;
    }
    free(out);
    ZSTD_freeCCtx(cc);
    return rc;
}

static void *job_thread(void *arg)
{
    struct job *j = arg;
    char *buf = om_xmalloc(PIECE);
    int rc = job_verify(j, buf);
    count_request(j->stats); /* before the answer: a client that got it sees the count */
    if (rc == OM_EFORMAT) {
        http_respond_error(j->req, 410, "blob failed verification");
    } else if (rc) {
        if (rc != OM_EIO || !http_req_gone(j->req))
            om_log(OM_LOG_WARN, "cluster", "blob %s: cannot verify: %s", j->digest,
                   om_strerror(rc));
        http_respond_error(j->req, 500, "cannot read blob");
    } else {
        bool z = j->want_zstd && job_compress_pays(j, buf);
        char v[160];
        if (j->ranged) {
            snprintf(v, sizeof v, "bytes %lld-%lld/%lld", (long long)j->off,
                     (long long)(j->off + j->len - 1), (long long)j->st.st_size);
            http_add_header(j->req, "Content-Range", v);
        }
        snprintf(v, sizeof v, "%lld", (long long)j->st.st_size);
        http_add_header(j->req, "X-Blob-Size", v);
        http_add_header(j->req, "Accept-Ranges", "bytes");
        if (z) {
            http_add_header(j->req, "Content-Encoding", "zstd");
            struct api_peer_stats *s[2] = {&g_stats, j->stats};
            for (int i = 0; i < 2; i++)
                if (s[i])
                    atomic_fetch_add(&s[i]->compressed, 1);
        }
        if (http_stream_begin(j->req, j->ranged ? 206 : 200, "application/octet-stream") == 0) {
            rc = z ? job_send_zstd(j, buf) : job_send_raw(j, buf);
            if (rc && rc != OM_EIO)
                om_log(OM_LOG_WARN, "cluster", "blob %s: sending stopped: %s", j->digest,
                       om_strerror(rc));
        }
        /* an error after the headers went out: the client sees a short body */
        http_stream_end(j->req);
    }
    free(buf);
    close(j->fd);
    free(j);
    pthread_mutex_lock(&g_mu);
    atomic_fetch_sub(&g_active, 1);
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

/* ---- handler ---- */

/* Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" against size.
 * Returns 0 with the range, or -1 when it is malformed or unsatisfiable. */
static int parse_range(const char *h, int64_t size, int64_t *off, int64_t *len)
{
    if (strncasecmp(h, "bytes=", 6) != 0)
        return -1;
    const char *p = h + 6;
    while (*p == ' ')
        p++;
    int64_t a = -1, b = -1;
    char *end;
    if (*p >= '0' && *p <= '9') {
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 0)
            return -1;
        a = v;
        p = end;
    }
    if (*p++ != '-')
        return -1;
    if (*p >= '0' && *p <= '9') {
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 0)
            return -1;
        b = v;
        p = end;
    }
    while (*p == ' ')
        p++;
    if (*p) /* trailing text, several ranges */
        return -1;
    if (a < 0) { /* suffix: the last b bytes */
        if (b <= 0 || size == 0)
            return -1;
        *off = size - OM_MIN(b, size);
        *len = size - *off;
        return 0;
    }
    if (a >= size || (b >= 0 && b < a))
        return -1;
    *off = a;
    *len = (b < 0 || b >= size ? size - 1 : b) - a + 1;
    return 0;
}

static bool accepts_zstd(const char *h)
{
    if (!h)
        return false;
    /* tokens separated by commas, each maybe with ";q=..." (q=0 refuses) */
    for (const char *p = h; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        if (n >= 4 && strncasecmp(p, "zstd", 4) == 0 && (n == 4 || p[4] == ';' || p[4] == ' ')) {
            const char *q = strstr(p, "q=");
            return !(q && q < p + n && strtod(q + 2, NULL) <= 0.0);
        }
        p += n;
    }
    return false;
}

struct api_peer_stats *api_peer_stats_global(void)
{
    return &g_stats;
}

int api_peer_active(void)
{
    return atomic_load(&g_active);
}

int api_peer_drain(int timeout_ms)
{
    uint64_t end = om_time_ns() + (uint64_t)timeout_ms * 1000000;
    pthread_mutex_lock(&g_mu);
    while (atomic_load(&g_active) > 0 && om_time_ns() < end) {
        wait_locked(20);
    }
    int left = atomic_load(&g_active);
    pthread_mutex_unlock(&g_mu);
    return left ? OM_ETIMEDOUT : 0;
}

void api_peer_blob(http_req *req, struct store_root *store, const char *digest)
{
    api_peer_blob_ex(req, store, digest, NULL);
}

void api_peer_blob_ex(http_req *req, struct store_root *store, const char *digest,
                      struct api_peer_stats *stats)
{
    char canon[72], path[4200];
    if (!digest || store_digest_canon(digest, canon) != 0 ||
        store_blob_path(store, canon, path, sizeof path) != 0) {
        count_request(stats);
        http_respond_error(req, 400, "invalid digest");
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        errno = ENOENT;
    }
    if (fd < 0) {
        int e = errno;
        count_request(stats);
        if (e == ENOENT || e == ENOTDIR)
            http_respond_error(req, 404, "blob not found");
        else
            http_respond_error(req, 500, strerror(e));
        return;
    }
    char v[160];
    snprintf(v, sizeof v, "%lld", (long long)st.st_size);
    if (strcmp(http_req_method(req), "HEAD") == 0) {
        close(fd);
        count_request(stats);
        http_add_header(req, "X-Blob-Size", v);
        http_add_header(req, "Accept-Ranges", "bytes");
        http_respond(req, 200, "application/octet-stream", NULL, 0);
        return;
    }
    struct job *j = om_xcalloc(1, sizeof *j);
    *j = (struct job){.req = req, .stats = stats, .fd = fd, .st = st, .off = 0,
                      .len = st.st_size};
    memcpy(j->digest, canon, sizeof canon);
    snprintf(j->path, sizeof j->path, "%s", path);
    const char *range = http_req_header(req, "Range");
    if (range && parse_range(range, st.st_size, &j->off, &j->len) != 0) {
        close(fd);
        free(j);
        count_request(stats);
        snprintf(v, sizeof v, "bytes */%lld", (long long)st.st_size);
        http_add_header(req, "Content-Range", v);
        http_respond_error(req, 416, "invalid range");
        return;
    }
    j->ranged = range != NULL;
    j->want_zstd = accepts_zstd(http_req_header(req, "Accept-Encoding"));
    if (atomic_fetch_add(&g_active, 1) >= API_PEER_MAX_STREAMS) {
        atomic_fetch_sub(&g_active, 1);
        close(fd);
        free(j);
        count_request(stats);
        http_respond_error(req, 503, "too many blob transfers");
        return;
    }
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int prc = pthread_create(&th, &at, job_thread, j);
    pthread_attr_destroy(&at);
    if (prc != 0) {
        atomic_fetch_sub(&g_active, 1);
        close(fd);
        free(j);
        count_request(stats);
        http_respond_error(req, 503, "cannot start a blob transfer");
    }
}
