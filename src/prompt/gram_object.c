/* prompt: JSON Schema objects for the schema compiler (gram_schema.c).
 *
 * Properties are generated in declared order: rule p[i][f] matches the
 * properties from i on, f telling that none has been written yet (so no
 * comma comes first); a required property is a single path, an optional
 * one may be skipped. Keys are the compact JSON text of the names. allOf
 * parts are merged into one property list; anyOf alternatives that sit
 * beside other assertions are merged with them (both must hold). */
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/gram_int.h"

#define JC_MAX_PROPS 4096

/* Properties in declared order; required ones mandatory. p[i][f] matches
 * properties i.. where f says none has been written yet (no comma). */
static uint32_t object_props(struct jc *c, const char **names, const json_t **schemas,
                             const bool *req, size_t n)
{
    uint32_t *p = om_xmalloc((n + 1) * 2 * sizeof(uint32_t));
    for (size_t i = 0; i < 2 * n + 2; i++)
        p[i] = gram_jc_rule(c);
    struct gram_seq s = {0};
    gram_jc_alt(c, p[2 * n], &s);
    gram_jc_alt(c, p[2 * n + 1], &s);
    for (size_t i = 0; i < n && c->rc == 0; i++) {
        if (json_is_false(schemas[i])) { /* must be absent */
            if (req[i]) {
                gram_jc_fail(c, OM_EUNSUPPORTED, "required property with a false schema", names[i]);
                break;
            }
            for (size_t f = 0; f < 2; f++) {
                gram_jc_push_rule(&s, p[2 * (i + 1) + f]);
                gram_jc_alt(c, p[2 * i + f], &s);
            }
            continue;
        }
        json_t *js = json_string(names[i]);
        char *key = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
        json_decref(js);
        if (!key) {
            gram_jc_fail(c, OM_EFORMAT, "property name is not valid UTF-8", NULL);
            break;
        }
        uint32_t kv = gram_jc_rule(c);
        gram_seq_lit(c->g, &s, key, strlen(key));
        free(key);
        gram_jc_push_rule(&s, gram_jc_space(c));
        gram_seq_lit(c->g, &s, ":", 1);
        gram_jc_push_rule(&s, gram_jc_space(c));
        gram_jc_push_rule(&s, schemas[i] ? gram_jc_compile_at(c, schemas[i], "properties", names[i], 0)
                                         : gram_json_value(c));
        gram_jc_alt(c, kv, &s);
        for (int f = 0; f < 2; f++) {
            uint32_t r = p[2 * i + (size_t)f];
            if (!f) {
                gram_seq_lit(c->g, &s, ",", 1);
                gram_jc_push_rule(&s, gram_jc_space(c));
            }
            gram_jc_push_rule(&s, kv);
            gram_jc_push_rule(&s, p[2 * (i + 1)]);
            gram_jc_alt(c, r, &s);
            if (!req[i]) {
                gram_jc_push_rule(&s, p[2 * (i + 1) + (size_t)f]);
                gram_jc_alt(c, r, &s);
            }
        }
    }
    uint32_t r = gram_jc_rule(c);
    gram_seq_lit(c->g, &s, "{", 1);
    gram_jc_push_rule(&s, gram_jc_space(c));
    gram_jc_push_rule(&s, p[1]);
    gram_seq_lit(c->g, &s, "}", 1);
    gram_jc_push_rule(&s, gram_jc_space(c));
    gram_jc_alt(c, r, &s);
    gram_seq_free(&s);
    free(p);
    return r;
}

/* Collects properties/required of node (and, for allOf, of its parts). */
struct plist {
    const char *name[JC_MAX_PROPS];
    const json_t *schema[JC_MAX_PROPS];
    bool req[JC_MAX_PROPS];
    size_t n;
};

static size_t plist_find(const struct plist *pl, const char *name)
{
    for (size_t i = 0; i < pl->n; i++)
        if (strcmp(pl->name[i], name) == 0)
            return i;
    return SIZE_MAX;
}

static void plist_add(struct jc *c, struct plist *pl, const json_t *node, bool optional_all)
{
    if (json_is_object(node) && json_is_string(json_object_get(node, "$ref")))
        node = gram_jc_resolve_ref(c, json_string_value(json_object_get(node, "$ref")));
    if (!json_is_object(node))
        return;
    const json_t *props = json_object_get(node, "properties");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)props, k, v)
    {
        size_t i = plist_find(pl, k);
        if (i == SIZE_MAX) {
            if (pl->n == JC_MAX_PROPS) {
                gram_jc_fail(c, OM_ENOMEM, "too many properties", NULL);
                return;
            }
            i = pl->n++;
            pl->name[i] = k;
            pl->req[i] = false;
        }
        pl->schema[i] = v;
    }
    const json_t *req = json_object_get(node, "required");
    size_t j;
    json_array_foreach(req, j, v)
    {
        if (!json_is_string(v) || optional_all)
            continue;
        size_t i = plist_find(pl, json_string_value(v));
        if (i == SIZE_MAX) { /* required but undeclared: any value */
            if (pl->n == JC_MAX_PROPS) {
                gram_jc_fail(c, OM_ENOMEM, "too many properties", NULL);
                return;
            }
            i = pl->n++;
            pl->name[i] = json_string_value(v);
            pl->schema[i] = NULL;
        }
        pl->req[i] = true;
    }
}

uint32_t gram_jc_object(struct jc *c, const json_t *node)
{
    const json_t *props = json_object_get(node, "properties");
    const json_t *all = json_object_get(node, "allOf");
    const json_t *ap = json_object_get(node, "additionalProperties");
    if (!props && !all && !json_object_get(node, "required")) {
        if (json_is_false(ap))
            return gram_json_list(c, 0, 0, 0, true);
        if (json_is_object(ap))
            return gram_json_list(c, gram_json_member(c, gram_jc_compile_at(c, ap, "additionalProperties", NULL, 0)), 0, JC_UNBOUNDED, true);
        return gram_json_any_object(c);
    }
    struct plist *pl = om_xcalloc(1, sizeof(*pl));
    plist_add(c, pl, node, false);
    size_t i;
    const json_t *part;
    json_array_foreach(all, i, part)
    {
        const json_t *any = json_object_get(part, "anyOf");
        if (json_is_array(any)) {
            size_t j;
            const json_t *alt;
            json_array_foreach(any, j, alt) plist_add(c, pl, alt, true);
        } else {
            plist_add(c, pl, part, false);
        }
    }
    uint32_t r = c->rc ? UINT32_MAX : object_props(c, pl->name, pl->schema, pl->req, pl->n);
    free(pl);
    return r;
}

/* anyOf/oneOf beside other assertions ({"type":"object","properties":..,
 * "anyOf":[{"required":["a"]},..]}): both apply, so each alternative is
 * compiled merged with the rest of the node (properties joined, required
 * united, the alternative's other keywords winning). Without other
 * assertions the alternative itself. The merged nodes live until the end
 * of compilation (c->keep). */
const json_t *gram_jc_merge_alt(struct jc *c, const json_t *node, const json_t *alt)
{
    static const char *const notes[] = {"anyOf", "oneOf", "title", "description", "default",
                                        "examples", "$comment", "$schema", "$id", "$defs",
                                        "definitions"};
    const char *k;
    json_t *v;
    bool other = false;
    json_object_foreach((json_t *)node, k, v)
    {
        bool note = false;
        for (size_t i = 0; i < OM_ARRAY_LEN(notes); i++)
            note |= !strcmp(k, notes[i]);
        other |= !note;
    }
    if (!other || !json_is_object(alt))
        return alt;
    const json_t *ref = json_object_get(alt, "$ref");
    if (json_is_string(ref) && json_object_size(alt) == 1) {
        alt = gram_jc_resolve_ref(c, json_string_value(ref));
        if (!json_is_object(alt))
            return alt;
    }
    json_t *m = json_object();
    json_object_foreach((json_t *)node, k, v) if (strcmp(k, "anyOf") && strcmp(k, "oneOf"))
        json_object_set(m, k, v);
    json_object_foreach((json_t *)alt, k, v)
    {
        json_t *mine = json_object_get(m, k);
        if (!strcmp(k, "properties") && json_is_object(mine) && json_is_object(v)) {
            json_t *p = json_copy(mine);
            json_object_update(p, v);
            json_object_set_new(m, k, p);
        } else if (!strcmp(k, "required") && json_is_array(mine) && json_is_array(v)) {
            json_t *q = json_copy(mine);
            json_array_extend(q, v);
            json_object_set_new(m, k, q);
        } else {
            json_object_set(m, k, v);
        }
    }
    if (!c->keep)
        c->keep = json_array();
    json_array_append_new(c->keep, m);
    return m;
}
