/* engine: byte-level BPE pre-tokenizers, as hand-written matchers.
 *
 * Each tokenizer.ggml.pre family is a list of steps applied in order, as
 * llama.cpp's unicode_regex_split does: every step cuts each current chunk
 * into its matches and the gaps between them (gaps are kept as chunks), so a
 * later step only refines earlier cuts. Two steps are llama.cpp's own
 * hand-written loops (GPT-2 and LLAMA3; QWEN2's regex is the LLAMA3 loop with
 * single digits); the others mirror what std::regex (ECMAScript, leftmost
 * match, first matching alternative, greedy with backtracking) finds for the
 * regex quoted next to each matcher. Where llama.cpp runs a regex on wide
 * characters, non-ASCII whitespace has been replaced by U+000B first, so it
 * matches \s but no literal range (wc() below).
 *
 * Positions are code point indices; a chunk is [a, e). Every matcher is
 * linear in the chunk except the backtracking noted at each. */
#include <stdlib.h>

#include "base/om.h"
#include "engine/tok_int.h"
#include "engine/unicode.h"

typedef struct lens {
    uint32_t *p;
    size_t n, cap;
} lens;

static void push(lens *l, size_t len)
{
    if (!len)
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->p = om_xrealloc(l->p, l->cap * sizeof(*l->p));
    }
    l->p[l->n++] = (uint32_t)len;
}

static int is_l(uint32_t c) { return (unicode_flags(c) & UNICODE_F_LETTER) != 0; }
static int is_n(uint32_t c) { return (unicode_flags(c) & UNICODE_F_NUMBER) != 0; }
static int is_p(uint32_t c) { return (unicode_flags(c) & UNICODE_F_PUNCT) != 0; }
static int is_ws(uint32_t c) { return unicode_is_whitespace(c); }
static int is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }
static uint32_t wc(uint32_t c) { return c > 0x7F && is_ws(c) ? 0x0B : c; }
static int in(uint32_t c, uint32_t lo, uint32_t hi) { return c >= lo && c <= hi; }

/* ---- llama.cpp's GPT-2 loop:
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void split_gpt2(const uint32_t *c, size_t a, size_t e, lens *out)
{
#define GC(i) ((i) < e ? c[i] : 0xFFFFFFFFu)
#define FL(i) ((i) < e ? unicode_flags(c[i]) : 0)
    const uint16_t LNW = UNICODE_F_LETTER | UNICODE_F_NUMBER | UNICODE_F_WHITESPACE;
    size_t p = a;
    while (p < e) {
        uint32_t ch = c[p];
        size_t s = p;
        if (ch == '\'' && p + 1 < e) {
            uint32_t n1 = c[p + 1];
            if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
                p += 2;
                push(out, p - s);
                continue;
            }
            if (p + 2 < e) {
                uint32_t n2 = c[p + 2];
                if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
                    p += 3;
                    push(out, p - s);
                    continue;
                }
            }
        }
        uint16_t f2 = ch == ' ' ? FL(p + 1) : FL(p);
        if (f2 & (UNICODE_F_LETTER | UNICODE_F_NUMBER)) {
            uint16_t want = f2 & UNICODE_F_LETTER ? UNICODE_F_LETTER : UNICODE_F_NUMBER;
            p += ch == ' ';
            while (FL(p) & want)
                p++;
            push(out, p - s);
            continue;
        }
        if (!(f2 & LNW) && f2) {
            p += ch == ' ';
            for (uint16_t f = FL(p); !(f & LNW) && f; f = FL(p))
                p++;
            push(out, p - s);
            continue;
        }
        size_t nws = 0;
        while (FL(p + nws) & UNICODE_F_WHITESPACE)
            nws++;
        if (nws > 1 && GC(p + nws) != 0xFFFFFFFFu)
            p += nws - 1; /* \s+(?!\S): leave the last space to the next word */
        else if (nws > 0)
            p += nws;
        else
            p++;
        push(out, p - s);
    }
#undef GC
#undef FL
}

/* ---- llama.cpp's LLAMA3 loop (digits = 3), also QWEN2's regex (digits = 1):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static void split_llama3(const uint32_t *c, size_t a, size_t e, size_t digits, lens *out)
{
    const uint16_t LNW = UNICODE_F_LETTER | UNICODE_F_NUMBER | UNICODE_F_WHITESPACE;
    size_t p = a;
    while (p < e) {
        uint32_t ch = c[p];
        uint16_t f = unicode_flags(ch);
        size_t s = p;
        if (ch == '\'' && p + 1 < e) {
            uint32_t n1 = unicode_tolower(c[p + 1]);
            if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
                p += 2;
                push(out, p - s);
                continue;
            }
            if (p + 2 < e) {
                uint32_t n2 = unicode_tolower(c[p + 2]);
                if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
                    p += 3;
                    push(out, p - s);
                    continue;
                }
            }
        }
        if (!is_crlf(ch) && !(f & UNICODE_F_NUMBER) &&
            ((f & UNICODE_F_LETTER) || (p + 1 < e && is_l(c[p + 1])))) {
            p++;
            while (p < e && is_l(c[p]))
                p++;
            push(out, p - s);
            continue;
        }
        if (f & UNICODE_F_NUMBER) {
            while (p < e && is_n(c[p])) {
                size_t k = 0;
                while (k < digits && p < e && is_n(c[p]))
                    p++, k++;
                push(out, p - s);
                s = p;
            }
            continue;
        }
        uint16_t f2 = ch == ' ' ? (p + 1 < e ? unicode_flags(c[p + 1]) : 0) : f;
        if (!(f2 & LNW) && f2) {
            p += ch == ' ';
            while (p < e && !(unicode_flags(c[p]) & LNW))
                p++;
            while (p < e && is_crlf(c[p]))
                p++;
            push(out, p - s);
            continue;
        }
        size_t nws = 0, last_crlf = 0;
        while (p + nws < e && is_ws(c[p + nws])) {
            if (is_crlf(c[p + nws]))
                last_crlf = p + nws + 1;
            nws++;
        }
        if (last_crlf)
            p = last_crlf; /* \s*[\r\n]+ */
        else if (nws > 1 && p + nws < e)
            p += nws - 1; /* \s+(?!\S) */
        else if (nws > 0)
            p += nws;
        else
            p++;
        push(out, p - s);
    }
}

/* ---- TEKKEN (std::regex on llama.cpp's collapsed text, where every
 * non-ASCII letter counts as both upper and lower case):
 * [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|
 * [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}|
 *  ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * U = letters but a-z, W = letters but A-Z. U*W+ backtracks: U* takes its
 * longest run, then gives characters back until W+ can start. */
static int tk_u(uint32_t c) { return is_l(c) && !(c >= 'a' && c <= 'z'); }
static int tk_w(uint32_t c) { return is_l(c) && !(c >= 'A' && c <= 'Z'); }

static size_t tekken_letters(const uint32_t *c, size_t s, size_t e)
{
    size_t m = s;
    while (m < e && tk_u(c[m]))
        m++;
    for (size_t k = m + 1; k-- > s;) { /* U*W+: k = where W+ starts */
        if (k < e && tk_w(c[k])) {
            size_t q = k + 1;
            while (q < e && tk_w(c[q]))
                q++;
            return q;
        }
    }
    if (m > s) { /* U+W* */
        while (m < e && tk_w(c[m]))
            m++;
        return m;
    }
    return s;
}

/* Length of a contraction ('s 't 're 've 'm 'll 'd, any case) at p, or 0. */
static size_t contraction(const uint32_t *c, size_t p, size_t e)
{
    if (p + 1 >= e || c[p] != '\'')
        return 0;
    uint32_t a = c[p + 1] | 0x20, b = p + 2 < e ? (c[p + 2] | 0x20) : 0;
    if (c[p + 1] < 0x80 && (a == 's' || a == 't' || a == 'm' || a == 'd'))
        return 2;
    if (c[p + 1] < 0x80 && p + 2 < e && c[p + 2] < 0x80 &&
        ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')))
        return 3;
    return 0;
}

/* TEKKEN (digits 1, no contractions) and GPT4O (o200k: digits 1-3, a
 * contraction may follow the letters):
 * ...((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|...|\p{N}{1,3}|... */
static void split_tekken(const uint32_t *c, size_t a, size_t e, size_t digits, int contr, lens *out)
{
    const uint16_t LNW = UNICODE_F_LETTER | UNICODE_F_NUMBER | UNICODE_F_WHITESPACE;
    size_t p = a;
    while (p < e) {
        uint32_t ch = c[p];
        uint16_t f = unicode_flags(ch);
        size_t s = p, q;
        int opt = !is_crlf(ch) && !(f & (UNICODE_F_LETTER | UNICODE_F_NUMBER));
        if (opt && p + 1 < e && (q = tekken_letters(c, p + 1, e)) > p + 1) {
            p = q + (contr ? contraction(c, q, e) : 0);
        } else if (!opt && (q = tekken_letters(c, p, e)) > p) {
            p = q + (contr ? contraction(c, q, e) : 0);
        } else if (f & UNICODE_F_NUMBER) {
            for (size_t k = 0; k < digits && p < e && is_n(c[p]); k++)
                p++;
        } else {
            uint16_t f2 = ch == ' ' ? (p + 1 < e ? unicode_flags(c[p + 1]) : 0) : f;
            if (!(f2 & LNW) && f2) {
                p += ch == ' ';
                while (p < e && !(unicode_flags(c[p]) & LNW))
                    p++;
                while (p < e && (is_crlf(c[p]) || c[p] == '/'))
                    p++;
            } else {
                size_t nws = 0, last_crlf = 0;
                while (p + nws < e && is_ws(c[p + nws])) {
                    if (is_crlf(c[p + nws]))
                        last_crlf = p + nws + 1;
                    nws++;
                }
                if (last_crlf)
                    p = last_crlf;
                else if (nws > 1 && p + nws < e)
                    p += nws - 1;
                else if (nws > 0)
                    p += nws;
                else
                    p++;
            }
        }
        push(out, p - s);
    }
}

/* ---- regex-iterator steps: match_at returns the end of the match that
 * starts at p, or p when none does. */
enum step {
    S_GPT2, S_LLAMA3, S_QWEN2, S_TEKKEN, S_GPT4O, S_PUNCT_DEFAULT, S_PUNCT_FALCON, S_N_RUN, S_N_ONE, S_DIGIT3,
    S_CRLF_ONE, S_WS_L_RUN, S_WS_P_RUN, S_CJK_RUN, S_DS_LETTERS, S_DS_PUNCT, S_TRAILING_WS,
    S_PORO, S_SENTINEL, S_IMG, S_CH_WS, S_CH_PUNCT,
};

/* deepseek-llm's letter class (code point ranges, inclusive) */
static const uint32_t ds_letters[][2] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
    {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
    {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
    {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
    {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF},
    {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
    {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
    {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787},
    {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

static int ds_letter(uint32_t c)
{
    c = wc(c);
    size_t lo = 0, hi = OM_ARRAY_LEN(ds_letters);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ds_letters[mid][1] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < OM_ARRAY_LEN(ds_letters) && c >= ds_letters[lo][0];
}

/* [!-/:-~！-／：-～‘-‟　-。] */
static int ds_punct(uint32_t c)
{
    c = wc(c);
    return in(c, '!', '/') || in(c, ':', '~') || in(c, 0xFF01, 0xFF0F) || in(c, 0xFF1A, 0xFF5E) ||
           in(c, 0x2018, 0x201F) || in(c, 0x3000, 0x3002);
}

/* [一-龥ࠀ-一가-퟿] */
static int cjk(uint32_t c)
{
    c = wc(c);
    return in(c, 0x4E00, 0x9FA5) || in(c, 0x0800, 0x4E00) || in(c, 0xAC00, 0xD7FF);
}

/* [^(\s|.,!?…。，、।۔،)] */
static int poro_word(uint32_t c)
{
    if (is_ws(c))
        return 0;
    switch (c) {
    case '(': case '|': case '.': case ',': case '!': case '?': case ')': case 0x2026:
    case 0x3002: case 0xFF0C: case 0x3001: case 0x0964: case 0x06D4: case 0x060C:
        return 0;
    default:
        return 1;
    }
}

static int punct_default(uint32_t c, int falcon)
{
    switch (c) {
    case '$': case '+': case '<': case '=': case '>': case '^': case '~': case '|':
        return 1;
    case '`':
        return falcon;
    default:
        return is_p(c);
    }
}

/* \s?X+ : an optional whitespace only counts when an X follows it */
static size_t ws_run(const uint32_t *c, size_t p, size_t e, int (*x)(uint32_t))
{
    size_t q = p;
    if (is_ws(c[q]) && q + 1 < e && x(c[q + 1]))
        q++;
    if (!x(c[q]))
        return p;
    while (q < e && x(c[q]))
        q++;
    return q;
}

static size_t run(const uint32_t *c, size_t p, size_t e, int (*x)(uint32_t))
{
    while (p < e && x(c[p]))
        p++;
    return p;
}

static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static int is_pdef(uint32_t c) { return punct_default(c, 0); }
static int is_pfal(uint32_t c) { return punct_default(c, 1); }
static int is_ai(uint32_t c) { return c >= 'A' && c <= 'I'; }
static int ch_punct(uint32_t c)
{
    return is_p(c) || in(c, '!', '/') || in(c, ':', '@') || in(c, '[', '`') || in(c, '{', '~');
}

static size_t match_at(enum step st, const uint32_t *c, size_t p, size_t e)
{
    switch (st) {
    case S_PUNCT_DEFAULT: return run(c, p, e, is_pdef); /* [\p{P}\$\+<=>\^~\|]+ */
    case S_PUNCT_FALCON: return run(c, p, e, is_pfal);  /* [\p{P}\$\+<=>\^~\|`]+ */
    case S_N_RUN: return run(c, p, e, is_n);            /* \p{N}+ */
    case S_N_ONE: return is_n(c[p]) ? p + 1 : p;        /* \p{N} */
    case S_DIGIT3: /* [0-9][0-9][0-9] */
        return p + 2 < e && is_digit(c[p]) && is_digit(c[p + 1]) && is_digit(c[p + 2]) ? p + 3 : p;
    case S_CRLF_ONE: return is_crlf(c[p]) ? p + 1 : p; /* [\r\n] */
    case S_WS_L_RUN: return ws_run(c, p, e, is_l);     /* \s?\p{L}+ */
    case S_WS_P_RUN: return ws_run(c, p, e, is_p);     /* \s?\p{P}+ */
    case S_CJK_RUN: return run(c, p, e, cjk);
    case S_DS_LETTERS: return ws_run(c, p, e, ds_letter);
    case S_DS_PUNCT: return ws_run(c, p, e, ds_punct);
    case S_PORO: /*  ?[^(\s|.,!?…。，、।۔،)]+ */
        if (c[p] == ' ' && p + 1 < e && poro_word(c[p + 1]))
            return run(c, p + 1, e, poro_word);
        return run(c, p, e, poro_word);
    case S_SENTINEL: { /* <sentinel:[0-9]+> */
        static const char k[] = "<sentinel:";
        size_t q = p;
        for (size_t i = 0; k[i]; i++, q++)
            if (q >= e || c[q] != (uint32_t)k[i])
                return p;
        size_t d = run(c, q, e, is_digit);
        return d > q && d < e && c[d] == '>' ? d + 1 : p;
    }
    case S_IMG: { /* (IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z */
        static const char k[] = "IMGIMG";
        size_t q = p;
        for (size_t i = 0; k[i]; i++, q++)
            if (q >= e || c[q] != (uint32_t)k[i])
                return p;
        size_t d = run(c, q, OM_MIN(e, q + 4), is_ai);
        return d > q && d < e && c[d] == 'Z' ? d + 1 : p;
    }
    case S_CH_WS: /* ([\t\n]|    |  ) */
        if (c[p] == '\t' || c[p] == '\n')
            return p + 1;
        if (p + 3 < e && c[p] == ' ' && c[p + 1] == ' ' && c[p + 2] == ' ' && c[p + 3] == ' ')
            return p + 4;
        return p + 1 < e && c[p] == ' ' && c[p + 1] == ' ' ? p + 2 : p;
    case S_CH_PUNCT: return ch_punct(c[p]) ? p + 1 : p; /* [\p{P}!-/:-@\[-`{-~] */
    default: return p;
    }
}

static void split_step(enum step st, const uint32_t *c, size_t a, size_t e, lens *out)
{
    switch (st) {
    case S_GPT2: split_gpt2(c, a, e, out); return;
    case S_LLAMA3: split_llama3(c, a, e, 3, out); return;
    case S_QWEN2: split_llama3(c, a, e, 1, out); return;
    case S_TEKKEN: split_tekken(c, a, e, 1, 0, out); return;
    case S_GPT4O: split_tekken(c, a, e, 3, 1, out); return;
    case S_TRAILING_WS: { /* \s+$ : the chunk's trailing whitespace */
        size_t t = e;
        while (t > a && is_ws(c[t - 1]))
            t--;
        push(out, t - a);
        push(out, e - t);
        return;
    }
    default:
        break;
    }
    size_t gap = a;
    for (size_t p = a; p < e;) {
        size_t m = match_at(st, c, p, e);
        if (m > p) {
            push(out, p - gap);
            push(out, m - p);
            p = gap = m;
        } else {
            p++;
        }
    }
    push(out, e - gap);
}

static const enum step *steps_of(enum tok_pre pre, size_t *n)
{
    static const enum step def[] = {S_PUNCT_DEFAULT, S_GPT2, S_N_RUN, S_DIGIT3};
    static const enum step llama3[] = {S_LLAMA3};
    static const enum step dsl[] = {S_CRLF_ONE, S_DS_LETTERS, S_DS_PUNCT, S_TRAILING_WS, S_CJK_RUN, S_N_RUN};
    static const enum step dsc[] = {S_CRLF_ONE, S_WS_L_RUN, S_WS_P_RUN, S_CJK_RUN, S_N_ONE};
    static const enum step falcon[] = {S_PUNCT_FALCON, S_GPT2, S_DIGIT3};
    static const enum step star[] = {S_N_ONE, S_GPT2};
    static const enum step gpt2[] = {S_GPT2};
    static const enum step qwen2[] = {S_QWEN2};
    static const enum step tekken[] = {S_TEKKEN};
    static const enum step gpt4o[] = {S_GPT4O};
    static const enum step poro[] = {S_PORO};
    static const enum step viking[] = {S_PORO, S_N_ONE};
    static const enum step cham[] = {S_SENTINEL, S_IMG, S_CH_WS, S_N_ONE, S_CH_PUNCT, S_GPT2};
#define RET(a) do { *n = OM_ARRAY_LEN(a); return a; } while (0)
    switch (pre) {
    case TOK_PRE_LLAMA3: case TOK_PRE_DBRX: RET(llama3);
    case TOK_PRE_DEEPSEEK_LLM: RET(dsl);
    case TOK_PRE_DEEPSEEK_CODER: RET(dsc);
    case TOK_PRE_FALCON: RET(falcon);
    case TOK_PRE_STARCODER: RET(star);
    case TOK_PRE_GPT2: RET(gpt2);
    case TOK_PRE_QWEN2: RET(qwen2);
    case TOK_PRE_TEKKEN: RET(tekken);
    case TOK_PRE_GPT4O: RET(gpt4o);
    case TOK_PRE_PORO: RET(poro);
    case TOK_PRE_VIKING: RET(viking);
    case TOK_PRE_CHAMELEON: RET(cham);
    default: RET(def);
    }
#undef RET
}

size_t tok_pre_split(enum tok_pre pre, const uint32_t *cps, size_t n, uint32_t **out)
{
    lens cur = {0}, next = {0};
    push(&cur, n);
    size_t ns;
    const enum step *st = steps_of(pre, &ns);
    for (size_t k = 0; k < ns; k++) {
        next.n = 0;
        size_t a = 0;
        for (size_t i = 0; i < cur.n; i++) {
            split_step(st[k], cps, a, a + cur.p[i], &next);
            a += cur.p[i];
        }
        lens t = cur;
        cur = next;
        next = t;
    }
    free(next.p);
    *out = cur.p;
    return cur.n;
}
