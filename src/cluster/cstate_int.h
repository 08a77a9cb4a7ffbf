/* cluster/cstate: private layout shared by cstate.c (open, apply, snapshot,
 * restore), cstate_read.c (queries) and cstate_cmd.c (command builders). */
#ifndef CSTATE_INT_H
#define CSTATE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "cluster/cstate.h"

/* Bounds on what a command may carry (checked at apply time). */
#define CSTATE_MAX_CMD (1u << 20)         /* one command's JSON */
#define CSTATE_MAX_MODEL_NAME 512
#define CSTATE_MAX_FIELD 255              /* names and addresses */
#define CSTATE_MAX_LAYERS 4096
#define CSTATE_MAX_PLACEMENT 1024
#define CSTATE_MAX_REPLICATION 1000

/* "OMCSTATE" + 8 reserved bytes, then sqlite3_serialize's image. */
#define CSTATE_SNAP_MAGIC "OMCSTATE"
#define CSTATE_SNAP_HDR 16

struct cstate {
    pthread_mutex_t mu;     /* guards db and version */
    sqlite3 *db;
    uint64_t version;
};

/* The default value of a known setting, or NULL for an unknown key. */
const char *cstate_setting_default(const char *key);

#endif
