/* prompt: the public constructors of gram.h — "json", JSON Schema text, and
 * Ollama's format field — and gram_free. Compilation is in gram_json.c
 * (JSON primitives) and gram_schema.c (schemas); gram_ir.c finishes the
 * grammar; gram_match.c runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/gram_int.h"

void gram_free(struct gram *g)
{
    if (!g)
        return;
    for (uint32_t r = 0; r < g->n_rules; r++)
        free(g->rules[r].alts);
    free(g->rules);
    free(g->elems);
    free(g->cls);
    free(g->cls_tab);
    free(g->nullable_from);
    free(g->first_from);
    free(g);
}

static int finish(struct gram *g, struct jc *c, uint32_t root, struct gram **out, char *err,
                  size_t errlen)
{
    int rc = c->rc;
    gram_jc_free(c);
    if (rc == 0) {
        g->root = root;
        rc = gram_ir_finish(g, err, errlen);
    }
    if (rc) {
        gram_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int gram_new_json(struct gram **out, char *err, size_t errlen)
{
    *out = NULL;
    struct gram *g = om_xmalloc(sizeof(*g));
    gram_ir_init(g);
    struct jc *c;
    gram_jc_init(&c, g, NULL, err, errlen);
    uint32_t root = gram_json_any_object(c);
    return finish(g, c, root, out, err, errlen);
}

int gram_new_schema(const char *schema_json, size_t len, struct gram **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (len > JC_MAX_SCHEMA)
        return om_err(err, errlen, OM_ENOMEM, "schema: larger than 1 MiB");
    json_error_t je;
    json_t *root = json_loadb(schema_json, len, 0, &je);
    if (!root)
        return om_err(err, errlen, OM_EFORMAT, "schema: invalid JSON at line %d column %d: %s",
                      je.line, je.column, je.text);
    if (!json_is_object(root) && !json_is_true(root)) {
        json_decref(root);
        return om_err(err, errlen, OM_EFORMAT, "schema: must be a JSON object");
    }
    struct gram *g = om_xmalloc(sizeof(*g));
    gram_ir_init(g);
    struct jc *c;
    gram_jc_init(&c, g, root, err, errlen);
    uint32_t r = gram_jc_compile(c, root);
    int rc = finish(g, c, r, out, err, errlen);
    json_decref(root);
    return rc;
}

int gram_new_format(const char *format_json, size_t len, struct gram **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    size_t a = 0, b = len;
    while (a < b && strchr(" \t\r\n", format_json[a]))
        a++;
    while (b > a && strchr(" \t\r\n", format_json[b - 1]))
        b--;
    const char *f = format_json + a;
    size_t n = b - a;
    if (n == 0 || (n == 4 && !memcmp(f, "null", 4)) || (n == 2 && !memcmp(f, "\"\"", 2)))
        return 0;
    if (n == 6 && !memcmp(f, "\"json\"", 6))
        return gram_new_json(out, err, errlen);
    if (f[0] == '{')
        return gram_new_schema(f, n, out, err, errlen);
    /* Go's %q of the raw text: quotes and backslashes escaped */
    char q[160];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < sizeof(q); i++) {
        unsigned char ch = (unsigned char)f[i];
        if (ch == '"' || ch == '\\') {
            q[o++] = '\\';
            q[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(q + o, sizeof(q) - o, "\\x%02x", ch);
        } else {
            q[o++] = (char)ch;
        }
    }
    q[o] = 0;
    return om_err(err, errlen, OM_EINVAL,
                  "invalid format: \"%s%s\"; expected \"json\" or a valid JSON Schema object", q,
                  o + 8 >= sizeof(q) ? "..." : "");
}
