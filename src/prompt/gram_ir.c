/* prompt: the grammar IR — building rules, interning byte classes, and the
 * analysis that the matcher relies on (see gram_int.h).
 *
 * gram_ir_finish computes, in this order: which rules can match the empty
 * string (fixpoint), whether any rule reaches itself through a leftmost
 * chain of nullable prefixes (left recursion: rejected, since expanding it
 * would never end), FIRST sets of rules in post-order of that acyclic
 * leftmost graph, and per element position the FIRST set and nullability of
 * the rest of its alternative. */
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/gram_int.h"

void gram_ir_init(struct gram *g)
{
    memset(g, 0, sizeof(*g));
    for (int i = 0; i < 256; i++)
        g->byte_cls[i] = UINT32_MAX;
}

/* class interning: open addressing over the class table */
static uint64_t cls_hash(const struct gram_cls *c)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 4; i++) {
        h ^= c->w[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
    }
    return h;
}

static uint32_t *g_cls_tab(struct gram *g, uint32_t *cap);

uint32_t gram_ir_class(struct gram *g, const struct gram_cls *c)
{
    uint32_t cap;
    uint32_t *tab = g_cls_tab(g, &cap);
    uint64_t h = cls_hash(c);
    for (uint32_t i = (uint32_t)h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (tab[i] == UINT32_MAX) {
            if (g->n_cls >= GRAM_MAX_CLASSES)
                return UINT32_MAX;
            if (g->n_cls == g->cap_cls) {
                g->cap_cls = g->cap_cls ? g->cap_cls * 2 : 64;
                g->cls = om_xrealloc(g->cls, g->cap_cls * sizeof(*g->cls));
            }
            g->cls[g->n_cls] = *c;
            tab[i] = g->n_cls;
            return g->n_cls++;
        }
        if (memcmp(&g->cls[tab[i]], c, sizeof(*c)) == 0)
            return tab[i];
    }
}

/* Table of 2x the class bound, allocated on first use; freed at the end of
 * gram_ir_finish (or by gram_free). */
static uint32_t *g_cls_tab(struct gram *g, uint32_t *cap)
{
    *cap = GRAM_MAX_CLASSES * 2;
    if (!g->cls_tab) {
        g->cls_tab = om_xmalloc((size_t)*cap * sizeof(uint32_t));
        memset(g->cls_tab, 0xff, (size_t)*cap * sizeof(uint32_t));
    }
    return g->cls_tab;
}

uint32_t gram_ir_byte(struct gram *g, uint8_t b)
{
    if (g->byte_cls[b] != UINT32_MAX)
        return g->byte_cls[b];
    struct gram_cls c = {{0}};
    c.w[b >> 6] |= 1ull << (b & 63);
    return g->byte_cls[b] = gram_ir_class(g, &c);
}

uint32_t gram_ir_range(struct gram *g, uint8_t lo, uint8_t hi)
{
    struct gram_cls c = {{0}};
    for (unsigned b = lo; b <= hi; b++)
        c.w[b >> 6] |= 1ull << (b & 63);
    return gram_ir_class(g, &c);
}

uint32_t gram_ir_rule(struct gram *g)
{
    if (g->n_rules >= GRAM_MAX_RULES)
        return UINT32_MAX;
    if (g->n_rules == g->cap_rules) {
        g->cap_rules = g->cap_rules ? g->cap_rules * 2 : 64;
        g->rules = om_xrealloc(g->rules, g->cap_rules * sizeof(*g->rules));
    }
    memset(&g->rules[g->n_rules], 0, sizeof(g->rules[0]));
    return g->n_rules++;
}

int gram_ir_add_alt(struct gram *g, uint32_t r, const struct gram_seq *s)
{
    if ((uint64_t)g->n_elems + s->n + 1 > GRAM_MAX_ELEMS)
        return OM_ENOMEM;
    while (g->n_elems + s->n + 1 > g->cap_elems) {
        g->cap_elems = g->cap_elems ? g->cap_elems * 2 : 1024;
        g->elems = om_xrealloc(g->elems, g->cap_elems * sizeof(uint32_t));
    }
    struct gram_rule *ru = &g->rules[r];
    if (ru->n_alts == ru->cap_alts) {
        ru->cap_alts = ru->cap_alts ? ru->cap_alts * 2 : 2;
        ru->alts = om_xrealloc(ru->alts, ru->cap_alts * sizeof(uint32_t));
    }
    ru->alts[ru->n_alts++] = g->n_elems;
    if (s->n)
        memcpy(g->elems + g->n_elems, s->v, s->n * sizeof(uint32_t));
    g->n_elems += s->n;
    g->elems[g->n_elems++] = GE_END;
    return 0;
}

void gram_seq_push(struct gram_seq *s, uint32_t e)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = om_xrealloc(s->v, s->cap * sizeof(uint32_t));
    }
    s->v[s->n++] = e;
}

void gram_seq_lit(struct gram *g, struct gram_seq *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        gram_seq_push(s, GE_CHAR | gram_ir_byte(g, (uint8_t)lit[i]));
}

void gram_seq_free(struct gram_seq *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void cls_or(struct gram_cls *a, const struct gram_cls *b)
{
    for (int i = 0; i < 4; i++)
        a->w[i] |= b->w[i];
}

/* Depth-first over the leftmost graph with an explicit stack; computes each
 * rule's FIRST after its leftmost children (post-order). */
static int first_sets(struct gram *g, struct gram_cls *rf, char *err, size_t errlen)
{
    uint8_t *mark = om_xcalloc(g->n_rules, 1); /* 0 new, 1 open, 2 done */
    struct frame { uint32_t r, alt, pos; } *stk = om_xmalloc(g->n_rules * sizeof(*stk));
    int rc = 0;
    for (uint32_t r0 = 0; r0 < g->n_rules && rc == 0; r0++) {
        if (mark[r0])
            continue;
        uint32_t sp = 0;
        stk[sp++] = (struct frame){r0, 0, UINT32_MAX};
        mark[r0] = 1;
        while (sp && rc == 0) {
            struct frame *f = &stk[sp - 1];
            struct gram_rule *ru = &g->rules[f->r];
            bool pushed = false;
            while (f->alt < ru->n_alts && !pushed) {
                if (f->pos == UINT32_MAX)
                    f->pos = ru->alts[f->alt];
                uint32_t e = g->elems[f->pos];
                if (GE_KIND(e) == GE_RULE) {
                    uint32_t s = GE_ARG(e);
                    if (mark[s] == 1) {
                        rc = om_err(err, errlen, OM_EFORMAT,
                                    "grammar: left-recursive reference (a schema that refers to "
                                    "itself before consuming any input)");
                        break;
                    }
                    if (mark[s] == 0) {
                        mark[s] = 1;
                        stk[sp++] = (struct frame){s, 0, UINT32_MAX};
                        pushed = true;
                        break;
                    }
                    cls_or(&rf[f->r], &rf[s]);
                    if (g->rules[s].nullable) {
                        f->pos++;
                        continue;
                    }
                } else if (GE_KIND(e) == GE_CHAR) {
                    cls_or(&rf[f->r], &g->cls[GE_ARG(e)]);
                }
                f->alt++;
                f->pos = UINT32_MAX;
            }
            if (!pushed && rc == 0) {
                mark[f->r] = 2;
                sp--;
            }
        }
    }
    free(stk);
    free(mark);
    return rc;
}

int gram_ir_finish(struct gram *g, char *err, size_t errlen)
{
    /* the start position: an alternative [root] that the first stack holds */
    uint32_t sr = gram_ir_rule(g);
    struct gram_seq ss = {0};
    gram_seq_push(&ss, GE_RULE | g->root);
    int arc = sr == UINT32_MAX ? OM_ENOMEM : gram_ir_add_alt(g, sr, &ss);
    gram_seq_free(&ss);
    if (arc)
        return om_err(err, errlen, OM_ENOMEM, "grammar: schema too large");
    g->start_pos = g->rules[sr].alts[0];
    /* nullable: fixpoint; children have higher ids, so walk downwards */
    for (bool changed = true; changed;) {
        changed = false;
        for (uint32_t r = g->n_rules; r-- > 0;) {
            struct gram_rule *ru = &g->rules[r];
            if (ru->nullable)
                continue;
            for (uint32_t a = 0; a < ru->n_alts && !ru->nullable; a++) {
                uint32_t p = ru->alts[a];
                while (GE_KIND(g->elems[p]) == GE_RULE && g->rules[GE_ARG(g->elems[p])].nullable)
                    p++;
                if (g->elems[p] == GE_END)
                    ru->nullable = changed = true;
            }
        }
    }
    struct gram_cls *rf = om_xcalloc(g->n_rules ? g->n_rules : 1, sizeof(*rf));
    int rc = first_sets(g, rf, err, errlen);
    if (rc == 0) {
        for (uint32_t r = 0; r < g->n_rules; r++) {
            g->rules[r].first = gram_ir_class(g, &rf[r]);
            if (g->rules[r].first == UINT32_MAX)
                rc = om_err(err, errlen, OM_ENOMEM, "grammar: too many byte classes");
        }
    }
    free(rf);
    g->finished = true;
    if (rc)
        return rc;
    g->nullable_from = om_xmalloc(g->n_elems ? g->n_elems : 1);
    g->first_from = om_xmalloc((g->n_elems ? g->n_elems : 1) * sizeof(uint32_t));
    /* per position, backwards: each alternative ends with GE_END */
    struct gram_cls acc = {{0}};
    for (uint32_t p = g->n_elems; p-- > 0;) {
        uint32_t e = g->elems[p];
        struct gram_cls c = {{0}};
        bool nul;
        if (e == GE_END) {
            nul = true;
        } else if (GE_KIND(e) == GE_CHAR) {
            c = g->cls[GE_ARG(e)];
            nul = false;
        } else {
            const struct gram_rule *ru = &g->rules[GE_ARG(e)];
            c = g->cls[ru->first];
            nul = ru->nullable && g->nullable_from[p + 1];
            if (ru->nullable)
                cls_or(&c, &acc);
        }
        g->nullable_from[p] = nul;
        uint32_t id = gram_ir_class(g, &c);
        if (id == UINT32_MAX) {
            rc = om_err(err, errlen, OM_ENOMEM, "grammar: too many byte classes");
            break;
        }
        g->first_from[p] = id;
        acc = c;
    }
    free(g->cls_tab);
    g->cls_tab = NULL;
    return rc;
}
