/* engine: WordPiece encoder ("bert" vocabularies, as converted to GGUF:
 * word-initial pieces carry a U+2581 prefix instead of continuation pieces
 * carrying "##").
 *
 * Normalization (llama.cpp's, which follows BERT's BasicTokenizer closely):
 * each code point is replaced by the first code point of its canonical
 * decomposition (this drops accents of precomposed letters), whitespace
 * splits words, NUL, U+FFFD and control characters vanish, everything is
 * lowercased, and punctuation, ASCII symbols and CJK ideographs become words
 * of their own. Each word is then matched greedily, longest token first from
 * each position; a word with any unmatched position becomes [UNK]. Candidate
 * lengths at one position share one incremental hash, so a word costs
 * O(len * max_token_len). */
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/tok_int.h"
#include "engine/unicode.h"

static int is_chinese(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

typedef struct wpm_buf {
    char *p;
    size_t n, cap;
    uint64_t *h; /* incremental hashes, one per candidate length */
    size_t hcap;
} wpm_buf;

static void word_match(const tok_vocab *v, const char *w, size_t n, wpm_buf *b, tok_ids *out)
{
    size_t start = out->n;
    size_t maxl = (size_t)v->max_token_len + 1;
    if (maxl + 1 > b->hcap) {
        b->hcap = maxl + 1;
        b->h = om_xrealloc(b->h, b->hcap * sizeof(*b->h));
    }
    for (size_t i = 0; i < n;) {
        size_t lim = OM_MIN(n - i, maxl);
        uint64_t h = TOK_FNV_INIT;
        for (size_t l = 1; l <= lim; l++) {
            h = tok_hash_step(h, (uint8_t)w[i + l - 1]);
            b->h[l] = h;
        }
        int32_t id = -1;
        size_t l = lim;
        for (; l > 0; l--) {
            id = tok_lookup_h(v, w + i, l, b->h[l]);
            if (id >= 0)
                break;
        }
        if (id < 0) {
            out->n = start; /* discard the partial word */
            break;
        }
        tok_ids_push(out, id);
        i += l;
    }
    if (out->n == start && v->unk >= 0)
        tok_ids_push(out, v->unk);
}

static void emit(const tok_vocab *v, wpm_buf *b, tok_ids *out)
{
    if (b->n > 3) /* more than the U+2581 prefix */
        word_match(v, b->p, b->n, b, out);
    memcpy(b->p, "\xe2\x96\x81", 3);
    b->n = 3;
}

static void append(wpm_buf *b, uint32_t cp)
{
    if (b->n + 4 > b->cap) {
        b->cap = (b->n + 4) * 2;
        b->p = om_xrealloc(b->p, b->cap);
    }
    b->n += unicode_utf8_put(cp, b->p + b->n);
}

void tok_wpm_encode(const tok_vocab *v, const char *text, size_t len, tok_ids *out)
{
    wpm_buf b = {0};
    b.cap = 64;
    b.p = om_xmalloc(b.cap);
    memcpy(b.p, "\xe2\x96\x81", 3);
    b.n = 3;
    for (size_t i = 0; i < len;) {
        uint32_t cp = unicode_nfd_first(unicode_utf8_next(text, len, &i));
        uint16_t f = unicode_flags(cp);
        if (f & UNICODE_F_WHITESPACE) {
            emit(v, &b, out);
            continue;
        }
        if (cp == 0 || cp == UNICODE_REPLACEMENT || (f & UNICODE_F_CONTROL))
            continue;
        uint32_t lo = unicode_tolower(cp);
        if ((f & UNICODE_F_PUNCT) || (cp < 0x7F && (f & UNICODE_F_SYMBOL)) || is_chinese(cp)) {
            emit(v, &b, out);
            append(&b, lo);
            emit(v, &b, out);
        } else {
            append(&b, lo);
        }
    }
    emit(v, &b, out);
    free(b.p);
    free(b.h);
}
