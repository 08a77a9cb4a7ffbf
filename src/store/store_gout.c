/* store: streaming GGUF v3 writer (see store_int.h).
 *
 * Layout written: magic, version 3, n_tensors, n_kv, the KV pairs, the
 * tensor infos, zero padding to the alignment, then each tensor's data padded
 * to the alignment. Offsets are computed when tensors are declared, so the
 * header is final before the first data byte. Invariant: g->cur indexes the
 * tensor being written and g->cur_done its bytes so far. */
#include "store/store_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/om.h"
#include "base/om_types.h"

struct gout_kv {
    char *key;
    uint8_t *val; /* type (u32) + value, as in the file */
    size_t len;
};

struct gout_tensor {
    char *name;
    uint32_t n_dims, type;
    int64_t ne[4];
    uint64_t offset, size;
};

struct store_gout {
    struct gout_kv *kv;
    size_t n_kv, cap_kv;
    struct gout_tensor *t;
    size_t n_t, cap_t;
    uint64_t data_size; /* running, aligned */
    uint32_t alignment;
    FILE *fp;
    char *path, *tmp_path;
    size_t cur;
    uint64_t cur_done;
    int committed;
};

/* ---- a small growable byte buffer for serializing values ---- */
struct buf {
    uint8_t *p;
    size_t n, cap;
};

static void buf_put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->n + n)
            cap *= 2;
        b->p = om_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void buf_u32(struct buf *b, uint32_t v) { buf_put(b, &v, 4); }
static void buf_u64(struct buf *b, uint64_t v) { buf_put(b, &v, 8); }
static void buf_str(struct buf *b, const char *s, size_t n)
{
    buf_u64(b, n);
    buf_put(b, s, n);
}

store_gout *store_gout_new(void)
{
    store_gout *g = om_xcalloc(1, sizeof(*g));
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    return g;
}

void store_gout_free(store_gout *g)
{
    if (!g)
        return;
    if (g->fp)
        fclose(g->fp);
    if (g->tmp_path && !g->committed)
        unlink(g->tmp_path);
    for (size_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].val);
    }
    for (size_t i = 0; i < g->n_t; i++)
        free(g->t[i].name);
    free(g->kv);
    free(g->t);
    free(g->path);
    free(g->tmp_path);
    free(g);
}

/* Takes ownership of val. */
static void set_raw(store_gout *g, const char *key, uint8_t *val, size_t len)
{
    for (size_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].key, key)) {
            free(g->kv[i].val);
            g->kv[i].val = val;
            g->kv[i].len = len;
            return;
        }
    if (g->n_kv == g->cap_kv) {
        g->cap_kv = g->cap_kv ? g->cap_kv * 2 : 32;
        g->kv = om_xrealloc(g->kv, g->cap_kv * sizeof(*g->kv));
    }
    g->kv[g->n_kv++] = (struct gout_kv){om_xstrdup(key), val, len};
}

static void set_scalar(store_gout *g, const char *key, enum gguf_vtype t, const void *v, size_t n)
{
    struct buf b = {0};
    buf_u32(&b, t);
    buf_put(&b, v, n);
    set_raw(g, key, b.p, b.n);
}

void store_gout_set_u32(store_gout *g, const char *key, uint32_t v)
{
    set_scalar(g, key, GGUF_VT_UINT32, &v, 4);
    if (!strcmp(key, "general.alignment") && v && !(v & (v - 1)))
        g->alignment = v;
}
void store_gout_set_i32(store_gout *g, const char *key, int32_t v) { set_scalar(g, key, GGUF_VT_INT32, &v, 4); }
void store_gout_set_f32(store_gout *g, const char *key, float v) { set_scalar(g, key, GGUF_VT_FLOAT32, &v, 4); }
void store_gout_set_bool(store_gout *g, const char *key, int v)
{
    uint8_t b = v ? 1 : 0;
    set_scalar(g, key, GGUF_VT_BOOL, &b, 1);
}

void store_gout_set_str(store_gout *g, const char *key, const char *v)
{
    struct buf b = {0};
    buf_u32(&b, GGUF_VT_STRING);
    buf_str(&b, v, strlen(v));
    set_raw(g, key, b.p, b.n);
}

static size_t vtype_size(uint32_t t)
{
    switch (t) {
    case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
    case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
    case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
    default: return 0;
    }
}

void store_gout_set_arr(store_gout *g, const char *key, enum gguf_vtype elem, const void *data,
                        uint64_t n)
{
    size_t es = vtype_size(elem);
    assert(es); /* strings go through set_arr_str */
    struct buf b = {0};
    buf_u32(&b, GGUF_VT_ARRAY);
    buf_u32(&b, elem);
    buf_u64(&b, n);
    buf_put(&b, data, (size_t)n * es);
    set_raw(g, key, b.p, b.n);
}

void store_gout_set_arr_str(store_gout *g, const char *key, const char *const *v, uint64_t n)
{
    struct buf b = {0};
    buf_u32(&b, GGUF_VT_ARRAY);
    buf_u32(&b, GGUF_VT_STRING);
    buf_u64(&b, n);
    for (uint64_t i = 0; i < n; i++)
        buf_str(&b, v[i], strlen(v[i]));
    set_raw(g, key, b.p, b.n);
}

void store_gout_del(store_gout *g, const char *key)
{
    for (size_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].key, key)) {
            free(g->kv[i].key);
            free(g->kv[i].val);
            memmove(&g->kv[i], &g->kv[i + 1], (g->n_kv - i - 1) * sizeof(*g->kv));
            g->n_kv--;
            return;
        }
}

/* ---- copying KV pairs from a file ---- */

struct rd {
    const uint8_t *p;
    size_t n, off;
};

static int rd_skip(struct rd *r, uint64_t n)
{
    if (n > r->n - r->off)
        return -1;
    r->off += n;
    return 0;
}
static int rd_u32(struct rd *r, uint32_t *v)
{
    if (r->n - r->off < 4)
        return -1;
    memcpy(v, r->p + r->off, 4);
    r->off += 4;
    return 0;
}
static int rd_u64(struct rd *r, uint64_t *v)
{
    if (r->n - r->off < 8)
        return -1;
    memcpy(v, r->p + r->off, 8);
    r->off += 8;
    return 0;
}

/* Skips one value of type t; depth bounds nested arrays. */
static int rd_value(struct rd *r, uint32_t t, int depth)
{
    uint64_t len;
    if (t == GGUF_VT_STRING)
        return rd_u64(r, &len) ? -1 : rd_skip(r, len);
    if (t == GGUF_VT_ARRAY) {
        uint32_t et;
        uint64_t n;
        if (depth > 2 || rd_u32(r, &et) || rd_u64(r, &n))
            return -1;
        size_t es = vtype_size(et);
        if (es)
            return n > (r->n - r->off) / es ? -1 : rd_skip(r, n * es);
        if (et != GGUF_VT_STRING && et != GGUF_VT_ARRAY)
            return -1;
        for (uint64_t i = 0; i < n; i++)
            if (rd_value(r, et, depth + 1))
                return -1;
        return 0;
    }
    size_t es = vtype_size(t);
    return es ? rd_skip(r, es) : -1;
}

int store_gout_copy_kv(store_gout *g, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return om_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || st.st_size < 24) {
        close(fd);
        return om_err(err, errlen, OM_EFORMAT, "%s: too small for GGUF", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return om_err(err, errlen, -errno, "%s: mmap: %s", path, strerror(errno));
    struct rd r = {map, (size_t)st.st_size, 0};
    uint32_t magic, version;
    uint64_t n_t, n_kv;
    int rc = 0;
    if (rd_u32(&r, &magic) || magic != GGUF_MAGIC || rd_u32(&r, &version) || version < 2 ||
        version > 3 || rd_u64(&r, &n_t) || rd_u64(&r, &n_kv)) {
        rc = om_err(err, errlen, OM_EFORMAT, "%s: not a GGUF v2/v3 file", path);
        goto out;
    }
    for (uint64_t i = 0; i < n_kv; i++) {
        uint64_t klen;
        uint32_t t;
        size_t key_at = r.off;
        if (rd_u64(&r, &klen) || klen > 65535 || rd_skip(&r, klen) || rd_u32(&r, &t)) {
            rc = om_err(err, errlen, OM_EFORMAT, "%s: KV %llu: bad key at offset %zu", path,
                        (unsigned long long)i, key_at);
            goto out;
        }
        size_t val_at = r.off - 4;
        if (rd_value(&r, t, 0)) {
            rc = om_err(err, errlen, OM_EFORMAT, "%s: KV %llu: bad value at offset %zu", path,
                        (unsigned long long)i, val_at);
            goto out;
        }
        char *key = om_xmalloc(klen + 1);
        memcpy(key, r.p + key_at + 8, klen);
        key[klen] = 0;
        size_t len = r.off - val_at;
        uint8_t *val = om_xmalloc(len);
        memcpy(val, r.p + val_at, len);
        set_raw(g, key, val, len);
        if (!strcmp(key, "general.alignment") && t == GGUF_VT_UINT32) {
            uint32_t a;
            memcpy(&a, val + 4, 4);
            if (a && !(a & (a - 1)))
                g->alignment = a;
        }
        free(key);
    }
out:
    munmap(map, (size_t)st.st_size);
    return rc;
}

/* ---- tensors ---- */

int store_gout_add_tensor(store_gout *g, const char *name, uint32_t type, uint32_t n_dims,
                          const int64_t *ne, char *err, size_t errlen)
{
    if (n_dims < 1 || n_dims > 4)
        return om_err(err, errlen, OM_EINVAL, "tensor %s: %u dims", name, n_dims);
    size_t row = om_type_row_size(type, ne[0]);
    if (!row)
        return om_err(err, errlen, OM_EINVAL, "tensor %s: row length %lld does not fit type %s",
                      name, (long long)ne[0], om_type_name(type));
    uint64_t rows = 1;
    struct gout_tensor t = {om_xstrdup(name), n_dims, type, {1, 1, 1, 1}, 0, 0};
    for (uint32_t d = 0; d < n_dims; d++) {
        t.ne[d] = ne[d];
        if (d)
            rows *= (uint64_t)ne[d];
    }
    t.size = row * rows;
    t.offset = g->data_size;
    g->data_size += (t.size + g->alignment - 1) / g->alignment * g->alignment;
    if (g->n_t == g->cap_t) {
        g->cap_t = g->cap_t ? g->cap_t * 2 : 64;
        g->t = om_xrealloc(g->t, g->cap_t * sizeof(*g->t));
    }
    g->t[g->n_t++] = t;
    return 0;
}

uint64_t store_gout_tensor_size(const store_gout *g, size_t i)
{
    return i < g->n_t ? g->t[i].size : 0;
}

static int write_zeros(FILE *fp, size_t n)
{
    static const uint8_t z[64];
    while (n) {
        size_t k = n < sizeof(z) ? n : sizeof(z);
        if (fwrite(z, 1, k, fp) != k)
            return -1;
        n -= k;
    }
    return 0;
}

int store_gout_open(store_gout *g, const char *path, char *err, size_t errlen)
{
    size_t plen = strlen(path);
    g->path = om_xstrdup(path);
    g->tmp_path = om_xmalloc(plen + 16);
    snprintf(g->tmp_path, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkostemp(g->tmp_path, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(g->tmp_path);
        g->tmp_path = NULL;
        return om_err(err, errlen, -e, "%s: cannot create: %s", path, strerror(e));
    }
    fchmod(fd, 0644);
    g->fp = fdopen(fd, "wb");
    if (!g->fp) {
        close(fd);
        return om_err(err, errlen, -errno, "%s: fdopen failed", path);
    }
    setvbuf(g->fp, NULL, _IOFBF, 1 << 22);
    struct buf b = {0};
    buf_u32(&b, GGUF_MAGIC);
    buf_u32(&b, 3);
    buf_u64(&b, g->n_t);
    buf_u64(&b, g->n_kv);
    for (size_t i = 0; i < g->n_kv; i++) {
        buf_str(&b, g->kv[i].key, strlen(g->kv[i].key));
        buf_put(&b, g->kv[i].val, g->kv[i].len);
    }
    for (size_t i = 0; i < g->n_t; i++) {
        const struct gout_tensor *t = &g->t[i];
        buf_str(&b, t->name, strlen(t->name));
        buf_u32(&b, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            buf_u64(&b, (uint64_t)t->ne[d]);
        buf_u32(&b, t->type);
        buf_u64(&b, t->offset);
    }
    size_t pad = (g->alignment - b.n % g->alignment) % g->alignment;
    int bad = fwrite(b.p, 1, b.n, g->fp) != b.n || write_zeros(g->fp, pad);
    free(b.p);
    if (bad)
        return om_err(err, errlen, OM_EIO, "%s: write failed: %s", g->tmp_path, strerror(errno));
    g->cur = 0;
    g->cur_done = 0;
    return 0;
}

/* Finishes every tensor whose bytes are complete (zero-size ones included). */
static int advance(store_gout *g)
{
    while (g->cur < g->n_t && g->cur_done == g->t[g->cur].size) {
        uint64_t sz = g->t[g->cur].size;
        size_t pad = (size_t)((g->alignment - sz % g->alignment) % g->alignment);
        if (write_zeros(g->fp, pad))
            return -1;
        g->cur++;
        g->cur_done = 0;
    }
    return 0;
}

int store_gout_write(store_gout *g, const void *data, size_t n, char *err, size_t errlen)
{
    const uint8_t *p = data;
    if (!g->fp)
        return om_err(err, errlen, OM_EINVAL, "output not open");
    while (n) {
        if (advance(g))
            return om_err(err, errlen, OM_EIO, "%s: write failed: %s", g->tmp_path,
                          strerror(errno));
        if (g->cur >= g->n_t)
            return om_err(err, errlen, OM_EINVAL, "%s: more tensor data than declared",
                          g->path);
        uint64_t left = g->t[g->cur].size - g->cur_done;
        size_t k = n < left ? n : (size_t)left;
        if (fwrite(p, 1, k, g->fp) != k)
            return om_err(err, errlen, OM_EIO, "%s: write failed: %s", g->tmp_path,
                          strerror(errno));
        g->cur_done += k;
        p += k;
        n -= k;
    }
    return 0;
}

int store_gout_commit(store_gout *g, char *err, size_t errlen)
{
    if (!g->fp)
        return om_err(err, errlen, OM_EINVAL, "output not open");
    if (advance(g))
        return om_err(err, errlen, OM_EIO, "%s: write failed: %s", g->tmp_path, strerror(errno));
    if (g->cur != g->n_t)
        return om_err(err, errlen, OM_EINVAL, "%s: tensor %s: data incomplete", g->path,
                      g->t[g->cur].name);
    int bad = fflush(g->fp) != 0 || fsync(fileno(g->fp)) != 0;
    bad |= fclose(g->fp) != 0;
    g->fp = NULL;
    if (bad)
        return om_err(err, errlen, OM_EIO, "%s: write failed: %s", g->tmp_path, strerror(errno));
    if (rename(g->tmp_path, g->path))
        return om_err(err, errlen, -errno, "%s: rename failed: %s", g->path, strerror(errno));
    g->committed = 1;
    /* Make the rename durable. */
    char *dir = om_xstrdup(g->path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = 0;
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    return 0;
}
