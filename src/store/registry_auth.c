/* store/registry_auth: the token dance of Ollama's registry client
 * (server/auth.go getAuthorizationToken, images.go makeRequestWithRetry).
 *
 * Invariants: a token realm on another host than the request's is refused
 * before anything is signed; the string signed is exactly the URL then
 * requested: "GET,<realm?query>,<b64(hex(sha256("")))>", the query built as
 * Go's url.Values.Encode (keys sorted, values in order, QueryEscape); the
 * bearer token is kept per client (one pull or push) under its mutex. */
#include "store/registry_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/om.h"

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

int reg_fetch_token(struct reg_client *c, const char *www_auth, const char *req_url,
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
            rc = reg_fetch_token(c, wa, url, err, errlen);
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

int reg_is_redirect(long code)
{
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

int reg_request_follow(struct reg_client *c, const char *method, const char *url,
                       const char *const *headers, size_t max_body, struct reg_resp *r,
                       char *err, size_t errlen)
{
    char cur[REG_URL_MAX], next[REG_URL_MAX], h0[512], h1[512];
    snprintf(cur, sizeof cur, "%s", url);
    if (reg_url_host(url, 1, h0, sizeof h0)) return om_err(err, errlen, OM_EINVAL, "bad URL %s", url);
    for (int hop = 0; hop <= 10; hop++) {
        int same = reg_url_host(cur, 1, h1, sizeof h1) == 0 && strcasecmp(h0, h1) == 0;
        int rc;
        if (same) {
            rc = reg_request(c, method, cur, headers, NULL, max_body, 0, r, err, errlen);
        } else { /* another host: no credentials, plain status mapping */
            rc = reg_http(c, method, cur, headers, NULL, max_body, 0, 0, r, err, errlen);
            if (!rc && r->code >= 400) {
                rc = r->code == 404 ? om_err(err, errlen, OM_ENOTFOUND, "file does not exist")
                                    : om_err(err, errlen, OM_EIO, "%ld: %s", r->code, r->body ? r->body : "");
                reg_resp_free(r);
            }
        }
        if (rc) return rc;
        if (!reg_is_redirect(r->code) || !r->location[0]) return 0;
        rc = reg_url_resolve(cur, r->location, next, sizeof next);
        reg_resp_free(r);
        if (rc) return om_err(err, errlen, OM_EFORMAT, "bad Location from %s", cur);
        snprintf(cur, sizeof cur, "%s", next);
    }
    return om_err(err, errlen, OM_EIO, "%s \"%s\": stopped after 10 redirects", method, url);
}
