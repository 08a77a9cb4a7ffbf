/* engine/smp: stop strings matched across token boundaries.
 *
 * Each stop string runs a KMP automaton over the byte stream, so a match is
 * found however the text was split into pieces (3, 10 or 100 tokens) and a
 * feed costs O(bytes * stop strings) whatever the input. Invariants:
 * - state[j] is the length of the longest suffix of the stream that is a
 *   proper prefix of stop j. The held-back tail is at least max(state[j]), so
 *   a stop string that completes later always starts inside the held bytes
 *   and nothing of it was ever released.
 * - buf[0..held_off) was released by the last call (still readable through
 *   the pointer we handed out); buf[held_off..len) is held. The next feed
 *   first moves the held bytes to the front.
 * - Also held: an incomplete UTF-8 sequence at the very end, so a client
 *   never receives half a character (as Ollama's runner does). */
#include "engine/smp.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

struct stop_str {
    char *s;
    size_t len;
    size_t *fail;  /* (len) KMP failure function */
    size_t state;  /* matched prefix length */
    int index;     /* position in the caller's array */
};

struct smp_stop {
    struct stop_str *v;
    int n;
    char *buf;
    size_t cap, len, held_off;
    int hit;     /* caller's index of the stop string hit, or -1 */
};

int smp_stop_new(const char *const *stops, int n, struct smp_stop **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (n < 0 || n > SMP_STOP_MAX_COUNT)
        return om_err(err, errlen, OM_ERANGE, "stop: %d stop strings (at most %d)", n,
                      SMP_STOP_MAX_COUNT);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(stops[i]);
        if (l > SMP_STOP_MAX_LEN)
            return om_err(err, errlen, OM_ERANGE, "stop[%d]: %zu bytes (at most %d)", i, l,
                          SMP_STOP_MAX_LEN);
    }
    struct smp_stop *st = om_xcalloc(1, sizeof *st);
    st->v = om_xcalloc((size_t)(n ? n : 1), sizeof *st->v);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(stops[i]);
        if (l == 0)
            continue;
        struct stop_str *x = &st->v[st->n++];
        x->s = om_xstrdup(stops[i]);
        x->len = l;
        x->index = i;
        x->fail = om_xmalloc(l * sizeof *x->fail);
        /* fail[q] = longest proper prefix of s[0..q] that is also its suffix */
        x->fail[0] = 0;
        for (size_t q = 1, k = 0; q < l; q++) {
            while (k > 0 && x->s[q] != x->s[k])
                k = x->fail[k - 1];
            if (x->s[q] == x->s[k])
                k++;
            x->fail[q] = k;
        }
    }
    st->cap = 256;
    st->buf = om_xmalloc(st->cap);
    st->hit = -1;
    *out = st;
    return 0;
}

void smp_stop_free(struct smp_stop *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->n; i++) {
        free(st->v[i].s);
        free(st->v[i].fail);
    }
    free(st->v);
    free(st->buf);
    free(st);
}

void smp_stop_reset(struct smp_stop *st)
{
    for (int i = 0; i < st->n; i++)
        st->v[i].state = 0;
    st->len = st->held_off = 0;
    st->hit = -1;
}

int smp_stop_hit(const struct smp_stop *st)
{
    return st->hit;
}

size_t smp_stop_pending(const struct smp_stop *st)
{
    return st->hit >= 0 ? 0 : st->len - st->held_off;
}

/* Bytes at the end of b[0..n) that start a UTF-8 sequence not yet complete
 * (0 when the end is complete, or invalid in a way more bytes cannot fix). */
static size_t utf8_incomplete_tail(const unsigned char *b, size_t n)
{
    for (size_t i = 1; i <= 4 && i <= n; i++) {
        unsigned char c = b[n - i];
        if ((c & 0xc0) == 0x80)
            continue;
        size_t need = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
        return i < need ? i : 0;
    }
    return 0;
}

/* Drops the bytes released last time and makes room for add more. */
static void buf_prepare(struct smp_stop *st, size_t add)
{
    if (st->held_off > 0) {
        memmove(st->buf, st->buf + st->held_off, st->len - st->held_off);
        st->len -= st->held_off;
        st->held_off = 0;
    }
    if (add > SIZE_MAX / 2 - st->len)
        abort(); /* a piece this size cannot come from a detokenizer */
    if (st->len + add > st->cap) {
        size_t cap = st->cap;
        while (cap < st->len + add)
            cap *= 2;
        st->buf = om_xrealloc(st->buf, cap);
        st->cap = cap;
    }
}

int smp_stop_feed(struct smp_stop *st, const char *piece, size_t len, const char **emit,
                  size_t *emit_len)
{
    *emit = st->buf;
    *emit_len = 0;
    if (st->hit >= 0)
        return 1;
    buf_prepare(st, len);
    *emit = st->buf; /* may have moved */
    if (len)
        memcpy(st->buf + st->len, piece, len);
    size_t from = st->len;
    st->len += len;

    for (size_t i = from; i < st->len; i++) {
        const char b = st->buf[i];
        size_t best_start = SIZE_MAX;
        int best = -1;
        for (int j = 0; j < st->n; j++) {
            struct stop_str *x = &st->v[j];
            size_t q = x->state;
            while (q > 0 && x->s[q] != b)
                q = x->fail[q - 1];
            if (x->s[q] == b)
                q++;
            x->state = q;
            if (q == x->len) {
                assert(i + 1 >= x->len); /* the match began in held bytes */
                size_t start = i + 1 - x->len;
                if (start < best_start) {
                    best_start = start;
                    best = j;
                }
            }
        }
        if (best >= 0) {
            st->hit = st->v[best].index;
            *emit_len = best_start;
            st->held_off = st->len;
            return 1;
        }
    }

    size_t hold = utf8_incomplete_tail((const unsigned char *)st->buf, st->len);
    for (int j = 0; j < st->n; j++)
        if (st->v[j].state > hold)
            hold = st->v[j].state;
    assert(hold <= st->len);
    *emit_len = st->len - hold;
    st->held_off = *emit_len;
    return 0;
}

int smp_stop_flush(struct smp_stop *st, const char **emit, size_t *emit_len)
{
    *emit = st->buf;
    *emit_len = 0;
    if (st->hit >= 0)
        return 1;
    *emit = st->buf + st->held_off;
    *emit_len = st->len - st->held_off;
    st->held_off = st->len;
    for (int j = 0; j < st->n; j++)
        st->v[j].state = 0;
    return 0;
}
