/* store: manifests — manifests/<host>/<namespace>/<model>/<tag>.
 *
 * Lookup is case-insensitive like Ollama's: each of the four components is
 * matched against the existing folder entries (an exact match wins), so
 * "Llama3" finds "llama3". A manifest is parsed and checked (config and
 * layers with valid digests and sizes) before anything uses it; larger than
 * STORE_MANIFEST_MAX is refused. Deleting removes the layers of the removed
 * manifest that no remaining manifest references, as Ollama's RemoveLayers. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/om.h"
#include "store/models_int.h"

int store_manifest_path(const struct store_root *r, const struct store_name *n, char *out,
                        size_t cap)
{
    if ((size_t)snprintf(out, cap, "%s/%s/%s/%s/%s", r->manifests, n->host, n->ns, n->model,
                         n->tag) >= cap)
        return OM_ERANGE;
    return 0;
}

/* Finds the entry of dir equal to part ignoring case (exact preferred);
 * copies its spelling into part. 1 when found. */
static int match_entry(const char *dir, char *part, size_t cap)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", dir, part);
    if (lstat(p, &st) == 0)
        return 1;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.' && strcasecmp(e->d_name, part) == 0 && strlen(e->d_name) < cap) {
            strcpy(part, e->d_name);
            found = 1;
            break;
        }
    }
    closedir(d);
    return found;
}

int store_name_resolve(const struct store_root *r, struct store_name *n)
{
    struct store_name t = *n;
    char dir[4200];
    if (!match_entry(r->manifests, t.host, sizeof(t.host)))
        return 0;
    snprintf(dir, sizeof(dir), "%s/%s", r->manifests, t.host);
    if (!match_entry(dir, t.ns, sizeof(t.ns)))
        return 0;
    snprintf(dir, sizeof(dir), "%s/%s/%s", r->manifests, t.host, t.ns);
    if (!match_entry(dir, t.model, sizeof(t.model)))
        return 0;
    snprintf(dir, sizeof(dir), "%s/%s/%s/%s", r->manifests, t.host, t.ns, t.model);
    if (!match_entry(dir, t.tag, sizeof(t.tag)))
        return 0;
    *n = t;
    return 1;
}

static int check_layer(const json_t *l, const char *what, char *err, size_t errlen)
{
    const json_t *mt = json_object_get(l, "mediaType");
    const json_t *dg = json_object_get(l, "digest");
    const json_t *sz = json_object_get(l, "size");
    if (!json_is_object(l) || !json_is_string(mt) || !json_is_string(dg) ||
        !store_digest_valid(json_string_value(dg)) || !json_is_integer(sz) ||
        json_integer_value(sz) < 0)
        return om_err(err, errlen, OM_EFORMAT, "manifest: bad %s (mediaType, digest, size)", what);
    return 0;
}

int store_manifest_parse(const char *bytes, size_t len, json_t **out, char *err, size_t errlen)
{
    json_error_t je;
    *out = NULL;
    if (len > STORE_MANIFEST_MAX)
        return om_err(err, errlen, OM_ENOMEM, "manifest: %zu bytes is too large", len);
    json_t *m = json_loadb(bytes, len, 0, &je);
    if (!m)
        return om_err(err, errlen, OM_EFORMAT, "manifest: %s (line %d)", je.text, je.line);
    if (!json_is_object(m)) {
        json_decref(m);
        return om_err(err, errlen, OM_EFORMAT, "manifest: not an object");
    }
    const json_t *cfg = json_object_get(m, "config");
    const json_t *layers = json_object_get(m, "layers");
    int rc = 0;
    if (cfg && !json_is_null(cfg))
        rc = check_layer(cfg, "config", err, errlen);
    if (!rc && !json_is_array(layers))
        rc = om_err(err, errlen, OM_EFORMAT, "manifest: no layers array");
    for (size_t i = 0; !rc && i < json_array_size(layers); i++) {
        char what[32];
        snprintf(what, sizeof(what), "layer %zu", i);
        rc = check_layer(json_array_get(layers, i), what, err, errlen);
    }
    if (rc) {
        json_decref(m);
        return rc;
    }
    *out = m;
    return 0;
}

int store_manifest_size(const char *bytes, size_t len, uint64_t *size)
{
    json_t *m;
    *size = 0;
    int rc = store_manifest_parse(bytes, len, &m, NULL, 0);
    if (rc)
        return rc;
    const json_t *l;
    size_t i;
    json_array_foreach (json_object_get(m, "layers"), i, l)
        *size += (uint64_t)json_integer_value(json_object_get(l, "size"));
    *size += (uint64_t)json_integer_value(json_object_get(json_object_get(m, "config"), "size"));
    json_decref(m);
    return 0;
}

int store_manifest_read(const struct store_root *r, const struct store_name *n, char **bytes,
                        size_t *len, char digest_hex[65], int64_t *mtime_ns)
{
    struct store_name t = *n;
    char p[4200];
    *bytes = NULL;
    if (!store_name_resolve(r, &t))
        return OM_ENOTFOUND;
    int rc = store_manifest_path(r, &t, p, sizeof(p));
    if (rc)
        return rc;
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
        return OM_ENOTFOUND;
    size_t n_;
    rc = store_file_read(p, STORE_MANIFEST_MAX, bytes, &n_);
    if (rc)
        return rc == -ENOENT ? OM_ENOTFOUND : rc;
    if (len)
        *len = n_;
    if (digest_hex)
        store_sha256_hex(*bytes, n_, digest_hex);
    if (mtime_ns)
        *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return 0;
}

int store_manifest_write(struct store_root *r, const struct store_name *n, const char *bytes,
                         size_t len)
{
    char p[4200];
    json_t *m;
    int rc = store_manifest_parse(bytes, len, &m, NULL, 0);
    if (rc)
        return rc;
    json_decref(m);
    struct store_name t = *n;
    store_name_resolve(r, &t); /* overwrite an existing spelling in place */
    rc = store_manifest_path(r, &t, p, sizeof(p));
    if (rc)
        return rc;
    char *slash = strrchr(p, '/');
    *slash = '\0';
    rc = store_mkdirs(p);
    *slash = '/';
    if (rc)
        return rc;
    return store_file_write_atomic(p, bytes, len);
}

/* ---- walking ---- */

typedef int (*walk_fn)(void *ud, const struct store_name *n, const char *path);

static int walk_level(const char *dir, int level, char parts[4][400], walk_fn fn, void *ud)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= 400)
            continue;
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        snprintf(parts[level], 400, "%s", e->d_name);
        if (level < 3) {
            if (S_ISDIR(st.st_mode))
                rc = walk_level(p, level + 1, parts, fn, ud);
        } else if (S_ISREG(st.st_mode)) {
            struct store_name n;
            if (store_name_from_parts(parts[0], parts[1], parts[2], parts[3], &n) == 0)
                rc = fn(ud, &n, p);
        }
    }
    closedir(d);
    return rc;
}

static int walk(const struct store_root *r, walk_fn fn, void *ud)
{
    char parts[4][400];
    return walk_level(r->manifests, 0, parts, fn, ud);
}

struct list_ctx {
    store_list_fn cb;
    void *ud;
};

static int list_one(void *ud, const struct store_name *n, const char *path)
{
    struct list_ctx *c = ud;
    char *bytes;
    size_t len;
    struct stat st;
    if (stat(path, &st) != 0 || store_file_read(path, STORE_MANIFEST_MAX, &bytes, &len) != 0)
        return 0;
    json_t *m;
    if (store_manifest_parse(bytes, len, &m, NULL, 0) != 0) {
        om_log(OM_LOG_WARN, "store", "skipping bad manifest %s", path);
        free(bytes);
        return 0;
    }
    json_decref(m);
    char hex[65];
    store_sha256_hex(bytes, len, hex);
    int rc = c->cb(c->ud, n, bytes, len, hex,
                   (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
    free(bytes);
    return rc;
}

int store_list(const struct store_root *r, store_list_fn cb, void *ud)
{
    struct list_ctx c = {cb, ud};
    return walk(r, list_one, &c);
}

/* ---- digest sets ---- */

static int dcmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void set_add(struct store_digest_set *s, const char *d)
{
    char c[72];
    if (store_digest_canon(d, c) != 0)
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->d = om_xrealloc(s->d, s->cap * sizeof(*s->d));
    }
    memcpy(s->d[s->n++], c, 72);
}

static void set_add_manifest(struct store_digest_set *s, const json_t *m)
{
    const json_t *cfg = json_object_get(m, "config");
    if (json_is_object(cfg))
        set_add(s, json_string_value(json_object_get(cfg, "digest")));
    const json_t *l;
    size_t i;
    json_array_foreach (json_object_get(m, "layers"), i, l)
        set_add(s, json_string_value(json_object_get(l, "digest")));
}

static int collect_one(void *ud, const struct store_name *n, const char *manifest, size_t len,
                       const char *digest_hex, int64_t mtime_ns)
{
    (void)n, (void)digest_hex, (void)mtime_ns;
    json_t *m;
    if (store_manifest_parse(manifest, len, &m, NULL, 0) == 0) {
        set_add_manifest(ud, m);
        json_decref(m);
    }
    return 0;
}

int store_digest_set_collect(const struct store_root *r, struct store_digest_set *s)
{
    memset(s, 0, sizeof(*s));
    int rc = store_list(r, collect_one, s);
    if (s->n)
        qsort(s->d, s->n, sizeof(*s->d), dcmp);
    return rc;
}

bool store_digest_set_has(const struct store_digest_set *s, const char *digest)
{
    char c[72];
    if (store_digest_canon(digest, c) != 0 || s->n == 0)
        return false;
    return bsearch(c, s->d, s->n, sizeof(*s->d), dcmp) != NULL;
}

void store_digest_set_free(struct store_digest_set *s)
{
    free(s->d);
    memset(s, 0, sizeof(*s));
}

/* Removes the blobs of manifest m that no manifest on disk references. */
int store_remove_layers(struct store_root *r, const json_t *m)
{
    struct store_digest_set mine = {0}, used;
    set_add_manifest(&mine, m);
    store_digest_set_collect(r, &used);
    for (size_t i = 0; i < mine.n; i++) {
        char p[4200];
        if (!store_digest_set_has(&used, mine.d[i]) &&
            store_blob_path(r, mine.d[i], p, sizeof(p)) == 0 && unlink(p) != 0 && errno != ENOENT)
            om_log(OM_LOG_WARN, "store", "removing %s: %s", p, strerror(errno));
    }
    store_digest_set_free(&mine);
    store_digest_set_free(&used);
    return 0;
}

/* ---- copy, delete, prune ---- */

int store_copy(struct store_root *r, const struct store_name *src, const struct store_name *dst)
{
    char *bytes;
    size_t len;
    int rc = store_manifest_read(r, src, &bytes, &len, NULL, NULL);
    if (rc)
        return rc;
    rc = store_manifest_write(r, dst, bytes, len);
    free(bytes);
    return rc;
}

/* Removes empty folders below (not including) dir; 1 when dir is empty. */
static int prune_dirs(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int n_left = 0;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && prune_dirs(p) && rmdir(p) == 0)
            continue;
        n_left++;
    }
    closedir(d);
    return n_left == 0;
}

int store_delete(struct store_root *r, const struct store_name *n, bool prune_blobs)
{
    struct store_name t = *n;
    char p[4200];
    if (!store_name_resolve(r, &t))
        return OM_ENOTFOUND;
    char *bytes;
    size_t len;
    int rc = store_manifest_read(r, &t, &bytes, &len, NULL, NULL);
    if (rc)
        return rc;
    json_t *m = NULL;
    store_manifest_parse(bytes, len, &m, NULL, 0); /* broken: delete it, prune nothing */
    free(bytes);
    store_manifest_path(r, &t, p, sizeof(p));
    if (unlink(p) != 0) {
        rc = -errno;
        json_decref(m);
        return rc;
    }
    prune_dirs(r->manifests);
    if (prune_blobs && m)
        store_remove_layers(r, m);
    json_decref(m);
    return 0;
}

int store_prune(struct store_root *r)
{
    struct store_digest_set used;
    store_digest_set_collect(r, &used);
    DIR *d = opendir(r->blobs);
    if (!d) {
        store_digest_set_free(&used);
        return -errno;
    }
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s", r->blobs, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0 || S_ISDIR(st.st_mode) || now - st.st_mtime < 3600)
            continue;
        if (!store_digest_valid(e->d_name) || !store_digest_set_has(&used, e->d_name)) {
            if (unlink(p) != 0)
                om_log(OM_LOG_WARN, "store", "removing %s: %s", p, strerror(errno));
        }
    }
    closedir(d);
    store_digest_set_free(&used);
    prune_dirs(r->manifests);
    return 0;
}
