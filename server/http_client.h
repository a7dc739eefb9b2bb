/*
** http_client.h
** A tiny blocking HTTP/1.1 client: how the CLI talks to a running
** `amber serve`. One request per connection, bounded reply size.
*/
#ifndef AMBER_HTTP_CLIENT_H
#define AMBER_HTTP_CLIENT_H

#include <stddef.h>
#include "wire.h"

/* Largest reply body accepted. */
#define HTTP_CLIENT_MAX_REPLY (64u << 20)

typedef struct http_reply {
  int status;        /* HTTP status code */
  wire_buf body;     /* the body, NUL-terminated (not counted in len) */
} http_reply;

enum http_client_result {
  HTTP_CLIENT_OK = 0,
  HTTP_CLIENT_EURL,        /* the server URL cannot be parsed */
  HTTP_CLIENT_ECONNECT,    /* no server answers at that address */
  HTTP_CLIENT_EIO          /* the connection failed or the reply is malformed */
};

/* Send method path (with its query) to server ("http://host:port"),
** with an optional JSON body and bearer token (NULL for none), waiting at
** most timeout_ms for each step. Fills reply (free with http_reply_free);
** on failure err[errlen] says why. */
enum http_client_result http_request(const char *server, const char *method,
                                     const char *path, const char *body,
                                     size_t body_len, const char *token,
                                     int timeout_ms, http_reply *reply,
                                     char *err, size_t errlen);

void http_reply_free(http_reply *r);

/* Split "http://host:port" into host[hostlen] and *port (default 80).
** Returns 0, or -1 if it is not a plain http URL. */
int http_parse_url(const char *url, char *host, size_t hostlen, int *port);

#endif
