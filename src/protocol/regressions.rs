//! Test-only switches that put a fixed bug back, so a test can show that `dynamoscope explore`
//! finds it (issue 15). They exist only with the `regressions` feature, which `make test` turns
//! on for the test binaries alone; without it every switch reads false and compiles away.

/// A bug a switch can put back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regression {
    /// Operation ids count rounds from 1 at every boot, without the boot's first instant and
    /// incarnation, so an answer to a round an earlier incarnation started counts toward a
    /// quorum of this one (fixed by [`super::message::OperationId::minted`]).
    RepliesOfEarlierBootsCount,
}

#[cfg(feature = "regressions")]
thread_local! {
    static ON: std::cell::Cell<Option<Regression>> = const { std::cell::Cell::new(None) };
}

/// Whether `regression` is put back on this thread.
#[inline]
pub fn is_on(regression: Regression) -> bool {
    #[cfg(feature = "regressions")]
    {
        ON.with(|on| on.get() == Some(regression))
    }
    #[cfg(not(feature = "regressions"))]
    {
        let _ = regression;
        false
    }
}

/// Puts `regression` back on this thread until the guard is dropped.
#[cfg(feature = "regressions")]
pub fn put_back(regression: Regression) -> Guard {
    ON.with(|on| on.set(Some(regression)));
    Guard(())
}

/// Takes the bug out again when dropped.
#[cfg(feature = "regressions")]
pub struct Guard(());

#[cfg(feature = "regressions")]
impl Drop for Guard {
    fn drop(&mut self) {
        ON.with(|on| on.set(None));
    }
}
