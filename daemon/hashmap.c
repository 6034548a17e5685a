/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Open addressing with linear probing and backward-shift deletion: no tombstones, so lookups stay short. */
#include "hashmap.h"

typedef struct Bucket {
        uint64_t key;
        void *value; /* NULL = empty */
} Bucket;

struct Hashmap {
        Bucket *buckets;
        size_t n_buckets; /* power of two, or 0 */
        size_t n_items;
};

static size_t hash64(uint64_t k) {
        /* splitmix64 finalizer: pids are dense and sequential, so spread them. */
        k ^= k >> 30;
        k *= 0xbf58476d1ce4e5b9ULL;
        k ^= k >> 27;
        k *= 0x94d049bb133111ebULL;
        k ^= k >> 31;
        return (size_t) k;
}

int hashmap_new(Hashmap **ret) {
        Hashmap *h = calloc(1, sizeof(Hashmap));

        if (!h)
                return -ENOMEM;
        *ret = h;
        return 0;
}

Hashmap *hashmap_free(Hashmap *h) {
        if (!h)
                return NULL;
        free(h->buckets);
        free(h);
        return NULL;
}

static Bucket *find(const Hashmap *h, uint64_t key) {
        size_t mask, i;

        if (h->n_buckets == 0)
                return NULL;
        mask = h->n_buckets - 1;
        for (i = hash64(key) & mask;; i = (i + 1) & mask) {
                Bucket *b = &h->buckets[i];

                if (!b->value)
                        return NULL;
                if (b->key == key)
                        return b;
        }
}

static int resize(Hashmap *h, size_t n) {
        Bucket *old = h->buckets;
        size_t n_old = h->n_buckets;

        h->buckets = calloc(n, sizeof(Bucket));
        if (!h->buckets) {
                h->buckets = old;
                return -ENOMEM;
        }
        h->n_buckets = n;
        for (size_t i = 0; i < n_old; i++) {
                size_t j;

                if (!old[i].value)
                        continue;
                for (j = hash64(old[i].key) & (n - 1); h->buckets[j].value; j = (j + 1) & (n - 1))
                        ;
                h->buckets[j] = old[i];
        }
        free(old);
        return 0;
}

static int insert(Hashmap *h, uint64_t key, void *value, bool overwrite) {
        Bucket *b;
        size_t i, mask;
        int r;

        if (!value)
                return -EINVAL;
        b = find(h, key);
        if (b) {
                if (!overwrite)
                        return -EEXIST;
                b->value = value;
                return 0;
        }
        /* Keep the load factor under 3/4. */
        if ((h->n_items + 1) * 4 > h->n_buckets * 3) {
                r = resize(h, h->n_buckets ? h->n_buckets * 2 : 64);
                if (r < 0)
                        return r;
        }
        mask = h->n_buckets - 1;
        for (i = hash64(key) & mask; h->buckets[i].value; i = (i + 1) & mask)
                ;
        h->buckets[i] = (Bucket) { .key = key, .value = value };
        h->n_items++;
        return 0;
}

int hashmap_put(Hashmap *h, uint64_t key, void *value) {
        return insert(h, key, value, false);
}

int hashmap_replace(Hashmap *h, uint64_t key, void *value) {
        return insert(h, key, value, true);
}

void *hashmap_get(const Hashmap *h, uint64_t key) {
        Bucket *b = find(h, key);

        return b ? b->value : NULL;
}

void *hashmap_remove(Hashmap *h, uint64_t key) {
        Bucket *b = find(h, key);
        size_t i, j, mask;
        void *v;

        if (!b)
                return NULL;
        v = b->value;
        mask = h->n_buckets - 1;
        i = (size_t) (b - h->buckets);
        /* Shift later members of the probe run back so no lookup stops early at the hole. */
        for (j = (i + 1) & mask; h->buckets[j].value; j = (j + 1) & mask) {
                size_t home = hash64(h->buckets[j].key) & mask;

                /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
                if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
                        h->buckets[i] = h->buckets[j];
                        i = j;
                }
        }
        h->buckets[i] = (Bucket) {};
        h->n_items--;
        return v;
}

size_t hashmap_size(const Hashmap *h) {
        return h ? h->n_items : 0;
}

size_t hashmap_memory(const Hashmap *h) {
        return h ? h->n_buckets * sizeof(Bucket) : 0;
}

bool hashmap_iterate(const Hashmap *h, size_t *state, uint64_t *ret_key, void **ret_value) {
        for (; *state < h->n_buckets; (*state)++) {
                Bucket *b = &h->buckets[*state];

                if (!b->value)
                        continue;
                (*state)++;
                if (ret_key)
                        *ret_key = b->key;
                if (ret_value)
                        *ret_value = b->value;
                return true;
        }
        return false;
}
