/* prompt: Jinja parser — tokens to an AST, with Jinja2's precedence:
 *   x if c else y  <  or  <  and  <  not  <  comparisons (== != < <= > >= in, not in)
 *   <  + -  <  ~  <  * / // %  <  **  <  unary - +  <  filters `|f` and tests `is t`
 *   <  postfix (.attr [item] [a:b:c] (call))  <  literals, names, (…) […] {…}
 * Recursion and expression depth are bounded (MAX_NEST) so that a hostile
 * template cannot exhaust the stack, here or in the evaluator. */
#include "prompt/jinja_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

#include "prompt/jinja_parse_int.h"

void jp_nvec_push(struct nvec *v, struct jnode *n, const char *name)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->v = om_xrealloc(v->v, v->cap * sizeof(*v->v));
        v->names = om_xrealloc(v->names, v->cap * sizeof(*v->names));
    }
    v->names[v->n] = name;
    v->v[v->n++] = n;
}

void jp_nvec_free(struct nvec *v)
{
    free(v->v);
    free(v->names);
}

int jp_fail(struct parser *P, const char *what)
{
    const struct jtok *t = peek(P);
    char got[48];
    if (t->kind == JT_EOF)
        snprintf(got, sizeof(got), "end of template");
    else if (t->kind == JT_NAME || t->kind == JT_OP)
        snprintf(got, sizeof(got), "'%.*s'", (int)OM_MIN(t->n, 30u), t->s);
    else
        snprintf(got, sizeof(got), "%s",
                 t->kind == JT_STRING ? "a string" : t->kind == JT_VAR_END ? "'}}'"
                 : t->kind == JT_BLOCK_END ? "'%}'" : t->kind == JT_TEXT ? "text" : "a number");
    return om_err(P->err, P->errlen, OM_EFORMAT, "jinja: line %d: expected %s, got %s", t->line,
                  what, got);
}

int jp_expect_op(struct parser *P, const char *s)
{
    if (!is_op(P, s)) {
        char w[16];
        snprintf(w, sizeof(w), "'%s'", s);
        return jp_fail(P, w);
    }
    next(P);
    return 0;
}

int jp_expect_kind(struct parser *P, int kind, const char *what)
{
    if (peek(P)->kind != kind)
        return jp_fail(P, what);
    next(P);
    return 0;
}

struct jnode *jp_mk(struct parser *P, int kind, int line)
{
    struct jnode *n = jarena_alloc(P->ar, sizeof(*n));
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->kind = (uint8_t)kind;
    n->line = line;
    n->depth = 1;
    return n;
}

const char *jp_dupname(struct parser *P, const struct jtok *t)
{
    char *s = jarena_alloc(P->ar, t->n + 1);
    if (!s)
        return NULL;
    memcpy(s, t->s, t->n);
    s[t->n] = 0;
    return s;
}

struct jnode **jp_finish(struct parser *P, struct nvec *v, const char ***names)
{
    struct jnode **a = v->n ? jarena_alloc(P->ar, v->n * sizeof(*a)) : NULL;
    if (a)
        memcpy(a, v->v, v->n * sizeof(*a));
    if (names) {
        *names = v->n ? jarena_alloc(P->ar, v->n * sizeof(**names)) : NULL;
        if (*names)
            memcpy(*names, v->names, v->n * sizeof(**names));
    }
    return a;
}


int jp_oom(struct parser *P)
{
    return om_err(P->err, P->errlen, OM_ENOMEM, "jinja: template too large");
}

static int set_depth(struct parser *P, struct jnode *n)
{
    int d = 0;
    if (n->a && n->a->depth > d) d = n->a->depth;
    if (n->b && n->b->depth > d) d = n->b->depth;
    if (n->c && n->c->depth > d) d = n->c->depth;
    for (size_t i = 0; i < n->n_kids; i++)
        if (n->kids[i] && n->kids[i]->depth > d) d = n->kids[i]->depth;
    n->depth = d + 1;
    if (n->depth > MAX_NEST)
        return om_err(P->err, P->errlen, OM_EFORMAT, "jinja: line %d: expression nested too deeply",
                      n->line);
    return 0;
}

int jp_parse_expression(struct parser *P, struct jnode **out);
static int parse_or(struct parser *P, struct jnode **out);
static int parse_unary(struct parser *P, bool with_filter, struct jnode **out);

/* Comma-separated expressions; a tuple node when there is a comma. */
int jp_parse_tuple(struct parser *P, bool condexpr, struct jnode **out)
{
    int line = peek(P)->line;
    struct jnode *e;
    TRY(condexpr ? jp_parse_expression(P, &e) : parse_or(P, &e));
    if (!is_op(P, ","))
        return *out = e, 0;
    struct nvec v = {0};
    jp_nvec_push(&v, e, NULL);
    while (is_op(P, ",")) {
        next(P);
        const struct jtok *t = peek(P);
        if (t->kind == JT_VAR_END || t->kind == JT_BLOCK_END || tok_is(t, JT_OP, ")") ||
            tok_is(t, JT_OP, "="))
            break;
        int rc = condexpr ? jp_parse_expression(P, &e) : parse_or(P, &e);
        if (rc) {
            jp_nvec_free(&v);
            return rc;
        }
        jp_nvec_push(&v, e, NULL);
    }
    struct jnode *n = jp_mk(P, E_TUPLE, line);
    if (n) {
        n->kids = jp_finish(P, &v, NULL);
        n->n_kids = v.n;
    }
    jp_nvec_free(&v);
    if (!n)
        return jp_oom(P);
    TRY(set_depth(P, n));
    *out = n;
    return 0;
}

/* (args, kw=val) after the '(' was consumed; fills n->kids, n->kw, n->kids2. */
int jp_parse_args(struct parser *P, struct jnode *n)
{
    struct nvec pos = {0}, kw = {0};
    int rc = 0;
    while (!is_op(P, ")")) {
        if (pos.n + kw.n && (rc = jp_expect_op(P, ",")))
            break;
        if (is_op(P, ")"))
            break;
        struct jnode *e;
        if (peek(P)->kind == JT_NAME && tok_is(peek2(P), JT_OP, "=")) {
            const char *name = jp_dupname(P, next(P));
            next(P);
            if ((rc = jp_parse_expression(P, &e)))
                break;
            jp_nvec_push(&kw, e, name);
        } else {
            if (is_op(P, "*") || is_op(P, "**")) {
                rc = jp_fail(P, "an argument (*args is not supported)");
                break;
            }
            if ((rc = jp_parse_expression(P, &e)))
                break;
            jp_nvec_push(&pos, e, NULL);
        }
    }
    if (!rc)
        rc = jp_expect_op(P, ")");
    if (!rc) {
        n->kids = jp_finish(P, &pos, NULL);
        n->n_kids = pos.n;
        n->kids2 = jp_finish(P, &kw, &n->kw);
        n->n_kw = kw.n;
        rc = set_depth(P, n);
        for (size_t i = 0; !rc && i < n->n_kw; i++)
            if (n->kids2[i]->depth + 1 > MAX_NEST)
                rc = set_depth(P, n->kids2[i]);
    }
    jp_nvec_free(&pos);
    jp_nvec_free(&kw);
    return rc;
}

static int parse_primary(struct parser *P, struct jnode **out)
{
    const struct jtok *t = peek(P);
    struct jnode *n;
    if (++P->nest > MAX_NEST)
        return om_err(P->err, P->errlen, OM_EFORMAT, "jinja: line %d: nested too deeply", t->line);
    int rc = 0;
    if (t->kind == JT_NAME) {
        next(P);
        NEW(n, E_LIT, t->line);
        if (tok_is(t, JT_NAME, "true") || tok_is(t, JT_NAME, "True"))
            n->lit = jv_bool(true);
        else if (tok_is(t, JT_NAME, "false") || tok_is(t, JT_NAME, "False"))
            n->lit = jv_bool(false);
        else if (tok_is(t, JT_NAME, "none") || tok_is(t, JT_NAME, "None"))
            n->lit = jv_none();
        else {
            n->kind = E_NAME;
            if (!(n->name = jp_dupname(P, t)))
                return jp_oom(P);
            n->name_len = t->n;
        }
    } else if (t->kind == JT_STRING) {
        /* adjacent literals concatenate */
        size_t total = 0, j = P->i;
        while (P->t->v[j].kind == JT_STRING)
            total += P->t->v[j++].n;
        char *s = jarena_alloc(P->ar, total + 1);
        if (!s)
            return jp_oom(P);
        size_t o = 0;
        while (peek(P)->kind == JT_STRING) {
            const struct jtok *st = next(P);
            memcpy(s + o, st->s, st->n);
            o += st->n;
        }
        NEW(n, E_LIT, t->line);
        n->lit = jv_str(P->ar, s, o);
    } else if (t->kind == JT_INT || t->kind == JT_FLOAT) {
        next(P);
        NEW(n, E_LIT, t->line);
        n->lit = t->kind == JT_INT ? jv_int(t->i) : jv_float(t->f);
    } else if (tok_is(t, JT_OP, "(")) {
        next(P);
        if (is_op(P, ")")) {
            next(P);
            NEW(n, E_TUPLE, t->line);
        } else {
            rc = jp_parse_tuple(P, true, &n);
            if (!rc)
                rc = jp_expect_op(P, ")");
        }
    } else if (tok_is(t, JT_OP, "[") || tok_is(t, JT_OP, "{")) {
        bool dict = t->s[0] == '{';
        const char *close = dict ? "}" : "]";
        next(P);
        struct nvec keys = {0}, vals = {0};
        while (!rc && !is_op(P, close)) {
            if (keys.n && (rc = jp_expect_op(P, ",")))
                break;
            if (is_op(P, close))
                break;
            struct jnode *k, *v;
            if ((rc = jp_parse_expression(P, &k)))
                break;
            jp_nvec_push(&keys, k, NULL);
            if (dict) {
                if ((rc = jp_expect_op(P, ":")) || (rc = jp_parse_expression(P, &v)))
                    break;
                jp_nvec_push(&vals, v, NULL);
            }
        }
        if (!rc)
            rc = jp_expect_op(P, close);
        if (!rc && !(n = jp_mk(P, dict ? E_DICT : E_LIST, t->line)))
            rc = jp_oom(P);
        if (!rc) {
            n->kids = jp_finish(P, &keys, NULL);
            n->n_kids = keys.n;
            n->kids2 = jp_finish(P, &vals, NULL);
            rc = set_depth(P, n);
            for (size_t i = 0; !rc && dict && i < vals.n; i++)
                if (vals.v[i]->depth + 1 > MAX_NEST)
                    rc = set_depth(P, vals.v[i]);
        }
        jp_nvec_free(&keys);
        jp_nvec_free(&vals);
    } else
        rc = jp_fail(P, "an expression");
    P->nest--;
    if (!rc)
        *out = n;
    return rc;
}

static int parse_postfix(struct parser *P, struct jnode **node)
{
    for (;;) {
        const struct jtok *t = peek(P);
        struct jnode *n;
        if (tok_is(t, JT_OP, ".")) {
            next(P);
            const struct jtok *a = next(P);
            if (a->kind == JT_NAME) {
                NEW(n, E_ATTR, t->line);
                if (!(n->name = jp_dupname(P, a)))
                    return jp_oom(P);
                n->name_len = a->n;
            } else if (a->kind == JT_INT) {
                NEW(n, E_ITEM, t->line);
                NEW(n->b, E_LIT, t->line);
                n->b->lit = jv_int(a->i);
            } else {
                P->i--;
                return jp_fail(P, "an attribute name");
            }
            n->a = *node;
        } else if (tok_is(t, JT_OP, "[")) {
            next(P);
            struct jnode *parts[3] = {0};
            int np = 0;
            bool slice = false;
            for (;;) {
                if (is_op(P, ":")) {
                    slice = true;
                    next(P);
                    if (++np > 2)
                        return jp_fail(P, "']'");
                    continue;
                }
                if (is_op(P, "]"))
                    break;
                if (parts[np])
                    return jp_fail(P, "']'");
                TRY(jp_parse_expression(P, &parts[np]));
            }
            next(P);
            if (slice) {
                NEW(n, E_SLICE, t->line);
                n->b = parts[0];
                n->c = parts[1];
                if (parts[2]) {
                    n->kids = jarena_alloc(P->ar, sizeof(*n->kids));
                    if (!n->kids)
                        return jp_oom(P);
                    n->kids[0] = parts[2];
                    n->n_kids = 1;
                }
            } else {
                if (!parts[0])
                    return jp_fail(P, "a subscript");
                NEW(n, E_ITEM, t->line);
                n->b = parts[0];
            }
            n->a = *node;
        } else if (tok_is(t, JT_OP, "(")) {
            next(P);
            NEW(n, E_CALL, t->line);
            n->a = *node;
            TRY(jp_parse_args(P, n));
        } else
            return 0;
        TRY(set_depth(P, n));
        *node = n;
    }
}

static int parse_filter_expr(struct parser *P, struct jnode **node)
{
    for (;;) {
        const struct jtok *t = peek(P);
        struct jnode *n;
        if (tok_is(t, JT_OP, "|")) {
            next(P);
            if (peek(P)->kind != JT_NAME)
                return jp_fail(P, "a filter name");
            NEW(n, E_FILTER, t->line);
            const struct jtok *nm = next(P);
            n->name = jp_dupname(P, nm);
            n->name_len = nm->n;
            n->a = *node;
            if (is_op(P, "(")) {
                next(P);
                TRY(jp_parse_args(P, n));
            }
        } else if (tok_is(t, JT_NAME, "is")) {
            next(P);
            NEW(n, E_TEST, t->line);
            if (is_name(P, "not")) {
                next(P);
                n->neg = true;
            }
            if (peek(P)->kind != JT_NAME)
                return jp_fail(P, "a test name");
            const struct jtok *nm = next(P);
            n->name = jp_dupname(P, nm);
            n->name_len = nm->n;
            n->a = *node;
            const struct jtok *a = peek(P);
            if (tok_is(a, JT_OP, "(")) {
                next(P);
                TRY(jp_parse_args(P, n));
            } else if ((a->kind == JT_NAME && !tok_is(a, JT_NAME, "else") &&
                        !tok_is(a, JT_NAME, "or") && !tok_is(a, JT_NAME, "and") &&
                        !tok_is(a, JT_NAME, "if") && !tok_is(a, JT_NAME, "is") &&
                        !tok_is(a, JT_NAME, "in") && !tok_is(a, JT_NAME, "not")) ||
                       a->kind == JT_STRING || a->kind == JT_INT || a->kind == JT_FLOAT ||
                       tok_is(a, JT_OP, "[") || tok_is(a, JT_OP, "{")) {
                struct jnode *arg;
                TRY(parse_primary(P, &arg));
                TRY(parse_postfix(P, &arg));
                n->kids = jarena_alloc(P->ar, sizeof(*n->kids));
                if (!n->kids)
                    return jp_oom(P);
                n->kids[0] = arg;
                n->n_kids = 1;
            }
            if (is_name(P, "is"))
                return jp_fail(P, "the end of the test (tests cannot be chained with 'is')");
        } else
            return 0;
        TRY(set_depth(P, n));
        *node = n;
    }
}

static int parse_unary(struct parser *P, bool with_filter, struct jnode **out)
{
    const struct jtok *t = peek(P);
    struct jnode *n;
    if (++P->nest > MAX_NEST)
        return om_err(P->err, P->errlen, OM_EFORMAT, "jinja: line %d: nested too deeply", t->line);
    if (tok_is(t, JT_OP, "-") || tok_is(t, JT_OP, "+")) {
        next(P);
        NEW(n, t->s[0] == '-' ? E_NEG : E_POS, t->line);
        TRY(parse_unary(P, false, &n->a));
        TRY(set_depth(P, n));
    } else
        TRY(parse_primary(P, &n));
    TRY(parse_postfix(P, &n));
    if (with_filter)
        TRY(parse_filter_expr(P, &n));
    P->nest--;
    *out = n;
    return 0;
}

static int binary(struct parser *P, int kind, int op, int line, struct jnode *a, struct jnode *b,
                  struct jnode **out)
{
    struct jnode *n;
    NEW(n, kind, line);
    n->op = (uint8_t)op;
    n->a = a;
    n->b = b;
    TRY(set_depth(P, n));
    *out = n;
    return 0;
}

static int parse_pow(struct parser *P, struct jnode **out)
{
    TRY(parse_unary(P, true, out));
    while (is_op(P, "**")) {
        int line = next(P)->line;
        struct jnode *b;
        TRY(parse_unary(P, true, &b));
        TRY(binary(P, E_BIN, OP_POW, line, *out, b, out));
    }
    return 0;
}

static int parse_math2(struct parser *P, struct jnode **out)
{
    TRY(parse_pow(P, out));
    for (;;) {
        int op = is_op(P, "*") ? OP_MUL : is_op(P, "/") ? OP_DIV : is_op(P, "//") ? OP_FLOORDIV
               : is_op(P, "%") ? OP_MOD : -1;
        if (op < 0)
            return 0;
        int line = next(P)->line;
        struct jnode *b;
        TRY(parse_pow(P, &b));
        TRY(binary(P, E_BIN, op, line, *out, b, out));
    }
}

static int parse_concat(struct parser *P, struct jnode **out)
{
    TRY(parse_math2(P, out));
    while (is_op(P, "~")) {
        int line = next(P)->line;
        struct jnode *b;
        TRY(parse_math2(P, &b));
        TRY(binary(P, E_BIN, OP_CONCAT, line, *out, b, out));
    }
    return 0;
}

static int parse_math1(struct parser *P, struct jnode **out)
{
    TRY(parse_concat(P, out));
    for (;;) {
        int op = is_op(P, "+") ? OP_ADD : is_op(P, "-") ? OP_SUB : -1;
        if (op < 0)
            return 0;
        int line = next(P)->line;
        struct jnode *b;
        TRY(parse_concat(P, &b));
        TRY(binary(P, E_BIN, op, line, *out, b, out));
    }
}

static int parse_compare(struct parser *P, struct jnode **out)
{
    struct jnode *left;
    TRY(parse_math1(P, &left));
    struct jnode *result = NULL;
    for (;;) {
        const struct jtok *t = peek(P);
        int op = -1;
        if (t->kind == JT_OP) {
            static const struct { const char *s; int op; } ops[] = {
                {"==", OP_EQ}, {"!=", OP_NE}, {"<", OP_LT}, {"<=", OP_LE}, {">", OP_GT}, {">=", OP_GE}};
            for (size_t k = 0; k < OM_ARRAY_LEN(ops); k++)
                if (tok_is(t, JT_OP, ops[k].s))
                    op = ops[k].op;
            if (op >= 0)
                next(P);
        } else if (tok_is(t, JT_NAME, "in")) {
            next(P);
            op = OP_IN;
        } else if (tok_is(t, JT_NAME, "not") && tok_is(peek2(P), JT_NAME, "in")) {
            next(P);
            next(P);
            op = OP_NOTIN;
        }
        if (op < 0)
            break;
        struct jnode *right = NULL, *cmp = NULL;
        TRY(parse_math1(P, &right));
        TRY(binary(P, E_CMP, op, t->line, left, right, &cmp));
        if (result)
            TRY(binary(P, E_AND, 0, t->line, result, cmp, &result));
        else
            result = cmp;
        left = right;
    }
    *out = result ? result : left;
    return 0;
}

static int parse_not(struct parser *P, struct jnode **out)
{
    if (is_name(P, "not")) {
        int line = next(P)->line;
        struct jnode *n;
        if (++P->nest > MAX_NEST)
            return om_err(P->err, P->errlen, OM_EFORMAT, "jinja: line %d: nested too deeply", line);
        NEW(n, E_NOT, line);
        TRY(parse_not(P, &n->a));
        P->nest--;
        TRY(set_depth(P, n));
        *out = n;
        return 0;
    }
    return parse_compare(P, out);
}

static int parse_and(struct parser *P, struct jnode **out)
{
    TRY(parse_not(P, out));
    while (is_name(P, "and")) {
        int line = next(P)->line;
        struct jnode *b;
        TRY(parse_not(P, &b));
        TRY(binary(P, E_AND, 0, line, *out, b, out));
    }
    return 0;
}

static int parse_or(struct parser *P, struct jnode **out)
{
    TRY(parse_and(P, out));
    while (is_name(P, "or")) {
        int line = next(P)->line;
        struct jnode *b;
        TRY(parse_and(P, &b));
        TRY(binary(P, E_OR, 0, line, *out, b, out));
    }
    return 0;
}

int jp_parse_expression(struct parser *P, struct jnode **out)
{
    if (++P->nest > MAX_NEST)
        return om_err(P->err, P->errlen, OM_EFORMAT, "jinja: line %d: nested too deeply",
                      peek(P)->line);
    TRY(parse_or(P, out));
    while (is_name(P, "if")) {
        int line = next(P)->line;
        struct jnode *n;
        NEW(n, E_COND, line);
        n->a = *out;
        TRY(parse_or(P, &n->b));
        if (is_name(P, "else")) {
            next(P);
            TRY(jp_parse_expression(P, &n->c));
        }
        TRY(set_depth(P, n));
        *out = n;
    }
    P->nest--;
    return 0;
}
