/* oai: the OpenAI-compatibility translator, as pure functions on jansson
 * values (no HTTP): /v1 request bodies become native /api bodies, and native
 * answers (NDJSON chunks or one stream:false object) become OpenAI objects or
 * SSE events. This is what Ollama's middleware/openai.go + openai/openai.go
 * do in front of the native handlers; field names, defaults, ids, error texts
 * and chunk sequences follow them (see /work/shared/reference/ollama-api.md
 * §3.1-3.5, §4.6).
 *
 * Typical use for POST /v1/chat/completions:
 *   json_t *native; char err[256];
 *   if (oai_chat_to_native(body, &native, err, sizeof err))
 *       -> 400 with oai_error(400, err)
 *   struct oai_conv *c = oai_conv_new(OAI_CHAT, body);
 *   run the native chat with `native`; for each native chunk:
 *       oai_conv_chunk(c, chunk, &events) and send each event as
 *       oai_sse_format(event) when oai_conv_stream(c);
 *   at the end: oai_conv_finish(c, &events), send them, then OAI_SSE_DONE;
 *   or, not streaming: oai_conv_response(c, &resp) and send resp as JSON.
 *   A native error (status != 200, or an {"error":...} line) is sent as
 *   oai_error(status, message) (as an SSE data event once streaming began).
 *
 * Ownership: every json_t * returned is a new reference the caller must
 * json_decref; inputs are borrowed and never modified. */
#ifndef OAI_H
#define OAI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum oai_kind { OAI_CHAT, OAI_COMPLETION, OAI_EMBED };

#define OAI_SSE_DONE "data: [DONE]\n\n"
#define OAI_ENCODING_MAX 16

/* ---- requests: OpenAI body -> native body ---- */

/* /v1/chat/completions -> /api/chat. On success returns 0 and gives
 * *native (model, messages, options{temperature, top_p defaults 1.0,
 * num_predict, seed, stop, penalties}, stream, format, tools, think,
 * logprobs, top_logprobs). tool_choice (ignored by Ollama) narrows the
 * tools: "none" sends none, a named function sends only that one. On a bad request returns OM_EINVAL with Ollama's
 * message in err (e.g. "[] is too short - 'messages'", "invalid tool call
 * arguments", "image URLs are not currently supported, please use base64
 * encoded data instead", Go-decoder-like type errors); *native is NULL. */
int oai_chat_to_native(const json_t *req, json_t **native, char *err, size_t errlen);

/* /v1/completions -> /api/generate (prompt must be a string; stop elements
 * must be strings; logprobs n > 0 -> logprobs + top_logprobs n). */
int oai_completion_to_native(const json_t *req, json_t **native, char *err, size_t errlen);

/* /v1/embeddings -> /api/embed ({model, input, dimensions?}). encoding_format
 * (may be NULL) receives "float" or "base64" (lower case). Errors: "invalid
 * input" (missing, null or []), "Invalid value for 'encoding_format' = X.
 * Supported values: ['float', 'base64']." */
int oai_embed_to_native(const json_t *req, json_t **native,
                        char encoding_format[OAI_ENCODING_MAX], char *err, size_t errlen);

/* ---- answers: native -> OpenAI ---- */

struct oai_conv;

/* A converter for one request; oai_req is the original /v1 body (stream,
 * stream_options.include_usage, model and encoding_format are read from it;
 * NULL is treated as {}). Picks the id ("chatcmpl-<n>" / "cmpl-<n>"). */
struct oai_conv *oai_conv_new(enum oai_kind kind, const json_t *oai_req);
void oai_conv_free(struct oai_conv *c);
/* Whether the client asked for SSE (the OpenAI default is false). */
bool oai_conv_stream(const struct oai_conv *c);
const char *oai_conv_id(const struct oai_conv *c);

/* Feeds one native chunk (a /api/chat or /api/generate NDJSON object, or the
 * whole stream:false object; for OAI_EMBED the /api/embed response). Gives
 * *out_events, a new array of the SSE data objects to send now, in order
 * (possibly empty): the first chat delta carries role "assistant"; a chunk
 * with both thinking and content/tool calls is split in two; the native
 * metrics-only trailer gives nothing; for completions the done chunk gives
 * the chunk with finish_reason. The chunk is also accumulated for
 * oai_conv_response. Returns 0, or OM_EINVAL (not an object, or a native
 * {"error": ...} line, which the caller must turn into oai_error) with
 * *out_events NULL. */
int oai_conv_chunk(struct oai_conv *c, const json_t *native_chunk, json_t **out_events);

/* The closing events after the last chunk: for chat the finish chunk (empty
 * delta, finish_reason "stop"/"length"/"tool_calls"), then with
 * include_usage a chunk with "choices":[] and "usage"; for completions only
 * that usage chunk. The caller then sends OAI_SSE_DONE. */
int oai_conv_finish(struct oai_conv *c, json_t **out_events);

/* The whole non-streamed answer built from every chunk fed: a
 * "chat.completion", a "text_completion", or (OAI_EMBED) the embedding list. */
int oai_conv_response(struct oai_conv *c, json_t **resp);

/* "data: <compact json>\n\n", malloc'd (free()); *len gets its length. */
char *oai_sse_format(const json_t *event, size_t *len);

/* /api/embed response -> {"object":"list","data":[{"object":"embedding",
 * "embedding":[...] or base64 of little-endian float32,"index":i}],"model",
 * "usage":{"prompt_tokens","total_tokens"}}. encoding_format NULL = float. */
json_t *oai_embed_response(const json_t *native_embed_resp, const char *encoding_format,
                           const char *model);

/* {"error":{"message","type","param":null,"code":null}}; type is
 * "invalid_request_error" for 400, "not_found_error" for 404, else
 * "api_error". */
json_t *oai_error(int status, const char *message);
/* The same from a native error body ({"error":"msg"}, or raw text). */
json_t *oai_error_from_native(int status, const char *body, size_t len);

/* /api/tags response -> {"object":"list","data":[model...]} ([] when none). */
json_t *oai_models_list(const json_t *native_tags_resp);
/* One /api/tags entry -> {"id","object":"model","created","owned_by"}. */
json_t *oai_model(const json_t *native_tags_model_entry);
/* GET /v1/models/:model as Ollama answers it: from the /api/show response
 * (its modified_at) and the name as given in the path. */
json_t *oai_model_from_show(const json_t *native_show_resp, const char *model);

/* ---- /v1/responses (the stateless Responses API) ---- */

/* /v1/responses body -> /api/chat body: instructions as a system message,
 * input as a string or items (message with input_text/output_text/
 * input_image parts, function_call, function_call_output, reasoning),
 * temperature (default 1.0), top_p, max_output_tokens -> num_predict,
 * reasoning.effort -> think, function and namespace tools, text.format
 * json_schema -> format, stream (default false). The built-in web_search
 * tool needs ollama.com and is left out; input_file parts are refused
 * ("file inputs are not currently supported"), as Ollama does. */
int oai_responses_to_native(const json_t *req, json_t **native, char *err, size_t errlen);

struct oai_resp;
/* A converter for one /v1/responses request (ids "resp_<n>", "msg_<n>"). */
struct oai_resp *oai_resp_new(const json_t *oai_req);
void oai_resp_free(struct oai_resp *r);
bool oai_resp_stream(const struct oai_resp *r);
/* Feeds one native /api/chat chunk (or the stream:false object). Gives
 * *out_events, a new array of {"event": name, "data": object} in order
 * (response.created, response.in_progress, output_item.added,
 * reasoning_summary_text.delta, output_text.delta, function_call_arguments
 * .delta/.done, ..., response.completed on the done chunk); send each with
 * oai_sse_format_event. Empty when not streaming. OM_EINVAL for a non-object
 * or a native {"error": ...} line. */
int oai_resp_chunk(struct oai_resp *r, const json_t *native_chunk, json_t **out_events);
/* The whole "response" object (stream:false) from every chunk fed. */
int oai_resp_response(struct oai_resp *r, json_t **resp);
/* "event: <name>\ndata: <compact json>\n\n", malloc'd; *len its length. */
char *oai_sse_format_event(const char *name, const json_t *data, size_t *len);

#endif
