/* kernels: y = x · W^T over a thread pool, for one weight matrix or several
 * sharing the same activations (kern_matmul_multi: QKV, gate/up).
 *
 * Two phases, each one om_pool_run (which returns only when every thread is
 * done, so it doubles as the barrier):
 *  1. the activations x (n_tok, k) are quantized once into the caller's
 *     scratch in the weights' vec_dot_type, blocks split evenly across
 *     threads (F32 weights read x directly, nothing to quantize);
 *  2. output rows of all the matrices are handed out in chunks from one
 *     atomic counter; inside a chunk, tokens go in blocks sized so that a
 *     block's activations stay in L1 while the chunk's weight rows stream
 *     past, and chunks are small enough (when there are several token
 *     blocks) that their weights stay in L2 from one token block to the next.
 *
 * Invariant: every output element is computed by the same kernel on the same
 * inputs whatever the thread count, because chunk sizes are multiples of the
 * nm tile height and tiles start at row/token 0 of their matrix. So 1 and N
 * threads give bit-identical results. No allocation happens here.
 *
 * Panels (AMX, kern_type_ops.panel): for n_tok >= panel_min_tok a part's
 * chunks go to the panel kernel whole, for all tokens of a token block; it
 * computes every element the same way whatever the chunk, so the invariant
 * holds. The scratch holds n_tok rounded up to KERN_PANEL_TOK activation
 * rows; the pad rows are zeroed when a panel reads them. */
#include <assert.h>
#include <stdatomic.h>

#include "base/om.h"
#include "kernels/kern_int.h"

#define MM_ALIGN 64
#define MM_TOK_BLOCK_MAX 16
#define MM_L1_BUDGET (32 << 10) /* activation bytes per token block */
#define MM_L2_BUDGET (512 << 10) /* weight bytes per chunk when re-read */
#define MM_TILE_MAX 4096 /* nm_rows * nm_cols we accept for the stack tile */
#define MM_PANEL_ROWS 32      /* panel chunk rows: a multiple of this */
#define MM_PANEL_TOK_BLOCK 128 /* tokens per panel call */
/* Below these sizes a pool dispatch costs more than it saves. */
#define MM_QUANT_INLINE (1 << 15)  /* activation elements */
#define MM_SERIAL_MACS (1 << 16)   /* rows * k * n_tok */

/* One weight matrix of a job and its share of the chunk counter. */
struct mm_part {
    const struct kern_type_ops *o;
    const uint8_t *w;
    size_t wstride;
    int64_t rows;
    float *y;
    int64_t y_stride;
    int64_t tok_block;  /* tokens per block, a multiple of the nm tile width */
    int64_t chunk_rows; /* a multiple of the nm tile height */
    int64_t chunk0, n_chunks; /* its chunks in the shared counter's range */
    int panel;                /* 1: chunks go through o->panel */
};

struct mm_ctx {
    int64_t k;
    const float *x;
    int64_t x_stride, n_tok;
    uint32_t vdt;
    uint8_t *act;      /* quantized activations (or x for F32) */
    size_t act_stride; /* bytes between tokens in act */
    kern_from_float_fn quant;
    int64_t vblck; /* elements per block of vdt */
    int n_parts;
    struct mm_part part[KERN_MM_MAX];
    int64_t n_chunks;
    atomic_llong next;
};

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

size_t kern_matmul_scratch_size(uint32_t wtype, int64_t k, int64_t n_tok)
{
    if (wtype >= OM_TYPE_COUNT)
        return 0;
    uint32_t vdt = kern_ops_active()->type[wtype].vec_dot_type;
    if (vdt == OM_TYPE_F32)
        return 0;
    size_t row = om_type_row_size(vdt, k);
    return align_up((size_t)n_tok, KERN_PANEL_TOK) * align_up(row, MM_ALIGN) + MM_ALIGN;
}

/* Phase 1: quantize blocks [u0, u1) of the n_tok * nb activation blocks. */
static void mm_quant_range(struct mm_ctx *c, int64_t u0, int64_t u1)
{
    int64_t nb = c->k / c->vblck;
    size_t bsize = om_type_row_size(c->vdt, c->vblck);
    while (u0 < u1) {
        int64_t t = u0 / nb, b0 = u0 % nb;
        int64_t b1 = OM_MIN(nb, b0 + (u1 - u0));
        c->quant(c->x + t * c->x_stride + b0 * c->vblck,
                 c->act + (size_t)t * c->act_stride + (size_t)b0 * bsize, (b1 - b0) * c->vblck);
        u0 += b1 - b0;
    }
}

static void mm_quant_job(void *ctx, int ith, int nth)
{
    struct mm_ctx *c = ctx;
    int64_t total = c->n_tok * (c->k / c->vblck);
    mm_quant_range(c, total * ith / nth, total * (ith + 1) / nth);
}

/* Rows [r0, r1) x tokens [t0, t1) of part p with the nm tile kernel where
 * whole tiles fit (tiles aligned to absolute row/token 0) and vec_dot on the
 * rest. */
static void mm_block(const struct mm_ctx *c, const struct mm_part *p, int64_t r0, int64_t r1,
                     int64_t t0, int64_t t1)
{
    const struct kern_type_ops *o = p->o;
    int64_t rt = r1, tt = t0;
    if (o->vec_dot_nm && o->nm_rows > 0 && o->nm_cols > 0 &&
        o->nm_rows * o->nm_cols <= MM_TILE_MAX) {
        int nr = o->nm_rows, nc = o->nm_cols;
        float tile[MM_TILE_MAX];
        /* r0 is a multiple of nr (chunking), t0 of nc (token blocking) */
        rt = r0 + (r1 - r0) / nr * nr;
        tt = t0 + (t1 - t0) / nc * nc;
        /* row tiles outer, token tiles inner: a tile's weight rows are read
         * from memory once and stay in L1 for the other token tiles. A
         * token tail narrower than a tile (2..nc-1 tokens) goes to the nm
         * kernel with nc = the tail width (which may have a kernel for it,
         * else loops vec_dot row by row); where the tail starts depends
         * only on t1 - t0, so the invariant holds. */
        int tw = (int)(t1 - tt);
        for (int64_t r = r0; r < rt; r += nr) {
            const uint8_t *wr = p->w + (size_t)r * p->wstride;
            for (int64_t t = t0; t < t1; t += nc) {
                int w = (int)OM_MIN(nc, t1 - t);
                if (w == 1)
                    break; /* a 1-token tail: vec_dot below */
                o->vec_dot_nm(c->k, tile, (size_t)w, wr, p->wstride, nr,
                              c->act + (size_t)t * c->act_stride, c->act_stride, w);
                for (int i = 0; i < nr; i++)
                    for (int j = 0; j < w; j++)
                        p->y[(t + j) * p->y_stride + r + i] = tile[i * w + j];
            }
        }
        if (tw > 1)
            tt = t1;
    } else {
        rt = r0; /* everything through vec_dot */
        tt = t1;
    }
    /* the remaining L shape: tokens [tt, t1) for all rows, rows [rt, r1) for tokens [t0, tt) */
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = p->w + (size_t)r * p->wstride;
        int64_t ts = r < rt ? tt : t0;
        for (int64_t t = ts; t < t1; t++)
            o->vec_dot(c->k, &p->y[t * p->y_stride + r], wr, c->act + (size_t)t * c->act_stride);
    }
}

static void mm_compute_job(void *ctx, int ith, int nth)
{
    (void)ith;
    (void)nth;
    struct mm_ctx *c = ctx;
    int pi = 0;
    for (;;) {
        int64_t ch = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
        if (ch >= c->n_chunks)
            break;
        while (ch >= c->part[pi].chunk0 + c->part[pi].n_chunks) /* chunks only grow */
            pi++;
        const struct mm_part *p = &c->part[pi];
        int64_t r0 = (ch - p->chunk0) * p->chunk_rows, r1 = OM_MIN(p->rows, r0 + p->chunk_rows);
        if (p->panel) {
            for (int64_t t0 = 0; t0 < c->n_tok; t0 += p->tok_block)
                p->o->panel(c->k, p->w + (size_t)r0 * p->wstride, p->wstride, r1 - r0,
                            c->act + (size_t)t0 * c->act_stride, c->act_stride,
                            OM_MIN(p->tok_block, c->n_tok - t0), p->y + t0 * p->y_stride + r0,
                            p->y_stride);
            continue;
        }
        for (int64_t t0 = 0; t0 < c->n_tok; t0 += p->tok_block)
            mm_block(c, p, r0, r1, t0, OM_MIN(c->n_tok, t0 + p->tok_block));
    }
}

/* Matrices [0, n) of outs, all with activation format vdt. */
static void mm_run(const struct kern_ops *ops, om_pool *pool, const struct kern_mm_out *outs,
                   int n, uint32_t vdt, int64_t k, const float *x, int64_t x_stride,
                   int64_t n_tok, void *scratch)
{
    struct mm_ctx c = {.k = k, .x = x, .x_stride = x_stride, .n_tok = n_tok, .vdt = vdt};
    int nth = pool ? om_pool_size(pool) : 1;
    if (vdt == OM_TYPE_F32) {
        c.act = (uint8_t *)(uintptr_t)x;
        c.act_stride = (size_t)x_stride * sizeof(float);
    } else {
        const struct om_type_info *vi = om_type_get(vdt);
        assert(vi && k % vi->blck == 0 && scratch);
        c.vblck = vi->blck;
        c.quant = ops->type[vdt].from_float;
        c.act = (uint8_t *)align_up((size_t)(uintptr_t)scratch, MM_ALIGN);
        c.act_stride = align_up(om_type_row_size(vdt, k), MM_ALIGN);
        if (!pool || nth == 1 || n_tok * k <= MM_QUANT_INLINE)
            mm_quant_job(&c, 0, 1);
        else
            om_pool_run(pool, mm_quant_job, &c);
    }

    /* Token blocks: as many activation rows as fit the L1 budget, a
     * multiple of the tile width. Row chunks: ~4 per thread over all the
     * rows for balance, a multiple of the tile height, and within the L2
     * budget when the weights are read once per token block. Tiling stays
     * aligned to each matrix's row 0 whatever the thread count (see the
     * invariant at the top). */
    int64_t all_rows = 0;
    for (int i = 0; i < n; i++)
        all_rows += outs[i].rows;
    int64_t target = OM_MAX((all_rows + 4 * nth - 1) / (4 * nth), 16);
    c.n_parts = n;
    int pad_done = 0;
    for (int i = 0; i < n; i++) {
        struct mm_part *p = &c.part[i];
        p->o = &ops->type[outs[i].wtype];
        p->w = outs[i].w;
        p->wstride = outs[i].wstride;
        p->rows = outs[i].rows;
        p->y = outs[i].y;
        p->y_stride = outs[i].y_stride;
        int64_t nr = p->o->vec_dot_nm && p->o->nm_rows > 0 ? p->o->nm_rows : 1;
        int64_t nc = p->o->vec_dot_nm && p->o->nm_cols > 0 ? p->o->nm_cols : 1;
        int64_t tb = (int64_t)(MM_L1_BUDGET / OM_MAX(c.act_stride, 1));
        tb = OM_MAX(OM_MIN(tb, MM_TOK_BLOCK_MAX), 1);
        p->tok_block = OM_MAX(tb / nc, 1) * nc;
        p->panel = vdt != OM_TYPE_F32 && p->o->panel && n_tok >= OM_MAX(p->o->panel_min_tok, 1);
        if (p->panel) {
            nr = MM_PANEL_ROWS;
            p->tok_block = MM_PANEL_TOK_BLOCK;
            if (!pad_done) { /* the panel reads whole KERN_PANEL_TOK token groups */
                int64_t nt16 = (n_tok + KERN_PANEL_TOK - 1) / KERN_PANEL_TOK * KERN_PANEL_TOK;
                memset(c.act + (size_t)n_tok * c.act_stride, 0,
                       (size_t)(nt16 - n_tok) * c.act_stride);
                pad_done = 1;
            }
        }
        int64_t chunk = target;
        if (n_tok > p->tok_block)
            chunk = OM_MIN(chunk, (int64_t)(MM_L2_BUDGET / OM_MAX(p->wstride, 1)));
        p->chunk_rows = OM_MAX((chunk + nr - 1) / nr, 1) * nr;
        p->chunk0 = c.n_chunks;
        p->n_chunks = (p->rows + p->chunk_rows - 1) / p->chunk_rows;
        c.n_chunks += p->n_chunks;
    }
    atomic_init(&c.next, 0);
    if (!pool || nth == 1 || all_rows * k * n_tok <= MM_SERIAL_MACS || c.n_chunks == 1)
        mm_compute_job(&c, 0, 1);
    else
        om_pool_run(pool, mm_compute_job, &c);
}

static void mm_check(const struct kern_ops *ops, const struct kern_mm_out *o, int64_t k)
{
    (void)ops;
    (void)o;
    (void)k;
    assert(o->wtype < OM_TYPE_COUNT && ops->type[o->wtype].vec_dot &&
           "kern_matmul: unsupported weight type");
    assert(om_type_row_size(o->wtype, k) > 0 && o->wstride >= om_type_row_size(o->wtype, k));
    assert(o->rows >= 0 && o->y_stride >= o->rows);
}

void kern_matmul_multi_ops(const struct kern_ops *ops, om_pool *pool,
                           const struct kern_mm_out *outs, int n, int64_t k, const float *x,
                           int64_t x_stride, int64_t n_tok, void *scratch)
{
    assert(n >= 0 && n <= KERN_MM_MAX && x_stride >= k);
    if (n_tok <= 0)
        return;
    /* one run per activation format, in order of first appearance */
    uint32_t done = 0; /* bit i: outs[i] handled */
    for (int i = 0; i < n; i++) {
        if (done >> i & 1)
            continue;
        uint32_t vdt = ops->type[outs[i].wtype].vec_dot_type;
        struct kern_mm_out group[KERN_MM_MAX];
        int g = 0;
        for (int j = i; j < n; j++) {
            if ((done >> j & 1) || ops->type[outs[j].wtype].vec_dot_type != vdt)
                continue;
            mm_check(ops, &outs[j], k);
            done |= 1u << j;
            if (outs[j].rows > 0)
                group[g++] = outs[j];
        }
        if (g > 0)
            mm_run(ops, pool, group, g, vdt, k, x, x_stride, n_tok, scratch);
    }
}

void kern_matmul_multi(om_pool *pool, const struct kern_mm_out *outs, int n, int64_t k,
                       const float *x, int64_t x_stride, int64_t n_tok, void *scratch)
{
    kern_matmul_multi_ops(kern_ops_active(), pool, outs, n, k, x, x_stride, n_tok, scratch);
}

void kern_matmul(om_pool *pool, uint32_t wtype, const void *w, size_t wstride, int64_t rows,
                 int64_t k, const float *x, int64_t x_stride, int64_t n_tok, float *y,
                 int64_t y_stride, void *scratch)
{
    kern_matmul_ops(kern_ops_active(), pool, wtype, w, wstride, rows, k, x, x_stride, n_tok, y,
                    y_stride, scratch);
}

void kern_matmul_ops(const struct kern_ops *ops, om_pool *pool, uint32_t wtype, const void *w,
                     size_t wstride, int64_t rows, int64_t k, const float *x, int64_t x_stride,
                     int64_t n_tok, float *y, int64_t y_stride, void *scratch)
{
    struct kern_mm_out o = {wtype, w, wstride, rows, y, y_stride};
    kern_matmul_multi_ops(ops, pool, &o, 1, k, x, x_stride, n_tok, scratch);
}
