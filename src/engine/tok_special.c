/* engine: special tokens of a vocabulary: ids from metadata (with llama.cpp's
 * per-family defaults), add_bos/add_eos, end-of-generation set, the
 * attribute fix-ups llama.cpp applies by token text or model name, and the
 * list of tokens that encode splits out of raw text.
 *
 * Invariants after tok_vocab_special_init: every id field is -1 or in
 * [0, n); eog is sorted and unique; special is sorted by text length
 * (longest first, then id) and holds exactly the control, user-defined and
 * unknown tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/tok_int.h"

/* Reads an id key into *id. Absent: *id unchanged. 0xFFFFFFFF / -1: none.
 * Out of range: an error when strict, else ignored with a warning (real
 * files carry e.g. padding ids one past the vocabulary). */
static int get_id(tok_vocab *v, const gguf_file *f, const char *key, int32_t *id, int strict,
                  char *err, size_t errlen)
{
    int64_t x;
    int rc = gguf_get_i64(f, key, &x);
    if (rc == OM_ENOTFOUND)
        return 0;
    if (rc)
        return om_err(err, errlen, OM_EFORMAT, "%s: not an integer", key);
    if (x == -1 || x == 0xFFFFFFFFll) {
        *id = -1;
        return 0;
    }
    if (x < 0 || x >= v->n) {
        if (strict)
            return om_err(err, errlen, OM_EFORMAT, "%s: token id %lld out of range (n_vocab %d)",
                          key, (long long)x, v->n);
        om_log(OM_LOG_WARN, "tok", "%s: token id %lld out of range (n_vocab %d), ignored", key,
               (long long)x, v->n);
        return 0;
    }
    *id = (int32_t)x;
    return 0;
}

static int32_t dflt(const tok_vocab *v, int32_t id)
{
    return id < v->n ? id : -1;
}

static void set_defaults(tok_vocab *v)
{
    v->bos = v->eos = v->eot = v->eom = v->unk = v->sep = v->pad = v->mask_id = -1;
    v->fim_pre = v->fim_suf = v->fim_mid = v->fim_pad = v->fim_rep = v->fim_sep = -1;
    switch (v->kind) {
    case TOK_KIND_SPM:
        v->bos = dflt(v, 1);
        v->eos = dflt(v, 2);
        v->unk = dflt(v, 0);
        v->add_bos = 1;
        v->add_space_prefix = 1;
        break;
    case TOK_KIND_WPM:
        v->bos = dflt(v, 101);
        v->unk = dflt(v, 100);
        v->sep = dflt(v, 102);
        v->pad = dflt(v, 0);
        v->mask_id = dflt(v, 103);
        v->add_bos = 1;
        break;
    case TOK_KIND_BPE:
        v->bos = v->eos = dflt(v, 11);
        v->add_bos = v->pre == TOK_PRE_LLAMA3 || v->pre == TOK_PRE_CHAMELEON ||
                     v->pre == TOK_PRE_TEKKEN;
        v->ignore_merges = v->pre == TOK_PRE_LLAMA3 || v->pre == TOK_PRE_TEKKEN;
        if (strcmp(v->pre_name, "chatglm-bpe") == 0 || strcmp(v->pre_name, "glm4") == 0)
            v->bos = -1;
        break;
    }
}

static int read_ids(tok_vocab *v, const gguf_file *f, char *err, size_t errlen)
{
    static const char *const p = "tokenizer.ggml.";
    struct {
        const char *key;
        int32_t *id;
        int strict;
    } keys[] = {
        {"bos_token_id", &v->bos, 1},       {"eos_token_id", &v->eos, 1},
        {"eot_token_id", &v->eot, 1},       {"eom_token_id", &v->eom, 1},
        {"unknown_token_id", &v->unk, 1},   {"seperator_token_id", &v->sep, 1},
        {"separator_token_id", &v->sep, 1}, {"padding_token_id", &v->pad, 0},
        {"mask_token_id", &v->mask_id, 0},  {"fim_pre_token_id", &v->fim_pre, 0},
        {"fim_suf_token_id", &v->fim_suf, 0}, {"fim_mid_token_id", &v->fim_mid, 0},
        {"fim_pad_token_id", &v->fim_pad, 0}, {"fim_rep_token_id", &v->fim_rep, 0},
        {"fim_sep_token_id", &v->fim_sep, 0}, {"prefix_token_id", &v->fim_pre, 0},
        {"suffix_token_id", &v->fim_suf, 0}, {"middle_token_id", &v->fim_mid, 0},
    };
    char key[64];
    for (size_t i = 0; i < OM_ARRAY_LEN(keys); i++) {
        snprintf(key, sizeof(key), "%s%s", p, keys[i].key);
        int rc = get_id(v, f, key, keys[i].id, keys[i].strict, err, errlen);
        if (rc)
            return rc;
    }
    /* BERT files name [CLS] cls_token_id; it is what encode puts first */
    if (v->kind == TOK_KIND_WPM && gguf_find_key(f, "tokenizer.ggml.bos_token_id") < 0) {
        int rc = get_id(v, f, "tokenizer.ggml.cls_token_id", &v->bos, 1, err, errlen);
        if (rc)
            return rc;
    }
    struct {
        const char *key;
        int *flag;
    } flags[] = {{"tokenizer.ggml.add_bos_token", &v->add_bos},
                 {"tokenizer.ggml.add_eos_token", &v->add_eos},
                 {"tokenizer.ggml.add_space_prefix", &v->add_space_prefix}};
    for (size_t i = 0; i < OM_ARRAY_LEN(flags); i++) {
        int b, rc = gguf_get_bool(f, flags[i].key, &b);
        if (rc == 0)
            *flags[i].flag = b != 0;
        else if (rc != OM_ENOTFOUND)
            return om_err(err, errlen, OM_EFORMAT, "%s: not a bool", flags[i].key);
    }
    if (v->add_bos && v->bos < 0 && v->kind != TOK_KIND_WPM)
        v->add_bos = 0;
    if (v->add_eos && v->eos < 0)
        v->add_eos = 0;
    return 0;
}

static int32_t find_str(const tok_vocab *v, const char *s)
{
    return tok_find(v, s, strlen(s));
}

/* The first of names present in the vocabulary; it becomes a control token. */
static int32_t detect(tok_vocab *v, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int32_t id = find_str(v, names[i]);
        if (id >= 0) {
            v->attr[id] |= TOK_ATTR_CONTROL;
            return id;
        }
    }
    return -1;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void build_eog(tok_vocab *v)
{
    static const char *const eot_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                            "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
                                            ("<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"),
                                            "<end_of_utterance>"};
    static const char *const eom_names[] = {"<|eom_id|>"};
    static const char *const pad_names[] = {"<|fim_pad|>", "<fim-pad>", "<PAD>"};
    static const char *const rep_names[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
                                            "<reponame>"};
    static const char *const sep_names[] = {"<|file_sep|>"};
    static const char *const eog_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>",
                                            "<|call|>", "<end_of_turn>", "<|endoftext|>",
                                            "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>",
                                            "<end_of_utterance>"};
    if (v->eot < 0)
        v->eot = detect(v, eot_names, OM_ARRAY_LEN(eot_names));
    if (v->eom < 0)
        v->eom = detect(v, eom_names, OM_ARRAY_LEN(eom_names));
    if (v->fim_pad < 0)
        v->fim_pad = detect(v, pad_names, OM_ARRAY_LEN(pad_names));
    if (v->fim_rep < 0)
        v->fim_rep = detect(v, rep_names, OM_ARRAY_LEN(rep_names));
    if (v->fim_sep < 0)
        v->fim_sep = detect(v, sep_names, OM_ARRAY_LEN(sep_names));

    int32_t ids[32];
    size_t n = 0;
    int32_t fixed[] = {v->fim_pad, v->fim_rep, v->fim_sep, v->eos, v->eot, v->eom};
    for (size_t i = 0; i < OM_ARRAY_LEN(fixed); i++)
        if (fixed[i] >= 0)
            ids[n++] = fixed[i];
    for (size_t i = 0; i < OM_ARRAY_LEN(eog_names); i++) {
        int32_t id = find_str(v, eog_names[i]);
        if (id >= 0) {
            v->attr[id] |= TOK_ATTR_CONTROL;
            ids[n++] = id;
        }
    }
    /* gpt-oss (harmony): these render and split as plain text tokens, and
     * with <|return|> and <|call|> present <|end|> only ends a message */
    static const char *const harmony[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};
    for (size_t i = 0; i < OM_ARRAY_LEN(harmony); i++) {
        int32_t id = find_str(v, harmony[i]);
        if (id >= 0)
            v->attr[id] = TOK_ATTR_USER_DEFINED;
    }
    int32_t end = find_str(v, "<|end|>");
    if (end >= 0 && find_str(v, "<|return|>") >= 0 && find_str(v, "<|call|>") >= 0) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (ids[i] != end)
                ids[k++] = ids[i];
        n = k;
        v->attr[end] = TOK_ATTR_USER_DEFINED;
        if (v->eot == end)
            v->eot = -1;
    }
    qsort(ids, n, sizeof(ids[0]), cmp_i32);
    v->eog = om_xmalloc((n ? n : 1) * sizeof(*v->eog));
    v->n_eog = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || ids[i] != ids[i - 1])
            v->eog[v->n_eog++] = ids[i];
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void contains_lower(const char *hay, size_t n, const char *needle, int *hit)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n && !*hit; i++) {
        size_t j = 0;
        while (j < m && (char)(hay[i + j] | ((hay[i + j] >= 'A' && hay[i + j] <= 'Z') ? 32 : 0)) == needle[j])
            j++;
        *hit = j == m;
    }
}

static void build_special(tok_vocab *v, const gguf_file *f)
{
    const uint16_t sp = TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN;
    size_t n = 0;
    for (int32_t i = 0; i < v->n; i++)
        n += (v->attr[i] & sp) != 0;
    v->special = om_xmalloc((n ? n : 1) * sizeof(*v->special));
    v->n_special = 0;
    for (int32_t i = 0; i < v->n; i++)
        if (v->attr[i] & sp)
            v->special[v->n_special++] = i;

    /* attributes llama.cpp sets by model name / pre-tokenizer */
    gguf_str name = {"", 0};
    gguf_get_str(f, "general.name", &name);
    int phi3 = 0;
    contains_lower(name.ptr, name.len, "phi-3", &phi3);
    contains_lower(name.ptr, name.len, "phi3", &phi3);
    if (strncmp(v->pre_name, "jina-v2-", 8) == 0 && strcmp(v->pre_name, "jina-v2-en") != 0) {
        int32_t id = find_str(v, "<mask>");
        if (id >= 0)
            v->attr[id] |= TOK_ATTR_LSTRIP;
    } else if (phi3) {
        for (size_t i = 0; i < v->n_special; i++)
            v->attr[v->special[i]] |= TOK_ATTR_RSTRIP;
        int32_t id = find_str(v, "</s>");
        if (id >= 0)
            v->attr[id] |= TOK_ATTR_RSTRIP;
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (size_t i = 0; i < OM_ARRAY_LEN(keep); i++) {
            id = find_str(v, keep[i]);
            if (id >= 0)
                v->attr[id] &= (uint16_t)~TOK_ATTR_RSTRIP;
        }
    }

    /* longest text first, then lower id: sort (UINT32_MAX - len, id) keys */
    uint64_t *keys = om_xmalloc((v->n_special ? v->n_special : 1) * sizeof(*keys));
    for (size_t i = 0; i < v->n_special; i++)
        keys[i] = ((uint64_t)(UINT32_MAX - v->tlen[v->special[i]]) << 32) | (uint32_t)v->special[i];
    qsort(keys, v->n_special, sizeof(*keys), cmp_u64);
    for (size_t i = 0; i < v->n_special; i++)
        v->special[i] = (int32_t)(keys[i] & 0xFFFFFFFFu);
    free(keys);
    for (size_t i = 0; i < v->n_special; i++) {
        int32_t id = v->special[i];
        v->special_first[(uint8_t)v->text[v->toff[id]]] = 1;
        v->max_special_len = OM_MAX(v->max_special_len, v->tlen[id]);
    }
}

int tok_vocab_special_init(tok_vocab *v, const gguf_file *f, char *err, size_t errlen)
{
    set_defaults(v);
    int rc = read_ids(v, f, err, errlen);
    if (rc)
        return rc;
    build_eog(v);
    build_special(v, f);
    return 0;
}
