/* hiredis_roundtrip.c -- an independent client (hiredis) writes and reads objects of many sizes
 * through icproxy and checks every byte; with a PASSWORD it authenticates first. Exit 0 on
 * success. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s HOST PORT [PASSWORD]\n", argv[0]);
        return 2;
    }
    redisContext *c = redisConnect(argv[1], atoi(argv[2]));
    if (!c || c->err) {
        fprintf(stderr, "connect failed\n");
        return 1;
    }
    if (argc == 4) {
        redisReply *r = redisCommand(c, "AUTH %s", argv[3]);
        if (!r || r->type != REDIS_REPLY_STATUS) {
            fprintf(stderr, "AUTH failed: %s\n", r && r->str ? r->str : "no reply");
            return 1;
        }
        freeReplyObject(r);
    }
    size_t sizes[] = {0, 5, 4096, 70000, 1 << 20, 5 << 20};
    srand(42);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        char *v = malloc(n + 1);
        for (size_t i = 0; i < n; i++) v[i] = (char)rand();
        char key[32];
        snprintf(key, sizeof key, "hiredis:%zu", n);
        redisReply *r = redisCommand(c, "SET %s %b", key, v, n);
        if (!r || r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK") != 0) {
            fprintf(stderr, "SET %zu failed: %s\n", n, r && r->str ? r->str : "no reply");
            return 1;
        }
        freeReplyObject(r);
        r = redisCommand(c, "GET %s", key);
        if (!r || r->type != REDIS_REPLY_STRING || (size_t)r->len != n || memcmp(r->str, v, n) != 0) {
            fprintf(stderr, "GET %zu returned wrong data\n", n);
            return 1;
        }
        freeReplyObject(r);
        free(v);
    }
    redisReply *r = redisCommand(c, "GET hiredis:missing");
    if (!r || r->type != REDIS_REPLY_NIL) {
        fprintf(stderr, "miss is not nil\n");
        return 1;
    }
    freeReplyObject(r);
    redisFree(c);
    printf("hiredis roundtrip ok\n");
    return 0;
}
