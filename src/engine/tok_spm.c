/* engine: SentencePiece-style encoder ("llama" vocabularies).
 *
 * The text (spaces already escaped as U+2581 by tok_encode) starts as one
 * symbol per UTF-8 character. Adjacent pairs whose concatenation is a token
 * go into a max-heap ordered by that token's score (ties: leftmost first);
 * the best pair merges, and its new neighbours are offered. A heap entry is
 * stale when either side has since been merged away or grown; that is
 * detected by comparing the stored byte size. Symbols that end up not being
 * tokens fall back to byte tokens <0xNN>. O(n log n) in the text length.
 *
 * When no token of the vocabulary holds U+2581 after anything but U+2581
 * (true of Llama's), no merge can cross the boundary in front of a word's
 * U+2581, so the text is merged word by word with small heaps; the result
 * is the same as one global heap because bigrams of different words never
 * interact and each word keeps the global (score, position) order. */
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/tok_int.h"
#include "engine/unicode.h"

typedef struct sym {
    uint32_t off, n;  /* bytes of text; n == 0 once merged into its left neighbour */
    int32_t prev, next;
} sym;

static void try_bigram(const tok_vocab *v, const char *text, const sym *s, int32_t l, int32_t r,
                       tok_bheap *h)
{
    if (l < 0 || r < 0)
        return;
    uint32_t size = s[l].n + s[r].n;
    int32_t id = tok_find(v, text + s[l].off, size);
    if (id < 0)
        return;
    tok_bheap_push(h, (tok_bigram){-(double)v->score[id], l, r, -1, size});
}

void tok_spm_prepare(tok_vocab *v)
{
    v->spm_barriers = 1;
    for (int32_t id = 0; id < v->n && v->spm_barriers; id++) {
        const char *t = v->text + v->toff[id];
        size_t n = v->tlen[id];
        for (size_t k = 1; k + 3 <= n; k++) {
            if (memcmp(t + k, "\xe2\x96\x81", 3) != 0)
                continue;
            if (k < 3 || memcmp(t + k - 3, "\xe2\x96\x81", 3) != 0) {
                v->spm_barriers = 0;
                break;
            }
        }
    }
}

static int is_space_sym(const char *t, const sym *x)
{
    return x->n == 3 && memcmp(t + x->off, "\xe2\x96\x81", 3) == 0;
}

/* May no token span the boundary before symbol i (a U+2581 after a
 * character that is not one)? Needs v->spm_barriers (no token has U+2581
 * after anything but U+2581) and a previous symbol whose last three bytes
 * cannot read as U+2581: ASCII, or a lead byte and continuation bytes. */
static int barrier_before(const char *t, const sym *s, int32_t i)
{
    if (!is_space_sym(t, &s[i]) || is_space_sym(t, &s[i - 1]))
        return 0;
    const uint8_t *p = (const uint8_t *)t + s[i - 1].off;
    if (s[i - 1].n == 1)
        return p[0] < 0x80;
    for (uint32_t j = 1; j < s[i - 1].n; j++)
        if ((p[j] & 0xC0) != 0x80)
            return 0;
    return 1;
}

/* Merges the symbols of one segment [a, b) (linked among themselves). */
static void merge_segment(const tok_vocab *v, const char *text, sym *s, int32_t a, int32_t b,
                          tok_bheap *h)
{
    h->n = 0;
    for (int32_t i = a + 1; i < b; i++)
        try_bigram(v, text, s, i - 1, i, h);
    while (h->n) {
        tok_bigram g = tok_bheap_pop(h);
        sym *l = &s[g.left], *r = &s[g.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != g.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s[r->next].prev = g.left;
        try_bigram(v, text, s, l->prev, g.left, h);
        try_bigram(v, text, s, g.left, l->next, h);
    }
}

void tok_spm_encode(const tok_vocab *v, const char *text, size_t len, tok_ids *out)
{
    if (!len)
        return;
    sym *s = om_xmalloc(len * sizeof(*s));
    int32_t n = 0;
    for (size_t off = 0; off < len;) {
        size_t cl = OM_MIN(unicode_utf8_len((uint8_t)text[off]), len - off);
        s[n] = (sym){(uint32_t)off, (uint32_t)cl, n - 1, n + 1};
        off += cl;
        n++;
    }
    s[n - 1].next = -1;
    /* Independent segments merge alone (identical result: no merge can
     * cross a barrier), which keeps each heap small and cache-resident. */
    tok_bheap h = {0};
    int32_t a = 0;
    for (int32_t i = 1; i <= n; i++) {
        if (i < n && !(v->spm_barriers && barrier_before(text, s, i)))
            continue;
        s[a].prev = -1;
        s[i - 1].next = -1;
        merge_segment(v, text, s, a, i, &h);
        a = i;
    }
    for (int32_t seg = 0; seg < n;) {
        int32_t i = seg, last = seg;
        for (; i != -1; i = s[i].next) {
            last = i;
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
        /* next segment starts after the last symbol's bytes */
        seg = last + 1;
        while (seg < n && s[seg].n == 0)
            seg++;
    }
    free(h.p);
    free(s);
}
