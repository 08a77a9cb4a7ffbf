/* cinv: this node's inventory figures and the JSON of the inventory report
 * (docs/cluster.md). Reading a peer's report is the untrusted side: every
 * field is type-checked and bounded, arrays are length-checked before they
 * are walked, and a bad report leaves *out zeroed with the field named in
 * err. Prefix hashes travel as 16 lower-case hex digits (JSON numbers lose
 * precision above 2^53). */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/om.h"
#include "cluster/cinv.h"

#define CINV_MAX_COUNT 1000000
#define CINV_MAX_CORES 65536
#define CINV_MAX_RAM (1ll << 60)
#define CINV_MAX_TPS 1e9

/* MemTotal and MemAvailable (bytes). Returns 0, or OM_EIO. */
static int read_meminfo(int64_t *total, int64_t *avail)
{
    *total = *avail = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return OM_EIO;
    char line[256];
    bool got_t = false, got_a = false;
    while ((!got_t || !got_a) && fgets(line, sizeof(line), f)) {
        unsigned long long kb;
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1 && kb < (1ull << 50)) {
            *total = (int64_t)kb * 1024;
            got_t = true;
        } else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1 && kb < (1ull << 50)) {
            *avail = (int64_t)kb * 1024;
            got_a = true;
        }
    }
    fclose(f);
    if (!got_t || !got_a)
        return OM_EIO;
    if (*avail > *total)
        *avail = *total;
    return 0;
}

int cinv_read(sched *s, struct cinv *out)
{
    memset(out, 0, sizeof(*out));
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    out->cores = nc >= 1 && nc <= CINV_MAX_CORES ? (int)nc : 1;
    int rc = read_meminfo(&out->ram_total, &out->ram_free);
    if (!s)
        return rc;

    struct sched_loaded l[CINV_MAX_LOADED];
    int n = sched_list(s, l, CINV_MAX_LOADED);
    for (int i = 0; i < n; i++) {
        /* sched_loaded.name (< 256 bytes) always fits; it is the path when the job had no name */
        size_t len = strnlen(l[i].name, sizeof(l[i].name) - 1);
        memcpy(out->loaded[i], l[i].name, len);
        out->loaded[i][len] = '\0';
        out->active += l[i].active;
        out->queued += l[i].queued;
        if (l[i].tokens_per_s > 0 && isfinite(l[i].tokens_per_s))
            out->tokens_per_s += l[i].tokens_per_s;
    }
    out->n_loaded = n;
    out->parallel = sched_parallel(s);
    out->n_prefixes = sched_prefixes(s, NULL, out->prefixes, CINV_MAX_PREFIXES);
    return rc;
}

static json_t *hex_str(uint64_t v)
{
    char b[17];
    snprintf(b, sizeof(b), "%016" PRIx64, v);
    return json_string(b);
}

json_t *cinv_json(const struct cinv *v)
{
    json_t *o = json_object();
    json_t *loaded = json_array(), *pre = json_array();
    for (int i = 0; i < v->n_loaded && i < CINV_MAX_LOADED; i++)
        json_array_append_new(loaded, json_string(v->loaded[i]));
    for (int i = 0; i < v->n_prefixes && i < CINV_MAX_PREFIXES; i++)
        json_array_append_new(pre, hex_str(v->prefixes[i]));
    json_object_set_new(o, "cores", json_integer(v->cores));
    json_object_set_new(o, "ram_total", json_integer(v->ram_total));
    json_object_set_new(o, "ram_free", json_integer(v->ram_free));
    json_object_set_new(o, "gpu", json_null());
    json_object_set_new(o, "loaded", loaded);
    json_object_set_new(o, "active", json_integer(v->active));
    json_object_set_new(o, "queued", json_integer(v->queued));
    json_object_set_new(o, "parallel", json_integer(v->parallel));
    json_object_set_new(o, "tokens_per_s",
                        json_real(isfinite(v->tokens_per_s) ? v->tokens_per_s : 0));
    json_object_set_new(o, "prefixes", pre);
    return o;
}

/* An optional integer field in [lo, hi]. */
static int get_int(const json_t *r, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   char *err, size_t errlen)
{
    const json_t *v = json_object_get(r, key);
    *out = 0;
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return om_err(err, errlen, OM_EFORMAT, "report: %s must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return om_err(err, errlen, OM_EFORMAT, "report: %s %" JSON_INTEGER_FORMAT " out of range",
                      key, x);
    *out = (int64_t)x;
    return 0;
}

/* 16 hex digits, not all zero. */
static int parse_hex64(const char *s, size_t len, uint64_t *out)
{
    if (len != 16)
        return OM_EFORMAT;
    uint64_t v = 0;
    for (size_t i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
        if (d < 0)
            return OM_EFORMAT;
        v = v << 4 | (uint64_t)d;
    }
    if (!v)
        return OM_EFORMAT;
    *out = v;
    return 0;
}

static int parse_fields(const json_t *r, struct cinv *out, char *err, size_t errlen)
{
    if (!json_is_object(r))
        return om_err(err, errlen, OM_EFORMAT, "report: not a JSON object");
    int64_t x;
    int rc;
    if ((rc = get_int(r, "cores", 0, CINV_MAX_CORES, &x, err, errlen)))
        return rc;
    out->cores = (int)x;
    if ((rc = get_int(r, "ram_total", 0, CINV_MAX_RAM, &out->ram_total, err, errlen)) ||
        (rc = get_int(r, "ram_free", 0, CINV_MAX_RAM, &out->ram_free, err, errlen)))
        return rc;
    if (out->ram_free > out->ram_total)
        return om_err(err, errlen, OM_EFORMAT, "report: ram_free exceeds ram_total");
    static const char *counts[] = {"active", "queued", "parallel"};
    int *dst[] = {&out->active, &out->queued, &out->parallel};
    for (int i = 0; i < 3; i++) {
        if ((rc = get_int(r, counts[i], 0, CINV_MAX_COUNT, &x, err, errlen)))
            return rc;
        *dst[i] = (int)x;
    }

    const json_t *v = json_object_get(r, "tokens_per_s");
    if (v) {
        if (!json_is_number(v))
            return om_err(err, errlen, OM_EFORMAT, "report: tokens_per_s must be a number");
        double d = json_number_value(v);
        if (!isfinite(d) || d < 0 || d > CINV_MAX_TPS)
            return om_err(err, errlen, OM_EFORMAT, "report: tokens_per_s out of range");
        out->tokens_per_s = d;
    }
    v = json_object_get(r, "gpu");
    if (v && !json_is_null(v) && !json_is_object(v))
        return om_err(err, errlen, OM_EFORMAT, "report: gpu must be null or an object");

    v = json_object_get(r, "loaded");
    if (v) {
        if (!json_is_array(v) || json_array_size(v) > CINV_MAX_LOADED)
            return om_err(err, errlen, OM_EFORMAT,
                          "report: loaded must be an array of at most %d names",
                          CINV_MAX_LOADED);
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_string(e) || json_string_length(e) >= CINV_NAME_MAX ||
                strlen(json_string_value(e)) != json_string_length(e))
                return om_err(err, errlen, OM_EFORMAT,
                              "report: loaded[%zu] must be a name shorter than %d bytes", i,
                              CINV_NAME_MAX);
            memcpy(out->loaded[i], json_string_value(e), json_string_length(e) + 1);
        }
        out->n_loaded = (int)json_array_size(v);
    }

    v = json_object_get(r, "prefixes");
    if (v) {
        if (!json_is_array(v) || json_array_size(v) > CINV_MAX_PREFIXES)
            return om_err(err, errlen, OM_EFORMAT,
                          "report: prefixes must be an array of at most %d hashes",
                          CINV_MAX_PREFIXES);
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_string(e) ||
                parse_hex64(json_string_value(e), json_string_length(e), &out->prefixes[i]))
                return om_err(err, errlen, OM_EFORMAT,
                              "report: prefixes[%zu] must be 16 hex digits, not all zero", i);
        }
        out->n_prefixes = (int)json_array_size(v);
    }
    return 0;
}

int cinv_parse(const json_t *report, struct cinv *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int rc = parse_fields(report, out, err, errlen);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}
