/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture trees for tests that build a fake /proc: removing them again. */
#pragma once

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
