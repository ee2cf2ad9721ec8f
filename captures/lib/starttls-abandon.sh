#!/usr/bin/env bash
# starttls-abandon.sh smtp|imap|pop3 ADDRESS PORT [EHLO-NAME]
#
# A client that asks for STARTTLS (STLS in POP3), reads the server's consent
# and then closes the connection without a TLS handshake: the
# "STARTTLS accepted, no TLS followed" risk case. Bash's /dev/tcp gives a
# plain socket, so nothing else is sent.
set -euo pipefail

proto=$1 addr=$2 port=$3 ehlo=${4:-client.example.org}

exec 3<>"/dev/tcp/$addr/$port"

# read_until PATTERN: print server lines until one matches PATTERN (ERE).
read_until() {
    local line
    while IFS= read -r -t 5 line <&3; do
        line=${line%$'\r'}
        printf 'S: %s\n' "$line"
        [[ $line =~ $1 ]] && return 0
    done
    echo "error: the server closed or went silent before a line matching '$1'" >&2
    return 1
}

send() {
    printf 'C: %s\n' "$1"
    printf '%s\r\n' "$1" >&3
}

case $proto in
    smtp)
        read_until '^220 '
        send "EHLO $ehlo"
        read_until '^250 '
        send STARTTLS
        read_until '^220 '
        ;;
    imap)
        read_until '^\* OK'
        send 'a1 CAPABILITY'
        read_until '^a1 '
        send 'a2 STARTTLS'
        read_until '^a2 OK'
        ;;
    pop3)
        read_until '^\+OK'
        send CAPA
        read_until '^\.$'
        send STLS
        read_until '^\+OK'
        ;;
    *)
        echo "error: unknown protocol '$proto'; use smtp, imap or pop3" >&2
        exit 2
        ;;
esac

# The server now waits for a ClientHello that never comes.
exec 3>&- 3<&-
echo "closed without a TLS handshake"
