/* store: opening the store and resolving a model name to its parts.
 *
 * store_model_get reads the manifest and the small layers (template,
 * system, params, messages, licenses, config), each bounded by
 * STORE_SMALL_LAYER_MAX, and records the paths of the big ones (weights,
 * projector, adapter) without opening them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "format/gguf.h"
#include "store/models_int.h"

int store_open(const char *dir, struct store_root **out, char *err, size_t errlen)
{
    char buf[4096];
    *out = NULL;
    if (!dir || !*dir) {
        /* envconfig trims blanks and quotes around values */
        const char *env = getenv("OLLAMA_MODELS");
        size_t n = 0;
        while (env && (*env == ' ' || *env == '"' || *env == '\''))
            env++;
        if (env)
            n = strlen(env);
        while (n && (env[n - 1] == ' ' || env[n - 1] == '"' || env[n - 1] == '\''))
            n--;
        if (n && n < sizeof(buf)) {
            memcpy(buf, env, n);
            buf[n] = '\0';
            dir = buf;
        } else {
            const char *home = getenv("HOME");
            if (!home || !*home)
                return om_err(err, errlen, OM_EINVAL, "neither OLLAMA_MODELS nor HOME is set");
            snprintf(buf, sizeof(buf), "%s/.ollama/models", home);
            dir = buf;
        }
    }
    if (strlen(dir) > 3000)
        return om_err(err, errlen, OM_ERANGE, "models path too long");
    struct store_root *r = om_xcalloc(1, sizeof(*r));
    r->dir = om_xstrdup(dir);
    size_t n = strlen(dir) + 16;
    r->blobs = om_xmalloc(n);
    r->manifests = om_xmalloc(n);
    snprintf(r->blobs, n, "%s/blobs", dir);
    snprintf(r->manifests, n, "%s/manifests", dir);
    int rc = store_mkdirs(r->blobs);
    if (!rc)
        rc = store_mkdirs(r->manifests);
    if (rc) {
        om_err(err, errlen, rc, "%s: %s: ensure path elements are traversable", dir,
               om_strerror(rc));
        store_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void store_close(struct store_root *r)
{
    if (!r)
        return;
    free(r->dir);
    free(r->blobs);
    free(r->manifests);
    free(r);
}

const char *store_dir(const struct store_root *r)
{
    return r->dir;
}

void store_model_free(struct store_model *m)
{
    if (!m)
        return;
    free(m->model_path);
    free(m->projector_path);
    free(m->adapter_path);
    free(m->template_text);
    free(m->system);
    json_decref(m->params);
    json_decref(m->messages);
    for (int i = 0; i < m->n_licenses; i++)
        free(m->licenses[i]);
    free(m->licenses);
    json_decref(m->config);
    json_decref(m->manifest);
    free(m);
}

static int read_small(const struct store_root *r, const char *digest, char **out, char *err,
                      size_t errlen)
{
    int rc = store_blob_read(r, digest, STORE_SMALL_LAYER_MAX, out, NULL);
    if (rc)
        return om_err(err, errlen, rc == OM_ENOTFOUND ? OM_EFORMAT : rc, "layer %s: %s", digest,
                      rc == OM_ENOTFOUND ? "blob missing" : om_strerror(rc));
    return 0;
}

static int read_json(const struct store_root *r, const char *digest, json_t **out, char *err,
                     size_t errlen)
{
    char *s;
    json_error_t je;
    int rc = read_small(r, digest, &s, err, errlen);
    if (rc)
        return rc;
    *out = json_loads(s, 0, &je);
    free(s);
    if (!*out)
        return om_err(err, errlen, OM_EFORMAT, "layer %s: %s", digest, je.text);
    return 0;
}

static char *blob_path_dup(const struct store_root *r, const char *digest)
{
    char p[4200];
    if (store_blob_path(r, digest, p, sizeof(p)) != 0)
        return NULL;
    return om_xstrdup(p);
}

static int load_layer(const struct store_root *r, struct store_model *m, const json_t *l, char *err,
                      size_t errlen)
{
    const char *mt = json_string_value(json_object_get(l, "mediaType"));
    const char *dg = json_string_value(json_object_get(l, "digest"));
    char *s = NULL;
    int rc = 0;
    if (strcmp(mt, STORE_MT_MODEL) == 0) {
        free(m->model_path);
        m->model_path = blob_path_dup(r, dg);
    } else if (strcmp(mt, STORE_MT_PROJECTOR) == 0) {
        if (!m->projector_path)
            m->projector_path = blob_path_dup(r, dg);
    } else if (strcmp(mt, STORE_MT_ADAPTER) == 0) {
        if (!m->adapter_path)
            m->adapter_path = blob_path_dup(r, dg);
    } else if (strcmp(mt, STORE_MT_TEMPLATE) == 0 || strcmp(mt, STORE_MT_PROMPT) == 0) {
        if (!(rc = read_small(r, dg, &s, err, errlen))) {
            free(m->template_text);
            m->template_text = s;
        }
    } else if (strcmp(mt, STORE_MT_SYSTEM) == 0) {
        if (!(rc = read_small(r, dg, &s, err, errlen))) {
            free(m->system);
            m->system = s;
        }
    } else if (strcmp(mt, STORE_MT_LICENSE) == 0) {
        if (!(rc = read_small(r, dg, &s, err, errlen))) {
            m->licenses = om_xrealloc(m->licenses, (size_t)(m->n_licenses + 1) * sizeof(char *));
            m->licenses[m->n_licenses++] = s;
        }
    } else if (strcmp(mt, STORE_MT_PARAMS) == 0) {
        json_t *p;
        if (!(rc = read_json(r, dg, &p, err, errlen))) {
            if (!json_is_object(p)) {
                json_decref(p);
                return om_err(err, errlen, OM_EFORMAT, "params layer %s: not an object", dg);
            }
            json_decref(m->params);
            m->params = p;
        }
    } else if (strcmp(mt, STORE_MT_MESSAGES) == 0) {
        json_t *p;
        if (!(rc = read_json(r, dg, &p, err, errlen))) {
            if (!json_is_array(p)) {
                json_decref(p);
                return om_err(err, errlen, OM_EFORMAT, "messages layer %s: not an array", dg);
            }
            json_decref(m->messages);
            m->messages = p;
        }
    }
    return rc;
}

int store_model_get(const struct store_root *r, const char *name, struct store_model **out,
                    char *err, size_t errlen)
{
    struct store_name n;
    *out = NULL;
    if (store_name_parse(name, &n) != 0)
        return om_err(err, errlen, OM_EINVAL, "name \"%s\" is invalid", name);
    store_name_resolve(r, &n);
    char *bytes;
    size_t len;
    char hex[65];
    int64_t mt;
    int rc = store_manifest_read(r, &n, &bytes, &len, hex, &mt);
    if (rc == OM_ENOTFOUND)
        return om_err(err, errlen, OM_ENOTFOUND, "model '%s' not found", name);
    if (rc)
        return om_err(err, errlen, rc, "reading manifest of %s: %s", name, om_strerror(rc));
    json_t *man;
    rc = store_manifest_parse(bytes, len, &man, err, errlen);
    free(bytes);
    if (rc)
        return rc;
    struct store_model *m = om_xcalloc(1, sizeof(*m));
    m->name = n;
    memcpy(m->digest, hex, 65);
    m->mtime_ns = mt;
    m->manifest = man;
    const json_t *cfg = json_object_get(man, "config");
    const json_t *l;
    size_t i;
    if (json_is_object(cfg)) {
        m->size += (uint64_t)json_integer_value(json_object_get(cfg, "size"));
        rc = read_json(r, json_string_value(json_object_get(cfg, "digest")), &m->config, err,
                       errlen);
        if (!rc && !json_is_object(m->config))
            rc = om_err(err, errlen, OM_EFORMAT, "config blob: not an object");
    }
    json_array_foreach (json_object_get(man, "layers"), i, l) {
        if (rc)
            break;
        m->size += (uint64_t)json_integer_value(json_object_get(l, "size"));
        rc = load_layer(r, m, l, err, errlen);
    }
    if (!rc && !m->config)
        m->config = json_object();
    if (rc) {
        store_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void store_format_params(uint64_t b, char *buf, size_t cap)
{
    if (b >= 1000000000ull) {
        double x = (double)b / 1e9;
        if (x == (double)(uint64_t)x)
            snprintf(buf, cap, "%.0fB", x);
        else
            snprintf(buf, cap, "%.1fB", x);
    } else if (b >= 1000000ull) {
        double x = (double)b / 1e6;
        if (x == (double)(uint64_t)x)
            snprintf(buf, cap, "%.0fM", x);
        else
            snprintf(buf, cap, "%.2fM", x);
    } else if (b >= 1000ull) {
        snprintf(buf, cap, "%.0fK", (double)b / 1e3);
    } else {
        snprintf(buf, cap, "%llu", (unsigned long long)b);
    }
}

static json_t *str_or_empty(const json_t *cfg, const char *key)
{
    const char *s = json_string_value(json_object_get(cfg, key));
    return json_string(s ? s : "");
}

/* What the GGUF header adds to details and capabilities. */
struct gguf_facts {
    int64_t ctx, embd, file_type;
    int pooling, vision, audio;
};

static int read_facts(const char *path, struct gguf_facts *g)
{
    gguf_file *f;
    char e[128], key[300];
    gguf_str arch;
    memset(g, 0, sizeof(*g));
    g->file_type = -1;
    if (!path || gguf_open(path, &f, e, sizeof(e)) != 0)
        return -1;
    uint32_t ft;
    if (gguf_get_u32(f, "general.file_type", &ft) == 0)
        g->file_type = ft;
    if (gguf_get_str(f, "general.architecture", &arch) == 0 && arch.len < 200) {
        int a = (int)arch.len;
        uint64_t v;
        snprintf(key, sizeof(key), "%.*s.context_length", a, arch.ptr);
        if (gguf_get_u64(f, key, &v) == 0 && v <= INT64_MAX)
            g->ctx = (int64_t)v;
        snprintf(key, sizeof(key), "%.*s.embedding_length", a, arch.ptr);
        if (gguf_get_u64(f, key, &v) == 0 && v <= INT64_MAX)
            g->embd = (int64_t)v;
        snprintf(key, sizeof(key), "%.*s.pooling_type", a, arch.ptr);
        g->pooling = gguf_find_key(f, key) >= 0;
        snprintf(key, sizeof(key), "%.*s.vision.block_count", a, arch.ptr);
        g->vision = gguf_find_key(f, key) >= 0;
        snprintf(key, sizeof(key), "%.*s.audio.block_count", a, arch.ptr);
        g->audio = gguf_find_key(f, key) >= 0;
    }
    gguf_close(f);
    return 0;
}

json_t *store_model_details(const struct store_model *m)
{
    const json_t *cfg = m->config;
    const char *parent = "";
    const json_t *l;
    size_t i;
    json_array_foreach (json_object_get(m->manifest, "layers"), i, l) {
        const char *mt = json_string_value(json_object_get(l, "mediaType"));
        const char *from = json_string_value(json_object_get(l, "from"));
        if (mt && strcmp(mt, STORE_MT_MODEL) == 0)
            parent = from ? from : "";
    }
    struct gguf_facts g;
    int have = read_facts(m->model_path, &g) == 0;
    json_t *fams = json_object_get(cfg, "model_families");
    json_t *d = json_object();
    json_object_set_new(d, "parent_model", json_string(parent));
    json_object_set_new(d, "format", str_or_empty(cfg, "model_format"));
    json_object_set_new(d, "family", str_or_empty(cfg, "model_family"));
    json_object_set_new(d, "families", json_is_array(fams) ? json_deep_copy(fams) : json_null());
    json_object_set_new(d, "parameter_size", str_or_empty(cfg, "model_type"));
    const char *q = json_string_value(json_object_get(cfg, "file_type"));
    if ((!q || !*q || strcmp(q, "unknown") == 0) && have && g.file_type >= 0)
        q = store_file_type_name(g.file_type);
    json_object_set_new(d, "quantization_level", json_string(q ? q : ""));
    json_int_t ctx = json_integer_value(json_object_get(cfg, "context_length"));
    json_int_t embd = json_integer_value(json_object_get(cfg, "embedding_length"));
    if (!ctx && have)
        ctx = g.ctx;
    if (!embd && have)
        embd = g.embd;
    if (ctx > 0)
        json_object_set_new(d, "context_length", json_integer(ctx));
    if (embd > 0)
        json_object_set_new(d, "embedding_length", json_integer(embd));
    return d;
}

static void cap_add(json_t *a, const char *c)
{
    const json_t *e;
    size_t i;
    json_array_foreach (a, i, e)
        if (strcmp(json_string_value(e), c) == 0)
            return;
    json_array_append_new(a, json_string(c));
}

json_t *store_model_capabilities(const struct store_model *m)
{
    json_t *a = json_array();
    const json_t *e;
    size_t i;
    json_array_foreach (json_object_get(m->config, "capabilities"), i, e)
        if (json_is_string(e) && *json_string_value(e))
            cap_add(a, json_string_value(e));
    struct gguf_facts g;
    if (read_facts(m->model_path, &g) == 0) {
        cap_add(a, g.pooling ? "embedding" : "completion");
        if (g.vision)
            cap_add(a, "vision");
        if (g.audio)
            cap_add(a, "audio");
    }
    if (m->projector_path)
        cap_add(a, "vision");
    return a;
}
