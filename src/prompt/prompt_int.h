/* prompt: private helpers of prompt.c / prompt_data.c. */
#ifndef PROMPT_INT_H
#define PROMPT_INT_H

#include <jansson.h>

#include "prompt/prompt.h"

/* A validated native message (strings borrowed from the JSON). */
struct prompt_msg {
    char role[64];            /* lower-cased */
    const char *role_raw;
    const char *content, *thinking, *tool_name, *tool_call_id;
    const json_t *tool_calls; /* array or NULL */
};

/* Validates messages[idx]; returns 0 or OM_EINVAL naming the field. */
int prompt_msg_fields(const json_t *m, int idx, struct prompt_msg *out, char *err, size_t errlen);
/* templateMessage for m with the (possibly merged) content. New reference. */
json_t *prompt_tmpl_message(const struct prompt_msg *m, const char *content);
/* templateTools for native tools (NULL/null -> json null). */
int prompt_tmpl_tools(const json_t *tools, json_t **out, char *err, size_t errlen);
/* Deep copy of a JSON value as Go's encoding/json decodes `any`: integers
 * become reals. */
json_t *prompt_go_any(const json_t *j, int depth);

#endif
