/* Engine error paths: missing / mistyped / misshapen tensors, unknown
 * architectures, hostile hyper-parameters, bad batches, full caches, a
 * padded vocabulary, vocab-only loads. */
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
#include "format/gguf.h"
#include "helpers/eng_testlib.h"
#include "helpers/synth_model.h"

/* Rewrites src to dst without tensor `drop`, or with `retype` stored as I32
 * (same bytes), or with `reshape` given a wrong shape. */
static void rewrite(const char *src, const char *dst, const char *drop, const char *retype,
                    const char *reshape)
{
    gguf_file *f = NULL;
    char err[256];
    assert_int_equal(gguf_open(src, &f, err, sizeof err), 0);
    gguf_writer *w = gguf_writer_new();
    gguf_writer_copy_kv(w, f);
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (drop && !strcmp(name, drop))
            continue;
        int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
        uint32_t type = t->type;
        if (retype && !strcmp(name, retype))
            type = OM_TYPE_I32;
        if (reshape && !strcmp(name, reshape)) {
            ne[0] = t->ne[1];
            ne[1] = t->ne[0];
        }
        assert_int_equal(gguf_writer_add_tensor(w, name, type, t->n_dims, ne, t->data, t->size),
                         0);
    }
    assert_int_equal(gguf_writer_write(w, dst, err, sizeof err), 0);
    gguf_writer_free(w);
    gguf_close(f);
}

static void expect_load_error(const char *path, int want, const char *needle)
{
    eng_model *m = (eng_model *)1;
    char err[256] = "";
    int rc = eng_model_load(path, NULL, &m, err, sizeof err);
    if (rc != want || !strstr(err, needle))
        fprintf(stderr, "load %s: rc %d (%s), want %d and '%s'\n", path, rc, err, want, needle);
    assert_int_equal(rc, want);
    assert_null(m);
    assert_non_null(strstr(err, needle));
}

static void test_load_errors(void **st)
{
    (void)st;
    struct synth_opts o;
    synth_opts_default(&o, "llama");
    eng_model *m = et_load_opts(&o, "llama-base");
    eng_model_free(m);
    char src[512], dst[512];
    et_model_path(src, sizeof src, "llama-base");
    et_model_path(dst, sizeof dst, "llama-bad");
    rewrite(src, dst, "blk.1.ffn_down.weight", NULL, NULL);
    expect_load_error(dst, OM_ENOTFOUND, "blk.1.ffn_down.weight");
    rewrite(src, dst, NULL, "blk.0.attn_q.weight", NULL);
    expect_load_error(dst, OM_EUNSUPPORTED, "blk.0.attn_q.weight");
    rewrite(src, dst, NULL, NULL, "blk.0.ffn_up.weight");
    expect_load_error(dst, OM_EFORMAT, "blk.0.ffn_up.weight");
    o.n_head_kv = 3; /* does not divide 4 heads */
    char err0[256];
    assert_int_equal(synth_model_write(&o, dst, err0, sizeof err0), 0);
    expect_load_error(dst, OM_EFORMAT, "head_count_kv");
    o.n_head_kv = 2;
    o.rope_scale = 0.0f;
    o.arch = "mamba";
    char err[256];
    assert_int_equal(synth_model_write(&o, dst, err, sizeof err), 0);
    expect_load_error(dst, OM_EUNSUPPORTED, "mamba");
    expect_load_error("/nonexistent/x.gguf", OM_ENOTFOUND, "/nonexistent/x.gguf");
}

/* Rewrites src to dst with one metadata key replaced (u32 or f32). */
static void rewrite_kv(const char *src, const char *dst, const char *key, int is_f32, double v)
{
    gguf_file *f = NULL;
    char err[256];
    assert_int_equal(gguf_open(src, &f, err, sizeof err), 0);
    gguf_writer *w = gguf_writer_new();
    gguf_writer_copy_kv(w, f);
    gguf_writer_remove(w, key);
    if (is_f32)
        gguf_writer_set_f32(w, key, (float)v);
    else
        gguf_writer_set_u32(w, key, (uint32_t)v);
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        assert_int_equal(
            gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, t->size), 0);
    }
    assert_int_equal(gguf_writer_write(w, dst, err, sizeof err), 0);
    gguf_writer_free(w);
    gguf_close(f);
}

/* A padded vocabulary: token_embd / output have more rows than the tokenizer
 * has tokens. n_vocab is the token count and logits cover those rows only,
 * equal to the unpadded model's first n_vocab logits. */
static void test_padded_vocab(void **st)
{
    (void)st;
    struct synth_opts o;
    synth_opts_default(&o, "llama");
    eng_model *m = et_load_opts(&o, "llama-pad");
    const int nv = eng_model_n_vocab(m), keep = nv - 6;
    int32_t t[8];
    et_prompt(t, 8, keep, 12);
    float ref[ET_MAXV];
    eng_ctx *c = et_ctx_new(m, 32, 16, 1, OM_TYPE_F32, 1);
    struct eng_batch b = {.n_tokens = 8, .token = t};
    assert_int_equal(eng_decode(c, &b), 0);
    memcpy(ref, eng_get_logits(c, 0), sizeof(float) * (size_t)nv);
    eng_ctx_free(c);
    eng_model_free(m);

    char src[512], dst[512], err[256];
    et_model_path(src, sizeof src, "llama-pad");
    et_model_path(dst, sizeof dst, "llama-pad-short");
    gguf_file *f = NULL;
    assert_int_equal(gguf_open(src, &f, err, sizeof err), 0);
    gguf_writer *w = gguf_writer_new();
    gguf_writer_copy_kv(w, f);
    const char *keys[] = {"tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                          "tokenizer.ggml.token_type"};
    for (size_t i = 0; i < OM_ARRAY_LEN(keys); i++)
        gguf_writer_remove(w, keys[i]);
    const char *toks[ET_MAXV];
    char names[ET_MAXV][32];
    float scores[ET_MAXV];
    int32_t types[ET_MAXV];
    for (int i = 0; i < keep; i++) {
        gguf_str s;
        assert_int_equal(gguf_get_arr_str(f, "tokenizer.ggml.tokens", (uint64_t)i, &s), 0);
        snprintf(names[i], sizeof names[i], "%.*s", (int)s.len, s.ptr);
        toks[i] = names[i];
        scores[i] = -(float)i;
        types[i] = i < 3 ? 3 : 1;
    }
    types[0] = 2;
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)keep);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, (uint64_t)keep);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, (uint64_t)keep);
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *tt = gguf_tensor_at(f, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)tt->name.len, tt->name.ptr);
        assert_int_equal(
            gguf_writer_add_tensor(w, name, tt->type, tt->n_dims, tt->ne, tt->data, tt->size), 0);
    }
    assert_int_equal(gguf_writer_write(w, dst, err, sizeof err), 0);
    gguf_writer_free(w);
    gguf_close(f);

    assert_int_equal(eng_model_load(dst, NULL, &m, err, sizeof err), 0);
    assert_int_equal(eng_model_n_vocab(m), keep);
    c = et_ctx_new(m, 32, 16, 1, OM_TYPE_F32, 1);
    assert_int_equal(eng_decode(c, &b), 0);
    assert_memory_equal(eng_get_logits(c, 0), ref, sizeof(float) * (size_t)keep);
    int32_t beyond = keep; /* a row of the matrix, but not a token */
    struct eng_batch bad = {.n_tokens = 1, .token = &beyond};
    assert_int_equal(eng_decode(c, &bad), OM_EINVAL);
    eng_ctx_free(c);
    eng_model_free(m);
}

/* Hostile hyper-parameters: every one is refused with an error naming it,
 * never a crash or a huge allocation (the sanitizer run checks the rest). */
static void test_hostile_metadata(void **st)
{
    (void)st;
    struct synth_opts o;
    synth_opts_default(&o, "llama");
    eng_model *m = et_load_opts(&o, "llama-hostile");
    eng_model_free(m);
    char src[512], dst[512];
    et_model_path(src, sizeof src, "llama-hostile");
    et_model_path(dst, sizeof dst, "llama-hostile-bad");
    static const struct {
        const char *key;
        int is_f32;
        double v;
        const char *needle;
    } cases[] = {
        {"llama.block_count", 0, 0, "block_count"},
        {"llama.block_count", 0, 100000, "block_count"},
        {"llama.block_count", 0, 3, "blk.2."},
        {"llama.context_length", 0, 0, "context_length"},
        {"llama.embedding_length", 0, 65, "token_embd.weight"},
        {"llama.embedding_length", 0, 4000000000.0, "embedding_length"},
        {"llama.feed_forward_length", 0, 1u << 30, "feed_forward_length"},
        {"llama.attention.head_count", 0, 0, "head_count"},
        {"llama.attention.head_count", 0, 5000, "head"},
        {"llama.attention.head_count_kv", 0, 0, "head_count_kv"},
        {"llama.attention.key_length", 0, 100000, "head size"},
        {"llama.rope.dimension_count", 0, 7, "rope.dimension_count"},
        {"llama.rope.dimension_count", 0, 1000, "rope.dimension_count"},
        {"llama.rope.freq_base", 1, NAN, "freq_base"},
        {"llama.rope.freq_base", 1, -1.0, "freq_base"},
        {"llama.rope.scaling.attn_factor", 1, 0.0, "attn_factor"},
        {"llama.attention.layer_norm_rms_epsilon", 1, NAN, "epsilon"},
        {"llama.expert_count", 0, 100000, "expert_count"},
    };
    for (size_t i = 0; i < OM_ARRAY_LEN(cases); i++) {
        rewrite_kv(src, dst, cases[i].key, cases[i].is_f32, cases[i].v);
        eng_model *bad = (eng_model *)1;
        char err[256] = "";
        int rc = eng_model_load(dst, NULL, &bad, err, sizeof err);
        if (rc >= 0 || !strstr(err, cases[i].needle) || getenv("OM_TEST_VERBOSE"))
            fprintf(stderr, "%s = %g: rc %d, '%s' (want '%s')\n", cases[i].key, cases[i].v, rc,
                    err, cases[i].needle);
        assert_true(rc < 0);
        assert_null(bad);
        assert_non_null(strstr(err, cases[i].needle));
    }
}

static void test_decode_errors(void **st)
{
    (void)st;
    eng_model *m = et_load_family("llama");
    const int nv = eng_model_n_vocab(m);
    assert_string_equal(eng_model_arch(m), "llama");
    assert_int_equal(eng_model_n_layer(m), 2);
    assert_int_equal(eng_model_n_head_kv(m), 2);
    assert_true(eng_model_size(m) > 0 && eng_model_n_params(m) > 0);
    eng_ctx *c = et_ctx_new(m, 8, 8, 2, OM_TYPE_F16, 1);
    int32_t bad = nv, ok[9] = {3, 4, 5, 6, 7, 8, 9, 10, 11}, sid = 2, neg = -1;
    struct eng_batch b1 = {.n_tokens = 1, .token = &bad};
    assert_int_equal(eng_decode(c, &b1), OM_EINVAL);
    struct eng_batch b2 = {.n_tokens = 1, .token = ok, .seq_id = &sid};
    assert_int_equal(eng_decode(c, &b2), OM_EINVAL);
    struct eng_batch b3 = {.n_tokens = 1, .token = ok, .pos = &neg};
    assert_int_equal(eng_decode(c, &b3), OM_EINVAL);
    struct eng_batch b4 = {.n_tokens = 0, .token = ok};
    assert_int_equal(eng_decode(c, &b4), OM_EINVAL);
    struct eng_batch b5 = {.n_tokens = 9, .token = ok};
    assert_int_equal(eng_decode(c, &b5), OM_EFULL);
    assert_int_equal(eng_kv_n_used(c), 0); /* nothing changed */
    struct eng_batch b6 = {.n_tokens = 8, .token = ok};
    assert_int_equal(eng_decode(c, &b6), 0);
    assert_int_equal(eng_kv_n_free(c), 0);
    assert_null(eng_get_logits(c, 1));
    assert_non_null(eng_get_logits(c, 0));
    assert_int_equal(eng_kv_seq_add(c, 5, 0, -1, 1), OM_EINVAL);
    /* shared cells cannot be shifted */
    assert_int_equal(eng_kv_seq_cp(c, 0, 1, 0, 4), 0);
    assert_int_equal(eng_kv_seq_pos_max(c, 1), 3);
    assert_int_equal(eng_kv_seq_add(c, 0, 0, -1, -1), OM_EINVAL);
    assert_int_equal(eng_kv_seq_rm(c, 1, -1, -1), 0); /* cells still used by seq 0 */
    assert_int_equal(eng_kv_seq_rm(c, 0, 6, -1), 2);
    assert_int_equal(eng_kv_seq_pos_max(c, 0), 5);
    eng_ctx_free(c);
    struct eng_ctx_params p;
    eng_ctx_params_default(&p);
    p.type_kv = OM_TYPE_Q4_0; /* head size 16: not whole Q4_0 blocks */
    char err[128];
    assert_int_equal(eng_ctx_new(m, &p, &c, err, sizeof err), OM_EINVAL);
    assert_null(c);
    eng_model_free(m);
    /* vocab-only: hyper-parameters and vocabulary, no weights, no context */
    char path[512];
    eng_model_free(et_load_family("qwen2")); /* writes qwen2.gguf */
    et_model_path(path, sizeof path, "qwen2");
    struct eng_model_params mp;
    eng_model_params_default(&mp);
    mp.vocab_only = 1;
    assert_int_equal(eng_model_load(path, &mp, &m, err, sizeof err), 0);
    assert_non_null(eng_model_vocab(m));
    assert_int_equal(eng_model_n_vocab(m), nv);
    assert_int_equal(eng_model_size(m), 0);
    eng_ctx_params_default(&p);
    assert_int_equal(eng_ctx_new(m, &p, &c, err, sizeof err), OM_EINVAL);
    eng_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_hostile_metadata),
        cmocka_unit_test(test_padded_vocab),
    };
    return cmocka_run_group_tests(tests, et_setup, et_teardown);
}
