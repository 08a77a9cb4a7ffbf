/* engine: private layout of tok_vocab, shared by the tok_*.c files.
 *
 * Token texts live in one arena; lookups go through an open-addressing table
 * keyed by an incremental FNV-1a hash, so a caller scanning candidate lengths
 * can extend one hash byte by byte (WordPiece, special-token scan). */
#ifndef TOK_INT_H
#define TOK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/tok.h"

/* Pre-tokenizer families (tokenizer.ggml.pre resolved to a regex list). */
enum tok_pre {
    TOK_PRE_NONE = 0, /* SPM, WPM */
    TOK_PRE_DEFAULT,
    TOK_PRE_LLAMA3,
    TOK_PRE_DBRX, /* llama3 split, merges always applied */
    TOK_PRE_DEEPSEEK_LLM,
    TOK_PRE_DEEPSEEK_CODER,
    TOK_PRE_FALCON,
    TOK_PRE_STARCODER, /* also refact, command-r, smollm, codeshell, exaone, minerva */
    TOK_PRE_GPT2,      /* also mpt, olmo, jais, roberta-bpe, phi-2, jina-* */
    TOK_PRE_QWEN2,     /* also stablelm2, deepseek-r1-qwen, megrez */
    TOK_PRE_PORO,      /* also bloom, gpt3-finnish */
    TOK_PRE_VIKING,
    TOK_PRE_CHAMELEON,
    TOK_PRE_TEKKEN,
    TOK_PRE_GPT4O,     /* also llama4 (o200k) */
};

typedef struct tok_slot {
    int32_t id;  /* -1 when empty */
    uint32_t fp; /* high bits of the text's hash, checked before the text */
} tok_slot;

typedef struct tok_merge_slot {
    uint64_t key; /* (left << 32) | right; UINT64_MAX when empty */
    int32_t rank;
    int32_t result;
} tok_merge_slot;

struct tok_vocab {
    enum tok_kind kind;
    enum tok_pre pre;
    char pre_name[32];
    int32_t n;

    char *text;      /* arena: every token text, NUL-terminated */
    uint32_t *toff;  /* (n) offset into text */
    uint32_t *tlen;  /* (n) */
    float *score;    /* (n) */
    uint16_t *attr;  /* (n) TOK_ATTR_* */
    uint32_t max_token_len;

    tok_slot *slots; /* size mask + 1 (power of two), at most half full */
    uint32_t mask;

    tok_merge_slot *merges; /* BPE; size merge_mask + 1 */
    uint32_t merge_mask;

    char *pbuf;      /* piece arena, NUL-terminated pieces */
    uint32_t *poff;  /* (n) */
    uint32_t *plen;  /* (n) */
    size_t max_piece_len;

    int32_t byte_tok[256]; /* SPM: <0xNN> (or the raw byte) token; BPE: mapped char */

    int32_t bos, eos, eot, eom, unk, sep, pad, mask_id;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    int add_bos, add_eos, add_space_prefix, ignore_merges;
    int spm_barriers; /* SPM: no token has U+2581 after anything but U+2581 */

    int32_t *eog;    /* sorted ids */
    size_t n_eog;

    int32_t *special; /* control/user-defined/unknown ids, longest text first */
    size_t n_special;
    uint8_t special_first[256]; /* bytes that start some special token */
    uint32_t max_special_len;
};

#define TOK_FNV_INIT 0xcbf29ce484222325ull
static inline uint64_t tok_hash_step(uint64_t h, uint8_t b)
{
    return (h ^ b) * 0x100000001b3ull;
}
uint64_t tok_hash(const char *s, size_t len);
/* Id of text s[0..len) whose hash (tok_hash) is h, or -1. */
int32_t tok_lookup_h(const tok_vocab *v, const char *s, size_t len, uint64_t h);
/* Merge of two adjacent token ids: rank (lower merges first) and result id;
 * returns 0 when the pair has no merge. */
int tok_merge_find(const tok_vocab *v, int32_t left, int32_t right, int32_t *rank,
                   int32_t *result);

/* Growable id buffer used while encoding (internal sizes: aborts on OOM). */
typedef struct tok_ids {
    int32_t *p;
    size_t n, cap;
} tok_ids;
void tok_ids_push(tok_ids *o, int32_t id);

/* SPM: load-time analysis of the vocabulary (sets spm_barriers). */
void tok_spm_prepare(tok_vocab *v);

/* Per-family encoders of one plain-text fragment (no special tokens in it). */
void tok_spm_encode(const tok_vocab *v, const char *text, size_t len, tok_ids *out);
void tok_bpe_encode(const tok_vocab *v, const char *text, size_t len, tok_ids *out);
void tok_wpm_encode(const tok_vocab *v, const char *text, size_t len, tok_ids *out);

/* Pre-tokenizer: splits cps[0..n) into words; writes their lengths (in code
 * points, all > 0, summing to n) to a new array *lens (caller frees) and
 * returns their count. */
size_t tok_pre_split(enum tok_pre pre, const uint32_t *cps, size_t n, uint32_t **lens);

/* Resolves special ids, add_bos/add_eos, attribute fix-ups, the EOG set and
 * the special-token list (tok_special.c); called by tok_vocab_load. */
int tok_vocab_special_init(tok_vocab *v, const gguf_file *f, char *err, size_t errlen);

/* Builds the piece cache (tok_piece.c). */
void tok_pieces_build(tok_vocab *v);

/* Merge candidates of the SPM and BPE encoders (tok_heap.c): a binary
 * min-heap by key, ties to the smaller left index. BPE keys are merge ranks,
 * SPM keys the negated token score (best score first). */
typedef struct tok_bigram {
    double key;
    int32_t left, right;
    int32_t result;  /* merged token id (BPE), unused by SPM */
    uint32_t size;   /* bytes of both sides when queued (staleness check) */
} tok_bigram;

typedef struct tok_bheap {
    tok_bigram *p;
    size_t n, cap;
} tok_bheap;

void tok_bheap_push(tok_bheap *h, tok_bigram b);
/* Removes and returns the first entry; h->n must be > 0. */
tok_bigram tok_bheap_pop(tok_bheap *h);

#endif
