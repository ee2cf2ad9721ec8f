//! Rebuilds the crate when a message table changes: rust-i18n reads
//! `locales/*.yml` at compile time but does not tell cargo about them.

fn main() {
    println!("cargo:rerun-if-changed=locales");
}
