//! Streaming binlog reader: event framing with checksum verification, typed events, and file summaries.
//!
//! Three layers, each usable alone:
//! - [`EventDecoder`] frames bytes into [`Event`]s (magic number, FORMAT_DESCRIPTION, CRC32), in the
//!   `tokio_util::codec::Decoder` shape, so async callers can feed it from any byte source.
//! - [`Reader`] drives the decoder from a [`std::io::Read`] with a bounded buffer (one event plus a read
//!   chunk) and yields events; [`Event::data`] decodes the bodies this crate understands.
//! - [`Summarizer`] folds events into a [`FileSummary`]; [`summarize`] and [`summarize_file`] do all three.
//!
//! Errors name the byte offset of the event and its type: `truncated QUERY event (40 of 171 bytes) at
//! offset 91204`.

mod decoder;
mod event;
mod parse;
mod summary;

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use bytes::BytesMut;

pub use decoder::{DEFAULT_MAX_EVENT_SIZE, EventDecoder, MAGIC};
pub use event::{
    Checksum, Compression, Event, EventData, EventHeader, EventType, Flavor, FormatDescription,
    GtidEvent, GtidKind, Incident, MariadbGtidEvent, Query, Rotate, TransactionPayload,
};
pub use summary::{FileSummary, Summarizer, Terminal};

use crate::Error;

/// Reads events from a byte source, holding at most one event plus one read chunk in memory.
///
/// Iterate it (or call [`next_event`](Self::next_event)); after an error it yields nothing more.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    buf: BytesMut,
    decoder: EventDecoder,
    eof: bool,
    failed: bool,
}

impl<R: Read> Reader<R> {
    /// A reader over a whole binlog file, starting at its magic number.
    pub fn new(inner: R) -> Reader<R> {
        Reader::with_decoder(inner, EventDecoder::new())
    }

    /// A reader using a configured decoder.
    pub fn with_decoder(inner: R, decoder: EventDecoder) -> Reader<R> {
        Reader {
            inner,
            buf: BytesMut::with_capacity(READ_CHUNK),
            decoder,
            eof: false,
            failed: false,
        }
    }

    /// The next event, `Ok(None)` at a clean end of the input.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        if self.failed {
            return Ok(None);
        }
        let result = self.advance();
        self.failed = result.is_err();
        result
    }

    /// The file offset of the next event.
    pub fn offset(&self) -> u64 {
        self.decoder.offset()
    }

    /// The FORMAT_DESCRIPTION in force, once read.
    pub fn format(&self) -> Option<&FormatDescription> {
        self.decoder.format()
    }

    /// The underlying source.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn advance(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if let Some(event) = self.decoder.decode(&mut self.buf)? {
                return Ok(Some(event));
            }
            if self.eof {
                return self.decoder.decode_eof(&mut self.buf);
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<(), Error> {
        let start = self.buf.len();
        self.buf.resize(start + READ_CHUNK, 0);
        let result = loop {
            match self.inner.read(&mut self.buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(start + n);
        match result {
            Ok(0) => self.eof = true,
            Ok(_) => {}
            Err(cause) => {
                return Err(Error::Io {
                    offset: self.decoder.offset() + start as u64,
                    cause,
                });
            }
        }
        Ok(())
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}

/// Reads a whole binlog and summarizes it; the first malformed byte is an error.
pub fn summarize<R: Read>(r: R) -> Result<FileSummary, Error> {
    let mut reader = Reader::new(r);
    let mut summarizer = Summarizer::new();
    while let Some(event) = reader.next_event()? {
        summarizer.push(&event)?;
    }
    // A clean end of input always follows a FORMAT_DESCRIPTION: the decoder rejects any other first event
    // and reports an empty file.
    summarizer.finish().ok_or_else(|| {
        Error::corrupt(
            4,
            None,
            crate::CorruptKind::MissingFormatDescription,
            "no FORMAT_DESCRIPTION event",
        )
    })
}

/// [`summarize`] for a file on disk.
pub fn summarize_file(path: &Path) -> Result<FileSummary, Error> {
    let file = File::open(path).map_err(|cause| Error::Io { offset: 0, cause })?;
    summarize(file)
}

/// How much the [`Reader`] asks its source for at a time.
const READ_CHUNK: usize = 128 * 1024;
