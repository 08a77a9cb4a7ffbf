/* cli: `show MODEL` (cmd.go ShowHandler/showInfo): one /api/show, then one
 * field (--license, --modelfile, --parameters, --system, --template) or the
 * default view of borderless tables — Model, Capabilities, Projector,
 * Parameters, with -v Metadata and Tensors, System and License heads. The
 * REPL's /show info prints the same view on stderr. */
#include "base/om.h"
#include "cli/cli_util.h"
#include "cli/client.h"
#include "cli/client_fmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- show ------------------------------------------------------------------ */

/* Go's strconv.FormatFloat(v, 'g', -1, 64) / fmt "%v" of a float64: the
 * shortest digits that read back as v; exponent form when the decimal
 * exponent is < -4 or >= 21 for %v ('f' -1 below 1e21 as Go prints
 * integral JSON numbers), >= 6 for %g (`g6`). */
static void fmt_go_float(double v, int g6, char *out, size_t n)
{
    char tmp[64];
    int prec = 0;
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", prec, v);
    char *e = strchr(tmp, 'e');
    int exp = e ? atoi(e + 1) : 0;
    if (exp < -4 || exp >= (g6 ? 6 : 21)) {
        /* mantissa as is, exponent with at least two digits (like C) */
        snprintf(out, n, "%s", tmp);
        return;
    }
    int decimals = prec - exp;
    snprintf(out, n, "%.*f", decimals > 0 ? decimals : 0, v);
}

static void add_kv(struct cli_table *t, const char *k, const char *v)
{
    cli_table_add(t, (const char *[]){"", k, v, NULL});
}

static void section(const char *title, struct cli_table *t, FILE *f)
{
    fprintf(f, "  %s\n", title);
    cli_table_print(t, f);
    fputc('\n', f);
    cli_table_close(t);
}

/* The first n non-empty trimmed lines of s, then "..." if more. */
static void head_rows(struct cli_table *t, const char *s, int n)
{
    int count = 0;
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        const char *a = s;
        size_t k = l;
        while (k && isspace((unsigned char)*a))
            a++, k--;
        while (k && isspace((unsigned char)a[k - 1]))
            k--;
        if (k) {
            count++;
            if (count <= n) {
                char *line = om_xmalloc(k + 1);
                memcpy(line, a, k);
                line[k] = 0;
                cli_table_add(t, (const char *[]){"", line, NULL});
                free(line);
            }
        }
        s += l + (e ? 1 : 0);
    }
    if (count > n)
        cli_table_add(t, (const char *[]){"", "...", NULL});
}

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A metadata value as cmd.go's showInfo prints it. */
static void meta_value(json_t *v, char *out, size_t n)
{
    if (json_is_boolean(v)) {
        snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_string(v)) {
        snprintf(out, n, "%s", json_string_value(v));
    } else if (json_is_number(v)) {
        fmt_go_float(json_number_value(v), 1, out, n);
    } else if (json_is_array(v)) {
        size_t len = json_array_size(v), shown = 0, at = 0;
        int total = 1;
        char items[8][64];
        for (size_t i = 0; i < len && i < 8; i++) {
            json_t *x = json_array_get(v, i);
            if (json_is_string(x))
                snprintf(items[i], sizeof items[i], "%s", json_string_value(x));
            else if (json_is_number(x))
                fmt_go_float(json_number_value(x), 1, items[i], sizeof items[i]);
            else
                meta_value(x, items[i], sizeof items[i]);
            int w = cli_text_width(items[i], strlen(items[i])) + (i > 0 ? 2 : 0);
            if (total + w > 10 && i > 0)
                break;
            total += w;
            shown++;
        }
        at += (size_t)snprintf(out + at, n - at, "[");
        for (size_t i = 0; i < shown && at < n; i++)
            at += (size_t)snprintf(out + at, n - at, "%s%s", i ? " " : "", items[i]);
        if (at < n) {
            if (shown < len)
                snprintf(out + at, n - at, " ...+%zu more]", len - shown);
            else
                snprintf(out + at, n - at, "]");
        }
    } else {
        snprintf(out, n, json_is_object(v) ? "map[string]interface {}" : "<nil>");
    }
}

void cli_show_info(json_t *r, int verbose, FILE *f)
{
    struct cli_table t;
    char buf[512];
    json_t *mi = json_object_get(r, "model_info"), *det = json_object_get(r, "details");
    cli_table_init(&t, 3, 30);
    if (*jstr(r, "remote_host")) {
        add_kv(&t, "Remote model", jstr(r, "remote_model"));
        add_kv(&t, "Remote URL", jstr(r, "remote_host"));
    }
    if (json_is_object(mi)) {
        const char *arch = jstr(mi, "general.architecture");
        if (*arch)
            add_kv(&t, "architecture", arch);
        const char *ps = jstr(det, "parameter_size");
        json_t *pc = json_object_get(mi, "general.parameter_count");
        if (*ps)
            add_kv(&t, "parameters", ps);
        else if (json_is_number(pc)) {
            cli_fmt_number((uint64_t)json_number_value(pc), buf, sizeof buf);
            add_kv(&t, "parameters", buf);
        }
        static const char *const keys[][2] = {{"context_length", "context length"},
                                              {"embedding_length", "embedding length"}};
        for (int k = 0; k < 2; k++) {
            char key[256];
            snprintf(key, sizeof key, "%s.%s", arch, keys[k][0]);
            json_t *v = json_object_get(mi, key);
            if (json_is_number(v)) {
                fmt_go_float(json_number_value(v), 0, buf, sizeof buf);
                add_kv(&t, keys[k][1], buf);
            }
        }
    } else {
        add_kv(&t, "architecture", jstr(det, "family"));
        add_kv(&t, "parameters", jstr(det, "parameter_size"));
    }
    add_kv(&t, "quantization", jstr(det, "quantization_level"));
    if (*jstr(r, "requires"))
        add_kv(&t, "requires", jstr(r, "requires"));
    section("Model", &t, f);

    json_t *caps = json_object_get(r, "capabilities"), *v;
    size_t i;
    if (json_array_size(caps)) {
        cli_table_init(&t, 2, 30);
        json_array_foreach(caps, i, v) cli_table_add(&t, (const char *[]){"", json_string_value(v) ? json_string_value(v) : ""});
        section("Capabilities", &t, f);
    }

    json_t *pj = json_object_get(r, "projector_info");
    if (json_is_object(pj)) {
        cli_table_init(&t, 3, 30);
        const char *arch = jstr(pj, "general.architecture");
        if (*arch)
            add_kv(&t, "architecture", arch);
        json_t *pc = json_object_get(pj, "general.parameter_count");
        if (json_is_number(pc)) {
            cli_fmt_number((uint64_t)json_number_value(pc), buf, sizeof buf);
            add_kv(&t, "parameters", buf);
        }
        static const char *const pk[][2] = {{"embedding_length", "embedding length"},
                                            {"projection_dim", "dimensions"}};
        for (int k = 0; k < 2; k++)
            for (int mdl = 0; mdl < 2; mdl++) {
                char key[256];
                snprintf(key, sizeof key, "%s.%s.%s", arch, mdl ? "audio" : "vision", pk[k][0]);
                json_t *x = json_object_get(pj, key);
                if (json_is_number(x)) {
                    fmt_go_float(json_number_value(x), 0, buf, sizeof buf);
                    add_kv(&t, pk[k][1], buf);
                    break;
                }
            }
        section("Projector", &t, f);
    }

    const char *params = jstr(r, "parameters");
    if (*params) {
        cli_table_init(&t, 16, 30);
        for (const char *s = params; *s;) {
            const char *e = strchr(s, '\n');
            size_t l = e ? (size_t)(e - s) : strlen(s);
            const char *cells[17] = {""};
            char *line = om_xmalloc(l + 1), *save = NULL;
            memcpy(line, s, l);
            line[l] = 0;
            int nc = 1;
            for (char *tok = strtok_r(line, " \t\r", &save); tok && nc < 16;
                 tok = strtok_r(NULL, " \t\r", &save))
                cells[nc++] = tok;
            cells[nc] = NULL;
            if (nc > 1)
                cli_table_add(&t, cells);
            free(line);
            s += l + (e ? 1 : 0);
        }
        section("Parameters", &t, f);
    }

    if (verbose && json_is_object(mi)) {
        size_t nk = json_object_size(mi), k = 0;
        const char **keys = om_xcalloc(nk ? nk : 1, sizeof *keys);
        const char *key;
        json_object_foreach(mi, key, v) keys[k++] = key;
        qsort(keys, nk, sizeof *keys, strcmp_ptr);
        cli_table_init(&t, 3, 30);
        for (k = 0; k < nk; k++) {
            meta_value(json_object_get(mi, keys[k]), buf, sizeof buf);
            add_kv(&t, keys[k], buf);
        }
        free(keys);
        section("Metadata", &t, f);
    }
    json_t *tens = json_object_get(r, "tensors");
    if (verbose && json_array_size(tens)) {
        cli_table_init(&t, 4, 30);
        json_array_foreach(tens, i, v)
        {
            char shape[256] = "[";
            size_t at = 1, j;
            json_t *d;
            json_array_foreach(json_object_get(v, "shape"), j, d)
            {
                if (at + 24 >= sizeof shape)
                    break;
                at += (size_t)snprintf(shape + at, sizeof shape - at, "%s%lld", j ? " " : "",
                                       (long long)json_integer_value(d));
            }
            strcat(shape, "]");
            cli_table_add(&t, (const char *[]){"", jstr(v, "name"), jstr(v, "type"), shape});
        }
        section("Tensors", &t, f);
    }
    if (*jstr(r, "system")) {
        cli_table_init(&t, 2, 100);
        head_rows(&t, jstr(r, "system"), 2);
        section("System", &t, f);
    }
    if (*jstr(r, "license")) {
        cli_table_init(&t, 2, 100);
        head_rows(&t, jstr(r, "license"), 2);
        section("License", &t, f);
    }
}

int cli_cmd_show(int argc, char **argv)
{
    int lic = 0, mf = 0, par = 0, sys = 0, tpl = 0, verbose = 0;
    const struct cli_opt opts[] = {
        {"--license", NULL, CLI_FLAG, &lic, 0, 0},    {"--modelfile", NULL, CLI_FLAG, &mf, 0, 0},
        {"--parameters", NULL, CLI_FLAG, &par, 0, 0}, {"--system", NULL, CLI_FLAG, &sys, 0, 0},
        {"--template", NULL, CLI_FLAG, &tpl, 0, 0},   {"--verbose", "-v", CLI_FLAG, &verbose, 0, 0},
    };
    char *pos[2];
    int np;
    if (cli_client_args(argc, argv, opts, OM_ARRAY_LEN(opts), pos, 2, &np))
        return 2;
    if (np != 1) {
        fprintf(stderr, "Error: \"ollamamax show\" accepts 1 arg(s), received %d\n", np);
        return 2;
    }
    if (lic + mf + par + sys + tpl > 1) {
        fprintf(stderr, "Error: only one of '--license', '--modelfile', '--parameters', "
                        "'--system', or '--template' can be specified\n");
        return 1;
    }
    struct cli_client c;
    if (cli_client_init(&c))
        return cli_client_fail(&c);
    json_t *req = json_pack("{s:s}", "model", pos[0]), *r = NULL;
    if (verbose)
        json_object_set_new(req, "verbose", json_true());
    int rc = cli_client_call(&c, "POST", "/api/show", req, &r);
    json_decref(req);
    if (rc)
        return cli_client_fail(&c);
    json_t *caps = json_object_get(r, "capabilities"), *v;
    size_t i;
    json_array_foreach(caps, i, v) if (!strcmp(json_string_value(v) ? json_string_value(v) : "",
                                               "image"))
    {
        json_decref(r);
        fprintf(stderr, "Error: image generation models are not currently supported\n");
        return 1;
    }
    if (lic)
        printf("%s\n", jstr(r, "license"));
    else if (mf)
        printf("%s\n", jstr(r, "modelfile"));
    else if (par)
        printf("%s\n", jstr(r, "parameters"));
    else if (sys)
        fputs(jstr(r, "system"), stdout);
    else if (tpl)
        fputs(jstr(r, "template"), stdout);
    else
        cli_show_info(r, verbose, stdout);
    json_decref(r);
    return 0;
}

