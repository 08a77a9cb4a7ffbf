/* store: the GGUF quantizer (store_quantize_file).
 *
 * Pass 1 reads the input's tensor table and plans every output type
 * (store_quant_rules.c), so the output header is final before any data is
 * written. Pass 2 (store_write_model) streams tensors in llama.cpp's order
 * through format's gguf_writer: rows are converted to F32 and quantized in
 * chunks of a few MiB on a thread pool; tensors already of their target type
 * are copied from the input's mapping. Memory: one chunk plus one F32 row per
 * thread. Also holds the row converters shared with the synthesizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "base/om_types.h"
#include "format/gguf.h"
#include "kernels/kern.h"
#include "store/store_int.h"

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

/* store_row_fn over a source tensor (F32, F16 or BF16 rows). */
static void src_row(const void *ctx, int64_t r, float *x, int64_t ne0)
{
    const gguf_tensor *t = ctx;
    size_t row = om_type_row_size(t->type, ne0);
    store_row_to_f32(t->type, (const uint8_t *)t->data + (size_t)r * row, x, ne0);
}

struct qctx {
    gguf_file *in;
    gguf_writer *out;
    struct store_plan_tensor *plan;
    struct store_src *src;
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
    gguf_writer_free(q->out);
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
        q.src[k] = (struct store_src){NULL, src_row, t, t->size};
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
        if (pt->dst_type == pt->src_type) { /* kept: copied from the input's mapping */
            const gguf_tensor *t = q.src[k].row_ctx;
            q.src[k].copy = t->data;
            continue;
        }
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

    q.out = gguf_writer_new();
    gguf_writer_copy_kv(q.out, q.in);
    gguf_writer_remove(q.out, "split.no");
    gguf_writer_remove(q.out, "split.count");
    gguf_writer_remove(q.out, "split.tensors.count");
    store_set_ftype(q.out, ftype);
    rc = store_write_model(q.out, q.plan, q.src, q.n, n_threads, progress, progress_ud, out_path,
                           err, errlen);
done:
    qctx_free(&q);
    return rc;
}
