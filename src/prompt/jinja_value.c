/* prompt: Jinja values — the arena they live in, the output buffer, and the
 * Python semantics templates rely on: truthiness, equality (1 == 1.0 ==
 * True), ordering, str()/repr() (None, True, 1.0, ['a', 'b']) and
 * json.dumps(ensure_ascii=False) as Hugging Face's `tojson` filter does it. */
#include "prompt/jinja_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

/* ---- arena ---- */
struct jarena_chunk {
    struct jarena_chunk *next;
    size_t used, size;
    max_align_t data[];
};

#define JARENA_CHUNK (64u << 10)

void jarena_init(struct jarena *a, size_t cap)
{
    memset(a, 0, sizeof(*a));
    a->cap = cap;
}

void jarena_close(struct jarena *a)
{
    struct jarena_chunk *c = a->head;
    while (c) {
        struct jarena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
}

void *jarena_alloc(struct jarena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (a->over || (a->cap && (n > a->cap || a->used > a->cap - n))) {
        a->over = true;
        return NULL;
    }
    a->used += n;
    struct jarena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t sz = n > JARENA_CHUNK / 2 ? n : JARENA_CHUNK;
        struct jarena_chunk *nc = om_xmalloc(sizeof(*nc) + sz);
        nc->used = 0;
        nc->size = sz;
        if (c && n > JARENA_CHUNK / 2) { /* big one: keep filling the current chunk */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

/* ---- buffer ---- */
void jbuf_put(struct jbuf *b, const char *s, size_t n)
{
    if (b->over)
        return;
    if (n > JINJA_MAX_OUTPUT || b->len > JINJA_MAX_OUTPUT - n) {
        b->over = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        b->p = om_xrealloc(b->p, nc);
        b->cap = nc;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void jbuf_putc(struct jbuf *b, char c) { jbuf_put(b, &c, 1); }

void jbuf_free(struct jbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- constructors ---- */
static const struct jstr g_empty_str = {0};

struct jv jv_str(struct jarena *a, const char *s, size_t n)
{
    struct jv v = {.kind = JV_STR};
    struct jstr *js = jarena_alloc(a, sizeof(*js) + n + 1);
    if (!js) {
        v.u.s = (struct jstr *)&g_empty_str; /* never written */
        return v;
    }
    js->len = n;
    if (n)
        memcpy(js->s, s, n);
    js->s[n] = 0;
    v.u.s = js;
    return v;
}

struct jv jv_cstr(struct jarena *a, const char *s) { return jv_str(a, s, strlen(s)); }

struct jv jv_list_new(struct jarena *a, size_t cap)
{
    struct jv v = {.kind = JV_LIST};
    struct jlist *l = jarena_alloc(a, sizeof(*l));
    /* past the arena bound: an empty stand-in (the arena stays full, so it
     * never grows); per thread, since the caller may still set flags on it */
    static _Thread_local struct jlist dummy;
    if (!l) {
        memset(&dummy, 0, sizeof(dummy));
        v.u.l = &dummy;
        return v;
    }
    memset(l, 0, sizeof(*l));
    if (cap) {
        l->v = jarena_alloc(a, cap * sizeof(struct jv));
        l->cap = l->v ? cap : 0;
    }
    v.u.l = l;
    return v;
}

struct jv jv_dict_new(struct jarena *a, size_t cap)
{
    struct jv v = {.kind = JV_DICT};
    struct jdict *d = jarena_alloc(a, sizeof(*d));
    static _Thread_local struct jdict dummy;
    if (!d) {
        memset(&dummy, 0, sizeof(dummy));
        v.u.d = &dummy;
        return v;
    }
    memset(d, 0, sizeof(*d));
    if (cap) {
        d->k = jarena_alloc(a, cap * sizeof(struct jv));
        d->v = jarena_alloc(a, cap * sizeof(struct jv));
        d->cap = d->k && d->v ? cap : 0;
    }
    v.u.d = d;
    return v;
}

static bool grow(struct jarena *a, struct jv **p, size_t n, size_t *cap)
{
    size_t nc = *cap ? *cap * 2 : 4;
    struct jv *np = jarena_alloc(a, nc * sizeof(struct jv));
    if (!np)
        return false;
    if (n)
        memcpy(np, *p, n * sizeof(struct jv));
    *p = np;
    *cap = nc;
    return true;
}

void jv_list_push(struct jarena *a, struct jv list, struct jv item)
{
    struct jlist *l = list.u.l;
    if (l->n == l->cap && !grow(a, &l->v, l->n, &l->cap))
        return;
    l->v[l->n++] = item;
}

void jv_dict_set(struct jarena *a, struct jv dict, struct jv key, struct jv val)
{
    struct jdict *d = dict.u.d;
    for (size_t i = 0; i < d->n; i++)
        if (jv_eq(d->k[i], key)) {
            d->v[i] = val;
            return;
        }
    if (d->n == d->cap) {
        size_t kc = d->cap, vc = d->cap;
        if (!grow(a, &d->k, d->n, &kc) || !grow(a, &d->v, d->n, &vc))
            return;
        d->cap = kc;
    }
    d->k[d->n] = key;
    d->v[d->n++] = val;
}

struct jv jv_dict_get(struct jv dict, const char *key, size_t klen)
{
    struct jdict *d = dict.u.d;
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].kind == JV_STR && d->k[i].u.s->len == klen &&
            memcmp(d->k[i].u.s->s, key, klen) == 0)
            return d->v[i];
    return jv_undef();
}

bool jv_dict_find(struct jv dict, struct jv key, struct jv *out)
{
    struct jdict *d = dict.u.d;
    for (size_t i = 0; i < d->n; i++)
        if (jv_eq(d->k[i], key)) {
            if (out)
                *out = d->v[i];
            return true;
        }
    return false;
}

/* ---- semantics ---- */
bool jv_truthy(struct jv v)
{
    switch (v.kind) {
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s->len != 0;
    case JV_LIST: return v.u.l->n != 0;
    case JV_DICT: return v.u.d->n != 0 || v.u.d->ns;
    case JV_FUNC: return true;
    default: return false;
    }
}

bool jv_is_num(struct jv v) { return v.kind == JV_BOOL || v.kind == JV_INT || v.kind == JV_FLOAT; }

double jv_num(struct jv v)
{
    return v.kind == JV_FLOAT ? v.u.f : v.kind == JV_INT ? (double)v.u.i : v.kind == JV_BOOL ? v.u.b : 0;
}

/* Equality with a budget of visited nodes, so that self-containing or
 * heavily shared values (a list appended to itself) cannot take forever;
 * an exhausted budget compares unequal. */
static bool eq_b(struct jv a, struct jv b, int64_t *budget)
{
    if (--*budget < 0)
        return false;
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.kind != JV_FLOAT && b.kind != JV_FLOAT)
            return (a.kind == JV_INT ? a.u.i : a.u.b) == (b.kind == JV_INT ? b.u.i : b.u.b);
        return jv_num(a) == jv_num(b);
    }
    if (a.kind != b.kind)
        return false;
    switch (a.kind) {
    case JV_UNDEF:
    case JV_NONE: return true;
    case JV_STR: return a.u.s->len == b.u.s->len && memcmp(a.u.s->s, b.u.s->s, a.u.s->len) == 0;
    case JV_LIST:
        if (a.u.l == b.u.l)
            return true;
        if (a.u.l->n != b.u.l->n)
            return false;
        for (size_t i = 0; i < a.u.l->n; i++)
            if (!eq_b(a.u.l->v[i], b.u.l->v[i], budget))
                return false;
        return true;
    case JV_DICT:
        if (a.u.d == b.u.d)
            return true;
        if (a.u.d->n != b.u.d->n)
            return false;
        for (size_t i = 0; i < a.u.d->n; i++) {
            bool found = false;
            for (size_t k = 0; k < b.u.d->n && !found; k++)
                if (eq_b(a.u.d->k[i], b.u.d->k[k], budget)) {
                    found = true;
                    if (!eq_b(a.u.d->v[i], b.u.d->v[k], budget))
                        return false;
                }
            if (!found)
                return false;
        }
        return true;
    case JV_FUNC: return a.u.fn == b.u.fn;
    default: return false;
    }
}

bool jv_eq(struct jv a, struct jv b)
{
    int64_t budget = 100000;
    return eq_b(a, b, &budget);
}

static int cmp_d(struct jv a, struct jv b, int *cmp, int depth);

int jv_cmp(struct jv a, struct jv b, int *cmp) { return cmp_d(a, b, cmp, 0); }

static int cmp_d(struct jv a, struct jv b, int *cmp, int depth)
{
    if (depth > 64) {
        *cmp = 0;
        return 0;
    }
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.kind == JV_INT && b.kind == JV_INT)
            *cmp = (a.u.i > b.u.i) - (a.u.i < b.u.i);
        else {
            double x = jv_num(a), y = jv_num(b);
            *cmp = (x > y) - (x < y);
        }
        return 0;
    }
    if (a.kind == JV_STR && b.kind == JV_STR) {
        size_t n = OM_MIN(a.u.s->len, b.u.s->len);
        int r = memcmp(a.u.s->s, b.u.s->s, n);
        *cmp = r ? (r > 0 ? 1 : -1) : (a.u.s->len > b.u.s->len) - (a.u.s->len < b.u.s->len);
        return 0;
    }
    if (a.kind == JV_LIST && b.kind == JV_LIST) {
        size_t n = OM_MIN(a.u.l->n, b.u.l->n);
        for (size_t i = 0; i < n; i++) {
            if (jv_eq(a.u.l->v[i], b.u.l->v[i]))
                continue;
            return cmp_d(a.u.l->v[i], b.u.l->v[i], cmp, depth + 1);
        }
        *cmp = (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
        return 0;
    }
    return OM_EFORMAT;
}

const char *jv_kind_name(struct jv v)
{
    static const char *names[] = {"undefined", "NoneType", "bool", "int", "float",
                                  "str", "list", "dict", "function"};
    if (v.kind == JV_LIST && v.u.l->tuple)
        return "tuple";
    return names[v.kind];
}

size_t jv_utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

size_t jv_utf8_off(const char *s, size_t n, size_t ci)
{
    size_t i = 0, c = 0;
    while (i < n) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (c == ci)
                return i;
            c++;
        }
        i++;
    }
    return n;
}

/* ---- formatting ---- */
void jv_write_float(struct jbuf *b, double f)
{
    char tmp[64];
    if (isnan(f)) {
        jbuf_put(b, "nan", 3);
        return;
    }
    if (isinf(f)) {
        jbuf_put(b, f < 0 ? "-inf" : "inf", f < 0 ? 4 : 3);
        return;
    }
    /* Shortest digits that round-trip, then Python's repr layout. */
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    char digits[32];
    int nd = 0;
    const char *p = tmp;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    char out[64];
    int o = 0;
    if (neg)
        out[o++] = '-';
    if (exp < -4 || exp >= 16) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = 1; i < nd; i++)
                out[o++] = digits[i];
        }
        o += snprintf(out + o, sizeof(out) - (size_t)o, "e%c%02d", exp < 0 ? '-' : '+',
                      exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            out[o++] = '0';
        for (int i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (int i = 0; i <= exp; i++)
            out[o++] = i < nd ? digits[i] : '0';
        out[o++] = '.';
        if (nd > exp + 1)
            for (int i = exp + 1; i < nd; i++)
                out[o++] = digits[i];
        else
            out[o++] = '0';
    }
    jbuf_put(b, out, (size_t)o);
}

static void write_repr_str(struct jbuf *b, const struct jstr *s)
{
    bool sq = memchr(s->s, '\'', s->len) != NULL, dq = memchr(s->s, '"', s->len) != NULL;
    char q = sq && !dq ? '"' : '\'';
    jbuf_putc(b, q);
    for (size_t i = 0; i < s->len; i++) {
        unsigned char ch = (unsigned char)s->s[i];
        char e[8];
        if (ch == '\\' || ch == (unsigned char)q) {
            e[0] = '\\';
            e[1] = (char)ch;
            jbuf_put(b, e, 2);
        } else if (ch == '\n')
            jbuf_put(b, "\\n", 2);
        else if (ch == '\r')
            jbuf_put(b, "\\r", 2);
        else if (ch == '\t')
            jbuf_put(b, "\\t", 2);
        else if (ch < 0x20 || ch == 0x7f) {
            snprintf(e, sizeof(e), "\\x%02x", ch);
            jbuf_put(b, e, 4);
        } else
            jbuf_putc(b, (char)ch);
    }
    jbuf_putc(b, q);
}

static void write_repr_d(struct jbuf *b, struct jv v, int depth);

static void write_seq(struct jbuf *b, struct jv v, int depth)
{
    const struct jlist *l = v.u.l;
    jbuf_putc(b, l->tuple ? '(' : '[');
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            jbuf_put(b, ", ", 2);
        write_repr_d(b, l->v[i], depth + 1);
    }
    if (l->tuple && l->n == 1)
        jbuf_putc(b, ',');
    jbuf_putc(b, l->tuple ? ')' : ']');
}

void jv_write_repr(struct jbuf *b, struct jv v) { write_repr_d(b, v, 0); }

static void write_repr_d(struct jbuf *b, struct jv v, int depth)
{
    if (b->over)
        return;
    if (depth > 100 && (v.kind == JV_LIST || v.kind == JV_DICT)) {
        jbuf_put(b, "[...]", 5); /* Python prints a self-containing list so */
        return;
    }
    switch (v.kind) {
    case JV_STR: write_repr_str(b, v.u.s); return;
    case JV_LIST: write_seq(b, v, depth); return;
    case JV_DICT:
        if (v.u.d->ns) {
            jbuf_put(b, "<Namespace>", 11);
            return;
        }
        jbuf_putc(b, '{');
        for (size_t i = 0; i < v.u.d->n; i++) {
            if (i)
                jbuf_put(b, ", ", 2);
            write_repr_d(b, v.u.d->k[i], depth + 1);
            jbuf_put(b, ": ", 2);
            write_repr_d(b, v.u.d->v[i], depth + 1);
        }
        jbuf_putc(b, '}');
        return;
    case JV_UNDEF: return;
    default: jv_write_str(b, v);
    }
}

void jv_write_str(struct jbuf *b, struct jv v)
{
    char tmp[32];
    switch (v.kind) {
    case JV_UNDEF: return;
    case JV_NONE: jbuf_put(b, "None", 4); return;
    case JV_BOOL: jbuf_put(b, v.u.b ? "True" : "False", v.u.b ? 4 : 5); return;
    case JV_INT: jbuf_put(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%lld", (long long)v.u.i)); return;
    case JV_FLOAT: jv_write_float(b, v.u.f); return;
    case JV_STR: jbuf_put(b, v.u.s->s, v.u.s->len); return;
    case JV_FUNC: jbuf_put(b, "<function>", 10); return;
    default: jv_write_repr(b, v);
    }
}

static void write_json_str(struct jbuf *b, const char *s, size_t n)
{
    jbuf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *e = NULL;
        char u[8];
        switch (ch) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        default:
            if (ch < 0x20) {
                snprintf(u, sizeof(u), "\\u%04x", ch);
                e = u;
            }
        }
        if (e) {
            jbuf_put(b, s + run, i - run);
            jbuf_put(b, e, strlen(e));
            run = i + 1;
        }
    }
    jbuf_put(b, s + run, n - run);
    jbuf_putc(b, '"');
}

static void json_nl(struct jbuf *b, int indent, int level)
{
    jbuf_putc(b, '\n');
    for (int i = 0; i < indent * level && !b->over; i++)
        jbuf_putc(b, ' ');
}

static int cmp_keys(const void *x, const void *y)
{
    const struct jv *a = *(const struct jv *const *)x, *b = *(const struct jv *const *)y;
    int c = 0;
    (void)jv_cmp(a[0], b[0], &c);
    return c;
}

void jv_write_json(struct jbuf *b, struct jv v, int indent, bool sort_keys, int level)
{
    char tmp[32];
    if (b->over || level > 200)
        return;
    switch (v.kind) {
    case JV_UNDEF:
    case JV_NONE: jbuf_put(b, "null", 4); return;
    case JV_BOOL: jbuf_put(b, v.u.b ? "true" : "false", v.u.b ? 4 : 5); return;
    case JV_INT: jbuf_put(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%lld", (long long)v.u.i)); return;
    case JV_FLOAT:
        if (isnan(v.u.f))
            jbuf_put(b, "NaN", 3);
        else if (isinf(v.u.f))
            jbuf_put(b, v.u.f < 0 ? "-Infinity" : "Infinity", v.u.f < 0 ? 9 : 8);
        else
            jv_write_float(b, v.u.f);
        return;
    case JV_STR: write_json_str(b, v.u.s->s, v.u.s->len); return;
    case JV_FUNC: jbuf_put(b, "null", 4); return;
    case JV_LIST:
        if (!v.u.l->n) {
            jbuf_put(b, "[]", 2);
            return;
        }
        jbuf_putc(b, '[');
        for (size_t i = 0; i < v.u.l->n; i++) {
            if (i)
                jbuf_put(b, indent >= 0 ? "," : ", ", indent >= 0 ? 1 : 2);
            if (indent >= 0)
                json_nl(b, indent, level + 1);
            jv_write_json(b, v.u.l->v[i], indent, sort_keys, level + 1);
        }
        if (indent >= 0)
            json_nl(b, indent, level);
        jbuf_putc(b, ']');
        return;
    case JV_DICT: {
        size_t n = v.u.d->n;
        if (!n) {
            jbuf_put(b, "{}", 2);
            return;
        }
        /* pairs as (key, value) pointers into the dict's arrays */
        struct jv **order = om_xmalloc(n * sizeof(*order));
        struct jv *pairs = om_xmalloc(n * 2 * sizeof(struct jv));
        for (size_t i = 0; i < n; i++) {
            pairs[2 * i] = v.u.d->k[i];
            pairs[2 * i + 1] = v.u.d->v[i];
            order[i] = &pairs[2 * i];
        }
        if (sort_keys)
            qsort(order, n, sizeof(*order), cmp_keys);
        jbuf_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                jbuf_put(b, indent >= 0 ? "," : ", ", indent >= 0 ? 1 : 2);
            if (indent >= 0)
                json_nl(b, indent, level + 1);
            struct jv k = order[i][0];
            if (k.kind == JV_STR)
                write_json_str(b, k.u.s->s, k.u.s->len);
            else {
                struct jbuf kb = {0};
                jv_write_str(&kb, k);
                write_json_str(b, kb.p ? kb.p : "", kb.len);
                jbuf_free(&kb);
            }
            jbuf_put(b, ": ", 2);
            jv_write_json(b, order[i][1], indent, sort_keys, level + 1);
        }
        if (indent >= 0)
            json_nl(b, indent, level);
        jbuf_putc(b, '}');
        free(order);
        free(pairs);
        return;
    }
    }
}

struct jv jv_to_str(struct jarena *a, struct jv v)
{
    if (v.kind == JV_STR)
        return v;
    struct jbuf b = {0};
    jv_write_str(&b, v);
    struct jv s = jv_str(a, b.p ? b.p : "", b.over ? 0 : b.len);
    jbuf_free(&b);
    return s;
}

struct jv jv_from_json(struct jarena *a, const json_t *j, int depth)
{
    if (!j || depth > 150) /* below jv_write_json's 200 */
        return jv_none();
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        struct jv d = jv_dict_new(a, json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            struct jdict *dd = d.u.d;
            if (dd->n == dd->cap) { /* only when the arena ran out */
                jv_dict_set(a, d, jv_cstr(a, k), jv_from_json(a, v, depth + 1));
                continue;
            }
            dd->k[dd->n] = jv_cstr(a, k); /* jansson keys are unique */
            dd->v[dd->n] = jv_from_json(a, v, depth + 1);
            dd->n++;
        }
        return d;
    }
    case JSON_ARRAY: {
        struct jv l = jv_list_new(a, json_array_size(j));
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) jv_list_push(a, l, jv_from_json(a, v, depth + 1));
        return l;
    }
    case JSON_STRING: return jv_str(a, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return jv_int((int64_t)json_integer_value(j));
    case JSON_REAL: return jv_float(json_real_value(j));
    case JSON_TRUE: return jv_bool(true);
    case JSON_FALSE: return jv_bool(false);
    default: return jv_none();
    }
}
