/* Engine KV cache tests on synthetic models: K re-rotation when a sequence
 * moves, the context shift rule, quantized caches, prefix sharing. */
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

/* RoPE attention depends on relative positions only: moving a cached
 * sequence by +delta (re-rotating K) and continuing at pos + delta gives the
 * logits of the unmoved sequence. */
static void rotation_case(eng_model *m, const char *name, uint32_t kv, double tol)
{
    static float ref[1][ET_MAXV], moved[1][ET_MAXV], pre[16][ET_MAXV];
    const int nv = eng_model_n_vocab(m), n = 9;
    int32_t t[16], x = 11;
    et_prompt(t, n, nv, 5);
    eng_ctx *c = et_ctx_new(m, 64, 64, 1, kv, 2);
    et_decode_all(c, t, n, 0, 0, pre, nv);
    et_decode_all(c, &x, 1, 0, n, ref, nv);
    eng_kv_clear(c);
    assert_int_equal(eng_kv_n_used(c), 0);
    et_decode_all(c, t, n, 0, 0, pre, nv);
    assert_int_equal(eng_kv_seq_add(c, 0, 0, -1, 7), 0);
    assert_int_equal(eng_kv_seq_pos_min(c, 0), 7);
    assert_int_equal(eng_kv_seq_pos_max(c, 0), n - 1 + 7);
    et_decode_all(c, &x, 1, 0, n + 7, moved, nv);
    double e = et_max_rel(moved[0], ref[0], nv);
    if (e > tol)
        fprintf(stderr, "%s: rotation error %g\n", name, e);
    assert_true(e <= tol);
    eng_ctx_free(c);
}

static void test_kv_rerotation(void **st)
{
    (void)st;
    for (size_t f = 0; f < et_n_decoders; f++) {
        eng_model *m = et_load_family(et_decoders[f]);
        rotation_case(m, et_decoders[f], OM_TYPE_F32, 1e-4);
        rotation_case(m, et_decoders[f], OM_TYPE_F16, 2e-2);
        eng_model_free(m);
    }
    /* llama with llama3-style rope_freqs and linear rope scaling */
    struct synth_opts o;
    synth_opts_default(&o, "llama");
    o.rope_freqs = 1;
    o.rope_scale = 4.0f;
    eng_model *m = et_load_opts(&o, "llama-ropefreqs");
    rotation_case(m, "llama rope_freqs", OM_TYPE_F32, 1e-4);
    eng_model_free(m);
    /* phi3 LongRoPE: long factors (n_ctx 64 > 16) and attention factor */
    synth_opts_default(&o, "phi3");
    o.longrope = 1;
    m = et_load_opts(&o, "phi3-longrope");
    rotation_case(m, "phi3 longrope", OM_TYPE_F32, 1e-4);
    eng_model_free(m);
}

static void test_context_shift(void **st)
{
    (void)st;
    for (size_t f = 0; f < et_n_decoders; f++) {
        eng_model *m = et_load_family(et_decoders[f]);
        const int nv = eng_model_n_vocab(m), n_ctx = 24, n_keep = 4;
        eng_ctx *c = et_ctx_new(m, (uint32_t)n_ctx, 8, 1, OM_TYPE_F16, 2);
        int32_t tok = 1;
        int shifts = 0;
        for (int step = 0; step < 60; step++) {
            struct eng_batch b = {.n_tokens = 1, .token = &tok};
            int rc = eng_decode(c, &b);
            if (rc == OM_EFULL) {
                assert_int_equal(eng_kv_n_used(c), n_ctx);
                int32_t d = eng_ctx_shift(c, 0, n_keep);
                assert_int_equal(d, (n_ctx - n_keep) / 2);
                assert_int_equal(eng_kv_seq_pos_max(c, 0), n_ctx - 1 - d);
                assert_int_equal(eng_kv_n_used(c), n_ctx - d);
                shifts++;
                rc = eng_decode(c, &b);
            }
            assert_int_equal(rc, 0);
            const float *lg = eng_get_logits(c, -1);
            int best = 0;
            for (int i = 0; i < nv; i++) {
                assert_true(isfinite(lg[i]));
                if (lg[i] > lg[best])
                    best = i;
            }
            tok = best;
        }
        assert_true(shifts >= 2);
        /* nothing to drop: n_keep covers everything */
        assert_int_equal(eng_ctx_shift(c, 0, 1000), 0);
        eng_ctx_free(c);
        eng_model_free(m);
    }
}

/* Logits of the last of 12 tokens with a cache of type kv (F32 reference
 * when kv is OM_TYPE_F32); also checks batched == token by token. */
static void kv_logits(eng_model *m, uint32_t kv, float *out)
{
    static float batched[16][ET_MAXV], step[1][ET_MAXV];
    const int nv = eng_model_n_vocab(m), n = 12;
    int32_t t[16];
    et_prompt(t, n, nv, 11);
    eng_ctx *c = et_ctx_new(m, 64, 64, 1, kv, 2);
    et_decode_all(c, t, n, 0, 0, batched, nv);
    eng_kv_clear(c);
    for (int i = 0; i < n; i++) {
        et_decode_all(c, &t[i], 1, 0, i, step, nv);
        assert_true(et_max_rel(step[0], batched[i], nv) <= 1e-4);
    }
    memcpy(out, batched[n - 1], sizeof(float) * (size_t)nv);
    eng_ctx_free(c);
}

static double rel_l2(const float *a, const float *ref, int n)
{
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        num += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return sqrt(num / den);
}

/* Quantized KV caches (Q8_0, Q4_0; head sizes multiple of 32). */
static void test_kv_quantized(void **st)
{
    (void)st;
    const char *archs[] = {"llama", "qwen3", "gemma2"};
    for (size_t a = 0; a < OM_ARRAY_LEN(archs); a++) {
        struct synth_opts o;
        synth_opts_default(&o, archs[a]);
        o.head_dim = 32;
        char tag[64];
        snprintf(tag, sizeof tag, "%s-hd32", archs[a]);
        eng_model *m = et_load_opts(&o, tag);
        const int nv = eng_model_n_vocab(m);
        float ref[ET_MAXV], q8[ET_MAXV], q4[ET_MAXV];
        kv_logits(m, OM_TYPE_F32, ref);
        kv_logits(m, OM_TYPE_Q8_0, q8);
        kv_logits(m, OM_TYPE_Q4_0, q4);
        double e8 = rel_l2(q8, ref, nv), e4 = rel_l2(q4, ref, nv);
        if (getenv("OM_TEST_VERBOSE") || !(e8 > 0 && e8 < 0.02 && e4 > e8 && e4 < 0.2))
            fprintf(stderr, "%s: KV q8_0 error %g, q4_0 error %g\n", archs[a], e8, e4);
        assert_true(e8 > 0.0 && e8 < 0.02);
        assert_true(e4 > e8 && e4 < 0.2);
        rotation_case(m, tag, OM_TYPE_Q8_0, 0.05);
        struct eng_ctx_params p;
        eng_ctx_params_default(&p);
        p.type_kv = OM_TYPE_Q8_0;
        eng_ctx *c = NULL;
        char err[128];
        assert_int_equal(eng_ctx_new(m, &p, &c, err, sizeof err), 0);
        /* per cell and layer: K and V of n_head_kv heads of 32 = one 34-byte block each */
        assert_int_equal(eng_ctx_kv_bytes(c), (uint64_t)eng_ctx_n_ctx(c) * 2 * o.n_layer *
                                                  (uint64_t)o.n_head_kv * 34);
        eng_ctx_free(c);
        eng_model_free(m);
    }
}

/* Prefix sharing: a et_prompt decoded once in seq 0 and shared with seq 1 by
 * eng_kv_seq_cp; both then continue differently in one batch and match two
 * independent decodes. Removing seq 0 keeps seq 1 working. */
static void test_prefix_sharing(void **st)
{
    (void)st;
    static float pre[16][ET_MAXV], ref[2][1][ET_MAXV];
    const char *archs[] = {"llama", "gemma2", "qwen3moe"};
    for (size_t a = 0; a < OM_ARRAY_LEN(archs); a++) {
        eng_model *m = et_load_family(archs[a]);
        const int nv = eng_model_n_vocab(m), n = 9;
        int32_t t[16], next[2] = {7, 13};
        et_prompt(t, n, nv, 13);
        for (int s = 0; s < 2; s++) {
            eng_ctx *c = et_ctx_new(m, 64, 64, 1, OM_TYPE_F16, 2);
            et_decode_all(c, t, n, 0, 0, pre, nv);
            et_decode_all(c, &next[s], 1, 0, n, ref[s], nv);
            eng_ctx_free(c);
        }
        eng_ctx *c = et_ctx_new(m, 64, 64, 2, OM_TYPE_F16, 2);
        et_decode_all(c, t, n, 0, 0, pre, nv);
        assert_int_equal(eng_kv_seq_cp(c, 0, 1, -1, -1), 0);
        assert_int_equal(eng_kv_n_used(c), n); /* shared, not copied */
        assert_int_equal(eng_kv_seq_pos_max(c, 1), n - 1);
        int32_t sid[2] = {0, 1};
        int8_t lg[2] = {1, 1};
        struct eng_batch b = {2, next, NULL, sid, lg};
        assert_int_equal(eng_decode(c, &b), 0);
        assert_true(et_max_rel(eng_get_logits(c, 0), ref[0][0], nv) <= 1e-4);
        assert_true(et_max_rel(eng_get_logits(c, 1), ref[1][0], nv) <= 1e-4);
        assert_int_equal(eng_kv_n_used(c), n + 2);
        /* drop seq 0: the shared prefix stays for seq 1, seq 0's own cell goes */
        assert_int_equal(eng_kv_seq_rm(c, 0, -1, -1), 1);
        assert_int_equal(eng_kv_n_used(c), n + 1);
        int32_t again = 5;
        struct eng_batch b1 = {.n_tokens = 1, .token = &again, .seq_id = &sid[1]};
        assert_int_equal(eng_decode(c, &b1), 0);
        for (int v = 0; v < nv; v++)
            assert_true(isfinite(eng_get_logits(c, 0)[v]));
        assert_int_equal(eng_kv_seq_pos_max(c, 1), n + 1);
        eng_ctx_free(c);
        eng_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_rerotation),
        cmocka_unit_test(test_context_shift),
        cmocka_unit_test(test_kv_quantized),
        cmocka_unit_test(test_prefix_sharing),
    };
    return cmocka_run_group_tests(tests, et_setup, et_teardown);
}
