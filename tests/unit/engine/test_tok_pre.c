/* Pre-tokenizer splits for every family, including those whose vocabulary
 * files are not at hand (llama3, qwen2, tekken, gpt-4o, chameleon, poro,
 * viking).
 * Expected splits were produced by Python's `regex` module running the
 * original regex lists in llama.cpp's order (each regex refines the chunks
 * of the previous one): an independent implementation of the same rules.
 * Pieces are joined with \x01 below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tok_int.h"
#include "engine/unicode.h"

static const char *const texts[] = {
    "Hello, y'all! How ARE you \xf0\x9f\x98\x81 \x3f\xe6\x88\x91\xe6\x83\xb3\xe5\x9c\xa8" "apple\xe5\xb7\xa5\xe4\xbd\x9c" "1314151\xe5\xa4\xa9\xef\xbd\x9e",
    "  I'M here's THEY'LL\x0d\x0a\x0d\x0a  b\x0a \x0a c   ",
    "w048 7tuijk dsdfhu 1234567 \xd9\xa1\xd9\xa2\xd9\xa3 $+<=>^~|`@ ...!\x3f",
    "helloWorld ABCdef \xc3\x80" "B \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 iPhone a/b//\x0a<sentinel:12>IMGIMGABZ\x09    x",
};

static const struct {
    enum tok_pre pre;
    int text;
    const char *want;
} cases[] = {
    {TOK_PRE_DEFAULT, 0, "Hello\x01"",\x01"" y\x01""'\x01""all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x01""\x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""131\x01""415\x01""1\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_DEFAULT, 1, " \x01"" I\x01""'\x01""M\x01"" here\x01""'\x01""s\x01"" THEY\x01""'\x01""LL\x01""\x0d""\x0a""\x0d""\x0a"" \x01"" b\x01""\x0a"" \x0a""\x01"" c\x01""   "},
    {TOK_PRE_DEFAULT, 2, "w\x01""048\x01"" \x01""7\x01""tuijk\x01"" dsdfhu\x01"" \x01""123\x01""456\x01""7\x01"" \x01""\xd9""\xa1""\xd9""\xa2""\xd9""\xa3""\x01"" \x01""$+<=>^~|\x01""`\x01""@\x01"" \x01""...!\x3f"""},
    {TOK_PRE_DEFAULT, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a\x01""/\x01""b\x01""//\x01""\x0a""\x01""<\x01""sentinel\x01"":\x01""12\x01"">\x01""IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_LLAMA3, 0, "Hello\x01"",\x01"" y\x01""'all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""131\x01""415\x01""1\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_LLAMA3, 1, " \x01"" I\x01""'M\x01"" here\x01""'s\x01"" THEY\x01""'LL\x01""\x0d""\x0a""\x0d""\x0a""\x01"" \x01"" b\x01""\x0a"" \x0a""\x01"" c\x01""   "},
    {TOK_PRE_LLAMA3, 2, "w\x01""048\x01"" \x01""7\x01""tuijk\x01"" dsdfhu\x01"" \x01""123\x01""456\x01""7\x01"" \x01""\xd9""\xa1""\xd9""\xa2""\xd9""\xa3""\x01"" $+<=>^~|`@\x01"" ...!\x3f"""},
    {TOK_PRE_LLAMA3, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a\x01""/b\x01""//\x0a""\x01""<sentinel\x01"":\x01""12\x01"">IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_DEEPSEEK_LLM, 0, "Hello\x01"",\x01"" y\x01""'\x01""all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""\x01""apple\x01""\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""1314151\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_DEEPSEEK_LLM, 1, " \x01"" I\x01""'\x01""M\x01"" here\x01""'\x01""s\x01"" THEY\x01""'\x01""LL\x01""\x0d""\x01""\x0a""\x01""\x0d""\x01""\x0a""\x01"" \x01"" b\x01""\x0a""\x01"" \x01""\x0a""\x01"" c\x01""   "},
    {TOK_PRE_DEEPSEEK_LLM, 2, "w\x01""048\x01"" \x01""7\x01""tuijk\x01"" dsdfhu\x01"" \x01""1234567\x01"" \x01""\xd9""\xa1""\xd9""\xa2""\xd9""\xa3""\x01"" $+<=>^~|`@\x01"" ...!\x3f"""},
    {TOK_PRE_DEEPSEEK_LLM, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""\x01""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a\x01""/\x01""b\x01""//\x01""\x0a""\x01""<\x01""sentinel\x01"":\x01""12\x01"">\x01""IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_DEEPSEEK_CODER, 0, "Hello\x01"",\x01"" y\x01""'\x01""all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""\x01""apple\x01""\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""1\x01""3\x01""1\x01""4\x01""1\x01""5\x01""1\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_DEEPSEEK_CODER, 1, " \x01"" I\x01""'\x01""M\x01"" here\x01""'\x01""s\x01"" THEY\x01""'\x01""LL\x01""\x0d""\x01""\x0a""\x01""\x0d""\x01""\x0a""\x01"" \x01"" b\x01""\x0a""\x01"" \x01""\x0a""\x01"" c\x01""   "},
    {TOK_PRE_DEEPSEEK_CODER, 2, "w\x01""0\x01""4\x01""8\x01"" \x01""7\x01""tuijk\x01"" dsdfhu\x01"" \x01""1\x01""2\x01""3\x01""4\x01""5\x01""6\x01""7\x01"" \x01""\xd9""\xa1""\x01""\xd9""\xa2""\x01""\xd9""\xa3""\x01"" $+<=>^~|`\x01""@\x01"" ...!\x3f"""},
    {TOK_PRE_DEEPSEEK_CODER, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a\x01""/\x01""b\x01""//\x01""\x0a""\x01""<\x01""sentinel\x01"":\x01""1\x01""2\x01"">\x01""IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_FALCON, 0, "Hello\x01"",\x01"" y\x01""'\x01""all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x01""\x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""131\x01""415\x01""1\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_FALCON, 1, " \x01"" I\x01""'\x01""M\x01"" here\x01""'\x01""s\x01"" THEY\x01""'\x01""LL\x01""\x0d""\x0a""\x0d""\x0a"" \x01"" b\x01""\x0a"" \x0a""\x01"" c\x01""   "},
    {TOK_PRE_FALCON, 2, "w\x01""048\x01"" 7\x01""tuijk\x01"" dsdfhu\x01"" \x01""123\x01""456\x01""7\x01"" \xd9""\xa1""\xd9""\xa2""\xd9""\xa3""\x01"" \x01""$+<=>^~|`@\x01"" \x01""...!\x3f"""},
    {TOK_PRE_FALCON, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a\x01""/\x01""b\x01""//\x01""\x0a""\x01""<\x01""sentinel\x01"":\x01""12\x01"">\x01""IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_STARCODER, 0, "Hello\x01"",\x01"" y\x01""'\x01""all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""1\x01""3\x01""1\x01""4\x01""1\x01""5\x01""1\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_STARCODER, 1, " \x01"" I\x01""'\x01""M\x01"" here\x01""'s\x01"" THEY\x01""'\x01""LL\x01""\x0d""\x0a""\x0d""\x0a"" \x01"" b\x01""\x0a"" \x0a""\x01"" c\x01""   "},
    {TOK_PRE_STARCODER, 2, "w\x01""0\x01""4\x01""8\x01"" \x01""7\x01""tuijk\x01"" dsdfhu\x01"" \x01""1\x01""2\x01""3\x01""4\x01""5\x01""6\x01""7\x01"" \x01""\xd9""\xa1""\x01""\xd9""\xa2""\x01""\xd9""\xa3""\x01"" $+<=>^~|`@\x01"" ...!\x3f"""},
    {TOK_PRE_STARCODER, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a\x01""/\x01""b\x01""//\x01""\x0a""\x01""<\x01""sentinel\x01"":\x01""1\x01""2\x01"">\x01""IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_GPT2, 0, "Hello\x01"",\x01"" y\x01""'\x01""all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""1314151\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_GPT2, 1, " \x01"" I\x01""'\x01""M\x01"" here\x01""'s\x01"" THEY\x01""'\x01""LL\x01""\x0d""\x0a""\x0d""\x0a"" \x01"" b\x01""\x0a"" \x0a""\x01"" c\x01""   "},
    {TOK_PRE_GPT2, 2, "w\x01""048\x01"" 7\x01""tuijk\x01"" dsdfhu\x01"" 1234567\x01"" \xd9""\xa1""\xd9""\xa2""\xd9""\xa3""\x01"" $+<=>^~|`@\x01"" ...!\x3f"""},
    {TOK_PRE_GPT2, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a\x01""/\x01""b\x01""//\x01""\x0a""\x01""<\x01""sentinel\x01"":\x01""12\x01"">\x01""IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_QWEN2, 0, "Hello\x01"",\x01"" y\x01""'all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""1\x01""3\x01""1\x01""4\x01""1\x01""5\x01""1\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_QWEN2, 1, " \x01"" I\x01""'M\x01"" here\x01""'s\x01"" THEY\x01""'LL\x01""\x0d""\x0a""\x0d""\x0a""\x01"" \x01"" b\x01""\x0a"" \x0a""\x01"" c\x01""   "},
    {TOK_PRE_QWEN2, 2, "w\x01""0\x01""4\x01""8\x01"" \x01""7\x01""tuijk\x01"" dsdfhu\x01"" \x01""1\x01""2\x01""3\x01""4\x01""5\x01""6\x01""7\x01"" \x01""\xd9""\xa1""\x01""\xd9""\xa2""\x01""\xd9""\xa3""\x01"" $+<=>^~|`@\x01"" ...!\x3f"""},
    {TOK_PRE_QWEN2, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a\x01""/b\x01""//\x0a""\x01""<sentinel\x01"":\x01""1\x01""2\x01"">IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_PORO, 0, "Hello\x01"",\x01"" y'all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""1314151\xe5""\xa4""\xa9""\xef""\xbd""\x9e"""},
    {TOK_PRE_PORO, 1, " \x01"" I'M\x01"" here's\x01"" THEY'LL\x01""\x0d""\x0a""\x0d""\x0a"" \x01"" b\x01""\x0a"" \x0a""\x01"" c\x01""   "},
    {TOK_PRE_PORO, 2, "w048\x01"" 7tuijk\x01"" dsdfhu\x01"" 1234567\x01"" \xd9""\xa1""\xd9""\xa2""\xd9""\xa3""\x01"" $+<=>^~\x01""|\x01""`@\x01"" ...!\x3f"""},
    {TOK_PRE_PORO, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a/b//\x01""\x0a""\x01""<sentinel:12>IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_VIKING, 0, "Hello\x01"",\x01"" y'all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""1\x01""3\x01""1\x01""4\x01""1\x01""5\x01""1\x01""\xe5""\xa4""\xa9""\xef""\xbd""\x9e"""},
    {TOK_PRE_VIKING, 1, " \x01"" I'M\x01"" here's\x01"" THEY'LL\x01""\x0d""\x0a""\x0d""\x0a"" \x01"" b\x01""\x0a"" \x0a""\x01"" c\x01""   "},
    {TOK_PRE_VIKING, 2, "w\x01""0\x01""4\x01""8\x01"" \x01""7\x01""tuijk\x01"" dsdfhu\x01"" \x01""1\x01""2\x01""3\x01""4\x01""5\x01""6\x01""7\x01"" \x01""\xd9""\xa1""\x01""\xd9""\xa2""\x01""\xd9""\xa3""\x01"" $+<=>^~\x01""|\x01""`@\x01"" ...!\x3f"""},
    {TOK_PRE_VIKING, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a/b//\x01""\x0a""\x01""<sentinel:\x01""1\x01""2\x01"">IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_CHAMELEON, 0, "Hello\x01"",\x01"" y\x01""'\x01""all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x01""\x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""1\x01""3\x01""1\x01""4\x01""1\x01""5\x01""1\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_CHAMELEON, 1, "  \x01""I\x01""'\x01""M\x01"" here\x01""'\x01""s\x01"" THEY\x01""'\x01""LL\x01""\x0d""\x01""\x0a""\x01""\x0d""\x01""\x0a""\x01""  \x01""b\x01""\x0a""\x01"" \x01""\x0a""\x01"" c\x01""  \x01"" "},
    {TOK_PRE_CHAMELEON, 2, "w\x01""0\x01""4\x01""8\x01"" \x01""7\x01""tuijk\x01"" dsdfhu\x01"" \x01""1\x01""2\x01""3\x01""4\x01""5\x01""6\x01""7\x01"" \x01""\xd9""\xa1""\x01""\xd9""\xa2""\x01""\xd9""\xa3""\x01"" \x01""$\x01""+\x01""<\x01""=\x01"">\x01""^\x01""~\x01""|\x01""`\x01""@\x01"" \x01"".\x01"".\x01"".\x01""!\x01""\x3f"""},
    {TOK_PRE_CHAMELEON, 3, "helloWorld\x01"" ABCdef\x01"" \xc3""\x80""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" iPhone\x01"" a\x01""/\x01""b\x01""/\x01""/\x01""\x0a""\x01""<\x01""sentinel\x01"":\x01""1\x01""2\x01"">\x01""IMGIMGABZ\x01""\x09""\x01""    \x01""x"},
    {TOK_PRE_TEKKEN, 0, "Hello\x01"",\x01"" y\x01""'all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""1\x01""3\x01""1\x01""4\x01""1\x01""5\x01""1\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_TEKKEN, 1, " \x01"" I\x01""'M\x01"" here\x01""'s\x01"" THEY\x01""'LL\x01""\x0d""\x0a""\x0d""\x0a""\x01"" \x01"" b\x01""\x0a"" \x0a""\x01"" c\x01""   "},
    {TOK_PRE_TEKKEN, 2, "w\x01""0\x01""4\x01""8\x01"" \x01""7\x01""tuijk\x01"" dsdfhu\x01"" \x01""1\x01""2\x01""3\x01""4\x01""5\x01""6\x01""7\x01"" \x01""\xd9""\xa1""\x01""\xd9""\xa2""\x01""\xd9""\xa3""\x01"" $+<=>^~|`@\x01"" ...!\x3f"""},
    {TOK_PRE_TEKKEN, 3, "hello\x01""World\x01"" ABCdef\x01"" \xc3""\x80""\x01""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" i\x01""Phone\x01"" a\x01""/b\x01""//\x0a""\x01""<sentinel\x01"":\x01""1\x01""2\x01"">IMGIMGABZ\x01""\x09""   \x01"" x"},
    {TOK_PRE_GPT4O, 0, "Hello\x01"",\x01"" y\x01""'all\x01""!\x01"" How\x01"" ARE\x01"" you\x01"" \xf0""\x9f""\x98""\x81""\x01"" \x3f""\x01""\xe6""\x88""\x91""\xe6""\x83""\xb3""\xe5""\x9c""\xa8""apple\xe5""\xb7""\xa5""\xe4""\xbd""\x9c""\x01""131\x01""415\x01""1\x01""\xe5""\xa4""\xa9""\x01""\xef""\xbd""\x9e"""},
    {TOK_PRE_GPT4O, 1, " \x01"" I'M\x01"" here's\x01"" THEY'LL\x01""\x0d""\x0a""\x0d""\x0a""\x01"" \x01"" b\x01""\x0a"" \x0a""\x01"" c\x01""   "},
    {TOK_PRE_GPT4O, 2, "w\x01""048\x01"" \x01""7\x01""tuijk\x01"" dsdfhu\x01"" \x01""123\x01""456\x01""7\x01"" \x01""\xd9""\xa1""\xd9""\xa2""\xd9""\xa3""\x01"" $+<=>^~|`@\x01"" ...!\x3f"""},
    {TOK_PRE_GPT4O, 3, "hello\x01""World\x01"" ABCdef\x01"" \xc3""\x80""\x01""B\x01"" \xd0""\x9f""\xd1""\x80""\xd0""\xb8""\xd0""\xb2""\xd0""\xb5""\xd1""\x82""\x01"" i\x01""Phone\x01"" a\x01""/b\x01""//\x0a""\x01""<sentinel\x01"":\x01""12\x01"">IMGIMGABZ\x01""\x09""   \x01"" x"},
};

static void test_splits(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *t = texts[cases[k].text];
        size_t len = strlen(t), n = 0;
        uint32_t cps[512];
        for (size_t i = 0; i < len;)
            cps[n++] = unicode_utf8_next(t, len, &i);
        uint32_t *lens;
        size_t nw = tok_pre_split(cases[k].pre, cps, n, &lens);
        char got[2048];
        size_t g = 0, at = 0;
        for (size_t w = 0; w < nw; w++) {
            if (w)
                got[g++] = 1;
            for (uint32_t j = 0; j < lens[w]; j++)
                g += unicode_utf8_put(cps[at + j], got + g);
            at += lens[w];
        }
        got[g] = 0;
        assert_int_equal(at, n);
        if (strcmp(got, cases[k].want) != 0) {
            fprintf(stderr, "pre %d text %d:\n  want %s\n  got  %s\n", (int)cases[k].pre,
                    cases[k].text, cases[k].want, got);
            bad++;
        }
        free(lens);
    }
    assert_int_equal(bad, 0);
}

/* llama.cpp quirk kept on purpose: regexes without \p{..} see non-ASCII
 * whitespace as U+000B, so U+3000 matches \s? but not deepseek's literal
 * range that contains it. */
static void test_wide_whitespace(void **state)
{
    (void)state;
    static const uint32_t cps[] = {0x3000, 'x'};
    uint32_t *lens;
    size_t nw = tok_pre_split(TOK_PRE_DEEPSEEK_CODER, cps, 2, &lens);
    assert_int_equal(nw, 1);
    assert_int_equal(lens[0], 2);
    free(lens);
    nw = tok_pre_split(TOK_PRE_DEEPSEEK_LLM, cps, 2, &lens);
    assert_int_equal(nw, 1);
    free(lens);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splits),
        cmocka_unit_test(test_wide_whitespace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
