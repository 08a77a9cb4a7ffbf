/* prompt: a Go text/template interpreter — the subset (in practice all) of
 * Go's template language that Ollama's model TEMPLATEs use, with Ollama's
 * extra functions (json, currentDate, yesterdayDate, toTypeScriptType).
 *
 * A template is parsed once into an immutable AST (may be shared between
 * threads) and executed against a jansson value whose objects are keyed by
 * Go field names (.Messages, .Role, .Function.Arguments ...); see the data
 * conventions at the end of this header. prompt.c builds that data exactly
 * as Ollama does, so templates see what they see under Ollama.
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
#define TMPL_MAX_STEPS 10000000u      /* nodes, iterations, keys of maps ranged */
#define TMPL_MAX_DEPTH 200            /* nesting of actions / pipelines */
#define TMPL_MAX_SRC (4u << 20)       /* template source bytes */

/* Parses src[0..len) (need not be NUL-terminated). On success *out receives
 * a template the caller owns (free with tmpl_free) and 0 is returned; on
 * failure returns OM_EFORMAT (or OM_ENOMEM for oversized input), *out is
 * NULL and err holds a message with the position, Go style plus a column:
 * "template: :LINE:COL: function \"foo\" not defined" (COL is the 0-based
 * byte offset in the line, as Go's execution errors count it). */
int tmpl_parse(const char *src, size_t len, struct tmpl **out, char *err, size_t errlen);
void tmpl_free(struct tmpl *t);

/* Executes t against data (borrowed; may be NULL = empty object). On success
 * *out receives a NUL-terminated malloc'd string (caller frees) of *out_len
 * bytes and 0 is returned. On failure (a Go execution error such as
 * "error calling eq: incompatible types for comparison", an index out of
 * range, or a bound exceeded) returns a negative OM_E* code, *out is NULL
 * and err names the position, Go style:
 * "template: :1:2: executing \"\" at <eq 1 \"a\">: error calling eq: ...".
 * out_len may be NULL. Bounds exceeded give OM_ERANGE. */
int tmpl_exec(const struct tmpl *t, const json_t *data, char **out, size_t *out_len, char *err,
              size_t errlen);

/* Ollama's Template.Vars test: true when `field` (given with or without
 * the leading '.', compared case-insensitively, e.g. "Messages" or
 * ".tools") is one of the identifiers of any field or variable node
 * (.Messages, $.Messages, .Foo.Messages) reachable through lists,
 * branches, actions, pipelines and command arguments, in the main
 * template or a {{define}}d one. */
bool tmpl_uses(const struct tmpl *t, const char *field);

/* The check Ollama's template.Parse adds to Go's (its Vars walk): a
 * `{{ template "name" }}` call without a pipeline is rejected with
 * "undefined template specified". Returns 0 or OM_EFORMAT. */
int tmpl_check_ollama(const struct tmpl *t, char *err, size_t errlen);

/* Ollama's tool-call prefix (tools/template.go parseTag): the first text
 * node inside the first `{{ if ... .ToolCalls ... }}` that is not blank
 * (searching nested if/range/with bodies, stopping at the first action or
 * control structure), with \r\n -> \n, cut before its first '{' and
 * trimmed; "{" when that leaves nothing. *prefix is always set to a
 * malloc'd string (caller frees). Returns 0, or OM_ENOTFOUND when the
 * template has no such text and *prefix is the "{" fallback (raw JSON). */
int tmpl_tool_prefix(const struct tmpl *t, char **prefix);

/* Thinking tags (thinking/template.go InferTags): for `.Thinking` under a
 * range over .Messages, the first and last text nodes (trimmed) of the
 * nearest enclosing list, e.g. "<think>" and "</think>". *open and *close
 * are always set to malloc'd strings (caller frees; "" when not found).
 * Returns 0 when both are non-empty, else OM_ENOTFOUND. */
int tmpl_think_tags(const struct tmpl *t, char **open, char **close);

/* Ollama's template edits, each returning a new template (caller frees
 * with tmpl_free):
 * tmpl_with_response: t with `{{ .Response }}` appended (what Ollama's
 *   template.Parse does when the template uses neither .Messages nor
 *   .Response).
 * tmpl_cut_response: t with every node after the first `.Response` field
 *   removed (the last turn of the legacy System/Prompt/Response path). As
 *   in Ollama, which runs that tree as a new template without
 *   missingkey=zero, a missing map key there is Go's invalid value (so
 *   `.Missing.Field` is quietly empty instead of an error). Unlike Ollama,
 *   whose new template also lacks the json/currentDate/... functions (an
 *   execution error), those functions still work. */
struct tmpl *tmpl_with_response(const struct tmpl *t);
struct tmpl *tmpl_cut_response(const struct tmpl *t);

/* Data conventions for tmpl_exec: objects are Go maps (field access by
 * key; a missing key is nil, printed "<no value>" like Go's
 * map[string]any), unless they carry the key TMPL_GO_TYPE_KEY whose
 * string value names an Ollama struct type ("Tool", "ToolFunction",
 * "ToolParams", "ToolProperty", "Message", "ToolCall",
 * "ToolCallFunction"): then a missing field is an execution error, `json`
 * uses the struct's json tags (with omitempty), and "Tool" prints as JSON.
 * Arrays/objects reached through a field named Tools, Arguments or
 * Properties print as JSON (Ollama's String methods). JSON integers are Go
 * ints and reals float64 (eq 1 1.0 is an error, as in Go). */
#define TMPL_GO_TYPE_KEY "\x01T"
/* An object key TMPL_NIL_SLICE_KEY "Name" set to true marks its field Name
 * (an empty array) as a Go nil slice of a Stringer type: printed and
 * marshalled as "null" (Ollama's .Tools when a chat request has none). */
#define TMPL_NIL_SLICE_KEY "\x01nil:"

#endif
