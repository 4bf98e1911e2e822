#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "testutil.h"

/* FIPS 180-4 / NIST CSHS example vectors. */
static void test_known_vectors(void **state) {
    (void)state;
    char hex[65];
    snn_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    snn_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    snn_sha256_hex(m448, strlen(m448), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                       "mnopqrstnopqrstu";
    snn_sha256_hex(m896, strlen(m896), hex);
    assert_string_equal(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    /* one million 'a', fed in uneven pieces so that the block buffering is exercised */
    snn_sha256 c;
    snn_sha256_init(&c);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000;
    for (size_t piece = 1; left; piece = piece % 990 + 7) { /* 1 .. 996 bytes */
        size_t n = piece < left ? piece : left;
        snn_sha256_update(&c, a, n);
        left -= n;
    }
    uint8_t d[32];
    snn_sha256_final(&c, d);
    snn_sha256_to_hex(d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Files across the padding boundaries (55/56/64 bytes mod 64) and the reader's 64 KiB buffer agree
 * with coreutils' sha256sum. */
static void test_files_match_sha256sum(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    assert_non_null(dir);
    const size_t lens[] = {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 65535, 65536, 65537, 200003};
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        char path[600], sum[600];
        snprintf(path, sizeof path, "%s/f%zu", dir, lens[k]);
        snprintf(sum, sizeof sum, "%s/f%zu.sum", dir, lens[k]);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        for (size_t i = 0; i < lens[k]; i++) fputc((int)((i * 2654435761u) >> 13) & 0xff, f);
        fclose(f);
        assert_int_equal(tu_system("sha256sum '%s' > '%s'", path, sum), 0);
        char want[65] = {0};
        f = fopen(sum, "r");
        assert_non_null(f);
        assert_int_equal(fread(want, 1, 64, f), 64);
        fclose(f);
        char got[65];
        snn_error err = {0};
        assert_int_equal(snn_sha256_file(path, got, &err), SNN_OK);
        assert_string_equal(got, want);
    }
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    char got[65];
    snn_error err = {0};
    assert_int_equal(snn_sha256_file(missing, got, &err), SNN_EINPUT);
    assert_non_null(strstr(err.msg, "nope"));
    tu_rmtree(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_files_match_sha256sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
