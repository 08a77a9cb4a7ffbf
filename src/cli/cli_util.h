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

/* One command-line option: `name` and optional `alias` (e.g. "-m",
 * "--model"). STR stores the value's pointer in *(const char **)dst, INT a
 * long checked against [lo, hi], FLOAT a finite double, FLAG sets *(int *)dst
 * to 1 and takes no value. */
enum cli_opt_kind { CLI_STR, CLI_INT, CLI_FLOAT, CLI_FLAG };
struct cli_opt {
    const char *name, *alias;
    enum cli_opt_kind kind;
    void *dst;
    long lo, hi;
};

/* Parses argv[1..argc) against opts[0..n). On an unknown flag or a missing or
 * invalid value prints "Error: ..." and returns -1; 0 otherwise. */
int cli_parse_opts(int argc, char **argv, const struct cli_opt *opts, size_t n);

/* Writes s[0..n) as a JSON string literal (quotes included). Invalid UTF-8
 * bytes are written as U+FFFD so the output always parses. */
void cli_json_str(FILE *f, const char *s, size_t n);

/* Prints "Error: MSG" to stderr (the Ollama CLI's convention). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
