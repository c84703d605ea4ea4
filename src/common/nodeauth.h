/* nodeauth.h -- the deployment's node secret: HMAC-SHA256 proofs that an invocation event came from
 * the proxy, that a node dialing the proxy holds the secret (HELLO answers a fresh challenge), and
 * that both ends of a backup relay do (docs/SECURITY.md, docs/PROTOCOL.md). No I/O here. */
#ifndef IC_NODEAUTH_H
#define IC_NODEAUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NODEAUTH_SECRET_MIN 16 /* bytes; a shorter secret is refused at start */
#define NODEAUTH_SECRET_MAX 256
#define NODEAUTH_NONCE_BYTES 16
#define NODEAUTH_NONCE_HEX                                                                         \
    (2 * NODEAUTH_NONCE_BYTES) /* challenges and event nonces: 32 hex digits */
#define NODEAUTH_MAC_HEX 64    /* HMAC-SHA256 in lower-case hex */

/* The secrets one party accepts: `current` signs, `previous` (may be empty) is still accepted,
 * so a secret can be rotated without a moment where the two sides disagree (SECURITY.md). */
typedef struct {
    char current[NODEAUTH_SECRET_MAX + 1];
    char previous[NODEAUTH_SECRET_MAX + 1];
} nodeauth_secrets_t;

/* Checks one secret: NODEAUTH_SECRET_MIN..NODEAUTH_SECRET_MAX printable characters, no space. 0, or
 * -EINVAL with the reason in err (the secret itself is never put in err). */
int nodeauth_secret_check(const char *secret, char *err, size_t errlen);

/* Loads secrets from text: the first non-empty line is current, an optional second the previous
 * one; trailing CR/LF and spaces are trimmed. 0 or -EINVAL with the reason in err. */
int nodeauth_secrets_parse(const char *text, size_t len, nodeauth_secrets_t *out, char *err,
                           size_t errlen);
/* The same, from a file (at most 4 KiB). */
int nodeauth_secrets_load(const char *path, nodeauth_secrets_t *out, char *err, size_t errlen);

/* Fills out with 2*nbytes random lower-case hex digits and a NUL (OpenSSL's RAND_bytes).
 * 0, or -EIO when the generator fails (nothing is then usable). */
int nodeauth_random_hex(char *out, size_t nbytes);

/* out = hex HMAC-SHA256(secret, label || for each part: "\n" len ":" bytes). The label separates
 * the uses ("ic-event-v1", "ic-hello-v1", "ic-hello-v2", "ic-lane-v1", "ic-relay-v1"), the
 * lengths make the encoding unambiguous. out has NODEAUTH_MAC_HEX + 1 bytes. */
void nodeauth_mac(const char *secret, const char *label, size_t nparts, const char *const *parts,
                  const size_t *lens, char *out);

/* 1 if mac (of length maclen) is the MAC of the parts under either secret; compares in constant
 * time. */
int nodeauth_verify(const nodeauth_secrets_t *s, const char *label, size_t nparts,
                    const char *const *parts, const size_t *lens, const char *mac, size_t maclen);

/* The proof a node gives in HELLO: MAC over (challenge, node_id, instance). */
void nodeauth_hello_proof(const char *secret, const char *challenge, size_t challenge_len,
                          const char *node_id, size_t node_id_len, const char *instance,
                          size_t instance_len, char *out);
int nodeauth_hello_ok(const nodeauth_secrets_t *s, const char *challenge, const char *node_id,
                      size_t node_id_len, const char *instance, size_t instance_len,
                      const char *proof, size_t proof_len);

/* The proof in a HELLO that carries the node's epoch (the highest takeover epoch it has accepted,
 * docs/STANDBY.md): MAC over (challenge, node_id, instance, epoch) under its own label, so the
 * epoch that fences a proxy can be neither forged nor changed on the way. `epoch` is its decimal
 * text as the HELLO carries it. */
void nodeauth_hello_epoch_proof(const char *secret, const char *challenge, size_t challenge_len,
                                const char *node_id, size_t node_id_len, const char *instance,
                                size_t instance_len, const char *epoch, size_t epoch_len,
                                char *out);
int nodeauth_hello_epoch_ok(const nodeauth_secrets_t *s, const char *challenge, const char *node_id,
                            size_t node_id_len, const char *instance, size_t instance_len,
                            const char *epoch, size_t epoch_len, const char *proof,
                            size_t proof_len);

/* The proof a node gives in LANE on an extra lane: MAC over (challenge, node_id, instance, lane)
 * under "ic-lane-v1", lane being its decimal text as sent. A proof for one lane, challenge or
 * instance is worth nothing for another, so a recorded LANE cannot open a lane elsewhere. */
void nodeauth_lane_proof(const char *secret, const char *challenge, size_t challenge_len,
                         const char *node_id, size_t node_id_len, const char *instance,
                         size_t instance_len, const char *lane, size_t lane_len, char *out);
int nodeauth_lane_ok(const nodeauth_secrets_t *s, const char *challenge, const char *node_id,
                     size_t node_id_len, const char *instance, size_t instance_len,
                     const char *lane, size_t lane_len, const char *proof, size_t proof_len);

/* The proof each end of a backup relay gives in RELAY: MAC over (challenge, token, role). */
void nodeauth_relay_proof(const char *secret, const char *challenge, size_t challenge_len,
                          const char *token, size_t token_len, const char *role, size_t role_len,
                          char *out);
int nodeauth_relay_ok(const nodeauth_secrets_t *s, const char *challenge, const char *token,
                      size_t token_len, const char *role, size_t role_len, const char *proof,
                      size_t proof_len);

/* Seals an invocation event: out = {"signed":"<inner, JSON-escaped>","mac":"<hex>"} where the MAC
 * covers the function name and the exact inner text, so every field of the event (the addresses a
 * node will dial among them), its timestamp and nonce are covered. Returns the length written, or
 * -ENOSPC when out is too small. */
int nodeauth_event_seal(const char *secret, const char *function, const char *inner,
                        size_t inner_len, char *out, size_t outlen);

/* 1 if s (of length len) is a challenge or nonce: exactly NODEAUTH_NONCE_HEX lower-case hex digits.
 */
int nodeauth_nonce_ok(const char *s, size_t len);

/* Parses the CHALLENGE message at the start of buf (len bytes) into out (NODEAUTH_NONCE_HEX + 1
 * bytes). Returns the bytes it takes (> 0), 0 if incomplete, or -1 if buf starts with anything
 * else (not a proxy or relay of this system). */
ssize_t nodeauth_parse_challenge(const char *buf, size_t len, char *out);

/* The challenge message the proxy and the relay send first on every node connection:
 * *2 $9 CHALLENGE $32 <hex>. Writes it into out (at least 64 bytes); returns its length. */
size_t nodeauth_challenge_message(const char *challenge, char *out, size_t outlen);

#endif
