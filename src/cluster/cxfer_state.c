/* cluster/cxfer_state: the files of one peer fetch — the partial data file
 * blobs/sha256-<hex>-xfer (written at each chunk's offset, sparse until
 * complete), the state file of finished chunks beside it (format and its
 * crash-safety rule in cxfer_int.h), the sha256 checks and the final atomic
 * rename. The state file is flock'ed for the whole fetch so two fetches of one
 * blob into one store never write the same partial. */
#include "cluster/cxfer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/om.h"
#include "store/models.h"

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_header(struct cxfer_files *f)
{
    char h[160];
    int n = snprintf(h, sizeof h, "omxfer 1 %s %" PRId64 " %" PRId64 "\n", f->digest, f->size,
                     f->chunk);
    if (ftruncate(f->sfd, 0) != 0)
        return -errno;
    int rc = write_all(f->sfd, h, (size_t)n);
    if (!rc && fdatasync(f->sfd) != 0)
        rc = -errno;
    return rc;
}

static int read_state(int fd, char **out, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if ((uint64_t)st.st_size > CXFER_STATE_MAX)
        return OM_ENOMEM;
    size_t n = (size_t)st.st_size, got = 0;
    char *b = om_xmalloc(n + 1);
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    b[got] = 0;
    *out = b;
    *len = got;
    return 0;
}

/* Parses the state text into f (chunk, nchunks, cstate). 0 when usable. */
static int parse_state(struct cxfer_files *f, const char *s, size_t len, int64_t *resumed)
{
    char dg[80];
    int64_t size, chunk;
    int used = 0;
    if (len == 0 || memchr(s, 0, len) ||
        sscanf(s, "omxfer 1 %79s %" SCNd64 " %" SCNd64 "%n", dg, &size, &chunk, &used) != 3 ||
        s[used] != '\n' || strcmp(dg, f->digest) != 0 || size != f->size || chunk <= 0 ||
        chunk > CXFER_MAX_SIZE || (f->size + chunk - 1) / chunk > CXFER_MAX_CHUNKS)
        return OM_EFORMAT;
    f->chunk = chunk;
    f->nchunks = (int)((f->size + chunk - 1) / chunk);
    f->cstate = om_xcalloc((size_t)f->nchunks + 1, 1);
    *resumed = 0;
    const char *p = s + used + 1, *end = s + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* torn last line */
        char *e;
        errno = 0;
        long v = strtol(p, &e, 10);
        if (e != nl || e == p || errno || v < 0 || v >= f->nchunks)
            return OM_EFORMAT;
        if (f->cstate[v] != CH_DONE) {
            f->cstate[v] = CH_DONE;
            *resumed += cxfer_chunk_len(f, (int)v);
        }
        p = nl + 1;
    }
    return 0;
}

static void fresh_table(struct cxfer_files *f, int64_t want_chunk)
{
    int64_t chunk = want_chunk > 0 ? want_chunk : (int64_t)8 << 20;
    if (f->size > 0 && (f->size + chunk - 1) / chunk > CXFER_MAX_CHUNKS)
        chunk = (f->size + CXFER_MAX_CHUNKS - 1) / CXFER_MAX_CHUNKS;
    f->chunk = chunk;
    f->nchunks = (int)((f->size + chunk - 1) / chunk);
    free(f->cstate);
    f->cstate = om_xcalloc((size_t)f->nchunks + 1, 1);
}

static void hash_reset(struct cxfer_files *f)
{
    if (!f->md)
        f->md = EVP_MD_CTX_new();
    f->hashed = f->md && EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int cxfer_files_open(struct cxfer_files *f, int64_t want_chunk, int64_t *resumed, char *err,
                     size_t errlen)
{
    *resumed = 0;
    f->fd = f->sfd = f->pfd = -1;
    f->sfd = open(f->state, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (f->sfd < 0)
        return om_err(err, errlen, -errno, "%s: %s", f->state, strerror(errno));
    if (flock(f->sfd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(f->sfd);
        f->sfd = -1;
        if (e == EWOULDBLOCK)
            return om_err(err, errlen, OM_EBUSY, "blob %s is already being fetched", f->digest);
        return om_err(err, errlen, -e, "%s: lock: %s", f->state, strerror(e));
    }
    unlink(f->prev); /* a leftover of a crash during a mismatch check */
    char *text = NULL;
    size_t len = 0;
    int ok = read_state(f->sfd, &text, &len) == 0 && parse_state(f, text, len, resumed) == 0;
    free(text);
    f->fd = open(f->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f->fd < 0)
        return om_err(err, errlen, -errno, "%s: %s", f->part, strerror(errno));
    struct stat st;
    if (ok && (fstat(f->fd, &st) != 0 || st.st_size != f->size))
        ok = 0;
    if (ok)
        hash_reset(f);
    if (ok && *resumed > 0)
        om_log(OM_LOG_INFO, "cluster", "blob %s: resuming, %" PRId64 " of %" PRId64 " bytes done",
               f->digest, *resumed, f->size);
    if (ok)
        return 0;
    *resumed = 0;
    fresh_table(f, want_chunk);
    return cxfer_files_reset(f, err, errlen);
}

void cxfer_files_done(struct cxfer_files *f, int c)
{
    f->cstate[c] = CH_DONE;
    if (!f->pending)
        f->pending = om_xmalloc((size_t)f->nchunks * sizeof *f->pending);
    f->pending[f->npending++] = c;
}

int cxfer_files_flush(struct cxfer_files *f, char *err, size_t errlen)
{
    if (f->npending == 0)
        return 0;
    if (fdatasync(f->fd) != 0)
        return om_err(err, errlen, -errno, "%s: fdatasync: %s", f->part, strerror(errno));
    size_t cap = (size_t)f->npending * 12 + 1, n = 0;
    char *b = om_xmalloc(cap);
    for (int i = 0; i < f->npending; i++)
        n += (size_t)snprintf(b + n, cap - n, "%d\n", f->pending[i]);
    f->npending = 0;
    int rc = write_all(f->sfd, b, n);
    free(b);
    if (rc)
        return om_err(err, errlen, rc, "%s: %s", f->state, om_strerror(rc));
    return 0;
}

int cxfer_files_reset(struct cxfer_files *f, char *err, size_t errlen)
{
    f->npending = 0;
    hash_reset(f);
    memset(f->cstate, CH_TODO, (size_t)f->nchunks);
    if (ftruncate(f->fd, 0) != 0 || ftruncate(f->fd, f->size) != 0)
        return om_err(err, errlen, -errno, "%s: %s", f->part, strerror(errno));
    int rc = write_header(f);
    if (rc)
        return om_err(err, errlen, rc, "%s: %s", f->state, om_strerror(rc));
    return 0;
}

void cxfer_files_hash_advance(struct cxfer_files *f, int max)
{
    if (f->hashed < 0 || f->hashed >= f->nchunks || f->cstate[f->hashed] != CH_DONE)
        return;
    const size_t cap = (size_t)1 << 20;
    char *buf = om_xmalloc(cap);
    for (int k = 0; k < max && f->hashed >= 0 && f->hashed < f->nchunks &&
                    f->cstate[f->hashed] == CH_DONE; k++) {
        int c = f->hashed;
        int64_t off = (int64_t)c * f->chunk, end = off + cxfer_chunk_len(f, c);
        while (off < end) {
            ssize_t r = pread(f->fd, buf, (size_t)OM_MIN((int64_t)cap, end - off), off);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                f->hashed = -1; /* the check at the end reads the whole file */
                break;
            }
            EVP_DigestUpdate(f->md, buf, (size_t)r);
            off += r;
        }
        if (f->hashed >= 0)
            f->hashed++;
    }
    free(buf);
}

int cxfer_files_verify(struct cxfer_files *f, bool full, char *err, size_t errlen)
{
    char got[72] = "sha256:";
    if (fsync(f->fd) != 0)
        return om_err(err, errlen, -errno, "%s: fsync: %s", f->part, strerror(errno));
    cxfer_files_hash_advance(f, f->nchunks);
    if (!full && f->hashed == f->nchunks) {
        unsigned char d[32];
        unsigned int dl = 0;
        EVP_DigestFinal_ex(f->md, d, &dl);
        for (int i = 0; i < 32; i++)
            snprintf(got + 7 + 2 * i, 3, "%02x", d[i]);
        hash_reset(f); /* finalized: any later check starts over */
    } else {
        int rc = store_file_digest(f->part, got);
        if (rc)
            return om_err(err, errlen, rc, "%s: %s", f->part, om_strerror(rc));
    }
    if (strcmp(got, f->digest) != 0)
        return om_err(err, errlen, OM_EFORMAT, "blob %s: sha256 mismatch (got %s)", f->digest,
                      got);
    return 0;
}

int cxfer_files_chunk_hashes(const struct cxfer_files *f, int fd, unsigned char **out)
{
    unsigned char *h = om_xcalloc((size_t)f->nchunks + 1, 32);
    size_t bufcap = 1 << 20;
    char *buf = om_xmalloc(bufcap);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = md ? 0 : OM_EIO;
    for (int c = 0; c < f->nchunks && !rc; c++) {
        int64_t off = (int64_t)c * f->chunk, end = off + cxfer_chunk_len(f, c);
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        while (off < end && !rc) {
            ssize_t r = pread(fd, buf, (size_t)OM_MIN((int64_t)bufcap, end - off), off);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                rc = r < 0 ? -errno : OM_EIO;
            else {
                EVP_DigestUpdate(md, buf, (size_t)r);
                off += r;
            }
        }
        unsigned int dl = 0;
        EVP_DigestFinal_ex(md, h + (size_t)c * 32, &dl);
    }
    EVP_MD_CTX_free(md);
    free(buf);
    if (rc) {
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

static void fsync_dir(const char *path)
{
    char d[4300];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash)
        return;
    *slash = 0;
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int cxfer_files_commit(struct cxfer_files *f, char *err, size_t errlen)
{
    struct stat st;
    if (fchmod(f->fd, 0644) != 0)
        return om_err(err, errlen, -errno, "%s: %s", f->part, strerror(errno));
    if (stat(f->path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == f->size) {
        unlink(f->part); /* the same content arrived by another way (a pull) */
    } else if (rename(f->part, f->path) != 0) {
        return om_err(err, errlen, -errno, "%s: rename: %s", f->path, strerror(errno));
    }
    unlink(f->state);
    fsync_dir(f->path);
    return 0;
}

static int pio_full(int fd, char *buf, size_t n, int64_t off, bool wr)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = wr ? pwrite(fd, buf + done, n - done, off + (int64_t)done)
                       : pread(fd, buf + done, n - done, off + (int64_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : OM_EIO;
        done += (size_t)r;
    }
    return 0;
}

int cxfer_files_keep_prev(struct cxfer_files *f, char *err, size_t errlen)
{
    cxfer_files_drop_prev(f);
    if (rename(f->part, f->prev) != 0)
        return om_err(err, errlen, -errno, "%s: rename: %s", f->prev, strerror(errno));
    f->pfd = f->fd;
    f->fd = open(f->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0)
        return om_err(err, errlen, -errno, "%s: %s", f->part, strerror(errno));
    return cxfer_files_reset(f, err, errlen);
}

int cxfer_files_swap(struct cxfer_files *f, int c)
{
    const size_t piece = 1 << 20;
    char *a = om_xmalloc(piece), *b = om_xmalloc(piece);
    int rc = 0;
    int64_t off = (int64_t)c * f->chunk, end = off + cxfer_chunk_len(f, c);
    for (; off < end && !rc; off += (int64_t)piece) {
        size_t n = (size_t)OM_MIN((int64_t)piece, end - off);
        rc = pio_full(f->fd, a, n, off, false);
        if (!rc)
            rc = pio_full(f->pfd, b, n, off, false);
        if (!rc)
            rc = pio_full(f->fd, b, n, off, true);
        if (!rc)
            rc = pio_full(f->pfd, a, n, off, true);
    }
    free(a);
    free(b);
    return rc;
}

void cxfer_files_drop_prev(struct cxfer_files *f)
{
    if (f->pfd >= 0)
        close(f->pfd);
    f->pfd = -1;
    unlink(f->prev);
}

void cxfer_files_discard(struct cxfer_files *f)
{
    cxfer_files_drop_prev(f);
    unlink(f->part);
    unlink(f->state);
}

void cxfer_files_close(struct cxfer_files *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->sfd >= 0) /* only the holder of the lock may touch prev */
        cxfer_files_drop_prev(f);
    if (f->sfd >= 0)
        close(f->sfd); /* drops the flock */
    f->fd = f->sfd = -1;
    free(f->cstate);
    free(f->pending);
    EVP_MD_CTX_free(f->md);
    f->cstate = NULL;
    f->pending = NULL;
    f->md = NULL;
}
