/* prompt: Ollama's prompt building — native chat messages and tools turned
 * into a model TEMPLATE's data (Go field names), "messages" vs "legacy"
 * template styles, the implicit {{ .Response }}, fill-in-middle, and
 * truncation of the oldest messages to fit the context window
 * (ollama server/prompt.go chatPrompt + template/template.go Execute). */
#ifndef PROMPT_H
#define PROMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "prompt/tmpl.h"

struct prompt_chat_in {
    const struct tmpl *tmpl;  /* model TEMPLATE; NULL -> "{{ .Prompt }}" */
    const json_t *messages;   /* native Ollama messages: role, content, thinking,
                                 tool_calls[{id,function{index,name,arguments}}],
                                 tool_name, tool_call_id (borrowed) */
    const json_t *tools;      /* native tools array or NULL (borrowed) */
    const char *suffix;       /* generate's FIM suffix, or NULL */
    int think;                /* -1 unset, 0 false, 1 true */
    const char *think_level;  /* "low|medium|high|max" or NULL */
    bool truncate;            /* drop oldest messages to fit num_ctx */
    int32_t num_ctx;          /* context length in tokens (<= 0: no limit) */
    /* Token count of text[0..len) (returns < 0 on error); NULL: no
     * truncation is possible and the full prompt is returned. */
    int (*count_tokens)(void *ud, const char *text, size_t len);
    void *count_ud;
};

/* Renders the prompt for a chat (or templated generate) request. On
 * success *out is a malloc'd NUL-terminated prompt (caller frees),
 * *out_len its length (may be NULL), *n_dropped (may be NULL) the number
 * of leading non-system messages left out by truncation, and 0 is
 * returned. Like Ollama, when even the smallest prompt (system messages +
 * last message) does not fit, that smallest prompt is returned anyway (the
 * runner then truncates or rejects it). Errors: OM_EINVAL for malformed
 * messages (err names the index and field), template execution errors as
 * from tmpl_exec. */
int prompt_chat(const struct prompt_chat_in *in, char **out, size_t *out_len, int *n_dropped,
                char *err, size_t errlen);

/* /api/generate's message list: [system] + model MESSAGEs (only when
 * !has_context) + {"role":"user","content":prompt}. system: the request's
 * system if non-NULL, else model_system (may be NULL/empty: no system
 * message). model_messages: native messages array or NULL (borrowed).
 * Returns a new array (caller owns the reference). */
json_t *prompt_generate_messages(const char *system, const char *model_system,
                                 const json_t *model_messages, bool has_context,
                                 const char *prompt);

/* /api/chat's message list: model MESSAGEs + request messages, with the
 * model SYSTEM prepended unless the first request message is a system
 * message (or model_system is NULL/empty). Returns a new array (caller owns
 * it); elements are shared references. */
json_t *prompt_chat_messages(const char *model_system, const json_t *model_messages,
                             const json_t *req_messages);

/* Ollama's filterThinkTags (applied for the qwen3 family and deepseek-r1):
 * every assistant message before the last user message loses a leading
 * <think>...</think> span (and the whitespace after it); a content that
 * opens <think> without closing it becomes empty. Returns a new array with
 * copies of the changed messages (caller owns it), or NULL when messages
 * is not an array. */
json_t *prompt_filter_think(const json_t *messages);

#endif
