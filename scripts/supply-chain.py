#!/usr/bin/env python3
"""Offline supply-chain check: RustSec advisories, sources and licences.

    scripts/supply-chain.py [check] [--lock FILE]... [--snapshot FILE] [--ignore FILE]
                            [--manifest FILE]... [--skip-licenses]
    scripts/supply-chain.py crates [--lock FILE]... [--snapshot FILE]
    scripts/supply-chain.py refresh --db ADVISORY_DB_CLONE [--lock FILE]... [--snapshot FILE]

`check` (the default) reads the lock files (Cargo.lock and fuzz/Cargo.lock
unless --lock is given) and exits 1 when:
  - a locked crates.io version is affected by an advisory of the snapshot
    (supply-chain/advisories.toml) that is neither withdrawn, informational,
    nor listed in the ignore file (supply-chain/ignore.toml);
  - a locked crate is missing from the snapshot's crate list, so the snapshot
    says nothing about it (run `refresh`, or look it up by hand);
  - a package comes from anywhere but crates.io or a path in the repository;
  - a package's licence expression (from `cargo metadata`) cannot be met with
    the licences that deny.toml allows, or a dependency asks for version `*`.
Informational advisories (unmaintained, unsound, notice) and advisory drafts
that never got an id are printed as warnings and never fail the check.

`crates` prints the crate names of the lock files, one a line, each marked
`new` when the snapshot's crate list lacks it: the list to look up when the
snapshot is refreshed by hand.

`refresh` rewrites the snapshot from a local clone of the RustSec advisory
database (https://github.com/rustsec/advisory-db), keeping only the facts that
`check` uses.

Exit status: 0 passed, 1 a finding, 2 invalid input (a file that is missing or
cannot be parsed; the message names it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCKS = [ROOT / "Cargo.lock", ROOT / "fuzz" / "Cargo.lock"]
DEFAULT_MANIFESTS = [ROOT / "Cargo.toml", ROOT / "fuzz" / "Cargo.toml"]
DEFAULT_SNAPSHOT = ROOT / "supply-chain" / "advisories.toml"
DEFAULT_IGNORE = ROOT / "supply-chain" / "ignore.toml"
DEFAULT_DENY = ROOT / "deny.toml"

# Both spellings of the crates.io index that Cargo writes into lock files.
CRATES_IO_SOURCES = {
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
}


class InputError(Exception):
    """A missing or malformed input file, named in the message."""


# --------------------------------------------------------------------------
# Semantic versions and Cargo version requirements, as the `semver` crate
# (which RustSec's own tools use) defines them.


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple  # prerelease identifiers, empty for a release

    def triple(self):
        return (self.major, self.minor, self.patch)


VERSION_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)


def parse_pre(text):
    if not text:
        return ()
    return tuple(int(part) if part.isdigit() else part for part in text.split("."))


def parse_version(text):
    match = VERSION_RE.match(text.strip())
    if not match:
        raise ValueError(f"invalid version '{text}'")
    major, minor, patch, pre = match.groups()
    return Version(int(major), int(minor), int(patch), parse_pre(pre))


def pre_key(pre):
    """Return a sort key for prerelease identifiers; a release sorts last.

    Numeric identifiers sort below alphanumeric ones, and a shorter list below
    a longer one that it prefixes (semantic versioning 2.0.0, item 11).
    """
    if not pre:
        return (1,)
    return (0, tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in pre))


@dataclass(frozen=True)
class Comparator:
    op: str  # one of = > >= < <= ~ ^ *
    major: int
    minor: int | None
    patch: int | None
    pre: tuple


COMPARATOR_RE = re.compile(
    r"^(>=|<=|=|>|<|~|\^)?\s*"
    r"(\*|[xX]|\d+)(?:\.(\*|[xX]|\d+))?(?:\.(\*|[xX]|\d+))?"
    r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)


def parse_requirement(text):
    """Parse a Cargo requirement ("^0.20.2", ">= 0.8.4, < 0.9.0") into comparators."""
    comparators = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue  # a trailing comma, as in some advisories
        match = COMPARATOR_RE.match(part)
        if not match:
            raise ValueError(f"invalid version requirement '{text}'")
        op, major, minor, patch, pre = match.groups()
        numbers = []
        for number in (major, minor, patch):
            if number is None or number in "*xX":
                break
            numbers.append(int(number))
        if not numbers:
            comparators.append(Comparator("*", 0, None, None, ()))
            continue
        if len(numbers) < 3 and pre:
            raise ValueError(f"invalid version requirement '{text}': prerelease on a partial version")
        if op is None:
            # A wildcard version ("1.*") means "=1"; a bare version means "^".
            wildcard = any(number is not None and number in "*xX" for number in (minor, patch))
            op = "=" if wildcard else "^"
        numbers += [None] * (3 - len(numbers))
        comparators.append(Comparator(op, numbers[0], numbers[1], numbers[2], parse_pre(pre)))
    if not comparators:
        raise ValueError(f"invalid version requirement '{text}': empty")
    return comparators


def _matches_exact(cmp, ver):
    if ver.major != cmp.major:
        return False
    if cmp.minor is not None and ver.minor != cmp.minor:
        return False
    if cmp.patch is not None and ver.patch != cmp.patch:
        return False
    return ver.pre == cmp.pre


def _matches_greater(cmp, ver):
    if ver.major != cmp.major:
        return ver.major > cmp.major
    if cmp.minor is None:
        return False
    if ver.minor != cmp.minor:
        return ver.minor > cmp.minor
    if cmp.patch is None:
        return False
    if ver.patch != cmp.patch:
        return ver.patch > cmp.patch
    return pre_key(ver.pre) > pre_key(cmp.pre)


def _matches_less(cmp, ver):
    if ver.major != cmp.major:
        return ver.major < cmp.major
    if cmp.minor is None:
        return False
    if ver.minor != cmp.minor:
        return ver.minor < cmp.minor
    if cmp.patch is None:
        return False
    if ver.patch != cmp.patch:
        return ver.patch < cmp.patch
    return pre_key(ver.pre) < pre_key(cmp.pre)


def _matches_tilde(cmp, ver):
    if ver.major != cmp.major:
        return False
    if cmp.minor is not None and ver.minor != cmp.minor:
        return False
    if cmp.patch is not None and ver.patch != cmp.patch:
        return ver.patch > cmp.patch
    return pre_key(ver.pre) >= pre_key(cmp.pre)


def _matches_caret(cmp, ver):
    if ver.major != cmp.major:
        return False
    if cmp.minor is None:
        return True
    if cmp.patch is None:
        return ver.minor >= cmp.minor if cmp.major > 0 else ver.minor == cmp.minor
    if cmp.major > 0:
        if ver.minor != cmp.minor:
            return ver.minor > cmp.minor
        if ver.patch != cmp.patch:
            return ver.patch > cmp.patch
    elif cmp.minor > 0:
        if ver.minor != cmp.minor:
            return False
        if ver.patch != cmp.patch:
            return ver.patch > cmp.patch
    elif ver.minor != cmp.minor or ver.patch != cmp.patch:
        return False
    return pre_key(ver.pre) >= pre_key(cmp.pre)


def _matches_comparator(cmp, ver):
    if cmp.op == "*":
        return True
    if cmp.op == "=":
        return _matches_exact(cmp, ver)
    if cmp.op == ">":
        return _matches_greater(cmp, ver)
    if cmp.op == ">=":
        return _matches_exact(cmp, ver) or _matches_greater(cmp, ver)
    if cmp.op == "<":
        return _matches_less(cmp, ver)
    if cmp.op == "<=":
        return _matches_exact(cmp, ver) or _matches_less(cmp, ver)
    if cmp.op == "~":
        return _matches_tilde(cmp, ver)
    return _matches_caret(cmp, ver)


def requirement_matches(comparators, ver):
    """Return whether `ver` meets every comparator.

    As in Cargo, a prerelease version matches only when some comparator names
    a prerelease of the same major.minor.patch.
    """
    if not all(_matches_comparator(cmp, ver) for cmp in comparators):
        return False
    if not ver.pre:
        return True
    return any(
        cmp.pre and (cmp.major, cmp.minor, cmp.patch) == ver.triple() for cmp in comparators
    )


def is_affected(advisory, version):
    """Return whether a version falls outside the advisory's patched and unaffected ranges."""
    ranges = advisory.get("patched", []) + advisory.get("unaffected", [])
    return not any(requirement_matches(parse_requirement(text), version) for text in ranges)


# --------------------------------------------------------------------------
# Input files.


def display_path(path):
    """Return a path relative to the repository when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def load_toml(path, what):
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path}: invalid TOML in the {what}: {error}") from None


def load_lock(path):
    """Return the [[package]] entries of a Cargo.lock as (name, version, source) triples."""
    data = load_toml(path, "lock file")
    packages = []
    for index, package in enumerate(data.get("package", [])):
        name, version = package.get("name"), package.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise InputError(f"{path}: package #{index + 1} has no name or version")
        packages.append((name, version, package.get("source")))
    return packages


def check_snapshot_entry(path, entry, kind):
    for key in ("package", "date"):
        if not isinstance(entry.get(key), str):
            raise InputError(f"{path}: a [[{kind}]] entry has no '{key}': {entry}")
    for key in ("patched", "unaffected"):
        for text in entry.get(key, []):
            try:
                parse_requirement(text)
            except ValueError as error:
                raise InputError(f"{path}: {entry.get('id', entry['path'])}: {error}") from None


def load_snapshot(path):
    data = load_toml(path, "advisory snapshot")
    snapshot = data.get("snapshot")
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("crates"), list):
        raise InputError(f"{path}: the [snapshot] table with its 'crates' list is missing")
    for entry in data.get("advisory", []):
        if not isinstance(entry.get("id"), str):
            raise InputError(f"{path}: an [[advisory]] entry has no 'id': {entry}")
        check_snapshot_entry(path, entry, "advisory")
    for entry in data.get("draft", []):
        check_snapshot_entry(path, entry, "draft")
    return data


def load_ignore(path):
    """Return {advisory id: reason} from the ignore file, or {} when the file is missing."""
    if not Path(path).exists():
        return {}
    data = load_toml(path, "ignore file")
    ignored = {}
    for entry in data.get("ignore", []):
        advisory_id, reason = entry.get("id"), entry.get("reason")
        if not isinstance(advisory_id, str) or not isinstance(reason, str) or not reason.strip():
            raise InputError(f"{path}: every [[ignore]] entry needs an 'id' and a non-empty 'reason': {entry}")
        ignored[advisory_id] = reason.strip()
    return ignored


# --------------------------------------------------------------------------
# Checks. Each returns (failures, warnings) as lists of lines.


def check_advisories(locks, snapshot, ignored):
    failures, warnings = [], []
    covered = set(snapshot["snapshot"]["crates"])
    by_package = {}
    for entry in snapshot.get("advisory", []):
        by_package.setdefault(entry["package"], []).append(("advisory", entry))
    for entry in snapshot.get("draft", []):
        by_package.setdefault(entry["package"], []).append(("draft", entry))
    used_ignores = set()

    # One line per crate version, naming every lock file that pins it.
    pinned = {}
    for lock, packages in locks:
        for name, version_text, source in packages:
            if source in CRATES_IO_SOURCES:  # path packages are this repository's own
                pinned.setdefault((name, version_text), []).append(display_path(lock))

    for (name, version_text), lock_names in sorted(pinned.items()):
        lock = ", ".join(lock_names)
        where = f"{name} {version_text} ({lock})"
        if name not in covered:
            failures.append(f"not covered: {where}: the snapshot has no record of this crate; refresh it")
            continue
        try:
            version = parse_version(version_text)
        except ValueError as error:
            raise InputError(f"{lock_names[0]}: {name}: {error}") from None
        for kind, entry in by_package.get(name, []):
            if entry.get("withdrawn") or not is_affected(entry, version):
                continue
            if kind == "draft":
                warnings.append(
                    f"draft: {where}: matches an advisory draft that never got an id "
                    f"({entry['path']}, dated {entry['date']}); not treated as an advisory"
                )
                continue
            advisory_id = entry["id"]
            patched = " or ".join(entry.get("patched", [])) or "no version"
            label = f"{advisory_id} dated {entry['date']}, patched: {patched}"
            if entry.get("informational"):
                warnings.append(f"{entry['informational']}: {where}: {label}")
            elif advisory_id in ignored:
                used_ignores.add(advisory_id)
                warnings.append(f"ignored: {where}: {label}; reason: {ignored[advisory_id]}")
            else:
                failures.append(f"vulnerable: {where}: {label}")

    for advisory_id in sorted(set(ignored) - used_ignores):
        warnings.append(f"unused ignore: {advisory_id} matches no locked version; remove it from the ignore file")
    return failures, warnings


def check_sources(locks):
    failures = []
    for lock, packages in locks:
        for name, version, source in packages:
            if source is not None and source not in CRATES_IO_SOURCES:
                failures.append(f"source: {name} {version} ({display_path(lock)}) comes from {source}, not crates.io")
    return failures


def split_license_expression(text):
    tokens = re.findall(r"\(|\)|[^\s()]+", text.replace("/", " OR "))
    return tokens


def license_satisfied(text, allowed):
    """Return whether an SPDX licence expression can be met with the allowed licences.

    `A OR B` needs one side, `A AND B` both, and `A WITH exception` is allowed
    when the whole term is listed. The legacy `A/B` form means `A OR B`.
    Raises ValueError for an expression that does not parse.
    """
    tokens = split_license_expression(text)
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take():
        nonlocal position
        if position >= len(tokens):
            raise ValueError(f"invalid licence expression '{text}': it ends early")
        position += 1
        return tokens[position - 1]

    def parse_or():
        result = parse_and()
        while peek() == "OR":
            take()
            result = parse_and() or result
        return result

    def parse_and():
        result = parse_term()
        while peek() == "AND":
            take()
            result = parse_term() and result
        return result

    def parse_term():
        token = take()
        if token == "(":
            result = parse_or()
            if take() != ")":
                raise ValueError(f"invalid licence expression '{text}': unbalanced parentheses")
            return result
        if token in ("OR", "AND", "WITH", ")"):
            raise ValueError(f"invalid licence expression '{text}': unexpected '{token}'")
        if peek() == "WITH":
            take()
            token = f"{token} WITH {take()}"
        return token.removesuffix("+") in allowed or token in allowed

    result = parse_or()
    if position != len(tokens):
        raise ValueError(f"invalid licence expression '{text}': unexpected '{tokens[position]}'")
    return result


def load_license_policy(deny_path):
    deny = load_toml(deny_path, "cargo-deny configuration")
    licenses = deny.get("licenses", {})
    allowed = set(licenses.get("allow", []))
    exceptions = {}
    for exception in licenses.get("exceptions", []):
        exceptions.setdefault(exception.get("crate") or exception.get("name"), set()).update(exception.get("allow", []))
    return allowed, exceptions


def cargo_metadata(manifest):
    """Return `cargo metadata` for a manifest, over every target platform and feature.

    Crates of other platforms (Windows ones, say) are never built here, so
    cargo may download them from crates.io to read their licence.
    """
    command = ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features",
               "--manifest-path", str(manifest)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise InputError(f"{manifest}: '{' '.join(command)}' failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def check_licenses(manifests, deny_path):
    allowed, exceptions = load_license_policy(deny_path)
    failures = []
    for manifest in manifests:
        metadata = cargo_metadata(manifest)
        for package in metadata["packages"]:
            where = f"{package['name']} {package['version']} ({display_path(manifest)})"
            if package["source"] is None and package.get("publish") == []:
                continue  # unpublished path crates of this repository (the fuzz harness)
            expression = package.get("license")
            if not expression:
                failures.append(f"licence: {where} declares no SPDX licence expression")
                continue
            try:
                ok = license_satisfied(expression, allowed | exceptions.get(package["name"], set()))
            except ValueError as error:
                failures.append(f"licence: {where}: {error}")
                continue
            if not ok:
                failures.append(f"licence: {where} is '{expression}', which deny.toml does not allow")
            for dependency in package["dependencies"]:
                if dependency["req"] == "*" and dependency.get("source") in CRATES_IO_SOURCES:
                    failures.append(f"wildcard: {where} depends on {dependency['name']} at version '*'")
    return failures


# --------------------------------------------------------------------------
# Commands.


def locked_crate_names(locks):
    return sorted({name for _, packages in locks for name, _, source in packages if source in CRATES_IO_SOURCES})


def command_check(args):
    locks = [(path, load_lock(path)) for path in args.lock]
    snapshot = load_snapshot(args.snapshot)
    ignored = load_ignore(args.ignore)

    failures, warnings = check_advisories(locks, snapshot, ignored)
    failures += check_sources(locks)
    if not args.skip_licenses:
        failures += check_licenses(args.manifest, args.deny)

    for line in warnings:
        print(f"supply-chain: warning: {line}")
    for line in failures:
        print(f"supply-chain: FAILED: {line}")
    meta = snapshot["snapshot"]
    packages = sum(len(packages) for _, packages in locks)
    print(
        f"supply-chain: {packages} locked packages in {len(locks)} lock files; "
        f"{len(snapshot.get('advisory', []))} advisories in the snapshot "
        f"(advisories up to {meta.get('newest_advisory_date', 'an unknown date')}); "
        f"findings: {len(failures)}, warnings: {len(warnings)}"
        + ("; licences not checked" if args.skip_licenses else "")
    )
    return 1 if failures else 0


def command_crates(args):
    locks = [(path, load_lock(path)) for path in args.lock]
    covered = set()
    if Path(args.snapshot).exists():
        covered = set(load_snapshot(args.snapshot)["snapshot"]["crates"])
    for name in locked_crate_names(locks):
        print(name if name in covered else f"{name} new")
    return 0


FRONT_MATTER_RE = re.compile(r"^```toml\n(.*?)\n```", re.DOTALL)


def read_advisory(path):
    """Return the [advisory] and [versions] facts of an advisory-db .md file."""
    match = FRONT_MATTER_RE.match(path.read_text(encoding="utf-8"))
    if not match:
        raise InputError(f"{path}: no ```toml front matter at the start")
    try:
        data = tomllib.loads(match.group(1))
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path}: invalid TOML front matter: {error}") from None
    advisory, versions = data.get("advisory", {}), data.get("versions", {})
    facts = {
        "id": advisory.get("id"),
        "package": advisory.get("package"),
        "date": str(advisory.get("date")),
        "informational": advisory.get("informational"),
        "withdrawn": str(advisory["withdrawn"]) if "withdrawn" in advisory else None,
        "aliases": advisory.get("aliases", []),
        "patched": versions.get("patched", []),
        "unaffected": versions.get("unaffected", []),
    }
    return facts


def toml_string(text):
    return json.dumps(text, ensure_ascii=False)


def toml_list(items):
    return "[" + ", ".join(toml_string(item) for item in items) + "]"


def git_head(db):
    result = subprocess.run(["git", "-C", str(db), "log", "-1", "--format=%H %cs"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return None, None
    commit, date = result.stdout.split()
    return commit, date


def command_refresh(args):
    db = Path(args.db)
    if not (db / "crates").is_dir():
        raise InputError(f"{db}: not a clone of the RustSec advisory database (no crates/ directory)")
    locks = [(path, load_lock(path)) for path in args.lock]
    names = locked_crate_names(locks)
    commit, commit_date = git_head(db)

    advisories, drafts = [], []
    newest = ""
    for path in sorted(db.glob("crates/*/*.md")):
        facts = read_advisory(path)
        newest = max(newest, facts["date"])
        if path.parent.name not in names:
            continue
        facts["path"] = path.relative_to(db).as_posix()
        (drafts if (facts["id"] or "").startswith("RUSTSEC-0000-") else advisories).append(facts)

    lines = [
        "# RustSec advisories for the crates.io crates in Cargo.lock and fuzz/Cargo.lock,",
        "# read by scripts/supply-chain.py. Facts only: each entry names its source file",
        "# in the advisory database for the description. docs/SECURITY.md says how to",
        "# refresh this file and what its dates mean.",
        "",
        "[snapshot]",
        f"source = {toml_string('https://github.com/rustsec/advisory-db')}",
        f"method = {toml_string('scripts/supply-chain.py refresh from a local clone')}",
        f"taken = {toml_string(datetime.date.today().isoformat())}",
        f"commit = {toml_string(commit or 'unknown')}",
        f"commit_date = {toml_string(commit_date or 'unknown')}",
        f"newest_advisory_date = {toml_string(newest or 'unknown')}",
        "# Every crate name looked up, with or without advisories.",
        "crates = [",
    ]
    lines += [f"    {toml_string(name)}," for name in names]
    lines.append("]")
    for kind, entries in (("advisory", advisories), ("draft", drafts)):
        for facts in sorted(entries, key=lambda entry: (entry["package"], entry["path"])):
            lines += ["", f"[[{kind}]]"]
            if kind == "advisory":
                lines.append(f"id = {toml_string(facts['id'])}")
            lines += [f"package = {toml_string(facts['package'])}", f"date = {toml_string(facts['date'])}"]
            for key in ("informational", "withdrawn"):
                if facts[key]:
                    lines.append(f"{key} = {toml_string(facts[key])}")
            lines += [
                f"aliases = {toml_list(facts['aliases'])}",
                f"patched = {toml_list(facts['patched'])}",
                f"unaffected = {toml_list(facts['unaffected'])}",
                f"path = {toml_string(facts['path'])}",
            ]
            if commit:
                lines.append(f"commit = {toml_string(commit)}")
    Path(args.snapshot).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"supply-chain: wrote {args.snapshot}: {len(names)} crates, "
          f"{len(advisories)} advisories, {len(drafts)} drafts")
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description="Offline supply-chain check for exflow.")
    parser.add_argument("command", nargs="?", default="check", choices=["check", "crates", "refresh"])
    parser.add_argument("--lock", action="append", type=Path,
                        help="a Cargo.lock to read (repeatable; default Cargo.lock and fuzz/Cargo.lock)")
    parser.add_argument("--manifest", action="append", type=Path,
                        help="a Cargo.toml whose dependency licences to check (repeatable; "
                             "default Cargo.toml and fuzz/Cargo.toml)")
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT, help="the advisory snapshot")
    parser.add_argument("--ignore", type=Path, default=DEFAULT_IGNORE, help="the advisory ignore list")
    parser.add_argument("--deny", type=Path, default=DEFAULT_DENY, help="the cargo-deny configuration")
    parser.add_argument("--skip-licenses", action="store_true", help="check advisories and sources only")
    parser.add_argument("--db", type=Path, help="refresh: a local clone of the RustSec advisory database")
    args = parser.parse_args(argv)
    args.lock = args.lock or DEFAULT_LOCKS
    args.manifest = args.manifest or DEFAULT_MANIFESTS
    try:
        if args.command == "crates":
            return command_crates(args)
        if args.command == "refresh":
            if args.db is None:
                parser.error("refresh needs --db PATH, a local clone of the RustSec advisory database")
            return command_refresh(args)
        return command_check(args)
    except InputError as error:
        print(f"supply-chain: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
