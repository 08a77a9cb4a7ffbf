/* kernels/arch/x86: installs the AVX-512 (F/BW/VL/DQ + VNNI) kernels
 * (avx512_*.c) over a table that already holds the AVX2 ones; entries not
 * set here keep their AVX2 (or generic) version. Each has a test against its
 * generic twin (tests/unit/kernels/test_simd*.c). */
#include "kernels/arch/x86/avx512_int.h"

void kern_install_avx512(struct kern_ops *ops)
{
    struct kern_type_ops *t = ops->type;
    t[OM_TYPE_Q4_0].vec_dot = kern_dot_q4_0_q8_0_avx512;
    t[OM_TYPE_Q5_0].vec_dot = kern_dot_q5_0_q8_0_avx512;
    t[OM_TYPE_Q4_1].vec_dot = kern_dot_q4_1_q8_1_avx512;
    t[OM_TYPE_Q5_1].vec_dot = kern_dot_q5_1_q8_1_avx512;
    t[OM_TYPE_Q8_0].vec_dot = kern_dot_q8_0_q8_0_avx512;
    t[OM_TYPE_IQ4_NL].vec_dot = kern_dot_iq4_nl_q8_0_avx512;
    t[OM_TYPE_Q2_K].vec_dot = kern_dot_q2_K_q8_K_avx512;
    t[OM_TYPE_Q3_K].vec_dot = kern_dot_q3_K_q8_K_avx512;
    t[OM_TYPE_Q4_K].vec_dot = kern_dot_q4_K_q8_K_avx512;
    t[OM_TYPE_Q5_K].vec_dot = kern_dot_q5_K_q8_K_avx512;
    t[OM_TYPE_Q6_K].vec_dot = kern_dot_q6_K_q8_K_avx512;
    t[OM_TYPE_F16].vec_dot = kern_dot_f16_f16_avx512;
    t[OM_TYPE_BF16].vec_dot = kern_dot_bf16_bf16_avx512;
    t[OM_TYPE_F32].vec_dot = kern_dot_f32_f32_avx512;

    ops->dot_f32_f16 = kern_dot_f32_f16_avx512;
    ops->axpy_f16 = kern_axpy_f16_avx512;
    ops->f32_to_f16_row = kern_f32_to_f16_row_avx512;
    ops->dot_f32 = kern_dot_f32_avx512;

    /* tiles for prompt processing: 8 weight rows x 4 tokens */
    t[OM_TYPE_Q4_0].vec_dot_nm = kern_dot_nm_q4_0_q8_0_avx512;
    t[OM_TYPE_Q8_0].vec_dot_nm = kern_dot_nm_q8_0_q8_0_avx512;
    t[OM_TYPE_Q5_0].vec_dot_nm = kern_dot_nm_q5_0_q8_0_avx512;
    t[OM_TYPE_IQ4_NL].vec_dot_nm = kern_dot_nm_iq4_nl_q8_0_avx512;
    t[OM_TYPE_Q4_0].nm_rows = t[OM_TYPE_Q5_0].nm_rows = t[OM_TYPE_Q8_0].nm_rows = 8;
    t[OM_TYPE_Q4_0].nm_cols = t[OM_TYPE_Q5_0].nm_cols = t[OM_TYPE_Q8_0].nm_cols = 4;
    t[OM_TYPE_IQ4_NL].nm_rows = 8;
    t[OM_TYPE_IQ4_NL].nm_cols = 4;
    /* K-quant tiles: 4 rows x 4 tokens */
    t[OM_TYPE_Q4_K].vec_dot_nm = kern_dot_nm_q4_K_q8_K_avx512;
    t[OM_TYPE_Q6_K].vec_dot_nm = kern_dot_nm_q6_K_q8_K_avx512;
    t[OM_TYPE_Q5_K].vec_dot_nm = kern_dot_nm_q5_K_q8_K_avx512;
    t[OM_TYPE_Q5_K].nm_rows = 4;
    t[OM_TYPE_Q5_K].nm_cols = 4;
    /* Q4_K, Q6_K: 4 rows x 8 tokens, computed row after row (one weight
     * stream, avx512_tile_row.c) or as two 4x4 tiles: see avx512_tile_k.c */
    t[OM_TYPE_Q4_K].nm_rows = t[OM_TYPE_Q6_K].nm_rows = 4;
    t[OM_TYPE_Q4_K].nm_cols = t[OM_TYPE_Q6_K].nm_cols = 8;
}
