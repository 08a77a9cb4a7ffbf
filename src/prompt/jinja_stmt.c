/* prompt: Jinja statement parser — if/elif/else, for (targets, `if`
 * filter, else), set (name, attribute, tuple, block), macro, call, filter,
 * block/generation (rendered in place), break/continue, do. Tag bodies
 * nest at most MAX_NEST deep. */
#include "prompt/jinja_parse_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/om.h"

static int parse_body(struct parser *P, const char *const *ends, const char **which,
                      struct jnode **out);

/* ---- statements ---- */

static bool in_list(const struct jtok *t, const char *const *ends)
{
    for (; ends && *ends; ends++)
        if (tok_is(t, JT_NAME, *ends))
            return true;
    return false;
}

static int end_tag(struct parser *P) { return jp_expect_kind(P, JT_BLOCK_END, "'%}'"); }

/* Body up to one of `ends` (the tag name is consumed; *which names it). */
static int sub_body(struct parser *P, const char *const *ends, const char **which, struct jnode **out)
{
    if (++P->nest > MAX_NEST)
        return om_err(P->err, P->errlen, OM_EFORMAT, "jinja: line %d: blocks nested too deeply",
                      peek(P)->line);
    TRY(parse_body(P, ends, which, out));
    P->nest--;
    return 0;
}

static int parse_if(struct parser *P, int line, struct jnode **out)
{
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    static const char *const endif[] = {"endif", NULL};
    struct nvec conds = {0}, bodies = {0};
    struct jnode *n = jp_mk(P, N_IF, line);
    int rc = n ? 0 : jp_oom(P);
    const char *which = "elif";
    while (!rc && strcmp(which, "elif") == 0) {
        struct jnode *c, *b;
        if ((rc = jp_parse_tuple(P, true, &c)) || (rc = end_tag(P)) || (rc = sub_body(P, ends, &which, &b)))
            break;
        jp_nvec_push(&conds, c, NULL);
        jp_nvec_push(&bodies, b, NULL);
    }
    if (!rc && strcmp(which, "else") == 0 && !(rc = end_tag(P)))
        rc = sub_body(P, endif, &which, &n->els);
    if (!rc)
        rc = end_tag(P);
    if (!rc) {
        n->kids = jp_finish(P, &conds, NULL);
        n->n_kids = conds.n;
        n->body = jp_finish(P, &bodies, NULL);
        n->n_body = bodies.n;
        *out = n;
    }
    jp_nvec_free(&conds);
    jp_nvec_free(&bodies);
    return rc;
}

static int parse_targets(struct parser *P, struct jnode *n)
{
    struct nvec names = {0};
    bool paren = is_op(P, "(");
    if (paren)
        next(P);
    int rc = 0;
    do {
        if (names.n)
            next(P);
        if (peek(P)->kind != JT_NAME) {
            rc = jp_fail(P, "a loop variable");
            break;
        }
        jp_nvec_push(&names, NULL, jp_dupname(P, next(P)));
    } while (is_op(P, ","));
    if (!rc && paren)
        rc = jp_expect_op(P, ")");
    if (!rc) {
        jp_finish(P, &names, &n->kw);
        n->n_kw = names.n;
    }
    jp_nvec_free(&names);
    return rc;
}

static int parse_for(struct parser *P, int line, struct jnode **out)
{
    static const char *const ends[] = {"else", "endfor", NULL};
    static const char *const endfor[] = {"endfor", NULL};
    struct jnode *n;
    NEW(n, N_FOR, line);
    TRY(parse_targets(P, n));
    if (!is_name(P, "in"))
        return jp_fail(P, "'in'");
    next(P);
    TRY(jp_parse_tuple(P, false, &n->a));
    if (is_name(P, "if")) {
        next(P);
        TRY(jp_parse_expression(P, &n->b));
    }
    if (is_name(P, "recursive"))
        return jp_fail(P, "'%}' (recursive loops are not supported)");
    TRY(end_tag(P));
    const char *which;
    n->body = jarena_alloc(P->ar, sizeof(*n->body));
    if (!n->body)
        return jp_oom(P);
    n->n_body = 1;
    TRY(sub_body(P, ends, &which, &n->body[0]));
    if (strcmp(which, "else") == 0) {
        TRY(end_tag(P));
        TRY(sub_body(P, endfor, &which, &n->els));
    }
    TRY(end_tag(P));
    *out = n;
    return 0;
}

static int parse_set(struct parser *P, int line, struct jnode **out)
{
    static const char *const endset[] = {"endset", NULL};
    struct jnode *n;
    NEW(n, N_SET, line);
    if (peek(P)->kind != JT_NAME)
        return jp_fail(P, "a variable name");
    if (tok_is(peek2(P), JT_OP, ",")) {
        NEW(n->a, E_TUPLE, line);
        TRY(parse_targets(P, n->a));
    } else {
        NEW(n->a, E_NAME, line);
        const struct jtok *t = next(P);
        n->a->name = jp_dupname(P, t);
        n->a->name_len = t->n;
        if (is_op(P, ".")) {
            next(P);
            if (peek(P)->kind != JT_NAME)
                return jp_fail(P, "an attribute name");
            struct jnode *attr;
            NEW(attr, E_ATTR, line);
            attr->a = n->a;
            t = next(P);
            attr->name = jp_dupname(P, t);
            attr->name_len = t->n;
            n->a = attr;
        }
    }
    if (is_op(P, "=")) {
        next(P);
        TRY(jp_parse_tuple(P, true, &n->b));
        TRY(end_tag(P));
        *out = n;
        return 0;
    }
    if (n->a->kind != E_NAME)
        return jp_fail(P, "'='");
    n->kind = N_SETBLOCK;
    n->name = n->a->name;
    if (is_op(P, "|"))
        return jp_fail(P, "'%}' (filters on set blocks are not supported)");
    TRY(end_tag(P));
    const char *which;
    n->body = jarena_alloc(P->ar, sizeof(*n->body));
    if (!n->body)
        return jp_oom(P);
    n->n_body = 1;
    TRY(sub_body(P, endset, &which, &n->body[0]));
    TRY(end_tag(P));
    *out = n;
    return 0;
}

/* Parameter list `(a, b=1)` into n->kw / n->kids2 (defaults, NULL when none). */
static int parse_params(struct parser *P, struct jnode *n)
{
    struct nvec v = {0};
    int rc = jp_expect_op(P, "(");
    while (!rc && !is_op(P, ")")) {
        if (v.n && (rc = jp_expect_op(P, ",")))
            break;
        if (peek(P)->kind != JT_NAME) {
            rc = jp_fail(P, "a parameter name");
            break;
        }
        const char *name = jp_dupname(P, next(P));
        struct jnode *def = NULL;
        if (is_op(P, "=")) {
            next(P);
            if ((rc = jp_parse_expression(P, &def)))
                break;
        }
        jp_nvec_push(&v, def, name);
    }
    if (!rc)
        rc = jp_expect_op(P, ")");
    if (!rc) {
        n->kids2 = jp_finish(P, &v, &n->kw);
        n->n_kw = v.n;
    }
    jp_nvec_free(&v);
    return rc;
}

static int parse_macro(struct parser *P, int line, struct jnode **out)
{
    static const char *const ends[] = {"endmacro", NULL};
    struct jnode *n;
    NEW(n, N_MACRO, line);
    if (peek(P)->kind != JT_NAME)
        return jp_fail(P, "a macro name");
    const struct jtok *t = next(P);
    n->name = jp_dupname(P, t);
    n->name_len = t->n;
    TRY(parse_params(P, n));
    TRY(end_tag(P));
    const char *which;
    n->body = jarena_alloc(P->ar, sizeof(*n->body));
    if (!n->body)
        return jp_oom(P);
    n->n_body = 1;
    TRY(sub_body(P, ends, &which, &n->body[0]));
    if (peek(P)->kind == JT_NAME)
        next(P);
    TRY(end_tag(P));
    *out = n;
    return 0;
}

static int parse_simple_block(struct parser *P, int kind, int line, const char *const *ends,
                              struct jnode **out)
{
    struct jnode *n;
    NEW(n, kind, line);
    if (kind == N_CALLBLOCK) {
        if (is_op(P, "("))
            TRY(parse_params(P, n));
        TRY(jp_parse_expression(P, &n->a));
        if (n->a->kind != E_CALL)
            return om_err(P->err, P->errlen, OM_EFORMAT, "jinja: line %d: call block needs a call",
                          line);
    } else if (kind == N_FILTERBLOCK) {
        /* filters applied to the body: a chain of E_FILTER over a NULL input */
        struct jnode *chain = NULL;
        do {
            if (chain)
                next(P);
            struct jnode *f;
            NEW(f, E_FILTER, line);
            if (peek(P)->kind != JT_NAME)
                return jp_fail(P, "a filter name");
            const struct jtok *t = next(P);
            f->name = jp_dupname(P, t);
            f->name_len = t->n;
            f->a = chain;
            if (is_op(P, "(")) {
                next(P);
                TRY(jp_parse_args(P, f));
            }
            chain = f;
        } while (is_op(P, "|"));
        n->a = chain;
    } else {
        while (peek(P)->kind != JT_BLOCK_END && peek(P)->kind != JT_EOF)
            next(P); /* {% block name %} / {% generation %}: arguments ignored */
    }
    TRY(end_tag(P));
    const char *which;
    n->body = jarena_alloc(P->ar, sizeof(*n->body));
    if (!n->body)
        return jp_oom(P);
    n->n_body = 1;
    TRY(sub_body(P, ends, &which, &n->body[0]));
    while (peek(P)->kind == JT_NAME)
        next(P);
    TRY(end_tag(P));
    *out = n;
    return 0;
}

static int parse_stmt(struct parser *P, struct jnode **out)
{
    const struct jtok *t = peek(P);
    if (t->kind != JT_NAME)
        return jp_fail(P, "a statement name");
    next(P);
    static const char *const endcall[] = {"endcall", NULL}, *const endfilter[] = {"endfilter", NULL},
                             *const endblock[] = {"endblock", NULL},
                             *const endgen[] = {"endgeneration", NULL};
    if (tok_is(t, JT_NAME, "if"))
        return parse_if(P, t->line, out);
    if (tok_is(t, JT_NAME, "for"))
        return parse_for(P, t->line, out);
    if (tok_is(t, JT_NAME, "set"))
        return parse_set(P, t->line, out);
    if (tok_is(t, JT_NAME, "macro"))
        return parse_macro(P, t->line, out);
    if (tok_is(t, JT_NAME, "call"))
        return parse_simple_block(P, N_CALLBLOCK, t->line, endcall, out);
    if (tok_is(t, JT_NAME, "filter"))
        return parse_simple_block(P, N_FILTERBLOCK, t->line, endfilter, out);
    if (tok_is(t, JT_NAME, "block"))
        return parse_simple_block(P, N_BODY, t->line, endblock, out);
    if (tok_is(t, JT_NAME, "generation"))
        return parse_simple_block(P, N_BODY, t->line, endgen, out);
    if (tok_is(t, JT_NAME, "break") || tok_is(t, JT_NAME, "continue")) {
        struct jnode *n;
        NEW(n, t->s[0] == 'b' ? N_BREAK : N_CONTINUE, t->line);
        TRY(end_tag(P));
        *out = n;
        return 0;
    }
    if (tok_is(t, JT_NAME, "do")) {
        struct jnode *n;
        NEW(n, N_DO, t->line);
        TRY(jp_parse_tuple(P, true, &n->a));
        TRY(end_tag(P));
        *out = n;
        return 0;
    }
    P->i--;
    return om_err(P->err, P->errlen, OM_EFORMAT, "jinja: line %d: unknown or unexpected tag '%.*s'",
                  t->line, (int)OM_MIN(t->n, 40u), t->s);
}

static int parse_body(struct parser *P, const char *const *ends, const char **which,
                      struct jnode **out)
{
    struct nvec v = {0};
    int rc = 0;
    int line = peek(P)->line;
    for (;;) {
        const struct jtok *t = peek(P);
        struct jnode *n = NULL;
        if (t->kind == JT_EOF) {
            if (ends) {
                const char *const *last = ends;
                while (last[1])
                    last++;
                rc = om_err(P->err, P->errlen, OM_EFORMAT,
                            "jinja: line %d: missing '{%% %s %%}' (block opened at line %d)",
                            t->line, *last, line);
            }
            break;
        }
        if (t->kind == JT_TEXT) {
            next(P);
            if (!(n = jp_mk(P, N_TEXT, t->line))) {
                rc = jp_oom(P);
                break;
            }
            n->name = t->s;
            n->name_len = t->n;
        } else if (t->kind == JT_VAR_BEGIN) {
            next(P);
            if (!(n = jp_mk(P, N_OUTPUT, t->line))) {
                rc = jp_oom(P);
                break;
            }
            if ((rc = jp_parse_tuple(P, true, &n->a)) || (rc = jp_expect_kind(P, JT_VAR_END, "'}}'")))
                break;
        } else if (t->kind == JT_BLOCK_BEGIN) {
            if (in_list(peek2(P), ends)) {
                next(P);
                *which = ends[0];
                for (const char *const *e = ends; *e; e++)
                    if (tok_is(peek(P), JT_NAME, *e))
                        *which = *e;
                next(P);
                break;
            }
            next(P);
            if ((rc = parse_stmt(P, &n)))
                break;
        } else {
            rc = jp_fail(P, "text or a tag");
            break;
        }
        jp_nvec_push(&v, n, NULL);
    }
    if (!rc) {
        struct jnode *b = jp_mk(P, N_BODY, line);
        if (!b)
            rc = jp_oom(P);
        else {
            b->kids = jp_finish(P, &v, NULL);
            b->n_kids = v.n;
            *out = b;
        }
    }
    jp_nvec_free(&v);
    return rc;
}

int jinja_parse_toks(const struct jtoks *t, struct jarena *a, struct jnode **root, char *err,
                     size_t errlen)
{
    struct parser P = {.t = t, .ar = a, .err = err, .errlen = errlen};
    const char *which = NULL;
    return parse_body(&P, NULL, &which, root);
}
