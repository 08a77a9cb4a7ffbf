/* engine: the Unicode facts the tokenizers need: general-category flags,
 * White_Space, simple lowercase, the first code point of the canonical
 * decomposition (NFD), lenient UTF-8 decoding, and GPT-2's byte <-> code point
 * mapping for byte-level BPE.
 *
 * Tables come from the UCD (generated into unicode_data_{flags,case,nfd}.c by
 * scripts/gen_unicode.py). Decoding follows llama.cpp's rules on purpose so
 * that token ids match its tokenizer tests byte for byte: a bad or truncated
 * sequence decodes to U+FFFD and consumes one byte; overlong forms and
 * surrogates are accepted as they decode. All functions are pure and
 * thread-safe. */
#ifndef UNICODE_H
#define UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Category flags (exactly one per code point) plus helper bits. */
enum {
    UNICODE_F_UNDEF = 0x0001,  /* Cn, or beyond U+10FFFF */
    UNICODE_F_NUMBER = 0x0002, /* \p{N} */
    UNICODE_F_LETTER = 0x0004, /* \p{L} */
    UNICODE_F_SEPARATOR = 0x0008, /* \p{Z} */
    UNICODE_F_MARK = 0x0010,   /* \p{M} */
    UNICODE_F_PUNCT = 0x0020,  /* \p{P} */
    UNICODE_F_SYMBOL = 0x0040, /* \p{S} */
    UNICODE_F_CONTROL = 0x0080, /* \p{C} except Cn */
    UNICODE_F_WHITESPACE = 0x0100, /* White_Space property (\s) */
};

#define UNICODE_REPLACEMENT 0xFFFDu

/* Category flags of cp, with UNICODE_F_WHITESPACE added when it applies. */
uint16_t unicode_flags(uint32_t cp);
int unicode_is_whitespace(uint32_t cp);
/* Simple lowercase mapping (UnicodeData field 13); cp itself when none. */
uint32_t unicode_tolower(uint32_t cp);
/* First code point of cp's canonical decomposition; cp when it has none. */
uint32_t unicode_nfd_first(uint32_t cp);

/* Length of the UTF-8 sequence a lead byte announces (1 for a continuation
 * byte), without looking further. */
size_t unicode_utf8_len(uint8_t lead);
/* Decodes the code point at s[*pos] (requires *pos < n) and advances *pos.
 * Invalid or truncated sequences give U+FFFD and advance by one byte. */
uint32_t unicode_utf8_next(const char *s, size_t n, size_t *pos);
/* Encodes cp (<= 0x10FFFF, else U+FFFD) into out; returns 1..4 bytes. */
size_t unicode_utf8_put(uint32_t cp, char out[4]);
/* GPT-2 byte-level BPE: each byte is shown as a printable code point
 * (0x21..0x7E, 0xA1..0xAC, 0xAE..0xFF as themselves, the rest from U+0100). */
uint32_t unicode_byte_to_cp(uint8_t b);
/* Inverse; -1 when cp is not the image of a byte. */
int unicode_cp_to_byte(uint32_t cp);

#endif
