/* store/registry internals shared by registry_http.c (requests, URLs),
 * registry_auth.c (401 -> signed token request), registry_dlprep.c and
 * registry_dl.c (shared blob downloads), registry_pull.c, registry_push.c. */
#ifndef STORE_REGISTRY_INT_H
#define STORE_REGISTRY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <curl/curl.h>

#include "store/models.h"
#include "store/registry.h"

#define REG_URL_MAX 4096
/* Registries may refuse models that need a newer client (412), so a recent
 * version; the server passes its own in reg_opts.user_agent. */
#define REG_DEFAULT_UA "ollama/0.32.15 (amd64 linux) Go/go1.26.0"
#define REG_MANIFEST_ACCEPT "application/vnd.docker.distribution.manifest.v2+json"

/* reg_opts with defaults filled in. */
struct reg_cfg {
    int insecure, max_parallel, max_tries, retry_delay_ms, stall_timeout_ms, no_prune;
    int64_t part_size;
    const char *key_dir, *user_agent;
};

/* One pull or push: the registry of one model name. */
struct reg_client {
    struct store_name name;
    char scheme[8];          /* "https" or "http" */
    char base[400];          /* scheme://host */
    char repo[520];          /* ns/model */
    struct reg_cfg cfg;
    volatile int *cancel;
    pthread_mutex_t mu;      /* guards token and key */
    CURLSH *share;           /* connections, DNS and TLS sessions reused across requests */
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    char token[8192];        /* bearer token, "" before the first 401 */
    struct reg_key *key;     /* loaded on the first 401 */
};

/* A request body: memory (mem, len) or a file region (fd, off, len). */
struct reg_body {
    const void *mem;
    int fd;
    int64_t off, len;
    void (*on_bytes)(void *ud, int64_t n); /* progress hook (may be NULL) */
    void *ud;
    unsigned char md5[16];   /* filled when want_md5 */
    int want_md5;
};

struct reg_resp {
    long code;
    char *body;              /* NUL-terminated, malloc'd (may be NULL) */
    size_t body_len;
    int64_t content_length;  /* -1 when absent */
    char location[REG_URL_MAX];
    char upload_location[REG_URL_MAX];
    char www_auth[2048];
    char effective_url[REG_URL_MAX];
};

void reg_resp_free(struct reg_resp *r);
void reg_cfg_init(struct reg_cfg *c, const struct reg_opts *o);

/* Parses name (optionally "http://"/"https://"-prefixed) into c. Fails
 * "insecure protocol http" for http without insecure. */
int reg_client_init(struct reg_client *c, const char *name, const struct reg_opts *o,
                    volatile int *cancel, char *err, size_t errlen);
void reg_client_close(struct reg_client *c);

/* One HTTP request, no auth handling: the client's bearer token (if any, and
 * with_auth) and User-Agent are sent; redirects are not followed. headers is
 * a NULL-terminated list of "Name: value" lines (may be NULL). At most
 * max_body bytes of response body are kept (more: OM_ENOMEM); discard_body
 * stops reading at the first body byte (the status and headers are kept).
 * Returns 0 when a response arrived (any status), a negative code on
 * transport failure or cancel (err set). */
int reg_http(struct reg_client *c, const char *method, const char *url,
             const char *const *headers, struct reg_body *body, size_t max_body,
             int discard_body, int with_auth, struct reg_resp *r, char *err, size_t errlen);

/* Answers the 401 challenge www_auth (of a request to req_url): checks the
 * realm host, signs and GETs the token URL, stores the token in c. */
int reg_fetch_token(struct reg_client *c, const char *www_auth, const char *req_url,
                    char *err, size_t errlen);

/* Ollama's makeRequestWithRetry: reg_http, on 401 fetch a token from the
 * challenge and retry once; 404 -> OM_ENOTFOUND "file does not exist";
 * other >= 400 -> OM_EIO "<code>: <body>"; a second 401 -> "unauthorized:
 * access denied". On 0 the caller owns *r (status < 400). */
int reg_request(struct reg_client *c, const char *method, const char *url,
                const char *const *headers, struct reg_body *body, size_t max_body,
                int discard_body, struct reg_resp *r, char *err, size_t errlen);

/* reg_request that follows redirects (up to 10) as Go's default client:
 * credentials only to the original host name. For manifest GETs and blob
 * HEADs (a registry on object storage may redirect those too). */
int reg_request_follow(struct reg_client *c, const char *method, const char *url,
                       const char *const *headers, size_t max_body, struct reg_resp *r,
                       char *err, size_t errlen);
int reg_is_redirect(long code);

/* Resolves ref (absolute or relative URL) against base into out. */
int reg_url_resolve(const char *base, const char *ref, char *out, size_t cap);
/* host[:port] part of an absolute URL; hostname_only drops the port. */
int reg_url_host(const char *url, int hostname_only, char *out, size_t cap);
/* Appends "key=value" (value query-escaped as Go's url.QueryEscape) to url. */
int reg_url_add_query(char *url, size_t cap, const char *key, const char *value);

/* Emits {"status":s,"digest"?,"total"?,"completed"?} (zero fields omitted). */
void reg_emit(reg_progress_fn cb, void *ud, const char *status, const char *digest,
              int64_t total, int64_t completed);

/* ---- blob downloads (registry_dl.c, registry_dlprep.c) ---- */

#define REG_MB 1000000LL
#define REG_MAX_PARTS 100000
#define REG_MAX_BLOB (1LL << 40)

struct reg_part {
    struct reg_dl *d;
    int n;
    int64_t off, size, completed;
    CURL *h;
    struct curl_slist *hl; /* request headers of h */
    int64_t last_ns, retry_at_ns;
    int tries, bad_status;
    char range[64];
};

struct reg_dl {
    struct reg_dl *next;
    char path[4096];      /* final blob path: the table key */
    char digest[72];
    char url[REG_URL_MAX];
    char auth[8300];      /* header for the data URL, "" when cross-host */
    char ua[256];
    struct reg_cfg cfg;
    _Atomic int64_t total;  /* set by prepare while joiners may read it */
    _Atomic int64_t completed;
    _Atomic int stopping;
    struct reg_part *parts;
    int nparts, fd;
    /* under g_mu */
    int waiters, worker_alive, done, rc;
    char err[512];
};

/* Loads or makes the part records, sizes the -partial file, finds the data
 * URL. On the first puller's thread, before the worker starts. */
int reg_dl_prepare(struct reg_client *c, struct reg_dl *d, char *err, size_t errlen);
int reg_dl_rec_write(const struct reg_dl *d, const struct reg_part *p);
void reg_dl_rec_remove_all(const struct reg_dl *d);

/* Makes sure blob `digest` (canonical "sha256:<hex>") is in root: a cache
 * hit (*cache_hit = 1, one progress line with completed = total), or a
 * download shared with every other caller in this process that wants the
 * same blob of the same store, verified before it gets its final name.
 * Progress lines every ~60 ms on the calling thread. */
int reg_blob_fetch(struct reg_client *c, struct store_root *root, const char *digest,
                   reg_progress_fn cb, void *ud, int *cache_hit, char *err, size_t errlen);

/* Ollama's part sizing: total/16 clamped to [100 MB, 1000 MB], or cfg's. */
int64_t reg_part_size(const struct reg_cfg *cfg, int64_t total);

/* Sleeps ms milliseconds in slices, returning early (non-zero) on cancel. */
int reg_sleep_ms(const struct reg_client *c, int64_t ms);

static inline int reg_canceled(const struct reg_client *c)
{
    return c->cancel && *c->cancel;
}

#endif
