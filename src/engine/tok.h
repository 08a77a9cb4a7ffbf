/* engine: tokenizers loaded from GGUF metadata.
 *
 * Three families, chosen by tokenizer.ggml.model:
 *   "llama"  SentencePiece-style: score-ordered bigram merges over UTF-8
 *            characters, spaces escaped as U+2581, byte fallback to <0xNN>;
 *   "gpt2"   byte-level BPE: a pre-tokenizer named by tokenizer.ggml.pre splits
 *            the text, then ranked merges run inside each piece;
 *   "bert"   WordPiece: lowercase, accents stripped, punctuation and CJK split,
 *            greedy longest match with continuation pieces.
 * "t5", "rwkv", "none"/"no_vocab" and unknown models are refused with
 * OM_EUNSUPPORTED. Token ids match llama.cpp's tokenizer (its test-tokenizer-0
 * files pass exactly), including special-token splitting: control tokens are
 * recognized in the text only with parse_special, user-defined tokens always.
 *
 * A tok_vocab is immutable after loading and owns copies of everything it
 * needs (the gguf_file may be closed afterwards); every function below may be
 * called from several threads at once. Token ids are int32_t in
 * [0, tok_n_vocab); -1 means "no such token". docs/tokenizer.md lists the
 * pre-tokenizers, metadata rules and llama.cpp quirks kept on purpose. */
#ifndef TOK_H
#define TOK_H

#include <stddef.h>
#include <stdint.h>

#include "format/gguf.h"

typedef struct tok_vocab tok_vocab;

enum tok_kind {
    TOK_KIND_SPM = 1, /* "llama" */
    TOK_KIND_BPE = 2, /* "gpt2" */
    TOK_KIND_WPM = 3, /* "bert" */
};

/* Token attributes (tokenizer.ggml.token_type, as bits). */
enum {
    TOK_ATTR_UNDEFINED = 0,
    TOK_ATTR_UNKNOWN = 1 << 0,
    TOK_ATTR_UNUSED = 1 << 1,
    TOK_ATTR_NORMAL = 1 << 2,
    TOK_ATTR_CONTROL = 1 << 3,
    TOK_ATTR_USER_DEFINED = 1 << 4,
    TOK_ATTR_BYTE = 1 << 5,
    TOK_ATTR_LSTRIP = 1 << 7, /* whitespace before it is dropped when split out */
    TOK_ATTR_RSTRIP = 1 << 8, /* whitespace after it is dropped when split out */
};

/* Builds the vocabulary from f's tokenizer.* metadata (f is only borrowed for
 * the call). On success *out is a new vocab the caller frees with
 * tok_vocab_free. Errors: OM_ENOTFOUND (no tokenizer.ggml.model or tokens),
 * OM_EUNSUPPORTED (model or pre-tokenizer we do not implement), OM_EFORMAT
 * (array lengths that disagree, wrong types, merges naming unknown tokens,
 * special ids out of range); err names the key. */
int tok_vocab_load(const gguf_file *f, tok_vocab **out, char *err, size_t errlen);
void tok_vocab_free(tok_vocab *v);

int32_t tok_n_vocab(const tok_vocab *v);
enum tok_kind tok_vocab_kind(const tok_vocab *v);
/* Pre-tokenizer name as resolved ("default" when absent); "" for SPM/WPM. */
const char *tok_pre_name(const tok_vocab *v);

/* Special ids, -1 when the vocabulary has none. */
int32_t tok_bos(const tok_vocab *v);
int32_t tok_eos(const tok_vocab *v);
int32_t tok_eot(const tok_vocab *v);
int32_t tok_eom(const tok_vocab *v);
int32_t tok_unk(const tok_vocab *v);
int32_t tok_sep(const tok_vocab *v);
int32_t tok_pad(const tok_vocab *v);
/* Whether encode with add_special prepends BOS / appends EOS. */
int tok_add_bos(const tok_vocab *v);
int tok_add_eos(const tok_vocab *v);
/* End of generation: EOS, EOT, EOM, and control tokens such as <|im_end|>,
 * <|endoftext|>, <end_of_turn>, <|end|>, <|eot_id|>, <|eom_id|>, <EOT>. */
int tok_is_eog(const tok_vocab *v, int32_t id);
/* Attribute bits of id (0 for an out-of-range id). */
uint32_t tok_attr(const tok_vocab *v, int32_t id);
int tok_is_control(const tok_vocab *v, int32_t id);

/* The token's text exactly as stored in the vocabulary (NUL-terminated,
 * owned by v); NULL for an out-of-range id. */
const char *tok_text(const tok_vocab *v, int32_t id, size_t *len);
/* Id of the token whose stored text is exactly s[0..len), or -1. */
int32_t tok_find(const tok_vocab *v, const char *s, size_t len);

/* Tokenizes text[0..len) into out[0..cap). add_special adds BOS/EOS as the
 * vocabulary asks (WordPiece: [CLS] ... [SEP]); parse_special makes control
 * tokens written in the text come out as their single ids (longest match
 * first). On success returns 0 with *n_out tokens written. OM_ERANGE when cap
 * is too small: *n_out is then the number needed and out is untouched.
 * Invalid UTF-8 is tolerated (treated as U+FFFD or as raw bytes, as
 * llama.cpp does). */
int tok_encode(const tok_vocab *v, const char *text, size_t len, int add_special,
               int parse_special, int32_t *out, size_t cap, size_t *n_out);

/* Bytes that token id stands for (owned by v, NUL-terminated; *len set): SPM
 * maps U+2581 to space and <0xNN> to the byte, BPE undoes the byte mapping.
 * Control and unknown tokens give "" unless special is set (then their text).
 * Returns "" (len 0) for an out-of-range id. A piece may end in the middle of
 * a UTF-8 character: use tok_stream for text shown to people. */
const char *tok_piece(const tok_vocab *v, int32_t id, int special, size_t *len);
/* Longest piece in bytes. */
size_t tok_max_piece_len(const tok_vocab *v);

/* Concatenates the pieces of ids[0..n) into out[0..cap) (not
 * NUL-terminated). TOK_DECODE_SPECIAL renders control tokens; with
 * TOK_DECODE_STRIP_PREFIX the single space that add_space_prefix put in front
 * of the text is removed from the first non-empty piece. Returns 0, or
 * OM_ERANGE with *n_out = bytes needed. Bytes are not validated. */
enum { TOK_DECODE_SPECIAL = 1, TOK_DECODE_STRIP_PREFIX = 2 };
int tok_decode(const tok_vocab *v, const int32_t *ids, size_t n, int flags, char *out,
               size_t cap, size_t *n_out);

/* Streaming detokenizer: feeds pieces one token at a time and only ever
 * emits whole, valid UTF-8 characters. A character split across tokens is
 * held back (at most 3 bytes) until it completes; bytes that can never form
 * a valid character are replaced by U+FFFD. Caller-allocated; no allocation. */
typedef struct tok_stream {
    uint8_t held[4];
    uint8_t n_held;
} tok_stream;

void tok_stream_init(tok_stream *s);
/* Appends token id's piece; writes the now-complete text to out[0..cap) and
 * sets *n_out. Returns 0; OM_ERANGE (state unchanged, *n_out = needed) when
 * cap is too small (3 * (tok_max_piece_len + 4) always suffices); OM_EINVAL
 * for an out-of-range id. */
int tok_stream_push(tok_stream *s, const tok_vocab *v, int32_t id, int special, char *out,
                    size_t cap, size_t *n_out);
/* Same for raw bytes (used by push; handy for text that is not a token). */
int tok_stream_push_bytes(tok_stream *s, const char *bytes, size_t n, char *out, size_t cap,
                          size_t *n_out);
/* Ends the stream: held bytes of an unfinished character come out as U+FFFD
 * (needs cap >= 3). Resets s. */
int tok_stream_flush(tok_stream *s, char *out, size_t cap, size_t *n_out);

#endif
