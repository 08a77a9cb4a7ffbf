/* cli: `generate` — prompt in, generated text out, straight on the engine.
 *
 * Plain mode streams the text as it is produced (whole UTF-8 characters
 * only). --json prints one object at the end: prompt and generated token ids,
 * the text, and for every generated position the 10 most likely tokens by
 * log-softmax of the raw logits (before any sampling transform). Generation
 * stops after N tokens or at an end-of-generation token (not included). When
 * the context fills, it is shifted: the first tokens are kept (BOS), half of
 * the rest dropped. */
#include "cli/cli_engine.h"
#include "cli/cli_util.h"

#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/eng.h"
#include "engine/smp.h"
#include "engine/tok.h"

#define TOP_N 10

struct gen_args {
    const char *model, *prompt;
    long n_predict, threads, n_ctx, top_k;
    double temp, top_p, min_p, repeat_penalty;
    long seed;
    int json;
};

static int parse_args(int argc, char **argv, struct gen_args *a)
{
    memset(a, 0, sizeof *a);
    struct smp_params d = smp_params_default();
    a->n_predict = 128;
    a->temp = d.temperature;
    a->top_k = d.top_k;
    a->top_p = d.top_p;
    a->min_p = d.min_p;
    a->repeat_penalty = d.repeat_penalty;
    a->seed = -1;
    const struct cli_opt opts[] = {
        {"-m", "--model", CLI_STR, &a->model, 0, 0},
        {"-p", "--prompt", CLI_STR, &a->prompt, 0, 0},
        {"-n", "--num-predict", CLI_INT, &a->n_predict, 0, 1L << 30},
        {"-t", "--threads", CLI_INT, &a->threads, 0, 1024},
        {"-c", "--ctx", CLI_INT, &a->n_ctx, 0, 1L << 24},
        {"--seed", NULL, CLI_INT, &a->seed, -1, 0x7fffffffffffffffL},
        {"--temp", NULL, CLI_FLOAT, &a->temp, 0, 0},
        {"--top-k", NULL, CLI_INT, &a->top_k, 0, 1L << 30},
        {"--top-p", NULL, CLI_FLOAT, &a->top_p, 0, 0},
        {"--min-p", NULL, CLI_FLOAT, &a->min_p, 0, 0},
        {"--repeat-penalty", NULL, CLI_FLOAT, &a->repeat_penalty, 0, 0},
        {"--json", NULL, CLI_FLAG, &a->json, 0, 0},
    };
    if (cli_parse_opts(argc, argv, opts, sizeof opts / sizeof opts[0]))
        return -1;
    if (!a->model || !a->prompt) {
        cli_error("usage: ollamamax generate -m FILE.gguf -p PROMPT -n N [--temp T] [--seed S] "
                  "[-t THREADS] [--json]");
        return -1;
    }
    return 0;
}

/* Everything one run accumulates for the --json report. */
struct gen_out {
    int32_t *tokens;
    struct smp_logprob *top; /* TOP_N per generated token */
    int n;
    char *text;
    size_t text_len, text_cap;
};

static void out_text(struct gen_out *o, int json, const char *s, size_t n)
{
    if (!n)
        return;
    if (!json) {
        fwrite(s, 1, n, stdout);
        fflush(stdout);
        return;
    }
    if (o->text_len + n > o->text_cap) {
        o->text_cap = (o->text_len + n) * 2;
        o->text = om_xrealloc(o->text, o->text_cap);
    }
    memcpy(o->text + o->text_len, s, n);
    o->text_len += n;
}

static void print_json(const int *prompt, int n_prompt, const struct gen_out *o)
{
    printf("{\"prompt_tokens\":[");
    for (int i = 0; i < n_prompt; i++)
        printf(i ? ",%d" : "%d", prompt[i]);
    printf("],\"tokens\":[");
    for (int i = 0; i < o->n; i++)
        printf(i ? ",%d" : "%d", o->tokens[i]);
    printf("],\"text\":");
    cli_json_str(stdout, o->text ? o->text : "", o->text_len);
    printf(",\"top_logprobs\":[");
    for (int i = 0; i < o->n; i++) {
        printf(i ? ",[" : "[");
        for (int j = 0; j < TOP_N; j++) {
            const struct smp_logprob *lp = &o->top[(size_t)i * TOP_N + j];
            if (lp->id < 0)
                break;
            printf("%s{\"id\":%d,\"logprob\":%.7g}", j ? "," : "", lp->id, (double)lp->logprob);
        }
        printf("]");
    }
    printf("]}\n");
}

/* Decodes one token at the end of sequence 0, shifting the context when it
 * is full. */
static int decode_one(eng_ctx *ctx, int32_t tok, int n_keep)
{
    struct eng_batch b = {.n_tokens = 1, .token = &tok};
    int rc = eng_decode(ctx, &b);
    if (rc == OM_EFULL) {
        if (eng_ctx_shift(ctx, 0, n_keep) <= 0)
            return OM_EFULL;
        rc = eng_decode(ctx, &b);
    }
    return rc;
}

static int run(const struct gen_args *a, eng_model *m)
{
    const tok_vocab *v = eng_model_vocab(m);
    int *prompt = NULL, n_prompt = 0, rc;
    if ((rc = cli_tokenize(m, a->prompt, 1, 1, &prompt, &n_prompt)))
        return rc;
    if (n_prompt == 0) {
        cli_error("the prompt has no tokens");
        free(prompt);
        return OM_EINVAL;
    }
    struct eng_ctx_params cp;
    eng_ctx_params_default(&cp);
    cp.n_threads = (int32_t)a->threads;
    if (a->n_ctx)
        cp.n_ctx = (uint32_t)a->n_ctx;
    else {
        long want = n_prompt + a->n_predict + 1, train = eng_model_n_ctx_train(m);
        cp.n_ctx = (uint32_t)(train > 0 && want > train ? train : want);
    }
    if (cp.n_batch > cp.n_ctx)
        cp.n_batch = cp.n_ctx;
    eng_ctx *ctx = NULL;
    char err[512] = "";
    if ((rc = eng_ctx_new(m, &cp, &ctx, err, sizeof err))) {
        cli_error("%s", err[0] ? err : om_strerror(rc));
        free(prompt);
        return rc;
    }
    if ((uint32_t)n_prompt >= eng_ctx_n_ctx(ctx)) {
        cli_error("the prompt (%d tokens) does not fit the context (%u)", n_prompt,
                  eng_ctx_n_ctx(ctx));
        rc = OM_ERANGE;
        goto done;
    }
    struct smp_params sp = smp_params_default();
    sp.temperature = (float)a->temp;
    sp.top_k = (int32_t)a->top_k;
    sp.top_p = (float)a->top_p;
    sp.min_p = (float)a->min_p;
    sp.repeat_penalty = (float)a->repeat_penalty;
    sp.seed = a->seed;
    struct smp *smp = NULL;
    if ((rc = smp_new(&sp, eng_model_n_vocab(m), &smp, err, sizeof err))) {
        cli_error("%s", err);
        goto done;
    }
    for (int i = 0; i < n_prompt; i++)
        smp_accept(smp, prompt[i]);

    struct eng_batch b = {.n_tokens = n_prompt, .token = prompt};
    if ((rc = eng_decode(ctx, &b))) {
        cli_error("decode: %s", om_strerror(rc));
        smp_free(smp);
        goto done;
    }
    struct gen_out o = {0};
    o.tokens = om_xmalloc(((size_t)a->n_predict + 1) * sizeof *o.tokens);
    if (a->json)
        o.top = om_xmalloc(((size_t)a->n_predict + 1) * TOP_N * sizeof *o.top);
    size_t cap = 3 * (tok_max_piece_len(v) + 4);
    char *piece = om_xmalloc(cap);
    tok_stream ts;
    tok_stream_init(&ts);
    int n_keep = tok_add_bos(v) ? 1 : 0;
    for (int i = 0; i < a->n_predict; i++) {
        const float *logits = eng_get_logits(ctx, -1);
        int32_t tok = smp_sample(smp, logits);
        if (tok < 0) {
            cli_error("sampling failed: %s", om_strerror(tok));
            rc = tok;
            break;
        }
        if (tok_is_eog(v, tok))
            break;
        if (a->json) {
            struct smp_logprob *top = &o.top[(size_t)o.n * TOP_N];
            int got = smp_top_logprobs(logits, eng_model_n_vocab(m), TOP_N, top);
            for (int j = got < 0 ? 0 : got; j < TOP_N; j++)
                top[j].id = -1;
        }
        o.tokens[o.n++] = tok;
        smp_accept(smp, tok);
        size_t n_out = 0;
        if (tok_stream_push(&ts, v, tok, 0, piece, cap, &n_out) == 0)
            out_text(&o, a->json, piece, n_out);
        if (i + 1 < a->n_predict && (rc = decode_one(ctx, tok, n_keep))) {
            cli_error("decode: %s", om_strerror(rc));
            break;
        }
    }
    size_t n_out = 0;
    if (tok_stream_flush(&ts, piece, cap, &n_out) == 0)
        out_text(&o, a->json, piece, n_out);
    if (!rc) {
        if (a->json)
            print_json(prompt, n_prompt, &o);
        else
            putchar('\n');
    }
    free(piece);
    free(o.tokens);
    free(o.top);
    free(o.text);
    smp_free(smp);
done:
    eng_ctx_free(ctx);
    free(prompt);
    return rc;
}

int cli_cmd_generate(int argc, char **argv)
{
    struct gen_args a;
    if (parse_args(argc, argv, &a))
        return 2;
    eng_model *m;
    if (cli_model_open(a.model, 0, &m))
        return 1;
    if (eng_model_is_encoder(m)) {
        cli_error("%s: %s is an embedding model; use `ollamamax embed`", a.model,
                  eng_model_arch(m));
        eng_model_free(m);
        return 1;
    }
    int rc = run(&a, m);
    eng_model_free(m);
    return rc ? 1 : 0;
}
