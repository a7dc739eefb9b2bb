/*
** serve.c
** The event loop of `amber serve`: a libwebsockets context with two vhosts
** (raw TCP for machines, HTTP for people), the machine protocol that feeds
** sessions, a once-a-second tick, the worker pool that analyses each new
** snapshot in the background, and a graceful shutdown on signals.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "analysis.h"
#include "serve_impl.h"

serve_state *serve_current;
static volatile sig_atomic_t stop_requested;
static int shutting_down;   /* connections now close because the server stops */

/* Bytes read from a machine socket per callback, and written per callback. */
#define MACHINE_RX_CHUNK 65536
#define MACHINE_TX_CHUNK 65536

int serve_is_loopback(const char *host) {
  if (!host) return 0;
  if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0) return 1;
  struct in_addr a;
  if (inet_pton(AF_INET, host, &a) != 1) return 0;
  return (ntohl(a.s_addr) >> 24) == 127;
}

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* ---- the machine side ---------------------------------------------- */

typedef struct machine_pss {
  session *s;
} machine_pss;

static void io_want_write(void *conn) { lws_callback_on_writable(conn); }
static void io_pause(void *conn, int paused) { lws_rx_flow_control(conn, !paused); }
static void io_drop(void *conn) {
  lws_set_timeout(conn, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

static void set_quickack(struct lws *wsi) {
  int fd = lws_get_socket_fd(wsi), one = 1;
  /* Linux clears QUICKACK after a while; XS writes each message in many
  ** small pieces and waits for ACKs, so it is set again after every read. */
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

static int machine_callback(struct lws *wsi, enum lws_callback_reasons reason,
                            void *user, void *in, size_t len) {
  machine_pss *pss = user;
  serve_state *sv = serve_current;
  if (!pss) return 0;
  switch (reason) {
  case LWS_CALLBACK_RAW_ADOPT: {
    int fd = lws_get_socket_fd(wsi), one = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_quickack(wsi);
    char peer[64] = "?";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    pss->s = session_open(sv->hub, wsi, peer);
    return pss->s ? 0 : -1;
  }
  case LWS_CALLBACK_RAW_RX:
    set_quickack(wsi);
    if (!pss->s) return -1;
    if (session_feed(pss->s, in, len) != 0) return -1;
    return 0;
  case LWS_CALLBACK_RAW_WRITEABLE: {
    if (!pss->s) return 0;
    const char *p;
    size_t n;
    session_output(pss->s, &p, &n);
    if (n == 0) return 0;
    if (n > MACHINE_TX_CHUNK) n = MACHINE_TX_CHUNK;
    static unsigned char buf[LWS_PRE + MACHINE_TX_CHUNK];
    memcpy(buf + LWS_PRE, p, n);
    /* lws keeps whatever the socket does not take and sends it first. */
    if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_RAW) < (int)n) return -1;
    session_output_done(pss->s, n);
    session_output(pss->s, &p, &n);
    if (n) lws_callback_on_writable(wsi);
    return 0;
  }
  case LWS_CALLBACK_RAW_CLOSE:
    if (pss->s)
      session_close(pss->s, shutting_down ? "the server is shutting down"
                                          : "the machine disconnected");
    pss->s = NULL;
    return 0;
  default:
    return 0;
  }
}

static const struct lws_protocols machine_protocols[] = {
  { "amber-machine", machine_callback, sizeof(machine_pss), MACHINE_RX_CHUNK, 0,
    NULL, 0 },
  { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- the loop -------------------------------------------------------- */

uint64_t serve_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_tick(lws_sorted_usec_list_t *sul) {
  serve_state *sv = lws_container_of(sul, serve_state, tick);
  session_hub_tick(sv->hub, serve_mono_ms());
  lws_sul_schedule(sv->ctx, 0, &sv->tick, on_tick, 1000 * LWS_US_PER_MS);
}

/* ---- analysing new snapshots ------------------------------------------ */

/* The sessions' hook: a snapshot was committed. */
static void on_stored(void *ud, int64_t snap) { serve_prepare_queue(ud, snap); }

static int queue_unindexed(void *ud, const store_snapshot *snap) {
  if (!snap->indexed) on_stored(ud, snap->id);
  return 0;
}

/* A worker finished a job: wake the loop (from the worker's thread). */
static void wake_loop(void *ud) {
  serve_state *sv = ud;
  lws_cancel_service(sv->ctx);
}

static void lws_log_line(int level, const char *line) {
  (void)level;
  fprintf(stderr, "amber: lws: %s", line);
}

static int open_stores(serve_state *sv) {
  char err[512];
  /* The loop streams snapshots in; the workers checkpoint (prepare_run). */
  int st = store_open(&sv->writer, sv->o->db_path, STORE_INGEST, err, sizeof err);
  if (st != STORE_OK) {
    fprintf(stderr, "amber serve: %s\n", err);
    return -1;
  }
  st = store_open(&sv->reader, sv->o->db_path, STORE_READONLY, err, sizeof err);
  if (st != STORE_OK) {
    fprintf(stderr, "amber serve: %s\n", err);
    return -1;
  }
  return 0;
}

static struct lws_vhost *listen_on(serve_state *sv, const char *name,
                                   const char *host, int port,
                                   const struct lws_protocols *protocols,
                                   int raw) {
  struct lws_context_creation_info vi;
  memset(&vi, 0, sizeof vi);
  vi.vhost_name = name;
  vi.iface = host;
  vi.port = port;
  vi.protocols = protocols;
  vi.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  if (raw) {
    vi.options |= LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
    vi.listen_accept_role = "raw-skt";
    vi.listen_accept_protocol = "amber-machine";
  }
  struct lws_vhost *vh = lws_create_vhost(sv->ctx, &vi);
  if (!vh)
    fprintf(stderr, "amber serve: cannot listen on %s:%d for %s (is another "
            "server using the port? choose another with --%s HOST:PORT)\n", host,
            port, name, raw ? "machines" : "http");
  return vh;
}

int serve_run(const serve_options *o) {
  if ((!serve_is_loopback(o->machine_host) || !serve_is_loopback(o->http_host)) &&
      (!o->token || !*o->token)) {
    fprintf(stderr, "amber serve: refusing to listen on a non-loopback address "
            "(%s) without a token: pass --token TOKEN (or set AMBER_TOKEN); every "
            "HTTP request must then carry 'Authorization: Bearer TOKEN'\n",
            serve_is_loopback(o->machine_host) ? o->http_host : o->machine_host);
    return 2;
  }
  serve_state sv;
  memset(&sv, 0, sizeof sv);
  sv.o = o;
  serve_current = &sv;
  shutting_down = 0;
  int rc = 1;
  if (open_stores(&sv)) goto out;
  if (o->viewer_dir && !realpath(o->viewer_dir, sv.viewer)) sv.viewer[0] = 0;

  session_config sc;
  memset(&sc, 0, sizeof sc);
  sc.st = sv.writer;
  sc.reader = sv.reader;
  sc.io.want_write = io_want_write;
  sc.io.pause = io_pause;
  sc.io.drop = io_drop;
  sc.quiet = o->quiet;
  sc.hold_at_login = o->hold_at_login;
  sc.answer_timeout_s = o->answer_timeout_s;
  sc.stall_timeout_s = o->stall_timeout_s;
  sc.contention_timeout_s = o->contention_timeout_s;
  sc.max_message = o->max_message;
  sc.max_attr = o->max_attr;
  sc.stored = on_stored;
  sc.stored_ud = &sv;
  sv.hub = session_hub_new(&sc);
  if (!sv.hub) { fprintf(stderr, "amber serve: out of memory\n"); goto out; }
  sv.api.hub = sv.hub;
  sv.api.st = sv.reader;
  sv.api.machine_host = o->machine_host;
  sv.api.machine_port = o->machine_port;

  lws_set_log_level(o->quiet ? LLL_ERR : (LLL_ERR | LLL_WARN), lws_log_line);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.pt_serv_buf_size = MACHINE_RX_CHUNK;
  sv.ctx = lws_create_context(&info);
  if (!sv.ctx) { fprintf(stderr, "amber serve: cannot start libwebsockets\n"); goto out; }
  char err[512];
  sv.work = serve_work_start(o->db_path, o->workers, wake_loop, &sv, err, sizeof err);
  if (!sv.work) { fprintf(stderr, "amber serve: %s\n", err); goto out; }
  /* snapshots left unindexed (migrated, or the server stopped before it
  ** got to them) are indexed in the background like new ones */
  store_snapshots(sv.reader, 0, 0, 0, queue_unindexed, &sv);
  if (!listen_on(&sv, "machines", o->machine_host, o->machine_port,
                 machine_protocols, 1) ||
      !listen_on(&sv, "http", o->http_host, o->http_port, serve_http_protocols, 0))
    goto out;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  stop_requested = 0;

  if (!o->quiet) {
    fprintf(stderr, "amber: listening for machines on %s:%d, HTTP on http://%s:%d/ "
            "(database %s%s)\n", o->machine_host, o->machine_port, o->http_host,
            o->http_port, o->db_path,
            sv.viewer[0] ? "" : "; no viewer folder, serving the API only");
  }
  lws_sul_schedule(sv.ctx, 0, &sv.tick, on_tick, 1000 * LWS_US_PER_MS);
  while (!stop_requested)
    if (lws_service(sv.ctx, 0) < 0) break;

  /* Detach machines politely: an XS machine parked at a break spins if
  ** its socket closes under it. Give the logouts a moment to leave. */
  if (!o->quiet) fprintf(stderr, "amber: shutting down\n");
  session_hub_logout_all(sv.hub);
  uint64_t until = serve_mono_ms() + 300;
  while (session_hub_pending_output(sv.hub) && serve_mono_ms() < until)
    lws_service(sv.ctx, 0);
  rc = 0;
out:
  shutting_down = 1;
  /* Workers first, while the loop still exists: they wake it when done,
  ** and abandoned requests detach from connections that are still open. */
  serve_work_free(sv.work);
  sv.work = NULL;
  if (sv.ctx) {
    lws_sul_cancel(&sv.tick);
    lws_context_destroy(sv.ctx); /* closes every connection, so every session */
  }
  session_hub_free(sv.hub);
  if (sv.reader) store_close(sv.reader);
  if (sv.writer) store_close(sv.writer);
  serve_current = NULL;
  return rc;
}
