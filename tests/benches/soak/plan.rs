//! Where in a rollout the faults strike: a schedule drawn from a seed, so a run replays.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    KillOperator,
    RestartApiServer,
}

/// A fault and where in the rollout it lands.
#[derive(Debug, Clone, Copy)]
pub struct Planned {
    /// The rollout's progress (`Progress::fraction`, 0 to 1) at which it strikes: faults are
    /// placed by progress, not by the clock, so they land inside the rollout however fast this
    /// machine runs it.
    pub at: f64,
    /// A further delay, so a fault does not always strike right after the watch event that
    /// crossed `at` (just after an operator write completed).
    pub jitter: Duration,
    pub fault: Fault,
}

/// `kills` operator kills anywhere in the rollout but its very end (by then little is left to
/// interrupt), and one API server restart in its middle half.
pub fn plan(seed: u64, kills: usize) -> Vec<Planned> {
    let mut rng = Rng(seed);
    let jitter = |rng: &mut Rng| Duration::from_secs_f64(rng.between(0.0, 0.25));
    let mut faults: Vec<Planned> = (0..kills)
        .map(|_| Planned { at: rng.between(0.0, 0.95), jitter: jitter(&mut rng), fault: Fault::KillOperator })
        .collect();
    faults.push(Planned { at: rng.between(0.25, 0.75), jitter: jitter(&mut rng), fault: Fault::RestartApiServer });
    faults.sort_by(|a, b| a.at.total_cmp(&b.at));
    faults
}

/// SplitMix64: a seeded generator in a few lines, so a schedule replays from its seed.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`.
    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
