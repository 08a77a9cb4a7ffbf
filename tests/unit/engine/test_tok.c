/* Tokenizer behaviour on real vocabularies (shared/models): special-token
 * parsing, BOS/EOS rules, end-of-generation ids, pieces, round trips and the
 * streaming decoder's UTF-8 holdback. Each test skips loudly when its
 * vocabulary file is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "tok_test_util.h"

static void test_spm_special_and_bos(void **state)
{
    (void)state;
    OPEN_OR_SKIP(v, "vocab/ggml-vocab-llama-spm.gguf");
    int32_t a[4096], b[4096];
    assert_int_equal(tok_vocab_kind(v), TOK_KIND_SPM);
    assert_int_equal(tok_bos(v), 1);
    assert_int_equal(tok_eos(v), 2);
    assert_true(tok_add_bos(v));
    assert_false(tok_add_eos(v));

    size_t n = enc(v, "Hello world", 0, 0, a);
    assert_int_equal(n, 2);
    assert_int_equal(a[0], 15043); /* ▁Hello */
    assert_int_equal(a[1], 3186);  /* ▁world */
    n = enc(v, "Hello world", 1, 0, b);
    assert_int_equal(n, 3);
    assert_int_equal(b[0], 1);
    assert_memory_equal(b + 1, a, 2 * sizeof(int32_t));

    /* control tokens only with parse_special; the text after one gets the space prefix */
    n = enc(v, "<s>Hello</s>", 0, 1, a);
    assert_int_equal(n, 3);
    assert_int_equal(a[0], 1);
    assert_int_equal(a[1], 15043);
    assert_int_equal(a[2], 2);
    n = enc(v, "<s>Hello</s>", 0, 0, a);
    assert_true(n > 3);
    for (size_t i = 0; i < n; i++)
        assert_true(a[i] != 1 && a[i] != 2);

    /* too small a buffer: OM_ERANGE with the needed count */
    size_t need;
    assert_int_equal(tok_encode(v, "Hello world", 11, 1, 0, a, 2, &need), OM_ERANGE);
    assert_int_equal(need, 3);
    assert_int_equal(tok_encode(v, "", 0, 1, 0, a, 4, &need), 0);
    assert_int_equal(need, 1);
    assert_int_equal(a[0], 1);
    tok_vocab_free(v);
}

static void test_spm_pieces_and_stream(void **state)
{
    (void)state;
    OPEN_OR_SKIP(v, "vocab/ggml-vocab-llama-spm.gguf");
    size_t len;
    const char *p = tok_piece(v, 15043, 0, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(p, " Hello", 6);
    p = tok_piece(v, 13, 0, &len); /* <0x0A> */
    assert_int_equal(len, 1);
    assert_int_equal(p[0], '\n');
    tok_piece(v, 1, 0, &len);
    assert_int_equal(len, 0); /* control: empty unless asked */
    p = tok_piece(v, 1, 1, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "<s>", 3);
    tok_piece(v, 99999, 1, &len);
    assert_int_equal(len, 0);

    /* the llama emoji has no token: byte fallback, and the stream holds the
     * first three bytes back until the character is complete */
    int32_t ids[4096];
    size_t n = enc(v, "\xf0\x9f\xa6\x99", 0, 0, ids);
    assert_int_equal(n, 5); /* ▁ and four byte tokens */
    assert_int_equal(ids[1], 243); /* <0xF0> */
    tok_stream st;
    tok_stream_init(&st);
    char out[256];
    size_t no, total = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tok_stream_push(&st, v, ids[i], 0, out + total, sizeof out - total, &no), 0);
        if (i >= 1 && i <= 3)
            assert_int_equal(no, 0);
        total += no;
    }
    assert_int_equal(total, 5);
    assert_memory_equal(out, " \xf0\x9f\xa6\x99", 5);
    assert_int_equal(tok_stream_flush(&st, out, sizeof out, &no), 0);
    assert_int_equal(no, 0);

    /* an unfinished character at the end comes out as U+FFFD on flush */
    assert_int_equal(tok_stream_push(&st, v, 243, 0, out, sizeof out, &no), 0);
    assert_int_equal(no, 0);
    assert_int_equal(tok_stream_flush(&st, out, sizeof out, &no), 0);
    assert_int_equal(no, 3);
    assert_memory_equal(out, "\xef\xbf\xbd", 3);
    assert_int_equal(tok_stream_push(&st, v, -5, 0, out, sizeof out, &no), OM_EINVAL);
    tok_vocab_free(v);
}

static void test_stream_bytes(void **state)
{
    (void)state;
    tok_stream st;
    tok_stream_init(&st);
    char out[64];
    size_t n;
    /* "é" split across two pushes */
    assert_int_equal(tok_stream_push_bytes(&st, "a\xc3", 2, out, sizeof out, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(tok_stream_push_bytes(&st, "\xa9z", 2, out, sizeof out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xc3\xa9z", 3);
    /* a stray continuation byte and a lead byte followed by ASCII: replaced */
    assert_int_equal(tok_stream_push_bytes(&st, "\x80x\xe2(", 4, out, sizeof out, &n), 0);
    assert_int_equal(n, 8);
    assert_memory_equal(out, "\xef\xbf\xbdx\xef\xbf\xbd(", 8);
    /* overlong and surrogate encodings are never passed through */
    assert_int_equal(tok_stream_push_bytes(&st, "\xc0\xaf\xed\xa0\x80", 5, out, sizeof out, &n), 0);
    for (size_t i = 0; i + 2 < n; i += 3)
        assert_memory_equal(out + i, "\xef\xbf\xbd", 3);
    assert_int_equal(n % 3, 0);
    /* too small an output: state unchanged */
    assert_int_equal(tok_stream_push_bytes(&st, "\xe6\x97", 2, out, sizeof out, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(tok_stream_push_bytes(&st, "\xa5xyz", 4, out, 2, &n), OM_ERANGE);
    assert_int_equal(n, 6);
    assert_int_equal(tok_stream_push_bytes(&st, "\xa5xyz", 4, out, sizeof out, &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "\xe6\x97\xa5xyz", 6);
}

static void round_trip(const tok_vocab *v, const char *text)
{
    int32_t ids[4096];
    size_t n = enc(v, text, 1, 0, ids);
    char out[8192];
    size_t no;
    assert_int_equal(tok_decode(v, ids, n, TOK_DECODE_STRIP_PREFIX, out, sizeof out, &no), 0);
    if (no != strlen(text) || memcmp(out, text, no) != 0) {
        print_error("round trip: '%s' -> '%.*s'\n", text, (int)no, out);
        fail();
    }
}

static void test_round_trips(void **state)
{
    (void)state;
    static const char *const vocabs[] = {
        "vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf",
        "vocab/ggml-vocab-deepseek-llm.gguf", "vocab/ggml-vocab-falcon.gguf",
        "vocab/ggml-vocab-starcoder.gguf", "vocab/ggml-vocab-mpt.gguf",
        "vocab/ggml-vocab-phi-3.gguf", "stories260K.gguf",
    };
    int ran = 0;
    for (size_t k = 0; k < sizeof vocabs / sizeof vocabs[0]; k++) {
        tok_vocab *v = open_vocab(vocabs[k]);
        if (!v)
            continue;
        for (size_t i = 0; i < sizeof tok_texts / sizeof tok_texts[0]; i++)
            round_trip(v, tok_texts[i]);
        tok_vocab_free(v);
        ran++;
    }
    if (!ran)
        skip();
}

static void test_bpe_special_and_eog(void **state)
{
    (void)state;
    OPEN_OR_SKIP(v, "vocab/ggml-vocab-gpt-2.gguf");
    int32_t a[4096];
    assert_int_equal(tok_vocab_kind(v), TOK_KIND_BPE);
    assert_string_equal(tok_pre_name(v), "gpt-2");
    assert_false(tok_add_bos(v)); /* gpt-2 adds nothing */
    size_t n = enc(v, "Hello world", 1, 0, a);
    assert_int_equal(n, 2);
    assert_int_equal(a[0], 15496);
    assert_int_equal(a[1], 995);
    n = enc(v, "Hi<|endoftext|>", 0, 1, a);
    assert_int_equal(a[n - 1], 50256);
    n = enc(v, "Hi<|endoftext|>", 0, 0, a);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(a[i], 50256);
    assert_true(tok_is_eog(v, 50256));
    assert_false(tok_is_eog(v, 15496));
    size_t len;
    const char *p = tok_piece(v, 995, 0, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(p, " world", 6);
    tok_vocab_free(v);

    OPEN_OR_SKIP(d, "vocab/ggml-vocab-deepseek-coder.gguf");
    assert_true(tok_add_bos(d)); /* add_bos_token = true */
    n = enc(d, "x", 1, 0, a);
    assert_int_equal(a[0], 32013);
    assert_int_equal(tok_bos(d), 32013);
    assert_true(tok_is_eog(d, 32014));
    tok_vocab_free(d);
}

static void test_phi3_longest_match_and_rstrip(void **state)
{
    (void)state;
    OPEN_OR_SKIP(v, "vocab/ggml-vocab-phi-3.gguf");
    int32_t a[4096], b[4096];
    /* <|endoftext|> wins over its prefix <|end|> */
    size_t n = enc(v, "<|endoftext|>", 0, 1, a);
    assert_int_equal(n, 1);
    assert_int_equal(a[0], 32000);
    n = enc(v, "<|end|>", 0, 1, a);
    assert_int_equal(n, 1);
    assert_int_equal(a[0], 32007);
    assert_true(tok_is_eog(v, 32007));
    assert_true(tok_is_eog(v, 32000));
    assert_int_equal(tok_eot(v), 32007);
    /* phi-3 special tokens swallow the whitespace after them */
    n = enc(v, "<|user|>\n  Hi<|end|>", 0, 1, a);
    size_t m = enc(v, "Hi", 0, 0, b);
    assert_int_equal(n, m + 2);
    assert_int_equal(a[0], 32010);
    assert_memory_equal(a + 1, b, m * sizeof(int32_t));
    assert_int_equal(a[n - 1], 32007);
    tok_vocab_free(v);
}

static void test_bert(void **state)
{
    (void)state;
    OPEN_OR_SKIP(v, "vocab/ggml-vocab-bert-bge.gguf");
    int32_t a[4096], b[4096];
    assert_int_equal(tok_vocab_kind(v), TOK_KIND_WPM);
    size_t n = enc(v, "Hello, World!", 1, 0, a);
    assert_int_equal(a[0], 101);
    assert_int_equal(a[n - 1], 102);
    /* lowercased and accents stripped: these give the same ids */
    size_t m = enc(v, "hello, world!", 1, 0, b);
    assert_int_equal(n, m);
    assert_memory_equal(a, b, n * sizeof(int32_t));
    n = enc(v, "Caf\xc3\xa9", 0, 0, a);
    m = enc(v, "cafe", 0, 0, b);
    assert_int_equal(n, m);
    assert_memory_equal(a, b, n * sizeof(int32_t));
    /* a word made of nothing in the vocabulary becomes [UNK] */
    n = enc(v, "\xe2\xbf\xb0", 0, 0, a);
    assert_int_equal(n, 1);
    assert_int_equal(a[0], 100);
    tok_vocab_free(v);
}

static void test_stories_metadata(void **state)
{
    (void)state;
    OPEN_OR_SKIP(v, "stories260K.gguf");
    assert_int_equal(tok_n_vocab(v), 512);
    assert_int_equal(tok_sep(v), -1); /* stored as 0xFFFFFFFF: none */
    assert_int_equal(tok_pad(v), -1);
    assert_int_equal(tok_unk(v), 0);
    int32_t a[4096];
    size_t n = enc(v, "Once upon a time", 1, 0, a);
    assert_true(n >= 3);
    assert_int_equal(a[0], 1);
    tok_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spm_special_and_bos),
        cmocka_unit_test(test_spm_pieces_and_stream),
        cmocka_unit_test(test_stream_bytes),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_bpe_special_and_eog),
        cmocka_unit_test(test_phi3_longest_match_and_rstrip),
        cmocka_unit_test(test_bert),
        cmocka_unit_test(test_stories_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
