//! Downloading against a local HTTP/1.1 server on 127.0.0.1 that misbehaves on request:
//! fallback between mirrors, checksum and truncation handling, atomic writes, progress
//! reports and skipping files already present. No traffic leaves the machine.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use fashion_tui::data::fetch::{self, FetchProgress, RemoteFile};
use fashion_tui::data::idx::{encode_images, encode_labels, gzip};
use fashion_tui::data::locate::{self, Candidate};
use fashion_tui::data::{load_dir, DataError, Repair, Split, FILE_NAMES, IMAGE_PIXELS};
use sha2::{Digest, Sha256};

/// How the server answers for one path.
#[derive(Clone)]
enum Reply {
    /// 200 with these bytes.
    Ok(Vec<u8>),
    /// 404.
    NotFound,
    /// Announces the full length, sends half, closes.
    Truncated(Vec<u8>),
    /// Announces far more than the download limit.
    Oversized,
}

struct Server {
    base: String,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes = Arc::new(Mutex::new(HashMap::new()));
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let (r, h) = (Arc::clone(&routes), Arc::clone(&hits));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, h) = (Arc::clone(&r), Arc::clone(&h));
                thread::spawn(move || handle(stream, &r, &h));
            }
        });
        Server { base, routes, hits }
    }

    /// Serves `files` (name → reply) under `/{prefix}/` and returns that mirror's URL.
    fn mirror(&self, prefix: &str, files: &[(String, Reply)]) -> String {
        let mut routes = self.routes.lock().unwrap();
        for (name, reply) in files {
            routes.insert(format!("/{prefix}/{name}"), reply.clone());
        }
        format!("{}/{prefix}/", self.base)
    }

    fn hits(&self, prefix: &str, name: &str) -> usize {
        let key = format!("/{prefix}/{name}");
        self.hits.lock().unwrap().get(&key).copied().unwrap_or(0)
    }
}

fn handle(
    mut stream: TcpStream,
    routes: &Mutex<HashMap<String, Reply>>,
    hits: &Mutex<HashMap<String, usize>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let reply = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or(Reply::NotFound);
    let head = |status: &str, len: usize| {
        format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
    };
    // Write errors just mean the client gave up early, which some tests expect.
    let _ = match reply {
        Reply::Ok(body) => stream
            .write_all(head("200 OK", body.len()).as_bytes())
            .and_then(|()| stream.write_all(&body)),
        Reply::NotFound => {
            stream.write_all(format!("{}not found", head("404 Not Found", 9)).as_bytes())
        }
        Reply::Truncated(body) => stream
            .write_all(head("200 OK", body.len()).as_bytes())
            .and_then(|()| stream.write_all(&body[..body.len() / 2])),
        Reply::Oversized => stream
            .write_all(head("200 OK", 200 << 20).as_bytes())
            .and_then(|()| stream.write_all(&[0x1f, 0x8b, 8, 0])),
    };
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

/// A small generated dataset: its four files (name, uncompressed content) and the
/// matching `RemoteFile`s.
struct Fixture {
    train: Split,
    test: Split,
    content: Vec<(String, Vec<u8>)>,
    remote: Vec<RemoteFile>,
}

/// Noisy pixels, so the compressed training images stay well above 64 KiB.
fn split(n: usize, seed: u32) -> Split {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let images = (0..n * IMAGE_PIXELS)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    Split {
        images,
        labels: (0..n).map(|i| (i * 7 % 10) as u8).collect(),
    }
}

fn fixture() -> Fixture {
    let (train, test) = (split(200, 1), split(50, 2));
    let content: Vec<(String, Vec<u8>)> = FILE_NAMES
        .iter()
        .zip([
            encode_images(&train.images, train.len()),
            encode_labels(&train.labels),
            encode_images(&test.images, test.len()),
            encode_labels(&test.labels),
        ])
        .map(|(name, bytes)| (name.to_string(), bytes))
        .collect();
    let remote = content
        .iter()
        .map(|(name, bytes)| RemoteFile {
            name: name.clone().into(),
            content_sha256: format!("{:x}", Sha256::digest(bytes)).into(),
        })
        .collect();
    Fixture {
        train,
        test,
        content,
        remote,
    }
}

impl Fixture {
    fn replies(&self, make: impl Fn(&[u8]) -> Reply) -> Vec<(String, Reply)> {
        self.content
            .iter()
            .map(|(name, bytes)| (name.clone(), make(bytes)))
            .collect()
    }

    fn good(&self) -> Vec<(String, Reply)> {
        self.replies(|raw| Reply::Ok(gzip(raw)))
    }

    /// Valid gzip of altered content: only the checksum can catch it.
    fn corrupt(&self) -> Vec<(String, Reply)> {
        self.replies(|raw| {
            let mut raw = raw.to_vec();
            let last = raw.len() - 1;
            raw[last] ^= 0x01;
            Reply::Ok(gzip(&raw))
        })
    }

    /// Flipped bytes inside the compressed stream.
    fn garbled(&self) -> Vec<(String, Reply)> {
        self.replies(|raw| {
            let mut gz = gzip(raw);
            let mid = gz.len() / 2;
            for b in &mut gz[mid..mid + 8] {
                *b ^= 0xff;
            }
            Reply::Ok(gz)
        })
    }
}

fn ignore(_: FetchProgress) {}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn downloads_and_verifies() {
    let (server, fx) = (Server::start(), fixture());
    let good = server.mirror("good", &fx.good());
    let dest = tempfile::tempdir().unwrap();
    let dest = dest.path().join("new/sub");
    fetch::fetch(&fx.remote, &[good.as_str()], &dest, &mut ignore).unwrap();
    fetch::verify_dir(&fx.remote, &dest).unwrap();
    let mut expected: Vec<String> = FILE_NAMES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(
        dir_entries(&dest),
        expected,
        "no temporary files may remain"
    );
    let ds = load_dir(&dest, Repair::Refetch).unwrap();
    assert_eq!((ds.train, ds.test), (fx.train, fx.test));
}

#[test]
fn corrupt_first_mirror_falls_back_to_the_second() {
    let (server, fx) = (Server::start(), fixture());
    let bad = server.mirror("bad", &fx.corrupt());
    let good = server.mirror("good", &fx.good());
    let dest = tempfile::tempdir().unwrap();
    fetch::fetch(&fx.remote, &[&bad, &good], dest.path(), &mut ignore).unwrap();
    fetch::verify_dir(&fx.remote, dest.path()).unwrap();
    for name in FILE_NAMES {
        assert_eq!(server.hits("bad", name), 1, "{name}");
        assert_eq!(server.hits("good", name), 1, "{name}");
    }
}

#[test]
fn all_bad_mirrors_name_the_file_and_every_mirror() {
    let (server, fx) = (Server::start(), fixture());
    let corrupt = server.mirror("corrupt", &fx.corrupt());
    let garbled = server.mirror("garbled", &fx.garbled());
    let truncated = server.mirror("truncated", &fx.replies(|raw| Reply::Truncated(gzip(raw))));
    let missing = server.mirror("missing", &[]);
    let dest = tempfile::tempdir().unwrap();
    let err = fetch::fetch(
        &fx.remote,
        &[&corrupt, &garbled, &truncated, &missing],
        dest.path(),
        &mut ignore,
    )
    .unwrap_err();
    let DataError::Download { file, reason } = &err else {
        panic!("expected Download, got {err:?}");
    };
    assert_eq!(file, FILE_NAMES[0]);
    for url in [&corrupt, &garbled, &truncated, &missing] {
        assert!(
            reason.contains(&format!("{url}{}", FILE_NAMES[0])),
            "{reason}"
        );
    }
    assert!(reason.contains("checksum mismatch"), "{reason}");
    assert!(reason.contains("not a valid gzip file"), "{reason}");
    assert!(reason.contains("HTTP 404 (not found)"), "{reason}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("could not download {}", FILE_NAMES[0])),
        "{msg}"
    );
    assert!(
        dir_entries(dest.path()).is_empty(),
        "{:?}",
        dir_entries(dest.path())
    );
}

#[test]
fn truncated_download_is_rejected_and_leaves_no_file() {
    let (server, fx) = (Server::start(), fixture());
    let truncated = server.mirror("t", &fx.replies(|raw| Reply::Truncated(gzip(raw))));
    let dest = tempfile::tempdir().unwrap();
    let err = fetch::fetch(&fx.remote, &[&truncated], dest.path(), &mut ignore).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(FILE_NAMES[0]) && msg.contains("bytes"),
        "{msg}"
    );
    assert!(
        dir_entries(dest.path()).is_empty(),
        "{:?}",
        dir_entries(dest.path())
    );
}

#[test]
fn oversized_download_is_refused() {
    let (server, fx) = (Server::start(), fixture());
    let huge = server.mirror("huge", &fx.replies(|_| Reply::Oversized));
    let dest = tempfile::tempdir().unwrap();
    let err = fetch::fetch(&fx.remote, &[&huge], dest.path(), &mut ignore).unwrap_err();
    assert!(
        err.to_string().contains("more than the 64 MiB limit"),
        "{err}"
    );
    assert!(dir_entries(dest.path()).is_empty());
}

#[test]
fn progress_reports_increasing_byte_counts() {
    let (server, fx) = (Server::start(), fixture());
    let good = server.mirror("good", &fx.good());
    let dest = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    fetch::fetch(&fx.remote[..1], &[&good], dest.path(), &mut |p| {
        reports.push(p)
    })
    .unwrap();
    let size = fs::metadata(dest.path().join(FILE_NAMES[0])).unwrap().len();
    assert!(
        size > 128 * 1024,
        "fixture too small to test progress: {size}"
    );
    // At least one report on the way (every ~64 KiB) and exactly one at the end.
    assert!(reports.len() >= 2 && reports[0].bytes < size, "{reports:?}");
    assert!(
        reports.windows(2).all(|w| w[0].bytes < w[1].bytes),
        "{reports:?}"
    );
    assert!(reports
        .iter()
        .all(|p| p.file == FILE_NAMES[0] && p.total == Some(size)));
    assert_eq!(reports.last().unwrap().bytes, size);
}

#[test]
fn valid_files_are_not_downloaded_again_but_bad_ones_are() {
    let (server, fx) = (Server::start(), fixture());
    let good = server.mirror("good", &fx.good());
    let dest = tempfile::tempdir().unwrap();
    fetch::fetch(&fx.remote, &[&good], dest.path(), &mut ignore).unwrap();
    fetch::fetch(&fx.remote, &[&good], dest.path(), &mut ignore).unwrap();
    for name in FILE_NAMES {
        assert_eq!(server.hits("good", name), 1, "{name}");
    }
    // A damaged local copy is replaced; the others are left alone.
    fs::write(dest.path().join(FILE_NAMES[1]), b"garbage").unwrap();
    fetch::fetch(&fx.remote, &[&good], dest.path(), &mut ignore).unwrap();
    fetch::verify_dir(&fx.remote, dest.path()).unwrap();
    let hits: Vec<_> = FILE_NAMES.iter().map(|n| server.hits("good", n)).collect();
    assert_eq!(hits, [1, 2, 1, 1]);
}

#[test]
fn content_decompressed_in_transit_is_kept_uncompressed() {
    let (server, fx) = (Server::start(), fixture());
    let raw = server.mirror("raw", &fx.replies(|raw| Reply::Ok(raw.to_vec())));
    let dest = tempfile::tempdir().unwrap();
    fetch::fetch(&fx.remote, &[&raw], dest.path(), &mut ignore).unwrap();
    assert!(dest.path().join("train-images-idx3-ubyte").is_file());
    assert!(!dest.path().join(FILE_NAMES[0]).exists());
    fetch::verify_dir(&fx.remote, dest.path()).unwrap();
    assert_eq!(
        load_dir(dest.path(), Repair::Refetch).unwrap().train,
        fx.train
    );
}

#[test]
fn resolve_downloads_into_the_first_writable_candidate() {
    let (server, fx) = (Server::start(), fixture());
    let good = server.mirror("good", &fx.good());
    let root = tempfile::tempdir().unwrap();
    let (env, cache, system) = (
        root.path().join("env"),
        root.path().join("cache"),
        root.path().join("system"),
    );
    let cands = locate::candidates(None, None, Some(&cache), &system);
    let got = locate::resolve_from(&cands, &fx.remote, &[&good], false, &mut ignore).unwrap();
    assert_eq!(got, (cache.clone(), locate::ORIGIN_CACHE));
    fetch::verify_dir(&fx.remote, &cache).unwrap();
    assert!(!system.exists());

    // $FASHION_MNIST_DIR, when set, is preferred over the cache as a download target, but
    // a complete cache is found first.
    let cands = locate::candidates(None, Some(&env), Some(&cache), &system);
    let got = locate::resolve_from(&cands, &fx.remote, &[&good], false, &mut ignore).unwrap();
    assert_eq!(got, (cache.clone(), locate::ORIGIN_CACHE));
    fs::remove_dir_all(&cache).unwrap();
    let got = locate::resolve_from(&cands, &fx.remote, &[&good], false, &mut ignore).unwrap();
    assert_eq!(got, (env.clone(), locate::ORIGIN_ENV));
    assert!(!cache.exists());

    // An explicit directory is filled only when downloading into it is allowed.
    let explicit = root.path().join("explicit");
    let cands = vec![Candidate {
        dir: explicit.clone(),
        origin: locate::ORIGIN_EXPLICIT,
    }];
    let err = locate::resolve_from(&cands, &fx.remote, &[&good], false, &mut ignore).unwrap_err();
    assert!(matches!(err, DataError::Incomplete { .. }), "{err:?}");
    assert!(!explicit.exists());
    let got = locate::resolve_from(&cands, &fx.remote, &[&good], true, &mut ignore).unwrap();
    assert_eq!(got, (explicit.clone(), locate::ORIGIN_EXPLICIT));
    assert_eq!(load_dir(&explicit, Repair::Replace).unwrap().test, fx.test);
}
