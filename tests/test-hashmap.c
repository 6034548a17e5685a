/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the hashmap against a plain array model, with many inserts and removals. */
#include "hashmap.h"
#include "tests.h"

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

        ASSERT_OK(hashmap_new(&h));
        for (int round = 0; round < 2000000; round++) {
                uint64_t key = rnd() % N;

                if (present[key]) {
                        ASSERT_EQ((uintptr_t) hashmap_get(h, key), key + 1);
                        if (rnd() % 2 == 0) {
                                ASSERT_EQ((uintptr_t) hashmap_remove(h, key), key + 1);
                                present[key] = 0;
                                n--;
                        }
                } else {
                        ASSERT_TRUE(!hashmap_get(h, key));
                        ASSERT_OK(hashmap_put(h, key, (void *) (uintptr_t) (key + 1)));
                        present[key] = 1;
                        n++;
                }
        }
        ASSERT_EQ(hashmap_size(h), n);
        if (present[5])
                ASSERT_EQ(hashmap_put(h, 5, (void *) 1), -EEXIST);
        while (hashmap_iterate(h, &it, &k, &v)) {
                ASSERT_TRUE(k < N && present[k]);
                ASSERT_EQ((uintptr_t) v, k + 1);
                seen++;
        }
        ASSERT_EQ(seen, hashmap_size(h));
        printf("hashmap: %zu items ok\n", n);
        return 0;
}
