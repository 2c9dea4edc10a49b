/* dial.h - resolve a host name and connect a caller-owned TCP handle, with a
 * deadline, without blocking the loop.
 *
 * The uv_tcp_t belongs to the caller (it is embedded in the stream object
 * that will use the connection, see tls.h) because a uv handle cannot move.
 * The dial object owns only its resolver request, connect request and timer.
 *
 * Lifetime: dial_start() hands back a struct dial that is valid until the
 * callback runs or dial_cancel() is called, whichever comes first; the object
 * frees itself later, once its requests and timer have finished. */
#pragma once

#include <stdint.h>

#include <uv.h>

struct dial;

/* status: 0 connected; otherwise a negative uv code: UV_ETIMEDOUT (deadline),
 * UV_EAI_* (resolution), UV_ECONNREFUSED, UV_ENETUNREACH, ... On failure the
 * caller closes the tcp handle (which also cancels a connect still in flight
 * after a timeout). Called at most once, never from inside dial_start(). */
typedef void (*dial_cb)(void *user, int status);

/* Resolves host (name or numeric address) asynchronously and connects tcp
 * (already uv_tcp_init'ed, not yet connected) to port. If the name has IPv4
 * addresses the first one is used, else the first address of any family:
 * one socket cannot retry across families and IPv4 reaches every endpoint we
 * talk to. timeout_ms (> 0) bounds resolution plus connect.
 * Returns 0, -EINVAL or a negative uv code (then no callback). */
int dial_start(struct dial **out, uv_loop_t *loop, uv_tcp_t *tcp, const char *host,
               uint16_t port, uint32_t timeout_ms, dial_cb cb, void *user);

/* Suppresses the callback. If a connect may be in flight the caller must
 * close the tcp handle (it is going to anyway). Safe to call once, before the
 * callback has run. */
void dial_cancel(struct dial *d);
