/* api: Ollama's environment variables (envconfig/config.go) and the value
 * formats they share with requests: Go duration strings and OLLAMA_HOST.
 *
 * Values are trimmed of spaces and of surrounding quotes, as Ollama does.
 * Booleans follow Go's ParseBool, and an unparsable non-empty value counts
 * as true (Ollama's rule). */
#include "api/api.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

/* Copies the trimmed, unquoted value of env var name into buf ("" if unset). */
static const char *env_get(const char *name, char *buf, size_t cap)
{
    const char *v = getenv(name);
    buf[0] = 0;
    if (!v)
        return buf;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    while (n >= 2 && ((v[0] == '"' && v[n - 1] == '"') || (v[0] == '\'' && v[n - 1] == '\''))) {
        v++;
        n -= 2;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, v, n);
    buf[n] = 0;
    return buf;
}

static bool parse_bool(const char *s)
{
    if (!*s)
        return false;
    static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!strcmp(s, f[i]))
            return false;
    return true; /* "1", "true"…, and anything unparsable */
}

int api_parse_duration(const char *s, int64_t *ns)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (!strcmp(p, "0")) {
        *ns = 0;
        return 0;
    }
    if (!*p)
        return OM_EINVAL;
    double total = 0;
    while (*p) {
        /* [0-9]*(.[0-9]*)? with at least one digit, as Go (no exponent, no sign) */
        double v = 0, scale = 1;
        int digits = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p)) {
                scale /= 10;
                v += (*p++ - '0') * scale;
                digits++;
            }
        }
        if (!digits || !isfinite(v))
            return OM_EINVAL;
        double unit;
        if (!strncmp(p, "ns", 2)) {
            unit = 1;
            p += 2;
        } else if (!strncmp(p, "us", 2)) {
            unit = 1e3;
            p += 2;
        } else if (!strncmp(p, "\xc2\xb5s", 3) || !strncmp(p, "\xce\xbcs", 3)) {
            unit = 1e3;
            p += 3;
        } else if (!strncmp(p, "ms", 2)) {
            unit = 1e6;
            p += 2;
        } else if (*p == 's') {
            unit = 1e9;
            p++;
        } else if (*p == 'm') {
            unit = 60e9;
            p++;
        } else if (*p == 'h') {
            unit = 3600e9;
            p++;
        } else {
            return OM_EINVAL; /* missing or unknown unit */
        }
        total += v * unit;
        if (total > 9.2e18)
            return OM_ERANGE;
    }
    *ns = (int64_t)(neg ? -total : total);
    return 0;
}

int api_parse_host(const char *s, char *host, size_t hostcap, int *port)
{
    char buf[512];
    int defport = 11434;
    while (*s == ' ')
        s++;
    const char *scheme_end = strstr(s, "://");
    if (scheme_end) {
        if (!strncmp(s, "https", 5) && scheme_end - s == 5)
            defport = 443;
        else if (!strncmp(s, "http", 4) && scheme_end - s == 4)
            defport = 80;
        s = scheme_end + 3;
    }
    size_t n = strcspn(s, "/");
    if (n >= sizeof buf)
        return OM_EINVAL;
    memcpy(buf, s, n);
    buf[n] = 0;
    const char *h = buf;
    const char *portstr = NULL;
    if (buf[0] == '[') { /* [v6]:port */
        char *close = strchr(buf, ']');
        if (!close)
            return OM_EINVAL;
        *close = 0;
        h = buf + 1;
        if (close[1] == ':')
            portstr = close + 2;
    } else {
        char *colon = strrchr(buf, ':');
        if (colon && strchr(buf, ':') == colon) {
            *colon = 0;
            portstr = colon + 1;
        }
    }
    int p = defport;
    if (portstr && *portstr) {
        char *end;
        long v = strtol(portstr, &end, 10);
        if (*end || v < 0 || v > 65535)
            return OM_EINVAL;
        p = (int)v;
    }
    if (!*h)
        h = "127.0.0.1";
    if (strlen(h) >= hostcap)
        return OM_EINVAL;
    strcpy(host, h);
    *port = p;
    return 0;
}

static int env_int(const char *name, int def, int *out, char *err, size_t errlen)
{
    char buf[64];
    env_get(name, buf, sizeof buf);
    if (!*buf) {
        *out = def;
        return 0;
    }
    char *end;
    long v = strtol(buf, &end, 10);
    if (*end || v < 0 || v > 1 << 30)
        return om_err(err, errlen, OM_EINVAL, "invalid %s: \"%s\"", name, buf);
    *out = (int)v;
    return 0;
}

/* Duration variables accept a Go duration or an integer number of seconds. */
static int env_duration(const char *name, int64_t def, int64_t *out, char *err, size_t errlen)
{
    char buf[64];
    env_get(name, buf, sizeof buf);
    if (!*buf) {
        *out = def;
        return 0;
    }
    if (api_parse_duration(buf, out) == 0)
        return 0;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (*end)
        return om_err(err, errlen, OM_EINVAL, "invalid %s: \"%s\"", name, buf);
    *out = v < 0 ? -1 : (int64_t)v * 1000000000LL;
    return 0;
}

int api_env_load(struct api_env *env, char *err, size_t errlen)
{
    memset(env, 0, sizeof *env);
    char buf[1024];
    const char *home = getenv("HOME");
    if (!home || !*home)
        home = "/root";

    env_get("OLLAMA_HOST", buf, sizeof buf);
    if (api_parse_host(*buf ? buf : "127.0.0.1:11434", env->host, sizeof env->host, &env->port))
        return om_err(err, errlen, OM_EINVAL, "invalid OLLAMA_HOST: \"%s\"", buf);

    env_get("OLLAMA_MODELS", buf, sizeof buf);
    if (*buf)
        snprintf(env->models, sizeof env->models, "%s", buf);
    else
        snprintf(env->models, sizeof env->models, "%s/.ollama/models", home);
    snprintf(env->key_dir, sizeof env->key_dir, "%s/.ollama", home);

    int rc;
    if ((rc = env_duration("OLLAMA_KEEP_ALIVE", 5 * 60 * 1000000000LL, &env->keep_alive_ns, err,
                           errlen)))
        return rc;
    if ((rc = env_duration("OLLAMA_LOAD_TIMEOUT", 5 * 60 * 1000000000LL, &env->load_timeout_ns,
                           err, errlen)))
        return rc;
    if ((rc = env_int("OLLAMA_NUM_PARALLEL", 0, &env->num_parallel, err, errlen)) ||
        (rc = env_int("OLLAMA_MAX_LOADED_MODELS", 0, &env->max_loaded, err, errlen)) ||
        (rc = env_int("OLLAMA_MAX_QUEUE", 512, &env->max_queue, err, errlen)) ||
        (rc = env_int("OLLAMA_CONTEXT_LENGTH", 0, &env->context_length, err, errlen)))
        return rc;
    if (env->num_parallel > 64)
        return om_err(err, errlen, OM_EINVAL, "invalid OLLAMA_NUM_PARALLEL: at most 64");
    env_get("OLLAMA_ORIGINS", env->origins, sizeof env->origins);
    env_get("OLLAMA_DEBUG", buf, sizeof buf);
    if (!strcmp(buf, "2") || !strcasecmp(buf, "trace"))
        env->debug = 2;
    else
        env->debug = parse_bool(buf) ? 1 : 0;
    env_get("OLLAMA_NOPRUNE", buf, sizeof buf);
    env->noprune = parse_bool(buf);

    env_get("OLLAMAMAX_DATA", buf, sizeof buf);
    if (*buf)
        snprintf(env->data_dir, sizeof env->data_dir, "%s", buf);
    else
        snprintf(env->data_dir, sizeof env->data_dir, "%s/.ollamamax", home);
    env_get("OLLAMAMAX_JOIN", env->join, sizeof env->join);
    env_get("OLLAMAMAX_CLUSTER_TOKEN", env->cluster_token, sizeof env->cluster_token);
    env_get("OLLAMAMAX_RAFT_ADDR", env->raft_addr, sizeof env->raft_addr);
    return 0;
}
