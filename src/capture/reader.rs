//! Capture readers: format detection, the zero-copy [`SliceReader`] over a
//! memory-mapped file, and the [`StreamReader`] over standard input or any other
//! [`Read`].
//!
//! Both readers drive the same decoders. A decoder reads the bytes from the
//! current position and returns one step: a frame, a block to skip, a
//! request for more bytes, the end, or a fatal error. The slice reader always
//! has every byte there is, so a request for more means the input is truncated.
//! The stream reader reads more and calls the decoder again, so both readers
//! give the same frames and errors for the same bytes.

use std::borrow::Borrow;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{self, AtomicBool};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use exflow_mmap::MappedFile;

use super::error::{CaptureError, CaptureErrorKind, IoOperation};
use super::pcap::{PCAP_FILE_HEADER_LEN, PcapDecoder, is_pcap_magic_prefix};
use super::pcapng::{BlockType, MAX_BLOCK_LEN, PcapngDecoder};
use super::stats::{CaptureStats, InterfaceInfo};
use super::{Frame, LinkType, Timestamp};

/// Initial size of the stream reader's buffer. Each read requests the free space
/// behind the pending bytes, so at most this much until the buffer grows.
pub const STREAM_BUFFER_LEN: usize = 1024 * 1024;

/// Size the stream reader's buffer may grow to for large blocks or records.
/// The decoders reject records and blocks above
/// [`MAX_PCAP_CAPTURED_LEN`](super::pcap::MAX_PCAP_CAPTURED_LEN) plus its header
/// and [`MAX_BLOCK_LEN`]. Room for two of them keeps a search for the next
/// pcapng block from moving a whole block's bytes at every step.
pub const MAX_STREAM_BUFFER_LEN: usize = 2 * MAX_BLOCK_LEN as usize;

/// Distance ahead of the current record at which the slice reader reads one
/// byte every [`TOUCH_STEP`] bytes. Walking a memory-mapped file is bound by
/// the latency of loading each record header, because the next header's place
/// is known only once the current one is read. Loads ahead of the walk overlap
/// those waits. In the `capture` benchmark's interleaved runs over a cached
/// 512 MiB pcap file (2-core Linux VM), they cut the median walk from about
/// 120 ms to 75-90 ms.
const TOUCH_AHEAD: usize = 16 * 1024;

/// Spacing of the slice reader's loads ahead of the walk.
const TOUCH_STEP: usize = 256;

/// The name [`open`] gives standard input in messages.
pub const STDIN_NAME: &str = "standard input";

/// A decoder's result for the bytes at the current position.
///
/// A frame travels in a separate slot that the caller owns, not inside this
/// enum. Copying a frame out of an enum that was written field by field stalls
/// store forwarding, which cost about a third of the per-frame time.
#[derive(Debug)]
pub(crate) enum Step {
    /// A frame was written to the caller's slot; its record or block takes this
    /// many bytes.
    Frame(usize),
    /// Bytes to pass over: a block without a frame, or a step of a resynchronisation.
    Skip(usize),
    /// The decoder needs at least this many bytes from the current position.
    /// Decoders give it only when more input may follow.
    NeedMore(usize),
    /// The input ended cleanly.
    End,
    /// Reading cannot go on.
    Fatal(CaptureErrorKind),
}

/// The decoder of one input's format.
#[derive(Clone, Debug)]
pub(crate) enum Decoder {
    Pcap(PcapDecoder),
    Pcapng(PcapngDecoder),
}

/// Bytes of a magic number an input must hold to be read as a capture cut
/// inside its file header rather than as another kind of file.
const MIN_MAGIC_PREFIX: usize = 2;

impl Decoder {
    /// Detects the format from the first bytes of the input; returns the decoder,
    /// its initial stats and the length of the file header it read.
    fn start(input: &[u8], at_eof: bool) -> Result<(Decoder, CaptureStats, usize), Step> {
        if input.len() < 4 && !at_eof {
            return Err(Step::NeedMore(4));
        }
        // An input that ends inside a magic number goes to that format's
        // decoder too, which reports a truncated file header. One byte is too
        // little to tell: a lone newline begins the pcapng magic.
        let magic = input.get(..4).unwrap_or(input);
        if magic.len() < MIN_MAGIC_PREFIX {
            return Err(Step::Fatal(CaptureErrorKind::NotCapture {
                first_bytes: magic.to_vec(),
            }));
        }

        if is_pcap_magic_prefix(magic) {
            let (decoder, stats) = PcapDecoder::start(input, at_eof)?;
            return Ok((Decoder::Pcap(decoder), stats, PCAP_FILE_HEADER_LEN));
        }
        if BlockType::SECTION_HEADER.0.to_be_bytes().starts_with(magic) {
            let (decoder, stats) = PcapngDecoder::start(input, at_eof)?;
            return Ok((Decoder::Pcapng(decoder), stats, 0));
        }
        Err(Step::Fatal(CaptureErrorKind::NotCapture {
            first_bytes: magic.to_vec(),
        }))
    }

    #[inline(always)]
    fn decode<'a>(
        &mut self,
        input: &'a [u8],
        offset: u64,
        at_eof: bool,
        stats: &mut CaptureStats,
        frame: &mut Frame<'a>,
    ) -> Step {
        match self {
            Decoder::Pcap(decoder) => decoder.decode(input, offset, at_eof, stats, frame),
            Decoder::Pcapng(decoder) => decoder.decode(input, offset, at_eof, stats, frame),
        }
    }
}

/// Returns a frame with no data, for a decoder to overwrite.
#[inline(always)]
pub(crate) fn empty_frame<'a>() -> Frame<'a> {
    Frame {
        ts: Timestamp(0),
        link: LinkType(0),
        data: &[],
        orig_len: 0,
        interface: 0,
        offset: 0,
    }
}

/// A source of frames the pipeline can drive, whichever reader is behind it.
pub trait FrameSource {
    /// Returns the next frame, or the error that ends the input, or `None` after
    /// the end or after an error.
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, CaptureError>>;

    /// Returns the counters gathered so far.
    fn stats(&self) -> &CaptureStats;

    /// Returns the interfaces seen so far, over all sections.
    fn interfaces(&self) -> &[InterfaceInfo] {
        &self.stats().interfaces
    }

    /// Returns the file name as given, or [`STDIN_NAME`].
    fn input_name(&self) -> &str;
}

/// Walks a capture held in memory and yields frames that borrow it.
///
/// Frames live as long as the bytes, not the reader, so they can be sent to
/// worker threads of a thread scope that outlives the reader's loop.
#[derive(Clone, Debug)]
pub struct SliceReader<'a> {
    input: String,
    bytes: &'a [u8],
    position: usize,
    /// Position of the next load ahead of the walk.
    touched: usize,
    /// The map under `bytes`, when the reader walks a mapped file, and the
    /// position of the next [`MappedFile::advance`] call.
    map: Option<&'a MappedFile>,
    next_advance: usize,
    decoder: Decoder,
    stats: CaptureStats,
    done: bool,
}

impl<'a> SliceReader<'a> {
    /// Detects the format of `bytes` and reads its file header. `input` names the
    /// bytes in messages.
    pub fn new(bytes: &'a [u8], input: impl Into<String>) -> Result<SliceReader<'a>, CaptureError> {
        let input = input.into();
        let (decoder, stats, header_len) = match Decoder::start(bytes, true) {
            Ok(started) => started,
            Err(step) => return Err(CaptureError::new(input, step_error(step))),
        };
        Ok(SliceReader {
            input,
            bytes,
            position: header_len,
            touched: header_len,
            map: None,
            next_advance: usize::MAX,
            decoder,
            stats,
            done: false,
        })
    }

    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    pub fn input_name(&self) -> &str {
        &self.input
    }

    /// Maps the window ahead of the walk and releases the one far behind.
    #[cold]
    fn advance_map(&mut self) {
        if let Some(map) = self.map {
            map.advance(self.position);
        }
        self.next_advance = self.position.saturating_add(exflow_mmap::WINDOW_LEN);
    }

    /// Reads one byte every [`TOUCH_STEP`] bytes up to [`TOUCH_AHEAD`] bytes
    /// past the current position, so that the memory holding the next records
    /// is on its way into the CPU cache before the decoder needs it.
    #[inline(always)]
    fn touch_ahead(&mut self) {
        let target = self
            .position
            .saturating_add(TOUCH_AHEAD)
            .min(self.bytes.len());
        while self.touched < target {
            if let Some(&byte) = self.bytes.get(self.touched) {
                std::hint::black_box(byte);
            }
            self.touched += TOUCH_STEP;
        }
    }
}

impl<'a> Iterator for SliceReader<'a> {
    type Item = Result<Frame<'a>, CaptureError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let mut frame = empty_frame();
        while !self.done {
            self.touch_ahead();
            let rest = self.bytes.get(self.position..).unwrap_or_default();
            let position = self.position as u64;
            match self
                .decoder
                .decode(rest, position, true, &mut self.stats, &mut frame)
            {
                Step::Frame(consumed) => {
                    self.position += consumed;
                    self.stats.bytes_read = self.position as u64;
                    self.stats.add_frame(frame.ts, frame.data.len());
                    if self.position >= self.next_advance {
                        self.advance_map();
                    }
                    return Some(Ok(frame));
                }
                Step::Skip(consumed) => {
                    self.position += consumed;
                    self.stats.bytes_read = self.position as u64;
                }
                Step::End => self.done = true,
                step @ (Step::NeedMore(_) | Step::Fatal(_)) => {
                    self.done = true;
                    return Some(Err(CaptureError::new(self.input.clone(), step_error(step))));
                }
            }
        }
        None
    }
}

impl FrameSource for SliceReader<'_> {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, CaptureError>> {
        self.next()
    }

    fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    fn input_name(&self) -> &str {
        &self.input
    }
}

/// A frame and the shared buffer that contains its data.
pub type SharedFrame<'a> = (Frame<'a>, &'a Arc<Vec<u8>>);

/// Reads a capture from any [`Read`] in large chunks and yields frames that
/// borrow its buffer until the next call.
pub struct StreamReader<R> {
    input: String,
    buffer: ReadBuffer<R>,
    decoder: Decoder,
    stats: CaptureStats,
    done: bool,
}

impl<R: Read> StreamReader<R> {
    /// Reads the first bytes of `reader`, detects the format and reads the file
    /// header. `input` names the reader in messages.
    pub fn new(reader: R, input: impl Into<String>) -> Result<StreamReader<R>, CaptureError> {
        StreamReader::with_buffer_len(reader, input, STREAM_BUFFER_LEN)
    }

    /// Like [`new`](Self::new) with a buffer of `buffer_len` bytes, clamped to at
    /// least 64 bytes and at most [`MAX_STREAM_BUFFER_LEN`].
    pub fn with_buffer_len(
        reader: R,
        input: impl Into<String>,
        buffer_len: usize,
    ) -> Result<StreamReader<R>, CaptureError> {
        let input = input.into();
        let mut buffer = ReadBuffer::new(reader, buffer_len);
        loop {
            match Decoder::start(buffer.pending(), buffer.eof) {
                Ok((decoder, stats, header_len)) => {
                    let mut stream = StreamReader {
                        input,
                        buffer,
                        decoder,
                        stats,
                        done: false,
                    };
                    stream.consume(header_len);
                    return Ok(stream);
                }
                Err(Step::NeedMore(needed)) => {
                    if let Err(kind) = buffer.fill(needed) {
                        return Err(CaptureError::new(input, kind));
                    }
                }
                Err(step) => return Err(CaptureError::new(input, step_error(step))),
            }
        }
    }

    /// Returns the next frame, or the error that ends the input, or `None` after
    /// the end or after an error. The frame borrows the reader's buffer.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, CaptureError>> {
        self.next_shared_frame()
            .map(|next| next.map(|(frame, _)| frame))
    }

    /// Like [`next_frame`](Self::next_frame), and also returns the buffer that
    /// contains the frame's data. A caller that keeps a clone of the buffer can
    /// keep using the data after the next call: the reader then moves on to a
    /// new buffer instead of overwriting this one.
    pub fn next_shared_frame(&mut self) -> Option<Result<SharedFrame<'_>, CaptureError>> {
        // The decoder's frame borrows the buffer, which a refill would change, so
        // the loop keeps the frame's fields and the place of its data, and the
        // frame is rebuilt once the loop is over.
        let (frame, (data_start, len)) = loop {
            if self.done {
                return None;
            }
            let pending = self.buffer.pending();
            let mut slot = empty_frame();
            let step = self.decoder.decode(
                pending,
                self.buffer.offset,
                self.buffer.eof,
                &mut self.stats,
                &mut slot,
            );
            match step {
                Step::Frame(consumed) => {
                    let data_start =
                        (slot.data.as_ptr() as usize).wrapping_sub(pending.as_ptr() as usize);
                    let data_range = (self.buffer.start.wrapping_add(data_start), slot.data.len());
                    let frame = without_data(&slot);
                    self.consume(consumed);
                    break (frame, data_range);
                }
                Step::Skip(consumed) => self.consume(consumed),
                Step::NeedMore(needed) => {
                    if let Err(kind) = self.buffer.fill(needed) {
                        return Some(Err(self.fail(kind)));
                    }
                }
                Step::End => self.done = true,
                step @ Step::Fatal(_) => {
                    let kind = step_error(step);
                    return Some(Err(self.fail(kind)));
                }
            }
        };

        let data_end = data_start.saturating_add(len);
        if data_end > self.buffer.bytes.len() {
            // The decoders return data inside the bytes they were given, so this is a guard.
            let kind = CaptureErrorKind::Io {
                operation: IoOperation::Read,
                source: io::Error::other("frame data outside the read buffer"),
            };
            return Some(Err(self.fail(kind)));
        }
        self.stats.add_frame(frame.ts, len);
        let bytes = &self.buffer.bytes;
        let data = bytes.get(data_start..data_end).unwrap_or_default();
        Some(Ok((Frame { data, ..frame }, bytes)))
    }

    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    pub fn input_name(&self) -> &str {
        &self.input
    }

    /// Returns the pool where the owners of the buffers that
    /// [`next_shared_frame`](Self::next_shared_frame) returns give them back,
    /// for the reader to fill again.
    pub fn chunk_pool(&mut self) -> ChunkPool {
        let (len, held) = (self.buffer.base_len, self.buffer.bytes.len());
        let pool = self.buffer.pool.get_or_insert_with(|| {
            let pool = ChunkPool::new(len);
            pool.state().held_bytes = held;
            pool
        });
        pool.clone()
    }

    fn consume(&mut self, count: usize) {
        self.buffer.consume(count);
        self.stats.bytes_read = self.buffer.offset;
    }

    fn fail(&mut self, kind: CaptureErrorKind) -> CaptureError {
        self.done = true;
        CaptureError::new(self.input.clone(), kind)
    }
}

impl<R: Read> FrameSource for StreamReader<R> {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, CaptureError>> {
        StreamReader::next_frame(self)
    }

    fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    fn input_name(&self) -> &str {
        &self.input
    }
}

/// Most spare buffers that a [`ChunkPool`] keeps.
const MAX_SPARE_BUFFERS: usize = 16;

/// The buffers of a [`StreamReader`] that other threads share: it counts the
/// bytes of the buffers still owned outside the reader's current one, and keeps
/// buffers that every owner gave back for the reader to fill again. Reusing
/// them spares the allocation, zeroing and page faults of a new buffer per
/// chunk. Only buffers of the reader's usual size are kept, so a large record
/// leaves no large buffer behind.
#[derive(Clone, Debug)]
pub struct ChunkPool {
    shared: Arc<(Mutex<PoolState>, Condvar)>,
    len: usize,
}

#[derive(Debug, Default)]
struct PoolState {
    spares: Vec<Vec<u8>>,
    /// Bytes of the buffers filled and not yet given back by their last owner.
    held_bytes: usize,
}

impl ChunkPool {
    fn new(len: usize) -> ChunkPool {
        ChunkPool {
            shared: Arc::default(),
            len,
        }
    }

    fn state(&self) -> MutexGuard<'_, PoolState> {
        // A panic while the lock was held cannot leave the state half-changed.
        self.shared.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops one owner of a buffer. The last owner's call releases its bytes
    /// from the count and keeps the buffer as a spare.
    pub fn give_back(&self, buffer: Arc<Vec<u8>>) {
        let Some(buffer) = Arc::into_inner(buffer) else {
            return;
        };
        let mut state = self.state();
        state.held_bytes = state.held_bytes.saturating_sub(buffer.len());
        if buffer.len() == self.len && state.spares.len() < MAX_SPARE_BUFFERS {
            state.spares.push(buffer);
        }
        drop(state);
        self.shared.1.notify_all();
    }

    /// Returns the bytes of the buffers filled and not given back yet,
    /// the reader's current one included.
    pub fn held_bytes(&self) -> usize {
        self.state().held_bytes
    }

    /// Waits until at most `limit` bytes are held, or `stop` is set.
    pub fn wait_until_held_at_most(&self, limit: usize, stop: &AtomicBool) {
        let mut state = self.state();
        while state.held_bytes > limit && !stop.load(atomic::Ordering::Relaxed) {
            // The timeout lets a stop that no give-back follows end the wait.
            state = self
                .shared
                .1
                .wait_timeout(state, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Counts a held buffer that grew from `old_len` to `new_len` bytes.
    fn count_growth(&self, old_len: usize, new_len: usize) {
        self.state().held_bytes += new_len.saturating_sub(old_len);
    }

    /// Returns a buffer to fill, at least `needed` bytes long: a spare, or a
    /// new one of the usual size or of `grown` bytes. Counts it as held.
    fn take(&self, needed: usize, grown: usize) -> Vec<u8> {
        let mut state = self.state();
        let buffer = match state.spares.pop() {
            Some(spare) if needed <= spare.len() => spare,
            _ if needed <= self.len => vec![0; self.len],
            _ => vec![0; grown],
        };
        state.held_bytes += buffer.len();
        buffer
    }
}

/// The stream reader's buffer: bytes read and not yet consumed are
/// `bytes[start..end]`. While another owner of `bytes` exists, a refill moves
/// the pending bytes to a new buffer and leaves the old one as it is.
struct ReadBuffer<R> {
    reader: R,
    bytes: Arc<Vec<u8>>,
    /// The size of a new buffer, unless a record needs more.
    base_len: usize,
    /// The pool that shared buffers go back to, once the reader shares them.
    pool: Option<ChunkPool>,
    start: usize,
    end: usize,
    /// Input offset of `bytes[start]`.
    offset: u64,
    eof: bool,
}

impl<R: Read> ReadBuffer<R> {
    fn new(reader: R, len: usize) -> ReadBuffer<R> {
        ReadBuffer {
            reader,
            bytes: Arc::new(vec![0; len.clamp(64, MAX_STREAM_BUFFER_LEN)]),
            base_len: len.clamp(64, MAX_STREAM_BUFFER_LEN),
            pool: None,
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    fn pending(&self) -> &[u8] {
        self.bytes.get(self.start..self.end).unwrap_or_default()
    }

    fn consume(&mut self, count: usize) {
        let count = count.min(self.end - self.start);
        self.start += count;
        self.offset += count as u64;
    }

    /// Reads until `needed` bytes are pending or the reader ends. Moves the
    /// pending bytes to the front when they would not fit behind, and grows the
    /// buffer up to [`MAX_STREAM_BUFFER_LEN`] when they would not fit at all.
    fn fill(&mut self, needed: usize) -> Result<(), CaptureErrorKind> {
        if self.eof || self.end - self.start >= needed {
            // Decoders request more only when more may come and is needed; another
            // request would repeat forever, so it is reported instead.
            return Err(CaptureErrorKind::Io {
                operation: IoOperation::Read,
                source: io::Error::other(format!(
                    "{needed} bytes requested with {} pending and the end of input {}",
                    self.end - self.start,
                    if self.eof { "reached" } else { "not reached" }
                )),
            });
        }
        if needed > MAX_STREAM_BUFFER_LEN {
            // The decoders cap every length below the buffer cap, so this is a guard.
            return Err(CaptureErrorKind::Io {
                operation: IoOperation::Read,
                source: io::Error::other(format!(
                    "a record of {needed} bytes exceeds the read buffer maximum of {MAX_STREAM_BUFFER_LEN} bytes"
                )),
            });
        }
        let grown = needed.saturating_mul(2).min(MAX_STREAM_BUFFER_LEN);
        let bytes = match Arc::get_mut(&mut self.bytes) {
            Some(bytes) => {
                if self.start + needed > bytes.len() {
                    bytes.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                }
                if needed > bytes.len() {
                    if let Some(pool) = &self.pool {
                        pool.count_growth(bytes.len(), grown);
                    }
                    bytes.resize(grown, 0);
                }
                bytes
            }
            None => {
                // A shared buffer stays as it is for its other owners, and a
                // new one starts at the usual size again.
                let mut fresh = match &self.pool {
                    Some(pool) => pool.take(needed, grown),
                    None if needed <= self.base_len => vec![0; self.base_len],
                    None => vec![0; grown],
                };
                fresh[..self.end - self.start].copy_from_slice(&self.bytes[self.start..self.end]);
                self.end -= self.start;
                self.start = 0;
                let shared = std::mem::replace(&mut self.bytes, Arc::new(fresh));
                if let Some(pool) = &self.pool {
                    pool.give_back(shared);
                }
                Arc::make_mut(&mut self.bytes)
            }
        };

        while self.end - self.start < needed && !self.eof {
            let free = bytes.get_mut(self.end..).unwrap_or_default();
            let free_len = free.len();
            match self.reader.read(free) {
                Ok(0) => self.eof = true,
                Ok(count) => self.end += count.min(free_len),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    return Err(CaptureErrorKind::Io {
                        operation: IoOperation::Read,
                        source: error,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Returns a copy of `frame` without its data, which borrows no buffer.
fn without_data(frame: &Frame<'_>) -> Frame<'static> {
    Frame {
        ts: frame.ts,
        link: frame.link,
        data: &[],
        orig_len: frame.orig_len,
        interface: frame.interface,
        offset: frame.offset,
    }
}

/// Turns a decoder's final step into the error it stands for.
fn step_error(step: Step) -> CaptureErrorKind {
    match step {
        Step::Fatal(kind) => kind,
        // Only the stream reader asks for more, and it reads until the input ends.
        _ => CaptureErrorKind::Io {
            operation: IoOperation::Read,
            source: io::Error::from(io::ErrorKind::UnexpectedEof),
        },
    }
}

/// A capture file mapped into memory, with its format detected.
pub struct MappedCapture {
    input: String,
    /// The mapped file, for [`MappedCapture::stream`].
    file: File,
    map: MappedFile,
    decoder: Decoder,
    stats: CaptureStats,
    header_len: usize,
}

impl MappedCapture {
    /// Maps an open regular file and detects its format.
    pub fn new(file: File, input: impl Into<String>) -> Result<MappedCapture, CaptureError> {
        let input = input.into();
        let map = MappedFile::map(&file).map_err(|source| {
            CaptureError::new(
                input.clone(),
                CaptureErrorKind::Io {
                    operation: IoOperation::Map,
                    source,
                },
            )
        })?;
        let (decoder, stats, header_len) = match Decoder::start(map.bytes(), true) {
            Ok(started) => started,
            Err(step) => return Err(CaptureError::new(input, step_error(step))),
        };
        Ok(MappedCapture {
            input,
            file,
            map,
            decoder,
            stats,
            header_len,
        })
    }

    /// Returns a reader over the mapped bytes, starting after the file header.
    pub fn reader(&self) -> SliceReader<'_> {
        SliceReader {
            input: self.input.clone(),
            bytes: self.map.bytes(),
            position: self.header_len,
            touched: self.header_len,
            map: Some(&self.map),
            next_advance: 0,
            decoder: self.decoder.clone(),
            stats: self.stats.clone(),
            done: false,
        }
    }

    /// Returns a reader of the mapped bytes through `read` calls on the file,
    /// from its start to the length it had when it was mapped. It gives the
    /// same frames and errors as [`MappedCapture::reader`] and leaves the map
    /// alone, so its pages never count in the resident set.
    pub fn stream(&self) -> Result<StreamReader<FileRange<&File>>, CaptureError> {
        let range = FileRange {
            file: &self.file,
            position: 0,
            end: self.map.len() as u64,
        };
        StreamReader::new(range, self.input.clone())
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.bytes()
    }

    pub fn input_name(&self) -> &str {
        &self.input
    }
}

/// Reads a byte range of a file, owned or borrowed, at explicit offsets, so
/// that several readers can share one open file. A file that shrinks below
/// the range ends it early, which the stream reader reports as a truncation.
#[derive(Debug)]
pub struct FileRange<F> {
    file: F,
    position: u64,
    end: u64,
}

impl<F: Borrow<File>> Read for FileRange<F> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end.saturating_sub(self.position)).unwrap_or(usize::MAX);
        let len = buffer.len().min(left);
        if len == 0 {
            return Ok(0);
        }
        let count = read_at(self.file.borrow(), &mut buffer[..len], self.position)?;
        self.position += count as u64;
        Ok(count)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    // Unlike `read_at` on Unix, this also moves the file's position, which no
    // reader of a `FileRange` uses.
    std::os::windows::fs::FileExt::seek_read(file, buffer, offset)
}

/// An opened capture input: a mapped file, or a stream for standard input and
/// files that cannot be mapped (pipes, character devices).
pub enum CaptureInput {
    Mapped(MappedCapture),
    Stream(StreamReader<Box<dyn Read + Send>>),
}

impl CaptureInput {
    pub fn input_name(&self) -> &str {
        match self {
            CaptureInput::Mapped(capture) => capture.input_name(),
            CaptureInput::Stream(stream) => stream.input_name(),
        }
    }

    /// Returns a frame source over the input, whichever kind it is. A mapped
    /// file gets a new [`SliceReader`] from its start on every call; a stream
    /// goes on where it stopped.
    pub fn reader(&mut self) -> InputReader<'_> {
        match self {
            CaptureInput::Mapped(capture) => InputReader::Slice(capture.reader()),
            CaptureInput::Stream(stream) => InputReader::Stream(stream),
        }
    }
}

/// A frame source over a [`CaptureInput`] of either kind.
// One exists per input, so the size of the slice variant costs nothing, and
// boxing it would add an indirection to every frame.
#[allow(clippy::large_enum_variant)]
pub enum InputReader<'a> {
    Slice(SliceReader<'a>),
    Stream(&'a mut StreamReader<Box<dyn Read + Send>>),
}

impl FrameSource for InputReader<'_> {
    fn next_frame(&mut self) -> Option<Result<Frame<'_>, CaptureError>> {
        match self {
            InputReader::Slice(reader) => reader.next(),
            InputReader::Stream(reader) => reader.next_frame(),
        }
    }

    fn stats(&self) -> &CaptureStats {
        match self {
            InputReader::Slice(reader) => reader.stats(),
            InputReader::Stream(reader) => reader.stats(),
        }
    }

    fn input_name(&self) -> &str {
        match self {
            InputReader::Slice(reader) => reader.input_name(),
            InputReader::Stream(reader) => reader.input_name(),
        }
    }
}

/// Opens a capture: `-` reads standard input, any other path a file. A regular
/// file is memory-mapped; anything else is read as a stream. The format is
/// detected from the first bytes.
pub fn open(path: &Path) -> Result<CaptureInput, CaptureError> {
    let (input, file, metadata) = match open_path(path)? {
        Opened::Stdin(stream) => return Ok(CaptureInput::Stream(stream)),
        Opened::File(input, file, metadata) => (input, file, metadata),
    };
    if metadata.is_file() {
        return MappedCapture::new(file, input).map(CaptureInput::Mapped);
    }

    log::debug!("capture: {input} is not a regular file; reading it as a stream");
    let stream: Box<dyn Read + Send> = Box::new(file);
    StreamReader::new(stream, input).map(CaptureInput::Stream)
}

/// Opens a capture for the analysis: `-` reads standard input, any other path
/// a file, always through `read` calls. Unlike [`open`], a regular file is not
/// memory-mapped, so a file truncated during the run ends in a truncation
/// error, and the file's size does not count against an address-space limit.
pub fn open_stream(path: &Path) -> Result<StreamReader<Box<dyn Read + Send>>, CaptureError> {
    let (input, file, metadata) = match open_path(path)? {
        Opened::Stdin(stream) => return Ok(stream),
        Opened::File(input, file, metadata) => (input, file, metadata),
    };
    let stream: Box<dyn Read + Send> = if metadata.is_file() {
        Box::new(FileRange {
            file,
            position: 0,
            end: metadata.len(),
        })
    } else {
        Box::new(file)
    };
    StreamReader::new(stream, input)
}

/// A path opened by [`open_path`].
enum Opened {
    /// `-`: standard input, its format detected.
    Stdin(StreamReader<Box<dyn Read + Send>>),
    /// A file, with its name for messages and its metadata.
    File(String, File, std::fs::Metadata),
}

/// Opens `path`, or standard input for `-`, naming the path in any error.
fn open_path(path: &Path) -> Result<Opened, CaptureError> {
    if path.as_os_str() == "-" {
        let stream: Box<dyn Read + Send> = Box::new(io::stdin());
        return StreamReader::new(stream, STDIN_NAME).map(Opened::Stdin);
    }

    let input = path.display().to_string();
    let io_error = |operation, source| {
        CaptureError::new(input.clone(), CaptureErrorKind::Io { operation, source })
    };
    let file = File::open(path).map_err(|source| io_error(IoOperation::Open, source))?;
    let metadata = file
        .metadata()
        .map_err(|source| io_error(IoOperation::Open, source))?;
    Ok(Opened::File(input, file, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;

    /// Builds a little-endian microsecond pcap file with one record per payload.
    fn pcap_file(payloads: &[&[u8]]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for value in [0xA1B2_C3D4u32, 0x0004_0002, 0, 0, 262_144, 1] {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        for (index, payload) in payloads.iter().enumerate() {
            let len = payload.len() as u32;
            for value in [1_700_000_000 + index as u32, 0, len, len] {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
            bytes.extend_from_slice(payload);
        }
        bytes
    }

    /// A reader that fails with `error` once its bytes run out.
    struct FailingReader<'a> {
        bytes: &'a [u8],
        error: Option<io::Error>,
    }

    impl Read for FailingReader<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            if self.bytes.is_empty() {
                return Err(self
                    .error
                    .take()
                    .unwrap_or_else(|| io::Error::other("read again")));
            }
            let count = buffer.len().min(self.bytes.len());
            buffer[..count].copy_from_slice(&self.bytes[..count]);
            self.bytes = &self.bytes[count..];
            Ok(count)
        }
    }

    #[test]
    fn chunk_pool_counts_shared_buffers() {
        let large = vec![0x5a; 300];
        let bytes = pcap_file(&[b"first", &large, &large, &large, &large, b"last"]);
        let mut reader = StreamReader::with_buffer_len(&bytes[..], "pool", 64).unwrap();
        let pool = reader.chunk_pool();
        assert_eq!(pool.held_bytes(), 64);

        // Keep every chunk, as workers that have not finished would.
        let mut chunks: Vec<Arc<Vec<u8>>> = Vec::new();
        let mut lengths = Vec::new();
        while let Some(next) = reader.next_shared_frame() {
            let (frame, chunk) = next.unwrap();
            lengths.push(frame.data.len());
            if !chunks.last().is_some_and(|last| Arc::ptr_eq(last, chunk)) {
                chunks.push(Arc::clone(chunk));
            }
        }
        assert_eq!(lengths, [5, 300, 300, 300, 300, 4]);
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        let chunk_bytes: usize = chunks.iter().map(|chunk| chunk.len()).sum();
        let current = reader.buffer.bytes.len();
        let current_is_kept = chunks
            .iter()
            .any(|chunk| Arc::ptr_eq(chunk, &reader.buffer.bytes));
        let expected = chunk_bytes + if current_is_kept { 0 } else { current };
        assert_eq!(pool.held_bytes(), expected);

        for chunk in chunks {
            pool.give_back(chunk);
        }
        assert_eq!(pool.held_bytes(), current);
        let stop = AtomicBool::new(false);
        pool.wait_until_held_at_most(current, &stop);
    }

    #[test]
    fn stream_buffer_grows_for_large_record() {
        let large = vec![0x5a; 200_000];
        let bytes = pcap_file(&[b"first", &large, b"last"]);
        let mut reader = StreamReader::with_buffer_len(&bytes[..], "large", 64).unwrap();

        let mut lengths = Vec::new();
        while let Some(frame) = reader.next_frame() {
            let frame = frame.unwrap();
            assert_eq!(frame.link, LinkType::ETHERNET);
            lengths.push(frame.data.len());
        }

        assert_eq!(lengths, [5, 200_000, 4]);
        assert!(reader.buffer.bytes.len() >= 200_016);
        assert!(reader.buffer.bytes.len() <= MAX_STREAM_BUFFER_LEN);
        assert_eq!(reader.stats().bytes_read, bytes.len() as u64);
    }

    #[test]
    fn read_error_names_input_and_ends_reading() {
        let bytes = pcap_file(&[b"first", b"second"]);
        let cut = bytes.len() - 3;
        let failing = FailingReader {
            bytes: &bytes[..cut],
            error: Some(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "peer went away",
            )),
        };
        let mut reader = StreamReader::with_buffer_len(failing, STDIN_NAME, 64).unwrap();

        let first = reader.next_frame().unwrap().unwrap();
        assert_eq!(first.data, b"first");
        let error = reader.next_frame().unwrap().unwrap_err();

        assert_eq!(
            error.to_string(),
            "standard input: read failed: peer went away"
        );
        assert!(reader.next_frame().is_none());
    }

    #[test]
    fn interrupted_reads_are_retried() {
        let bytes = pcap_file(&[b"only"]);
        let interrupted = io::Error::from(io::ErrorKind::Interrupted);
        let reader = FailingReader {
            bytes: &bytes,
            error: Some(interrupted),
        };
        // After the interruption the reader fails for good, so only a retry after
        // it reaches a second read error.
        let mut stream = StreamReader::with_buffer_len(reader, "interrupted", 64).unwrap();

        let frame = stream.next_frame().unwrap().unwrap();
        assert_eq!(frame.data, b"only");
        let error = stream.next_frame().unwrap().unwrap_err();
        assert_eq!(error.to_string(), "interrupted: read failed: read again");
    }

    #[test]
    fn input_cut_inside_magic_is_truncated_header() {
        use crate::capture::error::{RecordKind, TruncatedPart};

        let pcap = RecordKind::PcapFileHeader;
        let section = RecordKind::PcapngBlock(BlockType::SECTION_HEADER);
        let magics = [
            ([0xa1, 0xb2, 0xc3, 0xd4], pcap, 24),
            ([0xd4, 0xc3, 0xb2, 0xa1], pcap, 24),
            ([0xa1, 0xb2, 0x3c, 0x4d], pcap, 24),
            ([0x4d, 0x3c, 0xb2, 0xa1], pcap, 24),
            ([0x0a, 0x0d, 0x0d, 0x0a], section, 12),
        ];
        for (magic, record, needed) in magics {
            for len in MIN_MAGIC_PREFIX..4 {
                let bytes = &magic[..len];
                let Err(streamed) = StreamReader::with_buffer_len(bytes, "cut", 64) else {
                    panic!("{bytes:02x?}: the stream reader accepted the input");
                };
                let errors = [SliceReader::new(bytes, "cut").unwrap_err(), streamed];
                for error in errors {
                    let CaptureErrorKind::Truncated {
                        offset,
                        record: found,
                        part,
                        needed: found_needed,
                        present,
                    } = error.kind
                    else {
                        panic!("{bytes:02x?}: {error}");
                    };
                    assert_eq!(offset, 0, "{bytes:02x?}");
                    assert_eq!(found, record, "{bytes:02x?}");
                    assert_eq!(part, TruncatedPart::Header, "{bytes:02x?}");
                    assert_eq!(found_needed, needed, "{bytes:02x?}");
                    assert_eq!(present, len as u64, "{bytes:02x?}");
                }
            }
        }
    }

    #[test]
    fn short_unknown_bytes_are_not_capture() {
        let inputs = [
            &[0x47, 0x49, 0x46][..],
            &[0xd4, 0xc3, 0xb3],
            &[0x0a, 0x0a],
            &[0x0a],
            &[0xd4],
        ];
        for bytes in inputs {
            let error = SliceReader::new(bytes, "tiny").unwrap_err();

            let CaptureErrorKind::NotCapture { first_bytes } = &error.kind else {
                panic!("{bytes:02x?}: {error}");
            };
            assert_eq!(first_bytes, bytes);
        }
    }

    #[test]
    fn mapped_stream_matches_map_walk() {
        let bytes = pcap_file(&[b"first", &[0x5a; 3000], b"last"]);
        let mut file = tempfile::tempfile().unwrap();
        io::Write::write_all(&mut file, &bytes).unwrap();
        let capture = MappedCapture::new(file, "mapped").unwrap();

        let frames: Vec<(u64, Vec<u8>)> = capture
            .reader()
            .map(|frame| {
                let frame = frame.unwrap();
                (frame.offset, frame.data.to_vec())
            })
            .collect();
        let mut stream = capture.stream().unwrap();
        let mut streamed = Vec::new();
        while let Some(frame) = stream.next_frame() {
            let frame = frame.unwrap();
            streamed.push((frame.offset, frame.data.to_vec()));
        }

        assert_eq!(frames.len(), 3);
        assert_eq!(streamed, frames);
        assert_eq!(stream.stats().bytes_read, bytes.len() as u64);
    }

    #[test]
    fn file_range_stops_at_its_end() {
        let mut file = tempfile::tempfile().unwrap();
        io::Write::write_all(&mut file, b"0123456789").unwrap();
        let mut range = FileRange {
            file: &file,
            position: 2,
            end: 7,
        };

        let mut read = Vec::new();
        range.read_to_end(&mut read).unwrap();

        assert_eq!(read, b"23456");
    }

    #[test]
    fn fill_rejects_request_it_cannot_change() {
        let bytes = pcap_file(&[b"frame"]);
        let mut buffer = ReadBuffer::new(&bytes[..], 64);
        buffer.fill(24).unwrap();

        let pending = buffer.pending().len();

        assert!(pending >= 24);
        assert!(buffer.fill(pending).is_err());
    }
}
