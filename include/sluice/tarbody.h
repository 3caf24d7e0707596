/* A tar archive's body, produced as the socket drains: the producer (plan.h) conn.c pulls
 * chunks from. Headers, padding and the end blocks are rendered from the layout into a
 * buffer of its own; member data is handed out as ranges of the member's file, opened
 * when the archive reaches it, so conn.c sends it with sendfile. The layout is borrowed:
 * the responses sending one tree share it (tarcache.c keeps it).
 *
 * A member is sent only while its file is the one laid out: the file is opened by its
 * path beneath the root and its stat (device, inode, size, mtime, ctime) compared with
 * the layout's before each chunk of its data and once more after its last, and any
 * difference (a file replaced, truncated, grown, rewritten in place, gone) fails the
 * producer, which closes the connection: the client sees a short body, never an archive
 * with a member made of two versions. */
#ifndef SLUICE_TARBODY_H
#define SLUICE_TARBODY_H

#include "sluice/config.h"
#include "sluice/plan.h"
#include "sluice/root.h"
#include "sluice/tar.h"

/* Memory bytes rendered per chunk: as a listing's (listbody.h). */
#define SL_TARBODY_CHUNK (16u << 10)
/* File bytes per chunk: one sendfile call's worth (conn.c), so that each call is preceded
 * by a check of the member's stat. An fstat costs well under a microsecond; a 256 KiB
 * sendfile tens of them. */
#define SL_TARBODY_FILE_CHUNK (256u << 10)

typedef void sl_tarbody_release_fn(void *arg);

/* A producer of the archive laid out in l whose top directory is `rel` beneath the root
 * (members are opened at rel/path, with root->fd as it is when they are reached, and as
 * cfg says: sl_router_open). It yields the plan's segments over the produced body (the
 * segments of segs[0..nsegs) without memory: the whole archive, or the slices a Range
 * asked for, in order), each starting where its offset says: a slice is found by
 * searching the layout, never by producing what comes before it. l and rel must stay
 * valid until the producer calls release(arg), once, when it is freed. NULL when out of
 * memory (release is not called). */
struct sl_producer *sl_tarbody_new(const struct sl_tar_layout *l, const char *rel,
                                   const struct sl_config *cfg, const struct sl_root *root,
                                   const struct sl_seg *segs, unsigned nsegs,
                                   sl_tarbody_release_fn *release, void *arg);

#endif
