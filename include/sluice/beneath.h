/* Opening a root-relative path beneath a directory descriptor, so that no path, encoding
 * or symlink reaches outside it. */
#ifndef SLUICE_BENEATH_H
#define SLUICE_BENEATH_H

/* Opens `rel` (root-relative, already normalised) beneath dirfd, refusing to leave it;
 * returns the descriptor or -errno. Flags as for open(2). */
int sl_open_beneath(int dirfd, const char *rel, int flags);

/* The same without openat2: a component-wise walk that follows symlinks only while they
 * stay beneath dirfd (used when the kernel or a sandbox lacks openat2; for tests). */
int sl_open_beneath_walk(int dirfd, const char *rel, int flags);

#endif
