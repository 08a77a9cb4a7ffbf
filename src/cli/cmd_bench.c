/* cli: `bench` — llama-bench-style speed test of the engine on one model.
 *
 * pp: a batch of n_prompt random tokens decoded at once (logits for the last
 * only), from an empty cache. tg: n_gen tokens decoded one at a time from an
 * empty cache (logits for each, no sampling). Each test runs once as a
 * warm-up, then r times; tokens/s is reported as mean ± standard deviation of
 * the per-run rates, as llama-bench does. rss_bytes is the process's peak
 * resident set (weights are mmap'd, so it counts the touched file pages). */
#include "cli/cli_engine.h"
#include "cli/cli_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/om.h"
#include "base/om_types.h"
#include "engine/eng.h"

struct bench_args {
    const char *model;
    long n_prompt, n_gen, threads, reps;
    int json;
};

static int parse_args(int argc, char **argv, struct bench_args *a)
{
    memset(a, 0, sizeof *a);
    a->n_prompt = 128;
    a->n_gen = 32;
    a->reps = 5;
    const struct cli_opt opts[] = {
        {"-m", "--model", CLI_STR, &a->model, 0, 0},
        {"-p", "--n-prompt", CLI_INT, &a->n_prompt, 0, 1 << 16},
        {"-n", "--n-gen", CLI_INT, &a->n_gen, 0, 1 << 16},
        {"-t", "--threads", CLI_INT, &a->threads, 0, 1024},
        {"-r", "--repetitions", CLI_INT, &a->reps, 1, 1000},
        {"--json", NULL, CLI_FLAG, &a->json, 0, 0},
    };
    if (cli_parse_opts(argc, argv, opts, sizeof opts / sizeof opts[0]))
        return -1;
    if (!a->model) {
        cli_error("usage: ollamamax bench -m FILE.gguf [-p 128] [-n 32] [-t THREADS] [-r 5] [--json]");
        return -1;
    }
    return 0;
}

struct stat_ts {
    double mean, sd;
};

static struct stat_ts stats(const double *tps, int n)
{
    struct stat_ts s = {0, 0};
    for (int i = 0; i < n; i++)
        s.mean += tps[i];
    s.mean /= n;
    for (int i = 0; i < n; i++)
        s.sd += (tps[i] - s.mean) * (tps[i] - s.mean);
    s.sd = n > 1 ? sqrt(s.sd / (n - 1)) : 0;
    return s;
}

/* One pp run: n random tokens in one batch. Returns seconds or < 0. */
static double run_pp(eng_ctx *ctx, int32_t *toks, int n, int n_vocab)
{
    for (int i = 0; i < n; i++)
        toks[i] = rand() % n_vocab;
    eng_kv_clear(ctx);
    struct eng_batch b = {.n_tokens = n, .token = toks};
    uint64_t t0 = om_time_ns();
    if (eng_decode(ctx, &b))
        return -1;
    return (double)(om_time_ns() - t0) / 1e9;
}

/* One tg run: n single-token decodes. */
static double run_tg(eng_ctx *ctx, int n, int n_vocab)
{
    eng_kv_clear(ctx);
    uint64_t t0 = om_time_ns();
    for (int i = 0; i < n; i++) {
        int32_t tok = rand() % n_vocab;
        struct eng_batch b = {.n_tokens = 1, .token = &tok};
        if (eng_decode(ctx, &b))
            return -1;
    }
    return (double)(om_time_ns() - t0) / 1e9;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int cli_cmd_bench(int argc, char **argv)
{
    struct bench_args a;
    if (parse_args(argc, argv, &a))
        return 2;
    eng_model *m;
    if (cli_model_open(a.model, 0, &m))
        return 1;
    struct eng_ctx_params cp;
    eng_ctx_params_default(&cp);
    cp.n_threads = (int32_t)a.threads;
    cp.n_ctx = (uint32_t)(a.n_prompt + a.n_gen + 16);
    cp.n_batch = (uint32_t)(a.n_prompt > 0 ? a.n_prompt : 1);
    eng_ctx *ctx = NULL;
    char err[512] = "";
    int rc = eng_ctx_new(m, &cp, &ctx, err, sizeof err);
    if (rc) {
        cli_error("%s", err[0] ? err : om_strerror(rc));
        eng_model_free(m);
        return 1;
    }
    int n_vocab = eng_model_n_vocab(m), reps = (int)a.reps;
    int32_t *toks = om_xmalloc((size_t)(a.n_prompt + 1) * sizeof *toks);
    double *pp = om_xcalloc((size_t)reps, sizeof *pp), *tg = om_xcalloc((size_t)reps, sizeof *tg);
    srand(1234);
    for (int r = -1; r < reps && !rc; r++) { /* r = -1: warm-up */
        if (a.n_prompt > 0) {
            double s = run_pp(ctx, toks, (int)a.n_prompt, n_vocab);
            if (s < 0)
                rc = 1;
            else if (r >= 0)
                pp[r] = (double)a.n_prompt / s;
        }
        if (a.n_gen > 0 && !rc) {
            double s = run_tg(ctx, (int)a.n_gen, n_vocab);
            if (s < 0)
                rc = 1;
            else if (r >= 0)
                tg[r] = (double)a.n_gen / s;
        }
    }
    if (rc) {
        cli_error("decode failed");
    } else {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        uint64_t rss = (uint64_t)ru.ru_maxrss * 1024;
        int32_t n_layer = eng_model_n_layer(m), n_head = eng_model_n_head(m);
        uint64_t kv_bytes = eng_ctx_kv_bytes(ctx);
        struct stat_ts sp = stats(pp, reps), sg = stats(tg, reps);
        int nth = eng_ctx_n_threads(ctx);
        if (a.json) {
            printf("{\"model\":");
            cli_json_str(stdout, base_name(a.model), strlen(base_name(a.model)));
            printf(",\"arch\":\"%s\",\"size_bytes\":%llu,\"n_params\":%llu,\"threads\":%d,"
                   "\"pp\":{\"n\":%ld,\"tps\":%.3f,\"sd\":%.3f},"
                   "\"tg\":{\"n\":%ld,\"tps\":%.3f,\"sd\":%.3f},"
                   "\"rss_bytes\":%llu,\"kv_bytes\":%llu}\n",
                   eng_model_arch(m), (unsigned long long)eng_model_size(m),
                   (unsigned long long)eng_model_n_params(m), nth, a.n_prompt, sp.mean, sp.sd,
                   a.n_gen, sg.mean, sg.sd, (unsigned long long)rss,
                   (unsigned long long)kv_bytes);
        } else {
            char desc[96];
            snprintf(desc, sizeof desc, "%s %dL/%dH", eng_model_arch(m), n_layer, n_head);
            printf("| %-28s | %10s | %8s | %7s | %8s | %20s |\n", "model", "size", "params",
                   "threads", "test", "t/s");
            printf("| ---------------------------- | ---------: | -------: | ------: | -------: "
                   "| -------------------: |\n");
            double mib = (double)eng_model_size(m) / 1048576.0;
            double bp = (double)eng_model_n_params(m) / 1e9;
            char t[32], v[48];
            if (a.n_prompt > 0) {
                snprintf(t, sizeof t, "pp%ld", a.n_prompt);
                snprintf(v, sizeof v, "%.2f ± %.2f", sp.mean, sp.sd);
                printf("| %-28s | %6.2f MiB | %6.2f B | %7d | %8s | %21s |\n", desc, mib, bp, nth, t, v);
            }
            if (a.n_gen > 0) {
                snprintf(t, sizeof t, "tg%ld", a.n_gen);
                snprintf(v, sizeof v, "%.2f ± %.2f", sg.mean, sg.sd);
                printf("| %-28s | %6.2f MiB | %6.2f B | %7d | %8s | %21s |\n", desc, mib, bp, nth, t, v);
            }
            printf("\npeak RSS %.1f MiB (file %.1f MiB + KV %.1f MiB)\n", (double)rss / 1048576.0,
                   mib, (double)kv_bytes / 1048576.0);
        }
    }
    free(toks);
    free(pp);
    free(tg);
    eng_ctx_free(ctx);
    eng_model_free(m);
    return rc ? 1 : 0;
}
