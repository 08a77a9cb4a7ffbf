/* format: GGUF v2/v3 reader — opening, mapping and validation.
 *
 * Layout (little-endian): magic u32, version u32, n_tensors u64, n_kv u64,
 * n_kv × (key string, value type u32, value), n_tensors × (name string,
 * n_dims u32, ne u64[n_dims], type u32, offset u64), padding to the
 * alignment, then the data section. A string is a u64 length and its bytes;
 * an array is an element type u32, a count u64 and the elements.
 *
 * Every read goes through a bounds check against the bytes that remain, and
 * every count is compared with what the remaining bytes could hold before it
 * sizes an allocation (a kv needs >= 13 bytes, a tensor info >= 32, a string
 * >= 8, a nested array >= 12), so memory stays proportional to the file and
 * a hostile file cannot make us read out of bounds or allocate unboundedly. */
#include "format/gguf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/om.h"
#include "base/om_types.h"

#define GGUF_HEADER_SIZE 24
#define GGUF_MIN_KV_SIZE 13     /* key len 8 + type 4 + smallest value 1 */
#define GGUF_MIN_TINFO_SIZE 32  /* name len 8 + n_dims 4 + ne 8 + type 4 + offset 8 */
#define GGUF_MAX_KV (1u << 20)
#define GGUF_MAX_TENSORS (1u << 20)

typedef unsigned long long ull;

static const uint8_t g_vsize[GGUF_VT_COUNT] = {
    [GGUF_VT_UINT8] = 1, [GGUF_VT_INT8] = 1,   [GGUF_VT_UINT16] = 2,  [GGUF_VT_INT16] = 2,
    [GGUF_VT_UINT32] = 4, [GGUF_VT_INT32] = 4, [GGUF_VT_FLOAT32] = 4, [GGUF_VT_BOOL] = 1,
    [GGUF_VT_UINT64] = 8, [GGUF_VT_INT64] = 8, [GGUF_VT_FLOAT64] = 8,
};

size_t gguf_vtype_size(uint32_t t)
{
    return t < GGUF_VT_COUNT ? g_vsize[t] : 0;
}

int gguf_value_scan(const uint8_t *buf, uint64_t len, uint64_t *pos, uint32_t type, int depth,
                    const char *what, char *err, size_t errlen)
{
    uint64_t p = *pos, rem = len - p;
    if (type >= GGUF_VT_COUNT)
        return om_err(err, errlen, OM_EFORMAT, "%s at offset %llu: unknown value type %u", what,
                      (ull)p, type);
    if (type == GGUF_VT_STRING) {
        if (rem < 8)
            return om_err(err, errlen, OM_EFORMAT, "%s at offset %llu: truncated string length",
                          what, (ull)p);
        uint64_t slen = gguf_rd_u64(buf + p);
        if (slen > rem - 8)
            return om_err(err, errlen, OM_EFORMAT,
                          "%s at offset %llu: string length %llu past end of file (%llu bytes left)",
                          what, (ull)p, (ull)slen, (ull)(rem - 8));
        *pos = p + 8 + slen;
        return 0;
    }
    if (type != GGUF_VT_ARRAY) {
        if (rem < g_vsize[type])
            return om_err(err, errlen, OM_EFORMAT, "%s at offset %llu: truncated %u-byte value",
                          what, (ull)p, g_vsize[type]);
        *pos = p + g_vsize[type];
        return 0;
    }
    if (depth >= GGUF_MAX_DEPTH)
        return om_err(err, errlen, OM_EFORMAT,
                      "%s at offset %llu: arrays nested deeper than %d levels", what, (ull)p,
                      GGUF_MAX_DEPTH);
    if (rem < 12)
        return om_err(err, errlen, OM_EFORMAT, "%s at offset %llu: truncated array header", what,
                      (ull)p);
    uint32_t et = gguf_rd_u32(buf + p);
    uint64_t n = gguf_rd_u64(buf + p + 4);
    p += 12;
    rem -= 12;
    if (et >= GGUF_VT_COUNT)
        return om_err(err, errlen, OM_EFORMAT,
                      "%s at offset %llu: unknown array element type %u", what, (ull)(p - 12), et);
    uint64_t emin = et == GGUF_VT_STRING ? 8 : et == GGUF_VT_ARRAY ? 12 : g_vsize[et];
    if (n > rem / emin)
        return om_err(err, errlen, OM_EFORMAT,
                      "%s at offset %llu: array of %llu elements cannot fit in the %llu bytes left",
                      what, (ull)(p - 12), (ull)n, (ull)rem);
    if (et != GGUF_VT_STRING && et != GGUF_VT_ARRAY) {
        *pos = p + n * emin;
        return 0;
    }
    for (uint64_t i = 0; i < n; i++) {
        int rc = gguf_value_scan(buf, len, &p, et, depth + 1, what, err, errlen);
        if (rc)
            return rc;
    }
    *pos = p;
    return 0;
}

/* ---- name tables ---- */

uint64_t gguf_hash(uint64_t seed, const char *s, uint64_t len)
{
    uint64_t h = 1469598103934665603ull ^ seed; /* seeded FNV-1a, then a 64-bit finalizer */
    for (uint64_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

void gguf_htab_init(struct gguf_htab *t, uint64_t n)
{
    uint64_t cap = 16;
    while (cap < 2 * n)
        cap <<= 1;
    t->slot = calloc(cap, sizeof(*t->slot));
    t->mask = t->slot ? cap - 1 : 0;
    t->seed = om_time_ns() ^ (uint64_t)(uintptr_t)t->slot;
}

void gguf_htab_free(struct gguf_htab *t)
{
    free(t->slot);
    t->slot = NULL;
}

/* Inserts entry i whose name is `name`; returns the index of an existing
 * entry with the same name (nothing inserted), else -1. `names` yields the
 * name of an entry (the name is the first member of gguf_kv / gguf_tensor). */
static int64_t htab_insert(struct gguf_htab *t, const void *arr, size_t stride, int64_t i)
{
    const gguf_str *name = (const gguf_str *)((const char *)arr + (size_t)i * stride);
    uint64_t h = gguf_hash(t->seed, name->ptr, name->len) & t->mask;
    for (;; h = (h + 1) & t->mask) {
        int64_t j = t->slot[h] - 1;
        if (j < 0) {
            t->slot[h] = i + 1;
            return -1;
        }
        const gguf_str *o = (const gguf_str *)((const char *)arr + (size_t)j * stride);
        if (o->len == name->len && memcmp(o->ptr, name->ptr, name->len) == 0)
            return j;
    }
}

/* ---- parsing ---- */

/* Names from the file go into messages (and from there into logs and API
 * replies): at most 160 bytes, control bytes shown as '?'. */
static const char *show(char *dst, size_t n, gguf_str s)
{
    size_t k = (size_t)OM_MIN(s.len, OM_MIN(160, n - 1));
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    dst[k] = 0;
    return dst;
}

static int parse_kvs(gguf_file *f, uint64_t *pos, char *err, size_t errlen)
{
    const uint8_t *b = f->base;
    uint64_t len = f->size, p = *pos;
    char what[200];
    for (int64_t i = 0; i < f->n_kv; i++) {
        struct gguf_kv *kv = &f->kv[i];
        uint64_t at = p;
        if (len - p < 8)
            return om_err(err, errlen, OM_EFORMAT, "kv %lld at offset %llu: truncated key length",
                          (long long)i, (ull)p);
        uint64_t klen = gguf_rd_u64(b + p);
        p += 8;
        if (klen > len - p || klen > GGUF_MAX_KEY_LEN)
            return om_err(err, errlen, OM_EFORMAT,
                          "kv %lld at offset %llu: key length %llu past end of file or over %d",
                          (long long)i, (ull)at, (ull)klen, GGUF_MAX_KEY_LEN);
        kv->key.ptr = (const char *)b + p;
        kv->key.len = klen;
        p += klen;
        char kn[168];
        snprintf(what, sizeof(what), "key '%s'", show(kn, sizeof(kn), kv->key));
        if (len - p < 4)
            return om_err(err, errlen, OM_EFORMAT, "%s at offset %llu: truncated value type",
                          what, (ull)p);
        kv->type = gguf_rd_u32(b + p);
        p += 4;
        if (kv->type >= GGUF_VT_COUNT)
            return om_err(err, errlen, OM_EFORMAT, "%s at offset %llu: unknown value type %u",
                          what, (ull)(p - 4), kv->type);
        uint64_t vstart = p;
        int rc = gguf_value_scan(b, len, &p, kv->type, 0, what, err, errlen);
        if (rc)
            return rc;
        if (kv->type == GGUF_VT_STRING) {
            kv->val = b + vstart + 8;
            kv->val_len = p - vstart - 8;
        } else if (kv->type == GGUF_VT_ARRAY) {
            kv->elem_type = gguf_rd_u32(b + vstart);
            kv->n = gguf_rd_u64(b + vstart + 4);
            kv->val = b + vstart + 12;
            kv->val_len = p - vstart - 12;
        } else {
            kv->val = b + vstart;
            kv->val_len = p - vstart;
        }
        if (kv->type == GGUF_VT_ARRAY && kv->elem_type == GGUF_VT_STRING && kv->n) {
            /* n <= val_len / 8 was checked by the scan, so this is <= the file size */
            kv->str_off = malloc(kv->n * sizeof(uint64_t));
            if (!kv->str_off)
                return om_err(err, errlen, OM_ENOMEM, "%s: cannot index %llu strings", what,
                              (ull)kv->n);
            uint64_t q = 0;
            for (uint64_t j = 0; j < kv->n; j++) {
                kv->str_off[j] = q;
                q += 8 + gguf_rd_u64(kv->val + q);
            }
        }
        if (htab_insert(&f->kv_tab, f->kv, sizeof(*f->kv), i) >= 0)
            return om_err(err, errlen, OM_EFORMAT, "%s at offset %llu: duplicate key", what,
                          (ull)at);
    }
    *pos = p;
    return 0;
}

static int parse_alignment(gguf_file *f, char *err, size_t errlen)
{
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = gguf_find_key(f, "general.alignment");
    if (i < 0)
        return 0;
    const struct gguf_kv *kv = &f->kv[i];
    if (kv->type != GGUF_VT_UINT32)
        return om_err(err, errlen, OM_EFORMAT,
                      "key 'general.alignment' at offset %llu: value type %u, must be uint32 (4)",
                      (ull)(kv->val - f->base), kv->type);
    uint32_t a = gguf_rd_u32(kv->val);
    if (a == 0 || (a & (a - 1)))
        return om_err(err, errlen, OM_EFORMAT,
                      "key 'general.alignment' at offset %llu: %u is not a nonzero power of two",
                      (ull)(kv->val - f->base), a);
    f->alignment = a;
    return 0;
}

static int parse_tensor_info(gguf_file *f, int64_t i, uint64_t *pos, char *err, size_t errlen)
{
    const uint8_t *b = f->base;
    uint64_t len = f->size, p = *pos, at = p;
    gguf_tensor *t = &f->tensors[i];
    if (len - p < 8)
        return om_err(err, errlen, OM_EFORMAT, "tensor %lld at offset %llu: truncated name length",
                      (long long)i, (ull)p);
    uint64_t nlen = gguf_rd_u64(b + p);
    p += 8;
    if (nlen > len - p)
        return om_err(err, errlen, OM_EFORMAT,
                      "tensor %lld at offset %llu: name length %llu past end of file",
                      (long long)i, (ull)at, (ull)nlen);
    t->name.ptr = (const char *)b + p;
    t->name.len = nlen;
    p += nlen;
    char nm[168];
    show(nm, sizeof(nm), t->name);
    if (len - p < 4)
        return om_err(err, errlen, OM_EFORMAT, "tensor '%s' at offset %llu: truncated n_dims",
                      nm, (ull)p);
    t->n_dims = gguf_rd_u32(b + p);
    p += 4;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return om_err(err, errlen, OM_EFORMAT,
                      "tensor '%s' at offset %llu: n_dims %u (must be 1..%d)", nm,
                      (ull)(p - 4), t->n_dims, GGUF_MAX_DIMS);
    if (len - p < 8ull * t->n_dims + 12)
        return om_err(err, errlen, OM_EFORMAT,
                      "tensor '%s' at offset %llu: truncated shape, type or offset", nm,
                      (ull)p);
    int64_t nel = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims)
            continue;
        t->ne[d] = (int64_t)gguf_rd_u64(b + p);
        p += 8;
        if (t->ne[d] <= 0)
            return om_err(err, errlen, OM_EFORMAT, "tensor '%s': ne[%u] = %lld (must be > 0)",
                          nm, d, (long long)t->ne[d]);
        if (t->ne[d] > INT64_MAX / nel)
            return om_err(err, errlen, OM_EFORMAT,
                          "tensor '%s': element count overflows int64 at ne[%u] = %lld", nm,
                          d, (long long)t->ne[d]);
        nel *= t->ne[d];
    }
    t->type = gguf_rd_u32(b + p);
    t->offset = gguf_rd_u64(b + p + 4);
    p += 12;
    *pos = p;
    if (htab_insert(&f->t_tab, f->tensors, sizeof(*f->tensors), i) >= 0)
        return om_err(err, errlen, OM_EFORMAT, "tensor '%s' at offset %llu: duplicate name",
                      nm, (ull)at);
    const struct om_type_info *ti = om_type_get(t->type);
    if (!ti)
        return om_err(err, errlen, OM_EUNSUPPORTED, "tensor '%s': unknown type %u", nm,
                      t->type);
    if (t->ne[0] % ti->blck)
        return om_err(err, errlen, OM_EFORMAT,
                      "tensor '%s': row length %lld is not a multiple of the block size %u of %s",
                      nm, (long long)t->ne[0], ti->blck, ti->name);
    uint64_t row = om_type_row_size(t->type, t->ne[0]), rows = (uint64_t)(nel / t->ne[0]);
    if (rows > (uint64_t)SIZE_MAX / row || rows * row > len)
        return om_err(err, errlen, OM_EFORMAT,
                      "tensor '%s': %lld elements of %s are larger than the file", nm,
                      (long long)nel, ti->name);
    t->size = (size_t)(rows * row);
    if (t->offset % f->alignment)
        return om_err(err, errlen, OM_EFORMAT,
                      "tensor '%s': data offset %llu is not a multiple of the alignment %u",
                      nm, (ull)t->offset, f->alignment);
    return 0;
}

struct span {
    uint64_t off;
    int64_t idx;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Places the data section and checks every tensor lies inside the file and
 * that no two tensors share bytes. */
static int place_tensors(gguf_file *f, uint64_t info_end, char *err, size_t errlen)
{
    uint64_t len = f->size, a = f->alignment;
    uint64_t ds = info_end % a ? info_end + (a - info_end % a) : info_end;
    f->data_offset = ds;
    if (f->n_tensors == 0)
        return 0; /* vocab-only files may end without padding */
    if (ds > len)
        return om_err(err, errlen, OM_EFORMAT,
                      "data section at offset %llu starts past end of file (%llu bytes)", (ull)ds,
                      (ull)len);
    char nm[168], nm2[168];
    struct span *s = malloc((size_t)f->n_tensors * sizeof(*s));
    if (!s)
        return om_err(err, errlen, OM_ENOMEM, "cannot sort %lld tensors", (long long)f->n_tensors);
    for (int64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset > len - ds || t->size > len - ds - t->offset) {
            free(s);
            return om_err(err, errlen, OM_EFORMAT,
                          "tensor '%s': data offset %llu + %llu bytes past end of file "
                          "(data section at %llu, file %llu bytes)",
                          show(nm, sizeof(nm), t->name), (ull)t->offset,
                          (ull)t->size, (ull)ds, (ull)len);
        }
        t->data = f->base + ds + t->offset;
        s[i].off = t->offset;
        s[i].idx = i;
    }
    qsort(s, (size_t)f->n_tensors, sizeof(*s), span_cmp);
    for (int64_t i = 1; i < f->n_tensors; i++) {
        const gguf_tensor *p = &f->tensors[s[i - 1].idx], *t = &f->tensors[s[i].idx];
        if (p->offset + p->size > t->offset) {
            int rc = om_err(err, errlen, OM_EFORMAT,
                            "tensors '%s' and '%s' overlap at data offset %llu",
                            show(nm, sizeof(nm), p->name), show(nm2, sizeof(nm2), t->name),
                            (ull)t->offset);
            free(s);
            return rc;
        }
    }
    free(s);
    return 0;
}

static int parse(gguf_file *f, char *err, size_t errlen)
{
    const uint8_t *b = f->base;
    uint64_t len = f->size;
    if (len < 4)
        return om_err(err, errlen, OM_EFORMAT, "file of %llu bytes is too short for a GGUF magic",
                      (ull)len);
    uint32_t magic = gguf_rd_u32(b);
    if (magic != GGUF_MAGIC)
        return om_err(err, errlen, OM_EFORMAT, "bad magic 0x%08x at offset 0: not a GGUF file",
                      magic);
    if (len < 8)
        return om_err(err, errlen, OM_EFORMAT, "truncated at offset 4: no version");
    f->version = gguf_rd_u32(b + 4);
    if (f->version == 0x02000000u || f->version == 0x03000000u)
        return om_err(err, errlen, OM_EUNSUPPORTED,
                      "version field at offset 4 reads as a big-endian GGUF: not supported");
    if (f->version != 2 && f->version != 3)
        return om_err(err, errlen, OM_EUNSUPPORTED,
                      "GGUF version %u at offset 4 is not supported (only versions 2 and 3)",
                      f->version);
    if (len < GGUF_HEADER_SIZE)
        return om_err(err, errlen, OM_EFORMAT,
                      "truncated header: %llu bytes, need %d for the tensor and kv counts",
                      (ull)len, GGUF_HEADER_SIZE);
    uint64_t n_tensors = gguf_rd_u64(b + 8), n_kv = gguf_rd_u64(b + 16);
    uint64_t rem = len - GGUF_HEADER_SIZE;
    if (n_kv > rem / GGUF_MIN_KV_SIZE || n_kv > GGUF_MAX_KV)
        return om_err(err, errlen, OM_EFORMAT,
                      "n_kv %llu at offset 16 is absurd (%llu bytes follow the header)",
                      (ull)n_kv, (ull)rem);
    if (n_tensors > rem / GGUF_MIN_TINFO_SIZE || n_tensors > GGUF_MAX_TENSORS)
        return om_err(err, errlen, OM_EFORMAT,
                      "n_tensors %llu at offset 8 is absurd (%llu bytes follow the header)",
                      (ull)n_tensors, (ull)rem);
    f->n_kv = (int64_t)n_kv;
    f->n_tensors = (int64_t)n_tensors;
    f->kv = calloc(n_kv ? n_kv : 1, sizeof(*f->kv));
    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof(*f->tensors));
    gguf_htab_init(&f->kv_tab, n_kv);
    gguf_htab_init(&f->t_tab, n_tensors);
    if (!f->kv || !f->tensors || !f->kv_tab.slot || !f->t_tab.slot)
        return om_err(err, errlen, OM_ENOMEM, "cannot allocate %llu kvs and %llu tensors",
                      (ull)n_kv, (ull)n_tensors);
    uint64_t pos = GGUF_HEADER_SIZE;
    int rc = parse_kvs(f, &pos, err, errlen);
    if (!rc)
        rc = parse_alignment(f, err, errlen);
    for (int64_t i = 0; !rc && i < f->n_tensors; i++)
        rc = parse_tensor_info(f, i, &pos, err, errlen);
    if (!rc)
        rc = place_tensors(f, pos, err, errlen);
    return rc;
}

int gguf_open_mem(const void *buf, size_t len, gguf_file **out, char *err, size_t errlen)
{
    static const uint8_t empty[1];
    *out = NULL;
    gguf_file *f = om_xcalloc(1, sizeof(*f));
    f->base = buf ? buf : empty;
    f->size = buf ? len : 0;
    int rc = parse(f, err, errlen);
    if (rc) {
        gguf_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

int gguf_open(const char *path, gguf_file **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = errno == ENOENT ? OM_ENOTFOUND : -errno;
        return om_err(err, errlen, rc, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return om_err(err, errlen, OM_EIO, "%s: not a regular file", path);
    }
    void *map = NULL;
    size_t size = (size_t)st.st_size;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return om_err(err, errlen, -e, "%s: mmap of %zu bytes: %s", path, size, strerror(e));
        }
    }
    close(fd);
    char msg[512];
    gguf_file *f;
    int rc = gguf_open_mem(map, size, &f, msg, sizeof(msg));
    if (rc) {
        if (map)
            munmap(map, size);
        return om_err(err, errlen, rc, "%s: %s", path, msg);
    }
    f->mapped = map != NULL;
    *out = f;
    return 0;
}

void gguf_close(gguf_file *f)
{
    if (!f)
        return;
    if (f->kv)
        for (int64_t i = 0; i < f->n_kv; i++)
            free(f->kv[i].str_off);
    free(f->kv);
    free(f->tensors);
    gguf_htab_free(&f->kv_tab);
    gguf_htab_free(&f->t_tab);
    if (f->mapped)
        munmap((void *)f->base, f->size);
    free(f);
}
