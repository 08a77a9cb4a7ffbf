/* prompt: private interface between the Jinja expression parser
 * (jinja_parse.c) and the statement parser (jinja_stmt.c). */
#ifndef JINJA_PARSE_INT_H
#define JINJA_PARSE_INT_H

#include <string.h>

#include "prompt/jinja_int.h"

#define MAX_NEST 100

struct parser {
    const struct jtoks *t;
    size_t i;
    struct jarena *ar;
    char *err;
    size_t errlen;
    int nest;
};

struct nvec {
    struct jnode **v;
    size_t n, cap;
    const char **names;
};


static inline const struct jtok *peek(struct parser *P) { return &P->t->v[P->i]; }
static inline const struct jtok *peek2(struct parser *P)
{
    return P->i + 1 < P->t->n ? &P->t->v[P->i + 1] : &P->t->v[P->i];
}
static inline const struct jtok *next(struct parser *P)
{
    const struct jtok *t = &P->t->v[P->i];
    if (t->kind != JT_EOF)
        P->i++;
    return t;
}

static inline bool tok_is(const struct jtok *t, int kind, const char *s)
{
    return t->kind == kind && (!s || (t->n == strlen(s) && memcmp(t->s, s, t->n) == 0));
}
static inline bool is_op(struct parser *P, const char *s) { return tok_is(peek(P), JT_OP, s); }
static inline bool is_name(struct parser *P, const char *s) { return tok_is(peek(P), JT_NAME, s); }

#define TRY(x) do { int rc_ = (x); if (rc_) return rc_; } while (0)
#define NEW(var, kind, line) do { var = jp_mk(P, kind, line); if (!var) return jp_oom(P); } while (0)

int jp_fail(struct parser *P, const char *what);
int jp_expect_op(struct parser *P, const char *s);
int jp_expect_kind(struct parser *P, int kind, const char *what);
struct jnode *jp_mk(struct parser *P, int kind, int line);
const char *jp_dupname(struct parser *P, const struct jtok *t);
struct jnode **jp_finish(struct parser *P, struct nvec *v, const char ***names);
void jp_nvec_push(struct nvec *v, struct jnode *n, const char *name);
void jp_nvec_free(struct nvec *v);
int jp_oom(struct parser *P);
int jp_parse_tuple(struct parser *P, bool condexpr, struct jnode **out);
int jp_parse_expression(struct parser *P, struct jnode **out);
int jp_parse_args(struct parser *P, struct jnode *n);

#endif
