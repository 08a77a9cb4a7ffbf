/* Half (IEEE binary16) and bfloat16 conversions: exact values, every half
 * round-tripped, round-to-nearest-even at every midpoint between adjacent
 * halves (subnormals and the overflow edge included), inf/nan/signed zero;
 * agreement with the CPU's F16C conversion when it has one; and the float
 * helpers of the kern_ops table (dot_f32_f16, axpy_f16, f32_to_f16_row,
 * dot_f32) in the generic and the active table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <float.h>

#include "base/om.h"
#include "kern_test_util.h"

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f)
{
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
__attribute__((target("f16c"))) static float hw_f16_to_f32(uint16_t h)
{
    return _cvtsh_ss(h);
}
#endif

static float bits_f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static int h_is_nan(om_f16 h)
{
    return (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
}

static void test_f16_values(void **state)
{
    (void)state;
    assert_true(kern_f16_to_f32(0x0000) == 0.0f && !signbit(kern_f16_to_f32(0x0000)));
    assert_true(kern_f16_to_f32(0x8000) == 0.0f && signbit(kern_f16_to_f32(0x8000)));
    assert_true(kern_f16_to_f32(0x3c00) == 1.0f);
    assert_true(kern_f16_to_f32(0xc000) == -2.0f);
    assert_true(kern_f16_to_f32(0x3555) == 0x1.554p-2f);
    assert_true(kern_f16_to_f32(0x7bff) == 65504.0f);
    assert_true(kern_f16_to_f32(0x0400) == 0x1p-14f);
    assert_true(kern_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(kern_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);
    assert_true(kern_f16_to_f32(0x8001) == -0x1p-24f);
    assert_true(isinf(kern_f16_to_f32(0x7c00)) && kern_f16_to_f32(0x7c00) > 0);
    assert_true(isinf(kern_f16_to_f32(0xfc00)) && kern_f16_to_f32(0xfc00) < 0);
    assert_true(isnan(kern_f16_to_f32(0x7e00)) && isnan(kern_f16_to_f32(0x7c01)) &&
                isnan(kern_f16_to_f32(0xfe00)));

    assert_int_equal(kern_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(kern_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(kern_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(kern_f32_to_f16(65519.99f), 0x7bff);
    assert_int_equal(kern_f32_to_f16(65520.0f), 0x7c00); /* tie to even -> inf */
    assert_int_equal(kern_f32_to_f16(1e6f), 0x7c00);
    assert_int_equal(kern_f32_to_f16(-FLT_MAX), 0xfc00);
    assert_int_equal(kern_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(kern_f32_to_f16(-INFINITY), 0xfc00);
    assert_true(h_is_nan(kern_f32_to_f16(NAN)));
    assert_true(h_is_nan(kern_f32_to_f16(bits_f(0x7f800001)))); /* signalling, low payload */
    assert_int_equal(kern_f32_to_f16(0x1p-25f), 0x0000);  /* tie to even -> 0 */
    assert_int_equal(kern_f32_to_f16(nextafterf(0x1p-25f, 1)), 0x0001);
    assert_int_equal(kern_f32_to_f16(0x1.8p-24f), 0x0002); /* 1.5 ulp -> 2 */
    assert_int_equal(kern_f32_to_f16(0x1p-26f), 0x0000);
    assert_int_equal(kern_f32_to_f16(-1e-10f), 0x8000);
    assert_int_equal(kern_f32_to_f16(FLT_MIN), 0x0000);
    assert_int_equal(kern_f32_to_f16(0x1.ffcp-15f), 0x0400); /* tie above 0x3ff (odd): into the normals */
}

static void test_f16_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = kern_f16_to_f32((om_f16)h);
        if (h_is_nan((om_f16)h)) {
            assert_true(isnan(f) && h_is_nan(kern_f32_to_f16(f)));
            continue;
        }
        if (kern_f32_to_f16(f) != h)
            fail_msg("half 0x%04x -> %g -> 0x%04x", h, f, kern_f32_to_f16(f));
        /* midpoint to the next half of larger magnitude: ties go to even */
        uint32_t mag = h & 0x7fff;
        if (mag >= 0x7c00)
            continue;
        double a = fabs((double)f);
        double b = mag == 0x7bff ? 65536.0 : fabs((double)kern_f16_to_f32((om_f16)(h + 1)));
        float mid = (float)((a + b) / 2); /* exact in float */
        float sgn = (h & 0x8000) ? -1.0f : 1.0f;
        uint32_t up = (h & 0x8000) | (mag + 1);
        uint32_t want = (mag & 1) ? up : h;
        if (kern_f32_to_f16(sgn * mid) != want)
            fail_msg("midpoint after 0x%04x (%a): got 0x%04x want 0x%04x", h, (double)(sgn * mid),
                     kern_f32_to_f16(sgn * mid), want);
        assert_int_equal(kern_f32_to_f16(sgn * nextafterf(mid, 0)), h);
        assert_int_equal(kern_f32_to_f16(sgn * nextafterf(mid, INFINITY)), up);
    }
}

static void test_f16_vs_hardware(void **state)
{
    (void)state;
#if defined(__x86_64__)
    unsigned a, b, c, d; /* cpuid: clang 14's __builtin_cpu_supports lacks "f16c" */
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_F16C)) {
        fprintf(stderr, "SKIP: CPU has no F16C, hardware comparison not run\n");
        skip();
    }
    struct kt_rng rng = {77};
    int64_t n = kt_quick() ? 200000 : 4000000;
    for (int64_t i = 0; i < n; i++) {
        /* random bit patterns, biased to the half range */
        uint32_t u = (uint32_t)kt_next(&rng);
        if (i & 1)
            u = (u & 0x807fffffu) | ((uint32_t)(96 + (u >> 23) % 48) << 23);
        float f = bits_f(u);
        uint16_t hw = hw_f32_to_f16(f), sw = kern_f32_to_f16(f);
        if (isnan(f))
            assert_true(h_is_nan(sw));
        else if (hw != sw)
            fail_msg("f32 %a (0x%08x): hw 0x%04x ours 0x%04x", (double)f, u, hw, sw);
    }
    for (uint32_t h = 0; h < 0x10000; h++)
        if (!h_is_nan((om_f16)h))
            assert_true(f_bits(hw_f16_to_f32((uint16_t)h)) == f_bits(kern_f16_to_f32((om_f16)h)));
#else
    fprintf(stderr, "SKIP: not x86-64, hardware comparison not run\n");
    skip();
#endif
}

static void test_bf16(void **state)
{
    (void)state;
    assert_int_equal(kern_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(kern_f32_to_bf16(bits_f(0x3f808000)), 0x3f80); /* tie, even stays */
    assert_int_equal(kern_f32_to_bf16(bits_f(0x3f818000)), 0x3f82); /* tie, odd rounds up */
    assert_int_equal(kern_f32_to_bf16(bits_f(0x3f808001)), 0x3f81);
    assert_int_equal(kern_f32_to_bf16(bits_f(0x3f807fff)), 0x3f80);
    assert_int_equal(kern_f32_to_bf16(-0.0f), 0x8000);
    assert_int_equal(kern_f32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(kern_f32_to_bf16(FLT_MAX), 0x7f80); /* rounds to inf */
    assert_int_equal(kern_f32_to_bf16(bits_f(0x00000001)), 0x0000);
    assert_int_equal(kern_f32_to_bf16(bits_f(0x00018000)), 0x0002); /* subnormal tie -> even */
    om_bf16 nb = kern_f32_to_bf16(bits_f(0x7f800001)); /* nan whose payload is all low bits */
    assert_true((nb & 0x7f80) == 0x7f80 && (nb & 0x7f));
    assert_true(kern_bf16_to_f32(0xc040) == -3.0f);
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = kern_bf16_to_f32((om_bf16)h);
        if (isnan(f))
            continue;
        assert_int_equal(kern_f32_to_bf16(f), h);
    }
}

/* The attention-path helpers against double references. */
static void test_float_helpers(void **state)
{
    (void)state;
    const struct kern_ops *tabs[2] = {kern_ops_for(KERN_ISA_GENERIC), kern_ops_active()};
    struct kt_rng rng = {8};
    const int64_t sizes[] = {1, 7, 8, 33, 128, 1000};
    for (int ti = 0; ti < 2; ti++) {
        const struct kern_ops *o = tabs[ti];
        for (size_t si = 0; si < OM_ARRAY_LEN(sizes); si++) {
            int64_t n = sizes[si];
            float *x = om_xmalloc((size_t)n * sizeof(float));
            float *y = om_xmalloc((size_t)n * sizeof(float));
            float *z = om_xmalloc((size_t)n * sizeof(float));
            om_f16 *h = om_xmalloc((size_t)n * sizeof(om_f16));
            kt_gauss(&rng, x, n, 1.0f);
            kt_gauss(&rng, y, n, 1.0f);
            o->f32_to_f16_row(y, h, n);
            double ref = 0, ref16 = 0, mag = 0;
            for (int64_t i = 0; i < n; i++) {
                assert_int_equal(h[i], kern_f32_to_f16(y[i]));
                ref += (double)x[i] * y[i];
                ref16 += (double)x[i] * kern_f16_to_f32(h[i]);
                mag += fabs((double)x[i] * y[i]);
            }
            assert_true(fabs(o->dot_f32(n, x, y) - ref) <= 1e-5 * mag + 1e-7);
            assert_true(fabs(o->dot_f32_f16(n, x, h) - ref16) <= 1e-5 * mag + 1e-7);
            memcpy(z, x, (size_t)n * sizeof(float));
            o->axpy_f16(n, -0.75f, h, z);
            for (int64_t i = 0; i < n; i++) {
                float want = x[i] + -0.75f * kern_f16_to_f32(h[i]);
                assert_true(fabsf(z[i] - want) <= 1e-6f * (fabsf(x[i]) + fabsf(y[i])) + 1e-7f);
            }
            free(x);
            free(y);
            free(z);
            free(h);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_values),    cmocka_unit_test(test_f16_exhaustive),
        cmocka_unit_test(test_f16_vs_hardware), cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_float_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
