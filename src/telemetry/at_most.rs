//! "At most once a minute": the rate of the warnings a flood could otherwise repeat (lost spans,
//! a caller's protocol errors).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Says whether a warning is due: the first time, then once every `every` at most.
pub(crate) struct AtMostEvery {
    every: Duration,
    last: Mutex<Option<Instant>>,
}

impl AtMostEvery {
    pub(crate) const fn new(every: Duration) -> AtMostEvery {
        AtMostEvery {
            every,
            last: Mutex::new(None),
        }
    }

    /// Whether a warning is due now (and if so, the next is `every` away). A caller that finds
    /// another deciding at this moment is told no: that other one says it.
    pub(crate) fn due(&self) -> bool {
        let Ok(mut last) = self.last.try_lock() else {
            return false;
        };
        if last.is_some_and(|at| at.elapsed() < self.every) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_is_due_then_none_until_the_interval_has_passed() {
        let minute = AtMostEvery::new(Duration::from_secs(60));
        assert!(minute.due());
        assert!(!minute.due());
        let none = AtMostEvery::new(Duration::ZERO);
        assert!(none.due());
        assert!(none.due());
    }
}
