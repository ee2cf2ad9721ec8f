//! exflow: a passive traffic classifier that judges captured flows against the
//! network paths Exchange Server 2013 documents for its roles.
//!
//! Data moves one way: [`capture`] yields frames, [`decode`] turns them into
//! packets, [`flow`] tracks flows and reassembles their first bytes,
//! [`fingerprint`] names the protocol from the payload, [`policy`] gives each flow
//! its verdict, and [`report`] writes records. [`pipeline`] composes the stages.

#![forbid(unsafe_code)]

rust_i18n::i18n!("locales", fallback = "en");

pub mod capture;
pub mod cli;
pub mod decode;
pub mod discover;
pub mod filter;
pub mod fingerprint;
pub mod flow;
pub mod i18n;
pub mod pipeline;
pub mod policy;
pub mod report;
