/* Tests for store/name.c and the digest helpers: Ollama's name grammar
 * (types/model/name_test.go cases, with ParseName's defaults applied), the
 * full and display forms, and digest validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "store/models.h"

static char *rep(char c, int n)
{
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ & 3];
    memset(b, c, (size_t)n);
    b[n] = '\0';
    return b;
}

static void test_valid_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int valid;
    } T[] = {
        {"", 0},
        {"_why/_the/_lucky:_stiff", 1},
        {"h/n/m:t", 1},
        {"host/namespace/model:tag", 1},
        {"host/namespace/model", 1}, /* tag defaults */
        {"namespace/model", 1},
        {"model", 1},
        {"m", 1},
        {"n/m:", 0},
        {"@t", 0},
        {"m@d", 0},
        {"^", 0},
        {"mm:", 0},
        {"/nn/mm", 0},
        {"//", 0},
        {"//mm", 0},
        {"hh//", 0},
        {"//mm:@", 0},
        {"00@", 0},
        {"@", 0},
        {"-hh/nn/mm:tt", 0},
        {"hh/-nn/mm:tt", 0},
        {"hh/nn/-mm:tt", 0},
        {"hh/nn/mm:-tt", 0},
        {"host:https/namespace/model:tag", 1},
        {"host/name:space/model:tag", 0},
        {"ns.dot/model", 0}, /* '.' not allowed in a namespace */
        {"llama3.2:1b-q4_K_M", 1},
        {"../../etc/passwd", 0}, /* no part may start with '.' */
        {"a/../b:c", 0},
        {"a/b/../c", 0},
        {"a/b/c/d:e", 0}, /* host "a/b" holds a '/' */
        {"m:t/x", 0},
        {"model:..", 0},
        {".hidden", 0},
        {"m:tag with space", 0},
        {"m\n", 0},
        {"https://host:5000/ns/m:t", 1},
        {"m::t", 0},
    };
    for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++) {
        struct store_name n;
        int rc = store_name_parse(T[i].in, &n);
        if ((rc == 0) != T[i].valid)
            fail_msg("name \"%s\": expected %s, rc %d", T[i].in, T[i].valid ? "valid" : "invalid",
                     rc);
        if (!T[i].valid)
            assert_int_equal(rc, OM_EINVAL);
    }
}

static void test_lengths(void **state)
{
    (void)state;
    char buf[2048];
    struct store_name n;
    snprintf(buf, sizeof(buf), "%s/%s/%s:%s", rep('h', 350), rep('n', 80), rep('m', 80),
             rep('t', 80));
    assert_int_equal(store_name_parse(buf, &n), 0);
    assert_int_equal(strlen(n.host), 350);
    snprintf(buf, sizeof(buf), "%s/n/m:t", rep('h', 351));
    assert_int_equal(store_name_parse(buf, &n), OM_EINVAL);
    snprintf(buf, sizeof(buf), "%s", rep('m', 81));
    assert_int_equal(store_name_parse(buf, &n), OM_EINVAL);
    snprintf(buf, sizeof(buf), "m:%s", rep('t', 81));
    assert_int_equal(store_name_parse(buf, &n), OM_EINVAL);
    snprintf(buf, sizeof(buf), "%s/m", rep('n', 81));
    assert_int_equal(store_name_parse(buf, &n), OM_EINVAL);
    /* hostile: very long input */
    char big[5000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(store_name_parse(big, &n), OM_EINVAL);
    assert_int_equal(store_name_parse(NULL, &n), OM_EINVAL);
}

static void check_forms(const char *in, const char *full, const char *display)
{
    struct store_name n;
    char b[1200];
    assert_int_equal(store_name_parse(in, &n), 0);
    store_name_full(&n, b, sizeof(b));
    assert_string_equal(b, full);
    store_name_display(&n, b, sizeof(b));
    assert_string_equal(b, display);
}

static void test_forms(void **state)
{
    (void)state;
    check_forms("llama3.2", "registry.ollama.ai/library/llama3.2:latest", "llama3.2:latest");
    check_forms("user/m:q4", "registry.ollama.ai/user/m:q4", "user/m:q4");
    check_forms("localhost:5000/ns/m", "localhost:5000/ns/m:latest", "localhost:5000/ns/m:latest");
    check_forms("https://localhost:5000/ns/m:t", "localhost:5000/ns/m:t", "localhost:5000/ns/m:t");
    check_forms("Registry.Ollama.AI/Library/Llama3:8B", "Registry.Ollama.AI/Library/Llama3:8B",
                "Llama3:8B");
    check_forms("registry.ollama.ai/library/dolphin-mistral:7b-v2.6-dpo-laser-q6_K",
                "registry.ollama.ai/library/dolphin-mistral:7b-v2.6-dpo-laser-q6_K",
                "dolphin-mistral:7b-v2.6-dpo-laser-q6_K");
    check_forms("host/library/m:t", "host/library/m:t", "host/library/m:t");
    struct store_name a, b;
    store_name_parse("LLAMA3", &a);
    store_name_parse("registry.ollama.ai/library/llama3:LATEST", &b);
    assert_true(store_name_equal(&a, &b));
    store_name_parse("llama3:8b", &b);
    assert_false(store_name_equal(&a, &b));
}

static void test_digests(void **state)
{
    (void)state;
    char hex[65], d[100], c[72];
    memset(hex, 'a', 64);
    hex[64] = '\0';
    snprintf(d, sizeof(d), "sha256:%s", hex);
    assert_true(store_digest_valid(d));
    snprintf(d, sizeof(d), "sha256-%s", hex);
    assert_true(store_digest_valid(d));
    assert_int_equal(store_digest_canon(d, c), 0);
    assert_memory_equal(c, "sha256:", 7);
    snprintf(d, sizeof(d), "sha256:%s", hex);
    d[20] = 'F';
    assert_true(store_digest_valid(d));
    assert_int_equal(store_digest_canon(d, c), 0);
    assert_int_equal(c[20], 'f');
    d[20] = 'g';
    assert_false(store_digest_valid(d));
    snprintf(d, sizeof(d), "sha256:%s0", hex); /* 65 hex */
    assert_false(store_digest_valid(d));
    snprintf(d, sizeof(d), "sha256:%.63s", hex);
    assert_false(store_digest_valid(d));
    snprintf(d, sizeof(d), "sha512:%s", hex);
    assert_false(store_digest_valid(d));
    snprintf(d, sizeof(d), "sha256/%s", hex);
    assert_false(store_digest_valid(d));
    assert_false(store_digest_valid("sha256:../../../etc/passwd"));
    assert_false(store_digest_valid(""));
    assert_false(store_digest_valid(NULL));
    assert_int_equal(store_digest_canon("nope", c), OM_EINVAL);
}

static void test_format_params(void **state)
{
    (void)state;
    static const struct {
        uint64_t n;
        const char *s;
    } T[] = {{8030261248ull, "8.0B"},
             {8000000000ull, "8B"},
             {137000000, "137M"},
             {136727040, "136.73M"},
             {1100048384, "1.1B"},
             {292352, "292K"},
             {999, "999"},
             {1000, "1K"},
             {1500000, "1.50M"},
             {70553706496ull, "70.6B"}};
    char b[32];
    for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++) {
        store_format_params(T[i].n, b, sizeof(b));
        assert_string_equal(b, T[i].s);
    }
}

/* Random strings over the name alphabet plus hostile characters: a name
 * that parses always gives four parts that are safe path components. */
static void test_random_names(void **state)
{
    (void)state;
    static const char ALPHA[] = "ab_Z9.-:/@ \\%\x01\xc3";
    uint64_t seed = 99;
    char buf[64];
    int iters = getenv("OM_TEST_QUICK") ? 20000 : 200000, n_valid = 0;
    for (int it = 0; it < iters; it++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int len = (int)((seed >> 40) % 20);
        for (int i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = ALPHA[(seed >> 33) % (sizeof(ALPHA) - 1)];
        }
        buf[len] = '\0';
        struct store_name n;
        if (store_name_parse(buf, &n) != 0)
            continue;
        n_valid++;
        const char *parts[] = {n.host, n.ns, n.model, n.tag};
        for (int p = 0; p < 4; p++) {
            assert_true(parts[p][0] != '\0');
            assert_true(parts[p][0] != '.');
            assert_null(strchr(parts[p], '/'));
            assert_null(strchr(parts[p], '\\'));
            assert_null(strchr(parts[p], ' '));
            if (p > 0)
                assert_null(strchr(parts[p], ':'));
        }
        assert_null(strchr(n.ns, '.'));
    }
    assert_true(n_valid > 100); /* the generator does reach valid names */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_invalid), cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_forms),         cmocka_unit_test(test_digests),
        cmocka_unit_test(test_format_params), cmocka_unit_test(test_random_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
