# shellcheck shell=bash
# Servers for record.sh. Every server runs inside a lab namespace from a
# throwaway configuration under $T (the run's temporary directory) and is
# stopped by the PID recorded when it started. Nothing under /etc is edited:
# in_ns bind-mounts the lab's own hosts and resolv.conf over the machine's
# inside a private mount namespace that exists only for that one process.

# Throwaway credentials. They appear in clear text in the risk-case captures
# on purpose; they open nothing outside the lab.
MAIL_USER=alice
MAIL_PASSWORD=Lab-only-pa55
LDAP_PASSWORD=Lab-only-ldap

SERVER_PIDS=()
SERVER_LABELS=()

# in_ns HOST COMMAND...: run COMMAND in the host's namespace under the host's
# own name (a UTS namespace), seeing the lab's /etc/hosts and an
# /etc/resolv.conf that points at 127.0.0.1, so a stray name lookup fails on
# the host's loopback and never reaches the bridge. Tools that put the local
# host name on the wire (swaks in Message-Id, for one) then show the lab name.
in_ns() {
    ns_command "$@"
    "${NS_COMMAND[@]}"
}

# ns_command HOST COMMAND...: set NS_COMMAND to the argv in_ns runs. ip netns
# exec, unshare and sh all exec, so the process started from it becomes
# COMMAND.
ns_command() {
    local ns=$NS_PREFIX$1 name
    name=$(host_dns_names "$1" | awk '{ print $1 }')
    shift
    NS_COMMAND=(ip netns exec "$ns" unshare --uts /bin/sh -c '
        hostname "$1" &&
        mount --bind "$0/etc/hosts" /etc/hosts &&
        mount --bind "$0/etc/resolv.conf" /etc/resolv.conf &&
        shift && exec "$@"' "$T" "$name" "$@")
}

# spawn HOST LABEL COMMAND...: start a server in the background and keep its
# PID. The command runs as a simple command, not through a function, so $!
# is the server's own PID and not that of a subshell.
spawn() {
    local host=$1 label=$2
    shift 2
    ns_command "$host" "$@"
    "${NS_COMMAND[@]}" >"$T/logs/$host-$label.log" 2>&1 &
    SERVER_PIDS+=("$!")
    SERVER_LABELS+=("$host/$label")
}

# stop_server HOST/LABEL: stop one server started by spawn, and wait for it.
stop_server() {
    local i
    for i in "${!SERVER_LABELS[@]}"; do
        [[ ${SERVER_LABELS[i]} == "$1" ]] || continue
        kill -TERM "${SERVER_PIDS[i]}" 2>/dev/null || true
        wait "${SERVER_PIDS[i]}" 2>/dev/null || true
        unset 'SERVER_PIDS[i]' 'SERVER_LABELS[i]'
    done
}

stop_all_servers() {
    local i
    for i in "${!SERVER_PIDS[@]}"; do
        kill -TERM "${SERVER_PIDS[i]}" 2>/dev/null || true
    done
    for i in "${!SERVER_PIDS[@]}"; do
        wait "${SERVER_PIDS[i]}" 2>/dev/null || true
    done
    SERVER_PIDS=()
    SERVER_LABELS=()
}

# wait_listen HOST PORT [tcp|udp]: wait up to 10 s for a listening socket.
wait_listen() {
    local host=$1 port=$2 proto=${3:-tcp} flag=-ltn i
    [[ $proto == udp ]] && flag=-lun
    for ((i = 0; i < 50; i++)); do
        if [[ -n $(ip netns exec "$NS_PREFIX$host" ss -H "$flag" "sport = :$port") ]]; then
            return 0
        fi
        sleep 0.2
    done
    echo "error: nothing listens on $host $proto/$port after 10 s; see $T/logs/$host-*.log" >&2
    return 1
}

write_name_files() {
    local h a4 a6 names
    mkdir -p "$T/etc"
    printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$T/etc/resolv.conf"
    {
        printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n'
        for h in $(host_names); do
            names=$(host_dns_names "$h")
            a4=$(host_ip4 "$h")
            a6=$(host_ip6 "$h")
            printf '%s\t%s\n' "$a4" "$names"
            [[ -z $a6 ]] || printf '%s\t%s\n' "$a6" "$names"
        done
    } >"$T/etc/hosts"
}

# DNS names of each lab host: the organisation is example.com (internal
# Active Directory domain corp.example.com); example.net and example.org are
# other organisations on the internet.
host_dns_names() {
    case $1 in
        dc1) echo "dc1.corp.example.com" ;;
        cas1) echo "cas1.corp.example.com mail.example.com autodiscover.example.com" ;;
        cas2) echo "cas2.corp.example.com" ;;
        mbx1) echo "mbx1.corp.example.com" ;;
        srv1) echo "srv1.corp.example.com" ;;
        dns1) echo "dns1.corp.example.com" ;;
        ws1) echo "ws1.corp.example.com" ;;
        edge1) echo "edge1.example.com" ;;
        proxy1) echo "proxy1.example.com" ;;
        mxnet) echo "mx.example.net" ;;
        mxorg) echo "mail.example.org" ;;
        roam) echo "laptop.example.org" ;;
        resolv) echo "resolver.example.net" ;;
        scan) echo "scanner.example.org" ;;
    esac
}

# ---------------------------------------------------------------- PKI

make_pki() {
    local p=$T/pki
    mkdir -p "$p"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$p/ca.key" -out "$p/ca.crt" -days 30 \
        -subj "/O=exflow lab/CN=exflow lab CA" 2>/dev/null
    make_cert cas1 "mail.example.com" "DNS:mail.example.com,DNS:autodiscover.example.com,DNS:cas1.corp.example.com"
    make_cert mbx1 "mbx1.corp.example.com" "DNS:mbx1.corp.example.com"
    make_cert srv1 "srv1.corp.example.com" "DNS:srv1.corp.example.com"
    make_cert edge1 "edge1.example.com" "DNS:edge1.example.com"
    make_cert mxnet "mx.example.net" "DNS:mx.example.net"
}

make_cert() { # make_cert HOST CN SAN
    local p=$T/pki host=$1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$p/$host.key" -out "$p/$host.csr" -subj "/O=exflow lab/CN=$2" 2>/dev/null
    openssl x509 -req -in "$p/$host.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" \
        -CAcreateserial -days 30 -out "$p/$host.crt" \
        -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n' "$3") \
        2>/dev/null
    chmod 600 "$p/$host.key"
}

# ---------------------------------------------------------------- Postfix

# start_postfix HOST PROFILE: one Postfix instance with its own configuration,
# queue and log under $T/HOST. Every instance hands accepted mail to the
# discard agent, so Postfix itself never opens a connection and the capture
# holds only the sessions the script runs.
#   cas     Client Access: 25 (front end, AUTH allowed), 587 submission,
#           717 (the outbound proxy port of Front End Transport), and a
#           stray listener on 2525
#   mailbox an SMTP server on 25 and 2525 with STARTTLS (the Mailbox
#           server; Exchange's Transport service takes 2525 when it shares
#           a host with Front End Transport)
#   plain   an SMTP server on 25 with STARTTLS (Edge, internet MX)
start_postfix() {
    local host=$1 profile=$2 d=$T/$1/postfix q=$T/$1/postfix-queue
    local name addrs
    name=$(host_dns_names "$host" | awk '{ print $1 }')
    addrs=$(host_ip4 "$host")
    [[ -z $(host_ip6 "$host") ]] || addrs="$addrs, $(host_ip6 "$host")"
    mkdir -p "$d" "$q" "$T/$1/postfix-data"
    chown postfix "$T/$1/postfix-data"

    cat >"$d/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $q
data_directory = $T/$1/postfix-data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $T/logs/$host-postfix-mail.log
maillog_file_prefixes = $T
myhostname = $name
mydomain = ${name#*.}
mydestination =
inet_interfaces = $addrs
inet_protocols = all
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP
biff = no
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
relay_domains = example.com example.net example.org
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
default_transport = discard:lab
relay_transport = discard:lab
local_transport = discard:lab
virtual_transport = discard:lab
smtpd_tls_cert_file = $T/pki/$host.crt
smtpd_tls_key_file = $T/pki/$host.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
CF
    if [[ $profile == cas ]]; then
        cat >>"$d/main.cf" <<CF
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $T/$host/dovecot-run/auth-postfix
# Exchange lets a client authenticate before STARTTLS unless told otherwise;
# the cleartext AUTH risk case depends on it.
smtpd_tls_auth_only = no
CF
    fi

    {
        echo "smtp      inet  n       -       n       -       -       smtpd"
        if [[ $profile == cas ]]; then
            echo "submission inet n       -       n       -       -       smtpd"
            echo "  -o syslog_name=postfix/submission"
            echo "2525      inet  n       -       n       -       -       smtpd"
            echo "  -o syslog_name=postfix/2525"
            echo "717       inet  n       -       n       -       -       smtpd"
            echo "  -o syslog_name=postfix/717"
        fi
        if [[ $profile == mailbox ]]; then
            echo "2525      inet  n       -       n       -       -       smtpd"
            echo "  -o syslog_name=postfix/2525"
        fi
        cat <<'MASTER'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
MASTER
    } >"$d/master.cf"

    # postfix check creates the queue directories with their owners. It
    # checks inet_interfaces too, so it runs in the host's namespace.
    in_ns "$host" postfix -c "$d" check >"$T/logs/$host-postfix-check.log" 2>&1 || {
        echo "error: postfix check failed for $d; see $T/logs/$host-postfix-check.log" >&2
        return 1
    }
    spawn "$host" postfix /usr/lib/postfix/sbin/master -c "$d" -d
    wait_listen "$host" 25
}

# ---------------------------------------------------------------- Dovecot

# start_dovecot HOST PROTOCOLS: IMAP and/or POP3 with STARTTLS/STLS and
# implicit TLS, one throwaway user, mail stored under $T as user nobody.
start_dovecot() {
    local host=$1 protocols=$2 d=$T/$1 listen
    listen=$(host_ip4 "$host")
    [[ -z $(host_ip6 "$host") ]] || listen="$listen, $(host_ip6 "$host")"
    mkdir -p "$d/dovecot-run" "$d/dovecot-state" "$d/mail"
    chown nobody:nogroup "$d/mail"
    printf '%s:{PLAIN}%s\n' "$MAIL_USER" "$MAIL_PASSWORD" >"$d/dovecot-users"

    cat >"$d/dovecot.conf" <<CF
base_dir = $d/dovecot-run
state_dir = $d/dovecot-state
log_path = $T/logs/$host-dovecot-mail.log
protocols = $protocols
listen = $listen
ssl = yes
ssl_cert = <$T/pki/$host.crt
ssl_key = <$T/pki/$host.key
ssl_min_protocol = TLSv1.2
# The cleartext-login risk cases need LOGIN before STARTTLS to succeed.
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $d/dovecot-users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/mail/%n
}
mail_location = maildir:~/Maildir
first_valid_uid = 1
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
CF
    spawn "$host" dovecot /usr/sbin/dovecot -F -c "$d/dovecot.conf"
    case $protocols in
        *imap*) wait_listen "$host" 143 ;;
        *) wait_listen "$host" 110 ;;
    esac
}

# ---------------------------------------------------------------- nginx

# The Exchange virtual directories, answered with short fixed bodies shaped
# like the real service responses. Port 80 redirects OWA, ECP and the
# Autodiscover GET to HTTPS, as a Client Access server does by default.
write_cas_vdirs() { # write_cas_vdirs FILE SCHEME
    local f=$1 scheme=$2
    {
        echo 'location = / { return 302 /owa/; }'
        if [[ $scheme == http ]]; then
            echo 'location /owa { return 301 https://mail.example.com$request_uri; }'
            echo 'location /ecp { return 301 https://mail.example.com$request_uri; }'
            echo 'location = /autodiscover/autodiscover.xml { return 302 https://autodiscover.example.com/autodiscover/autodiscover.xml; }'
        else
            cat <<'LOC'
location /owa {
    default_type text/html;
    return 200 '<!DOCTYPE html><html><head><title>Outlook</title></head><body><form action="/owa/auth.owa" method="POST"><input name="username"><input name="password" type="password"></form></body></html>\n';
}
location /ecp {
    default_type text/html;
    return 200 '<!DOCTYPE html><html><head><title>Exchange admin center</title></head><body></body></html>\n';
}
location = /autodiscover/autodiscover.xml {
    default_type text/xml;
    return 200 '<?xml version="1.0" encoding="utf-8"?>\n<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><User><DisplayName>Alice</DisplayName></User><Account><AccountType>email</AccountType><Action>settings</Action><Protocol><Type>EXHTTP</Type><Server>mail.example.com</Server><SSL>On</SSL><AuthPackage>Ntlm</AuthPackage></Protocol></Account></Response></Autodiscover>\n';
}
LOC
        fi
        cat <<'LOC'
location = /EWS/Exchange.asmx {
    default_type text/xml;
    return 200 '<?xml version="1.0" encoding="utf-8"?>\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>\n';
}
location = /Microsoft-Server-ActiveSync {
    add_header MS-Server-ActiveSync 15.0 always;
    add_header MS-ASProtocolVersions "2.0,2.1,2.5,12.0,12.1,14.0,14.1" always;
    add_header MS-ASProtocolCommands "Sync,SendMail,SmartForward,SmartReply,GetAttachment,FolderSync,Ping" always;
    return 200 '';
}
location /OAB/ {
    default_type text/xml;
    return 200 '<?xml version="1.0" encoding="utf-8"?>\n<OAB><oal id="b2f8b8d5-9a3c-4c1e-9d4e-4f1f1a2b3c4d" dn="/" name="\\Default Offline Address Book"></oal></OAB>\n';
}
location /mapi/emsmdb {
    add_header X-RequestType Connect always;
    add_header X-ResponseCode 0 always;
    default_type application/mapi-http;
    return 200 'PROCESSING\r\nDONE\r\n';
}
location = /rpc/rpcproxy.dll {
    # Outlook Anywhere opens two long-lived requests, RPC_IN_DATA and
    # RPC_OUT_DATA; nginx takes any method token, so return answers both.
    default_type application/rpc;
    return 200 '';
}
LOC
    } >"$f"
}

start_nginx_cas() {
    local host=cas1 d=$T/cas1/nginx a4 a6
    a4=$(host_ip4 cas1)
    a6=$(host_ip6 cas1)
    mkdir -p "$d/tmp"
    write_cas_vdirs "$d/vdirs-http.conf" http
    write_cas_vdirs "$d/vdirs-https.conf" https
    cat >"$d/nginx.conf" <<CF
worker_processes 1;
pid $d/nginx.pid;
error_log $T/logs/$host-nginx-error.log;
events { worker_connections 64; }
http {
    access_log $T/logs/$host-nginx-access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server_tokens off;
    default_type text/plain;
    keepalive_timeout 5;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen $a4:80;
        listen [$a6]:80;
        server_name mail.example.com autodiscover.example.com;
        add_header X-FEServer CAS1 always;
        include $d/vdirs-http.conf;
    }
    server {
        listen $a4:443 ssl;
        listen [$a6]:443 ssl;
        server_name mail.example.com autodiscover.example.com;
        ssl_certificate $T/pki/cas1.crt;
        ssl_certificate_key $T/pki/cas1.key;
        add_header X-FEServer CAS1 always;
        include $d/vdirs-https.conf;
    }
}
CF
    spawn "$host" nginx /usr/sbin/nginx -e "$T/logs/$host-nginx-error.log" -c "$d/nginx.conf" -g 'daemon off;'
    wait_listen "$host" 443
}

# The Mailbox server's back end web site, which Client Access servers proxy
# to on 444 in Exchange 2013.
start_nginx_mailbox() {
    local host=mbx1 d=$T/mbx1/nginx
    mkdir -p "$d/tmp"
    cat >"$d/nginx.conf" <<CF
worker_processes 1;
pid $d/nginx.pid;
error_log $T/logs/$host-nginx-error.log;
events { worker_connections 64; }
http {
    access_log $T/logs/$host-nginx-access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server_tokens off;
    keepalive_timeout 5;
    server {
        listen $(host_ip4 mbx1):444 ssl;
        server_name mbx1.corp.example.com;
        ssl_certificate $T/pki/mbx1.crt;
        ssl_certificate_key $T/pki/mbx1.key;
        add_header X-BEServer MBX1 always;
        location /owa { default_type text/html; return 200 '<html><body>mailbox back end</body></html>\n'; }
    }
}
CF
    spawn "$host" nginx /usr/sbin/nginx -e "$T/logs/$host-nginx-error.log" -c "$d/nginx.conf" -g 'daemon off;'
    wait_listen "$host" 444
}

# ---------------------------------------------------------------- OpenLDAP

# start_slapd HOST LABEL SUFFIX URLS [tls]: an OpenLDAP server with a small
# directory. With "tls" it loads the host's certificate (for ldaps://).
start_slapd() {
    local host=$1 label=$2 suffix=$3 urls=$4 tls=${5:-} d=$T/$1/$2
    local rdn=${suffix%%,*}
    mkdir -p "$d/db"
    cat >"$d/slapd.conf" <<CF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $d/slapd.pid
argsfile $d/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
CF
    if [[ $tls == tls ]]; then
        cat >>"$d/slapd.conf" <<CF
TLSCACertificateFile $T/pki/ca.crt
TLSCertificateFile $T/pki/$host.crt
TLSCertificateKeyFile $T/pki/$host.key
CF
    fi
    cat >>"$d/slapd.conf" <<CF
database mdb
maxsize 10485760
suffix "$suffix"
rootdn "cn=admin,$suffix"
rootpw $LDAP_PASSWORD
directory $d/db
access to * by * read
CF
    {
        printf 'dn: %s\n' "$suffix"
        case $rdn in
            dc=*) printf 'objectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n\n' "${rdn#dc=}" "${rdn#dc=}" ;;
            ou=*) printf 'objectClass: organizationalUnit\nou: %s\n\n' "${rdn#ou=}" ;;
        esac
        printf 'dn: ou=Users,%s\nobjectClass: organizationalUnit\nou: Users\n\n' "$suffix"
        printf 'dn: cn=Alice,ou=Users,%s\nobjectClass: inetOrgPerson\ncn: Alice\nsn: Example\nmail: alice@example.com\nuid: alice\n\n' "$suffix"
        printf 'dn: cn=Bob,ou=Users,%s\nobjectClass: inetOrgPerson\ncn: Bob\nsn: Example\nmail: bob@example.com\nuid: bob\n\n' "$suffix"
    } >"$d/seed.ldif"
    # A restart (the Edge switches between ldaps and ldap) keeps the database.
    if [[ ! -e $d/db/data.mdb ]]; then
        slapadd -q -f "$d/slapd.conf" -l "$d/seed.ldif" >"$T/logs/$host-$label-slapadd.log" 2>&1
    fi
    spawn "$host" "$label" /usr/sbin/slapd -d 0 -f "$d/slapd.conf" -h "$urls"
}

# ---------------------------------------------------------------- Unbound

# start_unbound HOST DATA-FILE: a resolver that answers only from local data
# (local-zone "." static), so it never sends a query of its own.
start_unbound() {
    local host=$1 data=$2 d=$T/$1/unbound
    mkdir -p "$d"
    {
        cat <<CF
server:
    interface: $(host_ip4 "$host")
    port: 53
    do-ip6: no
    do-tcp: yes
    access-control: 0.0.0.0/0 allow
    chroot: ""
    username: ""
    directory: "$d"
    pidfile: "$d/unbound.pid"
    use-syslog: no
    logfile: "$T/logs/$host-unbound-queries.log"
    log-queries: yes
    module-config: "iterator"
    local-zone: "." static
CF
        sed 's/^/    local-data: "/; s/$/"/' "$data"
        printf 'remote-control:\n    control-enable: no\n'
    } >"$d/unbound.conf"
    spawn "$host" unbound /usr/sbin/unbound -d -c "$d/unbound.conf"
    wait_listen "$host" 53 udp
}

# ---------------------------------------------------------------- OpenSSH

# start_sshd HOST PORT: sshd where user nobody may log in with the lab key.
# sshd needs /run/sshd; the host gets its own /run in its mount namespace.
start_sshd() {
    local host=$1 port=$2 d=$T/$1/sshd-$2
    mkdir -p "$d/run/sshd"
    chmod 755 "$d/run/sshd"
    [[ -f $T/ssh/hostkey ]] || make_ssh_keys
    cat >"$d/sshd_config" <<CF
Port $port
ListenAddress $(host_ip4 "$host")
HostKey $T/ssh/hostkey
PidFile $d/sshd.pid
AuthorizedKeysFile $T/ssh/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers nobody
PrintMotd no
LogLevel VERBOSE
CF
    # in_ns's shell execs a second shell that swaps /run before sshd starts.
    spawn "$host" "sshd-$port" /bin/sh -c 'mount --bind "$0" /run && exec /usr/sbin/sshd -D -e -f "$1"' \
        "$d/run" "$d/sshd_config"
    wait_listen "$host" "$port"
}

make_ssh_keys() {
    mkdir -p "$T/ssh"
    ssh-keygen -q -t ed25519 -N '' -C 'exflow lab host' -f "$T/ssh/hostkey"
    ssh-keygen -q -t ed25519 -N '' -C 'exflow lab client' -f "$T/ssh/client"
    cp "$T/ssh/client.pub" "$T/ssh/authorized_keys"
    chmod 644 "$T/ssh/authorized_keys"
}

# ---------------------------------------------------------------- tinyproxy

start_tinyproxy() { # start_tinyproxy HOST PORT
    local host=$1 port=$2 d=$T/$1/tinyproxy-$2
    mkdir -p "$d"
    chown nobody:nogroup "$d"
    cat >"$d/tinyproxy.conf" <<CF
User nobody
Group nogroup
Port $port
Listen $(host_ip4 "$host")
Timeout 10
LogFile "$d/tinyproxy.log"
LogLevel Info
MaxClients 10
Allow 172.16.50.0/24
DisableViaHeader Yes
CF
    spawn "$host" "tinyproxy-$port" /usr/bin/tinyproxy -d -c "$d/tinyproxy.conf"
    wait_listen "$host" "$port"
}
