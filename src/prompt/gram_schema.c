/* prompt: JSON Schema -> grammar IR, and the public constructors of gram.h.
 *
 * Each schema node becomes one rule matching a value that validates against
 * it (followed by `space`). The rule is registered in the memo before its
 * body is compiled, so a $ref back to an enclosing node refers to the rule
 * being built (recursive schemas). Supported: type (and lists of types),
 * properties/required/additionalProperties, items/prefixItems/minItems/
 * maxItems, minLength/maxLength, minimum/maximum (and exclusive forms),
 * enum/const, anyOf/oneOf (as a union), allOf (merged objects), $ref to
 * local JSON pointers. Ignored, as llama.cpp's converter does: pattern,
 * format, minProperties/maxProperties, multipleOf, uniqueItems. Schemas that
 * cannot be compiled soundly give an error naming the node's JSON pointer.
 * The public constructors are in gram.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/gram_int.h"

static uint32_t compile(struct jc *c, const json_t *node);

/* compile() with "/key[/name or /index]" appended to the error path. */
uint32_t gram_jc_compile_at(struct jc *c, const json_t *node, const char *key, const char *name,
                            size_t index)
{
    size_t len = strlen(c->path);
    if (name)
        snprintf(c->path + len, sizeof(c->path) - len, "/%s/%s", key, name);
    else if (!strcmp(key, "prefixItems") || !strcmp(key, "anyOf"))
        snprintf(c->path + len, sizeof(c->path) - len, "/%s/%zu", key, index);
    else
        snprintf(c->path + len, sizeof(c->path) - len, "/%s", key);
    uint32_t r = compile(c, node);
    c->path[len] = 0;
    return r;
}

/* --- memo: schema node -> rule (open addressing on the pointer) */
static uint32_t memo_slot(const struct jc *c, const json_t *k)
{
    uintptr_t h = (uintptr_t)k;
    h ^= h >> 17;
    h *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 20) & (uint32_t)(c->mcap - 1);
}

static uint32_t memo_get(const struct jc *c, const json_t *k)
{
    if (!c->mcap)
        return UINT32_MAX;
    for (uint32_t i = memo_slot(c, k);; i = (i + 1) & (uint32_t)(c->mcap - 1)) {
        if (!c->mkey[i])
            return UINT32_MAX;
        if (c->mkey[i] == k)
            return c->mval[i];
    }
}

static void memo_put(struct jc *c, const json_t *k, uint32_t v)
{
    if (2 * (c->mn + 1) > c->mcap) {
        const json_t **ok = c->mkey;
        uint32_t *ov = c->mval;
        size_t oc = c->mcap;
        c->mcap = oc ? oc * 2 : 64;
        c->mkey = om_xcalloc(c->mcap, sizeof(*c->mkey));
        c->mval = om_xmalloc(c->mcap * sizeof(*c->mval));
        c->mn = 0;
        for (size_t i = 0; i < oc; i++)
            if (ok[i])
                memo_put(c, ok[i], ov[i]);
        free(ok);
        free(ov);
    }
    uint32_t i = memo_slot(c, k);
    while (c->mkey[i])
        i = (i + 1) & (uint32_t)(c->mcap - 1);
    c->mkey[i] = k;
    c->mval[i] = v;
    c->mn++;
}

/* --- $ref: local JSON pointers only ("#", "#/$defs/x", "#/definitions/x"...) */
const json_t *gram_jc_resolve_ref(struct jc *c, const char *ref)
{
    if (ref[0] != '#') {
        gram_jc_fail(c, OM_EUNSUPPORTED, "only local $ref (\"#...\") is supported", ref);
        return NULL;
    }
    const json_t *cur = c->root;
    const char *p = ref + 1;
    if (*p && *p != '/') {
        gram_jc_fail(c, OM_EUNSUPPORTED, "$ref is not a JSON pointer", ref);
        return NULL;
    }
    char tok[256];
    while (*p == '/' && cur) {
        p++;
        size_t n = 0;
        for (; *p && *p != '/'; p++) {
            char ch = *p;
            if (ch == '~' && (p[1] == '0' || p[1] == '1'))
                ch = *++p == '0' ? '~' : '/';
            if (n + 1 >= sizeof(tok)) {
                gram_jc_fail(c, OM_EFORMAT, "$ref component too long", ref);
                return NULL;
            }
            tok[n++] = ch;
        }
        tok[n] = 0;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            cur = (*tok && !*end) ? json_array_get(cur, i) : NULL;
        } else {
            cur = NULL;
        }
    }
    if (!cur)
        gram_jc_fail(c, OM_ENOTFOUND, "$ref target not found", ref);
    return cur;
}

/* --- counts */
static uint32_t get_count(struct jc *c, const json_t *node, const char *key, uint32_t dflt)
{
    const json_t *v = json_object_get(node, key);
    if (!v)
        return dflt;
    double d = json_number_value(v);
    if (json_is_number(v) && d > JC_MAX_COUNT) {
        gram_jc_fail(c, OM_ENOMEM, "count too large (limit 100000)", key);
        return 0;
    }
    if (!json_is_number(v) || d < 0 || d != (double)(long long)d) {
        gram_jc_fail(c, OM_EFORMAT, "not a non-negative integer", key);
        return 0;
    }
    return (uint32_t)d;
}

static uint32_t typed_string(struct jc *c, const json_t *node)
{
    if (!json_object_get(node, "minLength") && !json_object_get(node, "maxLength"))
        return gram_jc_string(c);
    uint32_t min = get_count(c, node, "minLength", 0);
    uint32_t max = get_count(c, node, "maxLength", JC_UNBOUNDED);
    if (c->rc)
        return UINT32_MAX;
    if (min > max)
        return gram_jc_fail(c, OM_EFORMAT, "minLength > maxLength", NULL);
    struct gram_seq s = {0};
    uint32_t r = gram_jc_rule(c);
    gram_seq_lit(c->g, &s, "\"", 1);
    gram_jc_push_rep(c, &s, gram_jc_char(c), min, max);
    gram_seq_lit(c->g, &s, "\"", 1);
    gram_jc_push_rule(&s, gram_jc_space(c));
    gram_jc_alt(c, r, &s);
    gram_seq_free(&s);
    return r;
}

static uint32_t typed_array(struct jc *c, const json_t *node)
{
    const json_t *tuple = json_object_get(node, "prefixItems");
    const json_t *items = json_object_get(node, "items");
    if (!tuple && json_is_array(items))
        tuple = items; /* draft 4-7 tuple form */
    if (json_is_array(tuple)) {
        struct gram_seq s = {0};
        uint32_t r = gram_jc_rule(c);
        gram_seq_lit(c->g, &s, "[", 1);
        gram_jc_push_rule(&s, gram_jc_space(c));
        for (size_t i = 0; i < json_array_size(tuple) && c->rc == 0; i++) {
            if (i) {
                gram_seq_lit(c->g, &s, ",", 1);
                gram_jc_push_rule(&s, gram_jc_space(c));
            }
            gram_jc_push_rule(&s, gram_jc_compile_at(c, json_array_get(tuple, i), "prefixItems", NULL, i));
        }
        gram_seq_lit(c->g, &s, "]", 1);
        gram_jc_push_rule(&s, gram_jc_space(c));
        gram_jc_alt(c, r, &s);
        gram_seq_free(&s);
        return r;
    }
    uint32_t min = get_count(c, node, "minItems", 0);
    uint32_t max = get_count(c, node, "maxItems", JC_UNBOUNDED);
    if (c->rc)
        return UINT32_MAX;
    if (min > max)
        return gram_jc_fail(c, OM_EFORMAT, "minItems > maxItems", NULL);
    if (json_is_false(items)) /* no items at all */
        return gram_json_list(c, 0, 0, 0, false);
    uint32_t x = items ? gram_jc_compile_at(c, items, "items", NULL, 0) : gram_json_value(c);
    return gram_json_list(c, x, min, max, false);
}

/* Bound from a JSON number, clamped to what the integer rule can write. */
static long long int_bound(double d, bool up)
{
    if (d > (double)GRAM_INT_MAX)
        return GRAM_INT_MAX + 1;
    if (d < -(double)GRAM_INT_MAX)
        return -GRAM_INT_MAX - 1;
    return (long long)(up ? ceil(d) : floor(d));
}

/* minimum/maximum with their exclusive forms (draft 6+ numbers, draft 4
 * booleans) as one interval; false when the schema has none. */
static bool bounds(const json_t *node, double *lo, bool *lox, double *hi, bool *hix)
{
    const json_t *mn = json_object_get(node, "minimum"), *mx = json_object_get(node, "maximum");
    const json_t *xmn = json_object_get(node, "exclusiveMinimum");
    const json_t *xmx = json_object_get(node, "exclusiveMaximum");
    *lo = -INFINITY;
    *hi = INFINITY;
    *lox = *hix = false;
    if (json_is_number(mn)) {
        *lo = json_number_value(mn);
        *lox = json_is_true(xmn);
    }
    if (json_is_number(xmn) && json_number_value(xmn) >= *lo) {
        *lo = json_number_value(xmn);
        *lox = true;
    }
    if (json_is_number(mx)) {
        *hi = json_number_value(mx);
        *hix = json_is_true(xmx);
    }
    if (json_is_number(xmx) && json_number_value(xmx) <= *hi) {
        *hi = json_number_value(xmx);
        *hix = true;
    }
    return json_is_number(mn) || json_is_number(mx) || json_is_number(xmn) || json_is_number(xmx);
}

static uint32_t typed_number(struct jc *c, const json_t *node, bool integer)
{
    double lo, hi;
    bool lox, hix;
    if (!bounds(node, &lo, &lox, &hi, &hix))
        return gram_jc_num(c, integer);
    if (!integer)
        return gram_jc_num_range(c, lo, lox, hi, hix);
    long long a = int_bound(lox ? floor(lo) + 1 : ceil(lo), true);
    long long b = int_bound(hix ? ceil(hi) - 1 : floor(hi), false);
    if (a > b || a > GRAM_INT_MAX || b < -GRAM_INT_MAX)
        return gram_jc_fail(c, OM_EFORMAT, "integer range is empty (or beyond 16 digits)", NULL);
    return gram_jc_int_range(c, OM_MAX(a, -GRAM_INT_MAX), OM_MIN(b, GRAM_INT_MAX));
}

static uint32_t typed(struct jc *c, const json_t *node, const char *t)
{
    if (!strcmp(t, "string"))
        return typed_string(c, node);
    if (!strcmp(t, "integer") || !strcmp(t, "number"))
        return typed_number(c, node, t[0] == 'i');
    if (!strcmp(t, "boolean"))
        return gram_jc_lits(c, &c->boolean, "true", "false");
    if (!strcmp(t, "null"))
        return gram_jc_lits(c, &c->null, "null", NULL);
    if (!strcmp(t, "object"))
        return gram_jc_object(c, node);
    if (!strcmp(t, "array"))
        return typed_array(c, node);
    return gram_jc_fail(c, OM_EUNSUPPORTED, "unknown type", t);
}

static const char *infer_type(const json_t *node)
{
    static const char *const obj[] = {"properties", "additionalProperties", "required", "allOf"};
    static const char *const arr[] = {"items", "prefixItems", "minItems", "maxItems"};
    static const char *const str[] = {"minLength", "maxLength", "pattern", "format"};
    for (size_t i = 0; i < 4; i++) {
        if (json_object_get(node, obj[i]))
            return "object";
        if (json_object_get(node, arr[i]))
            return "array";
        if (json_object_get(node, str[i]))
            return "string";
    }
    return NULL;
}

static bool type_is(const char *t, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return !strcmp(t, "object");
    case JSON_ARRAY: return !strcmp(t, "array");
    case JSON_STRING: return !strcmp(t, "string");
    case JSON_INTEGER: return !strcmp(t, "integer") || !strcmp(t, "number");
    case JSON_REAL:
        return !strcmp(t, "number") ||
               (!strcmp(t, "integer") && json_real_value(v) == floor(json_real_value(v)));
    case JSON_TRUE:
    case JSON_FALSE: return !strcmp(t, "boolean");
    case JSON_NULL: return !strcmp(t, "null");
    }
    return false;
}

/* Whether a value is of the schema's type (string or list; none: any). */
static bool type_allows(const json_t *type, const json_t *v)
{
    if (json_is_string(type))
        return type_is(json_string_value(type), v);
    if (!json_is_array(type))
        return true;
    size_t i;
    const json_t *t;
    json_array_foreach(type, i, t) if (json_is_string(t) && type_is(json_string_value(t), v)) return true;
    return false;
}

static void body(struct jc *c, const json_t *node, uint32_t r)
{
    struct gram_seq s = {0};
    const json_t *ref = json_object_get(node, "$ref");
    const json_t *any = json_object_get(node, "anyOf");
    const json_t *type = json_object_get(node, "type");
    if (!any)
        any = json_object_get(node, "oneOf");
    const json_t *all = json_object_get(node, "allOf");
    if (json_is_string(ref)) {
        const json_t *t = gram_jc_resolve_ref(c, json_string_value(ref));
        gram_jc_push_rule(&s, t ? gram_jc_compile_at(c, t, json_string_value(ref), NULL, 0) : UINT32_MAX);
        gram_jc_alt(c, r, &s);
    } else if (json_object_get(node, "const")) {
        const json_t *v = json_object_get(node, "const");
        if (!type_allows(type, v))
            gram_jc_fail(c, OM_EFORMAT, "const does not match the type", NULL);
        gram_jc_push_rule(&s, gram_jc_literals(c, v, false));
        gram_jc_alt(c, r, &s);
    } else if (json_is_array(json_object_get(node, "enum"))) {
        /* values of another type than "type" says can never validate */
        json_t *vals = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(node, "enum"), i, v) if (type_allows(type, v))
            json_array_append(vals, v);
        gram_jc_push_rule(&s, gram_jc_literals(c, vals, true));
        json_decref(vals);
        gram_jc_alt(c, r, &s);
    } else if (json_is_array(any)) {
        if (json_array_size(any) == 0)
            gram_jc_fail(c, OM_EFORMAT, "anyOf/oneOf is empty", NULL);
        size_t i;
        const json_t *alt;
        json_array_foreach(any, i, alt)
        {
            const json_t *m = gram_jc_merge_alt(c, node, alt);
            gram_jc_push_rule(&s, m ? gram_jc_compile_at(c, m, "anyOf", NULL, i) : UINT32_MAX);
            gram_jc_alt(c, r, &s);
        }
    } else if (json_is_array(all) && json_array_size(all) == 1 && !type) {
        gram_jc_push_rule(&s, gram_jc_compile_at(c, json_array_get(all, 0), "allOf", NULL, 0));
        gram_jc_alt(c, r, &s);
    } else if (json_is_array(type)) {
        if (json_array_size(type) == 0)
            gram_jc_fail(c, OM_EFORMAT, "type list is empty", NULL);
        size_t i;
        const json_t *t;
        json_array_foreach(type, i, t)
        {
            if (!json_is_string(t)) {
                gram_jc_fail(c, OM_EFORMAT, "type list holds a non-string", NULL);
                break;
            }
            gram_jc_push_rule(&s, typed(c, node, json_string_value(t)));
            gram_jc_alt(c, r, &s);
        }
    } else if (type && !json_is_string(type)) {
        gram_jc_fail(c, OM_EFORMAT, "type is neither a string nor a list", NULL);
    } else {
        const char *t = type ? json_string_value(type) : infer_type(node);
        if (!t && json_is_array(all))
            t = "object";
        gram_jc_push_rule(&s, t ? typed(c, node, t) : gram_json_value(c));
        gram_jc_alt(c, r, &s);
    }
    gram_seq_free(&s);
}

static uint32_t compile(struct jc *c, const json_t *node)
{
    if (c->rc)
        return UINT32_MAX;
    if (json_is_true(node))
        return gram_json_value(c);
    if (json_is_false(node))
        return gram_jc_fail(c, OM_EUNSUPPORTED, "a false schema matches nothing", NULL);
    if (!json_is_object(node))
        return gram_jc_fail(c, OM_EFORMAT, "a schema must be an object", NULL);
    uint32_t r = memo_get(c, node);
    if (r != UINT32_MAX)
        return r;
    if (c->nest >= JC_MAX_NEST)
        return gram_jc_fail(c, OM_ENOMEM, "nested too deeply (limit 128)", NULL);
    r = gram_jc_rule(c);
    if (r == UINT32_MAX)
        return r;
    memo_put(c, node, r);
    c->nest++;
    body(c, node, r);
    c->nest--;
    return r;
}

uint32_t gram_jc_compile(struct jc *c, const json_t *node)
{
    return compile(c, node);
}
