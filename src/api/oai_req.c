/* oai_req: OpenAI request bodies -> native request bodies (completions and
 * embeddings here, chat in oai_chat.c) as Ollama's openai.FromChatRequest /
 * FromCompleteRequest and the embeddings middleware do it, plus the typed
 * field readers. Type errors are reported like Go's JSON decoder ("json:
 * cannot unmarshal string into Go struct field
 * ChatCompletionRequest.max_tokens of type int"), everything else with
 * Ollama's own messages. Unknown fields are ignored; null means absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/oai_int.h"
#include "base/om.h"

int oai_type_err(char *err, size_t errlen, const json_t *v, const char *where,
                 const char *gotype)
{
    if (json_is_real(v) && strcmp(gotype, "int") == 0)
        return om_err(err, errlen, OM_EINVAL,
                      "json: cannot unmarshal number %g into Go struct field %s of type %s",
                      json_real_value(v), where, gotype);
    return om_err(err, errlen, OM_EINVAL,
                  "json: cannot unmarshal %s into Go struct field %s of type %s",
                  oai_json_kind(v), where, gotype);
}

int oai_get_str(const json_t *o, const char *key, const char *st, const char **out,
                char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        char where[128];
        snprintf(where, sizeof(where), "%s.%s", st, key);
        return oai_type_err(err, errlen, v, where, "string");
    }
    *out = json_string_value(v);
    return 1;
}

int oai_get_num(const json_t *o, const char *key, const char *st, bool integer,
                json_t **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (integer ? !json_is_integer(v) : !json_is_number(v)) {
        char where[128];
        snprintf(where, sizeof(where), "%s.%s", st, key);
        return oai_type_err(err, errlen, v, where, integer ? "int" : "float64");
    }
    *out = v;
    return 1;
}

int oai_get_bool(const json_t *o, const char *key, const char *st, bool *out, char *err,
                 size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        char where[128];
        snprintf(where, sizeof(where), "%s.%s", st, key);
        return oai_type_err(err, errlen, v, where, "bool");
    }
    *out = json_is_true(v);
    return 1;
}

/* options shared by chat and completions; returns 0 or OM_EINVAL */
int oai_common_options(const json_t *req, const char *st, json_t *opt, char *err,
                       size_t errlen)
{
    json_t *v;
    int rc;
    if ((rc = oai_get_num(req, "max_tokens", st, true, &v, err, errlen)) < 0)
        return rc;
    if (rc)
        json_object_set(opt, "num_predict", v);
    if ((rc = oai_get_num(req, "temperature", st, false, &v, err, errlen)) < 0)
        return rc;
    json_object_set_new(opt, "temperature", rc ? json_real(json_number_value(v)) : json_real(1.0));
    if ((rc = oai_get_num(req, "seed", st, true, &v, err, errlen)) < 0)
        return rc;
    if (rc)
        json_object_set(opt, "seed", v);
    return 0;
}

/* ---- completions ---- */

static int completion_build(const json_t *req, json_t *n, char *err, size_t errlen)
{
    static const char st[] = "CompletionRequest";
    const char *model, *prompt, *suffix;
    int rc;
    if ((rc = oai_get_str(req, "model", st, &model, err, errlen)) < 0 ||
        (rc = oai_get_str(req, "prompt", st, &prompt, err, errlen)) < 0 ||
        (rc = oai_get_str(req, "suffix", st, &suffix, err, errlen)) < 0)
        return rc;
    json_object_set_new(n, "model", json_string(model ? model : ""));
    json_object_set_new(n, "prompt", json_string(prompt ? prompt : ""));
    json_t *opt = json_object();
    json_object_set_new(n, "options", opt);
    json_t *stop = json_object_get(req, "stop");
    if (json_is_string(stop)) {
        json_object_set_new(opt, "stop", json_pack("[O]", stop));
    } else if (json_is_array(stop)) {
        json_t *s = json_array(), *e;
        size_t i;
        if (json_array_size(stop)) /* [] is Go's nil list: the model's stops stay */
            json_object_set_new(opt, "stop", s);
        else
            json_decref(s);
        json_array_foreach(stop, i, e) {
            if (!json_is_string(e))
                return om_err(err, errlen, OM_EINVAL, "invalid type for 'stop' field: %s",
                              json_is_number(e) ? "float64"
                              : json_is_boolean(e) ? "bool"
                              : json_is_object(e) ? "map[string]interface {}"
                              : json_is_array(e) ? "[]interface {}"
                                                 : "<nil>");
            json_array_append(s, e);
        }
    }
    if ((rc = oai_common_options(req, st, opt, err, errlen)) != 0)
        return rc;
    json_t *v;
    if ((rc = oai_get_num(req, "frequency_penalty", st, false, &v, err, errlen)) < 0)
        return rc;
    json_object_set_new(opt, "frequency_penalty", json_real(rc ? json_number_value(v) : 0.0));
    if ((rc = oai_get_num(req, "presence_penalty", st, false, &v, err, errlen)) < 0)
        return rc;
    json_object_set_new(opt, "presence_penalty", json_real(rc ? json_number_value(v) : 0.0));
    if ((rc = oai_get_num(req, "top_p", st, false, &v, err, errlen)) < 0)
        return rc;
    double top_p = rc ? json_number_value(v) : 0.0;
    json_object_set_new(opt, "top_p", json_real(top_p != 0.0 ? top_p : 1.0));
    bool stream = false;
    if ((rc = oai_get_bool(req, "stream", st, &stream, err, errlen)) < 0)
        return rc;
    json_object_set_new(n, "stream", json_boolean(stream));
    if (suffix && *suffix)
        json_object_set_new(n, "suffix", json_string(suffix));
    if ((rc = oai_get_num(req, "logprobs", st, true, &v, err, errlen)) < 0)
        return rc;
    if (rc && json_integer_value(v) > 0) {
        json_object_set_new(n, "logprobs", json_true());
        json_object_set(n, "top_logprobs", v);
    }
    bool dbg = false;
    if ((rc = oai_get_bool(req, "_debug_render_only", st, &dbg, err, errlen)) < 0)
        return rc;
    if (dbg)
        json_object_set_new(n, "_debug_render_only", json_true());
    return 0;
}

int oai_completion_to_native(const json_t *req, json_t **native, char *err, size_t errlen)
{
    *native = NULL;
    if (!json_is_object(req))
        return om_err(err, errlen, OM_EINVAL, "json: cannot unmarshal %s into Go value of type "
                      "openai.CompletionRequest", req ? oai_json_kind(req) : "null");
    json_t *n = json_object();
    int rc = completion_build(req, n, err, errlen);
    if (rc) {
        json_decref(n);
        return rc;
    }
    *native = n;
    return 0;
}

/* ---- embeddings ---- */

int oai_embed_to_native(const json_t *req, json_t **native,
                        char encoding_format[OAI_ENCODING_MAX], char *err, size_t errlen)
{
    static const char st[] = "EmbedRequest";
    *native = NULL;
    if (encoding_format)
        snprintf(encoding_format, OAI_ENCODING_MAX, "float");
    if (!json_is_object(req))
        return om_err(err, errlen, OM_EINVAL, "json: cannot unmarshal %s into Go value of type "
                      "openai.EmbedRequest", req ? oai_json_kind(req) : "null");
    const char *model, *fmt;
    json_t *dims;
    int rc;
    if ((rc = oai_get_str(req, "model", st, &model, err, errlen)) < 0 ||
        (rc = oai_get_str(req, "encoding_format", st, &fmt, err, errlen)) < 0 ||
        (rc = oai_get_num(req, "dimensions", st, true, &dims, err, errlen)) < 0)
        return rc;
    if (fmt && *fmt) {
        if (strcasecmp(fmt, "float") != 0 && strcasecmp(fmt, "base64") != 0)
            return om_err(err, errlen, OM_EINVAL, "Invalid value for 'encoding_format' = %s. "
                          "Supported values: ['float', 'base64'].", fmt);
        if (encoding_format)
            snprintf(encoding_format, OAI_ENCODING_MAX, "%s",
                     strcasecmp(fmt, "base64") == 0 ? "base64" : "float");
    }
    json_t *input = json_object_get(req, "input");
    if (!input || json_is_null(input) || (json_is_array(input) && json_array_size(input) == 0))
        return om_err(err, errlen, OM_EINVAL, "invalid input");
    json_t *n = json_object();
    json_object_set_new(n, "model", json_string(model ? model : ""));
    if (json_is_string(input) && json_string_length(input) == 0)
        json_object_set_new(n, "input", json_pack("[s]", ""));
    else
        json_object_set(n, "input", input);
    if (dims && json_integer_value(dims) != 0)
        json_object_set(n, "dimensions", dims);
    *native = n;
    return 0;
}
