/* cluster/cxfer_run: the transfers of one peer fetch (cxfer.h, cxfer_int.h).
 *
 * One curl multi handle drives every transfer of a fetch; a transfer is one
 * chunk asked from one peer with "Range: bytes=a-b". The write callback
 * checks the answer before it keeps a byte: status 206, a Content-Range that
 * names exactly the asked range and the expected total, an encoding we asked
 * for, and never more bytes (after decoding) than the chunk holds; wire bytes
 * are bounded too, so a peer cannot stream forever, and a zstd frame cannot
 * ask for a window larger than the chunk. Bytes go straight to the partial
 * file at their offset (pwrite), so memory does not grow with the blob. A
 * transfer that breaks a rule, fails, stalls, or gets no answer in time drops
 * its peer; the peer's other transfers are stopped and every unfinished chunk
 * goes back to the queue for the live peers. 503 (a busy peer) only pauses
 * the peer.
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
#include <unistd.h>

#include "base/om.h"

#define BUSY_PAUSE_NS (200 * 1000000LL)
#define BUSY_MAX 50        /* 503 answers a peer may give before it is dropped */
#define PROGRESS_NS (50 * 1000000LL)
#define FLUSH_NS (250 * 1000000LL)

/* ---- answer checks ---- */

static void xfer_fail(struct cxfer_tx *t, const char *fmt, const char *arg)
{
    if (t->failed)
        return;
    t->failed = true;
    snprintf(t->why, sizeof t->why, fmt, arg);
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct cxfer_tx *t = ud;
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
static bool xfer_check(struct cxfer_tx *t)
{
    if (t->checked)
        return !t->failed;
    t->checked = true;
    long code = 0;
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &code);
    t->status = (int)code;
    struct cxfer_job *x = t->x;
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

static bool put_bytes(struct cxfer_tx *t, const char *p, size_t n)
{
    struct cxfer_job *x = t->x;
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
    struct cxfer_tx *t = ud;
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

static int xfer_start(struct cxfer_job *x, struct cxfer_tx *t, int c, int p)
{
    struct cxfer_pst *pe = &x->peers[p];
    *t = (struct cxfer_tx){.x = x, .chunk = c, .peer = p, .off = (int64_t)c * x->f.chunk,
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
static void xfer_end(struct cxfer_job *x, struct cxfer_tx *t, bool ok)
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

static void peer_drop(struct cxfer_job *x, int p, const char *why)
{
    struct cxfer_pst *pe = &x->peers[p];
    if (pe->dead)
        return;
    pe->dead = true;
    snprintf(pe->why, sizeof pe->why, "%.199s", why);
    om_log(OM_LOG_WARN, "cluster", "blob %s: peer %s dropped: %s", x->f.digest, pe->addr, why);
    for (int i = 0; i < x->o.max_parallel; i++)
        if (x->xf[i].h && x->xf[i].peer == p)
            xfer_end(x, &x->xf[i], false);
}

static void xfer_done(struct cxfer_job *x, struct cxfer_tx *t, CURLcode cc)
{
    struct cxfer_pst *pe = &x->peers[t->peer];
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
static int pick_peer(struct cxfer_job *x, int c, int64_t now)
{
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; pass++) {
        for (int p = 0; p < x->npeers; p++) {
            struct cxfer_pst *pe = &x->peers[p];
            if (pe->dead || pe->paused_until > now || (pass == 0 && x->avoid[c] == p))
                continue;
            if (best < 0 || pe->active < x->peers[best].active)
                best = p;
        }
    }
    return best;
}

static bool any_live(const struct cxfer_job *x)
{
    for (int p = 0; p < x->npeers; p++)
        if (!x->peers[p].dead)
            return true;
    return false;
}

static void emit(struct cxfer_job *x)
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

static int fail_all(struct cxfer_job *x, char *err, size_t errlen)
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
int cxfer_run_chunks(struct cxfer_job *x, char *err, size_t errlen)
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
            struct cxfer_tx *t = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            if (t && t->h == msg->easy_handle)
                xfer_done(x, t, msg->data.result);
        }
        cxfer_files_hash_advance(&x->f, 1); /* the sha256 keeps up with the transfers */
        now = (int64_t)om_time_ns();
        for (int i = 0; i < x->o.max_parallel; i++) {
            struct cxfer_tx *t = &x->xf[i];
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
