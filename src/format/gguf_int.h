/* format: private layouts shared by the GGUF reader (gguf_read.c), its
 * getters (gguf_get.c) and the writer (gguf_write.c).
 *
 * Invariants once gguf_open*() succeeded: every kv value and tensor lies
 * inside [base, base + size); string arrays have an offset index; the hash
 * tables hold every key / tensor name exactly once (duplicates were refused). */
#ifndef GGUF_INT_H
#define GGUF_INT_H

#include "format/gguf.h"

#define GGUF_MAX_DEPTH 8          /* nesting of arrays of arrays */
#define GGUF_MAX_KEY_LEN 65535    /* the GGUF spec's bound on key length */

struct gguf_kv {
    gguf_str key;
    uint32_t type;        /* enum gguf_vtype */
    uint32_t elem_type;   /* arrays: element type */
    uint64_t n;           /* arrays: element count */
    const uint8_t *val;   /* scalars: the value; strings: the bytes; arrays: first element */
    uint64_t val_len;     /* strings: byte length; arrays: bytes of all elements */
    uint64_t *str_off;    /* string arrays: offset of element i's length prefix from val */
};

/* Open-addressing table of indices (+1; 0 = empty) keyed by name. */
struct gguf_htab {
    int64_t *slot;
    uint64_t mask;
    uint64_t seed;  /* per table, so a hostile file cannot precompute collisions */
};

struct gguf_file {
    const uint8_t *base;
    size_t size;
    int mapped;           /* 1: base is our mmap, unmapped by gguf_close */
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset; /* start of the data section */
    int64_t n_kv;
    int64_t n_tensors;
    struct gguf_kv *kv;
    gguf_tensor *tensors;
    struct gguf_htab kv_tab;
    struct gguf_htab t_tab;
};

/* Bytes of one scalar of type t; 0 for strings, arrays and unknown types. */
size_t gguf_vtype_size(uint32_t t);

/* Validates one value of type `type` starting at buf[*pos] (buf holds len
 * bytes) and advances *pos past it. `what` names the value in messages.
 * Never reads outside buf. Returns 0 or OM_EFORMAT with err set. */
int gguf_value_scan(const uint8_t *buf, uint64_t len, uint64_t *pos, uint32_t type, int depth,
                    const char *what, char *err, size_t errlen);

uint64_t gguf_hash(uint64_t seed, const char *s, uint64_t len);
/* Table sized for n entries (bounded by the caller). */
void gguf_htab_init(struct gguf_htab *t, uint64_t n);
void gguf_htab_free(struct gguf_htab *t);

static inline uint64_t gguf_rd_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint32_t gguf_rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
