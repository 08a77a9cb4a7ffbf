/* sched: one job inside a runner slot — start (prepare, truncation, prompt
 * prefix reuse), sampling with grammar / logprobs, streaming text through
 * tok_stream and smp_stop, and the single on_done.
 *
 * Prefix reuse: a slot keeps the tokens whose K/V its sequence holds after
 * its job ends. A new job takes the free slot whose cached tokens share the
 * longest prefix with its prompt (ties: the least recently used slot), drops
 * the cells past the divergence point (eng_kv_seq_rm) and evaluates only the
 * rest; at least the last prompt token is always evaluated, for its logits.
 * A longer prefix held by a busy slot is shared instead (share_prefix).
 * prompt_eval_count counts only evaluated tokens.
 *
 * Grammar: the sampled token is checked first (its piece must be accepted;
 * an end-of-generation token only when the grammar is complete); only when
 * it is rejected is the whole vocabulary masked and the token drawn again. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "prompt/gram.h"
#include "sched/sched_int.h"

void sched_prompt_free(struct sched_prompt *p)
{
    free(p->tokens);
    for (int i = 0; i < p->n_stop; i++)
        free(p->stop ? p->stop[i] : NULL);
    free(p->stop);
    if (p->grammar)
        gram_free(p->grammar);
    memset(p, 0, sizeof(*p));
}

void sched_prompt_defaults(struct sched_prompt *p)
{
    memset(p, 0, sizeof(*p));
    p->sampling = smp_params_default();
    p->num_predict = -1;
    p->num_keep = 4;
    p->shift = true;
}

void sched_result_base(const sched_job *j, struct sched_result *res)
{
    memset(res, 0, sizeof(*res));
    res->load_ns = (int64_t)(j->t_ready - j->t_submit);
}

void sched_job_end(sched_job *j, struct sched_prompt *p, int rc, const char *msg)
{
    sched_prompt_free(p);
    struct sched_result res;
    sched_result_base(j, &res);
    res.rc = rc;
    res.error = msg && msg[0] ? msg : om_strerror(rc);
    sched_job_detach(j);
    j->cb.on_done(j->cb.ud, &res);
    sched_job_release(j);
}

static int32_t common_prefix(const int32_t *a, int32_t na, const int32_t *b, int32_t nb)
{
    int32_t n = OM_MIN(na, nb), i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* The free slot for a new prompt. A slot that shares at least half of what
 * it holds, or half of the prompt, with the prompt (the same conversation, or
 * the same prompt again) is taken, the longest match first; otherwise an empty slot, else the
 * least recently used one — so a new conversation that shares only the
 * template's first tokens with a cached one does not evict it. */
static struct sched_slot *pick_slot(struct sched_runner *r, const int32_t *tok, int32_t n,
                                    int32_t *lcp)
{
    struct sched_slot *match = NULL, *empty = NULL, *lru = NULL;
    int32_t match_n = 0;
    for (int i = 0; i < r->n_slots; i++) {
        struct sched_slot *sl = &r->slots[i];
        if (sl->state != SLOT_FREE)
            continue;
        int32_t c = common_prefix(sl->cache, sl->n_past, tok, n);
        if (c > 0 && (2 * (int64_t)c >= sl->n_past || 2 * (int64_t)c >= n) &&
            (c > match_n || (c == match_n && sl->last_used < match->last_used))) {
            match = sl;
            match_n = c;
        }
        if (sl->n_past == 0 && (!empty || sl->last_used < empty->last_used))
            empty = sl;
        if (!lru || sl->last_used < lru->last_used)
            lru = sl;
    }
    struct sched_slot *best = match ? match : empty ? empty : lru;
    *lcp = best ? common_prefix(best->cache, best->n_past, tok, n) : -1;
    return best;
}

/* A busy slot may hold a longer prefix of the prompt than any free one
 * (several users, one system prompt): its cells are then shared with sl
 * (eng_kv_seq_cp, no copy). Only prefixes of at most half the context are
 * shared: a context shift moves positions from n_ctx / 2 up and refuses
 * shared cells, so neither sequence can ever be blocked by the sharing. */
static void share_prefix(struct sched_runner *r, struct sched_slot *sl, const int32_t *tok,
                         int32_t n, int32_t *lcp)
{
    const int32_t min_gain = 16;
    struct sched_slot *src = NULL;
    int32_t best = *lcp;
    for (int i = 0; i < r->n_slots; i++) {
        struct sched_slot *o = &r->slots[i];
        if (o == sl || o->state == SLOT_FREE)
            continue;
        int32_t c = common_prefix(o->cache, o->n_past, tok, n);
        c = OM_MIN(c, OM_MIN(n - 1, r->n_ctx_seq / 2));
        if (c > best) {
            best = c;
            src = o;
        }
    }
    if (!src || best < *lcp + min_gain)
        return;
    eng_kv_seq_rm(r->ctx, sl->seq, -1, -1);
    if (eng_kv_seq_cp(r->ctx, src->seq, sl->seq, 0, best) != 0) {
        sl->n_past = 0;
        *lcp = 0;
        return;
    }
    memcpy(sl->cache, src->cache, (size_t)best * sizeof(int32_t));
    sl->n_past = best;
    *lcp = best;
}

/* Drops tokens after num_keep so that the prompt fits the context (as
 * Ollama's runner does when the prompt is longer than num_ctx). */
static void truncate_prompt(struct sched_prompt *p, int32_t n_ctx)
{
    int32_t keep = OM_MIN(OM_MAX(p->num_keep, 0), n_ctx / 2);
    int32_t discard = p->n_tokens - n_ctx;
    memmove(p->tokens + keep, p->tokens + keep + discard,
            (size_t)(p->n_tokens - keep - discard) * sizeof(int32_t));
    p->n_tokens = n_ctx;
}

int sched_job_prepare(struct sched_runner *r, sched_job *j, struct sched_prompt *p)
{
    char err[512] = "";
    sched_prompt_defaults(p);
    if (atomic_load(&j->cancel)) {
        sched_job_end(j, p, OM_ECANCELED, "request cancelled");
        return OM_ECANCELED;
    }
    struct sched_model_info info = {r->model, r->vocab, r->n_ctx_seq};
    int rc = j->cb.prepare(j->cb.ud, &info, p, err, sizeof(err));
    if (rc != 0) {
        rc = rc < 0 ? rc : OM_EINVAL;
        sched_job_end(j, p, rc, err);
        return rc;
    }
    if (p->n_tokens < 1 || !p->tokens || p->n_stop < 0 || (p->n_stop > 0 && !p->stop)) {
        sched_job_end(j, p, OM_EINVAL, "empty prompt");
        return OM_EINVAL;
    }
    for (int32_t i = 0; i < p->n_tokens; i++)
        if (p->tokens[i] < 0 || p->tokens[i] >= r->n_vocab) {
            snprintf(err, sizeof(err), "prompt token %d at %d out of range", p->tokens[i], i);
            sched_job_end(j, p, OM_EINVAL, err);
            return OM_EINVAL;
        }
    return 0;
}

/* A resumed job: its last n_resume prompt tokens were already generated and
 * their text sent; they bring the grammar, the UTF-8 hold-back and the stop
 * strings to where the interrupted run had them, and count as generated. */
static void resume_feed(struct sched_runner *r, struct sched_slot *sl)
{
    for (int32_t i = sl->p.n_tokens - sl->p.n_resume; i < sl->p.n_tokens; i++) {
        int32_t t = sl->p.tokens[i];
        sl->n_gen++;
        if (tok_is_eog(r->vocab, t))
            continue;
        if (sl->gs) {
            size_t len = 0;
            const char *piece = tok_piece(r->vocab, t, 0, &len);
            gram_state_advance(sl->gs, piece, len);
        }
        size_t n = 0, el = 0;
        const char *e = NULL;
        if (tok_stream_push(&sl->ts, r->vocab, t, 0, r->text, r->text_cap, &n) == 0)
            smp_stop_feed(sl->stop, r->text, n, &e, &el);
    }
}

void sched_slot_start(struct sched_runner *r, sched_job *j)
{
    struct sched_prompt p;
    char err[512] = "";
    if (j->kind == SCHED_LOAD) {
        struct sched_result res;
        sched_result_base(j, &res);
        res.reason = SCHED_DONE_LOAD;
        sched_job_detach(j);
        j->cb.on_done(j->cb.ud, &res);
        sched_job_release(j);
        return;
    }
    if (sched_job_prepare(r, j, &p) != 0)
        return;
    if (r->encoder) {
        sched_job_end(j, &p, OM_EUNSUPPORTED, "this model does not support generate");
        return;
    }
    if (p.n_tokens > r->n_ctx_seq) {
        if (!p.shift) {
            snprintf(err, sizeof(err), "input length (%d tokens) exceeds the context length (%d)",
                     p.n_tokens, r->n_ctx_seq);
            sched_job_end(j, &p, OM_ERANGE, err);
            return;
        }
        truncate_prompt(&p, r->n_ctx_seq);
    }
    if (p.n_resume < 0 || p.n_resume >= p.n_tokens) {
        snprintf(err, sizeof(err), "%d resumed tokens with a prompt of %d", p.n_resume,
                 p.n_tokens);
        sched_job_end(j, &p, OM_EINVAL, err);
        return;
    }
    if (p.top_logprobs < 0)
        p.top_logprobs = 0;
    if (p.top_logprobs > SCHED_MAX_TOP)
        p.top_logprobs = SCHED_MAX_TOP;

    struct smp *smp = NULL;
    struct smp_stop *stop = NULL;
    int rc = smp_new(&p.sampling, r->n_vocab, &smp, err, sizeof(err));
    if (rc == 0)
        rc = smp_stop_new((const char *const *)p.stop, p.n_stop, &stop, err, sizeof(err));
    struct gram_state *gs = NULL;
    if (rc == 0 && p.grammar) {
        gs = gram_state_new(p.grammar);
        if (!gs) {
            rc = OM_EINVAL;
            snprintf(err, sizeof(err), "cannot start the grammar");
        }
    }
    if (rc != 0) {
        smp_free(smp);
        smp_stop_free(stop);
        sched_job_end(j, &p, rc, err);
        return;
    }
    int32_t lcp;
    struct sched_slot *sl = pick_slot(r, p.tokens, p.n_tokens, &lcp);
    if (lcp >= p.n_tokens)
        lcp = p.n_tokens - 1; /* the last token is evaluated for its logits */
    if (lcp < sl->n_past)
        eng_kv_seq_rm(r->ctx, sl->seq, lcp, -1);
    sl->n_past = lcp;
    share_prefix(r, sl, p.tokens, p.n_tokens, &lcp);
    sched_slot_set_prefix(r, sl, j->model.prefix_hash);
    for (int32_t i = 0; i < p.n_tokens; i++)
        smp_accept(smp, p.tokens[i]);

    sl->job = j;
    sl->p = p;
    sl->smp = smp;
    sl->stop = stop;
    sl->gs = gs;
    tok_stream_init(&sl->ts);
    sl->n_prompt_done = lcp;
    sl->n_eval_prompt = 0;
    sl->n_gen = 0;
    resume_feed(r, sl);
    sl->out_idx = -1;
    sl->t_start = 0;
    sl->t_prompt_done = 0;
    sl->prompt_ns = 0;
    sl->n_ret = 0;
    if (p.return_tokens) {
        sl->cap_ret = p.n_tokens + 64;
        sl->ret = om_xmalloc((size_t)sl->cap_ret * sizeof(int32_t));
        memcpy(sl->ret, p.tokens, (size_t)p.n_tokens * sizeof(int32_t));
        sl->n_ret = p.n_tokens;
    }
    sl->state = SLOT_PROMPT;
}

void sched_slot_set_prefix(struct sched_runner *r, struct sched_slot *sl, uint64_t h)
{
    if (!r->slot_prefix || (h == 0 && r->slot_prefix[sl->seq] == 0))
        return; /* the runner thread is the only writer: reading without mu is safe */
    pthread_mutex_lock(&r->s->mu);
    r->slot_prefix[sl->seq] = h;
    r->slot_prefix_t[sl->seq] = sched_now();
    pthread_mutex_unlock(&r->s->mu);
}

/* Calls on_piece; a non-zero return cancels the job. */
static int emit(struct sched_slot *sl, const char *text, size_t len, const struct sched_piece *pc)
{
    sched_job *j = sl->job;
    if (!j->cb.on_piece || (len == 0 && !sl->p.logprobs && !sl->p.every_token))
        return 0;
    return j->cb.on_piece(j->cb.ud, text, len, pc);
}

void sched_slot_finish(struct sched_runner *r, struct sched_slot *sl, int rc, const char *msg,
                       enum sched_done_reason reason)
{
    sched_job *j = sl->job;
    uint64_t now = sched_now();
    if (rc == 0) { /* release held text (incomplete UTF-8 included) */
        const char *e;
        size_t el = 0, n = 0;
        /* no token completed this text: info is NULL */
        if (tok_stream_flush(&sl->ts, r->text, r->text_cap, &n) == 0 && n > 0 &&
            smp_stop_feed(sl->stop, r->text, n, &e, &el) >= 0 && el > 0)
            emit(sl, e, el, NULL);
        if (smp_stop_flush(sl->stop, &e, &el) == 0 && el > 0)
            emit(sl, e, el, NULL);
    }
    struct sched_result res;
    sched_result_base(j, &res);
    res.rc = rc;
    res.error = rc ? (msg ? msg : om_strerror(rc)) : NULL;
    res.reason = reason;
    res.prompt_eval_count = sl->n_eval_prompt;
    if (sl->t_prompt_done) {
        res.prompt_eval_ns = sl->prompt_ns;
        res.eval_ns = (int64_t)(now - sl->t_prompt_done);
    } else if (sl->t_start) {
        res.prompt_eval_ns = (int64_t)(now - sl->t_start);
    }
    res.eval_count = sl->n_gen;
    if (sl->p.return_tokens) {
        res.tokens = sl->ret;
        res.n_tokens = sl->n_ret;
    }
    if (rc != 0) { /* cancelled or failed: free the sequence now */
        eng_kv_seq_rm(r->ctx, sl->seq, -1, -1);
        sl->n_past = 0;
        sched_slot_set_prefix(r, sl, 0);
    }
    sl->state = SLOT_FREE;
    sl->job = NULL;
    sl->out_idx = -1;
    sl->last_used = now;
    sched_job_detach(j);
    j->cb.on_done(j->cb.ud, &res);
    sched_job_release(j);

    smp_free(sl->smp);
    smp_stop_free(sl->stop);
    if (sl->gs)
        gram_state_free(sl->gs);
    sched_prompt_free(&sl->p);
    free(sl->ret);
    sl->ret = NULL;
    sl->smp = NULL;
    sl->stop = NULL;
    sl->gs = NULL;
}

/* Whether the grammar allows token t next. */
static bool gram_allows(const struct sched_runner *r, const struct gram_state *gs, int32_t t)
{
    if (tok_is_eog(r->vocab, t))
        return gram_state_complete(gs);
    size_t len = 0;
    const char *pc = tok_piece(r->vocab, t, 0, &len);
    return len > 0 && gram_state_accepts(gs, pc, len);
}

static int32_t sample(struct sched_runner *r, struct sched_slot *sl, const float *logits)
{
    int32_t t = smp_sample(sl->smp, logits);
    if (t < 0 || !sl->gs || gram_allows(r, sl->gs, t))
        return t;
    if (!r->gvocab) { /* once per runner: the pieces the grammar tests */
        const char **pcs = om_xmalloc((size_t)r->n_vocab * sizeof *pcs);
        size_t *lens = om_xmalloc((size_t)r->n_vocab * sizeof *lens);
        for (int32_t v = 0; v < r->n_vocab; v++)
            pcs[v] = tok_piece(r->vocab, v, 0, &lens[v]);
        if (gram_vocab_new(pcs, lens, r->n_vocab, &r->gvocab))
            r->gvocab = NULL;
        free(pcs);
        free(lens);
        if (r->gvocab)
            r->allowed = om_xmalloc((size_t)r->n_vocab);
    }
    bool eog_ok = gram_state_complete(sl->gs);
    if (r->gvocab) {
        gram_state_allowed(sl->gs, r->gvocab, r->allowed);
        for (int32_t v = 0; v < r->n_vocab; v++) {
            bool ok = tok_is_eog(r->vocab, v) ? eog_ok : r->allowed[v] != 0;
            r->mask[v] = ok ? logits[v] : -INFINITY;
        }
    } else {
        for (int32_t v = 0; v < r->n_vocab; v++)
            r->mask[v] = gram_allows(r, sl->gs, v) ? logits[v] : -INFINITY;
    }
    return smp_sample(sl->smp, r->mask);
}

void sched_slot_sample(struct sched_runner *r, struct sched_slot *sl)
{
    uint64_t now = sched_now();
    if (sl->state == SLOT_PROMPT) {
        sl->state = SLOT_GEN;
        sl->t_prompt_done = now;
        sl->prompt_ns = (int64_t)(now - sl->t_start);
    }
    if (sl->p.n_resume > 0 && sl->n_gen == sl->p.n_resume) {
        /* a resumed job whose earlier run had already ended */
        if (smp_stop_hit(sl->stop) >= 0) {
            sched_slot_finish(r, sl, 0, NULL, SCHED_DONE_STOP);
            return;
        }
        if (sl->p.num_predict > 0 && sl->n_gen >= sl->p.num_predict) {
            sched_slot_finish(r, sl, 0, NULL, SCHED_DONE_LENGTH);
            return;
        }
    }
    const float *logits = eng_get_logits(r->ctx, sl->out_idx);
    if (!logits) {
        sched_slot_finish(r, sl, OM_EUNSUPPORTED, "the model gives no logits", SCHED_DONE_STOP);
        return;
    }
    int32_t t = sample(r, sl, logits);
    if (t < 0) {
        sched_slot_finish(r, sl, t, sl->gs ? "no token satisfies the grammar"
                                           : "sampling failed (non-finite logits)",
                          SCHED_DONE_STOP);
        return;
    }
    struct sched_piece pc = {t, 0.0f, NULL, 0};
    if (sl->p.logprobs) {
        pc.logprob = smp_logprob_of(logits, r->n_vocab, t);
        if (sl->p.top_logprobs > 0) {
            int n = smp_top_logprobs(logits, r->n_vocab, sl->p.top_logprobs, r->top);
            for (int i = 0; i < n; i++) {
                r->top_out[i].id = r->top[i].id;
                r->top_out[i].logprob = r->top[i].logprob;
            }
            pc.top = r->top_out;
            pc.n_top = n > 0 ? n : 0;
        }
    }
    smp_accept(sl->smp, t);
    if (tok_is_eog(r->vocab, t)) {
        sched_slot_finish(r, sl, 0, NULL, SCHED_DONE_STOP);
        return;
    }
    sl->n_gen++;
    if (sl->gs) {
        size_t len = 0;
        const char *piece = tok_piece(r->vocab, t, 0, &len);
        gram_state_advance(sl->gs, piece, len);
    }
    if (sl->p.return_tokens) {
        if (sl->n_ret == sl->cap_ret) {
            sl->cap_ret *= 2;
            sl->ret = om_xrealloc(sl->ret, (size_t)sl->cap_ret * sizeof(int32_t));
        }
        sl->ret[sl->n_ret++] = t;
    }
    size_t n = 0, el = 0;
    const char *e = NULL;
    int hit = 0;
    if (tok_stream_push(&sl->ts, r->vocab, t, 0, r->text, r->text_cap, &n) == 0)
        hit = smp_stop_feed(sl->stop, r->text, n, &e, &el);
    if (emit(sl, e ? e : "", el, &pc) != 0) {
        sched_slot_finish(r, sl, OM_ECANCELED, "cancelled by the receiver", SCHED_DONE_STOP);
        return;
    }
    if (hit == 1) {
        sched_slot_finish(r, sl, 0, NULL, SCHED_DONE_STOP);
        return;
    }
    if (sl->p.num_predict > 0 && sl->n_gen >= sl->p.num_predict) {
        sched_slot_finish(r, sl, 0, NULL, SCHED_DONE_LENGTH);
        return;
    }
    sl->next_tok = t;
}
