/* store: /api/create (Ollama server/create.go CreateHandler + createModel).
 *
 * Order of work, as Ollama: validate the request (name, files paths and
 * digests), take the base layers (from an existing model, copied by
 * reference with "from" = its short name; or from uploaded GGUF blobs with
 * template detection), quantize model layers when asked, then replace or
 * add the template, system, license, params (merged over inherited ones,
 * request keys winning) and messages layers, write the config blob and the
 * manifest, and delete the layers of the replaced manifest that nothing
 * references any more (unless OLLAMA_NOPRUNE). Nothing is written to the
 * manifest on failure; blobs written before a failure are left for the
 * start-up prune. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/om.h"
#include "store/create_int.h"

void create_status(struct create_ctx *c, const char *s, const char *digest, int64_t total,
                   int64_t completed)
{
    if (!c->progress)
        return;
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(s));
    if (digest)
        json_object_set_new(o, "digest", json_string(digest));
    if (total > 0) {
        json_object_set_new(o, "total", json_integer(total));
        json_object_set_new(o, "completed", json_integer(completed));
    }
    c->progress(c->ud, o);
    json_decref(o);
}

struct create_layer *create_add_layer(struct create_ctx *c, const char *media_type,
                                      const char *digest, uint64_t size, const char *from,
                                      const char *name, const char *status)
{
    if (c->n_layers == c->cap_layers) {
        c->cap_layers = c->cap_layers ? 2 * c->cap_layers : 16;
        c->layers = om_xrealloc(c->layers, c->cap_layers * sizeof(*c->layers));
    }
    struct create_layer *l = &c->layers[c->n_layers++];
    memset(l, 0, sizeof(*l));
    snprintf(l->media_type, sizeof(l->media_type), "%s", media_type);
    snprintf(l->digest, sizeof(l->digest), "%s", digest);
    l->size = size;
    l->from = from && *from ? om_xstrdup(from) : NULL;
    l->name = name && *name ? om_xstrdup(name) : NULL;
    l->status = status ? om_xstrdup(status) : NULL;
    return l;
}

static void layer_free(struct create_layer *l)
{
    free(l->from);
    free(l->name);
    free(l->status);
}

void create_remove_layers(struct create_ctx *c, const char *media_type)
{
    size_t j = 0;
    for (size_t i = 0; i < c->n_layers; i++) {
        if (strcmp(c->layers[i].media_type, media_type) == 0)
            layer_free(&c->layers[i]);
        else
            c->layers[j++] = c->layers[i];
    }
    c->n_layers = j;
}

int create_put_layer(struct create_ctx *c, const char *media_type, const void *data, size_t n)
{
    struct store_blob_writer *w;
    char digest[72], status[128], e2[256];
    bool existed = false;
    int rc = store_blob_begin(c->root, &w);
    if (!rc) {
        rc = store_blob_write(w, data, n);
        if (rc)
            store_blob_abort(w);
        else
            rc = store_blob_commit_ex(w, NULL, digest, &existed, e2, sizeof(e2));
    }
    if (rc)
        return om_err(c->err, c->errlen, rc, "writing %s layer: %s", media_type, om_strerror(rc));
    snprintf(status, sizeof(status), "%s %s",
             existed ? "using existing layer" : "creating new layer", digest);
    create_add_layer(c, media_type, digest, n, NULL, NULL, status);
    return 0;
}

/* io/fs.ValidPath: no leading or trailing '/', no empty, "." or ".."
 * element (the path "." alone is valid); also no backslash or NUL. */
int create_path_valid(const char *p)
{
    if (strcmp(p, ".") == 0)
        return 1;
    if (!*p || strchr(p, '\\'))
        return 0;
    for (const char *s = p;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return 0;
        if (!e)
            return 1;
        s = e + 1;
    }
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int base_from_files(struct create_ctx *c, const json_t *files, bool detect)
{
    size_t n = json_object_size(files), i = 0;
    if (n == 0)
        return om_err(c->err, c->errlen, OM_EINVAL, "no files provided to convert");
    const char **paths = om_xmalloc(n * sizeof(*paths));
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)files, k, v)
        paths[i++] = k;
    qsort(paths, n, sizeof(*paths), path_cmp);
    int rc = 0;
    for (i = 0; i < n && !rc; i++) {
        size_t len = strlen(paths[i]);
        if (len < 5 || strcasecmp(paths[i] + len - 5, ".gguf") != 0) {
            /* Ollama sniffs the content; a safetensors set needs conversion */
            const char *ext = strrchr(paths[i], '.');
            if (ext && (strcmp(ext, ".safetensors") == 0 || strcmp(ext, ".json") == 0 ||
                        strcmp(ext, ".model") == 0 || strcmp(ext, ".bin") == 0)) {
                rc = om_err(c->err, c->errlen, OM_EUNSUPPORTED,
                            "converting safetensors models is not supported; use a GGUF file");
                break;
            }
        }
        rc = create_from_gguf_blob(c, paths[i], json_string_value(json_object_get(files, paths[i])),
                                   detect);
    }
    free(paths);
    return rc;
}

static void inherit_config(struct create_ctx *c, const json_t *base_cfg)
{
    static const char *const KEYS[] = {"renderer", "parser", "requires", "model_format"};
    for (size_t i = 0; i < OM_ARRAY_LEN(KEYS); i++) {
        const char *cur = json_string_value(json_object_get(c->config, KEYS[i]));
        const json_t *b = json_object_get(base_cfg, KEYS[i]);
        if ((!cur || !*cur) && json_is_string(b) && *json_string_value(b))
            json_object_set(c->config, KEYS[i], (json_t *)b);
    }
    const json_t *caps = json_object_get(base_cfg, "capabilities");
    if (!json_object_get(c->config, "capabilities") && json_is_array(caps) && json_array_size(caps))
        json_object_set_new(c->config, "capabilities", json_deep_copy(caps));
}

static int base_from_model(struct create_ctx *c, const char *from)
{
    struct store_name fn;
    char e2[256], shortname[1200];
    if (store_name_parse(from, &fn) != 0)
        return om_err(c->err, c->errlen, OM_EINVAL, "invalid model name");
    struct store_model *m;
    int rc = store_model_get(c->root, from, &m, e2, sizeof(e2));
    if (rc == OM_ENOTFOUND)
        return om_err(c->err, c->errlen, OM_ENOTFOUND, "model \"%s\" not found", from);
    if (rc)
        return om_err(c->err, c->errlen, rc, "%s", e2);
    store_name_display(&m->name, shortname, sizeof(shortname));
    const json_t *l;
    size_t i;
    json_array_foreach (json_object_get(m->manifest, "layers"), i, l) {
        const char *dg = json_string_value(json_object_get(l, "digest"));
        const char *mt = json_string_value(json_object_get(l, "mediaType"));
        char canon[72], status[128], path[4200];
        uint64_t size;
        store_digest_canon(dg, canon);
        if (store_blob_size(c->root, canon, &size) != 0) {
            rc = om_err(c->err, c->errlen, OM_EFORMAT, "model \"%s\": layer %s is missing", from,
                        canon);
            break;
        }
        store_blob_path(c->root, canon, path, sizeof(path));
        utimensat(AT_FDCWD, path, NULL, 0);
        snprintf(status, sizeof(status), "using existing layer %s", canon);
        create_add_layer(c, mt, canon, size, shortname,
                         json_string_value(json_object_get(l, "name")), status);
    }
    if (!rc)
        inherit_config(c, m->config);
    store_model_free(m);
    return rc;
}

int create_base_layers(struct create_ctx *c)
{
    const char *from = json_string_value(json_object_get(c->req, "from"));
    const json_t *files = json_object_get(c->req, "files");
    const char *t = json_string_value(json_object_get(c->req, "template"));
    if (from && *from)
        return base_from_model(c, from);
    if (json_is_object(files))
        return base_from_files(c, files, !(t && *t));
    return om_err(c->err, c->errlen, OM_EINVAL, "neither 'from' or 'files' was specified");
}
