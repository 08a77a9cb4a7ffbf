/* Unit tests for engine/smp_stop.c: stop strings spanning several pieces,
 * partial matches released when they fail, several stop strings (one inside
 * another's partial match), UTF-8 holding, flushing, limits, and a random
 * comparison against a naive byte-by-byte reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/smp.h"

struct acc {
    char text[4096];
    size_t len;
};

static struct smp_stop *mk(const char *const *stops, int n)
{
    struct smp_stop *st = NULL;
    char err[128];
    assert_int_equal(smp_stop_new(stops, n, &st, err, sizeof err), 0);
    return st;
}

/* Feeds piece, checks the released bytes equal want_emit, appends them. */
static int feed(struct smp_stop *st, struct acc *a, const char *piece, const char *want_emit)
{
    const char *e;
    size_t n;
    int rc = smp_stop_feed(st, piece, strlen(piece), &e, &n);
    assert_true(rc == 0 || rc == 1);
    if (want_emit) {
        assert_int_equal(n, strlen(want_emit));
        assert_memory_equal(e, want_emit, n);
    }
    assert_true(a->len + n <= sizeof a->text);
    memcpy(a->text + a->len, e, n);
    a->len += n;
    return rc;
}

static void flush(struct smp_stop *st, struct acc *a)
{
    const char *e;
    size_t n;
    assert_int_equal(smp_stop_flush(st, &e, &n), 0);
    memcpy(a->text + a->len, e, n);
    a->len += n;
}

static void assert_acc(const struct acc *a, const char *want)
{
    assert_int_equal(a->len, strlen(want));
    assert_memory_equal(a->text, want, a->len);
}

static void test_spanning(void **state)
{
    (void)state;
    const char *stops[] = { "<|im_end|>" };
    struct smp_stop *st = mk(stops, 1);
    struct acc a = { .len = 0 };
    assert_int_equal(feed(st, &a, "Hello", "Hello"), 0);
    assert_int_equal(feed(st, &a, " world<|", " world"), 0);
    assert_int_equal(smp_stop_pending(st), 2);
    assert_int_equal(feed(st, &a, "im", ""), 0);
    assert_int_equal(feed(st, &a, "_e", ""), 0);
    assert_int_equal(smp_stop_hit(st), -1);
    assert_int_equal(feed(st, &a, "nd|>more", ""), 1);
    assert_int_equal(smp_stop_hit(st), 0);
    assert_acc(&a, "Hello world");
    /* after a hit nothing more comes out */
    assert_int_equal(feed(st, &a, "tail", ""), 1);
    const char *e;
    size_t n;
    assert_int_equal(smp_stop_flush(st, &e, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(smp_stop_pending(st), 0);

    /* reset: a fresh stream, the stop completing mid-piece */
    smp_stop_reset(st);
    a.len = 0;
    assert_int_equal(feed(st, &a, "x<|im_end|>y", "x"), 1);
    smp_stop_free(st);
    smp_stop_free(NULL);
}

static void test_partial_released(void **state)
{
    (void)state;
    const char *stops[] = { "abc" };
    struct smp_stop *st = mk(stops, 1);
    struct acc a = { .len = 0 };
    assert_int_equal(feed(st, &a, "xab", "x"), 0);
    assert_int_equal(feed(st, &a, "d", "abd"), 0);
    /* KMP: a failed partial that overlaps a new start ("aab" inside "aaab") */
    assert_int_equal(feed(st, &a, "aa", "a"), 0); /* the last "a" could start "abc" */
    assert_int_equal(smp_stop_pending(st), 1);
    assert_int_equal(feed(st, &a, "b", ""), 0);   /* "ab" held */
    assert_int_equal(feed(st, &a, "c!", ""), 1);
    assert_acc(&a, "xabda");
    smp_stop_free(st);

    const char *s2[] = { "aab" };
    st = mk(s2, 1);
    a.len = 0;
    assert_int_equal(feed(st, &a, "a", ""), 0);
    assert_int_equal(feed(st, &a, "a", ""), 0);
    assert_int_equal(feed(st, &a, "a", "a"), 0);
    assert_int_equal(feed(st, &a, "b", ""), 1);
    assert_acc(&a, "a");
    smp_stop_free(st);

    /* flush releases what was held */
    const char *s3[] = { "END" };
    st = mk(s3, 1);
    a.len = 0;
    assert_int_equal(feed(st, &a, "foo EN", "foo "), 0);
    flush(st, &a);
    assert_acc(&a, "foo EN");
    assert_int_equal(smp_stop_hit(st), -1);
    smp_stop_free(st);
}

static void test_multiple(void **state)
{
    (void)state;
    const char *stops[] = { "STOP", "", "END" }; /* the empty one is ignored */
    struct smp_stop *st = mk(stops, 3);
    struct acc a = { .len = 0 };
    assert_int_equal(feed(st, &a, "xx ST", "xx "), 0);
    assert_int_equal(feed(st, &a, "OP", ""), 1);
    assert_int_equal(smp_stop_hit(st), 0);
    smp_stop_reset(st);
    a.len = 0;
    assert_int_equal(feed(st, &a, "E", ""), 0);
    assert_int_equal(feed(st, &a, "N", ""), 0);
    assert_int_equal(feed(st, &a, "D", ""), 1);
    assert_int_equal(smp_stop_hit(st), 2);
    smp_stop_free(st);

    /* a stop string completing inside another's held partial match */
    const char *s2[] = { "abcdef", "cd" };
    st = mk(s2, 2);
    a.len = 0;
    assert_int_equal(feed(st, &a, "ab", ""), 0);
    assert_int_equal(feed(st, &a, "c", ""), 0);
    assert_int_equal(feed(st, &a, "d", "ab"), 1); /* "ab" was held for "abcdef" */
    assert_int_equal(smp_stop_hit(st), 1);
    assert_acc(&a, "ab");
    smp_stop_free(st);

    /* the first to complete wins, whatever the list order ... */
    const char *s3[] = { "abcd", "bc" };
    st = mk(s3, 2);
    a.len = 0;
    assert_int_equal(feed(st, &a, "zabcd", "za"), 1);
    assert_int_equal(smp_stop_hit(st), 1);
    smp_stop_free(st);
    /* ... and of two completing at the same byte, the longer */
    const char *s4[] = { "b", "ab" };
    st = mk(s4, 2);
    a.len = 0;
    assert_int_equal(feed(st, &a, "zab", "z"), 1);
    assert_int_equal(smp_stop_hit(st), 1);
    smp_stop_free(st);
}

static void test_utf8(void **state)
{
    (void)state;
    /* no stop strings: an incomplete character is held until complete */
    struct smp_stop *st = mk(NULL, 0);
    struct acc a = { .len = 0 };
    assert_int_equal(feed(st, &a, "a\xe4\xbd", "a"), 0);
    assert_int_equal(feed(st, &a, "\xa0\xe5", "\xe4\xbd\xa0"), 0);
    assert_int_equal(feed(st, &a, "\xa5\xbd", "\xe5\xa5\xbd"), 0);
    assert_int_equal(feed(st, &a, "\xf0\x9f\x98", ""), 0); /* 4-byte emoji, 3 bytes in */
    flush(st, &a); /* end of stream: released as is */
    assert_acc(&a, "a\xe4\xbd\xa0\xe5\xa5\xbd\xf0\x9f\x98");
    smp_stop_free(st);

    /* a multibyte stop string split inside its characters */
    const char *stops[] = { "\xe3\x80\x82\xe5\x86\x8d" }; /* "。再" */
    st = mk(stops, 1);
    a.len = 0;
    assert_int_equal(feed(st, &a, "\xe4\xbd\xa0", "\xe4\xbd\xa0"), 0); /* 你 */
    assert_int_equal(feed(st, &a, "\xe5\xa5\xbd\xe3", "\xe5\xa5\xbd"), 0); /* 好 + lead */
    assert_int_equal(feed(st, &a, "\x80", ""), 0);
    assert_int_equal(feed(st, &a, "\x82\xe5", ""), 0);
    assert_int_equal(feed(st, &a, "\x86\x8d\xe8\xa7\x81", ""), 1);
    assert_acc(&a, "\xe4\xbd\xa0\xe5\xa5\xbd");
    smp_stop_free(st);
}

static void test_limits(void **state)
{
    (void)state;
    char *longs = om_xmalloc(SMP_STOP_MAX_LEN + 2);
    memset(longs, 'x', SMP_STOP_MAX_LEN + 1);
    longs[SMP_STOP_MAX_LEN + 1] = 0;
    const char *stops[] = { "ok", longs };
    struct smp_stop *st = (struct smp_stop *)1;
    char err[128] = "";
    assert_int_equal(smp_stop_new(stops, 2, &st, err, sizeof err), OM_ERANGE);
    assert_null(st);
    assert_non_null(strstr(err, "stop[1]"));
    assert_int_equal(smp_stop_new(stops, SMP_STOP_MAX_COUNT + 1, &st, err, sizeof err),
                     OM_ERANGE);
    free(longs);

    /* NUL bytes inside pieces are ordinary bytes; big pieces grow the buffer */
    const char *s2[] = { "zz" };
    st = mk(s2, 1);
    const char *e;
    size_t n;
    char big[3000];
    memset(big, 'q', sizeof big);
    big[10] = 0;
    assert_int_equal(smp_stop_feed(st, big, sizeof big, &e, &n), 0);
    assert_int_equal(n, sizeof big);
    assert_memory_equal(e, big, n);
    smp_stop_free(st);
}

/* Naive reference: the output is the text up to the start of the first
 * stop string to complete (longest at the same end), byte by byte. */
static size_t ref_cut(const char *t, size_t n, char stops[][6], int ns, int *hit)
{
    for (size_t end = 1; end <= n; end++) {
        size_t best = SIZE_MAX;
        for (int j = 0; j < ns; j++) {
            size_t l = strlen(stops[j]);
            if (l && l <= end && memcmp(t + end - l, stops[j], l) == 0 && end - l < best) {
                best = end - l;
                *hit = j;
            }
        }
        if (best != SIZE_MAX)
            return best;
    }
    *hit = -1;
    return n;
}

static void test_random_vs_naive(void **state)
{
    (void)state;
    uint64_t x = 77;
#define R(m) ((int)((x = x * 6364136223846793005ull + 1442695040888963407ull) >> 33) % (m))
    for (int iter = 0; iter < 3000; iter++) {
        char stops[4][6];
        const char *sp[4];
        int ns = 1 + R(3);
        for (int j = 0; j < ns; j++) {
            int l = R(5); /* 0 (ignored) to 4 bytes */
            for (int k = 0; k < l; k++)
                stops[j][k] = "ab\xc3"[R(3)];
            stops[j][l] = 0;
            sp[j] = stops[j];
        }
        char text[64];
        size_t n = (size_t)R(40);
        for (size_t k = 0; k < n; k++)
            text[k] = "abc\xc3\xa9"[R(5)];
        int want_hit;
        size_t cut = ref_cut(text, n, stops, ns, &want_hit);

        struct smp_stop *st = mk(sp, ns);
        struct acc a = { .len = 0 };
        int rc = 0;
        for (size_t off = 0; off < n && rc == 0;) {
            size_t len = (size_t)R(6);
            if (len > n - off)
                len = n - off;
            const char *e;
            size_t en;
            rc = smp_stop_feed(st, text + off, len, &e, &en);
            memcpy(a.text + a.len, e, en);
            a.len += en;
            off += len;
        }
        if (rc == 0)
            flush(st, &a);
        assert_int_equal(smp_stop_hit(st), want_hit);
        assert_int_equal(a.len, cut);
        assert_memory_equal(a.text, text, cut);
        smp_stop_free(st);
    }
#undef R
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spanning),
        cmocka_unit_test(test_partial_released),
        cmocka_unit_test(test_multiple),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_random_vs_naive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
