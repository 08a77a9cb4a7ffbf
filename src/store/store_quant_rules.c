/* store: which type each tensor gets — llama.cpp's llama_model_quantize rules.
 *
 * Mirrors llama-quant.cpp (tensor_allows_quantization, llama_tensor_get_type_impl,
 * tensor_type_fallback) for the file types we produce:
 *  - only tensors of 2+ dims whose name ends in "weight" are quantized, and not
 *    norms, MoE routers, position or token-type embeddings;
 *  - output.weight (and token_embd.weight when embeddings are tied, i.e. the
 *    file has no output.weight) gets Q6_K, or Q8_0 when its row length does
 *    not divide the mix's block size or the mix is Q8_0;
 *  - attn_v / attn_qkv and ffn_down get Q6_K in the "more bits" layers of
 *    Q4_K_M and Q5_K_M; Q4_K_S gets Q5_K for the first 4 attn_v and for
 *    ffn_down in the first 1/8 of layers;
 *  - a row length that does not divide the block size falls back: Q4_K->Q5_0,
 *    Q5_K->Q5_1, Q6_K->Q8_0, then F16 if even 32 does not divide it. One
 *    deliberate difference: where llama.cpp defines no fallback (a row length
 *    that is not a multiple of 32 with Q4_0..Q8_0) it aborts; we use F16.
 * Counters run in llama.cpp's loader order (layer number, then name). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/om.h"
#include "base/om_types.h"
#include "store/store_int.h"

static const struct {
    const char *name;
    int llama;      /* LLAMA_FTYPE value */
    uint32_t base;  /* default tensor type */
} g_ftypes[STORE_FTYPE_COUNT] = {
    [STORE_FTYPE_F32] = {"F32", 0, OM_TYPE_F32},
    [STORE_FTYPE_F16] = {"F16", 1, OM_TYPE_F16},
    [STORE_FTYPE_Q4_0] = {"Q4_0", 2, OM_TYPE_Q4_0},
    [STORE_FTYPE_Q4_1] = {"Q4_1", 3, OM_TYPE_Q4_1},
    [STORE_FTYPE_Q5_0] = {"Q5_0", 8, OM_TYPE_Q5_0},
    [STORE_FTYPE_Q5_1] = {"Q5_1", 9, OM_TYPE_Q5_1},
    [STORE_FTYPE_Q8_0] = {"Q8_0", 7, OM_TYPE_Q8_0},
    [STORE_FTYPE_Q4_K_S] = {"Q4_K_S", 14, OM_TYPE_Q4_K},
    [STORE_FTYPE_Q4_K_M] = {"Q4_K_M", 15, OM_TYPE_Q4_K},
    [STORE_FTYPE_Q5_K_S] = {"Q5_K_S", 16, OM_TYPE_Q5_K},
    [STORE_FTYPE_Q5_K_M] = {"Q5_K_M", 17, OM_TYPE_Q5_K},
    [STORE_FTYPE_Q6_K] = {"Q6_K", 18, OM_TYPE_Q6_K},
    [STORE_FTYPE_BF16] = {"BF16", 32, OM_TYPE_BF16},
};

int store_ftype_from_name(const char *name, enum store_ftype *out)
{
    if (!name)
        return OM_EINVAL;
    for (int i = 0; i < STORE_FTYPE_COUNT; i++)
        if (!strcasecmp(name, g_ftypes[i].name)) {
            *out = (enum store_ftype)i;
            return 0;
        }
    /* llama-quantize also accepts the short names of the default mixes. */
    if (!strcasecmp(name, "q4_K")) {
        *out = STORE_FTYPE_Q4_K_M;
        return 0;
    }
    if (!strcasecmp(name, "q5_K")) {
        *out = STORE_FTYPE_Q5_K_M;
        return 0;
    }
    return OM_EINVAL;
}

const char *store_ftype_name(enum store_ftype ft)
{
    return (unsigned)ft < STORE_FTYPE_COUNT ? g_ftypes[ft].name : "?";
}

int store_ftype_llama(enum store_ftype ft)
{
    return (unsigned)ft < STORE_FTYPE_COUNT ? g_ftypes[ft].llama : -1;
}

uint32_t store_ftype_base_type(enum store_ftype ft)
{
    return (unsigned)ft < STORE_FTYPE_COUNT ? g_ftypes[ft].base : OM_TYPE_F32;
}

static int is_quantized(uint32_t t)
{
    return t != OM_TYPE_F32 && t != OM_TYPE_F16 && t != OM_TYPE_BF16 && t != OM_TYPE_F64 &&
           !(t >= OM_TYPE_I8 && t <= OM_TYPE_I64);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !memcmp(s + n - m, suffix, m);
}

int store_tensor_quantizable(const char *name, uint32_t n_dims)
{
    static const char *const never[] = {
        "_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "time_mix_first.weight", "time_mix_w0.weight",
        "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight",
        "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
        "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
        "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight",
        ".position_embd", ".rel_pos", ".patch_embd", ".patch_merger",
    };
    if (n_dims < 2 || !ends_with(name, "weight"))
        return 0;
    for (size_t i = 0; i < OM_ARRAY_LEN(never); i++)
        if (strstr(name, never[i]))
            return 0;
    /* LLM_TENSOR_POS_EMBD and LLM_TENSOR_TOKEN_TYPES keep their type. */
    return strcmp(name, "position_embd.weight") && strcmp(name, "token_types.weight");
}

enum cat { CAT_TOKEN_EMBD, CAT_Q, CAT_V, CAT_K, CAT_QKV, CAT_KV_B, CAT_OUT, CAT_UP, CAT_GATE,
           CAT_DOWN, CAT_OUTPUT, CAT_OTHER };

static enum cat category(const char *name)
{
    if (!strcmp(name, "output.weight"))
        return CAT_OUTPUT;
    if (!strcmp(name, "token_embd.weight") || !strcmp(name, "per_layer_token_embd.weight"))
        return CAT_TOKEN_EMBD;
    if (strstr(name, "attn_qkv.weight"))
        return CAT_QKV;
    if (strstr(name, "attn_kv_b.weight"))
        return CAT_KV_B;
    if (strstr(name, "attn_v.weight"))
        return CAT_V;
    if (strstr(name, "attn_k.weight"))
        return CAT_K;
    if (strstr(name, "attn_q.weight"))
        return CAT_Q;
    if (strstr(name, "attn_output.weight"))
        return CAT_OUT;
    if (strstr(name, "ffn_up"))
        return CAT_UP;
    if (strstr(name, "ffn_gate"))
        return CAT_GATE;
    if (strstr(name, "ffn_down"))
        return CAT_DOWN;
    return CAT_OTHER;
}

static int layer_of(const char *name)
{
    int l = -1;
    if (sscanf(name, "blk.%d.", &l) != 1)
        return -1;
    return l;
}

int store_tensor_name_cmp(const char *a, const char *b)
{
    int la = layer_of(a), lb = layer_of(b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

static int use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

struct qstate {
    const struct store_model_info *mi;
    int n_attn_v, i_attn_v, n_ffn_down, i_ffn_down;
    int tied;
};

/* llama_tensor_get_type_impl restricted to our file types. */
static uint32_t mix_type(struct qstate *qs, const struct store_plan_tensor *t, enum cat c,
                         enum store_ftype ft, uint32_t type)
{
    const char *arch = qs->mi->arch ? qs->mi->arch : "";
    int falcon = !strcmp(arch, "falcon");
    int n_expert = qs->mi->n_expert;
    int is_70b = !strcmp(arch, "llama") && qs->mi->n_layer == 80 &&
                 qs->mi->n_head != qs->mi->n_head_kv;
    if (c == CAT_OUTPUT || (qs->tied && c == CAT_TOKEN_EMBD)) {
        int64_t qk = om_type_get(type)->blck;
        if (falcon || t->ne[0] % qk)
            return OM_TYPE_Q8_0;
        return type != OM_TYPE_Q8_0 ? OM_TYPE_Q6_K : type;
    }
    if (c == CAT_TOKEN_EMBD)
        return type;
    if (c == CAT_V || c == CAT_QKV || c == CAT_KV_B) {
        if ((ft == STORE_FTYPE_Q4_K_M || ft == STORE_FTYPE_Q5_K_M) &&
            use_more_bits(qs->i_attn_v, qs->n_attn_v))
            type = OM_TYPE_Q6_K;
        else if (ft == STORE_FTYPE_Q4_K_S && qs->i_attn_v < 4)
            type = OM_TYPE_Q5_K;
        if (is_70b && (type == OM_TYPE_Q3_K || type == OM_TYPE_Q4_K))
            type = OM_TYPE_Q5_K;
        if (n_expert == 8)
            type = OM_TYPE_Q8_0;
        qs->i_attn_v++;
        return type;
    }
    if (c == CAT_K)
        return n_expert == 8 ? OM_TYPE_Q8_0 : type;
    if (c == CAT_DOWN) {
        int i_layer = qs->i_ffn_down, n_layer = qs->n_ffn_down;
        if (n_expert > 1) {
            i_layer = layer_of(t->name);
            if (i_layer < 0)
                i_layer = 0;
        }
        if (ft == STORE_FTYPE_Q4_K_M) {
            if (falcon)
                type = i_layer < n_layer / 16 ? OM_TYPE_Q6_K
                       : use_more_bits(i_layer, n_layer) ? OM_TYPE_Q5_K
                                                         : OM_TYPE_Q4_K;
            else if (use_more_bits(i_layer, n_layer))
                type = OM_TYPE_Q6_K;
        } else if (ft == STORE_FTYPE_Q5_K_M && use_more_bits(i_layer, n_layer)) {
            type = OM_TYPE_Q6_K;
        } else if (ft == STORE_FTYPE_Q4_K_S && !falcon && i_layer < n_layer / 8) {
            type = OM_TYPE_Q5_K;
        }
        qs->i_ffn_down++;
        return type;
    }
    if (c == CAT_OUT && !falcon && n_expert == 8 &&
        (ft == STORE_FTYPE_Q4_K_S || ft == STORE_FTYPE_Q4_K_M))
        return OM_TYPE_Q5_K;
    return type;
}

/* tensor_type_fallback: the type itself when ncols fits it, else the fallback
 * (F16 when even that does not fit or when llama.cpp defines none). */
static uint32_t fallback(uint32_t type, int64_t ncols, int *fell)
{
    const struct om_type_info *ti = om_type_get(type);
    *fell = 0;
    if (ncols % ti->blck == 0)
        return type;
    *fell = 1;
    uint32_t r;
    switch (type) {
    case OM_TYPE_Q2_K: case OM_TYPE_Q3_K: r = OM_TYPE_Q4_0; break;
    case OM_TYPE_Q4_K: r = OM_TYPE_Q5_0; break;
    case OM_TYPE_Q5_K: r = OM_TYPE_Q5_1; break;
    case OM_TYPE_Q6_K: r = OM_TYPE_Q8_0; break;
    case OM_TYPE_IQ4_XS: r = OM_TYPE_IQ4_NL; break;
    default: return OM_TYPE_F16; /* llama.cpp aborts here; F16 keeps such models usable */
    }
    if (ncols % om_type_get(r)->blck)
        r = OM_TYPE_F16;
    return r;
}

struct order { const char *name; size_t i; };
static int order_cmp(const void *a, const void *b)
{
    return store_tensor_name_cmp(((const struct order *)a)->name, ((const struct order *)b)->name);
}

int store_plan_types(struct store_plan_tensor *t, size_t n, enum store_ftype ftype,
                     const struct store_model_info *mi, char *err, size_t errlen)
{
    if ((unsigned)ftype >= STORE_FTYPE_COUNT)
        return om_err(err, errlen, OM_EINVAL, "invalid file type %d", (int)ftype);
    struct qstate qs = {mi, 0, 0, mi->n_layer, 0, 1};
    struct order *ord = om_xmalloc((n ? n : 1) * sizeof(*ord));
    for (size_t i = 0; i < n; i++) {
        ord[i] = (struct order){t[i].name, i};
        enum cat c = category(t[i].name);
        if (c == CAT_V || c == CAT_QKV || c == CAT_KV_B)
            qs.n_attn_v++;
        if (c == CAT_OUTPUT)
            qs.tied = 0;
    }
    qsort(ord, n, sizeof(*ord), order_cmp);
    uint32_t base = store_ftype_base_type(ftype);
    for (size_t k = 0; k < n; k++) {
        struct store_plan_tensor *pt = &t[ord[k].i];
        pt->fallback = 0;
        pt->dst_type = pt->src_type;
        if (!store_tensor_quantizable(pt->name, pt->n_dims))
            continue;
        uint32_t type = base;
        if (is_quantized(base)) {
            type = mix_type(&qs, pt, category(pt->name), ftype, base);
            type = fallback(type, pt->ne[0], &pt->fallback);
        }
        if (!om_type_row_size(type, pt->ne[0])) {
            free(ord);
            return om_err(err, errlen, OM_EINVAL, "tensor %s: row length %lld fits no type for %s",
                          pt->name, (long long)pt->ne[0], store_ftype_name(ftype));
        }
        pt->dst_type = type;
    }
    free(ord);
    return 0;
}
