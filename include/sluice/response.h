/* Response heads: status line, header fields and small HTML error pages, built into a
 * caller-owned buffer. Pure: no I/O, so header building is unit tested directly. */
#ifndef SLUICE_RESPONSE_H
#define SLUICE_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sluice/buf.h" /* response heads are sl_bufs: callers get buf.h from here */
#include "sluice/str.h"

#define SL_SERVER_NAME "sluice"

/* The reason phrase for a status code we send ("Not Found"); "Unknown" otherwise. */
const char *sl_status_reason(int status);

/* "HTTP/1.1 <status> <reason>\r\n" for a status we send; {NULL, 0} for another. */
struct sl_str sl_status_line(int status);

/* Appends "HTTP/1.1 <status> <reason>\r\nDate: <date>\r\nServer: sluice\r\n"; date is an
 * HTTP-date, SL_HTTPDATE_LEN bytes. */
void sl_head_begin(struct sl_buf *b, int status, const char *date);

/* Appends "<name>: <value>\r\n", whole or (when it does not fit) not at all. Inline, so a
 * literal name's length is known when compiling, and one reservation for the four
 * pieces: heads are built from many of these. */
static inline void sl_head_field(struct sl_buf *b, const char *name, struct sl_str value)
{
    size_t n = strlen(name);
    char *w = sl_buf_reserve(b, n + 2 + value.n + 2);
    if (!w)
        return;
    memcpy(w, name, n);
    memcpy(w + n, ": ", 2);
    memcpy(w + n + 2, value.p, value.n);
    memcpy(w + n + 2 + value.n, "\r\n", 2);
}

static inline void sl_head_field_u64(struct sl_buf *b, const char *name, uint64_t value)
{
    char digits[SL_U64_DIGITS];
    char *p = sl_u64_digits(digits, value);
    sl_head_field(b, name, sl_str_make(p, (size_t)(digits + sizeof(digits) - p)));
}

/* What follows the date in every head sl_head_begin starts. */
#define SL_HEAD_AFTER_DATE "\r\nServer: " SL_SERVER_NAME "\r\n"

/* Appends "Connection: close\r\n" or "Connection: keep-alive\r\n" as the request's
 * version needs, then the final CRLF. HTTP/1.1 persists by default, so only "close" needs
 * saying there; a 1.0 client keeps the connection only when told so explicitly (RFC 9112
 * §9.3). Inline: every response ends here, most with the two bytes alone. */
static inline void sl_head_end(struct sl_buf *b, bool keep_alive, bool http10)
{
    if (!keep_alive) {
        sl_buf_puts(b, "Connection: close\r\n\r\n");
    } else if (http10) {
        sl_buf_puts(b, "Connection: keep-alive\r\n\r\n");
    } else {
        char *w = sl_buf_reserve(b, 2); /* two stores, whatever the compiler inlines */
        if (w) {
            w[0] = '\r';
            w[1] = '\n';
        }
    }
}

/* The pages sluice writes itself (error pages and listings) open the same way and share
 * one look, so a visitor who meets both sees one site. SL_PAGE_HEAD runs from the doctype
 * to the <title> tag; besides charset and viewport it stops the browser's /favicon.ico
 * request, which would only be a 404 in the log. */
#define SL_PAGE_HEAD                                                                               \
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"                      \
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"                   \
    "<meta name=\"color-scheme\" content=\"light dark\">\n<link rel=\"icon\" href=\"data:,\">\n"   \
    "<title>"

/* The shared style sheet: system fonts, and a light and a dark palette that follow
 * prefers-color-scheme, as variables a page's own rules can use too. */
#define SL_PAGE_STYLE                                                                              \
    ":root{color-scheme:light dark;--fg:#1f2328;--bg:#fff;--muted:#59636e;--line:#d1d9e0;"         \
    "--link:#0969da;--hover:#f6f8fa}\n"                                                            \
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;"          \
    "--line:#3d444d;--link:#4493f8;--hover:#151b23}}\n"                                            \
    "*{box-sizing:border-box}\n"                                                                   \
    "body{margin:0;color:var(--fg);background:var(--bg);"                                          \
    "font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\n"                      \
    "main{max-width:60rem;margin:0 auto;padding:1rem}\n"                                           \
    "h1{font-size:1.25rem;font-weight:600;margin:.5rem 0 1rem;overflow-wrap:anywhere}\n"           \
    "a{color:var(--link);text-decoration:none}\n"                                                  \
    "a:hover{text-decoration:underline}\n"                                                         \
    "footer{margin-top:1rem;font-size:.8rem;color:var(--muted)}\n"                                 \
    "@media (max-width:30rem){body{font-size:14px}main{padding:.5rem}}\n"

/* Room for any page sl_error_page or sl_error_page_text writes (with an explanation of up
 * to a few hundred bytes): what the planner gives them. */
#define SL_ERROR_PAGE_MAX 2048

/* Writes a small HTML page explaining `status` into b (the body only): the status as title
 * and heading, the explanation, and a link to the home page, in the shared look. */
void sl_error_page(struct sl_buf *b, int status);

/* The same page with another explanation (plain text, not escaped). */
void sl_error_page_text(struct sl_buf *b, int status, const char *explanation);

/* sl_error_page's page for a status, rendered once per process and then only read (404s
 * are a hot path: they are sent from here, not rendered per request). */
struct sl_built_in_page {
    int status;
    /* The head up to the fields a response may add: the status line, a stand-in Date for
     * the caller to overwrite at date_at, Server, then "Content-Type: text/html;
     * charset=utf-8\r\nContent-Length: <n>\r\n"; so that a 404 copies it instead of
     * formatting it. */
    struct sl_str head;
    size_t date_at;
    struct sl_str body;
};

/* The page for `status`, or NULL for a status without one. */
const struct sl_built_in_page *sl_built_in_page(int status);

#endif
