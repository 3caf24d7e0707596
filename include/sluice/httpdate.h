/* HTTP-date (RFC 9110 §5.6.7): formatting as IMF-fixdate and parsing of all three
 * accepted forms. Pure functions, no locale, no global state, no I/O. */
#ifndef SLUICE_HTTPDATE_H
#define SLUICE_HTTPDATE_H

#include <stddef.h>
#include <time.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define SL_HTTPDATE_LEN 29

/* Writes t (seconds since the epoch, UTC) as an IMF-fixdate plus a NUL into out. */
void sl_httpdate_format(time_t t, char out[SL_HTTPDATE_LEN + 1]);

/* Parses an IMF-fixdate, an obsolete RFC 850 date or an asctime() date (s need not be
 * NUL-terminated). Returns 0 and stores the time in *t, or -1 for anything else. */
int sl_httpdate_parse(const char *s, size_t len, time_t *t);

#endif
