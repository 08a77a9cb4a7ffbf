/* Unit tests for kernels/arch/x86: every entry of the AVX2 and AVX-512
 * tables against its generic twin (kern_ops_for(KERN_ISA_GENERIC)).
 *
 * - vec_dot of every weight type on random rows (random quant bytes with sane
 *   scales, and rows made by the generic quantizer), several lengths with odd
 *   block counts; tolerance 1e-5 * Σ|x_j*y_j| (integer parts are exact, only
 *   the float summation order may differ).
 * - activation quantizers (Q8_0, Q8_1, Q8_K): bytes identical to generic.
 * - float helpers: any n (tails), tolerance as above; f32_to_f16_row exact.
 * A table this CPU cannot run is skipped with a loud message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_simd_util.h"

static const uint32_t k_weight_types[] = {
    OM_TYPE_Q4_0, OM_TYPE_Q4_1, OM_TYPE_Q5_0, OM_TYPE_Q5_1, OM_TYPE_Q8_0, OM_TYPE_IQ4_NL,
    OM_TYPE_Q2_K, OM_TYPE_Q3_K, OM_TYPE_Q4_K, OM_TYPE_Q5_K, OM_TYPE_Q6_K, OM_TYPE_F16,
    OM_TYPE_BF16, OM_TYPE_F32,
};

/* Block counts: 1, small odd ones, and a long row. */
static const int k_nblocks[] = {1, 2, 3, 5, 7, 11, 16, 33, 71};
static const int k_nblocks_f[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000, 4099};

static int check_dot(const struct kern_ops *gen, const struct kern_ops *ops, uint32_t t,
                     int64_t n, int from_quantizer)
{
    const struct kern_type_ops *g = &gen->type[t], *o = &ops->type[t];
    uint32_t at = g->vec_dot_type;
    assert_int_equal(o->vec_dot_type, at);
    float *xf = malloc((size_t)n * sizeof(float)), *yf = malloc((size_t)n * sizeof(float));
    /* exact sizes, so that the sanitizer build catches any read past a row */
    void *xq = malloc(om_type_row_size(t, n)), *yq = malloc(om_type_row_size(at, n));
    assert_non_null(xq);
    rnd_floats(yf, n);
    gen->type[at].from_float(yf, yq, n);
    if (from_quantizer) {
        rnd_floats(xf, n);
        g->from_float(xf, xq, n);
    } else {
        rnd_weight_blocks(t, xq, n);
    }
    float ref = NAN, got = NAN;
    g->vec_dot(n, &ref, xq, yq);
    o->vec_dot(n, &got, xq, yq);
    g->to_float(xq, xf, n);
    act_to_float(at, yq, yf, n);
    double tol = 1e-5 * abs_dot(xf, yf, n) + 1e-30;
    int ok = isfinite(got) && fabs((double)got - (double)ref) <= tol;
    if (!ok)
        fprintf(stderr, "%s vec_dot %s n=%lld %s: got %.9g want %.9g (tol %.3g)\n", ops->isa,
                om_type_name(t), (long long)n, from_quantizer ? "quantized" : "random-bytes",
                got, ref, tol);
    free(xf);
    free(yf);
    free(xq);
    free(yq);
    return ok;
}

static void run_vec_dot(enum kern_isa isa)
{
    const struct kern_ops *ops = isa_table(isa);
    if (!ops)
        skip();
    const struct kern_ops *gen = kern_ops_for(KERN_ISA_GENERIC);
    int bad = 0, checked = 0;
    int reps = quick_mode() ? 1 : 4;
    for (size_t k = 0; k < sizeof k_weight_types / sizeof *k_weight_types; k++) {
        uint32_t t = k_weight_types[k];
        if (!gen->type[t].vec_dot || !gen->type[t].from_float || !gen->type[t].to_float) {
            fprintf(stderr, "note: generic table lacks %s; not compared\n", om_type_name(t));
            continue;
        }
        int fl = blck_of(t) == 1;
        const int *nbs = fl ? k_nblocks_f : k_nblocks;
        size_t cnt = fl ? sizeof k_nblocks_f / sizeof *k_nblocks_f : sizeof k_nblocks / sizeof *k_nblocks;
        for (size_t s = 0; s < cnt; s++)
            for (int r = 0; r < reps; r++)
                for (int q = 0; q < 2; q++) {
                    bad += !check_dot(gen, ops, t, (int64_t)nbs[s] * blck_of(t), q);
                    checked++;
                }
    }
    fprintf(stderr, "%s: %d vec_dot comparisons, %d failed\n", ops->isa, checked, bad);
    assert_int_equal(bad, 0);
}

/* Inputs that stress the quantizers: ties after scaling, zero blocks, equal
 * positive and negative extremes, tiny and huge magnitudes. */
static void stress_floats(float *x, int64_t n, int variant)
{
    rnd_floats(x, n);
    for (int64_t i = 0; i < n; i++) {
        switch (variant) {
        case 1: x[i] = (float)((int)(rnd_u32() % 255) - 127) * 0.5f; break; /* halves: ties */
        case 2: x[i] = (i / 32) % 3 == 0 ? 0.0f : x[i]; break;             /* zero blocks */
        case 3: x[i] = (i % 7 == 3) ? ((i & 8) ? 5.0f : -5.0f) : x[i] * 0.1f; break;
        case 4: x[i] *= (i % 64 < 32) ? 1e-30f : 1e20f; break;
        default: break;
        }
    }
}

static void run_from_float(enum kern_isa isa)
{
    const struct kern_ops *ops = isa_table(isa);
    if (!ops)
        skip();
    const struct kern_ops *gen = kern_ops_for(KERN_ISA_GENERIC);
    const uint32_t types[] = {OM_TYPE_Q8_0, OM_TYPE_Q8_1, OM_TYPE_Q8_K};
    int bad = 0;
    for (size_t k = 0; k < 3; k++) {
        uint32_t t = types[k];
        if (!gen->type[t].from_float) {
            fprintf(stderr, "note: generic table lacks %s from_float\n", om_type_name(t));
            continue;
        }
        for (int nb = 1; nb <= 9; nb += 4)
            for (int v = 0; v < 5; v++) {
                int64_t n = nb * blck_of(t);
                float *x = malloc((size_t)n * sizeof(float));
                size_t bytes = om_type_row_size(t, n);
                uint8_t *a = malloc(bytes), *b = malloc(bytes);
                memset(a, 0x5a, bytes);
                memset(b, 0xa5, bytes);
                stress_floats(x, n, v);
                gen->type[t].from_float(x, a, n);
                ops->type[t].from_float(x, b, n);
                if (memcmp(a, b, bytes)) {
                    size_t o = 0;
                    while (a[o] == b[o])
                        o++;
                    fprintf(stderr, "%s from_float %s n=%lld variant %d: byte %zu differs\n",
                            ops->isa, om_type_name(t), (long long)n, v, o);
                    bad++;
                }
                free(x);
                free(a);
                free(b);
            }
    }
    assert_int_equal(bad, 0);
}

static void run_float_helpers(enum kern_isa isa)
{
    const struct kern_ops *ops = isa_table(isa);
    if (!ops)
        skip();
    const struct kern_ops *gen = kern_ops_for(KERN_ISA_GENERIC);
    int bad = 0;
    for (size_t s = 0; s < sizeof k_nblocks_f / sizeof *k_nblocks_f; s++) {
        int64_t n = k_nblocks_f[s];
        float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
        float *y1 = malloc((size_t)n * sizeof(float)), *y2 = malloc((size_t)n * sizeof(float));
        om_f16 *h = malloc((size_t)n * sizeof(om_f16)), *h2 = malloc((size_t)n * sizeof(om_f16));
        rnd_floats(x, n);
        rnd_floats(y, n);
        for (int64_t i = 0; i < n; i++)
            h[i] = kern_f32_to_f16(y[i]);
        for (int64_t i = 0; i < n; i++)
            y1[i] = kern_f16_to_f32(h[i]);

        double tol = 1e-5 * abs_dot(x, y1, n) + 1e-30;
        float r = gen->dot_f32_f16(n, x, h), g = ops->dot_f32_f16(n, x, h);
        if (!(fabs((double)r - g) <= tol)) {
            fprintf(stderr, "%s dot_f32_f16 n=%lld: %.9g vs %.9g\n", ops->isa, (long long)n, g, r);
            bad++;
        }
        tol = 1e-5 * abs_dot(x, y, n) + 1e-30;
        r = gen->dot_f32(n, x, y);
        g = ops->dot_f32(n, x, y);
        if (!(fabs((double)r - g) <= tol)) {
            fprintf(stderr, "%s dot_f32 n=%lld: %.9g vs %.9g\n", ops->isa, (long long)n, g, r);
            bad++;
        }
        /* axpy: one fused or two rounded operations per element */
        float a = rnd_f() * 3.0f;
        memcpy(y1, x, (size_t)n * sizeof(float));
        memcpy(y2, x, (size_t)n * sizeof(float));
        gen->axpy_f16(n, a, h, y1);
        ops->axpy_f16(n, a, h, y2);
        for (int64_t i = 0; i < n; i++) {
            double e = 4e-7 * (fabs((double)a * kern_f16_to_f32(h[i])) + fabs((double)x[i]));
            if (!(fabs((double)y1[i] - y2[i]) <= e)) {
                fprintf(stderr, "%s axpy_f16 n=%lld i=%lld: %.9g vs %.9g\n", ops->isa,
                        (long long)n, (long long)i, y2[i], y1[i]);
                bad++;
                break;
            }
        }
        /* f32 -> f16: exact, including subnormals, overflow, infinities */
        for (int64_t i = 0; i < n; i++) {
            switch (i % 5) {
            case 1: x[i] *= 1e-6f; break;
            case 2: x[i] *= 7e4f; break;
            case 3: x[i] = (i & 8) ? INFINITY : 65519.99f; break;
            default: break;
            }
        }
        gen->f32_to_f16_row(x, h, n);
        ops->f32_to_f16_row(x, h2, n);
        if (memcmp(h, h2, (size_t)n * sizeof(om_f16))) {
            fprintf(stderr, "%s f32_to_f16_row n=%lld differs\n", ops->isa, (long long)n);
            bad++;
        }
        free(x);
        free(y);
        free(y1);
        free(y2);
        free(h);
        free(h2);
    }
    assert_int_equal(bad, 0);
}

static void test_avx2_vec_dot(void **s) { (void)s; run_vec_dot(KERN_ISA_AVX2); }
static void test_avx512_vec_dot(void **s) { (void)s; run_vec_dot(KERN_ISA_AVX512); }
static void test_avx2_from_float(void **s) { (void)s; run_from_float(KERN_ISA_AVX2); }
static void test_avx512_from_float(void **s) { (void)s; run_from_float(KERN_ISA_AVX512); }
static void test_avx2_float_helpers(void **s) { (void)s; run_float_helpers(KERN_ISA_AVX2); }
static void test_avx512_float_helpers(void **s) { (void)s; run_float_helpers(KERN_ISA_AVX512); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avx2_vec_dot),       cmocka_unit_test(test_avx512_vec_dot),
        cmocka_unit_test(test_avx2_from_float),    cmocka_unit_test(test_avx512_from_float),
        cmocka_unit_test(test_avx2_float_helpers), cmocka_unit_test(test_avx512_float_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
