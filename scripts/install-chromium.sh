#!/bin/sh
# Installs Debian's Chromium for the HTML report's browser test
# (tests/report_ui_browser.rs), which skips when /usr/bin/chromium is absent,
# and a Japanese font so that the Japanese report's screenshot is legible.
# CI runs this script before the tests. Running it again installs nothing new.
set -eu

# Other jobs on the machine may hold the dpkg lock, so wait for it rather than
# failing at once.
apt_install() {
    apt-get -o DPkg::Lock::Timeout=900 install -y "$@"
}

updated=false
update_once() {
    if [ "$updated" = false ]; then
        apt-get -o DPkg::Lock::Timeout=900 update
        updated=true
    fi
}

if [ ! -x /usr/bin/chromium ]; then
    update_once
    apt_install chromium
fi

# The screenshots show Japanese text as empty boxes without a CJK font; the
# test's checks read the DOM and pass either way.
if ! fc-list :lang=ja 2>/dev/null | grep -q .; then
    update_once
    apt_install fonts-noto-cjk
fi

/usr/bin/chromium --version
