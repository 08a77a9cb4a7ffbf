/* oai: helpers shared by the translator files (oai_chat.c, oai_req.c:
 * requests; oai_conv.c: answers; oai_util.c: these helpers, errors, models). */
#ifndef OAI_INT_H
#define OAI_INT_H

#include <stdint.h>

#include "api/oai.h"

/* Go's name for the JSON kind of v in decoder errors ("string", "number",
 * "object", "array", "bool"). */
const char *oai_json_kind(const json_t *v);
/* Standard base64 (with padding). Encode: malloc'd NUL-terminated text.
 * Decode: strict (Go's StdEncoding: padding required, no whitespace);
 * returns 0 and the decoded length, or -1. out may be NULL to only check. */
char *oai_b64_encode(const unsigned char *data, size_t len);
int oai_b64_check(const char *text, size_t *out_len);
/* RFC 3339 timestamp ("2024-05-01T10:00:00.123456789+02:00") to Unix
 * seconds; returns false when it cannot be read. */
bool oai_parse_time(const char *s, int64_t *unix_s);
/* The namespace of a model name as Ollama parses it ("library" default). */
void oai_name_namespace(const char *name, char *out, size_t n);
/* A random id suffix in [0, 999). */
int oai_rand_id(void);

/* oai_req.c: fields read with Go's typing rules. Each returns 1 = present,
 * 0 = absent or null, or OM_EINVAL with a Go-decoder-like message in err
 * naming st.key ("ChatCompletionRequest.max_tokens"). */
int oai_type_err(char *err, size_t errlen, const json_t *v, const char *where,
                 const char *gotype);
int oai_get_str(const json_t *o, const char *key, const char *st, const char **out, char *err,
                size_t errlen);
int oai_get_num(const json_t *o, const char *key, const char *st, bool integer, json_t **out,
                char *err, size_t errlen);
int oai_get_bool(const json_t *o, const char *key, const char *st, bool *out, char *err,
                 size_t errlen);
/* max_tokens -> num_predict, temperature (default 1.0), seed into opt. */
int oai_common_options(const json_t *req, const char *st, json_t *opt, char *err,
                       size_t errlen);

/* oai_chat.c: a data: URI image (jpeg/jpg/png/webp or "data:;base64,")
 * -> its base64 text as a new JSON string; http(s) URLs and anything else
 * give OM_EINVAL with Ollama's message. */
int oai_image_from_url(const char *url, json_t **b64, char *err, size_t errlen);
/* OpenAI reasoning effort -> native think (NULL for none given). */
int oai_think_from_effort(const char *effort, json_t **think, char *err, size_t errlen);

/* oai_conv.c: native tool calls -> OpenAI ones ({id, index, type,
 * function{name, arguments as a JSON string}}), a new array. */
json_t *oai_tool_calls_from_native(const json_t *native);

#endif
