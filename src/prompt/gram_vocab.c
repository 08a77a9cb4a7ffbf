/* prompt: the vocabulary trie behind gram_state_allowed (gram_match.c).
 *
 * Token pieces are byte strings; the trie has one node per distinct prefix,
 * children as sibling lists. Several tokens may end at the same node (equal
 * pieces), chained through tok_next. */
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/gram_int.h"

#define GRAM_VOCAB_MAX_BYTES (64u << 20)

static uint32_t vnode(struct gram_vocab *v, uint8_t b)
{
    if (v->n_nodes == v->cap_nodes) {
        v->cap_nodes = v->cap_nodes ? v->cap_nodes * 2 : 1024;
        v->nodes = om_xrealloc(v->nodes, v->cap_nodes * sizeof(*v->nodes));
    }
    v->nodes[v->n_nodes] = (struct gram_vnode){0, 0, -1, b};
    return v->n_nodes++;
}

int gram_vocab_new(const char *const *pieces, const size_t *lens, int32_t n,
                   struct gram_vocab **out)
{
    *out = NULL;
    if (n < 0 || (n > 0 && (!pieces || !lens)))
        return OM_EINVAL;
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        if (lens[i] && !pieces[i])
            return OM_EINVAL;
        total += lens[i];
        if (total > GRAM_VOCAB_MAX_BYTES)
            return OM_ENOMEM;
    }
    struct gram_vocab *v = om_xcalloc(1, sizeof(*v));
    v->n_tok = n;
    v->tok_next = om_xmalloc(((size_t)n + 1) * sizeof(int32_t));
    vnode(v, 0);
    /* children of the root by byte, for a quick first step */
    uint32_t root_child[256] = {0};
    for (int32_t i = n; i-- > 0;) { /* backwards: chains list ids ascending */
        v->tok_next[i] = -1;
        if (!lens[i])
            continue;
        const uint8_t *p = (const uint8_t *)pieces[i];
        uint32_t cur = root_child[p[0]];
        if (!cur) {
            cur = root_child[p[0]] = vnode(v, p[0]);
            v->nodes[cur].sib = v->nodes[0].child;
            v->nodes[0].child = cur;
        }
        for (size_t k = 1; k < lens[i]; k++) {
            uint32_t c = v->nodes[cur].child;
            while (c && v->nodes[c].b != p[k])
                c = v->nodes[c].sib;
            if (!c) {
                c = vnode(v, p[k]);
                v->nodes[c].sib = v->nodes[cur].child;
                v->nodes[cur].child = c;
            }
            cur = c;
        }
        v->tok_next[i] = v->nodes[cur].tok;
        v->nodes[cur].tok = i;
    }
    *out = v;
    return 0;
}

void gram_vocab_free(struct gram_vocab *v)
{
    if (!v)
        return;
    free(v->nodes);
    free(v->tok_next);
    free(v);
}

int32_t gram_vocab_n(const struct gram_vocab *v)
{
    return v->n_tok;
}
