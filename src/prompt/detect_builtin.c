/* prompt: the built-in Go chat templates (text/template source + stop
 * parameters) that an imported GGUF's Jinja chat_template is mapped onto.
 *
 * Each one renders the same prompt as Ollama's built-in of the same name
 * (template/<name>.gotmpl and .json in Ollama) for Ollama's template data
 * (.System, .Messages with .Role/.Content, .Tools); the stop strings are
 * Ollama's, including its quirks (mistral-instruct's ChatML stops). Two are
 * ours, for families Ollama has no built-in for: "phi-4" and
 * "deepseek-r1". The Go text is our own; only the prompts it produces are
 * meant to be identical. */
#include "prompt/detect.h"

#include <string.h>

#include "base/om.h"

#define STOPS(...) (const char *const[]){__VA_ARGS__}, (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* System messages joined by a blank line, then handed to the first user turn. */
#define COLLECT_SYSTEM \
    "{{- if eq .Role \"system\" }}{{ if $sys }}{{ $sys = printf \"%s\\n\\n%s\" $sys .Content }}" \
    "{{ else }}{{ $sys = .Content }}{{ end }}"

static const char T_CHATML[] =
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
    "{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n";

static const char T_LLAMA2[] =
    "{{- $sys := \"\" }}[INST] {{ range .Messages }}" COLLECT_SYSTEM
    "{{- else if eq .Role \"user\" }}<<SYS>>{{ if $sys }}\n{{ $sys }}\n{{ $sys = \"\" }}{{ end }}<</SYS>>\n\n"
    "{{ .Content }} [/INST]"
    "{{- else if eq .Role \"assistant\" }} {{ .Content }}</s><s>[INST] {{ end }}"
    "{{- end }}";

static const char T_LLAMA3[] =
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n";

static const char T_MISTRAL[] =
    "[INST] {{ range .Messages }}"
    "{{- if eq .Role \"system\" }}{{ .Content }}\n\n"
    "{{ else if eq .Role \"user\" }}{{ .Content }}[/INST]"
    "{{- else if eq .Role \"assistant\" }} {{ .Content }}</s>[INST] {{ end }}"
    "{{- end }}";

static const char T_GEMMA[] =
    "{{- $sys := \"\" }}{{ range .Messages }}" COLLECT_SYSTEM "{{ continue }}"
    "{{- else if eq .Role \"user\" }}<start_of_turn>user{{ if $sys }}\n{{ $sys }}{{ $sys = \"\" }}{{ end }}"
    "{{- else if eq .Role \"assistant\" }}<start_of_turn>model{{ end }}\n"
    "{{ .Content }}<end_of_turn>\n"
    "{{ end }}<start_of_turn>model\n";

static const char T_GEMMA3[] =
    "{{- range $i, $m := .Messages }}"
    "{{- if eq $m.Role \"user\" }}<start_of_turn>user\n"
    "{{ if and (eq $i 1) $.System }}{{ $.System }}\n\n{{ end }}"
    "{{- $m.Content }}<end_of_turn>\n"
    "{{ else if eq $m.Role \"assistant\" }}<start_of_turn>model\n{{ $m.Content }}<end_of_turn>\n{{ end }}"
    "{{- if eq (len (slice $.Messages $i)) 1 }}<start_of_turn>model\n{{ end }}"
    "{{- end }}\n";

static const char T_PHI3[] =
    "{{- range .Messages }}<|{{ .Role }}|>\n"
    "{{ .Content }}<|end|>\n"
    "{{ end }}<|assistant|>\n";

static const char T_PHI4[] =
    "{{- range .Messages }}<|im_start|>{{ .Role }}<|im_sep|>{{ .Content }}<|im_end|>{{ end }}"
    "<|im_start|>assistant<|im_sep|>";

static const char T_ZEPHYR[] =
    "{{- range .Messages }}<|{{ .Role }}|>\n"
    "{{ .Content }}</s>\n"
    "{{ end }}<|assistant|>\n";

static const char T_ALPACA[] =
    "{{- $sys := \"\" }}{{ range .Messages }}" COLLECT_SYSTEM
    "{{- else if eq .Role \"user\" }}{{ if $sys }}{{ $sys }}\n\n{{ $sys = \"\" }}{{ end }}"
    "### Instruction:\n{{ .Content }}\n\n"
    "{{ else if eq .Role \"assistant\" }}### Response:\n{{ .Content }}\n\n{{ end }}"
    "{{- end }}### Response:\n";

static const char T_VICUNA[] =
    "{{- $sys := \"\" }}{{ range .Messages }}" COLLECT_SYSTEM
    "{{- else if eq .Role \"user\" }}{{ if $sys }}{{ $sys }}\n\n{{ $sys = \"\" }}{{ end }}"
    "USER: {{ .Content }}\n"
    "{{ else if eq .Role \"assistant\" }}ASSISTANT: {{ .Content }}</s>\n{{ end }}"
    "{{- end }}ASSISTANT:";

static const char T_FALCON[] =
    "{{- range .Messages }}"
    "{{- if eq .Role \"system\" }}System: {{ .Content }}\n{{ continue }}"
    "{{- else if eq .Role \"user\" }}User:"
    "{{- else if eq .Role \"assistant\" }}Falcon:{{ end }}\n"
    "{{ .Content }}\n"
    "{{ end }}Falcon:\n";

static const char T_GRANITE[] =
    "{{- range .Messages }}"
    "{{- if eq .Role \"system\" }}System:"
    "{{- else if eq .Role \"user\" }}Question:"
    "{{- else if eq .Role \"assistant\" }}Answer:{{ end }}\n"
    "{{ .Content }}\n\n"
    "{{ end }}Answer:\n";

static const char T_OPENCHAT[] =
    "{{- range .Messages }}GPT4 Correct"
    "{{- if eq .Role \"system\" }} System:{{ else if eq .Role \"user\" }} User:"
    "{{- else if eq .Role \"assistant\" }} Assistant:{{ end }} {{ .Content }}<|end_of_turn|>"
    "{{- end }}GPT4 Correct Assistant:";

static const char T_CHATQA[] =
    "{{- range .Messages }}{{ if eq .Role \"system\" }}System:{{ else if eq .Role \"user\" }}User:"
    "{{- else if eq .Role \"assistant\" }}Assistant:{{ end }} {{ .Content }}\n\n"
    "{{ end }}Assistant:";

static const char T_MAGICODER[] =
    "{{- $sys := \"\" }}{{ range .Messages }}" COLLECT_SYSTEM "{{ continue }}"
    "{{- else if eq .Role \"user\" }}{{ if $sys }}{{ $sys }}\n\n{{ $sys = \"\" }}{{ end }}@@ Instruction"
    "{{- else if eq .Role \"assistant\" }}@@ Response{{ end }}\n"
    "{{ .Content }}\n\n"
    "{{ end }}@@ Response\n";

static const char T_ALFRED[] =
    "{{- range .Messages }}<start_{{ .Role }}>{{ .Content }}<end_message>{{ end }}<start_assistant>";

static const char T_SOLAR[] =
    "{{- range .Messages }}"
    "{{- if eq .Role \"assistant\" }}### Assistant:\n{{ .Content }}</s>\n\n{{ continue }}"
    "{{- else if eq .Role \"system\" }}### System:{{ else if eq .Role \"user\" }}### User:{{ end }}\n"
    "{{ .Content }}\n\n"
    "{{ end }}### Assistant:\n";

static const char T_STARCODER2[] =
    "{{- $sys := \"\" }}{{ range .Messages }}" COLLECT_SYSTEM
    "{{- else if eq .Role \"user\" }}{{ if $sys }}{{ $sys }}\n\n{{ $sys = \"\" }}{{ end }}"
    "### Instruction\n{{ .Content }}\n\n"
    "{{ else if eq .Role \"assistant\" }}### Response\n{{ .Content }}<|endoftext|>\n\n{{ end }}"
    "{{- end }}### Response\n";

static const char T_CODELLAMA70B[] =
    "{{- range .Messages }}Source:"
    "{{- if eq .Role \"system\" }} system{{ else if eq .Role \"user\" }} user"
    "{{- else if eq .Role \"assistant\" }} assistant{{ end }}\n\n {{ .Content }} <step> "
    "{{ end }}Source: assistant\nDestination: user\n\n ";

/* Command R: Cohere's tool-use preamble when tools are given. */
static const char T_COMMANDR[] =
    "{{- if or .Tools .System }}<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>"
    "{{- if .Tools }}# Safety Preamble\n"
    "The instructions in this section override those in the task description and style guide "
    "sections. Don't answer questions that are harmful or immoral.\n\n"
    "# System Preamble\n"
    "## Basic Rules\n"
    "You are a powerful conversational AI trained by Cohere to help people. You are augmented by "
    "a number of tools, and your job is to use and consume the output of these tools to best help "
    "the user. You will see a conversation history between yourself and a user, ending with an "
    "utterance from the user. You will then see a specific instruction instructing you what kind "
    "of response to generate. When you answer the user's requests, you cite your sources in your "
    "answers, according to those instructions.\n\n"
    "{{ if .System }}# User Preamble\n{{ .System }}{{ end }}\n\n"
    "## Available Tools\n"
    "Here is a list of tools that you have available to you:"
    "{{- range .Tools }}\n\n"
    "```python\n"
    "def {{ .Function.Name }}("
    "{{- range $name, $p := .Function.Parameters.Properties }}{{ $name }}: {{ $p.Type }}, {{ end }}"
    ") -> List[Dict]:\n"
    "    '''{{ .Function.Description }}"
    "{{- if .Function.Parameters.Properties }}\n\n    Args:"
    "{{- range $name, $p := .Function.Parameters.Properties }}\n"
    "        {{ $name }} ({{ $p.Type }}): {{ $p.Description }}{{ end }}{{ end }}\n"
    "    '''\n"
    "    pass\n"
    "```{{ end }}"
    "{{- else if .System }}{{ .System }}{{ end }}<|END_OF_TURN_TOKEN|>"
    "{{- end }}"
    "{{- range .Messages }}"
    "{{- if eq .Role \"system\" }}{{ continue }}{{ end }}<|START_OF_TURN_TOKEN|>"
    "{{- if eq .Role \"user\" }}<|USER_TOKEN|>{{ .Content }}"
    "{{- if $.Tools }}<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>Write 'Action:' followed by a "
    "json-formatted list of actions that you want to perform in order to produce a good response "
    "to the user's last input. You can use any of the supplied tools any number of times, but you "
    "should aim to execute the minimum number of necessary actions for the input. You should use "
    "the `directly-answer` tool if calling the other tools is unnecessary. The list of actions you "
    "want to call should be formatted as a list of json objects, for example:\n"
    "```json\n"
    "[\n"
    "    {\n"
    "        \"tool_name\": title of the tool in the specification,\n"
    "        \"parameters\": a dict of parameters to input into the tool as they are defined in the "
    "specs, or {} if it takes no parameters\n"
    "    }\n"
    "]```{{ end }}"
    "{{- else if eq .Role \"assistant\" }}<|CHATBOT_TOKEN|>"
    "{{- if .Content }}{{ .Content }}"
    "{{- else if .ToolCalls }}\nAction: ```json\n["
    "{{- range .ToolCalls }}\n    {\n        \"tool_name\": \"{{ .Function.Name }}\",\n"
    "        \"parameters\": {{ .Function.Arguments }}\n    }{{ end }}\n]```{{ end }}"
    "{{- else if eq .Role \"tool\" }}<|SYSTEM_TOKEN|><results>\nconsole_output: {{ .Content }}\n</results>"
    "{{- end }}<|END_OF_TURN_TOKEN|>"
    "{{- end }}<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>\n";

/* DeepSeek-R1 (and its Qwen/Llama distills): system text first, then
 * <｜User｜>/<｜Assistant｜> turns; earlier replies lose their reasoning. */
static const char T_DEEPSEEK_R1[] =
    "{{- if .System }}{{ .System }}{{ end }}"
    "{{- range $i, $m := .Messages }}"
    "{{- $last := eq (len (slice $.Messages $i)) 1 }}"
    "{{- if eq $m.Role \"user\" }}<\xef\xbd\x9cUser\xef\xbd\x9c>{{ $m.Content }}"
    "{{- else if eq $m.Role \"assistant\" }}<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>{{ $m.Content }}"
    "{{- if not $last }}<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>{{ end }}{{ end }}"
    "{{- if and $last (ne $m.Role \"assistant\") }}<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>{{ end }}"
    "{{- end }}";

static const struct detect_result g_builtins[] = {
    {"chatml", T_CHATML, STOPS("<|im_start|>", "<|im_end|>")},
    {"llama2-chat", T_LLAMA2, STOPS("[INST]", "[/INST]", "<<SYS>>", "<</SYS>>")},
    {"llama3-instruct", T_LLAMA3, STOPS("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")},
    {"mistral-instruct", T_MISTRAL, STOPS("<|im_start|>", "<|im_end|>")},
    {"gemma-instruct", T_GEMMA, STOPS("<start_of_turn>", "<end_of_turn>")},
    {"gemma3-instruct", T_GEMMA3, STOPS("<end_of_turn>")},
    {"phi-3", T_PHI3, STOPS("<|end|>", "<|system|>", "<|user|>", "<|assistant|>")},
    {"phi-4", T_PHI4, STOPS("<|im_start|>", "<|im_sep|>", "<|im_end|>")},
    {"zephyr", T_ZEPHYR, STOPS("<|system|>", "</s>", "<|user|>", "<|assistant|>")},
    {"alpaca", T_ALPACA, STOPS("### Instruction:", "### Response")},
    {"vicuna", T_VICUNA, STOPS("USER:", "ASSISTANT:")},
    {"falcon-instruct", T_FALCON, STOPS("User:", "Assistant:")},
    {"granite-instruct", T_GRANITE, STOPS("System:", "Question:", "Answer:")},
    {"openchat", T_OPENCHAT, STOPS("<|end_of_turn|>")},
    {"command-r", T_COMMANDR, STOPS("<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>")},
    {"chatqa", T_CHATQA, STOPS("System:", "User:", "Assistant:", "<|begin_of_text|>")},
    {"magicoder", T_MAGICODER, STOPS("@@ Instruction", "@@ Response")},
    {"alfred", T_ALFRED, STOPS("<start_system>", "<end_message>", "<start_user>", "<start_assistant>")},
    {"solar-instruct", T_SOLAR, STOPS("### System:", "### User:", "### Assistant")},
    {"starcoder2-instruct", T_STARCODER2, STOPS("### Instruction", "### Response", "<|endoftext|>")},
    {"codellama-70b-instruct", T_CODELLAMA70B, STOPS("Source:", "Destination:", "<step>")},
    {"deepseek-r1", T_DEEPSEEK_R1,
     STOPS("<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
           "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
           "<\xef\xbd\x9cUser\xef\xbd\x9c>", "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>")},
};

int detect_builtin_count(void) { return (int)OM_ARRAY_LEN(g_builtins); }

const struct detect_result *detect_builtin_at(int i)
{
    return i >= 0 && i < detect_builtin_count() ? &g_builtins[i] : NULL;
}

const struct detect_result *detect_builtin(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < OM_ARRAY_LEN(g_builtins); i++)
        if (strcmp(g_builtins[i].name, name) == 0)
            return &g_builtins[i];
    return NULL;
}
