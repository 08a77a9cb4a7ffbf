/* base: block geometry of GGUF tensor types (values from the GGUF spec). */
#include "base/om_types.h"

static const struct om_type_info g_types[OM_TYPE_COUNT] = {
    [OM_TYPE_F32] = {"f32", 1, 4, 1},
    [OM_TYPE_F16] = {"f16", 1, 2, 1},
    [OM_TYPE_Q4_0] = {"q4_0", 32, 18, 1},
    [OM_TYPE_Q4_1] = {"q4_1", 32, 20, 1},
    [OM_TYPE_Q5_0] = {"q5_0", 32, 22, 1},
    [OM_TYPE_Q5_1] = {"q5_1", 32, 24, 1},
    [OM_TYPE_Q8_0] = {"q8_0", 32, 34, 1},
    [OM_TYPE_Q8_1] = {"q8_1", 32, 36, 0},
    [OM_TYPE_Q2_K] = {"q2_K", 256, 84, 1},
    [OM_TYPE_Q3_K] = {"q3_K", 256, 110, 1},
    [OM_TYPE_Q4_K] = {"q4_K", 256, 144, 1},
    [OM_TYPE_Q5_K] = {"q5_K", 256, 176, 1},
    [OM_TYPE_Q6_K] = {"q6_K", 256, 210, 1},
    [OM_TYPE_Q8_K] = {"q8_K", 256, 292, 0},
    [OM_TYPE_IQ2_XXS] = {"iq2_xxs", 256, 66, 0},
    [OM_TYPE_IQ2_XS] = {"iq2_xs", 256, 74, 0},
    [OM_TYPE_IQ3_XXS] = {"iq3_xxs", 256, 98, 0},
    [OM_TYPE_IQ1_S] = {"iq1_s", 256, 50, 0},
    [OM_TYPE_IQ4_NL] = {"iq4_nl", 32, 18, 1},
    [OM_TYPE_IQ3_S] = {"iq3_s", 256, 110, 0},
    [OM_TYPE_IQ2_S] = {"iq2_s", 256, 82, 0},
    [OM_TYPE_IQ4_XS] = {"iq4_xs", 256, 136, 1},
    [OM_TYPE_I8] = {"i8", 1, 1, 0},
    [OM_TYPE_I16] = {"i16", 1, 2, 0},
    [OM_TYPE_I32] = {"i32", 1, 4, 0},
    [OM_TYPE_I64] = {"i64", 1, 8, 0},
    [OM_TYPE_F64] = {"f64", 1, 8, 0},
    [OM_TYPE_IQ1_M] = {"iq1_m", 256, 56, 0},
    [OM_TYPE_BF16] = {"bf16", 1, 2, 1},
};

const struct om_type_info *om_type_get(uint32_t t)
{
    if (t >= OM_TYPE_COUNT || !g_types[t].name)
        return 0;
    return &g_types[t];
}

size_t om_type_row_size(uint32_t t, int64_t n)
{
    const struct om_type_info *ti = om_type_get(t);
    if (!ti || n < 0 || n % ti->blck)
        return 0;
    return (size_t)(n / ti->blck) * ti->size;
}

const char *om_type_name(uint32_t t)
{
    const struct om_type_info *ti = om_type_get(t);
    return ti ? ti->name : "unknown";
}
