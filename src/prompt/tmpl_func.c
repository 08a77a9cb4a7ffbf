/* prompt: built-in functions of Go templates and Ollama's additions.
 *
 * Go: and, or (short-circuit, return the deciding argument), not, eq (with
 * several arguments), ne, lt, le, gt, ge (basic kinds only; int against
 * float is "incompatible types for comparison" as in Go), len, index,
 * slice, print, println, printf (tmpl_printf.c), html, js, urlquery.
 * Ollama: json (encoding/json Marshal), currentDate, yesterdayDate
 * (YYYY-MM-DD, local time), toTypeScriptType. Errors are returned as the
 * text Go puts after "error calling NAME: ". */
#include "prompt/tmpl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"

int tmpl_printf(struct tstate_fn *ctx, struct tbuf *b, char *msg, size_t msglen);

static const char *const funcs[] = {
    "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "slice",
    "print", "printf", "println", "html", "js", "urlquery", "call", "json", "currentDate",
    "yesterdayDate", "toTypeScriptType",
};

bool tmpl_func_exists(const char *name)
{
    for (size_t i = 0; i < OM_ARRAY_LEN(funcs); i++)
        if (strcmp(funcs[i], name) == 0)
            return true;
    return false;
}

static int fail(char *msg, size_t msglen, const char *text)
{
    snprintf(msg, msglen, "%s", text);
    return OM_EINVAL;
}

static int nargs_check(struct tstate_fn *ctx, const char *name, int want, char *msg, size_t n)
{
    int got = tmpl_state_nargs(ctx);
    if (got != want) {
        snprintf(msg, n, "wrong number of args for %s: want %d got %d", name, want, got);
        return OM_EFORMAT; /* reported without "error calling" */
    }
    return 0;
}

/* Puts a finished buffer into the execution arena as a string value. */
static int str_result(struct tstate_fn *ctx, struct tbuf *b, struct tval *out, char *msg,
                      size_t msglen)
{
    if (b->over) {
        free(b->p);
        fail(msg, msglen, "result too large");
        return OM_ERANGE;
    }
    char *s = tmpl_state_strdup(ctx->st, b->p ? b->p : "", b->len);
    free(b->p);
    if (!s) {
        fail(msg, msglen, "execution memory limit exceeded");
        return OM_ERANGE;
    }
    out->kind = TV_STR;
    out->s = s;
    out->slen = b->len;
    return 0;
}

/* ---- comparisons ---- */

enum bkind { BK_INVALID, BK_BOOL, BK_INT, BK_FLOAT, BK_STR, BK_OTHER };

static enum bkind bkind(const struct tval *v)
{
    switch (v->kind) {
    case TV_NIL: return BK_INVALID;
    case TV_BOOL: return BK_BOOL;
    case TV_INT: return BK_INT;
    case TV_FLOAT: return BK_FLOAT;
    case TV_STR: return BK_STR;
    default: return BK_OTHER;
    }
}

static int str_cmp(const struct tval *a, const struct tval *b)
{
    size_t n = OM_MIN(a->slen, b->slen);
    int c = memcmp(a->s, b->s, n);
    if (c)
        return c;
    return a->slen < b->slen ? -1 : a->slen > b->slen;
}

static int eq2(const struct tval *a, const struct tval *b, bool *truth, char *msg, size_t n)
{
    enum bkind ka = bkind(a), kb = bkind(b);
    *truth = false;
    if (ka != kb) {
        if (ka != BK_INVALID && kb != BK_INVALID)
            return fail(msg, n, "incompatible types for comparison");
        return 0;
    }
    switch (ka) {
    case BK_INVALID: *truth = true; return 0;
    case BK_BOOL: *truth = a->b == b->b; return 0;
    case BK_INT: *truth = a->i == b->i; return 0;
    case BK_FLOAT: *truth = a->f == b->f; return 0;
    case BK_STR: *truth = str_cmp(a, b) == 0; return 0;
    default: { /* slices, maps and Ollama's structs (they hold slices) */
        struct tbuf t = {.limit = 120};
        tmpl_fmt_verb(&t, 's', b);
        snprintf(msg, n, "non-comparable type %s: %s", t.p ? t.p : "", tmpl_val_type_name(b));
        free(t.p);
        return OM_EINVAL;
    }
    }
}

static int fn_eq(struct tstate_fn *ctx, struct tval *out, char *msg, size_t n)
{
    int na = tmpl_state_nargs(ctx);
    if (na == 1)
        return fail(msg, n, "missing argument for comparison");
    if (na < 1) {
        snprintf(msg, n, "wrong number of args for eq: want at least 1 got 0");
        return OM_EFORMAT;
    }
    struct tval a;
    if (tmpl_state_arg(ctx, 0, &a) < 0)
        return -1;
    out->kind = TV_BOOL;
    out->b = false;
    for (int i = 1; i < na; i++) {
        struct tval b;
        if (tmpl_state_arg(ctx, i, &b) < 0)
            return -1;
        bool t;
        if (eq2(&a, &b, &t, msg, n) < 0)
            return OM_EINVAL;
        if (t) {
            out->b = true;
            return 0;
        }
    }
    return 0;
}

static int lt2(const struct tval *a, const struct tval *b, bool *truth, char *msg, size_t n)
{
    enum bkind ka = bkind(a), kb = bkind(b);
    if (ka == BK_INVALID || kb == BK_INVALID || ka == BK_OTHER || kb == BK_OTHER)
        return fail(msg, n, "invalid type for comparison");
    if (ka != kb)
        return fail(msg, n, "incompatible types for comparison");
    if (ka == BK_BOOL)
        return fail(msg, n, "invalid type for comparison");
    switch (ka) {
    case BK_INT: *truth = a->i < b->i; break;
    case BK_FLOAT: *truth = a->f < b->f; break;
    default: *truth = str_cmp(a, b) < 0; break;
    }
    return 0;
}

/* op: 0 ne, 1 lt, 2 le, 3 gt, 4 ge */
static int fn_cmp(struct tstate_fn *ctx, int op, const char *name, struct tval *out, char *msg,
                  size_t n)
{
    if (nargs_check(ctx, name, 2, msg, n) < 0)
        return OM_EFORMAT;
    struct tval a, b;
    if (tmpl_state_arg(ctx, 0, &a) < 0 || tmpl_state_arg(ctx, 1, &b) < 0)
        return -1;
    bool t = false, e = false;
    out->kind = TV_BOOL;
    if (op == 0) {
        if (eq2(&a, &b, &e, msg, n) < 0)
            return OM_EINVAL;
        out->b = !e;
        return 0;
    }
    if (lt2(&a, &b, &t, msg, n) < 0)
        return OM_EINVAL;
    if ((op == 2 || op == 3) && !t && eq2(&a, &b, &e, msg, n) < 0)
        return OM_EINVAL;
    switch (op) {
    case 1: out->b = t; break;
    case 2: out->b = e || t; break;
    case 3: out->b = !(e || t); break;
    default: out->b = !t; break;
    }
    return 0;
}

/* ---- len / index / slice ---- */

static int fn_len(struct tstate_fn *ctx, struct tval *out, char *msg, size_t n)
{
    if (nargs_check(ctx, "len", 1, msg, n) < 0)
        return OM_EFORMAT;
    struct tval v;
    if (tmpl_state_arg(ctx, 0, &v) < 0)
        return -1;
    out->kind = TV_INT;
    switch (v.kind) {
    case TV_STR: out->i = (int64_t)v.slen; return 0;
    case TV_ARR: out->i = (int64_t)json_array_size(v.j); return 0;
    case TV_OBJ:
        if (!tmpl_val_gotype(&v)) {
            if (tmpl_state_charge(ctx->st, json_object_size(v.j)) < 0) {
                fail(msg, n, "execution step limit exceeded");
                return OM_ERANGE;
            }
            out->i = (int64_t)tmpl_obj_len(v.j);
            return 0;
        }
        break;
    case TV_NIL: return fail(msg, n, "len of nil pointer");
    default: break;
    }
    snprintf(msg, n, "len of type %s", tmpl_val_type_name(&v));
    return OM_EINVAL;
}

static int int_arg(const struct tval *v, int64_t *out, char *msg, size_t n, const char *what)
{
    if (v->kind == TV_INT) {
        *out = v->i;
        return 0;
    }
    if (v->kind == TV_NIL)
        return fail(msg, n, "cannot index slice/array with nil");
    snprintf(msg, n, "cannot index slice/array with type %s", tmpl_val_type_name(v));
    (void)what;
    return OM_EINVAL;
}

static int fn_index(struct tstate_fn *ctx, struct tval *out, char *msg, size_t n)
{
    int na = tmpl_state_nargs(ctx);
    if (na < 1)
    {
        snprintf(msg, n, "wrong number of args for index: want at least 1 got 0");
        return OM_EFORMAT;
    }
    struct tval v;
    if (tmpl_state_arg(ctx, 0, &v) < 0)
        return -1;
    if (v.kind == TV_NIL)
        return fail(msg, n, "index of untyped nil");
    for (int i = 1; i < na; i++) {
        struct tval k;
        if (tmpl_state_arg(ctx, i, &k) < 0)
            return -1;
        if (v.kind == TV_NIL)
            return fail(msg, n, "index of untyped nil");
        if (v.kind == TV_ARR || v.kind == TV_STR) {
            int64_t x;
            if (int_arg(&k, &x, msg, n, "index") < 0)
                return OM_EINVAL;
            size_t len = v.kind == TV_ARR ? json_array_size(v.j) : v.slen;
            if (x < 0 || (uint64_t)x >= len) {
                snprintf(msg, n, "index out of range: %lld", (long long)x);
                return OM_EINVAL;
            }
            if (v.kind == TV_STR) {
                struct tval c = {.kind = TV_INT, .i = (unsigned char)v.s[x]};
                v = c;
            } else {
                bool dyn = !(v.flags & TVF_TYPED);
                v = tmpl_val_from_json(json_array_get(v.j, (size_t)x));
                if (dyn && !tmpl_val_gotype(&v))
                    v.flags |= TVF_DYN;
            }
        } else if (v.kind == TV_OBJ && !tmpl_val_gotype(&v)) {
            if (k.kind != TV_STR) {
                snprintf(msg, n, "value has type %s; should be string", tmpl_val_type_name(&k));
                return OM_EINVAL;
            }
            char key[512];
            if (k.slen >= sizeof(key) || memchr(k.s, 0, k.slen)) {
                v = tmpl_val_from_json(NULL);
                continue;
            }
            memcpy(key, k.s, k.slen);
            key[k.slen] = 0;
            json_t *e = tmpl_obj_hidden_key(key) ? NULL : json_object_get(v.j, key);
            v = tmpl_val_from_json(e);
            v.flags |= TVF_DYN;
        } else {
            snprintf(msg, n, "can't index item of type %s", tmpl_val_type_name(&v));
            return OM_EINVAL;
        }
    }
    *out = v;
    return 0;
}

static int fn_slice(struct tstate_fn *ctx, struct tval *out, char *msg, size_t n)
{
    int na = tmpl_state_nargs(ctx);
    if (na < 1)
    {
        snprintf(msg, n, "wrong number of args for slice: want at least 1 got 0");
        return OM_EFORMAT;
    }
    struct tval v;
    if (tmpl_state_arg(ctx, 0, &v) < 0)
        return -1;
    if (v.kind == TV_NIL)
        return fail(msg, n, "slice of untyped nil");
    if (na > 4)
        return fail(msg, n, "too many slice indexes");
    if (v.kind != TV_STR && v.kind != TV_ARR) {
        snprintf(msg, n, "can't slice item of type %s", tmpl_val_type_name(&v));
        return OM_EINVAL;
    }
    if (v.kind == TV_STR && na == 4)
        return fail(msg, n, "cannot 3-index slice a string");
    int64_t cap = v.kind == TV_STR ? (int64_t)v.slen : (int64_t)json_array_size(v.j);
    int64_t idx[3] = {0, cap, cap};
    for (int i = 1; i < na; i++) {
        struct tval k;
        if (tmpl_state_arg(ctx, i, &k) < 0)
            return -1;
        if (int_arg(&k, &idx[i - 1], msg, n, "slice") < 0)
            return OM_EINVAL;
        if (idx[i - 1] < 0 || idx[i - 1] > cap) {
            snprintf(msg, n, "index out of range: %lld", (long long)idx[i - 1]);
            return OM_EINVAL;
        }
    }
    if (idx[0] > idx[1]) {
        snprintf(msg, n, "invalid slice index: %lld > %lld", (long long)idx[0], (long long)idx[1]);
        return OM_EINVAL;
    }
    if (na == 4 && idx[1] > idx[2]) {
        snprintf(msg, n, "invalid slice index: %lld > %lld", (long long)idx[1], (long long)idx[2]);
        return OM_EINVAL;
    }
    *out = v;
    if (v.kind == TV_STR) {
        out->s = v.s + idx[0];
        out->slen = (size_t)(idx[1] - idx[0]);
        return 0;
    }
    json_t *a = json_array();
    for (int64_t i = idx[0]; i < idx[1]; i++)
        json_array_append(a, json_array_get(v.j, (size_t)i));
    out->j = tmpl_state_keep(ctx->st, a);
    out->flags &= TVF_DYN | TVF_TYPED;
    return 0;
}

/* ---- printing functions ---- */

/* fmt.Sprint / Sprintln of all arguments into b. escaper: the html, js
 * and urlquery way (evalArgs), where a missing value is "<no value>". */
static int sprint(struct tstate_fn *ctx, struct tbuf *b, bool ln, bool escaper)
{
    int na = tmpl_state_nargs(ctx);
    bool prev_str = false;
    for (int i = 0; i < na; i++) {
        struct tval v;
        if (tmpl_state_arg(ctx, i, &v) < 0)
            return -1;
        if (escaper && v.kind == TV_NIL)
            v = (struct tval){.kind = TV_STR, .s = "<no value>", .slen = 10};
        bool is_str = v.kind == TV_STR;
        if (i > 0 && (ln || (!is_str && !prev_str)))
            tmpl_buf_putc(b, ' ');
        tmpl_val_print_arg(b, &v);
        prev_str = is_str;
    }
    if (ln)
        tmpl_buf_putc(b, '\n');
    return 0;
}

static void html_escape(struct tbuf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '"': tmpl_buf_put(o, "&#34;", 5); break;
        case '\'': tmpl_buf_put(o, "&#39;", 5); break;
        case '&': tmpl_buf_put(o, "&amp;", 5); break;
        case '<': tmpl_buf_put(o, "&lt;", 4); break;
        case '>': tmpl_buf_put(o, "&gt;", 4); break;
        case 0: tmpl_buf_put(o, "\xEF\xBF\xBD", 3); break;
        default: tmpl_buf_putc(o, s[i]);
        }
    }
}

static void js_escape(struct tbuf *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\\': tmpl_buf_put(o, "\\\\", 2); break;
        case '\'': tmpl_buf_put(o, "\\'", 2); break;
        case '"': tmpl_buf_put(o, "\\\"", 2); break;
        case '<': tmpl_buf_put(o, "\\u003C", 6); break;
        case '>': tmpl_buf_put(o, "\\u003E", 6); break;
        case '&': tmpl_buf_put(o, "\\u0026", 6); break;
        case '=': tmpl_buf_put(o, "\\u003D", 6); break;
        default:
            if (c < ' ') {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                tmpl_buf_put(o, e, 6);
            } else if (c >= 0x80) { /* non-printable runes as \uXXXX */
                uint32_t cp;
                size_t len = tmpl_utf8_get(s + i, n - i, &cp);
                if ((cp >= 0x80 && cp < 0xA0) || cp == 0x2028 || cp == 0x2029 || cp == 0xAD ||
                    (cp >= 0x200B && cp <= 0x200F) || cp == 0xFEFF)
                    tmpl_buf_printf(o, "\\u%04X", cp);
                else
                    tmpl_buf_put(o, s + i, len);
                i += len - 1;
            } else {
                tmpl_buf_putc(o, (char)c);
            }
        }
    }
}

static void url_escape(struct tbuf *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            tmpl_buf_putc(o, (char)c);
        } else if (c == ' ') {
            tmpl_buf_putc(o, '+');
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            tmpl_buf_put(o, e, 3);
        }
    }
}

static int fn_escaper(struct tstate_fn *ctx, int which, struct tval *out, char *msg, size_t n)
{
    struct tbuf raw = {.limit = TMPL_MAX_OUTPUT};
    if (sprint(ctx, &raw, false, true) < 0) {
        free(raw.p);
        return -1;
    }
    struct tbuf b = {.limit = TMPL_MAX_OUTPUT};
    const char *s = raw.p ? raw.p : "";
    if (which == 0)
        html_escape(&b, s, raw.len);
    else if (which == 1)
        js_escape(&b, s, raw.len);
    else
        url_escape(&b, s, raw.len);
    free(raw.p);
    return str_result(ctx, &b, out, msg, n);
}

/* ---- Ollama's functions ---- */

static void ts_type(struct tbuf *b, const char *t, size_t n)
{
    static const char *const map[][2] = {
        {"string", "string"}, {"number", "number"}, {"integer", "number"},
        {"boolean", "boolean"}, {"array", "any[]"}, {"object", "Record<string, any>"},
        {"null", "null"},
    };
    for (size_t i = 0; i < OM_ARRAY_LEN(map); i++)
        if (strlen(map[i][0]) == n && memcmp(map[i][0], t, n) == 0) {
            tmpl_buf_put(b, map[i][1], strlen(map[i][1]));
            return;
        }
    tmpl_buf_put(b, "any", 3);
}

static void ts_property(struct tbuf *b, json_t *prop, int depth)
{
    json_t *any = json_object_get(prop, "AnyOf");
    if (json_array_size(any) > 0 && depth < 32) {
        for (size_t i = 0; i < json_array_size(any); i++) {
            if (i)
                tmpl_buf_put(b, " | ", 3);
            ts_property(b, json_array_get(any, i), depth + 1);
        }
        return;
    }
    json_t *t = json_object_get(prop, "Type");
    if (json_is_string(t) && json_string_length(t) > 0) {
        ts_type(b, json_string_value(t), json_string_length(t));
        return;
    }
    if (json_array_size(t) > 0) {
        for (size_t i = 0; i < json_array_size(t); i++) {
            json_t *e = json_array_get(t, i);
            if (i)
                tmpl_buf_put(b, " | ", 3);
            ts_type(b, json_string_value(e) ? json_string_value(e) : "", json_string_length(e));
        }
        return;
    }
    tmpl_buf_put(b, "any", 3);
}

static int fn_date(struct tstate_fn *ctx, int days_back, struct tval *out, char *msg, size_t n)
{
    for (int i = 0; i < tmpl_state_nargs(ctx); i++) {
        struct tval v;
        if (tmpl_state_arg(ctx, i, &v) < 0)
            return -1;
    }
    time_t now = time(NULL) - (time_t)days_back * 86400;
    struct tm tm;
    localtime_r(&now, &tm);
    char d[32];
    size_t len = strftime(d, sizeof(d), "%Y-%m-%d", &tm);
    struct tbuf b = {.limit = 64};
    tmpl_buf_put(&b, d, len);
    return str_result(ctx, &b, out, msg, n);
}

int tmpl_func_call(struct tstate_fn *ctx, const char *name, struct tval *out, char *msg, size_t n)
{
    memset(out, 0, sizeof(*out));
    struct tval v;
    int na = tmpl_state_nargs(ctx);
    if (strcmp(name, "and") == 0 || strcmp(name, "or") == 0) {
        bool is_and = name[0] == 'a';
        if (na < 1) {
            snprintf(msg, n, "wrong number of args for %s: want at least 1 got 0", name);
            return OM_EFORMAT;
        }
        for (int i = 0; i < na; i++) {
            if (tmpl_state_arg(ctx, i, &v) < 0)
                return -1;
            if (tmpl_val_truth(&v) != is_and)
                break;
        }
        *out = v;
        return 0;
    }
    if (strcmp(name, "not") == 0) {
        if (nargs_check(ctx, "not", 1, msg, n) < 0)
            return OM_EFORMAT;
        if (tmpl_state_arg(ctx, 0, &v) < 0)
            return -1;
        out->kind = TV_BOOL;
        out->b = !tmpl_val_truth(&v);
        return 0;
    }
    if (strcmp(name, "eq") == 0)
        return fn_eq(ctx, out, msg, n);
    if (strcmp(name, "ne") == 0)
        return fn_cmp(ctx, 0, name, out, msg, n);
    if (strcmp(name, "lt") == 0)
        return fn_cmp(ctx, 1, name, out, msg, n);
    if (strcmp(name, "le") == 0)
        return fn_cmp(ctx, 2, name, out, msg, n);
    if (strcmp(name, "gt") == 0)
        return fn_cmp(ctx, 3, name, out, msg, n);
    if (strcmp(name, "ge") == 0)
        return fn_cmp(ctx, 4, name, out, msg, n);
    if (strcmp(name, "len") == 0)
        return fn_len(ctx, out, msg, n);
    if (strcmp(name, "index") == 0)
        return fn_index(ctx, out, msg, n);
    if (strcmp(name, "slice") == 0)
        return fn_slice(ctx, out, msg, n);
    if (strcmp(name, "print") == 0 || strcmp(name, "println") == 0) {
        struct tbuf b = {.limit = TMPL_MAX_OUTPUT};
        if (sprint(ctx, &b, name[5] == 'l', false) < 0) {
            free(b.p);
            return -1;
        }
        return str_result(ctx, &b, out, msg, n);
    }
    if (strcmp(name, "printf") == 0) {
        struct tbuf b = {.limit = TMPL_MAX_OUTPUT};
        int rc = tmpl_printf(ctx, &b, msg, n);
        if (rc < 0) {
            free(b.p);
            return rc;
        }
        return str_result(ctx, &b, out, msg, n);
    }
    if (strcmp(name, "html") == 0)
        return fn_escaper(ctx, 0, out, msg, n);
    if (strcmp(name, "js") == 0)
        return fn_escaper(ctx, 1, out, msg, n);
    if (strcmp(name, "urlquery") == 0)
        return fn_escaper(ctx, 2, out, msg, n);
    if (strcmp(name, "call") == 0) { /* there are no function values in template data */
        if (na < 1) {
            snprintf(msg, n, "wrong number of args for call: want at least 1 got 0");
            return OM_EFORMAT;
        }
        return fail(msg, n, "call of nil");
    }
    if (strcmp(name, "json") == 0) {
        if (nargs_check(ctx, "json", 1, msg, n) < 0)
            return OM_EFORMAT;
        if (tmpl_state_arg(ctx, 0, &v) < 0)
            return -1;
        struct tbuf b = {.limit = TMPL_MAX_OUTPUT};
        if (tmpl_val_json(&b, &v) < 0) { /* Ollama ignores Marshal errors: "" */
            free(b.p);
            b = (struct tbuf){.limit = 1};
        }
        return str_result(ctx, &b, out, msg, n);
    }
    if (strcmp(name, "currentDate") == 0)
        return fn_date(ctx, 0, out, msg, n);
    if (strcmp(name, "yesterdayDate") == 0)
        return fn_date(ctx, 1, out, msg, n);
    if (strcmp(name, "toTypeScriptType") == 0) {
        if (nargs_check(ctx, "toTypeScriptType", 1, msg, n) < 0)
            return OM_EFORMAT;
        if (tmpl_state_arg(ctx, 0, &v) < 0)
            return -1;
        struct tbuf b = {.limit = 1 << 20};
        const char *gt = tmpl_val_gotype(&v);
        if (gt && strcmp(gt, "ToolProperty") == 0)
            ts_property(&b, v.j, 0);
        else
            tmpl_buf_put(&b, "any", 3);
        return str_result(ctx, &b, out, msg, n);
    }
    snprintf(msg, n, "\"%s\" is not a defined function", name);
    return OM_EINVAL;
}
