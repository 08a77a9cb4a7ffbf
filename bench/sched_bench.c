/* bench: the scheduler's continuous batching — aggregate generation rate of
 * 1, 2, 4, 8 (…) concurrent streams on one model, as the serving
 * benchmark measures it (each stream: its own prompt, then n tokens).
 *
 * Build (after the library):
 *   cc -O2 -Isrc bench/sched_bench.c build/libomcore.a $(pkg-config --libs \
 *      libmicrohttpd jansson libcurl libcrypto) -lpthread -lm -o build/sched_bench
 * Run:
 *   build/sched_bench MODEL.gguf [-n tokens] [-p prompt_tokens] [-t threads]
 *                     [-P num_parallel] [-s 1,2,4,8]
 * Prints one line per stream count: wall time, aggregate tokens/s, mean
 * per-stream tokens/s, mean time to first token. Random prompts (fixed
 * seed), temperature 0.8: the weights need not be trained. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "sched/sched.h"

struct stream {
    int id, n_prompt, n_predict, n_vocab;
    uint64_t t_submit, t_first, t_done;
    int n_tok;
    bool done;
    int rc;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
};

static int prepare(void *ud, const struct sched_model_info *info, struct sched_prompt *p,
                   char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct stream *st = ud;
    p->tokens = malloc((size_t)st->n_prompt * sizeof(int32_t));
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(st->id + 1);
    int32_t nv = 32000;
    (void)info;
    for (int i = 0; i < st->n_prompt; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p->tokens[i] = 100 + (int32_t)(x % (uint64_t)(nv - 200));
    }
    p->n_tokens = st->n_prompt;
    p->num_predict = st->n_predict;
    p->sampling.temperature = 0.8f;
    p->sampling.seed = st->id;
    return 0;
}

static int on_piece(void *ud, const char *text, size_t len, const struct sched_piece *pc)
{
    (void)text;
    (void)len;
    (void)pc;
    struct stream *st = ud;
    if (!st->t_first)
        st->t_first = om_time_ns();
    return 0;
}

static void on_done(void *ud, const struct sched_result *res)
{
    struct stream *st = ud;
    pthread_mutex_lock(st->mu);
    st->t_done = om_time_ns();
    st->n_tok = res->eval_count;
    st->rc = res->rc;
    st->done = true;
    pthread_cond_broadcast(st->cv);
    pthread_mutex_unlock(st->mu);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf [-n N] [-p N] [-t N] [-P N] [-s 1,2,4,8]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int n_predict = 64, n_prompt = 32, threads = 0, parallel = 8;
    char counts[64] = "1,2,4,8";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n"))
            n_predict = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-p"))
            n_prompt = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-P"))
            parallel = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-s"))
            snprintf(counts, sizeof(counts), "%s", argv[i + 1]);
    }
    struct sched_config c;
    sched_config_default(&c);
    c.num_parallel = parallel;
    c.n_threads = threads;
    c.keep_alive_ns = -1;
    sched *s = NULL;
    char err[256];
    if (sched_new(&c, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    struct sched_model m;
    memset(&m, 0, sizeof(m));
    m.name = "bench";
    m.path = path;
    m.num_ctx = 1024;

    /* warm-up: load the model and touch the weights */
    struct stream w = {.id = 999, .n_prompt = 8, .n_predict = 4, .mu = &mu, .cv = &cv};
    struct sched_job_cb cb = {prepare, on_piece, on_done, &w};
    sched_job *j;
    if (sched_submit(s, SCHED_GENERATE, &m, &cb, &j) != 0)
        return 1;
    pthread_mutex_lock(&mu);
    while (!w.done)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    sched_job_release(j);
    if (w.rc != 0) {
        fprintf(stderr, "warm-up failed: %s\n", om_strerror(w.rc));
        return 1;
    }
    printf("streams  wall_s  agg_tok/s  per_stream_tok/s  ttft_ms\n");
    for (char *tokp = strtok(counts, ","); tokp; tokp = strtok(NULL, ",")) {
        int n = atoi(tokp);
        if (n <= 0 || n > 64)
            continue;
        struct stream *st = calloc((size_t)n, sizeof(*st));
        sched_job **js = calloc((size_t)n, sizeof(*js));
        uint64_t t0 = om_time_ns();
        for (int i = 0; i < n; i++) {
            st[i] = (struct stream){.id = i + n * 100, .n_prompt = n_prompt,
                                    .n_predict = n_predict, .mu = &mu, .cv = &cv};
            st[i].t_submit = om_time_ns();
            struct sched_job_cb cbi = {prepare, on_piece, on_done, &st[i]};
            if (sched_submit(s, SCHED_GENERATE, &m, &cbi, &js[i]) != 0)
                return 1;
        }
        int total = 0;
        double per = 0, ttft = 0;
        pthread_mutex_lock(&mu);
        for (int i = 0; i < n; i++)
            while (!st[i].done)
                pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        uint64_t t1 = om_time_ns();
        for (int i = 0; i < n; i++) {
            total += st[i].n_tok;
            if (st[i].t_first && st[i].t_done > st[i].t_first)
                per += (st[i].n_tok - 1) * 1e9 / (double)(st[i].t_done - st[i].t_first);
            ttft += st[i].t_first ? (double)(st[i].t_first - st[i].t_submit) / 1e6 : 0;
            sched_job_release(js[i]);
        }
        double wall = (double)(t1 - t0) / 1e9;
        printf("%7d  %6.2f  %9.2f  %16.2f  %7.1f\n", n, wall, total / wall, per / n, ttft / n);
        fflush(stdout);
        free(st);
        free(js);
    }
    sched_free(s);
    return 0;
}
