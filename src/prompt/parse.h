/* prompt: streaming parser for a model's raw output — splits thinking from
 * content and recognises tool calls, as Ollama's server does.
 *
 * Text is fed in arbitrary pieces (token by token, or any byte split); every
 * call returns what can already be released. Text that may still turn out to
 * be a tag (<think>, </think>) or a tool call (the template's prefix, e.g.
 * "<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", or a bare "{" JSON object)
 * is held back until it is decided; if it is not a tool call it is released
 * as content, unchanged. parse_finish flushes whatever is held. */
#ifndef PARSE_H
#define PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct parse_cfg {
    const char *think_open;   /* e.g. "<think>"; NULL = "<think>" */
    const char *think_close;  /* e.g. "</think>"; NULL = "</think>" */
    bool think_enabled;       /* split thinking from content */
    bool think_open_at_start; /* prompt ended with think_open: output starts inside */
    const char *tool_prefix;  /* NULL = no tool parsing; "{" = bare JSON objects */
    const json_t *tools;      /* request's tools array (borrowed, may be NULL):
                                 names of calls are checked against it */
};

struct parse_out {
    char *content; /* NUL-terminated, owned; NULL when nothing */
    size_t content_len;
    char *thinking; /* NUL-terminated, owned; NULL when nothing */
    size_t thinking_len;
    json_t *tool_calls; /* owned reference: array of
                           {"id":"call_xxxxxxxx","function":{"index":n,"name":s,
                           "arguments":{...}}}, or NULL when none */
};

struct parse;

/* Creates a parser; cfg's strings are copied, cfg->tools is borrowed and must
 * outlive the parser. Returns 0 or OM_EINVAL (empty tags, bad tools). */
int parse_new(const struct parse_cfg *cfg, struct parse **out);
void parse_free(struct parse *p);
/* Feeds raw output bytes. out is overwritten (not freed: clear it between
 * calls), then filled with what can be released now (may be all empty).
 * Held-back text is bounded (1 MiB); past that it is released as content.
 * Returns 0, or OM_EINVAL for bad arguments. */
int parse_feed(struct parse *p, const char *text, size_t len, struct parse_out *out);
/* End of output: releases everything held (an unfinished tool call that
 * cannot be parsed is released as content; a cut closing tag after calls is
 * dropped). out as in parse_feed. Returns 0. */
int parse_finish(struct parse *p, struct parse_out *out);
/* Frees out's members and zeroes it (NULL ok). */
void parse_out_clear(struct parse_out *out);
/* Number of tool calls emitted so far (the next call's function.index). */
int parse_tool_count(const struct parse *p);
/* True when the rendered prompt, blanks trimmed, ends with think_open (NULL:
 * "<think>"): the output then starts inside the thinking block (Ollama's
 * rule for cfg.think_open_at_start). */
bool parse_prompt_opens_think(const char *prompt, size_t len, const char *think_open);

#endif
