/* prompt: Jinja tests (`x is defined`…), the Python methods templates call
 * on strings, dicts and lists (strip, split, startswith, items, get,
 * append…) and the globals chat templates use: range() (capped at 100000
 * items as in Jinja's sandbox), namespace(), dict(), raise_exception() and
 * strftime_now(). */
#include "prompt/jinja_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"

#define TRY(x) do { int rc_ = (x); if (rc_) return rc_; } while (0)
#define MAX_RANGE 100000


static bool is(const char *name, const char *a) { return strcmp(name, a) == 0; }

int jinja_test(struct jctx *c, const char *name, struct jv in, const struct jargs *a, bool *out)
{
    struct jv arg = jargs_get(a, 0, NULL, jv_undef());
    int cmp;
    if (is(name, "defined")) *out = in.kind != JV_UNDEF;
    else if (is(name, "undefined")) *out = in.kind == JV_UNDEF;
    else if (is(name, "none")) *out = in.kind == JV_NONE;
    else if (is(name, "string")) *out = in.kind == JV_STR;
    else if (is(name, "number")) *out = jv_is_num(in);
    else if (is(name, "integer")) *out = in.kind == JV_INT;
    else if (is(name, "float")) *out = in.kind == JV_FLOAT;
    else if (is(name, "mapping")) *out = in.kind == JV_DICT;
    else if (is(name, "iterable"))
        *out = in.kind == JV_LIST || in.kind == JV_DICT || in.kind == JV_STR || in.kind == JV_UNDEF;
    else if (is(name, "sequence"))
        *out = in.kind == JV_LIST || in.kind == JV_DICT || in.kind == JV_STR;
    else if (is(name, "boolean")) *out = in.kind == JV_BOOL;
    else if (is(name, "true")) *out = in.kind == JV_BOOL && in.u.b;
    else if (is(name, "false")) *out = in.kind == JV_BOOL && !in.u.b;
    else if (is(name, "callable")) *out = in.kind == JV_FUNC;
    else if (is(name, "escaped")) *out = false;
    else if (is(name, "equalto") || is(name, "eq") || is(name, "==")) *out = jv_eq(in, arg);
    else if (is(name, "ne") || is(name, "!=")) *out = !jv_eq(in, arg);
    else if (is(name, "sameas"))
        *out = in.kind == arg.kind && (in.kind == JV_NONE || in.kind == JV_UNDEF || jv_eq(in, arg));
    else if (is(name, "lt") || is(name, "lessthan") || is(name, "<") || is(name, "le") ||
             is(name, "<=") || is(name, "gt") || is(name, "greaterthan") || is(name, ">") ||
             is(name, "ge") || is(name, ">=")) {
        if (jv_cmp(in, arg, &cmp))
            return jctx_fail(c, OM_EFORMAT, "jinja: cannot compare '%s' and '%s'", jv_kind_name(in),
                             jv_kind_name(arg));
        if (is(name, "lt") || is(name, "lessthan") || is(name, "<")) *out = cmp < 0;
        else if (is(name, "le") || is(name, "<=")) *out = cmp <= 0;
        else if (is(name, "gt") || is(name, "greaterthan") || is(name, ">")) *out = cmp > 0;
        else *out = cmp >= 0;
    } else if (is(name, "in")) {
        if (arg.kind == JV_STR && in.kind == JV_STR)
            *out = memmem(arg.u.s->s, arg.u.s->len, in.u.s->s, in.u.s->len) != NULL || !in.u.s->len;
        else if (arg.kind == JV_LIST) {
            *out = false;
            for (size_t i = 0; i < arg.u.l->n && !*out; i++)
                *out = jv_eq(in, arg.u.l->v[i]);
        } else if (arg.kind == JV_DICT)
            *out = jv_dict_find(arg, in, NULL);
        else
            *out = false;
    } else if (is(name, "odd") || is(name, "even")) {
        if (in.kind != JV_INT && in.kind != JV_BOOL)
            return jctx_fail(c, OM_EFORMAT, "jinja: '%s' test needs an integer", name);
        *out = ((in.kind == JV_INT ? in.u.i : in.u.b) % 2 != 0) == (name[0] == 'o');
    } else if (is(name, "divisibleby")) {
        if (in.kind != JV_INT || arg.kind != JV_INT || arg.u.i == 0)
            return jctx_fail(c, OM_EFORMAT, "jinja: divisibleby needs nonzero integers");
        *out = in.u.i % arg.u.i == 0;
    } else if (is(name, "lower") || is(name, "upper")) { /* str(x).islower() / isupper() */
        struct jv sv = jv_to_str(&c->ar, in);
        bool cased = false;
        *out = true;
        for (size_t i = 0; *out && i < sv.u.s->len; i++) {
            unsigned char ch = (unsigned char)sv.u.s->s[i];
            *out = name[0] == 'l' ? !isupper(ch) : !islower(ch);
            cased |= name[0] == 'l' ? islower(ch) != 0 : isupper(ch) != 0;
        }
        *out = *out && cased;
    } else if (is(name, "filter") || is(name, "test"))
        *out = arg.kind == JV_STR; /* only known names matter to templates; be permissive */
    else
        return OM_ENOTFOUND;
    return 0;
}

/* ---- string methods ---- */

static int split(struct jctx *c, struct jv self, const struct jargs *a, bool right, struct jv *out)
{
    struct jv sep = jargs_get(a, 0, "sep", jv_none());
    struct jv ms = jargs_get(a, 1, "maxsplit", jv_int(-1));
    int64_t max = ms.kind == JV_INT ? ms.u.i : -1;
    const char *s = self.u.s->s;
    size_t n = self.u.s->len;
    struct jv l = jv_list_new(&c->ar, 0);
    TRY(jctx_charge(c, n / 16));
    if (sep.kind == JV_STR) {
        size_t sl = sep.u.s->len;
        if (!sl)
            return jctx_fail(c, OM_EFORMAT, "jinja: split: empty separator");
        if (right) { /* collect from the right, then reverse */
            struct jv tmp = jv_list_new(&c->ar, 0);
            size_t end = n;
            int64_t done = 0;
            while (max < 0 || done < max) {
                size_t k = end;
                bool found = false;
                while (k >= sl) {
                    if (memcmp(s + k - sl, sep.u.s->s, sl) == 0) {
                        found = true;
                        break;
                    }
                    k--;
                }
                if (!found)
                    break;
                jv_list_push(&c->ar, tmp, jv_str(&c->ar, s + k, end - k));
                end = k - sl;
                done++;
            }
            jv_list_push(&c->ar, l, jv_str(&c->ar, s, end));
            for (size_t i = tmp.u.l->n; i-- > 0;)
                jv_list_push(&c->ar, l, tmp.u.l->v[i]);
        } else {
            size_t i = 0;
            int64_t done = 0;
            for (;;) {
                const char *hit = max < 0 || done < max ? memmem(s + i, n - i, sep.u.s->s, sl) : NULL;
                if (!hit)
                    break;
                jv_list_push(&c->ar, l, jv_str(&c->ar, s + i, (size_t)(hit - s) - i));
                i = (size_t)(hit - s) + sl;
                done++;
            }
            jv_list_push(&c->ar, l, jv_str(&c->ar, s + i, n - i));
        }
    } else { /* runs of whitespace, no empty strings */
        size_t i = 0;
        int64_t done = 0;
        while (i < n) {
            while (i < n && isspace((unsigned char)s[i]))
                i++;
            if (i >= n)
                break;
            size_t j = i;
            if (max >= 0 && done >= max) {
                size_t e = n;
                while (e > i && isspace((unsigned char)s[e - 1]))
                    e--;
                jv_list_push(&c->ar, l, jv_str(&c->ar, s + i, e - i));
                break;
            }
            while (j < n && !isspace((unsigned char)s[j]))
                j++;
            jv_list_push(&c->ar, l, jv_str(&c->ar, s + i, j - i));
            done++;
            i = j;
        }
    }
    *out = l;
    return jctx_mem(c);
}

static bool affix(struct jv self, struct jv p, bool end)
{
    if (p.kind != JV_STR || p.u.s->len > self.u.s->len)
        return false;
    const char *at = end ? self.u.s->s + self.u.s->len - p.u.s->len : self.u.s->s;
    return memcmp(at, p.u.s->s, p.u.s->len) == 0;
}

/* str.format: {} / {0} / {name}; format specs after ':' are ignored. */
static int str_format(struct jctx *c, struct jv self, const struct jargs *a, struct jv *out)
{
    struct jbuf b = {0};
    const char *p = self.u.s->s, *end = p + self.u.s->len;
    size_t auto_i = 0;
    int rc = 0;
    while (p < end && !rc) {
        if ((p[0] == '{' || p[0] == '}') && p + 1 < end && p[1] == p[0]) {
            jbuf_putc(&b, p[0]);
            p += 2;
            continue;
        }
        if (p[0] != '{') {
            jbuf_putc(&b, *p++);
            continue;
        }
        const char *close = memchr(p, '}', (size_t)(end - p));
        if (!close) {
            rc = jctx_fail(c, OM_EFORMAT, "jinja: format: unmatched '{'");
            break;
        }
        const char *f = p + 1, *fe = close;
        const char *colon = memchr(f, ':', (size_t)(fe - f));
        if (colon)
            fe = colon;
        struct jv v = jv_undef();
        if (fe == f)
            v = jargs_get(a, auto_i++, NULL, jv_undef());
        else if (isdigit((unsigned char)*f))
            v = jargs_get(a, (size_t)strtoul(f, NULL, 10), NULL, jv_undef());
        else
            for (size_t i = 0; i < a->nkw; i++)
                if (strlen(a->kwn[i]) == (size_t)(fe - f) && memcmp(a->kwn[i], f, (size_t)(fe - f)) == 0)
                    v = a->kwv[i];
        jv_write_str(&b, v);
        p = close + 1;
    }
    if (!rc)
        *out = jv_str(&c->ar, b.p ? b.p : "", b.len);
    jbuf_free(&b);
    return rc ? rc : jctx_mem(c);
}

static int str_method(struct jctx *c, struct jv self, const char *name, const struct jargs *a,
                      struct jv *out)
{
    struct jv a0 = jargs_get(a, 0, NULL, jv_undef());
    const struct jstr *s = self.u.s;
    if (is(name, "strip") || is(name, "lstrip") || is(name, "rstrip")) {
        *out = jinja_strip(c, self, a0.kind == JV_STR ? a0.u.s : NULL, name[0] == 's' ? 'b' : name[0]);
        return jctx_mem(c);
    }
    if (is(name, "split") || is(name, "rsplit"))
        return split(c, self, a, name[0] == 'r', out);
    if (is(name, "startswith") || is(name, "endswith")) {
        bool end = name[0] == 'e', r = false;
        if (a0.kind == JV_LIST)
            for (size_t i = 0; i < a0.u.l->n && !r; i++)
                r = affix(self, a0.u.l->v[i], end);
        else
            r = affix(self, a0, end);
        *out = jv_bool(r);
        return 0;
    }
    if (is(name, "upper") || is(name, "lower") || is(name, "capitalize"))
        return jinja_filter(c, name, self, a, out);
    if (is(name, "title")) /* Python's str.title(), not the filter */
        return jinja_filter(c, "Title", self, a, out);
    if (is(name, "replace")) {
        struct jv o = jargs_get(a, 0, NULL, jv_undef()), n = jargs_get(a, 1, NULL, jv_undef());
        struct jv cnt = jargs_get(a, 2, "count", jv_int(-1));
        if (o.kind != JV_STR || n.kind != JV_STR)
            return jctx_fail(c, OM_EFORMAT, "jinja: replace() needs two strings");
        TRY(jctx_charge(c, s->len / 16));
        *out = jinja_replace(c, self, o, n, cnt.kind == JV_INT ? cnt.u.i : -1);
        return jctx_mem(c);
    }
    if (is(name, "format"))
        return str_format(c, self, a, out);
    if (is(name, "find") || is(name, "rfind") || is(name, "index") || is(name, "count")) {
        if (a0.kind != JV_STR)
            return jctx_fail(c, OM_EFORMAT, "jinja: %s() needs a string", name);
        TRY(jctx_charge(c, s->len / 16));
        const struct jstr *sub = a0.u.s;
        int64_t pos = -1, count = 0;
        if (is(name, "count")) {
            if (!sub->len)
                count = (int64_t)jv_utf8_len(s->s, s->len) + 1;
            else
                for (size_t i = 0; i + sub->len <= s->len;) {
                    const char *h = memmem(s->s + i, s->len - i, sub->s, sub->len);
                    if (!h)
                        break;
                    count++;
                    i = (size_t)(h - s->s) + sub->len;
                }
            *out = jv_int(count);
            return 0;
        }
        if (name[0] == 'r') {
            for (size_t i = s->len + 1; i-- > 0;)
                if (i + sub->len <= s->len && memcmp(s->s + i, sub->s, sub->len) == 0) {
                    pos = (int64_t)i;
                    break;
                }
        } else {
            const char *h = sub->len ? memmem(s->s, s->len, sub->s, sub->len) : s->s;
            pos = h ? h - s->s : -1;
        }
        if (pos >= 0)
            pos = (int64_t)jv_utf8_len(s->s, (size_t)pos);
        if (pos < 0 && name[0] == 'i')
            return jctx_fail(c, OM_EFORMAT, "jinja: substring not found");
        *out = jv_int(pos);
        return 0;
    }
    if (is(name, "join")) {
        struct jargs ja = {.v = &self, .n = 1};
        return jinja_filter(c, "join", a0, &ja, out);
    }
    if (is(name, "splitlines")) {
        struct jv l = jv_list_new(&c->ar, 0);
        size_t i = 0;
        while (i < s->len) {
            size_t j = i;
            while (j < s->len && s->s[j] != '\n' && s->s[j] != '\r')
                j++;
            jv_list_push(&c->ar, l, jv_str(&c->ar, s->s + i, j - i));
            if (j < s->len && s->s[j] == '\r' && j + 1 < s->len && s->s[j + 1] == '\n')
                j++;
            i = j + 1;
        }
        *out = l;
        return jctx_mem(c);
    }
    if (is(name, "isdigit") || is(name, "isalpha") || is(name, "isalnum") || is(name, "isspace") ||
        is(name, "islower") || is(name, "isupper")) {
        bool r = s->len > 0, cased = false;
        for (size_t i = 0; i < s->len && r; i++) {
            unsigned char ch = (unsigned char)s->s[i];
            switch (name[2]) {
            case 'd': r = isdigit(ch); break;
            case 'a': r = name[4] == 'n' ? isalnum(ch) : isalpha(ch); break;
            case 's': r = isspace(ch); break;
            case 'l': r = !isupper(ch); cased |= islower(ch) != 0; break;
            case 'u': r = !islower(ch); cased |= isupper(ch) != 0; break;
            }
        }
        if (name[2] == 'l' || name[2] == 'u')
            r = r && cased;
        *out = jv_bool(r);
        return 0;
    }
    return OM_ENOTFOUND;
}

static int dict_method(struct jctx *c, struct jv self, const char *name, const struct jargs *a,
                       struct jv *out)
{
    struct jv a0 = jargs_get(a, 0, NULL, jv_undef());
    struct jdict *d = self.u.d;
    if (is(name, "items"))
        return jinja_filter(c, "items", self, a, out);
    if (is(name, "keys") || is(name, "values")) {
        struct jv l = jv_list_new(&c->ar, d->n);
        for (size_t i = 0; i < d->n; i++)
            jv_list_push(&c->ar, l, name[0] == 'k' ? d->k[i] : d->v[i]);
        *out = l;
        return jctx_mem(c);
    }
    if (is(name, "get") || is(name, "pop")) {
        struct jv def = jargs_get(a, 1, NULL, jv_none());
        for (size_t i = 0; i < d->n; i++)
            if (jv_eq(d->k[i], a0)) {
                *out = d->v[i];
                if (name[0] == 'p') {
                    memmove(d->k + i, d->k + i + 1, (d->n - i - 1) * sizeof(*d->k));
                    memmove(d->v + i, d->v + i + 1, (d->n - i - 1) * sizeof(*d->v));
                    d->n--;
                }
                return 0;
            }
        *out = def;
        return 0;
    }
    if (is(name, "update")) {
        if (a0.kind == JV_DICT)
            for (size_t i = 0; i < a0.u.d->n; i++)
                jv_dict_set(&c->ar, self, a0.u.d->k[i], a0.u.d->v[i]);
        for (size_t i = 0; i < a->nkw; i++)
            jv_dict_set(&c->ar, self, jv_cstr(&c->ar, a->kwn[i]), a->kwv[i]);
        *out = jv_none();
        return jctx_mem(c);
    }
    if (is(name, "copy")) {
        struct jv n = jv_dict_new(&c->ar, d->n);
        for (size_t i = 0; i < d->n; i++)
            jv_dict_set(&c->ar, n, d->k[i], d->v[i]);
        *out = n;
        return jctx_mem(c);
    }
    if (is(name, "setdefault")) {
        if (!jv_dict_find(self, a0, out)) {
            *out = jargs_get(a, 1, NULL, jv_none());
            jv_dict_set(&c->ar, self, a0, *out);
        }
        return jctx_mem(c);
    }
    return OM_ENOTFOUND;
}

static int list_method(struct jctx *c, struct jv self, const char *name, const struct jargs *a,
                       struct jv *out)
{
    struct jv a0 = jargs_get(a, 0, NULL, jv_undef());
    struct jlist *l = self.u.l;
    *out = jv_none();
    if (is(name, "append")) {
        jv_list_push(&c->ar, self, a0);
        return jctx_mem(c);
    }
    if (is(name, "extend")) {
        struct jv items;
        TRY(jinja_iterate(c, a0, &items));
        size_t n = items.u.l->n;
        for (size_t i = 0; i < n; i++)
            jv_list_push(&c->ar, self, items.u.l->v[i]);
        return jctx_mem(c);
    }
    if (is(name, "insert")) {
        struct jv v = jargs_get(a, 1, NULL, jv_undef());
        int64_t i = a0.kind == JV_INT ? a0.u.i : 0, n = (int64_t)l->n;
        if (i < 0)
            i = i + n < 0 ? 0 : i + n;
        if (i > n)
            i = n;
        jv_list_push(&c->ar, self, v);
        TRY(jctx_mem(c));
        memmove(l->v + i + 1, l->v + i, (size_t)(n - i) * sizeof(*l->v));
        l->v[i] = v;
        return 0;
    }
    if (is(name, "pop")) {
        int64_t n = (int64_t)l->n, i = a0.kind == JV_INT ? a0.u.i : -1;
        if (i < 0)
            i += n;
        if (i < 0 || i >= n)
            return jctx_fail(c, OM_EFORMAT, "jinja: pop index out of range");
        *out = l->v[i];
        memmove(l->v + i, l->v + i + 1, (size_t)(n - i - 1) * sizeof(*l->v));
        l->n--;
        return 0;
    }
    if (is(name, "index") || is(name, "count")) {
        int64_t cnt = 0, pos = -1;
        for (size_t i = 0; i < l->n; i++)
            if (jv_eq(l->v[i], a0)) {
                if (pos < 0)
                    pos = (int64_t)i;
                cnt++;
            }
        if (name[0] == 'i' && pos < 0)
            return jctx_fail(c, OM_EFORMAT, "jinja: value not in list");
        *out = jv_int(name[0] == 'i' ? pos : cnt);
        return 0;
    }
    if (is(name, "copy"))
        return jinja_filter(c, "list", self, a, out);
    return OM_ENOTFOUND;
}

int jinja_method(struct jctx *c, struct jv self, const char *name, const struct jargs *a,
                 struct jv *out)
{
    TRY(jctx_charge(c, 1));
    if (self.kind == JV_STR)
        return str_method(c, self, name, a, out);
    if (self.kind == JV_DICT)
        return dict_method(c, self, name, a, out);
    if (self.kind == JV_LIST)
        return list_method(c, self, name, a, out);
    return OM_ENOTFOUND;
}

int jinja_global(struct jctx *c, const char *name, const struct jargs *a, struct jv *out)
{
    TRY(jctx_charge(c, 1));
    if (is(name, "range")) {
        int64_t start = 0, stop, step = 1;
        for (size_t i = 0; i < a->n; i++)
            if (a->v[i].kind != JV_INT)
                return jctx_fail(c, OM_EFORMAT, "jinja: range() needs integers");
        if (a->n == 1)
            stop = a->v[0].u.i;
        else if (a->n == 2 || a->n == 3) {
            start = a->v[0].u.i;
            stop = a->v[1].u.i;
            if (a->n == 3)
                step = a->v[2].u.i;
        } else
            return jctx_fail(c, OM_EFORMAT, "jinja: range() takes 1 to 3 arguments");
        if (step == 0)
            return jctx_fail(c, OM_EFORMAT, "jinja: range() step must not be zero");
        double count = ((double)stop - (double)start) / (double)step;
        if (count > MAX_RANGE)
            return jctx_fail(c, OM_ERANGE, "jinja: range() larger than %d items", MAX_RANGE);
        struct jv l = jv_list_new(&c->ar, count > 0 ? (size_t)count + 1 : 0);
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
            jv_list_push(&c->ar, l, jv_int(i));
        TRY(jctx_charge(c, l.u.l->n / 8));
        *out = l;
        return jctx_mem(c);
    }
    if (is(name, "namespace") || is(name, "dict")) {
        struct jv d = jv_dict_new(&c->ar, a->nkw);
        for (size_t i = 0; i < a->n; i++)
            if (a->v[i].kind == JV_DICT)
                for (size_t k = 0; k < a->v[i].u.d->n; k++)
                    jv_dict_set(&c->ar, d, a->v[i].u.d->k[k], a->v[i].u.d->v[k]);
        for (size_t i = 0; i < a->nkw; i++)
            jv_dict_set(&c->ar, d, jv_cstr(&c->ar, a->kwn[i]), a->kwv[i]);
        d.u.d->ns = name[0] == 'n';
        *out = d;
        return jctx_mem(c);
    }
    if (is(name, "raise_exception")) {
        struct jbuf b = {0};
        jv_write_str(&b, jargs_get(a, 0, NULL, jv_undef()));
        int rc = jctx_fail(c, OM_EFORMAT, "template error: %s", b.p ? b.p : "raise_exception");
        jbuf_free(&b);
        return rc;
    }
    if (is(name, "strftime_now")) {
        struct jv f = jargs_get(a, 0, NULL, jv_undef());
        if (f.kind != JV_STR || f.u.s->len > 256)
            return jctx_fail(c, OM_EFORMAT, "jinja: strftime_now() needs a short format string");
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char buf[1024];
        size_t n = strftime(buf, sizeof(buf), f.u.s->s, &tm);
        *out = jv_str(&c->ar, buf, n);
        return jctx_mem(c);
    }
    return OM_ENOTFOUND;
}

struct jv jinja_global_value(struct jctx *c, const char *name)
{
    static const char *const names[] = {"range", "namespace", "dict", "raise_exception",
                                        "strftime_now"};
    for (size_t i = 0; i < OM_ARRAY_LEN(names); i++)
        if (is(name, names[i])) {
            struct jfunc *fu = jarena_alloc(&c->ar, sizeof(*fu));
            if (!fu)
                return jv_undef();
            memset(fu, 0, sizeof(*fu));
            fu->kind = JF_GLOBAL;
            fu->gname = names[i];
            struct jv v = {.kind = JV_FUNC};
            v.u.fn = fu;
            return v;
        }
    return jv_undef();
}
