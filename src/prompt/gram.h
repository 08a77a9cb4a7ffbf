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
 * types), properties, required, additionalProperties, items, prefixItems,
 * minItems/maxItems, enum, const, anyOf/oneOf/allOf (simple), $ref to
 * $defs/definitions, string minLength/maxLength/pattern-free formats,
 * number/integer. Unsupported keywords are ignored where that only widens
 * the language; err names any that cannot be honoured. */
int gram_new_schema(const char *schema_json, size_t len, struct gram **out, char *err,
                    size_t errlen);
void gram_free(struct gram *g);

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

#endif
