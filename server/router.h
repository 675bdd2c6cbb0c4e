#ifndef CAFE_ROUTER_H
#define CAFE_ROUTER_H

#include <stddef.h>

#include "server/request.h"

/* A handler either answers now (HANDLER_DONE; the response has been sent) or
 * later (HANDLER_PENDING; it has called request_on_abort() and will answer
 * from a timer or another event). Like h2o's on_req plus its stop hook. */
enum handler_status { HANDLER_DONE, HANDLER_PENDING };
typedef enum handler_status (*handler_fn)(struct request *req);

/* One entry in the greppable route table. pattern is a literal path; a
 * trailing "/" "*" captures one more segment (req->route_param), a trailing
 * "/" "**" the rest of the path (a prefix). label names the route in logs and
 * metrics ("/orders/:id"). kind and arg are the application's typed data
 * about the route (what it is, and e.g. the mode it serves), so nothing needs
 * to recognise a route by its pattern or its handler. */
struct route {
    enum http_method method; /* METHOD_GET also answers HEAD */
    const char *pattern;
    handler_fn handler;
    const char *label;
    int kind;
    int arg;
};

struct route_match {
    const struct route *route; /* NULL unless status == 200 */
    const char *param;         /* points into path; param_len bytes */
    size_t param_len;
    int status;     /* 200, 404 (no pattern matches) or 405 (no method matches) */
    char allow[96]; /* for 405: "GET, HEAD, POST" */
};

/* Finds the route for method + path (decoded, without query). */
void router_match(const struct route *routes, size_t nroutes, enum http_method method,
                  const char *path, struct route_match *m);

#endif
