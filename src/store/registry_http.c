/* store/registry_http: one registry request over libcurl, URL helpers and
 * the registry client's set-up (the token dance is registry_auth.c).
 *
 * Invariants: redirects are never followed here (callers decide, so a blob
 * GET can stop at the cross-host 307); response bodies are bounded by the
 * caller's max_body (error bodies are kept up to 8 KiB for messages); the
 * bearer token is only sent when the caller asks (with_auth), i.e. to the
 * registry's own URLs. */
#include "store/registry_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "base/om.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void reg_cfg_init(struct reg_cfg *c, const struct reg_opts *o)
{
    static const struct reg_opts zero;
    if (!o) o = &zero;
    c->insecure = o->insecure;
    c->max_parallel = o->max_parallel > 0 ? OM_MIN(o->max_parallel, 64) : 16;
    c->max_tries = o->max_tries > 0 ? o->max_tries : 6;
    c->retry_delay_ms = o->retry_delay_ms > 0 ? o->retry_delay_ms : 1000;
    c->stall_timeout_ms = o->stall_timeout_ms > 0 ? o->stall_timeout_ms : 30000;
    c->no_prune = o->no_prune;
    c->part_size = o->part_size > 0 ? o->part_size : 0;
    c->key_dir = o->key_dir;
    c->user_agent = o->user_agent ? o->user_agent : REG_DEFAULT_UA;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h; (void)access;
    struct reg_client *c = ud;
    pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    struct reg_client *c = ud;
    pthread_mutex_unlock(&c->share_mu[data]);
}

int reg_client_init(struct reg_client *c, const char *name, const struct reg_opts *o,
                    volatile int *cancel, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init_once);
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&c->share_mu[i], NULL);
    /* one pull or push keeps its connections (and TLS sessions) alive across
     * requests, as Go's transport does; push threads use it concurrently */
    c->share = curl_share_init();
    if (c->share) {
        curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    reg_cfg_init(&c->cfg, o);
    c->cancel = cancel;
    const char *scheme = "https", *rest = name, *sep = strstr(name, "://");
    if (sep) {
        size_t sl = (size_t)(sep - name);
        if (sl == 4 && strncmp(name, "http", 4) == 0) scheme = "http";
        else if (sl == 5 && strncmp(name, "https", 5) == 0) scheme = "https";
        else return om_err(err, errlen, OM_EINVAL, "unsupported protocol scheme in %s", name);
        rest = sep + 3;
    }
    if (store_name_parse(rest, &c->name))
        return om_err(err, errlen, OM_EINVAL, "invalid model name");
    if (strcmp(scheme, "http") == 0 && !c->cfg.insecure)
        return om_err(err, errlen, OM_EINVAL, "insecure protocol http");
    if (c->cfg.insecure) scheme = "http";
    snprintf(c->scheme, sizeof c->scheme, "%s", scheme);
    snprintf(c->base, sizeof c->base, "%s://%s", scheme, c->name.host);
    snprintf(c->repo, sizeof c->repo, "%s/%s", c->name.ns, c->name.model);
    return 0;
}

void reg_client_close(struct reg_client *c)
{
    reg_key_free(c->key);
    c->key = NULL;
    if (c->share) curl_share_cleanup(c->share);
    c->share = NULL;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&c->share_mu[i]);
    pthread_mutex_destroy(&c->mu);
}

void reg_resp_free(struct reg_resp *r)
{
    free(r->body);
    r->body = NULL;
}

void reg_emit(reg_progress_fn cb, void *ud, const char *status, const char *digest,
              int64_t total, int64_t completed)
{
    if (!cb) return;
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(status));
    if (digest && *digest) json_object_set_new(o, "digest", json_string(digest));
    if (total) json_object_set_new(o, "total", json_integer(total));
    if (completed) json_object_set_new(o, "completed", json_integer(completed));
    cb(ud, o);
    json_decref(o);
}

/* ---- URLs ---- */

int reg_url_resolve(const char *base, const char *ref, char *out, size_t cap)
{
    CURLU *u = curl_url();
    char *s = NULL;
    int rc = OM_EFORMAT;
    if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
        rc = strlen(s) < cap ? 0 : OM_ERANGE;
        if (!rc) memcpy(out, s, strlen(s) + 1);
    }
    curl_free(s);
    curl_url_cleanup(u);
    return rc;
}

int reg_url_host(const char *url, int hostname_only, char *out, size_t cap)
{
    CURLU *u = curl_url();
    char *h = NULL, *p = NULL;
    int rc = OM_EFORMAT;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
        if (!hostname_only) curl_url_get(u, CURLUPART_PORT, &p, 0);
        int n = snprintf(out, cap, "%s%s%s", h, p ? ":" : "", p ? p : "");
        rc = (n < 0 || (size_t)n >= cap) ? OM_ERANGE : 0;
    }
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

/* Go's url.QueryEscape: unreserved kept, space -> '+', the rest %XX. */
static size_t query_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            if (o + 1 < cap) out[o] = (char)ch;
            o++;
        } else if (ch == ' ') {
            if (o + 1 < cap) out[o] = '+';
            o++;
        } else {
            if (o + 3 < cap) snprintf(out + o, 4, "%%%02X", ch);
            o += 3;
        }
    }
    if (cap) out[o < cap ? o : cap - 1] = 0;
    return o;
}

int reg_url_add_query(char *url, size_t cap, const char *key, const char *value)
{
    size_t n = strlen(url);
    char ek[256], ev[REG_URL_MAX];
    if (query_escape(key, ek, sizeof ek) >= sizeof ek || query_escape(value, ev, sizeof ev) >= sizeof ev)
        return OM_ERANGE;
    int w = snprintf(url + n, cap - n, "%c%s=%s", strchr(url, '?') ? '&' : '?', ek, ev);
    return (w < 0 || (size_t)w >= cap - n) ? OM_ERANGE : 0;
}

/* ---- one request ---- */

struct xfer {
    struct reg_client *c;
    struct reg_resp *r;
    struct reg_body *body;
    int64_t pos;
    EVP_MD_CTX *md5;
    size_t max_body, cap;
    int discard, discarded, too_big;
};

static void hdr_copy(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

static size_t on_header(char *buf, size_t sz, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t n = sz * nitems;
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) { /* a new response: forget the previous one's */
        x->r->location[0] = x->r->upload_location[0] = x->r->www_auth[0] = 0;
        x->r->content_length = -1;
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon) return n;
    size_t kl = (size_t)(colon - buf);
    const char *v = colon + 1;
    while (v < buf + n && (*v == ' ' || *v == '\t')) v++;
    size_t vl = (size_t)(buf + n - v);
#define IS(name) (kl == sizeof(name) - 1 && strncasecmp(buf, name, kl) == 0)
    if (IS("Location")) hdr_copy(x->r->location, sizeof x->r->location, v, vl);
    else if (IS("Docker-Upload-Location")) hdr_copy(x->r->upload_location, sizeof x->r->upload_location, v, vl);
    else if (IS("WWW-Authenticate")) hdr_copy(x->r->www_auth, sizeof x->r->www_auth, v, vl);
    else if (IS("Content-Length")) {
        char tmp[32];
        hdr_copy(tmp, sizeof tmp, v, vl);
        char *end;
        long long cl = strtoll(tmp, &end, 10);
        x->r->content_length = (end != tmp && *end == 0 && cl >= 0) ? cl : -1;
    }
#undef IS
    return n;
}

static size_t on_write(char *buf, size_t sz, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t n = sz * nitems;
    if (x->discard) { x->discarded = 1; return 0; }
    /* error bodies are kept up to 8 KiB whatever max_body says */
    if (x->r->body_len + n > OM_MAX(x->max_body, (size_t)8192)) { x->too_big = 1; return 0; }
    if (x->r->body_len + n + 1 > x->cap) {
        size_t nc = OM_MAX(x->cap * 2, x->r->body_len + n + 1);
        nc = OM_MAX(nc, (size_t)4096);
        x->r->body = om_xrealloc(x->r->body, nc);
        x->cap = nc;
    }
    memcpy(x->r->body + x->r->body_len, buf, n);
    x->r->body_len += n;
    x->r->body[x->r->body_len] = 0;
    return n;
}

static size_t on_read(char *buf, size_t sz, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    struct reg_body *b = x->body;
    size_t want = sz * nitems;
    int64_t left = b->len - x->pos;
    if (left <= 0) return 0;
    if ((int64_t)want > left) want = (size_t)left;
    ssize_t got;
    if (b->mem) {
        memcpy(buf, (const char *)b->mem + x->pos, want);
        got = (ssize_t)want;
    } else {
        got = pread(b->fd, buf, want, b->off + x->pos);
        if (got <= 0) return CURL_READFUNC_ABORT;
    }
    x->pos += got;
    if (x->md5) EVP_DigestUpdate(x->md5, buf, (size_t)got);
    if (b->on_bytes) b->on_bytes(b->ud, got);
    return (size_t)got;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    struct xfer *x = ud;
    if (origin != SEEK_SET || off != 0) return CURL_SEEKFUNC_CANTSEEK;
    if (x->body->on_bytes) x->body->on_bytes(x->body->ud, -x->pos);
    x->pos = 0;
    if (x->md5) EVP_DigestInit_ex(x->md5, EVP_md5(), NULL);
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt; (void)dn; (void)ut; (void)un;
    struct xfer *x = ud;
    return reg_canceled(x->c) ? 1 : 0;
}

int reg_http(struct reg_client *c, const char *method, const char *url,
             const char *const *headers, struct reg_body *body, size_t max_body,
             int discard_body, int with_auth, struct reg_resp *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    if (reg_canceled(c)) return om_err(err, errlen, OM_ECANCELED, "canceled");
    CURL *h = curl_easy_init();
    if (!h) return om_err(err, errlen, OM_EIO, "curl_easy_init failed");
    struct xfer x = { .c = c, .r = r, .body = body, .max_body = max_body, .discard = discard_body };
    struct curl_slist *hl = NULL;
    char line[8300];
    for (const char *const *p = headers; p && *p; p++) hl = curl_slist_append(hl, *p);
    if (with_auth) {
        pthread_mutex_lock(&c->mu);
        if (c->token[0]) {
            snprintf(line, sizeof line, "Authorization: Bearer %s", c->token);
            hl = curl_slist_append(hl, line);
        }
        pthread_mutex_unlock(&c->mu);
    }
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->cfg.user_agent);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (c->share) curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (body) {
        if (body->want_md5) {
            x.md5 = EVP_MD_CTX_new();
            EVP_DigestInit_ex(x.md5, EVP_md5(), NULL);
        }
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body->len);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
        if (strcmp(method, "PUT") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
    char *eff = NULL;
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    snprintf(r->effective_url, sizeof r->effective_url, "%s", eff ? eff : url);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    if (x.md5) {
        unsigned int ml = 0;
        EVP_DigestFinal_ex(x.md5, body->md5, &ml);
        EVP_MD_CTX_free(x.md5);
    }
    int rc = 0;
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        rc = om_err(err, errlen, OM_ECANCELED, "canceled");
    else if (r->code < 300 && (x.too_big || r->body_len > max_body))
        rc = om_err(err, errlen, OM_ENOMEM, "%s %s: response larger than %zu bytes", method, url, max_body);
    else if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && (x.discarded || x.too_big)))
        rc = om_err(err, errlen, OM_EIO, "%s \"%s\": %s", method, url, curl_easy_strerror(cc));
    if (rc) reg_resp_free(r);
    return rc;
}

