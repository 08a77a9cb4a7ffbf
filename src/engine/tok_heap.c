/* engine: the merge-candidate heap shared by the SPM and BPE encoders.
 * Invariant: p[0..n) is a binary min-heap under `first` (smaller key, then
 * smaller left index), so equal keys merge leftmost first as llama.cpp does. */
#include "base/om.h"
#include "engine/tok_int.h"

static int first(const tok_bigram *a, const tok_bigram *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

void tok_bheap_push(tok_bheap *h, tok_bigram b)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->p = om_xrealloc(h->p, h->cap * sizeof(*h->p));
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!first(&b, &h->p[up]))
            break;
        h->p[i] = h->p[up];
        i = up;
    }
    h->p[i] = b;
}

tok_bigram tok_bheap_pop(tok_bheap *h)
{
    tok_bigram top = h->p[0], last = h->p[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && first(&h->p[c + 1], &h->p[c]))
            c++;
        if (!first(&h->p[c], &last))
            break;
        h->p[i] = h->p[c];
        i = c;
    }
    if (h->n)
        h->p[i] = last;
    return top;
}
