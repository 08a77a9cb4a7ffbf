/* cli: `run MODEL [PROMPT]` as Ollama's RunHandler — /api/show (pulling the
 * model on a 404), then: an embedding model prints the vector of /api/embed;
 * a prompt (arguments and/or piped stdin) streams one /api/generate; no
 * prompt on a terminal opens the REPL (repl.c). Thinking text is framed by
 * "Thinking..." / "...done thinking."; --verbose prints the timing summary. */
#include "base/om.h"
#include "cli/cli_util.h"
#include "cli/client.h"
#include "cli/client_fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define STDIN_MAX (64u << 20)

void cli_run_opts_close(struct cli_run_opts *o)
{
    free(o->model);
    free(o->parent_model);
    free(o->system);
    json_decref(o->options);
    json_decref(o->messages);
    json_decref(o->loaded_messages);
    json_decref(o->keep_alive);
    json_decref(o->think);
    memset(o, 0, sizeof *o);
}

/* ---- embeddings ------------------------------------------------------------------ */

/* A float32 as Go's encoding/json writes it: the shortest digits that read
 * back as the same float32, 'e' form below 1e-6 or from 1e21 on. */
static void print_f32(float v)
{
    char tmp[64];
    for (int p = 1; p <= 9; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, (double)v);
        if ((float)strtod(tmp, NULL) == v)
            break;
    }
    char *e = strchr(tmp, 'e');
    double a = fabs((double)v);
    if (a != 0 && (a < 1e-6 || a >= 1e21)) {
        if (e && e[1] == '-' && e[2] == '0' && e[3]) /* Go's json: e-07 -> e-7 */
            memmove(e + 2, e + 3, strlen(e + 3) + 1);
        fputs(tmp, stdout);
        return;
    }
    int digits = (int)(e - tmp) - (strchr(tmp, '.') ? 1 : 0) - (tmp[0] == '-' ? 1 : 0);
    int dec = digits - 1 - atoi(e + 1);
    printf("%.*f", dec > 0 ? dec : 0, (double)v);
}

static int embed_once(struct cli_client *c, struct cli_run_opts *o, const char *input,
                      int truncate_set, int truncate, long dims)
{
    json_t *req = json_pack("{s:s,s:s}", "model", o->model, "input", input), *r = NULL;
    if (o->keep_alive)
        json_object_set(req, "keep_alive", o->keep_alive);
    if (truncate_set)
        json_object_set_new(req, "truncate", json_boolean(truncate));
    if (dims > 0)
        json_object_set_new(req, "dimensions", json_integer(dims));
    int rc = cli_client_call(c, "POST", "/api/embed", req, &r);
    json_decref(req);
    if (rc)
        return cli_client_fail(c);
    json_t *e = json_array_get(json_object_get(r, "embeddings"), 0);
    if (!json_is_array(e)) {
        json_decref(r);
        fprintf(stderr, "Error: no embeddings returned\n");
        return 1;
    }
    size_t i;
    json_t *v;
    putchar('[');
    json_array_foreach(e, i, v)
    {
        if (i)
            putchar(',');
        print_f32((float)json_number_value(v));
    }
    puts("]");
    json_decref(r);
    return 0;
}

/* ---- run ------------------------------------------------------------------------- */

static int has_cap(json_t *show, const char *cap)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(show, "capabilities"), i, v) if (
        json_string_value(v) && !strcmp(json_string_value(v), cap)) return 1;
    return 0;
}

/* Reads all of stdin (bounded). Returns a malloc'd string or NULL. */
static char *read_stdin(void)
{
    size_t len = 0, cap = 65536;
    char *buf = om_xmalloc(cap);
    size_t k;
    while ((k = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += k;
        if (len + 1 == cap) {
            if (cap >= STDIN_MAX) {
                free(buf);
                return NULL;
            }
            cap *= 2;
            buf = om_xrealloc(buf, cap);
        }
    }
    buf[len] = 0;
    return buf;
}

int cli_cmd_run(int argc, char **argv)
{
    const char *keepalive = NULL, *format = NULL, *think = NULL;
    int verbose = 0, insecure = 0, nowrap = 0, hidethink = 0, truncate = 0, think_set = 0;
    int truncate_set = 0;
    long dims = 0;
    /* --think takes an optional value and --truncate is a tri-state: handle
     * them before the table parser */
    char **args = om_xcalloc((size_t)argc + 1, sizeof *args);
    int na = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--think") || !strncmp(argv[i], "--think=", 8)) {
            think_set = 1;
            think = argv[i][7] == '=' ? argv[i] + 8 : "";
        } else if (!strcmp(argv[i], "--truncate") || !strncmp(argv[i], "--truncate=", 11)) {
            truncate_set = 1;
            truncate = argv[i][10] != '=' || !strcmp(argv[i] + 11, "true");
        } else {
            args[na++] = argv[i];
        }
    }
    const struct cli_opt opts[] = {
        {"--keepalive", NULL, CLI_STR, &keepalive, 0, 0},
        {"--verbose", NULL, CLI_FLAG, &verbose, 0, 0},
        {"--insecure", NULL, CLI_FLAG, &insecure, 0, 0},
        {"--nowordwrap", NULL, CLI_FLAG, &nowrap, 0, 0},
        {"--format", NULL, CLI_STR, &format, 0, 0},
        {"--hidethinking", NULL, CLI_FLAG, &hidethink, 0, 0},
        {"--dimensions", NULL, CLI_INT, &dims, 0, 1L << 20},
    };
    char *pos[256];
    int np, rc = 0;
    if (cli_client_args(na, args, opts, OM_ARRAY_LEN(opts), pos, 256, &np)) {
        free(args);
        return 2;
    }
    free(args);
    if (np < 1) {
        fprintf(stderr, "Error: \"ollamamax run\" requires at least 1 arg(s), only received 0\n");
        return 2;
    }
    struct cli_run_opts o = {0};
    o.model = om_xstrdup(pos[0]);
    o.options = json_object();
    o.messages = json_array();
    o.verbose = verbose;
    o.hide_thinking = hidethink;
    o.wordwrap = !nowrap;
    if (format && *format) {
        if (strcmp(format, "json")) {
            fprintf(stderr, "Error: invalid format \"%s\" (only \"json\" is supported)\n", format);
            cli_run_opts_close(&o);
            return 2;
        }
        o.format_json = 1;
    }
    if (think_set) {
        if (!*think || !strcmp(think, "true"))
            o.think = json_true();
        else if (!strcmp(think, "false"))
            o.think = json_false();
        else if (!strcmp(think, "high") || !strcmp(think, "medium") || !strcmp(think, "low") ||
                 !strcmp(think, "max"))
            o.think = json_string(think);
        else {
            fprintf(stderr,
                    "Error: invalid value for --think: \"%s\" (must be true, false, high, medium, "
                    "low, or max)\n",
                    think);
            cli_run_opts_close(&o);
            return 1;
        }
        o.think_explicit = 1;
    }
    if (keepalive && *keepalive) {
        int64_t ns;
        char err[160];
        if (cli_parse_go_duration(keepalive, &ns, err, sizeof err)) {
            fprintf(stderr, "Error: %s\n", err);
            cli_run_opts_close(&o);
            return 1;
        }
        char d[64];
        cli_fmt_go_duration(ns, d, sizeof d);
        o.keep_alive = ns < 0 ? json_integer(-1) : json_string(d);
    }

    /* the prompt: piped stdin first, then the arguments, joined by spaces */
    int interactive = 1;
    size_t plen = 1;
    char *in = NULL;
    if (!isatty(STDIN_FILENO)) {
        in = read_stdin();
        if (!in) {
            fprintf(stderr, "Error: standard input is larger than %u MiB\n", STDIN_MAX >> 20);
            cli_run_opts_close(&o);
            return 1;
        }
        interactive = 0;
        plen += strlen(in) + 1;
    }
    for (int i = 1; i < np; i++)
        plen += strlen(pos[i]) + 1;
    char *prompt = om_xcalloc(plen, 1);
    if (in && *in)
        strcat(prompt, in);
    for (int i = 1; i < np; i++) {
        if (*prompt || i > 1 || (in && *in))
            strcat(prompt, " ");
        strcat(prompt, pos[i]);
    }
    free(in);
    if (np > 1)
        interactive = 0;
    if (!isatty(STDOUT_FILENO))
        interactive = 0;

    struct cli_client c;
    json_t *show = NULL;
    if (cli_client_init(&c)) {
        rc = cli_client_fail(&c);
        goto out;
    }
    json_t *sreq = json_pack("{s:s}", "model", o.model);
    rc = cli_client_call(&c, "POST", "/api/show", sreq, &show);
    if (rc == OM_ENOTFOUND) {
        rc = cli_client_pull(&c, o.model, insecure);
        if (!rc)
            rc = cli_client_call(&c, "POST", "/api/show", sreq, &show);
    }
    json_decref(sreq);
    if (rc) {
        rc = cli_client_fail(&c);
        goto out;
    }
    if (!o.think_explicit && has_cap(show, "thinking"))
        o.think = json_true();
    o.multimodal = has_cap(show, "vision") || has_cap(show, "audio");
    const char *parent =
        json_string_value(json_object_get(json_object_get(show, "details"), "parent_model"));
    o.parent_model = om_xstrdup(parent ? parent : "");
    json_t *lm = json_object_get(show, "messages");
    o.loaded_messages = json_is_array(lm) ? json_deep_copy(lm) : json_array();

    if (has_cap(show, "embedding")) {
        if (!*prompt) {
            fprintf(stderr,
                    "Error: embedding models require input text. Usage: ollamamax run %s \"your "
                    "text here\"\n",
                    o.model);
            rc = 1;
            goto out;
        }
        rc = embed_once(&c, &o, prompt, truncate_set, truncate, dims);
        goto out;
    }
    if (has_cap(show, "image")) {
        fprintf(stderr, "Error: image generation models are not currently supported\n");
        rc = 1;
        goto out;
    }
    if (interactive) {
        struct cli_progress *p = cli_progress_new();
        cli_progress_spinner(p, "");
        int lr = cli_client_load(&c, o.model, o.keep_alive, o.think);
        cli_progress_stop_clear(p);
        if (lr) {
            rc = cli_client_fail(&c);
            goto out;
        }
        size_t i;
        json_t *m;
        json_array_foreach(o.loaded_messages, i, m)
        {
            const char *role = json_string_value(json_object_get(m, "role"));
            const char *text = json_string_value(json_object_get(m, "content"));
            if (role && !strcmp(role, "user"))
                printf(">>> %s\n", text ? text : "");
            else if (role && !strcmp(role, "assistant")) {
                struct cli_display d;
                cli_display_init(&d, o.wordwrap);
                cli_display_text(&d, text ? text : "");
                fputs("\n\n", stdout);
            }
        }
        rc = cli_repl_run(&c, &o);
    } else {
        rc = cli_run_generate(&c, &o, prompt);
    }
out:
    json_decref(show);
    free(prompt);
    cli_run_opts_close(&o);
    return rc;
}
