/* cli: pure text helpers of the server verbs (see client_fmt.h). Every
 * format here reproduces what Ollama's Go CLI prints (format/, progress/,
 * envconfig.Host, tablewriter v0.0.5 as cmd/cmd.go configures it), so that
 * scripts parsing `ollama list` or `ollama ps` work on our output too. */
#include "cli/client_fmt.h"

#include "base/om.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- OLLAMA_HOST --------------------------------------------------------- */

static int all_digits(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

int cli_host_parse(const char *s, char *base, size_t n)
{
    char buf[512];
    if (!s)
        s = "";
    /* envconfig.Var: trim spaces, then quotes; Host(): trim spaces again */
    size_t a = 0, b = strlen(s);
    while (a < b && isspace((unsigned char)s[a]))
        a++;
    while (b > a && isspace((unsigned char)s[b - 1]))
        b--;
    while (a < b && (s[a] == '"' || s[a] == '\''))
        a++;
    while (b > a && (s[b - 1] == '"' || s[b - 1] == '\''))
        b--;
    while (a < b && isspace((unsigned char)s[a]))
        a++;
    while (b > a && isspace((unsigned char)s[b - 1]))
        b--;
    if (b - a >= sizeof buf)
        b = a + sizeof buf - 1;
    memcpy(buf, s + a, b - a);
    buf[b - a] = 0;

    const char *scheme = "http", *def_port = "11434";
    char *hp = buf;
    char *sep = strstr(buf, "://");
    if (!sep) {
        if (!strcmp(buf, "ollama.com"))
            return snprintf(base, n, "https://ollama.com:443") < (int)n ? 0 : OM_ERANGE;
    } else {
        *sep = 0;
        scheme = buf;
        hp = sep + 3;
        if (!strcmp(scheme, "http"))
            def_port = "80";
        else if (!strcmp(scheme, "https"))
            def_port = "443";
    }
    char *path = strchr(hp, '/');
    if (path)
        *path++ = 0;

    /* net.SplitHostPort: "host:port" or "[v6]:port"; anything else fails */
    char host[sizeof buf] = "", port[32] = "";
    int split_ok = 0;
    if (hp[0] == '[') {
        char *rb = strchr(hp, ']');
        if (rb && rb[1] == ':' && !strchr(rb + 2, ':') && (size_t)(rb - hp - 1) < sizeof host &&
            strlen(rb + 2) < sizeof port) {
            memcpy(host, hp + 1, (size_t)(rb - hp - 1));
            host[rb - hp - 1] = 0;
            strcpy(port, rb + 2);
            split_ok = 1;
        }
    } else {
        char *c = strchr(hp, ':');
        if (c && !strchr(c + 1, ':') && (size_t)(c - hp) < sizeof host && strlen(c + 1) < sizeof port) {
            memcpy(host, hp, (size_t)(c - hp));
            host[c - hp] = 0;
            strcpy(port, c + 1);
            split_ok = 1;
        }
    }
    if (!split_ok) {
        snprintf(port, sizeof port, "%s", def_port);
        size_t l = strlen(hp);
        if (l >= 2 && hp[0] == '[' && hp[l - 1] == ']') { /* bare [v6] */
            hp[l - 1] = 0;
            hp++;
        }
        snprintf(host, sizeof host, "%s", *hp ? hp : "127.0.0.1");
    }
    if (!all_digits(port, strlen(port)) || strlen(port) > 5 || atol(port) > 65535)
        snprintf(port, sizeof port, "%s", def_port);
    /* ConnectableHost: unspecified bind addresses become loopback */
    if (!host[0] || !strcmp(host, "0.0.0.0"))
        strcpy(host, "127.0.0.1");
    else if (!strcmp(host, "::") || !strcmp(host, "0:0:0:0:0:0:0:0"))
        strcpy(host, "::1");
    int v6 = strchr(host, ':') != NULL;
    int w = snprintf(base, n, "%s://%s%s%s:%s%s%s", scheme, v6 ? "[" : "", host, v6 ? "]" : "",
                     port, path && *path ? "/" : "", path && *path ? path : "");
    if (w < 0 || (size_t)w >= n)
        return OM_ERANGE;
    /* no trailing slash: request paths start with one */
    while (w > 0 && base[w - 1] == '/')
        base[--w] = 0;
    return 0;
}

/* ---- sizes, numbers ------------------------------------------------------- */

void cli_fmt_bytes(int64_t b, char *out, size_t n)
{
    double v;
    const char *unit;
    if (b >= 1000000000000LL) {
        v = (double)b / 1e12;
        unit = "TB";
    } else if (b >= 1000000000LL) {
        v = (double)b / 1e9;
        unit = "GB";
    } else if (b >= 1000000LL) {
        v = (double)b / 1e6;
        unit = "MB";
    } else if (b >= 1000LL) {
        v = (double)b / 1e3;
        unit = "KB";
    } else {
        snprintf(out, n, "%lld B", (long long)b);
        return;
    }
    if (v >= 10 || v == trunc(v))
        snprintf(out, n, "%d %s", (int)v, unit);
    else
        snprintf(out, n, "%.1f %s", v, unit);
}

void cli_fmt_number(uint64_t v, char *out, size_t n)
{
    if (v >= 1000000000ULL) {
        double x = (double)v / 1e9;
        snprintf(out, n, x == floor(x) ? "%.0fB" : "%.1fB", x);
    } else if (v >= 1000000ULL) {
        double x = (double)v / 1e6;
        snprintf(out, n, x == floor(x) ? "%.0fM" : "%.2fM", x);
    } else if (v >= 1000ULL) {
        snprintf(out, n, "%.0fK", (double)v / 1e3);
    } else {
        snprintf(out, n, "%llu", (unsigned long long)v);
    }
}

/* ---- durations ------------------------------------------------------------ */

/* Writes "<int>[.<frac without trailing zeros>]" of v / 10^prec. */
static int fmt_frac(char *out, size_t n, uint64_t v, int prec)
{
    if (prec < 0)
        prec = 0;
    if (prec > 18)
        prec = 18; /* 10^18 fits in 64 bits; callers use 3..9 */
    uint64_t p = 1;
    for (int i = 0; i < prec; i++)
        p *= 10;
    uint64_t ip = v / p, fp = v % p;
    if (!fp)
        return snprintf(out, n, "%llu", (unsigned long long)ip);
    char digits[24];
    snprintf(digits, sizeof digits, "%0*llu", prec & 31, (unsigned long long)fp);
    size_t l = strlen(digits);
    while (l > 0 && digits[l - 1] == '0')
        digits[--l] = 0;
    return snprintf(out, n, "%llu.%s", (unsigned long long)ip, digits);
}

void cli_fmt_go_duration(int64_t ns, char *out, size_t n)
{
    if (n == 0)
        return;
    const char *sign = ns < 0 ? "-" : "";
    uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    char num[64];
    if (u == 0) {
        snprintf(out, n, "0s");
    } else if (u < 1000ULL) {
        snprintf(out, n, "%s%lluns", sign, (unsigned long long)u);
    } else if (u < 1000000ULL) {
        fmt_frac(num, sizeof num, u, 3);
        snprintf(out, n, "%s%sµs", sign, num);
    } else if (u < 1000000000ULL) {
        fmt_frac(num, sizeof num, u, 6);
        snprintf(out, n, "%s%sms", sign, num);
    } else {
        uint64_t secs_ns = u % 60000000000ULL, mins = u / 60000000000ULL;
        uint64_t h = mins / 60, m = mins % 60;
        fmt_frac(num, sizeof num, secs_ns, 9);
        if (h)
            snprintf(out, n, "%s%lluh%llum%ss", sign, (unsigned long long)h,
                     (unsigned long long)m, num);
        else if (m)
            snprintf(out, n, "%s%llum%ss", sign, (unsigned long long)m, num);
        else
            snprintf(out, n, "%s%ss", sign, num);
    }
}

void cli_fmt_eta(int64_t ns, char *out, size_t n)
{
    const int64_t hour = 3600000000000LL, sec = 1000000000LL;
    if (ns >= 100 * hour) {
        snprintf(out, n, "99h+");
    } else if (ns >= hour) {
        snprintf(out, n, "%dh%dm", (int)(ns / hour), (int)(ns / (60 * sec)) % 60);
    } else {
        int64_t r = ns < 0 ? -((-ns + sec / 2) / sec) : (ns + sec / 2) / sec; /* half away from 0 */
        cli_fmt_go_duration(r * sec, out, n);
    }
}

/* format.humanDuration of a non-negative number of seconds. */
static void human_duration(double d, char *out, size_t n)
{
    long seconds = (long)d;
    if (seconds < 1) {
        snprintf(out, n, "Less than a second");
        return;
    }
    if (seconds == 1) {
        snprintf(out, n, "1 second");
        return;
    }
    if (seconds < 60) {
        snprintf(out, n, "%ld seconds", seconds);
        return;
    }
    long minutes = (long)(d / 60);
    if (minutes == 1) {
        snprintf(out, n, "About a minute");
        return;
    }
    if (minutes < 60) {
        snprintf(out, n, "%ld minutes", minutes);
        return;
    }
    long hours = (long)round(d / 3600);
    if (hours == 1)
        snprintf(out, n, "About an hour");
    else if (hours < 48)
        snprintf(out, n, "%ld hours", hours);
    else if (hours < 24 * 7 * 2)
        snprintf(out, n, "%ld days", hours / 24);
    else if (hours < 24 * 30 * 2)
        snprintf(out, n, "%ld weeks", hours / 24 / 7);
    else if (hours < 24 * 365 * 2)
        snprintf(out, n, "%ld months", hours / 24 / 30);
    else
        snprintf(out, n, "%ld years", (long)(d / 3600) / 24 / 365);
}

void cli_fmt_time_rel(double t, double now, const char *zero, char *out, size_t n)
{
    if (t == 0) {
        snprintf(out, n, "%s", zero);
        return;
    }
    double delta = now - t;
    if ((long)(delta / 3600) / 24 / 365 < -20) {
        snprintf(out, n, "Forever");
        return;
    }
    char d[64];
    human_duration(delta < 0 ? -delta : delta, d, sizeof d);
    snprintf(out, n, "%s %s", d, delta < 0 ? "from now" : "ago");
}

int cli_parse_go_duration(const char *s, int64_t *ns, char *err, size_t errlen)
{
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!strcmp(p, "0")) {
        *ns = 0;
        return 0;
    }
    if (!*p)
        return om_err(err, errlen, OM_EINVAL, "time: invalid duration \"%s\"", s);
    double total = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return om_err(err, errlen, OM_EINVAL, "time: invalid duration \"%s\"", s);
        const char *q = p;
        double v = 0, scale = 1;
        int digits = 0, dot = 0;
        for (; isdigit((unsigned char)*q) || (*q == '.' && !dot); q++) {
            if (*q == '.') {
                dot = 1;
                continue;
            }
            digits++;
            if (dot)
                v += (*q - '0') * (scale /= 10);
            else
                v = v * 10 + (*q - '0');
        }
        if (!digits)
            return om_err(err, errlen, OM_EINVAL, "time: invalid duration \"%s\"", s);
        static const struct {
            const char *u;
            double mul;
        } units[] = {{"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"μs", 1e3}, {"ms", 1e6},
                     {"s", 1e9}, {"m", 6e10}, {"h", 3.6e12}};
        size_t ul = 0;
        while (q[ul] && !isdigit((unsigned char)q[ul]) && q[ul] != '.')
            ul++;
        if (!ul)
            return om_err(err, errlen, OM_EINVAL, "time: missing unit in duration \"%s\"", s);
        double mul = 0;
        for (size_t i = 0; i < OM_ARRAY_LEN(units); i++)
            if (strlen(units[i].u) == ul && !memcmp(units[i].u, q, ul))
                mul = units[i].mul;
        if (mul == 0)
            return om_err(err, errlen, OM_EINVAL, "time: unknown unit \"%.*s\" in duration \"%s\"",
                          (int)ul, q, s);
        total += v * mul;
        if (total > 9.2e18)
            return om_err(err, errlen, OM_EINVAL, "time: invalid duration \"%s\"", s);
        p = q + ul;
    }
    *ns = (int64_t)llround(neg ? -total : total);
    return 0;
}

int cli_parse_rfc3339(const char *s, double *t)
{
    int Y, M, D, h, m, sec, used = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &used) != 6 ||
        used != 19)
        return OM_EFORMAT;
    const char *p = s + used;
    double frac = 0, scale = 1;
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++)
            frac += (*p - '0') * (scale /= 10);
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, u2 = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &u2) != 2 || u2 != 5)
            return OM_EFORMAT;
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return OM_EFORMAT;
    }
    if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return OM_EFORMAT;
    if (Y <= 1) {
        *t = 0;
        return 0;
    }
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
                    .tm_min = m, .tm_sec = sec};
    *t = (double)timegm(&tm) - (double)off + frac;
    return 0;
}
