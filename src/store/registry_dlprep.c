/* store/registry_dlprep: the first half of a blob download (Ollama's
 * blobDownload.Prepare and the start of run), on the first puller's thread:
 * part records read back (a resume) or made from the HEAD size, the sparse
 * -partial file sized, and the data URL found by GETting the registry blob
 * URL while following same-host redirects only.
 *
 * Part records blobs/sha256-<hex>-partial-<N> hold Ollama's JSON
 * {"N","Offset","Size","Completed"}; they are written to a .tmp name and
 * renamed, and read back only when they tile [0, total) as parts 0..n-1
 * with sane numbers (else the partial download is dropped and restarted). */
#include "store/registry_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/om.h"

/* ---- part records ---- */

static void rec_path(const struct reg_dl *d, int n, char *out, size_t cap)
{
    snprintf(out, cap, "%s-partial-%d", d->path, n);
}

int reg_dl_rec_write(const struct reg_dl *d, const struct reg_part *p)
{
    char path[4200], tmp[4300], buf[160];
    rec_path(d, p->n, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(buf, sizeof buf, "{\"N\":%d,\"Offset\":%lld,\"Size\":%lld,\"Completed\":%lld}\n",
                     p->n, (long long)p->off, (long long)p->size, (long long)p->completed);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int ok = write(fd, buf, (size_t)n) == n;
    close(fd);
    if (!ok || rename(tmp, path)) { unlink(tmp); return OM_EIO; }
    return 0;
}

void reg_dl_rec_remove_all(const struct reg_dl *d)
{
    char dirbuf[4096], pre[4200];
    snprintf(dirbuf, sizeof dirbuf, "%s", d->path);
    const char *base = strrchr(d->path, '/');
    base = base ? base + 1 : d->path;
    int pl = snprintf(pre, sizeof pre, "%s-partial-", base);
    DIR *dir = opendir(dirname(dirbuf));
    if (!dir) return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, pre, (size_t)pl) == 0) {
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", dirbuf, e->d_name);
            unlink(p);
        }
    }
    closedir(dir);
}

static int part_cmp(const void *a, const void *b)
{
    const struct reg_part *x = a, *y = b;
    return (x->n > y->n) - (x->n < y->n);
}

/* Loads the part records of d; 0 with d->nparts == 0 when there are none,
 * OM_EFORMAT when they are unusable (the caller starts afresh). */
static int rec_load(struct reg_dl *d)
{
    char dirbuf[4096], pre[4200];
    snprintf(dirbuf, sizeof dirbuf, "%s", d->path);
    const char *base = strrchr(d->path, '/');
    base = base ? base + 1 : d->path;
    int pl = snprintf(pre, sizeof pre, "%s-partial-", base);
    DIR *dir = opendir(dirname(dirbuf));
    if (!dir) return 0;
    int cap = 0, bad = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && !bad) {
        if (strncmp(e->d_name, pre, (size_t)pl) != 0) continue;
        const char *num = e->d_name + pl;
        if (!*num || strspn(num, "0123456789") != strlen(num)) continue; /* .tmp leftovers */
        if (d->nparts >= REG_MAX_PARTS) { bad = 1; break; }
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dirbuf, e->d_name);
        json_error_t je;
        json_t *j = json_load_file(p, JSON_DISABLE_EOF_CHECK, &je);
        json_int_t N, off, size, comp;
        if (!j || json_unpack(j, "{s:I,s:I,s:I,s:I}", "N", &N, "Offset", &off, "Size", &size,
                              "Completed", &comp) || N < 0 || N >= REG_MAX_PARTS || off < 0 ||
            size <= 0 || comp < 0 || comp > size || off > REG_MAX_BLOB || size > REG_MAX_BLOB) {
            bad = 1;
        } else {
            if (d->nparts == cap) {
                cap = cap ? cap * 2 : 16;
                d->parts = om_xrealloc(d->parts, (size_t)cap * sizeof *d->parts);
            }
            d->parts[d->nparts++] = (struct reg_part){ .d = d, .n = (int)N, .off = off, .size = size,
                                                   .completed = comp };
        }
        json_decref(j);
    }
    closedir(dir);
    /* records must tile [0, total) as parts 0..n-1 */
    if (!bad && d->nparts > 1) qsort(d->parts, (size_t)d->nparts, sizeof *d->parts, part_cmp);
    int64_t total = 0;
    for (int i = 0; !bad && i < d->nparts; i++) {
        if (d->parts[i].n != i || d->parts[i].off != total) bad = 1;
        total += d->parts[i].size;
    }
    if (total > REG_MAX_BLOB) bad = 1;
    if (bad) { free(d->parts); d->parts = NULL; d->nparts = 0; return OM_EFORMAT; }
    d->total = total;
    for (int i = 0; i < d->nparts; i++) d->completed += d->parts[i].completed;
    return 0;
}

/* ---- prepare (caller's thread) ---- */

/* GET the registry blob URL, following same-host redirects only, and keep
 * the data URL (Ollama's CheckRedirect in blobDownload.run). */
static int find_data_url(struct reg_client *c, struct reg_dl *d, const char *blob_url,
                         char *err, size_t errlen)
{
    char url[REG_URL_MAX], next[REG_URL_MAX], h0[512], h1[512];
    snprintf(url, sizeof url, "%s", blob_url);
    if (reg_url_host(blob_url, 1, h0, sizeof h0)) return om_err(err, errlen, OM_EINVAL, "bad URL %s", blob_url);
    for (int hop = 0; hop <= 10; hop++) {
        struct reg_resp r;
        int rc = reg_request(c, "GET", url, NULL, NULL, 0, 1, &r, err, errlen);
        if (rc) return rc;
        long code = r.code;
        int has_loc = r.location[0] != 0;
        rc = has_loc ? reg_url_resolve(url, r.location, next, sizeof next) : 0;
        reg_resp_free(&r);
        if (rc) return om_err(err, errlen, OM_EFORMAT, "bad Location from %s", url);
        if (reg_is_redirect(code) && has_loc) {
            if (reg_url_host(next, 1, h1, sizeof h1) == 0 && strcasecmp(h0, h1) == 0) {
                snprintf(url, sizeof url, "%s", next);
                continue;
            }
            snprintf(d->url, sizeof d->url, "%s", next); /* cross-host: no credentials */
            return 0;
        }
        if (code == 200) {
            /* Ollama requires a Location here; a registry serving the bytes
             * itself is also accepted (then with our credentials). */
            if (has_loc) { snprintf(d->url, sizeof d->url, "%s", next); return 0; }
            snprintf(d->url, sizeof d->url, "%s", url);
            pthread_mutex_lock(&c->mu);
            if (c->token[0]) snprintf(d->auth, sizeof d->auth, "Authorization: Bearer %s", c->token);
            pthread_mutex_unlock(&c->mu);
            return 0;
        }
        return om_err(err, errlen, OM_EIO, "unexpected status code %ld", code);
    }
    return om_err(err, errlen, OM_EIO, "maximum redirects exceeded (10) for directURL");
}

int reg_dl_prepare(struct reg_client *c, struct reg_dl *d, char *err, size_t errlen)
{
    char blob_url[REG_URL_MAX], partial[4200];
    snprintf(blob_url, sizeof blob_url, "%s/v2/%s/blobs/%s", c->base, c->repo, d->digest);
    snprintf(partial, sizeof partial, "%s-partial", d->path);
    struct stat st;
    if (rec_load(d) || (d->nparts > 0 && (stat(partial, &st) || st.st_size > d->total))) {
        om_log(OM_LOG_WARN, "store", "%s: unusable partial download, starting again", d->digest);
        free(d->parts); d->parts = NULL; d->nparts = 0; d->completed = 0;
        reg_dl_rec_remove_all(d);
        unlink(partial);
    }
    if (d->nparts == 0) {
        struct reg_resp r;
        int rc = reg_request_follow(c, "HEAD", blob_url, NULL, 0, &r, err, errlen);
        if (rc) return rc;
        d->total = r.content_length;
        reg_resp_free(&r);
        if (d->total < 0 || d->total > REG_MAX_BLOB)
            return om_err(err, errlen, OM_EFORMAT, "%s: registry gave no usable Content-Length", d->digest);
        int64_t size = reg_part_size(&d->cfg, d->total);
        if (d->total / size >= REG_MAX_PARTS) size = d->total / (REG_MAX_PARTS - 1) + 1;
        for (int64_t off = 0; off < d->total; off += size) {
            d->parts = om_xrealloc(d->parts, (size_t)(d->nparts + 1) * sizeof *d->parts);
            struct reg_part *p = &d->parts[d->nparts];
            *p = (struct reg_part){ .d = d, .n = d->nparts, .off = off, .size = OM_MIN(size, d->total - off) };
            d->nparts++;
            if ((rc = reg_dl_rec_write(d, p)))
                return om_err(err, errlen, rc, "%s-partial-%d: cannot write: %s", d->path, p->n, om_strerror(rc));
        }
    }
    if (d->nparts > 0)
        om_log(OM_LOG_INFO, "store", "downloading %.12s in %d %lld B part(s)", d->digest + 7,
               d->nparts, (long long)d->parts[0].size);
    d->fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->fd < 0) return om_err(err, errlen, -errno, "%s: %s", partial, strerror(errno));
    if (ftruncate(d->fd, d->total))
        return om_err(err, errlen, -errno, "%s: %s", partial, strerror(errno));
    int rc = OM_EIO;
    for (int t = 0; t < d->cfg.max_tries && rc == OM_EIO; t++) {
        if (t && reg_sleep_ms(c, (int64_t)d->cfg.retry_delay_ms << (t - 1)))
            return om_err(err, errlen, OM_ECANCELED, "canceled");
        rc = find_data_url(c, d, blob_url, err, errlen);
    }
    return rc;
}
