/* store/registry_http: one registry request over libcurl, and the token
 * dance around it (Ollama's makeRequestWithRetry + getAuthorizationToken).
 *
 * Invariants: redirects are never followed here (callers decide, so a blob
 * GET can stop at the cross-host 307); response bodies are bounded by the
 * caller's max_body; the bearer token is only ever sent to the registry's
 * own URLs (with_auth), and a token realm on another host is refused before
 * anything is signed. The string signed for a token request is exactly the
 * URL then requested: "GET,<realm?query>,<b64(hex(sha256("")))>", with the
 * query built as Go's url.Values.Encode (keys sorted, QueryEscape). */
#include "store/registry_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

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

int reg_client_init(struct reg_client *c, const char *name, const struct reg_opts *o,
                    volatile int *cancel, char *err, size_t errlen)
{
    pthread_once(&curl_once, curl_init_once);
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
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

/* ---- auth ---- */

/* Ollama's getValue: the value after key=" up to a quote followed by ',' or the end. */
static void challenge_value(const char *h, const char *key, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof pat, "%s=", key);
    out[0] = 0;
    const char *s = strstr(h, pat);
    if (!s) return;
    s += strlen(pat);
    if (*s == '"') s++;
    const char *e = s;
    while (*e && !(*e == '"' && (e[1] == ',' || e[1] == 0))) e++;
    size_t n = OM_MIN((size_t)(e - s), cap - 1);
    memcpy(out, s, n);
    out[n] = 0;
}

struct qpair { char k[128]; char v[1024]; };

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : (x < y ? -1 : x > y); /* stable */
}

static void query_unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (s[i] == '+') out[o++] = ' ';
        else if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
            char hx[3] = { s[i + 1], s[i + 2], 0 };
            out[o++] = (char)strtol(hx, NULL, 16);
            i += 2;
        } else out[o++] = s[i];
    }
    out[o] = 0;
}

/* Builds the signed token URL of Ollama's registryChallenge.URL(). */
static int token_url(const char *realm, const char *service, const char *scope, char *out, size_t cap)
{
    enum { MAXQ = 32 };
    struct qpair *q = om_xcalloc(MAXQ, sizeof *q);
    int nq = 0, rc = 0;
    const char *qm = strchr(realm, '?'), *hash = strchr(realm, '#');
    size_t base_len = qm ? (size_t)(qm - realm) : hash ? (size_t)(hash - realm) : strlen(realm);
    if (qm) {
        const char *s = qm + 1, *end = hash && hash > qm ? hash : s + strlen(s);
        while (s < end && nq < MAXQ) {
            const char *amp = memchr(s, '&', (size_t)(end - s));
            const char *pe = amp ? amp : end, *eq = memchr(s, '=', (size_t)(pe - s));
            if (pe > s) {
                query_unescape(s, (size_t)((eq ? eq : pe) - s), q[nq].k, sizeof q[nq].k);
                if (eq) query_unescape(eq + 1, (size_t)(pe - eq - 1), q[nq].v, sizeof q[nq].v);
                nq++;
            }
            s = pe + 1;
        }
    }
#define ADD(key, val) do { if (nq < MAXQ) { snprintf(q[nq].k, sizeof q[nq].k, "%s", key); \
        snprintf(q[nq].v, sizeof q[nq].v, "%s", val); nq++; } } while (0)
    ADD("service", service);
    const char *s = scope;
    for (;;) { /* strings.Split(scope, " "): every piece, empty ones too */
        const char *sp = strchr(s, ' ');
        size_t n = sp ? (size_t)(sp - s) : strlen(s);
        char piece[1024];
        snprintf(piece, sizeof piece, "%.*s", (int)OM_MIN(n, sizeof piece - 1), s);
        ADD("scope", piece);
        if (!sp) break;
        s = sp + 1;
    }
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    ADD("ts", ts);
    unsigned char nb[16];
    char nonce[32];
    RAND_bytes(nb, sizeof nb);
    int nl = EVP_EncodeBlock((unsigned char *)nonce, nb, sizeof nb);
    while (nl > 0 && nonce[nl - 1] == '=') nonce[--nl] = 0; /* RawURLEncoding */
    for (int i = 0; i < nl; i++) nonce[i] = nonce[i] == '+' ? '-' : nonce[i] == '/' ? '_' : nonce[i];
    ADD("nonce", nonce);
#undef ADD
    qsort(q, (size_t)nq, sizeof *q, qpair_cmp);
    if (base_len >= cap) rc = OM_ERANGE;
    else {
        memcpy(out, realm, base_len);
        out[base_len] = 0;
        for (int i = 0; i < nq && !rc; i++) rc = reg_url_add_query(out, cap, q[i].k, q[i].v);
    }
    free(q);
    return rc;
}

static int fetch_token(struct reg_client *c, const char *www_auth, const char *req_url,
                       char *err, size_t errlen)
{
    const char *h = www_auth;
    if (strncmp(h, "Bearer ", 7) == 0) h += 7;
    char realm[REG_URL_MAX], service[512], scope[1024], url[REG_URL_MAX];
    challenge_value(h, "realm", realm, sizeof realm);
    challenge_value(h, "service", service, sizeof service);
    challenge_value(h, "scope", scope, sizeof scope);
    char rh[512], qh[512];
    if (!realm[0] || reg_url_host(realm, 0, rh, sizeof rh) || token_url(realm, service, scope, url, sizeof url))
        return om_err(err, errlen, OM_EFORMAT, "bad authentication challenge: %s", www_auth);
    if (reg_url_host(req_url, 0, qh, sizeof qh) || strcmp(rh, qh) != 0)
        return om_err(err, errlen, OM_EINVAL, "realm host %s does not match original host %s", rh, qh);

    /* "GET,<url>,<base64 of hex sha256 of the empty body>" */
    unsigned char sum[32];
    unsigned int sl = 0;
    EVP_Digest("", 0, sum, &sl, EVP_sha256(), NULL);
    char hex[65], hexb64[100];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", sum[i]);
    EVP_EncodeBlock((unsigned char *)hexb64, (unsigned char *)hex, 64);
    size_t dl = strlen(url) + 200;
    char *data = om_xmalloc(dl);
    snprintf(data, dl, "GET,%s,%s", url, hexb64);

    char sig[300], auth[330];
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (!c->key) rc = reg_key_load(c->cfg.key_dir, 1, &c->key, err, errlen);
    if (!rc && reg_key_sign(c->key, data, strlen(data), sig, sizeof sig))
        rc = om_err(err, errlen, OM_EIO, "cannot sign the token request");
    pthread_mutex_unlock(&c->mu);
    free(data);
    if (rc) return rc;
    snprintf(auth, sizeof auth, "Authorization: %s", sig);
    const char *hdrs[] = { auth, NULL };
    struct reg_resp r;
    rc = reg_http(c, "GET", url, hdrs, NULL, 1 << 16, 0, 0, &r, err, errlen);
    if (rc) return rc;
    if (r.code >= 400) {
        rc = om_err(err, errlen, OM_EIO, "%ld: %s", r.code, r.body ? r.body : "");
    } else {
        json_error_t je;
        json_t *j = r.body ? json_loadb(r.body, r.body_len, 0, &je) : NULL;
        const char *tok = json_string_value(json_object_get(j, "token"));
        if (!tok || strlen(tok) >= sizeof c->token || strpbrk(tok, "\r\n")) {
            rc = om_err(err, errlen, OM_EFORMAT, "token reply from %s has no usable token", realm);
        } else {
            pthread_mutex_lock(&c->mu);
            snprintf(c->token, sizeof c->token, "%s", tok);
            pthread_mutex_unlock(&c->mu);
        }
        json_decref(j);
    }
    reg_resp_free(&r);
    return rc;
}

int reg_request(struct reg_client *c, const char *method, const char *url,
                const char *const *headers, struct reg_body *body, size_t max_body,
                int discard_body, struct reg_resp *r, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = reg_http(c, method, url, headers, body, max_body, discard_body, 1, r, err, errlen);
        if (rc) return rc;
        if (r->code == 401) {
            char wa[sizeof r->www_auth];
            snprintf(wa, sizeof wa, "%s", r->www_auth);
            reg_resp_free(r);
            rc = fetch_token(c, wa, url, err, errlen);
            if (rc) return rc;
            continue;
        }
        if (r->code == 404) {
            reg_resp_free(r);
            return om_err(err, errlen, OM_ENOTFOUND, "file does not exist");
        }
        if (r->code >= 400) {
            rc = om_err(err, errlen, OM_EIO, "%ld: %s", r->code, r->body ? r->body : "");
            reg_resp_free(r);
            return rc;
        }
        return 0;
    }
    return om_err(err, errlen, OM_EIO, "unauthorized: access denied");
}
