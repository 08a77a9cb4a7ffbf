/* cinv: the node's own figures for the inventory report (docs/cluster.md
 * "Inventory report"): cores, total and free RAM, the loaded models, active
 * and queued sequences, parallel slots, recent tokens/s and the prefix hashes
 * of what the loaded models' KV caches hold. cinv_read gathers them on this
 * node, cinv_json writes the report's fields, cinv_parse reads and checks a
 * peer's report (untrusted: every type, bound and length is checked). */
#ifndef CINV_H
#define CINV_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sched/sched.h"

#define CINV_MAX_LOADED 16
#define CINV_MAX_PREFIXES 64
#define CINV_NAME_MAX 512

struct cinv {
    int cores;
    int64_t ram_total, ram_free;   /* bytes; ram_free is MemAvailable */
    int active, queued, parallel;  /* summed over the loaded models */
    double tokens_per_s;           /* summed over the loaded models */
    int n_loaded;
    char loaded[CINV_MAX_LOADED][CINV_NAME_MAX]; /* as sched reports them (display names) */
    int n_prefixes;
    uint64_t prefixes[CINV_MAX_PREFIXES];        /* route_prefix_hash values, never 0 */
};

/* Fills *out (zeroed first) from sysconf (cores), /proc/meminfo (MemTotal,
 * MemAvailable) and s (sched_list: loaded names, active, queued, tokens/s;
 * sched_prefixes; parallel = sched_parallel). s may be NULL (no models).
 * Returns 0, or OM_EIO when /proc/meminfo cannot be read (the other figures
 * are still filled). */
int cinv_read(sched *s, struct cinv *out);

/* A new JSON object with the report's fields from v: cores, ram_total,
 * ram_free, gpu (null), loaded, active, queued, parallel, tokens_per_s,
 * prefixes (16 lower-case hex digits each). The coordinator adds id, seq,
 * models and transfers. Caller owns the result (json_decref). */
json_t *cinv_json(const struct cinv *v);

/* Reads a peer's report into *out (zeroed first; fields the report lacks
 * stay 0). Checks: report is an object; cores 0..65536, ram_total and
 * ram_free 0..2^60 with ram_free <= ram_total, active/queued/parallel
 * 0..1000000 (integers); tokens_per_s a finite number 0..1e9; gpu null or
 * an object (ignored); loaded an array of at most CINV_MAX_LOADED strings
 * shorter than CINV_NAME_MAX; prefixes an array of at most
 * CINV_MAX_PREFIXES strings of exactly 16 hex digits, not all zero. Fields
 * not named here (id, seq, models, transfers) are not looked at. Returns 0,
 * or OM_EFORMAT with err naming the field; *out is then zeroed. */
int cinv_parse(const json_t *report, struct cinv *out, char *err, size_t errlen);

#endif
