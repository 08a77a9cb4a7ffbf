/* cli: the HTTP transport of the server verbs (libcurl easy handles, one per
 * request). Replies are bounded: a whole JSON reply at most 512 MiB, one
 * NDJSON line at most 16 MiB. Error texts follow Ollama's Go client
 * (api/client.go): a plain call reports the server's {"error"} text; a
 * stream that fails before its first line reports "<code> <reason>: <text>";
 * an {"error"} line inside a stream reports its text. */
#include "cli/client.h"

#include "base/om.h"
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "cli/client_fmt.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLY_MAX (512u << 20)
#define LINE_MAX_BYTES (16u << 20)

static volatile sig_atomic_t g_interrupted;
static int g_curl_ready;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

void cli_client_sigint_begin(void)
{
    g_interrupted = 0;
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

int cli_client_sigint_end(void)
{
    signal(SIGINT, SIG_DFL);
    return g_interrupted != 0;
}

int cli_client_init(struct cli_client *c)
{
    memset(c, 0, sizeof *c);
    if (!g_curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return om_err(c->err, sizeof c->err, OM_EIO, "could not initialise libcurl");
        g_curl_ready = 1;
    }
    if (cli_host_parse(getenv("OLLAMA_HOST"), c->base, sizeof c->base))
        return om_err(c->err, sizeof c->err, OM_EINVAL, "OLLAMA_HOST is too long");
    return 0;
}

/* A growing reply buffer with an upper bound. */
struct rbuf {
    char *p;
    size_t len, cap, limit;
    int overflow;
};

static int rbuf_add(struct rbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->limit) {
        b->overflow = 1;
        return -1;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = om_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static size_t on_body(char *s, size_t size, size_t nm, void *ud)
{
    return rbuf_add(ud, s, size * nm) ? 0 : size * nm;
}

/* Keeps "404 Not Found" from the status line (Go's resp.Status). */
static size_t on_header(char *s, size_t size, size_t nm, void *ud)
{
    char *status = ud;
    size_t n = size * nm;
    if (n > 5 && !memcmp(s, "HTTP/", 5)) {
        const char *sp = memchr(s, ' ', n);
        if (sp) {
            size_t k = n - (size_t)(sp + 1 - s);
            while (k && (sp[k] == '\r' || sp[k] == '\n'))
                k--;
            if (k > 63)
                k = 63;
            memcpy(status, sp + 1, k);
            status[k] = 0;
        }
    }
    return n;
}

static int on_xfer(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud, (void)dt, (void)dn, (void)ut, (void)un;
    return g_interrupted ? 1 : 0;
}

static CURL *easy_new(struct cli_client *c, const char *method, const char *path,
                      struct curl_slist **hdrs, char *status_line)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    char url[1200];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ollamamax/" CLI_VERSION);
    if (strcmp(method, "HEAD") && strcmp(method, "GET"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, status_line);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xfer);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    *hdrs = curl_slist_append(*hdrs, "Expect:");
    return h;
}

/* Maps a failed transfer to our code and message. */
static int curl_fail(struct cli_client *c, CURLcode cc)
{
    if (cc == CURLE_ABORTED_BY_CALLBACK && g_interrupted)
        return om_err(c->err, sizeof c->err, OM_ECANCELED, "interrupted");
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
        return om_err(c->err, sizeof c->err, OM_EIO,
                      "could not connect to ollamamax server, run 'ollamamax serve' to start it");
    return om_err(c->err, sizeof c->err, OM_EIO, "%s: %s", c->base, curl_easy_strerror(cc));
}

/* Sets c->err from an error reply body: its {"error"} text, else the body. */
static int http_fail(struct cli_client *c, const char *body, size_t len, const char *prefix)
{
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *msg = j ? json_string_value(json_object_get(j, "error")) : NULL;
    char tmp[900];
    if (!msg) {
        if (len) {
            size_t k = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
            memcpy(tmp, body, k);
            tmp[k] = 0;
            while (k && (tmp[k - 1] == '\n' || tmp[k - 1] == '\r'))
                tmp[--k] = 0;
            msg = tmp;
        } else {
            msg = prefix ? "" : "something went wrong, please see the ollamamax server logs for details";
        }
    }
    if (prefix)
        snprintf(c->err, sizeof c->err, "%s%s%s", prefix, *msg ? ": " : "", msg);
    else
        snprintf(c->err, sizeof c->err, "%s", msg);
    json_decref(j);
    return c->status == 404 ? OM_ENOTFOUND : OM_EFORMAT;
}

int cli_client_call(struct cli_client *c, const char *method, const char *path, json_t *body,
                    json_t **reply)
{
    if (reply)
        *reply = NULL;
    c->status = 0;
    char status_line[64] = "";
    struct curl_slist *hdrs = NULL;
    CURL *h = easy_new(c, method, path, &hdrs, status_line);
    if (!h)
        return om_err(c->err, sizeof c->err, OM_ENOMEM, "could not create an HTTP request");
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "");
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    struct rbuf b = {.limit = REPLY_MAX};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    int rc = 0;
    if (b.overflow)
        rc = om_err(c->err, sizeof c->err, OM_ENOMEM, "reply to %s %s is larger than %u MiB",
                    method, path, REPLY_MAX >> 20);
    else if (cc != CURLE_OK)
        rc = curl_fail(c, cc);
    else if (c->status >= 400)
        rc = http_fail(c, b.p, b.len, NULL);
    else if (reply && b.len) {
        json_error_t je;
        *reply = json_loadb(b.p, b.len, 0, &je);
        if (!*reply)
            rc = om_err(c->err, sizeof c->err, OM_EFORMAT, "bad JSON reply to %s: %s", path,
                        je.text);
    }
    free(b.p);
    free(text);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

struct stream_ctx {
    struct cli_client *c;
    CURL *h;
    struct rbuf line;
    cli_stream_fn fn;
    void *ud;
    int rc; /* first failure: ours or the callback's */
    const char *status_line;
};

/* Handles one complete line; returns nonzero to stop. */
static int stream_line(struct stream_ctx *s, const char *p, size_t n)
{
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    if (!n)
        return 0;
    struct cli_client *c = s->c;
    if (!c->status)
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &c->status);
    if (c->status >= 400) {
        s->rc = http_fail(c, p, n, s->status_line[0] ? s->status_line : "error");
        return 1;
    }
    json_error_t je;
    json_t *j = json_loadb(p, n, 0, &je);
    if (!j) {
        snprintf(c->err, sizeof c->err, "%.*s", (int)(n < 900 ? n : 900), p);
        s->rc = OM_EFORMAT;
        return 1;
    }
    const char *e = json_string_value(json_object_get(j, "error"));
    if (e && *e) {
        snprintf(c->err, sizeof c->err, "%s", e);
        json_decref(j);
        s->rc = OM_EFORMAT;
        return 1;
    }
    int r = s->fn(j, s->ud);
    json_decref(j);
    if (r) {
        s->rc = r;
        return 1;
    }
    return 0;
}

static size_t on_stream(char *p, size_t size, size_t nm, void *ud)
{
    struct stream_ctx *s = ud;
    size_t n = size * nm, start = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n')
            continue;
        int stop;
        if (s->line.len) {
            if (rbuf_add(&s->line, p + start, i - start))
                goto too_long;
            stop = stream_line(s, s->line.p, s->line.len);
            s->line.len = 0;
        } else {
            stop = stream_line(s, p + start, i - start);
        }
        if (stop)
            return 0;
        start = i + 1;
    }
    if (start < n && rbuf_add(&s->line, p + start, n - start))
        goto too_long;
    return n;
too_long:
    s->rc = om_err(s->c->err, sizeof s->c->err, OM_ENOMEM, "a reply line is longer than %u MiB",
                   LINE_MAX_BYTES >> 20);
    return 0;
}

int cli_client_stream(struct cli_client *c, const char *path, json_t *body, cli_stream_fn fn,
                      void *ud)
{
    c->status = 0;
    char status_line[64] = "";
    struct curl_slist *hdrs = NULL;
    CURL *h = easy_new(c, "POST", path, &hdrs, status_line);
    if (!h)
        return om_err(c->err, sizeof c->err, OM_ENOMEM, "could not create an HTTP request");
    char *text = json_dumps(body, JSON_COMPACT);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "{}");
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Accept: application/x-ndjson");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    struct stream_ctx s = {.c = c, .h = h, .line = {.limit = LINE_MAX_BYTES}, .fn = fn, .ud = ud,
                           .status_line = status_line};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    CURLcode cc = curl_easy_perform(h);
    if (!c->status)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    int rc = s.rc;
    if (!rc && cc != CURLE_OK)
        rc = curl_fail(c, cc);
    if (!rc && s.line.len) /* last line without '\n' */
        stream_line(&s, s.line.p, s.line.len), rc = s.rc;
    if (!rc && c->status >= 400) /* error status with an empty body */
        rc = http_fail(c, "", 0, status_line[0] ? status_line : "error");
    free(s.line.p);
    free(text);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

int cli_client_head(struct cli_client *c, const char *path)
{
    c->status = 0;
    char status_line[64] = "";
    struct curl_slist *hdrs = NULL;
    CURL *h = easy_new(c, "HEAD", path, &hdrs, status_line);
    if (!h)
        return om_err(c->err, sizeof c->err, OM_ENOMEM, "could not create an HTTP request");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK)
        return curl_fail(c, cc);
    return (int)c->status;
}

struct upload_ctx {
    FILE *f;
    uint64_t total;
    cli_upload_fn fn;
    void *ud;
};

static size_t on_read(char *p, size_t size, size_t nm, void *ud)
{
    struct upload_ctx *u = ud;
    return fread(p, 1, size * nm, u->f);
}

static int on_upload_xfer(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut;
    struct upload_ctx *u = ud;
    if (u->fn)
        u->fn((uint64_t)un, u->total, u->ud);
    return g_interrupted ? 1 : 0;
}

int cli_client_upload(struct cli_client *c, const char *path, const char *file_path,
                      cli_upload_fn fn, void *ud)
{
    c->status = 0;
    FILE *f = fopen(file_path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st)) {
        if (f)
            fclose(f);
        return om_err(c->err, sizeof c->err, OM_EIO, "open %s: %s", file_path, strerror(errno));
    }
    char status_line[64] = "";
    struct curl_slist *hdrs = NULL;
    CURL *h = easy_new(c, "POST", path, &hdrs, status_line);
    if (!h) {
        fclose(f);
        return om_err(c->err, sizeof c->err, OM_ENOMEM, "could not create an HTTP request");
    }
    struct upload_ctx u = {.f = f, .total = (uint64_t)st.st_size, .fn = fn, .ud = ud};
    hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)st.st_size);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &u);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_upload_xfer);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &u);
    struct rbuf b = {.limit = 1u << 20};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
    int rc = 0;
    if (cc != CURLE_OK)
        rc = curl_fail(c, cc);
    else if (c->status >= 400)
        rc = http_fail(c, b.p, b.len, NULL);
    free(b.p);
    fclose(f);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

int cli_client_fail(const struct cli_client *c)
{
    fprintf(stderr, "Error: %s\n", c->err);
    return 1;
}

int cli_client_args(int argc, char **argv, const struct cli_opt *opts, size_t n, char **pos,
                    int max_pos, int *npos)
{
    *npos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || !a[1]) {
            if (*npos >= max_pos) {
                fprintf(stderr, "Error: too many arguments (unexpected \"%s\")\n", a);
                return -1;
            }
            pos[(*npos)++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        const struct cli_opt *o = NULL;
        for (size_t j = 0; j < n && !o; j++)
            if ((strlen(opts[j].name) == nl && !strncmp(a, opts[j].name, nl)) ||
                (opts[j].alias && strlen(opts[j].alias) == nl && !strncmp(a, opts[j].alias, nl)))
                o = &opts[j];
        if (!o) {
            fprintf(stderr, "Error: unknown flag: %.*s\n", (int)nl, a);
            return -1;
        }
        if (o->kind == CLI_FLAG) {
            if (eq && strcmp(eq + 1, "true") && strcmp(eq + 1, "false")) {
                fprintf(stderr, "Error: invalid argument \"%s\" for \"%.*s\" flag\n", eq + 1,
                        (int)nl, a);
                return -1;
            }
            *(int *)o->dst = !eq || !strcmp(eq + 1, "true");
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                fprintf(stderr, "Error: flag needs an argument: %s\n", a);
                return -1;
            }
            v = argv[++i];
        }
        if (o->kind == CLI_STR)
            *(const char **)o->dst = v;
        else if (o->kind == CLI_INT ? cli_parse_int(o->name, v, o->lo, o->hi, o->dst)
                                    : cli_parse_float(o->name, v, o->dst))
            return -1;
    }
    return 0;
}
