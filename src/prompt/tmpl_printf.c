/* prompt: the template's printf — Go's fmt.Sprintf for the verbs templates
 * use: %v %s %q %d %b %o %x %X %c %U %e %E %f %F %g %G %t %T %%, flags
 * "+- #0", width and precision (also '*'). Mismatches print as Go does:
 * "%!d(string=abc)", "%!s(MISSING)", "%!(EXTRA int=1)", "%!(NOVERB)". */
#include "prompt/tmpl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

int tmpl_printf(struct tstate_fn *ctx, struct tbuf *b, char *msg, size_t msglen);

struct spec {
    bool minus, plus, sharp, space, zero;
    int width, prec; /* -1: absent */
};

static size_t rune_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += tmpl_utf8_get(s + i, n - i, &cp);
        c++;
    }
    return c;
}

/* Pads s to the width; zero padding goes after a sign. */
static void pad(struct tbuf *b, const struct spec *sp, const char *s, size_t n, bool numeric)
{
    size_t runes = rune_count(s, n);
    size_t w = sp->width > 0 ? (size_t)sp->width : 0;
    if (runes >= w) {
        tbuf_put(b, s, n);
        return;
    }
    size_t fill = w - runes;
    if (sp->minus) {
        tbuf_put(b, s, n);
        for (size_t i = 0; i < fill; i++)
            tbuf_putc(b, ' ');
        return;
    }
    if (sp->zero && numeric) {
        size_t k = 0;
        if (n && (s[0] == '-' || s[0] == '+' || s[0] == ' '))
            tbuf_putc(b, s[k++]);
        for (size_t i = 0; i < fill; i++)
            tbuf_putc(b, '0');
        tbuf_put(b, s + k, n - k);
        return;
    }
    for (size_t i = 0; i < fill; i++)
        tbuf_putc(b, ' ');
    tbuf_put(b, s, n);
}

static void bad_verb(struct tbuf *b, const char *verb, size_t vlen, const struct tval *v)
{
    tbuf_put(b, "%!", 2);
    tbuf_put(b, verb, vlen);
    tbuf_putc(b, '(');
    if (v->kind == TV_NIL) {
        tbuf_put(b, "<nil>", 5);
    } else {
        const char *t = tval_type_name(v);
        tbuf_put(b, t, strlen(t));
        tbuf_putc(b, '=');
        tval_print_arg(b, v);
    }
    tbuf_putc(b, ')');
}

static void quote(struct tbuf *b, const char *s, size_t n)
{
    tbuf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = tmpl_utf8_get(s + i, n - i, &cp);
        if (cp == 0xFFFD && len == 1 && (unsigned char)s[i] >= 0x80) {
            tbuf_printf(b, "\\x%02x", (unsigned char)s[i]);
        } else if (cp == '"' || cp == '\\') {
            tbuf_putc(b, '\\');
            tbuf_putc(b, (char)cp);
        } else if (cp == '\n') {
            tbuf_put(b, "\\n", 2);
        } else if (cp == '\t') {
            tbuf_put(b, "\\t", 2);
        } else if (cp == '\r') {
            tbuf_put(b, "\\r", 2);
        } else if (cp == '\a' || cp == '\b' || cp == '\f' || cp == '\v') {
            static const char m[] = "abtnvfr";
            tbuf_putc(b, '\\');
            tbuf_putc(b, m[cp - 7]);
        } else if (cp < 0x20 || cp == 0x7F) {
            tbuf_printf(b, "\\x%02x", cp);
        } else {
            tbuf_put(b, s + i, len);
        }
        i += len;
    }
    tbuf_putc(b, '"');
}

static void fmt_int(struct tbuf *b, const struct spec *sp, char verb, int64_t v)
{
    char digits[80];
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    int base = verb == 'b' ? 2 : verb == 'o' || verb == 'O' ? 8 : verb == 'x' || verb == 'X' ? 16 : 10;
    const char *dig = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    int k = 0;
    do {
        digits[k++] = dig[u % (unsigned)base];
        u /= (unsigned)base;
    } while (u);
    char s[100];
    size_t n = 0;
    if (v < 0)
        s[n++] = '-';
    else if (sp->plus)
        s[n++] = '+';
    else if (sp->space)
        s[n++] = ' ';
    if (verb == 'O' || (sp->sharp && verb == 'o'))
        s[n++] = '0';
    if (verb == 'O')
        s[n++] = 'o';
    if (sp->sharp && (verb == 'x' || verb == 'X')) {
        s[n++] = '0';
        s[n++] = verb;
    }
    if (sp->sharp && verb == 'b') {
        s[n++] = '0';
        s[n++] = 'b';
    }
    for (int i = k; i < sp->prec && i < 60; i++)
        s[n++] = '0';
    while (k > 0)
        s[n++] = digits[--k];
    pad(b, sp, s, n, sp->prec < 0);
}

static void fmt_float(struct tbuf *b, const struct spec *sp, char verb, double f)
{
    struct tbuf t = {.limit = 4096};
    if (sp->prec < 0 && (verb == 'g' || verb == 'G' || verb == 'v')) {
        if (f >= 0 && sp->plus)
            tbuf_putc(&t, '+');
        else if (f >= 0 && sp->space)
            tbuf_putc(&t, ' ');
        go_float(&t, f, 'g');
        if (verb == 'G')
            for (size_t i = 0; i < t.len; i++)
                if (t.p[i] == 'e')
                    t.p[i] = 'E';
    } else {
        char fmt[16];
        snprintf(fmt, sizeof(fmt), "%%%s%s%s.*%c", sp->plus ? "+" : "", sp->space ? " " : "",
                 sp->sharp ? "#" : "", verb == 'v' ? 'g' : verb);
        char s[400];
        int n = snprintf(s, sizeof(s), fmt, sp->prec < 0 ? 6 : OM_MIN(sp->prec, 300), f);
        if (n > 0)
            tbuf_put(&t, s, OM_MIN((size_t)n, sizeof(s) - 1));
    }
    pad(b, sp, t.p ? t.p : "", t.len, true);
    free(t.p);
}

static void fmt_one(struct tbuf *b, const struct spec *sp, const char *verb, size_t vlen,
                    const struct tval *v)
{
    char c = vlen == 1 ? verb[0] : '?';
    struct tbuf t = {.limit = TMPL_MAX_OUTPUT};
    switch (c) {
    case 'v':
        if (v->kind == TV_FLOAT) {
            fmt_float(b, sp, 'v', v->f);
            return;
        }
        if (v->kind == TV_INT) {
            fmt_int(b, sp, 'd', v->i);
            return;
        }
        tval_print_arg(&t, v);
        break;
    case 's':
        if (v->kind == TV_STR || v->kind == TV_ARR || v->kind == TV_OBJ) {
            tval_print_arg(&t, v);
            if (sp->prec >= 0 && v->kind == TV_STR) { /* precision counts runes */
                size_t i = 0;
                for (int r = 0; r < sp->prec && i < t.len; r++) {
                    uint32_t cp;
                    i += tmpl_utf8_get(t.p + i, t.len - i, &cp);
                }
                t.len = i;
            }
        } else {
            bad_verb(&t, verb, vlen, v);
        }
        break;
    case 'q':
        if (v->kind == TV_STR) {
            quote(&t, v->s, v->slen);
        } else if (v->kind == TV_INT) {
            char u[4];
            tbuf_putc(&t, '\'');
            tbuf_put(&t, u, tmpl_utf8_put(u, (uint32_t)v->i));
            tbuf_putc(&t, '\'');
        } else {
            bad_verb(&t, verb, vlen, v);
        }
        break;
    case 'd': case 'b': case 'o': case 'O': case 'x': case 'X':
        if (v->kind == TV_INT) {
            fmt_int(b, sp, c, v->i);
            return;
        }
        if ((c == 'x' || c == 'X') && v->kind == TV_STR) {
            for (size_t i = 0; i < v->slen; i++)
                tbuf_printf(&t, c == 'x' ? "%02x" : "%02X", (unsigned char)v->s[i]);
        } else if ((c == 'x' || c == 'X' || c == 'b') && v->kind == TV_FLOAT) {
            char s[64];
            snprintf(s, sizeof(s), c == 'X' ? "%A" : "%a", v->f);
            tbuf_put(&t, s, strlen(s));
        } else {
            bad_verb(&t, verb, vlen, v);
        }
        break;
    case 'c':
    case 'U':
        if (v->kind == TV_INT) {
            if (c == 'c') {
                char u[4];
                tbuf_put(&t, u, tmpl_utf8_put(u, (uint32_t)v->i));
            } else {
                tbuf_printf(&t, "U+%04llX", (unsigned long long)v->i);
            }
        } else {
            bad_verb(&t, verb, vlen, v);
        }
        break;
    case 'e': case 'E': case 'f': case 'F': case 'g': case 'G':
        if (v->kind == TV_FLOAT) {
            fmt_float(b, sp, c, v->f);
            return;
        }
        bad_verb(&t, verb, vlen, v);
        break;
    case 't':
        if (v->kind == TV_BOOL)
            tbuf_put(&t, v->b ? "true" : "false", v->b ? 4 : 5);
        else
            bad_verb(&t, verb, vlen, v);
        break;
    case 'T': {
        const char *tn = tval_type_name(v);
        tbuf_put(&t, tn, strlen(tn));
        break;
    }
    default:
        bad_verb(&t, verb, vlen, v);
        break;
    }
    pad(b, sp, t.p ? t.p : "", t.len, false);
    free(t.p);
}

int tmpl_printf(struct tstate_fn *ctx, struct tbuf *b, char *msg, size_t msglen)
{
    int na = tstate_nargs(ctx);
    if (na < 1) {
        snprintf(msg, msglen, "wrong number of args for printf: want at least 1 got 0");
        return OM_EFORMAT;
    }
    struct tval f;
    if (tstate_arg(ctx, 0, &f) < 0)
        return -1;
    if (f.kind != TV_STR) {
        snprintf(msg, msglen, "wrong type for value; expected string; got %s", tval_type_name(&f));
        return OM_EINVAL;
    }
    /* evaluate the arguments once, in order, as Go does before the call */
    int nv = na - 1;
    struct tval *args = om_xcalloc((size_t)(nv > 0 ? nv : 1), sizeof(*args));
    for (int i = 0; i < nv; i++)
        if (tstate_arg(ctx, i + 1, &args[i]) < 0) {
            free(args);
            return -1;
        }
    int argi = 0;
    const char *s = f.s;
    size_t n = f.slen;
    for (size_t i = 0; i < n && !b->over;) {
        if (s[i] != '%') {
            size_t j = i;
            while (j < n && s[j] != '%')
                j++;
            tbuf_put(b, s + i, j - i);
            i = j;
            continue;
        }
        i++;
        struct spec sp = {.width = -1, .prec = -1};
        for (; i < n; i++) {
            if (s[i] == '-') sp.minus = true, sp.zero = false;
            else if (s[i] == '+') sp.plus = true;
            else if (s[i] == '#') sp.sharp = true;
            else if (s[i] == ' ') sp.space = true;
            else if (s[i] == '0') sp.zero = !sp.minus;
            else break;
        }
        if (i < n && s[i] == '*') {
            i++;
            if (argi < nv && args[argi].kind == TV_INT) {
                sp.width = (int)OM_MAX(OM_MIN(args[argi].i, 1000000), -1000000);
                if (sp.width < 0) {
                    sp.minus = true;
                    sp.width = -sp.width;
                }
            } else {
                tbuf_put(b, "%!(BADWIDTH)", 12);
            }
            argi++;
        } else {
            while (i < n && s[i] >= '0' && s[i] <= '9')
                sp.width = (sp.width < 0 ? 0 : sp.width) * 10 % 10000000 + (s[i++] - '0');
        }
        if (i < n && s[i] == '.') {
            i++;
            sp.prec = 0;
            if (i < n && s[i] == '*') {
                i++;
                if (argi < nv && args[argi].kind == TV_INT && args[argi].i >= 0)
                    sp.prec = (int)OM_MIN(args[argi].i, 1000000);
                else
                    tbuf_put(b, "%!(BADPREC)", 11);
                argi++;
            } else {
                while (i < n && s[i] >= '0' && s[i] <= '9')
                    sp.prec = sp.prec * 10 % 10000000 + (s[i++] - '0');
            }
        }
        if (sp.width > 1000000)
            sp.width = 1000000;
        if (i >= n) {
            tbuf_put(b, "%!(NOVERB)", 10);
            break;
        }
        uint32_t cp;
        size_t vlen = tmpl_utf8_get(s + i, n - i, &cp);
        const char *verb = s + i;
        i += vlen;
        if (cp == '%') {
            tbuf_putc(b, '%');
            continue;
        }
        if (argi >= nv) {
            tbuf_put(b, "%!", 2);
            tbuf_put(b, verb, vlen);
            tbuf_put(b, "(MISSING)", 9);
            continue;
        }
        fmt_one(b, &sp, verb, vlen, &args[argi++]);
    }
    if (argi < nv && !b->over) {
        tbuf_put(b, "%!(EXTRA ", 9);
        for (int k = argi; k < nv; k++) {
            if (k > argi)
                tbuf_put(b, ", ", 2);
            if (args[k].kind == TV_NIL) {
                tbuf_put(b, "<nil>", 5);
                continue;
            }
            const char *tn = tval_type_name(&args[k]);
            tbuf_put(b, tn, strlen(tn));
            tbuf_putc(b, '=');
            tval_print_arg(b, &args[k]);
        }
        tbuf_putc(b, ')');
    }
    free(args);
    return 0;
}
