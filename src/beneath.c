/* Opening beneath a directory descriptor: openat2(RESOLVE_BENEATH), so the kernel
 * refuses absolute symlinks, ".." and any symlink that would leave the directory, or a
 * component-wise walk that does the same where openat2 is missing. */
#include "sluice/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sluice/path.h"

/* ---- the fallback walk ---- */

#define WALK_DEPTH_MAX 64 /* directories deep */
#define WALK_LINKS_MAX 40 /* symlinks followed, as the kernel's own limit */

/* The walk's state: the path still to resolve (a symlink's target is spliced into it)
 * and the directories entered so far: dirs[0] is the root (not ours to close). ".."
 * pops, so it is resolved here, never by the filesystem, and can never climb above
 * dirs[0]. */
struct walk {
    int dirs[WALK_DEPTH_MAX];
    int depth;
    int links;
    char path[2 * SL_PATH_MAX];
};

static void walk_release(struct walk *wk)
{
    while (wk->depth > 0)
        close(wk->dirs[wk->depth--]);
}

/* Replaces the unread path `rest` with "<link target>/<rest>" in buf (which may hold
 * rest). Returns 0 or a negative errno: absolute targets are refused like
 * RESOLVE_BENEATH refuses them. */
static int splice_link(int linkfd, char *buf, size_t cap, const char *rest)
{
    char target[SL_PATH_MAX];
    ssize_t n = readlinkat(linkfd, "", target, sizeof(target));
    if (n < 0)
        return -errno;
    if ((size_t)n >= sizeof(target))
        return -ENAMETOOLONG;
    if (n == 0 || target[0] == '/')
        return -EXDEV;
    size_t rest_len = strlen(rest);
    if ((size_t)n + 1 + rest_len + 1 > cap)
        return -ENAMETOOLONG;
    memmove(buf + n + 1, rest, rest_len + 1);
    memcpy(buf, target, (size_t)n);
    buf[n] = '/';
    return 0;
}

/* "..": pops a directory; at the root it would leave it. */
static bool walk_up(struct walk *wk, int *result)
{
    if (wk->depth == 0) {
        *result = -EXDEV;
        return true;
    }
    close(wk->dirs[wk->depth--]);
    return false;
}

/* Component `name` of the current directory, with `rest` still to resolve: a symlink is
 * spliced into the path (*next restarts there), a directory is entered, and the last
 * component is opened with `flags`. Returns true when the walk is over (*result: the
 * descriptor or -errno). */
static bool walk_enter(struct walk *wk, const char *name, const char *rest, bool last, int flags,
                       char **next, int *result)
{
    int cur = wk->dirs[wk->depth];
    int fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        *result = -err;
        return true;
    }
    if (S_ISLNK(st.st_mode)) {
        int rc = ++wk->links > WALK_LINKS_MAX ? -ELOOP
                                              : splice_link(fd, wk->path, sizeof(wk->path), rest);
        close(fd);
        *result = rc;
        *next = wk->path;
        return rc < 0;
    }
    if (last) {
        close(fd);
        /* O_NOFOLLOW: a file swapped for a symlink since the check is refused. */
        int out = openat(cur, name, flags | O_NOFOLLOW);
        *result = out >= 0 ? out : -errno;
        return true;
    }
    if (!S_ISDIR(st.st_mode) || wk->depth + 1 >= WALK_DEPTH_MAX) {
        close(fd);
        *result = S_ISDIR(st.st_mode) ? -ENAMETOOLONG : -ENOTDIR;
        return true;
    }
    wk->dirs[++wk->depth] = fd;
    return false;
}

/* Resolves the next component at *pp. Returns true when the walk is over. */
static bool walk_step(struct walk *wk, char **pp, int flags, int *result)
{
    char *p = *pp;
    while (*p == '/')
        p++;
    if (*p == '\0') { /* the path named a directory on the stack */
        int fd = openat(wk->dirs[wk->depth], ".", flags);
        *result = fd >= 0 ? fd : -errno;
        return true;
    }
    char *end = strchrnul(p, '/');
    bool last = *end == '\0' || end[strspn(end, "/")] == '\0';
    char *rest = *end ? end + 1 : end;
    *end = '\0';
    *pp = rest;
    if (strcmp(p, ".") == 0)
        return false;
    if (strcmp(p, "..") == 0)
        return walk_up(wk, result);
    return walk_enter(wk, p, rest, last, flags, pp, result);
}

/* Without openat2 (Linux < 5.6, a seccomp filter, valgrind), resolve the path one
 * component at a time: each is opened with O_NOFOLLOW, a symlink is read and spliced
 * into the rest of the path, and ".." pops our own stack of directories. So symlinks that
 * stay beneath the root are followed and nothing can lead above it. Exposed for tests. */
int sl_open_beneath_walk(int dirfd, const char *rel, int flags)
{
    struct walk wk; /* not zeroed: the path buffer is large, and only its string is read */
    wk.dirs[0] = dirfd;
    wk.depth = 0;
    wk.links = 0;
    if (strlen(rel) >= sizeof(wk.path))
        return -ENAMETOOLONG;
    strcpy(wk.path, rel);
    char *p = wk.path;
    int result = 0;
    while (!walk_step(&wk, &p, flags, &result))
        ;
    walk_release(&wk);
    return result;
}

/* Set once openat2 has answered ENOSYS (Linux < 5.6, valgrind): it will not appear later,
 * so every open after that goes straight to the walk instead of failing a system call
 * first (valgrind also prints five lines on stderr per call: a ?tar of a large tree
 * filled a pipe with them). Any thread may set it; a stale read costs one more ENOSYS. */
static atomic_bool no_openat2;

int sl_open_beneath(int dirfd, const char *rel, int flags)
{
    if (atomic_load_explicit(&no_openat2, memory_order_relaxed))
        return sl_open_beneath_walk(dirfd, rel, flags);
    struct open_how how = {
        .flags = (uint64_t)flags,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    const char *name = rel[0] ? rel : ".";
    long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
    if (fd >= 0)
        return (int)fd;
    if (errno == ENOSYS)
        atomic_store_explicit(&no_openat2, true, memory_order_relaxed);
    if (errno == ENOSYS || errno == EPERM)
        return sl_open_beneath_walk(dirfd, rel, flags);
    /* RESOLVE_BENEATH reports an escape as EXDEV; EAGAIN only with RESOLVE_CACHED. */
    return -errno;
}
