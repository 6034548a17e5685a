/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the hashmap against a plain array model, with many inserts and removals. */
#include "hashmap.h"

#define N 200000

static uint64_t state = 88172645463325252ULL;
static uint64_t rnd(void) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
}

int main(void) {
        _cleanup_(hashmap_freep) Hashmap *h = NULL;
        static char present[N];
        size_t n = 0, it = 0, seen = 0;
        uint64_t k;
        void *v;

        if (hashmap_new(&h) < 0)
                return 1;
        for (int round = 0; round < 2000000; round++) {
                uint64_t key = rnd() % N;

                if (present[key]) {
                        if (hashmap_get(h, key) != (void *) (uintptr_t) (key + 1)) {
                                fprintf(stderr, "lookup of %llu failed\n", (unsigned long long) key);
                                return 1;
                        }
                        if (rnd() % 2 == 0) {
                                if (hashmap_remove(h, key) != (void *) (uintptr_t) (key + 1))
                                        return 1;
                                present[key] = 0;
                                n--;
                        }
                } else {
                        if (hashmap_get(h, key))
                                return 1;
                        if (hashmap_put(h, key, (void *) (uintptr_t) (key + 1)) < 0)
                                return 1;
                        present[key] = 1;
                        n++;
                }
        }
        if (hashmap_size(h) != n)
                return 1;
        if (present[5] && hashmap_put(h, 5, (void *) 1) != -EEXIST)
                return 1;
        while (hashmap_iterate(h, &it, &k, &v)) {
                if (k >= N || !present[k] || v != (void *) (uintptr_t) (k + 1))
                        return 1;
                seen++;
        }
        if (seen != hashmap_size(h)) {
                fprintf(stderr, "iterated %zu of %zu\n", seen, hashmap_size(h));
                return 1;
        }
        printf("hashmap: %zu items ok\n", n);
        return 0;
}
