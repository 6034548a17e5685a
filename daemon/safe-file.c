/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* safe-file: the database's directory and files, checked like sshd's StrictModes, opened without races. */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "safe-file.h"
#include "lineage/util.h"

static bool uid_trusted(uid_t uid) {
        return uid == 0 || uid == geteuid();
}

/* Another user who can write a directory on the way can swap the database for a file or symlink of
 * theirs, unless the directory is root's and sticky (then only the owner of an entry may replace it). */
static int check_dir(int fd, const char *shown) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Failed to look at directory %s: %m", shown);
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(ENOTDIR, "Refusing %s: not a directory.", shown);
        if (!uid_trusted(st.st_uid))
                return log_error_errno(EPERM,
                                       "Refusing directory %s: it is owned by uid %u, not by root or lineaged (uid %u), "
                                       "and its owner could replace the database. Use a directory owned by root "
                                       "(chown root %s) or another --database= path.",
                                       shown, (unsigned) st.st_uid, (unsigned) geteuid(), shown);
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_uid == 0 && (st.st_mode & S_ISVTX)))
                return log_error_errno(EPERM,
                                       "Refusing directory %s: it is writable by group or others (mode %04o) and not a "
                                       "root-owned sticky directory, so another user could replace the database. "
                                       "Fix it with chmod go-w %s, or use another --database= path.",
                                       shown, (unsigned) (st.st_mode & 07777), shown);
        return 0;
}

/* From the checked directory fd into its entry name (a directory, made with mode when missing). */
static int step_dir(int fd, const char *name, const char *shown, mode_t mode, int *ret_fd) {
        struct stat st;
        int nfd, r;

        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return log_error_errno(errno, "Failed to look at %s: %m", shown);
                /* Someone may make it first (EEXIST): then it is looked at like any other. */
                if (mkdirat(fd, name, mode) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Failed to create directory %s: %m", shown);
                if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return log_error_errno(errno, "Failed to look at %s: %m", shown);
        }
        if (S_ISLNK(st.st_mode) && !uid_trusted(st.st_uid))
                return log_error_errno(ELOOP,
                                       "Refusing %s: it is a symbolic link owned by uid %u; lineaged follows no other "
                                       "user's symlinks on the way to its database. Remove it, or give --database= "
                                       "the real path.", shown, (unsigned) st.st_uid);
        nfd = openat(fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (nfd < 0)
                return log_error_errno(errno, "Failed to open directory %s: %m", shown);
        r = check_dir(nfd, shown);
        if (r < 0) {
                close(nfd);
                return r;
        }
        *ret_fd = nfd;
        return 0;
}

int safe_file_open_dir(const char *path, mode_t mode, int *ret_fd, const char **ret_name) {
        _cleanup_free_ char *full = NULL;
        _cleanup_close_ int fd = -1;
        const char *name = strrchr(path, '/');
        char *p, *end;
        int r;

        name = name ? name + 1 : path;
        if (!*name || streq(name, ".") || streq(name, ".."))
                return log_error_errno(EISDIR, "Database path %s names a directory, not a file.", path);
        if (path[0] == '/')
                full = strdup(path);
        else {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);

                if (!cwd)
                        return log_error_errno(errno, "Failed to get the current directory: %m");
                if (asprintf(&full, "%s/%s", cwd, path) < 0)
                        full = NULL;
        }
        if (!full)
                return log_oom();
        /* full up to its last '/': the directories to walk, each checked before the next is looked up. */
        end = strrchr(full, '/');
        *end = 0;
        fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open /: %m");
        r = check_dir(fd, "/");
        if (r < 0)
                return r;
        for (p = full + 1; p <= end && *p;) {
                char *slash = strchr(p, '/'), saved = 0;
                int nfd = -1;

                if (slash) {
                        saved = *slash;
                        *slash = 0;
                }
                if (*p && !streq(p, ".")) {
                        /* full now ends after this component: the path shown in messages. */
                        r = step_dir(fd, p, full, mode, &nfd);
                        if (r < 0)
                                return r;
                        close(fd);
                        fd = nfd;
                }
                if (!slash)
                        break;
                *slash = saved;
                p = slash + 1;
        }
        *ret_fd = TAKE_FD(fd);
        *ret_name = name;
        return 0;
}

static int refuse_file(const char *shown, const struct stat *st) {
        if (S_ISLNK(st->st_mode))
                return log_error_errno(ELOOP,
                                       "Refusing %s: it is a symbolic link; lineaged never opens its database through "
                                       "one. Remove it, or give --database= the real path.", shown);
        if (!S_ISREG(st->st_mode))
                return log_error_errno(EPERM, "Refusing %s: not a regular file.", shown);
        if (st->st_uid != geteuid())
                return log_error_errno(EPERM,
                                       "Refusing %s: it is owned by uid %u, not by lineaged (uid %u), and its owner "
                                       "could read every user's command lines from it. Remove it (lineaged makes a "
                                       "new one), or chown it to uid %u if it really is lineaged's.",
                                       shown, (unsigned) st->st_uid, (unsigned) geteuid(), (unsigned) geteuid());
        if (st->st_nlink != 1)
                return log_error_errno(EPERM,
                                       "Refusing %s: it has %u hard links, so it is also some other file. Remove it, "
                                       "or use another --database= path.", shown, (unsigned) st->st_nlink);
        if (st->st_mode & (S_IWGRP | S_IWOTH))
                return log_error_errno(EPERM,
                                       "Refusing %s: it is writable by group or others (mode %04o), who could forge "
                                       "the record. Check it and chmod 0600 %s, or remove it.",
                                       shown, (unsigned) (st->st_mode & 07777), shown);
        return 0;
}

int safe_file_open(int dirfd, const char *name, const char *shown, bool create, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        fd = openat(dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (create ? O_CREAT : 0), 0600);
        if (fd < 0) {
                int e = errno;

                if (e == ENOENT && !create)
                        return -ENOENT;
                /* Say why: a file that is not ours (or a symlink) rather than "permission denied". */
                if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && (r = refuse_file(shown, &st)) < 0)
                        return r;
                if (e == EROFS || e == EPERM || e == EACCES || e == ETXTBSY)
                        return log_error_errno(EROFS,
                                               "Cannot write %s (%s): lineaged records into its database and cannot run "
                                               "on a read-only file or filesystem (a read-only mount, chattr +i). "
                                               "Make it writable, or use another --database= path.",
                                               shown, strerror(e));
                return log_error_errno(e, "Failed to open %s: %m", shown);
        }
        if (fstat(fd, &st) < 0)
                return log_error_errno(errno, "Failed to look at %s: %m", shown);
        r = refuse_file(shown, &st);
        if (r < 0)
                return r;
        if (st.st_mode & (S_IRGRP | S_IROTH)) {
                /* Ours and writable only by us: made readable to all by an earlier lineaged's umask. */
                if (fchmod(fd, st.st_mode & 0700) < 0)
                        return log_error_errno(errno, "Failed to make %s private: %m", shown);
                log_notice("Made %s private (mode %04o was readable by others).", shown, (unsigned) (st.st_mode & 07777));
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}
