/* prompt: a Go text/template interpreter — the subset (in practice all) of
 * Go's template language that Ollama's model TEMPLATEs use, with Ollama's
 * extra functions (json, currentDate, yesterdayDate, toTypeScriptType).
 *
 * A template is parsed once into an immutable AST (may be shared between
 * threads) and executed against a jansson value whose objects are keyed by
 * Go field names (.Messages, .Role, .Function.Arguments ...). Missing fields
 * render as the zero value (""), like Ollama's templates see them.
 *
 * Execution is bounded: output size, loop iterations, nesting depth and
 * total work have fixed limits, so a hostile template fails with an error
 * instead of hanging or exhausting memory. */
#ifndef TMPL_H
#define TMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct tmpl;

/* Bounds applied by tmpl_exec (exceeding one is an OM_ERANGE error). */
#define TMPL_MAX_OUTPUT (16u << 20)   /* bytes of rendered text */
#define TMPL_MAX_STEPS 10000000u      /* nodes executed + loop iterations */
#define TMPL_MAX_DEPTH 200            /* nesting of actions / pipelines */
#define TMPL_MAX_SRC (4u << 20)       /* template source bytes */

/* Parses src[0..len) (need not be NUL-terminated). On success *out receives
 * a template the caller owns (free with tmpl_free) and 0 is returned; on
 * failure returns OM_EFORMAT (or OM_ENOMEM for oversized input), *out is
 * NULL and err holds a message with the position, Go style:
 * "template: :LINE:COL: unexpected ...". */
int tmpl_parse(const char *src, size_t len, struct tmpl **out, char *err, size_t errlen);
void tmpl_free(struct tmpl *t);

/* Executes t against data (borrowed; may be NULL = empty object). On success
 * *out receives a NUL-terminated malloc'd string (caller frees) of *out_len
 * bytes and 0 is returned. On failure (a Go execution error such as
 * "error calling eq: incompatible types for comparison", an index out of
 * range, or a bound exceeded) returns a negative OM_E* code, *out is NULL
 * and err names the position. out_len may be NULL. */
int tmpl_exec(const struct tmpl *t, const json_t *data, char **out, size_t *out_len, char *err,
              size_t errlen);

/* True when the template references the top-level field `field` (given
 * with or without the leading '.', e.g. "Messages" or ".Tools") anywhere:
 * as .Field, $.Field, or as the first field of a chain. Walks the AST,
 * including nested templates and else branches. */
bool tmpl_uses(const struct tmpl *t, const char *field);

/* Ollama's tool-call prefix: the first text node inside
 * `{{ if .ToolCalls }}` (any depth) that is not whitespace only, trimmed,
 * and cut before its first '{' (prefix "" when the text starts with '{').
 * Returns 0 and a malloc'd *prefix (caller frees), or OM_ENOTFOUND when the
 * template has no such text (*prefix NULL; callers then use "{" raw JSON). */
int tmpl_tool_prefix(const struct tmpl *t, char **prefix);

/* Thinking tags: the text immediately before and after `.Thinking` inside
 * the range over .Messages (trimmed to the last / first tag-like token,
 * e.g. "<think>" and "</think>"). Returns 0 with malloc'd *open and *close
 * (caller frees), or OM_ENOTFOUND (both NULL) when the template has none. */
int tmpl_think_tags(const struct tmpl *t, char **open, char **close);

#endif
