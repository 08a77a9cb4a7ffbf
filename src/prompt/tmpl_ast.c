/* prompt: facts Ollama derives from a template's AST, and its AST edits.
 *
 * - tmpl_uses: Ollama's Template.Vars (template/template.go Identifiers):
 *   every identifier of field and variable nodes reachable through lists,
 *   branches, actions, pipelines and command arguments, case-insensitive.
 * - tmpl_tool_prefix: tools/template.go parseTag — the first non-blank text
 *   inside the first {{ if ... .ToolCalls ... }}, cut before '{', trimmed;
 *   "{" when there is none.
 * - tmpl_think_tags: thinking/template.go InferTags — for each .Thinking
 *   field under a range over .Messages, the first and last text of the
 *   nearest enclosing list (the last such field wins).
 * - tmpl_with_response / tmpl_cut_response: the implicit {{ .Response }}
 *   that template.Parse appends, and the deleteNode cut that the legacy
 *   prompt path applies (everything after the first .Response field). */
#include "prompt/tmpl_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/om.h"

/* ---- identifiers ---- */

static bool ident_in(const struct tnode *n, const char *field, int depth);

static bool idents_match(char **idents, int n, const char *field)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(idents[i], field) == 0)
            return true;
    return false;
}

static bool idents_match_exact(char **idents, int n, const char *field)
{
    for (int i = 0; i < n; i++)
        if (strcmp(idents[i], field) == 0)
            return true;
    return false;
}

static bool ident_in(const struct tnode *n, const char *field, int depth)
{
    if (!n || depth > 4 * TMPL_MAX_DEPTH + 16)
        return false;
    switch (n->type) {
    case TN_LIST:
        for (int i = 0; i < n->nkids; i++)
            if (ident_in(n->kids[i], field, depth + 1))
                return true;
        return false;
    case TN_ACTION:
    case TN_TEMPLATE:
        return ident_in(n->pipe, field, depth + 1);
    case TN_IF:
    case TN_RANGE:
    case TN_WITH:
        return ident_in(n->pipe, field, depth + 1) || ident_in(n->list, field, depth + 1) ||
               ident_in(n->elist, field, depth + 1);
    case TN_PIPE:
        for (int i = 0; i < n->nkids; i++)
            for (int k = 0; k < n->kids[i]->nkids; k++)
                if (ident_in(n->kids[i]->kids[k], field, depth + 1))
                    return true;
        return false;
    case TN_FIELD:
    case TN_VAR:
        return idents_match(n->idents, n->nidents, field);
    default:
        return false;
    }
}

bool tmpl_uses(const struct tmpl *t, const char *field)
{
    if (!t || !field)
        return false;
    if (field[0] == '.')
        field++;
    if (ident_in(t->root, field, 0))
        return true;
    for (int i = 0; i < t->ndefs; i++)
        if (ident_in(t->defs[i].root, field, 0))
            return true;
    return false;
}

/* Ollama's Identifiers fails on a {{template}} call without a pipeline. */
static bool bare_template_call(const struct tnode *n, int depth)
{
    if (!n || depth > 4 * TMPL_MAX_DEPTH + 16)
        return false;
    switch (n->type) {
    case TN_TEMPLATE:
        return n->pipe == NULL;
    case TN_LIST:
        for (int i = 0; i < n->nkids; i++)
            if (bare_template_call(n->kids[i], depth + 1))
                return true;
        return false;
    case TN_IF:
    case TN_RANGE:
    case TN_WITH:
        return bare_template_call(n->list, depth + 1) || bare_template_call(n->elist, depth + 1);
    default:
        return false;
    }
}

int tmpl_check_ollama(const struct tmpl *t, char *err, size_t errlen)
{
    bool bad = t && bare_template_call(t->root, 0);
    for (int i = 0; t && !bad && i < t->ndefs; i++)
        bad = bare_template_call(t->defs[i].root, 0);
    if (bad)
        return om_err(err, errlen, OM_EFORMAT, "undefined template specified");
    return 0;
}

/* ---- tool-call prefix ---- */

static bool is_toolcalls_if(const struct tnode *n)
{
    for (int i = 0; n->pipe && i < n->pipe->nkids; i++) {
        const struct tnode *cmd = n->pipe->kids[i];
        for (int k = 0; k < cmd->nkids; k++)
            if (cmd->kids[k]->type == TN_FIELD &&
                idents_match_exact(cmd->kids[k]->idents, cmd->kids[k]->nidents, "ToolCalls"))
                return true;
    }
    return false;
}

static const struct tnode *find_toolcall_if(const struct tnode *list, int depth)
{
    if (!list || depth > TMPL_MAX_DEPTH + 8)
        return NULL;
    for (int i = 0; i < list->nkids; i++) {
        const struct tnode *n = list->kids[i], *r;
        if (n->type == TN_IF && is_toolcalls_if(n))
            return n;
        if (n->type == TN_IF || n->type == TN_RANGE || n->type == TN_WITH) {
            if ((r = find_toolcall_if(n->list, depth + 1)) != NULL)
                return r;
            if ((r = find_toolcall_if(n->elist, depth + 1)) != NULL)
                return r;
        }
    }
    return NULL;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

/* Depth-first first non-blank text; stops at actions and after the first
 * control structure examined (found or not), as Ollama's findTextNode. */
static const struct tnode *find_text(const struct tnode *list, bool *stop, int depth)
{
    if (!list || depth > TMPL_MAX_DEPTH + 8)
        return NULL;
    for (int i = 0; i < list->nkids; i++) {
        const struct tnode *n = list->kids[i], *r;
        switch (n->type) {
        case TN_TEXT:
            if (blank(n->text, n->tlen))
                continue;
            return n;
        case TN_IF:
        case TN_RANGE:
        case TN_WITH:
            if ((r = find_text(n->list, stop, depth + 1)) != NULL || *stop)
                return r;
            if ((r = find_text(n->elist, stop, depth + 1)) != NULL || *stop)
                return r;
            *stop = true;
            return NULL;
        case TN_ACTION:
            *stop = true;
            return NULL;
        default:
            continue;
        }
    }
    return NULL;
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)s[0]))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *r = om_xmalloc(n + 1);
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

int tmpl_tool_prefix(const struct tmpl *t, char **prefix)
{
    *prefix = NULL;
    const struct tnode *tc = t ? find_toolcall_if(t->root, 0) : NULL;
    bool stop = false;
    const struct tnode *tn = tc ? find_text(tc->list, &stop, 0) : NULL;
    if (!tn) {
        *prefix = om_xstrdup("{");
        return OM_ENOTFOUND;
    }
    /* \r\n -> \n, then cut before '{' and trim */
    char *s = om_xmalloc(tn->tlen + 1);
    size_t n = 0;
    for (size_t i = 0; i < tn->tlen; i++) {
        if (tn->text[i] == '\r' && i + 1 < tn->tlen && tn->text[i + 1] == '\n')
            continue;
        s[n++] = tn->text[i];
    }
    char *brace = memchr(s, '{', n);
    if (brace)
        n = (size_t)(brace - s);
    char *tag = trim_dup(s, n);
    free(s);
    if (!tag[0]) {
        free(tag);
        tag = om_xstrdup("{");
    }
    *prefix = tag;
    return 0;
}

/* ---- thinking tags ---- */

#define MAX_ANC 2048

struct think_walk {
    const struct tnode *anc[MAX_ANC];
    int n;
    char *open, *close;
};

static bool pipe_uses_field0(const struct tnode *n, const char *field, int depth)
{
    if (!n || depth > 4 * TMPL_MAX_DEPTH + 16)
        return false;
    if (n->type == TN_FIELD)
        return n->nidents > 0 && strcmp(n->idents[0], field) == 0;
    if (n->type == TN_PIPE || n->type == TN_CMD)
        for (int i = 0; i < n->nkids; i++)
            if (pipe_uses_field0(n->kids[i], field, depth + 1))
                return true;
    return false;
}

static void think_found(struct think_walk *w)
{
    const struct tnode *range = NULL;
    for (int i = w->n - 1; i >= 0 && !range; i--)
        if (w->anc[i]->type == TN_RANGE)
            range = w->anc[i];
    if (!range || !pipe_uses_field0(range->pipe, "Messages", 0))
        return;
    for (int i = w->n - 1; i >= 0; i--) {
        const struct tnode *l = w->anc[i];
        if (l->type != TN_LIST || l->nkids == 0)
            continue;
        const struct tnode *first = l->kids[0], *last = l->kids[l->nkids - 1];
        if (first->type == TN_TEXT) {
            free(w->open);
            w->open = trim_dup(first->text, first->tlen);
        }
        if (last->type == TN_TEXT) {
            free(w->close);
            w->close = trim_dup(last->text, last->tlen);
        }
        return;
    }
}

static void think_visit(struct think_walk *w, const struct tnode *n)
{
    if (!n || w->n >= MAX_ANC)
        return;
    w->anc[w->n++] = n;
    switch (n->type) {
    case TN_FIELD:
        if (n->nidents > 0 && strcmp(n->idents[0], "Thinking") == 0)
            think_found(w);
        break;
    case TN_LIST:
    case TN_PIPE:
    case TN_CMD:
        for (int i = 0; i < n->nkids; i++)
            think_visit(w, n->kids[i]);
        break;
    case TN_IF:
    case TN_RANGE:
    case TN_WITH:
        think_visit(w, n->pipe);
        think_visit(w, n->list);
        think_visit(w, n->elist);
        break;
    case TN_ACTION:
    case TN_TEMPLATE:
        think_visit(w, n->pipe);
        break;
    default:
        break;
    }
    w->n--;
}

int tmpl_think_tags(const struct tmpl *t, char **open, char **close)
{
    struct think_walk *w = om_xcalloc(1, sizeof(*w));
    if (t)
        think_visit(w, t->root);
    *open = w->open ? w->open : om_xstrdup("");
    *close = w->close ? w->close : om_xstrdup("");
    free(w);
    return (*open)[0] && (*close)[0] ? 0 : OM_ENOTFOUND;
}

/* ---- AST edits ---- */

static struct tmpl *tmpl_clone(const struct tmpl *t)
{
    struct tmpl *c = om_xcalloc(1, sizeof(*c));
    c->root = tmpl_node_copy(t->root);
    c->src = om_xmalloc(t->srclen + 1);
    memcpy(c->src, t->src, t->srclen + 1);
    c->srclen = t->srclen;
    if (t->ndefs) {
        c->defs = om_xcalloc((size_t)t->ndefs, sizeof(*c->defs));
        for (int i = 0; i < t->ndefs; i++) {
            c->defs[i].name = om_xstrdup(t->defs[i].name);
            c->defs[i].root = tmpl_node_copy(t->defs[i].root);
        }
        c->ndefs = t->ndefs;
    }
    return c;
}

struct tmpl *tmpl_with_response(const struct tmpl *t)
{
    struct tmpl *c = tmpl_clone(t);
    uint32_t pos = (uint32_t)t->srclen;
    struct tnode *f = tmpl_node_new(TN_FIELD, pos);
    f->idents = om_xmalloc(sizeof(char *));
    f->idents[0] = om_xstrdup("Response");
    f->nidents = 1;
    struct tnode *cmd = tmpl_node_new(TN_CMD, pos);
    tmpl_node_add(cmd, f);
    struct tnode *pipe = tmpl_node_new(TN_PIPE, pos);
    tmpl_node_add(pipe, cmd);
    struct tnode *act = tmpl_node_new(TN_ACTION, pos);
    act->pipe = pipe;
    tmpl_node_add(c->root, act);
    return c;
}

/* deleteNode: returns n (possibly edited) or NULL when n is deleted. */
static struct tnode *cut(struct tnode *n, bool *cutting)
{
    if (n->type == TN_FIELD && idents_match_exact(n->idents, n->nidents, "Response")) {
        *cutting = true;
        return n;
    }
    if (*cutting) {
        tmpl_node_free(n);
        return NULL;
    }
    switch (n->type) {
    case TN_LIST: {
        int k = 0;
        for (int i = 0; i < n->nkids; i++) {
            struct tnode *c = cut(n->kids[i], cutting);
            if (c)
                n->kids[k++] = c;
        }
        n->nkids = k;
        return n;
    }
    case TN_IF:
    case TN_RANGE:
    case TN_WITH:
        n->list = cut(n->list, cutting);
        if (!n->list)
            n->list = tmpl_node_new(TN_LIST, n->pos);
        if (n->elist)
            n->elist = cut(n->elist, cutting);
        return n;
    case TN_ACTION:
        n->pipe = cut(n->pipe, cutting);
        if (!n->pipe) {
            tmpl_node_free(n);
            return NULL;
        }
        return n;
    case TN_PIPE: {
        for (int i = 0; i < n->nkids; i++) {
            struct tnode *cmd = n->kids[i];
            int k = 0;
            for (int a = 0; a < cmd->nkids; a++) {
                struct tnode *c = cut(cmd->kids[a], cutting);
                if (c)
                    cmd->kids[k++] = c;
            }
            cmd->nkids = k;
            if (k == 0) {
                tmpl_node_free(n);
                return NULL;
            }
        }
        return n;
    }
    default:
        return n;
    }
}

struct tmpl *tmpl_cut_response(const struct tmpl *t)
{
    struct tmpl *c = tmpl_clone(t);
    /* Ollama executes the cut tree as a new template, without its
     * missingkey=zero option: a missing key is the invalid value there */
    c->missing_invalid = true;
    bool cutting = false;
    cut(c->root, &cutting);
    return c;
}
