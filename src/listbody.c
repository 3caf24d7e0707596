/* A listing body rendered a chunk at a time (see listbody.h): whole pieces (the start,
 * rows, the end) go into the buffer while they fit; the next call starts where the last
 * stopped. */
#include "sluice/listbody.h"

#include <errno.h>
#include <stdlib.h>

#include "sluice/buf.h"

struct listbody {
    struct sl_producer base; /* first: the producer's address is the listbody's */
    const struct sl_listing *list;
    enum sl_listing_format format;
    sl_listbody_release_fn *release;
    void *release_arg;
    size_t piece;  /* the next piece to render */
    size_t filled; /* bytes of buf rendered ahead of the first call (the start) */
    size_t cap;
    char buf[];
};

static int listbody_produce(struct sl_producer *p, struct sl_chunk *chunk)
{
    struct listbody *lb = (struct listbody *)p;
    size_t pieces = sl_listing_pieces(lb->list);
    struct sl_buf b = sl_buf_make(lb->buf, lb->cap);
    b.len = lb->filled;
    lb->filled = 0;
    while (lb->piece < pieces) {
        size_t mark = b.len;
        sl_listing_render_piece(lb->list, lb->format, NULL, lb->piece, &b);
        if (b.overflow) {
            sl_buf_truncate(&b, mark);
            break;
        }
        lb->piece++;
    }
    if (b.len == 0 && lb->piece < pieces)
        return -EMSGSIZE; /* a piece larger than the buffer: cannot happen (rows are short) */
    *chunk = (struct sl_chunk){.mem = lb->buf, .fd = -1, .off = 0, .len = b.len};
    return 0;
}

static void listbody_free(struct sl_producer *p)
{
    struct listbody *lb = (struct listbody *)p;
    lb->release(lb->release_arg);
    free(lb);
}

struct sl_producer *sl_listbody_new(const struct sl_listing *l, enum sl_listing_format f,
                                    const char *url_path, sl_listbody_release_fn *release,
                                    void *arg)
{
    /* The start names the path (twice in HTML, escaped): rendered now, into a buffer made
     * large enough for it, so url_path is not kept and every later piece is a row or
     * the end. */
    char none[1];
    struct sl_buf count = sl_buf_make(none, 0);
    sl_listing_render_piece(l, f, url_path, 0, &count);
    size_t cap = count.need > SL_LISTBODY_CHUNK ? count.need + 1 : SL_LISTBODY_CHUNK;
    struct listbody *lb = malloc(sizeof(*lb) + cap);
    if (!lb)
        return NULL;
    *lb = (struct listbody){
        .base = {.produce = listbody_produce, .free = listbody_free},
        .list = l,
        .format = f,
        .release = release,
        .release_arg = arg,
        .piece = 1,
        .cap = cap,
    };
    struct sl_buf b = sl_buf_make(lb->buf, cap);
    sl_listing_render_piece(l, f, url_path, 0, &b);
    lb->filled = b.len;
    return &lb->base;
}
