/* prompt: private layout of compiled grammars (gram_ir.c builds them,
 * gram_json.c compiles JSON / JSON Schema into them, gram_match.c runs them).
 *
 * The IR is a context-free grammar over bytes. Rules hold alternatives; an
 * alternative is a run of elements in `elems` ended by GE_END. An element is
 * either a byte class (256-bit set) or a reference to a rule. After
 * gram_ir_finish every element position p knows whether the rest of its
 * alternative from p can match the empty string (nullable_from) and which
 * bytes can start it (first_from, an index into the class table). Rules are
 * checked to be free of left recursion, so expanding the leftmost rule
 * reference always terminates. */
#ifndef GRAM_INT_H
#define GRAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prompt/gram.h"

/* element encoding: kind in the top 2 bits */
#define GE_END 0u
#define GE_CHAR (1u << 30) /* low bits: class index */
#define GE_RULE (2u << 30) /* low bits: rule index */
#define GE_KIND(e) ((e) & (3u << 30))
#define GE_ARG(e) ((e) & ((1u << 30) - 1))

/* bounds against hostile schemas */
#define GRAM_MAX_ELEMS (1u << 21)   /* elements in one grammar */
#define GRAM_MAX_RULES (1u << 18)
#define GRAM_MAX_CLASSES (1u << 16)
#define GRAM_MAX_DEPTH 2048         /* stack frames while matching */
#define GRAM_MAX_STACKS 4096        /* live stacks in one state */

struct gram_cls {
    uint64_t w[4];
};

static inline bool gram_cls_has(const struct gram_cls *c, uint8_t b)
{
    return (c->w[b >> 6] >> (b & 63)) & 1u;
}

struct gram_rule {
    uint32_t *alts;  /* element index where each alternative starts */
    uint32_t n_alts, cap_alts;
    bool nullable;
    uint32_t first;  /* class index of FIRST(rule) */
};

struct gram {
    uint32_t *elems;
    uint32_t n_elems, cap_elems;
    struct gram_rule *rules;
    uint32_t n_rules, cap_rules;
    struct gram_cls *cls;
    uint32_t n_cls, cap_cls;
    uint32_t *cls_tab;      /* interning hash table while building */
    uint32_t byte_cls[256]; /* class index of each single-byte class, or UINT32_MAX */
    /* filled by gram_ir_finish: */
    uint8_t *nullable_from;  /* per element position */
    uint32_t *first_from;    /* per element position: class index */
    uint32_t root;           /* rule index (set by the compiler) */
    uint32_t start_pos;      /* element position of [root] */
    bool finished;
};

/* Vocabulary trie (gram_vocab.c): node 0 is the root; tokens whose bytes
 * end at a node are listed from nodes[k].tok through tok_next. */
struct gram_vnode {
    uint32_t child, sib; /* 0 = none */
    int32_t tok;         /* first token ending here, -1 = none */
    uint8_t b;
};

struct gram_vocab {
    struct gram_vnode *nodes;
    uint32_t n_nodes, cap_nodes;
    int32_t *tok_next;
    int32_t n_tok;
};

/* A sequence under construction (elements of one alternative). */
struct gram_seq {
    uint32_t *v;
    uint32_t n, cap;
};

void gram_ir_init(struct gram *g);
/* Interns a byte class and returns its index, or UINT32_MAX when the class
 * table is full. */
uint32_t gram_ir_class(struct gram *g, const struct gram_cls *c);
uint32_t gram_ir_byte(struct gram *g, uint8_t b);
uint32_t gram_ir_range(struct gram *g, uint8_t lo, uint8_t hi);
/* New rule with no alternatives yet; UINT32_MAX when over GRAM_MAX_RULES. */
uint32_t gram_ir_rule(struct gram *g);
/* Appends an alternative to rule r (copies s). Returns 0 or OM_ENOMEM over
 * the element bound. */
int gram_ir_add_alt(struct gram *g, uint32_t r, const struct gram_seq *s);
/* Computes nullable/FIRST, rejects left recursion. Returns 0 or OM_EFORMAT. */
int gram_ir_finish(struct gram *g, char *err, size_t errlen);

void gram_seq_push(struct gram_seq *s, uint32_t e);
void gram_seq_lit(struct gram *g, struct gram_seq *s, const char *lit, size_t n);
void gram_seq_free(struct gram_seq *s);


/* --- JSON compiler state, shared by gram_json.c (JSON primitives) and
 * gram_schema.c (JSON Schema) */
#include <jansson.h>

#define JC_MAX_SCHEMA (1u << 20)   /* schema text bytes */
#define JC_MAX_NEST 128            /* schema nesting while compiling */
#define JC_MAX_COUNT 100000        /* minItems/maxItems/minLength/maxLength */
#define JC_MAX_LIT_BYTES (1u << 20) /* enum/const text in one schema */
#define JC_UNBOUNDED UINT32_MAX

struct jc {
    struct gram *g;
    json_t *root;
    char *err;
    size_t errlen;
    int rc;
    unsigned nest;
    size_t lit_bytes;
    char path[512]; /* JSON pointer of the node being compiled, for errors */
    json_t *keep;   /* schema nodes made while compiling (merged anyOf parts) */
    /* primitives, created on first use (0 = not yet; rule 0 is never one) */
    uint32_t sp, ch, chs, str, integer, number, boolean, null, value, obj, arr;
    /* memo: schema node -> rule */
    const json_t **mkey;
    uint32_t *mval;
    size_t mcap, mn;
};


/* Records the first error (later ones are dropped) and returns UINT32_MAX. */
uint32_t gram_jc_fail(struct jc *c, int rc, const char *what, const char *detail);
uint32_t gram_jc_rule(struct jc *c);
/* Adds s as an alternative of r and empties s. */
void gram_jc_alt(struct jc *c, uint32_t r, struct gram_seq *s);
void gram_jc_push_rule(struct gram_seq *s, uint32_t r);
void gram_jc_push_cls(struct jc *c, struct gram_seq *s, uint8_t lo, uint8_t hi);
void gram_jc_push_set(struct jc *c, struct gram_seq *s, const char *set);
uint32_t gram_jc_rep_opt(struct jc *c, uint32_t x, uint32_t k);
void gram_jc_push_rep(struct jc *c, struct gram_seq *s, uint32_t x, uint32_t min, uint32_t max);
uint32_t gram_jc_space(struct jc *c);
uint32_t gram_jc_char(struct jc *c);
uint32_t gram_jc_string(struct jc *c);
uint32_t gram_jc_num(struct jc *c, bool integer);
uint32_t gram_jc_lits(struct jc *c, uint32_t *slot, const char *a, const char *b);
uint32_t gram_json_list(struct jc *c, uint32_t x, uint32_t min, uint32_t max, bool object);
uint32_t gram_json_member(struct jc *c, uint32_t value);
uint32_t gram_json_value(struct jc *c);
uint32_t gram_json_any_object(struct jc *c);
/* const (is_enum false: vals is the value) or enum (an array of values). */
uint32_t gram_jc_literals(struct jc *c, const json_t *vals, bool is_enum);
/* Integers in [lo, hi] (each within +-GRAM_INT_MAX), followed by space. */
#define GRAM_INT_MAX 9999999999999999LL /* 16 digits, as the integer rule */
uint32_t gram_jc_int_range(struct jc *c, long long lo, long long hi);
/* Numbers within [lo, hi] (exclusive flags; +-INFINITY when unbounded). */
uint32_t gram_jc_num_range(struct jc *c, double lo, bool lo_excl, double hi, bool hi_excl);
/* Rule for a schema node (memoised; recursion through $ref allowed). */
uint32_t gram_jc_compile(struct jc *c, const json_t *node);
/* compile with "/key[/name or /index]" appended to the error path */
uint32_t gram_jc_compile_at(struct jc *c, const json_t *node, const char *key, const char *name,
                            size_t index);
/* Local JSON pointer ("#", "#/$defs/x"...); NULL (error recorded) if none. */
const json_t *gram_jc_resolve_ref(struct jc *c, const char *ref);
/* "type":"object" (gram_object.c). */
uint32_t gram_jc_object(struct jc *c, const json_t *node);
/* alt, or alt merged with node's other assertions (kept in c->keep). */
const json_t *gram_jc_merge_alt(struct jc *c, const json_t *node, const json_t *alt);
void gram_jc_init(struct jc **out, struct gram *g, json_t *root, char *err, size_t errlen);
void gram_jc_free(struct jc *c);

#endif
