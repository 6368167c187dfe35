# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/build-release and scripts/demo.
# Source it; it does nothing by itself.
#
# The scripts run on fresh machines (CI: a clean clone, CI=true, no stdin),
# so everything they need is checked and installed here rather than assumed:
# Debian packages, rustup targets and components, cargo tools, zig.

# The repository root, whatever directory the script was started from.
LOWSPACE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LOWSPACE_ROOT

# Never wait for a question nobody can answer.
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------- logging

_lowspace_script="$(basename "${0:-lowspace}")"

# Colour only for a person at a terminal.
if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
    _c_dim=$'\e[2m' _c_bold=$'\e[1m' _c_red=$'\e[31m' _c_yellow=$'\e[33m' _c_green=$'\e[32m' _c_off=$'\e[0m'
else
    _c_dim='' _c_bold='' _c_red='' _c_yellow='' _c_green='' _c_off=''
fi

# log MESSAGE...: a progress line on standard error.
log() { printf '%s[%s %s]%s %s\n' "$_c_dim" "$_lowspace_script" "$(date +%H:%M:%S)" "$_c_off" "$*" >&2; }
# section TITLE: a visible header between the big steps.
section() { printf '\n%s==> %s%s\n' "$_c_bold" "$*" "$_c_off" >&2; }
ok() { printf '%s[%s] ok:%s %s\n' "$_c_green" "$_lowspace_script" "$_c_off" "$*" >&2; }
warn() { printf '%s[%s] warning:%s %s\n' "$_c_yellow" "$_lowspace_script" "$_c_off" "$*" >&2; }
# die MESSAGE...: says why and stops the script.
die() {
    printf '%s[%s] error:%s %s\n' "$_c_red" "$_lowspace_script" "$_c_off" "$*" >&2
    exit 1
}

# format_seconds N: "12m34s" / "45s".
# free_port: a TCP port on 127.0.0.1 nothing listens on now.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

format_seconds() {
    local s=$1
    if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# ---------------------------------------------------------------- root

# as_root CMD...: runs CMD as root (directly, or through sudo without a
# password prompt, since there is nobody to type it).
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root to run: $* (not root and no sudo)"
    fi
}

# ---------------------------------------------------------------- apt

_lowspace_apt_updated=""

# apt_installed PKG: true when the Debian package is installed.
apt_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# ensure_apt PKG...: installs the packages that are missing, running
# `apt-get update` at most once per script run.
ensure_apt() {
    local missing=() pkg
    for pkg in "$@"; do
        apt_installed "$pkg" || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "missing packages ${missing[*]} and this is not a Debian-like system (no apt-get); install them by hand"
    if [[ -z $_lowspace_apt_updated ]]; then
        log "apt-get update (to install ${missing[*]})"
        as_root apt-get update -q >&2 || die "apt-get update failed"
        _lowspace_apt_updated=1
    fi
    # The tests start their own rtorrent, sshd, nginx... on loopback ports;
    # a system service that apt starts (nginx on port 80) is not wanted, so
    # a policy-rc.d that refuses every start is in place while apt runs.
    local policy=/usr/sbin/policy-rc.d placed=""
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# placed by lowspace scripts while installing test packages\nexit 101\n' |
            as_root tee "$policy" >/dev/null && as_root chmod +x "$policy" && placed=1
    fi
    log "apt-get install ${missing[*]}"
    local status=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        status=$?
    [[ -n $placed ]] && as_root rm -f "$policy"
    ((status == 0)) || die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------- rust

# ensure_rustup_toolchain NAME: e.g. nightly (for cargo-fuzz).
ensure_rustup_toolchain() {
    local name=$1
    command -v rustup >/dev/null 2>&1 || die "rustup is not installed; see https://rustup.rs"
    if ! rustup run "$name" rustc --version >/dev/null 2>&1; then
        log "rustup toolchain install $name"
        rustup toolchain install "$name" --profile minimal >&2 || die "cannot install the $name toolchain"
    fi
}

# ensure_rustup_target TARGET [TOOLCHAIN]: adds a target's prebuilt standard
# library. Returns non-zero (without stopping) when rustup cannot provide it,
# so callers can fall back to building std from source.
ensure_rustup_target() {
    local target=$1 toolchain=${2:-}
    local plus=()
    [[ -n $toolchain ]] && plus=("+$toolchain")
    if rustup "${plus[@]}" target list --installed 2>/dev/null | grep -qx "$target"; then
        return 0
    fi
    log "rustup target add $target ${toolchain:+(toolchain $toolchain)}"
    rustup "${plus[@]}" target add "$target" >/dev/null 2>&1
}

# ensure_rustup_component COMPONENT [TOOLCHAIN]: clippy, rustfmt, rust-src...
ensure_rustup_component() {
    local component=$1 toolchain=${2:-}
    local plus=()
    [[ -n $toolchain ]] && plus=("+$toolchain")
    # Installed components are listed with the host triple (clippy-x86_64-...),
    # except rust-src, which has none.
    local host
    host="$(rustc "${plus[@]}" -vV 2>/dev/null | sed -n 's/^host: //p')"
    if rustup "${plus[@]}" component list --installed 2>/dev/null | grep -qxE "${component}(-${host})?"; then
        return 0
    fi
    log "rustup component add $component ${toolchain:+(toolchain $toolchain)}"
    rustup "${plus[@]}" component add "$component" >&2 || die "cannot add the rustup component $component"
}

# ensure_cargo_tool BINARY [CRATE]: `cargo install --locked CRATE` when
# BINARY is not on PATH. These builds take minutes; they happen once.
ensure_cargo_tool() {
    local binary=$1 crate=${2:-$1}
    command -v "$binary" >/dev/null 2>&1 && return 0
    log "cargo install $crate (once; this takes a few minutes)"
    # Its own target directory: the project's may be a shared CARGO_TARGET_DIR.
    CARGO_TARGET_DIR="${TMPDIR:-/tmp}/lowspace-cargo-install" cargo install --locked "$crate" >&2 ||
        die "cargo install $crate failed"
    command -v "$binary" >/dev/null 2>&1 ||
        die "$binary was installed but is not on PATH; add ~/.cargo/bin to PATH"
}

# ---------------------------------------------------------------- zig

# Where the scripts keep small helper programs (the zig shim).
LOWSPACE_TOOLS_BIN="${XDG_CACHE_HOME:-$HOME/.cache}/lowspace/bin"

# ensure_zig: zig is the C cross compiler and linker for the static ARM
# builds (ring, inside rustls, has C and assembly). It comes from PyPI as the
# `ziglang` package; cargo-zigbuild can run it as `python3 -m ziglang`, and
# a `zig` shim on PATH makes it usable by hand too.
ensure_zig() {
    if command -v zig >/dev/null 2>&1 && zig version >/dev/null 2>&1; then
        return 0
    fi
    command -v python3 >/dev/null 2>&1 || ensure_apt python3 python3-pip
    if ! python3 -m ziglang version >/dev/null 2>&1; then
        log "pip install ziglang"
        python3 -m pip install --quiet ziglang >&2 ||
            python3 -m pip install --quiet --user --break-system-packages ziglang >&2 ||
            die "pip install ziglang failed"
    fi
    local python
    python="$(python3 -c 'import sys; print(sys.executable)')" || die "cannot find the python3 interpreter"
    mkdir -p "$LOWSPACE_TOOLS_BIN"
    printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$python" >"$LOWSPACE_TOOLS_BIN/zig"
    chmod +x "$LOWSPACE_TOOLS_BIN/zig"
    case ":$PATH:" in
        *":$LOWSPACE_TOOLS_BIN:"*) ;;
        *) export PATH="$LOWSPACE_TOOLS_BIN:$PATH" ;;
    esac
    local version
    version="$(zig version 2>/dev/null)" || die "zig does not run (tried $LOWSPACE_TOOLS_BIN/zig -> $python -m ziglang)"
    log "zig $version ($LOWSPACE_TOOLS_BIN/zig)"
}
