/* store: the GGUF quantizer (store_quantize_file).
 *
 * Pass 1 reads the input's tensor table and plans every output type
 * (store_quant_rules.c), so the output header is final before any data is
 * written. Pass 2 streams tensors in llama.cpp's order: rows are converted to
 * F32 and quantized in chunks of a few MiB on a thread pool (each thread takes
 * a contiguous slice of the chunk's rows), and the chunk is appended to the
 * temp file. Memory: one chunk plus one F32 row per thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "base/om_pool.h"
#include "base/om_types.h"
#include "format/gguf.h"
#include "kernels/kern.h"
#include "store/store_int.h"

#define CHUNK_BYTES (8u << 20)

int store_type_writable(uint32_t type)
{
    if (type == OM_TYPE_F32 || type == OM_TYPE_F16 || type == OM_TYPE_BF16)
        return 1;
    if (type >= OM_TYPE_COUNT || !om_type_get(type))
        return 0;
    return kern_ops_active()->type[type].from_float != NULL;
}

size_t store_row_from_f32(uint32_t type, const float *x, void *y, int64_t n)
{
    switch (type) {
    case OM_TYPE_F32:
        memcpy(y, x, (size_t)n * sizeof(float));
        return (size_t)n * sizeof(float);
    case OM_TYPE_F16: {
        om_f16 *h = y;
        for (int64_t i = 0; i < n; i++)
            h[i] = kern_f32_to_f16(x[i]);
        return (size_t)n * 2;
    }
    case OM_TYPE_BF16: {
        om_bf16 *h = y;
        for (int64_t i = 0; i < n; i++)
            h[i] = kern_f32_to_bf16(x[i]);
        return (size_t)n * 2;
    }
    default:
        if (!store_type_writable(type) || !om_type_row_size(type, n))
            return 0;
        kern_quantize_row(type, x, y, n);
        return om_type_row_size(type, n);
    }
}

int store_row_to_f32(uint32_t type, const void *x, float *y, int64_t n)
{
    switch (type) {
    case OM_TYPE_F32:
        memcpy(y, x, (size_t)n * sizeof(float));
        return 1;
    case OM_TYPE_F16: {
        const uint8_t *p = x;
        for (int64_t i = 0; i < n; i++) {
            om_f16 h;
            memcpy(&h, p + 2 * i, 2); /* file data may be unaligned */
            y[i] = kern_f16_to_f32(h);
        }
        return 1;
    }
    case OM_TYPE_BF16: {
        const uint8_t *p = x;
        for (int64_t i = 0; i < n; i++) {
            om_bf16 h;
            memcpy(&h, p + 2 * i, 2);
            y[i] = kern_bf16_to_f32(h);
        }
        return 1;
    }
    default:
        return 0;
    }
}

void store_gout_set_ftype(store_gout *g, enum store_ftype ftype)
{
    store_gout_set_u32(g, "general.quantization_version", STORE_QNT_VERSION);
    store_gout_set_u32(g, "general.file_type", (uint32_t)store_ftype_llama(ftype));
}

/* One chunk of rows, converted by every thread of the pool. */
struct qjob {
    const uint8_t *src;
    size_t src_row, dst_row;
    uint32_t src_type, dst_type;
    int64_t ne0, nrows;
    uint8_t *dst;
    float **scratch; /* one row per thread */
    int64_t bad_row; /* first row with a non-finite value, or -1 */
};

static void qjob_run(void *ctx, int ith, int nth)
{
    struct qjob *j = ctx;
    int64_t r0 = j->nrows * ith / nth, r1 = j->nrows * (ith + 1) / nth;
    float *f = j->scratch[ith];
    for (int64_t r = r0; r < r1; r++) {
        store_row_to_f32(j->src_type, j->src + (size_t)r * j->src_row, f, j->ne0);
        for (int64_t i = 0; i < j->ne0; i++)
            if (!isfinite(f[i])) {
                /* Benign race: any bad row is reported. */
                __atomic_store_n(&j->bad_row, r, __ATOMIC_RELAXED);
                break;
            }
        store_row_from_f32(j->dst_type, f, j->dst + (size_t)r * j->dst_row, j->ne0);
    }
}

struct qctx {
    gguf_file *in;
    store_gout *out;
    om_pool *pool;
    int n_threads;
    struct store_plan_tensor *plan;
    const gguf_tensor **src;
    char **names;
    size_t n;
};

static void qctx_free(struct qctx *q)
{
    if (q->names)
        for (size_t i = 0; i < q->n; i++)
            free(q->names[i]);
    free(q->names);
    free(q->plan);
    free(q->src);
    store_gout_free(q->out);
    om_pool_free(q->pool);
    gguf_close(q->in);
}

static int read_model_info(const gguf_file *f, struct store_model_info *mi, char *arch,
                           size_t arch_len)
{
    gguf_str s;
    memset(mi, 0, sizeof(*mi));
    arch[0] = 0;
    if (gguf_get_str(f, "general.architecture", &s) == 0) {
        size_t n = s.len < arch_len - 1 ? (size_t)s.len : arch_len - 1;
        memcpy(arch, s.ptr, n);
        arch[n] = 0;
    }
    mi->arch = arch;
    char key[160];
    uint32_t v;
    snprintf(key, sizeof(key), "%s.block_count", arch);
    if (gguf_get_u32(f, key, &v) == 0)
        mi->n_layer = (int)v;
    snprintf(key, sizeof(key), "%s.attention.head_count", arch);
    if (gguf_get_u32(f, key, &v) == 0)
        mi->n_head = (int)v;
    snprintf(key, sizeof(key), "%s.attention.head_count_kv", arch);
    mi->n_head_kv = gguf_get_u32(f, key, &v) == 0 ? (int)v : mi->n_head;
    snprintf(key, sizeof(key), "%s.expert_count", arch);
    if (gguf_get_u32(f, key, &v) == 0)
        mi->n_expert = (int)v;
    return 0;
}

static int quantize_tensor(struct qctx *q, size_t k, char *err, size_t errlen)
{
    const struct store_plan_tensor *pt = &q->plan[k];
    const gguf_tensor *st = q->src[k];
    if (pt->dst_type == st->type) /* copy as is */
        return store_gout_write(q->out, st->data, st->size, err, errlen);
    int64_t ne0 = st->ne[0];
    int64_t rows = st->ne[1] * st->ne[2] * st->ne[3];
    size_t src_row = om_type_row_size(st->type, ne0);
    size_t dst_row = om_type_row_size(pt->dst_type, ne0);
    int64_t chunk = (int64_t)(CHUNK_BYTES / dst_row);
    if (chunk < 1)
        chunk = 1;
    if (chunk > rows)
        chunk = rows;
    uint8_t *buf = om_xmalloc((size_t)chunk * dst_row);
    float **scratch = om_xcalloc((size_t)q->n_threads, sizeof(float *));
    for (int i = 0; i < q->n_threads; i++)
        scratch[i] = om_xmalloc((size_t)ne0 * sizeof(float));
    int rc = 0;
    for (int64_t r = 0; r < rows && !rc; r += chunk) {
        int64_t nr = rows - r < chunk ? rows - r : chunk;
        struct qjob j = {(const uint8_t *)st->data + (size_t)r * src_row, src_row, dst_row,
                         st->type, pt->dst_type, ne0, nr, buf, scratch, -1};
        om_pool_run(nr >= q->n_threads ? q->pool : NULL, qjob_run, &j);
        if (j.bad_row >= 0) {
            rc = om_err(err, errlen, OM_EFORMAT, "tensor %s: row %lld has a NaN or Inf value",
                        pt->name, (long long)(r + j.bad_row));
            break;
        }
        rc = store_gout_write(q->out, buf, (size_t)nr * dst_row, err, errlen);
    }
    for (int i = 0; i < q->n_threads; i++)
        free(scratch[i]);
    free(scratch);
    free(buf);
    return rc;
}

struct ord { const char *name; size_t i; };
static int ord_cmp(const void *a, const void *b)
{
    return store_tensor_name_cmp(((const struct ord *)a)->name, ((const struct ord *)b)->name);
}

int store_quantize_file(const char *in_path, const char *out_path, enum store_ftype ftype,
                        int n_threads, store_progress_fn progress, void *progress_ud, char *err,
                        size_t errlen)
{
    if (!in_path || !out_path)
        return om_err(err, errlen, OM_EINVAL, "missing input or output path");
    if ((unsigned)ftype >= STORE_FTYPE_COUNT)
        return om_err(err, errlen, OM_EINVAL, "invalid file type %d", (int)ftype);
    struct qctx q = {0};
    char msg[512];
    int rc = gguf_open(in_path, &q.in, msg, sizeof(msg));
    if (rc)
        return om_err(err, errlen, rc, "%s: %s", in_path, msg);
    char arch[64];
    struct store_model_info mi;
    read_model_info(q.in, &mi, arch, sizeof(arch));

    /* Tensors in llama.cpp's order. */
    q.n = (size_t)gguf_n_tensors(q.in);
    struct ord *ord = om_xmalloc((q.n ? q.n : 1) * sizeof(*ord));
    char **names = om_xcalloc(q.n ? q.n : 1, sizeof(char *));
    for (size_t i = 0; i < q.n; i++) {
        const gguf_tensor *t = gguf_tensor_at(q.in, (int64_t)i);
        names[i] = om_xmalloc(t->name.len + 1);
        memcpy(names[i], t->name.ptr, t->name.len);
        names[i][t->name.len] = 0;
        ord[i] = (struct ord){names[i], i};
    }
    qsort(ord, q.n, sizeof(*ord), ord_cmp);
    q.names = om_xcalloc(q.n ? q.n : 1, sizeof(char *));
    q.src = om_xcalloc(q.n ? q.n : 1, sizeof(*q.src));
    q.plan = om_xcalloc(q.n ? q.n : 1, sizeof(*q.plan));
    for (size_t k = 0; k < q.n; k++) {
        const gguf_tensor *t = gguf_tensor_at(q.in, (int64_t)ord[k].i);
        q.names[k] = names[ord[k].i];
        q.src[k] = t;
        q.plan[k] = (struct store_plan_tensor){q.names[k], t->n_dims,
                                               {t->ne[0], t->ne[1], t->ne[2], t->ne[3]},
                                               t->type, 0, 0};
    }
    free(names);
    free(ord);
    rc = store_plan_types(q.plan, q.n, ftype, &mi, err, errlen);
    if (rc)
        goto done;
    for (size_t k = 0; k < q.n; k++) {
        const struct store_plan_tensor *pt = &q.plan[k];
        if (pt->dst_type == pt->src_type)
            continue;
        if (pt->src_type != OM_TYPE_F32 && pt->src_type != OM_TYPE_F16 &&
            pt->src_type != OM_TYPE_BF16) {
            rc = om_err(err, errlen, OM_EUNSUPPORTED,
                        "tensor %s is already quantized (%s); requantizing to %s is not supported",
                        pt->name, om_type_name(pt->src_type), om_type_name(pt->dst_type));
            goto done;
        }
        if (!store_type_writable(pt->dst_type)) {
            rc = om_err(err, errlen, OM_EUNSUPPORTED, "tensor %s: no quantizer for type %s",
                        pt->name, om_type_name(pt->dst_type));
            goto done;
        }
    }

    q.out = store_gout_new();
    rc = store_gout_copy_kv(q.out, in_path, err, errlen);
    if (rc)
        goto done;
    store_gout_del(q.out, "split.no");
    store_gout_del(q.out, "split.count");
    store_gout_del(q.out, "split.tensors.count");
    store_gout_set_ftype(q.out, ftype);
    for (size_t k = 0; k < q.n && !rc; k++)
        rc = store_gout_add_tensor(q.out, q.names[k], q.plan[k].dst_type, q.plan[k].n_dims,
                                   q.plan[k].ne, err, errlen);
    if (rc)
        goto done;
    rc = store_gout_open(q.out, out_path, err, errlen);
    if (rc)
        goto done;
    q.n_threads = n_threads > 0 ? n_threads : om_cpu_physical_cores();
    q.pool = q.n_threads > 1 ? om_pool_new(q.n_threads) : NULL;
    if (!q.pool)
        q.n_threads = 1;
    for (size_t k = 0; k < q.n && !rc; k++) {
        if (progress) {
            struct store_progress p = {(int64_t)k, (int64_t)q.n, q.names[k], q.plan[k].src_type,
                                       q.plan[k].dst_type, q.src[k]->size,
                                       store_gout_tensor_size(q.out, k)};
            if (progress(&p, progress_ud)) {
                rc = om_err(err, errlen, OM_ECANCELED, "canceled at tensor %s", q.names[k]);
                break;
            }
        }
        rc = quantize_tensor(&q, k, err, errlen);
    }
    if (!rc)
        rc = store_gout_commit(q.out, err, errlen);
done:
    qctx_free(&q);
    return rc;
}
