/* store: private interfaces shared by the files of src/store.
 *
 * Output goes through format/gguf.h's gguf_writer: the caller sets the
 * metadata on a writer, then store_write_model() declares every tensor as a
 * streamed one and writes the file. Each tensor is either copied as is or
 * produced row by row as F32, converted to its output type in chunks of a few
 * MiB on a thread pool and pushed to the writer's sink, so a model of any size
 * is written with one chunk plus one F32 row per thread of memory. */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "format/gguf.h"
#include "store/store.h"

#define STORE_QNT_VERSION 2 /* general.quantization_version (GGML_QNT_VERSION) */

/* Writes row r (ne0 values) of a tensor as F32 into x. Called concurrently
 * from the pool's threads, for distinct rows; must not fail. */
typedef void (*store_row_fn)(const void *ctx, int64_t r, float *x, int64_t ne0);

/* Where the bytes of one output tensor come from. */
struct store_src {
    const void *copy;     /* non-NULL: the tensor's bytes in its output type, written as is */
    store_row_fn row;     /* else: produces its rows as F32 */
    const void *row_ctx;  /* borrowed; passed to row */
    uint64_t bytes_in;    /* reported to progress */
};

/* Adds the n tensors of plan (names, shapes, src_type and dst_type; in file
 * order) to w as streamed tensors, with bytes from src, and writes w to path
 * atomically (gguf_writer_write). Rows whose F32 values hold a NaN or Inf fail
 * the write with OM_EFORMAT naming the tensor and row. progress (may be NULL)
 * is called before each tensor's data is written; non-zero cancels with
 * OM_ECANCELED. n_threads <= 0: physical cores; the bytes written do not
 * depend on it. On failure nothing is left at path (an earlier file there is
 * untouched) and err names the tensor or step. plan, src and w stay the
 * caller's; afterwards w holds callbacks into this call's state, so it may
 * only be freed, not written again. */
int store_write_model(gguf_writer *w, const struct store_plan_tensor *plan,
                      const struct store_src *src, size_t n, int n_threads,
                      store_progress_fn progress, void *progress_ud, const char *path, char *err,
                      size_t errlen);

/* Sets general.quantization_version and general.file_type for ftype, in that
 * order (a key already present keeps its position). */
void store_set_ftype(gguf_writer *w, enum store_ftype ftype);

/* Converts one row of n F32 values into type (F32, F16, BF16 or a quantized
 * type the kernels support). Returns bytes written, 0 when unsupported. */
size_t store_row_from_f32(uint32_t type, const float *x, void *y, int64_t n);
/* Converts one row of n values of F32/F16/BF16 into floats; 0 if unsupported. */
int store_row_to_f32(uint32_t type, const void *x, float *y, int64_t n);
/* 1 when store_row_from_f32 can produce type. */
int store_type_writable(uint32_t type);

/* Sort order of llama.cpp's loader: layer number of "blk.N." (-1 for none),
 * then name. qsort-style compare of two names. */
int store_tensor_name_cmp(const char *a, const char *b);

#endif
