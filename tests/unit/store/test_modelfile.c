/* Tests for the Modelfile parser (store_modelfile_parse), the option type
 * checks (store_options_check) and the /api/show text helpers. */
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

static json_t *parse_ok(const char *text)
{
    json_t *req = NULL;
    char err[512] = "";
    int rc = store_modelfile_parse(text, strlen(text), &req, err, sizeof(err));
    if (rc)
        fail_msg("parse failed (%d): %s\n--\n%s", rc, err, text);
    return req;
}

static void parse_err(const char *text, const char *want)
{
    json_t *req = NULL;
    char err[512] = "";
    int rc = store_modelfile_parse(text, strlen(text), &req, err, sizeof(err));
    if (rc == 0)
        fail_msg("parse succeeded, expected error \"%s\"\n--\n%s", want, text);
    assert_null(req);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_basic(void **state)
{
    (void)state;
    json_t *r = parse_ok("# comment\n"
                         "FROM llama3.2\n"
                         "\n"
                         "PARAMETER temperature 0.7\n"
                         "PARAMETER num_ctx 4096\n"
                         "parameter stop <|eot_id|>\n"
                         "PARAMETER stop \"<|start_header_id|>\"\n"
                         "PARAMETER use_mmap false\n"
                         "SYSTEM You are Mario.\n"
                         "LICENSE MIT\n"
                         "license \"\"\"second\nlicense\"\"\"\n"
                         "MESSAGE user Is Toronto in Canada?\n"
                         "MESSAGE assistant yes\n"
                         "REQUIRES 0.5.1\n");
    assert_string_equal(sget(r, "from"), "llama3.2");
    assert_string_equal(sget(r, "system"), "You are Mario.");
    assert_string_equal(sget(r, "requires"), "0.5.1");
    json_t *p = json_object_get(r, "parameters");
    assert_true(json_is_real(json_object_get(p, "temperature")));
    char *s = store_json_go(p, true, false, NULL);
    assert_string_equal(s, "{\"num_ctx\":4096,\"stop\":[\"\\u003c|eot_id|\\u003e\","
                           "\"\\u003c|start_header_id|\\u003e\"],\"temperature\":0.7,"
                           "\"use_mmap\":false}");
    free(s);
    json_t *lic = json_object_get(r, "license");
    assert_int_equal(json_array_size(lic), 2);
    assert_string_equal(json_string_value(json_array_get(lic, 1)), "second\nlicense");
    json_t *m = json_object_get(r, "messages");
    assert_int_equal(json_array_size(m), 2);
    assert_string_equal(sget(json_array_get(m, 0), "role"), "user");
    assert_string_equal(sget(json_array_get(m, 0), "content"), "Is Toronto in Canada?");
    json_decref(r);
}

static void test_quotes_multiline(void **state)
{
    (void)state;
    json_t *r = parse_ok("FROM ./model.gguf\n"
                         "TEMPLATE \"\"\"{{ if .System }}<|system|>\n"
                         "{{ .System }}\"quoted\"{{ end }}\n"
                         "  indented\n"
                         "\"\"\"\n"
                         "SYSTEM \"   spaced   \"\n");
    assert_string_equal(sget(r, "from"), "./model.gguf");
    assert_string_equal(
        sget(r, "template"),
        "{{ if .System }}<|system|>\n{{ .System }}\"quoted\"{{ end }}\n  indented\n");
    assert_string_equal(sget(r, "system"), "   spaced   ");
    json_decref(r);
    /* BOM, CRLF, tabs, trailing blanks, keyword case */
    r = parse_ok("\xef\xbb\xbf"
                 "from  model:tag  \r\n"
                 "SyStEm\thello world\t\r\n"
                 "\r\n"
                 "Template \"\"\"a\r\nb\"\"\"\r\n");
    assert_string_equal(sget(r, "from"), "model:tag");
    assert_string_equal(sget(r, "system"), "hello world");
    assert_string_equal(sget(r, "template"), "a\r\nb");
    json_decref(r);
    /* a value with inner quotes that is not quoted stays as is */
    r = parse_ok("FROM m\nSYSTEM say \"hi\" now\n");
    assert_string_equal(sget(r, "system"), "say \"hi\" now");
    json_decref(r);
    /* last FROM wins; no trailing newline */
    r = parse_ok("FROM a\nFROM b");
    assert_string_equal(sget(r, "from"), "b");
    json_decref(r);
    /* UTF-8 text */
    r = parse_ok("FROM m\nSYSTEM Tu es un assistant français — réponds 日本語.\n");
    assert_string_equal(sget(r, "system"), "Tu es un assistant français — réponds 日本語.");
    json_decref(r);
    /* deprecated parameters are dropped */
    r = parse_ok("FROM m\nPARAMETER mirostat 2\nPARAMETER penalize_newline true\n");
    assert_null(json_object_get(r, "parameters"));
    json_decref(r);
}

static void test_errors(void **state)
{
    (void)state;
    parse_err("", "no FROM line");
    parse_err("# only a comment\n", "no FROM line");
    parse_err("SYSTEM hi\n", "no FROM line");
    parse_err("FROM m\nFOO bar\n", "(line 2): command must be one of");
    parse_err("FROM m\n\n\nPARAMETER foo 1\n", "(line 4): unknown parameter 'foo'");
    parse_err("FROM m\nPARAMETER temperature hot\n", "(line 2): invalid float value [hot]");
    parse_err("FROM m\nPARAMETER num_ctx 4k\n", "(line 2): invalid int value [4k]");
    parse_err("FROM m\nPARAMETER num_ctx 1.5\n", "(line 2): invalid int value [1.5]");
    parse_err("FROM m\nPARAMETER use_mmap maybe\n", "(line 2): invalid bool value [maybe]");
    parse_err("FROM m\nMESSAGE robot hi\n", "(line 2): message role must be one of");
    parse_err("FROM m\nADAPTER ./lora.gguf\n", "(line 2): ADAPTER is not supported");
    parse_err("FROM m\nTEMPLATE \"\"\"never closed\n", "unexpected EOF");
    parse_err("FROM m\nSYSTEM \"open\n", "unexpected EOF");
    parse_err("FROM m\nREQUIRES banana\n", "requires must be a valid semver");
    parse_err("FROM m\nPARAMETER\n", "(line 2): command must be one of");
    parse_err("FROM m\nPARAMETER temperature\n", "(line 2): unexpected EOF");
    parse_err("FROM m\nMESSAGE user\n", "(line 2): unexpected EOF");
    parse_err("FROM m\r\nSYSTEM x\r\nBAD x\r\n", "(line 3)");
    parse_err("FROM m\nFROMX y\n", "command must be one of");
    parse_err("FROM m\nFR0M y\n", "command must be one of");
    /* hostile sizes */
    size_t big = (64u << 20) + 1;
    char *b = malloc(big);
    memset(b, 'a', big);
    json_t *req = NULL;
    char err[256];
    assert_int_equal(store_modelfile_parse(b, big, &req, err, sizeof(err)), OM_ENOMEM);
    free(b);
    /* NUL bytes and control characters do not crash */
    static const char junk[] = "FROM m\nSYSTEM a\0b\x01\x02 c\n";
    assert_int_equal(store_modelfile_parse(junk, sizeof(junk) - 1, &req, err, sizeof(err)), 0);
    assert_string_equal(sget(req, "system"), "ab c");
    json_decref(req);
}

static void test_options(void **state)
{
    (void)state;
    json_t *typed;
    char err[256];
    json_t *o = json_loads("{\"temperature\":1,\"num_ctx\":2048.9,\"stop\":[\"a\",\"b\"],"
                           "\"use_mmap\":true,\"unknown\":5,\"mirostat\":1,\"top_k\":null,"
                           "\"seed\":42}",
                           0, NULL);
    assert_int_equal(store_options_check(o, &typed, err, sizeof(err)), 0);
    assert_true(json_is_real(json_object_get(typed, "temperature")));
    assert_int_equal(json_integer_value(json_object_get(typed, "num_ctx")), 2048);
    assert_int_equal(json_array_size(json_object_get(typed, "stop")), 2);
    assert_true(json_is_true(json_object_get(typed, "use_mmap")));
    assert_null(json_object_get(typed, "unknown"));
    assert_null(json_object_get(typed, "mirostat"));
    assert_null(json_object_get(typed, "top_k"));
    assert_int_equal(json_integer_value(json_object_get(typed, "seed")), 42);
    json_decref(typed);
    json_decref(o);
    static const struct {
        const char *json, *err;
    } E[] = {
        {"{\"temperature\":\"hot\"}", "option \"temperature\" must be of type float32"},
        {"{\"num_ctx\":\"4096\"}", "option \"num_ctx\" must be of type integer"},
        {"{\"num_ctx\":true}", "option \"num_ctx\" must be of type integer"},
        {"{\"use_mmap\":1}", "option \"use_mmap\" must be of type boolean"},
        {"{\"stop\":\"x\"}", "option \"stop\" must be of type array"},
        {"{\"stop\":[1]}", "option \"stop\" must be of an array of strings"},
    };
    for (size_t i = 0; i < sizeof(E) / sizeof(E[0]); i++) {
        o = json_loads(E[i].json, 0, NULL);
        typed = (json_t *)1;
        assert_int_equal(store_options_check(o, &typed, err, sizeof(err)), OM_EINVAL);
        assert_null(typed);
        assert_string_equal(err, E[i].err);
        json_decref(o);
    }
    o = json_string("x");
    assert_int_equal(store_options_check(o, &typed, err, sizeof(err)), OM_EINVAL);
    json_decref(o);
    assert_int_equal(store_options_check(NULL, &typed, err, sizeof(err)), 0);
    assert_int_equal(json_object_size(typed), 0);
    json_decref(typed);
}

static void test_show_parameters(void **state)
{
    (void)state;
    json_t *p = json_loads("{\"temperature\":0.7,\"stop\":[\"<|eot_id|>\",\"say \\\"x\\\"\\n\"],"
                           "\"num_ctx\":4096,\"use_mmap\":false,\"top_p\":1.0,"
                           "\"min_p\":1e-7}",
                           0, NULL);
    char *s = store_show_parameters(p);
    assert_string_equal(s, "min_p                          1e-07\n"
                           "num_ctx                        4096\n"
                           "stop                           \"<|eot_id|>\"\n"
                           "stop                           \"say \\\"x\\\"\\n\"\n"
                           "temperature                    0.7\n"
                           "top_p                          1\n"
                           "use_mmap                       false");
    free(s);
    s = store_show_parameters(NULL);
    assert_string_equal(s, "");
    free(s);
    json_decref(p);
}

static void test_show_modelfile(void **state)
{
    (void)state;
    struct store_model m;
    memset(&m, 0, sizeof(m));
    store_name_parse("user/mario:latest", &m.name);
    m.model_path = "/models/blobs/sha256-abc";
    m.template_text = "{{ .System }}\n{{ .Prompt }}";
    m.system = "You are \"Mario\".\nBe fun.";
    m.params = json_loads("{\"stop\":[\"<|eot|>\",\"</s>\"],\"temperature\":1.5,"
                          "\"num_ctx\":8192}",
                          0, NULL);
    char *lic[] = {"MIT", " spaced "};
    m.licenses = lic;
    m.n_licenses = 2;
    m.messages = json_loads("[{\"role\":\"user\",\"content\":\"hi\"},"
                            "{\"role\":\"assistant\",\"content\":\"hello\\nthere\"}]",
                            0, NULL);
    m.config = json_loads("{\"renderer\":\"qwen3\"}", 0, NULL);
    char *s = store_show_modelfile(&m);
    assert_string_equal(s, "# Modelfile generated by \"ollama show\"\n"
                           "# To build a new Modelfile based on this, replace FROM with:\n"
                           "# FROM user/mario:latest\n"
                           "\n"
                           "FROM /models/blobs/sha256-abc\n"
                           "TEMPLATE \"{{ .System }}\n{{ .Prompt }}\"\n"
                           "SYSTEM \"\"\"You are \"Mario\".\nBe fun.\"\"\"\n"
                           "RENDERER qwen3\n"
                           "PARAMETER num_ctx 8192\n"
                           "PARAMETER stop <|eot|>\n"
                           "PARAMETER stop </s>\n"
                           "PARAMETER temperature 1.5\n"
                           "LICENSE MIT\n"
                           "LICENSE \" spaced \"\n"
                           "MESSAGE user hi\n"
                           "MESSAGE assistant \"hello\nthere\"\n");
    /* the generated Modelfile parses back to the same content */
    json_t *req = parse_ok(s);
    assert_string_equal(sget(req, "from"), "/models/blobs/sha256-abc");
    assert_string_equal(sget(req, "system"), m.system);
    assert_string_equal(sget(req, "template"), m.template_text);
    assert_string_equal(sget(req, "renderer"), "qwen3");
    assert_true(json_equal(json_object_get(json_object_get(req, "parameters"), "stop"),
                           json_object_get(m.params, "stop")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(req, "license"), 1)),
                        " spaced ");
    json_decref(req);
    free(s);
    /* no template: Ollama's default */
    m.template_text = NULL;
    m.system = NULL;
    s = store_show_modelfile(&m);
    assert_non_null(strstr(s, "TEMPLATE {{ .Prompt }}\n"));
    assert_null(strstr(s, "SYSTEM"));
    free(s);
    json_decref(m.params);
    json_decref(m.messages);
    json_decref(m.config);
}

/* Random Modelfile-like inputs: never crash, and every success holds a
 * "from" string (ASan run: OM_TEST_QUICK=1 does fewer). */
static void test_random_inputs(void **state)
{
    (void)state;
    static const char *const PIECES[] = {
        "FROM ", "from",     "PARAMETER ", "stop ",   "temperature ", "0.5", "num_ctx ",
        "12",    "\"\"\"",   "\"",         "\n",      "\r\n",         " ",   "\t",
        "#",     "MESSAGE ", "user ",      "SYSTEM ", "TEMPLATE ",    "x",   "é",
        "\xff",  "LICENSE ", "REQUIRES ",  "1.2.3",   "ADAPTER ",     ":"};
    int iters = getenv("OM_TEST_QUICK") ? 2000 : 20000;
    uint64_t seed = 12345;
    char buf[512];
    for (int it = 0; it < iters; it++) {
        size_t n = 0;
        int parts = 1 + (int)(seed % 24);
        for (int p = 0; p < parts; p++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *piece = PIECES[(seed >> 33) % (sizeof(PIECES) / sizeof(PIECES[0]))];
            size_t l = strlen(piece);
            if (n + l >= sizeof(buf))
                break;
            memcpy(buf + n, piece, l);
            n += l;
        }
        json_t *req = NULL;
        char err[256];
        int rc = store_modelfile_parse(buf, n, &req, err, sizeof(err));
        if (rc == 0) {
            assert_non_null(req);
            assert_true(json_is_string(json_object_get(req, "from")));
            json_decref(req);
        } else {
            assert_null(req);
            assert_true(err[0] != '\0');
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),           cmocka_unit_test(test_quotes_multiline),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_options),
        cmocka_unit_test(test_show_parameters), cmocka_unit_test(test_show_modelfile),
        cmocka_unit_test(test_random_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
