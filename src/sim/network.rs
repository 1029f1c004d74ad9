//! The network model: per-link latency from a distribution, loss, duplication and reordering,
//! all drawn from the fabric's seeded generator.

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

/// One-way latency of a message. In scenario files it is `{"kind": "uniform", ...}`; compact
/// binary formats (a page's share link) cannot read such tags, so they get a plain enum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    Fixed {
        ms: u64,
    },
    Uniform {
        min_ms: u64,
        max_ms: u64,
    },
    /// Long-tailed: exp(N(ln median, sigma)), clamped to at most `max_ms`.
    LogNormal {
        median_ms: u64,
        sigma: f64,
        max_ms: u64,
    },
}

/// [`Latency`] as scenario files write it.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum TaggedLatency {
    Fixed { ms: u64 },
    Uniform { min_ms: u64, max_ms: u64 },
    LogNormal { median_ms: u64, sigma: f64, max_ms: u64 },
}

/// [`Latency`] for binary formats.
#[derive(Serialize, Deserialize)]
enum PlainLatency {
    Fixed { ms: u64 },
    Uniform { min_ms: u64, max_ms: u64 },
    LogNormal { median_ms: u64, sigma: f64, max_ms: u64 },
}

macro_rules! convert_latency {
    ($from:ident, $to:ident, $value:expr) => {
        match $value {
            $from::Fixed { ms } => $to::Fixed { ms },
            $from::Uniform { min_ms, max_ms } => $to::Uniform { min_ms, max_ms },
            $from::LogNormal { median_ms, sigma, max_ms } => $to::LogNormal { median_ms, sigma, max_ms },
        }
    };
}

impl Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            convert_latency!(Latency, TaggedLatency, *self).serialize(serializer)
        } else {
            convert_latency!(Latency, PlainLatency, *self).serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            Ok(convert_latency!(TaggedLatency, Latency, TaggedLatency::deserialize(deserializer)?))
        } else {
            Ok(convert_latency!(PlainLatency, Latency, PlainLatency::deserialize(deserializer)?))
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    pub latency: Latency,
    /// Chance, in parts per million, that a message is lost.
    pub loss_ppm: u32,
    /// Chance, in parts per million, that a message is delivered twice.
    pub duplicate_ppm: u32,
    /// Chance, in parts per million, that a message is held back by up to one extra latency,
    /// so that it overtakes or is overtaken by others on its link.
    pub reorder_ppm: u32,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            latency: Latency::Uniform { min_ms: 2, max_ms: 8 },
            loss_ppm: 0,
            duplicate_ppm: 0,
            reorder_ppm: 0,
        }
    }
}

pub const PPM: u32 = 1_000_000;
pub const LATENCY_MS_MAX: u64 = 60_000;

impl NetworkConfig {
    /// Checks every setting; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, value) in [
            ("loss_ppm", self.loss_ppm),
            ("duplicate_ppm", self.duplicate_ppm),
            ("reorder_ppm", self.reorder_ppm),
        ] {
            if value > PPM {
                return Err(format!("network.{field}: at most {PPM} (certain), not {value}"));
            }
        }
        match self.latency {
            Latency::Fixed { ms } if ms == 0 || ms > LATENCY_MS_MAX => {
                Err(format!("network.latency.ms: 1 to {LATENCY_MS_MAX}, not {ms}"))
            }
            Latency::Uniform { min_ms, max_ms } if min_ms == 0 || min_ms > max_ms || max_ms > LATENCY_MS_MAX => Err(
                format!("network.latency: need 1 <= min_ms <= max_ms <= {LATENCY_MS_MAX}, not {min_ms}..{max_ms}"),
            ),
            Latency::LogNormal { median_ms, sigma, max_ms }
                if median_ms == 0
                    || max_ms < median_ms
                    || max_ms > LATENCY_MS_MAX
                    || !sigma.is_finite()
                    || !(0.0..=4.0).contains(&sigma) =>
            {
                Err(format!(
                    "network.latency: log-normal needs 1 <= median_ms <= max_ms <= {LATENCY_MS_MAX} and sigma 0 to 4"
                ))
            }
            _ => Ok(()),
        }
    }

    pub fn sample_latency_ms(&self, rng: &mut ChaCha8Rng) -> u64 {
        let latency_ms = match self.latency {
            Latency::Fixed { ms } => ms,
            Latency::Uniform { min_ms, max_ms } => min_ms + rng.next_u64() % (max_ms - min_ms + 1),
            Latency::LogNormal { median_ms, sigma, max_ms } => {
                let normal = standard_normal(rng);
                let sample = libm::exp(libm::log(median_ms as f64) + sigma * normal);
                (libm::round(sample) as u64).clamp(1, max_ms)
            }
        };
        if chance(rng, self.reorder_ppm) {
            latency_ms + rng.next_u64() % (latency_ms + 1)
        } else {
            latency_ms
        }
    }
}

/// True with probability `ppm` / 1,000,000. Draws nothing when the chance is zero, so turning
/// a fault off does not shift every later random choice.
pub fn chance(rng: &mut ChaCha8Rng, ppm: u32) -> bool {
    ppm > 0 && (rng.next_u32() % PPM) < ppm
}

/// Box–Muller with the portable libm, so x86_64 and wasm32 agree bit for bit.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let uniform_a = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let uniform_b = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    libm::sqrt(-2.0 * libm::log(uniform_a)) * libm::cos(std::f64::consts::TAU * uniform_b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn latencies_stay_in_their_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let uniform =
            NetworkConfig { latency: Latency::Uniform { min_ms: 3, max_ms: 5 }, ..NetworkConfig::default() };
        for _ in 0..1_000 {
            assert!((3..=5).contains(&uniform.sample_latency_ms(&mut rng)));
        }
        let long_tail = NetworkConfig {
            latency: Latency::LogNormal { median_ms: 10, sigma: 1.0, max_ms: 500 },
            ..NetworkConfig::default()
        };
        let mut samples: Vec<u64> = (0..10_000).map(|_| long_tail.sample_latency_ms(&mut rng)).collect();
        samples.sort_unstable();
        assert!((8..=12).contains(&samples[5_000]), "median near 10 ms: {}", samples[5_000]);
        assert!(samples[9_990] > 50, "a long tail: p99.9 = {}", samples[9_990]);
        assert!(samples.iter().all(|sample| (1..=500).contains(sample)));
    }

    #[test]
    fn bad_settings_name_their_field() {
        let config = NetworkConfig { loss_ppm: PPM + 1, ..NetworkConfig::default() };
        assert!(config.validate().unwrap_err().contains("network.loss_ppm"));
        let config =
            NetworkConfig { latency: Latency::Uniform { min_ms: 9, max_ms: 3 }, ..NetworkConfig::default() };
        assert!(config.validate().unwrap_err().contains("min_ms <= max_ms"));
    }

    #[test]
    fn latency_reads_back_from_scenario_json_and_from_compact_bytes() {
        let long_tail = Latency::LogNormal { median_ms: 10, sigma: 0.8, max_ms: 200 };
        let json = serde_json::to_string(&long_tail).unwrap();
        assert_eq!(json, r#"{"kind":"log_normal","median_ms":10,"sigma":0.8,"max_ms":200}"#);
        assert_eq!(serde_json::from_str::<Latency>(&json).unwrap(), long_tail);
        let network = NetworkConfig { latency: long_tail, loss_ppm: 7, ..NetworkConfig::default() };
        let bytes = postcard::to_allocvec(&network).unwrap();
        assert_eq!(postcard::from_bytes::<NetworkConfig>(&bytes).unwrap(), network);
    }
}
