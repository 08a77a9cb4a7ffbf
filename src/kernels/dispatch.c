/* kernels: CPU feature detection and the dispatch table chosen at start-up. */
#include "kernels/kern.h"

#include <pthread.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

static struct kern_ops g_tables[4];
static int g_avail[4];
static const struct kern_ops *g_active;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int cpu_has_avx2(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    /* F16C via cpuid: clang 14's __builtin_cpu_supports does not know it */
    unsigned a, b, c, d;
    int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
#else
    return 0;
#endif
}

static int cpu_has_avx512(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

static void do_init(void)
{
    kern_install_generic(&g_tables[KERN_ISA_GENERIC]);
    g_tables[KERN_ISA_GENERIC].isa = "generic";
    g_avail[KERN_ISA_GENERIC] = 1;
#if defined(__x86_64__)
    if (cpu_has_avx2()) {
        kern_install_generic(&g_tables[KERN_ISA_AVX2]);
        kern_install_avx2(&g_tables[KERN_ISA_AVX2]);
        g_tables[KERN_ISA_AVX2].isa = "avx2";
        g_avail[KERN_ISA_AVX2] = 1;
    }
    if (cpu_has_avx512()) {
        kern_install_generic(&g_tables[KERN_ISA_AVX512]);
        kern_install_avx2(&g_tables[KERN_ISA_AVX512]);
        kern_install_avx512(&g_tables[KERN_ISA_AVX512]);
        g_tables[KERN_ISA_AVX512].isa = "avx512_vnni";
        g_avail[KERN_ISA_AVX512] = 1;
        if (kern_amx_init() == 0) {
            g_tables[KERN_ISA_AMX] = g_tables[KERN_ISA_AVX512];
            kern_install_amx(&g_tables[KERN_ISA_AMX]);
            g_tables[KERN_ISA_AMX].isa = "amx";
            g_avail[KERN_ISA_AMX] = 1;
        }
    }
#endif
    int best = KERN_ISA_GENERIC;
    for (int i = 3; i >= 0; i--)
        if (g_avail[i]) {
            best = i;
            break;
        }
    const char *cap = getenv("OM_KERN_ISA");
    if (cap) {
        int c = !strcmp(cap, "generic") ? 0
                : !strcmp(cap, "avx2")  ? 1
                : !strcmp(cap, "avx512") ? 2
                                         : 3;
        if (c < best)
            best = c;
    }
    g_active = &g_tables[best];
}

void kern_init(void)
{
    pthread_once(&g_once, do_init);
}

const struct kern_ops *kern_ops_active(void)
{
    kern_init();
    return g_active;
}

const struct kern_ops *kern_ops_for(enum kern_isa isa)
{
    kern_init();
    if ((int)isa < 0 || isa > KERN_ISA_AMX || !g_avail[isa])
        return NULL;
    return &g_tables[isa];
}
