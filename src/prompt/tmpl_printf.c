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
        tmpl_buf_put(b, s, n);
        return;
    }
    size_t fill = w - runes;
    if (sp->minus) {
        tmpl_buf_put(b, s, n);
        for (size_t i = 0; i < fill; i++)
            tmpl_buf_putc(b, ' ');
        return;
    }
    if (sp->zero) { /* fmt pads strings with zeros too */
        size_t k = 0;
        if (numeric && n && (s[0] == '-' || s[0] == '+' || s[0] == ' '))
            tmpl_buf_putc(b, s[k++]);
        for (size_t i = 0; i < fill; i++)
            tmpl_buf_putc(b, '0');
        tmpl_buf_put(b, s + k, n - k);
        return;
    }
    for (size_t i = 0; i < fill; i++)
        tmpl_buf_putc(b, ' ');
    tmpl_buf_put(b, s, n);
}

static void quote(struct tbuf *b, const char *s, size_t n)
{
    tmpl_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = tmpl_utf8_get(s + i, n - i, &cp);
        if (cp == 0xFFFD && len == 1 && (unsigned char)s[i] >= 0x80) {
            tmpl_buf_printf(b, "\\x%02x", (unsigned char)s[i]);
        } else if (cp == '"' || cp == '\\') {
            tmpl_buf_putc(b, '\\');
            tmpl_buf_putc(b, (char)cp);
        } else if (cp == '\n') {
            tmpl_buf_put(b, "\\n", 2);
        } else if (cp == '\t') {
            tmpl_buf_put(b, "\\t", 2);
        } else if (cp == '\r') {
            tmpl_buf_put(b, "\\r", 2);
        } else if (cp == '\a' || cp == '\b' || cp == '\f' || cp == '\v') {
            static const char m[] = "abtnvfr";
            tmpl_buf_putc(b, '\\');
            tmpl_buf_putc(b, m[cp - 7]);
        } else if (cp < 0x20 || cp == 0x7F) {
            tmpl_buf_printf(b, "\\x%02x", cp);
        } else {
            tmpl_buf_put(b, s + i, len);
        }
        i += len;
    }
    tmpl_buf_putc(b, '"');
}

static void fmt_int(struct tbuf *b, const struct spec *sp, char verb, int64_t v)
{
    char digits[80];
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    int base = verb == 'b'                  ? 2
               : verb == 'o' || verb == 'O' ? 8
               : verb == 'x' || verb == 'X' ? 16
                                            : 10;
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
            tmpl_buf_putc(&t, '+');
        else if (f >= 0 && sp->space)
            tmpl_buf_putc(&t, ' ');
        tmpl_go_float(&t, f, 'g');
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
            tmpl_buf_put(&t, s, OM_MIN((size_t)n, sizeof(s) - 1));
    }
    pad(b, sp, t.p ? t.p : "", t.len, true);
    free(t.p);
}

static void fmt_one(struct tbuf *b, const struct spec *sp, const char *verb, size_t vlen,
                    const struct tval *v, int depth);

/* "%!d(string=abc)": the value printed with %v and the same flags. */
static void bad_verb(struct tbuf *b, const struct spec *sp, const char *verb, size_t vlen,
                     const struct tval *v, int depth)
{
    tmpl_buf_put(b, "%!", 2);
    tmpl_buf_put(b, verb, vlen);
    tmpl_buf_putc(b, '(');
    if (v->kind == TV_NIL) {
        tmpl_buf_put(b, "<nil>", 5);
    } else {
        const char *t = tmpl_val_type_name(v);
        tmpl_buf_put(b, t, strlen(t));
        tmpl_buf_putc(b, '=');
        if (v->kind == TV_FLOAT) /* the flags stay: %+d of 7.0 shows +7 */
            fmt_float(b, sp, 'v', v->f);
        else if (v->kind == TV_INT)
            fmt_int(b, sp, 'd', v->i);
        else
            fmt_one(b, sp, "v", 1, v, depth + 1);
    }
    tmpl_buf_putc(b, ')');
}

/* Slices, maps and structs: the verb applies to each element (fmt's
 * printValue); nil elements print "<nil>". */
static void fmt_composite(struct tbuf *b, const struct spec *sp, const char *verb, size_t vlen,
                          const struct tval *v, int depth)
{
    if (v->kind == TV_ARR) {
        tmpl_buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v->j) && !b->over; i++) {
            if (i)
                tmpl_buf_putc(b, ' ');
            struct tval e = tmpl_val_from_json(json_array_get(v->j, i));
            fmt_one(b, sp, verb, vlen, &e, depth + 1);
        }
        tmpl_buf_putc(b, ']');
        return;
    }
    if (tmpl_val_gotype(v)) {
        tmpl_buf_putc(b, '{');
        const char *key;
        json_t *val;
        bool first = true;
        json_object_foreach(v->j, key, val) {
            if (tmpl_obj_hidden_key(key))
                continue;
            if (!first)
                tmpl_buf_putc(b, ' ');
            first = false;
            struct tval e = tmpl_val_from_json(val);
            if ((e.kind == TV_ARR || e.kind == TV_OBJ) &&
                (strcmp(key, "Arguments") == 0 || strcmp(key, "Properties") == 0))
                e.flags |= TVF_JSONSTR;
            fmt_one(b, sp, verb, vlen, &e, depth + 1);
        }
        tmpl_buf_putc(b, '}');
        return;
    }
    size_t n;
    const char **keys = tmpl_obj_sorted_keys(v->j, &n);
    tmpl_buf_put(b, "map[", 4);
    for (size_t i = 0; i < n && !b->over; i++) {
        if (i)
            tmpl_buf_putc(b, ' ');
        struct tval k = {.kind = TV_STR, .s = keys[i], .slen = strlen(keys[i])};
        fmt_one(b, sp, verb, vlen, &k, depth + 1);
        tmpl_buf_putc(b, ':');
        struct tval e = tmpl_val_from_json(json_object_get(v->j, keys[i]));
        fmt_one(b, sp, verb, vlen, &e, depth + 1);
    }
    free(keys);
    tmpl_buf_putc(b, ']');
}

static void str_prec(struct tbuf *t, const struct spec *sp)
{
    if (sp->prec < 0)
        return;
    size_t i = 0; /* precision counts runes */
    for (int r = 0; r < sp->prec && i < t->len; r++) {
        uint32_t cp;
        i += tmpl_utf8_get(t->p + i, t->len - i, &cp);
    }
    t->len = i;
}

/* C's %a writes one exponent digit where Go writes at least two. */
static void hex_float(struct tbuf *t, char c, double f)
{
    char s[64];
    int n = snprintf(s, sizeof(s), c == 'X' ? "%A" : "%a", f);
    char *p = strpbrk(s, "pP");
    if (n > 0 && p && (p[1] == '+' || p[1] == '-') && p[2] && !p[3]) {
        p[4] = 0;
        p[3] = p[2];
        p[2] = '0';
    }
    tmpl_buf_put(t, s, strlen(s));
}

static void fmt_one(struct tbuf *b, const struct spec *sp, const char *verb, size_t vlen,
                    const struct tval *v, int depth)
{
    char c = vlen == 1 ? verb[0] : '?';
    struct tbuf t = {.limit = TMPL_MAX_OUTPUT};
    struct tval sv;
    if (depth > 64) {
        tmpl_buf_put(b, "...", 3);
        return;
    }
    if (v->kind == TV_NIL && depth > 0) { /* fmt writes it unpadded */
        tmpl_buf_put(b, "<nil>", 5);
        return;
    }
    if (c == 'T') {
        const char *tn = v->kind == TV_NIL ? "<nil>" : tmpl_val_type_name(v);
        pad(b, sp, tn, strlen(tn), false);
        return;
    }
    if ((v->kind == TV_ARR || v->kind == TV_OBJ) && (v->flags & TVF_JSONSTR) &&
        (c == 'v' || c == 's' || c == 'q' || c == 'x' || c == 'X')) {
        tmpl_val_print_arg(&t, v); /* a Stringer: its String() with the verb */
        sv = (struct tval){.kind = TV_STR, .s = t.p ? t.p : "", .slen = t.len};
        fmt_one(b, sp, verb, vlen, &sv, depth);
        free(t.p);
        return;
    }
    if (v->kind == TV_ARR || v->kind == TV_OBJ) {
        fmt_composite(b, sp, verb, vlen, v, depth);
        return;
    }
    switch (c) {
    case 'v':
        if (v->kind == TV_FLOAT || v->kind == TV_INT) { /* %+v, %#v: not a sign */
            struct spec s2 = *sp;
            s2.plus = s2.sharp = false;
            if (v->kind == TV_FLOAT)
                fmt_float(b, &s2, 'v', v->f);
            else
                fmt_int(b, &s2, 'd', v->i);
            return;
        }
        tmpl_val_print_arg(&t, v);
        if (v->kind == TV_STR)
            str_prec(&t, sp);
        break;
    case 's':
        if (v->kind == TV_STR) {
            tmpl_val_print_arg(&t, v);
            str_prec(&t, sp);
        } else {
            bad_verb(&t, sp, verb, vlen, v, depth);
        }
        break;
    case 'q':
        if (v->kind == TV_STR) {
            quote(&t, v->s, v->slen);
        } else if (v->kind == TV_INT) { /* strconv.QuoteRune */
            uint32_t r = v->i < 0 || v->i > 0x10FFFF ? 0xFFFD : (uint32_t)v->i;
            static const char esc[] = "abtnvfr";
            tmpl_buf_putc(&t, '\'');
            if (r == '\'' || r == '\\') {
                tmpl_buf_putc(&t, '\\');
                tmpl_buf_putc(&t, (char)r);
            } else if (r >= 7 && r <= 13) {
                tmpl_buf_putc(&t, '\\');
                tmpl_buf_putc(&t, esc[r - 7]);
            } else if (r < 0x20 || r == 0x7F) {
                tmpl_buf_printf(&t, "\\x%02x", r);
            } else {
                char u[4];
                tmpl_buf_put(&t, u, tmpl_utf8_put(u, r));
            }
            tmpl_buf_putc(&t, '\'');
        } else {
            bad_verb(&t, sp, verb, vlen, v, depth);
        }
        break;
    case 'd': case 'b': case 'o': case 'O': case 'x': case 'X':
        if (v->kind == TV_INT) {
            fmt_int(b, sp, c, v->i);
            return;
        }
        if ((c == 'x' || c == 'X') && v->kind == TV_STR) {
            for (size_t i = 0; i < v->slen; i++)
                tmpl_buf_printf(&t, c == 'x' ? "%02x" : "%02X", (unsigned char)v->s[i]);
        } else if ((c == 'x' || c == 'X') && v->kind == TV_FLOAT) {
            hex_float(&t, c, v->f);
        } else {
            bad_verb(&t, sp, verb, vlen, v, depth);
        }
        break;
    case 'c':
    case 'U':
        if (v->kind == TV_INT) {
            char u[4];
            if (c == 'c') {
                tmpl_buf_put(&t, u, tmpl_utf8_put(u, (uint32_t)v->i));
            } else {
                tmpl_buf_printf(&t, "U+%04llX", (unsigned long long)v->i);
                if (sp->sharp) {
                    tmpl_buf_put(&t, " '", 2);
                    tmpl_buf_put(&t, u, tmpl_utf8_put(u, (uint32_t)v->i));
                    tmpl_buf_putc(&t, '\'');
                }
            }
        } else {
            bad_verb(&t, sp, verb, vlen, v, depth);
        }
        break;
    case 'e': case 'E': case 'f': case 'F': case 'g': case 'G':
        if (v->kind == TV_FLOAT) {
            fmt_float(b, sp, c, v->f);
            return;
        }
        bad_verb(&t, sp, verb, vlen, v, depth);
        break;
    case 't':
        if (v->kind == TV_BOOL)
            tmpl_buf_put(&t, v->b ? "true" : "false", v->b ? 4 : 5);
        else
            bad_verb(&t, sp, verb, vlen, v, depth);
        break;
    default:
        bad_verb(&t, sp, verb, vlen, v, depth);
        break;
    }
    pad(b, sp, t.p ? t.p : "", t.len, false);
    free(t.p);
}

/* Go's parsenum: digits at s[i..]; a number over 10^6 is no number and
 * ends the format (returns n). *num keeps its value when there are none. */
static size_t parse_num(const char *s, size_t n, size_t i, int *num)
{
    if (i >= n || s[i] < '0' || s[i] > '9')
        return i;
    long v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i++] - '0');
        if (v > 1000000)
            return n;
    }
    *num = (int)v;
    return i;
}

void tmpl_fmt_verb(struct tbuf *b, char c, const struct tval *v)
{
    struct spec sp = {.width = -1, .prec = -1};
    fmt_one(b, &sp, &c, 1, v, 0);
}

int tmpl_printf(struct tstate_fn *ctx, struct tbuf *b, char *msg, size_t msglen)
{
    int na = tmpl_state_nargs(ctx);
    if (na < 1) {
        snprintf(msg, msglen, "wrong number of args for printf: want at least 1 got 0");
        return OM_EFORMAT;
    }
    struct tval f;
    if (tmpl_state_arg(ctx, 0, &f) < 0)
        return -1;
    if (f.kind != TV_STR) { /* argument conversion: reported at the argument */
        snprintf(msg, msglen, "wrong type for value; expected string; got %s",
                 tmpl_val_type_name(&f));
        ctx->err_node = ctx->cmd->nkids > 1 ? ctx->cmd->kids[1] : NULL;
        return OM_EFORMAT;
    }
    /* evaluate the arguments once, in order, as Go does before the call */
    int nv = na - 1;
    struct tval *args = om_xcalloc((size_t)(nv > 0 ? nv : 1), sizeof(*args));
    for (int i = 0; i < nv; i++)
        if (tmpl_state_arg(ctx, i + 1, &args[i]) < 0) {
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
            tmpl_buf_put(b, s + i, j - i);
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
                tmpl_buf_put(b, "%!(BADWIDTH)", 12);
            }
            argi++;
        } else {
            i = parse_num(s, n, i, &sp.width);
        }
        if (i < n && s[i] == '.') {
            i++;
            sp.prec = 0;
            if (i < n && s[i] == '*') {
                i++;
                if (argi < nv && args[argi].kind == TV_INT && args[argi].i >= 0)
                    sp.prec = (int)OM_MIN(args[argi].i, 1000000);
                else
                    tmpl_buf_put(b, "%!(BADPREC)", 11);
                argi++;
            } else {
                i = parse_num(s, n, i, &sp.prec);
                if (sp.prec < 0)
                    sp.prec = 0;
            }
        }
        if (i >= n) { /* also after a width or precision over 10^6, as Go */
            tmpl_buf_put(b, "%!(NOVERB)", 10);
            break;
        }
        uint32_t cp;
        size_t vlen = tmpl_utf8_get(s + i, n - i, &cp);
        const char *verb = s + i;
        i += vlen;
        if (cp == '%') {
            tmpl_buf_putc(b, '%');
            continue;
        }
        if (argi >= nv) {
            tmpl_buf_put(b, "%!", 2);
            tmpl_buf_put(b, verb, vlen);
            tmpl_buf_put(b, "(MISSING)", 9);
            continue;
        }
        fmt_one(b, &sp, verb, vlen, &args[argi++], 0);
    }
    if (argi < nv && !b->over) {
        tmpl_buf_put(b, "%!(EXTRA ", 9);
        for (int k = argi; k < nv; k++) {
            if (k > argi)
                tmpl_buf_put(b, ", ", 2);
            if (args[k].kind == TV_NIL) {
                tmpl_buf_put(b, "<nil>", 5);
                continue;
            }
            const char *tn = tmpl_val_type_name(&args[k]);
            tmpl_buf_put(b, tn, strlen(tn));
            tmpl_buf_putc(b, '=');
            tmpl_val_print_arg(b, &args[k]);
        }
        tmpl_buf_putc(b, ')');
    }
    free(args);
    return 0;
}
