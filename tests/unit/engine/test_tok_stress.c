/* Tokenizer under load and odd input: encode time grows linearly with the
 * prompt, random (also invalid) input always encodes to in-range ids and
 * streams out as valid UTF-8, SPM's word-by-word merge equals the global
 * merge, and one vocabulary serves several threads. Vocabulary files come
 * from shared/models; absent ones are skipped loudly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "engine/tok_int.h" /* spm_barriers: the SPM word-segmentation switch */
#include "tok_test_util.h"

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Long prompts: encode time (thread CPU time) grows about linearly. */
static void test_encode_speed(void **state)
{
    (void)state;
    static const char *const vocabs[] = {"vocab/ggml-vocab-llama-spm.gguf",
                                         "vocab/ggml-vocab-deepseek-llm.gguf",
                                         "vocab/ggml-vocab-bert-bge.gguf"};
    size_t unit = getenv("OM_TEST_QUICK") ? 20000 : 200000;
    int ran = 0;
    for (size_t k = 0; k < 3; k++) {
        tok_vocab *v = open_vocab(vocabs[k]);
        if (!v)
            continue;
        ran++;
        double t[2];
        for (int r = 0; r < 2; r++) {
            size_t len = unit << r, cap = len + 16, n;
            char *s = malloc(len + 1);
            size_t k2 = 0;
            while (k2 < len) { /* the sample texts over and over, cut anywhere */
                const char *t = tok_texts[(k2 / 64) % 6];
                size_t tl = OM_MIN(strlen(t), len - k2);
                memcpy(s + k2, t, tl);
                k2 += tl;
            }
            s[len] = 0;
            int32_t *ids = malloc(cap * sizeof(*ids));
            uint64_t t0 = cpu_ns();
            assert_int_equal(tok_encode(v, s, len, 1, 1, ids, cap, &n), 0);
            t[r] = (cpu_ns() - t0) / 1e9;
            free(ids);
            free(s);
        }
        fprintf(stderr, "%s: %zu bytes in %.1f ms, %zu in %.1f ms\n", vocabs[k], unit, t[0] * 1e3,
                unit * 2, t[1] * 1e3);
        if (!getenv("OM_TEST_QUICK")) {
            assert_true(t[1] < 4 * t[0] + 0.05);
            assert_true(t[1] < 2.0);
        }
        tok_vocab_free(v);
    }
    if (!ran)
        skip();
}

/* Strict UTF-8 check (no overlongs, surrogates or values past U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!len || i + len > n)
            return 0;
        for (size_t j = 1; j < len; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
            return 0;
        i += len;
    }
    return 1;
}

/* Random text (valid UTF-8 when valid is set) mixing ASCII, multi-byte
 * characters, whitespace runs, digits and special-token texts. */
static size_t random_text(unsigned *seed, char *buf, size_t cap, int valid)
{
    static const char *const bits[] = {
        " ", "  ", "\n", "\r\n", "\t", "a", "Zq", "'s", "'LL", "123", "4567", "\xc3\xa9",
        "\xd0\xbd", "\xe6\x97\xa5", "\xe3\x80\x80", "\xc2\xa0", "\xf0\x9f\xa6\x99",
        "\xe2\x96\x81", "<s>", "</s>", "<|endoftext|>", "<|end|>", "[CLS]", "!?", "...", "$+",
    };
    size_t n = 0, parts = (size_t)(rand_r(seed) % 40);
    for (size_t i = 0; i < parts; i++) {
        if (!valid && rand_r(seed) % 5 == 0) {
            if (n < cap)
                buf[n++] = (char)(rand_r(seed) & 0xFF);
            continue;
        }
        const char *b = bits[rand_r(seed) % (sizeof bits / sizeof bits[0])];
        size_t l = strlen(b);
        if (n + l > cap)
            break;
        memcpy(buf + n, b, l);
        n += l;
    }
    return n;
}

/* Any input: encode succeeds with in-range ids and the stream emits valid
 * UTF-8; for gpt-2 valid text without parsed specials round-trips exactly. */
static void test_random_inputs(void **state)
{
    (void)state;
    static const char *const vocabs[] = {
        "vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf",
        "vocab/ggml-vocab-bert-bge.gguf",  "vocab/ggml-vocab-deepseek-llm.gguf",
        "vocab/ggml-vocab-mpt.gguf",       "vocab/ggml-vocab-phi-3.gguf",
    };
    int iters = getenv("OM_TEST_QUICK") ? 60 : 400, ran = 0;
    unsigned seed = 12345;
    for (size_t k = 0; k < sizeof vocabs / sizeof vocabs[0]; k++) {
        tok_vocab *v = open_vocab(vocabs[k]);
        if (!v)
            continue;
        ran++;
        int is_gpt2 = strstr(vocabs[k], "gpt-2") != NULL;
        for (int it = 0; it < iters; it++) {
            char text[1024], out[8192];
            int valid = it % 2, parse = (it / 2) % 2, add = (it / 4) % 2;
            size_t len = random_text(&seed, text, sizeof text, valid), n, no, total = 0;
            int32_t ids[4096];
            assert_int_equal(tok_encode(v, text, len, add, parse, ids, 4096, &n), 0);
            tok_stream st;
            tok_stream_init(&st);
            for (size_t i = 0; i < n; i++) {
                assert_true(ids[i] >= 0 && ids[i] < tok_n_vocab(v));
                assert_int_equal(tok_stream_push(&st, v, ids[i], 1, out + total, sizeof out - total, &no), 0);
                total += no;
            }
            assert_int_equal(tok_stream_flush(&st, out + total, sizeof out - total, &no), 0);
            total += no;
            assert_true(valid_utf8((const unsigned char *)out, total));
            if (is_gpt2 && valid && !parse) {
                assert_int_equal(tok_decode(v, ids, n, 0, out, sizeof out, &no), 0);
                assert_int_equal(no, len);
                assert_memory_equal(out, text, len);
            }
        }
        tok_vocab_free(v);
    }
    if (!ran)
        skip();
}

/* SPM merges word by word when the vocabulary allows it; the ids must be
 * exactly those of one global merge, on any input. */
static void test_spm_segments_exact(void **state)
{
    (void)state;
    static const char *const vocabs[] = {"vocab/ggml-vocab-llama-spm.gguf",
                                         "vocab/ggml-vocab-phi-3.gguf", "stories260K.gguf"};
    int iters = getenv("OM_TEST_QUICK") ? 100 : 1000, ran = 0;
    unsigned seed = 777;
    for (size_t k = 0; k < sizeof vocabs / sizeof vocabs[0]; k++) {
        tok_vocab *v = open_vocab(vocabs[k]);
        if (!v)
            continue;
        ran++;
        assert_true(v->spm_barriers); /* true of Llama-family vocabularies */
        for (int it = 0; it < iters; it++) {
            char text[1024];
            size_t len = random_text(&seed, text, sizeof text, it % 2), n1, n2;
            int32_t a[4096], b[4096];
            v->spm_barriers = 1;
            assert_int_equal(tok_encode(v, text, len, 1, it % 3 == 0, a, 4096, &n1), 0);
            v->spm_barriers = 0;
            assert_int_equal(tok_encode(v, text, len, 1, it % 3 == 0, b, 4096, &n2), 0);
            assert_int_equal(n1, n2);
            assert_memory_equal(a, b, n1 * sizeof(int32_t));
        }
        tok_vocab_free(v);
    }
    if (!ran)
        skip();
}

struct mt_arg {
    const tok_vocab *v;
    const char *text;
    size_t len, n;
    int32_t *ids;
};

static void *mt_run(void *p)
{
    struct mt_arg *a = p;
    for (int r = 0; r < 20; r++)
        if (tok_encode(a->v, a->text, a->len, 1, 1, a->ids, 8192, &a->n) != 0)
            a->n = (size_t)-1;
    return NULL;
}

/* One vocabulary shared by several threads gives each the same ids. */
static void test_threads(void **state)
{
    (void)state;
    OPEN_OR_SKIP(v, "vocab/ggml-vocab-deepseek-llm.gguf");
    char text[4096];
    size_t len = 0;
    while (len + 200 < sizeof text)
        for (size_t i = 0; i < sizeof tok_texts / sizeof tok_texts[0] && len + 200 < sizeof text; i++) {
            size_t l = strlen(tok_texts[i]);
            memcpy(text + len, tok_texts[i], l);
            len += l;
        }
    int32_t ref[8192];
    size_t nref;
    assert_int_equal(tok_encode(v, text, len, 1, 1, ref, 8192, &nref), 0);
    enum { NT = 4 };
    pthread_t th[NT];
    struct mt_arg args[NT];
    for (int i = 0; i < NT; i++) {
        args[i] = (struct mt_arg){v, text, len, 0, malloc(8192 * sizeof(int32_t))};
        assert_int_equal(pthread_create(&th[i], NULL, mt_run, &args[i]), 0);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].n, nref);
        assert_memory_equal(args[i].ids, ref, nref * sizeof(int32_t));
        free(args[i].ids);
    }
    tok_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_speed),
        cmocka_unit_test(test_random_inputs),
        cmocka_unit_test(test_spm_segments_exact),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
