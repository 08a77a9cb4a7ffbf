/* cli: pure text helpers of the server verbs — OLLAMA_HOST parsing, Go-style
 * durations, Ollama's human sizes/numbers/times, the borderless table and
 * the progress-bar line. No globals, no I/O except the table printer's FILE;
 * unit-tested by tests/unit/cli/test_client_fmt.c (which #includes
 * client_fmt.c and client_table.c). */
#ifndef CLI_CLIENT_FMT_H
#define CLI_CLIENT_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* OLLAMA_HOST as Ollama reads it: value trimmed of spaces and quotes,
 * "[scheme://]host[:port][/path]"; no scheme → http and port 11434, http://
 * without a port → 80, https:// → 443; a bad port falls back to the default;
 * "ollama.com" alone → https://ollama.com:443. For connecting, an empty or
 * unspecified host (0.0.0.0, ::) becomes loopback. Writes
 * "scheme://host:port[/path]" (IPv6 hosts in brackets) into base[0..n).
 * Returns 0, or OM_ERANGE when base is too small. NULL s = unset. */
int cli_host_parse(const char *s, char *base, size_t n);

/* Ollama's format.HumanBytes: decimal units, "%d B", "1.5 KB", "13 MB". */
void cli_fmt_bytes(int64_t b, char *out, size_t n);
/* format.HumanNumber: "8B", "1.5B", "137M", "1.25M", "4K", "999". */
void cli_fmt_number(uint64_t v, char *out, size_t n);
/* Go's time.Duration.String() of ns: "0s", "1.5s", "2m3s", "1h0m0s",
 * "12.5ms", "3µs", "80ns". */
void cli_fmt_go_duration(int64_t ns, char *out, size_t n);
/* The progress bar's ETA: "99h+", "1h2m", else Go's Round(second).String(). */
void cli_fmt_eta(int64_t ns, char *out, size_t n);
/* format.HumanTime relative to now (both in seconds since the epoch, with
 * fraction): "3 days ago", "4 minutes from now", "Less than a second ago",
 * "Forever" beyond 20 years ahead; t == 0 prints `zero`. */
void cli_fmt_time_rel(double t, double now, const char *zero, char *out, size_t n);

/* Go's time.ParseDuration: "300ms", "-1.5h", "1h30m", "0"; units ns us µs
 * ms s m h. Returns 0 and *ns, or OM_EINVAL (with the Go error text in err:
 * `time: invalid duration "x"` / `time: missing unit in duration "x"`). */
int cli_parse_go_duration(const char *s, int64_t *ns, char *err, size_t errlen);

/* RFC 3339 ("2024-05-01T10:00:00.123+02:00", "...Z") to seconds since the
 * epoch. Go's zero time (year 1) gives 0. Returns 0 or OM_EFORMAT. */
int cli_parse_rfc3339(const char *s, double *t);

/* The borderless table Ollama's CLI prints (tablewriter with NoWhiteSpace,
 * padding "    ", left aligned): every cell padded to its column's display
 * width, followed by the padding; the header row's last cell by one space.
 * Cells wider than `max_width` are wrapped at spaces onto extra lines. */
struct cli_table {
    size_t n_cols, n_rows, cap_rows;
    char **cells; /* n_rows * n_cols, owned */
    int has_header;
    int max_width; /* 30 as tablewriter's default */
};
void cli_table_init(struct cli_table *t, size_t n_cols, int max_width);
/* Appends a row of n_cols strings (copied). A NULL ends the row early:
 * shorter rows print fewer cells, as tablewriter does. */
void cli_table_add(struct cli_table *t, const char *const *row);
void cli_table_header(struct cli_table *t, const char *const *row);
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_close(struct cli_table *t);

/* Display width of UTF-8 text in columns (code points; East Asian wide and
 * emoji count 2). */
int cli_text_width(const char *s, size_t len);

/* One progress-bar line as Ollama's progress.Bar renders it:
 * "MSG  42% ▕███     ▏ 1.2 GB/2.0 GB  10 MB/s  1m20s" while running, and
 * "MSG 100% ▕█████████▏ 2.0 GB" plus blank fields once stopped. rate is
 * bytes/s (0 = unknown). Writes into out[0..n). */
void cli_fmt_bar(char *out, size_t n, const char *msg, int64_t cur, int64_t max, int stopped,
                 double rate, int term_width);

#endif
