/* Shared helpers of the tokenizer tests (include after cmocka.h): open a vocabulary from
 * shared/models (NULL, with a message, when absent), encode into a fixed
 * buffer, and the sample texts. */
#ifndef TOK_TEST_UTIL_H
#define TOK_TEST_UTIL_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/om.h"
#include "engine/tok.h"
#include "format/gguf.h"

#define MODELS OM_SHARED_DIR "/models/"

static inline tok_vocab *open_vocab(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, MODELS "%s", rel);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "SKIP: %s absent\n", path);
        return NULL;
    }
    gguf_file *g;
    char err[256];
    if (gguf_open(path, &g, err, sizeof err)) {
        print_error("%s: %s\n", path, err);
        fail();
    }
    tok_vocab *v;
    int rc = tok_vocab_load(g, &v, err, sizeof err);
    gguf_close(g);
    if (rc) {
        print_error("%s: %s\n", path, err);
        fail();
    }
    return v;
}

#define OPEN_OR_SKIP(v, rel) \
    tok_vocab *v = open_vocab(rel); \
    if (!v) \
        skip()

/* Encodes s; returns the count, ids in out (cap 4096). */
static inline size_t enc(const tok_vocab *v, const char *s, int add_special, int parse_special, int32_t *out)
{
    size_t n;
    assert_int_equal(tok_encode(v, s, strlen(s), add_special, parse_special, out, 4096, &n), 0);
    return n;
}

static const char *const tok_texts[] = {
    "Hello world",
    " leading space and  double  spaces ",
    "Tabs\tand\nnewlines\r\n\n and 3.14159 numbers 1234567",
    "Unicode: caf\xc3\xa9, \xd0\xbd\xd0\xb5\xd1\x89\xd0\xbe, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e, "
    "\xf0\x9f\xa6\x99 \xf0\x9f\x9a\x80!",
    "code: for (int i = 0; i < n; i++) { x += a[i] * b[i]; } // done",
    "I'm sure they'll say it's 'fine' -- won't they?",
};


#endif
