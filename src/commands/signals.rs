//! Stop signals (SIGINT, SIGTERM, SIGHUP): the run checkpoints, then the process exits as
//! the shell expects, 128 + the signal's number. In an attached dashboard they are the
//! dashboard's to act on (stop the run, or detach on a hangup).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use signal_hook::iterator::Signals;

use crate::events::Command;

/// Signals that end a run cleanly (checkpoint first): SIGINT, SIGTERM, SIGHUP.
const STOP_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// How long a signalled run may take to checkpoint and exit before it is ended anyway.
const SIGNAL_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// On a stop signal, record it in `flag` and ask the trainer to stop (it checkpoints).
pub fn watch_signals(flag: Arc<AtomicI32>, commands: flume::Sender<Command>) -> Result<()> {
    watch(flag, move || {
        let _ = commands.send(Command::Stop);
    })
}

/// In an attached dashboard: on a stop signal, record it in `flag` for the dashboard,
/// which stops the run or (a hangup, as `ui.on_hangup` says) detaches.
pub fn watch_client_signals(flag: Arc<AtomicI32>) -> Result<()> {
    watch(flag, || {})
}

/// The first stop signal is recorded in `flag` and `then` runs; the run (or the
/// dashboard) normally ends within a batch and a save, but should anything hang (a
/// terminal that blocks writes), the process never lingers past [`SIGNAL_GRACE`].
fn watch(flag: Arc<AtomicI32>, then: impl FnOnce() + Send + 'static) -> Result<()> {
    let mut signals = Signals::new(STOP_SIGNALS).context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                flag.store(sig, Ordering::SeqCst);
                then();
                std::thread::sleep(SIGNAL_GRACE);
                crate::ui::run::restore();
                std::process::exit(128 + sig);
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}
