/* The walk that lays a tree out for ?tar (see tarwalk.h): each directory is read whole,
 * its entries stat'ed, filtered and sorted, its descriptor closed, and then its
 * subdirectories are walked in turn, opened again by their root-relative paths as the
 * router opens them. */
#include "sluice/tarwalk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/buf.h"
#include "sluice/router.h"

/* One directory being walked, linked to its parent's: the chain a loop check climbs. */
struct frame {
    const struct frame *parent;
    dev_t dev;
    ino_t ino;
};

struct walker {
    const struct sl_config *cfg;
    int root_fd;
    struct sl_tar_layout *l;
    size_t cap;          /* members allocated */
    struct sl_buf paths; /* growing: l->paths as it is built */
    /* The root-relative path of the entry at hand: the top directory's path, then '/'
     * and the member's path below it (rel[base..]), which the walk extends and cuts. */
    char rel[SL_PATH_MAX];
    size_t base; /* where member paths start in rel (0 for the root: no '/') */
};

/* An entry of the directory being read, before it becomes a member: only what the member
 * keeps of its stat (a directory of 100,000 entries is held whole while it is walked). */
struct child {
    size_t name; /* offset in the directory's names */
    size_t name_len;
    bool link;              /* a symlink, not yet resolved: m is not filled */
    struct sl_tar_member m; /* of what the entry leads to; no path yet */
};

struct dir_read {
    struct child *children;
    size_t count;
    size_t cap;
    struct sl_buf names; /* growing, NUL after each */
};

/* ---- reading one directory ---- */

static bool hidden(const char *name, bool dotfiles)
{
    if (name[0] != '.')
        return false;
    return name[1] == '\0' || (name[1] == '.' && name[2] == '\0') || !dotfiles;
}

/* rel = the current path (len bytes) + '/' + name; false when it would not fit. */
static bool extend(struct walker *w, size_t len, const char *name, size_t name_len)
{
    size_t sep = len > 0 ? 1 : 0;
    if (len + sep + name_len >= sizeof(w->rel))
        return false;
    if (sep)
        w->rel[len] = '/';
    memcpy(w->rel + len + sep, name, name_len + 1);
    return true;
}

/* Whether entry `name` of dirfd may go in, from its own stat (st): a regular file this
 * process may read, a directory, or a symlink (resolved once the directory is closed:
 * resolve_link). */
static bool keep_child(int dirfd, const char *name, struct stat *st)
{
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) != 0)
        return false;
    if (S_ISREG(st->st_mode))
        return faccessat(dirfd, name, R_OK, AT_EACCESS) == 0;
    return S_ISDIR(st->st_mode) || S_ISLNK(st->st_mode);
}

/* What symlink `name` in w->rel[0..len) leads to, resolved as the router resolves a
 * request for it (one that leads outside the root is left out): true, with st, for a
 * regular file this process may read or a directory. */
static bool resolve_link(struct walker *w, size_t len, const char *name, struct stat *st)
{
    if (!extend(w, len, name, strlen(name)))
        return false;
    int fd = sl_router_open(w->cfg, w->root_fd, w->rel, SL_ROUTER_OPEN_FLAGS);
    w->rel[len] = '\0';
    if (fd < 0)
        return false;
    bool ok = fstat(fd, st) == 0;
    close(fd); /* opened for reading: a file it leads to is readable */
    return ok && (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode));
}

/* Makes room in *array (of *cap elements of `size` bytes) for element `count`, doubling,
 * so that n additions cost O(n) copying. Returns 0 or -ENOMEM. */
static int grow(void **array, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 32;
    if (n > SIZE_MAX / size)
        return -ENOMEM;
    void *p = realloc(*array, n * size);
    if (!p)
        return -ENOMEM;
    *array = p;
    *cap = n;
    return 0;
}

/* What a member keeps of the stat of what it is (its path is set by add_member). */
static struct sl_tar_member member_of(const struct stat *st)
{
    bool dir = S_ISDIR(st->st_mode);
    return (struct sl_tar_member){
        .size = dir ? 0 : (uint64_t)st->st_size,
        .dev = (uint64_t)st->st_dev,
        .ino = (uint64_t)st->st_ino,
        .mtime = st->st_mtim.tv_sec,
        .ctime = st->st_ctim.tv_sec,
        .mtime_ns = (uint32_t)st->st_mtim.tv_nsec,
        .ctime_ns = (uint32_t)st->st_ctim.tv_nsec,
        .type = dir ? SL_TAR_DIR : SL_TAR_FILE,
        .exec = !dir && (st->st_mode & 0111) != 0,
    };
}

static int add_child(struct dir_read *d, const char *name, const struct stat *st)
{
    if (grow((void **)&d->children, &d->cap, d->count, sizeof(*d->children)) != 0)
        return -ENOMEM;
    size_t len = strlen(name);
    bool link = S_ISLNK(st->st_mode);
    d->children[d->count++] = (struct child){.name = d->names.len,
                                             .name_len = len,
                                             .link = link,
                                             .m = link ? (struct sl_tar_member){0} : member_of(st)};
    sl_buf_append(&d->names, name, len + 1);
    return d->names.overflow ? -ENOMEM : 0;
}

/* Byte order, not the listing's natural order: it needs no rules, so the same names give
 * the same archive on every version and host. */
static int child_cmp(const void *a, const void *b, void *names)
{
    const struct child *x = a;
    const struct child *y = b;
    const char *p = names;
    return strcmp(p + x->name, p + y->name);
}

/* Reads every entry of the directory open at fd (taken: closed here), which is
 * w->rel[0..len), into d, sorted. Symlinks are resolved after the directory is closed,
 * so a walk holds one descriptor besides the root's at any time. */
static int read_dir(struct walker *w, int fd, size_t len, struct dir_read *d)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int err = -errno;
        close(fd);
        return err;
    }
    int err = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            err = -errno;
            break;
        }
        struct stat st;
        if (hidden(de->d_name, w->cfg->dotfiles) || !keep_child(fd, de->d_name, &st))
            continue;
        if ((err = add_child(d, de->d_name, &st)) != 0)
            break;
    }
    closedir(dir);
    size_t kept = 0;
    for (size_t i = 0; err == 0 && i < d->count; i++) {
        struct child *c = &d->children[i];
        struct stat st;
        if (c->link && resolve_link(w, len, d->names.p + c->name, &st)) {
            c->m = member_of(&st);
            c->link = false;
        }
        if (!c->link)
            d->children[kept++] = *c;
    }
    d->count = kept;
    if (err == 0 && d->count > 1)
        qsort_r(d->children, d->count, sizeof(*d->children), child_cmp, d->names.p);
    return err;
}

/* ---- members ---- */

static int add_member(struct walker *w, const struct sl_tar_member *m, size_t len)
{
    struct sl_tar_layout *l = w->l;
    if (l->count > w->cfg->tar_max_entries) /* the top directory is not counted */
        return -EFBIG;
    if (grow((void **)&l->members, &w->cap, l->count, sizeof(*l->members)) != 0)
        return -ENOMEM;
    size_t start = len > w->base ? w->base : len; /* the top directory: "" */
    size_t path_len = len - start;
    struct sl_tar_member *out = &l->members[l->count++];
    *out = *m;
    out->path = (uint32_t)w->paths.len;
    out->path_len = (uint16_t)path_len;
    sl_buf_append(&w->paths, w->rel + start, path_len + 1);
    return w->paths.overflow ? -ENOMEM : 0;
}

/* Takes the last member back (a directory that could not be opened after all). */
static void drop_member(struct walker *w)
{
    struct sl_tar_member *m = &w->l->members[--w->l->count];
    sl_buf_truncate(&w->paths, m->path);
}

static bool on_chain(const struct frame *f, const struct stat *st)
{
    for (; f; f = f->parent)
        if (f->dev == st->st_dev && f->ino == st->st_ino)
            return true;
    return false;
}

static int walk_dir(struct walker *w, int fd, size_t len, const struct frame *self);

/* Child c of the directory at w->rel[0..len) (whose frame is parent): a member, and for
 * a directory the walk into it. */
static int walk_child(struct walker *w, const struct dir_read *d, const struct child *c, size_t len,
                      const struct frame *parent)
{
    const char *name = d->names.p + c->name;
    if (!extend(w, len, name, c->name_len))
        return 0; /* longer than any request path: it could not be served either */
    size_t child_len = len + (len > 0) + c->name_len;
    int err = add_member(w, &c->m, child_len);
    if (err || c->m.type != SL_TAR_DIR)
        return err;
    int fd = sl_router_open(w->cfg, w->root_fd, w->rel, SL_ROUTER_OPEN_FLAGS | O_DIRECTORY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || on_chain(parent, &st)) {
        if (fd >= 0)
            close(fd);
        drop_member(w);
        return 0;
    }
    struct frame self = {parent, st.st_dev, st.st_ino};
    return walk_dir(w, fd, child_len, &self);
}

/* Reads the directory open at fd (taken), which is w->rel[0..len), then walks its
 * entries in order. */
static int walk_dir(struct walker *w, int fd, size_t len, const struct frame *self)
{
    struct dir_read d = {0};
    sl_buf_init_growing(&d.names, 1024);
    int err;
    if (d.names.overflow) {
        close(fd);
        err = -ENOMEM;
    } else {
        err = read_dir(w, fd, len, &d);
    }
    for (size_t i = 0; err == 0 && i < d.count; i++) {
        err = walk_child(w, &d, &d.children[i], len, self);
        w->rel[len] = '\0';
    }
    free(d.children);
    sl_buf_free(&d.names);
    return err;
}

int sl_tar_walk(const struct sl_config *cfg, int root_fd, int dirfd, const char *rel,
                struct sl_tar_layout *l)
{
    struct walker w = {.cfg = cfg, .root_fd = root_fd, .l = l};
    size_t len = strlen(rel);
    if (len >= sizeof(w.rel)) {
        close(dirfd);
        return -ENAMETOOLONG;
    }
    memcpy(w.rel, rel, len + 1);
    w.base = len > 0 ? len + 1 : 0;
    l->members = NULL;
    l->count = 0;
    l->paths = NULL;
    sl_buf_init_growing(&w.paths, 4096);

    struct stat st;
    int fd = dirfd; /* walk_dir closes what it reads */
    int err = fstat(fd, &st) != 0 ? -errno : 0;
    if (err == 0) {
        struct sl_tar_member top = member_of(&st);
        err = add_member(&w, &top, len);
    }
    if (err == 0) {
        struct frame top = {NULL, st.st_dev, st.st_ino};
        err = walk_dir(&w, fd, len, &top);
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    if (err) {
        free(l->members);
        sl_buf_free(&w.paths);
        l->members = NULL;
        l->count = 0;
        return err;
    }
    l->paths = sl_buf_take(&w.paths, &l->paths_len);
    if (!l->paths) {
        sl_tar_layout_free(l);
        return -ENOMEM;
    }
    /* Doubling left up to half of the array unused; a layout may be kept a while. */
    struct sl_tar_member *m = realloc(l->members, l->count * sizeof(*m));
    if (m)
        l->members = m;
    sl_tar_finish(l);
    return 0;
}
