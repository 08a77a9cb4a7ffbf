/* cli: the `ollamamax` command. Local tools (generate, tokenize, embed,
 * bench) call the engine directly; only this module prints or exits. */
#include "cli/cli.h"
#include "cli/client.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ollamamax <command> [options]\n"
            "\n"
            "server and models (talk to the server at OLLAMA_HOST, as the ollama CLI):\n"
            "  serve                     start the server (see `ollamamax serve --help`)\n"
            "  run MODEL [PROMPT]        chat with a model, or answer one prompt\n"
            "  pull MODEL / push MODEL   download from / upload to a registry\n"
            "  create MODEL [-f Modelfile] [-q TYPE]\n"
            "  list | ls, ps, show MODEL, cp SRC DST, rm MODEL..., stop MODEL\n"
            "  cluster status|nodes|drain NODE|undrain NODE|leave|token|set KEY=VALUE\n"
            "\n"
            "local tools (work on a GGUF file directly):\n"
            "  generate -m FILE.gguf -p PROMPT -n N [--temp T] [--seed S] [-t THREADS] [--json]\n"
            "  tokenize -m FILE.gguf -p TEXT [--raw]\n"
            "  embed    -m FILE.gguf -p TEXT\n"
            "  bench    -m FILE.gguf [-p 128] [-n 32] [-t THREADS] [-r 5] [--json]\n"
            "  quantize IN.gguf OUT.gguf TYPE [-t THREADS]\n"
            "  synth    --arch ARCH | --preset NAME [--type T] [--seed S] -o OUT.gguf\n"
            "  version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-v")) {
        return cli_cmd_version(argc - 1, argv + 1);
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < cli_n_commands; i++)
        if (!strcmp(cmd, cli_commands[i].name))
            return cli_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "Error: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
