/* Unit tests for api/oai: OpenAI request -> native request mappings and
 * their error texts, streamed and whole answers (chat, completions,
 * embeddings), ids, errors and the model list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/oai.h"
#include "api/oai_test_util.h"
#include "base/om.h"

static json_t *chat_ok(const char *req)
{
    return native_ok(oai_chat_to_native, req);
}

static void chat_err(const char *req, const char *want)
{
    native_err(oai_chat_to_native, req, want);
}

static void test_chat_request(void **state)
{
    (void)state;
    expect_json(chat_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
                "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                "\"options\":{\"temperature\":1.0,\"top_p\":1.0},\"stream\":false}");
    expect_json(
        chat_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
                "{\"role\":\"user\",\"content\":\"q\"}],\"stream\":true,\"max_tokens\":7,"
                "\"seed\":42,\"stop\":[\"a\",3,\"b\"],\"temperature\":0.5,\"top_p\":0.25,"
                "\"frequency_penalty\":0.5,\"presence_penalty\":-0.5,\"n\":3,\"user\":\"x\","
                "\"response_format\":{\"type\":\" JSON_Object\"},\"reasoning_effort\":\"xhigh\","
                "\"logprobs\":true,\"top_logprobs\":2,"
                "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}"),
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
        "{\"role\":\"user\",\"content\":\"q\"}],\"stream\":true,\"format\":\"json\","
        "\"options\":{\"num_predict\":7,\"seed\":42,\"stop\":[\"a\",\"b\"],\"temperature\":0.5,"
        "\"top_p\":0.25,\"frequency_penalty\":0.5,\"presence_penalty\":-0.5},"
        "\"think\":\"max\",\"logprobs\":true,\"top_logprobs\":2,"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}");
    /* stop as a string; json_schema; reasoning object wins over reasoning_effort */
    json_t *n = chat_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
                        "\"stop\":\"END\",\"response_format\":{\"type\":\"json_schema\","
                        "\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\"}}},"
                        "\"reasoning\":{\"effort\":\"none\"},\"reasoning_effort\":\"high\"}");
    expect_json(json_incref(json_object_get(json_object_get(n, "options"), "stop")), "[\"END\"]");
    expect_json(json_incref(json_object_get(n, "format")), "{\"type\":\"object\"}");
    expect_json(json_incref(json_object_get(n, "think")), "false");
    json_decref(n);
    /* tool_choice: "none" hides the tools, a named function keeps only it */
    const char *tools = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\"}},"
                        "{\"type\":\"function\",\"function\":{\"name\":\"b\"}}]";
    char req[512];
    snprintf(req, sizeof(req), "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],%s,"
             "\"tool_choice\":\"none\"}", tools);
    n = chat_ok(req);
    assert_null(json_object_get(n, "tools"));
    json_decref(n);
    snprintf(req, sizeof(req), "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],%s,"
             "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"b\"}}}", tools);
    n = chat_ok(req);
    expect_json(json_incref(json_object_get(n, "tools")),
                "[{\"type\":\"function\",\"function\":{\"name\":\"b\"}}]");
    json_decref(n);
    snprintf(req, sizeof(req), "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],%s,"
             "\"tool_choice\":\"required\"}", tools);
    n = chat_ok(req);
    assert_int_equal(json_array_size(json_object_get(n, "tools")), 2);
    json_decref(n);
    /* a stop list with no strings leaves the model's stops alone */
    n = chat_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"stop\":[1,null]}");
    assert_null(json_object_get(json_object_get(n, "options"), "stop"));
    json_decref(n);
    const char *efforts[][2] = {{"minimal", "\"low\""}, {"low", "\"low\""},
                                {"medium", "\"medium\""}, {"high", "\"high\""},
                                {"max", "\"max\""}, {"ultra", "\"max\""}};
    for (size_t i = 0; i < OM_ARRAY_LEN(efforts); i++) {
        snprintf(req, sizeof(req), "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                 "\"content\":\"q\"}],\"reasoning_effort\":\"%s\"}", efforts[i][0]);
        n = chat_ok(req);
        expect_json(json_incref(json_object_get(n, "think")), efforts[i][1]);
        json_decref(n);
    }
    /* no effort: no think key (the model's default applies) */
    n = chat_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],"
                "\"response_format\":{\"type\":\"text\"}}");
    assert_null(json_object_get(n, "think"));
    assert_null(json_object_get(n, "format"));
    json_decref(n);
}

static void test_chat_messages(void **state)
{
    (void)state;
    /* content parts: each part a message of the same role */
    json_t *n = chat_ok("{\"messages\":[{\"role\":\"user\",\"content\":["
                        "{\"type\":\"text\",\"text\":\"what is this\"},"
                        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
                        "\"data:image/png;base64,iVBORw0KGgo=\"}},"
                        "{\"type\":\"image_url\",\"image_url\":\"data:;base64,AAAA\"},"
                        "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklGRg==\"}}]}]}");
    expect_json(json_incref(json_object_get(n, "messages")),
                "[{\"role\":\"user\",\"content\":\"what is this\"},"
                "{\"role\":\"user\",\"content\":\"\",\"images\":[\"iVBORw0KGgo=\"]},"
                "{\"role\":\"user\",\"content\":\"\",\"images\":[\"AAAA\"]},"
                "{\"role\":\"user\",\"content\":\"\",\"images\":[\"UklGRg==\"]}]");
    json_decref(n);
    /* assistant tool calls (string arguments -> object), tool results by id */
    n = chat_ok(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"reasoning\":\"think\",\"tool_calls\":["
        "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"days\\\":2}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"},"
        "{\"role\":\"tool\",\"name\":\"explicit\",\"content\":\"x\"}]}");
    expect_json(json_incref(json_object_get(n, "messages")),
                "[{\"role\":\"user\",\"content\":\"weather?\"},"
                "{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"think\",\"tool_calls\":"
                "[{\"id\":\"call_1\",\"function\":{\"index\":0,\"name\":\"get_weather\","
                "\"arguments\":{\"city\":\"Paris\",\"days\":2}}}]},"
                "{\"role\":\"tool\",\"content\":\"sunny\",\"tool_name\":\"get_weather\","
                "\"tool_call_id\":\"call_1\"},"
                "{\"role\":\"tool\",\"content\":\"x\",\"tool_name\":\"explicit\"}]");
    json_decref(n);
}

static void test_chat_errors(void **state)
{
    (void)state;
    chat_err("{\"model\":\"m\",\"messages\":[]}", "[] is too short - 'messages'");
    chat_err("{\"model\":\"m\"}", "[] is too short - 'messages'");
    chat_err("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":"
             "{\"name\":\"f\",\"arguments\":\"not json\"}}]}]}",
             "invalid tool call arguments");
    chat_err("{\"messages\":[{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{"
             "\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
             "invalid tool call arguments");
    chat_err("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
             "\"image_url\":{\"url\":\"https://x/y.png\"}}]}]}",
             "image URLs are not currently supported, please use base64 encoded data instead");
    chat_err("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
             "\"image_url\":{\"url\":\"data:image/gif;base64,AAAA\"}}]}]}",
             "invalid image input");
    chat_err("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
             "\"image_url\":{\"url\":\"data:image/png;base64,@@@\"}}]}]}",
             "invalid image input");
    chat_err("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}",
             "invalid message format");
    chat_err("{\"messages\":[{\"role\":\"user\",\"content\":[\"x\"]}]}",
             "invalid message format");
    chat_err("{\"messages\":[{\"role\":\"user\"}]}", "invalid message content type: <nil>");
    chat_err("{\"messages\":[null]}", "invalid message content type: <nil>");
    chat_err("{\"messages\":[\"hi\"]}", "json: cannot unmarshal string into Go struct field "
                                      "ChatCompletionRequest.messages of type openai.Message");
    chat_err("{\"messages\":[{\"role\":\"user\",\"content\":5}]}",
             "invalid message content type: float64");
    chat_err("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"reasoning_effort\":\"big\"}",
             "invalid reasoning value: \"big\" (must be \"minimal\", \"low\", \"medium\", "
             "\"high\", \"xhigh\", \"ultra\", \"max\", or \"none\")");
    chat_err("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":\"10\"}",
             "json: cannot unmarshal string into Go struct field "
             "ChatCompletionRequest.max_tokens of type int");
    chat_err("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":1.5}",
             "json: cannot unmarshal number 1.5 into Go struct field "
             "ChatCompletionRequest.max_tokens of type int");
    chat_err("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":\"hot\"}",
             "json: cannot unmarshal string into Go struct field "
             "ChatCompletionRequest.temperature of type float64");
    chat_err("{\"messages\":[{\"role\":7,\"content\":\"x\"}]}",
             "json: cannot unmarshal number into Go struct field Message.messages.role of type "
             "string");
    chat_err("{\"messages\":{}}", "json: cannot unmarshal object into Go struct field "
                                  "ChatCompletionRequest.messages of type []openai.Message");
    chat_err("[]", "json: cannot unmarshal array into Go value of type "
                   "openai.ChatCompletionRequest");
}

static json_t *conv_feed(struct oai_conv *c, const char *const *chunks, size_t n)
{
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *ch = J(chunks[i]), *ev = NULL;
        assert_int_equal(oai_conv_chunk(c, ch, &ev), 0);
        json_array_extend(all, ev);
        json_decref(ev);
        json_decref(ch);
    }
    return all;
}

static void test_chat_stream(void **state)
{
    (void)state;
    json_t *req = J("{\"model\":\"m\",\"stream\":true,\"stream_options\":"
                    "{\"include_usage\":true},\"messages\":[]}");
    struct oai_conv *c = oai_conv_new(OAI_CHAT, req);
    json_decref(req);
    assert_true(oai_conv_stream(c));
    const char *id = oai_conv_id(c);
    assert_int_equal(strncmp(id, "chatcmpl-", 9), 0);
    assert_true(atoi(id + 9) >= 0 && atoi(id + 9) < 999);
    const char *chunks[] = {
        "{\"model\":\"m:latest\",\"created_at\":\"2024-05-01T10:00:00.123456Z\","
        "\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"Hmm\"},"
        "\"done\":false}",
        "{\"model\":\"m:latest\",\"created_at\":\"2024-05-01T10:00:09Z\","
        "\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}",
        "{\"model\":\"m:latest\",\"created_at\":\"2024-05-01T10:00:09Z\","
        "\"message\":{\"role\":\"assistant\",\"content\":\"lo\",\"thinking\":\"!\"},"
        "\"logprobs\":[{\"token\":\"lo\",\"logprob\":-0.5,\"bytes\":[108,111]}],\"done\":false}",
        "{\"model\":\"m:latest\",\"created_at\":\"2024-05-01T10:00:10Z\","
        "\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
        "\"done_reason\":\"length\",\"prompt_eval_count\":5,\"eval_count\":3,"
        "\"total_duration\":123}",
    };
    json_t *ev = conv_feed(c, chunks, OM_ARRAY_LEN(chunks));
    json_t *fin = NULL;
    assert_int_equal(oai_conv_finish(c, &fin), 0);
    json_array_extend(ev, fin);
    json_decref(fin);
    char want[4096];
#define HEAD "\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":1714557600," \
             "\"model\":\"m:latest\",\"system_fingerprint\":\"fp_ollama\""
    snprintf(want, sizeof(want),
             "[{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
             "\"content\":\"\",\"reasoning\":\"Hmm\"},\"finish_reason\":null}]},"
             "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},"
             "\"finish_reason\":null}]},"
             "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"!\"},"
             "\"finish_reason\":null,\"logprobs\":{\"content\":[{\"token\":\"lo\","
             "\"logprob\":-0.5,\"bytes\":[108,111]}]}}]},"
             "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},"
             "\"finish_reason\":null}]},"
             "{" HEAD ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]},"
             "{" HEAD ",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,"
             "\"total_tokens\":8}}]",
             id, id, id, id, id, id);
#undef HEAD
    expect_json(ev, want);

    /* the same conversation as one answer */
    json_t *resp = NULL;
    assert_int_equal(oai_conv_response(c, &resp), 0);
    snprintf(want, sizeof(want),
             "{\"id\":\"%s\",\"object\":\"chat.completion\",\"created\":1714557600,"
             "\"model\":\"m:latest\",\"system_fingerprint\":\"fp_ollama\",\"choices\":[{"
             "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello\","
             "\"reasoning\":\"Hmm!\"},\"finish_reason\":\"length\",\"logprobs\":{\"content\":"
             "[{\"token\":\"lo\",\"logprob\":-0.5,\"bytes\":[108,111]}]}}],"
             "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}",
             id);
    expect_json(resp, want);
    oai_conv_free(c);
}

static void test_chat_tools_and_empty(void **state)
{
    (void)state;
    json_t *req = J("{\"model\":\"m\",\"stream\":true}");
    struct oai_conv *c = oai_conv_new(OAI_CHAT, req);
    const char *chunks[] = {
        "{\"model\":\"m\",\"created_at\":\"2024-05-01T10:00:00+02:00\",\"message\":{\"role\":"
        "\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"call_x\",\"function\":{"
        "\"index\":0,\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\",\"n\":1}}}]},"
        "\"done\":false}",
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
        "\"done_reason\":\"stop\",\"prompt_eval_count\":1,\"eval_count\":2}",
    };
    json_t *ev = conv_feed(c, chunks, 2);
    json_t *fin;
    oai_conv_finish(c, &fin);
    json_array_extend(ev, fin);
    json_decref(fin);
    assert_int_equal(json_array_size(ev), 2); /* tool-call chunk, finish (no usage) */
    json_t *first = json_array_get(ev, 0);
    assert_int_equal(json_integer_value(json_object_get(first, "created")), 1714550400);
    expect_json(json_incref(json_object_get(json_array_get(json_object_get(first, "choices"), 0),
                                            "delta")),
                "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"call_x\","
                "\"index\":0,\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"n\\\":1}\"}}]}");
    json_t *last = json_array_get(json_object_get(json_array_get(ev, 1), "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(last, "finish_reason")), "tool_calls");
    json_decref(ev);
    oai_conv_free(c);

    /* not streaming: the stream:false native object -> one chat.completion */
    json_object_set_new(req, "stream", json_false());
    c = oai_conv_new(OAI_CHAT, req);
    assert_false(oai_conv_stream(c));
    json_t *n = J("{\"model\":\"m\",\"created_at\":\"2024-05-01T10:00:00Z\",\"message\":{"
                  "\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{"
                  "\"index\":0,\"name\":\"f\",\"arguments\":{}}}]},\"done\":true,"
                  "\"done_reason\":\"stop\",\"prompt_eval_count\":4,\"eval_count\":6}");
    json_t *e;
    assert_int_equal(oai_conv_chunk(c, n, &e), 0);
    assert_int_equal(json_array_size(e), 0); /* nothing to send when not streaming */
    json_decref(e);
    json_decref(n);
    json_t *resp;
    oai_conv_response(c, &resp);
    json_t *choice = json_array_get(json_object_get(resp, "choices"), 0);
    assert_string_equal(json_string_value(json_object_get(choice, "finish_reason")), "tool_calls");
    expect_json(json_incref(json_object_get(json_object_get(choice, "message"), "tool_calls")),
                "[{\"id\":\"\",\"index\":0,\"type\":\"function\",\"function\":{\"name\":\"f\","
                "\"arguments\":\"{}\"}}]");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(resp, "usage"),
                                                        "total_tokens")), 10);
    json_decref(resp);
    oai_conv_free(c);

    /* a wholly empty stream still opens with a role chunk; error lines are refused */
    json_object_set_new(req, "stream", json_true());
    c = oai_conv_new(OAI_CHAT, req);
    n = J("{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
          "\"done\":true,\"done_reason\":\"stop\"}");
    assert_int_equal(oai_conv_chunk(c, n, &e), 0);
    assert_int_equal(json_array_size(e), 1);
    json_decref(e);
    json_decref(n);
    n = J("{\"error\":\"boom\"}");
    assert_int_equal(oai_conv_chunk(c, n, &e), OM_EINVAL);
    assert_null(e);
    json_decref(n);
    oai_conv_free(c);
    json_decref(req);
}

static void test_completions(void **state)
{
    (void)state;
    json_t *r = J("{\"model\":\"m\",\"prompt\":\"Once\",\"suffix\":\"end\",\"max_tokens\":5,"
                  "\"stop\":[\"\\n\"],\"top_p\":0,\"logprobs\":3,\"stream\":true,"
                  "\"stream_options\":{\"include_usage\":true},\"echo\":true}");
    json_t *n;
    char err[256];
    assert_int_equal(oai_completion_to_native(r, &n, err, sizeof(err)), 0);
    expect_json(n, "{\"model\":\"m\",\"prompt\":\"Once\",\"suffix\":\"end\",\"stream\":true,"
                   "\"options\":{\"num_predict\":5,\"stop\":[\"\\n\"],\"temperature\":1.0,"
                   "\"top_p\":1.0,\"frequency_penalty\":0.0,\"presence_penalty\":0.0},"
                   "\"logprobs\":true,\"top_logprobs\":3}");
    struct oai_conv *c = oai_conv_new(OAI_COMPLETION, r);
    json_decref(r);
    assert_int_equal(strncmp(oai_conv_id(c), "cmpl-", 5), 0);
    const char *chunks[] = {
        "{\"model\":\"m\",\"created_at\":\"2024-05-01T10:00:00Z\",\"response\":\" upon\","
        "\"done\":false}",
        "{\"model\":\"m\",\"created_at\":\"2024-05-01T10:00:01Z\",\"response\":\"\","
        "\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":2,\"eval_count\":1}",
    };
    json_t *ev = conv_feed(c, chunks, 2), *fin;
    oai_conv_finish(c, &fin);
    json_array_extend(ev, fin);
    json_decref(fin);
    char want[2048];
    const char *id = oai_conv_id(c);
#define HEAD "\"id\":\"%s\",\"object\":\"text_completion\",\"created\":1714557600"
#define TAIL "\"model\":\"m\",\"system_fingerprint\":\"fp_ollama\""
    snprintf(want, sizeof(want),
             "[{" HEAD ",\"choices\":[{\"text\":\" upon\",\"index\":0,\"finish_reason\":null}],"
             TAIL ",\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}},"
             "{" HEAD ",\"choices\":[{\"text\":\"\",\"index\":0,\"finish_reason\":\"stop\"}],"
             TAIL ",\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}},"
             "{" HEAD ",\"choices\":[]," TAIL ",\"usage\":{\"prompt_tokens\":2,"
             "\"completion_tokens\":1,\"total_tokens\":3}}]",
             id, id, id);
    expect_json(ev, want);
    json_t *resp;
    oai_conv_response(c, &resp);
    snprintf(want, sizeof(want),
             "{" HEAD "," TAIL ",\"choices\":[{\"text\":\" upon\",\"index\":0,"
             "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2,"
             "\"completion_tokens\":1,\"total_tokens\":3}}", id);
#undef HEAD
#undef TAIL
    expect_json(resp, want);
    oai_conv_free(c);

    const char *bad[][2] = {
        {"{\"prompt\":\"x\",\"stop\":[\"a\",1]}", "invalid type for 'stop' field: float64"},
        {"{\"prompt\":[\"x\"]}", "json: cannot unmarshal array into Go struct field "
                                 "CompletionRequest.prompt of type string"},
        {"{\"prompt\":\"x\",\"logprobs\":true}", "json: cannot unmarshal bool into Go struct "
                                                 "field CompletionRequest.logprobs of type int"},
    };
    for (size_t i = 0; i < OM_ARRAY_LEN(bad); i++) {
        r = J(bad[i][0]);
        assert_int_equal(oai_completion_to_native(r, &n, err, sizeof(err)), OM_EINVAL);
        assert_string_equal(err, bad[i][1]);
        json_decref(r);
    }
}

static void test_embeddings(void **state)
{
    (void)state;
    char fmt[OAI_ENCODING_MAX], err[256];
    json_t *r =
        J("{\"model\":\"e\",\"input\":\"\",\"dimensions\":4,\"encoding_format\":\"BASE64\"}");
    json_t *n;
    assert_int_equal(oai_embed_to_native(r, &n, fmt, err, sizeof(err)), 0);
    assert_string_equal(fmt, "base64");
    expect_json(n, "{\"model\":\"e\",\"input\":[\"\"],\"dimensions\":4}");
    json_decref(r);
    r = J("{\"model\":\"e\",\"input\":[\"a\",\"b\"]}");
    assert_int_equal(oai_embed_to_native(r, &n, fmt, err, sizeof(err)), 0);
    assert_string_equal(fmt, "float");
    expect_json(n, "{\"model\":\"e\",\"input\":[\"a\",\"b\"]}");
    json_decref(r);
    const char *bad[][2] = {
        {"{\"model\":\"e\"}", "invalid input"},
        {"{\"model\":\"e\",\"input\":null}", "invalid input"},
        {"{\"model\":\"e\",\"input\":[]}", "invalid input"},
        {"{\"input\":\"x\",\"encoding_format\":\"int8\"}",
         "Invalid value for 'encoding_format' = int8. Supported values: ['float', 'base64']."},
    };
    for (size_t i = 0; i < OM_ARRAY_LEN(bad); i++) {
        r = J(bad[i][0]);
        assert_int_equal(oai_embed_to_native(r, &n, fmt, err, sizeof(err)), OM_EINVAL);
        assert_null(n);
        assert_string_equal(err, bad[i][1]);
        json_decref(r);
    }

    json_t *native = J("{\"model\":\"e\",\"embeddings\":[[1.0,-2.5],[0.5,0]],"
                       "\"prompt_eval_count\":6}");
    /* 1.0f = 00 00 80 3f, -2.5f = 00 00 20 c0 (little-endian) */
    expect_json(oai_embed_response(native, "base64", "e"),
                "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"embedding\":"
                "\"AACAPwAAIMA=\",\"index\":0},{\"object\":\"embedding\",\"embedding\":"
                "\"AAAAPwAAAAA=\",\"index\":1}],\"model\":\"e\",\"usage\":{\"prompt_tokens\":6,"
                "\"total_tokens\":6}}");
    expect_json(oai_embed_response(native, NULL, "e"),
                "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"embedding\":"
                "[1.0,-2.5],\"index\":0},{\"object\":\"embedding\",\"embedding\":[0.5,0],"
                "\"index\":1}],\"model\":\"e\",\"usage\":{\"prompt_tokens\":6,"
                "\"total_tokens\":6}}");
    /* through a converter, as the handlers use it */
    r = J("{\"model\":\"e\",\"input\":\"x\",\"encoding_format\":\"base64\"}");
    struct oai_conv *c = oai_conv_new(OAI_EMBED, r);
    json_t *ev, *resp;
    assert_int_equal(oai_conv_chunk(c, native, &ev), 0);
    json_decref(ev);
    oai_conv_response(c, &resp);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(resp, "data"), 0), "embedding")),
                        "AACAPwAAIMA=");
    json_decref(resp);
    oai_conv_free(c);
    json_decref(r);
    json_decref(native);
}

static void test_errors_models_sse(void **state)
{
    (void)state;
    expect_json(oai_error(400, "bad"), "{\"error\":{\"message\":\"bad\",\"type\":"
                                       "\"invalid_request_error\",\"param\":null,\"code\":null}}");
    expect_json(oai_error(404, "model \"x\" not found"),
                "{\"error\":{\"message\":\"model \\\"x\\\" not found\",\"type\":"
                "\"not_found_error\",\"param\":null,\"code\":null}}");
    expect_json(oai_error(503, "busy"), "{\"error\":{\"message\":\"busy\",\"type\":"
                                        "\"api_error\",\"param\":null,\"code\":null}}");
    const char *nb = "{\"error\":\"model 'q' not found\"}";
    expect_json(oai_error_from_native(404, nb, strlen(nb)),
                "{\"error\":{\"message\":\"model 'q' not found\",\"type\":\"not_found_error\","
                "\"param\":null,\"code\":null}}");
    expect_json(oai_error(500, "bad \xff" "byte"),
                "{\"error\":{\"message\":\"bad \\ufffdbyte\",\"type\":\"api_error\","
                "\"param\":null,\"code\":null}}");
    expect_json(oai_error_from_native(500, "plain text", 10),
                "{\"error\":{\"message\":\"plain text\",\"type\":\"api_error\",\"param\":null,"
                "\"code\":null}}");

    json_t *tags = J("{\"models\":[{\"name\":\"llama3:latest\",\"model\":\"llama3:latest\","
                     "\"modified_at\":\"2024-05-01T12:00:00.5+02:00\",\"size\":1},"
                     "{\"name\":\"user/m:tag\",\"modified_at\":\"2024-05-01T10:00:00Z\"},"
                     "{\"name\":\"hf.co/org/repo:q4\",\"model\":\"hf.co/org/repo:q4\","
                     "\"modified_at\":\"bad\"}]}");
    expect_json(oai_models_list(tags),
                "{\"object\":\"list\",\"data\":[{\"id\":\"llama3:latest\",\"object\":\"model\","
                "\"created\":1714557600,\"owned_by\":\"library\"},{\"id\":\"user/m:tag\","
                "\"object\":\"model\",\"created\":1714557600,\"owned_by\":\"user\"},"
                "{\"id\":\"hf.co/org/repo:q4\",\"object\":\"model\",\"created\":0,"
                "\"owned_by\":\"org\"}]}");
    json_decref(tags);
    json_t *show = J("{\"modified_at\":\"2024-05-01T10:00:00Z\",\"details\":{}}");
    expect_json(oai_model_from_show(show, "me/mine:7b"),
                "{\"id\":\"me/mine:7b\",\"object\":\"model\",\"created\":1714557600,"
                "\"owned_by\":\"me\"}");
    json_decref(show);
    tags = J("{\"models\":[]}");
    expect_json(oai_models_list(tags), "{\"object\":\"list\",\"data\":[]}");
    json_decref(tags);

    json_t *ev = J("{\"a\":\"x\\ny\",\"b\":[1,2]}");
    size_t len;
    char *s = oai_sse_format(ev, &len);
    assert_string_equal(s, "data: {\"a\":\"x\\ny\",\"b\":[1,2]}\n\n");
    assert_int_equal(len, strlen(s));
    free(s);
    json_decref(ev);
    assert_string_equal(OAI_SSE_DONE, "data: [DONE]\n\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_request),
        cmocka_unit_test(test_chat_messages),
        cmocka_unit_test(test_chat_errors),
        cmocka_unit_test(test_chat_stream),
        cmocka_unit_test(test_chat_tools_and_empty),
        cmocka_unit_test(test_completions),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_errors_models_sse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
