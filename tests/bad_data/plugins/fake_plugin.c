/* Fake plugin libraries for the bad-input corpus (tests/bad_data.rs), compiled with `cc`.
 * -DMODE_WRONG_MAJOR:   a well-formed v1 table that claims ABI major 2
 * -DMODE_BAD_MAGIC:     a table with wrong magic bytes
 * -DMODE_REFUSE:        the entry refuses the host (returns NULL)
 * -DMODE_NULL_DESCRIBE: a valid v1 header whose `describe` is NULL
 * -DMODE_NULL_NAME:     a valid v1 header whose `name` is NULL
 * -DMODE_NULL_FREE:     a valid v1 header whose `free_buf` is NULL
 * -DMODE_SHORT:         a valid v1 header that declares a table shorter than v1's
 * (no MODE):            a shared library without the entry symbol
 * The functions of the NULL cases are never meant to be called: the host must refuse the
 * table before calling anything in it. */
#include <stddef.h>
#include <stdint.h>

#if defined(MODE_NULL_DESCRIBE) || defined(MODE_NULL_NAME) || defined(MODE_NULL_FREE) || defined(MODE_SHORT)
#define VALID_HEADER
#endif

#if defined(MODE_WRONG_MAJOR) || defined(MODE_BAD_MAGIC) || defined(MODE_REFUSE) || defined(VALID_HEADER)
struct plugin_v1 {
    char magic[8];
    uint32_t abi_major;
    uint32_t abi_minor;
    size_t struct_size;
    const char *name;
    const char *version;
    void *describe, *validate, *run, *free_buf;
};
#ifdef VALID_HEADER
static int32_t never_called(void) { return 1; }
#define FN ((void *)never_called)
static const struct plugin_v1 table = {
    {'F', 'L', 'O', 'W', 'L', 'A', 'B', 0},
    1,
    0,
#ifdef MODE_SHORT
    24,
#else
    sizeof(struct plugin_v1),
#endif
#ifdef MODE_NULL_NAME
    NULL,
#else
    "testplug",
#endif
    "9.9.9",
#ifdef MODE_NULL_DESCRIBE
    NULL,
#else
    FN,
#endif
    FN, FN,
#ifdef MODE_NULL_FREE
    NULL
#else
    FN
#endif
};
#else
static const struct plugin_v1 table = {
#ifdef MODE_BAD_MAGIC
    {'N', 'O', 'T', 'F', 'L', 'O', 'W', 0},
    1,
#else
    {'F', 'L', 'O', 'W', 'L', 'A', 'B', 0},
    2,
#endif
    0, sizeof(struct plugin_v1), "testplug", "9.9.9", NULL, NULL, NULL, NULL};
#endif

const void *flowlab_plugin_v1(const void *host) {
    (void)host;
#ifdef MODE_REFUSE
    return NULL;
#else
    return &table;
#endif
}
#else
int not_a_flowlab_plugin(int x) { return x + 1; }
#endif
