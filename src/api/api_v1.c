/* api: the OpenAI-compatible routes. Like Ollama's middleware, each /v1
 * request is translated into the native request (oai.h), run by the same
 * code as /api/chat, /api/generate and /api/embed, and the native output is
 * translated back (SSE chunks ending in "data: [DONE]", or one object).
 * Errors use OpenAI's nested shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/oai.h"
#include "base/om.h"

/* Parses the body; answers a 400 in OpenAI's shape on failure. */
static json_t *v1_body(http_req *req)
{
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    if (!body || !len) {
        api_respond_json(req, 400, oai_error(400, "missing request body"));
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(body, len, 0, &je);
    if (!json_is_object(v)) {
        char msg[256];
        snprintf(msg, sizeof msg, "invalid JSON: %s", v ? "not an object" : je.text);
        json_decref(v);
        api_respond_json(req, 400, oai_error(400, msg));
        return NULL;
    }
    return v;
}

static void v1_gen(http_req *req, struct api_server *s, enum api_gen_kind kind)
{
    json_t *body = v1_body(req);
    if (!body)
        return;
    json_t *native = NULL;
    char err[512];
    int rc = kind == API_GEN_CHAT ? oai_chat_to_native(body, &native, err, sizeof err)
                                  : oai_completion_to_native(body, &native, err, sizeof err);
    if (rc) {
        json_decref(body);
        api_respond_json(req, 400, oai_error(400, err));
        return;
    }
    struct oai_conv *conv = oai_conv_new(kind == API_GEN_CHAT ? OAI_CHAT : OAI_COMPLETION, body);
    struct api_out out;
    api_out_init(&out, req, API_OUT_OAI, json_is_true(json_object_get(body, "stream")), conv);
    api_route_gen(s, req, kind, native, &out);
    json_decref(native);
    json_decref(body);
}

void api_h_v1_chat(http_req *req, void *ctx)
{
    v1_gen(req, ctx, API_GEN_CHAT);
}

void api_h_v1_completions(http_req *req, void *ctx)
{
    v1_gen(req, ctx, API_GEN_GENERATE);
}

void api_h_v1_responses(http_req *req, void *ctx)
{
    json_t *body = v1_body(req);
    if (!body)
        return;
    json_t *native = NULL;
    char err[512];
    if (oai_responses_to_native(body, &native, err, sizeof err)) {
        json_decref(body);
        api_respond_json(req, 400, oai_error(400, err));
        return;
    }
    struct api_out out;
    api_out_init(&out, req, API_OUT_OAI_RESP, json_is_true(json_object_get(body, "stream")), NULL);
    out.resp = oai_resp_new(body);
    api_route_gen(ctx, req, API_GEN_CHAT, native, &out);
    json_decref(native);
    json_decref(body);
}

void api_h_v1_embeddings(http_req *req, void *ctx)
{
    json_t *body = v1_body(req);
    if (!body)
        return;
    json_t *native = NULL;
    char err[512], enc[OAI_ENCODING_MAX];
    if (oai_embed_to_native(body, &native, enc, err, sizeof err)) {
        json_decref(body);
        api_respond_json(req, 400, oai_error(400, err));
        return;
    }
    api_route_embed(ctx, req, native, false, body);
    json_decref(native);
    json_decref(body);
}

void api_h_v1_models(http_req *req, void *ctx)
{
    json_t *tags = api_tags_json(ctx);
    json_t *list = oai_models_list(tags);
    json_decref(tags);
    api_respond_json(req, 200, list);
}

void api_h_v1_model(http_req *req, void *ctx)
{
    const char *want = http_req_param(req, "model");
    json_t *tags = api_tags_json(ctx);
    json_t *models = json_object_get(tags, "models");
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        if (name && want && (!strcmp(name, want) ||
                             (!strchr(want, ':') && !strncmp(name, want, strlen(want)) &&
                              !strcmp(name + strlen(want), ":latest")))) {
            json_t *one = oai_model(m);
            json_decref(tags);
            api_respond_json(req, 200, one);
            return;
        }
    }
    json_decref(tags);
    char msg[600];
    snprintf(msg, sizeof msg, "model \"%s\" not found", want ? want : "");
    api_respond_json(req, 404, oai_error(404, msg));
}
