/* tests: the scheduler's lifecycle on small random models — cancelling frees
 * the slot for a waiting job, OLLAMA_MAX_QUEUE (OM_EBUSY), keep_alive 0 and
 * a short keep_alive, LRU eviction at max_loaded and under mem_limit, a
 * num_ctx change reloads, LOAD jobs and sched_unload, load errors,
 * embeddings, and sched_free with work in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include "helpers/synth_model.h"
#include "sched_test_util.h"

static char g_dir[256];
static char g_llama[300], g_qwen[300], g_gemma[300], g_bert[300], g_junk[300];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/om_test_sched_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char err[256];
    struct {
        const char *arch;
        char *path;
    } ms[] = {{"llama", g_llama}, {"qwen2", g_qwen}, {"gemma", g_gemma}, {"bert", g_bert}};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        struct synth_opts o;
        synth_opts_default(&o, ms[i].arch);
        o.n_vocab = 256;
        snprintf(ms[i].path, 300, "%s/%s.gguf", g_dir, ms[i].arch);
        if (synth_model_write(&o, ms[i].path, err, sizeof(err)) != 0) {
            fprintf(stderr, "synth %s: %s\n", ms[i].arch, err);
            return -1;
        }
    }
    snprintf(g_junk, sizeof(g_junk), "%s/junk.gguf", g_dir);
    FILE *f = fopen(g_junk, "w");
    if (!f)
        return -1;
    fputs("this is not a gguf file", f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *fs[] = {g_llama, g_qwen, g_gemma, g_bert, g_junk};
    for (size_t i = 0; i < 5; i++)
        unlink(fs[i]);
    rmdir(g_dir);
    return 0;
}

static sched *new_sched(int parallel, int max_loaded, int max_queue, uint64_t mem)
{
    struct sched_config c;
    sched_config_default(&c);
    c.num_parallel = parallel;
    c.max_loaded = max_loaded;
    c.max_queue = max_queue;
    c.n_threads = 1;
    c.mem_limit = mem;
    sched *s = NULL;
    char err[256];
    assert_int_equal(sched_new(&c, &s, err, sizeof(err)), 0);
    return s;
}

/* A job of n_predict tokens on a random model (long ones slowed down by the
 * test's receiver). */
static void job_init(struct tjob *t, int n_predict, int salt)
{
    tj_init(t);
    t->n_toks = 8;
    for (int i = 0; i < 8; i++)
        t->toks[i] = 3 + (i * 37 + salt * 11) % 250;
    t->num_predict = n_predict;
    t->sp.temperature = 0.0f;
}

static sched_job *submit_m(sched *s, struct tjob *t, const char *path, int32_t num_ctx,
                           int64_t keep_alive_ns, bool ka_set, enum sched_kind kind)
{
    struct sched_model m = tj_model(path);
    m.num_ctx = num_ctx;
    m.keep_alive_ns = keep_alive_ns;
    m.keep_alive_set = ka_set;
    struct sched_job_cb cb = tj_cb(t);
    sched_job *j = NULL;
    assert_int_equal(sched_submit(s, kind, &m, &cb, &j), 0);
    return j;
}

static sched_job *submit(sched *s, struct tjob *t, const char *path)
{
    return submit_m(s, t, path, 0, 0, false, SCHED_GENERATE);
}

static void finish(struct tjob *t, sched_job *j, int rc)
{
    assert_true(tj_wait(t, 30000));
    sched_job_release(j);
    assert_int_equal(t->res.rc, rc);
    assert_int_equal(t->n_done, 1);
    tj_destroy(t);
}

static int n_loaded(sched *s, struct sched_loaded *l)
{
    return sched_list(s, l, 8);
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Polls until n models are loaded; returns the milliseconds it took or -1. */
static int wait_loaded(sched *s, int n, int ms)
{
    struct sched_loaded l[8];
    for (int t = 0; t <= ms; t += 5) {
        if (n_loaded(s, l) == n)
            return t;
        tj_sleep_ms(5);
    }
    return -1;
}

static void run_on(sched *s, const char *path, int32_t num_ctx)
{
    struct tjob t;
    job_init(&t, 2, 10);
    sched_job *j = submit_m(s, &t, path, num_ctx, 0, false, SCHED_GENERATE);
    finish(&t, j, 0);
}

static void test_cancel_frees_slot(void **state)
{
    (void)state;
    sched *s = new_sched(1, 3, 16, 0);
    struct tjob a, b;
    job_init(&a, 1000000, 1);
    a.block_at = 5; /* a stays mid-generation until released */
    job_init(&b, 8, 2);
    sched_job *ja = submit(s, &a, g_llama);
    assert_true(tj_wait_pieces(&a, 5, 30000));
    sched_job *jb = submit(s, &b, g_llama);
    tj_sleep_ms(30);
    struct sched_loaded l[8];
    assert_int_equal(n_loaded(s, l), 1);
    pthread_mutex_lock(&b.mu);
    int b_pieces = b.n_pieces;
    pthread_mutex_unlock(&b.mu);
    assert_false(a.done);
    assert_int_equal(b_pieces, 0); /* one slot: b waits */
    assert_int_equal(l[0].active, 1);
    assert_int_equal(l[0].queued, 1);
    /* busy: expires_at reads now + keep_alive (5 min) */
    int64_t d = l[0].expires_at_ns - wall_ns();
    assert_true(d > 299ll * 1000000000ll && d <= 300ll * 1000000000ll);
    sched_job_cancel(ja);
    tj_release(&a);
    finish(&a, ja, OM_ECANCELED);
    assert_true(tj_wait(&b, 30000));
    assert_int_equal(b.res.eval_count, 8);
    finish(&b, jb, 0);
    sched_free(s);
}

static void test_max_queue(void **state)
{
    (void)state;
    sched *s = new_sched(1, 3, 1, 0);
    struct tjob a, b, c;
    job_init(&a, 1000000, 3);
    a.block_at = 2;
    job_init(&b, 4, 4);
    job_init(&c, 4, 5);
    sched_job *ja = submit(s, &a, g_llama);
    assert_true(tj_wait_pieces(&a, 2, 30000));
    sched_job *jb = submit(s, &b, g_llama);
    struct sched_job_cb cb = tj_cb(&c);
    struct sched_model m = tj_model(g_llama);
    sched_job *jc = (sched_job *)1;
    assert_int_equal(sched_submit(s, SCHED_GENERATE, &m, &cb, &jc), OM_EBUSY);
    assert_null(jc);
    sched_job_cancel(jb); /* waiting in the runner's queue */
    tj_release(&a);       /* the runner was inside a's callback */
    finish(&b, jb, OM_ECANCELED);
    assert_int_equal(b.n_pieces, 0);
    sched_job_cancel(ja);
    finish(&a, ja, OM_ECANCELED);
    assert_int_equal(c.n_done, 0); /* never called */
    tj_destroy(&c);
    sched_free(s);

    /* jobs that find a free slot are not "waiting": a burst of 4 on a
     * loaded 4-slot runner passes max_queue 1 */
    s = new_sched(4, 3, 1, 0);
    run_on(s, g_llama, 0);
    struct tjob t[4];
    sched_job *jt[4];
    for (int i = 0; i < 4; i++) {
        job_init(&t[i], 3, 30 + i);
        jt[i] = submit(s, &t[i], g_llama);
    }
    for (int i = 0; i < 4; i++)
        finish(&t[i], jt[i], 0);
    sched_free(s);
}

static void test_keep_alive(void **state)
{
    (void)state;
    sched *s = new_sched(2, 3, 16, 0);
    struct tjob t;
    job_init(&t, 4, 6);
    sched_job *j = submit_m(s, &t, g_llama, 0, 0, true, SCHED_GENERATE);
    finish(&t, j, 0);
    assert_true(wait_loaded(s, 0, 2000) >= 0); /* keep_alive 0: unloaded right after */

    job_init(&t, 4, 7);
    j = submit_m(s, &t, g_llama, 0, 300 * 1000000ll, true, SCHED_GENERATE);
    finish(&t, j, 0);
    int64_t t0 = wall_ns();
    struct sched_loaded l[8];
    assert_int_equal(n_loaded(s, l), 1);
    int64_t left = l[0].expires_at_ns - t0;
    assert_true(left > 150 * 1000000ll && left <= 350 * 1000000ll); /* busy a moment longer: now + 300 ms */
    assert_int_equal(l[0].active, 0);
    int ms = wait_loaded(s, 0, 3000);
    assert_true(ms >= 100 && ms < 1500);

    /* a later job without keep_alive keeps the runner's duration */
    job_init(&t, 2, 8);
    j = submit_m(s, &t, g_llama, 0, -1, true, SCHED_GENERATE); /* forever */
    finish(&t, j, 0);
    job_init(&t, 2, 9);
    j = submit(s, &t, g_llama);
    finish(&t, j, 0);
    assert_int_equal(n_loaded(s, l), 1);
    assert_int_equal(l[0].expires_at_ns, INT64_MAX);
    sched_free(s);
}

static void test_eviction(void **state)
{
    (void)state;
    struct sched_loaded l[8];
    sched *s = new_sched(2, 1, 16, 0);
    run_on(s, g_llama, 0);
    run_on(s, g_qwen, 0);
    assert_int_equal(n_loaded(s, l), 1);
    assert_string_equal(l[0].path, g_qwen);
    sched_free(s);

    s = new_sched(2, 2, 16, 0);
    run_on(s, g_llama, 0);
    run_on(s, g_qwen, 0);
    run_on(s, g_llama, 0); /* llama is now the most recently used */
    run_on(s, g_gemma, 0);
    assert_int_equal(n_loaded(s, l), 2);
    assert_string_equal(l[0].path, g_gemma);
    assert_string_equal(l[1].path, g_llama);
    sched_free(s);

    /* memory: the limit fits one runner (scratch estimate 64 MiB each) */
    s = new_sched(2, 3, 16, 100ull << 20);
    run_on(s, g_llama, 0);
    run_on(s, g_qwen, 0);
    assert_int_equal(n_loaded(s, l), 1);
    assert_string_equal(l[0].path, g_qwen);
    sched_free(s);
}

static void test_num_ctx_reload(void **state)
{
    (void)state;
    struct sched_loaded l[8];
    sched *s = new_sched(2, 3, 16, 0);
    run_on(s, g_llama, 128);
    assert_int_equal(n_loaded(s, l), 1);
    assert_int_equal(l[0].n_ctx, 128);
    run_on(s, g_llama, 64);
    assert_int_equal(n_loaded(s, l), 1);
    assert_int_equal(l[0].n_ctx, 64);
    run_on(s, g_llama, 0); /* default: 4096 clipped to the model's 256 */
    assert_int_equal(n_loaded(s, l), 1);
    assert_int_equal(l[0].n_ctx, 256);
    sched_free(s);
}

/* A reload for other options waits for the busy runner, and jobs that
 * cannot be placed within load_timeout fail. */
static void test_reload_waits_and_timeout(void **state)
{
    (void)state;
    struct sched_config c;
    sched_config_default(&c);
    c.num_parallel = 2;
    c.max_loaded = 1;
    c.n_threads = 1;
    c.load_timeout_ns = 300 * 1000000ll;
    sched *s = NULL;
    char err[256];
    assert_int_equal(sched_new(&c, &s, err, sizeof(err)), 0);
    struct tjob a, b, d;
    struct sched_loaded l[8];
    job_init(&a, 1000000, 20);
    a.block_at = 2;
    job_init(&b, 3, 21);
    job_init(&d, 3, 22);
    sched_job *ja = submit_m(s, &a, g_llama, 128, 0, false, SCHED_GENERATE);
    assert_true(tj_wait_pieces(&a, 2, 30000));
    sched_job *jb = submit_m(s, &b, g_llama, 64, 0, false, SCHED_GENERATE); /* other num_ctx */
    sched_job *jd = submit(s, &d, g_qwen); /* max_loaded 1: waits too */
    assert_true(tj_wait(&b, 3000));
    assert_true(tj_wait(&d, 3000));
    assert_int_equal(b.res.rc, OM_ETIMEDOUT);
    assert_int_equal(d.res.rc, OM_ETIMEDOUT);
    assert_false(a.done);
    assert_int_equal(n_loaded(s, l), 1);
    assert_int_equal(l[0].n_ctx, 128);
    finish(&b, jb, OM_ETIMEDOUT);
    finish(&d, jd, OM_ETIMEDOUT);
    /* the reload that b asked for is void now: a job like a goes to a's
     * runner (it waits there: the runner is inside a's callback) */
    struct tjob e;
    job_init(&e, 3, 25);
    sched_job *je = submit_m(s, &e, g_llama, 128, 0, false, SCHED_GENERATE);
    tj_sleep_ms(20);
    assert_int_equal(n_loaded(s, l), 1);
    assert_int_equal(l[0].active + l[0].queued, 2);
    /* again, and this time a ends in time: b runs on a reloaded runner */
    job_init(&b, 3, 23);
    jb = submit_m(s, &b, g_llama, 64, 0, false, SCHED_GENERATE);
    tj_sleep_ms(20);
    assert_int_equal(b.n_pieces, 0);
    sched_job_cancel(ja);
    tj_release(&a);
    finish(&a, ja, OM_ECANCELED);
    finish(&e, je, 0);
    finish(&b, jb, 0);
    assert_int_equal(n_loaded(s, l), 1);
    assert_int_equal(l[0].n_ctx, 64);

    /* sched_unload of a busy model waits for its job */
    job_init(&a, 1000000, 24);
    a.block_at = 2;
    ja = submit_m(s, &a, g_llama, 64, 0, false, SCHED_GENERATE);
    assert_true(tj_wait_pieces(&a, 2, 30000));
    assert_int_equal(sched_unload(s, g_llama), 0);
    tj_sleep_ms(20);
    assert_int_equal(n_loaded(s, l), 1);
    sched_job_cancel(ja);
    tj_release(&a);
    finish(&a, ja, OM_ECANCELED);
    assert_true(wait_loaded(s, 0, 2000) >= 0);
    sched_free(s);
}

static void test_load_and_unload(void **state)
{
    (void)state;
    struct sched_loaded l[8];
    sched *s = new_sched(2, 3, 16, 0);
    struct tjob t;
    tj_init(&t);
    struct sched_model m = tj_model(g_qwen);
    m.name = "qwen:test";
    m.digest = "abc123";
    struct sched_job_cb cb = {NULL, NULL, tj_done, &t};
    sched_job *j = NULL;
    assert_int_equal(sched_submit(s, SCHED_LOAD, &m, &cb, &j), 0);
    assert_true(tj_wait(&t, 30000));
    sched_job_release(j);
    assert_int_equal(t.res.rc, 0);
    assert_int_equal(t.res.reason, SCHED_DONE_LOAD);
    tj_destroy(&t);
    assert_int_equal(n_loaded(s, l), 1);
    assert_string_equal(l[0].name, "qwen:test");
    assert_string_equal(l[0].digest, "abc123");
    assert_true(l[0].size > 0);
    /* a generation fills the rate and the load time */
    job_init(&t, 8, 3);
    j = submit(s, &t, g_qwen);
    assert_true(tj_wait(&t, 30000));
    assert_true(t.res.load_ns >= 0);
    finish(&t, j, 0);
    assert_int_equal(n_loaded(s, l), 1);
    assert_true(l[0].tokens_per_s > 0);
    assert_int_equal(sched_unload(s, g_qwen), 0);
    assert_true(wait_loaded(s, 0, 2000) >= 0);
    assert_int_equal(sched_unload(s, g_qwen), OM_ENOTFOUND);
    sched_free(s);
}

static void test_load_errors(void **state)
{
    (void)state;
    /* bad configuration and arguments are refused, no callback runs */
    struct sched_config bc;
    sched_config_default(&bc);
    bc.num_parallel = 65;
    sched *bad_s = (sched *)1;
    char berr[256] = "";
    assert_int_equal(sched_new(&bc, &bad_s, berr, sizeof(berr)), OM_ERANGE);
    assert_null(bad_s);
    assert_non_null(strstr(berr, "num_parallel"));
    sched *s = new_sched(2, 3, 16, 0);
    {
        struct tjob t;
        job_init(&t, 4, 1);
        struct sched_job_cb cb = tj_cb(&t);
        struct sched_model m = tj_model(NULL);
        sched_job *j = NULL;
        assert_int_equal(sched_submit(s, SCHED_GENERATE, &m, &cb, &j), OM_EINVAL);
        m.path = g_llama;
        m.num_ctx = -5;
        assert_int_equal(sched_submit(s, SCHED_GENERATE, &m, &cb, &j), OM_ERANGE);
        cb.prepare = NULL;
        m.num_ctx = 0;
        assert_int_equal(sched_submit(s, SCHED_GENERATE, &m, &cb, &j), OM_EINVAL);
        assert_null(j);
        assert_int_equal(t.n_done, 0);
        tj_destroy(&t);
    }
    const char *bad[] = {"/nonexistent/model.gguf", g_junk};
    for (int i = 0; i < 2; i++) {
        struct tjob t;
        job_init(&t, 4, 11);
        sched_job *j = submit(s, &t, bad[i]);
        assert_true(tj_wait(&t, 30000));
        sched_job_release(j);
        assert_true(t.res.rc < 0);
        assert_true(strlen(t.err) > 0);
        print_message("load error for %s: %s\n", bad[i], t.err);
        tj_destroy(&t);
    }
    struct sched_loaded l[8];
    assert_int_equal(n_loaded(s, l), 0);
    /* a context that cannot fit the memory limit even with one sequence */
    {
        sched *s2 = new_sched(4, 3, 16, 100ull << 20);
        struct tjob t;
        job_init(&t, 4, 2);
        sched_job *j = submit_m(s2, &t, g_llama, 4000000, 0, false, SCHED_GENERATE);
        assert_true(tj_wait(&t, 30000));
        sched_job_release(j);
        assert_int_equal(t.res.rc, OM_ENOMEM);
        assert_non_null(strstr(t.err, "memory"));
        assert_int_equal(n_loaded(s2, l), 0);
        tj_destroy(&t);
        sched_free(s2);
    }
    /* a prompt token out of range ends the job, the runner stays usable */
    struct tjob t;
    job_init(&t, 4, 12);
    t.toks[0] = 100000;
    sched_job *j = submit(s, &t, g_llama);
    finish(&t, j, OM_EINVAL);
    run_on(s, g_llama, 0);
    sched_free(s);
}

static void test_embed(void **state)
{
    (void)state;
    sched *s = new_sched(2, 3, 16, 0);
    struct tjob t;
    job_init(&t, 0, 13);
    sched_job *j = submit_m(s, &t, g_bert, 0, 0, false, SCHED_EMBED);
    assert_true(tj_wait(&t, 30000));
    sched_job_release(j);
    assert_int_equal(t.res.rc, 0);
    assert_int_equal(t.n_embd, 64);
    assert_int_equal(t.res.prompt_eval_count, 8);

    /* the engine's own pooled embedding of the same tokens */
    char err[256];
    eng_model *m = NULL;
    assert_int_equal(eng_model_load(g_bert, NULL, &m, err, sizeof(err)), 0);
    struct eng_ctx_params cp;
    eng_ctx_params_default(&cp);
    cp.n_ctx = 256;
    cp.n_batch = 256;
    cp.embeddings = 1;
    cp.n_threads = 1;
    eng_ctx *c = NULL;
    assert_int_equal(eng_ctx_new(m, &cp, &c, err, sizeof(err)), 0);
    struct eng_batch b = {t.n_toks, t.toks, NULL, NULL, NULL};
    assert_int_equal(eng_decode(c, &b), 0);
    const float *e = eng_get_embeddings(c, 0);
    assert_non_null(e);
    for (int i = 0; i < 64; i++)
        assert_true(fabsf(e[i] - t.emb[i]) < 1e-5f);
    eng_ctx_free(c);
    eng_model_free(m);

    /* several inputs at once (batched into one decode when they start
     * together) give each input's own embedding */
    struct tjob many[4];
    sched_job *jm[4];
    for (int k = 0; k < 4; k++) {
        job_init(&many[k], 0, k == 0 ? 13 : 40 + k);
        many[k].n_toks = 5 + k;
        if (k == 0)
            many[k].n_toks = 8; /* same input as above */
        jm[k] = submit_m(s, &many[k], g_bert, 0, 0, false, SCHED_EMBED);
    }
    for (int k = 0; k < 4; k++) {
        assert_true(tj_wait(&many[k], 30000));
        sched_job_release(jm[k]);
        assert_int_equal(many[k].res.rc, 0);
        assert_int_equal(many[k].res.prompt_eval_count, many[k].n_toks);
        struct tjob one;
        job_init(&one, 0, 0);
        one.n_toks = many[k].n_toks;
        memcpy(one.toks, many[k].toks, sizeof(one.toks));
        sched_job *j1 = submit_m(s, &one, g_bert, 0, 0, false, SCHED_EMBED);
        assert_true(tj_wait(&one, 30000));
        sched_job_release(j1);
        for (int i = 0; i < 64; i++)
            assert_true(fabsf(one.emb[i] - many[k].emb[i]) < 1e-5f);
        if (k == 0)
            for (int i = 0; i < 64; i++)
                assert_true(fabsf(t.emb[i] - many[k].emb[i]) < 1e-5f);
        tj_destroy(&one);
        tj_destroy(&many[k]);
    }
    tj_destroy(&t);

    /* generation on an encoder is refused */
    job_init(&t, 4, 14);
    j = submit_m(s, &t, g_bert, 0, 0, true, SCHED_GENERATE);
    finish(&t, j, OM_EUNSUPPORTED);
    sched_free(s);
}

static void *release_later(void *arg)
{
    tj_sleep_ms(50);
    tj_release(arg);
    return NULL;
}

static void test_free_cancels(void **state)
{
    (void)state;
    sched *s = new_sched(1, 3, 16, 0);
    struct tjob a, b, c;
    job_init(&a, 1000000, 15);
    a.block_at = 2;
    job_init(&b, 4, 16);
    job_init(&c, 4, 17);
    sched_job *ja = submit(s, &a, g_llama);
    assert_true(tj_wait_pieces(&a, 2, 30000));
    sched_job *jb = submit(s, &b, g_llama); /* queued behind a */
    sched_job *jc = submit(s, &c, g_qwen);  /* pending load (or loaded) */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, release_later, &a), 0);
    sched_free(s); /* a is released while sched_free waits */
    pthread_join(th, NULL);
    assert_true(a.done && b.done && c.done);
    assert_int_equal(a.res.rc, OM_ECANCELED);
    assert_int_equal(a.n_done + b.n_done + c.n_done, 3);
    sched_job_release(ja);
    sched_job_release(jb);
    sched_job_release(jc);
    tj_destroy(&a);
    tj_destroy(&b);
    tj_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_frees_slot),
        cmocka_unit_test(test_max_queue),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_num_ctx_reload),
        cmocka_unit_test(test_reload_waits_and_timeout),
        cmocka_unit_test(test_load_and_unload),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_embed),
        cmocka_unit_test(test_free_cancels),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
