/* store: private helpers shared by the model-store files (models.h).
 *
 * Paths are built only from validated names and digests; files are written
 * through store_file_write_atomic (temp file in the target folder, fsync,
 * rename, fsync of the folder). JSON written to disk goes through
 * store_json_go(), which encodes like Go's encoding/json (HTML-safe escapes,
 * shortest floats, no spaces) so that layers and manifests we write have the
 * bytes, hence the digests, that Ollama would write for the same content. */
#ifndef STORE_MODELS_INT_H
#define STORE_MODELS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/models.h"

#define STORE_MT_MODEL "application/vnd.ollama.image.model"
#define STORE_MT_ADAPTER "application/vnd.ollama.image.adapter"
#define STORE_MT_PROJECTOR "application/vnd.ollama.image.projector"
#define STORE_MT_TEMPLATE "application/vnd.ollama.image.template"
#define STORE_MT_PROMPT "application/vnd.ollama.image.prompt"
#define STORE_MT_SYSTEM "application/vnd.ollama.image.system"
#define STORE_MT_PARAMS "application/vnd.ollama.image.params"
#define STORE_MT_MESSAGES "application/vnd.ollama.image.messages"
#define STORE_MT_LICENSE "application/vnd.ollama.image.license"
#define STORE_MT_DRAFT "application/vnd.ollama.image.draft"
#define STORE_MT_CONFIG "application/vnd.docker.container.image.v1+json"
#define STORE_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

#define STORE_SMALL_LAYER_MAX (64u << 20) /* template/system/params/messages/license/config */

struct store_root {
    char *dir;       /* root */
    char *blobs;     /* <root>/blobs */
    char *manifests; /* <root>/manifests */
};

/* sha256 of data as 64 lowercase hex + NUL. */
void store_sha256_hex(const void *data, size_t n, char hex[65]);

/* store_blob_commit that also says whether the blob was already there. */
int store_blob_commit_ex(struct store_blob_writer *w, const char *expected_digest,
                         char digest_out[72], bool *existed, char *err, size_t errlen);

/* mkdir -p (0755). 0 or -errno. */
int store_mkdirs(const char *path);
/* Writes data to path atomically (temp in the same folder, fsync, rename,
 * fsync folder). 0 or -errno / OM_EIO. */
int store_file_write_atomic(const char *path, const void *data, size_t n);
/* Reads a whole regular file of at most max bytes (OM_ENOMEM when larger,
 * -ENOENT when absent); *out NUL-terminated, malloc'd. */
int store_file_read(const char *path, size_t max, char **out, size_t *len);

/* <manifests>/<host>/<ns>/<model>/<tag> of an exact (already canonical)
 * name. OM_ERANGE if it does not fit. */
int store_manifest_path(const struct store_root *r, const struct store_name *n, char *out,
                        size_t cap);
/* A name from four path components, no defaults; 0 or OM_EINVAL. */
int store_name_from_parts(const char *host, const char *ns, const char *model, const char *tag,
                          struct store_name *out);
/* Rewrites n to the spelling of an existing manifest when one matches
 * case-insensitively; returns 1 when found, 0 when not. */
int store_name_resolve(const struct store_root *r, struct store_name *n);

/* Parses and checks a manifest (object, config and layers with valid
 * digests and sizes). *out: new ref. OM_EFORMAT with err otherwise. */
int store_manifest_parse(const char *bytes, size_t len, json_t **out, char *err, size_t errlen);

/* Sorted set of the digests (canonical "sha256:<hex>") every manifest
 * references. */
struct store_digest_set {
    char (*d)[72];
    size_t n, cap;
};
int store_digest_set_collect(const struct store_root *r, struct store_digest_set *s);
bool store_digest_set_has(const struct store_digest_set *s, const char *digest);
void store_digest_set_free(struct store_digest_set *s);
/* Removes the blobs of manifest m that no manifest on disk references
 * (Ollama's RemoveLayers; other unreferenced blobs, e.g. uploads waiting
 * for a create, are left alone). */
int store_remove_layers(struct store_root *r, const json_t *m);

/* A PARAMETER value (text) converted to its option's JSON type. Returns 0
 * with *out (new ref), OM_ENOTFOUND for an unknown name (err `unknown
 * parameter 'x'`), OM_EINVAL for a bad value (err like Ollama's). *is_list:
 * the option is a list (stop). Deprecated names: OM_EUNSUPPORTED. */
int store_option_from_text(const char *name, const char *text, json_t **out, bool *is_list,
                           char *err, size_t errlen);

/* Go's %v of a JSON scalar (strings raw, numbers shortest, bools) into a
 * malloc'd string; with go_quote, strings are Go-quoted (%#v). */
char *store_go_value(const json_t *v, bool go_quote);
/* Go's strconv.FormatFloat(x, 'g', -1, 64) (used by %v). */
void store_go_float_g(double x, char *buf, size_t cap);

#endif
