/* Unit tests for store/ synthesizer: every family's tensor table and
 * metadata as llama.cpp loads them, tokenizers that the engine's tokenizer
 * loads and round-trips, determinism in the seed, value statistics, presets,
 * and bad specs refused without writing anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/om.h"
#include "base/om_types.h"
#include "engine/eng.h"
#include "engine/tok.h"
#include "format/gguf.h"
#include "store/store.h"
#include "store/store_tmpdir.h"


static int setup(void **state)
{
    (void)state;
    return tmpdir_make("synth");
}

static int teardown(void **state)
{
    (void)state;
    tmpdir_remove();
    return 0;
}

/* Expected tensors per family, from llama.cpp's loader (llama-model.cpp). */
struct expect {
    const char *arch;
    const char *const *global;
    const char *const *layer;
};

static const char *const g_llama_g[] = {"token_embd.weight", "output_norm.weight",
                                        "output.weight", NULL};
static const char *const g_tied_g[] = {"token_embd.weight", "output_norm.weight", NULL};
static const char *const g_llama_l[] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight",
                                        "attn_v.weight", "attn_output.weight", "ffn_norm.weight",
                                        "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
                                        NULL};
static const char *const g_qwen2_l[] = {"attn_norm.weight", "attn_q.weight", "attn_q.bias",
                                        "attn_k.weight", "attn_k.bias", "attn_v.weight",
                                        "attn_v.bias", "attn_output.weight", "ffn_norm.weight",
                                        "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
                                        NULL};
static const char *const g_qwen3_l[] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight",
                                        "attn_v.weight", "attn_q_norm.weight",
                                        "attn_k_norm.weight", "attn_output.weight",
                                        "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight",
                                        "ffn_down.weight", NULL};
static const char *const g_phi3_l[] = {"attn_norm.weight", "attn_qkv.weight",
                                       "attn_output.weight", "ffn_norm.weight", "ffn_up.weight",
                                       "ffn_down.weight", NULL};
static const char *const g_gemma2_l[] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight",
                                         "attn_v.weight", "attn_output.weight",
                                         "post_attention_norm.weight", "ffn_norm.weight",
                                         "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
                                         "post_ffw_norm.weight", NULL};
static const char *const g_gemma3_l[] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight",
                                         "attn_v.weight", "attn_q_norm.weight",
                                         "attn_k_norm.weight", "attn_output.weight",
                                         "post_attention_norm.weight", "ffn_norm.weight",
                                         "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
                                         "post_ffw_norm.weight", NULL};
static const char *const g_bert_g[] = {"token_embd.weight", "token_types.weight",
                                       "position_embd.weight", "token_embd_norm.weight",
                                       "token_embd_norm.bias", NULL};
static const char *const g_nomic_g[] = {"token_embd.weight", "token_types.weight",
                                        "token_embd_norm.weight", "token_embd_norm.bias", NULL};
static const char *const g_bert_l[] = {
    "attn_q.weight", "attn_q.bias", "attn_k.weight", "attn_k.bias", "attn_v.weight",
    "attn_v.bias", "attn_output.weight", "attn_output.bias", "attn_output_norm.weight",
    "attn_output_norm.bias", "ffn_up.weight", "ffn_up.bias", "ffn_down.weight", "ffn_down.bias",
    "layer_output_norm.weight", "layer_output_norm.bias", NULL};
static const char *const g_nomic_l[] = {
    "attn_qkv.weight", "attn_output.weight", "attn_output_norm.weight", "attn_output_norm.bias",
    "ffn_up.weight", "ffn_gate.weight", "ffn_down.weight", "layer_output_norm.weight",
    "layer_output_norm.bias", NULL};

static const struct expect g_expect[STORE_ARCH_COUNT] = {
    [STORE_ARCH_LLAMA] = {"llama", g_llama_g, g_llama_l},
    [STORE_ARCH_QWEN2] = {"qwen2", g_tied_g, g_qwen2_l},
    [STORE_ARCH_QWEN3] = {"qwen3", g_tied_g, g_qwen3_l},
    [STORE_ARCH_PHI3] = {"phi3", g_llama_g, g_phi3_l},
    [STORE_ARCH_GEMMA2] = {"gemma2", g_tied_g, g_gemma2_l},
    [STORE_ARCH_GEMMA3] = {"gemma3", g_tied_g, g_gemma3_l},
    [STORE_ARCH_BERT] = {"bert", g_bert_g, g_bert_l},
    [STORE_ARCH_NOMIC_BERT] = {"nomic-bert", g_nomic_g, g_nomic_l},
};

static size_t count(const char *const *l)
{
    size_t n = 0;
    while (l[n])
        n++;
    return n;
}

static uint32_t get_u32(const gguf_file *f, const char *arch, const char *suffix)
{
    char key[128];
    uint32_t v = 0;
    snprintf(key, sizeof(key), "%s.%s", arch, suffix);
    if (gguf_get_u32(f, key, &v))
        fail_msg("missing key %s", key);
    return v;
}

/* Encodes text and decodes it back; returns 1 when the text comes back. */
static int round_trip(const tok_vocab *v, const char *text, int strip)
{
    int32_t ids[256];
    size_t n;
    if (tok_encode(v, text, strlen(text), 0, 0, ids, 256, &n) || n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == tok_unk(v))
            return 0;
    char out[512];
    size_t no;
    if (tok_decode(v, ids, n, strip ? TOK_DECODE_STRIP_PREFIX : 0, out, sizeof(out), &no))
        return 0;
    const char *o = out;
    while (no && *o == ' ')
        o++, no--; /* WordPiece decodes word starts with a space */
    return no == strlen(text) && !memcmp(o, text, no);
}

static void check_family(enum store_arch a)
{
    struct store_synth_spec s;
    store_synth_defaults(a, &s);
    assert_int_equal(s.arch, a);
    s.n_threads = 2;
    char err[256], out[300];
    snprintf(out, sizeof(out), "%s/%s.gguf", g_dir, store_arch_name(a));
    int rc = store_synth(&s, out, NULL, NULL, err, sizeof(err));
    if (rc)
        fail_msg("%s: %s", store_arch_name(a), err);
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f, err, sizeof(err)), 0);
    const struct expect *e = &g_expect[a];
    gguf_str as;
    assert_int_equal(gguf_get_str(f, "general.architecture", &as), 0);
    assert_true(gguf_str_eq(as, e->arch));
    assert_int_equal(get_u32(f, e->arch, "block_count"), s.n_layer);
    assert_int_equal(get_u32(f, e->arch, "embedding_length"), s.n_embd);
    assert_int_equal(get_u32(f, e->arch, "feed_forward_length"), s.n_ff);
    assert_int_equal(get_u32(f, e->arch, "context_length"), s.n_ctx);
    assert_int_equal(get_u32(f, e->arch, "attention.head_count"), s.n_head);
    uint32_t ft;
    assert_int_equal(gguf_get_u32(f, "general.file_type", &ft), 0);
    assert_int_equal(ft, 0); /* ALL_F32 */
    int bert = a == STORE_ARCH_BERT || a == STORE_ARCH_NOMIC_BERT;
    if (!bert)
        assert_int_equal(get_u32(f, e->arch, "attention.head_count_kv"), s.n_head_kv);
    int64_t hd = s.head_dim ? s.head_dim : s.n_embd / s.n_head;
    if (a == STORE_ARCH_QWEN3 || a == STORE_ARCH_GEMMA2 || a == STORE_ARCH_GEMMA3)
        assert_int_equal(get_u32(f, e->arch, "attention.key_length"), hd);

    /* exactly the expected tensors, with llama.cpp's shapes */
    size_t n_exp = count(e->global) + (size_t)s.n_layer * count(e->layer);
    assert_int_equal(gguf_n_tensors(f), n_exp);
    for (const char *const *g = e->global; *g; g++)
        if (!gguf_find_tensor(f, *g))
            fail_msg("%s: missing %s", e->arch, *g);
    for (int l = 0; l < s.n_layer; l++)
        for (const char *const *g = e->layer; *g; g++) {
            char name[96];
            snprintf(name, sizeof(name), "blk.%d.%s", l, *g);
            if (!gguf_find_tensor(f, name))
                fail_msg("%s: missing %s", e->arch, name);
        }
    const gguf_tensor *te = gguf_find_tensor(f, "token_embd.weight");
    assert_int_equal(te->ne[0], s.n_embd);
    assert_int_equal(te->ne[1], s.n_vocab);
    const gguf_tensor *down = gguf_find_tensor(f, "blk.1.ffn_down.weight");
    assert_int_equal(down->ne[0], s.n_ff);
    assert_int_equal(down->ne[1], s.n_embd);
    const gguf_tensor *q = gguf_find_tensor(f, "blk.0.attn_q.weight");
    if (q) {
        assert_int_equal(q->ne[0], s.n_embd);
        assert_int_equal(q->ne[1], s.n_head * hd);
        const gguf_tensor *k = gguf_find_tensor(f, "blk.0.attn_k.weight");
        assert_int_equal(k->ne[1], (bert ? s.n_head : s.n_head_kv) * hd);
    }
    const gguf_tensor *qkv = gguf_find_tensor(f, "blk.0.attn_qkv.weight");
    if (qkv)
        assert_int_equal(qkv->ne[1], s.n_head * hd + 2 * (bert ? s.n_head : s.n_head_kv) * hd);
    if (a == STORE_ARCH_PHI3) {
        assert_int_equal(gguf_find_tensor(f, "blk.0.ffn_up.weight")->ne[1], 2 * s.n_ff);
        assert_int_equal(get_u32(f, e->arch, "attention.sliding_window"), s.n_ctx);
    }
    if (a == STORE_ARCH_GEMMA2)
        assert_int_equal(get_u32(f, e->arch, "attention.sliding_window"), 4096);
    if (a == STORE_ARCH_BERT)
        assert_int_equal(gguf_find_tensor(f, "position_embd.weight")->ne[1], s.n_ctx);

    /* the tokenizer loads and round-trips plain text */
    tok_vocab *v;
    rc = tok_vocab_load(f, &v, err, sizeof(err));
    if (rc)
        fail_msg("%s: tok_vocab_load: %s", e->arch, err);
    assert_int_equal(tok_n_vocab(v), s.n_vocab);
    enum tok_kind want = bert ? TOK_KIND_WPM
                         : (a == STORE_ARCH_QWEN2 || a == STORE_ARCH_QWEN3) ? TOK_KIND_BPE
                                                                            : TOK_KIND_SPM;
    assert_int_equal(tok_vocab_kind(v), want);
    if (!round_trip(v, "the quick brown fox jumps over the lazy dog", want == TOK_KIND_SPM))
        fail_msg("%s: text does not round-trip", e->arch);
    assert_true(tok_bos(v) >= 0 && tok_eos(v) >= 0);
    tok_vocab_free(v);
    gguf_close(f);

    /* the engine binds every tensor of the family (names, shapes, keys) */
    eng_model *m;
    rc = eng_model_load(out, NULL, &m, err, sizeof(err));
    if (rc)
        fail_msg("%s: eng_model_load: %s", e->arch, err);
    assert_string_equal(eng_model_arch(m), e->arch);
    assert_int_equal(eng_model_n_layer(m), s.n_layer);
    assert_int_equal(eng_model_n_vocab(m), s.n_vocab);
    eng_model_free(m);
    unlink(out);
}

static void test_families(void **state)
{
    (void)state;
    for (int a = 0; a < STORE_ARCH_COUNT; a++)
        check_family((enum store_arch)a);
}

static void test_bpe_merges(void **state)
{
    (void)state;
    struct store_synth_spec s;
    store_synth_defaults(STORE_ARCH_QWEN2, &s);
    s.n_vocab = 3000;
    char err[256], out[300];
    snprintf(out, sizeof(out), "%s/bpe.gguf", g_dir);
    assert_int_equal(store_synth(&s, out, NULL, NULL, err, sizeof(err)), 0);
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f, err, sizeof(err)), 0);
    gguf_str pre;
    assert_int_equal(gguf_get_str(f, "tokenizer.ggml.pre", &pre), 0);
    assert_true(gguf_str_eq(pre, "qwen2"));
    tok_vocab *v;
    assert_int_equal(tok_vocab_load(f, &v, err, sizeof(err)), 0);
    enum gguf_vtype et;
    uint64_t n;
    const void *d;
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.merges", &et, &n, &d), 0);
    assert_true(n > 2000);
    for (uint64_t i = 0; i < n; i++) {
        gguf_str m;
        assert_int_equal(gguf_get_arr_str(f, "tokenizer.ggml.merges", i, &m), 0);
        const char *sp = memchr(m.ptr, ' ', m.len);
        assert_non_null(sp);
        size_t la = (size_t)(sp - m.ptr), lb = m.len - la - 1;
        char joined[128];
        assert_true(la + lb < sizeof(joined));
        memcpy(joined, m.ptr, la);
        memcpy(joined + la, sp + 1, lb);
        /* both halves and the result are tokens */
        assert_true(tok_find(v, m.ptr, la) >= 0);
        assert_true(tok_find(v, sp + 1, lb) >= 0);
        assert_true(tok_find(v, joined, la + lb) >= 0);
    }
    /* Qwen's control tokens, EOS is <|im_end|> */
    int32_t eos = tok_eos(v);
    size_t len;
    assert_string_equal(tok_text(v, eos, &len), "<|im_end|>");
    assert_true(tok_is_eog(v, eos));
    tok_vocab_free(v);
    gguf_close(f);
    unlink(out);
}

static void test_values_and_seed(void **state)
{
    (void)state;
    struct store_synth_spec s;
    store_synth_defaults(STORE_ARCH_LLAMA, &s);
    char err[256], a[300], b[300], c[300];
    snprintf(a, sizeof(a), "%s/a.gguf", g_dir);
    snprintf(b, sizeof(b), "%s/b.gguf", g_dir);
    snprintf(c, sizeof(c), "%s/c.gguf", g_dir);
    s.n_threads = 1;
    assert_int_equal(store_synth(&s, a, NULL, NULL, err, sizeof(err)), 0);
    s.n_threads = 3;
    assert_int_equal(store_synth(&s, b, NULL, NULL, err, sizeof(err)), 0);
    s.seed++;
    assert_int_equal(store_synth(&s, c, NULL, NULL, err, sizeof(err)), 0);
    gguf_file *fa, *fb, *fc;
    assert_int_equal(gguf_open(a, &fa, err, sizeof(err)), 0);
    assert_int_equal(gguf_open(b, &fb, err, sizeof(err)), 0);
    assert_int_equal(gguf_open(c, &fc, err, sizeof(err)), 0);
    assert_int_equal(gguf_file_size(fa), gguf_file_size(fb));
    const gguf_tensor *wa = gguf_find_tensor(fa, "blk.1.ffn_up.weight");
    const gguf_tensor *wb = gguf_find_tensor(fb, "blk.1.ffn_up.weight");
    const gguf_tensor *wc = gguf_find_tensor(fc, "blk.1.ffn_up.weight");
    assert_memory_equal(wa->data, wb->data, wa->size); /* thread count does not matter */
    assert_true(memcmp(wa->data, wc->data, wa->size)); /* the seed does */
    /* weights ~ N(0, 0.02), norms ~ 1 */
    const float *w = wa->data;
    size_t n = wa->size / 4;
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++)
        m += w[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        v += (w[i] - m) * (w[i] - m);
    v = sqrt(v / (double)n);
    assert_true(fabs(m) < 0.001);
    assert_true(fabs(v - 0.02) < 0.001);
    const gguf_tensor *nt = gguf_find_tensor(fa, "blk.0.attn_norm.weight");
    const float *nw = nt->data;
    for (int64_t i = 0; i < nt->ne[0]; i++)
        assert_true(fabsf(nw[i] - 1.0f) < 0.1f);
    gguf_close(fa);
    gguf_close(fb);
    gguf_close(fc);
    unlink(a);
    unlink(b);
    unlink(c);
}

static void test_quantized_synth(void **state)
{
    (void)state;
    struct store_synth_spec s;
    assert_int_equal(store_synth_preset("tiny-qwen2", &s), 0);
    s.n_embd = 256;
    s.n_ff = 512;
    s.ftype = STORE_FTYPE_Q4_K_M;
    char err[256], out[300];
    snprintf(out, sizeof(out), "%s/q.gguf", g_dir);
    assert_int_equal(store_synth(&s, out, NULL, NULL, err, sizeof(err)), 0);
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f, err, sizeof(err)), 0);
    uint32_t ft;
    assert_int_equal(gguf_get_u32(f, "general.file_type", &ft), 0);
    assert_int_equal(ft, 15);
    /* tied: token_embd takes the output type; biases stay F32 */
    assert_int_equal(gguf_find_tensor(f, "token_embd.weight")->type, OM_TYPE_Q6_K);
    assert_int_equal(gguf_find_tensor(f, "blk.0.attn_q.bias")->type, OM_TYPE_F32);
    assert_int_equal(gguf_find_tensor(f, "blk.0.attn_q.weight")->type, OM_TYPE_Q4_K);
    assert_int_equal(gguf_find_tensor(f, "blk.1.attn_v.weight")->type, OM_TYPE_Q6_K);
    gguf_close(f);
    unlink(out);
}

static void test_presets(void **state)
{
    (void)state;
    struct store_synth_spec s;
    for (const char *const *p = store_synth_preset_names(); *p; p++)
        assert_int_equal(store_synth_preset(*p, &s), 0);
    assert_int_equal(store_synth_preset("tinyllama-1.1b", &s), 0);
    assert_int_equal(s.arch, STORE_ARCH_LLAMA);
    assert_true(s.n_embd == 2048 && s.n_layer == 22 && s.n_head == 32 && s.n_head_kv == 4 &&
                s.n_ff == 5632 && s.n_vocab == 32000 && s.n_ctx == 2048 && !s.tied_embd);
    assert_int_equal(store_synth_preset("qwen2.5-0.5b", &s), 0);
    assert_int_equal(s.arch, STORE_ARCH_QWEN2);
    assert_true(s.n_embd == 896 && s.n_layer == 24 && s.n_head == 14 && s.n_head_kv == 2 &&
                s.n_ff == 4864 && s.n_vocab == 151936 && s.n_ctx == 32768 && s.tied_embd &&
                s.qkv_bias && s.rope_base == 1000000.0f);
    assert_int_equal(store_synth_preset("no-such-preset", &s), OM_ENOTFOUND);
    enum store_arch a;
    assert_int_equal(store_arch_from_name("nomic-bert", &a), 0);
    assert_int_equal(a, STORE_ARCH_NOMIC_BERT);
    assert_int_equal(store_arch_from_name("mamba", &a), OM_EINVAL);
}

static void test_bad_specs(void **state)
{
    (void)state;
    char err[256], out[300];
    snprintf(out, sizeof(out), "%s/bad.gguf", g_dir);
    struct store_synth_spec s;
    store_synth_defaults(STORE_ARCH_LLAMA, &s);
    s.n_head_kv = 3; /* 4 heads are not a multiple of 3 */
    assert_int_equal(store_synth(&s, out, NULL, NULL, err, sizeof(err)), OM_EINVAL);
    assert_non_null(strstr(err, "n_head_kv"));
    store_synth_defaults(STORE_ARCH_LLAMA, &s);
    s.n_vocab = 50; /* too small for the byte tokens */
    assert_int_equal(store_synth(&s, out, NULL, NULL, err, sizeof(err)), OM_EINVAL);
    assert_non_null(strstr(err, "n_vocab"));
    store_synth_defaults(STORE_ARCH_LLAMA, &s);
    s.n_embd = 0;
    assert_int_equal(store_synth(&s, out, NULL, NULL, err, sizeof(err)), OM_EINVAL);
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(tmpdir_count(), 0); /* no temp files left */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families),       cmocka_unit_test(test_bpe_merges),
        cmocka_unit_test(test_values_and_seed), cmocka_unit_test(test_quantized_synth),
        cmocka_unit_test(test_presets),        cmocka_unit_test(test_bad_specs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
