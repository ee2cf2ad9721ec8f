#!/bin/sh
# Installs Debian's Chromium for the HTML report's browser test
# (tests/report_ui_browser.rs), which skips when /usr/bin/chromium is absent.
# CI runs this script before the tests. Safe to run again: it does nothing when
# Chromium is already installed.
set -eu

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

# Other jobs on the machine may hold the dpkg lock, so wait for it rather than
# failing at once.
apt-get -o DPkg::Lock::Timeout=900 update
apt-get -o DPkg::Lock::Timeout=900 install -y chromium

/usr/bin/chromium --version
