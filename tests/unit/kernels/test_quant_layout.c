/* Bit-layout tests of every block format: blocks are built by hand, code by
 * code, following GGUF's layout as ggml-common.h / ggml-quants.c define it
 * (restated next to each encoder below), and every dequantized element is
 * checked exactly. Scales are powers of two and codes small integers, so the
 * expected values are exact in float. A few literal bytes per format pin the
 * layout independently of the encoders. No quantizer is involved.
 *
 * Each format's dequantizer is checked in the generic table and in the
 * active one (they share to_float today; the check keeps it that way). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kern_test_util.h"

static struct kt_rng g_rng = {1234};

static int rnd_int(int lo, int hi) /* inclusive */
{
    return lo + (int)(kt_next(&g_rng) % (uint64_t)(hi - lo + 1));
}

/* Dequantizes with the generic and the active table and checks both. */
static void check_dequant(uint32_t type, const void *blk, const float *want, int n)
{
    const struct kern_ops *tabs[2] = {kern_ops_for(KERN_ISA_GENERIC), kern_ops_active()};
    float got[256];
    for (int t = 0; t < 2; t++) {
        tabs[t]->type[type].to_float(blk, got, n);
        for (int e = 0; e < n; e++)
            if (got[e] != want[e])
                fail_msg("%s (%s) element %d: got %g want %g", om_type_name(type), tabs[t]->isa,
                         e, got[e], want[e]);
    }
}

/* ---- 32-element formats ----
 * q4/iq4: element e < 16 is the low nibble of qs[e], e >= 16 the high nibble
 * of qs[e - 16]; Q5: the 5th bit of element e is bit e%8 of qh[e/8]. */
static void put_nibble(uint8_t *qs, int e, int v)
{
    if (e < 16)
        qs[e] = (uint8_t)((qs[e] & 0xf0) | v);
    else
        qs[e - 16] = (uint8_t)((qs[e - 16] & 0x0f) | v << 4);
}

static void test_q4_0(void **state)
{
    (void)state;
    for (int rep = 0; rep < 20; rep++) {
        kern_block_q4_0 b = {0};
        b.d = kern_f32_to_f16(0.5f);
        float want[32];
        for (int e = 0; e < 32; e++) {
            int q = rnd_int(0, 15);
            put_nibble(b.qs, e, q);
            want[e] = 0.5f * (q - 8);
        }
        check_dequant(OM_TYPE_Q4_0, &b, want, 32);
    }
    /* literal: d = 1.0 (0x3c00), qs[0] = 0x1f -> e0 = 15-8, e16 = 1-8 */
    kern_block_q4_0 b;
    memset(&b, 0x88, sizeof(b)); /* every code 8 -> 0 */
    b.d = 0x3c00;
    b.qs[0] = 0x1f;
    float want[32] = {0};
    want[0] = 7;
    want[16] = -7;
    check_dequant(OM_TYPE_Q4_0, &b, want, 32);
}

static void test_q4_1(void **state)
{
    (void)state;
    for (int rep = 0; rep < 20; rep++) {
        kern_block_q4_1 b = {0};
        b.d = kern_f32_to_f16(0.25f);
        b.m = kern_f32_to_f16(-3.0f);
        float want[32];
        for (int e = 0; e < 32; e++) {
            int q = rnd_int(0, 15);
            put_nibble(b.qs, e, q);
            want[e] = 0.25f * q - 3.0f;
        }
        check_dequant(OM_TYPE_Q4_1, &b, want, 32);
    }
}

static void test_q5(void **state)
{
    (void)state;
    for (int rep = 0; rep < 20; rep++) {
        kern_block_q5_0 b0 = {0};
        kern_block_q5_1 b1 = {0};
        b0.d = b1.d = kern_f32_to_f16(0.125f);
        b1.m = kern_f32_to_f16(1.5f);
        float w0[32], w1[32];
        for (int e = 0; e < 32; e++) {
            int q = rnd_int(0, 31);
            put_nibble(b0.qs, e, q & 15);
            put_nibble(b1.qs, e, q & 15);
            if (q & 16) {
                b0.qh[e / 8] |= (uint8_t)(1u << (e % 8));
                b1.qh[e / 8] |= (uint8_t)(1u << (e % 8));
            }
            w0[e] = 0.125f * (q - 16);
            w1[e] = 0.125f * q + 1.5f;
        }
        check_dequant(OM_TYPE_Q5_0, &b0, w0, 32);
        check_dequant(OM_TYPE_Q5_1, &b1, w1, 32);
    }
    /* literal: qh = 00 00 01 80 (LE word 0x80010000): elements 16 and 31 get
     * their 5th bit; all nibbles 0 -> -16 except those two -> 0 */
    kern_block_q5_0 b = {0};
    b.d = 0x3c00;
    b.qh[2] = 0x01;
    b.qh[3] = 0x80;
    float want[32];
    for (int e = 0; e < 32; e++)
        want[e] = (e == 16 || e == 31) ? 0.0f : -16.0f;
    check_dequant(OM_TYPE_Q5_0, &b, want, 32);
}

static void test_q8_0_q8_1(void **state)
{
    (void)state;
    kern_block_q8_0 b = {0};
    kern_block_q8_1 c = {0};
    b.d = c.d = kern_f32_to_f16(0.0625f);
    c.s = kern_f32_to_f16(99.0f); /* not used for dequantization */
    float want[32];
    for (int e = 0; e < 32; e++) {
        int q = rnd_int(-128, 127);
        b.qs[e] = c.qs[e] = (int8_t)q;
        want[e] = 0.0625f * q;
    }
    check_dequant(OM_TYPE_Q8_0, &b, want, 32);
    check_dequant(OM_TYPE_Q8_1, &c, want, 32);
}

static void test_iq4_nl(void **state)
{
    (void)state;
    /* GGUF's kvalues_iq4nl, restated */
    static const int vals[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                 1,    13,   25,  38,  53,  69,  89,  113};
    kern_block_iq4_nl b = {0};
    b.d = kern_f32_to_f16(0.5f);
    float want[32];
    for (int e = 0; e < 32; e++) {
        int q = e < 16 ? e : 31 - e; /* every code on both nibble sides */
        put_nibble(b.qs, e, q);
        want[e] = 0.5f * vals[q];
    }
    check_dequant(OM_TYPE_IQ4_NL, &b, want, 32);
}

/* IQ4_XS: sub-block ib (32 elements, codes as IQ4_NL) has scale ls - 32
 * with ls = nibble (ib % 2) of scales_l[ib / 2] | bits 2ib..2ib+1 of the
 * little-endian scales_h << 4. */
static void test_iq4_xs(void **state)
{
    (void)state;
    static const int vals[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                 1,    13,   25,  38,  53,  69,  89,  113};
    for (int rep = 0; rep < 10; rep++) {
        kern_block_iq4_xs b = {0};
        b.d = kern_f32_to_f16(0.25f);
        int ls[8];
        for (int ib = 0; ib < 8; ib++) {
            ls[ib] = rnd_int(0, 63);
            b.scales_l[ib / 2] |= (uint8_t)((ls[ib] & 15) << (4 * (ib % 2)));
            b.scales_h |= (uint16_t)((ls[ib] >> 4) << (2 * ib));
        }
        float want[256];
        for (int e = 0; e < 256; e++) {
            int q = rnd_int(0, 15);
            put_nibble(b.qs + 16 * (e / 32), e % 32, q);
            want[e] = 0.25f * (ls[e / 32] - 32) * vals[q];
        }
        check_dequant(OM_TYPE_IQ4_XS, &b, want, 256);
    }
    /* literal bytes: d = 1; scales_l all 0x11 -> every low part is 1;
     * scales_h bytes 00 80 -> sub-block 7 has high bits 2, so ls = 33 (scale
     * 1) there and ls = 1 (scale -31) elsewhere; all codes 8 (value 1) */
    uint8_t raw[136] = {0};
    raw[0] = 0x00, raw[1] = 0x3c; /* d = 1.0 */
    raw[2] = 0x00, raw[3] = 0x80; /* scales_h = 0x8000 */
    memset(raw + 4, 0x11, 4);
    memset(raw + 8, 0x88, 128);
    kern_block_iq4_xs b;
    memcpy(&b, raw, sizeof(b));
    float want[256];
    for (int e = 0; e < 256; e++)
        want[e] = e >= 224 ? 1.0f : -31.0f;
    check_dequant(OM_TYPE_IQ4_XS, &b, want, 256);
}

/* ---- K-quants ----
 * Q2_K/Q3_K: element e = 128h + 32j + l keeps bits 2j..2j+1 of qs[32h + l];
 * Q3_K's high bit is bit (e/32) of hmask[e%32], set = keep, clear = -4. */
static void put_2bit(uint8_t *qs, int e, int v)
{
    int h = e / 128, j = (e % 128) / 32, l = e % 32;
    qs[32 * h + l] = (uint8_t)((qs[32 * h + l] & ~(3 << (2 * j))) | v << (2 * j));
}

static void test_q2_K(void **state)
{
    (void)state;
    for (int rep = 0; rep < 10; rep++) {
        kern_block_q2_K b = {0};
        b.d = kern_f32_to_f16(0.5f);
        b.dmin = kern_f32_to_f16(0.25f);
        int sc[16], mn[16];
        for (int g = 0; g < 16; g++) {
            sc[g] = rnd_int(0, 15);
            mn[g] = rnd_int(0, 15);
            b.scales[g] = (uint8_t)(sc[g] | mn[g] << 4); /* low: scale, high: min */
        }
        float want[256];
        for (int e = 0; e < 256; e++) {
            int q = rnd_int(0, 3);
            put_2bit(b.qs, e, q);
            want[e] = 0.5f * sc[e / 16] * q - 0.25f * mn[e / 16];
        }
        check_dequant(OM_TYPE_Q2_K, &b, want, 256);
    }
    /* literal: qs[33] = 0xc0 -> element 128 + 96 + 1 = 225 has code 3 */
    kern_block_q2_K b = {0};
    b.d = 0x3c00;
    memset(b.scales, 0x01, 16); /* scale 1, min 0 */
    b.qs[33] = 0xc0;
    float want[256] = {0};
    want[225] = 3;
    check_dequant(OM_TYPE_Q2_K, &b, want, 256);
}

/* Q3_K scales: 16 6-bit values s (stored s+32): low 4 bits of s_g in the low
 * nibble of scales[g] (g < 8) or the high nibble of scales[g-8] (g >= 8);
 * high 2 bits in bits 2*(g/4) of scales[8 + g%4]. */
static void put_q3_scale(uint8_t *sc, int g, int stored)
{
    if (g < 8)
        sc[g] = (uint8_t)((sc[g] & 0xf0) | (stored & 15));
    else
        sc[g - 8] = (uint8_t)((sc[g - 8] & 0x0f) | (stored & 15) << 4);
    sc[8 + g % 4] |= (uint8_t)((stored >> 4) << (2 * (g / 4)));
}

static void test_q3_K(void **state)
{
    (void)state;
    for (int rep = 0; rep < 10; rep++) {
        kern_block_q3_K b = {0};
        b.d = kern_f32_to_f16(0.25f);
        int sc[16];
        for (int g = 0; g < 16; g++) {
            sc[g] = rnd_int(-32, 31);
            put_q3_scale(b.scales, g, sc[g] + 32);
        }
        float want[256];
        for (int e = 0; e < 256; e++) {
            int q = rnd_int(-4, 3);
            put_2bit(b.qs, e, q & 3);
            if (q >= 0)
                b.hmask[e % 32] |= (uint8_t)(1u << (e / 32));
            want[e] = 0.25f * sc[e / 16] * q;
        }
        check_dequant(OM_TYPE_Q3_K, &b, want, 256);
    }
    /* literal: scales bytes all 0 except scales[11] = 0x80 -> group 15's
     * stored value is 32 (scale 0); others stored 0 (scale -32). hmask all
     * clear and codes 0 -> q = -4: elements of groups 0..14 = d*-32*-4 = 128*d */
    kern_block_q3_K b = {0};
    b.d = 0x3c00;
    b.scales[11] = 0x80;
    b.hmask[7] = 0x20; /* element 5*32 + 7 = 167 (group 10): q = 0 */
    float want[256];
    for (int e = 0; e < 256; e++)
        want[e] = e >= 240 ? 0.0f : 128.0f;
    want[167] = 0;
    check_dequant(OM_TYPE_Q3_K, &b, want, 256);
}

/* Q4_K/Q5_K sub-block scales: 8 (scale, min) pairs of 6 bits in 12 bytes:
 * sb < 4: scale in bits 0..5 of [sb], min in bits 0..5 of [sb+4];
 * sb >= 4: low 4 bits of scale / min in the low / high nibble of [sb+4],
 * high 2 bits of the scale in bits 6..7 of [sb-4], of the min in [sb]. */
static void put_k4_scale(uint8_t *s, int sb, int sc, int m)
{
    if (sb < 4) {
        s[sb] = (uint8_t)((s[sb] & 0xc0) | sc);
        s[sb + 4] = (uint8_t)((s[sb + 4] & 0xc0) | m);
    } else {
        s[sb + 4] = (uint8_t)((sc & 15) | (m & 15) << 4);
        s[sb - 4] = (uint8_t)((s[sb - 4] & 0x3f) | (sc >> 4) << 6);
        s[sb] = (uint8_t)((s[sb] & 0x3f) | (m >> 4) << 6);
    }
}

/* Q4_K/Q5_K element e = 64j + 32u + l: nibble u of qs[32j + l]; Q5_K's 5th
 * bit is bit (2j + u) = e/32 of qh[l]. */
static void put_k4_code(uint8_t *qs, int e, int v)
{
    int j = e / 64, u = (e % 64) / 32, l = e % 32;
    uint8_t *p = &qs[32 * j + l];
    *p = u ? (uint8_t)((*p & 0x0f) | v << 4) : (uint8_t)((*p & 0xf0) | v);
}

static void test_q4_K_q5_K(void **state)
{
    (void)state;
    for (int rep = 0; rep < 10; rep++) {
        kern_block_q4_K b4 = {0};
        kern_block_q5_K b5 = {0};
        b4.d = b5.d = kern_f32_to_f16(0.5f);
        b4.dmin = b5.dmin = kern_f32_to_f16(0.125f);
        int sc[8], mn[8];
        for (int sb = 0; sb < 8; sb++) {
            sc[sb] = rnd_int(0, 63);
            mn[sb] = rnd_int(0, 63);
            put_k4_scale(b4.scales, sb, sc[sb], mn[sb]);
            put_k4_scale(b5.scales, sb, sc[sb], mn[sb]);
        }
        float w4[256], w5[256];
        for (int e = 0; e < 256; e++) {
            int q = rnd_int(0, 31);
            put_k4_code(b4.qs, e, q & 15);
            put_k4_code(b5.qs, e, q & 15);
            if (q & 16)
                b5.qh[e % 32] |= (uint8_t)(1u << (e / 32));
            w4[e] = 0.5f * sc[e / 32] * (q & 15) - 0.125f * mn[e / 32];
            w5[e] = 0.5f * sc[e / 32] * q - 0.125f * mn[e / 32];
        }
        check_dequant(OM_TYPE_Q4_K, &b4, w4, 256);
        check_dequant(OM_TYPE_Q5_K, &b5, w5, 256);
    }
    /* literal: scales bytes 0..11 = 01 02 03 04 05 06 07 08 | c9 da eb fc
     * -> scales 1,2,3,4 mins 5,6,7,8 for sb 0..3; sb 4: scale 9, min 12;
     * sb 5: scale 10 (0xa), min 13; sb 6: 11, 14; sb 7: 12, 15. Add bits 6..7:
     * byte 0 |= 0x40 -> sb 4 scale += 16; byte 4 |= 0x80 -> sb 4 min += 32. */
    kern_block_q4_K b = {0};
    const uint8_t s[12] = {0x41, 2, 3, 4, 0x85, 6, 7, 8, 0xc9, 0xda, 0xeb, 0xfc};
    memcpy(b.scales, s, 12);
    b.d = 0x3c00;    /* 1.0 */
    b.dmin = 0x3c00; /* 1.0 */
    memset(b.qs, 0x21, sizeof(b.qs)); /* low nibble 1, high nibble 2 */
    const int want_sc[8] = {1, 2, 3, 4, 25, 10, 11, 12}, want_mn[8] = {5, 6, 7, 8, 44, 13, 14, 15};
    float want[256];
    for (int e = 0; e < 256; e++) {
        int sb = e / 32, q = (e % 64) < 32 ? 1 : 2;
        want[e] = (float)(want_sc[sb] * q - want_mn[sb]);
    }
    check_dequant(OM_TYPE_Q4_K, &b, want, 256);
}

/* Q6_K element e = 128h + 32j + l: low 4 bits in nibble (j/2) of
 * ql[64h + 32(j%2) + l]; high 2 bits in bits 2j of qh[32h + l]; value
 * d * scales[e/16] * (q - 32). */
static void test_q6_K(void **state)
{
    (void)state;
    for (int rep = 0; rep < 10; rep++) {
        kern_block_q6_K b = {0};
        b.d = kern_f32_to_f16(0.25f);
        for (int g = 0; g < 16; g++)
            b.scales[g] = (int8_t)rnd_int(-128, 127);
        float want[256];
        for (int e = 0; e < 256; e++) {
            int q = rnd_int(0, 63);
            int h = e / 128, j = (e % 128) / 32, l = e % 32;
            uint8_t *pl = &b.ql[64 * h + 32 * (j % 2) + l];
            *pl = j < 2 ? (uint8_t)((*pl & 0xf0) | (q & 15)) : (uint8_t)((*pl & 0x0f) | (q & 15) << 4);
            b.qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * j));
            want[e] = 0.25f * b.scales[e / 16] * (q - 32);
        }
        check_dequant(OM_TYPE_Q6_K, &b, want, 256);
    }
    /* literal: qh[37] = 0xc0 -> element 128 + 96 + 5 = 229 gets high bits 3,
     * ql all zero: q = 48 there, 0 elsewhere; scales 1, d 1 */
    kern_block_q6_K b = {0};
    b.d = 0x3c00;
    memset(b.scales, 1, 16);
    b.qh[37] = 0xc0;
    b.ql[64 + 32 + 5] = 0x50; /* high nibble of ql[101] -> element 229 low bits 5 */
    float want[256];
    for (int e = 0; e < 256; e++)
        want[e] = -32.0f;
    want[229] = 48 + 5 - 32;
    check_dequant(OM_TYPE_Q6_K, &b, want, 256);
}

static void test_q8_K(void **state)
{
    (void)state;
    kern_block_q8_K b = {0};
    b.d = 0.375f;
    float want[256];
    for (int e = 0; e < 256; e++) {
        b.qs[e] = (int8_t)rnd_int(-127, 127);
        want[e] = 0.375f * b.qs[e];
    }
    check_dequant(OM_TYPE_Q8_K, &b, want, 256);
}

/* Block sizes the kern.h structs must have (GGUF's on-disk sizes). */
static void test_block_sizes(void **state)
{
    (void)state;
    assert_int_equal(sizeof(kern_block_q4_0), om_type_get(OM_TYPE_Q4_0)->size);
    assert_int_equal(sizeof(kern_block_q4_1), om_type_get(OM_TYPE_Q4_1)->size);
    assert_int_equal(sizeof(kern_block_q5_0), om_type_get(OM_TYPE_Q5_0)->size);
    assert_int_equal(sizeof(kern_block_q5_1), om_type_get(OM_TYPE_Q5_1)->size);
    assert_int_equal(sizeof(kern_block_q8_0), om_type_get(OM_TYPE_Q8_0)->size);
    assert_int_equal(sizeof(kern_block_q8_1), om_type_get(OM_TYPE_Q8_1)->size);
    assert_int_equal(sizeof(kern_block_q2_K), om_type_get(OM_TYPE_Q2_K)->size);
    assert_int_equal(sizeof(kern_block_q3_K), om_type_get(OM_TYPE_Q3_K)->size);
    assert_int_equal(sizeof(kern_block_q4_K), om_type_get(OM_TYPE_Q4_K)->size);
    assert_int_equal(sizeof(kern_block_q5_K), om_type_get(OM_TYPE_Q5_K)->size);
    assert_int_equal(sizeof(kern_block_q6_K), om_type_get(OM_TYPE_Q6_K)->size);
    assert_int_equal(sizeof(kern_block_q8_K), om_type_get(OM_TYPE_Q8_K)->size);
    assert_int_equal(sizeof(kern_block_iq4_nl), om_type_get(OM_TYPE_IQ4_NL)->size);
    assert_int_equal(sizeof(kern_block_iq4_xs), om_type_get(OM_TYPE_IQ4_XS)->size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_sizes), cmocka_unit_test(test_q4_0),
        cmocka_unit_test(test_q4_1),        cmocka_unit_test(test_q5),
        cmocka_unit_test(test_q8_0_q8_1),   cmocka_unit_test(test_iq4_nl),
        cmocka_unit_test(test_q2_K),        cmocka_unit_test(test_q3_K),
        cmocka_unit_test(test_q4_K_q5_K),   cmocka_unit_test(test_q6_K),
        cmocka_unit_test(test_q8_K),        cmocka_unit_test(test_iq4_xs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
