/* kernels/arch/x86: AMX detection and the AMX table (the AVX-512 table plus
 * int8 tile panels for Q4_0, Q5_0, Q8_0, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K,
 * Q6_K, IQ4_XS; see docs/kernels-amx.md).
 *
 * Linux hands out the 8 KiB tile data state only on request:
 * arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) once per process
 * (permission is per process, every thread may then configure tiles). When
 * the CPU lacks AMX-TILE/INT8, the OS does not enable the XTILE state in
 * XCR0, or the request fails, the table is not offered and matmul keeps the
 * AVX-512 tile kernels. */
#include "kernels/arch/x86/amx_int.h"

#include <cpuid.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

/* Below these many tokens the AVX-512 tiles are at least as fast (the
 * token tile is then mostly zero padding; measured in docs/kernels-amx.md:
 * 2048x2048, one thread, n_tok 8: Q4_0 164 vs 140 GFLOP/s). */
#define AMX_MIN_TOK 8
/* Q4_K, Q6_K: with the weights from memory (decode of several streams) the
 * AVX-512 row kernels (8 tokens per weight read, software prefetch) plus a
 * 4x4 tile for the rest beat the panel below 13 / 16 tokens. kern_matmul,
 * 2 threads, 2026-11-26 (panel vs AVX-512): Q4_K 2048x2048 x12 413-417 vs
 * 376-383 us, x16 440-450 vs 503-515; Q6_K 32000x2048 x12 8420-8670 vs
 * 5490-5500, x16 8770-8890 vs 6960-7080 but 2048x5632 x16 1217 vs 1447. */
#define AMX_MIN_TOK_Q6_K 16
#define AMX_MIN_TOK_Q4_K 13

int kern_amx_init(void)
{
    unsigned a, b, c, d;
    if (getenv("OM_NO_AMX"))
        return -1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return -1;
    if (!(d & (1u << 24)) || !(d & (1u << 25))) /* AMX-TILE, AMX-INT8 */
        return -1;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
        return -1;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) /* XTILECFG, XTILEDATA */
        return -1;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
        return -1;
    return 0;
}

void kern_install_amx(struct kern_ops *ops)
{
    struct kern_type_ops *t = ops->type;
    t[OM_TYPE_Q4_0].panel = kern_panel_q4_0_amx;
    t[OM_TYPE_Q5_0].panel = kern_panel_q5_0_amx;
    t[OM_TYPE_Q8_0].panel = kern_panel_q8_0_amx;
    t[OM_TYPE_Q4_K].panel = kern_panel_q4_K_amx;
    t[OM_TYPE_Q6_K].panel = kern_panel_q6_K_amx;
    t[OM_TYPE_Q5_K].panel = kern_panel_q5_K_amx;
    t[OM_TYPE_Q3_K].panel = kern_panel_q3_K_amx;
    t[OM_TYPE_Q2_K].panel = kern_panel_q2_K_amx;
    t[OM_TYPE_IQ4_XS].panel = kern_panel_iq4_xs_amx;
    t[OM_TYPE_IQ4_XS].panel_min_tok = AMX_MIN_TOK; /* no AVX-512 tile */
    t[OM_TYPE_Q2_K].panel_min_tok = AMX_MIN_TOK; /* no AVX-512 tile either */
    t[OM_TYPE_Q3_K].panel_min_tok = AMX_MIN_TOK; /* no AVX-512 tile: vec_dot ~62 GFLOP/s */
    t[OM_TYPE_IQ4_NL].panel = kern_panel_iq4_nl_amx;
    t[OM_TYPE_Q5_K].panel_min_tok = t[OM_TYPE_IQ4_NL].panel_min_tok = AMX_MIN_TOK;
    t[OM_TYPE_Q4_0].panel_min_tok = t[OM_TYPE_Q5_0].panel_min_tok = AMX_MIN_TOK;
    t[OM_TYPE_Q8_0].panel_min_tok = AMX_MIN_TOK;
    t[OM_TYPE_Q4_K].panel_min_tok = AMX_MIN_TOK_Q4_K;
    t[OM_TYPE_Q6_K].panel_min_tok = AMX_MIN_TOK_Q6_K;
}
