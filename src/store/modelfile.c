/* store: the Modelfile parser (Ollama parser/parser.go grammar).
 *
 * A character-level state machine like Ollama's, so that odd inputs parse
 * the same way: a line is blank, a comment ('#' as first non-blank), or
 * KEYWORD (letters, case-insensitive) then blanks then a value running to
 * the end of the line; a value that starts with '"' or '"""' runs until the
 * matching closing quote at the end of a line, across newlines. PARAMETER
 * takes a name ([A-Za-z0-9_]) and MESSAGE a role before the value. Control
 * characters other than tab/newline inside a line are dropped (Go's
 * strconv.IsPrint filter). A UTF-8 BOM is skipped; CR, LF and CRLF end
 * lines (CRLF counts as one line in error messages).
 *
 * The result is the /api/create request the Ollama CLI would send, with
 * FROM kept as written and parameters typed (store_option_from_text). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/om.h"
#include "store/models_int.h"

#define MF_MAX (64u << 20)

enum st { ST_NIL, ST_NAME, ST_VALUE, ST_PARAM, ST_MESSAGE, ST_COMMENT };

struct buf {
    char *p;
    size_t n, cap;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap * 2 : 128;
        while (c < b->n + n + 1)
            c *= 2;
        b->p = om_xrealloc(b->p, c);
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

struct cmd {
    char *name; /* lower-case keyword, "model" for FROM, or the parameter name */
    char *role; /* MESSAGE role */
    char *args;
    int line;
};

struct parser {
    struct cmd *cmds;
    size_t n, cap;
};

static void cmds_free(struct parser *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->cmds[i].name);
        free(p->cmds[i].role);
        free(p->cmds[i].args);
    }
    free(p->cmds);
}

static int is_space(int c)
{
    return c == ' ' || c == '\t';
}
static int is_nl(int c)
{
    return c == '\r' || c == '\n';
}
static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const char *const COMMANDS[] = {"from",      "license", "template", "system",
                                       "adapter",   "draft",   "renderer", "parser",
                                       "parameter", "message", "requires"};

static int valid_command(const char *s)
{
    for (size_t i = 0; i < OM_ARRAY_LEN(COMMANDS); i++)
        if (strcasecmp(s, COMMANDS[i]) == 0)
            return 1;
    return 0;
}

/* Trims blanks/newlines, then strips one level of "…" or """…""".
 * Returns a malloc'd string, or NULL when a quote is not closed. */
static char *unquote_trim(const char *s, size_t n)
{
    while (n && (is_space((unsigned char)*s) || is_nl((unsigned char)*s)))
        s++, n--;
    while (n && (is_space((unsigned char)s[n - 1]) || is_nl((unsigned char)s[n - 1])))
        n--;
    if (n >= 3 && memcmp(s, "\"\"\"", 3) == 0) {
        if (n >= 6 && memcmp(s + n - 3, "\"\"\"", 3) == 0)
            return strndup(s + 3, n - 6);
        return NULL;
    }
    if (n >= 1 && s[0] == '"') {
        if (n >= 2 && s[n - 1] == '"')
            return strndup(s + 1, n - 2);
        return NULL;
    }
    return strndup(s, n);
}

/* Length of the UTF-8 sequence starting at s (1 for invalid bytes). */
static size_t rune_len(const unsigned char *s, size_t n)
{
    size_t l = s[0] < 0x80         ? 1
               : (s[0] >> 5) == 6  ? 2
               : (s[0] >> 4) == 14 ? 3
               : (s[0] >> 3) == 30 ? 4
                                   : 1;
    if (l > n)
        return 1;
    for (size_t i = 1; i < l; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 1;
    return l;
}

static int parse_commands(const char *text, size_t len, struct parser *p, char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    if (len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
        i = 3;
    enum st curr = ST_NIL;
    struct buf b = {0};
    char *name = NULL, *role = NULL;
    int line = 1, cmd_line = 1, rc = 0;
    buf_put(&b, "", 0);
    while (i < len) {
        size_t rl = rune_len(s + i, len - i);
        int c = rl == 1 ? s[i] : 0x100; /* any non-ASCII rune: printable, not special */
        const char *rp = (const char *)s + i;
        if (c == '\n' || (c == '\r' && !(i + 1 < len && s[i + 1] == '\n')))
            line++;
        i += rl;
        enum st next = curr;
        int keep = 0; /* the rune goes on to the buffer check below */
        switch (curr) {
        case ST_NIL:
            if (c == '#')
                next = ST_COMMENT;
            else if (!is_space(c) && !is_nl(c))
                next = ST_NAME, keep = 1, cmd_line = line;
            break;
        case ST_NAME:
            if (is_alpha(c))
                keep = 1;
            else if (is_space(c))
                next = ST_VALUE;
            else {
                rc = om_err(err, errlen, OM_EINVAL,
                            "(line %d): command must be one of \"from\", \"license\", "
                            "\"template\", \"system\", \"adapter\", \"draft\", \"renderer\", "
                            "\"parser\", \"parameter\", \"message\", or \"requires\"",
                            cmd_line);
                goto out;
            }
            break;
        case ST_VALUE:
            keep = 1;
            if (is_nl(c) || is_space(c))
                next = ST_NIL;
            break;
        case ST_PARAM:
        case ST_MESSAGE:
            if (is_alpha(c) || (curr == ST_PARAM && ((c >= '0' && c <= '9') || c == '_')))
                keep = 1;
            else if (is_space(c))
                next = ST_VALUE;
            else {
                rc = om_err(err, errlen, OM_EINVAL, "(line %d): unexpected EOF: %s", cmd_line, b.p);
                goto out;
            }
            break;
        case ST_COMMENT:
            if (is_nl(c))
                next = ST_NIL;
            break;
        }
        if (next != curr) {
            if (curr == ST_NAME) {
                if (!valid_command(b.p)) {
                    rc = om_err(err, errlen, OM_EINVAL,
                                "(line %d): command must be one of \"from\", \"license\", "
                                "\"template\", \"system\", \"adapter\", \"draft\", "
                                "\"renderer\", \"parser\", \"parameter\", \"message\", or "
                                "\"requires\"",
                                cmd_line);
                    goto out;
                }
                for (char *q = b.p; *q; q++)
                    *q = (char)tolower((unsigned char)*q);
                free(name);
                name = NULL;
                if (strcmp(b.p, "from") == 0)
                    name = om_xstrdup("model");
                else if (strcmp(b.p, "parameter") == 0)
                    next = ST_PARAM;
                else {
                    if (strcmp(b.p, "message") == 0)
                        next = ST_MESSAGE;
                    name = om_xstrdup(b.p);
                }
            } else if (curr == ST_PARAM) {
                free(name);
                name = om_xstrdup(b.p);
            } else if (curr == ST_MESSAGE) {
                if (strcmp(b.p, "system") && strcmp(b.p, "user") && strcmp(b.p, "assistant")) {
                    rc = om_err(err, errlen, OM_EINVAL,
                                "(line %d): message role must be one of \"system\", \"user\", "
                                "or \"assistant\"",
                                cmd_line);
                    goto out;
                }
                free(role);
                role = om_xstrdup(b.p);
            } else if (curr == ST_VALUE) {
                char *v = unquote_trim(b.p, b.n);
                if (!v || is_space(c)) {
                    free(v);
                    buf_put(&b, rp, rl); /* still inside the value */
                    continue;
                }
                if (p->n == p->cap) {
                    p->cap = p->cap ? 2 * p->cap : 16;
                    p->cmds = om_xrealloc(p->cmds, p->cap * sizeof(*p->cmds));
                }
                p->cmds[p->n++] = (struct cmd){om_xstrdup(name ? name : ""), role, v, cmd_line};
                role = NULL;
            }
            b.n = 0;
            b.p[0] = '\0';
            curr = next;
        }
        if (keep && (c >= 0x20 && c != 0x7f))
            buf_put(&b, rp, rl);
    }
    if (curr == ST_VALUE) {
        char *v = unquote_trim(b.p, b.n);
        if (!v) {
            rc = om_err(err, errlen, OM_EINVAL, "(line %d): unexpected EOF: %s", cmd_line, b.p);
            goto out;
        }
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 16;
            p->cmds = om_xrealloc(p->cmds, p->cap * sizeof(*p->cmds));
        }
        p->cmds[p->n++] = (struct cmd){om_xstrdup(name ? name : ""), role, v, cmd_line};
        role = NULL;
    } else if (curr != ST_NIL && curr != ST_COMMENT) {
        rc = om_err(err, errlen, OM_EINVAL, "(line %d): unexpected EOF", cmd_line);
    }
out:
    free(b.p);
    free(name);
    free(role);
    return rc;
}

/* Go's semver.IsValid on "v" + s: vMAJOR[.MINOR[.PATCH[-pre][+build]]]. */
static int semver_valid(const char *s)
{
    int parts = 0;
    while (parts < 3) {
        if (!isdigit((unsigned char)*s))
            return 0;
        if (*s == '0' && isdigit((unsigned char)s[1]))
            return 0;
        while (isdigit((unsigned char)*s))
            s++;
        parts++;
        if (*s != '.')
            break;
        s++;
    }
    if (*s == '\0')
        return 1;
    if (parts < 3 || (*s != '-' && *s != '+'))
        return 0;
    for (s++; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '+')
            return 0;
    return 1;
}

int store_modelfile_parse(const char *text, size_t len, json_t **create_req, char *err,
                          size_t errlen)
{
    struct parser p = {0};
    *create_req = NULL;
    if (len > MF_MAX)
        return om_err(err, errlen, OM_ENOMEM, "Modelfile too large (%zu bytes)", len);
    int rc = parse_commands(text, len, &p, err, errlen);
    if (rc) {
        cmds_free(&p);
        return rc;
    }
    json_t *req = json_object(), *params = json_object(), *msgs = json_array(), *lic = json_array();
    int have_from = 0;
    for (size_t i = 0; i < p.n && !rc; i++) {
        const struct cmd *c = &p.cmds[i];
        json_t *s = json_string(c->args);
        if (!s) {
            rc = om_err(err, errlen, OM_EINVAL, "(line %d): invalid UTF-8", c->line);
            break;
        }
        if (strcmp(c->name, "model") == 0) {
            have_from = 1;
            json_object_set_new(req, "from", s);
        } else if (strcmp(c->name, "adapter") == 0) {
            json_decref(s);
            rc = om_err(err, errlen, OM_EUNSUPPORTED,
                        "(line %d): ADAPTER is not supported (LoRA adapters cannot be applied)",
                        c->line);
        } else if (strcmp(c->name, "template") == 0 || strcmp(c->name, "system") == 0 ||
                   strcmp(c->name, "renderer") == 0 || strcmp(c->name, "parser") == 0 ||
                   strcmp(c->name, "draft") == 0) {
            json_object_set_new(req, c->name, s);
        } else if (strcmp(c->name, "license") == 0) {
            json_array_append_new(lic, s);
        } else if (strcmp(c->name, "requires") == 0) {
            json_decref(s);
            const char *v = c->args[0] == 'v' ? c->args + 1 : c->args;
            if (!semver_valid(v))
                rc = om_err(err, errlen, OM_EINVAL,
                            "(line %d): requires must be a valid semver (e.g. 0.14.0)", c->line);
            else
                json_object_set_new(req, "requires", json_string(v));
        } else if (strcmp(c->name, "message") == 0) {
            json_t *m = json_object();
            json_object_set_new(m, "role", json_string(c->role ? c->role : ""));
            json_object_set_new(m, "content", s);
            json_array_append_new(msgs, m);
        } else {
            json_decref(s);
            json_t *v;
            bool is_list;
            char e2[256];
            int r2 = store_option_from_text(c->name, c->args, &v, &is_list, e2, sizeof(e2));
            if (r2 == OM_EUNSUPPORTED) {
                om_log(OM_LOG_WARN, "store", "Modelfile line %d: %s", c->line, e2);
                continue;
            }
            if (r2) {
                rc = om_err(err, errlen, OM_EINVAL, "(line %d): %s", c->line, e2);
                break;
            }
            if (is_list) {
                json_t *l = json_object_get(params, c->name);
                if (!l) {
                    l = json_array();
                    json_object_set_new(params, c->name, l);
                }
                json_array_append_new(l, v);
            } else {
                json_object_set_new(params, c->name, v);
            }
        }
    }
    cmds_free(&p);
    if (!rc && !have_from)
        rc = om_err(err, errlen, OM_EINVAL, "no FROM line");
    if (!rc && json_object_size(params))
        json_object_set(req, "parameters", params);
    if (!rc && json_array_size(lic))
        json_object_set(req, "license", lic);
    if (!rc && json_array_size(msgs))
        json_object_set(req, "messages", msgs);
    json_decref(params);
    json_decref(msgs);
    json_decref(lic);
    if (rc) {
        json_decref(req);
        return rc;
    }
    *create_req = req;
    return 0;
}
