/* store: JSON and value formatting the way Go writes them.
 *
 * Ollama writes manifests, config blobs and params/messages layers with Go's
 * json.Encoder: compact, struct fields in declaration order, map keys
 * sorted, "<" ">" "&" U+2028 U+2029 escaped as \u00XX, floats in their
 * shortest round-trip form ('f' notation unless the magnitude is below 1e-6
 * or at least 1e21), a trailing newline. Writing the same bytes gives the
 * same digests as Ollama for the same content. The %v / %#v helpers mirror
 * fmt for the values of a params layer (used by /api/show). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "store/models_int.h"

struct sbuf {
    char *p;
    size_t n, cap;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1)
            c *= 2;
        b->p = om_xrealloc(b->p, c);
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Shortest decimal digits of x (> 0, finite): x = 0.d1d2... * 10^dp. */
static void shortest_digits(double x, char digs[24], int *nd, int *dp)
{
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
        if (strtod(buf, NULL) == x || p == 17)
            break;
    }
    /* buf: d[.ddd]e[+-]XX */
    int n = 0;
    const char *s = buf;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            digs[n++] = *s;
    int e = *s == 'e' ? atoi(s + 1) : 0;
    while (n > 1 && digs[n - 1] == '0')
        n--;
    digs[n] = '\0';
    *nd = n;
    *dp = e + 1;
}

static void fmt_f(const char *digs, int nd, int dp, struct sbuf *b)
{
    if (dp <= 0) {
        sb_puts(b, "0.");
        for (int i = 0; i < -dp; i++)
            sb_put(b, "0", 1);
        sb_put(b, digs, (size_t)nd);
    } else if (dp >= nd) {
        sb_put(b, digs, (size_t)nd);
        for (int i = 0; i < dp - nd; i++)
            sb_put(b, "0", 1);
    } else {
        sb_put(b, digs, (size_t)dp);
        sb_put(b, ".", 1);
        sb_put(b, digs + dp, (size_t)(nd - dp));
    }
}

static void fmt_e(const char *digs, int nd, int dp, int min_exp_digits, struct sbuf *b)
{
    char t[16];
    sb_put(b, digs, 1);
    if (nd > 1) {
        sb_put(b, ".", 1);
        sb_put(b, digs + 1, (size_t)(nd - 1));
    }
    int e = dp - 1;
    snprintf(t, sizeof(t), "e%c%0*d", e < 0 ? '-' : '+', min_exp_digits, e < 0 ? -e : e);
    sb_puts(b, t);
}

/* mode 'j': Go JSON float64; 'g': strconv 'g' shortest (fmt %v). */
static void fmt_float(double x, int mode, struct sbuf *b)
{
    if (!isfinite(x)) { /* Go's json refuses these; we write null */
        sb_puts(b, mode == 'j' ? "null" : (isnan(x) ? "NaN" : (x > 0 ? "+Inf" : "-Inf")));
        return;
    }
    if (x == 0) {
        sb_puts(b, signbit(x) ? "-0" : "0");
        return;
    }
    if (x < 0)
        sb_put(b, "-", 1);
    double a = fabs(x);
    char digs[24];
    int nd, dp;
    shortest_digits(a, digs, &nd, &dp);
    if (mode == 'j') {
        if (a < 1e-6 || a >= 1e21)
            fmt_e(digs, nd, dp, 1, b);
        else
            fmt_f(digs, nd, dp, b);
    } else {
        int exp = dp - 1;
        if (exp < -4 || exp >= 6)
            fmt_e(digs, nd, dp, 2, b);
        else
            fmt_f(digs, nd, dp, b);
    }
}

void store_go_float_g(double x, char *buf, size_t cap)
{
    struct sbuf b = {0};
    fmt_float(x, 'g', &b);
    snprintf(buf, cap, "%s", b.p ? b.p : "");
    free(b.p);
}

static void json_str(const char *s, size_t n, struct sbuf *b)
{
    static const char hex[] = "0123456789abcdef";
    sb_put(b, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        size_t skip = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            snprintf(u, sizeof(u), "\\u00%c%c", hex[c >> 4], hex[c & 15]);
            esc = u;
        } else if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
            esc = (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
            skip = 3;
        }
        if (esc) {
            sb_put(b, s + start, i - start);
            sb_puts(b, esc);
            i += skip - 1;
            start = i + 1;
        }
    }
    sb_put(b, s + start, n - start);
    sb_put(b, "\"", 1);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void enc(const json_t *v, bool sort_keys, struct sbuf *b, int depth)
{
    char t[32];
    if (depth > 200) { /* jansson's parser caps depth well below this */
        sb_puts(b, "null");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char **keys = om_xmalloc((n ? n : 1) * sizeof(*keys));
        const char *k;
        json_t *x;
        json_object_foreach ((json_t *)v, k, x)
            keys[i++] = k;
        if (sort_keys)
            qsort(keys, n, sizeof(*keys), key_cmp);
        sb_put(b, "{", 1);
        for (i = 0; i < n; i++) {
            if (i)
                sb_put(b, ",", 1);
            json_str(keys[i], strlen(keys[i]), b);
            sb_put(b, ":", 1);
            enc(json_object_get(v, keys[i]), sort_keys, b, depth + 1);
        }
        sb_put(b, "}", 1);
        free(keys);
        break;
    }
    case JSON_ARRAY:
        sb_put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                sb_put(b, ",", 1);
            enc(json_array_get(v, i), sort_keys, b, depth + 1);
        }
        sb_put(b, "]", 1);
        break;
    case JSON_STRING: json_str(json_string_value(v), json_string_length(v), b); break;
    case JSON_INTEGER:
        snprintf(t, sizeof(t), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        sb_puts(b, t);
        break;
    case JSON_REAL: fmt_float(json_real_value(v), 'j', b); break;
    case JSON_TRUE: sb_puts(b, "true"); break;
    case JSON_FALSE: sb_puts(b, "false"); break;
    default: sb_puts(b, "null");
    }
}

char *store_json_go(const json_t *v, bool sort_keys, bool newline, size_t *len)
{
    struct sbuf b = {0};
    enc(v, sort_keys, &b, 0);
    if (newline)
        sb_put(&b, "\n", 1);
    if (len)
        *len = b.n;
    return b.p;
}

/* Go's strconv.Quote (printable non-ASCII UTF-8 kept as is). */
static void go_quote(const char *s, size_t n, struct sbuf *b)
{
    static const char hex[] = "0123456789abcdef";
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char u[8];
        switch (c) {
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        case '\a': sb_puts(b, "\\a"); break;
        case '\b': sb_puts(b, "\\b"); break;
        case '\f': sb_puts(b, "\\f"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\r': sb_puts(b, "\\r"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '\v': sb_puts(b, "\\v"); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(u, sizeof(u), "\\x%c%c", hex[c >> 4], hex[c & 15]);
                sb_puts(b, u);
            } else {
                sb_put(b, (const char *)&s[i], 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

char *store_go_value(const json_t *v, bool quote)
{
    struct sbuf b = {0};
    char t[32];
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (quote)
            go_quote(json_string_value(v), json_string_length(v), &b);
        else
            sb_put(&b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        /* Go holds these as float64 and %v would print 1e+06 for a million;
         * we print the integer so the generated Modelfile parses back. */
        snprintf(t, sizeof(t), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        sb_puts(&b, t);
        break;
    case JSON_REAL: fmt_float(json_real_value(v), 'g', &b); break;
    case JSON_TRUE: sb_puts(&b, "true"); break;
    case JSON_FALSE: sb_puts(&b, "false"); break;
    default: {
        char *s = store_json_go(v, true, false, NULL);
        sb_puts(&b, s);
        free(s);
    }
    }
    if (!b.p)
        sb_put(&b, "", 0);
    return b.p;
}
