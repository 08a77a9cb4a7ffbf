/* cli: the text layout helpers of client_fmt.h — display width of UTF-8
 * text, the borderless table of `list`/`ps`/`show` (tablewriter v0.0.5 as
 * Ollama's cmd.go configures it: padding "    ", no borders, left aligned,
 * 30-column wrap), and the progress-bar line of Ollama's progress.Bar. */
#include "cli/client_fmt.h"

#include "base/om.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ---- table ----------------------------------------------------------------- */

static int cp_width(uint32_t c)
{
    if (c < 0x300)
        return 1;
    if ((c >= 0x300 && c <= 0x36f) || c == 0x200b || (c >= 0xfe00 && c <= 0xfe0f))
        return 0; /* combining marks, zero width space, variation selectors */
    if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
        (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
        (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
        (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1faff) ||
        (c >= 0x20000 && c <= 0x3fffd))
        return 2;
    return 1;
}

int cli_text_width(const char *s, size_t len)
{
    int w = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp = c;
        size_t k = 1;
        if (c >= 0xf0 && i + 3 < len)
            cp = ((c & 7u) << 18) | ((s[i + 1] & 63u) << 12) | ((s[i + 2] & 63u) << 6) |
                 (s[i + 3] & 63u), k = 4;
        else if (c >= 0xe0 && i + 2 < len)
            cp = ((c & 15u) << 12) | ((s[i + 1] & 63u) << 6) | (s[i + 2] & 63u), k = 3;
        else if (c >= 0xc0 && i + 1 < len)
            cp = ((c & 31u) << 6) | (s[i + 1] & 63u), k = 2;
        w += cp_width(cp);
        i += k;
    }
    return w;
}

void cli_table_init(struct cli_table *t, size_t n_cols, int max_width)
{
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols;
    t->max_width = max_width;
}

void cli_table_add(struct cli_table *t, const char *const *row)
{
    if (t->n_rows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? 2 * t->cap_rows : 8;
        t->cells = om_xrealloc(t->cells, t->cap_rows * t->n_cols * sizeof *t->cells);
    }
    for (size_t c = 0; c < t->n_cols; c++)
        t->cells[t->n_rows * t->n_cols + c] =
            row[c] && (c == 0 || t->cells[t->n_rows * t->n_cols + c - 1]) ? om_xstrdup(row[c])
                                                                           : NULL;
    t->n_rows++;
}

void cli_table_header(struct cli_table *t, const char *const *row)
{
    cli_table_add(t, row);
    t->has_header = 1;
}

/* Splits a cell into display lines: at '\n', then words greedily into lines
 * no wider than lim (a longer single word keeps its own line). Lines are
 * [start, end) pairs into s; returns the count (at most cap). */
static size_t cell_lines(const char *s, int lim, size_t (*spans)[2], size_t cap)
{
    size_t nl = 0, len = strlen(s);
    size_t para = 0;
    while (para <= len && nl < cap) {
        size_t pe = para;
        while (pe < len && s[pe] != '\n')
            pe++;
        if (cli_text_width(s + para, pe - para) <= lim) {
            spans[nl][0] = para;
            spans[nl][1] = pe;
            nl++;
        } else {
            size_t ls = para, i = para;
            while (i <= pe && nl < cap) {
                size_t ws = i;
                while (i < pe && s[i] != ' ')
                    i++;
                /* the word [ws, i) extends the line [ls, ws) if it fits */
                if (ws > ls && cli_text_width(s + ls, i - ls) > lim) {
                    spans[nl][0] = ls;
                    spans[nl][1] = ws - 1;
                    nl++;
                    ls = ws;
                }
                if (i >= pe)
                    break;
                i++;
            }
            if (nl < cap) {
                spans[nl][0] = ls;
                spans[nl][1] = pe;
                nl++;
            }
        }
        if (pe >= len)
            break;
        para = pe + 1;
    }
    return nl;
}

#define CELL_MAX_LINES 64

void cli_table_print(const struct cli_table *t, FILE *f)
{
    size_t nc = t->n_cols;
    if (!t->n_rows || !nc)
        return;
    int *width = om_xcalloc(nc, sizeof *width);
    size_t(*spans)[2] = om_xmalloc(CELL_MAX_LINES * sizeof *spans);
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t c = 0; c < nc; c++) {
            const char *s = t->cells[r * nc + c];
            if (!s)
                break;
            size_t k = cell_lines(s, t->max_width, spans, CELL_MAX_LINES);
            for (size_t i = 0; i < k; i++) {
                int w = cli_text_width(s + spans[i][0], spans[i][1] - spans[i][0]);
                if (w > width[c])
                    width[c] = w;
            }
        }
    size_t(*all)[2] = om_xmalloc(nc * CELL_MAX_LINES * sizeof *all);
    size_t *cnt = om_xcalloc(nc, sizeof *cnt);
    for (size_t r = 0; r < t->n_rows; r++) {
        int header = t->has_header && r == 0;
        size_t h = 1;
        size_t rc = 0; /* cells in this row */
        while (rc < nc && t->cells[r * nc + rc])
            rc++;
        for (size_t c = 0; c < rc; c++) {
            cnt[c] = cell_lines(t->cells[r * nc + c], t->max_width, all + c * CELL_MAX_LINES,
                                CELL_MAX_LINES);
            if (cnt[c] > h)
                h = cnt[c];
        }
        for (size_t line = 0; line < h; line++) {
            for (size_t c = 0; c < rc; c++) {
                const char *s = t->cells[r * nc + c];
                const char *txt = line < cnt[c] ? s + all[c * CELL_MAX_LINES + line][0] : "";
                size_t tl = line < cnt[c] ? all[c * CELL_MAX_LINES + line][1] -
                                                all[c * CELL_MAX_LINES + line][0]
                                          : 0;
                fwrite(txt, 1, tl, f);
                for (int p = cli_text_width(txt, tl); p < width[c]; p++)
                    fputc(' ', f);
                fputs(header && c == nc - 1 ? " " : "    ", f);
            }
            fputc('\n', f);
        }
    }
    free(cnt);
    free(all);
    free(spans);
    free(width);
}

void cli_table_close(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* ---- progress bar ------------------------------------------------------------ */

static size_t put(char *out, size_t n, size_t at, const char *s)
{
    size_t l = strlen(s);
    if (at < n) {
        size_t k = at + l < n ? l : n - 1 - at;
        memcpy(out + at, s, k);
        out[at + k] = 0;
    }
    return at + l;
}

static size_t put_pad(char *out, size_t n, size_t at, const char *s, int w)
{
    for (int i = (int)strlen(s); i < w; i++)
        at = put(out, n, at, " ");
    return put(out, n, at, s);
}

void cli_fmt_bar(char *out, size_t n, const char *msg, int64_t cur, int64_t max, int stopped,
                 double rate, int term_width)
{
    if (!n)
        return;
    out[0] = 0;
    char pre[256], suf[128], a[32], b[32];
    double pct = max > 0 ? (double)cur / (double)max * 100 : 0;
    /* message trimmed of spaces, then " %3.0f%%" */
    while (msg && isspace((unsigned char)*msg))
        msg++;
    size_t ml = msg ? strlen(msg) : 0;
    while (ml && isspace((unsigned char)msg[ml - 1]))
        ml--;
    int pl = ml ? snprintf(pre, sizeof pre, "%.*s %3.0f%%", (int)ml, msg, pct)
                : snprintf(pre, sizeof pre, "%3.0f%%", pct);
    if (pl < 0 || (size_t)pl >= sizeof pre)
        pl = (int)strlen(pre);
    size_t sl = 0;
    suf[0] = 0;
    if (!stopped) {
        cli_fmt_bytes(cur, a, sizeof a);
        cli_fmt_bytes(max, b, sizeof b);
        sl = put_pad(suf, sizeof suf, sl, a, 6);
        sl = put(suf, sizeof suf, sl, "/");
        sl = put_pad(suf, sizeof suf, sl, b, 6);
    } else {
        cli_fmt_bytes(max, b, sizeof b);
        sl = put_pad(suf, sizeof suf, sl, b, 6);
        sl = put(suf, sizeof suf, sl, "       ");
    }
    if (!stopped && rate > 0) {
        cli_fmt_bytes((int64_t)rate, a, sizeof a);
        sl = put(suf, sizeof suf, sl, "  ");
        sl = put_pad(suf, sizeof suf, sl, a, 6);
        sl = put(suf, sizeof suf, sl, "/s");
        int64_t rem = (int64_t)((double)(max - cur) / rate) * 1000000000LL;
        cli_fmt_eta(rem, b, sizeof b);
        sl = put(suf, sizeof suf, sl, "  ");
        sl = put_pad(suf, sizeof suf, sl, b, 6);
    } else {
        sl = put(suf, sizeof suf, sl, "          ");
        sl = put(suf, sizeof suf, sl, "        ");
    }
    /* Go measures pre and suf in bytes (len), the bar in cells */
    int fill = term_width - pl - (int)strlen(suf) - 5;
    int k = (int)((double)fill * pct / 100);
    size_t at = put(out, n, 0, pre);
    at = put(out, n, at, " ▕");
    for (int i = 0; i < k; i++)
        at = put(out, n, at, "█");
    for (int i = k; i < fill; i++)
        at = put(out, n, at, " ");
    at = put(out, n, at, "▏ ");
    put(out, n, at, suf);
}
