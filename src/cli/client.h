/* cli: the server verbs (run, pull, push, create, list, ps, show, cp, rm,
 * stop) as thin HTTP clients of an Ollama-compatible server at OLLAMA_HOST,
 * as Ollama's own CLI is. Transport is libcurl; replies are JSON (jansson),
 * streams are NDJSON read line by line. Errors reach the user as
 * "Error: <message>" with the server's {"error"} text, exit status 1.
 *
 * Pure text helpers (host parsing, sizes, durations, tables, progress bars)
 * live in client_fmt.c/client_fmt.h so unit tests can compile them alone. */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One connection target. `base` is "scheme://host:port[/path]" without a
 * trailing slash, as derived from OLLAMA_HOST (see cli_host_parse). */
struct cli_client {
    char base[512];
    long status;    /* HTTP status of the last reply, 0 when none came */
    char err[1024]; /* message of the last failure */
    int insecure;   /* skip TLS verification of OLLAMA_HOST (no verb sets it: --insecure
                     * is the registry flag passed to the server, as in Ollama) */
};

/* Fills c from the OLLAMA_HOST environment variable (default
 * 127.0.0.1:11434). Returns 0, or OM_EINVAL with c->err set. */
int cli_client_init(struct cli_client *c);

/* Sends METHOD PATH with `body` (borrowed, may be NULL) as JSON and reads the
 * whole reply. On 2xx returns 0 and, when `reply` is non-NULL, gives the
 * parsed body in *reply (NULL for an empty body; the caller json_decref()s it).
 * On failure returns a negative code: OM_EIO when the server is unreachable
 * (c->err says so as Ollama does), OM_ENOTFOUND for a 404, OM_EFORMAT for
 * other HTTP errors or a malformed reply; c->err then holds the server's
 * {"error"} text (or the raw body) and c->status the HTTP status. */
int cli_client_call(struct cli_client *c, const char *method, const char *path, json_t *body,
                    json_t **reply);

/* Called once per NDJSON object of a stream; `obj` is borrowed for the call.
 * A nonzero return stops the stream, and cli_client_stream returns it. */
typedef int (*cli_stream_fn)(json_t *obj, void *ud);

/* POSTs `body` (borrowed) to PATH and feeds each reply line to fn. An
 * {"error"} line ends the stream with OM_EFORMAT and the message in c->err.
 * An HTTP error status before the stream is reported like Ollama's Go client:
 * c->err = "<code> <reason>: <message>". Returns 0 when the stream ended
 * normally. Lines are bounded (16 MiB); a longer one is OM_ENOMEM. */
int cli_client_stream(struct cli_client *c, const char *path, json_t *body, cli_stream_fn fn,
                      void *ud);

/* HEAD PATH: returns the HTTP status (> 0) or a negative code. */
int cli_client_head(struct cli_client *c, const char *path);

/* Called during an upload with the bytes sent so far. */
typedef void (*cli_upload_fn)(uint64_t sent, uint64_t total, void *ud);

/* POSTs the file at `file_path` (streamed from disk, never held in memory) to
 * PATH as application/octet-stream. Returns 0 on a 2xx reply, else as
 * cli_client_call. */
int cli_client_upload(struct cli_client *c, const char *path, const char *file_path,
                      cli_upload_fn fn, void *ud);

/* SIGINT during a request: begin installs a handler that makes the running
 * transfer stop with OM_ECANCELED; end restores the default and returns 1
 * when Ctrl-C was pressed in between. */
void cli_client_sigint_begin(void);
int cli_client_sigint_end(void);

/* Progress display on stderr (progress.c), Ollama's progress package: a
 * stack of lines, each a spinner ("pulling manifest ⠋") or a bar, redrawn
 * every 100 ms by a thread while stderr is a terminal. When stderr is not a
 * terminal each status is printed once as a plain line and each bar once
 * when it completes. All functions are safe on a NULL progress. */
struct cli_progress;
struct cli_progress *cli_progress_new(void);
/* Stops the current spinner and adds a new one with msg (borrowed, copied). */
void cli_progress_spinner(struct cli_progress *p, const char *msg);
/* Replaces the current spinner's message (no new line). */
void cli_progress_spinner_msg(struct cli_progress *p, const char *msg);
void cli_progress_spinner_stop(struct cli_progress *p);
/* Sets the bar named `key` (added with label `msg` on first use) to
 * completed/total bytes. */
void cli_progress_bar(struct cli_progress *p, const char *key, const char *msg, int64_t total,
                      int64_t completed);
/* Final render and a newline (stop) or erasing every line (stop_clear);
 * then frees p. */
void cli_progress_stop(struct cli_progress *p);
void cli_progress_stop_clear(struct cli_progress *p);

/* Splits argv[1..argc) into options of `opts` (also written "--name=value")
 * and positional arguments, stored in order in pos[0..*npos) (at most
 * max_pos). "--" ends the options. Prints "Error: ..." and returns -1 on an
 * unknown flag, a missing/invalid value or too many arguments. */
struct cli_opt;
int cli_client_args(int argc, char **argv, const struct cli_opt *opts, size_t n, char **pos,
                    int max_pos, int *npos);

/* Prints "Error: <c->err>" to stderr and returns 1 (the exit status). */
int cli_client_fail(const struct cli_client *c);

/* Ollama's loadOrUnloadModel: /api/show (errors as they come), then an
 * /api/generate with an empty prompt, the given keep_alive (borrowed; NULL =
 * server default; a 0 duration unloads) and think (borrowed, may be NULL).
 * Returns 0 or a negative code with c->err set. */
int cli_client_load(struct cli_client *c, const char *model, json_t *keep_alive, json_t *think);

/* Prints the default `show` view of an /api/show reply (borrowed) as
 * Ollama's showInfo: sections Model, Capabilities, Projector, Parameters,
 * (verbose: Metadata, Tensors), System, License. */
void cli_show_info(json_t *show_reply, int verbose, FILE *f);

/* ---- shared by run (cmd_run.c), the REPL (repl.c) and pull ---------------- */

/* Session state of `run`, owned by it: the strings and JSON values are owned
 * references (freed by cli_run_opts_close). */
struct cli_run_opts {
    char *model, *parent_model, *system;
    json_t *options;         /* object of /set parameter values */
    json_t *messages;        /* chat history of this session */
    json_t *loaded_messages; /* the model's MESSAGEs from /api/show */
    json_t *keep_alive;      /* NULL = server default */
    json_t *think;           /* NULL = unset; true/false/"high"... */
    int think_explicit, hide_thinking, verbose, wordwrap, format_json, multimodal;
};
void cli_run_opts_close(struct cli_run_opts *o);

/* Streams text to stdout, word-wrapping at the terminal width like Ollama's
 * displayResponse when `wrap` is set (and stdout is a terminal). */
struct cli_display {
    int wrap, width, line_len;
    char word[512];
    size_t word_len;
};
void cli_display_init(struct cli_display *d, int wrap);
void cli_display_text(struct cli_display *d, const char *s);

/* Ollama's Metrics.Summary of a final reply (borrowed) on stderr. */
void cli_run_summary(json_t *final_reply);

/* One streamed /api/generate of prompt (borrowed) shown as Ollama's run
 * does; returns the exit status (0 also when Ctrl-C stopped it). */
int cli_run_generate(struct cli_client *c, struct cli_run_opts *o, const char *prompt);

/* Runs the interactive REPL (/api/chat) on o until /bye or EOF; returns the
 * exit status. */
int cli_repl_run(struct cli_client *c, struct cli_run_opts *o);
/* One /api/chat exchange with o->messages; gives the assistant message
 * ({"role","content"[,"thinking"]}) in *reply (NULL if interrupted). */
int cli_run_chat(struct cli_client *c, struct cli_run_opts *o, json_t **reply);

/* REPL slash commands (repl_cmds.c), Ollama's texts. cli_repl_words splits
 * line in place at blanks (at most max words). cli_repl_set returns 1 when
 * "/set system \"\"\"..." opened a multi-line message (text so far appended to
 * *sb). load/save return 0, or a negative code (c->err) that ends the
 * session; user mistakes are printed and return 0. */
void cli_repl_usage(void);
void cli_repl_usage_set(void);
void cli_repl_usage_show(void);
void cli_repl_usage_shortcuts(void);
void cli_repl_usage_params(void);
int cli_repl_words(char *line, char **w, int max);
void cli_repl_set_system(struct cli_run_opts *o, const char *text);
void cli_repl_show(struct cli_client *c, struct cli_run_opts *o, const char *what);
int cli_repl_save(struct cli_client *c, struct cli_run_opts *o, const char *name);
int cli_repl_load(struct cli_client *c, struct cli_run_opts *o, const char *name);
int cli_repl_set(struct cli_client *c, struct cli_run_opts *o, char *line, char **sb, size_t *sbl);

/* `pull` with the progress display; returns 0 or a negative code (c->err). */
int cli_client_pull(struct cli_client *c, const char *model, int insecure);

/* The server verbs; argv[0] is the command name. Each returns the process
 * exit status (0, 1 on errors, 2 on bad usage). */
int cli_cmd_run(int argc, char **argv);
int cli_cmd_pull(int argc, char **argv);
int cli_cmd_push(int argc, char **argv);
int cli_cmd_create(int argc, char **argv);
int cli_cmd_list(int argc, char **argv);
int cli_cmd_ps(int argc, char **argv);
int cli_cmd_show(int argc, char **argv);
int cli_cmd_cp(int argc, char **argv);
int cli_cmd_rm(int argc, char **argv);
int cli_cmd_stop(int argc, char **argv);
/* `ollamamax --version` as Ollama prints it: "ollamamax version is X" from
 * the server's /api/version, then "Warning: client version is Y" when it
 * differs or no server answered. Not wired into main.c (not ours). */
int cli_cmd_version(int argc, char **argv);

#endif
