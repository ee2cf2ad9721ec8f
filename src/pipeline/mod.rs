//! The one composer: frames through decode, flow tracking, fingerprints and
//! policy into records. It owns the worker threads and the sharding of flows.
