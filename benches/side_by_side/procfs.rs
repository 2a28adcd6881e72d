//! What a process costs, read from /proc: CPU time, context switches, resident memory.

use std::fs;

/// Clock ticks per second of `utime`/`stime` in /proc/PID/stat (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// A process's counters at one moment.
#[derive(Debug, Default, Clone, Copy)]
pub struct Usage {
    /// User + system CPU seconds of every thread, living or exited.
    pub cpu_seconds: f64,
    /// The user-space part of `cpu_seconds`.
    pub user_seconds: f64,
    /// Voluntary context switches of the living threads.
    pub voluntary_switches: u64,
}

impl std::ops::Sub for Usage {
    type Output = Usage;
    fn sub(self, earlier: Usage) -> Usage {
        Usage {
            cpu_seconds: self.cpu_seconds - earlier.cpu_seconds,
            user_seconds: self.user_seconds - earlier.user_seconds,
            voluntary_switches: self
                .voluntary_switches
                .saturating_sub(earlier.voluntary_switches),
        }
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;
    fn add(self, other: Usage) -> Usage {
        Usage {
            cpu_seconds: self.cpu_seconds + other.cpu_seconds,
            user_seconds: self.user_seconds + other.user_seconds,
            voluntary_switches: self.voluntary_switches + other.voluntary_switches,
        }
    }
}

/// The counters of `pid` (zero if it is gone).
pub fn usage(pid: u32) -> Usage {
    let (cpu_seconds, user_seconds) = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split(' ').collect();
            // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some(((utime + stime) / TICKS_PER_SECOND, utime / TICKS_PER_SECOND))
        })
        .unwrap_or((0.0, 0.0));
    let voluntary_switches = fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .filter_map(|task| fs::read_to_string(task.path().join("status")).ok())
                .filter_map(|status| field(&status, "voluntary_ctxt_switches:"))
                .sum()
        })
        .unwrap_or(0);
    Usage {
        cpu_seconds,
        user_seconds,
        voluntary_switches,
    }
}

/// The summed counters of several processes.
pub fn usage_of(pids: &[u32]) -> Usage {
    pids.iter()
        .map(|pid| usage(*pid))
        .fold(Usage::default(), |a, b| a + b)
}

/// Resident memory of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| field(&status, "VmRSS:"))
        .unwrap_or(0)
}

/// `pid` and its children (nginx's master and worker).
pub fn with_children(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let parent = fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = &stat[stat.rfind(')')? + 2..];
                    rest.split(' ').nth(1)?.parse::<u32>().ok()
                });
            if parent == Some(pid) {
                pids.push(child);
            }
        }
    }
    pids
}

fn field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
}

/// The highest summed RSS of some processes, sampled on a thread of its own until stopped.
pub struct RssPeak {
    sampling: std::sync::Arc<std::sync::atomic::AtomicBool>,
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl RssPeak {
    /// Starts sampling `pids` every `every`.
    pub fn start(pids: Vec<u32>, every: std::time::Duration) -> RssPeak {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let sampling = std::sync::Arc::new(AtomicBool::new(true));
        let peak = std::sync::Arc::new(AtomicU64::new(0));
        let thread = {
            let (sampling, peak) = (sampling.clone(), peak.clone());
            std::thread::spawn(move || {
                while sampling.load(Ordering::Relaxed) {
                    let rss = pids.iter().map(|pid| rss_kib(*pid)).sum();
                    peak.fetch_max(rss, Ordering::Relaxed);
                    std::thread::sleep(every);
                }
            })
        };
        RssPeak {
            sampling,
            peak,
            thread,
        }
    }

    /// Stops sampling; the peak in KiB.
    pub fn stop(self) -> u64 {
        use std::sync::atomic::Ordering;
        self.sampling.store(false, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed)
    }
}
