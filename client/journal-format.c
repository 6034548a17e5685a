/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What journalctl -o json-pretty, -o json-seq and -o export look like on their first line. */
#include "journal-format.h"

#include <stdbool.h>

static bool blank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/* An export field name: upper-case letters, digits and '_', not starting with a digit. */
static bool field_name_char(char c, bool first) {
        return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

const char *journal_format_unreadable(const char *line, size_t n) {
        size_t i = 0, k;

        if (n > 0 && line[0] == '\x1e')
                return "json-seq";
        while (i < n && blank(line[i]))
                i++;
        if (i < n && line[i] == '{') {
                for (k = i + 1; k < n && blank(line[k]); k++)
                        ;
                return k == n ? "json-pretty" : NULL; /* "{" alone: the object goes on below */
        }
        for (k = 0; k < n && field_name_char(line[k], k == 0); k++)
                ;
        return k > 0 && k < n && line[k] == '=' ? "export" : NULL;
}
