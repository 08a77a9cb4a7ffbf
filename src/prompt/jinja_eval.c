/* prompt: Jinja expression evaluator — names through the frame chain,
 * attributes and items (missing ones are undefined, as with Jinja's default
 * Undefined), slicing on code points, Python arithmetic and comparisons,
 * short-circuit and/or returning an operand, calls of macros, methods and
 * globals, filters and tests.
 *
 * Every evaluation counts one step and one level of depth; the context's
 * limits turn runaway templates into errors. */
#include "prompt/jinja_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

#define TRY(x) do { int rc_ = (x); if (rc_) return rc_; } while (0)

int jctx_fail(struct jctx *c, int rc, const char *fmt, ...)
{
    if (c->err && c->errlen && !c->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int jctx_charge(struct jctx *c, uint64_t n)
{
    c->steps += n;
    if (c->steps > JINJA_MAX_STEPS)
        return jctx_fail(c, OM_ERANGE, "jinja: template exceeded %llu evaluation steps",
                         (unsigned long long)JINJA_MAX_STEPS);
    return 0;
}

int jctx_mem(struct jctx *c)
{
    if (c->ar.over)
        return jctx_fail(c, OM_ENOMEM, "jinja: template used too much memory");
    if (c->out && c->out->over)
        return jctx_fail(c, OM_ENOMEM, "jinja: output larger than %u bytes", JINJA_MAX_OUTPUT);
    return 0;
}

struct jv jargs_get(const struct jargs *a, size_t pos, const char *kw, struct jv def)
{
    if (kw)
        for (size_t i = 0; i < a->nkw; i++)
            if (strcmp(a->kwn[i], kw) == 0)
                return a->kwv[i];
    if (pos < a->n)
        return a->v[pos];
    return def;
}

static struct jv lookup(struct jframe *f, const char *name, size_t len)
{
    for (; f; f = f->parent) {
        const struct jdict *d = f->vars.u.d;
        for (size_t i = 0; i < d->n; i++)
            if (d->k[i].u.s->len == len && memcmp(d->k[i].u.s->s, name, len) == 0)
                return d->v[i];
    }
    return jv_undef();
}

struct jv jinja_getattr(struct jv obj, const char *name, size_t len)
{
    if (obj.kind == JV_DICT)
        return jv_dict_get(obj, name, len);
    return jv_undef();
}

int jinja_getitem(struct jctx *c, struct jv obj, struct jv key, struct jv *out)
{
    *out = jv_undef();
    if (obj.kind == JV_DICT) {
        jv_dict_find(obj, key, out);
        return 0;
    }
    if ((obj.kind == JV_LIST || obj.kind == JV_STR) && (key.kind == JV_INT || key.kind == JV_BOOL)) {
        int64_t i = key.kind == JV_INT ? key.u.i : key.u.b;
        if (obj.kind == JV_LIST) {
            int64_t n = (int64_t)obj.u.l->n;
            if (i < 0)
                i += n;
            if (i >= 0 && i < n)
                *out = obj.u.l->v[i];
            return 0;
        }
        const struct jstr *s = obj.u.s;
        TRY(jctx_charge(c, s->len / 64));
        int64_t n = (int64_t)jv_utf8_len(s->s, s->len);
        if (i < 0)
            i += n;
        if (i >= 0 && i < n) {
            size_t a = jv_utf8_off(s->s, s->len, (size_t)i), b = jv_utf8_off(s->s, s->len, (size_t)i + 1);
            *out = jv_str(&c->ar, s->s + a, b - a);
        }
        return 0;
    }
    return 0; /* anything else: undefined, as Jinja's failed lookups */
}

int jinja_iterate(struct jctx *c, struct jv v, struct jv *out)
{
    switch (v.kind) {
    case JV_LIST: *out = v; return 0;
    case JV_UNDEF: *out = jv_list_new(&c->ar, 0); return 0; /* Jinja's Undefined iterates empty */
    case JV_DICT: {
        struct jv l = jv_list_new(&c->ar, v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++)
            jv_list_push(&c->ar, l, v.u.d->k[i]);
        *out = l;
        return jctx_mem(c);
    }
    case JV_STR: {
        const struct jstr *s = v.u.s;
        TRY(jctx_charge(c, s->len));
        struct jv l = jv_list_new(&c->ar, s->len);
        for (size_t i = 0; i < s->len;) {
            size_t j = i + 1;
            while (j < s->len && ((unsigned char)s->s[j] & 0xC0) == 0x80)
                j++;
            jv_list_push(&c->ar, l, jv_str(&c->ar, s->s + i, j - i));
            i = j;
        }
        *out = l;
        return jctx_mem(c);
    }
    default:
        return jctx_fail(c, OM_EFORMAT, "jinja: '%s' object is not iterable", jv_kind_name(v));
    }
}

/* Python slice of a list or string (indices in code points for strings). */
static int slice(struct jctx *c, struct jv obj, struct jv start, struct jv stop, struct jv step,
                 struct jv *out)
{
    if (obj.kind == JV_UNDEF || obj.kind == JV_NONE) {
        *out = jv_undef();
        return 0;
    }
    if (obj.kind != JV_LIST && obj.kind != JV_STR)
        return jctx_fail(c, OM_EFORMAT, "jinja: cannot slice a '%s'", jv_kind_name(obj));
    for (int k = 0; k < 3; k++) {
        struct jv x = k == 0 ? start : k == 1 ? stop : step;
        if (x.kind != JV_UNDEF && x.kind != JV_NONE && x.kind != JV_INT)
            return jctx_fail(c, OM_EFORMAT, "jinja: slice indices must be integers");
    }
    bool isstr = obj.kind == JV_STR;
    if (isstr)
        TRY(jctx_charge(c, obj.u.s->len / 16));
    int64_t n = isstr ? (int64_t)jv_utf8_len(obj.u.s->s, obj.u.s->len) : (int64_t)obj.u.l->n;
    int64_t st = step.kind == JV_INT ? step.u.i : 1;
    if (st == 0)
        return jctx_fail(c, OM_EFORMAT, "jinja: slice step cannot be zero");
    int64_t lo, hi;
    if (st > 0) {
        lo = start.kind == JV_INT ? start.u.i : 0;
        hi = stop.kind == JV_INT ? stop.u.i : n;
        if (lo < 0) lo = lo + n < 0 ? 0 : lo + n;
        if (hi < 0) hi = hi + n < 0 ? 0 : hi + n;
        if (lo > n) lo = n;
        if (hi > n) hi = n;
    } else {
        lo = start.kind == JV_INT ? start.u.i : n - 1;
        hi = stop.kind == JV_INT ? stop.u.i : -n - 1;
        if (lo < 0) lo = lo + n < -1 ? -1 : lo + n;
        if (start.kind == JV_INT && lo >= n) lo = n - 1;
        if (stop.kind == JV_INT && hi < 0) hi = hi + n < -1 ? -1 : hi + n;
        else if (stop.kind != JV_INT) hi = -1;
        if (hi >= n) hi = n - 1;
    }
    if (isstr && st == 1) {
        const struct jstr *s = obj.u.s;
        if (hi <= lo) {
            *out = jv_str(&c->ar, "", 0);
            return 0;
        }
        size_t a = jv_utf8_off(s->s, s->len, (size_t)lo), b = jv_utf8_off(s->s, s->len, (size_t)hi);
        *out = jv_str(&c->ar, s->s + a, b - a);
        return jctx_mem(c);
    }
    struct jv items;
    if (isstr)
        TRY(jinja_iterate(c, obj, &items));
    else
        items = obj;
    struct jv l = jv_list_new(&c->ar, 0);
    for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st)
        jv_list_push(&c->ar, l, items.u.l->v[i]);
    TRY(jctx_mem(c));
    if (!isstr) {
        *out = l;
        return 0;
    }
    struct jbuf b = {0};
    for (size_t i = 0; i < l.u.l->n; i++)
        jv_write_str(&b, l.u.l->v[i]);
    *out = jv_str(&c->ar, b.p ? b.p : "", b.len);
    jbuf_free(&b);
    return jctx_mem(c);
}

static int arith_int(struct jctx *c, int op, int64_t a, int64_t b, struct jv *out)
{
    int64_t r;
    switch (op) {
    case OP_ADD:
        if (__builtin_add_overflow(a, b, &r)) goto big;
        break;
    case OP_SUB:
        if (__builtin_sub_overflow(a, b, &r)) goto big;
        break;
    case OP_MUL:
        if (__builtin_mul_overflow(a, b, &r)) goto big;
        break;
    case OP_FLOORDIV:
    case OP_MOD:
        if (b == 0)
            return jctx_fail(c, OM_EFORMAT, "jinja: division by zero");
        if (a == INT64_MIN && b == -1) goto big;
        r = op == OP_FLOORDIV ? a / b : a % b;
        if (op == OP_FLOORDIV && (a % b != 0) && ((a < 0) != (b < 0)))
            r--;
        if (op == OP_MOD && r != 0 && ((r < 0) != (b < 0)))
            r += b;
        break;
    case OP_POW: {
        if (b < 0) {
            *out = jv_float(pow((double)a, (double)b));
            return 0;
        }
        r = 1;
        for (int64_t i = 0; i < b; i++) {
            if (__builtin_mul_overflow(r, a, &r)) goto big;
            if (r == 0 || r == 1) break;
            if (r == -1) { r = (b - i - 1) % 2 ? -r : r; break; }
        }
        break;
    }
    default:
        return OM_EINVAL;
    }
    *out = jv_int(r);
    return 0;
big:
    return jctx_fail(c, OM_ERANGE, "jinja: integer overflow");
}

static int binop(struct jctx *c, int op, struct jv a, struct jv b, struct jv *out)
{
    if (op == OP_CONCAT) {
        struct jv sa = jv_to_str(&c->ar, a), sb = jv_to_str(&c->ar, b);
        size_t n = sa.u.s->len + sb.u.s->len;
        if (n > JINJA_MAX_OUTPUT)
            return jctx_fail(c, OM_ENOMEM, "jinja: string too long");
        char *p = jarena_alloc(&c->ar, n + 1);
        if (!p)
            return jctx_mem(c);
        memcpy(p, sa.u.s->s, sa.u.s->len);
        memcpy(p + sa.u.s->len, sb.u.s->s, sb.u.s->len);
        *out = jv_str(&c->ar, p, n);
        TRY(jctx_charge(c, n / 64));
        return jctx_mem(c);
    }
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.kind != JV_FLOAT && b.kind != JV_FLOAT && op != OP_DIV)
            return arith_int(c, op, a.kind == JV_INT ? a.u.i : a.u.b, b.kind == JV_INT ? b.u.i : b.u.b, out);
        double x = jv_num(a), y = jv_num(b), r;
        switch (op) {
        case OP_ADD: r = x + y; break;
        case OP_SUB: r = x - y; break;
        case OP_MUL: r = x * y; break;
        case OP_DIV:
            if (y == 0)
                return jctx_fail(c, OM_EFORMAT, "jinja: division by zero");
            r = x / y;
            break;
        case OP_FLOORDIV:
            if (y == 0)
                return jctx_fail(c, OM_EFORMAT, "jinja: division by zero");
            r = floor(x / y);
            break;
        case OP_MOD:
            if (y == 0)
                return jctx_fail(c, OM_EFORMAT, "jinja: division by zero");
            r = fmod(x, y);
            if (r != 0 && ((r < 0) != (y < 0)))
                r += y;
            break;
        case OP_POW: r = pow(x, y); break;
        default: return OM_EINVAL;
        }
        *out = jv_float(r);
        return 0;
    }
    if (op == OP_ADD && a.kind == JV_STR && b.kind == JV_STR)
        return binop(c, OP_CONCAT, a, b, out);
    if (op == OP_ADD && a.kind == JV_LIST && b.kind == JV_LIST) {
        struct jv l = jv_list_new(&c->ar, a.u.l->n + b.u.l->n);
        for (size_t i = 0; i < a.u.l->n; i++)
            jv_list_push(&c->ar, l, a.u.l->v[i]);
        for (size_t i = 0; i < b.u.l->n; i++)
            jv_list_push(&c->ar, l, b.u.l->v[i]);
        TRY(jctx_charge(c, l.u.l->n / 8));
        *out = l;
        return jctx_mem(c);
    }
    if (op == OP_MUL && (a.kind == JV_INT || a.kind == JV_BOOL) && (b.kind == JV_STR || b.kind == JV_LIST))
        return binop(c, op, b, a, out); /* 3 * 'ab' */
    if (op == OP_MUL && (a.kind == JV_STR || a.kind == JV_LIST) && (b.kind == JV_INT || b.kind == JV_BOOL)) {
        int64_t k = b.kind == JV_BOOL ? b.u.b : b.u.i < 0 ? 0 : b.u.i;
        size_t unit = a.kind == JV_STR ? a.u.s->len : a.u.l->n * sizeof(struct jv);
        if (unit && (uint64_t)k > JINJA_MAX_OUTPUT / unit)
            return jctx_fail(c, OM_ENOMEM, "jinja: repetition too large");
        TRY(jctx_charge(c, (uint64_t)k * (unit / 64 + 1)));
        if (a.kind == JV_STR) {
            struct jbuf buf = {0};
            for (int64_t i = 0; i < k; i++)
                jbuf_put(&buf, a.u.s->s, a.u.s->len);
            *out = jv_str(&c->ar, buf.p ? buf.p : "", buf.len);
            jbuf_free(&buf);
        } else {
            struct jv l = jv_list_new(&c->ar, 0);
            for (int64_t i = 0; i < k; i++)
                for (size_t j = 0; j < a.u.l->n; j++)
                    jv_list_push(&c->ar, l, a.u.l->v[j]);
            *out = l;
        }
        return jctx_mem(c);
    }
    if (op == OP_MOD && a.kind == JV_STR) { /* "%s" % x: printf-style via the format filter */
        struct jargs fa = {0};
        struct jv one[1] = {b};
        if (b.kind == JV_LIST && b.u.l->tuple) {
            fa.v = b.u.l->v;
            fa.n = b.u.l->n;
        } else {
            fa.v = one;
            fa.n = 1;
        }
        return jinja_filter(c, "format", a, &fa, out);
    }
    static const char *opn[] = {"+", "-", "*", "/", "//", "%", "**", "~"};
    return jctx_fail(c, OM_EFORMAT, "jinja: unsupported operand types for %s: '%s' and '%s'",
                     opn[op], jv_kind_name(a), jv_kind_name(b));
}

static int contains(struct jctx *c, struct jv item, struct jv coll, bool *out)
{
    *out = false;
    switch (coll.kind) {
    case JV_STR:
        if (item.kind != JV_STR)
            return jctx_fail(c, OM_EFORMAT, "jinja: 'in <string>' requires string as left operand");
        TRY(jctx_charge(c, coll.u.s->len / 16));
        *out = item.u.s->len == 0 ||
               memmem(coll.u.s->s, coll.u.s->len, item.u.s->s, item.u.s->len) != NULL;
        return 0;
    case JV_LIST:
        TRY(jctx_charge(c, coll.u.l->n));
        for (size_t i = 0; i < coll.u.l->n && !*out; i++)
            *out = jv_eq(item, coll.u.l->v[i]);
        return 0;
    case JV_DICT:
        TRY(jctx_charge(c, coll.u.d->n));
        *out = jv_dict_find(coll, item, NULL);
        return 0;
    case JV_UNDEF: return 0;
    default:
        return jctx_fail(c, OM_EFORMAT, "jinja: argument of type '%s' is not iterable",
                         jv_kind_name(coll));
    }
}

static int compare(struct jctx *c, int op, struct jv a, struct jv b, bool *out)
{
    int cmp;
    switch (op) {
    case OP_EQ: *out = jv_eq(a, b); return 0;
    case OP_NE: *out = !jv_eq(a, b); return 0;
    case OP_IN: return contains(c, a, b, out);
    case OP_NOTIN: TRY(contains(c, a, b, out)); *out = !*out; return 0;
    default:
        if (jv_cmp(a, b, &cmp))
            return jctx_fail(c, OM_EFORMAT, "jinja: '%s' not supported between '%s' and '%s'",
                             op == OP_LT ? "<" : op == OP_LE ? "<=" : op == OP_GT ? ">" : ">=",
                             jv_kind_name(a), jv_kind_name(b));
        *out = op == OP_LT ? cmp < 0 : op == OP_LE ? cmp <= 0 : op == OP_GT ? cmp > 0 : cmp >= 0;
        return 0;
    }
}

static int eval_args(struct jctx *c, struct jframe *f, const struct jnode *e, struct jargs *a)
{
    memset(a, 0, sizeof(*a));
    size_t n = e->n_kids + e->n_kw;
    struct jv *vals = n ? jarena_alloc(&c->ar, n * sizeof(*vals)) : NULL;
    if (n && !vals)
        return jctx_mem(c);
    for (size_t i = 0; i < e->n_kids; i++)
        TRY(jinja_eval(c, f, e->kids[i], &vals[i]));
    for (size_t i = 0; i < e->n_kw; i++)
        TRY(jinja_eval(c, f, e->kids2[i], &vals[e->n_kids + i]));
    a->v = vals;
    a->n = e->n_kids;
    a->kwn = e->kw;
    a->kwv = vals ? vals + e->n_kids : NULL;
    a->nkw = e->n_kw;
    return 0;
}

static int eval_call(struct jctx *c, struct jframe *f, const struct jnode *e, struct jv *out)
{
    struct jargs a;
    const struct jnode *callee = e->a;
    if (callee->kind == E_ATTR) {
        struct jv self;
        TRY(jinja_eval(c, f, callee->a, &self));
        struct jv member = jinja_getattr(self, callee->name, callee->name_len);
        TRY(eval_args(c, f, e, &a));
        bool ns = self.kind == JV_DICT && self.u.d->ns;
        int rc = OM_ENOTFOUND;
        if (!ns) /* methods before items, as Python's getattr */
            rc = jinja_method(c, self, callee->name, &a, out);
        if (rc == OM_ENOTFOUND && member.kind == JV_FUNC)
            return jinja_call_value(c, member, &a, jv_undef(), out);
        if (rc == OM_ENOTFOUND)
            return jctx_fail(c, OM_EFORMAT, "jinja: line %d: '%s' object has no method '%s'",
                             e->line, jv_kind_name(self), callee->name);
        return rc;
    }
    struct jv fn = jv_undef();
    if (callee->kind == E_NAME)
        fn = lookup(f, callee->name, callee->name_len);
    else
        TRY(jinja_eval(c, f, callee, &fn));
    TRY(eval_args(c, f, e, &a));
    if (fn.kind == JV_FUNC)
        return jinja_call_value(c, fn, &a, jv_undef(), out);
    if (callee->kind == E_NAME && fn.kind == JV_UNDEF) {
        int rc = jinja_global(c, callee->name, &a, out);
        if (rc == OM_ENOTFOUND)
            return jctx_fail(c, OM_EFORMAT, "jinja: line %d: '%s' is undefined", e->line, callee->name);
        return rc;
    }
    return jctx_fail(c, OM_EFORMAT, "jinja: line %d: '%s' object is not callable", e->line,
                     jv_kind_name(fn));
}

/* `d.items` without a call is the bound method, as Python's getattr finds
 * methods before Jinja falls back to items (namespaces excepted). */
static struct jv bound_method(struct jctx *c, struct jv self, const char *name)
{
    static const char *const dict_m[] = {"items", "keys", "values", "get", "pop", "update", "copy",
                                         "setdefault", NULL};
    static const char *const str_m[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "startswith",
                                        "endswith", "upper", "lower", "title", "capitalize", "replace",
                                        "format", "find", "rfind", "index", "count", "join",
                                        "splitlines", "isdigit", "isalpha", "isalnum", "isspace",
                                        "islower", "isupper", NULL};
    static const char *const list_m[] = {"append", "extend", "insert", "pop", "index", "count",
                                         "copy", NULL};
    const char *const *names = self.kind == JV_DICT && !self.u.d->ns ? dict_m
                             : self.kind == JV_STR ? str_m : self.kind == JV_LIST ? list_m : NULL;
    for (; names && *names; names++)
        if (strcmp(*names, name) == 0) {
            struct jfunc *fu = jarena_alloc(&c->ar, sizeof(*fu));
            if (!fu)
                return jv_undef();
            memset(fu, 0, sizeof(*fu));
            fu->kind = JF_METHOD;
            fu->gname = *names;
            fu->self = self;
            struct jv v = {.kind = JV_FUNC};
            v.u.fn = fu;
            return v;
        }
    return jv_undef();
}

static int eval_inner(struct jctx *c, struct jframe *f, const struct jnode *e, struct jv *out)
{
    struct jv a, b;
    bool t;
    switch (e->kind) {
    case E_LIT: *out = e->lit; return 0;
    case E_NAME:
        *out = lookup(f, e->name, e->name_len);
        if (out->kind == JV_UNDEF)
            *out = jinja_global_value(c, e->name);
        return jctx_mem(c);
    case E_ATTR:
        TRY(jinja_eval(c, f, e->a, &a));
        *out = bound_method(c, a, e->name);
        if (out->kind == JV_UNDEF)
            *out = jinja_getattr(a, e->name, e->name_len);
        return jctx_mem(c);
    case E_ITEM:
        TRY(jinja_eval(c, f, e->a, &a));
        TRY(jinja_eval(c, f, e->b, &b));
        return jinja_getitem(c, a, b, out);
    case E_SLICE: {
        struct jv s = jv_undef(), p = jv_undef(), st = jv_undef();
        TRY(jinja_eval(c, f, e->a, &a));
        if (e->b) TRY(jinja_eval(c, f, e->b, &s));
        if (e->c) TRY(jinja_eval(c, f, e->c, &p));
        if (e->n_kids) TRY(jinja_eval(c, f, e->kids[0], &st));
        return slice(c, a, s, p, st, out);
    }
    case E_CALL: return eval_call(c, f, e, out);
    case E_FILTER: {
        struct jargs args;
        TRY(jinja_eval(c, f, e->a, &a));
        TRY(eval_args(c, f, e, &args));
        int rc = jinja_filter(c, e->name, a, &args, out);
        if (rc == OM_ENOTFOUND)
            return jctx_fail(c, OM_EFORMAT, "jinja: line %d: no filter named '%s'", e->line, e->name);
        return rc;
    }
    case E_TEST: {
        struct jargs args;
        TRY(jinja_eval(c, f, e->a, &a));
        TRY(eval_args(c, f, e, &args));
        int rc = jinja_test(c, e->name, a, &args, &t);
        if (rc == OM_ENOTFOUND)
            return jctx_fail(c, OM_EFORMAT, "jinja: line %d: no test named '%s'", e->line, e->name);
        TRY(rc);
        *out = jv_bool(t != e->neg);
        return 0;
    }
    case E_NEG:
    case E_POS:
        TRY(jinja_eval(c, f, e->a, &a));
        if (!jv_is_num(a))
            return jctx_fail(c, OM_EFORMAT, "jinja: line %d: bad operand type for unary %c: '%s'",
                             e->line, e->kind == E_NEG ? '-' : '+', jv_kind_name(a));
        if (e->kind == E_POS)
            *out = a.kind == JV_BOOL ? jv_int(a.u.b) : a;
        else if (a.kind == JV_FLOAT)
            *out = jv_float(-a.u.f);
        else {
            int64_t v = a.kind == JV_INT ? a.u.i : a.u.b;
            if (v == INT64_MIN)
                return jctx_fail(c, OM_ERANGE, "jinja: integer overflow");
            *out = jv_int(-v);
        }
        return 0;
    case E_NOT:
        TRY(jinja_eval(c, f, e->a, &a));
        *out = jv_bool(!jv_truthy(a));
        return 0;
    case E_AND:
    case E_OR:
        TRY(jinja_eval(c, f, e->a, &a));
        if (jv_truthy(a) == (e->kind == E_OR)) {
            *out = a;
            return 0;
        }
        return jinja_eval(c, f, e->b, out);
    case E_BIN:
        TRY(jinja_eval(c, f, e->a, &a));
        TRY(jinja_eval(c, f, e->b, &b));
        return binop(c, e->op, a, b, out);
    case E_CMP:
        TRY(jinja_eval(c, f, e->a, &a));
        TRY(jinja_eval(c, f, e->b, &b));
        TRY(compare(c, e->op, a, b, &t));
        *out = jv_bool(t);
        return 0;
    case E_COND:
        TRY(jinja_eval(c, f, e->b, &a));
        if (jv_truthy(a))
            return jinja_eval(c, f, e->a, out);
        if (e->c)
            return jinja_eval(c, f, e->c, out);
        *out = jv_undef();
        return 0;
    case E_LIST:
    case E_TUPLE: {
        struct jv l = jv_list_new(&c->ar, e->n_kids);
        for (size_t i = 0; i < e->n_kids; i++) {
            TRY(jinja_eval(c, f, e->kids[i], &a));
            jv_list_push(&c->ar, l, a);
        }
        l.u.l->tuple = e->kind == E_TUPLE;
        *out = l;
        return jctx_mem(c);
    }
    case E_DICT: {
        struct jv d = jv_dict_new(&c->ar, e->n_kids);
        for (size_t i = 0; i < e->n_kids; i++) {
            TRY(jinja_eval(c, f, e->kids[i], &a));
            TRY(jinja_eval(c, f, e->kids2[i], &b));
            jv_dict_set(&c->ar, d, a, b);
        }
        *out = d;
        return jctx_mem(c);
    }
    default:
        return jctx_fail(c, OM_EINVAL, "jinja: line %d: not an expression", e->line);
    }
}

int jinja_eval(struct jctx *c, struct jframe *f, const struct jnode *e, struct jv *out)
{
    if (++c->depth > JINJA_MAX_DEPTH) {
        c->depth--;
        return jctx_fail(c, OM_ERANGE, "jinja: line %d: nesting deeper than %d (recursion?)",
                         e->line, JINJA_MAX_DEPTH);
    }
    int rc = jctx_charge(c, 1);
    if (!rc)
        rc = eval_inner(c, f, e, out);
    c->depth--;
    if (!rc)
        rc = jctx_mem(c);
    return rc;
}
