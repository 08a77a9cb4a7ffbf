/* kernels/arch/x86: installs the AVX2 + FMA + F16C kernels (avx2_*.c) over
 * the generic table. Each entry installed here has a `_generic` twin and a
 * test against it (tests/unit/kernels/test_simd*.c). */
#include "kernels/arch/x86/avx2_int.h"

float kern_x86_f16_table[1 << 16];
static int g_f16_table_ready; /* dispatch installs up to two tables, in sequence */

void kern_install_avx2(struct kern_ops *ops)
{
    if (!g_f16_table_ready) {
        for (uint32_t h = 0; h < (1u << 16); h++)
            kern_x86_f16_table[h] = _cvtsh_ss((unsigned short)h);
        g_f16_table_ready = 1;
    }

    struct kern_type_ops *t = ops->type;
    t[OM_TYPE_Q4_0].vec_dot = kern_dot_q4_0_q8_0_avx2;
    t[OM_TYPE_Q4_1].vec_dot = kern_dot_q4_1_q8_1_avx2;
    t[OM_TYPE_Q5_0].vec_dot = kern_dot_q5_0_q8_0_avx2;
    t[OM_TYPE_Q5_1].vec_dot = kern_dot_q5_1_q8_1_avx2;
    t[OM_TYPE_Q8_0].vec_dot = kern_dot_q8_0_q8_0_avx2;
    t[OM_TYPE_IQ4_NL].vec_dot = kern_dot_iq4_nl_q8_0_avx2;
    t[OM_TYPE_Q2_K].vec_dot = kern_dot_q2_K_q8_K_avx2;
    t[OM_TYPE_Q3_K].vec_dot = kern_dot_q3_K_q8_K_avx2;
    t[OM_TYPE_Q4_K].vec_dot = kern_dot_q4_K_q8_K_avx2;
    t[OM_TYPE_Q5_K].vec_dot = kern_dot_q5_K_q8_K_avx2;
    t[OM_TYPE_Q6_K].vec_dot = kern_dot_q6_K_q8_K_avx2;
    t[OM_TYPE_F16].vec_dot = kern_dot_f16_f16_avx2;
    t[OM_TYPE_BF16].vec_dot = kern_dot_bf16_bf16_avx2;
    t[OM_TYPE_F32].vec_dot = kern_dot_f32_f32_avx2;

    /* tiles for prompt processing: 4 weight rows x 2 tokens */
    t[OM_TYPE_Q4_0].vec_dot_nm = kern_dot_nm_q4_0_q8_0_avx2;
    t[OM_TYPE_Q8_0].vec_dot_nm = kern_dot_nm_q8_0_q8_0_avx2;
    t[OM_TYPE_Q5_0].vec_dot_nm = kern_dot_nm_q5_0_q8_0_avx2;
    t[OM_TYPE_Q4_0].nm_rows = t[OM_TYPE_Q5_0].nm_rows = t[OM_TYPE_Q8_0].nm_rows = 4;
    t[OM_TYPE_Q4_0].nm_cols = t[OM_TYPE_Q5_0].nm_cols = t[OM_TYPE_Q8_0].nm_cols = 2;
    /* K-quant tiles: 2 weight rows x 4 tokens */
    t[OM_TYPE_Q4_K].vec_dot_nm = kern_dot_nm_q4_K_q8_K_avx2;
    t[OM_TYPE_Q6_K].vec_dot_nm = kern_dot_nm_q6_K_q8_K_avx2;
    t[OM_TYPE_Q4_K].nm_rows = t[OM_TYPE_Q6_K].nm_rows = 2;
    t[OM_TYPE_Q4_K].nm_cols = t[OM_TYPE_Q6_K].nm_cols = 4;

    t[OM_TYPE_Q8_0].from_float = kern_quantize_q8_0_avx2;
    t[OM_TYPE_Q8_1].from_float = kern_quantize_q8_1_avx2;
    t[OM_TYPE_Q8_K].from_float = kern_quantize_q8_K_avx2;

    ops->dot_f32_f16 = kern_dot_f32_f16_avx2;
    ops->axpy_f16 = kern_axpy_f16_avx2;
    ops->f32_to_f16_row = kern_f32_to_f16_row_avx2;
    ops->dot_f32 = kern_dot_f32_avx2;
}
