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
 * stored locally. Parts are sent one after the other (Ollama runs them in
 * parallel only behind redirects; the order on the wire is the same). */
#include "store/registry_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/om.h"

struct up {
    reg_progress_fn cb;
    void *ud;
    const char *digest;
    char status[64];
    int64_t total, completed, last_ns;
};

static void up_bytes(void *ud, int64_t n)
{
    struct up *u = ud;
    u->completed += n;
    int64_t now = (int64_t)om_time_ns();
    if (now - u->last_ns >= 60 * 1000000LL) {
        u->last_ns = now;
        reg_emit(u->cb, u->ud, u->status, u->digest, u->total, u->completed);
    }
}

/* One part: PATCH, or PUT to the redirect the PATCH answered with. */
static int push_part(struct reg_client *c, struct up *u, int fd, int64_t off, int64_t size,
                     char *upload_url, size_t cap, unsigned char md5[16], char *err, size_t errlen)
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
        char next[REG_URL_MAX], redirect[REG_URL_MAX];
        const char *loc = r.upload_location[0] ? r.upload_location : r.location;
        int bad = loc[0] && reg_url_resolve(upload_url, loc, next, sizeof next);
        if (r.code == 307) {
            u->completed = before;
            bad = bad || !r.location[0] || reg_url_resolve(upload_url, r.location, redirect, sizeof redirect);
            reg_resp_free(&r);
            if (bad) { rc = om_err(err, errlen, OM_EFORMAT, "upload redirect without a usable Location"); continue; }
            const char *h2[] = { "Content-Type: application/octet-stream", cl, NULL };
            struct reg_body b2 = { .fd = fd, .off = off, .len = size, .on_bytes = up_bytes, .ud = u, .want_md5 = 1 };
            struct reg_resp r2;
            rc = reg_http(c, "PUT", redirect, h2, &b2, 1 << 16, 0, 0, &r2, err, errlen);
            if (!rc) {
                if (r2.code >= 400)
                    rc = om_err(err, errlen, OM_EIO, "http status %ld: %s", r2.code, r2.body ? r2.body : "");
                reg_resp_free(&r2);
            }
            if (rc) { u->completed = before; continue; }
            memcpy(md5, b2.md5, 16);
        } else {
            reg_resp_free(&r);
            if (bad) { rc = om_err(err, errlen, OM_EFORMAT, "upload reply without a usable Location"); continue; }
            memcpy(md5, b.md5, 16);
        }
        if (loc[0] && !bad) snprintf(upload_url, cap, "%s", next);
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
    int nparts = 0;
    EVP_MD_CTX *all = EVP_MD_CTX_new();
    EVP_DigestInit_ex(all, EVP_md5(), NULL);
    reg_emit(cb, ud, u.status, digest, u.total, 0);
    for (int64_t off = 0; off < u.total && !rc; off += psize, nparts++) {
        unsigned char md5[16];
        rc = push_part(c, &u, fd, off, OM_MIN(psize, u.total - off), upload, sizeof upload, md5, err, errlen);
        if (!rc) EVP_DigestUpdate(all, md5, 16);
    }
    close(fd);
    unsigned char sum[16];
    unsigned int sl = 0;
    EVP_DigestFinal_ex(all, sum, &sl);
    EVP_MD_CTX_free(all);
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
