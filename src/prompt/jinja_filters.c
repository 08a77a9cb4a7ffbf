/* prompt: Jinja filters with Jinja2's argument names and defaults
 * (e.g. sort/unique/dictsort compare strings case-insensitively unless
 * case_sensitive=true; default() replaces only undefined unless
 * boolean=true; tojson is Hugging Face's json.dumps(ensure_ascii=False)). */
#include "prompt/jinja_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

#define TRY(x) do { int rc_ = (x); if (rc_) return rc_; } while (0)

static bool is_space(unsigned char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f); }

static bool name_is(const char *name, const char *a) { return strcmp(name, a) == 0; }

static struct jv str_of(struct jctx *c, struct jv v) { return jv_to_str(&c->ar, v); }

/* ---- sorting (stable merge sort with an optional key and case folding) ---- */
struct sort_ctx {
    bool ci, rev;
    int err;
};

static int cmp_vals(struct sort_ctx *sc, struct jv a, struct jv b)
{
    int r = 0;
    if (sc->ci && a.kind == JV_STR && b.kind == JV_STR) {
        size_t n = OM_MIN(a.u.s->len, b.u.s->len);
        for (size_t i = 0; i < n && !r; i++)
            r = tolower((unsigned char)a.u.s->s[i]) - tolower((unsigned char)b.u.s->s[i]);
        if (!r)
            r = (a.u.s->len > b.u.s->len) - (a.u.s->len < b.u.s->len);
    } else if (jv_cmp(a, b, &r))
        sc->err = 1, r = (a.kind > b.kind) - (a.kind < b.kind);
    return sc->rev ? -r : r;
}

static void merge_sort(struct sort_ctx *sc, struct jv *v, struct jv *keys, struct jv *tv,
                       struct jv *tk, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(sc, v, keys, tv, tk, h);
    merge_sort(sc, v + h, keys + h, tv, tk, n - h);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n) {
        if (cmp_vals(sc, keys[j], keys[i]) < 0) {
            tv[o] = v[j];
            tk[o++] = keys[j++];
        } else {
            tv[o] = v[i];
            tk[o++] = keys[i++];
        }
    }
    while (i < h) { tv[o] = v[i]; tk[o++] = keys[i++]; }
    while (j < n) { tv[o] = v[j]; tk[o++] = keys[j++]; }
    memcpy(v, tv, n * sizeof(*v));
    memcpy(keys, tk, n * sizeof(*keys));
}

/* Attribute path "a.b" or index "0" of an item. */
static struct jv item_attr(struct jctx *c, struct jv item, struct jv attr)
{
    if (attr.kind == JV_INT) {
        struct jv out;
        if (jinja_getitem(c, item, attr, &out))
            return jv_undef();
        return out;
    }
    if (attr.kind != JV_STR)
        return jv_undef();
    const char *p = attr.u.s->s, *end = p + attr.u.s->len;
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
        if (item.kind == JV_LIST && len && isdigit((unsigned char)p[0])) {
            struct jv out;
            if (jinja_getitem(c, item, jv_int(strtoll(p, NULL, 10)), &out))
                return jv_undef();
            item = out;
        } else
            item = jinja_getattr(item, p, len);
        if (!dot)
            break;
        p = dot + 1;
    }
    return item;
}

/* pair_idx >= 0: items are (key, value) pairs sorted by that element. */
static int sorted(struct jctx *c, struct jv in, struct jv attr, bool ci, bool rev, int pair_idx,
                  struct jv *out)
{
    struct jv items;
    TRY(jinja_iterate(c, in, &items));
    size_t n = items.u.l->n;
    TRY(jctx_charge(c, n * 8));
    struct jv l = jv_list_new(&c->ar, n);
    struct jv *keys = jarena_alloc(&c->ar, (n + 1) * sizeof(struct jv) * 3);
    if (!keys || l.u.l->cap < n)
        return jctx_mem(c);
    for (size_t i = 0; i < n; i++) {
        struct jv it = items.u.l->v[i];
        jv_list_push(&c->ar, l, it);
        if (pair_idx >= 0 && it.kind == JV_LIST && it.u.l->n == 2)
            keys[i] = it.u.l->v[pair_idx];
        else
            keys[i] = attr.kind == JV_UNDEF ? it : item_attr(c, it, attr);
    }
    struct sort_ctx sc = {.ci = ci, .rev = rev};
    merge_sort(&sc, l.u.l->v, keys, keys + n, keys + 2 * n, n);
    if (sc.err)
        return jctx_fail(c, OM_EFORMAT, "jinja: sort: items of different types cannot be ordered");
    *out = l;
    return jctx_mem(c);
}

static int html_escape(struct jctx *c, struct jv in, struct jv *out)
{
    struct jv s = str_of(c, in);
    struct jbuf b = {0};
    for (size_t i = 0; i < s.u.s->len; i++) {
        char ch = s.u.s->s[i];
        switch (ch) {
        case '&': jbuf_put(&b, "&amp;", 5); break;
        case '<': jbuf_put(&b, "&lt;", 4); break;
        case '>': jbuf_put(&b, "&gt;", 4); break;
        case '"': jbuf_put(&b, "&#34;", 5); break;
        case '\'': jbuf_put(&b, "&#39;", 5); break;
        default: jbuf_putc(&b, ch);
        }
    }
    *out = jv_str(&c->ar, b.p ? b.p : "", b.len);
    jbuf_free(&b);
    return jctx_mem(c);
}

static int select_items(struct jctx *c, struct jv in, const struct jargs *a, bool attr, bool keep,
                        struct jv *out)
{
    struct jv items;
    TRY(jinja_iterate(c, in, &items));
    size_t first = attr ? 1 : 0;
    struct jv an = attr ? jargs_get(a, 0, NULL, jv_undef()) : jv_undef();
    struct jv tn = jargs_get(a, first, NULL, jv_undef());
    struct jargs ta = {0};
    if (a->n > first + 1) {
        ta.v = a->v + first + 1;
        ta.n = a->n - first - 1;
    }
    if (tn.kind != JV_UNDEF && tn.kind != JV_STR)
        return jctx_fail(c, OM_EFORMAT, "jinja: select: test name must be a string");
    struct jv l = jv_list_new(&c->ar, 0);
    for (size_t i = 0; i < items.u.l->n; i++) {
        struct jv it = items.u.l->v[i], x = attr ? item_attr(c, it, an) : it;
        bool ok;
        if (tn.kind == JV_UNDEF)
            ok = jv_truthy(x);
        else {
            int rc = jinja_test(c, tn.u.s->s, x, &ta, &ok);
            if (rc == OM_ENOTFOUND)
                return jctx_fail(c, OM_EFORMAT, "jinja: no test named '%s'", tn.u.s->s);
            TRY(rc);
        }
        if (ok == keep)
            jv_list_push(&c->ar, l, it);
    }
    *out = l;
    return jctx_mem(c);
}

static int map_items(struct jctx *c, struct jv in, const struct jargs *a, struct jv *out)
{
    struct jv items;
    TRY(jinja_iterate(c, in, &items));
    struct jv attr = jargs_get(a, SIZE_MAX, "attribute", jv_undef());
    struct jv def = jargs_get(a, SIZE_MAX, "default", jv_undef());
    struct jv fname = jargs_get(a, 0, NULL, jv_undef());
    struct jargs fa = {0};
    if (a->n > 1) {
        fa.v = a->v + 1;
        fa.n = a->n - 1;
    }
    struct jv l = jv_list_new(&c->ar, items.u.l->n);
    for (size_t i = 0; i < items.u.l->n; i++) {
        struct jv it = items.u.l->v[i], r;
        if (attr.kind != JV_UNDEF) {
            r = item_attr(c, it, attr);
            if (r.kind == JV_UNDEF)
                r = def;
        } else if (fname.kind == JV_STR) {
            int rc = jinja_filter(c, fname.u.s->s, it, &fa, &r);
            if (rc == OM_ENOTFOUND)
                return jctx_fail(c, OM_EFORMAT, "jinja: no filter named '%s'", fname.u.s->s);
            TRY(rc);
        } else
            return jctx_fail(c, OM_EFORMAT, "jinja: map needs a filter name or attribute=");
        jv_list_push(&c->ar, l, r);
    }
    *out = l;
    return jctx_mem(c);
}

static int to_int(struct jv v, struct jv def, struct jv *out)
{
    if (v.kind == JV_INT) *out = v;
    else if (v.kind == JV_BOOL) *out = jv_int(v.u.b);
    else if (v.kind == JV_FLOAT && isfinite(v.u.f) && fabs(v.u.f) < 9.2e18) *out = jv_int((int64_t)v.u.f);
    else if (v.kind == JV_STR) {
        char *end;
        const char *s = v.u.s->s;
        long long x = strtoll(s, &end, 10);
        while (*end && is_space((unsigned char)*end))
            end++;
        if (end != s && !*end)
            *out = jv_int(x);
        else {
            double d = strtod(s, &end);
            while (*end && is_space((unsigned char)*end))
                end++;
            *out = end != s && !*end && isfinite(d) && fabs(d) < 9.2e18 ? jv_int((int64_t)d) : def;
        }
    } else
        *out = def;
    return 0;
}


static int f_round(struct jctx *c, struct jv in, const struct jargs *a, struct jv *out)
{
    if (!jv_is_num(in))
        return jctx_fail(c, OM_EFORMAT, "jinja: round expects a number");
    struct jv pv = jargs_get(a, 0, "precision", jv_int(0));
    struct jv mv = jargs_get(a, 1, "method", jv_undef());
    int64_t prec = pv.kind == JV_INT ? pv.u.i : 0;
    if (prec < -20 || prec > 20)
        prec = prec < 0 ? -20 : 20;
    double x = jv_num(in), m = pow(10.0, (double)prec), r;
    const char *method = mv.kind == JV_STR ? mv.u.s->s : "common";
    if (strcmp(method, "floor") == 0)
        r = floor(x * m) / m;
    else if (strcmp(method, "ceil") == 0)
        r = ceil(x * m) / m;
    else if (in.kind != JV_FLOAT) { /* Python round(int, n) stays an int */
        *out = jv_int(in.kind == JV_INT ? in.u.i : in.u.b);
        return 0;
    } else if (prec >= 0 && isfinite(x)) {
        /* Python round(): the exact binary value correctly rounded, ties to
         * even, which is what printf does (2.675 -> 2.67) */
        char buf[400];
        snprintf(buf, sizeof(buf), "%.*f", (int)prec, x);
        r = strtod(buf, NULL);
    } else
        r = nearbyint(x * m) / m;
    *out = jv_float(r);
    return 0;
}

static int f_indent(struct jctx *c, struct jv in, const struct jargs *a, struct jv *out)
{
    struct jv s = str_of(c, in);
    struct jv w = jargs_get(a, 0, "width", jv_int(4));
    bool first = jv_truthy(jargs_get(a, 1, "first", jv_bool(false)));
    bool blank = jv_truthy(jargs_get(a, 2, "blank", jv_bool(false)));
    struct jv pad;
    if (w.kind == JV_STR)
        pad = w;
    else {
        int64_t n = w.kind == JV_INT ? w.u.i : 4;
        n = n < 0 ? 0 : n > 256 ? 256 : n;
        char sp[257];
        memset(sp, ' ', (size_t)n);
        pad = jv_str(&c->ar, sp, (size_t)n);
    }
    struct jbuf b = {0};
    const char *p = s.u.s->s, *end = p + s.u.s->len;
    bool line0 = true;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if ((line0 ? first : true) && (len || blank) && !(line0 && !first))
            jbuf_put(&b, pad.u.s->s, pad.u.s->len);
        jbuf_put(&b, p, len);
        if (!nl)
            break;
        jbuf_putc(&b, '\n');
        p = nl + 1;
        line0 = false;
    }
    *out = jv_str(&c->ar, b.p ? b.p : "", b.len);
    jbuf_free(&b);
    return jctx_mem(c);
}

static int f_join(struct jctx *c, struct jv in, const struct jargs *a, struct jv *out)
{
    struct jv items;
    TRY(jinja_iterate(c, in, &items));
    struct jv d = jargs_get(a, 0, "d", jv_undef());
    struct jv attr = jargs_get(a, 1, "attribute", jv_undef());
    struct jv sep = d.kind == JV_UNDEF ? jv_str(&c->ar, "", 0) : str_of(c, d);
    struct jbuf b = {0};
    for (size_t i = 0; i < items.u.l->n; i++) {
        if (i)
            jbuf_put(&b, sep.u.s->s, sep.u.s->len);
        struct jv it = items.u.l->v[i];
        jv_write_str(&b, attr.kind == JV_UNDEF ? it : item_attr(c, it, attr));
    }
    *out = jv_str(&c->ar, b.p ? b.p : "", b.len);
    if (b.over)
        c->ar.over = true;
    jbuf_free(&b);
    return jctx_mem(c);
}

static int f_tojson(struct jctx *c, struct jv in, const struct jargs *a, struct jv *out)
{
    struct jv iv = jargs_get(a, 0, "indent", jv_none());
    bool sk = jv_truthy(jargs_get(a, SIZE_MAX, "sort_keys", jv_bool(false)));
    int indent = iv.kind == JV_INT ? (int)OM_MAX(0, OM_MIN(iv.u.i, 64)) : -1;
    struct jbuf b = {0};
    jv_write_json(&b, in, indent, sk, 0);
    *out = jv_str(&c->ar, b.p ? b.p : "", b.len);
    if (b.over)
        c->ar.over = true;
    TRY(jctx_charge(c, b.len / 64));
    jbuf_free(&b);
    return jctx_mem(c);
}

static int f_unique(struct jctx *c, struct jv in, const struct jargs *a, struct jv *out)
{
    struct jv items;
    TRY(jinja_iterate(c, in, &items));
    bool cs = jv_truthy(jargs_get(a, 0, "case_sensitive", jv_bool(false)));
    struct jv attr = jargs_get(a, 1, "attribute", jv_undef());
    struct jv l = jv_list_new(&c->ar, 0), seen = jv_list_new(&c->ar, 0);
    TRY(jctx_charge(c, items.u.l->n * items.u.l->n / 16));
    for (size_t i = 0; i < items.u.l->n; i++) {
        struct jv it = items.u.l->v[i], k = attr.kind == JV_UNDEF ? it : item_attr(c, it, attr);
        if (!cs && k.kind == JV_STR)
            k = jinja_recase(c, k, 'l');
        bool dup = false;
        for (size_t j = 0; j < seen.u.l->n && !dup; j++)
            dup = jv_eq(seen.u.l->v[j], k);
        if (!dup) {
            jv_list_push(&c->ar, seen, k);
            jv_list_push(&c->ar, l, it);
        }
    }
    *out = l;
    return jctx_mem(c);
}

static int f_minmax(struct jctx *c, struct jv in, const struct jargs *a, bool max, struct jv *out)
{
    struct jv items;
    TRY(jinja_iterate(c, in, &items));
    bool cs = jv_truthy(jargs_get(a, 0, "case_sensitive", jv_bool(false)));
    struct jv attr = jargs_get(a, 1, "attribute", jv_undef());
    *out = jv_undef();
    struct sort_ctx sc = {.ci = !cs};
    struct jv best = jv_undef();
    for (size_t i = 0; i < items.u.l->n; i++) {
        struct jv it = items.u.l->v[i], k = attr.kind == JV_UNDEF ? it : item_attr(c, it, attr);
        int r = i ? cmp_vals(&sc, k, best) : 0;
        if (i == 0 || (max ? r > 0 : r < 0)) {
            best = k;
            *out = it;
        }
    }
    if (sc.err)
        return jctx_fail(c, OM_EFORMAT, "jinja: %s: items of different types cannot be ordered",
                         max ? "max" : "min");
    return 0;
}

int jinja_filter(struct jctx *c, const char *name, struct jv in, const struct jargs *a,
                 struct jv *out)
{
    TRY(jctx_charge(c, 1));
    struct jv x;
    if (in.kind == JV_STR && (name_is(name, "safe") || name_is(name, "string"))) {
        *out = in;
        return 0;
    }
    if (name_is(name, "safe")) { /* Markup(str(x)) */
        *out = str_of(c, in);
        return jctx_mem(c);
    }
    if (name_is(name, "string") || name_is(name, "pprint")) {
        if (name_is(name, "pprint")) {
            struct jbuf b = {0};
            jv_write_repr(&b, in);
            *out = jv_str(&c->ar, b.p ? b.p : "", b.len);
            jbuf_free(&b);
        } else
            *out = str_of(c, in);
        return jctx_mem(c);
    }
    if (name_is(name, "trim")) {
        struct jv ch = jargs_get(a, 0, "chars", jv_none());
        *out = jinja_strip(c, str_of(c, in), ch.kind == JV_STR ? ch.u.s : NULL, 'b');
        return jctx_mem(c);
    }
    if (name_is(name, "length") || name_is(name, "count")) {
        if (in.kind == JV_STR)
            *out = jv_int((int64_t)jv_utf8_len(in.u.s->s, in.u.s->len));
        else if (in.kind == JV_LIST)
            *out = jv_int((int64_t)in.u.l->n);
        else if (in.kind == JV_DICT)
            *out = jv_int((int64_t)in.u.d->n);
        else if (in.kind == JV_UNDEF)
            *out = jv_int(0);
        else
            return jctx_fail(c, OM_EFORMAT, "jinja: object of type '%s' has no len()", jv_kind_name(in));
        return 0;
    }
    if (name_is(name, "upper") || name_is(name, "lower") || name_is(name, "title") ||
        name_is(name, "Title") || name_is(name, "capitalize")) {
        *out = jinja_recase(c, in, name[0] == 'u' ? 'u' : name[0] == 'l' ? 'l' : name[0] == 't' ? 't'
                             : name[0] == 'T' ? 'T' : 'c');
        return jctx_mem(c);
    }
    if (name_is(name, "default") || name_is(name, "d")) {
        bool boolean = jv_truthy(jargs_get(a, 1, "boolean", jv_bool(false)));
        bool use = in.kind == JV_UNDEF || (boolean && !jv_truthy(in));
        *out = use ? jargs_get(a, 0, "default_value", jv_str(&c->ar, "", 0)) : in;
        return jctx_mem(c);
    }
    if (name_is(name, "join"))
        return f_join(c, in, a, out);
    if (name_is(name, "replace")) {
        struct jv o = jargs_get(a, 0, "old", jv_undef()), n = jargs_get(a, 1, "new", jv_undef());
        struct jv cnt = jargs_get(a, 2, "count", jv_none());
        if (o.kind == JV_UNDEF || n.kind == JV_UNDEF)
            return jctx_fail(c, OM_EFORMAT, "jinja: replace needs old and new");
        struct jv s = str_of(c, in);
        TRY(jctx_charge(c, s.u.s->len / 16));
        *out = jinja_replace(c, s, str_of(c, o), str_of(c, n), cnt.kind == JV_INT ? cnt.u.i : -1);
        return jctx_mem(c);
    }
    if (name_is(name, "tojson"))
        return f_tojson(c, in, a, out);
    if (name_is(name, "int"))
        return to_int(in, jargs_get(a, 0, "default", jv_int(0)), out);
    if (name_is(name, "float")) {
        struct jv def = jargs_get(a, 0, "default", jv_float(0.0));
        if (jv_is_num(in))
            *out = jv_float(jv_num(in));
        else if (in.kind == JV_STR) {
            char *end;
            double d = strtod(in.u.s->s, &end);
            *out = end != in.u.s->s && !*end ? jv_float(d) : def;
        } else
            *out = def;
        return 0;
    }
    if (name_is(name, "list")) {
        TRY(jinja_iterate(c, in, &x));
        struct jv l = jv_list_new(&c->ar, x.u.l->n);
        for (size_t i = 0; i < x.u.l->n; i++)
            jv_list_push(&c->ar, l, x.u.l->v[i]);
        *out = l;
        return jctx_mem(c);
    }
    if (name_is(name, "first") || name_is(name, "last")) {
        TRY(jinja_iterate(c, in, &x));
        *out = x.u.l->n ? x.u.l->v[name[0] == 'f' ? 0 : x.u.l->n - 1] : jv_undef();
        return 0;
    }
    if (name_is(name, "reverse")) {
        TRY(jinja_iterate(c, in, &x));
        size_t n = x.u.l->n;
        if (in.kind == JV_STR) {
            struct jbuf b = {0};
            for (size_t i = n; i-- > 0;)
                jv_write_str(&b, x.u.l->v[i]);
            *out = jv_str(&c->ar, b.p ? b.p : "", b.len);
            jbuf_free(&b);
        } else {
            struct jv l = jv_list_new(&c->ar, n);
            for (size_t i = n; i-- > 0;)
                jv_list_push(&c->ar, l, x.u.l->v[i]);
            *out = l;
        }
        return jctx_mem(c);
    }
    if (name_is(name, "sort"))
        return sorted(c, in, jargs_get(a, 2, "attribute", jv_undef()),
                      !jv_truthy(jargs_get(a, 1, "case_sensitive", jv_bool(false))),
                      jv_truthy(jargs_get(a, 0, "reverse", jv_bool(false))), -1, out);
    if (name_is(name, "dictsort") || name_is(name, "items")) {
        if (in.kind == JV_UNDEF) {
            *out = jv_list_new(&c->ar, 0);
            return jctx_mem(c);
        }
        if (in.kind != JV_DICT)
            return jctx_fail(c, OM_EFORMAT, "jinja: %s expects a mapping", name);
        struct jv l = jv_list_new(&c->ar, in.u.d->n);
        for (size_t i = 0; i < in.u.d->n; i++) {
            struct jv p = jv_list_new(&c->ar, 2);
            jv_list_push(&c->ar, p, in.u.d->k[i]);
            jv_list_push(&c->ar, p, in.u.d->v[i]);
            p.u.l->tuple = true;
            jv_list_push(&c->ar, l, p);
        }
        if (name[0] == 'i') {
            *out = l;
            return jctx_mem(c);
        }
        struct jv by = jargs_get(a, 1, "by", jv_undef());
        return sorted(c, l, jv_undef(), !jv_truthy(jargs_get(a, 0, "case_sensitive", jv_bool(false))),
                      jv_truthy(jargs_get(a, 2, "reverse", jv_bool(false))),
                      by.kind == JV_STR && strcmp(by.u.s->s, "value") == 0 ? 1 : 0, out);
    }
    if (name_is(name, "map"))
        return map_items(c, in, a, out);
    if (name_is(name, "select") || name_is(name, "reject"))
        return select_items(c, in, a, false, name[0] == 's', out);
    if (name_is(name, "selectattr") || name_is(name, "rejectattr"))
        return select_items(c, in, a, true, name[0] == 's', out);
    if (name_is(name, "e") || name_is(name, "escape") || name_is(name, "forceescape"))
        return html_escape(c, in, out);
    if (name_is(name, "striptags")) {
        struct jv s = str_of(c, in);
        struct jbuf b = {0};
        bool tag = false, sp = false;
        for (size_t i = 0; i < s.u.s->len; i++) {
            char ch = s.u.s->s[i];
            if (tag) {
                tag = ch != '>';
                continue;
            }
            if (ch == '<') {
                tag = true;
                continue;
            }
            if (is_space((unsigned char)ch)) {
                sp = b.len > 0;
                continue;
            }
            if (sp)
                jbuf_putc(&b, ' ');
            sp = false;
            jbuf_putc(&b, ch);
        }
        *out = jv_str(&c->ar, b.p ? b.p : "", b.len);
        jbuf_free(&b);
        return jctx_mem(c);
    }
    if (name_is(name, "round"))
        return f_round(c, in, a, out);
    if (name_is(name, "abs")) {
        if (!jv_is_num(in))
            return jctx_fail(c, OM_EFORMAT, "jinja: abs expects a number");
        *out = in.kind == JV_FLOAT ? jv_float(fabs(in.u.f))
             : jv_int(in.kind == JV_INT ? (in.u.i < 0 && in.u.i != INT64_MIN ? -in.u.i : in.u.i) : in.u.b);
        return 0;
    }
    if (name_is(name, "unique"))
        return f_unique(c, in, a, out);
    if (name_is(name, "min") || name_is(name, "max"))
        return f_minmax(c, in, a, name[1] == 'a', out);
    if (name_is(name, "wordcount")) {
        struct jv s = str_of(c, in);
        int64_t n = 0;
        bool inw = false;
        for (size_t i = 0; i < s.u.s->len; i++) {
            unsigned char ch = (unsigned char)s.u.s->s[i];
            bool w = isalnum(ch) || ch == '_' || ch >= 0x80;
            n += w && !inw;
            inw = w;
        }
        *out = jv_int(n);
        return 0;
    }
    if (name_is(name, "indent"))
        return f_indent(c, in, a, out);
    if (name_is(name, "format"))
        return jinja_pformat(c, in, a, out);
    if (name_is(name, "sum")) {
        TRY(jinja_iterate(c, in, &x));
        struct jv attr = jargs_get(a, 0, "attribute", jv_undef());
        struct jv acc = jargs_get(a, 1, "start", jv_int(0));
        for (size_t i = 0; i < x.u.l->n; i++) {
            struct jv it = attr.kind == JV_UNDEF ? x.u.l->v[i] : item_attr(c, x.u.l->v[i], attr);
            if (!jv_is_num(it) || !jv_is_num(acc))
                return jctx_fail(c, OM_EFORMAT, "jinja: sum of non-numbers");
            acc = acc.kind == JV_FLOAT || it.kind == JV_FLOAT ? jv_float(jv_num(acc) + jv_num(it))
                                                             : jv_int((int64_t)jv_num(acc) + (int64_t)jv_num(it));
        }
        *out = acc;
        return 0;
    }
    if (name_is(name, "attr")) {
        struct jv n = jargs_get(a, 0, "name", jv_undef());
        *out = n.kind == JV_STR ? jinja_getattr(in, n.u.s->s, n.u.s->len) : jv_undef();
        return 0;
    }
    if (name_is(name, "center")) {
        struct jv s = str_of(c, in);
        struct jv w = jargs_get(a, 0, "width", jv_int(80));
        int64_t width = w.kind == JV_INT ? OM_MIN(w.u.i, 4096) : 80;
        int64_t len = (int64_t)jv_utf8_len(s.u.s->s, s.u.s->len);
        if (len >= width) {
            *out = s;
            return 0;
        }
        int64_t left = (width - len) / 2 + ((width - len) & width & 1), right = width - len - left;
        struct jbuf b = {0};
        for (int64_t i = 0; i < left; i++) jbuf_putc(&b, ' ');
        jbuf_put(&b, s.u.s->s, s.u.s->len);
        for (int64_t i = 0; i < right; i++) jbuf_putc(&b, ' ');
        *out = jv_str(&c->ar, b.p, b.len);
        jbuf_free(&b);
        return jctx_mem(c);
    }
    return OM_ENOTFOUND;
}
