/* cli: command table. Each command file defines one `cli_cmd_<name>` and
 * registers it in commands.c. */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>

#define CLI_VERSION "0.32.0" /* = API_VERSION: client and server are one release */

struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

extern const struct cli_command cli_commands[];
extern const size_t cli_n_commands;

#endif
