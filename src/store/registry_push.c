/* store/registry_push: reg_push, Ollama's PushModel and server/upload.go.
 *
 * For each layer then the config: HEAD the blob (200: already there);
 * otherwise POST blobs/uploads/ (with mount=<digest>&from=<ns/model> when the
 * layer names a source model; 201 = mounted), then the parts in order:
 * PATCH <upload url> with Content-Range "<start>-<end>" and
 * X-Redirect-Uploads: 1; a 307 means PUT the part body to the redirect
 * (pre-signed) URL with no credentials; the next upload URL comes from
 * Docker-Upload-Location or Location. Commit: PUT <upload url>?digest=&etag=
 * <md5 of the part md5s>-<parts>. Last the manifest PUT with the bytes
 * stored locally. PATCHes go one after the other (each gives the next
 * upload URL); parts a PATCH redirected are PUT by threads, up to
 * max_parallel at once, as Ollama runs them in parallel only behind
 * redirects. Progress is reported from the caller's thread only. */
#include "store/registry_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/om.h"

struct up {
    reg_progress_fn cb;
    void *ud;
    const char *digest;
    char status[64];
    int64_t total, completed, last_ns; /* completed: bytes of parts sent inline */
    _Atomic int64_t job_bytes;         /* bytes sent by redirect PUT threads */
};

static void up_emit(struct up *u, int force)
{
    int64_t now = (int64_t)om_time_ns();
    if (force || now - u->last_ns >= 60 * 1000000LL) {
        u->last_ns = now;
        reg_emit(u->cb, u->ud, u->status, u->digest, u->total, u->completed + atomic_load(&u->job_bytes));
    }
}

static void up_bytes(void *ud, int64_t n)
{
    struct up *u = ud;
    u->completed += n;
    up_emit(u, 0);
}

/* A part PUT to the pre-signed URL a PATCH was redirected to, on its own
 * thread: parts behind redirects go up in parallel, as Ollama's. */
struct put_job {
    struct reg_client *c;
    struct up *u;
    int fd, started, joined, rc;
    _Atomic int done;
    int64_t off, size, attempt;
    char url[REG_URL_MAX];
    unsigned char md5[16];
    char err[256];
    pthread_t th;
};

static void job_bytes(void *ud, int64_t n)
{
    struct put_job *j = ud;
    j->attempt += n;
    atomic_fetch_add(&j->u->job_bytes, n);
}

static void *put_thread(void *arg)
{
    struct put_job *j = arg;
    struct reg_client *c = j->c;
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %lld", (long long)j->size);
    const char *hdrs[] = { "Content-Type: application/octet-stream", cl, NULL };
    int rc = OM_EIO;
    for (int t = 0; t < c->cfg.max_tries && rc && rc != OM_ECANCELED; t++) {
        if (t && reg_sleep_ms(c, (int64_t)c->cfg.retry_delay_ms << (t - 1))) {
            rc = om_err(j->err, sizeof j->err, OM_ECANCELED, "canceled");
            break;
        }
        j->attempt = 0;
        struct reg_body b = { .fd = j->fd, .off = j->off, .len = j->size, .on_bytes = job_bytes, .ud = j, .want_md5 = 1 };
        struct reg_resp r;
        rc = reg_http(c, "PUT", j->url, hdrs, &b, 1 << 16, 0, 0, &r, j->err, sizeof j->err);
        if (!rc) {
            if (r.code >= 400)
                rc = om_err(j->err, sizeof j->err, OM_EIO, "http status %ld: %s", r.code, r.body ? r.body : "");
            reg_resp_free(&r);
        }
        if (rc) atomic_fetch_sub(&j->u->job_bytes, j->attempt);
        else memcpy(j->md5, b.md5, 16);
    }
    j->rc = rc;
    atomic_store(&j->done, 1);
    return NULL;
}

/* Joins finished jobs until at most `keep` are still running, reporting
 * progress meanwhile. Returns the first failure among the joined. */
static int jobs_wait(struct up *u, struct put_job *jobs, int n, int keep, char *err, size_t errlen)
{
    int rc = 0;
    for (;;) {
        int running = 0;
        for (int i = 0; i < n; i++) {
            struct put_job *j = &jobs[i];
            if (!j->started || j->joined) continue;
            if (atomic_load(&j->done)) {
                pthread_join(j->th, NULL);
                j->joined = 1;
                if (j->rc && !rc) rc = om_err(err, errlen, j->rc, "%s", j->err);
            } else {
                running++;
            }
        }
        if (running <= keep) return rc;
        struct timespec ts = { 0, 20 * 1000000 };
        nanosleep(&ts, NULL);
        up_emit(u, 0);
    }
}

/* One part: PATCH it; a 307 hands the part to a PUT thread (job->started),
 * any other success means the registry took it inline (md5 set). The next
 * upload URL replaces upload_url. */
static int push_part(struct reg_client *c, struct up *u, int fd, int64_t off, int64_t size,
                     char *upload_url, size_t cap, unsigned char md5[16], struct put_job *job,
                     char *err, size_t errlen)
{
    char cl[64], cr[96];
    snprintf(cl, sizeof cl, "Content-Length: %lld", (long long)size);
    snprintf(cr, sizeof cr, "Content-Range: %lld-%lld", (long long)off, (long long)(off + size - 1));
    const char *hdrs[] = { "Content-Type: application/octet-stream", cl, "X-Redirect-Uploads: 1", cr, NULL };
    int rc = OM_EIO;
    for (int t = 0; t < c->cfg.max_tries && rc && rc != OM_ECANCELED; t++) {
        if (t && reg_sleep_ms(c, (int64_t)c->cfg.retry_delay_ms << (t - 1)))
            return om_err(err, errlen, OM_ECANCELED, "canceled");
        int64_t before = u->completed;
        struct reg_body b = { .fd = fd, .off = off, .len = size, .on_bytes = up_bytes, .ud = u, .want_md5 = 1 };
        struct reg_resp r;
        rc = reg_request(c, "PATCH", upload_url, hdrs, &b, 1 << 16, 0, &r, err, errlen);
        if (rc) { u->completed = before; continue; }
        char next[REG_URL_MAX], redir[REG_URL_MAX];
        const char *loc = r.upload_location[0] ? r.upload_location : r.location;
        int bad = loc[0] && reg_url_resolve(upload_url, loc, next, sizeof next);
        if (r.code == 307) { /* the body (if any got out) went nowhere */
            u->completed = before;
            bad = bad || !r.location[0] || reg_url_resolve(upload_url, r.location, redir, sizeof redir);
        } else {
            memcpy(md5, b.md5, 16);
        }
        long code = r.code;
        reg_resp_free(&r);
        if (bad) { rc = om_err(err, errlen, OM_EFORMAT, "upload reply without a usable Location"); continue; }
        if (loc[0]) snprintf(upload_url, cap, "%s", next);
        if (code == 307) {
            *job = (struct put_job){ .c = c, .u = u, .fd = fd, .off = off, .size = size };
            snprintf(job->url, sizeof job->url, "%s", redir);
            if (pthread_create(&job->th, NULL, put_thread, job))
                return om_err(err, errlen, OM_EIO, "cannot start an upload thread");
            job->started = 1;
        }
    }
    return rc;
}

static int push_blob(struct reg_client *c, struct store_root *root, const char *digest,
                     const char *from, reg_progress_fn cb, void *ud, char *err, size_t errlen)
{
    struct up u = { .cb = cb, .ud = ud, .digest = digest };
    snprintf(u.status, sizeof u.status, "pushing %.12s", digest + 7);
    char path[4096], url[REG_URL_MAX];
    int rc = store_blob_path(root, digest, path, sizeof path);
    if (rc) return om_err(err, errlen, rc, "invalid digest %s", digest);
    struct stat st;
    if (stat(path, &st)) return om_err(err, errlen, OM_ENOTFOUND, "%s: %s", path, strerror(errno));
    u.total = st.st_size;

    snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", c->base, c->repo, digest);
    struct reg_resp r;
    rc = reg_request_follow(c, "HEAD", url, NULL, 0, &r, err, errlen);
    if (rc == 0) {
        reg_resp_free(&r);
        reg_emit(cb, ud, u.status, digest, u.total, u.total);
        return 0;
    }
    if (rc != OM_ENOTFOUND) return rc;

    snprintf(url, sizeof url, "%s/v2/%s/blobs/uploads/", c->base, c->repo);
    struct store_name fn;
    if (from && *from && store_name_parse(from, &fn) == 0) {
        char fromrepo[520];
        snprintf(fromrepo, sizeof fromrepo, "%s/%s", fn.ns, fn.model);
        if (reg_url_add_query(url, sizeof url, "from", fromrepo) ||
            reg_url_add_query(url, sizeof url, "mount", digest))
            return om_err(err, errlen, OM_ERANGE, "upload URL too long");
    }
    rc = reg_request(c, "POST", url, NULL, NULL, 1 << 16, 0, &r, err, errlen);
    if (rc) return rc;
    char upload[REG_URL_MAX];
    const char *loc = r.upload_location[0] ? r.upload_location : r.location;
    long code = r.code;
    int bad = !loc[0] || reg_url_resolve(url, loc, upload, sizeof upload);
    reg_resp_free(&r);
    if (code == 201) { /* mounted */
        reg_emit(cb, ud, u.status, digest, u.total, u.total);
        return 0;
    }
    if (bad) return om_err(err, errlen, OM_EFORMAT, "upload start without a usable Location");

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return om_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
    int64_t psize = reg_part_size(&c->cfg, u.total);
    int nparts = (int)((u.total + psize - 1) / psize);
    struct put_job *jobs = om_xcalloc((size_t)OM_MAX(nparts, 1), sizeof *jobs);
    unsigned char (*md5s)[16] = om_xcalloc((size_t)OM_MAX(nparts, 1), 16);
    reg_emit(cb, ud, u.status, digest, u.total, 0);
    for (int i = 0; i < nparts && !rc; i++) {
        rc = jobs_wait(&u, jobs, i, c->cfg.max_parallel - 1, err, errlen);
        int64_t off = (int64_t)i * psize;
        if (!rc)
            rc = push_part(c, &u, fd, off, OM_MIN(psize, u.total - off), upload, sizeof upload, md5s[i],
                           &jobs[i], err, errlen);
    }
    char jerr[256] = "";
    int jrc = jobs_wait(&u, jobs, nparts, 0, jerr, sizeof jerr); /* all of them, even after a failure */
    if (!rc && jrc) rc = om_err(err, errlen, jrc, "%s", jerr);
    close(fd);
    unsigned char sum[16];
    unsigned int sl = 0;
    EVP_MD_CTX *all = EVP_MD_CTX_new();
    EVP_DigestInit_ex(all, EVP_md5(), NULL);
    for (int i = 0; i < nparts; i++)
        EVP_DigestUpdate(all, jobs[i].started ? jobs[i].md5 : md5s[i], 16);
    EVP_DigestFinal_ex(all, sum, &sl);
    EVP_MD_CTX_free(all);
    free(jobs);
    free(md5s);
    if (rc) return rc;

    char etag[64];
    for (int i = 0; i < 16; i++) snprintf(etag + 2 * i, 3, "%02x", sum[i]);
    snprintf(etag + 32, sizeof etag - 32, "-%d", nparts);
    if (reg_url_add_query(upload, sizeof upload, "digest", digest) ||
        reg_url_add_query(upload, sizeof upload, "etag", etag))
        return om_err(err, errlen, OM_ERANGE, "upload URL too long");
    const char *hdrs[] = { "Content-Type: application/octet-stream", "Content-Length: 0", NULL };
    rc = OM_EIO;
    for (int t = 0; t < c->cfg.max_tries && rc && rc != OM_ECANCELED; t++) {
        if (t && reg_sleep_ms(c, (int64_t)c->cfg.retry_delay_ms << (t - 1)))
            return om_err(err, errlen, OM_ECANCELED, "canceled");
        struct reg_body empty = { .mem = "", .len = 0 };
        rc = reg_request(c, "PUT", upload, hdrs, &empty, 1 << 16, 0, &r, err, errlen);
        if (!rc) reg_resp_free(&r);
    }
    if (!rc) reg_emit(cb, ud, u.status, digest, u.total, u.total);
    return rc;
}

int reg_push(struct store_root *root, const char *name, const struct reg_opts *o,
             reg_progress_fn cb, void *ud, volatile int *cancel, char *err, size_t errlen)
{
    reg_emit(cb, ud, "retrieving manifest", NULL, 0, 0);
    struct reg_client c;
    int rc = reg_client_init(&c, name, o, cancel, err, errlen);
    if (rc) { reg_client_close(&c); return rc; }
    char *bytes = NULL;
    size_t len = 0;
    json_t *m = NULL;
    rc = store_manifest_read(root, &c.name, &bytes, &len, NULL, NULL);
    if (rc) {
        reg_emit(cb, ud, "couldn't retrieve manifest", NULL, 0, 0);
        om_err(err, errlen, rc, rc == OM_ENOTFOUND ? "file does not exist" : "reading manifest: %s", om_strerror(rc));
        goto out;
    }
    json_error_t je;
    m = json_loadb(bytes, len, 0, &je);
    json_t *layers = json_object_get(m, "layers"), *config = json_object_get(m, "config");
    if (!json_is_object(m) || (layers && !json_is_array(layers))) {
        rc = om_err(err, errlen, OM_EFORMAT, "local manifest of %s is malformed", name);
        goto out;
    }
    size_t nl = json_array_size(layers);
    for (size_t i = 0; i <= nl && !rc; i++) {
        json_t *l = i < nl ? json_array_get(layers, i) : config;
        const char *dg = json_string_value(json_object_get(l, "digest"));
        if (i == nl && (!dg || !*dg)) break;
        char canon[72];
        if (!dg || store_digest_canon(dg, canon)) {
            rc = om_err(err, errlen, OM_EFORMAT, "local manifest layer %zu: invalid digest", i);
            break;
        }
        rc = push_blob(&c, root, canon, json_string_value(json_object_get(l, "from")), cb, ud, err, errlen);
    }
    if (rc) goto out;

    reg_emit(cb, ud, "pushing manifest", NULL, 0, 0);
    char url[REG_URL_MAX];
    snprintf(url, sizeof url, "%s/v2/%s/manifests/%s", c.base, c.repo, c.name.tag);
    const char *hdrs[] = { "Content-Type: " REG_MANIFEST_ACCEPT, NULL };
    struct reg_body body = { .mem = bytes, .len = (int64_t)len };
    struct reg_resp r;
    rc = reg_request(&c, "PUT", url, hdrs, &body, 1 << 16, 0, &r, err, errlen);
    if (rc) goto out;
    reg_resp_free(&r);
    reg_emit(cb, ud, "success", NULL, 0, 0);
out:
    json_decref(m);
    free(bytes);
    reg_client_close(&c);
    return rc;
}
