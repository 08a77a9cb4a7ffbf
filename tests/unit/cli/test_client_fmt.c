/* Formatting helpers of the server verbs (src/cli/client_fmt.c, compiled in
 * here since the test links omcore only): OLLAMA_HOST parsing, Ollama's
 * human sizes/numbers/relative times, Go durations (print and parse),
 * RFC 3339, the table layout of `ollama list` and the progress-bar line.
 * Expected strings are what Ollama's Go code prints for the same inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../../src/cli/client_fmt.c"
#include "../../../src/cli/client_table.c"

static void host(const char *in, const char *want)
{
    char b[600];
    assert_int_equal(cli_host_parse(in, b, sizeof b), 0);
    if (strcmp(b, want))
        fail_msg("OLLAMA_HOST=%s: got %s, want %s", in ? in : "(unset)", b, want);
}

static void test_host(void **st)
{
    (void)st;
    host(NULL, "http://127.0.0.1:11434");
    host("", "http://127.0.0.1:11434");
    host("  ", "http://127.0.0.1:11434");
    host("1.2.3.4", "http://1.2.3.4:11434");
    host("1.2.3.4:5678", "http://1.2.3.4:5678");
    host(":1234", "http://127.0.0.1:1234");
    host("0.0.0.0:8080", "http://127.0.0.1:8080");
    host("example.com", "http://example.com:11434");
    host("example.com:1234", "http://example.com:1234");
    host("http://example.com", "http://example.com:80");
    host("https://example.com", "https://example.com:443");
    host("https://example.com:8443/path/", "https://example.com:8443/path");
    host("\"127.0.0.1:9000\"", "http://127.0.0.1:9000");
    host("'localhost'", "http://localhost:11434");
    host("[::1]:1234", "http://[::1]:1234");
    host("[::1]", "http://[::1]:11434");
    host("[::]:1234", "http://[::1]:1234");
    host("1.2.3.4:99999", "http://1.2.3.4:11434");
    host("1.2.3.4:abc", "http://1.2.3.4:11434");
    host("ollama.com", "https://ollama.com:443");
    char small[8];
    assert_int_equal(cli_host_parse("example.com", small, sizeof small), OM_ERANGE);
}

static void bytes(int64_t b, const char *want)
{
    char s[64];
    cli_fmt_bytes(b, s, sizeof s);
    assert_string_equal(s, want);
}

static void test_bytes_numbers(void **st)
{
    (void)st;
    bytes(0, "0 B");
    bytes(999, "999 B");
    bytes(1000, "1 KB");
    bytes(1500, "1.5 KB");
    bytes(10500, "10 KB");
    bytes(999999, "999 KB"); /* truncated, not rounded */
    bytes(1023999, "1.0 MB");
    bytes(1000000, "1 MB");
    bytes(1230000, "1.2 MB");
    bytes(2019393189, "2.0 GB");
    bytes(4661224676LL, "4.7 GB");
    bytes(3000000000000LL, "3 TB");
    char s[32];
    cli_fmt_number(999, s, sizeof s);
    assert_string_equal(s, "999");
    cli_fmt_number(4000, s, sizeof s);
    assert_string_equal(s, "4K");
    cli_fmt_number(137000000, s, sizeof s);
    assert_string_equal(s, "137M");
    cli_fmt_number(1250000, s, sizeof s);
    assert_string_equal(s, "1.25M");
    cli_fmt_number(8030261248ULL, s, sizeof s);
    assert_string_equal(s, "8.0B");
    cli_fmt_number(7000000000ULL, s, sizeof s);
    assert_string_equal(s, "7B");
}

static void godur(int64_t ns, const char *want)
{
    char s[64];
    cli_fmt_go_duration(ns, s, sizeof s);
    assert_string_equal(s, want);
}

static void test_go_duration(void **st)
{
    (void)st;
    godur(0, "0s");
    godur(80, "80ns");
    godur(3000, "3µs");
    godur(1500, "1.5µs");
    godur(12500000, "12.5ms");
    godur(1000000000, "1s");
    godur(1500000000, "1.5s");
    godur(123456789012LL, "2m3.456789012s");
    godur(3600000000000LL, "1h0m0s");
    godur(-5000000000LL, "-5s");
    char s[32];
    cli_fmt_eta(59400000000LL, s, sizeof s); /* 59.4 s rounds to 59 s */
    assert_string_equal(s, "59s");
    cli_fmt_eta(90500000000LL, s, sizeof s);
    assert_string_equal(s, "1m31s");
    cli_fmt_eta(3725000000000LL, s, sizeof s);
    assert_string_equal(s, "1h2m");
    cli_fmt_eta(400 * 3600000000000LL, s, sizeof s);
    assert_string_equal(s, "99h+");

    int64_t ns;
    char err[128];
    assert_int_equal(cli_parse_go_duration("5m", &ns, err, sizeof err), 0);
    assert_true(ns == 300000000000LL);
    assert_int_equal(cli_parse_go_duration("1h30m", &ns, err, sizeof err), 0);
    assert_true(ns == 5400000000000LL);
    assert_int_equal(cli_parse_go_duration("300ms", &ns, err, sizeof err), 0);
    assert_true(ns == 300000000LL);
    assert_int_equal(cli_parse_go_duration("-1.5h", &ns, err, sizeof err), 0);
    assert_true(ns == -5400000000000LL);
    assert_int_equal(cli_parse_go_duration("0", &ns, err, sizeof err), 0);
    assert_true(ns == 0);
    assert_int_equal(cli_parse_go_duration("2µs", &ns, err, sizeof err), 0);
    assert_true(ns == 2000);
    assert_int_equal(cli_parse_go_duration("300", &ns, err, sizeof err), OM_EINVAL);
    assert_string_equal(err, "time: missing unit in duration \"300\"");
    assert_int_equal(cli_parse_go_duration("5x", &ns, err, sizeof err), OM_EINVAL);
    assert_string_equal(err, "time: unknown unit \"x\" in duration \"5x\"");
    assert_int_equal(cli_parse_go_duration("", &ns, err, sizeof err), OM_EINVAL);
    assert_int_equal(cli_parse_go_duration("abc", &ns, err, sizeof err), OM_EINVAL);
    assert_string_equal(err, "time: invalid duration \"abc\"");
}

static void rel(double delta_s, const char *want)
{
    char s[64];
    double now = 1700000000.0;
    cli_fmt_time_rel(now - delta_s, now, "Never", s, sizeof s);
    if (strcmp(s, want))
        fail_msg("delta %.1f s: got \"%s\", want \"%s\"", delta_s, s, want);
}

static void test_relative_time(void **st)
{
    (void)st;
    rel(0.5, "Less than a second ago");
    rel(1, "1 second ago");
    rel(42, "42 seconds ago");
    rel(60, "About a minute ago");
    rel(119, "About a minute ago");
    rel(240, "4 minutes ago");
    rel(3599, "59 minutes ago");
    rel(3600, "About an hour ago");
    rel(5 * 3600, "5 hours ago");
    rel(47 * 3600, "47 hours ago");
    rel(3 * 86400, "3 days ago");
    rel(20 * 86400, "2 weeks ago");
    rel(90 * 86400, "3 months ago");
    rel(800 * 86400.0, "2 years ago");
    rel(-4.5 * 60, "4 minutes from now");
    rel(-300, "5 minutes from now");
    rel(-30.0 * 365 * 86400, "Forever");
    char s[32];
    cli_fmt_time_rel(0, 1700000000.0, "Never", s, sizeof s);
    assert_string_equal(s, "Never");

    double t;
    assert_int_equal(cli_parse_rfc3339("2023-11-14T22:13:20Z", &t), 0);
    assert_true(t == 1700000000.0);
    assert_int_equal(cli_parse_rfc3339("2023-11-15T00:13:20.5+02:00", &t), 0);
    assert_true(t == 1700000000.5);
    assert_int_equal(cli_parse_rfc3339("2023-11-14T17:13:20.123456789-05:00", &t), 0);
    assert_true(fabs(t - 1700000000.123456789) < 1e-6);
    assert_int_equal(cli_parse_rfc3339("0001-01-01T00:00:00Z", &t), 0);
    assert_true(t == 0);
    assert_int_equal(cli_parse_rfc3339("2023-11-14 22:13:20", &t), OM_EFORMAT);
    assert_int_equal(cli_parse_rfc3339("2023-11-14T22:13:20", &t), OM_EFORMAT);
    assert_int_equal(cli_parse_rfc3339("", &t), OM_EFORMAT);
}

/* Renders t into a string. */
static char *render(const struct cli_table *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_table_print(t, f);
    fclose(f);
    return buf;
}

static void test_table(void **st)
{
    (void)st;
    struct cli_table t;
    cli_table_init(&t, 4, 30);
    cli_table_header(&t, (const char *[]){"NAME", "ID", "SIZE", "MODIFIED"});
    cli_table_add(&t, (const char *[]){"llama3.2:latest", "a80c4f17acd5", "2.0 GB", "2 days ago"});
    cli_table_add(&t, (const char *[]){"x:latest", "0123456789ab", "1.5 MB", "About a minute ago"});
    char *s = render(&t);
    assert_string_equal(s, "NAME               ID              SIZE      MODIFIED           \n"
                           "llama3.2:latest    a80c4f17acd5    2.0 GB    2 days ago            \n"
                           "x:latest           0123456789ab    1.5 MB    About a minute ago    \n");
    free(s);
    cli_table_close(&t);

    /* no header, ragged rows (show's Parameters), a wrapped long cell */
    cli_table_init(&t, 4, 10);
    cli_table_add(&t, (const char *[]){"", "stop", "\"a\"", NULL});
    cli_table_add(&t, (const char *[]){"", "temperature", "0", "x"});
    cli_table_add(&t, (const char *[]){"", "k", "one two three", NULL});
    s = render(&t);
    assert_string_equal(s, "    stop           \"a\"        \n"
                           "    temperature    0          x    \n"
                           "    k              one two    \n"
                           "                   three      \n");
    free(s);
    cli_table_close(&t);

    /* display width counts characters, not bytes */
    assert_int_equal(cli_text_width("héllo", strlen("héllo")), 5);
    assert_int_equal(cli_text_width("日本", strlen("日本")), 4);
    cli_table_init(&t, 2, 30);
    cli_table_add(&t, (const char *[]){"é", "x"});
    cli_table_add(&t, (const char *[]){"ab", "y"});
    s = render(&t);
    assert_string_equal(s, "é     x    \nab    y    \n");
    free(s);
    cli_table_close(&t);
}

static void test_bar(void **st)
{
    (void)st;
    char s[1024];
    /* finished: message, 100%, full bar, total, blank rate/eta fields */
    cli_fmt_bar(s, sizeof s, "pulling 8eeb52dfb3bb:", 2019393189, 2019393189, 1, 0, 80);
    const char *want_done = "pulling 8eeb52dfb3bb: 100% ▕";
    assert_memory_equal(s, want_done, strlen(want_done));
    /* pre = 26 bytes, suffix = 6+7+10+8 = 31, bar = 80-26-31-5 = 18 cells */
    char expect[1024] = "";
    strcat(expect, "pulling 8eeb52dfb3bb: 100% ▕");
    for (int i = 0; i < 18; i++)
        strcat(expect, "█");
    strcat(expect, "▏ 2.0 GB                         ");
    assert_string_equal(s, expect);

    /* running: current/total, rate and ETA */
    cli_fmt_bar(s, sizeof s, "pulling abc:", 500000000, 2000000000, 0, 10000000, 80);
    /* pre "pulling abc:  25%" (17), suffix "500 MB/  2 GB" (13) + "   10 MB/s" (10)
     * + "  2m30s" padded to 8 = 31; bar 80-17-31-5 = 27 cells, 25% -> 6 full */
    strcpy(expect, "pulling abc:  25% ▕");
    for (int i = 0; i < 6; i++)
        strcat(expect, "█");
    strcat(expect, "                     ▏ 500 MB/  2 GB   10 MB/s   2m30s");
    assert_string_equal(s, expect);

    /* a tiny terminal: no bar cells, still well formed */
    cli_fmt_bar(s, sizeof s, "x", 1, 2, 0, 0, 10);
    assert_non_null(strstr(s, "▕▏"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host),         cmocka_unit_test(test_bytes_numbers),
        cmocka_unit_test(test_go_duration),  cmocka_unit_test(test_relative_time),
        cmocka_unit_test(test_table),        cmocka_unit_test(test_bar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
