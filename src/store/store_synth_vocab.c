/* store: synthetic but valid tokenizers for synthesized models.
 *
 * Three styles, as llama.cpp's converters write them:
 *  - SentencePiece ("llama"): control tokens, the 256 byte tokens <0x00>..<0xFF>
 *    (type BYTE), then pieces with decreasing scores;
 *  - byte-level BPE ("gpt2", pre "qwen2"): the 256 byte symbols of GPT-2's
 *    bytes_to_unicode table, merged pieces with a merges list, then control
 *    tokens at the end (as Qwen's <|endoftext|>, <|im_start|>, <|im_end|>);
 *  - WordPiece ("bert"): [PAD] [UNK] [CLS] [SEP] [MASK], word-initial pieces
 *    with the "▁" phantom space, continuation pieces without it.
 * Invariant for SPM and BPE: every multi-character piece is the concatenation
 * of two earlier pieces (the BPE merge list records exactly those pairs), so
 * every piece is reachable by the tokenizers' merge loops. Pieces are grown
 * from a seeded RNG: the vocabulary is a pure function of (style, n, seed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "store/store_synth_int.h"

#define TT_NORMAL 1
#define TT_UNKNOWN 2
#define TT_CONTROL 3
#define TT_BYTE 6

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- string set (open addressing over FNV-1a) ---- */
struct sset {
    const char **slot;
    size_t cap;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

static void vocab_push(struct store_vocab *v, const char *tok, float score, int32_t type)
{
    v->tok[v->n] = om_xstrdup(tok);
    v->score[v->n] = score;
    v->type[v->n] = type;
    v->n++;
}

/* Letters weighted roughly by English frequency, so pieces look word-like. */
static const char g_letters[] = "eeeeeeeeeeeetttttttttaaaaaaaaooooooooiiiiiiinnnnnnnsssssshhhhhh"
                                "rrrrrrdddddllllcccuuummwwffggyyppbbvkjxqz";

static void put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

/* GPT-2's bytes_to_unicode: printable bytes map to themselves, the others
 * to 256, 257, … in byte order. */
static unsigned byte_to_cp(unsigned b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174))
        return b;
    unsigned n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174)))
            n++;
    return 256 + n;
}

/* Appends tok unless already present; returns 1 when added. */
static int add_piece(struct store_vocab *v, struct sset *ss, const char *tok, float score,
                     int32_t type)
{
    size_t i = fnv(tok) & (ss->cap - 1);
    while (ss->slot[i]) {
        if (!strcmp(ss->slot[i], tok))
            return 0;
        i = (i + 1) & (ss->cap - 1);
    }
    vocab_push(v, tok, score, type);
    ss->slot[i] = v->tok[v->n - 1];
    return 1;
}

/* Grows pieces until v->n reaches n_target: a random growable piece plus a
 * random letter. Growable pieces are those at index >= grow_from. */
static void grow(struct store_vocab *v, struct sset *ss, uint64_t n_target, size_t grow_from,
                 const char *const *letter_tok, int with_merges, float score0, uint64_t *rng)
{
    char buf[64];
    uint64_t tries = 0;
    while (v->n < n_target && tries < n_target * 64) {
        tries++;
        uint64_t r = rng_next(rng);
        size_t a = grow_from + (size_t)(r % (v->n - grow_from));
        const char *b = letter_tok[(r >> 32) % (sizeof(g_letters) - 1)];
        size_t la = strlen(v->tok[a]), lb = strlen(b);
        if (la + lb >= sizeof(buf) || la > 24)
            continue;
        memcpy(buf, v->tok[a], la);
        memcpy(buf + la, b, lb + 1);
        if (!add_piece(v, ss, buf, score0 - (float)v->n, TT_NORMAL))
            continue;
        if (with_merges) {
            char *m = om_xmalloc(la + lb + 2);
            memcpy(m, v->tok[a], la);
            m[la] = ' ';
            memcpy(m + la + 1, b, lb + 1);
            v->merges[v->n_merges++] = m;
        }
    }
}

int store_vocab_build(enum store_vocab_style style, uint64_t n, uint64_t seed,
                      struct store_vocab *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    v->bos = v->eos = v->unk = v->pad = v->sep = v->mask = -1;
    uint64_t min = style == STORE_VOCAB_SPM ? 400 : style == STORE_VOCAB_BPE ? 300 : 100;
    if (n < min || n > 4000000)
        return om_err(err, errlen, OM_EINVAL, "n_vocab %llu out of range for this tokenizer "
                      "(%llu..4000000)", (unsigned long long)n, (unsigned long long)min);
    v->tok = om_xcalloc(n, sizeof(char *));
    v->score = om_xcalloc(n, sizeof(float));
    v->type = om_xcalloc(n, sizeof(int32_t));
    struct sset ss = {0, 1};
    while (ss.cap < 2 * n)
        ss.cap <<= 1;
    ss.slot = om_xcalloc(ss.cap, sizeof(char *));
    uint64_t rng = seed ^ 0x746f6b656e697a65ull;
    char tmp[32];
    const char *letter_tok[sizeof(g_letters)];
    char letters[sizeof(g_letters)][2];
    for (size_t i = 0; i + 1 < sizeof(g_letters); i++) {
        letters[i][0] = g_letters[i];
        letters[i][1] = 0;
        letter_tok[i] = letters[i];
    }

    if (style == STORE_VOCAB_SPM) {
        add_piece(v, &ss, "<unk>", 0, TT_UNKNOWN);
        add_piece(v, &ss, "<s>", 0, TT_CONTROL);
        add_piece(v, &ss, "</s>", 0, TT_CONTROL);
        v->unk = 0, v->bos = 1, v->eos = 2;
        for (unsigned b = 0; b < 256; b++) {
            snprintf(tmp, sizeof(tmp), "<0x%02X>", b);
            add_piece(v, &ss, tmp, 0, TT_BYTE);
        }
        size_t first = v->n;
        add_piece(v, &ss, "\xe2\x96\x81", -1, TT_NORMAL); /* "▁" */
        static const char chars[] = "etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ"
                                    "0123456789.,!?'\"-:;()";
        for (size_t i = 0; i + 1 < sizeof(chars); i++) {
            tmp[0] = chars[i];
            tmp[1] = 0;
            add_piece(v, &ss, tmp, -2 - (float)i, TT_NORMAL);
        }
        /* Word-initial pieces first, so "▁x" pieces exist to grow from. */
        for (size_t i = 0; i < 26; i++) {
            snprintf(tmp, sizeof(tmp), "\xe2\x96\x81%c", "etaoinshrdlcumwfgypbvkjxqz"[i]);
            add_piece(v, &ss, tmp, -100 - (float)i, TT_NORMAL);
        }
        grow(v, &ss, n, first, letter_tok, 0, -200, &rng);
    } else if (style == STORE_VOCAB_BPE) {
        uint64_t n_normal = n - 3;
        v->merges = om_xcalloc(n, sizeof(char *));
        for (int pass = 0; pass < 2; pass++)
            for (unsigned b = 0; b < 256; b++) {
                unsigned cp = byte_to_cp(b);
                if ((cp == b) != (pass == 0))
                    continue;
                put_utf8(tmp, cp);
                add_piece(v, &ss, tmp, 0, TT_NORMAL);
            }
        /* "Ġx" word starts, each with its merge, then growth from the
         * single letters and those (the byte symbols 'a'..'z' sit at 64..89). */
        const char *sp = "\xc4\xa0"; /* "Ġ", the byte 0x20 */
        for (size_t i = 0; i < 26; i++) {
            char piece[8], m[8];
            snprintf(piece, sizeof(piece), "%s%c", sp, 'a' + (int)i);
            snprintf(m, sizeof(m), "%s %c", sp, 'a' + (int)i);
            if (add_piece(v, &ss, piece, 0, TT_NORMAL))
                v->merges[v->n_merges++] = om_xstrdup(m);
        }
        grow(v, &ss, n_normal, 256, letter_tok, 1, 0, &rng);
        v->bos = (int32_t)v->n;
        add_piece(v, &ss, "<|endoftext|>", 0, TT_CONTROL);
        add_piece(v, &ss, "<|im_start|>", 0, TT_CONTROL);
        v->eos = (int32_t)v->n;
        add_piece(v, &ss, "<|im_end|>", 0, TT_CONTROL);
        v->pad = v->bos;
    } else {
        static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        for (int i = 0; i < 5; i++)
            add_piece(v, &ss, specials[i], 0, i == 1 ? TT_UNKNOWN : TT_CONTROL);
        v->pad = 0, v->unk = 1, v->bos = 2, v->sep = 3, v->eos = 3, v->mask = 4;
        static const char punct[] = "0123456789.,!?'\"-:;()";
        for (size_t i = 0; i + 1 < sizeof(punct); i++) {
            snprintf(tmp, sizeof(tmp), "\xe2\x96\x81%c", punct[i]);
            add_piece(v, &ss, tmp, 0, TT_NORMAL);
        }
        size_t first = v->n;
        for (size_t i = 0; i < 26; i++) {
            snprintf(tmp, sizeof(tmp), "\xe2\x96\x81%c", 'a' + (int)i);
            add_piece(v, &ss, tmp, 0, TT_NORMAL);
            tmp[0] = (char)('a' + i);
            tmp[1] = 0;
            add_piece(v, &ss, tmp, 0, TT_NORMAL);
        }
        grow(v, &ss, n, first, letter_tok, 0, 0, &rng);
    }
    free(ss.slot);
    /* Pad to n like the converters do ([PAD<id>] / unused tokens). */
    while (v->n < n) {
        snprintf(tmp, sizeof(tmp), "[PAD%llu]", (unsigned long long)v->n);
        vocab_push(v, tmp, -1e9f, 5 /* UNUSED */);
    }
    return 0;
}

void store_vocab_free(struct store_vocab *v)
{
    for (uint64_t i = 0; i < v->n; i++)
        free(v->tok[i]);
    for (uint64_t i = 0; i < v->n_merges; i++)
        free(v->merges[i]);
    free(v->tok);
    free(v->score);
    free(v->type);
    free(v->merges);
    memset(v, 0, sizeof(*v));
}

void store_vocab_write(gguf_writer *g, const struct store_vocab *v, enum store_vocab_style style)
{
    static const char *const model[] = {"llama", "gpt2", "bert"};
    gguf_writer_set_str(g, "tokenizer.ggml.model", model[style]);
    if (style == STORE_VOCAB_BPE)
        gguf_writer_set_str(g, "tokenizer.ggml.pre", "qwen2");
    else if (style == STORE_VOCAB_WPM)
        gguf_writer_set_str(g, "tokenizer.ggml.pre", "default");
    gguf_writer_set_arr_str(g, "tokenizer.ggml.tokens", (const char *const *)v->tok, v->n);
    if (style == STORE_VOCAB_SPM)
        gguf_writer_set_arr(g, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, v->score, v->n);
    gguf_writer_set_arr(g, "tokenizer.ggml.token_type", GGUF_VT_INT32, v->type, v->n);
    if (style == STORE_VOCAB_BPE)
        gguf_writer_set_arr_str(g, "tokenizer.ggml.merges", (const char *const *)v->merges,
                               v->n_merges);
    if (style == STORE_VOCAB_WPM)
        gguf_writer_set_u32(g, "tokenizer.ggml.token_type_count", 2);
    if (v->bos >= 0)
        gguf_writer_set_u32(g, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos);
    if (v->eos >= 0)
        gguf_writer_set_u32(g, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos);
    if (v->unk >= 0)
        gguf_writer_set_u32(g, "tokenizer.ggml.unknown_token_id", (uint32_t)v->unk);
    if (v->sep >= 0)
        gguf_writer_set_u32(g, "tokenizer.ggml.seperator_token_id", (uint32_t)v->sep);
    if (v->pad >= 0)
        gguf_writer_set_u32(g, "tokenizer.ggml.padding_token_id", (uint32_t)v->pad);
    if (v->mask >= 0)
        gguf_writer_set_u32(g, "tokenizer.ggml.mask_token_id", (uint32_t)v->mask);
    gguf_writer_set_bool(g, "tokenizer.ggml.add_bos_token", style != STORE_VOCAB_BPE);
    gguf_writer_set_bool(g, "tokenizer.ggml.add_eos_token", style == STORE_VOCAB_WPM);
}
