/* base: error names, checked allocation, monotonic time, logging. */
#include "base/om.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *om_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case OM_EINVAL: return "invalid argument";
    case OM_EFORMAT: return "malformed input";
    case OM_ERANGE: return "value out of range";
    case OM_EUNSUPPORTED: return "not supported";
    case OM_ENOTFOUND: return "not found";
    case OM_ENOMEM: return "size exceeds limit";
    case OM_EIO: return "I/O error";
    case OM_EFULL: return "context full";
    case OM_ECANCELED: return "canceled";
    case OM_EAGAIN: return "try again";
    case OM_EBUSY: return "busy";
    case OM_EEXIST: return "already exists";
    case OM_ETIMEDOUT: return "timed out";
    default: break;
    }
    if (rc < 0 && rc > -4000)
        return strerror(-rc);
    return "unknown error";
}

static void oom(size_t n)
{
    om_log(OM_LOG_ERROR, "base", "out of memory allocating %zu bytes", n);
    abort();
}

void *om_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *om_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *om_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *om_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = om_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void *om_xalloc_aligned(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? (n + 63) & ~(size_t)63 : 64) != 0)
        oom(n);
    return p;
}

void om_afree(void *p)
{
    free(p);
}

uint64_t om_time_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static om_log_fn g_log_fn;
static void *g_log_ud;
static int g_log_min = -1; /* -1: not yet decided (reads OLLAMA_DEBUG) */

void om_log_set(om_log_fn fn, void *ud, enum om_log_level min_level)
{
    g_log_fn = fn;
    g_log_ud = ud;
    g_log_min = (int)min_level;
}

void om_log(enum om_log_level lvl, const char *module, const char *fmt, ...)
{
    if (g_log_min < 0) {
        const char *d = getenv("OLLAMA_DEBUG");
        g_log_min = (d && *d && strcmp(d, "0") && strcmp(d, "false")) ? OM_LOG_DEBUG : OM_LOG_WARN;
    }
    if ((int)lvl < g_log_min)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_log_fn) {
        g_log_fn(lvl, module, msg, g_log_ud);
        return;
    }
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    fprintf(stderr, "%s [%s] %s\n", names[lvl & 3], module, msg);
}

int om_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
