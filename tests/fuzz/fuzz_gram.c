/* fuzz: libFuzzer target for prompt/gram. The input is a JSON Schema, a NUL
 * byte, then a document (no NUL: the "json" format grammar on the whole
 * input as document). Invariants: compiling either fails with a message or
 * succeeds; feeding the document, accepts() agrees with advance() and with
 * the next-byte mask and with the vocabulary mask over a small fixed set of
 * JSON-ish pieces, a rejected advance leaves the state unchanged, and a
 * document the grammar completes parses as JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "prompt/gram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const pieces[] = {
    "{", "}", "[", "]", "\"", ":", ",", " ", "\n", "\n  ", "{\"", "\":", "\",\"", "},", "],",
    "0", "1", "12", "-", ".", "e", "E+", "true", "false", "null", "a", "name", "\\", "\\u",
    "00e9", "\xc3\xa9", "\xe2\x82", "\xac", "\xf0\x9f\x98\x80", "\\n", "\"}", "\"]", "x\"", "",
};

static void check_mask(const struct gram_state *st)
{
    static struct gram_vocab *v;
    enum { N = sizeof(pieces) / sizeof(pieces[0]) };
    if (!v) {
        size_t lens[N];
        for (size_t i = 0; i < N; i++)
            lens[i] = strlen(pieces[i]);
        if (gram_vocab_new(pieces, lens, N, &v))
            abort();
    }
    uint8_t al[N];
    int32_t n = gram_state_allowed(st, v, al), m = 0;
    for (size_t i = 0; i < N; i++) {
        bool a = pieces[i][0] && gram_state_accepts(st, pieces[i], strlen(pieces[i]));
        if (a != (al[i] == 1))
            abort();
        m += a;
    }
    if (m != n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    char err[256] = "";
    struct gram *g = NULL;
    const char *doc = (const char *)data;
    size_t dlen = size;
    int rc;
    if (nul) {
        rc = gram_new_schema((const char *)data, (size_t)(nul - data), &g, err, sizeof(err));
        doc = (const char *)nul + 1;
        dlen = size - (size_t)(nul - data) - 1;
    } else {
        rc = gram_new_json(&g, err, sizeof(err));
    }
    if (rc) {
        if (!err[0] || g)
            abort();
        return 0;
    }
    struct gram_state *st = gram_state_new(g);
    size_t i = 0;
    for (; i < dlen; i++) {
        if (i < 64)
            check_mask(st);
        uint64_t m[4];
        gram_state_next_bytes(st, m);
        uint8_t b = (uint8_t)doc[i];
        bool in = (m[b >> 6] >> (b & 63)) & 1;
        bool acc = gram_state_accepts(st, doc + i, 1);
        if (in != acc)
            abort();
        bool was = gram_state_complete(st);
        int arc = gram_state_advance(st, doc + i, 1);
        if ((arc == 0) != acc)
            abort();
        if (arc) {
            if (gram_state_complete(st) != was)
                abort();
            break;
        }
    }
    if (i == dlen && dlen && gram_state_complete(st)) {
        json_t *v = json_loadb(doc, dlen, JSON_DECODE_ANY, NULL);
        if (!v)
            abort();
        json_decref(v);
    }
    gram_state_free(st);
    gram_free(g);
    return 0;
}
