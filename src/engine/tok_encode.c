/* engine: tok_encode: special-token partition, BOS/EOS, and dispatch of the
 * plain-text fragments to the family encoders.
 *
 * Partition follows llama.cpp exactly: special tokens are taken longest
 * first; each one splits every remaining text fragment at all its
 * (non-overlapping, leftmost) occurrences. Control and unknown tokens take
 * part only with parse_special; user-defined tokens always do. A token with
 * LSTRIP/RSTRIP also swallows the ASCII whitespace before/after it. To keep
 * this linear in practice, one scan first finds which special tokens occur
 * in the text at all; only those run the splitting pass. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/tok_int.h"

void tok_ids_push(tok_ids *o, int32_t id)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->p = om_xrealloc(o->p, o->cap * sizeof(*o->p));
    }
    o->p[o->n++] = id;
}

typedef struct frag {
    size_t off, len;
    int32_t id; /* -1: text fragment */
} frag;

typedef struct frags {
    frag *p;
    size_t n, cap;
} frags;

static void frag_push(frags *f, size_t off, size_t len, int32_t id)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->p = om_xrealloc(f->p, f->cap * sizeof(*f->p));
    }
    f->p[f->n++] = (frag){off, len, id};
}

static int usable(const tok_vocab *v, int32_t id, int parse_special)
{
    return parse_special || !(v->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN));
}

/* Marks in present[] (indexed like v->special) the special tokens that occur
 * in text; returns how many. */
static size_t scan_present(const tok_vocab *v, const char *text, size_t len, int parse_special,
                           uint8_t *present)
{
    size_t found = 0;
    for (size_t i = 0; i < len; i++) {
        if (!v->special_first[(uint8_t)text[i]])
            continue;
        uint64_t h = TOK_FNV_INIT;
        size_t maxl = OM_MIN(len - i, (size_t)v->max_special_len);
        for (size_t l = 1; l <= maxl; l++) {
            h = tok_hash_step(h, (uint8_t)text[i + l - 1]);
            int32_t id = tok_lookup_h(v, text + i, l, h);
            if (id < 0 || !(v->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN)) ||
                !usable(v, id, parse_special))
                continue;
            /* find its index in the sorted list (binary search on (len desc, id asc)) */
            size_t lo = 0, hi = v->n_special;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int32_t m = v->special[mid];
                int before = v->tlen[m] > l || (v->tlen[m] == l && m < id);
                if (before)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < v->n_special && v->special[lo] == id && !present[lo]) {
                present[lo] = 1;
                found++;
            }
        }
    }
    return found;
}

static void partition(const tok_vocab *v, const char *text, size_t len, int parse_special,
                      frags *out)
{
    out->n = 0;
    frag_push(out, 0, len, -1);
    if (v->n_special == 0 || len == 0)
        return;
    uint8_t *present = om_xcalloc(v->n_special, 1);
    if (!scan_present(v, text, len, parse_special, present)) {
        free(present);
        return;
    }
    frags next = {0};
    for (size_t si = 0; si < v->n_special; si++) {
        if (!present[si])
            continue;
        int32_t id = v->special[si];
        const char *st = v->text + v->toff[id];
        size_t sl = v->tlen[id];
        uint16_t a = v->attr[id];
        next.n = 0;
        for (size_t fi = 0; fi < out->n; fi++) {
            frag fr = out->p[fi];
            if (fr.id >= 0) {
                frag_push(&next, fr.off, fr.len, fr.id);
                continue;
            }
            size_t off = fr.off, flen = fr.len;
            for (;;) {
                const char *m = flen >= sl ? memmem(text + off, flen, st, sl) : NULL;
                if (!m) {
                    if (flen)
                        frag_push(&next, off, flen, -1);
                    break;
                }
                size_t mpos = (size_t)(m - text);
                size_t left = mpos - off;
                if (a & TOK_ATTR_LSTRIP)
                    while (left > 0 && isspace((unsigned char)text[off + left - 1]))
                        left--;
                if (left)
                    frag_push(&next, off, left, -1);
                frag_push(&next, mpos, sl, id);
                size_t roff = mpos + sl, rlen = off + flen - roff;
                if (a & TOK_ATTR_RSTRIP)
                    while (rlen > 0 && isspace((unsigned char)text[roff])) {
                        roff++;
                        rlen--;
                    }
                off = roff;
                flen = rlen;
            }
        }
        frags t = *out;
        *out = next;
        next = t;
    }
    free(next.p);
    free(present);
}

int tok_encode(const tok_vocab *v, const char *text, size_t len, int add_special,
               int parse_special, int32_t *out, size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (!v || (!text && len))
        return OM_EINVAL;
    if (len > (size_t)INT32_MAX / 2)
        return OM_ERANGE;
    tok_ids ids = {0};
    frags fr = {0};
    if (len)
        partition(v, text, len, parse_special, &fr);

    /* WordPiece always wraps in [CLS] ... [SEP] */
    if (add_special && (v->add_bos || v->kind == TOK_KIND_WPM) && v->bos >= 0)
        tok_ids_push(&ids, v->bos);

    int prev_special = 1; /* SPM: a text fragment after a special gets a space prefix */
    char *buf = NULL;
    size_t buf_cap = 0;
    for (size_t i = 0; i < fr.n; i++) {
        const frag *f = &fr.p[i];
        if (f->id >= 0) {
            tok_ids_push(&ids, f->id);
            prev_special = 1;
            continue;
        }
        switch (v->kind) {
        case TOK_KIND_SPM: {
            /* prefix a space if asked, then escape every ' ' as U+2581 */
            size_t need = (f->len + 1) * 3;
            if (need > buf_cap) {
                buf_cap = need;
                buf = om_xrealloc(buf, buf_cap);
            }
            size_t k = 0;
            if (v->add_space_prefix && prev_special)
                memcpy(buf + k, "\xe2\x96\x81", 3), k += 3;
            for (size_t j = 0; j < f->len; j++) {
                char c = text[f->off + j];
                if (c == ' ')
                    memcpy(buf + k, "\xe2\x96\x81", 3), k += 3;
                else
                    buf[k++] = c;
            }
            tok_spm_encode(v, buf, k, &ids);
            break;
        }
        case TOK_KIND_BPE:
            tok_bpe_encode(v, text + f->off, f->len, &ids);
            break;
        case TOK_KIND_WPM:
            tok_wpm_encode(v, text + f->off, f->len, &ids);
            break;
        }
        prev_special = 0;
    }
    free(buf);
    free(fr.p);

    if (add_special && v->kind == TOK_KIND_WPM) {
        if (v->sep >= 0)
            tok_ids_push(&ids, v->sep);
    } else if (add_special && v->add_eos && v->eos >= 0) {
        tok_ids_push(&ids, v->eos);
    }

    *n_out = ids.n;
    int rc = 0;
    if (ids.n > cap)
        rc = OM_ERANGE;
    else if (ids.n)
        memcpy(out, ids.p, ids.n * sizeof(*out));
    free(ids.p);
    return rc;
}
