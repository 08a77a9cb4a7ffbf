/* engine: detokenization: the per-token piece cache, whole-sequence decode
 * and the streaming decoder that never emits a broken UTF-8 sequence.
 *
 * Pieces are computed once at load (llama.cpp's token_to_piece rules with
 * special = true) so that tok_piece is a lookup. The stream keeps at most
 * three bytes of an unfinished character between calls; every byte it emits
 * belongs to a complete valid character or is a U+FFFD standing for bytes
 * that can never become one. */
#include <stdlib.h>
#include <string.h>

#include "base/om.h"
#include "engine/tok_int.h"
#include "engine/unicode.h"

/* Writes token id's piece to out (room for 3 * tlen bytes); returns its size. */
static size_t make_piece(const tok_vocab *v, int32_t id, char *out)
{
    const char *t = v->text + v->toff[id];
    size_t n = v->tlen[id], k = 0;
    uint16_t a = v->attr[id];
    if (a & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED)) {
        memcpy(out, t, n);
        return n;
    }
    if (v->kind == TOK_KIND_BPE) {
        if (!(a & TOK_ATTR_NORMAL))
            return 0;
        for (size_t i = 0; i < n;) {
            size_t at = i;
            uint32_t cp = unicode_utf8_next(t, n, &i);
            int b = unicode_cp_to_byte(cp);
            if (b >= 0) {
                out[k++] = (char)b;
            } else { /* not a mapped byte: keep the text as it is */
                memcpy(out + k, t + at, i - at);
                k += i - at;
            }
        }
        return k;
    }
    if (a & TOK_ATTR_BYTE) {
        if (n == 6 && t[0] == '<' && t[1] == '0' && t[2] == 'x' && t[5] == '>') {
            out[0] = (char)strtol((char[]){t[3], t[4], 0}, NULL, 16);
            return 1;
        }
        return 0;
    }
    if (!(a & TOK_ATTR_NORMAL))
        return 0;
    for (size_t i = 0; i < n; i++) { /* U+2581 -> ' ' */
        if (i + 2 < n && (uint8_t)t[i] == 0xE2 && (uint8_t)t[i + 1] == 0x96 && (uint8_t)t[i + 2] == 0x81) {
            out[k++] = ' ';
            i += 2;
        } else {
            out[k++] = t[i];
        }
    }
    return k;
}

void tok_pieces_build(tok_vocab *v)
{
    size_t total = 0;
    for (int32_t i = 0; i < v->n; i++)
        total += v->tlen[i] + 1;
    /* pieces never grow: bytes shrink, U+2581 shrinks, unknown code points keep size */
    v->pbuf = om_xmalloc(total);
    v->poff = om_xmalloc((size_t)v->n * sizeof(*v->poff));
    v->plen = om_xmalloc((size_t)v->n * sizeof(*v->plen));
    size_t off = 0;
    for (int32_t i = 0; i < v->n; i++) {
        size_t k = make_piece(v, i, v->pbuf + off);
        v->poff[i] = (uint32_t)off;
        v->plen[i] = (uint32_t)k;
        v->pbuf[off + k] = 0;
        off += k + 1;
        v->max_piece_len = OM_MAX(v->max_piece_len, k);
    }
}

const char *tok_piece(const tok_vocab *v, int32_t id, int special, size_t *len)
{
    *len = 0;
    if (id < 0 || id >= v->n)
        return "";
    if (!special && (v->attr[id] & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL)))
        return "";
    *len = v->plen[id];
    return v->pbuf + v->poff[id];
}

size_t tok_max_piece_len(const tok_vocab *v)
{
    return v->max_piece_len;
}

int tok_decode(const tok_vocab *v, const int32_t *ids, size_t n, int flags, char *out,
               size_t cap, size_t *n_out)
{
    size_t total = 0;
    int strip = (flags & TOK_DECODE_STRIP_PREFIX) && v->add_space_prefix;
    for (int pass = 0; pass < 2; pass++) {
        size_t k = 0;
        int s = strip;
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const char *p = tok_piece(v, ids[i], flags & TOK_DECODE_SPECIAL, &len);
            if (len && s) {
                s = 0;
                if (p[0] == ' ') {
                    p++;
                    len--;
                }
            }
            if (pass == 1)
                memcpy(out + k, p, len);
            k += len;
        }
        total = k;
        *n_out = total;
        if (pass == 0 && total > cap)
            return OM_ERANGE;
    }
    return 0;
}

void tok_stream_init(tok_stream *s)
{
    memset(s, 0, sizeof(*s));
}

/* Byte k of held ++ bytes. */
static uint8_t vbyte(const tok_stream *s, const char *bytes, size_t k)
{
    return k < s->n_held ? s->held[k] : (uint8_t)bytes[k - s->n_held];
}

/* Strict UTF-8 at virtual position i of total: length when complete and
 * valid, 0 when a valid prefix runs into the end, -1 when invalid. */
static int seq_at(const tok_stream *s, const char *bytes, size_t i, size_t total)
{
    uint8_t b0 = vbyte(s, bytes, i);
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 < 0x80)
        return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF)
        len = 2;
    else if (b0 >= 0xE0 && b0 <= 0xEF)
        len = 3, lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    else if (b0 >= 0xF0 && b0 <= 0xF4)
        len = 4, lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    else
        return -1;
    for (size_t j = 1; j < len; j++) {
        if (i + j >= total)
            return 0;
        uint8_t b = vbyte(s, bytes, i + j);
        if (j == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80)
            return -1;
    }
    return (int)len;
}

int tok_stream_push_bytes(tok_stream *s, const char *bytes, size_t n, char *out, size_t cap,
                          size_t *n_out)
{
    size_t total = s->n_held + n, i = 0, k = 0, hold_from = total;
    static const char fffd[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    while (i < total) {
        int r = seq_at(s, bytes, i, total);
        if (r == 0) {
            hold_from = i;
            break;
        }
        size_t w = r > 0 ? (size_t)r : 3;
        if (k + w <= cap) {
            for (size_t j = 0; j < w; j++)
                out[k + j] = r > 0 ? (char)vbyte(s, bytes, i + j) : fffd[j];
        }
        k += w;
        i += r > 0 ? (size_t)r : 1;
    }
    *n_out = k;
    if (k > cap)
        return OM_ERANGE;
    uint8_t keep[4];
    size_t nk = total - hold_from;
    for (size_t j = 0; j < nk; j++)
        keep[j] = vbyte(s, bytes, hold_from + j);
    memcpy(s->held, keep, nk);
    s->n_held = (uint8_t)nk;
    return 0;
}

int tok_stream_push(tok_stream *s, const tok_vocab *v, int32_t id, int special, char *out,
                    size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (id < 0 || id >= v->n)
        return OM_EINVAL;
    size_t len;
    const char *p = tok_piece(v, id, special, &len);
    return tok_stream_push_bytes(s, p, len, out, cap, n_out);
}

int tok_stream_flush(tok_stream *s, char *out, size_t cap, size_t *n_out)
{
    *n_out = s->n_held ? 3 : 0;
    if (*n_out > cap)
        return OM_ERANGE;
    if (s->n_held)
        memcpy(out, "\xef\xbf\xbd", 3);
    tok_stream_init(s);
    return 0;
}
