/* cli: the interactive session of `run` (Ollama's generateInteractive):
 * ">>> " prompts, each message sent to /api/chat with the whole history;
 * /set, /show, /load, /save, /clear, /bye, /? as Ollama prints them;
 * """ starts and ends a multi-line message; Ctrl-D exits; Ctrl-C at the
 * prompt reminds how to exit, during a reply it stops the reply. Input is
 * read a line at a time from the terminal in its normal (cooked) mode, so
 * the terminal does the line editing. */
#include "base/om.h"
#include "cli/client.h"
#include "cli/client_fmt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_CAP (1u << 20)

static volatile sig_atomic_t g_prompt_int;

static void on_prompt_int(int sig)
{
    (void)sig;
    g_prompt_int = 1;
}

/* Reads one line without its '\n' into a malloc'd string. Returns 1 on a
 * line, 0 on EOF, -1 when Ctrl-C interrupted the read. */
static int read_line(const char *prompt, char **out)
{
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_prompt_int; /* no SA_RESTART: read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    g_prompt_int = 0;
    fputs(prompt, stdout);
    fflush(stdout);
    size_t len = 0, cap = 256;
    char *buf = om_xmalloc(cap);
    int rc = 1;
    for (;;) {
        char ch;
        ssize_t k = read(STDIN_FILENO, &ch, 1);
        if (k < 0 && errno == EINTR) {
            rc = -1;
            break;
        }
        if (k <= 0) {
            rc = len ? 1 : 0;
            break;
        }
        if (ch == '\n')
            break;
        if (len + 2 > cap) {
            if (cap >= LINE_CAP)
                continue; /* overlong line: the rest is dropped */
            cap *= 2;
            buf = om_xrealloc(buf, cap);
        }
        buf[len++] = ch;
    }
    buf[len] = 0;
    sigaction(SIGINT, &old, NULL);
    *out = buf;
    return rc;
}

static void sb_add(char **sb, size_t *sbl, const char *s, size_t n)
{
    *sb = om_xrealloc(*sb, *sbl + n + 1);
    memcpy(*sb + *sbl, s, n);
    *sbl += n;
    (*sb)[*sbl] = 0;
}

int cli_repl_run(struct cli_client *c, struct cli_run_opts *o)
{
    enum { NONE, PROMPT, SYSTEM } multi = NONE;
    char *sb = NULL;
    size_t sbl = 0;
    int status = 0;
    for (;;) {
        char *line = NULL;
        int r = read_line(multi != NONE ? "... " : ">>> ", &line);
        if (r == 0) {
            putchar('\n');
            free(line);
            break;
        }
        if (r < 0) {
            if (!*line)
                puts("\nUse Ctrl + d or /bye to exit.");
            else
                putchar('\n');
            multi = NONE;
            sbl = 0;
            free(line);
            continue;
        }
        size_t ll = strlen(line);
        if (multi != NONE) {
            int end = ll >= 3 && !strcmp(line + ll - 3, "\"\"\"");
            sb_add(&sb, &sbl, line, end ? ll - 3 : ll);
            if (!end) {
                sb_add(&sb, &sbl, "\n", 1);
                free(line);
                continue;
            }
            if (multi == SYSTEM) {
                cli_repl_set_system(o, sb ? sb : "");
                sbl = 0;
            }
            multi = NONE;
        } else if (!strncmp(line, "\"\"\"", 3)) {
            const char *t = line + 3;
            size_t tl = ll - 3;
            int end = tl >= 3 && !strcmp(t + tl - 3, "\"\"\"");
            sb_add(&sb, &sbl, t, end ? tl - 3 : tl);
            if (!end) {
                sb_add(&sb, &sbl, "\n", 1);
                multi = PROMPT;
            }
        } else if (!strncmp(line, "/list", 5)) {
            char *argv2[3] = {"list", NULL, NULL};
            char *w[3];
            char *copy = om_xstrdup(line);
            int n = cli_repl_words(copy, w, 3);
            if (n > 1)
                argv2[1] = w[1];
            cli_cmd_list(n > 1 ? 2 : 1, argv2);
            free(copy);
        } else if (!strncmp(line, "/load", 5)) {
            char *w[3];
            char *copy = om_xstrdup(line);
            if (cli_repl_words(copy, w, 3) != 2)
                puts("Usage:\n  /load <modelname>");
            else if (cli_repl_load(c, o, w[1])) {
                free(copy);
                free(line);
                status = cli_client_fail(c);
                break;
            }
            free(copy);
            free(line);
            continue;
        } else if (!strncmp(line, "/save", 5)) {
            char *w[3];
            char *copy = om_xstrdup(line);
            if (cli_repl_words(copy, w, 3) != 2)
                puts("Usage:\n  /save <modelname>");
            else if (cli_repl_save(c, o, w[1])) {
                free(copy);
                free(line);
                status = cli_client_fail(c);
                break;
            }
            free(copy);
            free(line);
            continue;
        } else if (!strncmp(line, "/clear", 6)) {
            json_array_clear(o->messages);
            if (o->system && *o->system)
                json_array_append_new(o->messages, json_pack("{s:s,s:s}", "role", "system",
                                                             "content", o->system));
            puts("Cleared session context");
            free(line);
            continue;
        } else if (!strncmp(line, "/set", 4)) {
            if (cli_repl_set(c, o, line, &sb, &sbl))
                multi = SYSTEM;
            free(line);
            continue;
        } else if (!strncmp(line, "/show", 5)) {
            char *w[3];
            char *copy = om_xstrdup(line);
            if (cli_repl_words(copy, w, 3) > 1)
                cli_repl_show(c, o, w[1]);
            else
                cli_repl_usage_show();
            free(copy);
        } else if (!strncmp(line, "/help", 5) || !strncmp(line, "/?", 2)) {
            char *w[3];
            char *copy = om_xstrdup(line);
            if (cli_repl_words(copy, w, 3) > 1) {
                if (!strcmp(w[1], "set") || !strcmp(w[1], "/set"))
                    cli_repl_usage_set();
                else if (!strcmp(w[1], "show") || !strcmp(w[1], "/show"))
                    cli_repl_usage_show();
                else if (!strcmp(w[1], "shortcut") || !strcmp(w[1], "shortcuts"))
                    cli_repl_usage_shortcuts();
            } else {
                cli_repl_usage();
            }
            free(copy);
        } else if (!strncmp(line, "/exit", 5) || !strncmp(line, "/bye", 4)) {
            free(line);
            break;
        } else if (line[0] == '/') {
            char *w[2];
            char *copy = om_xstrdup(line);
            cli_repl_words(copy, w, 1);
            printf("Unknown command '%s'. Type /? for help\n", w[0]);
            free(copy);
            free(line);
            continue;
        } else {
            sb_add(&sb, &sbl, line, ll);
        }
        free(line);
        if (sbl && multi == NONE) {
            json_array_append_new(o->messages,
                                  json_pack("{s:s,s:s}", "role", "user", "content", sb));
            json_t *reply = NULL;
            int rc = cli_run_chat(c, o, &reply);
            sbl = 0;
            if (rc) {
                if (strstr(c->err, "does not support thinking") ||
                    strstr(c->err, "invalid think value")) {
                    printf("error: %s\n", c->err);
                    continue;
                }
                status = cli_client_fail(c);
                break;
            }
            if (reply)
                json_array_append_new(o->messages, reply);
        }
    }
    free(sb);
    return status;
}
