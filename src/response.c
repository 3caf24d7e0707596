/* Response heads and error pages. Everything lands in a caller-owned sl_buf; nothing
 * here allocates or does I/O. */
#include "sluice/response.h"

#include <pthread.h>

const char *sl_status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 412: return "Precondition Failed";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void sl_head_begin(struct sl_buf *b, int status, const char *date)
{
    sl_buf_puts(b, "HTTP/1.1 ");
    sl_buf_put_u64(b, (uint64_t)status);
    sl_buf_puts(b, " ");
    sl_buf_puts(b, sl_status_reason(status));
    sl_buf_puts(b, "\r\nDate: ");
    sl_buf_puts(b, date);
    sl_buf_puts(b, "\r\nServer: " SL_SERVER_NAME "\r\n");
}

void sl_head_field(struct sl_buf *b, const char *name, struct sl_str value)
{
    sl_buf_puts(b, name);
    sl_buf_append(b, ": ", 2);
    sl_buf_append(b, value.p, value.n);
    sl_buf_append(b, "\r\n", 2);
}

void sl_head_field_u64(struct sl_buf *b, const char *name, uint64_t value)
{
    sl_buf_puts(b, name);
    sl_buf_append(b, ": ", 2);
    sl_buf_put_u64(b, value);
    sl_buf_append(b, "\r\n", 2);
}

void sl_head_end(struct sl_buf *b, bool keep_alive, bool http10)
{
    /* HTTP/1.1 persists by default, so only "close" needs saying there; a 1.0 client
     * keeps the connection only when told so explicitly (RFC 9112 §9.3). */
    if (!keep_alive)
        sl_buf_puts(b, "Connection: close\r\n");
    else if (http10)
        sl_buf_puts(b, "Connection: keep-alive\r\n");
    sl_buf_append(b, "\r\n", 2);
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
    size_t len[PAGE_COUNT];
    char text[PAGE_COUNT][SL_ERROR_PAGE_MAX];
} pages;
static pthread_once_t pages_once = PTHREAD_ONCE_INIT;

static void render_pages(void)
{
    for (size_t i = 0; i < PAGE_COUNT; i++) {
        struct sl_buf b = sl_buf_make(pages.text[i], sizeof(pages.text[i]));
        sl_error_page(&b, page_statuses[i]);
        pages.len[i] = b.overflow ? 0 : b.len;
    }
}

struct sl_str sl_error_page_body(int status)
{
    pthread_once(&pages_once, render_pages);
    for (size_t i = 0; i < PAGE_COUNT; i++) {
        if (page_statuses[i] == status && pages.len[i] > 0)
            return sl_str_make(pages.text[i], pages.len[i]);
    }
    return sl_str_make(NULL, 0);
}
