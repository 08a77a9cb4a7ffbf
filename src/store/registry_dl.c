/* store/registry_dl: blob downloads for pulls (Ollama's server/download.go).
 *
 * A download is shared process-wide by everyone who wants the same final
 * blob path (same store, same digest): the first caller prepares it (HEAD
 * for the size, part records, the data URL behind the registry's 307) and
 * starts a worker thread; every caller then waits on it, reporting progress
 * from its own thread. When the last waiter is cancelled the worker stops.
 *
 * On disk, as Ollama: blobs/sha256-<hex>-partial (the data, sparse, written
 * at each part's offset) and blobs/sha256-<hex>-partial-<N> part records
 * {"N","Offset","Size","Completed"}. A record never claims bytes that were
 * not written to the data file first, so a later pull resumes from them.
 * The worker drives all parts of a blob with one curl multi handle: ranged
 * GETs straight to the data URL (no Authorization unless the URL is the
 * registry's own), each part retried with exponential backoff and restarted
 * when it stalls. The finished file is fsync'd, its sha256 checked, and only
 * then renamed to its final name; on mismatch everything is deleted. */
#include "store/registry_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "base/om.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static struct reg_dl *g_list;

static void g_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&g_cv, &a);
    pthread_condattr_destroy(&a);
}


int64_t reg_part_size(const struct reg_cfg *cfg, int64_t total)
{
    if (cfg->part_size > 0) return cfg->part_size;
    int64_t s = total / 16;
    return s < 100 * REG_MB ? 100 * REG_MB : s > 1000 * REG_MB ? 1000 * REG_MB : s;
}

int reg_sleep_ms(const struct reg_client *c, int64_t ms)
{
    int64_t end = (int64_t)om_time_ns() + ms * 1000000;
    while ((int64_t)om_time_ns() < end) {
        if (reg_canceled(c)) return 1;
        struct timespec ts = { 0, 20 * 1000000 };
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void dl_free(struct reg_dl *d)
{
    if (d->fd >= 0) close(d->fd);
    free(d->parts);
    free(d);
}

/* ---- worker ---- */

static size_t part_write(char *buf, size_t sz, size_t nitems, void *ud)
{
    struct reg_part *p = ud;
    size_t n = sz * nitems;
    long code = 0;
    curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &code);
    /* only a 206, or a 200 for a range that starts at 0, carries our bytes */
    if (!(code == 206 || (code == 200 && p->off + p->completed == 0))) { p->bad_status = (int)code; return 0; }
    if ((int64_t)n > p->size - p->completed) return 0; /* more than asked for */
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(p->d->fd, buf + done, n - done, p->off + p->completed + (int64_t)done);
        if (w <= 0) { if (w < 0 && errno == EINTR) continue; return 0; }
        done += (size_t)w;
    }
    p->completed += (int64_t)n;
    p->d->completed += (int64_t)n;
    p->last_ns = (int64_t)om_time_ns();
    return n;
}

static void part_start(struct reg_dl *d, struct reg_part *p, CURLM *m)
{
    p->h = curl_easy_init();
    p->bad_status = 0;
    p->last_ns = (int64_t)om_time_ns();
    snprintf(p->range, sizeof p->range, "%lld-%lld", (long long)(p->off + p->completed),
             (long long)(p->off + p->size - 1));
    curl_easy_setopt(p->h, CURLOPT_URL, d->url);
    curl_easy_setopt(p->h, CURLOPT_RANGE, p->range);
    curl_easy_setopt(p->h, CURLOPT_USERAGENT, d->ua);
    curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p->h, CURLOPT_FOLLOWLOCATION, 1L); /* the data host may hop (CDN) */
    curl_easy_setopt(p->h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(p->h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(p->h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(p->h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, part_write);
    curl_easy_setopt(p->h, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(p->h, CURLOPT_PRIVATE, p);
    if (d->auth[0]) { /* curl drops it if the data URL redirects to another host */
        p->hl = curl_slist_append(NULL, d->auth);
        curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, p->hl);
    }
    curl_multi_add_handle(m, p->h);
}

static void part_stop(struct reg_part *p, CURLM *m)
{
    curl_multi_remove_handle(m, p->h);
    curl_easy_cleanup(p->h);
    curl_slist_free_all(p->hl);
    p->h = NULL;
    p->hl = NULL;
}

static int dl_verify(struct reg_dl *d, char *err, size_t errlen)
{
    unsigned char buf[1 << 16], sum[32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    int64_t off = 0;
    for (;;) {
        ssize_t r = pread(d->fd, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { EVP_MD_CTX_free(ctx); return om_err(err, errlen, OM_EIO, "%s-partial: read: %s", d->path, strerror(errno)); }
        if (r == 0) break;
        EVP_DigestUpdate(ctx, buf, (size_t)r);
        off += r;
    }
    unsigned int sl = 0;
    EVP_DigestFinal_ex(ctx, sum, &sl);
    EVP_MD_CTX_free(ctx);
    char got[72] = "sha256:";
    for (int i = 0; i < 32; i++) snprintf(got + 7 + 2 * i, 3, "%02x", sum[i]);
    if (strcmp(got, d->digest) != 0)
        return om_err(err, errlen, OM_EFORMAT, "digest mismatch, file must be downloaded again: want %s, got %s",
                      d->digest, got);
    return 0;
}

static int dl_run(struct reg_dl *d, char *err, size_t errlen)
{
    CURLM *m = curl_multi_init();
    int rc = 0, active = 0;
    int64_t last_flush = (int64_t)om_time_ns();
    while (!rc) {
        if (atomic_load(&d->stopping)) { rc = om_err(err, errlen, OM_ECANCELED, "canceled"); break; }
        int64_t now = (int64_t)om_time_ns();
        int left = 0;
        for (int i = 0; i < d->nparts; i++) {
            struct reg_part *p = &d->parts[i];
            if (p->completed == p->size) continue;
            left++;
            if (!p->h && active < d->cfg.max_parallel && p->retry_at_ns <= now) {
                part_start(d, p, m);
                active++;
            }
        }
        if (!left) break;
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(m, &q))) {
            if (msg->msg != CURLMSG_DONE) continue;
            struct reg_part *p = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
            CURLcode cc = msg->data.result;
            part_stop(p, m);
            active--;
            reg_dl_rec_write(d, p);
            if (p->completed == p->size) continue; /* extra bytes past the range are no failure */
            if (++p->tries >= d->cfg.max_tries) {
                if (p->bad_status)
                    rc = om_err(err, errlen, OM_EIO, "%.12s part %d: unexpected status code %d", d->digest + 7, p->n, p->bad_status);
                else
                    rc = om_err(err, errlen, OM_EIO, "max retries exceeded: %.12s part %d: %s", d->digest + 7,
                                p->n, cc == CURLE_OK ? "short response" : curl_easy_strerror(cc));
                break;
            }
            int64_t delay = (int64_t)d->cfg.retry_delay_ms << (p->tries - 1);
            om_log(OM_LOG_INFO, "store", "%.12s part %d attempt %d failed: %s, retrying in %lld ms",
                   d->digest + 7, p->n, p->tries - 1, curl_easy_strerror(cc), (long long)delay);
            p->retry_at_ns = (int64_t)om_time_ns() + delay * 1000000;
        }
        now = (int64_t)om_time_ns();
        for (int i = 0; i < d->nparts; i++) { /* stalled parts restart, not counted as a try */
            struct reg_part *p = &d->parts[i];
            if (p->h && now - p->last_ns > (int64_t)d->cfg.stall_timeout_ms * 1000000) {
                om_log(OM_LOG_INFO, "store", "%.12s part %d stalled; retrying", d->digest + 7, p->n);
                part_stop(p, m);
                active--;
                reg_dl_rec_write(d, p);
            }
        }
        if (now - last_flush > 1000000000LL) {
            for (int i = 0; i < d->nparts; i++)
                if (d->parts[i].h) reg_dl_rec_write(d, &d->parts[i]);
            last_flush = now;
        }
        if (!rc) curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    for (int i = 0; i < d->nparts; i++) {
        if (d->parts[i].h) {
            part_stop(&d->parts[i], m);
            reg_dl_rec_write(d, &d->parts[i]);
        }
    }
    curl_multi_cleanup(m);
    if (rc) return rc;

    char partial[4200];
    snprintf(partial, sizeof partial, "%s-partial", d->path);
    if (fsync(d->fd)) return om_err(err, errlen, -errno, "%s: fsync: %s", partial, strerror(errno));
    rc = dl_verify(d, err, errlen);
    if (rc) { /* a corrupt blob is never resumed from */
        reg_dl_rec_remove_all(d);
        unlink(partial);
        return rc;
    }
    reg_dl_rec_remove_all(d);
    if (rename(partial, d->path)) return om_err(err, errlen, -errno, "%s: rename: %s", d->path, strerror(errno));
    return 0;
}

static void dl_finish(struct reg_dl *d, int rc, const char *err)
{
    pthread_mutex_lock(&g_mu);
    for (struct reg_dl **pp = &g_list; *pp; pp = &(*pp)->next)
        if (*pp == d) { *pp = d->next; break; }
    d->done = 1;
    d->rc = rc;
    snprintf(d->err, sizeof d->err, "%s", err ? err : "");
    d->worker_alive = 0;
    int free_it = d->waiters == 0;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    if (free_it) dl_free(d);
}

static void *dl_thread(void *arg)
{
    struct reg_dl *d = arg;
    char err[512] = "";
    int rc = dl_run(d, err, sizeof err);
    dl_finish(d, rc, err);
    return NULL;
}

/* ---- waiting ---- */

int reg_blob_fetch(struct reg_client *c, struct store_root *root, const char *digest,
                   reg_progress_fn cb, void *ud, int *cache_hit, char *err, size_t errlen)
{
    pthread_once(&g_once, g_init);
    char path[4096], status[64];
    *cache_hit = 0;
    int rc = store_blob_path(root, digest, path, sizeof path);
    if (rc) return om_err(err, errlen, rc, "invalid digest %s", digest);
    snprintf(status, sizeof status, "pulling %.12s", digest + 7);
    struct stat st;
    if (stat(path, &st) == 0) {
        *cache_hit = 1;
        reg_emit(cb, ud, status, digest, st.st_size, st.st_size);
        return 0;
    }

    struct reg_dl *d;
again:
    pthread_mutex_lock(&g_mu);
    for (;;) {
        for (d = g_list; d && strcmp(d->path, path) != 0; d = d->next) {}
        if (!d || !atomic_load(&d->stopping)) break;
        struct timespec ts; /* a cancelled download still winding down: wait for it */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&g_cv, &g_mu, &ts);
    }
    int owner = !d;
    if (owner && stat(path, &st) == 0) {
        /* finished (renamed, then unlisted under g_mu) since the first look */
        pthread_mutex_unlock(&g_mu);
        *cache_hit = 1;
        reg_emit(cb, ud, status, digest, st.st_size, st.st_size);
        return 0;
    }
    if (owner) {
        d = om_xcalloc(1, sizeof *d);
        d->fd = -1;
        snprintf(d->path, sizeof d->path, "%s", path);
        snprintf(d->digest, sizeof d->digest, "%s", digest);
        snprintf(d->ua, sizeof d->ua, "%s", c->cfg.user_agent);
        d->cfg = c->cfg;
        d->cfg.user_agent = d->ua;
        d->cfg.key_dir = NULL;
        d->worker_alive = 1; /* until prepare fails or the worker ends */
        d->next = g_list;
        g_list = d;
    }
    d->waiters++;
    pthread_mutex_unlock(&g_mu);

    if (owner) {
        char perr[512] = "";
        rc = reg_dl_prepare(c, d, perr, sizeof perr);
        pthread_t th;
        if (!rc && pthread_create(&th, NULL, dl_thread, d) == 0) {
            pthread_detach(th);
        } else {
            if (!rc) snprintf(perr, sizeof perr, "cannot start a download thread");
            dl_finish(d, rc ? rc : OM_EIO, perr);
        }
    }

    int64_t last_emit = 0;
    pthread_mutex_lock(&g_mu);
    while (!d->done) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 60 * 1000000;
        if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
        pthread_cond_timedwait(&g_cv, &g_mu, &ts);
        if (d->done) break;
        int64_t total = d->total, done = d->completed;
        int canceled = reg_canceled(c);
        if (canceled) {
            if (--d->waiters == 0) atomic_store(&d->stopping, 1);
            pthread_mutex_unlock(&g_mu);
            return om_err(err, errlen, OM_ECANCELED, "canceled");
        }
        if ((int64_t)om_time_ns() - last_emit >= 55 * 1000000 && total > 0) {
            pthread_mutex_unlock(&g_mu);
            reg_emit(cb, ud, status, digest, total, done);
            last_emit = (int64_t)om_time_ns();
            pthread_mutex_lock(&g_mu);
        }
    }
    rc = d->rc;
    if (rc) om_err(err, errlen, rc, "%s", d->err);
    int64_t total = d->total;
    int free_it = --d->waiters == 0 && !d->worker_alive;
    pthread_mutex_unlock(&g_mu);
    if (free_it) dl_free(d);
    /* the download we joined was stopped by its owner's cancel, not ours */
    if (rc == OM_ECANCELED && !reg_canceled(c)) goto again;
    if (!rc) reg_emit(cb, ud, status, digest, total, total);
    return rc;
}
