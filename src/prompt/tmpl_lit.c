/* prompt: literals of the Go template language — quoted strings (Go
 * strconv.Unquote rules: "..." with escapes, `...` raw with \r dropped),
 * character constants and numbers (decimal, 0x/0o/0b, legacy octal,
 * underscores, floats, hex floats). A number is "int" when it parses as an
 * integer or is a float with an integral value, and "float" when it parses
 * as one, exactly as Go's parse.NumberNode marks it. */
#include "prompt/tmpl_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

int tmpl_unquote(const char *s, size_t n, char **out, size_t *outlen);
int tmpl_number(const char *s, size_t n, struct tnode *num);

size_t tmpl_utf8_put(char *d, uint32_t cp)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one UTF-8 sequence; returns its length (1 with U+FFFD when
 * invalid). */
size_t tmpl_utf8_get(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    int len = u[0] >= 0xF0 && u[0] <= 0xF4  ? 4
              : u[0] >= 0xE0                ? 3
              : u[0] >= 0xC2 && u[0] < 0xE0 ? 2
                                            : 0;
    if (len == 0 || (size_t)len > n)
        goto bad;
    uint32_t c = u[0] & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80)
            goto bad;
        c = (c << 6) | (u[i] & 0x3F);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
        (len == 4 && (c < 0x10000 || c > 0x10FFFF)))
        goto bad;
    *cp = c;
    return (size_t)len;
bad:
    *cp = 0xFFFD;
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One escape after '\\' at s[*i]; appends to d. q is the quote char. */
static int unescape(const char *s, size_t n, size_t *i, char q, char *d, size_t *dl)
{
    if (*i >= n)
        return -1;
    char c = s[(*i)++];
    int nhex = 0;
    switch (c) {
    case 'a': d[(*dl)++] = '\a'; return 0;
    case 'b': d[(*dl)++] = '\b'; return 0;
    case 'f': d[(*dl)++] = '\f'; return 0;
    case 'n': d[(*dl)++] = '\n'; return 0;
    case 'r': d[(*dl)++] = '\r'; return 0;
    case 't': d[(*dl)++] = '\t'; return 0;
    case 'v': d[(*dl)++] = '\v'; return 0;
    case '\\': d[(*dl)++] = '\\'; return 0;
    case '"':
    case '\'':
        if (c != q)
            return -1;
        d[(*dl)++] = c;
        return 0;
    case 'x': nhex = 2; break;
    case 'u': nhex = 4; break;
    case 'U': nhex = 8; break;
    default:
        if (c >= '0' && c <= '7') {
            if (*i + 2 > n)
                return -1;
            int v = c - '0';
            for (int k = 0; k < 2; k++) {
                char o = s[(*i)++];
                if (o < '0' || o > '7')
                    return -1;
                v = v * 8 + (o - '0');
            }
            if (v > 255)
                return -1;
            d[(*dl)++] = (char)v;
            return 0;
        }
        return -1;
    }
    if (*i + (size_t)nhex > n)
        return -1;
    uint32_t v = 0;
    for (int k = 0; k < nhex; k++) {
        int h = hexval(s[(*i)++]);
        if (h < 0)
            return -1;
        v = v * 16 + (uint32_t)h;
    }
    if (nhex == 2) {
        d[(*dl)++] = (char)v;
        return 0;
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return -1;
    *dl += tmpl_utf8_put(d + *dl, v);
    return 0;
}

int tmpl_unquote(const char *s, size_t n, char **out, size_t *outlen)
{
    *out = NULL;
    if (n < 2 || s[0] != s[n - 1] || (s[0] != '"' && s[0] != '`'))
        return -1;
    char q = s[0];
    char *d = om_xmalloc(n + 1);
    size_t dl = 0;
    for (size_t i = 1; i < n - 1;) {
        char c = s[i];
        if (q == '`') {
            if (c != '\r')
                d[dl++] = c;
            i++;
        } else if (c == '\\') {
            i++;
            if (unescape(s, n - 1, &i, q, d, &dl) < 0) {
                free(d);
                return -1;
            }
        } else if (c == '"' || c == '\n') {
            free(d);
            return -1;
        } else {
            d[dl++] = c;
            i++;
        }
    }
    d[dl] = 0;
    *out = d;
    *outlen = dl;
    return 0;
}

static int char_const(const char *s, size_t n, struct tnode *num)
{
    if (n < 3 || s[n - 1] != '\'')
        return -1;
    uint32_t cp;
    size_t i = 1;
    if (s[1] == '\\') {
        char buf[8];
        size_t dl = 0;
        i = 2;
        char e = s[2];
        if (unescape(s, n - 1, &i, '\'', buf, &dl) < 0)
            return -1;
        if (e == 'x' || (e >= '0' && e <= '7'))
            cp = (unsigned char)buf[0];
        else
            tmpl_utf8_get(buf, dl, &cp);
    } else {
        i += tmpl_utf8_get(s + 1, n - 2, &cp);
    }
    if (i != n - 1)
        return -1;
    num->is_int = num->is_float = true;
    num->ival = cp;
    num->fval = cp;
    return 0;
}

int tmpl_number(const char *s, size_t n, struct tnode *num)
{
    if (n == 0 || n > 128)
        return -1;
    if (s[0] == '\'')
        return char_const(s, n, num);
    char buf[130];
    size_t bl = 0;
    for (size_t i = 0; i < n; i++) /* underscores are digit separators */
        if (s[i] != '_')
            buf[bl++] = s[i];
    buf[bl] = 0;
    if (bl && (buf[bl - 1] == 'i'))
        return -1; /* complex constants: not supported */
    const char *b = buf;
    bool neg = false;
    if (*b == '+' || *b == '-')
        neg = *b++ == '-';
    int base = 10;
    const char *digits = b;
    if (b[0] == '0' && (b[1] == 'x' || b[1] == 'X'))
        base = 16, digits = b + 2;
    else if (b[0] == '0' && (b[1] == 'o' || b[1] == 'O'))
        base = 8, digits = b + 2;
    else if (b[0] == '0' && (b[1] == 'b' || b[1] == 'B'))
        base = 2, digits = b + 2;
    else if (b[0] == '0' && b[1])
        base = 8, digits = b + 1;
    if (*digits) {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(digits, &end, base);
        if (*end == 0 && errno == 0 && isalnum((unsigned char)digits[0]) &&
            u <= (neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX)) {
            num->is_int = true;
            num->ival = neg ? (int64_t)(0 - u) : (int64_t)u;
        }
    }
    if (base != 8 || digits == b + 1 || !num->is_int) {
        char *end;
        errno = 0;
        double f = strtod(buf, &end);
        bool hexint = base == 16 && !strpbrk(buf, "pP.");
        if (*end == 0 && !hexint && (base == 10 || base == 16 || (base == 8 && digits == b + 1)) &&
            !(isinf(f) && errno == ERANGE)) {
            num->is_float = true;
            num->fval = f;
            if (!num->is_int && f == floor(f) && fabs(f) < 9.2e18) {
                num->is_int = true;
                num->ival = (int64_t)f;
            }
        }
    }
    if (num->is_int && !num->is_float) {
        num->is_float = true;
        num->fval = (double)num->ival;
    }
    return num->is_int || num->is_float ? 0 : -1;
}
