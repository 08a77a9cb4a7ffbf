/* Tokenizer loading from hand-made GGUF metadata: hostile or inconsistent
 * files must fail with the right code and an error naming the key; small
 * synthetic vocabularies pin the merge order of BPE (rank, llama3's
 * whole-word shortcut) and SentencePiece (score, byte fallback). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/om.h"
#include "engine/tok.h"
#include "format/gguf.h"

static char tmp_path[256];

static int setup(void **state)
{
    (void)state;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmp_path, sizeof tmp_path, "%s/om_tok_meta_%d.gguf", dir, (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(tmp_path);
    return 0;
}

/* Writes w (freed) and loads it; returns tok_vocab_load's code. */
static int load(gguf_writer *w, tok_vocab **v, char *err, size_t errlen)
{
    assert_int_equal(gguf_writer_write(w, tmp_path, err, errlen), 0);
    gguf_writer_free(w);
    gguf_file *g;
    assert_int_equal(gguf_open(tmp_path, &g, err, errlen), 0);
    err[0] = 0;
    int rc = tok_vocab_load(g, v, err, errlen);
    gguf_close(g);
    if (rc)
        assert_null(*v);
    return rc;
}

static void expect_fail(gguf_writer *w, int code, const char *in_err)
{
    tok_vocab *v = (tok_vocab *)1;
    char err[256];
    int rc = load(w, &v, err, sizeof err);
    if (rc != code || !strstr(err, in_err)) {
        print_error("want %d with '%s', got %d: '%s'\n", code, in_err, rc, err);
        fail();
    }
}

static const char *const bpe_toks[] = {"a", "b", "c", "d", "ab", "bc", "abc", "cd", "abcd",
                                       "<|endoftext|>"};
static const char *const bpe_merges[] = {"b c", "a b", "a bc", "c d"};

static gguf_writer *bpe_writer(const char *pre)
{
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (pre)
        gguf_writer_set_str(w, "tokenizer.ggml.pre", pre);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", bpe_toks, 10);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", bpe_merges, 4);
    return w;
}

static void test_bad_model(void **state)
{
    (void)state;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.name", "x");
    expect_fail(w, OM_ENOTFOUND, "tokenizer.ggml.model");
    w = bpe_writer("gpt-2");
    gguf_writer_set_str(w, "tokenizer.ggml.model", "t5");
    expect_fail(w, OM_EUNSUPPORTED, "t5");
    w = bpe_writer("gpt-2");
    gguf_writer_set_str(w, "tokenizer.ggml.model", "none");
    expect_fail(w, OM_EUNSUPPORTED, "no vocabulary");
    w = bpe_writer("gpt-2");
    gguf_writer_set_u32(w, "tokenizer.ggml.model", 3);
    expect_fail(w, OM_EFORMAT, "tokenizer.ggml.model");
    expect_fail(bpe_writer("no-such-pre"), OM_EUNSUPPORTED, "tokenizer.ggml.pre");
}

static void test_bad_arrays(void **state)
{
    (void)state;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    expect_fail(w, OM_ENOTFOUND, "tokenizer.ggml.tokens");

    w = bpe_writer("gpt-2");
    uint32_t nums[3] = {1, 2, 3};
    gguf_writer_set_arr(w, "tokenizer.ggml.tokens", GGUF_VT_UINT32, nums, 3);
    expect_fail(w, OM_EFORMAT, "tokenizer.ggml.tokens");

    w = bpe_writer("gpt-2");
    float scores[3] = {0, 0, 0};
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, 3);
    expect_fail(w, OM_EFORMAT, "tokenizer.ggml.scores");

    w = bpe_writer("gpt-2");
    int32_t types[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 3};
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, 9);
    expect_fail(w, OM_EFORMAT, "tokenizer.ggml.token_type");

    w = bpe_writer("gpt-2");
    gguf_writer_remove(w, "tokenizer.ggml.merges");
    expect_fail(w, OM_EFORMAT, "tokenizer.ggml.merges");

    w = bpe_writer("gpt-2");
    static const char *const unknown[] = {"a b", "x y"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", unknown, 2);
    expect_fail(w, OM_EFORMAT, "tokenizer.ggml.merges[1]");

    w = bpe_writer("gpt-2");
    static const char *const nospace[] = {"ab"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", nospace, 1);
    expect_fail(w, OM_EFORMAT, "tokenizer.ggml.merges[0]");
}

static void test_bad_ids(void **state)
{
    (void)state;
    gguf_writer *w = bpe_writer("gpt-2");
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 10);
    expect_fail(w, OM_EFORMAT, "tokenizer.ggml.bos_token_id");
    w = bpe_writer("gpt-2");
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 123456);
    expect_fail(w, OM_EFORMAT, "tokenizer.ggml.eos_token_id");
    w = bpe_writer("gpt-2");
    gguf_writer_set_str(w, "tokenizer.ggml.unknown_token_id", "0");
    expect_fail(w, OM_EFORMAT, "tokenizer.ggml.unknown_token_id");

    /* a padding id past the end (seen in real files) is dropped, not fatal;
     * 0xFFFFFFFF means "none" */
    w = bpe_writer("gpt-2");
    gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 10);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 0xFFFFFFFFu);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 9);
    tok_vocab *v;
    char err[256];
    assert_int_equal(load(w, &v, err, sizeof err), 0);
    assert_int_equal(tok_pad(v), -1);
    assert_int_equal(tok_eos(v), -1);
    assert_int_equal(tok_bos(v), 9);
    assert_true(tok_is_eog(v, 9)); /* <|endoftext|> by its text */
    assert_true(tok_is_control(v, 9));
    tok_vocab_free(v);
}

static void test_bpe_merge_order(void **state)
{
    (void)state;
    tok_vocab *v;
    char err[256];
    int32_t ids[16];
    size_t n;
    assert_int_equal(load(bpe_writer("gpt-2"), &v, err, sizeof err), 0);
    /* b+c (rank 0) before a+b (rank 1): abcd -> a bc d -> abc d */
    assert_int_equal(tok_encode(v, "abcd", 4, 0, 0, ids, 16, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 6);
    assert_int_equal(ids[1], 3);
    assert_int_equal(tok_find(v, "abcd", 4), 8);
    /* no pre key: the default pre-tokenizer */
    tok_vocab_free(v);
    assert_int_equal(load(bpe_writer(NULL), &v, err, sizeof err), 0);
    assert_string_equal(tok_pre_name(v), "default");
    tok_vocab_free(v);

    /* llama3 takes a word that is a token whole, and adds BOS by default */
    gguf_writer *w = bpe_writer("llama-bpe");
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 9);
    assert_int_equal(load(w, &v, err, sizeof err), 0);
    assert_int_equal(tok_encode(v, "abcd", 4, 1, 0, ids, 16, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 9);
    assert_int_equal(ids[1], 8);
    tok_vocab_free(v);
}

static void test_spm_synthetic(void **state)
{
    (void)state;
    /* 0..2 specials, 3..258 bytes, then pieces */
    const char *toks[266];
    int32_t types[266];
    float scores[266];
    static char bytes[256][8];
    toks[0] = "<unk>", toks[1] = "<s>", toks[2] = "</s>";
    types[0] = 2, types[1] = types[2] = 3;
    for (int i = 0; i < 256; i++) {
        snprintf(bytes[i], sizeof bytes[i], "<0x%02X>", i);
        toks[3 + i] = bytes[i];
        types[3 + i] = 6;
    }
    static const char *const pieces[] = {"\xe2\x96\x81", "a", "b", "\xe2\x96\x81" "a", "ab",
                                         "\xe2\x96\x81" "ab", ""};
    static const float piece_scores[] = {-1, -2, -2, -5, -3, -4, 0};
    for (int i = 0; i < 7; i++) {
        toks[259 + i] = pieces[i];
        types[259 + i] = 1;
        scores[259 + i] = piece_scores[i];
    }
    for (int i = 0; i < 259; i++)
        scores[i] = 0;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 266);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, 266);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, 266);
    tok_vocab *v;
    char err[256];
    assert_int_equal(load(w, &v, err, sizeof err), 0);
    assert_int_equal(tok_bos(v), 1);
    int32_t ids[16];
    size_t n;
    /* "a"+"b" (score -3) beats "▁"+"a" (-5): ▁ ab -> ▁ab */
    assert_int_equal(tok_encode(v, "ab", 2, 1, 0, ids, 16, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 264);
    /* "é" has no piece: its two bytes */
    assert_int_equal(tok_encode(v, "\xc3\xa9", 2, 0, 0, ids, 16, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 259);
    assert_int_equal(ids[1], 3 + 0xC3);
    assert_int_equal(ids[2], 3 + 0xA9);
    /* an empty token text is renamed, not lost */
    size_t len;
    assert_string_equal(tok_text(v, 265, &len), "[EMPTY_265]");
    tok_vocab_free(v);
}

/* gpt-oss's harmony tokens: <|end|> stops being end-of-generation when
 * <|return|> and <|call|> exist, and the framing tokens are split out of
 * text even without parse_special. */
static void test_harmony_eog(void **state)
{
    (void)state;
    static const char *const toks[] = {"a", "b", "<|end|>", "<|return|>", "<|call|>", "<|channel|>",
                                       "<|im_end|>"};
    int32_t types[] = {1, 1, 3, 3, 3, 3, 1};
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "gpt-4o");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 7);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, 7);
    static const char *const merges[] = {"a b"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 0); /* an empty list is valid */
    tok_vocab *v;
    char err[256];
    assert_int_equal(load(w, &v, err, sizeof err), 0);
    assert_false(tok_is_eog(v, 2));
    assert_true(tok_is_eog(v, 3));
    assert_true(tok_is_eog(v, 4));
    assert_true(tok_is_eog(v, 6)); /* by its text, and made a control token */
    assert_true(tok_is_control(v, 6));
    int32_t ids[16];
    size_t n;
    assert_int_equal(tok_encode(v, "a<|channel|>b", 13, 0, 0, ids, 16, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 5);
    tok_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_model),
        cmocka_unit_test(test_bad_arrays),
        cmocka_unit_test(test_bad_ids),
        cmocka_unit_test(test_bpe_merge_order),
        cmocka_unit_test(test_spm_synthetic),
        cmocka_unit_test(test_harmony_eog),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
