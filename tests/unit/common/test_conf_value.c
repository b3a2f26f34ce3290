/* tests/unit/common/test_conf_value.c: the config's scalar parsers
 * (common/conf_value.c): sizes, durations, integers, booleans, file modes,
 * enumerated names, application and environment names.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "common/conf_value.h"
#include "common/core.h"
#include "tests/unit/unit.h"

TEST(parse_size_table)
{
    static const struct {
        const char *s;
        size_t n;
    } ok[] = {
        { "0", 0 },
        { "1024", 1024 },
        { "10B", 10 },
        { "1K", 1000 },
        { "1KB", 1000 },
        { "1KiB", 1024 },
        { "64KiB", 65536 },
        { "64kib", 65536 },
        { "10MB", 10000000 },
        { "1M", 1000000 },
        { "100MiB", 104857600 },
        { "1G", 1000000000 },
        { "2GB", 2000000000 },
        { "1GiB", 1073741824 },
        { "8GiB", 8589934592ULL },
        { "18446744073709551615", 18446744073709551615ULL },
    };

    static const char *const bad[] = {
        "",
        "K",
        "-1",
        "1.5MiB",
        "10XB",
        "10 KiB",
        " 1",
        "1KiBx",
        "1T",
        "0x10",
        "18446744073709551616",
        "17179869184GiB",
        "1e3",
    };
    size_t n;

    for (size_t i = 0; i < am_nitems(ok); i++) {
        n = 12345;
        if (am_parse_size(ok[i].s, &n) != AM_OK || n != ok[i].n) {
            fprintf(stderr, "  am_parse_size(\"%s\")\n", ok[i].s);
        }
        ASSERT_EQ(am_parse_size(ok[i].s, &n), AM_OK);
        ASSERT_EQ(n, ok[i].n);
    }
    for (size_t i = 0; i < am_nitems(bad); i++) {
        if (am_parse_size(bad[i], &n) != AM_ERROR) {
            fprintf(stderr, "  am_parse_size(\"%s\") accepted\n", bad[i]);
        }
        ASSERT_EQ(am_parse_size(bad[i], &n), AM_ERROR);
    }
}

TEST(parse_duration_table)
{
    static const struct {
        const char *s;
        am_msec_t ms;
    } ok[] = {
        { "0", 0 },
        { "5", 5000 },
        { "5s", 5000 },
        { "250ms", 250 },
        { "0ms", 0 },
        { "2m", 120000 },
        { "1h", 3600000 },
        { "1h30m", 5400000 },
        { "1m30s", 90000 },
        { "1s500ms", 1500 },
        { "1h2m3s4ms", 3723004 },
        { "9223372036854775ms", 9223372036854775LL },
    };

    static const char *const bad[] = {
        "",
        "s",
        "5x",
        "5 s",
        "-1",
        "1.5s",
        "1h30",
        "30m1h",
        "1m1m",
        "5S",
        "1d",
        "5sec",
        "ms",
        "1h 30m",
        "9223372036854776",
        "9223372036854775808ms",
        "2562047788016h",
    };
    am_msec_t ms;

    for (size_t i = 0; i < am_nitems(ok); i++) {
        ms = -7;
        if (am_parse_duration(ok[i].s, &ms) != AM_OK || ms != ok[i].ms) {
            fprintf(stderr, "  am_parse_duration(\"%s\")\n", ok[i].s);
        }
        ASSERT_EQ(am_parse_duration(ok[i].s, &ms), AM_OK);
        ASSERT_EQ(ms, ok[i].ms);
    }
    for (size_t i = 0; i < am_nitems(bad); i++) {
        if (am_parse_duration(bad[i], &ms) != AM_ERROR) {
            fprintf(stderr, "  am_parse_duration(\"%s\") accepted\n", bad[i]);
        }
        ASSERT_EQ(am_parse_duration(bad[i], &ms), AM_ERROR);
    }
}

TEST(parse_u64_moves_past_digits)
{
    const char *s = "123abc";
    uint64_t n;

    ASSERT_EQ(am_conf_value_parse_u64(&s, &n), AM_OK);
    ASSERT_EQ(n, 123);
    ASSERT_STR_EQ(s, "abc");
    s = "18446744073709551615";
    ASSERT_EQ(am_conf_value_parse_u64(&s, &n), AM_OK);
    ASSERT_TRUE(n == UINT64_MAX);
    s = "18446744073709551616";
    ASSERT_EQ(am_conf_value_parse_u64(&s, &n), AM_ERROR);
    s = "x1";
    ASSERT_EQ(am_conf_value_parse_u64(&s, &n), AM_ERROR);
    s = "";
    ASSERT_EQ(am_conf_value_parse_u64(&s, &n), AM_ERROR);
}

TEST(parse_int)
{
    int64_t n = 7;

    ASSERT_EQ(am_conf_value_parse_int("42", &n), AM_OK);
    ASSERT_EQ(n, 42);
    ASSERT_EQ(am_conf_value_parse_int("-5", &n), AM_OK);
    ASSERT_EQ(n, -5);
    ASSERT_EQ(am_conf_value_parse_int("9223372036854775807", &n), AM_OK);
    ASSERT_TRUE(n == INT64_MAX);
    n = 7;
    ASSERT_EQ(am_conf_value_parse_int("9223372036854775808", &n), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_int("4x", &n), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_int("+4", &n), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_int("-", &n), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_int(" 4", &n), AM_ERROR);
    ASSERT_EQ(n, 7);
}

TEST(parse_bool)
{
    static const char *yes[] = { "true", "yes", "on", "TRUE", "Yes", "oN" };
    static const char *no[] = { "false", "no", "off", "FALSE", "No", "OFF" };
    static const char *bad[] = { "", "1", "0", "y", "n", "tru", "offf" };

    for (size_t i = 0; i < am_nitems(yes); i++) {
        ASSERT_EQ(am_conf_value_parse_bool(yes[i]), 1);
        ASSERT_EQ(am_conf_value_parse_bool(no[i]), 0);
    }
    for (size_t i = 0; i < am_nitems(bad); i++) {
        ASSERT_EQ(am_conf_value_parse_bool(bad[i]), -1);
    }
}

TEST(parse_mode)
{
    int m = -1;

    ASSERT_EQ(am_conf_value_parse_mode("0660", &m), AM_OK);
    ASSERT_EQ(m, 0660);
    ASSERT_EQ(am_conf_value_parse_mode("660", &m), AM_OK);
    ASSERT_EQ(m, 0660);
    ASSERT_EQ(am_conf_value_parse_mode("0o777", &m), AM_OK);
    ASSERT_EQ(m, 0777);
    ASSERT_EQ(am_conf_value_parse_mode("0O7", &m), AM_OK);
    ASSERT_EQ(m, 07);
    ASSERT_EQ(am_conf_value_parse_mode("0", &m), AM_OK);
    ASSERT_EQ(m, 0);
    m = -1;
    ASSERT_EQ(am_conf_value_parse_mode("1000", &m), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_mode("0668", &m), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_mode("0o", &m), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_mode("", &m), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_mode("-1", &m), AM_ERROR);
    ASSERT_EQ(m, -1);
}

TEST(parse_enum)
{
    static const am_conf_enum_t table[] = {
        { "auto", 10 },
        { "on", 20 },
        { "TLSv1.2", 30 },
    };
    int v = -1;

    ASSERT_EQ(am_conf_value_parse_enum("auto", table, 3, &v), AM_OK);
    ASSERT_EQ(v, 10);
    ASSERT_EQ(am_conf_value_parse_enum("ON", table, 3, &v), AM_OK);
    ASSERT_EQ(v, 20);
    ASSERT_EQ(am_conf_value_parse_enum("tlsv1.2", table, 3, &v), AM_OK);
    ASSERT_EQ(v, 30);
    v = -1;
    ASSERT_EQ(am_conf_value_parse_enum("of", table, 3, &v), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_enum("", table, 3, &v), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_enum("on ", table, 3, &v), AM_ERROR);
    ASSERT_EQ(am_conf_value_parse_enum("auto", table, 0, &v), AM_ERROR);
    ASSERT_EQ(v, -1);
}

TEST(app_and_env_names)
{
    ASSERT_TRUE(am_conf_value_is_app("main:app"));
    ASSERT_TRUE(am_conf_value_is_app("pkg.mod:obj.attr"));
    ASSERT_TRUE(am_conf_value_is_app("_m1:_a2"));
    ASSERT_TRUE(!am_conf_value_is_app("main"));
    ASSERT_TRUE(!am_conf_value_is_app("main:"));
    ASSERT_TRUE(!am_conf_value_is_app(":app"));
    ASSERT_TRUE(!am_conf_value_is_app("1m:app"));
    ASSERT_TRUE(!am_conf_value_is_app("m..n:app"));
    ASSERT_TRUE(!am_conf_value_is_app("m:a:b"));

    ASSERT_TRUE(am_conf_value_is_env_name("PATH"));
    ASSERT_TRUE(am_conf_value_is_env_name("_X1"));
    ASSERT_TRUE(!am_conf_value_is_env_name(""));
    ASSERT_TRUE(!am_conf_value_is_env_name("1X"));
    ASSERT_TRUE(!am_conf_value_is_env_name("A-B"));
    ASSERT_TRUE(!am_conf_value_is_env_name("A=B"));
}
