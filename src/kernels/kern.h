/* kernels: tensor element formats and the compute kernels over them.
 *
 * Every kernel has a plain C `_generic` version; SIMD versions (AVX2,
 * AVX-512/VNNI) live in kernels/arch/x86/ under the same names and are
 * installed into the dispatch table by kern_init() according to the CPU.
 * Tests hold each SIMD entry against its generic twin.
 *
 * Dot products run weight rows against activations quantized to the weight
 * type's `vec_dot_type` (Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for Q4_1/Q5_1,
 * Q8_K for the K-quants and IQ4_XS, F16 for F16, BF16 for BF16, F32 for F32). */
#ifndef KERN_H
#define KERN_H

#include <stddef.h>
#include <stdint.h>

#include "base/om_pool.h"
#include "base/om_types.h"

typedef uint16_t om_f16;
typedef uint16_t om_bf16;

/* ---- block layouts, exactly as GGUF stores them ---- */
#define KERN_QK4_0 32
#define KERN_QK8_0 32
typedef struct { om_f16 d; uint8_t qs[16]; } kern_block_q4_0;
typedef struct { om_f16 d, m; uint8_t qs[16]; } kern_block_q4_1;
typedef struct { om_f16 d; uint8_t qh[4]; uint8_t qs[16]; } kern_block_q5_0;
typedef struct { om_f16 d, m; uint8_t qh[4]; uint8_t qs[16]; } kern_block_q5_1;
typedef struct { om_f16 d; int8_t qs[32]; } kern_block_q8_0;
typedef struct { om_f16 d, s; int8_t qs[32]; } kern_block_q8_1; /* s = d * sum(qs) */
typedef struct { uint8_t scales[16]; uint8_t qs[64]; om_f16 d, dmin; } kern_block_q2_K;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; om_f16 d; } kern_block_q3_K;
typedef struct { om_f16 d, dmin; uint8_t scales[12]; uint8_t qs[128]; } kern_block_q4_K;
typedef struct { om_f16 d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } kern_block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; om_f16 d; } kern_block_q6_K;
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } kern_block_q8_K;
typedef struct { om_f16 d; uint8_t qs[16]; } kern_block_iq4_nl;
/* 8 sub-blocks of 32: 6-bit scales (stored +32), low 4 bits in scales_l
 * nibbles, high 2 bits in scales_h; codes as IQ4_NL. Activations: Q8_K. */
typedef struct { om_f16 d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } kern_block_iq4_xs;

/* ---- half precision ---- */
float kern_f16_to_f32(om_f16 h);
om_f16 kern_f32_to_f16(float f);
float kern_bf16_to_f32(om_bf16 h);
om_bf16 kern_f32_to_bf16(float f);

/* ---- dispatch table ---- */
typedef void (*kern_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);
typedef void (*kern_from_float_fn)(const float *x, void *y, int64_t n);
typedef void (*kern_to_float_fn)(const void *x, float *y, int64_t n);
/* s[i*ldS + j] = dot(x_i, y_j) for nr rows of x (stride bx bytes) and nc
 * columns of y (stride by bytes); optional blocked kernel for matmul. */
typedef void (*kern_vec_dot_nm_fn)(int64_t n, float *s, size_t lds, const void *x, size_t bx,
                                   int nr, const void *y, size_t by, int nc);
/* Optional whole-panel matmul (AMX tiles, arch/x86/amx*.c):
 * y[t*y_stride + r] = dot(w_r, act_t) for r < nr, t < ntok. w: nr weight rows
 * wstride bytes apart; act: activation rows in vec_dot_type, act_stride bytes
 * apart, with KERN_PANEL_TOK-rounded ceil(ntok) rows readable (the rows past
 * ntok zero). Any nr >= 1, ntok >= 1. Same per-block integer sums and scales
 * as vec_dot; only the float summation order differs. */
#define KERN_PANEL_TOK 16
typedef void (*kern_panel_fn)(int64_t k, const void *w, size_t wstride, int64_t nr,
                              const void *act, size_t act_stride, int64_t ntok, float *y,
                              int64_t y_stride);

struct kern_type_ops {
    kern_vec_dot_fn vec_dot;       /* weight row · activation row (vec_dot_type) */
    kern_vec_dot_nm_fn vec_dot_nm; /* optional tile version; NULL: loop of vec_dot */
    int nm_rows, nm_cols;          /* tile shape the nm kernel prefers */
    kern_from_float_fn from_float; /* quantize (activation speed; weights too) */
    kern_to_float_fn to_float;     /* dequantize */
    uint32_t vec_dot_type;
    kern_panel_fn panel; /* optional; matmul uses it when n_tok >= panel_min_tok */
    int panel_min_tok;
};

struct kern_ops {
    const char *isa; /* "generic", "avx2", "avx512", "avx512_vnni", "amx" */
    struct kern_type_ops type[OM_TYPE_COUNT];
    /* float helpers on the attention path: dot of f32 with f16, y += a*x(f16) */
    float (*dot_f32_f16)(int64_t n, const float *x, const om_f16 *y);
    void (*axpy_f16)(int64_t n, float a, const om_f16 *x, float *y);
    void (*f32_to_f16_row)(const float *x, om_f16 *y, int64_t n);
    float (*dot_f32)(int64_t n, const float *x, const float *y);
};

/* KERN_ISA_AMX: the AVX-512 table plus AMX int8 panels; available when the
 * CPU has AMX-TILE/INT8 and the kernel grants the tile state (arch_prctl). */
enum kern_isa { KERN_ISA_GENERIC = 0, KERN_ISA_AVX2 = 1, KERN_ISA_AVX512 = 2, KERN_ISA_AMX = 3 };

/* Detects the CPU and installs the best kernels (idempotent; thread-safe
 * after the first call returns). OM_KERN_ISA=generic|avx2|avx512|amx caps it. */
void kern_init(void);
/* The active table (kern_init() is called if it was not). */
const struct kern_ops *kern_ops_active(void);
/* The table for one ISA level (generic + that level's overrides), or NULL when
 * this CPU cannot run it. Tests compare these against KERN_ISA_GENERIC. */
const struct kern_ops *kern_ops_for(enum kern_isa isa);

/* Installers: generic fills every entry; arch installers override what they
 * implement. Called only by dispatch. */
void kern_install_generic(struct kern_ops *ops);
void kern_install_avx2(struct kern_ops *ops);
void kern_install_avx512(struct kern_ops *ops);
/* 0 when AMX int8 tiles are usable by this process (CPU + OS, permission
 * requested once); call only after the AVX-512 check passed. */
int kern_amx_init(void);
void kern_install_amx(struct kern_ops *ops);

/* ---- convenience entry points over the active table ---- */
/* 1 when type can be a matmul weight (it has a vec_dot), else 0 (also for
 * activation-only Q8_1/Q8_K and values GGUF does not define). */
int kern_type_supported(uint32_t type);
/* The activation format type's vec_dot takes; type < OM_TYPE_COUNT. */
uint32_t kern_vec_dot_type(uint32_t type);
/* Quantizes n floats (n a multiple of the block size) into type. Returns
 * bytes written, or 0 (nothing written) when type has no quantizer or n is
 * not a multiple of its block size. Weight quantizers are ggml-reference
 * quality (see docs/kernels.md). */
size_t kern_quantize_row(uint32_t type, const float *x, void *y, int64_t n);
/* Dequantizes n elements (a multiple of the block size) of type, which must
 * have a to_float (every type kern_type_supported() accepts, plus Q8_1/Q8_K). */
void kern_dequant_row(uint32_t type, const void *x, float *y, int64_t n);

/* y(n_tok, rows) = x(n_tok, k) · W(rows, k)^T.
 * W: `rows` rows of `k` elements of wtype, consecutive rows wstride bytes apart.
 * x: F32, row-major, x_stride floats between tokens. y: F32, y_stride floats.
 * scratch: at least kern_matmul_scratch_size(wtype, k, n_tok) bytes, owned by
 * the caller (activations are quantized into it once, then shared by threads).
 * Runs on every thread of pool (NULL: single thread). */
size_t kern_matmul_scratch_size(uint32_t wtype, int64_t k, int64_t n_tok);
void kern_matmul(om_pool *pool, uint32_t wtype, const void *w, size_t wstride, int64_t rows,
                 int64_t k, const float *x, int64_t x_stride, int64_t n_tok, float *y,
                 int64_t y_stride, void *scratch);
/* Several products over the same activations, y_j(n_tok, rows_j) =
 * x(n_tok, k) · W_j(rows_j, k)^T for j < n <= KERN_MM_MAX (e.g. the Q, K, V
 * projections, or gate and up). The activations are quantized once per
 * vec_dot_type and all rows of the matrices sharing it are computed in one
 * pool run: one barrier instead of n. The W_j may differ in type (Q4_K and
 * Q6_K share Q8_K activations). scratch: the largest
 * kern_matmul_scratch_size(wtype_j, k, n_tok). Results are bit-identical to n
 * kern_matmul calls. */
#define KERN_MM_MAX 8
struct kern_mm_out {
    uint32_t wtype;
    const void *w;
    size_t wstride;
    int64_t rows;
    float *y;
    int64_t y_stride;
};
void kern_matmul_multi(om_pool *pool, const struct kern_mm_out *outs, int n, int64_t k,
                       const float *x, int64_t x_stride, int64_t n_tok, void *scratch);

/* kern_matmul over an explicit table (e.g. kern_ops_for(KERN_ISA_GENERIC)):
 * tests hold each ISA's matmul, tile kernels included, against generic.
 * The table must have the same vec_dot_type per type as the active one
 * (arch installers never change it), so the scratch size is the same. */
void kern_matmul_ops(const struct kern_ops *ops, om_pool *pool, uint32_t wtype, const void *w,
                     size_t wstride, int64_t rows, int64_t k, const float *x, int64_t x_stride,
                     int64_t n_tok, float *y, int64_t y_stride, void *scratch);
void kern_matmul_multi_ops(const struct kern_ops *ops, om_pool *pool,
                           const struct kern_mm_out *outs, int n, int64_t k, const float *x,
                           int64_t x_stride, int64_t n_tok, void *scratch);

#endif
