/* Router: a resolved path to what to send, opened beneath the root directory descriptor
 * so that no path, encoding or symlink reaches outside the root. */
#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <stdbool.h>
#include <sys/stat.h>

#include "sluice/config.h"
#include "sluice/path.h"

enum sl_route_kind {
    SL_ROUTE_FILE,     /* fd: a regular file opened for reading, st its fstat */
    SL_ROUTE_LISTING,  /* fd: a directory without index.html, opened for reading */
    SL_ROUTE_REDIRECT, /* a directory named without its trailing slash */
    SL_ROUTE_ERROR,    /* status says which */
};

struct sl_route {
    enum sl_route_kind kind;
    int status;
    int fd;
    struct stat st;
    bool is_index;    /* the file is the directory's index.html */
    const char *name; /* the file's own name within path->rel (for MIME and downloads) */
    size_t name_len;
};

/* Opens what `path` names under cfg->root_fd. On SL_ROUTE_FILE and SL_ROUTE_LISTING the
 * caller owns route->fd and must close it. */
void sl_router_resolve(const struct sl_config *cfg, const struct sl_path *path,
                       struct sl_route *route);

/* Opens `rel` (root-relative, already normalised) beneath dirfd, refusing to leave it;
 * returns the descriptor or -errno. Flags as for open(2). */
int sl_open_beneath(int dirfd, const char *rel, int flags);

/* The same without openat2: a component-wise walk that follows symlinks only while they
 * stay beneath dirfd (used when the kernel or a sandbox lacks openat2; for tests). */
int sl_open_beneath_walk(int dirfd, const char *rel, int flags);

/* The status for an errno from opening a file: 404, 403 or 500. */
int sl_status_for_errno(int err);

/* Builds the Location for a directory redirect: the client's own encoded path with one
 * '/' added, its query kept, and any run of leading slashes folded into one so the
 * result can never be read as a network-path reference ("//host/...", CVE-2021-28861).
 * Returns the length, or 0 when it does not fit in cap. */
size_t sl_redirect_location(char *out, size_t cap, const struct sl_path *path);

#endif
