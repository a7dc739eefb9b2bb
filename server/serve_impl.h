/*
** serve_impl.h
** Internals shared by serve*.c: the server's state and the HTTP protocol
** handler. Nothing outside serve*.c includes this; the door is serve.h.
*/
#ifndef AMBER_SERVE_IMPL_H
#define AMBER_SERVE_IMPL_H

#include <limits.h>
#include <libwebsockets.h>
#include "api.h"
#include "serve.h"
#include "serve_work.h"
#include "session.h"

typedef struct serve_state {
  const serve_options *o;
  struct lws_context *ctx;
  session_hub *hub;
  store *writer;              /* ingests write through this handle */
  store *reader;              /* the API reads through this one */
  api_ctx api;
  serve_work *work;           /* heap analysis off the loop; NULL once stopped */
  char viewer[PATH_MAX];      /* realpath of the viewer folder, "" if none */
  lws_sorted_usec_list_t tick;
} serve_state;

/* Milliseconds on the monotonic clock (for timing, never for dates). */
uint64_t serve_mono_ms(void);

/* Queue the background preparation of snap (serve_prepare.c): its lookup
** indexes and kept analysis, computed by `amber prepare` in a child. */
void serve_prepare_queue(serve_state *sv, int64_t snap);

/* The one server of this process (callbacks reach it through here). */
extern serve_state *serve_current;

/* The HTTP protocol (API, static files, token check), with its
** terminator: the protocol list of the HTTP vhost. It also takes the
** loop's wake-ups (LWS_CALLBACK_EVENT_WAIT_CANCELLED) and delivers what
** the workers finished. */
extern const struct lws_protocols serve_http_protocols[2];

#endif
