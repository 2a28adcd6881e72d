//! Which TCP ports a process group listens on, read from /proc: the sockets its processes hold
//! (`/proc/<pid>/fd`) matched against the kernel's listening sockets (`/proc/net/tcp`, `tcp6`).
//! Used to tell a user where their app listens when it is not where the sidecar looks, and when it
//! listens where other dynos can reach it.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A listening socket: its address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Listening {
    pub(crate) ip: IpAddr,
    pub(crate) port: u16,
}

impl fmt::Display for Listening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

impl Listening {
    /// Whether the socket listens on every interface (`0.0.0.0` or `::`), not one address.
    pub(crate) fn is_wildcard(&self) -> bool {
        self.ip.is_unspecified()
    }
}

/// Where the processes of group `pgid` listen, sorted; empty when nowhere (or unreadable).
pub(crate) fn listening_ports(pgid: i32) -> Vec<Listening> {
    let inodes = socket_inodes(pgid);
    if inodes.is_empty() {
        return Vec::new();
    }
    every_listener(|inode| inodes.contains(&inode))
}

/// Every listening socket on `port`, whoever holds it, sorted.
pub(crate) fn listening_on(port: u16) -> Vec<Listening> {
    let mut found = every_listener(|_| true);
    found.retain(|at| at.port == port);
    found
}

/// The machine's listening sockets whose inode `keep` accepts, sorted and without repeats.
fn every_listener(keep: impl Fn(u64) -> bool) -> Vec<Listening> {
    let found: BTreeSet<Listening> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .into_iter()
        .filter_map(|table| fs::read_to_string(table).ok())
        .flat_map(|table| listening(&table))
        .filter(|(_, inode)| keep(*inode))
        .map(|(at, _)| at)
        .collect();
    found.into_iter().collect()
}

/// The socket inodes held by the processes whose process group is `pgid`.
fn socket_inodes(pgid: i32) -> BTreeSet<u64> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| process_group(*pid) == Some(pgid))
        .flat_map(|pid| {
            fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
        })
        .flatten()
        .filter_map(|fd| {
            let target = fs::read_link(fd.path()).ok()?;
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

fn process_group(pid: u32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command, which is in parentheses and may hold spaces: state, ppid, pgrp.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    rest.split(' ').nth(2)?.parse().ok()
}

/// The address and inode of each listening socket in a /proc/net/tcp-style table.
fn listening(table: &str) -> Vec<(Listening, u64)> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            if *state != LISTEN {
                return None;
            }
            let (ip, port) = local.split_once(':')?;
            let at = Listening {
                ip: kernel_ip(ip)?,
                port: u16::from_str_radix(port, 16).ok()?,
            };
            Some((at, inode.parse().ok()?))
        })
        .collect()
}

/// An address as /proc/net/tcp{,6} print it: hex, each 32-bit word in host (little-endian) order.
fn kernel_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let value = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(value.to_le_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_listening_sockets_from_a_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 67890 1 0000000000000000 100 0 0 10 0\n";
        let at = Listening {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 3000,
        };
        assert_eq!(listening(table), [(at, 12345)]);
        assert_eq!(at.to_string(), "127.0.0.1:3000");
        let v6 = "00000000000000000000000001000000";
        assert_eq!(kernel_ip(v6), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn finds_the_port_this_process_listens_on() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let pgid = nix::unistd::getpgrp().as_raw();
        assert!(listening_ports(pgid).iter().any(|l| l.port == port));
    }
}
