/* cli: model-file tools built on store/ — `quantize` and `synth`.
 * The coordinator registers these in commands.c. */
#ifndef CLI_STORE_H
#define CLI_STORE_H

/* ollamamax quantize IN.gguf OUT.gguf TYPE [-t THREADS] */
int cli_cmd_quantize(int argc, char **argv);
/* ollamamax synth --arch A | --preset NAME [--type T] [--seed S] [dims…] -o OUT.gguf */
int cli_cmd_synth(int argc, char **argv);

#endif
