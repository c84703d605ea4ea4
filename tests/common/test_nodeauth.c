/* test_nodeauth.c -- the node secret's HMAC proofs: RFC 4231 vectors, OpenSSL's own HMAC() as the
 * reference on random inputs, secrets parsing, sealing, and constant-time verification. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "nodeauth.h"

/* The raw HMAC: nodeauth_mac with the message as its label and no parts. */
static void raw_hmac(const char *key, const char *msg, char *out)
{
    nodeauth_mac(key, msg, 0, NULL, NULL, out);
}

static void test_rfc4231(void **state)
{
    (void)state;
    char out[NODEAUTH_MAC_HEX + 1];
    /* Test case 2. */
    raw_hmac("Jefe", "what do ya want for nothing?", out);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Test case 6: a 131-byte key (longer than a block: hashed first). */
    char key[132];
    memset(key, 0xaa, 131);
    key[131] = 0;
    raw_hmac(key, "Test Using Larger Than Block-Size Key - Hash Key First", out);
    assert_string_equal(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* Against OpenSSL's HMAC() on random printable keys and binary parts, framing included. */
static void test_against_openssl(void **state)
{
    (void)state;
    srand(7);
    for (int round = 0; round < 300; round++) {
        char key[200];
        size_t klen = 1 + (size_t)rand() % 150;
        for (size_t i = 0; i < klen; i++)
            key[i] = (char)('!' + rand() % 90);
        key[klen] = 0;
        char a[300], b[300];
        size_t al = (size_t)rand() % 300, bl = (size_t)rand() % 300;
        for (size_t i = 0; i < al; i++)
            a[i] = (char)rand();
        for (size_t i = 0; i < bl; i++)
            b[i] = (char)rand();
        const char *parts[] = {a, b};
        size_t lens[] = {al, bl};
        char got[NODEAUTH_MAC_HEX + 1];
        nodeauth_mac(key, "lbl", 2, parts, lens, got);

        unsigned char msg[800];
        int n = snprintf((char *)msg, sizeof msg, "lbl\n%zu:", al);
        memcpy(msg + n, a, al);
        n += (int)al;
        n += snprintf((char *)msg + n, sizeof msg - (size_t)n, "\n%zu:", bl);
        memcpy(msg + n, b, bl);
        n += (int)bl;
        unsigned char md[32];
        unsigned int mdlen = 0;
        HMAC(EVP_sha256(), key, (int)klen, msg, (size_t)n, md, &mdlen);
        char want[NODEAUTH_MAC_HEX + 1];
        for (int i = 0; i < 32; i++)
            sprintf(want + 2 * i, "%02x", md[i]);
        assert_string_equal(got, want);
    }
}

static void test_secrets_parse(void **state)
{
    (void)state;
    nodeauth_secrets_t s;
    char err[200];
    const char ok[] = "\n  current-secret-0123456789 \r\nprevious-secret-0123456789\n";
    assert_int_equal(nodeauth_secrets_parse(ok, strlen(ok), &s, err, sizeof err), 0);
    assert_string_equal(s.current, "current-secret-0123456789");
    assert_string_equal(s.previous, "previous-secret-0123456789");
    const char one[] = "only-one-secret-0123456789";
    assert_int_equal(nodeauth_secrets_parse(one, strlen(one), &s, err, sizeof err), 0);
    assert_string_equal(s.previous, "");
    assert_int_equal(nodeauth_secrets_parse("short\n", 6, &s, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "16 to 256"));
    assert_null(strstr(err, "short")); /* the secret is never echoed */
    assert_int_equal(nodeauth_secrets_parse("\n \n", 3, &s, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "empty"));
    const char spaced[] = "has a space in it 0123456789";
    assert_int_equal(nodeauth_secrets_parse(spaced, strlen(spaced), &s, err, sizeof err), -EINVAL);
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(nodeauth_secrets_parse(big, strlen(big), &s, err, sizeof err), -EINVAL);
    assert_int_equal(nodeauth_secrets_load("/nonexistent/secret", &s, err, sizeof err), -ENOENT);
}

static void test_proofs(void **state)
{
    (void)state;
    nodeauth_secrets_t s = {.current = "current-secret-0123456789", .previous = ""};
    char ch[NODEAUTH_NONCE_HEX + 1], proof[NODEAUTH_MAC_HEX + 1];
    assert_int_equal(nodeauth_random_hex(ch, NODEAUTH_NONCE_BYTES), 0);
    assert_int_equal(strlen(ch), NODEAUTH_NONCE_HEX);
    nodeauth_hello_proof(s.current, ch, strlen(ch), "3", 1, "abcd", 4, proof);
    assert_true(nodeauth_hello_ok(&s, ch, "3", 1, "abcd", 4, proof, NODEAUTH_MAC_HEX));
    assert_false(
        nodeauth_hello_ok(&s, ch, "4", 1, "abcd", 4, proof, NODEAUTH_MAC_HEX)); /* other node */
    assert_false(nodeauth_hello_ok(&s, ch, "3", 1, "abcd", 4, proof, NODEAUTH_MAC_HEX - 1));
    char other[NODEAUTH_NONCE_HEX + 1];
    nodeauth_random_hex(other, NODEAUTH_NONCE_BYTES);
    assert_false(
        nodeauth_hello_ok(&s, other, "3", 1, "abcd", 4, proof, NODEAUTH_MAC_HEX)); /* replay */
    /* Rotation: a proof under the previous secret is accepted while it is listed. */
    char old_proof[NODEAUTH_MAC_HEX + 1];
    nodeauth_hello_proof("previous-secret-0123456789", ch, strlen(ch), "3", 1, "abcd", 4,
                         old_proof);
    assert_false(nodeauth_hello_ok(&s, ch, "3", 1, "abcd", 4, old_proof, NODEAUTH_MAC_HEX));
    snprintf(s.previous, sizeof s.previous, "previous-secret-0123456789");
    assert_true(nodeauth_hello_ok(&s, ch, "3", 1, "abcd", 4, old_proof, NODEAUTH_MAC_HEX));
    /* Relay proofs are bound to the role: the peer's proof does not pass as the source's. */
    nodeauth_relay_proof(s.current, ch, strlen(ch), "tok", 3, "peer", 4, proof);
    assert_true(nodeauth_relay_ok(&s, ch, "tok", 3, "peer", 4, proof, NODEAUTH_MAC_HEX));
    assert_false(nodeauth_relay_ok(&s, ch, "tok", 3, "source", 6, proof, NODEAUTH_MAC_HEX));
    /* Framing: moving a byte between parts changes the MAC. */
    nodeauth_hello_proof(s.current, ch, strlen(ch), "31", 2, "abcd", 4, proof);
    assert_false(nodeauth_hello_ok(&s, ch, "3", 1, "1abcd", 5, proof, NODEAUTH_MAC_HEX));
    /* A HELLO with an epoch: the proof covers it, so nobody without the secret can raise it
     * (and fence a proxy) or lower it; and it is not a proof of the epoch-less form, nor is
     * the epoch-less proof one of it. */
    nodeauth_hello_epoch_proof(s.current, ch, strlen(ch), "3", 1, "abcd", 4, "17", 2, proof);
    assert_true(
        nodeauth_hello_epoch_ok(&s, ch, "3", 1, "abcd", 4, "17", 2, proof, NODEAUTH_MAC_HEX));
    assert_false(
        nodeauth_hello_epoch_ok(&s, ch, "3", 1, "abcd", 4, "18", 2, proof, NODEAUTH_MAC_HEX));
    assert_false(
        nodeauth_hello_epoch_ok(&s, ch, "3", 1, "abcd", 4, "170", 3, proof, NODEAUTH_MAC_HEX));
    assert_false(nodeauth_hello_ok(&s, ch, "3", 1, "abcd", 4, proof, NODEAUTH_MAC_HEX));
    nodeauth_hello_proof(s.current, ch, strlen(ch), "3", 1, "abcd", 4, proof);
    assert_false(
        nodeauth_hello_epoch_ok(&s, ch, "3", 1, "abcd", 4, "", 0, proof, NODEAUTH_MAC_HEX));
    assert_false(
        nodeauth_hello_epoch_ok(&s, other, "3", 1, "abcd", 4, "17", 2, proof, NODEAUTH_MAC_HEX));
}

/* LANE proofs: the documented formula (a vector computed with Python's hmac module from
 * PROTOCOL.md's text), bound to the lane, the challenge, the node, the instance and the secret. */
static void test_lane_proofs(void **state)
{
    (void)state;
    nodeauth_secrets_t s = {.current = "current-secret-0123456789", .previous = ""};
    const char ch[] = "0123456789abcdef0123456789abcdef";
    char proof[NODEAUTH_MAC_HEX + 1];
    nodeauth_lane_proof(s.current, ch, strlen(ch), "3", 1, "abcd", 4, "2", 1, proof);
    assert_string_equal(proof, "f24352ee7da314ee88ea21e4619a3d39db6ec33dc983b61e547485fcdda5cb93");
    assert_true(nodeauth_lane_ok(&s, ch, "3", 1, "abcd", 4, "2", 1, proof, NODEAUTH_MAC_HEX));
    assert_false(nodeauth_lane_ok(&s, ch, "3", 1, "abcd", 4, "3", 1, proof, NODEAUTH_MAC_HEX));
    assert_false(nodeauth_lane_ok(&s, ch, "3", 1, "abcd", 4, "12", 2, proof, NODEAUTH_MAC_HEX));
    assert_false(nodeauth_lane_ok(&s, ch, "4", 1, "abcd", 4, "2", 1, proof, NODEAUTH_MAC_HEX));
    assert_false(nodeauth_lane_ok(&s, ch, "3", 1, "abce", 4, "2", 1, proof, NODEAUTH_MAC_HEX));
    assert_false(nodeauth_lane_ok(&s, ch, "3", 1, "abcd", 4, "2", 1, proof, NODEAUTH_MAC_HEX - 1));
    char other[NODEAUTH_NONCE_HEX + 1];
    assert_int_equal(nodeauth_random_hex(other, NODEAUTH_NONCE_BYTES), 0);
    assert_false(nodeauth_lane_ok(&s, other, "3", 1, "abcd", 4, "2", 1, proof, NODEAUTH_MAC_HEX));
    /* Another secret does not verify; the previous one does while it is listed (rotation). */
    nodeauth_secrets_t t = {.current = "another-secret-0123456789", .previous = ""};
    assert_false(nodeauth_lane_ok(&t, ch, "3", 1, "abcd", 4, "2", 1, proof, NODEAUTH_MAC_HEX));
    snprintf(t.previous, sizeof t.previous, "%s", s.current);
    assert_true(nodeauth_lane_ok(&t, ch, "3", 1, "abcd", 4, "2", 1, proof, NODEAUTH_MAC_HEX));
    /* Not interchangeable with the HELLO proof over the same fields (the label differs). */
    char hello[NODEAUTH_MAC_HEX + 1];
    nodeauth_hello_proof(s.current, ch, strlen(ch), "3", 1, "abcd", 4, hello);
    assert_false(nodeauth_lane_ok(&s, ch, "3", 1, "abcd", 4, "2", 1, hello, NODEAUTH_MAC_HEX));
    /* Framing: a byte moved from the instance to the lane changes the MAC. */
    nodeauth_lane_proof(s.current, ch, strlen(ch), "3", 1, "abc", 3, "d2", 2, proof);
    assert_false(nodeauth_lane_ok(&s, ch, "3", 1, "abcd", 4, "2", 1, proof, NODEAUTH_MAC_HEX));
}

static void test_seal_and_challenge(void **state)
{
    (void)state;
    char out[512];
    const char inner[] = "{\"cmd\":\"warmup\",\"x\":\"a\\\\b\"}";
    int n = nodeauth_event_seal("current-secret-0123456789", "fn", inner, strlen(inner), out,
                                sizeof out);
    assert_true(n > 0);
    assert_non_null(strstr(out, "{\"signed\":\"{\\\"cmd\\\":\\\"warmup\\\""));
    assert_non_null(strstr(out, "\\\\\\\\b")); /* the backslash escaped once more */
    assert_int_equal(
        nodeauth_event_seal("current-secret-0123456789", "fn", inner, strlen(inner), out, 40),
        -ENOSPC);
    char msg[96];
    size_t len = nodeauth_challenge_message("0123456789abcdef0123456789abcdef", msg, sizeof msg);
    assert_int_equal(
        len, strlen("*2\r\n$9\r\nCHALLENGE\r\n$32\r\n0123456789abcdef0123456789abcdef\r\n"));
    assert_memory_equal(msg, "*2\r\n$9\r\nCHALLENGE\r\n$32\r\n", 23);
    /* The parser takes exactly the message, or nothing yet, or refuses. */
    char ch[NODEAUTH_NONCE_HEX + 1], more[128];
    memcpy(more, msg, len);
    memcpy(more + len, "*1\r\n", 4);
    assert_int_equal(nodeauth_parse_challenge(more, len + 4, ch), (ssize_t)len);
    assert_string_equal(ch, "0123456789abcdef0123456789abcdef");
    assert_int_equal(nodeauth_parse_challenge(msg, len - 1, ch), 0);
    const char upper[] = "*2\r\n$9\r\nCHALLENGE\r\n$32\r\n0123456789ABCDEF0123456789abcdef\r\n";
    assert_int_equal(nodeauth_parse_challenge(upper, strlen(upper), ch), -1);
    const char other[] = "*2\r\n$5\r\nHELLO\r\n$1\r\nx\r\n";
    assert_int_equal(nodeauth_parse_challenge(other, strlen(other), ch), -1);
    assert_int_equal(nodeauth_parse_challenge("-ERR no\r\n", 9, ch), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4231),       cmocka_unit_test(test_against_openssl),
        cmocka_unit_test(test_secrets_parse), cmocka_unit_test(test_proofs),
        cmocka_unit_test(test_lane_proofs),   cmocka_unit_test(test_seal_and_challenge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
