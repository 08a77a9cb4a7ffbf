/* store: the GGUF side of /api/create — reading uploaded GGUF blobs,
 * template detection through the caller's hook, quantizing a model layer
 * (store_quantize_file) into a new blob, and the ConfigV2 fields derived
 * from the weights (family = general.architecture, model_type = the
 * parameter count as Ollama prints it, file_type = the quantization name). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/om.h"
#include "base/om_types.h"
#include "format/gguf.h"
#include "store/create_int.h"
#include "store/store.h"

static char *gguf_string(const gguf_file *f, const char *key)
{
    gguf_str s;
    if (gguf_get_str(f, key, &s) != 0)
        return NULL;
    return strndup(s.ptr, s.len);
}

static int is_projector(const gguf_file *f)
{
    char *arch = gguf_string(f, "general.architecture");
    int r = arch && strcmp(arch, "clip") == 0;
    free(arch);
    for (int64_t i = 0; !r && i < gguf_n_kv(f); i++) {
        gguf_str k = gguf_key_name(f, i);
        if (k.len > 10 && memcmp(k.ptr, "clip.", 5) == 0)
            r = 1;
    }
    return r;
}

int create_from_gguf_blob(struct create_ctx *c, const char *file_path, const char *digest,
                          bool detect)
{
    char path[4200], e2[256];
    create_status(c, "parsing GGUF", NULL, 0, 0);
    if (store_blob_path(c->root, digest, path, sizeof(path)) != 0)
        return om_err(c->err, c->errlen, OM_EINVAL, "invalid digest format");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return om_err(c->err, c->errlen, OM_EINVAL, "file %s: blob %s not found (upload it first)",
                      file_path, digest);
    char magic[4] = {0};
    ssize_t got = read(fd, magic, 4);
    close(fd);
    if (got != 4 || memcmp(magic, "GGUF", 4) != 0)
        return om_err(c->err, c->errlen, OM_EINVAL, "supplied file was not in GGUF format");
    gguf_file *f;
    if (gguf_open(path, &f, e2, sizeof(e2)) != 0)
        return om_err(c->err, c->errlen, OM_EFORMAT, "%s: %s", file_path, e2);
    uint32_t n_split = 0;
    if (gguf_get_u32(f, "split.count", &n_split) == 0 && n_split > 1) {
        gguf_close(f);
        return om_err(c->err, c->errlen, OM_EUNSUPPORTED,
                      "%s: split GGUF models are not supported; merge the parts first", file_path);
    }
    const char *mt = STORE_MT_MODEL;
    char *kind = gguf_string(f, "general.type");
    if (kind && strcmp(kind, "adapter") == 0)
        mt = STORE_MT_ADAPTER;
    else if (is_projector(f))
        mt = STORE_MT_PROJECTOR;
    free(kind);
    char *tmpl = detect && strcmp(mt, STORE_MT_MODEL) == 0
                     ? gguf_string(f, "tokenizer.chat_template")
                     : NULL;
    gguf_close(f);
    if (strcmp(mt, STORE_MT_ADAPTER) == 0) {
        free(tmpl);
        return om_err(c->err, c->errlen, OM_EUNSUPPORTED, "%s: LoRA adapters are not supported",
                      file_path);
    }
    char canon[72], status[128];
    store_digest_canon(digest, canon);
    uint64_t size = 0;
    store_blob_size(c->root, canon, &size);
    utimensat(AT_FDCWD, path, NULL, 0); /* keep it out of the prune window */
    snprintf(status, sizeof(status), "using existing layer %s", canon);
    create_add_layer(c, mt, canon, size, NULL, NULL, status); /* no "from": Ollama reports parent_model "" for models made from files */
    int rc = 0;
    if (tmpl && *tmpl && c->hooks && c->hooks->detect) {
        char *name = NULL, *go = NULL;
        json_t *params = NULL;
        if (c->hooks->detect(c->hooks->ud, tmpl, &name, &go, &params) == 0 && go) {
            rc = create_put_layer(c, STORE_MT_TEMPLATE, go, strlen(go));
            if (!rc) {
                struct create_layer *l = &c->layers[c->n_layers - 1];
                free(l->status);
                size_t n = strlen(name ? name : "") + 40;
                l->status = om_xmalloc(n);
                snprintf(l->status, n, "using autodetected template %s", name ? name : "");
            }
            if (!rc && json_is_object(params) && json_object_size(params)) {
                size_t n;
                char *js = store_json_go(params, true, true, &n);
                rc = create_put_layer(c, STORE_MT_PARAMS, js, n);
                free(js);
            }
        }
        free(name);
        free(go);
        json_decref(params);
    }
    free(tmpl);
    return rc;
}

/* ---- quantize ---- */

struct qprog {
    struct create_ctx *c;
    char status[128];
    uint64_t done, total_in;
    int64_t layer_size;
};

static int on_tensor(const struct store_progress *p, void *ud)
{
    struct qprog *q = ud;
    q->done += p->bytes_in;
    double frac = q->total_in ? (double)q->done / (double)q->total_in : 0;
    if (frac > 1)
        frac = 1;
    create_status(q->c, q->status, "0000000000000000000", q->layer_size,
                  (int64_t)(frac * (double)q->layer_size));
    return 0;
}

/* Moves the finished file tmp (in blobs/, already fsync'd by the writer)
 * to its digest's name: hashed in place and renamed, so a multi-GB model is
 * not copied again. digest_out gets "sha256:<hex>", *existed whether the
 * blob was already there (tmp is then removed). */
static int adopt_file(struct store_root *r, const char *tmp, char digest_out[72], bool *existed,
                      uint64_t *size)
{
    char path[4200];
    struct stat st;
    int rc = store_file_digest(tmp, digest_out);
    if (rc)
        return rc;
    if (stat(tmp, &st) != 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    store_blob_path(r, digest_out, path, sizeof(path));
    *existed = stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == *size;
    if (*existed) {
        utimensat(AT_FDCWD, path, NULL, 0);
        unlink(tmp);
        return 0;
    }
    if (chmod(tmp, 0644) != 0 || rename(tmp, path) != 0)
        return -errno;
    return 0;
}

static int quantize_layer(struct create_ctx *c, struct create_layer *l, const gguf_file *f,
                          const char *src_name, enum store_ftype want)
{
    char in[4200], out[4200], e2[512];
    store_blob_path(c->root, l->digest, in, sizeof(in));
    snprintf(out, sizeof(out), "%s/sha256-tmp-quantize-XXXXXX", c->root->blobs);
    int fd = mkstemp(out);
    if (fd < 0)
        return om_err(c->err, c->errlen, -errno, "quantize: temp file: %s", strerror(errno));
    close(fd);
    struct qprog q = {.c = c, .layer_size = (int64_t)l->size};
    snprintf(q.status, sizeof(q.status), "quantizing %s model to %s", src_name,
             store_ftype_name(want));
    for (int64_t i = 0; i < gguf_n_tensors(f); i++)
        q.total_in += gguf_tensor_at(f, i)->size;
    int rc = store_quantize_file(in, out, want, c->hooks ? c->hooks->n_threads : 0, on_tensor, &q,
                                 e2, sizeof(e2));
    if (rc) {
        unlink(out);
        return om_err(c->err, c->errlen, rc, "quantize: %s", e2);
    }
    create_status(c, "verifying conversion", NULL, 0, 0);
    gguf_file *chk;
    rc = gguf_open(out, &chk, e2, sizeof(e2));
    if (rc) {
        unlink(out);
        return om_err(c->err, c->errlen, rc, "quantized model does not load: %s", e2);
    }
    gguf_close(chk);
    char digest[72];
    bool existed = false;
    uint64_t size = 0;
    rc = adopt_file(c->root, out, digest, &existed, &size);
    unlink(out);
    if (rc)
        return om_err(c->err, c->errlen, rc, "storing quantized model: %s", om_strerror(rc));
    memcpy(l->digest, digest, 72);
    l->size = size;
    free(l->from);
    l->from = NULL;
    free(l->status);
    size_t n = 100;
    l->status = om_xmalloc(n);
    snprintf(l->status, n, "%s %s", existed ? "using existing layer" : "creating new layer",
             digest);
    return 0;
}

/* Source precision of a model: "F32", "F16", "BF16" when every tensor is
 * of those types (F32 norms allowed), else NULL. */
static const char *float_source(const gguf_file *f)
{
    int has16 = 0, hasbf = 0;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        uint32_t t = gguf_tensor_at(f, i)->type;
        if (t == OM_TYPE_F16)
            has16 = 1;
        else if (t == OM_TYPE_BF16)
            hasbf = 1;
        else if (t != OM_TYPE_F32)
            return NULL;
    }
    return hasbf ? "BF16" : has16 ? "F16" : "F32";
}

static void config_set_default(json_t *cfg, const char *key, const char *v)
{
    const char *cur = json_string_value(json_object_get(cfg, key));
    if ((!cur || !*cur) && v)
        json_object_set_new(cfg, key, json_string(v));
}

int create_process_models(struct create_ctx *c, const char *quantize)
{
    for (size_t i = 0; i < c->n_layers; i++) {
        struct create_layer *l = &c->layers[i];
        if (strcmp(l->media_type, STORE_MT_MODEL) != 0)
            continue;
        char path[4200], e2[256];
        store_blob_path(c->root, l->digest, path, sizeof(path));
        gguf_file *f;
        if (gguf_open(path, &f, e2, sizeof(e2)) != 0)
            return om_err(c->err, c->errlen, OM_EFORMAT, "model layer %s: %s", l->digest, e2);
        int rc = 0;
        if (quantize && *quantize) {
            enum store_ftype want;
            const char *src = float_source(f);
            if (store_ftype_from_name(quantize, &want) != 0)
                rc = om_err(c->err, c->errlen, OM_EINVAL,
                            "unsupported quantization type %s - supported types are F32, F16, "
                            "BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K_S, Q4_K_M, Q5_K_S, "
                            "Q5_K_M, Q6_K",
                            quantize);
            else if (!src)
                rc = om_err(c->err, c->errlen, OM_EINVAL,
                            "quantization is only supported for F16, BF16 and F32 models");
            else {
                uint32_t ft = 0;
                gguf_get_u32(f, "general.file_type", &ft);
                if ((int)ft != store_ftype_llama(want))
                    rc = quantize_layer(c, l, f, src, want);
            }
            if (!rc) {
                gguf_close(f);
                store_blob_path(c->root, l->digest, path, sizeof(path));
                if (gguf_open(path, &f, e2, sizeof(e2)) != 0)
                    return om_err(c->err, c->errlen, OM_EFORMAT, "model layer: %s", e2);
            }
        }
        if (!rc) {
            char *arch = gguf_string(f, "general.architecture");
            uint64_t params = 0;
            for (int64_t t = 0; t < gguf_n_tensors(f); t++) {
                const gguf_tensor *tt = gguf_tensor_at(f, t);
                uint64_t e = 1;
                for (uint32_t d = 0; d < tt->n_dims; d++)
                    e *= (uint64_t)tt->ne[d];
                params += e;
            }
            char human[32];
            store_format_params(params, human, sizeof(human));
            uint32_t ft = 0;
            int has_ft = gguf_get_u32(f, "general.file_type", &ft) == 0;
            config_set_default(c->config, "model_format", "gguf");
            config_set_default(c->config, "model_family", arch ? arch : "");
            config_set_default(c->config, "model_type", human);
            config_set_default(c->config, "file_type",
                               has_ft ? store_file_type_name(ft) : "unknown");
            json_t *fams = json_object_get(c->config, "model_families");
            if (!json_is_array(fams)) {
                fams = json_array();
                json_object_set_new(c->config, "model_families", fams);
            }
            json_array_append_new(fams, json_string(arch ? arch : ""));
            free(arch);
        }
        gguf_close(f);
        if (rc)
            return rc;
    }
    return 0;
}
