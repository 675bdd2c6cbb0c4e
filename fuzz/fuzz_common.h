#ifndef CAFE_FUZZ_COMMON_H
#define CAFE_FUZZ_COMMON_H

/* Shared by the libFuzzer harnesses: a property violation is a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* FNV-1a, to compare what two runs produced without keeping it all. */
static inline uint64_t fuzz_hash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

#define FUZZ_HASH_INIT 14695981039346656037ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
