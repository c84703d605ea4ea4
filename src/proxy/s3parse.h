/* s3parse.h -- the few pieces of an S3 response the backing store reads: the error document's
 * Code and Message, an ETag header's value and a Content-Range's total. No I/O; every input is
 * untrusted and bounded. */
#ifndef IC_PROXY_S3PARSE_H
#define IC_PROXY_S3PARSE_H

#include <stddef.h>
#include <stdint.h>

#define S3_XML_MAX 65536 /* an error document past this is not read further */
#define S3_ETAG_MAX 130  /* quotes included: a multipart ETag is 32 hex, '-', a count */

/* Finds <Code> and <Message> in an S3 error document (the first of each, at any depth) and
 * copies their text, entities &lt; &gt; &amp; &quot; &apos; decoded and control bytes turned
 * to spaces, truncated to fit. Returns 0 when a Code was found, -1 otherwise (code and msg are
 * then ""). Reads at most S3_XML_MAX bytes of body. */
int s3_error_parse(const char *body, size_t len, char *code, size_t codecap, char *msg,
                   size_t msgcap);

/* Copies the text of the first <element> in an S3 XML document (entities decoded, control bytes
 * turned to spaces, truncated to fit): an UploadId, an ETag in a CompleteMultipartUploadResult.
 * Returns 0 when found with some text, -1 otherwise (out is then ""). */
int s3_xml_text(const char *body, size_t len, const char *element, char *out, size_t outcap);

/* Normalizes an ETag header's value (surrounding spaces and a weak "W/" prefix dropped, the
 * quotes kept) into out. Returns 0, or -1 when it is not a quoted string of printable bytes
 * within S3_ETAG_MAX. */
int s3_etag_parse(const char *value, size_t len, char *out, size_t outcap);

/* Parses "bytes FIRST-LAST/TOTAL" (a Content-Range's value). Returns 0 with the three numbers,
 * or -1 when malformed (LAST < FIRST, TOTAL <= LAST, '*', overflow). */
int s3_content_range_parse(const char *value, size_t len, uint64_t *first, uint64_t *last,
                           uint64_t *total);

#endif
