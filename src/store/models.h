/* store: Ollama's model store — names, blobs, manifests, Modelfiles, create.
 *
 * Byte-for-byte Ollama's on-disk layout under a root directory
 * ($OLLAMA_MODELS, default ~/.ollama/models):
 *   blobs/sha256-<64 hex>                      content-addressed files
 *   manifests/<host>/<namespace>/<model>/<tag> manifest JSON
 * Every file is written to a temp file in the same directory, fsync'd and
 * renamed, so a reader never sees half a blob or half a manifest. Names and
 * digests from outside are validated before any path is built from them, so
 * no name can escape the root. Functions returning json_t* give the caller a
 * new reference; functions taking one borrow it.
 *
 * Thread safety: a store_root may be shared by threads; manifest writes are
 * atomic renames, blob writes go through private temp files. Deleting while
 * another thread creates a model that shares blobs is the caller's to
 * serialize (the server holds one store lock for create/delete/copy/pull). */
#ifndef STORE_MODELS_H
#define STORE_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---- names (Ollama types/model/name.go) ---- */

#define STORE_DEFAULT_HOST "registry.ollama.ai"
#define STORE_DEFAULT_NS "library"
#define STORE_DEFAULT_TAG "latest"

struct store_name {
    char host[352]; /* may hold ":port"; up to 350 chars */
    char ns[256];
    char model[256];
    char tag[256];
};

/* Parses "[scheme://][host/][ns/]model[:tag]" (right to left, as Ollama),
 * filling defaults registry.ollama.ai / library / latest. Returns 0, or
 * OM_EINVAL when any part is empty, too long, or has a character Ollama
 * rejects (also "..", "/" tricks: no part can form a path escape). */
int store_name_parse(const char *s, struct store_name *out);
/* "registry.ollama.ai/library/llama3:latest" (always full). */
void store_name_full(const struct store_name *n, char *buf, size_t cap);
/* Shortest display form: "llama3:latest", "user/m:tag", "host:port/ns/m:tag". */
void store_name_display(const struct store_name *n, char *buf, size_t cap);
/* Case-insensitive equality of all four parts. */
bool store_name_equal(const struct store_name *a, const struct store_name *b);

/* ---- root ---- */

struct store_root;

/* Opens the store at dir (NULL: $OLLAMA_MODELS, else ~/.ollama/models),
 * creating it and its blobs/ and manifests/ folders. */
int store_open(const char *dir, struct store_root **out, char *err, size_t errlen);
void store_close(struct store_root *r); /* NULL: no-op */
const char *store_dir(const struct store_root *r);

/* ---- blobs ---- */

#define STORE_DIGEST_LEN 71 /* "sha256:" + 64 hex */

/* 1 when d is "sha256:<64 lowercase-or-uppercase hex>" or "sha256-<64 hex>". */
int store_digest_valid(const char *d);
/* Canonical form "sha256:<64 lowercase hex>" of a valid digest into out[72].
 * Returns 0 or OM_EINVAL. */
int store_digest_canon(const char *d, char out[72]);
/* <root>/blobs/sha256-<hex>. OM_EINVAL for an invalid digest, OM_ERANGE if cap
 * is too small. */
int store_blob_path(const struct store_root *r, const char *digest, char *out, size_t cap);
bool store_blob_exists(const struct store_root *r, const char *digest);
/* Size of a blob in bytes; OM_ENOTFOUND when absent. */
int store_blob_size(const struct store_root *r, const char *digest, uint64_t *size);

/* Streamed blob upload: bytes are hashed while written to a temp file in
 * blobs/; commit fsyncs and renames it to its digest's name. */
struct store_blob_writer;
int store_blob_begin(struct store_root *r, struct store_blob_writer **w);
int store_blob_write(struct store_blob_writer *w, const void *data, size_t n);
/* Finishes and frees w (whatever the result). expected_digest NULL: any.
 * On mismatch returns OM_EINVAL with err
 * `digest mismatch, expected "sha256:a", got "sha256:b"` and removes the temp
 * file. digest_out (may be NULL) gets "sha256:<hex>". A blob already present
 * is kept (the new copy is dropped). */
int store_blob_commit(struct store_blob_writer *w, const char *expected_digest, char digest_out[72],
                      char *err, size_t errlen);
/* Frees w and removes its temp file. NULL: no-op. */
void store_blob_abort(struct store_blob_writer *w);
/* Writes a small in-memory blob (template, params…). */
int store_blob_put_bytes(struct store_root *r, const void *data, size_t n, char digest_out[72]);
/* Reads a blob into memory (at most max bytes, else OM_ENOMEM); *out is
 * NUL-terminated, free() it. */
int store_blob_read(const struct store_root *r, const char *digest, size_t max, char **out,
                    size_t *len);

/* sha256 of a local file as "sha256:<hex>" (what `ollama create` computes
 * before uploading a FROM/ADAPTER file). 0 or -errno. */
int store_file_digest(const char *path, char digest_out[72]);

/* ---- manifests ---- */

#define STORE_MANIFEST_MAX (4u << 20) /* larger manifests are rejected */

/* Reads the manifest of n (case-insensitive lookup). *bytes (malloc'd,
 * NUL-terminated, caller frees), *len, digest_hex = sha256 of the bytes,
 * *mtime_ns = file mtime. Any out-param except bytes may be NULL.
 * OM_ENOTFOUND when absent. */
int store_manifest_read(const struct store_root *r, const struct store_name *n, char **bytes,
                        size_t *len, char digest_hex[65], int64_t *mtime_ns);
/* Writes (atomically replaces) the manifest of n, under the spelling of an
 * existing one that matches case-insensitively. bytes must be a manifest
 * (checked: JSON object, config and layers with mediaType, valid digest and
 * size >= 0; else OM_EFORMAT) of at most STORE_MANIFEST_MAX (OM_ENOMEM). */
int store_manifest_write(struct store_root *r, const struct store_name *n, const char *bytes,
                         size_t len);
/* Sum of the layer sizes plus the config size of a manifest (the "size" of
 * /api/tags); OM_EFORMAT for a bad manifest. */
int store_manifest_size(const char *bytes, size_t len, uint64_t *size);
/* Calls cb for every valid manifest (invalid names and unreadable files are
 * skipped). A non-zero return of cb stops the walk and is returned. */
typedef int (*store_list_fn)(void *ud, const struct store_name *n, const char *manifest, size_t len,
                             const char *digest_hex, int64_t mtime_ns);
int store_list(const struct store_root *r, store_list_fn cb, void *ud);
/* Copies the manifest of src to dst (blobs are shared). OM_ENOTFOUND when
 * src is missing. */
int store_copy(struct store_root *r, const struct store_name *src, const struct store_name *dst);
/* Removes the manifest of n, then empty manifest folders, and (prune_blobs)
 * those of its blobs that no remaining manifest references (Ollama's
 * RemoveLayers; other unreferenced blobs are left to store_prune).
 * OM_ENOTFOUND when absent. */
int store_delete(struct store_root *r, const struct store_name *n, bool prune_blobs);
/* Start-up pruning (Ollama's PruneLayers + PruneDirectory): files in blobs/
 * older than 1 h that are unreferenced blobs or have invalid names (temp
 * files, stale partials) are removed, then empty manifest folders. Files
 * younger than 1 h are never touched (uploads and pulls in flight). */
int store_prune(struct store_root *r);

/* ---- resolved models ---- */

struct store_model {
    struct store_name name;
    char digest[65];      /* sha256 hex of the manifest bytes */
    int64_t mtime_ns;     /* manifest mtime */
    uint64_t size;        /* sum of layer sizes + config size */
    char *model_path;     /* GGUF weights blob path, or NULL */
    char *projector_path; /* first projector layer, or NULL */
    char *adapter_path;   /* first adapter layer, or NULL */
    char *template_text;  /* template layer text, or NULL */
    char *system;         /* system layer text, or NULL */
    json_t *params;       /* params layer object, or NULL */
    json_t *messages;     /* messages layer array, or NULL */
    char **licenses;      /* license layer texts */
    int n_licenses;
    json_t *config;   /* config blob object (never NULL; {} if absent) */
    json_t *manifest; /* the parsed manifest */
};

/* Resolves name (parsed with store_name_parse) to its manifest and reads
 * its small layers. OM_EINVAL for an invalid name (err: `name "x" is
 * invalid`), OM_ENOTFOUND when missing (err: `model 'x' not found`),
 * OM_EFORMAT for a broken manifest or missing blob. */
int store_model_get(const struct store_root *r, const char *name, struct store_model **out,
                    char *err, size_t errlen);
void store_model_free(struct store_model *m); /* NULL: no-op */

/* {parent_model, format, family, families, parameter_size,
 * quantization_level, context_length?, embedding_length?} from the config
 * blob, completed from the GGUF header as Ollama's list does (context and
 * embedding length from {arch}.*, quantization_level from general.file_type
 * when the config says "" or "unknown"). parent_model is the model layer's
 * "from". */
json_t *store_model_details(const struct store_model *m);
/* The capabilities that do not depend on the template, in Ollama's order:
 * the config's list, then "embedding" (GGUF has {arch}.pooling_type) or
 * "completion", then "vision" (projector layer or {arch}.vision.block_count)
 * and "audio". The caller appends "tools", "insert", "thinking" from its
 * template analysis. New array. */
json_t *store_model_capabilities(const struct store_model *m);
/* Ollama's format.HumanNumber of a parameter count: "8B", "8.0B", "137M",
 * "136.73M", "292K", "999". */
void store_format_params(uint64_t n, char *buf, size_t cap);

/* model_info of /api/show: every GGUF metadata key (arrays longer than 5
 * replaced by [] unless verbose; general.name and tokenizer.chat_template
 * removed), plus general.parameter_count. NULL with err on failure. */
json_t *store_model_info(const char *gguf_path, bool verbose, char *err, size_t errlen);
/* The generated Modelfile of /api/show (§9.4); malloc'd. /api/show's
 * request overrides (system, options merged over params) are applied by
 * the caller to m before the call. */
char *store_show_modelfile(const struct store_model *m);
/* The "parameters" text of /api/show; malloc'd ("" for NULL/empty). */
char *store_show_parameters(const json_t *params);

/* Ollama's name of a GGUF general.file_type (llama.cpp LLAMA_FTYPE value):
 * "F32", "F16", "Q4_K_M"…; "unknown" for others. */
const char *store_file_type_name(int64_t llama_ftype);

/* JSON text the way Go's encoding/json writes it (compact, "<>&" escaped as
 * \u003c…, shortest floats: 0.7 not 0.69999999999999996); sort_keys for
 * maps. malloc'd; *len (may be NULL) gets the length. */
char *store_json_go(const json_t *v, bool sort_keys, bool newline, size_t *len);

/* ---- options (§4.1) ---- */

/* Validates opts (an object, or NULL) as Ollama's Options.FromMap does and
 * returns the typed copy in *typed_out (may be NULL): ints as JSON integers
 * (a JSON real is truncated), floats as reals (integers accepted), bools,
 * stop as an array of strings. No conversion from strings (Ollama refuses
 * "0.7" as well). Unknown and deprecated keys and nulls are dropped.
 * Errors (OM_EINVAL, *typed_out NULL): `option "temperature" must be of
 * type float32`, `... of type integer`, `... of type boolean`, `... of type
 * array`, `... of an array of strings`. */
int store_options_check(const json_t *opts, json_t **typed_out, char *err, size_t errlen);

/* ---- Modelfile (§9.3) ---- */

/* Parses a Modelfile into the /api/create request body the Ollama CLI
 * sends: {"from", "parameters", "template", "system", "license": [..],
 * "messages": [{role, content}], "requires", "renderer", "parser"}. FROM is
 * kept as written (the client turns a path into "files"). Errors carry the
 * line: `(line 3): unknown parameter 'foo'`. */
int store_modelfile_parse(const char *text, size_t len, json_t **create_req, char *err,
                          size_t errlen);

/* ---- create (§2.8) ---- */

struct store_create_hooks {
    void *ud;
    /* Chat template detection: given the GGUF tokenizer.chat_template, sets
     * *name (e.g. "llama3-instruct"), *go_template and *params (object with
     * "stop"…, may be NULL) — all malloc'd / new refs the store takes — and
     * returns 0, or returns non-zero when nothing matches. May be NULL. */
    int (*detect)(void *ud, const char *jinja_chat_template, char **name, char **go_template,
                  json_t **params);
    /* Quantizer threads (<= 0: physical cores). */
    int n_threads;
    /* Checks a request's Go template (Ollama rejects one that does not
     * parse: "template error: …"); returns non-zero with err set when
     * invalid. May be NULL (no check). */
    int (*check_template)(void *ud, const char *go_template, char *err, size_t errlen);
};

/* Progress callback: status_obj is {"status": "...", "digest"?, "total"?,
 * "completed"?} (borrowed, valid during the call). */
typedef void (*store_progress_cb)(void *ud, const json_t *status_obj);

/* Implements /api/create on req (the request body). On success the manifest
 * is written and the last progress is {"status":"success"}; the replaced
 * manifest's layers that nothing references are deleted unless
 * OLLAMA_NOPRUNE is true. Not supported (OM_EUNSUPPORTED): adapters,
 * draft_files, remote_host, safetensors files, split GGUFs. Errors:
 * OM_EINVAL (bad request: err as Ollama's message), OM_ENOTFOUND
 * (`model "x" not found` for a missing from; the caller may pull and
 * retry), OM_EFORMAT (bad GGUF), others from I/O. hooks and progress may be
 * NULL. */
int store_create(struct store_root *r, const json_t *req, const struct store_create_hooks *hooks,
                 store_progress_cb progress, void *ud, char *err, size_t errlen);

#endif
