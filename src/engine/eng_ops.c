/* engine: element-wise operations on one row (norms, activations).
 *
 * Reductions accumulate in double, as ggml does, so that results on long rows
 * do not drift from the reference implementation. */
#include <math.h>

#include "engine/eng_int.h"

/* y (n) = norm(x) * w + b. RMS: x / sqrt(mean(x^2) + eps); layer norm:
 * (x - mean) / sqrt(var + eps). w and b may be NULL. y may alias x. */
void eng_norm_row(enum eng_norm kind, float *y, const float *x, int n, const float *w,
                  const float *b, float eps)
{
    double mean = 0.0;
    if (kind == ENG_NORM_LAYER) {
        for (int i = 0; i < n; i++)
            mean += x[i];
        mean /= n;
    }
    double ss = 0.0;
    for (int i = 0; i < n; i++) {
        double d = x[i] - mean;
        ss += d * d;
    }
    const float scale = (float)(1.0 / sqrt(ss / n + eps));
    const float fm = (float)mean;
    for (int i = 0; i < n; i++) {
        float v = (x[i] - fm) * scale;
        if (w)
            v *= w[i];
        if (b)
            v += b[i];
        y[i] = v;
    }
}

/* GELU, tanh approximation (what ggml_gelu computes). */
float eng_gelu(float x)
{
    const float k = 0.79788456080286535588f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * x * (1.0f + 0.044715f * x * x)));
}

float eng_silu(float x)
{
    return x / (1.0f + expf(-x));
}
