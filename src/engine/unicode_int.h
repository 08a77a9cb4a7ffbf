/* engine: layouts of the generated Unicode tables (unicode_data_{flags,case,nfd}.c); only
 * unicode.c reads them. */
#ifndef UNICODE_INT_H
#define UNICODE_INT_H

#include <stddef.h>
#include <stdint.h>

/* Code points from start up to the next range's start have these flags. */
typedef struct unicode_flag_range {
    uint32_t start;
    uint8_t flags;
} unicode_flag_range;

typedef struct unicode_pair {
    uint32_t cp, to;
} unicode_pair;

/* first..last (inclusive) all decompose to a sequence starting with nfd. */
typedef struct unicode_nfd_range {
    uint32_t first, last, nfd;
} unicode_nfd_range;

extern const unicode_flag_range unicode_flag_ranges[];
extern const size_t unicode_n_flag_ranges;
extern const unicode_pair unicode_lower_map[];   /* sorted by cp */
extern const size_t unicode_n_lower_map;
extern const unicode_nfd_range unicode_nfd_ranges[]; /* sorted, disjoint */
extern const size_t unicode_n_nfd_ranges;

#endif
