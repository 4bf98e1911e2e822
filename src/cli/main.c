#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("snnfit %s (%s)\n", SNNFIT_VERSION, SNNFIT_GIT_COMMIT);
        return 0;
    }
    fprintf(stderr, "usage: snnfit <command> [options]\n");
    return 2;
}
