/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recognises journalctl output formats that lineagectl enrich cannot read, from their first line. */
#pragma once

#include <stddef.h>

/* The -o mode of journalctl that wrote a first line like this one, when it is one enrich does not
 * read: "json-pretty" (a line that is only "{"), "json-seq" (starts with the RS byte 0x1E), "export"
 * (KEY=value, such as "__CURSOR=s=…"); NULL for anything else, -o json included. Pure; reads n bytes. */
const char *journal_format_unreadable(const char *line, size_t n);
