/* store: content-addressed blobs (blobs/sha256-<hex>) and the file helpers
 * of the model store.
 *
 * A blob is written to a private temp file in blobs/ ("sha256-tmp-XXXXXX"),
 * hashed while written, fsync'd, then renamed to its digest's name, so a
 * blob path only ever holds complete content whose sha256 is its name. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/om.h"
#include "store/models_int.h"

static const char HEX[] = "0123456789abcdef";

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[d[i] >> 4];
        out[2 * i + 1] = HEX[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void store_sha256_hex(const void *data, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL);
    hex_of(md, 32, hex);
}

/* ---- files ---- */

int store_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -errno;
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static void fsync_dir_of(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int store_file_write_atomic(const char *path, const void *data, size_t n)
{
    /* "<dir>/.<base>.tmp-XXXXXX": a leading '.' is never a valid name part
     * or digest, so walkers skip temp files */
    char tmp[4200];
    const char *slash = strrchr(path, '/');
    size_t dn = slash ? (size_t)(slash - path + 1) : 0;
    if (snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp-XXXXXX", (int)dn, path, path + dn) >=
        (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, data, n);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (rc == 0 && fchmod(fd, 0644) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    fsync_dir_of(path);
    return 0;
}

int store_file_read(const char *path, size_t max, char **out, size_t *len)
{
    *out = NULL;
    if (len)
        *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return OM_EFORMAT;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return OM_ENOMEM;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = om_xmalloc(n + 1);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return OM_EIO;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

/* ---- digests and paths ---- */

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int store_digest_valid(const char *d)
{
    if (!d || strncmp(d, "sha256", 6) != 0 || (d[6] != ':' && d[6] != '-'))
        return 0;
    for (int i = 0; i < 64; i++)
        if (!is_hex(d[7 + i]))
            return 0;
    return d[71] == '\0';
}

int store_digest_canon(const char *d, char out[72])
{
    if (!store_digest_valid(d))
        return OM_EINVAL;
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 64; i++) {
        char c = d[7 + i];
        out[7 + i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
    }
    out[71] = '\0';
    return 0;
}

int store_blob_path(const struct store_root *r, const char *digest, char *out, size_t cap)
{
    char c[72];
    if (store_digest_canon(digest, c) != 0)
        return OM_EINVAL;
    c[6] = '-';
    if ((size_t)snprintf(out, cap, "%s/%s", r->blobs, c) >= cap)
        return OM_ERANGE;
    return 0;
}

bool store_blob_exists(const struct store_root *r, const char *digest)
{
    uint64_t sz;
    return store_blob_size(r, digest, &sz) == 0;
}

int store_blob_size(const struct store_root *r, const char *digest, uint64_t *size)
{
    char p[4096];
    int rc = store_blob_path(r, digest, p, sizeof(p));
    if (rc)
        return rc;
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
        return OM_ENOTFOUND;
    *size = (uint64_t)st.st_size;
    return 0;
}

int store_blob_read(const struct store_root *r, const char *digest, size_t max, char **out,
                    size_t *len)
{
    char p[4096];
    *out = NULL;
    int rc = store_blob_path(r, digest, p, sizeof(p));
    if (rc)
        return rc;
    rc = store_file_read(p, max, out, len);
    return rc == -ENOENT ? OM_ENOTFOUND : rc;
}

/* ---- streamed writer ---- */

struct store_blob_writer {
    struct store_root *root;
    int fd;
    EVP_MD_CTX *md;
    uint64_t n;
    int failed; /* first write error */
    char tmp[4096];
};

int store_blob_begin(struct store_root *r, struct store_blob_writer **out)
{
    *out = NULL;
    struct store_blob_writer *w = om_xcalloc(1, sizeof(*w));
    w->root = r;
    snprintf(w->tmp, sizeof(w->tmp), "%s/sha256-tmp-XXXXXX", r->blobs);
    w->fd = mkstemp(w->tmp);
    if (w->fd < 0) {
        int rc = -errno;
        free(w);
        return rc;
    }
    w->md = EVP_MD_CTX_new();
    if (!w->md || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        store_blob_abort(w);
        return OM_EIO;
    }
    *out = w;
    return 0;
}

int store_blob_write(struct store_blob_writer *w, const void *data, size_t n)
{
    if (w->failed)
        return w->failed;
    int rc = write_all(w->fd, data, n);
    if (rc == 0 && EVP_DigestUpdate(w->md, data, n) != 1)
        rc = OM_EIO;
    if (rc) {
        w->failed = rc;
        return rc;
    }
    w->n += n;
    return 0;
}

void store_blob_abort(struct store_blob_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    EVP_MD_CTX_free(w->md);
    free(w);
}

int store_blob_commit(struct store_blob_writer *w, const char *expected_digest, char digest_out[72],
                      char *err, size_t errlen)
{
    return store_blob_commit_ex(w, expected_digest, digest_out, NULL, err, errlen);
}

int store_blob_commit_ex(struct store_blob_writer *w, const char *expected_digest,
                         char digest_out[72], bool *existed, char *err, size_t errlen)
{
    if (existed)
        *existed = false;
    char want[72] = "", got[72], path[4200];
    unsigned char md[32];
    unsigned int mdlen = 0;
    int rc = w->failed;
    if (rc) {
        store_blob_abort(w);
        return om_err(err, errlen, rc, "writing blob: %s", om_strerror(rc));
    }
    if (expected_digest && store_digest_canon(expected_digest, want) != 0) {
        store_blob_abort(w);
        return om_err(err, errlen, OM_EINVAL, "invalid digest format");
    }
    if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1) {
        store_blob_abort(w);
        return om_err(err, errlen, OM_EIO, "sha256 failed");
    }
    memcpy(got, "sha256:", 7);
    hex_of(md, 32, got + 7);
    if (expected_digest && strcmp(want, got) != 0) {
        store_blob_abort(w);
        return om_err(err, errlen, OM_EINVAL, "digest mismatch, expected \"%s\", got \"%s\"", want,
                      got);
    }
    if (fsync(w->fd) != 0 || fchmod(w->fd, 0644) != 0) {
        rc = -errno;
        store_blob_abort(w);
        return om_err(err, errlen, rc, "writing blob: %s", om_strerror(rc));
    }
    close(w->fd);
    w->fd = -1;
    store_blob_path(w->root, got, path, sizeof(path));
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == w->n) {
        /* already present: keep it, refresh its mtime (prune grace period) */
        utimensat(AT_FDCWD, path, NULL, 0);
        unlink(w->tmp);
        if (existed)
            *existed = true;
    } else if (rename(w->tmp, path) != 0) {
        rc = -errno;
        store_blob_abort(w);
        return om_err(err, errlen, rc, "renaming blob %s: %s", got, om_strerror(rc));
    } else {
        fsync_dir_of(path);
    }
    if (digest_out)
        memcpy(digest_out, got, 72);
    EVP_MD_CTX_free(w->md);
    free(w);
    return 0;
}

int store_blob_put_bytes(struct store_root *r, const void *data, size_t n, char digest_out[72])
{
    struct store_blob_writer *w;
    int rc = store_blob_begin(r, &w);
    if (rc)
        return rc;
    rc = store_blob_write(w, data, n);
    if (rc) {
        store_blob_abort(w);
        return rc;
    }
    return store_blob_commit(w, NULL, digest_out, NULL, 0);
}

int store_file_digest(const char *path, char digest_out[72])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        close(fd);
        return OM_EIO;
    }
    char *buf = om_xmalloc(1 << 20);
    ssize_t n;
    int rc = 0;
    while ((n = read(fd, buf, 1 << 20)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        EVP_DigestUpdate(md, buf, (size_t)n);
    }
    free(buf);
    close(fd);
    unsigned char d[32];
    unsigned int dl = 0;
    if (!rc && EVP_DigestFinal_ex(md, d, &dl) == 1) {
        memcpy(digest_out, "sha256:", 7);
        hex_of(d, 32, digest_out + 7);
    } else if (!rc) {
        rc = OM_EIO;
    }
    EVP_MD_CTX_free(md);
    return rc;
}
