/* tests: chat-template detection and the built-in Go templates.
 *  - every fixture under tests/data/templates (real chat templates of Llama,
 *    Qwen, Gemma, Phi, Mistral, DeepSeek, ChatML) is put in the right family,
 *    and detect_template only maps the plain ones (tool/thinking templates
 *    are left to the Jinja renderer);
 *  - small reference templates of the other formats (zephyr, alpaca, vicuna,
 *    command-r, falcon, granite, magicoder, alfred, solar, starcoder2,
 *    codellama-70b, chatqa, openchat) are detected;
 *  - unrelated text and templates of no known format are not;
 *  - each built-in parses as a Go template and renders the system, user,
 *    assistant, user conversation exactly as Ollama's built-in of the same
 *    name does (outputs below are Ollama's), and the ChatML/Phi built-ins
 *    agree with the Jinja templates they stand for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/detect.h"
#include "prompt/jinja.h"
#include "prompt/tmpl.h"

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
    *len = got;
    return b;
}

static void test_fixture_families(void **state)
{
    (void)state;
    static const struct {
        const char *file, *family, *template; /* template NULL: detect_template declines */
    } want[] = {
        {"chatml", "chatml", "chatml"},
        {"deepseek-r1-distill", "deepseek-r1", NULL},
        {"gemma2", "gemma-instruct", "gemma-instruct"},
        {"gemma3", "gemma3-instruct", "gemma3-instruct"},
        {"hermes-tools", "chatml", NULL},
        {"llama2", "llama2-chat", "llama2-chat"},
        {"llama3.1-tools", "llama3-instruct", NULL},
        {"llama3.2", "llama3-instruct", NULL},
        {"mistral-v0.1", "mistral-instruct", "mistral-instruct"},
        {"mistral-v0.3-tools", "mistral-instruct", NULL},
        {"phi3", "phi-3", "phi-3"},
        {"phi4", "phi-4", "phi-4"},
        {"qwen2.5-tools", "chatml", NULL},
        {"qwen3", "chatml", NULL},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char path[512];
        size_t len;
        snprintf(path, sizeof(path), "%s/%s.jinja", TDIR, want[i].file);
        char *src = slurp(path, &len);
        assert_non_null(src);
        struct detect_result r = {0};
        int rc = detect_family(src, len, &r);
        printf("%-20s family %-16s", want[i].file, rc ? "(none)" : r.name);
        assert_int_equal(rc, 0);
        assert_string_equal(r.name, want[i].family);
        assert_non_null(r.go_template);
        assert_true(r.n_stops > 0);
        memset(&r, 0, sizeof(r));
        rc = detect_template(src, len, &r);
        printf(" template %s\n", rc ? "(declined)" : r.name);
        if (want[i].template) {
            assert_int_equal(rc, 0);
            assert_string_equal(r.name, want[i].template);
        } else {
            assert_int_equal(rc, OM_ENOTFOUND);
            assert_null(r.name); /* untouched */
        }
        free(src);
    }
}

static void test_other_formats(void **state)
{
    (void)state;
    static const struct {
        const char *name, *src;
    } refs[] = {
        {"zephyr", "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
                   "{{ '<|user|>\\n' + message['content'] + eos_token }}\n"
                   "{% elif message['role'] == 'assistant' %}\n"
                   "{{ '<|assistant|>\\n' + message['content'] + eos_token }}\n{% endif %}\n"
                   "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n"
                   "{% endif %}\n{% endfor %}"},
        {"alpaca", "{% for m in messages %}{% if m['role'] == 'user' %}{{ '### Instruction:\\n' + "
                   "m['content'] + '\\n\\n' }}{% else %}{{ '### Response:\\n' + m['content'] + "
                   "'\\n\\n' }}{% endif %}{% endfor %}{{ '### Response:\\n' }}"},
        {"vicuna", "{% for m in messages %}{% if m.role == 'user' %}USER: {{ m.content }}\n"
                   "{% else %}ASSISTANT: {{ m.content }}</s>\n{% endif %}{% endfor %}ASSISTANT:"},
        {"command-r", "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
                      "{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + message['content'] + "
                      "'<|END_OF_TURN_TOKEN|>' }}{% endif %}{% endfor %}"
                      "{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}"},
        {"falcon-instruct", "{% for message in messages %}{% if message['role'] == 'user' %}"
                            "{{ 'User: ' + message['content'] }}{% elif message['role'] == "
                            "'assistant' %}{{ 'Falcon: ' + message['content'] }}{% endif %}"
                            "{% endfor %}{{ 'Falcon:' }}"},
        {"granite-instruct", "{% for message in messages %}{% if message['role'] == 'user' %}"
                             "{{ 'Question:\\n' + message['content'] + '\\n\\n' }}{% else %}"
                             "{{ 'Answer:\\n' + message['content'] + '\\n\\n' }}{% endif %}"
                             "{% endfor %}Answer:\n"},
        {"magicoder", "{% for m in messages %}{% if m.role == 'user' %}{{ '@@ Instruction\\n' + "
                      "m.content + '\\n\\n' }}{% else %}{{ '@@ Response\\n' + m.content + '\\n\\n' }}"
                      "{% endif %}{% endfor %}{{ '@@ Response\\n' }}"},
        {"alfred", "{% for m in messages %}{{ '<start_' + m.role + '>' + m.content + '<end_message>' }}"
                   "{% endfor %}{{ '<start_assistant>' }}{# <start_user> #}"},
        {"solar-instruct", "{% for m in messages %}{% if m.role == 'user' %}{{ '### User:\\n' + "
                           "m.content + '\\n\\n' }}{% else %}{{ '### Assistant:\\n' + m.content }}"
                           "{% endif %}{% endfor %}"},
        {"starcoder2-instruct", "{% for m in messages %}{% if m.role == 'user' %}{{ '### Instruction\\n' + "
                                "m.content }}{% else %}{{ '### Response\\n' + m.content }}{% endif %}"
                                "{% endfor %}{{ '### Response\\n' }}"},
        {"codellama-70b-instruct", "{% for m in messages %}{{ 'Source: ' + m.role + '\\n\\n ' + "
                                   "m.content + ' <step> ' }}{% endfor %}"
                                   "{{ 'Source: assistant\\nDestination: user\\n\\n ' }}"},
        {"chatqa", "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ 'User: ' + "
                   "m.content + '\\n\\n' }}{% else %}{{ 'Assistant: ' + m.content }}{% endif %}"
                   "{% endfor %}{{ 'Assistant:' }}"},
        {"phi-3", "{% for m in messages %}{{ '<|' + m.role + '|>\\n' + m.content + '<|end|>\\n' }}"
                  "{% endfor %}{{ '<|assistant|>\\n' }}"},
        {"openchat", "{{ bos_token }}{% for message in messages %}{{ 'GPT4 Correct ' + "
                     "message['role'].title() + ': ' + message['content'] + '<|end_of_turn|>'}}"
                     "{% endfor %}{% if add_generation_prompt %}{{ 'GPT4 Correct Assistant:' }}"
                     "{% endif %}"},
    };
    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        struct detect_result r;
        int rc = detect_template(refs[i].src, strlen(refs[i].src), &r);
        if (rc || strcmp(r.name, refs[i].name))
            printf("%s: got %s\n", refs[i].name, rc ? "(none)" : r.name);
        assert_int_equal(rc, 0);
        assert_string_equal(r.name, refs[i].name);
        /* the reference is itself a working Jinja template */
        struct jinja *t;
        char err[256];
        assert_int_equal(jinja_parse(refs[i].src, strlen(refs[i].src), &t, err, sizeof(err)), 0);
        jinja_free(t);
    }
}

static void test_not_detected(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "",
        "Hello world",
        "{{ .Prompt }}",
        "{{- range .Messages }}{{ .Content }}{{ end }}",
        "{% for m in messages %}{{ m.content }}\n{% endfor %}",
        "{% for m in messages %}{{ m.role }}: {{ m.content }}{% endfor %}",
        "Use [INST] and [/INST] with <<SYS>> for llama 2 prompts",
        "<|im_start|>user\nhi<|im_end|>\n",
        "{{ messages }} <|user|>",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct detect_result r = {0};
        assert_int_equal(detect_template(texts[i], strlen(texts[i]), &r), OM_ENOTFOUND);
        assert_int_equal(detect_family(texts[i], strlen(texts[i]), &r), OM_ENOTFOUND);
        assert_null(r.name);
    }
    struct detect_result r;
    assert_int_equal(detect_template(NULL, 3, &r), OM_EINVAL);
    assert_int_equal(detect_template("x", 1, NULL), OM_EINVAL);
    /* a length that stops before the markers */
    const char *s = "{% for m in messages %}<|im_start|>{{ m.content }}<|im_end|>{% endfor %}";
    assert_int_equal(detect_template(s, 20, &r), OM_ENOTFOUND);
    assert_int_equal(detect_template(s, strlen(s), &r), 0);
}

/* Ollama's built-ins on (system, user, assistant, user). */
static const struct {
    const char *name, *want;
} g_go[] = {
    {"chatml",
     "<|im_start|>system\n"
     "You are a helpful assistant.<|im_end|>\n"
     "<|im_start|>user\n"
     "Hello, how are you?<|im_end|>\n"
     "<|im_start|>assistant\n"
     "I'm doing great. How can I help you today?<|im_end|>\n"
     "<|im_start|>user\n"
     "I'd like to show off how chat templating works!<|im_end|>\n"
     "<|im_start|>assistant\n"},
    {"llama2-chat",
     "[INST] <<SYS>>\n"
     "You are a helpful assistant.\n"
     "<</SYS>>\n"
     "\n"
     "Hello, how are you? [/INST] I'm doing great. How can I help you today?</s><s>[INST] <<SYS>><</SYS>>\n"
     "\n"
     "I'd like to show off how chat templating works! [/INST]"},
    {"llama3-instruct",
     "<|start_header_id|>system<|end_header_id|>\n"
     "\n"
     "You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
     "\n"
     "Hello, how are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
     "\n"
     "I'm doing great. How can I help you today?<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
     "\n"
     "I'd like to show off how chat templating works!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
     "\n"},
    {"mistral-instruct",
     "[INST] You are a helpful assistant.\n"
     "\n"
     "Hello, how are you?[/INST] I'm doing great. How can I help you today?</s>[INST] I'd like to show off how chat templating works![/INST]"},
    {"gemma-instruct",
     "<start_of_turn>user\n"
     "You are a helpful assistant.\n"
     "Hello, how are you?<end_of_turn>\n"
     "<start_of_turn>model\n"
     "I'm doing great. How can I help you today?<end_of_turn>\n"
     "<start_of_turn>user\n"
     "I'd like to show off how chat templating works!<end_of_turn>\n"
     "<start_of_turn>model\n"},
    {"gemma3-instruct",
     "<start_of_turn>user\n"
     "You are a helpful assistant.\n"
     "\n"
     "Hello, how are you?<end_of_turn>\n"
     "<start_of_turn>model\n"
     "I'm doing great. How can I help you today?<end_of_turn>\n"
     "<start_of_turn>user\n"
     "I'd like to show off how chat templating works!<end_of_turn>\n"
     "<start_of_turn>model\n"
     "\n"},
    {"phi-3",
     "<|system|>\n"
     "You are a helpful assistant.<|end|>\n"
     "<|user|>\n"
     "Hello, how are you?<|end|>\n"
     "<|assistant|>\n"
     "I'm doing great. How can I help you today?<|end|>\n"
     "<|user|>\n"
     "I'd like to show off how chat templating works!<|end|>\n"
     "<|assistant|>\n"},
    {"zephyr",
     "<|system|>\n"
     "You are a helpful assistant.</s>\n"
     "<|user|>\n"
     "Hello, how are you?</s>\n"
     "<|assistant|>\n"
     "I'm doing great. How can I help you today?</s>\n"
     "<|user|>\n"
     "I'd like to show off how chat templating works!</s>\n"
     "<|assistant|>\n"},
    {"alpaca",
     "You are a helpful assistant.\n"
     "\n"
     "### Instruction:\n"
     "Hello, how are you?\n"
     "\n"
     "### Response:\n"
     "I'm doing great. How can I help you today?\n"
     "\n"
     "### Instruction:\n"
     "I'd like to show off how chat templating works!\n"
     "\n"
     "### Response:\n"},
    {"vicuna",
     "You are a helpful assistant.\n"
     "\n"
     "USER: Hello, how are you?\n"
     "ASSISTANT: I'm doing great. How can I help you today?</s>\n"
     "USER: I'd like to show off how chat templating works!\n"
     "ASSISTANT:"},
    {"falcon-instruct",
     "System: You are a helpful assistant.\n"
     "User:\n"
     "Hello, how are you?\n"
     "Falcon:\n"
     "I'm doing great. How can I help you today?\n"
     "User:\n"
     "I'd like to show off how chat templating works!\n"
     "Falcon:\n"},
    {"granite-instruct",
     "System:\n"
     "You are a helpful assistant.\n"
     "\n"
     "Question:\n"
     "Hello, how are you?\n"
     "\n"
     "Answer:\n"
     "I'm doing great. How can I help you today?\n"
     "\n"
     "Question:\n"
     "I'd like to show off how chat templating works!\n"
     "\n"
     "Answer:\n"},
    {"openchat",
     "GPT4 Correct System: You are a helpful assistant.<|end_of_turn|>GPT4 Correct User: Hello, how are you?<|end_of_turn|>GPT4 Correct Assistant: I'm doing great. How can I help you today?<|end_of_turn|>GPT4 Correct User: I'd like to show off how chat templating works!<|end_of_turn|>GPT4 Correct Assistant:"},
    {"command-r",
     "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant.<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello, how are you?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I'm doing great. How can I help you today?<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>I'd like to show off how chat templating works!<|END_OF_TURN_TOKEN|><|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n"},
    {"chatqa",
     "System: You are a helpful assistant.\n"
     "\n"
     "User: Hello, how are you?\n"
     "\n"
     "Assistant: I'm doing great. How can I help you today?\n"
     "\n"
     "User: I'd like to show off how chat templating works!\n"
     "\n"
     "Assistant:"},
    {"magicoder",
     "You are a helpful assistant.\n"
     "\n"
     "@@ Instruction\n"
     "Hello, how are you?\n"
     "\n"
     "@@ Response\n"
     "I'm doing great. How can I help you today?\n"
     "\n"
     "@@ Instruction\n"
     "I'd like to show off how chat templating works!\n"
     "\n"
     "@@ Response\n"},
    {"alfred",
     "<start_system>You are a helpful assistant.<end_message><start_user>Hello, how are you?<end_message><start_assistant>I'm doing great. How can I help you today?<end_message><start_user>I'd like to show off how chat templating works!<end_message><start_assistant>"},
    {"solar-instruct",
     "### System:\n"
     "You are a helpful assistant.\n"
     "\n"
     "### User:\n"
     "Hello, how are you?\n"
     "\n"
     "### Assistant:\n"
     "I'm doing great. How can I help you today?</s>\n"
     "\n"
     "### User:\n"
     "I'd like to show off how chat templating works!\n"
     "\n"
     "### Assistant:\n"},
    {"starcoder2-instruct",
     "You are a helpful assistant.\n"
     "\n"
     "### Instruction\n"
     "Hello, how are you?\n"
     "\n"
     "### Response\n"
     "I'm doing great. How can I help you today?<|endoftext|>\n"
     "\n"
     "### Instruction\n"
     "I'd like to show off how chat templating works!\n"
     "\n"
     "### Response\n"},
    {"codellama-70b-instruct",
     "Source: system\n"
     "\n"
     " You are a helpful assistant. <step> Source: user\n"
     "\n"
     " Hello, how are you? <step> Source: assistant\n"
     "\n"
     " I'm doing great. How can I help you today? <step> Source: user\n"
     "\n"
     " I'd like to show off how chat templating works! <step> Source: assistant\n"
     "Destination: user\n"
     "\n"
     " "},
    {"phi-4",
     "<|im_start|>system<|im_sep|>You are a helpful assistant.<|im_end|>"
     "<|im_start|>user<|im_sep|>Hello, how are you?<|im_end|>"
     "<|im_start|>assistant<|im_sep|>I'm doing great. How can I help you today?<|im_end|>"
     "<|im_start|>user<|im_sep|>I'd like to show off how chat templating works!<|im_end|>"
     "<|im_start|>assistant<|im_sep|>"},
    {"deepseek-r1",
     "You are a helpful assistant.<｜User｜>Hello, how are you?<｜Assistant｜>I'm doing great. "
     "How can I help you today?<｜end▁of▁sentence｜><｜User｜>I'd like to show off how chat "
     "templating works!<｜Assistant｜>"},
};

static const char *const S = "You are a helpful assistant.", *const U = "Hello, how are you?",
                         *const A = "I'm doing great. How can I help you today?",
                         *const U2 = "I'd like to show off how chat templating works!";

static json_t *go_data(void)
{
    return json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "System", S, "Messages",
                     "Role", "system", "Content", S, "Role", "user", "Content", U, "Role",
                     "assistant", "Content", A, "Role", "user", "Content", U2);
}

static char *go_render(const char *name)
{
    const struct detect_result *b = detect_builtin(name);
    assert_non_null(b);
    struct tmpl *t;
    char err[512], *out;
    int rc = tmpl_parse(b->go_template, strlen(b->go_template), &t, err, sizeof(err));
    if (rc)
        printf("%s: %s\n", name, err);
    assert_int_equal(rc, 0);
    json_t *d = go_data();
    rc = tmpl_exec(t, d, &out, NULL, err, sizeof(err));
    if (rc)
        printf("%s: %s\n", name, err);
    assert_int_equal(rc, 0);
    json_decref(d);
    tmpl_free(t);
    return out;
}

static void test_builtins(void **state)
{
    (void)state;
    assert_null(detect_builtin("nope"));
    assert_null(detect_builtin(NULL));
    assert_null(detect_builtin_at(-1));
    assert_null(detect_builtin_at(detect_builtin_count()));
    assert_int_equal((int)(sizeof(g_go) / sizeof(g_go[0])), detect_builtin_count());
    for (int i = 0; i < detect_builtin_count(); i++) {
        const struct detect_result *b = detect_builtin_at(i);
        assert_ptr_equal(detect_builtin(b->name), b);
        assert_true(b->n_stops >= 1);
        for (int k = 0; k < b->n_stops; k++)
            assert_true(strlen(b->stops[k]) > 0);
    }
    for (size_t i = 0; i < sizeof(g_go) / sizeof(g_go[0]); i++) {
        char *out = go_render(g_go[i].name);
        if (strcmp(out, g_go[i].want))
            printf("%s\n  want: [%s]\n  got:  [%s]\n", g_go[i].name, g_go[i].want, out);
        assert_string_equal(out, g_go[i].want);
        free(out);
    }
}

/* The built-in renders what the Jinja template it replaces renders. */
static void test_builtin_matches_jinja(void **state)
{
    (void)state;
    static const char *const files[] = {"chatml", "phi3", "phi4"};
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "role", "system",
                             "content", S, "role", "user", "content", U, "role", "assistant",
                             "content", A, "role", "user", "content", U2);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[512], err[256], *jout;
        size_t len;
        snprintf(path, sizeof(path), "%s/%s.jinja", TDIR, files[i]);
        char *src = slurp(path, &len);
        assert_non_null(src);
        struct detect_result r;
        assert_int_equal(detect_template(src, len, &r), 0);
        struct jinja *t;
        assert_int_equal(jinja_parse(src, len, &t, err, sizeof(err)), 0);
        assert_int_equal(jinja_render_chat(t, msgs, NULL, true, "", "", NULL, &jout, NULL, err,
                                           sizeof(err)), 0);
        char *gout = go_render(r.name);
        assert_string_equal(gout, jout);
        free(gout);
        free(jout);
        jinja_free(t);
        free(src);
    }
    json_decref(msgs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_families),
        cmocka_unit_test(test_other_formats),
        cmocka_unit_test(test_not_detected),
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_builtin_matches_jinja),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
