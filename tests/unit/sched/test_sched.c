/* tests: the scheduler's generation path on stories260K — greedy output
 * equals the engine's own greedy decode, continuous batching gives every
 * sequence exactly what it gets alone (4 at once, one joining midway), stop
 * strings, num_predict, context shift, prompt-prefix reuse, logprobs, and a
 * job stopped by its receiver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "sched_test_util.h"

#define STORIES OM_SHARED_DIR "/models/stories260K.gguf"

static const char *const prompts[4] = {
    "Once upon a time",
    "The little dog",
    "Lily and Ben went to the park",
    "One day, a girl named Sue",
};

static bool have_stories(void)
{
    if (access(STORIES, R_OK) == 0)
        return true;
    fprintf(stderr, "SKIP: %s is absent\n", STORIES);
    return false;
}

/* The engine's own greedy decode (argmax, lowest id on ties) of text, up to
 * n tokens or EOG. Returns the number generated. */
static int ref_greedy(const char *text, int n, int32_t *out)
{
    char err[256];
    eng_model *m = NULL;
    assert_int_equal(eng_model_load(STORIES, NULL, &m, err, sizeof(err)), 0);
    const tok_vocab *v = eng_model_vocab(m);
    struct eng_ctx_params cp;
    eng_ctx_params_default(&cp);
    cp.n_ctx = 512;
    cp.n_threads = 1;
    eng_ctx *c = NULL;
    assert_int_equal(eng_ctx_new(m, &cp, &c, err, sizeof(err)), 0);
    int32_t tok[256];
    size_t nt = 0;
    assert_int_equal(tok_encode(v, text, strlen(text), 1, 0, tok, 256, &nt), 0);
    struct eng_batch b = {(int32_t)nt, tok, NULL, NULL, NULL};
    assert_int_equal(eng_decode(c, &b), 0);
    int32_t nv = eng_model_n_vocab(m);
    int k = 0;
    for (; k < n; k++) {
        const float *l = eng_get_logits(c, -1);
        int32_t best = 0;
        for (int32_t i = 1; i < nv; i++)
            if (l[i] > l[best])
                best = i;
        if (tok_is_eog(v, best))
            break;
        out[k] = best;
        b = (struct eng_batch){1, &out[k], NULL, NULL, NULL};
        assert_int_equal(eng_decode(c, &b), 0);
    }
    eng_ctx_free(c);
    eng_model_free(m);
    return k;
}

static sched *new_sched(int parallel)
{
    struct sched_config c;
    sched_config_default(&c);
    c.num_parallel = parallel;
    c.n_threads = 1;
    sched *s = NULL;
    char err[256];
    assert_int_equal(sched_new(&c, &s, err, sizeof(err)), 0);
    return s;
}

static sched_job *submit_b(sched *s, struct tjob *t, int32_t num_ctx, int32_t num_batch)
{
    struct sched_model m = tj_model(STORIES);
    m.num_ctx = num_ctx;
    m.num_batch = num_batch;
    struct sched_job_cb cb = tj_cb(t);
    sched_job *j = NULL;
    assert_int_equal(sched_submit(s, SCHED_GENERATE, &m, &cb, &j), 0);
    return j;
}

static sched_job *submit(sched *s, struct tjob *t, int32_t num_ctx)
{
    return submit_b(s, t, num_ctx, 0);
}

/* Generated ids of a finished job (after its prompt). */
static const int32_t *gen_of(const struct tjob *t, int *n)
{
    *n = t->res.eval_count;
    assert_true(t->n_tokens >= *n);
    return t->tokens + (t->n_tokens - *n);
}

static void run_alone(sched *s, const char *text, int n_predict, struct tjob *t)
{
    tj_init(t);
    t->text = text;
    t->num_predict = n_predict;
    sched_job *j = submit(s, t, 512);
    assert_true(tj_wait(t, 30000));
    sched_job_release(j);
    assert_int_equal(t->res.rc, 0);
}

static void test_greedy_equals_engine(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched(4);
    for (int p = 0; p < 2; p++) {
        int32_t ref[64];
        int nref = ref_greedy(prompts[p], 40, ref);
        struct tjob t;
        run_alone(s, prompts[p], 40, &t);
        int n;
        const int32_t *g = gen_of(&t, &n);
        print_message("gen %d ref %d text [%.*s] pe %d\n", n, nref, (int)t.n_out, t.out, t.res.prompt_eval_count);
        assert_int_equal(n, nref);
        assert_memory_equal(g, ref, (size_t)n * sizeof(int32_t));
        assert_int_equal(t.res.reason, nref == 40 ? SCHED_DONE_LENGTH : SCHED_DONE_STOP);
        /* the streamed text is the detokenized output */
        assert_true(t.n_out > 0);
        assert_true(t.res.prompt_eval_count > 0);
        assert_true(t.res.eval_ns > 0 && t.res.prompt_eval_ns > 0);
        if (p == 0)
            assert_true(t.res.load_ns > 0); /* this job loaded the model */
        tj_destroy(&t);
    }
    sched_free(s);
}

/* 4 jobs at once == each alone; then one joining mid-generation. */
static void test_batching_matches_alone(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    const int np = tj_quick() ? 24 : 48;
    sched *s = new_sched(4);
    static struct tjob alone[4], both[4];
    for (int i = 0; i < 4; i++)
        run_alone(s, prompts[i], np, &alone[i]);
    sched_free(s); /* a fresh runner: no prefix cache shared with the runs above */

    s = new_sched(4);
    sched_job *j[4];
    for (int i = 0; i < 4; i++) {
        tj_init(&both[i]);
        both[i].text = prompts[i];
        both[i].num_predict = np;
    }
    for (int i = 0; i < 3; i++)
        j[i] = submit(s, &both[i], 512);
    /* the fourth joins while the others are generating */
    assert_true(tj_wait_pieces(&both[0], 4, 30000));
    j[3] = submit(s, &both[3], 512);
    for (int i = 0; i < 4; i++) {
        assert_true(tj_wait(&both[i], 30000));
        sched_job_release(j[i]);
        assert_int_equal(both[i].res.rc, 0);
        int na, nb;
        const int32_t *ga = gen_of(&alone[i], &na), *gb = gen_of(&both[i], &nb);
        assert_int_equal(na, nb);
        assert_memory_equal(ga, gb, (size_t)na * sizeof(int32_t));
        assert_int_equal(alone[i].n_out, both[i].n_out);
        assert_memory_equal(alone[i].out, both[i].out, alone[i].n_out);
    }
    sched_free(s);

    /* prompts split over several steps (n_batch 5), mixed with generation */
    s = new_sched(4);
    for (int i = 0; i < 4; i++) {
        tj_destroy(&both[i]);
        tj_init(&both[i]);
        both[i].text = prompts[i];
        both[i].num_predict = np;
        j[i] = submit_b(s, &both[i], 512, 5);
    }
    for (int i = 0; i < 4; i++) {
        assert_true(tj_wait(&both[i], 30000));
        sched_job_release(j[i]);
        assert_int_equal(both[i].res.rc, 0);
        assert_int_equal(both[i].n_out, alone[i].n_out);
        assert_memory_equal(alone[i].out, both[i].out, alone[i].n_out);
    }
    sched_free(s);
    for (int i = 0; i < 4; i++) {
        tj_destroy(&alone[i]);
        tj_destroy(&both[i]);
    }
}

static void test_stop_and_num_predict(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched(2);
    struct tjob full;
    run_alone(s, prompts[0], 40, &full);
    assert_true(full.n_out > 20);
    /* a stop string taken from the middle of the known output */
    char stop[8];
    size_t at = full.n_out / 2;
    memcpy(stop, full.out + at, 5);
    stop[5] = 0;
    const char *first = strstr(full.out, stop);
    assert_non_null(first);
    struct tjob t;
    tj_init(&t);
    t.text = prompts[0];
    t.num_predict = 40;
    t.stops[0] = "zzzz-never";
    t.stops[1] = stop;
    t.n_stop = 2;
    sched_job *j = submit(s, &t, 512);
    assert_true(tj_wait(&t, 30000));
    sched_job_release(j);
    assert_int_equal(t.res.rc, 0);
    assert_int_equal(t.res.reason, SCHED_DONE_STOP);
    assert_int_equal(t.n_out, (size_t)(first - full.out));
    assert_memory_equal(t.out, full.out, t.n_out);
    tj_destroy(&t);

    tj_init(&t);
    t.text = prompts[0];
    t.num_predict = 5;
    j = submit(s, &t, 512);
    assert_true(tj_wait(&t, 30000));
    sched_job_release(j);
    assert_int_equal(t.res.rc, 0);
    assert_int_equal(t.res.reason, SCHED_DONE_LENGTH);
    assert_int_equal(t.res.eval_count, 5);
    int n;
    const int32_t *g = gen_of(&t, &n);
    const int32_t *gf = gen_of(&full, &n);
    assert_memory_equal(g, gf, 5 * sizeof(int32_t));
    tj_destroy(&t);
    tj_destroy(&full);
    sched_free(s);
}

/* A small context: with shift the job runs past it; without, it ends with
 * "length" when the context is full. */
static void test_context_shift(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched(2);
    struct tjob t;
    tj_init(&t);
    t.text = prompts[2];
    t.num_predict = 100;
    t.sp.temperature = 0.8f; /* keep going (greedy may hit EOG early) */
    t.sp.seed = 7;
    sched_job *j = submit(s, &t, 48);
    assert_true(tj_wait(&t, 30000));
    sched_job_release(j);
    assert_int_equal(t.res.rc, 0);
    assert_int_equal(t.n_ctx_seen, 48);
    int prompt_n = t.n_tokens - t.res.eval_count;
    if (t.res.reason == SCHED_DONE_LENGTH)
        assert_int_equal(t.res.eval_count, 100); /* ran past 48 cells */
    else
        print_message("note: EOG after %d tokens\n", t.res.eval_count);
    tj_destroy(&t);

    tj_init(&t);
    t.text = prompts[2];
    t.num_predict = 100;
    t.shift = false;
    t.sp.temperature = 0.8f;
    t.sp.seed = 7;
    j = submit(s, &t, 48);
    assert_true(tj_wait(&t, 30000));
    sched_job_release(j);
    assert_int_equal(t.res.rc, 0);
    assert_true(t.res.eval_count <= 48 - prompt_n + 1);
    if (t.res.reason == SCHED_DONE_LENGTH)
        assert_int_equal(t.res.eval_count, 48 - prompt_n + 1);
    tj_destroy(&t);

    /* a prompt longer than the context without shift is refused */
    tj_init(&t);
    t.n_toks = 60;
    for (int i = 0; i < 60; i++)
        t.toks[i] = 100 + i;
    t.shift = false;
    j = submit(s, &t, 48);
    assert_true(tj_wait(&t, 30000));
    sched_job_release(j);
    assert_int_equal(t.res.rc, OM_ERANGE);
    assert_non_null(strstr(t.err, "context"));
    tj_destroy(&t);
    sched_free(s);
}

/* A new prompt that shares only its first token(s) with a cached one takes
 * an empty slot instead of evicting that cache: the first conversation is
 * still cached after the second one ran. */
static void test_slot_keeps_other_cache(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched(2);
    struct tjob a, b, a2;
    run_alone(s, prompts[0], 8, &a);
    run_alone(s, prompts[1], 8, &b); /* shares only BOS with a */
    run_alone(s, prompts[0], 8, &a2);
    assert_int_equal(a2.res.rc, 0);
    assert_int_equal(a2.res.prompt_eval_count, 1); /* a's cache survived b */
    tj_destroy(&a);
    tj_destroy(&b);
    tj_destroy(&a2);
    sched_free(s);
}

static void test_prefix_reuse(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched(2);
    struct tjob a, b;
    run_alone(s, prompts[2], 16, &a);
    int n_prompt = a.n_tokens - a.res.eval_count;
    assert_int_equal(a.res.prompt_eval_count, n_prompt);
    run_alone(s, prompts[2], 16, &b);
    assert_int_equal(b.res.prompt_eval_count, 1); /* all but the last token cached */
    int na, nb;
    const int32_t *ga = gen_of(&a, &na), *gb = gen_of(&b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ga, gb, (size_t)na * sizeof(int32_t));
    tj_destroy(&b);

    /* a continuation (prompt + output + more) only evaluates the new part */
    tj_init(&b);
    b.n_toks = a.n_tokens + 3;
    memcpy(b.toks, a.tokens, (size_t)a.n_tokens * sizeof(int32_t));
    b.toks[a.n_tokens] = 100;
    b.toks[a.n_tokens + 1] = 200;
    b.toks[a.n_tokens + 2] = 300;
    b.num_predict = 4;
    sched_job *j = submit(s, &b, 512);
    assert_true(tj_wait(&b, 30000));
    sched_job_release(j);
    assert_int_equal(b.res.rc, 0);
    /* the last generated token of a was never decoded: 1 + 3 new tokens */
    assert_int_equal(b.res.prompt_eval_count, 4);
    tj_destroy(&a);
    tj_destroy(&b);
    sched_free(s);

    /* a job whose prompt a running job already holds shares its cells */
    static const char long_prompt[] =
        "Once upon a time, there was a little girl named Lily. She loved to play outside "
        "in the park with her friends. One day, she saw a big red ball";
    s = new_sched(4);
    tj_init(&a);
    a.text = long_prompt;
    a.num_predict = 150;
    a.piece_sleep_ms = 2; /* a stays busy while b runs */
    sched_job *ja = submit(s, &a, 512);
    assert_true(tj_wait_pieces(&a, 2, 30000));
    tj_init(&b);
    b.text = long_prompt;
    b.num_predict = 8;
    j = submit(s, &b, 512);
    assert_true(tj_wait(&b, 30000));
    sched_job_release(j);
    assert_int_equal(b.res.rc, 0);
    pthread_mutex_lock(&a.mu);
    bool a_busy = !a.done;
    pthread_mutex_unlock(&a.mu);
    assert_true(a_busy);
    int n_lp = b.n_tokens - b.res.eval_count;
    assert_true(n_lp > 17);
    assert_int_equal(b.res.prompt_eval_count, 1);
    sched_job_cancel(ja);
    assert_true(tj_wait(&a, 30000));
    sched_job_release(ja);
    /* b's greedy tokens are a's first ones: the shared cells are right */
    gb = gen_of(&b, &nb);
    assert_memory_equal(gb, a.tokens + n_lp, (size_t)nb * sizeof(int32_t));
    tj_destroy(&a);
    tj_destroy(&b);
    sched_free(s);
}

static void test_logprobs_and_receiver_stop(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched(2);
    struct tjob t;
    tj_init(&t);
    t.text = prompts[1];
    t.num_predict = 12;
    t.logprobs = true;
    t.top_logprobs = 5;
    sched_job *j = submit(s, &t, 512);
    assert_true(tj_wait(&t, 30000));
    sched_job_release(j);
    assert_int_equal(t.res.rc, 0);
    assert_int_equal(t.n_logprob_pieces, t.res.eval_count); /* one per token */
    assert_true(t.top_ok);
    tj_destroy(&t);

    tj_init(&t);
    t.text = prompts[1];
    t.num_predict = 40;
    t.stop_after_pieces = 3;
    j = submit(s, &t, 512);
    assert_true(tj_wait(&t, 30000));
    sched_job_release(j);
    assert_int_equal(t.res.rc, OM_ECANCELED);
    assert_int_equal(t.n_pieces, 3);
    assert_int_equal(t.n_done, 1);
    tj_destroy(&t);
    sched_free(s);
}

/* format "json": every streamed byte follows the grammar (the model on its
 * own writes a story), and the job only ends by EOG once the value is
 * complete. A plain job runs alongside, unaffected. */
static void test_grammar(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched(2);
    struct tjob plain_alone, g, plain;
    run_alone(s, prompts[0], 24, &plain_alone);
    sched_free(s);
    s = new_sched(2);
    tj_init(&g);
    g.text = prompts[0];
    g.num_predict = 48;
    g.json = true;
    tj_init(&plain);
    plain.text = prompts[0];
    plain.num_predict = 24;
    sched_job *jg = submit(s, &g, 512);
    sched_job *jp = submit(s, &plain, 512);
    assert_true(tj_wait(&g, 30000));
    assert_true(tj_wait(&plain, 30000));
    sched_job_release(jg);
    sched_job_release(jp);
    assert_int_equal(g.res.rc, 0);
    assert_int_equal(plain.res.rc, 0);
    print_message("json output (%s): [%.*s]\n",
                  g.res.reason == SCHED_DONE_STOP ? "stop" : "length", (int)g.n_out, g.out);
    assert_true(g.n_out > 0);
    assert_true(g.out[strspn(g.out, " \n\t")] == '{');
    struct gram *gr = NULL;
    char err[256];
    assert_int_equal(gram_new_json(&gr, err, sizeof(err)), 0);
    struct gram_state *st = gram_state_new(gr);
    assert_non_null(st);
    assert_int_equal(gram_state_advance(st, g.out, g.n_out), 0);
    if (g.res.reason == SCHED_DONE_STOP)
        assert_true(gram_state_complete(st));
    gram_state_free(st);
    gram_free(gr);
    assert_int_equal(plain.n_out, plain_alone.n_out);
    assert_memory_equal(plain.out, plain_alone.out, plain.n_out);
    tj_destroy(&g);
    tj_destroy(&plain);
    tj_destroy(&plain_alone);
    sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_equals_engine),
        cmocka_unit_test(test_batching_matches_alone),
        cmocka_unit_test(test_stop_and_num_predict),
        cmocka_unit_test(test_context_shift),
        cmocka_unit_test(test_prefix_reuse),
        cmocka_unit_test(test_slot_keeps_other_cache),
        cmocka_unit_test(test_logprobs_and_receiver_stop),
        cmocka_unit_test(test_grammar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
