/* tests: resumed jobs (sched_prompt.n_resume, cluster failover) on
 * stories260K — a greedy job's tokens cut at any point and given back as the
 * tail of the prompt continue with exactly the rest of the uninterrupted
 * text and the same eval_count and done reason: plain, with a stop string
 * whose prefix is held back across the cut, and under a JSON grammar; a
 * resume that already reached num_predict ends "length" with nothing new;
 * every_token reports each token once; n_resume out of range is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "sched_test_util.h"

#define STORIES OM_SHARED_DIR "/models/stories260K.gguf"

static bool have_stories(void)
{
    if (access(STORIES, R_OK) == 0)
        return true;
    fprintf(stderr, "SKIP: %s is absent\n", STORIES);
    return false;
}

/* A tjob plus what the resume tests need. */
struct rjob {
    struct tjob t;          /* first: the tj_* callbacks get &rjob->t */
    int n_resume;
    size_t cum[TJ_MAX_TOK]; /* text bytes out after generated token i */
    int n_tok_pieces;
};

static int r_prepare(void *ud, const struct sched_model_info *info, struct sched_prompt *p,
                     char *err, size_t errlen)
{
    struct rjob *r = ud;
    int rc = tj_prepare(&r->t, info, p, err, errlen);
    p->n_resume = r->n_resume;
    p->every_token = true;
    return rc;
}

static int r_piece(void *ud, const char *text, size_t len, const struct sched_piece *pc)
{
    struct rjob *r = ud;
    int rc = tj_piece(&r->t, text, len, pc);
    pthread_mutex_lock(&r->t.mu);
    if (pc && r->n_tok_pieces < TJ_MAX_TOK)
        r->cum[r->n_tok_pieces++] = r->t.n_out;
    pthread_mutex_unlock(&r->t.mu);
    return rc;
}

static void r_done(void *ud, const struct sched_result *res)
{
    tj_done(&((struct rjob *)ud)->t, res);
}

static void run(sched *s, struct rjob *r)
{
    struct sched_model m = tj_model(STORIES);
    m.num_ctx = 512;
    struct sched_job_cb cb = {r_prepare, r_piece, r_done, r};
    sched_job *j = NULL;
    assert_int_equal(sched_submit(s, SCHED_GENERATE, &m, &cb, &j), 0);
    assert_true(tj_wait(&r->t, 30000));
    sched_job_release(j);
}

static sched *new_sched(void)
{
    struct sched_config c;
    sched_config_default(&c);
    c.num_parallel = 2;
    c.n_threads = 1;
    sched *s = NULL;
    char err[256];
    assert_int_equal(sched_new(&c, &s, err, sizeof(err)), 0);
    return s;
}

/* Runs the full job, then resumes at several cuts and compares. */
static void check(sched *s, const char *stop, bool json, int num_predict)
{
    struct rjob *full = calloc(1, sizeof *full);
    tj_init(&full->t);
    full->t.text = "Once upon a time";
    full->t.num_predict = num_predict;
    full->t.json = json;
    if (stop) {
        full->t.stops[0] = stop;
        full->t.n_stop = 1;
    }
    run(s, full);
    assert_int_equal(full->t.res.rc, 0);
    int n_gen = full->t.res.eval_count;
    int n_prompt = full->t.n_tokens - n_gen;
    assert_true(n_gen > 4 && n_prompt > 0);
    /* every_token: one piece per generated token (the EOG one and a stop hit's excepted) */
    assert_true(full->n_tok_pieces == n_gen);
    if (stop) {
        assert_int_equal(full->t.res.reason, SCHED_DONE_STOP);
        assert_null(strstr(full->t.out, stop));
        int held = 0; /* tokens whose text was held back (a possible stop prefix) */
        for (int i = 1; i < n_gen; i++)
            held += full->cum[i] == full->cum[i - 1];
        assert_true(held > 0);
    }
    int cuts[] = {1, 2, n_gen / 3, n_gen / 2, n_gen - 2, n_gen - 1, n_gen};
    for (size_t c = 0; c < OM_ARRAY_LEN(cuts); c++) {
        int k = cuts[c];
        struct rjob *r = calloc(1, sizeof *r);
        tj_init(&r->t);
        r->t.num_predict = num_predict;
        r->t.json = json;
        if (stop) {
            r->t.stops[0] = stop;
            r->t.n_stop = 1;
        }
        r->t.text = NULL;
        memcpy(r->t.toks, full->t.tokens, (size_t)(n_prompt + k) * sizeof(int32_t));
        r->t.n_toks = n_prompt + k;
        r->n_resume = k;
        run(s, r);
        assert_int_equal(r->t.res.rc, 0);
        size_t before = full->cum[k - 1];
        assert_int_equal(before + r->t.n_out, full->t.n_out);
        assert_memory_equal(r->t.out, full->t.out + before, r->t.n_out);
        assert_int_equal(r->t.res.eval_count, n_gen);
        assert_int_equal(r->t.res.reason, full->t.res.reason);
        assert_int_equal(r->n_tok_pieces, n_gen - k);
        tj_destroy(&r->t);
        free(r);
    }
    tj_destroy(&full->t);
    free(full);
}

static void test_resume_plain(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched();
    check(s, NULL, false, 40);
    sched_free(s);
}

static void test_resume_stop_and_grammar(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched();
    /* " the" comes after "there was a little girl…": held back at every " t", " th" */
    check(s, " the p", false, 60);
    if (!tj_quick())
        check(s, NULL, true, 24);
    sched_free(s);
}

static void test_resume_bad(void **state)
{
    (void)state;
    if (!have_stories())
        skip();
    sched *s = new_sched();
    struct rjob *r = calloc(1, sizeof *r);
    tj_init(&r->t);
    r->t.toks[0] = 1;
    r->t.toks[1] = 300;
    r->t.n_toks = 2;
    r->n_resume = 2; /* the whole prompt: nothing before it */
    run(s, r);
    assert_int_equal(r->t.res.rc, OM_EINVAL);
    tj_destroy(&r->t);
    tj_init(&r->t);
    r->t.toks[0] = 1;
    r->t.n_toks = 1;
    r->n_resume = -1;
    run(s, r);
    assert_int_equal(r->t.res.rc, OM_EINVAL);
    tj_destroy(&r->t);
    free(r);
    sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_plain),
        cmocka_unit_test(test_resume_stop_and_grammar),
        cmocka_unit_test(test_resume_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
