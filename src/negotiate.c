/* Accept-Encoding negotiation (RFC 9110 §12.5.3): picks which precompressed variant
 * (br, zstd, gzip) or identity to send. Pure: no I/O, never reads past `len`. */
#include "sluice/negotiate.h"

#include <stdbool.h>

#include "sluice/str.h"

/* q-values are kept in thousandths (0..1000) so they compare exactly as integers. */
#define Q_MAX 1000
/* An unlisted identity is acceptable (RFC 9110 §12.5.3) but should lose to any coding the
 * client did list, so it gets the smallest positive weight; ties go to the coding. */
#define Q_IMPLICIT_IDENTITY 1
#define Q_UNSET (-1)

enum slot { SLOT_BR, SLOT_ZSTD, SLOT_GZIP, SLOT_IDENTITY, SLOT_STAR, SLOT_COUNT };

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )  (RFC 9110 §12.4.2).
 * Returns thousandths, or -1 if `s` is not exactly a qvalue. */
static int parse_qvalue(struct sl_str s)
{
    if (s.n == 0 || (s.p[0] != '0' && s.p[0] != '1'))
        return -1;
    int whole = s.p[0] - '0';
    if (s.n == 1)
        return whole * Q_MAX;
    if (s.p[1] != '.' || s.n > 5)
        return -1;
    int frac = 0;
    int scale = 100;
    for (size_t i = 2; i < s.n; i++) {
        if (!sl_is_digit((unsigned char)s.p[i]))
            return -1;
        frac += (s.p[i] - '0') * scale;
        scale /= 10;
    }
    if (whole == 1 && frac != 0)
        return -1;
    return whole * Q_MAX + frac;
}

static int slot_of(struct sl_str coding)
{
    static const struct {
        const char *name;
        int slot;
    } names[] = {
        {"br", SLOT_BR},
        {"zstd", SLOT_ZSTD},
        {"gzip", SLOT_GZIP},
        {"x-gzip", SLOT_GZIP}, /* RFC 9110 §8.4.1.3: recipients treat as gzip */
        {"identity", SLOT_IDENTITY},
        {"*", SLOT_STAR},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (sl_str_caseeq(coding, sl_str_cstr(names[i].name)))
            return names[i].slot;
    }
    return -1;
}

/* Parses one list element, already trimmed and non-empty:
 *   codings [ OWS ";" OWS "q=" qvalue ]
 * Sets *coding and *q (thousandths; 1000 when no weight). False when malformed. */
static bool parse_element(struct sl_str e, struct sl_str *coding, int *q)
{
    size_t i = 0;
    while (i < e.n && sl_is_tchar((unsigned char)e.p[i]))
        i++;
    if (i == 0)
        return false;
    *coding = sl_str_make(e.p, i);
    *q = Q_MAX;
    if (i == e.n)
        return true;

    while (i < e.n && sl_is_ows((unsigned char)e.p[i]))
        i++;
    if (i == e.n || e.p[i] != ';')
        return false;
    i++;
    while (i < e.n && sl_is_ows((unsigned char)e.p[i]))
        i++;
    /* "q=" is an ABNF literal, so case-insensitive; no whitespace around "=". */
    if (e.n - i < 2 || (e.p[i] != 'q' && e.p[i] != 'Q') || e.p[i + 1] != '=')
        return false;
    *q = parse_qvalue(sl_str_make(e.p + i + 2, e.n - i - 2));
    return *q >= 0;
}

/* Fills q[] with the weight each slot was given, Q_UNSET when not listed. When a coding is
 * listed twice, the first well-formed occurrence counts. */
static void collect_weights(const char *value, size_t len, int q[SLOT_COUNT])
{
    for (int s = 0; s < SLOT_COUNT; s++)
        q[s] = Q_UNSET;

    struct sl_str rest = sl_str_make(value, len), e;
    while (sl_str_list_next(&rest, &e)) {
        struct sl_str coding;
        int weight;
        if (e.n > 0 && parse_element(e, &coding, &weight)) {
            int slot = slot_of(coding);
            if (slot >= 0 && q[slot] == Q_UNSET)
                q[slot] = weight;
        }
    }
}

int sl_negotiate_encoding(const char *value, size_t len, unsigned available)
{
    if (value == NULL)
        return SL_ENC_IDENTITY;

    int q[SLOT_COUNT];
    collect_weights(value, len, q);

    /* In preference order, so a strict ">" below breaks ties as br > zstd > gzip > identity. */
    static const struct {
        int slot;
        int enc;
    } order[] = {
        {SLOT_BR, SL_ENC_BR},
        {SLOT_ZSTD, SL_ENC_ZSTD},
        {SLOT_GZIP, SL_ENC_GZIP},
        {SLOT_IDENTITY, SL_ENC_IDENTITY},
    };
    int best = -1;
    int best_q = 0;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        int enc = order[i].enc;
        if (enc != SL_ENC_IDENTITY && !(available & (unsigned)enc))
            continue;
        /* "*" stands for every coding not listed explicitly, identity included. */
        int w = q[order[i].slot] != Q_UNSET ? q[order[i].slot] : q[SLOT_STAR];
        if (w == Q_UNSET)
            w = enc == SL_ENC_IDENTITY ? Q_IMPLICIT_IDENTITY : 0;
        if (w > best_q) {
            best = enc;
            best_q = w;
        }
    }
    return best;
}

const char *sl_encoding_name(int enc)
{
    switch (enc) {
    case SL_ENC_BR: return "br";
    case SL_ENC_ZSTD: return "zstd";
    case SL_ENC_GZIP: return "gzip";
    default: return NULL;
    }
}

const char *sl_encoding_suffix(int enc)
{
    switch (enc) {
    case SL_ENC_BR: return ".br";
    case SL_ENC_ZSTD: return ".zst";
    case SL_ENC_GZIP: return ".gz";
    default: return "";
    }
}
