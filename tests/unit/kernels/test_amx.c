/* AMX int8 panels (arch/x86/amx_*.c) against the generic kernels:
 *  - each panel called directly on quantized activations, every (row,
 *    token) against the generic vec_dot of the same bytes, within
 *    1e-5 x Σ|w_e·x_e| (only float summation order may differ);
 *  - kern_matmul over the AMX table against the generic table for many
 *    shapes (rows and n_tok not multiples of 16, k = 32..4096), 1 and 2
 *    threads bit-identical.
 * Skips loudly when the CPU or the OS offers no AMX. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/om.h"
#include "base/om_pool.h"
#include "kern_test_util.h"

static const uint32_t g_types[] = {OM_TYPE_Q4_0, OM_TYPE_Q8_0,   OM_TYPE_Q5_0, OM_TYPE_IQ4_NL,
                                   OM_TYPE_Q2_K, OM_TYPE_Q3_K, OM_TYPE_Q4_K, OM_TYPE_Q5_K,
                                   OM_TYPE_Q6_K, OM_TYPE_IQ4_XS};

struct amx_case {
    int64_t rows, k, n_tok;
};

static const struct kern_ops *amx_or_skip(void)
{
    const struct kern_ops *ops = kern_ops_for(KERN_ISA_AMX);
    if (!ops) {
        fprintf(stderr, "SKIP: no AMX on this CPU/OS (or OM_NO_AMX set): AMX panels untested\n");
        skip();
    }
    return ops;
}

/* Weights (generic quantizer), their dequantized floats, activations. */
struct amx_data {
    uint8_t *wq;
    size_t ws;
    float *wf, *x;
};

static void make_data(uint32_t type, const struct amx_case *c, struct kt_rng *rng,
                      struct amx_data *d)
{
    const struct kern_ops *gen = kern_ops_for(KERN_ISA_GENERIC);
    d->ws = om_type_row_size(type, c->k) + 2 * om_type_get(type)->size; /* padded */
    d->wf = om_xmalloc((size_t)(c->rows * c->k) * sizeof(float));
    kt_gauss(rng, d->wf, c->rows * c->k, 0.3f);
    d->wq = om_xcalloc((size_t)c->rows, d->ws);
    for (int64_t r = 0; r < c->rows; r++) {
        gen->type[type].from_float(d->wf + r * c->k, d->wq + r * d->ws, c->k);
        gen->type[type].to_float(d->wq + r * d->ws, d->wf + r * c->k, c->k);
    }
    d->x = om_xmalloc((size_t)(c->n_tok * c->k) * sizeof(float));
    kt_gauss(rng, d->x, c->n_tok * c->k, 1.0f);
}

static void free_data(struct amx_data *d)
{
    free(d->wq);
    free(d->wf);
    free(d->x);
}

static double magnitude(const struct amx_data *d, int64_t k, int64_t r, int64_t t)
{
    double m = 0;
    for (int64_t e = 0; e < k; e++)
        m += fabs((double)d->wf[r * k + e] * d->x[t * k + e]);
    return m;
}

static void check(const char *what, uint32_t type, const struct amx_case *c,
                  const struct amx_data *d, const float *y, const float *ref)
{
    for (int64_t t = 0; t < c->n_tok; t++)
        for (int64_t r = 0; r < c->rows; r++) {
            double tol = 1e-5 * magnitude(d, c->k, r, t) + 1e-30;
            float a = y[t * c->rows + r], b = ref[t * c->rows + r];
            if (!(fabs((double)a - b) <= tol))
                fail_msg("%s %s rows %lld k %lld n_tok %lld: y[t=%lld][r=%lld] %.9g vs %.9g "
                         "(tol %.3g)",
                         what, om_type_name(type), (long long)c->rows, (long long)c->k,
                         (long long)c->n_tok, (long long)t, (long long)r, a, b, tol);
        }
}

static const struct amx_case g_cases[] = {
    {1, 256, 1},    {15, 256, 16},  {16, 512, 17},  {17, 256, 31},   {33, 768, 64},
    {50, 256, 65},  {64, 1024, 33}, {7, 4096, 20},  {40, 4096, 130}, {96, 256, 129},
    /* fewer than 16 tokens: token tiles of ntok rows */
    {35, 512, 8},   {20, 256, 12},  {33, 1024, 5},  {70, 256, 15},
};

/* Each panel called directly: act rows quantized by the generic quantizer,
 * padded to KERN_PANEL_TOK rows of zeros; reference is generic vec_dot. */
static void test_amx_panels_direct(void **state)
{
    (void)state;
    const struct kern_ops *amx = amx_or_skip();
    const struct kern_ops *gen = kern_ops_for(KERN_ISA_GENERIC);
    struct kt_rng rng = {21};
    size_t nc = kt_quick() ? 5 : OM_ARRAY_LEN(g_cases);
    for (size_t ti = 0; ti < OM_ARRAY_LEN(g_types); ti++) {
        uint32_t type = g_types[ti], vdt = gen->type[type].vec_dot_type;
        assert_non_null(amx->type[type].panel);
        for (size_t ci = 0; ci < nc; ci++) {
            struct amx_case c = g_cases[ci];
            if (om_type_get(type)->blck == 32)
                c.k = c.k / 8 + 32 * (int64_t)ci; /* k = 32.. not a multiple of 256 */
            struct amx_data d;
            make_data(type, &c, &rng, &d);
            size_t as = om_type_row_size(vdt, c.k) + 64; /* odd stride on purpose */
            int64_t nt16 = (c.n_tok + 15) / 16 * 16;
            uint8_t *act = om_xcalloc((size_t)nt16, as);
            for (int64_t t = 0; t < c.n_tok; t++)
                gen->type[vdt].from_float(d.x + t * c.k, act + t * as, c.k);
            size_t ny = (size_t)(c.n_tok * c.rows);
            float *ref = om_xmalloc(ny * sizeof(float)), *y = om_xmalloc(ny * sizeof(float));
            for (int64_t t = 0; t < c.n_tok; t++)
                for (int64_t r = 0; r < c.rows; r++)
                    gen->type[type].vec_dot(c.k, &ref[t * c.rows + r], d.wq + r * d.ws,
                                            act + t * as);
            for (size_t i = 0; i < ny; i++)
                y[i] = NAN;
            amx->type[type].panel(c.k, d.wq, d.ws, c.rows, act, as, c.n_tok, y, c.rows);
            check("panel", type, &c, &d, y, ref);
            free(act);
            free(ref);
            free(y);
            free_data(&d);
        }
    }
}

static void run_matmul(const struct kern_ops *ops, om_pool *pool, uint32_t type,
                       const struct amx_case *c, const struct amx_data *d, float *y)
{
    size_t ss = kern_matmul_scratch_size(type, c->k, c->n_tok);
    void *scratch = om_xmalloc(ss);
    memset(scratch, 0x5a, ss);
    kern_matmul_ops(ops, pool, type, d->wq, d->ws, c->rows, c->k, d->x, c->k, c->n_tok, y,
                    c->rows, scratch);
    free(scratch);
}

static void test_amx_matmul_vs_generic(void **state)
{
    (void)state;
    const struct kern_ops *amx = amx_or_skip();
    const struct kern_ops *gen = kern_ops_for(KERN_ISA_GENERIC);
    om_pool *pool2 = om_pool_new(2);
    struct kt_rng rng = {22};
    size_t nc = kt_quick() ? 4 : OM_ARRAY_LEN(g_cases);
    for (size_t ti = 0; ti < OM_ARRAY_LEN(g_types); ti++) {
        uint32_t type = g_types[ti];
        for (size_t ci = 0; ci < nc; ci++) {
            const struct amx_case c = g_cases[ci];
            struct amx_data d;
            make_data(type, &c, &rng, &d);
            size_t ny = (size_t)(c.n_tok * c.rows);
            float *ref = om_xmalloc(ny * sizeof(float)), *y1 = om_xmalloc(ny * sizeof(float)),
                  *y2 = om_xmalloc(ny * sizeof(float));
            run_matmul(gen, NULL, type, &c, &d, ref);
            run_matmul(amx, NULL, type, &c, &d, y1);
            run_matmul(amx, pool2, type, &c, &d, y2);
            check("kern_matmul", type, &c, &d, y1, ref);
            if (memcmp(y1, y2, ny * sizeof(float)))
                fail_msg("%s rows %lld n_tok %lld: 1 and 2 threads differ", om_type_name(type),
                         (long long)c.rows, (long long)c.n_tok);
            free(ref);
            free(y1);
            free(y2);
            free_data(&d);
        }
    }
    om_pool_free(pool2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amx_panels_direct),
        cmocka_unit_test(test_amx_matmul_vs_generic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
