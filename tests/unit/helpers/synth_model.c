/* test helper: tiny random GGUF models of every supported family (see
 * synth_model.h). Tensor names, shapes and metadata keys follow llama.cpp's
 * GGUF conventions. */
#include "helpers/synth_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "base/om_types.h"
#include "format/gguf.h"
#include "kernels/kern.h"

void synth_opts_default(struct synth_opts *o, const char *arch)
{
    memset(o, 0, sizeof *o);
    o->arch = arch;
    o->wtype = OM_TYPE_F32;
    o->n_embd = 64;
    o->n_layer = 2;
    o->n_head = 4;
    o->n_head_kv = 2;
    o->n_ff = 128;
    o->n_vocab = 96;
    o->n_ctx_train = 256;
    o->seed = 1;
    o->pooling = 1;
    if (!strcmp(arch, "qwen3") || !strcmp(arch, "gemma") || !strcmp(arch, "gemma2") ||
        !strcmp(arch, "gemma3"))
        o->head_dim = 32; /* head_dim != n_embd / n_head, as in the real models */
    if (!strcmp(arch, "gemma"))
        o->tied = 1;
    if (!strcmp(arch, "command-r"))
        o->tied = 1;
    if (!strcmp(arch, "phi2"))
        o->n_rot = 8; /* partial rotary, as the real model (32 of 80) */
    if (!strcmp(arch, "granitemoe"))
        o->n_expert = 4, o->n_expert_used = 2;
    if (!strcmp(arch, "qwen2moe")) {
        o->n_expert = 4;
        o->n_expert_used = 2;
        o->n_ff_exp = 48;
        o->n_ff_shexp = 40;
    }
    if (!strcmp(arch, "qwen3moe")) {
        o->head_dim = 32;
        o->n_expert = 4;
        o->n_expert_used = 2;
        o->n_ff_exp = 48;
    }
    if (!strcmp(arch, "gemma2") || !strcmp(arch, "gemma3"))
        o->tied = 1, o->n_swa = 6, o->n_layer = 6;
    if (!strcmp(arch, "bert") || !strcmp(arch, "nomic-bert"))
        o->n_head_kv = o->n_head;
}

struct gen {
    uint64_t s;
    gguf_writer *w;
    const struct synth_opts *o;
    int rc;
    char *err;
    size_t errlen;
};

static float rnd(struct gen *g) /* uniform in [-1, 1) */
{
    g->s ^= g->s << 13;
    g->s ^= g->s >> 7;
    g->s ^= g->s << 17;
    return (float)((g->s >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

/* Adds tensor name (ne0, ne1) with values base + scale * U(-1, 1); matrices
 * (ne1 > 0) are stored in wtype, vectors in F32. */
/* Same with a third dimension (expert slabs: ne2 matrices of ne1 rows). */
static void add3(struct gen *g, const char *name, int64_t ne0, int64_t ne1, int64_t ne2,
                 float base, float scale)
{
    if (g->rc)
        return;
    int64_t rows = ne1 > 0 ? ne1 * ne2 : 1;
    float *f = malloc(sizeof(float) * (size_t)(ne0 * rows));
    for (int64_t i = 0; i < ne0 * rows; i++)
        f[i] = base + scale * rnd(g);
    uint32_t type = ne1 > 0 ? g->o->wtype : OM_TYPE_F32;
    int64_t ne[3] = {ne0, ne1 > 0 ? ne1 : 1, ne2};
    size_t rb = om_type_row_size(type, ne0);
    if (rb == 0) {
        g->rc = om_err(g->err, g->errlen, OM_EINVAL, "%s: row of %lld not a block multiple",
                       name, (long long)ne0);
        free(f);
        return;
    }
    void *data = f;
    if (type != OM_TYPE_F32) {
        data = malloc(rb * (size_t)rows);
        for (int64_t r = 0; r < rows; r++)
            kern_quantize_row(type, f + r * ne0, (uint8_t *)data + rb * (size_t)r, ne0);
    }
    uint32_t n_dims = ne1 <= 0 ? 1 : ne2 > 1 ? 3 : 2;
    int rc = gguf_writer_add_tensor(g->w, name, type, n_dims, ne, data, rb * (size_t)rows);
    if (rc)
        g->rc = om_err(g->err, g->errlen, rc, "add tensor %s", name);
    if (data != f)
        free(data);
    free(f);
}

static void add(struct gen *g, const char *name, int64_t ne0, int64_t ne1, float base,
                float scale)
{
    add3(g, name, ne0, ne1, 1, base, scale);
}

static void addl(struct gen *g, int il, const char *sfx, int64_t ne0, int64_t ne1, float base,
                 float scale)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s", il, sfx);
    add(g, name, ne0, ne1, base, scale);
}

static void kv_u32(gguf_writer *w, const char *arch, const char *sfx, uint32_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s%s", arch, sfx);
    gguf_writer_set_u32(w, key, v);
}

static void kv_f32(gguf_writer *w, const char *arch, const char *sfx, float v)
{
    char key[128];
    snprintf(key, sizeof key, "%s%s", arch, sfx);
    gguf_writer_set_f32(w, key, v);
}

static void vocab(gguf_writer *w, int n, int bert)
{
    char **toks = malloc(sizeof(char *) * (size_t)n);
    float *scores = malloc(sizeof(float) * (size_t)n);
    int32_t *types = malloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        toks[i] = malloc(32);
        if (bert)
            snprintf(toks[i], 32, i == 0 ? "[PAD]" : i == 1 ? "[UNK]" : i == 2 ? "[CLS]"
                                  : i == 3 ? "[SEP]" : "w%d", i);
        else
            snprintf(toks[i], 32, i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>"
                                  : "\xe2\x96\x81t%d", i);
        scores[i] = -(float)i;
        types[i] = i < (bert ? 4 : 3) ? 3 : 1;
    }
    if (!bert)
        types[0] = 2;
    gguf_writer_set_str(w, "tokenizer.ggml.model", bert ? "bert" : "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, (uint64_t)n);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, (uint64_t)n);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, (uint64_t)n);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", bert ? 2 : 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", bert ? 3 : 2);
    gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", bert ? 1 : 0);
    for (int i = 0; i < n; i++)
        free(toks[i]);
    free(toks);
    free(scores);
    free(types);
}

int synth_model_write(const struct synth_opts *o, const char *path, char *err, size_t errlen)
{
    const char *a = o->arch;
    const int E = o->n_embd, F = o->n_ff, L = o->n_layer;
    const int hd = o->head_dim ? o->head_dim : E / o->n_head;
    const int nq = o->n_head * hd, nkv = o->n_head_kv * hd;
    const int is_bert = !strcmp(a, "bert"), is_nomic = !strcmp(a, "nomic-bert");
    const int enc = is_bert || is_nomic;
    const int is_g2 = !strcmp(a, "gemma2"), is_g3 = !strcmp(a, "gemma3");
    const int is_g1 = !strcmp(a, "gemma");
    const int is_phi3 = !strcmp(a, "phi3");
    const int is_q2 = !strcmp(a, "qwen2") || !strcmp(a, "qwen2moe");
    const int is_q3 = !strcmp(a, "qwen3") || !strcmp(a, "qwen3moe");
    const int is_sc2 = !strcmp(a, "starcoder2");
    const int is_olmo2 = !strcmp(a, "olmo2");
    const int is_phi2 = !strcmp(a, "phi2");
    const int is_cr = !strcmp(a, "command-r");
    struct gen g = {o->seed * 0x9E3779B97F4A7C15ull + 12345, gguf_writer_new(), o, 0, err, errlen};
    gguf_writer *w = g.w;

    gguf_writer_set_str(w, "general.architecture", a);
    gguf_writer_set_str(w, "general.name", "synthetic test model");
    kv_u32(w, a, ".context_length", (uint32_t)o->n_ctx_train);
    kv_u32(w, a, ".embedding_length", (uint32_t)E);
    kv_u32(w, a, ".block_count", (uint32_t)L);
    kv_u32(w, a, ".feed_forward_length", (uint32_t)F);
    kv_u32(w, a, ".attention.head_count", (uint32_t)o->n_head);
    kv_u32(w, a, ".attention.head_count_kv", (uint32_t)o->n_head_kv);
    if (hd != E / o->n_head) {
        kv_u32(w, a, ".attention.key_length", (uint32_t)hd);
        kv_u32(w, a, ".attention.value_length", (uint32_t)hd);
    }
    if (enc || is_sc2 || is_phi2 || is_cr) {
        kv_f32(w, a, ".attention.layer_norm_epsilon", enc ? 1e-12f : 1e-5f);
    }
    if (enc) {
        kv_u32(w, a, ".pooling_type", o->pooling);
        char key[128];
        snprintf(key, sizeof key, "%s.attention.causal", a);
        gguf_writer_set_bool(w, key, 0);
    } else if (!is_sc2 && !is_phi2 && !is_cr) {
        kv_f32(w, a, ".attention.layer_norm_rms_epsilon", 1e-6f);
    }
    kv_f32(w, a, ".rope.freq_base", is_nomic ? 1000.0f : is_g3 ? 1000000.0f : 10000.0f);
    if (o->rope_scale > 1.0f) {
        char key[128];
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        gguf_writer_set_str(w, key, "linear");
        kv_f32(w, a, ".rope.scaling.factor", o->rope_scale);
    }
    if (is_cr)
        kv_f32(w, a, ".logit_scale", 0.125f);
    if (!strncmp(a, "granite", 7)) {
        kv_f32(w, a, ".logit_scale", 8.0f);
        kv_f32(w, a, ".residual_scale", 0.22f);
        kv_f32(w, a, ".embedding_scale", 12.0f);
        kv_f32(w, a, ".attention.scale", 0.1f);
    }
    if (o->n_expert > 0) {
        kv_u32(w, a, ".expert_count", (uint32_t)o->n_expert);
        kv_u32(w, a, ".expert_used_count", (uint32_t)o->n_expert_used);
        if (o->n_ff_exp)
            kv_u32(w, a, ".expert_feed_forward_length", (uint32_t)o->n_ff_exp);
        if (o->n_ff_shexp)
            kv_u32(w, a, ".expert_shared_feed_forward_length", (uint32_t)o->n_ff_shexp);
    }
    if (o->yarn) {
        char key[128];
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        gguf_writer_set_str(w, key, "yarn");
        kv_f32(w, a, ".rope.scaling.factor", 4.0f);
        kv_u32(w, a, ".rope.scaling.original_context_length", 16);
    }
    if (o->n_rot > 0)
        kv_u32(w, a, ".rope.dimension_count", (uint32_t)o->n_rot);
    if (o->longrope) {
        kv_f32(w, a, ".rope.scaling.attn_factor", 1.19f);
        kv_u32(w, a, ".rope.scaling.original_context_length", 16);
    }
    if (is_g2 || is_g3)
        kv_u32(w, a, ".attention.sliding_window", (uint32_t)(o->n_swa ? o->n_swa : 4096));
    if (is_g2) {
        kv_f32(w, a, ".attn_logit_softcapping", 50.0f);
        kv_f32(w, a, ".final_logit_softcapping", 30.0f);
    }
    vocab(w, o->n_vocab, enc);

    const float ws = 1.0f / sqrtf((float)E), fs = 1.0f / sqrtf((float)F);
    const int small_embd = is_g1 || is_g2 || is_g3 || !strncmp(a, "granite", 7);
    add(&g, "token_embd.weight", E, o->n_vocab, 0.0f, small_embd ? 0.1f : 1.0f);
    if (enc) {
        add(&g, "token_types.weight", E, 2, 0.0f, 0.1f);
        if (is_bert)
            add(&g, "position_embd.weight", E, o->n_ctx_train, 0.0f, 0.1f);
        add(&g, "token_embd_norm.weight", E, 0, 1.0f, 0.1f);
        add(&g, "token_embd_norm.bias", E, 0, 0.0f, 0.1f);
    } else {
        add(&g, "output_norm.weight", E, 0, 1.0f, 0.1f);
        if (is_sc2 || is_phi2)
            add(&g, "output_norm.bias", E, 0, 0.0f, 0.1f);
        if (is_phi2)
            add(&g, "output.bias", o->n_vocab, 0, 0.0f, 0.1f);
        if (!o->tied)
            add(&g, "output.weight", E, o->n_vocab, 0.0f, ws);
        if (o->rope_freqs)
            /* divisors in [1, 3) */
            add(&g, "rope_freqs.weight", (o->n_rot ? o->n_rot : hd) / 2, 0, 2.0f, 1.0f);
        if (o->longrope) {
            add(&g, "rope_factors_long.weight", hd / 2, 0, 5.0f, 4.0f);  /* [1, 9) */
            add(&g, "rope_factors_short.weight", hd / 2, 0, 1.25f, 0.25f); /* [1, 1.5) */
        }
    }
    for (int il = 0; il < L; il++) {
        if (enc) {
            if (is_nomic) {
                addl(&g, il, "attn_qkv.weight", E, nq + 2 * nkv, 0.0f, ws);
            } else {
                addl(&g, il, "attn_q.weight", E, nq, 0.0f, ws);
                addl(&g, il, "attn_k.weight", E, nkv, 0.0f, ws);
                addl(&g, il, "attn_v.weight", E, nkv, 0.0f, ws);
                addl(&g, il, "attn_q.bias", nq, 0, 0.0f, 0.1f);
                addl(&g, il, "attn_k.bias", nkv, 0, 0.0f, 0.1f);
                addl(&g, il, "attn_v.bias", nkv, 0, 0.0f, 0.1f);
            }
            addl(&g, il, "attn_output.weight", nq, E, 0.0f, ws);
            if (is_bert)
                addl(&g, il, "attn_output.bias", E, 0, 0.0f, 0.1f);
            addl(&g, il, "attn_output_norm.weight", E, 0, 1.0f, 0.1f);
            addl(&g, il, "attn_output_norm.bias", E, 0, 0.0f, 0.1f);
            if (is_nomic)
                addl(&g, il, "ffn_gate.weight", E, F, 0.0f, ws);
            addl(&g, il, "ffn_up.weight", E, F, 0.0f, ws);
            addl(&g, il, "ffn_down.weight", F, E, 0.0f, fs);
            if (is_bert) {
                addl(&g, il, "ffn_up.bias", F, 0, 0.0f, 0.1f);
                addl(&g, il, "ffn_down.bias", E, 0, 0.0f, 0.1f);
            }
            addl(&g, il, "layer_output_norm.weight", E, 0, 1.0f, 0.1f);
            addl(&g, il, "layer_output_norm.bias", E, 0, 0.0f, 0.1f);
            continue;
        }
        if (!is_olmo2)
            addl(&g, il, "attn_norm.weight", E, 0, 1.0f, 0.1f);
        if (is_sc2 || is_phi2)
            addl(&g, il, "attn_norm.bias", E, 0, 0.0f, 0.1f);
        if (is_phi3 || is_phi2) {
            addl(&g, il, "attn_qkv.weight", E, nq + 2 * nkv, 0.0f, ws);
            if (is_phi2)
                addl(&g, il, "attn_qkv.bias", nq + 2 * nkv, 0, 0.0f, 0.1f);
        } else {
            addl(&g, il, "attn_q.weight", E, nq, 0.0f, ws);
            addl(&g, il, "attn_k.weight", E, nkv, 0.0f, ws);
            addl(&g, il, "attn_v.weight", E, nkv, 0.0f, ws);
        }
        if (is_q2 || is_sc2) {
            addl(&g, il, "attn_q.bias", nq, 0, 0.0f, 0.2f);
            addl(&g, il, "attn_k.bias", nkv, 0, 0.0f, 0.2f);
            addl(&g, il, "attn_v.bias", nkv, 0, 0.0f, 0.2f);
        }
        if (is_olmo2) { /* QK-norm over the whole projections */
            addl(&g, il, "attn_q_norm.weight", nq, 0, 1.0f, 0.1f);
            addl(&g, il, "attn_k_norm.weight", nkv, 0, 1.0f, 0.1f);
        }
        if (is_q3 || is_g3) {
            addl(&g, il, "attn_q_norm.weight", hd, 0, 1.0f, 0.1f);
            addl(&g, il, "attn_k_norm.weight", hd, 0, 1.0f, 0.1f);
        }
        addl(&g, il, "attn_output.weight", nq, E, 0.0f, 1.0f / sqrtf((float)nq));
        if (is_sc2 || is_phi2)
            addl(&g, il, "attn_output.bias", E, 0, 0.0f, 0.1f);
        if (is_g2 || is_g3 || is_olmo2)
            addl(&g, il, "post_attention_norm.weight", E, 0, 1.0f, 0.1f);
        if (!is_olmo2 && !is_phi2 && !is_cr)
            addl(&g, il, "ffn_norm.weight", E, 0, 1.0f, 0.1f);
        if (is_sc2 || is_phi2) {
            if (is_sc2)
                addl(&g, il, "ffn_norm.bias", E, 0, 0.0f, 0.1f);
            addl(&g, il, "ffn_up.weight", E, F, 0.0f, ws);
            addl(&g, il, "ffn_up.bias", F, 0, 0.0f, 0.1f);
            addl(&g, il, "ffn_down.weight", F, E, 0.0f, fs);
            addl(&g, il, "ffn_down.bias", E, 0, 0.0f, 0.1f);
            continue;
        }
        if (o->n_expert > 0) {
            const int FE = o->n_ff_exp ? o->n_ff_exp : F;
            char name[96];
            addl(&g, il, "ffn_gate_inp.weight", E, o->n_expert, 0.0f, 4.0f * ws);
            snprintf(name, sizeof name, "blk.%d.ffn_gate_exps.weight", il);
            add3(&g, name, E, FE, o->n_expert, 0.0f, ws);
            snprintf(name, sizeof name, "blk.%d.ffn_up_exps.weight", il);
            add3(&g, name, E, FE, o->n_expert, 0.0f, ws);
            snprintf(name, sizeof name, "blk.%d.ffn_down_exps.weight", il);
            add3(&g, name, FE, E, o->n_expert, 0.0f, 1.0f / sqrtf((float)FE));
            if (o->n_ff_shexp > 0) {
                const int FS = o->n_ff_shexp;
                if (!strcmp(a, "qwen2moe"))
                    addl(&g, il, "ffn_gate_inp_shexp.weight", E, 0, 0.0f, 4.0f * ws);
                addl(&g, il, "ffn_gate_shexp.weight", E, FS, 0.0f, ws);
                addl(&g, il, "ffn_up_shexp.weight", E, FS, 0.0f, ws);
                addl(&g, il, "ffn_down_shexp.weight", FS, E, 0.0f, 1.0f / sqrtf((float)FS));
            }
            continue;
        }
        if (is_phi3) {
            addl(&g, il, "ffn_up.weight", E, 2 * F, 0.0f, ws);
        } else {
            addl(&g, il, "ffn_gate.weight", E, F, 0.0f, ws);
            addl(&g, il, "ffn_up.weight", E, F, 0.0f, ws);
        }
        addl(&g, il, "ffn_down.weight", F, E, 0.0f, fs);
        if (is_g2 || is_g3 || is_olmo2)
            addl(&g, il, "post_ffw_norm.weight", E, 0, 1.0f, 0.1f);
    }
    int rc = g.rc;
    if (!rc)
        rc = gguf_writer_write(w, path, err, errlen);
    gguf_writer_free(w);
    return rc;
}
