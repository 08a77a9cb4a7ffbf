/* format: lookups and typed getters over a validated GGUF file.
 *
 * Everything here runs after gguf_open*() checked the file, so values can be
 * decoded without further bounds checks; what is still checked is what the
 * caller asks for (key present, type fits, index in range). */
#include "format/gguf_int.h"

#include <string.h>

#include "base/om.h"

uint32_t gguf_version(const gguf_file *f) { return f->version; }
size_t gguf_file_size(const gguf_file *f) { return f->size; }
uint32_t gguf_alignment(const gguf_file *f) { return f->alignment; }
uint64_t gguf_data_offset(const gguf_file *f) { return f->data_offset; }
int64_t gguf_n_kv(const gguf_file *f) { return f->n_kv; }
int64_t gguf_n_tensors(const gguf_file *f) { return f->n_tensors; }

int gguf_str_eq(gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

int gguf_str_copy(gguf_str s, char *buf, size_t n)
{
    if (n == 0)
        return OM_ERANGE;
    size_t k = s.len < n ? (size_t)s.len : n - 1;
    memcpy(buf, s.ptr, k);
    buf[k] = 0;
    return k == s.len ? 0 : OM_ERANGE;
}

const char *gguf_vtype_name(enum gguf_vtype t)
{
    static const char *const names[GGUF_VT_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
    };
    return (unsigned)t < GGUF_VT_COUNT ? names[t] : "unknown";
}

static int64_t htab_find(const struct gguf_htab *t, const void *arr, size_t stride, const char *s)
{
    if (!t->slot || !s)
        return -1;
    size_t n = strlen(s);
    for (uint64_t h = gguf_hash(t->seed, s, n) & t->mask;; h = (h + 1) & t->mask) {
        int64_t j = t->slot[h] - 1;
        if (j < 0)
            return -1;
        const gguf_str *o = (const gguf_str *)((const char *)arr + (size_t)j * stride);
        if (o->len == n && memcmp(o->ptr, s, n) == 0)
            return j;
    }
}

int64_t gguf_find_key(const gguf_file *f, const char *key)
{
    return htab_find(&f->kv_tab, f->kv, sizeof(*f->kv), key);
}

gguf_str gguf_key_name(const gguf_file *f, int64_t i)
{
    gguf_str none = {"", 0};
    return i >= 0 && i < f->n_kv ? f->kv[i].key : none;
}

enum gguf_vtype gguf_kv_type(const gguf_file *f, int64_t i)
{
    return i >= 0 && i < f->n_kv ? (enum gguf_vtype)f->kv[i].type : GGUF_VT_COUNT;
}

int gguf_kv_value(const gguf_file *f, int64_t i, gguf_value *out)
{
    if (i < 0 || i >= f->n_kv)
        return OM_ENOTFOUND;
    const struct gguf_kv *kv = &f->kv[i];
    out->type = (enum gguf_vtype)kv->type;
    out->elem_type = (enum gguf_vtype)kv->elem_type;
    out->n = kv->n;
    out->data = kv->val;
    out->size = kv->val_len;
    return 0;
}

int gguf_get_value(const gguf_file *f, const char *key, gguf_value *out)
{
    return gguf_kv_value(f, gguf_find_key(f, key), out);
}

/* Size in bytes of the encoded value of type t at p (already validated). */
static uint64_t value_len(const uint8_t *p, uint32_t t)
{
    if (t == GGUF_VT_STRING)
        return 8 + gguf_rd_u64(p);
    if (t != GGUF_VT_ARRAY)
        return gguf_vtype_size(t);
    uint32_t et = gguf_rd_u32(p);
    uint64_t n = gguf_rd_u64(p + 4), q = 12;
    if (et != GGUF_VT_STRING && et != GGUF_VT_ARRAY)
        return q + n * gguf_vtype_size(et);
    for (uint64_t i = 0; i < n; i++)
        q += value_len(p + q, et);
    return q;
}

int gguf_value_at(const gguf_value *arr, uint64_t i, gguf_value *out)
{
    if (arr->type != GGUF_VT_ARRAY)
        return OM_EINVAL;
    if (i >= arr->n)
        return OM_ERANGE;
    uint32_t et = arr->elem_type;
    const uint8_t *p = arr->data;
    if (et != GGUF_VT_STRING && et != GGUF_VT_ARRAY) {
        p += i * gguf_vtype_size(et);
    } else {
        for (uint64_t j = 0; j < i; j++)
            p += value_len(p, et);
    }
    memset(out, 0, sizeof(*out));
    out->type = (enum gguf_vtype)et;
    if (et == GGUF_VT_STRING) {
        out->size = gguf_rd_u64(p);
        out->data = p + 8;
    } else if (et == GGUF_VT_ARRAY) {
        out->elem_type = (enum gguf_vtype)gguf_rd_u32(p);
        out->n = gguf_rd_u64(p + 4);
        out->data = p + 12;
        out->size = value_len(p, et) - 12;
    } else {
        out->data = p;
        out->size = gguf_vtype_size(et);
    }
    return 0;
}

/* Decodes an integer scalar; 0 on success, OM_EFORMAT when not an integer.
 * Unsigned 64-bit values go to *u with *is_u set, so no range is lost. */
static int get_int(const struct gguf_kv *kv, int64_t *s, uint64_t *u, int *is_u)
{
    const uint8_t *p = kv->val;
    *is_u = 0;
    switch (kv->type) {
    case GGUF_VT_UINT8: *s = p[0]; return 0;
    case GGUF_VT_INT8: *s = (int8_t)p[0]; return 0;
    case GGUF_VT_UINT16: *s = (uint16_t)(p[0] | p[1] << 8); return 0;
    case GGUF_VT_INT16: *s = (int16_t)(uint16_t)(p[0] | p[1] << 8); return 0;
    case GGUF_VT_UINT32: *s = gguf_rd_u32(p); return 0;
    case GGUF_VT_INT32: *s = (int32_t)gguf_rd_u32(p); return 0;
    case GGUF_VT_INT64: *s = (int64_t)gguf_rd_u64(p); return 0;
    case GGUF_VT_UINT64: *u = gguf_rd_u64(p); *is_u = 1; return 0;
    default: return OM_EFORMAT;
    }
}

static const struct gguf_kv *lookup(const gguf_file *f, const char *key)
{
    int64_t i = gguf_find_key(f, key);
    return i < 0 ? NULL : &f->kv[i];
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out)
{
    const struct gguf_kv *kv = lookup(f, key);
    if (!kv)
        return OM_ENOTFOUND;
    int64_t s;
    uint64_t u;
    int is_u, rc = get_int(kv, &s, &u, &is_u);
    if (rc)
        return rc;
    if (is_u) {
        if (u > (uint64_t)INT64_MAX)
            return OM_ERANGE;
        s = (int64_t)u;
    }
    *out = s;
    return 0;
}

int gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out)
{
    const struct gguf_kv *kv = lookup(f, key);
    if (!kv)
        return OM_ENOTFOUND;
    int64_t s;
    uint64_t u;
    int is_u, rc = get_int(kv, &s, &u, &is_u);
    if (rc)
        return rc;
    if (!is_u) {
        if (s < 0)
            return OM_ERANGE;
        u = (uint64_t)s;
    }
    *out = u;
    return 0;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out)
{
    uint64_t v;
    int rc = gguf_get_u64(f, key, &v);
    if (rc)
        return rc;
    if (v > UINT32_MAX)
        return OM_ERANGE;
    *out = (uint32_t)v;
    return 0;
}

int gguf_get_f64(const gguf_file *f, const char *key, double *out)
{
    const struct gguf_kv *kv = lookup(f, key);
    if (!kv)
        return OM_ENOTFOUND;
    if (kv->type == GGUF_VT_FLOAT32) {
        uint32_t bits = gguf_rd_u32(kv->val);
        float v;
        memcpy(&v, &bits, 4);
        *out = v;
    } else if (kv->type == GGUF_VT_FLOAT64) {
        uint64_t bits = gguf_rd_u64(kv->val);
        memcpy(out, &bits, 8);
    } else {
        return OM_EFORMAT;
    }
    return 0;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out)
{
    double v;
    int rc = gguf_get_f64(f, key, &v);
    if (!rc)
        *out = (float)v;
    return rc;
}

int gguf_get_bool(const gguf_file *f, const char *key, int *out)
{
    const struct gguf_kv *kv = lookup(f, key);
    if (!kv)
        return OM_ENOTFOUND;
    if (kv->type != GGUF_VT_BOOL)
        return OM_EFORMAT;
    *out = kv->val[0] != 0;
    return 0;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out)
{
    const struct gguf_kv *kv = lookup(f, key);
    if (!kv)
        return OM_ENOTFOUND;
    if (kv->type != GGUF_VT_STRING)
        return OM_EFORMAT;
    out->ptr = (const char *)kv->val;
    out->len = kv->val_len;
    return 0;
}

int gguf_get_arr(const gguf_file *f, const char *key, enum gguf_vtype *elem_type, uint64_t *n,
                 const void **data)
{
    const struct gguf_kv *kv = lookup(f, key);
    if (!kv)
        return OM_ENOTFOUND;
    if (kv->type != GGUF_VT_ARRAY)
        return OM_EFORMAT;
    if (elem_type)
        *elem_type = (enum gguf_vtype)kv->elem_type;
    if (n)
        *n = kv->n;
    if (data)
        *data = kv->val;
    return 0;
}

int gguf_get_arr_str(const gguf_file *f, const char *key, uint64_t i, gguf_str *out)
{
    const struct gguf_kv *kv = lookup(f, key);
    if (!kv)
        return OM_ENOTFOUND;
    if (kv->type != GGUF_VT_ARRAY || kv->elem_type != GGUF_VT_STRING)
        return OM_EFORMAT;
    if (i >= kv->n)
        return OM_ERANGE;
    const uint8_t *p = kv->val + kv->str_off[i];
    out->len = gguf_rd_u64(p);
    out->ptr = (const char *)p + 8;
    return 0;
}

const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i)
{
    return i >= 0 && i < f->n_tensors ? &f->tensors[i] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    int64_t i = htab_find(&f->t_tab, f->tensors, sizeof(*f->tensors), name);
    return i < 0 ? NULL : &f->tensors[i];
}
