//! The page's background workload: clients reading a few cart keys through random running
//! nodes, and mostly adding an item to what they read (a get, then a put with its context). Its requests are ordinary actions, logged like a click, so a link to a run
//! with the workload on replays it exactly.

/// Virtual milliseconds between two requests.
const THINK_MS: u64 = 150;
const KEYS: [&str; 8] = [
    "cart:alice",
    "cart:bob",
    "cart:carol",
    "cart:dave",
    "cart:erin",
    "cart:frank",
    "cart:grace",
    "cart:heidi",
];
const ITEMS: [&str; 6] = ["book", "lamp", "pen", "mug", "sock", "kite"];

pub struct Workload {
    state: u64,
    next_at_ms: u64,
}

impl Workload {
    pub fn new(seed: u64, now_ms: u64) -> Workload {
        Workload { state: seed | 1, next_at_ms: now_ms }
    }

    /// xorshift64: the workload's choices need no more, and any sequence is as good.
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// The requests due by `now_ms`, at most a few per call, each through one of `running`:
    /// (via, key, the item to add after reading, if any).
    pub fn due(&mut self, now_ms: u64, running: &[u32]) -> Vec<(u32, String, Option<&'static str>)> {
        let mut requests = Vec::new();
        for _ in 0..4 {
            if running.is_empty() || self.next_at_ms > now_ms {
                break;
            }
            self.next_at_ms += THINK_MS;
            let via = running[(self.next() % running.len() as u64) as usize];
            let key = KEYS[(self.next() % KEYS.len() as u64) as usize].to_string();
            let item =
                (!self.next().is_multiple_of(3)).then(|| ITEMS[(self.next() % ITEMS.len() as u64) as usize]);
            requests.push((via, key, item));
        }
        self.next_at_ms = self.next_at_ms.max(now_ms);
        requests
    }
}
