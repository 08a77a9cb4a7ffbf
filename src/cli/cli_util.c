/* cli: option parsing and JSON output helpers. */
#include "cli/cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("Error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_parse_int(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || !end || end == v || *end || x < lo || x > hi) {
        cli_error("invalid value for %s: \"%s\" (expected an integer in [%ld, %ld])", flag, v, lo,
                  hi);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_parse_float(const char *flag, const char *v, double *out)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || !end || end == v || *end || !isfinite(x)) {
        cli_error("invalid value for %s: \"%s\" (expected a number)", flag, v);
        return -1;
    }
    *out = x;
    return 0;
}

const char *cli_next(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_parse_opts(int argc, char **argv, const struct cli_opt *opts, size_t n)
{
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        const struct cli_opt *o = NULL;
        for (size_t j = 0; j < n && !o; j++)
            if (!strcmp(f, opts[j].name) || (opts[j].alias && !strcmp(f, opts[j].alias)))
                o = &opts[j];
        if (!o) {
            cli_error("unknown flag: %s", f);
            return -1;
        }
        if (o->kind == CLI_FLAG) {
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = cli_next(argc, argv, &i);
        if (!v)
            return -1;
        if (o->kind == CLI_STR)
            *(const char **)o->dst = v;
        else if (o->kind == CLI_INT ? cli_parse_int(f, v, o->lo, o->hi, o->dst)
                                    : cli_parse_float(f, v, o->dst))
            return -1;
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    else if ((c & 0xE0) == 0xC0)
        len = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    unsigned cp = c & (0x3F >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void cli_json_str(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            i++;
        } else if (c == '\n') {
            fputs("\\n", f), i++;
        } else if (c == '\r') {
            fputs("\\r", f), i++;
        } else if (c == '\t') {
            fputs("\\t", f), i++;
        } else if (c < 0x20 || c == 0x7F) {
            fprintf(f, "\\u%04x", c), i++;
        } else {
            size_t l = utf8_len(p + i, n - i);
            if (!l) {
                fputs("\\ufffd", f);
                i++;
            } else {
                fwrite(p + i, 1, l, f);
                i += l;
            }
        }
    }
    fputc('"', f);
}
