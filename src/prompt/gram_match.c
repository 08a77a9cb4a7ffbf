/* prompt: the incremental matcher — a set of pushdown stacks over the
 * grammar IR (gram_int.h), advanced one byte at a time.
 *
 * A stack holds element positions; its top is the next element to match and
 * the frames below are where to resume when an alternative ends. Positions
 * are pushed only when something follows them in their alternative (tail
 * calls), so right recursion (repetition) does not grow the stack. Rule
 * references on top are expanded lazily, only into alternatives whose FIRST
 * set holds the byte being matched, so the set of live stacks stays as small
 * as the real ambiguity of the text so far (usually one stack).
 *
 * gram_state_accepts must not change the state and is called for many
 * tokens per step: it rejects on the first byte from a precomputed 256-bit
 * set, and otherwise simulates on "virtual stacks" — a prefix of a live
 * stack plus a short private extension — in a workspace that lives on the C
 * stack and spills to the heap only for unusual tokens. gram_state_allowed
 * does the same for a whole vocabulary at once, walking its byte trie so
 * that shared prefixes are matched once. Nothing in a state is shared, so
 * different states may be used from different threads. */
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/gram_int.h"

struct gram_state {
    const struct gram *g;
    uint32_t *pool; /* all stacks' frames, concatenated */
    size_t pool_n, pool_cap;
    uint32_t *off, *len; /* per stack */
    uint32_t n, cap;
    /* the spare set that advance fills and then swaps in (no allocation
     * per token once the sizes have been seen) */
    uint32_t *pool2, *off2, *len2;
    size_t pool2_cap;
    uint32_t cap2;
    struct gram_cls next; /* bytes that may come next */
    bool complete;
};

struct vst {
    uint32_t base; /* live stack it extends */
    uint32_t blen; /* frames kept from it */
    uint32_t eoff; /* extension frames in ws.ext */
    uint32_t elen;
};

#define WS_EXT_LOCAL 2048
#define WS_V_LOCAL 128

struct vbuf {
    struct vst *v;
    size_t n, cap;
    bool heap;
};

struct ws {
    const struct gram *g;
    const struct gram_state *st;
    uint32_t *ext;
    size_t ext_n, ext_cap;
    bool ext_heap;
    struct vbuf *next; /* stacks produced by the current byte */
    size_t next_begin; /* ... from this index on (dedup range) */
    /* dedup index for large ranges, built when a range reaches WS_HASH_MIN
     * stacks; slots are valid when their epoch is the current one, so the
     * table is never cleared */
    uint32_t *hidx, *hep;
    uint32_t epoch;
};

#define WS_HASH_MIN 16
#define WS_HASH_SLOTS (2 * GRAM_MAX_STACKS)

static void vbuf_push(struct vbuf *b, struct vst v)
{
    if (b->n == b->cap) {
        size_t nc = b->cap * 2;
        if (b->heap) {
            b->v = om_xrealloc(b->v, nc * sizeof(*b->v));
        } else {
            struct vst *nv = om_xmalloc(nc * sizeof(*nv));
            memcpy(nv, b->v, b->n * sizeof(*nv));
            b->v = nv;
            b->heap = true;
        }
        b->cap = nc;
    }
    b->v[b->n++] = v;
}

static uint32_t *ext_alloc(struct ws *w, size_t k)
{
    if (w->ext_n + k > w->ext_cap) {
        size_t nc = OM_MAX(w->ext_cap * 2, w->ext_n + k);
        if (w->ext_heap) {
            w->ext = om_xrealloc(w->ext, nc * sizeof(uint32_t));
        } else {
            uint32_t *ne = om_xmalloc(nc * sizeof(uint32_t));
            memcpy(ne, w->ext, w->ext_n * sizeof(uint32_t));
            w->ext = ne;
            w->ext_heap = true;
        }
        w->ext_cap = nc;
    }
    uint32_t *p = w->ext + w->ext_n;
    w->ext_n += k;
    return p;
}

static inline uint32_t vget(const struct ws *w, const struct vst *v, uint32_t i)
{
    if (i < v->blen)
        return w->st->pool[w->st->off[v->base] + i];
    return w->ext[v->eoff + i - v->blen];
}

static inline bool vtop(const struct ws *w, const struct vst *v, uint32_t *p)
{
    uint32_t d = v->blen + v->elen;
    if (d == 0)
        return false;
    *p = vget(w, v, d - 1);
    return true;
}

static inline void vpop(struct vst *v)
{
    if (v->elen)
        v->elen--;
    else
        v->blen--;
}

static struct vst vpush(struct ws *w, struct vst v, uint32_t pos)
{
    uint32_t *e = ext_alloc(w, v.elen + 1);
    uint32_t eoff = (uint32_t)(e - w->ext);
    memcpy(e, w->ext + v.eoff, v.elen * sizeof(uint32_t));
    e[v.elen] = pos;
    v.eoff = eoff;
    v.elen++;
    return v;
}

/* The frame at p has been matched: continue with p+1 in its alternative. */
static struct vst vadvance(struct ws *w, struct vst v, uint32_t p)
{
    vpop(&v);
    if (w->g->elems[p + 1] != GE_END)
        v = vpush(w, v, p + 1);
    return v;
}

static bool veq(const struct ws *w, const struct vst *a, const struct vst *b)
{
    uint32_t d = a->blen + a->elen;
    if (d != b->blen + b->elen)
        return false;
    for (uint32_t i = d; i-- > 0;)
        if (vget(w, a, i) != vget(w, b, i))
            return false;
    return true;
}

static uint32_t vhash(const struct ws *w, const struct vst *v)
{
    uint32_t d = v->blen + v->elen;
    uint64_t h = d * 0x9e3779b97f4a7c15ull;
    for (uint32_t i = d, k = 0; i-- > 0 && k < 3; k++)
        h = (h ^ vget(w, v, i)) * 0xff51afd7ed558ccdull;
    return (uint32_t)(h >> 32) & (WS_HASH_SLOTS - 1);
}

/* Finds v in the indexed range, else inserts index idx for it. */
static bool hash_seen(struct ws *w, const struct vst *v, uint32_t idx)
{
    for (uint32_t h = vhash(w, v);; h = (h + 1) & (WS_HASH_SLOTS - 1)) {
        if (w->hep[h] != w->epoch) {
            w->hep[h] = w->epoch;
            w->hidx[h] = idx;
            return false;
        }
        if (idx != w->hidx[h] && veq(w, &w->next->v[w->hidx[h]], v))
            return true;
    }
}

static void emit(struct ws *w, struct vst v)
{
    struct vbuf *nx = w->next;
    size_t cnt = nx->n - w->next_begin;
    if (cnt >= GRAM_MAX_STACKS)
        return;
    if (cnt < WS_HASH_MIN) {
        for (size_t i = w->next_begin; i < nx->n; i++)
            if (veq(w, &nx->v[i], &v))
                return;
        vbuf_push(nx, v);
        if (cnt + 1 == WS_HASH_MIN) { /* from now on through the index */
            if (!w->hidx) {
                w->hidx = om_xmalloc(WS_HASH_SLOTS * sizeof(uint32_t));
                w->hep = om_xcalloc(WS_HASH_SLOTS, sizeof(uint32_t));
            }
            w->epoch++;
            for (size_t i = w->next_begin; i < nx->n; i++)
                hash_seen(w, &nx->v[i], (uint32_t)i);
        }
        return;
    }
    if (!hash_seen(w, &v, (uint32_t)nx->n))
        vbuf_push(nx, v);
}

/* Matches byte b on stack v, emitting every resulting stack. */
static void step(struct ws *w, struct vst v, uint8_t b, unsigned rdepth)
{
    const struct gram *g = w->g;
    uint32_t p;
    if (rdepth > GRAM_MAX_DEPTH || !vtop(w, &v, &p))
        return;
    uint32_t e = g->elems[p];
    if (GE_KIND(e) == GE_CHAR) {
        if (gram_cls_has(&g->cls[GE_ARG(e)], b))
            emit(w, vadvance(w, v, p));
        return;
    }
    if (!g->nullable_from[p] && !gram_cls_has(&g->cls[g->first_from[p]], b))
        return;
    const struct gram_rule *ru = &g->rules[GE_ARG(e)];
    struct vst v0 = vadvance(w, v, p);
    bool room = v0.blen + v0.elen < GRAM_MAX_DEPTH;
    for (uint32_t a = 0; a < ru->n_alts && room; a++) {
        uint32_t s = ru->alts[a];
        if (g->elems[s] != GE_END && gram_cls_has(&g->cls[g->first_from[s]], b))
            step(w, vpush(w, v0, s), b, rdepth + 1);
    }
    if (ru->nullable)
        step(w, v0, b, rdepth + 1);
}

/* Runs bytes over all live stacks; on success *res holds the survivors
 * (in ws). Returns false as soon as no stack survives. */
static bool simulate(struct ws *w, struct vbuf *bufs, const uint8_t *bytes, size_t len,
                     struct vbuf **res)
{
    const struct gram_state *st = w->st;
    struct vbuf *cur = &bufs[0], *nxt = &bufs[1];
    for (uint32_t i = 0; i < st->n; i++)
        vbuf_push(cur, (struct vst){i, st->len[i], 0, 0});
    for (size_t k = 0; k < len; k++) {
        nxt->n = 0;
        w->next = nxt;
        for (size_t i = 0; i < cur->n; i++)
            step(w, cur->v[i], bytes[k], 0);
        if (nxt->n == 0)
            return false;
        struct vbuf *t = cur;
        cur = nxt;
        nxt = t;
    }
    *res = cur;
    return true;
}

#define WS_DECL(w, st_, bufs)                                                       \
    uint32_t ext_local_[WS_EXT_LOCAL];                                              \
    struct vst va_[WS_V_LOCAL], vb_[WS_V_LOCAL];                                    \
    struct ws w = {.g = (st_)->g, .st = (st_), .ext = ext_local_, .ext_cap = WS_EXT_LOCAL}; \
    struct vbuf bufs[2] = {{va_, 0, WS_V_LOCAL, false}, {vb_, 0, WS_V_LOCAL, false}}

static void ws_release(struct ws *w, struct vbuf *bufs)
{
    free(w->hidx);
    free(w->hep);
    if (w->ext_heap)
        free(w->ext);
    for (int i = 0; i < 2; i++)
        if (bufs[i].heap)
            free(bufs[i].v);
}

static void summarize(struct gram_state *st)
{
    const struct gram *g = st->g;
    memset(&st->next, 0, sizeof(st->next));
    st->complete = false;
    for (uint32_t i = 0; i < st->n; i++) {
        uint32_t k = st->len[i];
        for (;;) {
            if (k == 0) {
                st->complete = true;
                break;
            }
            uint32_t p = st->pool[st->off[i] + --k];
            const struct gram_cls *c = &g->cls[g->first_from[p]];
            for (int j = 0; j < 4; j++)
                st->next.w[j] |= c->w[j];
            if (!g->nullable_from[p])
                break;
        }
    }
}

static void state_set_initial(struct gram_state *st)
{
    st->pool_n = 1;
    st->pool[0] = st->g->start_pos;
    st->n = 1;
    st->off[0] = 0;
    st->len[0] = 1;
    summarize(st);
}

struct gram_state *gram_state_new(const struct gram *g)
{
    if (!g || !g->finished)
        return NULL;
    struct gram_state *st = om_xcalloc(1, sizeof(*st));
    st->g = g;
    st->pool_cap = 64;
    st->pool = om_xmalloc(st->pool_cap * sizeof(uint32_t));
    st->cap = 8;
    st->off = om_xmalloc(st->cap * sizeof(uint32_t));
    st->len = om_xmalloc(st->cap * sizeof(uint32_t));
    state_set_initial(st);
    return st;
}

void gram_state_free(struct gram_state *st)
{
    if (!st)
        return;
    free(st->pool);
    free(st->off);
    free(st->len);
    free(st->pool2);
    free(st->off2);
    free(st->len2);
    free(st);
}

void gram_state_reset(struct gram_state *st)
{
    state_set_initial(st);
}

struct gram_state *gram_state_clone(const struct gram_state *src)
{
    struct gram_state *st = om_xcalloc(1, sizeof(*st));
    *st = *src;
    st->pool_cap = OM_MAX(src->pool_n, 1);
    st->pool = om_xmalloc(st->pool_cap * sizeof(uint32_t));
    memcpy(st->pool, src->pool, src->pool_n * sizeof(uint32_t));
    st->cap = OM_MAX(src->n, 1);
    st->off = om_xmalloc(st->cap * sizeof(uint32_t));
    st->len = om_xmalloc(st->cap * sizeof(uint32_t));
    memcpy(st->off, src->off, src->n * sizeof(uint32_t));
    memcpy(st->len, src->len, src->n * sizeof(uint32_t));
    st->pool2 = st->off2 = st->len2 = NULL;
    st->pool2_cap = 0;
    st->cap2 = 0;
    return st;
}

bool gram_state_accepts(const struct gram_state *st, const char *bytes, size_t len)
{
    if (len == 0)
        return true;
    if (!gram_cls_has(&st->next, (uint8_t)bytes[0]))
        return false;
    WS_DECL(w, st, bufs);
    struct vbuf *res;
    bool ok = simulate(&w, bufs, (const uint8_t *)bytes, len, &res);
    ws_release(&w, bufs);
    return ok;
}

int gram_state_advance(struct gram_state *st, const char *bytes, size_t len)
{
    if (len == 0)
        return 0;
    if (!gram_cls_has(&st->next, (uint8_t)bytes[0]))
        return OM_EINVAL;
    WS_DECL(w, st, bufs);
    struct vbuf *res;
    if (!simulate(&w, bufs, (const uint8_t *)bytes, len, &res)) {
        ws_release(&w, bufs);
        return OM_EINVAL;
    }
    size_t total = 0;
    for (size_t i = 0; i < res->n; i++)
        total += res->v[i].blen + res->v[i].elen;
    if (total + 1 > st->pool2_cap) { /* + 1: reset needs a frame */
        st->pool2_cap = OM_MAX(total + 1, st->pool2_cap * 2);
        st->pool2 = om_xrealloc(st->pool2, st->pool2_cap * sizeof(uint32_t));
    }
    if (res->n > st->cap2) {
        st->cap2 = (uint32_t)OM_MAX(res->n, (size_t)st->cap2 * 2);
        st->off2 = om_xrealloc(st->off2, st->cap2 * sizeof(uint32_t));
        st->len2 = om_xrealloc(st->len2, st->cap2 * sizeof(uint32_t));
    }
    size_t o = 0;
    for (size_t i = 0; i < res->n; i++) {
        const struct vst *v = &res->v[i];
        st->off2[i] = (uint32_t)o;
        st->len2[i] = v->blen + v->elen;
        memcpy(st->pool2 + o, st->pool + st->off[v->base], v->blen * sizeof(uint32_t));
        memcpy(st->pool2 + o + v->blen, w.ext + v->eoff, v->elen * sizeof(uint32_t));
        o += st->len2[i];
    }
    uint32_t *tp = st->pool, *to = st->off, *tl = st->len;
    size_t tpc = st->pool_cap;
    uint32_t tc = st->cap;
    st->pool = st->pool2;
    st->pool_cap = st->pool2_cap;
    st->off = st->off2;
    st->len = st->len2;
    st->cap = st->cap2;
    st->pool2 = tp;
    st->pool2_cap = tpc;
    st->off2 = to;
    st->len2 = tl;
    st->cap2 = tc;
    st->pool_n = total;
    st->n = (uint32_t)res->n;
    ws_release(&w, bufs);
    summarize(st);
    return 0;
}

bool gram_state_complete(const struct gram_state *st)
{
    return st->complete;
}

void gram_state_next_bytes(const struct gram_state *st, uint64_t mask[4])
{
    memcpy(mask, st->next.w, sizeof(st->next.w));
}

size_t gram_state_n_stacks(const struct gram_state *st)
{
    return st->n;
}

/* Depth-first over the vocabulary trie: the stack set after a node's bytes
 * lives in sets[beg, end); a child's set is appended after it, and both it
 * and its extension frames are dropped on return, so every shared prefix is
 * matched once for all the tokens below it. filter (the root only) skips
 * bytes that cannot come next without trying them. */
static int32_t trie_dfs(struct ws *w, struct vbuf *sets, const struct gram_vocab *v, uint32_t node,
                        size_t beg, size_t end, uint8_t *allowed, const struct gram_cls *filter)
{
    int32_t count = 0;
    for (uint32_t ch = v->nodes[node].child; ch; ch = v->nodes[ch].sib) {
        uint8_t b = v->nodes[ch].b;
        if (filter && !gram_cls_has(filter, b))
            continue;
        size_t ext_mark = w->ext_n, out = sets->n;
        w->next = sets;
        w->next_begin = out;
        for (size_t i = beg; i < end; i++) {
            struct vst vs = sets->v[i]; /* by value: step may grow sets */
            step(w, vs, b, 0);
        }
        if (sets->n > out) {
            for (int32_t t = v->nodes[ch].tok; t >= 0; t = v->tok_next[t]) {
                allowed[t] = 1;
                count++;
            }
            count += trie_dfs(w, sets, v, ch, out, sets->n, allowed, NULL);
        }
        sets->n = out;
        w->ext_n = ext_mark;
    }
    return count;
}

int32_t gram_state_allowed(const struct gram_state *st, const struct gram_vocab *v,
                           uint8_t *allowed)
{
    memset(allowed, 0, (size_t)v->n_tok);
    WS_DECL(w, st, bufs);
    for (uint32_t i = 0; i < st->n; i++)
        vbuf_push(&bufs[0], (struct vst){i, st->len[i], 0, 0});
    int32_t count = trie_dfs(&w, &bufs[0], v, 0, 0, st->n, allowed, &st->next);
    ws_release(&w, bufs);
    return count;
}
