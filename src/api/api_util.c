/* api: helpers shared by the handlers — request bodies, JSON answers, time
 * formats, keep_alive values, the per-model facts cache and capabilities. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_int.h"
#include "base/om.h"
#include "format/gguf.h"
#include "prompt/jinja.h"
#include "prompt/tmpl.h"
#include "store/models.h"

json_t *api_body_json(http_req *req)
{
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    if (!body || len == 0) {
        http_respond_error(req, 400, "missing request body");
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(body, len, 0, &je);
    if (!v) {
        char msg[256];
        snprintf(msg, sizeof msg, "invalid JSON: %s (line %d, column %d)", je.text, je.line,
                 je.column);
        http_respond_error(req, 400, msg);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        http_respond_error(req, 400, "json: cannot unmarshal a non-object into the request");
        return NULL;
    }
    return v;
}

int api_respond_json(http_req *req, int status, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!s)
        return http_respond_error(req, 500, "could not encode the response");
    int rc = http_respond(req, status, "application/json; charset=utf-8", s, strlen(s));
    free(s);
    return rc;
}

const char *api_model_field(const json_t *body)
{
    const char *m = json_string_value(json_object_get(body, "model"));
    if (!m || !*m) {
        const char *n = json_string_value(json_object_get(body, "name"));
        if (n && *n)
            return n;
    }
    return m;
}

int64_t api_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Appends ".nnnnnnnnn" with trailing zeros trimmed (nothing for 0). */
static void frac(char *p, size_t cap, long nsec)
{
    if (nsec <= 0 || cap < 12) {
        *p = 0;
        return;
    }
    snprintf(p, cap, ".%09ld", nsec);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '0')
        p[--n] = 0;
}

void api_time_utc(int64_t unix_ns, char *buf, size_t cap)
{
    time_t t = (time_t)(unix_ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char f[16];
    frac(f, sizeof f, (long)(unix_ns % 1000000000LL));
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, f);
}

void api_time_local(int64_t unix_ns, char *buf, size_t cap)
{
    time_t t = (time_t)(unix_ns / 1000000000LL);
    struct tm tm;
    localtime_r(&t, &tm);
    char f[16];
    frac(f, sizeof f, (long)(unix_ns % 1000000000LL));
    long off = tm.tm_gmtoff;
    if (off == 0) {
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, f);
        return;
    }
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02ld:%02ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, f, sign, off / 3600,
             (off % 3600) / 60);
}

int api_keep_alive(const json_t *v, int64_t *ns, bool *set, char *err, size_t errlen)
{
    *set = false;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_number(v)) {
        double sec = json_number_value(v);
        *ns = sec < 0 ? -1 : (int64_t)(sec * 1e9);
        *set = true;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int64_t d;
        if (api_parse_duration(s, &d))
            return om_err(err, errlen, OM_EINVAL, "time: missing unit in duration \"%s\"", s);
        *ns = d < 0 ? -1 : d;
        *set = true;
        return 0;
    }
    return om_err(err, errlen, OM_EINVAL, "invalid keep_alive: must be a number or a duration");
}

/* Reads the facts of one GGUF. */
static struct api_minfo *minfo_read(const char *path, char *err, size_t errlen)
{
    gguf_file *f = NULL;
    if (gguf_open(path, &f, err, errlen))
        return NULL;
    struct api_minfo *mi = om_xcalloc(1, sizeof *mi);
    mi->path = om_xstrdup(path);
    gguf_str s;
    char key[256];
    if (gguf_get_str(f, "general.architecture", &s) == 0) {
        mi->arch = om_xmalloc(s.len + 1);
        gguf_str_copy(s, mi->arch, s.len + 1);
    } else {
        mi->arch = om_xstrdup("");
    }
    if (gguf_get_str(f, "tokenizer.chat_template", &s) == 0 && s.len < (8u << 20)) {
        mi->chat_template = om_xmalloc(s.len + 1);
        gguf_str_copy(s, mi->chat_template, s.len + 1);
        struct jinja *j = NULL;
        char jerr[128];
        if (jinja_parse(mi->chat_template, s.len, &j, jerr, sizeof jerr) == 0) {
            mi->jinja_tools = jinja_uses(j, "tools");
            mi->jinja_think = jinja_uses(j, "enable_thinking") ||
                              strstr(mi->chat_template, "<think>") != NULL;
            jinja_free(j);
        }
    }
    snprintf(key, sizeof key, "%s.pooling_type", mi->arch);
    mi->embedding = gguf_find_key(f, key) >= 0 || !strcmp(mi->arch, "bert") ||
                    !strcmp(mi->arch, "nomic-bert");
    snprintf(key, sizeof key, "%s.context_length", mi->arch);
    uint32_t u32;
    uint64_t u64;
    if (gguf_get_u32(f, key, &u32) == 0)
        mi->n_ctx_train = u32;
    else if (gguf_get_u64(f, key, &u64) == 0)
        mi->n_ctx_train = (int64_t)u64;
    gguf_close(f);
    return mi;
}

const struct api_minfo *api_minfo_get(struct api_server *s, const char *path, char *err,
                                      size_t errlen)
{
    pthread_mutex_lock(&s->mu);
    for (struct api_minfo *m = s->minfo; m; m = m->next)
        if (!strcmp(m->path, path)) {
            pthread_mutex_unlock(&s->mu);
            return m;
        }
    pthread_mutex_unlock(&s->mu);
    struct api_minfo *mi = minfo_read(path, err, errlen);
    if (!mi)
        return NULL;
    pthread_mutex_lock(&s->mu);
    mi->next = s->minfo;
    s->minfo = mi;
    pthread_mutex_unlock(&s->mu);
    return mi;
}

bool api_has_capability(const json_t *caps, const char *cap)
{
    size_t i;
    json_t *v;
    json_array_foreach(caps, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), cap))
            return true;
    }
    return false;
}

static void cap_add(json_t *caps, const char *c)
{
    if (!api_has_capability(caps, c))
        json_array_append_new(caps, json_string(c));
}

json_t *api_capabilities(struct api_server *s, const struct store_model *m)
{
    json_t *caps = json_array();
    char err[256];
    const struct api_minfo *mi = m->model_path ? api_minfo_get(s, m->model_path, err, sizeof err)
                                               : NULL;
    if (mi)
        cap_add(caps, mi->embedding ? "embedding" : "completion");
    if (mi && !mi->embedding) {
        if (m->template_text) {
            struct tmpl *t = NULL;
            /* as Ollama: a template it would refuse adds nothing; thinking is
             * known when the template shows its tags around .Thinking */
            if (tmpl_parse(m->template_text, strlen(m->template_text), &t, err, sizeof err) == 0 &&
                tmpl_check_ollama(t, err, sizeof err) == 0) {
                if (tmpl_uses(t, "Tools"))
                    cap_add(caps, "tools");
                if (tmpl_uses(t, "Suffix"))
                    cap_add(caps, "insert");
                char *open = NULL, *close = NULL;
                if (tmpl_think_tags(t, &open, &close) == 0)
                    cap_add(caps, "thinking");
                free(open);
                free(close);
            }
            tmpl_free(t);
        } else if (mi->chat_template) {
            if (mi->jinja_tools)
                cap_add(caps, "tools");
            if (mi->jinja_think)
                cap_add(caps, "thinking");
        }
    }
    const json_t *extra = json_object_get(m->config, "capabilities");
    size_t i;
    json_t *v;
    json_array_foreach(extra, i, v) {
        if (json_is_string(v))
            cap_add(caps, json_string_value(v));
    }
    return caps;
}

bool api_bg_enter(struct api_server *s)
{
    pthread_mutex_lock(&s->mu);
    bool ok = !s->stopping;
    if (ok)
        s->n_bg++;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void api_bg_leave(struct api_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->n_bg--;
    pthread_cond_broadcast(&s->bg_cv);
    pthread_mutex_unlock(&s->mu);
}

int api_submit(struct api_server *s, enum sched_kind kind, const struct sched_model *m,
               const struct sched_job_cb *cb, sched_job **out)
{
    pthread_mutex_lock(&s->mu);
    int rc = s->stopping || !s->sched ? OM_ECANCELED : sched_submit(s->sched, kind, m, cb, out);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
