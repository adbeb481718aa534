//! Running a loop of our own on libtorch's intra-op threads. libtorch parallelises its
//! kernels with OpenMP; between two of them the team's other threads spin, waiting for the
//! next parallel region. A loop split across a thread we started would compete with that
//! spinning thread for the same cores; handing the loop to the OpenMP runtime instead runs
//! it on the waiting team, as libtorch's own kernels run.
//!
//! The runtime's entry points (`GOMP_parallel`, `omp_get_thread_num`,
//! `omp_get_num_threads`, the GNU OpenMP ABI that libtorch's `libgomp` exports) are looked
//! up once in the process when first needed. Where they are missing (a libtorch built
//! without OpenMP), the loop runs whole on the calling thread: the result is the same,
//! only the time differs.

use std::ffi::{c_int, c_uint, c_void, CStr};
use std::sync::OnceLock;

type Body = unsafe extern "C" fn(*mut c_void);
type Parallel = unsafe extern "C" fn(Body, *mut c_void, c_uint, c_uint);
type Query = unsafe extern "C" fn() -> c_int;

#[derive(Clone, Copy)]
struct Runtime {
    parallel: Parallel,
    thread_num: Query,
    num_threads: Query,
}

#[cfg(not(unix))]
fn runtime() -> Option<Runtime> {
    None
}

#[cfg(unix)]
fn runtime() -> Option<Runtime> {
    static RUNTIME: OnceLock<Option<Runtime>> = OnceLock::new();
    *RUNTIME.get_or_init(|| {
        let find = |name: &CStr| {
            // SAFETY: dlsym with RTLD_DEFAULT only reads the process's symbol tables.
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        let (parallel, thread_num, num_threads) = (
            find(c"GOMP_parallel")?,
            find(c"omp_get_thread_num")?,
            find(c"omp_get_num_threads")?,
        );
        // SAFETY: the GNU OpenMP ABI's signatures for these three names.
        unsafe {
            Some(Runtime {
                parallel: std::mem::transmute::<*mut c_void, Parallel>(parallel),
                thread_num: std::mem::transmute::<*mut c_void, Query>(thread_num),
                num_threads: std::mem::transmute::<*mut c_void, Query>(num_threads),
            })
        }
    })
}

struct Job<'a> {
    work: &'a (dyn Fn(usize, usize) + Sync),
    runtime: Runtime,
}

unsafe extern "C" fn body(data: *mut c_void) {
    // SAFETY: `data` is the `Job` that `split` passed, alive until GOMP_parallel returns.
    let job = unsafe { &*(data as *const Job) };
    // SAFETY: called inside the parallel region that GOMP_parallel opened.
    let (part, parts) = unsafe { ((job.runtime.thread_num)(), (job.runtime.num_threads)()) };
    let (part, parts) = (part.max(0) as usize, parts.max(1) as usize);
    // A panic must not unwind into C: it would abort the process anyway, so say where.
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.work)(part, parts))).is_err() {
        eprintln!("fashion-tui: a parallel loop panicked; stopping");
        std::process::abort();
    }
}

/// Runs `work(part, parts)` once for each `part` in `0..parts`, on up to `threads` threads
/// of libtorch's OpenMP team (the calling thread among them), and returns when all have
/// finished. `parts` is the number of threads the runtime gave (1 where there is no
/// runtime, or `threads` ≤ 1): `work` must split its range by it.
pub fn split(threads: usize, work: &(dyn Fn(usize, usize) + Sync)) {
    match runtime() {
        Some(runtime) if threads > 1 => {
            let job = Job { work, runtime };
            // SAFETY: `body` matches the ABI's outlined-function signature; `job` outlives
            // the call, which returns only after every thread has run `body`.
            unsafe {
                (runtime.parallel)(
                    body,
                    &job as *const Job as *mut c_void,
                    threads.min(c_uint::MAX as usize) as c_uint,
                    0,
                )
            };
        }
        _ => work(0, 1),
    }
}

/// How many threads a loop over `n` values should ask [`split`] for: libtorch's intra-op
/// thread count from `from` values on, one below (where waking a second thread costs more
/// than it saves).
pub fn threads_for(n: usize, from: usize) -> usize {
    if n >= from {
        tch::get_num_threads().max(1) as usize
    } else {
        1
    }
}

/// The `part`-th of `parts` near-equal pieces of `0..n`, each starting at a multiple of
/// `align` (so that vector loops stay aligned), as a range.
pub fn piece(n: usize, part: usize, parts: usize, align: usize) -> std::ops::Range<usize> {
    let parts = parts.max(1);
    let align = align.max(1);
    let per = n.div_ceil(parts).div_ceil(align) * align;
    let start = (part * per).min(n);
    start..((part + 1) * per).min(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    #[test]
    fn pieces_cover_the_range_once_aligned() {
        for n in [0, 1, 15, 16, 17, 1000, 360_458] {
            for parts in 1..5 {
                let pieces: Vec<_> = (0..parts).map(|p| piece(n, p, parts, 16)).collect();
                assert_eq!(pieces[0].start, 0);
                assert_eq!(pieces[parts - 1].end, n, "n {n}, parts {parts}");
                for w in pieces.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                    assert!(w[1].start == n || w[1].start % 16 == 0);
                }
            }
        }
    }

    #[test]
    fn every_part_runs_once() {
        // libtorch is linked into the tests, so its OpenMP runtime is in the process.
        let _ = tch::get_num_threads();
        assert!(
            runtime().is_some(),
            "libtorch's OpenMP runtime was not found"
        );
        for threads in [1, 2, 3] {
            let seen = Mutex::new(Vec::new());
            let total = AtomicUsize::new(0);
            split(threads, &|part, parts| {
                seen.lock().unwrap().push((part, parts));
                total.fetch_add(1, Ordering::SeqCst);
            });
            let mut seen = seen.into_inner().unwrap();
            seen.sort();
            let parts = seen[0].1;
            assert_eq!(parts, threads, "the runtime gave the threads asked for");
            assert_eq!(seen, (0..parts).map(|p| (p, parts)).collect::<Vec<_>>());
            assert_eq!(total.load(Ordering::SeqCst), parts);
        }
    }
}
