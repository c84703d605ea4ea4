/* wbjournal.c -- the write-behind journal's line codec and its replay (wbjournal.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "wbjournal.h"

static const char hexdigits[] = "0123456789abcdef";

int wbj_format(const wbj_rec_t *rec, char *out, size_t cap)
{
    size_t need = 64 + (rec->kind == WBJ_QUEUED ? 2 * rec->keylen : 0);
    if ((rec->kind != WBJ_QUEUED && rec->kind != WBJ_DONE) || rec->keylen > WBJ_KEY_MAX ||
        need > cap)
        return -1;
    size_t n = (size_t)snprintf(out, cap, "%c %" PRIu64, (char)rec->kind, rec->seq);
    if (rec->kind == WBJ_QUEUED) {
        out[n++] = ' ';
        for (size_t i = 0; i < rec->keylen; i++) {
            unsigned char c = (unsigned char)rec->key[i];
            out[n++] = hexdigits[c >> 4];
            out[n++] = hexdigits[c & 15];
        }
    }
    uint32_t crc = ec_crc(out, n);
    n += (size_t)snprintf(out + n, cap - n, " %08" PRIx32 "\n", crc);
    return (int)n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int wbj_parse(const char *line, size_t len, wbj_rec_t *rec, char *keybuf, size_t keycap)
{
    memset(rec, 0, sizeof *rec);
    if (len < 12 || len > WBJ_LINE_MAX) return -1; /* "U 1 " and a CRC at least */
    /* The CRC: the last 8 characters, after a space, over everything before that space. */
    const char *crc_text = line + len - 8;
    if (crc_text[-1] != ' ') return -1;
    uint32_t crc = 0;
    for (int i = 0; i < 8; i++) {
        int v = hexval(crc_text[i]);
        if (v < 0) return -1;
        crc = crc << 4 | (uint32_t)v;
    }
    size_t body = len - 9;
    if (ec_crc(line, body) != crc) return -1;
    if (line[0] != WBJ_QUEUED && line[0] != WBJ_DONE) return -1;
    if (line[1] != ' ') return -1;
    rec->kind = (wbj_kind_t)line[0];
    size_t i = 2;
    uint64_t seq = 0;
    int digits = 0;
    while (i < body && line[i] >= '0' && line[i] <= '9') {
        uint64_t digit = (uint64_t)(line[i++] - '0');
        if (seq > (UINT64_MAX - digit) / 10) return -1; /* overflow */
        seq = seq * 10 + digit;
        digits++;
    }
    /* One spelling per number: no leading zeros (the formatter writes none). */
    if (!digits || (digits > 1 && line[2] == '0')) return -1;
    rec->seq = seq;
    if (rec->kind == WBJ_DONE) return i == body ? 0 : -1;
    if (i >= body || line[i++] != ' ') return -1;
    size_t hexlen = body - i;
    if (hexlen == 0 || hexlen % 2 || hexlen / 2 > WBJ_KEY_MAX || hexlen / 2 > keycap) return -1;
    for (size_t k = 0; k < hexlen / 2; k++) {
        int hi = hexval(line[i + 2 * k]), lo = hexval(line[i + 2 * k + 1]);
        if (hi < 0 || lo < 0) return -1;
        keybuf[k] = (char)(hi << 4 | lo);
    }
    rec->key = keybuf;
    rec->keylen = hexlen / 2;
    return 0;
}

typedef struct pending {
    struct pending *next;
    uint64_t seq;
    size_t keylen;
    char key[];
} pending_t;

int64_t wbj_replay(const char *path, wbj_queued_fn *queued, void *arg, uint64_t *bad)
{
    FILE *f = fopen(path, "re");
    if (!f) return errno == ENOENT ? 0 : -1;
    char *line = malloc(WBJ_LINE_MAX + 2), *key = malloc(WBJ_KEY_MAX);
    pending_t *head = NULL, **tail = &head;
    uint64_t max_seq = 0;
    int64_t rc = 0;
    if (!line || !key) {
        errno = ENOMEM;
        rc = -1;
        goto out;
    }
    while (fgets(line, WBJ_LINE_MAX + 2, f)) {
        size_t len = strlen(line);
        wbj_rec_t rec;
        if (len == 0 || line[len - 1] != '\n' ||
            wbj_parse(line, len - 1, &rec, key, WBJ_KEY_MAX) < 0) {
            (*bad)++;
            break; /* a torn or foreign tail: nothing after it is trusted */
        }
        if (rec.seq > max_seq) max_seq = rec.seq;
        if (rec.kind == WBJ_QUEUED) {
            pending_t *p = malloc(sizeof *p + rec.keylen);
            if (!p) {
                errno = ENOMEM;
                rc = -1;
                goto out;
            }
            p->next = NULL;
            p->seq = rec.seq;
            p->keylen = rec.keylen;
            memcpy(p->key, rec.key, rec.keylen);
            *tail = p;
            tail = &p->next;
        } else {
            for (pending_t **pp = &head; *pp; pp = &(*pp)->next)
                if ((*pp)->seq == rec.seq) {
                    pending_t *done = *pp;
                    *pp = done->next;
                    if (tail == &done->next) tail = pp;
                    free(done);
                    break;
                }
        }
    }
    if (ferror(f)) rc = -1;
    for (pending_t *p = head; p && rc == 0; p = p->next)
        queued(p->seq, p->key, p->keylen, arg);
    if (rc == 0) rc = (int64_t)(max_seq > INT64_MAX ? INT64_MAX : max_seq);
out:
    while (head) {
        pending_t *next = head->next;
        free(head);
        head = next;
    }
    free(line);
    free(key);
    fclose(f);
    return rc;
}
