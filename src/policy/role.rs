//! Roles an address can carry, and the small bitset that stores them.

use std::fmt;

/// A role from the site inventory, or `internet`/`internal` for an address that
/// has no listed role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// An unlisted address outside the site's internal and perimeter networks.
    Internet,
    /// An unlisted address inside the site's networks.
    Internal,
    ClientAccess,
    Mailbox,
    EdgeTransport,
    Dns,
    DomainController,
    Lync,
    /// The proxy that sender reputation on the Edge Transport server uses.
    Proxy,
}

impl Role {
    /// Every role, in the order `RoleSet::names` lists them.
    pub const ALL: [Role; 9] = [
        Role::Internet,
        Role::Internal,
        Role::ClientAccess,
        Role::Mailbox,
        Role::EdgeTransport,
        Role::Dns,
        Role::DomainController,
        Role::Lync,
        Role::Proxy,
    ];

    /// The roles a site file lists under `[roles]`.
    pub const LISTED: [Role; 7] = [
        Role::ClientAccess,
        Role::Mailbox,
        Role::EdgeTransport,
        Role::Dns,
        Role::DomainController,
        Role::Lync,
        Role::Proxy,
    ];

    /// Returns the role's name in site files, rules files and flow records.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Internet => "internet",
            Role::Internal => "internal",
            Role::ClientAccess => "client_access",
            Role::Mailbox => "mailbox",
            Role::EdgeTransport => "edge_transport",
            Role::Dns => "dns",
            Role::DomainController => "domain_controller",
            Role::Lync => "lync",
            Role::Proxy => "proxy",
        }
    }

    /// Parses a role name.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }

    /// Returns true for the three Exchange roles the matrix judges
    /// (`client_access`, `mailbox`, `edge_transport`).
    pub fn is_exchange(self) -> bool {
        matches!(
            self,
            Role::ClientAccess | Role::Mailbox | Role::EdgeTransport
        )
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of roles, plus two facts about the address that the verdict needs.
///
/// Bits 0 to 8 hold the [`Role`]s. [`RoleSet::INSIDE_SITE`] marks an address
/// inside the site's internal or perimeter networks; [`RoleSet::EDGE_SUBSCRIBED`]
/// marks a Mailbox server that takes part in EdgeSync. Neither flag is a role:
/// [`RoleSet::names`] leaves them out.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RoleSet(u16);

impl RoleSet {
    pub const EMPTY: RoleSet = RoleSet(0);
    /// The address is inside `networks.internal` or `networks.perimeter`.
    pub const INSIDE_SITE: RoleSet = RoleSet(1 << 14);
    /// The address is a Mailbox server in the subscribed Active Directory site.
    pub const EDGE_SUBSCRIBED: RoleSet = RoleSet(1 << 15);

    const ROLE_BITS: u16 = (1 << Role::ALL.len()) - 1;
    const EXCHANGE_BITS: u16 = (1 << Role::ClientAccess as u16)
        | (1 << Role::Mailbox as u16)
        | (1 << Role::EdgeTransport as u16);

    pub fn of(role: Role) -> RoleSet {
        RoleSet(role.bit())
    }

    pub fn from_roles(roles: impl IntoIterator<Item = Role>) -> RoleSet {
        let mut set = RoleSet::EMPTY;
        for role in roles {
            set.insert(role);
        }
        set
    }

    pub fn insert(&mut self, role: Role) {
        self.0 |= role.bit();
    }

    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Returns true when the two sets share a role (flags are ignored).
    pub fn intersects(self, other: RoleSet) -> bool {
        self.0 & other.0 & Self::ROLE_BITS != 0
    }

    /// Returns true when the set has no role (flags are ignored).
    pub fn is_empty(self) -> bool {
        self.0 & Self::ROLE_BITS == 0
    }

    /// Returns true when the set contains `client_access`, `mailbox` or
    /// `edge_transport`.
    pub fn has_exchange(self) -> bool {
        self.0 & Self::EXCHANGE_BITS != 0
    }

    pub fn is_inside_site(self) -> bool {
        self.0 & Self::INSIDE_SITE.0 != 0
    }

    pub fn is_edge_subscribed(self) -> bool {
        self.0 & Self::EDGE_SUBSCRIBED.0 != 0
    }

    /// Returns the set with the flags of `flags` added.
    pub fn with_flags(self, flags: RoleSet) -> RoleSet {
        RoleSet(self.0 | (flags.0 & !Self::ROLE_BITS))
    }

    /// Returns the union of both sets, flags included.
    pub fn union(self, other: RoleSet) -> RoleSet {
        RoleSet(self.0 | other.0)
    }

    /// Returns the roles only, without the flags.
    pub fn roles_only(self) -> RoleSet {
        RoleSet(self.0 & Self::ROLE_BITS)
    }

    /// Iterates over the roles in [`Role::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL
            .into_iter()
            .filter(move |role| self.contains(*role))
    }

    /// Iterates over the role names for the record's `client.roles` and
    /// `server.roles`.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.iter().map(Role::as_str)
    }

    /// Returns the number of roles in the set.
    pub fn len(self) -> usize {
        (self.0 & Self::ROLE_BITS).count_ones() as usize
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_set();
        list.entries(self.names());
        if self.is_inside_site() {
            list.entry(&"+inside_site");
        }
        if self.is_edge_subscribed() {
            list.entry(&"+edge_subscribed");
        }
        list.finish()
    }
}

impl FromIterator<Role> for RoleSet {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> RoleSet {
        RoleSet::from_roles(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.as_str()), Some(role));
        }
        assert_eq!(Role::from_name("edge"), None);
    }

    #[test]
    fn names_leave_out_flags() {
        let set = RoleSet::from_roles([Role::Mailbox, Role::ClientAccess])
            .with_flags(RoleSet::INSIDE_SITE)
            .with_flags(RoleSet::EDGE_SUBSCRIBED);
        let names: Vec<_> = set.names().collect();
        assert_eq!(names, ["client_access", "mailbox"]);
        assert!(set.is_inside_site());
        assert!(set.is_edge_subscribed());
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn flags_do_not_intersect() {
        let a = RoleSet::INSIDE_SITE;
        let b = RoleSet::of(Role::Dns).with_flags(RoleSet::INSIDE_SITE);
        assert!(!a.intersects(b));
        assert!(a.is_empty());
        assert!(!b.is_empty());
    }

    #[test]
    fn exchange_roles() {
        assert!(RoleSet::of(Role::EdgeTransport).has_exchange());
        assert!(!RoleSet::from_roles([Role::Dns, Role::DomainController]).has_exchange());
    }
}
