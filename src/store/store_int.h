/* store: private interfaces shared by the files of src/store.
 *
 * store_gout is a streaming GGUF v3 writer: metadata and tensor infos are
 * declared first (every tensor's type and shape, hence its size, is known
 * before any data), then tensor bytes are appended in declaration order, so a
 * model of any size is written with no more memory than the caller's chunk.
 * (format/gguf.h's writer copies each tensor's data, which does not scale to
 * multi-GB models.) */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/om_pool.h"
#include "format/gguf.h"
#include "store/store.h"

#define STORE_QNT_VERSION 2 /* general.quantization_version (GGML_QNT_VERSION) */

typedef struct store_gout store_gout;

store_gout *store_gout_new(void);
/* Frees g; if the output was opened and not committed, the temp file is removed. */
void store_gout_free(store_gout *g);

/* Metadata setters; a key set twice keeps its first position and the last value. */
void store_gout_set_u32(store_gout *g, const char *key, uint32_t v);
void store_gout_set_i32(store_gout *g, const char *key, int32_t v);
void store_gout_set_f32(store_gout *g, const char *key, float v);
void store_gout_set_bool(store_gout *g, const char *key, int v);
void store_gout_set_str(store_gout *g, const char *key, const char *v);
void store_gout_set_arr(store_gout *g, const char *key, enum gguf_vtype elem, const void *data,
                        uint64_t n);
/* Array of n strings (each NUL-terminated). */
void store_gout_set_arr_str(store_gout *g, const char *key, const char *const *v, uint64_t n);
void store_gout_del(store_gout *g, const char *key);
/* Copies every key of the GGUF file at path, byte for byte, in file order.
 * Returns 0, or OM_EFORMAT / -errno with err set. */
int store_gout_copy_kv(store_gout *g, const char *path, char *err, size_t errlen);

/* Declares the next tensor. Returns OM_EINVAL (err set) when the row length
 * does not fit the type's block size. */
int store_gout_add_tensor(store_gout *g, const char *name, uint32_t type, uint32_t n_dims,
                          const int64_t *ne, char *err, size_t errlen);
/* Bytes of the data of declared tensor i. */
uint64_t store_gout_tensor_size(const store_gout *g, size_t i);

/* Creates a temp file beside path and writes header, metadata and tensor infos. */
int store_gout_open(store_gout *g, const char *path, char *err, size_t errlen);
/* Appends n bytes of tensor data (tensors in declaration order; a tensor may
 * take several calls). Padding between tensors is written automatically. */
int store_gout_write(store_gout *g, const void *data, size_t n, char *err, size_t errlen);
/* Checks that all data was written, fsyncs and renames over path. */
int store_gout_commit(store_gout *g, char *err, size_t errlen);

/* ---- shared by quantizer and synthesizer ---- */

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

/* Sets general.file_type and general.quantization_version for ftype. */
void store_gout_set_ftype(store_gout *g, enum store_ftype ftype);

#endif
