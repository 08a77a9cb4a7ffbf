/* cli: `tokenize` and `embed`, plus the model-opening helpers shared by the
 * engine tools. */
#include "cli/cli_engine.h"
#include "cli/cli_util.h"

#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/eng.h"
#include "engine/tok.h"

int cli_model_open(const char *path, int vocab_only, eng_model **out)
{
    struct eng_model_params p;
    eng_model_params_default(&p);
    p.vocab_only = vocab_only;
    char err[512] = "";
    int rc = eng_model_load(path, &p, out, err, sizeof err);
    if (rc) {
        cli_error("%s: %s", path, err[0] ? err : om_strerror(rc));
        return rc;
    }
    return 0;
}

int cli_tokenize(const eng_model *m, const char *text, int add_special, int parse_special,
                 int **ids, int *n)
{
    const tok_vocab *v = eng_model_vocab(m);
    if (!v) {
        cli_error("model has no tokenizer");
        return OM_ENOTFOUND;
    }
    size_t len = strlen(text), cap = len + 8, got = 0;
    int32_t *out = om_xmalloc(cap * sizeof *out);
    int rc = tok_encode(v, text, len, add_special, parse_special, out, cap, &got);
    if (rc == OM_ERANGE) {
        cap = got;
        out = om_xrealloc(out, cap * sizeof *out);
        rc = tok_encode(v, text, len, add_special, parse_special, out, cap, &got);
    }
    if (rc) {
        free(out);
        cli_error("tokenize: %s", om_strerror(rc));
        return rc;
    }
    *ids = out;
    *n = (int)got;
    return 0;
}

struct text_args {
    const char *model, *prompt;
    int raw;
};

static int parse_text_args(int argc, char **argv, int allow_raw, struct text_args *a)
{
    memset(a, 0, sizeof *a);
    const struct cli_opt opts[] = {
        {"-m", "--model", CLI_STR, &a->model, 0, 0},
        {"-p", "--prompt", CLI_STR, &a->prompt, 0, 0},
        {"--raw", NULL, CLI_FLAG, &a->raw, 0, 0},
    };
    /* --raw exists for tokenize only */
    if (cli_parse_opts(argc, argv, opts, sizeof opts / sizeof opts[0] - (allow_raw ? 0 : 1)))
        return -1;
    if (!a->model || !a->prompt) {
        cli_error("usage: ollamamax %s -m FILE.gguf -p TEXT%s", argv[0], allow_raw ? " [--raw]" : "");
        return -1;
    }
    return 0;
}

int cli_cmd_tokenize(int argc, char **argv)
{
    struct text_args a;
    if (parse_text_args(argc, argv, 1, &a))
        return 2;
    eng_model *m;
    if (cli_model_open(a.model, 1, &m))
        return 1;
    int *ids, n;
    /* --raw: the vocab test-file convention (no BOS/EOS, special text is
     * plain text); otherwise metadata BOS/EOS and special tokens parsed. */
    int rc = cli_tokenize(m, a.prompt, !a.raw, !a.raw, &ids, &n);
    if (!rc) {
        putchar('[');
        for (int i = 0; i < n; i++)
            printf(i ? ",%d" : "%d", ids[i]);
        puts("]");
        free(ids);
    }
    eng_model_free(m);
    return rc ? 1 : 0;
}

int cli_cmd_embed(int argc, char **argv)
{
    struct text_args a;
    if (parse_text_args(argc, argv, 0, &a))
        return 2;
    eng_model *m;
    if (cli_model_open(a.model, 0, &m))
        return 1;
    int *ids = NULL, n = 0, rc = cli_tokenize(m, a.prompt, 1, 0, &ids, &n);
    eng_ctx *ctx = NULL;
    if (!rc && n == 0) {
        cli_error("embed: the text has no tokens");
        rc = OM_EINVAL;
    }
    if (!rc) {
        struct eng_ctx_params cp;
        eng_ctx_params_default(&cp);
        cp.embeddings = 1;
        cp.n_ctx = (uint32_t)n;
        cp.n_batch = (uint32_t)n;
        char err[512] = "";
        if ((rc = eng_ctx_new(m, &cp, &ctx, err, sizeof err)))
            cli_error("%s", err[0] ? err : om_strerror(rc));
    }
    if (!rc) {
        struct eng_batch b = {.n_tokens = n, .token = ids};
        if ((rc = eng_decode(ctx, &b)))
            cli_error("embed: %s", om_strerror(rc));
    }
    if (!rc) {
        const float *e = eng_get_embeddings(ctx, 0);
        if (!e) {
            cli_error("embed: the model produced no embedding");
            rc = OM_EUNSUPPORTED;
        } else {
            int d = eng_model_n_embd(m);
            putchar('[');
            for (int i = 0; i < d; i++)
                printf(i ? ",%.9g" : "%.9g", (double)e[i]);
            puts("]");
        }
    }
    free(ids);
    eng_ctx_free(ctx);
    eng_model_free(m);
    return rc ? 1 : 0;
}
