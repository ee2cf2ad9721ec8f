# shellcheck shell=bash
# Private lab network for record.sh: one network namespace per host, every
# host joined by a veth pair to one bridge that lives in its own namespace,
# and a router namespace that forwards only between the lab's own segments.
# Nothing here creates an interface, route or address in the root namespace.

NS_PREFIX=exfcap-
BRIDGE_NS=${NS_PREFIX}br

# Segments the router forwards between. Internal and perimeter networks are
# private ranges. The "internet" uses the documentation ranges of RFC 5737
# and RFC 3849, so no lab address can be mistaken for a real public one.
SEGMENTS_V4=(10.20.0.0/16 172.16.50.0/24 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24)
SEGMENTS_V6=(fd00:20::/64 2001:db8:51::/64 2001:db8:113::/64)
ROUTER_V4=(10.20.0.1/16 172.16.50.1/24 192.0.2.1/24 198.51.100.1/24 203.0.113.1/24)
ROUTER_V6=(fd00:20::1/64 2001:db8:51::1/64 2001:db8:113::1/64)
ROUTER_MAC=02:e5:00:00:00:01
ROUTER_LINK_LOCAL=fe80::1/64

# name  IPv4/prefix  IPv6/prefix or "-"  MAC (deterministic, locally administered)
HOST_TABLE="
dc1    10.20.0.2/16      -                   02:e5:00:00:00:02
cas1   10.20.0.10/16     fd00:20::10/64      02:e5:00:00:00:10
cas2   10.20.0.11/16     -                   02:e5:00:00:00:11
mbx1   10.20.0.20/16     -                   02:e5:00:00:00:20
srv1   10.20.0.30/16     -                   02:e5:00:00:00:30
dns1   10.20.0.53/16     -                   02:e5:00:00:00:53
ws1    10.20.0.100/16    -                   02:e5:00:00:01:00
edge1  172.16.50.5/24    -                   02:e5:00:00:50:05
proxy1 172.16.50.80/24   -                   02:e5:00:00:50:80
mxnet  192.0.2.25/24     -                   02:e5:00:00:02:25
mxorg  198.51.100.25/24  2001:db8:51::25/64  02:e5:00:00:51:25
roam   203.0.113.20/24   2001:db8:113::20/64 02:e5:00:00:13:20
resolv 203.0.113.53/24   -                   02:e5:00:00:13:53
scan   203.0.113.66/24   -                   02:e5:00:00:13:66
"

# Namespaces this run created, in creation order; cleanup deletes only these.
CREATED_NS=()

host_names() {
    awk 'NF { print $1 }' <<<"$HOST_TABLE"
}

host_field() { # host_field NAME COLUMN
    awk -v h="$1" -v c="$2" '$1 == h { print $c }' <<<"$HOST_TABLE"
}

host_ip4() { local a; a=$(host_field "$1" 2); echo "${a%/*}"; }
host_ip6() { local a; a=$(host_field "$1" 3); [[ $a == - ]] || echo "${a%/*}"; }

# The router's address on the segment that contains ADDRESS/PREFIX.
gateway_for() {
    local addr=$1 r
    if [[ $addr == *:* ]]; then
        for r in "${ROUTER_V6[@]}"; do
            if same_segment "$addr" "$r"; then echo "${r%/*}"; return; fi
        done
    else
        for r in "${ROUTER_V4[@]}"; do
            if same_segment "$addr" "$r"; then echo "${r%/*}"; return; fi
        done
    fi
    return 1
}

# same_segment ADDRESS[/PREFIX] NETWORK/PREFIX: ADDRESS lies in NETWORK.
# IPv6 prefixes must be multiples of 16 bits, which every lab segment is.
same_segment() {
    local addr=${1%/*} net=${2%/*} plen=${2#*/}
    if [[ $addr == *:* ]]; then
        [[ $net == *:* ]] || return 1
        local a n
        a=$(ip6_expand "$addr")
        n=$(ip6_expand "$net")
        [[ ${a:0:$((plen / 16 * 5))} == "${n:0:$((plen / 16 * 5))}" ]]
    else
        [[ $net != *:* ]] || return 1
        local mask=$(((0xffffffff << (32 - plen)) & 0xffffffff))
        (((($(ip4_to_int "$addr") & mask) == ($(ip4_to_int "$net") & mask))))
    fi
}

ip4_to_int() {
    local IFS=.
    # shellcheck disable=SC2086
    set -- $1
    echo $((($1 << 24) | ($2 << 16) | ($3 << 8) | $4))
}

# ip6_expand ADDRESS: eight groups of four hex digits, each followed by ':'.
ip6_expand() {
    local addr=$1 head tail out= g i n
    local -a hg=() tg=()
    if [[ $addr == *::* ]]; then
        head=${addr%%::*}
        tail=${addr#*::}
    else
        head=$addr
        tail=
    fi
    [[ -n $head ]] && IFS=: read -ra hg <<<"$head"
    [[ -n $tail ]] && IFS=: read -ra tg <<<"$tail"
    n=$((8 - ${#hg[@]} - ${#tg[@]}))
    for g in "${hg[@]}"; do out+=$(printf '%04x:' "0x$g"); done
    for ((i = 0; i < n; i++)); do out+='0000:'; done
    for g in "${tg[@]}"; do out+=$(printf '%04x:' "0x$g"); done
    echo "$out"
}

ns_exists() {
    ip netns list | awk '{ print $1 }' | grep -qx "$1"
}

add_ns() {
    local ns=$1
    if ns_exists "$ns"; then
        echo "error: network namespace $ns already exists; a previous run may have" \
            "been killed. Delete it with 'ip netns del $ns' after checking nothing uses it." >&2
        return 1
    fi
    ip netns add "$ns"
    CREATED_NS+=("$ns")

    # No router advertisements, no link-local addresses and no duplicate
    # address detection: every address and route is the one set below, and
    # IPv6 is usable as soon as the link is up.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.addr_gen_mode=1 \
        net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_redirects=0 net.ipv6.conf.all.accept_redirects=0 \
        net.ipv4.conf.default.accept_redirects=0 net.ipv4.conf.all.accept_redirects=0
    ip -n "$ns" link set lo up
}

# Plain frames on the wire: without this the kernel hands the bridge 64 KB
# TSO/GSO segments with unfinished checksums, which no real network carries.
plain_frames() {
    ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
}

attach_to_bridge() { # attach_to_bridge NS PORT-NAME MAC
    local ns=$1 port=$2 mac=$3
    ip -n "$BRIDGE_NS" link add "$port" type veth peer name eth0 netns "$ns"
    ip -n "$ns" link set eth0 address "$mac"
    ip -n "$BRIDGE_NS" link set "$port" master br0
    plain_frames "$BRIDGE_NS" "$port"
    plain_frames "$ns" eth0
    ip -n "$BRIDGE_NS" link set "$port" up
}

build_network() {
    local h ns a4 a6 mac seg gw6

    add_ns "$BRIDGE_NS"
    # The bridge namespace carries frames only: no addresses, no IPv6.
    ip netns exec "$BRIDGE_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1
    ip -n "$BRIDGE_NS" link add br0 type bridge stp_state 0 forward_delay 0 \
        mcast_snooping 0
    ip -n "$BRIDGE_NS" link set br0 up

    add_ns "${NS_PREFIX}rtr"
    attach_to_bridge "${NS_PREFIX}rtr" p-rtr "$ROUTER_MAC"
    for a4 in "${ROUTER_V4[@]}"; do ip -n "${NS_PREFIX}rtr" addr add "$a4" dev eth0; done
    for a6 in "${ROUTER_V6[@]}"; do ip -n "${NS_PREFIX}rtr" addr add "$a6" dev eth0 nodad; done
    # Linux sends a neighbour solicitation for a forwarded packet from a
    # link-local address only, so the router needs one.
    ip -n "${NS_PREFIX}rtr" addr add "$ROUTER_LINK_LOCAL" dev eth0 nodad
    # All segments share one bridge, so the router forwards out of the
    # interface a packet came in on; ICMP redirects would teach the hosts
    # to bypass it.
    ip netns exec "${NS_PREFIX}rtr" sysctl -qw net.ipv4.ip_forward=1 \
        net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.send_redirects=0 \
        net.ipv4.conf.default.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
    ip -n "${NS_PREFIX}rtr" link set eth0 up
    restrict_forwarding "${NS_PREFIX}rtr"

    for h in $(host_names); do
        ns=$NS_PREFIX$h
        a4=$(host_field "$h" 2)
        a6=$(host_field "$h" 3)
        mac=$(host_field "$h" 4)
        add_ns "$ns"
        attach_to_bridge "$ns" "p-$h" "$mac"
        ip -n "$ns" addr add "$a4" dev eth0
        [[ $a6 == - ]] || ip -n "$ns" addr add "$a6" dev eth0 nodad
        ip -n "$ns" link set eth0 up
        for seg in "${SEGMENTS_V4[@]}"; do
            same_segment "$a4" "$seg" && continue
            ip -n "$ns" route add "$seg" via "$(gateway_for "$a4")" proto static
        done
        if [[ $a6 != - ]]; then
            gw6=$(gateway_for "$a6")
            for seg in "${SEGMENTS_V6[@]}"; do
                same_segment "$a6" "$seg" && continue
                ip -n "$ns" -6 route add "$seg" via "$gw6" proto static
            done
        fi
    done
}

# The router forwards a packet only when both ends are in the lab segments.
restrict_forwarding() {
    local ns=$1 v4 v6
    v4=$(IFS=,; echo "${SEGMENTS_V4[*]}")
    v6=$(IFS=,; echo "${SEGMENTS_V6[*]}")
    ip netns exec "$ns" nft -f - <<NFT
table inet exfcap {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ip saddr { $v4 } ip daddr { $v4 } accept
        ip6 saddr { $v6 } ip6 daddr { $v6 } accept
    }
    # IPv6 has no send_redirects switch; the hosts ignore redirects anyway.
    chain output {
        type filter hook output priority 0; policy accept;
        icmpv6 type nd-redirect drop
    }
}
NFT
}

# Refuse to go on unless every namespace contains exactly what build_network
# made: one eth0 (the bridge ports in the bridge namespace), the addresses
# from HOST_TABLE, connected routes and the static routes to the other lab
# segments, nothing else, and in particular no default route.
check_network() {
    local ns h bad=0 line prefix a4 a6 seg expected_static

    for ns in "${CREATED_NS[@]}"; do
        while read -r line; do
            [[ -z $line ]] && continue
            [[ $line == *"table local"* ]] && continue
            prefix=${line%% *}
            if [[ $prefix == default || $prefix == 0.0.0.0/0 || $prefix == ::/0 ]]; then
                echo "check: $ns has a default route: $line" >&2; bad=1; continue
            fi
            if [[ $line == *"proto kernel"* ]]; then
                case $prefix in
                    ::1) continue ;;
                esac
                allowed_connected "$ns" "$prefix" || {
                    echo "check: $ns has an unexpected connected route: $line" >&2; bad=1; }
                continue
            fi
            if [[ $line == *"proto static"* ]]; then
                allowed_static "$ns" "$line" || {
                    echo "check: $ns has an unexpected static route: $line" >&2; bad=1; }
                continue
            fi
            echo "check: $ns has a route this script did not create: $line" >&2
            bad=1
        done < <(ip -n "$ns" -4 route show table all; ip -n "$ns" -6 route show table all)

        while read -r line; do
            case $line in
                lo|eth0) ;;
                br0|p-*) [[ $ns == "$BRIDGE_NS" ]] || { echo "check: $ns has interface $line" >&2; bad=1; } ;;
                *) echo "check: $ns has an unexpected interface $line" >&2; bad=1 ;;
            esac
        done < <(ip -n "$ns" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')
    done

    if [[ -n $(ip -n "$BRIDGE_NS" -o addr show | grep -v ' lo ') ]]; then
        echo "check: the bridge namespace has addresses" >&2; bad=1
    fi
    return $bad
}

allowed_connected() { # allowed_connected NS PREFIX
    local ns=$1 prefix=$2 seg a
    [[ $ns == "${NS_PREFIX}rtr" && $prefix == fe80::/64 ]] && return 0
    for seg in "${SEGMENTS_V4[@]}" "${SEGMENTS_V6[@]}"; do
        [[ $prefix == "$seg" ]] || continue
        # The router is connected to every segment; a host only to its own.
        [[ $ns == "${NS_PREFIX}rtr" ]] && return 0
        for a in "$(host_field "${ns#"$NS_PREFIX"}" 2)" "$(host_field "${ns#"$NS_PREFIX"}" 3)"; do
            [[ $a == - || -z $a ]] && continue
            same_segment "$a" "$seg" && return 0
        done
    done
    return 1
}

allowed_static() { # allowed_static NS ROUTE-LINE
    local ns=$1 line=$2 h prefix via seg a
    [[ $ns == "${NS_PREFIX}rtr" || $ns == "$BRIDGE_NS" ]] && return 1
    h=${ns#"$NS_PREFIX"}
    prefix=${line%% *}
    via=$(awk '{ for (i = 1; i < NF; i++) if ($i == "via") print $(i + 1) }' <<<"$line")
    for seg in "${SEGMENTS_V4[@]}"; do
        a=$(host_field "$h" 2)
        [[ $prefix == "$seg" && $via == "$(gateway_for "$a")" ]] && return 0
    done
    a=$(host_field "$h" 3)
    [[ $a == - ]] && return 1
    for seg in "${SEGMENTS_V6[@]}"; do
        [[ $prefix == "$seg" && $via == "$(gateway_for "$a")" ]] && return 0
    done
    return 1
}

# Delete the namespaces this run created, last first.
teardown_network() {
    local i
    for ((i = ${#CREATED_NS[@]} - 1; i >= 0; i--)); do
        ip netns del "${CREATED_NS[i]}" 2>/dev/null || true
    done
    CREATED_NS=()
}
