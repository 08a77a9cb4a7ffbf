/* cli: the table of subcommands (kept in one place so main.c never changes). */
#include "cli/cli.h"
#include "cli/cli_engine.h"
#include "cli/cli_store.h"

const struct cli_command cli_commands[] = {
    {"generate", cli_cmd_generate},
    {"tokenize", cli_cmd_tokenize},
    {"embed", cli_cmd_embed},
    {"bench", cli_cmd_bench},
    {"quantize", cli_cmd_quantize},
    {"synth", cli_cmd_synth},
};
const size_t cli_n_commands = sizeof cli_commands / sizeof cli_commands[0];
