/* prompt: a Jinja2 renderer for GGUF `tokenizer.chat_template`s — the
 * fallback when a model carries no Go TEMPLATE.
 *
 * The dialect is the subset that real chat templates use (Llama 2/3.x,
 * Qwen2.5/3, Gemma 2/3, Phi-3/4, Mistral, DeepSeek-R1, ChatML…):
 * {{ }}, {% %}, {# #}, `-` whitespace control, with trim_blocks and
 * lstrip_blocks on (as Hugging Face's apply_chat_template sets them); set
 * (namespace(), attribute set, block set), if/elif/else, for (loop.*, else,
 * filters, unpacking), macro/call, the common filters and tests, string,
 * dict and list methods, raise_exception(), strftime_now(), range().
 *
 * A parsed template is immutable and may be rendered from several threads at
 * once. Rendering is bounded (output size, loop iterations, call depth), so
 * a hostile template ends with an error instead of hanging or exhausting
 * memory. Data comes in as jansson values and is only borrowed. */
#ifndef JINJA_H
#define JINJA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct jinja;

/* Limits applied to every render. */
#define JINJA_MAX_OUTPUT (16u << 20)   /* bytes of rendered text */
#define JINJA_MAX_STEPS 10000000ull    /* evaluation steps (loop bodies, calls…) */
#define JINJA_MAX_DEPTH 500            /* nesting of expressions, blocks and macro calls */
#define JINJA_MAX_SOURCE (4u << 20)    /* template source bytes */

/* Parses src[0..len) (need not be NUL-terminated). On success *out is a new
 * template owned by the caller (free with jinja_free) and 0 is returned. On
 * failure returns OM_EFORMAT (syntax, with the line in err) or OM_ENOMEM
 * (source too large); *out is left NULL. */
int jinja_parse(const char *src, size_t len, struct jinja **out, char *err, size_t errlen);

/* Frees a parsed template; NULL is a no-op. */
void jinja_free(struct jinja *t);

/* Renders t with the top-level variables of the object `vars` (borrowed; may
 * be NULL). On success *out is a NUL-terminated malloc'd string (caller
 * frees) of *out_len bytes (out_len may be NULL) and 0 is returned. On
 * failure (raise_exception, type errors, limits) returns OM_EFORMAT or
 * OM_ENOMEM / OM_ERANGE with a message in err, and *out is NULL. */
int jinja_render(const struct jinja *t, const json_t *vars, char **out, size_t *out_len, char *err,
                 size_t errlen);

/* Convenience for chat templates: renders with the variables Hugging Face's
 * apply_chat_template passes — messages (OpenAI/HF style: role, content,
 * tool_calls[{type:"function", function:{name, arguments (object)}}],
 * reasoning_content, tool_call_id, name), tools (array, or NULL → none, as
 * HF passes it), documents (none), add_generation_prompt, bos_token,
 * eos_token (NULL → ""), plus every key of `extra` (an object such as
 * {"enable_thinking": false} or {"date_string": "26 Jul 2024"}, or NULL;
 * its keys override the others). All json arguments are borrowed. Same
 * results and ownership as jinja_render.
 * Templates test keys with `'tool_calls' in message` or `is defined`, so
 * leave absent fields out of the messages rather than setting them null. */
int jinja_render_chat(const struct jinja *t, const json_t *messages, const json_t *tools,
                      bool add_generation_prompt, const char *bos_token, const char *eos_token,
                      const json_t *extra, char **out, size_t *out_len, char *err, size_t errlen);

/* True when the template reads the top-level variable `name` anywhere
 * (e.g. "tools", "enable_thinking", "reasoning_content" is not top-level:
 * use it for message fields too — any `.name` / `['name']` access or name
 * counts). Lets a caller tell whether a model's template supports tools or
 * thinking. */
bool jinja_uses(const struct jinja *t, const char *name);

#endif
