/* command_docs.c -- the documentation of every command the proxy answers, one row per command or
 * subcommand, and its COMMAND DOCS reply. Argument names, types, tokens, flags and versions are
 * Redis 7's for the commands Redis has (clients such as redis-cli build their hints from them);
 * the summaries and complexities describe the proxy. Rows are sorted by name. */
#include <string.h>

#include "command.h"
#include "command_docs.h"
#include "resp.h"

/* The rows read best as written: clang-format leaves them (and these macros) alone. */
/* clang-format off */
#define END {0}
#define ARGS(...) ((const doc_arg_t[]){__VA_ARGS__, END})
#define KEY {.name = "key", .type = DOC_KEY}
#define KEYS {.name = "key", .type = DOC_KEY, .flags = DOC_MULTIPLE}
#define TOKEN(n, t) {.name = n, .type = DOC_PURE_TOKEN, .token = t}
#define TOKEN_SINCE(n, t, s) {.name = n, .type = DOC_PURE_TOKEN, .token = t, .since = s}
#define STRING(n) {.name = n, .type = DOC_STRING}
#define INTEGER(n) {.name = n, .type = DOC_INTEGER}
#define OPTIONAL_MANY(n) {.name = n, .type = DOC_STRING, .flags = DOC_OPTIONAL | DOC_MULTIPLE}
#define HELP_ROW(container, group, since)                                                        \
    {container "|help", "Show what each subcommand does.", since, group, "O(1)", NULL, NULL,    \
     NULL, 2, 0, 0}

/* EXPIRE's family share their condition; FLUSHALL and FLUSHDB their mode; MSET and MSETNX their
 * pairs. */
#define EXPIRE_CONDITION                                                                         \
    {.name = "condition",                                                                        \
     .type = DOC_ONEOF,                                                                          \
     .since = "7.0.0",                                                                           \
     .flags = DOC_OPTIONAL,                                                                      \
     .args = ARGS(TOKEN("nx", "NX"), TOKEN("xx", "XX"), TOKEN("gt", "GT"), TOKEN("lt", "LT"))}
#define FLUSH_MODE                                                                               \
    {.name = "async",                                                                            \
     .type = DOC_ONEOF,                                                                          \
     .flags = DOC_OPTIONAL,                                                                      \
     .args = ARGS(TOKEN_SINCE("async", "ASYNC", "4.0.0"), TOKEN_SINCE("sync", "SYNC", "6.2.0"))}
#define KEY_VALUE_PAIRS                                                                          \
    {.name = "key_value",                                                                        \
     .type = DOC_BLOCK,                                                                          \
     .flags = DOC_MULTIPLE,                                                                      \
     .args = ARGS(KEY, STRING("value"))}
#define SUBCOMMANDS "Depends on subcommand."

/* The version of the proxy's own commands: the project's first. */
#define IC_SINCE "0.1.0"

static const command_doc_t docs[] = {
    {"append", "Append a value to a key's string value, creating the key if missing.", "2.0.0",
     "string", "O(N): the proxy reads, extends and rewrites the whole value.",
     ARGS(KEY, STRING("value")), NULL, NULL, 0, 0, 0},
    {"asking", "Let the next command use a slot this proxy is importing.", "3.0.0", "cluster",
     "O(1)", NULL, NULL, NULL, 0, 0, 0},
    {"auth", "Authenticate the connection as a user, or as the default user.", "1.0.0",
     "connection", "O(N) where N is the number of passwords of the user.",
     ARGS({.name = "username", .type = DOC_STRING, .since = "6.0.0", .flags = DOC_OPTIONAL},
          STRING("password")),
     NULL, NULL, 0, 0, 0},
    {"client", "Commands about client connections.", "2.4.0", "connection", SUBCOMMANDS, NULL,
     NULL, NULL, 0, 0, 0},
    {"client|getname", "The name of this connection.", "2.6.9", "connection", "O(1)", NULL, NULL,
     NULL, 2, 0, CMD_ADMIN},
    HELP_ROW("client", "connection", "5.0.0"),
    {"client|id", "The ID of this connection.", "5.0.0", "connection", "O(1)", NULL, NULL, NULL,
     2, 0, CMD_ADMIN},
    {"client|info", "What CLIENT LIST says of this connection.", "6.2.0", "connection", "O(1)",
     NULL, NULL, NULL, 2, 0, CMD_ADMIN},
    {"client|kill", "Close client connections by address or by filters.", "2.4.0", "connection",
     "O(N) where N is the number of client connections.",
     ARGS({.name = "filter", .type = DOC_ONEOF, .args = ARGS(
              {.name = "ip:port", .type = DOC_STRING, .deprecated_since = "2.8.12"},
              {.name = "new-format", .type = DOC_ONEOF, .flags = DOC_MULTIPLE, .args = ARGS(
                  {.name = "client-id", .type = DOC_INTEGER, .token = "ID", .since = "2.8.12",
                   .flags = DOC_OPTIONAL},
                  {.name = "normal_master_slave_pubsub", .type = DOC_ONEOF, .token = "TYPE",
                   .since = "2.8.12", .flags = DOC_OPTIONAL, .args = ARGS(
                      TOKEN("normal", "NORMAL"), TOKEN_SINCE("master", "MASTER", "3.2.0"),
                      TOKEN("slave", "SLAVE"), TOKEN_SINCE("replica", "REPLICA", "5.0.0"),
                      TOKEN("pubsub", "PUBSUB"))},
                  {.name = "username", .type = DOC_STRING, .token = "USER", .flags = DOC_OPTIONAL},
                  {.name = "ip:port", .type = DOC_STRING, .token = "ADDR", .flags = DOC_OPTIONAL},
                  {.name = "ip:port", .type = DOC_STRING, .token = "LADDR", .since = "6.2.0",
                   .flags = DOC_OPTIONAL},
                  {.name = "yes/no", .type = DOC_STRING, .token = "SKIPME",
                   .flags = DOC_OPTIONAL})})}),
     NULL, NULL, -3, 0, CMD_ADMIN},
    {"client|list", "One line for each client connection.", "2.4.0", "connection",
     "O(N) where N is the number of client connections.",
     ARGS({.name = "normal_master_replica_pubsub", .type = DOC_ONEOF, .token = "TYPE",
           .since = "5.0.0", .flags = DOC_OPTIONAL, .args = ARGS(
              TOKEN("normal", "NORMAL"), TOKEN("master", "MASTER"), TOKEN("replica", "REPLICA"),
              TOKEN("pubsub", "PUBSUB"))},
          {.name = "id", .type = DOC_BLOCK, .token = "ID", .since = "6.2.0",
           .flags = DOC_OPTIONAL, .args = ARGS(
              {.name = "client-id", .type = DOC_INTEGER, .flags = DOC_MULTIPLE})}),
     NULL, NULL, -2, 0, CMD_ADMIN},
    {"client|no-evict", "Accepted for compatibility: the proxy never evicts clients.", "7.0.0",
     "connection", "O(1)",
     ARGS({.name = "enabled", .type = DOC_ONEOF, .args = ARGS(TOKEN("on", "ON"),
                                                             TOKEN("off", "OFF"))}),
     NULL, NULL, 3, 0, CMD_ADMIN},
    {"client|setinfo", "Record the library name or version of this connection.", "7.2.0",
     "connection", "O(1)",
     ARGS({.name = "attr", .type = DOC_ONEOF, .args = ARGS(
              {.name = "libname", .type = DOC_STRING, .token = "LIB-NAME"},
              {.name = "libver", .type = DOC_STRING, .token = "LIB-VER"})}),
     NULL, NULL, 4, 0, CMD_ADMIN},
    {"client|setname", "Name this connection.", "2.6.9", "connection", "O(1)",
     ARGS(STRING("connection-name")), NULL, NULL, 3, 0, CMD_ADMIN},
    {"cluster", "Commands about the cluster of proxies.", "3.0.0", "cluster", SUBCOMMANDS, NULL,
     NULL, NULL, 0, 0, 0},
    {"cluster|countkeysinslot", "The number of keys this proxy holds in a slot.", "3.0.0",
     "cluster", "O(1)", ARGS(INTEGER("slot")), NULL, NULL, 3, 0, 0},
    {"cluster|getkeysinslot", "Names of keys this proxy holds in a slot.", "3.0.0", "cluster",
     "O(N) where N is the number of requested keys.", ARGS(INTEGER("slot"), INTEGER("count")),
     NULL, NULL, 4, 0, 0},
    HELP_ROW("cluster", "cluster", "5.0.0"),
    {"cluster|info", "The state of the cluster.", "3.0.0", "cluster", "O(1)", NULL, NULL, NULL, 2,
     0, 0},
    {"cluster|keyslot", "The hash slot of a key.", "3.0.0", "cluster",
     "O(N) where N is the number of bytes in the key.", ARGS(STRING("key")), NULL, NULL, 3, 0,
     0},
    {"cluster|myid", "This proxy's node id.", "3.0.0", "cluster", "O(1)", NULL, NULL, NULL, 2, 0,
     0},
    {"cluster|nodes", "The cluster's map in Redis's nodes format.", "3.0.0", "cluster",
     "O(N) where N is the number of proxies.", NULL, NULL, NULL, 2, 0, 0},
    {"cluster|setslot", "Change a slot's state in the running map.", "3.0.0", "cluster", "O(1)",
     ARGS(INTEGER("slot"),
          {.name = "subcommand", .type = DOC_ONEOF, .args = ARGS(
              {.name = "node-id", .type = DOC_STRING, .token = "IMPORTING"},
              {.name = "node-id", .type = DOC_STRING, .token = "MIGRATING"},
              {.name = "node-id", .type = DOC_STRING, .token = "NODE"},
              {.name = "stable", .type = DOC_PURE_TOKEN, .token = "STABLE"})}),
     NULL, NULL, -4, 0, CMD_ADMIN},
    {"cluster|shards", "The slot ranges of each proxy.", "7.0.0", "cluster",
     "O(N) where N is the number of proxies.", NULL, NULL, NULL, 2, 0, 0},
    {"cluster|slots", "The slot ranges and the proxy serving each.", "3.0.0", "cluster",
     "O(N) where N is the number of proxies.", NULL, "7.0.0", "`CLUSTER SHARDS`", 2, 0, 0},
    {"command", "Describe every command the proxy answers.", "2.8.13", "server",
     "O(N) where N is the number of commands.", NULL, NULL, NULL, 0, 0, 0},
    {"command|count", "The number of commands.", "2.8.13", "server", "O(1)", NULL, NULL, NULL,
     2, 0, 0},
    {"command|docs", "The documentation of the given commands, or of all.", "7.0.0", "server",
     "O(N) where N is the number of commands described.", ARGS(OPTIONAL_MANY("command-name")),
     NULL, NULL, -2, 0, 0},
    {"command|getkeys", "The keys of a whole command line.", "2.8.13", "server",
     "O(N) where N is the number of arguments of the command line.", NULL, NULL, NULL, -4, 0, 0},
    {"command|getkeysandflags", "The keys of a whole command line, with how it uses each.",
     "7.0.0", "server", "O(N) where N is the number of arguments of the command line.", NULL,
     NULL, NULL, -4, 0, 0},
    HELP_ROW("command", "server", "5.0.0"),
    {"command|info", "Describe the given commands, or all.", "2.8.13", "server",
     "O(N) where N is the number of commands described.", ARGS(OPTIONAL_MANY("command-name")),
     NULL, NULL, -2, 0, 0},
    {"command|list", "The names of the commands, all or those of a filter.", "7.0.0", "server",
     "O(N) where N is the number of commands.",
     ARGS({.name = "filterby", .type = DOC_ONEOF, .token = "FILTERBY", .flags = DOC_OPTIONAL,
           .args = ARGS({.name = "module-name", .type = DOC_STRING, .token = "MODULE"},
                        {.name = "category", .type = DOC_STRING, .token = "ACLCAT"},
                        {.name = "pattern", .type = DOC_PATTERN, .token = "PATTERN"})}),
     NULL, NULL, -2, 0, 0},
    {"config", "Commands about the proxy's options.", "2.0.0", "server", SUBCOMMANDS, NULL, NULL,
     NULL, 0, 0, 0},
    {"config|get", "The options whose names match the patterns, with their values.", "2.0.0",
     "server", "O(N) where N is the number of options.",
     ARGS({.name = "parameter", .type = DOC_BLOCK, .flags = DOC_MULTIPLE,
           .args = ARGS(STRING("parameter"))}),
     NULL, NULL, -3, 0, CMD_ADMIN},
    HELP_ROW("config", "server", "5.0.0"),
    {"config|resetstat", "Zero the counters INFO reports.", "2.0.0", "server", "O(1)", NULL, NULL,
     NULL, 2, 0, CMD_ADMIN},
    {"config|rewrite", "Write the options in force to the configuration file.", "2.8.0",
     "server", "O(N) where N is the number of options.", NULL, NULL, NULL, 2, 0, CMD_ADMIN},
    {"config|set", "Change options that can change at run time.", "2.0.0", "server",
     "O(N) where N is the number of options given.",
     ARGS({.name = "parameter_value", .type = DOC_BLOCK, .flags = DOC_MULTIPLE,
           .args = ARGS(STRING("parameter"), STRING("value"))}),
     NULL, NULL, -4, 0, CMD_ADMIN},
    {"copy", "Copy a key's value (and its expiration) to another key.", "6.2.0", "generic",
     "O(N) where N is the size of the value.",
     ARGS({.name = "source", .type = DOC_KEY}, {.name = "destination", .type = DOC_KEY, .key_spec = 1},
          {.name = "destination-db", .type = DOC_INTEGER, .token = "DB", .flags = DOC_OPTIONAL},
          {.name = "replace", .type = DOC_PURE_TOKEN, .token = "REPLACE", .flags = DOC_OPTIONAL}),
     NULL, NULL, 0, 0, 0},
    {"dbsize", "The number of keys.", "1.0.0", "server", "O(1)", NULL, NULL, NULL, 0, 0, 0},
    {"decr", "Subtract one from a key's integer value.", "1.0.0", "string", "O(1)", ARGS(KEY),
     NULL, NULL, 0, 0, 0},
    {"decrby", "Subtract a number from a key's integer value.", "1.0.0", "string", "O(1)",
     ARGS(KEY, INTEGER("decrement")), NULL, NULL, 0, 0, 0},
    {"del", "Delete keys and their chunks on the nodes.", "1.0.0", "generic",
     "O(N) where N is the number of keys; each waits for its chunks' deletes.", ARGS(KEYS), NULL,
     NULL, 0, 0, 0},
    {"discard", "Drop the commands queued since MULTI.", "2.0.0", "transactions",
     "O(N), when N is the number of queued commands", NULL, NULL, NULL, 0, 0, 0},
    {"echo", "Answer the message.", "1.0.0", "connection", "O(1)", ARGS(STRING("message")), NULL,
     NULL, 0, 0, 0},
    {"exec", "Run the commands queued since MULTI, their keys held until every reply is out.",
     "1.2.0", "transactions", "Depends on commands in the transaction", NULL, NULL, NULL, 0, 0,
     0},
    {"exists", "The number of given keys that exist.", "1.0.0", "generic",
     "O(N) where N is the number of keys.", ARGS(KEYS), NULL, NULL, 0, 0, 0},
    {"expire", "Set a key's time to live in seconds.", "1.0.0", "generic", "O(1)",
     ARGS(KEY, INTEGER("seconds"), EXPIRE_CONDITION), NULL, NULL, 0, 0, 0},
    {"expireat", "Set the Unix time in seconds at which a key expires.", "1.2.0", "generic",
     "O(1)",
     ARGS(KEY, {.name = "unix-time-seconds", .type = DOC_UNIX_TIME}, EXPIRE_CONDITION), NULL,
     NULL, 0, 0, 0},
    {"expiretime", "The Unix time in seconds at which a key expires.", "7.0.0", "generic", "O(1)",
     ARGS(KEY), NULL, NULL, 0, 0, 0},
    {"flushall", "Delete every key and its chunks.", "1.0.0", "server",
     "O(N) where N is the number of keys.", ARGS(FLUSH_MODE), NULL, NULL, 0, 0, 0},
    {"flushdb", "Delete every key and its chunks (the proxy has one database).", "1.0.0",
     "server", "O(N) where N is the number of keys.", ARGS(FLUSH_MODE), NULL, NULL, 0, 0, 0},
    {"get", "A key's value, read from its chunks and decoded by the proxy.", "1.0.0", "string",
     "O(N) where N is the size of the value.", ARGS(KEY), NULL, NULL, 0, 0, 0},
    {"getdel", "A key's value, and delete the key.", "6.2.0", "string",
     "O(N) where N is the size of the value.", ARGS(KEY), NULL, NULL, 0, 0, 0},
    {"getex", "A key's value, and change its expiration.", "6.2.0", "string",
     "O(N) where N is the size of the value.",
     ARGS(KEY, {.name = "expiration", .type = DOC_ONEOF, .flags = DOC_OPTIONAL, .args = ARGS(
              {.name = "seconds", .type = DOC_INTEGER, .token = "EX"},
              {.name = "milliseconds", .type = DOC_INTEGER, .token = "PX"},
              {.name = "unix-time-seconds", .type = DOC_UNIX_TIME, .token = "EXAT"},
              {.name = "unix-time-milliseconds", .type = DOC_UNIX_TIME, .token = "PXAT"},
              TOKEN("persist", "PERSIST"))}),
     NULL, NULL, 0, 0, 0},
    {"getrange", "A substring of a key's value.", "2.4.0", "string",
     "O(N) where N is the size of the value.", ARGS(KEY, INTEGER("start"), INTEGER("end")), NULL,
     NULL, 0, 0, 0},
    {"getset", "Set a key's value and answer the value it had.", "1.0.0", "string",
     "O(N) where N is the size of the old value.", ARGS(KEY, STRING("value")), "6.2.0",
     "`SET` with the `!GET` argument", 0, 0, 0},
    {"hello", "Choose the protocol version, authenticate and name the connection at once.",
     "6.0.0", "connection", "O(1)",
     ARGS({.name = "arguments", .type = DOC_BLOCK, .flags = DOC_OPTIONAL, .args = ARGS(
              INTEGER("protover"),
              {.name = "username_password", .type = DOC_BLOCK, .token = "AUTH",
               .flags = DOC_OPTIONAL, .args = ARGS(STRING("username"), STRING("password"))},
              {.name = "clientname", .type = DOC_STRING, .token = "SETNAME",
               .flags = DOC_OPTIONAL})}),
     NULL, NULL, 0, 0, 0},
    {"icdel", "Delete objects and their chunks (the library's name for DEL).", IC_SINCE,
     "generic", "O(N) where N is the number of keys; each waits for its chunks' deletes.",
     ARGS(KEYS), NULL, NULL, 0, 0, 0},
    {"icget", "Stream an object's chunks as their nodes answer, for the library to decode.",
     IC_SINCE, "string", "O(N) where N is the size of the object.",
     ARGS(KEY, {.name = "all", .type = DOC_PURE_TOKEN, .token = "ALL", .flags = DOC_OPTIONAL}), NULL, NULL, 0, 0, 0},
    {"icgetchunks", "Stream the chunks of an object version with the given indexes.", IC_SINCE,
     "string", "O(N) where N is the size of the chunks asked for.",
     ARGS(KEY, INTEGER("version"), INTEGER("need"),
          {.name = "index", .type = DOC_INTEGER, .flags = DOC_MULTIPLE}),
     NULL, NULL, 0, 0, 0},
    {"icrepair", "Store a rebuilt chunk of an object version.", IC_SINCE, "string",
     "O(N) where N is the size of the chunk.",
     ARGS(KEY, INTEGER("version"), INTEGER("index"), INTEGER("crc"), STRING("chunk")), NULL,
     NULL, 0, 0, 0},
    {"icset", "Store an object coded by the library: its chunks go to d + p nodes.", IC_SINCE,
     "string", "O(N) where N is the size of the object.",
     ARGS(KEY, INTEGER("d"), INTEGER("p"), INTEGER("size"),
          {.name = "crc", .type = DOC_INTEGER, .flags = DOC_MULTIPLE},
          {.name = "chunk", .type = DOC_STRING, .flags = DOC_MULTIPLE}),
     NULL, NULL, 0, 0, 0},
    {"incr", "Add one to a key's integer value.", "1.0.0", "string", "O(1)", ARGS(KEY), NULL,
     NULL, 0, 0, 0},
    {"incrby", "Add a number to a key's integer value.", "1.0.0", "string", "O(1)",
     ARGS(KEY, INTEGER("increment")), NULL, NULL, 0, 0, 0},
    {"incrbyfloat", "Add a floating point number to a key's value.", "2.6.0", "string", "O(1)",
     ARGS(KEY, {.name = "increment", .type = DOC_DOUBLE}), NULL, NULL, 0, 0, 0},
    {"info", "The proxy's state and counters, by section.", "1.0.0", "server", "O(1)",
     ARGS(OPTIONAL_MANY("section")), NULL, NULL, 0, 0, 0},
    {"keys", "Every key that matches a pattern.", "1.0.0", "generic",
     "O(N) where N is the number of keys.", ARGS({.name = "pattern", .type = DOC_PATTERN}), NULL,
     NULL, 0, 0, 0},
    {"latency", "Commands about latency spikes.", "2.8.13", "server", SUBCOMMANDS, NULL, NULL,
     NULL, 0, 0, 0},
    HELP_ROW("latency", "server", "2.8.13"),
    {"latency|history", "The samples of an event.", "2.8.13", "server", "O(1)",
     ARGS(STRING("event")), NULL, NULL, 3, 0, CMD_ADMIN},
    {"latency|latest", "The latest sample of every event.", "2.8.13", "server", "O(1)", NULL,
     NULL, NULL, 2, 0, CMD_ADMIN},
    {"latency|reset", "Forget the samples of the given events, or of all.", "2.8.13", "server",
     "O(1)", ARGS(OPTIONAL_MANY("event")), NULL, NULL, -2, 0, CMD_ADMIN},
    {"memory", "Commands about memory.", "4.0.0", "server", SUBCOMMANDS, NULL, NULL, NULL, 0, 0,
     0},
    HELP_ROW("memory", "server", "4.0.0"),
    {"memory|usage", "What a key costs: its chunks on the nodes and its metadata.", "4.0.0",
     "server", "O(1)",
     ARGS(KEY, {.name = "count", .type = DOC_INTEGER, .token = "SAMPLES",
                .flags = DOC_OPTIONAL}),
     NULL, NULL, -3, 2, CMD_READONLY},
    {"mget", "The values of the given keys.", "1.0.0", "string",
     "O(N) where N is the total size of the values.", ARGS(KEYS), NULL, NULL, 0, 0, 0},
    {"migrate", "Move keys to another proxy or Redis server (SET, then delete here).", "2.6.0",
     "generic", "O(N) where N is the total size of the values moved.",
     ARGS(STRING("host"), INTEGER("port"),
          {.name = "key_or_empty_string", .type = DOC_ONEOF, .args = ARGS(
              KEY, {.name = "empty_string", .type = DOC_PURE_TOKEN, .token = ""})},
          INTEGER("destination-db"), INTEGER("timeout"),
          {.name = "copy", .type = DOC_PURE_TOKEN, .token = "COPY", .since = "3.0.0",
           .flags = DOC_OPTIONAL},
          {.name = "replace", .type = DOC_PURE_TOKEN, .token = "REPLACE", .since = "3.0.0",
           .flags = DOC_OPTIONAL},
          {.name = "authentication", .type = DOC_ONEOF, .flags = DOC_OPTIONAL, .args = ARGS(
              {.name = "password", .type = DOC_STRING, .token = "AUTH", .since = "4.0.7",
               .flags = DOC_OPTIONAL},
              {.name = "username_password", .type = DOC_BLOCK, .token = "AUTH2",
               .since = "6.0.0", .flags = DOC_OPTIONAL,
               .args = ARGS(STRING("username"), STRING("password"))})},
          {.name = "key", .type = DOC_KEY, .token = "KEYS", .since = "3.0.6",
           .flags = DOC_OPTIONAL | DOC_MULTIPLE, .key_spec = 1}),
     NULL, NULL, 0, 0, 0},
    {"monitor", "Stream every command the proxy runs.", "1.0.0", "server", NULL, NULL, NULL, NULL,
     0, 0, 0},
    {"mset", "Set several keys at once.", "1.0.1", "string",
     "O(N) where N is the total size of the values.", ARGS(KEY_VALUE_PAIRS), NULL, NULL, 0, 0, 0},
    {"msetnx", "Set several keys at once, only if none of them exists.", "1.0.1", "string",
     "O(N) where N is the total size of the values.", ARGS(KEY_VALUE_PAIRS), NULL, NULL, 0, 0, 0},
    {"multi", "Start queueing commands for EXEC.", "1.2.0", "transactions", "O(1)", NULL, NULL,
     NULL, 0, 0, 0},
    {"object", "Commands about how a key is stored.", "2.2.3", "generic", SUBCOMMANDS, NULL, NULL,
     NULL, 0, 0, 0},
    {"object|encoding", "How a key's value is encoded: always raw.", "2.2.3", "generic", "O(1)",
     ARGS(KEY), NULL, NULL, 3, 2, CMD_READONLY},
    {"object|freq", "An LFU access counter: the proxy evicts by CLOCK and keeps none.", "4.0.0",
     "generic", "O(1)", ARGS(KEY), NULL, NULL, 3, 2, CMD_READONLY},
    HELP_ROW("object", "generic", "6.2.0"),
    {"object|idletime", "The seconds since a key was last read or written.", "2.2.3", "generic",
     "O(1)", ARGS(KEY), NULL, NULL, 3, 2, CMD_READONLY},
    {"object|refcount", "The references to a key's value: always 1.", "2.2.3", "generic", "O(1)",
     ARGS(KEY), NULL, NULL, 3, 2, CMD_READONLY},
    {"persist", "Remove a key's expiration.", "2.2.0", "generic", "O(1)", ARGS(KEY), NULL, NULL,
     0, 0, 0},
    {"pexpire", "Set a key's time to live in milliseconds.", "2.6.0", "generic", "O(1)",
     ARGS(KEY, INTEGER("milliseconds"), EXPIRE_CONDITION), NULL, NULL, 0, 0, 0},
    {"pexpireat", "Set the Unix time in milliseconds at which a key expires.", "2.6.0",
     "generic", "O(1)",
     ARGS(KEY, {.name = "unix-time-milliseconds", .type = DOC_UNIX_TIME}, EXPIRE_CONDITION),
     NULL, NULL, 0, 0, 0},
    {"pexpiretime", "The Unix time in milliseconds at which a key expires.", "7.0.0", "generic",
     "O(1)", ARGS(KEY), NULL, NULL, 0, 0, 0},
    {"ping", "Answer PONG, or the message.", "1.0.0", "connection", "O(1)",
     ARGS({.name = "message", .type = DOC_STRING, .flags = DOC_OPTIONAL}), NULL, NULL, 0, 0, 0},
    {"psetex", "Set a key's value and its time to live in milliseconds.", "2.6.0", "string",
     "O(N) where N is the size of the value.",
     ARGS(KEY, INTEGER("milliseconds"), STRING("value")), NULL, NULL, 0, 0, 0},
    {"pttl", "A key's time to live in milliseconds.", "2.6.0", "generic", "O(1)", ARGS(KEY),
     NULL, NULL, 0, 0, 0},
    {"quit", "Close the connection once the replies before it are out.", "1.0.0", "connection",
     "O(1)", NULL, NULL, NULL, 0, 0, 0},
    {"randomkey", "A key chosen at random.", "1.0.0", "generic", "O(1)", NULL, NULL, NULL, 0, 0,
     0},
    {"readonly", "Allow reads of a replica's slots (there are none: a flag only).", "3.0.0",
     "cluster", "O(1)", NULL, NULL, NULL, 0, 0, 0},
    {"readwrite", "Clear the READONLY flag.", "3.0.0", "cluster", "O(1)", NULL, NULL, NULL, 0, 0,
     0},
    {"rename", "Rename a key: its chunks are renamed on their nodes, no bytes move.", "1.0.0",
     "generic", "O(1)", ARGS(KEY, {.name = "newkey", .type = DOC_KEY, .key_spec = 1}), NULL, NULL, 0, 0, 0},
    {"renamenx", "Rename a key, only if the new key does not exist.", "1.0.0", "generic", "O(1)",
     ARGS(KEY, {.name = "newkey", .type = DOC_KEY, .key_spec = 1}), NULL, NULL, 0, 0, 0},
    {"reset", "Return the connection to its state after connecting.", "6.2.0", "connection",
     "O(1)", NULL, NULL, NULL, 0, 0, 0},
    {"scan", "Walk the keys a few at a time with a cursor.", "2.8.0", "generic",
     "O(1) for each call; O(N) for a whole walk, N being the number of keys.",
     ARGS(INTEGER("cursor"),
          {.name = "pattern", .type = DOC_PATTERN, .token = "MATCH", .flags = DOC_OPTIONAL},
          {.name = "count", .type = DOC_INTEGER, .token = "COUNT", .flags = DOC_OPTIONAL},
          {.name = "type", .type = DOC_STRING, .token = "TYPE", .since = "6.0.0",
           .flags = DOC_OPTIONAL}),
     NULL, NULL, 0, 0, 0},
    {"select", "Choose the database: the proxy has only database 0.", "1.0.0", "connection",
     "O(1)", ARGS(INTEGER("index")), NULL, NULL, 0, 0, 0},
    {"set", "Set a key's value: the proxy codes it into chunks stored on d + p nodes.", "1.0.0",
     "string", "O(N) where N is the size of the value.",
     ARGS(KEY, STRING("value"),
          {.name = "condition", .type = DOC_ONEOF, .since = "2.6.12", .flags = DOC_OPTIONAL,
           .args = ARGS(TOKEN("nx", "NX"), TOKEN("xx", "XX"))},
          {.name = "get", .type = DOC_PURE_TOKEN, .token = "GET", .since = "6.2.0",
           .flags = DOC_OPTIONAL},
          {.name = "expiration", .type = DOC_ONEOF, .flags = DOC_OPTIONAL, .args = ARGS(
              {.name = "seconds", .type = DOC_INTEGER, .token = "EX", .since = "2.6.12"},
              {.name = "milliseconds", .type = DOC_INTEGER, .token = "PX", .since = "2.6.12"},
              {.name = "unix-time-seconds", .type = DOC_UNIX_TIME, .token = "EXAT",
               .since = "6.2.0"},
              {.name = "unix-time-milliseconds", .type = DOC_UNIX_TIME, .token = "PXAT",
               .since = "6.2.0"},
              TOKEN_SINCE("keepttl", "KEEPTTL", "6.0.0"))}),
     NULL, NULL, 0, 0, 0},
    {"setex", "Set a key's value and its time to live in seconds.", "2.0.0", "string",
     "O(N) where N is the size of the value.", ARGS(KEY, INTEGER("seconds"), STRING("value")),
     NULL, NULL, 0, 0, 0},
    {"setnx", "Set a key's value only if the key does not exist.", "1.0.0", "string",
     "O(N) where N is the size of the value.", ARGS(KEY, STRING("value")), NULL, NULL, 0, 0, 0},
    {"setrange", "Overwrite part of a key's value from an offset, padding with zero bytes.",
     "2.2.0", "string", "O(N): the proxy reads, changes and rewrites the whole value.",
     ARGS(KEY, INTEGER("offset"), STRING("value")), NULL, NULL, 0, 0, 0},
    {"slowlog", "Commands about the log of slow commands.", "2.2.12", "server", SUBCOMMANDS, NULL,
     NULL, NULL, 0, 0, 0},
    {"slowlog|get", "The newest entries of the slow log.", "2.2.12", "server",
     "O(N) where N is the number of entries answered.",
     ARGS({.name = "count", .type = DOC_INTEGER, .flags = DOC_OPTIONAL}), NULL, NULL, -2, 0,
     CMD_ADMIN},
    HELP_ROW("slowlog", "server", "6.2.0"),
    {"slowlog|len", "The number of entries in the slow log.", "2.2.12", "server", "O(1)", NULL,
     NULL, NULL, 2, 0, CMD_ADMIN},
    {"slowlog|reset", "Empty the slow log.", "2.2.12", "server",
     "O(N) where N is the number of entries.", NULL, NULL, NULL, 2, 0, CMD_ADMIN},
    {"strlen", "The length of a key's value, from its metadata.", "2.2.0", "string", "O(1)",
     ARGS(KEY), NULL, NULL, 0, 0, 0},
    {"time", "The proxy's clock: Unix seconds and microseconds.", "2.6.0", "server", "O(1)",
     NULL, NULL, NULL, 0, 0, 0},
    {"touch", "Count a read of each given key that exists (for eviction).", "3.2.1", "generic",
     "O(N) where N is the number of keys.", ARGS(KEYS), NULL, NULL, 0, 0, 0},
    {"ttl", "A key's time to live in seconds.", "1.0.0", "generic", "O(1)", ARGS(KEY), NULL,
     NULL, 0, 0, 0},
    {"type", "The type of a key's value: string, or none.", "1.0.0", "generic", "O(1)",
     ARGS(KEY), NULL, NULL, 0, 0, 0},
    {"unlink", "Delete keys and their chunks on the nodes, as DEL.", "4.0.0", "generic",
     "O(N) where N is the number of keys; each waits for its chunks' deletes.", ARGS(KEYS), NULL,
     NULL, 0, 0, 0},
    {"unwatch", "Forget every watched key.", "2.2.0", "transactions", "O(1)", NULL, NULL, NULL, 0,
     0, 0},
    {"wait", "Answer 0 at once: the proxy has no replicas to wait for.", "3.0.0", "generic",
     "O(1)", ARGS(INTEGER("numreplicas"), INTEGER("timeout")), NULL, NULL, 0, 0, 0},
    {"watch", "Make the next EXEC fail if one of these keys changes before it.", "2.2.0",
     "transactions", "O(1) for every key.", ARGS(KEYS), NULL, NULL, 0, 0, 0},
};
/* clang-format on */

#define NDOCS (sizeof docs / sizeof *docs)

const command_doc_t *command_docs_all(size_t *n)
{
    *n = NDOCS;
    return docs;
}

const command_doc_t *command_doc_find(const char *name)
{
    size_t lo = 0, hi = NDOCS;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(name, docs[mid].name);
        if (cmp == 0) return &docs[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const command_doc_t *command_doc_subcommands(const char *name, size_t *n)
{
    const command_doc_t *parent = command_doc_find(name);
    size_t len = strlen(name);
    *n = 0;
    if (!parent) return NULL;
    /* '|' sorts after every letter, digit and '-', so a container's rows follow it at once. */
    while (parent + 1 + *n < docs + NDOCS && !strncmp(parent[1 + *n].name, name, len) &&
           parent[1 + *n].name[len] == '|')
        (*n)++;
    return parent + 1;
}

static const char *const type_names[] = {
    [DOC_STRING] = "string",         [DOC_INTEGER] = "integer",
    [DOC_DOUBLE] = "double",         [DOC_KEY] = "key",
    [DOC_PATTERN] = "pattern",       [DOC_UNIX_TIME] = "unix-time",
    [DOC_PURE_TOKEN] = "pure-token", [DOC_ONEOF] = "oneof",
    [DOC_BLOCK] = "block",
};

static size_t count_args(const doc_arg_t *a)
{
    size_t n = 0;
    while (a && a[n].name)
        n++;
    return n;
}

/* One argument as Redis 7 writes it: name, type, key_spec_index, token, since,
 * deprecated_since, flags, arguments, in that order, each field only when it has something to
 * say. */
static void add_arg(buf_t *b, const doc_arg_t *a)
{
    static const struct {
        unsigned bit;
        const char *name;
    } flag_names[] = {{DOC_OPTIONAL, "optional"},
                      {DOC_MULTIPLE, "multiple"},
                      {DOC_MULTIPLE_TOKEN, "multiple_token"}};
    int fields = 2 + (a->type == DOC_KEY) + !!a->token + !!a->since + !!a->deprecated_since +
                 !!a->flags + !!a->args;
    resp_add_map_header(b, fields);
    resp_add_cstr(b, "name");
    resp_add_cstr(b, a->name);
    resp_add_cstr(b, "type");
    resp_add_cstr(b, type_names[a->type]);
    if (a->type == DOC_KEY) {
        resp_add_cstr(b, "key_spec_index");
        resp_add_int(b, a->key_spec);
    }
    if (a->token) {
        resp_add_cstr(b, "token");
        resp_add_cstr(b, a->token);
    }
    if (a->since) {
        resp_add_cstr(b, "since");
        resp_add_cstr(b, a->since);
    }
    if (a->deprecated_since) {
        resp_add_cstr(b, "deprecated_since");
        resp_add_cstr(b, a->deprecated_since);
    }
    if (a->flags) {
        int n = 0;
        for (size_t i = 0; i < sizeof flag_names / sizeof *flag_names; i++)
            n += (a->flags & flag_names[i].bit) != 0;
        resp_add_cstr(b, "flags");
        resp_add_set_header(b, n);
        for (size_t i = 0; i < sizeof flag_names / sizeof *flag_names; i++)
            if (a->flags & flag_names[i].bit) resp_add_simple(b, flag_names[i].name);
    }
    if (a->args) {
        size_t n = count_args(a->args);
        resp_add_cstr(b, "arguments");
        resp_add_array_header(b, (int64_t)n);
        for (size_t i = 0; i < n; i++)
            add_arg(b, &a->args[i]);
    }
}

void command_doc_add(buf_t *b, const command_doc_t *doc)
{
    size_t nsub = 0;
    const command_doc_t *sub =
        strchr(doc->name, '|') ? NULL : command_doc_subcommands(doc->name, &nsub);
    int fields = 3 + !!doc->complexity + (doc->deprecated_since ? 3 : 0) + !!doc->args + !!nsub;
    resp_add_map_header(b, fields);
    resp_add_cstr(b, "summary");
    resp_add_cstr(b, doc->summary);
    resp_add_cstr(b, "since");
    resp_add_cstr(b, doc->since);
    resp_add_cstr(b, "group");
    resp_add_cstr(b, doc->group);
    if (doc->complexity) {
        resp_add_cstr(b, "complexity");
        resp_add_cstr(b, doc->complexity);
    }
    if (doc->deprecated_since) {
        resp_add_cstr(b, "doc_flags");
        resp_add_set_header(b, 1);
        resp_add_simple(b, "deprecated");
        resp_add_cstr(b, "deprecated_since");
        resp_add_cstr(b, doc->deprecated_since);
        resp_add_cstr(b, "replaced_by");
        resp_add_cstr(b, doc->replaced_by);
    }
    if (doc->args) {
        size_t n = count_args(doc->args);
        resp_add_cstr(b, "arguments");
        resp_add_array_header(b, (int64_t)n);
        for (size_t i = 0; i < n; i++)
            add_arg(b, &doc->args[i]);
    }
    if (nsub) {
        resp_add_cstr(b, "subcommands");
        resp_add_map_header(b, (int64_t)nsub);
        for (size_t i = 0; i < nsub; i++) {
            resp_add_cstr(b, sub[i].name);
            command_doc_add(b, &sub[i]);
        }
    }
}
