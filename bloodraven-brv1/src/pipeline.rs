//! Ordered, bounded multi-core processing of segments: a small pool of std threads seals or
//! opens segments while the caller's thread does the I/O, and results come back in order.
//!
//! Small streams never start a thread: the first [`INLINE_SEGMENTS`] segments are processed on
//! the caller's thread, and the pool starts only when a stream goes on past them. Output is the
//! same either way, because each segment's work depends only on its bytes and first counter.

use std::collections::VecDeque;
use std::io;
use std::num::NonZeroUsize;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::chunk::{ChunkCipher, Segment};

/// Plaintext bytes per segment (for chunks of up to this size; larger chunks are one per
/// segment). Also the size of each `read` and `write` on the file paths: 512 KiB took about 10%
/// less system time per GiB than 256 KiB in paired runs (`docs/benchmarks.md`).
const SEGMENT_BYTES: usize = 512 * 1024;
/// Segments processed inline before the pool starts (1 MiB at 64 KiB chunks).
const INLINE_SEGMENTS: u64 = 2;
/// Segments in flight per worker thread.
const IN_FLIGHT_PER_THREAD: usize = 2;
/// Chunks larger than this are never processed in parallel, so memory stays one chunk.
const MAX_PARALLEL_CHUNK: usize = 1 << 20;

/// What to do with a segment.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    Seal,
    Open,
}

/// Runs segments through a cipher, inline or on worker threads, handing them back in order.
pub(crate) struct Pipeline {
    cipher: Arc<ChunkCipher>,
    threads: usize,
    op: Op,
    pool: Option<Pool>,
    in_flight: VecDeque<Pending>,
    submitted: u64,
    spare: Vec<Vec<u8>>,
    records_per_segment: usize,
    record_size: usize,
}

enum Pending {
    Done(Segment),
    Running(Receiver<Segment>),
}

impl Pipeline {
    pub(crate) fn new(
        cipher: ChunkCipher,
        op: Op,
        chunk_size: usize,
        threads: NonZeroUsize,
    ) -> Pipeline {
        let threads = if chunk_size > MAX_PARALLEL_CHUNK {
            1
        } else {
            threads.get()
        };
        Pipeline {
            cipher: Arc::new(cipher),
            threads,
            op,
            pool: None,
            in_flight: VecDeque::new(),
            submitted: 0,
            spare: Vec::new(),
            records_per_segment: (SEGMENT_BYTES / chunk_size).max(1),
            record_size: chunk_size + crate::header::TAG_LEN,
        }
    }

    /// Changes the thread count; has no effect once the pool has started.
    pub(crate) fn set_threads(&mut self, threads: NonZeroUsize) {
        if self.pool.is_none() && self.record_size - crate::header::TAG_LEN <= MAX_PARALLEL_CHUNK {
            self.threads = threads.get();
        }
    }

    /// For the file paths, where one of `threads` writes: the rest run the cipher (the calling
    /// thread itself when that leaves one). Has no effect once the pool has started.
    pub(crate) fn leave_one_for_writing(&mut self, threads: NonZeroUsize) {
        if let Some(rest) = NonZeroUsize::new(threads.get() - 1) {
            self.set_threads(rest);
        }
    }

    pub(crate) fn cipher(&self) -> &ChunkCipher {
        &self.cipher
    }

    /// Chunks per segment.
    pub(crate) fn records_per_segment(&self) -> usize {
        self.records_per_segment
    }

    /// A buffer for a whole segment of full records, reused when possible.
    pub(crate) fn buffer(&mut self) -> Vec<u8> {
        let len = self.records_per_segment * self.record_size;
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.resize(len, 0);
        buf
    }

    /// Returns a buffer for reuse.
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        // Enough for the segments in flight, the one being filled and a writer thread's queue.
        if self.spare.len() < self.threads * IN_FLIGHT_PER_THREAD + crate::writer::QUEUE_DEPTH + 2 {
            self.spare.push(buf);
        }
    }

    /// Whether the caller should collect a result before submitting more.
    pub(crate) fn is_full(&self) -> bool {
        let limit = match self.pool {
            Some(_) => self.threads * IN_FLIGHT_PER_THREAD,
            None => 1,
        };
        self.in_flight.len() >= limit
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Queues a segment, starting the pool when the stream has become long enough.
    pub(crate) fn submit(&mut self, mut segment: Segment) -> io::Result<()> {
        self.submitted += 1;
        if self.pool.is_none() && self.threads > 1 && self.submitted > INLINE_SEGMENTS {
            self.pool = Some(Pool::start(
                Arc::clone(&self.cipher),
                self.threads,
                self.op,
            )?);
        }
        match &self.pool {
            Some(pool) => {
                let (reply, receiver) = mpsc::sync_channel(1);
                pool.send(Job { segment, reply })?;
                self.in_flight.push_back(Pending::Running(receiver));
            }
            None => {
                run(&self.cipher, self.op, &mut segment);
                self.in_flight.push_back(Pending::Done(segment));
            }
        }
        Ok(())
    }

    /// The oldest submitted segment, processed, waiting for it if needed.
    pub(crate) fn next(&mut self) -> Option<io::Result<Segment>> {
        Some(match self.in_flight.pop_front()? {
            Pending::Done(segment) => Ok(segment),
            Pending::Running(receiver) => receiver
                .recv()
                .map_err(|_| io::Error::other("brv1 worker thread stopped unexpectedly")),
        })
    }
}

fn run(cipher: &ChunkCipher, op: Op, segment: &mut Segment) {
    match op {
        Op::Seal => segment.seal(cipher),
        Op::Open => segment.open(cipher),
    }
}

struct Job {
    segment: Segment,
    reply: SyncSender<Segment>,
}

/// Worker threads sharing one job queue; dropping the pool stops and joins them.
struct Pool {
    jobs: Option<mpsc::Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    fn start(cipher: Arc<ChunkCipher>, threads: usize, op: Op) -> io::Result<Pool> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut pool = Pool {
            jobs: Some(jobs),
            workers: Vec::with_capacity(threads),
        };
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            let cipher = Arc::clone(&cipher);
            let worker = std::thread::Builder::new()
                .name(format!("brv1-worker-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(mut job) = job else { return };
                        run(&cipher, op, &mut job.segment);
                        // The receiver is gone only if the caller gave up on the stream.
                        let _ = job.reply.send(job.segment);
                    }
                })?;
            pool.workers.push(worker);
        }
        Ok(pool)
    }

    fn send(&self, job: Job) -> io::Result<()> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| io::Error::other("brv1 worker threads stopped unexpectedly"))
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            // A worker that panicked has nothing left to clean up.
            let _ = worker.join();
        }
    }
}

/// The number of threads to use when none is given: all cores.
pub(crate) fn default_threads() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}
