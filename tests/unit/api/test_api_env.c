/* api: Ollama's value formats — Go durations (keep_alive, OLLAMA_KEEP_ALIVE),
 * OLLAMA_HOST, and the environment as a whole (api_env_load). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/om.h"

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ns;
    } ok[] = {
        {"0", 0},
        {"5m", 300000000000LL},
        {"1h30m", 5400000000000LL},
        {"300ms", 300000000LL},
        {"-1m", -60000000000LL},
        {"1.5h", 5400000000000LL},
        {"2s500ms", 2500000000LL},
        {"10us", 10000LL},
        {"7ns", 7LL},
        {"+3s", 3000000000LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ns = -42;
        assert_int_equal(api_parse_duration(ok[i].s, &ns), 0);
        assert_int_equal(ns, ok[i].ns);
    }
    /* Go refuses these: a bare number (other than 0), unknown units, junk */
    static const char *const bad[] = {"300", "-1", "", "5 m", "5x", "m", "1h-2m", "abc", "1e3s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns = 0;
        assert_true(api_parse_duration(bad[i], &ns) != 0);
    }
    int64_t ns;
    assert_int_equal(api_parse_duration("99999999999h", &ns), OM_ERANGE);
}

static void test_hosts(void **state)
{
    (void)state;
    char h[256];
    int p;
    assert_int_equal(api_parse_host("127.0.0.1:11434", h, sizeof h, &p), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(p, 11434);
    assert_int_equal(api_parse_host("0.0.0.0", h, sizeof h, &p), 0);
    assert_string_equal(h, "0.0.0.0");
    assert_int_equal(p, 11434);
    assert_int_equal(api_parse_host("http://example.com", h, sizeof h, &p), 0);
    assert_string_equal(h, "example.com");
    assert_int_equal(p, 80);
    assert_int_equal(api_parse_host("https://example.com/path", h, sizeof h, &p), 0);
    assert_int_equal(p, 443);
    assert_int_equal(api_parse_host("[::1]:8080", h, sizeof h, &p), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(p, 8080);
    assert_int_equal(api_parse_host(":9000", h, sizeof h, &p), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(p, 9000);
    assert_int_equal(api_parse_host("host:99999", h, sizeof h, &p), OM_EINVAL);
    assert_int_equal(api_parse_host("host:12ab", h, sizeof h, &p), OM_EINVAL);
}

static void test_env(void **state)
{
    (void)state;
    char err[256];
    struct api_env e;
    setenv("HOME", "/tmp/omx-home", 1);
    unsetenv("OLLAMA_HOST");
    unsetenv("OLLAMA_MODELS");
    unsetenv("OLLAMA_KEEP_ALIVE");
    unsetenv("OLLAMA_NUM_PARALLEL");
    unsetenv("OLLAMA_MAX_QUEUE");
    unsetenv("OLLAMA_NOPRUNE");
    unsetenv("OLLAMA_DEBUG");
    assert_int_equal(api_env_load(&e, err, sizeof err), 0);
    assert_string_equal(e.host, "127.0.0.1");
    assert_int_equal(e.port, 11434);
    assert_string_equal(e.models, "/tmp/omx-home/.ollama/models");
    assert_true(e.keep_alive_ns == 300000000000LL);
    assert_int_equal(e.max_queue, 512);
    assert_false(e.noprune);

    /* values are trimmed of blanks and quotes; durations may be seconds */
    setenv("OLLAMA_HOST", " \"0.0.0.0:12345\" ", 1);
    setenv("OLLAMA_KEEP_ALIVE", "120", 1);
    setenv("OLLAMA_NUM_PARALLEL", "3", 1);
    setenv("OLLAMA_NOPRUNE", "1", 1);
    setenv("OLLAMA_DEBUG", "2", 1);
    setenv("OLLAMA_MODELS", "/tmp/m", 1);
    assert_int_equal(api_env_load(&e, err, sizeof err), 0);
    assert_string_equal(e.host, "0.0.0.0");
    assert_int_equal(e.port, 12345);
    assert_true(e.keep_alive_ns == 120000000000LL);
    assert_int_equal(e.num_parallel, 3);
    assert_true(e.noprune);
    assert_int_equal(e.debug, 2);
    assert_string_equal(e.models, "/tmp/m");
    setenv("OLLAMA_KEEP_ALIVE", "-1", 1);
    assert_int_equal(api_env_load(&e, err, sizeof err), 0);
    assert_true(e.keep_alive_ns < 0);
    setenv("OLLAMA_NOPRUNE", "false", 1);
    assert_int_equal(api_env_load(&e, err, sizeof err), 0);
    assert_false(e.noprune);

    /* errors name the variable */
    setenv("OLLAMA_NUM_PARALLEL", "lots", 1);
    assert_int_equal(api_env_load(&e, err, sizeof err), OM_EINVAL);
    assert_non_null(strstr(err, "OLLAMA_NUM_PARALLEL"));
    setenv("OLLAMA_NUM_PARALLEL", "2", 1);
    setenv("OLLAMA_KEEP_ALIVE", "soon", 1);
    assert_int_equal(api_env_load(&e, err, sizeof err), OM_EINVAL);
    assert_non_null(strstr(err, "OLLAMA_KEEP_ALIVE"));
    setenv("OLLAMA_KEEP_ALIVE", "5m", 1);
    setenv("OLLAMA_HOST", "x:70000", 1);
    assert_int_equal(api_env_load(&e, err, sizeof err), OM_EINVAL);
    assert_non_null(strstr(err, "OLLAMA_HOST"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
