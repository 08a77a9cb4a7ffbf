/* store: Ollama model names (types/model/name.go).
 *
 * "[scheme://][host/][namespace/]model[:tag]" is split right to left: the tag
 * at the last ':' only when it comes after the last '/', then the model at
 * the last '/', the namespace at the one before, and the rest is the host
 * (a "scheme://" prefix dropped). Missing parts take the defaults
 * registry.ollama.ai / library / latest. Every part must be 1-80 characters
 * (host 1-350), start with [A-Za-z0-9_] and continue with [A-Za-z0-9_.-];
 * '.' is not allowed in the namespace and ':' only in the host. Because a
 * part can never start with '.' or hold '/', a valid name is always a safe
 * relative path of four components. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/om.h"
#include "store/models_int.h"

enum part_kind { PART_HOST, PART_NS, PART_MODEL, PART_TAG };

static int is_alnum_us(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static int part_valid(enum part_kind k, const char *s, size_t n)
{
    size_t max = k == PART_HOST ? 350 : 80;
    if (n < 1 || n > max)
        return 0;
    if (!is_alnum_us((unsigned char)s[0]))
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '_' || c == '-')
            continue;
        if (c == '.') {
            if (k == PART_NS)
                return 0;
            continue;
        }
        if (c == ':') {
            if (k != PART_HOST)
                return 0;
            continue;
        }
        if (!is_alnum_us(c))
            return 0;
    }
    return 1;
}

/* Copies s[0..n) into dst (capacity cap) when the part is valid. */
static int set_part(enum part_kind k, char *dst, size_t cap, const char *s, size_t n)
{
    if (!part_valid(k, s, n) || n >= cap)
        return OM_EINVAL;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static const char *last_of(const char *s, size_t n, char c)
{
    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == c)
            return s + i - 1;
    return NULL;
}

int store_name_parse(const char *s, struct store_name *out)
{
    if (!s || !out)
        return OM_EINVAL;
    memset(out, 0, sizeof(*out));
    size_t n = strlen(s);
    if (n == 0 || n > 1024)
        return OM_EINVAL;
    const char *colon = last_of(s, n, ':');
    const char *slash = last_of(s, n, '/');
    size_t end = n;
    int rc;
    if (colon && (!slash || colon > slash)) {
        rc = set_part(PART_TAG, out->tag, sizeof(out->tag), colon + 1, n - (size_t)(colon + 1 - s));
        if (rc)
            return rc;
        end = (size_t)(colon - s);
    } else {
        strcpy(out->tag, STORE_DEFAULT_TAG);
    }
    slash = last_of(s, end, '/');
    if (!slash) {
        rc = set_part(PART_MODEL, out->model, sizeof(out->model), s, end);
        if (rc)
            return rc;
        strcpy(out->ns, STORE_DEFAULT_NS);
        strcpy(out->host, STORE_DEFAULT_HOST);
        return 0;
    }
    rc = set_part(PART_MODEL, out->model, sizeof(out->model), slash + 1,
                  end - (size_t)(slash + 1 - s));
    if (rc)
        return rc;
    end = (size_t)(slash - s);
    slash = last_of(s, end, '/');
    if (!slash) {
        rc = set_part(PART_NS, out->ns, sizeof(out->ns), s, end);
        if (rc)
            return rc;
        strcpy(out->host, STORE_DEFAULT_HOST);
        return 0;
    }
    rc = set_part(PART_NS, out->ns, sizeof(out->ns), slash + 1, end - (size_t)(slash + 1 - s));
    if (rc)
        return rc;
    end = (size_t)(slash - s);
    /* host, with an optional scheme:// prefix */
    const char *h = s;
    size_t hn = end;
    for (size_t i = 0; i + 3 <= end; i++)
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            h = s + i + 3;
            hn = end - i - 3;
            break;
        }
    return set_part(PART_HOST, out->host, sizeof(out->host), h, hn);
}

void store_name_full(const struct store_name *n, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s/%s:%s", n->host, n->ns, n->model, n->tag);
}

void store_name_display(const struct store_name *n, char *buf, size_t cap)
{
    if (strcasecmp(n->host, STORE_DEFAULT_HOST) != 0)
        snprintf(buf, cap, "%s/%s/%s:%s", n->host, n->ns, n->model, n->tag);
    else if (strcasecmp(n->ns, STORE_DEFAULT_NS) != 0)
        snprintf(buf, cap, "%s/%s:%s", n->ns, n->model, n->tag);
    else
        snprintf(buf, cap, "%s:%s", n->model, n->tag);
}

bool store_name_equal(const struct store_name *a, const struct store_name *b)
{
    return strcasecmp(a->host, b->host) == 0 && strcasecmp(a->ns, b->ns) == 0 &&
           strcasecmp(a->model, b->model) == 0 && strcasecmp(a->tag, b->tag) == 0;
}

int store_name_from_parts(const char *host, const char *ns, const char *model, const char *tag,
                          struct store_name *out)
{
    memset(out, 0, sizeof(*out));
    if (set_part(PART_HOST, out->host, sizeof(out->host), host, strlen(host)) ||
        set_part(PART_NS, out->ns, sizeof(out->ns), ns, strlen(ns)) ||
        set_part(PART_MODEL, out->model, sizeof(out->model), model, strlen(model)) ||
        set_part(PART_TAG, out->tag, sizeof(out->tag), tag, strlen(tag)))
        return OM_EINVAL;
    return 0;
}
