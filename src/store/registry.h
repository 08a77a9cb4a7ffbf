/* store/registry: Ollama's registry client (pull and push over the
 * OCI/Docker-distribution protocol that registry.ollama.ai speaks) and the
 * ed25519 identity key that signs its token requests.
 *
 * Protocol, as Ollama's server/images.go, download.go, upload.go, auth.go:
 *   base URL  <scheme>://<host of the model name>, repository <ns>/<model>;
 *   auth      a 401 carries `WWW-Authenticate: Bearer realm=,service=,scope=`;
 *             the realm host must equal the registry host; we GET the realm
 *             with service/scope/ts/nonce signed by our key (reg_key_sign over
 *             "GET,<realm url>,<b64(hex(sha256("")))>") and retry once with
 *             `Authorization: Bearer <token>`;
 *   pull      manifest GET -> per blob (layers, then config): cached, or HEAD
 *             for the size, GET without following cross-host redirects to get
 *             the data URL, ranged parts in parallel from that URL into
 *             blobs/sha256-<hex>-partial with part records
 *             blobs/sha256-<hex>-partial-<N> ({"N","Offset","Size","Completed"})
 *             so an interrupted pull resumes; sha256 verified before the blob
 *             gets its final name; manifest written verbatim; layers of the
 *             replaced manifest that nothing references any more removed;
 *   push      per blob HEAD, POST uploads/ (mount when the layer has "from"),
 *             PATCH parts with Content-Range (a 307 means PUT the part to the
 *             redirect URL), commit PUT ?digest=&etag=; manifest PUT.
 *
 * Progress goes to the caller's callback as Ollama's ProgressResponse JSON:
 * {"status":…, "digest"?, "total"?, "completed"?} (zero fields omitted), with
 * the statuses "pulling manifest", "pulling <12 hex>", "verifying sha256
 * digest", "writing manifest", "removing unused layers", "success" (pull) and
 * "retrieving manifest", "pushing <12 hex>", "pushing manifest", "success"
 * (push). The callback is only ever called on the thread that called
 * reg_pull/reg_push, at most every ~60 ms per blob in flight, and never after
 * the call returns.
 *
 * Thread safety: any number of reg_pull/reg_push calls may run at once (each
 * on its own thread). Pulls of the same blob into the same store share one
 * download (process-wide table); the download stops when every puller that
 * waits on it has been cancelled. Call curl_global_init() once at program
 * start (the server does); these functions call it themselves otherwise,
 * which is not thread-safe on the very first call. Ignore SIGPIPE
 * process-wide (libcurl over TLS can raise it on a dropped connection).
 *
 * Server start-up: reg_key_load(NULL, 1, &k, …) creates ~/.ollama/id_ed25519
 * when missing, as `ollama serve` does (then reg_key_free). Tests and the
 * JS end-to-end suite use tests/js/lib/registry.mjs, a registry speaking
 * this protocol (see its header). */
#ifndef STORE_REGISTRY_H
#define STORE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store_root; /* store/models.h */

/* ---- identity key (keys.c) ---- */

/* An ed25519 key as Ollama keeps it: <dir>/id_ed25519 (OpenSSH private key
 * format, unencrypted, mode 0600) and <dir>/id_ed25519.pub
 * ("ssh-ed25519 <b64>\n"). */
struct reg_key;

/* Writes "$HOME/.ollama" to out. Returns 0, or OM_ENOTFOUND without HOME,
 * OM_ERANGE if it does not fit. */
int reg_key_default_dir(char *out, size_t outlen);

/* Loads <dir>/id_ed25519 (dir NULL: reg_key_default_dir). When the file is
 * missing and create is set, makes a new key and writes both files (creating
 * dir, 0755). Returns 0 and gives *out (free with reg_key_free), or a
 * negative code with err naming the file and what was wrong. */
int reg_key_load(const char *dir, int create, struct reg_key **out,
                 char *err, size_t errlen);
void reg_key_free(struct reg_key *k);

/* "ssh-ed25519 <b64>" (no newline), borrowed from k. */
const char *reg_key_public(const struct reg_key *k);

/* Ollama's auth.Sign: writes "<b64 of the ssh public key blob>:<b64 of the
 * ed25519 signature of msg>" to out. Returns 0, OM_ERANGE if out is too
 * small (200 bytes always suffice), OM_EIO if OpenSSL fails. */
int reg_key_sign(const struct reg_key *k, const void *msg, size_t n,
                 char *out, size_t outlen);

/* ---- pull / push (registry*.c) ---- */

struct reg_opts {
    int insecure;           /* allow http:// registries (Ollama's "insecure") */
    const char *key_dir;    /* identity key directory; NULL: $HOME/.ollama.
                             * The key is created there if missing. */
    int64_t part_size;      /* 0: Ollama's sizing (size/16 clamped to
                             * [100 MB, 1000 MB]); > 0: this size (tests) */
    int max_parallel;       /* parts in flight per blob; 0: 16 */
    int max_tries;          /* attempts per download part, upload part, data-URL
                             * lookup and upload commit; 0: 6 (Ollama's) */
    int retry_delay_ms;     /* first retry delay, doubled each try; 0: 1000 */
    int stall_timeout_ms;   /* restart a part without progress; 0: 30000 */
    int no_prune;           /* keep layers the replaced manifest no longer uses
                             * (OLLAMA_NOPRUNE) */
    const char *user_agent; /* NULL: "ollama/0.32.15 (amd64 linux) Go/go1.26.0";
                             * pass "ollama/<our /api/version> (<arch> <os>) Go/…" */
};

/* Progress callback: status is borrowed, valid during the call only. */
typedef void (*reg_progress_fn)(void *ud, const json_t *status);

/* Pulls model `name` (Ollama name grammar: [scheme://][host/][ns/]model[:tag])
 * into root. o may be NULL (defaults). cancel may be NULL; when *cancel
 * becomes non-zero the pull returns OM_ECANCELED promptly (within ~60 ms
 * while waiting on a blob, about a second at worst inside one request),
 * leaving partial files for a later resume; a download shared with other
 * pulls goes on for them. Returns 0 after the manifest is written
 * and "success" was reported; on failure a negative code and err holds
 * Ollama's message ("pull model manifest: file does not exist", "digest
 * mismatch, file must be downloaded again: want …, got …", "insecure
 * protocol http", "pull model manifest: 401: …"). Codes: OM_ENOTFOUND
 * (no such model or blob on the registry), OM_EINVAL (bad name, http without
 * insecure, token realm on another host), OM_EFORMAT (bad manifest, digest
 * mismatch), OM_EUNSUPPORTED (safetensors tensor layers), OM_EIO (registry
 * status or transport), OM_ECANCELED, -errno (local files). A failed pull
 * never leaves a blob or manifest under its final name that was not
 * verified. */
int reg_pull(struct store_root *root, const char *name,
             const struct reg_opts *o, reg_progress_fn cb, void *ud,
             volatile int *cancel, char *err, size_t errlen);

/* Pushes the local model `name` (its manifest and every blob it names) to the
 * registry of its name. Same conventions as reg_pull; errors as Ollama's
 * ("file does not exist" for an unknown local model, "insecure protocol
 * http", "<code>: <body>" for registry errors). The manifest is sent with the
 * exact bytes stored locally, so the pushed model digest equals the local. */
int reg_push(struct store_root *root, const char *name,
             const struct reg_opts *o, reg_progress_fn cb, void *ud,
             volatile int *cancel, char *err, size_t errlen);

#endif
