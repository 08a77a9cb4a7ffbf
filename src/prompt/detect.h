/* prompt: maps a GGUF `tokenizer.chat_template` (Jinja) onto one of the
 * built-in Go templates, as Ollama does when it imports a GGUF without a
 * TEMPLATE, and holds those built-ins (text/template source + stop strings).
 *
 * Detection is conservative: it answers only when the Jinja text matches a
 * family's signature unambiguously; otherwise the caller renders the Jinja
 * itself (see jinja.h). The returned data is static and never freed. */
#ifndef DETECT_H
#define DETECT_H

#include <stddef.h>

struct detect_result {
    const char *name;                /* Ollama's name: "llama3-instruct", "chatml"… */
    const char *go_template;         /* Go text/template source */
    const char *const *stops;        /* stop parameters of the template */
    int n_stops;
};

/* Decides which built-in template jinja_src[0..len) is. Returns 0 and fills
 * *out with static data, or OM_ENOTFOUND when unsure (out untouched), or
 * OM_EINVAL for NULL arguments. Conservative: a template of a known family
 * that also formats tools, tool calls or reasoning (Llama 3.1 tools, Qwen
 * 2.5/3, Mistral v0.3 tools, DeepSeek-R1…) is OM_ENOTFOUND, since the plain
 * built-in would drop that; render such templates with jinja.h. */
int detect_template(const char *jinja_src, size_t len, struct detect_result *out);

/* The family of jinja_src, even for templates detect_template declines: the
 * built-in whose turn format it uses (e.g. "chatml" for Qwen, "llama3-instruct"
 * for Llama 3.1 with tools, "deepseek-r1"). Useful to pick an output parser.
 * Same returns as detect_template. */
int detect_family(const char *jinja_src, size_t len, struct detect_result *out);

/* The built-in template called `name`, or NULL. Static data. */
const struct detect_result *detect_builtin(const char *name);

/* Number of built-ins, and the i-th one (0 <= i < count), for listing. */
int detect_builtin_count(void);
const struct detect_result *detect_builtin_at(int i);

#endif
