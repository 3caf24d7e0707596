/* Router: from a cleaned path to what is served, opened beneath the root (beneath.c), so
 * no absolute symlink, ".." or symlink leading out can reach beyond it. The only module
 * that opens what is served: files, precompressed variants, index files, directories
 * for listings. */
#include "sluice/router.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "sluice/beneath.h"
#include "sluice/charset.h"
#include "sluice/inject.h"
#include "sluice/mime.h"
#include "sluice/negotiate.h"
#include "sluice/plan.h"

int sl_status_for_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
    case EXDEV: return 404; /* a symlink leading out of the root names nothing served */
    case EACCES:
    case EPERM:
    case ELOOP: return 403;
    default: return 500;
    }
}

/* ---- precompressed variants ---- */

static const int variant_order[SL_VARIANTS] = {SL_ENC_BR, SL_ENC_ZSTD, SL_ENC_GZIP};

/* A variant stands in for the original only when it is a regular file at least as new:
 * an older one was left behind by an earlier build. Whole seconds: Debian's brotli -k
 * and zstd keep the original's mtime to the second only, so a variant made from the
 * current file would otherwise look older by the nanoseconds. */
static bool variant_fresh(const struct stat *v, const struct stat *orig)
{
    return S_ISREG(v->st_mode) && v->st_mtim.tv_sec >= orig->st_mtim.tv_sec;
}

int sl_router_open(const struct sl_config *cfg, int root_fd, const char *rel, int flags)
{
    if (!cfg->follow_symlinks)
        return sl_open_beneath(root_fd, rel, flags);
    int fd = openat(root_fd, rel[0] ? rel : ".", flags);
    return fd >= 0 ? fd : -errno;
}

static int open_served(const struct sl_config *cfg, int root_fd, const char *rel)
{
    return sl_router_open(cfg, root_fd, rel, SL_ROUTER_OPEN_FLAGS);
}

/* Opens base.br, base.zst and base.gz where they are fresh; returns the mask of those
 * found, with fds[i] (or -1) and sts[i] in variant_order. */
static unsigned open_variants(const struct sl_config *cfg, int root_fd, const char *base,
                              const struct stat *orig, int fds[SL_VARIANTS],
                              struct stat sts[SL_VARIANTS])
{
    unsigned available = 0;
    /* The base once, then each suffix after it, not snprintf: three names per
     * revalidation of every file (bench/RESULTS.md, instructions per request). */
    char name[SL_ROUTE_FILE_MAX + 8];
    size_t base_len = strlen(base);
    if (base_len < sizeof(name))
        memcpy(name, base, base_len);
    for (int i = 0; i < SL_VARIANTS; i++) {
        fds[i] = -1;
        const char *suffix = sl_encoding_suffix(variant_order[i]);
        size_t suffix_len = strlen(suffix);
        if (base_len + suffix_len >= sizeof(name))
            continue;
        memcpy(name + base_len, suffix, suffix_len + 1);
        int fd = open_served(cfg, root_fd, name);
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

static bool is_html(const struct sl_file_rep *rep)
{
    return strncmp(rep->mime, "text/html", 9) == 0;
}

/* Looks for variants of route->file even without Accept-Encoding (the identity response
 * of a file that has variants must say Vary too) and, when the client accepts one,
 * switches the route to it: its descriptor, its stat, its encoding. */
static void choose_variant(const struct sl_config *cfg, int root_fd, struct sl_str accept_encoding,
                           struct sl_route *route)
{
    int fds[SL_VARIANTS];
    struct stat sts[SL_VARIANTS];
    unsigned available = open_variants(cfg, root_fd, route->file, &route->rep.st, fds, sts);
    route->rep.variants = available;
    /* With --live a page is sent as it is, so that the script can be put into it. */
    bool identity = !available || (cfg->live && is_html(&route->rep));
    int enc = identity ? SL_ENC_IDENTITY
                       : sl_negotiate_encoding(accept_encoding.p, accept_encoding.n, available);
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

/* ---- routes ---- */

static void route_error(struct sl_route *route, int status)
{
    route->kind = SL_ROUTE_ERROR;
    route->status = status;
    route->fd = -1;
}

/* An HTML page is sent with the charset it declares itself (a BOM, or a <meta> within
 * its first 1,024 bytes, as a browser's prescan finds it): a header saying utf-8 would
 * override a latin-1 page's own declaration and garble it. Read once per cache entry. */
static void declare_charset(int fd, struct sl_file_rep *rep)
{
    if (!is_html(rep))
        return;
    char head[SL_CHARSET_PRESCAN_MAX];
    ssize_t n = pread(fd, head, sizeof(head), 0);
    const char *charset = n > 0 ? sl_charset_prescan(head, (size_t)n) : NULL;
    if (charset && strcmp(charset, "utf-8") != 0) {
        rep->mime = "text/html";
        rep->charset = charset;
    }
}

/* With --live, where the script goes in an HTML page: before its last </body>, looked
 * for in the last SL_INJECT_TAIL bytes (where it is in any page that has one), read once
 * per cache entry like the charset. Never into a compressed variant or a UTF-16 page:
 * the script is ASCII. */
static uint64_t inject_point(const struct sl_config *cfg, int fd, const struct sl_file_rep *rep)
{
    if (!cfg->live || !is_html(rep) || rep->encoding != SL_ENC_IDENTITY ||
        (rep->charset && strncmp(rep->charset, "utf-16", 6) == 0))
        return SL_INJECT_NONE;
    uint64_t size = (uint64_t)rep->st.st_size;
    uint64_t start = size > SL_INJECT_TAIL ? size - SL_INJECT_TAIL : 0;
    char tail[SL_INJECT_TAIL];
    ssize_t n = size > start ? pread(fd, tail, (size_t)(size - start), (off_t)start) : 0;
    if (n < 0)
        return SL_INJECT_NONE;
    return start + sl_inject_find(tail, (size_t)n);
}

/* route->fd is open on the regular file route->file: describe it (type from its name,
 * charset from an HTML page's own bytes, validators from what is sent: each encoding has
 * its own ETag) after choosing among its variants. */
static void route_file(const struct sl_config *cfg, int root_fd, struct sl_str accept_encoding,
                       struct sl_route *route)
{
    struct sl_file_rep *rep = &route->rep;
    route->kind = SL_ROUTE_FILE;
    route->status = 200;
    const char *slash = strrchr(route->file, '/');
    rep->name = slash ? slash + 1 : route->file;
    rep->name_len = strlen(rep->name);
    rep->mime = sl_mime_lookup(cfg->mime, rep->name, rep->name_len);
    rep->charset = NULL;
    declare_charset(route->fd, rep);
    rep->encoding = SL_ENC_IDENTITY;
    rep->variants = 0;
    choose_variant(cfg, root_fd, accept_encoding, route);
    /* .svgz is gzip-compressed SVG: only a browser told so renders it. */
    if (rep->encoding == SL_ENC_IDENTITY && sl_mime_encoding(rep->name, rep->name_len))
        rep->encoding = SL_ENC_GZIP;
    rep->data = NULL;
    rep->fields = NULL; /* the file cache's, when it takes the file in */
    rep->inject_at = inject_point(cfg, route->fd, rep);
    rep->produce = SL_PRODUCE_NONE;
    rep->attachment = false;
    rep->etag_len = sl_etag_format(rep->etag, (uint64_t)rep->st.st_size, rep->st.st_mtim.tv_sec,
                                   rep->st.st_mtim.tv_nsec, sl_encoding_name(rep->encoding));
    sl_httpdate_format(rep->st.st_mtim.tv_sec, rep->last_modified);
}

/* Opens route->file when it is a regular file. Returns 0, or -errno (-EISDIR, -EINVAL
 * for a directory or anything else that is not a regular file). */
static int open_regular(const struct sl_config *cfg, int root_fd, struct sl_route *route)
{
    int fd = open_served(cfg, root_fd, route->file);
    if (fd < 0)
        return fd;
    if (fstat(fd, &route->rep.st) != 0 || !S_ISREG(route->rep.st.st_mode)) {
        int err = S_ISDIR(route->rep.st.st_mode) ? -EISDIR : -EINVAL;
        close(fd);
        return err;
    }
    route->fd = fd;
    return 0;
}

/* Sets route->file to dir + "/" + name (dir may be ""). False when it does not fit. */
static bool set_file(struct sl_route *route, const char *dir, size_t dir_len, const char *name)
{
    return sl_path_join(route->file, sizeof(route->file), dir, dir_len, name, strlen(name)) > 0;
}

/* A directory to list: its descriptor and stat, not its entries. Reading it (readdir and
 * a stat per entry: 250 ms for 50,000 entries) is the directory cache's job, in the
 * thread pool, so the loop never waits for it. */
static void route_listing(int dirfd, const struct stat *dir_st, struct sl_route *route)
{
    route->kind = SL_ROUTE_LISTING;
    route->status = 200;
    route->rep.st = *dir_st; /* not an index candidate's, which looking for one may leave */
    route->fd = dirfd;
}

/* A directory named with its slash: its index.html (or index.htm), or its listing. Only
 * a missing index means "list the directory": one that exists but cannot be served
 * (unreadable, a symlink leading out, not a regular file) must not reveal the directory
 * it stands in front of. */
static void route_directory(const struct sl_config *cfg, int root_fd, const struct sl_path *path,
                            int dirfd, struct sl_str accept_encoding, struct sl_route *route)
{
    static const char *const index_names[] = {"index.html", "index.htm"};
    struct stat dir_st = route->rep.st;
    int rc = -ENOENT;
    for (size_t i = 0; i < 2 && rc == -ENOENT; i++) {
        if (!set_file(route, path->rel, path->len, index_names[i]))
            rc = -ENAMETOOLONG;
        else
            rc = open_regular(cfg, root_fd, route);
    }
    if (rc == 0) {
        close(dirfd);
        route->is_index = true;
        route_file(cfg, root_fd, accept_encoding, route);
        return;
    }
    if (rc != -ENOENT || !cfg->listing) {
        close(dirfd);
        bool refused = rc == -ENOENT || rc == -EISDIR || rc == -EINVAL;
        route_error(route, refused || sl_status_for_errno(-rc) != 500 ? 403 : 500);
        return;
    }
    route_listing(dirfd, &dir_st, route);
}

/* Clean URLs: "/a/b" names nothing, but "a/b.html" is a regular file (GitHub Pages and
 * static exports that drop the extension from their links rely on this). */
static bool route_clean_url(const struct sl_config *cfg, int root_fd, const struct sl_path *path,
                            struct sl_str accept_encoding, struct sl_route *route)
{
    if (!cfg->clean_urls || path->trailing_slash || path->len == 0)
        return false;
    if (!set_file(route, "", 0, path->rel) || strlen(route->file) + 5 >= sizeof(route->file))
        return false;
    strcat(route->file, ".html");
    if (open_regular(cfg, root_fd, route) != 0)
        return false;
    route_file(cfg, root_fd, accept_encoding, route);
    return true;
}

void sl_router_resolve(const struct sl_config *cfg, int root_fd, const struct sl_path *path,
                       struct sl_str accept_encoding, struct sl_route *route)
{
    route->fd = -1;
    route->is_index = false;
    /* The event stream's path names no file, whatever the tree holds. */
    bool refused = cfg->live && sl_inject_is_stream(path->rel, path->len);
    if (refused || (!cfg->dotfiles && sl_path_has_hidden_segment(path->rel, path->len))) {
        route_error(route, 404);
        return;
    }
    int fd = open_served(cfg, root_fd, path->rel);
    if (fd < 0) {
        if (fd != -ENOENT || !route_clean_url(cfg, root_fd, path, accept_encoding, route))
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
        route_directory(cfg, root_fd, path, fd, accept_encoding, route);
    } else if (!S_ISREG(st->st_mode) || path->trailing_slash) {
        close(fd);
        /* devices, FIFOs, sockets are never served; "file.txt/" names no directory */
        route_error(route, S_ISREG(st->st_mode) ? 404 : 403);
    } else {
        route->fd = fd;
        set_file(route, "", 0, path->rel);
        route_file(cfg, root_fd, accept_encoding, route);
    }
}

void sl_router_resolve_file(const struct sl_config *cfg, int root_fd, const char *rel,
                            struct sl_str accept_encoding, struct sl_route *route)
{
    route->fd = -1;
    route->is_index = false;
    int rc = -ENAMETOOLONG;
    if (cfg->live && sl_inject_is_stream(rel, strlen(rel)))
        rc = -ENOENT; /* the event stream's path names no file */
    else if (set_file(route, "", 0, rel))
        rc = open_regular(cfg, root_fd, route);
    if (rc != 0) {
        route_error(route, rc == -EISDIR || rc == -EINVAL ? 404 : sl_status_for_errno(-rc));
        return;
    }
    route_file(cfg, root_fd, accept_encoding, route);
}
