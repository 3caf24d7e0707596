/* Router: a resolved path to what to send, opened beneath the root directory descriptor
 * so that no path, encoding or symlink reaches outside the root. */
#ifndef SLUICE_ROUTER_H
#define SLUICE_ROUTER_H

#include <stdbool.h>
#include <sys/stat.h>

#include "sluice/config.h"
#include "sluice/listing.h"
#include "sluice/path.h"
#include "sluice/rep.h"
#include "sluice/str.h"

enum sl_route_kind {
    SL_ROUTE_FILE,     /* fd: the representation chosen (rep), opened for reading */
    SL_ROUTE_LISTING,  /* listing: a directory without index.html, read */
    SL_ROUTE_REDIRECT, /* a directory named without its trailing slash */
    SL_ROUTE_ERROR,    /* status says which */
};

struct sl_route {
    enum sl_route_kind kind;
    int status;
    int fd;
    bool is_index; /* the file is the directory's index.html */
    /* SL_ROUTE_FILE: the file or the precompressed variant chosen for the client's
     * Accept-Encoding, with its stat, type, validators and the variants that exist. */
    struct sl_file_rep rep;
    /* SL_ROUTE_LISTING: the directory's entries, read and sorted (sl_listing_free). */
    struct sl_listing listing;
};

/* Opens what `path` names under cfg->root_fd, choosing among precompressed variants by
 * `accept_encoding` (the field's value; p == NULL when absent). This is the only place
 * that opens what is served. On SL_ROUTE_FILE the caller owns route->fd and must close
 * it; on SL_ROUTE_LISTING it frees route->listing. */
void sl_router_resolve(const struct sl_config *cfg, const struct sl_path *path,
                       struct sl_str accept_encoding, struct sl_route *route);

/* The status for an errno from opening a file: 404, 403 or 500. */
int sl_status_for_errno(int err);

#endif
