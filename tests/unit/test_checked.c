/* core/checked.h: overflow-checked sizes and strict parsing of command-line numbers (issue 11, faults
 * 2 and 11), and MemAvailable (the default of --max-memory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "core/checked.h"
#include "core/mem.h"
#include "testutil.h"

static void test_size_product(void **state) {
    (void)state;
    size_t out = 0;
    snn_error err = {0};
    const int64_t ok[3] = {100, 3, 300};
    assert_int_equal(snn_size_product(ok, 3, 8, &out, "a buffer", &err), SNN_OK);
    assert_int_equal(out, (size_t)100 * 3 * 300 * 8);
    /* the statistics window of plot_size = 2^62 chunks (issue 11, fault 2): 100 * 2^62 wraps in int64 */
    const int64_t huge[3] = {INT64_C(4611686018427387904), 100, 300};
    assert_int_equal(snn_size_product(huge, 3, 1, &out, "statistics window", &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "statistics window: 4611686018427387904 x 100 x 300 x 1 bytes does not fit"));
    snn_error_clear(&err);
    const int64_t neg[2] = {5, -1};
    assert_int_equal(snn_size_product(neg, 2, 4, &out, "x", &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "negative"));
    const int64_t zero[2] = {0, INT64_MAX};
    assert_int_equal(snn_size_product(zero, 2, 8, &out, "x", NULL), SNN_OK);
    assert_int_equal(out, 0);
    assert_int_equal(snn_mul_overflows(SIZE_MAX / 2 + 1, 2, &out), 1);
    int64_t r;
    assert_int_equal(snn_i64_mul_overflows(INT64_MAX / 3, 4, &r), 1);
    assert_int_equal(snn_i64_mul_overflows(-4, 5, &r), 0);
    assert_int_equal(r, -20);
}

static void test_parse_i64(void **state) {
    (void)state;
    int64_t v = 0;
    assert_int_equal(snn_parse_i64("42", &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(snn_parse_i64("-9223372036854775808", &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(snn_parse_i64("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
    const char *bad[] = {"", "-", "99999999999999999999999", "9223372036854775808", "12x", " 5", "5 ", "+5", "1e3",
                         "0x10", NULL};
    for (int i = 0; bad[i]; i++) {
        v = 7;
        assert_int_equal(snn_parse_i64(bad[i], &v), -1);
        assert_int_equal(v, 7);
    }
    assert_int_equal(snn_parse_i64(NULL, &v), -1);
}

static void test_parse_bytes(void **state) {
    (void)state;
    struct {
        const char *s;
        uint64_t v;
    } ok[] = {{"1048576", 1048576},
              {"8G", UINT64_C(8) << 30},
              {"512M", UINT64_C(512) << 20},
              {"512m", UINT64_C(512) << 20},
              {"1.5GiB", UINT64_C(3) << 29},
              {"2T", UINT64_C(2) << 40},
              {"64KB", 65536},
              {"100B", 100},
              {"0", 0}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        uint64_t v = 1;
        assert_int_equal(snn_parse_bytes(ok[i].s, &v), 0);
        assert_true(v == ok[i].v);
    }
    const char *bad[] = {"", "G", "-1G", "12Q", "8 G", "8GX", "8GiBs", "1.2.3", "99999999999G", "1e9", NULL};
    for (int i = 0; bad[i]; i++) {
        uint64_t v = 0;
        if (snn_parse_bytes(bad[i], &v) != -1) fail_msg("'%s' was accepted", bad[i]);
    }
    char text[64];
    snn_format_bytes(1536.0, text, sizeof text);
    assert_string_equal(text, "1.5 KiB");
    snn_format_bytes(3.0 * 1024 * 1024 * 1024, text, sizeof text);
    assert_string_equal(text, "3.0 GiB");
    snn_format_bytes(800, text, sizeof text);
    assert_string_equal(text, "800 bytes");
}

static void test_mem_available(void **state) {
    (void)state;
    /* Linux always has MemAvailable (since 3.14): some memory, less than 2^50 bytes */
    size_t m = snn_mem_available_bytes();
    assert_true(m > 0);
    assert_true(m < ((size_t)1 << 50));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_product),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_parse_bytes),
        cmocka_unit_test(test_mem_available),
    };
    return cmocka_run_group_tests_name("checked", tests, NULL, NULL);
}
