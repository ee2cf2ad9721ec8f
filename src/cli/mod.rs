//! Command-line definitions. Clap types stay in this module; the rest of the
//! crate sees one validated configuration per command.
