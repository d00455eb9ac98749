/* A slow disk for one process: LD_PRELOAD this and every fsync and fdatasync first sleeps
 * SLOW_FSYNC_MS milliseconds (from the environment), then does the real one. With
 * SLOW_FSYNC_GATE=PATH it sleeps only while PATH exists, so a test can slow a running
 * process's disk down (and let it go) without restarting it. SQLite (libsqlite3,
 * dynamically linked) and Python's os.fsync call these libc symbols, so a node's Raft
 * writes wait as on a bad disk.
 * Built by tests/integration/test_slow_disk.py: cc -shared -fPIC -O2 -o X.so X.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void slow_down(void) {
    const char *ms = getenv("SLOW_FSYNC_MS"), *gate = getenv("SLOW_FSYNC_GATE");
    long delay = ms ? atol(ms) : 0;
    if (delay <= 0 || (gate && access(gate, F_OK) != 0)) return;
    struct timespec left = {delay / 1000, (delay % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
        /* interrupted by a signal: sleep the rest */
    }
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    slow_down();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    slow_down();
    return real(fd);
}
