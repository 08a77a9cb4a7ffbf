/* prompt: JSON and JSON Schema compiled into the grammar IR.
 *
 * The rules follow llama.cpp's json-schema-to-grammar (which Ollama uses):
 * every value is followed by `space` (nothing, one blank, or a newline and
 * up to 20 blanks/tabs), integers have at most 16 digits, fractions 1-16
 * digits; additionalProperties is false unless the schema says otherwise;
 * anyOf/oneOf are unions. Differences, all of which only narrow the
 * language so output still validates: properties come in declared order
 * (required ones mandatory, others optional), additionalProperties beside
 * `properties` is not generated, exponents have at most 2 digits (a number
 * must fit a double), "\u0000" and unpaired surrogate escapes are excluded
 * (jansson and many other parsers reject them).
 *
 * Literals (const, enum) are compiled from their compact JSON text through a
 * byte trie, so a large enum costs one stack, not one per value. Each schema
 * node is compiled once (memo by node), which is what makes recursive $ref
 * work; left recursion is rejected by gram_ir_finish. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/om.h"
#include "prompt/gram_int.h"

uint32_t gram_jc_fail(struct jc *c, int rc, const char *what, const char *detail)
{
    if (c->rc == 0) {
        size_t pl = strlen(c->path);
        const char *path = pl > 96 ? c->path + pl - 96 : c->path;
        c->rc = om_err(c->err, c->errlen, rc, "schema: %s%s%s (at #%s%s)", what, detail ? ": " : "",
                       detail ? detail : "", pl > 96 ? "..." : "", path);
    }
    return UINT32_MAX;
}

uint32_t gram_jc_rule(struct jc *c)
{
    uint32_t r = gram_ir_rule(c->g);
    if (r == UINT32_MAX)
        return gram_jc_fail(c, OM_ENOMEM, "too large (rule limit)", NULL);
    return r;
}

void gram_jc_alt(struct jc *c, uint32_t r, struct gram_seq *s)
{
    if (c->rc == 0 && r != UINT32_MAX && gram_ir_add_alt(c->g, r, s))
        gram_jc_fail(c, OM_ENOMEM, "too large (grammar size limit)", NULL);
    s->n = 0;
}

void gram_jc_push_rule(struct gram_seq *s, uint32_t r)
{
    gram_seq_push(s, GE_RULE | (r == UINT32_MAX ? 0 : r));
}

void gram_jc_push_cls(struct jc *c, struct gram_seq *s, uint8_t lo, uint8_t hi)
{
    gram_seq_push(s, GE_CHAR | gram_ir_range(c->g, lo, hi));
}

void gram_jc_push_set(struct jc *c, struct gram_seq *s, const char *set)
{
    struct gram_cls k = {{0}};
    for (const unsigned char *p = (const unsigned char *)set; *p; p++)
        k.w[*p >> 6] |= 1ull << (*p & 63);
    gram_seq_push(s, GE_CHAR | gram_ir_class(c->g, &k));
}

/* opt_k ::= "" | x opt_{k-1}: up to k more copies of x (JC_UNBOUNDED: x*). */
uint32_t gram_jc_rep_opt(struct jc *c, uint32_t x, uint32_t k)
{
    struct gram_seq s = {0};
    uint32_t r = UINT32_MAX;
    if (k == JC_UNBOUNDED) {
        r = gram_jc_rule(c);
        gram_jc_alt(c, r, &s);
        gram_jc_push_rule(&s, x);
        gram_jc_push_rule(&s, r);
        gram_jc_alt(c, r, &s);
    } else {
        uint32_t prev = UINT32_MAX;
        for (uint32_t i = 0; i < k && c->rc == 0; i++) {
            r = gram_jc_rule(c);
            gram_jc_alt(c, r, &s);
            gram_jc_push_rule(&s, x);
            if (prev != UINT32_MAX)
                gram_jc_push_rule(&s, prev);
            gram_jc_alt(c, r, &s);
            prev = r;
        }
    }
    gram_seq_free(&s);
    return r; /* UINT32_MAX when k == 0: nothing to add */
}

/* Appends min copies of x then up to max-min optional ones to s. */
void gram_jc_push_rep(struct jc *c, struct gram_seq *s, uint32_t x, uint32_t min, uint32_t max)
{
    for (uint32_t i = 0; i < min; i++)
        gram_jc_push_rule(s, x);
    uint32_t o = gram_jc_rep_opt(c, x, max == JC_UNBOUNDED ? JC_UNBOUNDED : max - min);
    if (o != UINT32_MAX)
        gram_jc_push_rule(s, o);
}

uint32_t gram_jc_space(struct jc *c)
{
    if (c->sp)
        return c->sp;
    struct gram_seq s = {0};
    uint32_t blank = gram_jc_rule(c);
    gram_jc_push_set(c, &s, " \t");
    gram_jc_alt(c, blank, &s);
    uint32_t ind = gram_jc_rep_opt(c, blank, 20);
    uint32_t r = c->sp = gram_jc_rule(c);
    gram_jc_alt(c, r, &s);
    gram_seq_lit(c->g, &s, " ", 1);
    gram_jc_alt(c, r, &s);
    gram_seq_lit(c->g, &s, "\n", 1);
    gram_jc_push_rule(&s, ind);
    gram_jc_alt(c, r, &s);
    gram_seq_free(&s);
    return r;
}

/* One JSON string character: printable ASCII but '"' and '\\', well-formed
 * UTF-8 (no overlongs, no surrogates), or an escape. */
uint32_t gram_jc_char(struct jc *c)
{
    if (c->ch)
        return c->ch;
    struct gram_seq s = {0};
    uint32_t r = c->ch = gram_jc_rule(c);
    struct gram_cls a = {{0}};
    for (unsigned b = 0x20; b < 0x7f; b++)
        if (b != '"' && b != '\\')
            a.w[b >> 6] |= 1ull << (b & 63);
    gram_seq_push(&s, GE_CHAR | gram_ir_class(c->g, &a));
    gram_jc_alt(c, r, &s);
    static const uint8_t u8[][4][2] = {
        {{0xC2, 0xDF}, {0x80, 0xBF}, {0, 0}, {0, 0}},
        {{0xE0, 0xE0}, {0xA0, 0xBF}, {0x80, 0xBF}, {0, 0}},
        {{0xE1, 0xEC}, {0x80, 0xBF}, {0x80, 0xBF}, {0, 0}},
        {{0xED, 0xED}, {0x80, 0x9F}, {0x80, 0xBF}, {0, 0}},
        {{0xEE, 0xEF}, {0x80, 0xBF}, {0x80, 0xBF}, {0, 0}},
        {{0xF0, 0xF0}, {0x90, 0xBF}, {0x80, 0xBF}, {0x80, 0xBF}},
        {{0xF1, 0xF3}, {0x80, 0xBF}, {0x80, 0xBF}, {0x80, 0xBF}},
        {{0xF4, 0xF4}, {0x80, 0x8F}, {0x80, 0xBF}, {0x80, 0xBF}},
    };
    for (size_t i = 0; i < OM_ARRAY_LEN(u8); i++) {
        for (int j = 0; j < 4 && u8[i][j][0]; j++)
            gram_jc_push_cls(c, &s, u8[i][j][0], u8[i][j][1]);
        gram_jc_alt(c, r, &s);
    }
    /* \u escapes: not 0000, surrogates only as a high+low pair */
    const char *hex = "0123456789abcdefABCDEF", *nz = "123456789abcdefABCDEF";
    uint32_t z3 = gram_jc_rule(c), z2 = gram_jc_rule(c), z1 = gram_jc_rule(c), u4 = gram_jc_rule(c);
    gram_jc_push_set(c, &s, nz);
    gram_jc_alt(c, z3, &s);
    gram_jc_push_set(c, &s, nz);
    gram_jc_push_set(c, &s, hex);
    gram_jc_alt(c, z2, &s);
    gram_seq_lit(c->g, &s, "0", 1);
    gram_jc_push_rule(&s, z3);
    gram_jc_alt(c, z2, &s);
    gram_jc_push_set(c, &s, nz);
    gram_jc_push_set(c, &s, hex);
    gram_jc_push_set(c, &s, hex);
    gram_jc_alt(c, z1, &s);
    gram_seq_lit(c->g, &s, "0", 1);
    gram_jc_push_rule(&s, z2);
    gram_jc_alt(c, z1, &s);
    gram_seq_lit(c->g, &s, "0", 1);
    gram_jc_push_rule(&s, z1);
    gram_jc_alt(c, u4, &s);
    gram_jc_push_set(c, &s, "123456789abceABCEfF");
    for (int i = 0; i < 3; i++)
        gram_jc_push_set(c, &s, hex);
    gram_jc_alt(c, u4, &s);
    gram_jc_push_set(c, &s, "dD");
    gram_jc_push_set(c, &s, "01234567");
    gram_jc_push_set(c, &s, hex);
    gram_jc_push_set(c, &s, hex);
    gram_jc_alt(c, u4, &s);
    gram_jc_push_set(c, &s, "dD");
    gram_jc_push_set(c, &s, "89abAB");
    gram_jc_push_set(c, &s, hex);
    gram_jc_push_set(c, &s, hex);
    gram_seq_lit(c->g, &s, "\\u", 2);
    gram_jc_push_set(c, &s, "dD");
    gram_jc_push_set(c, &s, "cdefCDEF");
    gram_jc_push_set(c, &s, hex);
    gram_jc_push_set(c, &s, hex);
    gram_jc_alt(c, u4, &s);
    gram_seq_lit(c->g, &s, "\\", 1);
    gram_jc_push_set(c, &s, "\"\\/bfnrt");
    gram_jc_alt(c, r, &s);
    gram_seq_lit(c->g, &s, "\\u", 2);
    gram_jc_push_rule(&s, u4);
    gram_jc_alt(c, r, &s);
    gram_seq_free(&s);
    return r;
}

uint32_t gram_jc_string(struct jc *c)
{
    if (c->str)
        return c->str;
    struct gram_seq s = {0};
    uint32_t r = c->str = gram_jc_rule(c);
    gram_seq_lit(c->g, &s, "\"", 1);
    gram_jc_push_rep(c, &s, gram_jc_char(c), 0, JC_UNBOUNDED);
    gram_seq_lit(c->g, &s, "\"", 1);
    gram_jc_push_rule(&s, gram_jc_space(c));
    gram_jc_alt(c, r, &s);
    gram_seq_free(&s);
    return r;
}

/* "-"? ("0" | [1-9][0-9]{0,15}), then for numbers ("." [0-9]{1,16})?
 * ([eE] [-+]? [0-9]{1,2})?, then space. */
uint32_t gram_jc_num(struct jc *c, bool integer)
{
    uint32_t *slot = integer ? &c->integer : &c->number;
    if (*slot)
        return *slot;
    struct gram_seq s = {0};
    uint32_t r = *slot = gram_jc_rule(c);
    uint32_t digit = gram_jc_rule(c), neg = gram_jc_rule(c), ip = gram_jc_rule(c);
    gram_jc_push_cls(c, &s, '0', '9');
    gram_jc_alt(c, digit, &s);
    gram_jc_alt(c, neg, &s);
    gram_seq_lit(c->g, &s, "-", 1);
    gram_jc_alt(c, neg, &s);
    gram_seq_lit(c->g, &s, "0", 1);
    gram_jc_alt(c, ip, &s);
    gram_jc_push_cls(c, &s, '1', '9');
    gram_jc_push_rep(c, &s, digit, 0, 15);
    gram_jc_alt(c, ip, &s);
    if (!integer) {
        uint32_t frac = gram_jc_rule(c), ex = gram_jc_rule(c), sign = gram_jc_rule(c);
        gram_jc_alt(c, frac, &s);
        gram_seq_lit(c->g, &s, ".", 1);
        gram_jc_push_rep(c, &s, digit, 1, 16);
        gram_jc_alt(c, frac, &s);
        gram_jc_alt(c, sign, &s);
        gram_jc_push_set(c, &s, "+-");
        gram_jc_alt(c, sign, &s);
        gram_jc_alt(c, ex, &s);
        gram_jc_push_set(c, &s, "eE");
        gram_jc_push_rule(&s, sign);
        gram_jc_push_rep(c, &s, digit, 1, 2);
        gram_jc_alt(c, ex, &s);
        gram_jc_push_rule(&s, neg);
        gram_jc_push_rule(&s, ip);
        gram_jc_push_rule(&s, frac);
        gram_jc_push_rule(&s, ex);
    } else {
        gram_jc_push_rule(&s, neg);
        gram_jc_push_rule(&s, ip);
    }
    gram_jc_push_rule(&s, gram_jc_space(c));
    gram_jc_alt(c, r, &s);
    gram_seq_free(&s);
    return r;
}

uint32_t gram_jc_lits(struct jc *c, uint32_t *slot, const char *a, const char *b)
{
    if (*slot)
        return *slot;
    struct gram_seq s = {0};
    uint32_t r = *slot = gram_jc_rule(c);
    for (const char *l = a; l; l = l == a ? b : NULL) {
        gram_seq_lit(c->g, &s, l, strlen(l));
        gram_jc_push_rule(&s, gram_jc_space(c));
        gram_jc_alt(c, r, &s);
    }
    gram_seq_free(&s);
    return r;
}

/* "[" space (x ("," space x)*)? "]" space, with item counts bounded. */
uint32_t gram_json_list(struct jc *c, uint32_t x, uint32_t min, uint32_t max, bool object)
{
    struct gram_seq s = {0};
    uint32_t sx = gram_jc_rule(c);
    gram_seq_lit(c->g, &s, ",", 1);
    gram_jc_push_rule(&s, gram_jc_space(c));
    gram_jc_push_rule(&s, x);
    gram_jc_alt(c, sx, &s);
    uint32_t body = gram_jc_rule(c);
    if (min == 0)
        gram_jc_alt(c, body, &s);
    if (max > 0) {
        gram_jc_push_rule(&s, x);
        gram_jc_push_rep(c, &s, sx, min ? min - 1 : 0, max == JC_UNBOUNDED ? max : max - 1);
        gram_jc_alt(c, body, &s);
    }
    uint32_t r = gram_jc_rule(c);
    gram_seq_lit(c->g, &s, object ? "{" : "[", 1);
    gram_jc_push_rule(&s, gram_jc_space(c));
    gram_jc_push_rule(&s, body);
    gram_seq_lit(c->g, &s, object ? "}" : "]", 1);
    gram_jc_push_rule(&s, gram_jc_space(c));
    gram_jc_alt(c, r, &s);
    gram_seq_free(&s);
    return r;
}

/* member ::= string ":" space value */
uint32_t gram_json_member(struct jc *c, uint32_t value)
{
    struct gram_seq s = {0};
    uint32_t m = gram_jc_rule(c);
    gram_jc_push_rule(&s, gram_jc_string(c));
    gram_seq_lit(c->g, &s, ":", 1);
    gram_jc_push_rule(&s, gram_jc_space(c));
    gram_jc_push_rule(&s, value);
    gram_jc_alt(c, m, &s);
    gram_seq_free(&s);
    return m;
}

uint32_t gram_json_value(struct jc *c)
{
    if (c->value)
        return c->value;
    struct gram_seq s = {0};
    uint32_t r = c->value = gram_jc_rule(c);
    c->obj = gram_json_list(c, gram_json_member(c, r), 0, JC_UNBOUNDED, true);
    c->arr = gram_json_list(c, r, 0, JC_UNBOUNDED, false);
    uint32_t alts[] = {c->obj,          c->arr,
                       gram_jc_string(c),     gram_jc_num(c, false),
                       gram_jc_lits(c, &c->boolean, "true", "false"),
                       gram_jc_lits(c, &c->null, "null", NULL)};
    for (size_t i = 0; i < OM_ARRAY_LEN(alts); i++) {
        gram_jc_push_rule(&s, alts[i]);
        gram_jc_alt(c, r, &s);
    }
    gram_seq_free(&s);
    return r;
}

uint32_t gram_json_any_object(struct jc *c)
{
    gram_json_value(c);
    return c->obj;
}

void gram_jc_init(struct jc **out, struct gram *g, json_t *root, char *err, size_t errlen)
{
    struct jc *c = om_xcalloc(1, sizeof(*c));
    c->g = g;
    c->root = root;
    c->err = err;
    c->errlen = errlen;
    /* rule 0 is a never-used placeholder so that 0 can mean "not built" */
    gram_ir_rule(g);
    *out = c;
}

void gram_jc_free(struct jc *c)
{
    if (!c)
        return;
    free(c->mkey);
    free(c->mval);
    json_decref(c->keep);
    free(c);
}
