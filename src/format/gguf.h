/* format: GGUF v2/v3 reader and writer.
 *
 * The reader mmaps the file read-only and validates every count, offset,
 * size, shape and type against the file before anything is used: a
 * truncated, corrupted or hostile file yields OM_EFORMAT (or OM_EUNSUPPORTED
 * for an unknown tensor type) and a message in `err` naming the key, tensor or
 * offset. Strings and tensor data are views into the mapping, valid until
 * gguf_close(). Allocation is bounded by the file size. */
#ifndef GGUF_H
#define GGUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

enum gguf_vtype {
    GGUF_VT_UINT8 = 0,
    GGUF_VT_INT8 = 1,
    GGUF_VT_UINT16 = 2,
    GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4,
    GGUF_VT_INT32 = 5,
    GGUF_VT_FLOAT32 = 6,
    GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8,
    GGUF_VT_ARRAY = 9,
    GGUF_VT_UINT64 = 10,
    GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
    GGUF_VT_COUNT
};

/* A string view into the file (not NUL-terminated). */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the row length (contiguous); unused dims are 1 */
    uint32_t type;             /* enum om_type */
    uint64_t offset;           /* relative to the start of the data section */
    const void *data;          /* view into the mapping */
    size_t size;               /* bytes */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* Opens and validates path. On success *out owns the mapping; on failure
 * *out is NULL and err says what was wrong. */
int gguf_open(const char *path, gguf_file **out, char *err, size_t errlen);
/* Same over a caller-owned buffer (used by the fuzzer and tests); the buffer
 * must outlive the returned handle. */
int gguf_open_mem(const void *buf, size_t len, gguf_file **out, char *err, size_t errlen);
void gguf_close(gguf_file *f);

uint32_t gguf_version(const gguf_file *f);
size_t gguf_file_size(const gguf_file *f);
uint32_t gguf_alignment(const gguf_file *f);

/* Metadata. Keys are looked up by exact name; -1 when absent. */
int64_t gguf_n_kv(const gguf_file *f);
int64_t gguf_find_key(const gguf_file *f, const char *key);
gguf_str gguf_key_name(const gguf_file *f, int64_t i);
enum gguf_vtype gguf_kv_type(const gguf_file *f, int64_t i);

/* Start of the data section (file offset); tensor data lies at
 * gguf_data_offset() + gguf_tensor.offset. */
uint64_t gguf_data_offset(const gguf_file *f);

/* Typed getters by key. Each returns 0 on success, OM_ENOTFOUND when the key
 * is absent, OM_EFORMAT when its type does not fit (integers of any width
 * convert; floats accept f32/f64), OM_ERANGE when an integer does not fit in
 * the requested type (e.g. a negative i32 read as u32). */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
int gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out);
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);
int gguf_get_f32(const gguf_file *f, const char *key, float *out);
int gguf_get_f64(const gguf_file *f, const char *key, double *out);
int gguf_get_bool(const gguf_file *f, const char *key, int *out);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);

/* Arrays: element type and count; for fixed-size elements a pointer to the
 * packed little-endian elements in the file (may be unaligned: memcpy). For
 * string arrays and arrays of arrays data points at the first encoded element
 * (use gguf_get_arr_str / gguf_value_at instead). Any out-param may be NULL. */
int gguf_get_arr(const gguf_file *f, const char *key, enum gguf_vtype *elem_type,
                 uint64_t *n, const void **data);
/* i-th string of a string array (O(1); the reader indexes string arrays).
 * OM_EFORMAT when key is not a string array, OM_ERANGE when i >= count. */
int gguf_get_arr_str(const gguf_file *f, const char *key, uint64_t i, gguf_str *out);

/* Generic view of any value, for nested arrays and dumping tools.
 * type: the value's type. Scalars: data points to the little-endian value,
 * size its width. Strings: data/size are the bytes. Arrays: elem_type, n,
 * data = first encoded element, size = bytes of all elements. */
typedef struct gguf_value {
    enum gguf_vtype type;
    enum gguf_vtype elem_type;
    uint64_t n;
    const void *data;
    uint64_t size;
} gguf_value;

/* Value of kv i / of key; OM_ENOTFOUND when absent. */
int gguf_kv_value(const gguf_file *f, int64_t i, gguf_value *out);
int gguf_get_value(const gguf_file *f, const char *key, gguf_value *out);
/* Element i of an array value (O(1) for fixed-size elements, O(i) for
 * strings and nested arrays). OM_EINVAL when arr is not an array,
 * OM_ERANGE when i >= arr->n. */
int gguf_value_at(const gguf_value *arr, uint64_t i, gguf_value *out);

/* Tensors. */
int64_t gguf_n_tensors(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* True when s equals the NUL-terminated c. */
int gguf_str_eq(gguf_str s, const char *c);
/* Copies s into buf (size n >= 1) with a NUL; returns 0, or OM_ERANGE when it
 * had to truncate (buf then holds the first n-1 bytes). */
int gguf_str_copy(gguf_str s, char *buf, size_t n);
/* "u8", "i8", ..., "str", "arr"; "unknown" for values past the enum. */
const char *gguf_vtype_name(enum gguf_vtype t);

/* ---- writer ----
 * Builds a GGUF v3 file: metadata and tensor infos are collected (tensor data
 * copied, borrowed or produced by a callback at write time), then
 * gguf_writer_write() streams header, infos and aligned data to a temp file
 * in the target's directory, fsyncs it and renames it over the target.
 *
 * Setters that return void record the first misuse (bad key, bad type,
 * malformed raw value) in the writer; gguf_writer_write() then fails with it.
 * Setting a key again replaces its value and keeps its position. The
 * alignment is the value of key general.alignment (u32) when set, else 32. */
typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void);
/* Frees w and its copies; borrowed tensor data is not touched. NULL: no-op. */
void gguf_writer_free(gguf_writer *w);
/* Sets general.alignment (must be a nonzero power of two). */
void gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment);
void gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v);
void gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v);
void gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v);
void gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v);
void gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
void gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v);
void gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
void gguf_writer_set_f64(gguf_writer *w, const char *key, double v);
void gguf_writer_set_bool(gguf_writer *w, const char *key, int v);
void gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
/* A string with explicit length (may hold any bytes). */
void gguf_writer_set_strn(gguf_writer *w, const char *key, const char *v, uint64_t len);
/* Arrays of fixed-size elements (copied). */
void gguf_writer_set_arr(gguf_writer *w, const char *key, enum gguf_vtype elem_type,
                         const void *data, uint64_t n);
void gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* Any value given in its GGUF encoding (without the type tag): e.g. for
 * GGUF_VT_ARRAY, elem type u32 + count u64 + elements, which may themselves
 * be arrays (nested arrays). Copied. Returns OM_EINVAL (and records it) when
 * payload is not exactly one well-formed value of that type. */
int gguf_writer_set_raw(gguf_writer *w, const char *key, enum gguf_vtype type,
                        const void *payload, size_t len);
/* Removes key if present (e.g. to drop a key copied from a source). */
void gguf_writer_remove(gguf_writer *w, const char *key);
/* Copies every metadata key of src (used to re-write a model, e.g. quantize). */
void gguf_writer_copy_kv(gguf_writer *w, const gguf_file *src);

/* Adds a tensor; data (size bytes = om_type_row_size(type, ne[0]) * rows) is
 * copied. Returns OM_EINVAL when size does not match the shape and type, the
 * name is taken, or the shape is invalid (nothing is recorded then). */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const int64_t *ne, const void *data, size_t size);
/* Same, but data is borrowed: it must stay valid until gguf_writer_write()
 * returned (e.g. a view into a source gguf_file's mapping). */
int gguf_writer_add_tensor_ref(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                               const int64_t *ne, const void *data, size_t size);

/* Streaming tensors: during gguf_writer_write() the writer calls fn once,
 * in tensor order, and fn must pass exactly the tensor's size bytes to
 * gguf_sink_write() (in as many pieces as it likes), then return 0, or a
 * negative code to abort the write. Lets a quantizer produce a multi-GB
 * model one tensor (or row block) at a time. */
typedef struct gguf_sink gguf_sink;
typedef int (*gguf_tensor_write_fn)(void *ctx, const char *name, gguf_sink *sink);
int gguf_sink_write(gguf_sink *sink, const void *data, size_t n);
int gguf_writer_add_tensor_stream(gguf_writer *w, const char *name, uint32_t type,
                                  uint32_t n_dims, const int64_t *ne, gguf_tensor_write_fn fn,
                                  void *ctx);

/* Writes the file atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory). On failure the target is untouched, the
 * temp file removed, and err names the step. The writer may be written
 * again afterwards. */
int gguf_writer_write(gguf_writer *w, const char *path, char *err, size_t errlen);

#endif
