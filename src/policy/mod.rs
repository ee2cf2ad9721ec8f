//! The Exchange 2013 matrix and the site inventory: rules and site files, role
//! lookup by address, and the verdict for each flow. This module never sees
//! packet bytes, only finished flows.
