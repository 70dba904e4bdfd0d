/* A library whose constructor runs at dlopen and writes a marker file ($FLOWLAB_EVIL_MARKER),
 * for tests/plugin_search.rs: flowlab must never load it from the current directory's
 * target/release. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void mark(void) {
    const char *p = getenv("FLOWLAB_EVIL_MARKER");
    if (p) {
        FILE *f = fopen(p, "w");
        if (f) {
            fputs("the constructor ran\n", f);
            fclose(f);
        }
    }
}

int evil_symbol(int x) { return x; }
