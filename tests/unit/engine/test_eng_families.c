/* Engine tests on tiny random models of every family (written with
 * helpers/synth_model.c): finite and deterministic outputs, batched prompt ==
 * token by token, chunking, several sequences in one batch, KV re-rotation,
 * context shift, sliding window, quantized weights, embeddings, and load /
 * decode errors. */
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
#include "helpers/synth_model.h"

static const char *g_decoders[] = {"llama", "qwen2",  "qwen3",  "qwen3moe", "phi3",
                                   "gemma", "gemma2", "gemma3", "granite", "starcoder2",
                                   "olmo2", "phi2",   "command-r"};
static char g_dir[256];

#define MAXV 256

static void model_path(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "%s/%s.gguf", g_dir, tag);
}

static eng_model *load_opts(const struct synth_opts *o, const char *tag)
{
    char path[512], err[256];
    model_path(path, sizeof path, tag);
    int rc = synth_model_write(o, path, err, sizeof err);
    if (rc)
        fprintf(stderr, "synth %s: %s\n", tag, err);
    assert_int_equal(rc, 0);
    eng_model *m = NULL;
    rc = eng_model_load(path, NULL, &m, err, sizeof err);
    if (rc)
        fprintf(stderr, "load %s: %s\n", tag, err);
    assert_int_equal(rc, 0);
    return m;
}

static eng_model *load_family(const char *arch)
{
    struct synth_opts o;
    synth_opts_default(&o, arch);
    return load_opts(&o, arch);
}

static eng_ctx *ctx_new(eng_model *m, uint32_t n_ctx, uint32_t n_batch, uint32_t n_seq,
                        uint32_t kv, int threads)
{
    struct eng_ctx_params p;
    eng_ctx_params_default(&p);
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.n_seq_max = n_seq;
    p.type_kv = kv;
    p.n_threads = threads;
    eng_ctx *c = NULL;
    char err[256];
    assert_int_equal(eng_ctx_new(m, &p, &c, err, sizeof err), 0);
    return c;
}

static void prompt(int32_t *t, int n, int n_vocab, int salt)
{
    for (int i = 0; i < n; i++)
        t[i] = 3 + (i * 7 + salt * 13 + i * i) % (n_vocab - 3);
}

static double max_rel(const float *a, const float *b, int n)
{
    double m = 0.0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)b[i]));
        if (d > m)
            m = d;
    }
    return m;
}

/* Decodes n tokens of seq at positions p0.. with logits for all; copies them. */
static void decode_all(eng_ctx *c, const int32_t *tok, int n, int32_t seq, int32_t p0,
                       float (*out)[MAXV], int nv)
{
    int32_t pos[64], sid[64];
    int8_t lg[64];
    for (int i = 0; i < n; i++) {
        pos[i] = p0 + i;
        sid[i] = seq;
        lg[i] = 1;
    }
    struct eng_batch b = {n, tok, pos, sid, lg};
    assert_int_equal(eng_decode(c, &b), 0);
    assert_int_equal(eng_n_outputs(c), n);
    for (int i = 0; i < n; i++)
        memcpy(out[i], eng_get_logits(c, i), sizeof(float) * (size_t)nv);
}

static void test_finite_deterministic(void **st)
{
    (void)st;
    for (size_t f = 0; f < OM_ARRAY_LEN(g_decoders); f++) {
        eng_model *m = load_family(g_decoders[f]);
        const int nv = eng_model_n_vocab(m);
        assert_true(nv <= MAXV);
        assert_non_null(eng_model_vocab(m));
        int32_t t[12];
        prompt(t, 12, nv, 1);
        float a[MAXV], b[MAXV];
        for (int rep = 0; rep < 2; rep++) {
            eng_ctx *c = ctx_new(m, 64, 16, 1, OM_TYPE_F16, rep ? 1 : 2);
            struct eng_batch bt = {.n_tokens = 12, .token = t};
            assert_int_equal(eng_decode(c, &bt), 0);
            memcpy(rep ? b : a, eng_get_logits(c, -1), sizeof(float) * (size_t)nv);
            eng_ctx_free(c);
        }
        for (int i = 0; i < nv; i++)
            assert_true(isfinite(a[i]));
        /* kern_matmul is thread-count invariant; so is everything else */
        assert_memory_equal(a, b, sizeof(float) * (size_t)nv);
        double spread = 0;
        for (int i = 1; i < nv; i++)
            spread = fmax(spread, fabs(a[i] - a[0]));
        assert_true(spread > 1e-3); /* not a constant output */
        eng_model_free(m);
    }
}

static void test_batch_vs_steps(void **st)
{
    (void)st;
    static float batched[16][MAXV], chunked[16][MAXV], step[1][MAXV];
    for (size_t f = 0; f < OM_ARRAY_LEN(g_decoders); f++) {
        eng_model *m = load_family(g_decoders[f]);
        const int nv = eng_model_n_vocab(m), n = 14;
        int32_t t[16];
        prompt(t, n, nv, 2);
        eng_ctx *c = ctx_new(m, 64, 64, 1, OM_TYPE_F32, 2);
        decode_all(c, t, n, 0, 0, batched, nv);
        eng_ctx_free(c);
        c = ctx_new(m, 64, 5, 1, OM_TYPE_F32, 2); /* chunks of 5, 5, 4 */
        decode_all(c, t, n, 0, 0, chunked, nv);
        eng_ctx_free(c);
        c = ctx_new(m, 64, 64, 1, OM_TYPE_F32, 2);
        for (int i = 0; i < n; i++) {
            decode_all(c, &t[i], 1, 0, i, step, nv);
            double e1 = max_rel(step[0], batched[i], nv), e2 = max_rel(chunked[i], batched[i], nv);
            if (e1 > 1e-4 || e2 > 1e-4)
                fprintf(stderr, "%s token %d: step %g chunk %g\n", g_decoders[f], i, e1, e2);
            assert_true(e1 <= 1e-4 && e2 <= 1e-4);
        }
        assert_int_equal(eng_kv_seq_pos_max(c, 0), n - 1);
        assert_int_equal(eng_kv_n_used(c), n);
        eng_ctx_free(c);
        eng_model_free(m);
    }
}

/* Two sequences interleaved in one batch == each alone; then one more step
 * of both in one batch == each alone. */
static void test_two_sequences(void **st)
{
    (void)st;
    static float alone[2][16][MAXV], nxt[2][1][MAXV];
    for (size_t f = 0; f < OM_ARRAY_LEN(g_decoders); f++) {
        eng_model *m = load_family(g_decoders[f]);
        const int nv = eng_model_n_vocab(m);
        const int len[2] = {7, 10};
        int32_t t[2][16], extra[2] = {5, 9};
        prompt(t[0], len[0], nv, 3);
        prompt(t[1], len[1], nv, 4);
        for (int s = 0; s < 2; s++) {
            eng_ctx *c = ctx_new(m, 64, 64, 1, OM_TYPE_F16, 2);
            decode_all(c, t[s], len[s], 0, 0, alone[s], nv);
            decode_all(c, &extra[s], 1, 0, len[s], nxt[s], nv);
            eng_ctx_free(c);
        }
        eng_ctx *c = ctx_new(m, 64, 64, 2, OM_TYPE_F16, 2);
        int32_t tok[32], pos[32], sid[32];
        int8_t lg[32];
        int n = 0, k[2] = {0, 0};
        while (k[0] < len[0] || k[1] < len[1]) { /* interleave, seq 1 first */
            for (int s = 1; s >= 0; s--)
                if (k[s] < len[s]) {
                    tok[n] = t[s][k[s]];
                    pos[n] = k[s]++;
                    sid[n] = s;
                    lg[n++] = 1;
                }
        }
        struct eng_batch b = {n, tok, pos, sid, lg};
        assert_int_equal(eng_decode(c, &b), 0);
        assert_int_equal(eng_n_outputs(c), n);
        for (int i = 0; i < n; i++)
            assert_true(max_rel(eng_get_logits(c, i), alone[sid[i]][pos[i]], nv) <= 1e-4);
        /* positions left to the engine: each continues after its own max */
        int32_t tk2[2] = {extra[1], extra[0]}, sid2[2] = {1, 0};
        int8_t lg2[2] = {1, 1};
        struct eng_batch b2 = {2, tk2, NULL, sid2, lg2};
        assert_int_equal(eng_decode(c, &b2), 0);
        assert_true(max_rel(eng_get_logits(c, 0), nxt[1][0], nv) <= 1e-4);
        assert_true(max_rel(eng_get_logits(c, 1), nxt[0][0], nv) <= 1e-4);
        assert_int_equal(eng_kv_seq_pos_max(c, 0), len[0]);
        assert_int_equal(eng_kv_seq_pos_max(c, 1), len[1]);
        /* removing seq 1 leaves seq 0 decoding as before */
        assert_int_equal(eng_kv_seq_rm(c, 1, -1, -1), len[1] + 1);
        assert_int_equal(eng_kv_seq_pos_max(c, 1), -1);
        assert_int_equal(eng_kv_n_used(c), len[0] + 1);
        eng_ctx_free(c);
        eng_model_free(m);
    }
}

/* Prefix sharing: a prompt decoded once in seq 0 and shared with seq 1 by
 * eng_kv_seq_cp; both then continue differently in one batch and match two
 * independent decodes. Removing seq 0 keeps seq 1 working. */
static void test_prefix_sharing(void **st)
{
    (void)st;
    static float pre[16][MAXV], ref[2][1][MAXV];
    const char *archs[] = {"llama", "gemma2", "qwen3moe"};
    for (size_t a = 0; a < OM_ARRAY_LEN(archs); a++) {
        eng_model *m = load_family(archs[a]);
        const int nv = eng_model_n_vocab(m), n = 9;
        int32_t t[16], next[2] = {7, 13};
        prompt(t, n, nv, 13);
        for (int s = 0; s < 2; s++) {
            eng_ctx *c = ctx_new(m, 64, 64, 1, OM_TYPE_F16, 2);
            decode_all(c, t, n, 0, 0, pre, nv);
            decode_all(c, &next[s], 1, 0, n, ref[s], nv);
            eng_ctx_free(c);
        }
        eng_ctx *c = ctx_new(m, 64, 64, 2, OM_TYPE_F16, 2);
        decode_all(c, t, n, 0, 0, pre, nv);
        assert_int_equal(eng_kv_seq_cp(c, 0, 1, -1, -1), 0);
        assert_int_equal(eng_kv_n_used(c), n); /* shared, not copied */
        assert_int_equal(eng_kv_seq_pos_max(c, 1), n - 1);
        int32_t sid[2] = {0, 1};
        int8_t lg[2] = {1, 1};
        struct eng_batch b = {2, next, NULL, sid, lg};
        assert_int_equal(eng_decode(c, &b), 0);
        assert_true(max_rel(eng_get_logits(c, 0), ref[0][0], nv) <= 1e-4);
        assert_true(max_rel(eng_get_logits(c, 1), ref[1][0], nv) <= 1e-4);
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

/* RoPE attention depends on relative positions only: moving a cached
 * sequence by +delta (re-rotating K) and continuing at pos + delta gives the
 * logits of the unmoved sequence. */
static void rotation_case(eng_model *m, const char *name, uint32_t kv, double tol)
{
    static float ref[1][MAXV], moved[1][MAXV], pre[16][MAXV];
    const int nv = eng_model_n_vocab(m), n = 9;
    int32_t t[16], x = 11;
    prompt(t, n, nv, 5);
    eng_ctx *c = ctx_new(m, 64, 64, 1, kv, 2);
    decode_all(c, t, n, 0, 0, pre, nv);
    decode_all(c, &x, 1, 0, n, ref, nv);
    eng_kv_clear(c);
    assert_int_equal(eng_kv_n_used(c), 0);
    decode_all(c, t, n, 0, 0, pre, nv);
    assert_int_equal(eng_kv_seq_add(c, 0, 0, -1, 7), 0);
    assert_int_equal(eng_kv_seq_pos_min(c, 0), 7);
    assert_int_equal(eng_kv_seq_pos_max(c, 0), n - 1 + 7);
    decode_all(c, &x, 1, 0, n + 7, moved, nv);
    double e = max_rel(moved[0], ref[0], nv);
    if (e > tol)
        fprintf(stderr, "%s: rotation error %g\n", name, e);
    assert_true(e <= tol);
    eng_ctx_free(c);
}

static void test_kv_rerotation(void **st)
{
    (void)st;
    for (size_t f = 0; f < OM_ARRAY_LEN(g_decoders); f++) {
        eng_model *m = load_family(g_decoders[f]);
        rotation_case(m, g_decoders[f], OM_TYPE_F32, 1e-4);
        rotation_case(m, g_decoders[f], OM_TYPE_F16, 2e-2);
        eng_model_free(m);
    }
    /* llama with llama3-style rope_freqs and linear rope scaling */
    struct synth_opts o;
    synth_opts_default(&o, "llama");
    o.rope_freqs = 1;
    o.rope_scale = 4.0f;
    eng_model *m = load_opts(&o, "llama-ropefreqs");
    rotation_case(m, "llama rope_freqs", OM_TYPE_F32, 1e-4);
    eng_model_free(m);
    /* phi3 LongRoPE: long factors (n_ctx 64 > 16) and attention factor */
    synth_opts_default(&o, "phi3");
    o.longrope = 1;
    m = load_opts(&o, "phi3-longrope");
    rotation_case(m, "phi3 longrope", OM_TYPE_F32, 1e-4);
    eng_model_free(m);
}

static void test_context_shift(void **st)
{
    (void)st;
    for (size_t f = 0; f < OM_ARRAY_LEN(g_decoders); f++) {
        eng_model *m = load_family(g_decoders[f]);
        const int nv = eng_model_n_vocab(m), n_ctx = 24, n_keep = 4;
        eng_ctx *c = ctx_new(m, (uint32_t)n_ctx, 8, 1, OM_TYPE_F16, 2);
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

/* gemma2 with one layer: that layer is sliding-window, so the last logits
 * cannot depend on a token further back than the window. */
static void test_sliding_window(void **st)
{
    (void)st;
    for (int wide = 0; wide < 2; wide++) {
        struct synth_opts o;
        synth_opts_default(&o, "gemma2");
        o.n_layer = 1;
        o.n_swa = wide ? 4096 : 4;
        eng_model *m = load_opts(&o, wide ? "gemma2-wide" : "gemma2-swa4");
        const int nv = eng_model_n_vocab(m);
        int32_t t[10];
        prompt(t, 10, nv, 6);
        float a[MAXV], b[MAXV];
        for (int v = 0; v < 2; v++) {
            if (v)
                t[0] = t[0] == 40 ? 41 : 40; /* change only the first token */
            eng_ctx *c = ctx_new(m, 32, 16, 1, OM_TYPE_F32, 2);
            struct eng_batch bt = {.n_tokens = 10, .token = t};
            assert_int_equal(eng_decode(c, &bt), 0);
            memcpy(v ? b : a, eng_get_logits(c, -1), sizeof(float) * (size_t)nv);
            eng_ctx_free(c);
        }
        double e = max_rel(a, b, nv);
        if (wide)
            assert_true(e > 1e-5); /* the full window sees token 0 */
        else
            assert_true(e == 0.0);
        eng_model_free(m);
    }
}

/* Relative L2 error of quantized-weight logits against the F32 model. */
static double quant_error(const char *arch, uint32_t wtype, int big)
{
    struct synth_opts o;
    synth_opts_default(&o, arch);
    if (big) { /* K-quants need rows of 256 */
        o.n_embd = 256;
        o.n_ff = 512;
        o.head_dim = 64;
    }
    float ref[MAXV], q[MAXV];
    for (int v = 0; v < 2; v++) {
        o.wtype = v ? wtype : OM_TYPE_F32;
        char tag[64];
        snprintf(tag, sizeof tag, "%s-q%u-%d", arch, o.wtype, big);
        eng_model *m = load_opts(&o, tag);
        const int nv = eng_model_n_vocab(m);
        int32_t t[8];
        prompt(t, 8, nv, 7);
        eng_ctx *c = ctx_new(m, 32, 16, 1, OM_TYPE_F32, 2);
        struct eng_batch bt = {.n_tokens = 8, .token = t};
        assert_int_equal(eng_decode(c, &bt), 0);
        memcpy(v ? q : ref, eng_get_logits(c, -1), sizeof(float) * (size_t)nv);
        eng_ctx_free(c);
        eng_model_free(m);
    }
    double num = 0, den = 0;
    for (int i = 0; i < o.n_vocab; i++) {
        num += (q[i] - ref[i]) * (q[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return sqrt(num / den);
}

static void test_quantized_weights(void **st)
{
    (void)st;
    /* bounds are loose (gemma3's QK-norm and embedding scale amplify errors
     * about 4x over llama); the ordering checks below are the sharp part */
    struct {
        uint32_t type;
        int big;
        double lo, hi;
    } cases[] = {
        {OM_TYPE_F16, 0, 0.0, 4e-3},   {OM_TYPE_Q8_0, 0, 1e-4, 0.06},
        {OM_TYPE_Q4_0, 0, 1e-2, 0.5},  {OM_TYPE_Q4_K, 1, 1e-2, 0.5},
        {OM_TYPE_Q6_K, 1, 1e-3, 0.15},
    };
    const char *archs[] = {"llama", "qwen2", "gemma3"};
    size_t n_archs = getenv("OM_TEST_QUICK") ? 1 : OM_ARRAY_LEN(archs); /* sanitizer runs */
    for (size_t a = 0; a < n_archs; a++) {
        double e[OM_ARRAY_LEN(cases)];
        for (size_t i = 0; i < OM_ARRAY_LEN(cases); i++) {
            e[i] = quant_error(archs[a], cases[i].type, cases[i].big);
            if (getenv("OM_TEST_VERBOSE") || !(e[i] >= cases[i].lo && e[i] <= cases[i].hi))
                fprintf(stderr, "%s %s: relative error %g (bounds [%g, %g])\n", archs[a],
                        om_type_name(cases[i].type), e[i], cases[i].lo, cases[i].hi);
            assert_true(e[i] >= cases[i].lo && e[i] <= cases[i].hi);
        }
        assert_true(e[0] < e[1] && e[1] < e[2]); /* f16 < q8_0 < q4_0 */
        assert_true(e[4] < e[3]);                 /* q6_K < q4_K */
    }
}

static double l2(const float *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return sqrt(s);
}

static void test_embeddings(void **st)
{
    (void)st;
    const char *encs[] = {"bert", "nomic-bert"};
    for (size_t f = 0; f < OM_ARRAY_LEN(encs); f++) {
        for (uint32_t pool = 1; pool <= 3; pool++) {
            struct synth_opts o;
            synth_opts_default(&o, encs[f]);
            o.pooling = pool;
            char tag[64];
            snprintf(tag, sizeof tag, "%s-pool%u", encs[f], pool);
            eng_model *m = load_opts(&o, tag);
            assert_true(eng_model_is_encoder(m));
            const int E = eng_model_n_embd(m), nv = eng_model_n_vocab(m);
            int32_t a[6], b[9];
            prompt(a, 6, nv, 8);
            prompt(b, 9, nv, 9);
            float ea[256], eb[256];
            eng_ctx *c = ctx_new(m, 64, 32, 2, OM_TYPE_F16, 2);
            struct eng_batch ba = {.n_tokens = 6, .token = a};
            assert_int_equal(eng_decode(c, &ba), 0);
            assert_null(eng_get_logits(c, 0));
            memcpy(ea, eng_get_embeddings(c, 0), sizeof(float) * (size_t)E);
            assert_true(fabs(l2(ea, E) - 1.0) < 1e-5);
            eng_kv_clear(c);
            struct eng_batch bb = {.n_tokens = 9, .token = b};
            assert_int_equal(eng_decode(c, &bb), 0);
            memcpy(eb, eng_get_embeddings(c, 0), sizeof(float) * (size_t)E);
            eng_kv_clear(c);
            /* both in one batch, as two sequences */
            int32_t tok[15], sid[15];
            for (int i = 0; i < 15; i++) {
                tok[i] = i < 6 ? a[i] : b[i - 6];
                sid[i] = i < 6 ? 1 : 0;
            }
            struct eng_batch both = {.n_tokens = 15, .token = tok, .seq_id = sid};
            assert_int_equal(eng_decode(c, &both), 0);
            assert_true(max_rel(eng_get_embeddings(c, 1), ea, E) < 1e-4);
            assert_true(max_rel(eng_get_embeddings(c, 0), eb, E) < 1e-4);
            assert_true(max_rel(ea, eb, E) > 1e-3);
            eng_ctx_free(c);
            /* an encoder batch must fit one chunk */
            c = ctx_new(m, 64, 4, 1, OM_TYPE_F16, 1);
            assert_int_equal(eng_decode(c, &bb), OM_ERANGE);
            eng_ctx_free(c);
            eng_model_free(m);
        }
    }
}

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
    eng_model *m = load_opts(&o, "llama-base");
    eng_model_free(m);
    char src[512], dst[512];
    model_path(src, sizeof src, "llama-base");
    model_path(dst, sizeof dst, "llama-bad");
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

/* Logits of the last of 12 tokens with a cache of type kv (F32 reference
 * when kv is OM_TYPE_F32); also checks batched == token by token. */
static void kv_logits(eng_model *m, uint32_t kv, float *out)
{
    static float batched[16][MAXV], step[1][MAXV];
    const int nv = eng_model_n_vocab(m), n = 12;
    int32_t t[16];
    prompt(t, n, nv, 11);
    eng_ctx *c = ctx_new(m, 64, 64, 1, kv, 2);
    decode_all(c, t, n, 0, 0, batched, nv);
    eng_kv_clear(c);
    for (int i = 0; i < n; i++) {
        decode_all(c, &t[i], 1, 0, i, step, nv);
        assert_true(max_rel(step[0], batched[i], nv) <= 1e-4);
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
        eng_model *m = load_opts(&o, tag);
        const int nv = eng_model_n_vocab(m);
        float ref[MAXV], q8[MAXV], q4[MAXV];
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
    eng_model *m = load_opts(&o, "llama-pad");
    const int nv = eng_model_n_vocab(m), keep = nv - 6;
    int32_t t[8];
    prompt(t, 8, keep, 12);
    float ref[MAXV];
    eng_ctx *c = ctx_new(m, 32, 16, 1, OM_TYPE_F32, 1);
    struct eng_batch b = {.n_tokens = 8, .token = t};
    assert_int_equal(eng_decode(c, &b), 0);
    memcpy(ref, eng_get_logits(c, 0), sizeof(float) * (size_t)nv);
    eng_ctx_free(c);
    eng_model_free(m);

    char src[512], dst[512], err[256];
    model_path(src, sizeof src, "llama-pad");
    model_path(dst, sizeof dst, "llama-pad-short");
    gguf_file *f = NULL;
    assert_int_equal(gguf_open(src, &f, err, sizeof err), 0);
    gguf_writer *w = gguf_writer_new();
    gguf_writer_copy_kv(w, f);
    const char *keys[] = {"tokenizer.ggml.tokens", "tokenizer.ggml.scores",
                          "tokenizer.ggml.token_type"};
    for (size_t i = 0; i < OM_ARRAY_LEN(keys); i++)
        gguf_writer_remove(w, keys[i]);
    const char *toks[MAXV];
    char names[MAXV][32];
    float scores[MAXV];
    int32_t types[MAXV];
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
    c = ctx_new(m, 32, 16, 1, OM_TYPE_F32, 1);
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
    eng_model *m = load_opts(&o, "llama-hostile");
    eng_model_free(m);
    char src[512], dst[512];
    model_path(src, sizeof src, "llama-hostile");
    model_path(dst, sizeof dst, "llama-hostile-bad");
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
    eng_model *m = load_family("llama");
    const int nv = eng_model_n_vocab(m);
    assert_string_equal(eng_model_arch(m), "llama");
    assert_int_equal(eng_model_n_layer(m), 2);
    assert_int_equal(eng_model_n_head_kv(m), 2);
    assert_true(eng_model_size(m) > 0 && eng_model_n_params(m) > 0);
    eng_ctx *c = ctx_new(m, 8, 8, 2, OM_TYPE_F16, 1);
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
    model_path(path, sizeof path, "qwen2");
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

static int setup(void **st)
{
    (void)st;
    snprintf(g_dir, sizeof g_dir, "/tmp/om_eng_test_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finite_deterministic), cmocka_unit_test(test_batch_vs_steps),
        cmocka_unit_test(test_two_sequences),        cmocka_unit_test(test_kv_rerotation),
        cmocka_unit_test(test_context_shift),        cmocka_unit_test(test_sliding_window),
        cmocka_unit_test(test_quantized_weights),    cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_load_errors),          cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_hostile_metadata),     cmocka_unit_test(test_kv_quantized),
        cmocka_unit_test(test_padded_vocab),         cmocka_unit_test(test_prefix_sharing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
