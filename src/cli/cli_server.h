/* cli: the server command. */
#ifndef CLI_SERVER_H
#define CLI_SERVER_H
int cli_cmd_serve(int argc, char **argv);
#endif
