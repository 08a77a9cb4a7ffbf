/* cli: the table of subcommands (kept in one place so main.c never changes). */
#include "cli/cli.h"
#include "cli/cli_cluster.h"
#include "cli/cli_server.h"
#include "cli/cli_engine.h"
#include "cli/cli_store.h"
#include "cli/client.h"

const struct cli_command cli_commands[] = {
    {"generate", cli_cmd_generate},
    {"tokenize", cli_cmd_tokenize},
    {"embed", cli_cmd_embed},
    {"bench", cli_cmd_bench},
    {"quantize", cli_cmd_quantize},
    {"synth", cli_cmd_synth},
    {"serve", cli_cmd_serve},
    {"run", cli_cmd_run},
    {"pull", cli_cmd_pull},
    {"push", cli_cmd_push},
    {"create", cli_cmd_create},
    {"list", cli_cmd_list},
    {"ls", cli_cmd_list},
    {"ps", cli_cmd_ps},
    {"show", cli_cmd_show},
    {"cp", cli_cmd_cp},
    {"rm", cli_cmd_rm},
    {"stop", cli_cmd_stop},
    {"cluster", cli_cmd_cluster},
};
const size_t cli_n_commands = sizeof cli_commands / sizeof cli_commands[0];
