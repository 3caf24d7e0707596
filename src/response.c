/* Response heads and error pages. Everything lands in a caller-owned sl_buf; nothing
 * here allocates or does I/O. */
#include "sluice/response.h"

#include <pthread.h>
#include <string.h>

#include "sluice/httpdate.h"

/* Every status sluice sends, with its reason phrase: the one list the reason phrases and
 * the ready-made status lines come from. */
#define SL_STATUSES(X)                                                                             \
    X(200, "OK")                                                                                   \
    X(204, "No Content")                                                                           \
    X(206, "Partial Content")                                                                      \
    X(301, "Moved Permanently")                                                                    \
    X(304, "Not Modified")                                                                         \
    X(400, "Bad Request")                                                                          \
    X(403, "Forbidden")                                                                            \
    X(404, "Not Found")                                                                            \
    X(405, "Method Not Allowed")                                                                   \
    X(408, "Request Timeout")                                                                      \
    X(412, "Precondition Failed")                                                                  \
    X(414, "URI Too Long")                                                                         \
    X(416, "Range Not Satisfiable")                                                                \
    X(431, "Request Header Fields Too Large")                                                      \
    X(500, "Internal Server Error")                                                                \
    X(501, "Not Implemented")                                                                      \
    X(503, "Service Unavailable")                                                                  \
    X(505, "HTTP Version Not Supported")

const char *sl_status_reason(int status)
{
    switch (status) {
#define SL_REASON(code, reason)                                                                    \
    case code: return reason;
        SL_STATUSES(SL_REASON)
#undef SL_REASON
    default: return "Unknown";
    }
}

/* "HTTP/1.1 404 Not Found\r\n" as one literal: the status line is one copy, not five
 * appends (bench/RESULTS.md, instructions per request). {NULL, 0} for a status not
 * listed. */
struct sl_str sl_status_line(int status)
{
    switch (status) {
#define SL_STATUS_LINE(code, reason)                                                               \
    case code: return SL_STR("HTTP/1.1 " #code " " reason "\r\n");
        SL_STATUSES(SL_STATUS_LINE)
#undef SL_STATUS_LINE
    default: return sl_str_make(NULL, 0);
    }
}

void sl_head_begin(struct sl_buf *b, int status, const char *date)
{
    static const char server[] = SL_HEAD_AFTER_DATE;
    char unknown[32];
    struct sl_str line = sl_status_line(status);
    if (!line.p) {
        struct sl_buf u = sl_buf_make(unknown, sizeof(unknown));
        sl_buf_puts(&u, "HTTP/1.1 ");
        sl_buf_put_u64(&u, (uint64_t)status);
        sl_buf_puts(&u, " Unknown\r\n");
        line = sl_str_make(unknown, u.len);
    }
    /* One reservation for the four pieces. */
    char *w = sl_buf_reserve(b, line.n + 6 + SL_HTTPDATE_LEN + sizeof(server) - 1);
    if (!w)
        return;
    memcpy(w, line.p, line.n);
    w += line.n;
    memcpy(w, "Date: ", 6);
    memcpy(w + 6, date, SL_HTTPDATE_LEN);
    memcpy(w + 6 + SL_HTTPDATE_LEN, server, sizeof(server) - 1);
}

static const char *error_explanation(int status)
{
    switch (status) {
    case 400: return "The request could not be understood.";
    case 403: return "You do not have permission to read this resource.";
    case 404: return "Nothing is served at this address.";
    case 405: return "Only GET and HEAD are supported.";
    case 408: return "The request took too long to arrive.";
    case 412: return "A precondition of the request did not hold.";
    case 414: return "The request target is too long.";
    case 416: return "The requested range lies outside the file.";
    case 431: return "The request header is too large.";
    case 501: return "This server does not know the request method; it answers GET and HEAD.";
    case 503: return "The server is too busy; try again shortly.";
    case 505: return "Only HTTP/1.0 and HTTP/1.1 are supported.";
    default: return "The server could not complete the request.";
    }
}

static void put_status_title(struct sl_buf *b, int status)
{
    sl_buf_put_u64(b, (uint64_t)status);
    sl_buf_puts(b, " ");
    sl_buf_puts(b, sl_status_reason(status));
}

void sl_error_page(struct sl_buf *b, int status)
{
    sl_error_page_text(b, status, error_explanation(status));
}

void sl_error_page_text(struct sl_buf *b, int status, const char *explanation)
{
    sl_buf_puts(b, SL_PAGE_HEAD);
    put_status_title(b, status);
    sl_buf_puts(b, "</title>\n<style>\n" SL_PAGE_STYLE "</style>\n</head>\n<body>\n<main>\n<h1>");
    put_status_title(b, status);
    sl_buf_puts(b, "</h1>\n<p>");
    sl_buf_puts(b, explanation);
    /* Someone who followed a broken link gets somewhere to go on from. */
    sl_buf_puts(b, "</p>\n<p><a href=\"/\">Go to the home page</a></p>\n"
                   "<footer>" SL_SERVER_NAME "</footer>\n</main>\n</body>\n</html>\n");
}

/* ---- the built-in pages, rendered once ---- */

static const int page_statuses[] = {400, 403, 404, 405, 408, 412, 414,
                                    416, 431, 500, 501, 503, 505};
#define PAGE_COUNT (sizeof(page_statuses) / sizeof(page_statuses[0]))

/* Written once by pthread_once, then only read: every loop shares them without locks. */
static struct {
    struct sl_built_in_page page[PAGE_COUNT]; /* head.p NULL: none (did not fit) */
    char text[PAGE_COUNT][SL_ERROR_PAGE_MAX];
    char head[PAGE_COUNT][256];
} pages;
static pthread_once_t pages_once = PTHREAD_ONCE_INIT;

static void render_page(size_t i)
{
    struct sl_built_in_page *page = &pages.page[i];
    struct sl_buf b = sl_buf_make(pages.text[i], sizeof(pages.text[i]));
    sl_error_page(&b, page_statuses[i]);
    static const char stand_in[] = "Thu, 01 Jan 1970 00:00:00 GMT";
    _Static_assert(sizeof(stand_in) - 1 == SL_HTTPDATE_LEN, "a date's length");
    struct sl_buf h = sl_buf_make(pages.head[i], sizeof(pages.head[i]));
    sl_head_begin(&h, page_statuses[i], stand_in);
    sl_head_field(&h, "Content-Type", SL_STR("text/html; charset=utf-8"));
    sl_head_field_u64(&h, "Content-Length", b.len);
    if (b.overflow || h.overflow)
        return;
    page->status = page_statuses[i];
    page->head = sl_str_make(pages.head[i], h.len);
    page->date_at = sl_status_line(page_statuses[i]).n + 6; /* after "Date: " */
    page->body = sl_str_make(pages.text[i], b.len);
}

static void render_pages(void)
{
    for (size_t i = 0; i < PAGE_COUNT; i++)
        render_page(i);
}

const struct sl_built_in_page *sl_built_in_page(int status)
{
    pthread_once(&pages_once, render_pages);
    for (size_t i = 0; i < PAGE_COUNT; i++) {
        if (page_statuses[i] == status)
            return pages.page[i].head.p ? &pages.page[i] : NULL;
    }
    return NULL;
}
