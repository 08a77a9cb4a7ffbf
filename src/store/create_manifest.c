/* store: the second half of /api/create — request checks, the small layers
 * (template, system, license, params, messages), the ConfigV2 blob and the
 * manifest, then pruning of the replaced manifest's layers.
 *
 * ConfigV2 and manifest are written with Go's field order and encoding, so
 * the same create yields the same bytes and digests as in Ollama (for the
 * parts we produce the same way). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/om.h"
#include "store/create_int.h"

/* api.Message field order. */
static json_t *message_go(const json_t *m, char *err, size_t errlen, int *rc)
{
    static const char *const F[] = {"role",       "content",   "thinking",    "images",
                                    "tool_calls", "tool_name", "tool_call_id"};
    if (!json_is_object(m)) {
        *rc = om_err(err, errlen, OM_EINVAL, "messages: each message must be an object");
        return NULL;
    }
    json_t *o = json_object();
    for (size_t i = 0; i < OM_ARRAY_LEN(F); i++) {
        json_t *v = json_object_get(m, F[i]);
        if (i < 2) {
            if (v && !json_is_string(v) && !json_is_null(v)) {
                *rc = om_err(err, errlen, OM_EINVAL, "messages: %s must be a string", F[i]);
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, F[i],
                                json_string(json_is_string(v) ? json_string_value(v) : ""));
        } else if (v && !json_is_null(v) && !(json_is_string(v) && !*json_string_value(v)) &&
                   !(json_is_array(v) && !json_array_size(v))) {
            json_object_set(o, F[i], v);
        }
    }
    return o;
}

static int set_params(struct create_ctx *c, const json_t *req_params)
{
    json_t *p = NULL;
    int rc = store_options_check(req_params, &p, c->err, c->errlen);
    if (rc)
        return rc;
    /* merge every existing params layer under the request's keys */
    for (size_t i = 0; i < c->n_layers; i++) {
        if (strcmp(c->layers[i].media_type, STORE_MT_PARAMS) != 0)
            continue;
        char *s;
        size_t n;
        rc = store_blob_read(c->root, c->layers[i].digest, STORE_SMALL_LAYER_MAX, &s, &n);
        if (rc) {
            json_decref(p);
            return om_err(c->err, c->errlen, rc, "params layer %s: %s", c->layers[i].digest,
                          om_strerror(rc));
        }
        json_t *old = json_loadb(s, n, 0, NULL);
        free(s);
        const char *k;
        json_t *v;
        json_object_foreach (old, k, v)
            if (!json_object_get(p, k))
                json_object_set(p, k, v);
        json_decref(old);
    }
    if (json_object_size(p) == 0) {
        json_decref(p);
        return 0;
    }
    create_remove_layers(c, STORE_MT_PARAMS);
    size_t n;
    char *js = store_json_go(p, true, true, &n);
    json_decref(p);
    rc = create_put_layer(c, STORE_MT_PARAMS, js, n);
    free(js);
    return rc;
}

static int set_small_layers(struct create_ctx *c)
{
    const json_t *req = c->req;
    const char *t = json_string_value(json_object_get(req, "template"));
    const char *sys = json_string_value(json_object_get(req, "system"));
    const json_t *lic = json_object_get(req, "license");
    const json_t *msgs = json_object_get(req, "messages");
    int rc = 0;
    if (t && *t) {
        if (c->hooks && c->hooks->check_template) {
            char e2[256] = "";
            if (c->hooks->check_template(c->hooks->ud, t, e2, sizeof(e2)) != 0)
                return om_err(c->err, c->errlen, OM_EINVAL, "template error: %s", e2);
        }
        create_remove_layers(c, STORE_MT_TEMPLATE);
        create_remove_layers(c, STORE_MT_PROMPT);
        if ((rc = create_put_layer(c, STORE_MT_TEMPLATE, t, strlen(t))))
            return rc;
    }
    if (sys && *sys) {
        create_remove_layers(c, STORE_MT_SYSTEM);
        if ((rc = create_put_layer(c, STORE_MT_SYSTEM, sys, strlen(sys))))
            return rc;
    }
    if (json_is_string(lic)) {
        if (*json_string_value(lic) &&
            (rc = create_put_layer(c, STORE_MT_LICENSE, json_string_value(lic),
                                   json_string_length(lic))))
            return rc;
    } else if (json_is_array(lic)) {
        const json_t *e;
        size_t i;
        json_array_foreach (lic, i, e) {
            if (!json_is_string(e))
                return om_err(c->err, c->errlen, OM_EINVAL,
                              "license must be a string or a list of strings");
            if ((rc = create_put_layer(c, STORE_MT_LICENSE, json_string_value(e),
                                       json_string_length(e))))
                return rc;
        }
    } else if (lic && !json_is_null(lic)) {
        return om_err(c->err, c->errlen, OM_EINVAL,
                      "license must be a string or a list of strings");
    }
    if ((rc = set_params(c, json_object_get(req, "parameters"))))
        return rc;
    if (msgs && !json_is_null(msgs) && !json_is_array(msgs))
        return om_err(c->err, c->errlen, OM_EINVAL, "messages must be a list");
    if (json_array_size(msgs)) {
        json_t *arr = json_array();
        const json_t *m;
        size_t i;
        json_array_foreach (msgs, i, m) {
            json_t *o = message_go(m, c->err, c->errlen, &rc);
            if (!o) {
                json_decref(arr);
                return rc;
            }
            json_array_append_new(arr, o);
        }
        create_remove_layers(c, STORE_MT_MESSAGES);
        size_t n;
        char *js = store_json_go(arr, false, true, &n);
        json_decref(arr);
        rc = create_put_layer(c, STORE_MT_MESSAGES, js, n);
        free(js);
    }
    return rc;
}

/* ConfigV2 in Go's field order. */
static json_t *config_go(const json_t *cfg)
{
    static const struct {
        const char *key;
        int omitempty;
    } F[] = {{"model_format", 0},     {"model_family", 0}, {"model_families", 0},
             {"model_type", 0},       {"file_type", 0},    {"renderer", 1},
             {"parser", 1},           {"requires", 1},     {"remote_host", 1},
             {"remote_model", 1},     {"capabilities", 1}, {"context_length", 1},
             {"embedding_length", 1}, {"base_name", 1},    {"draft", 1}};
    json_t *o = json_object();
    for (size_t i = 0; i < OM_ARRAY_LEN(F); i++) {
        json_t *v = json_object_get(cfg, F[i].key);
        int empty = !v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
                    (json_is_array(v) && !json_array_size(v)) ||
                    (json_is_integer(v) && json_integer_value(v) == 0);
        if (F[i].omitempty && empty)
            continue;
        if (v)
            json_object_set(o, F[i].key, v);
        else
            json_object_set_new(o, F[i].key,
                                strcmp(F[i].key, "model_families") == 0 ? json_null()
                                                                        : json_string(""));
    }
    json_object_set_new(o, "architecture", json_string("amd64"));
    json_object_set_new(o, "os", json_string("linux"));
    return o;
}

static json_t *layer_json(const char *mt, const char *digest, uint64_t size, const char *from,
                          const char *name)
{
    json_t *o = json_object();
    json_object_set_new(o, "mediaType", json_string(mt));
    json_object_set_new(o, "digest", json_string(digest));
    json_object_set_new(o, "size", json_integer((json_int_t)size));
    if (from)
        json_object_set_new(o, "from", json_string(from));
    if (name)
        json_object_set_new(o, "name", json_string(name));
    return o;
}

static int apply_info(struct create_ctx *c, const json_t *info)
{
    static const char *const STR[][2] = {{"model_family", "model_family"},
                                         {"base_name", "base_name"},
                                         {"quantization_level", "file_type"},
                                         {"parameter_size", "model_type"}};
    static const char *const INT[] = {"context_length", "embedding_length"};
    if (!json_is_object(info))
        return 0;
    const json_t *caps = json_object_get(info, "capabilities");
    if (json_is_array(caps)) {
        json_t *cc = json_object_get(c->config, "capabilities");
        if (!json_is_array(cc)) {
            cc = json_array();
            json_object_set_new(c->config, "capabilities", cc);
        }
        const json_t *e;
        size_t i;
        json_array_foreach (caps, i, e)
            if (json_is_string(e))
                json_array_append(cc, (json_t *)e);
    }
    for (size_t i = 0; i < OM_ARRAY_LEN(STR); i++) {
        const json_t *v = json_object_get(info, STR[i][0]);
        if (!v)
            continue;
        if (!json_is_string(v))
            return om_err(c->err, c->errlen, OM_EINVAL, "info field \"%s\" must be a string",
                          STR[i][0]);
        json_object_set(c->config, STR[i][1], (json_t *)v);
        if (i == 0 && *json_string_value(v)) {
            json_t *f = json_array();
            json_array_append(f, (json_t *)v);
            json_object_set_new(c->config, "model_families", f);
        }
    }
    for (size_t i = 0; i < OM_ARRAY_LEN(INT); i++) {
        const json_t *v = json_object_get(info, INT[i]);
        if (!v)
            continue;
        double x = json_number_value(v);
        if (!json_is_number(v))
            return om_err(c->err, c->errlen, OM_EINVAL, "info field \"%s\" must be a number",
                          INT[i]);
        if (x < 0 || x != (double)(json_int_t)x)
            return om_err(c->err, c->errlen, OM_EINVAL,
                          "info field \"%s\" must be a non-negative integer", INT[i]);
        json_object_set_new(c->config, INT[i], json_integer((json_int_t)x));
    }
    return 0;
}

static int write_manifest(struct create_ctx *c, const struct store_name *name)
{
    json_t *cfg = config_go(c->config);
    size_t n;
    char *js = store_json_go(cfg, false, true, &n);
    json_decref(cfg);
    char cdigest[72];
    int rc = store_blob_put_bytes(c->root, js, n, cdigest);
    free(js);
    if (rc)
        return om_err(c->err, c->errlen, rc, "writing config: %s", om_strerror(rc));
    for (size_t i = 0; i < c->n_layers; i++)
        if (c->layers[i].status)
            create_status(c, c->layers[i].status, NULL, 0, 0);
    create_status(c, "writing manifest", NULL, 0, 0);
    json_t *m = json_object(), *layers = json_array();
    json_object_set_new(m, "schemaVersion", json_integer(2));
    json_object_set_new(m, "mediaType", json_string(STORE_MT_MANIFEST));
    json_object_set_new(m, "config", layer_json(STORE_MT_CONFIG, cdigest, n, NULL, NULL));
    for (size_t i = 0; i < c->n_layers; i++) {
        const struct create_layer *l = &c->layers[i];
        json_array_append_new(layers,
                              layer_json(l->media_type, l->digest, l->size, l->from, l->name));
    }
    json_object_set_new(m, "layers", layers);
    js = store_json_go(m, false, true, &n);
    json_decref(m);
    rc = store_manifest_write(c->root, name, js, n);
    free(js);
    if (rc)
        return om_err(c->err, c->errlen, rc, "writing manifest: %s", om_strerror(rc));
    return 0;
}

/* Ollama's envconfig.Bool: unset or empty is false, Go ParseBool values
 * as written, anything else true (quotes and blanks trimmed). */
static bool env_true(const char *name)
{
    const char *v = getenv(name);
    char b[32];
    size_t n = 0;
    if (!v)
        return false;
    while (*v == ' ' || *v == '"' || *v == '\'')
        v++;
    while (*v && n + 1 < sizeof(b))
        b[n++] = *v++;
    while (n && (b[n - 1] == ' ' || b[n - 1] == '"' || b[n - 1] == '\''))
        n--;
    b[n] = '\0';
    if (!n)
        return false;
    static const char *const F[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < OM_ARRAY_LEN(F); i++)
        if (strcmp(b, F[i]) == 0)
            return false;
    return true;
}

int store_create(struct store_root *r, const json_t *req, const struct store_create_hooks *hooks,
                 store_progress_cb progress, void *ud, char *err, size_t errlen)
{
    if (!json_is_object(req))
        return om_err(err, errlen, OM_EINVAL, "request must be a JSON object");
    const char *model = json_string_value(json_object_get(req, "model"));
    if (!model || !*model)
        model = json_string_value(json_object_get(req, "name"));
    struct store_name name;
    if (!model || store_name_parse(model, &name) != 0)
        return om_err(err, errlen, OM_EINVAL, "invalid model name");
    const json_t *files = json_object_get(req, "files");
    if (files && !json_is_null(files) && !json_is_object(files))
        return om_err(err, errlen, OM_EINVAL, "files must be an object of name: digest");
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)files, k, v) {
        if (!create_path_valid(k))
            return om_err(err, errlen, OM_EINVAL, "file path must be relative");
        if (!json_is_string(v) || !store_digest_valid(json_string_value(v)))
            return om_err(err, errlen, OM_EINVAL, "invalid digest format");
    }
    const json_t *adapters = json_object_get(req, "adapters");
    if (json_object_size(adapters))
        return om_err(err, errlen, OM_EUNSUPPORTED, "LoRA adapters are not supported");
    if (json_object_size(json_object_get(req, "draft_files")))
        return om_err(err, errlen, OM_EUNSUPPORTED, "draft models are not supported");
    const json_t *q = json_object_get(req, "quantize");
    if (!json_is_string(q) || !*json_string_value(q))
        q = json_object_get(req, "quantization");
    if (q && !json_is_null(q) && !json_is_string(q))
        return om_err(err, errlen, OM_EINVAL, "quantize must be a string");
    static const char *const STRS[] = {"template", "system", "renderer",   "parser",
                                       "requires", "from",   "remote_host"};
    for (size_t i = 0; i < OM_ARRAY_LEN(STRS); i++) {
        json_t *x = json_object_get(req, STRS[i]);
        if (x && !json_is_null(x) && !json_is_string(x))
            return om_err(err, errlen, OM_EINVAL, "%s must be a string", STRS[i]);
    }
    if (json_is_string(json_object_get(req, "remote_host")) &&
        *json_string_value(json_object_get(req, "remote_host")))
        return om_err(err, errlen, OM_EUNSUPPORTED, "remote models are not supported");
    store_name_resolve(r, &name);

    struct create_ctx c = {.root = r,
                           .req = req,
                           .hooks = hooks,
                           .progress = progress,
                           .ud = ud,
                           .err = err,
                           .errlen = errlen};
    c.config = json_object();
    static const char *const CFG[] = {"renderer", "parser", "requires"};
    for (size_t i = 0; i < OM_ARRAY_LEN(CFG); i++) {
        const char *s = json_string_value(json_object_get(req, CFG[i]));
        if (s && *s)
            json_object_set_new(c.config, CFG[i], json_string(s));
    }
    char *old = NULL;
    size_t old_len = 0;
    store_manifest_read(r, &name, &old, &old_len, NULL, NULL);

    int rc = create_base_layers(&c);
    if (!rc)
        rc = apply_info(&c, json_object_get(req, "info"));
    if (!rc)
        rc = create_process_models(&c, json_string_value(q));
    if (!rc)
        rc = set_small_layers(&c);
    if (!rc)
        rc = write_manifest(&c, &name);
    if (!rc && old && !env_true("OLLAMA_NOPRUNE")) {
        json_t *om;
        if (store_manifest_parse(old, old_len, &om, NULL, 0) == 0) {
            store_remove_layers(r, om);
            json_decref(om);
        }
    }
    if (!rc)
        create_status(&c, "success", NULL, 0, 0);
    free(old);
    for (size_t i = 0; i < c.n_layers; i++) {
        free(c.layers[i].from);
        free(c.layers[i].name);
        free(c.layers[i].status);
    }
    free(c.layers);
    json_decref(c.config);
    return rc;
}
