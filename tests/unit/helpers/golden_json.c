/* test helper: minimal JSON scanner for the golden files (see golden_json.h).
 * Understands the full JSON value grammar well enough to skip any value
 * (strings with escapes, nested arrays and objects); only the fields the
 * engine tests need are extracted. */
#include "helpers/golden_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scan {
    const char *p, *end;
    int bad;
};

static void ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static int eat(struct scan *s, char c)
{
    ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

/* Reads a string into out (truncated to n-1 chars, escapes kept raw). */
static void str(struct scan *s, char *out, size_t n)
{
    size_t k = 0;
    if (!eat(s, '"')) {
        s->bad = 1;
        return;
    }
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\' && s->p + 1 < s->end)
            s->p++;
        if (out && k + 1 < n)
            out[k++] = *s->p;
        s->p++;
    }
    if (out)
        out[k] = 0;
    if (s->p >= s->end)
        s->bad = 1;
    else
        s->p++;
}

static void skip(struct scan *s)
{
    ws(s);
    if (s->p >= s->end) {
        s->bad = 1;
        return;
    }
    char c = *s->p;
    if (c == '"') {
        str(s, NULL, 0);
    } else if (c == '[' || c == '{') {
        char close = c == '[' ? ']' : '}';
        s->p++;
        if (eat(s, close))
            return;
        do {
            if (c == '{') {
                str(s, NULL, 0);
                if (!eat(s, ':'))
                    s->bad = 1;
            }
            skip(s);
        } while (!s->bad && eat(s, ','));
        if (!eat(s, close))
            s->bad = 1;
    } else {
        while (s->p < s->end && !strchr(",]} \n\r\t", *s->p))
            s->p++;
    }
}

static double num(struct scan *s)
{
    ws(s);
    char *e;
    double v = strtod(s->p, &e);
    if (e == s->p)
        s->bad = 1;
    s->p = e;
    return v;
}

static int int_array(struct scan *s, int32_t *out, int max)
{
    int n = 0;
    if (!eat(s, '[')) {
        s->bad = 1;
        return 0;
    }
    if (eat(s, ']'))
        return 0;
    do {
        double v = num(s);
        if (n < max)
            out[n++] = (int32_t)v;
    } while (!s->bad && eat(s, ','));
    if (!eat(s, ']'))
        s->bad = 1;
    return n;
}

static void topk(struct scan *s, struct golden_case *gc)
{
    char key[64];
    if (!eat(s, '[')) {
        s->bad = 1;
        return;
    }
    if (eat(s, ']'))
        return;
    do {
        if (!eat(s, '{')) {
            s->bad = 1;
            return;
        }
        int32_t id = -1;
        double lg = 0;
        do {
            str(s, key, sizeof key);
            if (!eat(s, ':'))
                s->bad = 1;
            if (!strcmp(key, "id"))
                id = (int32_t)num(s);
            else if (!strcmp(key, "logit"))
                lg = num(s);
            else
                skip(s);
        } while (!s->bad && eat(s, ','));
        if (!eat(s, '}'))
            s->bad = 1;
        if (gc->n_topk < GOLDEN_MAX_TOPK) {
            gc->top_id[gc->n_topk] = id;
            gc->top_logit[gc->n_topk++] = (float)lg;
        }
    } while (!s->bad && eat(s, ','));
    if (!eat(s, ']'))
        s->bad = 1;
}

static int results(struct scan *s, struct golden_case *cases, int max)
{
    char key[64];
    int n = 0;
    if (!eat(s, '['))
        return -1;
    if (eat(s, ']'))
        return 0;
    do {
        struct golden_case scratch, *gc = n < max ? &cases[n] : &scratch;
        memset(gc, 0, sizeof *gc);
        if (!eat(s, '{'))
            return -1;
        do {
            str(s, key, sizeof key);
            if (!eat(s, ':'))
                s->bad = 1;
            if (!strcmp(key, "prompt_tokens"))
                gc->n_prompt = int_array(s, gc->prompt, GOLDEN_MAX_TOK);
            else if (!strcmp(key, "generated_tokens"))
                gc->n_gen = int_array(s, gc->gen, GOLDEN_MAX_TOK);
            else if (!strcmp(key, "first_step_topk"))
                topk(s, gc);
            else
                skip(s);
        } while (!s->bad && eat(s, ','));
        if (!eat(s, '}') || s->bad)
            return -1;
        if (n < max)
            n++;
    } while (eat(s, ','));
    return eat(s, ']') ? n : -1;
}

int golden_load(const char *path, struct golden_case *cases, int max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len <= 0) {
        fclose(f);
        return -1;
    }
    char *buf = malloc((size_t)len);
    size_t got = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    if (got != (size_t)len) {
        free(buf);
        return -1;
    }
    struct scan s = {buf, buf + len, 0};
    char key[64];
    int n = -1;
    if (eat(&s, '{')) {
        do {
            str(&s, key, sizeof key);
            if (!eat(&s, ':'))
                s.bad = 1;
            if (!strcmp(key, "results"))
                n = results(&s, cases, max);
            else
                skip(&s);
        } while (!s.bad && n != -2 && eat(&s, ','));
    }
    free(buf);
    return s.bad ? -1 : n;
}
