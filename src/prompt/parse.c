/* prompt: the streaming output parser (parse.h) — two stages in a row.
 *
 * 1. Thinking (Ollama's thinking/parser.go behaviour): leading blanks, then
 *    the opening tag, switch to thinking; blanks after the opening tag and
 *    after the closing tag are eaten; text that does not start with the tag
 *    is content from then on. A possible partial tag at the end of the text
 *    is held back until the next piece decides it. With thinking disabled,
 *    an empty "<think></think>" block (models that always emit it) is
 *    dropped and everything else is content.
 * 2. Tool calls (over the content of stage 1): with a tag prefix such as
 *    "<tool_call>" or "[TOOL_CALLS]", content before the tag is released,
 *    then JSON calls are read one after another (a closing tag such as
 *    "</tool_call>", repeated opening tags and ``` fences between them are
 *    skipped; Mistral's name[ARGS]{...} form is read too); text that is not
 *    a call is released as content, tag included. With a
 *    bare "{" (or "[") prefix, only output whose first non-blank byte is
 *    that bracket can be a call (as in Ollama); "<|python_tag|>" also allows
 *    a bare "{" at the start (Llama 3.x writes either).
 *
 * Invariant: every byte fed comes out exactly once, as thinking, content or
 * part of a tool call — except tags, the blanks around thinking, and the
 * blanks and closing tags around calls. Held text is bounded (1 MiB): past
 * that it is released as content. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/om.h"
#include "prompt/parse.h"
#include "prompt/parse_int.h"

enum tstate { T_LOOK, T_EAT_OPEN, T_IN, T_EAT_CLOSE, T_DONE, T_DLOOK };
enum cstate { C_NONE, C_START, C_LOOK, C_CALL, C_PASS };

struct parse {
    char *topen, *tclose, *tag, *ctag; /* ctag: closing tool tag or NULL */
    size_t lopen, lclose, ltag, lctag;
    bool brace;       /* tag is "{" or "[": it is part of the JSON */
    const json_t *tools;
    enum tstate ts;
    struct parse_buf tb;
    enum cstate cs;
    struct parse_buf cb;
    size_t pos;       /* C_CALL: where parsing goes on in cb */
    bool seg_calls;   /* C_CALL: calls came from the current tag */
    int n_calls;
    uint64_t rng;
};

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static size_t skip_blank(const char *s, size_t i, size_t n)
{
    while (i < n && blank(s[i]))
        i++;
    return i;
}

/* 2: s starts with t; 1: s is a proper prefix of t; 0: neither. */
static int prefix(const char *s, size_t n, const char *t, size_t lt)
{
    if (n == 0)
        return 1;
    if (n >= lt)
        return memcmp(s, t, lt) == 0 ? 2 : 0;
    return memcmp(s, t, n) == 0 ? 1 : 0;
}

/* Longest suffix of s that is a proper prefix of t. */
static size_t overlap(const char *s, size_t n, const char *t, size_t lt)
{
    for (size_t k = OM_MIN(n, lt - 1); k > 0; k--)
        if (memcmp(s + n - k, t, k) == 0)
            return k;
    return 0;
}

static const char *find(const char *s, size_t n, const char *t, size_t lt)
{
    return lt && n ? memmem(s, n, t, lt) : NULL;
}

static void out_add(char **p, size_t *len, const char *s, size_t n)
{
    if (!n)
        return;
    *p = om_xrealloc(*p, *len + n + 1);
    memcpy(*p + *len, s, n);
    *len += n;
    (*p)[*len] = 0;
}

static char *dup_or(const char *s, const char *dflt)
{
    return om_xstrdup(s ? s : dflt);
}

int parse_new(const struct parse_cfg *cfg, struct parse **out)
{
    *out = NULL;
    if (!cfg || (cfg->think_open && !*cfg->think_open) || (cfg->think_close && !*cfg->think_close) ||
        (cfg->tool_prefix && !*cfg->tool_prefix) || (cfg->tools && !json_is_array(cfg->tools)))
        return OM_EINVAL;
    struct parse *p = om_xcalloc(1, sizeof(*p));
    /* buffers never NULL: the scanners do pointer arithmetic on them even
     * when nothing was fed (parse_finish right after parse_new) */
    p->tb.cap = p->cb.cap = 64;
    p->tb.p = om_xcalloc(1, p->tb.cap);
    p->cb.p = om_xcalloc(1, p->cb.cap);
    p->topen = dup_or(cfg->think_open, "<think>");
    p->tclose = dup_or(cfg->think_close, "</think>");
    p->lopen = strlen(p->topen);
    p->lclose = strlen(p->tclose);
    p->tools = cfg->tools;
    p->ts = cfg->think_enabled ? (cfg->think_open_at_start ? T_EAT_OPEN : T_LOOK) : T_DLOOK;
    p->cs = C_NONE;
    if (cfg->tool_prefix) {
        p->tag = om_xstrdup(cfg->tool_prefix);
        p->ltag = strlen(p->tag);
        p->brace = !strcmp(p->tag, "{") || !strcmp(p->tag, "[");
        p->cs = (p->brace || !strcmp(p->tag, "<|python_tag|>")) ? C_START : C_LOOK;
        /* "<name>" closes with "</name>" */
        if (p->ltag > 2 && p->tag[0] == '<' && p->tag[1] != '/' && p->tag[1] != '|' &&
            p->tag[p->ltag - 1] == '>') {
            p->ctag = om_xmalloc(p->ltag + 2);
            snprintf(p->ctag, p->ltag + 2, "</%s", p->tag + 1);
            p->lctag = p->ltag + 1;
        }
    }
    if (getrandom(&p->rng, sizeof(p->rng), GRND_NONBLOCK) != (ssize_t)sizeof(p->rng))
        p->rng = om_time_ns() ^ (uint64_t)(uintptr_t)p;
    *out = p;
    return 0;
}

void parse_free(struct parse *p)
{
    if (!p)
        return;
    free(p->topen);
    free(p->tclose);
    free(p->tag);
    free(p->ctag);
    parse_buf_free(&p->tb);
    parse_buf_free(&p->cb);
    free(p);
}

void parse_out_clear(struct parse_out *out)
{
    if (!out)
        return;
    free(out->content);
    free(out->thinking);
    json_decref(out->tool_calls);
    memset(out, 0, sizeof(*out));
}

int parse_tool_count(const struct parse *p)
{
    return p->n_calls;
}

bool parse_prompt_opens_think(const char *prompt, size_t len, const char *think_open)
{
    const char *t = think_open ? think_open : "<think>";
    size_t lt = strlen(t);
    while (len && blank(prompt[len - 1]))
        len--;
    return lt && len >= lt && memcmp(prompt + len - lt, t, lt) == 0;
}

/* --- stage 2: tool calls over content */

static void content(struct parse_out *o, const char *s, size_t n)
{
    out_add(&o->content, &o->content_len, s, n);
}

/* Text at cb[from..upto) is not a call: release it (with whatever came
 * before it in this segment) and go on looking in what follows. */
static void call_fail(struct parse *p, size_t upto, struct parse_out *o)
{
    content(o, p->cb.p, upto);
    parse_buf_drop(&p->cb, upto);
    p->cs = p->brace ? C_PASS : C_LOOK;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

/* Mistral's "name[ARGS]{...}" (or "name[CALL_ID]id[ARGS]{...}") at cb[j]:
 * 1 parsed, 0 more text needed, -1 not this form. */
static int named_call(struct parse *p, struct parse_out *o, size_t j, bool final)
{
    const char *s = p->cb.p;
    size_t n = p->cb.n, e = j, a;
    while (e < n && name_char(s[e]) && e - j < 256)
        e++;
    if (e == n)
        return final ? -1 : 0;
    a = e;
    int m = prefix(s + a, n - a, "[CALL_ID]", 9);
    if (m == 1)
        return final ? -1 : 0;
    if (m == 2) {
        for (a += 9; a < n && name_char(s[a]) && a - e < 64;)
            a++;
        if (a == n)
            return final ? -1 : 0;
    }
    m = prefix(s + a, n - a, "[ARGS]", 6);
    if (m == 1)
        return final ? -1 : 0;
    if (m == 0 || a + 6 == n)
        return m == 0 || final ? -1 : 0;
    a += 6;
    if (s[a] != '{')
        return -1;
    size_t end = parse_json_end(s + a, n - a);
    if (!end)
        return final ? -1 : 0;
    o->tool_calls = o->tool_calls ? o->tool_calls : json_array();
    if (!parse_tool_call_named(s + j, e - j, s + a, end, p->tools, &p->n_calls, &p->rng,
                               o->tool_calls)) {
        if (json_array_size(o->tool_calls) == 0) {
            json_decref(o->tool_calls);
            o->tool_calls = NULL;
        }
        call_fail(p, a + end, o);
        return 1;
    }
    parse_buf_drop(&p->cb, a + end);
    p->pos = 0;
    p->seg_calls = true;
    return 1;
}

/* One step in C_CALL; returns false when more text is needed. */
static bool call_step(struct parse *p, struct parse_out *o, bool final)
{
    const char *s = p->cb.p;
    size_t n = p->cb.n, j = skip_blank(s, p->pos, n);
    if (j == n)
        return false;
    int m;
    if (!p->brace && (m = prefix(s + j, n - j, p->tag, p->ltag))) {
        if (m == 1 && !final)
            return false;
        if (m == 2) {
            if (p->seg_calls) { /* a new segment starts at this tag */
                parse_buf_drop(&p->cb, j);
                j = 0;
                p->seg_calls = false;
            }
            p->pos = j + p->ltag;
            return true;
        }
    }
    if (p->ctag && (m = prefix(s + j, n - j, p->ctag, p->lctag))) {
        if (m == 1 && !final)
            return false;
        if (m == 2 || p->seg_calls) { /* a cut closing tag after calls: dropped */
            p->pos = OM_MIN(n, j + p->lctag);
            return true;
        }
    }
    if ((m = prefix(s + j, n - j, "```", 3))) { /* a code fence around the JSON */
        size_t k = j + 3;
        while (m == 2 && k < n && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z')))
            k++;
        if ((m == 1 || k == n) && !final)
            return false;
        if (m == 2) {
            p->pos = k;
            return true;
        }
    }
    if (s[j] == '{' || s[j] == '[') {
        size_t e = parse_json_end(s + j, n - j);
        if (!e && !final)
            return false;
        if (e) {
            o->tool_calls = o->tool_calls ? o->tool_calls : json_array();
            if (parse_tool_calls(s + j, e, p->tools, &p->n_calls, &p->rng, o->tool_calls)) {
                parse_buf_drop(&p->cb, j + e);
                p->pos = 0;
                p->seg_calls = true;
                return true;
            }
            if (json_array_size(o->tool_calls) == 0) {
                json_decref(o->tool_calls);
                o->tool_calls = NULL;
            }
            call_fail(p, j + e, o);
            return true;
        }
    }
    if (!p->brace && name_char(s[j])) {
        int r = named_call(p, o, j, final);
        if (r >= 0)
            return r == 1;
    }
    /* not a call: after calls, the blanks before it are dropped */
    if (p->seg_calls) {
        parse_buf_drop(&p->cb, j);
        j = 0;
    }
    call_fail(p, final ? p->cb.n : j, o);
    return true;
}

static void tools_run(struct parse *p, struct parse_out *o, bool final)
{
    for (;;) {
        const char *s = p->cb.p;
        size_t n = p->cb.n;
        if (n == 0)
            return;
        if (p->cs == C_PASS || p->cs == C_NONE) {
            content(o, s, n);
            parse_buf_drop(&p->cb, n);
            return;
        }
        if (p->cs == C_START) {
            size_t t = skip_blank(s, 0, n);
            if (t == n && !final)
                return;
            char want = p->brace ? p->tag[0] : '{';
            if (t < n && s[t] == want) {
                p->cs = C_CALL;
                p->pos = t;
                p->seg_calls = false;
            } else {
                p->cs = p->brace ? C_PASS : C_LOOK;
            }
            continue;
        }
        if (p->cs == C_LOOK) {
            const char *at = find(s, n, p->tag, p->ltag);
            if (at) {
                content(o, s, (size_t)(at - s));
                parse_buf_drop(&p->cb, (size_t)(at - s));
                p->cs = C_CALL;
                p->pos = p->ltag;
                p->seg_calls = false;
                continue;
            }
            size_t keep = final ? 0 : overlap(s, n, p->tag, p->ltag);
            content(o, s, n - keep);
            parse_buf_drop(&p->cb, n - keep);
            return;
        }
        /* C_CALL */
        if (!call_step(p, o, final)) {
            if (final) { /* only blanks (or a cut tag) left */
                if (!p->seg_calls)
                    content(o, p->cb.p, p->cb.n);
                parse_buf_drop(&p->cb, p->cb.n);
            }
            return;
        }
    }
}

static void tools_feed(struct parse *p, const char *s, size_t n, struct parse_out *o)
{
    if (p->cs == C_NONE || (p->cs == C_PASS && p->cb.n == 0)) {
        content(o, s, n);
        return;
    }
    parse_buf_add(&p->cb, s, n);
    tools_run(p, o, false);
    if (p->cb.n > PARSE_MAX_HELD) {
        content(o, p->cb.p, p->cb.n);
        parse_buf_drop(&p->cb, p->cb.n);
        p->cs = C_PASS;
    }
}

/* --- stage 1: thinking */

/* "<open> blanks <close>" at s: 2 whole (length in *len), 1 maybe, 0 no. */
static int empty_think(const struct parse *p, const char *s, size_t n, size_t *len)
{
    int m = prefix(s, n, p->topen, p->lopen);
    if (m != 2)
        return m;
    size_t j = skip_blank(s, p->lopen, n);
    m = prefix(s + j, n - j, p->tclose, p->lclose);
    *len = j + p->lclose;
    return m;
}

static void think_run(struct parse *p, struct parse_out *o, bool final)
{
    struct parse_buf *b = &p->tb;
    for (;;) {
        size_t t, k;
        int m;
        switch (p->ts) {
        case T_LOOK:
        case T_DLOOK:
            t = skip_blank(b->p, 0, b->n);
            if (p->ts == T_LOOK) {
                m = prefix(b->p + t, b->n - t, p->topen, p->lopen);
                k = t + p->lopen;
            } else {
                m = empty_think(p, b->p + t, b->n - t, &k);
                k += t;
            }
            if (m == 2) {
                parse_buf_drop(b, k);
                p->ts = p->ts == T_LOOK ? T_EAT_OPEN : T_EAT_CLOSE;
                continue;
            }
            if (m == 1 && !final)
                return;
            p->ts = T_DONE;
            continue;
        case T_EAT_OPEN:
        case T_EAT_CLOSE:
            t = skip_blank(b->p, 0, b->n);
            parse_buf_drop(b, t);
            if (b->n == 0)
                return;
            p->ts = p->ts == T_EAT_OPEN ? T_IN : T_DONE;
            continue;
        case T_IN: {
            const char *at = find(b->p, b->n, p->tclose, p->lclose);
            if (at) {
                out_add(&o->thinking, &o->thinking_len, b->p, (size_t)(at - b->p));
                parse_buf_drop(b, (size_t)(at - b->p) + p->lclose);
                p->ts = T_EAT_CLOSE;
                continue;
            }
            size_t keep = final ? 0 : overlap(b->p, b->n, p->tclose, p->lclose);
            out_add(&o->thinking, &o->thinking_len, b->p, b->n - keep);
            parse_buf_drop(b, b->n - keep);
            return;
        }
        case T_DONE: {
            /* the buffer is released before tools_feed sees it */
            struct parse_buf tmp = *b;
            memset(b, 0, sizeof(*b));
            if (tmp.n)
                tools_feed(p, tmp.p, tmp.n, o);
            parse_buf_free(&tmp);
            return;
        }
        }
    }
}

int parse_feed(struct parse *p, const char *text, size_t len, struct parse_out *out)
{
    if (!p || !out || (!text && len))
        return OM_EINVAL;
    memset(out, 0, sizeof(*out));
    if (p->ts == T_DONE && p->tb.n == 0) {
        tools_feed(p, text, len, out);
    } else {
        parse_buf_add(&p->tb, text, len);
        think_run(p, out, false);
        if (p->tb.n > PARSE_MAX_HELD) { /* a flood of blanks or a partial tag */
            p->ts = p->ts == T_IN ? T_IN : T_DONE;
            think_run(p, out, true);
        }
    }
    return 0;
}

int parse_finish(struct parse *p, struct parse_out *out)
{
    if (!p || !out)
        return OM_EINVAL;
    memset(out, 0, sizeof(*out));
    think_run(p, out, true);
    tools_run(p, out, true);
    return 0;
}
