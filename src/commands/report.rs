//! `fashion-tui report RUN... [--out DIR]`: curves, confusion matrices and a CSV of the
//! metrics of finished runs (see [`crate::report`]).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ReportArgs;
use crate::error::UsageError;
use crate::report::{self, Run};

pub fn run(args: &ReportArgs) -> Result<ExitCode> {
    let runs = args
        .runs
        .iter()
        .map(|dir| Run::load(dir))
        .collect::<Result<Vec<_>>>()?;
    let out = match (&args.out, runs.as_slice()) {
        (Some(out), _) => out.clone(),
        (None, [one]) => one.dir.clone(),
        (None, _) => {
            return Err(UsageError(
                "a report of several runs needs --out DIR (a single run's report goes into \
                 its own directory)"
                    .into(),
            )
            .into())
        }
    };
    let written = report::write(&runs, &out)?;
    for path in written
        .iter()
        .filter(|p| !p.ends_with(report::MANIFEST_FILE))
    {
        super::output::line(&crate::escape::path(path))?;
    }
    Ok(ExitCode::SUCCESS)
}
