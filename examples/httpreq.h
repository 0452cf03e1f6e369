/*
 * httpreq.h - httpsrv's HTTP/1.x request parser: where a request head
 * ends, and what it asks for.  Pure (no I/O), so the fuzz target
 * tests/fuzz/fuzz_http_request.c runs the very code httpsrv does.
 */
#ifndef HTTPREQ_H
#define HTTPREQ_H

#include <stddef.h>

/* What one request asks for and how to answer it. */
struct req {
	int status;                /* 200, 400, 404, 405, 431 or 505 */
	int head_only;             /* HEAD: headers without the body */
	int http10;                /* an HTTP/1.0 client */
	int keep_alive;            /* keep the connection after the answer */
};

/* The length of the request head at p (through its empty line), or 0 if
 * it has not all arrived. */
size_t http_head_len(const char *p, size_t len);

/* Parse "METHOD TARGET HTTP/x.y" in place: the status to answer (200,
 * 404, 405 or 505; 400 when malformed), and r->http10, r->head_only. */
int http_parse_request_line(char *line, struct req *r);

/* Parse a request head (hlen bytes that end with its empty line, as
 * http_head_len measures it) in place into r. */
void http_parse_request(char *head, size_t hlen, struct req *r);

#endif
