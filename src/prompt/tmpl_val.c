/* prompt: template values — truthiness, printing and JSON marshalling with
 * Go's rules.
 *
 * Printing follows fmt's %v as text/template's printValue uses it: an
 * invalid value prints "<no value>", nil inside a composite "<nil>", floats
 * in strconv's shortest 'g' form (exponent below 1e-4 and from 1e6),
 * arrays "[a b]",
 * maps "map[k:v]" with sorted keys, structs "{v1 v2}". Ollama's Stringer
 * types (templateTools, templateTool, templateArgs, templateProperties)
 * print as JSON. JSON marshalling follows encoding/json: compact, map keys
 * sorted, HTML characters escaped, struct fields renamed by their json
 * tags (with omitempty) for the structs prompt.c marks. */
#include "prompt/tmpl_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

size_t tmpl_utf8_get(const char *s, size_t n, uint32_t *cp);

struct tval tmpl_val_from_json(json_t *j)
{
    struct tval v;
    memset(&v, 0, sizeof(v));
    if (!j) {
        v.flags = TVF_IFACE;
        return v;
    }
    switch (json_typeof(j)) {
    case JSON_STRING:
        v.kind = TV_STR;
        v.s = json_string_value(j);
        v.slen = json_string_length(j);
        break;
    case JSON_INTEGER:
        v.kind = TV_INT;
        v.i = (int64_t)json_integer_value(j);
        break;
    case JSON_REAL:
        v.kind = TV_FLOAT;
        v.f = json_real_value(j);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v.kind = TV_BOOL;
        v.b = json_is_true(j);
        break;
    case JSON_ARRAY:
        v.kind = TV_ARR;
        v.j = j;
        break;
    case JSON_OBJECT:
        v.kind = TV_OBJ;
        v.j = j;
        if (strcmp(json_string_value(json_object_get(j, TMPL_GO_TYPE_KEY)) ?: "", "Tool") == 0)
            v.flags |= TVF_JSONSTR;
        break;
    default:
        v.flags = TVF_IFACE;
        break;
    }
    return v;
}

const char *tmpl_val_gotype(const struct tval *v)
{
    if (v->kind != TV_OBJ)
        return NULL;
    return json_string_value(json_object_get(v->j, TMPL_GO_TYPE_KEY));
}

const char *tmpl_val_type_name(const struct tval *v)
{
    switch (v->kind) {
    case TV_NIL: return "<nil>";
    case TV_BOOL: return "bool";
    case TV_INT: return "int";
    case TV_FLOAT: return "float64";
    case TV_STR: return "string";
    case TV_ARR: return "[]interface {}";
    case TV_OBJ: {
        /* the Go types Ollama's template data has (template/template.go) */
        static const char *const names[][2] = {
            {"Tool", "template.templateTool"},
            {"ToolFunction", "template.templateToolFunction"},
            {"ToolParams", "template.templateToolFunctionParameters"},
            {"ToolProperty", "api.ToolProperty"},
            {"Message", "*template.templateMessage"},
            {"ToolCall", "template.templateToolCall"},
            {"ToolCallFunction", "template.templateToolCallFunction"},
        };
        const char *g = tmpl_val_gotype(v);
        if (!g)
            return "map[string]interface {}";
        for (size_t i = 0; i < OM_ARRAY_LEN(names); i++)
            if (strcmp(names[i][0], g) == 0)
                return names[i][1];
        return g;
    }
    }
    return "?";
}

bool tmpl_obj_hidden_key(const char *k) { return k[0] == '\x01'; }

size_t tmpl_obj_len(json_t *o)
{
    size_t n = 0;
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
        (void)val;
        n += !tmpl_obj_hidden_key(key);
    }
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **tmpl_obj_sorted_keys(json_t *o, size_t *n)
{
    size_t cap = json_object_size(o);
    const char **keys = om_xmalloc((cap ? cap : 1) * sizeof(*keys));
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
        (void)val;
        if (!tmpl_obj_hidden_key(key))
            keys[k++] = key;
    }
    qsort(keys, k, sizeof(*keys), cmp_str);
    *n = k;
    return keys;
}

bool tmpl_val_truth(const struct tval *v)
{
    switch (v->kind) {
    case TV_NIL: return false;
    case TV_BOOL: return v->b;
    case TV_INT: return v->i != 0;
    case TV_FLOAT: return v->f != 0;
    case TV_STR: return v->slen > 0;
    case TV_ARR: return json_array_size(v->j) > 0;
    case TV_OBJ: return tmpl_val_gotype(v) != NULL || tmpl_obj_len(v->j) > 0;
    }
    return false;
}

/* ---- floats ---- */

/* Shortest decimal digits of f (f finite, > 0): digits into d (NUL
 * terminated, no dot), returns the decimal exponent e such that
 * f = 0.d * 10^e. */
static int shortest(double f, char *d)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, f);
        if (strtod(buf, NULL) == f)
            break;
    }
    /* buf: d.ddddde[+-]XX */
    char *e = strchr(buf, 'e');
    int exp = atoi(e + 1);
    size_t k = 0;
    for (char *p = buf; p < e; p++)
        if (*p != '.')
            d[k++] = *p;
    while (k > 1 && d[k - 1] == '0')
        k--;
    d[k] = 0;
    return exp + 1;
}

/* Go's strconv.FormatFloat(f, fmt, -1, 64) for fmt 'g', 'e' or 'f'. */
void tmpl_go_float(struct tbuf *b, double f, char fmt)
{
    if (isnan(f)) {
        tmpl_buf_put(b, "NaN", 3);
        return;
    }
    if (isinf(f)) {
        tmpl_buf_put(b, f > 0 ? "+Inf" : "-Inf", 4);
        return;
    }
    if (signbit(f))
        tmpl_buf_putc(b, '-');
    f = fabs(f);
    char d[40];
    int dp;
    if (f == 0) {
        d[0] = '0';
        d[1] = 0;
        dp = 1;
    } else {
        dp = shortest(f, d);
    }
    int nd = (int)strlen(d);
    if (fmt == 'g') { /* shortest 'g': exponent form below 1e-4 and from 1e6 */
        int exp = dp - 1;
        fmt = f != 0 && (exp < -4 || exp >= 6) ? 'e' : 'f';
    }
    if (fmt == 'e') {
        tmpl_buf_putc(b, d[0]);
        if (nd > 1) {
            tmpl_buf_putc(b, '.');
            tmpl_buf_put(b, d + 1, (size_t)nd - 1);
        }
        int exp = f == 0 ? 0 : dp - 1;
        tmpl_buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        return;
    }
    if (dp <= 0) {
        tmpl_buf_put(b, "0.", 2);
        for (int i = 0; i < -dp; i++)
            tmpl_buf_putc(b, '0');
        tmpl_buf_put(b, d, (size_t)nd);
    } else if (dp >= nd) {
        tmpl_buf_put(b, d, (size_t)nd);
        for (int i = nd; i < dp; i++)
            tmpl_buf_putc(b, '0');
    } else {
        tmpl_buf_put(b, d, (size_t)dp);
        tmpl_buf_putc(b, '.');
        tmpl_buf_put(b, d + dp, (size_t)(nd - dp));
    }
}

/* ---- printing ---- */

static void print_json_val(struct tbuf *b, json_t *j, bool nested);

static void print_inner(struct tbuf *b, const struct tval *v, bool nested)
{
    switch (v->kind) {
    case TV_NIL:
        tmpl_buf_put(b, nested ? "<nil>" : "<no value>", nested ? 5 : 10);
        return;
    case TV_BOOL:
        tmpl_buf_put(b, v->b ? "true" : "false", v->b ? 4 : 5);
        return;
    case TV_INT:
        tmpl_buf_printf(b, "%lld", (long long)v->i);
        return;
    case TV_FLOAT:
        tmpl_go_float(b, v->f, 'g');
        return;
    case TV_STR:
        tmpl_buf_put(b, v->s, v->slen);
        return;
    case TV_ARR:
    case TV_OBJ:
        if (v->flags & TVF_JSONSTR) {
            if (tmpl_val_json(b, v) < 0)
                tmpl_buf_put(b, "", 0);
            return;
        }
        print_json_val(b, v->j, true);
        return;
    }
}

static void print_json_val(struct tbuf *b, json_t *j, bool nested)
{
    struct tval v = tmpl_val_from_json(j);
    if (v.kind == TV_ARR) {
        tmpl_buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                tmpl_buf_putc(b, ' ');
            print_json_val(b, json_array_get(j, i), true);
            if (b->over)
                return;
        }
        tmpl_buf_putc(b, ']');
        return;
    }
    if (v.kind == TV_OBJ && !(v.flags & TVF_JSONSTR)) {
        const char *gt = tmpl_val_gotype(&v);
        if (gt) { /* struct: {v1 v2 ...} in field order */
            tmpl_buf_putc(b, '{');
            const char *key;
            json_t *val;
            bool first = true;
            json_object_foreach(j, key, val) {
                if (tmpl_obj_hidden_key(key))
                    continue;
                if (!first)
                    tmpl_buf_putc(b, ' ');
                first = false;
                struct tval fv = tmpl_val_from_json(val);
                if ((fv.kind == TV_ARR || fv.kind == TV_OBJ) &&
                    (strcmp(key, "Arguments") == 0 || strcmp(key, "Properties") == 0))
                    fv.flags |= TVF_JSONSTR;
                print_inner(b, &fv, true);
            }
            tmpl_buf_putc(b, '}');
            return;
        }
        size_t n;
        const char **keys = tmpl_obj_sorted_keys(j, &n);
        tmpl_buf_put(b, "map[", 4);
        for (size_t i = 0; i < n && !b->over; i++) {
            if (i)
                tmpl_buf_putc(b, ' ');
            tmpl_buf_put(b, keys[i], strlen(keys[i]));
            tmpl_buf_putc(b, ':');
            print_json_val(b, json_object_get(j, keys[i]), true);
        }
        free(keys);
        tmpl_buf_putc(b, ']');
        return;
    }
    print_inner(b, &v, nested);
}

void tmpl_val_print(struct tbuf *b, const struct tval *v) { print_inner(b, v, false); }
void tmpl_val_print_arg(struct tbuf *b, const struct tval *v) { print_inner(b, v, true); }

/* ---- JSON ---- */

void tmpl_val_json_string(struct tbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    tmpl_buf_putc(b, '"');
    size_t start = 0, i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
                i++;
                continue;
            }
            tmpl_buf_put(b, s + start, i - start);
            switch (c) {
            case '"': tmpl_buf_put(b, "\\\"", 2); break;
            case '\\': tmpl_buf_put(b, "\\\\", 2); break;
            case '\n': tmpl_buf_put(b, "\\n", 2); break;
            case '\r': tmpl_buf_put(b, "\\r", 2); break;
            case '\t': tmpl_buf_put(b, "\\t", 2); break;
            case '\b': tmpl_buf_put(b, "\\b", 2); break;
            case '\f': tmpl_buf_put(b, "\\f", 2); break;
            default: {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                tmpl_buf_put(b, e, 6);
            }
            }
            i++;
            start = i;
            continue;
        }
        uint32_t cp;
        size_t len = tmpl_utf8_get(s + i, n - i, &cp);
        if (cp == 0xFFFD && len == 1) {
            tmpl_buf_put(b, s + start, i - start);
            tmpl_buf_put(b, "\\ufffd", 6);
            i += len;
            start = i;
            continue;
        }
        if (cp == 0x2028 || cp == 0x2029) {
            tmpl_buf_put(b, s + start, i - start);
            tmpl_buf_put(b, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
            i += len;
            start = i;
            continue;
        }
        i += len;
    }
    tmpl_buf_put(b, s + start, n - start);
    tmpl_buf_putc(b, '"');
}

struct jtag {
    const char *type, *field, *name;
    bool omitempty, ordered;
};

static const struct jtag jtags[] = {
    {"Tool", "Type", "type", false, false},
    {"Tool", "Items", "items", true, false},
    {"Tool", "Function", "function", false, false},
    {"ToolFunction", "Name", "name", false, false},
    {"ToolFunction", "Description", "description", false, false},
    {"ToolFunction", "Parameters", "parameters", false, false},
    {"ToolParams", "Type", "type", false, false},
    {"ToolParams", "Defs", "$defs", true, false},
    {"ToolParams", "Items", "items", true, false},
    {"ToolParams", "Required", "required", true, false},
    {"ToolParams", "Properties", "properties", false, false},
    {"ToolProperty", "AnyOf", "anyOf", true, false},
    {"ToolProperty", "Type", "type", true, false},
    {"ToolProperty", "Items", "items", true, false},
    {"ToolProperty", "Description", "description", true, false},
    {"ToolProperty", "Enum", "enum", true, false},
    {"ToolProperty", "Properties", "properties", true, true},
    {"ToolProperty", "Required", "required", true, false},
};

static bool json_empty(json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_NULL: case JSON_FALSE: return true;
    case JSON_STRING: return json_string_length(j) == 0;
    case JSON_INTEGER: return json_integer_value(j) == 0;
    case JSON_REAL: return json_real_value(j) == 0;
    case JSON_ARRAY: return json_array_size(j) == 0;
    case JSON_OBJECT: return !json_object_get(j, TMPL_GO_TYPE_KEY) && tmpl_obj_len(j) == 0;
    default: return false;
    }
}

static int json_val(struct tbuf *b, json_t *j, bool ordered, int depth);

static int json_struct(struct tbuf *b, json_t *j, const char *gt, int depth)
{
    tmpl_buf_putc(b, '{');
    bool first = true;
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val) {
        if (tmpl_obj_hidden_key(key))
            continue;
        const struct jtag *tag = NULL;
        for (size_t i = 0; i < OM_ARRAY_LEN(jtags); i++)
            if (strcmp(jtags[i].type, gt) == 0 && strcmp(jtags[i].field, key) == 0)
                tag = &jtags[i];
        if (tag && tag->omitempty && json_empty(val))
            continue;
        if (!first)
            tmpl_buf_putc(b, ',');
        first = false;
        const char *name = tag ? tag->name : key;
        tmpl_val_json_string(b, name, strlen(name));
        tmpl_buf_putc(b, ':');
        char nk[80];
        snprintf(nk, sizeof nk, "%s%s", TMPL_NIL_SLICE_KEY, key);
        if (json_array_size(val) == 0 && json_is_true(json_object_get(j, nk))) {
            tmpl_buf_put(b, "null", 4); /* a Go nil slice */
            continue;
        }
        if (json_val(b, val, tag && tag->ordered, depth + 1) < 0)
            return -1;
    }
    tmpl_buf_putc(b, '}');
    return 0;
}

static int json_val(struct tbuf *b, json_t *j, bool ordered, int depth)
{
    if (depth > 1000 || b->over)
        return -1;
    switch (json_typeof(j)) {
    case JSON_NULL: tmpl_buf_put(b, "null", 4); return 0;
    case JSON_TRUE: tmpl_buf_put(b, "true", 4); return 0;
    case JSON_FALSE: tmpl_buf_put(b, "false", 5); return 0;
    case JSON_INTEGER: tmpl_buf_printf(b, "%lld", (long long)json_integer_value(j)); return 0;
    case JSON_REAL: {
        struct tval v = {.kind = TV_FLOAT, .f = json_real_value(j)};
        return tmpl_val_json(b, &v);
    }
    case JSON_STRING:
        tmpl_val_json_string(b, json_string_value(j), json_string_length(j));
        return 0;
    case JSON_ARRAY:
        tmpl_buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                tmpl_buf_putc(b, ',');
            if (json_val(b, json_array_get(j, i), false, depth + 1) < 0)
                return -1;
        }
        tmpl_buf_putc(b, ']');
        return 0;
    case JSON_OBJECT: {
        const char *gt = json_string_value(json_object_get(j, TMPL_GO_TYPE_KEY));
        if (gt)
            return json_struct(b, j, gt, depth);
        tmpl_buf_putc(b, '{');
        if (ordered) {
            const char *key;
            json_t *val;
            bool first = true;
            json_object_foreach(j, key, val) {
                if (tmpl_obj_hidden_key(key))
                    continue;
                if (!first)
                    tmpl_buf_putc(b, ',');
                first = false;
                tmpl_val_json_string(b, key, strlen(key));
                tmpl_buf_putc(b, ':');
                if (json_val(b, val, false, depth + 1) < 0)
                    return -1;
            }
        } else {
            size_t n;
            const char **keys = tmpl_obj_sorted_keys(j, &n);
            for (size_t i = 0; i < n; i++) {
                if (i)
                    tmpl_buf_putc(b, ',');
                tmpl_val_json_string(b, keys[i], strlen(keys[i]));
                tmpl_buf_putc(b, ':');
                if (json_val(b, json_object_get(j, keys[i]), false, depth + 1) < 0) {
                    free(keys);
                    return -1;
                }
            }
            free(keys);
        }
        tmpl_buf_putc(b, '}');
        return 0;
    }
    }
    return -1;
}

int tmpl_val_json(struct tbuf *b, const struct tval *v)
{
    switch (v->kind) {
    case TV_NIL: tmpl_buf_put(b, "null", 4); return 0;
    case TV_BOOL: tmpl_buf_put(b, v->b ? "true" : "false", v->b ? 4 : 5); return 0;
    case TV_INT: tmpl_buf_printf(b, "%lld", (long long)v->i); return 0;
    case TV_FLOAT: {
        if (isnan(v->f) || isinf(v->f))
            return -1;
        double a = fabs(v->f);
        bool e = a != 0 && (a < 1e-6 || a >= 1e21);
        size_t at = b->len;
        tmpl_go_float(b, v->f, e ? 'e' : 'f');
        if (e && !b->over && b->len - at >= 4) { /* e-07 -> e-7 */
            char *p = b->p + b->len;
            if (p[-4] == 'e' && p[-3] == '-' && p[-2] == '0') {
                p[-2] = p[-1];
                b->len--;
                b->p[b->len] = 0;
            }
        }
        return 0;
    }
    case TV_STR: tmpl_val_json_string(b, v->s, v->slen); return 0;
    case TV_ARR:
        if (v->flags & TVF_NILSLICE) {
            tmpl_buf_put(b, "null", 4);
            return 0;
        }
        return json_val(b, v->j, false, 0);
    case TV_OBJ: return json_val(b, v->j, false, 0);
    }
    return -1;
}
