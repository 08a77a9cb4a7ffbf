/* cli: the local engine tools — generate, tokenize, embed, bench. Each
 * loads a GGUF file directly (no server) and prints its result on stdout. */
#ifndef CLI_ENGINE_H
#define CLI_ENGINE_H

struct eng_model;

/* ollamamax generate -m FILE -p PROMPT -n N [--temp T] [--seed S] [-t N] [--json] */
int cli_cmd_generate(int argc, char **argv);
/* ollamamax tokenize -m FILE -p TEXT [--raw] */
int cli_cmd_tokenize(int argc, char **argv);
/* ollamamax embed -m FILE -p TEXT */
int cli_cmd_embed(int argc, char **argv);
/* ollamamax bench -m FILE [-p 128] [-n 32] [-t N] [-r 5] [--json] */
int cli_cmd_bench(int argc, char **argv);

/* Loads path, printing "Error: ..." on failure. vocab_only skips weights. */
int cli_model_open(const char *path, int vocab_only, struct eng_model **out);
/* Tokenizes text with the model's vocabulary into a malloc'd array. */
int cli_tokenize(const struct eng_model *m, const char *text, int add_special, int parse_special,
                 int **ids, int *n);

#endif
