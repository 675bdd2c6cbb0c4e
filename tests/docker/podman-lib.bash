# shellcheck shell=bash
# Shared by tests/docker/image.sh and bench/fresh-machine.sh (sourced, not run:
# the .bash suffix keeps ctest's tests/docker/*.sh glob from picking it up).
# Rootful podman with runc and a local debian:bookworm-slim, with the
# work-arounds a Docker-less machine nested in a container needs.

# Storage lives under a fixed folder so the debootstrapped base image (~40 s to
# make) survives between runs; only our own images and containers are removed.
CAFE_DOCKER_DIR=${CAFE_DOCKER_DIR:-/var/tmp/cafe-docker}
BASE_IMAGE=docker.io/library/debian:bookworm-slim
mkdir -p "$CAFE_DOCKER_DIR" 2>/dev/null || true # findmnt -T needs it to exist

# overlay needs a real filesystem under the storage; anything else (tmpfs,
# overlayfs inside a container) gets vfs, which is slower but works everywhere.
podman_driver() {
    case $(findmnt -no FSTYPE -T "$CAFE_DOCKER_DIR" 2>/dev/null) in
        ext4 | xfs | btrfs) echo overlay ;;
        *) echo vfs ;;
    esac
}

# The podman command line as an array too, for wrappers such as `timeout`.
PODMAN=(podman --root "$CAFE_DOCKER_DIR/storage" --runroot "$CAFE_DOCKER_DIR/run"
    --storage-driver "${CAFE_DOCKER_DRIVER:-$(podman_driver)}" --runtime runc)
P() { "${PODMAN[@]}" "$@"; }

# A TCP port no socket uses here (containers run with --network host), below
# the ephemeral range (32768+): a client's outgoing connection may take any
# port there between this check and the server's bind.
host_free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 12000))
        [ -n "$(ss -Htan "sport = :$p")" ] || { echo "$p"; return; }
    done
    return 1
}

# The CA file npm trusts on this host, if any. This workplace reaches the npm
# registry through a TLS-inspecting proxy whose CA is only in the host's
# bundle (NODE_EXTRA_CA_CERTS or npm's cafile); builds and containers borrow
# it, or `npm ci` fails on a self-signed certificate in the chain.
host_npm_cafile() {
    local f=${NODE_EXTRA_CA_CERTS:-}
    if [ -z "$f" ] && command -v npm >/dev/null; then
        f=$(npm config get cafile 2>/dev/null || true)
    fi
    case $f in '' | null | undefined) return ;; esac
    [ ! -f "$f" ] || echo "$f"
}

# Extra `podman run` flags: the container's default nofile (1048576) is above
# the hard limit here and nproc is capped by podman itself (DOCKER.md 1, 2).
podman_run_flags() {
    local n
    n=$(ulimit -Hn)
    printf '%s\n' --ulimit "nofile=$n:$n" --ulimit nproc=4096:4096
}

# Prints why podman cannot work here, or nothing if it can. Cheap checks only;
# the real proof is a `podman run` of the base image (podman_can_run).
podman_unusable_reason() {
    [ "$(id -u)" = 0 ] || { echo "needs root (rootful podman)"; return; }
    local t
    for t in podman runc debootstrap curl findmnt; do
        command -v "$t" >/dev/null || { echo "$t is not installed"; return; }
    done
}

# debian:bookworm-slim made from the Debian mirror apt already uses (no image
# registry is reachable). Serialised with flock: two runs must not debootstrap
# into the same folder at once.
ensure_base_image() {
    mkdir -p "$CAFE_DOCKER_DIR"
    (
        flock 9
        P image exists "$BASE_IMAGE" && exit 0
        local mirror r="$CAFE_DOCKER_DIR/rootfs"
        mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
        [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
        rm -rf "$r"
        echo "docker: making $BASE_IMAGE with debootstrap from $mirror (once, ~40 s)" >&2
        debootstrap --variant=minbase bookworm "$r" "$mirror" >"$CAFE_DOCKER_DIR/debootstrap.log" 2>&1
        rm -f "$r/etc/apt/sources.list"
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            grep -v '^#' /etc/apt/sources.list.d/debian.sources >"$r/etc/apt/sources.list.d/debian.sources"
        else
            grep '^deb ' /etc/apt/sources.list >"$r/etc/apt/sources.list"
        fi
        # The same apt clean-up hook the official image has, so layers stay small.
        printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
            'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' >"$r/etc/apt/apt.conf.d/docker-clean"
        rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* \
            "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/locale/*
        tar -C "$r" -c . | P import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
        rm -rf "$r"
    ) 9>"$CAFE_DOCKER_DIR/.lock"
}

# True when a container can actually start here (not e.g. nested in another
# container, where cgroups and mounts are not ours to use). Probes with a tiny
# image of the host's own /usr/bin/true and its libraries, made in a second, so
# a machine that cannot run containers is found before a 40 s debootstrap.
PROBE_IMAGE=localhost/cafe-podman-probe:latest
podman_can_run() {
    if ! P image exists "$PROBE_IMAGE" 2>/dev/null; then
        local libs
        libs=$(ldd /usr/bin/true | grep -o '/[^ ]*' | sed 's|^/||')
        # shellcheck disable=SC2086 # one path per word
        tar -C / -ch usr/bin/true $libs 2>/dev/null | P import - "$PROBE_IMAGE" >/dev/null 2>&1 || return 1
    fi
    # shellcheck disable=SC2046 # one flag per line, no spaces inside
    P run --rm --network host $(podman_run_flags) "$PROBE_IMAGE" /usr/bin/true >/dev/null 2>&1
}
