//! The deterministic simulator: the fabric that owns virtual time and the network, and drives
//! [`crate::protocol`] nodes natively. Knows nothing of the browser.
