/* prompt: private parts of the output parser (parse.c: the streaming stages;
 * parse_tools.c: turning JSON text into tool calls). */
#ifndef PARSE_INT_H
#define PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PARSE_MAX_HELD (1u << 20) /* text held back while undecided */

/* Growing byte buffer. */
struct parse_buf {
    char *p;
    size_t n, cap;
};

void parse_buf_add(struct parse_buf *b, const char *s, size_t n);
/* Removes the first k bytes. */
void parse_buf_drop(struct parse_buf *b, size_t k);
void parse_buf_free(struct parse_buf *b);

/* Index just past the JSON object/array that starts at s[0] ('{' or '['),
 * found by bracket depth outside strings; 0 while it is still open. */
size_t parse_json_end(const char *s, size_t n);

/* Turns JSON text (an object, or an array of objects) into tool calls
 * appended to calls (a JSON array), numbering from *index and advancing it.
 * Accepted shapes: {"name":..,"arguments"|"parameters":{..} or "{..}"},
 * {"function":{"name":..,"arguments":..}}; names must be among tools' when
 * tools is a non-empty array. All or nothing: returns false and appends
 * nothing when any element is not a call. *rng drives the call ids. */
bool parse_tool_calls(const char *text, size_t n, const json_t *tools, int *index,
                      uint64_t *rng, json_t *calls);

/* One call written as a bare name and its JSON arguments object (Mistral's
 * "[TOOL_CALLS]name[ARGS]{...}"); same rules as parse_tool_calls. */
bool parse_tool_call_named(const char *name, size_t nlen, const char *args, size_t alen,
                           const json_t *tools, int *index, uint64_t *rng, json_t *calls);

#endif
