/* The served tree, watched: one uv_fs_event_t (inotify on Linux) per directory, added
 * as directories appear and dropped as they go. Hidden directories that sluice does not
 * serve (.git/, unless --dotfiles) are left out, and so are symlinks to directories
 * (what they lead to inside the root is watched where it is). The root is watched by
 * its path: a replaced root is watched anew, a missing one is waited for. Every change
 * is reported by its root-relative path; the watcher decides nothing else. Lives on one
 * loop (the main thread's); nothing here is shared with other threads. */
#ifndef SLUICE_WATCH_H
#define SLUICE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>

/* How often the root's path is compared with the directory watched: a root replaced by
 * a symlink swap sends no event. */
#define SL_WATCH_ROOT_POLL_MS 200

enum sl_watch_kind {
    SL_WATCH_FILE,  /* something at rel changed: written, created, removed, renamed */
    SL_WATCH_TREE,  /* directories came or went, or the root was replaced or is gone */
    SL_WATCH_LIMIT, /* the kernel's watch limit is reached: some directories are not
                       watched (sl_watch_count says how many are) */
    SL_WATCH_ERROR, /* no watching at all: err says why */
};

struct sl_watch_event {
    enum sl_watch_kind kind;
    const char *rel; /* SL_WATCH_FILE: root-relative, not NUL-terminated */
    size_t len;
    int err; /* SL_WATCH_ERROR: a negative errno */
};

typedef void sl_watch_fn(void *arg, const struct sl_watch_event *ev);

struct sl_watch_dir;

struct sl_watch {
    uv_loop_t *loop;
    const char *base; /* the root's path */
    bool dotfiles;
    sl_watch_fn *report;
    void *arg;
    bool present; /* the root exists (dev, ino: which directory is watched) */
    dev_t dev;
    ino_t ino;
    struct sl_watch_dir *root;
    struct sl_watch_dir **buckets; /* watched directories by path */
    size_t nbuckets;
    size_t count;
    bool limited; /* the scan under way hit the watch limit */
    bool warned;  /* the limit was reported (once per process) */
    bool failed;  /* watching failed altogether (reported once) */
    bool closing;
    uv_timer_t poll;
};

/* Watches the tree at `base` on `loop`, scanning it now: when this returns, every
 * directory is watched (or the limit was reported). Returns 0, or a negative errno
 * when the loop's timer cannot be set up; trouble with the file system is reported
 * through `report` instead, and serving goes on. */
int sl_watch_start(struct sl_watch *w, uv_loop_t *loop, const char *base, bool dotfiles,
                   sl_watch_fn *report, void *arg);

/* Directories watched now. */
size_t sl_watch_count(const struct sl_watch *w);

/* Stops watching: every handle is closed; their memory goes in their close callbacks,
 * as the loop runs them. */
void sl_watch_close(struct sl_watch *w);

#endif
