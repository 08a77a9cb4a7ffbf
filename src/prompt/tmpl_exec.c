/* prompt: executor of parsed Go templates (tmpl_exec).
 *
 * Walks the AST the way Go's text/template exec.go does: a variable stack
 * with marks popped at the end of each control structure ($ is the data
 * root), pipelines whose piped value becomes the last argument, field
 * chains on objects (maps: missing key -> nil; structs, marked with
 * TMPL_GO_TYPE_KEY: missing field -> error), range over arrays, objects
 * (sorted keys) and integers with break/continue, if/with truthiness, and
 * {{template}} calls. Every node and iteration costs a step; steps, output
 * bytes, arena bytes and call depth are bounded, so execution always ends. */
#include "prompt/tmpl_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

void tmpl_pos_line_col(const char *src, size_t len, uint32_t pos, int *line, int *col);

#define ARENA_MAX (64u << 20)

struct tvar {
    const char *name;
    struct tval v;
};

struct tstate {
    const struct tmpl *t;
    struct tbuf out;
    struct tvar *vars;
    int nvars, capvars;
    uint64_t steps;
    int depth;
    void **arena;
    size_t narena, caparena, arena_bytes;
    char *err;
    size_t errlen;
    int rc;
    int brk; /* 1 break, 2 continue */
};

/* ---- output buffer ---- */

void tmpl_buf_put(struct tbuf *b, const char *s, size_t n)
{
    if (b->over || n == 0)
        return;
    if (b->limit && b->len + n > b->limit) {
        b->over = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n + 1)
            c *= 2;
        b->p = om_xrealloc(b->p, c);
        b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void tmpl_buf_putc(struct tbuf *b, char c) { tmpl_buf_put(b, &c, 1); }

void tmpl_buf_printf(struct tbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        tmpl_buf_put(b, tmp, OM_MIN((size_t)n, sizeof(tmp) - 1));
}

/* ---- errors ---- */

static int xerr(struct tstate *st, const struct tnode *n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int xerr(struct tstate *st, const struct tnode *n, int rc, const char *fmt, ...)
{
    if (st->rc)
        return st->rc;
    st->rc = rc;
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!n) {
        om_err(st->err, st->errlen, rc, "template: %s", msg);
        return rc;
    }
    int line, col;
    tmpl_pos_line_col(st->t->src, st->t->srclen, n->epos, &line, &col);
    size_t a = n->pos, e = n->end > n->pos ? n->end : n->pos;
    if (e > st->t->srclen)
        e = st->t->srclen;
    if (e - a > 60)
        e = a + 60;
    om_err(st->err, st->errlen, rc, "template: :%d:%d: executing \"\" at <%.*s>: %s", line, col,
           (int)(e - a), st->t->src + a, msg);
    return rc;
}

int tmpl_state_charge(struct tstate *st, uint64_t cost)
{
    st->steps += cost;
    return st->steps > TMPL_MAX_STEPS ? OM_ERANGE : 0;
}

static int step(struct tstate *st, const struct tnode *n)
{
    if (++st->steps > TMPL_MAX_STEPS)
        return xerr(st, n, OM_ERANGE, "execution exceeds %u steps", TMPL_MAX_STEPS);
    if (st->out.over)
        return xerr(st, n, OM_ERANGE, "output exceeds %zu bytes", st->out.limit);
    return 0;
}

/* ---- arena ---- */

static void arena_add(struct tstate *st, void *p)
{
    if (st->narena == st->caparena) {
        st->caparena = st->caparena ? st->caparena * 2 : 16;
        st->arena = om_xrealloc(st->arena, st->caparena * sizeof(*st->arena));
    }
    st->arena[st->narena++] = p;
}

char *tmpl_state_strdup(struct tstate *st, const char *s, size_t n)
{
    if (st->arena_bytes + n > ARENA_MAX)
        return NULL;
    st->arena_bytes += n + 1;
    char *c = om_xmalloc(n + 1);
    if (n)
        memcpy(c, s, n);
    c[n] = 0;
    arena_add(st, c);
    return c;
}

/* Arena entries tagged by the low bit are json references. */
json_t *tmpl_state_keep(struct tstate *st, json_t *j)
{
    if (!j)
        return NULL;
    arena_add(st, (void *)((uintptr_t)j | 1u));
    return j;
}

static void arena_free(struct tstate *st)
{
    for (size_t i = 0; i < st->narena; i++) {
        uintptr_t u = (uintptr_t)st->arena[i];
        if (u & 1u)
            json_decref((json_t *)(u & ~(uintptr_t)1));
        else
            free(st->arena[i]);
    }
    free(st->arena);
}

/* ---- variables ---- */

static void var_push(struct tstate *st, const char *name, const struct tval *v)
{
    if (st->nvars == st->capvars) {
        st->capvars = st->capvars ? st->capvars * 2 : 16;
        st->vars = om_xrealloc(st->vars, (size_t)st->capvars * sizeof(*st->vars));
    }
    st->vars[st->nvars].name = name;
    st->vars[st->nvars].v = *v;
    st->nvars++;
}

static struct tvar *var_find(struct tstate *st, const char *name)
{
    for (int i = st->nvars - 1; i >= 0; i--)
        if (strcmp(st->vars[i].name, name) == 0)
            return &st->vars[i];
    return NULL;
}

/* ---- evaluation ---- */

static int eval_pipeline(struct tstate *st, const struct tval *dot, const struct tnode *pipe,
                         struct tval *out);
static int walk(struct tstate *st, const struct tval *dot, const struct tnode *n);

static bool is_jsonstr_field(const char *f)
{
    return strcmp(f, "Tools") == 0 || strcmp(f, "Arguments") == 0 || strcmp(f, "Properties") == 0;
}

static int eval_field(struct tstate *st, const struct tnode *n, const char *name,
                      const struct tval *recv, bool has_args, struct tval *out)
{
    memset(out, 0, sizeof(*out));
    if (recv->kind == TV_NIL) {
        if (recv->flags & TVF_IFACE)
            return xerr(st, n, OM_EFORMAT, "nil pointer evaluating interface {}.%s", name);
        return 0; /* invalid receiver: zero value, as Go */
    }
    if ((recv->flags & TVF_JSONSTR) && strcmp(name, "String") == 0 && !has_args) {
        /* Ollama's Stringer types: .String is their String method */
        struct tbuf b = {.limit = TMPL_MAX_OUTPUT};
        if (tmpl_val_json(&b, recv) < 0)
            b.len = 0;
        char *s = b.over ? NULL : tmpl_state_strdup(st, b.p ? b.p : "", b.len);
        free(b.p);
        if (!s)
            return xerr(st, n, OM_ERANGE, "execution memory limit exceeded");
        out->kind = TV_STR;
        out->s = s;
        out->slen = strlen(s);
        return 0;
    }
    if (recv->kind != TV_OBJ)
        return xerr(st, n, OM_EFORMAT, "can't evaluate field %s in type %s", name,
                    (recv->flags & TVF_DYN) ? "interface {}" : tmpl_val_type_name(recv));
    const char *gt = tmpl_val_gotype(recv);
    if (has_args)
        return xerr(st, n, OM_EFORMAT,
                    gt ? "%s has arguments but cannot be invoked as function"
                       : "%s is not a method but has arguments",
                    name);
    json_t *v = tmpl_obj_hidden_key(name) ? NULL : json_object_get(recv->j, name);
    if (!v) {
        if (gt)
            return xerr(st, n, OM_EFORMAT, "can't evaluate field %s in type %s", name,
                        tmpl_val_type_name(recv));
        out->kind = TV_NIL;
        out->flags = st->t->missing_invalid ? 0 : TVF_IFACE;
        return 0;
    }
    *out = tmpl_val_from_json(v);
    if (!gt)
        out->flags |= TVF_DYN;
    else if (out->kind == TV_ARR && strcmp(name, "Required") == 0)
        out->flags |= TVF_TYPED; /* []string among Ollama's struct fields */
    if ((out->kind == TV_ARR || out->kind == TV_OBJ) && is_jsonstr_field(name))
        out->flags |= TVF_JSONSTR;
    if (out->kind == TV_ARR && json_array_size(v) == 0) {
        char key[80];
        snprintf(key, sizeof key, "%s%s", TMPL_NIL_SLICE_KEY, name);
        if (json_is_true(json_object_get(recv->j, key)))
            out->flags |= TVF_NILSLICE;
    }
    return 0;
}

/* Applies idents[from..] to v. has_args: the final field gets arguments. */
static int eval_chain(struct tstate *st, const struct tnode *n, char **idents, int from, int count,
                      struct tval *v, bool has_args)
{
    for (int i = from; i < count; i++) {
        struct tval next;
        if (eval_field(st, n, idents[i], v, has_args && i == count - 1, &next) < 0)
            return st->rc;
        *v = next;
    }
    return 0;
}

static bool has_extra(const struct tnode *cmd, const struct tval *final)
{
    return cmd->nkids > 1 || final != NULL;
}

static int not_a_function(struct tstate *st, const struct tnode *cmd, const struct tval *final)
{
    if (has_extra(cmd, final))
        return xerr(st, cmd, OM_EFORMAT, "can't give argument to non-function %.*s",
                    (int)(cmd->kids[0]->end > cmd->kids[0]->pos
                              ? cmd->kids[0]->end - cmd->kids[0]->pos
                              : 1),
                    st->t->src + cmd->kids[0]->pos);
    return 0;
}

static void num_value(const struct tnode *n, struct tval *out)
{
    memset(out, 0, sizeof(*out));
    /* Go's idealConstant: float when written with . e E p P (and not hex int) */
    bool hex = n->tlen > 1 && n->text[0] == '0' && (n->text[1] == 'x' || n->text[1] == 'X');
    bool looks_float = n->text[0] != '\'' && strpbrk(n->text, hex ? "pP." : ".eEpP") != NULL;
    if (n->is_float && (looks_float || !n->is_int)) {
        out->kind = TV_FLOAT;
        out->f = n->fval;
    } else {
        out->kind = TV_INT;
        out->i = n->ival;
    }
}

int tmpl_state_eval_arg(struct tstate *st, const struct tnode *arg, const struct tval *dot,
                    struct tval *out)
{
    memset(out, 0, sizeof(*out));
    if (step(st, arg) < 0)
        return st->rc;
    switch (arg->type) {
    case TN_DOT:
        *out = *dot;
        return 0;
    case TN_NIL:
        return 0;
    case TN_BOOL:
        out->kind = TV_BOOL;
        out->b = arg->bval;
        return 0;
    case TN_NUM:
        num_value(arg, out);
        return 0;
    case TN_STR:
        out->kind = TV_STR;
        out->s = arg->text;
        out->slen = arg->tlen;
        return 0;
    case TN_FIELD:
        *out = *dot;
        return eval_chain(st, arg, arg->idents, 0, arg->nidents, out, false);
    case TN_VAR: {
        struct tvar *v = var_find(st, arg->idents[0]);
        if (!v)
            return xerr(st, arg, OM_EFORMAT, "undefined variable: %s", arg->idents[0]);
        *out = v->v;
        return eval_chain(st, arg, arg->idents, 1, arg->nidents, out, false);
    }
    case TN_PIPE:
        return eval_pipeline(st, dot, arg, out);
    case TN_CHAIN:
        if (tmpl_state_eval_arg(st, arg->pipe, dot, out) < 0)
            return st->rc;
        if (out->kind == TV_NIL)
            out->flags &= ~TVF_IFACE;
        return eval_chain(st, arg, arg->idents, 0, arg->nidents, out, false);
    case TN_IDENT: {
        /* a function used as an argument: call it without arguments */
        struct tnode cmd = {.type = TN_CMD, .pos = arg->pos, .end = arg->end};
        struct tnode *kid = (struct tnode *)arg;
        cmd.kids = &kid;
        cmd.nkids = 1;
        struct tstate_fn ctx = {st, &cmd, dot, NULL, NULL};
        char msg[256] = "";
        int rc = tmpl_func_call(&ctx, arg->text, out, msg, sizeof(msg));
        if (!st->rc && rc == OM_EFORMAT)
            return xerr(st, arg, OM_EFORMAT, "%s", msg);
        if (!st->rc && rc < 0)
            return xerr(st, arg, OM_EFORMAT, "error calling %s: %s", arg->text, msg);
        return st->rc;
    }
    default:
        return xerr(st, arg, OM_EFORMAT, "can't handle %s", "node");
    }
}

int tmpl_state_nargs(const struct tstate_fn *ctx)
{
    return ctx->cmd->nkids - 1 + (ctx->final ? 1 : 0);
}

int tmpl_state_arg(struct tstate_fn *ctx, int i, struct tval *out)
{
    if (i < ctx->cmd->nkids - 1)
        return tmpl_state_eval_arg(ctx->st, ctx->cmd->kids[i + 1], ctx->dot, out);
    *out = *ctx->final;
    return 0;
}

static int eval_command(struct tstate *st, const struct tval *dot, const struct tnode *cmd,
                        const struct tval *final, struct tval *out)
{
    const struct tnode *first = cmd->kids[0];
    memset(out, 0, sizeof(*out));
    switch (first->type) {
    case TN_FIELD:
        *out = *dot;
        if (eval_chain(st, first, first->idents, 0, first->nidents, out, has_extra(cmd, final)) < 0)
            return st->rc;
        return 0;
    case TN_CHAIN:
    case TN_VAR:
    case TN_PIPE:
        if (tmpl_state_eval_arg(st, first, dot, out) < 0)
            return st->rc;
        if (first->type == TN_PIPE && out->kind == TV_NIL)
            out->flags &= ~TVF_IFACE;
        return not_a_function(st, cmd, final);
    case TN_IDENT: {
        struct tstate_fn ctx = {st, cmd, dot, final, NULL};
        char msg[256] = "";
        if (st->depth >= TMPL_MAX_DEPTH * 4)
            return xerr(st, cmd, OM_ERANGE, "exceeded maximum template depth (%d)",
                        TMPL_MAX_DEPTH * 4);
        st->depth++;
        int rc = tmpl_func_call(&ctx, first->text, out, msg, sizeof(msg));
        st->depth--;
        if (st->rc)
            return st->rc;
        if (rc == OM_EFORMAT) /* argument count or type: Go reports it before the call */
            return xerr(st, ctx.err_node ? ctx.err_node : first, OM_EFORMAT, "%s", msg);
        if (rc < 0)
            return xerr(st, cmd, rc == OM_ERANGE ? OM_ERANGE : OM_EFORMAT, "error calling %s: %s",
                        first->text, msg);
        return 0;
    }
    case TN_NIL:
        return xerr(st, first, OM_EFORMAT, "nil is not a command");
    default:
        if (not_a_function(st, cmd, final) < 0)
            return st->rc;
        return tmpl_state_eval_arg(st, first, dot, out);
    }
}

static int eval_pipeline(struct tstate *st, const struct tval *dot, const struct tnode *pipe,
                         struct tval *out)
{
    memset(out, 0, sizeof(*out));
    if (!pipe)
        return 0;
    if (st->depth >= TMPL_MAX_DEPTH * 4)
        return xerr(st, pipe, OM_ERANGE, "exceeded maximum template depth (%d)",
                    TMPL_MAX_DEPTH * 4);
    st->depth++;
    struct tval v = {0};
    bool have = false;
    for (int i = 0; i < pipe->nkids; i++) {
        struct tval r;
        if (eval_command(st, dot, pipe->kids[i], have ? &v : NULL, &r) < 0) {
            st->depth--;
            return st->rc;
        }
        v = r;
        have = true;
        /* "lovely": an interface result becomes its concrete value (a nil
         * one the invalid value) */
        v.flags &= ~(TVF_IFACE | TVF_DYN);
    }
    st->depth--;
    for (int i = 0; i < pipe->ndecl; i++) {
        if (pipe->is_assign) {
            struct tvar *var = var_find(st, pipe->decl[i]);
            if (!var)
                return xerr(st, pipe->kids[pipe->nkids - 1], OM_EFORMAT, "undefined variable: %s",
                            pipe->decl[i]);
            var->v = v;
        } else {
            var_push(st, pipe->decl[i], &v);
        }
    }
    *out = v;
    return 0;
}

static int walk_list(struct tstate *st, const struct tval *dot, const struct tnode *list)
{
    if (!list)
        return 0;
    for (int i = 0; i < list->nkids; i++) {
        if (walk(st, dot, list->kids[i]) < 0)
            return st->rc;
        if (st->brk)
            return 0;
    }
    return 0;
}

static int walk_if_with(struct tstate *st, const struct tval *dot, const struct tnode *n)
{
    int mark = st->nvars;
    struct tval v;
    int rc = eval_pipeline(st, dot, n->pipe, &v);
    if (rc == 0) {
        if (tmpl_val_truth(&v))
            rc = walk_list(st, n->type == TN_WITH ? &v : dot, n->list);
        else if (n->elist)
            rc = walk_list(st, dot, n->elist);
    }
    st->nvars = mark;
    return rc;
}

/* One range iteration: sets the declared variables and walks the body. */
static int range_iter(struct tstate *st, const struct tnode *n, int base, const struct tval *idx,
                      const struct tval *elem, bool *stop)
{
    const struct tnode *pipe = n->pipe;
    if (pipe->ndecl > 0) {
        if (pipe->is_assign) {
            struct tvar *v0 = var_find(st, pipe->decl[0]);
            if (v0)
                v0->v = pipe->ndecl > 1 ? *idx : *elem;
            if (pipe->ndecl > 1) {
                struct tvar *v1 = var_find(st, pipe->decl[1]);
                if (v1)
                    v1->v = *elem;
            }
        } else {
            st->vars[base - 1].v = *elem;
            if (pipe->ndecl > 1)
                st->vars[base - 2].v = *idx;
        }
    }
    if (step(st, n) < 0)
        return st->rc;
    int mark = st->nvars;
    int rc = walk_list(st, elem, n->list);
    st->nvars = mark;
    if (rc < 0)
        return rc;
    if (st->brk == 1)
        *stop = true;
    st->brk = 0;
    return 0;
}

static int walk_range(struct tstate *st, const struct tval *dot, const struct tnode *n)
{
    int mark = st->nvars;
    struct tval v;
    if (eval_pipeline(st, dot, n->pipe, &v) < 0)
        return st->rc;
    int base = st->nvars; /* declared variables sit just below */
    bool stop = false, any = false;
    int rc = 0;
    if (v.kind == TV_ARR) {
        size_t len = json_array_size(v.j);
        for (size_t i = 0; i < len && !stop && rc == 0; i++) {
            struct tval idx = {.kind = TV_INT, .i = (int64_t)i};
            struct tval e = tmpl_val_from_json(json_array_get(v.j, i));
            if (!(v.flags & TVF_TYPED) && !tmpl_val_gotype(&e))
                e.flags |= TVF_DYN; /* an element of []interface {} */
            any = true;
            rc = range_iter(st, n, base, &idx, &e, &stop);
        }
    } else if (v.kind == TV_OBJ && !tmpl_val_gotype(&v)) {
        if (tmpl_state_charge(st, json_object_size(v.j)) < 0)
            return xerr(st, n, OM_ERANGE, "execution exceeds %u steps", TMPL_MAX_STEPS);
        size_t nk;
        const char **keys = tmpl_obj_sorted_keys(v.j, &nk);
        for (size_t i = 0; i < nk && !stop && rc == 0; i++) {
            struct tval k = {.kind = TV_STR, .s = keys[i], .slen = strlen(keys[i])};
            struct tval e = tmpl_val_from_json(json_object_get(v.j, keys[i]));
            e.flags |= TVF_DYN;
            any = true;
            rc = range_iter(st, n, base, &k, &e, &stop);
        }
        free(keys);
    } else if (v.kind == TV_INT) {
        if (n->pipe->ndecl > 1)
            rc = xerr(st, n->pipe, OM_EFORMAT,
                      "can't use %lld to iterate over more than one variable", (long long)v.i);
        for (int64_t i = 0; i < v.i && !stop && rc == 0; i++) {
            struct tval e = {.kind = TV_INT, .i = i};
            any = true;
            rc = range_iter(st, n, base, &e, &e, &stop);
        }
    } else if (v.kind != TV_NIL) {
        struct tbuf b = {.limit = 200};
        tmpl_val_print(&b, &v);
        rc = xerr(st, n->pipe->kids[n->pipe->nkids - 1], OM_EFORMAT,
                  "range can't iterate over %s", b.p ? b.p : "");
        free(b.p);
    }
    if (rc == 0 && !any && n->elist) {
        rc = walk_list(st, dot, n->elist);
        /* Go recovers a break from the else list in this range (it only ends
         * the list); a continue goes on to the enclosing range */
        if (st->brk == 1)
            st->brk = 0;
    }
    st->nvars = mark;
    return rc < 0 ? rc : st->rc;
}

static int walk_template(struct tstate *st, const struct tval *dot, const struct tnode *n)
{
    const struct tnode *body = NULL;
    for (int i = 0; i < st->t->ndefs; i++)
        if (strcmp(st->t->defs[i].name, n->text) == 0)
            body = st->t->defs[i].root;
    if (!body)
        return xerr(st, n, OM_EFORMAT, "template \"%s\" not defined", n->text);
    struct tval v;
    if (eval_pipeline(st, dot, n->pipe, &v) < 0)
        return st->rc;
    if (st->depth >= TMPL_MAX_DEPTH)
        return xerr(st, n, OM_ERANGE, "exceeded maximum template depth (%d)", TMPL_MAX_DEPTH);
    /* a called template sees only $ = its data */
    struct tvar *saved = st->vars;
    int sn = st->nvars, sc = st->capvars;
    st->vars = NULL;
    st->nvars = st->capvars = 0;
    var_push(st, "$", &v);
    st->depth++;
    int rc = walk_list(st, &v, body);
    st->depth--;
    free(st->vars);
    st->vars = saved;
    st->nvars = sn;
    st->capvars = sc;
    return rc;
}

static int walk(struct tstate *st, const struct tval *dot, const struct tnode *n)
{
    if (step(st, n) < 0)
        return st->rc;
    switch (n->type) {
    case TN_TEXT:
        tmpl_buf_put(&st->out, n->text, n->tlen);
        return 0;
    case TN_ACTION: {
        struct tval v;
        if (eval_pipeline(st, dot, n->pipe, &v) < 0)
            return st->rc;
        if (n->pipe->ndecl == 0)
            tmpl_val_print(&st->out, &v);
        return 0;
    }
    case TN_IF:
    case TN_WITH:
        return walk_if_with(st, dot, n);
    case TN_RANGE:
        return walk_range(st, dot, n);
    case TN_BREAK:
        st->brk = 1;
        return 0;
    case TN_CONTINUE:
        st->brk = 2;
        return 0;
    case TN_TEMPLATE:
        return walk_template(st, dot, n);
    case TN_LIST:
        return walk_list(st, dot, n);
    default:
        return xerr(st, n, OM_EFORMAT, "unknown node");
    }
}

int tmpl_exec(const struct tmpl *t, const json_t *data, char **out, size_t *out_len, char *err,
              size_t errlen)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!t)
        return om_err(err, errlen, OM_EINVAL, "template: NULL template");
    struct tstate st;
    memset(&st, 0, sizeof(st));
    st.t = t;
    st.err = err;
    st.errlen = errlen;
    st.out.limit = TMPL_MAX_OUTPUT;
    struct tval root = {0};
    if (data)
        root = tmpl_val_from_json((json_t *)data);
    if (root.kind == TV_NIL)
        root.flags = 0;
    var_push(&st, "$", &root);
    int rc = walk_list(&st, &root, t->root);
    if (rc == 0 && st.out.over)
        rc = xerr(&st, NULL, OM_ERANGE, "output exceeds %u bytes", TMPL_MAX_OUTPUT);
    arena_free(&st);
    free(st.vars);
    if (rc < 0) {
        free(st.out.p);
        return rc;
    }
    if (!st.out.p)
        st.out.p = om_xstrdup("");
    *out = st.out.p;
    if (out_len)
        *out_len = st.out.len;
    return 0;
}
