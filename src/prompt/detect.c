/* prompt: which built-in Go template a GGUF's Jinja chat_template is.
 *
 * Method: each chat format has control tokens nobody else uses
 * (<|start_header_id|>, <start_of_turn>, <|im_start|>, [INST], …). The Jinja
 * text is first checked to be a chat template at all (it must loop over
 * `messages` with Jinja tags), then the family is decided by an ordered
 * table of required and excluding markers; the first rule that matches
 * wins, and rules are ordered so that a more specific format (phi-4's
 * <|im_sep|> inside ChatML tokens, Gemma 3's image/prefix handling) is
 * tried before the general one.
 *
 * detect_family() answers for any template of a known family.
 * detect_template() is stricter (like Ollama's small edit-distance bound):
 * a template that also formats tools, tool calls or reasoning cannot be
 * reproduced by the plain built-in, so it answers OM_ENOTFOUND and the
 * caller renders the Jinja itself. */
#include "prompt/detect.h"

#include <stdbool.h>
#include <string.h>

#include "base/om.h"

struct rule {
    const char *name;
    const char *all[3];  /* every one must occur */
    const char *any[3];  /* at least one must occur (when given) */
    const char *none[2]; /* none may occur */
};

#define FW_BAR "\xef\xbd\x9c" /* U+FF5C, DeepSeek's full-width bar */

static const struct rule g_rules[] = {
    {"llama3-instruct", {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}, {0}, {0}},
    {"gemma3-instruct", {"<start_of_turn>", "<end_of_turn>"},
     {"first_user_prefix", "<start_of_image>", "loop_messages"}, {0}},
    {"gemma-instruct", {"<start_of_turn>", "<end_of_turn>"}, {0}, {0}},
    {"phi-4", {"<|im_start|>", "<|im_sep|>", "<|im_end|>"}, {0}, {0}},
    {"chatml", {"<|im_start|>", "<|im_end|>"}, {0}, {0}},
    {"command-r", {"<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>"}, {0}, {0}},
    {"deepseek-r1", {"<" FW_BAR "User" FW_BAR ">", "<" FW_BAR "Assistant" FW_BAR ">"}, {0}, {0}},
    {"phi-3", {"<|user|>", "<|end|>"}, {0}, {0}},
    {"phi-3", {"<|end|>", "<|assistant|>"}, {0}, {0}}, /* '<|' + role + '|>' */
    {"zephyr", {"<|user|>", "<|assistant|>"}, {0}, {0}},
    {"llama2-chat", {"[INST]", "[/INST]", "<<SYS>>"}, {0}, {0}},
    {"mistral-instruct", {"[INST]", "[/INST]"}, {0}, {0}},
    {"openchat", {"GPT4 Correct ", "<|end_of_turn|>"}, {0}, {0}},
    {"alpaca", {"### Instruction:", "### Response:"}, {0}, {0}},
    {"vicuna", {"USER:", "ASSISTANT:"}, {0}, {0}},
    {"falcon-instruct", {"Falcon:"}, {"User:", "User: "}, {0}},
    {"granite-instruct", {"Question:", "Answer:"}, {0}, {0}},
    {"magicoder", {"@@ Instruction", "@@ Response"}, {0}, {0}},
    {"alfred", {"<start_user>", "<start_assistant>", "<end_message>"}, {0}, {0}},
    {"solar-instruct", {"### User:", "### Assistant:"}, {0}, {0}},
    {"starcoder2-instruct", {"### Instruction", "### Response"}, {0}, {0}},
    {"codellama-70b-instruct", {"Source: ", "Destination: user"}, {0}, {0}},
    {"chatqa", {"User: ", "Assistant:"}, {0}, {0}},
};

/* Words that mean the template does more than the plain built-in can. */
static const char *const g_rich[] = {"tool_calls", "tools", "reasoning_content", "enable_thinking",
                                     "<think>", "</think>", "[AVAILABLE_TOOLS]", "<tool_call>"};

static bool has(const char *s, size_t n, const char *needle)
{
    return memmem(s, n, needle, strlen(needle)) != NULL;
}

static const struct detect_result *family(const char *src, size_t len)
{
    if (!has(src, len, "messages") || (!has(src, len, "{%") && !has(src, len, "{{")))
        return NULL;
    for (size_t i = 0; i < OM_ARRAY_LEN(g_rules); i++) {
        const struct rule *r = &g_rules[i];
        bool ok = true;
        for (size_t k = 0; ok && k < OM_ARRAY_LEN(r->all) && r->all[k]; k++)
            ok = has(src, len, r->all[k]);
        if (ok && r->any[0]) {
            bool one = false;
            for (size_t k = 0; !one && k < OM_ARRAY_LEN(r->any) && r->any[k]; k++)
                one = has(src, len, r->any[k]);
            ok = one;
        }
        for (size_t k = 0; ok && k < OM_ARRAY_LEN(r->none) && r->none[k]; k++)
            ok = !has(src, len, r->none[k]);
        if (ok)
            return detect_builtin(r->name);
    }
    return NULL;
}

int detect_family(const char *jinja_src, size_t len, struct detect_result *out)
{
    if (!jinja_src || !out)
        return OM_EINVAL;
    const struct detect_result *r = family(jinja_src, len);
    if (!r)
        return OM_ENOTFOUND;
    *out = *r;
    return 0;
}

int detect_template(const char *jinja_src, size_t len, struct detect_result *out)
{
    if (!jinja_src || !out)
        return OM_EINVAL;
    const struct detect_result *r = family(jinja_src, len);
    if (!r)
        return OM_ENOTFOUND;
    for (size_t i = 0; i < OM_ARRAY_LEN(g_rich); i++)
        if (has(jinja_src, len, g_rich[i]))
            return OM_ENOTFOUND;
    *out = *r;
    return 0;
}
