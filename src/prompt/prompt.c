/* prompt: Ollama's prompt building (server/prompt.go chatPrompt and
 * template/template.go Execute).
 *
 * - The template gets `{{ .Response }}` appended when it references neither
 *   .Messages nor .Response (template.Parse).
 * - Messages are collated: all system contents joined by "\n\n" become
 *   .System; consecutive messages of the same role (tool excepted) merge
 *   their contents with "\n\n", keeping the first one's other fields.
 * - "messages" style (template mentions Messages): one execution with
 *   System, Messages, Tools, Response "", Think, ThinkLevel, IsThinkSet.
 *   "legacy" style: one execution per system/user/assistant turn with
 *   System/Prompt/Response, the last one with the template cut after its
 *   first .Response, so the prompt ends where the reply begins.
 * - Fill-in-middle (suffix and a non-empty prompt): Prompt, Suffix.
 * - Truncation: the first i for which system messages before i plus
 *   messages i.. render within num_ctx tokens; the last message is always
 *   kept, even when it does not fit (the runner deals with that). */
#include "prompt/prompt_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"

#define PROMPT_MAX_MESSAGES 100000

struct render_ctx {
    const struct tmpl *t;  /* template to execute (implicit Response added) */
    struct tmpl *cut;      /* legacy last turn, built on first use */
    bool messages_mode;
    json_t *tools;
    struct prompt_msg *msgs;
    int n;
    bool think, think_set;
    const char *level;
    char *err;
    size_t errlen;
};

static void set_think(json_t *o, const struct render_ctx *c)
{
    json_object_set_new(o, "Think", json_boolean(c->think));
    json_object_set_new(o, "ThinkLevel", json_string(c->level));
    json_object_set_new(o, "IsThinkSet", json_boolean(c->think_set));
}

static int exec_append(const struct tmpl *t, json_t *data, char **acc, size_t *acclen, char *err,
                       size_t errlen)
{
    char *out = NULL;
    size_t n = 0;
    int rc = tmpl_exec(t, data, &out, &n, err, errlen);
    json_decref(data);
    if (rc < 0)
        return rc;
    if (*acclen + n > TMPL_MAX_OUTPUT) {
        free(out);
        return om_err(err, errlen, OM_ERANGE, "prompt exceeds %u bytes", TMPL_MAX_OUTPUT);
    }
    *acc = om_xrealloc(*acc, *acclen + n + 1);
    memcpy(*acc + *acclen, out, n + 1);
    *acclen += n;
    free(out);
    return 0;
}

static json_t *legacy_data(const struct render_ctx *c, const char *sys, const char *prompt,
                           const char *resp)
{
    json_t *o = json_object();
    json_object_set_new(o, "System", json_string(sys));
    json_object_set_new(o, "Prompt", json_string(prompt));
    json_object_set_new(o, "Response", json_string(resp));
    set_think(o, c);
    return o;
}

struct collated {
    const struct prompt_msg *m;
    char *content;
};

static char *join2(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = om_xmalloc(la + lb + 3);
    memcpy(s, a, la);
    memcpy(s + la, "\n\n", 2);
    memcpy(s + la + 2, b, lb + 1);
    return s;
}

/* Renders the messages idx[0..nidx) into *out. */
static int render(struct render_ctx *c, const int *idx, int nidx, char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    char *system = om_xstrdup("");
    bool have_sys = false;
    struct collated *col = om_xcalloc((size_t)(nidx ? nidx : 1), sizeof(*col));
    int ncol = 0;
    for (int k = 0; k < nidx; k++) {
        const struct prompt_msg *m = &c->msgs[idx[k]];
        if (strcmp(m->role, "system") == 0) {
            char *s = have_sys ? join2(system, m->content) : om_xstrdup(m->content);
            free(system);
            system = s;
            have_sys = true;
        }
        if (ncol > 0 && strcmp(col[ncol - 1].m->role, m->role) == 0 &&
            strcmp(m->role, "tool") != 0) {
            char *s = join2(col[ncol - 1].content, m->content);
            free(col[ncol - 1].content);
            col[ncol - 1].content = s;
        } else {
            col[ncol].m = m;
            col[ncol].content = om_xstrdup(m->content);
            ncol++;
        }
    }
    int rc = 0;
    char *acc = NULL;
    size_t acclen = 0;
    if (c->messages_mode) {
        json_t *d = json_object();
        json_object_set_new(d, "System", json_string(system));
        json_t *arr = json_array();
        for (int k = 0; k < ncol; k++)
            json_array_append_new(arr, prompt_tmpl_message(col[k].m, col[k].content));
        json_object_set_new(d, "Messages", arr);
        if (json_is_null(c->tools)) { /* templateTools(nil): empty, prints "null" */
            json_object_set_new(d, "Tools", json_array());
            json_object_set_new(d, TMPL_NIL_SLICE_KEY "Tools", json_true());
        } else {
            json_object_set(d, "Tools", c->tools);
        }
        json_object_set_new(d, "Response", json_string(""));
        set_think(d, c);
        rc = exec_append(c->t, d, &acc, &acclen, c->err, c->errlen);
    } else {
        const char *sys = "", *prompt = "", *resp = "";
        for (int k = 0; k < ncol && rc == 0; k++) {
            const char *role = col[k].m->role;
            bool flush = (strcmp(role, "system") == 0 && (*prompt || *resp)) ||
                         (strcmp(role, "user") == 0 && *resp);
            if (flush) {
                rc = exec_append(c->t, legacy_data(c, sys, prompt, resp), &acc, &acclen, c->err,
                                 c->errlen);
                sys = prompt = resp = "";
            }
            if (strcmp(role, "system") == 0)
                sys = col[k].content;
            else if (strcmp(role, "user") == 0)
                prompt = col[k].content;
            else if (strcmp(role, "assistant") == 0)
                resp = col[k].content;
        }
        if (rc == 0) {
            if (!c->cut)
                c->cut = tmpl_cut_response(c->t);
            rc = exec_append(c->cut, legacy_data(c, sys, prompt, resp), &acc, &acclen, c->err,
                             c->errlen);
        }
    }
    for (int k = 0; k < ncol; k++)
        free(col[k].content);
    free(col);
    free(system);
    if (rc < 0) {
        free(acc);
        return rc;
    }
    *out = acc ? acc : om_xstrdup("");
    *outlen = acclen;
    return 0;
}

static int render_fim(struct render_ctx *c, const char *prompt, const char *suffix, char **out,
                      size_t *outlen)
{
    json_t *d = json_object();
    json_object_set_new(d, "Prompt", json_string(prompt));
    json_object_set_new(d, "Suffix", json_string(suffix));
    json_object_set_new(d, "Response", json_string(""));
    set_think(d, c);
    *out = NULL;
    *outlen = 0;
    int rc = exec_append(c->t, d, out, outlen, c->err, c->errlen);
    if (rc == 0 && !*out)
        *out = om_xstrdup("");
    return rc;
}

int prompt_chat(const struct prompt_chat_in *in, char **out, size_t *out_len, int *n_dropped,
                char *err, size_t errlen)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (n_dropped)
        *n_dropped = 0;
    if (!in || (in->messages && !json_is_array(in->messages)))
        return om_err(err, errlen, OM_EINVAL, "messages: expected an array");
    size_t nm = in->messages ? json_array_size(in->messages) : 0;
    if (nm > PROMPT_MAX_MESSAGES)
        return om_err(err, errlen, OM_ENOMEM, "messages: %zu exceeds the limit of %d", nm,
                      PROMPT_MAX_MESSAGES);
    if (in->think_level && strcmp(in->think_level, "low") != 0 &&
        strcmp(in->think_level, "medium") != 0 && strcmp(in->think_level, "high") != 0 &&
        strcmp(in->think_level, "max") != 0)
        return om_err(err, errlen, OM_EINVAL, "invalid think value: \"%s\"", in->think_level);

    struct render_ctx c;
    memset(&c, 0, sizeof(c));
    c.err = err;
    c.errlen = errlen;
    c.msgs = om_xcalloc(nm ? nm : 1, sizeof(*c.msgs));
    c.n = (int)nm;
    int rc = 0;
    for (size_t i = 0; i < nm && rc == 0; i++)
        rc = prompt_msg_fields(json_array_get(in->messages, i), (int)i, &c.msgs[i], err, errlen);
    if (rc == 0)
        rc = prompt_tmpl_tools(in->tools, &c.tools, err, errlen);
    struct tmpl *deflt = NULL, *with_resp = NULL;
    const struct tmpl *base = in->tmpl;
    if (rc == 0 && !base) {
        rc = tmpl_parse("{{ .Prompt }}", 13, &deflt, err, errlen);
        base = deflt;
    }
    if (rc < 0)
        goto done;
    /* ThinkValue: Bool() and String() */
    c.think_set = in->think >= 0 || in->think_level != NULL;
    c.think = in->think_level != NULL || in->think > 0;
    c.level = in->think_level ? in->think_level : in->think > 0 ? "medium" : "";
    c.messages_mode = tmpl_uses(base, "Messages");
    if (!c.messages_mode && !tmpl_uses(base, "Response")) {
        with_resp = tmpl_with_response(base);
        c.t = with_resp;
    } else {
        c.t = base;
    }

    /* fill-in-middle: the prompt is the last user message */
    const char *fim_prompt = "";
    for (int i = c.n - 1; i >= 0; i--)
        if (strcmp(c.msgs[i].role, "user") == 0) {
            fim_prompt = c.msgs[i].content;
            break;
        }
    char *p = NULL;
    size_t plen = 0;
    if (in->suffix && in->suffix[0] && fim_prompt[0]) {
        rc = render_fim(&c, fim_prompt, in->suffix, &p, &plen);
        goto finish;
    }

    int *idx = om_xmalloc((nm ? nm : 1) * sizeof(int));
    int cur = 0, last = c.n - 1;
    bool can_count = in->truncate && in->count_tokens && in->num_ctx > 0;
    for (int i = 0; can_count && i <= last; i++) {
        int k = 0;
        for (int j = 0; j < i; j++)
            if (strcmp(c.msgs[j].role, "system") == 0)
                idx[k++] = j;
        for (int j = i; j <= last; j++)
            idx[k++] = j;
        rc = render(&c, idx, k, &p, &plen);
        if (rc < 0)
            break;
        int ntok = in->count_tokens(in->count_ud, p, plen);
        if (ntok < 0) {
            rc = om_err(err, errlen, ntok, "counting prompt tokens failed: %s", om_strerror(ntok));
            break;
        }
        cur = i;
        if (ntok <= in->num_ctx || i == last)
            break; /* p is the prompt to use */
        free(p);
        p = NULL;
    }
    if (rc == 0 && !p) {
        for (int j = 0; j <= last; j++)
            idx[j] = j;
        rc = render(&c, idx, c.n, &p, &plen);
        cur = 0;
    }
    if (rc == 0 && n_dropped)
        for (int j = 0; j < cur; j++)
            if (strcmp(c.msgs[j].role, "system") != 0)
                (*n_dropped)++;
    free(idx);
finish:
    if (rc == 0) {
        *out = p;
        if (out_len)
            *out_len = plen;
    } else {
        free(p);
        if (n_dropped)
            *n_dropped = 0;
    }
done:
    tmpl_free(c.cut);
    tmpl_free(with_resp);
    tmpl_free(deflt);
    json_decref(c.tools);
    free(c.msgs);
    return rc;
}

json_t *prompt_generate_messages(const char *system, const char *model_system,
                                 const json_t *model_messages, bool has_context,
                                 const char *prompt)
{
    json_t *a = json_array();
    const char *sys = system && system[0] ? system : model_system;
    if (sys && sys[0])
        json_array_append_new(a, json_pack("{s:s,s:s}", "role", "system", "content", sys));
    if (!has_context && json_is_array(model_messages)) {
        size_t i;
        json_t *m;
        json_array_foreach(model_messages, i, m) json_array_append(a, m);
    }
    json_array_append_new(a,
                          json_pack("{s:s,s:s}", "role", "user", "content", prompt ? prompt : ""));
    return a;
}
