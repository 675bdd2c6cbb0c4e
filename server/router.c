#include "server/router.h"

#include <stdio.h>
#include <string.h>

/* Matches path against pattern; on success sets the captured segment. */
static bool pattern_match(const char *pattern, const char *path, const char **param,
                          size_t *param_len)
{
    size_t plen = strlen(pattern);
    if (plen >= 3 && !strcmp(pattern + plen - 3, "/**")) { /* prefix: the rest of the path */
        if (strncmp(path, pattern, plen - 2))
            return false;
        *param = path + plen - 3;
        *param_len = strlen(*param);
        return true;
    }
    if (plen >= 2 && !strcmp(pattern + plen - 2, "/*")) { /* one more segment */
        if (strncmp(path, pattern, plen - 1))
            return false;
        const char *seg = path + plen - 1;
        if (!*seg || strchr(seg, '/'))
            return false;
        *param = seg;
        *param_len = strlen(seg);
        return true;
    }
    *param = NULL;
    *param_len = 0;
    return !strcmp(pattern, path);
}

static void allow_add(char *allow, size_t size, const char *method)
{
    if (strstr(allow, method)) /* "GET" is never a substring of another of ours */
        return;
    size_t len = strlen(allow);
    snprintf(allow + len, size - len, "%s%s", len ? ", " : "", method);
}

void router_match(const struct route *routes, size_t nroutes, enum http_method method,
                  const char *path, struct route_match *m)
{
    memset(m, 0, sizeof(*m));
    bool path_known = false;
    for (size_t i = 0; i < nroutes; i++) {
        const struct route *r = &routes[i];
        if (!pattern_match(r->pattern, path, &m->param, &m->param_len))
            continue;
        bool catch_all = strstr(r->pattern, "/**") != NULL;
        /* A path a literal route knows is never handed to a catch-all: GET
         * /sync/order is 405, not a missing static file. */
        if (catch_all && path_known)
            continue;
        if (r->method == method || (r->method == METHOD_GET && method == METHOD_HEAD)) {
            m->route = r;
            m->status = 200;
            return;
        }
        /* A catch-all (static files) does not make every path known: a POST
         * to a path nobody serves is 404, not 405. */
        if (catch_all)
            continue;
        path_known = true;
        allow_add(m->allow, sizeof(m->allow), method_name(r->method));
        if (r->method == METHOD_GET)
            allow_add(m->allow, sizeof(m->allow), "HEAD");
    }
    m->param = NULL;
    m->param_len = 0;
    m->status = path_known ? 405 : 404;
}
