/* prompt: Jinja lexer — splits a template into text and tag tokens, applying
 * whitespace control exactly as Jinja2's lexer does with trim_blocks and
 * lstrip_blocks on:
 *   - `{%-`/`{{-`/`{#-` strip all whitespace before the tag, `-%}`… after it;
 *   - trim_blocks: one newline right after `%}` or `#}` is dropped (`+%}`
 *     keeps it);
 *   - lstrip_blocks: spaces and tabs between a line start and `{%`/`{#` are
 *     dropped (`{%+` keeps them); a line start is after a newline in the text
 *     or, with no newline in it, when the previous tag ended a line.
 * Inside tags, `}}` and `%}` end the tag only outside brackets, so
 * `{{ {'a': 1}}}` works. `{% raw %}…{% endraw %}` is passed through as text. */
#include "prompt/jinja_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

#define MAX_TOKENS (1u << 22)

struct lexer {
    const char *s;
    size_t n, pos;
    int line;
    struct jarena *ar;
    struct jtoks *out;
    char *err;
    size_t errlen;
};

static int push(struct lexer *L, struct jtok t)
{
    struct jtoks *o = L->out;
    if (o->n == o->cap) {
        if (o->cap >= MAX_TOKENS)
            return om_err(L->err, L->errlen, OM_ENOMEM, "jinja: template has too many tokens");
        o->cap = o->cap ? o->cap * 2 : 64;
        o->v = om_xrealloc(o->v, o->cap * sizeof(*o->v));
    }
    o->v[o->n++] = t;
    return 0;
}

static int count_lines(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == '\n';
    return c;
}

static int push_text(struct lexer *L, const char *s, size_t n, int line)
{
    if (!n)
        return 0;
    char *p = jarena_alloc(L->ar, n + 1);
    if (!p)
        return om_err(L->err, L->errlen, OM_ENOMEM, "jinja: template too large");
    memcpy(p, s, n);
    p[n] = 0;
    struct jtok t = {.kind = JT_TEXT, .line = line, .s = p, .n = n};
    return push(L, t);
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static void put_utf8(char *p, size_t *o, uint32_t cp)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80)
        p[(*o)++] = (char)cp;
    else if (cp < 0x800) {
        p[(*o)++] = (char)(0xC0 | (cp >> 6));
        p[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        p[(*o)++] = (char)(0xE0 | (cp >> 12));
        p[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        p[(*o)++] = (char)(0xF0 | (cp >> 18));
        p[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        p[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static bool hexval(const char *s, int n, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return false;
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    return true;
}

/* A quoted literal starting at L->pos; Python unicode-escape semantics
 * (unknown escapes keep their backslash). */
static int lex_string(struct lexer *L)
{
    char q = L->s[L->pos];
    size_t i = L->pos + 1;
    while (i < L->n && L->s[i] != q) {
        if (L->s[i] == '\\' && i + 1 < L->n)
            i++;
        i++;
    }
    if (i >= L->n)
        return om_err(L->err, L->errlen, OM_EFORMAT, "jinja: line %d: unterminated string", L->line);
    const char *s = L->s + L->pos + 1;
    size_t n = i - L->pos - 1;
    char *p = jarena_alloc(L->ar, n + 1);
    if (!p)
        return om_err(L->err, L->errlen, OM_ENOMEM, "jinja: template too large");
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] != '\\' || k + 1 >= n) {
            p[o++] = s[k];
            continue;
        }
        char e = s[++k];
        uint32_t cp;
        switch (e) {
        case 'n': p[o++] = '\n'; break;
        case 't': p[o++] = '\t'; break;
        case 'r': p[o++] = '\r'; break;
        case '\\': p[o++] = '\\'; break;
        case '\'': p[o++] = '\''; break;
        case '"': p[o++] = '"'; break;
        case 'a': p[o++] = '\a'; break;
        case 'b': p[o++] = '\b'; break;
        case 'f': p[o++] = '\f'; break;
        case 'v': p[o++] = '\v'; break;
        case '\n': break;
        case 'x':
        case 'u':
        case 'U': {
            int w = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            if (k + (size_t)w < n && hexval(s + k + 1, w, &cp)) {
                /* each escape is at least as long as its UTF-8 encoding except
                 * \xNN (4 chars -> at most 2 bytes), so p never overflows */
                put_utf8(p, &o, cp);
                k += (size_t)w;
            } else {
                p[o++] = '\\';
                p[o++] = e;
            }
            break;
        }
        default:
            p[o++] = '\\';
            p[o++] = e;
        }
    }
    p[o] = 0;
    struct jtok t = {.kind = JT_STRING, .line = L->line, .s = p, .n = o};
    L->line += count_lines(L->s + L->pos, i + 1 - L->pos);
    L->pos = i + 1;
    return push(L, t);
}

static int lex_number(struct lexer *L)
{
    size_t i = L->pos;
    bool flt = false;
    char buf[64];
    size_t o = 0;
    while (i < L->n && (isdigit((unsigned char)L->s[i]) || L->s[i] == '_')) {
        if (L->s[i] != '_' && o < sizeof(buf) - 1)
            buf[o++] = L->s[i];
        i++;
    }
    if (i + 1 < L->n && L->s[i] == '.' && isdigit((unsigned char)L->s[i + 1])) {
        flt = true;
        buf[o < sizeof(buf) - 1 ? o++ : o] = '.';
        i++;
        while (i < L->n && (isdigit((unsigned char)L->s[i]) || L->s[i] == '_')) {
            if (L->s[i] != '_' && o < sizeof(buf) - 1)
                buf[o++] = L->s[i];
            i++;
        }
    }
    if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < L->n && (L->s[j] == '+' || L->s[j] == '-'))
            j++;
        if (j < L->n && isdigit((unsigned char)L->s[j])) {
            flt = true;
            while (i < j && o < sizeof(buf) - 1)
                buf[o++] = L->s[i++];
            while (i < L->n && isdigit((unsigned char)L->s[i])) {
                if (o < sizeof(buf) - 1)
                    buf[o++] = L->s[i];
                i++;
            }
        }
    }
    buf[o] = 0;
    struct jtok t = {.kind = flt ? JT_FLOAT : JT_INT, .line = L->line};
    if (flt)
        t.f = strtod(buf, NULL);
    else {
        char *end;
        unsigned long long v = strtoull(buf, &end, 10);
        if (o > 18 && (v > (unsigned long long)INT64_MAX || o > 19))
            return om_err(L->err, L->errlen, OM_EFORMAT, "jinja: line %d: integer too large", L->line);
        t.i = (int64_t)v;
    }
    L->pos = i;
    return push(L, t);
}

static const char *const OPS[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%",
                                  "~", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "=",
                                  "<", ">", ";"};

/* Tokens of one tag until its end marker (`}}` or `%}`), which is consumed
 * together with the whitespace control it asks for. */
static int lex_tag(struct lexer *L, bool var)
{
    int depth = 0, rc;
    char close = var ? '}' : '%';
    for (;;) {
        while (L->pos < L->n && is_ws(L->s[L->pos])) {
            L->line += L->s[L->pos] == '\n';
            L->pos++;
        }
        if (L->pos >= L->n)
            return om_err(L->err, L->errlen, OM_EFORMAT, "jinja: line %d: unterminated %s tag",
                          L->line, var ? "{{" : "{%");
        const char *p = L->s + L->pos;
        size_t left = L->n - L->pos;
        if (depth == 0) {
            size_t skip = 0;
            char ctl = 0;
            if ((p[0] == '-' || p[0] == '+') && left >= 3 && p[1] == close && p[2] == '}') {
                ctl = p[0];
                skip = 3;
            } else if (left >= 2 && p[0] == close && p[1] == '}')
                skip = 2;
            if (skip) {
                L->pos += skip;
                struct jtok t = {.kind = var ? JT_VAR_END : JT_BLOCK_END, .line = L->line};
                if ((rc = push(L, t)))
                    return rc;
                if (ctl == '-') {
                    while (L->pos < L->n && is_ws(L->s[L->pos])) {
                        L->line += L->s[L->pos] == '\n';
                        L->pos++;
                    }
                } else if (!var && ctl != '+' && L->pos < L->n && L->s[L->pos] == '\n') {
                    L->pos++; /* trim_blocks */
                    L->line++;
                }
                return 0;
            }
        }
        char c = p[0];
        if (c == '"' || c == '\'') {
            if ((rc = lex_string(L)))
                return rc;
            continue;
        }
        if (isdigit((unsigned char)c)) {
            if ((rc = lex_number(L)))
                return rc;
            continue;
        }
        if (isalpha((unsigned char)c) || c == '_') {
            size_t i = L->pos;
            while (i < L->n && (isalnum((unsigned char)L->s[i]) || L->s[i] == '_'))
                i++;
            struct jtok t = {.kind = JT_NAME, .line = L->line, .s = p, .n = i - L->pos};
            L->pos = i;
            if ((rc = push(L, t)))
                return rc;
            continue;
        }
        size_t k;
        for (k = 0; k < OM_ARRAY_LEN(OPS); k++) {
            size_t ol = strlen(OPS[k]);
            if (left >= ol && memcmp(p, OPS[k], ol) == 0)
                break;
        }
        if (k == OM_ARRAY_LEN(OPS))
            return om_err(L->err, L->errlen, OM_EFORMAT, "jinja: line %d: unexpected character '%c'",
                          L->line, c);
        if (c == '(' || c == '[' || c == '{')
            depth++;
        else if ((c == ')' || c == ']' || c == '}') && depth > 0)
            depth--;
        struct jtok t = {.kind = JT_OP, .line = L->line, .s = OPS[k], .n = strlen(OPS[k])};
        L->pos += t.n;
        if ((rc = push(L, t)))
            return rc;
    }
}

/* After `{% raw %}`: everything up to `{% endraw %}` is text. */
static int lex_raw(struct lexer *L)
{
    size_t i = L->pos;
    for (; i + 1 < L->n; i++) {
        if (L->s[i] != '{' || L->s[i + 1] != '%')
            continue;
        size_t j = i + 2;
        bool lstrip = j < L->n && L->s[j] == '-';
        if (j < L->n && (L->s[j] == '-' || L->s[j] == '+'))
            j++;
        while (j < L->n && is_ws(L->s[j]))
            j++;
        if (L->n - j < 6 || memcmp(L->s + j, "endraw", 6) != 0)
            continue;
        j += 6;
        while (j < L->n && is_ws(L->s[j]))
            j++;
        char ctl = 0;
        if (j < L->n && (L->s[j] == '-' || L->s[j] == '+'))
            ctl = L->s[j++];
        if (L->n - j < 2 || L->s[j] != '%' || L->s[j + 1] != '}')
            continue;
        size_t tend = i;
        if (lstrip)
            while (tend > L->pos && is_ws(L->s[tend - 1]))
                tend--;
        int rc = push_text(L, L->s + L->pos, tend - L->pos, L->line);
        if (rc)
            return rc;
        L->line += count_lines(L->s + L->pos, j + 2 - L->pos);
        L->pos = j + 2;
        if (ctl == '-')
            while (L->pos < L->n && is_ws(L->s[L->pos]))
                L->line += L->s[L->pos++] == '\n';
        else if (ctl != '+' && L->pos < L->n && L->s[L->pos] == '\n') {
            L->pos++;
            L->line++;
        }
        return 0;
    }
    return om_err(L->err, L->errlen, OM_EFORMAT, "jinja: line %d: missing endraw", L->line);
}

int jinja_lex(const char *src, size_t len, struct jarena *a, struct jtoks *out, char *err,
              size_t errlen)
{
    struct lexer L = {.s = src, .n = len, .line = 1, .ar = a, .out = out, .err = err, .errlen = errlen};
    bool line_starting = true;
    int rc;
    while (L.pos < L.n) {
        /* next tag opener */
        size_t q = L.pos;
        const char *hit = NULL;
        while (q + 1 < L.n) {
            hit = memchr(L.s + q, '{', L.n - q - 1);
            if (!hit)
                break;
            q = (size_t)(hit - L.s);
            char c = L.s[q + 1];
            if (c == '{' || c == '%' || c == '#')
                break;
            q++;
            hit = NULL;
        }
        if (!hit) {
            rc = push_text(&L, L.s + L.pos, L.n - L.pos, L.line);
            return rc ? rc : push(&L, (struct jtok){.kind = JT_EOF, .line = L.line});
        }
        char kind = L.s[q + 1];
        char sign = q + 2 < L.n ? L.s[q + 2] : 0;
        if (sign != '-' && sign != '+')
            sign = 0;
        size_t tstart = L.pos, tend = q;
        if (sign == '-') {
            while (tend > tstart && is_ws(L.s[tend - 1]))
                tend--;
        } else if (sign != '+' && kind != '{') {
            size_t lp = tend;
            while (lp > tstart && L.s[lp - 1] != '\n')
                lp--;
            if (lp > tstart || line_starting) {
                size_t k = lp;
                while (k < tend && is_ws(L.s[k]))
                    k++;
                if (k == tend)
                    tend = lp;
            }
        }
        int tline = L.line;
        L.line += count_lines(L.s + tstart, q - tstart);
        if ((rc = push_text(&L, L.s + tstart, tend - tstart, tline)))
            return rc;
        L.pos = q + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            size_t e = L.pos;
            while (e + 1 < L.n && !(L.s[e] == '#' && L.s[e + 1] == '}'))
                e++;
            if (e + 1 >= L.n)
                return om_err(err, errlen, OM_EFORMAT, "jinja: line %d: unterminated comment", L.line);
            char ctl = e > L.pos && (L.s[e - 1] == '-' || L.s[e - 1] == '+') ? L.s[e - 1] : 0;
            L.line += count_lines(L.s + L.pos, e + 2 - L.pos);
            L.pos = e + 2;
            if (ctl == '-')
                while (L.pos < L.n && is_ws(L.s[L.pos]))
                    L.line += L.s[L.pos++] == '\n';
            else if (ctl != '+' && L.pos < L.n && L.s[L.pos] == '\n') {
                L.pos++;
                L.line++;
            }
        } else {
            size_t first = out->n;
            struct jtok t = {.kind = kind == '{' ? JT_VAR_BEGIN : JT_BLOCK_BEGIN, .line = L.line};
            if ((rc = push(&L, t)) || (rc = lex_tag(&L, kind == '{')))
                return rc;
            /* {% raw %} */
            if (kind == '%' && out->n == first + 3 && out->v[first + 1].kind == JT_NAME &&
                out->v[first + 1].n == 3 && memcmp(out->v[first + 1].s, "raw", 3) == 0) {
                out->n = first;
                if ((rc = lex_raw(&L)))
                    return rc;
            }
        }
        line_starting = L.pos > 0 && L.s[L.pos - 1] == '\n';
    }
    return push(&L, (struct jtok){.kind = JT_EOF, .line = L.line});
}
