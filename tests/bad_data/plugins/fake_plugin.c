/* Fake plugin libraries for the bad-input corpus (tests/bad_data.rs), compiled with `cc`.
 * -DMODE_WRONG_MAJOR: a well-formed v1 table that claims ABI major 2
 * -DMODE_BAD_MAGIC:   a table with wrong magic bytes
 * -DMODE_REFUSE:      the entry refuses the host (returns NULL)
 * (no MODE):          a shared library without the entry symbol */
#include <stddef.h>
#include <stdint.h>

#if defined(MODE_WRONG_MAJOR) || defined(MODE_BAD_MAGIC) || defined(MODE_REFUSE)
struct plugin_v1 {
    char magic[8];
    uint32_t abi_major;
    uint32_t abi_minor;
    size_t struct_size;
    const char *name;
    const char *version;
    void *describe, *validate, *run, *free_buf;
};
static const struct plugin_v1 table = {
#ifdef MODE_BAD_MAGIC
    {'N', 'O', 'T', 'F', 'L', 'O', 'W', 0},
    1,
#else
    {'F', 'L', 'O', 'W', 'L', 'A', 'B', 0},
    2,
#endif
    0, sizeof(struct plugin_v1), "testplug", "9.9.9", NULL, NULL, NULL, NULL};

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
