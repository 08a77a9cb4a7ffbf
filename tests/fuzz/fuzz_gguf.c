/* fuzz: libFuzzer target for the GGUF reader (gguf_open_mem) and every
 * accessor over what it accepts. Built by `make fuzz` (clang, ASan+UBSan).
 * Invariants checked: an accepted file's tensors lie inside the input and do
 * not overlap, every string view lies inside the input, every nested value
 * can be walked; a refused file leaves *out NULL and a message in err. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"

static const uint8_t *g_lo, *g_hi;

static void inside(const void *p, uint64_t n)
{
    const uint8_t *q = p;
    if (n && (q < g_lo || q > g_hi || n > (uint64_t)(g_hi - q)))
        abort();
}

static void walk(const gguf_value *v, int depth)
{
    if (depth > 16)
        abort();
    inside(v->data, v->size);
    if (v->type != GGUF_VT_ARRAY)
        return;
    uint64_t n = v->n < 64 ? v->n : 64;
    for (uint64_t i = 0; i < n; i++) {
        gguf_value e;
        if (gguf_value_at(v, i, &e) != 0)
            abort();
        walk(&e, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size heap copy so ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    g_lo = buf;
    g_hi = buf + size;
    gguf_file *f = (gguf_file *)1;
    char err[256] = "";
    int rc = gguf_open_mem(buf, size, &f, err, sizeof(err));
    if (rc) {
        if (f || !err[0])
            abort();
        free(buf);
        return 0;
    }
    for (int64_t i = 0; i < gguf_n_kv(f); i++) {
        gguf_str k = gguf_key_name(f, i);
        inside(k.ptr, k.len);
        gguf_value v;
        if (gguf_kv_value(f, i, &v) != 0 || v.type != gguf_kv_type(f, i))
            abort();
        walk(&v, 0);
        /* typed getters by name (keys may hold NUL: only try clean ones) */
        char key[128];
        if (k.len < sizeof(key) && !memchr(k.ptr, 0, k.len)) {
            memcpy(key, k.ptr, k.len);
            key[k.len] = 0;
            if (gguf_find_key(f, key) != i)
                abort();
            uint32_t u32;
            int64_t i64;
            float f32;
            int b;
            gguf_str s;
            (void)gguf_get_u32(f, key, &u32);
            (void)gguf_get_i64(f, key, &i64);
            (void)gguf_get_f32(f, key, &f32);
            (void)gguf_get_bool(f, key, &b);
            if (gguf_get_str(f, key, &s) == 0)
                inside(s.ptr, s.len);
            for (uint64_t j = 0; j < 64 && gguf_get_arr_str(f, key, j, &s) == 0; j++)
                inside(s.ptr, s.len);
        }
    }
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        inside(t->name.ptr, t->name.len);
        inside(t->data, t->size);
        if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS || t->size == 0)
            abort();
        volatile uint8_t x = ((const uint8_t *)t->data)[0] ^ ((const uint8_t *)t->data)[t->size - 1];
        (void)x;
        for (int64_t j = i + 1; j < gguf_n_tensors(f) && j < i + 64; j++) {
            const gguf_tensor *u = gguf_tensor_at(f, j);
            const uint8_t *a = t->data, *c = u->data;
            if (a < c + u->size && c < a + t->size)
                abort();
        }
    }
    gguf_close(f);
    free(buf);
    return 0;
}
