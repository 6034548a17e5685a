/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The few non-ASCII characters lineagectl draws, with ASCII stand-ins outside a UTF-8 locale. */
#pragma once

#include <stdbool.h>

typedef enum Glyph {
        GLYPH_ELLIPSIS,      /* "…" or "..." */
        GLYPH_TREE_VERTICAL, /* "│ " or "| " */
        GLYPH_TREE_BRANCH,   /* "├─" or "|-" */
        GLYPH_TREE_RIGHT,    /* "└─" or "`-" */
        GLYPH_DASH,          /* "–" or "-" */
        _GLYPH_MAX,
} Glyph;

/* Reads the character set of the locale (LC_ALL, LC_CTYPE, LANG) once: setlocale(LC_CTYPE, "") and
 * nl_langinfo(CODESET), as pstree does. Only LC_CTYPE is taken from the environment, so numbers and
 * times are printed the same in every locale. */
void glyph_init(void);

/* Whether the locale's character set is UTF-8 (false before glyph_init()). */
bool glyph_utf8(void);

const char *glyph(Glyph g);
