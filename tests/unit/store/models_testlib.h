/* Test helpers for the model-store tests: a scratch store root under /tmp
 * (never ~/.ollama), removed recursively afterwards, and small builders of
 * manifests over in-memory blobs. Include once per test program. */
#ifndef MODELS_TESTLIB_H
#define MODELS_TESTLIB_H

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/models.h"

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void rm_rf(const char *dir)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes /tmp/om_models_<tag>_XXXXXX into dir (cap >= 64). */
static inline int scratch_make(const char *tag, char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/om_models_%s_XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}

/* Number of regular files under dir/sub (non-recursive). */
static inline int count_files(const char *dir, const char *sub)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, sub);
    DIR *d = opendir(p);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++; /* temp files count: a test can see leftovers */
    if (d)
        closedir(d);
    return n;
}

/* A manifest over blobs written from the given strings (config first). */
static inline char *make_manifest(struct store_root *r, const char *config,
                                  const char *const *media, const char *const *data, int n)
{
    char d[72];
    json_t *m = json_object(), *layers = json_array(), *c = json_object();
    store_blob_put_bytes(r, config, strlen(config), d);
    json_object_set_new(m, "schemaVersion", json_integer(2));
    json_object_set_new(m, "mediaType",
                        json_string("application/vnd.docker.distribution.manifest.v2+json"));
    json_object_set_new(c, "mediaType",
                        json_string("application/vnd.docker.container.image.v1+json"));
    json_object_set_new(c, "digest", json_string(d));
    json_object_set_new(c, "size", json_integer((json_int_t)strlen(config)));
    json_object_set_new(m, "config", c);
    for (int i = 0; i < n; i++) {
        json_t *l = json_object();
        store_blob_put_bytes(r, data[i], strlen(data[i]), d);
        json_object_set_new(l, "mediaType", json_string(media[i]));
        json_object_set_new(l, "digest", json_string(d));
        json_object_set_new(l, "size", json_integer((json_int_t)strlen(data[i])));
        json_array_append_new(layers, l);
    }
    json_object_set_new(m, "layers", layers);
    char *s = store_json_go(m, false, true, NULL);
    json_decref(m);
    return s;
}

#endif
