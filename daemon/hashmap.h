/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hashmap: an open-addressing map from 64-bit keys (pids, instance ids) to pointers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "lineage/util.h"

typedef struct Hashmap Hashmap;

int hashmap_new(Hashmap **ret);
Hashmap *hashmap_free(Hashmap *h);

/* Returns -EEXIST if the key is present, -ENOMEM on allocation failure. value must not be NULL. */
int hashmap_put(Hashmap *h, uint64_t key, void *value);
/* Inserts or overwrites. */
int hashmap_replace(Hashmap *h, uint64_t key, void *value);
void *hashmap_get(const Hashmap *h, uint64_t key);
/* Returns the removed value, or NULL. */
void *hashmap_remove(Hashmap *h, uint64_t key);
size_t hashmap_size(const Hashmap *h);
/* Bytes allocated for the table (for footprint figures). */
size_t hashmap_memory(const Hashmap *h);

/* Iteration: start with *state = 0; returns false at the end. Do not modify the map while iterating. */
bool hashmap_iterate(const Hashmap *h, size_t *state, uint64_t *ret_key, void **ret_value);

DEFINE_TRIVIAL_CLEANUP_FUNC(Hashmap *, hashmap_free);
