/* cli: the slash commands of the REPL (repl.c) with Ollama's texts:
 * /set (parameter, system, verbose, format, think…), /show, /load, /save,
 * and the help screens. Each changes the session in cli_run_opts. */
#include "base/om.h"
#include "cli/client.h"
#include "cli/client_fmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_repl_usage(void)
{
    fputs("Available Commands:\n"
          "  /set            Set session variables\n"
          "  /show           Show model information\n"
          "  /load <model>   Load a session or model\n"
          "  /save <model>   Save your current session\n"
          "  /clear          Clear session context\n"
          "  /bye            Exit\n"
          "  /?, /help       Help for a command\n"
          "  /? shortcuts    Help for keyboard shortcuts\n"
          "\n"
          "Use \"\"\" to begin a multi-line message.\n\n",
          stderr);
}

void cli_repl_usage_set(void)
{
    fputs("Available Commands:\n"
          "  /set parameter ...     Set a parameter\n"
          "  /set system <string>   Set system message\n"
          "  /set history           Enable history\n"
          "  /set nohistory         Disable history\n"
          "  /set wordwrap          Enable wordwrap\n"
          "  /set nowordwrap        Disable wordwrap\n"
          "  /set format json       Enable JSON mode\n"
          "  /set noformat          Disable formatting\n"
          "  /set verbose           Show LLM stats\n"
          "  /set quiet             Disable LLM stats\n"
          "  /set think             Enable thinking\n"
          "  /set nothink           Disable thinking\n"
          "\n",
          stderr);
}

void cli_repl_usage_show(void)
{
    fputs("Available Commands:\n"
          "  /show info         Show details for this model\n"
          "  /show license      Show model license\n"
          "  /show modelfile    Show Modelfile for this model\n"
          "  /show parameters   Show parameters for this model\n"
          "  /show system       Show system message\n"
          "  /show template     Show prompt template\n"
          "\n",
          stderr);
}

void cli_repl_usage_shortcuts(void)
{
    fputs("Available keyboard shortcuts:\n"
          "  Ctrl + c            Stop the model from responding\n"
          "  Ctrl + d            Exit ollamamax (/bye)\n"
          "\n",
          stderr);
}

void cli_repl_usage_params(void)
{
    fputs("Available Parameters:\n"
          "  /set parameter seed <int>             Random number seed\n"
          "  /set parameter num_predict <int>      Max number of tokens to predict\n"
          "  /set parameter top_k <int>            Pick from top k num of tokens\n"
          "  /set parameter top_p <float>          Pick token based on sum of probabilities\n"
          "  /set parameter min_p <float>          Pick token based on top token probability * min_p\n"
          "  /set parameter num_ctx <int>          Set the context size\n"
          "  /set parameter temperature <float>    Set creativity level\n"
          "  /set parameter repeat_penalty <float> How strongly to penalize repetitions\n"
          "  /set parameter repeat_last_n <int>    Set how far back to look for repetitions\n"
          "  /set parameter num_gpu <int>          The number of layers to send to the GPU\n"
          "  /set parameter stop <string> <string> ...   Set the stop parameters\n"
          "\n",
          stderr);
}

/* Whitespace-split words of line (modified in place); returns the count. */
int cli_repl_words(char *line, char **w, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r", &save); t && n < max; t = strtok_r(NULL, " \t\r", &save))
        w[n++] = t;
    return n;
}

/* A /set parameter value typed as Ollama's FormatParams does: the option's
 * type decides; we know the common ones, the server checks the rest. */
static json_t *param_value(const char *key, char **vals, int n)
{
    static const char *const ints[] = {"seed", "num_predict", "top_k", "num_ctx",
                                       "repeat_last_n", "num_gpu", "num_keep", "num_batch",
                                       "num_thread", "main_gpu"};
    static const char *const bools[] = {"numa", "use_mmap", "penalize_newline", "low_vram",
                                        "f16_kv", "vocab_only", "use_mlock"};
    if (!strcmp(key, "stop")) {
        json_t *a = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(a, json_string(vals[i]));
        return a;
    }
    char *end;
    for (size_t i = 0; i < OM_ARRAY_LEN(ints); i++)
        if (!strcmp(key, ints[i])) {
            long long v = strtoll(vals[0], &end, 10);
            return *end ? NULL : json_integer(v);
        }
    for (size_t i = 0; i < OM_ARRAY_LEN(bools); i++)
        if (!strcmp(key, bools[i])) {
            if (!strcmp(vals[0], "true"))
                return json_true();
            if (!strcmp(vals[0], "false"))
                return json_false();
            return NULL;
        }
    double v = strtod(vals[0], &end);
    if (!*end)
        return json_real(v);
    return json_string(vals[0]);
}

void cli_repl_set_system(struct cli_run_opts *o, const char *text)
{
    free(o->system);
    o->system = om_xstrdup(text);
    json_t *m = json_pack("{s:s,s:s}", "role", "system", "content", text);
    size_t n = json_array_size(o->messages);
    json_t *last = n ? json_array_get(o->messages, n - 1) : NULL;
    const char *role = json_string_value(json_object_get(last, "role"));
    if (role && !strcmp(role, "system"))
        json_array_set_new(o->messages, n - 1, m);
    else
        json_array_append_new(o->messages, m);
    puts("Set system message.");
}

void cli_repl_show(struct cli_client *c, struct cli_run_opts *o, const char *what)
{
    json_t *req = json_pack("{s:s,s:O}", "model", o->model, "options", o->options), *r = NULL;
    if (o->system)
        json_object_set_new(req, "system", json_string(o->system));
    int rc = cli_client_call(c, "POST", "/api/show", req, &r);
    json_decref(req);
    if (rc) {
        puts("error: couldn't get model");
        fprintf(stderr, "Error: %s\n", c->err);
        return;
    }
    const char *lic = json_string_value(json_object_get(r, "license"));
    const char *par = json_string_value(json_object_get(r, "parameters"));
    const char *sys = json_string_value(json_object_get(r, "system"));
    const char *tpl = json_string_value(json_object_get(r, "template"));
    const char *mf = json_string_value(json_object_get(r, "modelfile"));
    if (!strcmp(what, "info")) {
        cli_show_info(r, 0, stderr);
    } else if (!strcmp(what, "license")) {
        puts(lic && *lic ? lic : "No license was specified for this model.");
    } else if (!strcmp(what, "modelfile")) {
        puts(mf ? mf : "");
    } else if (!strcmp(what, "parameters")) {
        puts("Model defined parameters:");
        if (!par || !*par)
            puts("  No additional parameters were specified for this model.");
        else
            for (const char *s = par; *s;) {
                const char *e = strchr(s, '\n');
                size_t l = e ? (size_t)(e - s) : strlen(s);
                printf("  %.*s\n", (int)l, s);
                s += l + (e ? 1 : 0);
            }
        putchar('\n');
        if (json_object_size(o->options)) {
            puts("User defined parameters:");
            const char *k;
            json_t *v;
            json_object_foreach(o->options, k, v)
            {
                char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                printf("  %-30s %s\n", k, t ? t : "");
                free(t);
            }
            putchar('\n');
        }
    } else if (!strcmp(what, "system")) {
        if (o->system && *o->system)
            printf("%s\n\n", o->system);
        else if (sys && *sys)
            printf("%s\n\n", sys);
        else
            puts("No system message was specified for this model.");
    } else if (!strcmp(what, "template")) {
        puts(tpl && *tpl ? tpl : "No prompt template was specified for this model.");
    } else {
        printf("Unknown command '/show %s'. Type /? for help\n", what);
    }
    json_decref(r);
}

int cli_repl_save(struct cli_client *c, struct cli_run_opts *o, const char *name)
{
    json_t *req = json_pack("{s:s,s:s}", "model", name, "from",
                            o->parent_model && *o->parent_model ? o->parent_model : o->model);
    if (o->system && *o->system)
        json_object_set_new(req, "system", json_string(o->system));
    if (json_object_size(o->options))
        json_object_set(req, "parameters", o->options);
    json_t *msgs = json_deep_copy(o->loaded_messages ? o->loaded_messages : json_array());
    json_array_extend(msgs, o->messages);
    if (json_array_size(msgs))
        json_object_set(req, "messages", msgs);
    json_decref(msgs);
    json_object_set_new(req, "stream", json_false());
    int rc = cli_client_call(c, "POST", "/api/create", req, NULL);
    json_decref(req);
    if (rc) {
        if (strstr(c->err, "invalid model name")) {
            printf("error: The model name '%s' is invalid\n", name);
            return 0;
        }
        return rc;
    }
    printf("Created new model '%s'\n", name);
    return 0;
}

int cli_repl_load(struct cli_client *c, struct cli_run_opts *o, const char *name)
{
    printf("Loading model '%s'\n", name);
    json_t *req = json_pack("{s:s}", "model", name), *r = NULL;
    int rc = cli_client_call(c, "POST", "/api/show", req, &r);
    json_decref(req);
    if (rc) {
        if (strstr(c->err, "not found")) {
            printf("Couldn't find model '%s'\n", name);
            return 0;
        }
        return rc;
    }
    json_t *caps = json_object_get(r, "capabilities"), *v, *think = NULL;
    size_t i;
    if (o->think_explicit)
        think = o->think ? json_incref(o->think) : NULL;
    else
        json_array_foreach(caps, i, v) if (json_string_value(v) &&
                                           !strcmp(json_string_value(v), "thinking")) think =
            json_true();
    struct cli_progress *p = cli_progress_new();
    cli_progress_spinner(p, "");
    rc = cli_client_load(c, name, o->keep_alive, think);
    cli_progress_stop_clear(p);
    if (rc) {
        json_decref(think);
        json_decref(r);
        if (strstr(c->err, "not found")) {
            printf("Couldn't find model '%s'\n", name);
            return 0;
        }
        if (strstr(c->err, "does not support thinking")) {
            printf("error: %s\n", c->err);
            return 0;
        }
        return rc;
    }
    free(o->model);
    o->model = om_xstrdup(name);
    const char *parent =
        json_string_value(json_object_get(json_object_get(r, "details"), "parent_model"));
    free(o->parent_model);
    o->parent_model = om_xstrdup(parent ? parent : "");
    json_decref(o->loaded_messages);
    json_t *lm = json_object_get(r, "messages");
    o->loaded_messages = json_is_array(lm) ? json_deep_copy(lm) : json_array();
    json_array_clear(o->messages);
    json_decref(o->think);
    o->think = think;
    json_decref(r);
    return 0;
}

/* Handles a /set line; returns 1 when it started a multi-line system
 * message (text so far appended to sb). */
int cli_repl_set(struct cli_client *c, struct cli_run_opts *o, char *line, char **sb,
                   size_t *sbl)
{
    (void)c;
    char *w[256];
    char *copy = om_xstrdup(line);
    int n = cli_repl_words(copy, w, 256), multi = 0;
    if (n < 2) {
        cli_repl_usage_set();
    } else if (!strcmp(w[1], "history") || !strcmp(w[1], "nohistory")) {
        /* no history kept by this line reader */
    } else if (!strcmp(w[1], "wordwrap") || !strcmp(w[1], "nowordwrap")) {
        o->wordwrap = w[1][0] == 'w';
        printf("Set '%s' mode.\n", w[1]);
    } else if (!strcmp(w[1], "verbose") || !strcmp(w[1], "quiet")) {
        o->verbose = w[1][0] == 'v';
        printf("Set '%s' mode.\n", w[1]);
    } else if (!strcmp(w[1], "think")) {
        json_decref(o->think);
        o->think = n > 2 ? json_string(w[2]) : json_true();
        o->think_explicit = 1;
        if (n > 2)
            printf("Set 'think' mode to '%s'.\n", w[2]);
        else
            puts("Set 'think' mode.");
    } else if (!strcmp(w[1], "nothink")) {
        json_decref(o->think);
        o->think = json_false();
        o->think_explicit = 1;
        puts("Set 'nothink' mode.");
    } else if (!strcmp(w[1], "format")) {
        if (n < 3 || strcmp(w[2], "json"))
            puts("Invalid or missing format. For 'json' mode use '/set format json'");
        else {
            o->format_json = 1;
            puts("Set format to 'json' mode.");
        }
    } else if (!strcmp(w[1], "noformat")) {
        o->format_json = 0;
        puts("Disabled format.");
    } else if (!strcmp(w[1], "parameter")) {
        if (n < 4) {
            cli_repl_usage_params();
        } else {
            json_t *v = param_value(w[2], w + 3, n - 3);
            if (!v) {
                printf("Couldn't set parameter: \"invalid value for %s: %s\"\n", w[2], w[3]);
            } else {
                printf("Set parameter '%s' to '", w[2]);
                for (int i = 3; i < n; i++)
                    printf("%s%s", i > 3 ? ", " : "", w[i]);
                puts("'");
                json_object_set_new(o->options, w[2], v);
            }
        }
    } else if (!strcmp(w[1], "system")) {
        if (n < 3) {
            cli_repl_usage_set();
        } else {
            /* the rest of the line after "system", words joined by one space */
            size_t tl = 0;
            for (int i = 2; i < n; i++)
                tl += strlen(w[i]) + 1;
            char *text = om_xcalloc(tl + 1, 1);
            for (int i = 2; i < n; i++) {
                if (i > 2)
                    strcat(text, " ");
                strcat(text, w[i]);
            }
            char *t = text;
            size_t l = strlen(t);
            if (!strncmp(t, "\"\"\"", 3)) {
                t += 3;
                l -= 3;
                if (l >= 3 && !strcmp(t + l - 3, "\"\"\"")) {
                    t[l - 3] = 0;
                    cli_repl_set_system(o, t);
                } else {
                    multi = 1;
                    *sb = om_xrealloc(*sb, *sbl + l + 1);
                    memcpy(*sb + *sbl, t, l + 1);
                    *sbl += l;
                }
            } else {
                cli_repl_set_system(o, t);
            }
            free(text);
        }
    } else {
        printf("Unknown command '/set %s'. Type /? for help\n", w[1]);
    }
    free(copy);
    return multi;
}

