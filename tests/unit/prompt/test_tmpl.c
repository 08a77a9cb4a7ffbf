/* Unit tests for the Go text/template interpreter (prompt/tmpl.h).
 *
 * The case table was produced by running every template through Go's own
 * text/template (Option("missingkey=zero") and Ollama's function map) on
 * the same data decoded into map[string]any, and recording Go's output or
 * error; rows whose output or error differs between Go and us are not in
 * the table (see the deviations test for the intended ones). Parse errors
 * carry a column that Go does not print ("template: :1:2: ..." for Go's
 * "template: :1: ..."). Data integers are turned into reals before
 * execution, as encoding/json decodes every number into float64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/om.h"
#include "prompt/tmpl.h"

static const char *const datasets[] = {
    "{\"Name\": \"Ann\", \"N\": 3, \"F\": 1.5, \"Big\": 1e+21, \"Small\": 1e-06, \"E\": \"\", \"T\": true, \"Fa\": false, \"L\": [\"a\", \"b\", \"c\"], \"M\": {\"b\": 2, \"a\": 1, \"c\": {\"x\": [1, 2]}}, \"Nil\": null, \"Empty\": [], \"EM\": {}, \"Msgs\": [{\"Role\": \"user\", \"Content\": \"hi\"}, {\"Role\": \"assistant\", \"Content\": \"yo\"}], \"Html\": \"<a href='x'>&\\\"\", \"U\": \"h\303\251llo w\303\266rld\", \"Num\": 1000000, \"Num2\": 123456, \"Neg\": -2.5}",
    "{\"A\": \"x\", \"L\": [\"a\", \"b\"], \"S\": \" sp \", \"M\": {\"k\": \"v\"}, \"N\": 2}",
};

struct tcase {
    int data;
    const char *tmpl, *out, *err;
};

static const struct tcase cases[] = {
    {0, "hello",
     "hello", NULL},
    {0, "{{.Name}}",
     "Ann", NULL},
    {0, "{{ .Name }}",
     "Ann", NULL},
    {0, "a {{- .Name -}} b",
     "aAnnb", NULL},
    {0, "a  {{- .Name}}  b",
     "aAnn  b", NULL},
    {0, "a {{.Name -}}\n\n b",
     "a Annb", NULL},
    {0, "{{/* comment */}}x",
     "x", NULL},
    {0, "a {{- /* c */ -}} b",
     "ab", NULL},
    {0, "{{.Missing}}",
     "<no value>", NULL},
    {0, "{{.Nil}}",
     "<no value>", NULL},
    {0, "{{.N}} {{.F}} {{.Big}} {{.Small}} {{.Num}} {{.Num2}} {{.Neg}}",
     "3 1.5 1e+21 1e-06 1e+06 123456 -2.5", NULL},
    {0, "{{.T}} {{.Fa}}",
     "true false", NULL},
    {0, "{{.L}}",
     "[a b c]", NULL},
    {0, "{{.M}}",
     "map[a:1 b:2 c:map[x:[1 2]]]", NULL},
    {0, "{{.Empty}}",
     "[]", NULL},
    {0, "{{.EM}}",
     "map[]", NULL},
    {0, "{{.Msgs}}",
     "[map[Content:hi Role:user] map[Content:yo Role:assistant]]", NULL},
    {0, "{{range .L}}[{{.}}]{{end}}",
     "[a][b][c]", NULL},
    {0, "{{range $i, $e := .L}}{{$i}}={{$e}},{{end}}",
     "0=a,1=b,2=c,", NULL},
    {0, "{{range $e := .L}}{{$e}}{{end}}",
     "abc", NULL},
    {0, "{{range $k, $v := .M}}{{$k}}:{{$v}};{{end}}",
     "a:1;b:2;c:map[x:[1 2]];", NULL},
    {0, "{{range .Empty}}x{{else}}empty{{end}}",
     "empty", NULL},
    {0, "{{range .Missing}}x{{else}}none{{end}}",
     "none", NULL},
    {0, "{{range .L}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}",
     "a", NULL},
    {0, "{{range .L}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}",
     "ac", NULL},
    {0, "{{if .T}}y{{else}}n{{end}}",
     "y", NULL},
    {0, "{{if .E}}y{{else if .N}}n{{.N}}{{else}}z{{end}}",
     "n3", NULL},
    {0, "{{if .Missing}}y{{else}}n{{end}}",
     "n", NULL},
    {0, "{{with .Name}}[{{.}}]{{end}}",
     "[Ann]", NULL},
    {0, "{{with .E}}x{{else}}empty{{end}}",
     "empty", NULL},
    {0, "{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}",
     "12", NULL},
    {0, "{{$x := .Name}}{{range .L}}{{$x}}{{.}}{{end}}",
     "AnnaAnnbAnnc", NULL},
    {0, "{{$}}",
     "map[Big:1e+21 E: EM:map[] Empty:[] F:1.5 Fa:false Html:<a href='x'>&\" L:[a b c] M:map[a:1 b:2 c:map[x:[1 2]]] Msgs:[map[Content:hi Role:user] map[Content:yo Role:assistant]] N:3 Name:Ann Neg:-2.5 Nil:<nil> Num:1e+06 Num2:123456 Small:1e-06 T:true U:h\303\251llo w\303\266rld]", NULL},
    {0, "{{$.Name}}",
     "Ann", NULL},
    {0, "{{range .Msgs}}{{.Role}}:{{.Content}} {{$.Name}}|{{end}}",
     "user:hi Ann|assistant:yo Ann|", NULL},
    {0, "{{and 1 0}} {{and 1 2}} {{or 0 \"\"}} {{or 0 3}} {{not 0}} {{not .L}}",
     "0 2  3 true false", NULL},
    {0, "{{eq 1 1}} {{eq .Name \"Ann\"}} {{eq .Name \"x\" \"Ann\"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}}",
     "true true true true true true true false", NULL},
    {0, "{{eq 1 \"a\"}}",
     NULL, "template: :1:2: executing \"\" at <eq 1 \"a\">: error calling eq: incompatible types for comparison"},
    {0, "{{eq .N 3}}",
     NULL, "template: :1:2: executing \"\" at <eq .N 3>: error calling eq: incompatible types for comparison"},
    {0, "{{lt .Missing 1}}",
     NULL, "template: :1:2: executing \"\" at <lt .Missing 1>: error calling lt: invalid type for comparison"},
    {0, "{{eq .Missing \"a\"}}",
     "false", NULL},
    {0, "{{eq .Missing .Nil}}",
     "true", NULL},
    {0, "{{len .L}} {{len .M}} {{len .Name}} {{len .U}}",
     "3 3 3 13", NULL},
    {0, "{{len 3}}",
     NULL, "template: :1:2: executing \"\" at <len 3>: error calling len: len of type int"},
    {0, "{{len .Missing}}",
     NULL, "template: :1:2: executing \"\" at <len .Missing>: error calling len: len of nil pointer"},
    {0, "{{index .L 1}} {{index .M \"a\"}} {{index .M \"zz\"}} {{index .M \"c\" \"x\" 1}}",
     "b 1 <no value> 2", NULL},
    {0, "{{index .L 5}}",
     NULL, "template: :1:2: executing \"\" at <index .L 5>: error calling index: index out of range: 5"},
    {0, "{{index \"abc\" 1}}",
     "98", NULL},
    {0, "{{slice .L 1}} {{slice .L 1 2}} {{slice .Name 1}} {{slice .Name 0 2}}",
     "[b c] [b] nn An", NULL},
    {0, "{{slice .L 2 1}}",
     NULL, "template: :1:2: executing \"\" at <slice .L 2 1>: error calling slice: invalid slice index: 2 > 1"},
    {0, "{{print 1 2 \"a\" \"b\" 3}}",
     "1 2ab3", NULL},
    {0, "{{println 1 \"a\"}}",
     "1 a\n", NULL},
    {0, "{{print .Nil}}",
     "<nil>", NULL},
    {0, "{{print .L .M}}",
     "[a b c] map[a:1 b:2 c:map[x:[1 2]]]", NULL},
    {0, "{{printf \"%d-%s-%v-%q\" 3 \"x\" .L \"q\\\"\"}}",
     "3-x-[a b c]-\"q\\\"\"", NULL},
    {0, "{{printf \"%5d|%-5s|%05.2f|%x|%X|%o|%b|%c|%U\" 42 \"ab\" 3.14159 255 255 8 5 65 65}}",
     "   42|ab   |03.14|ff|FF|10|101|A|U+0041", NULL},
    {0, "{{printf \"%d\" \"s\"}}",
     "%!d(string=s)", NULL},
    {0, "{{printf \"%s\" 5}}",
     "%!s(int=5)", NULL},
    {0, "{{printf \"%d %d\" 1}}",
     "1 %!d(MISSING)", NULL},
    {0, "{{printf \"%d\" 1 2}}",
     "1%!(EXTRA int=2)", NULL},
    {0, "{{printf \"%v %v\" .F .N}}",
     "1.5 3", NULL},
    {0, "{{printf \"%t %T %T %T\" true 1 \"s\" 1.5}}",
     "true int string float64", NULL},
    {0, "{{printf \"%e %g %G %.3g %.2e\" 1234.5678 0.0000123 1e20 1234.5678 1234.5678}}",
     "1.234568e+03 1.23e-05 1E+20 1.23e+03 1.23e+03", NULL},
    {0, "{{printf \"%6.2f|%-8.3f|%+d|% d\" 3.14159 2.5 5 5}}",
     "  3.14|2.500   |+5| 5", NULL},
    {0, "{{printf \"%v\" .Nil}}",
     "<nil>", NULL},
    {0, "{{printf \"100%%\"}}",
     "100%", NULL},
    {0, "{{printf \"%q\" \"tab\\there\\n\"}}",
     "\"tab\\there\\n\"", NULL},
    {0, "{{printf \"%x\" \"hi\"}}",
     "6869", NULL},
    {0, "{{printf \"%.2s\" \"h\303\251llo\"}}",
     "h\303\251", NULL},
    {0, "{{printf \"%5.1s|\" \"abc\"}}",
     "    a|", NULL},
    {0, "{{html .Html}}",
     "&lt;a href=&#39;x&#39;&gt;&amp;&#34;", NULL},
    {0, "{{js .Html}}",
     "\\u003Ca href\\u003D\\'x\\'\\u003E\\u0026\\\"", NULL},
    {0, "{{urlquery \"a b&c=d/\303\251\"}}",
     "a+b%26c%3Dd%2F%C3%A9", NULL},
    {0, "{{.Html | html}}",
     "&lt;a href=&#39;x&#39;&gt;&amp;&#34;", NULL},
    {0, "{{\"x\" | printf \"%s-%s\" \"a\"}}",
     "a-x", NULL},
    {0, "{{json .M}}",
     "{\"a\":1,\"b\":2,\"c\":{\"x\":[1,2]}}", NULL},
    {0, "{{json .L}}",
     "[\"a\",\"b\",\"c\"]", NULL},
    {0, "{{json .Html}}",
     "\"\\u003ca href='x'\\u003e\\u0026\\\"\"", NULL},
    {0, "{{json .Nil}}",
     "null", NULL},
    {0, "{{json .F}} {{json .Big}} {{json .Small}} {{json .Num}} {{json 1e-7}} {{json 123456789.0}}",
     "1.5 1e+21 0.000001 1000000 1e-7 123456789", NULL},
    {0, "{{json .Msgs}}",
     "[{\"Content\":\"hi\",\"Role\":\"user\"},{\"Content\":\"yo\",\"Role\":\"assistant\"}]", NULL},
    {0, "{{`raw\\n`}}",
     "raw\\n", NULL},
    {0, "{{\"esc\\t\\x41\\u00e9\"}}",
     "esc\tA\303\251", NULL},
    {0, "{{'a'}} {{0x1F}} {{1_000}} {{1e3}} {{1.0}} {{-5}} {{0o17}} {{0b101}}",
     "97 31 1000 1000 1 -5 15 5", NULL},
    {0, "{{(len .L)}}",
     "3", NULL},
    {0, "{{(.M).a}}",
     "1", NULL},
    {0, "{{len (slice .L 1)}}",
     "2", NULL},
    {0, "{{if and .T (eq .N 3)}}ok{{end}}",
     NULL, "template: :1:13: executing \"\" at <eq .N 3>: error calling eq: incompatible types for comparison"},
    {0, "{{.Missing.Foo}}",
     NULL, "template: :1:10: executing \"\" at <.Missing.Foo>: nil pointer evaluating interface {}.Foo"},
    {0, "{{.M.zz.Foo}}",
     NULL, "template: :1:4: executing \"\" at <.M.zz.Foo>: nil pointer evaluating interface {}.Foo"},
    {0, "{{$x := .Missing}}{{$x.Foo}}",
     "<no value>", NULL},
    {0, "{{template \"x\" .}}{{define \"x\"}}X{{.Name}}{{end}}",
     "XAnn", NULL},
    {0, "{{block \"b\" .N}}B{{.}}{{end}}",
     "B3", NULL},
    {0, "{{.Name",
     NULL, "template: :1:7: unclosed action"},
    {0, "{{end}}",
     NULL, "template: :1:0: unexpected {{end}}"},
    {0, "{{if .T}}x",
     NULL, "template: :1:10: unexpected EOF"},
    {0, "{{if .T}}x{{else}}y{{else}}z{{end}}",
     NULL, "template: :1:0: expected end; found {{else}}"},
    {0, "{{foo}}",
     NULL, "template: :1:2: function \"foo\" not defined"},
    {0, "{{$y}}",
     NULL, "template: :1:2: undefined variable \"$y\""},
    {0, "{{break}}",
     NULL, "template: :1:2: {{break}} outside {{range}}"},
    {0, "{{.Name | 1}}",
     NULL, "template: :1:10: non executable command in pipeline stage 2"},
    {0, "{{.Name 1}}",
     NULL, "template: :1:2: executing \"\" at <.Name>: Name is not a method but has arguments"},
    {0, "{{\"unterminated}}",
     NULL, "template: :1:2: unterminated quoted string"},
    {0, "{{/* x }}",
     NULL, "template: :1:0: unclosed comment"},
    {0, "{{range $a, $b, $c := .L}}{{end}}",
     NULL, "template: :1:14: too many declarations in range"},
    {0, "{{ nil }}",
     NULL, "template: :1:3: executing \"\" at <nil>: nil is not a command"},
    {0, "{{ }}",
     NULL, "template: :1:3: missing value for command"},
    {0, "{{.L | len}}",
     "3", NULL},
    {0, "{{\"a\" | eq \"a\"}}",
     "true", NULL},
    {0, "{{ printf }}",
     NULL, "template: :1:3: executing \"\" at <printf>: wrong number of args for printf: want at least 1 got 0"},
    {0, "line1\nline2 {{ eq 1 \"a\" }}",
     NULL, "template: :2:9: executing \"\" at <eq 1 \"a\">: error calling eq: incompatible types for comparison"},
    {0, "{{if}}{{end}}",
     NULL, "template: :1:4: missing value for if"},
    {0, "{{with $x := .Name}}{{$x}}{{end}}",
     "Ann", NULL},
    {0, "{{range $i, $_ := .L}}{{$i}}{{end}}",
     "012", NULL},
    {0, "{{- range .Msgs }}<|{{ .Role }}|>\n{{ .Content }}<|end|>\n{{ end }}<|assistant|>\n",
     "<|user|>\nhi<|end|>\n<|assistant|>\nyo<|end|>\n<|assistant|>\n", NULL},
    {0, "{{ $a := 1 }}{{ if true }}{{ $a = 2 }}{{ $b := 3 }}{{ end }}{{ $a }}",
     "2", NULL},
    {0, "{{range .L}}{{$v := .}}{{end}}ok",
     "ok", NULL},
    {0, "a{{- \"\" -}}\n  b",
     "ab", NULL},
    {0, "{{- \" \" -}}",
     " ", NULL},
    {0, " {{- 3 -}} ",
     "3", NULL},
    {0, "{{printf \"%v\" .M}} {{printf \"%v\" .L}}",
     "map[a:1 b:2 c:map[x:[1 2]]] [a b c]", NULL},
    {0, "{{index .L}}",
     "[a b c]", NULL},
    {0, "{{not}}",
     NULL, "template: :1:2: executing \"\" at <not>: wrong number of args for not: want 1 got 0"},
    {0, "{{and}}",
     NULL, "template: :1:2: executing \"\" at <and>: wrong number of args for and: want at least 1 got 0"},
    {0, "{{ 1.5e300 }} {{ 5e-324 }} {{ 100000.0 }} {{ 1000000.0 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1e6 }}",
     "1.5e+300 5e-324 100000 1e+06 0.0001 1e-05 1e+06", NULL},
    {0, "{{json 1e20}} {{json 1e21}} {{json 0.000001}} {{json 0.0000001}} {{json -0.0}}",
     "100000000000000000000 1e+21 0.000001 1e-7 -0", NULL},
    {1, " a \n {{- .A }} \n b ",
     " ax \n b ", NULL},
    {1, "{{ .A -}}\n\n\t x",
     "xx", NULL},
    {1, "{{- .A -}}",
     "x", NULL},
    {1, "{{ 3 -}}\n",
     "3", NULL},
    {1, "{{ -3 }}",
     "-3", NULL},
    {1, "{{-3}}",
     "-3", NULL},
    {1, "{{ .A }}{{- /* c */}}  x",
     "x  x", NULL},
    {1, "{{/* c */ -}}  x",
     "x", NULL},
    {1, "{{- /* c */}}",
     "", NULL},
    {1, "x  {{- /* c */ -}}  y",
     "xy", NULL},
    {1, "{{ \"a\" }}{{ `b` }}{{ 'c' }}",
     "ab99", NULL},
    {1, "{{ `multi\nline` }}",
     "multi\nline", NULL},
    {1, "{{ \"\\u00e9\\U0001F600\\101\" }}",
     "\303\251\360\237\230\200A", NULL},
    {1, "{{ '\\n' }}",
     "10", NULL},
    {1, "{{.A}}{{/* \n multi \n */}}{{.A}}",
     "xx", NULL},
    {1, "{{ if .A }}\n  yes\n{{- end }}",
     "\n  yes", NULL},
    {1, "{{ range .L -}}\n {{ . }}\n{{- end }}",
     "ab", NULL},
    {1, "{{ $x := \"v\" }}{{ $x }}",
     "v", NULL},
    {1, "{{ $x := .L }}{{ range $x }}{{ . }}{{ end }}",
     "ab", NULL},
    {1, "{{ range $i, $v := .L }}{{ $i }}{{ $v }}{{ end }}",
     "0a1b", NULL},
    {1, "{{ range $i, $v = .L }}{{ end }}",
     NULL, "template: :1:18: executing \"\" at <.L>: undefined variable: $i"},
    {1, "{{ $i := 0 }}{{ $v := 0 }}{{ range $i, $v = .L }}{{ end }}{{ $i }}{{ $v }}",
     "1b", NULL},
    {1, "{{ with $x := .M }}{{ $x.k }}{{ .k }}{{ end }}",
     "vv", NULL},
    {1, "{{ .M.k }}{{ $.M.k }}",
     "vv", NULL},
    {1, "{{ (index .L 0) }}",
     "a", NULL},
    {1, "{{ (.M).k }}",
     "v", NULL},
    {1, "{{ print (len .L) (len .M) }}",
     "2 1", NULL},
    {1, "{{ .L | len | printf \"%d items\" }}",
     "2 items", NULL},
    {1, "{{ \"x\" | printf \"%s%s\" \"y\" }}",
     "yx", NULL},
    {1, "{{ if (and .A .L) }}both{{ end }}",
     "both", NULL},
    {1, "{{ if or .Missing .A }}{{ or .Missing .A }}{{ end }}",
     "x", NULL},
    {1, "{{ eq .N 2 }}",
     NULL, "template: :1:3: executing \"\" at <eq .N 2>: error calling eq: incompatible types for comparison"},
    {1, "{{ eq .N 2.0 }}",
     "true", NULL},
    {1, "{{ lt .N 3.0 }}",
     "true", NULL},
    {1, "{{ len .S }}",
     "4", NULL},
    {1, "{{ slice .S 1 3 }}",
     "sp", NULL},
    {1, "{{ printf \"%-4s|%4s|\" .A .A }}",
     "x   |   x|", NULL},
    {1, "{{ printf \"%03d\" 7 }}",
     "007", NULL},
    {1, "{{ printf \"%x\" -255 }}",
     "-ff", NULL},
    {1, "{{ printf \"%#x %#o\" 255 8 }}",
     "0xff 010", NULL},
    {1, "{{ printf \"%.0f %.1f %f\" 2.5 0.05 1.0 }}",
     "2 0.1 1.000000", NULL},
    {1, "{{ printf \"%g %g %g\" 100000.0 1000000.0 0.0001 }}",
     "100000 1e+06 0.0001", NULL},
    {1, "{{ printf \"%v\" 1e-5 }}",
     "1e-05", NULL},
    {1, "{{ printf \"%s %v\" true nil }}",
     "%!s(bool=true) <nil>", NULL},
    {1, "{{ printf \"%d\" true }}",
     "%!d(bool=true)", NULL},
    {1, "{{ printf \"%\" }}",
     "%!(NOVERB)", NULL},
    {1, "{{ printf \"%z\" 1 }}",
     "%!z(int=1)", NULL},
    {1, "{{ printf \"%*d|%-*d|\" 5 1 4 2 }}",
     "    1|2   |", NULL},
    {1, "{{ printf \"%.*f\" 2 3.14159 }}",
     "3.14", NULL},
    {1, "{{ printf \"%q %c\" 65 66 }}",
     "'A' B", NULL},
    {1, "{{ printf \"%s\" .L }}",
     "[a b]", NULL},
    {1, "{{ html \"<b>\" 1 2 }}",
     "&lt;b&gt;1 2", NULL},
    {1, "{{ print \"a\" 1 2 \"b\" \"c\" }}",
     "a1 2bc", NULL},
    {1, "{{ print nil 1 }}",
     "<nil> 1", NULL},
    {1, "{{ println }}",
     "\n", NULL},
    {1, "{{ define \"t\" }}[{{ . }}]{{ end }}{{ template \"t\" .A }}{{ template \"t\" }}",
     "[x][<no value>]", NULL},
    {1, "{{ range .L }}{{ template \"r\" . }}{{ end }}{{ define \"r\" }}<{{ . }}>{{ end }}",
     "<a><b>", NULL},
    {1, "{{ index .M \"k\" }}{{ index .M \"nope\" }}",
     "v<no value>", NULL},
    {1, "{{ index .L -1 }}",
     NULL, "template: :1:3: executing \"\" at <index .L -1>: error calling index: index out of range: -1"},
    {1, "{{ index .L 1.0 }}",
     NULL, "template: :1:3: executing \"\" at <index .L 1.0>: error calling index: cannot index slice/array with type float64"},
    {1, "{{ index .L \"a\" }}",
     NULL, "template: :1:3: executing \"\" at <index .L \"a\">: error calling index: cannot index slice/array with type string"},
    {1, "{{ slice .L 0 0 }}|{{ slice .L }}",
     "[]|[a b]", NULL},
    {1, "{{ len (slice .L 0 1) }}",
     "1", NULL},
    {1, "{{ not .Missing }}{{ not \"\" }}{{ not 1 }}",
     "truetruefalse", NULL},
    {1, "{{ and .A .Missing }}",
     "<no value>", NULL},
    {1, "{{ or .Missing .Missing2 }}",
     "<no value>", NULL},
    {1, "{{ and 0 (index .L 9) }}",
     "0", NULL},
    {1, "{{ or 1 (index .L 9) }}",
     "1", NULL},
    {1, "{{ .A | eq \"x\" }}",
     "true", NULL},
    {1, "{{ ne .A \"x\" }}",
     "false", NULL},
    {1, "{{ ne 1 \"x\" }}",
     NULL, "template: :1:3: executing \"\" at <ne 1 \"x\">: error calling ne: incompatible types for comparison"},
    {1, "{{ gt 2 1 }}{{ ge 1 1 }}{{ le 1 0 }}",
     "truetruefalse", NULL},
    {1, "{{ lt true false }}",
     NULL, "template: :1:3: executing \"\" at <lt true false>: error calling lt: invalid type for comparison"},
    {1, "{{ eq .L .L }}",
     NULL, "template: :1:3: executing \"\" at <eq .L .L>: error calling eq: non-comparable type [a b]: []interface {}"},
    {1, "{{ eq .M .M }}",
     NULL, "template: :1:3: executing \"\" at <eq .M .M>: error calling eq: non-comparable type map[k:v]: map[string]interface {}"},
    {1, "{{ eq nil nil }}",
     "true", NULL},
    {1, "{{ range .M }}{{ . }}{{ end }}",
     "v", NULL},
    {1, "{{ range $k, $v := .M }}{{ $k }}{{ $v }}{{ end }}",
     "kv", NULL},
    {1, "{{ range .A }}{{ end }}",
     NULL, "template: :1:9: executing \"\" at <.A>: range can't iterate over x"},
    {1, "{{ $.A }}",
     "x", NULL},
    {1, "{{ $ }}",
     "map[A:x L:[a b] M:map[k:v] N:2 S: sp ]", NULL},
    {1, "{{ . }}",
     "map[A:x L:[a b] M:map[k:v] N:2 S: sp ]", NULL},
    {1, "{{ if .L }}{{ range .L }}{{ if eq . \"a\" }}A{{ else }}{{ . }}{{ end }}{{ end }}{{ end }}",
     "Ab", NULL},
    {1, "{{- range $i, $_ := .L }}{{ if $i }}, {{ end }}{{ . }}{{ end }}",
     "a, b", NULL},
    {1, "{{ with .Missing }}x{{ end }}ok",
     "ok", NULL},
    {1, "{{ with .L }}{{ len . }}{{ end }}",
     "2", NULL},
    {1, "{{ $x := 1 }}{{ with $x := 2 }}{{ $x }}{{ end }}{{ $x }}",
     "21", NULL},
    {1, "{{ range .L }}{{ $x := . }}{{ end }}{{ $x }}",
     NULL, "template: :1:39: undefined variable \"$x\""},
    {1, "{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}",
     NULL, "template: :1:38: undefined variable \"$y\""},
    {1, "{{ 0x }}",
     NULL, "template: :1:3: illegal number syntax: \"0x\""},
    {1, "{{ 1e }}",
     NULL, "template: :1:3: illegal number syntax: \"1e\""},
    {1, "{{ 0x1p4 }}",
     "16", NULL},
    {1, "{{ 1_0.5 }}",
     "10.5", NULL},
    {1, "{{ \"a\nb\" }}",
     NULL, "template: :1:3: unterminated quoted string"},
    {1, "{{ ( }}",
     NULL, "template: :1:5: unclosed left paren"},
    {1, "{{ (1 }}",
     NULL, "template: :1:6: unclosed left paren"},
    {1, "{{ .A | }}",
     "x", NULL},
    {1, "{{ | .A }}",
     NULL, "template: :1:3: unexpected \"|\" in command"},
    {1, "{{ .A := 1 }}",
     NULL, "template: :1:6: unexpected \":=\" in operand"},
    {1, "{{ $x := }}",
     NULL, "template: :1:9: missing value for command"},
    {1, "{{ $x = 1 }}",
     NULL, "template: :1:8: executing \"\" at <1>: undefined variable: $x"},
    {1, "{{ else }}",
     NULL, "template: :1:0: unexpected {{else}}"},
    {1, "{{ if 1 }}{{ else if 2 }}{{ else }}{{ end }}{{ end }}",
     NULL, "template: :1:44: unexpected {{end}}"},
    {1, "{{ range .L }}{{ else if .A }}{{ end }}",
     NULL, "template: :1:22: unexpected <if> in input"},
    {1, "{{ if .A }}{{ break }}{{ end }}",
     NULL, "template: :1:14: {{break}} outside {{range}}"},
    {1, "{{ range .L }}{{ break 1 }}{{ end }}",
     NULL, "template: :1:23: unexpected \"1\" in {{break}}"},
    {1, "{{ template }}",
     NULL, "template: :1:12: unexpected \"}}\" in template clause"},
    {1, "{{ template \"x\" }}{{ define \"x\" }}{{ else }}{{ end }}",
     NULL, "template: :1:18: unexpected {{else}} in define clause"},
    {1, "{{ define \"x\" }}",
     NULL, "template: :1:16: unexpected EOF"},
    {1, "{{ .A.1 }}",
     NULL, "template: :1:5: unexpected \".1\" in operand"},
    {1, "{{ .A .B }}",
     NULL, "template: :1:3: executing \"\" at <.A>: A is not a method but has arguments"},
    {1, "{{ true }}{{ false }}",
     "truefalse", NULL},
    {1, "{{ $x, $y := 1 }}",
     NULL, "template: :1:5: too many declarations in command"},
    {1, "{{ range $x, := .L }}{{ end }}",
     NULL, "template: :1:13: range can only initialize variables"},
};

static json_t *go_numbers(const json_t *j)
{
    if (json_is_integer(j))
        return json_real((double)json_integer_value(j));
    if (json_is_array(j)) {
        json_t *a = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) json_array_append_new(a, go_numbers(v));
        return a;
    }
    if (json_is_object(j)) {
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) json_object_set_new(o, k, go_numbers(v));
        return o;
    }
    return json_incref((json_t *)j);
}

/* Parses and executes; returns the output (caller frees) or NULL with err. */
static char *render(const char *src, const json_t *data, char *err, size_t errlen, int *rc)
{
    struct tmpl *t = NULL;
    char *out = NULL;
    size_t n = 0;
    *rc = tmpl_parse(src, strlen(src), &t, err, errlen);
    if (*rc == 0) {
        *rc = tmpl_exec(t, data, &out, &n, err, errlen);
        if (*rc == 0)
            assert_int_equal(strlen(out), n);
    }
    tmpl_free(t);
    return out;
}

static void test_go_table(void **state)
{
    (void)state;
    json_t *data[OM_ARRAY_LEN(datasets)];
    for (size_t i = 0; i < OM_ARRAY_LEN(datasets); i++) {
        json_t *raw = json_loads(datasets[i], 0, NULL);
        assert_non_null(raw);
        data[i] = go_numbers(raw);
        json_decref(raw);
    }
    int bad = 0;
    for (size_t i = 0; i < OM_ARRAY_LEN(cases); i++) {
        const struct tcase *c = &cases[i];
        char err[512] = "";
        int rc;
        char *out = render(c->tmpl, data[c->data], err, sizeof err, &rc);
        bool ok = c->out ? (rc == 0 && strcmp(out, c->out) == 0)
                         : (rc < 0 && out == NULL && strcmp(err, c->err) == 0);
        if (!ok) {
            printf("case %zu: %s\n  want out=%s err=%s\n  got  out=%s err=%s\n", i, c->tmpl,
                   c->out ? c->out : "-", c->err ? c->err : "-", out ? out : "-", err);
            bad++;
        }
        free(out);
    }
    for (size_t i = 0; i < OM_ARRAY_LEN(datasets); i++)
        json_decref(data[i]);
    assert_int_equal(bad, 0);
}

static void expect(const char *tmpl, const char *data_json, const char *want)
{
    json_t *d = data_json ? json_loads(data_json, 0, NULL) : NULL;
    char err[512] = "";
    int rc;
    char *out = render(tmpl, d, err, sizeof err, &rc);
    if (rc != 0 || strcmp(out, want) != 0)
        printf("template %s\n  want %s\n  got  %s (%s)\n", tmpl, want, out ? out : "-", err);
    assert_int_equal(rc, 0);
    assert_string_equal(out, want);
    free(out);
    json_decref(d);
}

static void expect_err(const char *tmpl, const char *data_json, int want_rc, const char *want)
{
    json_t *d = data_json ? json_loads(data_json, 0, NULL) : NULL;
    char err[512] = "";
    int rc;
    char *out = render(tmpl, d, err, sizeof err, &rc);
    if (rc != want_rc || !strstr(err, want))
        printf("template %.60s\n  want rc %d, error containing %s\n  got rc %d: %s\n", tmpl,
               want_rc, want, rc, err);
    assert_null(out);
    assert_int_equal(rc, want_rc);
    assert_non_null(strstr(err, want));
    json_decref(d);
}

/* Behaviour of the Go version Ollama builds with (newer than the Go that
 * made the table): else-with, range over an integer, \b and \f in json. */
static void test_newer_go(void **state)
{
    (void)state;
    expect("{{with .E}}x{{else with .N}}{{.}}{{end}}", "{\"E\":\"\",\"N\":\"n\"}", "n");
    expect("{{range 3}}{{.}}{{end}}|{{range $i := 2}}{{$i}}{{end}}|{{range 0}}x{{else}}none{{end}}",
           NULL, "012|01|none");
    expect("{{json \"\\b\\f\\u2028\"}}", NULL, "\"\\b\\f\\u2028\"");
    expect_err("{{range $i, $c := 3}}{{end}}", NULL, OM_EFORMAT,
               "can't use 3 to iterate over more than one variable");
}

/* JSON integers are Go ints, reals float64: Ollama's .Function.Index is an
 * int, so comparing it with 0 works, and with 0.0 is an error as in Go. */
static void test_int_kinds(void **state)
{
    (void)state;
    expect("{{eq .I 0}} {{lt .I 1}} {{printf \"%d/%v/%T\" .I .F .F}} {{.F}}",
           "{\"I\":0,\"F\":2.0}", "true true 0/2/float64 2");
    expect_err("{{eq .I 0.0}}", "{\"I\":0}", OM_EFORMAT,
               "error calling eq: incompatible types for comparison");
    expect("{{index .L 1}} {{slice .L 1}} {{len .L}}", "{\"L\":[10,20,30]}", "20 [20 30] 3");
}

/* Objects marked as Ollama structs: missing fields are errors, json uses
 * the struct tags, "Tool" prints as JSON; Arguments print as JSON. */
static void test_go_structs(void **state)
{
    (void)state;
    const char *tool = "{\"Tools\":[{\"\\u0001T\":\"Tool\",\"Type\":\"function\",\"Items\":null,"
                       "\"Function\":{\"\\u0001T\":\"ToolFunction\",\"Name\":\"f\","
                       "\"Description\":\"\",\"Parameters\":{\"\\u0001T\":\"ToolParams\","
                       "\"Type\":\"object\",\"Defs\":null,\"Items\":null,\"Required\":[],"
                       "\"Properties\":{\"b\":{\"\\u0001T\":\"ToolProperty\",\"AnyOf\":[],"
                       "\"Type\":\"string\",\"Items\":null,\"Description\":\"B\",\"Enum\":[],"
                       "\"Properties\":null,\"Required\":[]},\"a\":{\"\\u0001T\":"
                       "\"ToolProperty\",\"AnyOf\":[],\"Type\":[\"integer\",\"null\"],"
                       "\"Items\":null,\"Description\":\"\",\"Enum\":[],\"Properties\":null,"
                       "\"Required\":[]}}}}}],\"Args\":{\"Arguments\":{\"z\":1,\"a\":\"<\"}}}";
    const char *want_tool = "{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":"
                            "\"\",\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":"
                            "{\"type\":[\"integer\",\"null\"]},\"b\":{\"type\":\"string\","
                            "\"description\":\"B\"}}}}}";
    char want[1024];
    snprintf(want, sizeof want, "[%s]|%s|[%s]", want_tool, want_tool, want_tool);
    expect("{{.Tools}}|{{range .Tools}}{{.}}{{end}}|{{json .Tools}}", tool, want);
    expect("{{range .Tools}}{{range $k, $v := .Function.Parameters.Properties}}{{$k}}={{$v.Type}}:"
           "{{toTypeScriptType $v}};{{end}}{{end}}",
           tool, "a=[integer null]:number | null;b=string:string;");
    expect("{{.Args.Arguments}} {{json .Args.Arguments}} {{toTypeScriptType .Args}}", tool,
           "{\"a\":\"\\u003c\",\"z\":1} {\"a\":\"\\u003c\",\"z\":1} any");
    expect_err("{{range .Tools}}{{.Nope}}{{end}}", tool, OM_EFORMAT,
               "can't evaluate field Nope in type Tool");
    expect_err("{{range .Tools}}{{len .}}{{end}}", tool, OM_EFORMAT, "len of type Tool");
}

static void test_functions_misc(void **state)
{
    (void)state;
    char today[16];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    char want[64];
    snprintf(want, sizeof want, "%s|%s", today, today);
    json_t *d = NULL;
    char err[256];
    int rc;
    char *out = render("{{currentDate}}|{{currentDate \"2006\"}}|{{yesterdayDate}}", d, err,
                       sizeof err, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(strncmp(out, want, strlen(want)), 0);
    assert_int_equal(strlen(out), 32);
    free(out);
    expect("{{html \"<a&'\\\">\"}} {{js \"a'b<\\n\"}} {{urlquery \"a b/c?d=é\"}}", NULL,
           "&lt;a&amp;&#39;&#34;&gt; a\\'b\\u003C\\u000A a+b%2Fc%3Fd%3D%C3%A9");
    expect("{{printf \"%q|%8.3f|%-6d|%+.1e|%x|%c|%U|%%|%s\" \"a\\\"b\" 3.14159 42 12345.0 \"hi\" "
           "9731 9731 .S}}",
           "{\"S\":\"str\"}", "\"a\\\"b\"|   3.142|42    |+1.2e+04|6869|☃|U+2603|%|str");
}

/* Parse errors name line and column. */
static void test_parse_errors(void **state)
{
    (void)state;
    expect_err("line1\n  {{ .A | | }}", NULL, OM_EFORMAT,
               "template: :2:10: unexpected \"|\" in command");
    expect_err("{{ if .A }}x", NULL, OM_EFORMAT, "unexpected EOF");
    expect_err("a\nb\n{{ foo }}", NULL, OM_EFORMAT, "template: :3:3: function \"foo\" not defined");
    expect_err("{{ $x }}", NULL, OM_EFORMAT, "undefined variable \"$x\"");
    expect_err("{{ end }}", NULL, OM_EFORMAT, "unexpected {{end}}");
    expect_err("{{ .A ", NULL, OM_EFORMAT, "unclosed action");
    expect_err("{{/* x", NULL, OM_EFORMAT, "unclosed comment");
    expect_err("{{ continue }}", NULL, OM_EFORMAT, "{{continue}} outside {{range}}");
    /* execution errors carry Go's "executing" context */
    expect_err("ab\ncd {{ index .L 3 }}", "{\"L\":[1]}", OM_EFORMAT,
               "template: :2:6: executing \"\" at <index .L 3>: error calling index: index out "
               "of range: 3");
}

static void test_null_args(void **state)
{
    (void)state;
    char *out = (char *)1;
    char err[64];
    assert_int_equal(tmpl_exec(NULL, NULL, &out, NULL, err, sizeof err), OM_EINVAL);
    assert_null(out);
    tmpl_free(NULL);
    struct tmpl *t;
    assert_int_equal(tmpl_parse("", 0, &t, err, sizeof err), 0);
    assert_int_equal(tmpl_exec(t, NULL, &out, NULL, err, sizeof err), 0);
    assert_string_equal(out, "");
    free(out);
    /* the source need not be NUL-terminated */
    tmpl_free(t);
    assert_int_equal(tmpl_parse("{{ .A }}GARBAGE{{", 8, &t, err, sizeof err), 0);
    json_t *d = json_pack("{s:s}", "A", "ok");
    assert_int_equal(tmpl_exec(t, d, &out, NULL, err, sizeof err), 0);
    assert_string_equal(out, "ok");
    free(out);
    json_decref(d);
    tmpl_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_table),      cmocka_unit_test(test_newer_go),
        cmocka_unit_test(test_int_kinds),     cmocka_unit_test(test_go_structs),
        cmocka_unit_test(test_functions_misc), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_null_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
