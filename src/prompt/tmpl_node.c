/* prompt: template AST nodes — allocation, deep copy, free — and the
 * source position helper shared by parse and execution errors. */
#include "prompt/tmpl_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/om.h"

/* "template: :LINE:COL: msg" with COL the 0-based byte offset in the line,
 * as Go's ErrorContext counts it. */
void tmpl_pos_line_col(const char *src, size_t len, uint32_t pos, int *line, int *col)
{
    int l = 1;
    size_t last = 0;
    bool seen = false;
    for (size_t i = 0; i < pos && i < len; i++)
        if (src[i] == '\n') {
            l++;
            last = i;
            seen = true;
        }
    *line = l;
    *col = (int)(seen ? pos - last - 1 : pos);
}

/* ---- nodes ---- */

struct tnode *tmpl_node_new(enum tnode_type type, uint32_t pos)
{
    struct tnode *n = om_xcalloc(1, sizeof(*n));
    n->type = type;
    n->pos = pos;
    n->end = pos;
    n->epos = pos;
    return n;
}

void tmpl_node_add(struct tnode *parent, struct tnode *kid)
{
    parent->kids = om_xrealloc(parent->kids, (size_t)(parent->nkids + 1) * sizeof(*parent->kids));
    parent->kids[parent->nkids++] = kid;
}

void tmpl_strv_add(char ***v, int *n, const char *s, size_t len)
{
    *v = om_xrealloc(*v, (size_t)(*n + 1) * sizeof(**v));
    char *c = om_xmalloc(len + 1);
    memcpy(c, s, len);
    c[len] = 0;
    (*v)[(*n)++] = c;
}

static void strv_free(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void tmpl_node_free(struct tnode *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->nkids; i++)
        tmpl_node_free(n->kids[i]);
    free(n->kids);
    free(n->text);
    strv_free(n->idents, n->nidents);
    strv_free(n->decl, n->ndecl);
    tmpl_node_free(n->pipe);
    tmpl_node_free(n->list);
    tmpl_node_free(n->elist);
    free(n);
}

struct tnode *tmpl_node_copy(const struct tnode *n)
{
    if (!n)
        return NULL;
    struct tnode *c = om_xmalloc(sizeof(*c));
    *c = *n;
    c->kids = NULL;
    c->nkids = 0;
    for (int i = 0; i < n->nkids; i++)
        tmpl_node_add(c, tmpl_node_copy(n->kids[i]));
    if (n->text) {
        c->text = om_xmalloc(n->tlen + 1);
        memcpy(c->text, n->text, n->tlen + 1);
    }
    c->idents = NULL;
    c->nidents = 0;
    for (int i = 0; i < n->nidents; i++)
        tmpl_strv_add(&c->idents, &c->nidents, n->idents[i], strlen(n->idents[i]));
    c->decl = NULL;
    c->ndecl = 0;
    for (int i = 0; i < n->ndecl; i++)
        tmpl_strv_add(&c->decl, &c->ndecl, n->decl[i], strlen(n->decl[i]));
    c->pipe = tmpl_node_copy(n->pipe);
    c->list = tmpl_node_copy(n->list);
    c->elist = tmpl_node_copy(n->elist);
    return c;
}

void tmpl_free(struct tmpl *t)
{
    if (!t)
        return;
    tmpl_node_free(t->root);
    for (int i = 0; i < t->ndefs; i++) {
        free(t->defs[i].name);
        tmpl_node_free(t->defs[i].root);
    }
    free(t->defs);
    free(t->src);
    free(t);
}
