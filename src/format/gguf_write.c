/* format: GGUF v3 writer.
 *
 * Metadata values are kept in their GGUF encoding (one payload per key) so
 * that copying from a reader, nested arrays and plain setters all take the
 * same path. Tensor data is copied, borrowed or streamed from a callback at
 * write time, and written through a buffered stream: the whole file is never
 * held in memory. The output is written to "<path>.tmp.XXXXXX" in the same
 * directory, fsync'd and renamed over path, so a reader sees either the old
 * file or the complete new one. */
#include "format/gguf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/om.h"
#include "base/om_types.h"

struct wkv {
    char *key;
    uint32_t type;
    uint8_t *payload;
    size_t len;
};

struct wtensor {
    char *name;
    uint32_t type, n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    size_t size;
    uint64_t offset;
    const void *data;   /* borrowed or == owned */
    void *owned;
    gguf_tensor_write_fn fn;
    void *ctx;
};

struct gguf_writer {
    struct wkv *kv;
    size_t n_kv, cap_kv;
    struct wtensor *t;
    size_t n_t, cap_t;
    int rc;             /* first recorded misuse */
    char msg[256];
};

struct gguf_sink {
    FILE *fp;
    uint64_t left;
};

gguf_writer *gguf_writer_new(void)
{
    return om_xcalloc(1, sizeof(gguf_writer));
}

void gguf_writer_free(gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].payload);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].owned);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

static void record(gguf_writer *w, int rc, const char *fmt, const char *name)
{
    if (w->rc)
        return;
    w->rc = rc;
    snprintf(w->msg, sizeof(w->msg), fmt, name ? name : "(null)");
}

int gguf_writer_set_raw(gguf_writer *w, const char *key, enum gguf_vtype type,
                        const void *payload, size_t len)
{
    if (!key || strlen(key) > GGUF_MAX_KEY_LEN) {
        record(w, OM_EINVAL, "invalid key '%.100s'", key);
        return OM_EINVAL;
    }
    uint64_t pos = 0;
    char what[160], e[256];
    snprintf(what, sizeof(what), "key '%.100s'", key);
    static const uint8_t none[1];
    const uint8_t *p = payload ? payload : none;
    if (!payload)
        len = 0;
    if (gguf_value_scan(p, len, &pos, (uint32_t)type, 0, what, e, sizeof(e)) || pos != len) {
        record(w, OM_EINVAL, "key '%.100s': malformed value", key);
        return OM_EINVAL;
    }
    struct wkv *kv = NULL;
    for (size_t i = 0; i < w->n_kv && !kv; i++)
        if (strcmp(w->kv[i].key, key) == 0)
            kv = &w->kv[i];
    if (!kv) {
        if (w->n_kv == w->cap_kv) {
            w->cap_kv = w->cap_kv ? 2 * w->cap_kv : 16;
            w->kv = om_xrealloc(w->kv, w->cap_kv * sizeof(*w->kv));
        }
        kv = &w->kv[w->n_kv++];
        kv->key = om_xstrdup(key);
        kv->payload = NULL;
    }
    free(kv->payload);
    kv->type = (uint32_t)type;
    kv->len = len;
    kv->payload = om_xmalloc(len ? len : 1);
    memcpy(kv->payload, p, len);
    return 0;
}

void gguf_writer_remove(gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].key);
            free(w->kv[i].payload);
            memmove(&w->kv[i], &w->kv[i + 1], (w->n_kv - i - 1) * sizeof(*w->kv));
            w->n_kv--;
            return;
        }
    }
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void set_scalar(gguf_writer *w, const char *key, enum gguf_vtype t, uint64_t bits)
{
    uint8_t b[8];
    int n = (int)gguf_vtype_size(t);
    put_le(b, bits, n);
    gguf_writer_set_raw(w, key, t, b, (size_t)n);
}

void gguf_writer_set_u8(gguf_writer *w, const char *k, uint8_t v) { set_scalar(w, k, GGUF_VT_UINT8, v); }
void gguf_writer_set_i8(gguf_writer *w, const char *k, int8_t v) { set_scalar(w, k, GGUF_VT_INT8, (uint8_t)v); }
void gguf_writer_set_u16(gguf_writer *w, const char *k, uint16_t v) { set_scalar(w, k, GGUF_VT_UINT16, v); }
void gguf_writer_set_i16(gguf_writer *w, const char *k, int16_t v) { set_scalar(w, k, GGUF_VT_INT16, (uint16_t)v); }
void gguf_writer_set_u32(gguf_writer *w, const char *k, uint32_t v) { set_scalar(w, k, GGUF_VT_UINT32, v); }
void gguf_writer_set_i32(gguf_writer *w, const char *k, int32_t v) { set_scalar(w, k, GGUF_VT_INT32, (uint32_t)v); }
void gguf_writer_set_u64(gguf_writer *w, const char *k, uint64_t v) { set_scalar(w, k, GGUF_VT_UINT64, v); }
void gguf_writer_set_i64(gguf_writer *w, const char *k, int64_t v) { set_scalar(w, k, GGUF_VT_INT64, (uint64_t)v); }
void gguf_writer_set_bool(gguf_writer *w, const char *k, int v) { set_scalar(w, k, GGUF_VT_BOOL, v != 0); }

void gguf_writer_set_f32(gguf_writer *w, const char *k, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    set_scalar(w, k, GGUF_VT_FLOAT32, bits);
}

void gguf_writer_set_f64(gguf_writer *w, const char *k, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    set_scalar(w, k, GGUF_VT_FLOAT64, bits);
}

void gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment)
{
    if (alignment == 0 || (alignment & (alignment - 1))) {
        record(w, OM_EINVAL, "alignment is not a nonzero power of two%s", "");
        return;
    }
    gguf_writer_set_u32(w, "general.alignment", alignment);
}

void gguf_writer_set_strn(gguf_writer *w, const char *key, const char *v, uint64_t len)
{
    uint8_t *b = om_xmalloc(8 + len);
    put_le(b, len, 8);
    memcpy(b + 8, v, len);
    gguf_writer_set_raw(w, key, GGUF_VT_STRING, b, 8 + len);
    free(b);
}

void gguf_writer_set_str(gguf_writer *w, const char *key, const char *v)
{
    if (!v) {
        record(w, OM_EINVAL, "key '%.100s': NULL string", key);
        return;
    }
    gguf_writer_set_strn(w, key, v, strlen(v));
}

void gguf_writer_set_arr(gguf_writer *w, const char *key, enum gguf_vtype elem_type,
                         const void *data, uint64_t n)
{
    size_t es = gguf_vtype_size((uint32_t)elem_type);
    if (!es || (n && !data) || n > (SIZE_MAX - 12) / es) {
        record(w, OM_EINVAL, "key '%.100s': bad fixed-size array", key);
        return;
    }
    uint8_t *b = om_xmalloc(12 + n * es);
    put_le(b, (uint32_t)elem_type, 4);
    put_le(b + 4, n, 8);
    if (n)
        memcpy(b + 12, data, n * es); /* host order is little-endian on our targets */
    gguf_writer_set_raw(w, key, GGUF_VT_ARRAY, b, 12 + n * es);
    free(b);
}

void gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
    size_t total = 12;
    for (uint64_t i = 0; i < n; i++)
        total += 8 + strlen(v[i]);
    uint8_t *b = om_xmalloc(total), *p = b + 12;
    put_le(b, GGUF_VT_STRING, 4);
    put_le(b + 4, n, 8);
    for (uint64_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);
        put_le(p, l, 8);
        memcpy(p + 8, v[i], l);
        p += 8 + l;
    }
    gguf_writer_set_raw(w, key, GGUF_VT_ARRAY, b, total);
    free(b);
}

void gguf_writer_copy_kv(gguf_writer *w, const gguf_file *src)
{
    for (int64_t i = 0; i < src->n_kv; i++) {
        const struct gguf_kv *kv = &src->kv[i];
        const uint8_t *p = kv->val;
        size_t len = kv->val_len;
        if (kv->type == GGUF_VT_STRING) {
            p -= 8;
            len += 8;
        } else if (kv->type == GGUF_VT_ARRAY) {
            p -= 12;
            len += 12;
        }
        char *key = om_xmalloc(kv->key.len + 1);
        memcpy(key, kv->key.ptr, kv->key.len);
        key[kv->key.len] = 0;
        gguf_writer_set_raw(w, key, (enum gguf_vtype)kv->type, p, len);
        free(key);
    }
}

static int add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                      const int64_t *ne, size_t size, struct wtensor *out)
{
    if (!name || !*name || strlen(name) > GGUF_MAX_KEY_LEN || n_dims == 0 ||
        n_dims > GGUF_MAX_DIMS || !ne)
        return OM_EINVAL;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return OM_EINVAL;
    const struct om_type_info *ti = om_type_get(type);
    if (!ti)
        return OM_EINVAL;
    int64_t rows = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] <= 0 || (d > 0 && ne[d] > INT64_MAX / rows))
            return OM_EINVAL;
        if (d > 0)
            rows *= ne[d];
    }
    size_t row = om_type_row_size(type, ne[0]);
    if (!row || (uint64_t)rows > SIZE_MAX / row || row * (size_t)rows != size)
        return OM_EINVAL;
    memset(out, 0, sizeof(*out));
    out->type = type;
    out->n_dims = n_dims;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
        out->ne[d] = d < n_dims ? ne[d] : 1;
    out->size = size;
    return 0;
}

static void push_tensor(gguf_writer *w, const char *name, struct wtensor *t)
{
    if (w->n_t == w->cap_t) {
        w->cap_t = w->cap_t ? 2 * w->cap_t : 64;
        w->t = om_xrealloc(w->t, w->cap_t * sizeof(*w->t));
    }
    t->name = om_xstrdup(name);
    w->t[w->n_t++] = *t;
}

int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const int64_t *ne, const void *data, size_t size)
{
    struct wtensor t;
    int rc = add_tensor(w, name, type, n_dims, ne, size, &t);
    if (rc || !data)
        return rc ? rc : OM_EINVAL;
    t.owned = om_xmalloc(size);
    memcpy(t.owned, data, size);
    t.data = t.owned;
    push_tensor(w, name, &t);
    return 0;
}

int gguf_writer_add_tensor_ref(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                               const int64_t *ne, const void *data, size_t size)
{
    struct wtensor t;
    int rc = add_tensor(w, name, type, n_dims, ne, size, &t);
    if (rc || !data)
        return rc ? rc : OM_EINVAL;
    t.data = data;
    push_tensor(w, name, &t);
    return 0;
}

int gguf_writer_add_tensor_stream(gguf_writer *w, const char *name, uint32_t type,
                                  uint32_t n_dims, const int64_t *ne, gguf_tensor_write_fn fn,
                                  void *ctx)
{
    struct wtensor t;
    if (!fn || !ne || n_dims == 0 || n_dims > GGUF_MAX_DIMS)
        return OM_EINVAL;
    /* size follows from the shape: compute it, then validate as usual */
    const struct om_type_info *ti = om_type_get(type);
    size_t size = ti ? om_type_row_size(type, ne[0]) : 0;
    for (uint32_t d = 1; d < n_dims && size; d++)
        size = ne[d] > 0 && (uint64_t)ne[d] <= SIZE_MAX / size ? size * (size_t)ne[d] : 0;
    int rc = add_tensor(w, name, type, n_dims, ne, size, &t);
    if (rc)
        return rc;
    t.fn = fn;
    t.ctx = ctx;
    push_tensor(w, name, &t);
    return 0;
}

int gguf_sink_write(gguf_sink *s, const void *data, size_t n)
{
    if (n > s->left)
        return OM_EINVAL;
    if (n && fwrite(data, 1, n, s->fp) != n)
        return OM_EIO;
    s->left -= n;
    return 0;
}

/* ---- output ---- */

static int put(FILE *fp, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, fp) == n ? 0 : OM_EIO;
}

static int put_int(FILE *fp, uint64_t v, int n)
{
    uint8_t b[8];
    put_le(b, v, n);
    return put(fp, b, (size_t)n);
}

static int pad(FILE *fp, uint64_t pos, uint32_t align)
{
    static const uint8_t zeros[256];
    uint64_t n = pos % align ? align - pos % align : 0;
    while (n) {
        size_t k = (size_t)OM_MIN(n, sizeof(zeros));
        if (put(fp, zeros, k))
            return OM_EIO;
        n -= k;
    }
    return 0;
}

static uint32_t writer_alignment(const gguf_writer *w)
{
    for (size_t i = 0; i < w->n_kv; i++) {
        const struct wkv *kv = &w->kv[i];
        if (strcmp(kv->key, "general.alignment") != 0)
            continue;
        if (kv->type != GGUF_VT_UINT32)
            return 0;
        uint32_t a = gguf_rd_u32(kv->payload);
        return a && !(a & (a - 1)) ? a : 0;
    }
    return GGUF_DEFAULT_ALIGNMENT;
}

/* Streams the whole file to fp. Returns 0 or a code with err set. */
static int write_body(gguf_writer *w, FILE *fp, uint32_t align, char *err, size_t errlen)
{
    uint64_t pos = 24;
    int rc = put_int(fp, GGUF_MAGIC, 4) | put_int(fp, 3, 4) | put_int(fp, w->n_t, 8) |
             put_int(fp, w->n_kv, 8);
    for (size_t i = 0; !rc && i < w->n_kv; i++) {
        const struct wkv *kv = &w->kv[i];
        size_t kl = strlen(kv->key);
        rc = put_int(fp, kl, 8) | put(fp, kv->key, kl) | put_int(fp, kv->type, 4) |
             put(fp, kv->payload, kv->len);
        pos += 8 + kl + 4 + kv->len;
    }
    uint64_t off = 0;
    for (size_t i = 0; !rc && i < w->n_t; i++) {
        struct wtensor *t = &w->t[i];
        size_t nl = strlen(t->name);
        t->offset = off;
        rc = put_int(fp, nl, 8) | put(fp, t->name, nl) | put_int(fp, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++)
            rc |= put_int(fp, (uint64_t)t->ne[d], 8);
        rc |= put_int(fp, t->type, 4) | put_int(fp, t->offset, 8);
        pos += 8 + nl + 4 + 8ull * t->n_dims + 12;
        off += t->size;
        off += off % align ? align - off % align : 0;
    }
    if (!rc && w->n_t) /* like gguf-py: a file without tensors ends after its infos */
        rc = pad(fp, pos, align);
    if (rc)
        return om_err(err, errlen, OM_EIO, "writing header: %s", strerror(errno));
    for (size_t i = 0; i < w->n_t; i++) {
        struct wtensor *t = &w->t[i];
        if (t->fn) {
            gguf_sink s = {fp, t->size};
            rc = t->fn(t->ctx, t->name, &s);
            if (rc)
                return om_err(err, errlen, rc, "tensor '%s': producer failed (%s)", t->name,
                              om_strerror(rc));
            if (s.left)
                return om_err(err, errlen, OM_EINVAL,
                              "tensor '%s': producer wrote %zu of %zu bytes", t->name,
                              (size_t)(t->size - s.left), t->size);
        } else if (put(fp, t->data, t->size)) {
            return om_err(err, errlen, OM_EIO, "tensor '%s': write: %s", t->name,
                          strerror(errno));
        }
        if (pad(fp, t->size, align))
            return om_err(err, errlen, OM_EIO, "tensor '%s': write: %s", t->name,
                          strerror(errno));
    }
    return 0;
}

int gguf_writer_write(gguf_writer *w, const char *path, char *err, size_t errlen)
{
    if (w->rc)
        return om_err(err, errlen, w->rc, "%s", w->msg);
    uint32_t align = writer_alignment(w);
    if (!align)
        return om_err(err, errlen, OM_EINVAL,
                      "key 'general.alignment': must be a uint32 nonzero power of two");
    size_t pl = strlen(path);
    char *tmp = om_xmalloc(pl + 16);
    snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return om_err(err, errlen, -e, "%s: cannot create temp file: %s", path, strerror(e));
    }
    /* mkstemp makes 0600; models are meant to be shared read-only. (Not
     * umask-derived: reading the umask means changing it, a process-wide race.) */
    fchmod(fd, 0644);
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return om_err(err, errlen, -e, "%s: fdopen: %s", path, strerror(e));
    }
    setvbuf(fp, NULL, _IOFBF, 1 << 20);
    int rc = write_body(w, fp, align, err, errlen);
    if (!rc && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
        rc = om_err(err, errlen, OM_EIO, "%s: flush: %s", path, strerror(errno));
    if (fclose(fp) != 0 && !rc)
        rc = om_err(err, errlen, OM_EIO, "%s: close: %s", path, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = om_err(err, errlen, -errno, "%s: rename: %s", path, strerror(errno));
    if (rc) {
        unlink(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    /* make the rename durable */
    char *dcopy = om_xstrdup(path);
    int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dcopy);
    return 0;
}
