/* Unit tests for the HTML charset prescan and encoding labels (src/charset.c). */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <string.h>

#include "sluice/charset.h"

static const char *prescan(const char *html)
{
    return sl_charset_prescan(html, strlen(html));
}

static void assert_prescan(const char *html, const char *want)
{
    const char *got = prescan(html);
    if (want == NULL ? got != NULL : got == NULL || strcmp(got, want) != 0)
        fail_msg("%s: got %s, want %s", html, got ? got : "NULL", want ? want : "NULL");
}

/* A page as an HTML 4 editor saved it. ISO-8859-1 is a label of windows-1252, which is
 * what every browser decodes such a page with. */
static void test_latin1_page_with_http_equiv_content_type(void **state)
{
    assert_prescan("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"\n"
                   "  \"http://www.w3.org/TR/html4/loose.dtd\">\n"
                   "<html>\n<head>\n"
                   "<meta http-equiv=\"Content-Type\" content=\"text/html; "
                   "charset=ISO-8859-1\">\n"
                   "<title>Caf\xe9</title>\n",
                   "windows-1252");
}

static void test_meta_charset_quoted_unquoted_single_quoted_and_uppercase(void **state)
{
    assert_prescan("<!doctype html><html lang=en><head><meta charset=\"utf-8\">", "utf-8");
    assert_prescan("<meta charset=utf-8>", "utf-8");
    assert_prescan("<meta charset='utf-8'>", "utf-8");
    assert_prescan("<META CHARSET=\"UTF-8\">", "utf-8");
    assert_prescan("<Meta Charset=Shift_JIS>", "shift_jis");
    assert_prescan("<meta charset=\" utf-8 \">", "utf-8");
    assert_prescan("<meta charset=utf8>", "utf-8");
    assert_prescan("<meta charset=gb2312>", "gbk");
    assert_prescan("<meta/charset=koi8-r>", "koi8-r");
    assert_prescan("<meta\ncharset=euc-kr\n/>", "euc-kr");
}

static void test_content_before_http_equiv_and_other_shapes(void **state)
{
    assert_prescan("<meta content=\"text/html; charset=windows-1251\" "
                   "http-equiv=\"content-type\">",
                   "windows-1251");
    assert_prescan("<meta http-equiv=CONTENT-TYPE content='text/html;charset=\"big5\"'>", "big5");
    assert_prescan("<meta http-equiv=\"Content-Type\" content=\"text/html; charset = euc-jp;\">",
                   "euc-jp");
    /* A "charset" with no '=' after it is passed over for the next one. */
    assert_prescan("<meta http-equiv=content-type content=\"charsets; charset=iso-8859-2\">",
                   "iso-8859-2");
}

static void test_content_without_http_equiv_content_type_is_not_a_declaration(void **state)
{
    assert_prescan("<meta content=\"text/html; charset=iso-8859-5\">", NULL);
    assert_prescan("<meta http-equiv=refresh content=\"0; charset=iso-8859-5\">", NULL);
    assert_prescan("<meta http-equiv=content-type content=\"text/html\">", NULL);
    assert_prescan("<meta name=viewport content=\"width=device-width\">"
                   "<meta charset=utf-8>",
                   "utf-8");
}

static void test_attributes_without_values(void **state)
{
    /* http-equiv with no value is not a pragma. */
    assert_prescan("<meta http-equiv content=\"text/html; charset=koi8-r\">", NULL);
    assert_prescan("<meta charset>", NULL);
    assert_prescan("<meta itemprop charset=utf-8>", "utf-8");
    assert_prescan("<meta async defer charset = 'windows-1250' >", "windows-1250");
}

static void test_charset_inside_a_comment_is_ignored(void **state)
{
    assert_prescan("<!-- <meta charset=\"iso-8859-1\"> -->\n<meta charset=\"utf-8\">", "utf-8");
    assert_prescan("<!-- old: <meta charset=latin1> --><p>no declaration", NULL);
    /* The dashes of "<!--" count towards "-->", so "<!-->" is a whole comment. */
    assert_prescan("<!--><meta charset=iso-8859-7>", "iso-8859-7");
    assert_prescan("<!-- -- > <meta charset=latin1> --><meta charset=utf-8>", "utf-8");
}

static void test_other_markup_is_skipped(void **state)
{
    assert_prescan("<?php echo 1 ?><!DOCTYPE html></p><meta charset=iso-8859-15>", "iso-8859-15");
    /* A quoted attribute value of another tag hides what looks like a meta in it. */
    assert_prescan("<a title=\"x> <meta charset=latin1>\"><meta charset=utf-8>", "utf-8");
    assert_prescan("<div data-x='<meta charset=latin1>'>", NULL);
    /* An end tag's "attributes" are read past too. */
    assert_prescan("</p class=\"<meta charset=latin1>\"><meta charset=utf-8>", "utf-8");
    assert_prescan("< meta charset=latin1>", NULL); /* "< " is text, and so is "meta" */
}

static void test_metal_and_other_tags_starting_with_meta_are_not_meta(void **state)
{
    assert_prescan("<metal charset=iso-8859-1>", NULL);
    assert_prescan("<metadata charset=iso-8859-1><meta charset=utf-8>", "utf-8");
    assert_prescan("<meta>", NULL);
    assert_prescan("<meta><meta charset=utf-8>", "utf-8");
}

static void test_first_usable_meta_wins(void **state)
{
    assert_prescan("<meta charset=utf-8><meta charset=iso-8859-1>", "utf-8");
    /* A label that names no encoding is skipped, as browsers skip it. */
    assert_prescan("<meta charset=bogus><meta charset=iso-8859-1>", "windows-1252");
    assert_prescan("<meta charset=\"{{ charset }}\">", NULL);
    assert_prescan("<meta charset=\"utf-8; x\">", NULL);
    /* The first of two same-named attributes counts. */
    assert_prescan("<meta charset=iso-8859-1 charset=utf-8>", "windows-1252");
    /* charset= overrides a content= in the same tag. */
    assert_prescan("<meta http-equiv=content-type content=\"text/html; charset=euc-jp\" "
                   "charset=utf-8>",
                   "utf-8");
}

static void test_meta_utf16_is_utf8_and_x_user_defined_is_windows_1252(void **state)
{
    assert_prescan("<meta charset=utf-16>", "utf-8");
    assert_prescan("<meta charset=UTF-16BE>", "utf-8");
    assert_prescan("<meta http-equiv=content-type content=\"text/html; charset=ucs-2\">", "utf-8");
    assert_prescan("<meta charset=x-user-defined>", "windows-1252");
}

/* Browsers decode these as one U+FFFD; "replacement" is also a label, so a header
 * naming it makes them do the same. */
static void test_xss_prone_encodings_are_the_replacement_encoding(void **state)
{
    assert_prescan("<meta charset=ISO-2022-KR>", "replacement");
    assert_prescan("<meta charset=hz-gb-2312>", "replacement");
}

static void test_byte_order_marks_win(void **state)
{
    assert_prescan("\xEF\xBB\xBF<meta charset=iso-8859-1>", "utf-8");
    static const char le[] = "\xFF\xFE<\0m\0e\0t\0a\0";
    assert_string_equal(sl_charset_prescan(le, sizeof(le) - 1), "utf-16le");
    static const char be[] = "\xFE\xFF\0<\0m\0e\0t\0a";
    assert_string_equal(sl_charset_prescan(be, sizeof(be) - 1), "utf-16be");
    assert_prescan("\xEF\xBB", NULL); /* half a BOM is nothing */
}

static void test_utf16_xml_declaration_without_bom(void **state)
{
    static const char le[] = "<\0?\0x\0m\0l\0";
    assert_string_equal(sl_charset_prescan(le, sizeof(le) - 1), "utf-16le");
    static const char be[] = "\0<\0?\0x\0m\0l";
    assert_string_equal(sl_charset_prescan(be, sizeof(be) - 1), "utf-16be");
}

static void test_xml_declaration_when_no_meta_says(void **state)
{
    assert_prescan("<?xml version=\"1.0\" encoding=\"ISO-8859-2\"?>\n<html>", "iso-8859-2");
    assert_prescan("<?xml version='1.0' encoding = 'windows-1250' ?><html>", "windows-1250");
    assert_prescan("<?xml version=\"1.0\" encoding=\"UTF-16\"?>", "utf-8");
    assert_prescan("<?xml version=\"1.0\" encoding=\"x-user-defined\"?>", "x-user-defined");
    /* A meta wins; a declaration not at the very start, or cut short, does not count. */
    assert_prescan("<?xml version=\"1.0\" encoding=\"iso-8859-2\"?><meta charset=utf-8>", "utf-8");
    assert_prescan(" <?xml version=\"1.0\" encoding=\"iso-8859-2\"?>", NULL);
    assert_prescan("<?xml version=\"1.0\" encoding=\"iso-8859-2\"", NULL);
    assert_prescan("<?xml version=\"1.0\" encoding=\"iso 8859-2\"?>", NULL);
    assert_prescan("<?xml version=\"1.0\"?><p encoding=\"iso-8859-2\">", NULL);
}

/* The prescan stops at 1,024 bytes, as browsers are encouraged to. */
static void test_meta_after_1024_bytes_is_ignored(void **state)
{
    char page[2048];
    const char *meta = "<meta charset=iso-8859-1>";
    size_t m = strlen(meta);
    memset(page, ' ', sizeof(page));
    memcpy(page + 1100, meta, m);
    assert_null(sl_charset_prescan(page, 1100 + m));
    memcpy(page + SL_CHARSET_PRESCAN_MAX - m, meta, m); /* ends on the last byte read */
    assert_string_equal(sl_charset_prescan(page, sizeof(page)), "windows-1252");
    memset(page, ' ', sizeof(page));
    memcpy(page + SL_CHARSET_PRESCAN_MAX - m + 1, meta, m); /* its '>' is byte 1,025 */
    assert_null(sl_charset_prescan(page, sizeof(page)));
}

static void test_truncated_input_declares_nothing(void **state)
{
    static const char *const cut[] = {
        "<meta charset=\"utf-8",
        "<meta charset=utf-8",
        "<meta charset=",
        "<meta ",
        "<meta http-equiv=content-type content=\"text/html; charset=utf-8\"",
        "<!-- <meta charset=utf-8>",
        "<p title='<meta charset=utf-8>",
        "",
    };
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++)
        assert_prescan(cut[i], NULL);
    assert_null(sl_charset_prescan(NULL, 0));
    /* Only the given length is read. */
    const char *page = "<meta charset=utf-8>";
    assert_null(sl_charset_prescan(page, strlen(page) - 1));
}

static void test_label_lookup_folds_case_and_trims_ascii_whitespace(void **state)
{
    assert_string_equal(sl_charset_from_label("UTF-8", 5), "utf-8");
    assert_string_equal(sl_charset_from_label(" \t\nlatin1\f\r ", 12), "windows-1252");
    assert_string_equal(sl_charset_from_label("866", 3), "ibm866");
    assert_string_equal(sl_charset_from_label("x-user-defined", 14), "x-user-defined");
    assert_string_equal(sl_charset_from_label("CSeucpkdfmtjapanese", 19), "euc-jp");
    assert_null(sl_charset_from_label("utf-8x", 6));
    assert_null(sl_charset_from_label("utf\0-8", 6));
    assert_null(sl_charset_from_label("", 0));
    assert_null(sl_charset_from_label(NULL, 0));
    assert_string_equal(sl_charset_from_label("replacement", 11), "replacement");
    assert_null(sl_charset_from_label("utf-7", 5));
}

/* Every encoding's name is one of its labels: this also walks the whole sorted table. */
static void test_every_encoding_name_is_its_own_label(void **state)
{
    static const char *const names[] = {
        "utf-8",        "ibm866",       "iso-8859-2",   "iso-8859-3",     "iso-8859-4",
        "iso-8859-5",   "iso-8859-6",   "iso-8859-7",   "iso-8859-8",     "iso-8859-8-i",
        "iso-8859-10",  "iso-8859-13",  "iso-8859-14",  "iso-8859-15",    "iso-8859-16",
        "koi8-r",       "koi8-u",       "macintosh",    "windows-874",    "windows-1250",
        "windows-1251", "windows-1252", "windows-1253", "windows-1254",   "windows-1255",
        "windows-1256", "windows-1257", "windows-1258", "x-mac-cyrillic", "gbk",
        "gb18030",      "big5",         "euc-jp",       "iso-2022-jp",    "shift_jis",
        "euc-kr",       "replacement",  "utf-16be",     "utf-16le",       "x-user-defined",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *got = sl_charset_from_label(names[i], strlen(names[i]));
        if (got == NULL || strcmp(got, names[i]) != 0)
            fail_msg("%s: got %s", names[i], got ? got : "NULL");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latin1_page_with_http_equiv_content_type),
        cmocka_unit_test(test_meta_charset_quoted_unquoted_single_quoted_and_uppercase),
        cmocka_unit_test(test_content_before_http_equiv_and_other_shapes),
        cmocka_unit_test(test_content_without_http_equiv_content_type_is_not_a_declaration),
        cmocka_unit_test(test_attributes_without_values),
        cmocka_unit_test(test_charset_inside_a_comment_is_ignored),
        cmocka_unit_test(test_other_markup_is_skipped),
        cmocka_unit_test(test_metal_and_other_tags_starting_with_meta_are_not_meta),
        cmocka_unit_test(test_first_usable_meta_wins),
        cmocka_unit_test(test_meta_utf16_is_utf8_and_x_user_defined_is_windows_1252),
        cmocka_unit_test(test_xss_prone_encodings_are_the_replacement_encoding),
        cmocka_unit_test(test_byte_order_marks_win),
        cmocka_unit_test(test_utf16_xml_declaration_without_bom),
        cmocka_unit_test(test_xml_declaration_when_no_meta_says),
        cmocka_unit_test(test_meta_after_1024_bytes_is_ignored),
        cmocka_unit_test(test_truncated_input_declares_nothing),
        cmocka_unit_test(test_label_lookup_folds_case_and_trims_ascii_whitespace),
        cmocka_unit_test(test_every_encoding_name_is_its_own_label),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
