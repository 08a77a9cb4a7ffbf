/* base: the tensor element types GGUF defines (ggml's numbering, which is
 * the on-disk value) and their block geometry. Shared by format/ (to size
 * tensors) and kernels/ (to pick kernels). Pure data, no code beyond lookups. */
#ifndef OM_TYPES_H
#define OM_TYPES_H

#include <stddef.h>
#include <stdint.h>

enum om_type {
    OM_TYPE_F32 = 0,
    OM_TYPE_F16 = 1,
    OM_TYPE_Q4_0 = 2,
    OM_TYPE_Q4_1 = 3,
    OM_TYPE_Q5_0 = 6,
    OM_TYPE_Q5_1 = 7,
    OM_TYPE_Q8_0 = 8,
    OM_TYPE_Q8_1 = 9,
    OM_TYPE_Q2_K = 10,
    OM_TYPE_Q3_K = 11,
    OM_TYPE_Q4_K = 12,
    OM_TYPE_Q5_K = 13,
    OM_TYPE_Q6_K = 14,
    OM_TYPE_Q8_K = 15,
    OM_TYPE_IQ2_XXS = 16,
    OM_TYPE_IQ2_XS = 17,
    OM_TYPE_IQ3_XXS = 18,
    OM_TYPE_IQ1_S = 19,
    OM_TYPE_IQ4_NL = 20,
    OM_TYPE_IQ3_S = 21,
    OM_TYPE_IQ2_S = 22,
    OM_TYPE_IQ4_XS = 23,
    OM_TYPE_I8 = 24,
    OM_TYPE_I16 = 25,
    OM_TYPE_I32 = 26,
    OM_TYPE_I64 = 27,
    OM_TYPE_F64 = 28,
    OM_TYPE_IQ1_M = 29,
    OM_TYPE_BF16 = 30,
    OM_TYPE_COUNT = 40, /* table size; values past the known ones are unknown */
};

#define OM_QK_K 256 /* super-block size of the K-quants */

struct om_type_info {
    const char *name;   /* "q4_K"…; NULL for unknown values */
    uint32_t blck;      /* elements per block */
    uint32_t size;      /* bytes per block */
    uint8_t supported;  /* 1 when kernels/ computes with it */
};

/* Returns the info for t, or NULL when t is not a type GGUF defines. */
const struct om_type_info *om_type_get(uint32_t t);
/* Bytes of one row of n elements of type t; 0 when n is not a multiple of the
 * block size or t is unknown. */
size_t om_type_row_size(uint32_t t, int64_t n);
/* Name of t, or "unknown(N)" in a static buffer-free form ("unknown"). */
const char *om_type_name(uint32_t t);

#endif
