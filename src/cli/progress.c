/* cli: the progress display of pull/push/create/run (Ollama's progress
 * package): a list of lines — spinners and byte bars — that a render thread
 * redraws in place on stderr every 100 ms. Invariant: `pos` is the number of
 * lines drawn last time, so the next frame moves up pos-1 lines first. When
 * stderr is not a terminal nothing is redrawn: statuses become plain lines. */
#include "cli/client.h"

#include "base/om.h"
#include "cli/client_fmt.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_STATES 256
#define BUCKETS 10

struct bucket {
    double t;
    int64_t v;
};

struct state {
    int is_bar;
    char msg[256];
    char key[128];
    int stopped;
    int frame; /* spinner */
    int64_t max, initial, cur;
    double started, stopped_at;
    struct bucket b[BUCKETS];
    int nb;
    int printed_plain; /* plain mode: already written */
    char plain_msg[256]; /* plain mode: the message last written */
};

struct cli_progress {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int tty, quit, has_thread, pos;
    struct state *st[MAX_STATES];
    int n;
    struct state *spinner;
};

static const char *const SPIN[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};

static double now_s(void)
{
    return (double)om_time_ns() / 1e9;
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

static int term_height(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
        return ws.ws_row;
    return 24;
}

/* Bytes per second as progress.Bar.rate: over the whole run once stopped,
 * else between the oldest and newest of the last 10 one-second samples.
 * Go rounds the denominators to whole seconds. */
static double bar_rate(const struct state *s)
{
    double num = 0, den = 0;
    if (s->stopped) {
        num = (double)(s->cur - s->initial);
        den = round(s->stopped_at - s->started);
    } else if (s->nb == 1) {
        num = (double)(s->b[0].v - s->initial);
        den = round(s->b[0].t - s->started);
    } else if (s->nb > 1) {
        num = (double)(s->b[s->nb - 1].v - s->b[0].v);
        den = round(s->b[s->nb - 1].t - s->b[0].t);
    }
    return den != 0 ? num / den : 0;
}

static void state_line(struct state *s, char *out, size_t n, int width)
{
    if (s->is_bar) {
        cli_fmt_bar(out, n, s->msg, s->cur, s->max, s->stopped, bar_rate(s), width);
        return;
    }
    snprintf(out, n, "%s%s%s%s", s->msg, s->msg[0] ? " " : "", s->stopped ? "" : SPIN[s->frame],
             s->stopped ? "" : " ");
}

/* Draws every line; caller holds mu. */
static void render_locked(struct cli_progress *p)
{
    if (!p->tty)
        return;
    int w = term_width(), h = term_height();
    char line[2048];
    fputs("\033[?2026h\033[?25l", stderr);
    for (int i = 0; i < p->pos - 1; i++)
        fputs("\033[A", stderr);
    fputs("\033[1G", stderr);
    int first = p->n > h ? p->n - h : 0;
    for (int i = first; i < p->n; i++) {
        state_line(p->st[i], line, sizeof line, w);
        fputs(line, stderr);
        fputs("\033[K", stderr);
        if (i < p->n - 1)
            fputc('\n', stderr);
    }
    p->pos = p->n;
    fputs("\033[?25h\033[?2026l", stderr);
    fflush(stderr);
}

static void *render_main(void *ud)
{
    struct cli_progress *p = ud;
    pthread_mutex_lock(&p->mu);
    while (!p->quit) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->quit)
            break;
        for (int i = 0; i < p->n; i++)
            if (!p->st[i]->is_bar && !p->st[i]->stopped)
                p->st[i]->frame = (p->st[i]->frame + 1) % 10;
        render_locked(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct cli_progress *cli_progress_new(void)
{
    struct cli_progress *p = om_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->tty = isatty(STDERR_FILENO);
    if (p->tty && !pthread_create(&p->thread, NULL, render_main, p))
        p->has_thread = 1;
    return p;
}

static struct state *add_state(struct cli_progress *p)
{
    if (p->n == MAX_STATES) { /* drop the oldest line (it scrolled away anyway) */
        free(p->st[0]);
        memmove(p->st, p->st + 1, (MAX_STATES - 1) * sizeof *p->st);
        p->n--;
        if (p->pos > 0)
            p->pos--;
    }
    struct state *s = om_xcalloc(1, sizeof *s);
    p->st[p->n++] = s;
    return s;
}

/* Plain mode writes a spinner's message when it appears and, if it changed
 * since (an upload's percentage), once more when it stops. */
static void spinner_stop_locked(struct cli_progress *p)
{
    struct state *s = p->spinner;
    if (s && !p->tty && s->msg[0] && strcmp(s->msg, s->plain_msg))
        fprintf(stderr, "%s\n", s->msg);
    if (s)
        s->stopped = 1;
    p->spinner = NULL;
}

void cli_progress_spinner(struct cli_progress *p, const char *msg)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    spinner_stop_locked(p);
    struct state *s = add_state(p);
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "");
    p->spinner = s;
    if (!p->tty && s->msg[0]) {
        fprintf(stderr, "%s\n", s->msg);
        snprintf(s->plain_msg, sizeof s->plain_msg, "%s", s->msg);
        s->printed_plain = 1;
    }
    pthread_mutex_unlock(&p->mu);
}

void cli_progress_spinner_msg(struct cli_progress *p, const char *msg)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->spinner)
        snprintf(p->spinner->msg, sizeof p->spinner->msg, "%s", msg ? msg : "");
    pthread_mutex_unlock(&p->mu);
}

void cli_progress_spinner_stop(struct cli_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    spinner_stop_locked(p);
    pthread_mutex_unlock(&p->mu);
}

void cli_progress_bar(struct cli_progress *p, const char *key, const char *msg, int64_t total,
                      int64_t completed)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    struct state *s = NULL;
    for (int i = 0; i < p->n && !s; i++)
        if (p->st[i]->is_bar && !strcmp(p->st[i]->key, key))
            s = p->st[i];
    double t = now_s();
    if (!s) {
        spinner_stop_locked(p);
        s = add_state(p);
        s->is_bar = 1;
        snprintf(s->key, sizeof s->key, "%s", key);
        snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "");
        s->max = total;
        s->initial = s->cur = completed;
        s->started = t;
        if (completed >= total) {
            s->stopped = 1;
            s->stopped_at = t;
        }
    }
    if (completed >= s->max)
        completed = s->max;
    s->cur = completed;
    if (s->cur >= s->max && !s->stopped) {
        s->stopped = 1;
        s->stopped_at = t;
    }
    if (!s->nb || t - s->b[s->nb - 1].t > 1.0) {
        if (s->nb == BUCKETS) {
            memmove(s->b, s->b + 1, (BUCKETS - 1) * sizeof *s->b);
            s->nb--;
        }
        s->b[s->nb++] = (struct bucket){t, completed};
    }
    if (!p->tty && s->stopped && !s->printed_plain) {
        char line[512];
        cli_fmt_bytes(s->max, line, sizeof line);
        fprintf(stderr, "%s 100%% %s\n", s->msg, line);
        s->printed_plain = 1;
    }
    pthread_mutex_unlock(&p->mu);
}

static void finish(struct cli_progress *p, int clear)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->has_thread)
        pthread_join(p->thread, NULL);
    spinner_stop_locked(p);
    if (p->tty) {
        if (clear) {
            fputs("\033[?25l", stderr);
            for (int i = 0; i < p->pos; i++) {
                if (i > 0)
                    fputs("\033[A", stderr);
                fputs("\033[2K\033[1G", stderr);
            }
            fputs("\033[?25h", stderr);
        } else {
            render_locked(p);
            if (p->n)
                fputc('\n', stderr);
        }
        fflush(stderr);
    }
    for (int i = 0; i < p->n; i++)
        free(p->st[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

void cli_progress_stop(struct cli_progress *p)
{
    finish(p, 0);
}

void cli_progress_stop_clear(struct cli_progress *p)
{
    finish(p, 1);
}
