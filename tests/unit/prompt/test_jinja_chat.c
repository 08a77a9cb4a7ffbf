/* tests: real chat templates through jinja_render_chat.
 *  - tests/data/templates/<name>.jinja (Llama 2, 3.1 with tools, 3.2, Qwen2.5
 *    tools, Qwen3 thinking + tools, Gemma 2/3, Phi-3/4, Mistral v0.1 and
 *    v0.3 with tools, DeepSeek-R1 distill, ChatML, a Hermes-style tool
 *    template with recursive macros) rendered with each
 *    conversation of tests/data/templates/conv/ and compared byte for byte
 *    with expected/<template>.<conv>.txt (written by Jinja2 through
 *    gen_expected.py; "ERROR" files mean the template rejects the
 *    conversation, e.g. Gemma 2 with a system message);
 *  - a few prompts written out by hand from the chat formats;
 *  - the chat templates inside the GGUFs under OM_SHARED_DIR/models (skipped
 *    loudly when there are none). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"
#include "format/gguf.h"
#include "prompt/detect.h"
#include "prompt/jinja.h"

#define TDIR OM_SOURCE_DIR "/tests/data/templates"

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
    if (len)
        *len = got;
    return b;
}

/* Renders template file `tname` with conversation file `cname`; returns rc. */
static int render_files(const char *tname, const char *cname, const json_t *extra_override,
                        char **out, char *err, size_t errlen)
{
    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s.jinja", TDIR, tname);
    char *src = slurp(path, &len);
    assert_non_null(src);
    snprintf(path, sizeof(path), "%s/conv/%s.json", TDIR, cname);
    json_error_t je;
    json_t *conv = json_load_file(path, 0, &je);
    assert_non_null(conv);
    struct jinja *t;
    int rc = jinja_parse(src, len, &t, err, errlen);
    assert_int_equal(rc, 0);
    json_t *extra = json_object_get(conv, "extra");
    rc = jinja_render_chat(t, json_object_get(conv, "messages"), json_object_get(conv, "tools"),
                           json_is_true(json_object_get(conv, "add_generation_prompt")),
                           json_string_value(json_object_get(conv, "bos_token")),
                           json_string_value(json_object_get(conv, "eos_token")),
                           extra_override ? extra_override : extra, out, NULL, err, errlen);
    jinja_free(t);
    json_decref(conv);
    free(src);
    return rc;
}

static void test_fixtures(void **state)
{
    (void)state;
    DIR *d = opendir(TDIR "/expected");
    assert_non_null(d);
    struct dirent *e;
    int n = 0, bad = 0, errors = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt") != 0)
            continue;
        char tname[256], cname[128];
        snprintf(tname, sizeof(tname), "%.*s", (int)(l - 4), e->d_name);
        char *dot = strrchr(tname, '.');
        assert_non_null(dot);
        *dot = 0;
        snprintf(cname, sizeof(cname), "%s", dot + 1);
        char path[600];
        snprintf(path, sizeof(path), "%s/expected/%s", TDIR, e->d_name);
        char *want = slurp(path, NULL), *out = NULL, err[512] = "";
        int rc = render_files(tname, cname, NULL, &out, err, sizeof(err));
        n++;
        if (strncmp(want, "ERROR\n", 6) == 0) {
            errors++;
            if (rc == 0) {
                printf("%s/%s: rendered, but Jinja2 fails with: %s\n", tname, cname, want + 6);
                bad++;
            }
        } else if (rc != 0) {
            printf("%s/%s: %s\n", tname, cname, err);
            bad++;
        } else if (strcmp(out, want) != 0) {
            printf("%s/%s differs\n  want: [%s]\n  got:  [%s]\n", tname, cname, want, out);
            bad++;
        }
        free(out);
        free(want);
    }
    closedir(d);
    printf("%d fixture renderings (%d expected errors), %d bad\n", n, errors, bad);
    assert_true(n >= 100);
    assert_int_equal(bad, 0);
}

static void expect_render(const char *tname, const char *cname, const char *want)
{
    char *out = NULL, err[256];
    assert_int_equal(render_files(tname, cname, NULL, &out, err, sizeof(err)), 0);
    if (strcmp(out, want) != 0)
        printf("%s/%s\n  want: [%s]\n  got:  [%s]\n", tname, cname, want, out);
    assert_string_equal(out, want);
    free(out);
}

/* Prompts written by hand from the formats, independent of gen_expected.py. */
static void test_by_hand(void **state)
{
    (void)state;
    expect_render("chatml", "basic",
                  "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                  "<|im_start|>user\nHello, how are you?<|im_end|>\n"
                  "<|im_start|>assistant\nI'm doing great. How can I help you today?<|im_end|>\n"
                  "<|im_start|>user\nI'd like to show off how chat templating works!<|im_end|>\n"
                  "<|im_start|>assistant\n");
    expect_render("llama3.1-tools", "basic",
                  "<s><|start_header_id|>system<|end_header_id|>\n\n"
                  "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                  "You are a helpful assistant.<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n"
                  "I'm doing great. How can I help you today?<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\n"
                  "I'd like to show off how chat templating works!<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n");
    expect_render("gemma3", "basic",
                  "<s><start_of_turn>user\nYou are a helpful assistant.\n\nHello, how are you?"
                  "<end_of_turn>\n<start_of_turn>model\nI'm doing great. How can I help you today?"
                  "<end_of_turn>\n<start_of_turn>user\nI'd like to show off how chat templating "
                  "works!<end_of_turn>\n<start_of_turn>model\n");
    expect_render("qwen3", "nothink",
                  "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
                  "<think>\n\n</think>\n\n");
    expect_render("qwen3", "reasoning",
                  "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
                  "<think>\n2+2 is 4.\n</think>\n\nThe answer is 4.<|im_end|>\n");
    expect_render("phi4", "nosys",
                  "<|im_start|>user<|im_sep|>Hello, how are you?<|im_end|>"
                  "<|im_start|>assistant<|im_sep|>");
    expect_render("mistral-v0.1", "nogen",
                  "<s>[INST] Hello, how are you? [/INST]I'm doing great. How can I help you today?</s>");
    expect_render("qwen2.5-tools", "toolsnosys",
                  "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
                  "assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the "
                  "user query.\n\nYou are provided with function signatures within <tools></tools> "
                  "XML tags:\n<tools>\n"
                  "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": "
                  "\"Get the weather in a city\", \"parameters\": {\"type\": \"object\", \"properties\": "
                  "{\"city\": {\"type\": \"string\", \"description\": \"City name\"}, \"unit\": "
                  "{\"type\": \"string\", \"enum\": [\"c\", \"f\"]}}, \"required\": [\"city\"]}}}\n"
                  "</tools>\n\nFor each function call, return a json object with function name and "
                  "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
                  "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
                  "</tool_call><|im_end|>\n"
                  "<|im_start|>user\nWhat is the weather in Paris?<|im_end|>\n"
                  "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                  "{\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call><|im_end|>\n"
                  "<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n"
                  "<|im_start|>assistant\n");
}

/* Llama 3.2 asks strftime_now() for today's date when none is passed. */
static void test_today(void **state)
{
    (void)state;
    char *out = NULL, err[256], want[64];
    json_t *extra = json_object();
    assert_int_equal(render_files("llama3.2", "basic", extra, &out, err, sizeof(err)), 0);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(want, sizeof(want), "Today Date: %d %b %Y\n", &tm);
    if (!strstr(out, want))
        printf("want [%s] in [%s]\n", want, out);
    assert_non_null(strstr(out, want));
    free(out);
    json_decref(extra);
}

static bool file_uses(const char *tname, const char *var)
{
    char path[512], err[256];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s.jinja", TDIR, tname);
    char *src = slurp(path, &len);
    assert_non_null(src);
    struct jinja *t;
    assert_int_equal(jinja_parse(src, len, &t, err, sizeof(err)), 0);
    bool r = jinja_uses(t, var);
    jinja_free(t);
    free(src);
    return r;
}

/* What a caller asks to decide a model's capabilities. */
static void test_uses(void **state)
{
    (void)state;
    assert_true(file_uses("qwen3", "tools"));
    assert_true(file_uses("qwen3", "enable_thinking"));
    assert_true(file_uses("qwen3", "reasoning_content"));
    assert_true(file_uses("qwen3", "tool_calls"));
    assert_true(file_uses("llama3.1-tools", "tools"));
    assert_true(file_uses("llama3.1-tools", "tool_calls")); /* 'tool_calls' in message */
    assert_true(file_uses("mistral-v0.3-tools", "tools"));
    assert_true(file_uses("gemma3", "messages"));
    assert_false(file_uses("chatml", "tools"));
    assert_false(file_uses("gemma3", "tools"));
    assert_false(file_uses("qwen2.5-tools", "enable_thinking"));
    assert_false(file_uses("phi4", "content_x"));
    assert_false(jinja_uses(NULL, "tools"));
}

struct thread_arg {
    const struct jinja *t;
    const json_t *conv;
    const char *want;
    int bad;
};

static void *render_loop(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 50; i++) {
        char *out = NULL, err[256];
        int rc = jinja_render_chat(a->t, json_object_get(a->conv, "messages"),
                                   json_object_get(a->conv, "tools"), true, "<s>", "</s>", NULL,
                                   &out, NULL, err, sizeof(err));
        if (rc || strcmp(out, a->want))
            a->bad++;
        free(out);
    }
    return NULL;
}

/* One parsed template rendered from several threads at once. */
static void test_threads(void **state)
{
    (void)state;
    size_t len;
    char *src = slurp(TDIR "/qwen3.jinja", &len), err[256];
    assert_non_null(src);
    json_error_t je;
    json_t *conv = json_load_file(TDIR "/conv/tools.json", 0, &je);
    assert_non_null(conv);
    char *want = slurp(TDIR "/expected/qwen3.tools.txt", NULL);
    assert_non_null(want);
    struct jinja *t;
    assert_int_equal(jinja_parse(src, len, &t, err, sizeof(err)), 0);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){.t = t, .conv = conv, .want = want};
        assert_int_equal(pthread_create(&th[i], NULL, render_loop, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
    jinja_free(t);
    json_decref(conv);
    free(want);
    free(src);
}

/* Templates stored in the shared GGUFs. */
static void test_gguf_templates(void **state)
{
    (void)state;
    static const char *const dirs[] = {OM_SHARED_DIR "/models/vocab", OM_SHARED_DIR "/models"};
    json_error_t je;
    json_t *msgs = json_loads("[{\"role\":\"user\",\"content\":\"Hello, how are you?\"},"
                              "{\"role\":\"assistant\",\"content\":\"I'm doing great.\"},"
                              "{\"role\":\"user\",\"content\":\"Tell me more.\"}]", 0, &je);
    assert_non_null(msgs);
    int found = 0, phi3 = 0;
    for (size_t di = 0; di < sizeof(dirs) / sizeof(dirs[0]); di++) {
        DIR *d = opendir(dirs[di]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 6 || strcmp(e->d_name + l - 5, ".gguf") != 0)
                continue;
            char path[1024], err[512];
            snprintf(path, sizeof(path), "%s/%s", dirs[di], e->d_name);
            gguf_file *g;
            if (gguf_open(path, &g, err, sizeof(err)) != 0)
                continue;
            gguf_str s;
            if (gguf_get_str(g, "tokenizer.chat_template", &s) == 0) {
                found++;
                struct jinja *t;
                int rc = jinja_parse(s.ptr, (size_t)s.len, &t, err, sizeof(err));
                if (rc)
                    printf("%s: %s\n", e->d_name, err);
                assert_int_equal(rc, 0);
                char *out;
                rc = jinja_render_chat(t, msgs, NULL, true, "<s>", "</s>", NULL, &out, NULL, err,
                                       sizeof(err));
                if (rc)
                    printf("%s: %s\n", e->d_name, err);
                assert_int_equal(rc, 0);
                struct detect_result r;
                int drc = detect_family(s.ptr, (size_t)s.len, &r);
                printf("%s: chat_template of %llu bytes, family %s\n", e->d_name,
                       (unsigned long long)s.len, drc ? "(none)" : r.name);
                if (strstr(e->d_name, "phi-3")) {
                    /* <s> then user/assistant turns; this template has no generation prompt
                     * branch, each user turn opens the assistant's */
                    assert_string_equal(out, "<s><|user|>\nHello, how are you?<|end|>\n<|assistant|>\n"
                                             "I'm doing great.<|end|>\n<|user|>\nTell me more.<|end|>\n"
                                             "<|assistant|>\n");
                    assert_int_equal(drc, 0);
                    assert_string_equal(r.name, "phi-3");
                    assert_int_equal(detect_template(s.ptr, (size_t)s.len, &r), 0);
                    phi3 = 1;
                }
                free(out);
                jinja_free(t);
            }
            gguf_close(g);
        }
        closedir(d);
    }
    json_decref(msgs);
    if (!found) {
        printf("SKIP: no GGUF with tokenizer.chat_template under %s/models\n", OM_SHARED_DIR);
        skip();
    }
    if (!phi3)
        printf("note: ggml-vocab-phi-3.gguf not present; its exact prompt was not checked\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_today),
        cmocka_unit_test(test_uses),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_gguf_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
