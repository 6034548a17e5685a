/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture trees for tests that build a fake /proc: writing files and directories in them, removing them again. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fixture that cannot be built is no test result: the test stops with what failed and errno. */
static inline void die(const char *what) {
        fprintf(stderr, "test setup failed: %s: %m\n", what);
        exit(EXIT_FAILURE);
}

/* path = root/rel; a fixture path never needs more than PATH_MAX. */
static inline void fixture_path(char path[static PATH_MAX], const char *root, const char *rel) {
        if (snprintf(path, PATH_MAX, "%s/%s", root, rel) >= PATH_MAX) {
                errno = ENAMETOOLONG;
                die(rel);
        }
}

/* Writes root/rel whole (data may hold any byte). */
static inline void put_at(const char *root, const char *rel, const void *data, size_t len) {
        char path[PATH_MAX];
        int fd;

        fixture_path(path, root, rel);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, data, len) != (ssize_t) len || close(fd) < 0)
                die(path);
}

static inline void mkdir_at(const char *root, const char *rel) {
        char path[PATH_MAX];

        fixture_path(path, root, rel);
        if (mkdir(path, 0755) < 0)
                die(path);
}

/* rm -r path (files, symlinks and directories; errors ignored: it is a test's scratch tree). */
static inline void remove_tree(const char *path) {
        DIR *d = opendir(path);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char sub[PATH_MAX];

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int) sizeof(sub))
                        continue; /* not made by a test */
                if (de->d_type == DT_DIR)
                        remove_tree(sub);
                else
                        (void) unlink(sub);
        }
        closedir(d);
        (void) rmdir(path);
}
