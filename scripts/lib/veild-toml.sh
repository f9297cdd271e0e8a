# shellcheck shell=bash
# The text of a default /etc/veil/veild.toml, in one place for scripts/install (which finds
# the core and the host on the machine) and scripts/package (the .deb's conffile: the
# official Xray installer's paths, and a host left empty for the operator). Source it:
#
#   veild_toml FLAVOR CORE_CONFIG HOST WRITER   # prints the file
#
# FLAVOR is xray or v2fly (it picks the test command); WRITER says in the first comment
# what wrote the file and what happens to an edit.

veild_toml() {
  local flavor="$1" core="$2" host="$3" writer="$4" test
  case "$flavor" in
    xray) test='["xray", "run", "-test", "-config", "{config}"]' ;;
    v2fly) test='["v2ray", "-test", "-config", "{config}"]' ;;
    *) echo "veild_toml: unknown flavor '$flavor' (xray or v2fly)" >&2; return 2 ;;
  esac
  cat <<TOML
# veild's config (README: "Configuration").
# $writer
# Set [public] host to the name or address phones dial.
socket = "/run/veil/veil.sock"
database = "/var/lib/veil/veil.db"
socket_group = "veil"

[core]
flavor = "$flavor"
api = "127.0.0.1:10085"
inbound_tag = "vless-in"
config = "$core"
test_command = $test

[public]
host = "$host"
TOML
}
