/* store: what /api/show and /api/tags report about a model — the GGUF
 * metadata map (model_info), the generated Modelfile, the parameters text,
 * and the file-type names of the config blob.
 *
 * model_info: every GGUF key with its value as JSON (integers, reals in
 * their shortest float32 form for f32, bools, strings, nested arrays);
 * arrays longer than 5 become [] unless verbose; general.name and
 * tokenizer.chat_template are removed; general.parameter_count is set to
 * the sum of tensor elements, as Ollama's decoder patches it in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "format/gguf.h"
#include "store/models_int.h"

/* Ollama's FileType names by llama.cpp LLAMA_FTYPE value. */
static const char *const FTYPE_NAMES[] = {
    [0] = "F32",      [1] = "F16",      [2] = "Q4_0",       [3] = "Q4_1",    [7] = "Q8_0",
    [8] = "Q5_0",     [9] = "Q5_1",     [10] = "Q2_K",      [11] = "Q3_K_S", [12] = "Q3_K_M",
    [13] = "Q3_K_L",  [14] = "Q4_K_S",  [15] = "Q4_K_M",    [16] = "Q5_K_S", [17] = "Q5_K_M",
    [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS",    [21] = "Q2_K_S", [22] = "IQ3_XS",
    [23] = "IQ3_XXS", [24] = "IQ1_S",   [25] = "IQ4_NL",    [26] = "IQ3_S",  [27] = "IQ3_M",
    [28] = "IQ2_S",   [29] = "IQ2_M",   [30] = "IQ4_XS",    [31] = "IQ1_M",  [32] = "BF16",
    [36] = "TQ1_0",   [37] = "TQ2_0",   [38] = "MXFP4_MOE",
};

const char *store_file_type_name(int64_t ft)
{
    if (ft >= 0 && ft < (int64_t)OM_ARRAY_LEN(FTYPE_NAMES) && FTYPE_NAMES[ft])
        return FTYPE_NAMES[ft];
    return "unknown";
}

static json_t *scalar_json(enum gguf_vtype t, const void *p, uint64_t size)
{
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
        float f32;
        double f64;
    } v;
    memset(&v, 0, sizeof(v));
    switch (t) {
    case GGUF_VT_STRING: {
        json_t *js = json_stringn((const char *)p, size);
        return js ? js : json_string(""); /* not UTF-8: jansson refuses it */
    }
    case GGUF_VT_BOOL: memcpy(&v.u8, p, 1); return json_boolean(v.u8 != 0);
    case GGUF_VT_UINT8: memcpy(&v.u8, p, 1); return json_integer(v.u8);
    case GGUF_VT_INT8: memcpy(&v.i8, p, 1); return json_integer(v.i8);
    case GGUF_VT_UINT16: memcpy(&v.u16, p, 2); return json_integer(v.u16);
    case GGUF_VT_INT16: memcpy(&v.i16, p, 2); return json_integer(v.i16);
    case GGUF_VT_UINT32: memcpy(&v.u32, p, 4); return json_integer(v.u32);
    case GGUF_VT_INT32: memcpy(&v.i32, p, 4); return json_integer(v.i32);
    case GGUF_VT_INT64: memcpy(&v.i64, p, 8); return json_integer(v.i64);
    case GGUF_VT_UINT64:
        memcpy(&v.u64, p, 8);
        return v.u64 > (uint64_t)INT64_MAX ? json_real((double)v.u64)
                                           : json_integer((json_int_t)v.u64);
    case GGUF_VT_FLOAT32: {
        char buf[40];
        memcpy(&v.f32, p, 4);
        for (int k = 1; k <= 9; k++) { /* shortest float32 decimal */
            snprintf(buf, sizeof(buf), "%.*e", k - 1, (double)v.f32);
            if (strtof(buf, NULL) == v.f32)
                break;
        }
        return json_real(strtod(buf, NULL));
    }
    case GGUF_VT_FLOAT64: memcpy(&v.f64, p, 8); return json_real(v.f64);
    default: return json_null();
    }
}

static json_t *value_json(const gguf_value *val, bool verbose, int depth)
{
    if (val->type != GGUF_VT_ARRAY)
        return scalar_json(val->type, val->data, val->size);
    json_t *a = json_array();
    if ((!verbose && val->n > 5) || depth > 8)
        return a;
    for (uint64_t i = 0; i < val->n; i++) {
        gguf_value e;
        if (gguf_value_at(val, i, &e) != 0)
            break;
        json_array_append_new(a, value_json(&e, verbose, depth + 1));
    }
    return a;
}

struct kv_ref {
    char *key;
    int64_t i;
};

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct kv_ref *)a)->key, ((const struct kv_ref *)b)->key);
}

json_t *store_model_info(const char *gguf_path, bool verbose, char *err, size_t errlen)
{
    gguf_file *f;
    if (!gguf_path)
        return json_object();
    if (gguf_open(gguf_path, &f, err, errlen) != 0)
        return NULL;
    int64_t n = gguf_n_kv(f);
    struct kv_ref *kv = om_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*kv));
    for (int64_t i = 0; i < n; i++) {
        gguf_str k = gguf_key_name(f, i);
        kv[i].key = strndup(k.ptr, k.len);
        kv[i].i = i;
    }
    qsort(kv, (size_t)n, sizeof(*kv), kv_cmp);
    json_t *o = json_object();
    for (int64_t j = 0; j < n; j++) {
        if (strcmp(kv[j].key, "general.name") == 0 ||
            strcmp(kv[j].key, "tokenizer.chat_template") == 0)
            continue;
        gguf_value v;
        if (gguf_kv_value(f, kv[j].i, &v) != 0)
            continue;
        if (json_object_set_new(o, kv[j].key, value_json(&v, verbose, 0)) != 0)
            om_log(OM_LOG_WARN, "store", "model_info: key is not valid UTF-8, skipped");
    }
    uint64_t params = 0;
    for (int64_t t = 0; t < gguf_n_tensors(f); t++) {
        const gguf_tensor *tt = gguf_tensor_at(f, t);
        uint64_t e = 1;
        for (uint32_t d = 0; d < tt->n_dims; d++)
            e *= (uint64_t)tt->ne[d];
        params += e;
    }
    json_object_set_new(o, "general.parameter_count", json_integer((json_int_t)params));
    for (int64_t j = 0; j < n; j++)
        free(kv[j].key);
    free(kv);
    gguf_close(f);
    return o;
}

/* ---- generated Modelfile and parameters ---- */

struct sb {
    char *p;
    size_t n, cap;
};

static void sb_add(struct sb *b, const char *s)
{
    size_t n = strlen(s);
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap * 2 : 256;
        while (c < b->n + n + 1)
            c *= 2;
        b->p = om_xrealloc(b->p, c);
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n + 1);
    b->n += n;
}

/* Modelfile quoting of parser.go: "…" when the value has a newline or
 * leading/trailing space, """…""" when it also holds a '"'. */
static void sb_quoted(struct sb *b, const char *s)
{
    size_t n = strlen(s);
    if (strchr(s, '\n') || (n && (s[0] == ' ' || s[n - 1] == ' '))) {
        const char *q = strchr(s, '"') ? "\"\"\"" : "\"";
        sb_add(b, q);
        sb_add(b, s);
        sb_add(b, q);
    } else {
        sb_add(b, s);
    }
}

static int cstr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of an object in sorted order (Go prints maps in random order; we
 * pick a stable one). */
static const char **sorted_keys(const json_t *o, size_t *n)
{
    *n = json_object_size(o);
    const char **k = om_xmalloc((*n ? *n : 1) * sizeof(*k));
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)o, key, v)
        k[i++] = key;
    qsort(k, *n, sizeof(*k), cstr_cmp);
    return k;
}

char *store_show_parameters(const json_t *params)
{
    struct sb b = {0};
    sb_add(&b, "");
    if (!json_is_object(params))
        return b.p;
    size_t n;
    const char **keys = sorted_keys(params, &n);
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(params, keys[i]);
        size_t cnt = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t j = 0; j < cnt; j++) {
            const json_t *e = json_is_array(v) ? json_array_get(v, j) : v;
            char *s = store_go_value(e, true);
            char line[64];
            snprintf(line, sizeof(line), "%-30s ", keys[i]);
            if (!first)
                sb_add(&b, "\n");
            first = 0;
            sb_add(&b, line);
            sb_add(&b, s);
            free(s);
        }
    }
    free(keys);
    return b.p;
}

char *store_show_modelfile(const struct store_model *m)
{
    struct sb b = {0};
    char shortname[1200];
    store_name_display(&m->name, shortname, sizeof(shortname));
    sb_add(&b, "# Modelfile generated by \"ollama show\"\n");
    sb_add(&b, "# To build a new Modelfile based on this, replace FROM with:\n");
    sb_add(&b, "# FROM ");
    sb_add(&b, shortname);
    sb_add(&b, "\n\n");
    sb_add(&b, "FROM ");
    sb_add(&b, m->model_path ? m->model_path : "");
    sb_add(&b, "\n");
    if (m->adapter_path) {
        sb_add(&b, "ADAPTER ");
        sb_quoted(&b, m->adapter_path);
        sb_add(&b, "\n");
    }
    if (m->projector_path) {
        sb_add(&b, "FROM ");
        sb_add(&b, m->projector_path);
        sb_add(&b, "\n");
    }
    sb_add(&b, "TEMPLATE ");
    sb_quoted(&b, m->template_text ? m->template_text : "{{ .Prompt }}");
    sb_add(&b, "\n");
    if (m->system && *m->system) {
        sb_add(&b, "SYSTEM ");
        sb_quoted(&b, m->system);
        sb_add(&b, "\n");
    }
    static const char *const CFG_CMDS[][2] = {{"renderer", "RENDERER "}, {"parser", "PARSER "}};
    for (size_t i = 0; i < 2; i++) {
        const char *s = json_string_value(json_object_get(m->config, CFG_CMDS[i][0]));
        if (s && *s) {
            sb_add(&b, CFG_CMDS[i][1]);
            sb_quoted(&b, s);
            sb_add(&b, "\n");
        }
    }
    if (json_is_object(m->params)) {
        size_t n;
        const char **keys = sorted_keys(m->params, &n);
        for (size_t i = 0; i < n; i++) {
            const json_t *v = json_object_get(m->params, keys[i]);
            size_t cnt = json_is_array(v) ? json_array_size(v) : 1;
            for (size_t j = 0; j < cnt; j++) {
                char *s = store_go_value(json_is_array(v) ? json_array_get(v, j) : v, false);
                sb_add(&b, "PARAMETER ");
                sb_add(&b, keys[i]);
                sb_add(&b, " ");
                sb_quoted(&b, s);
                sb_add(&b, "\n");
                free(s);
            }
        }
        free(keys);
    }
    for (int i = 0; i < m->n_licenses; i++) {
        sb_add(&b, "LICENSE ");
        sb_quoted(&b, m->licenses[i]);
        sb_add(&b, "\n");
    }
    const json_t *msg;
    size_t i;
    json_array_foreach (m->messages, i, msg) {
        const char *role = json_string_value(json_object_get(msg, "role"));
        const char *content = json_string_value(json_object_get(msg, "content"));
        sb_add(&b, "MESSAGE ");
        sb_add(&b, role ? role : "");
        sb_add(&b, " ");
        sb_quoted(&b, content ? content : "");
        sb_add(&b, "\n");
    }
    return b.p;
}
