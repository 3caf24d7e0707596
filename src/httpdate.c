/* HTTP-date formatting and parsing (RFC 9110 §5.6.7), and every other date we write (the
 * access log's, the listing's). Calendar arithmetic is done here on int64_t days
 * (proleptic Gregorian, UTC) so nothing depends on TZ, the locale, timegm/mktime or the
 * width of the platform's struct tm fields. */
#include "sluice/httpdate.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sluice/str.h"

static const char day_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const day_names_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* IMF-fixdate has a four-digit year, so formatting clamps to 0000-01-01T00:00:00 ..
 * 9999-12-31T23:59:59, which is also every date the parser can return. The other formats
 * have four-digit years too: the log's clamps, the listing's refuse other years. */
#define MIN_SECONDS (-62167219200LL) /* days_from_civil(0, 1, 1) * 86400 */
#define MAX_SECONDS 253402300799LL   /* days_from_civil(10000, 1, 1) * 86400 - 1 */

/* Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant, "chrono-Compatible
 * Low-Level Date Algorithms"); exact for any year an int64_t day count can hold. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static unsigned weekday_from_days(int64_t z)
{
    int64_t r = (z + 4) % 7;
    return (unsigned)(r < 0 ? r + 7 : r);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* A time split into UTC calendar fields. */
struct civil {
    unsigned year, month, day; /* year 0..9999, month 1..12 */
    unsigned hour, min, sec;
    unsigned wday; /* 0 = Sunday */
};

static bool in_range(time_t t)
{
    return (int64_t)t >= MIN_SECONDS && (int64_t)t <= MAX_SECONDS;
}

/* Splits t, clamped to the years 0000..9999 that four digits can show. */
static struct civil split(time_t t)
{
    int64_t s = (int64_t)t;
    s = s < MIN_SECONDS ? MIN_SECONDS : s > MAX_SECONDS ? MAX_SECONDS : s;
    int64_t days = s / 86400;
    int64_t secs = s % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y;
    struct civil c;
    civil_from_days(days, &y, &c.month, &c.day);
    unsigned sod = (unsigned)secs;
    c.year = (unsigned)y;
    c.hour = sod / 3600;
    c.min = sod / 60 % 60;
    c.sec = sod % 60;
    c.wday = weekday_from_days(days);
    return c;
}

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

static void put4(char *p, unsigned v)
{
    put2(p, v / 100);
    put2(p + 2, v % 100);
}

/* "aa<sep>bb<sep>cc", two digits each */
static void put_triple(char *p, unsigned a, unsigned b, unsigned c, char sep)
{
    put2(p, a);
    p[2] = sep;
    put2(p + 3, b);
    p[5] = sep;
    put2(p + 6, c);
}

/* "18:52:40" */
static void put_hms(char *p, const struct civil *c)
{
    put_triple(p, c->hour, c->min, c->sec, ':');
}

/* "2026-11-23": the century, then a triple */
static void put_ymd(char *p, const struct civil *c)
{
    put2(p, c->year / 100);
    put_triple(p + 2, c->year % 100, c->month, c->day, '-');
}

/* "06 Nov 1994" (HTTP) or "06/Nov/1994" (log), with sep between the parts */
static void put_dmy(char *p, const struct civil *c, char sep)
{
    put2(p, c->day);
    p[2] = sep;
    memcpy(p + 3, month_names[c->month - 1], 3);
    p[6] = sep;
    put4(p + 7, c->year);
}

void sl_httpdate_format(time_t t, char out[SL_HTTPDATE_LEN + 1])
{
    struct civil c = split(t);
    memcpy(out, day_names[c.wday], 3);
    memcpy(out + 3, ", ", 2);
    put_dmy(out + 5, &c, ' ');
    out[16] = ' ';
    put_hms(out + 17, &c);
    memcpy(out + 25, " GMT", 5); /* with the NUL */
}

void sl_logdate_format(time_t t, char out[SL_LOGDATE_LEN + 1])
{
    struct civil c = split(t);
    put_dmy(out, &c, '/');
    out[11] = ':';
    put_hms(out + 12, &c);
    memcpy(out + 20, " +0000", 7); /* with the NUL */
}

bool sl_rfc3339_format(time_t t, char out[SL_RFC3339_LEN + 1])
{
    if (!in_range(t))
        return false;
    struct civil c = split(t);
    put_ymd(out, &c);
    out[10] = 'T';
    put_hms(out + 11, &c);
    memcpy(out + 19, "Z", 2); /* with the NUL */
    return true;
}

/* The RFC 3339 form cut to the minute, with a space for the 'T'. */
bool sl_listingdate_format(time_t t, char out[SL_LISTINGDATE_LEN + 1])
{
    char iso[SL_RFC3339_LEN + 1];
    if (!sl_rfc3339_format(t, iso))
        return false;
    memcpy(out, iso, SL_LISTINGDATE_LEN);
    out[10] = ' ';
    out[SL_LISTINGDATE_LEN] = '\0';
    return true;
}

/* Digits at p[0..n) as a number, or -1 if any byte is not a digit. */
static int parse_digits(const char *p, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sl_is_digit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Month names are case-sensitive (RFC 9110 §5.6.7: "HTTP-date is case sensitive"). */
static int parse_month(const char *p)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(p, month_names[i], 3) == 0)
            return i + 1;
    return -1;
}

static int parse_day_name(const char *p)
{
    for (int i = 0; i < 7; i++)
        if (memcmp(p, day_names[i], 3) == 0)
            return i;
    return -1;
}

/* "HH:MM:SS" */
static bool parse_time_of_day(const char *p, int *h, int *mi, int *sec)
{
    if (p[2] != ':' || p[5] != ':')
        return false;
    *h = parse_digits(p, 2);
    *mi = parse_digits(p + 3, 2);
    *sec = parse_digits(p + 6, 2);
    return *h >= 0 && *mi >= 0 && *sec >= 0;
}

/* Validates the fields and the day name against the date, then stores the time.
 * Second 60 is accepted (RFC 9110 allows a leap second, "23:59:60"); POSIX time has no
 * leap seconds, so it becomes the first second of the next minute. */
static int make_time(int y, int mo, int d, int h, int mi, int sec, int wday, time_t *t)
{
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo))
        return -1;
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return -1;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    if (wday < 0 || weekday_from_days(days) != (unsigned)wday)
        return -1;
    int64_t s = days * 86400 + h * 3600 + mi * 60 + sec;
    /* A leap second at the very end of 9999 would land in year 10000, which the
     * formatter cannot write: every parsed date must round-trip (found by fuzz_cond). */
    if (s > MAX_SECONDS)
        return -1;
    if ((int64_t)(time_t)s != s) /* only possible with a 32-bit time_t */
        return -1;
    *t = (time_t)s;
    return 0;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
static int parse_imf_fixdate(const char *s, size_t len, time_t *t)
{
    int h, mi, sec;
    if (len != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        memcmp(s + 25, " GMT", 4) != 0 || !parse_time_of_day(s + 17, &h, &mi, &sec))
        return -1;
    return make_time(parse_digits(s + 12, 4), parse_month(s + 8), parse_digits(s + 5, 2), h, mi,
                     sec, parse_day_name(s), t);
}

/* rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT". RFC 9110 §5.6.7 reads a two-digit year
 * more than 50 years in the future as the past century, which needs a clock; to stay pure
 * we use a fixed pivot instead: 00-69 -> 20yy, 70-99 -> 19yy, so every year since the epoch
 * reads as itself. The rules differ only for 70 up to (this year - 1950), i.e. dates 2070+,
 * which no RFC 850 sender (obsolete since 1996) will produce. */
static int parse_rfc850(const char *s, size_t len, time_t *t)
{
    int wday = -1;
    size_t name_len = 0;
    for (int i = 0; i < 7; i++) {
        size_t n = strlen(day_names_long[i]);
        if (len > n && memcmp(s, day_names_long[i], n) == 0 && s[n] == ',') {
            wday = i;
            name_len = n;
            break;
        }
    }
    if (wday < 0 || len != name_len + 24)
        return -1;
    const char *p = s + name_len; /* ", 06-Nov-94 08:49:37 GMT" */
    int h, mi, sec;
    if (p[1] != ' ' || p[4] != '-' || p[8] != '-' || p[11] != ' ' ||
        memcmp(p + 20, " GMT", 4) != 0 || !parse_time_of_day(p + 12, &h, &mi, &sec))
        return -1;
    int yy = parse_digits(p + 9, 2);
    if (yy < 0)
        return -1;
    int y = yy < 70 ? 2000 + yy : 1900 + yy;
    return make_time(y, parse_month(p + 5), parse_digits(p + 2, 2), h, mi, sec, wday, t);
}

/* asctime-date: "Sun Nov  6 08:49:37 1994"; the day is 2DIGIT or SP DIGIT. */
static int parse_asctime(const char *s, size_t len, time_t *t)
{
    int h, mi, sec;
    if (len != 24 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' ||
        !parse_time_of_day(s + 11, &h, &mi, &sec))
        return -1;
    int d = s[8] == ' ' ? parse_digits(s + 9, 1) : parse_digits(s + 8, 2);
    return make_time(parse_digits(s + 20, 4), parse_month(s + 4), d, h, mi, sec, parse_day_name(s),
                     t);
}

int sl_httpdate_parse(const char *s, size_t len, time_t *t)
{
    if (s == NULL || len < 4)
        return -1;
    if (s[3] == ',')
        return parse_imf_fixdate(s, len, t);
    if (s[3] == ' ')
        return parse_asctime(s, len, t);
    return parse_rfc850(s, len, t);
}
