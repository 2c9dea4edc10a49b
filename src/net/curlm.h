/* curlm.h - a libcurl multi handle driven by a uv loop: one uv_poll per
 * socket curl asks for, one uv_timer for curl's timeout, a completion
 * callback per easy handle. Nothing blocks: DNS runs in curl's resolver
 * thread (or c-ares), everything else on the loop.
 *
 * The caller owns its easy handles: configure, curlm_add, and get it back in
 * the done callback (already removed from the multi, ready to be reused or
 * cleaned up). Callbacks run on the loop thread, never from inside
 * curlm_add or curlm_remove, and may call any curlm function. */
#pragma once

#include <curl/curl.h>
#include <uv.h>

struct curlm;

/* result: CURLE_OK or curl's error (the HTTP status is CURLINFO_RESPONSE_CODE);
 * CURLE_ABORTED_BY_CALLBACK when curlm_close cancelled the transfer. */
typedef void (*curlm_done_cb)(CURL *easy, CURLcode result, void *arg);
typedef void (*curlm_close_cb)(void *arg);

/* 0, -ENOMEM. */
int curlm_new(uv_loop_t *loop, struct curlm **out);

/* Starts the transfer on the next loop iteration. 0; -ECANCELED after
 * curlm_close; -EEXIST if easy is already added; -ENOMEM, -EIO. */
int curlm_add(struct curlm *m, CURL *easy, curlm_done_cb done, void *arg);

/* Stops a transfer that has not completed; its done callback will not run.
 * 0, or -ENOENT if easy is not in progress. */
int curlm_remove(struct curlm *m, CURL *easy);

/* Transfers in progress: done(CURLE_ABORTED_BY_CALLBACK) each, from inside
 * this call (or, when called from a done callback, right after it); later
 * curlm_add calls get -ECANCELED. cb runs (from the loop) once every uv
 * handle is closed and the multi is freed. cb may be NULL. */
void curlm_close(struct curlm *m, curlm_close_cb cb, void *arg);
