/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* safe-file: opens the daemon's own files so that no other user can read, replace or redirect them. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Opens (O_PATH) the directory that holds path's last component, creating missing directories with
 * mode. Every directory on the way must be owned by root or by us and not writable by group or others,
 * unless root owns it and it has the sticky bit (like /tmp: nobody else can rename or remove what we
 * put there). A symlink on the way is followed only when root or we own it. On success *ret_name points
 * into path at the last component. Logs why it refuses, naming the directory and the fix. */
int safe_file_open_dir(const char *path, mode_t mode, int *ret_fd, const char **ret_name);

/* Opens name in dirfd for reading and writing (creating it 0600 when create is set), never through a
 * symlink. It must be a regular file with one link, owned by us and not writable by group or others;
 * read bits for group and others (left by an earlier lineaged under umask 022) are removed.
 * Returns -ENOENT without logging when it does not exist and create is false; logs every other
 * failure, naming shown (the file's path) and the fix. A read-only file or filesystem is -EROFS. */
int safe_file_open(int dirfd, const char *name, const char *shown, bool create, int *ret_fd);
