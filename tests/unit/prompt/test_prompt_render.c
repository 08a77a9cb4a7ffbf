/* Unit tests for prompt_chat (prompt/prompt.h) with model templates written
 * in the style of Ollama's library templates: llama3-instruct, chatml,
 * mistral (tools), gemma, phi-3, qwen2.5 (tools, FIM fallback), qwen3
 * (thinking + tools), deepseek-r1 (thinking), llama3.1 (tools), a
 * toTypeScriptType tool listing, legacy System/Prompt/Response templates
 * (llama2, vicuna) and a fill-in-middle template.
 *
 * Each expected prompt was produced by Go's text/template executing the
 * same template on data shaped exactly like Ollama's template.Values
 * (templateMessage, templateTool ... with Ollama's collation, legacy turn
 * loop and cut after .Response), so these pin byte-for-byte parity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/prompt.h"

struct named {
    const char *name, *text;
};

static const struct named templates[] = {
    {"llama3",
     "{{- if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>\n{{- end }}\n{{- range .Messages }}\n{{- if ne .Role \"system\" }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>\n{{- end }}\n{{- end }}<|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"chatml",
     "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"},
    {"mistral",
     "{{- range $index, $_ := .Messages }}\n{{- if eq .Role \"system\" }}[SYSTEM_PROMPT]{{ .Content }}[/SYSTEM_PROMPT]\n{{- else if eq .Role \"user\" }}\n{{- if and (le (len (slice $.Messages $index)) 2) $.Tools }}[AVAILABLE_TOOLS]{{ $.Tools }}[/AVAILABLE_TOOLS]\n{{- end }}[INST]{{ .Content }}[/INST]\n{{- else if eq .Role \"assistant\" }}\n{{- if .Content }}{{ .Content }}\n{{- if not (eq (len (slice $.Messages $index)) 1) }}</s>\n{{- end }}\n{{- else if .ToolCalls }}[TOOL_CALLS][\n{{- range $i, $c := .ToolCalls }}{{ if $i }}, {{ end }}{\"name\": \"{{ .Function.Name }}\", \"arguments\": {{ json .Function.Arguments }}}\n{{- end }}]</s>\n{{- end }}\n{{- else if eq .Role \"tool\" }}[TOOL_RESULTS]{\"content\": {{ json .Content }}}[/TOOL_RESULTS]\n{{- end }}\n{{- end }}"},
    {"gemma",
     "{{- $system := \"\" }}\n{{- range .Messages }}\n{{- if eq .Role \"system\" }}\n{{- if not $system }}{{ $system = .Content }}\n{{- else }}{{ $system = printf \"%s\\n\\n%s\" $system .Content }}\n{{- end }}\n{{- continue }}\n{{- else if eq .Role \"user\" }}<start_of_turn>user\n{{- if $system }}\n{{ $system }}\n{{- $system = \"\" }}\n{{- end }}\n{{- else if eq .Role \"assistant\" }}<start_of_turn>model\n{{- end }}\n{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n"},
    {"phi3",
     "{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}<|end|>\n{{ end }}<|assistant|>\n"},
    {"qwen25",
     "{{- if .Messages }}\n{{- if or .System .Tools }}<|im_start|>system\n{{- if .System }}\n{{ .System }}\n{{- end }}\n{{- if .Tools }}\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{{- range .Tools }}\n{\"type\": \"function\", \"function\": {{ json .Function }}}\n{{- end }}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>\n{{- end }}<|im_end|>\n{{ end }}\n{{- range $i, $_ := .Messages }}\n{{- $last := eq (len (slice $.Messages $i)) 1 -}}\n{{- if eq .Role \"user\" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n{{ else if eq .Role \"assistant\" }}<|im_start|>assistant\n{{ if .Content }}{{ .Content }}\n{{- else if .ToolCalls }}<tool_call>\n{{ range .ToolCalls }}{\"name\": \"{{ .Function.Name }}\", \"arguments\": {{ .Function.Arguments }}}\n{{ end }}</tool_call>\n{{- end }}{{ if not $last }}<|im_end|>\n{{ end }}\n{{- else if eq .Role \"tool\" }}<|im_start|>user\n<tool_response>\n{{ .Content }}\n</tool_response><|im_end|>\n{{ end }}\n{{- if and (ne .Role \"assistant\") $last }}<|im_start|>assistant\n{{ end }}\n{{- end }}\n{{- else }}\n{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"},
    {"qwen3",
     "{{- $lastUserIdx := -1 -}}\n{{- range $idx, $msg := .Messages -}}\n{{- if eq $msg.Role \"user\" }}{{ $lastUserIdx = $idx }}{{ end -}}\n{{- end }}\n{{- if or .System .Tools }}<|im_start|>system\n{{ if .System }}\n{{ .System }}\n{{- end }}\n{{- if .Tools }}\n\n# Tools\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{{- range .Tools }}\n{\"type\": \"function\", \"function\": {{ .Function }}}\n{{- end }}\n</tools>\n{{- end -}}\n<|im_end|>\n{{ end }}\n{{- range $i, $_ := .Messages }}\n{{- $last := eq (len (slice $.Messages $i)) 1 -}}\n{{- if eq .Role \"user\" }}<|im_start|>user\n{{ .Content }}\n{{- if and $.IsThinkSet (eq $i $lastUserIdx) }}\n   {{- if $.Think -}}\n      {{- \" \"}}/think\n   {{- else -}}\n      {{- \" \"}}/no_think\n   {{- end -}}\n{{- end }}<|im_end|>\n{{ else if eq .Role \"assistant\" }}<|im_start|>assistant\n{{ if (and $.IsThinkSet (and .Thinking (or $last (gt $i $lastUserIdx)))) -}}\n<think>{{ .Thinking }}</think>\n{{ end -}}\n{{ if .Content }}{{ .Content }}\n{{- else if .ToolCalls }}<tool_call>\n{{ range .ToolCalls }}{\"name\": \"{{ .Function.Name }}\", \"arguments\": {{ .Function.Arguments }}}\n{{ end }}</tool_call>\n{{- end }}{{ if not $last }}<|im_end|>\n{{ end }}\n{{- else if eq .Role \"tool\" }}<|im_start|>user\n<tool_response>\n{{ .Content }}\n</tool_response><|im_end|>\n{{ end }}\n{{- if and (ne .Role \"assistant\") $last }}<|im_start|>assistant\n{{ if and $.IsThinkSet (not $.Think) -}}\n<think>\n\n</think>\n\n{{ end -}}\n{{ end }}\n{{- end }}"},
    {"deepseekr1",
     "{{- if .System }}{{ .System }}{{ end }}\n{{- range $i, $_ := .Messages }}\n{{- $last := eq (len (slice $.Messages $i)) 1}}\n{{- if eq .Role \"user\" }}<\357\275\234User\357\275\234>{{ .Content }}\n{{- else if eq .Role \"assistant\" }}<\357\275\234Assistant\357\275\234>\n  {{- if and $.IsThinkSet (and $last .Thinking) -}}\n<think>\n{{ .Thinking }}\n</think>\n{{- end }}{{ .Content }}{{- if not $last }}<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>{{- end }}\n{{- end }}\n{{- if and $last (ne .Role \"assistant\") }}<\357\275\234Assistant\357\275\234>\n{{- if and $.IsThinkSet (not $.Think) -}}\n<think>\n\n</think>\n\n{{ end }}\n{{- end -}}\n{{- end }}"},
    {"llama31",
     "{{- if or .System .Tools }}<|start_header_id|>system<|end_header_id|>\n{{- if .System }}\n\n{{ .System }}\n{{- end }}\n{{- if .Tools }}\n\nYou are a helpful assistant with tool calling capabilities. Today is {{ currentDate }}.\n{{- end }}<|eot_id|>\n{{- end }}\n{{- range $i, $_ := .Messages }}\n{{- $last := eq (len (slice $.Messages $i)) 1 }}\n{{- if eq .Role \"user\" }}<|start_header_id|>user<|end_header_id|>\n{{- if and $.Tools $last }}\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.\n\n{{ range $.Tools }}\n{{- . }}\n{{ end }}\n{{ .Content }}<|eot_id|>\n{{- else }}\n\n{{ .Content }}<|eot_id|>\n{{- end }}{{ if $last }}<|start_header_id|>assistant<|end_header_id|>\n\n{{ end }}\n{{- else if eq .Role \"assistant\" }}<|start_header_id|>assistant<|end_header_id|>\n{{- if .ToolCalls }}\n{{ range .ToolCalls }}\n{\"name\": \"{{ .Function.Name }}\", \"parameters\": {{ .Function.Arguments }}}{{ end }}\n{{- else }}\n\n{{ .Content }}\n{{- end }}{{ if not $last }}<|eot_id|>{{ end }}\n{{- else if eq .Role \"tool\" }}<|start_header_id|>ipython<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>\n\n{{ end }}\n{{- end }}\n{{- end }}"},
    {"tsfuncs",
     "{{- range .Tools }}// {{ .Function.Description }}\ntype {{ .Function.Name }} = (_: {\n{{- range $name, $prop := .Function.Parameters.Properties }}\n// {{ $prop.Description }}\n{{ $name }}: {{ toTypeScriptType $prop }},{{ if $prop.Enum }} // {{ json $prop.Enum }}{{ end }}\n{{- end }}\n}) => any;\n{{ end }}\n{{- range .Messages }}<|{{ .Role }}|>{{ .Content }}{{ if .ToolCalls }}{{ range .ToolCalls }}<call id=\"{{ .ID }}\" n=\"{{ .Function.Index }}\">{{ .Function.Name }} {{ .Function.Arguments }}</call>{{ end }}{{ end }}{{ if .ToolName }}({{ .ToolName }}){{ end }}\n{{ end }}"},
    {"llama2legacy",
     "[INST] {{ if .System }}<<SYS>>{{ .System }}<</SYS>>\n\n{{ end }}{{ .Prompt }} [/INST] {{ .Response }}</s>"},
    {"vicunalegacy",
     "{{ if .System }}{{ .System }}\n\n{{ end }}USER: {{ .Prompt }}\nASSISTANT: "},
    {"fim",
     "{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>\n{{- else }}{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"},
    {"structprint",
     "{{- range .Tools }}{{ .Function }}|{{ .Function.Parameters.Required }}|{{ . }}\n{{ end }}{{ range .Messages }}{{ range .ToolCalls }}{{ .Function }}{{ end }}{{ end }}"},
};

static const struct named messages[] = {
    {"basic",
     "[{\"role\": \"system\", \"content\": \"You are helpful.\"}, {\"role\": \"user\", \"content\": \"Hi <b>\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}, {\"role\": \"user\", \"content\": \"Tell me a joke.\"}]"},
    {"merge",
     "[{\"role\": \"system\", \"content\": \"S1\"}, {\"role\": \"system\", \"content\": \"S2\"}, {\"role\": \"User\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\"}, {\"role\": \"assistant\", \"content\": \"c\"}, {\"role\": \"assistant\", \"content\": \"d\"}, {\"role\": \"user\", \"content\": \"e\"}]"},
    {"tools",
     "[{\"role\": \"system\", \"content\": \"Use tools.\"}, {\"role\": \"user\", \"content\": \"Weather in Paris?\"}, {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"id\": \"call_abc12345\", \"function\": {\"index\": 0, \"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3, \"unit\": null, \"x\": {\"b\": [1, 2.5], \"a\": \"<&>\"}}}}, {\"function\": {\"index\": 1, \"name\": \"noop\", \"arguments\": {}}}]}, {\"role\": \"tool\", \"content\": \"{\\\"temp\\\": 21}\", \"tool_name\": \"get_weather\", \"tool_call_id\": \"call_abc12345\"}, {\"role\": \"tool\", \"content\": \"ok\", \"tool_name\": \"noop\"}, {\"role\": \"user\", \"content\": \"Thanks\"}]"},
    {"think",
     "[{\"role\": \"user\", \"content\": \"2+2?\"}, {\"role\": \"assistant\", \"content\": \"4\", \"thinking\": \"Adding two and two.\"}, {\"role\": \"user\", \"content\": \"And 3+3?\"}]"},
    {"prefill",
     "[{\"role\": \"user\", \"content\": \"Write a haiku\"}, {\"role\": \"assistant\", \"content\": \"Autumn\", \"thinking\": \"hmm\"}]"},
    {"fim",
     "[{\"role\": \"user\", \"content\": \"def add(a, b):\"}]"},
};

static const char *const tools_json =
"[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather <now> & later\", \"parameters\": {\"type\": \"object\", \"required\": [\"city\"], \"properties\": {\"unit\": {\"type\": [\"string\", \"null\"], \"enum\": [\"c\", \"f\"], \"description\": \"Unit\"}, \"city\": {\"type\": \"string\", \"description\": \"City name\"}, \"days\": {\"type\": \"integer\", \"description\": \"Days\", \"default\": 1}, \"when\": {\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"number\"}], \"description\": \"When\"}}}}}, {\"type\": \"function\", \"function\": {\"name\": \"noop\", \"parameters\": {\"type\": \"object\", \"properties\": {}}}}]";

struct rcase {
    const char *tmpl, *msgs;
    bool tools;
    int think;
    const char *level, *suffix, *want;
};

static const struct rcase cases[] = {
    {"llama3", "basic", false, -1, NULL, NULL,
     "<|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi <b><|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"llama3", "merge", false, -1, NULL, NULL,
     "<|start_header_id|>system<|end_header_id|>\n\nS1\n\nS2<|eot_id|><|start_header_id|>user<|end_header_id|>\n\na\n\nb<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nc\n\nd<|eot_id|><|start_header_id|>user<|end_header_id|>\n\ne<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"chatml", "basic", false, -1, NULL, NULL,
     "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi <b><|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n"},
    {"mistral", "basic", false, -1, NULL, NULL,
     "[SYSTEM_PROMPT]You are helpful.[/SYSTEM_PROMPT][INST]Hi <b>[/INST]Hello!</s>[INST]Tell me a joke.[/INST]"},
    {"mistral", "tools", true, -1, NULL, NULL,
     "[SYSTEM_PROMPT]Use tools.[/SYSTEM_PROMPT][INST]Weather in Paris?[/INST][TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\",\"days\":3,\"unit\":null,\"x\":{\"a\":\"\\u003c\\u0026\\u003e\",\"b\":[1,2.5]}}}, {\"name\": \"noop\", \"arguments\": {}}]</s>[TOOL_RESULTS]{\"content\": \"{\\\"temp\\\": 21}\"}[/TOOL_RESULTS][TOOL_RESULTS]{\"content\": \"ok\"}[/TOOL_RESULTS][AVAILABLE_TOOLS][{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Get the weather \\u003cnow\\u003e \\u0026 later\",\"parameters\":{\"type\":\"object\",\"required\":[\"city\"],\"properties\":{\"city\":{\"type\":\"string\",\"description\":\"City name\"},\"days\":{\"type\":\"integer\",\"description\":\"Days\"},\"unit\":{\"type\":[\"string\",\"null\"],\"description\":\"Unit\",\"enum\":[\"c\",\"f\"]},\"when\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"number\"}],\"description\":\"When\"}}}}},{\"type\":\"function\",\"function\":{\"name\":\"noop\",\"description\":\"\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}][/AVAILABLE_TOOLS][INST]Thanks[/INST]"},
    {"gemma", "basic", false, -1, NULL, NULL,
     "<start_of_turn>user\nYou are helpful.\nHi <b><end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nTell me a joke.<end_of_turn>\n<start_of_turn>model\n"},
    {"gemma", "merge", false, -1, NULL, NULL,
     "<start_of_turn>user\nS1\n\nS2\na\n\nb<end_of_turn>\n<start_of_turn>model\nc\n\nd<end_of_turn>\n<start_of_turn>user\ne<end_of_turn>\n<start_of_turn>model\n"},
    {"phi3", "basic", false, -1, NULL, NULL,
     "<|system|>\nYou are helpful.<|end|>\n<|user|>\nHi <b><|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nTell me a joke.<|end|>\n<|assistant|>\n"},
    {"qwen25", "basic", false, -1, NULL, NULL,
     "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi <b><|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n"},
    {"qwen25", "tools", true, -1, NULL, NULL,
     "<|im_start|>system\nUse tools.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\":\"get_weather\",\"description\":\"Get the weather \\u003cnow\\u003e \\u0026 later\",\"parameters\":{\"type\":\"object\",\"required\":[\"city\"],\"properties\":{\"city\":{\"type\":\"string\",\"description\":\"City name\"},\"days\":{\"type\":\"integer\",\"description\":\"Days\"},\"unit\":{\"type\":[\"string\",\"null\"],\"description\":\"Unit\",\"enum\":[\"c\",\"f\"]},\"when\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"number\"}],\"description\":\"When\"}}}}}\n{\"type\": \"function\", \"function\": {\"name\":\"noop\",\"description\":\"\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\",\"days\":3,\"unit\":null,\"x\":{\"a\":\"\\u003c\\u0026\\u003e\",\"b\":[1,2.5]}}}\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n<|im_start|>user\n<tool_response>\nok\n</tool_response><|im_end|>\n<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n"},
    {"qwen25", "prefill", false, -1, NULL, NULL,
     "<|im_start|>user\nWrite a haiku<|im_end|>\n<|im_start|>assistant\nAutumn"},
    {"qwen3", "tools", true, 0, NULL, NULL,
     "<|im_start|>system\n\nUse tools.\n\n# Tools\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {get_weather Get the weather <now> & later {object <nil> <nil> [city] {\"city\":{\"type\":\"string\",\"description\":\"City name\"},\"days\":{\"type\":\"integer\",\"description\":\"Days\"},\"unit\":{\"type\":[\"string\",\"null\"],\"description\":\"Unit\",\"enum\":[\"c\",\"f\"]},\"when\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"number\"}],\"description\":\"When\"}}}}}\n{\"type\": \"function\", \"function\": {noop  {object <nil> <nil> [] {}}}}\n</tools><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\",\"days\":3,\"unit\":null,\"x\":{\"a\":\"\\u003c\\u0026\\u003e\",\"b\":[1,2.5]}}}\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n<|im_start|>user\n<tool_response>\nok\n</tool_response><|im_end|>\n<|im_start|>user\nThanks /no_think<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
    {"qwen3", "think", false, -1, NULL, NULL,
     "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n"},
    {"qwen3", "think", false, 1, NULL, NULL,
     "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3? /think<|im_end|>\n<|im_start|>assistant\n"},
    {"qwen3", "think", false, 0, NULL, NULL,
     "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3? /no_think<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
    {"qwen3", "think", false, -1, "high", NULL,
     "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3? /think<|im_end|>\n<|im_start|>assistant\n"},
    {"qwen3", "prefill", false, -1, NULL, NULL,
     "<|im_start|>user\nWrite a haiku<|im_end|>\n<|im_start|>assistant\nAutumn"},
    {"qwen3", "prefill", false, 1, NULL, NULL,
     "<|im_start|>user\nWrite a haiku /think<|im_end|>\n<|im_start|>assistant\n<think>hmm</think>\nAutumn"},
    {"qwen3", "prefill", false, 0, NULL, NULL,
     "<|im_start|>user\nWrite a haiku /no_think<|im_end|>\n<|im_start|>assistant\n<think>hmm</think>\nAutumn"},
    {"qwen3", "prefill", false, -1, "high", NULL,
     "<|im_start|>user\nWrite a haiku /think<|im_end|>\n<|im_start|>assistant\n<think>hmm</think>\nAutumn"},
    {"deepseekr1", "think", false, -1, NULL, NULL,
     "<\357\275\234User\357\275\234>2+2?<\357\275\234Assistant\357\275\234>4<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234><\357\275\234User\357\275\234>And 3+3?<\357\275\234Assistant\357\275\234>"},
    {"deepseekr1", "think", false, 1, NULL, NULL,
     "<\357\275\234User\357\275\234>2+2?<\357\275\234Assistant\357\275\234>4<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234><\357\275\234User\357\275\234>And 3+3?<\357\275\234Assistant\357\275\234>"},
    {"deepseekr1", "think", false, 0, NULL, NULL,
     "<\357\275\234User\357\275\234>2+2?<\357\275\234Assistant\357\275\234>4<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234><\357\275\234User\357\275\234>And 3+3?<\357\275\234Assistant\357\275\234><think>\n\n</think>\n\n"},
    {"deepseekr1", "think", false, -1, "high", NULL,
     "<\357\275\234User\357\275\234>2+2?<\357\275\234Assistant\357\275\234>4<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234><\357\275\234User\357\275\234>And 3+3?<\357\275\234Assistant\357\275\234>"},
    {"deepseekr1", "prefill", false, -1, NULL, NULL,
     "<\357\275\234User\357\275\234>Write a haiku<\357\275\234Assistant\357\275\234>Autumn"},
    {"deepseekr1", "prefill", false, 1, NULL, NULL,
     "<\357\275\234User\357\275\234>Write a haiku<\357\275\234Assistant\357\275\234><think>\nhmm\n</think>Autumn"},
    {"deepseekr1", "prefill", false, 0, NULL, NULL,
     "<\357\275\234User\357\275\234>Write a haiku<\357\275\234Assistant\357\275\234><think>\nhmm\n</think>Autumn"},
    {"deepseekr1", "prefill", false, -1, "high", NULL,
     "<\357\275\234User\357\275\234>Write a haiku<\357\275\234Assistant\357\275\234><think>\nhmm\n</think>Autumn"},
    {"deepseekr1", "basic", false, -1, NULL, NULL,
     "You are helpful.<\357\275\234User\357\275\234>Hi <b><\357\275\234Assistant\357\275\234>Hello!<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234><\357\275\234User\357\275\234>Tell me a joke.<\357\275\234Assistant\357\275\234>"},
    {"deepseekr1", "basic", false, 1, NULL, NULL,
     "You are helpful.<\357\275\234User\357\275\234>Hi <b><\357\275\234Assistant\357\275\234>Hello!<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234><\357\275\234User\357\275\234>Tell me a joke.<\357\275\234Assistant\357\275\234>"},
    {"deepseekr1", "basic", false, 0, NULL, NULL,
     "You are helpful.<\357\275\234User\357\275\234>Hi <b><\357\275\234Assistant\357\275\234>Hello!<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234><\357\275\234User\357\275\234>Tell me a joke.<\357\275\234Assistant\357\275\234><think>\n\n</think>\n\n"},
    {"deepseekr1", "basic", false, -1, "high", NULL,
     "You are helpful.<\357\275\234User\357\275\234>Hi <b><\357\275\234Assistant\357\275\234>Hello!<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234><\357\275\234User\357\275\234>Tell me a joke.<\357\275\234Assistant\357\275\234>"},
    {"tsfuncs", "tools", true, -1, NULL, NULL,
     "// Get the weather <now> & later\ntype get_weather = (_: {\n// City name\ncity: string,\n// Days\ndays: number,\n// Unit\nunit: string | null, // [\"c\",\"f\"]\n// When\nwhen: string | number,\n}) => any;\n// \ntype noop = (_: {\n}) => any;\n<|system|>Use tools.\n<|user|>Weather in Paris?\n<|assistant|><call id=\"call_abc12345\" n=\"0\">get_weather {\"city\":\"Paris\",\"days\":3,\"unit\":null,\"x\":{\"a\":\"\\u003c\\u0026\\u003e\",\"b\":[1,2.5]}}</call><call id=\"\" n=\"1\">noop {}</call>\n<|tool|>{\"temp\": 21}(get_weather)\n<|tool|>ok(noop)\n<|user|>Thanks\n"},
    {"llama2legacy", "basic", false, -1, NULL, NULL,
     "[INST] <<SYS>>You are helpful.<</SYS>>\n\nHi <b> [/INST] Hello!</s>[INST] Tell me a joke. [/INST] "},
    {"llama2legacy", "merge", false, -1, NULL, NULL,
     "[INST] <<SYS>>S1\n\nS2<</SYS>>\n\na\n\nb [/INST] c\n\nd</s>[INST] e [/INST] "},
    {"llama2legacy", "prefill", false, -1, NULL, NULL,
     "[INST] Write a haiku [/INST] Autumn"},
    {"llama2legacy", "tools", true, -1, NULL, NULL,
     "[INST] <<SYS>>Use tools.<</SYS>>\n\nThanks [/INST] "},
    {"vicunalegacy", "basic", false, -1, NULL, NULL,
     "You are helpful.\n\nUSER: Hi <b>\nASSISTANT: Hello!USER: Tell me a joke.\nASSISTANT: "},
    {"fim", "basic", false, -1, NULL, NULL,
     "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi <b><|im_end|>\n<|im_start|>assistant\nHello!<|im_end|><|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n"},
    {"structprint", "tools", true, -1, NULL, NULL,
     "{get_weather Get the weather <now> & later {object <nil> <nil> [city] {\"city\":{\"type\":\"string\",\"description\":\"City name\"},\"days\":{\"type\":\"integer\",\"description\":\"Days\"},\"unit\":{\"type\":[\"string\",\"null\"],\"description\":\"Unit\",\"enum\":[\"c\",\"f\"]},\"when\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"number\"}],\"description\":\"When\"}}}}|[city]|{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Get the weather \\u003cnow\\u003e \\u0026 later\",\"parameters\":{\"type\":\"object\",\"required\":[\"city\"],\"properties\":{\"city\":{\"type\":\"string\",\"description\":\"City name\"},\"days\":{\"type\":\"integer\",\"description\":\"Days\"},\"unit\":{\"type\":[\"string\",\"null\"],\"description\":\"Unit\",\"enum\":[\"c\",\"f\"]},\"when\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"number\"}],\"description\":\"When\"}}}}}\n{noop  {object <nil> <nil> [] {}}}|[]|{\"type\":\"function\",\"function\":{\"name\":\"noop\",\"description\":\"\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}\n{0 get_weather {\"city\":\"Paris\",\"days\":3,\"unit\":null,\"x\":{\"a\":\"\\u003c\\u0026\\u003e\",\"b\":[1,2.5]}}}{1 noop {}}"},
    {"fim", "fim", false, -1, NULL, "    return c",
     "<|fim_prefix|>def add(a, b):<|fim_suffix|>    return c<|fim_middle|>"},
    {"qwen25", "fim", false, -1, NULL, "    return c",
     "<|im_start|>user\ndef add(a, b):<|im_end|>\n<|im_start|>assistant\n"},
    {"llama2legacy", "fim", false, -1, NULL, "    return c",
     "[INST] def add(a, b): [/INST] </s>"},
};

static const char *find(const struct named *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return v[i].text;
    return NULL;
}

static void test_render_table(void **state)
{
    (void)state;
    json_t *tools = json_loads(tools_json, 0, NULL);
    assert_non_null(tools);
    int bad = 0;
    for (size_t i = 0; i < OM_ARRAY_LEN(cases); i++) {
        const struct rcase *c = &cases[i];
        const char *src = find(templates, OM_ARRAY_LEN(templates), c->tmpl);
        const char *mj = find(messages, OM_ARRAY_LEN(messages), c->msgs);
        assert_non_null(src);
        assert_non_null(mj);
        struct tmpl *t;
        char err[512];
        assert_int_equal(tmpl_parse(src, strlen(src), &t, err, sizeof err), 0);
        json_t *msgs = json_loads(mj, 0, NULL);
        assert_non_null(msgs);
        struct prompt_chat_in in = {
            .tmpl = t, .messages = msgs, .tools = c->tools ? tools : NULL, .suffix = c->suffix,
            .think = c->think, .think_level = c->level, .truncate = true, .num_ctx = 4096,
        };
        char *out = NULL;
        size_t len = 0;
        int dropped = -1;
        int rc = prompt_chat(&in, &out, &len, &dropped, err, sizeof err);
        if (rc != 0 || strcmp(out, c->want) != 0) {
            printf("case %zu (%s/%s think=%d %s):\n--- want:\n%s\n--- got:\n%s\n", i, c->tmpl,
                   c->msgs, c->think, c->level ? c->level : "", c->want, rc ? err : out);
            bad++;
        } else {
            assert_int_equal(len, strlen(c->want));
            assert_int_equal(dropped, 0);
        }
        free(out);
        json_decref(msgs);
        tmpl_free(t);
    }
    json_decref(tools);
    assert_int_equal(bad, 0);
}

/* The AST facts Ollama derives from these templates. */
static void test_template_facts(void **state)
{
    (void)state;
    static const struct {
        const char *tmpl, *prefix, *open, *close;
        bool messages, response, tools, tc_text;
    } facts[] = {
        {"qwen25", "<tool_call>", "", "", true, true, true, true},
        {"qwen3", "<tool_call>", "<think>", "</think>", true, false, true, true},
        {"mistral", "[TOOL_CALLS][", "", "", true, false, true, true},
        /* text after .ToolCalls starts with '{': raw JSON calls */
        {"llama31", "{", "", "", true, false, true, true},
        {"deepseekr1", "{", "<think>", "</think>", true, false, false, false},
        {"llama3", "{", "", "", true, false, false, false},
        {"llama2legacy", "{", "", "", false, true, false, false},
        {"vicunalegacy", "{", "", "", false, false, false, false},
    };
    for (size_t i = 0; i < OM_ARRAY_LEN(facts); i++) {
        const char *src = find(templates, OM_ARRAY_LEN(templates), facts[i].tmpl);
        struct tmpl *t;
        char err[256];
        assert_int_equal(tmpl_parse(src, strlen(src), &t, err, sizeof err), 0);
        char *prefix, *open, *close;
        int rc = tmpl_tool_prefix(t, &prefix);
        assert_int_equal(rc, facts[i].tc_text ? 0 : OM_ENOTFOUND);
        assert_string_equal(prefix, facts[i].prefix);
        rc = tmpl_think_tags(t, &open, &close);
        assert_int_equal(rc, facts[i].open[0] ? 0 : OM_ENOTFOUND);
        assert_string_equal(open, facts[i].open);
        assert_string_equal(close, facts[i].close);
        assert_int_equal(tmpl_uses(t, "Messages"), facts[i].messages);
        assert_int_equal(tmpl_uses(t, ".messages"), facts[i].messages);
        assert_int_equal(tmpl_uses(t, "Response"), facts[i].response);
        assert_int_equal(tmpl_uses(t, "Tools"), facts[i].tools);
        free(prefix);
        free(open);
        free(close);
        tmpl_free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_table),
        cmocka_unit_test(test_template_facts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
