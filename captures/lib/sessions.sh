# shellcheck shell=bash
# The scripted sessions of each capture, and the flows each one is expected
# to produce. `session` runs one client command in a lab namespace. Every
# `flow` line after it appends one expected flow record to the capture's
# .expected.tsv, in the order the flows start.

EXPECTED_HEADER="session	what	client	server	port	transport	app	starttls	conn_state	verdict	rule	risks	why"

CURRENT_SESSION=
CURRENT_WHAT=
CURRENT_EXPECTED=

# session ID CLIENT-HOST DESCRIPTION [--may-fail] -- COMMAND...
session() {
    local id=$1 host=$2 what=$3 may_fail=0 status=0
    shift 3
    if [[ $1 == --may-fail ]]; then may_fail=1; shift; fi
    [[ $1 == -- ]] && shift
    CURRENT_SESSION=$id
    CURRENT_WHAT=$what
    printf '  %-4s %-7s %s\n' "$id" "$host" "$what"
    {
        printf '# %s on %s: %s\n# %s\n' "$id" "$host" "$what" "$*"
        in_ns "$host" "$@" </dev/null
    } >"$T/logs/sessions/$id.log" 2>&1 || status=$?
    if ((status != 0 && may_fail == 0)); then
        echo "error: session $id failed with status $status; see $T/logs/sessions/$id.log" >&2
        tail -n 20 "$T/logs/sessions/$id.log" >&2
        return 1
    fi
    # Let the last ACK of the closing handshake cross the bridge before the
    # next session starts, so flows never interleave.
    sleep 0.3
}

# flow CLIENT SERVER PORT TRANSPORT APP STARTTLS CONN VERDICT RULE RISKS WHY
#
# CONN is how the TCP connection ends, as the clients really end it: SF when
# both sides sent FIN before any reset, RST otherwise, REJ when the SYN was
# refused, "-" for UDP.
#
# Many clients here (swaks, curl for mail, openssl s_client, ldapsearch over
# TLS, curl through a proxy) close their socket while the server's TLS
# close_notify or last reply may still be in flight. When it arrives before
# the client's FIN, the kernel resets instead of closing (RST); when after,
# both FINs are already out and the reset only responds to a late segment
# (SF).
# Which one happens is a race, so those rows expect CLOSE_RACE, and
# verify.py --resolve writes the outcome of the committed recording in its
# place.
CLOSE_RACE="SF|RST"
flow() {
    local IFS=$'\t'
    printf '%s\t%s\t%s\n' "$CURRENT_SESSION" "$CURRENT_WHAT" "$*" >>"$CURRENT_EXPECTED"
}

# ---------------------------------------------------------------- clients

client_tools() {
    CA=$T/pki/ca.crt
    BODY="This message was sent by the exflow lab recorder."
    SWAKS=(swaks --timeout 10 --tls-ca-path "$CA" --header "Subject: exflow lab" --body "$BODY")
    CURL=(curl -q -sS --max-time 10 --cacert "$CA" -o /dev/null -D - -w 'status %{http_code}\n')
    DIG=(dig +time=2 +tries=1)
    LDAPSEARCH=(env HOME="$T/home" LDAPCONF="$T/etc/ldap.conf" ldapsearch -x -LLL -o nettimeout=5)
    SSH=(ssh -F /dev/null -4 -i "$T/ssh/client" -o UserKnownHostsFile=/dev/null
        -o StrictHostKeyChecking=no -o BatchMode=yes -o ConnectTimeout=5)
    ABANDON=$LIB/starttls-abandon.sh
    UA_OUTLOOK="Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5266; Pro)"
    UA_BROWSER="Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0"
    UA_PHONE="Apple-iPhone9C1/1602.92"
    AUTOD_REQ='<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@example.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>'
    EWS_REQ='<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder></soap:Body></soap:Envelope>'
    OAB_PATH=/OAB/b2f8b8d5-9a3c-4c1e-9d4e-4f1f1a2b3c4d/oab.xml
    MAPI_PATH="/mapi/emsmdb/?MailboxId=8d2e1f0a-3c4b-4d5e-9f60-7a8b9c0d1e2f@example.com"
    RPC_PATH="/rpc/rpcproxy.dll?mbx1.corp.example.com:6001"
    write_rpc_bodies
    printf 'TLS_CACERT %s\nTLS_REQCERT demand\n' "$CA" >"$T/etc/ldap.conf"
    mkdir -p "$T/home"
}

# Request bodies for Outlook Anywhere and MAPI over HTTP: an RTS CONN/B1
# and CONN/A1 PDU header (DCE/RPC 5.0, PTYPE 20) and a MAPI Connect request
# stub, each padded to the length the client announces.
write_rpc_bodies() {
    {
        printf '\x05\x00\x14\x03\x10\x00\x00\x00\x68\x00\x00\x00\x00\x00\x00\x00'
        head -c 88 /dev/zero
    } >"$T/rpc-in.bin"
    {
        printf '\x05\x00\x14\x03\x10\x00\x00\x00\x4c\x00\x00\x00\x00\x00\x00\x00'
        head -c 60 /dev/zero
    } >"$T/rpc-out.bin"
    {
        printf '/o=Example/ou=Exchange Administrative Group/cn=Recipients/cn=alice\x00'
        head -c 16 /dev/zero
    } >"$T/mapi-connect.bin"
}

# smtp_args SERVER-NAME PORT EHLO FROM TO: the common swaks arguments.
smtp_args() {
    SMTP=("${SWAKS[@]}" --server "$1" --port "$2" --ehlo "$3" --from "$4" --to "$5")
}

# ------------------------------------------------- exchange-no-edge.pcap

sessions_no_edge() {
    local cas=10.20.0.10 cas6=fd00:20::10 cas2=10.20.0.11 mbx=10.20.0.20
    local dc=10.20.0.2 dns=10.20.0.53 ws=10.20.0.100 srv=10.20.0.30
    local mxnet=192.0.2.25 mxorg=198.51.100.25 mxorg6=2001:db8:51::25
    local roam=203.0.113.20 roam6=2001:db8:113::20 resolv=203.0.113.53 scan=203.0.113.66

    # Mail flow without an Edge.
    smtp_args mail.example.com 25 mail.example.org carol@example.org alice@example.com
    session N01 mxorg "internet MTA delivers to the CAS, STARTTLS" -- \
        "${SMTP[@]}" -4 --tls --tls-verify
    flow $mxorg $cas 25 tcp smtp true "$CLOSE_RACE" allowed mail.inbound - "internet to client_access on 25"
    session N02 mxorg "the same over IPv6" -- \
        "${SMTP[@]}" -6 --tls --tls-verify
    flow $mxorg6 $cas6 25 tcp smtp true "$CLOSE_RACE" allowed mail.inbound - "internet to client_access on 25, IPv6"
    session N03 mxorg "internet MTA ignores the offered STARTTLS" -- \
        "${SMTP[@]}" -4
    flow $mxorg $cas 25 tcp smtp false SF allowed mail.inbound starttls_not_used "STARTTLS offered in EHLO, never issued"
    session N04 mxorg "STARTTLS accepted, then the client closes" -- \
        "$ABANDON" smtp $cas 25 mail.example.org
    flow $mxorg $cas 25 tcp smtp false SF allowed mail.inbound starttls_failed "220 to STARTTLS, no TLS handshake followed"

    smtp_args mx.example.net 25 mbx1.corp.example.com alice@example.com dave@example.net
    session N05 mbx1 "Mailbox sends to an internet MX" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $mbx $mxnet 25 tcp smtp true "$CLOSE_RACE" allowed mail.outbound - "mailbox to internet on 25"
    smtp_args mx.example.net 25 cas1.corp.example.com alice@example.com dave@example.net
    session N06 cas1 "CAS proxies outbound mail (front end proxy)" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $cas $mxnet 25 tcp smtp true "$CLOSE_RACE" allowed mail.outbound-proxy - "client_access to internet on 25, features.front_end_proxy"

    # Client submission.
    smtp_args mail.example.com 587 laptop.example.org alice@example.com dave@example.net
    session N07 roam "roaming user submits on 587, STARTTLS and AUTH" -- \
        "${SMTP[@]}" -4 --tls --tls-verify --auth LOGIN --auth-user "$MAIL_USER" --auth-password "$MAIL_PASSWORD"
    flow $roam $cas 587 tcp smtp true "$CLOSE_RACE" allowed client.submission - "authenticated submission"
    smtp_args mail.example.com 587 ws1.corp.example.com alice@example.com dave@example.net
    session N08 ws1 "internal client authenticates on 587 without STARTTLS" -- \
        "${SMTP[@]}" -4 --auth PLAIN --auth-user "$MAIL_USER" --auth-password "$MAIL_PASSWORD"
    flow $ws $cas 587 tcp smtp false SF allowed client.submission "cleartext_auth,starttls_not_used" "AUTH PLAIN in clear; STARTTLS offered, never issued"

    # Web clients over TLS (the path is inside TLS: service not visible).
    session N09 roam "browser opens OWA over HTTPS" -- \
        "${CURL[@]}" -4 -A "$UA_BROWSER" https://mail.example.com/owa/
    flow $roam $cas 443 tcp tls false SF allowed client.https - "HTTPS to client_access"
    session N10 roam "Outlook posts an Autodiscover request" -- \
        "${CURL[@]}" -4 -A "$UA_OUTLOOK" -H 'Content-Type: text/xml' --data-binary "$AUTOD_REQ" \
        https://autodiscover.example.com/autodiscover/autodiscover.xml
    flow $roam $cas 443 tcp tls false SF allowed client.https - "HTTPS to client_access"
    session N11 roam "Outlook calls EWS GetFolder" -- \
        "${CURL[@]}" -4 -A "$UA_OUTLOOK" -H 'Content-Type: text/xml; charset=utf-8' --data-binary "$EWS_REQ" \
        https://mail.example.com/EWS/Exchange.asmx
    flow $roam $cas 443 tcp tls false SF allowed client.https - "HTTPS to client_access"
    session N12 roam "phone sends ActiveSync OPTIONS" -- \
        "${CURL[@]}" -4 -A "$UA_PHONE" -X OPTIONS -H 'MS-ASProtocolVersion: 14.1' \
        https://mail.example.com/Microsoft-Server-ActiveSync
    flow $roam $cas 443 tcp tls false SF allowed client.https - "HTTPS to client_access"
    session N13 roam "Outlook opens the RPC_IN_DATA channel" -- \
        "${CURL[@]}" -4 -A MSRPC -X RPC_IN_DATA -H 'Content-Type: application/rpc' \
        --data-binary "@$T/rpc-in.bin" "https://mail.example.com$RPC_PATH"
    flow $roam $cas 443 tcp tls false SF allowed client.https - "HTTPS to client_access"
    session N14 roam "the same user over IPv6" -- \
        "${CURL[@]}" -6 -A "$UA_BROWSER" https://mail.example.com/owa/
    flow $roam6 $cas6 443 tcp tls false SF allowed client.https - "HTTPS to client_access, IPv6"
    session N15 ws1 "internal Outlook, MAPI over HTTP over TLS" -- \
        "${CURL[@]}" -4 -A "$UA_OUTLOOK" -H 'Content-Type: application/mapi-http' -H 'X-RequestType: Connect' \
        --data-binary "@$T/mapi-connect.bin" "https://mail.example.com$MAPI_PATH"
    flow $ws $cas 443 tcp tls false SF allowed client.https - "HTTPS to client_access"

    # Web clients in clear on 80: one flow per Exchange service.
    session N16 roam "browser asks for OWA on 80, redirected" -- \
        "${CURL[@]}" -4 -A "$UA_BROWSER" http://mail.example.com/owa/
    flow $roam $cas 80 tcp http false SF allowed client.http - "HTTP to client_access; service owa, 301"
    session N17 ws1 "Autodiscover GET on 80 (redirect method)" -- \
        "${CURL[@]}" -4 -A "$UA_OUTLOOK" http://autodiscover.example.com/autodiscover/autodiscover.xml
    flow $ws $cas 80 tcp http false SF allowed client.http - "service autodiscover, 302"
    session N18 ws1 "EWS on 80" -- \
        "${CURL[@]}" -4 -A "$UA_OUTLOOK" -H 'Content-Type: text/xml; charset=utf-8' --data-binary "$EWS_REQ" \
        http://mail.example.com/EWS/Exchange.asmx
    flow $ws $cas 80 tcp http false SF allowed client.http - "service ews, 200"
    session N19 ws1 "ActiveSync OPTIONS on 80" -- \
        "${CURL[@]}" -4 -A "$UA_PHONE" -X OPTIONS http://mail.example.com/Microsoft-Server-ActiveSync
    flow $ws $cas 80 tcp http false SF allowed client.http - "service activesync, 200"
    session N20 ws1 "offline address book download on 80" -- \
        "${CURL[@]}" -4 -A "$UA_OUTLOOK" "http://mail.example.com$OAB_PATH"
    flow $ws $cas 80 tcp http false SF allowed client.http - "service oab, 200"
    session N21 ws1 "ECP on 80, redirected" -- \
        "${CURL[@]}" -4 -A "$UA_BROWSER" http://mail.example.com/ecp/
    flow $ws $cas 80 tcp http false SF allowed client.http - "service ecp, 301"
    session N22 ws1 "MAPI over HTTP Connect on 80" -- \
        "${CURL[@]}" -4 -A "$UA_OUTLOOK" -H 'Content-Type: application/mapi-http' -H 'X-RequestType: Connect' \
        --data-binary "@$T/mapi-connect.bin" "http://mail.example.com$MAPI_PATH"
    flow $ws $cas 80 tcp http false SF allowed client.http - "service mapi, 200"
    session N23 ws1 "Outlook Anywhere RPC_IN_DATA on 80" -- \
        "${CURL[@]}" -4 -A MSRPC -X RPC_IN_DATA -H 'Content-Type: application/rpc' \
        --data-binary "@$T/rpc-in.bin" "http://mail.example.com$RPC_PATH"
    flow $ws $cas 80 tcp http false SF allowed client.http - "service rpc, method RPC_IN_DATA, 200"
    session N24 ws1 "Outlook Anywhere RPC_OUT_DATA on 80" -- \
        "${CURL[@]}" -4 -A MSRPC -X RPC_OUT_DATA -H 'Content-Type: application/rpc' \
        --data-binary "@$T/rpc-out.bin" "http://mail.example.com$RPC_PATH"
    flow $ws $cas 80 tcp http false SF allowed client.http - "service rpc, method RPC_OUT_DATA, 200"

    # Name resolution.
    session N25 cas1 "CAS looks up the MX of example.net" -- "${DIG[@]}" @$dns example.net MX
    flow $cas $dns 53 udp dns false SF allowed mail.dns - "client_access to dns"
    session N26 mbx1 "Mailbox resolves the MX host" -- "${DIG[@]}" @$dns mx.example.net A
    flow $mbx $dns 53 udp dns false SF allowed mail.dns - "mailbox to dns"
    session N27 cas1 "CAS queries over TCP" -- "${DIG[@]}" +tcp @$dns mail.example.org A
    flow $cas $dns 53 tcp dns false SF allowed mail.dns - "client_access to dns over TCP"

    # Between Exchange servers and the domain controller.
    session N28 cas1 "CAS searches the directory (LDAP 389)" -- \
        "${LDAPSEARCH[@]}" -H ldap://dc1.corp.example.com -b dc=corp,dc=example,dc=com '(mail=alice@example.com)' cn mail
    flow $cas $dc 389 tcp ldap false SF allowed internal.unrestricted - "client_access to domain_controller, any port"
    session N29 mbx1 "Mailbox searches the global catalog (3268)" -- \
        "${LDAPSEARCH[@]}" -H ldap://dc1.corp.example.com:3268 -b dc=corp,dc=example,dc=com '(uid=bob)' mail
    flow $mbx $dc 3268 tcp ldap false SF allowed internal.unrestricted - "mailbox to domain_controller, any port"
    session N30 cas1 "CAS proxies OWA to the Mailbox back end (444)" -- \
        "${CURL[@]}" -4 https://mbx1.corp.example.com:444/owa/
    flow $cas $mbx 444 tcp tls false SF allowed internal.unrestricted - "client_access to mailbox, any port"
    smtp_args mbx1.corp.example.com 25 cas1.corp.example.com carol@example.org alice@example.com
    session N31 cas1 "CAS front end relays inbound mail to the Mailbox" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $cas $mbx 25 tcp smtp true "$CLOSE_RACE" allowed internal.unrestricted - "client_access to mailbox, any port"
    smtp_args mail.example.com 2525 mbx1.corp.example.com alice@example.com bob@example.com
    session N32 mbx1 "Mailbox to CAS on 2525" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $mbx $cas 2525 tcp smtp true "$CLOSE_RACE" allowed internal.unrestricted - "mailbox to client_access, any port"
    session N33 dc1 "domain controller fetches OWA" -- "${CURL[@]}" -4 https://mail.example.com/owa/
    flow $dc $cas 443 tcp tls false SF allowed client.https - "client rows come first: client.https, not internal.unrestricted"

    # Unexpected paths.
    session N34 ws1 "IMAP to the CAS while IMAP4 is off" -- \
        curl -q -sS --max-time 10 --cacert "$CA" -4 --ssl-reqd -u "$MAIL_USER:$MAIL_PASSWORD" imap://mail.example.com/
    flow $ws $cas 143 tcp imap true "$CLOSE_RACE" unexpected - - "client.imap: features.imap4 is off"
    session N35 roam "POP3S to the CAS while POP3 is off" -- \
        curl -q -sS --max-time 10 --cacert "$CA" -4 -u "$MAIL_USER:$MAIL_PASSWORD" pop3s://mail.example.com/
    flow $roam $cas 995 tcp tls false "$CLOSE_RACE" unexpected - - "client.pop3s: features.pop3 is off"
    smtp_args mail.example.com 2525 mail.example.org carol@example.org alice@example.com
    session N36 mxorg "internet MTA uses SMTP on 2525" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $mxorg $cas 2525 tcp smtp true "$CLOSE_RACE" unexpected - - "mail.inbound: wrong port 2525"
    session N37 scan "SSH spoken on 443 of a Client Access server" --may-fail -- \
        "${SSH[@]}" -p 443 nobody@cas2.corp.example.com true
    flow $scan $cas2 443 tcp ssh false SF unexpected - - "client.https: SSH where TLS is expected"
    session N38 mbx1 "Mailbox asks an internet resolver" -- "${DIG[@]}" @$resolv example.net MX
    flow $mbx $resolv 53 udp dns false SF unexpected - - "mail.dns: server is not a site dns"
    smtp_args mx.example.net 25 ws1.corp.example.com alice@example.com dave@example.net
    session N39 ws1 "internal client sends straight to an internet MX" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $ws $mxnet 25 tcp smtp true "$CLOSE_RACE" unexpected - - "mail bypass: internal to internet SMTP, no Exchange server"
    session N40 roam "internet client reads POP3 from an internal non-Exchange host" -- \
        curl -q -sS --max-time 10 --cacert "$CA" -4 --ssl-reqd -u "$MAIL_USER:$MAIL_PASSWORD" pop3://srv1.corp.example.com/
    flow $roam $srv 110 tcp pop3 true "$CLOSE_RACE" unexpected - - "mail bypass: POP3 from internet to internal"
    session N41 scan "RDP probe to the CAS, refused" --may-fail -- \
        bash -c "exec 3<>/dev/tcp/$cas/3389"
    flow $scan $cas 3389 tcp none false REJ unexpected - - "no row for 3389 on client_access"

    # Not Exchange paths.
    session N42 ws1 "workstation resolves the OWA name" -- "${DIG[@]}" @$dns mail.example.com A
    flow $ws $dns 53 udp dns false SF out_of_scope - - "no Exchange endpoint"
    session N43 scan "internet host queries the domain controller" -- \
        "${LDAPSEARCH[@]}" -H ldap://dc1.corp.example.com -s base -b '' '(objectClass=*)' namingContexts
    flow $scan $dc 389 tcp ldap false SF out_of_scope - - "no Exchange endpoint, not a mail port"
}

# ---------------------------------------------------- exchange-edge.pcap

sessions_edge() {
    local cas=10.20.0.10 mbx=10.20.0.20 dc=10.20.0.2 dns=10.20.0.53 ws=10.20.0.100
    local edge=172.16.50.5 proxy=172.16.50.80 mxnet=192.0.2.25 mxorg=198.51.100.25
    local roam=203.0.113.20 scan=203.0.113.66

    smtp_args edge1.example.com 25 mail.example.org carol@example.org alice@example.com
    session E01 mxorg "internet MTA delivers to the Edge" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $mxorg $edge 25 tcp smtp true "$CLOSE_RACE" allowed edge.inbound - "internet to edge_transport on 25"
    smtp_args mbx1.corp.example.com 25 edge1.example.com carol@example.org alice@example.com
    session E02 edge1 "Edge relays inbound mail to the Mailbox" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $edge $mbx 25 tcp smtp true "$CLOSE_RACE" allowed edge.to-mailbox - "edge_transport to mailbox on 25"
    smtp_args edge1.example.com 25 mbx1.corp.example.com alice@example.com dave@example.net
    session E03 mbx1 "Mailbox hands outbound mail to the Edge" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $mbx $edge 25 tcp smtp true "$CLOSE_RACE" allowed edge.from-mailbox - "mailbox to edge_transport on 25"
    smtp_args mx.example.net 25 edge1.example.com alice@example.com dave@example.net
    session E04 edge1 "Edge sends to an internet MX" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $edge $mxnet 25 tcp smtp true "$CLOSE_RACE" allowed edge.outbound - "edge_transport to internet on 25"
    session E05 mbx1 "EdgeSync over secure LDAP (50636)" -- \
        "${LDAPSEARCH[@]}" -H ldaps://edge1.example.com:50636 -D cn=admin,ou=MSExchangeGateway \
        -w "$LDAP_PASSWORD" -b ou=MSExchangeGateway '(objectClass=inetOrgPerson)' mail
    flow $mbx $edge 50636 tcp tls false "$CLOSE_RACE" allowed edge.edgesync - "mailbox to edge_transport on 50636, TLS"
    session E06 edge1 "Edge looks up the next hop (UDP)" -- "${DIG[@]}" @$dns example.net MX
    flow $edge $dns 53 udp dns false SF allowed edge.dns - "edge_transport to dns"
    session E07 edge1 "Edge looks up the next hop (TCP)" -- "${DIG[@]}" +tcp @$dns mx.example.net A
    flow $edge $dns 53 tcp dns false SF allowed edge.dns - "edge_transport to dns over TCP"
    session E08 edge1 "sender reputation open-proxy test through the proxy" --may-fail -- \
        curl -q -sS --max-time 10 -p -x http://proxy1.example.com:8080 "http://$mxorg:1080/"
    flow $edge $proxy 8080 tcp http false "$CLOSE_RACE" allowed edge.reputation-proxy - "edge_transport to proxy on a proxy_ports port"
    flow $proxy $mxorg 1080 tcp none false REJ out_of_scope - - "the proxy's own leg: no Exchange endpoint, not a mail port"
    smtp_args mail.example.com 587 laptop.example.org alice@example.com dave@example.net
    session E09 roam "roaming user submits on 587" -- \
        "${SMTP[@]}" -4 --tls --tls-verify --auth LOGIN --auth-user "$MAIL_USER" --auth-password "$MAIL_PASSWORD"
    flow $roam $cas 587 tcp smtp true "$CLOSE_RACE" allowed client.submission - "submission is unaffected by the Edge"
    session E10 roam "browser opens OWA" -- "${CURL[@]}" -4 -A "$UA_BROWSER" https://mail.example.com/owa/
    flow $roam $cas 443 tcp tls false SF allowed client.https - "HTTPS to client_access"
    session E11 mbx1 "Mailbox resolves a name" -- "${DIG[@]}" @$dns mail.example.org A
    flow $mbx $dns 53 udp dns false SF allowed mail.dns - "mailbox to dns"
    session E12 mbx1 "Mailbox searches the directory" -- \
        "${LDAPSEARCH[@]}" -H ldap://dc1.corp.example.com -b dc=corp,dc=example,dc=com '(uid=alice)' mail
    flow $mbx $dc 389 tcp ldap false SF allowed internal.unrestricted - "mailbox to domain_controller"
    session E13 ws1 "administrator logs in to the Edge with SSH" --may-fail -- \
        "${SSH[@]}" nobody@edge1.example.com true
    flow $ws $edge 22 tcp ssh false SF allowed site.admin-ssh - "the site's [[allow]] entry admin-ssh"

    # Unexpected paths.
    smtp_args mbx1.corp.example.com 25 mail.example.org carol@example.org alice@example.com
    session E14 mxorg "internet MTA goes straight to the Mailbox" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $mxorg $mbx 25 tcp smtp true "$CLOSE_RACE" unexpected - - "edge.inbound: the server is a mailbox, not the Edge"
    smtp_args mail.example.com 25 mail.example.org carol@example.org alice@example.com
    session E15 mxorg "internet MTA delivers to the CAS although an Edge exists" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $mxorg $cas 25 tcp smtp true "$CLOSE_RACE" unexpected - - "mail.inbound: topology.edge_transport is true"
    session E16 scan "EdgeSync port from the internet" -- \
        "${LDAPSEARCH[@]}" -H ldaps://edge1.example.com:50636 -s base -b '' '(objectClass=*)' namingContexts
    flow $scan $edge 50636 tcp tls false "$CLOSE_RACE" unexpected - - "edge.edgesync: the client is not a mailbox"
    session E17 edge1 "Edge opens 443 to the CAS" -- "${CURL[@]}" -4 https://mail.example.com/owa/
    flow $edge $cas 443 tcp tls false SF unexpected - - "client.https: an Edge takes no part in client traffic"
    session E18 edge1 "Edge queries the domain controller" -- \
        "${LDAPSEARCH[@]}" -H ldap://dc1.corp.example.com -b dc=corp,dc=example,dc=com '(uid=alice)' mail
    flow $edge $dc 389 tcp ldap false SF unexpected - - "no row from edge_transport to domain_controller"
    smtp_args mx.example.net 25 mbx1.corp.example.com alice@example.com dave@example.net
    session E19 mbx1 "Mailbox sends to the internet past the Edge" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $mbx $mxnet 25 tcp smtp true "$CLOSE_RACE" unexpected - - "mail.outbound: topology.edge_transport is true"
    smtp_args mx.example.net 25 cas1.corp.example.com alice@example.com dave@example.net
    session E20 cas1 "CAS sends to the internet past the Edge" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $cas $mxnet 25 tcp smtp true "$CLOSE_RACE" unexpected - - "mail.outbound-proxy: topology.edge_transport is true"
    session E21 edge1 "open-proxy test through the proxy's other port" --may-fail -- \
        curl -q -sS --max-time 10 -p -x http://proxy1.example.com:3128 "http://$mxorg:1080/"
    flow $edge $proxy 3128 tcp http false "$CLOSE_RACE" unexpected - - "edge.reputation-proxy: 3128 is not in proxy_ports"
    flow $proxy $mxorg 1080 tcp none false REJ out_of_scope - - "the proxy's own leg: no Exchange endpoint, not a mail port"

    # Last: swap the Edge's directory to cleartext LDAP on the EdgeSync port.
    edge_ldap_cleartext
    session E22 mbx1 "cleartext LDAP on the EdgeSync port" -- \
        "${LDAPSEARCH[@]}" -H ldap://edge1.example.com:50636 -s base -b '' '(objectClass=*)' namingContexts
    flow $mbx $edge 50636 tcp ldap false SF unexpected - - "edge.edgesync: LDAP in clear where TLS is expected"
    edge_ldap_tls
}

# ----------------------------------------------- exchange-clients.pcapng

sessions_clients() {
    local cas=10.20.0.10 cas6=fd00:20::10 ws=10.20.0.100 mxorg=198.51.100.25
    local roam=203.0.113.20 roam6=2001:db8:113::20
    local imap=(curl -q -sS --max-time 10 --cacert "$T/pki/ca.crt" -u "$MAIL_USER:$MAIL_PASSWORD")

    session C01 ws1 "IMAP with STARTTLS" -- "${imap[@]}" -4 --ssl-reqd imap://mail.example.com/
    flow $ws $cas 143 tcp imap true "$CLOSE_RACE" allowed client.imap - "features.imap4"
    session C02 ws1 "IMAP login in clear" -- "${imap[@]}" -4 imap://mail.example.com/
    flow $ws $cas 143 tcp imap false SF allowed client.imap "cleartext_auth,starttls_not_used" "AUTHENTICATE PLAIN in clear; STARTTLS offered, never issued"
    session C03 ws1 "IMAP STARTTLS accepted, then the client closes" -- "$ABANDON" imap $cas 143
    flow $ws $cas 143 tcp imap false SF allowed client.imap starttls_failed "OK to STARTTLS, no TLS handshake followed"
    session C04 roam "IMAPS with openssl s_client" -- /bin/sh -c \
        'printf "a1 LOGIN %s %s\r\na2 LIST \"\" \"*\"\r\na3 LOGOUT\r\n" "$0" "$1" |
         openssl s_client -quiet -4 -connect mail.example.com:993 -servername mail.example.com \
             -CAfile "$2" -verify_return_error' "$MAIL_USER" "$MAIL_PASSWORD" "$T/pki/ca.crt"
    flow $roam $cas 993 tcp tls false "$CLOSE_RACE" allowed client.imaps - "features.imap4"
    session C05 roam "IMAPS over IPv6" -- "${imap[@]}" -6 imaps://mail.example.com/
    flow $roam6 $cas6 993 tcp tls false "$CLOSE_RACE" allowed client.imaps - "features.imap4, IPv6"
    session C06 ws1 "POP3 with STLS" -- "${imap[@]}" -4 --ssl-reqd pop3://mail.example.com/
    flow $ws $cas 110 tcp pop3 true "$CLOSE_RACE" allowed client.pop3 - "features.pop3"
    session C07 ws1 "POP3 login in clear" -- "${imap[@]}" -4 pop3://mail.example.com/
    flow $ws $cas 110 tcp pop3 false SF allowed client.pop3 "cleartext_auth,starttls_not_used" "AUTH PLAIN in clear; STLS offered, never issued"
    session C08 ws1 "POP3 STLS accepted, then the client closes" -- "$ABANDON" pop3 $cas 110
    flow $ws $cas 110 tcp pop3 false SF allowed client.pop3 starttls_failed "+OK to STLS, no TLS handshake followed"
    session C09 roam "POP3S" -- "${imap[@]}" -4 pop3s://mail.example.com/
    flow $roam $cas 995 tcp tls false "$CLOSE_RACE" allowed client.pop3s - "features.pop3"
    smtp_args mail.example.com 25 laptop.example.org alice@example.com dave@example.net
    session C10 roam "authenticated submission on 25" -- \
        "${SMTP[@]}" -4 --tls --tls-verify --auth LOGIN --auth-user "$MAIL_USER" --auth-password "$MAIL_PASSWORD"
    flow $roam $cas 25 tcp smtp true "$CLOSE_RACE" allowed client.submission-25 - "features.submission_on_port_25"
    session C11 roam "submission on 587 with openssl s_client" -- /bin/sh -c \
        'printf "EHLO laptop.example.org\r\nQUIT\r\n" |
         openssl s_client -quiet -4 -starttls smtp -name laptop.example.org -connect mail.example.com:587 \
             -servername mail.example.com -CAfile "$0" -verify_return_error' "$T/pki/ca.crt"
    flow $roam $cas 587 tcp smtp true "$CLOSE_RACE" allowed client.submission - "587 stays allowed with submission_on_port_25"
    smtp_args mail.example.com 25 mail.example.org carol@example.org alice@example.com
    session C12 mxorg "internet MTA delivers on 25" -- "${SMTP[@]}" -4 --tls --tls-verify
    flow $mxorg $cas 25 tcp smtp true "$CLOSE_RACE" allowed client.submission-25 - "client rows come first: client.submission-25, not mail.inbound"
}

# ------------------------------------------------- exchange-roles.pcap

# Transport paths between the Client Access and Mailbox servers that the
# other captures leave out, and submission on 25 with AUTH in the clear:
# what `exflow discover` reads the Mailbox role and the
# submission_on_port_25 feature from.
sessions_roles() {
    local cas=10.20.0.10 mbx=10.20.0.20 ws=10.20.0.100

    session R01 ws1 "Outlook looks up Autodiscover over HTTPS" -- \
        "${CURL[@]}" -4 -A "$UA_OUTLOOK" -H 'Content-Type: text/xml' --data-binary "$AUTOD_REQ" \
        https://autodiscover.example.com/autodiscover/autodiscover.xml
    flow $ws $cas 443 tcp tls false SF allowed client.https - "HTTPS to client_access"
    smtp_args mbx1.corp.example.com 2525 cas1.corp.example.com carol@example.org alice@example.com
    session R02 cas1 "CAS front end hands inbound mail to the Mailbox transport on 2525" -- \
        "${SMTP[@]}" -4 --tls --tls-verify
    flow $cas $mbx 2525 tcp smtp true "$CLOSE_RACE" allowed internal.unrestricted - "client_access to mailbox, any port"
    smtp_args mail.example.com 717 mbx1.corp.example.com alice@example.com dave@example.net
    session R03 mbx1 "Mailbox sends outbound mail through the CAS's proxy port 717" -- \
        "${SMTP[@]}" -4 --tls --tls-verify
    flow $mbx $cas 717 tcp smtp true "$CLOSE_RACE" allowed internal.unrestricted - "mailbox to client_access, any port"
    smtp_args mail.example.com 25 ws1.corp.example.com alice@example.com dave@example.net
    session R04 ws1 "internal client authenticates on 25 without STARTTLS" -- \
        "${SMTP[@]}" -4 --auth PLAIN --auth-user "$MAIL_USER" --auth-password "$MAIL_PASSWORD"
    flow $ws $cas 25 tcp smtp false SF allowed client.submission-25 "cleartext_auth,starttls_not_used" "AUTH PLAIN in clear on 25; STARTTLS offered, never issued"
}

# The Edge's directory in clear on 50636, for the protocol-mismatch case.
edge_ldap_cleartext() {
    stop_server edge1/slapd
    start_slapd edge1 slapd ou=MSExchangeGateway "ldap://$(host_ip4 edge1):50636/"
    wait_listen edge1 50636
}

edge_ldap_tls() {
    stop_server edge1/slapd
    start_slapd edge1 slapd ou=MSExchangeGateway "ldaps://$(host_ip4 edge1):50636/" tls
    wait_listen edge1 50636
}
