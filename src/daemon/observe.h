/* observe.h - the daemon's observability: the metrics registry, the HTTP
 * endpoint (/metrics, /healthz, /readyz) and the loop-lag probe. */
#pragma once

#include <stddef.h>

#include <jansson.h>

struct daemon;
struct observe;

/* Binds http.listen and starts the probe; sets d->obs. 0 or negative. */
int observe_new(struct daemon *d, char *err, size_t errlen);
/* Hands the latency histograms to the modules (after they exist). */
void observe_attach(struct observe *o);
int observe_port(const struct observe *o);
json_t *observe_metrics_json(struct observe *o);
/* After the modules are closed: closes the endpoint and the probe. */
void observe_close(struct observe *o, void (*cb)(void *arg), void *arg);
