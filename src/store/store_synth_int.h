/* store: private interface of the synthesizer (tensor tables and vocabularies). */
#ifndef STORE_SYNTH_INT_H
#define STORE_SYNTH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store_int.h"

enum store_vocab_style { STORE_VOCAB_SPM = 0, STORE_VOCAB_BPE = 1, STORE_VOCAB_WPM = 2 };

/* A generated vocabulary; arrays of n entries, owned. */
struct store_vocab {
    char **tok;
    float *score;
    int32_t *type; /* llama.cpp token types: 1 normal, 2 unknown, 3 control, 5 unused, 6 byte */
    uint64_t n;
    char **merges; /* BPE only: "a b" */
    uint64_t n_merges;
    int32_t bos, eos, unk, pad, sep, mask; /* -1 when absent */
};

/* Builds a vocabulary of exactly n tokens. Returns 0, or OM_EINVAL when n is
 * too small for the style's fixed tokens. */
int store_vocab_build(enum store_vocab_style style, uint64_t n, uint64_t seed,
                      struct store_vocab *v, char *err, size_t errlen);
void store_vocab_free(struct store_vocab *v);
/* Writes the tokenizer.ggml.* keys. */
void store_vocab_write(gguf_writer *g, const struct store_vocab *v, enum store_vocab_style style);

#endif
