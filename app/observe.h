#ifndef CAFE_OBSERVE_H
#define CAFE_OBSERVE_H

struct app;
struct evbuffer;

/* What handlers/metrics.c needs from app/wire_observe.c: refreshes the gauges
 * mirrored from the engine, the café and the event hub, then appends the
 * whole registry in Prometheus text format 0.0.4. Loop thread only. */
void observe_render_metrics(struct app *app, struct evbuffer *out);

#endif
