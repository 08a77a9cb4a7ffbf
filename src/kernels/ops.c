/* kernels: the generic dispatch table and the convenience entry points over
 * the active table (type support, row quantize/dequantize).
 *
 * A weight type is "supported" when it has a vec_dot; activation-only types
 * (Q8_1, Q8_K) have from_float/to_float but no vec_dot. */
#include <assert.h>

#include "kernels/kern_int.h"

static void set_type(struct kern_ops *ops, uint32_t t, kern_vec_dot_fn dot, uint32_t vdt,
                     kern_from_float_fn from, kern_to_float_fn to)
{
    struct kern_type_ops *o = &ops->type[t];
    o->vec_dot = dot;
    o->vec_dot_nm = NULL;
    o->nm_rows = 1;
    o->nm_cols = 1;
    o->from_float = from;
    o->to_float = to;
    o->vec_dot_type = vdt;
}

void kern_install_generic(struct kern_ops *ops)
{
    memset(ops, 0, sizeof(*ops));
    ops->isa = "generic";
    set_type(ops, OM_TYPE_F32, kern_dot_f32_f32_generic, OM_TYPE_F32, kern_quantize_f32_generic,
             kern_dequant_f32_generic);
    set_type(ops, OM_TYPE_F16, kern_dot_f16_f16_generic, OM_TYPE_F16, kern_quantize_f16_generic,
             kern_dequant_f16_generic);
    set_type(ops, OM_TYPE_BF16, kern_dot_bf16_bf16_generic, OM_TYPE_BF16,
             kern_quantize_bf16_generic, kern_dequant_bf16_generic);
    set_type(ops, OM_TYPE_Q4_0, kern_dot_q4_0_q8_0_generic, OM_TYPE_Q8_0,
             kern_quantize_q4_0_generic, kern_dequant_q4_0_generic);
    set_type(ops, OM_TYPE_Q4_1, kern_dot_q4_1_q8_1_generic, OM_TYPE_Q8_1,
             kern_quantize_q4_1_generic, kern_dequant_q4_1_generic);
    set_type(ops, OM_TYPE_Q5_0, kern_dot_q5_0_q8_0_generic, OM_TYPE_Q8_0,
             kern_quantize_q5_0_generic, kern_dequant_q5_0_generic);
    set_type(ops, OM_TYPE_Q5_1, kern_dot_q5_1_q8_1_generic, OM_TYPE_Q8_1,
             kern_quantize_q5_1_generic, kern_dequant_q5_1_generic);
    set_type(ops, OM_TYPE_Q8_0, kern_dot_q8_0_q8_0_generic, OM_TYPE_Q8_0,
             kern_quantize_q8_0_generic, kern_dequant_q8_0_generic);
    set_type(ops, OM_TYPE_Q8_1, NULL, OM_TYPE_Q8_1, kern_quantize_q8_1_generic,
             kern_dequant_q8_1_generic);
    set_type(ops, OM_TYPE_IQ4_NL, kern_dot_iq4_nl_q8_0_generic, OM_TYPE_Q8_0,
             kern_quantize_iq4_nl_generic, kern_dequant_iq4_nl_generic);
    set_type(ops, OM_TYPE_Q2_K, kern_dot_q2_K_q8_K_generic, OM_TYPE_Q8_K,
             kern_quantize_q2_K_generic, kern_dequant_q2_K_generic);
    set_type(ops, OM_TYPE_Q3_K, kern_dot_q3_K_q8_K_generic, OM_TYPE_Q8_K,
             kern_quantize_q3_K_generic, kern_dequant_q3_K_generic);
    set_type(ops, OM_TYPE_Q4_K, kern_dot_q4_K_q8_K_generic, OM_TYPE_Q8_K,
             kern_quantize_q4_K_generic, kern_dequant_q4_K_generic);
    set_type(ops, OM_TYPE_Q5_K, kern_dot_q5_K_q8_K_generic, OM_TYPE_Q8_K,
             kern_quantize_q5_K_generic, kern_dequant_q5_K_generic);
    set_type(ops, OM_TYPE_Q6_K, kern_dot_q6_K_q8_K_generic, OM_TYPE_Q8_K,
             kern_quantize_q6_K_generic, kern_dequant_q6_K_generic);
    set_type(ops, OM_TYPE_IQ4_XS, kern_dot_iq4_xs_q8_K_generic, OM_TYPE_Q8_K,
             kern_quantize_iq4_xs_generic, kern_dequant_iq4_xs_generic);
    set_type(ops, OM_TYPE_Q8_K, NULL, OM_TYPE_Q8_K, kern_quantize_q8_K_generic,
             kern_dequant_q8_K_generic);
    ops->dot_f32_f16 = kern_dot_f32_f16_generic;
    ops->axpy_f16 = kern_axpy_f16_generic;
    ops->f32_to_f16_row = kern_f32_to_f16_row_generic;
    ops->dot_f32 = kern_dot_f32_generic;
}

int kern_type_supported(uint32_t type)
{
    return type < OM_TYPE_COUNT && kern_ops_active()->type[type].vec_dot != NULL;
}

uint32_t kern_vec_dot_type(uint32_t type)
{
    assert(type < OM_TYPE_COUNT);
    return kern_ops_active()->type[type].vec_dot_type;
}

size_t kern_quantize_row(uint32_t type, const float *x, void *y, int64_t n)
{
    assert(type < OM_TYPE_COUNT);
    const struct kern_type_ops *o = &kern_ops_active()->type[type];
    size_t bytes = om_type_row_size(type, n);
    if (!o->from_float || (bytes == 0 && n > 0))
        return 0;
    o->from_float(x, y, n);
    return bytes;
}

void kern_dequant_row(uint32_t type, const void *x, float *y, int64_t n)
{
    assert(type < OM_TYPE_COUNT);
    const struct kern_type_ops *o = &kern_ops_active()->type[type];
    assert(o->to_float && om_type_row_size(type, n) > 0);
    o->to_float(x, y, n);
}
