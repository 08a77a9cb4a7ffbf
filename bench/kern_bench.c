/* bench: micro-benchmark of the kernel tables, per weight type and ISA.
 *
 *   matvec  2048x2048 and 5632x2048, one thread: activation quantization +
 *           vec_dot over every row. "hot" reuses one matrix (cache resident),
 *           "cold" walks 256 MiB (OM_BENCH_COLD_MB) of distinct matrices
 *           (memory bound, as in token generation). Reported as weight GB/s.
 *   matmul  2048x2048 x 128 tokens, one thread, through the tile kernel
 *           (vec_dot_nm) where the table has one, as prompt processing does.
 *           Reported as GFLOP/s (2*rows*k*n_tok) and GB/s of weights.
 *   dot_f32_f16 / axpy_f16 at head size 64 (attention), ns per call.
 *   kern_matmul on the active table (n_tok 1 and 128), single-threaded (CPU
 *   time) and with a 2-thread pool (wall clock: only meaningful on an idle
 *   machine).
 *
 * Build (not part of the CMake build):
 *   cc -O2 -I src bench/kern_bench.c build-x/libomcore.a -lm -lpthread -o kern_bench
 *   ./kern_bench [type ...]        (default: q4_0 q8_0 q4_K q6_K q5_0) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"
#include "base/om_pool.h"
#include "kernels/kern.h"

/* Bytes of distinct weight copies walked by "cold" (OM_BENCH_COLD_MB). */
static size_t cold_bytes(void)
{
    const char *e = getenv("OM_BENCH_COLD_MB");
    return (e ? (size_t)atol(e) : 256) << 20;
}

static uint64_t g_rng = 88172645463325252ULL;
static float rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) & 0xffffff) / (float)0x800000 - 1.0f;
}

/* Single-thread figures use this thread's CPU time, so that other load on
 * the machine (time slicing) does not show up as a slower kernel. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_s(void)
{
    return (double)om_time_ns() * 1e-9;
}

/* rows x k weights of type t: 16 distinct quantized rows, repeated. */
static uint8_t *make_weights(uint32_t t, int64_t rows, int64_t k, size_t *stride)
{
    const struct kern_ops *g = kern_ops_for(KERN_ISA_GENERIC);
    size_t rs = om_type_row_size(t, k);
    uint8_t *w = om_xmalloc(rs * (size_t)rows);
    float *f = om_xmalloc((size_t)k * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        if (r < 16) {
            for (int64_t j = 0; j < k; j++)
                f[j] = rnd() * 0.05f;
            g->type[t].from_float(f, w + rs * (size_t)r, k);
        } else {
            memcpy(w + rs * (size_t)r, w + rs * (size_t)(r % 16), rs);
        }
    }
    free(f);
    *stride = rs;
    return w;
}

static void matvec(const struct kern_ops *ops, uint32_t t, const uint8_t *w, size_t ws,
                   int64_t rows, int64_t k, const float *x, void *act, float *y)
{
    const struct kern_type_ops *o = &ops->type[t];
    const void *a = x;
    if (o->vec_dot_type != OM_TYPE_F32) {
        ops->type[o->vec_dot_type].from_float(x, act, k);
        a = act;
    }
    for (int64_t r = 0; r < rows; r++)
        o->vec_dot(k, &y[r], w + (size_t)r * ws, a);
}

static void bench_matvec(const struct kern_ops *ops, uint32_t t, int64_t rows, int64_t k)
{
    size_t ws;
    uint8_t *w = make_weights(t, rows, k, &ws);
    size_t mbytes = ws * (size_t)rows;
    int ncopy = (int)(cold_bytes() / mbytes) + 1;
    uint8_t *cold = om_xmalloc(mbytes * (size_t)ncopy);
    for (int c = 0; c < ncopy; c++)
        memcpy(cold + mbytes * (size_t)c, w, mbytes);
    float *x = om_xmalloc((size_t)k * sizeof(float)), *y = om_xmalloc((size_t)rows * sizeof(float));
    for (int64_t j = 0; j < k; j++)
        x[j] = rnd();
    void *act = om_xmalloc(om_type_row_size(OM_TYPE_Q8_K, k) + om_type_row_size(OM_TYPE_F32, k));
    double res[2];
    for (int mode = 0; mode < 2; mode++) {
        int it = 0;
        double t0 = now_s(), t1;
        do {
            const uint8_t *m = mode == 0 ? w : cold + mbytes * (size_t)(it % ncopy);
            matvec(ops, t, m, ws, rows, k, x, act, y);
            it++;
            t1 = now_s();
        } while (t1 - t0 < 0.3 || it < 3);
        res[mode] = (double)mbytes * it / (t1 - t0) * 1e-9;
    }
    printf("%-6s %-12s matvec %5lldx%-5lld  hot %6.2f GB/s  cold %6.2f GB/s\n",
           om_type_name(t), ops->isa, (long long)rows, (long long)k, res[0], res[1]);
    free(w);
    free(cold);
    free(x);
    free(y);
    free(act);
}

static void bench_matmul(const struct kern_ops *ops, uint32_t t, int64_t rows, int64_t k, int64_t nt)
{
    const struct kern_type_ops *o = &ops->type[t];
    size_t ws;
    uint8_t *w = make_weights(t, rows, k, &ws);
    uint32_t vt = o->vec_dot_type;
    size_t as = om_type_row_size(vt, k);
    float *x = om_xmalloc((size_t)(k * nt) * sizeof(float));
    float *y = om_xmalloc((size_t)(rows * nt) * sizeof(float));
    uint8_t *act = om_xmalloc(as * (size_t)nt);
    for (int64_t j = 0; j < k * nt; j++)
        x[j] = rnd();
    int nr = o->vec_dot_nm ? o->nm_rows : 1, nc = o->vec_dot_nm ? o->nm_cols : 1;
    float tile[256];
    int it = 0;
    double t0 = now_s(), t1;
    do {
        for (int64_t j = 0; j < nt; j++)
            ops->type[vt].from_float(x + j * k, act + as * (size_t)j, k);
        for (int64_t t16 = 0; t16 < nt; t16 += 16)
            for (int64_t r = 0; r < rows; r += nr)
                for (int64_t c = t16; c < t16 + 16 && c < nt; c += nc) {
                    if (o->vec_dot_nm && r + nr <= rows && c + nc <= nt) {
                        o->vec_dot_nm(k, tile, (size_t)nc, w + ws * (size_t)r, ws, nr,
                                      act + as * (size_t)c, as, nc);
                        for (int i = 0; i < nr; i++)
                            for (int j2 = 0; j2 < nc; j2++)
                                y[(c + j2) * rows + r + i] = tile[i * nc + j2];
                    } else {
                        for (int64_t i = r; i < r + nr && i < rows; i++)
                            for (int64_t j2 = c; j2 < c + nc && j2 < nt; j2++)
                                o->vec_dot(k, &y[j2 * rows + i], w + ws * (size_t)i,
                                           act + as * (size_t)j2);
                    }
                }
        it++;
        t1 = now_s();
    } while (t1 - t0 < 0.5 || it < 2);
    double dt = (t1 - t0) / it;
    printf("%-6s %-12s matmul %5lldx%-5lld x%lld  %7.1f GFLOP/s  (tile %dx%d)\n", om_type_name(t),
           ops->isa, (long long)rows, (long long)k, (long long)nt,
           2.0 * (double)(rows * k * nt) / dt * 1e-9, nr, nc);
    free(w);
    free(x);
    free(y);
    free(act);
}

static void bench_kern_matmul(om_pool *pool, uint32_t t, int64_t rows, int64_t k, int64_t nt)
{
    double (*tick)(void) = pool ? wall_s : now_s;
    size_t ws;
    uint8_t *w = make_weights(t, rows, k, &ws);
    float *x = om_xmalloc((size_t)(k * nt) * sizeof(float));
    float *y = om_xmalloc((size_t)(rows * nt) * sizeof(float));
    void *scratch = om_xmalloc(kern_matmul_scratch_size(t, k, nt) + 1);
    for (int64_t j = 0; j < k * nt; j++)
        x[j] = rnd();
    int it = 0;
    double t0 = tick(), t1;
    do {
        kern_matmul(pool, t, w, ws, rows, k, x, k, nt, y, rows, scratch);
        it++;
        t1 = tick();
    } while (t1 - t0 < 0.5 || it < 2);
    double dt = (t1 - t0) / it;
    printf("%-6s %-12s kern_matmul %dthr %5lldx%-5lld x%-3lld %7.1f GFLOP/s %6.2f GB/s\n",
           om_type_name(t), kern_ops_active()->isa, pool ? om_pool_size(pool) : 1, (long long)rows, (long long)k, (long long)nt,
           2.0 * (double)(rows * k * nt) / dt * 1e-9, (double)(ws * (size_t)rows) / dt * 1e-9);
    free(w);
    free(x);
    free(y);
    free(scratch);
}

/* Attention-path helpers at head size 64 (called per head and position). */
static void bench_helpers(const struct kern_ops *ops)
{
    enum { HD = 64, NROW = 1024 };
    float *q = om_xmalloc(HD * sizeof(float)), *out = om_xmalloc(HD * sizeof(float));
    om_f16 *k = om_xmalloc((size_t)HD * NROW * sizeof(om_f16));
    for (int j = 0; j < HD; j++)
        q[j] = rnd();
    for (int j = 0; j < HD * NROW; j++)
        k[j] = kern_f32_to_f16(rnd());
    double res[2];
    for (int mode = 0; mode < 2; mode++) {
        long calls = 0;
        float sink = 0;
        double t0 = now_s(), t1;
        do {
            for (int r = 0; r < NROW; r++) {
                if (mode == 0)
                    sink += ops->dot_f32_f16(HD, q, k + (size_t)r * HD);
                else
                    ops->axpy_f16(HD, 0.001f, k + (size_t)r * HD, out);
            }
            calls += NROW;
            t1 = now_s();
        } while (t1 - t0 < 0.2);
        res[mode] = (t1 - t0) / (double)calls * 1e9;
        if (sink == 12345.0f)
            printf(" ");
    }
    printf("helpers %-12s dot_f32_f16(64) %5.1f ns  axpy_f16(64) %5.1f ns\n", ops->isa, res[0],
           res[1]);
    free(q);
    free(out);
    free(k);
}

static uint32_t type_by_name(const char *s)
{
    for (uint32_t t = 0; t < OM_TYPE_COUNT; t++)
        if (om_type_get(t) && !strcmp(om_type_name(t), s))
            return t;
    return OM_TYPE_COUNT;
}

int main(int argc, char **argv)
{
    const char *defaults[] = {"q4_0", "q8_0", "q4_K", "q6_K", "q5_0"};
    int ntypes = argc > 1 ? argc - 1 : 5;
    om_pool *pool = om_pool_new(2);
    for (int isa = 0; isa <= 2; isa++)
        if (kern_ops_for((enum kern_isa)isa))
            bench_helpers(kern_ops_for((enum kern_isa)isa));
    for (int i = 0; i < ntypes; i++) {
        const char *name = argc > 1 ? argv[i + 1] : defaults[i];
        uint32_t t = type_by_name(name);
        if (t == OM_TYPE_COUNT || !kern_ops_for(KERN_ISA_GENERIC)->type[t].vec_dot) {
            fprintf(stderr, "unknown or unsupported type %s\n", name);
            continue;
        }
        for (int isa = 0; isa <= 2; isa++) {
            const struct kern_ops *ops = kern_ops_for((enum kern_isa)isa);
            if (!ops)
                continue;
            bench_matvec(ops, t, 2048, 2048);
            bench_matvec(ops, t, 5632, 2048);
            bench_matmul(ops, t, 2048, 2048, isa == 0 ? 16 : 128);
        }
        bench_kern_matmul(NULL, t, 5632, 2048, 1);
        bench_kern_matmul(NULL, t, 2048, 2048, 128);
        bench_kern_matmul(pool, t, 5632, 2048, 1);
        bench_kern_matmul(pool, t, 2048, 2048, 128);
        fflush(stdout);
    }
    om_pool_free(pool);
    return 0;
}
