/* cli: the pure parts of `ollamamax cluster` (cli_cluster.h) — the node
 * table and status view drawn from /api/cluster/status JSON with the same
 * borderless table as `list`/`ps`, the NODE argument of drain/undrain
 * (id, name or unique id prefix), and KEY=VALUE of `set`. Everything read
 * here came from a server, so every field is type-checked and a missing or
 * mistyped one prints "-" instead of failing. */
#include "cli/cli_cluster.h"

#include "base/om.h"
#include "cli/client_fmt.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CELL_COLS 30 /* the table's wrap width (client_fmt.h), as `list`/`ps` */

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* An integer field as text, "-" when absent or not a number. */
static void num_cell(json_t *o, const char *k, char *out, size_t n)
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, n, "%.0f", json_real_value(v));
    else
        snprintf(out, n, "-");
}

/* "a, b +2 more" from an array of names, kept within CELL_COLS columns so
 * the table never wraps it (the first name is always shown, even when it
 * alone is wider); "-" when empty or absent. */
static void list_cell(json_t *arr, char *out, size_t n)
{
    size_t total = 0, shown = 0, at = 0, i;
    json_t *v;
    json_array_foreach(arr, i, v) total += json_is_string(v);
    out[0] = 0;
    if (!total) {
        snprintf(out, n, "-");
        return;
    }
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (!s)
            continue;
        /* room left for " +N more" unless this is the last name */
        char tail[32] = "";
        if (shown + 1 < total)
            snprintf(tail, sizeof tail, " +%zu more", total - shown - 1);
        int w = cli_text_width(out, at) + (shown ? 2 : 0) + cli_text_width(s, strlen(s)) +
                cli_text_width(tail, strlen(tail));
        if (shown && w > CELL_COLS)
            break;
        int k = snprintf(out + at, n - at, "%s%s", shown ? ", " : "", s);
        if (k < 0 || (size_t)k >= n - at) {
            out[at] = 0;
            break;
        }
        at += (size_t)k;
        shown++;
    }
    if (shown < total)
        snprintf(out + at, n - at, " +%zu more", total - shown);
}

/* First 12 digits of a 16-hex-digit id; the whole string when shorter. */
static void id12(const char *id, char *out)
{
    snprintf(out, 13, "%s", *id ? id : "-");
}

void cli_cluster_print_nodes(json_t *nodes, FILE *f)
{
    struct cli_table t;
    cli_table_init(&t, 9, CELL_COLS);
    cli_table_header(&t, (const char *[]){"NAME", "ID", "ADDRESS", "STATE", "ROLE", "MODELS",
                                          "LOADED", "ACTIVE", "QUEUED"});
    size_t i;
    json_t *nd;
    json_array_foreach(nodes, i, nd)
    {
        if (!json_is_object(nd))
            continue;
        char id[16], models[512], loaded[512], active[32], queued[32];
        id12(jstr(nd, "id"), id);
        list_cell(json_object_get(nd, "models"), models, sizeof models);
        list_cell(json_object_get(nd, "loaded"), loaded, sizeof loaded);
        num_cell(nd, "active", active, sizeof active);
        num_cell(nd, "queued", queued, sizeof queued);
        const char *name = jstr(nd, "name"), *addr = jstr(nd, "api_addr");
        const char *state = jstr(nd, "state"), *role = jstr(nd, "role");
        cli_table_add(&t, (const char *[]){*name ? name : "-", id, *addr ? addr : "-",
                                           *state ? state : "-", *role ? role : "-", models,
                                           loaded, active, queued});
    }
    cli_table_print(&t, f);
    cli_table_close(&t);
}

/* A setting's value as text: strings as they are, numbers printed. */
static void setting_text(json_t *v, char *out, size_t n)
{
    if (json_is_string(v))
        snprintf(out, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, n, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(out, n, "-");
}

void cli_cluster_print_settings(json_t *settings, FILE *f)
{
    char v[300];
    setting_text(json_object_get(settings, "routing"), v, sizeof v);
    fprintf(f, "%-14s%s\n", "Routing:", v);
    setting_text(json_object_get(settings, "replication"), v, sizeof v);
    fprintf(f, "%-14s%s%s\n", "Replication:", v, !strcmp(v, "0") ? " (every node)" : "");
    const char *k;
    json_t *x;
    json_object_foreach(settings, k, x)
    {
        if (!strcmp(k, "routing") || !strcmp(k, "replication"))
            continue;
        char label[80];
        snprintf(label, sizeof label, "%.70s:", k);
        setting_text(x, v, sizeof v);
        fprintf(f, "%-14s%s\n", label, v);
    }
}

/* "name (1a2b3c4d5e6f)" for the node with id `id`, or the bare id. */
static void node_label(json_t *nodes, const char *id, char *out, size_t n)
{
    char short_id[16];
    id12(id, short_id);
    size_t i;
    json_t *nd;
    json_array_foreach(nodes, i, nd)
    {
        if (!strcasecmp(jstr(nd, "id"), id) && *jstr(nd, "name")) {
            snprintf(out, n, "%s (%s)", jstr(nd, "name"), short_id);
            return;
        }
    }
    snprintf(out, n, "%s", short_id);
}

/* Blob transfers in progress, one line each, after the node table. */
static void print_transfers(json_t *nodes, FILE *f)
{
    int any = 0;
    size_t i, j;
    json_t *nd, *x;
    json_array_foreach(nodes, i, nd)
    {
        json_array_foreach(json_object_get(nd, "transfers"), j, x)
        {
            if (!json_is_object(x))
                continue;
            if (!any++)
                fprintf(f, "\nTransfers:\n");
            json_t *tv = json_object_get(x, "total"), *dv = json_object_get(x, "done");
            int64_t total = json_is_integer(tv) ? (int64_t)json_integer_value(tv) : 0;
            int64_t done = json_is_integer(dv) ? (int64_t)json_integer_value(dv) : 0;
            const char *dg = jstr(x, "digest");
            if (!strncmp(dg, "sha256:", 7))
                dg += 7;
            char a[32], b[32];
            cli_fmt_bytes(done, a, sizeof a);
            cli_fmt_bytes(total, b, sizeof b);
            int pct = total > 0 && done >= 0 && done <= total ? (int)(done * 100 / total) : 0;
            fprintf(f, "  %s  %.12s  %3d%%  %s/%s\n", *jstr(nd, "name") ? jstr(nd, "name") : "-",
                    *dg ? dg : "-", pct, a, b);
        }
    }
}

void cli_cluster_print_status(json_t *status, FILE *f)
{
    json_t *nodes = json_object_get(status, "nodes");
    char label[400];
    const char *leader = jstr(status, "leader");
    if (*leader)
        node_label(nodes, leader, label, sizeof label);
    else
        snprintf(label, sizeof label, "none (no leader elected)");
    fprintf(f, "%-14s%s\n", "Leader:", label);
    char term[32];
    num_cell(status, "term", term, sizeof term);
    fprintf(f, "%-14s%s\n", "Term:", term);
    const char *self = jstr(status, "self");
    if (*self) {
        node_label(nodes, self, label, sizeof label);
        fprintf(f, "%-14s%s\n", "This node:", label);
    }
    cli_cluster_print_settings(json_object_get(status, "settings"), f);
    fputc('\n', f);
    cli_cluster_print_nodes(nodes, f);
    print_transfers(nodes, f);
}

static int all_hex(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s))
            return 0;
    return 1;
}

int cli_cluster_match(json_t *nodes, const char *key, json_t **node, char *err, size_t errlen)
{
    *node = NULL;
    if (!key || !*key)
        return om_err(err, errlen, OM_EINVAL, "the node to act on is empty");
    size_t i;
    json_t *nd;
    json_array_foreach(nodes, i, nd)
    {
        if (json_is_object(nd) && !strcasecmp(jstr(nd, "id"), key)) {
            *node = nd;
            return 0;
        }
    }
    json_array_foreach(nodes, i, nd)
    {
        if (json_is_object(nd) && !strcmp(jstr(nd, "name"), key)) {
            *node = nd;
            return 0;
        }
    }
    if (all_hex(key)) {
        size_t kl = strlen(key), hits = 0;
        json_array_foreach(nodes, i, nd)
        {
            if (json_is_object(nd) && !strncasecmp(jstr(nd, "id"), key, kl)) {
                hits++;
                *node = nd;
            }
        }
        if (hits == 1)
            return 0;
        *node = NULL;
        if (hits > 1)
            return om_err(err, errlen, OM_EINVAL,
                          "node id prefix \"%s\" matches %zu nodes; give more digits or the name",
                          key, hits);
    }
    return om_err(err, errlen, OM_ENOTFOUND, "unknown node \"%s\" (not an id, id prefix or name)",
                  key);
}

int cli_cluster_parse_set(const char *arg, char *key, size_t kn, char *val, size_t vn, char *err,
                          size_t errlen)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return om_err(err, errlen, OM_EINVAL,
                      "\"%s\" is not KEY=VALUE (e.g. routing=round_robin, replication=2)", arg);
    size_t kl = (size_t)(eq - arg), vl = strlen(eq + 1);
    if (!kl || kl > 63 || kl >= kn)
        return om_err(err, errlen, OM_EINVAL, "setting name in \"%s\" must be 1 to 63 characters",
                      arg);
    for (size_t i = 0; i < kl; i++) {
        unsigned char c = (unsigned char)arg[i];
        if (!(islower(c) || isdigit(c) || c == '_'))
            return om_err(err, errlen, OM_EINVAL,
                          "setting name \"%.*s\" may hold only a-z, 0-9 and _", (int)kl, arg);
    }
    if (!vl || vl > 255 || vl >= vn)
        return om_err(err, errlen, OM_EINVAL, "value of %.*s must be 1 to 255 bytes", (int)kl,
                      arg);
    for (size_t i = 0; i < vl; i++)
        if ((unsigned char)eq[1 + i] < 0x20 || eq[1 + i] == 0x7f)
            return om_err(err, errlen, OM_EINVAL, "value of %.*s holds a control character",
                          (int)kl, arg);
    memcpy(key, arg, kl);
    key[kl] = 0;
    memcpy(val, eq + 1, vl + 1);
    return 0;
}

int cli_cluster_verb_args(const char *verb)
{
    static const struct {
        const char *name;
        int args;
    } verbs[] = {{"status", 0}, {"nodes", 0},   {"drain", 1}, {"undrain", 1},
                 {"leave", 0},  {"token", 0},   {"set", 1}};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp(verb, verbs[i].name))
            return verbs[i].args;
    return -1;
}
