/* prompt: literal values (const, enum) and integer ranges (minimum,
 * maximum) as grammar rules, for the schema compiler (gram_schema.c).
 *
 * Literals are the compact JSON text of each value (as jansson writes it),
 * merged into a byte trie whose branching nodes become rules, so values
 * sharing a prefix share one parse stack. Integer ranges are written as
 * decimal digit-string ranges: for each digit count, the classic split into
 * "same first digit, recurse", "first digit strictly between, any digits",
 * and the two edge branches; negative ranges are "-" and a positive range. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/gram_int.h"

#define JC_MAX_ENUM 65536

/* --- literals (const, enum) through a byte trie */
struct tnode {
    uint32_t child, sib; /* 0 = none (node 0 is the root) */
    uint8_t b;
    bool term;
    uint32_t rule;
};

struct trie {
    struct tnode *n;
    uint32_t nn, cap;
};

static uint32_t trie_node(struct trie *t, uint8_t b)
{
    if (t->nn == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->n = om_xrealloc(t->n, t->cap * sizeof(*t->n));
    }
    t->n[t->nn] = (struct tnode){0, 0, b, false, UINT32_MAX};
    return t->nn++;
}

static void trie_add(struct trie *t, const char *s, size_t len)
{
    uint32_t cur = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)s[i];
        uint32_t k = t->n[cur].child;
        while (k && t->n[k].b != b)
            k = t->n[k].sib;
        if (!k) {
            k = trie_node(t, b);
            t->n[k].sib = t->n[cur].child;
            t->n[cur].child = k;
        }
        cur = k;
    }
    t->n[cur].term = true;
}

static bool trie_single(const struct trie *t, uint32_t k)
{
    return !t->n[k].term && t->n[k].child && !t->n[t->n[k].child].sib;
}

uint32_t gram_jc_literals(struct jc *c, const json_t *vals, bool is_enum)
{
    size_t nv = is_enum ? json_array_size(vals) : 1;
    if (nv == 0)
        return gram_jc_fail(c, OM_EFORMAT, "enum is empty", NULL);
    if (nv > JC_MAX_ENUM)
        return gram_jc_fail(c, OM_ENOMEM, "enum has too many values", NULL);
    struct trie t = {0};
    trie_node(&t, 0);
    for (size_t i = 0; i < nv && c->rc == 0; i++) {
        const json_t *v = is_enum ? json_array_get(vals, i) : vals;
        char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!txt) {
            gram_jc_fail(c, OM_EFORMAT, "enum/const value cannot be encoded", NULL);
            break;
        }
        size_t len = strlen(txt);
        c->lit_bytes += len;
        if (c->lit_bytes > JC_MAX_LIT_BYTES)
            gram_jc_fail(c, OM_ENOMEM, "enum/const values too large", NULL);
        else
            trie_add(&t, txt, len);
        free(txt);
    }
    uint32_t root = UINT32_MAX;
    for (uint32_t k = 0; k < t.nn && c->rc == 0; k++)
        if (k == 0 || !trie_single(&t, k))
            t.n[k].rule = gram_jc_rule(c);
    struct gram_seq s = {0};
    for (uint32_t k = 0; k < t.nn && c->rc == 0; k++) {
        if (t.n[k].rule == UINT32_MAX)
            continue;
        for (uint32_t ch = t.n[k].child; ch; ch = t.n[ch].sib) {
            uint32_t m = ch;
            gram_seq_lit(c->g, &s, (const char *)&t.n[m].b, 1);
            while (trie_single(&t, m)) {
                m = t.n[m].child;
                gram_seq_lit(c->g, &s, (const char *)&t.n[m].b, 1);
            }
            gram_jc_push_rule(&s, t.n[m].rule);
            gram_jc_alt(c, t.n[k].rule, &s);
        }
        if (t.n[k].term) {
            gram_jc_push_rule(&s, gram_jc_space(c));
            gram_jc_alt(c, t.n[k].rule, &s);
        }
    }
    if (c->rc == 0)
        root = t.n[0].rule;
    gram_seq_free(&s);
    free(t.n);
    return root;
}


/* s = prefix followed by the digits d[0..k). */
static void seq_base(struct jc *c, struct gram_seq *s, const struct gram_seq *prefix,
                     const char *d, size_t k)
{
    s->n = 0;
    for (uint32_t i = 0; i < prefix->n; i++)
        gram_seq_push(s, prefix->v[i]);
    gram_seq_lit(c->g, s, d, k);
}

static bool all_of(const char *s, char ch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ch)
            return false;
    return true;
}

/* Adds to r alternatives matching prefix + the digit strings in [a, b],
 * both of length n (a <= b). Recursion depth is at most n. */
static void digits_between(struct jc *c, uint32_t r, const struct gram_seq *prefix,
                           const char *a, const char *b, size_t n)
{
    struct gram_seq s = {0};
    size_t k = 0;
    while (k < n && a[k] == b[k]) /* common leading digits */
        k++;
    if (k == n) {
        seq_base(c, &s, prefix, a, n);
        gram_jc_alt(c, r, &s);
        gram_seq_free(&s);
        return;
    }
    size_t rest = n - k - 1;
    bool a_low = all_of(a + k + 1, '0', rest); /* a goes on with zeros only */
    bool b_high = all_of(b + k + 1, '9', rest); /* b goes on with nines only */
    char lo = a_low ? a[k] : (char)(a[k] + 1), hi = b_high ? b[k] : (char)(b[k] - 1);
    char nines[24], zeros[24];
    memset(nines, '9', sizeof(nines));
    memset(zeros, '0', sizeof(zeros));
    if (!a_low) { /* a[k], then at least a's remaining digits */
        seq_base(c, &s, prefix, a, k + 1);
        digits_between(c, r, &s, a + k + 1, nines, rest);
    }
    if (lo <= hi) { /* a first digit strictly inside: anything after it */
        seq_base(c, &s, prefix, a, k);
        gram_jc_push_cls(c, &s, (uint8_t)lo, (uint8_t)hi);
        for (size_t i = 0; i < rest; i++)
            gram_jc_push_cls(c, &s, '0', '9');
        gram_jc_alt(c, r, &s);
    }
    if (!b_high) { /* b[k], then at most b's remaining digits */
        seq_base(c, &s, prefix, b, k + 1);
        digits_between(c, r, &s, zeros, b + k + 1, rest);
    }
    gram_seq_free(&s);
}

/* Non-negative integers in [lo, hi] after prefix, without leading zeros. */
static void nonneg_range(struct jc *c, uint32_t r, const struct gram_seq *prefix, long long lo,
                         long long hi)
{
    char a[24], b[24];
    int la = snprintf(a, sizeof(a), "%lld", lo), lb = snprintf(b, sizeof(b), "%lld", hi);
    for (int len = la; len <= lb; len++) {
        char x[24], y[24];
        if (len == la)
            memcpy(x, a, (size_t)la + 1);
        else
            snprintf(x, sizeof(x), "1%0*d", len - 1, 0);
        if (len == lb)
            memcpy(y, b, (size_t)lb + 1);
        else {
            memset(y, '9', (size_t)len);
            y[len] = 0;
        }
        if (len == 1 && len != la) /* "1%0*d" with width 0 writes "10" */
            x[1] = 0;
        digits_between(c, r, prefix, x, y, (size_t)len);
    }
}

uint32_t gram_jc_int_range(struct jc *c, long long lo, long long hi)
{
    if (lo > hi)
        return gram_jc_fail(c, OM_EFORMAT, "integer range is empty", NULL);
    uint32_t digits = gram_jc_rule(c);
    struct gram_seq pre = {0};
    if (hi >= 0)
        nonneg_range(c, digits, &pre, lo < 0 ? 0 : lo, hi);
    if (lo < 0) {
        gram_seq_lit(c->g, &pre, "-", 1);
        nonneg_range(c, digits, &pre, hi < 0 ? -hi : 1, -lo);
        pre.n = 0;
    }
    uint32_t r = gram_jc_rule(c);
    gram_jc_push_rule(&pre, digits);
    gram_jc_push_rule(&pre, gram_jc_space(c));
    gram_jc_alt(c, r, &pre);
    gram_seq_free(&pre);
    return r;
}

static long long clamp_ll(double d)
{
    if (d > (double)GRAM_INT_MAX)
        return GRAM_INT_MAX + 1;
    if (d < -(double)GRAM_INT_MAX)
        return -GRAM_INT_MAX - 1;
    return (long long)d;
}

/* Numbers within bounds, written without exponent: integers in range,
 * "V.F" with V >= 0 whose whole interval [V, V+1) is in range, and "-W.F"
 * likewise for (-(W+1), -W]. This leaves out a few valid numbers near the
 * bounds (e.g. 2.5 for maximum 2.7, or -0.5), never lets an invalid one in. */
uint32_t gram_jc_num_range(struct jc *c, double lo, bool lo_excl, double hi, bool hi_excl)
{
    long long lint = clamp_ll(lo_excl ? floor(lo) + 1 : ceil(lo));
    long long hint = clamp_ll(hi_excl ? ceil(hi) - 1 : floor(hi));
    long long pos_lo = OM_MAX(0, lint), pos_hi = clamp_ll(floor(hi) - 1);
    long long neg_lo = OM_MAX(1, -hint), neg_hi = clamp_ll(-ceil(lo) - 1);
    lint = OM_MAX(lint, -GRAM_INT_MAX);
    hint = OM_MIN(hint, GRAM_INT_MAX);
    pos_hi = OM_MIN(pos_hi, GRAM_INT_MAX);
    neg_hi = OM_MIN(neg_hi, GRAM_INT_MAX);
    /* "V." + a fraction that is not all zeros: just above an exclusive
     * integral minimum V (>= 0), just below an exclusive integral maximum
     * -V (<= 0), and "-0." inside [-1, 0] */
    long long nz[3] = {-1, -1, -1};
    if (lo_excl && lo == floor(lo) && lo >= 0 && lo + 1 <= hi && lo <= (double)GRAM_INT_MAX)
        nz[0] = (long long)lo;
    if (hi_excl && hi == floor(hi) && hi <= 0 && hi - 1 >= lo && -hi <= (double)GRAM_INT_MAX)
        nz[1] = (long long)-hi;
    if (lo <= -1 && hi >= 0)
        nz[2] = 0;
    if (lint > hint && pos_lo > pos_hi && neg_lo > neg_hi && nz[0] < 0 && nz[1] < 0 && nz[2] < 0)
        return gram_jc_fail(c, OM_EFORMAT, "number range is empty (or beyond 16 digits)", NULL);
    uint32_t r = gram_jc_rule(c), digit = gram_jc_rule(c), frac = gram_jc_rule(c);
    struct gram_seq s = {0};
    gram_jc_push_cls(c, &s, '0', '9');
    gram_jc_alt(c, digit, &s);
    gram_seq_lit(c->g, &s, ".", 1);
    gram_jc_push_rep(c, &s, digit, 1, 16);
    gram_jc_push_rule(&s, gram_jc_space(c));
    gram_jc_alt(c, frac, &s);
    /* nzk: up to k digits, not all zeros, then space */
    uint32_t nzk = UINT32_MAX;
    for (int k = 1; k <= 16; k++) {
        uint32_t q = gram_jc_rule(c);
        gram_jc_push_cls(c, &s, '1', '9');
        gram_jc_push_rep(c, &s, digit, 0, (uint32_t)k - 1);
        gram_jc_push_rule(&s, gram_jc_space(c));
        gram_jc_alt(c, q, &s);
        if (nzk != UINT32_MAX) {
            gram_seq_lit(c->g, &s, "0", 1);
            gram_jc_push_rule(&s, nzk);
            gram_jc_alt(c, q, &s);
        }
        nzk = q;
    }
    for (int i = 0; i < 3; i++) {
        if (nz[i] < 0)
            continue;
        char txt[32];
        int n = snprintf(txt, sizeof(txt), "%s%lld.", i ? "-" : "", nz[i]);
        gram_seq_lit(c->g, &s, txt, (size_t)n);
        gram_jc_push_rule(&s, nzk);
        gram_jc_alt(c, r, &s);
    }
    if (lint <= hint) {
        uint32_t ir = gram_jc_int_range(c, lint, hint);
        gram_jc_push_rule(&s, ir);
        gram_jc_alt(c, r, &s);
    }
    if (pos_lo <= pos_hi) {
        uint32_t d = gram_jc_rule(c);
        struct gram_seq pre = {0};
        nonneg_range(c, d, &pre, pos_lo, pos_hi);
        gram_seq_free(&pre);
        gram_jc_push_rule(&s, d);
        gram_jc_push_rule(&s, frac);
        gram_jc_alt(c, r, &s);
    }
    if (neg_lo <= neg_hi) {
        uint32_t d = gram_jc_rule(c);
        struct gram_seq pre = {0};
        nonneg_range(c, d, &pre, neg_lo, neg_hi);
        gram_seq_free(&pre);
        gram_seq_lit(c->g, &s, "-", 1);
        gram_jc_push_rule(&s, d);
        gram_jc_push_rule(&s, frac);
        gram_jc_alt(c, r, &s);
    }
    gram_seq_free(&s);
    return r;
}
