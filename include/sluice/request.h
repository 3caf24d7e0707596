/* llhttp glue: turns request bytes into a struct sl_request whose fields are spans
 * into the caller's head buffer. Strict llhttp, with one lenient flag that only lets a
 * higher HTTP/1 minor version through to be answered as 1.1: every request-smuggling
 * shape llhttp knows is an error here. */
#ifndef SLUICE_REQUEST_H
#define SLUICE_REQUEST_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/cond.h"
#include "sluice/str.h"

#define SL_URL_MAX 8192    /* longer targets get 414 */
#define SL_HEAD_MAX 16384  /* a request head that does not fit gets 431 */
#define SL_HEADERS_MAX 100 /* more header fields get 431 */
/* The optional fields a request may set, range through cors_headers. */
#define SL_FIELD_SLOTS 12
/* List fields sent on several lines are joined here; more than this gets 431. */
#define SL_JOINED_MAX 2048

struct sl_request {
    uint8_t method; /* enum llhttp_method */
    uint8_t http_major;
    uint8_t http_minor;
    bool keep_alive; /* what the client asked for (version + Connection) */
    bool has_body;   /* Content-Length > 0 or chunked: the connection closes after */
    bool url_done;
    bool method_known; /* `method` is valid (parsed even if the request fails later) */
    bool complete;     /* the whole head parsed */
    uint16_t header_count;
    uint16_t error_status; /* set by a callback that rejects the request */
    uint8_t host_count;
    uint8_t slots_set; /* how many of the optional fields below this request has set */
    const char *start; /* the request's first byte in the buffer */
    struct sl_str target;
    struct sl_str version; /* "1.1" */
    struct sl_str host;
    struct sl_str field; /* the field name whose value is arriving */
    struct sl_str value; /* that value so far */
    /* Cleared for each request up to here. The optional fields below are NULL unless
     * the request sent them, and only those it set are cleared (slots): most requests
     * set none or a few. */
    struct sl_str range;
    struct sl_str accept;
    struct sl_str accept_encoding;
    struct sl_str user_agent;
    struct sl_str referer;
    struct sl_cond_fields cond;
    struct sl_str cors_method;            /* Access-Control-Request-Method (a CORS preflight) */
    struct sl_str cors_headers;           /* Access-Control-Request-Headers */
    struct sl_str *slots[SL_FIELD_SLOTS]; /* the optional fields set, slots_set of them */
    /* If-Match, If-None-Match and Accept-Encoding sent on several lines, joined (RFC
     * 9110 §5.3); the fields above point here then. Last: not cleared per request. */
    size_t joined_len;
    char joined[SL_JOINED_MAX];
    /* The last Host value found valid, kept from one request to the next (not cleared
     * with the rest): clients send the same one every time, so the same bytes again
     * need no second look (sl_request_init empties it). */
    size_t valid_host_len;
    char valid_host[64];
};

enum sl_parse_result {
    SL_PARSE_MORE = 0,  /* all bytes consumed, head incomplete */
    SL_PARSE_READY = 1, /* a request head is complete; *consumed tells where it ended */
    /* any other value: the HTTP status to answer before closing (400, 414, 431, 501,
     * 505) */
};

/* Prepares parser and request for a new request. */
void sl_request_init(llhttp_t *parser, struct sl_request *req);

/* The same for a request that sl_request_init has set up before. Its parser becomes a
 * copy of `fresh`, a parser just set up by sl_request_init (for any request): what
 * llhttp_init leaves depends on nothing else, and a copy costs a fraction of
 * llhttp_reset (bench/RESULTS.md, instructions per request). */
void sl_request_reset(llhttp_t *parser, struct sl_request *req, const llhttp_t *fresh);

/* Feeds len bytes at data (which must directly follow the bytes fed before, in the same
 * buffer, since spans grow in place). Returns SL_PARSE_MORE, SL_PARSE_READY (with
 * *consumed bytes used, possibly fewer than len when requests are pipelined) or an
 * error status. */
int sl_request_feed(llhttp_t *parser, struct sl_request *req, const char *data, size_t len,
                    size_t *consumed);

/* The status to answer when the head buffer is full but the head is incomplete. */
int sl_request_overflow_status(const struct sl_request *req);

#endif
