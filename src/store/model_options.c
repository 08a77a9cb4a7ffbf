/* store: Ollama's runtime options — the type of each, and the checks and
 * conversions of api.Options.FromMap (request options, params layers) and
 * api.FormatParams (Modelfile PARAMETER text).
 *
 * Typed values: ints as JSON integers (numbers truncated as Go's int(f)),
 * floats as JSON reals (PARAMETER text is parsed as float32 and kept in its
 * shortest decimal form, so 0.7 stays 0.7), bools, and stop as an array of
 * strings. Unknown and deprecated keys of request options are dropped, as
 * Ollama logs and ignores them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "store/models_int.h"

enum opt_type { OPT_INT, OPT_FLOAT, OPT_BOOL, OPT_LIST };

static const struct {
    const char *name;
    enum opt_type type;
} OPTS[] = {
    {"num_ctx", OPT_INT},
    {"num_batch", OPT_INT},
    {"num_gpu", OPT_INT},
    {"main_gpu", OPT_INT},
    {"use_mmap", OPT_BOOL},
    {"num_thread", OPT_INT},
    {"draft_num_predict", OPT_INT},
    {"num_keep", OPT_INT},
    {"seed", OPT_INT},
    {"num_predict", OPT_INT},
    {"top_k", OPT_INT},
    {"top_p", OPT_FLOAT},
    {"min_p", OPT_FLOAT},
    {"typical_p", OPT_FLOAT},
    {"repeat_last_n", OPT_INT},
    {"temperature", OPT_FLOAT},
    {"repeat_penalty", OPT_FLOAT},
    {"presence_penalty", OPT_FLOAT},
    {"frequency_penalty", OPT_FLOAT},
    {"stop", OPT_LIST},
};

/* Dropped with a warning by the Modelfile parser (parser.go). */
static const char *const DEPRECATED[] = {
    "penalize_newline", "low_vram", "f16_kv",       "logits_all",   "vocab_only",
    "use_mlock",        "mirostat", "mirostat_tau", "mirostat_eta",
};

static int opt_find(const char *name)
{
    for (size_t i = 0; i < OM_ARRAY_LEN(OPTS); i++)
        if (strcmp(OPTS[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* A float32 value in its shortest decimal form, as a double. */
static double float32_shortest(float f)
{
    char buf[40];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, (double)f);
        if (strtof(buf, NULL) == f)
            break;
    }
    return strtod(buf, NULL);
}

static int parse_bool(const char *s, int *out)
{
    static const char *const T[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const F[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < OM_ARRAY_LEN(T); i++) {
        if (strcmp(s, T[i]) == 0)
            return *out = 1, 0;
        if (strcmp(s, F[i]) == 0)
            return *out = 0, 0;
    }
    return OM_EINVAL;
}

int store_option_from_text(const char *name, const char *text, json_t **out, bool *is_list,
                           char *err, size_t errlen)
{
    *out = NULL;
    if (is_list)
        *is_list = false;
    for (size_t i = 0; i < OM_ARRAY_LEN(DEPRECATED); i++)
        if (strcmp(DEPRECATED[i], name) == 0)
            return om_err(err, errlen, OM_EUNSUPPORTED, "parameter %s is deprecated", name);
    int k = opt_find(name);
    if (k < 0)
        return om_err(err, errlen, OM_ENOTFOUND, "unknown parameter '%s'", name);
    char *end;
    switch (OPTS[k].type) {
    case OPT_INT: {
        const char *s = text;
        if (*s == '+' || *s == '-')
            s++;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (*s < '0' || *s > '9' || *end || errno)
            return om_err(err, errlen, OM_EINVAL, "invalid int value [%s]", text);
        *out = json_integer(v);
        return 0;
    }
    case OPT_FLOAT: {
        errno = 0;
        float f = strtof(text, &end);
        if (!*text || *end || errno || !isfinite(f) || text[0] == ' ' || text[0] == '\t')
            return om_err(err, errlen, OM_EINVAL, "invalid float value [%s]", text);
        *out = json_real(float32_shortest(f));
        return 0;
    }
    case OPT_BOOL: {
        int b;
        if (parse_bool(text, &b))
            return om_err(err, errlen, OM_EINVAL, "invalid bool value [%s]", text);
        *out = json_boolean(b);
        return 0;
    }
    case OPT_LIST:
        if (is_list)
            *is_list = true;
        *out = json_string(text);
        if (!*out)
            return om_err(err, errlen, OM_EINVAL, "parameter %s: invalid UTF-8", name);
        return 0;
    }
    return OM_EINVAL;
}

static int check_one(const char *key, const json_t *v, enum opt_type t, json_t **out, char *err,
                     size_t errlen)
{
    switch (t) {
    case OPT_INT:
        if (json_is_integer(v)) {
            *out = json_integer(json_integer_value(v));
            return 0;
        }
        if (json_is_real(v)) {
            double x = json_real_value(v);
            if (!isfinite(x) || fabs(x) >= 9.2e18)
                break;
            *out = json_integer((json_int_t)x);
            return 0;
        }
        return om_err(err, errlen, OM_EINVAL, "option \"%s\" must be of type integer", key);
    case OPT_FLOAT:
        if (json_is_number(v)) {
            *out = json_real(json_number_value(v));
            return 0;
        }
        return om_err(err, errlen, OM_EINVAL, "option \"%s\" must be of type float32", key);
    case OPT_BOOL:
        if (json_is_boolean(v)) {
            *out = json_boolean(json_is_true(v));
            return 0;
        }
        return om_err(err, errlen, OM_EINVAL, "option \"%s\" must be of type boolean", key);
    case OPT_LIST: {
        if (!json_is_array(v))
            return om_err(err, errlen, OM_EINVAL, "option \"%s\" must be of type array", key);
        const json_t *e;
        size_t i;
        json_array_foreach (v, i, e)
            if (!json_is_string(e))
                return om_err(err, errlen, OM_EINVAL,
                              "option \"%s\" must be of an array of strings", key);
        *out = json_deep_copy(v);
        return 0;
    }
    }
    return om_err(err, errlen, OM_EINVAL, "option \"%s\" must be of type integer", key);
}

int store_options_check(const json_t *opts, json_t **typed_out, char *err, size_t errlen)
{
    if (typed_out)
        *typed_out = NULL;
    if (opts && !json_is_object(opts) && !json_is_null(opts))
        return om_err(err, errlen, OM_EINVAL, "options must be an object");
    json_t *res = json_object();
    const char *key;
    const json_t *v;
    json_object_foreach ((json_t *)opts, key, v) {
        int k = opt_find(key);
        if (k < 0) {
            om_log(OM_LOG_DEBUG, "store", "invalid option provided: %s", key);
            continue;
        }
        if (json_is_null(v))
            continue;
        json_t *x = NULL;
        int rc = check_one(key, v, OPTS[k].type, &x, err, errlen);
        if (rc) {
            json_decref(res);
            return rc;
        }
        json_object_set_new(res, key, x);
    }
    if (typed_out)
        *typed_out = res;
    else
        json_decref(res);
    return 0;
}
