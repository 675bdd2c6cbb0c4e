# Async Café in a container: build with the README's own set-up and build
# scripts, ship only the binary, its runtime libraries and static/.
#   docker build -t async-cafe .
#   docker run --rm -p 8080:8080 async-cafe            (or --network host)
# Flags go after the image name (docker run ... async-cafe --time-scale 0.1),
# or as CAFE_* environment variables (-e CAFE_TIME_SCALE=0.1).

FROM debian:bookworm-slim AS build
WORKDIR /src
# Set-up first, from only the files it reads, so the apt and npm layers stay
# cached until the set-up scripts or the lockfile change. `setup.sh run`
# installs the toolchain and libraries, runs `npm ci` and fills static/vendor/.
COPY scripts/ scripts/
COPY package.json package-lock.json ./
RUN bash scripts/setup.sh run && rm -rf /var/lib/apt/lists/* /root/.npm
# static/vendor/ is not in the context (.dockerignore): the one made above stays.
COPY . .
# Exactly the README's build, without the test suite. No second setup.sh: the
# layer above did it, and a second pass was seen re-running `npm ci` on every
# source change.
RUN bash scripts/build.sh build -DCAFE_TESTS=OFF \
 && strip --strip-unneeded build/cafe-server \
 && test -f static/vendor/uPlot.esm.js

FROM debian:bookworm-slim
# Runtime libraries only (llhttp is linked in statically). No curl: the
# health check below speaks HTTP with bash's /dev/tcp.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libevent-core-2.1-7 libjansson4 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin cafe
COPY --from=build /src/build/cafe-server /usr/local/bin/cafe-server
COPY --from=build /src/static /app/static
# The server looks for static/ next to where it runs, as from the repo root.
WORKDIR /app
# 0.0.0.0 inside the container (the default 127.0.0.1 is unreachable through
# -p). The drain timeout stays under `docker stop`'s 10 s grace period, so a
# stop during a rush still ends in a clean exit 0, not a SIGKILL.
ENV CAFE_HOST=0.0.0.0 \
    CAFE_PORT=8080 \
    CAFE_STATIC_DIR=/app/static \
    CAFE_DRAIN_TIMEOUT_MS=8000
USER cafe
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${CAFE_PORT:-8080} && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 2 _ code _ <&3 && [ \"$code\" = 200 ]"]
# Exec form, no shell in between: cafe-server is PID 1 and gets SIGTERM itself
# (it installs a handler, so the kernel delivers it), drains and exits 0.
ENTRYPOINT ["/usr/local/bin/cafe-server"]
