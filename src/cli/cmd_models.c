/* cli: the model-management verbs as Ollama's CLI prints them — list/ls,
 * ps, cp, rm, stop — and --version (show is in client_show.c). Each is one or two API calls
 * (/api/tags, /api/ps, /api/show, /api/copy, /api/delete, /api/generate
 * with keep_alive 0, /api/version) plus formatting from client_fmt.c. */
#include "base/om.h"
#include "cli/cli.h"
#include "cli/cli_util.h"
#include "cli/client.h"
#include "cli/client_fmt.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int64_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)json_number_value(v);
}

static int usage_args(const char *cmd, int want_min, int want_max, int got)
{
    if (want_min == want_max)
        fprintf(stderr, "Error: \"ollamamax %s\" accepts %d arg(s), received %d\n", cmd, want_min,
                got);
    else
        fprintf(stderr, "Error: \"ollamamax %s\" requires at least %d arg(s), only received %d\n",
                cmd, want_min, got);
    return 2;
}

/* ---- list / ps ----------------------------------------------------------- */

static void id12(const char *digest, char *out)
{
    if (!strncmp(digest, "sha256:", 7))
        digest += 7;
    snprintf(out, 13, "%s", digest);
}

int cli_cmd_list(int argc, char **argv)
{
    char *pos[1];
    int np;
    if (cli_client_args(argc, argv, NULL, 0, pos, 1, &np))
        return 2;
    struct cli_client c;
    json_t *r = NULL;
    if (cli_client_init(&c) || cli_client_call(&c, "GET", "/api/tags", NULL, &r))
        return cli_client_fail(&c);
    struct cli_table t;
    cli_table_init(&t, 4, 30);
    cli_table_header(&t, (const char *[]){"NAME", "ID", "SIZE", "MODIFIED"});
    double now = now_wall();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "models"), i, m)
    {
        const char *name = jstr(m, "name");
        if (np && strncasecmp(name, pos[0], strlen(pos[0])))
            continue;
        char id[16], size[32], mod[64];
        double t_mod = 0;
        id12(jstr(m, "digest"), id);
        if (*jstr(m, "remote_model"))
            snprintf(size, sizeof size, "-");
        else
            cli_fmt_bytes(jint(m, "size"), size, sizeof size);
        cli_parse_rfc3339(jstr(m, "modified_at"), &t_mod);
        cli_fmt_time_rel(t_mod, now, "Never", mod, sizeof mod);
        cli_table_add(&t, (const char *[]){name, id, size, mod});
    }
    cli_table_print(&t, stdout);
    cli_table_close(&t);
    json_decref(r);
    return 0;
}

int cli_cmd_ps(int argc, char **argv)
{
    char *pos[1];
    int np;
    if (cli_client_args(argc, argv, NULL, 0, pos, 1, &np))
        return 2;
    struct cli_client c;
    json_t *r = NULL;
    if (cli_client_init(&c) || cli_client_call(&c, "GET", "/api/ps", NULL, &r))
        return cli_client_fail(&c);
    struct cli_table t;
    cli_table_init(&t, 6, 30);
    cli_table_header(&t, (const char *[]){"NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"});
    double now = now_wall();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "models"), i, m)
    {
        const char *name = jstr(m, "name");
        if (np && strncmp(name, pos[0], strlen(pos[0])))
            continue;
        int64_t size = jint(m, "size"), vram = jint(m, "size_vram");
        char id[16], sz[32], proc[48], ctx[32], until[64];
        id12(jstr(m, "digest"), id);
        cli_fmt_bytes(size, sz, sizeof sz);
        if (vram == 0)
            snprintf(proc, sizeof proc, "100%% CPU");
        else if (vram == size)
            snprintf(proc, sizeof proc, "100%% GPU");
        else if (vram > size || size == 0)
            snprintf(proc, sizeof proc, "Unknown");
        else {
            int cpu = (int)round((double)(size - vram) / (double)size * 100);
            snprintf(proc, sizeof proc, "%d%%/%d%% CPU/GPU", cpu, 100 - cpu);
        }
        snprintf(ctx, sizeof ctx, "%lld", (long long)jint(m, "context_length"));
        double exp = 0;
        cli_parse_rfc3339(jstr(m, "expires_at"), &exp);
        if (exp != 0 && now - exp > 0)
            snprintf(until, sizeof until, "Stopping...");
        else
            cli_fmt_time_rel(exp, now, "Never", until, sizeof until);
        cli_table_add(&t, (const char *[]){name, id, sz, proc, ctx, until});
    }
    cli_table_print(&t, stdout);
    cli_table_close(&t);
    json_decref(r);
    return 0;
}

int cli_cmd_cp(int argc, char **argv)
{
    char *pos[3];
    int np;
    if (cli_client_args(argc, argv, NULL, 0, pos, 3, &np))
        return 2;
    if (np != 2)
        return usage_args("cp", 2, 2, np);
    struct cli_client c;
    if (cli_client_init(&c))
        return cli_client_fail(&c);
    json_t *req = json_pack("{s:s,s:s}", "source", pos[0], "destination", pos[1]);
    int rc = cli_client_call(&c, "POST", "/api/copy", req, NULL);
    json_decref(req);
    if (rc)
        return cli_client_fail(&c);
    printf("copied '%s' to '%s'\n", pos[0], pos[1]);
    return 0;
}

static int ignore_line(json_t *obj, void *ud)
{
    (void)obj, (void)ud;
    return 0;
}

int cli_client_load(struct cli_client *c, const char *model, json_t *keep_alive, json_t *think)
{
    json_t *req = json_pack("{s:s}", "model", model);
    int rc = cli_client_call(c, "POST", "/api/show", req, NULL);
    if (!rc) {
        if (keep_alive)
            json_object_set(req, "keep_alive", keep_alive);
        if (think)
            json_object_set(req, "think", think);
        rc = cli_client_stream(c, "/api/generate", req, ignore_line, NULL);
    }
    json_decref(req);
    return rc;
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return 1;
    return 0;
}

int cli_cmd_rm(int argc, char **argv)
{
    char *pos[64];
    int np;
    if (cli_client_args(argc, argv, NULL, 0, pos, 64, &np))
        return 2;
    if (np < 1)
        return usage_args("rm", 1, 64, np);
    struct cli_client c;
    if (cli_client_init(&c))
        return cli_client_fail(&c);
    json_t *zero = json_string("0s");
    for (int i = 0; i < np; i++) {
        /* unload first, as Ollama does; only "not found" is silent */
        if (cli_client_load(&c, pos[i], zero, NULL) && !contains_ci(c.err, "not found")) {
            if (c.status == 0 && !strncmp(c.err, "could not connect", 17)) {
                json_decref(zero);
                return cli_client_fail(&c);
            }
            fprintf(stderr, "Warning: unable to stop model '%s'\n", pos[i]);
        }
        json_t *req = json_pack("{s:s}", "model", pos[i]);
        int rc = cli_client_call(&c, "DELETE", "/api/delete", req, NULL);
        json_decref(req);
        if (rc) {
            json_decref(zero);
            return cli_client_fail(&c);
        }
        printf("deleted '%s'\n", pos[i]);
    }
    json_decref(zero);
    return 0;
}

int cli_cmd_stop(int argc, char **argv)
{
    char *pos[2];
    int np;
    if (cli_client_args(argc, argv, NULL, 0, pos, 2, &np))
        return 2;
    if (np != 1)
        return usage_args("stop", 1, 1, np);
    struct cli_client c;
    if (cli_client_init(&c))
        return cli_client_fail(&c);
    struct cli_progress *p = cli_progress_new();
    cli_progress_spinner(p, "");
    json_t *zero = json_string("0s");
    int rc = cli_client_load(&c, pos[0], zero, NULL);
    json_decref(zero);
    cli_progress_stop_clear(p);
    if (rc) {
        if (strstr(c.err, "not found"))
            snprintf(c.err, sizeof c.err, "couldn't find model \"%s\" to stop", pos[0]);
        return cli_client_fail(&c);
    }
    return 0;
}

int cli_cmd_version(int argc, char **argv)
{
    (void)argc, (void)argv;
    struct cli_client c;
    json_t *r = NULL;
    const char *sv = "";
    if (cli_client_init(&c) || cli_client_call(&c, "GET", "/api/version", NULL, &r))
        printf("Warning: could not connect to a running ollamamax instance\n");
    else
        sv = jstr(r, "version");
    if (*sv)
        printf("ollamamax version is %s\n", sv);
    if (strcmp(sv, CLI_VERSION))
        printf("Warning: client version is %s\n", CLI_VERSION);
    json_decref(r);
    return 0;
}
