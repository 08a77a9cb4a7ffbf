/* kern_matmul's tiling and ISA tables:
 *  - a table with a fake tile kernel (a loop over the generic vec_dot, odd
 *    tile shapes) must give bit-identical results to the plain generic table
 *    for every shape, whatever the thread count, and must actually be used;
 *  - every ISA table this CPU runs (AVX2, AVX-512) agrees with generic
 *    within float summation error for every weight type, tile kernels
 *    included;
 *  - kern_matmul_multi (several matrices, mixed activation formats) is
 *    bit-identical to separate kern_matmul calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>

#include "base/om.h"
#include "base/om_pool.h"
#include "kern_test_util.h"

static atomic_long g_nm_calls;
static kern_vec_dot_fn g_inner;

/* s[i*lds + j] = dot(x_i, y_j), exactly as the contract in kern.h says. */
static void fake_nm(int64_t n, float *s, size_t lds, const void *x, size_t bx, int nr,
                    const void *y, size_t by, int nc)
{
    atomic_fetch_add(&g_nm_calls, 1);
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++)
            g_inner(n, &s[(size_t)i * lds + j], (const uint8_t *)x + i * bx,
                    (const uint8_t *)y + j * by);
}

struct mm_case {
    uint32_t type;
    int64_t rows, k, n_tok;
};

static void run_case(const struct kern_ops *ops, om_pool *pool, const struct mm_case *c,
                     const uint8_t *wq, size_t wstride, const float *x, float *y)
{
    size_t ss = kern_matmul_scratch_size(c->type, c->k, c->n_tok);
    void *scratch = ss ? om_xmalloc(ss) : NULL;
    if (ss)
        memset(scratch, 0x5a, ss);
    kern_matmul_ops(ops, pool, c->type, wq, wstride, c->rows, c->k, x, c->k, c->n_tok, y, c->rows,
                    scratch);
    free(scratch);
}

static void make_weights(const struct mm_case *c, struct kt_rng *rng, uint8_t **wq, size_t *ws,
                         float **x)
{
    size_t wrow = om_type_row_size(c->type, c->k);
    float *wf = om_xmalloc((size_t)(c->rows * c->k) * sizeof(float));
    kt_gauss(rng, wf, c->rows * c->k, 0.3f);
    *ws = wrow;
    *wq = om_xmalloc(wrow * (size_t)c->rows);
    for (int64_t r = 0; r < c->rows; r++)
        kern_ops_for(KERN_ISA_GENERIC)->type[c->type].from_float(wf + r * c->k, *wq + r * wrow, c->k);
    *x = om_xmalloc((size_t)(c->n_tok * c->k) * sizeof(float));
    kt_gauss(rng, *x, c->n_tok * c->k, 1.0f);
    free(wf);
}

static void test_fake_tiles_identical(void **state)
{
    (void)state;
    const struct kern_ops *gen = kern_ops_for(KERN_ISA_GENERIC);
    struct kern_ops *tiled = om_xmalloc(sizeof(*tiled));
    om_pool *pool3 = om_pool_new(3);
    struct kt_rng rng = {11};
    const int shapes[][2] = {{3, 2}, {4, 4}, {5, 3}, {1, 7}};
    const struct mm_case cases[] = {
        {OM_TYPE_Q4_0, 37, 64, 1},   {OM_TYPE_Q4_0, 101, 128, 17}, {OM_TYPE_Q4_K, 70, 256, 5},
        {OM_TYPE_Q8_0, 64, 96, 33},  {OM_TYPE_F16, 29, 48, 9},     {OM_TYPE_F32, 300, 64, 6},
        {OM_TYPE_Q6_K, 258, 512, 3},
    };
    for (size_t ci = 0; ci < OM_ARRAY_LEN(cases); ci++) {
        const struct mm_case *c = &cases[ci];
        uint8_t *wq;
        size_t ws;
        float *x;
        make_weights(c, &rng, &wq, &ws, &x);
        size_t ny = (size_t)(c->n_tok * c->rows);
        float *ref = om_xmalloc(ny * sizeof(float)), *y1 = om_xmalloc(ny * sizeof(float)),
              *y3 = om_xmalloc(ny * sizeof(float));
        run_case(gen, NULL, c, wq, ws, x, ref);
        for (size_t si = 0; si < OM_ARRAY_LEN(shapes); si++) {
            *tiled = *gen;
            tiled->type[c->type].vec_dot_nm = fake_nm;
            tiled->type[c->type].nm_rows = shapes[si][0];
            tiled->type[c->type].nm_cols = shapes[si][1];
            g_inner = gen->type[c->type].vec_dot;
            atomic_store(&g_nm_calls, 0);
            run_case(tiled, NULL, c, wq, ws, x, y1);
            assert_true(atomic_load(&g_nm_calls) > 0 || c->rows < shapes[si][0] ||
                        c->n_tok < shapes[si][1]);
            run_case(tiled, pool3, c, wq, ws, x, y3);
            if (memcmp(ref, y1, ny * sizeof(float)) || memcmp(ref, y3, ny * sizeof(float)))
                fail_msg("%s rows %lld n_tok %lld tile %dx%d: tiled result differs",
                         om_type_name(c->type), (long long)c->rows, (long long)c->n_tok,
                         shapes[si][0], shapes[si][1]);
        }
        free(ref);
        free(y1);
        free(y3);
        free(wq);
        free(x);
    }
    om_pool_free(pool3);
    free(tiled);
}

static void test_isas_vs_generic(void **state)
{
    (void)state;
    const struct kern_ops *gen = kern_ops_for(KERN_ISA_GENERIC);
    om_pool *pool2 = om_pool_new(2);
    struct kt_rng rng = {12};
    int n_isa = 0;
    for (int isa = KERN_ISA_AVX2; isa <= KERN_ISA_AVX512; isa++) {
        const struct kern_ops *ops = kern_ops_for((enum kern_isa)isa);
        if (!ops)
            continue;
        n_isa++;
        for (size_t ti = 0; ti < KT_N_WEIGHT_TYPES; ti++) {
            /* n_tok 1 (decode), 2, 3, 6 (small batches: narrow tiles and
             * tails) and 19 (tiles plus edges) */
            const int64_t nts[] = {1, 2, 3, 6, 19};
            for (size_t ni = 0; ni < OM_ARRAY_LEN(nts); ni++) {
                const int64_t nt = nts[ni];
                struct mm_case c = {kt_weight_types[ti], 45, 512, nt};
                uint8_t *wq;
                size_t ws;
                float *x;
                make_weights(&c, &rng, &wq, &ws, &x);
                size_t ny = (size_t)(c.n_tok * c.rows);
                float *ref = om_xmalloc(ny * sizeof(float)), *y = om_xmalloc(ny * sizeof(float));
                run_case(gen, NULL, &c, wq, ws, x, ref);
                run_case(ops, pool2, &c, wq, ws, x, y);
                for (size_t i = 0; i < ny; i++) {
                    /* both quantize x the same way up to ties; allow a few
                     * activation ulps on top of summation error */
                    double tol = 2e-3 * (fabs(ref[i]) + 1.0);
                    if (fabs(y[i] - ref[i]) > tol)
                        fail_msg("%s %s n_tok %lld: y[%zu] %g vs generic %g", ops->isa,
                                 om_type_name(c.type), (long long)nt, i, y[i], ref[i]);
                }
                free(ref);
                free(y);
                free(wq);
                free(x);
            }
        }
    }
    om_pool_free(pool2);
    if (!n_isa) {
        fprintf(stderr, "SKIP: no SIMD kernel table on this CPU, only generic was tested\n");
        skip();
    }
}

static void test_matmul_multi(void **state)
{
    (void)state;
    om_pool *pool3 = om_pool_new(3);
    struct kt_rng rng = {13};
    const int64_t k = 512;
    /* Q4_K and Q6_K share Q8_K; Q8_0, F32, F16 each differ; one empty */
    const uint32_t types[] = {OM_TYPE_Q4_K, OM_TYPE_Q8_0, OM_TYPE_Q6_K, OM_TYPE_F32,
                              OM_TYPE_Q4_K, OM_TYPE_F16};
    const int64_t rows[] = {70, 33, 129, 8, 0, 41};
    enum { N = 6 };
    const struct kern_ops *tabs[2] = {kern_ops_for(KERN_ISA_GENERIC), kern_ops_active()};
    for (int64_t n_tok = 1; n_tok <= 21; n_tok += 10) {
        uint8_t *wq[N];
        float *x = om_xmalloc((size_t)(n_tok * k) * sizeof(float));
        float *ya[N], *yb[N];
        struct kern_mm_out outs[N];
        size_t ss = 0;
        kt_gauss(&rng, x, n_tok * k, 1.0f);
        for (int j = 0; j < N; j++) {
            size_t wrow = om_type_row_size(types[j], k);
            int64_t nr = rows[j] ? rows[j] : 1;
            float *wf = om_xmalloc((size_t)(nr * k) * sizeof(float));
            kt_gauss(&rng, wf, nr * k, 0.3f);
            wq[j] = om_xmalloc(wrow * (size_t)nr);
            for (int64_t r = 0; r < rows[j]; r++)
                kern_quantize_row(types[j], wf + r * k, wq[j] + r * wrow, k);
            free(wf);
            ya[j] = om_xcalloc((size_t)(n_tok * nr), sizeof(float));
            yb[j] = om_xcalloc((size_t)(n_tok * nr), sizeof(float));
            outs[j] = (struct kern_mm_out){types[j], wq[j], wrow, rows[j], yb[j], rows[j]};
            ss = OM_MAX(ss, kern_matmul_scratch_size(types[j], k, n_tok));
        }
        void *scratch = om_xmalloc(ss);
        for (int ti = 0; ti < 2; ti++)
            for (int pi = 0; pi < 2; pi++) {
                om_pool *pool = pi ? pool3 : NULL;
                for (int j = 0; j < N; j++) {
                    memset(yb[j], 0, (size_t)(n_tok * OM_MAX(rows[j], 1)) * sizeof(float));
                    kern_matmul_ops(tabs[ti], pool, types[j], wq[j], outs[j].wstride, rows[j], k,
                                    x, k, n_tok, ya[j], rows[j], scratch);
                }
                kern_matmul_multi_ops(tabs[ti], pool, outs, N, k, x, k, n_tok, scratch);
                for (int j = 0; j < N; j++)
                    if (memcmp(ya[j], yb[j], (size_t)(n_tok * rows[j]) * sizeof(float)))
                        fail_msg("%s: matrix %d (%s) n_tok %lld threads %d differs from kern_matmul",
                                 tabs[ti]->isa, j, om_type_name(types[j]), (long long)n_tok,
                                 pi ? 3 : 1);
            }
        for (int j = 0; j < N; j++) {
            free(wq[j]);
            free(ya[j]);
            free(yb[j]);
        }
        free(x);
        free(scratch);
    }
    om_pool_free(pool3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_tiles_identical),
        cmocka_unit_test(test_isas_vs_generic),
        cmocka_unit_test(test_matmul_multi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
