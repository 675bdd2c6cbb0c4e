#ifndef CAFE_ACCESS_LOG_H
#define CAFE_ACCESS_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "server/request.h"

/* One line per request (peer, method, target, status, bytes, duration, the
 * request's log label) through base/log.h. On by default. */
void access_log_enable(bool on);
void access_log_write(const struct request *req, const char *peer, uint64_t bytes,
                      uint64_t duration_ns);

#endif
