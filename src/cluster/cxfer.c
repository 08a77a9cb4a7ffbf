/* cluster/cxfer: fetching a blob from peers in chunks (contract in cxfer.h).
 *
 * One curl multi handle drives every transfer of a fetch; a transfer is one
 * chunk asked from one peer with "Range: bytes=a-b". The write callback
 * checks the answer before it keeps a byte: status 206, a Content-Range that
 * names exactly the asked range and the expected total, an encoding we asked
 * for, and never more bytes (after decoding) than the chunk holds; wire bytes
 * are bounded too, so a peer cannot stream forever. Bytes go straight to the
 * partial file at their offset (pwrite), so memory does not grow with the
 * blob. A transfer that breaks a rule or fails drops its peer; the peer's
 * other transfers are stopped and every unfinished chunk goes back to the
 * queue for the live peers. 503 (a busy peer) only pauses the peer.
 *
 * Scheduling: the lowest unfinished chunk goes to the live, unpaused peer
 * with the fewest transfers in flight, preferring a peer other than the one
 * that served the chunk in a failed (sha256 mismatch) attempt. */
#include "cluster/cxfer_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zstd.h>

#include "base/om.h"
#include "store/models.h"

#define BUSY_PAUSE_NS (200 * 1000000LL)
#define BUSY_MAX 50        /* 503 answers a peer may give before it is dropped */
#define PROGRESS_NS (50 * 1000000LL)
#define FLUSH_NS (250 * 1000000LL)

struct xpeer {
    char addr[256];
    char url[512];
    bool dead, notfound;   /* notfound: it answered 404 or 410 */
    int active, busy;
    int64_t paused_until;
    char why[200];
};

struct xjob;

struct xfer {
    struct xjob *x;
    int chunk, peer;
    int64_t off, len, got, wire, wire_max;
    int64_t last_ns;   /* start, then the last header or body bytes */
    CURL *h;
    struct curl_slist *hl;
    bool checked, zstd, zend, failed;
    char crange[128], cenc[64];
    ZSTD_DCtx *dz;
    char why[200];
    int status;
};

struct xjob {
    struct cxfer_files f;
    struct xpeer peers[CXFER_MAX_PEERS];
    int npeers;
    struct cxfer_opts o;
    CURLM *m;
    struct xfer *xf;   /* o.max_parallel slots; h == NULL when free */
    int nactive;
    int ntodo, scan_from; /* chunks to do; none below scan_from */
    int16_t *cpeer;    /* peer that served each chunk in this attempt (-1: none) */
    int16_t *avoid;    /* peer to avoid per chunk (-1: none) */
    struct cxfer_progress prog;
    int64_t done_bytes; /* finished chunks */
    char zbuf[1 << 16];
};

/* ---- answer checks ---- */

static void xfer_fail(struct xfer *t, const char *fmt, const char *arg)
{
    if (t->failed)
        return;
    t->failed = true;
    snprintf(t->why, sizeof t->why, fmt, arg);
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *t = ud;
    size_t len = sz * n;
    t->last_ns = (int64_t)om_time_ns();
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new header block */
        t->crange[0] = t->cenc[0] = 0;
        return len;
    }
    const char *names[2] = {"content-range:", "content-encoding:"};
    char *dst[2] = {t->crange, t->cenc};
    size_t cap[2] = {sizeof t->crange, sizeof t->cenc};
    for (int i = 0; i < 2; i++) {
        size_t nl = strlen(names[i]);
        if (len > nl && strncasecmp(p, names[i], nl) == 0) {
            const char *v = p + nl;
            size_t vl = len - nl;
            while (vl && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
                vl--;
            if (vl >= cap[i])
                vl = cap[i] - 1; /* too long to be right: fails the comparison */
            memcpy(dst[i], v, vl);
            dst[i][vl] = 0;
        }
    }
    return len;
}

/* Checks status and headers once, before the first body byte (or at the end
 * of an answer without a body). */
static bool xfer_check(struct xfer *t)
{
    if (t->checked)
        return !t->failed;
    t->checked = true;
    long code = 0;
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &code);
    t->status = (int)code;
    struct xjob *x = t->x;
    char want[128], num[32];
    snprintf(num, sizeof num, "%ld", code);
    if (code == 404 || code == 410) {
        xfer_fail(t, code == 404 ? "404 blob not found%s" : "410 blob failed verification%s", "");
        return false;
    }
    if (code != 206) {
        xfer_fail(t, "unexpected status %s", num);
        return false;
    }
    snprintf(want, sizeof want, "bytes %" PRId64 "-%" PRId64 "/%" PRId64, t->off,
             t->off + t->len - 1, x->f.size);
    if (strcmp(t->crange, want) != 0) {
        xfer_fail(t, "wrong Content-Range \"%s\"", t->crange);
        return false;
    }
    if (strcasecmp(t->cenc, "zstd") == 0 && x->o.compress) {
        t->zstd = true;
        t->dz = ZSTD_createDCtx();
        if (!t->dz) {
            xfer_fail(t, "%s", "zstd: out of memory");
            return false;
        }
        /* a frame of one chunk never needs a window larger than the chunk: a
         * peer cannot make us allocate more */
        int wlog = 10;
        while (wlog < 27 && ((int64_t)1 << wlog) < t->len)
            wlog++;
        ZSTD_DCtx_setParameter(t->dz, ZSTD_d_windowLogMax, wlog);
    } else if (t->cenc[0] && strcasecmp(t->cenc, "identity") != 0) {
        xfer_fail(t, "unexpected Content-Encoding \"%s\"", t->cenc);
        return false;
    }
    return true;
}

static bool put_bytes(struct xfer *t, const char *p, size_t n)
{
    struct xjob *x = t->x;
    if ((int64_t)n > t->len - t->got) {
        xfer_fail(t, "%s", "sent more bytes than asked");
        return false;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(x->f.fd, p + done, n - done, t->off + t->got + (int64_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            xfer_fail(t, "local write failed: %s", strerror(errno));
            return false;
        }
        done += (size_t)w;
    }
    t->got += (int64_t)n;
    x->prog.bytes_from_peer[t->peer] += (int64_t)n;
    return true;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct xfer *t = ud;
    size_t len = sz * n;
    t->last_ns = (int64_t)om_time_ns();
    if (!xfer_check(t))
        return 0;
    t->wire += (int64_t)len;
    t->x->prog.wire_bytes += (int64_t)len;
    if (t->wire > t->wire_max) {
        xfer_fail(t, "%s", "sent more bytes than asked");
        return 0;
    }
    if (!t->zstd)
        return put_bytes(t, p, len) ? len : 0;
    ZSTD_inBuffer in = {p, len, 0};
    while (in.pos < in.size) {
        if (t->zend) {
            xfer_fail(t, "%s", "data after the zstd frame");
            return 0;
        }
        ZSTD_outBuffer out = {t->x->zbuf, sizeof t->x->zbuf, 0};
        size_t r = ZSTD_decompressStream(t->dz, &out, &in);
        if (ZSTD_isError(r)) {
            xfer_fail(t, "bad zstd data: %s", ZSTD_getErrorName(r));
            return 0;
        }
        if (out.pos && !put_bytes(t, t->x->zbuf, out.pos))
            return 0;
        if (r == 0)
            t->zend = true;
        else if (out.pos == 0 && in.pos == in.size)
            break;
    }
    return len;
}

/* ---- transfers ---- */

static int xfer_start(struct xjob *x, struct xfer *t, int c, int p)
{
    struct xpeer *pe = &x->peers[p];
    *t = (struct xfer){.x = x, .chunk = c, .peer = p, .off = (int64_t)c * x->f.chunk,
                       .len = cxfer_chunk_len(&x->f, c), .last_ns = (int64_t)om_time_ns()};
    t->wire_max = x->o.compress ? (int64_t)ZSTD_compressBound((size_t)t->len) + 65536 : t->len;
    t->h = curl_easy_init();
    if (!t->h)
        return OM_EIO;
    char range[64], hdr[600];
    snprintf(range, sizeof range, "%" PRId64 "-%" PRId64, t->off, t->off + t->len - 1);
    if (x->o.token) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", x->o.token);
        t->hl = curl_slist_append(t->hl, hdr);
    }
    if (x->o.compress)
        t->hl = curl_slist_append(t->hl, "Accept-Encoding: zstd");
    curl_easy_setopt(t->h, CURLOPT_URL, pe->url);
    curl_easy_setopt(t->h, CURLOPT_RANGE, range);
    curl_easy_setopt(t->h, CURLOPT_HTTPHEADER, t->hl);
    curl_easy_setopt(t->h, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(t->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(t->h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(t->h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(t->h, CURLOPT_CONNECTTIMEOUT_MS, (long)x->o.connect_timeout_ms);
    curl_easy_setopt(t->h, CURLOPT_BUFFERSIZE, 131072L);
    curl_easy_setopt(t->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t->h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->h, CURLOPT_PRIVATE, t);
    if (curl_multi_add_handle(x->m, t->h) != CURLM_OK) {
        curl_easy_cleanup(t->h);
        curl_slist_free_all(t->hl);
        t->h = NULL;
        return OM_EIO;
    }
    x->f.cstate[c] = CH_BUSY;
    x->ntodo--;
    pe->active++;
    x->nactive++;
    return 0;
}

/* Ends t; its chunk is finished (ok) or goes back to the queue. */
static void xfer_end(struct xjob *x, struct xfer *t, bool ok)
{
    curl_multi_remove_handle(x->m, t->h);
    curl_easy_cleanup(t->h);
    curl_slist_free_all(t->hl);
    ZSTD_freeDCtx(t->dz);
    t->h = NULL;
    t->hl = NULL;
    t->dz = NULL;
    x->peers[t->peer].active--;
    x->nactive--;
    if (ok) {
        cxfer_files_done(&x->f, t->chunk);
        x->cpeer[t->chunk] = (int16_t)t->peer;
        x->done_bytes += t->len;
    } else {
        x->f.cstate[t->chunk] = CH_TODO;
        x->ntodo++;
        x->scan_from = OM_MIN(x->scan_from, t->chunk);
    }
}

static void peer_drop(struct xjob *x, int p, const char *why)
{
    struct xpeer *pe = &x->peers[p];
    if (pe->dead)
        return;
    pe->dead = true;
    snprintf(pe->why, sizeof pe->why, "%.199s", why);
    om_log(OM_LOG_WARN, "cluster", "blob %s: peer %s dropped: %s", x->f.digest, pe->addr, why);
    for (int i = 0; i < x->o.max_parallel; i++)
        if (x->xf[i].h && x->xf[i].peer == p)
            xfer_end(x, &x->xf[i], false);
}

static void xfer_done(struct xjob *x, struct xfer *t, CURLcode cc)
{
    struct xpeer *pe = &x->peers[t->peer];
    if (cc == CURLE_OK)
        xfer_check(t);
    bool ok = cc == CURLE_OK && !t->failed && t->got == t->len && (!t->zstd || t->zend);
    if (ok) {
        xfer_end(x, t, true);
        return;
    }
    char why[256];
    if (t->failed)
        snprintf(why, sizeof why, "%s", t->why);
    else if (cc != CURLE_OK)
        snprintf(why, sizeof why, "%s", curl_easy_strerror(cc));
    else
        snprintf(why, sizeof why, "short body (%" PRId64 " of %" PRId64 " bytes)", t->got, t->len);
    int status = t->status, p = t->peer;
    xfer_end(x, t, false);
    if (status == 503 && ++pe->busy < BUSY_MAX) {
        pe->paused_until = (int64_t)om_time_ns() + BUSY_PAUSE_NS;
        return;
    }
    if (status == 404 || status == 410)
        pe->notfound = true;
    peer_drop(x, p, why);
}

/* The peer for chunk c: live, not paused, fewest transfers, not avoid[c]
 * when another is there. -1 when none can take it now. */
static int pick_peer(struct xjob *x, int c, int64_t now)
{
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; pass++) {
        for (int p = 0; p < x->npeers; p++) {
            struct xpeer *pe = &x->peers[p];
            if (pe->dead || pe->paused_until > now || (pass == 0 && x->avoid[c] == p))
                continue;
            if (best < 0 || pe->active < x->peers[best].active)
                best = p;
        }
    }
    return best;
}

static bool any_live(const struct xjob *x)
{
    for (int p = 0; p < x->npeers; p++)
        if (!x->peers[p].dead)
            return true;
    return false;
}

static void emit(struct xjob *x)
{
    if (!x->o.progress)
        return;
    int64_t inflight = 0;
    for (int i = 0; i < x->o.max_parallel; i++)
        if (x->xf[i].h)
            inflight += x->xf[i].got;
    x->prog.done = x->done_bytes + inflight;
    x->prog.peers_used = 0;
    for (int p = 0; p < x->npeers; p++)
        x->prog.peers_used += x->prog.bytes_from_peer[p] > 0;
    x->o.progress(x->o.user, &x->prog);
}

static int fail_all(struct xjob *x, char *err, size_t errlen)
{
    char list[2048] = "";
    size_t n = 0;
    bool all_nf = true;
    for (int p = 0; p < x->npeers; p++) {
        all_nf &= x->peers[p].notfound;
        n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s: %s",
                              p ? "; " : "", x->peers[p].addr, x->peers[p].why);
        if (n >= sizeof list)
            n = sizeof list - 1;
    }
    if (all_nf)
        return om_err(err, errlen, OM_ENOTFOUND, "blob %s: no peer has it (%s)", x->f.digest, list);
    return om_err(err, errlen, OM_EIO, "blob %s: every peer failed (%s)", x->f.digest, list);
}

/* Fetches every unfinished chunk. 0 when all are in and recorded. */
static int run_chunks(struct xjob *x, char *err, size_t errlen)
{
    int rc = 0;
    x->ntodo = 0;
    x->scan_from = 0;
    for (int c = 0; c < x->f.nchunks; c++)
        x->ntodo += x->f.cstate[c] == CH_TODO;
    int64_t last_emit = 0, last_flush = (int64_t)om_time_ns();
    for (;;) {
        if (x->o.cancel && *x->o.cancel) {
            rc = om_err(err, errlen, OM_ECANCELED, "blob %s: fetch canceled", x->f.digest);
            break;
        }
        int64_t now = (int64_t)om_time_ns();
        while (x->scan_from < x->f.nchunks && x->f.cstate[x->scan_from] != CH_TODO)
            x->scan_from++;
        for (int c = x->scan_from, slot = 0; c < x->f.nchunks && x->nactive < x->o.max_parallel;
             c++) {
            if (x->f.cstate[c] != CH_TODO)
                continue;
            int p = pick_peer(x, c, now);
            if (p < 0)
                continue;
            while (x->xf[slot].h)
                slot++;
            if ((rc = xfer_start(x, &x->xf[slot], c, p)) != 0)
                break;
        }
        if (rc) {
            om_err(err, errlen, rc, "blob %s: cannot start a transfer", x->f.digest);
            break;
        }
        if (x->ntodo == 0 && x->nactive == 0)
            break;
        if (x->nactive == 0 && !any_live(x)) {
            rc = fail_all(x, err, errlen);
            break;
        }
        int running = 0;
        curl_multi_perform(x->m, &running);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(x->m, &q))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer *t = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            if (t && t->h == msg->easy_handle)
                xfer_done(x, t, msg->data.result);
        }
        now = (int64_t)om_time_ns();
        for (int i = 0; i < x->o.max_parallel; i++) {
            struct xfer *t = &x->xf[i];
            int64_t limit = t->checked ? x->o.stall_timeout_ms : x->o.first_byte_timeout_ms;
            if (t->h && now - t->last_ns > limit * 1000000LL) {
                xfer_fail(t, "%s", t->checked ? "stalled" : "no answer in time");
                xfer_done(x, t, CURLE_OK);
            }
        }
        if (now - last_flush >= FLUSH_NS) {
            if ((rc = cxfer_files_flush(&x->f, err, errlen)) != 0)
                break;
            last_flush = now;
        }
        if (now - last_emit >= PROGRESS_NS) {
            emit(x);
            last_emit = now;
        }
        if (x->nactive > 0)
            curl_multi_poll(x->m, NULL, 0, 50, NULL);
        else
            curl_multi_poll(x->m, NULL, 0, 20, NULL); /* every peer paused */
    }
    for (int i = 0; i < x->o.max_parallel; i++)
        if (x->xf[i].h)
            xfer_end(x, &x->xf[i], false);
    char ferr[256];
    int frc = cxfer_files_flush(&x->f, ferr, sizeof ferr);
    if (!rc && frc)
        rc = om_err(err, errlen, frc, "%s", ferr);
    return rc;
}

/* ---- the call ---- */

static bool addr_ok(const char *a)
{
    size_t n = strnlen(a, sizeof ((struct cxfer_peer *)0)->api_addr);
    if (n == 0 || n >= sizeof ((struct cxfer_peer *)0)->api_addr)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_' || c == '%'))
            return false;
    }
    return true;
}

static bool token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 512)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] > '~')
            return false;
    return true;
}

/* The chunks whose bytes differ between the previous attempt (prev) and the
 * partial, as a malloc'd list; *n gets their number (-1 on a read error). */
static int *diff_chunks(struct xjob *x, int *n)
{
    unsigned char *h1 = NULL, *h2 = NULL;
    *n = -1;
    if (cxfer_files_chunk_hashes(&x->f, x->f.pfd, &h1) != 0 ||
        cxfer_files_chunk_hashes(&x->f, x->f.fd, &h2) != 0) {
        free(h1);
        free(h2);
        return NULL;
    }
    int *d = om_xmalloc((size_t)x->f.nchunks * sizeof *d + 1);
    *n = 0;
    for (int c = 0; c < x->f.nchunks; c++)
        if (memcmp(h1 + (size_t)c * 32, h2 + (size_t)c * 32, 32) != 0)
            d[(*n)++] = c;
    free(h1);
    free(h2);
    return d;
}

static void name_peers(const struct xjob *x, const int16_t *by, const int *d, int nd, char *out,
                       size_t cap)
{
    bool named[CXFER_MAX_PEERS] = {0};
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < nd && n < cap; i++) {
        int p = by[d[i]];
        if (p < 0 || named[p])
            continue;
        named[p] = true;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", x->peers[p].addr);
    }
}

/* Both attempts failed: for each peer q that served a differing chunk in the
 * second attempt, try the file with those chunks taken from the first attempt
 * instead (q lied, the others did not). 0 when one verifies (committed). */
static int find_liar(struct xjob *x, const int *d, int nd, char *err, size_t errlen)
{
    bool tried[CXFER_MAX_PEERS] = {0};
    for (int i = 0; i < nd; i++) {
        int q = x->cpeer[d[i]];
        if (q < 0 || tried[q])
            continue;
        tried[q] = true;
        int rc = 0;
        for (int k = 0; k < nd && !rc; k++)
            if (x->cpeer[d[k]] == q)
                rc = cxfer_files_swap(&x->f, d[k]);
        if (!rc && cxfer_files_verify(&x->f, NULL, 0) == 0) {
            om_log(OM_LOG_ERROR, "cluster",
                   "blob %s: peer %s served bytes that do not match the digest; the blob was "
                   "assembled from the other peers", x->f.digest, x->peers[q].addr);
            return cxfer_files_commit(&x->f, err, errlen);
        }
        for (int k = 0; k < nd && !rc; k++) /* swap back */
            if (x->cpeer[d[k]] == q)
                rc = cxfer_files_swap(&x->f, d[k]);
        if (rc)
            return om_err(err, errlen, rc, "blob %s: %s", x->f.digest, om_strerror(rc));
    }
    return OM_EFORMAT;
}

static int fetch(struct xjob *x, char *err, size_t errlen)
{
    int rc = run_chunks(x, err, errlen);
    if (rc)
        return rc;
    rc = cxfer_files_verify(&x->f, err, errlen);
    if (rc != OM_EFORMAT)
        return rc ? rc : cxfer_files_commit(&x->f, err, errlen);

    /* a mismatch: keep the first attempt as prev and fetch every chunk again,
     * each from another peer than the first time where there is one */
    om_log(OM_LOG_WARN, "cluster", "%s; fetching it again from other peers", err);
    int16_t *p1 = om_xmalloc((size_t)x->f.nchunks * sizeof *p1 + 1);
    memcpy(p1, x->cpeer, (size_t)x->f.nchunks * sizeof *p1);
    memcpy(x->avoid, p1, (size_t)x->f.nchunks * sizeof *p1);
    for (int c = 0; c < x->f.nchunks; c++)
        x->cpeer[c] = -1;
    x->done_bytes = 0;
    rc = cxfer_files_keep_prev(&x->f, err, errlen);
    if (!rc)
        rc = run_chunks(x, err, errlen);
    if (!rc)
        rc = cxfer_files_verify(&x->f, err, errlen);
    int nd = -1;
    int *d = rc == 0 || rc == OM_EFORMAT ? diff_chunks(x, &nd) : NULL;
    char who[600] = "";
    if (rc == 0) {
        name_peers(x, p1, d, nd, who, sizeof who);
        om_log(OM_LOG_ERROR, "cluster",
               "blob %s: %d chunk(s) of the first attempt did not match the second, verified "
               "one; they came from: %s", x->f.digest, nd, who[0] ? who : "an earlier run");
        rc = cxfer_files_commit(&x->f, err, errlen);
    } else if (rc == OM_EFORMAT) {
        rc = nd > 0 ? find_liar(x, d, nd, err, errlen) : OM_EFORMAT;
        if (rc == OM_EFORMAT) {
            cxfer_files_discard(&x->f);
            name_peers(x, x->cpeer, d, OM_MAX(nd, 0), who, sizeof who);
            om_err(err, errlen, OM_EFORMAT,
                   "blob %s: sha256 mismatch after a second fetch from other peers (%d "
                   "chunk(s) differed between attempts%s%s)", x->f.digest, OM_MAX(nd, 0),
                   who[0] ? "; peers: " : "", who);
        }
    }
    free(d);
    free(p1);
    return rc;
}

int cxfer_fetch(struct store_root *store, const char *digest, int64_t size,
                const struct cxfer_peer *peers, int n_peers, const struct cxfer_opts *o,
                char *err, size_t errlen)
{
    struct cxfer_opts opts = o ? *o : (struct cxfer_opts){0};
    char canon[72], path[4200];
    if (!store || !digest || store_digest_canon(digest, canon) != 0 ||
        store_blob_path(store, canon, path, sizeof path) != 0)
        return om_err(err, errlen, OM_EINVAL, "invalid digest \"%.80s\"", digest ? digest : "");
    if (size < 0 || size > CXFER_MAX_SIZE)
        return om_err(err, errlen, OM_EINVAL, "blob %s: invalid size %" PRId64, canon, size);
    if (opts.token && !token_ok(opts.token))
        return om_err(err, errlen, OM_EINVAL, "invalid cluster token");
    if (n_peers < 0 || (n_peers > 0 && !peers))
        return om_err(err, errlen, OM_EINVAL, "invalid peer list");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size)
        return 0;
    if (n_peers == 0)
        return om_err(err, errlen, OM_ENOTFOUND, "blob %s: no peer to fetch it from", canon);
    n_peers = OM_MIN(n_peers, CXFER_MAX_PEERS);
    for (int p = 0; p < n_peers; p++)
        if (!addr_ok(peers[p].api_addr))
            return om_err(err, errlen, OM_EINVAL, "invalid peer address \"%.80s\"",
                          peers[p].api_addr);
    if (opts.max_parallel <= 0)
        opts.max_parallel = 4;
    opts.max_parallel = OM_MIN(opts.max_parallel, 64);
    if (opts.connect_timeout_ms <= 0)
        opts.connect_timeout_ms = 5000;
    if (opts.stall_timeout_ms <= 0)
        opts.stall_timeout_ms = 30000;
    if (opts.first_byte_timeout_ms <= 0)
        opts.first_byte_timeout_ms = 300000;

    struct xjob *x = om_xcalloc(1, sizeof *x);
    x->o = opts;
    x->npeers = n_peers;
    for (int p = 0; p < n_peers; p++) {
        snprintf(x->peers[p].addr, sizeof x->peers[p].addr, "%s", peers[p].api_addr);
        snprintf(x->peers[p].url, sizeof x->peers[p].url, "http://%s/api/cluster/blob/%s",
                 peers[p].api_addr, canon);
    }
    struct cxfer_files *f = &x->f;
    memcpy(f->digest, canon, sizeof canon);
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->part, sizeof f->part, "%s-xfer", path);
    snprintf(f->state, sizeof f->state, "%s-xfer.state", path);
    snprintf(f->prev, sizeof f->prev, "%s-xfer.prev", path);
    f->size = size;
    int rc = cxfer_files_open(f, (int64_t)opts.chunk, &x->prog.resumed, err, errlen);
    if (!rc && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size) {
        cxfer_files_discard(f); /* finished by someone else meanwhile */
        cxfer_files_close(f);
        free(x);
        return 0;
    }
    if (!rc) {
        x->prog.total = size;
        x->done_bytes = x->prog.resumed;
        x->xf = om_xcalloc((size_t)opts.max_parallel, sizeof *x->xf);
        x->cpeer = om_xmalloc((size_t)f->nchunks * sizeof *x->cpeer + 1);
        x->avoid = om_xmalloc((size_t)f->nchunks * sizeof *x->avoid + 1);
        for (int c = 0; c < f->nchunks; c++)
            x->cpeer[c] = x->avoid[c] = -1;
        x->m = curl_multi_init();
        rc = x->m ? fetch(x, err, errlen) : om_err(err, errlen, OM_EIO, "curl_multi_init failed");
        if (x->m)
            curl_multi_cleanup(x->m);
    }
    if (rc && rc != OM_ECANCELED && rc != OM_EBUSY && f->sfd >= 0 && x->done_bytes == 0)
        cxfer_files_discard(f); /* nothing to resume from: leave no litter */
    if (rc == 0) {
        x->prog.done = size;
        x->prog.peers_used = 0;
        for (int p = 0; p < x->npeers; p++)
            x->prog.peers_used += x->prog.bytes_from_peer[p] > 0;
        if (opts.progress)
            opts.progress(opts.user, &x->prog);
    }
    cxfer_files_close(f);
    free(x->xf);
    free(x->cpeer);
    free(x->avoid);
    free(x);
    return rc;
}
