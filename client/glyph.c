/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tree drawing and ellipsis in UTF-8 or, in any other locale, ASCII as pstree draws it. */
#include "glyph.h"

#include <langinfo.h>
#include <locale.h>
#include <string.h>
#include <strings.h>

static bool utf8 = false;

void glyph_init(void) {
        const char *set;

        (void) setlocale(LC_CTYPE, "");
        set = nl_langinfo(CODESET);
        utf8 = set && (strcasecmp(set, "UTF-8") == 0 || strcasecmp(set, "utf8") == 0);
}

bool glyph_utf8(void) {
        return utf8;
}

const char *glyph(Glyph g) {
        static const char *const table[_GLYPH_MAX][2] = {
                [GLYPH_ELLIPSIS] = { "...", "\xe2\x80\xa6" },
                [GLYPH_TREE_VERTICAL] = { "| ", "\xe2\x94\x82 " },
                [GLYPH_TREE_BRANCH] = { "|-", "\xe2\x94\x9c\xe2\x94\x80" },
                [GLYPH_TREE_RIGHT] = { "`-", "\xe2\x94\x94\xe2\x94\x80" },
                [GLYPH_DASH] = { "-", "\xe2\x80\x93" },
        };

        if (g < 0 || g >= _GLYPH_MAX)
                return "?";
        return table[g][utf8];
}
