/* engine: tokenizer vocabulary loading from GGUF metadata, the token-text
 * hash table, BPE merge table and the small accessors of tok.h.
 *
 * Loading copies every token text into one arena (empty texts become
 * "[EMPTY_<i>]" as in llama.cpp) and indexes them; when two tokens share a
 * text the later id wins, which is what llama.cpp's map assignment does.
 * Metadata that contradicts itself (array lengths, types, merges naming
 * unknown tokens) is refused with OM_EFORMAT naming the key. Special ids and
 * attributes are resolved in tok_special.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/tok_int.h"
#include "engine/unicode.h"

#define TOK_MAX_VOCAB (1 << 24)

uint64_t tok_hash(const char *s, size_t len)
{
    uint64_t h = TOK_FNV_INIT;
    for (size_t i = 0; i < len; i++)
        h = tok_hash_step(h, (uint8_t)s[i]);
    return h;
}

static uint32_t slot_of(uint64_t h)
{
    h ^= h >> 31;
    h *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

int32_t tok_lookup_h(const tok_vocab *v, const char *s, size_t len, uint64_t h)
{
    uint32_t fp = (uint32_t)(h >> 32);
    for (uint32_t i = slot_of(h) & v->mask;; i = (i + 1) & v->mask) {
        const tok_slot *sl = &v->slots[i];
        if (sl->id < 0)
            return -1;
        if (sl->fp == fp && v->tlen[sl->id] == len && memcmp(v->text + v->toff[sl->id], s, len) == 0)
            return sl->id;
    }
}

int32_t tok_find(const tok_vocab *v, const char *s, size_t len)
{
    return tok_lookup_h(v, s, len, tok_hash(s, len));
}

static void hash_insert(tok_vocab *v, int32_t id)
{
    const char *s = v->text + v->toff[id];
    uint32_t len = v->tlen[id];
    uint64_t h = tok_hash(s, len);
    uint32_t fp = (uint32_t)(h >> 32);
    for (uint32_t i = slot_of(h) & v->mask;; i = (i + 1) & v->mask) {
        tok_slot *sl = &v->slots[i];
        if (sl->id < 0 || (sl->fp == fp && v->tlen[sl->id] == len &&
                           memcmp(v->text + v->toff[sl->id], s, len) == 0)) {
            sl->id = id; /* a duplicate text: the later id wins */
            sl->fp = fp;
            return;
        }
    }
}

/* Sequential reader of a validated string array (the reader checked every
 * length against the file, so walking it needs no further bounds checks). */
typedef struct str_iter {
    const uint8_t *p;
} str_iter;

static gguf_str str_next(str_iter *it)
{
    uint64_t len;
    memcpy(&len, it->p, 8); /* GGUF is little-endian, as are the hosts we build for */
    gguf_str s = {(const char *)it->p + 8, len};
    it->p += 8 + len;
    return s;
}

static uint32_t merge_slot(uint64_t key)
{
    key ^= key >> 29;
    key *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(key >> 32);
}

int tok_merge_find(const tok_vocab *v, int32_t left, int32_t right, int32_t *rank,
                   int32_t *result)
{
    if (!v->merges || left < 0 || right < 0)
        return 0;
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    for (uint32_t i = merge_slot(key) & v->merge_mask;; i = (i + 1) & v->merge_mask) {
        const tok_merge_slot *s = &v->merges[i];
        if (s->key == UINT64_MAX)
            return 0;
        if (s->key == key) {
            *rank = s->rank;
            *result = s->result;
            return 1;
        }
    }
}

static uint32_t pow2_above(uint64_t n)
{
    uint32_t m = 16;
    while (m < n * 2)
        m *= 2;
    return m;
}

/* Reads tokenizer.ggml.merges ("left right" strings; earlier = higher
 * priority). A merge whose result is not a token can never produce one and
 * is dropped; one naming an unknown part is an error. */
static int load_merges(tok_vocab *v, const gguf_file *f, char *err, size_t errlen)
{
    const char *key = "tokenizer.ggml.merges";
    enum gguf_vtype et;
    uint64_t n;
    const void *data;
    int rc = gguf_get_arr(f, key, &et, &n, &data);
    if (rc == OM_ENOTFOUND)
        return om_err(err, errlen, OM_EFORMAT, "%s: missing (required for a gpt2 tokenizer)", key);
    if (rc || et != GGUF_VT_STRING)
        return om_err(err, errlen, OM_EFORMAT, "%s: not an array of strings", key);
    if (n > TOK_MAX_VOCAB * 4ull)
        return om_err(err, errlen, OM_EFORMAT, "%s: %llu entries is too many", key,
                      (unsigned long long)n);
    v->merge_mask = pow2_above(n) - 1;
    v->merges = om_xmalloc(((size_t)v->merge_mask + 1) * sizeof(*v->merges));
    for (size_t i = 0; i <= v->merge_mask; i++)
        v->merges[i].key = UINT64_MAX;
    char stackbuf[512];
    str_iter it = {data};
    for (uint64_t i = 0; i < n; i++) {
        gguf_str s = str_next(&it);
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp)
            return om_err(err, errlen, OM_EFORMAT, "%s[%llu]: no space between the two parts",
                          key, (unsigned long long)i);
        size_t ll = (size_t)(sp - s.ptr), rl = s.len - ll - 1;
        int32_t l = tok_find(v, s.ptr, ll), r = tok_find(v, sp + 1, rl);
        if (l < 0 || r < 0)
            return om_err(err, errlen, OM_EFORMAT, "%s[%llu]: '%.*s' refers to an unknown token",
                          key, (unsigned long long)i, (int)OM_MIN(s.len, 64), s.ptr);
        char *cat = ll + rl <= sizeof(stackbuf) ? stackbuf : om_xmalloc(ll + rl);
        memcpy(cat, s.ptr, ll);
        memcpy(cat + ll, sp + 1, rl);
        int32_t res = tok_find(v, cat, ll + rl);
        if (cat != stackbuf)
            free(cat);
        if (res < 0)
            continue;
        uint64_t k = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
        for (uint32_t j = merge_slot(k) & v->merge_mask;; j = (j + 1) & v->merge_mask) {
            tok_merge_slot *m = &v->merges[j];
            if (m->key == k)
                break; /* listed twice: the first (higher priority) stays */
            if (m->key == UINT64_MAX) {
                m->key = k;
                m->rank = (int32_t)i;
                m->result = res;
                break;
            }
        }
    }
    return 0;
}

static const struct {
    const char *name;
    enum tok_pre pre;
} pre_names[] = {
    {"default", TOK_PRE_DEFAULT},        {"llama3", TOK_PRE_LLAMA3},
    {"llama-v3", TOK_PRE_LLAMA3},        {"llama-bpe", TOK_PRE_LLAMA3},
    {"falcon3", TOK_PRE_LLAMA3},         {"dbrx", TOK_PRE_DBRX},
    {"smaug-bpe", TOK_PRE_DBRX},         {"chatglm-bpe", TOK_PRE_DBRX},
    {"deepseek-llm", TOK_PRE_DEEPSEEK_LLM}, {"deepseek-coder", TOK_PRE_DEEPSEEK_CODER},
    {"falcon", TOK_PRE_FALCON},          {"mpt", TOK_PRE_GPT2},
    {"starcoder", TOK_PRE_STARCODER},    {"refact", TOK_PRE_STARCODER},
    {"command-r", TOK_PRE_STARCODER},    {"smollm", TOK_PRE_STARCODER},
    {"codeshell", TOK_PRE_STARCODER},    {"exaone", TOK_PRE_STARCODER},
    {"minerva-7b", TOK_PRE_STARCODER},   {"gpt-2", TOK_PRE_GPT2},
    {"phi-2", TOK_PRE_GPT2},             {"jina-es", TOK_PRE_GPT2},
    {"jina-de", TOK_PRE_GPT2},           {"gigachat", TOK_PRE_GPT2},
    {"jina-v1-en", TOK_PRE_GPT2},        {"jina-v2-es", TOK_PRE_GPT2},
    {"jina-v2-de", TOK_PRE_GPT2},        {"jina-v2-code", TOK_PRE_GPT2},
    {"roberta-bpe", TOK_PRE_GPT2},       {"olmo", TOK_PRE_GPT2},
    {"jais", TOK_PRE_GPT2},              {"qwen2", TOK_PRE_QWEN2},
    {"deepseek-r1-qwen", TOK_PRE_QWEN2}, {"stablelm2", TOK_PRE_QWEN2},
    {"megrez", TOK_PRE_QWEN2},           {"poro-chat", TOK_PRE_PORO},
    {"bloom", TOK_PRE_PORO},             {"gpt3-finnish", TOK_PRE_PORO},
    {"viking", TOK_PRE_VIKING},          {"chameleon", TOK_PRE_CHAMELEON},
    {"tekken", TOK_PRE_TEKKEN},          {"gpt-4o", TOK_PRE_GPT4O},
    {"llama4", TOK_PRE_GPT4O},           {"minimax-m2", TOK_PRE_GPT4O},
    {"exaone4", TOK_PRE_GPT2},           {"a.x-4.0", TOK_PRE_GPT2},
    {"mellum", TOK_PRE_GPT2},            {"trillion", TOK_PRE_GPT2},
    {"granite-docling", TOK_PRE_GPT2},   {"kormo", TOK_PRE_QWEN2},
    {"hunyuan", TOK_PRE_QWEN2},          {"grok-2", TOK_PRE_QWEN2},
    {"glm4", TOK_PRE_DBRX},
};

static int resolve_pre(tok_vocab *v, const gguf_file *f, char *err, size_t errlen)
{
    gguf_str s;
    int rc = gguf_get_str(f, "tokenizer.ggml.pre", &s);
    if (rc == OM_ENOTFOUND) {
        om_log(OM_LOG_WARN, "tok", "tokenizer.ggml.pre missing: using the default pre-tokenizer");
        v->pre = TOK_PRE_DEFAULT;
        snprintf(v->pre_name, sizeof(v->pre_name), "default");
        return 0;
    }
    if (rc)
        return om_err(err, errlen, OM_EFORMAT, "tokenizer.ggml.pre: not a string");
    for (size_t i = 0; i < OM_ARRAY_LEN(pre_names); i++) {
        if (gguf_str_eq(s, pre_names[i].name)) {
            v->pre = pre_names[i].pre;
            snprintf(v->pre_name, sizeof(v->pre_name), "%s", pre_names[i].name);
            return 0;
        }
    }
    return om_err(err, errlen, OM_EUNSUPPORTED, "tokenizer.ggml.pre: unsupported pre-tokenizer '%.*s'",
                  (int)OM_MIN(s.len, 64), s.ptr);
}

static int resolve_kind(tok_vocab *v, const gguf_file *f, char *err, size_t errlen)
{
    gguf_str s;
    int rc = gguf_get_str(f, "tokenizer.ggml.model", &s);
    if (rc == OM_ENOTFOUND)
        return om_err(err, errlen, OM_ENOTFOUND, "tokenizer.ggml.model: missing (no tokenizer)");
    if (rc)
        return om_err(err, errlen, OM_EFORMAT, "tokenizer.ggml.model: not a string");
    if (gguf_str_eq(s, "llama"))
        v->kind = TOK_KIND_SPM;
    else if (gguf_str_eq(s, "gpt2"))
        v->kind = TOK_KIND_BPE;
    else if (gguf_str_eq(s, "bert"))
        v->kind = TOK_KIND_WPM;
    else if (gguf_str_eq(s, "none") || gguf_str_eq(s, "no_vocab"))
        return om_err(err, errlen, OM_EUNSUPPORTED,
                      "tokenizer.ggml.model: '%.*s': the model has no vocabulary", (int)s.len, s.ptr);
    else
        return om_err(err, errlen, OM_EUNSUPPORTED,
                      "tokenizer.ggml.model: '%.*s' tokenizers are not supported (llama, gpt2, bert are)",
                      (int)OM_MIN(s.len, 64), s.ptr);
    return 0;
}

/* Copies tokens, scores and token types. */
static int load_tokens(tok_vocab *v, const gguf_file *f, char *err, size_t errlen)
{
    const char *key = "tokenizer.ggml.tokens";
    enum gguf_vtype et;
    uint64_t n;
    const void *data;
    int rc = gguf_get_arr(f, key, &et, &n, &data);
    if (rc == OM_ENOTFOUND)
        return om_err(err, errlen, OM_ENOTFOUND, "%s: missing", key);
    if (rc || et != GGUF_VT_STRING)
        return om_err(err, errlen, OM_EFORMAT, "%s: not an array of strings", key);
    if (n == 0 || n > TOK_MAX_VOCAB)
        return om_err(err, errlen, OM_EFORMAT, "%s: %llu tokens (want 1..%d)", key,
                      (unsigned long long)n, TOK_MAX_VOCAB);
    v->n = (int32_t)n;

    const void *scores = NULL, *types = NULL;
    uint64_t m;
    rc = gguf_get_arr(f, "tokenizer.ggml.scores", &et, &m, &scores);
    if (rc == 0 && (et != GGUF_VT_FLOAT32 || m != n))
        return om_err(err, errlen, OM_EFORMAT,
                      "tokenizer.ggml.scores: %llu entries of type %d, expected %llu float32",
                      (unsigned long long)m, (int)et, (unsigned long long)n);
    if (rc && rc != OM_ENOTFOUND)
        return om_err(err, errlen, OM_EFORMAT, "tokenizer.ggml.scores: not an array");
    rc = gguf_get_arr(f, "tokenizer.ggml.token_type", &et, &m, &types);
    if (rc == 0 && ((et != GGUF_VT_INT32 && et != GGUF_VT_UINT32) || m != n))
        return om_err(err, errlen, OM_EFORMAT,
                      "tokenizer.ggml.token_type: %llu entries of type %d, expected %llu int32",
                      (unsigned long long)m, (int)et, (unsigned long long)n);
    if (rc && rc != OM_ENOTFOUND)
        return om_err(err, errlen, OM_EFORMAT, "tokenizer.ggml.token_type: not an array");

    size_t total = 0;
    str_iter it = {data};
    for (uint64_t i = 0; i < n; i++) {
        gguf_str s = str_next(&it);
        if (s.len > 1 << 20)
            return om_err(err, errlen, OM_EFORMAT, "%s[%llu]: %llu bytes is too long", key,
                          (unsigned long long)i, (unsigned long long)s.len);
        total += (s.len ? s.len : 24) + 1;
    }
    if (total > UINT32_MAX)
        return om_err(err, errlen, OM_EFORMAT, "%s: texts too large", key);
    v->text = om_xmalloc(total);
    v->toff = om_xmalloc(n * sizeof(*v->toff));
    v->tlen = om_xmalloc(n * sizeof(*v->tlen));
    v->score = om_xmalloc(n * sizeof(*v->score));
    v->attr = om_xmalloc(n * sizeof(*v->attr));
    size_t off = 0;
    it.p = data;
    for (uint64_t i = 0; i < n; i++) {
        gguf_str s = str_next(&it);
        v->toff[i] = (uint32_t)off;
        if (s.len) {
            memcpy(v->text + off, s.ptr, s.len);
            v->tlen[i] = (uint32_t)s.len;
        } else {
            v->tlen[i] = (uint32_t)snprintf(v->text + off, 25, "[EMPTY_%llu]", (unsigned long long)i);
        }
        off += v->tlen[i];
        v->text[off++] = 0;
        v->max_token_len = OM_MAX(v->max_token_len, v->tlen[i]);
        float sc = 0;
        if (scores)
            memcpy(&sc, (const char *)scores + i * 4, 4);
        v->score[i] = sc;
        int32_t t = 1;
        if (types)
            memcpy(&t, (const char *)types + i * 4, 4);
        static const uint16_t attr_of_type[] = {TOK_ATTR_UNDEFINED, TOK_ATTR_NORMAL,
                                                TOK_ATTR_UNKNOWN,   TOK_ATTR_CONTROL,
                                                TOK_ATTR_USER_DEFINED, TOK_ATTR_UNUSED,
                                                TOK_ATTR_BYTE};
        v->attr[i] = t >= 0 && t < 7 ? attr_of_type[t] : TOK_ATTR_UNDEFINED;
    }
    v->mask = pow2_above((uint64_t)n) - 1;
    v->slots = om_xmalloc(((size_t)v->mask + 1) * sizeof(*v->slots));
    for (size_t i = 0; i <= v->mask; i++)
        v->slots[i] = (tok_slot){-1, 0};
    for (int32_t i = 0; i < v->n; i++)
        hash_insert(v, i);
    return 0;
}

static void byte_tokens(tok_vocab *v)
{
    for (int b = 0; b < 256; b++) {
        char buf[8];
        int32_t id = -1;
        if (v->kind == TOK_KIND_BPE) {
            size_t n = unicode_utf8_put(unicode_byte_to_cp((uint8_t)b), buf);
            id = tok_find(v, buf, n);
        } else {
            snprintf(buf, sizeof(buf), "<0x%02X>", b);
            id = tok_find(v, buf, 6);
            if (id < 0) {
                buf[0] = (char)b;
                id = tok_find(v, buf, 1);
            }
        }
        v->byte_tok[b] = id;
    }
}

int tok_vocab_load(const gguf_file *f, tok_vocab **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!f)
        return om_err(err, errlen, OM_EINVAL, "no file");
    tok_vocab *v = om_xcalloc(1, sizeof(*v));
    int rc = resolve_kind(v, f, err, errlen);
    if (!rc && v->kind == TOK_KIND_BPE)
        rc = resolve_pre(v, f, err, errlen);
    if (!rc)
        rc = load_tokens(v, f, err, errlen);
    if (!rc && v->kind == TOK_KIND_BPE)
        rc = load_merges(v, f, err, errlen);
    if (!rc)
        rc = tok_vocab_special_init(v, f, err, errlen);
    if (rc) {
        tok_vocab_free(v);
        return rc;
    }
    byte_tokens(v);
    tok_pieces_build(v);
    if (v->kind == TOK_KIND_SPM)
        tok_spm_prepare(v);
    *out = v;
    return 0;
}

void tok_vocab_free(tok_vocab *v)
{
    if (!v)
        return;
    free(v->text);
    free(v->toff);
    free(v->tlen);
    free(v->score);
    free(v->attr);
    free(v->slots);
    free(v->merges);
    free(v->pbuf);
    free(v->poff);
    free(v->plen);
    free(v->eog);
    free(v->special);
    free(v);
}

int32_t tok_n_vocab(const tok_vocab *v) { return v->n; }
enum tok_kind tok_vocab_kind(const tok_vocab *v) { return v->kind; }
const char *tok_pre_name(const tok_vocab *v) { return v->pre_name; }
int32_t tok_bos(const tok_vocab *v) { return v->bos; }
int32_t tok_eos(const tok_vocab *v) { return v->eos; }
int32_t tok_eot(const tok_vocab *v) { return v->eot; }
int32_t tok_eom(const tok_vocab *v) { return v->eom; }
int32_t tok_unk(const tok_vocab *v) { return v->unk; }
int32_t tok_sep(const tok_vocab *v) { return v->sep; }
int32_t tok_pad(const tok_vocab *v) { return v->pad; }
int tok_add_bos(const tok_vocab *v) { return v->add_bos; }
int tok_add_eos(const tok_vocab *v) { return v->add_eos; }

uint32_t tok_attr(const tok_vocab *v, int32_t id)
{
    return id >= 0 && id < v->n ? v->attr[id] : 0;
}

int tok_is_control(const tok_vocab *v, int32_t id)
{
    return (tok_attr(v, id) & TOK_ATTR_CONTROL) != 0;
}

int tok_is_eog(const tok_vocab *v, int32_t id)
{
    size_t lo = 0, hi = v->n_eog;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v->eog[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n_eog && v->eog[lo] == id;
}

const char *tok_text(const tok_vocab *v, int32_t id, size_t *len)
{
    if (id < 0 || id >= v->n)
        return NULL;
    if (len)
        *len = v->tlen[id];
    return v->text + v->toff[id];
}
