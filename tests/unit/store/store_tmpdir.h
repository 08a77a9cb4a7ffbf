/* Test helper for tests/unit/store: one scratch directory per test program,
 * made in the group setup and removed with its files in the group teardown.
 * Include once, in the test's .c file. */
#ifndef STORE_TMPDIR_H
#define STORE_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char g_dir[256];

/* Makes /tmp/om_test_<tag>_XXXXXX into g_dir; 0 or -1. */
static inline int tmpdir_make(const char *tag)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/om_test_%s_XXXXXX", tag);
    return mkdtemp(g_dir) ? 0 : -1;
}

/* Removes the files of g_dir, then g_dir. */
static inline void tmpdir_remove(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof(p), "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(g_dir);
}

/* Number of entries in g_dir (temp files left behind count). */
static inline int tmpdir_count(void)
{
    DIR *d = opendir(g_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

#endif
