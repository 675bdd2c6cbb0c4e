#!/bin/bash
# The layers, checked in the sources (the build checks them too: each
# layer's include path holds only the layers below it, see CMakeLists.txt).
#   base/      may include: base
#   server/    base, server          (HTTP; knows no coffee)
#   cafe/      base, cafe            (the domain; knows no HTTP)
#   handlers/  base, server, cafe, handlers
#   app/       everything
# It also fails on an include that climbs out of its folder ("../"), on words
# of the domain in the engine, and on a comment that cites a file outside the
# repository (the repository carries its own contract: docs/).
set -uo pipefail
cd "$(dirname "$0")/../.."

declare -A allowed=(
    [base]="base"
    [server]="base server"
    [cafe]="base cafe"
    [handlers]="base server cafe handlers"
    [app]="base server cafe handlers app"
)
bad=0
complain() {
    echo "layers: $*"
    bad=1
}

for layer in "${!allowed[@]}"; do
    for f in "$layer"/*.[ch]; do
        [ -e "$f" ] || continue
        while IFS=: read -r line inc; do
            target=${inc#*\"}
            target=${target%%\"*}
            case $target in
            ../* | */../*) complain "$f:$line includes \"$target\": no climbing out of a folder" ;;
            */*)
                dir=${target%%/*}
                [[ " ${allowed[$layer]} " == *" $dir "* ]] ||
                    complain "$f:$line: $layer/ may not include $target (allowed: ${allowed[$layer]})"
                ;;
            *) complain "$f:$line includes \"$target\": name its folder (\"$layer/$target\")" ;;
            esac
        done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
    done
done

# The engine knows no coffee: not in its code, not in its comments.
if hits=$(grep -nEi 'brew|coffee|barista|latte|café|cafe-server|recipe' server/*.[ch]); then
    while IFS= read -r h; do complain "server/ talks about the café: $h"; done <<<"$hits"
fi

# Comments cite files of this repository only.
if hits=$(grep -nE '\.\./shared|shared/(SPEC|STYLE|NOTES|DOCKER)|\b(SPEC|NOTES|STYLE)(\.md)?\b' \
    base/*.[ch] server/*.[ch] cafe/*.[ch] handlers/*.[ch] app/*.[ch] fuzz/*.[ch] tests/unit/*.c \
    2>/dev/null); then
    while IFS= read -r h; do complain "cites a file outside the repository (use docs/): $h"; done <<<"$hits"
fi

[ $bad = 0 ] && echo "layers: every include stays inside its layer"
exit $bad
