//! A real S3-protocol server on a loopback port for tests (feature `s3`).
//!
//! [`S3Server::start`] serves the `s3s-fs` backend (objects are files under a temporary directory) through
//! the `s3s` protocol layer with signature-v4 authentication, on its own Tokio runtime thread, so sync and
//! async tests can both use it. Clients must use path-style addressing with [`S3Server::endpoint`] as the
//! custom endpoint. Conditional writes (`If-Match`, `If-None-Match`) and multipart uploads are supported.
//! Dropping the server stops it and removes its directory.
//!
//! ```no_run
//! use bloodraven_test_support::s3::S3Server;
//!
//! let s3 = S3Server::start()?;
//! println!("{} bucket {} key {}", s3.endpoint(), s3.bucket(), s3.access_key());
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::sync::oneshot;

/// Access key id the server accepts.
const ACCESS_KEY: &str = "bloodraven-test";
/// Secret key the server accepts (test-only, not a secret).
const SECRET_KEY: &str = "bloodraven-test-secret";
/// Bucket created at start.
const BUCKET: &str = "archive";
/// Region clients should sign for.
const REGION: &str = "us-east-1";

/// A running S3-protocol server; see the module docs.
#[derive(Debug)]
pub struct S3Server {
    addr: SocketAddr,
    root: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl S3Server {
    /// Starts a server on `127.0.0.1` with a free port and an empty bucket [`S3Server::bucket`].
    pub fn start() -> io::Result<S3Server> {
        let root = unique_dir()?;
        std::fs::create_dir_all(root.join(BUCKET))?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("s3-test-server")
            .enable_all()
            .build()?;
        let fs = s3s_fs::FileSystem::new(&root)
            .map_err(|e| io::Error::other(format!("s3s-fs root {}: {e:?}", root.display())))?;
        let service = {
            let mut b = S3ServiceBuilder::new(fs);
            b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            b.build()
        };
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("s3-test-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let http = ConnBuilder::new(TokioExecutor::new());
                    loop {
                        let socket = tokio::select! {
                            res = listener.accept() => match res {
                                Ok((socket, _)) => socket,
                                Err(_) => continue,
                            },
                            _ = &mut stop_rx => break,
                        };
                        let conn = http
                            .serve_connection(TokioIo::new(socket), service.clone())
                            .into_owned();
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                    }
                });
                runtime.shutdown_background();
            })?;
        Ok(S3Server {
            addr,
            root,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`: use as the custom endpoint, path style, HTTP allowed.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bucket that exists from the start.
    pub fn bucket(&self) -> &str {
        BUCKET
    }

    /// Access key id.
    pub fn access_key(&self) -> &str {
        ACCESS_KEY
    }

    /// Secret access key.
    pub fn secret_key(&self) -> &str {
        SECRET_KEY
    }

    /// Region to sign requests for.
    pub fn region(&self) -> &str {
        REGION
    }

    /// The directory that holds the bucket folders (objects are plain files below `<root>/<bucket>/`).
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn unique_dir() -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "bloodraven-s3-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
