/* Router: from a cleaned path to what is served, opened beneath the root (beneath.c), so
 * no absolute symlink, ".." or symlink leading out can reach beyond it. The only module
 * that opens what is served: files, precompressed variants, index files, directories
 * for listings. */
#include "sluice/router.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sluice/beneath.h"
#include "sluice/listing.h"
#include "sluice/mime.h"
#include "sluice/negotiate.h"

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

static void route_error(struct sl_route *route, int status)
{
    route->kind = SL_ROUTE_ERROR;
    route->status = status;
    route->fd = -1;
}

/* O_NONBLOCK so that a FIFO planted under the root cannot block the event loop in
 * open(2); it has no effect on reads of regular files. */
#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

/* ---- precompressed variants ---- */

static const int variant_order[SL_VARIANTS] = {SL_ENC_BR, SL_ENC_ZSTD, SL_ENC_GZIP};

/* A variant stands in for the original only when it is a regular file at least as new:
 * an older one was left behind by an earlier build. */
static bool variant_fresh(const struct stat *v, const struct stat *orig)
{
    if (!S_ISREG(v->st_mode))
        return false;
    return v->st_mtim.tv_sec > orig->st_mtim.tv_sec ||
           (v->st_mtim.tv_sec == orig->st_mtim.tv_sec &&
            v->st_mtim.tv_nsec >= orig->st_mtim.tv_nsec);
}

/* Opens base.br, base.zst and base.gz where they are fresh; returns the mask of those
 * found, with fds[i] (or -1) and sts[i] in variant_order. */
static unsigned open_variants(int root_fd, const char *base, const struct stat *orig,
                              int fds[SL_VARIANTS], struct stat sts[SL_VARIANTS])
{
    unsigned available = 0;
    char name[SL_PATH_MAX + 32];
    for (int i = 0; i < SL_VARIANTS; i++) {
        fds[i] = -1;
        int n = snprintf(name, sizeof(name), "%s%s", base, sl_encoding_suffix(variant_order[i]));
        if (n < 0 || (size_t)n >= sizeof(name))
            continue;
        int fd = sl_open_beneath(root_fd, name, OPEN_FLAGS);
        if (fd < 0)
            continue;
        if (fstat(fd, &sts[i]) == 0 && variant_fresh(&sts[i], orig)) {
            fds[i] = fd;
            available |= (unsigned)variant_order[i];
        } else {
            close(fd);
        }
    }
    return available;
}

/* Looks for variants even without Accept-Encoding (the identity response of a file
 * that has variants must say Vary too) and, when the client accepts one, switches the
 * route to it: its descriptor, its stat, its encoding. */
static void choose_variant(int root_fd, const struct sl_path *path, struct sl_str accept_encoding,
                           struct sl_route *route)
{
    /* A directory's index is the file "<dir>/index.html", whose variants lie beside it. */
    char base[SL_PATH_MAX + 16];
    int n = snprintf(base, sizeof(base), "%s%s%s", path->rel,
                     route->is_index && path->len ? "/" : "", route->is_index ? "index.html" : "");
    if (n < 0 || (size_t)n >= sizeof(base))
        return;
    int fds[SL_VARIANTS];
    struct stat sts[SL_VARIANTS];
    unsigned available = open_variants(root_fd, base, &route->rep.st, fds, sts);
    route->rep.variants = available;
    int enc = available ? sl_negotiate_encoding(accept_encoding.p, accept_encoding.n, available)
                        : SL_ENC_IDENTITY;
    for (int i = 0; i < SL_VARIANTS; i++) {
        if (fds[i] < 0)
            continue;
        if (enc != variant_order[i]) {
            close(fds[i]);
            continue;
        }
        close(route->fd);
        route->fd = fds[i];
        route->rep.st = sts[i];
        route->rep.encoding = enc;
    }
}

/* The representation of the file chosen: type from the original's name, validators
 * from what is sent (each encoding has its own ETag). */
static void describe_file(struct sl_route *route, const char *name, size_t name_len)
{
    struct sl_file_rep *rep = &route->rep;
    rep->mime = sl_mime_type(name, name_len);
    rep->name = name;
    rep->name_len = name_len;
    rep->data = NULL;
    rep->etag_len = sl_etag_format(rep->etag, (uint64_t)rep->st.st_size, rep->st.st_mtim.tv_sec,
                                   rep->st.st_mtim.tv_nsec, sl_encoding_name(rep->encoding));
    sl_httpdate_format(rep->st.st_mtim.tv_sec, rep->last_modified);
}

/* ---- routes ---- */

static void route_file(const struct sl_config *cfg, const struct sl_path *path,
                       struct sl_str accept_encoding, struct sl_route *route)
{
    route->kind = SL_ROUTE_FILE;
    route->status = 200;
    route->rep.encoding = SL_ENC_IDENTITY;
    route->rep.variants = 0;
    const char *name = "index.html";
    size_t name_len = strlen(name);
    if (!route->is_index) {
        const char *slash = strrchr(path->rel, '/');
        name = slash ? slash + 1 : path->rel;
        name_len = path->len - (size_t)(name - path->rel);
    }
    choose_variant(cfg->root_fd, path, accept_encoding, route);
    describe_file(route, name, name_len);
}

static void route_listing(const struct sl_config *cfg, const struct sl_path *path, int dirfd,
                          struct sl_route *route)
{
    int rc = sl_listing_read(dirfd, cfg->root_fd, path->rel, cfg->dotfiles, &route->listing);
    close(dirfd);
    if (rc < 0) {
        route_error(route, sl_status_for_errno(-rc));
        return;
    }
    route->kind = SL_ROUTE_LISTING;
    route->status = 200;
    route->fd = -1;
}

/* A directory named with its slash: its index.html, or its listing. Only a missing index
 * means "list the directory": one that exists but cannot be served (unreadable, a symlink
 * leading out, not a regular file) must not reveal the directory it stands in front of. */
static void route_directory(const struct sl_config *cfg, const struct sl_path *path, int dirfd,
                            struct sl_str accept_encoding, struct sl_route *route)
{
    char index[SL_PATH_MAX + sizeof("/index.html")];
    snprintf(index, sizeof(index), "%s%sindex.html", path->rel, path->len ? "/" : "");
    int fd = sl_open_beneath(cfg->root_fd, index, OPEN_FLAGS);
    if (fd >= 0 && fstat(fd, &route->rep.st) == 0 && S_ISREG(route->rep.st.st_mode)) {
        close(dirfd);
        route->fd = fd;
        route->is_index = true;
        route_file(cfg, path, accept_encoding, route);
        return;
    }
    if (fd >= 0)
        close(fd);
    if (fd != -ENOENT || !cfg->listing) {
        close(dirfd);
        route_error(route, fd == -ENOENT || fd >= 0 || sl_status_for_errno(-fd) != 500 ? 403 : 500);
        return;
    }
    route_listing(cfg, path, dirfd, route);
}

void sl_router_resolve(const struct sl_config *cfg, const struct sl_path *path,
                       struct sl_str accept_encoding, struct sl_route *route)
{
    route->fd = -1;
    route->is_index = false;
    if (!cfg->dotfiles && sl_path_has_hidden_segment(path->rel, path->len)) {
        route_error(route, 404);
        return;
    }
    int fd = sl_open_beneath(cfg->root_fd, path->rel, OPEN_FLAGS);
    if (fd < 0) {
        route_error(route, sl_status_for_errno(-fd));
        return;
    }
    struct stat *st = &route->rep.st;
    if (fstat(fd, st) != 0) {
        close(fd);
        route_error(route, 500);
    } else if (S_ISDIR(st->st_mode) && !path->trailing_slash) {
        close(fd);
        route_error(route, 301);
        route->kind = SL_ROUTE_REDIRECT;
    } else if (S_ISDIR(st->st_mode)) {
        route_directory(cfg, path, fd, accept_encoding, route);
    } else if (!S_ISREG(st->st_mode) || path->trailing_slash) {
        close(fd);
        /* devices, FIFOs, sockets are never served; "file.txt/" names no directory */
        route_error(route, S_ISREG(st->st_mode) ? 404 : 403);
    } else {
        route->fd = fd;
        route_file(cfg, path, accept_encoding, route);
    }
}
