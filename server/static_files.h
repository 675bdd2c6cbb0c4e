#ifndef CAFE_STATIC_FILES_H
#define CAFE_STATIC_FILES_H

#include <stddef.h>
#include <time.h>

#include "server/request.h"

/* The static file tree, read into memory once at start-up and sent with
 * evbuffer_add_reference() (no copy per request). Only files found at
 * start-up can be served, so no request path can escape the directory. */
struct static_file {
    char *path; /* URL path, "/app.js" */
    char *data;
    size_t len;
    const char *content_type;
    char etag[40];
    char last_modified[40];
    time_t mtime;
};

struct static_files;

/* Loads every regular file under dir (symlinks not followed out of it).
 * Returns NULL with a message on stderr when dir cannot be read. */
struct static_files *static_files_load(const char *dir);
size_t static_files_count(const struct static_files *sf);
/* Looks up a URL path; "/" and directories map to their index.html. */
const struct static_file *static_files_find(const struct static_files *sf, const char *path);
/* Answers GET/HEAD for path: 200, 304 from If-None-Match/If-Modified-Since,
 * or 404. */
void static_files_serve(const struct static_files *sf, struct request *req, const char *path);
void static_files_free(struct static_files *sf);
const char *content_type_for(const char *path);

#endif
