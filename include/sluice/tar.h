/* A directory tree as one POSIX tar archive (ustar, with pax extended headers where ustar
 * falls short), laid out before its first byte is sent: every member's path, size and
 * times are known (tarwalk.c reads them), so the archive's exact length, its strong ETag
 * and the bytes at any offset follow without producing the bytes before them. Only
 * headers, padding and the end blocks are memory; member data comes from the files.
 * Pure: the layout is data, and the same layout always gives the same bytes (uid and gid
 * 0, empty user and group names, modes 0644 or 0755, whole-second mtimes), so a download
 * resumed from any offset stitches onto the first part exactly. */
#ifndef SLUICE_TAR_H
#define SLUICE_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sluice/path.h"

#define SL_TAR_BLOCK 512
/* Two zero blocks end an archive (POSIX.1-2017, pax: "ustar Interchange Format"). */
#define SL_TAR_END (2 * SL_TAR_BLOCK)
/* The archive's top directory: a file name. */
#define SL_TAR_NAME_MAX 255
/* A member's path in the archive: the top directory's name, '/', a path below it (a
 * served path, so shorter than SL_PATH_MAX), '/' for a directory, and a NUL. */
#define SL_TAR_PATH_MAX (SL_TAR_NAME_MAX + SL_PATH_MAX + 3)
/* The pax records one member can need: its path (with hdrcharset when the path is not
 * UTF-8), its size and its mtime, each with its length, key and punctuation. */
#define SL_TAR_PAX_MAX (SL_TAR_PATH_MAX + 128)
/* The longest run of headers before a member's data: the pax header block, the padded
 * records, the ustar block. */
#define SL_TAR_HEAD_MAX                                                                            \
    (SL_TAR_BLOCK + (SL_TAR_PAX_MAX + SL_TAR_BLOCK - 1) / SL_TAR_BLOCK * SL_TAR_BLOCK +            \
     SL_TAR_BLOCK)
/* Room for the ETag and its NUL: "<length in hex>-<16 hex digits>-tar". */
#define SL_TAR_ETAG_MAX 48

/* One member as its header describes it: the pure input of header rendering. */
struct sl_tar_entry {
    const char *path; /* in the archive; a directory's ends in '/' */
    size_t path_len;
    bool dir;
    bool exec; /* a file with an execute bit: mode 0755 rather than 0644 */
    uint64_t size;
    int64_t mtime; /* seconds */
};

/* The bytes of e's headers: one ustar block, or a pax header before it. */
size_t sl_tar_head_len(const struct sl_tar_entry *e);
/* Renders e's headers into out (at least sl_tar_head_len(e) bytes). Returns the length. */
size_t sl_tar_head(const struct sl_tar_entry *e, char *out);
/* Appends the pax record "<len> <key>=<value>\n" (len counts the whole record, its own
 * digits too) to out, which has cap bytes. Returns the record's length (nothing is
 * written when it exceeds cap). */
size_t sl_tar_pax_record(char *out, size_t cap, const char *key, const char *value, size_t len);

/* ---- the layout ---- */

enum sl_tar_type { SL_TAR_FILE, SL_TAR_DIR };

/* One member: where it lies in the archive and the stat it was laid out from, which its
 * file must still match while its bytes are sent (dev, ino, size, mtime, ctime). */
struct sl_tar_member {
    uint64_t off;  /* its first header byte in the archive */
    uint64_t size; /* data bytes (0 for a directory) */
    uint64_t dev;
    uint64_t ino;
    int64_t mtime;
    int64_t ctime;
    uint32_t mtime_ns;
    uint32_t ctime_ns;
    uint32_t path;     /* offset of its path (below the top directory) in `paths` */
    uint16_t path_len; /* "" for the top directory itself */
    uint16_t head_len; /* bytes of its headers */
    uint8_t type;      /* enum sl_tar_type */
    bool exec;
};

struct sl_tar_layout {
    struct sl_tar_member *members; /* the top directory first, then depth first, sorted */
    size_t count;
    char *paths; /* every member's path, each followed by a NUL */
    size_t paths_len;
    char name[SL_TAR_NAME_MAX + 1]; /* the top directory's name in the archive */
    size_t name_len;
    /* From sl_tar_finish: */
    uint64_t size;           /* the archive's length */
    struct timespec changed; /* the newest mtime or ctime of any member */
    char etag[SL_TAR_ETAG_MAX];
    size_t etag_len;
};

/* Member i's path in the archive ("name/", "name/sub/", "name/sub/file") into out, which
 * has SL_TAR_PATH_MAX bytes, with a NUL. Returns its length. */
size_t sl_tar_member_path(const struct sl_tar_layout *l, size_t i, char *out);

/* Lays the members out: their header lengths and offsets, the archive's length, the
 * newest change and the ETag. */
void sl_tar_finish(struct sl_tar_layout *l);

/* The member whose headers, data or padding hold archive offset `off` (off < l->size):
 * found by binary search over the offsets; l->count for the end blocks. */
size_t sl_tar_find(const struct sl_tar_layout *l, uint64_t off);

/* Where member m's data starts and where its padding ends (the next member's offset). */
static inline uint64_t sl_tar_data_off(const struct sl_tar_member *m)
{
    return m->off + m->head_len;
}

static inline uint64_t sl_tar_member_end(const struct sl_tar_member *m)
{
    return sl_tar_data_off(m) + (m->size + SL_TAR_BLOCK - 1) / SL_TAR_BLOCK * SL_TAR_BLOCK;
}

/* Writes the archive's memory bytes from `off` into out: headers, padding, the end
 * blocks, stopping before `limit` (an archive offset), after cap bytes, or where member
 * data begins (off inside data writes nothing). *at is a hint kept between calls: the
 * member holding `off` (SIZE_MAX: unknown, found by sl_tar_find); it is left at the
 * member holding the returned end. Returns the bytes written. */
size_t sl_tar_fill(const struct sl_tar_layout *l, uint64_t off, uint64_t limit, char *out,
                   size_t cap, size_t *at);

void sl_tar_layout_free(struct sl_tar_layout *l);

#endif
