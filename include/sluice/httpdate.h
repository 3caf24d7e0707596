/* HTTP-date (RFC 9110 §5.6.7): formatting as IMF-fixdate and parsing of all three
 * accepted forms; and the other dates we write, for the access log and listings. All in
 * UTC. Pure functions, no locale, no global state, no I/O. */
#ifndef SLUICE_HTTPDATE_H
#define SLUICE_HTTPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define SL_HTTPDATE_LEN 29

/* Writes t (seconds since the epoch, UTC) as an IMF-fixdate plus a NUL into out. */
void sl_httpdate_format(time_t t, char out[SL_HTTPDATE_LEN + 1]);

/* Parses an IMF-fixdate, an obsolete RFC 850 date or an asctime() date (s need not be
 * NUL-terminated). Returns 0 and stores the time in *t, or -1 for anything else. */
int sl_httpdate_parse(const char *s, size_t len, time_t *t);

/* "06/Nov/1994:08:49:37 +0000", the Common Log Format time (without its brackets). Like
 * sl_httpdate_format, clamps t to the years 0000..9999. */
#define SL_LOGDATE_LEN 26
void sl_logdate_format(time_t t, char out[SL_LOGDATE_LEN + 1]);

/* "1994-11-06T08:49:37Z" (RFC 3339), for JSON listings and <time datetime>. RFC 3339
 * years have four digits, so for a t outside 0000..9999 returns false and writes nothing. */
#define SL_RFC3339_LEN 20
bool sl_rfc3339_format(time_t t, char out[SL_RFC3339_LEN + 1]);

/* "1994-11-06 08:49", the short form an HTML listing shows; false, writing nothing,
 * outside the years 0000..9999. */
#define SL_LISTINGDATE_LEN 16
bool sl_listingdate_format(time_t t, char out[SL_LISTINGDATE_LEN + 1]);

#endif
