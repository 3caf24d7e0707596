/* Reading a directory tree into a tar layout (tar.h): the I/O half of ?tar, run in the
 * thread pool by tarcache.c. What goes in is what the server would serve: regular files
 * it may read and directories, reached beneath the root as the router reaches them. */
#ifndef SLUICE_TARWALK_H
#define SLUICE_TARWALK_H

#include "sluice/config.h"
#include "sluice/tar.h"

/* Walks the directory open at dirfd (taken: closed here), which is `rel` beneath root_fd,
 * into l, whose name (the top directory's name in the archive) is already set, and
 * finishes it (sl_tar_finish). Depth first, each directory's entries in byte order of
 * their names, the directory before what it holds. Names starting with '.' are left out
 * unless cfg->dotfiles; so are symlinks that lead outside the root (unless
 * cfg->follow_symlinks), anything that is neither a regular file nor a directory, files
 * the process may not read, directories it may not open, a directory met again below
 * itself (a symlink loop), and paths longer than a request path can be. A symlink is
 * archived as what it leads to. More than cfg->tar_max_entries members below the top
 * stops the walk with -EFBIG. Returns 0 or a negative errno; touches nothing but its
 * arguments, so it is safe on any thread. At most two descriptors are open at once
 * besides root_fd (dirfd among them): every directory is read whole and closed before
 * the walk goes into it, however deep the tree. */
int sl_tar_walk(const struct sl_config *cfg, int root_fd, int dirfd, const char *rel,
                struct sl_tar_layout *l);

#endif
