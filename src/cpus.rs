//! How many CPUs this process really gets, and so how many threads to train with by
//! default: the cores online, narrowed by the CPU affinity mask (`taskset`, a container's
//! cpuset) and by a cgroup CPU quota (a container allowed 1.5 CPUs of a 64-core host must
//! not start 64 threads, which would spend the quota spinning at libtorch's barriers).
//!
//! The reading (`/proc`, `/sys/fs/cgroup`, `sched_getaffinity`) is kept apart from the
//! choosing ([`choose`]), which takes what was read as arguments and is tested with any
//! mask and quota.

use std::path::Path;

/// What the machine grants this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Granted {
    /// Cores online.
    pub online: usize,
    /// CPUs the affinity mask allows (`None`: not known).
    pub affinity: Option<usize>,
    /// The cgroup's CPU quota in CPUs (1.5 for `cpu.max = "150000 100000"`; `None`: none).
    pub quota: Option<f64>,
    /// Other threads running on the machine now, besides this process (`None`: not known).
    pub busy: Option<usize>,
}

/// A thread count and why it was chosen, in words for the Log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Threads to start with.
    pub threads: usize,
    /// The most the process may use (what a team fitted while training may grow to).
    pub most: usize,
    pub why: String,
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The default thread count for what `g` grants: one per CPU the process may use, the
/// quota rounded down (a thread beyond it would wait for the quota at every barrier), at
/// least one; fewer to start with while other work keeps cores busy.
pub fn choose(g: Granted) -> Choice {
    let online = g.online.max(1);
    let mut threads = online;
    let mut why = format!("one per core ({} online)", plural(online, "core"));
    if let Some(a) = g.affinity.filter(|&a| a > 0 && a < threads) {
        threads = a;
        why = format!(
            "the CPU affinity mask allows {} of {online}",
            plural(a, "core")
        );
    }
    if let Some(q) = g.quota.filter(|q| q.is_finite() && *q > 0.0) {
        let fit = (q.floor() as usize).max(1);
        if fit < threads {
            threads = fit;
            why = format!("the cgroup's CPU quota is {q:.2} CPUs");
            why = why.replace(".00 CPUs", " CPUs");
        }
    }
    let most = threads;
    let mut why = format!("{}: {why}", plural(most, "thread"));
    if let Some(busy) = g.busy.filter(|&b| b > 0 && most > 1) {
        threads = most.saturating_sub(busy).max(1);
        if threads < most {
            why += &format!(
                "; {} running beside it now, so {} to start with",
                plural(busy, "other thread"),
                threads
            );
        }
    }
    Choice { threads, most, why }
}

/// Threads running now on the machine, from `/proc/stat`'s `procs_running`, less `own`
/// (this process's running threads, the reader among them).
pub fn busy_from_stat(proc_stat: &str, own: usize) -> Option<usize> {
    let running: usize = proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("procs_running "))?
        .trim()
        .parse()
        .ok()?;
    Some(running.saturating_sub(own.max(1)))
}

/// Whether a thread's `/proc/.../stat` line says it is running (state `R`).
pub fn running_in_stat(stat: &str) -> bool {
    // The state follows the command's closing parenthesis (the command may hold any).
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        == Some('R')
}

/// This process's threads that are running now.
fn own_running() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 1;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("stat")).is_ok_and(|s| running_in_stat(&s))
        })
        .count()
}

/// A cgroup v2 `cpu.max` (`"150000 100000"`, or `"max 100000"` for no quota) as CPUs.
pub fn quota_v2(cpu_max: &str) -> Option<f64> {
    let mut parts = cpu_max.split_whitespace();
    let quota = parts.next()?;
    let period: f64 = parts.next().map_or(Some(100_000.0), |p| p.parse().ok())?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    Some(quota.parse::<f64>().ok()? / period)
}

/// A cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` as CPUs (`-1`: no quota).
pub fn quota_v1(quota_us: &str, period_us: &str) -> Option<f64> {
    let quota: i64 = quota_us.trim().parse().ok()?;
    let period: i64 = period_us.trim().parse().ok()?;
    (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
}

/// The cgroup (v2 or v1) this process is in, from `/proc/self/cgroup`'s text: the path of
/// the unified hierarchy's line (`0::/path`), else of the v1 `cpu` controller's.
pub fn cgroup_path(proc_cgroup: &str) -> Option<(u8, String)> {
    let mut v1 = None;
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (id, controllers, path) = (f.next()?, f.next()?, f.next()?);
        if id == "0" && controllers.is_empty() {
            return Some((2, path.to_string()));
        }
        if controllers.split(',').any(|c| c == "cpu") {
            v1 = Some((1, path.to_string()));
        }
    }
    v1
}

/// The quota of the cgroup at `path` (as `/proc/self/cgroup` names it) under `root`
/// (`/sys/fs/cgroup`), or of the nearest parent that has one: the tightest along the way.
pub fn read_quota(root: &Path, version: u8, path: &str) -> Option<f64> {
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let mut tightest: Option<f64> = None;
    let mut dir = Path::new(path.trim_start_matches('/')).to_path_buf();
    loop {
        let here = match version {
            2 => read(&root.join(&dir).join("cpu.max")).and_then(|t| quota_v2(&t)),
            _ => {
                let base = root.join("cpu").join(&dir);
                match (
                    read(&base.join("cpu.cfs_quota_us")),
                    read(&base.join("cpu.cfs_period_us")),
                ) {
                    (Some(q), Some(p)) => quota_v1(&q, &p),
                    _ => None,
                }
            }
        };
        if let Some(q) = here {
            tightest = Some(tightest.map_or(q, |t: f64| t.min(q)));
        }
        if !dir.pop() {
            return tightest;
        }
    }
}

/// CPUs in this process's affinity mask.
#[cfg(target_os = "linux")]
pub fn affinity() -> Option<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid, empty set of its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; the set and its size are valid.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    // SAFETY: the set was filled in by the kernel.
    (r == 0).then(|| unsafe { libc::CPU_COUNT(&set) } as usize)
}

#[cfg(not(target_os = "linux"))]
pub fn affinity() -> Option<usize> {
    None
}

/// What this machine grants this process now.
pub fn granted() -> Granted {
    // SAFETY: sysconf only reads.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let quota = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| cgroup_path(&t))
        .and_then(|(v, p)| read_quota(Path::new("/sys/fs/cgroup"), v, &p));
    Granted {
        online: usize::try_from(online).unwrap_or(1).max(1),
        affinity: affinity(),
        quota,
        busy: std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| busy_from_stat(&t, own_running())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(online: usize, affinity: Option<usize>, quota: Option<f64>) -> Granted {
        Granted {
            online,
            affinity,
            quota,
            busy: None,
        }
    }

    #[test]
    fn one_thread_per_core_the_process_may_use() {
        assert_eq!(
            choose(g(2, Some(2), None)),
            Choice {
                threads: 2,
                most: 2,
                why: "2 threads: one per core (2 cores online)".into()
            }
        );
        assert_eq!(
            choose(g(64, Some(4), None)).why,
            "4 threads: the CPU affinity mask allows 4 cores of 64"
        );
        assert_eq!(choose(g(64, Some(1), None)).threads, 1);
    }

    #[test]
    fn a_cpu_quota_caps_the_team_rounded_down() {
        let c = choose(g(64, Some(64), Some(1.5)));
        assert_eq!(c.threads, 1);
        assert_eq!(c.why, "1 thread: the cgroup's CPU quota is 1.50 CPUs");
        assert_eq!(
            choose(g(64, Some(64), Some(4.0))).why,
            "4 threads: the cgroup's CPU quota is 4 CPUs"
        );
        // Below one CPU still trains, on one thread.
        assert_eq!(choose(g(8, None, Some(0.2))).threads, 1);
        // A quota above what the mask allows changes nothing.
        assert_eq!(choose(g(64, Some(2), Some(8.0))).threads, 2);
        // Nonsense is ignored.
        assert_eq!(choose(g(4, Some(0), Some(f64::NAN))).threads, 4);
        assert_eq!(choose(g(0, None, None)).threads, 1);
    }

    #[test]
    fn other_work_running_now_starts_the_team_smaller() {
        let busy = |online, busy| {
            choose(Granted {
                busy: Some(busy),
                ..g(online, None, None)
            })
        };
        let c = busy(2, 1);
        assert_eq!((c.threads, c.most), (1, 2));
        assert_eq!(
            c.why,
            "2 threads: one per core (2 cores online); 1 other thread running beside it now, \
             so 1 to start with"
        );
        assert_eq!((busy(8, 3).threads, busy(8, 3).most), (5, 8));
        assert_eq!(busy(2, 9).threads, 1);
        assert_eq!(busy(2, 0), choose(g(2, None, None)));
        let stat = "cpu 1 2 3\nprocs_running 3\nprocs_blocked 0\n";
        assert_eq!(busy_from_stat(stat, 1), Some(2));
        assert_eq!(busy_from_stat(stat, 2), Some(1));
        assert_eq!(busy_from_stat("procs_running 1\n", 3), Some(0));
        assert_eq!(busy_from_stat("nothing", 1), None);
        assert!(running_in_stat("42 (fashion (tui)) R 1 42"));
        assert!(!running_in_stat("42 (a R b) S 1 42"));
        assert!(!running_in_stat("garbage"));
    }

    #[test]
    fn cgroup_files_are_read_as_cpus() {
        assert_eq!(quota_v2("150000 100000\n"), Some(1.5));
        assert_eq!(quota_v2("max 100000\n"), None);
        assert_eq!(quota_v2("200000"), Some(2.0));
        assert_eq!(quota_v2(""), None);
        assert_eq!(quota_v2("x 100000"), None);
        assert_eq!(quota_v1("-1\n", "100000\n"), None);
        assert_eq!(quota_v1("50000\n", "100000\n"), Some(0.5));
        assert_eq!(quota_v1("50000", "0"), None);
        assert_eq!(
            cgroup_path("0::/user.slice/session-3.scope\n"),
            Some((2, "/user.slice/session-3.scope".into()))
        );
        assert_eq!(
            cgroup_path("12:memory:/docker/abc\n11:cpu,cpuacct:/docker/abc\n"),
            Some((1, "/docker/abc".into()))
        );
        assert_eq!(cgroup_path("garbage"), None);
    }

    #[test]
    fn the_tightest_quota_on_the_way_up_counts() {
        let root = tempfile::tempdir().unwrap();
        let leaf = root.path().join("outer/inner");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(root.path().join("outer/cpu.max"), "150000 100000\n").unwrap();
        std::fs::write(leaf.join("cpu.max"), "max 100000\n").unwrap();
        assert_eq!(read_quota(root.path(), 2, "/outer/inner"), Some(1.5));
        assert_eq!(read_quota(root.path(), 2, "/elsewhere"), None);
        let v1 = root.path().join("cpu/docker/abc");
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::write(v1.join("cpu.cfs_quota_us"), "250000\n").unwrap();
        std::fs::write(v1.join("cpu.cfs_period_us"), "100000\n").unwrap();
        assert_eq!(read_quota(root.path(), 1, "/docker/abc"), Some(2.5));
    }
}
