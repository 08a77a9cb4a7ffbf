/* Tokenizer against llama.cpp's test-tokenizer-0 cases: for every
 * ggml-vocab-*.gguf.inp/.out pair in shared/models/vocab whose vocabulary is
 * present, every case must give exactly the listed ids (no BOS, special
 * tokens not parsed, as that test runs). Pairs without their GGUF are
 * skipped loudly. Also times the load of the largest vocabulary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/om.h"
#include "engine/tok.h"
#include "format/gguf.h"

#define VOCAB_DIR OM_SHARED_DIR "/models/vocab/"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = 0;
    *len = got;
    return b;
}

static tok_vocab *load_vocab(const char *path)
{
    gguf_file *g;
    char err[256];
    int rc = gguf_open(path, &g, err, sizeof err);
    if (rc) {
        print_error("%s: %s\n", path, err);
        fail();
    }
    tok_vocab *v;
    rc = tok_vocab_load(g, &v, err, sizeof err);
    gguf_close(g);
    if (rc) {
        print_error("%s: %s\n", path, err);
        fail();
    }
    return v;
}

/* Runs every case of cases.inp/.out with the vocabulary at path; returns the
 * number of failures. */
static int run_cases(const char *path, const char *cases, const char *name)
{
    char pinp[600], pout[600];
    snprintf(pinp, sizeof pinp, "%s.inp", cases);
    snprintf(pout, sizeof pout, "%s.out", cases);
    size_t ni, no;
    char *inp = slurp(pinp, &ni), *outs = slurp(pout, &no);
    assert_non_null(inp);
    assert_non_null(outs);
    tok_vocab *v = load_vocab(path);

    const char *sep = "\n__ggml_vocab_test__\n";
    size_t seplen = strlen(sep);
    char *ip = inp, *op = outs;
    int n_cases = 0, n_fail = 0;
    size_t cap = 4096;
    int32_t *ids = malloc(cap * sizeof(*ids));
    while (ip < inp + ni) {
        char *next = strstr(ip, sep);
        size_t clen = next ? (size_t)(next - ip) : strlen(ip);
        char *oe = strchr(op, '\n');
        assert_non_null(oe);
        *oe = 0;
        int32_t want[1024];
        size_t nw = 0;
        for (char *t = strtok(op, " "); t; t = strtok(NULL, " "))
            want[nw++] = (int32_t)strtol(t, NULL, 10);
        op = oe + 1;
        size_t n;
        assert_int_equal(tok_encode(v, ip, clen, 0, 0, ids, cap, &n), 0);
        int ok = n == nw && memcmp(ids, want, n * sizeof(*ids)) == 0;
        if (!ok) {
            n_fail++;
            fprintf(stderr, "[%s] case %d FAILED: '%.*s'\n  want:", name, n_cases, (int)clen, ip);
            for (size_t i = 0; i < nw; i++)
                fprintf(stderr, " %d", want[i]);
            fprintf(stderr, "\n  got: ");
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n");
        }
        n_cases++;
        ip = next ? next + seplen : inp + ni;
    }
    fprintf(stderr, "[%s] %d/%d cases pass\n", name, n_cases - n_fail, n_cases);
    assert_true(n_cases >= 10);
    free(ids);
    tok_vocab_free(v);
    free(inp);
    free(outs);
    return n_fail;
}

static void test_vocab_file(void **state)
{
    const char *name = *state;
    char path[512];
    snprintf(path, sizeof path, VOCAB_DIR "%s", name);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "SKIP: %s absent: its .inp/.out cases are NOT checked\n", path);
        skip();
    }
    assert_int_equal(run_cases(path, path, name), 0);
}

/* The tiny random Llama-2 model carries the very same vocabulary as
 * ggml-vocab-llama-spm (tokens, scores, types), so its cases apply. */
static void test_llama2_tiny_random(void **state)
{
    (void)state;
    const char *path = OM_SHARED_DIR "/models/llama-2-tiny-random.gguf";
    if (access(path, R_OK) != 0 || access(VOCAB_DIR "ggml-vocab-llama-spm.gguf.inp", R_OK) != 0) {
        fprintf(stderr, "SKIP: %s or the llama-spm cases absent\n", path);
        skip();
    }
    assert_int_equal(run_cases(path, VOCAB_DIR "ggml-vocab-llama-spm.gguf", "llama-2-tiny-random"), 0);
}

/* Any .inp whose vocab this file does not list would go unnoticed: fail. */
static const char *const known[] = {
    "ggml-vocab-bert-bge.gguf",     "ggml-vocab-chameleon.gguf",  "ggml-vocab-command-r.gguf",
    "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-deepseek-llm.gguf",
    "ggml-vocab-deepseek-r1-qwen.gguf", "ggml-vocab-falcon.gguf", "ggml-vocab-gpt-2.gguf",
    "ggml-vocab-llama-bpe.gguf",    "ggml-vocab-llama-spm.gguf",  "ggml-vocab-mpt.gguf",
    "ggml-vocab-phi-3.gguf",        "ggml-vocab-qwen2.gguf",      "ggml-vocab-refact.gguf",
    "ggml-vocab-roberta-bpe.gguf",  "ggml-vocab-starcoder.gguf",
};

static void test_all_pairs_listed(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s 2>/dev/null", VOCAB_DIR);
    FILE *p = popen(cmd, "r");
    if (!p)
        skip();
    char line[512];
    int unknown = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        size_t l = strlen(line);
        if (l < 5 || strcmp(line + l - 4, ".inp") != 0)
            continue;
        line[l - 4] = 0;
        int found = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            found |= strcmp(known[i], line) == 0;
        if (!found) {
            fprintf(stderr, "vocab test pair %s is not in test_tok_vocab.c's list\n", line);
            unknown++;
        }
    }
    pclose(p);
    assert_int_equal(unknown, 0);
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_load_time(void **state)
{
    (void)state;
    const char *path = VOCAB_DIR "ggml-vocab-deepseek-llm.gguf"; /* 102k tokens, 100k merges */
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "SKIP: %s absent\n", path);
        skip();
    }
    gguf_file *g;
    char err[256];
    assert_int_equal(gguf_open(path, &g, err, sizeof err), 0);
    /* thread CPU time, best of 5: other processes on a busy machine do not count */
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = cpu_ns();
        tok_vocab *v;
        assert_int_equal(tok_vocab_load(g, &v, err, sizeof err), 0);
        uint64_t dt = cpu_ns() - t0;
        best = dt < best ? dt : best;
        tok_vocab_free(v);
    }
    gguf_close(g);
    fprintf(stderr, "deepseek-llm vocab load: %.1f ms CPU\n", best / 1e6);
    if (!getenv("OM_TEST_QUICK"))
        assert_true(best < 100 * 1000 * 1000ull);
}

#define VT(i) cmocka_unit_test_prestate(test_vocab_file, (void *)known[i])

int main(void)
{
    const struct CMUnitTest tests[] = {
        VT(0), VT(1), VT(2), VT(3), VT(4), VT(5), VT(6), VT(7), VT(8), VT(9), VT(10), VT(11),
        VT(12), VT(13), VT(14), VT(15),
        cmocka_unit_test(test_llama2_tiny_random),
        cmocka_unit_test(test_all_pairs_listed),
        cmocka_unit_test(test_load_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
