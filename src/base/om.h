/* base: error codes, checked allocation, time, and the log callback shared by
 * every module. Nothing here does I/O except the default log sink (stderr). */
#ifndef OM_H
#define OM_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Our error codes are below -4000 so they never collide with -errno. */
enum {
    OM_EINVAL = -4001,      /* bad argument */
    OM_EFORMAT = -4002,     /* malformed or hostile file / message */
    OM_ERANGE = -4003,      /* value out of range */
    OM_EUNSUPPORTED = -4004,/* valid but not supported (arch, tensor type) */
    OM_ENOTFOUND = -4005,   /* key, tensor or file missing */
    OM_ENOMEM = -4006,      /* a size from outside exceeds our bound */
    OM_EIO = -4007,         /* I/O failure */
    OM_EFULL = -4008,       /* context / cache full */
    OM_ECANCELED = -4009,
    OM_EAGAIN = -4010,      /* try again later (buffer full) */
    OM_EBUSY = -4011,       /* queue full / resource busy */
    OM_EEXIST = -4012,      /* already exists */
    OM_ETIMEDOUT = -4013,
};

/* Returns a static string naming rc (an OM_E* code or -errno). */
const char *om_strerror(int rc);

/* Allocation for internal sizes: aborts with a log line on failure (never
 * for sizes read from outside input; bound those first). */
void *om_xmalloc(size_t n);
void *om_xcalloc(size_t n, size_t size);
void *om_xrealloc(void *p, size_t n);
char *om_xstrdup(const char *s);
/* 64-byte aligned allocation for tensors/scratch; free with om_afree. */
void *om_xalloc_aligned(size_t n);
void om_afree(void *p);

/* Monotonic clock in nanoseconds. */
uint64_t om_time_ns(void);

/* Logging: levels and a replaceable sink. The library never prints by
 * itself except through this sink (default: stderr for WARN and ERROR, and
 * everything when OLLAMA_DEBUG is set). */
enum om_log_level { OM_LOG_DEBUG = 0, OM_LOG_INFO = 1, OM_LOG_WARN = 2, OM_LOG_ERROR = 3 };
typedef void (*om_log_fn)(enum om_log_level lvl, const char *module, const char *msg, void *ud);
void om_log_set(om_log_fn fn, void *ud, enum om_log_level min_level);
void om_log(enum om_log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf into an error buffer (err may be NULL); returns rc for chaining:
 * `return om_err(err, errlen, OM_EFORMAT, "tensor %s: ...", name);` */
int om_err(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define OM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define OM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define OM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
