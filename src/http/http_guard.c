/* http_guard: CORS (gin-contrib/cors as Ollama configures it) and Ollama's
 * DNS-rebinding guard, run in this order before routing.
 *
 * CORS: a request with an Origin header that is not its own host is a CORS
 * request. Its origin must match the allowed list (OLLAMA_ORIGINS, plus
 * http(s)://localhost|127.0.0.1|0.0.0.0 with any port, app:// file://
 * tauri:// vscode-webview:// vscode-file://; one '*' wildcard per entry),
 * else 403. A valid preflight (OPTIONS) is answered 204 with the allowed
 * methods and headers; other requests get Access-Control-Allow-Origin and
 * Vary: Origin on their answer.
 * Host check, only when listening on loopback: the Host header must be
 * empty, localhost, a loopback/private/unspecified/local-interface IP, the
 * machine's host name, or end in .localhost/.local/.internal; else 403. */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/om.h"
#include "http/http_int.h"

static const char ALLOW_METHODS[] = "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS";
static const char ALLOW_HEADERS[] =
    "Authorization,Content-Type,User-Agent,Accept,X-Requested-With,Openai-Beta,"
    "X-Stainless-Arch,X-Stainless-Async,X-Stainless-Custom-Poll-Interval,"
    "X-Stainless-Helper-Method,X-Stainless-Lang,X-Stainless-Os,"
    "X-Stainless-Package-Version,X-Stainless-Poll-Helper,X-Stainless-Retry-Count,"
    "X-Stainless-Runtime,X-Stainless-Runtime-Version,X-Stainless-Timeout";

static void add_origin(http_server *s, const char *o, size_t len)
{
    while (len && isspace((unsigned char)*o)) {
        o++;
        len--;
    }
    while (len && isspace((unsigned char)o[len - 1]))
        len--;
    if (!len)
        return;
    char *v = om_xmalloc(len + 1);
    for (size_t i = 0; i < len; i++)
        v[i] = (char)tolower((unsigned char)o[i]);
    v[len] = 0;
    if (strcmp(v, "*") == 0)
        s->allow_all_origins = true;
    s->origins = om_xrealloc(s->origins, (s->n_origins + 1) * sizeof(*s->origins));
    s->origins[s->n_origins++] = v;
}

int http_guard_init(http_server *s, const char *origins)
{
    for (const char *p = origins; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        add_origin(s, p, len);
        p += len + (e ? 1 : 0);
    }
    static const char *const hosts[] = {"localhost", "127.0.0.1", "0.0.0.0"};
    char buf[64];
    for (size_t i = 0; i < OM_ARRAY_LEN(hosts); i++) {
        static const char *const fmts[] = {"http://%s", "https://%s", "http://%s:*",
                                           "https://%s:*"};
        for (size_t f = 0; f < OM_ARRAY_LEN(fmts); f++) {
            snprintf(buf, sizeof(buf), fmts[f], hosts[i]);
            add_origin(s, buf, strlen(buf));
        }
    }
    static const char *const schemes[] = {"app://*", "file://*", "tauri://*",
                                          "vscode-webview://*", "vscode-file://*"};
    for (size_t i = 0; i < OM_ARRAY_LEN(schemes); i++)
        add_origin(s, schemes[i], strlen(schemes[i]));

    if (gethostname(s->hostname, sizeof(s->hostname) - 1) != 0)
        s->hostname[0] = 0;
    for (char *c = s->hostname; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) == 0) {
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
            if (!i->ifa_addr)
                continue;
            char ip[INET6_ADDRSTRLEN];
            if (i->ifa_addr->sa_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip,
                          sizeof(ip));
            else if (i->ifa_addr->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, ip,
                          sizeof(ip));
            else
                continue;
            s->local_ips = om_xrealloc(s->local_ips, (s->n_local_ips + 1) * sizeof(char *));
            s->local_ips[s->n_local_ips++] = om_xstrdup(ip);
        }
        freeifaddrs(ifa);
    }
    return 0;
}

void http_guard_free(http_server *s)
{
    for (size_t i = 0; i < s->n_origins; i++)
        free(s->origins[i]);
    free(s->origins);
    for (size_t i = 0; i < s->n_local_ips; i++)
        free(s->local_ips[i]);
    free(s->local_ips);
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool has_suffix(const char *s, const char *x)
{
    size_t n = strlen(s), m = strlen(x);
    return n >= m && strcmp(s + n - m, x) == 0;
}

static bool origin_allowed(const http_server *s, const char *origin)
{
    if (s->allow_all_origins)
        return true;
    for (size_t i = 0; i < s->n_origins; i++) {
        const char *o = s->origins[i];
        const char *star = strchr(o, '*');
        if (!star) {
            if (strcmp(o, origin) == 0)
                return true;
            continue;
        }
        char pre[256];
        size_t pl = (size_t)(star - o);
        if (pl >= sizeof(pre))
            continue;
        memcpy(pre, o, pl);
        pre[pl] = 0;
        const char *suf = star + 1;
        if (strlen(origin) >= pl + strlen(suf) && has_prefix(origin, pre) &&
            has_suffix(origin, suf))
            return true;
    }
    return false;
}

/* Ollama's notion of a host that may reach a loopback listener. */
static bool host_allowed(const http_server *s, const char *hosthdr)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", hosthdr ? hosthdr : "");
    /* strip the port: "[::1]:11434", "127.0.0.1:11434", "localhost:80" */
    if (host[0] == '[') {
        char *e = strchr(host, ']');
        if (e && (e[1] == 0 || e[1] == ':')) {
            *e = 0;
            memmove(host, host + 1, strlen(host + 1) + 1);
        }
    } else {
        char *c = strchr(host, ':');
        if (c && !strchr(c + 1, ':'))
            *c = 0;
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        uint32_t a = ntohl(a4.s_addr);
        if ((a >> 24) == 127 || (a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) ||
            (a >> 16) == (192u << 8 | 168) || a == 0)
            return true;
    } else if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6) || IN6_IS_ADDR_UNSPECIFIED(&a6) ||
            (a6.s6_addr[0] & 0xfe) == 0xfc)
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            uint32_t a = (uint32_t)a6.s6_addr[12] << 24 | (uint32_t)a6.s6_addr[13] << 16 |
                         (uint32_t)a6.s6_addr[14] << 8 | a6.s6_addr[15];
            if ((a >> 24) == 127 || (a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) ||
                (a >> 16) == (192u << 8 | 168))
                return true;
        }
    }
    for (size_t i = 0; i < s->n_local_ips; i++)
        if (strcasecmp(s->local_ips[i], host) == 0)
            return true;
    for (char *c = host; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (host[0] == 0 || strcmp(host, "localhost") == 0)
        return true;
    if (s->hostname[0] && strcmp(host, s->hostname) == 0)
        return true;
    return has_suffix(host, ".localhost") || has_suffix(host, ".local") ||
           has_suffix(host, ".internal");
}

int http_guard_check(http_server *s, http_req *req)
{
    const char *origin = http_kv_get(&req->headers, "Origin", true);
    const char *host = http_kv_get(&req->headers, "Host", true);
    if (origin && origin[0]) {
        char same[300];
        bool same_origin = false;
        if (host) {
            snprintf(same, sizeof(same), "http://%s", host);
            same_origin = strcmp(origin, same) == 0;
            snprintf(same, sizeof(same), "https://%s", host);
            same_origin = same_origin || strcmp(origin, same) == 0;
        }
        if (!same_origin) {
            if (!origin_allowed(s, origin))
                return 403;
            req->cors_origin = om_xstrdup(origin);
            if (strcmp(req->method, "OPTIONS") == 0) {
                req->early_cors_preflight = true;
                return 204;
            }
        }
    }
    if (s->loopback && !host_allowed(s, host))
        return 403;
    return 0;
}

void http_guard_headers(const http_req *req, struct MHD_Response *resp)
{
    if (!req->cors_origin)
        return;
    if (req->early_cors_preflight) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", ALLOW_METHODS);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", ALLOW_HEADERS);
        MHD_add_response_header(resp, "Access-Control-Max-Age", "43200");
        MHD_add_response_header(resp, "Vary", "Origin");
        MHD_add_response_header(resp, "Vary", "Access-Control-Request-Method");
        MHD_add_response_header(resp, "Vary", "Access-Control-Request-Headers");
    } else if (!req->srv->allow_all_origins) {
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    MHD_add_response_header(resp, "Access-Control-Allow-Origin",
                            req->srv->allow_all_origins ? "*" : req->cors_origin);
}
