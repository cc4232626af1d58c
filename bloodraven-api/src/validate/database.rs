//! Semantic rules of `MysqlDatabase`: privilege combinations, reserved names and the host grammar.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Violation, field, index};
use crate::database::{MysqlDatabaseSpec, MysqlPrivilege};

const RESERVED_SCHEMAS: [&str; 4] = ["mysql", "sys", "information_schema", "performance_schema"];

/// Every rule of a `MysqlDatabase` spec found at `path`.
pub(crate) fn database(spec: &MysqlDatabaseSpec, path: &str, out: &mut Vec<Violation>) {
    let lower = spec.database_name.to_ascii_lowercase();
    if RESERVED_SCHEMAS.contains(&lower.as_str()) {
        out.push(Violation::new(
            field(path, "databaseName"),
            format!(
                "{:?} is a MySQL system schema: choose another name",
                spec.database_name
            ),
        ));
    }
    let owner = field(path, "owner");
    if let Some(privileges) = &spec.owner.privileges {
        all_privileges_alone(privileges, &field(&owner, "privileges"), out);
    }
    hosts(spec.owner.hosts.as_deref(), &field(&owner, "hosts"), out);
    for (i, grant) in spec.grants.iter().flatten().enumerate() {
        all_privileges_alone(
            &grant.privileges,
            &field(&index(&field(path, "grants"), i), "privileges"),
            out,
        );
    }
    for (i, user) in spec.users.iter().flatten().enumerate() {
        let p = index(&field(path, "users"), i);
        if user.privileges.contains(&MysqlPrivilege::AllPrivileges) {
            out.push(Violation::new(
                field(&p, "privileges"),
                "users may not hold ALL PRIVILEGES (only the owner may): list the privileges the account needs",
            ));
        }
        if user.secret_name == spec.owner.secret_name {
            out.push(Violation::new(
                field(&p, "secretName"),
                format!(
                    "{:?} is the owner's Secret: give each user its own Secret",
                    user.secret_name
                ),
            ));
        }
        hosts(user.hosts.as_deref(), &field(&p, "hosts"), out);
    }
}

fn all_privileges_alone(privileges: &[MysqlPrivilege], path: &str, out: &mut Vec<Violation>) {
    if privileges.contains(&MysqlPrivilege::AllPrivileges) && privileges.len() > 1 {
        out.push(Violation::new(
            path,
            "ALL PRIVILEGES already includes every other privilege: list it alone or drop it",
        ));
    }
}

fn hosts(hosts: Option<&[String]>, path: &str, out: &mut Vec<Violation>) {
    for (i, host) in hosts.unwrap_or_default().iter().enumerate() {
        if !is_valid_host(host) {
            out.push(Violation::new(
                index(path, i),
                format!(
                    "{host:?} is not an accepted host: use %, an IP address, an IPv4 CIDR (10.0.0.0/8), an IPv4 address/netmask or an IPv4 pattern with % and _ (10.0.%)"
                ),
            ));
        }
    }
}

/// The host grammar of database accounts.
pub(crate) fn is_valid_host(host: &str) -> bool {
    if host == "%" || host.parse::<Ipv4Addr>().is_ok() || host.parse::<Ipv6Addr>().is_ok() {
        return true;
    }
    if let Some((addr, mask)) = host.split_once('/') {
        return addr.parse::<Ipv4Addr>().is_ok()
            && (mask
                .parse::<u8>()
                .is_ok_and(|n| n <= 32 && !mask.starts_with('+'))
                || mask.parse::<Ipv4Addr>().is_ok_and(|m| {
                    let bits = u32::from(m);
                    bits.leading_ones() + bits.trailing_zeros() == 32
                }));
    }
    // An IPv4 pattern: up to four dot-separated octets, each digits, `_` or `%` wildcards.
    let parts: Vec<&str> = host.split('.').collect();
    let wildcard = host.contains('%') || host.contains('_');
    wildcard
        && parts.len() <= 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.chars()
                    .all(|c| c.is_ascii_digit() || c == '%' || c == '_')
                && (p.contains(['%', '_']) || p.parse::<u8>().is_ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_grammar() {
        for ok in [
            "%",
            "10.0.0.1",
            "::1",
            "fe80::1",
            "10.0.0.0/8",
            "10.0.0.0/255.255.255.0",
            "10.0.%",
            "10.0.0._",
            "192.168.1%",
        ] {
            assert!(is_valid_host(ok), "{ok}");
        }
        for bad in [
            "example.com",
            "10.0.0.0/33",
            "fe80::/64",
            "10.0.0.0/255.0.255.0",
            "10.0.0",
            "300.0.%",
            "%%%%.1",
            "",
        ] {
            assert!(!is_valid_host(bad), "{bad}");
        }
    }
}
