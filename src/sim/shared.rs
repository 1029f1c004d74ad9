//! What the copies of a run that `dynamoscope explore` keeps share, and the page owns outright.
//!
//! Natively a part that a transition rarely changes (a node's process, a queued event, a
//! crashed node's disk, the scenario's actions) is an `Rc`: cloning a state copies none of them,
//! and a state copies a part only when it changes it. The page never clones its fabric, so
//! there the same part is a plain `Box`, and no sharing code enters its wasm.

#[cfg(not(target_arch = "wasm32"))]
pub type Shared<T> = std::rc::Rc<T>;
#[cfg(target_arch = "wasm32")]
pub type Shared<T> = Box<T>;

/// The part, to change it: natively copied first if another kept state shares it.
pub fn make_mut<T: Clone>(shared: &mut Shared<T>) -> &mut T {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::rc::Rc::make_mut(shared)
    }
    #[cfg(target_arch = "wasm32")]
    {
        shared
    }
}

/// The part itself, taken out: natively copied only if another kept state shares it.
// In the page the part comes boxed because that is how it is held.
#[cfg_attr(target_arch = "wasm32", allow(clippy::boxed_local))]
pub fn into_owned<T: Clone>(shared: Shared<T>) -> T {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::rc::Rc::try_unwrap(shared).unwrap_or_else(|shared| T::clone(&shared))
    }
    #[cfg(target_arch = "wasm32")]
    {
        *shared
    }
}
