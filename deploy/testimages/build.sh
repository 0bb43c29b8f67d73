#!/usr/bin/env bash
# Builds the local images Gantry's tests run in. The test machines reach no
# container registry, so every image is built FROM scratch around Debian's
# static busybox.
#
#   gantry-test/busybox:latest             busybox applets in /bin, CMD ["sh"]
#   gantry-test/busybox-entrypoint:latest  ENTRYPOINT prints "entrypoint ran", then exec "$@"
#   gantry-test/web:latest                 httpd on :8080 serving "hello from gantry service"
#
# Idempotent and fast when nothing changed: each image carries the hash of
# its inputs in the label gantry.test-image.hash and is rebuilt only when
# that hash differs. Safe to run concurrently (flock).
#
# Usage: deploy/testimages/build.sh [-f]   (-f rebuilds everything)
set -euo pipefail

readonly BUSYBOX=/bin/busybox
readonly LABEL=gantry.test-image
readonly HASH_LABEL=gantry.test-image.hash
# Bump to force a rebuild when this script changes what it builds.
readonly RECIPE_VERSION=1

force=0
if [[ "${1:-}" == "-f" ]]; then
	force=1
fi

log() { printf 'testimages: %s\n' "$*" >&2; }

as_root() {
	if [[ "$(id -u)" -eq 0 ]]; then
		"$@"
	else
		sudo "$@"
	fi
}

is_static() {
	# ldd says "not a dynamic executable" (or fails) for static binaries.
	! ldd "$1" >/dev/null 2>&1
}

ensure_busybox() {
	if [[ -x "$BUSYBOX" ]] && is_static "$BUSYBOX"; then
		return
	fi
	log "installing busybox-static (need a static $BUSYBOX)"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
	if ! is_static "$BUSYBOX"; then
		log "$BUSYBOX is still not a static binary"
		exit 1
	fi
}

# current_hash IMAGE prints the hash label of IMAGE, or nothing if absent.
current_hash() {
	docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

sha() { sha256sum | cut -d' ' -f1; }

# build IMAGE HASH CONTEXT_DIR: builds CONTEXT_DIR/Dockerfile, labelled.
build() {
	local image=$1 hash=$2 dir=$3
	log "building $image"
	local env=()
	if ! docker buildx version >/dev/null 2>&1; then
		# No buildx plugin: the classic builder handles FROM scratch fine.
		env=(DOCKER_BUILDKIT=0)
	fi
	local out
	# Output is shown only on failure: the classic builder's deprecation
	# notice would otherwise clutter every test run.
	if ! out=$(env "${env[@]}" docker build --quiet \
		--label "$LABEL=true" --label "$HASH_LABEL=$hash" \
		--tag "$image" "$dir" 2>&1); then
		log "building $image failed:"
		printf '%s\n' "$out" >&2
		exit 1
	fi
}

busybox_dockerfile() {
	cat <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
EOF
}

passwd_file() {
	cat <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
}

group_file() {
	cat <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
}

entrypoint_dockerfile() {
	cat <<'EOF'
FROM gantry-test/busybox:latest
COPY entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["sh"]
EOF
}

entrypoint_script() {
	cat <<'EOF'
#!/bin/sh
echo "entrypoint ran"
exec "$@"
EOF
}

web_dockerfile() {
	cat <<'EOF'
FROM gantry-test/busybox:latest
COPY www/ /www/
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
EOF
}

web_index() {
	echo "hello from gantry service"
}

workdir=""
cleanup() {
	if [[ -n "$workdir" ]]; then
		rm -rf "$workdir"
	fi
}
trap cleanup EXIT

ensure_workdir() {
	if [[ -z "$workdir" ]]; then
		workdir=$(mktemp -d "${TMPDIR:-/tmp}/gantry-testimages.XXXXXX")
	fi
}

build_busybox() {
	local hash=$1 ctx
	ensure_workdir
	ctx="$workdir/busybox"
	mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp" "$ctx/rootfs/root"
	chmod 1777 "$ctx/rootfs/tmp"
	cp "$BUSYBOX" "$ctx/rootfs/bin/busybox"
	local applet
	for applet in $("$BUSYBOX" --list); do
		if [[ "$applet" != busybox ]]; then
			ln -sf busybox "$ctx/rootfs/bin/$applet"
		fi
	done
	passwd_file >"$ctx/rootfs/etc/passwd"
	group_file >"$ctx/rootfs/etc/group"
	busybox_dockerfile >"$ctx/Dockerfile"
	build gantry-test/busybox:latest "$hash" "$ctx"
}

build_entrypoint() {
	local hash=$1 ctx
	ensure_workdir
	ctx="$workdir/entrypoint"
	mkdir -p "$ctx"
	entrypoint_script >"$ctx/entrypoint.sh"
	chmod 0755 "$ctx/entrypoint.sh"
	entrypoint_dockerfile >"$ctx/Dockerfile"
	build gantry-test/busybox-entrypoint:latest "$hash" "$ctx"
}

build_web() {
	local hash=$1 ctx
	ensure_workdir
	ctx="$workdir/web"
	mkdir -p "$ctx/www"
	web_index >"$ctx/www/index.html"
	chmod 0644 "$ctx/www/index.html"
	web_dockerfile >"$ctx/Dockerfile"
	build gantry-test/web:latest "$hash" "$ctx"
}

main() {
	if ! docker version >/dev/null 2>&1; then
		log "docker engine unreachable"
		exit 1
	fi
	ensure_busybox

	# Serialise concurrent runs (parallel test packages) when flock exists.
	if command -v flock >/dev/null 2>&1; then
		exec 9>"${TMPDIR:-/tmp}/gantry-testimages.lock"
		flock 9
	fi

	local bb_hash ep_hash web_hash
	bb_hash=$({
		echo "recipe $RECIPE_VERSION"
		sha256sum <"$BUSYBOX"
		"$BUSYBOX" --list
		busybox_dockerfile
		passwd_file
		group_file
	} | sha)
	ep_hash=$({
		echo "base $bb_hash"
		entrypoint_dockerfile
		entrypoint_script
	} | sha)
	web_hash=$({
		echo "base $bb_hash"
		web_dockerfile
		web_index
	} | sha)

	# Derived images are rebuilt when busybox is, since their hash includes it.
	if [[ $force -eq 1 || "$(current_hash gantry-test/busybox:latest)" != "$bb_hash" ]]; then
		build_busybox "$bb_hash"
	fi
	if [[ $force -eq 1 || "$(current_hash gantry-test/busybox-entrypoint:latest)" != "$ep_hash" ]]; then
		build_entrypoint "$ep_hash"
	fi
	if [[ $force -eq 1 || "$(current_hash gantry-test/web:latest)" != "$web_hash" ]]; then
		build_web "$web_hash"
	fi
}

main "$@"
