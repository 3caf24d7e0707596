/* The tree watcher (see watch.h): one inotify watch per directory through libuv, a hash
 * table of the watched directories by root-relative path, and a tree of them so that a
 * directory moved or removed takes its subdirectories' watches with it. */
#include "sluice/watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sluice/list.h"
#include "sluice/path.h"
#include "sluice/str.h"

struct sl_watch_dir {
    uv_fs_event_t ev; /* first: the handle's address is the directory's */
    struct sl_watch *w;
    struct sl_watch_dir *parent;
    struct sl_watch_dir *hnext; /* hash chain */
    struct sl_link sibling;     /* in the parent's children */
    struct sl_link children;
    uint64_t hash;
    size_t len;
    char rel[]; /* root-relative, "" for the root; NUL-terminated */
};

static void on_fs_event(uv_fs_event_t *handle, const char *filename, int events, int status);

static void report(struct sl_watch *w, enum sl_watch_kind kind, const char *rel, size_t len,
                   int err)
{
    struct sl_watch_event ev = {.kind = kind, .rel = rel, .len = len, .err = err};
    w->report(w->arg, &ev);
}

/* ---- the table of watched directories ---- */

static uint64_t hash_rel(const char *rel, size_t len)
{
    return sl_str_hash(sl_str_make(rel, len));
}

static struct sl_watch_dir *lookup(const struct sl_watch *w, const char *rel, size_t len)
{
    if (w->nbuckets == 0)
        return NULL;
    uint64_t h = hash_rel(rel, len);
    for (struct sl_watch_dir *d = w->buckets[h % w->nbuckets]; d; d = d->hnext) {
        if (d->hash == h && d->len == len && memcmp(d->rel, rel, len) == 0)
            return d;
    }
    return NULL;
}

/* Doubles the table when it holds as many directories as buckets. False: no memory
 * (the table stays as it was and keeps working, with longer chains). */
static bool table_grow(struct sl_watch *w)
{
    size_t n = w->nbuckets ? w->nbuckets * 2 : 256;
    struct sl_watch_dir **b = calloc(n, sizeof(*b));
    if (!b)
        return w->nbuckets > 0;
    for (size_t i = 0; i < w->nbuckets; i++) {
        struct sl_watch_dir *d = w->buckets[i];
        while (d) {
            struct sl_watch_dir *next = d->hnext;
            d->hnext = b[d->hash % n];
            b[d->hash % n] = d;
            d = next;
        }
    }
    free(w->buckets);
    w->buckets = b;
    w->nbuckets = n;
    return true;
}

static void table_remove(struct sl_watch *w, struct sl_watch_dir *d)
{
    struct sl_watch_dir **p = &w->buckets[d->hash % w->nbuckets];
    while (*p != d)
        p = &(*p)->hnext;
    *p = d->hnext;
    w->count--;
}

/* ---- watching and dropping one directory ---- */

static void on_dir_closed(uv_handle_t *handle)
{
    free(handle); /* the directory's memory: ev is its first member */
}

/* The directory's path as the file system knows it: base, or base/rel. False when it
 * is too long to name. */
static bool full_path(const struct sl_watch *w, const char *rel, size_t len, char out[PATH_MAX])
{
    size_t b = strlen(w->base);
    if (b + 1 + len + 1 > PATH_MAX)
        return false;
    memcpy(out, w->base, b);
    if (len > 0) {
        out[b++] = '/';
        memcpy(out + b, rel, len);
        b += len;
    }
    out[b] = '\0';
    return true;
}

/* Starts watching the directory at rel (a child of parent, or the root). Returns it, or
 * NULL: gone meanwhile, unreadable, too long a path, or the limit (reported once). */
static struct sl_watch_dir *watch_dir(struct sl_watch *w, struct sl_watch_dir *parent,
                                      const char *rel, size_t len)
{
    char path[PATH_MAX];
    if (w->failed || !full_path(w, rel, len, path))
        return NULL;
    if (w->count >= w->nbuckets && !table_grow(w))
        return NULL;
    struct sl_watch_dir *d = malloc(sizeof(*d) + len + 1);
    if (!d)
        return NULL;
    int rc = uv_fs_event_init(w->loop, &d->ev);
    if (rc != 0) {
        free(d);
        return NULL;
    }
    rc = uv_fs_event_start(&d->ev, on_fs_event, path, 0);
    if (rc != 0) {
        uv_close((uv_handle_t *)&d->ev, on_dir_closed);
        if (rc == UV_ENOSPC) {
            w->limited = true;
            if (!w->warned)
                report(w, SL_WATCH_LIMIT, NULL, 0, rc);
            w->warned = true;
        } else if (rc == UV_EMFILE || rc == UV_ENFILE || rc == UV_ENOSYS) {
            /* no inotify instance at all: nothing can be watched */
            w->failed = true;
            report(w, SL_WATCH_ERROR, NULL, 0, rc);
        }
        return NULL;
    }
    d->w = w;
    d->parent = parent;
    memcpy(d->rel, rel, len);
    d->rel[len] = '\0';
    d->len = len;
    d->hash = hash_rel(rel, len);
    sl_list_init(&d->children);
    d->sibling = (struct sl_link){NULL, NULL};
    if (parent)
        sl_list_push_back(&parent->children, &d->sibling);
    d->hnext = w->buckets[d->hash % w->nbuckets];
    w->buckets[d->hash % w->nbuckets] = d;
    w->count++;
    return d;
}

static void drop_one(struct sl_watch *w, struct sl_watch_dir *d)
{
    table_remove(w, d);
    sl_list_remove(&d->sibling);
    if (w->root == d)
        w->root = NULL;
    uv_close((uv_handle_t *)&d->ev, on_dir_closed);
}

/* Stops watching top and everything below it (deepest first, without recursion). */
static void drop_tree(struct sl_watch *w, struct sl_watch_dir *top)
{
    struct sl_watch_dir *d = top;
    for (;;) {
        struct sl_link *first = sl_list_first(&d->children);
        if (first) {
            d = sl_container_of(first, struct sl_watch_dir, sibling);
            continue;
        }
        struct sl_watch_dir *parent = d->parent;
        drop_one(w, d);
        if (d == top)
            return;
        d = parent;
    }
}

/* ---- scanning ---- */

/* Whether the entry `name` of the directory at dir_rel is a directory to watch: a real
 * directory (not a symlink to one) that sluice serves. */
static bool entry_is_dir(int dirfd, const struct dirent *e)
{
    if (e->d_type == DT_DIR)
        return true;
    if (e->d_type != DT_UNKNOWN)
        return false;
    struct stat st;
    return fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static bool served(const struct sl_watch *w, const char *rel, size_t len)
{
    return w->dotfiles || !sl_path_has_hidden_segment(rel, len);
}

/* Adds the subdirectories of d not yet watched to the stack (growing it). False when
 * the stack cannot grow. */
static bool scan_dir(struct sl_watch *w, struct sl_watch_dir *d, struct sl_watch_dir ***stack,
                     size_t *depth, size_t *cap)
{
    char path[PATH_MAX];
    if (!full_path(w, d->rel, d->len, path))
        return true;
    DIR *dir = opendir(path);
    if (!dir)
        return true; /* gone or unreadable: nothing below it is served either */
    bool ok = true;
    struct dirent *e;
    char rel[SL_PATH_MAX];
    while (ok && !w->limited && !w->failed && (e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t len = sl_path_join(rel, sizeof(rel), d->rel, d->len, e->d_name, strlen(e->d_name));
        if (len == 0 || !served(w, rel, len) || !entry_is_dir(dirfd(dir), e) || lookup(w, rel, len))
            continue;
        struct sl_watch_dir *child = watch_dir(w, d, rel, len);
        if (!child)
            continue;
        if (*depth == *cap) {
            size_t n = *cap ? *cap * 2 : 64;
            struct sl_watch_dir **s = realloc(*stack, n * sizeof(*s));
            if (!s) {
                ok = false;
                break;
            }
            *stack = s;
            *cap = n;
        }
        (*stack)[(*depth)++] = child;
    }
    closedir(dir);
    return ok;
}

/* Watches every directory below top (already watched), until the kernel's watch limit
 * stops it. Each directory is watched before it is listed, so a subdirectory created
 * meanwhile is either listed or reported by its parent's watch. */
static void scan(struct sl_watch *w, struct sl_watch_dir *top)
{
    w->limited = false; /* watches may have been freed since the last scan hit it */
    struct sl_watch_dir **stack = NULL;
    size_t depth = 0, cap = 0;
    struct sl_watch_dir *d = top;
    while (d && scan_dir(w, d, &stack, &depth, &cap))
        d = depth > 0 ? stack[--depth] : NULL;
    free(stack);
}

/* ---- the root ---- */

/* Compares the root's path with the directory watched; on a difference, drops every
 * watch and watches what the path names now (if anything). True when it changed. */
static bool root_check(struct sl_watch *w)
{
    struct stat st;
    bool ok = stat(w->base, &st) == 0 && S_ISDIR(st.st_mode);
    if (ok == w->present && (!ok || (st.st_dev == w->dev && st.st_ino == w->ino)))
        return false;
    if (w->root)
        drop_tree(w, w->root);
    w->present = ok;
    if (ok) {
        w->dev = st.st_dev;
        w->ino = st.st_ino;
        w->root = watch_dir(w, NULL, "", 0);
        if (w->root)
            scan(w, w->root);
    }
    return true;
}

static void on_poll(uv_timer_t *t)
{
    struct sl_watch *w = t->data;
    if (root_check(w))
        report(w, SL_WATCH_TREE, NULL, 0, 0);
}

/* ---- events ---- */

/* Something at rel (in directory d) was created, removed or renamed: watch it when it
 * is a new directory, drop its watches when it was one. True when directories changed. */
static bool restructure(struct sl_watch *w, struct sl_watch_dir *d, const char *rel, size_t len)
{
    char path[PATH_MAX];
    struct stat st;
    bool is_dir = full_path(w, rel, len, path) && lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
    struct sl_watch_dir *known = lookup(w, rel, len);
    if (is_dir && !known) {
        struct sl_watch_dir *child = watch_dir(w, d, rel, len);
        if (child)
            scan(w, child);
        return true;
    }
    if (!is_dir && known) {
        drop_tree(w, known);
        return true;
    }
    return false;
}

static void on_fs_event(uv_fs_event_t *handle, const char *filename, int events, int status)
{
    struct sl_watch_dir *d = (struct sl_watch_dir *)handle;
    struct sl_watch *w = d->w;
    if (w->closing || status < 0)
        return;
    if (!filename) {
        report(w, SL_WATCH_TREE, NULL, 0, 0);
        return;
    }
    /* The root itself removed or moved away shows up as a rename on its own watch. */
    if (d == w->root && (events & UV_RENAME) && root_check(w)) {
        report(w, SL_WATCH_TREE, NULL, 0, 0);
        return;
    }
    char rel[SL_PATH_MAX];
    size_t len = sl_path_join(rel, sizeof(rel), d->rel, d->len, filename, strlen(filename));
    if (len == 0 || !served(w, rel, len))
        return; /* a hidden file is not served: its changes are no news */
    if ((events & UV_RENAME) && restructure(w, d, rel, len))
        report(w, SL_WATCH_TREE, NULL, 0, 0);
    report(w, SL_WATCH_FILE, rel, len, 0);
}

/* ---- start and stop ---- */

int sl_watch_start(struct sl_watch *w, uv_loop_t *loop, const char *base, bool dotfiles,
                   sl_watch_fn *report_fn, void *arg)
{
    memset(w, 0, sizeof(*w));
    w->loop = loop;
    w->base = base;
    w->dotfiles = dotfiles;
    w->report = report_fn;
    w->arg = arg;
    int rc = uv_timer_init(loop, &w->poll);
    if (rc != 0)
        return rc;
    w->poll.data = w;
    root_check(w);
    return uv_timer_start(&w->poll, on_poll, SL_WATCH_ROOT_POLL_MS, SL_WATCH_ROOT_POLL_MS);
}

size_t sl_watch_count(const struct sl_watch *w)
{
    return w->count;
}

void sl_watch_close(struct sl_watch *w)
{
    if (w->closing)
        return;
    w->closing = true;
    uv_close((uv_handle_t *)&w->poll, NULL);
    if (w->root)
        drop_tree(w, w->root);
    free(w->buckets);
    w->buckets = NULL;
    w->nbuckets = 0;
}
