//! Where finished segments go: written on the calling thread, or handed to a writer thread.
//!
//! Encrypting or decrypting a file costs more in the kernel than in the cipher: the copy into
//! the page cache on `write` alone is about half of all CPU time (see `docs/benchmarks.md`). So
//! [`Encryptor::copy_from`](crate::Encryptor::copy_from) and
//! [`Decryptor::copy_to`](crate::Decryptor::copy_to) can give the writes a thread of their own
//! while the calling thread reads and runs the cipher. Buffers travel to that thread and back
//! through channels, so nothing is copied in user space: a sealed segment is already laid out as
//! ciphertext and goes out in one `write`, and an opened segment's plaintext goes out with one
//! vectored `write` that skips the tags between its chunks.

use std::io::{self, IoSlice, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};

use crate::header::{HEADER_LEN, TAG_LEN};

/// Buffers waiting for the writer thread besides the one it is writing: 4 MiB of 512 KiB
/// segments. Slack for a busy machine, where either thread may wait several milliseconds for a
/// core: in paired runs at load average 5-6 on 2 cores (with 256 KiB segments then), a depth of
/// 8 gave a median of 1.46 s per GiB against 2.03 s for a depth of 2 and 1.63 s for 16
/// (`docs/benchmarks.md`).
pub(crate) const QUEUE_DEPTH: usize = 8;

/// A buffer and which of its bytes to write.
pub(crate) struct Job {
    pub(crate) buf: Vec<u8>,
    /// Bytes written before `buf` (the stream header, before the first segment).
    pub(crate) prefix: Option<[u8; HEADER_LEN]>,
    pub(crate) layout: Layout,
}

/// Which bytes of a [`Job`]'s buffer are written.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Layout {
    /// All of it: sealed records, already laid out as ciphertext.
    Whole,
    /// The plaintext of opened records `first..end`, each `record_size` bytes long in the
    /// buffer (the last may be shorter) and ending with a tag that is skipped; the first
    /// `skip` plaintext bytes of record `first` were handed out already.
    Plaintext {
        record_size: usize,
        first: usize,
        skip: usize,
        end: usize,
    },
}

impl Job {
    /// Bytes this job writes.
    pub(crate) fn len(&self) -> usize {
        self.slices().iter().map(|s| s.len()).sum()
    }

    /// Writes the job's bytes with as few system calls as the writer allows.
    fn write_to<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        let mut slices = self.slices();
        let mut rest = &mut slices[..];
        // `Write::write_all_vectored` is not stable yet: the same loop.
        while !rest.is_empty() {
            match out.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn slices(&self) -> Vec<IoSlice<'_>> {
        let mut slices = Vec::new();
        if let Some(prefix) = &self.prefix {
            slices.push(IoSlice::new(prefix));
        }
        match self.layout {
            Layout::Whole => slices.push(IoSlice::new(&self.buf)),
            Layout::Plaintext {
                record_size,
                first,
                skip,
                end,
            } => {
                slices.reserve(end.saturating_sub(first));
                for i in first..end {
                    let start = i * record_size + if i == first { skip } else { 0 };
                    let stop = ((i + 1) * record_size).min(self.buf.len()) - TAG_LEN;
                    slices.push(IoSlice::new(&self.buf[start..stop]));
                }
            }
        }
        slices.retain(|s| !s.is_empty());
        slices
    }
}

/// Where jobs go: straight to the writer on the calling thread, or to a writer thread.
pub(crate) enum Sink<'scope, W: ?Sized> {
    Direct(&'scope mut W),
    Thread(WriterThread<'scope>),
    /// Only while switching from `Direct` to `Thread`, or after a failed switch.
    Gone,
}

impl<'scope, W: Write + Send + ?Sized> Sink<'scope, W> {
    /// Moves the writing to a thread of `scope`; does nothing if it is there already.
    pub(crate) fn start_thread<'env>(
        &mut self,
        scope: &'scope Scope<'scope, 'env>,
    ) -> io::Result<()> {
        if !matches!(self, Sink::Direct(_)) {
            return Ok(());
        }
        if let Sink::Direct(out) = std::mem::replace(self, Sink::Gone) {
            *self = Sink::Thread(WriterThread::spawn(scope, out)?);
        }
        Ok(())
    }
}

impl<W: Write + ?Sized> Sink<'_, W> {
    /// Writes `job`, or queues it for the writer thread (waiting while the queue is full).
    /// Buffers that are free again, this job's or earlier ones, go to `recycle`.
    pub(crate) fn write(&mut self, job: Job, mut recycle: impl FnMut(Vec<u8>)) -> io::Result<()> {
        match self {
            Sink::Direct(out) => {
                job.write_to(*out)?;
                recycle(job.buf);
                Ok(())
            }
            Sink::Thread(thread) => {
                thread.returned.try_iter().for_each(&mut recycle);
                thread.send(job)
            }
            Sink::Gone => Err(gone()),
        }
    }

    /// Waits until everything queued is written; returns the writer thread's error, if any.
    pub(crate) fn finish(self) -> io::Result<()> {
        match self {
            Sink::Direct(_) => Ok(()),
            Sink::Thread(thread) => thread.finish(),
            Sink::Gone => Err(gone()),
        }
    }
}

/// A scoped thread that writes the jobs it receives in order and sends their buffers back.
pub(crate) struct WriterThread<'scope> {
    jobs: SyncSender<Job>,
    returned: Receiver<Vec<u8>>,
    handle: ScopedJoinHandle<'scope, io::Result<()>>,
}

impl<'scope> WriterThread<'scope> {
    fn spawn<'env, W: Write + Send + ?Sized>(
        scope: &'scope Scope<'scope, 'env>,
        out: &'scope mut W,
    ) -> io::Result<WriterThread<'scope>> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE_DEPTH);
        let (give_back, returned) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("brv1-writer".into())
            .spawn_scoped(scope, move || {
                for job in queue {
                    job.write_to(out)?;
                    // The caller stops collecting buffers only when it is done with them.
                    let _ = give_back.send(job.buf);
                }
                out.flush()
            })?;
        Ok(WriterThread {
            jobs,
            returned,
            handle,
        })
    }

    /// Queues `job`. If the thread has stopped (a write failed), its error comes from
    /// [`WriterThread::finish`]; this returns a placeholder.
    fn send(&self, job: Job) -> io::Result<()> {
        self.jobs.send(job).map_err(|_| gone())
    }

    fn finish(self) -> io::Result<()> {
        drop(self.jobs);
        match self.handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// The error of a writer thread that stopped before its error could be collected.
fn gone() -> io::Error {
    io::Error::other("brv1 writer thread stopped unexpectedly")
}

/// Picks the real error of a run that used a [`Sink`]: the writer's, when it failed (the
/// caller then only saw a placeholder), else the caller's own.
pub(crate) fn first_error<T>(caller: io::Result<T>, writer: io::Result<()>) -> io::Result<T> {
    match (caller, writer) {
        (_, Err(e)) => Err(e),
        (result, Ok(())) => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_layout_skips_tags_and_handed_out_bytes() {
        // Records of 4 plaintext bytes and a 16-byte tag; the last record is short.
        let mut buf = Vec::new();
        for (i, len) in [4usize, 4, 2].into_iter().enumerate() {
            buf.extend(std::iter::repeat_n(b'a' + i as u8, len));
            buf.extend([0xee; TAG_LEN]);
        }
        let job = Job {
            buf,
            prefix: None,
            layout: Layout::Plaintext {
                record_size: 4 + TAG_LEN,
                first: 0,
                skip: 1,
                end: 3,
            },
        };
        let mut out = Vec::new();
        job.write_to(&mut out).unwrap();
        assert_eq!(out, b"aaabbbbcc");
        assert_eq!(job.len(), 9);
    }

    #[test]
    fn a_failed_write_on_the_thread_is_reported_by_finish() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out = Full;
        let err = std::thread::scope(|scope| {
            let mut sink = Sink::Direct(&mut out);
            sink.start_thread(scope).unwrap();
            let mut sent = Ok(());
            for _ in 0..10 {
                let job = Job {
                    buf: vec![1; 10],
                    prefix: None,
                    layout: Layout::Whole,
                };
                sent = sink.write(job, drop);
                if sent.is_err() {
                    break;
                }
            }
            first_error(sent, sink.finish()).unwrap_err()
        });
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }
}
