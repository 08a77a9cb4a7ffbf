/* store: private state of /api/create (create.c, create_gguf.c).
 *
 * A create assembles a list of layers (base layers from `from` or `files`,
 * then template/system/license/params/messages), a ConfigV2 object, and
 * writes the manifest. Each layer carries the status line Ollama reports
 * for it ("using existing layer sha256:…", "creating new layer sha256:…",
 * "using autodetected template …"). */
#ifndef STORE_CREATE_INT_H
#define STORE_CREATE_INT_H

#include "store/models_int.h"

struct create_layer {
    char media_type[96];
    char digest[72];
    uint64_t size;
    char *from;   /* "from" of the manifest layer, or NULL */
    char *name;   /* "name" of the manifest layer, or NULL */
    char *status; /* reported before "writing manifest", or NULL */
};

struct create_ctx {
    struct store_root *root;
    const json_t *req;
    const struct store_create_hooks *hooks;
    store_progress_cb progress;
    void *ud;
    struct create_layer *layers;
    size_t n_layers, cap_layers;
    json_t *config; /* ConfigV2 fields collected so far */
    char *err;
    size_t errlen;
};

/* Sends {"status": s} (plus digest/total/completed when total > 0). */
void create_status(struct create_ctx *c, const char *s, const char *digest, int64_t total,
                   int64_t completed);
/* Appends a layer (strings copied). */
struct create_layer *create_add_layer(struct create_ctx *c, const char *media_type,
                                      const char *digest, uint64_t size, const char *from,
                                      const char *name, const char *status);
/* Removes every layer of media_type (the blobs stay; pruning is later). */
void create_remove_layers(struct create_ctx *c, const char *media_type);
/* Writes bytes as a new layer of media_type ("creating new layer …" or
 * "using existing layer …"). */
int create_put_layer(struct create_ctx *c, const char *media_type, const void *data, size_t n);

/* Adds the layer(s) of an uploaded GGUF blob `digest` named file_path
 * ("parsing GGUF"; media type model/adapter/projector from its metadata),
 * and, when detect and the model has tokenizer.chat_template, the
 * template and params layers the hook returns. */
int create_from_gguf_blob(struct create_ctx *c, const char *file_path, const char *digest,
                          bool detect);
/* For each model layer: quantize when asked (replacing the layer), then
 * fill config's model_format/family/families/type/file_type. */
int create_process_models(struct create_ctx *c, const char *quantize);

/* Takes the base layers from req's "from" or "files" (create.c). */
int create_base_layers(struct create_ctx *c);
/* io/fs.ValidPath (no absolute path, no "", "." or ".." element). */
int create_path_valid(const char *p);

#endif
