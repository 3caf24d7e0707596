/* Tar archives laid out in advance (see tar.h): ustar header blocks and pax extended
 * headers rendered on demand, offsets and the ETag worked out once per layout, and the
 * memory bytes at any offset. Field layout and pax records as POSIX.1-2017 describes them
 * (pax, "ustar Interchange Format" and "pax Extended Header"). */
#include "sluice/tar.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/encode.h"
#include "sluice/hash.h"

/* The ustar header block as the standard lays it out ("ustar Interchange Format"): byte
 * arrays only, so there is no padding and each field's width is its sizeof. */
struct ustar_header {
    char name[100];
    char mode[8], uid[8], gid[8];
    char size[12], mtime[12];
    char chksum[8];
    char typeflag;
    char linkname[100];
    char magic[6], version[2];
    char uname[32], gname[32];
    char devmajor[8], devminor[8];
    char prefix[155];
    char unused[12];
};
_Static_assert(sizeof(struct ustar_header) == SL_TAR_BLOCK, "a ustar header is one block");
#define NAME_FIELD sizeof(((struct ustar_header *)0)->name)

/* The largest size or mtime an 11-digit octal field holds: 8 GiB - 1, or the year 2242.
 * Beyond it the value goes in a pax record and the field holds 0, as Python's tarfile and
 * libarchive write it. */
#define OCTAL11_MAX 077777777777u

/* The name of every pax header block: fixed, so the bytes never depend on the process. */
static const char pax_header_name[] = "././@PaxHeader";

static size_t round_block(uint64_t n)
{
    return (size_t)((n + SL_TAR_BLOCK - 1) / SL_TAR_BLOCK * SL_TAR_BLOCK);
}

/* v as width - 1 octal digits, with leading zeros, and a NUL. */
static void put_octal(char *field, size_t width, uint64_t v)
{
    field[width - 1] = '\0';
    for (size_t i = width - 1; i-- > 0;) {
        field[i] = (char)('0' + (v & 7));
        v >>= 3;
    }
}

static bool mtime_fits(int64_t t)
{
    return t >= 0 && (uint64_t)t <= OCTAL11_MAX;
}

static bool path_is_ascii(const struct sl_tar_entry *e)
{
    for (size_t i = 0; i < e->path_len; i++)
        if ((unsigned char)e->path[i] >= 0x80)
            return false;
    return true;
}

/* ---- pax records ---- */

static size_t digits(size_t n)
{
    size_t d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* The record's length counts its own digits: the smallest fixed point of
 * len = digits(len) + rest, found by trying the digits of rest first. */
static size_t record_len(size_t key_len, size_t value_len)
{
    size_t rest = key_len + value_len + 3; /* ' ', '=', '\n' */
    size_t len = rest + digits(rest);
    return len + (digits(len) - digits(rest));
}

size_t sl_tar_pax_record(char *out, size_t cap, const char *key, const char *value, size_t len)
{
    size_t key_len = strlen(key);
    size_t n = record_len(key_len, len);
    if (n > cap)
        return n;
    int d = snprintf(out, cap, "%zu %s=", n, key);
    memcpy(out + d, value, len);
    out[n - 1] = '\n';
    return n;
}

/* The records e needs, written to out when it is not NULL; returns their length (0: e
 * fits in ustar alone). A path longer than the name field or not ASCII goes in `path`
 * (hdrcharset=BINARY first when it is not UTF-8 either); a size of 8 GiB or more in
 * `size`; an mtime before 1970 or after 2242 in `mtime`. */
static size_t pax_records(const struct sl_tar_entry *e, char *out)
{
    char scratch[SL_TAR_PAX_MAX];
    char *p = out ? out : scratch;
    size_t cap = SL_TAR_PAX_MAX;
    size_t n = 0;
    char num[24];
    if (e->path_len > NAME_FIELD || !path_is_ascii(e)) {
        if (!sl_utf8_valid(e->path, e->path_len))
            n += sl_tar_pax_record(p + n, cap - n, "hdrcharset", "BINARY", 6);
        n += sl_tar_pax_record(p + n, cap - n, "path", e->path, e->path_len);
    }
    if (e->size > OCTAL11_MAX) {
        int len = snprintf(num, sizeof(num), "%" PRIu64, e->size);
        n += sl_tar_pax_record(p + n, cap - n, "size", num, (size_t)len);
    }
    if (!mtime_fits(e->mtime)) {
        int len = snprintf(num, sizeof(num), "%" PRId64, e->mtime);
        n += sl_tar_pax_record(p + n, cap - n, "mtime", num, (size_t)len);
    }
    return n;
}

/* ---- header blocks ---- */

/* One ustar header block: name (at most 100 bytes, no NUL needed when full), mode, uid
 * and gid 0, size, mtime, type, magic "ustar\0" and version "00", empty user and group
 * names, device numbers 0, and the checksum: the sum of the block's bytes, taken with
 * the checksum field as eight spaces, in six octal digits, a NUL and a space. */
static void ustar_block(char *b, const char *name, size_t name_len, char type, unsigned mode,
                        uint64_t size, int64_t mtime)
{
    struct ustar_header h;
    memset(&h, 0, sizeof(h));
    memcpy(h.name, name, name_len < sizeof(h.name) ? name_len : sizeof(h.name));
    put_octal(h.mode, sizeof(h.mode), mode);
    put_octal(h.uid, sizeof(h.uid), 0);
    put_octal(h.gid, sizeof(h.gid), 0);
    put_octal(h.size, sizeof(h.size), size <= OCTAL11_MAX ? size : 0);
    put_octal(h.mtime, sizeof(h.mtime), mtime_fits(mtime) ? (uint64_t)mtime : 0);
    h.typeflag = type;
    memcpy(h.magic, "ustar", sizeof(h.magic));
    memcpy(h.version, "00", sizeof(h.version));
    put_octal(h.devmajor, sizeof(h.devmajor), 0);
    put_octal(h.devminor, sizeof(h.devminor), 0);
    memset(h.chksum, ' ', sizeof(h.chksum));
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof(h); i++)
        sum += ((unsigned char *)&h)[i];
    put_octal(h.chksum, sizeof(h.chksum) - 1, sum);
    h.chksum[sizeof(h.chksum) - 1] = ' ';
    memcpy(b, &h, sizeof(h));
}

static unsigned mode_of(const struct sl_tar_entry *e)
{
    return e->dir || e->exec ? 0755 : 0644;
}

size_t sl_tar_head_len(const struct sl_tar_entry *e)
{
    size_t pax = pax_records(e, NULL);
    return pax ? 2 * SL_TAR_BLOCK + round_block(pax) : SL_TAR_BLOCK;
}

size_t sl_tar_head(const struct sl_tar_entry *e, char *out)
{
    char type = e->dir ? '5' : '0';
    size_t pax = pax_records(e, out + SL_TAR_BLOCK);
    if (pax == 0) {
        ustar_block(out, e->path, e->path_len, type, mode_of(e), e->size, e->mtime);
        return SL_TAR_BLOCK;
    }
    size_t padded = round_block(pax);
    memset(out + SL_TAR_BLOCK + pax, 0, padded - pax);
    ustar_block(out, pax_header_name, sizeof(pax_header_name) - 1, 'x', 0644, pax, e->mtime);
    /* The name field as readers without pax support see it: the path cut to the field,
     * every byte that is not ASCII made '_'. */
    char fallback[NAME_FIELD];
    size_t n = e->path_len < NAME_FIELD ? e->path_len : NAME_FIELD;
    for (size_t i = 0; i < n; i++)
        fallback[i] = (unsigned char)e->path[i] < 0x80 ? e->path[i] : '_';
    char *block = out + SL_TAR_BLOCK + padded;
    ustar_block(block, fallback, n, type, mode_of(e), e->size, e->mtime);
    return 2 * SL_TAR_BLOCK + padded;
}

/* ---- the layout ---- */

size_t sl_tar_member_path(const struct sl_tar_layout *l, size_t i, char *out)
{
    const struct sl_tar_member *m = &l->members[i];
    size_t n = l->name_len;
    memcpy(out, l->name, n);
    out[n++] = '/';
    if (m->path_len > 0) {
        memcpy(out + n, l->paths + m->path, m->path_len);
        n += m->path_len;
        if (m->type == SL_TAR_DIR)
            out[n++] = '/';
    }
    out[n] = '\0';
    return n;
}

/* Member i as its header describes it; its path is written to path. */
static struct sl_tar_entry entry_of(const struct sl_tar_layout *l, size_t i, char *path)
{
    const struct sl_tar_member *m = &l->members[i];
    return (struct sl_tar_entry){
        .path = path,
        .path_len = sl_tar_member_path(l, i, path),
        .dir = m->type == SL_TAR_DIR,
        .exec = m->exec,
        .size = m->size,
        .mtime = m->mtime,
    };
}

static bool later(int64_t sec, uint32_t nsec, const struct timespec *t)
{
    return sec > t->tv_sec || (sec == t->tv_sec && (long)nsec > t->tv_nsec);
}

/* The tag covers what the bytes are made of: every member's path, type, mode, size and
 * mtime (to the nanosecond, though headers carry whole seconds: a file rewritten within
 * one second at the same size is a new archive), in order, with lengths before strings
 * so that no two layouts feed the hash the same bytes; and the version, since a new
 * release may lay the same tree out differently. Strong: the layout fixes every byte
 * that is not file data, and the file data is checked against the same stat as it is
 * sent. The archive's length is part of the tag too. */
void sl_tar_finish(struct sl_tar_layout *l)
{
    char path[SL_TAR_PATH_MAX];
    uint64_t h = sl_fnv1a(SL_FNV_OFFSET, SLUICE_VERSION, sizeof(SLUICE_VERSION));
    h = sl_fnv1a_u64(h, l->name_len);
    h = sl_fnv1a(h, l->name, l->name_len);
    h = sl_fnv1a_u64(h, l->count);
    uint64_t off = 0;
    l->changed = (struct timespec){0, 0};
    for (size_t i = 0; i < l->count; i++) {
        struct sl_tar_member *m = &l->members[i];
        struct sl_tar_entry e = entry_of(l, i, path);
        m->head_len = (uint16_t)sl_tar_head_len(&e);
        m->off = off;
        off = sl_tar_member_end(m);
        h = sl_fnv1a_u64(h, m->path_len);
        h = sl_fnv1a(h, l->paths + m->path, m->path_len);
        h = sl_fnv1a_u64(h, (uint64_t)m->type << 8 | m->exec);
        h = sl_fnv1a_u64(h, m->size);
        h = sl_fnv1a_u64(h, (uint64_t)m->mtime);
        h = sl_fnv1a_u64(h, m->mtime_ns);
        if (later(m->mtime, m->mtime_ns, &l->changed))
            l->changed = (struct timespec){m->mtime, m->mtime_ns};
        if (later(m->ctime, m->ctime_ns, &l->changed))
            l->changed = (struct timespec){m->ctime, m->ctime_ns};
    }
    l->size = off + SL_TAR_END;
    int n = snprintf(l->etag, sizeof(l->etag), "\"%" PRIx64 "-%016" PRIx64 "-tar\"", l->size, h);
    l->etag_len = n > 0 && (size_t)n < sizeof(l->etag) ? (size_t)n : 0;
}

size_t sl_tar_find(const struct sl_tar_layout *l, uint64_t off)
{
    if (l->count == 0 || off >= sl_tar_member_end(&l->members[l->count - 1]))
        return l->count;
    size_t lo = 0;
    size_t hi = l->count; /* the answer is in [lo, hi): members[lo].off <= off */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->members[mid].off <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Whether member i (i <= l->count: the end blocks) holds offset off. */
static bool holds(const struct sl_tar_layout *l, size_t i, uint64_t off)
{
    if (i >= l->count)
        return l->count == 0 || off >= sl_tar_member_end(&l->members[l->count - 1]);
    return l->members[i].off <= off && off < sl_tar_member_end(&l->members[i]);
}

/* Copies member i's headers from `rel` bytes in, k bytes of them. Rendered straight into
 * out when all of them are wanted, else into a scratch block first. */
static void copy_head(const struct sl_tar_layout *l, size_t i, size_t rel, char *out, size_t k)
{
    char path[SL_TAR_PATH_MAX];
    struct sl_tar_entry e = entry_of(l, i, path);
    if (rel == 0 && k == l->members[i].head_len) {
        sl_tar_head(&e, out);
        return;
    }
    char scratch[SL_TAR_HEAD_MAX];
    sl_tar_head(&e, scratch);
    memcpy(out, scratch + rel, k);
}

size_t sl_tar_fill(const struct sl_tar_layout *l, uint64_t off, uint64_t limit, char *out,
                   size_t cap, size_t *at)
{
    size_t i = *at;
    if (i < l->count && !holds(l, i, off) && holds(l, i + 1, off))
        i++; /* the usual case: the last call ended at its member's end */
    else if (i > l->count || !holds(l, i, off))
        i = sl_tar_find(l, off);
    size_t n = 0;
    if (limit > l->size)
        limit = l->size;
    while (n < cap && off < limit) {
        uint64_t room = limit - off < cap - n ? limit - off : cap - n;
        uint64_t end = i < l->count ? sl_tar_member_end(&l->members[i]) : l->size;
        uint64_t data = i < l->count ? sl_tar_data_off(&l->members[i]) : off;
        uint64_t k;
        if (off < data) { /* headers */
            k = data - off < room ? data - off : room;
            copy_head(l, i, (size_t)(off - l->members[i].off), out + n, (size_t)k);
        } else if (i < l->count && off < data + l->members[i].size) {
            break;              /* file data: not memory */
        } else if (off < end) { /* padding, or the end blocks */
            k = end - off < room ? end - off : room;
            memset(out + n, 0, (size_t)k);
        } else {
            i++;
            continue;
        }
        n += (size_t)k;
        off += k;
    }
    *at = i;
    return n;
}

void sl_tar_layout_free(struct sl_tar_layout *l)
{
    free(l->members);
    free(l->paths);
    l->members = NULL;
    l->paths = NULL;
    l->count = 0;
}
