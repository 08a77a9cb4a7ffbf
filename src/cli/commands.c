/* cli: the table of subcommands (kept in one place so main.c never changes). */
#include "cli/cli.h"

const struct cli_command cli_commands[] = {
    {0, 0},
};
const size_t cli_n_commands = 0;
