//! An app that other dynos can reach around the sidecar (docs/behaviour.md §7). In a Private Space
//! every dyno can connect to any port another dyno listens on, so an app listening beyond loopback
//! (on every interface, `0.0.0.0` or `::`, or on the dyno's own address) takes requests that never
//! passed the sidecar, with any headers the caller likes. Heroku sets `HEROKU_PRIVATE_IP` there;
//! the sidecar reads it and the app's listeners, once the app is up, and names the exposure. It
//! never connects to that address.

use crate::app::listeners::{Listening, listening_on, listening_ports};

/// Where the app is exposed, once it is up.
pub(crate) struct Exposure {
    /// The dyno's address in the Private Space (`HEROKU_PRIVATE_IP`).
    pub(crate) private_ip: String,
    /// The app's process group, with an app command; without one, whatever listens on the app's
    /// port is looked at.
    pub(crate) app_group: Option<i32>,
    pub(crate) app_port: u16,
}

impl Exposure {
    /// Logs a warning for each of the app's sockets that other dynos can reach; says so at info
    /// level when there is none, and with a warning when the sockets could not be read.
    pub(crate) async fn warn_if_exposed(self) {
        let (group, port) = (self.app_group, self.app_port);
        // Reading /proc is quick but blocking: not on the runtime's thread.
        let listening = tokio::task::spawn_blocking(move || match group {
            Some(group) => listening_ports(group),
            None => listening_on(port),
        })
        .await
        .unwrap_or_default();
        if listening.is_empty() {
            // The app answered, so it listens somewhere: this is "could not tell", not "safe".
            tracing::warn!(
                "in this Private Space, the app's listening sockets could not be read from /proc: \
                 make sure it listens on 127.0.0.1 only, or other dynos can call it around the sidecar"
            );
            return;
        }
        if reachable(&listening).next().is_none() {
            let addresses: Vec<String> = listening.iter().map(ToString::to_string).collect();
            tracing::info!(
                listening = addresses.join(", ").as_str(),
                "in this Private Space, other dynos cannot call the app around the sidecar: it listens on loopback only"
            );
        }
        for exposed in reachable(&listening) {
            let (how, at) = if exposed.is_wildcard() {
                (
                    "on every interface",
                    format!("{}:{}", self.private_ip, exposed.port),
                )
            } else {
                ("beyond loopback", exposed.to_string())
            };
            tracing::warn!(
                listening = %exposed,
                private_ip = self.private_ip.as_str(),
                "the app listens {how} ({exposed}): in this Private Space other dynos can call it \
                 at {at} around the sidecar, with forged context headers; make the app listen on \
                 127.0.0.1 only (e.g. --host 127.0.0.1 or --bind 127.0.0.1:$PORT)"
            );
        }
    }
}

/// The sockets among `listening` that another machine can connect to: any but loopback.
fn reachable(listening: &[Listening]) -> impl Iterator<Item = &Listening> {
    listening.iter().filter(|at| !at.ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    #[test]
    fn every_socket_beyond_loopback_is_reachable() {
        let at = |ip: IpAddr| Listening { ip, port: 3000 };
        let listening = [
            at(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            at(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))),
            at(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            at(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            at(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            at(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))),
        ];
        let exposed: Vec<String> = reachable(&listening).map(ToString::to_string).collect();
        assert_eq!(exposed, ["0.0.0.0:3000", "[::]:3000", "10.0.0.5:3000"]);
        let wildcards: Vec<bool> = reachable(&listening).map(Listening::is_wildcard).collect();
        assert_eq!(wildcards, [true, true, false]);
    }
}
