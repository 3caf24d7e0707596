/* Router: confinement by construction. The path has been decoded and cleaned of dot
 * segments (path.c); here it is opened with openat2(RESOLVE_BENEATH), so the kernel
 * refuses absolute symlinks, ".." and any symlink that would leave the root. */
#include "sluice/router.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int sl_status_for_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG: return 404;
    case EACCES:
    case EPERM:
    case ELOOP:
    case EXDEV: return 403;
    default: return 500;
    }
}

/* ---- the fallback walk ---- */

#define WALK_DEPTH_MAX 64 /* directories deep */
#define WALK_LINKS_MAX 40 /* symlinks followed, as the kernel's own limit */

/* The directories entered so far: dirs[0] is the root (not ours to close). ".." pops,
 * so it is resolved here, never by the filesystem, and can never climb above dirs[0]. */
struct walk {
    int dirs[WALK_DEPTH_MAX];
    int depth;
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

/* Without openat2 (Linux < 5.6, a seccomp filter, valgrind), resolve the path one
 * component at a time: each is opened with O_NOFOLLOW, a symlink is read and spliced
 * into the rest of the path, and ".." pops our own stack of directories. So symlinks that
 * stay beneath the root are followed and nothing can lead above it. Exposed for tests. */
int sl_open_beneath_walk(int dirfd, const char *rel, int flags)
{
    char path[2 * SL_PATH_MAX];
    if (strlen(rel) >= sizeof(path))
        return -ENAMETOOLONG;
    strcpy(path, rel);
    struct walk wk = {.dirs = {dirfd}, .depth = 0};
    int links = 0;
    char *p = path;
    for (;;) {
        while (*p == '/')
            p++;
        char *end = strchrnul(p, '/');
        bool last = *end == '\0' || end[strspn(end, "/")] == '\0';
        int cur = wk.dirs[wk.depth];
        if (*p == '\0') { /* the path named a directory on the stack */
            int fd = openat(cur, ".", flags);
            int err = errno;
            walk_release(&wk);
            return fd >= 0 ? fd : -err;
        }
        char saved = *end;
        *end = '\0';
        char *rest = saved ? end + 1 : end;
        if (strcmp(p, ".") == 0) {
            p = rest;
            continue;
        }
        if (strcmp(p, "..") == 0) {
            if (wk.depth == 0) {
                walk_release(&wk);
                return -EXDEV;
            }
            close(wk.dirs[wk.depth--]);
            p = rest;
            continue;
        }
        int fd = openat(cur, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            int err = errno;
            if (fd >= 0)
                close(fd);
            walk_release(&wk);
            return -err;
        }
        if (S_ISLNK(st.st_mode)) {
            int rc = ++links > WALK_LINKS_MAX ? -ELOOP : splice_link(fd, path, sizeof(path), rest);
            close(fd);
            if (rc < 0) {
                walk_release(&wk);
                return rc;
            }
            p = path;
            continue;
        }
        if (last) {
            close(fd);
            /* O_NOFOLLOW: a file swapped for a symlink since the check is refused. */
            int out = openat(cur, p, flags | O_NOFOLLOW);
            int err = errno;
            walk_release(&wk);
            return out >= 0 ? out : -err;
        }
        if (!S_ISDIR(st.st_mode) || wk.depth + 1 >= WALK_DEPTH_MAX) {
            close(fd);
            walk_release(&wk);
            return S_ISDIR(st.st_mode) ? -ENAMETOOLONG : -ENOTDIR;
        }
        wk.dirs[++wk.depth] = fd;
        p = rest;
    }
}

int sl_open_beneath(int dirfd, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)flags,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    const char *name = rel[0] ? rel : ".";
    long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
    if (fd >= 0)
        return (int)fd;
    if (errno == ENOSYS || errno == EPERM)
        return sl_open_beneath_walk(dirfd, rel, flags);
    /* RESOLVE_BENEATH reports an escape as EXDEV; EAGAIN only with RESOLVE_CACHED. */
    return -errno;
}

size_t sl_redirect_location(char *out, size_t cap, const struct sl_path *path)
{
    const char *p = path->raw_path;
    const char *end = p + path->raw_path_len;
    /* Browsers read "\" as "/" in http URLs, so "//host" and "/\host" would both be
     * network-path references (an open redirect): fold every leading '/' into one and
     * escape each backslash, which names the same file here (decoded once). */
    while (p + 1 < end && p[1] == '/')
        p++;
    size_t len = 0;
    for (; p < end; p++) {
        size_t need = *p == '\\' ? 3 : 1;
        if (len + need >= cap)
            return 0;
        if (*p == '\\') {
            memcpy(out + len, "%5C", 3);
        } else {
            out[len] = *p;
        }
        len += need;
    }
    size_t tail = 1 + (path->raw_query ? 1 + path->raw_query_len : 0);
    if (len + tail + 1 > cap)
        return 0;
    out[len++] = '/';
    if (path->raw_query) {
        out[len++] = '?';
        memcpy(out + len, path->raw_query, path->raw_query_len);
        len += path->raw_query_len;
    }
    out[len] = '\0';
    return len;
}

static void route_error(struct sl_route *route, int status)
{
    route->kind = SL_ROUTE_ERROR;
    route->status = status;
    route->fd = -1;
}

/* O_NONBLOCK so that a FIFO planted under the root cannot block the event loop in
 * open(2); it has no effect on reads of regular files. */
#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

static void route_directory(const struct sl_config *cfg, const struct sl_path *path,
                            struct sl_route *route)
{
    if (!path->trailing_slash) {
        close(route->fd);
        route->fd = -1;
        route->kind = SL_ROUTE_REDIRECT;
        route->status = 301;
        return;
    }
    int dirfd = route->fd;
    char index[SL_PATH_MAX + sizeof("/index.html")];
    snprintf(index, sizeof(index), "%s%sindex.html", path->rel, path->len ? "/" : "");
    int fd = sl_open_beneath(cfg->root_fd, index, OPEN_FLAGS);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        close(dirfd);
        route->kind = SL_ROUTE_FILE;
        route->status = 200;
        route->fd = fd;
        route->st = st;
        route->is_index = true;
        route->name = "index.html";
        route->name_len = strlen("index.html");
        return;
    }
    if (fd >= 0)
        close(fd);
    /* Only a missing index means "list the directory". One that exists but cannot be
     * served (unreadable, a symlink leading out, not a regular file) must not reveal the
     * directory it was meant to stand in front of. */
    if (fd != -ENOENT) {
        close(dirfd);
        route_error(route, fd >= 0 || sl_status_for_errno(-fd) != 500 ? 403 : 500);
        return;
    }
    if (!cfg->listing) {
        close(dirfd);
        route_error(route, 403);
        return;
    }
    route->kind = SL_ROUTE_LISTING;
    route->status = 200;
}

void sl_router_resolve(const struct sl_config *cfg, const struct sl_path *path,
                       struct sl_route *route)
{
    *route = (struct sl_route){.fd = -1};
    if (!cfg->dotfiles && sl_path_has_hidden_segment(path->rel, path->len)) {
        route_error(route, 404);
        return;
    }
    int fd = sl_open_beneath(cfg->root_fd, path->rel, OPEN_FLAGS);
    if (fd < 0) {
        route_error(route, sl_status_for_errno(-fd));
        return;
    }
    route->fd = fd;
    if (fstat(fd, &route->st) != 0) {
        close(fd);
        route_error(route, 500);
        return;
    }
    const char *slash = strrchr(path->rel, '/');
    route->name = slash ? slash + 1 : path->rel;
    route->name_len = path->len - (size_t)(route->name - path->rel);
    if (S_ISDIR(route->st.st_mode)) {
        route_directory(cfg, path, route);
        return;
    }
    if (!S_ISREG(route->st.st_mode)) {
        close(fd);
        route_error(route, 403); /* devices, FIFOs, sockets are never served */
        return;
    }
    if (path->trailing_slash) {
        close(fd);
        route_error(route, 404); /* "file.txt/" names a directory that does not exist */
        return;
    }
    route->kind = SL_ROUTE_FILE;
    route->status = 200;
}
