/* fuzz: libFuzzer target for tok_encode and the streaming detokenizer.
 * Vocabularies: the GGUF files named in $OM_FUZZ_VOCABS (colon-separated,
 * e.g. the shared ggml-vocab-*.gguf), else two small synthetic ones (SPM with
 * byte fallback, byte-level BPE) written to $TMPDIR at start-up. The first
 * input byte picks the vocabulary and the add/parse flags; the rest is text.
 * Invariants: encode succeeds, every id is in range, asking again with the
 * exact count gives the same ids, the stream emits valid UTF-8 only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/tok.h"
#include "format/gguf.h"

static tok_vocab *g_v[16];
static int g_n;

static void add_file(const char *path)
{
    gguf_file *g;
    char err[256];
    tok_vocab *v;
    if (g_n < 16 && gguf_open(path, &g, err, sizeof err) == 0) {
        if (tok_vocab_load(g, &v, err, sizeof err) == 0)
            g_v[g_n++] = v;
        gguf_close(g);
    }
}

static void synthetic(void)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[512];
    static char bytes[256][8];
    const char *toks[270];
    int32_t types[270];
    float scores[270];
    for (int i = 0; i < 256; i++) {
        snprintf(bytes[i], sizeof bytes[i], "<0x%02X>", i);
        toks[i] = bytes[i], types[i] = 6, scores[i] = 0;
    }
    static const char *const extra[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b",
                                        "\xe2\x96\x81" "a", "ab", "<|im_end|>", "\xe2\x96\x81" "ab"};
    for (int i = 0; i < 10; i++)
        toks[256 + i] = extra[i], types[256 + i] = i < 3 ? 3 : 1, scores[256 + i] = -(float)i;
    types[264] = 3;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 266);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, 266);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, 266);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 257);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 258);
    gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 256);
    snprintf(path, sizeof path, "%s/fuzz_tok_spm_%d.gguf", dir, (int)getpid());
    char err[256];
    if (gguf_writer_write(w, path, err, sizeof err) == 0)
        add_file(path);
    unlink(path);
    gguf_writer_free(w);

    /* byte-level BPE over the 256 mapped bytes plus a few merges */
    static char mapped[256][4];
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int cp = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE) ? b : 0x100 + n++;
        char *o = mapped[b];
        if (cp < 0x80) {
            o[0] = (char)cp, o[1] = 0;
        } else {
            o[0] = (char)(0xC0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3F)), o[2] = 0;
        }
        toks[b] = mapped[b];
        types[b] = 1;
    }
    static const char *const more[] = {"th", "the", "\xc4\xa0t", "\xc4\xa0the", "<|endoftext|>"};
    static const char *const merges[] = {"t h", "th e", "\xc4\xa0 t", "\xc4\xa0t he", "\xc4\xa0t h"};
    for (int i = 0; i < 5; i++)
        toks[256 + i] = more[i], types[256 + i] = i == 4 ? 3 : 1;
    w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "llama-bpe");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 261);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, 261);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 3);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 260);
    snprintf(path, sizeof path, "%s/fuzz_tok_bpe_%d.gguf", dir, (int)getpid());
    if (gguf_writer_write(w, path, err, sizeof err) == 0)
        add_file(path);
    unlink(path);
    gguf_writer_free(w);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *list = getenv("OM_FUZZ_VOCABS");
    if (list) {
        char *copy = strdup(list);
        for (char *p = strtok(copy, ":"); p; p = strtok(NULL, ":"))
            add_file(p);
        free(copy);
    }
    if (!g_n)
        synthetic();
    if (!g_n)
        abort();
    return 0;
}

static int valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        for (size_t j = 1; j < len; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
            return 0;
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const tok_vocab *v = g_v[data[0] % g_n];
    int add = (data[0] >> 4) & 1, parse = (data[0] >> 5) & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1, n, n2;
    if (tok_encode(v, text, len, add, parse, NULL, 0, &n) != (n ? -4003 : 0))
        abort();
    int32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
    if (tok_encode(v, text, len, add, parse, ids, n, &n2) != 0 || n2 != n)
        abort();
    size_t cap = 3 * (tok_max_piece_len(v) + 4), k;
    char *out = malloc(cap);
    tok_stream st;
    tok_stream_init(&st);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok_n_vocab(v))
            abort();
        if (tok_stream_push(&st, v, ids[i], (int)(i & 1), out, cap, &k) != 0 ||
            !valid_utf8((unsigned char *)out, k))
            abort();
    }
    if (tok_stream_flush(&st, out, cap, &k) != 0 || !valid_utf8((unsigned char *)out, k))
        abort();
    free(out);
    free(ids);
    return 0;
}
