/* prompt: parser of the Go text/template language (tmpl_parse).
 *
 * A recursive-descent parser over tmpl_lex.c's tokens that builds the same
 * node shapes as Go's text/template/parse: pipelines with declarations
 * ($x := / $x = / range $i, $e :=), commands, operands with field chains,
 * parenthesised pipelines, if / else if / else, range (else, break,
 * continue), with / else with / else, define / template / block. Like Go
 * it checks at parse time that functions exist and variables are declared.
 * Nesting is bounded by TMPL_MAX_DEPTH so a hostile template cannot exhaust
 * the stack. */
#include "prompt/tmpl_int.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

struct parser {
    struct tlex lx;
    struct ttok la[4]; /* pushed-back tokens, last = next */
    int nla;
    const char *src;
    size_t srclen;
    char *err;
    size_t errlen;
    int rc;
    char **vars;
    int nvars, capvars;
    int range_depth, depth;
    struct tmpl *t;
};

static const char *const keywords[] = {"block", "break", "continue", "define", "else", "end",
                                       "if", "range", "template", "with", "nil", "true", "false"};

static bool tok_is(const struct ttok *t, const char *kw)
{
    return t->type == TT_IDENT && t->n == strlen(kw) && memcmp(t->s, kw, t->n) == 0;
}

static bool tok_keyword(const struct ttok *t)
{
    for (size_t i = 0; i < OM_ARRAY_LEN(keywords); i++)
        if (tok_is(t, keywords[i]))
            return true;
    return false;
}

static void *perr(struct parser *p, uint32_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void *perr(struct parser *p, uint32_t pos, const char *fmt, ...)
{
    if (p->rc)
        return NULL;
    p->rc = OM_EFORMAT;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line, col;
    tmpl_pos_line_col(p->src, p->srclen, pos, &line, &col);
    om_err(p->err, p->errlen, OM_EFORMAT, "template: :%d:%d: %s", line, col, msg);
    return NULL;
}

static void next(struct parser *p, struct ttok *t)
{
    if (p->nla > 0) {
        *t = p->la[--p->nla];
        return;
    }
    if (tmpl_lex_next(&p->lx, t) < 0)
        perr(p, t->pos, "%.*s", (int)t->n, t->s);
}

static void backup(struct parser *p, const struct ttok *t)
{
    assert(p->nla < 4);
    p->la[p->nla++] = *t;
}

static void peek(struct parser *p, struct ttok *t)
{
    next(p, t);
    backup(p, t);
}

static void next_nonspace(struct parser *p, struct ttok *t)
{
    do
        next(p, t);
    while (t->type == TT_SPACE);
}

static void peek_nonspace(struct parser *p, struct ttok *t)
{
    next_nonspace(p, t);
    backup(p, t);
}

static const char *tok_desc(const struct ttok *t, char *buf, size_t n)
{
    switch (t->type) {
    case TT_EOF: return "EOF";
    case TT_RDELIM: return "\"}}\"";
    case TT_LDELIM: return "\"{{\"";
    case TT_SPACE: return "space";
    default:
        if (tok_keyword(t)) {
            snprintf(buf, n, "<%.*s>", (int)t->n, t->s);
            return buf;
        }
        /* Go's %q of the token, cut to 10 bytes plus "..." when longer */
        size_t k = 0, lim = t->n > 10 ? 10 : t->n;
        buf[k++] = '"';
        for (size_t i = 0; i < lim && k + 6 < n; i++) {
            unsigned char c = (unsigned char)t->s[i];
            if (c == '"' || c == '\\') {
                buf[k++] = '\\';
                buf[k++] = (char)c;
            } else if (c < 0x20) {
                k += (size_t)snprintf(buf + k, n - k, "\\x%02x", c);
            } else {
                buf[k++] = (char)c;
            }
        }
        buf[k++] = '"';
        buf[k] = 0;
        if (t->n > 10 && k + 4 < n)
            memcpy(buf + k, "...", 4);
        return buf;
    }
}

static void *unexpected(struct parser *p, const struct ttok *t, const char *ctx)
{
    char b[64];
    if (t->type == TT_ERROR)
        return perr(p, t->pos, "%.*s", (int)t->n, t->s);
    return perr(p, t->pos, "unexpected %s in %s", tok_desc(t, b, sizeof(b)), ctx);
}

static void set_text(struct tnode *n, const char *s, size_t len)
{
    n->text = om_xmalloc(len + 1);
    memcpy(n->text, s, len);
    n->text[len] = 0;
    n->tlen = len;
}

/* ---- variables in scope ---- */

static void var_push(struct parser *p, const char *s, size_t n)
{
    tmpl_strv_add(&p->vars, &p->nvars, s, n);
}

static void var_pop_to(struct parser *p, int n)
{
    while (p->nvars > n)
        free(p->vars[--p->nvars]);
}

static bool var_known(struct parser *p, const char *s, size_t n)
{
    for (int i = p->nvars - 1; i >= 0; i--)
        if (strlen(p->vars[i]) == n && memcmp(p->vars[i], s, n) == 0)
            return true;
    return false;
}

/* ---- literals ---- */

int tmpl_unquote(const char *s, size_t n, char **out, size_t *outlen); /* tmpl_lit.c */
int tmpl_number(const char *s, size_t n, struct tnode *num);          /* tmpl_lit.c */

/* ---- grammar ---- */

static struct tnode *pipeline(struct parser *p, const char *ctx, enum ttok_type end);
static struct tnode *item_list(struct parser *p, struct tnode **next_out);

static struct tnode *term(struct parser *p)
{
    struct ttok t;
    next_nonspace(p, &t);
    if (p->rc)
        return NULL;
    struct tnode *n;
    switch (t.type) {
    case TT_IDENT:
        if (tok_is(&t, "nil")) {
            n = tmpl_node_new(TN_NIL, t.pos);
            n->end = t.pos + 3;
            return n;
        }
        if (tok_is(&t, "true") || tok_is(&t, "false")) {
            n = tmpl_node_new(TN_BOOL, t.pos);
            n->bval = t.s[0] == 't';
            n->end = t.pos + (uint32_t)t.n;
            return n;
        }
        if (tok_keyword(&t))
            break;
        n = tmpl_node_new(TN_IDENT, t.pos);
        set_text(n, t.s, t.n);
        n->end = t.pos + (uint32_t)t.n;
        if (!tmpl_func_exists(n->text)) {
            perr(p, t.pos, "function \"%s\" not defined", n->text);
            tmpl_node_free(n);
            return NULL;
        }
        return n;
    case TT_DOT:
        n = tmpl_node_new(TN_DOT, t.pos);
        n->end = t.pos + 1;
        return n;
    case TT_VARIABLE:
        if (!var_known(p, t.s, t.n))
            return perr(p, t.pos, "undefined variable \"%.*s\"", (int)t.n, t.s);
        n = tmpl_node_new(TN_VAR, t.pos);
        tmpl_strv_add(&n->idents, &n->nidents, t.s, t.n);
        n->end = t.pos + (uint32_t)t.n;
        return n;
    case TT_FIELD:
        n = tmpl_node_new(TN_FIELD, t.pos);
        tmpl_strv_add(&n->idents, &n->nidents, t.s + 1, t.n - 1);
        n->end = t.pos + (uint32_t)t.n;
        return n;
    case TT_NUMBER:
    case TT_CHAR:
        n = tmpl_node_new(TN_NUM, t.pos);
        set_text(n, t.s, t.n);
        n->end = t.pos + (uint32_t)t.n;
        if (tmpl_number(t.s, t.n, n) < 0) {
            perr(p, t.pos, "illegal number syntax: \"%.*s\"", (int)OM_MIN(t.n, 40), t.s);
            tmpl_node_free(n);
            return NULL;
        }
        return n;
    case TT_LPAREN: {
        if (++p->depth > TMPL_MAX_DEPTH)
            return perr(p, t.pos, "nesting too deep (max %d)", TMPL_MAX_DEPTH);
        n = pipeline(p, "parenthesized pipeline", TT_RPAREN);
        p->depth--;
        if (n)
            n->pos = n->epos = t.pos;
        return n;
    }
    case TT_STRING:
    case TT_RAWSTRING: {
        n = tmpl_node_new(TN_STR, t.pos);
        n->end = t.pos + (uint32_t)t.n;
        if (tmpl_unquote(t.s, t.n, &n->text, &n->tlen) < 0) {
            perr(p, t.pos, "bad string: %.*s", (int)OM_MIN(t.n, 40), t.s);
            tmpl_node_free(n);
            return NULL;
        }
        return n;
    }
    default:
        break;
    }
    backup(p, &t);
    return NULL;
}

static struct tnode *operand(struct parser *p)
{
    struct tnode *n = term(p);
    if (!n)
        return NULL;
    struct ttok t;
    peek(p, &t);
    if (t.type != TT_FIELD)
        return n;
    if (n->type == TN_BOOL || n->type == TN_STR || n->type == TN_NUM || n->type == TN_NIL ||
        n->type == TN_DOT) {
        tmpl_node_free(n);
        return perr(p, t.pos, "unexpected . after term");
    }
    struct tnode *target = n;
    n->epos = t.pos;
    if (n->type != TN_FIELD && n->type != TN_VAR) {
        target = tmpl_node_new(TN_CHAIN, n->pos);
        target->epos = t.pos;
        target->pipe = n;
    }
    while (!p->rc) {
        peek(p, &t);
        if (t.type != TT_FIELD)
            break;
        next(p, &t);
        tmpl_strv_add(&target->idents, &target->nidents, t.s + 1, t.n - 1);
        target->end = t.pos + (uint32_t)t.n;
    }
    return target;
}

static struct tnode *command(struct parser *p)
{
    struct ttok t;
    peek_nonspace(p, &t);
    struct tnode *cmd = tmpl_node_new(TN_CMD, t.pos);
    for (;;) {
        peek_nonspace(p, &t);
        struct tnode *op = operand(p);
        if (p->rc) {
            tmpl_node_free(op);
            break;
        }
        if (op) {
            tmpl_node_add(cmd, op);
            cmd->end = op->end;
        }
        next(p, &t);
        if (p->rc)
            break;
        if (t.type == TT_SPACE)
            continue;
        if (t.type == TT_RDELIM || t.type == TT_RPAREN) {
            backup(p, &t);
            break;
        }
        if (t.type == TT_PIPE)
            break;
        unexpected(p, &t, "operand");
        break;
    }
    if (!p->rc && cmd->nkids == 0)
        perr(p, cmd->pos, "empty command");
    if (p->rc) {
        tmpl_node_free(cmd);
        return NULL;
    }
    return cmd;
}

static struct tnode *pipeline(struct parser *p, const char *ctx, enum ttok_type end)
{
    struct ttok t, v, after, nx;
    peek_nonspace(p, &t);
    struct tnode *pipe = tmpl_node_new(TN_PIPE, t.pos);
decls:
    peek_nonspace(p, &v);
    if (!p->rc && v.type == TT_VARIABLE) {
        next(p, &v);
        peek(p, &after);
        peek_nonspace(p, &nx);
        if (nx.type == TT_ASSIGN || nx.type == TT_DECLARE) {
            pipe->is_assign = nx.type == TT_ASSIGN;
            next_nonspace(p, &nx);
            tmpl_strv_add(&pipe->decl, &pipe->ndecl, v.s, v.n);
            var_push(p, v.s, v.n);
        } else if (nx.type == TT_COMMA) {
            next_nonspace(p, &nx);
            tmpl_strv_add(&pipe->decl, &pipe->ndecl, v.s, v.n);
            var_push(p, v.s, v.n);
            if (strcmp(ctx, "range") == 0 && pipe->ndecl < 2) {
                peek_nonspace(p, &nx);
                if (nx.type == TT_VARIABLE || nx.type == TT_RDELIM || nx.type == TT_RPAREN)
                    goto decls;
                perr(p, nx.pos, "range can only initialize variables");
            } else {
                perr(p, nx.pos, "too many declarations in %s", ctx);
            }
        } else if (after.type == TT_SPACE) {
            /* "$x foo": $x is an argument; push back $x and the space */
            /* the peeked token is pushed back already; last pushed comes first */
            backup(p, &after);
            backup(p, &v);
        } else {
            backup(p, &v);
        }
    }
    while (!p->rc) {
        next_nonspace(p, &t);
        if (p->rc)
            break;
        if (t.type == end) {
            if (pipe->nkids == 0) {
                perr(p, t.pos, "missing value for %s", ctx);
                break;
            }
            for (int i = 1; i < pipe->nkids; i++) {
                enum tnode_type a = pipe->kids[i]->kids[0]->type;
                if (a == TN_BOOL || a == TN_DOT || a == TN_NIL || a == TN_NUM || a == TN_STR) {
                    perr(p, pipe->kids[i]->pos, "non executable command in pipeline stage %d",
                         i + 1);
                    break;
                }
            }
            /* a parenthesised pipeline ends after its ')' */
            pipe->end = end == TT_RPAREN ? t.pos + 1 : pipe->kids[pipe->nkids - 1]->end;
            if (p->rc)
                break;
            return pipe;
        }
        switch (t.type) {
        case TT_IDENT:
        case TT_CHAR:
        case TT_DOT:
        case TT_FIELD:
        case TT_NUMBER:
        case TT_RAWSTRING:
        case TT_STRING:
        case TT_VARIABLE:
        case TT_LPAREN: {
            if (t.type == TT_IDENT && tok_keyword(&t) && !tok_is(&t, "nil") &&
                !tok_is(&t, "true") && !tok_is(&t, "false")) {
                unexpected(p, &t, ctx);
                break;
            }
            backup(p, &t);
            struct tnode *c = command(p);
            if (c)
                tmpl_node_add(pipe, c);
            break;
        }
        default:
            unexpected(p, &t, ctx);
            break;
        }
    }
    tmpl_node_free(pipe);
    return NULL;
}

/* Control keywords come back as marker nodes: TN_TEXT with text "end" /
 * "else" and nkids -1 are never produced; use sentinels instead. */
static struct tnode end_node, else_node;

static struct tnode *if_control(struct parser *p, uint32_t pos);
static struct tnode *with_control(struct parser *p, uint32_t pos);

static struct tnode *parse_control(struct parser *p, enum tnode_type type, const char *ctx,
                                   uint32_t pos)
{
    if (++p->depth > TMPL_MAX_DEPTH)
        return perr(p, pos, "nesting too deep (max %d)", TMPL_MAX_DEPTH);
    int saved = p->nvars;
    struct tnode *n = tmpl_node_new(type, pos);
    n->pipe = pipeline(p, ctx, TT_RDELIM);
    struct tnode *nx = NULL;
    if (!p->rc) {
        if (type == TN_RANGE)
            p->range_depth++;
        n->list = item_list(p, &nx);
        if (type == TN_RANGE)
            p->range_depth--;
    }
    if (!p->rc && nx == &else_node) {
        struct ttok t;
        peek(p, &t);
        if (type == TN_IF && tok_is(&t, "if")) {
            next(p, &t);
            n->elist = tmpl_node_new(TN_LIST, t.pos);
            struct tnode *c = if_control(p, t.pos);
            if (c)
                tmpl_node_add(n->elist, c);
        } else if (type == TN_WITH && tok_is(&t, "with")) {
            next(p, &t);
            n->elist = tmpl_node_new(TN_LIST, t.pos);
            struct tnode *c = with_control(p, t.pos);
            if (c)
                tmpl_node_add(n->elist, c);
        } else {
            n->elist = item_list(p, &nx);
            if (!p->rc && nx != &end_node)
                perr(p, pos, "expected end; found {{else}}");
        }
    }
    var_pop_to(p, saved);
    p->depth--;
    if (p->rc) {
        tmpl_node_free(n);
        return NULL;
    }
    return n;
}

static struct tnode *if_control(struct parser *p, uint32_t pos)
{
    return parse_control(p, TN_IF, "if", pos);
}

static struct tnode *with_control(struct parser *p, uint32_t pos)
{
    return parse_control(p, TN_WITH, "with", pos);
}

static bool expect_rdelim(struct parser *p, const char *ctx)
{
    struct ttok t;
    next_nonspace(p, &t);
    if (p->rc)
        return false;
    if (t.type != TT_RDELIM) {
        unexpected(p, &t, ctx);
        return false;
    }
    return true;
}

static int template_name(struct parser *p, const char *ctx, char **name, uint32_t *pos)
{
    struct ttok t;
    next_nonspace(p, &t);
    if (p->rc)
        return -1;
    size_t n;
    if ((t.type != TT_STRING && t.type != TT_RAWSTRING) || tmpl_unquote(t.s, t.n, name, &n) < 0) {
        unexpected(p, &t, ctx);
        return -1;
    }
    *pos = t.pos;
    return 0;
}

static void add_def(struct parser *p, char *name, struct tnode *list)
{
    for (int i = 0; i < p->t->ndefs; i++)
        if (strcmp(p->t->defs[i].name, name) == 0) {
            /* redefinition replaces the earlier body, as Go's AddParseTree */
            free(name);
            tmpl_node_free(p->t->defs[i].root);
            p->t->defs[i].root = list;
            return;
        }
    p->t->defs = om_xrealloc(p->t->defs, (size_t)(p->t->ndefs + 1) * sizeof(*p->t->defs));
    p->t->defs[p->t->ndefs].name = name;
    p->t->defs[p->t->ndefs].root = list;
    p->t->ndefs++;
}

/* {{template "name" [pipeline]}} and {{block "name" pipeline}}...{{end}}. */
static struct tnode *template_control(struct parser *p, uint32_t pos, bool block)
{
    char *name = NULL;
    uint32_t npos;
    if (template_name(p, block ? "block clause" : "template clause", &name, &npos) < 0)
        return NULL;
    struct tnode *n = tmpl_node_new(TN_TEMPLATE, pos);
    n->text = name;
    n->tlen = strlen(name);
    struct ttok t;
    next_nonspace(p, &t);
    if (t.type != TT_RDELIM) {
        backup(p, &t);
        n->pipe = pipeline(p, block ? "block clause" : "template clause", TT_RDELIM);
    } else if (block) {
        perr(p, t.pos, "missing value for block clause");
    }
    if (!p->rc && block) {
        int saved = p->nvars;
        char **vs = p->vars;
        int nv = p->nvars, cv = p->capvars;
        p->vars = NULL;
        p->nvars = p->capvars = 0;
        var_push(p, "$", 1);
        struct tnode *nx = NULL;
        if (++p->depth > TMPL_MAX_DEPTH)
            perr(p, pos, "nesting too deep (max %d)", TMPL_MAX_DEPTH);
        struct tnode *list = p->rc ? NULL : item_list(p, &nx);
        p->depth--;
        if (!p->rc && nx != &end_node)
            perr(p, pos, "unexpected {{else}} in block clause");
        var_pop_to(p, 0);
        free(p->vars);
        p->vars = vs;
        p->nvars = nv;
        p->capvars = cv;
        (void)saved;
        if (!p->rc)
            add_def(p, om_xstrdup(name), list);
        else
            tmpl_node_free(list);
    }
    if (p->rc) {
        tmpl_node_free(n);
        return NULL;
    }
    return n;
}

/* After "{{": one action, or &end_node / &else_node markers. */
static struct tnode *action(struct parser *p, uint32_t lpos)
{
    struct ttok t;
    next_nonspace(p, &t);
    if (p->rc)
        return NULL;
    if (tok_is(&t, "end"))
        return expect_rdelim(p, "end") ? &end_node : NULL;
    if (tok_is(&t, "else")) {
        struct ttok k;
        peek_nonspace(p, &k);
        if (tok_is(&k, "if") || tok_is(&k, "with"))
            return &else_node;
        return expect_rdelim(p, "else") ? &else_node : NULL;
    }
    if (tok_is(&t, "if"))
        return if_control(p, lpos);
    if (tok_is(&t, "with"))
        return with_control(p, lpos);
    if (tok_is(&t, "range"))
        return parse_control(p, TN_RANGE, "range", lpos);
    if (tok_is(&t, "break") || tok_is(&t, "continue")) {
        bool brk = t.s[0] == 'b';
        if (!expect_rdelim(p, brk ? "{{break}}" : "{{continue}}"))
            return NULL;
        if (p->range_depth == 0)
            return perr(p, t.pos, "{{%s}} outside {{range}}", brk ? "break" : "continue");
        return tmpl_node_new(brk ? TN_BREAK : TN_CONTINUE, t.pos);
    }
    if (tok_is(&t, "template"))
        return template_control(p, lpos, false);
    if (tok_is(&t, "block"))
        return template_control(p, lpos, true);
    if (tok_is(&t, "define"))
        return perr(p, t.pos, "unexpected <define> in command");
    backup(p, &t);
    struct tnode *a = tmpl_node_new(TN_ACTION, t.pos);
    a->pipe = pipeline(p, "command", TT_RDELIM);
    if (!a->pipe) {
        tmpl_node_free(a);
        return NULL;
    }
    a->end = a->pipe->end;
    return a;
}

static struct tnode *text_or_action(struct parser *p)
{
    struct ttok t;
    next_nonspace(p, &t);
    if (p->rc)
        return NULL;
    if (t.type == TT_TEXT) {
        struct tnode *n = tmpl_node_new(TN_TEXT, t.pos);
        set_text(n, t.s, t.n);
        return n;
    }
    if (t.type == TT_LDELIM)
        return action(p, t.pos);
    return unexpected(p, &t, "input");
}

static struct tnode *item_list(struct parser *p, struct tnode **next_out)
{
    struct ttok t;
    peek_nonspace(p, &t);
    struct tnode *list = tmpl_node_new(TN_LIST, t.pos);
    *next_out = NULL;
    while (!p->rc) {
        peek_nonspace(p, &t);
        if (p->rc)
            break;
        if (t.type == TT_EOF) {
            perr(p, t.pos, "unexpected EOF");
            break;
        }
        struct tnode *n = text_or_action(p);
        if (!n)
            break;
        if (n == &end_node || n == &else_node) {
            *next_out = n;
            return list;
        }
        tmpl_node_add(list, n);
    }
    tmpl_node_free(list);
    return NULL;
}

static void parse_define(struct parser *p, uint32_t pos)
{
    char *name = NULL;
    uint32_t npos;
    if (template_name(p, "define clause", &name, &npos) < 0)
        return;
    if (!expect_rdelim(p, "define clause")) {
        free(name);
        return;
    }
    int saved = p->nvars;
    var_pop_to(p, 1);
    struct tnode *nx = NULL;
    struct tnode *list = item_list(p, &nx);
    if (!p->rc && nx != &end_node)
        perr(p, pos, "unexpected {{else}} in define clause");
    (void)saved;
    if (p->rc) {
        free(name);
        tmpl_node_free(list);
        return;
    }
    add_def(p, name, list);
}

int tmpl_parse(const char *src, size_t len, struct tmpl **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!src && len)
        return om_err(err, errlen, OM_EINVAL, "template: NULL source");
    if (len > TMPL_MAX_SRC)
        return om_err(err, errlen, OM_ENOMEM, "template: %zu bytes exceeds the %u byte limit",
                      len, TMPL_MAX_SRC);
    struct parser p;
    memset(&p, 0, sizeof(p));
    p.src = src ? src : "";
    p.srclen = len;
    p.err = err;
    p.errlen = errlen;
    tmpl_lex_init(&p.lx, p.src, len);
    p.t = om_xcalloc(1, sizeof(*p.t));
    p.t->src = om_xmalloc(len + 1);
    memcpy(p.t->src, p.src, len);
    p.t->src[len] = 0;
    p.t->srclen = len;
    p.t->root = tmpl_node_new(TN_LIST, 0);
    var_push(&p, "$", 1);
    struct ttok t;
    while (!p.rc) {
        peek(&p, &t);
        if (p.rc || t.type == TT_EOF)
            break;
        if (t.type == TT_LDELIM) {
            struct ttok d, k;
            next(&p, &d);
            next_nonspace(&p, &k);
            if (!p.rc && tok_is(&k, "define")) {
                parse_define(&p, d.pos);
                continue;
            }
            backup(&p, &k);
            backup(&p, &d);
        }
        struct tnode *n = text_or_action(&p);
        if (!n)
            break;
        if (n == &end_node || n == &else_node) {
            perr(&p, t.pos, "unexpected {{%s}}", n == &end_node ? "end" : "else");
            break;
        }
        tmpl_node_add(p.t->root, n);
    }
    var_pop_to(&p, 0);
    free(p.vars);
    if (p.rc) {
        tmpl_free(p.t);
        return p.rc;
    }
    *out = p.t;
    return 0;
}
