/* engine: rotary position embeddings.
 *
 * theta_i(pos) = pos * scale * base^(-2i/n_rot) / freq_factor_i for the
 * i-th pair, i < n_rot/2. NORM rotates adjacent pairs (x[2i], x[2i+1]) (the
 * llama GGUF layout, whose Q/K rows the converter permuted); NEOX rotates
 * (x[i], x[i + n_rot/2]). Dims past n_rot are left as they are (partial
 * rotary). Rotations compose: rotating by theta(p) then theta(d) equals
 * theta(p + d), which is how eng_kv_seq_add moves cached keys. */
#include <math.h>
#include <string.h>

#include "engine/eng_int.h"

static void fill_inv_freq(float *out, int n_rot, float base, const float *ff)
{
    for (int i = 0; i < n_rot / 2; i++) {
        float f = powf(base, -2.0f * (float)i / (float)n_rot);
        if (ff)
            f /= ff[i];
        out[i] = f;
    }
}

/* YaRN (ggml's rope_yarn with ext_factor 1): pair i rotates by
 * theta * (s * (1 - r_i) + r_i) instead of theta * s, where r_i ramps from 1
 * (fast pairs, extrapolated) to 0 (slow pairs, interpolated) between the
 * correction dims. Since that is still linear in pos, fold it into the
 * frequencies (the core multiplies by s afterwards); the magnitude part is
 * in hp->rope_mscale. */
static float yarn_corr_dim(int n_rot, int n_ctx_orig, float beta, float base)
{
    return (float)n_rot * logf((float)n_ctx_orig / (beta * 2.0f * (float)M_PI)) /
           (2.0f * logf(base));
}

static void yarn_fold(float *inv_freq, const struct eng_hparams *hp, float base, float s)
{
    float lo = floorf(yarn_corr_dim(hp->n_rot, hp->n_ctx_orig, hp->yarn_beta_fast, base));
    float hi = ceilf(yarn_corr_dim(hp->n_rot, hp->n_ctx_orig, hp->yarn_beta_slow, base));
    lo = OM_MAX(0.0f, lo);
    hi = OM_MIN((float)(hp->n_rot - 1), hi);
    for (int i = 0; i < hp->n_rot / 2; i++) {
        float y = ((float)i - lo) / OM_MAX(0.001f, hi - lo);
        float r = 1.0f - OM_MIN(1.0f, OM_MAX(0.0f, y));
        inv_freq[i] *= (s * (1.0f - r) + r) / s;
    }
}

void eng_rope_init(struct eng_model *m)
{
    const struct eng_hparams *hp = &m->hp;
    int half = hp->n_rot / 2;
    m->inv_freq = om_xcalloc((size_t)OM_MAX(half, 1), sizeof(float));
    m->inv_freq_swa = om_xcalloc((size_t)OM_MAX(half, 1), sizeof(float));
    /* F32, n_rot/2 (checked at bind) */
    const float *ff = m->rope_freqs.data ? m->rope_freqs.data : m->rope_short.data;
    fill_inv_freq(m->inv_freq, hp->n_rot, hp->rope_base, ff);
    if (m->rope_long.data) {
        m->inv_freq_long = om_xcalloc((size_t)OM_MAX(half, 1), sizeof(float));
        fill_inv_freq(m->inv_freq_long, hp->n_rot, hp->rope_base, m->rope_long.data);
    }
    /* llama.cpp applies rope_freqs to every layer that has them; the
     * sliding-window base only differs for gemma3, which has none. */
    fill_inv_freq(m->inv_freq_swa, hp->n_rot, hp->rope_base_swa, ff);
    if (hp->yarn) {
        yarn_fold(m->inv_freq, hp, hp->rope_base, hp->rope_scale);
        yarn_fold(m->inv_freq_swa, hp, hp->rope_base_swa, hp->rope_scale_swa);
    }
}

void eng_rope_cs(float *cs, int n_rot, const float *inv_freq, float scale, float pos,
                 float mscale)
{
    for (int i = 0; i < n_rot / 2; i++) {
        float th = pos * scale * inv_freq[i];
        cs[2 * i] = cosf(th) * mscale;
        cs[2 * i + 1] = sinf(th) * mscale;
    }
}

/* x: (n_head, head_dim) */
void eng_rope_apply(enum eng_rope type, float *x, int n_head, int head_dim, int n_rot,
                    const float *cs)
{
    if (type == ENG_ROPE_NONE)
        return;
    const int half = n_rot / 2;
    for (int h = 0; h < n_head; h++) {
        float *r = x + (size_t)h * head_dim;
        if (type == ENG_ROPE_NORM) {
            for (int i = 0; i < half; i++) {
                float c = cs[2 * i], s = cs[2 * i + 1];
                float x0 = r[2 * i], x1 = r[2 * i + 1];
                r[2 * i] = x0 * c - x1 * s;
                r[2 * i + 1] = x0 * s + x1 * c;
            }
        } else {
            for (int i = 0; i < half; i++) {
                float c = cs[2 * i], s = cs[2 * i + 1];
                float x0 = r[i], x1 = r[i + half];
                r[i] = x0 * c - x1 * s;
                r[i + half] = x0 * s + x1 * c;
            }
        }
    }
}
