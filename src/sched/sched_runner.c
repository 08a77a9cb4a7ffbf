/* sched: one runner per loaded model — a thread that owns the engine context
 * and decodes every active sequence together (continuous batching).
 *
 * Each step is ONE eng_decode holding, in this order:
 *   - the last sampled token of every generating slot (logits on), after a
 *     context shift (or a "length" end) for a slot whose context is full;
 *   - then prompt tokens of slots still reading their prompt, in slot order,
 *     up to n_batch tokens in all (logits only on a prompt's last token).
 * Then every slot that got logits samples and streams its next token. Jobs
 * waiting in the queue take free slots between steps (FIFO); cancelled jobs
 * leave between steps, their sequence freed at once. Nothing is allocated
 * per step: the batch arrays, the mask and the text scratch are sized once.
 * With no active slot the thread sleeps on r->cond. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/gram.h"
#include "sched/sched_int.h"

int sched_runner_init(struct sched_runner *r, char *err, size_t errlen)
{
    struct eng_ctx_params cp;
    eng_ctx_params_default(&cp);
    uint64_t cells = (uint64_t)r->n_ctx_seq * (uint64_t)r->n_slots;
    if (r->n_ctx_seq < 8 || cells > (1u << 30))
        return om_err(err, errlen, OM_ERANGE, "num_ctx %d: out of range", r->n_ctx_seq);
    cp.n_ctx = (uint32_t)cells;
    /* a request's num_batch sizes the forward scratch: keep it sane */
    cp.n_batch = (uint32_t)OM_MIN((uint64_t)r->num_batch, OM_MIN(cells, 4096u));
    if (r->encoder && cp.n_batch < (uint32_t)r->n_ctx_seq)
        cp.n_batch = (uint32_t)r->n_ctx_seq; /* a whole input in one chunk */
    cp.n_seq_max = (uint32_t)r->n_slots;
    cp.n_threads = r->num_thread;
    cp.embeddings = (r->embed || r->encoder) ? 1 : 0;
    int rc = eng_ctx_new(r->model, &cp, &r->ctx, err, errlen);
    if (rc != 0)
        return rc;
    r->vocab = eng_model_vocab(r->model);
    if (!r->vocab)
        return om_err(err, errlen, OM_ENOTFOUND, "%s: the model has no tokenizer", r->path);
    r->n_vocab = eng_model_n_vocab(r->model);
    r->n_batch = (int32_t)eng_ctx_n_batch(r->ctx);
    if (r->encoder)
        r->n_batch = (int32_t)eng_ctx_n_batch(r->ctx);
    r->size = eng_model_size(r->model) + eng_ctx_kv_bytes(r->ctx) + SCHED_SCRATCH_EST;

    r->slots = om_xcalloc((size_t)r->n_slots, sizeof(*r->slots));
    r->slot_prefix = om_xcalloc((size_t)r->n_slots, sizeof(*r->slot_prefix));
    r->slot_prefix_t = om_xcalloc((size_t)r->n_slots, sizeof(*r->slot_prefix_t));
    for (int i = 0; i < r->n_slots; i++) {
        r->slots[i].seq = i;
        r->slots[i].cache = om_xmalloc((size_t)r->n_ctx_seq * sizeof(int32_t));
        r->slots[i].out_idx = -1;
    }
    r->b_cap = r->n_batch + r->n_slots;
    r->b_tok = om_xmalloc((size_t)r->b_cap * sizeof(int32_t));
    r->b_pos = om_xmalloc((size_t)r->b_cap * sizeof(int32_t));
    r->b_seq = om_xmalloc((size_t)r->b_cap * sizeof(int32_t));
    r->b_logits = om_xmalloc((size_t)r->b_cap);
    r->mask = om_xmalloc((size_t)r->n_vocab * sizeof(float));
    r->text_cap = 3 * (tok_max_piece_len(r->vocab) + 4) + 64;
    r->text = om_xmalloc(r->text_cap);
    return 0;
}

void sched_runner_destroy(struct sched_runner *r)
{
    if (!r)
        return;
    if (r->started)
        pthread_join(r->th, NULL);
    if (r->slots) {
        for (int i = 0; i < r->n_slots; i++)
            free(r->slots[i].cache);
        free(r->slots);
    }
    free(r->slot_prefix);
    free(r->slot_prefix_t);
    eng_ctx_free(r->ctx);
    eng_model_free(r->model);
    free(r->b_tok);
    free(r->b_pos);
    free(r->b_seq);
    free(r->b_logits);
    free(r->mask);
    gram_vocab_free(r->gvocab);
    free(r->allowed);
    free(r->text);
    free(r->name);
    free(r->path);
    free(r->digest);
    pthread_cond_destroy(&r->cond);
    free(r);
}

static int free_slots(const struct sched_runner *r)
{
    int n = 0;
    for (int i = 0; i < r->n_slots; i++)
        n += r->slots[i].state == SLOT_FREE;
    return n;
}

/* Builds the step's batch; returns its size. */
static int32_t build_batch(struct sched_runner *r)
{
    int32_t n = 0;
    for (int i = 0; i < r->n_slots; i++) {
        struct sched_slot *sl = &r->slots[i];
        sl->out_idx = -1;
        if (sl->state != SLOT_GEN)
            continue;
        if (sl->n_past >= r->n_ctx_seq) { /* context full */
            int32_t d = sl->p.shift ? eng_ctx_shift(r->ctx, sl->seq, sl->p.num_keep) : 0;
            if (d <= 0) {
                sched_slot_finish(r, sl, 0, NULL, SCHED_DONE_LENGTH);
                continue;
            }
            int32_t keep = OM_MIN(OM_MAX(sl->p.num_keep, 0), sl->n_past);
            sched_slot_set_prefix(r, sl, 0); /* the prompt's start is gone past num_keep */
            memmove(sl->cache + keep, sl->cache + keep + d,
                    (size_t)(sl->n_past - keep - d) * sizeof(int32_t));
            sl->n_past -= d;
        }
        r->b_tok[n] = sl->next_tok;
        r->b_pos[n] = sl->n_past;
        r->b_seq[n] = sl->seq;
        r->b_logits[n] = 1;
        sl->cache[sl->n_past++] = sl->next_tok;
        n++;
    }
    int32_t n_out = n;
    for (int i = 0; i < n; i++)
        r->slots[r->b_seq[i]].out_idx = i;
    /* prompts get what is left of n_batch, at least one token per step */
    int32_t budget = OM_MAX(r->n_batch - n, 1);
    for (int i = 0; i < r->n_slots && budget > 0; i++) {
        struct sched_slot *sl = &r->slots[i];
        if (sl->state != SLOT_PROMPT)
            continue;
        if (!sl->t_start)
            sl->t_start = sched_now();
        int32_t left = sl->p.n_tokens - sl->n_prompt_done;
        int32_t take = OM_MIN(left, budget);
        budget -= take;
        for (int32_t k = 0; k < take; k++) {
            int32_t t = sl->p.tokens[sl->n_prompt_done + k];
            r->b_tok[n] = t;
            r->b_pos[n] = sl->n_past;
            r->b_seq[n] = sl->seq;
            r->b_logits[n] = 0;
            sl->cache[sl->n_past++] = t;
            n++;
        }
        sl->n_prompt_done += take;
        sl->n_eval_prompt += take;
        if (sl->n_prompt_done == sl->p.n_tokens) {
            r->b_logits[n - 1] = 1;
            sl->out_idx = n_out++;
        }
    }
    return n;
}

/* One decode over every active slot, then sampling. */
static void step(struct sched_runner *r)
{
    int32_t n = build_batch(r);
    if (n == 0)
        return;
    struct eng_batch b = {n, r->b_tok, r->b_pos, r->b_seq, r->b_logits};
    uint64_t t0 = sched_now();
    int rc = eng_decode(r->ctx, &b);
    if (rc != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "decode failed: %s", om_strerror(rc));
        om_log(OM_LOG_ERROR, "sched", "%s: %s", r->path, msg);
        for (int i = 0; i < r->n_slots; i++)
            if (r->slots[i].state != SLOT_FREE)
                sched_slot_finish(r, &r->slots[i], rc, msg, SCHED_DONE_STOP);
        return;
    }
    int n_gen = 0;
    for (int i = 0; i < r->n_slots; i++) {
        struct sched_slot *sl = &r->slots[i];
        if (sl->state != SLOT_FREE && sl->out_idx >= 0) {
            n_gen++;
            sched_slot_sample(r, sl);
        }
    }
    uint64_t dt = sched_now() - t0;
    if (n_gen > 0 && dt > 0) {
        double tps = (double)n_gen * 1e9 / (double)dt;
        pthread_mutex_lock(&r->s->mu);
        r->tps = r->tps > 0 ? 0.8 * r->tps + 0.2 * tps : tps;
        pthread_mutex_unlock(&r->s->mu);
    }
}

/* Takes the jobs this runner can start now (under mu). */
static int take_jobs(struct sched_runner *r, sched_job **out, int cap)
{
    int n = 0;
    while (n < cap && r->q.head) {
        sched_job *j = sched_queue_pop(&r->q);
        r->active++;
        j->where = JOB_RUNNING;
        out[n++] = j;
    }
    return n;
}

static bool any_active(const struct sched_runner *r)
{
    for (int i = 0; i < r->n_slots; i++)
        if (r->slots[i].state != SLOT_FREE)
            return true;
    return false;
}

static void *runner_main(void *arg)
{
    struct sched_runner *r = arg;
    sched *s = r->s;
    sched_job **start = om_xcalloc((size_t)r->n_slots, sizeof(*start));
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool quit = r->quit;
        int n_start = 0;
        if (quit) {
            /* unloading: queued jobs end cancelled here, running ones below */
            while (r->q.head) {
                sched_job *j = sched_queue_pop(&r->q);
                r->active++;
                j->where = JOB_RUNNING;
                pthread_mutex_unlock(&s->mu);
                sched_job_fail(j, OM_ECANCELED, "the model was unloaded");
                pthread_mutex_lock(&s->mu);
            }
        } else {
            /* cancelled jobs leave the queue at once, whatever the slots */
            for (sched_job *j = r->q.head, *nx; j; j = nx) {
                nx = j->next;
                if (!atomic_load(&j->cancel))
                    continue;
                sched_queue_remove(&r->q, j);
                r->active++;
                j->where = JOB_RUNNING;
                pthread_mutex_unlock(&s->mu);
                sched_job_fail(j, OM_ECANCELED, "request cancelled");
                pthread_mutex_lock(&s->mu);
                nx = r->q.head; /* the queue may have changed meanwhile */
            }
            n_start = take_jobs(r, start, free_slots(r));
            if (n_start == 0 && !any_active(r)) {
                sched_cond_wait(&r->cond, &s->mu, 0);
                pthread_mutex_unlock(&s->mu);
                continue;
            }
        }
        pthread_mutex_unlock(&s->mu);

        for (int i = 0; i < r->n_slots; i++) {
            struct sched_slot *sl = &r->slots[i];
            if (sl->state != SLOT_FREE && (quit || atomic_load(&sl->job->cancel)))
                sched_slot_finish(r, sl, OM_ECANCELED,
                                  quit ? "the model was unloaded" : "request cancelled",
                                  SCHED_DONE_STOP);
        }
        if (quit)
            break;
        int n_embed = 0;
        for (int i = 0; i < n_start; i++) {
            if (start[i]->kind == SCHED_EMBED)
                start[n_embed++] = start[i]; /* compacted in place, in order */
            else
                sched_slot_start(r, start[i]);
        }
        if (n_embed > 0)
            sched_embed_run(r, start, n_embed);
        step(r);
    }
    free(start);
    return NULL;
}

int sched_runner_start(struct sched_runner *r)
{
    if (pthread_create(&r->th, NULL, runner_main, r) != 0)
        return OM_ENOMEM;
    r->started = true;
    return 0;
}
