/* store/registry_pull: reg_pull, Ollama's PullModel.
 *
 * Order and statuses as Ollama: the layers of a manifest already stored
 * under the name are remembered; "pulling manifest" (GET with the v2
 * Accept); each layer then the config fetched (registry_dl.c: cached, or a
 * shared, verified download); "verifying sha256 digest"; "writing manifest"
 * (the bytes as received); "removing unused layers" when the old manifest
 * had layers nothing references any more; "success". The manifest is only
 * written after every blob it names is in the store under its final name. */
#include "store/registry_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/om.h"

#define MAX_LAYERS 65536

struct digest_set {
    char (*d)[72];
    int n, cap;
};

static void set_add(struct digest_set *s, const char *d)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->d[i], d) == 0) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->d = om_xrealloc(s->d, (size_t)s->cap * sizeof *s->d);
    }
    snprintf(s->d[s->n++], 72, "%s", d);
}

static int set_has(const struct digest_set *s, const char *d)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->d[i], d) == 0) return 1;
    return 0;
}

/* Adds the config and layer digests of a manifest (valid ones only). With
 * strict, a layer without a valid digest or with an unsupported media type
 * is an error. ordered gets them in pull order (layers, then config). */
static int manifest_digests(const char *bytes, size_t len, int strict, struct digest_set *ordered,
                            char *err, size_t errlen)
{
    json_error_t je;
    json_t *m = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(m)) {
        json_decref(m);
        return om_err(err, errlen, OM_EFORMAT, "manifest is not a JSON object: %s", je.text);
    }
    json_t *layers = json_object_get(m, "layers"), *config = json_object_get(m, "config");
    int rc = 0;
    if (strict && ((layers && !json_is_array(layers)) || json_array_size(layers) > MAX_LAYERS))
        rc = om_err(err, errlen, OM_EFORMAT, "manifest: \"layers\" is not an array of at most %d", MAX_LAYERS);
    size_t nl = json_array_size(layers);
    for (size_t i = 0; i <= nl && !rc; i++) {
        json_t *l = i < nl ? json_array_get(layers, i) : config;
        if (i == nl && !json_is_object(l)) break; /* no config */
        const char *dg = json_string_value(json_object_get(l, "digest"));
        const char *mt = json_string_value(json_object_get(l, "mediaType"));
        if (i == nl && (!dg || !*dg)) break; /* Ollama: config without digest is skipped */
        char canon[72];
        if (!dg || store_digest_canon(dg, canon)) {
            if (strict) rc = om_err(err, errlen, OM_EFORMAT, "manifest layer %zu: invalid digest %s", i, dg ? dg : "(none)");
            continue;
        }
        if (strict && mt && strcmp(mt, "application/vnd.ollama.image.tensor") == 0)
            rc = om_err(err, errlen, OM_EUNSUPPORTED,
                        "this model has safetensors tensor layers, which this server cannot run");
        set_add(ordered, canon);
    }
    json_decref(m);
    return rc;
}

struct refs_ud { struct digest_set *refs; };

static int collect_refs(void *ud, const struct store_name *n, const char *manifest, size_t len,
                        const char *digest_hex, int64_t mtime_ns)
{
    (void)n; (void)digest_hex; (void)mtime_ns;
    struct refs_ud *r = ud;
    manifest_digests(manifest, len, 0, r->refs, NULL, 0);
    return 0;
}

/* Ollama's deleteUnusedLayers: candidates minus everything any manifest uses. */
static void remove_unused(struct store_root *root, const struct digest_set *candidates)
{
    struct digest_set refs = { 0 };
    struct refs_ud ud = { &refs };
    if (store_list(root, collect_refs, &ud) == 0) {
        for (int i = 0; i < candidates->n; i++) {
            char path[4096];
            if (set_has(&refs, candidates->d[i]) ||
                store_blob_path(root, candidates->d[i], path, sizeof path))
                continue;
            if (unlink(path) && errno != ENOENT)
                om_log(OM_LOG_INFO, "store", "couldn't remove file '%s': %s", path, strerror(errno));
        }
    }
    free(refs.d);
}

int reg_pull(struct store_root *root, const char *name, const struct reg_opts *o,
             reg_progress_fn cb, void *ud, volatile int *cancel, char *err, size_t errlen)
{
    struct reg_client c;
    int rc = reg_client_init(&c, name, o, cancel, err, errlen);
    if (rc) { reg_client_close(&c); return rc; }

    struct digest_set old = { 0 }, want = { 0 };
    char *bytes = NULL, *mbytes = NULL;
    size_t len = 0;
    if (store_manifest_read(root, &c.name, &bytes, &len, NULL, NULL) == 0) {
        char e2[256];
        if (manifest_digests(bytes, len, 0, &old, e2, sizeof e2))
            om_log(OM_LOG_WARN, "store", "pulling model with bad existing manifest %s: %s", name, e2);
        free(bytes);
        bytes = NULL;
    }

    reg_emit(cb, ud, "pulling manifest", NULL, 0, 0);
    char url[REG_URL_MAX], e[1024];
    snprintf(url, sizeof url, "%s/v2/%s/manifests/%s", c.base, c.repo, c.name.tag);
    const char *hdrs[] = { "Accept: " REG_MANIFEST_ACCEPT, NULL };
    struct reg_resp r;
    rc = reg_request_follow(&c, "GET", url, hdrs, STORE_MANIFEST_MAX, &r, e, sizeof e);
    if (rc) {
        om_err(err, errlen, rc, "pull model manifest: %s", e);
        goto out;
    }
    mbytes = r.body ? r.body : om_xstrdup("");
    size_t mlen = r.body_len;
    r.body = NULL;
    rc = manifest_digests(mbytes, mlen, 1, &want, e, sizeof e);
    if (rc) {
        om_err(err, errlen, rc, "pull model manifest: %s", e);
        goto out;
    }

    for (int i = 0; i < want.n && !rc; i++) {
        int hit;
        rc = reg_blob_fetch(&c, root, want.d[i], cb, ud, &hit, err, errlen);
    }
    if (rc) goto out;

    /* every downloaded blob was verified before it got its final name */
    reg_emit(cb, ud, "verifying sha256 digest", NULL, 0, 0);
    if (reg_canceled(&c)) { rc = om_err(err, errlen, OM_ECANCELED, "canceled"); goto out; }

    reg_emit(cb, ud, "writing manifest", NULL, 0, 0);
    rc = store_manifest_write(root, &c.name, mbytes, mlen);
    if (rc) {
        om_err(err, errlen, rc, "writing manifest: %s", om_strerror(rc));
        goto out;
    }

    struct digest_set unused = { 0 };
    for (int i = 0; i < old.n; i++)
        if (!set_has(&want, old.d[i])) set_add(&unused, old.d[i]);
    if (!c.cfg.no_prune && unused.n > 0) {
        reg_emit(cb, ud, "removing unused layers", NULL, 0, 0);
        remove_unused(root, &unused);
    }
    free(unused.d);
    reg_emit(cb, ud, "success", NULL, 0, 0);
out:
    free(mbytes);
    free(old.d);
    free(want.d);
    reg_client_close(&c);
    return rc;
}
