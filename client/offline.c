/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lineagectl --database: the daemon's query layer over a private copy of a database file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "offline.h"
#include "query.h"

static struct {
        char *dir;                      /* the private directory holding the copy */
        Daemon *daemon;
        Query *query;
} offline;

/* Copies the regular file src_path into dir/name, reading it without following a symlink. 0 and nothing
 * copied when optional and src_path does not exist. */
static int copy_file(const char *src_path, const char *name, bool optional) {
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        _cleanup_free_ char *dst = NULL;
        struct stat st;
        off_t left;

        in = open(src_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (in < 0) {
                if (errno == ENOENT && optional)
                        return 0;
                return log_error_errno(errno, "Failed to open %s: %m", src_path);
        }
        if (fstat(in, &st) < 0)
                return log_error_errno(errno, "Failed to stat %s: %m", src_path);
        if (!S_ISREG(st.st_mode))
                return log_error_errno(EINVAL, "%s is not a regular file.", src_path);
        if (getuid() != 0 && st.st_uid != getuid())
                return log_error_errno(EACCES, "%s belongs to uid %u: only root or the file's owner may read a lineage "
                                       "database offline.", src_path, (unsigned) st.st_uid);
        if (asprintf(&dst, "%s/%s", offline.dir, name) < 0)
                return log_oom();
        out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out < 0)
                return log_error_errno(errno, "Failed to create %s: %m", dst);
        for (left = st.st_size; left > 0;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t) left, 0);
                char buf[65536];

                if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
                        /* Another file system, or none of its support: copy by hand. */
                        n = read(in, buf, sizeof(buf));
                        if (n > 0 && write(out, buf, (size_t) n) != n)
                                n = -1;
                }
                if (n < 0)
                        return log_error_errno(errno, "Failed to copy %s: %m", src_path);
                if (n == 0)
                        break; /* it shrank meanwhile: what was there is copied */
                left -= n;
        }
        return 1;
}

int private_dir_new(const char *prefix, const char *what, char **ret) {
        const char *tmp = getenv("TMPDIR");
        char *dir = NULL;

        if (asprintf(&dir, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix) < 0)
                return log_oom();
        if (!mkdtemp(dir)) {
                free(dir);
                return log_error_errno(errno, "Failed to create a private directory for %s: %m", what);
        }
        *ret = dir;
        return 0;
}

void private_dir_remove(char **dir) {
        struct dirent *de;
        DIR *d;

        if (!*dir)
                return;
        d = opendir(*dir);
        while (d && (de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        if (d)
                closedir(d);
        (void) rmdir(*dir);
        free(*dir);
        *dir = NULL;
}

int offline_open(const char *path, const char *boot_id) {
        _cleanup_free_ char *wal = NULL, *copy = NULL;
        int r;

        r = private_dir_new("lineagectl", "the copy", &offline.dir);
        if (r < 0)
                return r;
        if (asprintf(&wal, "%s-wal", path) < 0 || asprintf(&copy, "%s/lineage.db", offline.dir) < 0)
                return log_oom();
        r = copy_file(path, "lineage.db", false);
        if (r < 0)
                return r;
        /* Rows committed but not yet checkpointed live in the -wal: a copy taken without it still opens. */
        r = copy_file(wal, "lineage.db-wal", true);
        if (r < 0)
                return r;
        r = daemon_new_offline(&offline.daemon, copy, boot_id);
        if (r == -ENOENT)
                return log_error_errno(r, boot_id ? "No boot %s is recorded in %s." : "No boot is recorded in %s%s.",
                                       boot_id ?: "", path);
        if (r < 0)
                return log_error_errno(r, "Failed to open %s as a lineage database: %m", path);
        r = query_new(&offline.query, offline.daemon);
        if (r < 0)
                return log_error_errno(r, "Failed to prepare the queries on %s: %m", path);
        return 0;
}

int offline_call(const char *method, json_object *params, json_object **ret_reply, const char **ret_error,
                 json_object **ret_error_parameters) {
        /* The file's owner could read every row with sqlite3: nothing in it is hidden from them. */
        QueryCaller caller = { .uid = 0, .pid = getpid() };
        QueryError e = {};
        int r;

        r = query_call(offline.query, method, &caller, params, ret_reply, &e);
        if (r < 0) {
                *ret_error = e.error;
                *ret_error_parameters = TAKE_PTR(e.parameters);
        }
        query_error_done(&e);
        return r;
}

void offline_close(void) {
        offline.query = query_free(offline.query);
        offline.daemon = daemon_free(offline.daemon);
        private_dir_remove(&offline.dir);
}
