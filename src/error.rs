//! The program's one error style. Errors are `anyhow::Error`s with context; the type of the
//! root cause says what a caller may do with it:
//!
//! - [`UsageError`]: what the user asked for cannot be done as asked (a bad value, a run
//!   directory in use, a checkpoint that does not fit its run, a planted file): exit 2,
//!   and the message says what to change;
//! - [`crate::data::DataError`]: the dataset's own trouble, which callers branch on (a
//!   missing or incomplete named directory is the user's, exit 2; damage is not);
//! - [`crate::store::run_record::Diverged`]: the loss stopped being finite, recorded as
//!   such;
//! - anything else: a runtime failure, exit 1.
//!
//! [`exit_code`] is the one place that turns an error into an exit code.

use std::process::ExitCode;

/// The user's request cannot be done as asked: exit code 2, the message says why and,
/// where it can, what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A [`UsageError`] with `message`, as an `anyhow::Error`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Whether the user caused `e` (exit code 2): a [`UsageError`] anywhere in its chain, or a
/// named data directory that lacks the dataset.
pub fn is_usage(e: &anyhow::Error) -> bool {
    use crate::data::DataError;
    e.chain().any(|c| {
        c.is::<UsageError>()
            || matches!(
                c.downcast_ref::<DataError>(),
                Some(DataError::Incomplete { .. } | DataError::Missing { .. })
            )
    })
}

/// 2 for a problem with what the user asked for, 1 for any other failure.
pub fn code(usage: bool) -> ExitCode {
    if usage {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// The exit code for `e`.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    code(is_usage(e))
}
