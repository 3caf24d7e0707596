/* Router: a resolved path to what to send, opened beneath the root directory descriptor
 * so that no path, encoding or symlink reaches outside the root. */
#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "sluice/config.h"
#include "sluice/path.h"
#include "sluice/rep.h"
#include "sluice/str.h"

enum sl_route_kind {
    SL_ROUTE_FILE,     /* fd: the representation chosen (rep), opened for reading */
    SL_ROUTE_LISTING,  /* fd: a directory without index.html, to list (rep.st: its stat) */
    SL_ROUTE_REDIRECT, /* a directory named without its trailing slash */
    SL_ROUTE_ERROR,    /* status says which */
};

#define SL_ROUTE_FILE_MAX (SL_PATH_MAX + 16) /* a path plus "/index.html" or ".html" */

struct sl_route {
    enum sl_route_kind kind;
    int status;
    int fd;
    bool is_index; /* the file is the directory's index.html (or index.htm) */
    /* SL_ROUTE_FILE: the root-relative path of the file opened (the directory's index,
     * or "a/b.html" for the clean URL "/a/b"); rep.name points into it. */
    char file[SL_ROUTE_FILE_MAX];
    /* SL_ROUTE_FILE: the file or the precompressed variant chosen for the client's
     * Accept-Encoding, with its stat, type, validators and the variants that exist.
     * SL_ROUTE_LISTING: rep.st is the directory's stat. */
    struct sl_file_rep rep;
};

/* Opens what `path` names under root_fd (this loop's descriptor of the root), choosing
 * among precompressed variants by `accept_encoding` (the field's value; p == NULL when
 * absent). A missing "/a/b" is served from "a/b.html" when cfg->clean_urls. This is the
 * only place that opens what is served. On SL_ROUTE_FILE and SL_ROUTE_LISTING the
 * caller owns route->fd and must close it. */
void sl_router_resolve(const struct sl_config *cfg, int root_fd, const struct sl_path *path,
                       struct sl_str accept_encoding, struct sl_route *route);

/* Opens the regular file at `rel` (root-relative, clean: an error page or the --spa
 * file, chosen by configuration, not by the client): SL_ROUTE_FILE, or SL_ROUTE_ERROR. */
void sl_router_resolve_file(const struct sl_config *cfg, int root_fd, const char *rel,
                            struct sl_str accept_encoding, struct sl_route *route);

/* How what is served is opened: O_NONBLOCK so that a FIFO planted under the root cannot
 * block the loop in open(2). */
#define SL_ROUTER_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

/* Opens root-relative `rel` as everything served is opened: beneath root_fd, or, with
 * --follow-symlinks, following symlinks wherever they lead (rel itself cannot climb
 * out: it has no ".."). For the files and directories of a tar archive too. Returns the
 * descriptor or a negative errno. */
int sl_router_open(const struct sl_config *cfg, int root_fd, const char *rel, int flags);

/* The status for an errno from opening a file: 404, 403 or 500. */
int sl_status_for_errno(int err);

#endif
