//! A dependency-free progress line on stderr, drawn by a reader wrapper as input is consumed.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// Inputs at least this large get a progress line when stderr is a terminal.
pub(crate) const AUTO_THRESHOLD: u64 = 4 << 20;
const REDRAW_EVERY: Duration = Duration::from_millis(100);
const BAR_WIDTH: usize = 30;

/// Counts the bytes read through it and redraws a progress line at most ten times a second.
pub(crate) struct ProgressReader<R> {
    inner: R,
    meter: Option<Meter>,
}

struct Meter {
    label: &'static str,
    total: Option<u64>,
    done: u64,
    started: Instant,
    drawn: Instant,
}

impl<R: Read> ProgressReader<R> {
    /// Wraps `inner`; draws only when `show` is true.
    pub(crate) fn new(
        inner: R,
        label: &'static str,
        total: Option<u64>,
        show: bool,
    ) -> ProgressReader<R> {
        let now = Instant::now();
        let meter = show.then_some(Meter {
            label,
            total,
            done: 0,
            started: now,
            drawn: now,
        });
        ProgressReader { inner, meter }
    }

    /// Draws the final state and ends the line.
    pub(crate) fn finish(&mut self) {
        if let Some(m) = &mut self.meter {
            m.draw();
            eprintln!();
        }
    }

    /// Clears the line (before an error message).
    pub(crate) fn clear(&mut self) {
        if self.meter.take().is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}

impl<R: Read> ProgressReader<R> {
    fn count(&mut self, n: usize) {
        if let Some(m) = &mut self.meter {
            m.done += n as u64;
            if m.drawn.elapsed() >= REDRAW_EVERY {
                m.draw();
            }
        }
    }
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(n);
        Ok(n)
    }

    /// Passed through, so a file is still read with one `readv` per segment.
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let n = self.inner.read_vectored(bufs)?;
        self.count(n);
        Ok(n)
    }
}

impl Meter {
    fn draw(&mut self) {
        self.drawn = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.done as f64 / secs / 1e6;
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        let line = match self.total {
            Some(total) if total > 0 => {
                let frac = (self.done as f64 / total as f64).min(1.0);
                let filled = (frac * BAR_WIDTH as f64) as usize;
                format!(
                    "{} [{}{}] {:>3.0}% {:.1}/{:.1} MiB {rate:.0} MB/s",
                    self.label,
                    "=".repeat(filled),
                    " ".repeat(BAR_WIDTH - filled),
                    frac * 100.0,
                    mib(self.done),
                    mib(total),
                )
            }
            _ => format!("{} {:.1} MiB {rate:.0} MB/s", self.label, mib(self.done)),
        };
        let mut err = io::stderr().lock();
        // Progress is best effort: a closed stderr must not fail the run.
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }
}
