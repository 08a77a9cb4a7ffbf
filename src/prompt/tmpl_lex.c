/* prompt: lexer of the Go text/template language.
 *
 * Splits a template into text and action tokens the way Go's
 * text/template/parse lexer does: "{{- " trims the whitespace before the
 * action, " -}}" the whitespace after it (space, \t, \r, \n), comments
 * ({{ slash-star ... star-slash }}) vanish with their trim markers, and
 * empty text is never emitted. Inside actions it yields operands, keywords and punctuation;
 * whitespace is a token (it separates command arguments). Tokens point into
 * the source; nothing is unescaped here. */
#include "prompt/tmpl_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_alnum_(char c)
{
    return c == '_' || isalnum((unsigned char)c) || (unsigned char)c >= 0x80;
}

void tmpl_lex_init(struct tlex *lx, const char *src, size_t len)
{
    memset(lx, 0, sizeof(*lx));
    lx->src = src;
    lx->len = len;
}

static int tok(struct tlex *lx, struct ttok *t, enum ttok_type type, size_t start, size_t end)
{
    t->type = type;
    t->pos = (uint32_t)start;
    t->s = lx->src + start;
    t->n = end - start;
    return 0;
}

static int tok_err(struct tlex *lx, struct ttok *t, size_t at, const char *msg)
{
    t->type = TT_ERROR;
    t->pos = (uint32_t)at;
    t->s = msg;
    t->n = strlen(msg);
    lx->done = true;
    return -1;
}

static bool has_left_trim(const char *s, size_t n)
{
    return n >= 2 && s[0] == '-' && is_space(s[1]);
}
static bool has_right_trim(const char *s, size_t n)
{
    return n >= 4 && is_space(s[0]) && s[1] == '-' && s[2] == '}' && s[3] == '}';
}

/* Text up to the next "{{" (or EOF). */
static int lex_text(struct tlex *lx, struct ttok *t)
{
    size_t start = lx->pos;
    const char *p = NULL;
    for (size_t i = lx->pos; i + 1 < lx->len; i++)
        if (lx->src[i] == '{' && lx->src[i + 1] == '{') {
            p = lx->src + i;
            break;
        }
    size_t end = p ? (size_t)(p - lx->src) : lx->len;
    size_t tend = end;
    if (p && has_left_trim(p + 2, lx->len - end - 2))
        while (tend > start && is_space(lx->src[tend - 1]))
            tend--;
    if (lx->trim_next) {
        while (start < tend && is_space(lx->src[start]))
            start++;
        lx->trim_next = false;
    }
    lx->pos = end;
    lx->in_action = p != NULL;
    lx->at_left = p != NULL;
    if (!p && end == lx->len && tend <= start) {
        lx->done = true;
        return tok(lx, t, TT_EOF, lx->len, lx->len);
    }
    if (tend > start)
        return tok(lx, t, TT_TEXT, start, tend);
    return 1; /* nothing to emit */
}

/* "{{", optional trim marker, and a comment if one follows. */
static int lex_left(struct tlex *lx, struct ttok *t)
{
    size_t start = lx->pos;
    lx->pos += 2;
    lx->at_left = false;
    bool trim = has_left_trim(lx->src + lx->pos, lx->len - lx->pos);
    if (trim)
        lx->pos += 1;
    size_t after = lx->pos;
    while (after < lx->len && is_space(lx->src[after]) && trim)
        after++;
    if (after + 1 < lx->len && lx->src[after] == '/' && lx->src[after + 1] == '*') {
        /* comment: must end with "*\/" then "}}" or " -}}" */
        const char *e = NULL;
        for (size_t i = after + 2; i + 1 < lx->len; i++)
            if (lx->src[i] == '*' && lx->src[i + 1] == '/') {
                e = lx->src + i;
                break;
            }
        if (!e)
            return tok_err(lx, t, start, "unclosed comment");
        size_t k = (size_t)(e - lx->src) + 2;
        bool rtrim = has_right_trim(lx->src + k, lx->len - k);
        if (rtrim)
            k += 2;
        if (k + 1 >= lx->len || lx->src[k] != '}' || lx->src[k + 1] != '}')
            return tok_err(lx, t, start, "comment ends before closing delimiter");
        lx->pos = k + 2;
        lx->in_action = false;
        lx->trim_next = rtrim;
        return 1;
    }
    lx->paren = 0;
    return tok(lx, t, TT_LDELIM, start, lx->pos);
}

static int lex_number(struct tlex *lx, struct ttok *t)
{
    size_t start = lx->pos, i = lx->pos;
    if (lx->src[i] == '+' || lx->src[i] == '-')
        i++;
    /* scan a loose number shape; the parser validates it */
    while (i < lx->len) {
        char c = lx->src[i];
        if (is_alnum_(c) || c == '.' || c == '_')
            i++;
        else if ((c == '+' || c == '-') && (lx->src[i - 1] == 'e' || lx->src[i - 1] == 'E' ||
                                            lx->src[i - 1] == 'p' || lx->src[i - 1] == 'P'))
            i++;
        else
            break;
    }
    lx->pos = i;
    return tok(lx, t, TT_NUMBER, start, i);
}

static int lex_quote(struct tlex *lx, struct ttok *t, char q)
{
    size_t start = lx->pos, i = lx->pos + 1;
    for (;;) {
        if (i >= lx->len)
            return tok_err(lx, t, start, q == '"' ? "unterminated quoted string"
                                                  : q == '`' ? "unterminated raw quoted string"
                                                             : "unterminated character constant");
        char c = lx->src[i];
        if (c == '\\' && q != '`') {
            i += 2;
            continue;
        }
        if (c == '\n' && q != '`')
            return tok_err(lx, t, start, q == '"' ? "unterminated quoted string"
                                                  : "unterminated character constant");
        if (c == q)
            break;
        i++;
    }
    lx->pos = i + 1;
    return tok(lx, t, q == '"' ? TT_STRING : q == '`' ? TT_RAWSTRING : TT_CHAR, start, i + 1);
}

/* Go's atTerminator: what may directly follow a word in an action. */
static bool at_terminator(const struct tlex *lx)
{
    if (lx->pos >= lx->len)
        return true;
    char c = lx->src[lx->pos];
    if (is_space(c) || c == '.' || c == ',' || c == '|' || c == ':' || c == ')' || c == '(')
        return true;
    return lx->pos + 1 < lx->len && c == '}' && lx->src[lx->pos + 1] == '}';
}

/* "bad character U+0024 '$'" at the current position. */
static int bad_char(struct tlex *lx, struct ttok *t)
{
    uint32_t cp;
    size_t n = tmpl_utf8_get(lx->src + lx->pos, lx->len - lx->pos, &cp);
    snprintf(lx->msg, sizeof(lx->msg), "bad character U+%04X '%.*s'", cp, (int)n,
             lx->src + lx->pos);
    return tok_err(lx, t, lx->pos, lx->msg);
}

static int lex_inside(struct tlex *lx, struct ttok *t)
{
    size_t p = lx->pos;
    if (p >= lx->len)
        return tok_err(lx, t, p, "unclosed action");
    const char *s = lx->src + p;
    size_t n = lx->len - p;
    if (has_right_trim(s, n) || (n >= 2 && s[0] == '}' && s[1] == '}')) {
        if (lx->paren > 0)
            return tok_err(lx, t, p, "unclosed left paren");
        bool trim = s[0] != '}';
        lx->pos = p + (trim ? 4 : 2);
        lx->in_action = false;
        lx->trim_next = trim;
        return tok(lx, t, TT_RDELIM, p, lx->pos);
    }
    char c = s[0];
    if (is_space(c)) {
        size_t i = p;
        while (i < lx->len && is_space(lx->src[i]) && !has_right_trim(lx->src + i, lx->len - i))
            i++;
        lx->pos = i;
        return tok(lx, t, TT_SPACE, p, i);
    }
    if (c == '=') {
        lx->pos = p + 1;
        return tok(lx, t, TT_ASSIGN, p, p + 1);
    }
    if (c == ':') {
        if (n < 2 || s[1] != '=')
            return tok_err(lx, t, p, "expected :=");
        lx->pos = p + 2;
        return tok(lx, t, TT_DECLARE, p, p + 2);
    }
    if (c == '|') {
        lx->pos = p + 1;
        return tok(lx, t, TT_PIPE, p, p + 1);
    }
    if (c == ',') {
        lx->pos = p + 1;
        return tok(lx, t, TT_COMMA, p, p + 1);
    }
    if (c == '"' || c == '`' || c == '\'')
        return lex_quote(lx, t, c);
    if (c == '(') {
        lx->paren++;
        lx->pos = p + 1;
        return tok(lx, t, TT_LPAREN, p, p + 1);
    }
    if (c == ')') {
        lx->paren--;
        if (lx->paren < 0)
            return tok_err(lx, t, p, "unexpected right paren");
        lx->pos = p + 1;
        return tok(lx, t, TT_RPAREN, p, p + 1);
    }
    if (c == '$' || c == '.') {
        if (c == '.' && n > 1 && isdigit((unsigned char)s[1]))
            return lex_number(lx, t);
        size_t i = p + 1;
        while (i < lx->len && is_alnum_(lx->src[i]))
            i++;
        lx->pos = i;
        if (c == '.' && i == p + 1)
            return tok(lx, t, TT_DOT, p, i);
        if (!at_terminator(lx))
            return bad_char(lx, t);
        return tok(lx, t, c == '$' ? TT_VARIABLE : TT_FIELD, p, i);
    }
    if (isdigit((unsigned char)c) ||
        ((c == '+' || c == '-') && n > 1 && isdigit((unsigned char)s[1])))
        return lex_number(lx, t);
    if (is_alnum_(c)) {
        size_t i = p;
        while (i < lx->len && is_alnum_(lx->src[i]))
            i++;
        lx->pos = i;
        if (!at_terminator(lx))
            return bad_char(lx, t);
        return tok(lx, t, TT_IDENT, p, i);
    }
    return bad_char(lx, t);
}

int tmpl_lex_next(struct tlex *lx, struct ttok *t)
{
    for (;;) {
        if (lx->done)
            return tok(lx, t, TT_EOF, lx->len, lx->len);
        int rc;
        if (lx->at_left)
            rc = lex_left(lx, t);
        else if (lx->in_action)
            rc = lex_inside(lx, t);
        else
            rc = lex_text(lx, t);
        if (rc <= 0)
            return rc;
    }
}
