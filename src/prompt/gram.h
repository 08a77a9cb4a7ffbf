/* prompt: grammars for constrained sampling — `format: "json"` and JSON
 * Schemas (Ollama's structured outputs, OpenAI's response_format).
 *
 * A grammar is compiled once (immutable, may be shared between threads); a
 * gram_state follows one output byte by byte. The sampler asks whether a
 * token's bytes may come next (gram_state_accepts), commits the chosen one
 * (gram_state_advance), and allows end-of-generation only when the text so
 * far is a complete sentence (gram_state_complete). Any output that follows
 * the grammar to completion parses as JSON and validates against the schema.
 * Whitespace between tokens is bounded so that a model cannot loop on it. */
#ifndef GRAM_H
#define GRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gram;
struct gram_state;

/* Any JSON object (Ollama's "json" format). */
int gram_new_json(struct gram **out, char *err, size_t errlen);
/* A JSON Schema (object, as JSON text). Supports type (incl. arrays of
 * types), properties (generated in declared order; required ones always),
 * required, additionalProperties (false unless given, as llama.cpp does),
 * items, prefixItems, minItems/maxItems, enum, const, anyOf/oneOf (as a
 * union), allOf (merged objects), $ref to local pointers ($defs,
 * definitions, "#"), string minLength/maxLength, integer and number
 * minimum/maximum (incl. exclusive). pattern, format and the other
 * assertions are ignored (as llama.cpp does). Errors (OM_EFORMAT,
 * OM_EUNSUPPORTED, OM_ENOMEM for schemas past the size bounds) say which
 * keyword at which JSON pointer. Text larger than 1 MiB is refused. */
int gram_new_schema(const char *schema_json, size_t len, struct gram **out, char *err,
                    size_t errlen);
void gram_free(struct gram *g);
/* Ollama's request "format" field, given as its JSON text: null or "" give
 * 0 and *out NULL (no constraint), "json" gram_new_json, an object
 * gram_new_schema; anything else OM_EINVAL with Ollama's message
 * `invalid format: "..."; expected "json" or a valid JSON Schema object`. */
int gram_new_format(const char *format_json, size_t len, struct gram **out, char *err,
                    size_t errlen);

/* States: the grammar must outlive them. gram_state_accepts only reads the
 * state (any number of threads may call it at once); advance/reset need
 * the state to themselves. gram_state_new returns NULL for a NULL grammar. */
struct gram_state *gram_state_new(const struct gram *g);
void gram_state_free(struct gram_state *st);
/* True when bytes[0..len) may come next (len 0: true). */
bool gram_state_accepts(const struct gram_state *st, const char *bytes, size_t len);
/* Commits bytes; returns 0, or OM_EINVAL (state unchanged) when not accepted. */
int gram_state_advance(struct gram_state *st, const char *bytes, size_t len);
/* True when the text so far is a complete sentence (end may be sampled). */
bool gram_state_complete(const struct gram_state *st);

/* Additions (issue 3 sampler support). */
/* Back to the start of the grammar (as just after gram_state_new). */
void gram_state_reset(struct gram_state *st);
/* Independent copy of st (same grammar, which must outlive both). */
struct gram_state *gram_state_clone(const struct gram_state *st);
/* The set of bytes that may come next, as a 256-bit mask (bit b of
 * mask[b >> 6]): a token whose first byte is not in it is rejected without
 * calling gram_state_accepts. All zero when nothing may follow. */
void gram_state_next_bytes(const struct gram_state *st, uint64_t mask[4]);
/* Live parse stacks (diagnostics and tests; usually 1). */
size_t gram_state_n_stacks(const struct gram_state *st);

/* Whole-vocabulary masks for the sampler: the token pieces (bytes) go into
 * a trie once per model, so a scan matches each shared prefix once and
 * drops whole subtrees at their first rejected byte.
 * gram_vocab_new copies pieces[0..n) (lens[i] bytes each; empty pieces are
 * never allowed). Returns 0, or OM_EINVAL (n < 0, NULL piece with len > 0),
 * OM_ENOMEM (more than 64 Mi bytes in all). */
struct gram_vocab;
int gram_vocab_new(const char *const *pieces, const size_t *lens, int32_t n,
                   struct gram_vocab **out);
void gram_vocab_free(struct gram_vocab *v);
int32_t gram_vocab_n(const struct gram_vocab *v);
/* allowed[0..gram_vocab_n) = 1 where gram_state_accepts would say true for
 * the token's bytes, else 0. Returns the number allowed. Reads st only. */
int32_t gram_state_allowed(const struct gram_state *st, const struct gram_vocab *v,
                           uint8_t *allowed);

#endif
