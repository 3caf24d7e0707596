/* Router: confinement by construction. The path has been decoded and cleaned of dot
 * segments (path.c); here it is opened with openat2(RESOLVE_BENEATH), so the kernel
 * refuses absolute symlinks, ".." and any symlink that would leave the root. */
#include "sluice/router.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
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

/* Without openat2 (Linux < 5.6, or a seccomp filter that hides it), walk the path one
 * component at a time with O_NOFOLLOW: safe, at the price of refusing every symlink. */
static int open_beneath_walk(int dirfd, const char *rel, int flags)
{
    char component[256];
    int cur = dirfd;
    const char *p = rel;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n >= sizeof(component)) {
            if (cur != dirfd)
                close(cur);
            return -ENAMETOOLONG;
        }
        memcpy(component, p, n);
        component[n] = '\0';
        int f = slash ? (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : (flags | O_NOFOLLOW);
        int next = openat(cur, n ? component : ".", f);
        int err = errno;
        if (cur != dirfd)
            close(cur);
        if (next < 0)
            return -err;
        if (!slash)
            return next;
        cur = next;
        p = slash + 1;
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
        return open_beneath_walk(dirfd, rel, flags);
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
