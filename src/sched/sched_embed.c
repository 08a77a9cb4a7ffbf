/* sched: embedding jobs — the inputs that start together are pooled in as
 * few eng_decode calls as fit: each input gets a free slot's sequence id,
 * and a group holds at most one input per free slot and, for encoders
 * (bidirectional attention: a whole input in one chunk), at most n_batch
 * tokens in all. The engine pools each sequence over its tokens of the call
 * (mean / CLS / last per the model) and L2-normalises; the sequences are
 * cleared afterwards, so embeddings never reuse a prompt cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "sched/sched_int.h"

/* Longest input the runner takes. */
static int32_t max_input(const struct sched_runner *r)
{
    return r->encoder ? OM_MIN(r->n_ctx_seq, r->n_batch) : r->n_ctx_seq;
}

/* Decodes inputs [0, n) (prompts ps, slot sequences seqs) in one call and
 * ends each job. */
static void embed_group(struct sched_runner *r, sched_job **jobs, struct sched_prompt *ps,
                        const int32_t *seqs, int n)
{
    int32_t tot = 0;
    for (int i = 0; i < n; i++)
        tot += ps[i].n_tokens;
    int32_t *tok = om_xmalloc((size_t)tot * sizeof(int32_t));
    int32_t *pos = om_xmalloc((size_t)tot * sizeof(int32_t));
    int32_t *seq = om_xmalloc((size_t)tot * sizeof(int32_t));
    int32_t k = 0;
    for (int i = 0; i < n; i++) {
        eng_kv_seq_rm(r->ctx, seqs[i], -1, -1);
        r->slots[seqs[i]].n_past = 0; /* its prompt cache is gone */
        for (int32_t t = 0; t < ps[i].n_tokens; t++, k++) {
            tok[k] = ps[i].tokens[t];
            pos[k] = t;
            seq[k] = seqs[i];
        }
    }
    uint64_t t0 = sched_now();
    struct eng_batch b = {tot, tok, pos, seq, NULL};
    int rc = eng_decode(r->ctx, &b);
    int64_t dt = (int64_t)(sched_now() - t0);
    free(tok);
    free(pos);
    free(seq);
    for (int i = 0; i < n; i++) {
        const float *e = rc == 0 ? eng_get_embeddings(r->ctx, seqs[i]) : NULL;
        if (!e) {
            char msg[160];
            snprintf(msg, sizeof(msg), "embedding failed: %s",
                     rc ? om_strerror(rc) : "the model gives no embeddings");
            sched_job_end(jobs[i], &ps[i], rc ? rc : OM_EUNSUPPORTED, msg);
            continue;
        }
        struct sched_result res;
        sched_result_base(jobs[i], &res);
        res.reason = SCHED_DONE_STOP;
        res.prompt_eval_count = ps[i].n_tokens;
        res.prompt_eval_ns = dt;
        res.embedding = e;
        res.n_embd = eng_model_n_embd(r->model);
        res.embd_norm = eng_get_embeddings_norm(r->ctx, seqs[i]);
        sched_job_detach(jobs[i]);
        jobs[i]->cb.on_done(jobs[i]->cb.ud, &res);
        sched_job_release(jobs[i]);
        sched_prompt_free(&ps[i]);
    }
    for (int i = 0; i < n; i++)
        eng_kv_seq_rm(r->ctx, seqs[i], -1, -1);
}

void sched_embed_run(struct sched_runner *r, sched_job **jobs, int n)
{
    struct sched_prompt *ps = om_xcalloc((size_t)n, sizeof(*ps));
    sched_job **ok = om_xcalloc((size_t)n, sizeof(*ok));
    int32_t *free_seq = om_xcalloc((size_t)r->n_slots, sizeof(int32_t));
    int n_free = 0;
    for (int i = 0; i < r->n_slots; i++)
        if (r->slots[i].state == SLOT_FREE)
            free_seq[n_free++] = r->slots[i].seq;
    int n_ok = 0;
    for (int i = 0; i < n; i++) {
        if (sched_job_prepare(r, jobs[i], &ps[n_ok]) != 0)
            continue;
        if (ps[n_ok].n_tokens > max_input(r)) {
            char msg[200];
            snprintf(msg, sizeof(msg), "input length (%d tokens) exceeds the context length (%d)",
                     ps[n_ok].n_tokens, max_input(r));
            sched_job_end(jobs[i], &ps[n_ok], OM_ERANGE, msg);
            continue;
        }
        ok[n_ok++] = jobs[i];
    }
    int32_t cap = r->encoder ? r->n_batch : INT32_MAX;
    for (int g0 = 0; g0 < n_ok && n_free > 0;) {
        int g1 = g0;
        int64_t tot = 0;
        while (g1 < n_ok && g1 - g0 < n_free && tot + ps[g1].n_tokens <= cap)
            tot += ps[g1++].n_tokens;
        embed_group(r, ok + g0, ps + g0, free_seq, g1 - g0);
        g0 = g1;
    }
    if (n_free == 0) /* cannot happen: jobs start only into free slots */
        for (int i = 0; i < n_ok; i++)
            sched_job_end(ok[i], &ps[i], OM_EBUSY, "no free sequence");
    free(free_seq);
    free(ok);
    free(ps);
}
