/* Unit tests for api/oai's Responses API part: request -> native chat
 * (input items, reasoning hand-over, function calls and outputs, tools,
 * options, errors), the whole answer, and the streamed event sequence. */
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

static json_t *native_of(const char *req)
{
    return native_ok(oai_responses_to_native, req);
}

static void resp_err(const char *req, const char *want)
{
    native_err(oai_responses_to_native, req, want);
}

static void test_request(void **state)
{
    (void)state;
    expect_json(native_of("{\"model\":\"m\",\"input\":\"hi\",\"instructions\":\"be brief\"}"),
                "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                "{\"role\":\"user\",\"content\":\"hi\"}],\"options\":{\"temperature\":1.0},"
                "\"stream\":false}");
    expect_json(
        native_of(
            "{\"model\":\"m\",\"stream\":true,\"temperature\":0.5,\"top_p\":0.9,"
            "\"max_output_tokens\":64,\"reasoning\":{\"effort\":\"minimal\"},"
            "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"x\",\"schema\":"
            "{\"type\":\"object\"}}},\"tools\":[{\"type\":\"function\",\"name\":\"get\","
            "\"description\":\"d\",\"parameters\":{\"type\":\"object\"}},{\"type\":\"namespace\","
            "\"name\":\"fs\",\"tools\":[{\"type\":\"function\",\"name\":\"read\"}]},"
            "{\"type\":\"web_search\"}],\"input\":["
            "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"a\"},"
            "{\"type\":\"input_text\",\"text\":\"b\"},{\"type\":\"input_image\",\"detail\":"
            "\"auto\",\"image_url\":\"data:image/png;base64,AAAA\"}]},"
            "{\"type\":\"reasoning\",\"encrypted_content\":\"thought\",\"summary\":[]},"
            "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"get\",\"arguments\":"
            "\"{\\\"q\\\":1}\"},"
            "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
            "\"text\":\"checking\"}]},"
            "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"42\"},"
            "{\"type\":\"message\",\"role\":\"assistant\",\"content\":\"it is 42\"},"
            "{\"type\":\"reasoning\",\"encrypted_content\":\"more\"}]}"),
        "{\"model\":\"m\",\"stream\":true,\"options\":{\"temperature\":0.5,\"top_p\":0.9,"
        "\"num_predict\":64},\"think\":\"low\",\"format\":{\"type\":\"object\"},"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get\",\"description\":\"d\","
        "\"parameters\":{\"type\":\"object\"}}},{\"type\":\"function\",\"function\":{\"name\":"
        "\"fs.read\",\"description\":\"\"}}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"ab\",\"images\":[\"AAAA\"]},"
        "{\"role\":\"assistant\",\"content\":\"checking\",\"thinking\":\"thought\","
        "\"tool_calls\":[{\"id\":\"c1\",\"function\":{\"index\":0,\"name\":\"get\","
        "\"arguments\":{\"q\":1}}}]},"
        "{\"role\":\"tool\",\"content\":\"42\",\"tool_call_id\":\"c1\"},"
        "{\"role\":\"assistant\",\"content\":\"it is 42\"},"
        "{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"more\"}]}");
    /* function_call_output as content items */
    json_t *n = native_of("{\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"z\","
                          "\"output\":[{\"type\":\"input_text\",\"text\":\"x\"},"
                          "{\"type\":\"output_text\",\"text\":\"y\"}]}]}");
    expect_json(json_incref(json_object_get(n, "messages")),
                "[{\"role\":\"tool\",\"content\":\"xy\",\"tool_call_id\":\"z\"}]");
    json_decref(n);
}

static void test_request_errors(void **state)
{
    (void)state;
    resp_err("{\"input\":[{\"content\":\"x\"}]}", "input[0]: input item missing required 'type' "
                                                  "field");
    resp_err("{\"input\":[{\"type\":\"item_reference\"}]}",
             "input[0]: unknown input item type: \"item_reference\"");
    resp_err("{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"a\"},"
             "{\"type\":\"video\"}]}]}",
             "input[0]: content[1]: unknown content type: video");
    resp_err("{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\","
             "\"file_data\":\"x\"}]}]}",
             "file inputs are not currently supported");
    resp_err("{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\","
             "\"image_url\":\"https://x/y.png\"}]}]}",
             "image URLs are not currently supported, please use base64 encoded data instead");
    resp_err("{\"input\":[{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"[1]\"}]}",
             "failed to parse function call arguments: arguments must be a JSON object");
    resp_err("{\"input\":5}", "input must be a string or array: json: cannot unmarshal number "
                              "into Go value of type []json.RawMessage");
    resp_err("{\"input\":\"x\",\"reasoning\":{\"effort\":\"huge\"}}",
             "invalid reasoning value: \"huge\" (must be \"minimal\", \"low\", \"medium\", "
             "\"high\", \"xhigh\", \"ultra\", \"max\", or \"none\")");
    resp_err("{\"input\":\"x\",\"max_output_tokens\":\"9\"}",
             "json: cannot unmarshal string into Go struct field "
             "ResponsesRequest.max_output_tokens of type int");
}

static json_t *feed(struct oai_resp *r, const char *const *chunks, size_t n)
{
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *ch = J(chunks[i]), *ev = NULL;
        assert_int_equal(oai_resp_chunk(r, ch, &ev), 0);
        json_array_extend(all, ev);
        json_decref(ev);
        json_decref(ch);
    }
    return all;
}

static void test_stream(void **state)
{
    (void)state;
    json_t *req = J("{\"model\":\"m\",\"stream\":true,\"input\":\"hi\",\"instructions\":\"x\","
                    "\"reasoning\":{\"effort\":\"high\"}}");
    struct oai_resp *r = oai_resp_new(req);
    assert_true(oai_resp_stream(r));
    const char *chunks[] = {
        "{\"model\":\"m\",\"created_at\":\"2024-05-01T10:00:00Z\",\"message\":{\"role\":"
        "\"assistant\",\"content\":\"\",\"thinking\":\"Hm\"},\"done\":false}",
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"m\"},"
        "\"done\":false}",
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}",
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"lo\"},\"done\":false}",
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
        "\"done_reason\":\"stop\",\"prompt_eval_count\":4,\"eval_count\":5}",
    };
    json_t *ev = feed(r, chunks, OM_ARRAY_LEN(chunks));
    const char *want[] = {
        "response.created", "response.in_progress", "response.output_item.added",
        "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed",
    };
    assert_int_equal(json_array_size(ev), OM_ARRAY_LEN(want));
    for (size_t i = 0; i < OM_ARRAY_LEN(want); i++) {
        json_t *e = json_array_get(ev, i), *d = json_object_get(e, "data");
        assert_string_equal(json_string_value(json_object_get(e, "event")), want[i]);
        assert_string_equal(json_string_value(json_object_get(d, "type")), want[i]);
        assert_int_equal(json_integer_value(json_object_get(d, "sequence_number")), (int)i);
    }
    json_t *created = json_object_get(json_object_get(json_array_get(ev, 0), "data"), "response");
    assert_string_equal(json_string_value(json_object_get(created, "status")), "in_progress");
    assert_string_equal(json_string_value(json_object_get(created, "instructions")), "x");
    assert_int_equal(json_array_size(json_object_get(created, "output")), 0);
    expect_json(json_incref(json_object_get(created, "reasoning")),
                "{\"effort\":\"high\",\"summary\":null}");
    /* the reasoning item closes at index 0 with the whole summary */
    json_t *rdone = json_object_get(json_array_get(ev, 8), "data");
    assert_int_equal(json_integer_value(json_object_get(rdone, "output_index")), 0);
    json_t *ritem = json_object_get(rdone, "item");
    assert_string_equal(json_string_value(json_object_get(ritem, "encrypted_content")), "Hmm");
    /* text goes to index 1 */
    json_t *tdone = json_object_get(json_array_get(ev, 13), "data");
    assert_int_equal(json_integer_value(json_object_get(tdone, "output_index")), 1);
    assert_string_equal(json_string_value(json_object_get(tdone, "text")), "Hello");
    json_t *comp = json_object_get(json_object_get(json_array_get(ev, 16), "data"), "response");
    assert_string_equal(json_string_value(json_object_get(comp, "status")), "completed");
    assert_true(json_is_integer(json_object_get(comp, "completed_at")));
    expect_json(json_incref(json_object_get(comp, "usage")),
                "{\"input_tokens\":4,\"output_tokens\":5,\"total_tokens\":9,"
                "\"input_tokens_details\":{\"cached_tokens\":0},"
                "\"output_tokens_details\":{\"reasoning_tokens\":0}}");
    json_t *out = json_object_get(comp, "output");
    assert_int_equal(json_array_size(out), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "type")),
                        "reasoning");
    json_t *msg = json_array_get(out, 1);
    expect_json(json_incref(json_object_get(msg, "content")),
                "[{\"type\":\"output_text\",\"text\":\"Hello\",\"annotations\":[],"
                "\"logprobs\":[]}]");
    json_decref(ev);

    /* SSE framing with the event name */
    json_t *d = J("{\"a\":1}");
    size_t len;
    char *s = oai_sse_format_event("response.created", d, &len);
    assert_string_equal(s, "event: response.created\ndata: {\"a\":1}\n\n");
    assert_int_equal(len, strlen(s));
    free(s);
    json_decref(d);
    oai_resp_free(r);
    json_decref(req);
}

static void test_tools_and_whole(void **state)
{
    (void)state;
    json_t *req = J("{\"model\":\"m\",\"stream\":true,\"input\":\"weather?\",\"tools\":[{"
                    "\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{"
                    "\"type\":\"object\"}}]}");
    struct oai_resp *r = oai_resp_new(req);
    const char *chunks[] = {
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{"
        "\"id\":\"call_1\",\"function\":{\"index\":0,\"name\":\"get_weather\",\"arguments\":{"
        "\"city\":\"Paris\"}}}]},\"done\":false}",
        "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"ignored\"},"
        "\"done\":true,\"prompt_eval_count\":1,\"eval_count\":2}",
    };
    json_t *ev = feed(r, chunks, 2);
    const char *want[] = {"response.created", "response.in_progress",
                          "response.output_item.added", "response.function_call_arguments.delta",
                          "response.function_call_arguments.done", "response.output_item.done",
                          "response.completed"};
    assert_int_equal(json_array_size(ev), OM_ARRAY_LEN(want));
    for (size_t i = 0; i < OM_ARRAY_LEN(want); i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(ev, i), "event")),
                            want[i]);
    json_t *done = json_object_get(json_object_get(json_array_get(ev, 4), "data"), "arguments");
    assert_string_equal(json_string_value(done), "{\"city\":\"Paris\"}");
    json_t *comp = json_object_get(json_object_get(json_array_get(ev, 6), "data"), "response");
    json_t *out = json_object_get(comp, "output");
    assert_int_equal(json_array_size(out), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "call_id")),
                        "call_1");
    expect_json(json_incref(json_object_get(comp, "tools")),
                "[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":null,"
                "\"strict\":null,\"parameters\":{\"type\":\"object\"}}]");
    json_decref(ev);

    /* the same as one answer */
    json_t *resp;
    assert_int_equal(oai_resp_response(r, &resp), 0);
    const char *id = json_string_value(json_object_get(resp, "id"));
    assert_int_equal(strncmp(id, "resp_", 5), 0);
    char fc[64];
    snprintf(fc, sizeof(fc), "fc_%s_0", id);
    json_t *item = json_array_get(json_object_get(resp, "output"), 0);
    char want_item[256];
    snprintf(want_item, sizeof(want_item),
             "{\"id\":\"%s\",\"type\":\"function_call\",\"status\":\"completed\",\"call_id\":"
             "\"call_1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}",
             fc);
    expect_json(json_incref(item), want_item);
    assert_string_equal(json_string_value(json_object_get(resp, "object")), "response");
    assert_true(json_is_null(json_object_get(resp, "reasoning")));
    assert_true(json_is_null(json_object_get(resp, "instructions")));
    json_decref(resp);
    oai_resp_free(r);
    json_decref(req);

    /* not streaming: no events, a message item with the text and the reasoning */
    req = J("{\"model\":\"m\",\"input\":\"hi\",\"temperature\":0.2}");
    r = oai_resp_new(req);
    const char *one = "{\"model\":\"m\",\"created_at\":\"2024-05-01T10:00:00Z\",\"message\":{"
                      "\"role\":\"assistant\",\"content\":\"Hi!\",\"thinking\":\"greet\"},"
                      "\"done\":true,\"prompt_eval_count\":3,\"eval_count\":1}";
    ev = feed(r, &one, 1);
    assert_int_equal(json_array_size(ev), 0);
    json_decref(ev);
    oai_resp_response(r, &resp);
    assert_int_equal(json_integer_value(json_object_get(resp, "created_at")), 1714557600);
    assert_true(json_real_value(json_object_get(resp, "temperature")) == 0.2);
    json_t *outs = json_object_get(resp, "output");
    assert_int_equal(json_array_size(outs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(outs, 0), "type")),
                        "reasoning");
    json_t *m = json_array_get(outs, 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(m, "content"), 0), "text")),
                        "Hi!");
    json_decref(resp);
    json_t *e = J("{\"error\":\"x\"}");
    assert_int_equal(oai_resp_chunk(r, e, &ev), OM_EINVAL);
    json_decref(e);
    oai_resp_free(r);
    json_decref(req);
}

/* text then a tool call: the message is closed first, each item has its own index */
static void test_text_then_tool(void **state)
{
    (void)state;
    json_t *req = J("{\"model\":\"m\",\"stream\":true,\"input\":\"x\"}");
    struct oai_resp *r = oai_resp_new(req);
    const char *chunks[] = {
        "{\"message\":{\"role\":\"assistant\",\"content\":\"Let me check.\"},\"done\":false}",
        "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"c\","
        "\"function\":{\"index\":0,\"name\":\"f\",\"arguments\":{}}}]},\"done\":false}",
        "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true}",
    };
    json_t *ev = feed(r, chunks, OM_ARRAY_LEN(chunks));
    const char *want[][2] = {
        {"response.created", ""}, {"response.in_progress", ""},
        {"response.output_item.added", "0"}, {"response.content_part.added", "0"},
        {"response.output_text.delta", "0"}, {"response.output_text.done", "0"},
        {"response.content_part.done", "0"}, {"response.output_item.done", "0"},
        {"response.output_item.added", "1"}, {"response.function_call_arguments.delta", "1"},
        {"response.function_call_arguments.done", "1"}, {"response.output_item.done", "1"},
        {"response.completed", ""},
    };
    assert_int_equal(json_array_size(ev), OM_ARRAY_LEN(want));
    for (size_t i = 0; i < OM_ARRAY_LEN(want); i++) {
        json_t *e = json_array_get(ev, i), *d = json_object_get(e, "data");
        assert_string_equal(json_string_value(json_object_get(e, "event")), want[i][0]);
        if (want[i][1][0])
            assert_int_equal(json_integer_value(json_object_get(d, "output_index")),
                             atoi(want[i][1]));
    }
    json_t *out = json_object_get(
        json_object_get(json_object_get(json_array_get(ev, 12), "data"), "response"), "output");
    assert_int_equal(json_array_size(out), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "type")),
                        "message");
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "type")),
                        "function_call");
    json_decref(ev);
    oai_resp_free(r);
    json_decref(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_tools_and_whole),
        cmocka_unit_test(test_text_then_tool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
