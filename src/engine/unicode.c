/* engine: Unicode lookups over the generated tables, lenient UTF-8 coding and
 * the GPT-2 byte mapping.
 *
 * Category lookups for the Basic Multilingual Plane go through a 64 KiB flag
 * array filled once (pthread_once); other planes binary-search the range
 * table. The decoder deliberately mirrors llama.cpp's unicode_cpt_from_utf8
 * (see unicode.h) because tokenizer outputs must match its test files. */
#include "engine/unicode.h"

#include <pthread.h>

#include "engine/unicode_int.h"

static uint8_t bmp_flags[0x10000];
static pthread_once_t bmp_once = PTHREAD_ONCE_INIT;

static uint8_t range_flags(uint32_t cp)
{
    size_t lo = 0, hi = unicode_n_flag_ranges; /* last range with start <= cp */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (unicode_flag_ranges[mid].start <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return unicode_flag_ranges[lo].flags;
}

static void bmp_init(void)
{
    for (size_t i = 0; i < unicode_n_flag_ranges; i++) {
        uint32_t a = unicode_flag_ranges[i].start;
        uint32_t b = i + 1 < unicode_n_flag_ranges ? unicode_flag_ranges[i + 1].start : 0x110000;
        for (uint32_t cp = a; cp < b && cp < 0x10000; cp++)
            bmp_flags[cp] = unicode_flag_ranges[i].flags;
    }
}

int unicode_is_whitespace(uint32_t cp)
{
    if (cp <= 0x20)
        return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    if (cp < 0x85)
        return 0;
    switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F:
    case 0x205F: case 0x3000:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

uint16_t unicode_flags(uint32_t cp)
{
    uint16_t f;
    if (cp < 0x10000) {
        pthread_once(&bmp_once, bmp_init);
        f = bmp_flags[cp];
    } else if (cp < 0x110000) {
        f = range_flags(cp);
    } else {
        return UNICODE_F_UNDEF;
    }
    if (unicode_is_whitespace(cp))
        f |= UNICODE_F_WHITESPACE;
    return f;
}

uint32_t unicode_tolower(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    size_t lo = 0, hi = unicode_n_lower_map;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (unicode_lower_map[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < unicode_n_lower_map && unicode_lower_map[lo].cp == cp ? unicode_lower_map[lo].to : cp;
}

uint32_t unicode_nfd_first(uint32_t cp)
{
    if (cp < 0xC0)
        return cp;
    size_t lo = 0, hi = unicode_n_nfd_ranges; /* first range with last >= cp */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (unicode_nfd_ranges[mid].last < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < unicode_n_nfd_ranges && unicode_nfd_ranges[lo].first <= cp)
        return unicode_nfd_ranges[lo].nfd;
    return cp;
}

size_t unicode_utf8_len(uint8_t lead)
{
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[lead >> 4];
}

static int is_cont(uint8_t b)
{
    return (b & 0xC0) == 0x80;
}

uint32_t unicode_utf8_next(const char *str, size_t n, size_t *pos)
{
    const uint8_t *s = (const uint8_t *)str + *pos;
    size_t left = n - *pos;
    uint32_t cp;
    size_t len;
    if (s[0] < 0x80) {
        cp = s[0];
        len = 1;
    } else if (!(s[0] & 0x40)) {
        goto bad;
    } else if (!(s[0] & 0x20)) {
        if (left < 2 || !is_cont(s[1]))
            goto bad;
        cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        len = 2;
    } else if (!(s[0] & 0x10)) {
        if (left < 3 || !is_cont(s[1]) || !is_cont(s[2]))
            goto bad;
        cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        len = 3;
    } else if (!(s[0] & 0x08)) {
        if (left < 4 || !is_cont(s[1]) || !is_cont(s[2]) || !is_cont(s[3]))
            goto bad;
        cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
             ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        if (cp > 0x10FFFF)
            goto bad;
        len = 4;
    } else {
        goto bad;
    }
    *pos += len;
    return cp;
bad:
    *pos += 1;
    return UNICODE_REPLACEMENT;
}

size_t unicode_utf8_put(uint32_t cp, char out[4])
{
    uint8_t *o = (uint8_t *)out;
    if (cp <= 0x7F) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp <= 0x7FF) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp > 0x10FFFF)
        cp = UNICODE_REPLACEMENT;
    if (cp <= 0xFFFF) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static int byte_is_printable(uint32_t b)
{
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

/* The 68 non-printable bytes, in order (0x00..0x20, 0x7F..0xA0, 0xAD), map
 * to U+0100.. U+0143. */
uint32_t unicode_byte_to_cp(uint8_t b)
{
    if (byte_is_printable(b))
        return b;
    if (b <= 0x20)
        return 0x100 + b;
    if (b <= 0xA0)
        return 0x100 + 33 + (b - 0x7F);
    return 0x100 + 67; /* 0xAD */
}

int unicode_cp_to_byte(uint32_t cp)
{
    if (cp < 0x100)
        return byte_is_printable(cp) ? (int)cp : -1;
    if (cp > 0x143)
        return -1;
    uint32_t k = cp - 0x100;
    if (k <= 32)
        return (int)k;
    if (k <= 66)
        return (int)(0x7F + k - 33);
    return 0xAD;
}
