/* cli: shared helpers for the local tools — option parsing, JSON output on
 * stdout, and error reporting. Only cli/ prints or exits. */
#ifndef CLI_UTIL_H
#define CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Parses an integer/float option value; on failure prints
 * "Error: invalid value for FLAG: VALUE" and returns -1. */
int cli_parse_int(const char *flag, const char *v, long lo, long hi, long *out);
int cli_parse_float(const char *flag, const char *v, double *out);
/* Returns argv[*i+1] and advances *i, or prints "Error: FLAG needs a value"
 * and returns NULL. */
const char *cli_next(int argc, char **argv, int *i);

/* Writes s[0..n) as a JSON string literal (quotes included). Invalid UTF-8
 * bytes are written as U+FFFD so the output always parses. */
void cli_json_str(FILE *f, const char *s, size_t n);

/* Prints "Error: MSG" to stderr (the Ollama CLI's convention). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
