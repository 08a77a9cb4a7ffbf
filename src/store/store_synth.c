/* store: synthesizer of random models (store_synth).
 *
 * For each family the tensor table is the one llama.cpp's loader reads
 * (names from gguf-py's constants, shapes from llama-model.cpp), with the
 * metadata keys the HF converters write. Weights are generated row by row
 * from a counter-based RNG keyed by (seed, tensor name, row), so the file is
 * the same whatever the thread count; rows are quantized with the quantizer's
 * plan and streamed into the output by store_write_model, as the quantizer's.
 * Values are "Gaussian-ish" (Irwin-Hall sum of four uniforms, mean and std as
 * asked): weights and biases std 0.02, norm weights 1 +- 0.02. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "base/om_types.h"
#include "store/store_synth_int.h"

enum init { INIT_W, INIT_NORM, INIT_BIAS };

struct stensor {
    char name[80];
    uint32_t n_dims;
    int64_t ne[4];
    enum init init;
    uint64_t key; /* RNG key of the tensor (seed, name) */
};

struct tlist {
    struct stensor *t;
    size_t n, cap;
};

static void add(struct tlist *l, const char *name, enum init init, int64_t ne0, int64_t ne1)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->t = om_xrealloc(l->t, l->cap * sizeof(*l->t));
    }
    struct stensor *t = &l->t[l->n++];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->n_dims = ne1 > 0 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1 > 0 ? ne1 : 1;
    t->ne[2] = t->ne[3] = 1;
    t->init = init;
}

static void addl(struct tlist *l, int i, const char *suffix, enum init init, int64_t ne0,
                 int64_t ne1)
{
    char name[80];
    snprintf(name, sizeof(name), "blk.%d.%s", i, suffix);
    add(l, name, init, ne0, ne1);
}

static const char *const g_arch_names[STORE_ARCH_COUNT] = {
    "llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3", "bert", "nomic-bert",
};

const char *store_arch_name(enum store_arch a)
{
    return (unsigned)a < STORE_ARCH_COUNT ? g_arch_names[a] : NULL;
}

int store_arch_from_name(const char *name, enum store_arch *out)
{
    for (int i = 0; name && i < STORE_ARCH_COUNT; i++)
        if (!strcmp(name, g_arch_names[i])) {
            *out = (enum store_arch)i;
            return 0;
        }
    return OM_EINVAL;
}

static int is_bert(enum store_arch a) { return a == STORE_ARCH_BERT || a == STORE_ARCH_NOMIC_BERT; }
static int is_gemma(enum store_arch a) { return a == STORE_ARCH_GEMMA2 || a == STORE_ARCH_GEMMA3; }

/* The tensors llama.cpp loads for spec's family and shape. */
static void build_tensors(const struct store_synth_spec *s, struct tlist *l)
{
    const int64_t E = s->n_embd, F = s->n_ff, V = s->n_vocab;
    const int64_t hd = s->head_dim > 0 ? s->head_dim : s->n_embd / s->n_head;
    const int64_t q_dim = s->n_head * hd, kv_dim = s->n_head_kv * hd;
    enum store_arch a = s->arch;
    add(l, "token_embd.weight", INIT_W, E, V);
    if (is_bert(a)) {
        add(l, "token_types.weight", INIT_W, E, 2);
        if (a == STORE_ARCH_BERT)
            add(l, "position_embd.weight", INIT_W, E, s->n_ctx);
        add(l, "token_embd_norm.weight", INIT_NORM, E, 0);
        add(l, "token_embd_norm.bias", INIT_BIAS, E, 0);
    } else {
        add(l, "output_norm.weight", INIT_NORM, E, 0);
        if (!s->tied_embd)
            add(l, "output.weight", INIT_W, E, V);
    }
    for (int i = 0; i < (int)s->n_layer; i++) {
        if (is_bert(a)) {
            if (a == STORE_ARCH_BERT) {
                addl(l, i, "attn_q.weight", INIT_W, E, E);
                addl(l, i, "attn_q.bias", INIT_BIAS, E, 0);
                addl(l, i, "attn_k.weight", INIT_W, E, kv_dim);
                addl(l, i, "attn_k.bias", INIT_BIAS, kv_dim, 0);
                addl(l, i, "attn_v.weight", INIT_W, E, kv_dim);
                addl(l, i, "attn_v.bias", INIT_BIAS, kv_dim, 0);
                addl(l, i, "attn_output.bias", INIT_BIAS, E, 0);
                addl(l, i, "ffn_up.bias", INIT_BIAS, F, 0);
                addl(l, i, "ffn_down.bias", INIT_BIAS, E, 0);
            } else {
                addl(l, i, "attn_qkv.weight", INIT_W, E, E + 2 * kv_dim);
                addl(l, i, "ffn_gate.weight", INIT_W, E, F);
            }
            addl(l, i, "attn_output.weight", INIT_W, E, E);
            addl(l, i, "attn_output_norm.weight", INIT_NORM, E, 0);
            addl(l, i, "attn_output_norm.bias", INIT_BIAS, E, 0);
            addl(l, i, "ffn_up.weight", INIT_W, E, F);
            addl(l, i, "ffn_down.weight", INIT_W, F, E);
            addl(l, i, "layer_output_norm.weight", INIT_NORM, E, 0);
            addl(l, i, "layer_output_norm.bias", INIT_BIAS, E, 0);
            continue;
        }
        addl(l, i, "attn_norm.weight", INIT_NORM, E, 0);
        if (a == STORE_ARCH_PHI3) {
            addl(l, i, "attn_qkv.weight", INIT_W, E, q_dim + 2 * kv_dim);
            addl(l, i, "attn_output.weight", INIT_W, q_dim, E);
            addl(l, i, "ffn_norm.weight", INIT_NORM, E, 0);
            addl(l, i, "ffn_up.weight", INIT_W, E, 2 * F); /* gate and up, fused */
            addl(l, i, "ffn_down.weight", INIT_W, F, E);
            continue;
        }
        addl(l, i, "attn_q.weight", INIT_W, E, q_dim);
        addl(l, i, "attn_k.weight", INIT_W, E, kv_dim);
        addl(l, i, "attn_v.weight", INIT_W, E, kv_dim);
        if (s->qkv_bias) {
            addl(l, i, "attn_q.bias", INIT_BIAS, q_dim, 0);
            addl(l, i, "attn_k.bias", INIT_BIAS, kv_dim, 0);
            addl(l, i, "attn_v.bias", INIT_BIAS, kv_dim, 0);
        }
        if (a == STORE_ARCH_QWEN3 || a == STORE_ARCH_GEMMA3) {
            addl(l, i, "attn_q_norm.weight", INIT_NORM, hd, 0);
            addl(l, i, "attn_k_norm.weight", INIT_NORM, hd, 0);
        }
        addl(l, i, "attn_output.weight", INIT_W, q_dim, E);
        if (is_gemma(a))
            addl(l, i, "post_attention_norm.weight", INIT_NORM, E, 0);
        addl(l, i, "ffn_norm.weight", INIT_NORM, E, 0);
        addl(l, i, "ffn_gate.weight", INIT_W, E, F);
        addl(l, i, "ffn_up.weight", INIT_W, E, F);
        addl(l, i, "ffn_down.weight", INIT_W, F, E);
        if (is_gemma(a))
            addl(l, i, "post_ffw_norm.weight", INIT_NORM, E, 0);
    }
}

static void write_hparams(gguf_writer *g, const struct store_synth_spec *s, const char *name)
{
    const char *an = store_arch_name(s->arch);
    const int64_t hd = s->head_dim > 0 ? s->head_dim : s->n_embd / s->n_head;
    char k[128];
#define KEY(suffix) (snprintf(k, sizeof(k), "%s." suffix, an), k)
    gguf_writer_set_str(g, "general.architecture", an);
    gguf_writer_set_str(g, "general.type", "model");
    gguf_writer_set_str(g, "general.name", name);
    gguf_writer_set_u32(g, KEY("context_length"), (uint32_t)s->n_ctx);
    gguf_writer_set_u32(g, KEY("embedding_length"), (uint32_t)s->n_embd);
    gguf_writer_set_u32(g, KEY("feed_forward_length"), (uint32_t)s->n_ff);
    gguf_writer_set_u32(g, KEY("block_count"), (uint32_t)s->n_layer);
    gguf_writer_set_u32(g, KEY("attention.head_count"), (uint32_t)s->n_head);
    if (is_bert(s->arch)) {
        gguf_writer_set_f32(g, KEY("attention.layer_norm_epsilon"), s->norm_eps);
        gguf_writer_set_bool(g, KEY("attention.causal"), 0);
        gguf_writer_set_u32(g, KEY("pooling_type"), s->arch == STORE_ARCH_BERT ? 2 : 1);
        if (s->arch == STORE_ARCH_NOMIC_BERT)
            gguf_writer_set_f32(g, KEY("rope.freq_base"), s->rope_base);
        return;
    }
    gguf_writer_set_u32(g, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv);
    gguf_writer_set_f32(g, KEY("rope.freq_base"), s->rope_base);
    gguf_writer_set_f32(g, KEY("attention.layer_norm_rms_epsilon"), s->norm_eps);
    if (s->arch == STORE_ARCH_LLAMA) {
        gguf_writer_set_u32(g, KEY("vocab_size"), (uint32_t)s->n_vocab);
        gguf_writer_set_u32(g, KEY("rope.dimension_count"), (uint32_t)hd);
    }
    if (s->arch == STORE_ARCH_PHI3) {
        gguf_writer_set_u32(g, KEY("rope.dimension_count"), (uint32_t)hd);
        gguf_writer_set_u32(g, KEY("rope.scaling.original_context_length"), (uint32_t)s->n_ctx);
        /* the converter writes the config's sliding_window; llama.cpp refuses
         * a phi3 file without it */
        gguf_writer_set_u32(g, KEY("attention.sliding_window"), (uint32_t)s->n_ctx);
    }
    if (s->arch == STORE_ARCH_QWEN3 || is_gemma(s->arch) || hd * s->n_head != s->n_embd) {
        gguf_writer_set_u32(g, KEY("attention.key_length"), (uint32_t)hd);
        gguf_writer_set_u32(g, KEY("attention.value_length"), (uint32_t)hd);
    }
    if (s->arch == STORE_ARCH_GEMMA2) {
        gguf_writer_set_f32(g, KEY("attn_logit_softcapping"), 50.0f);
        gguf_writer_set_f32(g, KEY("final_logit_softcapping"), 30.0f);
        gguf_writer_set_u32(g, KEY("attention.sliding_window"), 4096);
    }
    if (s->arch == STORE_ARCH_GEMMA3)
        gguf_writer_set_u32(g, KEY("attention.sliding_window"), 512);
#undef KEY
}

static void write_chat_template(gguf_writer *g, enum store_arch a)
{
    const char *t = NULL;
    if (a == STORE_ARCH_QWEN2 || a == STORE_ARCH_QWEN3)
        t = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
            "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt "
            "%}{{ '<|im_start|>assistant\n' }}{% endif %}";
    else if (a == STORE_ARCH_LLAMA || a == STORE_ARCH_PHI3)
        t = "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + "
            "message['content'] + eos_token + '\n' }}{% endfor %}{% if add_generation_prompt "
            "%}{{ '<|assistant|>\n' }}{% endif %}";
    else if (is_gemma(a))
        t = "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + "
            "(message['role'] == 'assistant' and 'model' or message['role']) + '\n' + "
            "message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if "
            "add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";
    if (t)
        gguf_writer_set_str(g, "tokenizer.chat_template", t);
}

/* ---- generation ---- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t name_seed(uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    while (*name)
        h = (h ^ (uint8_t)*name++) * 1099511628211ull;
    return mix64(h);
}

/* One row of n values, mean m, std sd: Irwin-Hall over four 16-bit uniforms
 * (variance 4/12 before scaling). */
static void gen_row(uint64_t key, float m, float sd, float *x, int64_t n)
{
    uint64_t s = mix64(key);
    const float scale = sd * 1.7320508f / 65535.0f; /* sqrt(3) */
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = mix64(s += 0x9e3779b97f4a7c15ull);
        float u = (float)(r & 0xffff) + (float)((r >> 16) & 0xffff) +
                  (float)((r >> 32) & 0xffff) + (float)(r >> 48);
        x[i] = m + (u - 2.0f * 65535.0f) * scale;
    }
}

/* store_row_fn: row r of a tensor (ctx: its struct stensor, key set). */
static void synth_row(const void *ctx, int64_t r, float *x, int64_t ne0)
{
    const struct stensor *t = ctx;
    gen_row(t->key ^ mix64((uint64_t)r + 1), t->init == INIT_NORM ? 1.0f : 0.0f, 0.02f, x, ne0);
}

static int stensor_cmp(const void *a, const void *b)
{
    return store_tensor_name_cmp(((const struct stensor *)a)->name,
                                 ((const struct stensor *)b)->name);
}

static int check_spec(const struct store_synth_spec *s, char *err, size_t errlen)
{
    if (!store_arch_name(s->arch))
        return om_err(err, errlen, OM_EINVAL, "invalid architecture %d", (int)s->arch);
    if (s->n_embd < 1 || s->n_layer < 1 || s->n_head < 1 || s->n_ff < 1 || s->n_vocab < 1 ||
        s->n_ctx < 1 || s->n_head_kv < 1 || s->n_embd > 65536 || s->n_layer > 512 ||
        s->n_ff > 1 << 20 || s->n_ctx > 1 << 24)
        return om_err(err, errlen, OM_EINVAL, "dimensions out of range");
    if (s->n_head % s->n_head_kv)
        return om_err(err, errlen, OM_EINVAL, "n_head %lld is not a multiple of n_head_kv %lld",
                      (long long)s->n_head, (long long)s->n_head_kv);
    if (s->head_dim <= 0 && s->n_embd % s->n_head)
        return om_err(err, errlen, OM_EINVAL, "n_embd %lld is not a multiple of n_head %lld",
                      (long long)s->n_embd, (long long)s->n_head);
    if (is_bert(s->arch) && (s->head_dim > 0 && s->head_dim * s->n_head != s->n_embd))
        return om_err(err, errlen, OM_EINVAL, "%s needs head_dim * n_head == n_embd",
                      store_arch_name(s->arch));
    if ((unsigned)s->ftype >= STORE_FTYPE_COUNT)
        return om_err(err, errlen, OM_EINVAL, "invalid file type %d", (int)s->ftype);
    return 0;
}

int store_synth(const struct store_synth_spec *spec, const char *out_path,
                store_progress_fn progress, void *progress_ud, char *err, size_t errlen)
{
    int rc = check_spec(spec, err, errlen);
    if (rc)
        return rc;
    struct store_synth_spec s = *spec;
    if (is_bert(s.arch))
        s.n_head_kv = s.n_head, s.tied_embd = 1;
    struct tlist l = {0};
    build_tensors(&s, &l);
    qsort(l.t, l.n, sizeof(*l.t), stensor_cmp);

    struct store_plan_tensor *plan = om_xcalloc(l.n, sizeof(*plan));
    for (size_t i = 0; i < l.n; i++)
        plan[i] = (struct store_plan_tensor){l.t[i].name, l.t[i].n_dims,
                                             {l.t[i].ne[0], l.t[i].ne[1], 1, 1}, OM_TYPE_F32,
                                             0, 0};
    struct store_model_info mi = {store_arch_name(s.arch), (int)s.n_layer, (int)s.n_head,
                                  (int)s.n_head_kv, 0};
    struct store_vocab voc = {0};
    gguf_writer *g = NULL;
    struct store_src *src = om_xcalloc(l.n, sizeof(*src));
    rc = store_plan_types(plan, l.n, s.ftype, &mi, err, errlen);
    for (size_t i = 0; !rc && i < l.n; i++)
        if (!store_type_writable(plan[i].dst_type))
            rc = om_err(err, errlen, OM_EUNSUPPORTED, "tensor %s: no quantizer for type %s",
                        plan[i].name, om_type_name(plan[i].dst_type));
    enum store_vocab_style vs = is_bert(s.arch)                                     ? STORE_VOCAB_WPM
                                : s.arch == STORE_ARCH_QWEN2 || s.arch == STORE_ARCH_QWEN3 ? STORE_VOCAB_BPE
                                                                                         : STORE_VOCAB_SPM;
    if (!rc)
        rc = store_vocab_build(vs, (uint64_t)s.n_vocab, s.seed, &voc, err, errlen);
    if (rc)
        goto done;
    g = gguf_writer_new();
    write_hparams(g, &s, s.name ? s.name : store_arch_name(s.arch));
    store_set_ftype(g, s.ftype);
    store_vocab_write(g, &voc, vs);
    write_chat_template(g, s.arch);
    for (size_t i = 0; i < l.n; i++) {
        l.t[i].key = name_seed(s.seed, l.t[i].name);
        src[i] = (struct store_src){NULL, synth_row, &l.t[i],
                                    (uint64_t)(l.t[i].ne[0] * l.t[i].ne[1] * 4)};
    }
    rc = store_write_model(g, plan, src, l.n, s.n_threads, progress, progress_ud, out_path, err,
                           errlen);
done:
    gguf_writer_free(g);
    free(src);
    store_vocab_free(&voc);
    free(plan);
    free(l.t);
    return rc;
}
