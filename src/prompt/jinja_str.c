/* prompt: Jinja string helpers — Python's case mapping (ASCII, Latin-1,
 * Latin Extended-A, Greek, Cyrillic; other scripts unchanged), str.strip /
 * str.replace semantics, and printf-style `%` formatting. */
#include "prompt/jinja_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

#define TRY(x) do { int rc_ = (x); if (rc_) return rc_; } while (0)

static struct jv str_of(struct jctx *c, struct jv v) { return jv_to_str(&c->ar, v); }

static int need_str(struct jctx *c, const char *what, struct jv v)
{
    if (v.kind != JV_STR)
        return jctx_fail(c, OM_EFORMAT, "jinja: %s expects a string, got '%s'", what, jv_kind_name(v));
    return 0;
}

/* Simple case mapping: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic. */
static uint32_t cp_upper(uint32_t c)
{
    if (c >= 'a' && c <= 'z') return c - 32;
    if (c < 0x80) return c;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
    if (c == 0xFF) return 0x178;
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c & ~1u;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1u) ? c : c - 1;
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

static uint32_t cp_lower(uint32_t c)
{
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c < 0x80) return c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x178) return 0xFF;
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c | 1u;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1u) ? c + 1 : c;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

static bool cp_cased(uint32_t c) { return cp_upper(c) != c || cp_lower(c) != c; }

/* Next code point of s[*i..n); invalid bytes come back as themselves. */
static uint32_t utf8_next(const char *s, size_t n, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = n - *i;
    uint32_t c = p[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > left) {
        *i += 1;
        return c;
    }
    if (len > 1) {
        c &= 0x3Fu >> (len - 1);
        for (size_t k = 1; k < len; k++) {
            if ((p[k] & 0xC0) != 0x80) {
                *i += 1;
                return p[0];
            }
            c = (c << 6) | (p[k] & 0x3F);
        }
    }
    *i += len;
    return c;
}

static void utf8_put(struct jbuf *b, uint32_t c, const char *orig, size_t olen)
{
    char u[4];
    if (c < 0x80) {
        u[0] = (char)c;
        jbuf_put(b, u, 1);
    } else if (c < 0x800 && olen != 1) {
        u[0] = (char)(0xC0 | (c >> 6));
        u[1] = (char)(0x80 | (c & 0x3F));
        jbuf_put(b, u, 2);
    } else if (olen == 1 || c >= 0x10000 || olen == 4)
        jbuf_put(b, orig, olen); /* unchanged (invalid byte or astral) */
    else {
        u[0] = (char)(0xE0 | (c >> 12));
        u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        u[2] = (char)(0x80 | (c & 0x3F));
        jbuf_put(b, u, 3);
    }
}

/* Case mapping of a whole string: 'u'pper, 'l'ower, 'c'apitalize, 't' Jinja's
 * title filter (words split at whitespace - ( { [ <), 'T' Python str.title(). */
struct jv jinja_recase(struct jctx *c, struct jv in, char mode)
{
    struct jv s = str_of(c, in);
    const char *p = s.u.s->s;
    size_t n = s.u.s->len, i = 0;
    struct jbuf b = {0};
    bool start = true, first = true;
    while (i < n) {
        size_t at = i;
        uint32_t ch = utf8_next(p, n, &i), r = ch;
        switch (mode) {
        case 'u': r = cp_upper(ch); break;
        case 'l': r = cp_lower(ch); break;
        case 'c': r = first ? cp_upper(ch) : cp_lower(ch); break;
        case 't':
            if (ch < 0x80 && (isspace((int)ch) || strchr("-({[<", (int)ch))) {
                start = true;
                break;
            }
            r = start ? cp_upper(ch) : cp_lower(ch);
            start = false;
            break;
        case 'T':
            r = start ? cp_upper(ch) : cp_lower(ch);
            start = !cp_cased(ch);
            break;
        }
        first = false;
        if (r == ch)
            jbuf_put(&b, p + at, i - at);
        else
            utf8_put(&b, r, p + at, i - at);
    }
    struct jv out = jv_str(&c->ar, b.p ? b.p : "", b.len);
    jbuf_free(&b);
    return out;
}

static bool is_space(unsigned char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f); }

/* Python str.strip family: which = 'b'oth, 'l'eft, 'r'ight; chars NULL = whitespace. */
struct jv jinja_strip(struct jctx *c, struct jv s, const struct jstr *chars, char which)
{
    const char *p = s.u.s->s;
    size_t a = 0, b = s.u.s->len;
#define STRIPPABLE(ch) (chars ? memchr(chars->s, (ch), chars->len) != NULL : is_space((unsigned char)(ch)))
    if (which != 'r')
        while (a < b && STRIPPABLE(p[a]))
            a++;
    if (which != 'l')
        while (b > a && STRIPPABLE(p[b - 1]))
            b--;
#undef STRIPPABLE
    if (a == 0 && b == s.u.s->len)
        return s;
    return jv_str(&c->ar, p + a, b - a);
}

struct jv jinja_replace(struct jctx *c, struct jv s, struct jv old, struct jv new, int64_t count)
{
    const struct jstr *S = s.u.s, *O = old.u.s, *N = new.u.s;
    struct jbuf b = {0};
    size_t i = 0;
    int64_t done = 0;
    if (O->len == 0) {
        /* Python inserts `new` between every character */
        for (size_t k = 0; k <= S->len; k++) {
            if ((count < 0 || done < count) && (k == S->len || ((unsigned char)S->s[k] & 0xC0) != 0x80)) {
                jbuf_put(&b, N->s, N->len);
                done++;
            }
            if (k < S->len)
                jbuf_putc(&b, S->s[k]);
        }
    } else {
        while (i < S->len) {
            const char *hit = (count < 0 || done < count) ? memmem(S->s + i, S->len - i, O->s, O->len) : NULL;
            if (!hit)
                break;
            size_t at = (size_t)(hit - S->s);
            jbuf_put(&b, S->s + i, at - i);
            jbuf_put(&b, N->s, N->len);
            i = at + O->len;
            done++;
        }
        jbuf_put(&b, S->s + i, S->len - i);
    }
    struct jv r = b.over ? jv_str(&c->ar, "", 0) : jv_str(&c->ar, b.p ? b.p : "", b.len);
    if (b.over)
        c->ar.over = true;
    jbuf_free(&b);
    return r;
}


/* printf-style "%s %d %.2f" formatting (the `format` filter and `str % x`). */
int jinja_pformat(struct jctx *c, struct jv fmt, const struct jargs *a, struct jv *out)
{
    TRY(need_str(c, "format", fmt));
    struct jbuf b = {0};
    size_t ai = 0;
    const char *p = fmt.u.s->s, *end = p + fmt.u.s->len;
    int rc = 0;
    while (p < end && !rc) {
        if (*p != '%') {
            jbuf_putc(&b, *p++);
            continue;
        }
        p++;
        if (p < end && *p == '%') {
            jbuf_putc(&b, '%');
            p++;
            continue;
        }
        char spec[32] = "%";
        size_t sl = 1;
        while (p < end && strchr("-+ #0123456789.", *p) && sl < sizeof(spec) - 3)
            spec[sl++] = *p++;
        if (p >= end) {
            rc = jctx_fail(c, OM_EFORMAT, "jinja: incomplete format");
            break;
        }
        char conv = *p++;
        if (ai >= a->n) {
            rc = jctx_fail(c, OM_EFORMAT, "jinja: not enough arguments for format string");
            break;
        }
        struct jv v = a->v[ai++];
        char tmp[128];
        if (conv == 's' || conv == 'r') {
            struct jbuf vb = {0};
            if (conv == 'r')
                jv_write_repr(&vb, v);
            else
                jv_write_str(&vb, v);
            jbuf_put(&b, vb.p ? vb.p : "", vb.len);
            jbuf_free(&vb);
        } else if (strchr("dif", conv) && jv_is_num(v)) {
            if (conv == 'f') {
                spec[sl++] = 'f';
                spec[sl] = 0;
                snprintf(tmp, sizeof(tmp), spec, jv_num(v));
            } else {
                spec[sl++] = 'l';
                spec[sl++] = 'l';
                spec[sl++] = 'd';
                spec[sl] = 0;
                snprintf(tmp, sizeof(tmp), spec, (long long)(v.kind == JV_FLOAT ? (long long)v.u.f : v.kind == JV_INT ? v.u.i : v.u.b));
            }
            jbuf_put(&b, tmp, strlen(tmp));
        } else
            rc = jctx_fail(c, OM_EFORMAT, "jinja: unsupported format %%%c for '%s'", conv, jv_kind_name(v));
    }
    if (!rc && ai < a->n)
        rc = jctx_fail(c, OM_EFORMAT, "jinja: not all arguments converted during string formatting");
    if (!rc)
        *out = jv_str(&c->ar, b.p ? b.p : "", b.len);
    jbuf_free(&b);
    return rc ? rc : jctx_mem(c);
}

