/* engine: byte-level BPE encoder ("gpt2" vocabularies).
 *
 * The fragment is decoded to code points (bad UTF-8 becomes U+FFFD, as in
 * llama.cpp), split into words by the vocabulary's pre-tokenizer
 * (tok_pre.c), and each word's UTF-8 bytes start as one symbol per byte,
 * each standing for the byte's GPT-2 code point. Adjacent symbol pairs with a
 * merge go into a min-heap by merge rank (ties: leftmost first); popping
 * merges them into the merge's result token. An entry is stale when a side
 * was merged away or has grown (checked by byte size). Merge parts and
 * results are token ids (validated at load), so no strings are built here.
 * With ignore_merges (llama3) a word that is itself a token is emitted
 * whole. */
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/tok_int.h"
#include "engine/unicode.h"

typedef struct bsym {
    int32_t id;      /* token id, -1 if the lone byte has no token */
    uint32_t nb;     /* bytes covered; 0 once merged into the left neighbour */
    int32_t prev, next;
    uint8_t byte;    /* first byte (for the fallback of a lone byte) */
} bsym;

static void add_bigram(const tok_vocab *v, const bsym *s, int32_t l, int32_t r, tok_bheap *h)
{
    if (l < 0 || r < 0)
        return;
    int32_t rank, res;
    if (!tok_merge_find(v, s[l].id, s[r].id, &rank, &res))
        return;
    tok_bheap_push(h, (tok_bigram){(double)rank, l, r, res, s[l].nb + s[r].nb});
}

/* A byte without a token of its own: llama.cpp looks up each UTF-8 byte of
 * its mapped code point as a one-byte token and drops those that are not. */
static void lone_byte(const tok_vocab *v, uint8_t b, tok_ids *out)
{
    char m[4];
    size_t n = unicode_utf8_put(unicode_byte_to_cp(b), m);
    for (size_t i = 0; i < n; i++) {
        int32_t id = tok_find(v, m + i, 1);
        if (id >= 0)
            tok_ids_push(out, id);
    }
}

typedef struct bpe_scratch {
    bsym *s;
    size_t cap;
    char *mapped; /* the word in GPT-2 code points, for ignore_merges */
    size_t mcap;
    tok_bheap h;
} bpe_scratch;

static void encode_word(const tok_vocab *v, const uint8_t *w, size_t nb, bpe_scratch *sc,
                        tok_ids *out)
{
    if (v->ignore_merges) {
        if (nb * 2 > sc->mcap) {
            sc->mcap = nb * 2;
            sc->mapped = om_xrealloc(sc->mapped, sc->mcap);
        }
        size_t k = 0;
        for (size_t i = 0; i < nb; i++)
            k += unicode_utf8_put(unicode_byte_to_cp(w[i]), sc->mapped + k);
        int32_t id = tok_find(v, sc->mapped, k);
        if (id >= 0) {
            tok_ids_push(out, id);
            return;
        }
    }
    if (nb > sc->cap) {
        sc->cap = nb;
        sc->s = om_xrealloc(sc->s, sc->cap * sizeof(*sc->s));
    }
    bsym *s = sc->s;
    for (size_t i = 0; i < nb; i++)
        s[i] = (bsym){v->byte_tok[w[i]], 1, (int32_t)i - 1, i + 1 == nb ? -1 : (int32_t)i + 1, w[i]};
    sc->h.n = 0;
    for (size_t i = 1; i < nb; i++)
        add_bigram(v, s, (int32_t)i - 1, (int32_t)i, &sc->h);
    while (sc->h.n) {
        tok_bigram b = tok_bheap_pop(&sc->h);
        bsym *l = &s[b.left], *r = &s[b.right];
        if (l->nb == 0 || r->nb == 0 || l->nb + r->nb != b.size)
            continue;
        l->nb += r->nb;
        l->id = b.result;
        r->nb = 0;
        l->next = r->next;
        if (r->next >= 0)
            s[r->next].prev = b.left;
        add_bigram(v, s, l->prev, b.left, &sc->h);
        add_bigram(v, s, b.left, l->next, &sc->h);
    }
    for (int32_t i = 0; i != -1; i = s[i].next) {
        if (s[i].id >= 0)
            tok_ids_push(out, s[i].id);
        else
            lone_byte(v, s[i].byte, out);
    }
}

void tok_bpe_encode(const tok_vocab *v, const char *text, size_t len, tok_ids *out)
{
    if (!len)
        return;
    uint32_t *cps = om_xmalloc(len * sizeof(*cps));
    size_t n = 0;
    for (size_t i = 0; i < len;)
        cps[n++] = unicode_utf8_next(text, len, &i);
    uint32_t *lens = NULL;
    size_t nw = tok_pre_split(v->pre, cps, n, &lens);

    bpe_scratch sc = {0};
    uint8_t *word = NULL;
    size_t wcap = 0, at = 0;
    for (size_t k = 0; k < nw; k++) {
        if ((size_t)lens[k] * 4 > wcap) {
            wcap = (size_t)lens[k] * 4;
            word = om_xrealloc(word, wcap);
        }
        size_t nb = 0;
        for (uint32_t j = 0; j < lens[k]; j++)
            nb += unicode_utf8_put(cps[at + j], (char *)word + nb);
        at += lens[k];
        encode_word(v, word, nb, &sc, out);
    }
    free(word);
    free(sc.s);
    free(sc.mapped);
    free(sc.h.p);
    free(lens);
    free(cps);
}
