/* oai_util: small helpers for the OpenAI translator (base64, RFC 3339
 * times, model-name namespaces, ids), the OpenAI error object, SSE framing,
 * and the /v1/models and /v1/embeddings answers. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/oai_int.h"
#include "base/om.h"

const char *oai_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    default: return "null";
    }
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *oai_b64_encode(const unsigned char *d, size_t len)
{
    char *out = om_xmalloc((len + 2) / 3 * 4 + 1);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
        out[o++] = B64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < len ? (uint32_t)d[i + 1] << 8 : 0);
        out[o++] = B64[v >> 18];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = 0;
    return out;
}

static int b64_val(char c)
{
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

int oai_b64_check(const char *t, size_t *out_len)
{
    size_t n = strlen(t);
    if (n % 4)
        return -1;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '=') {
            if (i < n - 2)
                return -1;
            pad++;
            continue;
        }
        if (pad || b64_val(t[i]) < 0)
            return -1;
    }
    /* Go also rejects non-zero trailing bits */
    if (pad == 1 && (b64_val(t[n - 2]) & 3))
        return -1;
    if (pad == 2 && (b64_val(t[n - 3]) & 15))
        return -1;
    if (out_len)
        *out_len = n / 4 * 3 - pad;
    return 0;
}

static bool digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

bool oai_parse_time(const char *s, int64_t *unix_s)
{
    int Y, M, D, h, m, sec;
    if (!s || strlen(s) < 20 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) ||
        s[7] != '-' || !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return false;
    const char *p = s + 19;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om_;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om_))
            return false;
        off = (oh * 60 + om_) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return false;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
                    .tm_min = m, .tm_sec = sec};
    *unix_s = (int64_t)timegm(&tm) - off;
    return true;
}

void oai_name_namespace(const char *name, char *out, size_t n)
{
    snprintf(out, n, "library");
    if (!name)
        return;
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", name);
    char *colon = strrchr(buf, ':'), *slash = strrchr(buf, '/');
    if (colon && (!slash || colon > slash))
        *colon = 0; /* the tag */
    slash = strrchr(buf, '/');
    if (!slash)
        return;
    *slash = 0; /* the model */
    char *ns = strrchr(buf, '/');
    ns = ns ? ns + 1 : buf;
    if (*ns)
        snprintf(out, n, "%s", ns);
}

int oai_rand_id(void)
{
    static atomic_uint_fast64_t state;
    uint64_t x = atomic_fetch_add(&state, 0x9E3779B97F4A7C15ull) ^ om_time_ns();
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (int)(x % 999);
}

/* ---- errors, SSE ---- */

/* Length of the valid UTF-8 sequence at p (1-4), or 0. */
static size_t utf8_seq(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = (p[0] & 0xe0) == 0xc0   ? 2
               : (p[0] & 0xf0) == 0xe0 ? 3
               : (p[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (!n || (n == 2 && p[0] < 0xc2) || (n == 4 && p[0] > 0xf4))
        return 0;
    uint32_t cp = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* A JSON string of s with invalid UTF-8 replaced by U+FFFD (Go's way). */
static json_t *json_string_clean(const char *s)
{
    size_t len = strlen(s);
    char *out = om_xmalloc(len * 3 + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq(p);
        if (n) {
            memcpy(o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        }
    }
    *o = 0;
    json_t *v = json_string(out);
    free(out);
    return v;
}

json_t *oai_error(int status, const char *message)
{
    const char *type = status == 400 ? "invalid_request_error"
                       : status == 404 ? "not_found_error"
                                       : "api_error";
    return json_pack("{s:{s:o,s:s,s:n,s:n}}", "error", "message",
                     json_string_clean(message ? message : ""), "type", type, "param", "code");
}

json_t *oai_error_from_native(int status, const char *body, size_t len)
{
    if (!body)
        len = 0;
    json_t *o = body ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *e = json_is_object(o) ? json_object_get(o, "error") : NULL;
    json_t *out;
    if (json_is_string(e)) {
        out = oai_error(status, json_string_value(e));
    } else {
        char *raw = om_xmalloc(len + 1);
        if (body && len)
            memcpy(raw, body, len);
        raw[len] = 0;
        out = oai_error(status, raw);
        free(raw);
    }
    json_decref(o);
    return out;
}

char *oai_sse_format(const json_t *event, size_t *len)
{
    char *j = json_dumps(event, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!j)
        j = om_xstrdup("{}");
    size_t n = strlen(j);
    char *out = om_xmalloc(n + 9);
    memcpy(out, "data: ", 6);
    memcpy(out + 6, j, n);
    memcpy(out + 6 + n, "\n\n", 3);
    free(j);
    if (len)
        *len = n + 8;
    return out;
}

/* ---- models, embeddings ---- */

json_t *oai_model(const json_t *e)
{
    const char *id = json_string_value(json_object_get(e, "model"));
    if (!id || !*id)
        id = json_string_value(json_object_get(e, "name"));
    if (!id)
        id = "";
    int64_t created = 0;
    if (!oai_parse_time(json_string_value(json_object_get(e, "modified_at")), &created))
        created = 0;
    char ns[256];
    oai_name_namespace(id, ns, sizeof(ns));
    return json_pack("{s:s,s:s,s:I,s:s}", "id", id, "object", "model", "created",
                     (json_int_t)created, "owned_by", ns);
}

json_t *oai_model_from_show(const json_t *show, const char *model)
{
    int64_t created = 0;
    if (!oai_parse_time(json_string_value(json_object_get(show, "modified_at")), &created))
        created = 0;
    char ns[256];
    oai_name_namespace(model, ns, sizeof(ns));
    return json_pack("{s:o,s:s,s:I,s:s}", "id", json_string_clean(model ? model : ""), "object",
                     "model", "created", (json_int_t)created, "owned_by", ns);
}

json_t *oai_models_list(const json_t *tags)
{
    json_t *data = json_array();
    json_t *models = json_object_get(tags, "models");
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m)
        if (json_is_object(m))
            json_array_append_new(data, oai_model(m));
    return json_pack("{s:s,s:o}", "object", "list", "data", data);
}

json_t *oai_embed_response(const json_t *r, const char *encoding_format, const char *model)
{
    json_t *embs = json_object_get(r, "embeddings");
    bool b64 = encoding_format && strcasecmp(encoding_format, "base64") == 0;
    json_int_t pt = json_integer_value(json_object_get(r, "prompt_eval_count"));
    json_t *data = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(embs, i, e) {
        json_t *val;
        if (b64) {
            size_t n = json_array_size(e);
            unsigned char *bytes = om_xmalloc(n * 4 + 1);
            for (size_t k = 0; k < n; k++) {
                float f = (float)json_number_value(json_array_get(e, k));
                uint32_t u;
                memcpy(&u, &f, 4);
                for (int b = 0; b < 4; b++)
                    bytes[k * 4 + (size_t)b] = (unsigned char)(u >> (8 * b)); /* little-endian */
            }
            char *t = oai_b64_encode(bytes, n * 4);
            val = json_string(t);
            free(t);
            free(bytes);
        } else {
            val = json_deep_copy(e);
        }
        json_array_append_new(data, json_pack("{s:s,s:o,s:I}", "object", "embedding",
                                              "embedding", val, "index", (json_int_t)i));
    }
    return json_pack("{s:s,s:o,s:s,s:{s:I,s:I}}", "object", "list", "data", data, "model",
                     model ? model : "", "usage", "prompt_tokens", pt, "total_tokens", pt);
}
