/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl --database: lineaged's answers from a database file, without the daemon. The file (and its
 * -wal) is copied into a private directory and the copy is opened: the file itself is never written.
 * Only root or the file's owner may read it, and they see every process in it. */
#pragma once

#include <json-c/json.h>

/* Opens path for the answers of offline_call(); queries default to boot boot_id (NULL: the newest boot
 * in the file). Logs what went wrong: -EACCES (not root or the owner), -ENOENT (no such file or boot),
 * other -errno. */
int offline_open(const char *path, const char *boot_id);

/* One method of org.lineaged.Lineage, as lineaged answers it. On success returns 0 and the reply's
 * parameters in *ret_reply. On failure returns < 0 and, when the method failed as the daemon would
 * have failed it, the error's name (static) and parameters (owned by the caller, may be NULL). */
int offline_call(const char *method, json_object *params, json_object **ret_reply, const char **ret_error,
                 json_object **ret_error_parameters);

/* Removes the copy. */
void offline_close(void);

/* A directory of our own (mode 0700) for a private database: $TMPDIR (else /tmp)/PREFIX-XXXXXX, in
 * *ret (malloc'd). Logs the failure, naming what it was for. */
int private_dir_new(const char *prefix, const char *what, char **ret);
/* Removes *dir with the files in it (a database, its -wal and -shm), then frees it and sets it NULL. */
void private_dir_remove(char **dir);
