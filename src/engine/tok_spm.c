/* engine: SentencePiece-style encoder ("llama" vocabularies).
 *
 * The text (spaces already escaped as U+2581 by tok_encode) starts as one
 * symbol per UTF-8 character. Adjacent pairs whose concatenation is a token
 * go into a max-heap ordered by that token's score (ties: leftmost first);
 * the best pair merges, and its new neighbours are offered. A heap entry is
 * stale when either side has since been merged away or grown; that is
 * detected by comparing the stored byte size. Symbols that end up not being
 * tokens fall back to byte tokens <0xNN>. O(n log n) in the text length. */
#include <stdlib.h>

#include "base/om.h"
#include "engine/tok_int.h"
#include "engine/unicode.h"

typedef struct sym {
    uint32_t off, n;  /* bytes of text; n == 0 once merged into its left neighbour */
    int32_t prev, next;
} sym;

typedef struct bigram {
    float score;
    int32_t left, right;
    uint32_t size;
} bigram;

typedef struct heap {
    bigram *p;
    size_t n, cap;
} heap;

/* a ranks above b: higher score, then smaller left index */
static int above(const bigram *a, const bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(heap *h, bigram b)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->p = om_xrealloc(h->p, h->cap * sizeof(*h->p));
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!above(&b, &h->p[up]))
            break;
        h->p[i] = h->p[up];
        i = up;
    }
    h->p[i] = b;
}

static bigram heap_pop(heap *h)
{
    bigram top = h->p[0], last = h->p[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && above(&h->p[c + 1], &h->p[c]))
            c++;
        if (!above(&h->p[c], &last))
            break;
        h->p[i] = h->p[c];
        i = c;
    }
    if (h->n)
        h->p[i] = last;
    return top;
}

static void try_bigram(const tok_vocab *v, const char *text, const sym *s, int32_t l, int32_t r,
                       heap *h)
{
    if (l < 0 || r < 0)
        return;
    uint32_t size = s[l].n + s[r].n;
    int32_t id = tok_find(v, text + s[l].off, size);
    if (id < 0)
        return;
    heap_push(h, (bigram){v->score[id], l, r, size});
}

void tok_spm_encode(const tok_vocab *v, const char *text, size_t len, tok_ids *out)
{
    if (!len)
        return;
    sym *s = om_xmalloc(len * sizeof(*s));
    int32_t n = 0;
    for (size_t off = 0; off < len;) {
        size_t cl = OM_MIN(unicode_utf8_len((uint8_t)text[off]), len - off);
        s[n] = (sym){(uint32_t)off, (uint32_t)cl, n - 1, off + cl == len ? -1 : n + 1};
        off += cl;
        n++;
    }
    heap h = {0};
    for (int32_t i = 1; i < n; i++)
        try_bigram(v, text, s, i - 1, i, &h);
    while (h.n) {
        bigram b = heap_pop(&h);
        sym *l = &s[b.left], *r = &s[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s[r->next].prev = b.left;
        try_bigram(v, text, s, l->prev, b.left, &h);
        try_bigram(v, text, s, b.left, l->next, &h);
    }
    for (int32_t i = 0; i != -1; i = s[i].next) {
        int32_t id = tok_find(v, text + s[i].off, s[i].n);
        if (id >= 0) {
            tok_ids_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < s[i].n; j++) {
            int32_t b = v->byte_tok[(uint8_t)text[s[i].off + j]];
            if (b < 0)
                b = v->unk;
            if (b >= 0)
                tok_ids_push(out, b);
        }
    }
    free(h.p);
    free(s);
}
