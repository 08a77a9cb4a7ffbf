/* fuzz: libFuzzer target for the OpenAI-compatibility translator (api/oai).
 * The input is parsed as JSON (any value). As a /v1 request body it goes
 * through oai_chat_to_native, oai_completion_to_native, oai_embed_to_native
 * and oai_responses_to_native. As the request of a converter it drives
 * oai_conv for OAI_CHAT, OAI_COMPLETION and OAI_EMBED and oai_resp, fed with
 * native-chunk-shaped variants of itself (the value as a chunk, as a
 * message, as a response text / done reason / counts) and then finished.
 * It is also read as /api/tags and /api/show answers (oai_models_list,
 * oai_model, oai_model_from_show), and the raw bytes go through
 * oai_error_from_native. Invariants: a request translation gives 0 and an
 * object, or a negative code, a message and no object; converters never
 * fail on objects and refuse non-objects; every event serialises with
 * oai_sse_format; nothing leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/oai.h"
#include "base/om.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Log lines are formatted (at every level) but not printed. */
static void quiet_log(enum om_log_level lvl, const char *module, const char *msg, void *ud)
{
    (void)lvl, (void)ud;
    if (strlen(module) + strlen(msg) == (size_t)-1)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    om_log_set(quiet_log, NULL, OM_LOG_DEBUG);
    return 0;
}

static void check_req(int rc, json_t *native, const char *err)
{
    if (rc == 0) {
        if (!json_is_object(native))
            abort();
        char *s = json_dumps(native, JSON_COMPACT);
        if (!s)
            abort();
        free(s);
    } else if (rc > 0 || native || !err[0]) {
        abort();
    }
    json_decref(native);
}

static void send_events(json_t *ev)
{
    size_t i;
    json_t *e;
    if (!json_is_array(ev))
        abort();
    json_array_foreach (ev, i, e) {
        size_t len = 0;
        char *s = oai_sse_format(e, &len);
        if (!s || strlen(s) != len || memcmp(s, "data: ", 6) != 0)
            abort();
        free(s);
    }
    json_decref(ev);
}

/* Native-chunk-shaped variants of v (new references). */
static int variants(const json_t *v, json_t *out[8])
{
    int n = 0;
    out[n++] = json_deep_copy(v);
    out[n++] = json_pack("{s:s,s:O,s:b}", "model", "m", "message", v, "done", 0);
    out[n++] = json_pack("{s:s,s:{s:s,s:O,s:O},s:b}", "model", "m", "message", "role",
                         "assistant", "content", v, "thinking", v, "done", 0);
    out[n++] = json_pack("{s:O,s:O,s:b}", "response", v, "logprobs", v, "done", 0);
    out[n++] = json_pack("{s:{s:s,s:[{s:{s:s,s:O}}]},s:b}", "message", "role", "assistant",
                         "tool_calls", "function", "name", "f", "arguments", v, "done", 0);
    out[n++] = json_pack("{s:s,s:O,s:b,s:O,s:O,s:O}", "model", "m", "done_reason", v, "done", 1,
                         "prompt_eval_count", v, "eval_count", v, "created_at", v);
    out[n++] = json_pack("{s:O}", "embeddings", v);
    return n;
}

static void run_conv(enum oai_kind kind, const json_t *req, json_t **ch, int nch)
{
    struct oai_conv *c = oai_conv_new(kind, req);
    if (!c || !oai_conv_id(c))
        abort();
    (void)oai_conv_stream(c);
    for (int i = 0; i < nch; i++) {
        json_t *ev = NULL;
        int rc = oai_conv_chunk(c, ch[i], &ev);
        if (rc == 0)
            send_events(ev);
        else if (rc > 0 || ev || (json_is_object(ch[i]) && !json_object_get(ch[i], "error")))
            abort();
    }
    json_t *ev = NULL;
    if (oai_conv_finish(c, &ev) != 0)
        abort();
    send_events(ev);
    json_t *resp = NULL;
    if (oai_conv_response(c, &resp) != 0 || !json_is_object(resp))
        abort();
    json_decref(resp);
    oai_conv_free(c);
}

static void run_resp(const json_t *req, json_t **ch, int nch)
{
    struct oai_resp *r = oai_resp_new(req);
    if (!r)
        abort();
    (void)oai_resp_stream(r);
    for (int i = 0; i < nch; i++) {
        json_t *ev = NULL;
        if (oai_resp_chunk(r, ch[i], &ev) == 0) {
            size_t k;
            json_t *e;
            json_array_foreach (ev, k, e) {
                size_t len;
                char *s = oai_sse_format_event(json_string_value(json_object_get(e, "event")),
                                               json_object_get(e, "data"), &len);
                if (!s)
                    abort();
                free(s);
            }
            json_decref(ev);
        } else if (ev) {
            abort();
        }
    }
    json_t *resp = NULL;
    if (oai_resp_response(r, &resp) == 0)
        json_decref(resp);
    oai_resp_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *e = oai_error_from_native(500, (const char *)data, size);
    if (!e)
        abort();
    json_decref(e);

    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!v)
        return 0;
    char err[512] = "";
    json_t *native = NULL;
    check_req(oai_chat_to_native(v, &native, err, sizeof(err)), native, err);
    err[0] = 0;
    native = NULL;
    check_req(oai_completion_to_native(v, &native, err, sizeof(err)), native, err);
    err[0] = 0;
    native = NULL;
    char enc[OAI_ENCODING_MAX] = "";
    int rc = oai_embed_to_native(v, &native, enc, err, sizeof(err));
    if (rc == 0 && strcmp(enc, "float") != 0 && strcmp(enc, "base64") != 0)
        abort();
    check_req(rc, native, err);
    err[0] = 0;
    native = NULL;
    check_req(oai_responses_to_native(v, &native, err, sizeof(err)), native, err);

    json_t *ch[8];
    int nch = variants(v, ch);
    const json_t *req = json_is_object(v) ? v : NULL;
    run_conv(OAI_CHAT, req, ch, nch);
    run_conv(OAI_COMPLETION, req, ch, nch);
    json_t *emb[2] = {ch[0], ch[6]}; /* the value as the /api/embed answer, or its embeddings */
    run_conv(OAI_EMBED, req, emb, 2);
    run_resp(req, ch, nch);
    for (int i = 0; i < nch; i++)
        json_decref(ch[i]);
    /* the value as an /api/tags or /api/show answer */
    json_t *o = oai_models_list(v);
    if (!json_is_object(o))
        abort();
    json_decref(o);
    o = oai_model(v);
    json_decref(o);
    o = oai_model_from_show(v, json_string_value(json_object_get(req, "model")));
    json_decref(o);
    json_decref(v);
    return 0;
}
