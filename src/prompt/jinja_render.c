/* prompt: Jinja statements and the public entry points — parse (newline
 * normalization, Jinja's dropped trailing newline), render (frames, loops
 * with `loop.*`, set/namespace assignment, macros and `caller`, captured
 * output for set blocks and filter blocks) and the chat convenience that
 * passes apply_chat_template's variables.
 *
 * Scoping follows Jinja2: each loop iteration and each macro call gets its
 * own frame, so `set` inside them does not leak out (namespace() objects are
 * the way templates carry state across iterations). */
#include "prompt/jinja_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

#define TRY(x) do { int rc_ = (x); if (rc_) return rc_; } while (0)

/* Render arena bound: values created while rendering. */
#define JINJA_MAX_MEMORY (256u << 20)

static struct jframe *frame_new(struct jctx *c, struct jframe *parent)
{
    struct jframe *f = jarena_alloc(&c->ar, sizeof(*f));
    if (!f)
        return NULL;
    f->parent = parent;
    f->vars = jv_dict_new(&c->ar, 4);
    return f;
}

static void frame_set(struct jctx *c, struct jframe *f, const char *name, struct jv v)
{
    jv_dict_set(&c->ar, f->vars, jv_cstr(&c->ar, name), v);
}

/* Runs body with output captured into a new string. */
static int capture(struct jctx *c, struct jframe *f, const struct jnode *body, struct jv *out)
{
    struct jbuf buf = {0}, *saved = c->out;
    c->out = &buf;
    int rc = jinja_exec(c, f, body);
    if (rc == JR_BREAK || rc == JR_CONTINUE)
        rc = 0;
    if (!rc)
        rc = jctx_mem(c);
    c->out = saved;
    if (!rc)
        *out = jv_str(&c->ar, buf.p ? buf.p : "", buf.len);
    jbuf_free(&buf);
    return rc ? rc : jctx_mem(c);
}

int jinja_call_value(struct jctx *c, struct jv fn, const struct jargs *a, struct jv caller,
                     struct jv *out)
{
    const struct jfunc *fu = fn.u.fn;
    if (fu->kind == JF_GLOBAL)
        return jinja_global(c, fu->gname, a, out);
    if (fu->kind == JF_METHOD)
        return jinja_method(c, fu->self, fu->gname, a, out);
    if (fu->kind == JF_CYCLE) {
        if (!a->n)
            return jctx_fail(c, OM_EFORMAT, "jinja: loop.cycle needs at least one argument");
        *out = a->v[fu->index % (int64_t)a->n];
        return 0;
    }
    if (c->depth + 4 > JINJA_MAX_DEPTH)
        return jctx_fail(c, OM_ERANGE, "jinja: macro calls nested deeper than %d", JINJA_MAX_DEPTH);
    const struct jnode *m = fu->node;
    struct jframe *nf = frame_new(c, fu->closure);
    if (!nf)
        return jctx_mem(c);
    struct jv varargs = jv_list_new(&c->ar, 0), kwargs = jv_dict_new(&c->ar, 0);
    for (size_t i = 0; i < m->n_kw; i++) {
        struct jv v = jargs_get(a, i, m->kw[i], jv_undef());
        if (v.kind == JV_UNDEF && m->kids2 && m->kids2[i])
            TRY(jinja_eval(c, nf, m->kids2[i], &v));
        frame_set(c, nf, m->kw[i], v);
    }
    for (size_t i = m->n_kw; i < a->n; i++)
        jv_list_push(&c->ar, varargs, a->v[i]);
    for (size_t i = 0; i < a->nkw; i++) {
        bool known = false;
        for (size_t k = 0; k < m->n_kw; k++)
            known |= strcmp(m->kw[k], a->kwn[i]) == 0;
        if (!known)
            jv_dict_set(&c->ar, kwargs, jv_cstr(&c->ar, a->kwn[i]), a->kwv[i]);
    }
    frame_set(c, nf, "varargs", varargs);
    frame_set(c, nf, "kwargs", kwargs);
    if (caller.kind == JV_FUNC)
        frame_set(c, nf, "caller", caller);
    c->depth += 4;
    int rc = capture(c, nf, m->body[0], out);
    c->depth -= 4;
    return rc;
}

static int assign_targets(struct jctx *c, struct jframe *f, const char **names, size_t n,
                          struct jv v, int line)
{
    if (n == 1) {
        frame_set(c, f, names[0], v);
        return 0;
    }
    if (v.kind != JV_LIST || v.u.l->n != n)
        return jctx_fail(c, OM_EFORMAT, "jinja: line %d: cannot unpack %s into %zu names", line,
                         jv_kind_name(v), n);
    for (size_t i = 0; i < n; i++)
        frame_set(c, f, names[i], v.u.l->v[i]);
    return 0;
}

static int exec_for(struct jctx *c, struct jframe *f, const struct jnode *n)
{
    struct jv it, items;
    TRY(jinja_eval(c, f, n->a, &it));
    TRY(jinja_iterate(c, it, &items));
    if (n->b) { /* `for x in xs if cond`: loop.* counts the kept items */
        struct jv kept = jv_list_new(&c->ar, 0);
        for (size_t i = 0; i < items.u.l->n; i++) {
            struct jframe *tf = frame_new(c, f);
            if (!tf)
                return jctx_mem(c);
            TRY(assign_targets(c, tf, n->kw, n->n_kw, items.u.l->v[i], n->line));
            struct jv cond;
            TRY(jinja_eval(c, tf, n->b, &cond));
            if (jv_truthy(cond))
                jv_list_push(&c->ar, kept, items.u.l->v[i]);
        }
        items = kept;
    }
    TRY(jctx_mem(c));
    size_t len = items.u.l->n;
    struct jlist snapshot = *items.u.l; /* appends inside the body don't extend the loop */
    /* one loop object per loop, updated in place: iterations allocate only their frame */
    static const char *const keys[] = {"index", "index0", "revindex", "revindex0", "first", "last",
                                       "length", "previtem", "nextitem", "depth", "cycle"};
    struct jv loop = jv_dict_new(&c->ar, OM_ARRAY_LEN(keys));
    struct jfunc *cyc = jarena_alloc(&c->ar, sizeof(*cyc));
    if (!cyc)
        return jctx_mem(c);
    memset(cyc, 0, sizeof(*cyc));
    cyc->kind = JF_CYCLE;
    struct jv cycv = {.kind = JV_FUNC};
    cycv.u.fn = cyc;
    for (size_t k = 0; k < OM_ARRAY_LEN(keys); k++)
        jv_dict_set(&c->ar, loop, jv_cstr(&c->ar, keys[k]), jv_undef());
    TRY(jctx_mem(c));
    for (size_t i = 0; i < len; i++) {
        TRY(jctx_charge(c, 1));
        struct jframe *lf = frame_new(c, f);
        if (!lf)
            return jctx_mem(c);
        cyc->index = (int64_t)i;
        struct jv vals[] = {
            jv_int((int64_t)i + 1),
            jv_int((int64_t)i),
            jv_int((int64_t)(len - i)),
            jv_int((int64_t)(len - i - 1)),
            jv_bool(i == 0),
            jv_bool(i + 1 == len),
            jv_int((int64_t)len),
            i ? snapshot.v[i - 1] : jv_undef(),
            i + 1 < len ? snapshot.v[i + 1] : jv_undef(),
            jv_int(1),
            cycv,
        };
        memcpy(loop.u.d->v, vals, sizeof(vals));
        frame_set(c, lf, "loop", loop);
        TRY(assign_targets(c, lf, n->kw, n->n_kw, snapshot.v[i], n->line));
        TRY(jctx_mem(c));
        int rc = jinja_exec(c, lf, n->body[0]);
        if (rc == JR_BREAK)
            break;
        if (rc && rc != JR_CONTINUE)
            return rc;
    }
    if (len == 0 && n->els)
        return jinja_exec(c, f, n->els);
    return 0;
}

static int exec_set(struct jctx *c, struct jframe *f, const struct jnode *n)
{
    struct jv v;
    TRY(jinja_eval(c, f, n->b, &v));
    const struct jnode *t = n->a;
    if (t->kind == E_NAME) {
        frame_set(c, f, t->name, v);
        return jctx_mem(c);
    }
    if (t->kind == E_TUPLE)
        return assign_targets(c, f, t->kw, t->n_kw, v, n->line);
    struct jv obj;
    TRY(jinja_eval(c, f, t->a, &obj));
    if (obj.kind != JV_DICT || !obj.u.d->ns)
        return jctx_fail(c, OM_EFORMAT, "jinja: line %d: cannot assign attribute on a '%s' (only "
                         "namespace objects)", n->line, jv_kind_name(obj));
    jv_dict_set(&c->ar, obj, jv_cstr(&c->ar, t->name), v);
    return jctx_mem(c);
}

static int exec_callblock(struct jctx *c, struct jframe *f, const struct jnode *n)
{
    const struct jnode *call = n->a;
    struct jv fn;
    TRY(jinja_eval(c, f, call->a, &fn));
    if (fn.kind != JV_FUNC || fn.u.fn->kind != JF_MACRO)
        return jctx_fail(c, OM_EFORMAT, "jinja: line %d: call block needs a macro", n->line);
    struct jargs a = {0};
    size_t na = call->n_kids + call->n_kw;
    struct jv *vals = na ? jarena_alloc(&c->ar, na * sizeof(*vals)) : NULL;
    if (na && !vals)
        return jctx_mem(c);
    for (size_t i = 0; i < call->n_kids; i++)
        TRY(jinja_eval(c, f, call->kids[i], &vals[i]));
    for (size_t i = 0; i < call->n_kw; i++)
        TRY(jinja_eval(c, f, call->kids2[i], &vals[call->n_kids + i]));
    a.v = vals;
    a.n = call->n_kids;
    a.kwn = call->kw;
    a.kwv = vals ? vals + call->n_kids : NULL;
    a.nkw = call->n_kw;
    struct jfunc *cf = jarena_alloc(&c->ar, sizeof(*cf));
    if (!cf)
        return jctx_mem(c);
    memset(cf, 0, sizeof(*cf));
    cf->kind = JF_CALLER;
    /* the caller is a macro whose parameters are the call block's */
    struct jnode *m = jarena_alloc(&c->ar, sizeof(*m));
    if (!m)
        return jctx_mem(c);
    *m = *n;
    m->kind = N_MACRO;
    cf->node = m;
    cf->closure = f;
    struct jv callerv = {.kind = JV_FUNC}, out;
    callerv.u.fn = cf;
    TRY(jinja_call_value(c, fn, &a, callerv, &out));
    jv_write_str(c->out, out);
    return jctx_mem(c);
}

static int exec_filterblock(struct jctx *c, struct jframe *f, const struct jnode *n)
{
    struct jv v;
    TRY(capture(c, f, n->body[0], &v));
    const struct jnode *chain[64];
    size_t k = 0;
    for (const struct jnode *e = n->a; e && k < OM_ARRAY_LEN(chain); e = e->a)
        chain[k++] = e;
    while (k--) {
        const struct jnode *e = chain[k];
        struct jargs a = {0};
        size_t na = e->n_kids + e->n_kw;
        struct jv *vals = na ? jarena_alloc(&c->ar, na * sizeof(*vals)) : NULL;
        if (na && !vals)
            return jctx_mem(c);
        for (size_t i = 0; i < e->n_kids; i++)
            TRY(jinja_eval(c, f, e->kids[i], &vals[i]));
        for (size_t i = 0; i < e->n_kw; i++)
            TRY(jinja_eval(c, f, e->kids2[i], &vals[e->n_kids + i]));
        a.v = vals;
        a.n = e->n_kids;
        a.kwn = e->kw;
        a.kwv = vals ? vals + e->n_kids : NULL;
        a.nkw = e->n_kw;
        int rc = jinja_filter(c, e->name, v, &a, &v);
        if (rc == OM_ENOTFOUND)
            return jctx_fail(c, OM_EFORMAT, "jinja: line %d: no filter named '%s'", e->line, e->name);
        TRY(rc);
    }
    jv_write_str(c->out, v);
    return jctx_mem(c);
}

int jinja_exec(struct jctx *c, struct jframe *f, const struct jnode *body)
{
    if (++c->depth > JINJA_MAX_DEPTH) {
        c->depth--;
        return jctx_fail(c, OM_ERANGE, "jinja: blocks nested deeper than %d", JINJA_MAX_DEPTH);
    }
    int rc = 0;
    for (size_t i = 0; !rc && i < body->n_kids; i++) {
        const struct jnode *n = body->kids[i];
        struct jv v;
        if ((rc = jctx_charge(c, 1)))
            break;
        switch (n->kind) {
        case N_TEXT: jbuf_put(c->out, n->name, n->name_len); break;
        case N_OUTPUT:
            if (!(rc = jinja_eval(c, f, n->a, &v)))
                jv_write_str(c->out, v);
            break;
        case N_IF: {
            const struct jnode *run = n->els;
            for (size_t k = 0; k < n->n_kids; k++) {
                if ((rc = jinja_eval(c, f, n->kids[k], &v)))
                    break;
                if (jv_truthy(v)) {
                    run = n->body[k];
                    break;
                }
            }
            if (!rc && run)
                rc = jinja_exec(c, f, run);
            break;
        }
        case N_FOR: rc = exec_for(c, f, n); break;
        case N_SET: rc = exec_set(c, f, n); break;
        case N_SETBLOCK:
            if (!(rc = capture(c, f, n->body[0], &v)))
                frame_set(c, f, n->name, v);
            break;
        case N_MACRO: {
            struct jfunc *fu = jarena_alloc(&c->ar, sizeof(*fu));
            if (!fu)
                break;
            memset(fu, 0, sizeof(*fu));
            fu->kind = JF_MACRO;
            fu->node = n;
            fu->closure = f;
            v.kind = JV_FUNC;
            v.u.fn = fu;
            frame_set(c, f, n->name, v);
            break;
        }
        case N_CALLBLOCK: rc = exec_callblock(c, f, n); break;
        case N_FILTERBLOCK: rc = exec_filterblock(c, f, n); break;
        case N_BREAK: rc = JR_BREAK; break;
        case N_CONTINUE: rc = JR_CONTINUE; break;
        case N_DO: rc = jinja_eval(c, f, n->a, &v); break;
        case N_BODY: rc = jinja_exec(c, f, n->body ? n->body[0] : n); break;
        default: rc = jctx_fail(c, OM_EINVAL, "jinja: line %d: bad statement", n->line);
        }
        if (!rc)
            rc = jctx_mem(c);
    }
    c->depth--;
    return rc;
}

/* ---- public API ---- */

int jinja_parse(const char *src, size_t len, struct jinja **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    if (!src && len)
        return om_err(err, errlen, OM_EINVAL, "jinja: NULL source");
    if (len > JINJA_MAX_SOURCE)
        return om_err(err, errlen, OM_ENOMEM, "jinja: template of %zu bytes is larger than %u",
                      len, JINJA_MAX_SOURCE);
    /* \r\n and \r become \n; one trailing newline is dropped (keep_trailing_newline=False) */
    char *norm = om_xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            norm[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else
            norm[n++] = src[i];
    }
    if (n && norm[n - 1] == '\n')
        n--;
    struct jinja *t = om_xcalloc(1, sizeof(*t));
    jarena_init(&t->ar, 0);
    struct jtoks toks = {0};
    int rc = jinja_lex(norm, n, &t->ar, &toks, err, errlen);
    if (!rc)
        rc = jinja_parse_toks(&toks, &t->ar, &t->root, err, errlen);
    free(toks.v);
    free(norm);
    if (rc) {
        jinja_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void jinja_free(struct jinja *t)
{
    if (!t)
        return;
    jarena_close(&t->ar);
    free(t);
}

int jinja_render(const struct jinja *t, const json_t *vars, char **out, size_t *out_len, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (err && errlen)
        err[0] = 0;
    if (!t)
        return om_err(err, errlen, OM_EINVAL, "jinja: no template");
    if (vars && !json_is_object(vars))
        return om_err(err, errlen, OM_EINVAL, "jinja: variables must be a JSON object");
    struct jctx c = {.err = err, .errlen = errlen};
    struct jbuf buf = {0};
    jarena_init(&c.ar, JINJA_MAX_MEMORY);
    c.out = &buf;
    int rc = 0;
    c.root = frame_new(&c, NULL);
    if (!c.root)
        rc = jctx_mem(&c);
    if (!rc && vars) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)vars, k, v) frame_set(&c, c.root, k, jv_from_json(&c.ar, v, 0));
        rc = jctx_mem(&c);
    }
    if (!rc)
        rc = jinja_exec(&c, c.root, t->root);
    if (rc == JR_BREAK || rc == JR_CONTINUE)
        rc = 0;
    if (!rc)
        rc = jctx_mem(&c);
    jarena_close(&c.ar);
    if (rc) {
        if (err && errlen && !err[0])
            om_err(err, errlen, rc, "jinja: render failed (%s)", om_strerror(rc));
        jbuf_free(&buf);
        return rc;
    }
    if (!buf.p)
        buf.p = om_xstrdup("");
    *out = buf.p;
    if (out_len)
        *out_len = buf.len;
    return 0;
}

int jinja_render_chat(const struct jinja *t, const json_t *messages, const json_t *tools,
                      bool add_generation_prompt, const char *bos_token, const char *eos_token,
                      const json_t *extra, char **out, size_t *out_len, char *err, size_t errlen)
{
    *out = NULL;
    if (extra && !json_is_object(extra))
        return om_err(err, errlen, OM_EINVAL, "jinja: extra variables must be a JSON object");
    json_t *vars = json_object();
    json_object_set_new(vars, "messages", messages ? json_incref((json_t *)messages) : json_array());
    json_object_set_new(vars, "tools", tools ? json_incref((json_t *)tools) : json_null());
    json_object_set_new(vars, "documents", json_null());
    json_object_set_new(vars, "add_generation_prompt", json_boolean(add_generation_prompt));
    json_object_set_new(vars, "bos_token", json_string(bos_token ? bos_token : ""));
    json_object_set_new(vars, "eos_token", json_string(eos_token ? eos_token : ""));
    if (extra)
        json_object_update(vars, (json_t *)extra);
    int rc = jinja_render(t, vars, out, out_len, err, errlen);
    json_decref(vars);
    return rc;
}

/* ---- AST queries ---- */

static bool uses(const struct jnode *n, const char *name, int depth)
{
    if (!n || depth > 10000)
        return false;
    if ((n->kind == E_NAME || n->kind == E_ATTR) && n->name && strcmp(n->name, name) == 0)
        return true;
    if (n->kind == E_ITEM && n->b && n->b->kind == E_LIT && n->b->lit.kind == JV_STR &&
        strcmp(n->b->lit.u.s->s, name) == 0)
        return true;
    if (n->kind == E_CMP && (n->op == OP_IN || n->op == OP_NOTIN) && n->a && n->a->kind == E_LIT &&
        n->a->lit.kind == JV_STR && strcmp(n->a->lit.u.s->s, name) == 0)
        return true; /* 'tool_calls' in message */
    if (uses(n->a, name, depth + 1) || uses(n->b, name, depth + 1) || uses(n->c, name, depth + 1) ||
        uses(n->els, name, depth + 1))
        return true;
    for (size_t i = 0; i < n->n_kids; i++)
        if (uses(n->kids[i], name, depth + 1))
            return true;
    if (n->kids2) {
        size_t nk2 = n->kind == E_DICT ? n->n_kids : n->n_kw;
        for (size_t i = 0; i < nk2; i++)
            if (uses(n->kids2[i], name, depth + 1))
                return true;
    }
    for (size_t i = 0; i < n->n_body; i++)
        if (uses(n->body[i], name, depth + 1))
            return true;
    return false;
}

bool jinja_uses(const struct jinja *t, const char *name)
{
    return t && name && uses(t->root, name, 0);
}
