/* Engine vs a naive reference: for every family, a plain, slow forward pass
 * written straight from llama.cpp's graphs (src/models/<family>.cpp), reading
 * F32 weights directly from the GGUF, must give the engine's logits (or
 * pooled embeddings) for every position. It shares no code with the engine's
 * core, so a wrong offset, norm order, RoPE mode or mask in the core or a
 * family hook shows up here. */
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

#define T_MAX 12
static char g_dir[256];

struct ref {
    const gguf_file *f;
    char arch[32];
    int E, L, H, HKV, F, V, hd, rot, swa;
    float eps, base, scale, mscale;
    int yarn, n_ctx_orig;
    int nexp, nused, FE, FS, norm_w; /* mixture of experts, shared expert */
    float embd_scale, res_scale, logit_scale, att_scale; /* granite (0: unset) */
    const float *ff; /* frequency divisors (rope_freqs / LongRoPE) or NULL */
    int bert, nomic, gemma, gemma2, gemma3, neox, qwen3, sc2, olmo2, phi2, cr;
};

static const float *tw(const struct ref *r, const char *fmt, int il)
{
    char name[96];
    snprintf(name, sizeof name, fmt, il);
    const gguf_tensor *t = gguf_find_tensor(r->f, name);
    if (!t)
        return NULL;
    assert_int_equal(t->type, OM_TYPE_F32);
    return t->data;
}

static uint32_t ku(const struct ref *r, const char *sfx, uint32_t def)
{
    char key[128];
    snprintf(key, sizeof key, "%s%s", r->arch, sfx);
    uint32_t v = def;
    gguf_get_u32(r->f, key, &v);
    return v;
}

static float kf(const struct ref *r, const char *sfx, float def)
{
    char key[128];
    snprintf(key, sizeof key, "%s%s", r->arch, sfx);
    float v = def;
    gguf_get_f32(r->f, key, &v);
    return v;
}

/* y[rows] = W (rows x cols, row-major) x[cols] (+ b) */
static void mv(float *y, const float *W, const float *x, int rows, int cols, const float *b)
{
    for (int i = 0; i < rows; i++) {
        double s = b ? b[i] : 0.0;
        for (int j = 0; j < cols; j++)
            s += (double)W[(size_t)i * cols + j] * x[j];
        y[i] = (float)s;
    }
}

static void norm(float *x, int n, const float *w, const float *b, float eps, int layer)
{
    double mean = 0, var = 0;
    if (layer) {
        for (int i = 0; i < n; i++)
            mean += x[i];
        mean /= n;
    }
    for (int i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    double sc = 1.0 / sqrt(var / n + eps);
    for (int i = 0; i < n; i++)
        x[i] = (float)((x[i] - mean) * sc * (w ? w[i] : 1.0) + (b ? b[i] : 0.0));
}

static float gelu(float x)
{
    return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
}

static void rope(const struct ref *r, float *v, int pos, float base, float scale)
{
    for (int i = 0; i < r->rot / 2; i++) {
        double th = pos * pow(base, -2.0 * i / r->rot) / (r->ff ? r->ff[i] : 1.0);
        double ms = r->mscale;
        if (r->yarn && scale != 1.0f) { /* ggml rope_yarn, beta_fast 32, beta_slow 1 */
            double k = r->rot / (2.0 * log(base));
            double lo = fmax(0.0, floor(k * log(r->n_ctx_orig / (32.0 * 2 * M_PI))));
            double hi = fmin(r->rot - 1, ceil(k * log(r->n_ctx_orig / (1.0 * 2 * M_PI))));
            double ramp = 1.0 - fmin(1.0, fmax(0.0, (i - lo) / fmax(0.001, hi - lo)));
            th = th * scale * (1.0 - ramp) + th * ramp;
            ms *= 1.0 + 0.1 * log(1.0 / scale);
        } else {
            th *= scale;
        }
        double cs = cos(th) * ms, sn = sin(th) * ms;
        int a = r->neox ? i : 2 * i, b = r->neox ? i + r->rot / 2 : 2 * i + 1;
        float x0 = v[a], x1 = v[b];
        v[a] = (float)(x0 * cs - x1 * sn);
        v[b] = (float)(x0 * sn + x1 * cs);
    }
}

/* Hidden states (n, E) after the last layer (before output_norm). */
static void ref_forward(const struct ref *r, const int32_t *tok, int n, float *X)
{
    const int E = r->E, hd = r->hd, nq = r->H * hd, nkv = r->HKV * hd;
    static float Q[T_MAX][1024], K[T_MAX][1024], Vv[T_MAX][1024], tmp[T_MAX][2048];
    static float g[4096], u[4096], att[1024], cur[2048], nin[T_MAX][2048];
    const float *emb = tw(r, "token_embd.weight", 0);
    for (int t = 0; t < n; t++) {
        float *x = X + (size_t)t * E;
        memcpy(x, emb + (size_t)tok[t] * E, sizeof(float) * (size_t)E);
        if (r->gemma || r->gemma2 || r->gemma3)
            for (int i = 0; i < E; i++)
                x[i] *= sqrtf((float)E);
        if (r->embd_scale != 0.0f)
            for (int i = 0; i < E; i++)
                x[i] *= r->embd_scale;
        if (r->bert || r->nomic) {
            const float *ty = tw(r, "token_types.weight", 0);
            const float *pe = tw(r, "position_embd.weight", 0);
            for (int i = 0; i < E; i++)
                x[i] += ty[i] + (pe ? pe[(size_t)t * E + i] : 0.0f);
            norm(x, E, tw(r, "token_embd_norm.weight", 0), tw(r, "token_embd_norm.bias", 0),
                 r->eps, 1);
        }
    }
    for (int il = 0; il < r->L; il++) {
        int swa_layer = r->gemma2 ? il % 2 == 0 : r->gemma3 ? il % 6 < 5 : 0;
        float base = r->gemma3 && swa_layer ? 10000.0f : r->base;
        float scale = r->gemma3 && swa_layer ? 1.0f : r->scale;
        for (int t = 0; t < n; t++) {
            float *x = X + (size_t)t * E;
            memcpy(cur, x, sizeof(float) * (size_t)E);
            if (!(r->bert || r->nomic || r->olmo2))
                norm(cur, E, tw(r, "blk.%d.attn_norm.weight", il),
                     tw(r, "blk.%d.attn_norm.bias", il), r->eps, r->sc2 || r->phi2 || r->cr);
            memcpy(nin[t], cur, sizeof(float) * (size_t)E); /* phi2's FFN input */
            const float *wqkv = tw(r, "blk.%d.attn_qkv.weight", il);
            if (wqkv) { /* rows: [Q; K; V] */
                static float all[3072];
                mv(all, wqkv, cur, nq + 2 * nkv, E, tw(r, "blk.%d.attn_qkv.bias", il));
                memcpy(Q[t], all, sizeof(float) * (size_t)nq);
                memcpy(K[t], all + nq, sizeof(float) * (size_t)nkv);
                memcpy(Vv[t], all + nq + nkv, sizeof(float) * (size_t)nkv);
            } else {
                mv(Q[t], tw(r, "blk.%d.attn_q.weight", il), cur, nq, E,
                   tw(r, "blk.%d.attn_q.bias", il));
                mv(K[t], tw(r, "blk.%d.attn_k.weight", il), cur, nkv, E,
                   tw(r, "blk.%d.attn_k.bias", il));
                mv(Vv[t], tw(r, "blk.%d.attn_v.weight", il), cur, nkv, E,
                   tw(r, "blk.%d.attn_v.bias", il));
            }
            const float *qn = tw(r, "blk.%d.attn_q_norm.weight", il);
            const float *kn = tw(r, "blk.%d.attn_k_norm.weight", il);
            if (r->olmo2) { /* whole-projection QK-norm */
                norm(Q[t], nq, qn, NULL, r->eps, 0);
                norm(K[t], nkv, kn, NULL, r->eps, 0);
                qn = kn = NULL;
            }
            for (int h = 0; h < r->H; h++) {
                if (qn)
                    norm(Q[t] + h * hd, hd, qn, NULL, r->eps, 0);
                if (!r->bert)
                    rope(r, Q[t] + h * hd, t, base, scale);
            }
            for (int h = 0; h < r->HKV; h++) {
                if (kn)
                    norm(K[t] + h * hd, hd, kn, NULL, r->eps, 0);
                if (!r->bert)
                    rope(r, K[t] + h * hd, t, base, scale);
            }
        }
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < r->H; h++) {
                int kh = h / (r->H / r->HKV);
                double sc[T_MAX], mx = -1e30, sum = 0;
                /* gemma too, below its 27B shapes; granite: attention.scale */
                float qs = r->att_scale != 0.0f ? r->att_scale : 1.0f / sqrtf((float)hd);
                for (int s = 0; s < n; s++) {
                    int vis = (r->bert || r->nomic) ? 1 : s <= t;
                    if (swa_layer && t - s >= r->swa)
                        vis = 0;
                    if (!vis) {
                        sc[s] = -INFINITY;
                        continue;
                    }
                    double d = 0;
                    for (int i = 0; i < hd; i++)
                        d += (double)Q[t][h * hd + i] * K[s][kh * hd + i];
                    d *= qs;
                    if (r->gemma2)
                        d = 50.0 * tanh(d / 50.0);
                    sc[s] = d;
                    if (d > mx)
                        mx = d;
                }
                for (int s = 0; s < n; s++)
                    sum += sc[s] == -INFINITY ? 0 : exp(sc[s] - mx);
                for (int i = 0; i < hd; i++) {
                    double o = 0;
                    for (int s = 0; s < n; s++)
                        if (sc[s] != -INFINITY)
                            o += exp(sc[s] - mx) / sum * Vv[s][kh * hd + i];
                    att[h * hd + i] = (float)o;
                }
            }
            mv(tmp[t], tw(r, "blk.%d.attn_output.weight", il), att, E, nq, /* (+ bias) */
               tw(r, "blk.%d.attn_output.bias", il));
        }
        for (int t = 0; t < n; t++) {
            float *x = X + (size_t)t * E;
            if (r->phi2 || r->cr) { /* parallel: x += attn(n) + ffn(n) */
                mv(g, tw(r, "blk.%d.ffn_up.weight", il), nin[t], r->F, E,
                   tw(r, "blk.%d.ffn_up.bias", il));
                if (r->cr) { /* SiLU-gated */
                    mv(u, tw(r, "blk.%d.ffn_gate.weight", il), nin[t], r->F, E, NULL);
                    for (int i = 0; i < r->F; i++)
                        g[i] *= u[i] / (1.0f + expf(-u[i]));
                } else {
                    for (int i = 0; i < r->F; i++)
                        g[i] = gelu(g[i]);
                }
                mv(cur, tw(r, "blk.%d.ffn_down.weight", il), g, E, r->F,
                   tw(r, "blk.%d.ffn_down.bias", il));
                for (int i = 0; i < E; i++)
                    x[i] += tmp[t][i] + cur[i];
                continue;
            }
            if (r->gemma2 || r->gemma3 || r->olmo2)
                norm(tmp[t], E, tw(r, "blk.%d.post_attention_norm.weight", il), NULL, r->eps, 0);
            for (int i = 0; i < E; i++)
                x[i] += (r->res_scale != 0.0f ? r->res_scale : 1.0f) * tmp[t][i];
            if (r->bert || r->nomic)
                norm(x, E, tw(r, "blk.%d.attn_output_norm.weight", il),
                     tw(r, "blk.%d.attn_output_norm.bias", il), r->eps, 1);
            memcpy(cur, x, sizeof(float) * (size_t)E);
            if (!(r->bert || r->nomic || r->olmo2))
                norm(cur, E, tw(r, "blk.%d.ffn_norm.weight", il), tw(r, "blk.%d.ffn_norm.bias", il),
                     r->eps, r->sc2);
            const float *gate = tw(r, "blk.%d.ffn_gate.weight", il);
            const float *router = tw(r, "blk.%d.ffn_gate_inp.weight", il);
            if (router) { /* softmax, top-k, renormalised, sum of SiLU-gated experts */
                double p[64], mx = -1e30, sum = 0, wsum = 0;
                int sel[8];
                static float ex[2048];
                mv(g, router, cur, r->nexp, E, NULL);
                for (int e = 0; e < r->nexp; e++)
                    mx = fmax(mx, g[e]);
                for (int e = 0; e < r->nexp; e++)
                    sum += p[e] = exp(g[e] - mx);
                for (int j = 0; j < r->nused; j++) {
                    sel[j] = -1;
                    for (int e = 0; e < r->nexp; e++) {
                        int used = 0;
                        for (int i = 0; i < j; i++)
                            used |= sel[i] == e;
                        if (!used && (sel[j] < 0 || p[e] > p[sel[j]]))
                            sel[j] = e;
                    }
                    wsum += p[sel[j]] / sum;
                }
                const float *G = tw(r, "blk.%d.ffn_gate_exps.weight", il);
                const float *U = tw(r, "blk.%d.ffn_up_exps.weight", il);
                const float *D = tw(r, "blk.%d.ffn_down_exps.weight", il);
                memset(tmp[t], 0, sizeof(float) * (size_t)E);
                for (int j = 0; j < r->nused; j++) {
                    size_t off = (size_t)sel[j] * r->FE * E;
                    mv(g, G + off, cur, r->FE, E, NULL);
                    mv(u, U + off, cur, r->FE, E, NULL);
                    for (int i = 0; i < r->FE; i++)
                        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
                    mv(ex, D + off, g, E, r->FE, NULL);
                    double wj = p[sel[j]] / sum / (r->norm_w ? wsum : 1.0);
                    for (int i = 0; i < E; i++)
                        tmp[t][i] += (float)wj * ex[i];
                }
                const float *GS = tw(r, "blk.%d.ffn_gate_shexp.weight", il);
                if (GS) { /* shared expert, sigmoid-gated when the gate exists */
                    const float *WG = tw(r, "blk.%d.ffn_gate_inp_shexp.weight", il);
                    mv(g, GS, cur, r->FS, E, NULL);
                    mv(u, tw(r, "blk.%d.ffn_up_shexp.weight", il), cur, r->FS, E, NULL);
                    for (int i = 0; i < r->FS; i++)
                        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
                    mv(ex, tw(r, "blk.%d.ffn_down_shexp.weight", il), g, E, r->FS, NULL);
                    double s = 1.0;
                    if (WG) {
                        double d = 0;
                        for (int i = 0; i < E; i++)
                            d += (double)WG[i] * cur[i];
                        s = 1.0 / (1.0 + exp(-d));
                    }
                    for (int i = 0; i < E; i++)
                        tmp[t][i] += (float)s * ex[i];
                }
                for (int i = 0; i < E; i++)
                    x[i] += (r->res_scale != 0.0f ? r->res_scale : 1.0f) * tmp[t][i];
                continue;
            }
            if (r->bert || r->sc2) {
                mv(g, tw(r, "blk.%d.ffn_up.weight", il), cur, r->F, E,
                   tw(r, "blk.%d.ffn_up.bias", il));
                for (int i = 0; i < r->F; i++)
                    g[i] = gelu(g[i]);
            } else {
                if (gate) {
                    mv(g, gate, cur, r->F, E, NULL);
                    mv(u, tw(r, "blk.%d.ffn_up.weight", il), cur, r->F, E, NULL);
                } else { /* phi3: ffn_up rows = [gate; up] */
                    static float gu[8192];
                    mv(gu, tw(r, "blk.%d.ffn_up.weight", il), cur, 2 * r->F, E, NULL);
                    memcpy(g, gu, sizeof(float) * (size_t)r->F);
                    memcpy(u, gu + r->F, sizeof(float) * (size_t)r->F);
                }
                for (int i = 0; i < r->F; i++)
                    g[i] = (r->gemma || r->gemma2 || r->gemma3 ? gelu(g[i])
                                                                : g[i] / (1.0f + expf(-g[i]))) *
                           u[i];
            }
            mv(cur, tw(r, "blk.%d.ffn_down.weight", il), g, E, r->F,
               tw(r, "blk.%d.ffn_down.bias", il));
            if (r->gemma2 || r->gemma3 || r->olmo2)
                norm(cur, E, tw(r, "blk.%d.post_ffw_norm.weight", il), NULL, r->eps, 0);
            for (int i = 0; i < E; i++)
                x[i] += (r->res_scale != 0.0f ? r->res_scale : 1.0f) * cur[i];
            if (r->bert || r->nomic)
                norm(x, E, tw(r, "blk.%d.layer_output_norm.weight", il),
                     tw(r, "blk.%d.layer_output_norm.bias", il), r->eps, 1);
        }
    }
}

static void check_family(const char *arch, int variant, uint32_t n_ctx)
{
    struct synth_opts o;
    synth_opts_default(&o, arch);
    o.rope_scale = !strcmp(arch, "gemma3") ? 8.0f : 0.0f;
    o.longrope = variant == 1;
    o.rope_freqs = variant == 2;
    if (variant == 3)
        o.n_rot = 8; /* partial rotary: 8 of 16 dims */
    o.yarn = variant == 4;
    if (variant == 6)
        o.n_ff_shexp = 40;
    if (variant == 5) { /* Mixtral-style llama: experts, no expert_feed_forward_length */
        o.n_expert = 4;
        o.n_expert_used = 2;
    }
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%s.gguf", g_dir, arch);
    assert_int_equal(synth_model_write(&o, path, err, sizeof err), 0);
    gguf_file *f = NULL;
    assert_int_equal(gguf_open(path, &f, err, sizeof err), 0);
    struct ref r = {.f = f};
    snprintf(r.arch, sizeof r.arch, "%s", arch);
    r.E = (int)ku(&r, ".embedding_length", 0);
    r.L = (int)ku(&r, ".block_count", 0);
    r.H = (int)ku(&r, ".attention.head_count", 0);
    r.HKV = (int)ku(&r, ".attention.head_count_kv", (uint32_t)r.H);
    r.F = (int)ku(&r, ".feed_forward_length", 0);
    r.V = o.n_vocab;
    r.hd = (int)ku(&r, ".attention.key_length", (uint32_t)(r.E / r.H));
    r.rot = (int)ku(&r, ".rope.dimension_count", (uint32_t)r.hd);
    r.swa = (int)ku(&r, ".attention.sliding_window", 0);
    r.bert = !strcmp(arch, "bert");
    r.nomic = !strcmp(arch, "nomic-bert");
    r.gemma = !strcmp(arch, "gemma");
    r.sc2 = !strcmp(arch, "starcoder2");
    r.olmo2 = !strcmp(arch, "olmo2");
    r.phi2 = !strcmp(arch, "phi2");
    r.cr = !strcmp(arch, "command-r");
    r.gemma2 = !strcmp(arch, "gemma2");
    r.gemma3 = !strcmp(arch, "gemma3");
    r.neox = strcmp(arch, "llama") && strncmp(arch, "granite", 7) && strcmp(arch, "command-r");
    r.eps = (r.bert || r.nomic || r.sc2 || r.phi2 || r.cr)
                ? kf(&r, ".attention.layer_norm_epsilon", 0)
                                : kf(&r, ".attention.layer_norm_rms_epsilon", 0);
    r.base = kf(&r, ".rope.freq_base", 10000.0f);
    r.scale = 1.0f / kf(&r, ".rope.scaling.factor", 1.0f);
    r.mscale = kf(&r, ".rope.scaling.attn_factor", 1.0f);
    r.yarn = o.yarn;
    r.embd_scale = kf(&r, ".embedding_scale", 0.0f);
    r.res_scale = kf(&r, ".residual_scale", 0.0f);
    r.logit_scale = kf(&r, ".logit_scale", 0.0f);
    r.att_scale = kf(&r, ".attention.scale", 0.0f);
    r.nexp = (int)ku(&r, ".expert_count", 0);
    r.nused = (int)ku(&r, ".expert_used_count", 0);
    r.FE = (int)ku(&r, ".expert_feed_forward_length", (uint32_t)r.F);
    r.FS = (int)ku(&r, ".expert_shared_feed_forward_length", (uint32_t)r.F);
    r.norm_w = strcmp(arch, "qwen2moe") != 0;
    r.n_ctx_orig = (int)ku(&r, ".rope.scaling.original_context_length", (uint32_t)o.n_ctx_train);
    r.ff = tw(&r, "rope_freqs.weight", 0);
    if (o.longrope)
        r.ff = tw(&r, n_ctx > ku(&r, ".rope.scaling.original_context_length", 0)
                          ? "rope_factors_long.weight"
                          : "rope_factors_short.weight",
                  0);

    const int n = 10;
    int32_t tok[T_MAX];
    for (int i = 0; i < n; i++)
        tok[i] = 3 + (i * 11 + 5) % (r.V - 3);
    static float X[T_MAX * 2048];
    ref_forward(&r, tok, n, X);

    eng_model *m = NULL;
    assert_int_equal(eng_model_load(path, NULL, &m, err, sizeof err), 0);
    struct eng_ctx_params p;
    eng_ctx_params_default(&p);
    p.n_ctx = n_ctx;
    p.type_kv = OM_TYPE_F32;
    p.n_threads = 2;
    eng_ctx *c = NULL;
    assert_int_equal(eng_ctx_new(m, &p, &c, err, sizeof err), 0);
    int8_t want[T_MAX];
    memset(want, 1, sizeof want);
    struct eng_batch b = {.n_tokens = n, .token = tok, .logits = want};
    assert_int_equal(eng_decode(c, &b), 0);
    double worst = 0;
    if (r.bert || r.nomic) { /* mean pooling (synth default), L2-normalized */
        static float e[2048];
        double ss = 0;
        for (int i = 0; i < r.E; i++) {
            double s = 0;
            for (int t = 0; t < n; t++)
                s += X[(size_t)t * r.E + i];
            e[i] = (float)(s / n);
            ss += (double)e[i] * e[i];
        }
        const float *got = eng_get_embeddings(c, 0);
        for (int i = 0; i < r.E; i++)
            worst = fmax(worst, fabs(got[i] - e[i] / sqrt(ss)));
        if (worst > 1e-4 || getenv("OM_TEST_VERBOSE"))
            fprintf(stderr, "%s: embedding differs by %g\n", arch, worst);
        assert_true(worst <= 1e-4);
    } else {
        const float *on = tw(&r, "output_norm.weight", 0);
        const float *out = tw(&r, "output.weight", 0);
        if (!out)
            out = tw(&r, "token_embd.weight", 0);
        static float lg[512];
        for (int t = 0; t < n; t++) {
            float *x = X + (size_t)t * r.E;
            norm(x, r.E, on, tw(&r, "output_norm.bias", 0), r.eps, r.sc2 || r.phi2 || r.cr);
            mv(lg, out, x, r.V, r.E, tw(&r, "output.bias", 0));
            if (r.gemma2)
                for (int v = 0; v < r.V; v++)
                    lg[v] = 30.0f * tanhf(lg[v] / 30.0f);
            if (r.logit_scale != 0.0f) /* granite divides, command-r multiplies */
                for (int v = 0; v < r.V; v++)
                    lg[v] = r.cr ? lg[v] * r.logit_scale : lg[v] / r.logit_scale;
            const float *got = eng_get_logits(c, t);
            double big = 1e-6; /* relative to the row's largest |logit| */
            for (int v = 0; v < r.V; v++)
                big = fmax(big, fabs(lg[v]));
            for (int v = 0; v < r.V; v++)
                worst = fmax(worst, fabs(got[v] - lg[v]) / big);
        }
        if (worst > 1e-4 || getenv("OM_TEST_VERBOSE"))
            fprintf(stderr, "%s: logits differ by %g (relative)\n", arch, worst);
        assert_true(worst <= 1e-4);
    }
    eng_ctx_free(c);
    eng_model_free(m);
    gguf_close(f);
    unlink(path);
}

static void test_reference_all_families(void **st)
{
    (void)st;
    const char *fam[] = {"llama",  "qwen2",   "qwen2moe",   "qwen3",    "qwen3moe", "phi3",
                         "gemma",  "gemma2",  "gemma3",     "granite",  "granitemoe",
                         "starcoder2", "olmo2", "phi2", "command-r", "bert", "nomic-bert"};
    for (size_t i = 0; i < OM_ARRAY_LEN(fam); i++)
        check_family(fam[i], 0, 32);
    check_family("phi3", 1, 32); /* LongRoPE, long factors (32 > 16) */
    check_family("phi3", 1, 16); /* LongRoPE, short factors */
    check_family("llama", 2, 32); /* llama3-style rope_freqs */
    check_family("llama", 3, 32); /* partial rotary, NORM */
    check_family("qwen2", 3, 32); /* partial rotary, NEOX */
    check_family("qwen2", 4, 32); /* YaRN */
    check_family("llama", 4, 32); /* YaRN, NORM */
    check_family("llama", 5, 32);      /* mixture of experts */
    check_family("granitemoe", 6, 32); /* experts + ungated shared expert */
}

static int setup(void **st)
{
    (void)st;
    snprintf(g_dir, sizeof g_dir, "/tmp/om_eng_ref_XXXXXX");
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reference_all_families)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
