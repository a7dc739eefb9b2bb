/*
** http_client.c
** The CLI's blocking HTTP/1.1 client: connect with a timeout, send one
** request with "Connection: close", read the reply to its end.
*/
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"

int http_parse_url(const char *url, char *host, size_t hostlen, int *port) {
  const char *p = url;
  if (strncmp(p, "http://", 7) == 0) p += 7;
  else if (strstr(p, "://")) return -1;
  const char *end = p + strcspn(p, "/");
  const char *colon = NULL;
  if (*p == '[') {                       /* [v6]:port */
    const char *rb = memchr(p, ']', (size_t)(end - p));
    if (!rb) return -1;
    if ((size_t)(rb - p - 1) >= hostlen) return -1;
    memcpy(host, p + 1, (size_t)(rb - p - 1));
    host[rb - p - 1] = 0;
    colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
  } else {
    colon = memchr(p, ':', (size_t)(end - p));
    const char *hend = colon ? colon : end;
    if (hend == p || (size_t)(hend - p) >= hostlen) return -1;
    memcpy(host, p, (size_t)(hend - p));
    host[hend - p] = 0;
  }
  *port = 80;
  if (colon) {
    char *e;
    long v = strtol(colon + 1, &e, 10);
    if (e != end || v <= 0 || v > 65535) return -1;
    *port = (int)v;
  }
  if (*end && strcmp(end, "/") != 0) return -1;
  return 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, const char *a,
                   const char *b) {
  if (err && errlen) snprintf(err, errlen, fmt, a, b);
}

/* Wait until fd is ready for events, at most ms. 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int ms) {
  struct pollfd pfd = { fd, events, 0 };
  for (;;) {
    int n = poll(&pfd, 1, ms);
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? -1 : n;
  }
}

static int connect_to(const char *host, int port, int ms, char *err,
                      size_t errlen) {
  char portstr[8];
  snprintf(portstr, sizeof portstr, "%d", port);
  struct addrinfo hints = { 0 }, *ai = NULL;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai) {
    seterr(err, errlen, "cannot resolve %s%s", host, "");
    return -1;
  }
  int fd = -1, last_errno = 0;
  for (struct addrinfo *a = ai; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (wait_fd(fd, POLLOUT, ms) == 1) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
        rc = e ? -1 : 0;
        errno = e ? e : ETIMEDOUT;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      fcntl(fd, F_SETFL, fl);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      break;
    }
    last_errno = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(ai);
  if (fd < 0) seterr(err, errlen, "%s%s", strerror(last_errno), "");
  return fd;
}

/* Send the request. A server may answer before it has read all of a body
** (413 for one too large) and close: then the answer is what counts, so
** sending stops when a reply is readable, and a send that fails is no
** error as long as one is. 0 if sent or answered, -1 otherwise. */
static int send_all(int fd, const char *p, size_t n, int ms) {
  while (n) {
    struct pollfd pfd = { fd, POLLOUT | POLLIN, 0 };
    int k = poll(&pfd, 1, ms);
    if (k < 0 && errno == EINTR) continue;
    if (k != 1) return -1;
    if (pfd.revents & POLLIN) return 0;
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w <= 0) return wait_fd(fd, POLLIN, 0) == 1 ? 0 : -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Decode a chunked body in place; returns its length or -1. */
static long dechunk(char *p, size_t n) {
  size_t in = 0, out = 0;
  for (;;) {
    char *e;
    if (in >= n) return -1;
    unsigned long sz = strtoul(p + in, &e, 16);
    char *nl = memchr(p + in, '\n', n - in);
    if (!nl || e == p + in) return -1;
    in = (size_t)(nl - p) + 1;
    if (sz == 0) return (long)out;
    if (sz > n - in) return -1;
    memmove(p + out, p + in, sz);
    out += sz;
    in += sz;
    if (in < n && p[in] == '\r') in++;
    if (in < n && p[in] == '\n') in++;
  }
}

enum http_client_result http_request(const char *server, const char *method,
                                     const char *path, const char *body,
                                     size_t body_len, const char *token,
                                     int timeout_ms, http_reply *reply,
                                     char *err, size_t errlen) {
  char host[256];
  int port;
  wire_buf_init(&reply->body);
  reply->status = 0;
  if (http_parse_url(server, host, sizeof host, &port) != 0) {
    seterr(err, errlen, "cannot parse server URL '%s' (expected http://HOST:PORT)%s",
           server, "");
    return HTTP_CLIENT_EURL;
  }
  char cerr[320] = "";
  int fd = connect_to(host, port, timeout_ms, cerr, sizeof cerr);
  if (fd < 0) {
    seterr(err, errlen, "cannot reach the amber server at %s: %s", server, cerr);
    return HTTP_CLIENT_ECONNECT;
  }
  wire_buf req;
  wire_buf_init(&req);
  char line[128];
  wire_buf_puts(&req, method);
  wire_buf_puts(&req, " ");
  wire_buf_puts(&req, path);
  wire_buf_puts(&req, " HTTP/1.1\r\nHost: ");
  wire_buf_puts(&req, host);
  wire_buf_puts(&req, "\r\nConnection: close\r\nAccept: application/json\r\n");
  if (token && *token) {
    wire_buf_puts(&req, "Authorization: Bearer ");
    wire_buf_puts(&req, token);
    wire_buf_puts(&req, "\r\n");
  }
  if (body) {
    snprintf(line, sizeof line,
             "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
    wire_buf_puts(&req, line);
  } else if (strcmp(method, "POST") == 0) {
    wire_buf_puts(&req, "Content-Length: 0\r\n");
  }
  wire_buf_puts(&req, "\r\n");
  if (body) wire_buf_put(&req, body, body_len);
  enum http_client_result rc = HTTP_CLIENT_OK;
  if (req.oom || send_all(fd, req.data, req.len, timeout_ms) != 0) {
    seterr(err, errlen, "sending the request to %s failed: %s", server,
           strerror(errno));
    rc = HTTP_CLIENT_EIO;
    goto done;
  }
  wire_buf *in = &reply->body;
  for (;;) {
    if (in->len > HTTP_CLIENT_MAX_REPLY) {
      seterr(err, errlen, "the reply from %s is too large%s", server, "");
      rc = HTTP_CLIENT_EIO;
      goto done;
    }
    if (wire_buf_reserve(in, 65536) != 0) {
      seterr(err, errlen, "out of memory reading the reply from %s%s", server, "");
      rc = HTTP_CLIENT_EIO;
      goto done;
    }
    int w = wait_fd(fd, POLLIN, timeout_ms);
    if (w != 1) {
      seterr(err, errlen, "no reply from %s within the timeout%s", server, "");
      rc = HTTP_CLIENT_EIO;
      goto done;
    }
    ssize_t r = recv(fd, in->data + in->len, in->cap - in->len, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      seterr(err, errlen, "reading the reply from %s failed: %s", server,
             strerror(errno));
      rc = HTTP_CLIENT_EIO;
      goto done;
    }
    if (r == 0) break;
    in->len += (size_t)r;
  }
  wire_buf_put(in, "", 1);              /* NUL for the header scan */
  in->len--;
  char *hdr_end = in->data ? strstr(in->data, "\r\n\r\n") : NULL;
  if (!hdr_end || sscanf(in->data, "HTTP/1.%*d %d", &reply->status) != 1) {
    seterr(err, errlen, "%s did not answer with HTTP%s", server, "");
    rc = HTTP_CLIENT_EIO;
    goto done;
  }
  int chunked = 0;
  long clen = -1;
  for (char *h = strstr(in->data, "\r\n") + 2; h < hdr_end;
       h = strstr(h, "\r\n") + 2) {
    if (strncasecmp(h, "content-length:", 15) == 0) clen = strtol(h + 15, NULL, 10);
    if (strncasecmp(h, "transfer-encoding:", 18) == 0 &&
        strstr(h, "chunked") && strstr(h, "chunked") < strstr(h, "\r\n"))
      chunked = 1;
  }
  size_t off = (size_t)(hdr_end + 4 - in->data);
  size_t blen = in->len - off;
  memmove(in->data, in->data + off, blen);
  if (chunked) {
    long d = dechunk(in->data, blen);
    if (d < 0) {
      seterr(err, errlen, "malformed chunked reply from %s%s", server, "");
      rc = HTTP_CLIENT_EIO;
      goto done;
    }
    blen = (size_t)d;
  } else if (clen >= 0 && (size_t)clen < blen) {
    blen = (size_t)clen;
  } else if (clen >= 0 && (size_t)clen > blen) {
    seterr(err, errlen, "the reply from %s was cut short%s", server, "");
    rc = HTTP_CLIENT_EIO;
    goto done;
  }
  in->len = blen;
  in->data[blen] = 0;
done:
  wire_buf_free(&req);
  close(fd);
  if (rc != HTTP_CLIENT_OK) wire_buf_free(&reply->body);
  return rc;
}

void http_reply_free(http_reply *r) { wire_buf_free(&r->body); }
