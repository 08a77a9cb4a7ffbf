/* store: writing a model through format's gguf_writer (store_write_model),
 * shared by the quantizer and the synthesizer.
 *
 * Every tensor is declared as a streamed tensor; when the writer asks for its
 * bytes, the callback reports progress, then either pushes the tensor's bytes
 * as they are or produces its rows in chunks of CHUNK_BYTES of output: each
 * pool thread takes a contiguous slice of the chunk's rows, makes each row in
 * F32 with the caller's row function, checks it is finite and converts it to
 * the output type; the chunk then goes to the sink. A row's bytes depend only
 * on the row, so the file is the same for any thread count. Failures of our
 * own (cancel, NaN, sink) are worded here and replace the writer's generic
 * "producer failed" message. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "base/om_pool.h"
#include "base/om_types.h"
#include "store/store_int.h"

#define CHUNK_BYTES (8u << 20)

struct wstate {
    const struct store_plan_tensor *plan;
    const struct store_src *src;
    size_t n;
    om_pool *pool;    /* NULL: single-threaded */
    int n_threads;
    float **scratch;  /* one F32 row per thread */
    uint8_t *buf;     /* one chunk of output rows */
    size_t buf_cap;
    store_progress_fn progress;
    void *progress_ud;
    int rc;           /* our own failure, worded in msg */
    char msg[512];
};

/* The writer's ctx for tensor k. */
struct wslot {
    struct wstate *s;
    size_t k;
};

/* One chunk of rows [row0, row0 + nrows), made by every thread of the pool. */
struct cjob {
    const struct store_src *src;
    int64_t row0, nrows, ne0;
    uint32_t type;
    size_t dst_row;
    uint8_t *dst;
    float **scratch;
    int64_t bad_row; /* a row (in the chunk) with a non-finite value, or -1 */
};

static void cjob_run(void *ctx, int ith, int nth)
{
    struct cjob *j = ctx;
    int64_t r0 = j->nrows * ith / nth, r1 = j->nrows * (ith + 1) / nth;
    float *f = j->scratch[ith];
    for (int64_t r = r0; r < r1; r++) {
        j->src->row(j->src->row_ctx, j->row0 + r, f, j->ne0);
        for (int64_t i = 0; i < j->ne0; i++)
            if (!isfinite(f[i])) {
                /* Benign race: any bad row is reported. */
                __atomic_store_n(&j->bad_row, r, __ATOMIC_RELAXED);
                break;
            }
        store_row_from_f32(j->type, f, j->dst + (size_t)r * j->dst_row, j->ne0);
    }
}

static int sink_put(struct wstate *s, gguf_sink *sink, const char *name, const void *p, size_t n)
{
    int rc = gguf_sink_write(sink, p, n);
    if (rc)
        s->rc = om_err(s->msg, sizeof(s->msg), rc, "tensor %s: write failed: %s", name,
                       rc == OM_EIO ? strerror(errno) : om_strerror(rc));
    return rc;
}

/* gguf_tensor_write_fn: the bytes of tensor k. */
static int tensor_write(void *ctx, const char *name, gguf_sink *sink)
{
    const struct wslot *sl = ctx;
    struct wstate *s = sl->s;
    const struct store_plan_tensor *pt = &s->plan[sl->k];
    const struct store_src *src = &s->src[sl->k];
    const int64_t ne0 = pt->ne[0], rows = pt->ne[1] * pt->ne[2] * pt->ne[3];
    const size_t dst_row = om_type_row_size(pt->dst_type, ne0);
    if (s->progress) {
        struct store_progress p = {(int64_t)sl->k, (int64_t)s->n, name, pt->src_type,
                                   pt->dst_type, src->bytes_in, (uint64_t)dst_row * (uint64_t)rows};
        if (s->progress(&p, s->progress_ud))
            return s->rc = om_err(s->msg, sizeof(s->msg), OM_ECANCELED, "canceled at tensor %s",
                                  name);
    }
    if (src->copy)
        return sink_put(s, sink, name, src->copy, dst_row * (size_t)rows);
    const int64_t chunk = OM_MIN(OM_MAX((int64_t)1, (int64_t)(CHUNK_BYTES / dst_row)), rows);
    if ((size_t)chunk * dst_row > s->buf_cap) {
        free(s->buf);
        s->buf_cap = (size_t)chunk * dst_row;
        s->buf = om_xmalloc(s->buf_cap);
    }
    for (int64_t r = 0; r < rows; r += chunk) {
        int64_t nr = OM_MIN(chunk, rows - r);
        struct cjob j = {src, r, nr, ne0, pt->dst_type, dst_row, s->buf, s->scratch, -1};
        om_pool_run(nr >= s->n_threads ? s->pool : NULL, cjob_run, &j);
        if (j.bad_row >= 0)
            return s->rc = om_err(s->msg, sizeof(s->msg), OM_EFORMAT,
                                  "tensor %s: row %lld has a NaN or Inf value", name,
                                  (long long)(r + j.bad_row));
        int rc = sink_put(s, sink, name, s->buf, (size_t)nr * dst_row);
        if (rc)
            return rc;
    }
    return 0;
}

int store_write_model(gguf_writer *w, const struct store_plan_tensor *plan,
                      const struct store_src *src, size_t n, int n_threads,
                      store_progress_fn progress, void *progress_ud, const char *path, char *err,
                      size_t errlen)
{
    struct wstate s = {.plan = plan, .src = src, .n = n, .progress = progress,
                       .progress_ud = progress_ud};
    struct wslot *slot = om_xcalloc(n ? n : 1, sizeof(*slot));
    int rc = 0;
    int64_t max_ne0 = 1;
    for (size_t k = 0; k < n && !rc; k++) {
        const struct store_plan_tensor *pt = &plan[k];
        slot[k] = (struct wslot){&s, k};
        if (!src[k].copy)
            max_ne0 = OM_MAX(max_ne0, pt->ne[0]);
        if (gguf_writer_add_tensor_stream(w, pt->name, pt->dst_type, pt->n_dims, pt->ne,
                                          tensor_write, &slot[k]))
            rc = om_err(err, errlen, OM_EINVAL,
                        "tensor %s: cannot declare it as %s with row length %lld", pt->name,
                        om_type_name(pt->dst_type), (long long)pt->ne[0]);
    }
    if (rc) {
        free(slot);
        return rc;
    }
    s.n_threads = n_threads > 0 ? n_threads : om_cpu_physical_cores();
    s.pool = s.n_threads > 1 ? om_pool_new(s.n_threads) : NULL;
    if (!s.pool)
        s.n_threads = 1;
    s.scratch = om_xcalloc((size_t)s.n_threads, sizeof(float *));
    for (int i = 0; i < s.n_threads; i++)
        s.scratch[i] = om_xmalloc((size_t)max_ne0 * sizeof(float));
    rc = gguf_writer_write(w, path, err, errlen);
    if (rc && s.rc)
        rc = om_err(err, errlen, s.rc, "%s", s.msg);
    for (int i = 0; i < s.n_threads; i++)
        free(s.scratch[i]);
    free(s.scratch);
    free(s.buf);
    om_pool_free(s.pool);
    free(slot);
    return rc;
}

void store_set_ftype(gguf_writer *w, enum store_ftype ftype)
{
    gguf_writer_set_u32(w, "general.quantization_version", STORE_QNT_VERSION);
    gguf_writer_set_u32(w, "general.file_type", (uint32_t)store_ftype_llama(ftype));
}
