/* cli: what `run` shows while an answer streams — Ollama's displayResponse
 * word wrap, the "Thinking..." / "...done thinking." framing, tool calls the
 * CLI cannot run, the --verbose summary — and the two streamed requests
 * behind it: one-shot /api/generate and a REPL turn of /api/chat. The
 * loading spinner is erased by the first chunk that shows something. */
#include "base/om.h"
#include "cli/client.h"
#include "cli/client_fmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define GREY_BOLD "\033[38;5;245m\033[1m"
#define GREY "\033[38;5;245m"
#define RESET "\033[0m"

/* ---- output ---------------------------------------------------------------- */

void cli_display_init(struct cli_display *d, int wrap)
{
    memset(d, 0, sizeof *d);
    struct winsize ws;
    d->width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
    d->wrap = wrap && isatty(STDOUT_FILENO) && d->width >= 10;
}

void cli_display_text(struct cli_display *d, const char *s)
{
    if (!d->wrap) {
        fputs(s, stdout);
        fflush(stdout);
        return;
    }
    /* one UTF-8 character at a time; the current word is kept so it can be
     * moved to the next line when the line would pass width-5 columns */
    for (size_t i = 0; s[i];) {
        size_t k = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0xf0)
            k = 4;
        else if (c >= 0xe0)
            k = 3;
        else if (c >= 0xc0)
            k = 2;
        for (size_t j = 1; j < k; j++)
            if (!s[i + j]) {
                k = j;
                break;
            }
        int cw = cli_text_width(s + i, k);
        int ww = cli_text_width(d->word, d->word_len);
        if (d->line_len + 1 > d->width - 5) {
            if (ww > d->width - 10) {
                fwrite(d->word, 1, d->word_len, stdout);
                fwrite(s + i, 1, k, stdout);
                d->word_len = 0;
                d->line_len = 0;
                i += k;
                continue;
            }
            if (ww > 0)
                printf("\033[%dD", ww);
            printf("\033[K\n");
            fwrite(d->word, 1, d->word_len, stdout);
            fwrite(s + i, 1, k, stdout);
            d->line_len = ww + cw;
            /* Go keeps the word buffer here: the next break moves it again */
        } else {
            fwrite(s + i, 1, k, stdout);
            d->line_len += cw;
            if (cw >= 2) {
                d->word_len = 0;
            } else if (c == ' ' || c == '\t') {
                d->word_len = 0;
            } else if (c == '\n' || c == '\r') {
                d->line_len = 0;
                d->word_len = 0;
            } else if (d->word_len + k < sizeof d->word) {
                memcpy(d->word + d->word_len, s + i, k);
                d->word_len += k;
            }
        }
        i += k;
    }
    fflush(stdout);
}

void cli_run_summary(json_t *r)
{
    static const struct {
        const char *key, *label;
    } durs[] = {{"total_duration", "total duration:       "},
                {"load_duration", "load duration:        "}};
    char buf[64];
    for (int i = 0; i < 2; i++) {
        json_int_t v = json_integer_value(json_object_get(r, durs[i].key));
        if (v > 0) {
            cli_fmt_go_duration(v, buf, sizeof buf);
            fprintf(stderr, "%s%s\n", durs[i].label, buf);
        }
    }
    json_int_t pc = json_integer_value(json_object_get(r, "prompt_eval_count"));
    json_int_t pd = json_integer_value(json_object_get(r, "prompt_eval_duration"));
    json_int_t ec = json_integer_value(json_object_get(r, "eval_count"));
    json_int_t ed = json_integer_value(json_object_get(r, "eval_duration"));
    if (pc > 0)
        fprintf(stderr, "prompt eval count:    %lld token(s)\n", (long long)pc);
    if (pd > 0) {
        cli_fmt_go_duration(pd, buf, sizeof buf);
        fprintf(stderr, "prompt eval duration: %s\n", buf);
        fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n", (double)pc / ((double)pd / 1e9));
    }
    if (ec > 0)
        fprintf(stderr, "eval count:           %lld token(s)\n", (long long)ec);
    if (ed > 0) {
        cli_fmt_go_duration(ed, buf, sizeof buf);
        fprintf(stderr, "eval duration:        %s\n", buf);
        fprintf(stderr, "eval rate:            %.2f tokens/s\n", (double)ec / ((double)ed / 1e9));
    }
}

/* ---- one-shot generate -------------------------------------------------------- */

struct gen_state {
    struct cli_progress *progress;
    struct cli_display disp;
    int hide_thinking, plain, think_open, think_closed, thinking_ends_nl;
    json_t *last;
    char *content, *thinking; /* chat: the reply so far */
    size_t clen, tlen;
};

static void append(char **buf, size_t *len, const char *s)
{
    if (!s || !*s)
        return;
    size_t n = strlen(s);
    *buf = om_xrealloc(*buf, *len + n + 1);
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

static void print_tool_calls(json_t *calls, int plain)
{
    size_t i;
    json_t *tc;
    if (!plain)
        fputs(GREY_BOLD, stdout);
    json_array_foreach(calls, i, tc)
    {
        json_t *fn = json_object_get(tc, "function");
        char *args = json_dumps(json_object_get(fn, "arguments"), JSON_COMPACT | JSON_ENCODE_ANY);
        const char *name = json_string_value(json_object_get(fn, "name"));
        printf("%s  Model called a non-existent function '%s%s%s()' with arguments: %s%s%s",
               i ? "\n" : "", plain ? "" : RESET, name ? name : "", plain ? "" : GREY_BOLD,
               plain ? "" : RESET, args ? args : "null", plain ? "" : GREY_BOLD);
        free(args);
    }
    if (!plain)
        fputs(RESET, stdout);
}

/* Shared chunk display of generate (response/thinking at top level) and
 * chat (inside "message"). */
static void show_chunk(struct gen_state *g, const char *content, const char *thinking,
                       json_t *tool_calls, int tools_before_content)
{
    if ((content && *content) || !g->hide_thinking) {
        cli_progress_stop_clear(g->progress);
        g->progress = NULL;
    }
    if (thinking && *thinking && !g->hide_thinking) {
        if (!g->think_open) {
            fputs(g->plain ? "Thinking...\n" : GREY_BOLD "Thinking...\n" RESET GREY, stdout);
            g->think_open = 1;
            g->think_closed = 0;
        }
        g->thinking_ends_nl = thinking[strlen(thinking) - 1] == '\n';
        cli_display_text(&g->disp, thinking);
    }
    if (g->think_open && !g->think_closed &&
        ((content && *content) || json_array_size(tool_calls))) {
        if (!g->thinking_ends_nl)
            putchar('\n');
        fputs(g->plain ? "...done thinking.\n\n" : GREY_BOLD "...done thinking.\n\n" RESET,
              stdout);
        g->think_open = 0;
        g->think_closed = 1;
        int wrap = g->disp.wrap;
        cli_display_init(&g->disp, wrap);
    }
    if (tools_before_content && json_array_size(tool_calls))
        print_tool_calls(tool_calls, g->plain);
    if (content)
        cli_display_text(&g->disp, content);
    if (!tools_before_content && json_array_size(tool_calls))
        print_tool_calls(tool_calls, g->plain);
    fflush(stdout);
}

static int on_generate(json_t *obj, void *ud)
{
    struct gen_state *g = ud;
    json_decref(g->last);
    g->last = json_incref(obj);
    show_chunk(g, json_string_value(json_object_get(obj, "response")),
               json_string_value(json_object_get(obj, "thinking")),
               json_object_get(obj, "tool_calls"), 0);
    return 0;
}

static int on_chat(json_t *obj, void *ud)
{
    struct gen_state *g = ud;
    json_decref(g->last);
    g->last = json_incref(obj);
    json_t *m = json_object_get(obj, "message");
    append(&g->content, &g->clen, json_string_value(json_object_get(m, "content")));
    append(&g->thinking, &g->tlen, json_string_value(json_object_get(m, "thinking")));
    show_chunk(g, json_string_value(json_object_get(m, "content")),
               json_string_value(json_object_get(m, "thinking")),
               json_object_get(m, "tool_calls"), 1);
    return 0;
}

static void add_common(json_t *req, struct cli_run_opts *o)
{
    if (o->format_json)
        json_object_set_new(req, "format", json_string("json"));
    json_object_set(req, "options", o->options);
    if (o->keep_alive)
        json_object_set(req, "keep_alive", o->keep_alive);
    if (o->think)
        json_object_set(req, "think", o->think);
}

int cli_run_generate(struct cli_client *c, struct cli_run_opts *o, const char *prompt)
{
    struct gen_state g = {.hide_thinking = o->hide_thinking, .plain = !isatty(STDOUT_FILENO)};
    g.progress = cli_progress_new();
    cli_progress_spinner(g.progress, "");
    cli_display_init(&g.disp, o->wordwrap);
    json_t *req = json_pack("{s:s,s:s}", "model", o->model, "prompt", prompt);
    if (o->system)
        json_object_set_new(req, "system", json_string(o->system));
    add_common(req, o);
    cli_client_sigint_begin();
    int rc = cli_client_stream(c, "/api/generate", req, on_generate, &g);
    int interrupted = cli_client_sigint_end();
    json_decref(req);
    cli_progress_stop_clear(g.progress);
    if (rc == OM_ECANCELED && interrupted) {
        json_decref(g.last);
        return 0;
    }
    if (rc) {
        json_decref(g.last);
        return cli_client_fail(c);
    }
    if (*prompt)
        fputs("\n\n", stdout);
    fflush(stdout);
    if (o->verbose && json_is_true(json_object_get(g.last, "done")))
        cli_run_summary(g.last);
    json_decref(g.last);
    return 0;
}

int cli_run_chat(struct cli_client *c, struct cli_run_opts *o, json_t **reply)
{
    *reply = NULL;
    struct gen_state g = {.hide_thinking = o->hide_thinking, .plain = 0};
    g.progress = cli_progress_new();
    cli_progress_spinner(g.progress, "");
    cli_display_init(&g.disp, o->wordwrap);
    json_t *req = json_pack("{s:s,s:O}", "model", o->model, "messages", o->messages);
    add_common(req, o);
    cli_client_sigint_begin();
    int rc = cli_client_stream(c, "/api/chat", req, on_chat, &g);
    int interrupted = cli_client_sigint_end();
    json_decref(req);
    cli_progress_stop_clear(g.progress);
    if (rc) {
        json_decref(g.last);
        free(g.content);
        free(g.thinking);
        return rc == OM_ECANCELED && interrupted ? 0 : rc;
    }
    if (json_array_size(o->messages))
        fputs("\n\n", stdout);
    fflush(stdout);
    if (o->verbose)
        cli_run_summary(g.last);
    json_decref(g.last);
    *reply = json_pack("{s:s,s:s}", "role", "assistant", "content", g.content ? g.content : "");
    if (g.tlen)
        json_object_set_new(*reply, "thinking", json_string(g.thinking));
    free(g.content);
    free(g.thinking);
    return 0;
}

